"""Rotation utilities (bhpe_tf.body.rotations) against scipy and their own inverses, including
the singular points (angle 0 and pi) and gradients there."""
import bhpe_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
import numpy as np
import pytest
import tensorflow as tf
from scipy.spatial.transform import Rotation

from bhpe_tf.body import rotations as rot


def _random_axis_angle(rng, n, max_angle=np.pi):
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = rng.uniform(0, max_angle, size=(n, 1))
    return axis * angle


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_axis_angle_to_matrix_matches_scipy(rng):
    aa = np.concatenate([_random_axis_angle(rng, 200),
                         [[0, 0, 0], [1e-9, 0, 0], [0, 1e-4, 0], [np.pi, 0, 0], [0, 0, -np.pi]]])
    got = rot.axis_angle_to_matrix(aa).numpy()
    np.testing.assert_allclose(got, Rotation.from_rotvec(aa).as_matrix(), atol=1e-12)
    got32 = rot.axis_angle_to_matrix(aa.astype(np.float32)).numpy()
    np.testing.assert_allclose(got32, Rotation.from_rotvec(aa).as_matrix(), atol=1e-6)


def test_quaternion_conversions_match_scipy(rng):
    aa = _random_axis_angle(rng, 100)
    quat = rot.axis_angle_to_quaternion(aa).numpy()
    ref = Rotation.from_rotvec(aa).as_quat()[:, [3, 0, 1, 2]]  # scipy is scalar-last
    np.testing.assert_allclose(quat, ref * np.sign(ref[:, :1]), atol=1e-12)
    np.testing.assert_allclose(rot.quaternion_to_matrix(quat).numpy(),
                               Rotation.from_rotvec(aa).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(rot.quaternion_to_axis_angle(quat).numpy(), aa, atol=1e-10)
    # -q is the same rotation: the axis-angle stays on the angle <= pi branch.
    np.testing.assert_allclose(rot.quaternion_to_axis_angle(-quat).numpy(), aa, atol=1e-10)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-9), (np.float32, 2e-3)])
def test_matrix_to_axis_angle_round_trip_including_0_and_pi(rng, dtype, tol):
    aa = np.concatenate([_random_axis_angle(rng, 300, max_angle=np.pi - 1e-3),
                         _random_axis_angle(rng, 20, max_angle=1e-5),
                         [[0, 0, 0], [1e-7, 0, 0]]]).astype(dtype)
    back = rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(aa)).numpy()
    assert np.all(np.isfinite(back))
    # float32 loses digits of the axis near pi (|sin| small); compare the angle-axis itself.
    np.testing.assert_allclose(back, aa, atol=tol)
    # At exactly pi the axis sign is arbitrary: the rotation must still be the same.
    at_pi = _random_axis_angle(rng, 50, max_angle=np.pi) * 0
    at_pi += rng.normal(size=(50, 3))
    at_pi = (at_pi / np.linalg.norm(at_pi, axis=1, keepdims=True) * np.pi).astype(dtype)
    mats = rot.axis_angle_to_matrix(at_pi)
    back = rot.matrix_to_axis_angle(mats)
    assert np.all(np.isfinite(back.numpy()))
    np.testing.assert_allclose(np.linalg.norm(back.numpy(), axis=1), np.pi, atol=10 * tol)
    np.testing.assert_allclose(rot.axis_angle_to_matrix(back).numpy(), mats.numpy(),
                               atol=1e-5 if dtype == np.float32 else 1e-9)


def test_exact_pi_matrices_have_no_nan():
    mats = np.stack([np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), np.diag([-1.0, -1, 1]),
                     np.eye(3)]).astype(np.float32)
    aa = rot.matrix_to_axis_angle(mats).numpy()
    np.testing.assert_allclose(np.abs(aa), np.array([[np.pi, 0, 0], [0, np.pi, 0],
                                                     [0, 0, np.pi], [0, 0, 0]]), atol=1e-6)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_gradients_finite_at_zero_and_pi(dtype):
    # d/dv of R(v) at v = 0 is the skew generator: d R / d v_x = [e_x]_x.
    v = tf.zeros([1, 3], dtype)
    with tf.GradientTape() as tape:
        tape.watch(v)
        r = rot.axis_angle_to_matrix(v)
        loss = r[0, 2, 1]  # = v_x to first order
    grad = tape.gradient(loss, v).numpy()
    np.testing.assert_allclose(grad, [[1, 0, 0]], atol=1e-6)
    for mat in (np.eye(3), np.diag([1.0, -1, -1]), Rotation.from_rotvec([0, 0, 3.14]).as_matrix()):
        m = tf.constant(mat[None], dtype)
        with tf.GradientTape() as tape:
            tape.watch(m)
            loss = tf.reduce_sum(rot.matrix_to_axis_angle(m) * tf.constant([1.0, 2.0, 3.0], dtype))
        grad = tape.gradient(loss, m).numpy()
        assert np.all(np.isfinite(grad)), (mat, grad)
    # Through the whole 6D head at the identity (Hand4Whole's path).
    x = tf.constant([[1.0, 0, 0, 1, 0, 0]], dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(rot.rot6d_to_axis_angle(x))
    assert np.all(np.isfinite(tape.gradient(loss, x).numpy()))


def test_rot6d_gram_schmidt_column_layout(rng):
    x = rng.normal(size=(100, 6))
    m = rot.rot6d_to_matrix(x).numpy()
    np.testing.assert_allclose(m @ np.swapaxes(m, 1, 2), np.broadcast_to(np.eye(3), m.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-12)
    # Column-wise reading of the 3x2 matrix: column 0 is the normalised (x0, x2, x4).
    a1 = x[:, [0, 2, 4]]
    np.testing.assert_allclose(m[:, :, 0], a1 / np.linalg.norm(a1, axis=1, keepdims=True),
                               atol=1e-12)
    # The second column lies in the plane of (x1, x3, x5) and column 0.
    a2 = x[:, [1, 3, 5]]
    np.testing.assert_allclose(np.einsum("nc,nc->n", np.cross(m[:, :, 0], a2), m[:, :, 0]), 0,
                               atol=1e-12)
    r = Rotation.from_rotvec(_random_axis_angle(rng, 50)).as_matrix()
    np.testing.assert_allclose(rot.rot6d_to_matrix(rot.matrix_to_rot6d(r)).numpy(), r, atol=1e-12)
    # Batched over extra leading dimensions.
    assert rot.rot6d_to_matrix(x.reshape(10, 10, 6)).shape == (10, 10, 3, 3)
    with pytest.raises(ValueError, match="last dimension must be 6"):
        rot.rot6d_to_matrix(np.zeros((2, 5)))
