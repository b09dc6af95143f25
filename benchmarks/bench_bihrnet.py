"""BiHRNet (LCE) vs FP32 HRNet-W32 (TFLite + XNNPACK): latency and file size, side by side.

    .venv/bin/python benchmarks/bench_bihrnet.py [--input_hw 256x192] [--stage1 ir_a] [--ms_block ms_a]
        [--method bidrn] [--runs 10] [--warmup 3] [--threads 1,2] [--out_dir DIR]

Latency is the median over ``--runs`` single-image inferences after ``--warmup`` runs, in LCE's
Python interpreter: ``use_indirect_bgemm=True`` for the binary model, the XNNPACK delegate for the
float model (the fastest float path of stock TFLite). Goals: <= 0.33x the FP
latency, <= 1/10 the FP file size.

Caveat: LCE's optimised binary kernels target aarch64; on x86 (these machines) the binary convs run
a portable kernel, so x86 ratios are pessimistic for the phone. Numbers on a shared machine are noisy.

Conversion uses ``bhpe_tf.conversion.convert`` / ``convert_float`` (lean SavedModel, see there).
"""
import os
import statistics
import time

import bhpe_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow)
from absl import flags

from bhpe_tf import cli
from bhpe_tf.conversion import convert_float
from bhpe_tf.conversion.benchmark import convert_binary_checked, time_interpreter
from bhpe_tf.errors import InvalidInputError
from bhpe_tf.models.hrnet import build_bihrnet, build_hrnet_w32
from bhpe_tf.runtime import lce_interpreter


def parse_size(text):
    try:
        height, width = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise InvalidInputError(f"input size must look like 256x192, got {text!r}") from None
    return height, width


def median_latency_ms(flatbuffer, *, runs, warmup, **interpreter_kwargs):
    """Median ms of ``runs`` invocations after ``warmup`` (the converter benchmark's timer)."""
    return statistics.median(time_interpreter(lce_interpreter(flatbuffer, **interpreter_kwargs), runs=runs, warmup=warmup))


def define_flags(flag_values=flags.FLAGS):
    flags.DEFINE_string("input_hw", "256x192", "HxW of the input", flag_values=flag_values)
    flags.DEFINE_integer("num_joints", 17, "heatmaps (17: COCO, 16: MPII)", flag_values=flag_values)
    flags.DEFINE_string("method", "bidrn", "binary preset of BiHRNet", flag_values=flag_values)
    flags.DEFINE_string("stage1", "ir_a", "IR Bottleneck variant", flag_values=flag_values)
    flags.DEFINE_string("ms_block", "ms_a", "MS-Block variant", flag_values=flag_values)
    flags.DEFINE_integer("runs", 10, "timed runs (median reported)", flag_values=flag_values)
    flags.DEFINE_integer("warmup", 3, "untimed runs first", flag_values=flag_values)
    flags.DEFINE_string("threads", "1,2", "comma-separated interpreter thread counts", flag_values=flag_values)
    flags.DEFINE_string("out_dir", None, "also write the two .tflite files here", flag_values=flag_values)


def main(argv):
    del argv
    args = flags.FLAGS
    height, width = parse_size(args.input_hw)
    threads = [int(t) for t in args.threads.split(",")]
    shape = (height, width, 3)

    binary = build_bihrnet(input_shape=shape, num_joints=args.num_joints, method=args.method,
                           stage1=args.stage1, ms_block=args.ms_block)
    binary_fb = convert_binary_checked(binary, strict=False)
    t0 = time.time()
    fp = build_hrnet_w32(input_shape=shape, num_joints=args.num_joints)
    fp_fb = convert_float(fp)
    print(f"[{time.time() - t0:.0f}s] {fp.name} converted", flush=True)
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
        for name, fb in ((binary.name, binary_fb), (fp.name, fp_fb)):
            with open(os.path.join(args.out_dir, f"{name}_{height}x{width}.tflite"), "wb") as f:
                f.write(fb)

    rows = {"bihrnet": {"size": len(binary_fb) / 2 ** 20}, "fp": {"size": len(fp_fb) / 2 ** 20}}
    for n in threads:
        rows["bihrnet"][n] = median_latency_ms(binary_fb, runs=args.runs, warmup=args.warmup, num_threads=n,
                                               use_indirect_bgemm=True)
        rows["fp"][n] = median_latency_ms(fp_fb, runs=args.runs, warmup=args.warmup, num_threads=n,
                                          use_xnnpack=True)
        print(f"  {n} thread(s): BiHRNet {rows['bihrnet'][n]:.1f} ms, FP {rows['fp'][n]:.1f} ms", flush=True)

    header = f"| model ({height}x{width}) | file MiB | " + " | ".join(f"latency {n}T ms" for n in threads) + " |"
    print()
    print(header)
    print("|" + "---|" * (2 + len(threads)))
    labels = {"bihrnet": f"{binary.name} (LCE, indirect bgemm)", "fp": f"{fp.name} FP32 (TFLite, XNNPACK)"}
    for key in ("bihrnet", "fp"):
        cells = [f"{rows[key]['size']:.2f}"] + [f"{rows[key][n]:.1f}" for n in threads]
        print(f"| {labels[key]} | " + " | ".join(cells) + " |")
    ratios = [f"{rows['bihrnet']['size'] / rows['fp']['size']:.3f}"]
    ratios += [f"{rows['bihrnet'][n] / rows['fp'][n]:.2f}" for n in threads]
    print("| ratio BiHRNet / FP (goal <= 0.1 size, <= 0.33 latency) | " + " | ".join(ratios) + " |")
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
