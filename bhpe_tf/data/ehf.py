"""EHF (SMPL-X paper's evaluation set): 100 frames ``NN_img.jpg`` + ``NN_align.ply`` (+ ``NN_2Djnt.json``).

Layout accepted: one folder holding, for ``NN`` in ``01 .. 100``, ``NN_img.jpg`` (or ``.png``), the
SMPL-X alignment mesh ``NN_align.ply`` (10475 vertices, metres, world frame) and optionally the
OpenPose keypoints ``NN_2Djnt.json``. The camera is fixed (EHF readme / Hand4Whole ``EHF.py``):
``X_cam = R X + t`` with the Rodrigues vector and translation below, focal 1498.22426237,
principal point (790.263706, 578.90334). Records carry the mesh in camera coordinates in
``record.vertices``; the person box is the box of the projected mesh (an oracle box, as the
mesh-recovery papers evaluate EHF with a given crop) unless OpenPose joints are present.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from bhpe_tf.data.records import Camera, DataError, RecordSet, SampleRecord, SkipCounter, read_json
from bhpe_tf.data.transforms import box_to_center_scale

EHF_ROTVEC = np.array([-2.98747896, 0.01172457, -0.05704687])
EHF_TRANSLATION = np.array([-0.03609917, 0.43416458, 2.37101226])
EHF_FOCAL = (1498.22426237, 1498.22426237)
EHF_PRINCIPAL_POINT = (790.263706, 578.90334)
EHF_NUM_FRAMES = 100

_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def ehf_camera() -> Camera:
    """The EHF camera as a :class:`Camera` (its ``T`` is the camera centre ``-R^T t``)."""
    rot, _ = cv2.Rodrigues(EHF_ROTVEC.reshape(3, 1))
    return Camera(f=EHF_FOCAL, c=EHF_PRINCIPAL_POINT, R=rot, T=-rot.T @ EHF_TRANSLATION, width=1600,
                  height=1200, name="EHF")


def read_ply_vertices(path) -> np.ndarray:
    """Vertex ``x, y, z`` (V, 3) float64 from an ASCII or binary PLY whose first element is
    ``vertex`` with scalar properties (other elements, e.g. faces, are not read)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    end = raw.find(b"end_header")
    if not raw.startswith(b"ply") or end < 0:
        raise DataError("not a PLY file (no 'ply' magic or no 'end_header')", path=path)
    body_start = raw.index(b"\n", end) + 1
    header = raw[:end].decode("ascii", "replace").splitlines()
    fmt, count, props, in_vertex, seen_vertex = None, 0, [], False, False
    for line in header:
        tok = line.split()
        if not tok:
            continue
        if tok[0] == "format":
            fmt = tok[1]
        elif tok[0] == "element":
            if seen_vertex:
                in_vertex = False
                break
            if tok[1] != "vertex":
                raise DataError("the first PLY element must be 'vertex'", path=path)
            count, in_vertex, seen_vertex = int(tok[2]), True, True
        elif tok[0] == "property" and in_vertex:
            if tok[1] == "list":
                raise DataError("list properties on vertices are not supported", path=path)
            if tok[1] not in _PLY_TYPES:
                raise DataError(f"unknown PLY property type {tok[1]!r}", path=path)
            props.append((tok[2], _PLY_TYPES[tok[1]]))
    names = [p[0] for p in props]
    if not seen_vertex or not {"x", "y", "z"} <= set(names):
        raise DataError("PLY has no vertex x/y/z properties", path=path)
    cols = [names.index(c) for c in "xyz"]
    if fmt == "ascii":
        lines = raw[body_start:].decode("ascii", "replace").splitlines()
        if len(lines) < count:
            raise DataError(f"truncated PLY: {len(lines)} lines for {count} vertices", path=path)
        try:
            table = np.array([lines[i].split()[: len(props)] for i in range(count)], np.float64)
        except ValueError:
            raise DataError("malformed ASCII vertex data", path=path) from None
        return table[:, cols]
    if fmt in ("binary_little_endian", "binary_big_endian"):
        order = "<" if fmt == "binary_little_endian" else ">"
        dtype = np.dtype([(n, order + t) for n, t in props])
        if len(raw) - body_start < dtype.itemsize * count:
            raise DataError(f"truncated PLY: fewer bytes than {count} vertices", path=path)
        table = np.frombuffer(raw, dtype=dtype, count=count, offset=body_start)
        return np.stack([table[c].astype(np.float64) for c in "xyz"], axis=1)
    raise DataError(f"unknown PLY format {fmt!r}", path=path)


def _openpose_keypoints(path):
    data = read_json(path)
    try:
        people = data["people"]
        flat = np.asarray(people[0]["pose_keypoints_2d"], np.float64) if people else np.zeros(0)
    except (KeyError, TypeError, IndexError):
        raise DataError("missing 'people'/'pose_keypoints_2d'", path=path) from None
    return flat.reshape(-1, 3) if flat.size else None


def load_ehf(*, root, expected_frames: int | None = EHF_NUM_FRAMES, padding: float = 1.25,
             aspect_ratio: float = 0.75) -> RecordSet:
    """Read EHF frames. Frames with a missing image or mesh are counted skips; when
    ``expected_frames`` is set, a different number of usable frames raises :class:`DataError`."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("EHF folder not found", path=root)
    camera = ehf_camera()
    skips = SkipCounter(name="EHF frames")
    stems = sorted({p.name.split("_")[0] for p in root.glob("*_align.ply")} |
                   {p.name.split("_")[0] for p in root.glob("*_img.*")})
    records = []
    for stem in stems:
        ply = root / f"{stem}_align.ply"
        images = sorted(root.glob(f"{stem}_img.*"))
        if not ply.exists():
            skips.skip("no _align.ply", path=root, record=stem)
            continue
        if not images:
            skips.skip("no _img image", path=root, record=stem)
            continue
        verts_world = read_ply_vertices(ply)
        if not np.all(np.isfinite(verts_world)):
            skips.skip("NaN or inf vertices", path=ply, record=stem)
            continue
        verts = (verts_world @ camera.R.T + EHF_TRANSLATION).astype(np.float32)
        joints_file = root / f"{stem}_2Djnt.json"
        kp = _openpose_keypoints(joints_file) if joints_file.exists() else None
        if kp is not None and np.sum(kp[:, 2] > 0) >= 2:
            pts = kp[kp[:, 2] > 0, :2]
        else:
            pts = camera.project(verts)
        x1, y1 = pts.min(axis=0)
        x2, y2 = pts.max(axis=0)
        box = np.array([x1, y1, x2 - x1, y2 - y1], np.float32)
        if box[2] <= 0 or box[3] <= 0:
            skips.skip("zero-area box", path=root, record=stem)
            continue
        center, scale = box_to_center_scale(box, aspect_ratio=aspect_ratio, padding=padding)
        keypoints = np.zeros((0, 3), np.float32) if kp is None else np.c_[kp[:, :2], kp[:, 2] > 0]
        records.append(SampleRecord(
            image_path=str(images[0]), image_id=stem, dataset="ehf", keypoints=keypoints, center=center,
            scale=scale, bbox=box, camera=camera, vertices=verts, image_size=(1600, 1200)))
    if expected_frames is not None and len(records) != expected_frames:
        raise DataError(f"found {len(records)} usable EHF frames, expected {expected_frames} "
                        f"({skips.report()})", path=root)
    return RecordSet(records=records, skips=skips, source=root)
