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
