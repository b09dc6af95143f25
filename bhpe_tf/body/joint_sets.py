"""Joint sets of the SMPL-X output and the subsets Hand4Whole supervises.

``SMPLX_JOINT_NAMES`` are the 144 output joints of ``smplx`` 0.1.28 (``smplx.joint_names.JOINT_NAMES``
and the order of :class:`~bhpe_tf.body.smplx_layer.SMPLXLayer`):

* 0-54: the 55 kinematic joints (0-21 body, 22 jaw, 23-24 eyes, 25-39 left hand index/middle/
  pinky/ring/thumb x 3, 40-54 right hand);
* 55-75: the 21 vertex-picked points (``smplx.vertex_ids['smplx']``): nose, right/left eye,
  right/left ear, left/right big toe, small toe, heel, left/right fingertips thumb..pinky;
* 76-126: the 51 static face landmarks (eyebrows, nose, eyes, mouth, lips);
* 127-143: the 17 dynamic face-contour landmarks (only with ``use_face_contour``).

The Hand4Whole subsets below are ``SMPLX.joint_idx`` of Hand4Whole's
``common/utils/human_models.py`` (Moon et al., CVPRW 2022): 137 = 25 body + 2 x 20 hand + 72 face
joints, in Hand4Whole's order (its ``joints_name``), and ``H4W_POSE_JOINTS`` is its 53-joint
``orig_joints_name`` order of the predicted rotations (root + 21 body, 2 x 15 hand, jaw). Each
index is checked by name against ``SMPLX_JOINT_NAMES`` in the tests.
"""
import numpy as np

__all__ = ["SMPLX_JOINT_NAMES", "NUM_SMPLX_JOINTS", "H4W_BODY_JOINTS", "H4W_LHAND_JOINTS",
           "H4W_RHAND_JOINTS", "H4W_FACE_JOINTS", "H4W_JOINTS", "H4W_POSE_JOINTS",
           "H4W_BODY_NAMES", "H4W_JOINT_NAMES", "select_joints", "hand4whole_joints", "side_swap_permutation",
           "H4W_FLIP_PERMUTATION", "H4W_POSE_FLIP_PERMUTATION"]

SMPLX_JOINT_NAMES = ('pelvis', 'left_hip', 'right_hip', 'spine1', 'left_knee', 'right_knee', 'spine2', 'left_ankle',
    'right_ankle', 'spine3', 'left_foot', 'right_foot', 'neck', 'left_collar', 'right_collar',
    'head', 'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist',
    'right_wrist', 'jaw', 'left_eye_smplhf', 'right_eye_smplhf', 'left_index1', 'left_index2',
    'left_index3', 'left_middle1', 'left_middle2', 'left_middle3', 'left_pinky1', 'left_pinky2',
    'left_pinky3', 'left_ring1', 'left_ring2', 'left_ring3', 'left_thumb1', 'left_thumb2',
    'left_thumb3', 'right_index1', 'right_index2', 'right_index3', 'right_middle1',
    'right_middle2', 'right_middle3', 'right_pinky1', 'right_pinky2', 'right_pinky3',
    'right_ring1', 'right_ring2', 'right_ring3', 'right_thumb1', 'right_thumb2', 'right_thumb3',
    'nose', 'right_eye', 'left_eye', 'right_ear', 'left_ear', 'left_big_toe', 'left_small_toe',
    'left_heel', 'right_big_toe', 'right_small_toe', 'right_heel', 'left_thumb', 'left_index',
    'left_middle', 'left_ring', 'left_pinky', 'right_thumb', 'right_index', 'right_middle',
    'right_ring', 'right_pinky', 'right_eye_brow1', 'right_eye_brow2', 'right_eye_brow3',
    'right_eye_brow4', 'right_eye_brow5', 'left_eye_brow5', 'left_eye_brow4', 'left_eye_brow3',
    'left_eye_brow2', 'left_eye_brow1', 'nose1', 'nose2', 'nose3', 'nose4', 'right_nose_2',
    'right_nose_1', 'nose_middle', 'left_nose_1', 'left_nose_2', 'right_eye1', 'right_eye2',
    'right_eye3', 'right_eye4', 'right_eye5', 'right_eye6', 'left_eye4', 'left_eye3', 'left_eye2',
    'left_eye1', 'left_eye6', 'left_eye5', 'right_mouth_1', 'right_mouth_2', 'right_mouth_3',
    'mouth_top', 'left_mouth_3', 'left_mouth_2', 'left_mouth_1', 'left_mouth_5', 'left_mouth_4',
    'mouth_bottom', 'right_mouth_4', 'right_mouth_5', 'right_lip_1', 'right_lip_2', 'lip_top',
    'left_lip_2', 'left_lip_1', 'left_lip_3', 'lip_bottom', 'right_lip_3', 'right_contour_1',
    'right_contour_2', 'right_contour_3', 'right_contour_4', 'right_contour_5', 'right_contour_6',
    'right_contour_7', 'right_contour_8', 'contour_middle', 'left_contour_8', 'left_contour_7',
    'left_contour_6', 'left_contour_5', 'left_contour_4', 'left_contour_3', 'left_contour_2',
    'left_contour_1')
NUM_SMPLX_JOINTS = len(SMPLX_JOINT_NAMES)  # 144

# Hand4Whole's 25 body joints: Pelvis, L/R Hip, L/R Knee, L/R Ankle, Neck, L/R Shoulder, L/R Elbow,
# L/R Wrist, L Big toe, L Small toe, L Heel, R Big toe, R Small toe, R Heel, L/R Ear, L/R Eye, Nose.
H4W_BODY_JOINTS = (0, 1, 2, 4, 5, 7, 8, 12, 16, 17, 18, 19, 20, 21, 60, 61, 62, 63, 64, 65,
                   59, 58, 57, 56, 55)
H4W_BODY_NAMES = ("Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Neck",
                  "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist",
                  "L_Big_toe", "L_Small_toe", "L_Heel", "R_Big_toe", "R_Small_toe", "R_Heel",
                  "L_Ear", "R_Ear", "L_Eye", "R_Eye", "Nose")
# 20 per hand: thumb, index, middle, ring, pinky; each 3 kinematic joints then the fingertip.
H4W_LHAND_JOINTS = (37, 38, 39, 66, 25, 26, 27, 67, 28, 29, 30, 68, 34, 35, 36, 69,
                    31, 32, 33, 70)
H4W_RHAND_JOINTS = (52, 53, 54, 71, 40, 41, 42, 72, 43, 44, 45, 73, 49, 50, 51, 74,
                    46, 47, 48, 75)
# 72 face points: jaw, head, the two eyeballs (left, right), the 51 landmarks, the 17 contour points.
H4W_FACE_JOINTS = (22, 15, 57, 56) + tuple(range(76, 144))
H4W_JOINTS = H4W_BODY_JOINTS + H4W_LHAND_JOINTS + H4W_RHAND_JOINTS + H4W_FACE_JOINTS  # 137
# Rotations Hand4Whole predicts / supervises (53 x 3 axis-angle): root + body 21, left hand 15,
# right hand 15, jaw; indices into the 55 kinematic joints (eyes excluded, they stay zero).
H4W_POSE_JOINTS = tuple(range(22)) + tuple(range(25, 55)) + (22,)
# Hand4Whole's names of the 137 joints (``smpl_x.joints_name``): the dataset readers map their own
# joint sets into these by name (its ``transform_joint_to_other_db``).
H4W_JOINT_NAMES = H4W_BODY_NAMES + tuple(
    f"{side}_{finger}_{k}" for side in ("L", "R") for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky")
    for k in range(1, 5)) + tuple(f"Face_{k}" for k in range(1, 73))


def side_swap_permutation(names) -> np.ndarray:
    """Permutation swapping every ``left*`` / ``right*`` name with its mirror twin (others stay);
    an involution.

    SMPL-X names its mirrored joints ``left_x`` / ``right_x`` (and ``left_eye4`` / ``right_eye4``
    for the face landmarks), so the left/right pairs of any subset follow from the names alone."""
    names = list(names)
    where = {}
    for i, n in enumerate(names):
        where.setdefault(n, []).append(i)
    perm = np.arange(len(names))
    for i, n in enumerate(names):
        for a, b in (("left", "right"), ("right", "left")):
            if n.startswith(a) and b + n[len(a):] in where:
                # A name can occur twice (Hand4Whole's body eyes are also its face eyeballs): the
                # twin is the nearest occurrence, i.e. the one of the same part.
                perm[i] = min(where[b + n[len(a):]], key=lambda j: abs(j - i))
    return perm


# Horizontal-flip permutations of the 137 joints (Hand4Whole ``smpl_x.flip_pairs``) and of the 53
# supervised rotations (``smpl_x.orig_flip_pairs``), from the SMPL-X names of the joints they pick.
H4W_FLIP_PERMUTATION = side_swap_permutation([SMPLX_JOINT_NAMES[i] for i in H4W_JOINTS])
H4W_POSE_FLIP_PERMUTATION = side_swap_permutation([SMPLX_JOINT_NAMES[i] for i in H4W_POSE_JOINTS])


def select_joints(joints, indices):
    """Gather ``indices`` along the joint axis (-2) of ``(..., J, 3)`` joints.

    numpy in, numpy out; anything else goes through ``tf.gather`` (differentiable).
    """
    indices = np.asarray(indices, dtype=np.int64)
    if isinstance(joints, np.ndarray):
        return np.take(joints, indices, axis=-2)
    import tensorflow as tf  # only for tensors: keeps this module importable without TF

    joints = tf.convert_to_tensor(joints)
    return tf.gather(joints, indices, axis=joints.shape.rank - 2)


def hand4whole_joints(joints):
    """The 137 joints Hand4Whole supervises, from the 144 SMPL-X output joints."""
    num = joints.shape[-2]
    if num != NUM_SMPLX_JOINTS:
        from bhpe_tf.errors import InvalidInputError

        raise InvalidInputError(f"hand4whole_joints: expected {NUM_SMPLX_JOINTS} joints (use_face_contour"
                         f"=True), got {num}")
    return select_joints(joints, H4W_JOINTS)
