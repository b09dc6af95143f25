"""Benchmark CLI: a table with every model, runtime and thread count plus ratio columns; json output;
bad files refused in one line; the stock TFLite interpreter's failure on LCE ops explained."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

import bhpe_tf  # noqa: F401
from bhpe_tf.conversion import benchmark as bench
from bhpe_tf.conversion import export as ex
from bhpe_tf.conversion.parity import trained_like_state
from bhpe_tf.errors import InvalidInputError, MissingFileError
from bhpe_tf.runtime import predictors
from bhpe_tf.runtime.card import card_for_tflite

from _tiny_models import tiny_keypoint_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    paths = []
    for method, name in (("bidrn", "binary.tflite"), ("fp", "float.tflite")):
        tf.keras.backend.clear_session()
        tf.keras.utils.set_random_seed(0)
        model = trained_like_state(tiny_keypoint_model(method, input_hw=(32, 32)))
        result = ex.export(model, folder / name, model_name="bihrnet" if method != "fp" else "hrnet_w32",
                           method=method, uint8_input=True)
        paths.append(result.tflite_path)
    return paths


def run_script(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "converters" / "benchmark.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=REPO)


def test_models_are_one_binary_one_float(two_models):
    binary, fp = (p.read_bytes() for p in two_models)
    assert predictors.lce_ops(binary).get("LceBconv2d") == 2
    assert predictors.lce_ops(fp) == {}
    assert card_for_tflite(two_models[1])["converter"]["target"] == "tflite"


def test_cli_table_and_json(two_models):
    binary, fp = two_models
    proc = run_script(binary, fp, "--threads", "1,2", "--runs", "5", "--warmup", "1")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    header = lines[0]
    for column in ("model", "size KiB", "runtime", "threads", "median ms", "p10 ms", "p90 ms", "x latency", "x size"):
        assert column in header
    rows = [line for line in lines[2:] if line.startswith(("binary.tflite", "float.tflite"))]
    # binary: 2 runtimes x 2 thread counts; float: XNNPACK x 2 thread counts
    assert len([r for r in rows if r.startswith("binary")]) == 4
    assert len([r for r in rows if r.startswith("float")]) == 2
    assert {r.split()[2] for r in rows} == {"lce", "lce_indirect_bgemm", "xnnpack"}
    assert "ratios against binary.tflite" in lines[-1]

    proc = run_script(binary, fp, "--threads", "1", "--runs", "3", "--warmup", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["reference"] == str(binary)
    rows = report["rows"]
    assert [r["model"] for r in rows] == [str(binary), str(binary), str(fp)]
    for row in rows:
        assert row["runs"] == 3 and row["threads"] == 1
        assert 0 < row["min_ms"] <= row["p10_ms"] <= row["median_ms"] <= row["p90_ms"] <= row["max_ms"]
    assert min(r["latency_ratio"] for r in rows[:2]) == pytest.approx(1.0)
    assert rows[2]["size_ratio"] == pytest.approx(fp.stat().st_size / binary.stat().st_size)


def test_expect_binary_refuses_float_model_one_line(two_models):
    proc = run_script(two_models[1], "--expect_binary", "--runs", "1")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "no LceBconv2d" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_stock_interpreter_on_lce_model_is_explained(two_models):
    binary, fp = two_models
    with pytest.raises(InvalidInputError, match="LCE's interpreter"):
        predictors.stock_interpreter(binary.read_bytes(), binary)
    predictors.stock_interpreter(fp.read_bytes(), fp)  # a float model opens fine
    rows = bench.benchmark([fp], runs=2, warmup=0, runtimes=["stock"])
    assert rows[0].runtime == "stock" and rows[0].median_ms > 0


def test_bad_files(tmp_path):
    with pytest.raises(MissingFileError):
        bench.benchmark([tmp_path / "none.tflite"])
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(InvalidInputError, match="not a TFLite flatbuffer"):
        bench.benchmark([junk])
    with pytest.raises(InvalidInputError, match="--threads"):
        bench._parse_threads("0")


# --------------------------------------------------------------------------- peer table (bench_deploy)
def test_interleaved_times_go_round_robin():
    calls = []
    runners = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    times = bench.interleaved_times(runners, runs=3, warmup=1)
    assert calls == ["a", "b", "c"] + ["a", "b", "c"] * 3  # warm-up per runner, then rounds over all
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}
    summary = bench.summarize([3.0, 1.0, 2.0])
    assert summary["median_ms"] == 2.0 and summary["min_ms"] == 1.0 and summary["max_ms"] == 3.0
    with pytest.raises(InvalidInputError, match="runs must be"):
        bench.interleaved_times(runners, runs=0, warmup=0)


def test_every_lce_kernel_choice_runs(two_models):
    binary = two_models[0].read_bytes()
    for runtime in bench.ALL_LCE_RUNTIMES:
        bench.invoker(binary, runtime, threads=1)()
    with pytest.raises(InvalidInputError, match="unknown runtime"):
        bench.invoker(binary, "fastest")


def test_peak_rss_in_a_fresh_process(two_models):
    probe = bench.peak_rss(two_models[0], "lce_indirect_bgemm")
    assert probe["peak_rss_kib"] >= probe["baseline_rss_kib"] > 0


def test_machine_limits_c_and_numpy():
    from bhpe_tf.conversion import limits

    for force_numpy in (False, True):
        lim = limits.measure_limits(1, seconds=0.01, force_numpy=force_numpy)
        assert lim.binary_macs_per_s > 0 and lim.fp32_macs_per_s > 0 and lim.int8_macs_per_s > 0
        assert lim.method == "numpy fallback" if force_numpy else lim.method in ("numpy fallback",
                                                                                  "C, cc -O3 -march=native")
    assert "usable cores" in limits.cpu_name()


def test_bench_deploy_smoke(tmp_path):
    """The peer table at a tiny size: FP32, INT8 PTQ and BiHRNet rows, the INT8 agreement, the limit share."""
    out = tmp_path / "deploy.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_deploy.py"), "--reduced",
                           "--input_hw", "32x32", "--runs", "1", "--warmup", "0", "--threads", "1",
                           "--lce_runtimes", "lce_indirect_bgemm,reference", "--norss", "--crops", "synthetic",
                           "--json", str(out)], capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert [(r["runtime"], r["other_kind"]) for r in report["rows"]] == [
        ("xnnpack", "fp32"), ("xnnpack", "int8"), ("lce_indirect_bgemm", "fp32"), ("reference", "fp32")]
    fp32, int8, binary = report["rows"][0], report["rows"][1], report["rows"][2]
    assert int8["size_bytes"] < fp32["size_bytes"] and binary["binary_macs"] > 0 == fp32["binary_macs"]
    assert all(0 < r["limit_fraction"] for r in report["rows"])
    assert 0 <= report["int8_agreement"]["argmax_equal"] <= report["int8_agreement"]["within_2px"] <= 1
    assert "| limit % |" in proc.stdout and "BiHRNet / INT8" in proc.stdout


def test_bench_deploy_bad_runtime_one_line():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_deploy.py"), "--lce_runtimes", "turbo"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "unknown LCE runtime" in lines[0], proc.stderr[-2000:]


# --------------------------------------------------------------------------- bench_multi_worker
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_bench_multi_worker_stops_its_trainers_when_killed(signum):
    """SIGTERM / Ctrl-C to the benchmark while a row trains: it exits and the trainer processes it started are
    gone (reaped), not left training."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    bench = subprocess.Popen([sys.executable, str(REPO / "benchmarks" / "bench_multi_worker.py"), "--steps",
                              "100000"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                             cwd=REPO, start_new_session=True,
                             # a pytest-xdist worker ignores SIGINT and children inherit SIG_IGN: start it as
                             # a terminal would, so Ctrl-C is a KeyboardInterrupt in it
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = bench.stdout.readline()
        assert line.startswith("started 1 trainer process(es): pids "), line
        pids = [int(p) for p in line.split("pids ")[1].split()]
        bench.send_signal(signum)
        assert bench.wait(timeout=60) != 0
    finally:
        if bench.poll() is None:
            os.killpg(bench.pid, signal.SIGKILL)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# --------------------------------------------------------------------------- bench_training
def test_bench_training_smoke():
    """Reduced BiHRNet + its teacher: a step row with images/s, the trainer-feed row and a real-data pipeline row;
    a bad flag value is one line."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    script = str(REPO / "benchmarks" / "bench_training.py")
    proc = subprocess.run([sys.executable, script, "--reduced", "--models", "bihrnet", "--steps", "1", "--warmup", "1",
                           "--pipeline_parallel", "1", "--pipeline_batches", "1"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| bihrnet") or line.startswith("| COCO")]
    assert len(rows) == 3, proc.stdout
    step = rows[0].split("|")
    assert "teacher hrnet_w32" in step[1] and step[2].strip() == "float32" and float(step[7]) > 0, rows[0]
    assert "trainer feed" in rows[1] and float(rows[1].split("|")[7]) > 0
    assert "map parallelism 1" in rows[2] and float(rows[2].split("|")[7]) > 0
    assert "load average at start" in proc.stdout
    bad = subprocess.run([sys.executable, script, "--precision", "float8"], capture_output=True, text=True,
                         timeout=120, env=env, cwd=REPO)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: --precision: unknown float8")
