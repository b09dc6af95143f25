"""Heatmap losses: AWing (Wang et al. ICCV 2019) against its formula, its weight map, KL, MSE."""
import math

import numpy as np
import pytest

import bhpe_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf
from scipy import ndimage

from bhpe_tf.errors import InvalidInputError
from bhpe_tf.losses import (AdaptiveWingLoss, DistillationLoss, JointsMSELoss, adaptive_wing_loss,
                            awing_weight_map, heatmap_kl_divergence, joints_mse_loss)

ALPHA, OMEGA, EPS, THETA = 2.1, 14.0, 1.0, 0.5


def awing_reference(y, y_hat):
    """AWing per pixel, written from eq. 5-6 of the paper with Python floats."""
    d = abs(y - y_hat)
    p = ALPHA - y
    if d < THETA:
        return OMEGA * math.log(1 + (d / EPS) ** p)
    a = OMEGA * (1 / (1 + (THETA / EPS) ** p)) * p * (THETA / EPS) ** (p - 1) / EPS
    c = THETA * a - OMEGA * math.log(1 + (THETA / EPS) ** p)
    return a * d - c


def pixels(values):
    """A batch of 1x1x1 heatmaps: per-example losses are then the per-pixel losses."""
    return tf.constant(np.asarray(values, np.float32).reshape(-1, 1, 1, 1))


def test_awing_matches_formula_on_both_branches():
    y = [0.0, 0.5, 1.0, 0.0, 0.2, 1.0]
    y_hat = [0.2, 0.1, 0.9, 0.9, 1.0, -0.3]  # first three: d < theta; last three: linear branch
    got = adaptive_wing_loss(pixels(y), pixels(y_hat), use_weight_map=False).numpy()
    expected = [awing_reference(a, b) for a, b in zip(y, y_hat)]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert abs(expected[0] - OMEGA * math.log(1 + 0.2 ** 2.1)) < 1e-12  # the reference itself, by hand


def test_awing_is_continuous_and_smooth_at_theta():
    for y in (0.0, 0.3, 1.0):
        below = pixels([y]), pixels([y + THETA - 1e-4])
        above = pixels([y]), pixels([y + THETA + 1e-4])
        lo = adaptive_wing_loss(*below, use_weight_map=False).numpy()[0]
        hi = adaptive_wing_loss(*above, use_weight_map=False).numpy()[0]
        assert abs(hi - lo) < 1e-2  # slope ~ A (< 20) times 2e-4
        # slopes of the two branches agree at theta
        slopes = []
        for offset in (-1e-3, 1e-3):
            pred = tf.Variable(pixels([y + THETA + offset]))
            with tf.GradientTape() as tape:
                loss = adaptive_wing_loss(pixels([y]), pred, use_weight_map=False)
            slopes.append(tape.gradient(loss, pred).numpy().item())
        assert slopes[0] == pytest.approx(slopes[1], rel=2e-2)


def test_awing_gradient_is_finite_at_zero_error():
    target = tf.constant(np.array([0.0, 0.5, 1.0, 0.0], np.float32).reshape(1, 2, 2, 1))
    prediction = tf.Variable(target)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(adaptive_wing_loss(target, prediction))
    grad = tape.gradient(loss, prediction).numpy()
    assert loss.numpy() == 0.0
    assert np.all(np.isfinite(grad)) and np.all(grad == 0.0)


def test_weight_map_matches_hand_computed_dilation():
    target = np.zeros((5, 6), np.float32)
    target[2, 3] = 1.0   # peak: its 3x3 neighbourhood is foreground
    target[0, 0] = 0.3   # corner above threshold: 2x2 neighbourhood inside the map
    target[4, 0] = 0.15  # below threshold 0.2: not foreground
    expected_mask = np.zeros((5, 6), np.float32)
    expected_mask[1:4, 2:5] = 1
    expected_mask[0:2, 0:2] = 1
    got = awing_weight_map(target.reshape(1, 5, 6, 1)).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(got, 10 * expected_mask + 1)
    np.testing.assert_array_equal(got, 10 * (ndimage.grey_dilation(target, size=(3, 3)) > 0.2) + 1)


def test_awing_applies_weight_map_and_target_weights():
    rng = np.random.default_rng(0)
    target = rng.uniform(0, 1, (2, 4, 4, 3)).astype(np.float32)
    pred = rng.uniform(0, 1, (2, 4, 4, 3)).astype(np.float32)
    plain = np.vectorize(awing_reference)(target, pred)
    weighted = plain * awing_weight_map(target).numpy()
    visibility = np.array([[1, 0, 1], [0, 0, 1]], np.float32)
    got = adaptive_wing_loss(target, pred, target_weight=visibility[..., None]).numpy()
    expected = (weighted * visibility[:, None, None, :]).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert AdaptiveWingLoss()(target, pred, target_weight=visibility).numpy() == pytest.approx(expected.mean(), rel=1e-5)


def test_joints_mse_is_hrnet_formula():
    rng = np.random.default_rng(1)
    target, pred = rng.uniform(0, 1, (2, 2, 3, 4, 4)).astype(np.float32)
    visibility = np.array([[1, 1, 0, 1], [0, 1, 1, 1]], np.float32)
    w = visibility[:, None, None, :]
    expected = 0.5 * np.mean((pred * w - target * w) ** 2)
    assert JointsMSELoss()(target, pred, target_weight=visibility).numpy() == pytest.approx(expected, rel=1e-5)
    assert joints_mse_loss(target, pred).shape == (2,)


def test_kl_zero_for_identical_and_positive_otherwise():
    rng = np.random.default_rng(2)
    teacher = rng.uniform(0, 1, (2, 8, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(heatmap_kl_divergence(teacher, teacher).numpy(), 0.0, atol=1e-6)
    student = teacher.copy()
    student[0, 1, 1, 0] += 0.5
    kl = heatmap_kl_divergence(teacher, student).numpy()
    assert kl[0] > 1e-3 and abs(kl[1]) < 1e-6
    # reference: per joint softmax over the pixels of beta * heatmap
    def softmax(h):
        z = np.exp(10 * h - (10 * h).max())
        return z / z.sum()
    p, q = softmax(teacher[0, :, :, 0]), softmax(student[0, :, :, 0])
    assert kl[0] == pytest.approx(np.sum(p * np.log(p / q)) / 3, rel=1e-4)


def test_distillation_loss_combines_terms():
    rng = np.random.default_rng(3)
    gt, student, teacher = rng.uniform(0, 1, (3, 2, 8, 6, 3)).astype(np.float32)
    parts = DistillationLoss(kl_weight=0.5).components(gt, student, teacher=teacher)
    assert set(parts) == {"awing", "kl", "total"}
    np.testing.assert_allclose(parts["total"], parts["awing"] + 0.5 * parts["kl"], rtol=1e-6)
    with pytest.raises(InvalidInputError, match="teacher"):
        DistillationLoss().components(gt, student)


@pytest.mark.parametrize("loss", [adaptive_wing_loss, joints_mse_loss, heatmap_kl_divergence])
def test_shape_mismatch_names_both_shapes(loss):
    with pytest.raises(InvalidInputError) as error:
        loss(np.zeros((2, 64, 48, 17), np.float32), np.zeros((2, 64, 48, 16), np.float32))
    assert "(2, 64, 48, 17)" in str(error.value) and "(2, 64, 48, 16)" in str(error.value)
