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
import numpy as np
import tensorflow as tf

from bhpe_tf.binary.schedules import ProgressDriven, ProgressSchedule
from bhpe_tf.errors import InvalidInputError


def _reduce_axes_except(rank: int, channel_axis: int):
    channel_axis = channel_axis % rank
    return [axis for axis in range(rank) if axis != channel_axis]


# Larq exposes its quantizer base class only as `_BaseQuantizer` (it carries the flip-ratio metric
# plumbing every Larq quantizer shares); subclassing it keeps ours interchangeable with Larq's.
@lq.utils.register_keras_custom_object
class ChannelMagnitudeSign(lq.quantizers._BaseQuantizer):
    r"""Per-output-channel magnitude-aware weight sign: ``sign(W) * mean(|W|)`` per channel.

    XNOR-Net (Rastegari et al. 2016, eq. 3-4: alpha = ||W||_l1 / n per output filter) and Bi-Real
    Net's weight binarization. The sign uses an STE clipped at ``clip_value``. ``channel_axis``
    names the output-channel axis of the kernel: ``-1`` for ``Conv2D``/``Dense`` kernels
    (kh, kw, in, out) and ``-2`` for ``Conv2DTranspose`` kernels (kh, kw, out, in), where reducing
    over all-but-last (Larq's ``MagnitudeAwareSign``) would wrongly give per-*input*-channel scales.

    ``differentiable_scale`` chooses the gradient of the scale. ``False`` (Bi-Real, ReActNet, BiDRN
    and Larq's ``MagnitudeAwareSign``): alpha is a stop-gradient constant, dL/dW_i = alpha *
    1_{|W_i| <= clip} dL/dW~_i. ``True`` (XNOR-Net, sec. 3.1 "Training Binary-Weights-Networks"):
    alpha(W) is differentiated too, which adds the 1/n term of the paper's gradient,
    dL/dW_i = alpha 1_{|W_i| <= clip} dL/dW~_i + sign(W_i) / n * sum_j sign(W_j) dL/dW~_j (the
    authors' release computes this full form; the paper prints its diagonal, (1/n + alpha
    d sign / dW_i) dL/dW~_i). The forward pass is the same either way, so both convert to LCE.
    """

    precision = 1

    def __init__(self, channel_axis: int = -1, clip_value: float = 1.0, differentiable_scale: bool = False,
                 **kwargs):
        self.channel_axis = channel_axis
        self.clip_value = clip_value
        self.differentiable_scale = bool(differentiable_scale)
        super().__init__(**kwargs)

    def call(self, inputs):
        axes = _reduce_axes_except(inputs.shape.rank, self.channel_axis)
        scale = tf.reduce_mean(tf.abs(inputs), axis=axes, keepdims=True)
        if not self.differentiable_scale:
            scale = tf.stop_gradient(scale)
        return super().call(lq.quantizers.ste_sign(inputs, clip_value=self.clip_value) * scale)

    def get_config(self):
        return {**super().get_config(), "channel_axis": self.channel_axis, "clip_value": self.clip_value,
                "differentiable_scale": self.differentiable_scale}


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
class DoReFaActivation(lq.quantizers.DoReFa):
    r"""1-bit DoReFa activations: ``round(clip(x, 0, 1))`` in {0, 1}, gradient 1 on [0, 1], 0 outside.

    DoReFa-Net (Zhou et al. 2016, sec. 2.3-2.4): activations are clipped to [0, 1] and quantized by
    quantize_k (eq. 5) with k = 1, i.e. rounded to {0, 1} (``tf.round``: ties to even, so 0.5 -> 0),
    with the straight-through gradient inside the clip. This is Larq's ``DoReFa`` quantizer at
    ``k_bit=1``; the subclass only fixes the bit width and marks the form as not LCE-deployable:
    LCE's binary conv takes +-1 inputs, a {0, 1} input makes the conv run in float. The deployable
    neighbour is the ``dorefa_pm1`` preset (+-1 activations, :mod:`bhpe_tf.binary.methods`).
    """

    lce_refusal = ("1-bit DoReFa's {0, 1} activations, which LCE runs as a float conv (its binary conv takes "
                   "+-1 inputs)")

    def __init__(self, k_bit: int = 1, mode: str = "activations", **kwargs):
        if int(k_bit) != 1 or mode != "activations":
            raise InvalidInputError(f"DoReFaActivation is the 1-bit activation quantizer, got k_bit={k_bit}, "
                                    f"mode={mode!r}")
        super().__init__(k_bit=1, mode="activations", **kwargs)


# ReCU's tau schedule (Xu et al., ICCV 2021, sec. 4.1: tau rises from 0.85 to 0.99 during training;
# exponential in the epoch fraction as in the authors' released code).
RECU_TAU = ProgressSchedule(start=0.85, end=0.99, shape="exp")


@lq.utils.register_keras_custom_object
class ReCUSign(ProgressDriven):
    r"""ReCU weight binarization (Xu et al., "ReCU: Reviving the Dead Weights in BNNs", ICCV 2021).

    Per output channel the weights are balanced (mean removed) and standardised to unit Laplace
    scale, w' = (w - mean) / (std / (2 sqrt 2)); the rectified clamp unit clips w' to
    [-Q(tau), Q(tau)] with the Laplace quantile Q(tau) = -E|w'| ln(2 - 2 tau) (eq. 9-10 of the
    paper, E over the whole tensor as in the authors' code); then sign with an identity STE. tau
    follows the training progress p (:mod:`bhpe_tf.binary.schedules`): tau(p) = A e^p + B from
    ``tau_start`` (0.85) to ``tau_end`` (0.99). The forward value is ``sign(w - mean_c)`` (+-1 per
    channel, LCE-binary); the clamp only shapes the gradient, reviving weights pushed outside the
    quantile ("dead weights"). The paper's learnable per-channel scale alpha is a separate layer
    (:class:`~bhpe_tf.binary.layers.ChannelScale`).
    """

    precision = 1

    def __init__(self, *, tau_start: float = RECU_TAU.start, tau_end: float = RECU_TAU.end,
                 channel_axis: int = -1, **kwargs):
        for tau in (tau_start, tau_end):
            if not 0.5 < tau < 1.0:
                raise InvalidInputError(f"ReCU tau must lie in (0.5, 1), got {tau}")
        self.tau_start, self.tau_end = float(tau_start), float(tau_end)
        self.tau = ProgressSchedule(start=self.tau_start, end=self.tau_end, shape=RECU_TAU.shape)
        self.channel_axis = channel_axis
        super().__init__(**kwargs)

    def call(self, inputs):
        axes = _reduce_axes_except(inputs.shape.rank, self.channel_axis)
        balanced = inputs - tf.reduce_mean(inputs, axis=axes, keepdims=True)
        std = tf.sqrt(tf.reduce_mean(tf.square(balanced), axis=axes, keepdims=True) + 1e-5)
        standardised = balanced / (std / (2.0 * math.sqrt(2.0)))
        tau = self.tau(self.progress)
        q_tau = tf.stop_gradient(-tf.reduce_mean(tf.abs(standardised)) * tf.math.log(2.0 - 2.0 * tau))
        clamped = tf.clip_by_value(standardised, -q_tau, q_tau)
        # Identity STE through the sign: the clamp above already zeroes the gradient outside Q(tau).
        return super().call(lq.quantizers.ste_sign(clamped, clip_value=None))

    def get_config(self):
        return {**super().get_config(), "tau_start": self.tau_start, "tau_end": self.tau_end,
                "channel_axis": self.channel_axis}


@lq.utils.register_keras_custom_object
class ReCUActivationSign(lq.quantizers._BaseQuantizer):
    r"""ReCU's activation binarization: sign with the ApproxSign gradient max(0, 2 - 2|a'|)
    (Bi-Real's eq. 4) on activations standardised *during training only*:
    a' = a / sqrt(Var(a) + 1e-5), the variance over (H, W, C) of each sample (ReCU, Xu et al. ICCV
    2021, its binary conv; population variance). The forward value sign(a') = sign(a) does not
    change, but the window |a'| < 1 where the gradient flows moves with each sample's scale. At
    inference (``training`` false) a' = a: plain sign, LCE-binary.
    """

    precision = 1

    def call(self, inputs, training=None):
        def standardised():
            axes = list(range(1, inputs.shape.rank)) or None
            return inputs / tf.sqrt(tf.math.reduce_variance(inputs, axis=axes, keepdims=True) + 1e-5)

        x = tf.__internal__.smart_cond.smart_cond(training, standardised, lambda: inputs) if training is not None \
            else inputs
        return super().call(lq.quantizers.approx_sign(x))


def fourier_sign_gradient(x, n_terms, omega: float, max_terms: int = None):
    r"""Gradient of the Fourier-series approximation of sign (FDA, Xu et al., NeurIPS 2021, eq. 8).

    sign(x) ~ (4/pi) sum_{i=0}^{n} sin((2i+1) omega x) / (2i+1), so
    d/dx ~ (4 omega / pi) sum_{i=0}^{n} cos((2i+1) omega x); zero outside [-1, 1] as in FDA-BNN.
    ``n_terms`` may be a tensor (the scheduled n); ``max_terms`` then bounds the series built.
    """
    max_terms = int(n_terms) if max_terms is None else int(max_terms)
    terms = [tf.cast(i <= n_terms, x.dtype) * tf.cos((2.0 * i + 1.0) * omega * x) for i in range(max_terms + 1)]
    grad = (4.0 * omega / math.pi) * tf.add_n(terms)
    return tf.where(tf.abs(x) <= 1.0, grad, tf.zeros_like(grad))


# FDA's schedules, from the authors' released code (FDA-BNN, model_params_update): the noise weight
# alpha = 0.05 (1 + cos(pi t)), 0.1 -> 0 over training, and the number of Fourier terms
# n = 9 + floor(9 t), 9 -> 18 (t = (epoch + 1) / epochs there, the training progress p here).
FDA_NOISE_WEIGHT = ProgressSchedule(start=0.1, end=0.0, shape="cos")
FDA_TERMS = ProgressSchedule(start=9.0, end=18.0, shape="linear")
# The fixed term added to the module's output in the release: e(t) = W_2 ReLU(W_1 t) + 0.1 sin(t).
FDA_SINE_WEIGHT = 0.1


@lq.utils.register_keras_custom_object
class FourierSign(ProgressDriven):
    r"""FDA sign (Xu et al., "Learning Frequency Domain Approximation for Binary Neural Networks",
    NeurIPS 2021): forward ``lq.math.sign``, backward the Fourier-series gradient of
    :func:`fourier_sign_gradient` (eq. 8; omega = 0.1, n = 9 -> 18 terms with the training progress,
    :data:`FDA_TERMS`), plus the paper's **noise-adaptation module** (sec. 2.3, eq. 13,
    Algorithm 1) while training.

    The module is two small fully connected layers without biases applied to every vector that is
    binarized: each weight filter t = W_c (the kh * kw * C_in weights of output channel c, with
    ``scale_per_channel``) or each activation vector t = x_(n,h,w) (the C channels of a pixel):
    e(t) = W_2 ReLU(W_1 t) + 0.1 sin(t), of width d / ``noise_hidden_ratio`` (d the vector length,
    at least 1), both layers initialised as PyTorch's ``nn.Linear``. The form, the width d / 64 and
    the schedules are those of the authors' released code (the paper gives none of them). During
    training the quantizer returns ``(sign(t) + eta(p) e(t)) [* mean|W_c|]``, the weight eta
    annealed 0.1 -> 0 on a cosine (:data:`FDA_NOISE_WEIGHT`). In inference mode (``training``
    false: evaluation, export, conversion) the module is not applied: the deployed network is
    purely binary, ``sign(W) * mean|W|`` per output channel (stop-gradient scale) on the weights and
    ``sign(x)`` on the activations, so LCE converts every conv to ``LceBconv2d``. (The release
    also runs the module when evaluating during training, while eta > 0; evaluating the network
    that will be deployed is our choice.) ``noise_hidden_ratio=0`` builds no module (the plain
    Fourier-gradient sign).
    """

    precision = 1

    def __init__(self, *, n_terms: int = int(FDA_TERMS.start), omega: float = 0.1, scale_per_channel: bool = False,
                 channel_axis: int = -1, noise_hidden_ratio: int = 0, **kwargs):
        if int(noise_hidden_ratio) < 0:
            raise InvalidInputError(f"FDA noise_hidden_ratio must be >= 0 (0: no module), got {noise_hidden_ratio}")
        self.n_terms = int(n_terms)
        self.n_terms_schedule = ProgressSchedule(start=float(self.n_terms),
                                                 end=float(self.n_terms) * FDA_TERMS.end / FDA_TERMS.start,
                                                 shape=FDA_TERMS.shape)
        self.omega = omega
        self.scale_per_channel = scale_per_channel
        self.channel_axis = channel_axis
        self.noise_hidden_ratio = int(noise_hidden_ratio)
        self.noise_weight = FDA_NOISE_WEIGHT
        super().__init__(**kwargs)

    def _vector_axis_last(self, rank):
        """Permutation that puts the binarized vectors on the last axis (weights: channel axis first)."""
        if not self.scale_per_channel:
            return None
        channel = self.channel_axis % rank
        return [channel] + [axis for axis in range(rank) if axis != channel]

    def build(self, input_shape):
        super().build(input_shape)
        self.noise_layers = None
        if not self.noise_hidden_ratio:
            return
        shape = list(tf.TensorShape(input_shape))
        if self.scale_per_channel:  # a kernel: every dimension is known
            length = int(np.prod(shape)) // int(shape[self.channel_axis % len(shape)])
        else:  # activations: the channel vector of each pixel
            length = int(shape[-1])
        hidden = max(length // self.noise_hidden_ratio, 1)
        self.noise_layers = tuple(
            # PyTorch's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); one initializer per weight.
            self.add_weight(name=name, shape=shape, initializer=tf.keras.initializers.VarianceScaling(
                scale=1.0 / 3.0, mode="fan_in", distribution="uniform"))
            for name, shape in (("noise_w1", (length, hidden)), ("noise_w2", (hidden, length))))

    def noise(self, inputs):
        """The module's e(t) = W_2 ReLU(W_1 t) + 0.1 sin(t) on every binarized vector of ``inputs``."""
        w1, w2 = self.noise_layers
        perm = self._vector_axis_last(inputs.shape.rank)
        t = inputs
        if perm is not None:  # (C_out, d): one row per weight filter
            t = tf.reshape(tf.transpose(inputs, perm), (inputs.shape[perm[0]], -1))
        e = tf.einsum("...h,hd->...d", tf.nn.relu(tf.einsum("...d,dh->...h", t, w1)), w2)
        if perm is not None:
            e = tf.transpose(tf.reshape(e, [inputs.shape[axis] for axis in perm]), np.argsort(perm))
        return e + FDA_SINE_WEIGHT * tf.sin(inputs)

    def call(self, inputs, training=None):
        omega, max_terms = self.omega, int(round(self.n_terms_schedule.end))
        n_terms = tf.floor(self.n_terms_schedule(self.progress))

        @tf.custom_gradient
        def _forward(x):
            return lq.math.sign(x), lambda dy: dy * fourier_sign_gradient(x, n_terms, omega, max_terms)

        outputs = _forward(inputs)
        if self.noise_layers is not None and training is not None:
            outputs = tf.__internal__.smart_cond.smart_cond(
                training, lambda: outputs + self.noise_weight(self.progress) * self.noise(inputs), lambda: outputs)
        if self.scale_per_channel:
            axes = _reduce_axes_except(inputs.shape.rank, self.channel_axis)
            outputs = outputs * tf.stop_gradient(tf.reduce_mean(tf.abs(inputs), axis=axes, keepdims=True))
        return super().call(outputs)

    def get_config(self):
        return {**super().get_config(), "n_terms": self.n_terms, "omega": self.omega,
                "scale_per_channel": self.scale_per_channel, "channel_axis": self.channel_axis,
                "noise_hidden_ratio": self.noise_hidden_ratio}
