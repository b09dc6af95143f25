"""Hand4Whole losses: every term on a hand-computed case, masks respected."""
import numpy as np
import pytest

from bhpe_tf.errors import InvalidInputError
from bhpe_tf.losses.hand4whole import REQUIRED_TARGETS, hand4whole_losses, hand_targets_in_crop, l1_loss
from bhpe_tf.models.hand4whole import Hand4WholeGeometry

N = 1
# A left-hand crop box of 96 x 128 px at (96, 128) in the 512 x 384 crop = (1.5, 2) .. (3, 4) grid cells.
LHAND_BOX = [96.0, 128.0, 192.0, 256.0]


def zero_outputs():
    out = {"smplx_pose": np.zeros((N, 53, 3)), "betas": np.zeros((N, 10)), "expression": np.zeros((N, 10)),
           "joint_cam": np.zeros((N, 137, 3)), "joint_proj": np.zeros((N, 137, 2)), "joint_img": np.zeros((N, 65, 3))}
    for part in ("lhand", "rhand", "face"):
        out[f"{part}_box_center"] = np.zeros((N, 2))
        out[f"{part}_box_size"] = np.zeros((N, 2))
        out[f"{part}_box"] = np.array([LHAND_BOX] * N)
    return {k: np.asarray(v, np.float32) for k, v in out.items()}


def zero_targets():
    """Targets equal to zero outputs, every mask on: every term is 0."""
    tg = {"smplx_pose": np.zeros((N, 55, 3)), "smplx_pose_valid": np.ones((N, 55)), "smplx_shape": np.zeros((N, 10)),
          "smplx_shape_valid": np.ones((N, 1)), "smplx_expr": np.zeros((N, 10)), "smplx_expr_valid": np.ones((N, 1)),
          "joint_img": np.zeros((N, 137, 3)), "joint_trunc": np.ones((N, 137, 1)), "joint_cam": np.zeros((N, 137, 3)),
          "joint_cam_valid": np.ones((N, 137, 1))}
    for part in ("lhand", "rhand", "face"):
        tg.update({f"{part}_box_center": np.zeros((N, 2)), f"{part}_box_size": np.zeros((N, 2)),
                   f"{part}_box_valid": np.ones((N, 1))})
    # hand joints at the crop origin so that they are inside their crops (x' = y' = 0)
    tg["joint_img"][:, 25:65, 0] = 1.5
    tg["joint_img"][:, 25:65, 1] = 2.0
    return {k: np.asarray(v, np.float32) for k, v in tg.items()}


def losses(outputs, targets):
    return {k: float(v) for k, v in hand4whole_losses(outputs, targets).items()}


def zero_case():
    out, tg = zero_outputs(), zero_targets()
    # joint_proj is compared with joint_img[..., :2]: match it
    out["joint_proj"] = tg["joint_img"][..., :2].copy()
    return out, tg


def test_zero_case_is_zero_and_total_is_the_sum():
    out, tg = zero_case()
    result = losses(out, tg)
    assert set(result) == {"smplx_pose", "smplx_shape", "smplx_expr", "joint_cam", "lhand_bbox", "rhand_bbox",
                           "face_bbox", "joint_proj", "joint_img", "total"}
    assert all(value == pytest.approx(0.0, abs=1e-7) for value in result.values())


def test_l1_mean_over_all_elements_with_mask():
    value = l1_loss(np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2)), np.array([[1.0], [0.0]]))
    assert float(value) == pytest.approx((1 + 2) / 4)


def test_pose_term_uses_hand4whole_order_and_ignores_eyes():
    out, tg = zero_case()
    tg["smplx_pose"][:, 22] = 1.0  # jaw: last of the 53 Hand4Whole rotations
    tg["smplx_pose"][:, 23:25] = 5.0  # eyes: never supervised
    assert losses(out, tg)["smplx_pose"] == pytest.approx(3 / (53 * 3))
    tg["smplx_pose_valid"][:, 22] = 0.0
    assert losses(out, tg)["smplx_pose"] == pytest.approx(0.0)
    # 53-joint targets in Hand4Whole order work too
    out["smplx_pose"][:, 0] = [0.3, 0.0, 0.0]
    tg53 = dict(tg, smplx_pose=np.zeros((N, 53, 3), np.float32), smplx_pose_valid=np.ones((N, 53), np.float32))
    assert losses(out, tg53)["smplx_pose"] == pytest.approx(0.3 / 159)


def test_shape_expression_terms_and_masks():
    out, tg = zero_case()
    out["betas"][:] = 2.0
    out["expression"][:, :5] = 1.0
    result = losses(out, tg)
    assert result["smplx_shape"] == pytest.approx(2.0)
    assert result["smplx_expr"] == pytest.approx(0.5)
    tg["smplx_shape_valid"][:] = 0.0
    assert losses(out, tg)["smplx_shape"] == 0.0


def test_joint_cam_terms():
    out, tg = zero_case()
    out["joint_cam"][:, :10] = 1.0
    tg["joint_cam_valid"][:, :5] = 0.0
    assert losses(out, tg)["joint_cam"] == pytest.approx(5 * 3 / (137 * 3))
    tg["smplx_joint_cam"] = np.zeros((N, 137, 3), np.float32)
    tg["smplx_joint_valid"] = np.ones((N, 137, 1), np.float32)
    result = losses(out, tg)
    assert result["smplx_joint_cam"] == pytest.approx(10 * 3 / (137 * 3))
    assert result["total"] == pytest.approx(sum(v for k, v in result.items() if k != "total"))


def test_box_terms_centre_plus_size():
    out, tg = zero_case()
    out["lhand_box_center"][:] = [1.0, 1.0]
    out["lhand_box_size"][:] = [2.0, 2.0]
    out["rhand_box_size"][:] = [4.0, 4.0]
    tg["rhand_box_valid"][:] = 0.0
    result = losses(out, tg)
    assert result["lhand_bbox"] == pytest.approx(1.0 + 2.0)
    assert result["rhand_bbox"] == 0.0
    assert result["face_bbox"] == 0.0


def test_projection_term_uses_trunc():
    out, tg = zero_case()
    out["joint_proj"] = np.zeros((N, 137, 2), np.float32)
    tg["joint_img"][:] = 0.0
    tg["joint_img"][:, :4, :2] = 2.0
    tg["joint_trunc"][:, 2:4] = 0.0
    assert losses(out, tg)["joint_proj"] == pytest.approx(2 * 2 * 2 / (137 * 2))


def test_hand_targets_move_into_the_crop_grid():
    geometry = Hand4WholeGeometry()
    joints = np.array([[[2.25, 3.0, 4.0], [0.5, 3.0, 4.0]]], np.float32)  # second one left of the box
    coords, trunc = hand_targets_in_crop(joints, np.ones((1, 2, 1), np.float32), np.array([LHAND_BOX], np.float32),
                                         geometry=geometry)
    # x' = (2.25 - 1.5) * 8 / 1.5 = 4, y' = (3 - 2) * 8 / 2 = 4, z' = 4 * 8 / 8
    np.testing.assert_allclose(coords.numpy()[0, 0], [4.0, 4.0, 4.0], atol=1e-5)
    np.testing.assert_allclose(trunc.numpy()[0, :, 0], [1.0, 0.0])


def test_position_terms_body_hands_and_z_mask():
    out, tg = zero_case()
    # body joint 0: x error 1, z error 2; a left-hand joint predicted 1 cell off in its crop grid
    out["joint_img"][:, 0] = [1.0, 0.0, 2.0]
    out["joint_img"][:, 30] = [1.0, 0.0, 0.0]
    assert losses(out, tg)["joint_img"] == pytest.approx((1 + 2 + 1) / (65 * 3))
    tg["joint_cam_valid"][:, 0] = 0.0  # no 3D annotation: the z error does not count
    assert losses(out, tg)["joint_img"] == pytest.approx((1 + 1) / (65 * 3))
    tg["is_3d"] = np.ones((N,), np.float32)  # an explicit is_3d gates z instead
    assert losses(out, tg)["joint_img"] == pytest.approx((1 + 2 + 1) / (65 * 3))
    tg["joint_trunc"][:, 30] = 0.0
    assert losses(out, tg)["joint_img"] == pytest.approx((1 + 2) / (65 * 3))
    # the SMPL-X fit version: its own coordinates and trunc, no z gating
    tg["smplx_joint_img"] = tg["joint_img"].copy()
    tg["smplx_joint_trunc"] = np.ones((N, 137, 1), np.float32)
    result = losses(out, tg)
    assert result["smplx_joint_img"] == pytest.approx((1 + 2 + 1) / (65 * 3))


def test_missing_target_is_a_clear_error():
    out, tg = zero_case()
    del tg["joint_trunc"]
    with pytest.raises(InvalidInputError, match="joint_trunc"):
        hand4whole_losses(out, tg)
    assert "smplx_joint_cam" not in REQUIRED_TARGETS


def test_projection_of_hands_and_face_counts_up_to_a_translation():
    """Hand4Whole's forward: hand joints of projection and target move into the hand crop's grid, then
    the projected hand / face joints are shifted by their mean offset to the target (shape, not place)."""
    out, tg = zero_case()
    # every face joint and the left hand projected 0.5 cells right of the target: no loss
    out["joint_proj"][:, 65:, 0] += 0.5
    out["joint_proj"][:, 25:45, 0] += 0.5
    assert losses(out, tg)["joint_proj"] == pytest.approx(0.0, abs=1e-6)
    # one left-hand joint 0.75 cells further (x 4 in the 8-cell crop grid of a 1.5-cell box): after the
    # alignment every hand joint is off by the deviation from the mean, 19 x |d/20| + |19 d/20|
    out["joint_proj"][:, 30, 0] += 0.75
    d = 0.75 * 8 / 1.5
    assert losses(out, tg)["joint_proj"] == pytest.approx((19 * d / 20 + 19 * d / 20) / (137 * 2), rel=1e-5)
    # body joints are compared where they are
    out, tg = zero_case()
    out["joint_proj"][:, 3, 1] += 1.0
    assert losses(out, tg)["joint_proj"] == pytest.approx(1.0 / (137 * 2))
