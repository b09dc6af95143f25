"""The trainer: strategy scope, data, steps, checkpoints, resume, NaN guard, TensorBoard, validation, export.

``train(config, workdir=...)`` runs one stage of a recipe (see :mod:`bhpe_tf.training.tasks`):

* **Distribution**: ``tf.distribute`` only (default strategy, ``MirroredStrategy``,
  ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``); losses are averaged over the *global* batch
  (``tf.nn.compute_average_loss``) and the optimizer all-reduces the gradients.
* **Data position**: every source is index-based (sample ``p`` is a pure function of ``p``), so the
  position is the sample counter, stored in the checkpoint; replica ``r`` of step ``s`` reads samples
  ``start + s * global_batch + r * per_replica ...``.
* **Checkpoints**: ``tf.train.CheckpointManager`` in ``WORKDIR/checkpoints`` (``model``,
  ``optimizer`` with Adam's iteration counter and slots, ``step``, ``samples``, ``best``), every
  ``train.checkpoint_every`` steps, each epoch end and at the end. TensorFlow writes the files
  before it atomically rewrites the ``checkpoint`` index, so a run killed at any moment restarts from
  the last complete checkpoint. ``WORKDIR/run.json`` records model / method / stage / config hash;
  a workdir of another run is refused.
* **NaN guard**: a non-finite loss stops the run before anything is saved (:class:`TrainingDiverged`,
  one line on the command line); a checkpoint is only written when every weight is finite.
* **Validation** each epoch (PCK or MPJPE, :mod:`.tasks`), TensorBoard scalars and keypoint
  overlays in ``WORKDIR/tensorboard``, the best model exported as ``WORKDIR/best.keras`` (written to
  a temporary file, then ``os.replace``) with ``best.json``; ``final.keras`` at the end.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from bhpe_tf.errors import InvalidInputError, MissingFileError, UserError
from bhpe_tf.fileio import atomic_write_text
from bhpe_tf.training import config as cfg_lib
from bhpe_tf.training.tasks import check_requirements, make_task

STRATEGIES = ("default", "mirrored", "multi_worker")


class TrainingDiverged(UserError, RuntimeError):
    """The loss became NaN / inf."""


class WorkdirMismatch(UserError, ValueError):
    """The workdir holds a checkpoint of another model / method / stage."""


# ---------------------------------------------------------------------------------------- helpers
def atomic_save_keras(model: tf.keras.Model, path) -> None:
    """``model.save`` to a temporary ``.keras`` beside ``path``, then ``os.replace`` (never half a file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.keras")
    model.save(str(tmp), save_format="keras")
    os.replace(tmp, path)


def make_strategy(name: str):
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    spec = resolver.cluster_spec().as_dict()
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in spec


def _worker_index(strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(getattr(resolver, "task_id", 0) or 0) if resolver is not None else 0


def restore_weights(model: tf.keras.Model, path, *, what: str) -> None:
    """Weights of ``model`` from a trainer workdir / checkpoint prefix, or a ``.keras`` / ``.h5`` file."""
    path = os.fspath(path)
    if path.endswith((".keras", ".h5")):
        if not os.path.isfile(path):
            raise MissingFileError(f"{what} {path} not found")
        try:
            model.load_weights(path)
        except (ValueError, KeyError, OSError) as err:
            raise InvalidInputError(f"{what} {path} does not fit {model.name}: {str(err).splitlines()[0]}") from None
        return
    prefix = path
    for folder in (Path(path) / "checkpoints", Path(path)):
        if folder.is_dir():
            latest = tf.train.latest_checkpoint(str(folder))
            if latest:
                prefix = latest
                break
    if not os.path.isfile(prefix + ".index"):
        raise MissingFileError(f"{what} {path} not found (a training workdir, a checkpoint prefix or a .keras file)")
    try:
        status = tf.train.Checkpoint(model=model).restore(prefix)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        detail = " ".join(str(err).split())[:300]
        raise InvalidInputError(f"{what} {prefix} does not fit {model.name}: {detail}") from None


def _per_replica_dataset(source, *, start_sample, global_batch, per_replica, replica_offset_fn):
    """Element ``e`` of this input pipeline = the per-replica batch of step ``e // local`` and local
    replica ``e % local`` (what ``distribute_datasets_from_function`` hands to the replicas in order)."""
    spec = source.element_spec()
    keys = sorted(spec)

    def produce(e):
        offset = int(start_sample) + replica_offset_fn(int(e))
        out = source.batch(offset, per_replica)
        return [np.asarray(out[k], spec[k][1]) for k in keys]

    def load(e):
        outs = tf.numpy_function(produce, [e], [tf.as_dtype(spec[k][1]) for k in keys], stateful=False)
        return {k: tf.ensure_shape(t, (per_replica,) + tuple(spec[k][0])) for k, t in zip(keys, outs)}

    ds = tf.data.Dataset.range(2 ** 62).map(tf.autograph.experimental.do_not_convert(load),
                                            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options).prefetch(2)


def make_distributed_dataset(strategy, source, *, start_sample: int, global_batch: int):
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise UserError(f"global batch {global_batch} is not divisible by {replicas} replicas")
    per_replica = global_batch // replicas

    def dataset_fn(ctx: tf.distribute.InputContext):
        local = replicas // ctx.num_input_pipelines
        first = ctx.input_pipeline_id * local

        def offset(e):
            step, j = divmod(e, local)
            return step * global_batch + (first + j) * per_replica

        return _per_replica_dataset(source, start_sample=start_sample, global_batch=global_batch,
                                    per_replica=per_replica, replica_offset_fn=offset)

    return strategy.distribute_datasets_from_function(dataset_fn)


def lr_schedule(optimizer_cfg: dict, steps_per_epoch: int):
    lr = float(optimizer_cfg["lr"])
    milestones = [int(m) for m in optimizer_cfg.get("milestones") or ()]
    gamma = float(optimizer_cfg.get("gamma", 0.1))
    if not milestones:
        return lr
    boundaries = [m * steps_per_epoch for m in milestones]
    values = [lr * gamma ** i for i in range(len(boundaries) + 1)]
    return tf.keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def _check_run(workdir: Path, config: dict, ckpt_dir: Path, chief: bool) -> None:
    """Refuse a workdir holding another model's run; write ``run.json`` for a new run."""
    run_file = workdir / "run.json"
    identity = cfg_lib.identity(config)
    digest = cfg_lib.identity_hash(config)
    has_ckpt = tf.train.latest_checkpoint(str(ckpt_dir)) is not None
    if run_file.is_file():
        try:
            found = json.loads(run_file.read_text())
        except json.JSONDecodeError:
            found = {}
        if found.get("config_hash") != digest:
            old = found.get("identity", {})
            diff = ", ".join(f"{k}: workdir {old.get(k)!r} vs config {v!r}" for k, v in identity.items()
                             if old.get(k) != v) or "unreadable run.json"
            raise WorkdirMismatch(f"workdir {workdir} holds a run of another model ({diff}); use a new --workdir "
                                  f"or the config that trained it")
        return
    if has_ckpt:
        raise WorkdirMismatch(f"workdir {workdir} has checkpoints but no run.json: not a run of this trainer; "
                              "use a new --workdir")
    if chief:
        atomic_write_text(run_file, json.dumps({"identity": identity, "config_hash": digest,
                                                "config_name": config.get("name"), "config": config},
                                               indent=1, default=str))


# ------------------------------------------------------------------------------------------ train
def train(config: dict, *, workdir, data_dir=None, strategy: str = "default", steps=None, epochs=None,
          progress: bool = True, log=print, on_restore=None) -> dict:
    """Run (or resume) one training stage; returns a summary dict (see the module docstring).

    ``steps`` / ``epochs`` override the config; ``strategy`` is ``default``, ``mirrored`` or
    ``multi_worker``; ``on_restore(model=, optimizer=, checkpoint=, step=)`` is called once the
    state is restored (tests use it to compare the optimizer with the checkpoint)."""
    config = cfg_lib.validate(config)
    if steps is not None and int(steps) < 1:
        raise UserError(f"--steps must be >= 1, got {steps}")
    if epochs is not None and int(epochs) < 1:
        raise UserError(f"--epochs must be >= 1, got {epochs}")
    if data_dir is not None and not Path(data_dir).is_dir():
        raise MissingFileError(f"--data_dir {data_dir} does not exist or is not a directory")
    check_requirements(config, data_dir=data_dir)
    dist = make_strategy(strategy)
    chief = _is_chief(dist)
    workdir = Path(workdir)
    own_dir = workdir if chief else workdir / f".worker{_worker_index(dist)}"
    own_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = own_dir / "checkpoints"
    _check_run(workdir if chief else own_dir, config, ckpt_dir, True)

    train_cfg = config["train"]
    task = make_task(config, data_dir=data_dir, workdir=workdir)
    train_source, val_source, train_len = task.sources()
    for line in getattr(task, "data_report", ()):  # what the readers used and skipped
        log(line)
    replicas = dist.num_replicas_in_sync
    global_batch = int(train_cfg["batch_size"]) * replicas
    steps_per_epoch = int(train_cfg.get("steps_per_epoch") or 1000)
    if train_len is not None:
        steps_per_epoch = max(1, train_len // global_batch)
    num_epochs = int(epochs if epochs is not None else train_cfg["epochs"])
    total_steps = int(steps) if steps is not None else num_epochs * steps_per_epoch

    with dist.scope():
        model = task.build_model()
        teacher = task.build_teacher()
        teacher_cfg = config.get("teacher") or {}
        if teacher is not None:
            if teacher_cfg.get("checkpoint"):
                restore_weights(teacher, teacher_cfg["checkpoint"], what="teacher checkpoint")
            else:
                log("warning: no teacher.checkpoint given: training without distillation "
                    "(set --set teacher.checkpoint=WORKDIR_OF_THE_TEACHER)")
                teacher = None
        loss_obj = task.make_loss(teacher)
        optimizer = tf.keras.optimizers.Adam(learning_rate=lr_schedule(config["optimizer"], steps_per_epoch))
        optimizer.build(model.trainable_variables)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        samples_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="samples")
        best_var = tf.Variable(-math.inf if task.higher_is_better else math.inf, dtype=tf.float64,
                               trainable=False, name="best")
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step_var, samples=samples_var, best=best_var)
    manager = tf.train.CheckpointManager(ckpt, str(ckpt_dir), max_to_keep=int(train_cfg.get("keep_checkpoints", 3)),
                                         checkpoint_name="ckpt")
    resumed_from = None
    if manager.latest_checkpoint:
        try:
            status = ckpt.restore(manager.latest_checkpoint)
            status.assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            raise WorkdirMismatch(f"checkpoint {manager.latest_checkpoint} does not fit this model: "
                                  f"{' '.join(str(err).split())[:300]}") from None
        resumed_from = int(step_var.numpy())
        log(f"resuming from {manager.latest_checkpoint} (step {resumed_from}, sample {int(samples_var.numpy())})")
    elif config.get("init_from"):
        restore_weights(model, config["init_from"], what="init_from checkpoint (previous stage)")
        log(f"initialised {model.name} from {config['init_from']}")

    if on_restore is not None:  # test hook: inspect the restored state (model, optimizer, checkpoint)
        on_restore(model=model, optimizer=optimizer, checkpoint=manager.latest_checkpoint, step=int(step_var.numpy()))
    start_step = int(step_var.numpy())
    dataset = make_distributed_dataset(dist, train_source, start_sample=int(samples_var.numpy()),
                                       global_batch=global_batch)
    iterator = iter(dataset)
    nan_at = train_cfg.get("debug_nan_at_step")

    def replica_step(batch):
        with tf.GradientTape() as tape:
            parts = task.losses(model, teacher, loss_obj, batch, training=True)
            loss = tf.nn.compute_average_loss(parts["total"], global_batch_size=global_batch)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {k: tf.reduce_mean(v) for k, v in parts.items()}

    # autograph=False: no tensor-dependent Python control flow here, and AutoGraph-converting every
    # Larq layer's call costs minutes of tracing (bhpe_tf.binary.builders.no_autograph).
    @tf.function(autograph=False)
    def train_step(it):
        per_replica = dist.run(replica_step, args=(next(it),))
        step_var.assign_add(1)
        samples_var.assign_add(global_batch)
        return {k: dist.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in per_replica.items()}

    @tf.function(autograph=False)
    def predict(images):
        return model(images, training=False)

    writer = tf.summary.create_file_writer(str(own_dir / "tensorboard")) if chief else tf.summary.create_noop_writer()
    log_every = int(train_cfg.get("log_every", 20))
    ckpt_every = int(train_cfg.get("checkpoint_every") or steps_per_epoch)
    val_samples = int(config["data"].get("val_samples", 256))
    val_batch = int(train_cfg.get("val_batch_size", 32))

    def save(step):
        bad = [v.name for v in model.trainable_variables if not np.all(np.isfinite(v.numpy()))]
        if bad:
            raise TrainingDiverged(f"non-finite weights at step {step} ({bad[0]} ...); not saving. "
                                   f"{_last_good(manager)}")
        manager.save(checkpoint_number=step)

    def validate(step, epoch):
        metrics, images = task.evaluate(lambda x: _numpy(predict(tf.constant(x))), val_source,
                                        samples=val_samples, batch_size=val_batch)
        value = float(metrics[task.metric_name])
        improved = value > best_var.numpy() if task.higher_is_better else value < best_var.numpy()
        with writer.as_default(step=step):
            for k, v in metrics.items():
                tf.summary.scalar(f"val/{k}", v)
            if images is not None and train_cfg.get("images_every_epoch", True):
                tf.summary.image("val/keypoints", images, max_outputs=len(images))
        if improved:
            best_var.assign(value)
            if chief:
                atomic_save_keras(model, workdir / "best.keras")
                atomic_write_text(workdir / "best.json", json.dumps(
                    {"metric": task.metric_name, "value": value, "step": step, "epoch": epoch,
                     "model": config["model"]["name"], "method": config["model"]["method"],
                     "stage": config.get("stage"), "model_kwargs": _jsonable(task._model_kwargs())}, indent=1))
        log(f"epoch {epoch} step {step}: val {task.metric_name} = {value:.4f}"
            f"{' (best, exported best.keras)' if improved else ''}")
        return metrics

    history = {"start_step": start_step, "resumed_from": resumed_from}
    last_metrics = None
    pbar = None
    if progress:
        from tqdm import tqdm

        pbar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True, mininterval=1.0,
                    file=sys.stderr, desc=config.get("name", "train"))
    if train_cfg.get("validate_at_start") and start_step == 0:
        metrics, _ = task.evaluate(lambda x: _numpy(predict(tf.constant(x))), val_source, samples=val_samples,
                                   batch_size=val_batch)
        history["initial_metrics"] = metrics
        with writer.as_default(step=0):
            for k, v in metrics.items():
                tf.summary.scalar(f"val/{k}", v)
        log(f"step 0 (untrained): val {task.metric_name} = {metrics[task.metric_name]:.4f}")
    train_start = time.time()
    tic, tic_step = time.time(), start_step
    losses_seen = []
    try:
        for step in range(start_step + 1, total_steps + 1):
            logs = train_step(iterator)
            values = {k: float(v) for k, v in logs.items()}
            if nan_at is not None and step >= int(nan_at):
                values["total"] = float("nan")
            if not math.isfinite(values["total"]):
                raise TrainingDiverged(f"loss is {values['total']} at step {step}; stopped without saving. "
                                       f"{_last_good(manager)} Lower the learning rate (--set optimizer.lr=...) and "
                                       f"rerun the same command to resume from it")
            losses_seen.append(values["total"])
            if pbar is not None:
                pbar.update(1)
                pbar.set_postfix(loss=f"{values['total']:.4g}", refresh=False)
            if step % log_every == 0 or step == total_steps:
                now = time.time()
                rate = (step - tic_step) / max(now - tic, 1e-9)
                tic, tic_step = now, step
                with writer.as_default(step=step):
                    for k, v in values.items():
                        tf.summary.scalar(f"train/{k}", v)
                    tf.summary.scalar("train/steps_per_second", rate)
                    lr = optimizer.learning_rate
                    lr = lr(optimizer.iterations) if callable(lr) else lr
                    # Under a distribution strategy the optimizer's variables are MirroredVariables:
                    # read them as tensors (cross-replica context) before converting to a float.
                    tf.summary.scalar("train/lr", float(tf.convert_to_tensor(lr).numpy()))
                if pbar is None:
                    log(f"step {step}/{total_steps} loss {values['total']:.4g} ({rate:.2f} steps/s)")
            epoch_end = step % steps_per_epoch == 0 or step == total_steps
            if epoch_end:
                last_metrics = validate(step, (step - 1) // steps_per_epoch + 1)
            if step % ckpt_every == 0 or epoch_end:
                save(step)
    finally:
        if pbar is not None:
            pbar.close()
        writer.flush()
    if chief and total_steps > start_step:
        atomic_save_keras(model, workdir / "final.keras")
    if last_metrics is None:  # nothing left to train: report the current model
        last_metrics = validate(int(step_var.numpy()), int(step_var.numpy()) // steps_per_epoch)
    history.update({"final_step": int(step_var.numpy()), "samples": int(samples_var.numpy()),
                    "metrics": last_metrics, "best": float(best_var.numpy()), "metric": task.metric_name,
                    "latest_checkpoint": manager.latest_checkpoint,
                    "train_seconds": round(time.time() - train_start, 1),
                    "first_loss": losses_seen[0] if losses_seen else None,
                    "last_loss": losses_seen[-1] if losses_seen else None})
    skips = getattr(train_source, "skips", None)
    history["data_report"] = list(getattr(task, "data_report", ())) + ([skips.report()] if skips else [])
    for line in history["data_report"]:  # again at the end: what was used and skipped, counted
        log(f"data: {line}")
    if chief:
        atomic_write_text(workdir / "summary.json", json.dumps(history, indent=1, default=str))
    return history


def _last_good(manager) -> str:
    latest = manager.latest_checkpoint
    return (f"The last good checkpoint is {latest}." if latest else "No checkpoint was written yet.")


def _numpy(out):
    if isinstance(out, dict):
        return {k: np.asarray(v) for k, v in out.items()}
    return np.asarray(out)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)
