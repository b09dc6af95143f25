"""Dataset readers on the real public samples (../shared/data) and on small synthetic EHF/AGORA folders."""
import json

import cv2
import numpy as np
import pytest

from bhpe_tf.data.agora import load_agora
from bhpe_tf.data.coco import load_coco
from bhpe_tf.data.ehf import EHF_TRANSLATION, ehf_camera, load_ehf, read_ply_vertices
from bhpe_tf.data.h36m import load_h36m_npz, smplx_from_neuralannot
from bhpe_tf.data.meta import available, get_meta, smplx_flip_permutation
from bhpe_tf.data.mpii import load_mpii_eval_mat, load_mpii_json
from bhpe_tf.data.records import DataError


def test_coco_counts_and_layout(shared_data):
    coco = load_coco(annotation_file=shared_data / "coco" / "test_coco.json")
    assert len(coco) == 14 and coco.skips.total == 0
    raw = json.load(open(shared_data / "coco" / "test_coco.json"))["annotations"]
    for rec, ann in zip(coco, raw):
        kp = np.asarray(ann["keypoints"], np.float32).reshape(17, 3)
        np.testing.assert_array_equal(rec.keypoints[:, :2], kp[:, :2])
        np.testing.assert_array_equal(rec.keypoints[:, 2], np.minimum(kp[:, 2], 1))
        assert rec.image_path.endswith(f"{ann['image_id']:012d}.jpg")
    # HRNet's training filter drops the two people without keypoints, and says so.
    train = load_coco(annotation_file=shared_data / "coco" / "test_coco.json", min_keypoints=1)
    assert len(train) == 12 and train.skips.counts["too few keypoints"] == 2


def test_coco_center_scale_follow_hrnet(shared_data):
    rec = load_coco(annotation_file=shared_data / "coco" / "test_coco.json")[0]
    # bbox [280.79, 44.73, 218.7, 346.68] in a 640x425 image: HRNet cleans it to w-1, h-1.
    x, y, w, h = 280.79, 44.73, 217.7, 345.68
    np.testing.assert_allclose(rec.center, [x + w / 2, y + h / 2], rtol=1e-6)
    np.testing.assert_allclose(rec.scale, [h * 0.75 * 1.25, h * 1.25], rtol=1e-6)


def test_coco_wholebody_parts(shared_data):
    wb = load_coco(annotation_file=shared_data / "coco" / "test_coco_wholebody.json")
    assert len(wb) == 14 and all(r.keypoints.shape == (133, 3) and r.dataset == "coco_wholebody" for r in wb)
    raw = json.load(open(shared_data / "coco" / "test_coco_wholebody.json"))["annotations"]
    for rec, ann in zip(wb, raw):
        np.testing.assert_allclose(rec.keypoints[91:112, :2], np.reshape(ann["lefthand_kpts"], (21, 3))[:, :2],
                                   rtol=1e-6)
        assert rec.face_valid == float(ann["face_valid"] and ann["face_box"][2] > 0)
        assert rec.lhand_valid == float(ann["lefthand_valid"] and ann["lefthand_box"][2] > 0)
        np.testing.assert_allclose(rec.rhand_box, ann["righthand_box"], rtol=1e-6)


def test_coco_detections(shared_data):
    dets = json.load(open(shared_data / "coco" / "test_coco_det_AP_H_56.json"))
    recs = load_coco(annotation_file=shared_data / "coco" / "test_coco.json",
                     detections_file=shared_data / "coco" / "test_coco_det_AP_H_56.json")
    assert len(recs) == len(dets) and all(not r.keypoints.any() for r in recs)
    assert recs[0].bbox_score == pytest.approx(dets[0]["score"])
    high = load_coco(annotation_file=shared_data / "coco" / "test_coco.json",
                     detections_file=shared_data / "coco" / "test_coco_det_AP_H_56.json", det_score_threshold=0.5)
    assert len(high) + high.skips.counts["score below threshold"] == len(dets)


def test_mpii_json_one_based_to_zero_based(shared_data):
    mpii = load_mpii_json(annotation_file=shared_data / "mpii" / "test_mpii.json")
    assert len(mpii) == 5
    raw = json.load(open(shared_data / "mpii" / "test_mpii.json"))
    for rec, a in zip(mpii, raw):
        np.testing.assert_allclose(rec.keypoints[:, :2], np.asarray(a["joints"]) - 1, atol=1e-4)
        s = a["scale"]
        np.testing.assert_allclose(rec.center, [a["center"][0] - 1, a["center"][1] + 15 * s - 1], atol=1e-3)
        np.testing.assert_allclose(rec.scale, [s * 1.25 * 200] * 2, rtol=1e-6)


def test_mpii_samples_are_the_first_validation_people(shared_data):
    ev = load_mpii_eval_mat(shared_data / "mpii_val" / "detections_our_format.mat")
    assert ev.gt.shape == (2958, 16, 2) and ev.predictions.shape == (2958, 16, 2)
    raw = json.load(open(shared_data / "mpii" / "test_mpii.json"))
    heads = json.load(open(shared_data / "mpii" / "mpii_sample_headboxes.json"))["samples"]
    for h in heads:
        a = next(x for x in raw if x["image"] == h["image"])
        i = h["mpii_val_index_tompson"]
        seen = ~ev.missing[i]
        np.testing.assert_allclose(ev.gt[i][seen], np.asarray(a["joints"])[seen], atol=1e-3)
        np.testing.assert_array_equal(seen, np.asarray(a["joints_vis"]) > 0)
        size = 0.6 * np.linalg.norm(ev.headboxes[i, 1] - ev.headboxes[i, 0])
        assert size == pytest.approx(h["head_size_SC_BIAS_0_6"], rel=1e-6)


def test_h36m_frames_project_with_cameras(shared_data):
    h36m = load_h36m_npz(npz_file=shared_data / "h36m" / "test_h36m_body3d.npz",
                         cameras_file=shared_data / "h36m" / "cameras.pkl")
    assert len(h36m) == 4
    for rec in h36m:
        assert rec.camera is not None and rec.joints_3d.shape == (17, 3)
        # Undistorted pinhole: within 3 px; with H36M's radial/tangential model the 2D labels are exact.
        assert np.abs(rec.camera.project(rec.joints_3d) - rec.keypoints[:, :2]).max() < 3.0
        assert np.abs(rec.camera.project(rec.joints_3d, distort=True) - rec.keypoints[:, :2]).max() < 1e-3
        assert (shared_data / "h36m" / rec.image_id).exists()


def test_neuralannot_smplx_masks_missing_parts():
    entry = {"root_pose": [0.1, 0.2, 0.3], "body_pose": [0.0] * 63, "shape": [0.5] * 10, "trans": [0, 0, 3]}
    p = smplx_from_neuralannot(entry)
    assert p.pose_valid[:22].all() and not p.pose_valid[22:].any()
    assert p.betas_valid == 1.0 and p.expression_valid == 0.0
    with pytest.raises(DataError, match="root_pose"):
        smplx_from_neuralannot({"body_pose": [0.0] * 63}, path="x.json", record="S1/2/1/0")


def test_keypoint_tables_match_the_reference(shared_data):
    """The package's own keypoints.json agrees with the mmpose-extracted table in shared/data."""
    ref = json.load(open(shared_data / "keypoint_meta.json"))
    for name in ("coco", "coco_wholebody", "mpii", "h36m"):
        meta = get_meta(name)
        assert list(meta.keypoint_names) == ref[name]["keypoint_names"]
        assert sorted(map(sorted, meta.flip_pairs)) == sorted(map(sorted, ref[name]["flip_pairs"]))
        assert list(meta.joint_weights) == pytest.approx(ref[name]["joint_weights"])
        if ref[name]["sigmas"]:
            np.testing.assert_allclose(meta.sigmas, ref[name]["sigmas"])
        assert all(0 <= i < meta.num_keypoints and 0 <= j < meta.num_keypoints for i, j in meta.skeleton)
    assert set(available()) >= {"coco", "coco_wholebody", "mpii", "h36m"}
    assert get_meta("coco_wholebody").parts["face"] == (23, 91)


def test_smplx_flip_permutation_by_name():
    from smplx.joint_names import JOINT_NAMES

    perm = smplx_flip_permutation()
    np.testing.assert_array_equal(perm[perm], np.arange(55))
    names = JOINT_NAMES[:55]
    assert names[perm[names.index("left_hip")]] == "right_hip"
    assert names[perm[names.index("left_eye_smplhf")]] == "right_eye_smplhf"
    assert names[perm[names.index("right_thumb3")]] == "left_thumb3"
    assert perm[0] == 0 and perm[names.index("jaw")] == names.index("jaw")


# --------------------------------------------------------------------------- EHF / AGORA (synthetic)
def _write_ply(path, verts, *, binary):
    header = (f"ply\nformat {'binary_little_endian' if binary else 'ascii'} 1.0\nelement vertex {len(verts)}\n"
              "property float x\nproperty float y\nproperty float z\nelement face 1\n"
              "property list uchar int vertex_indices\nend_header\n").encode()
    if binary:
        body = verts.astype("<f4").tobytes() + bytes([3]) + np.array([0, 1, 2], "<i4").tobytes()
    else:
        body = ("\n".join(" ".join(f"{v:.6f}" for v in row) for row in verts) + "\n3 0 1 2\n").encode()
    path.write_bytes(header + body)


def test_ply_reader_ascii_and_binary(tmp_path):
    verts = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    _write_ply(tmp_path / "a.ply", verts, binary=False)
    _write_ply(tmp_path / "b.ply", verts, binary=True)
    np.testing.assert_allclose(read_ply_vertices(tmp_path / "a.ply"), verts, atol=1e-6)
    np.testing.assert_array_equal(read_ply_vertices(tmp_path / "b.ply"), verts)
    (tmp_path / "c.ply").write_bytes((tmp_path / "b.ply").read_bytes()[:300])
    with pytest.raises(DataError, match="truncated PLY"):
        read_ply_vertices(tmp_path / "c.ply")


def _ehf_folder(root, frames):
    rng = np.random.default_rng(1)
    cam = ehf_camera()
    for i in range(1, frames + 1):
        # a body-sized blob 2.4 m in front of the camera, expressed in EHF's world frame
        cam_pts = rng.normal(size=(200, 3)) * [0.2, 0.5, 0.1] + [0, 0, 2.4]
        world = (cam_pts - EHF_TRANSLATION) @ cam.R  # inverse of X_cam = R X + t
        _write_ply(root / f"{i:02d}_align.ply", world, binary=True)
        cv2.imwrite(str(root / f"{i:02d}_img.jpg"), np.full((120, 160, 3), 128, np.uint8))


def test_ehf_reader(tmp_path):
    _ehf_folder(tmp_path, 3)
    recs = load_ehf(root=tmp_path, expected_frames=None)
    assert [r.image_id for r in recs] == ["01", "02", "03"]
    rec = recs[0]
    assert rec.vertices.shape == (200, 3) and abs(rec.vertices[:, 2].mean() - 2.4) < 0.05
    proj = rec.camera.project(rec.vertices)
    assert np.all(proj.min(0) >= rec.bbox[:2] - 1e-3) and np.all(proj.max(0) <= rec.bbox[:2] + rec.bbox[2:] + 1e-3)
    with pytest.raises(DataError, match="expected 100"):
        load_ehf(root=tmp_path)
    (tmp_path / "02_img.jpg").unlink()
    recs = load_ehf(root=tmp_path, expected_frames=None)
    assert len(recs) == 2 and recs.skips.counts["no _img image"] == 1


def test_agora_json_layout(tmp_path):
    data = {"images": [{"file_name": "a.png", "width": 100, "height": 80, "people": [
        {"bbox": [10, 10, 30, 60], "smplx": {"global_orient": [0.1, 0, 0], "body_pose": [0.0] * 63,
                                             "betas": [0.3] * 11, "left_hand_pose": [0.0] * 45}},
        {"bbox": [10, 10, 0, 60], "smplx": {"global_orient": [0, 0, 0], "body_pose": [0.0] * 63}}]}]}
    (tmp_path / "agora.json").write_text(json.dumps(data))
    recs = load_agora(annotation_file=tmp_path / "agora.json")
    assert len(recs) == 1 and recs.skips.counts["zero-area box"] == 1
    p = recs[0].smplx
    assert p.pose[0, 0] == pytest.approx(0.1) and p.betas.shape == (10,)
    assert p.pose_valid[25:40].all() and not p.pose_valid[40:].any() and p.expression_valid == 0.0


def test_mpii_official_release_layout(tmp_path):
    """A two-image RELEASE struct written like the official annotation (1-based MATLAB values)."""
    from scipy.io import savemat

    from bhpe_tf.data.mpii import load_mpii_release_mat

    def person(offset):
        points = np.array([{"x": 100.0 + offset + j, "y": 200.0 + j, "id": j, "is_visible": "1"} for j in range(16)],
                          dtype=object)
        return {"x1": 90.0 + offset, "y1": 150.0, "x2": 120.0 + offset, "y2": 190.0, "scale": 2.0,
                "objpos": {"x": 110.0 + offset, "y": 250.0}, "annopoints": {"point": points}}

    no_joints = {"x1": 1.0, "y1": 1.0, "x2": 5.0, "y2": 5.0, "scale": 1.0, "objpos": {"x": 3.0, "y": 3.0}}
    annolist = np.array([
        {"image": {"name": "a.jpg"}, "annorect": np.array([person(0), person(300)], dtype=object)},
        {"image": {"name": "b.jpg"}, "annorect": no_joints},
    ], dtype=object)
    savemat(tmp_path / "release.mat", {"RELEASE": {"annolist": annolist, "img_train": np.array([1, 1])}})
    recs = load_mpii_release_mat(tmp_path / "release.mat")
    assert len(recs) == 2 and recs.skips.counts["no joints"] == 1
    r = recs[1]
    np.testing.assert_allclose(r.keypoints[3], [300 + 100 + 3 - 1, 200 + 3 - 1, 1])
    np.testing.assert_allclose(r.head_box, [[389, 149], [419, 189]])
    np.testing.assert_allclose(r.center, [410 - 1, 250 + 30 - 1])
    np.testing.assert_allclose(r.scale, [2.0 * 1.25 * 200] * 2)
    assert len(load_mpii_release_mat(tmp_path / "release.mat", split="test")) == 0
    (tmp_path / "bad.mat").write_bytes(b"MATLAB 5.0 MAT-file garbage")
    with pytest.raises(DataError, match=r"bad\.mat: cannot read"):
        load_mpii_release_mat(tmp_path / "bad.mat")
