"""Loading and validating official SMPL-X model files.

Reads exactly what ``smplx`` 0.1.28 reads (see docs/DESIGN.md §6): a ``.npz`` archive or a
``.pkl`` latin1 pickle (Python 2 era) holding plain numpy arrays; in pickles ``J_regressor`` may be
a ``scipy.sparse`` matrix. Chumpy objects (old SMPL pickles) are not supported: they fail with a
clear message instead of an ``ImportError`` deep inside ``pickle``.

Paths are resolved like ``smplx.create(path, model_type='smplx', gender=..., ext=...)``: a file,
a directory holding ``SMPLX_<GENDER>.<ext>``, or a models root holding ``smplx/SMPLX_<GENDER>.<ext>``.

Every problem raises one :class:`BodyModelFileError` (a ``ValueError``) or
:class:`~bhpe_tf.errors.MissingFileError` (a ``FileNotFoundError``) whose message names the file.
"""
import dataclasses
import os
import pickle
import zipfile
import zlib
from typing import Optional

import numpy as np

from bhpe_tf.errors import InvalidInputError, MissingFileError

__all__ = [
    "BodyModelFileError",
    "SMPLXModelData",
    "NUM_VERTICES",
    "NUM_FACES",
    "NUM_JOINTS",
    "SMPLX_PARENTS",
    "SMPLX_VERTEX_IDS",
    "GENDERS",
    "resolve_model_path",
    "load_smplx_model",
    "load_evaluation_files",
    "EVALUATION_FILES",
]

NUM_VERTICES = 10475
NUM_FACES = 20908
NUM_JOINTS = 55
NUM_POSE_FEATURES = 9 * (NUM_JOINTS - 1)  # 486: (R_j - I) for the 54 non-root joints
NUM_HAND_POSE = 45
NUM_STATIC_LANDMARKS = 51
NUM_DYNAMIC_LANDMARKS = 17
NUM_DYNAMIC_ANGLES = 79  # neck y-rotation bins of the contour look-up table
# SMPL-X layout of `shapedirs` (smplx.SMPL / smplx.SMPLX constants).
SHAPE_SPACE_DIM = 300
EXPRESSION_SPACE_DIM = 100
GENDERS = ("neutral", "male", "female")

# Parents of the 55 kinematic joints (docs/DESIGN.md §6); the synthetic writer uses them, and the
# loader accepts any valid tree (parents[i] < i) so it also reads future model versions.
SMPLX_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15,
                 15, 20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38, 21, 40, 41, 21,
                 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53)

# smplx.vertex_ids.vertex_ids['smplx'], in the order of smplx.VertexJointSelector: face (nose,
# eyes, ears), feet (big toe, small toe, heel; left then right), fingertips (left then right,
# thumb..pinky). These are vertex indices of the official SMPL-X topology.
SMPLX_VERTEX_IDS = {
    "nose": 9120, "reye": 9929, "leye": 9448, "rear": 616, "lear": 6,
    "LBigToe": 5770, "LSmallToe": 5780, "LHeel": 8846,
    "RBigToe": 8463, "RSmallToe": 8474, "RHeel": 8635,
    "lthumb": 5361, "lindex": 4933, "lmiddle": 5058, "lring": 5169, "lpinky": 5286,
    "rthumb": 8079, "rindex": 7669, "rmiddle": 7794, "rring": 7905, "rpinky": 8022,
}

# SMPL / SMPL+H files, recognised to say what they are rather than "wrong shape".
_OTHER_MODELS = {6890: "SMPL or SMPL+H", 778: "MANO", 5023: "FLAME"}


class BodyModelFileError(InvalidInputError):
    """An SMPL-X model file that cannot be used (bad extension, missing key, wrong shape, ...)."""


@dataclasses.dataclass(frozen=True)
class SMPLXModelData:
    """The arrays of one SMPL-X model, validated, as float64 / int64 numpy arrays.

    Attributes mirror the file keys: ``v_template (V,3)``, ``faces (F,3)``, ``shapedirs (V,3,S)``,
    ``posedirs (V,3,486)``, ``J_regressor (55,V)`` (dense), ``weights (V,55)``, ``parents (55,)``
    (root -1), ``hands_components_left/right (45,45)`` (rows are components),
    ``hands_mean_left/right (45,)``, ``lmk_faces_idx (51,)``, ``lmk_bary_coords (51,3)`` and, when
    the file has them, ``dynamic_lmk_faces_idx (79,17)``, ``dynamic_lmk_bary_coords (79,17,3)``.
    """

    path: str
    v_template: np.ndarray
    faces: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    parents: np.ndarray
    hands_components_left: np.ndarray
    hands_components_right: np.ndarray
    hands_mean_left: np.ndarray
    hands_mean_right: np.ndarray
    lmk_faces_idx: np.ndarray
    lmk_bary_coords: np.ndarray
    dynamic_lmk_faces_idx: Optional[np.ndarray] = None
    dynamic_lmk_bary_coords: Optional[np.ndarray] = None

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    @property
    def has_face_contour(self) -> bool:
        return self.dynamic_lmk_faces_idx is not None

    @property
    def max_betas(self) -> int:
        """Shape coefficients available, by smplx's rule (10 when the file has < 300 columns)."""
        return SHAPE_SPACE_DIM if self.shapedirs.shape[-1] >= SHAPE_SPACE_DIM else 10

    @property
    def expression_columns(self) -> slice:
        """Columns of ``shapedirs`` holding the expression space, by smplx's rule: 300:400 in a
        full (>= 400 column) file, otherwise 10:20 (the 10 shape + 10 expression release)."""
        if self.shapedirs.shape[-1] >= SHAPE_SPACE_DIM + EXPRESSION_SPACE_DIM:
            return slice(SHAPE_SPACE_DIM, SHAPE_SPACE_DIM + EXPRESSION_SPACE_DIM)
        return slice(10, 20)

    @property
    def max_expression_coeffs(self) -> int:
        cols = self.expression_columns
        return cols.stop - cols.start


def resolve_model_path(path, *, gender: str = "neutral", ext: Optional[str] = None) -> str:
    """The model file ``smplx.create(path, model_type='smplx', gender=gender, ext=ext)`` would open.

    ``path`` is a ``.npz``/``.pkl`` file, a directory holding ``SMPLX_<GENDER>.<ext>``, or a models
    root holding ``smplx/SMPLX_<GENDER>.<ext>``. ``ext`` defaults to ``npz`` for directories and to
    the file's own extension for files.
    """
    path = os.fspath(path)
    gender = str(gender).lower()
    if gender not in GENDERS:
        raise BodyModelFileError(f"{path}: unknown gender {gender!r}; valid genders are "
                                 f"{', '.join(GENDERS)}")
    if ext is not None and ext not in ("npz", "pkl"):
        raise BodyModelFileError(f"{path}: unknown extension {ext!r}; SMPL-X files are npz or pkl")
    if os.path.isdir(path):
        name = f"SMPLX_{gender.upper()}.{ext or 'npz'}"
        for candidate in (os.path.join(path, name), os.path.join(path, "smplx", name)):
            if os.path.isfile(candidate):
                return candidate
        raise MissingFileError(f"{path}: no SMPL-X model {name} in this directory or in its "
                               f"'smplx' subdirectory")
    if not os.path.exists(path):
        raise MissingFileError(f"{path}: SMPL-X model file does not exist")
    file_ext = os.path.splitext(path)[1].lstrip(".").lower()
    if file_ext not in ("npz", "pkl"):
        raise BodyModelFileError(f"{path}: wrong extension {file_ext!r}; SMPL-X model files are "
                                 f".npz or .pkl")
    if ext is not None and ext != file_ext:
        raise BodyModelFileError(f"{path}: ext={ext!r} was asked for but the file is .{file_ext}")
    return path


def _read_raw(path: str) -> dict:
    """Key -> array mapping of a model file, sparse matrices densified, chumpy refused."""
    if path.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as archive:
                raw = {}
                for key in archive.files:
                    try:
                        raw[key] = archive[key]
                    except ValueError:
                        # Object arrays (e.g. `part2num` dicts in official files): not needed.
                        raw[key] = None
                return raw
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:  # not a zip / truncated
            raise BodyModelFileError(f"{path}: not a readable .npz archive ({type(err).__name__}: {err}); "
                                     f"download the model file again") from None
    try:
        with open(path, "rb") as handle:
            raw = pickle.load(handle, encoding="latin1")
    except ModuleNotFoundError as err:
        raise BodyModelFileError(
            f"{path}: the pickle needs module {err.name!r} (chumpy objects?); only pickles of plain "
            f"numpy / scipy.sparse arrays are supported (convert the file to .npz)") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as err:
        raise BodyModelFileError(f"{path}: not a readable pickle ({err})") from None
    if not isinstance(raw, dict):
        raise BodyModelFileError(f"{path}: the pickle holds a {type(raw).__name__}, not a dict")
    return raw


def _array(path, raw, key, dtype):
    if key not in raw:
        raise BodyModelFileError(f"{path}: missing key {key!r} (an SMPL-X file must have it)")
    value = raw[key]
    if value is None:
        raise BodyModelFileError(f"{path}: key {key!r} is an object array, expected numbers")
    if hasattr(value, "toarray"):  # scipy.sparse, used for J_regressor in official pickles
        value = value.toarray()
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise BodyModelFileError(f"{path}: key {key!r} is not a numeric array ({err})") from None


def _check_shape(path, key, array, expected):
    ok = array.ndim == len(expected) and all(e is None or e == s
                                             for e, s in zip(expected, array.shape))
    if not ok:
        want = "(" + ", ".join("N" if e is None else str(e) for e in expected) + ")"
        raise BodyModelFileError(f"{path}: key {key!r} has shape {array.shape}, expected {want}")


def load_smplx_model(path, *, gender: str = "neutral", ext: Optional[str] = None) -> SMPLXModelData:
    """Load and validate an official-format SMPL-X model (see :func:`resolve_model_path`).

    Raises:
        MissingFileError: the file or directory does not exist.
        BodyModelFileError: wrong extension, unreadable file, missing key, wrong array shape, or a
            model of another family (SMPL, SMPL+H, MANO, FLAME).
    """
    path = resolve_model_path(path, gender=gender, ext=ext)
    raw = _read_raw(path)

    v_template = _array(path, raw, "v_template", np.float64)
    num_verts = v_template.shape[0] if v_template.ndim == 2 else -1
    if num_verts in _OTHER_MODELS:
        raise BodyModelFileError(f"{path}: this is a {_OTHER_MODELS[num_verts]} model "
                                 f"({num_verts} vertices), not SMPL-X ({NUM_VERTICES} vertices)")
    kintree = _array(path, raw, "kintree_table", np.int64)
    if kintree.ndim == 2 and kintree.shape[0] == 2 and kintree.shape[1] != NUM_JOINTS:
        raise BodyModelFileError(f"{path}: the kinematic tree has {kintree.shape[1]} joints; this is "
                                 f"not an SMPL-X model (55 joints; SMPL has 24, SMPL+H 52)")
    _check_shape(path, "v_template", v_template, (NUM_VERTICES, 3))
    _check_shape(path, "kintree_table", kintree, (2, NUM_JOINTS))

    arrays = {
        "faces": (_array(path, raw, "f", np.int64), "f", (NUM_FACES, 3)),
        "shapedirs": (_array(path, raw, "shapedirs", np.float64), "shapedirs",
                      (NUM_VERTICES, 3, None)),
        "posedirs": (_array(path, raw, "posedirs", np.float64), "posedirs",
                     (NUM_VERTICES, 3, NUM_POSE_FEATURES)),
        "J_regressor": (_array(path, raw, "J_regressor", np.float64), "J_regressor",
                        (NUM_JOINTS, NUM_VERTICES)),
        "weights": (_array(path, raw, "weights", np.float64), "weights", (NUM_VERTICES, NUM_JOINTS)),
        "hands_components_left": (_array(path, raw, "hands_componentsl", np.float64),
                                  "hands_componentsl", (None, NUM_HAND_POSE)),
        "hands_components_right": (_array(path, raw, "hands_componentsr", np.float64),
                                   "hands_componentsr", (None, NUM_HAND_POSE)),
        "hands_mean_left": (_array(path, raw, "hands_meanl", np.float64), "hands_meanl",
                            (NUM_HAND_POSE,)),
        "hands_mean_right": (_array(path, raw, "hands_meanr", np.float64), "hands_meanr",
                             (NUM_HAND_POSE,)),
        "lmk_faces_idx": (_array(path, raw, "lmk_faces_idx", np.int64), "lmk_faces_idx",
                          (NUM_STATIC_LANDMARKS,)),
        "lmk_bary_coords": (_array(path, raw, "lmk_bary_coords", np.float64), "lmk_bary_coords",
                            (NUM_STATIC_LANDMARKS, 3)),
    }
    if "dynamic_lmk_faces_idx" in raw or "dynamic_lmk_bary_coords" in raw:
        arrays["dynamic_lmk_faces_idx"] = (
            _array(path, raw, "dynamic_lmk_faces_idx", np.int64), "dynamic_lmk_faces_idx",
            (NUM_DYNAMIC_ANGLES, NUM_DYNAMIC_LANDMARKS))
        arrays["dynamic_lmk_bary_coords"] = (
            _array(path, raw, "dynamic_lmk_bary_coords", np.float64), "dynamic_lmk_bary_coords",
            (NUM_DYNAMIC_ANGLES, NUM_DYNAMIC_LANDMARKS, 3))
    fields = {}
    for name, (array, key, expected) in arrays.items():
        _check_shape(path, key, array, expected)
        fields[name] = array
    # NaN in a template or blend shape would surface much later as a "diverged" training loss
    for key, array in (("v_template", v_template),) + tuple((k, a) for _, (a, k, _) in arrays.items()):
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise BodyModelFileError(f"{path}: key {key!r} has {int(np.sum(~np.isfinite(array)))} NaN / inf "
                                     f"values; the file is damaged, download it again")

    shape_cols = fields["shapedirs"].shape[-1]
    if shape_cols < 20:
        raise BodyModelFileError(f"{path}: 'shapedirs' has {shape_cols} columns; SMPL-X needs at "
                                 f"least 20 (10 shape + 10 expression)")
    if fields["faces"].min() < 0 or fields["faces"].max() >= NUM_VERTICES:
        raise BodyModelFileError(f"{path}: 'f' indexes vertices outside 0..{NUM_VERTICES - 1}")
    for key in ("lmk_faces_idx", "dynamic_lmk_faces_idx"):
        if key in fields and (fields[key].min() < 0 or fields[key].max() >= NUM_FACES):
            raise BodyModelFileError(f"{path}: {key!r} indexes faces outside 0..{NUM_FACES - 1}")
    parents = kintree[0].copy()
    parents[0] = -1  # files store the root's parent as -1 or 2**32-1; smplx overwrites it too
    if np.any(parents[1:] < 0) or np.any(parents[1:] >= np.arange(1, NUM_JOINTS)):
        raise BodyModelFileError(f"{path}: 'kintree_table' is not a tree with parents before "
                                 f"children: {parents.tolist()}")
    return SMPLXModelData(path=path, v_template=v_template, parents=parents, **fields)


# ----------------------------------------------------------------------------- evaluation files
#: The files of the official downloads that Hand4Whole's EHF / AGORA protocol needs, looked for in
#: the folder of the SMPL-X model (Hand4Whole keeps them in ``human_model_files/smplx``).
EVALUATION_FILES = {"hand_vertices": "MANO_SMPLX_vertex_ids.pkl", "face_vertices": "SMPL-X__FLAME_vertex_ids.npy",
                    "j14_regressor": "SMPLX_to_J14.pkl"}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, dicts of them and scipy.sparse matrices, nothing else (the files
    are the user's downloads, but a pickle that builds other objects is refused, not executed)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"), ("__builtin__", "object"),
               ("builtins", "object"), ("_codecs", "encode")}  # protocol 2 writes bytes via codecs.encode

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED or module.startswith("scipy.sparse"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy / scipy.sparse arrays)")


def _load_array_pickle(path):
    try:
        with open(path, "rb") as handle:
            return _ArrayUnpickler(handle, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, ImportError) as err:
        raise BodyModelFileError(f"{path}: not a readable pickle of arrays ({err})") from None


def load_evaluation_files(model_path) -> dict:
    """The MANO hand and FLAME face vertex indices and the 14-joint regressor that come with the
    SMPL-X downloads (:data:`EVALUATION_FILES`), from the folder of the model that ``model_path``
    resolves to: ``{"lhand_vertices", "rhand_vertices", "face_vertices" (int64), "j14_regressor"
    (14, V) float64}``. A missing file is a :class:`MissingFileError` naming it."""
    folder = os.path.dirname(resolve_model_path(model_path))
    paths = {key: os.path.join(folder, name) for key, name in EVALUATION_FILES.items()}
    for key, path in paths.items():
        if not os.path.isfile(path):
            raise MissingFileError(f"{path} not found: the EHF / AGORA protocol needs {EVALUATION_FILES[key]} from "
                                   f"the SMPL-X / MANO / FLAME downloads next to the SMPL-X model (Hand4Whole's "
                                   f"human_model_files/smplx layout)")
    hands = _load_array_pickle(paths["hand_vertices"])
    if not isinstance(hands, dict) or not {"left_hand", "right_hand"} <= set(hands):
        raise BodyModelFileError(f"{paths['hand_vertices']}: expected a dict with 'left_hand' and 'right_hand'")
    regressor = _load_array_pickle(paths["j14_regressor"])
    regressor = regressor.toarray() if hasattr(regressor, "toarray") else np.asarray(regressor, np.float64)
    try:
        face = np.load(paths["face_vertices"], allow_pickle=False)
    except (OSError, ValueError) as err:
        raise BodyModelFileError(f"{paths['face_vertices']}: not a readable .npy ({err})") from None
    out = {"lhand_vertices": np.asarray(hands["left_hand"], np.int64).reshape(-1),
           "rhand_vertices": np.asarray(hands["right_hand"], np.int64).reshape(-1),
           "face_vertices": np.asarray(face, np.int64).reshape(-1), "j14_regressor": np.asarray(regressor, np.float64)}
    if out["j14_regressor"].ndim != 2 or out["j14_regressor"].shape[1] != NUM_VERTICES:
        raise BodyModelFileError(f"{paths['j14_regressor']}: shape {out['j14_regressor'].shape}, expected "
                                 f"(14, {NUM_VERTICES})")
    for key in ("lhand_vertices", "rhand_vertices", "face_vertices"):
        if out[key].size == 0 or out[key].min() < 0 or out[key].max() >= NUM_VERTICES:
            raise BodyModelFileError(f"{paths['face_vertices' if key == 'face_vertices' else 'hand_vertices']}: "
                                     f"{key} must index vertices 0..{NUM_VERTICES - 1}")
    return out
