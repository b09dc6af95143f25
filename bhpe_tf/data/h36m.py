"""Human3.6M reader: mmpose's ``*_body3d.npz`` layout + ``cameras.pkl``, optional NeuralAnnot SMPL-X.

Accepted layouts:

* npz with ``imgname (N,)`` (``S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg``),
  ``center (N,2)``, ``scale (N,)`` (box side / 200), ``part (N,17,3)`` 2D joints + visibility,
  ``S (N,17,4)`` 3D joints in **camera coordinates, metres** + validity (mmpose
  ``h36m/*.npz``, the 17-joint H36M order of ``keypoints.json``);
* ``cameras.pkl``: dict keyed ``(subject, camera_id)`` with ``R (3,3)``, ``T (3,1)`` (metres,
  camera centre), ``f (2,1)``, ``c (2,1)``, ``k (3,1)``, ``p (2,1)``, ``w``, ``h``;
* NeuralAnnot SMPL-X fits in Hand4Whole's layout (``Human36M_subject{S}_SMPLX_NeuralAnnot.json``:
  ``{action_idx: {subaction_idx: {frame_idx: {root_pose, body_pose, shape, trans[, jaw_pose,
  lhand_pose, rhand_pose, expr]}}}}``): :func:`load_neuralannot_smplx` + :func:`smplx_from_neuralannot`.
  The npz image names do not carry Hand4Whole's action / sub-action indices unambiguously, so the
  caller passes ``smplx_params`` keyed by ``imgname`` to :func:`load_h36m_npz`.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np

from bhpe_tf.data.records import Camera, DataError, RecordSet, SampleRecord, SkipCounter, SMPLXParams, read_json

_NAME_RE = re.compile(r"(S\d+)_.*\.(\d+)_\d+\.\w+$")


def load_h36m_cameras(path) -> dict:
    """``cameras.pkl`` -> ``{(subject, camera_id): Camera}``."""
    try:
        with open(path, "rb") as f:
            raw = pickle.load(f)
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except Exception as e:  # truncated or not a pickle
        raise DataError(f"cannot unpickle cameras ({type(e).__name__}: {e})", path=path) from None
    cams = {}
    for key, c in raw.items():
        try:
            cams[tuple(key)] = Camera(R=c["R"], T=c["T"], f=c["f"], c=c["c"], k=c.get("k"), p=c.get("p"),
                                      width=int(np.asarray(c.get("w", 0))), height=int(np.asarray(c.get("h", 0))),
                                      name=str(np.asarray(c.get("name", "")).reshape(-1)[0]))
        except (KeyError, ValueError, TypeError) as e:
            raise DataError(f"malformed camera ({e})", path=path, record=key) from None
    return cams


def parse_imgname(imgname: str):
    """``.../S1_Directions_1.54138969_000001.jpg`` -> ``("S1", "54138969")``."""
    m = _NAME_RE.search(str(imgname))
    if m is None:
        raise ValueError(f"cannot parse subject and camera from {imgname!r}")
    return m.group(1), m.group(2)


def load_h36m_npz(*, npz_file, image_dir=None, cameras_file=None, smplx_params=None) -> RecordSet:
    """Read the mmpose body3d npz into records with 2D keypoints, camera-space 3D joints (metres),
    the camera of each frame (when ``cameras_file`` is given) and optional SMPL-X params."""
    path = Path(npz_file)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except Exception as e:
        raise DataError(f"cannot read npz ({type(e).__name__}: {e})", path=path) from None
    for key in ("imgname", "center", "scale", "part"):
        if key not in data.files:
            raise DataError(f"missing array {key!r}", path=path)
    image_dir = path.parent if image_dir is None else Path(image_dir)
    cameras = load_h36m_cameras(cameras_file) if cameras_file is not None else None
    names = data["imgname"]
    centers, scales, parts = data["center"], data["scale"], data["part"]
    joints3d = data["S"] if "S" in data.files else None
    skips = SkipCounter(name="h36m frames")
    records = []
    for i, name in enumerate(names):
        rec = f"#{i} ({name})"
        kp = np.asarray(parts[i], np.float64)
        if kp.shape != (17, 3):
            raise DataError(f"part has shape {kp.shape}, expected (17, 3)", path=path, record=rec)
        center = np.asarray(centers[i], np.float64)
        side = float(np.asarray(scales[i]).reshape(-1)[0]) * 200.0
        arrays = [kp, center, [side]] + ([joints3d[i]] if joints3d is not None else [])
        if not all(np.all(np.isfinite(a)) for a in arrays):
            skips.skip("NaN or inf coordinates", path=path, record=rec)
            continue
        if side <= 0:
            skips.skip("zero-area box", path=path, record=rec)
            continue
        camera = None
        if cameras is not None:
            try:
                camera = cameras[parse_imgname(name)]
            except (KeyError, ValueError) as e:
                raise DataError(f"no camera for this frame ({e})", path=path, record=rec) from None
        kp[:, 2] = kp[:, 2] > 0
        size = np.array([side, side], np.float32)
        records.append(SampleRecord(
            image_path=str(image_dir / str(name)), image_id=str(name), dataset="h36m", keypoints=kp,
            center=center, scale=size, bbox=np.r_[center - size / 2, size],
            joints_3d=None if joints3d is None else np.asarray(joints3d[i][:, :3], np.float32),
            joints_3d_valid=None if joints3d is None else np.asarray(joints3d[i][:, 3] > 0, np.float32),
            camera=camera, smplx=None if smplx_params is None else smplx_params.get(str(name)),
            image_size=None if camera is None else (camera.width, camera.height)))
    return RecordSet(records=records, skips=skips, source=path)


def load_neuralannot_smplx(path) -> dict:
    """Read a NeuralAnnot SMPL-X json (nested dict, keys are strings)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError("expected a JSON object keyed by action / subaction / frame", path=path)
    return data


def smplx_from_neuralannot(entry: dict, *, path=None, record=None) -> SMPLXParams:
    """One NeuralAnnot entry -> :class:`SMPLXParams`; parts it lacks (hands, jaw, expression on
    H36M) get validity 0, which is how Hand4Whole masks their losses.

    As Hand4Whole's ``process_human_model_output``: a hand counts only with its pose *and* a true
    ``lhand_valid`` / ``rhand_valid`` flag (COCO fits carry the flags; a fit without the flag keeps
    the pose), the face (jaw and expression together) only with both and ``face_valid``."""
    if not isinstance(entry, dict) or "root_pose" not in entry or "body_pose" not in entry:
        raise DataError("NeuralAnnot entry needs 'root_pose' and 'body_pose'", path=path, record=record)

    def part(key, flag):
        return entry.get(key) if entry.get(flag, True) else None

    face = all(k in entry for k in ("jaw_pose", "expr")) and entry.get("face_valid", True)
    try:
        return SMPLXParams.from_parts(
            root_pose=entry["root_pose"], body_pose=entry["body_pose"], jaw_pose=entry["jaw_pose"] if face else None,
            lhand_pose=part("lhand_pose", "lhand_valid"), rhand_pose=part("rhand_pose", "rhand_valid"),
            betas=entry.get("shape"), expression=entry["expr"] if face else None, transl=entry.get("trans"))
    except ValueError as e:
        raise DataError(str(e), path=path, record=record) from None
