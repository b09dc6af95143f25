"""Image inference CLI on the real COCO sample images: overlays, a COCO results json that pycocotools
loads, the model card driving preprocessing, and one-line errors for bad input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

import bhpe_tf  # noqa: F401
from bhpe_tf import infer
from bhpe_tf.conversion import export as ex
from bhpe_tf.conversion.parity import trained_like_state
from bhpe_tf.runtime import open_predictor
from bhpe_tf.runtime.normalization import IMAGENET_MEAN, IMAGENET_STD
from bhpe_tf.errors import InvalidInputError, MissingFileError
from bhpe_tf import cli
from bhpe_tf.models import build_model

from _tiny_models import tiny_keypoint_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
IMAGE_IDS = (785, 40083, 196141, 197388)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("infer_models")
    out = {}
    for method, uint8 in (("bidrn", True), ("fp", False)):
        tf.keras.backend.clear_session()
        tf.keras.utils.set_random_seed(0)
        model = trained_like_state(tiny_keypoint_model(method))
        out[method] = ex.export(model, folder / f"{method}.tflite", model_name="bihrnet", method=method,
                                uint8_input=uint8).tflite_path
    return out


@pytest.fixture(scope="module")
def coco(shared_data):
    images = [shared_data / "coco" / f"{i:012d}.jpg" for i in IMAGE_IDS]
    return images, shared_data / "coco" / "test_coco.json", shared_data / "coco" / "test_coco_det_AP_H_56.json"


def test_infer_tflite_with_detections_loads_in_pycocotools(models, coco, tmp_path):
    from pycocotools.coco import COCO

    images, gt, dets = coco
    out = infer.run_cli(["infer", *map(str, images)], infer.options(
        model=str(models["bidrn"]), boxes=str(dets), output_dir=str(tmp_path), box_score_threshold=0.5))
    # one overlay PNG per image, same size as the image
    assert [p.name for p in out.overlays] == [f"{i:012d}_overlay.png" for i in IMAGE_IDS]
    for image, overlay in zip(images, out.overlays):
        png = cv2.imread(str(overlay))
        assert png is not None and png.shape == cv2.imread(str(image)).shape
    # one result per detection above the threshold, in COCO keypoint results format
    detections = json.loads(Path(dets).read_text())
    expected = sum(1 for d in detections if d["category_id"] == 1 and d["score"] >= 0.5)
    results = json.loads(out.results_path.read_text())
    assert len(results) == expected > 4
    for r in results:
        assert set(r) == {"image_id", "category_id", "keypoints", "score"}
        assert r["category_id"] == 1 and r["image_id"] in IMAGE_IDS and len(r["keypoints"]) == 51
        assert np.isfinite(r["score"]) and r["score"] >= 0.0  # box score x mean heatmap peak (untrained: > 1 possible)
    ground_truth = COCO(str(gt))
    loaded = ground_truth.loadRes(str(out.results_path))
    assert len(loaded.getAnnIds()) == expected
    # keypoints lie inside the crop region of one of their image's boxes: the inverse crop transform was applied
    from bhpe_tf.data.transforms import box_to_center_scale

    regions = {}
    for d in detections:
        if d["category_id"] == 1 and d["score"] >= 0.5:
            center, scale = box_to_center_scale(d["bbox"], aspect_ratio=0.75, padding=1.25)
            regions.setdefault(d["image_id"], []).append((center - scale / 2 - 1e-3, center + scale / 2 + 1e-3))
    for r in results:
        xy = np.asarray(r["keypoints"]).reshape(17, 3)[:, :2]
        assert any(np.all((xy >= low) & (xy <= high)) for low, high in regions[r["image_id"]])


def test_float_input_card_drives_normalisation(models, coco, tmp_path):
    """A float32-input model: the predictor normalises with the card's mean/std; whole-image crops."""
    images, _, _ = coco
    predictor = open_predictor(models["fp"])
    assert predictor.spec.input_dtype == "float32" and predictor.spec.input_hw == (64, 48)
    crops = np.full((1, 64, 48, 3), 255, np.uint8)
    prepared = predictor.prepare(crops)
    assert prepared.dtype == np.float32
    np.testing.assert_allclose(prepared[0, 0, 0], (1.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD),
                               rtol=1e-5)
    out = infer.infer_images(images[:1], predictor, output_dir=tmp_path, flip_test=True, log=lambda *_: None)
    assert len(out.results) == 1 and out.results[0]["image_id"] == IMAGE_IDS[0]


def test_infer_cli_subprocess_whole_image(models, coco, tmp_path):
    images, _, _ = coco
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.infer", str(images[0]), "--model", str(models["bidrn"]),
                           "--output_dir", str(tmp_path)], capture_output=True, text=True, timeout=600, env=env,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and (tmp_path / "results.json").is_file()
    assert (tmp_path / f"{IMAGE_IDS[0]:012d}_overlay.png").is_file()


def test_unreadable_image_one_line(models, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 this is not really a jpeg")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.infer", str(bad), "--model", str(models["bidrn"]),
                           "--output_dir", str(tmp_path / "out")], capture_output=True, text=True, timeout=600,
                          env=env, cwd=REPO)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1] == f"error: {bad}: truncated JPEG (no end-of-image marker)", proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_bad_models(models, coco, tmp_path):
    images, _, _ = coco
    run = lambda **kw: infer.run_cli(["infer", str(images[0])], infer.options(output_dir=str(tmp_path), **kw))  # noqa: E731
    with pytest.raises(InvalidInputError, match="no LceBconv2d"):
        run(model=str(models["fp"]), expect_binary=True)
    with pytest.raises(InvalidInputError, match="stock tf.lite.Interpreter cannot run.*LCE's interpreter"):
        run(model=str(models["bidrn"]), interpreter="stock")
    with pytest.raises(MissingFileError, match="not found"):
        run(model=str(tmp_path / "none.tflite"))
    lonely = tmp_path / "lonely.tflite"
    lonely.write_bytes(models["bidrn"].read_bytes())
    with pytest.raises(MissingFileError, match="model card .*lonely.json not found"):
        run(model=str(lonely))
    tampered = tmp_path / "tampered.tflite"
    tampered.write_bytes(models["bidrn"].read_bytes() + b"\0")
    tampered.with_suffix(".json").write_text(models["bidrn"].with_suffix(".json").read_text())
    with pytest.raises(InvalidInputError, match="file_size_bytes"):
        run(model=str(tampered))
    with pytest.raises(MissingFileError, match="checkpoint"):
        run(model=str(tmp_path / "ckpt-1"), model_name="bihrnet", method="bidrn")
    with pytest.raises(InvalidInputError, match="--model_name and --method"):
        run(model=str(tmp_path / "ckpt-1"))
    with pytest.raises(MissingFileError, match="boxes file"):
        run(model=str(models["bidrn"]), boxes=str(tmp_path / "dets.json"))


def test_keras_checkpoint_with_flip_test(coco, tmp_path):
    """A checkpoint of a registered model runs in Keras (float input normalised here), with flip test."""
    images, _, dets = coco
    kwargs = {"width": 4, "stage_modules": [1, 1, 1], "num_blocks": 1}
    model = build_model("hrnet_w32", method="fp", input_hw=(64, 64), **cli.parse_model_kwargs(json.dumps(kwargs)))
    prefix = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt" / "ckpt"))
    out = infer.run_cli(["infer", str(images[1])], infer.options(
        model=prefix, model_name="hrnet_w32", method="fp", input_hw="64,64", model_kwargs=json.dumps(kwargs),
        boxes=str(dets), flip_test=True, output_dir=str(tmp_path / "out")))
    assert out.results and all(r["image_id"] == IMAGE_IDS[1] for r in out.results)
    assert all(len(r["keypoints"]) == 51 for r in out.results)
