"""The heatmap codec: one object for Gaussian heatmap targets and their decoding, NHWC (heatmaps are
``(..., H, W, K)``).

:class:`HeatmapCodec` holds the geometry (input and heatmap size, hence the stride), the Gaussian
``sigma``, the encoding (standard or unbiased) and the decoding that goes with it. The same object
makes the training targets (:mod:`bhpe_tf.data.pipeline`, :mod:`bhpe_tf.data.synthetic`), decodes
for validation (:class:`bhpe_tf.training.tasks.HeatmapTask`) and for inference
(:func:`bhpe_tf.infer.predict_keypoints`), and writes / reads the model card's ``heatmap`` block
that the Android decoder reads, so the four cannot drift apart.

References: HRNet ``JointsDataset.generate_target`` (Gaussian target), ``core/inference.py``
(``get_max_preds``, ``get_final_preds``: argmax + quarter-pixel shift, ``transform_preds``),
``utils/transforms.py`` (``flip_back``) and ``core/function.py`` (flip test with the one-pixel
shift); DARK (Zhang et al., CVPR 2020) ``gaussian_blur`` + ``taylor`` and its unbiased encoding as
in mmpose's ``_msra_generate_target(unbiased_encoding=True)``.

Coordinates: sizes are ``(w, h)`` (``*_wh``); a heatmap pixel ``(i, j)`` is at ``(x, y) = (j, i)``;
a crop pixel ``x`` maps to ``x / stride`` (no half-pixel offset), exactly as HRNet.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from bhpe_tf.data.meta import flip_permutation
from bhpe_tf.data.transforms import affine_points, get_affine_transform

# HRNet's heatmaps are a quarter of its input on each axis (its stem downsamples twice).
HRNET_STRIDE = 4
# DARK's Gaussian blur of the heatmaps before the Taylor step (its paper's 11 x 11 kernel).
DARK_BLUR_KERNEL = 11
STANDARD, DARK = "standard", "dark"
# The model card's name of each decoding (``heatmap.decoding``); cards written before DARK was
# expressible carry ``argmax_quarter_offset``, HRNet's standard decoding.
CARD_DECODINGS = {STANDARD: "argmax_quarter_offset", DARK: "dark"}


def is_blur_kernel(kernel) -> bool:
    """A valid DARK blur kernel: 0 (no blur) or an odd positive integer (cv2.GaussianBlur's sizes)."""
    return isinstance(kernel, int) and not isinstance(kernel, bool) and kernel >= 0 and (kernel == 0 or kernel % 2 == 1)


def _wh(size, what: str) -> tuple:
    w, h = (int(v) for v in size)
    if w <= 0 or h <= 0:
        raise ValueError(f"{what} must be a positive (w, h), got {tuple(size)}")
    return w, h


@dataclasses.dataclass(frozen=True, kw_only=True)
class HeatmapCodec:
    """Gaussian heatmap targets <-> keypoints (module docstring).

    ``input_wh``: the crop ``(w, h)``; ``heatmap_wh``: the heatmap ``(w, h)``, by default the input
    over :data:`HRNET_STRIDE`. ``sigma``: the Gaussian's sigma in heatmap pixels. ``unbiased``:
    DARK's unbiased encoding (centred at the exact sub-pixel position) instead of HRNet's (centred
    at the rounded one). ``decoding``: ``"standard"`` (HRNet: argmax + quarter offset) or ``"dark"``
    (DARK: blur + log + Taylor step); by default ``"dark"`` with unbiased encoding, the pairing DARK
    is exact for, and ``"standard"`` otherwise. ``blur_kernel``: DARK's blur kernel (odd), 0 skips
    the blur (exact on noise-free unbiased targets; the blur's zero padding biases joints near the
    border).
    """

    input_wh: tuple = (192, 256)
    heatmap_wh: tuple | None = None
    sigma: float = 2.0
    unbiased: bool = False
    decoding: str | None = None
    blur_kernel: int = DARK_BLUR_KERNEL

    def __post_init__(self):
        input_wh = _wh(self.input_wh, "input_wh")
        if self.heatmap_wh is None:
            heatmap_wh = (input_wh[0] // HRNET_STRIDE, input_wh[1] // HRNET_STRIDE)
        else:
            heatmap_wh = _wh(self.heatmap_wh, "heatmap_wh")
        decoding = self.decoding or (DARK if self.unbiased else STANDARD)
        if decoding not in CARD_DECODINGS:
            raise ValueError(f"unknown heatmap decoding {decoding!r} (use {' or '.join(map(repr, CARD_DECODINGS))})")
        if not is_blur_kernel(self.blur_kernel):
            raise ValueError(f"blur_kernel must be 0 (no blur) or an odd positive integer, got {self.blur_kernel!r}")
        for name, value in (("input_wh", input_wh), ("heatmap_wh", heatmap_wh), ("decoding", decoding),
                            ("sigma", float(self.sigma)), ("unbiased", bool(self.unbiased)),
                            ("blur_kernel", int(self.blur_kernel))):
            object.__setattr__(self, name, value)

    # ----------------------------------------------------------------------- constructors
    @classmethod
    def from_data_config(cls, data: dict) -> "HeatmapCodec":
        """The codec of a training config's ``data`` section: ``input_wh`` ``[w, h]`` and the
        optional ``sigma`` (2), ``unbiased_encoding`` (false) and ``decoding`` (by the encoding)."""
        return cls(input_wh=tuple(data["input_wh"]), sigma=float(data.get("sigma", 2.0)),
                   unbiased=bool(data.get("unbiased_encoding", False)), decoding=data.get("decoding"))

    @classmethod
    def from_card(cls, block: dict, *, input_wh) -> "HeatmapCodec":
        """The decoder of a model card's ``heatmap`` block for the card's input ``(w, h)``; the
        encoding fields keep their defaults (a card describes the deployed decoder only)."""
        names = {card: decoding for decoding, card in CARD_DECODINGS.items()}
        if block.get("decoding") not in names:
            raise ValueError(f"unknown heatmap.decoding {block.get('decoding')!r} (known: {', '.join(names)})")
        stride = int(block["stride"])
        w, h = _wh(input_wh, "input_wh")
        if stride <= 0 or w % stride or h % stride:
            raise ValueError(f"heatmap.stride {stride} does not divide the input {w}x{h}")
        return cls(input_wh=(w, h), heatmap_wh=(w // stride, h // stride), decoding=names[block["decoding"]],
                   blur_kernel=block.get("blur_kernel", DARK_BLUR_KERNEL))

    def to_card(self) -> dict:
        """The model card's ``heatmap`` block: ``stride`` and ``decoding``, and DARK's ``blur_kernel``
        for DARK decoding (:mod:`bhpe_tf.conversion.model_card`)."""
        block = {"stride": self.stride, "decoding": CARD_DECODINGS[self.decoding]}
        if self.decoding == DARK:
            block["blur_kernel"] = self.blur_kernel
        return block

    # ----------------------------------------------------------------------- geometry
    @property
    def stride_xy(self) -> np.ndarray:
        """Crop pixels per heatmap pixel on each axis, ``(2,)`` float64."""
        return np.array([self.input_wh[0] / self.heatmap_wh[0], self.input_wh[1] / self.heatmap_wh[1]])

    @property
    def stride(self) -> int:
        """The one integer stride of both axes (what the model card carries); ValueError when the
        heatmaps are not an integer downscale of the input."""
        sx, sy = self.stride_xy
        if sx != sy or sx != int(sx):
            raise ValueError(f"heatmaps {self.heatmap_wh[1]}x{self.heatmap_wh[0]} are not an integer downscale of "
                             f"the input {self.input_wh[1]}x{self.input_wh[0]}")
        return int(sx)

    def _check_shape(self, hm):
        h, w = hm.shape[-3:-1]
        if (w, h) != self.heatmap_wh:
            raise ValueError(f"heatmaps are {h}x{w} (HxW) but the codec's are "
                             f"{self.heatmap_wh[1]}x{self.heatmap_wh[0]}")

    # ----------------------------------------------------------------------- encoding
    def encode(self, keypoints):
        """Gaussian heatmap targets and per-joint target weights.

        ``keypoints`` is ``(K, 3)`` in crop pixels (x, y, visibility) or ``(K, 2)`` (all visible).
        Standard (HRNet): an unnormalised Gaussian of ``sigma`` centred at ``int(x / stride + 0.5)``,
        cut to the window of radius ``3 * sigma`` around that centre; a joint is dropped (weight 0)
        when invisible or when the whole window lies off the map. Unbiased (DARK): centred at the
        exact ``x / stride`` over the whole map (same weight rule).
        Returns ``heatmaps`` (H, W, K) float32 and ``weights`` (K,) float32.
        """
        kp = np.asarray(keypoints, np.float64)
        num = kp.shape[0]
        vis = kp[:, 2] > 0 if kp.shape[1] > 2 else np.ones(num, bool)
        w_map, h_map = self.heatmap_wh
        sigma = self.sigma
        radius = sigma * 3
        with np.errstate(invalid="ignore"):
            exact = kp[:, :2] / self.stride_xy
        finite = np.all(np.isfinite(exact), axis=1)
        exact = np.where(finite[:, None], exact, -1e6)
        mu = np.trunc(exact + 0.5)  # HRNet's int(x / stride + 0.5): truncation toward zero
        ul = np.trunc(mu - radius)
        br = np.trunc(mu + radius + 1)
        on_map = (ul[:, 0] < w_map) & (ul[:, 1] < h_map) & (br[:, 0] >= 0) & (br[:, 1] >= 0)
        weights = (vis & finite & on_map).astype(np.float32)

        centre = exact if self.unbiased else mu
        xs = np.arange(w_map, dtype=np.float64)
        ys = np.arange(h_map, dtype=np.float64)
        gx = np.exp(-((xs[None, :] - centre[:, 0:1]) ** 2) / (2 * sigma ** 2))
        gy = np.exp(-((ys[None, :] - centre[:, 1:2]) ** 2) / (2 * sigma ** 2))
        if not self.unbiased:
            gx *= (xs[None, :] >= ul[:, 0:1]) & (xs[None, :] < br[:, 0:1])
            gy *= (ys[None, :] >= ul[:, 1:2]) & (ys[None, :] < br[:, 1:2])
        gx *= weights[:, None]
        heatmaps = np.einsum("kh,kw->hwk", gy, gx).astype(np.float32)
        return heatmaps, weights

    # ----------------------------------------------------------------------- decoding
    @staticmethod
    def argmax(heatmaps):
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

    def decode(self, heatmaps):
        """Heatmaps ``(..., H, W, K)`` -> coordinates ``(..., K, 2)`` in heatmap pixels, max values ``(..., K)``.

        ``standard`` (HRNet ``get_final_preds``): argmax, then +-0.25 px toward the higher neighbour
        on each axis where ``1 < x < W-1`` and ``1 < y < H-1``. ``dark``: DARK's blur + log + Taylor.
        """
        hm = np.asarray(heatmaps, np.float32)
        self._check_shape(hm)
        coords, maxvals = self.argmax(hm)
        if self.decoding == STANDARD:
            h, w = hm.shape[-3:-1]
            px, py = coords[..., 0], coords[..., 1]
            inside = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
            diff_x = _gather(hm, px + 1, py) - _gather(hm, px - 1, py)
            diff_y = _gather(hm, px, py + 1) - _gather(hm, px, py - 1)
            coords = coords + 0.25 * np.stack([np.sign(diff_x), np.sign(diff_y)], axis=-1) * inside[..., None]
            return coords.astype(np.float32), maxvals
        if self.blur_kernel:
            hm = _dark_blur(hm, self.blur_kernel)
        log_hm = np.log(np.maximum(hm, 1e-10))
        return _dark_taylor(log_hm, coords), maxvals

    def decode_to_input(self, heatmaps):
        """:meth:`decode`, in crop (input) pixels: ``x * stride``, the inverse of the encoding's map."""
        coords, maxvals = self.decode(heatmaps)
        return (coords * self.stride_xy).astype(np.float32), maxvals

    def to_image(self, coords, *, center, scale, rot: float = 0.0):
        """HRNet's ``transform_preds``: heatmap-pixel coordinates (K, 2) -> image pixels, through the
        inverse crop affine built directly for the heatmap size."""
        inv = get_affine_transform(center, scale, rot, self.heatmap_wh, inv=True)
        return affine_points(coords, inv).astype(np.float32)

    def decode_to_image(self, heatmaps, *, centers, scales, rotations=None):
        """Batch decode ``(N, H, W, K)`` -> image keypoints ``(N, K, 2)`` and scores ``(N, K)``."""
        hm = np.asarray(heatmaps, np.float32)
        coords, maxvals = self.decode(hm)
        out = np.empty_like(coords)
        for n in range(hm.shape[0]):
            rot = 0.0 if rotations is None else float(rotations[n])
            out[n] = self.to_image(coords[n], center=centers[n], scale=scales[n], rot=rot)
        return out, maxvals

    # ----------------------------------------------------------------------- flip test
    @staticmethod
    def flip_back(heatmaps, flip_pairs):
        """HRNet's ``flip_back`` in NHWC: mirror the W axis and swap the left/right channels."""
        hm = np.asarray(heatmaps)
        return hm[..., ::-1, :][..., flip_permutation(flip_pairs, hm.shape[-1])]

    @classmethod
    def fuse_flip_test(cls, heatmaps, flipped_heatmaps, flip_pairs, *, shift: bool = True):
        """Average the heatmaps of an image and of its mirror (HRNet flip test): the mirrored output is
        flipped back, pairs swapped, shifted right by one pixel (``SHIFT_HEATMAP``), then averaged."""
        back = np.array(cls.flip_back(flipped_heatmaps, flip_pairs), np.float32, copy=True)
        if shift:
            back[..., 1:, :] = back[..., :-1, :].copy()
        return (np.asarray(heatmaps, np.float32) + back) * 0.5


# --------------------------------------------------------------------------- decoding helpers
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
