"""``python -m bhpe_tf.stats``: per-module counts, the --all table, user mistakes as one line.

The full-size paper numbers are asserted in tests/test_binaryhpe.py (one build per method); here
the registry's builders are patched to the reduced model so the CLI is exercised quickly.
"""
import functools
import json
import subprocess
import sys

import pytest

from bhpe_tf import cli, stats
from bhpe_tf.errors import UserError
from bhpe_tf.models import hand4whole as h4w
from bhpe_tf.models.hand4whole import model as h4w_model

REDUCED = dict(input_shape=(128, 128, 3), hand_shape=(64, 64), face_shape=(64, 64), encoder_width=8,
               head_channels=16, boxnet_channels=16, resnet50_blocks=(1, 1, 1, 1), resnet18_blocks=(1, 1, 1, 1))


_BUILT = {}


@pytest.fixture
def reduced_builders(monkeypatch):
    """Registry builders -> reduced models (same graph, tiny), each method built once per session;
    returns the list of models handed out."""
    built = []
    builder = h4w.build_binaryhpe

    @functools.wraps(builder)
    def reduced(**kwargs):
        key = repr(sorted(kwargs.items()))
        if key not in _BUILT:
            _BUILT[key] = builder(**{**kwargs, **REDUCED})
        built.append(_BUILT[key])
        return _BUILT[key]

    # build_hand4whole calls build_binaryhpe through the model module, so it is reduced too.
    monkeypatch.setattr(h4w_model, "build_binaryhpe", reduced)
    return built


def _parsed(*args):
    """The CLI's flags parsed from ``args`` on a fresh FlagValues (stats.main reads ``stats.FLAGS``)."""
    return cli.flag_values(stats.define_flags, ["stats", *args])


def run_main(capsys, monkeypatch, *args):
    monkeypatch.setattr(stats, "FLAGS", _parsed(*args))
    stats.main(["stats"])
    return capsys.readouterr().out


def test_json_counts_per_module(reduced_builders, capsys, monkeypatch):
    out = json.loads(run_main(capsys, monkeypatch, "--model", "binaryhpe", "--method", "bidrn", "--json"))
    assert out["model"] == "binaryhpe" and out["method"] == "bidrn"
    assert out["paper"] == {"params_M": 17.22, "ops_G": 2.5}
    assert set(out["modules"]) == {"body_encoder", "hand_encoder", "face_encoder", "boxnet", "heads", "total"}
    expected = h4w.count_modules(reduced_builders[-1])
    for name, count in expected.items():
        assert out["modules"][name]["binary_params"] == count.binary_params
        assert out["modules"][name]["fp_macs"] == count.fp_macs
        assert out["modules"][name]["params_M"] == round(count.params_m, 4)
    total = out["modules"]["total"]
    assert total["binary_params"] == sum(v["binary_params"] for k, v in out["modules"].items() if k != "total")


def test_table_default_method_and_hand4whole(reduced_builders, capsys, monkeypatch):
    text = run_main(capsys, monkeypatch, "--model", "binaryhpe")
    assert text.startswith("binaryhpe (method bidrn)")
    assert "paper: 17.22 M params, 2.50 G OPs" in text
    for module in ("body_encoder", "hand_encoder", "face_encoder", "boxnet", "heads", "total"):
        assert module in text
    text = run_main(capsys, monkeypatch, "--model", "hand4whole")
    assert "hand4whole (method fp)" in text and "paper: 77.84 M params, 16.85 G OPs" in text


def test_all_methods_table(reduced_builders, capsys, monkeypatch):
    monkeypatch.setattr(stats, "methods_of", lambda model: ("fp", "bidrn"))
    text = run_main(capsys, monkeypatch, "--model", "binaryhpe", "--all")
    lines = text.splitlines()
    assert "Params (M)" in lines[1] and "paper" in lines[1]
    assert lines[2].split()[0] == "fp" and lines[2].split()[2] == "77.84"
    assert lines[3].split()[0] == "bidrn" and lines[3].split()[2] == "17.22" and lines[3].split()[4] == "2.5"
    rows = json.loads(run_main(capsys, monkeypatch, "--model", "binaryhpe", "--all", "--json"))
    assert [row["method"] for row in rows] == ["fp", "bidrn"]


def test_full_precision_model_refuses_a_binary_method(reduced_builders):
    with pytest.raises(UserError, match="full precision"):
        stats.model_counts("hand4whole", "bnn")


@pytest.mark.parametrize("args,message", [
    (["--model", "bogus"], "valid models are"),
    (["--model", "binaryhpe", "--method", "bogus"], "valid methods are"),
    (["--nonsense"], "nonsense"),
    (["--all", "--method", "bnn"], "--all"),
])
def test_user_mistakes_are_one_line(args, message):
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.stats", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


ACTIVATION_KWARGS = ["--model_kwarg", "width=8", "--model_kwarg", "stage_modules=1,1,1", "--model_kwarg",
                     "num_blocks=1", "--model_kwarg", "input_shape=64,64,3"]


def _run_activations(capsys, monkeypatch, *args):
    monkeypatch.setattr(stats, "FLAGS", _parsed("--model", "bihrnet", "--activations", *ACTIVATION_KWARGS, *args))
    status = stats.main(["stats"])
    return status, capsys.readouterr().out


def test_activations_report_every_stage_in_both_modes(capsys, monkeypatch):
    status, text = _run_activations(capsys, monkeypatch)
    assert status == 0, text
    assert "inference mode (BN moving statistics)" in text and "training mode (BN on the batch)" in text
    for stage in ("stem", "stage1", "transition1", "stage2", "transition2", "stage3", "transition3", "stage4"):
        assert sum(line.split()[0] == stage for line in text.splitlines() if line.strip()) == 2, stage
    outputs = [line for line in text.splitlines() if line.strip().startswith("output ")]
    assert len(outputs) == 2 and all("(ok)" in line for line in outputs)
    assert text.rstrip().endswith("all outputs within the healthy std band [0.001, 10]")


def test_activations_exit_1_outside_the_band(capsys, monkeypatch):
    from bhpe_tf import diagnostics

    monkeypatch.setattr(diagnostics, "HEALTHY_STD", (100.0, 1000.0))
    status, text = _run_activations(capsys, monkeypatch)
    assert status == 1 and "UNHEALTHY" in text


def test_activations_kwarg_parsing_and_unknown_option():
    assert stats._parse_kwarg("input_shape=128,96,3") == ("input_shape", (128, 96, 3))
    assert stats._parse_kwarg("width=16") == ("width", 16)
    assert stats._parse_kwarg("stage1=ir_b") == ("stage1", "ir_b")
    with pytest.raises(UserError, match="KEY=VALUE"):
        stats._parse_kwarg("width")
    with pytest.raises(UserError, match="bihrnet has no option 'bogus'"):
        stats.activation_report("bihrnet", kwargs={"bogus": 1})
