"""MPII Human Pose readers (16 joints, MATLAB 1-based coordinates).

Accepted layouts:

* the mmpose / HRNet json (``[{image, joints (16x2), joints_vis (16), center (2), scale}]``,
  1-based): :func:`load_mpii_json` -> training / evaluation records (0-based, HRNet's conversion:
  joints - 1, ``center_y += 15 * scale``, ``scale *= 1.25``, center - 1, region ``200 * scale`` px);
* the evaluation layout of ``detections_our_format.mat`` (``pos_gt_src (16,2,N)``, ``jnt_missing
  (16,N)``, ``headboxes_src (2,2,N)``, ``dataset_joints``, optionally ``pos_pred_src``):
  :func:`load_mpii_eval_mat`, kept 1-based because the MPII evaluation works in MATLAB coordinates;
* the official release annotation ``mpii_human_pose_v1_u12_1.mat`` (``RELEASE.annolist(i)
  .image.name``, ``.annorect(r)`` with head box ``x1 y1 x2 y2``, ``scale``, ``objpos``,
  ``annopoints.point(j)`` ``x y id is_visible``; ``RELEASE.img_train``): :func:`load_mpii_release_mat`;
* prediction files: ``.mat`` with ``preds (N,16,2)`` (what HRNet / pytorch-pose save, already +1)
  or ``pos_pred_src (16,2,N)``; ``.npy`` / ``.json`` ``(N,16,2)`` (this project's 0-based output):
  :func:`load_mpii_predictions`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from bhpe_tf.data.records import DataError, RecordSet, SampleRecord, SkipCounter, read_json
from bhpe_tf.errors import warn_ignored

MPII_JOINTS = ("rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor", "neck", "head", "rwri",
               "relb", "rsho", "lsho", "lelb", "lwri")


def _person_record(*, name, joints, vis, center, s, image_dir, head, index, skips, path, rec):
    """HRNet's MPII conversion of one person (1-based joints / centre) -> record, or a counted skip."""
    if not (np.all(np.isfinite(joints)) and np.all(np.isfinite(center)) and np.isfinite(s)):
        skips.skip("NaN or inf coordinates", path=path, record=rec)
        return None
    if s <= 0:
        skips.skip("zero-area box", path=path, record=rec)
        return None
    kp = np.concatenate([joints - 1.0, (vis > 0)[:, None]], axis=1)
    center = np.array(center, np.float64)
    if center[0] != -1:  # HRNet: move the centre down and pad the MPII person scale
        center[1] += 15 * s
        s *= 1.25
    center = center - 1.0
    size = np.array([s * 200.0, s * 200.0], np.float32)
    return SampleRecord(
        image_path=str(image_dir / name), image_id=name, dataset="mpii", keypoints=kp, center=center, scale=size,
        bbox=np.r_[center - size / 2, size], head_box=None if head is None else np.asarray(head, np.float32) - 1.0,
        extras={"index": index})


def load_mpii_json(*, annotation_file, image_dir=None, head_boxes=None) -> RecordSet:
    """Read the mmpose/HRNet MPII json. ``head_boxes`` optionally maps an image name to its official
    head box ``[[x1, y1], [x2, y2]]`` (1-based), stored 0-based in ``record.head_box``."""
    path = Path(annotation_file)
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError("expected a JSON list of MPII people", path=path)
    image_dir = path.parent if image_dir is None else Path(image_dir)
    skips = SkipCounter(name="mpii people")
    records = []
    for i, a in enumerate(data):
        rec = f"#{i}"
        try:
            name = a["image"]
            joints = np.asarray(a["joints"], np.float64)
            vis = np.asarray(a["joints_vis"], np.float64).reshape(-1)
            center = np.asarray(a["center"], np.float64).reshape(2)
            s = float(a["scale"])
        except (KeyError, TypeError) as e:
            raise DataError(f"missing or malformed key {e}", path=path, record=rec) from None
        rec = f"#{i} ({name})"
        if joints.shape != (16, 2) or vis.shape != (16,):
            raise DataError(f"joints {joints.shape} / joints_vis {vis.shape}, expected (16, 2) / (16,)",
                            path=path, record=rec)
        head = None
        if head_boxes is not None and name in head_boxes:
            head = np.asarray(head_boxes[name], np.float32).reshape(2, 2)
        record = _person_record(name=name, joints=joints, vis=vis, center=center, s=s, image_dir=image_dir,
                                head=head, index=i, skips=skips, path=path, rec=rec)
        if record is not None:
            records.append(record)
    return RecordSet(records=records, skips=skips, source=path)


def _items(value):
    """A MATLAB struct array / cell array loaded with ``squeeze_me`` -> list (0 or 1 elements too)."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value.reshape(-1))
    return [value]


def _scalar(value, default=np.nan):
    arr = np.asarray(value).reshape(-1)
    if arr.size == 0:
        return default
    try:
        return float(arr[0])
    except (TypeError, ValueError):
        return default


def load_mpii_release_mat(path, *, image_dir=None, split: str = "train") -> RecordSet:
    """Read the official ``mpii_human_pose_v1_u12_1.mat``: every annotated person (rectangles with
    ``annopoints``) of the ``train`` / ``test`` images (``RELEASE.img_train``) or ``all``.

    Test-set rectangles have no joints; they and rectangles without a scale are counted skips.
    Head boxes are kept (0-based) in ``record.head_box`` for PCKh.
    """
    from scipy.io import loadmat

    path = Path(path)
    try:
        m = loadmat(str(path), struct_as_record=False, squeeze_me=True)
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except Exception as e:
        raise DataError(f"cannot read .mat file ({type(e).__name__}: {e})", path=path) from None
    if "RELEASE" not in m or not hasattr(m["RELEASE"], "annolist"):
        raise DataError("no RELEASE.annolist struct (not the official MPII annotation)", path=path)
    release = m["RELEASE"]
    annolist = _items(release.annolist)
    train = np.asarray(getattr(release, "img_train", np.ones(len(annolist)))).reshape(-1)
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")
    image_dir = path.parent / "images" if image_dir is None else Path(image_dir)
    skips = SkipCounter(name="mpii people")
    records = []
    for i, anno in enumerate(annolist):
        if split != "all" and bool(train[i]) != (split == "train"):
            continue
        try:
            name = str(anno.image.name)
        except AttributeError:
            raise DataError("annolist entry without image.name", path=path, record=f"annolist({i + 1})") from None
        for r, rect in enumerate(_items(getattr(anno, "annorect", None))):
            rec = f"annolist({i + 1}).annorect({r + 1}) ({name})"
            points = getattr(getattr(rect, "annopoints", None), "point", None)
            if points is None or not _items(points):
                skips.skip("no joints", path=path, record=rec)
                continue
            joints = np.zeros((16, 2))
            vis = np.zeros(16)
            for p in _items(points):
                j = int(_scalar(p.id, -1))
                if not 0 <= j < 16:
                    raise DataError(f"joint id {j} outside 0..15", path=path, record=rec)
                joints[j] = [_scalar(p.x), _scalar(p.y)]
                # is_visible is 0 / 1 / '0' / '1' / empty in the release; an annotated joint counts
                # as present for training, as in HRNet's conversion (joints_vis = annotated).
                vis[j] = 1.0
            objpos = getattr(rect, "objpos", None)
            center = [_scalar(getattr(objpos, "x", np.nan)), _scalar(getattr(objpos, "y", np.nan))]
            head = [[_scalar(getattr(rect, k, np.nan)) for k in ("x1", "y1")],
                    [_scalar(getattr(rect, k, np.nan)) for k in ("x2", "y2")]]
            record = _person_record(name=name, joints=joints, vis=vis, center=center,
                                    s=_scalar(getattr(rect, "scale", np.nan)), image_dir=image_dir,
                                    head=head, index=i, skips=skips, path=path, rec=rec)
            if record is not None:
                records.append(record)
    return RecordSet(records=records, skips=skips, source=path)


@dataclasses.dataclass(kw_only=True)
class MPIIEvalSet:
    """The MPII validation ground truth in evaluation layout, sample-major and 1-based:
    ``gt`` (N, 16, 2), ``missing`` (N, 16) bool, ``headboxes`` (N, 2, 2) ``[[x1, y1], [x2, y2]]``,
    optional ``predictions`` (N, 16, 2), ``joint_names`` (16,)."""

    gt: np.ndarray
    missing: np.ndarray
    headboxes: np.ndarray
    joint_names: tuple
    predictions: np.ndarray | None = None


def _loadmat(path):
    from scipy.io import loadmat

    try:
        return loadmat(str(path))
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except Exception as e:  # scipy raises ValueError / MatReadError / TypeError on corrupt files
        raise DataError(f"cannot read .mat file ({type(e).__name__}: {e})", path=path) from None


def load_mpii_eval_mat(path) -> MPIIEvalSet:
    """Read the ``detections_our_format.mat`` layout (HRNet / pytorch-pose evaluation data)."""
    m = _loadmat(path)
    for key in ("pos_gt_src", "jnt_missing", "headboxes_src"):
        if key not in m:
            raise DataError(f"missing variable {key!r}", path=path)
    gt = np.transpose(np.asarray(m["pos_gt_src"], np.float64), (2, 0, 1))
    missing = np.asarray(m["jnt_missing"]).T.astype(bool)
    heads = np.transpose(np.asarray(m["headboxes_src"], np.float64), (2, 0, 1))
    names = MPII_JOINTS
    if "dataset_joints" in m:
        names = tuple(str(np.asarray(x).reshape(-1)[0]) for x in np.asarray(m["dataset_joints"]).reshape(-1))
    n = gt.shape[0]
    if gt.shape[1:] != (16, 2) or missing.shape != (n, 16) or heads.shape != (n, 2, 2):
        raise DataError(f"inconsistent shapes pos_gt_src {m['pos_gt_src'].shape}, jnt_missing "
                        f"{m['jnt_missing'].shape}, headboxes_src {m['headboxes_src'].shape}", path=path)
    # Ground truth that cannot be scored is ignored like an unannotated joint, and said so (a NaN joint
    # scored as a miss halves a column; a NaN head box would make every joint of the person a miss).
    bad_joint = ~missing & ~np.all(np.isfinite(gt), axis=-1)
    head_size = np.linalg.norm(heads[:, 1] - heads[:, 0], axis=-1)
    bad_head = ~(np.isfinite(head_size) & (head_size > 0))
    if bad_joint.any() or bad_head.any():
        people = np.flatnonzero(bad_joint.any(axis=1) | bad_head)
        warn_ignored(f"{path}: ignoring {int(bad_joint.sum())} ground-truth joint(s) with NaN / inf coordinates and "
                     f"the joints of {int(bad_head.sum())} person(s) without a valid head box (people "
                     f"{', '.join(str(int(p)) for p in people[:5])}{' ...' if len(people) > 5 else ''}, 0-based)")
        missing = missing | bad_joint | bad_head[:, None]
    preds = None
    if "pos_pred_src" in m:
        preds = np.transpose(np.asarray(m["pos_pred_src"], np.float64), (2, 0, 1))
    return MPIIEvalSet(gt=gt, missing=missing, headboxes=heads, joint_names=names, predictions=preds)


def load_mpii_predictions(path, *, origin: str = "auto") -> np.ndarray:
    """Predictions (N, 16, 2) in **1-based** MATLAB coordinates for :func:`bhpe_tf.metrics.pckh`.

    ``origin``: ``"1"`` the file is already 1-based, ``"0"`` it is 0-based (1 is added, as HRNet's
    ``preds + 1.0``), ``"auto"``: ``.mat`` files are 1-based, ``.npy`` / ``.json`` 0-based.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        m = _loadmat(path)
        if "preds" in m:
            preds = np.asarray(m["preds"], np.float64)
        elif "pos_pred_src" in m:
            preds = np.transpose(np.asarray(m["pos_pred_src"], np.float64), (2, 0, 1))
        else:
            raise DataError("no 'preds' or 'pos_pred_src' variable", path=path)
        default_origin = "1"
    elif suffix == ".npy":
        try:
            preds = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read .npy ({e})", path=path) from None
        default_origin = "0"
    elif suffix == ".json":
        data = read_json(path)
        if isinstance(data, dict):
            if "preds" not in data:
                raise DataError("missing key 'preds'", path=path)
            data = data["preds"]
        try:
            preds = np.asarray(data, np.float64)
        except (TypeError, ValueError):
            raise DataError("'preds' is not a numeric (N, 16, 2) array", path=path) from None
        default_origin = "0"
    else:
        raise DataError("unsupported prediction file type (use .mat, .npy or .json)", path=path)
    preds = np.asarray(preds, np.float64)
    if preds.ndim != 3 or preds.shape[1] != 16 or preds.shape[2] < 2:
        raise DataError(f"predictions have shape {preds.shape}, expected (N, 16, 2)", path=path)
    origin = default_origin if origin == "auto" else origin
    if origin not in ("0", "1"):
        raise ValueError(f"origin must be 'auto', '0' or '1', not {origin!r}")
    preds = preds[:, :, :2]
    return preds + 1.0 if origin == "0" else preds
