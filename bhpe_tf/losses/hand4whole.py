"""Hand4Whole / BinaryHPE training losses (Moon et al., CVPRW 2022; BinaryHPE, Li et al., arXiv
2311.14323, trains with the same objective).

Every term is an L1 distance times a validity mask, **averaged over all elements** (masked ones
included, as ``CoordLoss``/``ParamLoss`` of Hand4Whole's ``common/nets/loss.py`` do), and the terms
are **summed with weight 1** (``total``):

=====================  ===================================================================
term                   prediction vs target (mask)
=====================  ===================================================================
``smplx_pose``         ``smplx_pose`` (N,53,3) axis-angle vs ``smplx_pose`` (``smplx_pose_valid``)
``smplx_shape``        ``betas`` vs ``smplx_shape`` (``smplx_shape_valid``)
``smplx_expr``         ``expression`` vs ``smplx_expr`` (``smplx_expr_valid``)
``joint_cam``          ``joint_cam`` (N,137,3) vs dataset ``joint_cam`` (``joint_cam_valid``)
``smplx_joint_cam``    ``joint_cam`` vs SMPL-X fit ``smplx_joint_cam`` (``smplx_joint_valid``)
``{part}_bbox``        ``{part}_box_center`` + ``{part}_box_size`` (body-grid cells) (``{part}_box_valid``)
``joint_proj``         ``joint_proj`` (N,137,2) vs ``joint_img[..., :2]`` (``joint_trunc``); hand
                       and face joints compared up to a translation (below)
``joint_img``          PositionNet ``joint_img`` (N,65,3) vs ``joint_img`` (``joint_trunc``; z also
                       needs a 3D annotation)
``smplx_joint_img``    PositionNet ``joint_img`` vs ``smplx_joint_img`` (``smplx_joint_trunc``)
=====================  ===================================================================

The PositionNet terms compare the 65 PositionNet joints (25 body, 20 left hand, 20 right hand: the
first 65 of the 137) and, as Hand4Whole's ``forward``, first move the hand targets into each hand
crop's grid with the *predicted* (gradient-stopped) hand boxes: ``x' = (x - x1) * W_hand / (x2 -
x1)`` (box in body-grid cells), likewise y, ``z' = z * D_hand / D_body``, and a hand joint that
falls outside its crop's grid is not supervised.

The projection term, as Hand4Whole's ``forward``, moves the hand joints of the projection and of
the target into each hand crop's grid (same transform, predicted boxes), masks those outside their
crop, and translates the projected hand joints and face joints by their mean offset to the target
over the supervised joints, so the hands and the face are judged by their shape, not their place.

Target dict (batch N; what :mod:`bhpe_tf.data.hand4whole.targets` writes per sample;
:func:`bhpe_tf.data.wholebody_targets.make_wholebody_targets` writes the subset without the
SMPL-X fit). Masks may carry a trailing axis of 1 or not.

* ``smplx_pose`` (N,55,3) in SMPL-X kinematic order (eyes are ignored) or (N,53,3) in Hand4Whole's
  order (root, body 21, left hand 15, right hand 15, jaw); ``smplx_pose_valid`` (N,55|53[,1|3]);
* ``smplx_shape`` (N,10), ``smplx_shape_valid`` (N[,1]); ``smplx_expr`` (N,10), ``smplx_expr_valid`` (N[,1]);
* ``joint_img`` (N,137,3): x, y in body-grid cells (8x6 for a 512x384 crop), z in depth bins;
  ``joint_trunc`` (N,137[,1]) valid and inside the grid volume; ``joint_cam`` (N,137,3) metres,
  pelvis-relative, hands relative to their wrists and face to the neck (as the model's
  ``joint_cam``); ``joint_cam_valid`` (N,137[,1]) valid 3D annotation (Hand4Whole's
  ``joint_valid * is_3D``); optional ``is_3d`` (N,) gates the z of ``joint_img`` (default: z counts
  where ``joint_cam_valid``);
* ``lhand_box_center``, ``lhand_box_size`` (N,2) body-grid cells, ``lhand_box_valid`` (N[,1]); same
  for ``rhand`` and ``face``;
* optional SMPL-X fit (pseudo-GT) targets, each term skipped when its keys are absent:
  ``smplx_joint_cam`` (N,137,3) + ``smplx_joint_valid`` (N,137[,1]); ``smplx_joint_img`` (N,137,3) +
  ``smplx_joint_trunc`` (N,137[,1]).

Outputs used (the model's dict, :func:`bhpe_tf.models.hand4whole.build_binaryhpe` with SMPL-X):
``smplx_pose, betas, expression, joint_cam, joint_proj, joint_img, {part}_box_center,
{part}_box_size, lhand_box, rhand_box``.
"""
from typing import Dict

import tensorflow as tf

from bhpe_tf.errors import InvalidInputError
from bhpe_tf.models.hand4whole.geometry import (BODY_SLICE, BOX_PARTS, FACE_SLICE, LHAND_SLICE, NUM_POSITION_JOINTS,
                                                RHAND_SLICE, Hand4WholeGeometry)

HAND_JOINTS = {"lhand": LHAND_SLICE, "rhand": RHAND_SLICE}

REQUIRED_TARGETS = ("smplx_pose", "smplx_pose_valid", "smplx_shape", "smplx_shape_valid", "smplx_expr",
                    "smplx_expr_valid", "joint_img", "joint_trunc", "joint_cam", "joint_cam_valid") + tuple(
    f"{part}_box_{key}" for part in BOX_PARTS for key in ("center", "size", "valid"))


def l1_loss(prediction, target, valid=None):
    """Hand4Whole's ``CoordLoss``/``ParamLoss``: ``mean(|prediction - target| * valid)`` over all elements."""
    prediction = tf.convert_to_tensor(prediction, tf.float32)
    loss = tf.abs(prediction - tf.cast(target, tf.float32))
    if valid is not None:
        loss = loss * _mask_like(valid, loss)
    return tf.reduce_mean(loss)


def _mask_like(valid, like):
    """Broadcastable mask: a mask without the trailing axis of ``like`` gets one."""
    valid = tf.cast(valid, tf.float32)
    while valid.shape.rank < like.shape.rank:
        valid = valid[..., None]
    return valid


def _pose_targets(targets):
    """Target pose and mask in Hand4Whole's 53-joint order (from 55 SMPL-X joints if needed)."""
    from bhpe_tf.body.joint_sets import H4W_POSE_JOINTS

    pose = tf.convert_to_tensor(targets["smplx_pose"], tf.float32)
    valid = tf.cast(targets["smplx_pose_valid"], tf.float32)
    pose = tf.reshape(pose, [tf.shape(pose)[0], -1, 3])
    if valid.shape.rank == 2 and valid.shape[1] in (55 * 3, 53 * 3):
        valid = tf.reshape(valid, [tf.shape(valid)[0], -1, 3])
    joints = pose.shape[1]
    if joints == 55:
        pose = tf.gather(pose, list(H4W_POSE_JOINTS), axis=1)
        valid = tf.gather(valid, list(H4W_POSE_JOINTS), axis=1)
    elif joints != 53:
        raise InvalidInputError(f"smplx_pose target must have 55 (SMPL-X order) or 53 (Hand4Whole order) "
                                f"joints, got shape {tuple(pose.shape)}")
    return pose, valid


def hand_targets_in_crop(joint_img, trunc, hand_box, *, geometry):
    """Move one hand's targets into its crop's PositionNet grid (Hand4Whole ``forward``, train).

    Args:
        joint_img: ``(N, 20, 3)`` targets in body-grid cells / body depth bins.
        trunc: ``(N, 20, 1)`` mask.
        hand_box: ``(N, 4)`` predicted crop box, xyxy input-image pixels (the model's ``{part}_box``).
        geometry: :class:`~bhpe_tf.models.hand4whole.geometry.Hand4WholeGeometry`.
    Returns:
        ``(coords (N,20,3), trunc (N,20,1))`` in hand-grid cells; joints outside the crop get 0.
    """
    grid_h, grid_w = geometry.body_grid
    image_h, image_w = geometry.input_shape
    hand_h, hand_w = geometry.hand_grid
    box = tf.stop_gradient(tf.cast(hand_box, tf.float32)) * tf.constant(
        [grid_w / image_w, grid_h / image_h, grid_w / image_w, grid_h / image_h])
    x1, y1, x2, y2 = (box[:, None, i] for i in range(4))
    x = (joint_img[..., 0] - x1) * (hand_w / (x2 - x1))
    y = (joint_img[..., 1] - y1) * (hand_h / (y2 - y1))
    z = joint_img[..., 2] * (geometry.hand_depth / geometry.body_depth)
    inside = tf.cast((x >= 0) & (x < hand_w) & (y >= 0) & (y < hand_h), tf.float32)
    return tf.stack([x, y, z], axis=-1), trunc * inside[..., None]


def position_targets(outputs, coords, trunc, *, geometry):
    """The 65 PositionNet targets: body joints as given, hand joints moved into their crops."""
    coords = tf.cast(coords, tf.float32)[:, :NUM_POSITION_JOINTS]
    trunc = _mask_like(trunc, coords)[:, :NUM_POSITION_JOINTS]
    parts_xyz, parts_mask = [coords[:, BODY_SLICE]], [trunc[:, BODY_SLICE]]
    for part, joints in HAND_JOINTS.items():
        xyz, mask = hand_targets_in_crop(coords[:, joints], trunc[:, joints], outputs[f"{part}_box"],
                                         geometry=geometry)
        parts_xyz.append(xyz)
        parts_mask.append(mask)
    return tf.concat(parts_xyz, axis=1), tf.concat(parts_mask, axis=1)


def _align(prediction, target, mask):
    """``prediction`` translated by its mean offset to ``target`` over ``mask`` (per sample; no
    offset where nothing is supervised), Hand4Whole's "global translation alignment"."""
    count = tf.reduce_sum(mask, axis=1, keepdims=True)
    offset = tf.reduce_sum((target - prediction) * mask, axis=1, keepdims=True) / tf.maximum(count, 1.0)
    return prediction + offset * tf.cast(count > 0, prediction.dtype)


def projection_terms(outputs, joint_img, trunc, *, geometry):
    """Prediction, target and mask of the ``joint_proj`` term (module docstring): body joints as
    they are, hand joints in their crops' grids and face joints translation-aligned."""
    joint_img = tf.cast(joint_img, tf.float32)
    pred = tf.cast(outputs["joint_proj"], tf.float32)
    target = joint_img[..., :2]
    mask = _mask_like(trunc, target)
    preds, targets, masks = [pred[:, BODY_SLICE]], [target[:, BODY_SLICE]], [mask[:, BODY_SLICE]]
    for part, joints in HAND_JOINTS.items():
        xyz, part_mask = hand_targets_in_crop(joint_img[:, joints], mask[:, joints], outputs[f"{part}_box"],
                                              geometry=geometry)
        moved, _ = hand_targets_in_crop(tf.concat([pred[:, joints], tf.zeros_like(pred[:, joints, :1])], -1),
                                        mask[:, joints], outputs[f"{part}_box"], geometry=geometry)
        preds.append(_align(moved[..., :2], xyz[..., :2], part_mask))
        targets.append(xyz[..., :2])
        masks.append(part_mask)
    preds.append(_align(pred[:, FACE_SLICE], target[:, FACE_SLICE], mask[:, FACE_SLICE]))
    targets.append(target[:, FACE_SLICE])
    masks.append(mask[:, FACE_SLICE])
    return tf.concat(preds, 1), tf.concat(targets, 1), tf.concat(masks, 1)


def _position_loss(prediction, target, mask, z_valid=None):
    """``CoordLoss`` with ``is_3D``: the z error counts only where ``z_valid``."""
    loss = tf.abs(tf.cast(prediction, tf.float32) - target) * mask
    if z_valid is not None:
        loss = tf.concat([loss[..., :2], loss[..., 2:] * z_valid], axis=-1)
    return tf.reduce_mean(loss)


def hand4whole_losses(outputs: Dict, targets: Dict, *, geometry=None) -> Dict[str, tf.Tensor]:
    """All loss terms (see the module docstring) and their sum ``total``.

    Args:
        outputs: the model's output dict (with the SMPL-X stage).
        targets: the target dict described above.
        geometry: the model's :class:`~bhpe_tf.models.hand4whole.geometry.Hand4WholeGeometry`
            (``model.geometry``; default: the paper's 512x384 crop).
    """
    geometry = geometry or Hand4WholeGeometry()
    missing = [key for key in REQUIRED_TARGETS if key not in targets]
    if missing:
        raise InvalidInputError(f"hand4whole_losses: missing target(s) {', '.join(missing)}")
    losses = {}
    pose, pose_valid = _pose_targets(targets)
    losses["smplx_pose"] = l1_loss(outputs["smplx_pose"], pose, pose_valid)
    losses["smplx_shape"] = l1_loss(outputs["betas"], targets["smplx_shape"], targets["smplx_shape_valid"])
    losses["smplx_expr"] = l1_loss(outputs["expression"], targets["smplx_expr"], targets["smplx_expr_valid"])
    losses["joint_cam"] = l1_loss(outputs["joint_cam"], targets["joint_cam"], targets["joint_cam_valid"])
    if "smplx_joint_cam" in targets:
        losses["smplx_joint_cam"] = l1_loss(outputs["joint_cam"], targets["smplx_joint_cam"],
                                            targets["smplx_joint_valid"])
    for part in BOX_PARTS:
        valid = targets[f"{part}_box_valid"]
        losses[f"{part}_bbox"] = (l1_loss(outputs[f"{part}_box_center"], targets[f"{part}_box_center"], valid)
                                  + l1_loss(outputs[f"{part}_box_size"], targets[f"{part}_box_size"], valid))
    joint_img = tf.cast(targets["joint_img"], tf.float32)
    losses["joint_proj"] = l1_loss(*projection_terms(outputs, joint_img, targets["joint_trunc"], geometry=geometry))

    if "is_3d" in targets:
        z_valid = tf.reshape(tf.cast(targets["is_3d"], tf.float32), [-1, 1, 1])
    else:
        z_valid = _mask_like(targets["joint_cam_valid"], joint_img)[:, :NUM_POSITION_JOINTS]
    coords, mask = position_targets(outputs, joint_img, targets["joint_trunc"], geometry=geometry)
    losses["joint_img"] = _position_loss(outputs["joint_img"], coords, mask, z_valid)
    if "smplx_joint_img" in targets:
        coords, mask = position_targets(outputs, targets["smplx_joint_img"], targets["smplx_joint_trunc"],
                                        geometry=geometry)
        losses["smplx_joint_img"] = _position_loss(outputs["joint_img"], coords, mask)
    losses["total"] = tf.add_n(list(losses.values()))
    return losses


__all__ = ["REQUIRED_TARGETS", "hand4whole_losses", "hand_targets_in_crop", "l1_loss", "position_targets",
           "projection_terms"]
