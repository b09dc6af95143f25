"""SMPL-X as a Keras layer: linear blend skinning in TensorFlow, batched, equal to ``smplx`` 0.1.28.

The forward pass is the SMPL-X model (Pavlakos et al., "Expressive Body Capture: 3D Hands, Face,
and Body from a Single Image", CVPR 2019, Eq. 1-2), i.e. SMPL's LBS (Loper et al., "SMPL: A Skinned
Multi-Person Linear Model", SIGGRAPH Asia 2015, Eq. 1-4) with shape + expression blend shapes:

    T(b, psi, theta) = T_bar + B_S(b; S) + B_E(psi; E) + B_P(theta; P)
    J(b, psi)        = J_regressor @ (T_bar + B_S + B_E)
    v_i              = sum_k w_ik G'_k(theta, J) [T_i; 1]

followed by the 144 output joints of the ``smplx`` package: 55 posed kinematic joints, 21
vertex-picked points (``smplx.vertex_ids['smplx']``), 51 static face landmarks and, with
``use_face_contour``, 17 dynamic contour landmarks whose faces are looked up from the neck's
global rotation about y. Translation is added last, to vertices and joints.

Implementation choices (all exact, only the float rounding differs from the package):

* ``J_regressor`` is linear, so the rest joints are ``J_regressor @ T_bar + (J_regressor @ S) b``
  with both products precomputed in float64 when the layer is built: no (V x 55) product per call.
* The kinematic chain is evaluated level by level of the tree (13 batched matmuls instead of 54
  sequential ones), with the same ``G_parent @ G_local`` product as the package.
* The skinning matrices are carried as ``(55, 3, 4)`` affine blocks (the last row of a rigid 4x4
  is constant), which also skips a quarter of the blend work.

Model constants are plain tensors, not weights: checkpoints of a network that contains this layer
stay small, and the layer config keeps the model path to rebuild it.
"""
from typing import Optional

import numpy as np
import tensorflow as tf

from bhpe_tf.body.model_file import SMPLX_VERTEX_IDS, SMPLXModelData, load_smplx_model
from bhpe_tf.body.rotations import axis_angle_to_matrix
from bhpe_tf.errors import InvalidInputError

__all__ = ["SMPLXLayer", "PARAM_NAMES", "NECK_IDX", "EXTRA_JOINT_VERTEX_IDS"]

# smplx.VertexJointSelector order (the dict order of SMPLX_VERTEX_IDS).
EXTRA_JOINT_VERTEX_IDS = tuple(SMPLX_VERTEX_IDS.values())

NECK_IDX = 12  # smplx.SMPLX.NECK_IDX: the contour look-up uses the neck's global rotation
NUM_BODY_JOINTS = 21
NUM_HAND_JOINTS = 15

# Input names (smplx.SMPLX.forward keywords) in full-pose order where they are rotations.
PARAM_NAMES = ("global_orient", "body_pose", "jaw_pose", "leye_pose", "reye_pose",
               "left_hand_pose", "right_hand_pose", "betas", "expression", "transl")


def _kinematic_levels(parents):
    """Joints grouped by depth in the tree: [(joint ids, parent ids), ...] from depth 1 down."""
    depth = np.zeros(len(parents), dtype=np.int64)
    for j in range(1, len(parents)):
        depth[j] = depth[parents[j]] + 1
    levels = []
    for d in range(1, depth.max() + 1):
        ids = np.nonzero(depth == d)[0]
        levels.append((ids, parents[ids]))
    return levels


def _kin_chain(joint, parents):
    """smplx.utils.find_joint_kin_chain: joint, its parent, ..., root."""
    chain = []
    while joint != -1:
        chain.append(int(joint))
        joint = parents[joint]
    return chain


@tf.keras.utils.register_keras_serializable(package="bhpe_tf")
class SMPLXLayer(tf.keras.layers.Layer):
    """SMPL-X body model: parameters -> ``{'vertices', 'joints', 'full_pose'}``.

    Construct with keywords only::

        layer = SMPLXLayer(model_path="models", gender="neutral")        # Hand4Whole defaults
        out = layer({"global_orient": root, "body_pose": body, "betas": betas, ...})
        out = layer(global_orient=root, body_pose=body, betas=betas)     # same, as keywords

    Inputs (all optional; missing ones are zeros, batch taken from the given ones):
        ``global_orient (B,3)``, ``body_pose (B,63)`` or ``(B,21,3)``, ``jaw_pose``,
        ``leye_pose``, ``reye_pose (B,3)``, ``left_hand_pose``/``right_hand_pose`` ``(B,45)`` or
        ``(B,15,3)`` axis-angle, or ``(B,num_pca_comps)`` with ``use_pca``; ``betas
        (B,num_betas)``, ``expression (B,num_expression_coeffs)``, ``transl (B,3)``.
        Hand poses are offsets from the file's mean hand unless ``flat_hand_mean``, as in smplx.

    Outputs:
        ``vertices (B,10475,3)``, ``joints (B,144,3)`` (127 without the face contour) in the
        package's order, ``full_pose (B,55,3)`` axis-angle in kinematic-joint order (hand means
        added, PCA expanded).

    Args:
        model_path: file or directory (see :func:`~bhpe_tf.body.model_file.resolve_model_path`).
        model_data: an already loaded :class:`SMPLXModelData` (instead of ``model_path``).
        gender, ext: which file to pick in a directory.
        num_betas: shape coefficients (default 10; at most what the file has, never clamped).
        num_expression_coeffs: expression coefficients (default 10).
        use_pca, num_pca_comps: hand poses as PCA coefficients (smplx default 6) instead of 45.
        flat_hand_mean: if False (smplx and Hand4Whole default) the file's mean hand pose is added.
        use_face_contour: add the 17 dynamic contour landmarks (needs the ``dynamic_lmk_*`` keys).
        dtype: ``float32`` (default) or ``float64``.
    """

    def __init__(self, *, model_path=None, model_data: Optional[SMPLXModelData] = None,
                 gender: str = "neutral", ext: Optional[str] = None, num_betas: int = 10,
                 num_expression_coeffs: int = 10, use_pca: bool = False, num_pca_comps: int = 6,
                 flat_hand_mean: bool = False, use_face_contour: bool = True, **kwargs):
        super().__init__(**kwargs)
        if (model_path is None) == (model_data is None):
            raise InvalidInputError("SMPLXLayer: give exactly one of model_path= or model_data=")
        data = model_data if model_data is not None else load_smplx_model(
            model_path, gender=gender, ext=ext)
        self.model_path = data.path
        self.gender, self.ext = gender, ext
        self.num_betas, self.num_expression_coeffs = int(num_betas), int(num_expression_coeffs)
        self.use_pca, self.num_pca_comps = bool(use_pca), int(num_pca_comps)
        self.flat_hand_mean, self.use_face_contour = bool(flat_hand_mean), bool(use_face_contour)
        self._check_options(data)
        # Constants live outside any tf.function being traced (init_scope), so a layer first built
        # inside a training step can still be called eagerly or from another graph later.
        with tf.init_scope():
            self._build_constants(data)

    # ------------------------------------------------------------------ construction
    def _check_options(self, data):
        where = f"SMPLXLayer({data.path})"
        if not 1 <= self.num_betas <= data.max_betas:
            raise InvalidInputError(f"{where}: num_betas={self.num_betas}; the file has "
                                    f"1..{data.max_betas} shape coefficients")
        if not 0 <= self.num_expression_coeffs <= data.max_expression_coeffs:
            raise InvalidInputError(f"{where}: num_expression_coeffs={self.num_expression_coeffs};"
                                    f" the file has 0..{data.max_expression_coeffs}")
        num_comps = data.hands_components_left.shape[0]
        if self.use_pca and not 1 <= self.num_pca_comps <= num_comps:
            raise InvalidInputError(f"{where}: num_pca_comps={self.num_pca_comps}; the file has "
                                    f"1..{num_comps} hand PCA components")
        if self.use_face_contour and not data.has_face_contour:
            raise InvalidInputError(f"{where}: use_face_contour=True but the file has no "
                                    f"'dynamic_lmk_faces_idx' / 'dynamic_lmk_bary_coords'")

    def _build_constants(self, data):
        dt = self.dtype
        num_verts = data.num_vertices
        expr = data.expression_columns
        dirs = np.concatenate([data.shapedirs[:, :, :self.num_betas],
                               data.shapedirs[:, :, expr.start:expr.start +
                                              self.num_expression_coeffs]], axis=-1)  # (V,3,S)
        self._num_verts = num_verts
        self._v_template = tf.constant(data.v_template, dt)
        self._shapedirs = tf.constant(dirs.reshape(num_verts * 3, -1).T, dt)  # (S, 3V)
        # Joint regression folded into the blend shapes (linear), in float64.
        self._j_template = tf.constant(data.J_regressor @ data.v_template, dt)  # (55,3)
        j_dirs = np.einsum("jv,vcs->sjc", data.J_regressor, dirs)
        self._j_dirs = tf.constant(j_dirs.reshape(dirs.shape[-1], -1), dt)  # (S, 165)
        self._posedirs = tf.constant(data.posedirs.reshape(num_verts * 3, -1).T, dt)  # (486, 3V)
        self._weights = tf.constant(data.weights, dt)  # (V,55)
        self._parents = data.parents
        self._levels = _kinematic_levels(data.parents)
        self._neck_chain = _kin_chain(NECK_IDX, data.parents)
        self._extra_ids = tf.constant(EXTRA_JOINT_VERTEX_IDS, tf.int32)
        faces = data.faces
        self.faces = faces  # numpy (F,3), for export and rendering
        self._lmk_vertex_ids = tf.constant(faces[data.lmk_faces_idx], tf.int32)  # (51,3)
        self._lmk_bary = tf.constant(data.lmk_bary_coords, dt)
        if self.use_face_contour:
            self._dyn_vertex_ids = tf.constant(faces[data.dynamic_lmk_faces_idx], tf.int32)
            self._dyn_bary = tf.constant(data.dynamic_lmk_bary_coords, dt)
        hand_mean = np.zeros(2 * 45) if self.flat_hand_mean else np.concatenate(
            [data.hands_mean_left, data.hands_mean_right])
        # smplx's `pose_mean`: zeros for root, body, jaw, eyes; the hand means for the hands.
        pose_mean = np.concatenate([np.zeros(3 * 25), hand_mean]).reshape(55, 3)
        self._pose_mean = tf.constant(pose_mean, dt)
        if self.use_pca:
            self._hand_components = (
                tf.constant(data.hands_components_left[:self.num_pca_comps], dt),
                tf.constant(data.hands_components_right[:self.num_pca_comps], dt))
        self.num_joints = 55 + len(EXTRA_JOINT_VERTEX_IDS) + 51 + (17 if self.use_face_contour
                                                                   else 0)

    def get_config(self):
        config = super().get_config()
        config.update(model_path=self.model_path, gender=self.gender, ext=self.ext,
                      num_betas=self.num_betas, num_expression_coeffs=self.num_expression_coeffs,
                      use_pca=self.use_pca, num_pca_comps=self.num_pca_comps,
                      flat_hand_mean=self.flat_hand_mean, use_face_contour=self.use_face_contour)
        return config

    # ------------------------------------------------------------------ inputs
    def _param_shapes(self):
        """Accepted per-sample shapes of each input, first one canonical."""
        hand = [(self.num_pca_comps,)] if self.use_pca else [(45,), (15, 3)]
        return {
            "global_orient": [(3,), (1, 3)], "body_pose": [(63,), (21, 3)],
            "jaw_pose": [(3,), (1, 3)], "leye_pose": [(3,), (1, 3)], "reye_pose": [(3,), (1, 3)],
            "left_hand_pose": hand, "right_hand_pose": hand,
            "betas": [(self.num_betas,)], "expression": [(self.num_expression_coeffs,)],
            "transl": [(3,), (1, 3)],
        }

    def __call__(self, inputs=None, **kwargs):
        """Accept ``layer(dict)``, ``layer(**params)`` or both (Keras needs one positional input)."""
        params = {name: kwargs.pop(name) for name in PARAM_NAMES if name in kwargs}
        if inputs is None:
            inputs = {}
        if not isinstance(inputs, dict):
            raise InvalidInputError(f"{self.name}: inputs must be a dict of SMPL-X parameters "
                                    f"({', '.join(PARAM_NAMES)}), got {type(inputs).__name__}")
        both = sorted(set(inputs) & set(params))
        if both:
            raise InvalidInputError(f"{self.name}: {both} given both in the dict and as keywords")
        unknown = sorted(set(inputs) - set(PARAM_NAMES)) + sorted(
            k for k in kwargs if k not in ("training", "mask"))
        if unknown:
            raise InvalidInputError(f"{self.name}: unknown SMPL-X parameter(s) {unknown}; valid: "
                                    f"{', '.join(PARAM_NAMES)}")
        return super().__call__({**inputs, **params}, **kwargs)

    def _canonical_inputs(self, inputs):
        """Validate shapes (one error naming the parameter) and fill missing inputs with zeros."""
        shapes = self._param_shapes()
        tensors = {}
        for name, value in inputs.items():
            if value is None:
                continue
            t = tf.convert_to_tensor(value)
            t = tf.cast(t, self.dtype) if t.dtype != self.dtype else t
            allowed = shapes[name]
            per_sample = tuple(t.shape[1:]) if t.shape.rank is not None else None
            if t.shape.rank is not None and (t.shape.rank < 2 or not any(
                    len(per_sample) == len(a) and all(d is None or d == e
                                                      for d, e in zip(per_sample, a))
                    for a in allowed)):
                want = " or ".join(str((None,) + a).replace("None", "batch") for a in allowed)
                raise InvalidInputError(f"{self.name}: {name!r} must have shape {want}, got "
                                        f"{tuple(t.shape)}")
            tensors[name] = tf.reshape(t, [-1, int(np.prod(allowed[0]))])
        batch = None
        for name, t in tensors.items():
            if batch is None:
                batch_name, batch = name, t.shape[0]
            elif t.shape[0] is not None and batch is not None and t.shape[0] != batch:
                raise InvalidInputError(f"{self.name}: {name!r} has batch {t.shape[0]} but "
                                        f"{batch_name!r} has batch {batch}")
        dyn_batch = tf.shape(next(iter(tensors.values())))[0] if tensors else 1
        for name in PARAM_NAMES:
            if name not in tensors:
                tensors[name] = tf.zeros([dyn_batch, int(np.prod(shapes[name][0]))], self.dtype)
        return tensors

    # ------------------------------------------------------------------ forward
    def call(self, inputs):
        p = self._canonical_inputs(inputs)
        lhand, rhand = p["left_hand_pose"], p["right_hand_pose"]
        if self.use_pca:
            lhand = tf.matmul(lhand, self._hand_components[0])
            rhand = tf.matmul(rhand, self._hand_components[1])
        # smplx full-pose order: root, body 21, jaw, left eye, right eye, left hand, right hand.
        full_pose = tf.concat([p["global_orient"], p["body_pose"], p["jaw_pose"], p["leye_pose"],
                               p["reye_pose"], lhand, rhand], axis=-1)
        full_pose = tf.reshape(full_pose, [-1, 55, 3]) + self._pose_mean
        batch = tf.shape(full_pose)[0]
        rot = axis_angle_to_matrix(full_pose)  # (B,55,3,3)

        # Shape + expression blend shapes B_S + B_E and the rest joints they imply.
        coeffs = tf.concat([p["betas"], p["expression"]], axis=-1)
        v_shaped = self._v_template + tf.reshape(tf.matmul(coeffs, self._shapedirs),
                                                 [batch, self._num_verts, 3])
        joints_rest = self._j_template + tf.reshape(tf.matmul(coeffs, self._j_dirs), [batch, 55, 3])
        # Pose blend shapes B_P: linear in the entries of (R_j - I), j = 1..54.
        pose_feature = tf.reshape(rot[:, 1:] - tf.eye(3, dtype=self.dtype), [batch, 54 * 9])
        v_posed = v_shaped + tf.reshape(tf.matmul(pose_feature, self._posedirs),
                                        [batch, self._num_verts, 3])

        posed_joints, rel_affine = self._rigid_transforms(rot, joints_rest)
        # LBS: per-vertex blend of the 55 affine (3x4) transforms, applied to [v; 1].
        blended = tf.reshape(tf.einsum("vj,bjk->bvk", self._weights, rel_affine),
                             [batch, self._num_verts, 3, 4])
        vertices = tf.reduce_sum(blended[..., :3] * v_posed[:, :, None, :], axis=-1) \
            + blended[..., 3]

        parts = [posed_joints, tf.gather(vertices, self._extra_ids, axis=1),
                 self._landmarks(vertices, self._lmk_vertex_ids[None], self._lmk_bary[None])]
        if self.use_face_contour:
            angle_bin = self._contour_bin(rot)
            parts.append(self._landmarks(vertices, tf.gather(self._dyn_vertex_ids, angle_bin),
                                         tf.gather(self._dyn_bary, angle_bin)))
        joints = tf.concat(parts, axis=1)
        transl = p["transl"][:, None, :]
        return {"vertices": vertices + transl, "joints": joints + transl, "full_pose": full_pose}

    def _rigid_transforms(self, rot, joints_rest):
        """SMPL's ``batch_rigid_transform``: global transforms G_k = G_parent(k) @ [R_k | j_k - j_p].

        Returns the posed joints ``(B,55,3)`` and the skinning transforms ``G_k @ [I | -j_k]`` as
        flattened 3x4 blocks ``(B,55,12)``.
        """
        # Transforms are kept in the order they are computed (level by level), `slot` maps a
        # joint to its position there; one gather at the end restores joint order.
        glob_r, glob_t = rot[:, :1], joints_rest[:, :1]
        slot = {0: 0}
        for ids, par in self._levels:
            par_slots = [slot[int(k)] for k in par]
            r_par = tf.gather(glob_r, par_slots, axis=1)
            t_par = tf.gather(glob_t, par_slots, axis=1)
            rel = tf.gather(joints_rest, ids, axis=1) - tf.gather(joints_rest, par, axis=1)
            glob_r = tf.concat([glob_r, tf.matmul(r_par, tf.gather(rot, ids, axis=1))], axis=1)
            glob_t = tf.concat([glob_t, tf.linalg.matvec(r_par, rel) + t_par], axis=1)
            base = len(slot)
            slot.update({int(j): base + n for n, j in enumerate(ids)})
        order = [slot[j] for j in range(len(slot))]
        glob_r = tf.gather(glob_r, order, axis=1)
        posed = tf.gather(glob_t, order, axis=1)
        t_rel = posed - tf.linalg.matvec(glob_r, joints_rest)
        affine = tf.concat([glob_r, t_rel[..., None]], axis=-1)  # (B,55,3,4)
        return posed, tf.reshape(affine, [-1, 55, 12])

    def _contour_bin(self, rot):
        """Row of the contour look-up table (smplx ``find_dynamic_lmk_idx_and_bcoords``).

        The neck's global rotation, accumulated as the package does (R_12 first, then
        left-multiplied by its ancestors), gives the y Euler angle; it is negated, clamped at 39
        degrees, rounded (half to even, like torch), and negative angles map to 39 - angle
        (78 below -39).
        """
        rel = rot[:, self._neck_chain[0]]
        for j in self._neck_chain[1:]:
            rel = tf.matmul(rot[:, j], rel)
        sy = tf.sqrt(rel[:, 0, 0] * rel[:, 0, 0] + rel[:, 1, 0] * rel[:, 1, 0])
        euler_y = tf.atan2(-rel[:, 2, 0], sy)
        deg = tf.round(tf.minimum(-euler_y * 180.0 / np.pi, 39.0))
        deg = tf.cast(deg, tf.int32)
        return tf.where(deg < 0, tf.where(deg < -39, 78, 39 - deg), deg)

    @staticmethod
    def _landmarks(vertices, vertex_ids, bary):
        """Barycentric interpolation on faces (smplx ``vertices2landmarks``).

        ``vertex_ids (1|B, L, 3)`` vertex indices of each landmark's face, ``bary (1|B, L, 3)``.
        """
        batch = tf.shape(vertices)[0]
        num_lmk = tf.shape(vertex_ids)[1]
        ids = tf.broadcast_to(vertex_ids, [batch, num_lmk, 3])
        corners = tf.gather(vertices, tf.reshape(ids, [batch, -1]), batch_dims=1)
        corners = tf.reshape(corners, [batch, num_lmk, 3, 3])
        return tf.reduce_sum(corners * bary[..., None], axis=2)
