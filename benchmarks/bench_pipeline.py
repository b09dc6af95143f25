"""Augmented 256x192 crops per second through the ``tf.data`` pipeline (median after warm-up).

Usage: ``python benchmarks/bench_pipeline.py [--repeats 5] [--batches 20] [--batch_size 32]``.
Reads the real COCO samples of ``../shared/data`` (``BHPE_SHARED_DATA`` overrides), repeats the
14 people to make an endless training stream with HRNet COCO augmentation, heatmap targets.
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import bhpe_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from absl import flags

from bhpe_tf import cli
from bhpe_tf.data.coco import load_coco
from bhpe_tf.data.pipeline import PipelineConfig, make_pipeline
from bhpe_tf.data.transforms import AugmentConfig


def shared_data() -> Path:
    env = os.environ.get("BHPE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def crop_rates(*, batch_size: int = 32, batches: int = 20, repeats: int = 5, warmup: int = 5, parallel=None) -> dict:
    """Augmented 256x192 crops/s of :func:`bhpe_tf.data.pipeline.make_pipeline` over the real COCO samples:
    ``rates`` (wall clock, one per timed run), ``cpu_rates`` (per CPU-second of this process), ``cores``,
    load averages before / after, and the pipeline's skip report. ``parallel``: map parallelism (None: AUTOTUNE)."""
    records = load_coco(annotation_file=shared_data() / "coco" / "test_coco.json", min_keypoints=1)
    config = PipelineConfig(input_wh=(192, 256), augment=AugmentConfig.hrnet_coco(),
                            batch_size=batch_size, shuffle=True, repeat=True, drop_remainder=True,
                            num_parallel_calls=parallel)
    pipeline = make_pipeline(records=list(records) * 8, config=config)
    load_before = os.getloadavg()[0]
    it = iter(pipeline.dataset)
    for _ in range(warmup):
        next(it)
    rates, cpu_rates = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(batches):
            batch = next(it)
        _ = batch["image"].numpy()
        crops = batches * batch_size
        rates.append(crops / (time.perf_counter() - start))
        cpu_rates.append(crops / (time.process_time() - cpu_start))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"rates": rates, "cpu_rates": cpu_rates, "cores": cores, "load_before": load_before,
            "load_after": os.getloadavg()[0], "skips": pipeline.skips.report()}


def define_flags(flag_values=flags.FLAGS):
    flags.DEFINE_integer("repeats", 5, "timed runs (median reported)", flag_values=flag_values)
    flags.DEFINE_integer("batches", 20, "batches per timed run", flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 32, "crops per batch", flag_values=flag_values)
    flags.DEFINE_integer("warmup", 5, "batches before timing", flag_values=flag_values)
    flags.DEFINE_integer("parallel", None, "map parallelism (default: AUTOTUNE)", flag_values=flag_values)


def main(argv):
    del argv
    args = flags.FLAGS

    result = crop_rates(batch_size=args.batch_size, batches=args.batches, repeats=args.repeats, warmup=args.warmup,
                        parallel=args.parallel)
    rates, cpu_rates, cores = result["rates"], result["cpu_rates"], result["cores"]
    print(f"cpu cores usable: {cores}, load average before/after: {result['load_before']:.2f} / "
          f"{result['load_after']:.2f}")
    print(f"runs (crops/s): {', '.join(f'{r:.0f}' for r in rates)}")
    print(f"augmented 256x192 crops/s (median of {args.repeats}): {statistics.median(rates):.1f}")
    # CPU time of this process (all threads) per crop: what the cores would give without other load.
    print(f"crops per CPU-second: {statistics.median(cpu_rates):.1f} "
          f"(x {cores} cores = {cores * statistics.median(cpu_rates):.0f}/s on otherwise idle cores)")
    print(result["skips"])
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
