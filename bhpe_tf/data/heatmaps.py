"""Heatmap targets and decoding, NHWC (heatmaps are ``(..., H, W, K)``).

References: HRNet ``JointsDataset.generate_target`` (Gaussian target), ``core/inference.py``
(``get_max_preds``, ``get_final_preds``: argmax + quarter-pixel shift, ``transform_preds``),
``utils/transforms.py`` (``flip_back``) and ``core/function.py`` (flip test with the one-pixel
shift); DARK (Zhang et al., CVPR 2020) ``gaussian_blur`` + ``taylor`` and its unbiased encoding as
in mmpose's ``_msra_generate_target(unbiased_encoding=True)``.

Coordinates: a heatmap pixel ``(i, j)`` is at ``(x, y) = (j, i)``; a crop pixel ``x`` maps to
``x / stride`` (no half-pixel offset), exactly as HRNet.
"""
from __future__ import annotations

import cv2
import numpy as np

from bhpe_tf.data.meta import flip_permutation
from bhpe_tf.data.transforms import affine_points, get_affine_transform


# --------------------------------------------------------------------------- encoding
def encode_heatmaps(keypoints, *, input_size=(192, 256), heatmap_size=(48, 64), sigma: float = 2.0,
                    unbiased: bool = False):
    """Gaussian heatmap targets and per-joint target weights.

    ``keypoints`` is ``(K, 3)`` in crop pixels (x, y, visibility) or ``(K, 2)`` (all visible);
    sizes are ``(w, h)``. Standard (HRNet): an unnormalised Gaussian of ``sigma`` centred at
    ``int(x / stride + 0.5)``, cut to the window of radius ``3 * sigma`` around that centre; a joint
    is dropped (weight 0) when invisible or when the whole window lies off the map. ``unbiased``
    (DARK): centred at the exact ``x / stride`` over the whole map (same weight rule).
    Returns ``heatmaps`` (H, W, K) float32 and ``weights`` (K,) float32.
    """
    kp = np.asarray(keypoints, np.float64)
    num = kp.shape[0]
    vis = kp[:, 2] > 0 if kp.shape[1] > 2 else np.ones(num, bool)
    w_map, h_map = int(heatmap_size[0]), int(heatmap_size[1])
    stride = np.array([input_size[0] / heatmap_size[0], input_size[1] / heatmap_size[1]])
    radius = sigma * 3
    with np.errstate(invalid="ignore"):
        exact = kp[:, :2] / stride
    finite = np.all(np.isfinite(exact), axis=1)
    exact = np.where(finite[:, None], exact, -1e6)
    mu = np.trunc(exact + 0.5)  # HRNet's int(x / stride + 0.5): truncation toward zero
    ul = np.trunc(mu - radius)
    br = np.trunc(mu + radius + 1)
    on_map = (ul[:, 0] < w_map) & (ul[:, 1] < h_map) & (br[:, 0] >= 0) & (br[:, 1] >= 0)
    weights = (vis & finite & on_map).astype(np.float32)

    centre = exact if unbiased else mu
    xs = np.arange(w_map, dtype=np.float64)
    ys = np.arange(h_map, dtype=np.float64)
    gx = np.exp(-((xs[None, :] - centre[:, 0:1]) ** 2) / (2 * sigma ** 2))
    gy = np.exp(-((ys[None, :] - centre[:, 1:2]) ** 2) / (2 * sigma ** 2))
    if not unbiased:
        gx *= (xs[None, :] >= ul[:, 0:1]) & (xs[None, :] < br[:, 0:1])
        gy *= (ys[None, :] >= ul[:, 1:2]) & (ys[None, :] < br[:, 1:2])
    gx *= weights[:, None]
    heatmaps = np.einsum("kh,kw->hwk", gy, gx).astype(np.float32)
    return heatmaps, weights


# --------------------------------------------------------------------------- decoding
def get_max_preds(heatmaps):
    """HRNet's ``get_max_preds``: integer argmax ``(x, y)`` per joint and its value; joints whose
    maximum is not positive get ``(0, 0)``. Shapes: ``(..., H, W, K)`` -> ``(..., K, 2)``, ``(..., K)``."""
    hm = np.asarray(heatmaps, np.float32)
    h, w, k = hm.shape[-3:]
    flat = np.moveaxis(hm.reshape(hm.shape[:-3] + (h * w, k)), -1, -2)  # (..., K, H*W)
    idx = np.argmax(flat, axis=-1)
    maxvals = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    coords = np.stack([idx % w, idx // w], axis=-1).astype(np.float32)
    coords *= (maxvals > 0)[..., None]
    return coords, maxvals


def _gather(hm, x, y):
    """Values of ``hm`` (..., H, W, K) at integer ``x, y`` (..., K), clipped to the map."""
    h, w = hm.shape[-3:-1]
    x = np.clip(x, 0, w - 1).astype(np.int64)
    y = np.clip(y, 0, h - 1).astype(np.int64)
    flat = np.moveaxis(hm.reshape(hm.shape[:-3] + (h * w, hm.shape[-1])), -1, -2)
    return np.take_along_axis(flat, (y * w + x)[..., None], axis=-1)[..., 0]


def _dark_blur(hm, kernel: int):
    """DARK's ``gaussian_blur``: zero-pad by (kernel-1)/2, blur, crop, restore each map's maximum."""
    border = (kernel - 1) // 2
    out = np.empty_like(hm)
    lead = hm.shape[:-3]
    h, w, k = hm.shape[-3:]
    flat_in = hm.reshape((-1, h, w, k))
    flat_out = out.reshape((-1, h, w, k))
    for n in range(flat_in.shape[0]):
        padded = np.zeros((h + 2 * border, w + 2 * border, k), np.float32)
        padded[border:border + h, border:border + w] = flat_in[n]
        blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)
        blurred = blurred.reshape(h + 2 * border, w + 2 * border, k)[border:border + h, border:border + w]
        orig_max = flat_in[n].reshape(-1, k).max(axis=0)
        new_max = blurred.reshape(-1, k).max(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(new_max > 0, orig_max / new_max, 0.0)
        flat_out[n] = blurred * factor
    return out.reshape(lead + (h, w, k))


def _dark_taylor(log_hm, coords):
    """DARK's ``taylor``: one Newton step on the log-heatmap from the integer maximum, using
    central differences; only where ``1 < x < W-2`` and ``1 < y < H-2`` and the Hessian is regular."""
    h, w = log_hm.shape[-3:-1]
    px, py = coords[..., 0].astype(np.int64), coords[..., 1].astype(np.int64)

    def v(dx, dy):
        return _gather(log_hm, px + dx, py + dy).astype(np.float64)

    dx = 0.5 * (v(1, 0) - v(-1, 0))
    dy = 0.5 * (v(0, 1) - v(0, -1))
    dxx = 0.25 * (v(2, 0) - 2 * v(0, 0) + v(-2, 0))
    dxy = 0.25 * (v(1, 1) - v(1, -1) - v(-1, 1) + v(-1, -1))
    dyy = 0.25 * (v(0, 2) - 2 * v(0, 0) + v(0, -2))
    det = dxx * dyy - dxy ** 2
    ok = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2) & (det != 0)
    safe = np.where(ok, det, 1.0)
    off_x = -(dyy * dx - dxy * dy) / safe
    off_y = -(-dxy * dx + dxx * dy) / safe
    out = coords.astype(np.float64).copy()
    out[..., 0] += np.where(ok, off_x, 0.0)
    out[..., 1] += np.where(ok, off_y, 0.0)
    return out.astype(np.float32)


def decode_heatmaps(heatmaps, *, method: str = "standard", blur_kernel: int | None = 11):
    """Heatmaps ``(..., H, W, K)`` -> coordinates ``(..., K, 2)`` in heatmap pixels, max values ``(..., K)``.

    ``standard`` (HRNet ``get_final_preds``): argmax, then +-0.25 px toward the higher neighbour
    on each axis where ``1 < x < W-1`` and ``1 < y < H-1``. ``dark``: DARK's blur + log + Taylor;
    ``blur_kernel=None`` (or 0) skips the blur, which makes the decoding exact on noise-free unbiased
    targets (the blur's zero padding biases joints near the border).
    """
    hm = np.asarray(heatmaps, np.float32)
    coords, maxvals = get_max_preds(hm)
    if method == "standard":
        h, w = hm.shape[-3:-1]
        px, py = coords[..., 0], coords[..., 1]
        inside = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
        diff_x = _gather(hm, px + 1, py) - _gather(hm, px - 1, py)
        diff_y = _gather(hm, px, py + 1) - _gather(hm, px, py - 1)
        coords = coords + 0.25 * np.stack([np.sign(diff_x), np.sign(diff_y)], axis=-1) * inside[..., None]
        return coords.astype(np.float32), maxvals
    if method == "dark":
        if blur_kernel:
            hm = _dark_blur(hm, blur_kernel)
        log_hm = np.log(np.maximum(hm, 1e-10))
        return _dark_taylor(log_hm, coords), maxvals
    raise ValueError(f"unknown heatmap decoding method {method!r} (use 'standard' or 'dark')")


def heatmap_to_image_coords(coords, *, center, scale, heatmap_size, rot: float = 0.0):
    """HRNet's ``transform_preds``: heatmap-pixel coordinates (K, 2) -> image pixels, through the
    inverse crop affine built directly for the heatmap size."""
    inv = get_affine_transform(center, scale, rot, heatmap_size, inv=True)
    return affine_points(coords, inv).astype(np.float32)


def decode_to_image(heatmaps, *, centers, scales, rotations=None, method: str = "standard",
                    blur_kernel: int | None = 11):
    """Batch decode ``(N, H, W, K)`` -> image keypoints ``(N, K, 2)`` and scores ``(N, K)``."""
    hm = np.asarray(heatmaps, np.float32)
    coords, maxvals = decode_heatmaps(hm, method=method, blur_kernel=blur_kernel)
    size = (hm.shape[2], hm.shape[1])
    out = np.empty_like(coords)
    for n in range(hm.shape[0]):
        rot = 0.0 if rotations is None else float(rotations[n])
        out[n] = heatmap_to_image_coords(coords[n], center=centers[n], scale=scales[n], heatmap_size=size, rot=rot)
    return out, maxvals


# --------------------------------------------------------------------------- flip test
def flip_back(heatmaps, flip_pairs):
    """HRNet's ``flip_back`` in NHWC: mirror the W axis and swap the left/right channels."""
    hm = np.asarray(heatmaps)
    return hm[..., ::-1, :][..., flip_permutation(flip_pairs, hm.shape[-1])]


def fuse_flip_test(heatmaps, flipped_heatmaps, flip_pairs, *, shift: bool = True):
    """Average the heatmaps of an image and of its mirror (HRNet flip test): the mirrored output is
    flipped back, pairs swapped, shifted right by one pixel (``SHIFT_HEATMAP``), then averaged."""
    back = np.array(flip_back(flipped_heatmaps, flip_pairs), np.float32, copy=True)
    if shift:
        back[..., 1:, :] = back[..., :-1, :].copy()
    return (np.asarray(heatmaps, np.float32) + back) * 0.5
