"""Hand4Whole's datasets: folder layout, joint sets and per-dataset supervision rules.

The layout is what Hand4Whole's ``data/*/*.py`` read under its ``data/`` folder (Moon et al.,
CVPRW 2022, github.com/mks0601/Hand4Whole_RELEASE), so a researcher's existing copy works as
``--data_dir``::

    Human36M/images/<file_name of the data json>
    Human36M/annotations/Human36M_subject{S}_data.json              COCO-style images + annotations
    Human36M/annotations/Human36M_subject{S}_camera.json            {cam_idx: {R, t (mm), f, c}}
    Human36M/annotations/Human36M_subject{S}_joint_3d.json          {action: {subaction: {frame: 17 x 3 mm, world}}}
    Human36M/annotations/Human36M_subject{S}_SMPLX_NeuralAnnot.json {action: {subaction: {frame: SMPL-X fit}}}
    MSCOCO/images/{train2017,val2017}/*.jpg
    MSCOCO/annotations/coco_wholebody_{train,val}_v1.0.json
    MSCOCO/annotations/MSCOCO_train_SMPLX_all_NeuralAnnot.json      {ann_id: {smplx_param, cam_param}}
    MPII/data/images/*.jpg
    MPII/data/annotations/train.json                                COCO-style, 16 keypoints
    MPII/data/annotations/MPII_train_SMPLX_NeuralAnnot.json         {ann_id: {smplx_param, cam_param}}
    EHF/data/EHF.json + EHF/data/NN_img.png + NN_align.ply          (or the original EHF folder)
    AGORA/data/AGORA_{train,validation}_SMPLX.json                  COCO-style, per-person param paths
    AGORA/data/images_3840x2160/<scene>_crop/<stem>_person_id_<k>.{png,json}   pre-cropped people
    AGORA/data/<smplx_param_path>, AGORA/data/<cam_param_path>      per-person SMPL-X / camera json

Joint sets are Hand4Whole's ``joints_name`` tuples; a dataset's joints reach the 137 supervised
SMPL-X joints by name (its ``transform_joint_to_other_db``), and their left/right pairs follow from
the names (``L_``/``R_`` prefixes; the face points pair as the SMPL-X landmarks they are).
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from bhpe_tf.body.joint_sets import H4W_FLIP_PERMUTATION, H4W_JOINT_NAMES
from bhpe_tf.errors import MissingFileError

LAYOUT_HELP = "Hand4Whole's data layout, see training/README.md"

H36M_JOINTS = ("Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck", "Head",
               "Head_top", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist")
MPII_JOINTS = ("R_Ankle", "R_Knee", "R_Hip", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Thorax", "Neck", "Head_top",
               "R_Wrist", "R_Elbow", "R_Shoulder", "L_Shoulder", "L_Elbow", "L_Wrist")
_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")
# MSCOCO (COCO-WholeBody) as Hand4Whole merges it: body 17 + pelvis (hip midpoint) + feet 6, each
# hand's wrist + 4 joints per finger, then the 68 face points: contour (SMPL-X Face_56..72) first,
# then the 51 landmarks (Face_5..55), which is COCO-WholeBody's face order.
MSCOCO_JOINTS = (("Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow",
                  "L_Wrist", "R_Wrist", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Pelvis",
                  "L_Big_toe", "L_Small_toe", "L_Heel", "R_Big_toe", "R_Small_toe", "R_Heel")
                 + tuple(name for side in ("L", "R") for name in
                         (f"{side}_Wrist_Hand",) + tuple(f"{side}_{f}_{k}" for f in _FINGERS for k in range(1, 5)))
                 + tuple(f"Face_{k}" for k in range(56, 73)) + tuple(f"Face_{k}" for k in range(5, 56)))
# Where MSCOCO's body annotation fills an unlabelled hand / face point (Hand4Whole's MSCOCO.py).
MSCOCO_FILLS = (("L_Wrist", "L_Wrist_Hand"), ("R_Wrist", "R_Wrist_Hand"), ("Nose", "Face_18"))


def _twin(name: str):
    for a, b in (("L_", "R_"), ("R_", "L_")):
        if name.startswith(a):
            return b + name[len(a):]
    if name in H4W_JOINT_NAMES:
        return H4W_JOINT_NAMES[int(H4W_FLIP_PERMUTATION[H4W_JOINT_NAMES.index(name)])]
    return name


@functools.lru_cache(maxsize=None)
def flip_pairs(names: tuple) -> tuple:
    """Left/right pairs ``(i, j)`` (i < j) of a joint-name tuple, by name (module docstring)."""
    index = {n: i for i, n in enumerate(names)}
    pairs = {tuple(sorted((i, index[_twin(n)]))) for i, n in enumerate(names) if _twin(n) in index}
    return tuple(sorted(p for p in pairs if p[0] != p[1]))


@functools.lru_cache(maxsize=None)
def joint_map(names: tuple) -> np.ndarray:
    """For each of the 137 Hand4Whole joints, its index in ``names`` (-1: not annotated)."""
    index = {n: i for i, n in enumerate(names)}
    return np.array([index.get(n, -1) for n in H4W_JOINT_NAMES], np.int64)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """How Hand4Whole supervises one dataset.

    ``joints``: its joint-name tuple (None: the ground truth *is* the SMPL-X fit, AGORA and the
    synthetic renders); ``is_3d``: 3D ground truth (depth and ``joint_cam`` supervised);
    ``untrusted_rotations`` / ``untrusted_fit_joints``: fit rotations / fit joints Hand4Whole masks
    for this dataset (NeuralAnnot fits of H36M and MPII: ankles and wrists, toes and heels);
    ``part_boxes``: hand / face boxes are annotated (else their box losses are masked).
    """

    name: str
    joints: tuple | None
    is_3d: bool
    untrusted_rotations: tuple = ()
    untrusted_fit_joints: tuple = ()
    part_boxes: bool = False


_FIT_LIMBS = ("L_Ankle", "R_Ankle", "L_Wrist", "R_Wrist")
_FIT_FEET = ("L_Big_toe", "L_Small_toe", "L_Heel", "R_Big_toe", "R_Small_toe", "R_Heel")
SPECS = {
    "Human36M": DatasetSpec("Human36M", H36M_JOINTS, True, _FIT_LIMBS, _FIT_FEET),
    "MSCOCO": DatasetSpec("MSCOCO", MSCOCO_JOINTS, False, part_boxes=True),
    "MPII": DatasetSpec("MPII", MPII_JOINTS, False, _FIT_LIMBS, _FIT_FEET),
    "AGORA": DatasetSpec("AGORA", None, True, part_boxes=True),
    "synthetic": DatasetSpec("synthetic", None, True, part_boxes=True),
    "EHF": DatasetSpec("EHF", None, True, part_boxes=True),
}
TRAIN_SETS = ("Human36M", "MSCOCO", "MPII", "AGORA")
EVAL_SETS = ("EHF", "AGORA", "Human36M")
# The 53 supervised rotations by Hand4Whole's names (``orig_joints_name``), for the masks above.
POSE_NAMES = ("Pelvis", "L_Hip", "R_Hip", "Spine_1", "L_Knee", "R_Knee", "Spine_2", "L_Ankle", "R_Ankle", "Spine_3",
              "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow",
              "R_Elbow", "L_Wrist", "R_Wrist") + tuple(
    f"{side}_{f}_{k}" for side in ("L", "R") for f in ("Index", "Middle", "Pinky", "Ring", "Thumb")
    for k in range(1, 4)) + ("Jaw",)


def spec_of(name: str) -> DatasetSpec:
    from bhpe_tf.errors import UnknownNameError

    if name not in SPECS:
        raise UnknownNameError("dataset", name, SPECS)
    return SPECS[name]


def require(path, *, dataset: str, what: str) -> Path:
    """``path`` if it exists, else one :class:`MissingFileError` naming the dataset and the path."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{dataset}: {what} not found: {path} ({LAYOUT_HELP})")
    return path
