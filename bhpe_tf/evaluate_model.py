"""Evaluation of a trained BinaryHPE / Hand4Whole **model** on EHF, AGORA or Human3.6M (not of a
prediction file): what ``python -m bhpe_tf.evaluate --dataset ehf|agora|h36m --model M`` runs.

* ``--model``: a converted ``.tflite`` with its model card (run by LCE's interpreter, the SMPL-X
  stage on the host), or a training run of ``training/train.py``: its workdir (latest checkpoint),
  a checkpoint prefix or a ``.keras`` inside it (``best.keras``, ``final.keras``); the run's
  ``run.json`` says which network, method and stage to build (run by Keras).
* Crops: Hand4Whole's test protocol, the person box sanitised, grown to the input aspect ratio,
  x1.25, one affine warp, no augmentation (:func:`bhpe_tf.data.hand4whole.targets.crop_person`);
  EHF boxes from Hand4Whole's ``EHF.json`` (or the mesh's projection for the original release),
  AGORA's pre-cropped people of the validation split, Human3.6M's test split (subjects 9 and 11,
  every 64th frame, camera 4).
* Ground truth: EHF's ``.ply`` meshes; AGORA's SMPL-X fits; Human3.6M's 3D joints (and, beside
  them, its NeuralAnnot fits as pseudo-ground-truth meshes).
* Columns: the whole-body columns of the BinaryHPE paper's Table 1
  (:data:`bhpe_tf.metrics.pose3d.TABLE1_COLUMNS`, Hand4Whole's ``EHF.evaluate``), next to the
  paper's row for the model's method (:data:`bhpe_tf.models.registry.BINARYHPE_TABLE1_ACCURACY`); for Human3.6M also
  Hand4Whole's MPJPE / PA-MPJPE of the 14 evaluation joints (``J_regressor_h36m_smplx.npy``).

The vertex subsets (MANO hands, FLAME face) and the 14-joint regressor are the user's SMPL-X
downloads next to ``--smplx_model`` (:func:`bhpe_tf.body.model_file.load_evaluation_files`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from bhpe_tf.errors import InvalidInputError, MissingFileError, UserError

BENCHMARKS = {"ehf": "EHF", "agora": "AGORA", "h36m": "Human36M"}
H36M_EVAL_JOINTS = (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)  # Hand4Whole's Human36M eval_joint
H36M_REGRESSOR = "J_regressor_h36m_smplx.npy"
# |tflite - keras| per column this project accepts (mm); the measured gap is in the README.
TFLITE_TOLERANCE_MM = 0.5


# ------------------------------------------------------------------------------------- the model
@dataclasses.dataclass
class MeshModel:
    """A network to evaluate: ``predict(crops uint8 (N, H, W, 3)) -> {output name: (N, ...)}``."""

    predict: object
    input_hw: tuple  # (H, W)
    method: str
    kind: str  # "keras" or "tflite"
    source: str
    keras_model: object = None  # the Keras network behind a "keras" model (to export or reload)


def _keras_model(path: Path, *, batch_size: int) -> MeshModel:
    from bhpe_tf import checkpoints
    from bhpe_tf.models.registry import MODEL_NAMES, SMPLX_MESH, get_model

    run_file = checkpoints.run_file(path)
    if run_file is None:
        raise InvalidInputError(f"--model {path}: no run.json beside it, so which network it holds is unknown; pass a "
                                "training workdir (or a checkpoint / .keras inside one) or a converted .tflite with its "
                                "model card")
    config = checkpoints.training_config(path)
    if config is None or not isinstance(config.get("model"), dict):
        raise InvalidInputError(f"{run_file} is not a training run's run.json (no config recorded)")
    if config["model"].get("name") not in MODEL_NAMES or get_model(config["model"]["name"]).task != SMPLX_MESH:
        raise InvalidInputError(f"--model {path} is a {config.get('model', {}).get('name')!r} run; evaluation on "
                                "EHF / AGORA / Human3.6M needs a Hand4Whole or BinaryHPE model")
    from bhpe_tf.training.tasks import make_task

    task = make_task(config)
    model = task.build_model()
    checkpoints.restore(model, path, what="--model")
    return keras_mesh_model(model, method=config["model"]["method"], source=str(path), batch_size=batch_size)


def keras_mesh_model(model, *, method: str, source: str = "keras model", batch_size: int = 8) -> MeshModel:
    """A :class:`MeshModel` around a Keras Hand4Whole / BinaryHPE network (input RGB / 255)."""
    import tensorflow as tf

    @tf.function(autograph=False)
    def forward(images):
        return model(images, training=False)

    def predict(crops):
        outs = []
        for start in range(0, len(crops), batch_size):
            images = tf.constant(np.asarray(crops[start:start + batch_size], np.float32) / 255.0)
            outs.append({k: np.asarray(v) for k, v in forward(images).items()})
        return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}

    h, w = (int(v) for v in model.inputs[0].shape[1:3])
    return MeshModel(predict=predict, input_hw=(h, w), method=method, kind="keras", source=source,
                     keras_model=model)


def _tflite_model(path: Path) -> MeshModel:
    from bhpe_tf.runtime import TFLitePredictor

    predictor = TFLitePredictor(path)
    if predictor.card.get("task") != "smplx_mesh":
        raise InvalidInputError(f"--model {path} is a {predictor.card.get('task')!r} model, not a mesh model")
    names = [out["name"] for out in predictor.spec.outputs]

    def predict(crops):
        return dict(zip(names, predictor(np.asarray(crops, np.uint8))))

    return MeshModel(predict=predict, input_hw=tuple(predictor.spec.input_hw), method=predictor.card["method"],
                     kind="tflite", source=str(path))


def open_model(path, *, batch_size: int = 8) -> MeshModel:
    """A :class:`MeshModel` for ``--model`` (module docstring)."""
    path = Path(path)
    if path.suffix.lower() == ".tflite":
        if not path.is_file():
            raise MissingFileError(f"--model {path} not found")
        return _tflite_model(path)
    if not (path.exists() or Path(f"{path}.index").is_file()):
        raise MissingFileError(f"--model {path} not found (a .tflite, a training workdir, a checkpoint or a .keras)")
    return _keras_model(path, batch_size=batch_size)


# -------------------------------------------------------------------------------------- the data
def dataset_root(benchmark: str, annotations) -> Path:
    """The folder holding ``EHF/``, ``AGORA/`` or ``Human36M/`` for ``--annotations``, which may
    name that folder itself (``EHF/``, ``EHF/data``, ``AGORA/``, ``AGORA/data``, ``Human36M/``)."""
    path = Path(annotations)
    if not path.is_dir():
        raise MissingFileError(f"{benchmark}: --annotations folder not found: {path}")
    name = BENCHMARKS[benchmark]
    if (path / name).is_dir():  # the data folder holding EHF/, AGORA/, Human36M/
        return path
    if path.name == name:
        return path.parent
    if path.name == "data" and path.parent.name == name:  # EHF/data, AGORA/data
        return path.parent.parent
    if benchmark == "ehf":
        return path  # the original EHF release: a folder of NN_img / NN_align files
    raise MissingFileError(f"{name}: no {name}/ folder at or above {path} (Hand4Whole's layout, see training/README.md)")


def _h36m_regressor(root: Path) -> np.ndarray:
    path = root / "Human36M" / H36M_REGRESSOR
    if not path.is_file():
        raise MissingFileError(f"Human36M: {path} not found (Hand4Whole's data/Human36M/{H36M_REGRESSOR}, the SMPL-X "
                               "-> Human3.6M joint regressor)")
    try:
        return np.asarray(np.load(path, allow_pickle=False), np.float64)
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{path}: not a readable .npy ({err})") from None


# ------------------------------------------------------------------------------------ evaluation
@dataclasses.dataclass
class EvaluationResult:
    benchmark: str
    columns: dict
    paper: dict
    count: int
    model: MeshModel
    extra: dict
    text: str


def predict_meshes(model: MeshModel, records, *, smplx_model, batch_size: int = 8) -> np.ndarray:
    """Camera-frame meshes (N, V, 3) the model predicts for the records' test-time crops."""
    import tensorflow as tf

    from bhpe_tf.data.hand4whole.targets import TargetConfig, crop_person
    from bhpe_tf.models.hand4whole import SMPLX_STAGE_INPUTS, Hand4WholeGeometry, SMPLXStage

    h, w = model.input_hw
    config = TargetConfig(input_wh=(w, h))
    stage = SMPLXStage(smplx_model_path=smplx_model, geometry=Hand4WholeGeometry(input_shape=(h, w)),
                       name="smplx_eval")
    meshes = []
    for start in range(0, len(records), batch_size):
        crops = np.stack([crop_person(r, config=config).image for r in records[start:start + batch_size]])
        out = model.predict(crops)
        missing = [k for k in SMPLX_STAGE_INPUTS if k not in out]
        if missing:
            raise InvalidInputError(f"--model {model.source} lacks the SMPL-X parameter outputs {', '.join(missing)}")
        mesh = stage({k: tf.constant(np.asarray(out[k], np.float32)) for k in SMPLX_STAGE_INPUTS})["vertices"]
        meshes.append(np.asarray(mesh, np.float64))
    return np.concatenate(meshes)


def ground_truth_meshes(records, *, smplx_model) -> np.ndarray:
    """The records' own meshes (EHF) or the meshes of their SMPL-X fits (AGORA, Human3.6M pseudo-GT)."""
    from bhpe_tf.data.hand4whole.targets import FitModel

    fits = FitModel(smplx_model)
    need = [i for i, r in enumerate(records) if r.vertices is None]
    solved = dict(zip(need, fits([(records[i].smplx, records[i].camera) for i in need]))) if need else {}
    return np.stack([records[i].vertices if i not in solved else solved[i][1] for i in range(len(records))])


def evaluate_model(*, benchmark: str, model, annotations, smplx_model, batch_size: int = 8,
                   limit: int | None = None) -> EvaluationResult:
    """Run ``model`` (a path or a :class:`MeshModel`) on ``benchmark`` and compute the Table 1 columns."""
    from bhpe_tf.body.model_file import load_smplx_model
    from bhpe_tf.data.hand4whole.readers import load_eval_set
    from bhpe_tf.metrics.pose3d import EHFSubsets, mpjpe, pa_mpjpe, wholebody_errors
    from bhpe_tf.models.registry import get_model

    if benchmark not in BENCHMARKS:
        raise UserError(f"--dataset {benchmark!r}: a model is evaluated on {', '.join(BENCHMARKS)}")
    if not smplx_model:
        raise UserError("--smplx_model is required to evaluate a model (your SMPL-X model folder, with the MANO / "
                        "FLAME vertex ids and SMPLX_to_J14.pkl beside SMPLX_NEUTRAL)")
    load_smplx_model(smplx_model)  # a missing / wrong model file fails before the (slow) model is opened
    subsets = EHFSubsets.from_smplx_model(smplx_model)
    name = BENCHMARKS[benchmark]
    root = dataset_root(benchmark, annotations)
    if not isinstance(model, MeshModel):
        model = open_model(model, batch_size=batch_size)
    h, w = model.input_hw
    records = list(load_eval_set(name, root, aspect_ratio=w / h))
    if limit:
        records = records[:int(limit)]
    if not records:
        raise UserError(f"{name}: no usable records under {root}")
    pred = predict_meshes(model, records, smplx_model=smplx_model, batch_size=batch_size)
    gt = ground_truth_meshes(records, smplx_model=smplx_model)
    columns = wholebody_errors(pred, gt, subsets=subsets)
    extra = {}
    if benchmark == "h36m":
        regressor = _h36m_regressor(root)
        joints_pred = np.einsum("jv,nvc->njc", regressor, pred)[:, list(H36M_EVAL_JOINTS)]
        joints_pred -= np.einsum("v,nvc->nc", regressor[0], pred)[:, None]
        joints_gt = np.stack([r.joints_3d - r.joints_3d[0] for r in records])[:, list(H36M_EVAL_JOINTS)]
        extra = {"MPJPE": mpjpe(joints_pred, joints_gt, root=None), "PA-MPJPE": pa_mpjpe(joints_pred, joints_gt)}
    paper = get_model("binaryhpe").paper_metrics(model.method, name)
    return EvaluationResult(benchmark=name, columns=columns, paper=paper, count=len(records), model=model,
                            extra=extra, text=format_result(name, columns, paper, model, len(records), extra))


def format_result(name, columns, paper, model, count, extra) -> str:
    from bhpe_tf.metrics.pose3d import TABLE1_COLUMNS

    reference = {"EHF": "EHF meshes", "AGORA": "AGORA SMPL-X fits",
                 "Human36M": "NeuralAnnot SMPL-X fits (pseudo-ground truth)"}[name]
    lines = [f"{name}: {count} people, mm, Hand4Whole's protocol vs {reference}; model {model.source} "
             f"({model.kind}, method {model.method})"]
    width = max(len(c) for c in TABLE1_COLUMNS)
    label = f"paper ({model.method}, BinaryHPE Table 1)"
    lines.append(f"| {'':<{len(label)}} | " + " | ".join(f"{c:>{width}}" for c in TABLE1_COLUMNS) + " |")

    def cell(table, column):
        value = table.get(column)
        return f"{value:>{width}.1f}" if value is not None else f"{'-':>{width}}"

    lines.append(f"| {'ours':<{len(label)}} | " + " | ".join(cell(columns, c) for c in TABLE1_COLUMNS) + " |")
    if paper:
        lines.append(f"| {label} | " + " | ".join(cell(paper, c) for c in TABLE1_COLUMNS) + " |")
    else:
        lines.append(f"(the BinaryHPE paper reports no {name} numbers for method {model.method})")
    if extra:
        lines.append("Hand4Whole's Human3.6M protocol (14 joints, J_regressor_h36m_smplx, root-relative): "
                     + ", ".join(f"{k} {v:.1f}" for k, v in extra.items()))
    return "\n".join(lines)
