"""Full-size BiHRNet learns on real data: over-fit the 12 annotated COCO people of ../shared/data/coco.

    .venv/bin/python benchmarks/overfit_bihrnet_coco.py [--steps 400] [--input_hw 128x96]
        [--stage1 ir_a --ms_block ms_a] [--method bidrn] [--stage binary] [--eval_every 25]

The network is the published size (W32; 1 / 4 / 3 modules of 4 blocks; stem and head FP), fully
binary (``--stage binary``, weights and activations +-1) or with real weights (``binary_activations``),
trained from scratch with Adam on AWing (the student's task loss) on the 4 real COCO val2017 images
of the shared samples, laid out as a COCO folder (``annotations/person_keypoints_{train,val}2017.json``
+ images) so that the trainer's own COCO reader, top-down crops and Gaussian targets
(:class:`bhpe_tf.training.tasks.HeatmapTask`) produce the batches; augmentation is off (memorising is
the point). Every ``--eval_every`` steps the script prints the training loss and PCK@0.2 (of the
person's keypoint extent) on the same 12 people without augmentation; at the end: the loss ratio,
the first step with PCK >= 0.9, and the time per step. Not a test: it takes tens of minutes on two
CPU cores (numbers in the README).
"""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)
import numpy as np
import tensorflow as tf
from absl import flags

from bhpe_tf import cli

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bhpe_tf.training import config as cfg_lib  # noqa: E402
from bhpe_tf.training.tasks import make_task  # noqa: E402

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """This script's flags on ``flag_values`` (bhpe_tf.cli.run defines them)."""
    flags.DEFINE_integer("steps", 400, "training steps", flag_values=flag_values)
    flags.DEFINE_string("input_hw", "128x96", "HxW of the crops (the paper: 256x192)", flag_values=flag_values)
    flags.DEFINE_string("stage1", "ir_a", "IR Bottleneck variant", flag_values=flag_values)
    flags.DEFINE_string("ms_block", "ms_a", "MS-Block variant", flag_values=flag_values)
    flags.DEFINE_string("method", "bidrn", "binary preset", flag_values=flag_values)
    flags.DEFINE_enum("stage", "binary", ["binary", "binary_activations"], "fully binary or real weights",
                      flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 12, "batch (12 = every person once per step)", flag_values=flag_values)
    flags.DEFINE_float("lr", 1e-3, "Adam learning rate (HRNet's)", flag_values=flag_values)
    flags.DEFINE_integer("eval_every", 25, "steps between loss / PCK lines", flag_values=flag_values)
    flags.DEFINE_string("data", str(REPO.parent / "shared" / "data" / "coco"), "the shared COCO samples",
                        flag_values=flag_values)
    flags.DEFINE_string("json", None, "also write the curve as JSON here", flag_values=flag_values)


def coco_folder(samples: Path, root: Path) -> Path:
    """The shared samples as the COCO layout the trainer reads (the same people for train and val)."""
    (root / "annotations").mkdir(parents=True)
    for split in ("train2017", "val2017"):
        os.symlink(samples, root / split)
        (root / "annotations" / f"person_keypoints_{split}.json").write_bytes(
            (samples / "test_coco.json").read_bytes())
    return root


def build_config():
    height, width = (int(v) for v in FLAGS.input_hw.lower().split("x"))
    config = cfg_lib.load_config("bihrnet_coco")
    overrides = [f"stage={FLAGS.stage}", "init_from=none", "teacher=none", "loss.name=awing",
                 f"model.method={FLAGS.method}", f"model.kwargs.stage1={FLAGS.stage1}",
                 f"model.kwargs.ms_block={FLAGS.ms_block}", f"data.input_wh=[{width},{height}]",
                 "data.augment={'scale_factor': 0.0, 'rotation_factor': 0.0, 'flip_prob': 0.0, "
                 "'half_body_prob': 0.0}", f"optimizer.lr={FLAGS.lr}", f"train.batch_size={FLAGS.batch_size}"]
    return cfg_lib.validate(cfg_lib.apply_overrides(config, overrides))


def main(argv):
    del argv
    config = build_config()
    with tempfile.TemporaryDirectory() as tmp:
        task = make_task(config, data_dir=coco_folder(Path(FLAGS.data).resolve(), Path(tmp) / "coco"))
        train_source, val_source, people = task.sources()
        tic = time.time()
        model = task.build_model()
        build_s = time.time() - tic
        loss_obj = task.make_loss(None)
        # The fused legacy Adam (one ResourceApplyAdam per variable) traces in a fraction of the time of
        # the per-variable update ops of tf.keras.optimizers.Adam; the update rule is the same.
        optimizer = tf.keras.optimizers.legacy.Adam(FLAGS.lr)

        @tf.function(autograph=False)
        def step(batch):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(task.losses(model, None, loss_obj, batch, training=True)["total"])
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        @tf.function(autograph=False)
        def predict(images):
            return model(images, training=False)

        def pck():
            metrics, _ = task.evaluate(lambda x: predict(tf.constant(x)).numpy(), val_source, samples=people,
                                       batch_size=people)
            return metrics[task.metric_name]

        print(f"{model.name}: {model.count_params():,} weights, {people} people, built in {build_s:.0f} s; "
              f"untrained PCK@0.2 {pck():.3f}", flush=True)
        curve, first_loss, reached, train_s = [], None, None, 0.0
        for index in range(1, FLAGS.steps + 1):
            batch = {k: tf.constant(v) for k, v in train_source.batch((index - 1) * FLAGS.batch_size,
                                                                       FLAGS.batch_size).items()}
            tic = time.time()
            loss = float(step(batch))
            train_s += time.time() - tic if index > 1 else 0.0  # the first step traces the graph
            first_loss = loss if first_loss is None else first_loss
            if index % FLAGS.eval_every == 0 or index == FLAGS.steps:
                value = pck()
                curve.append({"step": index, "loss": loss, "pck": value})
                if reached is None and value >= 0.9:
                    reached = index
                print(f"step {index:5d}  loss {loss:.4g}  train PCK@0.2 {value:.3f}", flush=True)
        per_step = train_s / max(FLAGS.steps - 1, 1)
        summary = {"model": model.name, "input_hw": FLAGS.input_hw, "stage": FLAGS.stage, "people": people,
                   "first_loss": first_loss, "last_loss": curve[-1]["loss"], "loss_ratio": first_loss / curve[-1]["loss"],
                   "final_pck": curve[-1]["pck"], "steps_to_pck_0.9": reached, "seconds_per_step": per_step,
                   "curve": curve}
        print(f"loss {first_loss:.4g} -> {curve[-1]['loss']:.4g} ({summary['loss_ratio']:.1f}x lower); train "
              f"PCK@0.2 {curve[-1]['pck']:.3f}; PCK >= 0.9 first at step {reached}; {per_step:.2f} s/step")
        if FLAGS.json:
            Path(FLAGS.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
