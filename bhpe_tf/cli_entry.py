"""Console-script entry points (``setup.cfg`` ``[options.entry_points]``) for the command-line tools.

Each function defines its tool's absl flags and runs its ``main`` exactly as the script in
``converters/`` does, so ``bhpe-convert ...`` == ``python converters/convert.py ...``. The mains live
in the library (:mod:`bhpe_tf.conversion.export`, :mod:`bhpe_tf.conversion.benchmark`) so that the
entry points also work from an installed wheel, which does not contain ``converters/``.
"""
import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)


def convert():
    """``bhpe-convert``: ``converters/convert.py``."""
    from absl import app

    from bhpe_tf.cli import user_errors_exit
    from bhpe_tf.conversion import export

    export.define_flags()
    app.run(user_errors_exit(export.main))


def benchmark():
    """``bhpe-benchmark``: ``converters/benchmark.py``."""
    from absl import app

    from bhpe_tf.cli import user_errors_exit
    from bhpe_tf.conversion import benchmark as bench

    bench.define_flags()
    app.run(user_errors_exit(bench.main))


def train():
    """``bhpe-train``: ``training/train.py`` (flags and main in :mod:`bhpe_tf.training.cli`)."""
    from bhpe_tf.training.cli import run

    run()
