"""Shared plumbing for the absl command-line tools: user mistakes become one line, not a traceback.

Exit statuses of every CLI of the project (README "What happens when things go wrong"):

* 0 -- done;
* 2 -- a user error, bad data, or a full disk (:class:`~bhpe_tf.errors.UserError`): one ``error: ...`` line;
* 130 -- interrupted (Ctrl-C): one ``interrupted`` line; a trainer resumes from its last checkpoint;
* 1 -- a bug (anything else): Python's traceback, to be reported.
"""
import functools
import gc
import sys

from bhpe_tf.errors import UserError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def user_errors_exit(main):
    """Decorate an absl ``main(argv)`` so a :class:`UserError` prints ``error: ...`` and exits 2.

    A full disk reported by the OS (``ENOSPC``) is a user error too. The exit happens *outside*
    the ``except`` block, after the traceback is dropped and garbage is collected: a traceback
    keeps the failed function's frames alive, and with them any ``tf.data`` iterator, whose
    destructor at interpreter shutdown can hang or abort the process. Programming errors still
    raise with a full traceback: those are bugs to report, not user input.
    """

    @functools.wraps(main)
    def wrapped(argv):
        from bhpe_tf.fileio import disk_full_error, is_disk_full

        message = status = None
        try:
            return main(argv)
        except UserError as err:
            message, status = f"error: {err}", EXIT_USER_ERROR
        except OSError as err:
            if not is_disk_full(err):
                raise
            message, status = f"error: {disk_full_error(err.filename or '?', cause=err)}", EXIT_USER_ERROR
        except KeyboardInterrupt:
            message, status = "interrupted", EXIT_INTERRUPTED
        gc.collect()  # the failed frames (and their tf.data iterators) go now, not at interpreter shutdown
        print(message, file=sys.stderr, flush=True)
        sys.exit(status)

    return wrapped
