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

    sets = ["data.input_size=[32, 32]", "train.batch_size=2", "model.kwargs.width=4", "train.checkpoint_every=1",
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
def _fourier_grad_by_hand(x, n_terms=9, omega=0.1):
    # FDA eq. 8: d/dx (4/pi) sum sin((2i+1) w x) / (2i+1) = (4 w / pi) sum cos((2i+1) w x), zero outside [-1, 1]
    series = (4 * omega / math.pi) * sum(np.cos((2 * i + 1) * omega * x) for i in range(n_terms + 1))
    return np.where(np.abs(x) <= 1, series, 0.0)


def _noise_module_by_hand(t, w1, b1, w2, b2, upstream):
    """e(t) = W2 ReLU(W1 t + b1) + b2 on the rows of t, and the vector-Jacobian product u^T de/dt."""
    pre = t @ w1 + b1
    e = np.maximum(pre, 0) @ w2 + b2
    vjp = ((upstream @ w2.T) * (pre > 0)) @ w1.T
    return e, vjp


def _set_noise(quantizer, rng):
    values = [rng.normal(size=tuple(v.shape)) * 0.5 for v in quantizer.noise_layers]
    for variable, value in zip(quantizer.noise_layers, values):
        variable.assign(value.astype(np.float32))
    return values


@pytest.mark.parametrize("p", PROGRESS)
def test_fda_activation_noise_module_is_annealed_and_training_only(p):
    eta = 1.0 - p  # linear 1 -> 0
    x = np.array([[0.3, -0.7, 1.5], [-0.05, 0.9, -2.0]], np.float64)  # two activation vectors, C = 3
    u = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], np.float64)
    quantizer = B.FourierSign(noise_hidden_ratio=2)  # hidden 3 // 2 = 1
    quantizer(tf.constant(x, tf.float32))
    w1, b1, w2, b2 = _set_noise(quantizer, np.random.default_rng(1))
    assert w1.shape == (3, 1) and w2.shape == (1, 3)
    _set_progress(quantizer, p)
    variable = tf.Variable(x.astype(np.float32))
    for training in (True, False):
        with tf.GradientTape() as tape:
            out = quantizer(variable, training=training)
            loss = tf.reduce_sum(out * u.astype(np.float32))
        grad = tape.gradient(loss, variable).numpy()
        e, vjp = _noise_module_by_hand(x, w1, b1, w2, b2, u)
        on = eta if training else 0.0  # inference: pure sign, no module
        np.testing.assert_allclose(out.numpy(), np.where(x >= 0, 1.0, -1.0) + on * e, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grad, u * _fourier_grad_by_hand(x) + on * vjp, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("p", PROGRESS)
def test_fda_weight_noise_module_acts_on_each_filter(p):
    eta = 1.0 - p
    # kernel (kh=1, kw=2, in=2, out=2): the filter of output channel c is w[..., c], d = 4
    w = np.array([[[[0.5, -0.1], [-0.25, 0.3]], [[0.8, -1.2], [0.05, 0.4]]]], np.float64)
    u = np.arange(1.0, 9.0).reshape(w.shape) / 4
    quantizer = B.FourierSign(scale_per_channel=True, noise_hidden_ratio=2)  # hidden 4 // 2 = 2
    quantizer(tf.constant(w, tf.float32))
    w1, b1, w2, b2 = _set_noise(quantizer, np.random.default_rng(2))
    assert w1.shape == (4, 2)
    _set_progress(quantizer, p)
    variable = tf.Variable(w.astype(np.float32))
    with tf.GradientTape() as tape:
        out = quantizer(variable, training=True)
        loss = tf.reduce_sum(out * u.astype(np.float32))
    grad = tape.gradient(loss, variable).numpy()
    filters = w.reshape(4, 2).T  # rows: output channels
    e, vjp = _noise_module_by_hand(filters, w1, b1, w2, b2, u.reshape(4, 2).T)
    alpha = np.abs(filters).mean(axis=1)  # XNOR-style per-filter scale, stop-gradient
    expected = np.where(w >= 0, 1.0, -1.0) * alpha + eta * e.T.reshape(w.shape)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    expected_grad = u * alpha * _fourier_grad_by_hand(w) + eta * vjp.T.reshape(w.shape)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-5)
    inference = quantizer(variable, training=False).numpy()
    np.testing.assert_allclose(inference, np.where(w >= 0, 1.0, -1.0) * alpha, rtol=1e-6)


def test_fda_rejects_a_negative_module_ratio():
    with pytest.raises(InvalidInputError, match="noise_hidden_ratio"):
        B.FourierSign(noise_hidden_ratio=-1)


def test_fda_modules_train_and_leave_no_op_in_the_converted_model():
    from bhpe_tf.conversion import binary_layers, convert, op_census, trained_like_state
    from test_binary_core import tiny_residual_model

    model = trained_like_state(tiny_residual_model("fda"), seed=1)
    modules = [w for layer in binary_layers(model) for w in layer.trainable_weights if "noise_w" in w.name]
    assert len(modules) == 2 * 2 * 5  # W1, W2 for the weights and the activations of each of the 5 binary layers
    assert all(any(w is t for t in model.trainable_variables) for w in modules)  # the optimizer trains them
    B.set_training_progress(B.progress_variables(model), 1.0)  # annealed
    fda = op_census(convert(model))
    xnor = op_census(convert(trained_like_state(tiny_residual_model("xnor"), seed=1)))
    assert fda.lce_bconv2d == 5 and fda.float_fallbacks == []
    assert fda.counts == xnor.counts  # the same ops as the module-free XNOR-scaled net: nothing of FDA is left
