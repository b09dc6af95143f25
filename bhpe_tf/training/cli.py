"""Train a model of the project (``bhpe-train``, ``training/train.py``); see training/README.md.

    bhpe-train --config bihrnet_demo --workdir runs/demo                  # embedded synthetic data
    bhpe-train --config hrnet_w32_coco --workdir runs/hrnet_w32_coco --data_dir data/coco
    bhpe-train --config bihrnet_coco_stage1 --workdir runs/bihrnet_coco_stage1 --data_dir data/coco \\
        --config.teacher.checkpoint=runs/hrnet_w32_coco
    bhpe-train --config bihrnet_demo --workdir runs/x --config.optimizer.lr=1e-4 --config.train.batch_size=8

``--config`` is a config of the package (``bhpe_tf/configs/NAME.py``) or a path to a ``.py`` with
``get_config()``; ``--config.key.path=value`` (ml_collections config_flags) overrides any value; a
workdir with a checkpoint resumes. Without ``--data_dir`` the embedded synthetic data is used.
"""
import os

import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)
from absl import flags

from bhpe_tf import cli


def define_flags(flag_values=flags.FLAGS, argv=None):
    """The trainer's flags on ``flag_values``; ``argv``: the command line ``--config.KEY=VALUE`` overrides are
    read from (default ``sys.argv``)."""
    from bhpe_tf.training import config as cfg_lib

    cfg_lib.define_config_flag(flag_values, argv=argv)
    flags.DEFINE_string("workdir", None, "run folder: checkpoints, run.json, tensorboard/, best.keras",
                        flag_values=flag_values)
    flags.DEFINE_string("data_dir", None, "dataset root (see training/README.md); default: embedded synthetic data",
                        flag_values=flag_values)
    flags.DEFINE_integer("steps", None, "total training steps (overrides epochs x steps_per_epoch)",
                         flag_values=flag_values)
    flags.DEFINE_integer("epochs", None, "number of epochs (overrides train.epochs)", flag_values=flag_values)
    flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                      "tf.distribute strategy (multi_worker reads TF_CONFIG)", flag_values=flag_values)
    flags.DEFINE_bool("progress", True, "show a tqdm progress bar", flag_values=flag_values)
    flags.DEFINE_bool("print_config", False, "print the resolved config as JSON and exit", flag_values=flag_values)


def main(argv):
    import json

    from bhpe_tf.errors import UserError
    from bhpe_tf.training import config as cfg_lib

    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {' '.join(argv[1:])}")
    FLAGS = flags.FLAGS
    config = FLAGS.config
    if config is None:
        raise UserError(f"--config is required; available: {', '.join(cfg_lib.config_names())}")
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
    """``bhpe-train``: :func:`bhpe_tf.cli.run` with this module's flags (``argv`` default ``sys.argv``)."""
    cli.run(main, lambda flag_values: define_flags(flag_values, argv=argv), argv, doc=__doc__)


if __name__ == "__main__":
    run()
