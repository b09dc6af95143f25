"""HRNet-W32 (Sun et al., CVPR 2019) and BiHRNet (arXiv 2311.10296) in the Keras functional API.

One definition serves every network of the BiHRNet comparison table: the method preset
(:mod:`bhpe_tf.binary.methods`) decides whether each conv is binary and what surrounds it, and
the block functions below decide the topology.

HRNet-W32 (the official ``pose_hrnet.py`` with ``w32_256x192_adam_lr1e-3.yaml``)::

    stem      3x3 s2 conv 64 -> BN -> ReLU -> 3x3 s2 conv 64 -> BN -> ReLU           (1/4 resolution)
    stage 1   4 Bottlenecks, 64 -> 256 channels (expansion 4, 1x1 downsample in the first)
    stage 2   transition 256 -> [32, 64];            1 module  of 4 BasicBlocks per branch + fuse
    stage 3   transition -> [32, 64, 128];           4 modules
    stage 4   transition -> [32, 64, 128, 256];      3 modules, the last one fusing only into branch 0
    head      1x1 conv with bias, 32 -> K heatmaps at 1/4 resolution (64x48x17 COCO, 64x64x16 MPII)

Fuse layer, output branch i from input branch j: ``j > i`` 1x1 conv + BN + nearest upsampling by
2^(j-i); ``j == i`` identity; ``j < i`` a chain of i-j 3x3 stride-2 conv + BN, ReLU between
them; the contributions are summed, then ReLU. 28.54 M parameters, 7.7 G MACs at 256x192.
The input is the normalised image (ImageNet mean / std); the data pipeline normalises.

Binarization of the same topology with any preset (``build_hrnet_w32(method="bnn")`` is the
"BNN HRNet" row of a comparison table; ``reactnet``, ``xnor``, ... likewise). Decisions, taken
here because the BiHRNet paper body is not available (docs/DESIGN.md §7, §12):

* **Full precision**: the stem (two 3x3 s2 convs) and the final 1x1 heatmap conv, plus
  everything a binary network always keeps real (BN, PReLU / biases, upsampling, shortcut adds).
  Every other conv is binary: stage-1 convs, transition convs, BasicBlock convs, and the **fuse
  layers** (both the 1x1 up-path convs and the 3x3 s2 down-path convs: they are 27 % of HRNet's
  parameters, leaving them FP would cost ~7.8 M real parameters). The stage-1 downsample shortcut
  follows the preset's ``binary_downsample`` (binary for the baselines, FP Block Residual for BiDRN).
* **No ReLU feeds a sign**: a ReLU output binarizes to all +1 ("binarization failure"). Every place
  where HRNet applies ReLU to a tensor that a binary conv reads (the stem's output, block outputs,
  the fuse "sum then ReLU", transitions) uses the preset's activation instead
  (:func:`bhpe_tf.binary.builders.activation`: ReLU for FP, RPReLU for ReActNet / BiDRN, identity
  for BNN-style presets, whose clipped STE already acts as Hardtanh). For ``method="fp"`` this is
  exactly HRNet.

BiHRNet (:func:`build_bihrnet`): a real-valued shortcut around *every* binary conv (the preset is
forced to ``conv_residual="lcr"``: identity, channel-group mean, channel repeat or average pooling
so that even shape-changing convs keep one; where the conv writes into a block or fuse sum, that
sum's real path is its shortcut, see below), RSign thresholds and RPReLU (``bidrn`` preset by
default), the **IR Bottleneck** in stage 1 and the **MS-Block** in stages 2-4, each chosen among
the candidate designs of docs/DESIGN.md §7 by a flag (see :func:`ir_bottleneck`, :func:`ms_block`).
MS-Blocks keep the branch widths, so transitions and fuse layers are those of HRNet.

**Real-valued paths, and why BiHRNet once exploded.** A binary conv is blind to the scale of its
input (sign), so nothing stops the real-valued paths around it from growing; they must be bounded by
construction. The rule here, as in Bi-Real Net and ReActNet: *every tensor carries exactly one
real-valued path, and every binary conv adds one BN-normalised contribution to it.* Two paths that
carry the same signal are never summed. Measured at init (W32, all four stages, 128x96, random
N(0, 1) input, inference mode; ``python -m bhpe_tf.stats --model bihrnet --activations``):

* before: every block summed its identity with the chain of per-conv (LCR) shortcuts, which already
  carry the input, so the real path doubled per block (stage-1 output 8.9 after four Bottlenecks,
  x1.9 each; x1.8 per MS-Block); every fuse summed the LCR shortcuts of all branches, i.e. up to four
  copies of one real path (x2-3.5 per fuse). 1 + 4 + 3 modules of 4 blocks compounded to 2.4e13 at
  the last fuse and a heatmap std of 2.3e12 (2.2e12 in training mode; FP HRNet-W32: 0.036);
* fix (:func:`bhpe_tf.binary.builders.conv_unit` ``shortcut="block"``): the last conv of a block
  takes the block's identity / projection as its real shortcut instead of a second one of its own;
  the MS-Block's convs take their slice of the block input; a fuse conv takes its target branch as
  its shortcut (:func:`fuse_layers`);
* after: stage-1 output 0.67, last fuse 4.2, heatmaps 0.030 (training mode 0.035), within 1.2x of
  the FP network, for every stage-1 / MS-Block variant and every method preset
  (``tests/test_activation_scale.py``). The real path now grows only by one unit-variance
  contribution per conv, i.e. as the square root of depth, like a full-precision ResNet's.

An alternative fuse was tried and is not offered: every fuse conv keeping its own shortcut (channel-
group mean before upsampling, average pooling + channel repeat on the down path) and the terms
*averaged*. Its forward pass is bounded (last fuse 3.2, heatmaps 0.015), but its backward pass is
not: at the 1/32 branch the averaged, pooled real paths keep one sign per channel over the whole
map, so every binary conv there sees a constant input, its BN (batch statistics) a zero variance,
and each of those BNs multiplies the gradient by 1 / sqrt(eps) = 32: gradient norm 1.8e13 at 64x64
(batch 8) and overflow to inf at 128x96 (batch 2), against 0.2-0.4 for the highway fuse.

Layer names start with their part of the network (``stem``, ``stage1``, ``transition2``,
``stage3`` ..., ``head``) so :func:`layer_group` groups parameter / OP counts by stage.
"""
import functools
from typing import Sequence

import tensorflow as tf

from bhpe_tf.binary.builders import activation, conv_unit, model_padding, shortcut_method
from bhpe_tf.binary.layers import ChannelSlice
from bhpe_tf.binary.methods import BinaryMethod, get_method, method_with
from bhpe_tf.errors import InvalidInputError, UnknownNameError
from bhpe_tf.models import resnet

STEM_CHANNELS = 64
BOTTLENECK_PLANES = 64  # stage 1: 64 -> 256 (expansion 4)
BOTTLENECK_EXPANSION = 4
STAGE_MODULES = (1, 4, 3)  # modules of stages 2, 3, 4
NUM_BLOCKS = 4  # blocks per branch per module, and Bottlenecks in stage 1

STAGE1_VARIANTS = ("ir_a", "ir_b", "fp")
MS_BLOCK_VARIANTS = ("ms_a", "ms_b", "basic")
MS_B_DILATIONS = (1, 2, 3)

DEFAULT_BINARY_METHOD = "bidrn"


# --------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------

def stem(x, *, method, channels=STEM_CHANNELS, name="stem"):
    """Two full-precision 3x3 stride-2 convs (HRNet's conv1/conv2), to 1/4 resolution.

    The first ends in ReLU (it feeds a float conv); the second ends in the *method's* activation
    because in a binary network it feeds the first sign (for FP that is ReLU, as in HRNet).
    """
    x = conv_unit(x, channels, 3, method="fp", strides=2, name=f"{name}_conv1")
    x = conv_unit(x, channels, 3, method="fp", strides=2, activate=False, name=f"{name}_conv2")
    return activation(x, method=method, name=f"{name}_conv2_act")


def _block_shortcut(x, filters, *, method, name):
    if x.shape[-1] == filters:
        return x
    return conv_unit(x, filters, 1, method=shortcut_method(method), activate=False, name=f"{name}_downsample")


def bottleneck(x, planes=BOTTLENECK_PLANES, *, method, out_method=None, name):
    """ResNet Bottleneck (He et al. 2016) as in HRNet's stage 1: 1x1 -> 3x3 -> 1x1 (x4) + shortcut.

    Each conv is a :func:`conv_unit` of ``method``; under an LCR preset this *is* IR Bottleneck (a):
    the 256 -> 64 reduction gets a channel-group-mean residual, the 3x3 an identity, and the
    64 -> 256 expansion has the block's shortcut (identity, or the 1x1 projection of the first
    block) as its real path, the one real path of the block output. ``out_method`` sets the block's
    output activation (default ``method``): a full-precision stage 1 inside a binary network ends
    its blocks with the binary method's activation so that no ReLU output reaches a sign.
    """
    method = get_method(method)
    filters = planes * BOTTLENECK_EXPANSION
    shortcut = _block_shortcut(x, filters, method=method, name=name)
    y = conv_unit(x, planes, 1, method=method, name=f"{name}_conv1")
    y = conv_unit(y, planes, 3, method=method, name=f"{name}_conv2")
    y = conv_unit(y, filters, 1, method=method, shortcut="block", activate=False, name=f"{name}_conv3")
    y = tf.keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return activation(y, method=out_method or method, name=f"{name}_out")


def ir_bottleneck(x, planes=BOTTLENECK_PLANES, *, method, variant="ir_a", name):
    """BiHRNet's Information-Retention Bottleneck for stage 1 (design choices of this project).

    * ``"ir_a"``: :func:`bottleneck` with a real shortcut around every binary conv (LCR).
    * ``"ir_b"``: as (a), plus the real-valued input of the 3x3 binary conv is concatenated back
      after it and the pair is fused by a cheap real 1x1 conv (2*planes -> planes, + BN + the
      method's activation) before the 1x1 expansion. The fuse works at the bottleneck width
      (8 k real weights, 25 M real MACs per block at 64x48) rather than at 256 channels, where a
      real 1x1 fuse would cost 0.4 G MACs per block, more than a full-precision stage 1.
    * ``"fp"``: the Bottleneck in full precision (ReLU inside; the block output uses the binary
      method's activation so no ReLU feeds a sign): +0.87 G real MACs at 256x192.
    """
    method = get_method(method)
    if variant == "ir_a":
        return bottleneck(x, planes, method=method, name=name)
    if variant == "fp":
        return bottleneck(x, planes, method="fp", out_method=method, name=name)
    if variant != "ir_b":
        raise UnknownNameError("stage1 variant", variant, STAGE1_VARIANTS)
    filters = planes * BOTTLENECK_EXPANSION
    shortcut = _block_shortcut(x, filters, method=method, name=name)
    reduced = conv_unit(x, planes, 1, method=method, name=f"{name}_conv1")
    y = conv_unit(reduced, planes, 3, method=method, name=f"{name}_conv2")
    y = tf.keras.layers.Concatenate(name=f"{name}_retain")([y, reduced])
    y = conv_unit(y, planes, 1, method="fp", activate=False, name=f"{name}_fuse")
    y = activation(y, method=method, name=f"{name}_fuse_act")
    y = conv_unit(y, filters, 1, method=method, shortcut="block", activate=False, name=f"{name}_conv3")
    y = tf.keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return activation(y, method=method, name=f"{name}_out")


def basic_block(x, *, method, name):
    """ResNet BasicBlock (He et al. 2016): 3x3 -> 3x3 + identity, the block of HRNet's branches
    (:func:`bhpe_tf.models.resnet.basic_block` at the input's width, stride 1)."""
    return resnet.basic_block(x, x.shape[-1], method=method, name=name)


def ms_block(x, *, method, variant="ms_a", name):
    """BiHRNet's Multi-Scale block for stages 2-4 (design choices of this project).

    Same input and output channels C as a BasicBlock, so HRNet's transitions and fuse layers are
    unchanged. Every conv is a :func:`conv_unit` (binary conv -> BN -> + its real shortcut ->
    activation), and the block's output carries exactly one copy of its input as real-valued path.

    * ``"ms_a"``, hierarchical (Res2Net-like): three chained binary 3x3 convs with C/2, C/4, C/4
      outputs (receptive fields 3, 5, 7), concatenated back to C. The real shortcut of conv k is the
      matching channel slice of the block input (k = 1: channels [0, C/2), 2: [C/2, 3C/4),
      3: [3C/4, C)), so the concatenation's real path is the input itself and each conv adds one
      BN-normalised contribution; conv k+1 reads the activated sum of conv k (its multi-scale input).
      0.34x the binary weights of a BasicBlock.
    * ``"ms_b"``, parallel dilations: three binary 3x3 convs C -> C with dilation 1, 2, 3 on the
      same input, each with its own identity shortcut; the three are *averaged* (a sum would
      triple the real-valued path at every block, 3^n through the network). 1.5x the binary
      weights of a BasicBlock.
    * ``"basic"``: HRNet's BasicBlock (:func:`basic_block`), the ablation baseline.
    """
    if variant == "basic":
        return basic_block(x, method=method, name=name)
    channels = x.shape[-1]
    if variant == "ms_a":
        if channels % 4:
            raise InvalidInputError(f"MS-Block (a) needs channels divisible by 4, got {channels} at {name}")
        bounds = (0, channels // 2, 3 * channels // 4, channels)
        parts, y = [], x
        for k in range(3):
            start, stop = bounds[k], bounds[k + 1]
            contribution = conv_unit(y, stop - start, 3, method=method, shortcut="block", activate=False,
                                     name=f"{name}_conv{k + 1}")
            shortcut = ChannelSlice(start, stop, name=f"{name}_conv{k + 1}_slice")(x)
            y = tf.keras.layers.Add(name=f"{name}_conv{k + 1}_add")([contribution, shortcut])
            y = activation(y, method=method, name=f"{name}_conv{k + 1}_act")
            parts.append(y)
        return tf.keras.layers.Concatenate(name=f"{name}_concat")(parts)
    if variant == "ms_b":
        branches = [conv_unit(x, channels, 3, method=method, dilation_rate=d, name=f"{name}_conv_d{d}")
                    for d in MS_B_DILATIONS]
        return tf.keras.layers.Average(name=f"{name}_mean")(branches)
    raise UnknownNameError("ms_block variant", variant, MS_BLOCK_VARIANTS)


_MS_BLOCK_FN = ms_block  # build_bihrnet's ``ms_block`` flag shadows the function's name


# --------------------------------------------------------------------------------------------
# Multi-resolution parts
# --------------------------------------------------------------------------------------------

def transition(features: Sequence, channels: Sequence[int], *, method, name):
    """HRNet's transition layer: adapt existing branches, open new lower-resolution ones.

    Branch i < len(features): a 3x3 conv (+BN +act) where the width changes, else identity.
    A new branch: a chain of 3x3 stride-2 convs from the lowest-resolution input.
    """
    outputs = []
    for i, filters in enumerate(channels):
        if i < len(features):
            x = features[i]
            if x.shape[-1] != filters:
                x = conv_unit(x, filters, 3, method=method, name=f"{name}_b{i}")
            outputs.append(x)
            continue
        x = features[-1]
        steps = i + 1 - len(features)
        for k in range(steps):
            out = filters if k == steps - 1 else x.shape[-1]
            x = conv_unit(x, out, 3, method=method, strides=2, name=f"{name}_b{i}_down{k}")
        outputs.append(x)
    return outputs


def fuse_layers(features: Sequence, *, method, multi_scale_output=True, name):
    """HRNet's exchange unit: every output branch i sums all input branches j, then activation.

    j > i: 1x1 conv (C_j -> C_i) + BN, nearest upsampling x2^(j-i); j < i: i-j 3x3 stride-2 convs
    + BN with activations between them; then sum and the method's activation (ReLU in FP).
    Binary methods binarize these convs as well (see the module docstring).

    Real-valued paths of a binary fuse (a "highway"; identical to HRNet's for FP and for presets
    without per-conv shortcuts): output branch i's own input is the real shortcut of every conv
    that writes into it, so each fuse output carries one real path (its branch) plus one
    BN-normalised contribution per other branch, exactly HRNet's sum. The inner convs of a
    multi-step down path keep their own shortcuts (they feed only the next sign). Summing per-conv
    shortcuts instead multiplies the real path by up to the number of branches at every fuse (x3.5
    measured per stage-4 fuse, part of the 1e12 explosion); averaging them is bounded forward but
    not backward (module docstring).
    """
    if len(features) == 1:
        return list(features)
    outputs = []
    for i in range(len(features) if multi_scale_output else 1):
        target = features[i].shape[-1]
        terms = []
        for j, x in enumerate(features):
            if j == i:
                terms.append(x)
            elif j > i:
                y = conv_unit(x, target, 1, method=method, shortcut="block", activate=False,
                              name=f"{name}_{i}from{j}")
                terms.append(tf.keras.layers.UpSampling2D(2 ** (j - i), interpolation="nearest",
                                                          name=f"{name}_{i}from{j}_up")(y))
            else:
                y = x
                for k in range(i - j):
                    last = k == i - j - 1
                    y = conv_unit(y, target if last else x.shape[-1], 3, method=method, strides=2,
                                  shortcut="block" if last else "own", activate=not last,
                                  name=f"{name}_{i}from{j}_down{k}")
                terms.append(y)
        y = tf.keras.layers.Add(name=f"{name}_{i}_sum")(terms)
        outputs.append(activation(y, method=method, name=f"{name}_{i}_act"))
    return outputs


def hr_module(features: Sequence, *, method, block, num_blocks=NUM_BLOCKS, multi_scale_output=True, name):
    """One high-resolution module: ``num_blocks`` blocks on every branch, then :func:`fuse_layers`."""
    branches = []
    for i, x in enumerate(features):
        for k in range(num_blocks):
            x = block(x, method=method, name=f"{name}_b{i}_blk{k + 1}")
        branches.append(x)
    return fuse_layers(branches, method=method, multi_scale_output=multi_scale_output, name=f"{name}_fuse")


HEAD_INIT_STD = 0.001  # HRNet's init_weights: every conv N(0, 0.001), biases 0


def head(x, num_joints, *, name="head"):
    """HRNet's ``final_layer``: full-precision 1x1 conv with bias to one heatmap per joint.

    Initialised as HRNet's ``init_weights`` (kernel N(0, 0.001), bias 0), not Keras' Glorot: the
    features reaching the head have a std of a few units (the real-valued path grows with the
    square root of depth, module docstring), and a Glorot head would then start at heatmap values
    of several units against [0, 1] targets; the tiny BiHRNet demo spent its whole budget shrinking
    that and never formed peaks (PCK 0.04 -> 0.03 in 150 steps; 0.04 -> 0.47 with this init).
    """
    return tf.keras.layers.Conv2D(num_joints, 1, use_bias=True, name=name,
                                  kernel_initializer=tf.keras.initializers.RandomNormal(stddev=HEAD_INIT_STD),
                                  bias_initializer="zeros")(x)


# --------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------

def _check_common(input_shape, num_joints, width, stage_modules, num_blocks):
    if len(tuple(input_shape)) != 3 or any(d is None or int(d) <= 0 for d in input_shape):
        raise InvalidInputError(f"input_shape must be (height, width, channels) with fixed sizes, got {input_shape}")
    height, wide = int(input_shape[0]), int(input_shape[1])
    if height % 32 or wide % 32:
        raise InvalidInputError(f"HRNet needs input height and width divisible by 32 (four branches at 1/4 ... "
                                f"1/32 resolution must upsample back exactly), got {height}x{wide}")
    if int(num_joints) < 1:
        raise InvalidInputError(f"num_joints must be >= 1, got {num_joints}")
    if int(width) < 4 or int(width) % 4:
        raise InvalidInputError(f"width must be a positive multiple of 4, got {width}")
    if len(tuple(stage_modules)) != 3 or any(int(m) < 1 for m in stage_modules) or int(num_blocks) < 1:
        raise InvalidInputError(f"stage_modules needs three counts >= 1 and num_blocks >= 1, got "
                                f"{stage_modules}, {num_blocks}")


def _build(*, input_shape, num_joints, method, width, stage_modules, num_blocks, stage1_block, branch_block,
           name):
    method = get_method(method)
    inputs = tf.keras.Input(shape=tuple(int(d) for d in input_shape), name="image")
    x = stem(inputs, method=method)
    for k in range(num_blocks):
        x = stage1_block(x, method=method, name=f"stage1_blk{k + 1}")
    features = [x]
    for stage, modules in zip((2, 3, 4), stage_modules):
        channels = [width * 2 ** i for i in range(stage)]
        features = transition(features, channels, method=method, name=f"transition{stage - 1}")
        for m in range(modules):
            last = stage == 4 and m == modules - 1
            features = hr_module(features, method=method, block=branch_block, num_blocks=num_blocks,
                                 multi_scale_output=not last, name=f"stage{stage}_m{m + 1}")
    outputs = head(features[0], int(num_joints))
    return tf.keras.Model(inputs, outputs, name=name)


def build_hrnet_w32(*, input_shape=(256, 192, 3), num_joints=17, method="fp", width=32,
                    stage_modules=STAGE_MODULES, num_blocks=NUM_BLOCKS, padding="keras", name=None) -> tf.keras.Model:
    """HRNet (Sun et al., CVPR 2019, "Deep High-Resolution Representation Learning for Human Pose
    Estimation"), SimpleBaseline-style heatmap head, binarized per ``method``.

    Defaults give HRNet-W32 for COCO: 256x192x3 -> 64x48x17 heatmaps, 28.54 M parameters. MPII:
    ``input_shape=(256, 256, 3), num_joints=16``. ``width`` 48 gives HRNet-W48. ``stage_modules``
    (modules of stages 2/3/4) and ``num_blocks`` (blocks per branch and stage-1 Bottlenecks)
    shrink the network for tests; the defaults are the published structure.

    ``method`` is any preset of :mod:`bhpe_tf.binary.methods` (``"bnn"`` gives BNN-HRNet etc.):
    see the module docstring for which layers stay full precision.

    ``padding="torch"`` (full precision only) pads the strided convs as PyTorch does, so weights
    imported from the official checkpoints (:mod:`bhpe_tf.import_weights`) compute the PyTorch
    function; see :func:`bhpe_tf.binary.builders.fp_conv`.
    """
    method = get_method(method)
    _check_common(input_shape, num_joints, width, stage_modules, num_blocks)
    with model_padding(padding, method=method):
        return _build(input_shape=input_shape, num_joints=num_joints, method=method, width=int(width),
                      stage_modules=tuple(stage_modules), num_blocks=int(num_blocks),
                      stage1_block=bottleneck, branch_block=basic_block,
                      name=name or (f"hrnet_w{width}" if method.name == "fp" else f"{method.name}_hrnet_w{width}"))


def bihrnet_method(method=DEFAULT_BINARY_METHOD) -> BinaryMethod:
    """The preset as BiHRNet uses it: a real shortcut around every binary conv (``conv_residual="lcr"``)."""
    method = get_method(method)
    if not method.binary:
        raise InvalidInputError(f"BiHRNet needs a binary method, got {method.name!r}; use build_hrnet_w32 "
                                "for the full-precision HRNet")
    return method if method.conv_residual == "lcr" else method_with(method, conv_residual="lcr")


def build_bihrnet(*, input_shape=(256, 192, 3), num_joints=17, method=DEFAULT_BINARY_METHOD,
                  stage1="ir_a", ms_block="ms_a", width=32, stage_modules=STAGE_MODULES,
                  num_blocks=NUM_BLOCKS, name=None) -> tf.keras.Model:
    """BiHRNet (arXiv 2311.10296): binary HRNet with IR Bottleneck (stage 1) and MS-Block (stages 2-4).

    * ``method``: a binary preset supplying quantizers and activation (default ``"bidrn"``: RSign
      threshold + sign with Hardtanh STE, sign(W) x mean|W| per output channel, RPReLU, FP block
      shortcut in stage 1). Whatever its ``conv_residual``, BiHRNet uses ``"lcr"`` (a real shortcut
      around every binary conv, see :func:`bihrnet_method`).
    * ``stage1``: ``"ir_a"`` | ``"ir_b"`` | ``"fp"`` (:func:`ir_bottleneck`).
    * ``ms_block``: ``"ms_a"`` | ``"ms_b"`` | ``"basic"`` (:func:`ms_block`).
    * FP: stem and head (plus the ``ir_b`` fuse convs or the ``fp`` stage 1).

    Defaults (``ir_a`` + ``ms_a``) are this project's choice of the paper's unpublished blocks:
    the cheapest variants that keep a real path everywhere; ``benchmarks/ablation_bihrnet.py``
    compares all of them. Trained by :class:`bhpe_tf.training.tasks.HeatmapTask` with
    :class:`bhpe_tf.losses.heatmap.DistillationLoss` (AWing + KL to a frozen HRNet-W32 teacher).
    """
    if stage1 not in STAGE1_VARIANTS:
        raise UnknownNameError("stage1 variant", str(stage1), STAGE1_VARIANTS)
    if ms_block not in MS_BLOCK_VARIANTS:
        raise UnknownNameError("ms_block variant", str(ms_block), MS_BLOCK_VARIANTS)
    method = bihrnet_method(method)
    _check_common(input_shape, num_joints, width, stage_modules, num_blocks)
    return _build(input_shape=input_shape, num_joints=num_joints, method=method, width=int(width),
                  stage_modules=tuple(stage_modules), num_blocks=int(num_blocks),
                  stage1_block=functools.partial(ir_bottleneck, variant=stage1),
                  branch_block=functools.partial(_MS_BLOCK_FN, variant=ms_block),
                  name=name or f"bihrnet_{stage1}_{ms_block}")


def layer_group(layer_name: str) -> str:
    """Group a layer by network part for :func:`bhpe_tf.counting.count_model` (stem, stage1,
    transition1, stage2, ..., head)."""
    return layer_name.split("/")[-1].split("_")[0]


__all__ = [
    "MS_BLOCK_VARIANTS", "STAGE1_VARIANTS", "basic_block", "bihrnet_method", "bottleneck", "build_bihrnet",
    "build_hrnet_w32", "fuse_layers", "head", "hr_module", "ir_bottleneck", "layer_group", "ms_block", "stem",
    "transition",
]
