"""Every deployment peer of BiHRNet in one table, one run: FP32 and INT8 HRNet-W32, BiHRNet per LCE kernel.

    python benchmarks/bench_deploy.py [--input_hw 256x192] [--threads 1,2] [--runs 7] [--warmup 2]
        [--lce_runtimes lce,lce_indirect_bgemm,...] [--crops coco|synthetic] [--rss] [--json out.json]

Rows (each at every ``--threads``):

* HRNet-W32 FP32, stock TFLite converter, XNNPACK (LCE's interpreter with ``use_xnnpack``);
* HRNet-W32 INT8: full-integer post-training quantisation (``bhpe_tf.conversion.convert_int8``,
  int8 weights and activations, float32 in/out), calibrated on person crops of the shared COCO samples
  (``../shared/data`` or ``$BHPE_SHARED_DATA``; ``--crops synthetic`` or no data: random crops), XNNPACK;
  its agreement with FP32 (heatmap argmax per joint) on held-out crops is printed;
* BiHRNet (LCE converter) with every kernel choice of LCE 0.16's interpreter
  (``bhpe_tf.conversion.benchmark.ALL_LCE_RUNTIMES``: im2col + bgemm, indirect bgemm, each with
  and without XNNPACK for the float ops, and the reference bconv).

Timing: ``--warmup`` untimed runs per row, then ``--runs`` repetitions round-robin over all rows
(``interleaved_times``), so load from other jobs hits every row alike; median, p10, p90. Peak RSS:
one fresh process per row (``benchmark.peak_rss``). MACs from :mod:`bhpe_tf.counting`; the machine
limit from :mod:`bhpe_tf.conversion.limits` (C micro-benchmark), per thread count. ``limit %``
= (binary MACs / binary limit + other MACs / their limit) / measured time: the share of the CPU's
arithmetic peak the row reaches (FP32 rows against the FMA limit, INT8 against the int8 one).

Weights: random initialisation with BatchNormalization statistics made non-degenerate
(``trained_like_state``); latency, size and memory do not depend on the values, the INT8 agreement
does (a trained model's activations calibrate differently), so it measures quantisation noise on
these weights, not a trained model's accuracy change.
"""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bhpe_tf  # noqa: E402,F401  (Keras 2 before TensorFlow)
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from bhpe_tf import cli  # noqa: E402
from bhpe_tf.errors import InvalidInputError  # noqa: E402

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """This script's flags on ``flag_values`` (bhpe_tf.cli.run defines them)."""
    flags.DEFINE_string("input_hw", "256x192", "HxW of the crops", flag_values=flag_values)
    flags.DEFINE_string("threads", "1,2", "comma-separated interpreter thread counts", flag_values=flag_values)
    flags.DEFINE_integer("runs", 7, "timed repetitions per row (interleaved; median reported)",
                         flag_values=flag_values)
    flags.DEFINE_integer("warmup", 2, "untimed runs per row first", flag_values=flag_values)
    flags.DEFINE_string("lce_runtimes", ",".join(("lce", "lce_indirect_bgemm", "lce_xnnpack",
                                                   "lce_indirect_bgemm_xnnpack", "reference")),
                        "BiHRNet's LCE kernel choices", flag_values=flag_values)
    flags.DEFINE_enum("crops", "coco", ["coco", "synthetic"], "calibration / agreement crops",
                      flag_values=flag_values)
    flags.DEFINE_integer("calibration", 0, "calibration crops (0: every other crop of the data, the rest held out)",
                         flag_values=flag_values)
    flags.DEFINE_bool("rss", True, "measure peak RSS per row (one process each)", flag_values=flag_values)
    flags.DEFINE_bool("limits", True, "measure the CPU's binary / FMA / int8 limit and report the share per row",
                      flag_values=flag_values)
    flags.DEFINE_bool("reduced", False, "tiny networks (width 4, one block per stage) for a smoke run",
                      flag_values=flag_values)
    flags.DEFINE_string("out_dir", None, "keep the .tflite files here (default: a temporary folder)",
                        flag_values=flag_values)
    flags.DEFINE_string("json", None, "also write the rows as JSON here", flag_values=flag_values)


REDUCED = dict(width=4, stage_modules=(1, 1, 1), num_blocks=1)


def shared_data() -> Path:
    env = os.environ.get("BHPE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def person_crops(height, width, *, source):
    """Normalised (ImageNet) test-time crops of the shared COCO people, or random ones; and the source used."""
    annotation = shared_data() / "coco" / "test_coco.json"
    if source == "coco" and annotation.exists():
        from bhpe_tf.data.coco import load_coco
        from bhpe_tf.data.pipeline import PipelineConfig, process_record

        config = PipelineConfig(input_wh=(width, height), augment=None)
        records = load_coco(annotation_file=annotation, min_keypoints=1)
        crops = [process_record(r, config=config)["image"][None].astype(np.float32) for r in records]
        return crops, f"{len(crops)} person crops of {annotation}"
    rng = np.random.default_rng(0)
    crops = [rng.normal(0, 1, (1, height, width, 3)).astype(np.float32) for _ in range(14)]
    return crops, "14 synthetic N(0,1) crops" + ("" if source == "synthetic" else f" ({annotation} not found)")


def argmax_joints(heatmaps):
    """(J, 2) integer (y, x) of each joint's heatmap maximum, per crop."""
    h, w, j = heatmaps.shape[-3:]
    flat = heatmaps.reshape(-1, h * w, j).argmax(axis=1)
    return np.stack([flat // w, flat % w], axis=-1)


def int8_agreement(fp_flatbuffer, int8_flatbuffer, crops):
    """Heatmap-argmax agreement of INT8 with FP32 on ``crops`` (exact, within 1 and 2 heatmap pixels)."""
    from bhpe_tf.conversion import predict

    fp = np.concatenate([predict(fp_flatbuffer, c)[0] for c in crops])
    q = np.concatenate([predict(int8_flatbuffer, c)[0] for c in crops])
    dist = np.abs(argmax_joints(fp) - argmax_joints(q)).max(axis=-1)
    return {"crops": len(crops), "joints": int(dist.size), "argmax_equal": float(np.mean(dist == 0)),
            "within_1px": float(np.mean(dist <= 1)), "within_2px": float(np.mean(dist <= 2)),
            "max_abs_heatmap_error_rel": float(np.abs(fp - q).max() / max(np.abs(fp).max(), 1e-12))}


def build_models(height, width, reduced):
    from bhpe_tf.conversion import convert_float, trained_like_state
    from bhpe_tf.conversion.benchmark import convert_binary_checked
    from bhpe_tf.counting import count_model
    from bhpe_tf.models.hrnet import build_bihrnet, build_hrnet_w32
    import tensorflow as tf

    options = REDUCED if reduced else {}
    shape = (height, width, 3)
    tf.keras.utils.set_random_seed(0)
    fp = trained_like_state(build_hrnet_w32(input_shape=shape, **options))
    bi = trained_like_state(build_bihrnet(input_shape=shape, **options))
    binary_fb = convert_binary_checked(bi, strict=True)
    t0 = time.time()
    fp_fb = convert_float(fp)
    print(f"[{time.time() - t0:.0f}s] {fp.name} FP32 converted", flush=True)
    return fp, fp_fb, bi, binary_fb, count_model(fp)["total"], count_model(bi)["total"]


def rows_table(rows, threads):
    lines = ["| model | runtime | threads | median ms (p10-p90) | file MiB | peak RSS MiB (+model) | "
             "binary GMAC | other GMAC | binary GMAC/s | other GMAC/s | limit % |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        rss = (f"{r['peak_rss_kib'] / 1024:.0f} (+{(r['peak_rss_kib'] - r['baseline_rss_kib']) / 1024:.0f})"
               if "peak_rss_kib" in r else "-")
        limit = f"{100 * r['limit_fraction']:.1f}" if "limit_fraction" in r else "-"
        lines.append(f"| {r['model']} | {r['runtime']} | {r['threads']} | {r['median_ms']:.1f} "
                     f"({r['p10_ms']:.1f}-{r['p90_ms']:.1f}) | {r['size_bytes'] / 2 ** 20:.2f} | {rss} | "
                     f"{r['binary_macs'] / 1e9:.2f} | {r['other_macs'] / 1e9:.2f} ({r['other_kind']}) | "
                     f"{r['binary_macs'] / r['median_ms'] / 1e6:.1f} | {r['other_macs'] / r['median_ms'] / 1e6:.1f} | "
                     f"{limit} |")
    return "\n".join(lines)


def main(argv):
    from bhpe_tf.conversion import benchmark as bench
    from bhpe_tf.conversion import convert_int8, limits
    from bhpe_tf.cli import parse_hw

    del argv
    size = parse_hw(FLAGS.input_hw)
    if size is None:
        raise InvalidInputError("--input_hw must look like 256x192")
    height, width = size
    threads = bench._parse_threads(FLAGS.threads)
    lce_runtimes = [r.strip() for r in FLAGS.lce_runtimes.split(",") if r.strip()]
    for runtime in lce_runtimes:
        if runtime not in bench.ALL_LCE_RUNTIMES:
            raise InvalidInputError(f"unknown LCE runtime {runtime!r}; valid: {', '.join(bench.ALL_LCE_RUNTIMES)}")
    machine = limits.cpu_name()
    print(f"machine: {machine}, load average {os.getloadavg()[0]:.2f}", flush=True)
    # The limits are measured first, while nothing else of this process runs: measured after the timing,
    # the interpreters' worker threads (still spinning or not yet collected) took one of the 2 cores and
    # the 2-thread limit came out at half (1277 vs 4917 G binary MAC/s idle).
    measured = {n: limits.measure_limits(n) for n in threads} if FLAGS.limits else {}

    fp, fp_fb, bi, binary_fb, fp_count, bi_count = build_models(height, width, FLAGS.reduced)
    crops, source = person_crops(height, width, source=FLAGS.crops)
    if FLAGS.calibration:  # the first N crops calibrate, the rest (or all, when none is left) are held out
        calibration, held_out = crops[:FLAGS.calibration], (crops[FLAGS.calibration:] or crops)
    else:  # every other crop calibrates, the others are held out
        calibration, held_out = crops[::2], crops[1::2]
    t0 = time.time()
    int8_fb = convert_int8(fp, calibration)
    agreement = int8_agreement(fp_fb, int8_fb, held_out)
    print(f"[{time.time() - t0:.0f}s] {fp.name} INT8 (full-integer PTQ, calibrated on {len(calibration)} of {source}); "
          f"vs FP32 on {agreement['crops']} held-out crops ({agreement['joints']} joints): heatmap argmax equal "
          f"{100 * agreement['argmax_equal']:.1f}%, within 1 px {100 * agreement['within_1px']:.1f}%, within 2 px "
          f"{100 * agreement['within_2px']:.1f}%, max |error| {100 * agreement['max_abs_heatmap_error_rel']:.1f}% "
          "of the FP heatmap range", flush=True)

    folder = Path(FLAGS.out_dir) if FLAGS.out_dir else Path(tempfile.mkdtemp(prefix="bench_deploy_"))
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for key, fb in (("fp32", fp_fb), ("int8", int8_fb), ("bihrnet", binary_fb)):
        files[key] = folder / f"{key}_{height}x{width}.tflite"
        files[key].write_bytes(fb)

    specs = []  # (model label, file key, runtime, other MAC kind, count)
    specs.append((f"{fp.name} FP32", "fp32", "xnnpack", "fp32", fp_count))
    specs.append((f"{fp.name} INT8 (PTQ)", "int8", "xnnpack", "int8", fp_count))
    specs += [(f"{bi.name}", "bihrnet", runtime, "fp32", bi_count) for runtime in lce_runtimes]
    runners, meta = {}, {}
    for n in threads:
        for label, key, runtime, kind, count in specs:
            name = (label, runtime, n)
            runners[name] = bench.invoker(files[key].read_bytes(), runtime, threads=n, path=files[key])
            meta[name] = dict(model=label, file=str(files[key]), runtime=runtime, threads=n, other_kind=kind,
                              size_bytes=files[key].stat().st_size, binary_macs=count.binary_macs,
                              other_macs=count.fp_macs)
    t0 = time.time()
    times = bench.interleaved_times(runners, runs=FLAGS.runs, warmup=FLAGS.warmup)
    print(f"[{time.time() - t0:.0f}s] timed {len(runners)} rows x {FLAGS.runs} interleaved runs", flush=True)
    del runners
    rows = [dict(meta[name], runs=FLAGS.runs, **bench.summarize(times[name])) for name in meta]
    if measured:
        for row in rows:
            lim = measured[row["threads"]]
            ideal_s = row["binary_macs"] / lim.binary_macs_per_s + row["other_macs"] / lim.for_kind(row["other_kind"])
            row["limit_fraction"] = ideal_s / (row["median_ms"] / 1e3)
        for n, lim in measured.items():
            print(f"machine limit at {n} thread(s) ({lim.method}): binary {lim.binary_macs_per_s / 1e9:.0f} G MAC/s, "
                  f"FP32 FMA {lim.fp32_macs_per_s / 1e9:.1f} G MAC/s, int8 {lim.int8_macs_per_s / 1e9:.1f} G MAC/s "
                  f"({', '.join(f'{k} {v / 1e9:.0f} G' for k, v in lim.kernels.items())})")
    if FLAGS.rss:
        for row in rows:
            row.update(bench.peak_rss(row["file"], row["runtime"], threads=row["threads"]))
    print(f"\nmachine: {machine}; load average after: {os.getloadavg()[0]:.2f}; median of {FLAGS.runs} interleaved runs "
          f"after {FLAGS.warmup} warm-up; input {height}x{width}{' (reduced networks)' if FLAGS.reduced else ''}")
    print(rows_table(rows, threads))
    best = {}
    for row in rows:
        key = (row["file"], row["threads"])
        best[key] = min(best.get(key, float("inf")), row["median_ms"])
    for n in threads:
        fp_ms, q_ms, b_ms = (best[(str(files[k]), n)] for k in ("fp32", "int8", "bihrnet"))
        print(f"{n} thread(s), fastest runtime each: BiHRNet / FP32 latency {b_ms / fp_ms:.2f}, BiHRNet / INT8 "
              f"{b_ms / q_ms:.2f}, INT8 / FP32 {q_ms / fp_ms:.2f}")
    sizes = {k: files[k].stat().st_size for k in files}
    print(f"file size: BiHRNet / FP32 {sizes['bihrnet'] / sizes['fp32']:.3f}, BiHRNet / INT8 "
          f"{sizes['bihrnet'] / sizes['int8']:.3f}, INT8 / FP32 {sizes['int8'] / sizes['fp32']:.3f}")
    if FLAGS.json:
        Path(FLAGS.json).write_text(json.dumps({"machine": machine, "input_hw": [height, width], "runs": FLAGS.runs,
                                                "warmup": FLAGS.warmup, "reduced": FLAGS.reduced, "crops": source,
                                                "int8_agreement": agreement, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
