"""Training throughput: images/s of one training step (the trainer's loss, teacher included) and of the input alone.

    python benchmarks/bench_training.py [--models bihrnet,binaryhpe] [--batch_size 2] [--steps 3] [--warmup 1]
        [--jit_compile false,true] [--precision float32,mixed_bfloat16,mixed_float16] [--pipeline_parallel 1,0]
        [--reduced]

Step rows: the recipe of ``bhpe_tf/configs`` (``bihrnet_coco``: BiHRNet 256x192, AWing + KL to the HRNet-W32
teacher; ``binaryhpe_bidrn``: BinaryHPE-BiDRN 512x384, Hand4Whole's losses through the SMPL-X stage + L1
distillation from the Hand4Whole teacher), built by the trainer's task (:func:`bhpe_tf.training.tasks.make_task`:
model, teacher, loss), on one batch of the task's synthetic training source; the step is the trainer's
(loss over the batch, gradients, Adam) without the distribution strategy, compiled as one ``tf.function``
(``jit_compile`` on / off). The teacher is freshly initialised: throughput does not depend on its weights.
Median seconds of ``--steps`` steps after ``--warmup`` (tracing / compilation) steps.

``--precision``: the Keras mixed-precision policy the models are built under (``mixed_float16`` with a
loss-scaling optimizer). A configuration that fails (a layer or quantizer without that dtype, XLA
without a kernel) is reported as unsupported with the first line of its error, not a crash.

Input rows: the trainer's own feed of that synthetic source (``bhpe_tf.training.loop.make_distributed_dataset``,
its AUTOTUNE map) at the step's batch size, and the real-data pipeline (``bhpe_tf.data.pipeline`` over the COCO
samples of ``../shared/data``, ``benchmarks/bench_pipeline.py``) at each ``--pipeline_parallel`` (0: AUTOTUNE).
``--reduced``: small networks and inputs (smoke test, seconds).
"""
import contextlib
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bhpe_tf  # noqa: E402,F401  (Keras 2 before TensorFlow)
from absl import flags  # noqa: E402

from bhpe_tf import cli  # noqa: E402
from bhpe_tf.errors import InvalidInputError  # noqa: E402

CONFIGS = {"bihrnet": "bihrnet_coco", "binaryhpe": "binaryhpe_bidrn"}
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# --reduced: the same recipes on small networks (every block type kept), for the smoke test.
REDUCED = {
    "bihrnet": {"data.input_wh": [32, 64], "model.kwargs.width": 4, "model.kwargs.stage_modules": [1, 1, 1],
                "model.kwargs.num_blocks": 1, "teacher.kwargs.width": 4, "teacher.kwargs.stage_modules": [1, 1, 1],
                "teacher.kwargs.num_blocks": 1},
    "binaryhpe": None,  # not reduced: even a tiny BinaryHPE takes minutes to trace (tests/test_convert.py)
}

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """This script's flags on ``flag_values`` (bhpe_tf.cli.run defines them)."""
    flags.DEFINE_list("models", ["bihrnet", "binaryhpe"], f"which step rows: {', '.join(CONFIGS)}",
                      flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 2, "images per step", flag_values=flag_values)
    flags.DEFINE_integer("steps", 3, "timed steps per row (median reported)", flag_values=flag_values)
    flags.DEFINE_integer("warmup", 1, "steps before timing (the first traces / compiles)", flag_values=flag_values)
    flags.DEFINE_list("jit_compile", ["false"], "XLA settings to run: false, true", flag_values=flag_values)
    flags.DEFINE_list("precision", ["float32"], f"Keras precision policies to run: {', '.join(PRECISIONS)}",
                      flag_values=flag_values)
    flags.DEFINE_list("pipeline_parallel", ["1", "0"], "map parallelism of the real-data pipeline row(s); 0: AUTOTUNE; "
                      "empty: no real-data row", flag_values=flag_values)
    flags.DEFINE_integer("pipeline_batches", 10, "batches per timed input run", flag_values=flag_values)
    flags.DEFINE_boolean("reduced", False, "small networks and inputs (smoke test)", flag_values=flag_values)


def _bool(text) -> bool:
    value = str(text).strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise InvalidInputError(f"--jit_compile values are true / false, got {text!r}")
    return value in ("true", "1")


def recipe(model: str, *, reduced: bool) -> dict:
    """The training config of ``model``'s step row (its recipe, reduced with ``reduced``)."""
    from bhpe_tf.training.config import apply_overrides, load_config, validate

    if model not in CONFIGS:
        raise InvalidInputError(f"--models: unknown model {model!r}; choose from {', '.join(CONFIGS)}")
    config = load_config(CONFIGS[model])
    config["teacher"]["checkpoint"] = None  # built, not restored: its weights do not change the step's cost
    if reduced:
        if REDUCED[model] is None:
            raise InvalidInputError(f"--reduced has no small {model} (it takes minutes to trace); drop it from --models")
        config = apply_overrides(config, [f"{key}={value}" for key, value in REDUCED[model].items()])
    return validate(config)


@contextlib.contextmanager
def precision_policy(name: str):
    """Build under the Keras policy ``name``; the global policy is restored afterwards."""
    import tensorflow as tf

    previous = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        tf.keras.mixed_precision.set_global_policy(previous)


class Float32Outputs:
    """``model`` with its outputs cast to float32 (Keras' mixed-precision rule: the loss sees float32, the
    layers compute in the policy's dtype); attributes (e.g. BinaryHPE's ``geometry``) pass through."""

    def __init__(self, model):
        self._model = model

    def __call__(self, inputs, training=False):
        import tensorflow as tf

        return tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), self._model(inputs, training=training))

    def __getattr__(self, name):
        return getattr(self._model, name)


def training_step(task, *, precision: str, jit_compile: bool, batch_size: int):
    """``(step function, batch, source)``: the trainer's step for ``task`` built under ``precision``."""
    import tensorflow as tf

    with precision_policy(precision):
        model = task.build_model()
        teacher = task.build_teacher()
        loss_obj = task.make_loss(teacher)
        optimizer = tf.keras.optimizers.Adam(learning_rate=1e-4)
        if precision == "mixed_float16":
            optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
    source, _, _ = task.sources()
    batch = {k: tf.constant(v) for k, v in source.batch(0, batch_size).items()}

    mixed = precision != "float32"
    student = Float32Outputs(model) if mixed else model
    teacher_in_loss = Float32Outputs(teacher) if (mixed and teacher is not None) else teacher

    # The trainer's replica_step (bhpe_tf.training.loop) for one replica and a batch without skipped samples.
    def step(batch):
        with tf.GradientTape() as tape:
            parts = task.losses(student, teacher_in_loss, loss_obj, batch, training=True)
            loss = tf.reduce_mean(tf.cast(parts["total"], tf.float32))
            if model.losses:
                loss += tf.add_n(model.losses)
            if precision == "mixed_float16":
                loss = optimizer.get_scaled_loss(loss)
        grads = tape.gradient(loss, model.trainable_variables)
        if precision == "mixed_float16":
            grads = optimizer.get_unscaled_gradients(grads)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return tf.function(step, jit_compile=jit_compile, autograph=False), batch, source


def time_steps(step, batch, *, steps: int, warmup: int) -> dict:
    """Seconds of the warm-up (tracing) and median seconds of the timed steps."""
    start = time.perf_counter()
    for _ in range(warmup):
        step(batch).numpy()
    first = time.perf_counter() - start
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step(batch).numpy()
        times.append(time.perf_counter() - start)
    return {"warmup_s": first, "median_s": statistics.median(times), "times": times}


def feed_rate(source, *, batch_size: int, batches: int) -> float:
    """Images/s of the trainer's own input feed of ``source`` (one warm-up batch, then ``batches``)."""
    import tensorflow as tf

    from bhpe_tf.training.loop import make_distributed_dataset

    it = iter(make_distributed_dataset(tf.distribute.get_strategy(), source, start_sample=0, global_batch=batch_size))
    next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch_size / (time.perf_counter() - start)


def step_rows(*, models, precisions, jits, batch_size, steps, warmup, reduced, pipeline_batches):
    import tensorflow as tf

    from bhpe_tf.training.tasks import make_task

    rows = []
    for model in models:
        config = recipe(model, reduced=reduced)
        size = "x".join(str(v) for v in reversed(config["data"]["input_wh"]))
        with tempfile.TemporaryDirectory() as workdir:
            task = make_task(config, workdir=workdir)
            source = None
            for precision in precisions:
                for jit in jits:
                    label = f"{model} {size} step, teacher {config['teacher']['model']}"
                    row = {"row": label, "precision": precision, "xla": jit, "batch": batch_size}
                    tf.keras.backend.clear_session()
                    try:
                        step, batch, source = training_step(task, precision=precision, jit_compile=jit,
                                                            batch_size=batch_size)
                        timing = time_steps(step, batch, steps=steps, warmup=warmup)
                        row.update(timing, images_per_s=batch_size / timing["median_s"])
                    except Exception as err:  # noqa: BLE001  (an unsupported configuration is a result)
                        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                        row["unsupported"] = f"{type(err).__name__}: {first[:200]}"
                    print(format_row(row), flush=True)
                    rows.append(row)
            if source is not None:
                rate = feed_rate(source, batch_size=batch_size, batches=pipeline_batches)
                row = {"row": f"{model} {size} input: trainer feed of the synthetic source", "precision": "-",
                       "xla": None, "batch": batch_size, "images_per_s": rate}
                print(format_row(row), flush=True)
                rows.append(row)
    return rows


def pipeline_rows(*, parallels, batch_size, batches):
    """Real-data rows: ``bench_pipeline.crop_rates`` (bhpe_tf.data.pipeline over the COCO samples)."""
    from bench_pipeline import crop_rates

    rows = []
    for parallel in parallels:
        result = crop_rates(batch_size=batch_size, batches=batches, repeats=3, warmup=2,
                            parallel=None if parallel == 0 else parallel)
        row = {"row": f"COCO 256x192 input: bhpe_tf.data.pipeline, map parallelism "
                      f"{'AUTOTUNE' if parallel == 0 else parallel}", "precision": "-", "xla": None,
               "batch": batch_size, "images_per_s": statistics.median(result["rates"])}
        print(format_row(row), flush=True)
        rows.append(row)
    return rows


HEADER = ("| row | precision | XLA | batch | warm-up s | step s (median) | images/s |\n"
          "|---|---|---|---|---|---|---|")


def format_row(row) -> str:
    xla = "-" if row["xla"] is None else ("on" if row["xla"] else "off")
    if "unsupported" in row:
        return f"| {row['row']} | {row['precision']} | {xla} | {row['batch']} | unsupported: {row['unsupported']} | | |"
    warm = f"{row['warmup_s']:.1f}" if "warmup_s" in row else "-"
    median = f"{row['median_s']:.2f}" if "median_s" in row else "-"
    return f"| {row['row']} | {row['precision']} | {xla} | {row['batch']} | {warm} | {median} | {row['images_per_s']:.2f} |"


def main(argv):
    if len(argv) > 1:
        raise InvalidInputError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    precisions = [p.strip() for p in FLAGS.precision if p.strip()]
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad:
        raise InvalidInputError(f"--precision: unknown {', '.join(bad)}; choose from {', '.join(PRECISIONS)}")
    jits = [_bool(v) for v in FLAGS.jit_compile]
    try:
        parallels = [int(v) for v in FLAGS.pipeline_parallel if v.strip()]
    except ValueError:
        raise InvalidInputError(f"--pipeline_parallel takes integers (0: AUTOTUNE), got {FLAGS.pipeline_parallel}") from None
    if min([FLAGS.batch_size, FLAGS.steps, FLAGS.pipeline_batches]) < 1 or FLAGS.warmup < 0:
        raise InvalidInputError("--batch_size, --steps and --pipeline_batches must be >= 1, --warmup >= 0")
    load = os.getloadavg()
    print(f"cores usable: {len(os.sched_getaffinity(0))}, load average at start: {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}; devices: {', '.join(d.device_type for d in tf.config.list_physical_devices())}")
    print(HEADER, flush=True)
    step_rows(models=[m.strip() for m in FLAGS.models if m.strip()], precisions=precisions, jits=jits,
              batch_size=FLAGS.batch_size, steps=FLAGS.steps, warmup=FLAGS.warmup, reduced=FLAGS.reduced,
              pipeline_batches=FLAGS.pipeline_batches)
    pipeline_rows(parallels=parallels, batch_size=max(FLAGS.batch_size, 8), batches=FLAGS.pipeline_batches)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
