"""Training-progress schedules of the binarization methods: ReCU's tau and FDA's noise weight.

Some methods change a hyper-parameter of their quantizer over training: ReCU raises the clamp
quantile tau from 0.85 to 0.99 (Xu et al., ICCV 2021, sec. 4.1), FDA anneals the weight of its
noise-adaptation module to 0 (Xu et al., NeurIPS 2021, sec. 2.3, Algorithm 1) and lengthens its
Fourier series from 9 to 18 terms (its released code). Here:

* a :class:`ProgressSchedule` maps the training progress p in [0, 1] to the value;
* every quantizer with a schedule (:class:`ProgressDriven`) owns a scalar, non-trainable
  ``progress`` weight. Being a model weight it is written into the trainer's checkpoints with the
  rest of the model and restored on resume;
* the trainer (:func:`bhpe_tf.training.loop.train`) sets it before every step to
  ``(step - 1) / total_steps`` (the fraction of training done), and :class:`TrainingProgress`
  does the same for ``model.fit`` from ``optimizer.iterations``.

A quantizer reads the schedule in its forward pass, so the value in force is always the one of the
current step, in eager mode and inside a ``tf.function`` alike.
"""
import dataclasses
import math

import larq as lq
import tensorflow as tf

from bhpe_tf.errors import InvalidInputError

SCHEDULE_SHAPES = ("linear", "exp", "cos")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProgressSchedule:
    """A value that moves from ``start`` (p = 0) to ``end`` (p = 1) over training.

    ``shape="linear"``: v(p) = start + (end - start) p.
    ``shape="exp"``: v(p) = A e^p + B with A = (end - start) / (e - 1), B = start - A: the schedule
    of ReCU's released training code (``cpt_tau``), which rises slowly first and fast at the end.
    ``shape="cos"``: v(p) = end + (start - end) (1 + cos(pi p)) / 2, the cosine annealing of FDA's
    released code for its noise weight. p is clipped to [0, 1].
    """

    start: float
    end: float
    shape: str = "linear"

    def __post_init__(self):
        if self.shape not in SCHEDULE_SHAPES:
            raise InvalidInputError(f"schedule shape must be one of {', '.join(SCHEDULE_SHAPES)}, got {self.shape!r}")

    def __call__(self, progress):
        p = tf.clip_by_value(tf.cast(progress, tf.float32), 0.0, 1.0)
        if self.shape == "linear":
            return self.start + (self.end - self.start) * p
        if self.shape == "cos":
            return self.end + (self.start - self.end) * 0.5 * (1.0 + tf.cos(math.pi * p))
        scale = (self.end - self.start) / (math.e - 1.0)
        return scale * tf.exp(p) + (self.start - scale)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class ProgressDriven(lq.quantizers._BaseQuantizer):
    """Base of the quantizers whose behaviour follows training progress: owns the ``progress`` weight."""

    def build(self, input_shape):
        self.progress = self.add_weight(name="progress", shape=(), initializer="zeros", trainable=False,
                                        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        super().build(input_shape)

    @property
    def non_trainable_weights(self):
        # Larq's quantizers hide their non-trainable weights (its flip-ratio metric); the progress
        # weight is state of the model: listed, so it is in ``model.variables`` (export, conversion).
        progress = getattr(self, "progress", None)
        return [progress] if progress is not None else []


def progress_variables(model) -> list:
    """The ``progress`` weights of every schedule-driven quantizer of ``model`` (built ones)."""
    found, seen = [], set()
    for module in model.submodules:
        if isinstance(module, ProgressDriven) and getattr(module, "progress", None) is not None:
            if id(module.progress) not in seen:
                seen.add(id(module.progress))
                found.append(module.progress)
    return found


def training_progress(step, total_steps) -> float:
    """Fraction of training done before step ``step + 1``: ``step / total_steps`` clipped to [0, 1]."""
    total_steps = int(total_steps)
    if total_steps < 1:
        raise InvalidInputError(f"total_steps must be a positive integer, got {total_steps}")
    return min(max(float(step) / total_steps, 0.0), 1.0)


def set_training_progress(variables, progress: float) -> None:
    """Set every ``progress`` weight (from :func:`progress_variables`) to ``progress``."""
    value = min(max(float(progress), 0.0), 1.0)
    for variable in variables:
        variable.assign(value)


class TrainingProgress(tf.keras.callbacks.Callback):
    """Keras callback driving the schedules in ``model.fit``: progress = iterations / ``total_steps``."""

    def __init__(self, *, total_steps: int):
        super().__init__()
        training_progress(0, total_steps)  # validates
        self.total_steps = int(total_steps)
        self._variables = None

    def on_train_batch_begin(self, batch, logs=None):
        if self._variables is None:
            self._variables = progress_variables(self.model)
        step = int(self.model.optimizer.iterations.numpy())
        set_training_progress(self._variables, training_progress(step, self.total_steps))
