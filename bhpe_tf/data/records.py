"""The common sample record every dataset reader produces, plus the error and skip bookkeeping.

Conventions (all readers convert to these, so transforms never need to know the source):

* 2D coordinates are **0-based pixel coordinates** of the full image (MPII's 1-based MATLAB
  coordinates are shifted by -1 on reading, like HRNet's ``mpii.py``).
* ``keypoints`` is ``(K, 3)`` float32: ``x, y, visibility`` with visibility in ``{0, 1}``
  (COCO's 1 "labelled but occluded" and 2 "visible" both become 1, as in HRNet).
* ``bbox`` is ``x, y, w, h`` in pixels; ``center`` / ``scale`` describe the padded crop region in
  **pixels** (``scale = (w, h)`` of the region, i.e. HRNet's ``scale * 200``); see
  :func:`bhpe_tf.data.transforms.box_to_center_scale`.
* 3D joints are in camera coordinates, in metres.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter
from typing import Any

import numpy as np

from bhpe_tf.errors import InvalidInputError

_log = logging.getLogger(__name__)


class DataError(InvalidInputError):
    """A dataset file or record that cannot be used; the message names the file and the record.

    A :class:`bhpe_tf.errors.UserError` (so the CLIs print it as one line) and a ``ValueError``.
    """

    def __init__(self, message: str, *, path: Any = None, record: Any = None):
        self.path = None if path is None else str(path)
        self.record = record
        where = []
        if self.path is not None:
            where.append(self.path)
        if record is not None:
            where.append(f"record {record}")
        super().__init__(": ".join(where + [message]) if where else message)


class SkipCounter:
    """Counts records dropped on purpose, by reason, so that no drop is silent.

    Readers and the ``tf.data`` pipeline call :meth:`skip`; the first few skips of each reason are
    logged with the file and record, and :meth:`report` gives the totals at the end. Thread-safe
    because the pipeline calls it from ``tf.data``'s parallel map threads.
    """

    def __init__(self, *, name: str = "records", log_first: int = 5):
        self.name = name
        self.log_first = log_first
        self.counts: Counter = Counter()
        self.examples: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def skip(self, reason: str, *, path: Any = None, record: Any = None) -> None:
        where = " ".join(x for x in (str(path) if path is not None else "",
                                     f"record {record}" if record is not None else "") if x)
        with self._lock:
            self.counts[reason] += 1
            n = self.counts[reason]
            self.examples.setdefault(reason, [])
            if len(self.examples[reason]) < self.log_first:
                self.examples[reason].append(where)
        if n <= self.log_first:
            _log.warning("skipping %s (%s): %s", self.name, reason, where)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def report(self) -> str:
        if not self.counts:
            return f"{self.name}: nothing skipped"
        parts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.counts.items()))
        return f"{self.name}: skipped {self.total} ({parts})"

    def __repr__(self) -> str:  # pragma: no cover - convenience
        return f"SkipCounter({self.report()!r})"


@dataclasses.dataclass(kw_only=True)
class Camera:
    """Pinhole camera with Human3.6M's distortion model (``cameras.pkl`` fields R, T, f, c, k, p).

    ``R`` (3, 3) and ``T`` (3,) map world to camera as ``X_cam = R @ (X_world - T)`` (the H36M
    convention, T being the camera centre in world coordinates); units follow the caller.
    """

    f: np.ndarray
    c: np.ndarray
    R: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))
    T: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))
    k: np.ndarray | None = None
    p: np.ndarray | None = None
    width: int | None = None
    height: int | None = None
    name: str = ""

    def __post_init__(self):
        self.f = np.asarray(self.f, np.float64).reshape(2)
        self.c = np.asarray(self.c, np.float64).reshape(2)
        self.R = np.asarray(self.R, np.float64).reshape(3, 3)
        self.T = np.asarray(self.T, np.float64).reshape(3)
        if self.k is not None:
            self.k = np.asarray(self.k, np.float64).reshape(3)
        if self.p is not None:
            self.p = np.asarray(self.p, np.float64).reshape(2)

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, np.float64)
        return (points - self.T) @ self.R.T

    def project(self, points_cam: np.ndarray, *, distort: bool = False) -> np.ndarray:
        """Project camera-coordinate points (..., 3) to pixels (..., 2).

        With ``distort=True`` applies the radial (k) and tangential (p) model of the Human3.6M
        ``ProjectPointRadial`` MATLAB code; the 2D annotations of H36M are undistorted projections.
        """
        pts = np.asarray(points_cam, np.float64)
        xy = pts[..., :2] / pts[..., 2:3]
        if distort and self.k is not None and self.p is not None:
            r2 = np.sum(xy ** 2, axis=-1, keepdims=True)
            radial = 1 + self.k[0] * r2 + self.k[1] * r2 ** 2 + self.k[2] * r2 ** 3
            tan = self.p[0] * xy[..., 1:2] + self.p[1] * xy[..., 0:1]
            xy = xy * (radial + tan) + np.flip(self.p, 0) * r2
        return xy * self.f + self.c


#: SMPL-X pose layout (55 joints of ``smplx.joint_names.JOINT_NAMES``): root, 21 body, jaw,
#: left eye, right eye, 15 left hand, 15 right hand.
SMPLX_POSE_SLICES = {
    "root_pose": slice(0, 1), "body_pose": slice(1, 22), "jaw_pose": slice(22, 23),
    "leye_pose": slice(23, 24), "reye_pose": slice(24, 25), "lhand_pose": slice(25, 40),
    "rhand_pose": slice(40, 55),
}


@dataclasses.dataclass(kw_only=True)
class SMPLXParams:
    """SMPL-X parameters of one person with validity masks (Hand4Whole's pseudo-GT conventions).

    ``pose`` is the full (55, 3) axis-angle pose in the ``smplx`` joint order; ``pose_valid`` (55,)
    is 1 where the rotation is supervised (NeuralAnnot fits of H36M, for example, have no hand or
    face parameters: those joints are 0). ``betas`` (10,), ``expression`` (10,), ``transl`` (3,).
    """

    pose: np.ndarray
    betas: np.ndarray
    expression: np.ndarray
    transl: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3, np.float32))
    pose_valid: np.ndarray | None = None
    betas_valid: float = 1.0
    expression_valid: float = 1.0
    gender: str = "neutral"

    def __post_init__(self):
        self.pose = np.asarray(self.pose, np.float32).reshape(55, 3)
        self.betas = np.asarray(self.betas, np.float32).reshape(-1)
        self.expression = np.asarray(self.expression, np.float32).reshape(-1)
        self.transl = np.asarray(self.transl, np.float32).reshape(3)
        if self.pose_valid is None:
            self.pose_valid = np.ones(55, np.float32)
        self.pose_valid = np.asarray(self.pose_valid, np.float32).reshape(55)

    @classmethod
    def from_parts(cls, *, betas=None, expression=None, transl=None, gender: str = "neutral",
                   num_betas: int = 10, num_expression: int = 10, **parts) -> "SMPLXParams":
        """Build from named parts (``root_pose``, ``body_pose``, ``jaw_pose``, ``leye_pose``,
        ``reye_pose``, ``lhand_pose``, ``rhand_pose``); a missing part is zero with mask 0."""
        unknown = set(parts) - set(SMPLX_POSE_SLICES)
        if unknown:
            raise KeyError(f"unknown SMPL-X pose parts {sorted(unknown)}")
        pose = np.zeros((55, 3), np.float32)
        valid = np.zeros(55, np.float32)
        for key, sl in SMPLX_POSE_SLICES.items():
            value = parts.get(key)
            if value is None:
                continue
            n = sl.stop - sl.start
            value = np.asarray(value, np.float32).reshape(-1)
            if value.size != 3 * n:
                raise ValueError(f"{key} has {value.size} values, expected {3 * n}")
            pose[sl] = value.reshape(n, 3)
            valid[sl] = 1.0
        b = np.zeros(num_betas, np.float32)
        if betas is not None:
            betas = np.asarray(betas, np.float32).reshape(-1)[:num_betas]
            b[: betas.size] = betas
        e = np.zeros(num_expression, np.float32)
        if expression is not None:
            expression = np.asarray(expression, np.float32).reshape(-1)[:num_expression]
            e[: expression.size] = expression
        return cls(pose=pose, pose_valid=valid, betas=b, expression=e,
                   transl=np.zeros(3) if transl is None else transl,
                   betas_valid=float(betas is not None), expression_valid=float(expression is not None),
                   gender=gender)


@dataclasses.dataclass(kw_only=True)
class SampleRecord:
    """One person in one image, in the conventions of this module's docstring."""

    image_path: str
    image_id: Any
    dataset: str
    keypoints: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    bbox: np.ndarray | None = None
    bbox_score: float = 1.0
    ann_id: Any = None
    image_size: tuple[int, int] | None = None  # (width, height) when known
    joints_3d: np.ndarray | None = None  # (J, 3) camera coordinates, metres
    joints_3d_valid: np.ndarray | None = None  # (J,)
    camera: Camera | None = None
    smplx: SMPLXParams | None = None
    vertices: np.ndarray | None = None  # (V, 3) ground-truth mesh (EHF), metres
    # COCO-WholeBody part boxes (x, y, w, h) and validity flags.
    face_box: np.ndarray | None = None
    lhand_box: np.ndarray | None = None
    rhand_box: np.ndarray | None = None
    face_valid: float = 0.0
    lhand_valid: float = 0.0
    rhand_valid: float = 0.0
    head_box: np.ndarray | None = None  # MPII head box [[x1, y1], [x2, y2]] (0-based)
    extras: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.keypoints = np.asarray(self.keypoints, np.float32).reshape(-1, 3)
        self.center = np.asarray(self.center, np.float32).reshape(2)
        self.scale = np.asarray(self.scale, np.float32).reshape(2)
        if self.bbox is not None:
            self.bbox = np.asarray(self.bbox, np.float32).reshape(4)
        for name in ("face_box", "lhand_box", "rhand_box"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, np.asarray(value, np.float32).reshape(4))

    @property
    def num_keypoints(self) -> int:
        return int(self.keypoints.shape[0])


def read_json(path) -> Any:
    """Load a JSON file, turning a missing, truncated or invalid file into a :class:`DataError`."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON ({e.msg} at line {e.lineno}, column {e.colno})", path=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read file ({e})", path=path) from None


def read_image(path, *, record: Any = None, rgb: bool = True) -> np.ndarray:
    """Read an image as RGB (or, with ``rgb=False``, OpenCV's BGR) uint8 (H, W, 3).

    The package's one image reader, :func:`bhpe_tf.images.read_image` (a missing, empty, corrupt or
    truncated file raises :class:`~bhpe_tf.images.ImageReadError`, a :class:`DataError`).
    """
    from bhpe_tf.images import read_image as _read

    return _read(path, record=record, rgb=rgb)


class RecordSet:
    """The records a reader produced plus the :class:`SkipCounter` of what it left out."""

    def __init__(self, *, records: list, skips: SkipCounter, source: Any = None):
        self.records = list(records)
        self.skips = skips
        self.source = None if source is None else str(source)
        if skips.total:
            _log.warning("%s", skips.report())

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, index):
        return self.records[index]

    def __repr__(self) -> str:  # pragma: no cover - convenience
        return f"RecordSet({len(self)} records from {self.source}; {self.skips.report()})"
