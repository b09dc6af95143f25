"""3D joint and mesh errors. Inputs in metres, results in millimetres (``unit_scale=1000``).

References: MPJPE / PA-MPJPE as in SPIN / Hand4Whole ``rigid_align`` (similarity Procrustes:
scale, rotation, translation by SVD with the reflection fixed); MPVPE / PA-MPVPE as in
Hand4Whole ``data/EHF/EHF.py`` ``evaluate``: the whole mesh translated so the SMPL-X pelvis
(J_regressor row 0) matches, each hand so its wrist (rows 20 / 21) matches, the face so the neck
(row 12) matches; the PA variants Procrustes-align each vertex subset on its own, and the two
hands are averaged. The MANO / FLAME vertex subsets and regressors come with the licensed SMPL-X
downloads, so they are parameters (:class:`EHFSubsets`).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from bhpe_tf.errors import InvalidInputError, warn_ignored
from bhpe_tf.metrics.procrustes import similarity_procrustes


def _as_batch(x, name):
    a = np.asarray(x, np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"{name} must be (J, 3) or (N, J, 3), got {np.shape(x)}")
    return a


def _check_predictions(pred, name):
    """Non-finite predictions are a failed model, not missing data: one clear error naming the sample."""
    bad = ~np.all(np.isfinite(pred), axis=(1, 2))
    if bad.any():
        raise InvalidInputError(f"{name} contain NaN or inf in {int(bad.sum())} of {len(pred)} samples (first: sample "
                                f"{int(np.flatnonzero(bad)[0])}); the metric is undefined")


def _valid_mask(valid, shape, gt=None):
    """``valid`` (J,) or (N, J) -> (N, J) bool, or None. Ground-truth joints with NaN / inf
    coordinates are left out with an :class:`~bhpe_tf.errors.IgnoredDataWarning` (the SVD of a
    Procrustes alignment would not converge on them; a mean would be NaN)."""
    v = None if valid is None else np.asarray(valid) > 0
    if v is not None:
        v = np.broadcast_to(v.reshape((1, -1)) if v.ndim == 1 else v, shape[:2])
    if gt is not None:
        finite = np.all(np.isfinite(gt), axis=-1)
        bad = ~finite if v is None else (v & ~finite)
        if bad.any():
            warn_ignored(f"ignoring {int(bad.sum())} ground-truth joint(s) with NaN / inf coordinates (samples "
                         f"{', '.join(str(int(n)) for n in np.flatnonzero(bad.any(1))[:5])} ...)", stacklevel=4)
            v = finite if v is None else (v & finite)
    if v is not None and not v.any():
        raise InvalidInputError("no valid ground-truth joints")
    return v


def _mean_error(pred, gt, mask):
    err = np.linalg.norm(pred - gt, axis=-1)
    return float(err.mean() if mask is None else err[mask].mean())


def mpjpe(pred, gt, *, root: int | None = 0, valid=None, unit_scale: float = 1000.0) -> float:
    """Mean per-joint position error after expressing both skeletons relative to their ``root``
    joint (``root=None``: no alignment). ``valid`` (J,) or (N, J) masks joints."""
    p, g = _as_batch(pred, "pred"), _as_batch(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred {p.shape} and gt {g.shape} differ")
    _check_predictions(p, "predictions")
    if root is not None:
        if not np.all(np.isfinite(g[:, root])):
            bad = np.flatnonzero(~np.all(np.isfinite(g[:, root]), axis=-1))
            raise InvalidInputError(f"the root joint {root} of the ground truth is NaN / inf in {len(bad)} samples "
                                    f"(first: {int(bad[0])}): they cannot be root-aligned")
        p, g = p - p[:, root:root + 1], g - g[:, root:root + 1]
    return _mean_error(p, g, _valid_mask(valid, p.shape, g)) * unit_scale


def pa_mpjpe(pred, gt, *, valid=None, unit_scale: float = 1000.0) -> float:
    """MPJPE after similarity-Procrustes alignment of each prediction to its ground truth (the
    alignment uses the valid joints when ``valid`` is given)."""
    p, g = _as_batch(pred, "pred"), _as_batch(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred {p.shape} and gt {g.shape} differ")
    _check_predictions(p, "predictions")
    mask = _valid_mask(valid, p.shape, g)
    aligned = np.empty_like(p)
    for n in range(len(p)):
        v = slice(None) if mask is None else mask[n]
        if mask is not None and mask[n].sum() < 3:
            continue  # fewer than 3 valid joints: no rotation to align (left out by the mask)
        _, (s, rot, t) = similarity_procrustes(p[n][v], g[n][v])
        aligned[n] = s * p[n] @ rot.T + t
    if mask is not None:
        mask = mask & (mask.sum(axis=1, keepdims=True) >= 3)
        if not mask.any():
            raise InvalidInputError("no sample has the 3 valid ground-truth joints a Procrustes alignment needs")
    return _mean_error(aligned, g, mask) * unit_scale


@dataclasses.dataclass(frozen=True, kw_only=True)
class EHFSubsets:
    """What Hand4Whole's EHF protocol needs: the SMPL-X ``J_regressor`` (J, V) (rows: pelvis 0,
    neck 12, left wrist 20, right wrist 21), MANO hand vertex indices (778 each) and FLAME face
    vertex indices (5023) into the 10475 SMPL-X vertices; for the PA-MPJPE columns also the
    14-joint body regressor ``SMPLX_to_J14`` (14, V) (the hand joints come from ``J_regressor``
    and the fingertip vertices, :meth:`hand_regressor`)."""

    joint_regressor: np.ndarray
    lhand_vertices: np.ndarray
    rhand_vertices: np.ndarray
    face_vertices: np.ndarray
    j14_regressor: np.ndarray | None = None
    pelvis: int = 0
    neck: int = 12
    lwrist: int = 20
    rwrist: int = 21

    @classmethod
    def from_smplx_model(cls, model_path) -> "EHFSubsets":
        """From the user's SMPL-X downloads: the model's ``J_regressor`` and the files of
        :func:`bhpe_tf.body.model_file.load_evaluation_files` next to it."""
        from bhpe_tf.body.model_file import load_evaluation_files, load_smplx_model

        files = load_evaluation_files(model_path)
        return cls(joint_regressor=load_smplx_model(model_path).J_regressor, **files)

    def hand_regressor(self, side: str) -> np.ndarray:
        """Hand4Whole's ``make_hand_regressor`` (21, V): the wrist, then per finger (thumb, index,
        middle, ring, pinky) its three SMPL-X joints and its fingertip vertex."""
        from bhpe_tf.body.model_file import SMPLX_VERTEX_IDS

        jr = np.asarray(self.joint_regressor, np.float64)
        first = {"left": (20, {"thumb": 37, "index": 25, "middle": 28, "ring": 34, "pinky": 31}),
                 "right": (21, {"thumb": 52, "index": 40, "middle": 43, "ring": 49, "pinky": 46})}[side]
        rows = [jr[first[0]]]
        for finger, joint in first[1].items():
            rows.extend(jr[joint:joint + 3])
            tip = np.zeros(jr.shape[1])
            tip[SMPLX_VERTEX_IDS[side[0] + finger]] = 1.0
            rows.append(tip)
        return np.stack(rows)


#: The whole-body columns of the BinaryHPE paper's Table 1 (EHF, Hand4Whole's protocol), in order.
TABLE1_COLUMNS = ("MPVPE All", "MPVPE Hands", "MPVPE Face", "PA-MPVPE All", "PA-MPVPE Hands", "PA-MPVPE Face",
                  "PA-MPJPE Body", "PA-MPJPE Hands")


def wholebody_errors(pred_vertices, gt_vertices, *, subsets: EHFSubsets, unit_scale: float = 1000.0) -> dict:
    """Every :data:`TABLE1_COLUMNS` value (mm), Hand4Whole's ``EHF.evaluate``: MPVPE with the mesh
    at the pelvis, the hands at their wrists, the face at the neck; PA-MPVPE per subset; PA-MPJPE
    of the 14 body joints (``j14_regressor``; omitted without it) and of the 2 x 21 hand joints."""
    a = mpvpe(pred_vertices, gt_vertices, subsets=subsets, unit_scale=unit_scale)
    b = pa_mpvpe(pred_vertices, gt_vertices, subsets=subsets, unit_scale=unit_scale)
    out = {"MPVPE All": a["all"], "MPVPE Hands": a["hands"], "MPVPE Face": a["face"], "PA-MPVPE All": b["all"],
           "PA-MPVPE Hands": b["hands"], "PA-MPVPE Face": b["face"]}
    p, g = _as_batch(pred_vertices, "pred_vertices"), _as_batch(gt_vertices, "gt_vertices")
    if subsets.j14_regressor is not None:
        j14 = np.asarray(subsets.j14_regressor, np.float64)
        out["PA-MPJPE Body"] = pa_mpjpe(np.einsum("jv,nvc->njc", j14, p), np.einsum("jv,nvc->njc", j14, g),
                                        unit_scale=unit_scale)
    hands = [pa_mpjpe(np.einsum("jv,nvc->njc", reg, p), np.einsum("jv,nvc->njc", reg, g), unit_scale=unit_scale)
             for reg in (subsets.hand_regressor("left"), subsets.hand_regressor("right"))]
    out["PA-MPJPE Hands"] = 0.5 * (hands[0] + hands[1])
    return out


def pelvis_aligned_mpvpe(pred_vertices, gt_vertices, *, pelvis_regressor, unit_scale: float = 1000.0) -> np.ndarray:
    """Per-sample MPVPE (N,) with both meshes moved so their pelvis (``pelvis_regressor`` (V,),
    the SMPL-X ``J_regressor`` row 0) coincides: the "All" column of :func:`mpvpe`, without the
    hand / face subsets (what training validation reports)."""
    p, g = _as_batch(pred_vertices, "pred_vertices"), _as_batch(gt_vertices, "gt_vertices")
    reg = np.asarray(pelvis_regressor, np.float64)
    shift = (reg @ g - reg @ p)[:, None, :]
    return np.linalg.norm(p + shift - g, axis=-1).mean(-1) * unit_scale


def _vertex_error(p, g):
    return float(np.linalg.norm(p - g, axis=-1).mean())


def mpvpe(pred_vertices, gt_vertices, *, subsets: EHFSubsets | None = None, unit_scale: float = 1000.0) -> dict:
    """Mean per-vertex position error, Hand4Whole EHF protocol: ``{"all", "hands", "face"}`` (mm),
    averaged over samples. Without ``subsets`` only ``all`` is computed, aligned at the vertex mean."""
    p, g = _as_batch(pred_vertices, "pred_vertices"), _as_batch(gt_vertices, "gt_vertices")
    if p.shape != g.shape:
        raise ValueError(f"pred {p.shape} and gt {g.shape} differ")
    _check_predictions(p, "predicted vertices")
    _check_predictions(g, "ground-truth vertices")
    out = {"all": [], "hands": [], "face": []}
    for n in range(len(p)):
        if subsets is None:
            out["all"].append(_vertex_error(p[n] - p[n].mean(0) + g[n].mean(0), g[n]))
            continue
        jr = np.asarray(subsets.joint_regressor, np.float64)
        jp, jg = jr @ p[n], jr @ g[n]

        def at(idx, joint):
            return _vertex_error(p[n][idx] - jp[joint] + jg[joint], g[n][idx])

        out["all"].append(at(slice(None), subsets.pelvis))
        left = at(subsets.lhand_vertices, subsets.lwrist)
        right = at(subsets.rhand_vertices, subsets.rwrist)
        out["hands"].append(0.5 * (left + right))
        out["face"].append(at(subsets.face_vertices, subsets.neck))
    return {k: float(np.mean(v)) * unit_scale for k, v in out.items() if v}


def pa_mpvpe(pred_vertices, gt_vertices, *, subsets: EHFSubsets | None = None, unit_scale: float = 1000.0) -> dict:
    """Like :func:`mpvpe` with every subset similarity-Procrustes-aligned on its own
    (whole mesh, left hand, right hand, face; the two hands averaged)."""
    p, g = _as_batch(pred_vertices, "pred_vertices"), _as_batch(gt_vertices, "gt_vertices")
    if p.shape != g.shape:
        raise ValueError(f"pred {p.shape} and gt {g.shape} differ")
    _check_predictions(p, "predicted vertices")
    _check_predictions(g, "ground-truth vertices")
    out = {"all": [], "hands": [], "face": []}

    def pa(idx, n):
        return _vertex_error(similarity_procrustes(p[n][idx], g[n][idx])[0], g[n][idx])

    for n in range(len(p)):
        out["all"].append(pa(slice(None), n))
        if subsets is not None:
            out["hands"].append(0.5 * (pa(subsets.lhand_vertices, n) + pa(subsets.rhand_vertices, n)))
            out["face"].append(pa(subsets.face_vertices, n))
    return {k: float(np.mean(v)) * unit_scale for k, v in out.items() if v}
