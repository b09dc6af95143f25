"""BiHRNet's two-stage distillation recipe at full width and depth, through the trainer, on the
embedded synthetic data.

    .venv/bin/python benchmarks/two_stage_bihrnet.py [--input_hw 128x96] [--steps 600,600,600]
        [--eval_every 100] [--batch_size 16] [--workdir runs/two_stage] [--json out.json]

1. teacher: HRNet-W32 full precision (``hrnet_w32_coco``, JointsMSE);
2. stage 1: BiHRNet (default ir_a + ms_a, W32, 1 / 4 / 3 modules) with binary activations and real
   weights, AWing + KL(teacher || student) with the frozen teacher (``bihrnet_coco_stage1``);
3. stage 2: fully binary BiHRNet initialised from stage 1, same loss (``bihrnet_coco``).

Each stage is ``python training/train.py`` in-process (:func:`bhpe_tf.training.loop.train`) with the
paper's configs, only sizes and steps overridden; held-out PCK@0.2 is measured before the first step
and after every ``--eval_every`` steps. Printed per stage: the loss at the first and last step, the
PCK curve, seconds per step. Stage 2's first PCK shows whether it starts where stage 1 ended.
Not a test (about an hour on two CPU cores; numbers in the README).
"""
import json
import sys
import time
from pathlib import Path

import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)
from absl import flags

from bhpe_tf import cli

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bhpe_tf.training import config as cfg_lib  # noqa: E402
from bhpe_tf.training.loop import train  # noqa: E402

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """This script's flags on ``flag_values`` (bhpe_tf.cli.run defines them)."""
    flags.DEFINE_string("input_hw", "128x96", "HxW (the paper: 256x192)", flag_values=flag_values)
    flags.DEFINE_string("steps", "600,600,600", "steps of teacher, stage 1, stage 2", flag_values=flag_values)
    flags.DEFINE_integer("eval_every", 100, "steps per epoch (validation after each)", flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 16, "batch size", flag_values=flag_values)
    flags.DEFINE_integer("val_samples", 128, "held-out synthetic figures", flag_values=flag_values)
    flags.DEFINE_string("workdir", "runs/two_stage", "parent folder of the three runs", flag_values=flag_values)
    flags.DEFINE_string("json", None, "also write the results as JSON here", flag_values=flag_values)


STAGES = (("teacher", "hrnet_w32_coco"), ("stage1", "bihrnet_coco_stage1"), ("stage2", "bihrnet_coco"))


def stage_config(name, config_name, workdir: Path):
    height, width = (int(v) for v in FLAGS.input_hw.lower().split("x"))
    config = cfg_lib.load_config(config_name)
    overrides = [f"data.input_wh=[{width},{height}]", f"data.val_samples={FLAGS.val_samples}",
                 f"train.batch_size={FLAGS.batch_size}", f"train.steps_per_epoch={FLAGS.eval_every}",
                 f"train.checkpoint_every={FLAGS.eval_every}", "train.validate_at_start=True",
                 "train.val_batch_size=32", "optimizer.milestones=[]"]
    if name != "teacher":
        overrides.append(f"teacher.checkpoint={workdir / 'teacher'}")
    if name == "stage2":
        overrides.append(f"init_from={workdir / 'stage1'}")
    return cfg_lib.validate(cfg_lib.apply_overrides(config, overrides))


def main(argv):
    del argv
    steps = [int(v) for v in FLAGS.steps.split(",")]
    root = Path(FLAGS.workdir)
    results = {}
    for (name, config_name), count in zip(STAGES, steps):
        curve = []

        def log(line, curve=curve):
            print(f"[{name}] {line}", flush=True)
            if "val pck@0.2 = " in line:
                step = 0 if line.startswith("step 0") else int(line.split(" step ")[1].split(":")[0])
                curve.append((step, float(line.split("val pck@0.2 = ")[1].split()[0])))

        tic = time.time()
        summary = train(stage_config(name, config_name, root), workdir=root / name, steps=count, progress=False,
                        log=log)
        results[name] = {"config": config_name, "steps": count, "first_loss": summary["first_loss"],
                         "last_loss": summary["last_loss"], "initial_output_std": summary.get("initial_output_std"),
                         "pck_curve": curve, "final_pck": summary["metrics"]["pck@0.2"],
                         "seconds_per_step": summary["train_seconds"] / max(count, 1),
                         "wall_seconds": round(time.time() - tic, 1)}
    print(f"\n{'stage':<9}{'loss first':>12}{'loss last':>12}{'PCK start':>11}{'PCK end':>9}{'s/step':>8}")
    for name, row in results.items():
        print(f"{name:<9}{row['first_loss']:>12.4g}{row['last_loss']:>12.4g}{row['pck_curve'][0][1]:>11.3f}"
              f"{row['final_pck']:>9.3f}{row['seconds_per_step']:>8.2f}")
    if FLAGS.json:
        Path(FLAGS.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
