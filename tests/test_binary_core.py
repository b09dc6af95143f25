"""Binarization core: quantizers against their formulas, presets through LCE, save/load, sub-pixel deconv."""
import math

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bhpe_tf import binary as B
from bhpe_tf.conversion import (PARITY_RTOL, binary_layers, convert, max_abs_difference, op_census,
                                trained_like_state)
from bhpe_tf.errors import ConversionError, UnknownNameError


def _value_and_grad(quantizer, w, upstream=None):
    w = tf.Variable(np.asarray(w, np.float32))
    with tf.GradientTape() as tape:
        out = quantizer(w)
        target = out * (upstream if upstream is not None else 1.0)
        loss = tf.reduce_sum(target)
    return out.numpy(), tape.gradient(loss, w).numpy()


# ---------------------------------------------------------------- quantizers vs their formulas

def test_channel_magnitude_sign_conv_layout():
    # kernel (kh=1, kw=1, in=3, out=2): channel 0 = [0.5, -0.25, 2.0], channel 1 = [-0.1, 0.0, 0.4]
    w = np.array([[[[0.5, -0.1], [-0.25, 0.0], [2.0, 0.4]]]], np.float32)
    out, grad = _value_and_grad(B.ChannelMagnitudeSign(), w)
    alpha = [(0.5 + 0.25 + 2.0) / 3, (0.1 + 0.0 + 0.4) / 3]
    expected = np.array([[[[alpha[0], -alpha[1]], [-alpha[0], alpha[1]], [alpha[0], alpha[1]]]]])  # sign(0)=+1
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    # STE clipped at 1, scale is stop-gradient: d/dw = alpha_c * 1[|w| <= 1]
    expected_grad = np.array([[[[alpha[0], alpha[1]], [alpha[0], alpha[1]], [0.0, alpha[1]]]]])
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-6)


def test_channel_magnitude_sign_transposed_layout_is_per_output_channel():
    # Conv2DTranspose kernel (kh, kw, out, in): output channels on axis -2.
    w = np.zeros((1, 1, 2, 3), np.float32)
    w[0, 0, 0] = [1.0, -2.0, 3.0]   # output channel 0 -> alpha 2
    w[0, 0, 1] = [0.1, 0.2, -0.3]   # output channel 1 -> alpha 0.2
    out, _ = _value_and_grad(B.ChannelMagnitudeSign(channel_axis=-2), w)
    np.testing.assert_allclose(out[0, 0, 0], [2.0, -2.0, 2.0], rtol=1e-6)
    np.testing.assert_allclose(out[0, 0, 1], [0.2, 0.2, -0.2], rtol=1e-6)
    # Larq's MagnitudeAwareSign (reduce over all but the last axis) would give per-input scales instead.
    larq_out = lq.quantizers.MagnitudeAwareSign()(tf.constant(w)).numpy()
    assert not np.allclose(larq_out, out)


def test_dorefa_one_bit_is_sign_times_mean_abs_with_identity_gradient():
    w = np.array([[0.5, -1.5], [3.0, -0.0]], np.float32)
    upstream = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    out, grad = _value_and_grad(B.DoReFaSign(), w, upstream)
    e = (0.5 + 1.5 + 3.0 + 0.0) / 4
    np.testing.assert_allclose(out, [[e, -e], [e, e]], rtol=1e-6)
    np.testing.assert_allclose(grad, upstream, rtol=1e-6)  # straight through, even at |w| = 3


def test_recu_forward_is_balanced_sign_and_clamp_kills_outlier_gradient():
    # One output channel, 8 weights with one large outlier.
    values = np.array([0.1, -0.2, 0.3, -0.1, 0.05, -0.3, 0.2, 5.0], np.float32)
    w = values.reshape(1, 1, 8, 1)
    out, grad = _value_and_grad(B.ReCUSign(tau_start=0.9, tau_end=0.9), w, upstream=np.linspace(1, 2, 8).reshape(1, 1, 8, 1))
    mean = values.mean()
    np.testing.assert_array_equal(out.ravel(), np.where(values - mean >= 0, 1.0, -1.0))
    # Worked by hand: standardised = (w - mean) / (std / (2 sqrt 2)); Q = -mean|std'd| ln(2 - 2 tau).
    std = np.sqrt(((values - mean) ** 2).mean() + 1e-5)
    standardised = (values - mean) / (std / (2 * math.sqrt(2)))
    q_tau = -np.abs(standardised).mean() * math.log(2 - 2 * 0.9)
    clamped = np.abs(standardised) > q_tau
    assert clamped[-1] and not clamped[:-1].any()
    # Gradient = gradient of the clamped standardised weights (identity STE through the sign, Q(tau)
    # stop-gradient), checked by central finite differences of that surrogate in float64.
    upstream = np.linspace(1, 2, 8)

    def surrogate(v):
        m = v.mean()
        s = np.sqrt(((v - m) ** 2).mean() + 1e-5)
        return float(np.sum(upstream * np.clip((v - m) / (s / (2 * math.sqrt(2))), -q_tau, q_tau)))

    eps = 1e-6
    numeric = np.array([(surrogate(values.astype(np.float64) + eps * np.eye(8)[i])
                         - surrogate(values.astype(np.float64) - eps * np.eye(8)[i])) / (2 * eps) for i in range(8)])
    np.testing.assert_allclose(grad.ravel(), numeric, rtol=1e-3, atol=1e-4)


def test_fourier_sign_gradient_matches_series():
    x = np.array([-1.5, -1.0, -0.3, 0.0, 0.4, 1.0, 2.0], np.float32)
    out, grad = _value_and_grad(B.FourierSign(n_terms=9, omega=0.1), x)
    np.testing.assert_array_equal(out, [-1, -1, -1, 1, 1, 1, 1])
    series = (4 * 0.1 / math.pi) * sum(np.cos((2 * i + 1) * 0.1 * x.astype(np.float64)) for i in range(10))
    expected = np.where(np.abs(x) <= 1, series, 0.0)
    np.testing.assert_allclose(grad, expected, rtol=1e-5)
    assert grad[3] == pytest.approx(4 * 0.1 / math.pi * 10, rel=1e-6)  # at x = 0 every cosine is 1


def test_learnable_bias_rprelu_and_channel_paths_forward():
    x = tf.constant([[[[-2.0, 1.0, 4.0, -8.0]]]])
    rprelu = B.RPReLU()
    y = rprelu(x).numpy()
    np.testing.assert_allclose(y, [[[[-0.5, 1.0, 4.0, -2.0]]]])  # slope 0.25 at init, shifts 0
    rprelu.set_weights([np.full(4, 1.0), np.full(4, 0.5), np.full(4, -1.0)])  # gamma, slope, zeta
    np.testing.assert_allclose(rprelu(x).numpy(), [[[[-2.5, -1.0, 2.0, -5.5]]]])
    bias = B.LearnableBias()
    bias(x)
    bias.set_weights([np.array([1.0, 2.0, 3.0, 4.0])])
    np.testing.assert_allclose(bias(x).numpy(), [[[[-1.0, 3.0, 7.0, -4.0]]]])
    np.testing.assert_allclose(B.ChannelGroupMean(2)(x).numpy(), [[[[1.0, -3.5]]]])  # mean of groups [-2,1],[4,-8]
    np.testing.assert_allclose(B.ChannelRepeat(2)(x[..., :2]).numpy(), [[[[-2.0, 1.0, -2.0, 1.0]]]])


def test_unknown_method_lists_valid_names():
    with pytest.raises(UnknownNameError) as err:
        B.get_method("xnorr")
    message = str(err.value)
    assert "xnorr" in message
    for name in ("fp", "bnn", "xnor", "dorefa", "bireal", "reactnet", "recu", "fda", "bidrn"):
        assert name in message
    assert isinstance(err.value, ValueError)


# ---------------------------------------------------------------- sub-pixel transposed conv

@pytest.mark.parametrize("height,width,channels,filters", [(5, 7, 3, 4), (8, 6, 16, 8)])
def test_subpixel_conv_transpose_equals_conv2d_transpose(height, width, channels, filters):
    rng = np.random.default_rng(height)
    inputs = tf.keras.Input((height, width, channels))
    reference = tf.keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)
    reference_model = tf.keras.Model(inputs, reference(inputs))
    kernel = rng.normal(size=(4, 4, filters, channels)).astype(np.float32)
    reference.set_weights([kernel])

    sub_inputs = tf.keras.Input((height, width, channels))
    sub_model = tf.keras.Model(sub_inputs, B.subpixel_conv_transpose(sub_inputs, filters, method="fp", name="up"))
    sub_model.get_layer("up").set_weights([B.subpixel_kernel_from_transpose(kernel)])
    assert sub_model.output_shape == reference_model.output_shape == (None, 2 * height, 2 * width, filters)
    assert sub_model.count_params() == reference_model.count_params()  # same 16 C F weights

    x = rng.normal(size=(2, height, width, channels)).astype(np.float32)
    np.testing.assert_allclose(sub_model(x).numpy(), reference_model(x).numpy(), atol=1e-5)


# ---------------------------------------------------------------- every preset through LCE

def tiny_residual_model(method, size=8, channels=32):
    """Binary conv (same shape), strided conv C->2C, 1x1 2C->C, sub-pixel deconv, binary dense."""
    inputs = tf.keras.Input((size, size, channels))
    x = B.conv_unit(inputs, channels, 3, method=method, name="conv_same")
    x = B.conv_unit(x, 2 * channels, 3, strides=2, method=method, name="conv_down")
    x = B.conv_unit(x, channels, 1, method=method, name="conv_reduce")
    x = B.subpixel_conv_transpose(x, channels, method=method, name="deconv")
    x = B.activation(B.batch_norm(x, name="deconv_bn"), method=method, name="deconv_act")
    pooled = tf.keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = B.binary_dense(pooled, 16, method=method, name="fc")
    return tf.keras.Model(inputs, outputs, name=f"tiny_{B.get_method(method).name}")


@pytest.mark.parametrize("method", B.LCE_METHOD_NAMES)
def test_preset_converts_binary_with_parity(method):
    model = trained_like_state(tiny_residual_model(method), seed=1)
    flatbuffer = convert(model)
    census = op_census(flatbuffer)
    expected_binary = 5 if B.get_method(method).binary else 0
    assert len(binary_layers(model)) == expected_binary
    assert census.lce_bconv2d == expected_binary  # conv x3, deconv, dense
    assert census.float_fallbacks == []
    for float_op in ("TRANSPOSE_CONV", "FULLY_CONNECTED"):
        assert census.counts.get(float_op, 0) == (0 if expected_binary else census.counts.get(float_op, 0))
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 32)).astype(np.float32)
    diff, scale = max_abs_difference(model, flatbuffer, x)
    # Tolerance: float32 accumulation order only (LCE folds BN into the bconv output transform).
    assert diff <= PARITY_RTOL * scale, (method, diff, scale)


def test_lcr_residual_variants_are_parameter_free_and_cover_shape_changes():
    bidrn = B.get_method("bidrn")
    inputs = tf.keras.Input((8, 8, 64))
    identity = B.conv_residual(inputs, 64, strides=1, mode="lcr", name="a")
    fusion_down = B.conv_residual(inputs, 16, strides=1, mode="lcr", name="b")
    fusion_up = B.conv_residual(inputs, 256, strides=1, mode="lcr", name="c")
    down_scale = B.conv_residual(inputs, 64, strides=2, mode="lcr", name="d")
    down_sample = B.conv_residual(inputs, 128, strides=2, mode="lcr", name="e")
    model = tf.keras.Model(inputs, [identity, fusion_down, fusion_up, down_scale, down_sample])
    assert model.count_params() == 0
    assert [tuple(o.shape) for o in model.outputs] == [
        (None, 8, 8, 64), (None, 8, 8, 16), (None, 8, 8, 256), (None, 4, 4, 64), (None, 4, 4, 128)]
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 64)).astype(np.float32)
    out = model(x)
    np.testing.assert_allclose(out[1].numpy(), x.reshape(1, 8, 8, 4, 16).mean(axis=3), rtol=1e-5, atol=1e-6)
    pooled = x.reshape(1, 4, 2, 4, 2, 64).mean(axis=(2, 4))
    np.testing.assert_allclose(out[4].numpy(), np.concatenate([pooled, pooled], -1), rtol=1e-5, atol=1e-6)
    assert bidrn.conv_residual == "lcr"
    with pytest.raises(ValueError, match="divisible"):
        B.conv_residual(inputs, 48, strides=1, mode="lcr", name="f")


# ---------------------------------------------------------------- float fallbacks are caught

def _fallback_model(layer):
    inputs = tf.keras.Input((8, 8, 32))
    x = layer(inputs if not isinstance(layer, lq.layers.QuantDense)
              else tf.keras.layers.GlobalAveragePooling2D()(inputs))
    return tf.keras.Model(inputs, x)


@pytest.mark.parametrize("layer_factory", [
    lambda: lq.layers.QuantDense(16, input_quantizer="ste_sign", kernel_quantizer="ste_sign", name="qdense"),
    lambda: lq.layers.QuantConv2DTranspose(8, 4, strides=2, padding="same", input_quantizer="ste_sign",
                                           kernel_quantizer="ste_sign", name="qdeconv"),
])
def test_float_fallback_layers_are_refused_and_detected(layer_factory):
    model = _fallback_model(layer_factory())
    name = model.layers[-1].name
    with pytest.raises(ConversionError, match=name):
        convert(model)
    census = op_census(convert(model, allow_float_fallback=True))
    assert census.lce_bconv2d == 0
    assert len(census.float_fallbacks) == 1
    assert census.float_fallbacks[0].op in ("FULLY_CONNECTED", "TRANSPOSE_CONV")


def test_binary_weights_behind_float_input_are_detected():
    # A QuantConv2D with binary weights but a float input runs as a float CONV_2D with +-1 weights.
    inputs = tf.keras.Input((8, 8, 32))
    outputs = lq.layers.QuantConv2D(16, 3, padding="same", kernel_quantizer="ste_sign", use_bias=False)(inputs)
    census = op_census(convert(tf.keras.Model(inputs, outputs)))
    assert census.lce_bconv2d == 0
    assert [f.op for f in census.float_fallbacks] == ["CONV_2D"]
    assert "binary-valued" in census.float_fallbacks[0].reason


def test_float_model_has_no_false_fallbacks():
    census = op_census(convert(trained_like_state(tiny_residual_model("fp"))))
    assert census.float_fallbacks == [] and census.counts.get("CONV_2D", 0) >= 4


def test_strided_fp_conv_survives_lce_padding_fold():
    """LCE 0.16 folds PAD -> CONV_2D(valid, stride 2) into CONV_2D(same), changing the function;
    ``fp_conv`` therefore uses Keras 'same' padding. Guard the decision."""
    inputs = tf.keras.Input((8, 8, 16))
    model = tf.keras.Model(inputs, B.fp_conv(inputs, 8, 3, strides=2, name="down"))
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 16)).astype(np.float32)
    diff, scale = max_abs_difference(model, convert(model), x)
    assert diff <= PARITY_RTOL * scale


# ---------------------------------------------------------------- save / load round trips

def every_custom_object_model(methods=("recu", "fda", "bidrn", "dorefa", "xnor")):
    """One model whose branches use every custom quantizer and layer of ``bhpe_tf.binary``."""
    inputs = tf.keras.Input((8, 8, 32))
    branches = []
    for method in methods:
        x = B.conv_unit(inputs, 64, 3, strides=2, method=method, name=f"{method}_down")   # pool + repeat
        x = B.conv_unit(x, 32, 1, method=method, name=f"{method}_reduce")                   # group mean
        x = B.subpixel_conv_transpose(x, 8, method=method, name=f"{method}_up")             # phase interleave
        branches.append(tf.keras.layers.GlobalAveragePooling2D(name=f"{method}_pool")(x))
    return tf.keras.Model(inputs, tf.keras.layers.Concatenate()(branches))


@pytest.mark.parametrize("fmt", ["keras", "tf"])
def test_save_load_round_trip_without_custom_objects(tmp_path, fmt):
    model = trained_like_state(every_custom_object_model(), seed=2)
    used = {type(layer).__name__ for layer in model.layers}
    used |= {type(getattr(layer, attr)).__name__ for layer in model.layers
             for attr in ("input_quantizer", "kernel_quantizer") if getattr(layer, attr, None) is not None}
    assert {"LearnableBias", "RPReLU", "ChannelScale", "ChannelGroupMean", "ChannelRepeat", "PhaseInterleave",
            "ChannelMagnitudeSign", "DoReFaSign", "ReCUSign", "FourierSign", "DoReFaActivation",
            "XnorActivationScale"} <= used
    x = np.random.default_rng(3).normal(size=(2, 8, 8, 32)).astype(np.float32)
    expected = model(x).numpy()
    path = tmp_path / ("model.keras" if fmt == "keras" else "saved_model")
    model.save(path) if fmt == "keras" else model.save(path, save_format="tf")
    restored = tf.keras.models.load_model(path)  # no custom_objects: everything is registered
    np.testing.assert_array_equal(restored(x).numpy(), expected)
