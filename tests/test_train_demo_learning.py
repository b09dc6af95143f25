"""The ``bihrnet_demo`` config learns: PCK computation on ground truth, the untrained output scale,
and a short fully-binary training run whose held-out PCK rises well above chance."""
import numpy as np
import pytest

from bhpe_tf.data.codecs import HeatmapCodec
from bhpe_tf.training import config as C
from bhpe_tf.training.tasks import make_task


@pytest.fixture(scope="module")
def demo_task():
    return make_task(C.validate(C.load_config("bihrnet_demo")))


def test_pck_of_decoded_ground_truth_heatmaps_is_one(demo_task):
    """Targets and decoding share one coordinate convention: GT heatmaps decode to PCK 1.0."""
    _, val, _ = demo_task.sources()
    batch = val.batch(0, 32)

    metrics, overlays = demo_task.evaluate(lambda x: batch["heatmaps"], _Single(batch), samples=32, batch_size=32)
    assert metrics["pck@0.2"] == pytest.approx(1.0)
    assert overlays.ndim == 4 and overlays.shape[-1] == 3
    # argmax of a target lands within half a heatmap pixel (stride / 2 crop pixels) of its joint;
    # a joint in the last half pixel of the crop has its centre just off the map (HRNet's
    # int(x / stride + 0.5)), so its peak is the border pixel, within one stride
    pred, _ = demo_task.predict_keypoints(batch["heatmaps"])
    vis = batch["target_weight"] > 0
    stride = demo_task.codec.stride
    kp = batch["keypoints"][..., :2]
    err = np.abs(pred - kp)[vis]
    interior = (kp < np.array(demo_task.input_wh) - stride / 2)[vis]
    assert err[interior].max() <= stride / 2 + 1e-4
    assert err.max() <= stride + 1e-4


def test_pck_is_low_for_wrong_predictions(demo_task):
    _, val, _ = demo_task.sources()
    batch = val.batch(0, 16)
    shifted = np.roll(batch["heatmaps"], 1, axis=-1)  # every joint predicted at another joint's place
    metrics, _ = demo_task.evaluate(lambda x: shifted, _Single(batch), samples=16, batch_size=16)
    assert metrics["pck@0.2"] < 0.5
    flat = np.zeros_like(batch["heatmaps"])  # no positive maximum: HRNet decodes (0, 0)
    metrics, _ = demo_task.evaluate(lambda x: flat, _Single(batch), samples=16, batch_size=16)
    assert metrics["pck@0.2"] < 0.05


def test_single_joint_round_trip_through_targets_and_pck():
    kp = np.array([[13.0, 41.0, 2.0], [50.0, 7.0, 2.0]], np.float32)
    hm, w = HeatmapCodec(input_wh=(64, 64), sigma=1.5).encode(kp)
    assert w.tolist() == [1.0, 1.0]
    y, x = np.unravel_index(np.argmax(hm[..., 0]), hm.shape[:2])
    assert (x * 4, y * 4) == (12, 40)


def test_untrained_demo_model_outputs_heatmap_scale(demo_task):
    """HRNet's head init (N(0, 0.001)): the binary network's large real-valued path must not start
    the heatmaps in the hundreds (the cause of the demo not learning)."""
    import tensorflow as tf

    model = demo_task.build_model()
    _, val, _ = demo_task.sources()
    out = model(tf.constant(val.batch(0, 4)["image"]), training=False).numpy()
    assert np.isfinite(out).all() and np.abs(out).max() < 5.0


class _Single:
    def __init__(self, batch):
        self.data = batch

    def batch(self, start, size):
        return {k: v[start:start + size] for k, v in self.data.items()}


def test_short_fully_binary_run_learns(tmp_path):
    """90 steps of the demo config (fully binary) already move held-out PCK well above chance."""
    from bhpe_tf.training.loop import train

    config = C.apply_overrides(C.load_config("bihrnet_demo"), [
        "train.steps_per_epoch=90", "train.epochs=1", "train.checkpoint_every=90", "data.val_samples=96",
        "train.val_batch_size=96", "train.images_every_epoch=False"])
    assert config["stage"] == "binary" and config["model"]["method"] == "bidrn"
    summary = train(config, workdir=tmp_path, progress=False, log=lambda *a: None)
    before, after = summary["initial_metrics"]["pck@0.2"], summary["metrics"]["pck@0.2"]
    print(f"demo learning: PCK {before:.3f} -> {after:.3f}, loss {summary['first_loss']:.3g} -> "
          f"{summary['last_loss']:.3g}")
    assert summary["last_loss"] < 0.5 * summary["first_loss"]
    assert before < 0.15 and after > max(0.15, before + 0.08), (before, after)
