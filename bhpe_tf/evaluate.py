"""Evaluate saved predictions, or a model, on a standard benchmark and print its usual table.

    python -m bhpe_tf.evaluate --dataset ehf --model runs/binaryhpe_bidrn --annotations data/EHF --smplx_model smplx/
    python -m bhpe_tf.evaluate --dataset agora --model bidrn.tflite --annotations data --smplx_model smplx/

    python -m bhpe_tf.evaluate --dataset coco --predictions results.json --annotations person_keypoints_val2017.json
    python -m bhpe_tf.evaluate --dataset mpii --predictions pred.mat --annotations detections_our_format.mat
    python -m bhpe_tf.evaluate --dataset h36m --predictions pred.npz --annotations test_h36m_body3d.npz
    python -m bhpe_tf.evaluate --dataset ehf  --predictions pred.npz --annotations EHF/ --ehf_subsets subsets.npz

Inputs:

* coco: a COCO keypoint results json (pycocotools format). When the ground truth is
  COCO-WholeBody (has ``face_kpts``) the body / foot / face / hands / whole-body table is printed.
* mpii: predictions ``.mat`` (``preds (N,16,2)`` as HRNet saves them, 1-based, or
  ``pos_pred_src``), ``.npy`` / ``.json`` (N,16,2) 0-based (``--prediction_origin`` overrides);
  annotations in the ``detections_our_format.mat`` layout (2958 validation people).
* h36m: predictions ``.npz`` with ``joints_3d (N,17,3)`` in metres, camera coordinates, in the
  annotation file's order (or with ``imgname`` to match); annotations the mmpose body3d npz.
* ehf: predictions ``.npz`` with ``vertices (N,10475,3)`` (metres, camera coordinates) and
  ``frames`` (N,) frame names ``"01"`` ... (default: sorted order); annotations the EHF folder;
  ``--ehf_subsets`` an ``.npz`` with ``J_regressor (55,10475)``, ``lhand_vertices``,
  ``rhand_vertices``, ``face_vertices`` (from your licensed SMPL-X / MANO / FLAME downloads).

With ``--model`` (a training run or a converted ``.tflite``) the model itself runs on EHF,
AGORA's validation split or Human3.6M's test split in Hand4Whole's layout (``--annotations``) and
the BinaryHPE paper's Table 1 columns are printed next to the paper's row; see
:mod:`bhpe_tf.evaluate_model`.

User mistakes (missing or malformed files: :class:`bhpe_tf.errors.UserError`, which
:class:`~bhpe_tf.data.records.DataError` is) print one line to stderr and exit with status 2.
Ground truth that cannot be scored (NaN / inf or far-off-image coordinates, missing head boxes) is
left out with one ``warning: ...`` line giving the count; non-finite predictions are an error.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from absl import flags

from bhpe_tf.data.records import DataError
from bhpe_tf.errors import UserError, print_warnings_as_lines

FLAGS = flags.FLAGS


def define_flags(flag_values=None):
    """The flags of ``bhpe-evaluate`` / ``python -m bhpe_tf.evaluate`` on ``flag_values`` (default ``FLAGS``)."""
    flag_values = FLAGS if flag_values is None else flag_values
    flags.DEFINE_enum("dataset", None, ["coco", "mpii", "h36m", "ehf", "agora"], "Benchmark to evaluate on.",
                      flag_values=flag_values)
    flags.DEFINE_string("predictions", None, "Prediction file (see the module docstring for formats).",
                        flag_values=flag_values)
    flags.DEFINE_string("model", None, "Evaluate a model instead of predictions: a training workdir / checkpoint / "
                        ".keras of a mesh run, or a converted .tflite with its model card (ehf, agora, h36m).",
                        flag_values=flag_values)
    flags.DEFINE_string("smplx_model", None, "With --model: the SMPL-X model folder (SMPLX_NEUTRAL.npz and the MANO / "
                        "FLAME vertex ids and SMPLX_to_J14.pkl beside it).", flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 8, "With --model: crops per forward pass.", flag_values=flag_values)
    flags.DEFINE_integer("limit", None, "With --model: evaluate only the first N people (a quick look).",
                         flag_values=flag_values)
    flags.DEFINE_string("annotations", None, "Ground-truth file or folder.", flag_values=flag_values)
    flags.DEFINE_enum("prediction_origin", "auto", ["auto", "0", "1"],
                      "MPII: whether predictions are 0-based (1 is added) or 1-based MATLAB coordinates.",
                      flag_values=flag_values)
    flags.DEFINE_float("threshold", 0.5, "MPII: PCKh threshold (fraction of 0.6 x head-box diagonal).",
                       flag_values=flag_values)
    flags.DEFINE_string("ehf_subsets", None, "EHF: npz with J_regressor, lhand_vertices, rhand_vertices, face_vertices.",
                        flag_values=flag_values)


class UsageError(UserError):
    """A mistake in how the command was called (reported in one line)."""


def _need_file(path, what, *, directory=False):
    if not path:
        raise UsageError(f"--{what} is required for this dataset")
    p = Path(path)
    if not (p.is_dir() if directory else p.is_file()):
        raise UsageError(f"--{what}: {'folder' if directory else 'file'} not found: {p}")
    return p


def _load_npz(path, keys):
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:
        raise DataError(f"cannot read npz ({type(e).__name__}: {e})", path=path) from None
    for key in keys:
        if key not in data.files:
            raise DataError(f"missing array {key!r}", path=path)
    return data


def format_stats(stats: dict) -> str:
    head = " | ".join(f"{k:>7}" for k in stats)
    row = " | ".join(f"{v:7.3f}" for v in stats.values())
    return f"| {head} |\n| {row} |"


def evaluate_coco(predictions, annotations) -> str:
    from bhpe_tf.data.records import read_json
    from bhpe_tf.metrics import coco_keypoint_eval
    from bhpe_tf.metrics.coco import coco_wholebody_eval

    gt = read_json(annotations)
    anns = gt.get("annotations") if isinstance(gt, dict) else None
    if anns and "face_kpts" in anns[0]:
        per_part = coco_wholebody_eval(predictions, annotations=gt)
        lines = ["COCO-WholeBody keypoint AP/AR (official per-part protocol)"]
        names = list(next(iter(per_part.values())))
        lines.append(f"| {'part':>9} | " + " | ".join(f"{k:>7}" for k in names) + " |")
        for part, stats in per_part.items():
            lines.append(f"| {part:>9} | " + " | ".join(f"{v:7.3f}" for v in stats.values()) + " |")
        return "\n".join(lines)
    stats = coco_keypoint_eval(predictions, annotations=gt)
    return "COCO keypoint AP/AR (pycocotools OKS, maxDets 20)\n" + format_stats(stats)


def evaluate_mpii(predictions, annotations, *, origin: str, threshold: float) -> str:
    from bhpe_tf.data.mpii import load_mpii_eval_mat, load_mpii_predictions
    from bhpe_tf.metrics import pckh
    from bhpe_tf.metrics.pckh import format_pckh_table

    gt = load_mpii_eval_mat(annotations)
    preds = load_mpii_predictions(predictions, origin=origin)
    if preds.shape[0] != gt.gt.shape[0]:
        raise DataError(f"{preds.shape[0]} predictions for {gt.gt.shape[0]} ground-truth people", path=predictions)
    result = pckh(preds, gt.gt, missing=gt.missing, headboxes=gt.headboxes, threshold=threshold,
                  joint_names=gt.joint_names)
    return f"MPII ({gt.gt.shape[0]} people)\n" + format_pckh_table(result)


def evaluate_h36m(predictions, annotations) -> str:
    from bhpe_tf.metrics import mpjpe, pa_mpjpe

    gt = _load_npz(annotations, ["S"])
    pred = _load_npz(predictions, ["joints_3d"])
    joints = np.asarray(pred["joints_3d"], np.float64)
    gt_s = np.asarray(gt["S"], np.float64)
    if "imgname" in pred.files and "imgname" in gt.files:
        order = {str(n): i for i, n in enumerate(pred["imgname"])}
        missing = [str(n) for n in gt["imgname"] if str(n) not in order]
        if missing:
            raise DataError(f"no prediction for {len(missing)} frames, e.g. {missing[0]}", path=predictions)
        joints = joints[[order[str(n)] for n in gt["imgname"]]]
    if joints.shape != gt_s[..., :3].shape:
        raise DataError(f"joints_3d has shape {joints.shape}, expected {gt_s[..., :3].shape}", path=predictions)
    bad = np.flatnonzero(~np.all(np.isfinite(joints), axis=(1, 2)))
    if bad.size:
        names = gt["imgname"] if "imgname" in gt.files else None
        first = f"frame #{bad[0]}" + (f" ({names[bad[0]]})" if names is not None else "")
        raise DataError(f"joints_3d has NaN or inf in {bad.size} frame(s), first {first}: the metric is undefined",
                        path=predictions)
    valid = gt_s[..., 3] > 0
    stats = {"MPJPE": mpjpe(joints, gt_s[..., :3], root=0, valid=valid),
             "PA-MPJPE": pa_mpjpe(joints, gt_s[..., :3], valid=valid)}
    return f"Human3.6M ({len(joints)} frames), mm, root-aligned at the pelvis\n" + format_stats(stats)


def evaluate_ehf(predictions, annotations, *, subsets_file) -> str:
    from bhpe_tf.data.ehf import load_ehf
    from bhpe_tf.metrics import mpvpe, pa_mpvpe
    from bhpe_tf.metrics.pose3d import EHFSubsets

    if not subsets_file:
        raise UsageError("--ehf_subsets is required for ehf (J_regressor and MANO/FLAME vertex indices)")
    sub = _load_npz(_need_file(subsets_file, "ehf_subsets"),
                    ["J_regressor", "lhand_vertices", "rhand_vertices", "face_vertices"])
    subsets = EHFSubsets(joint_regressor=sub["J_regressor"], lhand_vertices=sub["lhand_vertices"],
                         rhand_vertices=sub["rhand_vertices"], face_vertices=sub["face_vertices"])
    records = load_ehf(root=annotations, expected_frames=None)
    pred = _load_npz(predictions, ["vertices"])
    verts = np.asarray(pred["vertices"], np.float64)
    bad = np.flatnonzero(~np.all(np.isfinite(verts.reshape(len(verts), -1)), axis=1))
    if bad.size:
        raise DataError(f"vertices have NaN or inf in {bad.size} frame(s), first #{bad[0]}: the metric is undefined",
                        path=predictions)
    names = [str(n) for n in pred["frames"]] if "frames" in pred.files else [r.image_id for r in records]
    by_name = {r.image_id: r for r in records}
    missing = [n for n in names if n not in by_name]
    if missing or len(names) != len(verts):
        raise DataError(f"predictions do not match the EHF frames (unknown: {missing[:3]})", path=predictions)
    gt = np.stack([by_name[n].vertices for n in names])
    if verts.shape != gt.shape:
        raise DataError(f"vertices have shape {verts.shape}, expected {gt.shape}", path=predictions)
    a, b = mpvpe(verts, gt, subsets=subsets), pa_mpvpe(verts, gt, subsets=subsets)
    stats = {f"MPVPE {k}": v for k, v in a.items()} | {f"PA-MPVPE {k}": v for k, v in b.items()}
    return f"EHF ({len(verts)} frames), mm (Hand4Whole protocol)\n" + format_stats(stats)


def main(argv):
    print_warnings_as_lines()  # ground truth a metric leaves out: one "warning: ..." line each
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments {' '.join(argv[1:])}")
    if FLAGS.dataset is None:
        raise UsageError("--dataset is required (coco, mpii, h36m, ehf or agora)")
    if FLAGS.model:
        from bhpe_tf.evaluate_model import BENCHMARKS, evaluate_model

        if FLAGS.dataset not in BENCHMARKS:
            raise UsageError(f"--model evaluates on {', '.join(BENCHMARKS)}, not {FLAGS.dataset}")
        if FLAGS.predictions:
            raise UsageError("pass either --model or --predictions, not both")
        result = evaluate_model(benchmark=FLAGS.dataset, model=FLAGS.model,
                                annotations=_need_file(FLAGS.annotations, "annotations", directory=True),
                                smplx_model=FLAGS.smplx_model, batch_size=FLAGS.batch_size, limit=FLAGS.limit)
        print(result.text)
        return 0
    if FLAGS.dataset == "agora":
        raise UsageError("--dataset agora evaluates a model: pass --model")
    preds = _need_file(FLAGS.predictions, "predictions")
    if FLAGS.dataset == "coco":
        text = evaluate_coco(preds, _need_file(FLAGS.annotations, "annotations"))
    elif FLAGS.dataset == "mpii":
        text = evaluate_mpii(preds, _need_file(FLAGS.annotations, "annotations"),
                             origin=FLAGS.prediction_origin, threshold=FLAGS.threshold)
    elif FLAGS.dataset == "h36m":
        text = evaluate_h36m(preds, _need_file(FLAGS.annotations, "annotations"))
    else:
        text = evaluate_ehf(preds, _need_file(FLAGS.annotations, "annotations", directory=True),
                            subsets_file=FLAGS.ehf_subsets)
    print(text)
    return 0


def run(argv=None):
    """Console-script entry point (``bhpe-evaluate``): :func:`bhpe_tf.cli.run` with :func:`define_flags`."""
    from bhpe_tf import cli

    cli.run(main, define_flags, argv, doc=__doc__)


if __name__ == "__main__":
    run()
