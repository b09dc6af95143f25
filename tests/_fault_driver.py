"""Run ``training/train.py`` with a fault injected at an exact moment (used by tests/test_faults.py).

    python tests/_fault_driver.py [--tiny] [--fsize_after_saves=N:BYTES] POINT:N -- <train.py arguments>

The process SIGKILLs itself at the N-th time (1-based, counted in this process) it reaches POINT:

* ``shards_written``: TensorFlow wrote the checkpoint's shards into ``ckpt-K_temp/`` and is about
  to merge them into ``ckpt-K.index`` / ``.data`` (``gen_io_ops.merge_v2_checkpoints``);
* ``merged``: ``ckpt-K`` is complete on disk but the ``checkpoint`` index does not list it yet
  (``checkpoint_management.update_checkpoint_state_internal``);
* ``listed``: the index lists ``ckpt-K``; old checkpoints are not swept yet (``CheckpointManager._sweep``);
* ``keras_written`` / ``json_written``: an atomic write of a ``.keras`` / ``.json`` file has its
  temporary complete and is about to give it its mode and ``os.replace`` it (``bhpe_tf.fileio``).

Before killing itself it prints ``FAULT POINT:N`` on stderr (the test checks the fault happened).
``none:0`` injects nothing. ``--fsize_after_saves=N:BYTES``: after the N-th checkpoint save, no
file may grow beyond BYTES (``RLIMIT_FSIZE``; writes fail with ``EFBIG`` like on a full disk), the
disk-full test's fallback where no small tmpfs can be mounted. ``--tiny`` builds ``hrnet_w32`` as :func:`_tiny_models.tiny_heatmap_builder`
(seconds per process). These are test hooks only: nothing in ``bhpe_tf`` knows about them.
"""
import os
import signal
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))


def _die(point, count):
    print(f"FAULT {point}:{count}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: str, nth: int) -> None:
    calls = {"n": 0}

    def reached():
        calls["n"] += 1
        if calls["n"] == nth:
            _die(point, nth)

    if point == "shards_written":
        from tensorflow.python.ops import gen_io_ops

        merge = gen_io_ops.merge_v2_checkpoints

        def merge_hook(*args, **kwargs):
            reached()
            return merge(*args, **kwargs)

        gen_io_ops.merge_v2_checkpoints = merge_hook
    elif point == "merged":
        from tensorflow.python.checkpoint import checkpoint_management as cm

        update = cm.update_checkpoint_state_internal
        listed = set()

        def update_hook(*args, **kwargs):
            # a save updates the index twice (before and after sweeping old checkpoints): the moment is
            # the first update of each new checkpoint, when it is complete on disk but not listed yet
            latest = kwargs.get("model_checkpoint_path")
            if latest not in listed:
                listed.add(latest)
                reached()
            return update(*args, **kwargs)

        cm.update_checkpoint_state_internal = update_hook
    elif point == "listed":
        from tensorflow.python.checkpoint import checkpoint_management as cm

        sweep = cm.CheckpointManager._sweep

        def sweep_hook(self):
            reached()
            return sweep(self)

        cm.CheckpointManager._sweep = sweep_hook
    elif point in ("keras_written", "json_written"):
        from bhpe_tf import fileio

        fsync = fileio._fsync_path
        suffix = ".keras" if point == "keras_written" else ".json"

        def fsync_hook(path):
            fsync(path)
            if str(path).endswith(suffix):
                reached()

        fileio._fsync_path = fsync_hook
    elif point != "none":
        raise SystemExit(f"unknown fault point {point!r}")


def limit_file_size_after_saves(saves: int, size: int) -> None:
    import resource

    from tensorflow.python.checkpoint import checkpoint_management as cm

    save = cm.CheckpointManager.save
    calls = {"n": 0}

    def save_hook(self, *args, **kwargs):
        out = save(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == saves:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond the limit fails with EFBIG instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        return out

    cm.CheckpointManager.save = save_hook


if __name__ == "__main__":
    args = sys.argv[1:]
    tiny = "--tiny" in args[:3]
    fsize = next((a.split("=", 1)[1] for a in args[:3] if a.startswith("--fsize_after_saves=")), None)
    args = [a for a in args[:3] if a != "--tiny" and not a.startswith("--fsize_after_saves=")] + args[3:]
    spec, sep, *train_args = args
    assert sep == "--", "usage: _fault_driver.py [--tiny] POINT:N -- <train.py arguments>"
    name, number = spec.split(":")
    import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)

    if tiny:
        from _tiny_models import use_tiny_heatmap_model

        use_tiny_heatmap_model()
    install(name, int(number))
    if fsize:
        limit_file_size_after_saves(*(int(v) for v in fsize.split(":")))
    from bhpe_tf.training.cli import run

    run(["train.py", *train_args])
