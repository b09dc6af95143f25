"""Quantizers that Larq does not ship, written so Larq Compute Engine still sees +-1 / +-alpha.

LCE recognises a binary convolution when the input quantizer's forward pass is Larq's sign
(``lq.math.sign``: sign with sign(0) = +1) and the kernel, once constant-folded, is +-alpha per
output channel. Every quantizer here therefore keeps that forward pass and changes only the
gradient (a ``tf.custom_gradient``) or the per-channel scale. Each one is registered with
``lq.utils.register_keras_custom_object`` so models save and load without ``custom_objects``.

Larq's own quantizers used by the method presets: ``SteSign`` (BNN, Hubara et al. 2016, STE clipped
at 1 = Hardtanh gradient), ``ApproxSign`` (Bi-Real Net, Liu et al. 2018, eq. 4: gradient 2 - 2|x|).
"""
import math

import larq as lq
import tensorflow as tf


def _reduce_axes_except(rank: int, channel_axis: int):
    channel_axis = channel_axis % rank
    return [axis for axis in range(rank) if axis != channel_axis]


# Larq exposes its quantizer base class only as `_BaseQuantizer` (it carries the flip-ratio metric
# plumbing every Larq quantizer shares); subclassing it keeps ours interchangeable with Larq's.
@lq.utils.register_keras_custom_object
class ChannelMagnitudeSign(lq.quantizers._BaseQuantizer):
    r"""Per-output-channel magnitude-aware weight sign: ``sign(W) * mean(|W|)`` per channel.

    XNOR-Net (Rastegari et al. 2016, eq. 3-4: alpha = ||W||_l1 / n per output filter) and Bi-Real
    Net's weight binarization. The scale is stop-gradient and the sign uses an STE clipped at
    ``clip_value`` (Larq's ``MagnitudeAwareSign`` does the same but always reduces over every axis
    but the last). ``channel_axis`` names the output-channel axis of the kernel: ``-1`` for
    ``Conv2D``/``Dense`` kernels (kh, kw, in, out) and ``-2`` for ``Conv2DTranspose`` kernels
    (kh, kw, out, in), where reducing over all-but-last would wrongly give per-*input*-channel scales.
    """

    precision = 1

    def __init__(self, channel_axis: int = -1, clip_value: float = 1.0, **kwargs):
        self.channel_axis = channel_axis
        self.clip_value = clip_value
        super().__init__(**kwargs)

    def call(self, inputs):
        axes = _reduce_axes_except(inputs.shape.rank, self.channel_axis)
        scale = tf.stop_gradient(tf.reduce_mean(tf.abs(inputs), axis=axes, keepdims=True))
        return super().call(lq.quantizers.ste_sign(inputs, clip_value=self.clip_value) * scale)

    def get_config(self):
        return {**super().get_config(), "channel_axis": self.channel_axis, "clip_value": self.clip_value}


@lq.utils.register_keras_custom_object
class DoReFaSign(lq.quantizers._BaseQuantizer):
    r"""1-bit DoReFa weight quantizer: ``sign(W) * E(|W|)`` over the whole tensor.

    DoReFa-Net (Zhou et al. 2016), eq. 7 for k = 1 bit: the forward pass is sign(r) * E(|r|) and
    the gradient passes straight through unchanged (identity STE). Larq's k-bit ``DoReFa``
    quantizer is not recognised by LCE for k = 1, while this +-alpha form is (a per-tensor alpha is
    a special case of per-channel).
    """

    precision = 1

    def call(self, inputs):
        @tf.custom_gradient
        def _forward(w):
            scale = tf.reduce_mean(tf.abs(w))
            return lq.math.sign(w) * scale, lambda dy: dy

        return super().call(_forward(inputs))


@lq.utils.register_keras_custom_object
class ReCUSign(lq.quantizers._BaseQuantizer):
    r"""ReCU weight binarization (Xu et al., "ReCU: Reviving the Dead Weights in BNNs", ICCV 2021).

    Per output channel the weights are balanced (mean removed) and standardised to unit Laplace
    scale, w' = (w - mean) / (std / (2 sqrt 2)); the rectified clamp unit clips w' to
    [-Q(tau), Q(tau)] with the Laplace quantile Q(tau) = -E|w'| ln(2 - 2 tau) (eq. 9-10 of the
    paper); then sign. The forward value is ``sign(w - mean_c)`` (+-1 per channel, LCE-binary); the
    clamp only shapes the gradient, reviving weights pushed outside the quantile ("dead weights").
    The paper's learnable per-channel scale alpha is a separate layer (:class:`ChannelScale`).
    """

    precision = 1

    def __init__(self, tau: float = 0.99, channel_axis: int = -1, **kwargs):
        if not 0.5 < tau < 1.0:
            raise ValueError(f"ReCU tau must lie in (0.5, 1), got {tau}")
        self.tau = tau
        self.channel_axis = channel_axis
        super().__init__(**kwargs)

    def call(self, inputs):
        axes = _reduce_axes_except(inputs.shape.rank, self.channel_axis)
        balanced = inputs - tf.reduce_mean(inputs, axis=axes, keepdims=True)
        std = tf.sqrt(tf.reduce_mean(tf.square(balanced), axis=axes, keepdims=True) + 1e-5)
        standardised = balanced / (std / (2.0 * math.sqrt(2.0)))
        q_tau = tf.stop_gradient(-tf.reduce_mean(tf.abs(standardised)) * math.log(2.0 - 2.0 * self.tau))
        clamped = tf.clip_by_value(standardised, -q_tau, q_tau)
        # Identity STE through the sign: the clamp above already zeroes the gradient outside Q(tau).
        return super().call(lq.quantizers.ste_sign(clamped, clip_value=None))

    def get_config(self):
        return {**super().get_config(), "tau": self.tau, "channel_axis": self.channel_axis}


def fourier_sign_gradient(x, n_terms: int, omega: float):
    r"""Gradient of the Fourier-series approximation of sign (FDA, Xu et al., NeurIPS 2021, eq. 8).

    sign(x) ~ (4/pi) sum_{i=0}^{n} sin((2i+1) omega x) / (2i+1), so
    d/dx ~ (4 omega / pi) sum_{i=0}^{n} cos((2i+1) omega x); zero outside [-1, 1] as in FDA-BNN.
    """
    terms = [tf.cos((2.0 * i + 1.0) * omega * x) for i in range(n_terms + 1)]
    grad = (4.0 * omega / math.pi) * tf.add_n(terms)
    return tf.where(tf.abs(x) <= 1.0, grad, tf.zeros_like(grad))


@lq.utils.register_keras_custom_object
class FourierSign(lq.quantizers._BaseQuantizer):
    r"""FDA sign: forward ``lq.math.sign``, backward the Fourier-series gradient of
    :func:`fourier_sign_gradient` (FDA-BNN defaults: omega = 0.1; ``n_terms`` grows during training
    in the paper, fixed here and exposed as a hyper-parameter). Used for activations and weights;
    with ``scale_per_channel`` it returns ``sign(W) * mean|W|`` per output channel (stop-gradient
    scale) so it stays LCE-binary.
    """

    precision = 1

    def __init__(self, n_terms: int = 9, omega: float = 0.1, scale_per_channel: bool = False,
                 channel_axis: int = -1, **kwargs):
        self.n_terms = n_terms
        self.omega = omega
        self.scale_per_channel = scale_per_channel
        self.channel_axis = channel_axis
        super().__init__(**kwargs)

    def call(self, inputs):
        n_terms, omega = self.n_terms, self.omega

        @tf.custom_gradient
        def _forward(x):
            return lq.math.sign(x), lambda dy: dy * fourier_sign_gradient(x, n_terms, omega)

        outputs = _forward(inputs)
        if self.scale_per_channel:
            axes = _reduce_axes_except(inputs.shape.rank, self.channel_axis)
            outputs = outputs * tf.stop_gradient(tf.reduce_mean(tf.abs(inputs), axis=axes, keepdims=True))
        return super().call(outputs)

    def get_config(self):
        return {**super().get_config(), "n_terms": self.n_terms, "omega": self.omega,
                "scale_per_channel": self.scale_per_channel, "channel_axis": self.channel_axis}
