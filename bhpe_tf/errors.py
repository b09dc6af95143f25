"""Project exceptions.

Every error a *user* can cause (bad flag, missing file, wrong shape, unknown method) is raised as
a :class:`UserError` subclass so that command-line tools print one clear line instead of a
traceback (see :mod:`bhpe_tf.cli`). They also subclass the matching built-in exception so that
library callers can catch ``ValueError`` / ``FileNotFoundError`` as usual.
"""


class UserError(Exception):
    """A mistake in what the user asked for; the message says what to do."""


class UnknownNameError(UserError, ValueError):
    """An unknown preset / variant / model name; the message lists the valid names."""

    def __init__(self, kind: str, name: str, valid):
        valid = sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s are: {', '.join(valid)}")
        self.kind, self.name, self.valid = kind, name, valid


class InvalidInputError(UserError, ValueError):
    """Input data of the wrong shape, type or content."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or directory the user pointed to does not exist."""


class ConversionError(UserError, RuntimeError):
    """A model could not be converted as asked (e.g. a binary layer would run in float)."""


class DiskFullError(UserError, OSError):
    """A write failed for lack of space (or the file system's file-size limit); the message names
    the path, what was needed and what is free (:func:`bhpe_tf.fileio.disk_full_error`)."""


class IgnoredDataWarning(UserWarning):
    """Entries a metric or reader left out (NaN / inf / far-off ground truth, ...); the message has
    the count and the first entries. The CLIs print it as one ``warning: ...`` line."""


def warn_ignored(message: str, *, stacklevel: int = 3) -> None:
    """Issue an :class:`IgnoredDataWarning` (never a silent drop)."""
    import warnings

    warnings.warn(message, IgnoredDataWarning, stacklevel=stacklevel)


def print_warnings_as_lines() -> None:
    """Show :class:`IgnoredDataWarning` as ``warning: <message>`` on stderr (for the CLIs)."""
    import sys
    import warnings

    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, IgnoredDataWarning):
            print(f"warning: {message}", file=sys.stderr, flush=True)
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    warnings.simplefilter("default", IgnoredDataWarning)  # once per message (two metrics, one warning)
