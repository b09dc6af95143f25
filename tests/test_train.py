"""training/train.py and bhpe_tf.training: configs, every recipe on tiny embedded data, resume after
SIGKILL with the optimizer state, 2-replica MirroredStrategy, and the one-line user errors."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from bhpe_tf.errors import UserError
from bhpe_tf.training import config as C
from bhpe_tf.training.loop import TrainingDiverged, WorkdirMismatch, train

REPO = Path(__file__).resolve().parents[1]
TRAIN = [sys.executable, str(REPO / "training" / "train.py")]

# Tiny HRNet-family / Hand4Whole-family sizes: graphs of the real structure, seconds per step on CPU.
TINY_HEATMAP = ["data.input_wh=[32, 32]", "data.val_samples=4", "train.batch_size=2", "train.val_batch_size=4",
                "train.steps_per_epoch=2", "train.checkpoint_every=1", "train.log_every=1",
                "model.kwargs.width=4", "model.kwargs.stage_modules=[1, 1, 1]", "model.kwargs.num_blocks=1",
                "data.sigma=1.0"]
TINY_MESH = ["data.input_wh=[64, 64]", "data.val_samples=1", "train.batch_size=1", "train.val_batch_size=1",
             "train.steps_per_epoch=1", "train.checkpoint_every=1", "train.log_every=1"]
MESH_KWARGS = {"hand_shape": [32, 32], "face_shape": [32, 32], "encoder_width": 4, "head_channels": 8,
               "boxnet_channels": 8}


def tiny(name, extra=()):
    config = C.load_config(name)
    if C.task_of(config) == "keypoints_2d":
        overrides = list(TINY_HEATMAP)
        if config.get("teacher"):
            config["teacher"]["kwargs"] = {"width": 4, "stage_modules": [1, 1, 1], "num_blocks": 1}
    else:
        overrides = list(TINY_MESH)
        config["model"]["kwargs"].update(MESH_KWARGS)
        if config.get("teacher"):
            config["teacher"]["kwargs"] = dict(MESH_KWARGS)
    config["init_from"] = None
    if config.get("teacher"):
        config["teacher"]["checkpoint"] = None
    return C.apply_overrides(config, overrides + list(extra))


def run_cli(args, **kw):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    return subprocess.run(TRAIN + args, capture_output=True, text=True, env=env, cwd=REPO, timeout=600, **kw)


# ------------------------------------------------------------------------------------------- configs
def test_every_config_loads_and_validates():
    names = C.config_names()
    expected = {"hrnet_w32_coco", "hrnet_w32_mpii", "bihrnet_coco_stage1", "bihrnet_coco", "bihrnet_mpii_stage1",
                "bihrnet_mpii", "hand4whole", "binaryhpe_bidrn", "bihrnet_demo"} | {
        f"binaryhpe_{m}" for m in ("bnn", "xnor", "dorefa", "bireal", "reactnet", "recu", "fda")}
    assert expected <= set(names)
    for name in names:
        C.validate(C.load_config(name))
    hrnet = C.load_config("hrnet_w32_coco")
    assert hrnet["optimizer"] == {"name": "adam", "lr": 1e-3, "milestones": [170, 200], "gamma": 0.1}
    assert hrnet["train"]["epochs"] == 210 and hrnet["train"]["batch_size"] == 32
    h4w = C.load_config("hand4whole")
    assert h4w["optimizer"]["lr"] == 1e-4 and h4w["optimizer"]["milestones"] == [4, 6]
    assert h4w["train"]["epochs"] == 7 and h4w["train"]["batch_size"] == 24
    stage2 = C.load_config("bihrnet_coco")
    assert stage2["stage"] == "binary" and stage2["init_from"] and stage2["teacher"]["model"] == "hrnet_w32"


def test_overrides_parse_values_and_reject_typos_with_close_matches():
    config = C.apply_overrides(C.load_config("bihrnet_demo"), ["optimizer.lr=1e-4", "data.input_wh=[32, 32]",
                                                                "teacher=none"])
    assert config["optimizer"]["lr"] == 1e-4 and config["data"]["input_wh"] == [32, 32]
    with pytest.raises(C.ConfigError, match=r"optimizer\.lrr.*did you mean optimizer\.lr"):
        C.apply_overrides(config, ["optimizer.lrr=3"])
    with pytest.raises(C.ConfigError, match="did you mean bihrnet_demo"):
        C.load_config("bihrnet_dem")


def test_stage_method_drops_only_the_weight_quantizer():
    from bhpe_tf.training.tasks import stage_method

    method = stage_method("bidrn", "binary_activations")
    assert method.weight_quantizer() is None and method.activation_quantizer() is not None
    assert stage_method("bidrn", "binary").weight_quantizer() is not None


# -------------------------------------------------------------------------------- every recipe runs
def test_two_stage_distillation_chain_trains_and_checkpoints(tmp_path):
    """HRNet teacher -> BiHRNet stage 1 (binary activations, real weights, KL to the frozen teacher loaded
    from its workdir) -> stage 2 (fully binary) initialised from stage 1; each writes checkpoints."""
    quiet = dict(progress=False, log=lambda *a: None)
    out = train(tiny("hrnet_w32_mpii"), workdir=tmp_path / "teacher", steps=1, **quiet)
    assert out["final_step"] == 1 and (tmp_path / "teacher" / "best.keras").is_file()
    tf.keras.backend.clear_session()
    stage1 = tiny("bihrnet_mpii_stage1")
    stage1["teacher"]["checkpoint"] = str(tmp_path / "teacher")
    out = train(stage1, workdir=tmp_path / "stage1", steps=2, **quiet)
    assert out["final_step"] == 2 and np.isfinite(out["last_loss"])
    assert tf.train.latest_checkpoint(str(tmp_path / "stage1" / "checkpoints")).endswith("ckpt-2")
    assert list((tmp_path / "stage1" / "tensorboard").iterdir())
    tf.keras.backend.clear_session()
    stage2 = tiny("bihrnet_mpii")
    stage2["init_from"] = str(tmp_path / "stage1")
    reader = tf.train.load_checkpoint(str(tmp_path / "stage1" / "checkpoints"))
    seen = {}

    def capture(model, **_):
        seen["weights"] = {v.name: v.numpy() for v in model.trainable_variables}

    out = train(stage2, workdir=tmp_path / "stage2", steps=1, on_restore=capture, **quiet)
    assert out["resumed_from"] is None and out["final_step"] == 1
    # provenance (model cards, infer): the embedded synthetic data, and the stage it started from
    from bhpe_tf import provenance

    record = provenance.for_checkpoint(tmp_path / "stage2" / "best.keras")
    assert record["kind"] == "synthetic" and record["details"]["init_from"]["kind"] == "synthetic"
    assert provenance.synthetic_only(record)
    stored = [reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
              if k.startswith("model/") and "OPTIMIZER_SLOT" not in k]
    matched = sum(any(w.shape == t.shape and np.array_equal(w, t) for t in stored) for w in seen["weights"].values())
    assert matched == len(seen["weights"])  # every stage-2 weight starts from stage 1


def test_mesh_recipe_trains_and_checkpoints(tmp_path):
    out = train(tiny("binaryhpe_bidrn"), workdir=tmp_path, steps=1, progress=False, log=lambda *a: None)
    assert out["final_step"] == 1 and np.isfinite(out["last_loss"]) and np.isfinite(out["metrics"]["mpjpe_body_mm"])
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-1")
    assert (tmp_path / "best.keras").is_file()


@pytest.mark.skipif(not os.environ.get("BHPE_TRAIN_ALL_RECIPES"),
                    reason="every recipe one step each takes ~20 min on 2 CPU cores; set BHPE_TRAIN_ALL_RECIPES=1")
@pytest.mark.timeout(3600)
def test_every_recipe_takes_a_step(tmp_path):
    for name in C.config_names():
        tf.keras.backend.clear_session()
        summary = train(tiny(name), workdir=tmp_path / name, steps=1, progress=False, log=lambda *a: None)
        assert summary["final_step"] == 1 and np.isfinite(summary["last_loss"]), name
        assert tf.train.latest_checkpoint(str(tmp_path / name / "checkpoints")), name


# ------------------------------------------------------------------------------- resume after SIGKILL
def test_resume_after_sigkill_restores_step_and_optimizer(tmp_path):
    workdir = tmp_path / "run"
    args = ["--config", "bihrnet_demo", "--workdir", str(workdir), "--steps", "400", "--noprogress"]
    sets = ["--config.data.input_wh=[32, 32]", "--config.train.batch_size=2", "--config.model.kwargs.width=4",
            "--config.train.checkpoint_every=1", "--config.train.steps_per_epoch=1000"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(TRAIN + args + sets, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 400
        while time.time() < deadline:
            latest = tf.train.latest_checkpoint(str(workdir / "checkpoints"))
            if latest and int(latest.rsplit("-", 1)[1]) >= 3:
                break
            assert proc.poll() is None, "training ended before it could be killed"
            time.sleep(0.2)
        else:
            pytest.fail("no checkpoint within the deadline")
        proc.send_signal(signal.SIGKILL)  # at an arbitrary moment, possibly while saving
    finally:
        proc.wait()
    latest = tf.train.latest_checkpoint(str(workdir / "checkpoints"))
    saved = int(latest.rsplit("-", 1)[1])
    reader = tf.train.load_checkpoint(latest)
    names = reader.get_variable_to_shape_map()
    iter_key = next(k for k in names if k.startswith("optimizer/") and "iter" in k)
    slot_key = next(k for k in names if k.startswith("optimizer/") and k.endswith("VARIABLE_VALUE")
                    and names[k] and "iter" not in k and "learning_rate" not in k)
    seen = {}

    def check(model, optimizer, checkpoint, step):
        seen.update(step=step, iterations=int(optimizer.iterations.numpy()))
        slots = {v.name: v.numpy() for v in optimizer.variables}
        expected = reader.get_tensor(slot_key)
        seen["slot_match"] = any(v.shape == expected.shape and np.array_equal(v, expected) for v in slots.values())

    config = C.apply_overrides(C.load_config("bihrnet_demo"), [s.removeprefix("--config.") for s in sets])
    summary = train(config, workdir=workdir, steps=saved + 1, progress=False, log=lambda *a: None, on_restore=check)
    assert seen["step"] == saved == summary["resumed_from"]
    assert seen["iterations"] == int(reader.get_tensor(iter_key)) == saved
    assert seen["slot_match"]
    assert summary["final_step"] == saved + 1 and summary["samples"] == (saved + 1) * 2


# ---------------------------------------------------------------------------------------- scale-out
def test_two_replica_mirrored_strategy_trains_a_step(tmp_path):
    script = f"""
import bhpe_tf, json, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from bhpe_tf.training import config as C
from bhpe_tf.training.loop import train
config = C.apply_overrides(C.load_config("bihrnet_demo"), {TINY_HEATMAP!r})
seen = {{}}
out = train(config, workdir={str(tmp_path)!r}, strategy="mirrored", steps=1, progress=False,
            log=lambda *a: None)
strategy = tf.distribute.MirroredStrategy()
print(json.dumps({{"replicas": strategy.num_replicas_in_sync, "step": out["final_step"],
                   "samples": out["samples"], "loss": out["last_loss"]}}))
"""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2 and out["step"] == 1
    assert out["samples"] == 4  # global batch = 2 per replica x 2 replicas
    assert np.isfinite(out["loss"])


# -------------------------------------------------------------------------------------- user errors
def test_cli_bad_inputs_are_one_line_nonzero(tmp_path):
    result = run_cli(["--config", "bihrnet_demo", "--workdir", str(tmp_path / "w"), "--data_dir",
                      str(tmp_path / "missing"), "--noprogress"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "missing" in lines[0]
    result = run_cli(["--config", "bihrnet_demo", "--workdir", str(tmp_path / "w"), "--config.optimizer.lrr=1"])
    assert result.returncode == 2 and "did you mean optimizer.lr" in result.stderr and "Traceback" not in result.stderr


def test_checkpoint_of_another_model_is_refused(tmp_path):
    other = tiny("hrnet_w32_coco")
    (tmp_path / "run.json").write_text(json.dumps({"identity": C.identity(other),
                                                    "config_hash": C.identity_hash(other)}))
    with pytest.raises(WorkdirMismatch, match="another model.*model: workdir 'hrnet_w32' vs config 'bihrnet'"):
        train(tiny("bihrnet_demo"), workdir=tmp_path, steps=1, progress=False, log=lambda *a: None)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = tiny("bihrnet_demo", ["train.debug_nan_at_step=3"])
    with pytest.raises(TrainingDiverged, match="ckpt-2") as err:
        train(config, workdir=tmp_path, steps=5, progress=False, log=lambda *a: None)
    assert isinstance(err.value, UserError)
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-2")
    # rerunning without the fault resumes from the good checkpoint
    config["train"]["debug_nan_at_step"] = None
    out = train(config, workdir=tmp_path, steps=3, progress=False, log=lambda *a: None)
    assert out["resumed_from"] == 2 and out["final_step"] == 3
