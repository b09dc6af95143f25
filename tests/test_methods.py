"""What each method preset is made of, against its paper: schedules (ReCU's tau, FDA's noise weight),
quantizer forward and gradient on hand-made inputs at the schedules' start, middle and end, and the
schedule state through the trainer's checkpoints."""
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from bhpe_tf import binary as B
from bhpe_tf.errors import InvalidInputError

# Progress points: start, middle, end of training.
PROGRESS = (0.0, 0.5, 1.0)


def _exp_schedule_by_hand(start, end, p):
    # ReCU's released cpt_tau: A e^p + B with A = (end - start) / (e - 1), B = start - A.
    a = (end - start) / (math.e - 1)
    return a * math.exp(p) + start - a


def _set_progress(quantizer, p):
    B.set_training_progress([quantizer.progress], p)


# ---------------------------------------------------------------------------------------- schedules
def test_progress_schedule_shapes_by_hand():
    recu = B.ProgressSchedule(start=0.85, end=0.99, shape="exp")
    assert float(recu(0.0)) == pytest.approx(0.85, abs=1e-6)
    assert float(recu(0.5)) == pytest.approx(0.85 + 0.14 * (math.sqrt(math.e) - 1) / (math.e - 1), abs=1e-6)
    assert float(recu(1.0)) == pytest.approx(0.99, abs=1e-6)
    assert float(recu(2.0)) == pytest.approx(0.99, abs=1e-6)  # progress is clipped to [0, 1]
    fall = B.ProgressSchedule(start=1.0, end=0.0)
    assert [float(fall(p)) for p in PROGRESS] == pytest.approx([1.0, 0.5, 0.0])
    with pytest.raises(InvalidInputError, match="schedule shape"):
        B.ProgressSchedule(start=0.0, end=1.0, shape="cosine")
    with pytest.raises(TypeError):
        B.ProgressSchedule(0.0, 1.0)  # keyword-only


def test_training_progress_is_the_fraction_done_and_rejects_bad_totals():
    assert B.training_progress(0, 4) == 0.0 and B.training_progress(2, 4) == 0.5 and B.training_progress(9, 4) == 1.0
    with pytest.raises(InvalidInputError, match="total_steps"):
        B.training_progress(0, 0)


# ------------------------------------------------------------------------------------------------ ReCU
RECU_W = np.array([0.1, -0.2, 0.3, -0.1, 0.05, -0.3, 0.2, 5.0, -0.9, 1.4], np.float64)


def _recu_surrogate(values, upstream, tau):
    """ReCU eq. 9-10 by hand: balance, standardise to Laplace scale, clamp at Q(tau) (stop-gradient)."""
    m = values.mean()
    s = np.sqrt(((values - m) ** 2).mean() + 1e-5)
    std = (values - m) / (s / (2 * math.sqrt(2)))
    return std, -np.abs(std).mean() * math.log(2 - 2 * tau)


@pytest.mark.parametrize("p", PROGRESS)
def test_recu_weights_follow_tau_schedule(p):
    tau = _exp_schedule_by_hand(0.85, 0.99, p)
    quantizer = B.ReCUSign()
    w = tf.Variable(RECU_W.astype(np.float32).reshape(1, 1, 10, 1))
    quantizer(w)  # build
    _set_progress(quantizer, p)
    upstream = np.linspace(1.0, 2.0, 10)
    with tf.GradientTape() as tape:
        out = quantizer(w)
        loss = tf.reduce_sum(out * upstream.reshape(1, 1, 10, 1).astype(np.float32))
    grad = tape.gradient(loss, w).numpy().ravel()
    np.testing.assert_array_equal(out.numpy().ravel(), np.where(RECU_W - RECU_W.mean() >= 0, 1.0, -1.0))
    standardised, q_tau = _recu_surrogate(RECU_W, upstream, tau)
    inside = np.abs(standardised) <= q_tau

    def surrogate(v):
        m = v.mean()
        s = np.sqrt(((v - m) ** 2).mean() + 1e-5)
        return float(np.sum(upstream * np.clip((v - m) / (s / (2 * math.sqrt(2))), -q_tau, q_tau)))

    eps = 1e-6
    numeric = np.array([(surrogate(RECU_W + eps * np.eye(10)[i]) - surrogate(RECU_W - eps * np.eye(10)[i])) / (2 * eps)
                        for i in range(10)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-4)
    # the clamp moves with tau (|w'| by hand: -0.9 -> 2.60, 5.0 -> 7.96; Q = 2.28, 3.10, 7.41 at p = 0, 0.5, 1):
    # -0.9 is clamped only at the start, 5.0 throughout (their gradient then flows only through mean and std)
    assert not inside[7] and inside[8] == (p > 0) and inside.sum() == (8 if p == 0 else 9)


def test_recu_rejects_tau_outside_its_range():
    with pytest.raises(InvalidInputError, match="tau"):
        B.ReCUSign(tau_start=0.4)
    with pytest.raises(TypeError):
        B.ReCUSign(0.9)  # keyword-only


def _approx_sign_surrogate(x):
    # Bi-Real eq. 4: F(x) = 2x - x|x| on [-1, 1], sign outside; F' = max(0, 2 - 2|x|).
    return np.where(np.abs(x) <= 1, 2 * x - x * np.abs(x), np.sign(x))


def test_recu_activations_standardised_in_training_only():
    a = np.array([[0.2, -0.6, 1.5, -3.0], [0.05, 0.1, -0.2, 0.4]], np.float64)  # two samples
    u = np.array([[1.0, 2.0, 3.0, 4.0], [-1.0, 1.0, 0.5, 2.0]], np.float64)
    quantizer = B.ReCUActivationSign()
    x = tf.Variable(a.astype(np.float32))
    results = {}
    for training in (True, False):
        with tf.GradientTape() as tape:
            out = quantizer(x, training=training)
            loss = tf.reduce_sum(out * u.astype(np.float32))
        results[training] = (out.numpy(), tape.gradient(loss, x).numpy())
    for out, _ in results.values():
        np.testing.assert_array_equal(out, np.where(a >= 0, 1.0, -1.0))  # forward: sign, either way
    # inference: plain ApproxSign gradient on a
    np.testing.assert_allclose(results[False][1], u * np.maximum(0, 2 - 2 * np.abs(a)), rtol=1e-6)

    # training: a' = a / sqrt(Var_sample(a) + 1e-5); gradient of sum(u F(a')) by central differences
    def surrogate(v):
        v = v.reshape(a.shape)
        scaled = v / np.sqrt(v.var(axis=1, keepdims=True) + 1e-5)
        return float(np.sum(u * _approx_sign_surrogate(scaled)))

    eps = 1e-6
    flat = a.ravel()
    numeric = np.array([(surrogate(flat + eps * np.eye(8)[i]) - surrogate(flat - eps * np.eye(8)[i])) / (2 * eps)
                        for i in range(8)]).reshape(a.shape)
    np.testing.assert_allclose(results[True][1], numeric, rtol=1e-3, atol=1e-4)
    # the window moved: sample 2 (std 0.22) has every |a'| > 1 but a' of 0.05 -> 0.23: gradient there
    assert results[True][1][1, 0] != 0 and not np.allclose(results[True][1], results[False][1])


def test_recu_preset_uses_the_scheduled_quantizers():
    method = B.get_method("recu")
    assert isinstance(method.activation_quantizer(), B.ReCUActivationSign)
    weights = method.weight_quantizer()
    assert isinstance(weights, B.ReCUSign) and (weights.tau_start, weights.tau_end) == (0.85, 0.99)


# ------------------------------------------------------------------------------ schedule drivers
def _tiny_recu_model():
    inputs = tf.keras.Input((8, 8, 4))
    x = B.conv_unit(inputs, 4, 3, method="recu", name="a")
    x = B.conv_unit(x, 4, 3, method="recu", name="b")
    return tf.keras.Model(inputs, tf.keras.layers.GlobalAveragePooling2D()(x))


def test_keras_callback_drives_progress_from_iterations():
    model = _tiny_recu_model()
    variables = B.progress_variables(model)
    assert len(variables) == 2  # one per ReCU weight quantizer
    model.compile(optimizer=tf.keras.optimizers.SGD(0.01), loss="mse")
    x = np.random.default_rng(0).normal(size=(6, 8, 8, 4)).astype(np.float32)
    model.fit(x, np.zeros((6, 4), np.float32), batch_size=2, epochs=1, verbose=0,
              callbacks=[B.TrainingProgress(total_steps=4)])
    # the third batch starts after 2 iterations: progress 2 / 4
    assert [float(v.numpy()) for v in variables] == [0.5, 0.5]
    with pytest.raises(InvalidInputError):
        B.TrainingProgress(total_steps=0)


def test_model_checkpoint_round_trips_the_schedule(tmp_path):
    """What the trainer's tf.train.Checkpoint(model=...) stores: the progress weights, restored exactly."""
    model = _tiny_recu_model()
    B.set_training_progress(B.progress_variables(model), 0.375)
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    fresh = _tiny_recu_model()
    assert [float(v.numpy()) for v in B.progress_variables(fresh)] == [0.0, 0.0]
    tf.train.Checkpoint(model=fresh).restore(path).assert_existing_objects_matched()
    assert [float(v.numpy()) for v in B.progress_variables(fresh)] == [0.375, 0.375]


@pytest.mark.skipif(not os.environ.get("BHPE_SLOW_TESTS"), reason="set BHPE_SLOW_TESTS=1 (two BiHRNet trainings)")
def test_trainer_checkpoints_and_restores_the_schedule(tmp_path):
    from bhpe_tf.training import config as C
    from bhpe_tf.training.loop import train

    sets = ["data.input_wh=[32, 32]", "train.batch_size=2", "model.kwargs.width=4", "train.checkpoint_every=1",
            "train.steps_per_epoch=1000", "model.method=recu", "data.val_samples=2", "train.val_batch_size=2"]
    config = C.apply_overrides(C.load_config("bihrnet_demo"), sets)
    quiet = dict(progress=False, log=lambda *a: None)
    train(config, workdir=tmp_path, steps=4, **quiet)
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    assert latest.endswith("ckpt-4")
    reader = tf.train.load_checkpoint(latest)
    keys = [k for k in reader.get_variable_to_shape_map() if k.endswith("progress/.ATTRIBUTES/VARIABLE_VALUE")]
    assert keys and all(reader.get_tensor(k) == pytest.approx(0.75) for k in keys)  # set before step 4: 3 / 4
    seen = {}

    def capture(model, **_):
        seen["restored"] = [float(v.numpy()) for v in B.progress_variables(model)]

    tf.keras.backend.clear_session()
    train(config, workdir=tmp_path, steps=5, on_restore=capture, **quiet)
    assert len(seen["restored"]) == len(keys) and seen["restored"] == pytest.approx([0.75] * len(keys))


# ------------------------------------------------------------------------------------------------- FDA
def _fda_terms(p):
    return int(math.floor(9 + 9 * p))  # FDA release: n = 9 + int(9 t), 9 -> 18


def _fda_eta(p):
    return 0.05 * (1 + math.cos(math.pi * p))  # FDA release: alpha = 0.05 (1 + cos(pi t)), 0.1 -> 0


def _fourier_grad_by_hand(x, n_terms=9, omega=0.1):
    # FDA eq. 8: d/dx (4/pi) sum sin((2i+1) w x) / (2i+1) = (4 w / pi) sum cos((2i+1) w x), zero outside [-1, 1]
    series = (4 * omega / math.pi) * sum(np.cos((2 * i + 1) * omega * x) for i in range(n_terms + 1))
    return np.where(np.abs(x) <= 1, series, 0.0)


def _noise_module_by_hand(t, w1, w2, upstream):
    """e(t) = W2 ReLU(W1 t) + 0.1 sin(t) on the rows of t, and the vector-Jacobian product u^T de/dt."""
    pre = t @ w1
    e = np.maximum(pre, 0) @ w2 + 0.1 * np.sin(t)
    vjp = ((upstream @ w2.T) * (pre > 0)) @ w1.T + 0.1 * np.cos(t) * upstream
    return e, vjp


def _set_noise(quantizer, rng):
    values = [rng.normal(size=tuple(v.shape)) * 0.5 for v in quantizer.noise_layers]
    for variable, value in zip(quantizer.noise_layers, values):
        variable.assign(value.astype(np.float32))
    return values


def test_fda_schedules_by_hand():
    for p in (0.0, 0.25, 0.5, 0.9, 1.0):
        assert float(B.quantizers.FDA_NOISE_WEIGHT(p)) == pytest.approx(_fda_eta(p), abs=1e-7)
        assert math.floor(float(B.quantizers.FDA_TERMS(p))) == _fda_terms(p)


@pytest.mark.parametrize("p", PROGRESS)
def test_fda_activation_noise_module_is_annealed_and_training_only(p):
    eta, n_terms = _fda_eta(p), _fda_terms(p)
    x = np.array([[0.3, -0.7, 1.5], [-0.05, 0.9, -2.0]], np.float64)  # two activation vectors, C = 3
    u = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], np.float64)
    quantizer = B.FourierSign(noise_hidden_ratio=2)  # hidden 3 // 2 = 1
    quantizer(tf.constant(x, tf.float32))
    w1, w2 = _set_noise(quantizer, np.random.default_rng(1))
    assert w1.shape == (3, 1) and w2.shape == (1, 3)
    _set_progress(quantizer, p)
    variable = tf.Variable(x.astype(np.float32))
    for training in (True, False):
        with tf.GradientTape() as tape:
            out = quantizer(variable, training=training)
            loss = tf.reduce_sum(out * u.astype(np.float32))
        grad = tape.gradient(loss, variable).numpy()
        e, vjp = _noise_module_by_hand(x, w1, w2, u)
        on = eta if training else 0.0  # inference: pure sign, no module
        np.testing.assert_allclose(out.numpy(), np.where(x >= 0, 1.0, -1.0) + on * e, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grad, u * _fourier_grad_by_hand(x, n_terms) + on * vjp, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("p", PROGRESS)
def test_fda_weight_noise_module_acts_on_each_filter(p):
    eta, n_terms = _fda_eta(p), _fda_terms(p)
    # kernel (kh=1, kw=2, in=2, out=2): the filter of output channel c is w[..., c], d = 4
    w = np.array([[[[0.5, -0.1], [-0.25, 0.3]], [[0.8, -1.2], [0.05, 0.4]]]], np.float64)
    u = np.arange(1.0, 9.0).reshape(w.shape) / 4
    quantizer = B.FourierSign(scale_per_channel=True, noise_hidden_ratio=2)  # hidden 4 // 2 = 2
    quantizer(tf.constant(w, tf.float32))
    w1, w2 = _set_noise(quantizer, np.random.default_rng(2))
    assert w1.shape == (4, 2)
    _set_progress(quantizer, p)
    variable = tf.Variable(w.astype(np.float32))
    with tf.GradientTape() as tape:
        out = quantizer(variable, training=True)
        loss = tf.reduce_sum(out * u.astype(np.float32))
    grad = tape.gradient(loss, variable).numpy()
    filters = w.reshape(4, 2).T  # rows: output channels
    alpha = np.abs(filters).mean(axis=1)  # XNOR-style per-filter scale, stop-gradient, applied last
    e, vjp = _noise_module_by_hand(filters, w1, w2, u.reshape(4, 2).T * alpha[:, None])
    expected = (np.where(w >= 0, 1.0, -1.0) + eta * e.T.reshape(w.shape)) * alpha
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    expected_grad = u * alpha * _fourier_grad_by_hand(w, n_terms) + eta * vjp.T.reshape(w.shape)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-5)
    inference = quantizer(variable, training=False).numpy()
    np.testing.assert_allclose(inference, np.where(w >= 0, 1.0, -1.0) * alpha, rtol=1e-6)


def test_fda_rejects_a_negative_module_ratio():
    with pytest.raises(InvalidInputError, match="noise_hidden_ratio"):
        B.FourierSign(noise_hidden_ratio=-1)


def test_fda_modules_train_and_leave_no_op_in_the_converted_model():
    from bhpe_tf.conversion import (PARITY_RTOL, binary_layers, convert, max_abs_difference, op_census,
                                    trained_like_state)
    from test_binary_core import tiny_residual_model

    model = trained_like_state(tiny_residual_model("fda"), seed=1)
    modules = [w for layer in binary_layers(model) for w in layer.trainable_weights if "noise_w" in w.name]
    assert len(modules) == 2 * 2 * 5  # W1, W2 for the weights and the activations of each of the 5 binary layers
    assert all(any(w is t for t in model.trainable_variables) for w in modules)  # the optimizer trains them
    B.set_training_progress(B.progress_variables(model), 1.0)  # annealed
    flatbuffer = convert(model)
    fda = op_census(flatbuffer)
    xnor = op_census(convert(trained_like_state(tiny_residual_model("xnor_nok"), seed=1)))
    assert fda.lce_bconv2d == 5 and fda.float_fallbacks == []
    assert fda.counts == xnor.counts  # the ops of XNOR's weight binarization without K: nothing of FDA is left
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 32)).astype(np.float32)
    diff, scale = max_abs_difference(model, flatbuffer, x)
    assert diff <= PARITY_RTOL * scale  # the converted net computes the Keras model's inference mode


# --------------------------------------------------------------- BNN, Bi-Real, ReActNet activations
def test_sign_gradients_of_bnn_bireal_reactnet_by_hand():
    """BNN (Hubara 2016): STE, gradient 1{|x| <= 1}; Bi-Real (Liu 2018, eq. 4) and ReActNet: ApproxSign,
    gradient max(0, 2 - 2|x|); BiDRN: the clipped STE; every forward is sign with sign(0) = +1."""
    x = np.array([-1.5, -0.75, -0.25, 0.0, 0.5, 1.0, 1.2], np.float32)
    variable = tf.Variable(x)
    expected = {"bnn": (np.abs(x) <= 1).astype(float), "bidrn": (np.abs(x) <= 1).astype(float),
                "bireal": np.maximum(0.0, 2 - 2 * np.abs(x)), "reactnet": np.maximum(0.0, 2 - 2 * np.abs(x))}
    for method, gradient in expected.items():
        with tf.GradientTape() as tape:
            out = B.get_method(method).activation_quantizer()(variable)
        np.testing.assert_array_equal(out.numpy(), np.where(x >= 0, 1.0, -1.0))
        np.testing.assert_allclose(tape.gradient(out, variable).numpy(), gradient, rtol=1e-6, err_msg=method)
    # ReActNet's RSign: sign(x - threshold) with a learnable per-channel threshold in front of the sign
    inputs = tf.keras.Input((4, 4, 2))
    model = tf.keras.Model(inputs, B.conv_unit(inputs, 2, 3, method="reactnet", name="r"))
    assert type(model.get_layer("r_threshold")).__name__ == "LearnableBias"
    assert model.get_layer("r").input is model.get_layer("r_threshold").output


# ----------------------------------------------------------------------------------------- XNOR-Net
def test_xnor_weights_differentiate_their_scale():
    """XNOR-Net sec. 3.1: W~ = alpha sign(W), alpha = mean|W| per filter, and alpha is differentiated:
    dL/dW_i = alpha 1{|W_i| <= 1} g_i + sign(W_i) / n sum_j sign(W_j) g_j (g = dL/dW~)."""
    w = np.array([0.4, -0.2, 1.5, -0.6, 0.1, -0.9], np.float64)  # one filter, n = 6 (1.5 outside the STE)
    g = np.array([1.0, -2.0, 0.5, 3.0, -1.0, 2.0], np.float64)
    alpha, s = np.abs(w).mean(), np.where(w >= 0, 1.0, -1.0)
    variable = tf.Variable(w.astype(np.float32).reshape(1, 1, 6, 1))
    grads = {}
    for method in ("xnor", "xnor_nok", "bireal"):
        quantizer = B.get_method(method).weight_quantizer()
        with tf.GradientTape() as tape:
            out = quantizer(variable)
            loss = tf.reduce_sum(out * g.astype(np.float32).reshape(1, 1, 6, 1))
        np.testing.assert_allclose(out.numpy().ravel(), alpha * s, rtol=1e-6)
        grads[method] = tape.gradient(loss, variable).numpy().ravel()
    ste = (np.abs(w) <= 1).astype(float)
    np.testing.assert_allclose(grads["xnor"], alpha * ste * g + s / 6 * np.sum(s * g), rtol=1e-5)
    np.testing.assert_allclose(grads["xnor_nok"], grads["xnor"], rtol=1e-6)  # xnor_nok drops K only
    np.testing.assert_allclose(grads["bireal"], alpha * ste * g, rtol=1e-5)  # stop-gradient scale


def _xnor_k_by_hand(x, kernel, stride):
    """K = A * k (XNOR-Net sec. 3.2): A = mean_c |x|, box filter k x k, zero 'same' padding."""
    a = np.abs(x).mean(axis=-1)  # (N, H, W)
    n, h, w = a.shape
    out_h, out_w = -(-h // stride), -(-w // stride)
    pad_h = max((out_h - 1) * stride + kernel - h, 0)
    pad_w = max((out_w - 1) * stride + kernel - w, 0)
    padded = np.pad(a, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)))
    k = np.zeros((n, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            k[:, i, j] = padded[:, i * stride:i * stride + kernel, j * stride:j * stride + kernel].mean(axis=(1, 2))
    return k


@pytest.mark.parametrize("stride", [1, 2])
def test_xnor_activation_scale_k_by_hand(stride):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 6, 3))
    y = rng.normal(size=(2, -(-5 // stride), -(-6 // stride), 4))  # a conv output with 4 channels
    layer = B.XnorActivationScale(3, strides=stride)
    xv, yv = tf.Variable(x.astype(np.float32)), tf.Variable(y.astype(np.float32))
    u = rng.normal(size=y.shape)
    with tf.GradientTape() as tape:
        out = layer([xv, yv])
        loss = tf.reduce_sum(out * u.astype(np.float32))
    gx, gy = tape.gradient(loss, [xv, yv])
    k = _xnor_k_by_hand(x, 3, stride)
    np.testing.assert_allclose(out.numpy(), y * k[..., None], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gy.numpy(), u * k[..., None], rtol=1e-5, atol=1e-6)

    def surrogate(v):  # loss as a function of x, by hand
        return float(np.sum(u * y * _xnor_k_by_hand(v.reshape(x.shape), 3, stride)[..., None]))

    eps, flat = 1e-6, x.ravel()
    picks = [0, 7, 31, 50, len(flat) - 1]
    numeric = [(surrogate(flat + eps * np.eye(len(flat))[i]) - surrogate(flat - eps * np.eye(len(flat))[i])) / (2 * eps)
               for i in picks]
    np.testing.assert_allclose(gx.numpy().ravel()[picks], numeric, rtol=1e-3, atol=1e-5)


def test_xnor_preset_scales_each_binary_conv_by_k_and_xnor_nok_does_not():
    inputs = tf.keras.Input((6, 6, 8))
    for method, expected in (("xnor", ["QuantConv2D", "XnorActivationScale", "BatchNormalization"]),
                             ("xnor_nok", ["QuantConv2D", "BatchNormalization"])):
        model = tf.keras.Model(inputs, B.conv_unit(inputs, 8, 3, strides=2, method=method, name=method))
        assert [type(layer).__name__ for layer in model.layers[1:]] == expected


# ------------------------------------------------------------------------------------------ DoReFa
def test_dorefa_activations_are_zero_one_with_the_clipped_straight_through_gradient():
    x = np.array([-0.5, 0.3, 0.49, 0.5, 0.51, 0.9, 1.7], np.float32)
    quantizer = B.get_method("dorefa").activation_quantizer()
    assert isinstance(quantizer, B.DoReFaActivation)
    variable = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = quantizer(variable)
    np.testing.assert_array_equal(out.numpy(), [0, 0, 0, 0, 1, 1, 1])  # round(clip(x, 0, 1)), ties to even
    np.testing.assert_array_equal(tape.gradient(out, variable).numpy(), [0, 1, 1, 1, 1, 1, 0])
    pm1 = B.get_method("dorefa_pm1").activation_quantizer()(tf.constant(x)).numpy()
    np.testing.assert_array_equal(pm1, [-1, 1, 1, 1, 1, 1, 1])
    with pytest.raises(InvalidInputError, match="1-bit"):
        B.DoReFaActivation(k_bit=2)


def test_dorefa_conv_pads_with_zero_and_starts_bn_at_its_zero_one_statistics():
    """{0, 1} inputs, each level with probability 1/2: mean 1/2 sum q(w), variance 1/4 sum q(w)^2
    per output channel; the +-1 neighbour: 0 and sum q(w)^2."""
    inputs = tf.keras.Input((6, 6, 4))
    for method, pad, level_mean, level_var in (("dorefa", 0.0, 0.5, 0.25), ("dorefa_pm1", 1.0, 0.0, 1.0)):
        model = tf.keras.Model(inputs, B.conv_unit(inputs, 3, 3, method=method, name=method))
        conv, norm = model.get_layer(method), model.get_layer(f"{method}_bn")
        assert conv.pad_values == pad
        w = conv.kernel.numpy()
        q = np.where(w >= 0, 1.0, -1.0) * np.abs(w).mean()  # DoReFa's per-tensor E|W|
        np.testing.assert_allclose(norm.moving_mean.numpy(), level_mean * q.sum(axis=(0, 1, 2)), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(norm.moving_variance.numpy(), level_var * (q ** 2).sum(axis=(0, 1, 2)), rtol=1e-5)


def test_bn_start_statistics_match_random_binary_inputs():
    """The BN start statistics equal the conv's output statistics on random inputs of the method's two
    levels (Monte Carlo over 4000 pixels), for +-1, {0, 1} and +-1 scaled by XNOR's K (Gaussian input)."""
    rng = np.random.default_rng(0)
    for method in ("bnn", "dorefa", "xnor"):
        inputs = tf.keras.Input((40, 100, 16))
        model = tf.keras.Model(inputs, B.conv_unit(inputs, 4, 1, method=method, name="c"))
        conv_out = tf.keras.Model(inputs, model.get_layer("c_bn").input)
        x = rng.standard_normal((1, 40, 100, 16)).astype(np.float32)
        if method == "dorefa":
            x = (x > 0).astype(np.float32) * 0.8  # {0, 1} after round(clip(.)), half each
        y = conv_out(x).numpy().reshape(-1, 4)
        norm = model.get_layer("c_bn")
        np.testing.assert_allclose(y.mean(axis=0), norm.moving_mean.numpy(),
                                   atol=0.1 * np.sqrt(norm.moving_variance.numpy().max()))
        np.testing.assert_allclose(y.var(axis=0), norm.moving_variance.numpy(), rtol=0.15)


# ---------------------------------------------------------------- converter: float-only forms refused
@pytest.mark.parametrize("method,variant", [("xnor", "xnor_nok"), ("dorefa", "dorefa_pm1")])
def test_converter_refuses_the_float_only_forms_and_names_their_lce_form(method, variant):
    from bhpe_tf.conversion import convert
    from bhpe_tf.conversion.lce import float_only_parts
    from bhpe_tf.errors import ConversionError
    from test_binary_core import tiny_residual_model

    assert not B.get_method(method).lce_deployable and B.get_method(variant).lce_deployable
    assert method not in B.LCE_METHOD_NAMES and variant in B.LCE_METHOD_NAMES
    model = tiny_residual_model(method)
    assert len(float_only_parts(model)) == 5  # one per binary layer
    with pytest.raises(ConversionError, match=f"{method} -> {variant}"):
        convert(model)
    assert float_only_parts(tiny_residual_model(variant)) == []


# ------------------------------------------------------------------------------- block topology
def _inbound(layer):
    inbound = layer._inbound_nodes[0].inbound_layers
    return list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]


def _block_topology(model, prefix):
    """What a built block is made of: each Add with the layers it sums; each conv with its kind
    (binary / float), stride and what feeds it; the layer after each binary conv's BN chain."""
    def short(layer):
        if isinstance(layer, tf.keras.layers.InputLayer):
            return "input"
        return layer.name[len(prefix) + 1:] if layer.name.startswith(prefix + "_") else layer.name

    adds, convs = {}, {}
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Add):
            adds[short(layer)] = sorted(short(item) for item in _inbound(layer))
        elif isinstance(layer, tf.keras.layers.Conv2D):
            kind = "binary" if getattr(layer, "kernel_quantizer", None) is not None else "float"
            convs[short(layer)] = (kind, layer.strides[0], short(_inbound(layer)[0]))
    return adds, convs


def _build_block(method, block, *, channels, filters, strides):
    tf.keras.backend.clear_session()
    inputs = tf.keras.Input((8, 8, channels), name="input")
    return tf.keras.Model(inputs, block(inputs, filters, strides=strides, method=method, name="b"))


RESNET_BASIC_DOWN = {  # the ResNet block: the projection joins after conv2, no per-conv shortcut
    "adds": {"add": ["conv2_bn", "downsample_bn"]},
    "convs": {"downsample": ("binary", 2, "input"), "conv1": ("binary", 2, "input"), "conv2": ("binary", 1, "conv1_bn")},
}
BIREAL_BASIC_DOWN = {  # Bi-Real: conv1's shortcut is the real downsample (pool -> FP 1x1 -> BN), conv2's the identity
    "adds": {"conv1_res_add": ["conv1_bn", "downsample_bn"], "conv2_res_add": ["conv1_res_add", "conv2_bn"]},
    "convs": {"downsample": ("float", 1, "downsample_pool"), "conv1": ("binary", 2, "input"),
              "conv2": ("binary", 1, "conv1_res_add")},
}
TOPOLOGY_BASIC_DOWN = {
    **{name: RESNET_BASIC_DOWN for name in ("bnn", "xnor", "xnor_nok", "dorefa", "dorefa_pm1", "recu", "fda")},
    "bireal": BIREAL_BASIC_DOWN,
    # ReActNet on Bi-Real blocks, with the BNN split's binary 1x1 downsample (the paper's 21.66 M)
    "reactnet": {"adds": {"conv1_res_add": ["conv1_bn", "downsample_bn"], "conv2_res_add": ["conv1_act", "conv2_bn"]},
                 "convs": {"downsample": ("binary", 2, "downsample_threshold"), "conv1": ("binary", 2, "conv1_threshold"),
                           "conv2": ("binary", 1, "conv2_threshold")}},
    # BiDRN: conv1's LCR is Down Sample (pool + channel repeat), the FP Block Residual joins after conv2
    "bidrn": {"adds": {"conv1_res_add": ["conv1_bn", "conv1_res_fur"], "add": ["conv2_bn", "downsample_bn"]},
              "convs": {"downsample": ("float", 2, "input"), "conv1": ("binary", 2, "conv1_threshold"),
                        "conv2": ("binary", 1, "conv2_threshold")}},
}


def test_every_binary_preset_has_its_topology_written_down():
    assert set(TOPOLOGY_BASIC_DOWN) == {name for name in B.METHOD_NAMES if B.get_method(name).binary}


@pytest.mark.parametrize("method", sorted(TOPOLOGY_BASIC_DOWN))
def test_basic_block_topology_per_preset(method):
    """The strided, channel-doubling basic block (ResNet-18's first block of a stage) of each preset:
    which adds there are and what they sum, which shortcut is real-valued, what feeds each conv."""
    from bhpe_tf.models import resnet

    model = _build_block(method, resnet.basic_block, channels=8, filters=16, strides=2)
    adds, convs = _block_topology(model, "b")
    expected = TOPOLOGY_BASIC_DOWN[method]
    assert adds == expected["adds"], (method, adds)
    assert convs == expected["convs"], (method, convs)
    for layer in model.layers:  # BN right after every conv (through XNOR's K / ReCU's alpha only)
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            feeder = _inbound(layer)[0]
            while not isinstance(feeder, tf.keras.layers.Conv2D):
                assert type(feeder).__name__ in ("XnorActivationScale", "ChannelScale"), (method, layer.name, feeder)
                feeder = _inbound(feeder)[0] if type(feeder).__name__ == "ChannelScale" else _inbound(feeder)[1]


@pytest.mark.parametrize("method", ["bnn", "bireal", "reactnet", "bidrn"])
def test_identity_basic_block_topology(method):
    """Same shape: Bi-Real and ReActNet chain one identity per conv (conv2's is conv1's output, not the
    block input again); ResNet adds the block input after conv2; BiDRN's LCR + block residual."""
    from bhpe_tf.models import resnet

    adds, _ = _block_topology(_build_block(method, resnet.basic_block, channels=8, filters=8, strides=1), "b")
    expected = {
        "bnn": {"add": ["conv2_bn", "input"]},
        "bireal": {"conv1_res_add": ["conv1_bn", "input"], "conv2_res_add": ["conv1_res_add", "conv2_bn"]},
        "reactnet": {"conv1_res_add": ["conv1_bn", "input"], "conv2_res_add": ["conv1_act", "conv2_bn"]},
        "bidrn": {"conv1_res_add": ["conv1_bn", "input"], "add": ["conv2_bn", "input"]},
    }[method]
    assert adds == expected


@pytest.mark.parametrize("method", ["bnn", "bireal", "bidrn"])
def test_bottleneck_topology(method):
    """Strided bottleneck 8 -> 4 x 4 (v1.5: stride on the 3x3). Bi-Real keeps the block shortcut at the
    expansion conv (a 4:1 reduction has no Bi-Real shortcut; the parameter-free one is BiDRN's LCR) with
    its real downsample, and the 3x3 its own average-pooled identity."""
    from bhpe_tf.models import resnet

    adds, convs = _block_topology(_build_block(method, resnet.bottleneck_block, channels=8, filters=4, strides=2), "b")
    expected = {
        "bnn": ({"add": ["conv3_bn", "downsample_bn"]},
                {"conv1": ("binary", 1, "input"), "conv2": ("binary", 2, "conv1_bn"),
                 "conv3": ("binary", 1, "conv2_bn"), "downsample": ("binary", 2, "input")}),
        "bireal": ({"conv2_res_add": ["conv2_bn", "conv2_res_pool"], "add": ["conv3_bn", "downsample_bn"]},
                   {"conv1": ("binary", 1, "input"), "conv2": ("binary", 2, "conv1_bn"),
                    "conv3": ("binary", 1, "conv2_res_add"), "downsample": ("float", 1, "downsample_pool")}),
        # BiDRN: Fusion Down on the reduction, Down Scale on the strided 3x3, the FP Block Residual at conv3
        "bidrn": ({"conv1_res_add": ["conv1_bn", "conv1_res_fdr"], "conv2_res_add": ["conv2_bn", "conv2_res_pool"],
                   "add": ["conv3_bn", "downsample_bn"]},
                  {"conv1": ("binary", 1, "conv1_threshold"), "conv2": ("binary", 2, "conv2_threshold"),
                   "conv3": ("binary", 1, "conv3_threshold"), "downsample": ("float", 2, "input")}),
    }[method]
    assert (adds, convs) == expected
