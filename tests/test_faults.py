"""The fault-injection suite: every promise of the README's "What happens when things go wrong" table.

Each test names the table rows it proves (``@promises("F01", ...)``), and
:func:`test_the_readme_table_is_this_suite` checks the table line by line against them: no row
without a test, no test of a promise the table does not make.

The training faults run the real trainer (task, data, loss, optimizer, checkpoints, validation,
exports, CLI) with a few-layer network standing in for HRNet (``_tiny_models.tiny_heatmap_builder``)
so that the many short processes of the SIGKILL test take seconds each; faults are injected at
exact moments by ``_fault_driver.py`` (self-SIGKILL inside TensorFlow's checkpoint write, a
file-size limit) or from outside (SIGKILL at a random time, SIGINT, a full tmpfs).
"""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from bhpe_tf.errors import IgnoredDataWarning, UserError
from bhpe_tf.training import config as C

REPO = Path(__file__).resolve().parents[1]
DRIVER = [sys.executable, str(REPO / "tests" / "_fault_driver.py")]
FAULT_SEED = int(os.environ.get("BHPE_FAULT_SEED", "16"))  # the random moments; any seed must pass

PROMISES: dict = {}


def promises(*ids):
    """Register the README table rows a test proves."""
    def mark(test):
        for row in ids:
            PROMISES.setdefault(row, []).append(test.__name__)
        return test
    return mark


# ------------------------------------------------------------------------------------- helpers
#: The trainer on the stand-in network: 32x32 crops, batch 2, validation (and best.keras) every 3 steps,
#: a checkpoint every step and all of them kept (so every step can be compared).
TINY = ["data.input_wh=[32, 32]", "train.batch_size=2", "train.log_every=1", "data.val_samples=4",
        "train.val_batch_size=4", "train.steps_per_epoch=3", "train.checkpoint_every=1", "train.keep_checkpoints=50",
        "model.method=fp", "loss.name=mse"]
TOTAL_STEPS = 20


def tiny_config(extra=()):
    return C.apply_overrides(C.load_config("hrnet_w32_coco"), TINY + list(extra))


def tiny_args(workdir, *, steps=TOTAL_STEPS, extra=()):
    return ["--config", "hrnet_w32_coco", "--workdir", str(workdir), "--steps", str(steps), "--noprogress"] + [
        f"--config.{item}" for item in TINY + list(extra)]


def env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))


def run_driver(train_args, *, fault="none:0", options=(), timeout=300):
    proc = subprocess.run(DRIVER + list(options) + [fault, "--"] + list(train_args), capture_output=True,
                          text=True, env=env(), cwd=REPO, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def checkpoint_values(prefix) -> dict:
    reader = tf.train.load_checkpoint(str(prefix))
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def assert_same_state(a, b, what):
    va, vb = checkpoint_values(a), checkpoint_values(b)
    assert sorted(va) == sorted(vb), what
    differ = [k for k in va if not np.array_equal(va[k], vb[k])]
    assert not differ, f"{what}: {len(differ)} variables differ, e.g. {differ[:3]}"


def latest_step(workdir) -> int:
    latest = tf.train.latest_checkpoint(str(Path(workdir) / "checkpoints"))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def leftovers(workdir):
    """Temporaries of interrupted writes anywhere in a workdir."""
    from bhpe_tf.fileio import is_temporary_name

    return sorted(str(p.relative_to(workdir)) for p in Path(workdir).rglob("*")
                  if is_temporary_name(p.name) or p.name.endswith("_temp") or ".tempstate" in p.name)


@pytest.fixture
def tiny_model(monkeypatch):
    sys.path.insert(0, str(REPO / "tests"))
    from _tiny_models import use_tiny_heatmap_model

    use_tiny_heatmap_model(monkeypatch)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The uninterrupted run every interrupted one must equal: same config and seed, all checkpoints kept."""
    sys.path.insert(0, str(REPO / "tests"))
    from _tiny_models import use_tiny_heatmap_model

    from bhpe_tf.training.loop import train

    workdir = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as patch:
        use_tiny_heatmap_model(patch)
        tf.keras.backend.clear_session()
        summary = train(tiny_config(), workdir=workdir, steps=TOTAL_STEPS, progress=False, log=lambda *a: None)
    assert summary["final_step"] == TOTAL_STEPS
    return workdir


# ------------------------------------------------------------------------- the README table
def readme_rows():
    text = (REPO / "README.md").read_text()
    section = text.split("## What happens when things go wrong", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"^\|\s*(F\d\d)\s*\|(.+)\|(.+)\|\s*$", line)
        if match:
            rows[match.group(1)] = (match.group(2).strip(), match.group(3).strip())
    return rows


def test_the_readme_table_is_this_suite():
    """Line by line: every row of the README's table is proved by a test here, and nothing else is claimed."""
    rows = readme_rows()
    assert rows, "README has no 'What happens when things go wrong' table"
    assert sorted(rows) == sorted(PROMISES), (f"rows without a test: {sorted(set(rows) - set(PROMISES))}; "
                                              f"tests of no row: {sorted(set(PROMISES) - set(rows))}")
    for row, (case, behaviour) in rows.items():
        assert case and behaviour, row
        for name in PROMISES[row]:
            assert callable(globals().get(name)), f"{row}: {name} is not a test of this module"


# ------------------------------------------------------------------------------- kill anywhere
@promises("F11", "F12")
def test_sigkill_at_random_moments_then_resume_reaches_the_same_weights(tmp_path, reference_run):
    """SIGKILL at 5 moments (inside best.keras and best.json writes, at a random time, between TensorFlow
    writing a checkpoint's shards and merging them, between the merge and the index update), each
    followed by a rerun: every checkpoint a rerun resumes from equals the uninterrupted run's at that
    step, the leftovers of the killed write are removed at the next start, and the final weights,
    optimizer state, data position and best model equal the uninterrupted run's bit for bit."""
    rng = np.random.default_rng(FAULT_SEED)
    workdir = tmp_path / "run"
    late = [f"shards_written:{rng.integers(1, 4)}", f"merged:{rng.integers(1, 4)}"]
    plan = ["keras_written:1", "json_written:1", "random"] + [late[i] for i in rng.permutation(2)]
    leftover_of = {"keras_written": r"\.best\.keras\.tmp-", "json_written": r"\.best\.json\.tmp-",
                   "shards_written": r"ckpt-\d+_temp", "merged": r"ckpt-\d+\.(index|data)"}
    kills, expect_removed = [], None
    for fault in plan + ["none:0"]:
        before = latest_step(workdir)
        log_file = tmp_path / f"log{len(kills)}.txt"
        with open(log_file, "w") as log:
            proc = subprocess.Popen(DRIVER + ["--tiny", "none:0" if fault == "random" else fault, "--"]
                                    + tiny_args(workdir), stdout=log, stderr=subprocess.STDOUT, env=env(), cwd=REPO)
            try:
                if fault == "random":  # from outside, at a random moment after a random step of this process
                    deadline, after = time.time() + 240, before + int(rng.integers(1, 6))
                    while f"step {after}/{TOTAL_STEPS} " not in log_file.read_text():
                        assert proc.poll() is None and time.time() < deadline, log_file.read_text()[-2000:]
                        time.sleep(0.01)
                    time.sleep(rng.uniform(0.0, 0.3))
                    proc.send_signal(signal.SIGKILL)
                rc = proc.wait(timeout=300)
            finally:
                if proc.poll() is None:
                    proc.kill()
        output = log_file.read_text()
        context = f"fault {fault} (BHPE_FAULT_SEED={FAULT_SEED}, from step {before}):\n{output[-3000:]}"
        if expect_removed:
            assert re.search(r"removed \d+ leftover\(s\) of an interrupted write: .*" + expect_removed, output), context
        if fault == "none:0":
            assert rc == 0, context
            break
        assert rc == -signal.SIGKILL, context
        if fault != "random":
            assert f"FAULT {fault}" in output, context
        step = latest_step(workdir)
        kills.append((fault, step))
        if step:
            assert_same_state(tf.train.latest_checkpoint(str(workdir / "checkpoints")),
                              reference_run / "checkpoints" / f"ckpt-{step}", f"after {fault}: ckpt-{step}")
        kind = fault.split(":")[0]
        expect_removed = leftover_of.get(kind)
    assert len(kills) == 5 and all(step < TOTAL_STEPS for _, step in kills), kills
    assert_same_state(workdir / "checkpoints" / f"ckpt-{TOTAL_STEPS}",
                      reference_run / "checkpoints" / f"ckpt-{TOTAL_STEPS}", "final state")
    assert json.loads((workdir / "best.json").read_text()) == json.loads((reference_run / "best.json").read_text())
    for name in ("best.keras", "final.keras"):
        assert tf.keras.models.load_model(workdir / name, compile=False).count_params() > 0
    assert leftovers(workdir) == []


# -------------------------------------------------------------------------------- data faults
def corrupt_coco(root, bad, shared_data):
    """A COCO-layout dataset of the 12 labelled people of the shared sample, each on its own image file,
    with ``bad = {split: {person: kind}}`` (missing, not a file, empty, truncated, corrupt)."""
    src = shared_data / "coco"
    gt = json.loads((src / "test_coco.json").read_text())
    images = {im["id"]: im for im in gt["images"]}
    people = [a for a in gt["annotations"] if a["num_keypoints"] > 0]
    entries, anns = [], []
    for i, ann in enumerate(people):
        entries.append(dict(images[ann["image_id"]], id=1000 + i, file_name=f"{i:03d}.jpg"))
        anns.append(dict(ann, image_id=1000 + i))
    for split in ("train", "val"):
        folder = root / f"{split}2017"
        folder.mkdir(parents=True)
        for i, ann in enumerate(people):
            data, dst, kind = (src / images[ann["image_id"]]["file_name"]).read_bytes(), folder / f"{i:03d}.jpg", \
                bad.get(split, {}).get(i)
            if kind == "missing":
                continue
            if kind == "not a file":
                dst.mkdir()
                continue
            dst.write_bytes({"truncated": data[: len(data) // 2], "empty": b"",
                             "corrupt": bytes(np.random.default_rng(i).integers(0, 256, 5000, dtype=np.uint8))}
                            .get(kind, data))
        (root / "annotations").mkdir(exist_ok=True)
        (root / "annotations" / f"person_keypoints_{split}2017.json").write_text(json.dumps(
            {"images": entries, "annotations": anns, "categories": gt["categories"]}))
    return root


TRAIN_BAD = {0: "truncated", 3: "truncated", 5: "empty", 7: "missing", 9: "not a file", 11: "corrupt"}


@promises("F01", "F02")
def test_unreadable_images_are_counted_skips_never_replacements(tmp_path, shared_data, tiny_model):
    """12 people, 6 unreadable training images (2 truncated JPEGs, empty, missing, a folder, random bytes) and
    2 unreadable validation images: one epoch reads each record once, skips exactly those 6 (by reason, in the
    progress line and summary.json), trains on the other 6 only; validation runs on the fixed 10 usable."""
    from bhpe_tf.training.loop import train

    data = corrupt_coco(tmp_path / "data", {"train": TRAIN_BAD, "val": {2: "truncated", 4: "missing"}}, shared_data)
    lines = []
    summary = train(tiny_config(["train.max_skip_rate=1.0", "data.val_samples=64"]), workdir=tmp_path / "w",
                    data_dir=data, steps=6, progress=False, log=lines.append)
    skips = summary["skips"]
    assert skips["train"]["samples_read"] == 12 and skips["train"]["skipped"] == 6
    assert skips["train"]["by_reason"] == {"truncated": 2, "empty": 1, "missing": 1, "not a file": 1, "corrupt": 1}
    assert {Path(f["file"].split(" ")[0]).name for f in skips["train"]["first"]} <= {
        f"{i:03d}.jpg" for i in TRAIN_BAD}
    assert skips["validation"]["by_reason"] == {"truncated": 1, "missing": 1}
    assert skips["validation"]["validation_samples"] == 10 and skips["validation"]["samples_read"] == 12
    assert json.loads((tmp_path / "w" / "summary.json").read_text())["skips"] == json.loads(json.dumps(skips))
    assert any(line.startswith("step 6/6 ") and "skipped 6 (2 truncated, 1 corrupt, 1 empty, 1 missing, 1 not a file)"
               in line for line in lines), lines
    assert "data.val_samples is 64 but the validation split has 12 records: validating on all 12" in lines
    # a step whose whole batch was unusable made no update: the updates are the batches of the epoch's
    # permutation (RecordStream: default_rng([seed, epoch])) holding at least one usable person
    order = np.random.default_rng([0, 0]).permutation(12).reshape(6, 2)
    updates = sum(any(i not in TRAIN_BAD for i in pair) for pair in order)
    stored = tf.train.load_checkpoint(str(tmp_path / "w" / "checkpoints" / "ckpt-6"))
    iterations = next(stored.get_tensor(k) for k in stored.get_variable_to_shape_map() if "iter" in k)
    assert int(iterations) == updates < 6 and summary["final_step"] == 6 and summary["samples"] == 12


@promises("F03", "F04")
def test_too_many_unusable_samples_stop_the_run_with_one_line(tmp_path, shared_data, tiny_model):
    """Above train.max_skip_rate (default 5 %): the run stops before training on the broken split, one line
    naming the first files; every image unusable is the same line, never a TensorFlow traceback; exit 2."""
    from bhpe_tf.training.loop import train
    from bhpe_tf.training.skips import SkipRateExceeded

    quiet = dict(progress=False, log=lambda *a: None)
    data = corrupt_coco(tmp_path / "val_bad", {"val": {2: "truncated"}}, shared_data)
    with pytest.raises(SkipRateExceeded, match=r"validation data: 1 of 12 samples skipped \(8\.3 % > limit 5 %: "
                                               r"1 truncated\); first: .*val2017/002\.jpg .*\(truncated\)"):
        train(tiny_config(["data.val_samples=64"]), workdir=tmp_path / "w1", data_dir=data, steps=6, **quiet)
    assert not (tmp_path / "w1" / "checkpoints").exists()  # stopped before anything was trained
    every = corrupt_coco(tmp_path / "all_bad", {"train": {i: "corrupt" for i in range(12)}}, shared_data)
    with pytest.raises(SkipRateExceeded, match=r"train data: 12 of 12 samples skipped \(100\.0 % > limit 50 %: "
                                               r"12 corrupt\); first: .*\.jpg \(annotation \d+\) \(corrupt\)"):
        train(tiny_config(["train.max_skip_rate=0.5"]), workdir=tmp_path / "w2", data_dir=every, steps=6, **quiet)
    # the command line: exit 2, one line naming the first files (training data, 6 of 12 broken)
    train_bad = corrupt_coco(tmp_path / "train_bad", {"train": TRAIN_BAD}, shared_data)
    rc, _, err = run_driver(tiny_args(tmp_path / "w3", steps=6) + ["--data_dir", str(train_bad)], options=["--tiny"])
    assert rc == 2 and "Traceback" not in err, err[-2000:]
    assert error_lines(err) == [line for line in err.splitlines() if "samples skipped" in line]
    assert re.match(r"error: train data: 6 of 12 samples skipped \(50\.0 % > limit 5 %: 2 truncated, 1 corrupt, "
                    r"1 empty, 1 missing, 1 not a file\); first: .*\.jpg", error_lines(err)[0]), err[-2000:]


@promises("F05")
def test_one_image_reader_detects_truncation_everywhere(tmp_path, shared_data):
    """A truncated JPEG or PNG is the same ImageReadError ("truncated") in the image reader, the dataset reader,
    the tf.data pipeline (a counted skip) and inference (one line, exit 2)."""
    import cv2

    from bhpe_tf import images
    from bhpe_tf.data import load_coco, read_image
    from bhpe_tf.data.pipeline import PipelineConfig, make_pipeline
    from bhpe_tf.infer import read_image_rgb

    jpeg = (shared_data / "coco" / "000000000785.jpg").read_bytes()
    cut_jpeg = tmp_path / "cut.jpg"
    cut_jpeg.write_bytes(jpeg[: len(jpeg) * 2 // 3])
    ok, png = cv2.imencode(".png", np.zeros((40, 30, 3), np.uint8))
    cut_png = tmp_path / "cut.png"
    cut_png.write_bytes(png.tobytes()[:-20])
    assert cv2.imread(str(cut_jpeg)) is not None  # what OpenCV alone would silently use
    for reader in (images.read_image, read_image, read_image_rgb):
        for path in (cut_jpeg, cut_png):
            with pytest.raises(images.ImageReadError, match="truncated") as err:
                reader(path)
            assert err.value.reason == "truncated" and str(path) in str(err.value)
    records = list(load_coco(annotation_file=shared_data / "coco" / "test_coco.json",
                             image_dir=shared_data / "coco", min_keypoints=1))
    records[0].image_path = str(cut_jpeg)
    pipeline = make_pipeline(records=records[:3], config=PipelineConfig(input_wh=(32, 32), batch_size=None))
    assert len(list(pipeline.dataset)) == 2 and pipeline.skips.counts == {"bad image (ImageReadError)": 1}
    # inference: the model is not even opened, the image is refused first (exit 2, one line)
    Path(str(cut_jpeg) + ".tflite").write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.infer", str(cut_jpeg), "--model", str(cut_jpeg) + ".tflite",
                           "--output_dir", str(tmp_path / "out")], capture_output=True, text=True, env=env(), cwd=REPO,
                          timeout=120)
    assert proc.returncode == 2 and error_lines(proc.stderr) == [
        f"error: {cut_jpeg}: truncated JPEG (no end-of-image marker)"], proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------ settings and resume
@promises("F06", "F07", "F08")
def test_overrides_on_resume_take_effect_and_are_recorded(tmp_path, tiny_model):
    """A NaN loss stops with the last good checkpoint named; rerunning with a lower --config.optimizer.lr (and a new
    batch size) resumes with that learning rate, not the checkpoint's, logs each override and records it with
    its step in run.json; changing train.seed on resume is refused with one line."""
    from bhpe_tf.training.loop import TrainingDiverged, WorkdirMismatch, train

    workdir = tmp_path / "w"
    train(tiny_config(["optimizer.lr=0.002"]), workdir=workdir, steps=2, progress=False, log=lambda *a: None)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 3.*ckpt-2.*Lower the learning rate"):
        train(tiny_config(["optimizer.lr=0.002", "train.debug_nan_at_step=3"]), workdir=workdir, steps=4,
              progress=False, log=lambda *a: None)
    lines, seen = [], {}

    def capture(optimizer, **_):
        seen["lr"] = float(optimizer.learning_rate.numpy())

    summary = train(tiny_config(["optimizer.lr=0.0001", "train.batch_size=4"]), workdir=workdir, steps=3,
                    progress=False, log=lines.append, on_restore=capture)
    assert seen["lr"] == pytest.approx(1e-4) and summary["resumed_from"] == 2
    stored = tf.train.load_checkpoint(str(workdir / "checkpoints" / "ckpt-3"))
    lr_key = next(k for k in stored.get_variable_to_shape_map() if "learning_rate" in k)
    assert float(stored.get_tensor(lr_key)) == pytest.approx(1e-4)
    assert summary["samples"] == 2 * 2 + 4  # two steps of 2, then one of the new batch size 4
    assert "config override from step 2: optimizer.lr = 0.0001 (was 0.002)" in lines
    assert "config override from step 2: train.batch_size = 4 (was 2)" in lines
    run = json.loads((workdir / "run.json").read_text())
    assert {"step": 2, "key": "optimizer.lr", "old": 0.002, "new": 0.0001} in run["overrides"]
    assert {"step": 2, "key": "train.batch_size", "old": 2, "new": 4} in run["overrides"]
    assert run["current_config"]["optimizer"]["lr"] == 1e-4 and run["config"]["optimizer"]["lr"] == 0.002
    with pytest.raises(WorkdirMismatch, match=r"^train\.seed cannot change when resuming .* was trained with 0, "
                                              r"the config says 1\)"):
        train(tiny_config(["optimizer.lr=0.0001", "train.batch_size=4", "train.seed=1"]), workdir=workdir, steps=4,
              progress=False, log=lambda *a: None)


class _Initialised(Exception):
    pass


@promises("F09")
def test_train_seed_seeds_initialisation(tmp_path, monkeypatch):
    """train.seed seeds the initialisation: the same seed gives identical untrained weights (a reduced HRNet-W32,
    built twice in one process, as a rerun would), another seed different ones (the stand-in network)."""
    from bhpe_tf.training.loop import train

    def initial_weights(config, name):
        seen = {}

        def stop(model, **_):
            seen["weights"] = [w.numpy() for w in model.weights]
            raise _Initialised

        tf.keras.backend.clear_session()
        with pytest.raises(_Initialised):
            train(config, workdir=tmp_path / name, steps=1, progress=False, log=lambda *a: None, on_restore=stop)
        return seen["weights"]

    hrnet = tiny_config(["model.kwargs.width=4", "model.kwargs.stage_modules=[1, 1, 1]", "model.kwargs.num_blocks=1"])
    first, again = initial_weights(hrnet, "a"), initial_weights(hrnet, "b")
    assert len(first) == len(again) > 100 and all(np.array_equal(a, b) for a, b in zip(first, again))
    sys.path.insert(0, str(REPO / "tests"))
    from _tiny_models import use_tiny_heatmap_model

    use_tiny_heatmap_model(monkeypatch)
    zero, one = initial_weights(tiny_config(), "c"), initial_weights(tiny_config(["train.seed=1"]), "d")
    assert all(np.array_equal(a, b) for a, b in zip(zero, initial_weights(tiny_config(), "e")))
    assert any(not np.array_equal(a, b) for a, b in zip(zero, one) if a.size > 1)


@promises("F10")
def test_bad_config_values_are_one_line(tmp_path):
    """log_every / val_batch_size / keep_checkpoints / val_samples of 0, a skip rate outside [0, 1] and a
    model.kwargs typo are one line each (the CLI: exit 2, no traceback), before anything is built."""
    base = C.load_config("bihrnet_demo")
    cases = {"train.log_every=0": r"train\.log_every must be a positive integer, got 0",
             "train.val_batch_size=0": r"train\.val_batch_size must be a positive integer, got 0",
             "train.keep_checkpoints=0": r"train\.keep_checkpoints must be a positive integer, got 0",
             "data.val_samples=0": r"data\.val_samples must be a positive integer .*got 0",
             "train.max_skip_rate=5": r"train\.max_skip_rate must be a fraction in \[0, 1\]",
             "model.kwargs.widht=8": r"model\.kwargs\.widht: bihrnet has no option 'widht'; did you mean width\?"}
    for override, message in cases.items():
        with pytest.raises(C.ConfigError, match=message):
            C.validate(C.apply_overrides(C.load_config("bihrnet_demo"), [override]))
    C.validate(base)
    (tmp_path / "a_file").write_text("")
    from bhpe_tf.training.loop import train

    with pytest.raises(UserError, match=r"--workdir .*a_file is a file, not a folder"):
        train(tiny_config(), workdir=tmp_path / "a_file" / "run", steps=1, progress=False, log=lambda *a: None)
    proc = subprocess.run([sys.executable, str(REPO / "training" / "train.py"), "--config", "bihrnet_demo",
                           "--workdir", str(tmp_path / "w"), "--config.model.kwargs.widht=8"], capture_output=True,
                          text=True, env=env(), cwd=REPO, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(error_lines(proc.stderr)) == 1 and "did you mean width" in error_lines(proc.stderr)[0]


# ---------------------------------------------------------------------------- the machine
def _can_mount_tmpfs() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=1m none $d"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@promises("F13")
def test_disk_full_names_the_path_and_keeps_the_last_good_checkpoint(tmp_path, reference_run):
    """The disk fills after checkpoint 4 (a 4 MiB tmpfs filled by another file; where no tmpfs can be mounted,
    a file-size limit): one line naming the file, what it needed and what is free, exit 2; the last good
    checkpoint is intact and listed, nothing partial is left; after space is freed the same command resumes
    and ends with the weights of the uninterrupted run."""
    out = tmp_path / "out"
    out.mkdir()
    args = " ".join(f"'{a}'" for a in tiny_args("$MNT/run"))
    if _can_mount_tmpfs():
        script = f"""
MNT={tmp_path}/mnt; mkdir -p $MNT && mount -t tmpfs -o size=4m none $MNT || exit 99
{' '.join(DRIVER)} --tiny none:0 -- {args.replace("'$MNT/run'", "$MNT/run")} > {out}/log1 2>&1 &
PID=$!
while [ ! -f $MNT/run/checkpoints/ckpt-4.index ] && kill -0 $PID 2>/dev/null; do sleep 0.02; done
dd if=/dev/zero of=$MNT/filler bs=64k 2>/dev/null
wait $PID; echo $? > {out}/rc1
cp -a $MNT/run {out}/after_failure
rm -f $MNT/filler
{' '.join(DRIVER)} --tiny none:0 -- {args.replace("'$MNT/run'", "$MNT/run")} > {out}/log2 2>&1; echo $? > {out}/rc2
cp -a $MNT/run {out}/after_rerun
"""
        proc = subprocess.run(["unshare", "-rm", "bash", "-c", script], env=env(), cwd=REPO, timeout=600,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        first, second = (out / "log1").read_text(), (out / "log2").read_text()
        rc1, rc2 = int((out / "rc1").read_text()), int((out / "rc2").read_text())
        failed, rerun = out / "after_failure", out / "after_rerun"
        mount = f"{tmp_path}/mnt/run/"
        assert re.search(r"^error: disk full writing " + re.escape(mount) + r"\S+ \((needs about [\d.]+ \w+, )?"
                         r"[\d.]+ \w+ free\)\. ", first, re.M), first[-2000:]
    else:  # no user namespaces here: writes beyond a size limit fail with EFBIG after checkpoint 4
        workdir = tmp_path / "run"
        rc1, _, err = run_driver(tiny_args(workdir), options=["--tiny", "--fsize_after_saves=4:20000"])
        first = err
        failed = tmp_path / "after_failure"
        shutil.copytree(workdir, failed)
        rc2, second, err2 = run_driver(tiny_args(workdir), options=["--tiny"])
        second += err2
        rerun = workdir
        assert re.search(r"^error: file too large for the file system's limit writing " + re.escape(str(workdir)),
                         first, re.M), first[-2000:]
    assert rc1 == 2 and "Traceback" not in first, first[-3000:]
    assert len(error_lines(first)) == 1
    good = latest_step(failed)
    assert good >= 4
    assert "The last good checkpoint is " in first and (
        f"run/checkpoints/ckpt-{good}. Free space and rerun the same command to resume from it" in first), first
    assert_same_state(failed / "checkpoints" / f"ckpt-{good}", reference_run / "checkpoints" / f"ckpt-{good}",
                      "last good checkpoint")
    assert not [p for p in (failed / "checkpoints").iterdir() if re.match(rf"ckpt-{good + 1}\b", p.name)]
    assert rc2 == 0 and "resuming from " in second and f"(step {good}," in second, second[-3000:]
    assert_same_state(rerun / "checkpoints" / f"ckpt-{TOTAL_STEPS}",
                      reference_run / "checkpoints" / f"ckpt-{TOTAL_STEPS}", "final state after the rerun")
    assert leftovers(rerun) == []


@promises("F14")
def test_mesh_training_exits_on_interrupt_without_hanging(tmp_path):
    """Ctrl-C (SIGINT) while the mesh trainer's tf.data pipeline renders SMPL-X samples in its threads: one
    'interrupted' line and exit 130 within seconds, no hang at interpreter shutdown and no abort (rc 134)."""
    args = ["--config", "binaryhpe_bidrn", "--workdir", str(tmp_path / "w"), "--steps", "40", "--noprogress",
            "--config.train.log_every=1",
            "--config.data.input_wh=[64, 64]", "--config.train.batch_size=1", "--config.data.val_samples=1",
            "--config.model.kwargs.hand_shape=[32, 32]", "--config.model.kwargs.face_shape=[32, 32]",
            "--config.model.kwargs.encoder_width=4", "--config.model.kwargs.head_channels=8",
            "--config.model.kwargs.boxnet_channels=8", "--config.teacher=none", "--config.init_from=none"]
    log_file = tmp_path / "log.txt"
    with open(log_file, "w") as log:
        # A pytest-xdist worker ignores SIGINT and its children inherit SIG_IGN, with which Python installs
        # no KeyboardInterrupt handler (the test then saw the run finish all its steps): the trainer is
        # started the way a terminal starts it, with SIGINT at its default.
        proc = subprocess.Popen([sys.executable, str(REPO / "training" / "train.py")] + args, stdout=log,
                                stderr=subprocess.STDOUT, env=env(), cwd=REPO,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            deadline = time.time() + 400
            # After the first step: the pipeline's threads are producing the next samples (SMPL-X in TensorFlow).
            while "step 1/40" not in log_file.read_text():
                assert proc.poll() is None and time.time() < deadline, log_file.read_text()[-3000:]
                time.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            started = time.time()
            rc = proc.wait(timeout=120)
            took = time.time() - started
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log_file.read_text()
    assert rc == 130, output[-3000:]
    assert output.rstrip().splitlines()[-1] == "interrupted" and "Traceback" not in output, output[-3000:]
    assert took < 60


@promises("F15")
def test_a_second_trainer_on_the_same_workdir_is_refused(tmp_path, tiny_model):
    """Two trainers on one workdir: the second is refused with one line naming the first one's pid."""
    from bhpe_tf.training.loop import train
    from bhpe_tf.training.workdir import WorkdirBusy, WorkdirLock

    (tmp_path / "w").mkdir()
    with WorkdirLock(tmp_path / "w"):
        with pytest.raises(WorkdirBusy, match=rf"workdir .*w is in use by another trainer \(pid {os.getpid()}\)"):
            train(tiny_config(), workdir=tmp_path / "w", steps=1, progress=False, log=lambda *a: None)


@promises("F16")
def test_written_files_get_the_umask_mode(tmp_path, tiny_model):
    """Files written atomically get 0o666 minus the umask (0644 under umask 022, 0600 under 077), like any
    other file, never mkstemp's 0600; the trainer's outputs too."""
    from bhpe_tf.fileio import atomic_write_text
    from bhpe_tf.training.loop import train

    previous = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
        os.umask(0o077)
        atomic_write_text(tmp_path / "b.json", "{}")
        assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600
        os.umask(0o002)
        train(tiny_config(), workdir=tmp_path / "w", steps=3, progress=False, log=lambda *a: None)
        for name in ("run.json", "best.json", "best.keras", "final.keras", "summary.json"):
            assert stat.S_IMODE((tmp_path / "w" / name).stat().st_mode) == 0o664, name
    finally:
        os.umask(previous)


# ----------------------------------------------------------------------------- ground truth
@promises("F17", "F18")
def test_coco_ground_truth_checks(tmp_path, shared_data):
    """COCO: NaN / inf and far-off-image keypoints are counted reader skips and, in evaluation, ignored
    keypoints with one warning (ground truth as predictions still scores AP 1.0); duplicate image or
    annotation ids, an image without file_name, string keypoints or boxes and 'annotations' not a list are
    one line naming the file and record."""
    from bhpe_tf.data import DataError, load_coco
    from bhpe_tf.metrics import coco_keypoint_eval

    gt = json.loads((shared_data / "coco" / "test_coco.json").read_text())

    def write(data, name="ann.json"):
        (tmp_path / name).write_text(json.dumps(data))
        return tmp_path / name

    bad = json.loads(json.dumps(gt))
    bad["annotations"][0]["keypoints"][0] = 640 * 100  # nose 100 image widths to the right
    bad["annotations"][1]["keypoints"][3] = float("inf")
    records = load_coco(annotation_file=write(bad), image_dir=shared_data / "coco", min_keypoints=1)
    assert len(records) == 10 and records.skips.counts == {"keypoints far outside the image": 1,
                                                           "NaN or inf coordinates": 1, "too few keypoints": 2}
    labelled = [a for a in gt["annotations"] if a["num_keypoints"] > 0]
    predictions = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
                   for a in labelled]
    with pytest.warns(IgnoredDataWarning, match=r"ignoring 2 ground-truth keypoint\(s\) with NaN / inf or "
                                                r"far-off-image coordinates"):
        stats = coco_keypoint_eval(predictions, annotations=bad)
    assert stats["AP"] == pytest.approx(1.0)  # the other keypoints of those two people still score
    with warnings.catch_warnings():
        warnings.simplefilter("error", IgnoredDataWarning)
        assert coco_keypoint_eval(predictions, annotations=gt)["AP"] == pytest.approx(1.0)

    def refused(data, message):
        with pytest.raises(DataError, match=message) as err:
            load_coco(annotation_file=write(data), image_dir=shared_data / "coco")
        assert "\n" not in str(err.value) and "ann.json" in str(err.value)

    dup = json.loads(json.dumps(gt))
    dup["images"].append(dict(dup["images"][0], file_name="other.jpg"))
    refused(dup, r"duplicate image id 785 \(000000000785\.jpg and other\.jpg\)")
    with pytest.raises(DataError, match="duplicate image id 785"):
        coco_keypoint_eval(predictions, annotations=dup)
    dup = json.loads(json.dumps(gt))
    dup["annotations"][1]["id"] = dup["annotations"][0]["id"]
    refused(dup, rf"duplicate annotation id {gt['annotations'][0]['id']} \(#0 and #1\)")
    nameless = json.loads(json.dumps(gt))
    del nameless["images"][2]["file_name"]
    refused(nameless, r"images\[2\] \(id 196141\): image entry without 'file_name'")
    strings = json.loads(json.dumps(gt))
    strings["annotations"][0]["keypoints"] = ["a"] * 51
    refused(strings, r"annotation id 442619 \(#0\): 'keypoints' is not a list of numbers")
    strings = json.loads(json.dumps(gt))
    strings["annotations"][0]["bbox"] = "10 20 30 40"
    refused(strings, r"annotation id 442619 \(#0\): 'bbox' is not a list of numbers")
    refused(dict(gt, annotations={"0": gt["annotations"][0]}), r"'annotations' must be a list, got dict")


@promises("F19")
def test_mpii_and_h36m_nan_ground_truth(tmp_path, shared_data):
    """MPII: NaN ground-truth joints are ignored like unannotated ones with one warning line (Ankle stays what
    the definition gives without them, not halved). Human3.6M: NaN ground truth is ignored with a warning
    (no 'SVD did not converge'); NaN predictions are one line naming the file and the frame; exit 2."""
    from scipy.io import loadmat, savemat

    mat = loadmat(str(shared_data / "mpii_val" / "detections_our_format.mat"))
    gt, pred = mat["pos_gt_src"].transpose(2, 0, 1).copy(), mat["pos_pred_src"].transpose(2, 0, 1)
    visible = mat["jnt_missing"].T == 0
    ankles = np.flatnonzero(visible[:, 0])[:500]  # right ankle of 500 people
    gt[ankles, 0] = np.nan
    savemat(str(tmp_path / "gt.mat"), {"pos_gt_src": gt.transpose(1, 2, 0), "jnt_missing": mat["jnt_missing"],
                                       "headboxes_src": mat["headboxes_src"]})
    savemat(str(tmp_path / "pred.mat"), {"pos_pred_src": pred.transpose(1, 2, 0)})
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.evaluate", "--dataset", "mpii", "--predictions",
                           str(tmp_path / "pred.mat"), "--annotations", str(tmp_path / "gt.mat")],
                          capture_output=True, text=True, env=env(), cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "ignoring 500 ground-truth joint(s) with NaN / inf coordinates" in warning[0]
    # reference from the definition: the 500 joints are not annotated, everything else as before
    hb = mat["headboxes_src"].transpose(2, 0, 1)
    used = visible.copy()
    used[ankles, 0] = False
    ok = np.linalg.norm(pred - mat["pos_gt_src"].transpose(2, 0, 1), axis=2) <= 0.5 * 0.6 * np.linalg.norm(
        hb[:, 1] - hb[:, 0], axis=1)[:, None]
    per_joint = 100 * (ok & used).sum(0) / used.sum(0)
    as_misses = 100 * (ok & used).sum(0) / visible.sum(0)  # what scoring them as misses would report
    lines = proc.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if "Ankle" in line and "|" in line)
    table = dict(zip([c.strip() for c in lines[head].strip("| ").split("|")],
                     [float(c) for c in lines[head + 1].strip("| ").split("|")]))
    assert table["Ankle"] == pytest.approx((per_joint[0] + per_joint[5]) / 2, abs=1e-3)
    assert table["Ankle"] > (as_misses[0] + as_misses[5]) / 2 + 5

    npz = shared_data / "h36m" / "test_h36m_body3d.npz"
    data = dict(np.load(npz))
    data["S"] = data["S"].copy()
    data["S"][1, 5, 0] = np.nan
    np.savez(tmp_path / "gt.npz", **data)
    np.savez(tmp_path / "pred_ok.npz", joints_3d=np.nan_to_num(data["S"][..., :3]))
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.evaluate", "--dataset", "h36m", "--predictions",
                           str(tmp_path / "pred_ok.npz"), "--annotations", str(tmp_path / "gt.npz")],
                          capture_output=True, text=True, env=env(), cwd=REPO, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "warning: ignoring 1 ground-truth joint(s) with NaN / inf coordinates" in proc.stderr
    assert all(float(v) == 0.0 for v in proc.stdout.splitlines()[-1].strip("| ").split("|"))
    nan_pred = np.load(npz)["S"][..., :3].copy()
    nan_pred[2] = np.nan
    np.savez(tmp_path / "pred_nan.npz", joints_3d=nan_pred)
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.evaluate", "--dataset", "h36m", "--predictions",
                           str(tmp_path / "pred_nan.npz"), "--annotations", str(npz)],
                          capture_output=True, text=True, env=env(), cwd=REPO, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert error_lines(proc.stderr) == [f"error: {tmp_path / 'pred_nan.npz'}: joints_3d has NaN or inf in 1 frame(s), "
                                        f"first frame #2 ({data['imgname'][2]}): the metric is undefined"]


@promises("F20")
def test_damaged_smplx_model_files_are_one_line(tmp_path):
    """A truncated SMPL-X .npz (BadZipFile) and NaN in the template are one line naming the file (and the key)."""
    from bhpe_tf.body.model_file import BodyModelFileError, load_smplx_model
    from bhpe_tf.body.synthetic_model import write_synthetic_smplx

    good = write_synthetic_smplx(tmp_path / "SMPLX_NEUTRAL.npz")
    data = Path(good).read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(BodyModelFileError, match=r"cut\.npz: not a readable \.npz archive \(BadZipFile"):
        load_smplx_model(tmp_path / "cut.npz")
    arrays = dict(np.load(good))
    arrays["v_template"] = arrays["v_template"].copy()
    arrays["v_template"][7, 1] = np.nan
    np.savez(tmp_path / "nan.npz", **arrays)
    with pytest.raises(BodyModelFileError, match=r"nan\.npz: key 'v_template' has 1 NaN / inf values"):
        load_smplx_model(tmp_path / "nan.npz")
    assert load_smplx_model(good).num_vertices == 10475


# --------------------------------------------------------------------------------- inference
class _StandInPredictor:
    """Zero heatmaps for any crop: what infer_images needs of a model (spec + __call__)."""

    def __init__(self):
        from bhpe_tf.conversion.model_card import keypoints_block
        from bhpe_tf.runtime import CropSpec, ModelSpec

        self.spec = ModelSpec(task="keypoints_2d", input_hw=(64, 48), input_dtype="uint8",
                              normalization={"scale": 1.0, "mean": [0, 0, 0], "std": [1, 1, 1]},
                              crop=CropSpec(aspect_ratio=0.75).to_dict(),
                              outputs=[{"name": "heatmaps", "index": 0, "shape": [1, 16, 12, 17], "kind": "heatmaps"}],
                              heatmap={"stride": 4, "decoding": "argmax_quarter_offset"}, keypoints=keypoints_block(17))

    def __call__(self, crops):
        return [np.zeros((len(crops), 16, 12, 17), np.float32)]


@promises("F21")
def test_inference_output_names_are_unique_per_input(tmp_path, shared_data):
    """Inputs with the same stem (a/x.jpg, b/x.jpg, b/x.png) get distinct outputs mirroring their paths, a file
    given twice is processed once, and the count reported is the count of files written."""
    from bhpe_tf.infer import infer_images, output_stems

    src = shared_data / "coco" / "000000000785.jpg"
    inputs = [tmp_path / "in" / "a" / "x.jpg", tmp_path / "in" / "b" / "x.jpg", tmp_path / "in" / "b" / "x.png"]
    for path in inputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, path)
    assert output_stems(inputs) == ["a/x", "b/x_jpg", "b/x_png"]
    assert output_stems(inputs[:1] + [tmp_path / "in" / "b" / "y.jpg"]) == ["x", "y"]
    lines = []
    out = infer_images(inputs + [inputs[0]], _StandInPredictor(), output_dir=tmp_path / "out", log=lines.append)
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*_overlay.png"))
    assert written == ["a/x_overlay.png", "b/x_jpg_overlay.png", "b/x_png_overlay.png"]
    assert len(out.overlays) == 3 == len(written) and len(out.results) == 3
    assert f"{inputs[0]}: given more than once; processed once" in lines


@promises("F22")
def test_inference_bad_output_dir_and_stale_card_are_one_line(tmp_path, shared_data):
    """--output_dir that is a file, and a model card whose input shape differs from its flatbuffer: one line
    each, exit 2, before any output is written."""
    from bhpe_tf.conversion import export as ex
    from bhpe_tf.errors import InvalidInputError
    from bhpe_tf.runtime import TFLitePredictor

    image = shared_data / "coco" / "000000000785.jpg"
    (tmp_path / "model.tflite").write_bytes(b"")
    (tmp_path / "a_file").write_text("")
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.infer", str(image), "--model", str(tmp_path / "model.tflite"),
                           "--output_dir", str(tmp_path / "a_file")], capture_output=True, text=True, env=env(),
                          cwd=REPO, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert error_lines(proc.stderr) == [f"error: --output_dir {tmp_path / 'a_file'}: {tmp_path / 'a_file'} is a "
                                        "file, not a folder"]
    sys.path.insert(0, str(REPO / "tests"))
    from _tiny_models import tiny_keypoint_model

    tf.keras.utils.set_random_seed(0)
    result = ex.export(tiny_keypoint_model("fp"), tmp_path / "fp.tflite", model_name="hrnet_w32", method="fp",
                       converter="tflite")
    TFLitePredictor(result.tflite_path)  # the card as written matches
    card_path = tmp_path / "fp.json"
    card = json.loads(card_path.read_text())
    card["input"]["shape"] = [1, 64, 64, 3]
    card_path.write_text(json.dumps(card))
    with pytest.raises(InvalidInputError, match=r"input \[1, 64, 64, 3\] float32 but .*fp\.tflite takes "
                                                r"\[1, 64, 48, 3\] float32; convert again"):
        TFLitePredictor(result.tflite_path)


# ------------------------------------------------------------------------------- several workers
def start_cluster(workdir, logs, *, steps):
    """Two trainer processes on localhost, ``--strategy multi_worker`` (worker 0 is the chief)."""
    from bhpe_tf.training.cluster import start_local_workers

    return start_local_workers(DRIVER + ["--tiny", "none:0", "--"] + tiny_args(workdir, steps=steps)
                               + ["--strategy", "multi_worker"], workers=2, log_dir=logs, env=env(), cwd=REPO)


@promises("F23")
def test_multi_worker_run_agrees_stops_when_a_worker_dies_and_resumes(tmp_path):
    """The ``--strategy multi_worker`` path on two local processes: a killed worker makes the chief stop
    with one line naming the last good checkpoint (no hang); the same command on both resumes and
    finishes; both workers then hold bit-identical state; only the chief writes the workdir."""
    workdir, logs = tmp_path / "run", tmp_path
    steps = 8
    procs = start_cluster(workdir, logs, steps=steps)
    try:
        deadline = time.time() + 600
        while latest_step(workdir) < 2 and time.time() < deadline and procs[0].poll() is None:
            time.sleep(0.5)
        assert latest_step(workdir) >= 2, (logs / "worker0.log").read_text()[-3000:]
        procs[1].kill()
        assert procs[0].wait(timeout=300) == 2, (logs / "worker0.log").read_text()[-3000:]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    chief_log = (logs / "worker0.log").read_text()
    errors = error_lines(chief_log)
    assert len(errors) == 1 and "multi_worker cluster" in errors[0] and "checkpoint" in errors[0], errors
    assert "Traceback" not in chief_log
    stopped_at = latest_step(workdir)
    assert stopped_at < steps

    procs = start_cluster(workdir, logs, steps=steps)
    try:
        rcs = [proc.wait(timeout=600) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert rcs == [0, 0], (logs / "worker0.log").read_text()[-3000:] + (logs / "worker1.log").read_text()[-3000:]
    assert "resuming from" in (logs / "worker0.log").read_text().split("error:", 1)[1]
    worker_dir = workdir / ".worker1"
    assert latest_step(workdir) == latest_step(worker_dir) == steps
    assert_same_state(workdir / "checkpoints" / f"ckpt-{steps}", worker_dir / "checkpoints" / f"ckpt-{steps}",
                      "chief and worker after the resumed run")
    for name in ("tensorboard", "summary.json", "best.json", "run.json", "final.keras"):
        assert (workdir / name).exists(), name
    for name in ("tensorboard", "summary.json", "best.json"):  # the worker's own saves only
        assert not (worker_dir / name).exists(), name
