"""Shared plumbing for the absl command-line tools: user mistakes become one line, not a traceback.

Exit statuses of every CLI of the project (README "What happens when things go wrong"):

* 0 -- done;
* 2 -- a user error, bad data, or a full disk (:class:`~bhpe_tf.errors.UserError`): one ``error: ...`` line;
* 130 -- interrupted (Ctrl-C): one ``interrupted`` line; a trainer resumes from its last checkpoint;
* 1 -- a bug (anything else): Python's traceback, to be reported.

Every tool has one shape: ``define_flags(flag_values=flags.FLAGS)`` in the module that owns the flags,
``main(argv)``, and ``run(argv=None)`` -- the console script -- which is :func:`run` here: it defines
the flags, makes them the ``--help`` of the program (whether started as a console script, ``python -m``
or a script), parses them with a bad flag as one ``error:`` line (exit 2), and runs ``main`` under
:func:`user_errors_exit`. :func:`flag_values` gives a tool's options from Python, with the defaults of
its flag definitions.
"""
import functools
import gc
import json
import sys
from typing import Callable, Optional, Sequence

from bhpe_tf.errors import InvalidInputError, UserError

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


def _flag_error_line(err: Exception) -> str:
    """A UserError a flag's parser raised (absl wraps it) says it best; else absl's message."""
    context = err.__context__
    if isinstance(err, UserError):
        return str(err)
    if isinstance(context, UserError):
        return str(context)
    return f"{err} (--help lists the flags)"


HELP_FLAGS = ("help", "helpshort", "helpfull", "helpxml", "?")


def _asks_for_help(argv) -> bool:
    for arg in list(argv)[1:]:
        if arg == "--":
            return False
        if arg.lstrip("-").split("=", 1)[0] in HELP_FLAGS and arg.startswith("-"):
            return True
    return False


def parse_flags(argv):
    """absl ``flags_parser``: a bad flag (unknown, bad value, a config key typo) is one ``error:`` line, exit 2;
    ``--help`` (absl prints it and exits 1) exits 0."""
    from absl import flags

    try:
        return flags.FLAGS(list(argv))
    except (flags.Error, UserError) as err:
        message = _flag_error_line(err)
    except SystemExit as stop:
        if stop.code == 1 and _asks_for_help(argv):
            sys.exit(0)
        raise
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(EXIT_USER_ERROR)


def run(main: Callable, define_flags: Callable, argv: Optional[Sequence[str]] = None, *, doc: Optional[str] = None):
    """Run a tool: ``define_flags(flags.FLAGS)``, the new flags made key flags of the program being run
    (absl's ``--help`` lists the main module's key flags, and a console script's main module defines none),
    ``doc`` as the usage text where the main module has no docstring, then ``absl.app.run`` with
    :func:`parse_flags` and ``main`` under :func:`user_errors_exit`."""
    from absl import app, flags

    before = set(flags.FLAGS)
    define_flags(flags.FLAGS)
    program = sys.argv[0]  # absl's name of the main module (FlagValues.main_module_help)
    for name in sorted(set(flags.FLAGS) - before):
        flags.FLAGS.register_key_flag_for_module(program, flags.FLAGS[name])
    main_module = sys.modules.get("__main__")
    if doc and main_module is not None and not getattr(main_module, "__doc__", None):
        main_module.__doc__ = doc
    app.run(user_errors_exit(main), argv=None if argv is None else list(argv), flags_parser=parse_flags)


def flag_values(define_flags: Callable, argv: Sequence[str] = ("tool",), **values):
    """A fresh ``FlagValues`` with a tool's flags (``define_flags(fv)``), parsed from ``argv``, then ``values``
    set by flag name: the tool's options from Python, defaults from the flag definitions themselves."""
    from absl import flags

    fv = flags.FlagValues()
    define_flags(fv)
    fv(list(argv))
    unknown = sorted(set(values) - set(fv))
    if unknown:
        raise TypeError(f"unknown options {unknown}; the flags are {sorted(fv)}")
    for name, value in values.items():
        setattr(fv, name, value)
    return fv


# --------------------------------------------------------------------------- flag value parsers
def parse_hw(text) -> Optional[tuple]:
    """``--input_hw "256,192"`` (or ``256x192``): (height, width) -> ``(256, 192)``; ``None`` / ``""`` -> ``None``."""
    if text is None or text == "":
        return None
    if isinstance(text, (tuple, list)):
        parts = list(text)
    else:
        parts = [p for p in str(text).replace("x", ",").split(",") if p.strip()]
    try:
        size = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        raise InvalidInputError(f"input size must be 'HEIGHT,WIDTH' (e.g. 256,192), got {text!r}") from None
    if len(size) != 2 or min(size) <= 0:
        raise InvalidInputError(f"input size must be two positive integers 'HEIGHT,WIDTH', got {text!r}")
    return size


def parse_model_kwargs(text) -> dict:
    """``--model_kwargs`` json object -> dict (empty for ``None`` / ``""``)."""
    if text is None or text == "" or isinstance(text, dict):
        return dict(text or {})
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInputError(f"--model_kwargs must be a json object, got {text!r} ({err.msg})") from None
    if not isinstance(value, dict):
        raise InvalidInputError(f"--model_kwargs must be a json object, got {text!r}")
    # json lists -> tuples (builders take tuples, e.g. stage_modules)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
