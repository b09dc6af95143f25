"""Pose / mesh inference on images from the command line.

    python -m bhpe_tf.infer IMAGE... --model bihrnet.tflite [--boxes dets.json] [--output_dir DIR]
    python -m bhpe_tf.infer IMAGE... --model runs/ckpt-210 --model_name bihrnet --method bidrn [--flip_test]

* ``--model`` a ``.tflite`` (run by LCE's interpreter; the model card ``OUT.json`` next to it gives
  input size, dtype, normalisation, crop and keypoint names / skeleton) or a checkpoint of a
  registered model (run by Keras; ``--model_name`` and ``--method`` say which).
* People: the whole image, or the boxes of ``--boxes`` (COCO detection results json:
  ``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}, ...]``, kept when
  ``category_id == 1`` and ``score >= --box_score_threshold``). The image id of a file is its
  numeric stem (COCO's ``000000000785.jpg`` -> 785), otherwise its position (1-based).
* Each box is cropped top-down (centre/scale with the card's aspect ratio and padding, affine warp)
  and the outputs are decoded: heatmaps -> keypoints (argmax + quarter offset, optional flip test)
  mapped back to the image; ``vertices`` -> a mesh.
* Prints the model's provenance (model card / ``.meta.json`` / trainer workdir, :mod:`bhpe_tf.provenance`):
  imported official weights with their sha256, a user's dataset, or, in one warning line, that a
  model was trained only on the embedded synthetic demo data (its skeletons are not a real model's).
* Writes per image ``<stem>_overlay.png`` (skeleton, or mesh wireframe; names stay unique when two
  inputs share a stem: they mirror the inputs' relative paths, see :func:`output_stems`), ``results.json`` (COCO
  keypoint results: ``image_id``, ``category_id`` 1, ``keypoints`` flat x, y, score, ``score`` =
  box score x mean keypoint score above 0.2) and, for mesh models, ``<stem>_<k>.obj``.

Mesh models: the mesh needs the SMPL-X faces, read from the user's own SMPL-X model file
(``--smplx_model``, licensed, not shipped); vertices are drawn with Hand4Whole's camera (virtual
focal 5000 px, principal point at the input centre) mapped back through the crop.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)
import cv2
import numpy as np

from bhpe_tf.errors import InvalidInputError, MissingFileError
from bhpe_tf.fileio import atomic_output, atomic_write_bytes
from bhpe_tf.metrics.coco import rescore_instances
from bhpe_tf.runtime.predictors import ModelSpec, open_predictor

KEYPOINT_SCORE_THRESHOLD = 0.2  # instance score = box score x mean of keypoint scores above this


# --------------------------------------------------------------------------- images and boxes
def read_image_rgb(path) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB through the package's one image reader (:func:`bhpe_tf.images.read_image`:
    missing, empty, corrupt and truncated files are one :class:`~bhpe_tf.images.ImageReadError` line)."""
    from bhpe_tf.images import read_image

    return read_image(path, rgb=True)


def distinct_images(image_paths, *, log=print) -> list:
    """The input paths with each file once (a file given twice is processed once, and said so)."""
    seen, out = set(), []
    for path in image_paths:
        key = os.path.realpath(os.fspath(path))
        if key in seen:
            log(f"{path}: given more than once; processed once")
            continue
        seen.add(key)
        out.append(path)
    return out


def read_images(image_paths, *, log=print) -> list:
    """``[(path, (H, W, 3) uint8 RGB)]`` of the distinct inputs (:func:`distinct_images`), all read before
    any is processed, so that a bad file fails first."""
    return [(path, read_image_rgb(path)) for path in distinct_images(image_paths, log=log)]


def output_stems(image_paths) -> list:
    """A unique output name (without ``_overlay.png``) per input path.

    The file's stem when the stems are unique; otherwise every name mirrors the input's path
    relative to the inputs' common folder (``a/x.jpg`` and ``b/x.jpg`` -> ``a/x``, ``b/x``), and a
    file that still collides (``x.jpg`` and ``x.png`` in one folder) keeps its extension
    (``x_jpg``). Compared case-insensitively, for case-insensitive file systems."""
    paths = [Path(os.path.abspath(os.fspath(p))) for p in image_paths]
    stems = [p.stem for p in paths]
    if len({s.lower() for s in stems}) == len(stems):
        return stems
    root = Path(os.path.commonpath([str(p.parent) for p in paths]))
    mirrored = [str(p.relative_to(root).with_suffix("")) for p in paths]
    counts = {}
    for name in mirrored:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    return [name + ("_" + p.suffix.lstrip(".").lower() if counts[name.lower()] > 1 else "")
            for name, p in zip(mirrored, paths)]


def image_id_for(path, position: int) -> int:
    stem = Path(path).stem
    return int(stem) if stem.isdigit() else position + 1


def load_detections(path, *, score_threshold: float = 0.5) -> dict:
    """COCO detection results json -> ``{image_id: [(bbox, score), ...]}`` for persons above the threshold."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(f"boxes file {path} not found")
    try:
        with open(path, encoding="utf-8") as handle:
            detections = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidInputError(f"boxes file {path} is not valid json: {err}") from None
    if isinstance(detections, dict) and "annotations" in detections:
        detections = detections["annotations"]
    if not isinstance(detections, list):
        raise InvalidInputError(f"boxes file {path}: expected a list of COCO detections "
                                "[{image_id, category_id, bbox, score}]")
    boxes = {}
    for i, det in enumerate(detections):
        if not isinstance(det, dict) or "image_id" not in det or "bbox" not in det:
            raise InvalidInputError(f"boxes file {path}: entry {i} lacks image_id / bbox")
        if int(det.get("category_id", 1)) != 1:
            continue
        score = float(det.get("score", 1.0))
        bbox = [float(v) for v in det["bbox"]]
        if len(bbox) != 4:
            raise InvalidInputError(f"boxes file {path}: entry {i} bbox must be [x, y, w, h], got {det['bbox']}")
        if score < score_threshold or bbox[2] <= 1 or bbox[3] <= 1:
            continue
        boxes.setdefault(int(det["image_id"]), []).append((bbox, score))
    return boxes


def crop_people(image_rgb, boxes, spec: ModelSpec):
    """Top-down crops ``(N, H, W, 3)`` uint8 and the centres / scales to map results back."""
    from bhpe_tf.data.transforms import box_to_center_scale, get_affine_transform, warp_crop

    height, width = spec.input_hw
    interpolation = cv2.INTER_NEAREST if spec.crop["interpolation"] == "nearest" else cv2.INTER_LINEAR
    crops, centers, scales = [], [], []
    for bbox in boxes:
        center, scale = box_to_center_scale(bbox, aspect_ratio=spec.crop["aspect_ratio"], padding=spec.crop["padding"])
        mat = get_affine_transform(center, scale, 0.0, (width, height))
        crops.append(warp_crop(image_rgb, mat, (width, height), interpolation=interpolation))
        centers.append(center)
        scales.append(scale)
    return np.stack(crops), np.stack(centers), np.stack(scales)


# --------------------------------------------------------------------------- decoding and drawing
def predict_keypoints(predictor, crops, centers, scales, *, flip_test: bool = False):
    """Image-space keypoints ``(N, K, 2)`` and scores ``(N, K)`` from the heatmaps output, decoded by
    the codec of the card's ``heatmap`` block (:meth:`~bhpe_tf.data.codecs.HeatmapCodec.from_card`)."""
    from bhpe_tf.data.codecs import HeatmapCodec

    spec = predictor.spec
    position = spec.output_of_kind("heatmaps")
    if position is None or spec.heatmap is None:
        raise InvalidInputError("the model has no heatmaps output; it is not a 2D keypoint model")
    height, width = spec.input_hw
    codec = HeatmapCodec.from_card(spec.heatmap, input_wh=(width, height))
    heatmaps = predictor(crops)[position]
    if flip_test:
        flip_pairs = spec.keypoints["flip_pairs"] if spec.keypoints else []
        flipped = predictor(np.ascontiguousarray(crops[:, :, ::-1]))[position]
        heatmaps = codec.fuse_flip_test(heatmaps, flipped, flip_pairs)
    return codec.decode_to_image(heatmaps, centers=centers, scales=scales)


def coco_result(image_id, keypoints, scores, box_score) -> dict:
    flat = np.concatenate([keypoints, scores[:, None]], axis=1).reshape(-1)
    return {"image_id": int(image_id), "category_id": 1, "keypoints": [float(round(v, 3)) for v in flat],
            "score": float(rescore_instances(scores, box_score, threshold=KEYPOINT_SCORE_THRESHOLD))}


def draw_skeleton(image_bgr, keypoints, scores, skeleton, *, threshold=KEYPOINT_SCORE_THRESHOLD):
    """Limbs and joints of one person whose both ends score above ``threshold``."""
    out = image_bgr
    thickness = max(1, int(round(max(image_bgr.shape[:2]) / 300)))
    for a, b in skeleton:
        if scores[a] > threshold and scores[b] > threshold:
            cv2.line(out, tuple(int(round(v)) for v in keypoints[a]), tuple(int(round(v)) for v in keypoints[b]),
                     (255, 160, 0), thickness, cv2.LINE_AA)
    for (x, y), s in zip(keypoints, scores):
        if s > threshold:
            cv2.circle(out, (int(round(x)), int(round(y))), thickness + 1, (0, 0, 255), -1, cv2.LINE_AA)
    return out


def crop_to_image(points, spec, center, scale) -> np.ndarray:
    """Input-crop pixels (K, 2) -> image pixels (the crop is an unrotated scale + shift)."""
    height, width = spec.input_hw
    zoom = float(scale[0]) / width  # image pixels per crop pixel
    offset = np.asarray(center, np.float64) - np.asarray(scale, np.float64) / 2.0
    return np.asarray(points, np.float64) * zoom + offset


def mesh_camera(spec, center, scale, geometry):
    """Focal and principal point in image pixels for vertices in Hand4Whole's virtual camera
    (:meth:`~bhpe_tf.models.hand4whole.geometry.Hand4WholeGeometry.camera_in_image`) seen through
    the crop of ``center`` / ``scale`` (:func:`crop_to_image`)."""
    zoom = float(scale[0]) / spec.input_hw[1]
    origin = crop_to_image(np.zeros((1, 2)), spec, center, scale)[0]
    return geometry.camera_in_image(zoom=zoom, origin=origin)


class SMPLXHost:
    """Runs BinaryHPE's SMPL-X stage on the host after the (converted) network: 6D -> axis-angle ->
    SMPL-X mesh and the 137 projected joints (``bhpe_tf.models.hand4whole.SMPLXStage``)."""

    def __init__(self, smplx_model, spec: ModelSpec):
        from bhpe_tf.models.hand4whole import Hand4WholeGeometry, SMPLXStage

        if not os.path.exists(os.fspath(smplx_model)):
            raise MissingFileError(f"SMPL-X model {smplx_model} not found")
        self.geometry = Hand4WholeGeometry(input_shape=tuple(int(v) for v in spec.input_hw))
        self.stage = SMPLXStage(smplx_model_path=smplx_model, geometry=self.geometry, name="smplx_host")
        self.faces = np.asarray(self.stage.faces)

    def __call__(self, named_outputs) -> dict:
        from bhpe_tf.models.hand4whole import SMPLX_STAGE_INPUTS

        import tensorflow as tf

        missing = [k for k in SMPLX_STAGE_INPUTS if k not in named_outputs]
        if missing:
            raise InvalidInputError(f"the model lacks the SMPL-X parameter outputs {', '.join(missing)}")
        out = self.stage({k: tf.constant(np.asarray(named_outputs[k], np.float32)) for k in SMPLX_STAGE_INPUTS})
        return {k: np.asarray(v) for k, v in out.items()}


# --------------------------------------------------------------------------- the whole run
@dataclasses.dataclass
class InferenceOutput:
    results_path: Path
    overlays: list
    meshes: list
    results: list


def write_json_atomic(path, value):
    return atomic_write_bytes(path, (json.dumps(value) + "\n").encode("utf-8"))


def infer_images(image_paths, predictor, *, output_dir, boxes=None, flip_test=False, smplx_model=None,
                 log=print, images=None) -> InferenceOutput:
    """Run ``predictor`` on every image (all of them are read first, so a bad path fails early).

    ``images``: :func:`read_images` of ``image_paths`` when the caller has read them already (each
    file is read once). Output names are unique per input path (:func:`output_stems`); the overlays,
    meshes and results returned are exactly the files written."""
    from bhpe_tf.fileio import ensure_directory

    output_dir = ensure_directory(output_dir, what="--output_dir")
    spec = predictor.spec
    if images is None:
        images = read_images(image_paths, log=log)
    image_paths = [path for path, _ in images]
    stems = output_stems(image_paths)
    ids = {}
    for position, path in enumerate(image_paths):
        ids.setdefault(image_id_for(path, position), []).append(path)
    for image_id, paths in ids.items():
        if len(paths) > 1:  # COCO results (and --boxes) key people by image id alone
            log(f"warning: {', '.join(map(str, paths))} share image id {image_id} in results.json"
                + (" and the same --boxes" if boxes is not None else ""))
    smplx_host = None
    if spec.task == "smplx_mesh":
        if smplx_model is not None:
            smplx_host = SMPLXHost(smplx_model, spec)
        else:
            log("no --smplx_model: writing joints only (the mesh needs your SMPL-X model file)")
    results, overlays, meshes = [], [], []
    for position, ((path, rgb), stem) in enumerate(zip(images, stems)):
        image_id = image_id_for(path, position)
        height, width = rgb.shape[:2]
        if boxes is None:
            people = [([0.0, 0.0, float(width), float(height)], 1.0)]
        else:
            people = boxes.get(image_id, [])
        overlay = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if people:
            crops, centers, scales = crop_people(rgb, [b for b, _ in people], spec)
            if spec.task == "keypoints_2d":
                keypoints, scores = predict_keypoints(predictor, crops, centers, scales, flip_test=flip_test)
                skeleton = spec.keypoints["skeleton"] if spec.keypoints else []
                for k, (_, box_score) in enumerate(people):
                    results.append(coco_result(image_id, keypoints[k], scores[k], box_score))
                    draw_skeleton(overlay, keypoints[k], scores[k], skeleton)
            else:
                overlay = _mesh_people(predictor, crops, centers, scales, people, overlay, image_id, stem,
                                       output_dir, smplx_host, results, meshes)
        else:
            log(f"{path}: no person box above the threshold")
        overlay_path = output_dir / f"{stem}_overlay.png"
        encoded, png = cv2.imencode(".png", overlay)
        if not encoded:
            raise InvalidInputError(f"cannot encode the overlay of {path} as PNG")
        atomic_write_bytes(overlay_path, png.tobytes())
        overlays.append(overlay_path)
        log(f"{path}: {len(people)} person(s) -> {overlay_path}")
    results_path = write_json_atomic(output_dir / "results.json", results)
    return InferenceOutput(results_path=results_path, overlays=overlays, meshes=meshes, results=results)


def _mesh_people(predictor, crops, centers, scales, people, overlay, image_id, stem, output_dir, smplx_host,
                 results, meshes):
    """BinaryHPE: network outputs -> [host SMPL-X stage] -> mesh .obj + wireframe overlay + joints."""
    from bhpe_tf.body.mesh_io import save_obj
    from bhpe_tf.body.render import draw_keypoints, render_mesh

    spec = predictor.spec
    outputs = predictor(crops)
    named = {out["name"]: value for out, value in zip(spec.outputs, outputs)}
    if "vertices" not in named and smplx_host is not None:
        named.update(smplx_host(named))
    grid_cell = None
    if "joint_proj" in named:  # 137 Hand4Whole joints in body-grid cells (input / 64)
        joints, grid_cell = named["joint_proj"], 64.0
    elif "joint_img" in named:  # PositionNet: 25 body joints in body-grid cells (hands are in hand crops)
        joints, grid_cell = named["joint_img"][:, :25, :2], 64.0
    for k, (_, box_score) in enumerate(people):
        if grid_cell is not None:
            xy = crop_to_image(np.asarray(joints[k], np.float64)[:, :2] * grid_cell, spec, centers[k], scales[k])
            flat = np.concatenate([xy, np.ones((len(xy), 1))], axis=1).reshape(-1)
            results.append({"image_id": int(image_id), "category_id": 1, "score": float(box_score),
                            "keypoints": [float(round(v, 3)) for v in flat]})
            overlay = draw_keypoints(overlay, xy, radius=2)
        if "vertices" in named and smplx_host is not None:
            vertices = np.asarray(named["vertices"][k], np.float64).reshape(-1, 3)
            mesh_path = output_dir / f"{stem}_{k}.obj"
            with atomic_output(mesh_path) as tmp:
                save_obj(tmp, vertices, smplx_host.faces)
            meshes.append(mesh_path)
            focal, princpt = mesh_camera(spec, centers[k], scales[k], smplx_host.geometry)
            overlay = render_mesh(overlay, vertices, smplx_host.faces, focal=focal, princpt=princpt, mode="wireframe")
    return overlay


# --------------------------------------------------------------------------- command line
def define_flags(flag_values=None):
    """The flags of ``bhpe-infer`` / ``python -m bhpe_tf.infer`` on ``flag_values`` (default ``absl.flags.FLAGS``)."""
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values
    flags.DEFINE_string("model", None, "a .tflite (with its model card .json next to it) or a checkpoint of a "
                        "registered model", flag_values=flag_values)
    flags.DEFINE_string("model_name", None, "registered model of a checkpoint (hrnet_w32, bihrnet, binaryhpe, ...)",
                        flag_values=flag_values)
    flags.DEFINE_string("method", None, "binarization method of a checkpoint", flag_values=flag_values)
    flags.DEFINE_string("input_hw", None, "HEIGHT,WIDTH for a checkpoint (default: the builder's)",
                        flag_values=flag_values)
    flags.DEFINE_string("model_kwargs", None, "json builder options for a checkpoint", flag_values=flag_values)
    flags.DEFINE_string("boxes", None, "COCO detection results json (person boxes); default: whole image",
                        flag_values=flag_values)
    flags.DEFINE_float("box_score_threshold", 0.5, "keep detections with at least this score",
                       flag_values=flag_values)
    flags.DEFINE_string("output_dir", "infer_out", "where overlays, results.json and meshes go",
                        flag_values=flag_values)
    flags.DEFINE_bool("flip_test", False, "average with the mirrored crop (HRNet flip test)", flag_values=flag_values)
    flags.DEFINE_integer("threads", 1, "interpreter threads (.tflite)", flag_values=flag_values)
    flags.DEFINE_bool("expect_binary", False, "fail when the .tflite has no LceBconv2d (not a binary LCE model)",
                      flag_values=flag_values)
    flags.DEFINE_enum("interpreter", "lce", ["lce", "stock"], "lce: LCE's interpreter; stock: tf.lite.Interpreter "
                      "(cannot run LCE ops)", flag_values=flag_values)
    flags.DEFINE_string("smplx_model", None, "your SMPL-X model file or folder (mesh faces for .obj / overlays)",
                        flag_values=flag_values)


def options(**values):
    """The CLI's options from Python: its flags with their defaults, ``values`` set (for :func:`run_cli`)."""
    from bhpe_tf.cli import flag_values

    return flag_values(define_flags, **values)


def run_cli(argv, flag_values=None):
    """absl main; ``flag_values`` (default ``absl.flags.FLAGS``) may be any object with the flags as attributes."""
    from absl import flags

    f = flags.FLAGS if flag_values is None else flag_values
    images = argv[1:]
    if not images:
        raise InvalidInputError("give one or more images: python -m bhpe_tf.infer IMAGE... --model MODEL")
    if not f.model:
        raise InvalidInputError("--model is required (a .tflite or a checkpoint)")
    model_path = f.model
    if model_path.lower().endswith(".tflite") and not os.path.isfile(model_path):
        raise MissingFileError(f"model file {model_path} not found")
    from bhpe_tf.fileio import ensure_directory

    ensure_directory(f.output_dir, what="--output_dir", create=False)  # before the model: one line, now
    loaded = read_images(images)  # fail on a bad image before loading the model
    boxes = load_detections(f.boxes, score_threshold=f.box_score_threshold) if f.boxes else None
    import tensorflow as tf

    from bhpe_tf.cli import parse_hw, parse_model_kwargs

    tf.get_logger().setLevel("ERROR")
    from bhpe_tf import provenance

    predictor = open_predictor(model_path, model_name=f.model_name, method=f.method,
                               input_hw=parse_hw(f.input_hw), model_kwargs=parse_model_kwargs(f.model_kwargs),
                               threads=f.threads, expect_binary=f.expect_binary, interpreter=f.interpreter)
    for line in provenance.report_lines(predictor.provenance):  # a synthetic-demo model says so
        print(line)
    out = infer_images(images, predictor, output_dir=f.output_dir, boxes=boxes, flip_test=f.flip_test,
                       smplx_model=f.smplx_model, images=loaded)
    print(f"wrote {out.results_path} ({len(out.results)} people), {len(out.overlays)} overlay(s)"
          + (f", {len(out.meshes)} mesh(es)" if out.meshes else ""))
    return out


def main(argv):
    """absl main (exit status 0; errors are raised and turned into one line by ``user_errors_exit``)."""
    run_cli(argv)
    return 0


def run(argv=None):
    """Console entry point ``bhpe-infer`` (``python -m bhpe_tf.infer``): :func:`bhpe_tf.cli.run`."""
    from bhpe_tf import cli

    cli.run(main, define_flags, argv, doc=__doc__)


if __name__ == "__main__":
    run()
