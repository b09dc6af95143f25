"""Ablation table of BiHRNet's block designs (IR Bottleneck x MS-Block) and the binary baselines.

    .venv/bin/python benchmarks/ablation_bihrnet.py [--grid] [--baselines fp,bnn,reactnet]
        [--input_hw 256x192] [--no_latency] [--runs 5] [--threads 1]

Rows: by default one factor at a time around the default BiHRNet (ir_a + ms_a): stage 1 in
{ir_a, ir_b, fp} with ms_a, MS-Block in {ms_b, basic} with ir_a; ``--grid`` gives all 3 x 3.
``--baselines`` adds HRNet-W32 under other presets (``fp`` = the teacher, ``bnn`` = BNN-HRNet ...).
Columns: Params (M) = P_binary/32 + P_fp and OPs (G) = MAC_binary/64 + MAC_fp
(:func:`bhpe_tf.counting.count_model`, counted at ``--input_hw``), the binary and real MACs, and
the LCE latency (median, ``use_indirect_bgemm=True``; XNNPACK for the FP row) unless
``--no_latency``. Building a full-size BiHRNet takes minutes on a small machine; so does each
conversion: use ``--input_hw 128x96`` for a quicker latency comparison.
"""
import os
import sys
import time

import bhpe_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow)
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_bihrnet import median_latency_ms, parse_size  # noqa: E402

from bhpe_tf import cli  # noqa: E402
from bhpe_tf.conversion import convert, convert_float  # noqa: E402

from bhpe_tf.binary.methods import get_method  # noqa: E402
from bhpe_tf.counting import count_model  # noqa: E402
from bhpe_tf.models.hrnet import MS_BLOCK_VARIANTS, STAGE1_VARIANTS, build_bihrnet, build_hrnet_w32  # noqa: E402

DEFAULT = ("ir_a", "ms_a")


def variants(grid):
    if grid:
        return [(s, m) for s in STAGE1_VARIANTS for m in MS_BLOCK_VARIANTS]
    rows = [DEFAULT] + [(s, DEFAULT[1]) for s in STAGE1_VARIANTS if s != DEFAULT[0]]
    return rows + [(DEFAULT[0], m) for m in MS_BLOCK_VARIANTS if m != DEFAULT[1]]


def define_flags(flag_values=flags.FLAGS):
    flags.DEFINE_string("input_hw", "256x192", "HxW the models are counted (and timed) at", flag_values=flag_values)
    flags.DEFINE_integer("num_joints", 17, "heatmaps (17: COCO, 16: MPII)", flag_values=flag_values)
    flags.DEFINE_string("method", "bidrn", "binary preset of the BiHRNet rows", flag_values=flag_values)
    flags.DEFINE_bool("grid", False, "all stage1 x ms_block combinations", flag_values=flag_values)
    flags.DEFINE_string("baselines", "fp,bnn", "HRNet-W32 presets to add ('' for none)", flag_values=flag_values)
    flags.DEFINE_bool("no_latency", False, "counts only, no conversion and timing", flag_values=flag_values)
    flags.DEFINE_integer("runs", 5, "timed runs per row (median reported)", flag_values=flag_values)
    flags.DEFINE_integer("warmup", 2, "untimed runs first", flag_values=flag_values)
    flags.DEFINE_integer("threads", 1, "interpreter threads", flag_values=flag_values)


def main(argv):
    del argv
    args = flags.FLAGS
    height, width = parse_size(args.input_hw)
    shape = (height, width, 3)
    jobs = [(f"bihrnet {s} + {m}", lambda s=s, m=m: build_bihrnet(
        input_shape=shape, num_joints=args.num_joints, method=args.method, stage1=s, ms_block=m))
        for s, m in variants(args.grid)]
    for name in filter(None, args.baselines.split(",")):
        method = get_method(name)
        jobs.append((f"hrnet_w32 {method.name}", lambda method=method: build_hrnet_w32(
            input_shape=shape, num_joints=args.num_joints, method=method)))

    print(f"| model ({height}x{width}) | Params (M) | OPs (G) | binary MACs (G) | real MACs (G) | latency ms |")
    print("|---|---|---|---|---|---|")
    for label, build in jobs:
        start = time.time()
        model = build()
        total = count_model(model)["total"]
        latency = "-"
        if not args.no_latency:
            binary = total.binary_macs > 0
            fb = convert(model) if binary else convert_float(model)
            kwargs = {"use_indirect_bgemm": True} if binary else {"use_xnnpack": True}
            latency = f"{median_latency_ms(fb, runs=args.runs, warmup=args.warmup, num_threads=args.threads, **kwargs):.1f}"
        print(f"| {label} | {total.params_m:.3f} | {total.ops_g:.3f} | {total.binary_macs / 1e9:.2f} | "
              f"{total.fp_macs / 1e9:.3f} | {latency} |", flush=True)
        print(f"  ({label}: {time.time() - start:.0f} s)", file=sys.stderr, flush=True)
        del model
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
