"""Hand4Whole's datasets (bhpe_tf.data.hand4whole): readers on fixtures in the official formats and on the
real samples of ../shared/data, the targets against the camera-frame truth and by hand, the flip, the 3D/2D
mix, and the bad-input messages."""
import json
import os
import shutil

import cv2
import numpy as np
import pytest

from _hand4whole_fixtures import fixture_tree, model_file
from bhpe_tf.body.joint_sets import H4W_FLIP_PERMUTATION, H4W_POSE_FLIP_PERMUTATION
from bhpe_tf.data.hand4whole import layout, readers
from bhpe_tf.data.hand4whole.sources import SameLengthMix, TrainSource
from bhpe_tf.data.hand4whole.targets import FitModel, TargetBuilder, TargetConfig
from bhpe_tf.data.transforms import AugmentConfig, affine_points
from bhpe_tf.errors import MissingFileError, UserError

CONFIG = TargetConfig(input_wh=(64, 64))
NO_AUG_FLIP = AugmentConfig(scale_factor=0.0, rotation_prob=0.0, flip_prob=1.0, half_body_prob=0.0, color_factor=0.0)

# Hand4Whole's tables (common/utils/human_models.py, data/*/*.py), the independent reference.
H4W_FLIP_PAIRS = (
    (1, 2), (3, 4), (5, 6), (8, 9), (10, 11), (12, 13), (14, 17), (15, 18), (16, 19), (20, 21), (22, 23),
    (25, 45), (26, 46), (27, 47), (28, 48), (29, 49), (30, 50), (31, 51), (32, 52), (33, 53), (34, 54), (35, 55),
    (36, 56), (37, 57), (38, 58), (39, 59), (40, 60), (41, 61), (42, 62), (43, 63), (44, 64), (67, 68), (69, 78),
    (70, 77), (71, 76), (72, 75), (73, 74), (83, 87), (84, 86), (88, 97), (89, 96), (90, 95), (91, 94), (92, 99),
    (93, 98), (100, 106), (101, 105), (102, 104), (107, 111), (108, 110), (112, 116), (113, 115), (117, 119),
    (120, 136), (121, 135), (122, 134), (123, 133), (124, 132), (125, 131), (126, 130), (127, 129))
H4W_ORIG_FLIP_PAIRS = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21)) + tuple(
    (22 + i, 37 + i) for i in range(15))
MSCOCO_FLIP_PAIRS = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16), (18, 21), (19, 22), (20, 23)) + tuple(
    (24 + i, 45 + i) for i in range(21)) + (
    (66, 82), (67, 81), (68, 80), (69, 79), (70, 78), (71, 77), (72, 76), (73, 75), (83, 92), (84, 91), (85, 90),
    (86, 89), (87, 88), (97, 101), (98, 100), (102, 111), (103, 110), (104, 109), (105, 108), (106, 113),
    (107, 112), (114, 120), (115, 119), (116, 118), (121, 125), (122, 124), (126, 130), (127, 129), (131, 133))


def _pairs(perm):
    return tuple(sorted({tuple(sorted((i, int(j)))) for i, j in enumerate(perm) if i != j}))


def test_joint_tables_match_hand4whole():
    assert _pairs(H4W_FLIP_PERMUTATION) == H4W_FLIP_PAIRS
    assert _pairs(H4W_POSE_FLIP_PERMUTATION) == H4W_ORIG_FLIP_PAIRS
    assert layout.flip_pairs(layout.MSCOCO_JOINTS) == tuple(sorted(MSCOCO_FLIP_PAIRS))
    assert layout.flip_pairs(layout.H36M_JOINTS) == ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16))
    assert layout.flip_pairs(layout.MPII_JOINTS) == ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
    # H36M reaches 14 of the 137 joints by name (Torso, Head, Head_top have no SMPL-X twin)
    assert (layout.joint_map(layout.H36M_JOINTS) >= 0).sum() == 14
    assert len(layout.MSCOCO_JOINTS) == 134 and (layout.joint_map(layout.MSCOCO_JOINTS) >= 0).sum() == 133 - 1


def _records(name, split="train"):
    root = fixture_tree()[0]
    return list(readers.load_train_set(name, root) if split == "train" else readers.load_eval_set(name, root))


def _truth_by(key, entries, value):
    return next(t for t in entries if t[key] == value)


def test_readers_count_and_skip_as_hand4whole():
    root, _, truth = fixture_tree()
    counts = truth["counts"]
    h36m = readers.load_human36m(root, split="train")
    # frame 3 is not a 5th frame (left out silently, as Hand4Whole); the last 5th frame has no fit: a skip
    assert len(h36m) == counts["h36m_train"] and h36m.skips.counts == {readers.NO_FIT: 1}
    assert {r.extras["subject"] for r in h36m} == {1, 5, 6, 7, 8}
    test = readers.load_human36m(root, split="test")
    assert len(test) == counts["h36m_test"] and all(r.extras["cam_idx"] == "4" for r in test)
    coco = readers.load_mscoco(root)
    assert len(coco) == counts["coco"] and coco.skips.counts == {"crowd": 1, "no body keypoints": 1}
    assert sum(r.smplx is None for r in coco) == 1
    assert "1 of 5 people have no NeuralAnnot SMPL-X fit" in readers.without_fit_note(coco, "MSCOCO")
    strict = readers.load_mscoco(root, require_fit=True)
    assert len(strict) == counts["coco"] - 1 and strict.skips.counts[readers.NO_FIT] == 1
    assert "1 no NeuralAnnot SMPL-X entry" in strict.skips.report()
    assert len(readers.load_mpii(root)) == counts["mpii"]
    agora = readers.load_agora_benchmark(root, split="train")
    assert len(agora) == counts["agora_train"] and agora.skips.total == 2
    assert len(readers.load_agora_benchmark(root, split="validation")) == counts["agora_val"]
    ehf = readers.load_ehf_benchmark(root)
    assert len(ehf) == counts["ehf"] and all(r.vertices.shape == (10475, 3) for r in ehf)


def test_fits_and_joints_reproduce_the_camera_frame_truth():
    """World fits + camera json (H36M), NeuralAnnot fits + virtual cameras (MSCOCO, MPII) and AGORA's 4K
    fits moved into the crop give back the drawn people: 3D within 1e-5 m, their projection through the
    crop within 0.5 px of ``smplx_joint_img`` and of the datasets' own ``joint_img``."""
    root, _, truth = fixture_tree()
    fits = FitModel(model_file())
    builder = TargetBuilder(fit_model=fits, config=CONFIG)
    cases = [("Human36M", "image_id", truth["Human36M"]["train"], lambda r: r.image_id),
             ("MSCOCO", "ann_id", truth["MSCOCO"], lambda r: r.ann_id),
             ("MPII", "ann_id", truth["MPII"], lambda r: r.ann_id),
             ("AGORA", "image_id", truth["AGORA"]["train"], lambda r: int(r.image_id.split("_")[2]))]
    for name, key, entries, ident in cases:
        records = [r for r in _records(name) if r.smplx is not None]
        crops = builder.crops(records)
        for rec, crop, out in zip(records, crops, builder.targets(records, crops)):
            t = _truth_by(key, entries, ident(rec))
            joints, verts = fits([(rec.smplx, rec.camera)])[0]
            if t.get("lhand_valid", True):
                np.testing.assert_allclose(joints, t["joints"], atol=1e-5, err_msg=name)
                np.testing.assert_allclose(verts, t["vertices"], atol=1e-5, err_msg=name)
            if name == "AGORA":  # the drawn crop camera
                xy = t["joints"][:, :2] / t["joints"][:, 2:] * t["crop_focal"] + t["crop_princpt"]
            else:
                xy = t["joints_2d"]
            expected = affine_points(xy, crop.matrix) / 64.0  # 64x64 crop -> 1x1 body grid
            fitted = out["smplx_joint_valid"][:, 0] > 0
            assert fitted.sum() >= 19, name  # at least the body without the feet (H36M, MPII)
            assert np.abs(out["smplx_joint_img"][fitted, :2] - expected[fitted]).max() * 64 < 0.5, name
            annotated = out["joint_valid"][:, 0] > 0
            if name == "MSCOCO":  # COCO's pelvis is the hip midpoint, not SMPL-X's pelvis
                annotated[0] = False
            assert np.abs(out["joint_img"][annotated, :2] - expected[annotated]).max() * 64 < 0.5, name
    # Human3.6M's 3D joints (world json, mm) come back in camera metres, root-relative
    for rec in _records("Human36M"):
        t = _truth_by("image_id", truth["Human36M"]["train"], rec.image_id)
        np.testing.assert_allclose(rec.joints_3d, t["h36m_cam"], atol=1e-6)


def test_masks_follow_hand4whole_per_dataset():
    builder = TargetBuilder(fit_model=model_file(), config=CONFIG)
    by_set = {name: builder.batch(_records(name)[:5]) for name in ("Human36M", "MSCOCO", "MPII", "AGORA")}
    names = layout.POSE_NAMES
    h36m, coco, mpii, agora = (by_set[n] for n in ("Human36M", "MSCOCO", "MPII", "AGORA"))
    for batch in (h36m, mpii):  # body-only NeuralAnnot fits: no hands / face; no ankle / wrist rotations
        for limb in ("L_Ankle", "R_Ankle", "L_Wrist", "R_Wrist"):
            assert not batch["smplx_pose_valid"][:, names.index(limb)].any()
        assert not batch["smplx_pose_valid"][:, 22:].any() and batch["smplx_pose_valid"][:, 1].all()
        assert not batch["smplx_joint_valid"][:, 14:20].any() and not batch["smplx_joint_valid"][:, 25:].any()
        assert not batch["smplx_expr_valid"].any() and batch["smplx_shape_valid"].all()
        assert not batch["lhand_box_valid"].any() and not batch["face_box_valid"].any()
    assert h36m["is_3d"].all() and not mpii["is_3d"].any() and not mpii["joint_cam_valid"].any()
    assert h36m["joint_cam_valid"][:, :, 0].sum(1).tolist() == [14] * len(h36m["is_3d"])
    # MSCOCO: the second person's left hand is lhand_valid false; the last has no fit at all
    assert not coco["smplx_pose_valid"][1, 22:37].any() and coco["smplx_pose_valid"][1, 37:].all()
    assert not coco["smplx_joint_valid"][1, 25:45].any() and coco["smplx_joint_valid"][1, 45:].all()
    no_fit = len(coco["is_3d"]) - 1
    for key in ("smplx_pose_valid", "smplx_joint_valid", "smplx_shape_valid", "smplx_expr_valid"):
        assert not coco[key][no_fit].any(), key
    assert coco["joint_trunc"][no_fit].sum() > 20 and coco["lhand_box_valid"].all()
    # AGORA: the fit is the ground truth, everything supervised
    np.testing.assert_array_equal(agora["joint_img"], agora["smplx_joint_img"])
    assert agora["smplx_pose_valid"].all() and agora["face_box_valid"].all() and agora["is_3d"].all()


def test_targets_of_one_record_by_hand():
    """A Human3.6M record with a drawn scale and rotation, every number worked out from the definitions."""
    root, _, truth = fixture_tree()
    rec = _records("Human36M")[0]
    t = _truth_by("image_id", truth["Human36M"]["train"], rec.image_id)
    aug = AugmentConfig(scale_factor=0.25, rotation_factor=30.0, rotation_prob=1.0, flip_prob=0.0,
                        half_body_prob=0.0, color_factor=0.2)
    builder = TargetBuilder(fit_model=model_file(), config=TargetConfig(input_wh=(128, 128)), augment=aug)
    rng = np.random.default_rng(3)
    crop = builder.crops([rec], [rng])[0]
    out = builder.targets([rec], [crop])[0]
    # the drawn augmentation: scale 1 + 0.25 clip(N), rotation 30 clip(N, -2, 2), colour U(0.8, 1.2)
    ref = np.random.default_rng(3)
    scale = 1 + 0.25 * np.clip(ref.standard_normal(), -1, 1)
    assert ref.random() <= 1.0
    rot = 30.0 * np.clip(ref.standard_normal(), -2, 2)
    assert crop.augment.rot == pytest.approx(rot) and crop.augment.scale[0] == pytest.approx(rec.scale[0] * scale)
    # the crop affine: centre -> crop centre, rotated by rot, zoomed 128 / (box width x scale)
    a = np.deg2rad(rot)
    zoom = 128 / (rec.scale[0] * scale)
    expect = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) * zoom
    np.testing.assert_allclose(crop.matrix[:, :2], expect, atol=1e-5)
    np.testing.assert_allclose(crop.matrix @ np.r_[rec.center, 1], [64, 64], atol=1e-3)
    # pelvis: the projection of the camera-frame pelvis through the crop, in 2x2 grid cells; depth bin 4
    pelvis_px = t["joints"][0, :2] / t["joints"][0, 2] * rec.camera.f + rec.camera.c
    np.testing.assert_allclose(out["joint_img"][0, :2], (crop.matrix @ np.r_[pelvis_px, 1]) / 64, atol=1e-4)
    assert out["joint_img"][0, 2] == pytest.approx(4.0) and out["smplx_joint_img"][0, 2] == pytest.approx(4.0)
    # the left wrist: root-relative, rotated by R_z(-rot), depth bin (z / 1 m + 1) / 2 * 8
    rel = t["joints"][12] - t["joints"][0]
    rz = np.array([[np.cos(-a), -np.sin(-a), 0], [np.sin(-a), np.cos(-a), 0], [0, 0, 1]])
    np.testing.assert_allclose(out["smplx_joint_cam"][12], rz @ rel, atol=1e-5)
    np.testing.assert_allclose(out["joint_cam"][12], rz @ (t["h36m_cam"][13] - t["h36m_cam"][0]), atol=1e-5)
    assert out["joint_img"][12, 2] == pytest.approx((rel[2] / 1.0 + 1) / 2 * 8, abs=1e-4)
    # a left-hand joint is relative to the wrist (hand_3d_size 0.3 m for its depth bin)
    lthumb = t["joints"][25] - t["joints"][12]
    assert out["smplx_joint_img"][25, 2] == pytest.approx((lthumb[2] / 0.15 + 1) / 2 * 8, abs=1e-3)
    # the root rotation: camera-frame root, then R_z(-rot); the image: crop x colour / 255
    root = cv2.Rodrigues(rz @ cv2.Rodrigues(t["pose"][0].astype(np.float64))[0])[0].reshape(3)
    np.testing.assert_allclose(out["smplx_pose"][0], root, atol=1e-4)
    np.testing.assert_allclose(out["smplx_pose"][1:22], t["pose"][1:22], atol=1e-6)
    assert ref.random() >= 0.0  # the flip draw (flip_prob 0)
    color = ref.uniform(0.8, 1.2, 3)
    np.testing.assert_allclose(out["image"], np.minimum(crop.image * color, 255) / 255, atol=1e-6)
    # betas beyond 3 are reset to the mean shape
    big = rec.smplx.betas.copy()
    big[4] = 3.5
    shifted = dict(vars(rec.smplx), betas=big)
    rec.smplx = type(rec.smplx)(**shifted)
    assert not builder.targets([rec], [crop])[0]["smplx_shape"].any()


def test_flip_mirrors_swaps_and_negates():
    builder = TargetBuilder(fit_model=model_file(), config=CONFIG)
    flipper = TargetBuilder(fit_model=model_file(), config=CONFIG, augment=NO_AUG_FLIP)
    rec = _records("MSCOCO")[0]
    plain = builder.batch([rec])
    flip = flipper.batch([rec], rngs=[np.random.default_rng(0)])
    perm = H4W_FLIP_PERMUTATION
    for key, mask in (("joint_img", "joint_valid"), ("smplx_joint_img", "smplx_joint_valid")):
        # x' = W_grid - x (the crop mirrors about its centre), joints trade places
        ok = plain[mask][0, :, 0] > 0
        assert ok.sum() > 100
        np.testing.assert_allclose(flip[key][0][perm][ok, 0], 1.0 - plain[key][0][ok, 0], atol=1e-5)
        np.testing.assert_allclose(flip[key][0][perm][ok, 1:], plain[key][0][ok, 1:], atol=1e-5)
    np.testing.assert_allclose(flip["smplx_joint_cam"][0][perm], plain["smplx_joint_cam"][0] * [-1, 1, 1], atol=1e-6)
    np.testing.assert_array_equal(flip["joint_valid"][0][perm], plain["joint_valid"][0])
    pose = plain["smplx_pose"][0][H4W_POSE_FLIP_PERMUTATION] * [1, -1, -1]
    np.testing.assert_allclose(flip["smplx_pose"][0], pose, atol=1e-6)
    np.testing.assert_array_equal(flip["smplx_pose_valid"][0], plain["smplx_pose_valid"][0][H4W_POSE_FLIP_PERMUTATION])
    assert flip["lhand_box_center"][0][0] == pytest.approx(1.0 - plain["rhand_box_center"][0][0], abs=1e-5)
    np.testing.assert_allclose(flip["lhand_box_size"], plain["rhand_box_size"], atol=1e-5)
    # crop pixel u of the mirrored image samples the plain crop's pixel W - u
    np.testing.assert_allclose(flip["image"][0][:, 1:], plain["image"][0][:, :0:-1], atol=2 / 255)


def test_same_length_mix_is_hand4whole_multiple_datasets():
    three_d, two_d = [f"a{i}" for i in range(5)], [f"b{i}" for i in range(9)]
    mix = SameLengthMix([three_d, two_d], seed=1)
    assert len(mix) == 18  # 2 x max(5, 9)
    # 3D group: slots 0..4 in order, slots 5..8 (beyond the last full cycle 5 * (9 // 5)) at random
    assert [mix.pick(i, epoch=0) for i in range(5)] == three_d
    assert all(mix.pick(i, epoch=0) in three_d for i in range(5, 9))
    assert [mix.pick(9 + i, epoch=0) for i in range(9)] == two_d
    assert [mix.pick(i, epoch=3) for i in range(5, 9)] == [mix.pick(i, epoch=3) for i in range(5, 9)]
    assert len(SameLengthMix([three_d, []])) == 5  # one group: used as is (make_same_len=False)


def test_training_source_is_deterministic_and_balanced():
    root = fixture_tree()[0]
    from bhpe_tf.data.hand4whole.sources import build_sources

    data = {"train_sets": {"3d": ["Human36M"], "2d": ["MSCOCO", "MPII"]}, "val_set": "EHF",
            "augment": {"scale_factor": 0.25, "rotation_factor": 30.0, "flip_prob": 0.5, "half_body_prob": 0.0,
                        "color_factor": 0.2}}
    train, val, report = build_sources(data, root=root, smplx_model_path=model_file(), input_wh=(64, 64), seed=0)
    assert isinstance(train, TrainSource) and len(train) == 18 and len(val) == 3
    assert any("length-equalised to 18" in line for line in report)
    a, b = train.batch(16, 4), train.batch(16, 4)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    epoch = train.batch(0, 18)
    assert epoch["is_3d"].sum() == 9  # half of every epoch from the 3D group
    spec = train.element_spec()
    assert {k: v.shape[1:] for k, v in a.items()} == {k: s[0] for k, s in spec.items()}
    held_out = val.batch(0, 3)
    assert held_out["mesh_gt_valid"].all() and held_out["mesh_gt"].shape == (3, 10475, 3)


# ------------------------------------------------------------------------------- real samples
def _write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def test_real_human36m_frames_in_hand4whole_layout(shared_data, tmp_path):
    """The four real H36M frames written as Hand4Whole's subject files (world joints in mm, camera R / t
    json) with made-up fits: read back, the 3D joints are the real ones and their projection is the real 2D
    annotation within 3 px (Hand4Whole projects without the lens distortion the labels include)."""
    import pickle

    npz = np.load(shared_data / "h36m" / "test_h36m_body3d.npz")
    with open(shared_data / "h36m" / "cameras.pkl", "rb") as handle:
        cams = pickle.load(handle)
    rng = np.random.default_rng(0)
    files = {s: {"images": [], "annotations": []} for s in (1, 5, 6, 7, 8)}
    cameras, joints, fits = ({s: {} for s in files} for _ in range(3))
    for i, name in enumerate(npz["imgname"]):
        subject, cam_name = readers_subject(name)
        frame = int(str(name).rsplit("_", 1)[1].split(".")[0]) - 1
        c = cams[(f"S{subject}", cam_name)]
        rot, t = np.asarray(c["R"]), np.array([100.0, -50.0, 200.0])
        cameras[subject]["1"] = {"R": rot.tolist(), "t": t.tolist(), "f": np.ravel(c["f"]).tolist(),
                                 "c": np.ravel(c["c"]).tolist()}
        world = (npz["S"][i, :, :3] * 1000.0 - t) @ rot
        joints[subject].setdefault("2", {}).setdefault("1", {})[str(frame)] = world.tolist()
        fits[subject].setdefault("2", {}).setdefault("1", {})[str(frame)] = {
            "root_pose": rng.normal(0, 0.3, 3).tolist(), "body_pose": rng.normal(0, 0.2, 63).tolist(),
            "shape": rng.normal(0, 1, 10).tolist(), "trans": [0.0, 0.0, 0.0]}
        side = float(npz["scale"][i]) * 200 / 1.25
        files[subject]["images"].append({"id": i, "file_name": str(name), "width": int(c["w"]), "height": int(c["h"]),
                                         "subject": subject, "action_idx": 2, "subaction_idx": 1, "frame_idx": frame,
                                         "cam_idx": 1})
        files[subject]["annotations"].append({"id": i, "image_id": i,
                                              "bbox": (np.r_[npz["center"][i] - side / 2, side, side]).tolist()})
    ann = tmp_path / "Human36M" / "annotations"
    for s in files:
        for kind, value in (("data", files[s]), ("camera", cameras[s]), ("joint_3d", joints[s]),
                            ("SMPLX_NeuralAnnot", fits[s])):
            _write(ann / f"Human36M_subject{s}_{kind}.json", value)
    os.symlink(shared_data / "h36m", tmp_path / "Human36M" / "images")
    records = readers.load_human36m(tmp_path)
    assert len(records) == 4 and records.skips.total == 0  # frames 0, 2060, 395, 25: all 5th frames
    for i, rec in enumerate(records):
        np.testing.assert_allclose(rec.joints_3d, npz["S"][i, :, :3], atol=1e-6)
        assert np.abs(rec.keypoints[:, :2] - npz["part"][i, :, :2]).max() < 3.0
        assert os.path.isfile(rec.image_path)
    out = TargetBuilder(fit_model=model_file(), config=TargetConfig(input_wh=(384, 512))).batch(list(records))
    z = npz["S"][:, :, 2] - npz["S"][:, :1, 2]
    # Pelvis, L/R hip, knee, ankle of the 137 joints are H36M's 0, 4/1, 5/2, 6/3
    np.testing.assert_allclose(out["joint_img"][:, [0, 1, 2, 3, 4, 5, 6], 2],
                               ((z / 1.0 + 1) / 2 * 8)[:, [0, 4, 1, 5, 2, 6, 3]], atol=1e-4)
    assert out["joint_trunc"][:, :14].mean() > 0.9 and out["image"].shape == (4, 512, 384, 3)


def readers_subject(imgname):
    from bhpe_tf.data.h36m import parse_imgname

    subject, cam = parse_imgname(imgname)
    return int(subject[1:]), cam


def test_real_coco_wholebody_in_hand4whole_layout(shared_data, tmp_path):
    base = tmp_path / "MSCOCO"
    (base / "annotations").mkdir(parents=True)
    (base / "images").mkdir()
    shutil.copy(shared_data / "coco" / "test_coco_wholebody.json", base / "annotations" / "coco_wholebody_train_v1.0.json")
    os.symlink(shared_data / "coco", base / "images" / "train2017")
    raw = json.load(open(shared_data / "coco" / "test_coco_wholebody.json"))["annotations"]
    rng = np.random.default_rng(0)
    fits = {str(a["id"]): {"smplx_param": {"root_pose": [np.pi, 0, 0], "body_pose": rng.normal(0, 0.1, 63).tolist(),
                                           "shape": [0.0] * 10, "trans": [0.0, 0.0, 8.0], "lhand_valid": False,
                                           "rhand_valid": False, "face_valid": False},
                           "cam_param": {"focal": [1500.0, 1500.0], "princpt": [320.0, 240.0]}}
            for a in raw[::2]}
    _write(base / "annotations" / "MSCOCO_train_SMPLX_all_NeuralAnnot.json", fits)
    records = readers.load_mscoco(tmp_path)
    with_keypoints = [a for a in raw if a["num_keypoints"] > 0 and not a["iscrowd"]]
    assert len(records) == len(with_keypoints) == 12
    assert records.skips.counts == {"no body keypoints": 2}
    assert sum(r.smplx is not None for r in records) == sum(str(a["id"]) in fits for a in with_keypoints)
    ann = next(a for a in raw if a["id"] == records[0].ann_id)
    body = np.asarray(ann["keypoints"], np.float32).reshape(17, 3)
    face = np.asarray(ann["face_kpts"], np.float32).reshape(68, 3)
    kp = records[0].keypoints
    np.testing.assert_allclose(kp[17, :2], (body[11, :2] + body[12, :2]) / 2)  # pelvis = hip midpoint
    np.testing.assert_allclose(kp[66:83, :2], face[:17, :2])  # contour first, then the 51 landmarks
    np.testing.assert_allclose(kp[83:, :2], face[17:, :2])
    # the flip on a real crop: joints mirror in the grid and trade sides, hand boxes trade sides
    config = TargetConfig(input_wh=(384, 512))
    rec = next(r for r in records if r.rhand_valid and not r.lhand_valid)
    plain = TargetBuilder(fit_model=model_file(), config=config).batch([rec])
    flip = TargetBuilder(fit_model=model_file(), config=config, augment=NO_AUG_FLIP).batch(
        [rec], rngs=[np.random.default_rng(0)])
    ok = plain["joint_valid"][0, :, 0] > 0
    np.testing.assert_allclose(flip["joint_img"][0][H4W_FLIP_PERMUTATION][ok, 0], 6.0 - plain["joint_img"][0][ok, 0],
                               atol=1e-4)
    assert flip["lhand_box_valid"][0, 0] == 1 and flip["rhand_box_valid"][0, 0] == 0
    x, y, w, h = rec.rhand_box
    corners = affine_points(np.array([[x, y], [x + w, y + h]]), TargetBuilder(
        fit_model=model_file(), config=config).crops([rec])[0].matrix)
    np.testing.assert_allclose(plain["rhand_box_center"][0], corners.mean(0) / [384, 512] * [6, 8], atol=1e-4)
    np.testing.assert_allclose(plain["rhand_box_size"][0], (corners[1] - corners[0]) / [384, 512] * [6, 8], atol=1e-4)


# ------------------------------------------------------------------------------------ bad input
def test_missing_files_name_the_dataset_and_the_expected_path(tmp_path):
    root = fixture_tree()[0]
    for name, relative in (("Human36M", "Human36M/annotations/Human36M_subject7_camera.json"),
                           ("MSCOCO", "MSCOCO/annotations/MSCOCO_train_SMPLX_all_NeuralAnnot.json"),
                           ("MPII", "MPII/data/annotations/train.json"), ("AGORA", "AGORA/data/AGORA_train_SMPLX.json")):
        copy = tmp_path / name
        shutil.copytree(root / relative.split("/")[0], copy / relative.split("/")[0])
        os.remove(copy / relative)
        with pytest.raises(MissingFileError) as err:
            readers.load_train_set(name, copy)
        message = str(err.value)
        assert message.startswith(f"{name}: ") and str(copy / relative) in message and "\n" not in message
    with pytest.raises(MissingFileError, match="EHF: no EHF.json"):
        readers.load_eval_set("EHF", tmp_path / "nothing")


def test_mesh_training_on_real_data_needs_the_smplx_model_before_any_work(tmp_path):
    from bhpe_tf.training import config as C
    from bhpe_tf.training.loop import train

    config = C.load_config("binaryhpe_bidrn")
    with pytest.raises(UserError, match="needs the SMPL-X model: --config.data.smplx_model=PATH") as err:
        train(config, workdir=tmp_path / "run", data_dir=fixture_tree()[0], progress=False, log=lambda *a: None)
    assert "\n" not in str(err.value) and not (tmp_path / "run").exists()


def test_synthetic_renders_take_the_same_target_path():
    from bhpe_tf.data.synthetic import SyntheticMesh

    ds = SyntheticMesh(smplx_model_path=model_file(), input_wh=(64, 64), with_mesh=True)
    batch = ds.batch(0, 2)
    records, images = ds.records(0, 2)
    again = TargetBuilder(fit_model=model_file(), config=ds.target_config).batch(records, images=images)
    for key, value in again.items():
        np.testing.assert_allclose(batch[key], value, atol=1e-5, err_msg=key)
    # the render is its own crop: the fit projects where it was drawn, and the mesh is the drawn one
    joints = FitModel(model_file())([(records[0].smplx, records[0].camera)])[0][0]
    xy = records[0].camera.project(joints) / 64.0
    np.testing.assert_allclose(batch["joint_img"][0, :, :2], xy, atol=1e-5)
    assert batch["smplx_pose"].shape == (2, 53, 3) and batch["smplx_pose_valid"].all()
