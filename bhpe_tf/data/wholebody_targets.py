"""BinaryHPE / Hand4Whole training targets for one augmented person crop (docs/DESIGN.md §5.1).

Reference: Hand4Whole ``data/*.py`` ``__getitem__`` and ``common/utils/preprocessing.py``
(``process_hand_face_bbox``, ``process_db_coord``, ``process_human_model_output``):

* hand / face boxes: the four corners of the GT box go through the crop affine (flip included),
  the axis-aligned box of the result is expressed in output-grid units (8 x 6 for a 512 x 384
  crop) as a centre and a size; left and right hand swap when the crop is mirrored;
* joint coordinates: crop pixels -> grid units (``x / 384 * 6``, ``y / 512 * 8``) and, with 3D
  joints, root-relative depth ``(z / (bbox_3d_size / 2) + 1) / 2 * depth_bins``; ``joint_valid``
  is the annotation's, ``joint_trunc`` additionally requires the joint inside the grid volume;
* SMPL-X parameters: pose flipped (swap left/right, negate y and z of the axis-angle) and the root
  rotated by the crop rotation; eyes are never supervised (mask 0), as in Hand4Whole.

Every output has a fixed shape so it batches in ``tf.data``. These are the targets of the generic
``tf.data`` pipeline (any joint layout, no SMPL-X forward); Hand4Whole's complete targets of its
datasets, with the SMPL-X fits turned into joints, are :mod:`bhpe_tf.data.hand4whole.targets`,
which reuses :func:`part_box_target` and :func:`remap_joints` from here.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from bhpe_tf.data.meta import get_meta
from bhpe_tf.data.records import SMPLX_POSE_SLICES, SampleRecord
from bhpe_tf.data.transforms import affine_points, augment_joints_3d, flip_smplx_pose, rotate_root_pose, swap_pairs


@dataclasses.dataclass(frozen=True, kw_only=True)
class WholeBodyTargetConfig:
    input_wh: tuple = (384, 512)  # (w, h) of the person crop
    output_grid: tuple = (6, 8)  # (w, h) of the body feature map
    depth_bins: int = 8
    bbox_3d_size: float = 2.0  # metres covered by the depth axis (Hand4Whole cfg.bbox_3d_size)
    root_joint: int = 0
    num_betas: int = 10
    num_expression: int = 10


def remap_joints(values, joint_map) -> np.ndarray:
    """Rows of ``values`` (J_src, ...) picked by ``joint_map`` (J,); entries -1 give zeros."""
    joint_map = np.asarray(joint_map, np.int64)
    values = np.asarray(values)
    have = (joint_map >= 0).reshape((-1,) + (1,) * (values.ndim - 1))
    return (values[np.clip(joint_map, 0, None)] * have).astype(values.dtype)


def part_box_target(box, valid: float, matrix, *, config: WholeBodyTargetConfig):
    """``(x, y, w, h)`` image box -> ``(center (2,), size (2,), valid)`` in output-grid units."""
    if box is None or not valid or box[2] <= 0 or box[3] <= 0:
        return np.zeros(2, np.float32), np.zeros(2, np.float32), np.float32(0.0)
    x, y, w, h = (float(v) for v in box)
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    pts = affine_points(corners, matrix)
    pts = pts / np.asarray(config.input_wh, np.float64) * np.asarray(config.output_grid, np.float64)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return ((lo + hi) / 2).astype(np.float32), (hi - lo).astype(np.float32), np.float32(1.0)


def make_wholebody_targets(record: SampleRecord, *, matrix, flip: bool, rot: float,
                           config: WholeBodyTargetConfig = WholeBodyTargetConfig(),
                           joint_map=None, num_joints: int | None = None) -> dict:
    """Targets of one crop. ``matrix`` is the image -> crop affine that produced the crop (with
    the flip folded in, :func:`bhpe_tf.data.transforms.crop_matrix`), ``flip`` / ``rot`` the
    augmentation drawn. ``joint_map`` (J,) picks and orders the record's joints into the model's
    joint set (-1: not annotated); default is the record's own layout."""
    meta_pairs = ()
    try:
        meta_pairs = get_meta(record.dataset).flip_pairs
    except KeyError:
        pass
    kp = np.array(record.keypoints, np.float32, copy=True)
    if flip:  # the coordinate mirror is in ``matrix``; only the joint identities swap here
        kp = swap_pairs(kp, meta_pairs)
    xy = affine_points(kp[:, :2], matrix)
    grid = np.asarray(config.output_grid, np.float64)
    xy = xy / np.asarray(config.input_wh, np.float64) * grid
    valid = kp[:, 2:3] > 0

    depth = np.zeros((len(kp), 1))
    depth_valid = np.zeros((len(kp), 1), bool)
    joint_cam = np.zeros((len(kp), 3), np.float32)
    if record.joints_3d is not None and len(record.joints_3d) == len(kp):
        j3d = augment_joints_3d(record.joints_3d, rot=rot, flip=flip, flip_pairs=meta_pairs)
        v3d = np.asarray(record.joints_3d_valid if record.joints_3d_valid is not None
                         else np.ones(len(kp)), np.float32)
        if flip:
            v3d = swap_pairs(v3d, meta_pairs)
        joint_cam = (j3d - j3d[config.root_joint]).astype(np.float32)
        depth = ((joint_cam[:, 2:3] / (config.bbox_3d_size / 2) + 1) / 2) * config.depth_bins
        depth_valid = (v3d[:, None] > 0) & (v3d[config.root_joint] > 0)
    joint_img = np.concatenate([xy, depth], axis=1).astype(np.float32)
    inside = ((xy[:, 0:1] >= 0) & (xy[:, 0:1] < grid[0]) & (xy[:, 1:2] >= 0) & (xy[:, 1:2] < grid[1]))
    inside_depth = (depth >= 0) & (depth < config.depth_bins)
    joint_valid = valid.astype(np.float32)
    joint_trunc = (valid & inside & (inside_depth | ~depth_valid)).astype(np.float32)

    if joint_map is not None:
        joint_img, joint_cam, joint_valid, joint_trunc, depth_valid = (
            remap_joints(a, joint_map) for a in (joint_img, joint_cam, joint_valid, joint_trunc, depth_valid))
    elif num_joints is not None and len(joint_img) != num_joints:
        raise ValueError(f"record has {len(joint_img)} joints, expected {num_joints}; pass joint_map")

    boxes = {"lhand": (record.lhand_box, record.lhand_valid), "rhand": (record.rhand_box, record.rhand_valid),
             "face": (record.face_box, record.face_valid)}
    if flip:  # the mirrored left hand is the new right hand
        boxes["lhand"], boxes["rhand"] = boxes["rhand"], boxes["lhand"]
    out = {
        "joint_img": joint_img, "joint_valid": joint_valid, "joint_trunc": joint_trunc,
        "joint_cam": joint_cam.astype(np.float32), "joint_cam_valid": depth_valid.astype(np.float32),
    }
    for name, (box, box_valid) in boxes.items():
        c, s, v = part_box_target(box, box_valid, matrix, config=config)
        out[f"{name}_box_center"], out[f"{name}_box_size"], out[f"{name}_box_valid"] = c, s, np.array([v], np.float32)

    pose = np.zeros((55, 3), np.float32)
    pose_valid = np.zeros(55, np.float32)
    betas = np.zeros(config.num_betas, np.float32)
    expr = np.zeros(config.num_expression, np.float32)
    betas_valid = expr_valid = 0.0
    if record.smplx is not None:
        pose, pose_valid = record.smplx.pose.copy(), record.smplx.pose_valid.copy()
        if flip:
            pose, pose_valid = flip_smplx_pose(pose), flip_smplx_pose(pose_valid)
        pose[0] = rotate_root_pose(pose[0], rot)
        n = min(config.num_betas, record.smplx.betas.size)
        betas[:n] = record.smplx.betas[:n]
        m = min(config.num_expression, record.smplx.expression.size)
        expr[:m] = record.smplx.expression[:m]
        betas_valid, expr_valid = record.smplx.betas_valid, record.smplx.expression_valid
    for eye in ("leye_pose", "reye_pose"):
        pose_valid[SMPLX_POSE_SLICES[eye]] = 0.0
    out.update({
        "smplx_pose": pose.astype(np.float32), "smplx_pose_valid": pose_valid.astype(np.float32),
        "smplx_shape": betas, "smplx_shape_valid": np.array([betas_valid], np.float32),
        "smplx_expr": expr, "smplx_expr_valid": np.array([expr_valid], np.float32),
    })
    return out
