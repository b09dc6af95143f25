"""LCE-friendly layer builders shared by every model (larq-zoo style functional helpers).

Each builder takes a tensor and a :class:`~bhpe_tf.binary.methods.BinaryMethod` and returns a
tensor, so one model definition serves every method of the table. Facts about LCE they rely on
(docs/DESIGN.md §10):

* a ``QuantConv2D`` with +-1 inputs and +-alpha kernels becomes ``LceBconv2d``; ``padding="same"``
  needs ``pad_values=1.0`` to stay fusable, and a BatchNorm right after it folds into the op;
* LCE has no binary dense or transposed conv: ``QuantDense`` / ``QuantConv2DTranspose`` silently
  run as float ops behind LceQuantize/LceDequantize. :func:`binary_dense` (reshape -> 1x1 binary
  conv -> reshape) and :func:`subpixel_conv_transpose` (one binary conv with 4x the channels +
  depth-to-space) keep them binary.
"""
import contextlib
import contextvars

import larq as lq
import numpy as np
import tensorflow as tf
from tensorflow.python.autograph.core import ag_ctx

from bhpe_tf.binary.layers import (ChannelGroupMean, ChannelRepeat, ChannelScale, LearnableBias,
                                   PhaseInterleave, RPReLU, XnorActivationScale)
from bhpe_tf.binary.methods import BinaryMethod, get_method
from bhpe_tf.errors import InvalidInputError, UnknownNameError

# PyTorch's BatchNorm defaults (momentum 0.1 there == 0.9 here, eps 1e-5), as Hand4Whole/HRNet use.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

# Padding of the strided full-precision convs (see fp_conv): "keras" ('same', the default, what LCE
# converts faithfully) or "torch" (PyTorch's symmetric padding=k//2, for weights imported from
# PyTorch checkpoints; stock TFLite only, see bhpe_tf.conversion.lce.pad_folding_convs).
FP_PADDINGS = ("keras", "torch")
# A context variable rather than a keyword threaded through every block function: the blocks are
# shared by the binary variants, which always keep "keras"; the model builders set it (their
# ``padding=`` keyword) around the whole graph construction.
_FP_PADDING = contextvars.ContextVar("bhpe_fp_padding", default="keras")


@contextlib.contextmanager
def fp_padding(mode: str = "keras"):
    """Build the full-precision convs (and ResNet's stem max-pool) inside the block with ``mode`` padding."""
    if mode not in FP_PADDINGS:
        raise UnknownNameError("padding", str(mode), FP_PADDINGS)
    token = _FP_PADDING.set(mode)
    try:
        yield
    finally:
        _FP_PADDING.reset(token)


def current_fp_padding() -> str:
    """The padding mode :func:`fp_padding` selected (``"keras"`` outside any)."""
    return _FP_PADDING.get()


def model_padding(padding: str, *, method):
    """The :func:`fp_padding` context of a model builder's ``padding=`` keyword.

    ``"torch"`` is for full-precision models only (weights imported from PyTorch): a binary
    network converts with LCE, which computes padded strided convs differently from Keras, and its
    ResNet stem is not followed by a ReLU (the zero-padded max-pool is exact only after one).
    """
    if padding not in FP_PADDINGS:
        raise UnknownNameError("padding", str(padding), FP_PADDINGS)
    method = get_method(method)
    if padding == "torch" and method.binary:
        raise InvalidInputError(f"padding='torch' is for full-precision models (weights imported from PyTorch); "
                                f"the binary method {method.name!r} keeps padding='keras' (LCE folds a padded "
                                "strided conv into a different 'same' conv)")
    return fp_padding(padding)


@contextlib.contextmanager
def no_autograph():
    """Build layers without AutoGraph-converting their ``call`` (construction time only).

    Keras converts the ``call`` of every non-Keras layer (Larq's, ours) with AutoGraph when it is
    first applied to a symbolic tensor; for Larq's quantized convs that conversion dominates model
    construction (measured: ResNet-50 BNN built in 56 s with it, 7 s without, on 2 busy cores).
    None of these ``call`` methods has tensor-dependent Python control flow, so the conversion is
    pure overhead. Training and conversion still trace with AutoGraph as usual.
    """
    with ag_ctx.ControlStatusCtx(status=ag_ctx.Status.DISABLED):
        yield


def batch_norm(x, *, name):
    return tf.keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)(x)


def activation(x, *, method, name):
    """The method's non-linearity after BN (+ residual): identity, RPReLU or ReLU (FP only)."""
    method = get_method(method)
    if method.activation == "identity":
        return x
    if method.activation == "rprelu":
        return RPReLU(name=name)(x)
    if method.activation == "relu":
        return tf.keras.layers.ReLU(name=name)(x)
    raise ValueError(f"unknown activation {method.activation!r} in method {method.name!r}")


def fp_conv(x, filters, kernel_size, *, strides=1, dilation_rate=1, use_bias=False, name):
    """Float conv with Keras 'same' padding, or PyTorch's under ``fp_padding("torch")``.

    PyTorch references pad strided convs symmetrically, Keras 'same' pads bottom/right only. The
    default is 'same': LCE 0.16's converter folds ``PAD -> CONV_2D(valid, stride 2)`` into
    ``CONV_2D(same)`` and so computes a *different* function from the Keras model (measured: max
    error 3.9 on unit-variance input, while plain TFLite is exact; see tests/test_binary_core.py),
    at the price of a one-pixel shift for weights ported from PyTorch. Under
    ``fp_padding("torch")`` a strided conv with k > 1 becomes ``ZeroPadding2D(d (k-1) / 2)`` + 'valid'
    conv, PyTorch's ``padding=k//2`` exactly (stride-1 'same' already is symmetric for odd k); such
    models convert with the stock TFLite converter only.
    """
    if strides > 1 and int(kernel_size) > 1 and current_fp_padding() == "torch":
        x = tf.keras.layers.ZeroPadding2D(dilation_rate * (int(kernel_size) - 1) // 2, name=f"{name}_pad")(x)
        return tf.keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="valid",
                                      dilation_rate=dilation_rate, use_bias=use_bias, name=name)(x)
    return tf.keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                                  dilation_rate=dilation_rate, use_bias=use_bias, name=name)(x)


def _binary_conv_layers(x, filters, kernel_size, *, method, strides, dilation_rate, padding, use_bias, name):
    """:func:`binary_conv`, also returning its ``QuantConv2D`` and ``ChannelScale`` (or None) layers."""
    method = get_method(method)
    if not method.binary:
        raise ValueError("binary_conv needs a binary method; use conv_bn for full precision")
    if method.learnable_threshold:
        x = LearnableBias(name=f"{name}_threshold")(x)
    # +-1 inputs pad with +1 (LCE fuses pad_values=1); {0, 1} inputs (DoReFa) with 0, the paper's zero padding.
    extra = {"pad_values": PAD_VALUES[method.activation_levels]} if padding == "same" else {}
    conv_input = x
    with no_autograph():
        conv = lq.layers.QuantConv2D(filters, kernel_size, strides=strides, dilation_rate=dilation_rate,
                                     padding=padding, use_bias=use_bias, name=name,
                                     **method.quant_conv_kwargs(), **extra)
        x = conv(x)
    if method.activation_scaling == "xnor_k":
        x = XnorActivationScale(kernel_size, strides=strides, dilation_rate=dilation_rate, padding=padding,
                                name=f"{name}_k")([conv_input, x])
    scale = None
    if method.output_scale:
        scale = ChannelScale(name=f"{name}_alpha")
        x = scale(x)
    return x, conv, scale


def binary_conv(x, filters, kernel_size, *, method, strides=1, dilation_rate=1, padding="same",
                use_bias=False, name):
    """The binary conv of ``method``: [RSign threshold] -> QuantConv2D (+-1 x +-alpha) [-> ReCU alpha].

    ``padding="same"`` uses ``pad_values=1.0`` (what LCE fuses; the +1 padding is part of the model).
    """
    return _binary_conv_layers(x, filters, kernel_size, method=method, strides=strides,
                               dilation_rate=dilation_rate, padding=padding, use_bias=use_bias, name=name)[0]


# Padding value of a 'same' binary conv per activation levels (BinaryMethod.activation_levels).
PAD_VALUES = {"pm1": 1.0, "01": 0.0}
# Mean and variance of one input of a binary conv, the two levels taken with probability 1/2 each.
_LEVEL_MOMENTS = {"pm1": (0.0, 1.0), "01": (0.5, 0.25)}
# E[K^2] of XNOR-Net's activation scale K ~ E|x| for unit-variance Gaussian pre-activations (2 / pi).
_XNOR_K_SQUARED = 2.0 / np.pi


def binary_output_statistics(conv, scale=None, *, method) -> tuple:
    """Per-output-channel mean and variance of a binary conv's output for independent binary inputs
    taking the method's two levels with probability 1/2 (mean m, variance v per input):
    E = m sum_k q(w)_kc, Var = v sum_k q(w)_kc^2; for +-1 inputs 0 and sum_k q(w)_kc^2, for DoReFa's
    {0, 1} 1/2 sum q and 1/4 sum q^2. ReCU's output scale multiplies by alpha_c (alpha_c^2), XNOR's K
    by E[K] (E[K^2] = 2 / pi for unit-variance Gaussian pre-activations).

    Used to start the following BN's moving statistics where the batch statistics will be at step 0,
    so that inference mode is normalised from initialisation on: with the default moving variance 1,
    a +-1 x +-1 conv (BNN) would pass its raw std sqrt(fan_in) (24 for a 3x3x64 conv) to the
    real-valued path before any statistics were collected.
    """
    method = get_method(method)
    kernel = tf.constant(np.asarray(conv.kernel.numpy(), np.float32))  # the latent weights, as a tensor
    if conv.kernel_quantizer is not None:
        kernel = conv.kernel_quantizer(kernel)
    level_mean, level_variance = _LEVEL_MOMENTS[method.activation_levels]
    mean = level_mean * tf.reduce_sum(kernel, axis=(0, 1, 2))
    variance = level_variance * tf.reduce_sum(tf.square(kernel), axis=(0, 1, 2))
    if scale is not None:
        mean, variance = mean * scale.alpha, variance * tf.square(scale.alpha)
    if method.activation_scaling == "xnor_k":
        mean, variance = mean * np.sqrt(_XNOR_K_SQUARED), variance * _XNOR_K_SQUARED
    return mean.numpy(), np.maximum(variance.numpy(), BN_EPSILON)


def conv_bn(x, filters, kernel_size, *, method, strides=1, dilation_rate=1, name):
    """Conv (binary or float per ``method``) followed by BN, before any residual or activation.

    After a binary conv the BN's moving variance starts at the conv's output variance at init
    (:func:`binary_output_statistics`), so inference mode is normalised before any statistics exist.
    """
    method = get_method(method)
    if method.binary:
        x, conv, scale = _binary_conv_layers(x, filters, kernel_size, method=method, strides=strides,
                                             dilation_rate=dilation_rate, padding="same", use_bias=False, name=name)
        norm = tf.keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")
        x = norm(x)
        mean, variance = binary_output_statistics(conv, scale, method=method)
        norm.moving_mean.assign(mean)
        norm.moving_variance.assign(variance)
    else:
        x = fp_conv(x, filters, kernel_size, strides=strides, dilation_rate=dilation_rate, name=name)
        x = batch_norm(x, name=f"{name}_bn")
    return x


def conv_residual(x, filters, *, strides, mode, name):
    """The parameter-free full-precision residual around one conv, or ``None``.

    ``mode="matching"`` (Bi-Real): identity for unchanged shape, 2x2 average pooling when only the
    resolution halves (Bi-Real's downsampling path, parameter-free here), else ``None``.

    ``mode="lcr"`` (BiDRN's Local Convolution Residual, BinaryHPE Li et al. 2023): every shape
    change gets a path. Identity (same shape); Down Scale, DScR (2x2 average pool, same C); Fusion
    Down, FDR (C -> C/r: mean of r channel groups); Fusion Up, FUR (C -> rC: r copies); Down Sample,
    DSaR (C -> 2C and H/2 x W/2). The paper draws DSaR as two binary convs on the same input,
    concatenated, each with the pooled input as residual; that equals *one* conv with 2C outputs
    and residual concat(pool(x), pool(x)) (same weights, same BN, same arithmetic), which is what
    is built: pooling then channel fusion, so one LceBconv2d runs instead of two.
    """
    in_channels = x.shape[-1]
    if mode == "none":
        return None
    if mode == "matching":
        if in_channels != filters:
            return None
        if strides == 1:
            return x
        return tf.keras.layers.AveragePooling2D(strides, strides=strides, padding="same", name=f"{name}_pool")(x)
    if mode != "lcr":
        raise ValueError(f"unknown conv_residual mode {mode!r}; valid: none, matching, lcr")
    if strides > 1:
        x = tf.keras.layers.AveragePooling2D(strides, strides=strides, padding="same", name=f"{name}_pool")(x)
    if filters < in_channels:
        if in_channels % filters:
            raise ValueError(f"LCR Fusion Down needs C_in divisible by C_out, got {in_channels}->{filters} at {name}")
        x = ChannelGroupMean(in_channels // filters, name=f"{name}_fdr")(x)
    elif filters > in_channels:
        if filters % in_channels:
            raise ValueError(f"LCR Fusion Up needs C_out divisible by C_in, got {in_channels}->{filters} at {name}")
        x = ChannelRepeat(filters // in_channels, name=f"{name}_fur")(x)
    return x


def shortcut_method(method) -> BinaryMethod:
    """The method of a block's projection shortcut: the block's own, or full precision where the
    preset keeps it real-valued (BiDRN's Block Residual, Bi-Real's downsample: ``binary_downsample=False``)."""
    method = get_method(method)
    if method.binary and not method.binary_downsample:
        return get_method("fp")
    return method


def downsample_shortcut(x, filters, *, strides=1, method, name):
    """A residual block's shortcut: ``x`` when the shape is kept, else its projection + BN.

    ``method.downsample="conv"``: ResNet's 1x1 conv with the block's stride (He et al. 2016).
    ``"avgpool"``: Bi-Real Net's real-valued downsample (Liu et al. 2018, its released ResNets):
    2x2 average pooling with the stride, then a stride-1 1x1 conv. The conv is binary or full
    precision per :func:`shortcut_method`; the layer is named ``{name}_downsample``.
    """
    method = get_method(method)
    if strides == 1 and x.shape[-1] == filters:
        return x
    if method.downsample == "avgpool" and strides > 1:
        x = tf.keras.layers.AveragePooling2D(strides, strides=strides, padding="same",
                                             name=f"{name}_downsample_pool")(x)
        strides = 1
    return conv_bn(x, filters, 1, method=shortcut_method(method), strides=strides, name=f"{name}_downsample")


CONV_SHORTCUTS = ("own", "block")


def conv_unit(x, filters, kernel_size, *, method, strides=1, dilation_rate=1, shortcut="own", activate=True, name):
    """One conv of a network as the method wants it:
    conv -> BN [-> + per-conv residual (Bi-Real / LCR)] [-> activation].

    ``shortcut`` says where this conv's real-valued shortcut comes from:

    * ``"own"``: the method's per-conv residual (:func:`conv_residual`: Bi-Real's matching shortcut,
      BiDRN's LCR), added here. Methods without one add nothing.
    * ``"block"``: the caller adds a real-valued path to this conv's output itself: the identity or
      projection of a residual block (the last conv of a ResNet/HRNet block), the target branch of an
      HRNet fuse, a channel slice of an MS-Block input. That path *is* this conv's real shortcut. A
      second, per-conv one would carry the same signal again, and the sum of two copies of one real
      path doubles it at every block: the BiHRNet activation explosion (heatmap std 1.3e12 at init,
      see :mod:`bhpe_tf.models.hrnet`). Bi-Real and ReActNet likewise keep exactly one real shortcut
      per binary conv.

    With ``activate=False`` the caller adds its shortcut first and then calls :func:`activation`
    (the ResNet habit of activating after the shortcut sum).
    """
    method = get_method(method)
    if shortcut not in CONV_SHORTCUTS:
        raise ValueError(f"shortcut must be one of {CONV_SHORTCUTS}, got {shortcut!r} at {name}")
    residual = None
    if method.binary and shortcut == "own":
        residual = conv_residual(x, filters, strides=strides, mode=method.conv_residual, name=f"{name}_res")
    y = conv_bn(x, filters, kernel_size, method=method, strides=strides, dilation_rate=dilation_rate, name=name)
    if residual is not None:
        y = tf.keras.layers.Add(name=f"{name}_res_add")([y, residual])
    if activate:
        y = activation(y, method=method, name=f"{name}_act")
    return y


def binary_dense(x, units, *, method, use_bias=True, name):
    """Dense layer that stays binary in LCE: reshape to 1x1xC -> 1x1 binary conv -> reshape.

    For a full-precision method this is a plain ``Dense``.
    """
    method = get_method(method)
    if not method.binary:
        return tf.keras.layers.Dense(units, use_bias=use_bias, name=name)(x)
    in_features = x.shape[-1]
    x = tf.keras.layers.Reshape((1, 1, in_features), name=f"{name}_to_map")(x)
    x = binary_conv(x, units, 1, method=method, use_bias=use_bias, name=name)
    return tf.keras.layers.Reshape((units,), name=f"{name}_to_vector")(x)


def subpixel_conv_transpose(x, filters, *, method, use_bias=False, name):
    """A 4x4, stride-2, 'same' transposed conv written as a sub-pixel conv (LCE-binary).

    For Conv2DTranspose(k=4, s=2, 'same') output pixel 2m+a (per axis) receives input pixels
    (m-1, m) through kernel taps (3, 1) when a = 0, and (m, m+1) through taps (2, 0) when a = 1.
    So: pad the input by one pixel, run one 2x2 'valid' conv with 4F outputs (F per phase (a, b),
    each a 2x2 subset of the 4x4 kernel: the same 16 C_in F weights), keep for phase (a, b) the
    window at offset (a, b), and interleave the phases with depth-to-space
    (:class:`~bhpe_tf.binary.layers.PhaseInterleave`). With float weights mapped by
    :func:`subpixel_kernel_from_transpose` it equals ``Conv2DTranspose`` exactly. In a binary
    network the zero padding becomes +1 after the sign, the same convention as ``pad_values=1``.
    """
    method = get_method(method)
    x = tf.keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    if method.binary:
        x = binary_conv(x, 4 * filters, 2, method=method, padding="valid", use_bias=use_bias, name=name)
    else:
        x = tf.keras.layers.Conv2D(4 * filters, 2, padding="valid", use_bias=use_bias, name=name)(x)
    return PhaseInterleave(name=f"{name}_interleave")(x)


# Taps of the 4x4 transposed-conv kernel used by output phase a (0 even, 1 odd), in window order.
_PHASE_TAPS = {0: (3, 1), 1: (2, 0)}


def subpixel_kernel_from_transpose(kernel: np.ndarray) -> np.ndarray:
    """Map a ``Conv2DTranspose`` kernel (4, 4, F, C) to the sub-pixel conv kernel (2, 2, C, 4F)."""
    kernel = np.asarray(kernel)
    if kernel.shape[:2] != (4, 4):
        raise ValueError(f"expected a 4x4 transposed-conv kernel, got shape {kernel.shape}")
    filters = kernel.shape[2]
    out = np.zeros((2, 2, kernel.shape[3], 4 * filters), kernel.dtype)
    for a in (0, 1):
        for b in (0, 1):
            group = slice((2 * a + b) * filters, (2 * a + b + 1) * filters)
            for i, row in enumerate(_PHASE_TAPS[a]):
                for j, col in enumerate(_PHASE_TAPS[b]):
                    out[i, j, :, group] = kernel[row, col].T
    return out


__all__ = [
    "BN_EPSILON", "BN_MOMENTUM", "CONV_SHORTCUTS", "FP_PADDINGS", "BinaryMethod", "activation", "batch_norm",
    "binary_conv", "binary_dense", "binary_output_statistics", "conv_bn", "conv_residual", "conv_unit",
    "current_fp_padding", "downsample_shortcut", "fp_conv", "fp_padding", "model_padding", "no_autograph",
    "shortcut_method",
    "subpixel_conv_transpose", "subpixel_kernel_from_transpose",
]
