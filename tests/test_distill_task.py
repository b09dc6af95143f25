"""BiHRNet distillation as the trainer runs it (:class:`bhpe_tf.training.tasks.HeatmapTask` in
:func:`bhpe_tf.training.loop.train`): the loss is Adaptive Wing to the ground truth plus lambda *
KL(teacher || student) (BiHRNet, arXiv 2311.10296), the teacher is frozen and a training step moves
only the student."""
import numpy as np
import pytest
import tensorflow as tf
from scipy.ndimage import maximum_filter

from bhpe_tf.losses import heatmap as L
from bhpe_tf.training import config as C
from bhpe_tf.training import tasks
from bhpe_tf.training.loop import train

# A reduced HRNet-W32 teacher and BiHRNet student (the real graphs, seconds per step on CPU).
TINY = ["data.input_wh=[32, 32]", "data.val_samples=2", "train.batch_size=2", "train.val_batch_size=2",
        "train.steps_per_epoch=1", "train.checkpoint_every=1", "train.log_every=1", "model.kwargs.width=4",
        "model.kwargs.stage_modules=[1, 1, 1]", "model.kwargs.num_blocks=1", "data.sigma=1.0"]
TINY_TEACHER = {"width": 4, "stage_modules": [1, 1, 1], "num_blocks": 1}


def stage1_config(extra=()):
    config = C.load_config("bihrnet_mpii_stage1")
    config["init_from"] = None
    config["teacher"]["kwargs"] = dict(TINY_TEACHER)
    config["teacher"]["checkpoint"] = None
    return C.apply_overrides(config, TINY + list(extra))


# --------------------------------------------------------------------- the loss, worked by hand
def _softmax(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def awing_by_hand(target, prediction, weight):
    """Wang et al. ICCV 2019 eq. 5-6 with the 3x3-dilated weight map W*M + 1, times the visibility,
    averaged over H*W*K per example."""
    alpha, omega, epsilon, theta, w_map, threshold = 2.1, 14.0, 1.0, 0.5, 10.0, 0.2
    d = np.abs(target - prediction)
    power = alpha - target
    a = omega * (1 / (1 + (theta / epsilon) ** power)) * power * (theta / epsilon) ** (power - 1) / epsilon
    c = theta * a - omega * np.log1p((theta / epsilon) ** power)
    loss = np.where(d < theta, omega * np.log1p((d / epsilon) ** power), a * d - c)
    dilated = maximum_filter(target, size=(1, 3, 3, 1), mode="nearest")
    loss = loss * (w_map * (dilated > threshold) + 1.0) * weight[:, None, None, :]
    return loss.mean(axis=(1, 2, 3))


def kl_by_hand(teacher, student, beta):
    """Per joint, p = softmax(beta * teacher) and q = softmax(beta * student) over the pixels;
    KL(p || q) averaged over the joints."""
    n, h, w, k = student.shape
    p = _softmax(beta * teacher.transpose(0, 3, 1, 2).reshape(n, k, h * w))
    q = _softmax(beta * student.transpose(0, 3, 1, 2).reshape(n, k, h * w))
    return (p * (np.log(p) - np.log(q))).sum(-1).mean(-1)


class _Fixed:
    """A stand-in network that returns fixed heatmaps and records how it was called."""

    def __init__(self, heatmaps):
        self.heatmaps, self.calls = heatmaps, []

    def __call__(self, images, training=False):
        self.calls.append(training)
        return tf.constant(self.heatmaps)


@pytest.mark.parametrize("kl_weight", [1.0, 0.5])
def test_the_tasks_distillation_loss_is_awing_plus_weighted_kl(kl_weight):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:6, 0:5]
    target = np.zeros((2, 6, 5, 3), np.float32)
    for n in range(2):
        for j in range(3):
            cy, cx = rng.integers(1, 5, 2)
            target[n, :, :, j] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 2.0)
    student = (target + rng.normal(0, 0.3, target.shape)).astype(np.float32)
    teacher = (target + rng.normal(0, 0.1, target.shape)).astype(np.float32)
    weight = np.array([[1, 1, 0], [1, 1, 1]], np.float32)

    task = tasks.HeatmapTask(stage1_config([f"loss.kl_weight={kl_weight}"]))
    loss = task.make_loss(teacher=object())
    assert isinstance(loss, L.DistillationLoss) and isinstance(loss.task, L.AdaptiveWingLoss)
    student_net, teacher_net = _Fixed(student), _Fixed(teacher)
    batch = {"image": np.zeros((2, 8, 8, 3), np.float32), "heatmaps": target, "target_weight": weight}
    parts = {k: v.numpy() for k, v in task.losses(student_net, teacher_net, loss, batch, training=True).items()}

    assert set(parts) == {"awing", "kl", "total"} and parts["total"].shape == (2,)
    awing = awing_by_hand(target.astype(np.float64), student.astype(np.float64), weight)
    kl = kl_by_hand(teacher.astype(np.float64), student.astype(np.float64), beta=10.0)
    np.testing.assert_allclose(parts["awing"], awing, rtol=1e-5)
    np.testing.assert_allclose(parts["kl"], kl, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(parts["total"], awing + kl_weight * kl, rtol=1e-4)
    assert kl.min() > 0  # the case is not degenerate: the teacher does pull on the student
    # the student trains in training mode, the teacher is always run in inference mode
    assert student_net.calls == [True] and teacher_net.calls == [False]


def test_without_a_teacher_the_student_trains_on_awing_alone():
    loss = tasks.HeatmapTask(stage1_config()).make_loss(teacher=None)
    assert type(loss) is L.AdaptiveWingLoss and not loss.needs_teacher


# ------------------------------------------------------------------------ a step of the trainer
def test_a_trainer_step_moves_the_student_and_not_the_frozen_teacher(tmp_path, monkeypatch):
    tf.keras.utils.set_random_seed(0)
    teacher = tasks.HeatmapTask(stage1_config()).build_teacher()
    assert teacher.trainable is False and not teacher.trainable_weights and teacher.weights
    # shifted off any fresh initialisation, so that equality below shows the checkpoint was restored
    teacher.set_weights([w + np.asarray(0.01, w.dtype) for w in teacher.get_weights()])
    weights_file = tmp_path / "teacher.weights.h5"
    teacher.save_weights(str(weights_file))
    stored = [w.copy() for w in teacher.get_weights()]
    tf.keras.backend.clear_session()

    seen = {}
    build_teacher, make_loss = tasks.HeatmapTask.build_teacher, tasks.HeatmapTask.make_loss

    def capture_teacher(self):
        seen["teacher"] = build_teacher(self)
        return seen["teacher"]

    def capture_loss(self, teacher):
        seen["loss"] = make_loss(self, teacher)
        return seen["loss"]

    def capture_start(model, **_):
        seen["student"] = model
        seen["student_start"] = [v.numpy().copy() for v in model.trainable_variables]
        seen["teacher_start"] = [w.copy() for w in seen["teacher"].get_weights()]

    monkeypatch.setattr(tasks.HeatmapTask, "build_teacher", capture_teacher)
    monkeypatch.setattr(tasks.HeatmapTask, "make_loss", capture_loss)
    config = stage1_config()
    config["teacher"]["checkpoint"] = str(weights_file)
    out = train(config, workdir=tmp_path / "stage1", steps=1, on_restore=capture_start, progress=False,
                log=lambda *a: None)

    assert out["final_step"] == 1 and np.isfinite(out["last_loss"])
    assert isinstance(seen["loss"], L.DistillationLoss)  # the loop distils: AWing + KL to the teacher
    teacher = seen["teacher"]
    assert not teacher.trainable_weights
    # the teacher was restored from its checkpoint and the step left every weight (BN statistics too) alone
    assert all(np.array_equal(a, b) for a, b in zip(stored, seen["teacher_start"]))
    assert all(np.array_equal(a, b) for a, b in zip(stored, teacher.get_weights()))
    student_end = [v.numpy() for v in seen["student"].trainable_variables]
    assert all(np.all(np.isfinite(w)) for w in student_end)
    moved = sum(not np.array_equal(a, b) for a, b in zip(seen["student_start"], student_end))
    assert moved > len(student_end) // 2, f"only {moved} of {len(student_end)} student variables moved"
