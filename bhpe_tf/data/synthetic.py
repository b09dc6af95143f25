"""Procedural synthetic datasets: the embedded default data of ``training/train.py`` (no download).

Two generators, both **index-based and deterministic**: sample ``i`` of split ``s`` is a pure
function of ``(seed, s, i)`` (``np.random.default_rng([seed, split_id, i])``), so a data position
is one integer (the sample counter) and a resumed run sees exactly the samples it would have seen.
The ``"val"`` split draws from another stream than ``"train"`` and is held out.

* :class:`SyntheticPose2D`: a stick figure with the COCO-17 (or MPII-16) keypoints on a textured,
  noisy background with distractor shapes: random limb angles, limb thickness and colours, global
  rotation, scale and translation, joints marked by small dots. The person faces the camera (its
  left is on the image's right, the COCO convention), so left/right is decidable from geometry.
  Targets are Gaussian heatmaps (:meth:`bhpe_tf.data.codecs.HeatmapCodec.encode`).
* :class:`SyntheticMesh`: renders of the synthetic SMPL-X body (:mod:`bhpe_tf.body.synthetic_model`)
  with random pose, shape and expression (:func:`bhpe_tf.body.render.render_mesh`) and the targets
  of the Hand4Whole loss in the keys of :func:`bhpe_tf.data.wholebody_targets.make_wholebody_targets`
  (137 Hand4Whole joints in body-grid units + depth bins, root-relative 3D joints, part boxes,
  SMPL-X pose / shape / expression with validity).
"""
from __future__ import annotations

import os

import cv2
import numpy as np

from bhpe_tf.data.codecs import HeatmapCodec
from bhpe_tf.runtime.normalization import IMAGENET

IMAGENET_MEAN = np.asarray(IMAGENET.mean, np.float32)
IMAGENET_STD = np.asarray(IMAGENET.std, np.float32)
SPLITS = {"train": 0, "val": 1, "test": 2}

COCO_SKELETON = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
                 (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))
# MPII-16 from the COCO-17 figure: r_ank r_knee r_hip l_hip l_knee l_ank pelvis thorax upper_neck
# head_top r_wri r_elb r_sho l_sho l_elb l_wri (pelvis, thorax, neck, head top are derived).
_MPII_FROM_COCO = (16, 14, 12, 11, 13, 15, -1, -2, -3, -4, 10, 8, 6, 5, 7, 9)


def _split_id(split: str) -> int:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    return SPLITS[split]


def normalize_image(image_rgb: np.ndarray, mode: str) -> np.ndarray:
    """uint8 RGB -> the network input: ``imagenet`` (HRNet), ``unit`` ([0, 1], Hand4Whole), ``uint8``."""
    if mode == "uint8":
        return image_rgb
    x = image_rgb.astype(np.float32) / 255.0
    if mode == "unit":
        return x
    if mode == "imagenet":
        return (x - IMAGENET_MEAN) / IMAGENET_STD
    raise ValueError(f"normalize must be 'imagenet', 'unit' or 'uint8', not {mode!r}")


def denormalize_image(image: np.ndarray, mode: str) -> np.ndarray:
    """Inverse of :func:`normalize_image` (for TensorBoard overlays): float -> uint8 RGB."""
    x = np.asarray(image, np.float32)
    if mode == "imagenet":
        x = x * IMAGENET_STD + IMAGENET_MEAN
    if mode != "uint8":
        x = x * 255.0
    return np.clip(x, 0, 255).astype(np.uint8)


def textured_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random textured, noisy RGB background with distractor shapes (uint8)."""
    base = rng.uniform(0, 255, 3)
    grad = rng.uniform(-80, 80, (2, 3))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = base[None, None] + xx[..., None] / width * grad[0] + yy[..., None] / height * grad[1]
    # low-frequency noise (blurred), then pixel noise
    coarse = rng.normal(0, 1, (max(2, height // 8), max(2, width // 8), 3)).astype(np.float32)
    img += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) * rng.uniform(5, 35)
    img = np.clip(img, 0, 255).astype(np.uint8)
    scale = max(height, width)
    for _ in range(int(rng.integers(2, 7))):
        color = tuple(int(c) for c in rng.uniform(0, 255, 3))
        kind = rng.integers(0, 3)
        p = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        if kind == 0:
            q = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            cv2.rectangle(img, p, q, color, -1 if rng.random() < 0.5 else max(1, scale // 48))
        elif kind == 1:
            axes = (int(rng.uniform(2, scale / 5)), int(rng.uniform(2, scale / 5)))
            cv2.ellipse(img, p, axes, float(rng.uniform(0, 180)), 0, 360, color, -1)
        else:
            q = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            cv2.line(img, p, q, color, max(1, int(rng.uniform(1, scale / 24))), cv2.LINE_AA)
    noise = rng.normal(0, rng.uniform(2, 12), img.shape)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _rot(v, angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def random_figure(rng: np.random.Generator) -> tuple:
    """A random COCO-17 figure in a canonical frame (y down, ~1 unit tall), plus extras.

    Returns ``(keypoints (17, 2), extras)``; extras hold the head centre / radius and the derived
    MPII points (pelvis, thorax, upper neck, head top).
    """
    down = np.array([0.0, 1.0])
    torso = rng.uniform(0.28, 0.36)
    neck = np.zeros(2)
    lean = rng.uniform(-0.25, 0.25)
    pelvis = neck + _rot(down, lean) * torso
    half_sh, half_hip = rng.uniform(0.09, 0.14), rng.uniform(0.06, 0.09)
    side = _rot(np.array([1.0, 0.0]), lean)  # the person's left is the image's right
    kp = np.zeros((17, 2))
    kp[5], kp[6] = neck + side * half_sh, neck - side * half_sh
    kp[11], kp[12] = pelvis + side * half_hip, pelvis - side * half_hip
    head_r = rng.uniform(0.06, 0.08)
    head = neck - _rot(down, lean + rng.uniform(-0.3, 0.3)) * (head_r * 1.5)
    yaw = rng.uniform(-0.5, 0.5)  # head turn: face features shift sideways
    kp[0] = head + np.array([yaw * head_r * 0.6, 0.15 * head_r])
    kp[1] = head + np.array([(0.4 + 0.3 * yaw) * head_r, -0.25 * head_r])
    kp[2] = head + np.array([(-0.4 + 0.3 * yaw) * head_r, -0.25 * head_r])
    kp[3] = head + np.array([(1.0 - 0.2 * max(yaw, 0)) * head_r, 0.0])
    kp[4] = head + np.array([(-1.0 - 0.2 * min(yaw, 0)) * head_r, 0.0])
    upper, fore = rng.uniform(0.15, 0.2), rng.uniform(0.13, 0.18)
    thigh, shin = rng.uniform(0.22, 0.28), rng.uniform(0.2, 0.26)
    for sign, (sho, elb, wri) in ((1, (5, 7, 9)), (-1, (6, 8, 10))):
        a = sign * rng.uniform(-0.3, 2.8)  # upper arm from hanging down (0) to raised overhead
        b = a + sign * rng.uniform(-0.4, 2.2)  # elbow bend
        kp[elb] = kp[sho] + _rot(down, -a) * upper
        kp[wri] = kp[elb] + _rot(down, -b) * fore
    for sign, (hip, knee, ank) in ((1, (11, 13, 15)), (-1, (12, 14, 16))):
        a = sign * rng.uniform(-0.35, 1.2)
        b = a - sign * rng.uniform(0.0, 1.4)  # knees bend backwards
        kp[knee] = kp[hip] + _rot(down, -a) * thigh
        kp[ank] = kp[knee] + _rot(down, -b) * shin
    extras = {"head": head, "head_r": head_r, "pelvis": pelvis, "thorax": neck,
              "upper_neck": neck + (head - neck) * 0.35, "head_top": head + (head - neck) / np.linalg.norm(head - neck) * head_r}
    return kp, extras


class SyntheticPose2D:
    """Stick figures with COCO-17 / MPII-16 keypoints and HRNet heatmap targets (module docstring).

    Args:
        input_wh: crop ``(w, h)``.
        codec: the heatmap targets' codec (its ``input_wh`` is ``input_wh``); default HRNet's
            (stride 4, sigma 2) for ``input_wh``.
        layout: ``"coco"`` (17 keypoints) or ``"mpii"`` (16).
        split: ``"train"``, ``"val"`` or ``"test"`` (independent streams); seed: dataset seed.
        normalize: ``"imagenet"`` (HRNet), ``"unit"`` or ``"uint8"``.
    """

    def __init__(self, *, input_wh=(192, 256), codec: HeatmapCodec | None = None, layout: str = "coco",
                 split: str = "train", seed: int = 0, normalize: str = "imagenet", length: int | None = None):
        self.input_wh = (int(input_wh[0]), int(input_wh[1]))
        self.codec = codec or HeatmapCodec(input_wh=self.input_wh)
        if self.codec.input_wh != self.input_wh:
            raise ValueError(f"codec.input_wh {self.codec.input_wh} differs from input_wh {self.input_wh}")
        if layout not in ("coco", "mpii"):
            raise ValueError(f"layout must be 'coco' or 'mpii', got {layout!r}")
        self.layout, self.seed, self.normalize = layout, int(seed), normalize
        self.split, self._split = split, _split_id(split)
        self.length = length  # informational (val set size); generation is unbounded
        self.num_joints = 17 if layout == "coco" else 16

    def _layout(self, kp, extras):
        if self.layout == "coco":
            return kp
        derived = {-1: extras["pelvis"], -2: extras["thorax"], -3: extras["upper_neck"], -4: extras["head_top"]}
        return np.stack([kp[i] if i >= 0 else derived[i] for i in _MPII_FROM_COCO])

    def render(self, index: int):
        """``(image uint8 RGB (h, w, 3), keypoints (K, 3) crop pixels, box_size)`` of sample ``index``."""
        rng = np.random.default_rng([self.seed, self._split, int(index)])
        w, h = self.input_wh
        img = textured_background(rng, h, w)
        kp, extras = random_figure(rng)
        pts = np.concatenate([kp, np.stack([extras[k] for k in ("head", "pelvis", "thorax", "upper_neck",
                                                                 "head_top")])])
        # global similarity: rotation, scale (figure height vs crop height), translation
        angle = rng.uniform(-0.6, 0.6)
        c, s = np.cos(angle), np.sin(angle)
        pts = pts @ np.array([[c, s], [-s, c]])
        lo, hi = pts.min(0), pts.max(0)
        extent = hi - lo
        scale = rng.uniform(0.65, 0.95) * min(h / max(extent[1], 1e-6), w / max(extent[0], 1e-6))
        pts = (pts - (lo + hi) / 2) * scale
        pts += np.array([w / 2, h / 2]) + rng.uniform(-0.12, 0.12, 2) * np.array([w, h])
        kp2 = pts[:17]
        extras2 = dict(zip(("head", "pelvis", "thorax", "upper_neck", "head_top"), pts[17:]))
        extras2["head_r"] = extras["head_r"] * scale
        unit = max(w, h) / 64.0
        sub = 4  # cv2 sub-pixel bits

        def p(v):
            return (int(round(v[0] * (1 << sub))), int(round(v[1] * (1 << sub))))

        palette = rng.uniform(0, 255, (8, 3))
        if rng.random() < 0.5:  # a dark or bright outfit sometimes, for contrast variety
            palette = np.clip(palette * rng.uniform(0.3, 1.6), 0, 255)
        torso_color = tuple(int(v) for v in palette[0])
        poly = np.array([p(kp2[i]) for i in (5, 6, 12, 11)], np.int32)
        cv2.fillConvexPoly(img, poly, torso_color, cv2.LINE_AA, sub)
        limbs = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16))
        for k, (a, b) in enumerate(limbs):
            color = tuple(int(v) for v in palette[1 + k // 2])
            thick = max(1, int(round(unit * rng.uniform(1.2, 3.2) * (1.3 if a >= 11 else 1.0))))
            cv2.line(img, p(kp2[a]), p(kp2[b]), color, thick, cv2.LINE_AA, sub)
        cv2.line(img, p(extras2["thorax"]), p(extras2["head"]), torso_color, max(1, int(unit * 1.5)), cv2.LINE_AA, sub)
        skin = tuple(int(v) for v in rng.uniform(60, 250, 3))
        cv2.circle(img, p(extras2["head"]), int(round(extras2["head_r"] * (1 << sub))), skin, -1, cv2.LINE_AA, sub)
        dot = max(1, int(round(unit * 0.8)))
        dark = tuple(int(v) for v in (255 - np.asarray(skin)) * 0.5)
        for i in (0, 1, 2, 3, 4):  # face features
            cv2.circle(img, p(kp2[i]), max(1, dot // 2 + (i == 0)) << sub, dark, -1, cv2.LINE_AA, sub)
        joint_color = tuple(int(v) for v in rng.uniform(0, 255, 3))
        for i in range(5, 17):
            cv2.circle(img, p(kp2[i]), dot << sub, joint_color, -1, cv2.LINE_AA, sub)
        if rng.random() < 0.5:
            img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.3, 1.0))
        noise = rng.normal(0, rng.uniform(0, 8), img.shape)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)

        pts_layout = self._layout(kp2, extras2)
        inside = (pts_layout[:, 0] >= 0) & (pts_layout[:, 0] < w) & (pts_layout[:, 1] >= 0) & (pts_layout[:, 1] < h)
        keypoints = np.concatenate([pts_layout, np.where(inside, 2.0, 0.0)[:, None]], axis=1).astype(np.float32)
        vis = keypoints[inside, :2] if inside.any() else keypoints[:, :2]
        box_size = float(max(np.ptp(vis[:, 0]), np.ptp(vis[:, 1]), 1.0))
        return img, keypoints, box_size

    def sample(self, index: int) -> dict:
        """One element: ``image`` (h, w, 3), ``heatmaps`` (the codec's h, w, K), ``target_weight`` (K,),
        ``keypoints`` (K, 3) crop pixels, ``box_size`` () (PCK normaliser), ``index`` ()."""
        img, keypoints, box_size = self.render(index)
        heatmaps, weights = self.codec.encode(keypoints)
        return {"image": normalize_image(img, self.normalize), "heatmaps": heatmaps, "target_weight": weights,
                "keypoints": keypoints, "box_size": np.float32(box_size), "index": np.int64(index)}

    def batch(self, start: int, size: int) -> dict:
        """Samples ``start .. start + size - 1`` stacked on a batch axis."""
        items = [self.sample(start + i) for i in range(int(size))]
        return {k: np.stack([it[k] for it in items]) for k in items[0]}

    def element_spec(self) -> dict:
        w, h = self.input_wh
        hw, hh = self.codec.heatmap_wh
        k = self.num_joints
        dtype = np.uint8 if self.normalize == "uint8" else np.float32
        return {"image": ((h, w, 3), dtype), "heatmaps": ((hh, hw, k), np.float32),
                "target_weight": ((k,), np.float32), "keypoints": ((k, 3), np.float32),
                "box_size": ((), np.float32), "index": ((), np.int64)}


# ------------------------------------------------------------------------------ SMPL-X renders
def synthetic_smplx_path(cache_dir, *, seed: int = 0) -> str:
    """A synthetic SMPL-X model file in ``cache_dir`` (written once, atomically)."""
    from bhpe_tf.body.synthetic_model import write_synthetic_smplx
    from bhpe_tf.fileio import atomic_output

    path = os.path.join(os.fspath(cache_dir), f"SMPLX_NEUTRAL_synthetic{seed}.npz")
    if not os.path.isfile(path):
        with atomic_output(path) as tmp:
            write_synthetic_smplx(str(tmp), seed=seed)
    return path


def random_person(rng: np.random.Generator, *, pose_scale: float = 0.35, turn: float = 1.0):
    """Random SMPL-X parameters for a person in a y-down camera: ``(pose (55, 3), betas (10,),
    expression (10,))``; root upright and turned by up to ``turn`` radians about the vertical,
    body / hand / jaw rotations around the rest pose (``pose_scale`` radians standard deviation)."""
    ps = float(pose_scale)
    pose = np.zeros((55, 3), np.float32)
    pose[0] = _axis_angle_root(rng, turn=turn)
    pose[1:22] = rng.normal(0, ps, (21, 3))
    pose[[16, 17]] += np.array([[0, 0, -0.9], [0, 0, 0.9]]) * rng.uniform(0, 1)  # arms down
    pose[22] = rng.normal(0, 0.1, 3) * np.array([1, 0.2, 0.2])
    pose[25:55] = rng.normal(0, ps * 0.7, (30, 3))
    betas = rng.normal(0, 1.0, 10).astype(np.float32)
    expr = rng.normal(0, 1.0, 10).astype(np.float32)
    return pose, betas, expr


def place_in_view(vertices, *, focal, image_size, fill: float = 0.8, shift=(0.0, 0.0)) -> np.ndarray:
    """Translation putting ``vertices`` (model frame) in front of a pinhole camera with ``focal``
    (fx, fy) so that the body spans ``fill`` of the image (w, h), its centre shifted by ``shift``
    (fractions of the image) from the principal point."""
    w, h = image_size
    focal = np.asarray(focal, np.float64)
    verts = np.asarray(vertices, np.float64)
    extent = np.ptp(verts[:, :2], axis=0)
    tz = focal[1] * max(extent[1], extent[0] * h / w * focal[0] / focal[1]) / (fill * h)
    center = (verts.max(0) + verts.min(0)) / 2
    return np.array([shift[0] * w / focal[0] * tz, shift[1] * h / focal[1] * tz, tz]) - center


def render_person(background_rgb, vertices, faces, *, focal, princpt, color) -> np.ndarray:
    """The shaded mesh (camera frame) drawn over an RGB background (uint8)."""
    from bhpe_tf.body.render import render_mesh

    bgr = np.ascontiguousarray(background_rgb[..., ::-1])
    return np.ascontiguousarray(render_mesh(bgr, vertices, faces, focal=focal, princpt=princpt, color=color,
                                            alpha=1.0)[..., ::-1])


def part_boxes_of(joints_2d) -> dict:
    """``{lhand,rhand,face}_box`` (x, y, w, h) around the projected 137 Hand4Whole joints, the
    boxes a COCO-WholeBody annotator would draw around each part's keypoints."""
    out = {}
    for part, sl in (("lhand", slice(25, 45)), ("rhand", slice(45, 65)), ("face", slice(65, 137))):
        lo, hi = joints_2d[sl].min(0), joints_2d[sl].max(0)
        out[f"{part}_box"] = np.r_[lo, hi - lo].astype(np.float32)
        out[f"{part}_valid"] = 1.0
    return out


class SyntheticMesh:
    """Renders of the synthetic SMPL-X body through Hand4Whole's target code (module docstring).

    Sample ``i`` is a person (:func:`random_person`) placed in front of Hand4Whole's virtual
    camera (focal 5000 px and principal point at the centre of the 256x192 body image, scaled to
    ``input_wh``) and drawn over a textured background; it becomes a
    :class:`~bhpe_tf.data.records.SampleRecord` of the ``synthetic`` dataset (image, SMPL-X
    parameters, camera, part boxes around the projected hands and face) whose targets come from
    :class:`bhpe_tf.data.hand4whole.targets.TargetBuilder`, the code path of the real datasets.
    The record's box is the whole render, so without ``augment`` the crop is the render itself.

    Targets: the keys of :mod:`bhpe_tf.data.hand4whole.targets` (137 joints in body-grid cells +
    depth bins, root-relative 3D joints, the fit's joints, part boxes, the 53 rotations, shape and
    expression with their masks), plus ``index``; ``with_mesh`` adds the ground-truth mesh.
    """

    def __init__(self, *, smplx_model_path, input_wh=(384, 512), output_grid=None, depth_bins: int = 8,
                 bbox_3d_size: float = 2.0, split: str = "train", seed: int = 0, normalize: str = "unit",
                 pose_scale: float = 0.35, length: int | None = None, augment=None, with_mesh: bool = False):
        from bhpe_tf.data.hand4whole.targets import FitModel, TargetBuilder, TargetConfig
        from bhpe_tf.models.hand4whole.geometry import Hand4WholeGeometry

        self.smplx_model_path = os.fspath(smplx_model_path)
        self.input_wh = (int(input_wh[0]), int(input_wh[1]))  # (w, h)
        w, h = self.input_wh
        self.target_config = TargetConfig(input_wh=self.input_wh, depth_bins=int(depth_bins),
                                          body_3d_size=float(bbox_3d_size), normalize=normalize, with_mesh=with_mesh)
        if output_grid and tuple(output_grid) != self.target_config.output_grid:
            raise ValueError(f"output_grid {tuple(output_grid)} must be input_wh / 64 = "
                             f"{self.target_config.output_grid} (Hand4Whole's body grid)")
        self.output_grid = self.target_config.output_grid
        self.split, self._split, self.seed = split, _split_id(split), int(seed)
        self.normalize, self.pose_scale, self.length = normalize, float(pose_scale), length
        self.fits = FitModel(self.smplx_model_path)
        self.builder = TargetBuilder(fit_model=self.fits, config=self.target_config, augment=augment)
        # Hand4Whole's virtual camera as the model's geometry scales it to the whole render (the crop)
        self.focal, self.princpt = Hand4WholeGeometry(input_shape=(h, w)).camera_in_image(zoom=1.0, origin=(0.0, 0.0))
        self.num_joints = 137

    @property
    def layer(self):
        return self.fits.layer()

    def _rng(self, index):
        return np.random.default_rng([self.seed, self._split, int(index)])

    def records(self, start: int, size: int):
        """``(records, images)`` of samples ``start .. start + size - 1`` (images RGB uint8)."""
        from bhpe_tf.body.joint_sets import H4W_JOINTS
        from bhpe_tf.data.records import Camera, SampleRecord, SMPLXParams

        import tensorflow as tf

        w, h = self.input_wh
        draws = []
        for i in range(int(size)):
            rng = self._rng(start + i)
            pose, betas, expr = random_person(rng, pose_scale=self.pose_scale)
            draws.append((pose, betas, expr, textured_background(rng, h, w), tuple(float(c) for c in
                                                                                 rng.uniform(80, 240, 3)),
                          rng.uniform(-0.08, 0.08, 2), rng.uniform(0.7, 0.9)))
        pose = np.stack([d[0] for d in draws])
        out = self.layer({"global_orient": tf.constant(pose[:, 0]), "body_pose": tf.constant(pose[:, 1:22]),
                          "jaw_pose": tf.constant(pose[:, 22]), "left_hand_pose": tf.constant(pose[:, 25:40]),
                          "right_hand_pose": tf.constant(pose[:, 40:55]),
                          "betas": tf.constant(np.stack([d[1] for d in draws])),
                          "expression": tf.constant(np.stack([d[2] for d in draws]))})
        verts_all, joints_all = np.asarray(out["vertices"]), np.asarray(out["joints"])
        camera = Camera(f=self.focal, c=self.princpt)
        records, images = [], []
        for i, (pose_i, betas, expr, bg, color, shift, fill) in enumerate(draws):
            trans = place_in_view(verts_all[i], focal=self.focal, image_size=self.input_wh, fill=fill, shift=shift)
            images.append(render_person(bg, verts_all[i] + trans, self.fits.faces, focal=self.focal,
                                        princpt=self.princpt, color=color))
            joints_2d = camera.project(joints_all[i][list(H4W_JOINTS)] + trans)
            params = SMPLXParams(pose=pose_i, betas=betas, expression=expr, transl=trans)
            records.append(SampleRecord(
                image_path=f"<synthetic {self.split} {start + i}>", image_id=start + i, dataset="synthetic",
                keypoints=np.zeros((0, 3)), center=(w / 2.0, h / 2.0), scale=(w, h), bbox=(0, 0, w, h),
                image_size=(w, h), camera=camera, smplx=params, **part_boxes_of(joints_2d)))
        return records, images

    def batch(self, start: int, size: int) -> dict:
        records, images = self.records(start, size)
        rngs = [np.random.default_rng([self.seed, self._split, int(start + i), 1]) for i in range(int(size))]
        out = self.builder.batch(records, rngs=rngs, images=images)
        out["index"] = np.arange(start, start + int(size), dtype=np.int64)
        return out

    def sample(self, index: int) -> dict:
        return {k: v[0] for k, v in self.batch(index, 1).items()}

    def element_spec(self) -> dict:
        from bhpe_tf.data.hand4whole.targets import element_spec

        spec = element_spec(self.target_config)
        spec["index"] = ((), np.int64)
        return spec


def _axis_angle_root(rng, *, turn: float = 1.0) -> np.ndarray:
    """Root rotation: upright for the y-down camera (pi about x), turned about the vertical axis
    by up to +-``turn`` radians (default about +-60 degrees) and tilted a little."""
    from scipy.spatial.transform import Rotation

    r = Rotation.from_euler("x", np.pi) * Rotation.from_euler("yxz", [rng.uniform(-turn, turn),
                                                                    rng.uniform(-0.15, 0.15),
                                                                    rng.uniform(-0.15, 0.15)])
    return r.as_rotvec().astype(np.float32)


def make_dataset(source, *, batch_size: int, start_sample: int = 0, count: int | None = None,
                 num_parallel_calls: int | None = None):
    """A ``tf.data.Dataset`` of batches ``source.batch(start_sample + b * batch_size, batch_size)``.

    ``count`` batches (unbounded when None). Deterministic: batch b always holds the same samples,
    so resuming at sample ``start_sample`` continues the exact stream.
    """
    import tensorflow as tf

    spec = source.element_spec()
    keys = sorted(spec)

    def produce(b):
        out = source.batch(int(start_sample) + int(b) * batch_size, batch_size)
        return [np.asarray(out[k], spec[k][1]) for k in keys]

    def load(b):
        outs = tf.numpy_function(produce, [b], [tf.as_dtype(spec[k][1]) for k in keys], stateful=False)
        return {k: tf.ensure_shape(t, (batch_size,) + tuple(spec[k][0])) for k, t in zip(keys, outs)}

    ds = tf.data.Dataset.range(count) if count is not None else tf.data.Dataset.range(2 ** 62)
    ds = ds.map(tf.autograph.experimental.do_not_convert(load),
                num_parallel_calls=num_parallel_calls or tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(2)
