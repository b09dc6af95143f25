"""Synthetic SMPL-X model files: the official format, random but valid content.

The real SMPL-X files are licensed and cannot ship with the project, so tests and the default demo
use a model written here in exactly the official layout (docs/DESIGN.md §6): 10475 vertices,
20908 faces, the real 55-joint tree, blend shapes, skinning weights, joint regressor, hand PCA and
face landmark tables. Equality tests against the ``smplx`` package only need a *structurally*
valid model; to make demo renders meaningful the template is also vaguely human: one capsule
(generalised cylinder with hemispherical caps) per body part, laid along a plausible rest skeleton
(y up, the subject looks along +z, its left is +x, metres).

Mesh counts are made exact as follows. A capsule with ``R`` rings of ``S`` vertices has
``R*S + 2`` vertices and ``2*R*S`` faces, so ``k`` capsules with 10475 vertices have
``2*10475 - 4k`` faces; the missing ``4k - 42`` faces are interior "membrane" triangles spanning a
ring inside a capsule (invisible, and harmless for skinning). The 21 vertex ids that ``smplx``
picks as extra joints (nose, eyes, ears, toes, heels, fingertips) are swapped onto the matching
places of the synthetic body, so those joints also land where their names say.

Generation is vectorised and deterministic per seed (well under 2 s).
"""
import os
import pickle
from typing import Iterable

import numpy as np

from bhpe_tf.body.model_file import (GENDERS, NUM_DYNAMIC_ANGLES, NUM_DYNAMIC_LANDMARKS,
                                     NUM_FACES, NUM_JOINTS, NUM_STATIC_LANDMARKS, NUM_VERTICES,
                                     SMPLX_PARENTS, SMPLX_VERTEX_IDS)
from bhpe_tf.errors import InvalidInputError

__all__ = ["rest_joints", "make_synthetic_smplx", "write_synthetic_smplx",
           "write_synthetic_model_dir", "write_synthetic_evaluation_files"]

_FINGERS = ("index", "middle", "pinky", "ring", "thumb")  # SMPL-X order of the hand joints


def rest_joints() -> np.ndarray:
    """Plausible SMPL-X rest-pose (T-pose) joint positions ``(55, 3)`` in metres."""
    j = np.zeros((NUM_JOINTS, 3))
    body = {0: (0, -0.35, 0.0), 3: (0, -0.24, -0.01), 6: (0, -0.11, 0.0), 9: (0, -0.05, 0.01),
            12: (0, 0.16, -0.01), 15: (0, 0.24, 0.0), 22: (0, 0.21, 0.03),
            1: (0.07, -0.44, 0.0), 4: (0.10, -0.83, 0.0), 7: (0.09, -1.23, -0.04),
            10: (0.11, -1.29, 0.09), 13: (0.07, 0.08, -0.01), 16: (0.18, 0.11, -0.02),
            18: (0.44, 0.11, -0.03), 20: (0.69, 0.11, -0.02), 23: (0.032, 0.295, 0.078)}
    for idx, pos in body.items():
        j[idx] = pos
    for left, right in ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21),
                        (23, 24)):
        j[right] = j[left] * (-1, 1, 1)
    # Fingers: base offset from the wrist, direction, three phalanx lengths (left hand).
    layout = {"index": ((0.09, 0.0, 0.025), (1, 0, 0.08), (0.037, 0.024, 0.021)),
              "middle": ((0.095, 0.0, 0.002), (1, 0, 0), (0.042, 0.027, 0.022)),
              "pinky": ((0.08, -0.004, -0.04), (1, 0, -0.15), (0.028, 0.018, 0.017)),
              "ring": ((0.09, -0.002, -0.02), (1, 0, -0.07), (0.039, 0.026, 0.021)),
              "thumb": ((0.025, -0.012, 0.03), (0.7, -0.25, 0.65), (0.035, 0.03, 0.027))}
    for hand, (wrist, first) in enumerate(((20, 25), (21, 40))):
        mirror = np.array((1.0 if hand == 0 else -1.0, 1.0, 1.0))
        for f, name in enumerate(_FINGERS):
            base, direction, lengths = layout[name]
            d = np.asarray(direction, float) / np.linalg.norm(direction)
            pos = j[wrist] + np.asarray(base) * mirror
            for k in range(3):
                j[first + 3 * f + k] = pos
                pos = pos + lengths[k] * d * mirror
    return j


def _finger_tip(joints, j3, j2):
    d = joints[j3] - joints[j2]
    return joints[j3] + 0.8 * d


def _parts(joints):
    """Body parts: (polyline points, owner joint of each segment, radius per point, z/x aspect,
    ring segments S, share of the vertex budget)."""
    parts = []
    up = np.array((0, 1.0, 0))
    # Torso first: it absorbs the exact vertex count (see _allocate).
    torso = joints[[0, 3, 6, 9, 12]].copy()
    torso[0, 1] -= 0.06  # the hips extend below the pelvis joint
    parts.append((torso, [0, 3, 6, 9], [0.14, 0.135, 0.14, 0.15, 0.06], 0.62, None, 20.0))
    parts.append((np.stack([joints[12], joints[15]]), [12], [0.05, 0.05], 1.0, 16, 2.0))
    head_c = joints[15] + (0, 0.03, 0)
    parts.append((np.stack([head_c, head_c + 0.11 * up]), [15], [0.085, 0.075], 1.15, 24, 10.0))
    parts.append((np.stack([joints[22], joints[22] + (0, -0.035, 0.065)]), [22], [0.032, 0.025],
                  0.9, 12, 1.5))
    for eye in (23, 24):
        parts.append((np.stack([joints[eye] - (0, 0, 0.002), joints[eye] + (0, 0, 0.002)]), [eye],
                      [0.014, 0.014], 1.0, 10, 0.4))
    for side, (collar, shoulder, elbow, wrist, hip, knee, ankle, foot, first) in enumerate(
            ((13, 16, 18, 20, 1, 4, 7, 10, 25), (14, 17, 19, 21, 2, 5, 8, 11, 40))):
        parts.append((joints[[collar, shoulder, elbow, wrist]], [collar, shoulder, elbow],
                      [0.055, 0.05, 0.04, 0.03], 1.0, 16, 9.0))
        palm_end = joints[first + 3]  # middle1
        parts.append((np.stack([joints[wrist], palm_end]), [wrist], [0.032, 0.036], 0.4, 16, 2.5))
        for f in range(5):
            j1 = first + 3 * f
            pts = np.stack([joints[j1], joints[j1 + 1], joints[j1 + 2],
                            _finger_tip(joints, j1 + 2, j1 + 1)])
            parts.append((pts, [j1, j1 + 1, j1 + 2], [0.0095, 0.009, 0.0085, 0.0075], 0.85, 8,
                          0.95))
        parts.append((joints[[hip, knee, ankle]], [hip, knee], [0.085, 0.055, 0.042], 1.0, 16,
                      11.0))
        toe = joints[foot] + (0, 0.005, 0.07)
        parts.append((np.stack([joints[ankle] + (0, -0.02, -0.05), joints[foot], toe]),
                      [ankle, foot], [0.04, 0.04, 0.028], 0.55, 16, 3.0))
    return parts


def _allocate(parts):
    """Rings per part so that the capsules have exactly NUM_VERTICES vertices in total."""
    budget = np.array([p[5] for p in parts])
    segs = [p[4] or 24 for p in parts]
    rings = [max(3, int(round(NUM_VERTICES * b / budget.sum() / s))) for b, s in zip(budget, segs)]
    for attempt in range(64):
        others = sum(r * s + 2 for r, s in zip(rings[1:], segs[1:]))
        residual = NUM_VERTICES - others - 2
        for s_t in range(20, 49):
            if residual % s_t == 0 and residual // s_t >= 3:
                return [residual // s_t] + rings[1:], [s_t] + segs[1:]
        rings[1 + attempt % (len(rings) - 1)] -= 1  # shift the residual and retry
    raise AssertionError("synthetic SMPL-X: no exact vertex allocation found")


def _capsule(points, radii, aspect, rings, segs):
    """Vertices ``(rings*segs + 2, 3)``, faces, and the arclength of each vertex along the
    polyline (clamped to [0, L]); faces wind counter-clockwise seen from outside."""
    seg_vec = np.diff(points, axis=0)
    seg_len = np.linalg.norm(seg_vec, axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    length = cum[-1]
    r0, r1 = radii[0], radii[-1]
    # Ring positions along the extended axis [-r0, L + r1]; the caps are half ellipses.
    u = np.arange(1, rings + 1) / (rings + 1)
    s = -r0 + u * (length + r0 + r1)
    s_in = np.clip(s, 0.0, length)
    radius = np.interp(s_in, cum, radii)
    radius = np.where(s < 0, r0 * np.sqrt(np.clip(1 - (s / r0) ** 2, 0, 1)), radius)
    radius = np.where(s > length, r1 * np.sqrt(np.clip(1 - ((s - length) / r1) ** 2, 0, 1)),
                      radius)
    seg_idx = np.clip(np.searchsorted(cum, s_in, side="right") - 1, 0, len(seg_len) - 1)
    tangent = seg_vec[seg_idx] / seg_len[seg_idx, None]
    centre = points[seg_idx] + tangent * (s - cum[seg_idx])[:, None]
    ref = np.where(np.abs(tangent[:, 2:3]) < 0.9, np.array([[0, 0, 1.0]]), np.array([[1.0, 0, 0]]))
    n1 = ref - np.sum(ref * tangent, 1, keepdims=True) * tangent
    n1 /= np.linalg.norm(n1, axis=1, keepdims=True)
    n2 = np.cross(tangent, n1)
    # Aspect scales the axis closest to z (depth), e.g. flat palms and an oval torso.
    z_like = np.where(np.abs(n1[:, 2:3]) > np.abs(n2[:, 2:3]), 1, 2)
    a1 = np.where(z_like == 1, aspect, 1.0)
    a2 = np.where(z_like == 2, aspect, 1.0)
    phi = 2 * np.pi * np.arange(segs) / segs
    ring_pts = (centre[:, None] + radius[:, None, None] * (
        a1[:, None] * np.cos(phi)[None, :, None] * n1[:, None]
        + a2[:, None] * np.sin(phi)[None, :, None] * n2[:, None]))
    start = points[0] - tangent[0] * r0
    end = points[-1] + tangent[-1] * r1
    verts = np.concatenate([ring_pts.reshape(-1, 3), start[None], end[None]])
    arclen = np.concatenate([np.repeat(s_in, segs), [0.0, length]])
    # Faces: quads between consecutive rings, fans at both poles.
    i = np.arange(rings - 1)[:, None]
    k = np.arange(segs)[None, :]
    a, b = i * segs + k, i * segs + (k + 1) % segs
    c, d = b + segs, a + segs
    quads = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                            np.stack([a, c, d], -1).reshape(-1, 3)])
    p_start, p_end = rings * segs, rings * segs + 1
    k = np.arange(segs)
    last = (rings - 1) * segs
    caps = np.concatenate([np.stack([np.full(segs, p_start), (k + 1) % segs, k], -1),
                           np.stack([np.full(segs, p_end), last + k, last + (k + 1) % segs], -1)])
    return verts, np.concatenate([quads, caps]), arclen, cum


def _skin_weights(arclen, cum, owners, parents, rng):
    """Weights over each segment's owner joint, blended across segment ends (and into the
    parent of the first owner), jittered, normalised: concentrated on 1-3 nearby joints."""
    w = np.zeros((arclen.shape[0], NUM_JOINTS))
    for k, owner in enumerate(owners):
        blend = 0.3 * (cum[k + 1] - cum[k]) + 1e-3
        dist = np.maximum(cum[k] - arclen, 0) + np.maximum(arclen - cum[k + 1], 0)
        w[:, owner] += np.clip(1 - dist / blend, 0, 1)
    parent = parents[owners[0]]
    if parent >= 0:
        blend = 0.3 * (cum[1] - cum[0]) + 1e-3
        w[:, parent] += 0.5 * np.clip(1 - arclen / blend, 0, 1)
    w *= rng.uniform(0.9, 1.1, size=w.shape)
    return w / w.sum(axis=1, keepdims=True)


def _smooth_field(points, centres, sigma, coeffs):
    """Sum of Gaussian bumps: displacement ``(V, 3, C)`` from coefficients ``(K, 3, C)``."""
    d2 = np.sum((points[:, None] - centres[None]) ** 2, axis=-1)
    kernel = np.exp(-d2 / (2 * sigma ** 2))
    return np.einsum("vk,kcs->vcs", kernel, coeffs)


def make_synthetic_smplx(*, seed: int = 0, num_shape: int = 10,
                         num_expression: int = 10) -> dict:
    """Arrays of a synthetic SMPL-X model under the official key names.

    Args:
        seed: all randomness comes from ``numpy.random.default_rng(seed)``.
        num_shape, num_expression: ``shapedirs`` columns; ``10, 10`` is the layout of the 1.0
            release (20 columns), ``300, 100`` the full 1.1 layout (400 columns).
    """
    if (num_shape, num_expression) not in ((10, 10), (300, 100)):
        raise InvalidInputError(f"synthetic SMPL-X: num_shape/num_expression must be 10/10 or "
                                f"300/100 (the official layouts), got {num_shape}/{num_expression}")
    rng = np.random.default_rng(seed)
    parents = np.array(SMPLX_PARENTS)
    joints = rest_joints() + rng.normal(0, 0.002, size=(NUM_JOINTS, 3))
    parts = _parts(joints)
    rings, segs = _allocate(parts)
    verts, faces, weights, part_of = [], [], [], []
    membranes = []
    offset = 0
    for p, (part, r, s) in enumerate(zip(parts, rings, segs)):
        v, f, arclen, cum = _capsule(part[0], np.asarray(part[2], float), part[3], r, s)
        verts.append(v)
        faces.append(f + offset)
        weights.append(_skin_weights(arclen, cum, part[1], parents, rng))
        part_of.append(np.full(len(v), p))
        mid = offset + (r // 2) * s
        membranes.append(np.stack([np.full(s - 2, mid), mid + np.arange(1, s - 1),
                                   mid + np.arange(2, s)], -1))
        offset += len(v)
    verts, weights, part_of = np.concatenate(verts), np.concatenate(weights), np.concatenate(part_of)
    faces = np.concatenate(faces)
    deficit = NUM_FACES - len(faces)
    extra = np.concatenate(membranes)[:deficit]
    if deficit < 0 or len(extra) != deficit:
        raise AssertionError(f"synthetic SMPL-X: cannot reach {NUM_FACES} faces ({len(faces)})")
    faces = np.concatenate([faces, extra])

    # Swap the vertices smplx reads as extra joints onto the matching body places.
    targets = _vertex_id_targets(joints)
    perm = np.arange(NUM_VERTICES)
    fixed = np.zeros(NUM_VERTICES, bool)
    for name, vid in SMPLX_VERTEX_IDS.items():
        dist = np.linalg.norm(verts[perm] - targets[name], axis=1)
        dist[fixed] = np.inf
        best = int(np.argmin(dist))
        perm[[vid, best]] = perm[[best, vid]]
        fixed[vid] = True
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(NUM_VERTICES)
    verts, weights, part_of = verts[perm], weights[perm], part_of[perm]
    faces = inverse[faces]

    # Joint regressor: random convex combination of the 16 vertices nearest each rest joint.
    j_reg = np.zeros((NUM_JOINTS, NUM_VERTICES))
    d = np.linalg.norm(joints[:, None] - verts[None], axis=-1)
    nearest = np.argpartition(d, 16, axis=1)[:, :16]
    w = rng.uniform(0.5, 1.5, size=nearest.shape)
    np.put_along_axis(j_reg, nearest, w / w.sum(1, keepdims=True), axis=1)

    # Shape space: stature-like first component + smooth random bumps; expressions on the head.
    centres = joints[rng.integers(0, 22, size=24)] + rng.normal(0, 0.05, size=(24, 3))
    shape = _smooth_field(verts, centres, 0.15, rng.normal(0, 0.01, size=(24, 3, num_shape)))
    shape[:, :, 0] += 0.04 * (verts - joints[0])
    head = np.isin(part_of, [2, 3]).astype(float)[:, None, None]
    face_c = joints[15] + (0, 0.04, 0.07) + rng.normal(0, 0.03, size=(16, 3))
    expr = head * _smooth_field(verts, face_c, 0.04,
                                rng.normal(0, 0.004, size=(16, 3, num_expression)))
    # 10 + 10 columns (expression = 10:20) or 300 + 100 (expression = 300:400), as smplx reads.
    shapedirs = np.concatenate([shape, expr], axis=-1)

    # Pose correctives: each joint's 9 features move only the vertices it skins (like SMPL's).
    per_joint = rng.normal(0, 0.004, size=(NUM_JOINTS - 1, 3, 9)).astype(np.float32)
    jitter = rng.uniform(0.5, 1.5, size=(NUM_VERTICES, 1, 1, 1)).astype(np.float32)
    posedirs = weights[:, 1:, None, None].astype(np.float32) * per_joint[None] * jitter
    posedirs = posedirs.transpose(0, 2, 1, 3).reshape(NUM_VERTICES, 3, 9 * (NUM_JOINTS - 1))

    def hand_pca():
        q, r = np.linalg.qr(rng.normal(size=(45, 45)))
        return (q * np.sign(np.diag(r))).T  # rows: orthonormal components

    # Landmarks on the face: faces on the front of the head part (static) and around its
    # lower half (dynamic contour table).
    head_faces = np.nonzero(np.all(part_of[faces] == 2, axis=1))[0]
    centroid = verts[faces[head_faces]].mean(axis=1)
    front = head_faces[np.argsort(-centroid[:, 2])[:200]]
    low = head_faces[centroid[:, 1] < joints[15, 1] + 0.05]

    def bary(*shape_):
        b = rng.uniform(0.05, 1.0, size=shape_ + (3,))
        return b / b.sum(-1, keepdims=True)

    kintree = np.stack([parents, np.arange(NUM_JOINTS)]).astype(np.int64)
    kintree[0, 0] = 2 ** 32 - 1  # how the official files store the root's parent
    return {
        "v_template": verts.astype(np.float64),
        "f": faces.astype(np.uint32),
        "shapedirs": shapedirs.astype(np.float64),
        "posedirs": posedirs,
        "J_regressor": j_reg,
        "weights": weights,
        "kintree_table": kintree,
        "hands_componentsl": hand_pca(),
        "hands_componentsr": hand_pca(),
        "hands_meanl": rng.normal(0, 0.15, size=45),
        "hands_meanr": rng.normal(0, 0.15, size=45),
        "lmk_faces_idx": rng.choice(front, NUM_STATIC_LANDMARKS, replace=False).astype(np.int64),
        "lmk_bary_coords": bary(NUM_STATIC_LANDMARKS),
        "dynamic_lmk_faces_idx": rng.choice(low, (NUM_DYNAMIC_ANGLES, NUM_DYNAMIC_LANDMARKS)
                                            ).astype(np.int64),
        "dynamic_lmk_bary_coords": bary(NUM_DYNAMIC_ANGLES, NUM_DYNAMIC_LANDMARKS),
    }


def _vertex_id_targets(joints):
    """Where each of smplx's 21 vertex-picked joints should sit on the synthetic body."""
    head = joints[15] + (0, 0.03, 0)
    t = {"nose": head + (0, 0.03, 0.1), "reye": joints[24] + (0, 0, 0.014),
         "leye": joints[23] + (0, 0, 0.014), "rear": head + (-0.085, 0.04, 0),
         "lear": head + (0.085, 0.04, 0)}
    for side, ankle, foot in (("L", 7, 10), ("R", 8, 11)):
        t[side + "BigToe"] = joints[foot] + (0, 0, 0.1)
        sign = 1 if side == "L" else -1
        t[side + "SmallToe"] = joints[foot] + (0.03 * sign, 0, 0.08)
        t[side + "Heel"] = joints[ankle] + (0, -0.05, -0.09)
    for side, first in (("l", 25), ("r", 40)):
        for f, name in enumerate(_FINGERS):
            j1 = first + 3 * f
            t[side + name] = _finger_tip(joints, j1 + 2, j1 + 1) + 0.4 * (
                joints[j1 + 2] - joints[j1 + 1])
    return t


def write_synthetic_smplx(path, *, seed: int = 0, num_shape: int = 10,
                          num_expression: int = 10) -> str:
    """Write a synthetic model to ``path`` (``.npz``, or ``.pkl`` as a latin1-readable pickle with
    a ``scipy.sparse`` ``J_regressor`` like the official pickles). Returns the path."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".npz", ".pkl"):
        raise InvalidInputError(f"{path}: synthetic SMPL-X files are written as .npz or .pkl")
    data = make_synthetic_smplx(seed=seed, num_shape=num_shape, num_expression=num_expression)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if ext == ".npz":
        np.savez(path, **data)
    else:
        import scipy.sparse

        data["J_regressor"] = scipy.sparse.csc_matrix(data["J_regressor"])
        with open(path, "wb") as handle:
            pickle.dump(data, handle, protocol=2)
    return path


def write_synthetic_model_dir(root, *, seed: int = 0, ext: str = "npz",
                              genders: Iterable[str] = GENDERS,
                              num_shape: int = 10, num_expression: int = 10) -> str:
    """Write ``root/smplx/SMPLX_<GENDER>.<ext>`` as ``smplx.create(root, model_type='smplx')``
    expects; each gender gets its own seed (``seed + GENDERS.index(gender)``). Returns ``root``."""
    for gender in genders:
        if gender not in GENDERS:
            raise InvalidInputError(f"unknown gender {gender!r}; valid: {', '.join(GENDERS)}")
        write_synthetic_smplx(os.path.join(os.fspath(root), "smplx",
                                           f"SMPLX_{gender.upper()}.{ext}"),
                              seed=seed + GENDERS.index(gender), num_shape=num_shape,
                              num_expression=num_expression)
    return os.fspath(root)


# Joints of the synthetic evaluation regressors: the 14 LSP joints of ``SMPLX_to_J14.pkl`` (right
# ankle, knee, hip, left hip, knee, ankle, right wrist, elbow, shoulder, left shoulder, elbow,
# wrist, neck, head) as rows of the model's own joint regressor.
_J14_FROM_SMPLX = (8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12, 15)
_PART_OWNERS = {"left_hand": (20,) + tuple(range(25, 40)), "right_hand": (21,) + tuple(range(40, 55)),
                "face": (15, 22, 23, 24)}


def write_synthetic_evaluation_files(directory, *, model_path) -> str:
    """Write, next to a (synthetic) SMPL-X model, the evaluation files of the official downloads in
    their formats: ``MANO_SMPLX_vertex_ids.pkl`` (``{'left_hand', 'right_hand'}`` vertex indices),
    ``SMPL-X__FLAME_vertex_ids.npy`` (face vertices) and ``SMPLX_to_J14.pkl`` (a (14, V) regressor).

    The official MANO / FLAME subsets are the hand and head regions of the SMPL-X topology; here
    they are the vertices skinned mostly to the hand (wrist and fingers) and head (head, jaw, eyes)
    joints, and the J14 regressor is the model's own joint regressor rows of the 14 LSP joints."""
    from bhpe_tf.body.model_file import load_smplx_model

    data = load_smplx_model(model_path)
    owner = np.argmax(data.weights, axis=1)
    subsets = {part: np.nonzero(np.isin(owner, joints))[0].astype(np.int64) for part, joints in _PART_OWNERS.items()}
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "MANO_SMPLX_vertex_ids.pkl"), "wb") as handle:
        pickle.dump({"left_hand": subsets["left_hand"], "right_hand": subsets["right_hand"]}, handle, protocol=2)
    np.save(os.path.join(directory, "SMPL-X__FLAME_vertex_ids.npy"), subsets["face"])
    with open(os.path.join(directory, "SMPLX_to_J14.pkl"), "wb") as handle:
        pickle.dump(np.asarray(data.J_regressor[list(_J14_FROM_SMPLX)], np.float64), handle, protocol=2)
    return directory
