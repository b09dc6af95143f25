"""Top-down geometry, flips and augmentation; crop -> target -> decode -> image round trips on real samples."""
import cv2
import numpy as np
import pytest

from bhpe_tf.data.coco import load_coco
from bhpe_tf.data.codecs import HeatmapCodec
from bhpe_tf.data.meta import get_meta
from bhpe_tf.data.mpii import load_mpii_json
from bhpe_tf.data.pipeline import PipelineConfig, process_record
from bhpe_tf.data.records import read_image
from bhpe_tf.data.transforms import (AugmentConfig, affine_points, augment_joints_3d, box_to_center_scale,
                                     crop_matrix, crop_to_image, flip_keypoints, flip_smplx_pose,
                                     get_affine_transform, invert_affine, rotate_root_pose, sample_augmentation,
                                     warp_crop)


def test_box_to_center_scale_hand_computed():
    c, s = box_to_center_scale([10, 20, 30, 80])  # tall box: width grows to 0.75 * 80 = 60
    np.testing.assert_allclose(c, [25, 60])
    np.testing.assert_allclose(s, [60 * 1.25, 80 * 1.25])
    c, s = box_to_center_scale([0, 0, 90, 60], aspect_ratio=1.0, padding=1.0)  # wide box, square
    np.testing.assert_allclose(s, [90, 90])


def test_affine_maps_centre_and_scale():
    mat = get_affine_transform([100, 200], [150, 200], 0, (192, 256))
    # no rotation: zoom 192 / 150 on both axes, the centre lands on the output centre
    np.testing.assert_allclose(mat, [[1.28, 0, 96 - 128], [0, 1.28, 128 - 256]], atol=1e-4)
    rot = get_affine_transform([100, 200], [150, 200], 90, (192, 256))
    np.testing.assert_allclose(affine_points([100, 200], rot), [96, 128], atol=1e-4)
    # HRNet's sign: +90 degrees turns the image point above the centre to the output's right... or left;
    # whichever it is, the inverse must undo it exactly.
    np.testing.assert_allclose(affine_points(affine_points([[130, 170]], rot), invert_affine(rot)), [[130, 170]],
                               atol=1e-4)
    inv = get_affine_transform([100, 200], [150, 200], 90, (192, 256), inv=True)
    np.testing.assert_allclose(inv, invert_affine(rot), atol=1e-4)


def test_flip_in_matrix_equals_hrnet_flip_then_crop(shared_data):
    """Folding the mirror into the crop matrix gives HRNet's flip-the-image-then-crop result."""
    image = read_image(shared_data / "coco" / "000000000785.jpg")
    h, w = image.shape[:2]
    center, scale, rot = np.array([390.0, 218.0]), np.array([280.0, 373.0]), 17.0
    ours = warp_crop(image, crop_matrix(center, scale, rot, (192, 256), flip_width=w), (192, 256))
    flipped_image = image[:, ::-1].copy()
    hr_center = np.array([w - center[0] - 1, center[1]])
    hr_mat = get_affine_transform(hr_center, scale, rot, (192, 256))
    theirs = warp_crop(flipped_image, hr_mat, (192, 256))
    # same geometry: an image point x goes where HRNet sends its mirror W - 1 - x
    pts = np.array([[10.0, 30.0], [400.0, 200.0], [639.0, 424.0]])
    mirrored = np.c_[w - 1 - pts[:, 0], pts[:, 1]]
    ours_mat = crop_matrix(center, scale, rot, (192, 256), flip_width=w)
    np.testing.assert_allclose(affine_points(pts, ours_mat), affine_points(mirrored, hr_mat), atol=1e-3)
    # same pixels up to warpAffine's fixed-point rounding of two different matrices
    diff = np.abs(ours.astype(int) - theirs.astype(int))
    assert diff.mean() < 0.5 and np.percentile(diff, 99.9) <= 3


def test_flip_twice_is_identity(shared_data):
    rec = load_coco(annotation_file=shared_data / "coco" / "test_coco.json")[0]
    pairs = get_meta("coco").flip_pairs
    once = flip_keypoints(rec.keypoints, pairs, width=640)
    assert not np.allclose(once, rec.keypoints)
    np.testing.assert_array_equal(flip_keypoints(once, pairs, width=640), rec.keypoints)
    # left eye (1) at x becomes the right eye (2) at 639 - x
    assert once[2, 0] == 639 - rec.keypoints[1, 0]
    pose = np.random.default_rng(0).normal(size=(55, 3)).astype(np.float32)
    np.testing.assert_array_equal(flip_smplx_pose(flip_smplx_pose(pose)), pose)
    j3d = np.random.default_rng(1).normal(size=(17, 3))
    h36m_pairs = get_meta("h36m").flip_pairs
    twice = augment_joints_3d(augment_joints_3d(j3d, rot=0, flip=True, flip_pairs=h36m_pairs), rot=0, flip=True,
                              flip_pairs=h36m_pairs)
    np.testing.assert_allclose(twice, j3d, atol=1e-6)
    image = read_image(rec.image_path)
    np.testing.assert_array_equal(image[:, ::-1][:, ::-1], image)
    # In the crop, a joint of the flipped sample sits at the mirror (x' = out_w - x, HRNet's
    # convention) of where it sits in the unflipped crop rotated the other way.
    plain = crop_matrix(rec.center, rec.scale, -10.0, (192, 256))
    flipped = crop_matrix(rec.center, rec.scale, 10.0, (192, 256), flip_width=image.shape[1])
    a = affine_points(rec.keypoints[:, :2], plain)
    b = affine_points(rec.keypoints[:, :2], flipped)
    np.testing.assert_allclose(b, np.c_[192 - a[:, 0], a[:, 1]], atol=1e-3)


def test_smplx_pose_flip_and_root_rotation():
    pose = np.zeros((55, 3), np.float32)
    pose[1] = [0.1, 0.2, 0.3]  # left hip
    flipped = flip_smplx_pose(pose)
    np.testing.assert_allclose(flipped[2], [0.1, -0.2, -0.3])  # now the right hip, y and z negated
    assert not flipped[1].any()
    np.testing.assert_allclose(rotate_root_pose([0.3, -0.2, 0.1], 0.0), [0.3, -0.2, 0.1], atol=1e-6)
    r, _ = cv2.Rodrigues(rotate_root_pose([0.0, 0.0, 0.0], 30.0))
    np.testing.assert_allclose(r[:2, :2], [[np.cos(np.radians(-30)), -np.sin(np.radians(-30))],
                                           [np.sin(np.radians(-30)), np.cos(np.radians(-30))]], atol=1e-6)


def test_augmentation_distribution():
    rng = np.random.default_rng(0)
    kp = np.c_[np.random.default_rng(1).uniform(0, 100, (17, 2)), np.ones(17)]
    cfg = AugmentConfig.hand4whole()
    draws = [sample_augmentation(center=[50, 50], scale=[100, 133], keypoints=kp, config=cfg, rng=rng)
             for _ in range(3000)]
    rots = np.array([d.rot for d in draws])
    scales = np.array([d.scale[0] / 100 for d in draws])
    assert 0.56 < np.mean(rots != 0) < 0.64  # rotation with p 0.6
    assert np.abs(rots).max() <= 60 + 1e-6  # 30 * clip(N, -2, 2)
    assert scales.min() >= 0.75 - 1e-6 and scales.max() <= 1.25 + 1e-6
    assert 0.46 < np.mean([d.flip for d in draws]) < 0.54
    colors = np.stack([d.color for d in draws])
    assert colors.min() >= 0.8 and colors.max() <= 1.2
    half = AugmentConfig(half_body_prob=1.0, scale_factor=0.0, rotation_prob=0.0)
    d = sample_augmentation(center=[50, 50], scale=[100, 133], keypoints=kp, config=half, rng=rng,
                            upper_body_ids=get_meta("coco").upper_body_ids)
    assert not np.allclose(d.center, [50, 50])  # the box of a half of the body


def _round_trip(records, *, codec):
    cfg = PipelineConfig(input_wh=codec.input_wh, codec=codec, normalize="uint8")
    rows = []
    for rec in records:
        out = process_record(rec, config=cfg)
        coords, _ = codec.decode(out["heatmaps"][None])
        image_xy = codec.to_image(coords[0], center=out["center"], scale=out["scale"])
        used = out["target_weight"] > 0
        hm_xy = out["keypoints"][:, :2] / codec.stride
        interior = np.all((hm_xy >= 2) & (hm_xy <= np.array(codec.heatmap_wh) - 3), axis=1)
        for k in np.flatnonzero(used):
            rows.append((np.abs(image_xy[k] - rec.keypoints[k, :2]).max(),
                         np.abs(coords[0, k] - hm_xy[k]).max(), interior[k], out["scale"][0] / codec.input_wh[0]))
    return np.array(rows)


@pytest.mark.parametrize("name", ["coco", "mpii"])
def test_crop_target_decode_round_trip(shared_data, name):
    if name == "coco":
        records = load_coco(annotation_file=shared_data / "coco" / "test_coco.json", min_keypoints=1)
        input_wh = (192, 256)
    else:
        records = load_mpii_json(annotation_file=shared_data / "mpii" / "test_mpii.json")
        input_wh = (256, 256)
    # Unbiased (DARK) encoding + DARK decoding: within 0.5 px in the original image wherever the
    # Taylor step applies (2 px away from the heatmap border).
    rows = _round_trip(records, codec=HeatmapCodec(input_wh=input_wh, unbiased=True, blur_kernel=0))
    interior = rows[:, 2] > 0
    assert interior.sum() >= 0.9 * len(rows)
    assert rows[interior, 0].max() < 0.5
    # Standard HRNet codec: integer-centred Gaussians, so the error is the rounding to the heatmap
    # grid: at most half a heatmap pixel, i.e. 0.5 * stride * zoom in image pixels.
    codec = HeatmapCodec(input_wh=input_wh)
    rows = _round_trip(records, codec=codec)
    assert rows[:, 1].max() <= 0.5 + 1e-4
    assert np.all(rows[:, 0] <= 0.5 * codec.stride * rows[:, 3] + 1e-3)


def test_crop_to_image_inverts_the_crop():
    pts = np.array([[10.0, 20.0], [150.0, 240.0]])
    mat = get_affine_transform([300, 200], [250, 333], 25, (192, 256))
    np.testing.assert_allclose(crop_to_image(affine_points(pts, mat), [300, 200], [250, 333], 25, (192, 256)), pts,
                               atol=1e-3)
