"""Loading official-format SMPL-X files (bhpe_tf.body.model_file) and the synthetic writer."""
import os
import pickle
import sys
import time
import types

import bhpe_tf  # noqa: F401
import numpy as np
import pytest
import scipy.sparse

from bhpe_tf.body.model_file import (BodyModelFileError, SMPLX_PARENTS, SMPLX_VERTEX_IDS,
                                     load_smplx_model, resolve_model_path)
from bhpe_tf.body.synthetic_model import (make_synthetic_smplx, rest_joints, write_synthetic_model_dir,
                                    write_synthetic_smplx)
from bhpe_tf.errors import MissingFileError


@pytest.fixture(scope="module")
def arrays():
    return make_synthetic_smplx(seed=0)


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    write_synthetic_model_dir(root, seed=5, ext="npz")
    write_synthetic_smplx(root / "smplx" / "SMPLX_NEUTRAL.pkl", seed=5)
    return root


def test_synthetic_model_structure(arrays):
    a = arrays
    assert a["v_template"].shape == (10475, 3) and a["f"].shape == (20908, 3)
    assert a["shapedirs"].shape == (10475, 3, 20) and a["posedirs"].shape == (10475, 3, 486)
    assert a["J_regressor"].shape == (55, 10475) and a["weights"].shape == (10475, 55)
    parents = a["kintree_table"][0].copy()
    parents[0] = -1
    assert tuple(parents) == SMPLX_PARENTS
    np.testing.assert_allclose(a["weights"].sum(1), 1, atol=1e-12)
    assert a["weights"].min() >= 0 and np.all(a["weights"].max(1) >= 0.3)
    assert np.all((a["weights"] > 1e-9).sum(1) <= 4)  # concentrated on a few nearby joints
    np.testing.assert_allclose(a["J_regressor"].sum(1), 1, atol=1e-12)
    for side in "lr":
        c = a["hands_components" + side]
        np.testing.assert_allclose(c @ c.T, np.eye(45), atol=1e-10)
        assert a["hands_mean" + side].shape == (45,)
    assert a["lmk_faces_idx"].shape == (51,) and a["lmk_bary_coords"].shape == (51, 3)
    assert a["dynamic_lmk_faces_idx"].shape == (79, 17)
    assert a["dynamic_lmk_bary_coords"].shape == (79, 17, 3)
    for key in ("lmk_bary_coords", "dynamic_lmk_bary_coords"):
        np.testing.assert_allclose(a[key].sum(-1), 1, atol=1e-12)
        assert a[key].min() > 0
    assert a["f"].max() < 10475 and len(np.unique(a["f"])) == 10475  # every vertex in a face
    # Vaguely human: the regressed rest joints sit near the skeleton ...
    regressed = a["J_regressor"] @ a["v_template"]
    assert np.abs(regressed - rest_joints()).max() < 0.06
    # ... and smplx's named vertices land on the matching body parts.
    v = a["v_template"]
    assert v[SMPLX_VERTEX_IDS["nose"], 1] > 0.2 and v[SMPLX_VERTEX_IDS["nose"], 2] > 0.05
    assert v[SMPLX_VERTEX_IDS["LHeel"], 1] < -1.2 and v[SMPLX_VERTEX_IDS["lthumb"], 0] > 0.7
    assert v[SMPLX_VERTEX_IDS["rthumb"], 0] < -0.7


def test_synthetic_is_deterministic_and_fast(arrays):
    start = time.perf_counter()
    again = make_synthetic_smplx(seed=0)
    elapsed = time.perf_counter() - start
    assert all(np.array_equal(arrays[k], again[k]) for k in arrays)
    other = make_synthetic_smplx(seed=1)
    assert not np.array_equal(arrays["shapedirs"], other["shapedirs"])
    assert elapsed < 4.0, f"generation took {elapsed:.2f} s (target < 2 s on an idle core)"
    full = make_synthetic_smplx(seed=0, num_shape=300, num_expression=100)
    assert full["shapedirs"].shape == (10475, 3, 400)


def test_load_npz_pkl_and_directories(model_root):
    npz = load_smplx_model(model_root)  # models root: smplx/SMPLX_NEUTRAL.npz
    assert npz.path == os.path.join(str(model_root), "smplx", "SMPLX_NEUTRAL.npz")
    assert load_smplx_model(model_root / "smplx").path == npz.path  # the smplx/ directory itself
    pkl = load_smplx_model(model_root, ext="pkl")
    assert pkl.path.endswith("SMPLX_NEUTRAL.pkl")
    for field in ("v_template", "faces", "shapedirs", "posedirs", "J_regressor", "weights",
                  "parents", "lmk_faces_idx", "dynamic_lmk_bary_coords"):
        np.testing.assert_allclose(getattr(npz, field), getattr(pkl, field), err_msg=field)
    assert npz.parents[0] == -1 and npz.has_face_contour
    assert npz.max_betas == 10 and npz.expression_columns == slice(10, 20)
    male = load_smplx_model(model_root, gender="male")
    female = load_smplx_model(model_root, gender="FEMALE")
    assert male.path.endswith("SMPLX_MALE.npz") and female.path.endswith("SMPLX_FEMALE.npz")
    assert not np.array_equal(male.v_template, female.v_template)


def _write_npz(path, arrays, **changes):
    data = {k: v for k, v in arrays.items() if k not in changes or changes[k] is not None}
    data.update({k: v for k, v in changes.items() if v is not None})
    np.savez(path, **data)
    return path


def test_errors_name_the_file_and_the_problem(tmp_path, arrays, model_root):
    missing = tmp_path / "nope.npz"
    with pytest.raises(MissingFileError, match="nope.npz.*does not exist") as info:
        load_smplx_model(missing)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(MissingFileError, match="SMPLX_MALE.pkl"):
        load_smplx_model(tmp_path, gender="male", ext="pkl")
    txt = tmp_path / "model.txt"
    txt.write_text("x")
    with pytest.raises(BodyModelFileError, match="model.txt.*wrong extension"):
        load_smplx_model(txt)
    with pytest.raises(BodyModelFileError, match="unknown gender"):
        resolve_model_path(model_root, gender="kid")
    small = {k: arrays[k] for k in ("v_template", "kintree_table")}
    no_key = _write_npz(tmp_path / "nokey.npz", small)
    with pytest.raises(BodyModelFileError, match=r"nokey.npz: missing key 'f'"):
        load_smplx_model(no_key)
    bad = _write_npz(tmp_path / "badshape.npz", arrays, posedirs=np.zeros((10475, 3, 10)))
    with pytest.raises(BodyModelFileError, match=r"badshape.npz: key 'posedirs' has shape "
                                                 r"\(10475, 3, 10\), expected \(10475, 3, 486\)"):
        load_smplx_model(bad)
    smpl = {"v_template": np.zeros((6890, 3)), "kintree_table": np.zeros((2, 24), np.int64),
            "f": np.zeros((13776, 3), np.int64)}
    with open(tmp_path / "SMPL_NEUTRAL.pkl", "wb") as handle:
        pickle.dump(smpl, handle, protocol=2)
    with pytest.raises(BodyModelFileError, match=r"SMPL_NEUTRAL.pkl: this is a SMPL or SMPL\+H "
                                                 r"model \(6890 vertices\), not SMPL-X"):
        load_smplx_model(tmp_path / "SMPL_NEUTRAL.pkl")
    joints24 = _write_npz(tmp_path / "j24.npz", small, kintree_table=np.zeros((2, 24), np.int64))
    with pytest.raises(BodyModelFileError, match="24 joints; this is not an SMPL-X model"):
        load_smplx_model(joints24)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(BodyModelFileError, match="garbage.npz: not a readable .npz"):
        load_smplx_model(garbage)


def test_chumpy_pickles_are_refused_clearly(tmp_path, monkeypatch):
    fake = types.ModuleType("chumpy")

    class Ch:  # stands in for chumpy.Ch
        pass

    Ch.__module__, Ch.__qualname__ = "chumpy", "Ch"
    fake.Ch = Ch
    monkeypatch.setitem(sys.modules, "chumpy", fake)
    path = tmp_path / "SMPLX_NEUTRAL.pkl"
    with open(path, "wb") as handle:
        pickle.dump({"v_template": Ch()}, handle, protocol=2)
    monkeypatch.delitem(sys.modules, "chumpy")
    with pytest.raises(BodyModelFileError, match="needs module 'chumpy'"):
        load_smplx_model(path)


def test_pickle_keeps_sparse_regressor(model_root):
    with open(model_root / "smplx" / "SMPLX_NEUTRAL.pkl", "rb") as handle:
        raw = pickle.load(handle, encoding="latin1")
    assert scipy.sparse.issparse(raw["J_regressor"])  # like the official pickles
