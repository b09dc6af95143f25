"""SMPLXLayer against the official `smplx` package on synthetic models, plus gradients and errors.

Tolerance: 1e-5 m on vertices and all 144 joints in float32 (measured ~1e-6).
"""
import bhpe_tf  # noqa: F401
import numpy as np
import pytest
import tensorflow as tf
import torch
import smplx

from bhpe_tf.body.joint_sets import SMPLX_JOINT_NAMES, hand4whole_joints, select_joints
from bhpe_tf.body.smplx_layer import SMPLXLayer
from bhpe_tf.body.synthetic_model import write_synthetic_model_dir, write_synthetic_smplx
from bhpe_tf.errors import InvalidInputError

TOL = 1e-5
BATCH = 3
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("smplx_models")
    paths = {
        "seed1.npz": write_synthetic_smplx(root / "seed1.npz", seed=1),
        "seed2.pkl": write_synthetic_smplx(root / "seed2.pkl", seed=2),
        "seed3_full.npz": write_synthetic_smplx(root / "seed3_full.npz", seed=3, num_shape=300,
                                                num_expression=100),
    }
    write_synthetic_model_dir(root / "tree", seed=4, genders=("neutral",))
    paths["tree"] = str(root / "tree")
    return paths


def _random_params(rng, batch, *, hand_dim, num_betas=10, num_expr=10):
    def aa(n, max_angle):  # uniform directions, angles up to max_angle (pi = the largest)
        axis = rng.normal(size=(batch, n, 3))
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        return (axis * rng.uniform(0, max_angle, size=(batch, n, 1))).astype(np.float32)

    return {
        "global_orient": aa(1, np.pi).reshape(batch, 3),
        "body_pose": aa(21, np.pi).reshape(batch, 63),
        "jaw_pose": aa(1, 0.6).reshape(batch, 3),
        "leye_pose": aa(1, 0.4).reshape(batch, 3),
        "reye_pose": aa(1, 0.4).reshape(batch, 3),
        "left_hand_pose": (aa(15, 1.5).reshape(batch, 45) if hand_dim == 45 else
                           rng.normal(0, 1.5, size=(batch, hand_dim)).astype(np.float32)),
        "right_hand_pose": (aa(15, 1.5).reshape(batch, 45) if hand_dim == 45 else
                            rng.normal(0, 1.5, size=(batch, hand_dim)).astype(np.float32)),
        "betas": rng.normal(0, 2, size=(batch, num_betas)).astype(np.float32),
        "expression": rng.normal(0, 2, size=(batch, num_expr)).astype(np.float32),
        "transl": rng.normal(0, 1, size=(batch, 3)).astype(np.float32),
    }


def _reference(model_path, params, *, create=False, **options):
    ext = "pkl" if str(model_path).endswith(".pkl") else "npz"
    kwargs = dict(batch_size=len(params["betas"]), ext=ext, **options)
    with torch.no_grad():
        model = (smplx.create(model_path, model_type="smplx", **kwargs) if create else
                 smplx.SMPLX(model_path=model_path, **kwargs))
        out = model(**{k: torch.from_numpy(v) for k, v in params.items()}, return_full_pose=True)
    return out.vertices.numpy(), out.joints.numpy(), out.full_pose.numpy()


CASES = [
    # model, use_pca, num_pca_comps, flat_hand_mean, use_face_contour, num_betas, num_expr
    ("seed1.npz", False, 6, False, True, 10, 10),   # Hand4Whole's configuration
    ("seed2.pkl", True, 6, False, True, 10, 10),
    ("seed1.npz", True, 12, True, False, 10, 10),
    # (fewer than 10 expression coefficients crash smplx itself on a 20-column file: it always
    # slices expression columns 10:20; the layer slices 10:10+n)
    ("seed2.pkl", False, 6, True, False, 8, 10),
    ("seed3_full.npz", False, 6, False, True, 16, 20),  # 300 + 100 column layout
    ("seed3_full.npz", True, 3, False, False, 300, 7),
    ("tree", True, 45, False, True, 10, 10),            # smplx.create directory layout
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-pca{c[1]}-{c[2]}-flat{c[3]}-contour{c[4]}"
                                             for c in CASES])
def test_matches_smplx_package(models, case):
    name, use_pca, comps, flat, contour, num_betas, num_expr = case
    options = dict(use_pca=use_pca, num_pca_comps=comps, flat_hand_mean=flat,
                   use_face_contour=contour, num_betas=num_betas,
                   num_expression_coeffs=num_expr)
    rng = np.random.default_rng(abs(hash(case)) % 2 ** 32)
    params = _random_params(rng, BATCH, hand_dim=comps if use_pca else 45, num_betas=num_betas,
                            num_expr=num_expr)
    ref_v, ref_j, ref_pose = _reference(models[name], params, create=name == "tree", **options)
    layer = SMPLXLayer(model_path=models[name], **options)
    out = layer(params)
    assert out["joints"].shape == (BATCH, 144 if contour else 127, 3)
    assert layer.num_joints == out["joints"].shape[1]
    np.testing.assert_allclose(out["vertices"].numpy(), ref_v, atol=TOL, rtol=0)
    np.testing.assert_allclose(out["joints"].numpy(), ref_j, atol=TOL, rtol=0)
    np.testing.assert_allclose(out["full_pose"].numpy().reshape(BATCH, -1), ref_pose, atol=1e-6)


def test_face_contour_follows_head_rotation(models):
    """Sweep the neck's y rotation over the whole look-up table (bins 0..78 and both clamps)."""
    angles = np.linspace(-1.3, 1.3, 11).astype(np.float32)
    batch = len(angles)
    params = {k: np.zeros_like(v[:1]).repeat(batch, 0)
              for k, v in _random_params(np.random.default_rng(0), 1, hand_dim=45).items()}
    params["global_orient"][:, 1] = angles
    params["body_pose"][:, 3 * 11 + 1] = 0.3 * angles  # neck (joint 12) about y as well
    ref_v, ref_j, _ = _reference(models["seed1.npz"], params, use_pca=False, use_face_contour=True)
    out = SMPLXLayer(model_path=models["seed1.npz"])(params)
    np.testing.assert_allclose(out["joints"].numpy(), ref_j, atol=TOL, rtol=0)
    contour = out["joints"].numpy()[:, 127:]
    head_frame = contour - out["joints"].numpy()[:, 15:16]
    assert len({tuple(np.round(c[0], 5)) for c in head_frame}) > 5  # the faces do change


def test_keyword_call_defaults_functional_model_and_config(models):
    layer = SMPLXLayer(model_path=models["seed1.npz"])
    rng = np.random.default_rng(1)
    body = rng.normal(0, 0.5, size=(2, 21, 3)).astype(np.float32)  # (B, 21, 3) also accepted
    betas = rng.normal(size=(2, 10)).astype(np.float32)
    by_dict = layer({"body_pose": body, "betas": betas})
    by_kw = layer(body_pose=body, betas=betas)
    np.testing.assert_array_equal(by_dict["joints"].numpy(), by_kw["joints"].numpy())
    rest = layer()  # everything zero: batch 1
    assert rest["vertices"].shape == (1, 10475, 3)
    compiled = tf.function(lambda b, s: layer(body_pose=b, betas=s))
    np.testing.assert_allclose(compiled(body, betas)["joints"].numpy(), by_kw["joints"].numpy(),
                               atol=1e-6)
    inputs = {"body_pose": tf.keras.Input((63,)), "betas": tf.keras.Input((10,))}
    model = tf.keras.Model(inputs, layer(inputs)["joints"])
    np.testing.assert_allclose(model({"body_pose": body.reshape(2, 63), "betas": betas}).numpy(),
                               by_kw["joints"].numpy(), atol=1e-6)
    clone = SMPLXLayer.from_config(layer.get_config())
    np.testing.assert_allclose(clone(body_pose=body, betas=betas)["vertices"].numpy(),
                               by_kw["vertices"].numpy(), atol=1e-6)
    # Joint subsets used by Hand4Whole.
    h4w = hand4whole_joints(by_kw["joints"])
    assert h4w.shape == (2, 137, 3)
    nose = select_joints(by_kw["joints"].numpy(), [SMPLX_JOINT_NAMES.index("nose")])
    np.testing.assert_allclose(nose[:, 0], by_kw["vertices"].numpy()[:, 9120], atol=1e-7)


def test_gradients_match_finite_differences(models):
    layer = SMPLXLayer(model_path=models["seed2.pkl"], dtype="float64")
    rng = np.random.default_rng(7)
    params = {k: tf.constant(v.astype(np.float64)) for k, v in
              _random_params(rng, 1, hand_dim=45).items()}
    w_v = tf.constant(rng.normal(size=(1, 10475, 3)))
    w_j = tf.constant(rng.normal(size=(1, 144, 3)))

    def loss(p):
        out = layer(p)
        return tf.reduce_sum(out["vertices"] * w_v) + tf.reduce_sum(out["joints"] * w_j)

    with tf.GradientTape() as tape:
        tape.watch(list(params.values()))
        value = loss(params)
    grads = tape.gradient(value, params)
    eps = 1e-6
    for name, index in [("global_orient", 1), ("body_pose", 2), ("body_pose", 40),
                        ("body_pose", 33), ("left_hand_pose", 7), ("jaw_pose", 0),
                        ("betas", 0), ("betas", 9), ("expression", 3), ("transl", 2)]:
        delta = np.zeros(params[name].shape)
        delta[0, index] = eps
        plus = dict(params, **{name: params[name] + delta})
        minus = dict(params, **{name: params[name] - delta})
        numeric = (loss(plus) - loss(minus)).numpy() / (2 * eps)
        analytic = grads[name].numpy()[0, index]
        assert np.isfinite(analytic)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6, err_msg=name)

    # float32 at the rest pose (every rotation exactly zero): finite gradients everywhere.
    layer32 = SMPLXLayer(model_path=models["seed2.pkl"])
    zeros = {k: tf.zeros_like(tf.cast(v, tf.float32)) for k, v in params.items()}
    with tf.GradientTape() as tape:
        tape.watch(list(zeros.values()))
        out = layer32(zeros)
        value = tf.reduce_sum(out["vertices"]) + tf.reduce_sum(out["joints"])
    for name, grad in tape.gradient(value, zeros).items():
        assert np.all(np.isfinite(grad.numpy())), name


def test_bad_inputs_raise_one_clear_error(models):
    layer = SMPLXLayer(model_path=models["seed1.npz"])
    with pytest.raises(InvalidInputError, match=r"'body_pose' must have shape \(batch, 63\) or "
                                                r"\(batch, 21, 3\), got \(2, 60\)"):
        layer(body_pose=np.zeros((2, 60), np.float32))
    with pytest.raises(InvalidInputError, match=r"'betas' must have shape \(batch, 10\)"):
        layer(betas=np.zeros((2, 11), np.float32))
    with pytest.raises(InvalidInputError, match="'left_hand_pose' must have shape"):
        layer(left_hand_pose=np.zeros((2, 6), np.float32))  # PCA coefficients without use_pca
    with pytest.raises(InvalidInputError, match=r"unknown SMPL-X parameter\(s\) \['bodypose'\]"):
        layer({"bodypose": np.zeros((2, 63), np.float32)})
    with pytest.raises(InvalidInputError, match="'betas' has batch 3 but 'body_pose' has batch 2"):
        layer(body_pose=np.zeros((2, 63), np.float32), betas=np.zeros((3, 10), np.float32))
    with pytest.raises(InvalidInputError, match="num_betas=11; the file has 1..10"):
        SMPLXLayer(model_path=models["seed1.npz"], num_betas=11)
    with pytest.raises(InvalidInputError, match="num_pca_comps=46"):
        SMPLXLayer(model_path=models["seed1.npz"], use_pca=True, num_pca_comps=46)
