"""Rotation representations in TensorFlow: axis-angle, matrix, quaternion, 6D.

Conventions used by the whole project:

* axis-angle ``(..., 3)``: direction = axis, norm = angle in radians (SMPL / SMPL-X pose vectors).
* matrix ``(..., 3, 3)``: acts on column vectors, ``x' = R @ x``.
* quaternion ``(..., 4)``: **scalar first** ``(w, x, y, z)``, unit norm.
* 6D ``(..., 6)``: Zhou et al., "On the Continuity of Rotation Representations in Neural
  Networks", CVPR 2019, read as Hand4Whole does: the 6 numbers are a 3x2 matrix in row-major
  order, its two **columns** are Gram-Schmidt orthonormalised and the third column is their cross
  product.

All functions are differentiable, batched over any leading dimensions, dtype-generic (float32 or
float64) and free of NaN values *and NaN gradients* at the singular points (zero angle; angle pi
for the matrix -> axis-angle direction), which matters because network outputs hit them.
"""
import tensorflow as tf

__all__ = [
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "quaternion_to_matrix",
    "quaternion_to_axis_angle",
    "matrix_to_quaternion",
    "matrix_to_axis_angle",
    "rot6d_to_matrix",
    "matrix_to_rot6d",
    "rot6d_to_axis_angle",
]


def _small_angle_threshold(dtype):
    # Below this squared angle the 2nd-order Taylor series is exact to machine precision.
    return 1e-8 if dtype == tf.float64 else 1e-5


def _safe_sqrt(x):
    """sqrt(max(x, 0)) with a zero (not infinite) gradient where x <= 0."""
    positive = x > 0
    return tf.where(positive, tf.sqrt(tf.where(positive, x, tf.ones_like(x))), tf.zeros_like(x))


def _skew(v):
    """Cross-product matrix [v]_x of ``(..., 3)`` vectors, shape ``(..., 3, 3)``."""
    x, y, z = tf.unstack(v, axis=-1)
    zero = tf.zeros_like(x)
    rows = [tf.stack([zero, -z, y], -1), tf.stack([z, zero, -x], -1), tf.stack([-y, x, zero], -1)]
    return tf.stack(rows, axis=-2)


def axis_angle_to_matrix(axis_angle):
    """Rodrigues' formula ``R = I + a [v]_x + b [v]_x^2`` (the ``batch_rodrigues`` of SMPL's LBS).

    ``a = sin(t)/t`` and ``b = (1 - cos t)/t^2 = sin^2(t/2) / (2 (t/2)^2)`` (written with the half
    angle so float32 does not lose digits to the cancellation in ``1 - cos t``). Below a tiny angle
    both use their Taylor series, so the value and the gradient at ``v = 0`` are exact.

    Args:
        axis_angle: ``(..., 3)`` rotation vectors.
    Returns:
        ``(..., 3, 3)`` rotation matrices.
    """
    v = tf.convert_to_tensor(axis_angle)
    if not v.dtype.is_floating:
        v = tf.cast(v, tf.float32)
    theta2 = tf.reduce_sum(tf.square(v), axis=-1, keepdims=True)
    small = theta2 < _small_angle_threshold(v.dtype)
    safe2 = tf.where(small, tf.ones_like(theta2), theta2)
    theta = tf.sqrt(safe2)
    half = 0.5 * theta
    sin_half_ratio = tf.sin(half) / half
    a = tf.where(small, 1.0 - theta2 / 6.0, tf.sin(theta) / theta)
    b = tf.where(small, 0.5 - theta2 / 24.0, 0.5 * tf.square(sin_half_ratio))
    k = _skew(v)
    eye = tf.eye(3, dtype=v.dtype)
    return eye + a[..., None] * k + b[..., None] * tf.matmul(k, k)


def axis_angle_to_quaternion(axis_angle):
    """``q = (cos(t/2), sin(t/2) v/t)``; the ratio ``sin(t/2)/t`` uses its Taylor series near 0."""
    v = tf.convert_to_tensor(axis_angle)
    theta2 = tf.reduce_sum(tf.square(v), axis=-1, keepdims=True)
    small = theta2 < _small_angle_threshold(v.dtype)
    theta = tf.sqrt(tf.where(small, tf.ones_like(theta2), theta2))
    ratio = tf.where(small, 0.5 - theta2 / 48.0, tf.sin(0.5 * theta) / theta)
    w = tf.where(small, 1.0 - theta2 / 8.0, tf.cos(0.5 * theta))
    return tf.concat([w, ratio * v], axis=-1)


def quaternion_to_matrix(quaternion):
    """Rotation matrix of a (not necessarily unit) scalar-first quaternion (normalised first)."""
    q = tf.convert_to_tensor(quaternion)
    q = q / tf.norm(q, axis=-1, keepdims=True)
    w, x, y, z = tf.unstack(q, axis=-1)
    rows = [
        tf.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        tf.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        tf.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ]
    return tf.stack(rows, axis=-2)


def quaternion_to_axis_angle(quaternion):
    """``v = 2 atan2(|xyz|, w) xyz / |xyz|`` on the ``w >= 0`` hemisphere (angle in [0, pi]).

    The ratio ``2 atan2(n, w) / n`` tends to ``2 / w`` as ``n -> 0``; its series is used there, so
    the identity rotation gives 0 with finite gradients. Near pi (``w -> 0``) the formula is regular.
    """
    q = tf.convert_to_tensor(quaternion)
    q = q / tf.norm(q, axis=-1, keepdims=True)
    # q and -q are the same rotation; pick w >= 0 so the angle is in [0, pi].
    q = tf.where(q[..., :1] < 0, -q, q)
    w, xyz = q[..., :1], q[..., 1:]
    n2 = tf.reduce_sum(tf.square(xyz), axis=-1, keepdims=True)
    small = n2 < _small_angle_threshold(q.dtype)
    n = tf.sqrt(tf.where(small, tf.ones_like(n2), n2))
    w_safe = tf.where(small, w, tf.ones_like(w))  # w ~ 1 wherever `small` holds
    ratio = tf.where(small, 2.0 / w_safe - (2.0 / 3.0) * n2 / w_safe ** 3, 2.0 * tf.atan2(n, w) / n)
    return ratio * xyz


def matrix_to_quaternion(matrix):
    """Shepperd's method: of the four algebraically equal quaternion formulas, use the one with the
    largest denominator ``|q_i|`` (>= 1/2 for a rotation), so it is stable for every angle
    including pi. Non-selected candidates use a floored denominator so their (discarded) gradients
    stay finite.

    Returns a unit quaternion ``(..., 4)``, scalar first, sign not normalised.
    """
    m = tf.convert_to_tensor(matrix)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # 2|q_i| for i = w, x, y, z.
    q_abs2 = _safe_sqrt(tf.stack([1.0 + m00 + m11 + m22, 1.0 + m00 - m11 - m22,
                                  1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22], axis=-1))
    candidates = tf.stack([
        tf.stack([q_abs2[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], -1),
        tf.stack([m21 - m12, q_abs2[..., 1] ** 2, m10 + m01, m02 + m20], -1),
        tf.stack([m02 - m20, m10 + m01, q_abs2[..., 2] ** 2, m12 + m21], -1),
        tf.stack([m10 - m01, m20 + m02, m21 + m12, q_abs2[..., 3] ** 2], -1),
    ], axis=-2)  # (..., 4 candidates, 4)
    floor = tf.constant(0.1, dtype=m.dtype)
    candidates = candidates / (2.0 * tf.maximum(q_abs2[..., None], floor))
    best = tf.argmax(q_abs2, axis=-1)
    q = tf.reduce_sum(candidates * tf.one_hot(best, 4, dtype=m.dtype)[..., None], axis=-2)
    return q / tf.norm(q, axis=-1, keepdims=True)


def matrix_to_axis_angle(matrix):
    """Rotation matrix -> axis-angle through the quaternion (as Hand4Whole's ``rot6d_to_axis_angle``
    does), but stable at 0 and pi without any NaN to clean up afterwards."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def rot6d_to_matrix(rot6d):
    """6D -> rotation matrix (Zhou et al. 2019, Sec. 4; layout of Hand4Whole's ``rot6d_to_axis_angle``).

    ``x`` is reshaped to ``(..., 3, 2)``; ``b1 = a1/|a1|``, ``b2 = normalize(a2 - (b1.a2) b1)``,
    ``b3 = b1 x b2``; the result has columns ``[b1, b2, b3]``.
    """
    x = tf.convert_to_tensor(rot6d)
    if x.shape.rank is not None and x.shape[-1] is not None and x.shape[-1] != 6:
        raise ValueError(f"rot6d_to_matrix: last dimension must be 6, got shape {x.shape}")
    x = tf.reshape(x, tf.concat([tf.shape(x)[:-1], [3, 2]], axis=0))
    a1, a2 = x[..., 0], x[..., 1]
    b1 = tf.math.l2_normalize(a1, axis=-1)
    b2 = tf.math.l2_normalize(a2 - tf.reduce_sum(b1 * a2, axis=-1, keepdims=True) * b1, axis=-1)
    b3 = tf.linalg.cross(b1, b2)
    return tf.stack([b1, b2, b3], axis=-1)


def matrix_to_rot6d(matrix):
    """Inverse of :func:`rot6d_to_matrix` for rotations: the first two columns, row-major."""
    m = tf.convert_to_tensor(matrix)
    return tf.reshape(m[..., :2], tf.concat([tf.shape(m)[:-2], [6]], axis=0))


def rot6d_to_axis_angle(rot6d):
    """6D -> axis-angle, the composition Hand4Whole applies to its rotation heads."""
    return matrix_to_axis_angle(rot6d_to_matrix(rot6d))
