"""What the trainer does to its workdir before it trains: one trainer at a time, no leftovers.

* :class:`WorkdirLock`: an ``fcntl`` lock on ``WORKDIR/.lock`` held for the whole run, so a second
  trainer on the same workdir is refused with one line instead of both writing the same
  checkpoints (the kernel releases the lock when the process dies, SIGKILL included).
* :func:`clean_interrupted_writes`: removes what a killed or failed run left half-written:
  temporaries of the atomic writers (``.best.keras.tmp-*``, ``.summary.json.tmp-*``, ...; see
  :mod:`bhpe_tf.fileio`), TensorFlow's ``ckpt-N_temp/`` shard folders, and the files of checkpoints
  newer than the last one the ``checkpoint`` index lists (a save cut short before the index was
  updated). Complete, listed checkpoints are never touched.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from bhpe_tf.errors import UserError
from bhpe_tf.fileio import clean_stale_temporaries

_CKPT_FILE = re.compile(r"^(?P<prefix>.+)-(?P<step>\d+)(\.index|\.data-\d+-of-\d+)$")
_CKPT_TEMP = re.compile(r"^.+-\d+_temp$")


class WorkdirBusy(UserError, RuntimeError):
    """Another trainer holds the workdir."""


class WorkdirLock:
    """``with WorkdirLock(workdir):`` -- exclusive use of a workdir by this process."""

    def __init__(self, workdir):
        self.path = Path(workdir) / ".lock"
        self._fd = None

    def __enter__(self):
        import fcntl

        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(self._fd)
            self._fd = None
            raise WorkdirBusy(f"workdir {self.path.parent} is in use by another trainer (pid {holder}); wait for it "
                              "to finish or use another --workdir") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode("ascii"), 0)
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
        return False


def _listed_steps(ckpt_dir: Path) -> list:
    """Steps of the checkpoints the ``checkpoint`` index lists (empty without an index)."""
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(ckpt_dir))
    if state is None:
        return []
    steps = []
    for path in list(state.all_model_checkpoint_paths) + [state.model_checkpoint_path]:
        match = re.search(r"-(\d+)$", path)
        if match:
            steps.append(int(match.group(1)))
    return steps


def clean_interrupted_writes(workdir, ckpt_dir, *, log=print) -> list:
    """Remove the leftovers of interrupted writes (module docstring); returns the removed paths."""
    workdir, ckpt_dir = Path(workdir), Path(ckpt_dir)
    removed = clean_stale_temporaries(workdir) + clean_stale_temporaries(ckpt_dir)
    if ckpt_dir.is_dir():
        listed = _listed_steps(ckpt_dir)
        newest = max(listed) if listed else 0
        for entry in sorted(ckpt_dir.iterdir()):
            if _CKPT_TEMP.match(entry.name) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
                continue
            match = _CKPT_FILE.match(entry.name)
            if match and int(match.group("step")) > newest:
                entry.unlink()
                removed.append(entry)
    if removed:
        log(f"removed {len(removed)} leftover(s) of an interrupted write: "
            f"{', '.join(p.name for p in removed[:5])}{' ...' if len(removed) > 5 else ''}")
    return removed


def remove_checkpoint_files(ckpt_dir, step: int) -> None:
    """Delete every file of checkpoint ``step`` (a save that failed, e.g. on a full disk)."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return
    for entry in ckpt_dir.iterdir():
        match = _CKPT_FILE.match(entry.name)
        if (match and int(match.group("step")) == step) or entry.name.endswith(f"-{step}_temp"):
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
