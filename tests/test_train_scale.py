"""The trainer's first-batch scale check, and one short training run of BiHRNet at its published
width and depth (W32, 1 / 4 / 3 modules of 4 blocks) whose loss must fall."""
import numpy as np
import pytest
import tensorflow as tf

from bhpe_tf.training import config as C
from bhpe_tf.training.loop import InitialScaleError, initial_scale, train
from bhpe_tf.training.tasks import make_task

from test_train import tiny


def test_exploding_model_stops_before_the_first_step_with_the_diagnostic_command(tmp_path):
    config = tiny("bihrnet_demo", ["train.max_initial_scale=1e-9"])
    with pytest.raises(InitialScaleError) as info:
        train(config, workdir=tmp_path / "run", steps=2, progress=False, log=lambda *_: None)
    message = str(info.value)
    assert "\n" not in message
    assert "output std" in message and "on the first batch (limit 1e-09)" in message
    assert "python -m bhpe_tf.stats --model bihrnet --activations" in message
    assert "--config.train.max_initial_scale=none" in message
    assert not list((tmp_path / "run" / "checkpoints").glob("ckpt-*"))  # nothing trained, nothing saved


def test_check_is_recorded_and_can_be_disabled(tmp_path):
    summary = train(tiny("bihrnet_demo"), workdir=tmp_path / "on", steps=1, progress=False, log=lambda *_: None)
    assert 1e-4 < summary["initial_output_std"] < 10 and 0 < summary["initial_loss"] < 100
    assert summary["initial_loss"] == pytest.approx(summary["first_loss"], rel=1e-4)  # same batch, same model
    off = train(tiny("bihrnet_demo", ["train.max_initial_scale=none"]), workdir=tmp_path / "off", steps=1,
                progress=False, log=lambda *_: None)
    assert "initial_output_std" not in off
    with pytest.raises(C.ConfigError, match="max_initial_scale"):
        C.validate(tiny("bihrnet_demo", ["train.max_initial_scale=-1"]))


def test_initial_scale_leaves_the_batch_norm_statistics_untouched():
    config = tiny("bihrnet_demo")
    task = make_task(config)
    model = task.build_model()
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    batch = task.sources()[0].batch(0, 2)
    output_std, loss = initial_scale(task, model, None, task.make_loss(None), batch)
    assert np.isfinite(output_std) and np.isfinite(loss)
    for old, variable in zip(before, model.non_trainable_variables):
        np.testing.assert_array_equal(old, variable.numpy())
    expected = float(tf.math.reduce_std(model(tf.constant(batch["image"]), training=True)))
    assert output_std == pytest.approx(expected, rel=1e-5)


# Building the ~2400-layer network and tracing its training step take minutes on two CPU cores.
@pytest.mark.timeout(2400)
def test_full_size_bihrnet_loss_falls(tmp_path):
    """The default BiHRNet at the paper's width and depth (64x64 crops only), fully binary, through the
    trainer on the embedded data: the first loss is of order 1, not 1e13, and falls within 30 steps."""
    config = C.load_config("bihrnet_coco")
    config["init_from"] = None
    config["teacher"] = None
    C.apply_overrides(config, ["loss.name=awing", "data.input_wh=[64, 64]", "data.val_samples=8",
                               "train.batch_size=8", "train.val_batch_size=8", "train.steps_per_epoch=30",
                               "train.checkpoint_every=30", "optimizer.lr=2e-3", "optimizer.milestones=[]",
                               "data.sigma=1.5", "train.log_every=1"])
    lines = []
    summary = train(config, workdir=tmp_path / "full", steps=30, progress=False, log=lines.append)
    assert summary["final_step"] == 30
    assert 0.1 < summary["first_loss"] < 100, summary["first_loss"]
    assert 1e-3 < summary["initial_output_std"] < 1
    losses = [float(line.split(" loss ")[1].split()[0]) for line in lines if line.startswith("step ")]
    assert np.mean(losses[-5:]) < 0.7 * summary["first_loss"], (summary["first_loss"], losses)
