"""The embedded synthetic datasets (bhpe_tf.data.synthetic): deterministic, held-out, learnable targets."""
import numpy as np
import pytest

from bhpe_tf.data import synthetic as syn
from bhpe_tf.data.codecs import HeatmapCodec


def test_pose2d_is_deterministic_per_index_and_split():
    ds = syn.SyntheticPose2D(input_wh=(64, 64), codec=HeatmapCodec(input_wh=(64, 64), sigma=1.0))
    a, b = ds.sample(7), ds.sample(7)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(ds.sample(8)["image"], a["image"])
    val = syn.SyntheticPose2D(input_wh=(64, 64), codec=HeatmapCodec(input_wh=(64, 64), sigma=1.0), split="val")
    assert not np.array_equal(val.sample(7)["image"], a["image"])  # held-out stream


@pytest.mark.parametrize("layout,joints", [("coco", 17), ("mpii", 16)])
def test_pose2d_targets_peak_at_the_keypoints(layout, joints):
    ds = syn.SyntheticPose2D(input_wh=(48, 64), codec=HeatmapCodec(input_wh=(48, 64), sigma=1.0), layout=layout)
    batch = ds.batch(0, 16)
    assert batch["image"].shape == (16, 64, 48, 3) and batch["image"].dtype == np.float32
    assert batch["heatmaps"].shape == (16, 16, 12, joints)
    assert batch["keypoints"].shape == (16, joints, 3)
    assert batch["target_weight"].mean() > 0.8  # most joints inside the crop
    for hm, kp, w in zip(batch["heatmaps"], batch["keypoints"], batch["target_weight"]):
        for k in np.nonzero(w)[0]:
            y, x = np.unravel_index(np.argmax(hm[..., k]), hm.shape[:2])
            assert abs(x - kp[k, 0] / 4) <= 1.0 and abs(y - kp[k, 1] / 4) <= 1.0
    # figures are big enough for PCK@0.2 to mean something, and vary in size
    assert 15 < batch["box_size"].min() and batch["box_size"].std() > 1


def test_make_dataset_replays_the_index_stream():
    ds = syn.SyntheticPose2D(input_wh=(32, 32), codec=HeatmapCodec(input_wh=(32, 32), sigma=1.0))
    batches = list(syn.make_dataset(ds, batch_size=4, start_sample=8, count=2).as_numpy_iterator())
    np.testing.assert_array_equal(batches[1]["index"], [12, 13, 14, 15])
    np.testing.assert_array_equal(batches[1]["image"], ds.batch(12, 4)["image"])


def test_mesh_renders_have_hand4whole_targets(tmp_path):
    path = syn.synthetic_smplx_path(tmp_path)
    ds = syn.SyntheticMesh(smplx_model_path=path, input_wh=(128, 128))
    batch = ds.batch(0, 2)
    assert batch["image"].shape == (2, 128, 128, 3) and 0 <= batch["image"].min() and batch["image"].max() <= 1
    assert batch["joint_img"].shape == (2, 137, 3) and batch["joint_cam"].shape == (2, 137, 3)
    # Hand4Whole's 53 supervised rotations (root, body, hands, jaw: the eyes are not among them)
    assert batch["smplx_pose"].shape == (2, 53, 3) and batch["smplx_pose_valid"].all()
    # the body is in view: most body joints fall inside the 2x2 body grid
    assert batch["joint_trunc"][:, :25].mean() > 0.6
    # the body was drawn: the silhouette differs from the background somewhere in the middle
    again = ds.batch(0, 2)
    np.testing.assert_array_equal(again["image"], batch["image"])
    for part in ("lhand", "rhand", "face"):
        assert batch[f"{part}_box_size"].shape == (2, 2) and np.all(batch[f"{part}_box_size"] > 0)
