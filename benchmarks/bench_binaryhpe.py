"""Latency and file size: BiDRN (BinaryHPE) vs Hand4Whole FP32, converted networks side by side.

    python benchmarks/bench_binaryhpe.py [--threads 1,2] [--runs 3] [--reduced] [--out results.json]

What runs: the convertible network of each model (everything before SMPL-X, ``include_smplx=False``:
encoders, BoxNet, RoI crops, heads; SMPL-X stays on the host for both, so it cancels out), converted
with LCE (:func:`bhpe_tf.conversion.convert`). BiDRN runs in LCE's interpreter with the optimised
binary kernels (``use_indirect_bgemm=True``, XNNPACK off, as the Android app runs it); Hand4Whole
runs as plain FP32 TFLite with the XNNPACK delegate. Latency is the median of ``--runs`` single-image
inferences after one warm-up. Goals (BinaryHPE's claim): BiDRN <= 0.25x latency and <= 1/4 size.

LCE's optimised kernels target aarch64; on x86 the numbers are relative measurements only
(docs/DESIGN.md §10).
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bhpe_tf  # noqa: E402,F401  (Keras 2 before TensorFlow)
from absl import flags  # noqa: E402

from bhpe_tf import cli  # noqa: E402

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """This script's flags on ``flag_values`` (bhpe_tf.cli.run defines them)."""
    flags.DEFINE_string("threads", "1,2", "comma-separated interpreter thread counts", flag_values=flag_values)
    flags.DEFINE_integer("runs", 3, "timed runs per configuration (median reported)", flag_values=flag_values)
    flags.DEFINE_boolean("reduced", False, "benchmark the reduced test-size models instead (smoke run)",
                         flag_values=flag_values)
    flags.DEFINE_string("out", None, "write the results as JSON here", flag_values=flag_values)
    flags.DEFINE_string("save_dir", None, "also write the two .tflite files here", flag_values=flag_values)


REDUCED = dict(input_shape=(128, 128, 3), hand_shape=(64, 64), face_shape=(64, 64), encoder_width=8,
               head_channels=16, boxnet_channels=16, resnet50_blocks=(1, 1, 1, 1), resnet18_blocks=(1, 1, 1, 1))
MODELS = (("bidrn", dict(use_indirect_bgemm=True, use_xnnpack=False)),
          ("fp", dict(use_indirect_bgemm=False, use_xnnpack=True)))


def convert_network(method, options):
    """Build and convert one network; returns (flatbuffer, seconds)."""
    from bhpe_tf.conversion import convert
    from bhpe_tf.models.hand4whole import build_binaryhpe

    start = time.perf_counter()
    model = build_binaryhpe(method=method, include_smplx=False, **options)
    flatbuffer = convert(model)
    return flatbuffer, time.perf_counter() - start, tuple(model.inputs[0].shape[1:])


def latency_ms(flatbuffer, *, threads, runs, **interpreter_options):
    """Median ms over ``runs`` after one warm-up run (allocation, packing), via the converter's timer."""
    from bhpe_tf.runtime import lce_interpreter
    from bhpe_tf.conversion.benchmark import time_interpreter

    interp = lce_interpreter(flatbuffer, num_threads=threads, **interpreter_options)
    return statistics.median(time_interpreter(interp, runs=runs, warmup=1))


def benchmark(*, threads, runs, reduced, save_dir=None):
    from bhpe_tf.conversion import op_census

    options = REDUCED if reduced else {}
    results = {"threads": list(threads), "runs": runs, "reduced": reduced, "models": {}}
    from bhpe_tf.conversion.weight_storage import float16_weights, float_weight_bytes, int8_weights

    converted = []
    for method, runtime in MODELS:
        flatbuffer, seconds, shape = convert_network(method, options)
        converted.append((method, runtime, flatbuffer, seconds))
        if method == "bidrn":  # the same network with its float weights stored as float16 / int8 (weight_storage.py)
            for suffix, store in (("float16", float16_weights), ("int8w", int8_weights)):
                start = time.perf_counter()
                smaller = store(flatbuffer)
                converted.append((f"bidrn_{suffix}", runtime, smaller, seconds + time.perf_counter() - start))
    for method, runtime, flatbuffer, seconds in converted:
        if save_dir:
            os.makedirs(save_dir, exist_ok=True)
            with open(os.path.join(save_dir, f"binaryhpe_{method}{'_reduced' if reduced else ''}.tflite"), "wb") as f:
                f.write(flatbuffer)
        census = op_census(flatbuffer)
        entry = {"size_bytes": len(flatbuffer), "convert_s": round(seconds, 1), "runtime": runtime,
                 "lce_bconv2d": census.lce_bconv2d, "float_fallbacks": len(census.float_fallbacks),
                 "weight_bytes": float_weight_bytes(flatbuffer),
                 "latency_ms": {}}
        for count in threads:
            entry["latency_ms"][str(count)] = round(latency_ms(flatbuffer, threads=count, runs=runs,
                                                               **runtime), 2)
        results["models"][method] = entry
    binary, full = results["models"]["bidrn"], results["models"]["fp"]
    results["size_ratio"] = round(binary["size_bytes"] / full["size_bytes"], 4)
    results["latency_ratio"] = {t: round(binary["latency_ms"][t] / full["latency_ms"][t], 4)
                                for t in binary["latency_ms"]}
    return results


def format_table(results) -> str:
    threads = list(results["models"]["bidrn"]["latency_ms"])
    head = f"{'model':<22}{'size (MiB)':>12}" + "".join(f"{f'{t} thr (ms)':>14}" for t in threads)
    lines = [head]
    names = {"bidrn": "BiDRN (LCE)", "bidrn_float16": "BiDRN (LCE, fp16 w)", "bidrn_int8w": "BiDRN (LCE, int8 w)",
             "fp": "Hand4Whole FP32"}
    for method, entry in results["models"].items():
        lines.append(f"{names[method]:<22}{entry['size_bytes'] / 2**20:>12.2f}"
                     + "".join(f"{entry['latency_ms'][t]:>14.1f}" for t in threads))
    lines.append(f"{'ratio BiDRN/FP':<22}{results['size_ratio']:>12.3f}"
                 + "".join(f"{results['latency_ratio'][t]:>14.3f}" for t in threads))
    lines.append("goals: size ratio <= 0.25, latency ratio <= 0.25")
    return "\n".join(lines)


def main(argv):
    del argv
    threads = [int(t) for t in FLAGS.threads.split(",") if t.strip()]
    results = benchmark(threads=threads, runs=FLAGS.runs, reduced=FLAGS.reduced, save_dir=FLAGS.save_dir)
    print(format_table(results))
    if FLAGS.out:
        with open(FLAGS.out, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
