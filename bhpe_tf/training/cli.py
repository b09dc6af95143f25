"""The ``training/train.py`` / ``bhpe-train`` command line (flags and ``main``); see training/README.md."""
import os
import sys

import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)
from absl import app, flags

from bhpe_tf.cli import user_errors_exit


def define_flags():
    flags.DEFINE_string("config", None, "config name in training/configs/ (e.g. bihrnet_demo) or a .py path")
    flags.DEFINE_string("workdir", None, "run folder: checkpoints, run.json, tensorboard/, best.keras")
    flags.DEFINE_string("data_dir", None, "dataset root (see training/README.md); default: embedded synthetic data")
    flags.DEFINE_multi_string("set", [], "override a config value, key.path=value (repeatable)")
    flags.DEFINE_integer("steps", None, "total training steps (overrides epochs x steps_per_epoch)")
    flags.DEFINE_integer("epochs", None, "number of epochs (overrides train.epochs)")
    flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                      "tf.distribute strategy (multi_worker reads TF_CONFIG)")
    flags.DEFINE_bool("progress", True, "show a tqdm progress bar")
    flags.DEFINE_bool("print_config", False, "print the resolved config as JSON and exit")


def rewrite_config_dot_flags(argv):
    """``--config.a.b=v`` -> ``--set=a.b=v`` (absl cannot declare open-ended flag names)."""
    out = []
    for arg in argv:
        if arg.startswith("--config.") and "=" in arg:
            out.append("--set=" + arg[len("--config."):])
        elif arg.startswith("--config.") and "=" not in arg:
            out.append(arg)  # left for absl to reject
        else:
            out.append(arg)
    return out


def main(argv):
    import json

    from bhpe_tf.errors import UserError
    from bhpe_tf.training import config as cfg_lib

    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {' '.join(argv[1:])}")
    FLAGS = flags.FLAGS
    if not FLAGS.config:
        raise UserError(f"--config is required; available: {', '.join(cfg_lib.config_names())}")
    config = cfg_lib.load_config(FLAGS.config)
    cfg_lib.apply_overrides(config, FLAGS.set)
    cfg_lib.validate(config)
    if FLAGS.print_config:
        print(json.dumps(config, indent=1, default=str))
        return 0
    if not FLAGS.workdir:
        raise UserError("--workdir is required (where checkpoints and logs go)")
    from absl import logging

    logging.set_verbosity(logging.WARNING)
    from bhpe_tf.training.loop import train

    summary = train(config, workdir=FLAGS.workdir, data_dir=FLAGS.data_dir, strategy=FLAGS.strategy,
                    steps=FLAGS.steps, epochs=FLAGS.epochs, progress=FLAGS.progress)
    metric = summary["metric"]
    print(f"done: step {summary['final_step']}, val {metric} = {summary['metrics'][metric]:.4f} "
          f"(best {summary['best']:.4f}); checkpoint {summary['latest_checkpoint']}; "
          f"best model {os.path.join(FLAGS.workdir, 'best.keras')}")
    return 0


def run(argv=None):
    """Entry point (``bhpe-train``): define the flags, then run ``main`` with user errors as one line."""
    define_flags()
    app.run(user_errors_exit(main), argv=rewrite_config_dot_flags(list(argv if argv is not None else sys.argv)))


