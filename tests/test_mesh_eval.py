"""The whole-body columns of the BinaryHPE paper's Table 1 (Hand4Whole's EHF protocol) and the files they
need: ground truth scores 0 everywhere, a rigid motion scores its hand-computed MPVPE and 0 after Procrustes,
the evaluation files load from the SMPL-X download layout, and model evaluation refuses bad input in one line."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from _hand4whole_fixtures import fixture_tree, model_file
from bhpe_tf.errors import MissingFileError
from bhpe_tf.metrics.pose3d import TABLE1_COLUMNS, EHFSubsets, pelvis_aligned_mpvpe, wholebody_errors

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def subsets():
    return EHFSubsets.from_smplx_model(fixture_tree()[1])


@pytest.fixture(scope="module")
def meshes():
    from bhpe_tf.data.hand4whole.readers import load_eval_set

    return np.stack([r.vertices for r in load_eval_set("EHF", fixture_tree()[0])]).astype(np.float64)


def test_ground_truth_scores_zero_in_every_column(subsets, meshes):
    errors = wholebody_errors(meshes, meshes, subsets=subsets)
    assert tuple(errors) == TABLE1_COLUMNS
    assert all(v == pytest.approx(0.0, abs=1e-6) for v in errors.values()), errors


def test_rigid_motion_gives_the_hand_computed_mpvpe_and_zero_after_procrustes(subsets, meshes):
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_rotvec([0.3, -0.2, 0.5]).as_matrix()
    shift = np.array([0.1, -0.05, 0.4])
    pred = meshes @ rot.T + shift
    errors = wholebody_errors(pred, meshes, subsets=subsets)
    jr = subsets.joint_regressor

    def aligned_error(idx, joint):
        # pred - pred_joint + gt_joint = R (g - J) + J for a rigid motion: the error is |R d - d|, d = g - J
        out = []
        for g in meshes:
            d = g[idx] - jr[joint] @ g
            out.append(np.linalg.norm(d @ rot.T - d, axis=1).mean())
        return 1000 * np.mean(out)

    everything = np.arange(meshes.shape[1])
    assert errors["MPVPE All"] == pytest.approx(aligned_error(everything, 0), rel=1e-9)
    assert errors["MPVPE Hands"] == pytest.approx(
        0.5 * (aligned_error(subsets.lhand_vertices, 20) + aligned_error(subsets.rhand_vertices, 21)), rel=1e-9)
    assert errors["MPVPE Face"] == pytest.approx(aligned_error(subsets.face_vertices, 12), rel=1e-9)
    assert errors["MPVPE All"] > 50.0  # a 33 degree turn moves the body a lot
    for column in ("PA-MPVPE All", "PA-MPVPE Hands", "PA-MPVPE Face", "PA-MPJPE Body", "PA-MPJPE Hands"):
        assert errors[column] == pytest.approx(0.0, abs=1e-6), column
    np.testing.assert_allclose(pelvis_aligned_mpvpe(pred, meshes, pelvis_regressor=jr[0]).mean(),
                               errors["MPVPE All"], rtol=1e-9)


def test_hand_regressor_is_hand4whole_make_hand_regressor(subsets):
    left = subsets.hand_regressor("left")
    jr = subsets.joint_regressor
    # Hand4Whole: J rows 20, 37-39, vertex 5361, 25-27, 4933, 28-30, 5058, 34-36, 5169, 31-33, 5286
    rows = [20, 37, 38, 39, None, 25, 26, 27, None, 28, 29, 30, None, 34, 35, 36, None, 31, 32, 33, None]
    tips = iter((5361, 4933, 5058, 5169, 5286))
    for row, joint in zip(left, rows):
        np.testing.assert_array_equal(row, jr[joint] if joint is not None else np.eye(jr.shape[1])[next(tips)])
    right = subsets.hand_regressor("right")
    np.testing.assert_array_equal(right[0], jr[21])
    assert right[4].argmax() == 8079 and right[20].argmax() == 8022


def test_evaluation_files_load_safely(tmp_path):
    from bhpe_tf.body.model_file import BodyModelFileError, load_evaluation_files

    files = load_evaluation_files(fixture_tree()[1])
    assert files["j14_regressor"].shape == (14, 10475) and len(files["face_vertices"]) > 100
    folder = tmp_path / "smplx"
    folder.mkdir()
    os.symlink(model_file(), folder / "SMPLX_NEUTRAL.npz")
    with pytest.raises(MissingFileError, match="MANO_SMPLX_vertex_ids.pkl not found"):
        load_evaluation_files(tmp_path)
    for name in ("SMPL-X__FLAME_vertex_ids.npy", "SMPLX_to_J14.pkl"):
        os.symlink(model_file().parent / name, folder / name)

    class Shell:  # a pickle that would run a command when loaded
        def __reduce__(self):
            return (os.system, ("echo owned",))

    with open(folder / "MANO_SMPLX_vertex_ids.pkl", "wb") as handle:
        pickle.dump(Shell(), handle)
    with pytest.raises(BodyModelFileError, match="refusing to load posix.system"):
        load_evaluation_files(tmp_path)


def _evaluate(*args):
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run([sys.executable, "-m", "bhpe_tf.evaluate", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def test_model_evaluation_mistakes_are_one_line(tmp_path):
    root, model_dir, _ = fixture_tree()
    cases = [(("--dataset", "ehf", "--model", tmp_path / "run", "--annotations", root / "EHF"),
              "--smplx_model is required"),
             (("--dataset", "agora", "--model", tmp_path / "run", "--annotations", root, "--smplx_model", model_dir),
              f"--model {tmp_path / 'run'} not found"),
             (("--dataset", "h36m", "--model", tmp_path / "m.tflite", "--annotations", tmp_path / "none",
               "--smplx_model", model_dir), "--annotations: folder not found")]
    for args, message in cases:
        rc, out, err = _evaluate(*args)
        assert rc == 2 and message in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1, err
