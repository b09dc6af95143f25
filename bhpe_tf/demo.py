"""`make demo`: the project's main job on its embedded default data, end to end, on a CPU.

1. **binary core**: every method preset builds, converts with LCE and is verified binary (table);
2. **train**: a tiny fully binary BiHRNet student learns 2D keypoints on the procedural synthetic
   stick figures (``bhpe_tf/configs/bihrnet_demo.py``; held-out PCK printed before/after);
3. **convert**: the trained checkpoint -> LCE ``.tflite`` (uint8 input, in-graph normalisation),
   verified binary (zero float fallbacks) with Keras-vs-LCE parity, plus its model card ``.json``;
   the same-size full-precision HRNet -> FP32 TFLite for comparison;
4. **benchmark**: latency and size of both, side by side (LCE interpreter / XNNPACK);
5. **inference**: the converted model on a held-out synthetic image -> overlay PNG + COCO results.

Each stage runs the user-facing command-line tool in a subprocess (the same commands a user runs,
printed before each stage), so the demo exercises exactly what the README documents.
"""
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from absl import flags

import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)

REPO = Path(__file__).resolve().parents[1]


def define_flags(flag_values=None):
    """The flags of ``make demo`` / ``python -m bhpe_tf.demo`` on ``flag_values`` (default ``absl.flags.FLAGS``)."""
    flag_values = flags.FLAGS if flag_values is None else flag_values
    flags.DEFINE_string("workdir", "demo_out", "where the demo writes everything", flag_values=flag_values)
    flags.DEFINE_bool("skip_binary_core", False, "skip stage 1 (the preset table)", flag_values=flag_values)


def stage_binary_core(workdir: Path) -> dict:
    import numpy as np
    import tensorflow as tf

    from bhpe_tf import binary as B
    from bhpe_tf.conversion import convert, max_abs_difference, op_census, trained_like_state

    rows = []
    for name in B.LCE_METHOD_NAMES:  # xnor / dorefa are training forms: their LCE forms are in the table
        tf.keras.backend.clear_session()
        inputs = tf.keras.Input((16, 16, 32))
        x = B.conv_unit(inputs, 32, 3, method=name, name="conv_same")
        x = B.conv_unit(x, 64, 3, strides=2, method=name, name="conv_down")
        x = B.subpixel_conv_transpose(x, 32, method=name, name="deconv")
        x = B.binary_dense(tf.keras.layers.GlobalAveragePooling2D()(x), 16, method=name, name="fc")
        model = trained_like_state(tf.keras.Model(inputs, x))
        flatbuffer = convert(model)
        census = op_census(flatbuffer)
        sample = np.random.default_rng(0).normal(size=(1, 16, 16, 32)).astype(np.float32)
        diff, scale = max_abs_difference(model, flatbuffer, sample)
        rows.append({"method": name, "lce_bconv2d": census.lce_bconv2d, "float_fallbacks": len(census.float_fallbacks),
                     "max_rel_diff": diff / scale})
    print(f"{'method':<10}{'LceBconv2d':>12}{'fallbacks':>11}{'rel. diff':>12}")
    for row in rows:
        print(f"{row['method']:<10}{row['lce_bconv2d']:>12}{row['float_fallbacks']:>11}{row['max_rel_diff']:>12.2e}")
    (workdir / "binary_core.json").write_text(json.dumps(rows, indent=2))
    return {"preset table": workdir / "binary_core.json"}


def _run(args, *, what):
    """Run one user-facing command, streaming its output; stop the demo with its message if it fails."""
    command = [sys.executable, *map(str, args)]
    print(f"$ {' '.join(shlex.quote(a) for a in ['python', *map(str, args)])}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"error: the demo's {what} stage failed (exit {result.returncode}); see the output above")
    print(f"({what}: {time.perf_counter() - started:.0f} s)\n", flush=True)


def stage_train(workdir: Path) -> dict:
    train_dir = workdir / "train"
    _run(["training/train.py", "--config", "bihrnet_demo", "--workdir", train_dir, "--noprogress"], what="training")
    return {"checkpoint": train_dir / "best.keras", "training log (TensorBoard)": train_dir}


def stage_convert(workdir: Path) -> dict:
    best = json.loads((workdir / "train" / "best.json").read_text())
    kwargs = json.dumps(best["model_kwargs"])
    binary = workdir / "bihrnet_demo.tflite"
    _run(["converters/convert.py", "--model", best["model"], "--method", best["method"],
          "--checkpoint", workdir / "train" / "best.keras", "--model_kwargs", kwargs, "--input_hw", "64,64",
          "--uint8_input", "--output", binary], what="conversion (binary)")
    # The full-precision counterpart of the same size (same topology, HRNet BasicBlocks, float): what
    # binarization is measured against. Its weights are untrained; latency and size do not depend on them.
    fp_kwargs = {k: v for k, v in best["model_kwargs"].items() if k not in ("stage1", "ms_block")}
    fp = workdir / "hrnet_fp_demo.tflite"
    _run(["converters/convert.py", "--model", "hrnet_w32", "--method", "fp", "--random_init",
          "--model_kwargs", json.dumps(fp_kwargs), "--input_hw", "64,64", "--uint8_input", "--output", fp],
         what="conversion (full precision)")
    return {"binary model": binary, "model card": binary.with_suffix(".json"), "FP model": fp}


def stage_benchmark(workdir: Path) -> dict:
    _run(["converters/benchmark.py", workdir / "bihrnet_demo.tflite", workdir / "hrnet_fp_demo.tflite",
          "--threads", "1,2", "--runs", "20", "--warmup", "3"], what="benchmark")
    return {}


def stage_infer(workdir: Path) -> dict:
    import cv2

    from bhpe_tf.data.synthetic import SyntheticPose2D

    image, _, _ = SyntheticPose2D(input_wh=(256, 256), split="val", seed=7).render(0)
    image_path = workdir / "demo_image.png"
    cv2.imwrite(str(image_path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    out = workdir / "infer"
    _run(["-m", "bhpe_tf.infer", image_path, "--model", workdir / "bihrnet_demo.tflite", "--expect_binary",
          "--output_dir", out], what="inference")
    return {"input image": image_path, "overlays + results.json": out}


def main(argv):
    del argv
    from absl import logging

    from bhpe_tf.fileio import ensure_directory

    logging.set_verbosity(logging.WARNING)  # TensorFlow's SavedModel chatter hides the demo's tables
    workdir = ensure_directory(Path(flags.FLAGS.workdir).resolve(), what="--workdir")
    outputs = {}
    stages = [("binary core: every method preset -> LCE, verified binary", stage_binary_core),
              ("train a binary BiHRNet student on the embedded synthetic figures", stage_train),
              ("convert: checkpoint -> verified LCE .tflite + model card; FP counterpart -> TFLite", stage_convert),
              ("benchmark: binary vs full precision", stage_benchmark),
              ("inference on a held-out synthetic image", stage_infer)]
    if flags.FLAGS.skip_binary_core:
        stages = stages[1:]
    for number, (title, stage) in enumerate(stages, 1):
        print(f"\n== stage {number}/{len(stages)}: {title}", flush=True)
        outputs.update(stage(workdir))
    print("\nDemo finished. Outputs:")
    for key, value in outputs.items():
        print(f"  {key}: {value}")


def run(argv=None):
    """``make demo``: :func:`bhpe_tf.cli.run` with :func:`define_flags`."""
    from bhpe_tf import cli

    cli.run(main, define_flags, argv, doc=__doc__)


if __name__ == "__main__":
    run()
