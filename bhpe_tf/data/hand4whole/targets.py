"""Hand4Whole's training targets of one person crop, exactly as its ``__getitem__`` builds them.

Reference: Hand4Whole ``common/utils/preprocessing.py`` (``augmentation``, ``process_db_coord``,
``process_human_model_output``) and ``data/<Dataset>/<Dataset>.py`` (``process_hand_face_bbox``,
the per-dataset masks). One code path serves every record, real or synthetic:

1. **crop**: the record's box (``center``, ``scale``) with the drawn augmentation (scale, rotation,
   horizontal flip folded into the affine, :func:`~bhpe_tf.data.transforms.crop_matrix`), one
   ``cv2.warpAffine``; colour x U(0.8, 1.2) per channel; RGB / 255.
2. **dataset joints** (``process_db_coord``): image x, y and (3D sets) the depth bin of the
   root-relative depth, ``(z / (body_3d_size / 2) + 1) / 2 * D``; flipped (x mirrored in the
   affine, ``joint_cam`` x negated, left/right swapped in the dataset's own joint set), ``joint_cam``
   rotated by ``R_z(-rot)``, x, y through the crop into body-grid cells (``x / W_in * W_grid``);
   ``joint_trunc`` = valid and inside the grid volume; then moved into the 137 SMPL-X joints by
   name.
3. **SMPL-X fit** (``process_human_model_output``): the camera rotation merged into the root,
   SMPL-X (neutral, 10 betas, 10 expressions, face contour, ``flat_hand_mean=False``) with the fit's
   translation, the rest of the camera extrinsics applied about the root joint; the 137 joints
   projected with the fit's camera; ``smplx_joint_cam`` root-relative with hands relative to their
   wrists and the face to the neck, and depth bins with ``body_3d_size`` 2 m, ``hand_3d_size`` and
   ``face_3d_size`` 0.3 m; flipped / rotated like the dataset joints; the 53 rotations (root, body
   21, hands 2 x 15, jaw) flipped (left/right swapped, y and z of every axis-angle negated) and the
   root rotated by ``R_z(-rot)``; betas reset to 0 when any ``|beta| > 3``. Hands without a fitted
   pose, or a face without jaw and expression, are masked (rotations and joints).
4. **per-dataset rules** (:class:`~bhpe_tf.data.hand4whole.layout.DatasetSpec`): H36M and MPII fits
   do not supervise ankle / wrist rotations or toe / heel joints; a person without a fit has every
   SMPL-X mask 0; AGORA and the synthetic renders use the fit as ``joint_img`` / ``joint_cam``;
   hand and face boxes (corners through the crop affine, axis-aligned, in grid cells, left / right
   swapped under the flip) where the dataset has them.

Output keys (fixed shapes, batch-stackable) are what :func:`bhpe_tf.losses.hand4whole.hand4whole_losses`
reads: ``image``, ``joint_img`` / ``smplx_joint_img`` (137, 3), ``joint_cam`` / ``smplx_joint_cam``
(137, 3) metres, ``joint_valid``, ``joint_trunc``, ``joint_cam_valid`` (= valid x is_3d),
``smplx_joint_valid``, ``smplx_joint_trunc`` (137, 1), ``is_3d`` (1,), ``smplx_pose`` (53, 3)
axis-angle in Hand4Whole's order with ``smplx_pose_valid`` (53,), ``smplx_shape`` /
``smplx_expr`` (10,) with ``_valid`` (1,), ``{lhand,rhand,face}_box_center`` / ``_box_size`` (2,)
and ``_box_valid`` (1,); with ``with_mesh`` also ``mesh_gt`` (10475, 3), the camera-frame ground
truth mesh (the fit's, or the dataset's own, e.g. EHF), and ``mesh_gt_valid`` (1,).
"""
from __future__ import annotations

import dataclasses
import threading

import cv2
import numpy as np

from bhpe_tf.body.joint_sets import (H4W_FLIP_PERMUTATION, H4W_JOINT_NAMES, H4W_JOINTS, H4W_POSE_FLIP_PERMUTATION,
                                     H4W_POSE_JOINTS)
from bhpe_tf.data.hand4whole.layout import POSE_NAMES, DatasetSpec, flip_pairs, joint_map, spec_of
from bhpe_tf.data.records import DataError, SampleRecord, read_image
from bhpe_tf.data.synthetic import normalize_image
from bhpe_tf.data.transforms import (AugmentConfig, AugmentParams, affine_points, apply_color, augment_joints_3d,
                                     crop_matrix, rotate_root_pose, rotation_z, sample_augmentation, swap_pairs,
                                     warp_crop)
from bhpe_tf.data.wholebody_targets import WholeBodyTargetConfig, part_box_target, remap_joints

NUM_JOINTS = len(H4W_JOINT_NAMES)  # 137
NUM_ROTATIONS = len(H4W_POSE_JOINTS)  # 53
BODY, LHAND, RHAND, FACE = slice(0, 25), slice(25, 45), slice(45, 65), slice(65, 137)
ROOT, LWRIST, RWRIST, NECK = 0, 12, 13, 7
ROT_LHAND, ROT_RHAND, ROT_JAW = slice(22, 37), slice(37, 52), 52
BETA_RESET = 3.0  # Hand4Whole: betas far from the mean shape are replaced by the mean (0)
BOX_PARTS = ("lhand", "rhand", "face")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TargetConfig:
    """Sizes of Hand4Whole's ``config.py``. ``input_wh`` is the crop ``(w, h)``; the body grid is
    ``(w / 64, h / 64)`` (6 x 8 at 384 x 512) with ``depth_bins`` bins."""

    input_wh: tuple = (384, 512)
    depth_bins: int = 8
    body_3d_size: float = 2.0
    hand_3d_size: float = 0.3
    face_3d_size: float = 0.3
    normalize: str = "unit"
    with_mesh: bool = False

    @property
    def output_grid(self):
        return self.input_wh[0] // 64, self.input_wh[1] // 64

    @property
    def aspect_ratio(self) -> float:
        return self.input_wh[0] / self.input_wh[1]

    def to_grid(self, xy) -> np.ndarray:
        """Crop pixels -> body-grid cells (Hand4Whole: ``x / W_in * W_grid``, ``y / H_in * H_grid``)."""
        return np.asarray(xy, np.float64) / np.asarray(self.input_wh, np.float64) * np.asarray(self.output_grid)

    def depth_bin(self, z, size) -> np.ndarray:
        return (np.asarray(z, np.float64) / (size / 2.0) + 1.0) / 2.0 * self.depth_bins

    def inside(self, joint_img) -> np.ndarray:
        """(J, 1) float: the joint lies inside the grid volume (Hand4Whole's truncation test)."""
        gw, gh = self.output_grid
        x, y, z = joint_img[:, 0], joint_img[:, 1], joint_img[:, 2]
        return ((x >= 0) & (x < gw) & (y >= 0) & (y < gh) & (z >= 0) & (z < self.depth_bins))[:, None].astype(
            np.float32)


@dataclasses.dataclass(frozen=True)
class Crop:
    """One drawn crop: the image (uint8 RGB, colour not yet applied), the image -> crop affine (flip
    folded in), the augmentation and the source image width."""

    image: np.ndarray
    matrix: np.ndarray
    augment: AugmentParams
    width: int


def crop_person(record: SampleRecord, *, config: TargetConfig, augment: AugmentConfig | None = None,
                rng: np.random.Generator | None = None, image: np.ndarray | None = None) -> Crop:
    """Hand4Whole's ``augmentation`` + ``generate_patch_image`` (test time: ``augment=None``)."""
    if image is None:
        image = read_image(record.image_path, record=f"{record.dataset} {record.image_id}")
    if augment is not None:
        if rng is None:
            raise ValueError("augmentation needs an rng")
        aug = sample_augmentation(center=record.center, scale=record.scale, keypoints=record.keypoints,
                                  config=augment, rng=rng, aspect_ratio=config.aspect_ratio)
    else:
        aug = AugmentParams(center=record.center, scale=record.scale)
    width = int(image.shape[1])
    mat = crop_matrix(aug.center, aug.scale, aug.rot, config.input_wh, flip_width=width if aug.flip else None)
    return Crop(image=warp_crop(image, mat, config.input_wh), matrix=mat, augment=aug, width=width)


def network_input(crop: Crop, *, config: TargetConfig) -> np.ndarray:
    """The crop as the network sees it: colour jitter (clipped at 255, kept in float as Hand4Whole)
    then ``normalize`` (``unit``: RGB / 255)."""
    if crop.augment.color is None:
        return normalize_image(crop.image, config.normalize)
    image = apply_color(crop.image, crop.augment.color)
    if config.normalize == "uint8":
        return np.round(image).astype(np.uint8)
    return normalize_image(image, config.normalize)


# -------------------------------------------------------------------------------- dataset joints
def dataset_joint_targets(record: SampleRecord, spec: DatasetSpec, crop: Crop, *, config: TargetConfig) -> dict:
    """``process_db_coord`` of the record's own joints, moved into the 137 joints by name."""
    names = spec.joints
    kp = np.asarray(record.keypoints, np.float64)
    if kp.shape[0] != len(names):
        raise DataError(f"{len(kp)} keypoints, expected the {len(names)} of {spec.name}'s joint set",
                        path=record.image_path, record=record.image_id)
    valid = (kp[:, 2:3] > 0).astype(np.float32)
    joint_cam = np.zeros((len(names), 3))
    depth = np.zeros((len(names), 1))
    if spec.is_3d:
        joint_cam = np.asarray(record.joints_3d, np.float64)
        joint_cam = joint_cam - joint_cam[names.index("Pelvis")]
        depth = config.depth_bin(joint_cam[:, 2:3], config.body_3d_size)
        valid = valid * (np.ones(len(names)) if record.joints_3d_valid is None
                         else np.asarray(record.joints_3d_valid) > 0)[:, None]
    pairs = flip_pairs(names)
    flip, rot = crop.augment.flip, crop.augment.rot
    if flip:  # x of the image is mirrored by the crop affine; the identities swap here
        kp, depth, valid = swap_pairs(kp, pairs), swap_pairs(depth, pairs), swap_pairs(valid, pairs)
    joint_cam = augment_joints_3d(joint_cam, rot=rot, flip=flip, flip_pairs=pairs)
    joint_img = np.concatenate([config.to_grid(affine_points(kp[:, :2], crop.matrix)), depth], axis=1)
    trunc = valid * config.inside(joint_img)
    index = joint_map(names)
    return {"joint_img": remap_joints(joint_img.astype(np.float32), index),
            "joint_cam": remap_joints(joint_cam.astype(np.float32), index),
            "joint_valid": remap_joints(valid.astype(np.float32), index),
            "joint_trunc": remap_joints(trunc.astype(np.float32), index)}


# ---------------------------------------------------------------------------------- SMPL-X fits
class FitModel:
    """The SMPL-X layer(s) that turn fits into joints and meshes (one per gender, built lazily).

    ``model_path`` is an SMPL-X file (neutral) or a directory with ``SMPLX_<GENDER>.npz`` /
    ``smplx/SMPLX_<GENDER>.npz`` (:func:`bhpe_tf.body.model_file.resolve_model_path`)."""

    def __init__(self, model_path):
        self.model_path = model_path
        self._layers, self._forward = {}, {}
        self._lock = threading.Lock()

    def layer(self, gender: str = "neutral"):
        with self._lock:  # tf.data calls from several threads; build each layer once
            if gender not in self._layers:
                import tensorflow as tf

                from bhpe_tf.body.smplx_layer import SMPLXLayer

                path = self.model_path
                layer = SMPLXLayer(model_path=path, gender=gender, num_betas=10, num_expression_coeffs=10,
                                   use_pca=False, flat_hand_mean=False, use_face_contour=True,
                                   name=f"fit_smplx_{gender}")
                layer({"betas": np.zeros((1, 10), np.float32)})  # build before concurrent use
                self._layers[gender] = layer
                # one traced graph for every batch size: eager SMPL-X costs ~4x more per batch
                self._forward[gender] = tf.function(lambda params, layer=layer: layer(params), reduce_retracing=True,
                                                    autograph=False)
            return self._layers[gender]

    @property
    def faces(self):
        return np.asarray(self.layer().faces)

    def __call__(self, fits):
        """``[(SMPLXParams, Camera)]`` -> ``[(joints (137, 3), vertices (V, 3))]`` in each camera's
        frame (Hand4Whole: camera rotation merged into the root, translation about the root joint)."""
        import tensorflow as tf

        results = [None] * len(fits)
        by_gender = {}
        for i, (params, _) in enumerate(fits):
            by_gender.setdefault(params.gender or "neutral", []).append(i)
        for gender, members in by_gender.items():
            pose = np.stack([fits[i][0].pose for i in members]).astype(np.float64)
            rots = np.stack([fits[i][1].R for i in members])
            root = np.stack([cv2.Rodrigues(r @ cv2.Rodrigues(p[0].reshape(3, 1))[0])[0].reshape(3)
                             for r, p in zip(rots, pose)])
            self.layer(gender)
            out = self._forward[gender]({
                "global_orient": tf.constant(root, tf.float32), "body_pose": tf.constant(pose[:, 1:22], tf.float32),
                "jaw_pose": tf.constant(pose[:, 22], tf.float32),
                "left_hand_pose": tf.constant(pose[:, 25:40], tf.float32),
                "right_hand_pose": tf.constant(pose[:, 40:55], tf.float32),
                "betas": tf.constant(np.stack([_ten(fits[i][0].betas) for i in members]), tf.float32),
                "expression": tf.constant(np.stack([_ten(fits[i][0].expression) for i in members]), tf.float32),
                "transl": tf.constant(np.stack([fits[i][0].transl for i in members]), tf.float32)})
            joints = np.asarray(out["joints"], np.float64)[:, list(H4W_JOINTS)]
            verts = np.asarray(out["vertices"], np.float64)
            for k, i in enumerate(members):
                camera = fits[i][1]
                t = -camera.R @ camera.T
                shift = camera.R @ joints[k, ROOT] + t - joints[k, ROOT]
                results[i] = (joints[k] + shift, verts[k] + shift)
        return results


def _ten(values) -> np.ndarray:
    out = np.zeros(10, np.float32)
    values = np.asarray(values, np.float32).reshape(-1)[:10]
    out[:values.size] = values
    return out


def fit_validity(params) -> tuple:
    """``(rotation_valid (53,), coord_valid (137,), face_valid)`` of a fit: hands need their pose,
    the face its jaw and expression (Hand4Whole masks missing parts' rotations and joints)."""
    rot_valid = np.ones(NUM_ROTATIONS, np.float32)
    coord_valid = np.ones(NUM_JOINTS, np.float32)
    pose_valid = np.asarray(params.pose_valid, np.float32)
    for rot_part, joint_part, kinematic in ((ROT_LHAND, LHAND, slice(25, 40)), (ROT_RHAND, RHAND, slice(40, 55))):
        if not pose_valid[kinematic].all():
            rot_valid[rot_part] = 0.0
            coord_valid[joint_part] = 0.0
    face_valid = bool(pose_valid[22] > 0 and params.expression_valid > 0)
    if not face_valid:
        rot_valid[ROT_JAW] = 0.0
        coord_valid[FACE] = 0.0
    return rot_valid, coord_valid, face_valid


def fit_targets(params, camera, joints, crop: Crop, *, config: TargetConfig) -> dict:
    """``process_human_model_output`` of one fit whose SMPL-X joints (137, 3, camera frame) are given."""
    rot_valid, coord_valid, face_valid = fit_validity(params)
    joints = np.asarray(joints, np.float64)
    joint_img = np.zeros((NUM_JOINTS, 3))
    joint_img[:, :2] = camera.project(joints)
    rel = joints - joints[ROOT]
    rel[LHAND] -= rel[LWRIST]
    rel[RHAND] -= rel[RWRIST]
    rel[FACE] -= rel[NECK]
    for part, size in ((BODY, config.body_3d_size), (LHAND, config.hand_3d_size), (RHAND, config.hand_3d_size),
                       (FACE, config.face_3d_size)):
        joint_img[part, 2] = config.depth_bin(rel[part, 2], size)
    flip, rot = crop.augment.flip, crop.augment.rot
    if flip:
        rel[:, 0] *= -1.0
        joint_img, rel = joint_img[H4W_FLIP_PERMUTATION], rel[H4W_FLIP_PERMUTATION]
        coord_valid = coord_valid[H4W_FLIP_PERMUTATION]
    joint_img[:, :2] = config.to_grid(affine_points(joint_img[:, :2], crop.matrix))
    trunc = config.inside(joint_img)
    rel = rel @ rotation_z(rot).T
    # Rotations in Hand4Whole's 53-joint order, with the camera rotation already in the root.
    pose = np.asarray(params.pose, np.float64).copy()
    pose[0] = cv2.Rodrigues(camera.R @ cv2.Rodrigues(pose[0].reshape(3, 1))[0])[0].reshape(3)
    if not face_valid:
        pose[22] = 0.0
    pose = pose[list(H4W_POSE_JOINTS)]
    if flip:
        pose, rot_valid = pose[H4W_POSE_FLIP_PERMUTATION], rot_valid[H4W_POSE_FLIP_PERMUTATION]
        pose[:, 1:3] *= -1.0
    pose[0] = rotate_root_pose(pose[0], rot)
    shape = _ten(params.betas)
    if np.any(np.abs(shape) > BETA_RESET):
        shape[:] = 0.0
    expr = _ten(params.expression) if face_valid else np.zeros(10, np.float32)
    return {"smplx_joint_img": joint_img.astype(np.float32), "smplx_joint_cam": rel.astype(np.float32),
            "smplx_joint_trunc": trunc, "smplx_joint_valid": coord_valid[:, None].astype(np.float32),
            "smplx_pose": pose.astype(np.float32), "smplx_pose_valid": rot_valid.astype(np.float32),
            "smplx_shape": shape, "smplx_shape_valid": np.ones(1, np.float32), "smplx_expr": expr,
            "smplx_expr_valid": np.array([float(face_valid)], np.float32)}


def _no_fit() -> dict:
    zeros = np.zeros((NUM_JOINTS, 3), np.float32)
    mask = np.zeros((NUM_JOINTS, 1), np.float32)
    return {"smplx_joint_img": zeros, "smplx_joint_cam": zeros, "smplx_joint_trunc": mask, "smplx_joint_valid": mask,
            "smplx_pose": np.zeros((NUM_ROTATIONS, 3), np.float32), "smplx_pose_valid": np.zeros(NUM_ROTATIONS,
                                                                                               np.float32),
            "smplx_shape": np.zeros(10, np.float32), "smplx_shape_valid": np.zeros(1, np.float32),
            "smplx_expr": np.zeros(10, np.float32), "smplx_expr_valid": np.zeros(1, np.float32)}


def box_targets(record: SampleRecord, spec: DatasetSpec, crop: Crop, *, config: TargetConfig) -> dict:
    """``process_hand_face_bbox`` of the part boxes (left / right swapped under the flip)."""
    grid = WholeBodyTargetConfig(input_wh=tuple(config.input_wh), output_grid=config.output_grid)
    boxes = {part: (getattr(record, f"{part}_box"), getattr(record, f"{part}_valid") if spec.part_boxes else 0.0)
             for part in BOX_PARTS}
    if crop.augment.flip:
        boxes["lhand"], boxes["rhand"] = boxes["rhand"], boxes["lhand"]
    out = {}
    for part, (box, valid) in boxes.items():
        center, size, ok = part_box_target(box, valid, crop.matrix, config=grid)
        out.update({f"{part}_box_center": center, f"{part}_box_size": size,
                    f"{part}_box_valid": np.array([ok], np.float32)})
    return out


def apply_dataset_rules(out: dict, spec: DatasetSpec) -> dict:
    """The per-dataset masks (module docstring, step 4); mutates and returns ``out``."""
    for name in spec.untrusted_rotations:
        out["smplx_pose_valid"][POSE_NAMES.index(name)] = 0.0
    for name in spec.untrusted_fit_joints:
        out["smplx_joint_valid"][H4W_JOINT_NAMES.index(name)] = 0.0
    out["smplx_joint_trunc"] = out["smplx_joint_trunc"] * out["smplx_joint_valid"]
    if spec.joints is None:  # the fit is the ground truth (AGORA, synthetic)
        out.update({"joint_img": out["smplx_joint_img"], "joint_cam": out["smplx_joint_cam"],
                    "joint_valid": out["smplx_joint_valid"], "joint_trunc": out["smplx_joint_trunc"]})
    out["is_3d"] = np.array([float(spec.is_3d)], np.float32)
    out["joint_cam_valid"] = out["joint_valid"] * out["is_3d"]
    return out


def element_spec(config: TargetConfig) -> dict:
    """``{key: (shape, dtype)}`` of one element of :meth:`TargetBuilder.batch` (module docstring)."""
    w, h = config.input_wh
    spec = {"image": ((h, w, 3), np.uint8 if config.normalize == "uint8" else np.float32),
            "is_3d": ((1,), np.float32), "smplx_pose": ((NUM_ROTATIONS, 3), np.float32),
            "smplx_pose_valid": ((NUM_ROTATIONS,), np.float32)}
    for key in ("joint_img", "joint_cam", "smplx_joint_img", "smplx_joint_cam"):
        spec[key] = ((NUM_JOINTS, 3), np.float32)
    for key in ("joint_valid", "joint_trunc", "joint_cam_valid", "smplx_joint_valid", "smplx_joint_trunc"):
        spec[key] = ((NUM_JOINTS, 1), np.float32)
    for key in ("smplx_shape", "smplx_expr"):
        spec[key], spec[f"{key}_valid"] = ((10,), np.float32), ((1,), np.float32)
    for part in BOX_PARTS:
        spec.update({f"{part}_box_center": ((2,), np.float32), f"{part}_box_size": ((2,), np.float32),
                     f"{part}_box_valid": ((1,), np.float32)})
    if config.with_mesh:
        spec.update({"mesh_gt": ((10475, 3), np.float32), "mesh_gt_valid": ((1,), np.float32)})
    return spec


# ---------------------------------------------------------------------------------------- batches
class TargetBuilder:
    """Records -> stacked network inputs and targets (module docstring); one SMPL-X call per batch.

    ``fit_model`` is a :class:`FitModel` (or an SMPL-X model path). ``augment=None`` gives test-time
    crops. ``images`` (optional) are RGB images given in memory instead of the records' files.
    """

    def __init__(self, *, fit_model, config: TargetConfig = TargetConfig(), augment: AugmentConfig | None = None):
        self.fits = fit_model if isinstance(fit_model, FitModel) else FitModel(fit_model)
        self.config, self.augment = config, augment

    def crops(self, records, rngs=None, images=None):
        rngs = rngs if rngs is not None else [None] * len(records)
        images = images if images is not None else [None] * len(records)
        return [crop_person(r, config=self.config, augment=self.augment, rng=g, image=im)
                for r, g, im in zip(records, rngs, images)]

    def targets(self, records, crops) -> list:
        """Per-record target dicts for already drawn ``crops``."""
        cfg = self.config
        with_fit = [i for i, r in enumerate(records) if r.smplx is not None]
        for i in with_fit:
            if records[i].camera is None:
                raise DataError("an SMPL-X fit needs its camera", path=records[i].image_path,
                                record=records[i].image_id)
        solved = self.fits([(records[i].smplx, records[i].camera) for i in with_fit]) if with_fit else []
        fitted = dict(zip(with_fit, solved))
        out = []
        for i, (record, crop) in enumerate(zip(records, crops)):
            spec = spec_of(record.dataset)
            item = {"image": network_input(crop, config=cfg)}
            if i in fitted:
                item.update(fit_targets(record.smplx, record.camera, fitted[i][0], crop, config=cfg))
            else:
                item.update(_no_fit())
            if spec.joints is not None:
                item.update(dataset_joint_targets(record, spec, crop, config=cfg))
            item.update(box_targets(record, spec, crop, config=cfg))
            apply_dataset_rules(item, spec)
            if cfg.with_mesh:
                mesh = record.vertices if record.vertices is not None else (fitted[i][1] if i in fitted else None)
                item["mesh_gt"] = (np.zeros((10475, 3), np.float32) if mesh is None
                                   else np.asarray(mesh, np.float32).reshape(-1, 3))
                item["mesh_gt_valid"] = np.array([float(mesh is not None)], np.float32)
            out.append(item)
        return out

    def batch(self, records, rngs=None, images=None) -> dict:
        items = self.targets(records, self.crops(records, rngs, images))
        return {k: np.stack([it[k] for it in items]) for k in items[0]}
