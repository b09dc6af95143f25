"""The method table: every binarization method of the BinaryHPE paper's Table 1, in one place.

Every model of the project (ResNet encoders, BoxNet, HRNet) reads its binarization from a
:class:`BinaryMethod`, so one flag (``--method``) switches a whole network. A preset fixes:

* ``activation_quantizer`` / ``weight_quantizer``: factories of the Larq quantizers of the
  method (forward +-1 / +-alpha, so LCE converts the conv to ``LceBconv2d``, except in the papers'
  float-only forms below); ``activation_levels`` says which two values the activations take;
* ``learnable_threshold``: RSign, a per-channel learnable bias before the sign;
* ``conv_residual``: the real-valued shortcut around each binary conv: ``"none"``; ``"matching"``
  (Bi-Real Net: identity where the shape is unchanged, 2x2 average pooling where only the
  resolution halves, nothing elsewhere); ``"lcr"`` (BiDRN's Local Convolution Residual with its
  Fusion Down / Fusion Up / Down Scale / Down Sample variants, so every binary conv has one);
* ``activation``: what follows BN (+ residual): ``"identity"`` (the sign's clipped STE already
  acts as Hardtanh), ``"rprelu"`` (ReActNet), ``"relu"`` (full precision only: a ReLU must never
  feed a sign, it would binarize everything to +1);
* ``output_scale``: ReCU's learnable per-channel alpha;
* ``activation_scaling``: XNOR-Net's K;
* ``shortcut_topology`` and ``downsample``: how residual blocks place their real shortcuts (ResNet
  or Bi-Real) and how a projection shortcut is built (strided 1x1 conv, or Bi-Real's average
  pooling before a 1x1 conv);
* ``binarize_boxnet`` and ``binary_downsample``: which parts of Hand4Whole the method binarizes;
* ``lce_variant``: for a preset LCE cannot run as it is, its deployable neighbour.

Composition of each preset (activation quantizer / gradient; weight quantizer / scale and its
gradient; shortcut topology; extras and training-time schedules; source). "LCE" says whether the
network converts to binary ops as it is; the two that do not are the papers' own forms, each with
its deployable neighbour next to it:

==========  ==========================  ==============================  ====================  ============================  ===
preset      activations / gradient      weights / gradient              shortcuts             extras, schedules (source)    LCE
==========  ==========================  ==============================  ====================  ============================  ===
bnn         sign / STE clip 1           sign / STE clip 1, weight clip  ResNet block          Hubara 2016 eq. 1, 4          yes
xnor        sign x K / STE clip 1;      sign x mean|W_c| (eq. 3-4),     ResNet block          K = mean_c|I| * box filter    no
            K differentiated            scale differentiated (3.1)                            (sec. 3.2, eq. 11)
xnor_nok    sign / STE clip 1           as xnor                         ResNet block          xnor without K                yes
dorefa      round(clip(x,0,1)) {0,1}    sign x E|W| / identity (eq. 7)  ResNet block          zero padding (Zhou 2016)      no
            / STE on [0, 1] (eq. 5)
dorefa_pm1  sign / STE clip 1 (+-1)     as dorefa                       ResNet block          dorefa with +-1 activations   yes
bireal      sign / ApproxSign (eq. 4)   sign x mean|W_c| / STE          one per conv; real    Liu 2018 sec. 3.1-3.2         yes
                                                                        downsample: avgpool
                                                                        -> FP 1x1 -> BN
reactnet    RSign (eq. 2) / ApproxSign  sign x mean|W_c| / STE          one per conv (Bi-     RPReLU (eq. 3), Liu 2020      yes
                                                                        Real), binary 1x1
                                                                        downsample
recu        sign / ApproxSign of        ReCU clamp at Q(tau) of the     ResNet block          alpha; tau 0.85 -> 0.99,      yes
            a/sqrt(Var a) (train only)  standardised w (eq. 9-10)                             A e^p + B (Xu 2021 sec. 4.1)
fda         sign / Fourier (eq. 8),     (sign + eta e) x mean|W_c| /    ResNet block          noise module e (sec. 2.3, eq. yes
            n = 9 -> 18 terms           Fourier                                               13), eta 0.1 -> 0 (cos),
                                                                                              train only (release's form)
bidrn       RSign / STE clip 1          sign x mean|W_c| / STE          LCR + FP block res.   RPReLU, binarized BoxNet      yes
==========  ==========================  ==============================  ====================  ============================  ===

Which form the Table-1 reproduction uses: the papers' own (``xnor``, ``dorefa``) for training and
the accuracy comparison, since BinaryHPE trains each baseline as its paper defines it; their
neighbours (``xnor_nok``, ``dorefa_pm1``) for deployment and for latency rows, which need LCE
binary ops. Parameters and OPs are the same for both forms under the paper's convention (K has no
weights, its float work is not a conv MAC; {0, 1} and +-1 inputs cost the same binary MAC).
Bi-Real's real-valued downsample adds full-precision 1x1 convs the paper's 21.61 M does not hold
(README, counts); ``method_with("bireal", downsample="conv", binary_downsample=True)`` is the
BNN-split count. Schedules: :mod:`bhpe_tf.binary.schedules`.

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


def _xnor_sign(channel_axis=-1):
    return q.ChannelMagnitudeSign(channel_axis=channel_axis, differentiable_scale=True)


def _dorefa_activation(**_):
    return q.DoReFaActivation()


def _dorefa_sign(channel_axis=-1):
    del channel_axis  # one scale for the whole tensor
    return q.DoReFaSign()


def _recu_sign(channel_axis=-1):
    return q.ReCUSign(channel_axis=channel_axis)


def _recu_activation(**_):
    return q.ReCUActivationSign()


# Width of FDA's noise-adaptation module: d / 64 for a binarized vector of length d (the authors'
# released code; the paper gives no sizes). With the modules on every weight filter and activation
# vector, as in the release, FDA counts 33.29 M at full size against the paper's 32.06 M (README, counts).
FDA_NOISE_HIDDEN_RATIO = 64


def _fourier_activation(**_):
    return q.FourierSign(noise_hidden_ratio=FDA_NOISE_HIDDEN_RATIO)


def _fourier_weights(channel_axis=-1):
    return q.FourierSign(scale_per_channel=True, channel_axis=channel_axis, noise_hidden_ratio=FDA_NOISE_HIDDEN_RATIO)


# Valid values of the string fields of BinaryMethod (checked when a preset or an ablation is made).
FIELD_VALUES = {
    "conv_residual": ("none", "matching", "lcr"),
    "activation": ("identity", "rprelu", "relu"),
    "activation_levels": ("pm1", "01"),
    "activation_scaling": ("none", "xnor_k"),
    "shortcut_topology": ("resnet", "bireal"),
    "downsample": ("conv", "avgpool"),
}


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
    # The two values a binary conv's input takes: "pm1" (+-1, what LCE's binary conv runs) or "01"
    # (1-bit DoReFa). Decides the conv's padding value (+1 for "pm1", LCE's fusable pad_values=1;
    # 0 for "01", DoReFa's zero padding) and the BN statistics it starts with.
    activation_levels: str = "pm1"
    # XNOR-Net's activation scaling K after each binary conv ("xnor_k") or none ("none").
    activation_scaling: str = "none"
    # Real-valued shortcuts of the residual blocks: "resnet" (the block shortcut joins the block's
    # last conv, He et al. 2016) or "bireal" (Bi-Real: every binary conv has its own shortcut; the
    # block's projection is the shortcut of the conv that changes the shape). See bhpe_tf.models.resnet.
    shortcut_topology: str = "resnet"
    # Projection shortcut: "conv" (ResNet's strided 1x1 conv + BN) or "avgpool" (Bi-Real's 2x2
    # average pooling, then a stride-1 1x1 conv + BN).
    downsample: str = "conv"
    # None when the preset converts to LCE binary ops as it is; otherwise the preset that is its
    # LCE-deployable neighbour (the converter refuses this one and names that one).
    lce_variant: Optional[str] = None

    def __post_init__(self):
        for field, valid in FIELD_VALUES.items():
            if getattr(self, field) not in valid:
                raise UnknownNameError(field, str(getattr(self, field)), valid)

    @property
    def lce_deployable(self) -> bool:
        """Whether the preset's network runs on LCE with every binary conv an ``LceBconv2d``."""
        return self.lce_variant is None

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
            name="xnor", reference="XNOR-Net, Rastegari et al. ECCV 2016: sign activations scaled by K (sec. 3.2, eq. 11), "
                      "sign(W) x mean|W| per filter (eq. 3-4) with the scale's gradient (sec. 3.1)",
            binary=True, activation_quantizer=_ste_sign, weight_quantizer=_xnor_sign, activation_scaling="xnor_k",
            lce_variant="xnor_nok"),
        BinaryMethod(
            name="xnor_nok", reference="XNOR-Net without K: LCE-deployable form of xnor (sign activations, sign(W) x "
                      "mean|W| per filter with the scale's gradient)",
            binary=True, activation_quantizer=_ste_sign, weight_quantizer=_xnor_sign),
        BinaryMethod(
            name="dorefa", reference="DoReFa-Net, Zhou et al. 2016: 1-bit activations round(clip(x, 0, 1)) in {0, 1} "
                      "(quantize_k, eq. 5), 1-bit weights sign(W) x E|W| (eq. 7), straight-through gradients",
            binary=True, activation_quantizer=_dorefa_activation, weight_quantizer=_dorefa_sign,
            weight_constraint=None, activation_levels="01", lce_variant="dorefa_pm1"),
        BinaryMethod(
            name="dorefa_pm1", reference="DoReFa-Net with +-1 activations: LCE-deployable form of dorefa (sign, STE "
                      "clipped at 1; weights sign(W) x E|W|, eq. 7, identity STE)",
            binary=True, activation_quantizer=_ste_sign, weight_quantizer=_dorefa_sign, weight_constraint=None),
        BinaryMethod(
            name="bireal", reference="Bi-Real Net, Liu et al. ECCV 2018: ApproxSign (eq. 4), magnitude-aware weights, "
                      "one real shortcut per binary conv, real downsample (2x2 avg pool -> FP 1x1 conv -> BN)",
            binary=True, activation_quantizer=_approx_sign, weight_quantizer=_magnitude_sign,
            conv_residual="matching", shortcut_topology="bireal", downsample="avgpool", binary_downsample=False),
        BinaryMethod(
            name="reactnet", reference="ReActNet, Liu et al. ECCV 2020: RSign (eq. 2) + RPReLU (eq. 3) on Bi-Real blocks",
            binary=True, activation_quantizer=_approx_sign, weight_quantizer=_magnitude_sign,
            learnable_threshold=True, conv_residual="matching", shortcut_topology="bireal", activation="rprelu"),
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
# The presets whose networks convert to LCE binary ops as they are (every preset but the papers'
# float-only forms, whose deployable neighbours are in the table too).
LCE_METHOD_NAMES = tuple(name for name, method in METHODS.items() if method.lce_deployable)


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
