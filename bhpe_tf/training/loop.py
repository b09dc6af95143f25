"""The trainer: strategy scope, data, steps, checkpoints, resume, NaN guard, TensorBoard, validation, export.

``train(config, workdir=...)`` runs one stage of a recipe (see :mod:`bhpe_tf.training.tasks`):

* **Distribution**: ``tf.distribute`` only (default strategy, ``MirroredStrategy``,
  ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``); losses are averaged over the *global* batch
  (``tf.nn.compute_average_loss``) and the optimizer all-reduces the gradients.
* **Data position**: every source is index-based (sample ``p`` is a pure function of ``p``), so the
  position is the sample counter, stored in the checkpoint; replica ``r`` of step ``s`` reads samples
  ``start + s * global_batch + r * per_replica ...``.
* **Checkpoints**: ``tf.train.CheckpointManager`` in ``WORKDIR/checkpoints`` (``model``,
  ``optimizer`` with Adam's iteration counter and slots, ``step``, ``samples``, ``best``; the model
  includes the ``progress`` weights of schedule-driven quantizers, set before every step to
  ``(step - 1) / total_steps``: ReCU's tau, FDA's noise weight, :mod:`bhpe_tf.binary.schedules`), every
  ``train.checkpoint_every`` steps, each epoch end and at the end. TensorFlow writes the files
  before it atomically rewrites the ``checkpoint`` index, so a run killed at any moment restarts from
  the last complete checkpoint. ``WORKDIR/run.json`` records model / method / stage / config hash;
  a workdir of another run is refused. A resumed run applies the config in force (the optimizer's
  checkpointed learning rate included), logs and records every change in ``run.json``
  (``overrides``, with the step), and refuses seed changes.
* **Workdir hygiene** (:mod:`.workdir`): one trainer per workdir (a lock), leftovers of interrupted
  writes removed at start, a full disk one line naming the file with the last good checkpoint kept.
* **Skips** (:mod:`.skips`): unusable samples are dropped from their batch and counted by reason,
  never replaced; too many stop the run; the validation set is fixed once per run.
* **Seeds**: ``train.seed`` seeds the initialisation (Python, NumPy, TensorFlow) as well as the data.
* **NaN guard**: a non-finite loss stops the run before anything is saved (:class:`TrainingDiverged`,
  one line on the command line); a checkpoint is only written when every weight is finite.
* **Validation** each epoch (PCK or MPJPE, :mod:`.tasks`), TensorBoard scalars and keypoint
  overlays in ``WORKDIR/tensorboard``, the best model exported as ``WORKDIR/best.keras`` (written to
  a temporary file, then ``os.replace``) with ``best.json``; ``final.keras`` at the end.
* **Shutdown**: the ``tf.data`` iterator is torn down on every exit path (a pipeline still
  producing at interpreter shutdown hangs or aborts the process).
* **Several workers** (``multi_worker``): the chief (``chief``, else ``worker`` 0) owns the workdir
  (checkpoints, TensorBoard, ``best.json``, ``summary.json``); every other worker keeps its own
  checkpoints in ``WORKDIR/.workerN`` (TensorFlow's pattern: saves are collective, so every worker
  saves). A worker that dies makes every other one stop with :class:`ClusterError` (one line, the
  last good checkpoint); rerunning the same command on every worker resumes from it.
"""
from __future__ import annotations

import contextlib
import gc
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from bhpe_tf import checkpoints
from bhpe_tf.binary.schedules import progress_variables, set_training_progress, training_progress
from bhpe_tf.errors import DiskFullError, MissingFileError, UserError
from bhpe_tf.fileio import (atomic_save_keras, atomic_write_text, disk_full_error, ensure_directory, is_disk_full,
                            path_in_error)
from bhpe_tf.training import config as cfg_lib
from bhpe_tf.training.skips import FIRST_FILES, REASONS as SKIP_REASONS, SkipLedger, SkipRateExceeded
from bhpe_tf.training.skips import describe_counts as describe_skips
from bhpe_tf.training.tasks import check_requirements, make_task
from bhpe_tf.training.workdir import WorkdirLock, clean_interrupted_writes, remove_checkpoint_files

STRATEGIES = ("default", "mirrored", "multi_worker")


class TrainingDiverged(UserError, RuntimeError):
    """The loss became NaN / inf."""


class WorkdirMismatch(UserError, ValueError):
    """The workdir holds a checkpoint of another model / method / stage."""


class InitialScaleError(UserError, RuntimeError):
    """The untrained model's outputs or loss are already huge on the first batch."""


class ClusterError(UserError, RuntimeError):
    """A peer of a ``multi_worker`` run failed or became unreachable; every worker stops."""


# What a collective op raises when a peer dies or its heartbeat times out (TensorFlow's coordination
# service aborts every pending collective on every worker with one of these).
PEER_FAILURES = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
                 tf.errors.CancelledError)


# ---------------------------------------------------------------------------------------- helpers
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


def initial_scale(task, model, teacher, loss_obj, batch) -> tuple:
    """(largest output std, mean loss) of the untrained ``model`` on ``batch`` in training mode.

    Training mode because that is what the first step sees (BN on batch statistics); the BN moving
    statistics it would update are put back, so the check leaves the model as it found it.
    """
    from bhpe_tf.diagnostics import first_batch_scale

    saved = [v.numpy() for v in model.non_trainable_variables]
    try:
        batch = {k: tf.constant(v) for k, v in batch.items()}
        output_std = first_batch_scale(model(batch["image"], training=True))
        loss = float(tf.reduce_mean(task.losses(model, teacher, loss_obj, batch, training=True)["total"]))
    finally:
        for variable, value in zip(model.non_trainable_variables, saved):
            variable.assign(value)
    return output_std, loss


def check_initial_scale(task, model, teacher, loss_obj, batch, *, limit, model_name) -> tuple:
    """Stop a new run whose untrained model already explodes (one line naming the measured values and
    the diagnostic command) instead of training on a loss of 1e13 that cannot learn."""
    output_std, loss = initial_scale(task, model, teacher, loss_obj, batch)
    if not (math.isfinite(output_std) and math.isfinite(loss)) or max(output_std, abs(loss)) > limit:
        raise InitialScaleError(
            f"the untrained {model.name} gives output std {output_std:.3g} and loss {loss:.3g} on the first batch "
            f"(limit {limit:g}): its real-valued paths grow without bound at initialisation, so it would not "
            f"learn. Diagnose with `python -m bhpe_tf.stats --model {model_name} --activations`; "
            f"--config.train.max_initial_scale=none trains anyway")
    return output_std, loss


def _check_init_padding(path, task) -> None:
    """Refuse initialising from imported weights (PyTorch padding, ``OUT.keras.meta.json``) a model built
    with Keras padding: the weights would load, computing another function (a one-pixel shift)."""
    recorded = ((checkpoints.metadata(path) or {}).get("build_kwargs") or {}).get("padding", "keras")
    built = task._model_kwargs().get("padding", "keras")
    if recorded != built:
        raise UserError(f"init_from {path} was built with padding={recorded!r} but this run's model uses "
                        f"padding={built!r}; add --config.model.kwargs.padding={recorded}")


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


def _read_run_file(run_file: Path) -> dict:
    try:
        return json.loads(run_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return {}


def _check_run(workdir: Path, config: dict, ckpt_dir: Path, chief: bool):
    """Refuse a workdir holding another model's run; write ``run.json`` for a new run.

    Returns the ``run.json`` of an existing run (``None`` for a new one)."""
    run_file = workdir / "run.json"
    identity = cfg_lib.identity(config)
    digest = cfg_lib.identity_hash(config)
    has_ckpt = tf.train.latest_checkpoint(str(ckpt_dir)) is not None
    if run_file.is_file():
        found = _read_run_file(run_file)
        if found.get("config_hash") != digest:
            old = found.get("identity", {})
            diff = ", ".join(f"{k}: workdir {old.get(k)!r} vs config {v!r}" for k, v in identity.items()
                             if old.get(k) != v) or "unreadable run.json"
            raise WorkdirMismatch(f"workdir {workdir} holds a run of another model ({diff}); use a new --workdir "
                                  f"or the config that trained it")
        return found
    if has_ckpt:
        raise WorkdirMismatch(f"workdir {workdir} has checkpoints but no run.json: not a run of this trainer; "
                              "use a new --workdir")
    if chief:
        atomic_write_text(run_file, json.dumps({"identity": identity, "config_hash": digest,
                                                "config_name": config.get("name"), "config": config,
                                                "overrides": []}, indent=1, default=str))
    return None


def _apply_resume_overrides(run_file: Path, found: dict, config: dict, *, step: int, resumed: bool, chief: bool,
                            log) -> list:
    """Compare the config with the one the run last used: refuse what a resume cannot change
    (:data:`~bhpe_tf.training.config.REFUSED_ON_RESUME`), log the rest as overrides and record each
    with the step it applies from in ``run.json`` (``overrides``; ``current_config`` is the config now
    in force). Without a checkpoint (``resumed=False``) nothing was trained yet: any change is allowed."""
    previous = found.get("current_config") or found.get("config") or {}
    changed = [c for c in cfg_lib.changes(previous, config) if c[0] != "name"]
    if not changed:
        return []
    if resumed:
        refused = [c for c in changed if c[0] in cfg_lib.REFUSED_ON_RESUME]
        if refused:
            key, old, new = refused[0]
            raise WorkdirMismatch(f"{key} cannot change when resuming (workdir {run_file.parent} was trained with "
                                  f"{old!r}, the config says {new!r}): it decides which samples the run has seen; "
                                  f"use a new --workdir")
    for key, old, new in changed:
        note = " (ignored: the run resumes from its checkpoint)" if resumed and key == "init_from" else ""
        log(f"config override from step {step}: {key} = {new!r} (was {old!r}){note}")
    if chief:
        record = dict(found)
        record["overrides"] = list(found.get("overrides", [])) + [
            {"step": step, "key": k, "old": o, "new": n} for k, o, n in changed]
        record["current_config"] = config
        atomic_write_text(run_file, json.dumps(record, indent=1, default=str))
    return changed


def _state_bytes(variables) -> int:
    return int(sum(np.prod(v.shape) * v.dtype.size for v in variables))


def _local_values(dist, value) -> np.ndarray:
    """A (per-replica) batch tensor as one host array of this worker's samples."""
    return np.concatenate([np.asarray(v).reshape(-1) for v in dist.experimental_local_results(value)])


def _usable_part(batch):
    """The batch without its skipped samples, and their loss weights (in-graph, per replica).

    A replica whose samples were all skipped keeps its blank samples with weight 0 (its forward
    pass must still run: the other replicas all-reduce their gradients with it)."""
    keep = tf.equal(batch["skip_code"], 0)
    count = tf.reduce_sum(tf.cast(keep, tf.int32))

    def masked():
        return {k: tf.boolean_mask(v, keep) for k, v in batch.items()}, tf.ones([count], tf.float32)

    def blank():
        return dict(batch), tf.zeros([tf.shape(keep)[0]], tf.float32)

    return tf.cond(count > 0, masked, blank)


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
    ensure_directory(own_dir, what="--workdir")
    with WorkdirLock(own_dir):
        try:
            return _train(config, dist=dist, chief=chief, workdir=workdir, own_dir=own_dir, data_dir=data_dir,
                          steps=steps, epochs=epochs, progress=progress, log=log, on_restore=on_restore)
        except PEER_FAILURES as err:
            if not isinstance(dist, tf.distribute.MultiWorkerMirroredStrategy):
                raise
            latest = tf.train.latest_checkpoint(str(own_dir / "checkpoints"))
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ClusterError(
                f"a worker of the multi_worker cluster failed or stopped responding ({type(err).__name__}: "
                f"{reason[:300]}); this worker stops too. "
                + (f"The last good checkpoint is {latest}. " if latest else "No checkpoint was written yet. ")
                + "Rerun the same command on every worker to resume from it") from None
        except Exception as err:  # noqa: BLE001 - a full disk outside the training loop (run.json, TensorBoard)
            if not is_disk_full(err) or isinstance(err, DiskFullError):
                raise
            raise disk_full_error(path_in_error(err, under=own_dir, default=own_dir), cause=err) from None


def _train(config, *, dist, chief, workdir, own_dir, data_dir, steps, epochs, progress, log, on_restore) -> dict:
    ckpt_dir = own_dir / "checkpoints"
    clean_interrupted_writes(own_dir, ckpt_dir, log=log)
    found_run = _check_run(workdir if chief else own_dir, config, ckpt_dir, True)

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
    max_skip_rate = float(train_cfg.get("max_skip_rate", 0.05))

    # The validation set is fixed before anything is built: unusable records are counted, not replaced.
    val_samples = int(config["data"].get("val_samples", 256))
    val_skips = None
    if hasattr(val_source, "fix"):
        declared = min(val_samples, len(val_source.stream))
        if declared < val_samples:
            log(f"data.val_samples is {val_samples} but the validation split has {declared} records: validating "
                f"on all {declared}")
        val_samples, codes, indices = val_source.fix(declared)
        val_skips = SkipLedger(split="validation", name_of=val_source.describe, dataset_size=declared,
                               max_rate=max_skip_rate, log=log)
        val_skips.add(codes, indices)
        val_skips.check(final=True)
        if val_samples == 0:
            raise SkipRateExceeded(f"no usable validation sample: all {declared} were skipped "
                                   f"({describe_skips(val_skips.counts)})")
    has_codes = "skip_code" in train_source.element_spec()
    train_skips = SkipLedger(split="train", name_of=train_source.describe if has_codes else str,
                             dataset_size=train_len, max_rate=max_skip_rate, log=log)

    # train.seed seeds the initialisation too (Python, NumPy and TensorFlow): same seed, same untrained weights.
    tf.keras.utils.set_random_seed(int(train_cfg.get("seed", 0)))
    with dist.scope():
        model = task.build_model()
        teacher = task.build_teacher()
        teacher_cfg = config.get("teacher") or {}
        if teacher is not None:
            if teacher_cfg.get("checkpoint"):
                checkpoints.restore(teacher, teacher_cfg["checkpoint"], what="teacher checkpoint")
            else:
                log("warning: no teacher.checkpoint given: training without distillation "
                    "(set --config.teacher.checkpoint=WORKDIR_OF_THE_TEACHER)")
                teacher = None
        loss_obj = task.make_loss(teacher)
        optimizer = tf.keras.optimizers.Adam(learning_rate=lr_schedule(config["optimizer"], steps_per_epoch))
        optimizer.build(model.trainable_variables)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        samples_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="samples")
        best_var = tf.Variable(-math.inf if task.higher_is_better else math.inf, dtype=tf.float64,
                               trainable=False, name="best")
        # training skips by reason + samples read, and the first skipped (record index, code) pairs
        skips_var = tf.Variable(np.zeros(len(SKIP_REASONS) + 1, np.int64), trainable=False, name="data_skips")
        first_var = tf.Variable(np.full((FIRST_FILES, 2), -1, np.int64), trainable=False, name="data_skip_first")
    state = dict(model=model, optimizer=optimizer, step=step_var, samples=samples_var, best=best_var)
    ckpt = tf.train.Checkpoint(**state, data_skips=skips_var, data_skip_first=first_var)
    manager = tf.train.CheckpointManager(ckpt, str(ckpt_dir), max_to_keep=int(train_cfg.get("keep_checkpoints", 3)),
                                         checkpoint_name="ckpt")
    resumed_from = None
    latest = _checkpoint_all_workers_have(dist, manager, log=log)
    if latest:
        try:
            stored = tf.train.load_checkpoint(latest).get_variable_to_shape_map()
            # checkpoints of an earlier version have no skip counters: restore the rest
            target = ckpt if any(k.startswith("data_skips/") for k in stored) else tf.train.Checkpoint(**state)
            status = target.restore(latest)
            status.assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            raise WorkdirMismatch(f"checkpoint {latest} does not fit this model: "
                                  f"{' '.join(str(err).split())[:300]}") from None
        resumed_from = int(step_var.numpy())
        log(f"resuming from {latest} (step {resumed_from}, sample {int(samples_var.numpy())})")
        # the optimizer's learning rate is a checkpointed variable: the config in force sets it, not the checkpoint
        # (a schedule is the config's already; its current value is refreshed so logs and hooks see it now)
        configured = lr_schedule(config["optimizer"], steps_per_epoch)
        if not callable(configured):
            optimizer.learning_rate.assign(configured)
        elif getattr(optimizer, "_current_learning_rate", None) is not None:
            optimizer._current_learning_rate.assign(tf.cast(configured(optimizer.iterations), tf.float32))
    elif config.get("init_from"):
        _check_init_padding(config["init_from"], task)
        checkpoints.restore(model, config["init_from"], what="init_from checkpoint (previous stage)")
        log(f"initialised {model.name} from {config['init_from']}")
    if resumed_from is None and config.get("init_fp_from"):
        from bhpe_tf.import_weights import init_fp_parts

        copied = init_fp_parts(model, config["init_fp_from"])
        log(f"initialised the real-valued stem and head of {model.name} ({len(copied)} layers) from "
            f"{config['init_fp_from']}")
    if chief and resumed_from is None:  # what the weights are learned from: model cards and infer report it
        from bhpe_tf import provenance

        atomic_write_text(workdir / provenance.WORKDIR_FILE, json.dumps(provenance.for_training(
            config=config, data_dir=data_dir, init_from=config.get("init_from"),
            init_fp_from=config.get("init_fp_from")), indent=1))
    overrides = []
    if found_run is not None:
        overrides = _apply_resume_overrides((workdir if chief else own_dir) / "run.json", found_run, config,
                                            step=int(step_var.numpy()), resumed=resumed_from is not None,
                                            chief=chief, log=log)
    if has_codes:
        train_skips.restore(state=skips_var.numpy(), first_rows=first_var.numpy())

    if on_restore is not None:  # test hook: inspect the restored state (model, optimizer, checkpoint)
        on_restore(model=model, optimizer=optimizer, checkpoint=manager.latest_checkpoint, step=int(step_var.numpy()))
    start_step = int(step_var.numpy())
    # ReCU's tau, FDA's noise weight: the quantizers' progress weights (checkpointed with the model)
    schedule_vars = progress_variables(model)
    nan_at = train_cfg.get("debug_nan_at_step")
    # A step whose whole global batch was skipped makes no update; only a single worker sees the whole batch.
    sees_global_batch = not isinstance(dist, tf.distribute.MultiWorkerMirroredStrategy)

    def replica_step(batch):
        weight = None
        if "skip_code" in batch:
            batch, weight = _usable_part(batch)
            used = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(weight))
        with tf.GradientTape() as tape:
            parts = task.losses(model, teacher, loss_obj, batch, training=True)
            if weight is None:
                loss = tf.nn.compute_average_loss(parts["total"], global_batch_size=global_batch)
            else:  # the mean over the usable samples of the global batch
                loss = tf.reduce_sum(parts["total"] * weight) / tf.maximum(used, 1.0)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        if weight is None:
            return {k: tf.reduce_mean(v) for k, v in parts.items()}
        return {k: tf.reduce_sum(v * weight) / tf.maximum(tf.reduce_sum(weight), 1.0) for k, v in parts.items()}

    # autograph=False: no tensor-dependent Python control flow here, and AutoGraph-converting every
    # Larq layer's call costs minutes of tracing (bhpe_tf.binary.builders.no_autograph).
    @tf.function(autograph=False)
    def train_step(batch):
        per_replica = dist.run(replica_step, args=(batch,))
        step_var.assign_add(1)
        samples_var.assign_add(global_batch)
        return {k: dist.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in per_replica.items()}

    @tf.function(autograph=False)
    def predict(images):
        return model(images, training=False)

    writer = tf.summary.create_file_writer(str(own_dir / "tensorboard")) if chief else tf.summary.create_noop_writer()
    log_every = int(train_cfg.get("log_every", 20))
    ckpt_every = int(train_cfg.get("checkpoint_every") or steps_per_epoch)
    val_batch = int(train_cfg.get("val_batch_size", 32))
    state_bytes = _state_bytes(list(model.variables) + list(optimizer.variables))

    def save(step):
        bad = [v.name for v in model.trainable_variables if not np.all(np.isfinite(v.numpy()))]
        if bad:
            raise TrainingDiverged(f"non-finite weights at step {step} ({bad[0]} ...); not saving. "
                                   f"{_last_good(manager)}")
        last_good = _last_good(manager)
        try:
            manager.save(checkpoint_number=step)
        except Exception as err:  # noqa: BLE001 - only a full disk is translated, the rest re-raised
            if not is_disk_full(err):
                raise
            remove_checkpoint_files(ckpt_dir, step)  # a partial checkpoint only takes space
            raise disk_full_error(ckpt_dir / f"ckpt-{step}", needed=state_bytes, cause=err, advice=(
                f"{last_good} Free space and rerun the same command to resume from it")) from None

    def validate(step, epoch):
        metrics, images = task.evaluate(lambda x: _numpy(predict(tf.constant(x))), val_source,
                                        samples=val_samples, batch_size=val_batch)
        value = float(metrics[task.metric_name])
        if not math.isfinite(value):
            raise TrainingDiverged(f"validation {task.metric_name} is {value} at step {step} (no usable ground truth "
                                   f"in the {val_samples} validation samples, or non-finite model outputs); not "
                                   f"exporting it as best. {_last_good(manager)}")
        improved = value > best_var.numpy() if task.higher_is_better else value < best_var.numpy()
        with writer.as_default(step=step):
            for k, v in metrics.items():
                tf.summary.scalar(f"val/{k}", v)
            if images is not None and train_cfg.get("images_every_epoch", True):
                tf.summary.image("val/keypoints", images, max_outputs=len(images))
        if improved:
            best_var.assign(value)
            # Under MultiWorkerMirroredStrategy saving a model reads its on-read variables (BN statistics)
            # with a collective all-reduce, so every worker saves, the others into their own directory
            # (TensorFlow's pattern for non-chief writes); a save on the chief alone deadlocks the cluster.
            atomic_save_keras(model, own_dir / "best.keras")
            if chief:
                atomic_write_text(workdir / "best.json", json.dumps(
                    {"metric": task.metric_name, "value": value, "step": step, "epoch": epoch,
                     "model": config["model"]["name"], "method": config["model"]["method"],
                     "stage": config.get("stage"), "model_kwargs": _jsonable(task._model_kwargs())}, indent=1))
        log(f"epoch {epoch} step {step}: val {task.metric_name} = {value:.4f}"
            f"{' (best, exported best.keras)' if improved else ''}")
        return metrics

    history = {"start_step": start_step, "resumed_from": resumed_from,
               "overrides": [{"step": start_step, "key": k, "old": o, "new": n} for k, o, n in overrides]}
    last_metrics = None
    pbar = None
    dataset = iterator = None
    losses_seen = []
    train_start = time.time()
    try:
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
        scale_limit = train_cfg.get("max_initial_scale")
        if start_step == 0 and scale_limit:
            first = train_source.batch(int(samples_var.numpy()), global_batch // replicas)
            history["initial_output_std"], history["initial_loss"] = check_initial_scale(
                task, model, teacher, loss_obj, first, limit=float(scale_limit), model_name=config["model"]["name"])
        dataset = make_distributed_dataset(dist, train_source, start_sample=int(samples_var.numpy()),
                                           global_batch=global_batch)
        iterator = iter(dataset)
        log(f"training {config.get('name', 'model')} from step {start_step} to {total_steps} (global batch "
            f"{global_batch} on {replicas} replica(s))")
        train_start = time.time()
        tic, tic_step = time.time(), start_step
        for step in range(start_step + 1, total_steps + 1):
            batch = next(iterator)
            values = None
            if has_codes:
                codes = _local_values(dist, batch["skip_code"])
                skipped = train_skips.add(codes, _local_values(dist, batch["record_index"]))
                skips_var.assign(train_skips.state())
                first_var.assign(train_skips.first_rows())
                train_skips.check()
                if skipped == codes.size and sees_global_batch:  # nothing to learn from: no update
                    step_var.assign_add(1)
                    samples_var.assign_add(global_batch)
                    log(f"step {step}: every sample of the batch was skipped; no update")
            if int(step_var.numpy()) < step:
                set_training_progress(schedule_vars, training_progress(step - 1, total_steps))
                logs = train_step(batch)
                values = {k: float(v) for k, v in logs.items()}
                if nan_at is not None and step >= int(nan_at):
                    values["total"] = float("nan")
                if not math.isfinite(values["total"]):
                    raise TrainingDiverged(f"loss is {values['total']} at step {step}; stopped without saving. "
                                           f"{_last_good(manager)} Lower the learning rate (--config.optimizer.lr=...) "
                                           f"and rerun the same command to resume from it")
                losses_seen.append(values["total"])
            if pbar is not None:
                pbar.update(1)
                postfix = {"loss": f"{values['total']:.4g}"} if values else {}
                if train_skips.skipped:
                    postfix["skipped"] = train_skips.skipped
                pbar.set_postfix(postfix, refresh=False)
            if (step % log_every == 0 or step == total_steps) and values is not None:
                now = time.time()
                rate = (step - tic_step) / max(now - tic, 1e-9)
                tic, tic_step = now, step
                with writer.as_default(step=step):
                    for k, v in values.items():
                        tf.summary.scalar(f"train/{k}", v)
                    tf.summary.scalar("train/steps_per_second", rate)
                    if has_codes:
                        tf.summary.scalar("train/skipped_samples", train_skips.skipped)
                    lr = optimizer.learning_rate
                    lr = lr(optimizer.iterations) if callable(lr) else lr
                    # Under a distribution strategy the optimizer's variables are MirroredVariables:
                    # read them as tensors (cross-replica context) before converting to a float.
                    tf.summary.scalar("train/lr", float(tf.convert_to_tensor(lr).numpy()))
                if pbar is None:
                    skipped_text = train_skips.progress()
                    log(f"step {step}/{total_steps} loss {values['total']:.4g} ({rate:.2f} steps/s)"
                        f"{'; ' + skipped_text if skipped_text else ''}")
            epoch_end = step % steps_per_epoch == 0 or step == total_steps
            if epoch_end:
                last_metrics = validate(step, (step - 1) // steps_per_epoch + 1)
            if step % ckpt_every == 0 or epoch_end:
                save(step)
        train_skips.check(final=True)
    except Exception as err:  # noqa: BLE001 - only a full disk is translated, everything else re-raised
        if not is_disk_full(err) or isinstance(err, DiskFullError):
            raise
        raise disk_full_error(path_in_error(err, under=own_dir, default=own_dir), cause=err, advice=(
            f"{_last_good(manager)} Free space and rerun the same command to resume from it")) from None
    finally:
        # tf.data's threads must stop before the interpreter does: an iterator still producing at
        # shutdown (e.g. the mesh task's SMPL-X renders) hangs or aborts the process.
        iterator = dataset = batch = None  # noqa: F841
        gc.collect()
        if pbar is not None:
            pbar.close()
        with contextlib.suppress(Exception):  # a full disk must not hide the error that got us here
            writer.flush()
    if total_steps > start_step or not (own_dir / "final.keras").is_file():  # every worker, see validate()
        atomic_save_keras(model, own_dir / "final.keras")  # also when a kill interrupted its write
    if last_metrics is None:  # nothing left to train: report the current model
        last_metrics = validate(int(step_var.numpy()), int(step_var.numpy()) // steps_per_epoch)
    if not has_codes:  # a synthetic source: every sample is generated, none can be skipped
        train_skips.seen = int(samples_var.numpy())
    skips = {"train": {**train_skips.report(), "reader": task.reader_skips.get("train", {})}}
    if val_skips is not None:
        skips["validation"] = {**val_skips.report(), "reader": task.reader_skips.get("val", {}),
                               "validation_samples": val_samples}
    history.update({"final_step": int(step_var.numpy()), "samples": int(samples_var.numpy()),
                    "metrics": last_metrics, "best": float(best_var.numpy()), "metric": task.metric_name,
                    "latest_checkpoint": manager.latest_checkpoint,
                    "train_seconds": round(time.time() - train_start, 1),
                    "first_loss": losses_seen[0] if losses_seen else None,
                    "last_loss": losses_seen[-1] if losses_seen else None, "skips": skips})
    source_skips = getattr(train_source, "skips", None)  # a mesh source's own count of what it left out
    history["data_report"] = list(getattr(task, "data_report", ())) + ([source_skips.report()] if source_skips
                                                                      else [])
    for line in history["data_report"]:  # again at the end: what was used and skipped, counted
        log(f"data: {line}")
    if chief:
        atomic_write_text(workdir / "summary.json", json.dumps(history, indent=1, default=str))
    return history


def _checkpoint_step(path) -> int:
    return int(str(path).rsplit("-", 1)[1]) if path else 0


def _checkpoint_all_workers_have(dist, manager, *, log):
    """The checkpoint to resume from: the latest one, or under ``multi_worker`` the latest step every
    worker has. A worker killed between the collective read of a save and its own write lags one
    save behind the others; resuming each from its own latest would start the replicas at different
    steps (different weights, mismatched collectives). Every worker gathers the others' latest steps
    (one ``strategy.gather``, so every worker calls this exactly once) and restores the smallest."""
    latest = manager.latest_checkpoint
    if not isinstance(dist, tf.distribute.MultiWorkerMirroredStrategy):
        return latest
    own = _checkpoint_step(latest)
    steps = dist.gather(dist.run(lambda: tf.constant([own], tf.int64)), axis=0)
    agreed = int(tf.reduce_min(steps).numpy())
    if agreed == own:
        return latest
    kept = {_checkpoint_step(path): path for path in manager.checkpoints}
    if agreed == 0:
        log(f"another worker has no checkpoint: every worker starts from step 0 (this one had {latest})")
        return None
    if agreed not in kept:
        raise WorkdirMismatch(f"the workers' latest checkpoints are of steps {sorted(set(steps.numpy().tolist()))}; "
                              f"this worker no longer keeps step {agreed} (it keeps {sorted(kept)}): raise "
                              "train.keep_checkpoints or restart every worker from one workdir copy")
    log(f"another worker's latest checkpoint is of step {agreed}: resuming every worker from it (this one had "
        f"step {own})")
    return kept[agreed]


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
