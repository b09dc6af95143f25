"""The method table: every binarization method of the BinaryHPE paper's Table 1, in one place.

Every model of the project (ResNet encoders, BoxNet, HRNet) reads its binarization from a
:class:`BinaryMethod`, so one flag (``--method``) switches a whole network. A preset fixes:

* ``activation_quantizer`` / ``weight_quantizer``: factories of the Larq quantizers of the
  method (the forward pass is always +-1 / +-alpha so LCE converts the conv to ``LceBconv2d``);
* ``learnable_threshold``: RSign, a per-channel learnable bias before the sign;
* ``conv_residual``: the real-valued shortcut around each binary conv: ``"none"``; ``"matching"``
  (Bi-Real Net: identity where the shape is unchanged, 2x2 average pooling where only the
  resolution halves, nothing elsewhere); ``"lcr"`` (BiDRN's Local Convolution Residual with its
  Fusion Down / Fusion Up / Down Scale / Down Sample variants, so every binary conv has one);
* ``activation``: what follows BN (+ residual): ``"identity"`` (the sign's clipped STE already
  acts as Hardtanh), ``"rprelu"`` (ReActNet), ``"relu"`` (full precision only: a ReLU must never
  feed a sign, it would binarize everything to +1);
* ``output_scale``: ReCU's learnable per-channel alpha;
* ``binarize_boxnet`` and ``binary_downsample``: which parts of Hand4Whole the method binarizes.

Composition of each preset (activation quantizer / gradient; weight quantizer / scaling; shortcut
topology; extras and training-time schedules; source):

=========  ==========================  ==============================  ===================  ==============================
preset     activations                 weights                         shortcuts            extras, schedules (source)
=========  ==========================  ==============================  ===================  ==============================
bnn        sign / STE clip 1           sign / STE clip 1, weight clip  ResNet block         Hubara 2016 eq. 1, 4
xnor       sign / STE clip 1           sign x mean|W_c| (eq. 3-4)      ResNet block         K not applied (LCE form)
dorefa     sign / STE clip 1 (+-1)     sign x E|W| / identity (eq. 7)  ResNet block         {0,1} acts not used (LCE form)
bireal     sign / ApproxSign (eq. 4)   sign x mean|W_c|                own where shape ok   Liu 2018
reactnet   RSign (eq. 2) / ApproxSign  sign x mean|W_c|                own where shape ok   RPReLU (eq. 3), Liu 2020
recu       sign / ApproxSign of        ReCU clamp at Q(tau) of the     ResNet block         alpha; tau 0.85 -> 0.99,
           a/sqrt(Var a) (train only)  standardised w (eq. 9-10)                            A e^p + B (Xu 2021 sec. 4.1)
fda        sign / Fourier (eq. 8)      sign x mean|W_c| / Fourier      ResNet block         noise module (sec. 2.3, eq.
                                                                                            13), eta 1 -> 0, train only
bidrn      RSign / STE clip 1          sign x mean|W_c|                LCR + FP block res.  RPReLU, binarized BoxNet
=========  ==========================  ==============================  ===================  ==============================

The XNOR and DoReFa rows are the LCE-deployable forms used for the Table-1 reproduction (the deployed
BinaryHPE baselines are LCE networks); the papers' K scaling and {0, 1} activations are documented
deviations. Schedules: :mod:`bhpe_tf.binary.schedules`.

The split that reproduces the paper's 21.61 M for the baselines: stems FP, every other backbone
conv binary *including* the downsample shortcuts, heads and BoxNet FP. BiDRN keeps the block
residual's 1x1 stride-2 shortcut full precision (Block Residual) and binarizes the BoxNet.
"""
import dataclasses
from typing import Callable, Optional

import larq as lq

from bhpe_tf.binary import quantizers as q
from bhpe_tf.errors import UnknownNameError

QuantizerFactory = Callable[..., Optional[lq.quantizers._BaseQuantizer]]


def _none(**_):
    return None


def _ste_sign(**_):
    # Hardtanh STE: gradient 1 on [-1, 1], 0 outside (Hubara et al. 2016, "straight-through").
    return lq.quantizers.SteSign(clip_value=1.0)


def _approx_sign(**_):
    return lq.quantizers.ApproxSign()


def _ste_sign_weights(channel_axis=-1):
    del channel_axis  # pure +-1, no scale
    return lq.quantizers.SteSign(clip_value=1.0)


def _magnitude_sign(channel_axis=-1):
    return q.ChannelMagnitudeSign(channel_axis=channel_axis)


def _dorefa_sign(channel_axis=-1):
    del channel_axis  # one scale for the whole tensor
    return q.DoReFaSign()


def _recu_sign(channel_axis=-1):
    return q.ReCUSign(channel_axis=channel_axis)


def _recu_activation(**_):
    return q.ReCUActivationSign()


# Width of FDA's noise-adaptation module: d / 64 for a binarized vector of length d (the paper gives
# no sizes). On weights alone this is the +10.40 M that brings the BNN split's 21.61 M to the paper's
# 32.06 M; with the activation modules (+1.28 M) the faithful FDA counts 33.29 M (README, counts).
FDA_NOISE_HIDDEN_RATIO = 64


def _fourier_activation(**_):
    return q.FourierSign(noise_hidden_ratio=FDA_NOISE_HIDDEN_RATIO)


def _fourier_weights(channel_axis=-1):
    return q.FourierSign(scale_per_channel=True, channel_axis=channel_axis, noise_hidden_ratio=FDA_NOISE_HIDDEN_RATIO)


@dataclasses.dataclass(frozen=True)
class BinaryMethod:
    """One row of the method table. Build with :func:`get_method`; fields documented above."""

    name: str
    reference: str
    binary: bool
    activation_quantizer: QuantizerFactory = _none
    weight_quantizer: QuantizerFactory = _none
    # Latent weights are clipped to [-1, 1] wherever the weight STE is clipped there, so no weight
    # drifts out of the gradient window and starves (Larq's warning); ReCU and DoReFa pass gradients
    # through their own clamp / identity STE and need no clip.
    weight_constraint: Optional[str] = "weight_clip"
    learnable_threshold: bool = False
    conv_residual: str = "none"
    activation: str = "identity"
    output_scale: bool = False
    binarize_boxnet: bool = False
    binary_downsample: bool = True

    def quant_conv_kwargs(self, *, channel_axis: int = -1) -> dict:
        """Keyword arguments for ``lq.layers.QuantConv2D`` (or ``QuantConv2DTranspose``) of this method."""
        if not self.binary:
            return {}
        return {
            "input_quantizer": self.activation_quantizer(),
            "kernel_quantizer": self.weight_quantizer(channel_axis=channel_axis),
            "kernel_constraint": self.weight_constraint,
        }


_FP = BinaryMethod(
    name="fp", reference="Full precision (Hand4Whole, Moon et al. CVPRW 2022; HRNet, Sun et al. CVPR 2019)",
    binary=False, weight_constraint=None, activation="relu", binary_downsample=False)

METHODS = {
    method.name: method
    for method in (
        _FP,
        BinaryMethod(
            name="bnn", reference="BNN, Hubara et al. NeurIPS 2016: sign/sign, STE clipped at 1, weight clip",
            binary=True, activation_quantizer=_ste_sign, weight_quantizer=_ste_sign_weights),
        BinaryMethod(
            name="xnor", reference="XNOR-Net, Rastegari et al. ECCV 2016: sign activations, sign(W) x mean|W| per filter (eq. 3-4)",
            binary=True, activation_quantizer=_ste_sign, weight_quantizer=_magnitude_sign),
        BinaryMethod(
            name="dorefa", reference="DoReFa-Net, Zhou et al. 2016, 1-bit weights sign(W) x E|W| (eq. 7), identity STE",
            binary=True, activation_quantizer=_ste_sign, weight_quantizer=_dorefa_sign, weight_constraint=None),
        BinaryMethod(
            name="bireal", reference="Bi-Real Net, Liu et al. ECCV 2018: ApproxSign (eq. 4), magnitude-aware weights, real shortcut per conv",
            binary=True, activation_quantizer=_approx_sign, weight_quantizer=_magnitude_sign,
            conv_residual="matching"),
        BinaryMethod(
            name="reactnet", reference="ReActNet, Liu et al. ECCV 2020: RSign (eq. 2) + RPReLU (eq. 3) on Bi-Real blocks",
            binary=True, activation_quantizer=_approx_sign, weight_quantizer=_magnitude_sign,
            learnable_threshold=True, conv_residual="matching", activation="rprelu"),
        BinaryMethod(
            name="recu", reference="ReCU, Xu et al. ICCV 2021: rectified clamp unit (eq. 9-10) on standardised weights, tau 0.85 -> 0.99, "
                      "training-time activation standardisation, learnable alpha",
            binary=True, activation_quantizer=_recu_activation, weight_quantizer=_recu_sign, weight_constraint=None,
            output_scale=True),
        BinaryMethod(
            name="fda", reference="FDA, Xu et al. NeurIPS 2021: Fourier-series sign gradient (eq. 8) + noise-adaptation module "
                      "(sec. 2.3, eq. 13) annealed to 0, training only",
            binary=True, activation_quantizer=_fourier_activation, weight_quantizer=_fourier_weights),
        BinaryMethod(
            name="bidrn", reference="BiDRN, Li et al. 2023 (BinaryHPE): BiDRB = LCR around every binary conv + FP block residual; RSign, RPReLU, Binarized BoxNet",
            binary=True, activation_quantizer=_ste_sign, weight_quantizer=_magnitude_sign,
            learnable_threshold=True, conv_residual="lcr", activation="rprelu",
            binarize_boxnet=True, binary_downsample=False),
    )
}

METHOD_NAMES = tuple(METHODS)


def get_method(name) -> BinaryMethod:
    """Return the preset called ``name`` (a :class:`BinaryMethod` passes through unchanged)."""
    if isinstance(name, BinaryMethod):
        return name
    key = str(name).strip().lower()
    if key not in METHODS:
        raise UnknownNameError("method", str(name), METHOD_NAMES)
    return METHODS[key]


def method_with(name, **changes) -> BinaryMethod:
    """A preset with some fields changed, for ablations (e.g. ``method_with("bidrn", conv_residual="matching")``)."""
    return dataclasses.replace(get_method(name), **changes)
