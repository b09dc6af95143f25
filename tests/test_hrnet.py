"""HRNet-W32 (Sun et al. CVPR 2019) structure facts and BiHRNet (arXiv 2311.10296) LCE conversion."""

import numpy as np
import pytest

import bhpe_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow)
import larq as lq
import tensorflow as tf

from bhpe_tf.binary.layers import ChannelScale, LearnableBias
from bhpe_tf.conversion import (PARITY_RTOL, binary_layers, convert, max_abs_difference,
                                op_census, trained_like_state)
from bhpe_tf.counting import count_model
from bhpe_tf.errors import InvalidInputError, UnknownNameError
from bhpe_tf.models import build_model
from bhpe_tf.models.hrnet import MS_BLOCK_VARIANTS, STAGE1_VARIANTS, build_bihrnet, build_hrnet_w32, layer_group

# Smallest network with HRNet's full multi-resolution topology: 4 branches, every stage, 1 module
# per stage, 1 block per branch; 64x64 input (divisible by 32) -> 16x16 heatmaps.
SMALL = dict(input_shape=(64, 64, 3), width=8, stage_modules=(1, 1, 1), num_blocks=1)
# Three BiHRNet models cover every stage-1 and every MS-Block variant.
BIHRNET_CASES = [("ir_a", "ms_a"), ("ir_b", "ms_b"), ("fp", "basic")]


def test_hrnet_w32_parameters_and_macs():
    model = build_hrnet_w32()
    assert model.output_shape == (None, 64, 48, 17)
    counts = count_model(model, group=layer_group)
    assert counts["total"].binary_params == 0
    assert counts["total"].params_m == pytest.approx(28.54, rel=5e-3)
    assert counts["total"].ops_g == pytest.approx(7.65, rel=1e-2)  # 7.65 G MACs at 256x192
    assert set(counts) == {"image", "stem", "stage1", "transition1", "stage2", "transition2", "stage3",
                           "transition3", "stage4", "head", "total"}


def test_mpii_output_shape():
    # Resolution and head do not depend on depth: a shallow W32 at 256x256 has the MPII output.
    model = build_model("hrnet_w32", input_shape=(256, 256, 3), num_joints=16, stage_modules=(1, 1, 1),
                        num_blocks=1)
    assert model.output_shape == (None, 64, 64, 16)


def _check_binary_conversion(model, flatbuffer):
    census = op_census(flatbuffer)
    assert census.counts.get("LceBconv2d", 0) == len(binary_layers(model)) > 0
    assert census.float_fallbacks == []
    x = np.random.default_rng(0).normal(size=(1, *model.input_shape[1:])).astype(np.float32)
    diff, scale = max_abs_difference(model, flatbuffer, x)
    assert diff <= PARITY_RTOL * scale, (diff, scale)


@pytest.fixture(scope="module")
def bihrnets():
    return {case: trained_like_state(build_bihrnet(stage1=case[0], ms_block=case[1], **SMALL), seed=1)
            for case in BIHRNET_CASES}


@pytest.mark.parametrize("case", BIHRNET_CASES, ids=["-".join(c) for c in BIHRNET_CASES])
def test_bihrnet_converts_fully_binary_with_parity(bihrnets, case):
    model = bihrnets[case]
    assert model.output_shape == (None, 16, 16, 17)
    _check_binary_conversion(model, convert(model))


@pytest.fixture(scope="module")
def bnn_hrnet():
    return trained_like_state(build_hrnet_w32(method="bnn", **SMALL), seed=1)


def test_baseline_converts(bnn_hrnet):
    _check_binary_conversion(bnn_hrnet, convert(bnn_hrnet))


def _sign_inputs(model):
    """The layer that feeds each binary conv's sign (skipping the RSign threshold)."""
    for layer in binary_layers(model):
        source = layer.inbound_nodes[0].inbound_layers
        while isinstance(source, LearnableBias):
            source = source.inbound_nodes[0].inbound_layers
        yield layer, source


def test_no_relu_feeds_a_sign(bihrnets, bnn_hrnet):
    models = list(bihrnets.values()) + [bnn_hrnet]
    for model in models:
        for layer, source in _sign_inputs(model):
            assert not isinstance(source, tf.keras.layers.ReLU), f"{source.name} (ReLU) feeds {layer.name}"


def test_fp_layers_are_stem_and_head_only():
    model = build_hrnet_w32(method="reactnet", **SMALL)
    float_convs = {layer.name for layer in model.layers
                   if isinstance(layer, tf.keras.layers.Conv2D) and not isinstance(layer, lq.layers.QuantConv2D)}
    # ReActNet binarizes the downsample shortcut (binary_downsample); the fuse convs are binary too.
    assert float_convs == {"stem_conv1", "stem_conv2", "head"}
    assert any(layer.name.startswith("stage2_m1_fuse") for layer in binary_layers(model))


# Layers a conv's output passes through before it is added to a real-valued path.
_CONTRIBUTION_CHAIN = (tf.keras.layers.BatchNormalization, ChannelScale, tf.keras.layers.UpSampling2D)


def _inbound(layer):
    inbound = layer._inbound_nodes[0].inbound_layers
    return list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]


def _is_contribution(layer):
    """A conv's normalised output (conv -> BN [-> scale, upsampling]), as opposed to a real path."""
    while isinstance(layer, _CONTRIBUTION_CHAIN):
        layer = _inbound(layer)[0]
    return isinstance(layer, tf.keras.layers.Conv2D)


def _first_merge_after(layer):
    while True:
        consumers = [node.outbound_layer for node in layer._outbound_nodes]
        assert len(consumers) == 1, (layer.name, [c.name for c in consumers])
        layer = consumers[0]
        if isinstance(layer, (tf.keras.layers.Add, tf.keras.layers.Average)):
            return layer
        assert isinstance(layer, _CONTRIBUTION_CHAIN), (layer.name, type(layer).__name__)


def test_bihrnet_every_binary_conv_has_one_real_shortcut(bihrnets):
    """BiHRNet's rule (module docstring of bhpe_tf.models.hrnet): every binary conv's normalised output
    is added to a real-valued path, and no add sums two real paths (which doubled the path per block:
    the 1e12 explosion)."""
    for model in bihrnets.values():
        for layer in binary_layers(model):
            merge = _first_merge_after(layer)
            assert len(_inbound(merge)) >= 2, (layer.name, merge.name)
        for layer in model.layers:
            if isinstance(layer, tf.keras.layers.Add):
                paths = [source.name for source in _inbound(layer) if not _is_contribution(source)]
                assert len(paths) <= 1, (layer.name, paths)


def test_bad_names_list_valid_ones():
    with pytest.raises(UnknownNameError, match="ir_a, ir_b"):
        build_bihrnet(stage1="ir_c", **SMALL)
    with pytest.raises(UnknownNameError, match="basic, ms_a, ms_b"):
        build_bihrnet(ms_block="ms_z", **SMALL)
    with pytest.raises(UnknownNameError, match="bnn"):
        build_hrnet_w32(method="binary", **SMALL)
    assert set(STAGE1_VARIANTS) == {"ir_a", "ir_b", "fp"} and set(MS_BLOCK_VARIANTS) == {"ms_a", "ms_b", "basic"}


def test_bad_inputs():
    with pytest.raises(InvalidInputError, match="divisible by 32"):
        build_hrnet_w32(input_shape=(64, 48, 3))
    with pytest.raises(InvalidInputError, match="binary method"):
        build_bihrnet(method="fp", **SMALL)
