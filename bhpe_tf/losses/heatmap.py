"""Heatmap losses for 2D pose: Adaptive Wing, JointsMSE, heatmap KL distillation, and their sum.

Layout: heatmaps are NHWK (Keras channels-last: batch, height, width, joints); target weights
(visibility) are (N, K) or (N, K, 1) as HRNet's data loaders produce them, 0 for invisible or
off-map joints.

Every loss has two forms: a function returning the **per-example** loss, shape (N,) (the mean over
the example's pixels and joints), and a small class whose ``components(...)`` returns a dict of
per-example tensors (one entry per term plus ``"total"``), which is what the trainer
(:mod:`bhpe_tf.training.loop`, through :meth:`bhpe_tf.training.tasks.HeatmapTask.losses`)
reduces with ``tf.nn.compute_average_loss`` (mean over the *global* batch under
``tf.distribute``). Calling a class instance returns the scalar batch mean. The mean of the
per-example values over the batch equals the mean over N*K*H*W of the references.
"""
from typing import Dict, Optional

import tensorflow as tf

from bhpe_tf.errors import InvalidInputError

# Adaptive Wing defaults (Wang et al. ICCV 2019, sec. 4 / official code).
AWING_ALPHA = 2.1
AWING_OMEGA = 14.0
AWING_EPSILON = 1.0
AWING_THETA = 0.5
AWING_W = 10.0
AWING_THRESHOLD = 0.2

# KL distillation defaults (this project's choice; docs/DESIGN.md §7). Raw heatmaps lie in [0, 1],
# so a plain softmax over 3072 pixels is nearly uniform and the KL nearly zero: the logits are the
# heatmaps times BETA (a peak of 1 then carries e^10 ~ 2e4 times the mass of a background pixel).
KL_BETA = 10.0
KL_WEIGHT = 1.0


def _check_shapes(prediction, target, names=("prediction", "target")):
    """Static shape check; raises :class:`InvalidInputError` naming both shapes."""
    p, t = tf.TensorShape(prediction.shape), tf.TensorShape(target.shape)
    if p.rank is not None and t.rank is not None:
        if p.rank != 4 or t.rank != 4 or not p.is_compatible_with(t):
            raise InvalidInputError(f"heatmap shapes do not match: {names[0]} {tuple(p.as_list())} vs "
                                    f"{names[1]} {tuple(t.as_list())} (expected two (N, H, W, K) tensors)")


def _joint_weights(target_weight, heatmaps):
    """(N, K) or (N, K, 1) visibility weights -> (N, 1, 1, K), checked against the heatmaps."""
    weight = tf.convert_to_tensor(target_weight, dtype=heatmaps.dtype)
    if weight.shape.rank == 3:
        weight = tf.squeeze(weight, axis=-1)
    expected = tf.TensorShape([heatmaps.shape[0], heatmaps.shape[-1]])
    if weight.shape.rank != 2 or not weight.shape.is_compatible_with(expected):
        raise InvalidInputError(f"target_weight shape {tuple(weight.shape.as_list())} does not match heatmaps "
                                f"{tuple(heatmaps.shape.as_list())}: expected (N, K) or (N, K, 1)")
    return weight[:, None, None, :]


def _per_example_mean(values):
    return tf.reduce_mean(values, axis=[1, 2, 3])


def awing_weight_map(target, *, weight=AWING_W, threshold=AWING_THRESHOLD):
    """AWing's loss weight map ``W * M + 1``, M = 1 where the 3x3 grey dilation of the target > threshold.

    Grey dilation with a flat 3x3 element is a 3x3 max filter (``max_pool2d`` 'SAME' per channel;
    at the border it equals ``scipy.ndimage.grey_dilation``'s reflect mode, since the reflected
    pixel is already in the window). It widens the foreground so that pixels next to the peak,
    where errors hurt localisation, weigh W + 1 = 11.
    """
    target = tf.convert_to_tensor(target)
    dilated = tf.nn.max_pool2d(target, ksize=3, strides=1, padding="SAME")
    mask = tf.cast(dilated > threshold, target.dtype)
    return weight * mask + 1.0


def adaptive_wing_loss(target, prediction, *, target_weight=None, alpha=AWING_ALPHA, omega=AWING_OMEGA,
                       epsilon=AWING_EPSILON, theta=AWING_THETA, weight=AWING_W, threshold=AWING_THRESHOLD,
                       use_weight_map=True):
    """Adaptive Wing loss (Wang, Bo, Fuxin, ICCV 2019, eq. 5-6), per example, shape (N,).

    Per pixel, with y the target in [0, 1] and d = |y - y_hat|::

        AWing = omega * ln(1 + (d / epsilon)^(alpha - y))        if d < theta
              = A * d - C                                         otherwise
        A = omega * (1 / (1 + (theta/epsilon)^(alpha-y))) * (alpha-y) * (theta/epsilon)^(alpha-y-1) / epsilon
        C = theta * A - omega * ln(1 + (theta/epsilon)^(alpha-y))

    (C makes the two branches meet at d = theta; A makes their slopes meet.) The loss is multiplied
    by :func:`awing_weight_map` (``use_weight_map``) and by the joints' visibility ``target_weight``,
    then averaged over H*W*K. As in the official code, the pixels of an invisible joint still count
    in the denominator. The gradient at d = 0 is 0: alpha - y - 1 >= alpha - 2 > 0.
    """
    prediction = tf.convert_to_tensor(prediction)
    target = tf.cast(tf.convert_to_tensor(target), prediction.dtype)
    _check_shapes(prediction, target)
    delta = tf.abs(target - prediction)
    # The exponent depends only on the target: no gradient flows to it (it would need log(d) at d = 0).
    power = tf.stop_gradient(alpha - target)
    ratio = theta / epsilon
    a = omega * (1.0 / (1.0 + tf.pow(ratio, power))) * power * tf.pow(ratio, power - 1.0) / epsilon
    c = theta * a - omega * tf.math.log1p(tf.pow(ratio, power))
    # Evaluate the log branch on min(d, theta) so its unused values (and their gradients) stay finite.
    small = omega * tf.math.log1p(tf.pow(tf.minimum(delta, theta) / epsilon, power))
    loss = tf.where(delta < theta, small, a * delta - c)
    if use_weight_map:
        loss = loss * awing_weight_map(target, weight=weight, threshold=threshold)
    if target_weight is not None:
        loss = loss * _joint_weights(target_weight, prediction)
    return _per_example_mean(loss)


def joints_mse_loss(target, prediction, *, target_weight=None):
    """HRNet's JointsMSELoss (Sun et al. CVPR 2019; Xiao et al. ECCV 2018), per example, shape (N,).

    ``0.5 * mean over H*W*K of (w_k * (y_hat - y))^2`` with w_k the visibility weight: the reference
    averages an ``nn.MSELoss`` per joint and divides by K, i.e. the same mean.
    """
    prediction = tf.convert_to_tensor(prediction)
    target = tf.cast(tf.convert_to_tensor(target), prediction.dtype)
    _check_shapes(prediction, target)
    error = prediction - target
    if target_weight is not None:
        error = error * _joint_weights(target_weight, prediction)
    return 0.5 * _per_example_mean(tf.square(error))


def heatmap_kl_divergence(teacher, student, *, beta=KL_BETA, target_weight=None):
    """Heatmap distillation term KL(teacher || student), per example, shape (N,).

    Knowledge distillation (Hinton, Vinyals, Dean 2015) applied per joint to a spatial distribution:
    ``p_k = softmax_{HW}(beta * teacher_k)``, ``q_k = softmax_{HW}(beta * student_k)``,
    ``KL = sum_{HW} p_k (log p_k - log q_k)``, averaged over the K joints. ``beta`` is an inverse
    temperature (see ``KL_BETA``). Hinton's T^2 factor is not applied: the weight lambda of the
    total loss absorbs it. The teacher is a constant (stop-gradient). ``target_weight`` (optional,
    default off) restricts the term to visible joints: by default the teacher supervises every joint,
    including those the ground truth has no label for.
    """
    student = tf.convert_to_tensor(student)
    teacher = tf.stop_gradient(tf.cast(tf.convert_to_tensor(teacher), student.dtype))
    _check_shapes(student, teacher, names=("student", "teacher"))
    shape = tf.shape(student)
    # (N, H, W, K) -> (N, K, H*W): the softmax runs over each joint's pixels.
    def flat(h):
        return tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [shape[0], shape[3], -1])

    log_p = tf.nn.log_softmax(beta * flat(teacher), axis=-1)
    log_q = tf.nn.log_softmax(beta * flat(student), axis=-1)
    kl = tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)  # (N, K)
    if target_weight is not None:
        kl = kl * _joint_weights(target_weight, student)[:, 0, 0, :]
    return tf.reduce_mean(kl, axis=-1)


class HeatmapLoss:
    """Base of the loss objects: ``components(...)`` -> dict of per-example (N,) tensors with "total".

    Subclasses set ``needs_teacher`` when they read teacher heatmaps. Calling the object returns the
    scalar batch mean of "total". To add a loss, subclass and implement ``components``.
    """

    needs_teacher = False
    names = ("total",)

    def components(self, target, prediction, *, teacher=None, target_weight=None) -> Dict[str, tf.Tensor]:
        raise NotImplementedError

    def __call__(self, target, prediction, *, teacher=None, target_weight=None):
        return tf.reduce_mean(self.components(target, prediction, teacher=teacher,
                                              target_weight=target_weight)["total"])


class AdaptiveWingLoss(HeatmapLoss):
    """:func:`adaptive_wing_loss` as a loss object (component "awing")."""

    names = ("awing", "total")

    def __init__(self, *, alpha=AWING_ALPHA, omega=AWING_OMEGA, epsilon=AWING_EPSILON, theta=AWING_THETA,
                 weight=AWING_W, threshold=AWING_THRESHOLD, use_weight_map=True):
        self.kwargs = dict(alpha=alpha, omega=omega, epsilon=epsilon, theta=theta, weight=weight,
                           threshold=threshold, use_weight_map=use_weight_map)

    def components(self, target, prediction, *, teacher=None, target_weight=None):
        value = adaptive_wing_loss(target, prediction, target_weight=target_weight, **self.kwargs)
        return {"awing": value, "total": value}


class JointsMSELoss(HeatmapLoss):
    """:func:`joints_mse_loss` as a loss object (component "mse"): HRNet's loss for the FP teacher."""

    names = ("mse", "total")

    def components(self, target, prediction, *, teacher=None, target_weight=None):
        value = joints_mse_loss(target, prediction, target_weight=target_weight)
        return {"mse": value, "total": value}


class DistillationLoss(HeatmapLoss):
    """BiHRNet's objective ``L = task(student, GT) + lambda * KL(teacher || student)``.

    ``task`` defaults to :class:`AdaptiveWingLoss`; components are the task's ("awing") plus
    "kl" and "total". Defaults lambda = 1 (``KL_WEIGHT``) and beta = 10 (``KL_BETA``) are this
    project's choices (the paper's values are not available); ``kl_target_weight`` applies the
    visibility weights to the KL term as well.
    """

    needs_teacher = True

    def __init__(self, *, task: Optional[HeatmapLoss] = None, kl_weight=KL_WEIGHT, beta=KL_BETA,
                 kl_target_weight=False):
        self.task = task if task is not None else AdaptiveWingLoss()
        self.kl_weight = float(kl_weight)
        self.beta = float(beta)
        self.kl_target_weight = kl_target_weight
        self.names = tuple(n for n in self.task.names if n != "total") + ("kl", "total")

    def components(self, target, prediction, *, teacher=None, target_weight=None):
        if teacher is None:
            raise InvalidInputError("DistillationLoss needs the teacher's heatmaps (teacher=...)")
        parts = dict(self.task.components(target, prediction, target_weight=target_weight))
        task_total = parts.pop("total")
        parts["kl"] = heatmap_kl_divergence(teacher, prediction, beta=self.beta,
                                            target_weight=target_weight if self.kl_target_weight else None)
        parts["total"] = task_total + self.kl_weight * parts["kl"]
        return parts


__all__ = [
    "AWING_ALPHA", "AWING_EPSILON", "AWING_OMEGA", "AWING_THETA", "AWING_THRESHOLD", "AWING_W", "AdaptiveWingLoss",
    "DistillationLoss", "HeatmapLoss", "JointsMSELoss", "KL_BETA", "KL_WEIGHT", "adaptive_wing_loss",
    "awing_weight_map", "heatmap_kl_divergence", "joints_mse_loss",
]
