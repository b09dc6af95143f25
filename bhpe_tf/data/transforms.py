"""Top-down crop geometry and training augmentation (NumPy + OpenCV, no TensorFlow).

References: HRNet ``lib/utils/transforms.py`` (``get_affine_transform``, ``affine_transform``,
``fliplr_joints``) and ``lib/dataset/JointsDataset.py`` (``_box2cs``, ``half_body_transform``,
scale / rotation / flip sampling); Hand4Whole ``common/utils/preprocessing.py`` (colour scaling,
SMPL-X pose flip and root rotation).

One deliberate difference in *how*, not *what*: HRNet flips the whole image and then crops around
the mirrored centre. Here the flip ``x -> W - 1 - x`` is folded into the crop matrix
(:func:`crop_matrix`), so one ``cv2.warpAffine`` does both; the output is the same crop (same
mapping of every pixel) without copying the full image.

Scale convention: ``scale`` is the (w, h) of the crop region in **pixels** (HRNet stores it
divided by ``pixel_std = 200``). Rotation ``rot`` is in degrees with HRNet's sign.
"""
from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from bhpe_tf.data.meta import flip_permutation, smplx_flip_permutation


# --------------------------------------------------------------------------- boxes and affines
def box_to_center_scale(box, *, aspect_ratio: float = 0.75, padding: float = 1.25):
    """``(x, y, w, h)`` -> ``(center, scale)`` like HRNet's ``_box2cs``.

    The box is grown to ``aspect_ratio = w / h`` (0.75 for 256x192 inputs) around its centre, then
    multiplied by ``padding`` (1.25). Returns float32 ``center`` (2,) and ``scale`` (2,) in pixels.
    """
    x, y, w, h = (float(v) for v in np.asarray(box, np.float64).reshape(4))
    center = np.array([x + w * 0.5, y + h * 0.5], np.float32)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    return center, np.array([w, h], np.float32) * np.float32(padding)


def _rotate(point, rot_rad):
    sn, cs = math.sin(rot_rad), math.cos(rot_rad)
    return np.array([point[0] * cs - point[1] * sn, point[0] * sn + point[1] * cs], np.float32)


def _third_point(a, b):
    d = a - b
    return b + np.array([-d[1], d[0]], np.float32)


def get_affine_transform(center, scale, rot, output_size, *, shift=(0.0, 0.0), inv: bool = False):
    """HRNet's ``get_affine_transform`` with ``scale`` in pixels; ``output_size`` is ``(w, h)``.

    Three point pairs (centre, a point half a width "up" rotated by ``rot``, and the point
    perpendicular to both) go to ``cv2.getAffineTransform``. As in HRNet only the region width
    ``scale[0]`` sets the zoom: the height follows from the output aspect ratio.
    """
    center = np.asarray(center, np.float32)
    scale = np.broadcast_to(np.asarray(scale, np.float32).reshape(-1), (2,))
    src_w = float(scale[0])
    dst_w, dst_h = float(output_size[0]), float(output_size[1])
    rot_rad = math.pi * float(rot) / 180.0
    src_dir = _rotate([0.0, src_w * -0.5], rot_rad)
    dst_dir = np.array([0.0, dst_w * -0.5], np.float32)
    shift = np.asarray(shift, np.float32) * scale
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center + shift
    src[1] = center + src_dir + shift
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = dst[0] + dst_dir
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    if inv:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def crop_matrix(center, scale, rot, output_size, *, flip_width: int | None = None):
    """Image -> crop matrix (2, 3). With ``flip_width`` (the image width W) the image is mirrored
    first (``x -> W - 1 - x``, HRNet's flip) and the centre mirrored with it, so that
    ``crop_matrix(..., flip_width=W)`` equals HRNet's flip-then-``get_affine_transform``."""
    if flip_width is None:
        return get_affine_transform(center, scale, rot, output_size)
    center = np.asarray(center, np.float32).copy()
    center[0] = flip_width - center[0] - 1
    mat = get_affine_transform(center, scale, rot, output_size).astype(np.float64)
    flip = np.array([[-1.0, 0.0, flip_width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return mat @ flip


def invert_affine(mat) -> np.ndarray:
    """Inverse of a (2, 3) affine (crop -> image), via ``cv2.invertAffineTransform``."""
    return cv2.invertAffineTransform(np.asarray(mat, np.float64))


def affine_points(points, mat) -> np.ndarray:
    """Apply a (2, 3) affine to points (..., 2) (HRNet's ``affine_transform``, vectorised)."""
    pts = np.asarray(points, np.float64)
    mat = np.asarray(mat, np.float64)
    return pts @ mat[:, :2].T + mat[:, 2]


def warp_crop(image, mat, output_size, *, interpolation=cv2.INTER_LINEAR) -> np.ndarray:
    """Crop with ``cv2.warpAffine`` (bilinear, constant zero border, as HRNet)."""
    return cv2.warpAffine(image, np.asarray(mat, np.float64), (int(output_size[0]), int(output_size[1])),
                          flags=interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def crop_to_image(points, center, scale, rot, output_size) -> np.ndarray:
    """Map crop coordinates back to the image (the inverse transform used at test time)."""
    return affine_points(points, get_affine_transform(center, scale, rot, output_size, inv=True))


# --------------------------------------------------------------------------- flips
def swap_pairs(values, flip_pairs) -> np.ndarray:
    """Reorder rows (joints) so that every left/right pair trades places (no coordinate change)."""
    values = np.asarray(values)
    return values[flip_permutation(flip_pairs, values.shape[0])]


def flip_keypoints(keypoints, flip_pairs, *, width: int) -> np.ndarray:
    """HRNet's ``fliplr_joints``: ``x -> width - 1 - x`` and swap each left/right pair.

    Works on (K, 2) or (K, 3) arrays (visibility moves with its joint). Involution.
    """
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    kp[:, 0] = width - 1 - kp[:, 0]
    return swap_pairs(kp, flip_pairs)


def flip_box(box, *, width: int) -> np.ndarray:
    """Mirror an ``(x, y, w, h)`` box with the same ``x -> width - 1 - x`` convention."""
    x, y, w, h = np.asarray(box, np.float32).reshape(4)
    return np.array([width - 1 - (x + w), y, w, h], np.float32)


def flip_smplx_pose(pose) -> np.ndarray:
    """Mirror a (55, 3) SMPL-X axis-angle pose (Hand4Whole): swap left/right joints and negate
    the y and z components of every axis-angle. Also accepts a (55,) validity mask (swap only)."""
    pose = np.asarray(pose, np.float32)
    out = pose[smplx_flip_permutation()].copy()
    if out.ndim == 2:
        out[:, 1:3] *= -1.0
    return out


def rotate_root_pose(root_pose, rot: float) -> np.ndarray:
    """Apply the in-plane crop rotation ``rot`` (degrees) to a root axis-angle (Hand4Whole:
    ``R_z(-rot) @ R_root``); camera-space joints use the same matrix (:func:`rotation_z`)."""
    r_root, _ = cv2.Rodrigues(np.asarray(root_pose, np.float64).reshape(3, 1))
    aa, _ = cv2.Rodrigues(rotation_z(rot) @ r_root)
    return aa.reshape(3).astype(np.float32)


def rotation_z(rot: float) -> np.ndarray:
    """The 3x3 rotation about the camera z axis matching a crop rotated by ``rot`` degrees."""
    a = -math.radians(rot)
    return np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])


def augment_joints_3d(joints, *, rot: float, flip: bool, flip_pairs) -> np.ndarray:
    """Camera-space 3D joints under the same augmentation as the crop (Hand4Whole): mirror x and
    swap pairs when flipped, then rotate about z."""
    j = np.array(joints, np.float64, copy=True)
    if flip:
        j[:, 0] *= -1.0
        j = swap_pairs(j, flip_pairs)
    return (j @ rotation_z(rot).T).astype(np.float32)


# --------------------------------------------------------------------------- augmentation
@dataclasses.dataclass(frozen=True, kw_only=True)
class AugmentConfig:
    """Training augmentation ranges.

    ``scale = 1 + scale_factor * clip(N(0,1), -1, 1)``, ``rot = rotation_factor * clip(N, -2, 2)``
    with probability ``rotation_prob`` (HRNet: ``clip(randn*sf + 1, 1-sf, 1+sf)`` and
    ``clip(randn*rf, -2rf, 2rf)``, identical), horizontal flip with ``flip_prob``, half-body with
    ``half_body_prob`` when more than ``num_joints_half_body`` joints are visible, and per-channel
    colour scaling ``U(1 - color_factor, 1 + color_factor)`` (Hand4Whole).
    """

    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    num_joints_half_body: int = 8
    half_body_padding: float = 1.5
    color_factor: float = 0.0

    @classmethod
    def hrnet_coco(cls) -> "AugmentConfig":
        return cls()

    @classmethod
    def hrnet_mpii(cls) -> "AugmentConfig":
        return cls(scale_factor=0.25, rotation_factor=30.0)

    @classmethod
    def hand4whole(cls) -> "AugmentConfig":
        return cls(scale_factor=0.25, rotation_factor=30.0, half_body_prob=0.0, color_factor=0.2)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AugmentParams:
    """One draw of the augmentation (kept so targets, SMPL-X params and 3D joints follow it)."""

    center: np.ndarray
    scale: np.ndarray
    rot: float = 0.0
    flip: bool = False
    color: np.ndarray | None = None


def half_body_center_scale(keypoints, upper_body_ids, *, rng: np.random.Generator,
                           aspect_ratio: float = 0.75, padding: float = 1.5):
    """HRNet's ``half_body_transform``: the box of the visible upper (p 0.5, mmpose's ``rand``;
    HRNet's ``randn < 0.5`` is a known slip) or lower joints, grown to the aspect ratio, x1.5.
    Returns ``(center, scale)`` or ``None`` when fewer than 2 joints qualify."""
    kp = np.asarray(keypoints, np.float32)
    vis = kp[:, 2] > 0
    upper_mask = np.zeros(len(kp), bool)
    upper_mask[list(upper_body_ids)] = True
    upper = kp[vis & upper_mask, :2]
    lower = kp[vis & ~upper_mask, :2]
    if rng.random() < 0.5 and len(upper) > 2:
        selected = upper
    else:
        selected = lower if len(lower) > 2 else upper
    if len(selected) < 2:
        return None
    center = selected.mean(axis=0)
    w, h = (selected.max(axis=0) - selected.min(axis=0)).tolist()
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    return center.astype(np.float32), np.array([w, h], np.float32) * np.float32(padding)


def sample_augmentation(*, center, scale, keypoints, config: AugmentConfig, rng: np.random.Generator,
                        upper_body_ids=(), aspect_ratio: float = 0.75) -> AugmentParams:
    """Draw one augmentation in HRNet's order: half-body, scale, rotation, flip, then colour."""
    center = np.asarray(center, np.float32)
    scale = np.asarray(scale, np.float32)
    kp = np.asarray(keypoints, np.float32)
    if (config.half_body_prob > 0 and np.sum(kp[:, 2] > 0) > config.num_joints_half_body
            and rng.random() < config.half_body_prob):
        half = half_body_center_scale(kp, upper_body_ids, rng=rng, aspect_ratio=aspect_ratio,
                                      padding=config.half_body_padding)
        if half is not None:
            center, scale = half
    sf, rf = config.scale_factor, config.rotation_factor
    scale = scale * np.float32(1.0 + sf * np.clip(rng.standard_normal(), -1.0, 1.0))
    rot = 0.0
    if rng.random() <= config.rotation_prob:
        rot = float(rf * np.clip(rng.standard_normal(), -2.0, 2.0))
    flip = bool(rng.random() < config.flip_prob)
    color = None
    if config.color_factor > 0:
        color = rng.uniform(1.0 - config.color_factor, 1.0 + config.color_factor, size=3).astype(np.float32)
    return AugmentParams(center=center, scale=scale, rot=rot, flip=flip, color=color)


def apply_color(image, color) -> np.ndarray:
    """Per-channel multiplicative colour jitter with clipping to [0, 255] (Hand4Whole)."""
    if color is None:
        return image
    out = image.astype(np.float32) * np.asarray(color, np.float32)
    return np.clip(out, 0, 255, out=out)
