"""Training images/s of one trainer process against a two-worker ``multi_worker`` cluster on this machine.

    .venv/bin/python benchmarks/bench_multi_worker.py [--config bihrnet_demo] [--steps 60] [--workers 2]

Both rows run ``training/train.py --config CONFIG --noprogress`` on the embedded synthetic data with
the config's per-worker batch; the cluster row starts ``--workers`` processes on localhost with
``TF_CONFIG`` (:mod:`bhpe_tf.training.cluster`), so the global batch grows with the workers. The rate
is the median of the trainer's own ``steps/s`` log lines after the first (which includes tracing),
times the global batch. On one machine the workers share its cores: the ratio shows the collective
all-reduce's overhead, not a speed-up; on N machines the same command with ``TF_CONFIG`` set by hand
on each is the scale-out (training/README.md).
"""
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from absl import flags

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bhpe_tf import cli  # noqa: E402
from bhpe_tf.training.cluster import exit_on_sigterm, start_local_workers, stop_workers  # noqa: E402

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """This script's flags on ``flag_values`` (bhpe_tf.cli.run defines them)."""
    flags.DEFINE_string("config", "bihrnet_demo", "training config (a name of bhpe_tf/configs)", flag_values=flag_values)
    flags.DEFINE_integer("steps", 60, "training steps per row", flag_values=flag_values)
    flags.DEFINE_integer("log_every", 10, "steps per rate measurement", flag_values=flag_values)
    flags.DEFINE_integer("workers", 2, "processes of the cluster row", flag_values=flag_values)
    flags.DEFINE_integer("timeout", 1800, "seconds before a row is abandoned", flag_values=flag_values)


RATE = re.compile(r"^step \d+/\d+ loss \S+ \(([\d.]+) steps/s\)", re.M)
BATCH = re.compile(r"global batch (\d+) on (\d+) replica")


def measure(log_text: str) -> tuple:
    """(global batch, median steps/s after the first interval) from a trainer's log."""
    batch = BATCH.search(log_text)
    rates = [float(r) for r in RATE.findall(log_text)][1:]
    if batch is None or not rates:
        raise SystemExit("error: the trainer's log has no rate lines:\n" + log_text[-2000:])
    return int(batch.group(1)), statistics.median(rates)


def run_row(workers: int, root: Path) -> tuple:
    command = [sys.executable, str(REPO / "training" / "train.py"), "--config", FLAGS.config, "--workdir",
               str(root / "run"), "--steps", str(FLAGS.steps), "--noprogress",
               f"--config.train.log_every={FLAGS.log_every}", "--config.train.validate_at_start=false"]
    procs = []
    try:  # from the first start on: however this ends (Ctrl-C, SIGTERM, timeout), no trainer is left running
        if workers == 1:
            with open(root / "worker0.log", "w") as log:
                procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO))
        else:
            procs = start_local_workers(command + ["--strategy", "multi_worker"], workers=workers, log_dir=root,
                                        cwd=REPO)
        print(f"started {workers} trainer process(es): pids {' '.join(str(p.pid) for p in procs)}", flush=True)
        codes = [proc.wait(timeout=FLAGS.timeout) for proc in procs]
    except subprocess.TimeoutExpired:
        raise SystemExit(f"error: the {workers}-process row ran past --timeout {FLAGS.timeout} s (stopped)") from None
    finally:
        stop_workers(procs)
    text = (root / "worker0.log").read_text()
    if any(codes):
        raise SystemExit(f"error: a worker exited with {codes}:\n" + text[-2000:])
    return measure(text)


def main(argv):
    del argv
    exit_on_sigterm()  # a killed benchmark stops its trainer processes (run_row's finally)
    rows = []
    for workers in (1, FLAGS.workers):
        with tempfile.TemporaryDirectory() as tmp:
            batch, rate = run_row(workers, Path(tmp))
        rows.append((workers, batch, rate, rate * batch))
    print(f"\n{FLAGS.config}, {FLAGS.steps} steps per row, median of the trainer's steps/s after the first interval")
    print("| processes | global batch | steps/s | images/s | vs 1 process |")
    print("|---|---|---|---|---|")
    for workers, batch, rate, images in rows:
        print(f"| {workers} | {batch} | {rate:.3f} | {images:.1f} | {images / rows[0][3]:.2f} |")


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
