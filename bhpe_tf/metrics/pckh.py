"""MPII PCKh, as the MPII evaluation computes it.

References: the official MATLAB toolkit (``evaluatePCKh.m``: ``getDistPCKh``, ``computePCK``,
``genTablePCK``; head size ``0.6 * norm([x2 y2] - [x1 y1])``, ``dist <= threshold``, missing GT
ignored) and its Python port in HRNet / pytorch-pose (``mpii.evaluate`` on
``detections_our_format.mat``: ``jnt_missing`` ignored, Mean over the 14 joints without pelvis
and thorax, weighted by joint counts).

The two report the same overall number: the MATLAB "Total" pools all (joint, person) pairs of its
14 joints, which equals the count-weighted mean of the per-joint PCKh. They differ in the "Head"
column: HRNet shows head top only, MATLAB averages head top and upper neck. Both are given here,
plus the unweighted mean of the 14 per-joint values. ``Mean@0.1`` is at exactly 0.1 (mmpose);
HRNet's code reads the 0.11 row of its threshold range.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from bhpe_tf.data.mpii import MPII_JOINTS
from bhpe_tf.errors import warn_ignored
_PAIRS = (("Shoulder", ("lsho", "rsho")), ("Elbow", ("lelb", "relb")), ("Wrist", ("lwri", "rwri")),
          ("Hip", ("lhip", "rhip")), ("Knee", ("lkne", "rkne")), ("Ankle", ("lank", "rank")))


@dataclasses.dataclass(kw_only=True)
class PCKhResult:
    """Per-joint PCKh (%) in the input joint order, counts of visible joints, and the summaries."""

    joint_names: tuple
    per_joint: np.ndarray
    counts: np.ndarray
    threshold: float
    mean: float  # count-weighted over 14 joints == MATLAB "Total" == HRNet "Mean"
    mean_unweighted: float
    mean_at_01: float  # count-weighted at threshold 0.1
    upper_body: float  # MATLAB "UBody": wrists, elbows, shoulders pooled

    def joint(self, name: str) -> float:
        return float(self.per_joint[self.joint_names.index(name)])

    def table(self) -> dict:
        """HRNet / mmpose table: Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle, Mean, Mean@0.1."""
        out = {"Head": self.joint("head")}
        for label, (a, b) in _PAIRS:
            out[label] = 0.5 * (self.joint(a) + self.joint(b))
        out["Mean"] = self.mean
        out["Mean@0.1"] = self.mean_at_01
        return out

    def official_table(self) -> dict:
        """MATLAB ``genTablePCK`` columns: Head (head top + upper neck), ..., UBody, Total."""
        out = {"Head": 0.5 * (self.joint("head") + self.joint("neck"))}
        for label, (a, b) in _PAIRS:
            out[label] = 0.5 * (self.joint(a) + self.joint(b))
        out["UBody"] = self.upper_body
        out["Total"] = self.mean
        return out


def _head_sizes(headboxes, sc_bias):
    hb = np.asarray(headboxes, np.float64)
    return sc_bias * np.linalg.norm(hb[:, 1, :] - hb[:, 0, :], axis=-1)


def pckh(predictions, ground_truth, *, missing, headboxes, threshold: float = 0.5, sc_bias: float = 0.6,
         joint_names=MPII_JOINTS) -> PCKhResult:
    """PCKh of ``predictions`` vs ``ground_truth`` (N, 16, 2), same coordinate origin.

    ``missing`` (N, 16) is MPII's ``jnt_missing`` (1 = not annotated, ignored); ``headboxes``
    (N, 2, 2) are ``[[x1, y1], [x2, y2]]``. A joint is correct when
    ``||pred - gt|| / (sc_bias * head diagonal) <= threshold``. NaN predictions count as wrong;
    NaN / inf ground truth and people without a valid head box are ignored with an
    :class:`~bhpe_tf.errors.IgnoredDataWarning` giving the count.
    """
    pred = np.asarray(predictions, np.float64)
    gt = np.asarray(ground_truth, np.float64)
    visible = ~np.asarray(missing, bool)
    if pred.shape != gt.shape or pred.shape[-1] != 2 or visible.shape != gt.shape[:2]:
        raise ValueError(f"shapes differ: predictions {pred.shape}, ground truth {gt.shape}, missing {visible.shape}")
    names = tuple(joint_names)
    heads = _head_sizes(headboxes, sc_bias)
    # ground truth that cannot be scored is left out with a warning, never scored as a miss
    bad = visible & (~np.all(np.isfinite(gt), axis=-1) | ~(np.isfinite(heads) & (heads > 0))[:, None])
    if bad.any():
        warn_ignored(f"pckh: ignoring {int(bad.sum())} ground-truth joint(s) with NaN / inf coordinates or no valid "
                     f"head box (people {', '.join(str(int(p)) for p in np.flatnonzero(bad.any(1))[:5])} ...)")
        visible = visible & ~bad
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.linalg.norm(pred - gt, axis=-1) / heads[:, None]
    err = np.where(np.isnan(err), np.inf, err)
    counts = visible.sum(axis=0)

    def per_joint_at(t):
        hits = ((err <= t) & visible).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * hits / counts

    per_joint = per_joint_at(threshold)
    used = np.array([n not in ("pelv", "thor") for n in names])
    weights = np.where(used, counts, 0).astype(np.float64)
    weights /= weights.sum()
    upper = np.array([n in ("rwri", "relb", "rsho", "lsho", "lelb", "lwri") for n in names])
    upper_hits = ((err <= threshold) & visible)[:, upper].sum()
    return PCKhResult(
        joint_names=names, per_joint=per_joint, counts=counts, threshold=threshold,
        mean=float(np.nansum(per_joint * weights)), mean_unweighted=float(np.nanmean(per_joint[used])),
        mean_at_01=float(np.nansum(per_joint_at(0.1) * weights)),
        upper_body=float(100.0 * upper_hits / visible[:, upper].sum()))


def format_pckh_table(result: PCKhResult) -> str:
    """The per-joint table (HRNet names), the unweighted mean, and the MATLAB-style row."""
    t = result.table()
    head = " | ".join(f"{k:>8}" for k in t)
    row = " | ".join(f"{v:8.3f}" for v in t.values())
    o = result.official_table()
    ohead = " | ".join(f"{k:>8}" for k in o)
    orow = " | ".join(f"{v:8.3f}" for v in o.values())
    return (f"PCKh@{result.threshold:g} (HRNet/mmpose convention, Mean weighted by joint counts)\n"
            f"| {head} |\n| {row} |\n"
            f"Unweighted mean of the 14 joints: {result.mean_unweighted:.3f}\n"
            f"MPII MATLAB genTablePCK columns (Head = head top + upper neck; Total pooled)\n"
            f"| {ohead} |\n| {orow} |")
