"""The Android demo's platform-free Java core (``android_demo/core``) against the Python pipeline.

1. Golden files from a real converted model and a real image: a small BiHRNet is exported with the
   project's exporter (``bhpe_tf.conversion.export``, uint8 input, model card), a COCO val2017 image
   (``shared/data/coco/000000000785.jpg``) is cropped with ``bhpe_tf.data.transforms`` at several
   boxes, the crops are run through LCE's interpreter, and the heatmaps are decoded by the
   ``bhpe_tf.data.codecs.HeatmapCodec`` read from the card's ``heatmap`` block. Everything goes to a temp folder as raw little-endian arrays plus
   ``golden.json``, together with variants of the card that the Python validator rejects.
2. ``android_demo/run_core_tests.sh DIR`` compiles the core and its JUnit 4 tests with plain javac
   and runs them; the Java side asserts crop within 1 uint8 step, keypoints within 1e-3 px, the
   converter's card read and matched to the flatbuffer, the same field named for every rejected
   card, and typed exceptions (``ModelCardException``, ``InputShapeException``,
   ``FrameFormatException``).
3. Static checks of the Android project: every XML parses, Gradle dependencies are pinned, CameraX
   artifacts share one version, no separate ``tensorflow-lite`` artifact, arm64-v8a only, and
   ``.tflite`` assets stay uncompressed.
4. ``bhpe_tf.android_assets`` (``make android-assets``) copies a valid model and refuses a broken one.
"""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from bhpe_tf.runtime import card as mc
from bhpe_tf.errors import InvalidInputError, MissingFileError

ROOT = Path(__file__).resolve().parents[1]
ANDROID = ROOT / "android_demo"
RUNNER = ANDROID / "run_core_tests.sh"
JARS = (Path("/usr/share/java/junit4.jar"), Path("/usr/share/java/hamcrest-core.jar"))
IMAGE_ID = 785
# The smallest 4:3 input HRNet takes (height and width divisible by 32): keeps the conversion short.
INPUT_SIZE = (128, 96)


# --------------------------------------------------------------------------- the converted model
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny BiHRNet (BiDRN preset) exported with uint8 input: ``ExportResult`` (tflite + card)."""
    from bhpe_tf.conversion.export import export
    from bhpe_tf.conversion.parity import trained_like_state
    from bhpe_tf.models import build_model

    model = build_model("bihrnet", input_shape=(*INPUT_SIZE, 3), num_joints=17, width=4, stage_modules=(1, 1, 1),
                        num_blocks=1)
    trained_like_state(model)  # BN statistics of a trained net: no exact sign ties, peaked heatmaps
    out = tmp_path_factory.mktemp("android_model") / "bihrnet_tiny.tflite"
    return export(model, out, model_name="bihrnet", method="bidrn", uint8_input=True)


# --------------------------------------------------------------------------- golden files
def _rejected_cards(card: dict):
    """``(name, card_dict)`` variants of a valid card, each with one defect."""
    def variant(fn):
        c = copy.deepcopy(card)
        fn(c)
        return c

    out = []
    for key in mc.TOP_KEYS:
        out.append((f"missing_{key}", variant(lambda c, k=key: c.pop(k))))
    for key in mc.INPUT_KEYS:
        out.append((f"missing_input_{key}", variant(lambda c, k=key: c["input"].pop(k))))
    out += [
        ("missing_norm_std", variant(lambda c: c["input"]["normalization"].pop("std"))),
        ("missing_crop_padding", variant(lambda c: c["input"]["crop"].pop("padding"))),
        ("missing_output_kind", variant(lambda c: c["outputs"][0].pop("kind"))),
        ("missing_converter_int8", variant(lambda c: c["converter"].pop("int8"))),
        ("unknown_top_key", variant(lambda c: c.update(extra=1))),
        ("unknown_input_key", variant(lambda c: c["input"].update(mirror=True))),
        ("version_2", variant(lambda c: c.update(version=2))),
        ("other_format", variant(lambda c: c.update(format="tflite-metadata"))),
        ("task", variant(lambda c: c.update(task="segmentation"))),
        ("tflite_in_subdir", variant(lambda c: c.update(tflite_file="models/x.tflite"))),
        ("size_not_int", variant(lambda c: c.update(file_size_bytes=12.5))),
        ("sha_upper", variant(lambda c: c.update(sha256=c["sha256"].upper()))),
        ("input_index", variant(lambda c: c["input"].update(index=1))),
        ("input_four_channels", variant(lambda c: c["input"].update(shape=c["input"]["shape"][:3] + [4]))),
        ("input_rank3", variant(lambda c: c["input"].update(shape=c["input"]["shape"][1:]))),
        ("input_dtype", variant(lambda c: c["input"].update(dtype="int8"))),
        ("input_layout", variant(lambda c: c["input"].update(layout="NCHW"))),
        ("input_color", variant(lambda c: c["input"].update(color="BGR"))),
        ("std_zero", variant(lambda c: c["input"]["normalization"].update(std=[0.2, 0, 0.2]))),
        ("mean_two", variant(lambda c: c["input"]["normalization"].update(mean=[0.5, 0.5]))),
        ("interpolation", variant(lambda c: c["input"]["crop"].update(interpolation="bicubic"))),
        ("aspect_negative", variant(lambda c: c["input"]["crop"].update(aspect_ratio=-0.75))),
        ("outputs_empty", variant(lambda c: c.update(outputs=[]))),
        ("output_index", variant(lambda c: c["outputs"][0].update(index=3))),
        ("output_dtype", variant(lambda c: c["outputs"][0].update(dtype="uint8"))),
        ("output_kind", variant(lambda c: c["outputs"][0].update(kind="segmentation"))),
        ("heatmap_null", variant(lambda c: c.update(heatmap=None))),
        ("keypoints_null", variant(lambda c: c.update(keypoints=None))),
        ("stride_zero", variant(lambda c: c["heatmap"].update(stride=0))),
        ("decoding_unknown", variant(lambda c: c["heatmap"].update(decoding="soft_argmax"))),
        ("blur_kernel_standard", variant(lambda c: c["heatmap"].update(blur_kernel=11))),
        ("heatmap_unknown_key", variant(lambda c: c["heatmap"].update(sigma=2.0))),
        ("skeleton_range", variant(lambda c: c["keypoints"]["skeleton"].append([0, 99]))),
        ("flip_pair_shape", variant(lambda c: c["keypoints"]["flip_pairs"].append([1, 2, 3]))),
        ("names_count", variant(lambda c: c["keypoints"].update(names=c["keypoints"]["names"][:-1], flip_pairs=[],
                                                                skeleton=[]))),
        ("bconv_count", variant(lambda c: c["census"].update(lce_bconv2d=c["census"]["lce_bconv2d"] + 1))),
        ("parity_negative", variant(lambda c: c["parity"].update(tolerance=-1.0))),
        ("target", variant(lambda c: c["converter"].update(target="gpu"))),
        ("int8_string", variant(lambda c: c["converter"].update(int8="no"))),
        ("tf_version_empty", variant(lambda c: c["converter"].update(tensorflow_version=""))),
        ("float_weights_bfloat16", variant(lambda c: c["converter"].update(float_weights="bfloat16"))),
        ("float16_with_int8", variant(lambda c: c["converter"].update(float_weights="float16", int8=True))),
        ("int8_weights_with_int8", variant(lambda c: c["converter"].update(float_weights="int8", int8=True))),
    ]
    return out


def _python_field(card: dict) -> tuple:
    """The field the Python validator names for ``card`` (it must reject it) and its message."""
    with pytest.raises(InvalidInputError) as info:
        mc.validate_model_card(card)
    message = str(info.value)
    assert message.startswith("model card: "), message
    return message[len("model card: "):].split(": ", 1)[0], message


def _boxes(shared_data: Path, width: int, height: int):
    """Person boxes on the image: the COCO ground truth, the top detection, the whole image, and a box
    hanging over the bottom-right corner (so the crop has a zero border)."""
    gt = json.loads((shared_data / "coco" / "test_coco.json").read_text())
    det = json.loads((shared_data / "coco" / "test_coco_det_AP_H_56.json").read_text())
    gt_box = [a["bbox"] for a in gt["annotations"] if a["image_id"] == IMAGE_ID][0]
    det_box = max((d for d in det if d["image_id"] == IMAGE_ID), key=lambda d: d["score"])["bbox"]
    return [("coco_gt", [float(v) for v in gt_box]), ("detection", [float(v) for v in det_box]),
            ("whole_image", [0.0, 0.0, float(width), float(height)]),
            ("off_corner", [width * 0.7 + 0.3, height * 0.6 + 0.7, width * 0.5, height * 0.55])]


def write_golden(result, shared_data: Path, out: Path) -> dict:
    """Run the Python pipeline and write what the Java core must reproduce into ``out``."""
    from bhpe_tf.runtime import lce_interpreter
    from bhpe_tf.data.codecs import HeatmapCodec
    from bhpe_tf.data.records import read_image
    from bhpe_tf.data.transforms import box_to_center_scale, get_affine_transform, warp_crop

    out.mkdir(parents=True, exist_ok=True)
    card = result.card
    tflite_bytes = result.tflite_path.read_bytes()
    shutil.copyfile(result.tflite_path, out / card["tflite_file"])
    shutil.copyfile(result.card_path, out / result.card_path.name)
    shutil.copyfile(ROOT / "bhpe_tf" / "data" / "keypoints.json", out / "keypoints.json")

    image = read_image(shared_data / "coco" / f"{IMAGE_ID:012d}.jpg")  # RGB uint8
    height, width = image.shape[:2]
    np.ascontiguousarray(image, np.uint8).tofile(out / "image.rgb")

    inp = card["input"]
    in_h, in_w = inp["shape"][1], inp["shape"][2]
    crop_cfg = inp["crop"]
    interp = lce_interpreter(tflite_bytes)
    hm_out = next(o for o in card["outputs"] if o["kind"] == "heatmaps")
    codec = HeatmapCodec.from_card(card["heatmap"], input_wh=(in_w, in_h))  # what the Java decoder reads
    assert codec.decoding == "standard" and codec.heatmap_wh == (hm_out["shape"][2], hm_out["shape"][1])
    cases = []
    for name, box in _boxes(shared_data, width, height):
        center, scale = box_to_center_scale(box, aspect_ratio=crop_cfg["aspect_ratio"], padding=crop_cfg["padding"])
        mat = get_affine_transform(center, scale, 0.0, (in_w, in_h))
        crop = warp_crop(image, mat, (in_w, in_h))
        assert crop.dtype == np.uint8 and crop.shape == (in_h, in_w, 3)
        tensor = crop[None]
        case = {"name": name, "box": box, "center": [float(v) for v in center], "scale": [float(v) for v in scale],
                "crop_matrix": [float(v) for v in np.asarray(mat, np.float64).reshape(6)],
                "input": f"{name}_input.u8", "input_f32": None}
        crop.tofile(out / case["input"])
        if inp["dtype"] == "float32":
            from bhpe_tf.runtime import Normalization

            tensor = Normalization.from_dict(inp["normalization"]).apply(tensor)
            case["input_f32"] = f"{name}_input.f32"
            tensor.astype("<f4").tofile(out / case["input_f32"])
        outputs = interp.predict(tensor)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        heatmaps = np.asarray(outputs[hm_out["index"]], np.float32)
        assert list(heatmaps.shape) == hm_out["shape"]
        coords, maxvals = codec.decode(heatmaps[0])
        keypoints = codec.to_image(coords, center=center, scale=scale)
        case.update(heatmaps=f"{name}_heatmaps.f32", heatmaps_shape=list(heatmaps.shape),
                    coords=f"{name}_coords.f32", keypoints=f"{name}_keypoints.f32", scores=f"{name}_scores.f32")
        heatmaps.astype("<f4").tofile(out / case["heatmaps"])
        coords.astype("<f4").tofile(out / case["coords"])
        keypoints.astype("<f4").tofile(out / case["keypoints"])
        maxvals.astype("<f4").tofile(out / case["scores"])
        cases.append(case)

    bad = []
    for i, (name, variant) in enumerate(_rejected_cards(card)):
        field, message = _python_field(variant)
        file = f"bad_{i:02d}_{name}.json"
        (out / file).write_text(json.dumps(variant, indent=1))
        bad.append({"file": file, "field": field, "python_error": message})

    index = {"card": result.card_path.name, "keypoints_json": "keypoints.json",
             "image": {"file": "image.rgb", "width": width, "height": height},
             "interpreter": {"input_shape": [int(v) for v in interp.input_shapes[0]],
                             "output_shapes": [[int(v) for v in s] for s in interp.output_shapes]},
             "cases": cases, "bad_cards": bad}
    (out / "golden.json").write_text(json.dumps(index, indent=1))
    return index


def _require_java():
    missing = [str(p) for p in JARS if not p.is_file()]
    if shutil.which("javac") is None or shutil.which("java") is None or missing:
        pytest.fail("the Java core tests need a JDK and JUnit 4 (missing: "
                    f"{', '.join(missing) or 'javac/java'}); run `make java-deps`")


def test_java_core_reproduces_the_python_pipeline(exported, shared_data, tmp_path):
    _require_java()
    golden = tmp_path / "golden"
    index = write_golden(exported, shared_data, golden)
    assert len(index["cases"]) == 4 and len(index["bad_cards"]) > 40
    proc = subprocess.run(["bash", str(RUNNER), str(golden)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "BHPE_GOLDEN_REQUIRED": "1"})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"Java core tests failed (exit {proc.returncode}):\n{output[-6000:]}"
    match = re.search(r"GOLDEN((?: \w+=\S+)+)", output)
    assert match, f"the golden test did not run:\n{output[-3000:]}"
    stats = dict(kv.split("=") for kv in match.group(1).split())
    assert int(stats["cases"]) == 4
    assert int(stats["max_u8_diff"]) <= 1
    assert float(stats["max_px_err"]) <= 1e-3
    print(match.group(0))


def test_java_runner_fails_on_a_failing_golden(exported, shared_data, tmp_path):
    """The runner's exit status is the test result: a corrupted golden crop must fail it."""
    _require_java()
    golden = tmp_path / "golden"
    index = write_golden(exported, shared_data, golden)
    crop = golden / index["cases"][0]["input"]
    data = bytearray(crop.read_bytes())
    data[len(data) // 2] ^= 0x40  # a 64-step change in one byte
    crop.write_bytes(bytes(data))
    proc = subprocess.run(["bash", str(RUNNER), str(golden)], capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "uint8 steps" in proc.stdout + proc.stderr


# --------------------------------------------------------------------------- android_assets
def test_android_assets_copies_validated_models(exported, tmp_path):
    from bhpe_tf.android_assets import copy_assets

    with pytest.raises(MissingFileError, match="make demo"):
        copy_assets(tmp_path / "no_demo_yet", tmp_path / "assets")
    empty = tmp_path / "empty_workdir"
    empty.mkdir()
    (empty / "notes.json").write_text('{"hello": 1}')
    with pytest.raises(MissingFileError, match="no converted model"):
        copy_assets(empty, tmp_path / "assets")
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.android_assets", "--workdir", str(empty), "--assets",
                           str(tmp_path / "assets")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr

    work = tmp_path / "demo_out"
    (work / "sub").mkdir(parents=True)
    shutil.copyfile(exported.tflite_path, work / "sub" / exported.tflite_path.name)
    shutil.copyfile(exported.card_path, work / "sub" / exported.card_path.name)
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "old.tflite").write_bytes(b"stale")
    (assets / "old.json").write_text(json.dumps({"format": mc.FORMAT}))
    (assets / "readme.txt").write_text("kept")
    copied = copy_assets(work, assets)
    assert [p.name for p in copied] == [exported.card_path.name]
    assert (assets / exported.tflite_path.name).read_bytes() == exported.tflite_path.read_bytes()
    mc.card_for_tflite(assets / exported.tflite_path.name)  # the copy validates against its flatbuffer
    assert not (assets / "old.tflite").exists() and not (assets / "old.json").exists()
    assert (assets / "readme.txt").exists()

    # a flatbuffer changed after conversion is refused, naming the sha256
    tampered = work / "sub" / exported.tflite_path.name
    data = bytearray(tampered.read_bytes())
    data[100] ^= 1
    tampered.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match="sha256"):
        copy_assets(work, assets)
    tampered.unlink()
    with pytest.raises(MissingFileError, match="does not exist"):
        copy_assets(work, assets)


# --------------------------------------------------------------------------- static checks of the app project
DEP_RE = re.compile(r"""\b(implementation|api|compileOnly|runtimeOnly|testImplementation|androidTestImplementation|"""
                    r"""annotationProcessor|kapt|ksp|classpath)\s*\(\s*"([^"]+)"\s*\)""")
PLUGIN_RE = re.compile(r"""id\s*\(\s*"([^"]+)"\s*\)\s*version\s*"([^"]+)\"""")


def _gradle_files():
    files = sorted(ANDROID.rglob("*.gradle.kts"))
    assert files, "no Gradle files in android_demo"
    return files


def _dependencies():
    deps = []
    for path in _gradle_files():
        for line in path.read_text().splitlines():
            code = line.split("//", 1)[0]
            for conf, coord in DEP_RE.findall(code):
                deps.append((path.relative_to(ANDROID).as_posix(), conf, coord))
    return deps


def test_android_xml_files_parse():
    xml_files = sorted(ANDROID.rglob("*.xml"))
    assert any(p.name == "AndroidManifest.xml" for p in xml_files)
    assert any("layout" in p.parts for p in xml_files)
    for path in xml_files:
        ET.parse(path)  # raises on malformed XML
    manifest = ET.parse(ANDROID / "app" / "src" / "main" / "AndroidManifest.xml").getroot()
    ns = "{http://schemas.android.com/apk/res/android}"
    permissions = {e.get(f"{ns}name") for e in manifest.iter("uses-permission")}
    assert "android.permission.CAMERA" in permissions
    activities = list(manifest.iter("activity"))
    assert activities and all(a.get(f"{ns}exported") is not None for a in activities)


def test_android_gradle_dependencies_are_pinned_and_lce_only():
    deps = _dependencies()
    assert deps, "no dependencies found in the Gradle files"
    versions = {}
    for where, conf, coord in deps:
        if coord.startswith(("files(", ":")):
            continue
        parts = coord.split(":")
        assert len(parts) == 3, f"{where}: {conf}(\"{coord}\") is not group:artifact:version"
        group, artifact, version = parts
        assert version and "+" not in version and "latest" not in version.lower() and "SNAPSHOT" not in version, \
            f"{where}: {coord} is not pinned to one version"
        versions[(group, artifact)] = version
        assert not (group == "org.tensorflow" and artifact.startswith("tensorflow-lite")), \
            f"{where}: {coord}: the LCE AAR bundles the TFLite Java API; a separate tensorflow-lite clashes with it"
    camerax = {v for (g, _), v in versions.items() if g == "androidx.camera"}
    assert len(camerax) == 1, f"CameraX artifacts must share one version, got {sorted(camerax)}"
    lce = [(g, a, v) for (g, a), v in versions.items() if g == "com.larq.compute_engine"]
    assert lce and lce[0][1] == "lce-lite" and lce[0][2].startswith("0.16"), \
        "the app must use the LCE 0.16 AAR (com.larq.compute_engine:lce-lite:0.16.x from mavenLocal)"
    for path in _gradle_files():
        for plugin, version in PLUGIN_RE.findall(path.read_text()):
            assert "+" not in version, f"{path}: plugin {plugin} version {version} is not pinned"

    app = (ANDROID / "app" / "build.gradle.kts").read_text()
    abi = re.search(r"abiFilters\s*(?:\+=|\.add|\.addAll|\()\s*(?:listOf\()?([^\n)]*)", app)
    assert abi and re.findall(r'"([^"]+)"', abi.group(1)) == ["arm64-v8a"], "abiFilters must be arm64-v8a only"
    assert re.search(r'noCompress\s*(?:\+=|\.add|\()\s*(?:listOf\()?\s*"(?:\.)?tflite"', app) or \
        re.search(r'noCompress[^\n]*"tflite"', app), "the .tflite assets must not be compressed (noCompress)"
    assert "mavenLocal()" in (ANDROID / "settings.gradle.kts").read_text()
    core = (ANDROID / "core" / "build.gradle.kts").read_text()
    assert "java-library" in core and "com.android" not in core, "core must stay a plain java-library"
    assert 'project(":core")' in app


def test_android_core_sources_are_platform_free():
    for path in sorted((ANDROID / "core" / "src").rglob("*.java")):
        text = path.read_text()
        assert not re.search(r"^import\s+(android|androidx|org\.tensorflow)\.", text, re.M), \
            f"{path.name} imports a platform class; the core must run on a plain JVM"


def test_android_app_uses_plain_interpreter_without_xnnpack_or_delegates():
    sources = [p for p in (ANDROID / "app" / "src" / "main").rglob("*") if p.suffix in (".kt", ".java")]
    assert sources
    text = "\n".join(p.read_text() for p in sources)
    assert "org.tensorflow.lite.Interpreter" in text
    assert "setUseXNNPACK(false)" in text
    assert "setNumThreads(" in text
    for banned in ("GpuDelegate", "NnApiDelegate", "setUseNNAPI", "org.tensorflow.lite.task"):
        assert banned not in text, f"the app must not use {banned} (LCE kernels run on the CPU interpreter)"
