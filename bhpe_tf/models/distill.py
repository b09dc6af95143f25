"""Teacher -> student heatmap distillation as a Keras model (BiHRNet's training, arXiv 2311.10296).

:class:`DistillationModel` wraps a student (e.g. BiHRNet) and an optional frozen teacher (e.g. a
trained HRNet-W32) and trains the student with a :class:`bhpe_tf.losses.heatmap.HeatmapLoss`:

* with a teacher, by default ``AWing(student, GT) + lambda * KL(teacher || student)``
  (:class:`~bhpe_tf.losses.heatmap.DistillationLoss`; knowledge distillation, Hinton et al. 2015);
* without a teacher, plain supervised training, e.g. of the FP teacher itself with HRNet's
  ``JointsMSELoss`` (``DistillationModel(student=hrnet, loss=JointsMSELoss())``) or AWing.

Data: ``(images, heatmaps)``, ``(images, (heatmaps, target_weight))`` or
``(images, {"heatmaps": ..., "target_weight": ...})``; target weights are (N, K) or (N, K, 1).

The teacher is frozen: ``trainable = False`` and it runs with ``training=False`` (BN uses its
moving statistics, which therefore never update). Only the student's trainable variables get
gradients. The loss is computed without ``compiled_loss``: per-example losses are reduced with
``tf.nn.compute_average_loss`` (divided by the *global* batch size under ``tf.distribute``, so
that gradients summed over replicas are those of the global mean), and the student's
regularisation losses with ``tf.nn.scale_regularization_loss``. Build and compile the model inside
``strategy.scope()``. Metrics: one ``Mean`` per loss component ("awing", "kl", "total" ...).

Saving: save ``model.student`` (a plain functional model); the wrapper itself is not meant to be
serialised.
"""
from typing import Optional

import tensorflow as tf

from bhpe_tf.errors import InvalidInputError
from bhpe_tf.losses.heatmap import AdaptiveWingLoss, DistillationLoss, HeatmapLoss


class DistillationModel(tf.keras.Model):
    """``DistillationModel(student=, teacher=None, loss=None)``; ``loss`` defaults to
    :class:`DistillationLoss` (AWing + KL) with a teacher and :class:`AdaptiveWingLoss` without."""

    def __init__(self, *, student: tf.keras.Model, teacher: Optional[tf.keras.Model] = None,
                 loss: Optional[HeatmapLoss] = None, **kwargs):
        super().__init__(**kwargs)
        if loss is None:
            loss = DistillationLoss() if teacher is not None else AdaptiveWingLoss()
        if loss.needs_teacher and teacher is None:
            raise InvalidInputError(f"{type(loss).__name__} distils from a teacher: pass teacher=<trained model>")
        if teacher is not None:
            if tuple(teacher.output_shape) != tuple(student.output_shape):
                raise InvalidInputError(f"teacher output shape {teacher.output_shape} does not match student "
                                        f"output shape {student.output_shape}")
            teacher.trainable = False
        self.student = student
        self.teacher = teacher
        self.heatmap_loss = loss
        self.trackers = {name: tf.keras.metrics.Mean(name=name) for name in loss.names}

    @property
    def metrics(self):
        # Listed here so that fit()/evaluate() reset them at each epoch.
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.student(inputs, training=training)

    @staticmethod
    def _unpack(data):
        x, y, sample_weight = tf.keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise InvalidInputError("pass joint visibility as y=(heatmaps, target_weight), not as sample_weight")
        target_weight = None
        if isinstance(y, dict):
            target_weight = y.get("target_weight")
            y = y["heatmaps"]
        elif isinstance(y, (tuple, list)):
            if len(y) != 2:
                raise InvalidInputError(f"y must be heatmaps or (heatmaps, target_weight), got {len(y)} items")
            y, target_weight = y
        return x, y, target_weight

    def _components(self, x, y, target_weight, training):
        teacher = self.teacher(x, training=False) if self.teacher is not None else None
        prediction = self.student(x, training=training)
        return self.heatmap_loss.components(y, prediction, teacher=teacher, target_weight=target_weight)

    def _update_metrics(self, parts):
        for name, tracker in self.trackers.items():
            tracker.update_state(parts[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # AutoGraph is off for the steps (and so for every layer called inside them): the models have no
    # tensor-dependent Python control flow, and converting each Larq layer's code costs minutes of
    # tracing on a full BiHRNet.
    @tf.autograph.experimental.do_not_convert
    def train_step(self, data):
        x, y, target_weight = self._unpack(data)
        with tf.GradientTape() as tape:
            parts = self._components(x, y, target_weight, training=True)
            loss = tf.nn.compute_average_loss(parts["total"])
            if self.student.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(self.student.losses))
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._update_metrics(parts)

    @tf.autograph.experimental.do_not_convert
    def test_step(self, data):
        x, y, target_weight = self._unpack(data)
        return self._update_metrics(self._components(x, y, target_weight, training=False))


__all__ = ["DistillationModel"]
