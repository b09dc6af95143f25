"""Writing files so that nothing is ever half a file, nothing is left behind, and a full disk is one clear line.

* :func:`atomic_output` / :func:`atomic_write_bytes` / :func:`atomic_write_text`: write to a temporary
  name beside the target (``.NAME.tmp-PID-TOKEN.SUFFIX``), fsync, give it the mode a plain ``open``
  would (``0o666`` minus the process umask; ``mkstemp`` alone would leave ``0600``), then
  ``os.replace``. On any error the temporary is removed and the target keeps its previous content.
* :func:`clean_stale_temporaries`: removes what a process killed in the middle of such a write left
  (called when a tool starts on a folder it owns, e.g. the trainer's workdir).
* :func:`is_disk_full` / :func:`disk_full_error`: ``ENOSPC`` / ``EDQUOT`` / ``EFBIG`` from Python or
  TensorFlow become one :class:`~bhpe_tf.errors.DiskFullError` naming the path, what was needed and
  what is free.
* :func:`ensure_directory`: an output folder, or one clear line when the path is a file or cannot be made.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import threading
from pathlib import Path

from bhpe_tf.errors import DiskFullError, UserError

TEMP_MARK = ".tmp-"
#: Names this module (and the project's earlier writers) give temporaries: ``.NAME.tmp-PID-TOKEN[.SUFFIX]``,
#: the trainer's former ``.best.tmp1234.keras`` and ``mkstemp``'s ``.NAME.XXXXXXXX.tmp``.
_TEMP_PATTERNS = (re.compile(r"^\..+\.tmp-\d+-[0-9a-f]+(\.[^.]+)?$"), re.compile(r"^\..+\.tmp\d+\.(keras|npz)$"),
                  re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$"))
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded", "File too large")
_umask_lock = threading.Lock()


# ----------------------------------------------------------------------------------------- modes
def process_umask() -> int:
    """The process umask, read without changing it where Linux exposes it (``/proc/self/status``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:  # portable fallback: set and restore (briefly visible to other threads)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: ``0o666`` minus the umask."""
    return 0o666 & ~process_umask()


# ------------------------------------------------------------------------------------- disk full
def is_disk_full(err: BaseException) -> bool:
    """True for "no space" / "quota" / "file too large" from the OS or from TensorFlow's file system."""
    if isinstance(err, DiskFullError):
        return True
    if isinstance(err, OSError) and err.errno in _DISK_FULL_ERRNOS:
        return True
    # TensorFlow's C++ file system reports ENOSPC as ResourceExhaustedError / UnknownError with the strerror text.
    if type(err).__module__.startswith("tensorflow") or isinstance(err, OSError):
        text = str(err)
        return any(marker in text for marker in _DISK_FULL_TEXT)
    return False


def path_in_error(err: BaseException, *, under, default=None):
    """The file an OS / TensorFlow error names (``err.filename``, or the first path under ``under`` in its
    text, without TensorFlow's ``.tempstateNNN`` suffix), else ``default``."""
    name = getattr(err, "filename", None)
    if name:
        return name
    root = os.path.abspath(os.fspath(under))
    match = re.search(re.escape(root) + r"[^\s;:'\"]*", str(err))
    return re.sub(r"\.tempstate\d+$", "", match.group(0)) if match else default


def format_bytes(count) -> str:
    count = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"  # pragma: no cover


def free_bytes(path) -> int | None:
    """Free bytes on the file system holding ``path`` (its nearest existing ancestor)."""
    probe = Path(os.path.abspath(os.fspath(path)))
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def disk_full_error(path, *, needed: int | None = None, cause: BaseException | None = None,
                    advice: str = "Free some space and rerun.") -> DiskFullError:
    """One line: which path, how much was needed, how much is free, what to do."""
    too_large = (isinstance(cause, OSError) and cause.errno == errno.EFBIG) or "File too large" in str(cause or "")
    sizes = []
    if needed:
        sizes.append(f"needs about {format_bytes(needed)}")
    free = free_bytes(path)
    if free is not None:
        sizes.append(f"{format_bytes(free)} free")
    what = "file too large for the file system's limit" if too_large else "disk full"
    return DiskFullError(f"{what} writing {path}" + (f" ({', '.join(sizes)})" if sizes else "") + f". {advice}")


# ------------------------------------------------------------------------------------ temporaries
def temporary_path(path) -> Path:
    """A unique temporary name beside ``path`` keeping its suffix (``model.save`` needs ``.keras``)."""
    path = Path(path)
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def is_temporary_name(name: str) -> bool:
    return any(pattern.match(name) for pattern in _TEMP_PATTERNS)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_stale_temporaries(folder) -> list:
    """Remove the temporaries of interrupted writes in ``folder`` (not recursive); returns what went.

    Only call it on a folder no other process is writing to (the trainer holds its workdir lock)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.iterdir()):
        if is_temporary_name(entry.name):
            _remove(entry)
            removed.append(entry)
    return removed


def _fsync_path(path: Path) -> None:
    if path.is_file():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_output(path, *, needed_bytes: int | None = None, advice: str = "Free some space and rerun."):
    """``with atomic_output(p) as tmp: write(tmp)``: ``p`` appears complete, with the umask's mode, or not at all.

    A full disk raises :class:`DiskFullError` (``needed_bytes`` is what the message says was needed);
    the temporary is removed on every error, so an interrupted write leaves the old ``p`` untouched.
    """
    path = Path(path)
    ensure_directory(path.parent, what="output folder")
    tmp = temporary_path(path)
    try:
        yield tmp
        _fsync_path(tmp)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException as err:
        _remove(tmp)
        if is_disk_full(err) and not isinstance(err, DiskFullError):
            raise disk_full_error(path, needed=needed_bytes, cause=err, advice=advice) from None
        raise


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    path = Path(path)
    with atomic_output(path, needed_bytes=len(data)) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return path


def atomic_write_text(path, text: str) -> Path:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_keras(model, path) -> Path:
    """``model.save`` as a ``.keras`` file through :func:`atomic_output`: the file appears complete, with
    the umask's mode, or not at all; a full disk is one :class:`DiskFullError` line."""
    needed = int(sum(int(v.shape.num_elements() or 0) * v.dtype.size for v in model.variables))
    with atomic_output(path, needed_bytes=needed) as tmp:
        model.save(str(tmp), save_format="keras")
    return Path(path)


# ---------------------------------------------------------------------------------------- folders
def ensure_directory(path, *, what: str = "folder", create: bool = True) -> Path:
    """Create ``path`` (and parents) or raise one :class:`UserError` line saying why it cannot be a folder.

    ``create=False`` only checks (a tool can refuse a bad output path before doing any work)."""
    path = Path(path)
    if path.is_dir():
        return path
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir():
            raise UserError(f"{what} {path}: {parent} is a file, not a folder")
    if not create:
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise UserError(f"{what} {path}: permission denied creating it") from None
    except OSError as err:
        if is_disk_full(err):
            raise disk_full_error(path, cause=err) from None
        raise UserError(f"{what} {path}: cannot create it ({err.strerror or err})") from None
    return path


def read_json_object(path):
    """The JSON object (dict) in ``path``, or ``None`` when the file is missing, unreadable, not JSON or
    not an object: for optional records beside a model (``.meta.json``, ``run.json``, provenance)."""
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None
