"""A reduced-size BinaryHPE-BiDRN trained with --data_dir on the Hand4Whole-layout fixtures (3D/2D mix,
Hand4Whole's targets and augmentation, EHF validation): the loss falls, the model evaluated with
``evaluate --model`` (Keras, the CLI, and its LCE .tflite) beats its untrained self on the training frames."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from _hand4whole_fixtures import fixture_tree
from bhpe_tf.evaluate_model import TFLITE_TOLERANCE_MM, evaluate_model
from bhpe_tf.training import config as C

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 36  # 4 epochs of the fixture mix (18 samples, batch 2)
TINY = {"hand_shape": [32, 32], "face_shape": [32, 32], "encoder_width": 4, "head_channels": 8,
        "boxnet_channels": 8, "resnet50_blocks": [1, 1, 1, 1], "resnet18_blocks": [1, 1, 1, 1]}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from bhpe_tf.training.loop import train

    root, model_dir, _ = fixture_tree()
    workdir = tmp_path_factory.mktemp("h4w_run")
    config = C.load_config("binaryhpe_bidrn")
    config.update(teacher=None, init_from=None)
    config["model"]["kwargs"] = dict(TINY)
    C.apply_overrides(config, [f"data.smplx_model={model_dir}", "data.input_wh=[64, 64]", "data.val_samples=3",
                               "train.batch_size=2", "train.val_batch_size=3", "train.log_every=1",
                               "train.checkpoint_every=100", "optimizer.lr=3e-3", "optimizer.milestones=[]"])
    lines = []
    # A fixed initialisation: at this size (width 4, one block per stage) and a few dozen steps the
    # outcome depends on it; seed 0 measures 525.8 mm EHF MPVPE untrained (README).
    tf.keras.utils.set_random_seed(0)

    before = {}

    def evaluate_untrained(model, **_):  # the starting point, evaluated like the trained model below
        from bhpe_tf.evaluate_model import keras_mesh_model

        before["result"] = evaluate_model(model=keras_mesh_model(model, method="bidrn", source="untrained"),
                                          benchmark="ehf", annotations=root / "EHF", smplx_model=model_dir)

    summary = train(config, workdir=workdir, data_dir=root, steps=STEPS, progress=False, log=lines.append,
                    on_restore=evaluate_untrained)
    losses = [float(m.group(1)) for m in (re.search(r"^step \d+/\d+ loss (\S+)", line) for line in lines) if m]
    tf.keras.backend.clear_session()
    return {"workdir": workdir, "summary": summary, "losses": losses, "lines": lines, "root": root,
            "model_dir": model_dir, "before": before["result"]}


def test_training_on_the_fixtures_lowers_the_loss_and_reports_mpvpe(run):
    summary, losses = run["summary"], run["losses"]
    assert summary["final_step"] == STEPS and len(losses) == STEPS
    # Batches of 2 make single steps noisy (1.4-5.3, by sample): the first epoch (9 steps, all 18 samples)
    # against the last one. The data and the first steps are deterministic, the later steps are not
    # (multi-threaded float reductions): six runs of seed 0 on 2 cores gave x0.68-0.81 (first epoch
    # 3.24-3.30, last 2.20-2.62), so the bound leaves room for that spread; an untrained or diverging
    # run stays near x1 or above.
    assert np.mean(losses[-9:]) < 0.88 * np.mean(losses[:9]), losses
    assert summary["metric"] == "mpvpe_mm" and np.isfinite(summary["metrics"]["mpvpe_mm"])
    assert "pa_mpvpe_mm" in summary["metrics"]
    text = "\n".join(run["lines"])
    assert "length-equalised to 18 samples per epoch" in text and "validation: EHF 3 people" in text
    assert "MSCOCO: 1 of 5 people have no NeuralAnnot SMPL-X fit" in text
    assert "Human36M train: 5 people; Human36M train frames: skipped 1 (1 no NeuralAnnot SMPL-X entry)" in text
    assert re.search(r"epoch 4 step 36: val mpvpe_mm = [\d.]+", text)


@pytest.fixture(scope="module")
def evaluated(run, tmp_path_factory):
    """The EHF columns of the trained run opened as ``--model WORKDIR`` and of its LCE conversion."""
    from bhpe_tf.conversion.export import export
    from bhpe_tf.evaluate_model import open_model

    kw = dict(benchmark="ehf", annotations=run["root"] / "EHF", smplx_model=run["model_dir"])
    model = open_model(run["workdir"])
    after = evaluate_model(model=model, **kw)
    tflite = tmp_path_factory.mktemp("h4w_lce") / "bidrn.tflite"
    exported = export(model.keras_model, tflite, model_name="binaryhpe", method="bidrn", uint8_input=True)
    lce = evaluate_model(model=tflite, **kw)
    return {"before": run["before"], "after": after, "lce": lce, "tflite": tflite, "export": exported}


def test_evaluated_model_beats_its_untrained_self_on_the_training_frames(run, evaluated):
    before, after = evaluated["before"], evaluated["after"]
    assert after.count == before.count == 3
    # 525.8 mm untrained (seed 0, the same on every run); trained, the later steps are not bit-identical
    # (multi-threaded reductions on 2 cores): 482 and 492 mm in two runs on a loaded machine, below 473 in
    # others. The bound leaves room for that spread; an untrained or diverging run stays at 526 or above.
    assert after.columns["MPVPE All"] < 0.95 * before.columns["MPVPE All"], (before.columns, after.columns)
    # the trainer's last validation is the same metric on the same EHF frames and crops
    assert after.columns["MPVPE All"] == pytest.approx(run["summary"]["metrics"]["mpvpe_mm"], rel=1e-4)
    assert after.paper["MPVPE All"] == 118.3  # BiDRN's row of the paper's Table 1


def test_lce_model_gives_the_keras_numbers_and_the_cli_prints_them(run, evaluated):
    exported, keras, lce = evaluated["export"], evaluated["after"].columns, evaluated["lce"].columns
    assert exported.verification.census.float_fallbacks == [] and exported.verification.binary_layers > 0
    assert evaluated["lce"].model.kind == "tflite" and evaluated["lce"].model.method == "bidrn"
    for column, value in keras.items():
        assert abs(lce[column] - value) <= TFLITE_TOLERANCE_MM, (column, value, lce[column])
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.evaluate", "--dataset", "ehf", "--model",
                           str(evaluated["tflite"]), "--annotations", str(run["root"] / "EHF"),
                           "--smplx_model", str(run["model_dir"])], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "MPVPE All" in line)

    def cells(line):
        return [c.strip() for c in line.split("|")[1:-1]]

    assert cells(lines[header])[1:] == list(keras) and cells(lines[header + 1])[0] == "ours"
    np.testing.assert_allclose([float(c) for c in cells(lines[header + 1])[1:]], [lce[n] for n in keras], atol=0.051)
    paper = cells(lines[header + 2])
    assert paper[0].startswith("paper (bidrn") and float(paper[1]) == 118.3 and paper[-1] == "-"
