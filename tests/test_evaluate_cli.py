"""``python -m bhpe_tf.evaluate``: the printed tables on the real samples, and one-line errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.io import loadmat, savemat

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args):
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.evaluate", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def _row(stdout, header_word):
    lines = stdout.splitlines()
    i = next(k for k, line in enumerate(lines) if header_word in line and "|" in line)
    names = [c.strip() for c in lines[i].strip("| ").split("|")]
    values = [float(c) for c in lines[i + 1].strip("| ").split("|")]
    return dict(zip(names, values))


def test_mpii_tompson_table(shared_data):
    mat = shared_data / "mpii_val" / "detections_our_format.mat"
    rc, out, err = _run("--dataset", "mpii", "--predictions", mat, "--annotations", mat)
    assert rc == 0, err
    table = _row(out, "Shoulder")
    # independent check from the raw arrays (visible joints, 0.5 x 0.6 x head diagonal)
    m = loadmat(str(mat))
    gt, pred = m["pos_gt_src"].transpose(2, 0, 1), m["pos_pred_src"].transpose(2, 0, 1)
    vis = m["jnt_missing"].T == 0
    hb = m["headboxes_src"].transpose(2, 0, 1)
    ok = np.linalg.norm(pred - gt, axis=2) <= 0.5 * 0.6 * np.linalg.norm(hb[:, 1] - hb[:, 0], axis=1)[:, None]
    pj = 100 * (ok & vis).sum(0) / vis.sum(0)
    assert table["Head"] == pytest.approx(pj[9], abs=5e-4)
    assert table["Ankle"] == pytest.approx((pj[0] + pj[5]) / 2, abs=5e-4)
    keep = [j for j in range(16) if j not in (6, 7)]
    assert table["Mean"] == pytest.approx(100 * (ok & vis)[:, keep].sum() / vis[:, keep].sum(), abs=5e-4)
    assert f"Unweighted mean of the 14 joints: {pj[keep].mean():.3f}" in out
    assert 81.0 < table["Mean"] < 83.5


def test_mpii_zero_based_npy_predictions(tmp_path, shared_data):
    mat = shared_data / "mpii_val" / "detections_our_format.mat"
    gt = loadmat(str(mat))["pos_gt_src"].transpose(2, 0, 1)
    np.save(tmp_path / "pred.npy", gt - 1.0)  # this project's 0-based output
    rc, out, err = _run("--dataset", "mpii", "--predictions", tmp_path / "pred.npy", "--annotations", mat)
    assert rc == 0, err
    assert _row(out, "Shoulder")["Mean"] == 100.0
    savemat(tmp_path / "hrnet.mat", {"preds": gt})  # HRNet saves 1-based
    rc, out, _ = _run("--dataset", "mpii", "--predictions", tmp_path / "hrnet.mat", "--annotations", mat)
    assert rc == 0 and _row(out, "Shoulder")["Mean"] == 100.0


def test_coco_and_wholebody_tables(tmp_path, shared_data):
    ann = shared_data / "coco" / "test_coco.json"
    gt = json.load(open(ann))
    res = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
           for a in gt["annotations"] if a["num_keypoints"] > 0]
    (tmp_path / "res.json").write_text(json.dumps(res))
    rc, out, err = _run("--dataset", "coco", "--predictions", tmp_path / "res.json", "--annotations", ann)
    assert rc == 0, err
    assert _row(out, "AP .5")["AP"] == 1.0
    d = shared_data / "coco_wholebody_example"
    rc, out, err = _run("--dataset", "coco", "--predictions", d / "example_pred.json", "--annotations",
                        d / "example_gt.json")
    assert rc == 0, err
    for part in ("body", "foot", "face", "lefthand", "righthand", "wholebody"):
        assert f"| {part:>9} |" in out


def test_h36m_ground_truth_is_zero(tmp_path, shared_data):
    npz = shared_data / "h36m" / "test_h36m_body3d.npz"
    data = np.load(npz)
    order = [3, 1, 0, 2]  # shuffled, matched back by imgname
    np.savez(tmp_path / "pred.npz", joints_3d=data["S"][order, :, :3], imgname=data["imgname"][order])
    rc, out, err = _run("--dataset", "h36m", "--predictions", tmp_path / "pred.npz", "--annotations", npz)
    assert rc == 0, err
    row = _row(out, "PA-MPJPE")
    assert row["MPJPE"] == 0.0 and row["PA-MPJPE"] == 0.0


def test_ehf_cli_needs_subsets_and_scores_gt_as_zero(tmp_path):
    import cv2

    root = tmp_path / "EHF"
    root.mkdir()
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(40, 3)) * 0.3 + [0, 0, 2.4]
    header = (f"ply\nformat ascii 1.0\nelement vertex {len(verts)}\n"
              "property float x\nproperty float y\nproperty float z\nend_header\n")
    from bhpe_tf.data.ehf import EHF_TRANSLATION, ehf_camera

    world = (verts - EHF_TRANSLATION) @ ehf_camera().R
    for i in (1, 2):
        (root / f"{i:02d}_align.ply").write_text(header + "\n".join(" ".join(map(str, v)) for v in world) + "\n")
        cv2.imwrite(str(root / f"{i:02d}_img.jpg"), np.zeros((40, 40, 3), np.uint8))
    from bhpe_tf.data.ehf import load_ehf

    gt = np.stack([r.vertices for r in load_ehf(root=root, expected_frames=None)])
    np.savez(tmp_path / "pred.npz", vertices=gt, frames=np.array(["01", "02"]))
    rc, _, err = _run("--dataset", "ehf", "--predictions", tmp_path / "pred.npz", "--annotations", root)
    assert rc == 2 and "--ehf_subsets is required" in err and "Traceback" not in err
    jr = np.zeros((55, 40))
    jr[[0, 12, 20, 21]] = 1 / 40
    np.savez(tmp_path / "subsets.npz", J_regressor=jr, lhand_vertices=np.arange(5), rhand_vertices=np.arange(5, 10),
             face_vertices=np.arange(10, 20))
    rc, out, err = _run("--dataset", "ehf", "--predictions", tmp_path / "pred.npz", "--annotations", root,
                        "--ehf_subsets", tmp_path / "subsets.npz")
    assert rc == 0, err
    assert all(v == pytest.approx(0.0, abs=1e-3) for v in _row(out, "MPVPE all").values())


def test_user_mistakes_are_one_line(tmp_path, shared_data):
    mat = shared_data / "mpii_val" / "detections_our_format.mat"
    (tmp_path / "trunc.json").write_text('[{"image_id": 1, "keypoints": [1, 2')
    (tmp_path / "nokey.json").write_text('[{"image_id": 785, "keypoints": [0, 0, 0]}]')
    (tmp_path / "noimage.json").write_text('[{"image_id": 7, "keypoints": [0, 0, 0], "score": 1}]')
    cases = [
        (("--dataset", "mpii", "--predictions", tmp_path / "none.mat", "--annotations", mat), "file not found"),
        (("--dataset", "coco", "--predictions", tmp_path / "trunc.json", "--annotations",
          shared_data / "coco" / "test_coco.json"), "invalid JSON"),
        (("--dataset", "coco", "--predictions", tmp_path / "nokey.json", "--annotations",
          shared_data / "coco" / "test_coco.json"), "missing key 'score'"),
        (("--dataset", "coco", "--predictions", tmp_path / "noimage.json", "--annotations",
          shared_data / "coco" / "test_coco.json"), "image_id 7 is not in the annotations"),
        (("--dataset", "h36m", "--predictions", tmp_path / "trunc.json", "--annotations",
          shared_data / "h36m" / "test_h36m_body3d.npz"), "cannot read npz"),
        (("--dataset", "mpii", "--predictions", tmp_path / "trunc.json", "--annotations", mat), "invalid JSON"),
        (("--predictions", mat), "--dataset is required"),
        (("--dataset", "coco", "--predictions", tmp_path / "trunc.json"), "--annotations is required"),
    ]
    for args, message in cases:
        rc, out, err = _run(*args)
        assert rc == 2, (args, out, err)
        assert message in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1, err
