"""Latency and size of ``.tflite`` files in LCE's Python interpreter (library of ``converters/benchmark.py``).

Each model runs on a random input of its own shape and dtype: ``warmup`` untimed invocations, then
``runs`` timed ones; the report gives the median and the spread (p10 / p90, min / max) in ms.
Runtimes per model:

* models with LCE ops: LCE's default kernels and ``use_indirect_bgemm=True`` (the faster binary
  GEMM on x86 here; on aarch64 both are LCE's optimised kernels);
* models without LCE ops (full precision): XNNPACK on, as a phone would run them.

Ratios compare every row with the **first** model (its fastest runtime at the same thread count):
latency ratio > 1 means slower than the first model; size ratio = file size / first file size.

x86 numbers are for correctness and relative comparison only: LCE's optimised binary kernels target
aarch64. On a phone use LCE's ``lce_benchmark_model`` binary (from the LCE GitHub release or built
with Bazel: ``bazel build -c opt --config=android_arm64 //larq_compute_engine/tflite/benchmark:lce_benchmark_model``)::

    adb push lce_benchmark_model /data/local/tmp/ && adb shell chmod +x /data/local/tmp/lce_benchmark_model
    adb push bihrnet.tflite /data/local/tmp/
    adb shell /data/local/tmp/lce_benchmark_model --graph=/data/local/tmp/bihrnet.tflite --num_threads=1
"""
from __future__ import annotations

import dataclasses
import json
import os
import statistics
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from bhpe_tf.conversion.census import op_census
from bhpe_tf.errors import InvalidInputError
from bhpe_tf.runtime.predictors import check_binary, lce_interpreter, lce_ops, read_tflite, stock_interpreter

LCE_RUNTIMES = ("lce", "lce_indirect_bgemm")
FP_RUNTIMES = ("xnnpack",)
# Every kernel choice of LCE 0.16's interpreter (use_reference_bconv / use_indirect_bgemm / use_xnnpack).
ALL_LCE_RUNTIMES = ("lce", "lce_indirect_bgemm", "lce_xnnpack", "lce_indirect_bgemm_xnnpack", "reference")
RUNTIME_KWARGS = {
    "lce": {"use_indirect_bgemm": False, "use_xnnpack": False},
    "lce_indirect_bgemm": {"use_indirect_bgemm": True, "use_xnnpack": False},
    "lce_xnnpack": {"use_indirect_bgemm": False, "use_xnnpack": True},
    "lce_indirect_bgemm_xnnpack": {"use_indirect_bgemm": True, "use_xnnpack": True},
    "xnnpack": {"use_indirect_bgemm": False, "use_xnnpack": True},
    # LCE's portable reference LceBconv2d (correctness baseline; float ops on TFLite's builtin kernels)
    "reference": {"use_indirect_bgemm": False, "use_xnnpack": False, "use_reference_bconv": True},
    "stock": None,  # tf.lite.Interpreter (TensorFlow's own runtime, XNNPACK by default); float models only
}


def convert_binary_checked(model, *, strict: bool = True) -> bytes:
    """LCE-convert ``model`` and print its census line (``LceBconv2d`` of the binary convs, float
    fallbacks, seconds). A model that is not fully binary after conversion raises with ``strict``,
    else prints a warning: a benchmark row of a half-float "binary" model would be misleading."""
    import sys

    from bhpe_tf.conversion.lce import binary_layers, convert

    start = time.time()
    flatbuffer = convert(model)
    census = op_census(flatbuffer)
    expected = len(binary_layers(model))
    print(f"[{time.time() - start:.0f}s] {model.name}: {census.lce_bconv2d} LceBconv2d of {expected} binary convs, "
          f"{len(census.float_fallbacks)} float fallbacks", flush=True)
    if census.lce_bconv2d != expected or census.float_fallbacks:
        if strict:
            raise InvalidInputError(f"{model.name} is not fully binary after conversion")
        print("WARNING: the binary model is not fully binary after conversion", file=sys.stderr)
    return flatbuffer


@dataclasses.dataclass
class BenchRow:
    model: str
    size_bytes: int
    binary: bool
    runtime: str
    threads: int
    runs: int
    median_ms: float
    p10_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    latency_ratio: float = float("nan")
    size_ratio: float = float("nan")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _random_input(shape, dtype, rng):
    if np.dtype(dtype) == np.uint8:
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


def time_interpreter(interp, *, runs: int, warmup: int, seed: int = 0) -> List[float]:
    """Milliseconds of ``runs`` invocations after ``warmup`` untimed ones (LCE interpreter)."""
    rng = np.random.default_rng(seed)
    inputs = [_random_input(tuple(shape), dtype, rng) for shape, dtype in zip(interp.input_shapes, interp.input_types)]
    run = interp.interpreter.predict  # the raw wrapper: one invocation, no batching / concat overhead
    for _ in range(warmup):
        run(inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(inputs)
        times.append((time.perf_counter() - start) * 1e3)
    return times


def time_stock_interpreter(interp, *, runs: int, warmup: int, seed: int = 0) -> List[float]:
    """Like :func:`time_interpreter` for a ``tf.lite.Interpreter``."""
    rng = np.random.default_rng(seed)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], _random_input(tuple(detail["shape"]), detail["dtype"], rng))
    for _ in range(warmup):
        interp.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def invoker(flatbuffer: bytes, runtime: str, *, threads: int = 1, path="model", seed: int = 0):
    """A zero-argument callable that runs one inference of ``flatbuffer`` on ``runtime`` (inputs set once)."""
    if runtime not in RUNTIME_KWARGS:
        raise InvalidInputError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIME_KWARGS)}")
    rng = np.random.default_rng(seed)
    if runtime == "stock":
        interp = stock_interpreter(flatbuffer, path, num_threads=int(threads))
        for detail in interp.get_input_details():
            interp.set_tensor(detail["index"], _random_input(tuple(detail["shape"]), detail["dtype"], rng))
        return interp.invoke
    interp = lce_interpreter(flatbuffer, num_threads=int(threads), **RUNTIME_KWARGS[runtime])
    inputs = [_random_input(tuple(shape), dtype, rng) for shape, dtype in zip(interp.input_shapes, interp.input_types)]
    run = interp.interpreter.predict
    return lambda: run(inputs)


def interleaved_times(runners: dict, *, runs: int, warmup: int) -> dict:
    """Milliseconds per key of ``runners`` (name -> zero-argument callable): every runner is warmed up
    ``warmup`` times, then the ``runs`` timed repetitions go round-robin over the runners, so that load
    from other jobs on a shared machine hits every row alike instead of whichever row ran at the time."""
    if runs < 1 or warmup < 0:
        raise InvalidInputError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    for run in runners.values():
        for _ in range(warmup):
            run()
    times = {key: [] for key in runners}
    for _ in range(runs):
        for key, run in runners.items():
            start = time.perf_counter()
            run()
            times[key].append((time.perf_counter() - start) * 1e3)
    return times


def summarize(times: Sequence[float]) -> dict:
    """Median, p10 / p90, min / max of a list of milliseconds."""
    return {"median_ms": float(statistics.median(times)), "p10_ms": _percentile(times, 10),
            "p90_ms": _percentile(times, 90), "min_ms": float(min(times)), "max_ms": float(max(times))}


_RSS_PROBE = """
import json, resource, sys
import bhpe_tf.conversion.benchmark as b

def status_kib(key):
    try:
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None

def reset_peak():
    # Linux >= 4.0: writing 5 to clear_refs resets the peak (VmHWM) to the current RSS, so the peak the
    # model adds is not hidden below TensorFlow's transient import peak.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False

path, runtime, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = b.read_tflite(path)
reset = reset_peak()
before = status_kib("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run = b.invoker(data, runtime, threads=threads, path=path)
for _ in range(2):
    run()
after = status_kib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_rss_kib": after, "baseline_rss_kib": before,
                  "method": "VmHWM after clear_refs" if reset else "ru_maxrss"}))
"""


def peak_rss(path, runtime: str, *, threads: int = 1, timeout: float = 600) -> dict:
    """Peak resident memory of one row, measured in a fresh Python process (KiB).

    ``baseline_rss_kib``: the process's resident memory after its imports (Python + TensorFlow + LCE,
    with the flatbuffer bytes read); ``peak_rss_kib``: its peak resident memory from then on, over
    building the interpreter and two inferences (``VmHWM`` after resetting it through
    ``/proc/self/clear_refs``, so TensorFlow's transient import peak does not hide the model's; where
    that is not possible, ``ru_maxrss``: ``method`` says which). ``peak - baseline`` is what the model
    and its runtime add. A fresh process per row so that no row inherits another's allocations."""
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])  # the checkout, so the probe imports this bhpe_tf
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.run([sys.executable, "-c", _RSS_PROBE, os.fspath(path), runtime, str(int(threads))],
                          capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise InvalidInputError(f"memory probe of {path} ({runtime}) failed: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _percentile(values, q):
    return float(np.percentile(np.asarray(values, np.float64), q))


def benchmark_model(path, *, threads: Sequence[int] = (1,), runs: int = 20, warmup: int = 3,
                    runtimes: Optional[Sequence[str]] = None, expect_binary: bool = False) -> List[BenchRow]:
    """Rows for one ``.tflite`` file: every runtime x thread count."""
    if runs < 1 or warmup < 0:
        raise InvalidInputError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    data = read_tflite(path)
    binary = bool(lce_ops(data))
    if expect_binary:
        check_binary(data, path)
    chosen = list(runtimes) if runtimes else list(LCE_RUNTIMES if binary else FP_RUNTIMES)
    rows = []
    for runtime in chosen:
        if runtime not in RUNTIME_KWARGS:
            raise InvalidInputError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIME_KWARGS)}")
        for n in threads:
            if runtime == "stock":
                times = time_stock_interpreter(stock_interpreter(data, path, num_threads=int(n)), runs=runs,
                                               warmup=warmup)
            else:
                interp = lce_interpreter(data, num_threads=int(n), **RUNTIME_KWARGS[runtime])
                times = time_interpreter(interp, runs=runs, warmup=warmup)
            rows.append(BenchRow(model=os.fspath(path), size_bytes=len(data), binary=binary, runtime=runtime,
                                 threads=int(n), runs=runs, median_ms=float(statistics.median(times)),
                                 p10_ms=_percentile(times, 10), p90_ms=_percentile(times, 90),
                                 min_ms=float(min(times)), max_ms=float(max(times))))
    return rows


def add_ratios(rows: List[BenchRow]) -> List[BenchRow]:
    """Fill ``latency_ratio`` / ``size_ratio`` against the first model (its best runtime per thread count)."""
    if not rows:
        return rows
    first = rows[0].model
    best = {}
    for row in rows:
        if row.model == first:
            best[row.threads] = min(best.get(row.threads, float("inf")), row.median_ms)
    for row in rows:
        reference = best.get(row.threads)
        row.latency_ratio = row.median_ms / reference if reference else float("nan")
        row.size_ratio = row.size_bytes / rows[0].size_bytes
    return rows


def benchmark(paths: Sequence, *, threads: Sequence[int] = (1,), runs: int = 20, warmup: int = 3,
              runtimes: Optional[Sequence[str]] = None, expect_binary: bool = False) -> List[BenchRow]:
    """Benchmark every file (in order) and add the ratios to the first."""
    if not paths:
        raise InvalidInputError("give at least one .tflite file")
    for path in paths:  # fail on a bad file before spending minutes on the others
        data = read_tflite(path)
        if expect_binary:
            check_binary(data, path)
    rows = []
    for path in paths:
        rows.extend(benchmark_model(path, threads=threads, runs=runs, warmup=warmup, runtimes=runtimes,
                                    expect_binary=expect_binary))
    return add_ratios(rows)


def format_table(rows: List[BenchRow]) -> str:
    """A fixed-width text table, one line per model x runtime x threads."""
    headers = ("model", "size KiB", "runtime", "threads", "median ms", "p10 ms", "p90 ms", "min ms", "max ms",
               "x latency", "x size")
    names = [Path(r.model).name for r in rows]
    body = [(name, f"{r.size_bytes / 1024:.1f}", r.runtime, str(r.threads), f"{r.median_ms:.2f}", f"{r.p10_ms:.2f}",
             f"{r.p90_ms:.2f}", f"{r.min_ms:.2f}", f"{r.max_ms:.2f}", f"{r.latency_ratio:.2f}", f"{r.size_ratio:.2f}")
            for name, r in zip(names, rows)]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(headers)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i in (0, 2) else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    lines = [fmt(headers), fmt(["-" * w for w in widths])] + [fmt(line) for line in body]
    lines.append(f"ratios against {names[0] if names else '-'} (its fastest runtime at the same thread count); "
                 "x86 timings: LCE's optimised kernels target aarch64")
    return "\n".join(lines)


def to_json(rows: List[BenchRow]) -> str:
    return json.dumps({"rows": [r.to_dict() for r in rows],
                       "reference": rows[0].model if rows else None}, indent=2)


# --------------------------------------------------------------------------- command line
def define_flags(flag_values=None):
    """The flags of ``bhpe-benchmark`` / ``converters/benchmark.py`` on ``flag_values`` (default ``absl.flags.FLAGS``)."""
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values

    flags.DEFINE_string("threads", "1", "comma-separated thread counts, e.g. 1,2", flag_values=flag_values)
    flags.DEFINE_integer("runs", 20, "timed invocations per model x runtime x threads", flag_values=flag_values)
    flags.DEFINE_integer("warmup", 3, "untimed invocations first", flag_values=flag_values)
    flags.DEFINE_string("runtimes", None, "comma-separated runtimes (lce, lce_indirect_bgemm, xnnpack, reference, stock = "
                        "tf.lite.Interpreter); "
                        "default: lce + lce_indirect_bgemm for LCE models, xnnpack for float models",
                        flag_values=flag_values)
    flags.DEFINE_bool("json", False, "print json instead of the table", flag_values=flag_values)
    flags.DEFINE_bool("expect_binary", False, "fail when a model has no LceBconv2d op", flag_values=flag_values)


def options(**values):
    """The benchmark's options from Python: its flags with their defaults, ``values`` set (for :func:`run_cli`)."""
    from bhpe_tf.cli import flag_values

    return flag_values(define_flags, **values)


def _parse_threads(text) -> List[int]:
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise InvalidInputError(f"--threads must be positive integers like 1,2, got {text!r}")
    return values


def run_cli(argv, flag_values=None):
    """absl main of the benchmark CLI: positional arguments are the ``.tflite`` files."""
    from absl import flags

    f = flags.FLAGS if flag_values is None else flag_values
    paths = argv[1:]
    if not paths:
        raise InvalidInputError("give one or more .tflite files: benchmark.py A.tflite [B.tflite ...]")
    runtimes = [r.strip() for r in f.runtimes.split(",") if r.strip()] if f.runtimes else None
    rows = benchmark(paths, threads=_parse_threads(f.threads), runs=f.runs, warmup=f.warmup, runtimes=runtimes,
                     expect_binary=f.expect_binary)
    print(to_json(rows) if f.json else format_table(rows))
    return rows


def main(argv):
    """absl main (exit status 0; errors are raised and turned into one line by ``user_errors_exit``)."""
    run_cli(argv)
    return 0


USAGE = """Latency (median and spread) and size of .tflite files in LCE's interpreter, with ratios to the first.

    bhpe-benchmark bihrnet.tflite hrnet_w32.tflite --threads 1,2 [--runs 20 --warmup 3] [--json]

LCE models run with LCE's default kernels and with use_indirect_bgemm; float models with XNNPACK.
"""


def run(argv=None):
    """``bhpe-benchmark`` / ``converters/benchmark.py``: :func:`bhpe_tf.cli.run` with :func:`define_flags`."""
    from bhpe_tf import cli

    cli.run(main, define_flags, argv, doc=USAGE)
