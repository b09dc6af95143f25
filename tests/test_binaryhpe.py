"""BinaryHPE / Hand4Whole: paper counts, forward passes for every method, LCE conversion, geometry.

Full-size models are built once per method per session and only counted (no forward pass); forward
passes and conversions use a reduced model (128x128 crop, 64x64 hand/face crops, width 8, one block
per stage: every block type and LCR variant is still there).
"""
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from bhpe_tf import checkpoints
from bhpe_tf.binary import METHOD_NAMES, method_with
from bhpe_tf.errors import InvalidInputError, UnknownNameError
from bhpe_tf.models import build_model
from bhpe_tf.models import hand4whole as h4w
from bhpe_tf.models.hand4whole import layers as h4w_layers
from bhpe_tf.models.hand4whole.model import ENCODER_MODULES

REDUCED = dict(input_shape=(128, 128, 3), hand_shape=(64, 64), face_shape=(64, 64), encoder_width=8,
               head_channels=16, boxnet_channels=16, resnet50_blocks=(1, 1, 1, 1), resnet18_blocks=(1, 1, 1, 1))
BATCH = 2

_FULL, _REDUCED = {}, {}


def full_counts(method):
    """Per-module counts of the full-size model (built once per method per session, no forward)."""
    if method not in _FULL:
        model = build_model("binaryhpe", method=method)
        _FULL[method] = h4w.count_modules(model)
        del model
    return _FULL[method]


def reduced_network(method):
    """The reduced convertible network of ``method`` (built once per session)."""
    if method not in _REDUCED:
        _REDUCED[method] = h4w.build_binaryhpe(method=method, include_smplx=False, **REDUCED)
    return _REDUCED[method]


@pytest.fixture(scope="module")
def smplx_path(tmp_path_factory):
    from bhpe_tf.body.synthetic_model import write_synthetic_smplx

    return write_synthetic_smplx(tmp_path_factory.mktemp("smplx") / "SMPLX_NEUTRAL.npz")


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((BATCH,) + REDUCED["input_shape"]).astype(np.float32)


# ----------------------------------------------------------------------------------- counts
def test_hand4whole_counts_match_the_paper():
    counts = full_counts("fp")
    assert counts["total"].binary_params == 0
    assert counts["total"].params_m == pytest.approx(77.84, rel=0.01)
    # DESIGN 5.3 recount of the parts (torchvision ResNets without fc, Hand4Whole heads and BoxNet).
    assert counts["body_encoder"].params_m == pytest.approx(23.508, abs=1e-3)
    assert counts["hand_encoder"].params_m == pytest.approx(23.508, abs=1e-3)
    assert counts["face_encoder"].params_m == pytest.approx(11.177, abs=1e-3)
    assert counts["boxnet"].params_m == pytest.approx(11.506, abs=1e-3)
    assert counts["heads"].params_m == pytest.approx(8.14, abs=0.01)
    # MACs recount to 17.85 G (backbones 16.01 with two hands, heads 0.38, BoxNet 1.45), not 16.85.
    assert counts["total"].ops_g == pytest.approx(17.85, abs=0.01)
    backbones = sum(counts[name].ops_g for name in ENCODER_MODULES)
    assert backbones == pytest.approx(16.01, abs=0.01)
    assert counts["heads"].ops_g == pytest.approx(0.38, abs=0.01)
    assert counts["boxnet"].ops_g == pytest.approx(1.45, abs=0.01)


# The BNN split; Bi-Real with the BNN split's binary 1x1 downsample counts the same.
BNN_SPLIT = ["bnn", "xnor", "xnor_nok", "dorefa", "dorefa_pm1",
             method_with("bireal", downsample="conv", binary_downsample=True)]


@pytest.mark.parametrize("method", BNN_SPLIT, ids=lambda m: getattr(m, "name", m))
def test_bnn_baseline_counts_match_the_paper(method):
    counts = full_counts(method)
    assert counts["total"].params_m == pytest.approx(21.61, rel=0.01)
    assert counts["total"].ops_g == pytest.approx(2.63, rel=0.05)
    # BoxNet and heads stay full precision in the baselines.
    assert counts["boxnet"].binary_params == counts["heads"].binary_params == 0


def test_bireal_real_downsample_counts():
    """Bi-Real's real-valued downsample (2x2 avg pool -> FP 1x1 -> BN) makes the 1x1 projections of the
    three encoders full precision: 5.71 M weights (21.61 + 5.71 * 31/32 = 27.14 M) and 1.28 G float
    MACs, where the paper's Bi-Real row (21.61 M / 2.63 G) is the BNN split (README, counts)."""
    counts = full_counts("bireal")["total"]
    assert counts.params_m == pytest.approx(27.14, abs=0.01)
    assert counts.ops_g == pytest.approx(3.87, abs=0.01)


def test_reactnet_counts_match_the_paper():
    counts = full_counts("reactnet")
    assert counts["total"].params_m == pytest.approx(21.66, rel=0.01)
    assert counts["total"].ops_g == pytest.approx(2.63, rel=0.05)


def test_bidrn_counts_in_the_paper_range():
    counts = full_counts("bidrn")
    assert 16.2 <= counts["total"].params_m <= 17.3
    assert 2.40 <= counts["total"].ops_g <= 2.55
    assert counts["boxnet"].binary_params > 0  # Binarized BoxNet


@pytest.mark.skipif(not os.environ.get("BHPE_FULL_COUNTS"), reason="set BHPE_FULL_COUNTS=1 to count ReCU and FDA")
# FDA: the BNN split + the release's noise modules (d -> d/64 -> d, no biases) on every weight filter and
# activation vector (README, counts). They are training-only: no inference OPs.
@pytest.mark.parametrize("method,params,ops", [("recu", 21.71, 2.589), ("fda", 33.29, 2.589)])
def test_recu_fda_counts(method, params, ops):
    counts = full_counts(method)["total"]
    assert counts.params_m == pytest.approx(params, rel=0.02 if method == "recu" else 0.005)
    assert counts.ops_g == pytest.approx(ops, rel=0.01)


# ----------------------------------------------------------------------------- forward passes
NETWORK_SHAPES = {
    "root_pose_6d": (6,), "body_pose_6d": (21, 6), "lhand_pose_6d": (15, 6), "rhand_pose_6d": (15, 6),
    "jaw_pose_6d": (6,), "betas": (10,), "expression": (10,), "cam_trans": (3,), "joint_img": (65, 3),
    **{f"{part}_box_{key}": (2,) for part in h4w.BOX_PARTS for key in ("center", "size")},
    **{f"{part}_box": (4,) for part in h4w.BOX_PARTS},
}
SMPLX_SHAPES = {
    "global_orient": (3,), "body_pose": (21, 3), "left_hand_pose": (15, 3), "right_hand_pose": (15, 3),
    "jaw_pose": (3,), "smplx_pose": (53, 3), "vertices": (10475, 3), "smplx_joints": (144, 3),
    "joint_cam": (137, 3), "joint_proj": (137, 2),
}


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_forward_every_method(method, images, smplx_path):
    """The network of every method runs at batch 2; SMPL-X runs after it (the host path)."""
    network = reduced_network(method)
    outputs = network(images, training=False)
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {k: (BATCH,) + s for k, s in NETWORK_SHAPES.items()}
    stage = h4w.SMPLXStage(smplx_model_path=smplx_path, geometry=network.geometry)
    body = stage({key: outputs[key] for key in h4w.SMPLX_STAGE_INPUTS})
    assert {k: tuple(v.shape) for k, v in body.items()} == {k: (BATCH,) + s for k, s in SMPLX_SHAPES.items()}
    for value in list(outputs.values()) + list(body.values()):
        assert np.all(np.isfinite(value.numpy()))
    # Boxes are square (hands 2x, face 1.5x) and cam t_z in (0, 56.38).
    for part in h4w.BOX_PARTS:
        box = outputs[f"{part}_box"].numpy()
        np.testing.assert_allclose(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1], rtol=1e-5)
    assert np.all((outputs["cam_trans"].numpy()[:, 2] > 0) & (outputs["cam_trans"].numpy()[:, 2] < 56.4))


def test_full_model_with_smplx(images, smplx_path):
    """include_smplx: vertices are the synthetic SMPL-X model's, posed by the predicted parameters."""
    from bhpe_tf.body.smplx_layer import SMPLXLayer

    model = h4w.build_binaryhpe(method="bidrn", smplx_model_path=smplx_path, **REDUCED)
    out = model(images)
    assert tuple(out["vertices"].shape) == (BATCH, 10475, 3)
    layer = SMPLXLayer(model_path=smplx_path)
    ref = layer(global_orient=out["global_orient"], body_pose=out["body_pose"], jaw_pose=out["jaw_pose"],
                left_hand_pose=out["left_hand_pose"], right_hand_pose=out["right_hand_pose"],
                betas=out["betas"], expression=out["expression"])
    np.testing.assert_allclose(out["vertices"], ref["vertices"] + out["cam_trans"][:, None], atol=1e-4)
    # Projection: the pelvis through the virtual camera, in body-grid cells (2x2 for a 128x128 crop).
    from bhpe_tf.body.joint_sets import H4W_JOINTS

    pelvis = ref["joints"].numpy()[:, H4W_JOINTS[0]] + out["cam_trans"].numpy()
    x = (pelvis[:, 0] / (pelvis[:, 2] + 1e-4) * 5000 + 96) / 192 * 2
    np.testing.assert_allclose(out["joint_proj"].numpy()[:, 0, 0], x, rtol=1e-4)
    # Relative 3D joints: pelvis at 0, wrists at 0 for the hand roots' own frame.
    np.testing.assert_allclose(out["joint_cam"].numpy()[:, 0], 0.0, atol=1e-6)
    # Gradients reach every trainable weight through the losses' inputs.
    with tf.GradientTape() as tape:
        result = model(images, training=True)
        loss = tf.reduce_mean(result["joint_proj"]) + tf.reduce_mean(result["joint_img"]) + sum(
            tf.reduce_mean(result[f"{part}_box_{key}"]) for part in h4w.BOX_PARTS for key in ("center", "size"))
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None for g in grads)


# ------------------------------------------------------------------------------ LCE conversion
@pytest.mark.parametrize("method", ["bidrn", "bnn"])
def test_lce_conversion_binary_and_parity(method, images):
    from bhpe_tf.conversion import PARITY_RTOL, binary_layers, convert, op_census, predict, trained_like_state

    network = trained_like_state(reduced_network(method), seed=1)
    flatbuffer = convert(network)
    census = op_census(flatbuffer)
    assert census.float_fallbacks == []
    assert census.counts.get("LceBconv2d", 0) == len(binary_layers(network))
    if method == "bidrn":  # the Binarized BoxNet's three deconvs are among them
        assert sum("boxnet_deconv" in layer.name for layer in binary_layers(network)) == 3
    keys = h4w.output_keys(flatbuffer)
    assert sorted(keys) == sorted(NETWORK_SHAPES)
    keras_out = network(images, training=False)
    lce_out = dict(zip(keys, predict(flatbuffer, images)))
    scale = max(float(np.max(np.abs(v))) for v in keras_out.values())
    # Per image: a binary activation within float rounding of 0 (Keras sums in float, LCE in integers)
    # may binarize differently and move that one image's regressions; a conversion error (padding,
    # folding, output order) moves every image. So parity must hold on all but at most one image,
    # every output of it, with the converter's tolerance.
    worst_per_image = [max((float(np.max(np.abs(keras_out[key].numpy()[i] - lce_out[key][i]))), key)
                           for key in keys) for i in range(len(images))]
    within = [diff <= PARITY_RTOL * scale for diff, _ in worst_per_image]
    assert sum(within) >= len(images) - 1 and any(within), (worst_per_image, scale)


# ------------------------------------------------------------------------------- geometry units
def _bilinear_torchvision(image, y, x):
    """torchvision roi_align's bilinear_interpolate (one channel vector)."""
    height, width = image.shape[:2]
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(image.shape[2])
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_high = y_low = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_high = x_low = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    return (hy * hx * image[y_low, x_low] + hy * lx * image[y_low, x_high]
            + ly * hx * image[y_high, x_low] + ly * lx * image[y_high, x_high])


def _roi_align_reference(image, box, size):
    """torchvision.ops.roi_align(aligned=False, sampling_ratio=-1) for one box (adaptive grid)."""
    x1, y1, x2, y2 = box
    roi_h, roi_w = max(y2 - y1, 1.0), max(x2 - x1, 1.0)
    bin_h, bin_w = roi_h / size[0], roi_w / size[1]
    grid_h, grid_w = math.ceil(roi_h / size[0]), math.ceil(roi_w / size[1])
    out = np.zeros(tuple(size) + image.shape[2:])
    for ph in range(size[0]):
        for pw in range(size[1]):
            acc = 0.0
            for iy in range(grid_h):
                y = y1 + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                for ix in range(grid_w):
                    acc = acc + _bilinear_torchvision(image, y, x1 + pw * bin_w + (ix + 0.5) * bin_w / grid_w)
            out[ph, pw] = acc / (grid_h * grid_w)
    return out


def test_roi_crop_is_torchvision_roi_align():
    rng = np.random.default_rng(3)
    image = rng.random((2, 20, 16, 3)).astype(np.float32)
    # inside, crossing the top-left border, crossing the bottom-right border (boxes <= crop size)
    boxes_all = np.array([[2.3, 3.1, 9.7, 10.2], [-3.0, -2.5, 4.0, 5.0], [10.5, 14.2, 17.5, 21.0]], np.float32)
    images = np.concatenate([image, image[:1]])
    crops = h4w_layers.RoICrop((8, 8))([images, boxes_all]).numpy()
    mirrored = h4w_layers.RoICrop((8, 8), mirror=True)([images, boxes_all]).numpy()
    for i in range(3):
        ref = _roi_align_reference(images[i], boxes_all[i], (8, 8))
        np.testing.assert_allclose(crops[i], ref, atol=1e-5)
        np.testing.assert_allclose(mirrored[i], ref[:, ::-1], atol=1e-5)


def test_roi_crop_equals_crop_and_resize_inside_the_image():
    """The documented coordinate mapping to tf.image.crop_and_resize (interior boxes)."""
    rng = np.random.default_rng(4)
    image = rng.random((1, 40, 30, 2)).astype(np.float32)
    x1, y1, x2, y2 = 4.2, 6.5, 20.8, 30.1
    size = (12, 10)
    bin_h, bin_w = (y2 - y1) / size[0], (x2 - x1) / size[1]
    normalised = [[(y1 + bin_h / 2) / 39, (x1 + bin_w / 2) / 29, (y2 - bin_h / 2) / 39, (x2 - bin_w / 2) / 29]]
    ref = tf.image.crop_and_resize(image, normalised, [0], size).numpy()
    ours = h4w_layers.RoICrop(size)([image, np.array([[x1, y1, x2, y2]], np.float32)]).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_sample_points_is_grid_sample_align_corners():
    rng = np.random.default_rng(5)
    feature = rng.random((1, 5, 4, 3)).astype(np.float32)
    points = np.array([[[0.0, 0.0], [3.0, 4.0], [1.25, 2.5], [-0.5, 1.0], [3.5, 4.25]]], np.float32)  # (x, y)
    out = h4w_layers.SamplePoints()([feature, points]).numpy()[0]
    for k, (x, y) in enumerate(points[0]):
        ref = np.zeros(3)
        for yy in range(5):
            for xx in range(4):
                ref += max(0, 1 - abs(x - xx)) * max(0, 1 - abs(y - yy)) * feature[0, yy, xx]
        np.testing.assert_allclose(out[k], ref, atol=1e-6)
    np.testing.assert_allclose(out[1], feature[0, 4, 3], atol=1e-6)  # a pixel centre is that pixel
    np.testing.assert_allclose(out[3], 0.5 * feature[0, 1, 0], atol=1e-6)  # zero padding outside


def test_soft_argmax_3d_matches_hand4whole_layout():
    rng = np.random.default_rng(6)
    joints, depth, height, width = 2, 3, 4, 5
    logits = rng.normal(size=(1, height, width, joints * depth)).astype(np.float32)
    coords, heatmaps = h4w_layers.SoftArgmax3D(joints, depth)(logits)
    for j in range(joints):
        volume = np.stack([logits[0, :, :, j * depth + d] for d in range(depth)])  # (D, H, W) as PyTorch
        prob = np.exp(volume - volume.max())
        prob /= prob.sum()
        expected = [(prob.sum(axis=(0, 1)) * np.arange(width)).sum(), (prob.sum(axis=(0, 2)) * np.arange(height)).sum(),
                    (prob.sum(axis=(1, 2)) * np.arange(depth)).sum()]
        np.testing.assert_allclose(coords.numpy()[0, j], expected, rtol=1e-5)
        np.testing.assert_allclose(heatmaps.numpy()[0, :, :, j * depth:(j + 1) * depth], np.moveaxis(prob, 0, -1),
                                   rtol=1e-5, atol=1e-7)


def test_restore_box_square_and_enlarged():
    layer = h4w_layers.RestoreBox((8, 6), (512, 384), aspect=1.0, extension=2.0)
    box = layer([np.array([[3.0, 4.0]], np.float32), np.array([[1.0, 2.0]], np.float32)]).numpy()
    # centre (192, 256) px, size (64, 128) px -> square 128 -> x2 -> 256 wide
    np.testing.assert_allclose(box, [[64.0, 128.0, 320.0, 384.0]])


def test_unflip_6d_is_the_axis_angle_unflip():
    from bhpe_tf.body.rotations import rot6d_to_axis_angle

    rot6d = np.random.default_rng(7).normal(size=(50, 6)).astype(np.float64)
    unflipped = rot6d_to_axis_angle(h4w_layers.unflip_6d(rot6d)).numpy()
    np.testing.assert_allclose(unflipped, rot6d_to_axis_angle(rot6d).numpy() * [1, -1, -1], atol=1e-9)


def test_geometry_defaults():
    geometry = h4w.Hand4WholeGeometry()
    assert geometry.camera_depth_scale == pytest.approx(56.38, abs=0.01)
    assert geometry.body_shape == (256, 192) and geometry.body_grid == (8, 6) and geometry.hand_grid == (8, 8)
    assert geometry.boxnet_grid == (64, 48)
    image = np.arange(2 * 4 * 6 * 1, dtype=np.float32).reshape(2, 4, 6, 1)
    np.testing.assert_array_equal(h4w_layers.NearestDownsample(2)(image).numpy(), image[:, ::2, ::2])  # F.interpolate


def test_virtual_camera_maps_a_point_as_the_smplx_stage_projects_it(smplx_path):
    from bhpe_tf.body.joint_sets import H4W_JOINTS
    from bhpe_tf.body.render import project_points

    geometry = h4w.Hand4WholeGeometry()  # 512x384 crop: 8x6 body grid, camera on the 256x192 body image
    point = np.array([0.1, -0.2, 10.0 - 1e-4])  # depth 10 with Hand4Whole's 1e-4
    # u = 0.1 / 10 * 5000 + 96 = 146 px of 192, v = -0.2 / 10 * 5000 + 128 = 28 px of 256
    x, y = geometry.project_to_body_grid(point)
    assert (x, y) == pytest.approx((146 / 192 * 6, 28 / 256 * 8))
    # Through a crop drawn at 2x, its corner at (10, 20): focal 5000 * (384 / 192) * 2, principal
    # point (96 * 2 * 2 + 10, 128 * 2 * 2 + 20); the point lands where its grid cell maps to.
    focal, princpt = geometry.camera_in_image(zoom=2.0, origin=(10.0, 20.0))
    np.testing.assert_allclose(focal, [20000.0, 20000.0])
    np.testing.assert_allclose(princpt, [394.0, 532.0])
    at_depth_10 = point[None] + [0.0, 0.0, 1e-4]  # project_points divides by Z itself
    np.testing.assert_allclose(project_points(at_depth_10, focal=focal, princpt=princpt)[0],
                               [x * 64 * 2 + 10, y * 64 * 2 + 20], rtol=1e-6)
    # SMPLXStage projects the 137 joints (translated by cam_trans) with the same camera.
    stage = h4w.SMPLXStage(smplx_model_path=smplx_path, geometry=geometry)
    identity = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0], np.float32)  # 6D of the identity rotation
    cam_trans = np.array([[0.1, -0.2, 10.0]], np.float32)
    out = stage({"root_pose_6d": identity[None], "body_pose_6d": np.tile(identity, (1, 21, 1)),
                 "lhand_pose_6d": np.tile(identity, (1, 15, 1)), "rhand_pose_6d": np.tile(identity, (1, 15, 1)),
                 "jaw_pose_6d": identity[None], "betas": np.zeros((1, 10), np.float32),
                 "expression": np.zeros((1, 10), np.float32), "cam_trans": cam_trans})
    camera = out["smplx_joints"].numpy()[0, list(H4W_JOINTS)] + cam_trans[0]
    expected = np.stack([(camera[:, 0] / (camera[:, 2] + 1e-4) * 5000 + 96) / 192 * 6,
                         (camera[:, 1] / (camera[:, 2] + 1e-4) * 5000 + 128) / 256 * 8], axis=-1)
    np.testing.assert_allclose(out["joint_proj"].numpy()[0], expected, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------------- bad input
def test_unknown_method_lists_valid_ones():
    with pytest.raises(UnknownNameError, match="bidrn"):
        h4w.build_binaryhpe(method="bogus")


@pytest.mark.parametrize("kwargs", [dict(input_shape=(500, 384, 3)), dict(input_shape=(512, 384, 1)),
                                    dict(hand_shape=(100, 100)), dict(include_smplx=True)])
def test_bad_build_options(kwargs):
    with pytest.raises(InvalidInputError):
        h4w.build_binaryhpe(method="bnn", **kwargs)


def test_wrong_image_size_is_a_clear_error():
    network = reduced_network("bnn")
    with pytest.raises(InvalidInputError, match=r"128, 128, 3"):
        network(np.zeros((1, 64, 64, 3), np.float32))


def test_checkpoint_of_another_method_is_refused(tmp_path):
    path = str(tmp_path / "bnn.weights.h5")
    checkpoints.save_weights(reduced_network("bnn"), path)
    with pytest.raises(InvalidInputError, match="'bnn'"):
        checkpoints.load_weights(reduced_network("bidrn"), path)
    os.remove(path + ".meta.json")  # without metadata the structure check still refuses it
    with pytest.raises(InvalidInputError, match="does not fit"):
        checkpoints.load_weights(reduced_network("bidrn"), path)
    checkpoints.load_weights(reduced_network("bnn"), path)  # same method: loads
    with pytest.raises(Exception, match="not found"):
        checkpoints.load_weights(reduced_network("bnn"), str(tmp_path / "missing.h5"))
