"""Similarity Procrustes alignment (Umeyama), as SPIN's ``compute_similarity_transform`` and
Hand4Whole's ``rigid_align``: the scale, rotation and translation minimising
``sum ||s R x_i + t - y_i||^2``, with the SVD's reflection removed (det R = +1)."""
from __future__ import annotations

import numpy as np


def similarity_procrustes(source, target):
    """Align ``source`` (N, 3) to ``target`` (N, 3). Returns ``(aligned, (scale, R, t))`` with
    ``aligned = scale * source @ R.T + t``."""
    x = np.asarray(source, np.float64)
    y = np.asarray(target, np.float64)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"source {x.shape} and target {y.shape} must be the same (N, D)")
    mu_x, mu_y = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mu_x, y - mu_y
    var_x = np.sum(xc ** 2)
    if var_x == 0:
        raise ValueError("source points are all identical: the alignment is undefined")
    k = xc.T @ yc  # (D, D) cross-covariance
    u, _, vt = np.linalg.svd(k)
    z = np.eye(x.shape[1])
    z[-1, -1] = np.sign(np.linalg.det(u @ vt)) or 1.0  # fix a reflection into a rotation
    rot = vt.T @ z @ u.T
    scale = np.trace(rot @ k) / var_x
    t = mu_y - scale * mu_x @ rot.T
    return scale * x @ rot.T + t, (float(scale), rot, t)
