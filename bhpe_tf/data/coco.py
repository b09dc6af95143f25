"""COCO keypoints (17) and COCO-WholeBody v1.0 (133) readers.

References: HRNet ``lib/dataset/coco.py`` (``_load_coco_keypoint_annotation_kernal``: box cleaning,
``_box2cs``, visibility ``min(1, v)``; ``_load_coco_person_detection_results``), COCO-WholeBody's
``data_format.md`` (``foot_kpts``, ``face_kpts``, ``lefthand_kpts``, ``righthand_kpts``, part boxes
and ``*_valid`` flags; the 133 keypoints are body, feet, face, left hand, right hand in that order).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bhpe_tf.data.records import DataError, RecordSet, SampleRecord, SkipCounter, read_json
from bhpe_tf.data.transforms import box_to_center_scale

#: COCO-WholeBody annotation fields in the order of the 133-keypoint layout.
WHOLEBODY_FIELDS = (("keypoints", 17), ("foot_kpts", 6), ("face_kpts", 68), ("lefthand_kpts", 21),
                    ("righthand_kpts", 21))


#: A labelled keypoint more than this many image sizes outside the image is an annotation error
#: (COCO labels lie inside the image); it would, e.g., inflate a sample's box-size-normalised PCK.
FAR_OFF_IMAGE = 1.0


def index_images(data, path, *, need_file_name: bool = True):
    """``{id: image entry}``; a missing ``id`` / ``file_name`` or a duplicate id is one :class:`DataError`."""
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError("not a COCO annotation file (no 'images' list)", path=path)
    images = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im:
            raise DataError("image entry without 'id'", path=path, record=f"images[{i}]")
        if need_file_name and not isinstance(im.get("file_name"), str):
            raise DataError("image entry without 'file_name'", path=path, record=f"images[{i}] (id {im['id']!r})")
        if im["id"] in images:
            raise DataError(f"duplicate image id {im['id']!r} ({images[im['id']].get('file_name')} and "
                            f"{im.get('file_name')}): annotations would point at the wrong file", path=path,
                            record=f"images[{i}]")
        images[im["id"]] = im
    if "annotations" in data and not isinstance(data["annotations"], list):
        raise DataError(f"'annotations' must be a list, got {type(data['annotations']).__name__}", path=path)
    ids = {}
    for i, ann in enumerate(data.get("annotations") or []):
        if isinstance(ann, dict) and "id" in ann:
            if ann["id"] in ids:
                raise DataError(f"duplicate annotation id {ann['id']!r} (#{ids[ann['id']]} and #{i})", path=path,
                                record=f"annotations[{i}]")
            ids[ann["id"]] = i
    return images


def _numbers(value, key, path, rec) -> np.ndarray:
    try:
        return np.asarray(value, np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"{key!r} is not a list of numbers", path=path, record=rec) from None


def far_off_image(xy, width, height, *, margin: float = FAR_OFF_IMAGE) -> np.ndarray:
    """Mask of points more than ``margin`` image sizes outside ``[0, width] x [0, height]``."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    return ((xy[:, 0] < -margin * width) | (xy[:, 0] > (1 + margin) * width) |
            (xy[:, 1] < -margin * height) | (xy[:, 1] > (1 + margin) * height))


def _detect_layout(data) -> str:
    anns = data.get("annotations") or []
    return "coco_wholebody" if anns and "face_kpts" in anns[0] else "coco"


def _keypoints(ann, layout, path, rec):
    fields = WHOLEBODY_FIELDS if layout == "coco_wholebody" else WHOLEBODY_FIELDS[:1]
    parts = []
    for key, num in fields:
        if key not in ann:
            raise DataError(f"missing key {key!r}", path=path, record=rec)
        values = _numbers(ann[key], key, path, rec)
        if values.size != 3 * num:
            raise DataError(f"{key!r} has {values.size} values, expected {3 * num}", path=path, record=rec)
        parts.append(values.reshape(num, 3))
    kp = np.concatenate(parts, 0)
    kp[:, 2] = np.minimum(1.0, kp[:, 2])  # COCO v=1 (occluded) and v=2 (visible) are both labelled
    return kp


def _clean_box(bbox, width, height):
    """HRNet's box sanitising: clip to the image; ``None`` for an empty box."""
    x, y, w, h = bbox
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(width - 1.0, x1 + max(0.0, w - 1.0))
    y2 = min(height - 1.0, y1 + max(0.0, h - 1.0))
    if x2 >= x1 and y2 >= y1 and (x2 - x1) * (y2 - y1) > 0:
        return np.array([x1, y1, x2 - x1, y2 - y1], np.float32)
    return None


def load_coco(*, annotation_file, image_dir=None, layout: str = "auto", detections_file=None,
              det_score_threshold: float = 0.0, min_keypoints: int = 0, aspect_ratio: float = 0.75,
              padding: float = 1.25) -> RecordSet:
    """Read COCO / COCO-WholeBody people as :class:`SampleRecord` s.

    Ground-truth boxes (default): every non-crowd person annotation; boxes are cleaned like HRNet
    (zero-area boxes are counted skips); ``min_keypoints`` > 0 drops people with fewer labelled
    keypoints (HRNet training uses 1). With ``detections_file`` (a COCO results list of person
    boxes with ``score``) the records are the detections with score >= ``det_score_threshold`` and
    zero keypoints, as in HRNet's top-down evaluation. ``image_dir`` defaults to the annotation
    file's folder. ``layout``: ``coco``, ``coco_wholebody`` or ``auto`` (by the fields present).
    """
    path = Path(annotation_file)
    data = read_json(path)
    images = index_images(data, path)
    if layout == "auto":
        layout = _detect_layout(data)
    if layout not in ("coco", "coco_wholebody"):
        raise ValueError(f"unknown COCO layout {layout!r}")
    num_kp = 133 if layout == "coco_wholebody" else 17
    image_dir = path.parent if image_dir is None else Path(image_dir)
    skips = SkipCounter(name=f"{layout} people")

    def image_of(image_id, rec, src):
        im = images.get(image_id)
        if im is None:
            raise DataError(f"image_id {image_id!r} is not in {path.name}", path=src, record=rec)
        return im

    records = []
    if detections_file is not None:
        det_path = Path(detections_file)
        dets = read_json(det_path)
        if not isinstance(dets, list):
            raise DataError("detections must be a JSON list of COCO results", path=det_path)
        for i, det in enumerate(dets):
            rec = f"#{i}"
            try:
                image_id, bbox, score = det["image_id"], det["bbox"], float(det["score"])
            except (KeyError, TypeError) as e:
                raise DataError(f"missing key {e}", path=det_path, record=rec) from None
            if det.get("category_id", 1) != 1:
                skips.skip("not a person", path=det_path, record=rec)
                continue
            if score < det_score_threshold:
                skips.skip("score below threshold", path=det_path, record=rec)
                continue
            bbox = _numbers(bbox, "bbox", det_path, rec)
            if bbox.size != 4 or not np.all(np.isfinite(bbox)):
                skips.skip("invalid box", path=det_path, record=rec)
                continue
            if bbox[2] <= 0 or bbox[3] <= 0:
                skips.skip("zero-area box", path=det_path, record=rec)
                continue
            im = image_of(image_id, rec, det_path)
            center, scale = box_to_center_scale(bbox, aspect_ratio=aspect_ratio, padding=padding)
            records.append(SampleRecord(
                image_path=str(image_dir / im["file_name"]), image_id=image_id, dataset=layout,
                keypoints=np.zeros((num_kp, 3), np.float32), center=center, scale=scale, bbox=bbox,
                bbox_score=score, image_size=(im.get("width"), im.get("height"))))
        return RecordSet(records=records, skips=skips, source=det_path)

    for i, ann in enumerate(data.get("annotations", [])):
        rec = f"annotation id {ann.get('id', '?')} (#{i})" if isinstance(ann, dict) else f"#{i}"
        if not isinstance(ann, dict):
            raise DataError("annotation is not an object", path=path, record=rec)
        for key in ("image_id", "bbox"):
            if key not in ann:
                raise DataError(f"missing key {key!r}", path=path, record=rec)
        if ann.get("category_id", 1) != 1:
            skips.skip("not a person", path=path, record=rec)
            continue
        if ann.get("iscrowd", 0):
            skips.skip("crowd", path=path, record=rec)
            continue
        im = image_of(ann["image_id"], rec, path)
        kp = _keypoints(ann, layout, path, rec)
        bbox = _numbers(ann["bbox"], "bbox", path, rec)
        if bbox.size != 4:
            raise DataError(f"'bbox' has {bbox.size} values, expected 4", path=path, record=rec)
        if not (np.all(np.isfinite(kp)) and np.all(np.isfinite(bbox))):
            skips.skip("NaN or inf coordinates", path=path, record=rec)
            continue
        if int(np.sum(kp[:, 2] > 0)) < min_keypoints:
            skips.skip("too few keypoints", path=path, record=rec)
            continue
        width, height = im.get("width"), im.get("height")
        if width and height and np.any(far_off_image(kp[kp[:, 2] > 0, :2], width, height)):
            skips.skip("keypoints far outside the image", path=path, record=rec)
            continue
        clean = _clean_box(bbox, width, height) if width and height else (
            bbox.astype(np.float32) if bbox[2] > 0 and bbox[3] > 0 else None)
        if clean is None or ann.get("area", 1.0) <= 0:
            skips.skip("zero-area box", path=path, record=rec)
            continue
        center, scale = box_to_center_scale(clean, aspect_ratio=aspect_ratio, padding=padding)
        extra = {}
        if layout == "coco_wholebody":
            for part in ("face", "lefthand", "righthand"):
                box = np.asarray(ann.get(f"{part}_box", [0, 0, 0, 0]), np.float32).reshape(4)
                valid = bool(ann.get(f"{part}_valid", False)) and box[2] > 0 and box[3] > 0
                short = {"face": "face", "lefthand": "lhand", "righthand": "rhand"}[part]
                extra[f"{short}_box"] = box
                extra[f"{short}_valid"] = float(valid)
        records.append(SampleRecord(
            image_path=str(image_dir / im["file_name"]), image_id=ann["image_id"], dataset=layout,
            keypoints=kp, center=center, scale=scale, bbox=clean, ann_id=ann.get("id"),
            image_size=(width, height), extras={"area": float(ann.get("area", 0.0)),
                                                "num_keypoints": int(np.sum(kp[:17, 2] > 0))},
            **extra))
    return RecordSet(records=records, skips=skips, source=path)
