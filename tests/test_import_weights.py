"""bhpe-import (bhpe_tf.import_weights) against PyTorch references of the official networks.

The references (tests/torch_reference.py) carry the official module names, random weights and
random BN statistics; their state dicts are saved as ``.pth`` exactly as the official files store
them (plain, mmpose-prefixed, ImageNet classification HRNet, torchvision ResNets, a Hand4Whole
``snapshot_*.pth.tar``). Each import is compared with the PyTorch forward in eval mode, relative
to the largest output magnitude: full HRNet-W32 (the published structure, a 64x64 input so the
test stays fast), ResNet-50 / ResNet-18 stage by stage, Hand4Whole's encoders and hand heads; the
converted FP32 TFLite of an imported HRNet is compared with PyTorch too. Refusals are one line and
leave nothing behind.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import torch

from bhpe_tf import provenance
from bhpe_tf import import_weights as iw
from bhpe_tf.errors import ConversionError, InvalidInputError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_reference import (Hand4WholeSnapshot, PoseHRNet, TorchvisionResNet,  # noqa: E402
                             randomize_)

REPO = Path(__file__).resolve().parents[1]
SIZE = (64, 64)  # the smallest input HRNet takes (both sides divisible by 32)
RTOL = 1e-4
REDUCED_HRNET = {"stage_modules": (1, 1, 1), "num_blocks": 1}


def relative_error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def nchw(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def image(seed=0, size=SIZE, batch=1):
    return np.random.default_rng(seed).normal(size=(batch, *size, 3)).astype(np.float32)


def quiet(*_):
    pass


# --------------------------------------------------------------------------- HRNet-W32
@pytest.fixture(scope="module")
def hrnet_files(tmp_path_factory):
    """Full HRNet-W32 pose (COCO) and ImageNet references, saved the ways the official files are."""
    folder = tmp_path_factory.mktemp("hrnet")
    pose = randomize_(PoseHRNet(width=32, num_joints=17), seed=0)
    state = pose.state_dict()
    torch.save(state, folder / "pose_hrnet_w32_256x192.pth")
    mmpose = {f"backbone.{k}": v for k, v in state.items() if not k.startswith("final_layer.")}
    mmpose.update({f"head.{k}": v for k, v in state.items() if k.startswith("final_layer.")})
    torch.save({"state_dict": mmpose}, folder / "hrnet_w32_coco_256x192_mmpose.pth")
    imagenet = randomize_(PoseHRNet(width=32, imagenet_head=True), seed=1)
    torch.save(imagenet.state_dict(), folder / "hrnet_w32-36af842e.pth")
    return {"folder": folder, "pose": pose, "imagenet": imagenet, "plain": folder / "pose_hrnet_w32_256x192.pth",
            "mmpose": folder / "hrnet_w32_coco_256x192_mmpose.pth", "imagenet_file": folder / "hrnet_w32-36af842e.pth"}


@pytest.fixture(scope="module")
def imported_pose(hrnet_files):
    """The plain pose file imported and written (OUT.keras + OUT.keras.meta.json); its model is reused."""
    lines = []
    result = iw.import_checkpoint(model="hrnet_w32", source=hrnet_files["plain"],
                                  output=hrnet_files["folder"] / "hrnet_w32_coco.keras", input_hw=SIZE,
                                  log=lines.append)
    result.lines = lines
    return result


def test_hrnet_w32_pose_import_matches_pytorch(imported_pose, hrnet_files):
    x = image(0)
    with torch.no_grad():
        want = nhwc(hrnet_files["pose"](nchw(x)))
    got = imported_pose.model(x, training=False).numpy()
    assert got.shape == (1, 16, 16, 17)
    assert relative_error(got, want) < RTOL
    # the files written, and what the meta json records
    meta = json.loads(imported_pose.meta_path.read_text())
    assert imported_pose.output.is_file() and imported_pose.meta_path.name == "hrnet_w32_coco.keras.meta.json"
    assert meta["model"] == "hrnet_w32" and meta["method"] == "fp"
    assert meta["build_kwargs"] == {"input_shape": [64, 64, 3], "num_joints": 17, "width": 32, "padding": "torch"}
    source = meta["provenance"]["details"]["sources"][0]
    assert meta["provenance"]["kind"] == "imported"
    assert source["sha256"] == iw.file_sha256(hrnet_files["plain"]) and source["layout"] == "hrnet_pose"
    assert source["sha256"] in meta["provenance"]["summary"]
    state = hrnet_files["pose"].state_dict()
    weights = sorted(k for k in state if not k.endswith("num_batches_tracked"))
    assert meta["import"]["keys_used"] == {"pose_hrnet_w32_256x192.pth": weights}
    assert meta["import"]["fresh_layers"] == [] and meta["import"]["tensors_assigned"] == len(weights)
    assert any("mapped 1462 tensors" in line for line in imported_pose.lines)


def test_mmpose_prefixed_checkpoint_imports_the_same_network(imported_pose, hrnet_files):
    checkpoint = iw.read_checkpoint(hrnet_files["mmpose"])
    assert checkpoint.layout == "hrnet_pose" and "mmpose" in checkpoint.container
    result = iw.import_checkpoint(model="hrnet_w32", source=hrnet_files["mmpose"], output=None, input_hw=SIZE,
                                  keras_model=imported_pose.model, log=quiet)
    x = image(1)
    with torch.no_grad():
        want = nhwc(hrnet_files["pose"](nchw(x)))
    assert relative_error(result.model(x, training=False).numpy(), want) < RTOL
    assert result.meta["provenance"]["details"]["sources"][0]["stored_as"].startswith("['state_dict']")


def test_imagenet_hrnet_imports_the_backbone_and_leaves_the_head_fresh(imported_pose, hrnet_files):
    model = imported_pose.model
    head_before = [w.copy() for w in model.get_layer("head").get_weights()]
    result = iw.import_checkpoint(model="hrnet_w32", source=hrnet_files["imagenet_file"], output=None,
                                  input_hw=SIZE, keras_model=model, log=quiet)
    assert result.plan.fresh_layers == ["head"]
    for before, after in zip(head_before, model.get_layer("head").get_weights()):
        np.testing.assert_array_equal(before, after)
    features = tf.keras.Model(model.inputs, model.get_layer("stage4_m3_fuse_0_act").output)
    x = image(2)
    with torch.no_grad():
        want = nhwc(hrnet_files["imagenet"].features(nchw(x))[0])
    assert relative_error(features(x).numpy(), want) < RTOL
    ignored = result.plan.ignored["hrnet_w32-36af842e.pth"]
    head_keys = ignored["ImageNet classification head (the pose head stays freshly initialised)"]
    assert "classifier.weight" in head_keys and "final_layer.0.weight" in head_keys
    fusion = [k for reason, keys in ignored.items() if "fusion" in reason for k in keys]
    assert fusion and all(k.startswith("stage4.2.fuse_layers.") for k in fusion)


# --------------------------------------------------------------------------- ResNet encoders
@pytest.fixture(scope="module")
def resnet_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resnet")
    r50, r18 = randomize_(TorchvisionResNet(50), seed=3), randomize_(TorchvisionResNet(18), seed=4)
    torch.save(r50.state_dict(), folder / "resnet50-0676ba61.pth")
    torch.save(r18.state_dict(), folder / "resnet18-f37072fd.pth")
    return {"r50": r50, "r18": r18, "r50_file": folder / "resnet50-0676ba61.pth",
            "r18_file": folder / "resnet18-f37072fd.pth"}


def test_torchvision_resnets_import_into_the_hand4whole_encoders(resnet_files):
    result = iw.import_checkpoint(model="hand4whole", source=resnet_files["r50_file"],
                                  face_source=resnet_files["r18_file"], output=None, log=quiet,
                                  model_kwargs={"input_shape": (128, 128, 3), "hand_shape": (64, 64),
                                                "face_shape": (64, 64), "head_channels": 16, "boxnet_channels": 16})
    x = image(5)
    for encoder, reference, blocks in (("body_encoder", resnet_files["r50"], (3, 4, 6, 3)),
                                       ("hand_encoder", resnet_files["r50"], (3, 4, 6, 3)),
                                       ("face_encoder", resnet_files["r18"], (2, 2, 2, 2))):
        sub = result.model.get_layer(encoder)
        stages = tf.keras.Model(sub.inputs, [sub.get_layer(f"{encoder}_stage{s + 1}_block{n}_out").output
                                             for s, n in enumerate(blocks)])
        with torch.no_grad():
            want = [nhwc(t) for t in reference.stages(nchw(x))]
        for stage, (got, expected) in enumerate(zip(stages(x), want), 1):
            assert relative_error(got.numpy(), expected) < RTOL, (encoder, stage)
    assert not any(layer.startswith(("body_encoder", "hand_encoder", "face_encoder"))
                   for layer in result.plan.fresh_layers)
    assert {"boxnet_deconv1", "hand_rotation_pose", "face_jaw"} <= set(result.plan.fresh_layers)
    for name in ("resnet50-0676ba61.pth", "resnet18-f37072fd.pth"):
        assert result.plan.ignored[name]["ImageNet classifier (an encoder has none)"] == ["fc.weight", "fc.bias"]
    files = [s["file"] for s in result.meta["provenance"]["details"]["sources"]]
    assert files == ["resnet50-0676ba61.pth", "resnet18-f37072fd.pth"]
    assert result.meta["build_kwargs"]["padding"] == "torch"


def test_deconv_kernel_mapping_matches_pytorch_conv_transpose():
    """BoxNet's 4x4/2 ConvTranspose (padding 1) -> Keras Conv2DTranspose('same') with to_keras(weight)."""
    deconv = randomize_(torch.nn.Sequential(torch.nn.ConvTranspose2d(6, 5, 4, 2, 1, bias=False)), seed=6)[0]
    layer = tf.keras.layers.Conv2DTranspose(5, 4, strides=2, padding="same", use_bias=False)
    x = image(7, size=(5, 4))[..., :3].repeat(2, axis=-1)
    layer.build(x.shape)
    layer.set_weights([iw.to_keras(deconv.weight.detach().numpy())])
    with torch.no_grad():
        want = nhwc(deconv(nchw(x)))
    assert relative_error(layer(x).numpy(), want) < RTOL


REDUCED_H4W = {"input_shape": (128, 128, 3), "hand_shape": (64, 64), "face_shape": (64, 64), "encoder_width": 8,
               "head_channels": 16, "boxnet_channels": 16, "resnet50_blocks": (1, 1, 1, 1),
               "resnet18_blocks": (1, 1, 1, 1)}


def test_hand4whole_snapshot_imports_the_whole_network(tmp_path):
    snapshot = randomize_(Hand4WholeSnapshot(width=8, blocks50=(1, 1, 1, 1), blocks18=(1, 1, 1, 1),
                                             head_channels=16, boxnet_channels=16), seed=8)
    network = {f"module.{k}": v for k, v in snapshot.state_dict().items()}  # saved from DataParallel
    torch.save({"epoch": 6, "network": network, "optimizer": {}}, tmp_path / "snapshot_6.pth.tar")
    result = iw.import_checkpoint(model="hand4whole", source=tmp_path / "snapshot_6.pth.tar",
                                  output=tmp_path / "hand4whole.keras", model_kwargs=REDUCED_H4W, log=quiet)
    assert result.plan.fresh_layers == []
    assert result.meta["provenance"]["details"]["sources"][0]["stored_as"] == "['network'], DataParallel 'module.' prefix"
    x = image(9, size=(64, 64))
    with torch.no_grad():
        want = nhwc(snapshot.backbone.stages(nchw(x))[-1])
    assert relative_error(result.model.get_layer("body_encoder")(x).numpy(), want) < RTOL
    feature = np.random.default_rng(10).normal(size=(2, 2, 2, 256)).astype(np.float32)
    with torch.no_grad():
        coords, pose = snapshot.hand_heads(nchw(feature))
    got_coords, got_pose = result.model.get_layer("hand_heads")(feature)
    assert relative_error(got_coords.numpy(), coords.numpy()) < RTOL
    assert relative_error(got_pose.numpy().reshape(2, -1), pose.numpy()) < RTOL
    outputs = result.model(image(11, size=(128, 128)), training=False)
    assert all(np.all(np.isfinite(v.numpy())) for v in outputs.values())
    assert json.loads(result.meta_path.read_text())["model"] == "hand4whole"


# --------------------------------------------------------------------------- refusals
def reduced_pose_state(width=32, num_joints=17, seed=12):
    return randomize_(PoseHRNet(width=width, num_joints=num_joints, **REDUCED_HRNET), seed=seed)


def test_bad_checkpoint_is_refused_in_one_line_and_nothing_is_written(tmp_path):
    state = reduced_pose_state().state_dict()
    state["stage2.0.branches.0.0.conv1.weight"] = torch.zeros(32, 32, 1, 1)  # wrong shape
    del state["transition1.0.1.running_var"]  # missing
    state["extra_layer.weight"] = torch.zeros(3)  # unexpected
    torch.save(state, tmp_path / "bad.pth")
    out = tmp_path / "out"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.import_weights", "--model", "hrnet_w32", "--source",
                           str(tmp_path / "bad.pth"), "--output", str(out / "x.keras"), "--input_hw", "64,64",
                           "--model_kwargs", json.dumps(REDUCED_HRNET)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    line = errors[0]
    for text in ("missing bad.pth: 'transition1.0.1.running_var'", "unexpected bad.pth: 'extra_layer.weight'",
                 "wrong shape bad.pth: 'stage2.0.branches.0.0.conv1.weight' (32, 32, 1, 1)", "(32, 32, 3, 3)",
                 "nothing was written"):
        assert text in line, line
    assert not out.exists() or not any(out.iterdir())


def test_other_checkpoints_are_refused_with_a_reason(tmp_path):
    torch.save(reduced_pose_state(width=48).state_dict(), tmp_path / "w48.pth")
    with pytest.raises(InvalidInputError, match="is HRNet-W48 .* use --model hrnet_w48"):
        iw.import_checkpoint(model="hrnet_w32", source=tmp_path / "w48.pth", output=tmp_path / "x.keras", log=quiet)
    torch.save(TorchvisionResNet(50, blocks=(3, 4, 23, 3)).state_dict(), tmp_path / "resnet101.pth")
    with pytest.raises(InvalidInputError, match=r"\(3, 4, 23, 3\) blocks .* ResNet-50"):
        iw.import_checkpoint(model="hand4whole", source=tmp_path / "resnet101.pth", output=tmp_path / "x.keras",
                             log=quiet)
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    with pytest.raises(InvalidInputError, match="cannot read .* as a PyTorch checkpoint"):
        iw.import_checkpoint(model="hrnet_w32", source=tmp_path / "notes.pth", output=tmp_path / "x.keras", log=quiet)
    with pytest.raises(InvalidInputError, match="must end in .keras"):
        iw.import_checkpoint(model="hrnet_w32", source=tmp_path / "w48.pth", output=tmp_path / "x.h5", log=quiet)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.pth", "resnet101.pth", "w48.pth"]


def test_torch_padding_is_for_full_precision_models_only():
    from bhpe_tf.errors import UnknownNameError
    from bhpe_tf.models.hrnet import build_hrnet_w32
    from bhpe_tf.models.resnet import build_resnet

    with pytest.raises(InvalidInputError, match="padding='torch' is for full-precision models"):
        build_hrnet_w32(input_shape=(64, 64, 3), method="bnn", padding="torch", width=4, **REDUCED_HRNET)
    with pytest.raises(InvalidInputError, match="binary method 'bidrn' keeps padding='keras'"):
        build_resnet(input_shape=(64, 64, 3), depth=18, method="bidrn", padding="torch", width=8)
    with pytest.raises(UnknownNameError, match="valid paddings are: keras, torch"):
        build_hrnet_w32(input_shape=(64, 64, 3), padding="same", width=4, **REDUCED_HRNET)


# --------------------------------------------------------------------------- convert / infer / train
@pytest.fixture(scope="module")
def reduced_import(tmp_path_factory):
    """A reduced HRNet (width 4, one module / block per stage, MPII's 16 joints) imported and written:
    the teacher that convert, infer and the trainer take in these tests."""
    folder = tmp_path_factory.mktemp("reduced")
    reference = reduced_pose_state(width=4, num_joints=16)
    torch.save(reference.state_dict(), folder / "pose_hrnet_tiny_mpii.pth")
    result = iw.import_checkpoint(model="hrnet_w32", source=folder / "pose_hrnet_tiny_mpii.pth",
                                  output=folder / "teacher.keras", input_hw=SIZE, log=quiet,
                                  model_kwargs={**REDUCED_HRNET, "width": 4})
    return {"folder": folder, "reference": reference, "result": result}


def test_torch_padding_is_what_makes_the_import_exact(reduced_import):
    from bhpe_tf.models.hrnet import build_hrnet_w32

    imported = reduced_import["result"].model
    pads = [layer for layer in imported.layers if isinstance(layer, tf.keras.layers.ZeroPadding2D)]
    strided = [layer for layer in imported.layers if isinstance(layer, tf.keras.layers.Conv2D) and layer.strides == (2, 2)]
    # stem 2, new branches 3, fuse down-paths 5 (stage 2: 1, stage 3: 4): every one padded as PyTorch
    assert len(pads) == len(strided) == 10 and all(layer.padding == "valid" for layer in strided)
    same = build_hrnet_w32(input_shape=(*SIZE, 3), num_joints=16, width=4, **REDUCED_HRNET)  # padding="keras"
    for layer in same.layers:
        if layer.weights:
            layer.set_weights(imported.get_layer(layer.name).get_weights())
    x = image(13)
    with torch.no_grad():
        want = nhwc(reduced_import["reference"](nchw(x)))
    assert relative_error(imported(x, training=False).numpy(), want) < RTOL
    assert relative_error(same(x, training=False).numpy(), want) > 1e-2  # the one-pixel shift of 'same'


def test_imported_model_converts_to_fp32_tflite_matching_pytorch(reduced_import, tmp_path, capsys, shared_data):
    from bhpe_tf import infer
    from bhpe_tf.conversion import export

    keras_file = reduced_import["result"].output
    result = export.run_from_flags(export.options(model="hrnet_w32", method="fp", checkpoint=str(keras_file),
                                                  output=str(tmp_path / "teacher.tflite")))
    card = json.loads(result.card_path.read_text())
    assert card["converter"]["target"] == "tflite" and card["parity"]["max_abs_diff"] <= card["parity"]["tolerance"]
    assert card["keypoints"]["dataset"] == "mpii" and card["input"]["shape"] == [1, 64, 64, 3]
    assert card["provenance"]["kind"] == "imported"
    assert card["provenance"]["details"]["sources"][0]["sha256"] == iw.file_sha256(
        reduced_import["folder"] / "pose_hrnet_tiny_mpii.pth")
    # provenance is the card's one optional key (older cards lack it), checked when present
    from bhpe_tf.runtime import card as mc

    flatbuffer = result.tflite_path.read_bytes()
    mc.validate_model_card({k: v for k, v in card.items() if k != "provenance"}, flatbuffer)
    with pytest.raises(InvalidInputError, match="model card: provenance.kind"):
        mc.validate_model_card({**card, "provenance": {**card["provenance"], "kind": "guessed"}}, flatbuffer)
    # the flatbuffer itself against PyTorch (the converter's own check compares it with Keras)
    interpreter = tf.lite.Interpreter(model_content=result.tflite_path.read_bytes())
    interpreter.allocate_tensors()
    x = image(14)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    with torch.no_grad():
        want = nhwc(reduced_import["reference"](nchw(x)))
    assert relative_error(got, want) < RTOL
    # LCE would fold the explicit padding into a different 'same' conv: refused, nothing written
    with pytest.raises(ConversionError, match="PyTorch-compatible padding"):
        export.run_from_flags(export.options(model="hrnet_w32", method="fp", checkpoint=str(keras_file),
                                             output=str(tmp_path / "lce.tflite"), converter="lce"))
    assert not (tmp_path / "lce.tflite").exists()
    # infer reports the provenance, from the card and from the .keras meta
    photo = str(shared_data / "coco" / "000000000785.jpg")
    capsys.readouterr()
    infer.run_cli(["infer", photo], infer.options(model=str(result.tflite_path), output_dir=str(tmp_path / "a")))
    printed = capsys.readouterr().out
    assert "model provenance (imported): imported official weights pose_hrnet_tiny_mpii.pth" in printed
    assert "warning" not in printed
    infer.run_cli(["infer", photo], infer.options(model=str(keras_file), model_name="hrnet_w32", method="fp",
                                                  output_dir=str(tmp_path / "b")))
    assert "model provenance (imported)" in capsys.readouterr().out


def test_synthetic_demo_model_says_so_in_one_line(tmp_path, capsys, shared_data):
    from bhpe_tf import infer
    from bhpe_tf.models.hrnet import build_hrnet_w32

    workdir = tmp_path / "run"
    kwargs = {"input_shape": (64, 64, 3), "num_joints": 17, "width": 4, **REDUCED_HRNET}
    workdir.mkdir()
    build_hrnet_w32(**kwargs).save(str(workdir / "best.keras"))
    record = provenance.for_training(config={"name": "bihrnet_demo", "model": {"name": "bihrnet"}, "data": {"layout": "coco"}})
    (workdir / provenance.WORKDIR_FILE).write_text(json.dumps(record))
    infer.run_cli(["infer", str(shared_data / "coco" / "000000000785.jpg")], infer.options(
        model=str(workdir / "best.keras"), model_name="hrnet_w32", method="fp",
        model_kwargs=json.dumps({k: v for k, v in kwargs.items() if k != "input_shape"}),
        output_dir=str(tmp_path / "out")))
    printed = capsys.readouterr().out.splitlines()
    warnings = [line for line in printed if line.startswith("warning:")]
    assert warnings == [f"warning: {provenance.SYNTHETIC_WARNING}"]
    assert "model provenance (synthetic): trained on the embedded synthetic demo data only" in printed[0]


def test_imported_teacher_and_student_initialisation_for_distillation(reduced_import):
    """--config.teacher.checkpoint=OUT.keras builds the teacher as imported (PyTorch padding, its width and
    joints from OUT.keras.meta.json) and loads it; init_fp_from=OUT.keras starts a BiHRNet student's
    real-valued stem and head from it (tests/test_train.py runs the trainer with these settings)."""
    from bhpe_tf.models.hrnet import build_bihrnet
    from bhpe_tf.training import config as C
    from bhpe_tf.checkpoints import restore
    from bhpe_tf.training.tasks import make_task

    teacher_file = str(reduced_import["result"].output)
    config = C.load_config("bihrnet_mpii_stage1")
    config = C.apply_overrides(config, ["data.input_wh=[64, 64]", f"teacher.checkpoint={teacher_file}",
                                        f"init_fp_from={teacher_file}"])
    teacher = make_task(config).build_teacher()
    restore(teacher, teacher_file, what="teacher checkpoint")
    assert sum(isinstance(layer, tf.keras.layers.ZeroPadding2D) for layer in teacher.layers) == 10
    x = image(15)
    with torch.no_grad():
        want = nhwc(reduced_import["reference"](nchw(x)))
    assert relative_error(teacher(x, training=False).numpy(), want) < RTOL
    student = build_bihrnet(input_shape=(64, 64, 3), num_joints=16, width=4, **REDUCED_HRNET)
    copied = iw.init_fp_parts(student, config["init_fp_from"])
    assert copied == ["stem_conv1", "stem_conv1_bn", "stem_conv2", "stem_conv2_bn", "head"]
    for name in copied:
        for mine, theirs in zip(student.get_layer(name).get_weights(), teacher.get_layer(name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    wider = build_bihrnet(input_shape=(64, 64, 3), num_joints=16, width=8, **REDUCED_HRNET)
    with pytest.raises(InvalidInputError, match=r"layer head has weights .* \(another width"):
        iw.init_fp_parts(wider, teacher_file)
    # a teacher of another layout is refused before any weight is loaded
    config["model"]["kwargs"]["num_joints"] = 17
    with pytest.raises(InvalidInputError, match="num_joints=16 .* num_joints=17"):
        make_task(config).build_teacher()
    # init_from an imported model needs the run's model built with the same padding
    from bhpe_tf.errors import UserError
    from bhpe_tf.training.loop import _check_init_padding

    fp_run = C.apply_overrides(C.load_config("hrnet_w32_mpii"), ["data.input_wh=[64, 64]"])
    with pytest.raises(UserError, match="add --config.model.kwargs.padding=torch"):
        _check_init_padding(teacher_file, make_task(fp_run))
    _check_init_padding(teacher_file, make_task(C.apply_overrides(fp_run, ["model.kwargs.padding=torch"])))
