"""tf.data pipelines on the real COCO / COCO-WholeBody samples, whole-body targets, and bad input."""
import json
import shutil

import cv2
import numpy as np
import pytest

from bhpe_tf.data.coco import load_coco
from bhpe_tf.data.mpii import load_mpii_json, load_mpii_predictions
from bhpe_tf.data.pipeline import PipelineConfig, make_pipeline, process_record
from bhpe_tf.data.records import DataError, read_image
from bhpe_tf.data.transforms import AugmentConfig
from bhpe_tf.data.wholebody_targets import WholeBodyTargetConfig


@pytest.fixture(scope="module")
def coco_records(shared_data):
    return list(load_coco(annotation_file=shared_data / "coco" / "test_coco.json", min_keypoints=1))


def test_pipeline_shapes_and_targets(coco_records):
    cfg = PipelineConfig(augment=AugmentConfig.hrnet_coco(), batch_size=4, seed=7, shuffle=True)
    pipe = make_pipeline(records=coco_records, config=cfg)
    batches = list(pipe.dataset)
    assert sum(b["image"].shape[0] for b in batches) == len(coco_records)
    b = batches[0]
    assert b["image"].shape == (4, 256, 192, 3) and b["image"].dtype.name == "float32"
    assert b["heatmaps"].shape == (4, 64, 48, 17) and b["target_weight"].shape == (4, 17)
    assert b["matrix"].shape == (4, 2, 3) and b["keypoints"].shape == (4, 17, 3)
    # the heatmaps encode the returned crop keypoints
    coords, _ = cfg.codec.decode(b["heatmaps"].numpy())
    kp = b["keypoints"].numpy()
    # joints inside the crop (HRNet also keeps joints near or past the border, whose Gaussian is cut)
    w = (b["target_weight"].numpy() > 0) & np.all((kp[..., :2] >= 4) & (kp[..., :2] < [188, 252]), axis=-1)
    assert np.abs(coords * 4 - b["keypoints"].numpy()[..., :2])[w].max() <= 2.0 + 1e-3
    assert pipe.skips.total == 0
    # same seed, same augmentation draws
    again = next(iter(make_pipeline(records=coco_records, config=cfg).dataset))
    np.testing.assert_array_equal(again["image"].numpy(), b["image"].numpy())
    np.testing.assert_array_equal(again["rotation"].numpy(), b["rotation"].numpy())


def test_wholebody_targets_follow_the_flip(shared_data):
    recs = load_coco(annotation_file=shared_data / "coco" / "test_coco_wholebody.json")
    rec = recs[0]  # right hand valid, left hand not
    assert rec.rhand_valid == 1.0 and rec.lhand_valid == 0.0
    cfg = PipelineConfig(input_wh=(384, 512), targets=("wholebody",), normalize="unit",
                         wholebody=WholeBodyTargetConfig())
    plain = process_record(rec, config=cfg)
    assert plain["image"].shape == (512, 384, 3) and plain["joint_img"].shape == (133, 3)
    assert plain["rhand_box_valid"][0] == 1.0 and plain["lhand_box_valid"][0] == 0.0
    # the right hand's box (x, y, w, h) -> crop -> 8x6 grid by hand
    x, y, w, h = rec.rhand_box
    mat = plain["matrix"]
    corners = np.array([[x, y], [x + w, y + h]]) @ mat[:, :2].T + mat[:, 2]
    np.testing.assert_allclose(plain["rhand_box_center"], corners.mean(0) / [384, 512] * [6, 8], atol=1e-4)
    np.testing.assert_allclose(plain["rhand_box_size"], (corners[1] - corners[0]) / [384, 512] * [6, 8], atol=1e-4)
    # mirrored: it becomes the left hand, at the mirrored grid position
    flip_cfg = PipelineConfig(input_wh=(384, 512), targets=("wholebody",), normalize="unit",
                              augment=AugmentConfig(flip_prob=1.0, rotation_prob=0.0, scale_factor=0.0,
                                                    half_body_prob=0.0))
    flipped = process_record(rec, config=flip_cfg, rng=np.random.default_rng(0))
    assert flipped["lhand_box_valid"][0] == 1.0 and flipped["rhand_box_valid"][0] == 0.0
    assert flipped["lhand_box_center"][0] == pytest.approx(6 - plain["rhand_box_center"][0], abs=0.05)
    assert flipped["smplx_pose"].shape == (55, 3) and not flipped["smplx_pose_valid"].any()
    # joint 9 (left wrist) of the flipped crop is the mirrored right wrist (10)
    assert flipped["joint_img"][9, 0] == pytest.approx(6 - plain["joint_img"][10, 0], abs=0.05)


def test_h36m_wholebody_depth_targets(shared_data):
    from bhpe_tf.data.h36m import load_h36m_npz

    rec = load_h36m_npz(npz_file=shared_data / "h36m" / "test_h36m_body3d.npz")[0]
    cfg = PipelineConfig(input_wh=(384, 512), targets=("wholebody",), normalize="unit")
    out = process_record(rec, config=cfg)
    z = rec.joints_3d[:, 2] - rec.joints_3d[0, 2]
    np.testing.assert_allclose(out["joint_img"][:, 2], (z / 1.0 + 1) / 2 * 8, atol=1e-4)
    assert out["joint_cam_valid"].all() and out["joint_trunc"].sum() > 10


def _bad_images(tmp_path, src):
    good = src.read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / "garbage.jpg").write_bytes(b"this is not an image")
    image = cv2.imread(str(src))
    cv2.imwrite(str(tmp_path / "gray.png"), cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "rgba.png"), cv2.cvtColor(image, cv2.COLOR_BGR2BGRA))
    shutil.copy(src, tmp_path / "good.jpg")


def test_image_reader_errors_and_conversions(tmp_path, shared_data):
    _bad_images(tmp_path, shared_data / "coco" / "000000000785.jpg")
    for name, msg in (("truncated.jpg", "truncated JPEG"), ("garbage.jpg", "cannot decode"),
                      ("missing.jpg", "not found")):
        with pytest.raises(DataError, match=msg) as err:
            read_image(tmp_path / name, record=42)
        assert name in str(err.value) and "record 42" in str(err.value)
    ref = read_image(tmp_path / "good.jpg")
    assert read_image(tmp_path / "gray.png").shape == ref.shape
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), ref)


def test_pipeline_counts_bad_images_instead_of_crashing(tmp_path, shared_data, coco_records):
    _bad_images(tmp_path, shared_data / "coco" / "000000000785.jpg")
    records = []
    for name in ("good.jpg", "truncated.jpg", "garbage.jpg", "missing.jpg", "gray.png", "rgba.png"):
        r = coco_records[0]
        records.append(type(r)(**{**r.__dict__, "image_path": str(tmp_path / name), "image_id": name}))
    pipe = make_pipeline(records=records, config=PipelineConfig(batch_size=2))
    seen = [int(i) for b in pipe.dataset for i in b["index"].numpy()]
    assert seen == [0, 4, 5]
    assert pipe.skips.total == 3 and "skipped 3" in pipe.skips.report()
    assert any("truncated.jpg" in e for examples in pipe.skips.examples.values() for e in examples)


def test_readers_reject_bad_files(tmp_path, shared_data):
    good = json.load(open(shared_data / "coco" / "test_coco.json"))
    text = json.dumps(good)
    (tmp_path / "trunc.json").write_text(text[: len(text) // 2])
    with pytest.raises(DataError, match=r"trunc\.json: invalid JSON"):
        load_coco(annotation_file=tmp_path / "trunc.json")
    with pytest.raises(DataError, match="file not found"):
        load_coco(annotation_file=tmp_path / "nope.json")
    bad = json.loads(text)
    del bad["annotations"][3]["bbox"]
    (tmp_path / "nokey.json").write_text(json.dumps(bad))
    with pytest.raises(DataError, match=r"nokey\.json: record annotation id .*'bbox'"):
        load_coco(annotation_file=tmp_path / "nokey.json")
    skip = json.loads(text)
    skip["annotations"][0]["keypoints"][0] = float("nan")
    skip["annotations"][1]["bbox"] = [10, 10, 0, 0]
    (tmp_path / "skips.json").write_text(json.dumps(skip))
    recs = load_coco(annotation_file=tmp_path / "skips.json")
    assert len(recs) == 12
    assert recs.skips.counts == {"NaN or inf coordinates": 1, "zero-area box": 1}
    mpii = json.load(open(shared_data / "mpii" / "test_mpii.json"))
    mpii[2]["joints"][0][0] = None
    mpii[3]["scale"] = 0.0
    (tmp_path / "mpii.json").write_text(json.dumps(mpii))
    recs = load_mpii_json(annotation_file=tmp_path / "mpii.json")
    assert len(recs) == 3 and recs.skips.total == 2
    (tmp_path / "p.json").write_text(json.dumps({"preds": [[[1, 2]] * 15]}))
    with pytest.raises(DataError, match="expected .N, 16, 2."):
        load_mpii_predictions(tmp_path / "p.json")


def test_mixed_datasets_need_joint_maps(shared_data):
    from bhpe_tf.data.h36m import load_h36m_npz

    coco = list(load_coco(annotation_file=shared_data / "coco" / "test_coco.json", min_keypoints=1))[:2]
    h36m = list(load_h36m_npz(npz_file=shared_data / "h36m" / "test_h36m_body3d.npz"))[:2]
    mpii = list(load_mpii_json(annotation_file=shared_data / "mpii" / "test_mpii.json"))[:1]
    with pytest.raises(DataError, match="joint_maps"):
        make_pipeline(records=coco + mpii, config=PipelineConfig(batch_size=4))
    # a toy common set: nose-free 2 joints (left wrist, right wrist) from both layouts
    maps = {"coco": (9, 10), "h36m": (13, 16)}
    cfg = PipelineConfig(batch_size=4, joint_maps=maps, input_wh=(384, 512), targets=("heatmaps", "wholebody"))
    pipe = make_pipeline(records=coco + h36m, config=cfg)
    batch = next(iter(pipe.dataset))
    assert batch["keypoints"].shape == (4, 2, 3) and batch["joint_img"].shape == (4, 2, 3)
    assert batch["heatmaps"].shape == (4, 128, 96, 2)
    np.testing.assert_allclose(batch["keypoints"].numpy()[2, 0, :2] / [384, 512] * [6, 8],
                               batch["joint_img"].numpy()[2, 0, :2], atol=1e-4)


def test_pipeline_targets_use_the_configs_codec(coco_records):
    from bhpe_tf.data.codecs import HeatmapCodec

    assert PipelineConfig(input_wh=(96, 128)).codec == HeatmapCodec(input_wh=(96, 128))
    codec = HeatmapCodec(input_wh=(96, 128), sigma=1.0, unbiased=True)
    out = process_record(coco_records[0], config=PipelineConfig(input_wh=(96, 128), codec=codec))
    expected, weights = codec.encode(out["keypoints"])
    np.testing.assert_array_equal(out["heatmaps"], expected)
    np.testing.assert_array_equal(out["target_weight"], weights)
    with pytest.raises(ValueError, match="codec.input_wh"):
        PipelineConfig(input_wh=(192, 256), codec=codec)
