"""Train a model of the project: ``python training/train.py --config NAME --workdir DIR [...]`` (= ``bhpe-train``).

    python training/train.py --config bihrnet_demo --workdir runs/demo               # embedded data
    python training/train.py --config hrnet_w32_coco --workdir runs/hrnet_w32_coco --data_dir data/coco
    python training/train.py --config bihrnet_coco_stage1 --workdir runs/bihrnet_coco_stage1 \\
        --data_dir data/coco --config.teacher.checkpoint=runs/hrnet_w32_coco
    python training/train.py --config bihrnet_demo --workdir runs/x --config.optimizer.lr=1e-4 --config.train.batch_size=8

``--config`` is a config of the package (``bhpe_tf/configs/NAME.py``) or a path to a ``.py`` with
``get_config()``; ``--config.key.path=value`` (repeatable) overrides any value; a workdir with a
checkpoint resumes. Without ``--data_dir`` the embedded synthetic data is used. Everything is
documented in ``training/README.md``; flags and main: :mod:`bhpe_tf.training.cli`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bhpe_tf  # noqa: E402,F401  (Keras 2 before TensorFlow)
from bhpe_tf.training.cli import define_flags, main, run  # noqa: E402,F401

if __name__ == "__main__":
    run()
