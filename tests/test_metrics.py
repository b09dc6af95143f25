"""Metrics against their definitions: PCKh on the full MPII validation set, COCO OKS AP, Procrustes, MPJPE/MPVPE."""
import json

import numpy as np
import pytest
from scipy.io import loadmat
from scipy.optimize import minimize
from scipy.spatial.transform import Rotation

from bhpe_tf.data.mpii import load_mpii_eval_mat
from bhpe_tf.metrics import coco_keypoint_eval, mpjpe, mpvpe, pa_mpjpe, pa_mpvpe, pckh
from bhpe_tf.metrics.coco import coco_wholebody_eval, oks_nms, rescore_instances, topdown_results
from bhpe_tf.metrics.pose3d import EHFSubsets
from bhpe_tf.metrics.procrustes import similarity_procrustes
import bhpe_tf.metrics as metrics


def test_public_names():
    assert sorted(metrics.__all__) == sorted(["pckh", "coco_keypoint_eval", "mpjpe", "pa_mpjpe", "mpvpe", "pa_mpvpe"])


# --------------------------------------------------------------------------- PCKh
def _pckh_by_definition(mat_path, threshold=0.5):
    """Straight from the definition, on the raw .mat arrays: one loop over people and joints."""
    m = loadmat(str(mat_path))
    gt, pred, miss, heads = m["pos_gt_src"], m["pos_pred_src"], m["jnt_missing"], m["headboxes_src"]
    names = [str(x[0]) for x in m["dataset_joints"][0]]
    hits, counts = np.zeros(16), np.zeros(16)
    for i in range(gt.shape[2]):
        x1, y1 = heads[0, 0, i], heads[0, 1, i]
        x2, y2 = heads[1, 0, i], heads[1, 1, i]
        ref = 0.6 * np.sqrt((x2 - x1) ** 2 + (y2 - y1) ** 2)
        for j in range(16):
            if miss[j, i]:
                continue
            counts[j] += 1
            d = np.sqrt((pred[j, 0, i] - gt[j, 0, i]) ** 2 + (pred[j, 1, i] - gt[j, 1, i]) ** 2)
            hits[j] += d / ref <= threshold
    per_joint = 100 * hits / counts
    used = [j for j, n in enumerate(names) if n not in ("pelv", "thor")]
    pooled = 100 * hits[used].sum() / counts[used].sum()
    return names, per_joint, pooled, per_joint[used].mean()


def test_pckh_tompson_full_validation(shared_data):
    path = shared_data / "mpii_val" / "detections_our_format.mat"
    ev = load_mpii_eval_mat(path)
    res = pckh(ev.predictions, ev.gt, missing=ev.missing, headboxes=ev.headboxes)
    names, per_joint, pooled, unweighted = _pckh_by_definition(path)
    assert list(res.joint_names) == names
    np.testing.assert_allclose(res.per_joint, per_joint, atol=1e-9)
    assert res.mean == pytest.approx(pooled, abs=1e-9)  # count-weighted == pooled (MATLAB "Total")
    assert res.mean_unweighted == pytest.approx(unweighted, abs=1e-9)
    # Tompson et al. are reported at about 82.0 PCKh@0.5 on the MPII test set; this is the validation split.
    assert 81.0 < res.mean < 83.5
    t = res.table()
    assert list(t) == ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean", "Mean@0.1"]
    assert t["Head"] == pytest.approx(per_joint[names.index("head")])
    assert t["Wrist"] == pytest.approx((per_joint[names.index("lwri")] + per_joint[names.index("rwri")]) / 2)
    assert t["Mean@0.1"] == pytest.approx(_pckh_by_definition(path, 0.1)[2], abs=1e-9)
    assert res.official_table()["Head"] == pytest.approx((per_joint[9] + per_joint[8]) / 2)


def test_pckh_ground_truth_is_100(shared_data):
    ev = load_mpii_eval_mat(shared_data / "mpii_val" / "detections_our_format.mat")
    res = pckh(ev.gt, ev.gt, missing=ev.missing, headboxes=ev.headboxes)
    assert all(v == 100.0 for v in res.table().values())
    # missing joints do not count even when the prediction is far off
    far = ev.gt.copy()
    far[ev.missing] += 1000
    assert pckh(far, ev.gt, missing=ev.missing, headboxes=ev.headboxes).mean == 100.0


# --------------------------------------------------------------------------- COCO
def _gt_results(gt, *, keep_empty):
    return [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
            for a in gt["annotations"] if keep_empty or a["num_keypoints"] > 0]


def test_coco_ground_truth_ap(shared_data):
    gt = json.load(open(shared_data / "coco" / "test_coco.json"))
    stats = coco_keypoint_eval(_gt_results(gt, keep_empty=False), annotations=shared_data / "coco" / "test_coco.json")
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    # Scoring the two zero-keypoint people like the rest creates two false positives (README: 0.894).
    stats = coco_keypoint_eval(_gt_results(gt, keep_empty=True), annotations=gt)
    assert stats["AP"] == pytest.approx(0.894, abs=1e-3)


def test_coco_wholebody_official_example(shared_data):
    d = shared_data / "coco_wholebody_example"
    res = coco_wholebody_eval(d / "example_pred.json", annotations=d / "example_gt.json")
    assert list(res) == ["body", "foot", "face", "lefthand", "righthand", "wholebody"]
    for part, stats in res.items():
        assert 0.3 < stats["AP"] <= 1.0, part
    # The body part equals the plain COCO evaluation of the body keypoints with the COCO sigmas.
    body = coco_keypoint_eval(d / "example_pred.json", annotations=d / "example_gt.json")
    assert res["body"]["AP"] == pytest.approx(body["AP"], abs=1e-12)
    # Ground truth as predictions, for the people labelled in that part (a person without any
    # labelled keypoint of a part is ignored for it, so predicting it would be a false positive): 1.0.
    gt = json.load(open(d / "example_gt.json"))
    fields = {"body": ["keypoints"], "foot": ["foot_kpts"], "face": ["face_kpts"], "lefthand": ["lefthand_kpts"],
              "righthand": ["righthand_kpts"],
              "wholebody": ["keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts"]}
    keys = ("image_id", "keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")
    for part, names in fields.items():
        labelled = [a for a in gt["annotations"] if any(np.any(np.asarray(a[f])[2::3] > 0) for f in names)]
        perfect = [{k: a[k] for k in keys} | {"category_id": 1, "score": 1.0} for a in labelled]
        stats = coco_wholebody_eval(perfect, annotations=gt, parts=(part,))[part]
        assert stats["AP"] == pytest.approx(1.0), part


def test_rescoring_and_oks_nms():
    scores = rescore_instances([[0.9, 0.1, 0.5, 0.3], [0.1, 0.1, 0.2, 0.0]], [0.8, 1.0])
    np.testing.assert_allclose(scores, [0.8 * (0.9 + 0.5 + 0.3) / 3, 0.0])
    base = np.c_[np.random.default_rng(0).uniform(100, 200, (17, 2)), np.ones(17)]
    people = [{"keypoints": base, "score": 0.9, "area": 5000.0},
              {"keypoints": base + [1.0, 0.0, 0.0], "score": 0.8, "area": 5000.0},  # duplicate
              {"keypoints": base + [80.0, 0.0, 0.0], "score": 0.7, "area": 5000.0}]
    assert oks_nms(people, threshold=0.9) == [0, 2]
    out = topdown_results(image_ids=[1, 1, 1], keypoints=[p["keypoints"][:, :2] for p in people],
                          keypoint_scores=np.ones((3, 17)), box_scores=[0.9, 0.8, 0.7], areas=[5000.0] * 3)
    assert [r["score"] for r in out] == pytest.approx([0.9, 0.7])


# --------------------------------------------------------------------------- 3D
def test_procrustes_recovers_a_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(20, 3))
    rot = Rotation.from_rotvec([0.3, -1.1, 0.7]).as_matrix()
    tgt = 1.7 * src @ rot.T + [0.5, -2.0, 3.0]
    aligned, (s, r, t) = similarity_procrustes(src, tgt)
    np.testing.assert_allclose(aligned, tgt, atol=1e-10)
    assert s == pytest.approx(1.7) and np.allclose(r, rot) and np.allclose(t, [0.5, -2.0, 3.0])
    assert pa_mpjpe(src, tgt) == pytest.approx(0.0, abs=1e-9)


def test_procrustes_never_reflects():
    # Hand-worked: a planar set mirrored in x is a 180-degree turn about y, so PA error is 0 ...
    square = np.array([[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0], [2, 0, 0]])
    mirror = square * [-1, 1, 1]
    aligned, (_, r, _) = similarity_procrustes(square, mirror)
    np.testing.assert_allclose(aligned, mirror, atol=1e-12)
    np.testing.assert_allclose(r, np.diag([-1.0, 1.0, -1.0]), atol=1e-12)
    # ... but a chiral (non-planar) set cannot be mirrored by a rotation: det R stays +1, error > 0,
    # and the SVD solution is the optimum over proper similarities (checked by a numerical search).
    tet = np.array([[0.0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3]])
    mirrored = tet * [-1, 1, 1]
    aligned, (s, r, _) = similarity_procrustes(tet, mirrored)
    assert np.linalg.det(r) == pytest.approx(1.0)
    ours = np.sum((aligned - mirrored) ** 2)
    assert ours > 0.1

    def cost(p):
        x = p[0] * tet @ Rotation.from_rotvec(p[1:4]).as_matrix().T + p[4:]
        return np.sum((x - mirrored) ** 2)

    best = min((minimize(cost, np.r_[1.0, rng_start, 0, 0, 0], method="Nelder-Mead",
                         options={"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-12}).fun
                for rng_start in ([0, 0, 0], [0, 3.1, 0], [1, 1, 1], [-2, 0.5, 0])))
    assert ours <= best + 1e-6
    assert pa_mpjpe(tet, mirrored) > 0


def test_mpjpe_hand_worked(shared_data):
    s = np.load(shared_data / "h36m" / "test_h36m_body3d.npz")["S"][..., :3]
    assert mpjpe(s, s) == 0.0 and pa_mpjpe(s, s) == pytest.approx(0.0, abs=1e-9)
    moved = s + [0.1, -0.2, 0.3]  # a global translation vanishes with root alignment
    assert mpjpe(moved, s) == pytest.approx(0.0, abs=1e-9)
    assert mpjpe(moved, s, root=None) == pytest.approx(1000 * np.sqrt(0.14))
    one = s.copy()
    one[:, 5, 0] += 0.034  # one of 17 joints 34 mm off -> 2 mm mean
    assert mpjpe(one, s) == pytest.approx(2.0)
    valid = np.ones(17)
    valid[5] = 0
    assert mpjpe(one, s, valid=valid) == pytest.approx(0.0, abs=1e-9)


def test_mpvpe_ehf_protocol_hand_worked():
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(60, 3))
    lhand, rhand, face = np.arange(10, 20), np.arange(20, 30), np.arange(40, 60)
    jr = np.zeros((22, 60))
    jr[0, :] = 1 / 60  # pelvis: mean of all
    jr[12, face] = 1 / 20
    jr[20, lhand] = 1 / 10
    jr[21, rhand] = 1 / 10
    sub = EHFSubsets(joint_regressor=jr, lhand_vertices=lhand, rhand_vertices=rhand, face_vertices=face)
    # a global shift: every protocol aligns it away
    shifted = verts + [0.05, 0.0, 0.0]
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in mpvpe(shifted, verts, subsets=sub).values())
    # the left hand moved 10 mm as a block: hands are wrist-aligned (0 for the left, 0 for the right);
    # the whole mesh is pelvis-aligned: the pelvis moved 10/60 mm*... computed by hand below
    pred = verts.copy()
    pred[lhand] += [0.010, 0.0, 0.0]
    r = mpvpe(pred, verts, subsets=sub)
    assert r["hands"] == pytest.approx(0.0, abs=1e-9) and r["face"] == pytest.approx(0.0, abs=1e-9)
    d = 10.0 / 6  # pelvis shift in mm; 10 hand vertices now 10 - d off, 50 others d off
    assert r["all"] == pytest.approx((10 * (10 - d) + 50 * d) / 60)
    pa = pa_mpvpe(pred, verts, subsets=sub)
    assert pa["hands"] == pytest.approx(0.0, abs=1e-9) and pa["face"] == pytest.approx(0.0, abs=1e-9)
    assert 0 < pa["all"] < r["all"]
    assert set(mpvpe(pred, verts)) == {"all"}
