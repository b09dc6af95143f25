"""Activation scale at initialisation, at the published width and depth (BiHRNet's outputs once reached 1e12).

Every binary HRNet (the nine BiHRNet variants, every method preset applied to HRNet-W32) and every
BinaryHPE encoder (ResNet-50 / ResNet-18 with every method) is built at full width and depth and run
on a standard-normal input. The reference scale is the full-precision network's: HRNet-W32's heatmaps
start at std ~0.036 (its head is N(0, 0.001)), ResNet features at 0.1-2. Asserted, in inference mode
(BN moving statistics) and in training mode (BN on the batch):

* every output std lies in ``HEALTHY_STD`` = [1e-3, 10];
* no merge point inside the network (residual add, fuse sum, concatenation) exceeds ``MAX_INNER_STD``:
  a network whose real-valued path doubles per block fails here even if its head scales it down
  (before the fix the default BiHRNet reached 2.4e13 at its last fuse);
* the gradient of a mean-square loss is finite with global norm within ``GRAD_NORM``.

Only the spatial size is reduced (64x64 for HRNet, 128x96 for the encoders): the growth per block is
a property of depth, not of resolution.
"""
import math

import numpy as np
import pytest

import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from bhpe_tf import diagnostics
from bhpe_tf.binary import METHOD_NAMES, get_method
from bhpe_tf.models.hrnet import MS_BLOCK_VARIANTS, STAGE1_VARIANTS, build_bihrnet, build_hrnet_w32
from bhpe_tf.models.resnet import build_resnet

MAX_INNER_STD = 50.0
GRAD_NORM = (1e-4, 1e3)  # FP ResNet-50 itself starts at 100-200; an exploding network gives >1e6
# 1-bit DoReFa's {0, 1} activations (the paper's form): backward through a binary conv + BN the
# gradient is passed where 0 <= x <= 1 (P ~ 0.34 for the BN-normalised inputs) and divided by the
# conv output's std, which {0, 1} inputs make small (Var a = p (1 - p) ~ 0.21 for p = P(x > 0.5)
# ~ 0.31, against 1 for +-1): a gain of ~0.34 / 0.21 = 1.6 per conv in the squared norm, against
# ~0.68 for +-1. Measured on ResNet-50 at init: 1.9e4 (stem kernel 1.8e4; dorefa_pm1: 6.3). A
# property of the method, not of the architecture (forward scales are the same as dorefa_pm1's).
GRAD_NORM_OF = {"dorefa": (1e-4, 1e5)}
HRNET_INPUT = (64, 64, 3)
ENCODER_INPUT = (128, 96, 3)
BINARY_METHODS = [m for m in METHOD_NAMES if m != "fp"]

BIHRNET_VARIANTS = [(s, m) for s in STAGE1_VARIANTS for m in MS_BLOCK_VARIANTS]
# build_hrnet_w32(method="bidrn") is the same network as BiHRNet ir_a + basic (bidrn already puts an
# LCR around every conv, ir_a is HRNet's Bottleneck and "basic" its BasicBlock):
# test_bidrn_hrnet_is_bihrnet_ir_a_basic checks that claim, and that variant's test covers it.
HRNET_PRESETS = [m for m in BINARY_METHODS if m != "bidrn"]


def _assert_well_scaled(model, *, label, bound_inner_in=(False, True), method=None):
    """Output std in HEALTHY_STD in both BN modes, merge points <= MAX_INNER_STD in the modes of
    ``bound_inner_in`` (False: inference, True: training), gradient norm within GRAD_NORM.

    XNOR-Net's K makes the binary path scale-equivariant, so no data-free BN initialisation bounds
    inference mode (:func:`bhpe_tf.diagnostics.calibrate_batch_norm`): for that preset the moving
    statistics are first calibrated on *another* random batch, as the first training steps would."""
    inputs = diagnostics.random_input(model, batch_size=2, seed=0)
    if method is not None and get_method(method).activation_scaling == "xnor_k":
        diagnostics.calibrate_batch_norm(model, diagnostics.random_input(model, batch_size=2, seed=1))
    for training in (False, True):
        profile = diagnostics.scale_profile(model, inputs, training=training)
        mode = "training" if training else "inference"
        for name, std in profile.outputs.items():
            assert math.isfinite(std) and diagnostics.HEALTHY_STD[0] <= std <= diagnostics.HEALTHY_STD[1], \
                (label, mode, name, std)
        worst = max(profile.stages, key=lambda row: row.max_std)
        if training in bound_inner_in:
            assert worst.max_std <= MAX_INNER_STD, (label, mode, worst)
    norm = diagnostics.gradient_norm(model, inputs)
    low, high = GRAD_NORM_OF.get(method, GRAD_NORM)
    assert math.isfinite(norm) and low <= norm <= high, (label, norm)


@pytest.mark.parametrize("stage1,ms_block", BIHRNET_VARIANTS, ids=[f"{s}-{m}" for s, m in BIHRNET_VARIANTS])
def test_bihrnet_variant_is_well_scaled_at_full_width_and_depth(stage1, ms_block):
    model = build_bihrnet(input_shape=HRNET_INPUT, stage1=stage1, ms_block=ms_block)
    assert len([layer for layer in model.layers if layer.name.endswith("_fuse_0_sum")]) == 8  # 1 + 4 + 3 modules
    _assert_well_scaled(model, label=f"bihrnet {stage1}+{ms_block}")


@pytest.mark.parametrize("method", HRNET_PRESETS)
def test_binary_hrnet_w32_is_well_scaled(method):
    _assert_well_scaled(build_hrnet_w32(input_shape=HRNET_INPUT, method=method), label=f"{method}-hrnet",
                        method=method)


def test_bidrn_hrnet_is_bihrnet_ir_a_basic():
    """Layer for layer (type, output shape, config without the name) the same graph, so the BiHRNet
    ir_a + basic variant's scale test is BiDRN-HRNet's. Both go through one builder; one module per
    stage and one block keep the check cheap."""
    small = dict(input_shape=HRNET_INPUT, stage_modules=(1, 1, 1), num_blocks=1)

    def nameless(config):  # layer and quantizer names carry a per-build counter
        if isinstance(config, dict):
            return {k: nameless(v) for k, v in sorted(config.items()) if k != "name"}
        if isinstance(config, (list, tuple)):
            return [nameless(v) for v in config]
        return config

    def structure(model):
        return [(type(layer).__name__, str(layer.output_shape), repr(nameless(layer.get_config())))
                for layer in model.layers]

    assert structure(build_hrnet_w32(method="bidrn", **small)) == \
        structure(build_bihrnet(method="bidrn", stage1="ir_a", ms_block="basic", **small))


def test_full_precision_hrnet_w32_reference_scale():
    """The reference the binary networks are held to: HRNet-W32 in full precision, as HRNet
    initialises it. In training mode (BN on the batch) it is bounded like every binary network
    (measured: heatmaps 0.030, largest merge 4.7). In inference mode at init its merges reach ~130:
    Keras BN starts with moving variance 1 while an FP conv's output variance is its fan-in times
    the init variance; the binary networks' BN starts at the binary conv's own output variance
    (:func:`bhpe_tf.binary.builders.binary_output_statistics`), the FP reference is left as HRNet has
    it (its moving statistics are learned in the first steps). Only its merges in inference mode
    are therefore unbounded here; its heatmaps (0.46) are still in HEALTHY_STD."""
    _assert_well_scaled(build_hrnet_w32(input_shape=HRNET_INPUT), label="hrnet_w32 fp", bound_inner_in=(True,))


@pytest.mark.parametrize("depth", [50, 18])
@pytest.mark.parametrize("method", METHOD_NAMES)
def test_binaryhpe_encoder_is_well_scaled(method, depth):
    _assert_well_scaled(build_resnet(input_shape=ENCODER_INPUT, depth=depth, method=method),
                        label=f"resnet{depth} {method}", method=method)


def test_profile_reports_an_exploding_real_path():
    """The diagnostic itself: a chain of blocks that sums two copies of one real path doubles per block,
    and the profile shows exactly that growth (2^8 after 8 blocks)."""
    inputs = tf.keras.Input((8, 8, 4), name="image")
    x = inputs
    for k in range(8):
        x = tf.keras.layers.Add(name=f"stage{k + 1}_add")([x, x])
    model = tf.keras.Model(inputs, x)
    profile = diagnostics.scale_profile(model, training=False)
    stds = [row.last_std for row in profile.stages]
    assert [row.stage for row in profile.stages] == [f"stage{k + 1}" for k in range(8)]
    np.testing.assert_allclose(np.array(stds[1:]) / np.array(stds[:-1]), 2.0, rtol=1e-6)
    assert not profile.healthy()
    assert profile.max_output_std == pytest.approx(stds[-1])
