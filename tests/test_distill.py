"""DistillationModel: the student learns, the frozen teacher does not move."""
import numpy as np

import bhpe_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf

from bhpe_tf.losses import JointsMSELoss
from bhpe_tf.models.distill import DistillationModel
from bhpe_tf.models.hrnet import build_bihrnet, build_hrnet_w32

SMALL = dict(input_shape=(64, 64, 3), width=8, stage_modules=(1, 1, 1), num_blocks=1, num_joints=4)


def _batch(rng):
    images = rng.normal(size=(2, 64, 64, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:16, 0:16]
    heatmaps = np.zeros((2, 16, 16, 4), np.float32)
    for n in range(2):
        for k in range(4):
            cy, cx = rng.integers(3, 13, 2)
            heatmaps[n, :, :, k] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 2.0 ** 2))
    visibility = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], np.float32)
    return images, heatmaps, visibility


def test_distillation_overfits_a_batch_and_keeps_teacher_frozen():
    tf.keras.utils.set_random_seed(0)
    images, heatmaps, visibility = _batch(np.random.default_rng(0))
    teacher = build_hrnet_w32(**SMALL)
    teacher_weights = [w.copy() for w in teacher.get_weights()]
    model = DistillationModel(student=build_bihrnet(**SMALL), teacher=teacher)
    model.compile(optimizer=tf.keras.optimizers.legacy.Adam(1e-3))
    # 80 steps: with one real-valued path per tensor (bhpe_tf.models.hrnet) the features reaching the
    # head start at unit scale, so the head's first steps are smaller than when the path exploded.
    history = model.fit(images, (heatmaps, visibility), batch_size=2, epochs=80, verbose=0).history
    assert set(history) == {"awing", "kl", "total"}
    # Binary training on one batch is noisy step to step (sign flips, BN over 2 images): compare the
    # start with the mean of the last steps.
    assert np.mean(history["total"][-5:]) < 0.5 * history["total"][0], history["total"]
    assert all(np.array_equal(a, b) for a, b in zip(teacher_weights, teacher.get_weights()))
    assert not teacher.trainable_weights and model.trainable_weights  # only the student trains


def test_supervised_training_without_teacher():
    tf.keras.utils.set_random_seed(1)
    images, heatmaps, visibility = _batch(np.random.default_rng(1))
    model = DistillationModel(student=build_hrnet_w32(**SMALL), loss=JointsMSELoss())
    model.compile(optimizer=tf.keras.optimizers.legacy.Adam(1e-3))
    history = model.fit(images, {"heatmaps": heatmaps, "target_weight": visibility}, epochs=15, verbose=0).history
    assert set(history) == {"mse", "total"}
    assert history["mse"][-1] < history["mse"][0]
    assert model.evaluate(images, (heatmaps, visibility), verbose=0, return_dict=True)["mse"] >= 0
