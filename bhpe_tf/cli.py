"""Shared plumbing for the absl command-line tools: user mistakes become one line, not a traceback."""
import functools
import sys

from bhpe_tf.errors import UserError


def user_errors_exit(main):
    """Decorate an absl ``main(argv)`` so a :class:`UserError` prints ``error: ...`` and exits 2.

    Programming errors still raise with a full traceback: those are bugs to report, not user input.
    """

    @functools.wraps(main)
    def wrapped(argv):
        try:
            return main(argv)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapped
