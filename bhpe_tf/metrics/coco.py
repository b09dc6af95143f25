"""COCO OKS keypoint AP with pycocotools, COCO-WholeBody parts, and the top-down protocol helpers.

References: pycocotools ``COCOeval(iouType='keypoints')`` (maxDets 20, area ranges all / medium /
large; ground truth with ``num_keypoints == 0`` is ignored by ``_prepare``); COCO-WholeBody
``evaluation/myeval_*.py`` (each part is evaluated with its own keypoint slice and sigmas, the
person ``area`` and ``score``; a person is ignored for a part when that part has no labelled
keypoint); HRNet ``lib/dataset/coco.py`` ``evaluate`` (instance score = box score x mean of the
keypoint scores above 0.2) and ``lib/nms/nms.py`` (``oks_iou``, ``oks_nms`` at 0.9).
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np

from bhpe_tf.data.meta import get_meta
from bhpe_tf.data.records import DataError, read_json
from bhpe_tf.errors import warn_ignored

STAT_NAMES = ("AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")
#: COCO-WholeBody fields holding each part's keypoints, in the 133-keypoint order.
WHOLEBODY_PART_FIELDS = {"body": ("keypoints",), "foot": ("foot_kpts",), "face": ("face_kpts",),
                         "lefthand": ("lefthand_kpts",), "righthand": ("righthand_kpts",),
                         "wholebody": ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")}


def _load(obj):
    if isinstance(obj, (str, Path)):
        return read_json(obj)
    return copy.deepcopy(obj)


def _kpt_area(flat):
    """The keypoint-box area pycocotools' ``loadRes`` gives a keypoint result."""
    k = np.asarray(flat, np.float64).reshape(-1)
    x, y = k[0::3], k[1::3]
    return float((x.max() - x.min()) * (y.max() - y.min())) if x.size else 0.0


def _run_cocoeval(gt: dict, results: list, sigmas, use_area: bool = True, dt_areas=None):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    stats = dict.fromkeys(STAT_NAMES, 0.0)
    if not results:
        return stats, "no results: all statistics are 0"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        if dt_areas is not None:  # keep the area pycocotools would give the full-body result
            for ann_id, ann in coco_dt.anns.items():
                ann["area"] = dt_areas[ann_id - 1]
        ev = COCOeval(coco_gt, coco_dt, "keypoints")
        ev.params.useSegm = None
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
        if not use_area:
            ev.params.areaRng = [[0, 1e10]] * len(ev.params.areaRng)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(STAT_NAMES, (float(s) for s in ev.stats))), buf.getvalue()


def _check_results(results, source, gt):
    """Reject what pycocotools would fail on with an assertion deep inside ``loadRes``."""
    if not isinstance(results, list):
        raise DataError("results must be a JSON list of COCO keypoint results", path=source)
    image_ids = {im.get("id") for im in gt.get("images", [])}
    for i, r in enumerate(results):
        for key in ("image_id", "keypoints", "score"):
            if not isinstance(r, dict) or key not in r:
                raise DataError(f"missing key {key!r}", path=source, record=f"#{i}")
        try:
            kp = np.asarray(r["keypoints"], np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise DataError("keypoints are not a flat list of numbers", path=source, record=f"#{i}") from None
        if kp.size == 0 or kp.size % 3:
            raise DataError(f"{kp.size} keypoint values: not x, y, score triplets", path=source, record=f"#{i}")
        if not np.all(np.isfinite(kp)):
            raise DataError("keypoints contain NaN or inf", path=source, record=f"#{i}")
        if r["image_id"] not in image_ids:
            raise DataError(f"image_id {r['image_id']!r} is not in the annotations", path=source, record=f"#{i}")


def check_ground_truth(gt: dict, *, source=None, fields=("keypoints",)) -> int:
    """Make the ground truth scoreable, in place, and say what was left out.

    Duplicate image or annotation ids are a :class:`DataError` (pycocotools would silently keep the
    last one and score predictions against the wrong person). A labelled keypoint with NaN / inf
    coordinates or far outside its image (:func:`bhpe_tf.data.coco.far_off_image`) becomes
    unlabelled (``v = 0``); a person with no valid ``area`` is ignored (``num_keypoints = 0``,
    pycocotools' ignore rule). Returns the number of keypoints and people left out and warns
    (:class:`~bhpe_tf.errors.IgnoredDataWarning`) when it is not 0."""
    from bhpe_tf.data.coco import _numbers, far_off_image, index_images

    images = index_images(gt, source, need_file_name=False)
    dropped_kp, dropped_people, first = 0, 0, []
    for i, ann in enumerate(gt["annotations"]):
        if not isinstance(ann, dict):
            raise DataError("annotation is not an object", path=source, record=f"annotations[{i}]")
        rec = f"annotation id {ann.get('id', '?')}"
        im = images.get(ann.get("image_id"), {})
        width, height = im.get("width"), im.get("height")
        area = ann.get("area", 1.0)
        no_area = not isinstance(area, (int, float)) or not np.isfinite(area) or area <= 0
        changed = "num_keypoints" not in ann
        for field in fields:
            if field not in ann:
                continue
            kp = _numbers(ann[field], field, source, rec)
            if kp.size % 3:
                raise DataError(f"{field!r} has {kp.size} values: not x, y, v triplets", path=source, record=rec)
            kp = kp.reshape(-1, 3)
            labelled = kp[:, 2] > 0
            bad = labelled & ~np.all(np.isfinite(kp[:, :2]), axis=1)
            if isinstance(width, (int, float)) and isinstance(height, (int, float)) and width > 0 and height > 0:
                with np.errstate(invalid="ignore"):
                    bad |= labelled & far_off_image(np.nan_to_num(kp[:, :2]), width, height)
            if no_area and labelled.any():  # every keypoint unlabelled: ignored by any part's recount too
                kp[:, 2] = 0.0
                ann[field] = kp.reshape(-1).tolist()
                changed = True
            elif bad.any():
                kp[bad] = 0.0
                ann[field] = kp.reshape(-1).tolist()
                dropped_kp += int(bad.sum())
                first.append(rec)
                changed = True
        if no_area and ann.get("num_keypoints", 1):
            dropped_people += 1
            first.append(rec)
        if changed and "keypoints" in ann:
            ann["num_keypoints"] = int(np.count_nonzero(np.asarray(ann["keypoints"], np.float64)[2::3] > 0))
    if dropped_kp or dropped_people:
        where = f"{source}: " if source is not None else ""
        warn_ignored(f"{where}ignoring {dropped_kp} ground-truth keypoint(s) with NaN / inf or far-off-image "
                     f"coordinates and {dropped_people} person(s) without a valid area ({', '.join(first[:5])}"
                     f"{' ...' if len(first) > 5 else ''})")
    return dropped_kp + dropped_people


def coco_keypoint_eval(results, *, annotations, sigmas=None, use_area: bool = True, return_summary: bool = False):
    """OKS keypoint AP/AR of ``results`` (a COCO results list or a json path) against
    ``annotations`` (a COCO dict or json path), with pycocotools.

    ``sigmas`` defaults to pycocotools' COCO-17 sigmas; pass another array (e.g. a COCO-WholeBody
    part's) to evaluate other layouts. Ground truth with no labelled keypoints is ignored
    (pycocotools' rule; ``num_keypoints`` is recounted); unscoreable ground truth is left out with a
    warning (:func:`check_ground_truth`). Returns ``{stat: value}`` with
    :data:`STAT_NAMES`, plus pycocotools' printed summary when ``return_summary``.
    """
    gt = _load(annotations)
    if not isinstance(gt, dict) or "annotations" not in gt or "images" not in gt:
        raise DataError("not a COCO annotation file (needs 'images' and 'annotations')", path=annotations
                        if isinstance(annotations, (str, Path)) else None)
    res = _load(results)
    _check_results(res, results if isinstance(results, (str, Path)) else None, gt)
    check_ground_truth(gt, source=annotations if isinstance(annotations, (str, Path)) else None)
    gt.setdefault("categories", [{"id": 1, "name": "person"}])
    stats, summary = _run_cocoeval(gt, res, sigmas, use_area)
    return (stats, summary) if return_summary else stats


def _concat_fields(ann, fields):
    return [v for f in fields for v in ann[f]]


def coco_wholebody_eval(results, *, annotations, parts=("body", "foot", "face", "lefthand", "righthand", "wholebody"),
                        use_area: bool = True) -> dict:
    """COCO-WholeBody per-part AP/AR like the official evaluation: ``{part: {stat: value}}``.

    Results carry the parts in the annotation fields (``keypoints`` = body 17, ``foot_kpts``,
    ``face_kpts``, ``lefthand_kpts``, ``righthand_kpts``) and one person ``score``.
    """
    gt_all = _load(annotations)
    res_all = _load(results)
    _check_results(res_all, results if isinstance(results, (str, Path)) else None, gt_all)
    check_ground_truth(gt_all, source=annotations if isinstance(annotations, (str, Path)) else None,
                       fields=WHOLEBODY_PART_FIELDS["wholebody"])
    sigmas_all = get_meta("coco_wholebody").sigmas
    slices = get_meta("coco_wholebody").parts
    out = {}
    for part in parts:
        fields = WHOLEBODY_PART_FIELDS[part]
        lo, hi = slices[part]
        gt = {k: v for k, v in gt_all.items() if k != "annotations"}
        gt["annotations"] = []
        for i, ann in enumerate(gt_all["annotations"]):
            try:
                kp = _concat_fields(ann, fields)
            except KeyError as e:
                raise DataError(f"missing key {e}", path=annotations if isinstance(annotations, (str, Path)) else None,
                                record=f"annotation id {ann.get('id', i)}") from None
            a = {k: v for k, v in ann.items() if k not in ("segmentation",)}
            a["keypoints"] = kp
            a["num_keypoints"] = int(np.count_nonzero(np.asarray(kp)[2::3] > 0))
            gt["annotations"].append(a)
        gt.setdefault("categories", [{"id": 1, "name": "person"}])
        res, areas = [], []
        for i, r in enumerate(res_all):
            try:
                kp = _concat_fields(r, fields)
            except KeyError as e:
                raise DataError(f"missing key {e}", path=results if isinstance(results, (str, Path)) else None,
                                record=f"#{i}") from None
            res.append({"image_id": r["image_id"], "category_id": r.get("category_id", 1), "keypoints": kp,
                        "score": r["score"]})
            areas.append(_kpt_area(r["keypoints"]))  # official: loadRes area from the body keypoints
        out[part], _ = _run_cocoeval(gt, res, sigmas_all[lo:hi], use_area, dt_areas=areas)
    return out


# --------------------------------------------------------------------------- top-down protocol
def oks_iou(g, d, area_g, area_d, sigmas):
    """HRNet's ``oks_iou``: OKS of one flat keypoint vector ``g`` (3K,) against each row of ``d``
    (M, 3K), with the mean of the two areas as the object scale."""
    sigmas = np.asarray(sigmas, np.float64)
    var = (sigmas * 2) ** 2
    g = np.asarray(g, np.float64)
    d = np.asarray(d, np.float64).reshape(-1, g.size)
    dx = d[:, 0::3] - g[0::3]
    dy = d[:, 1::3] - g[1::3]
    e = (dx ** 2 + dy ** 2) / var / ((area_g + np.asarray(area_d, np.float64)[:, None]) / 2 + np.spacing(1)) / 2
    return np.mean(np.exp(-e), axis=1) if e.shape[1] else np.zeros(len(d))


def oks_nms(people, *, threshold: float = 0.9, sigmas=None) -> list:
    """HRNet's ``oks_nms``: greedy by score, dropping people whose OKS with a kept one exceeds
    ``threshold``. ``people``: dicts with ``keypoints`` (K, 3), ``score``, ``area``. Returns kept indices."""
    if not people:
        return []
    kpts = np.stack([np.asarray(p["keypoints"], np.float64).reshape(-1) for p in people])
    if sigmas is None:
        sigmas = get_meta("coco").sigmas
    scores = np.array([p["score"] for p in people], np.float64)
    areas = np.array([p["area"] for p in people], np.float64)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        ovr = oks_iou(kpts[i], kpts[order[1:]], areas[i], areas[order[1:]], sigmas)
        order = order[np.where(ovr <= threshold)[0] + 1]
    return keep


def rescore_instances(keypoint_scores, box_scores, *, threshold: float = 0.2) -> np.ndarray:
    """Instance score = box score x mean of the keypoint scores above ``threshold`` (only the box
    score's factor is dropped when none is above, HRNet: the keypoint term is then 0)."""
    ks = np.asarray(keypoint_scores, np.float64)
    above = ks > threshold
    n = above.sum(axis=-1)
    mean = np.where(n > 0, (ks * above).sum(axis=-1) / np.maximum(n, 1), 0.0)
    return mean * np.asarray(box_scores, np.float64)


def topdown_results(*, image_ids, keypoints, keypoint_scores, box_scores, areas, vis_threshold: float = 0.2,
                    oks_threshold: float = 0.9, sigmas=None, category_id: int = 1) -> list:
    """Top-down protocol: rescore every person, OKS-NMS per image, -> COCO results list.

    ``keypoints`` (N, K, 2) image pixels, ``keypoint_scores`` (N, K) (heatmap maxima),
    ``box_scores`` (N,), ``areas`` (N,) (HRNet uses the crop region area ``scale_w * scale_h``).
    """
    kp = np.asarray(keypoints, np.float64)
    ks = np.asarray(keypoint_scores, np.float64)
    scores = rescore_instances(ks, box_scores, threshold=vis_threshold)
    by_image: dict = {}
    for n, image_id in enumerate(image_ids):
        by_image.setdefault(image_id, []).append(n)
    out = []
    for image_id, idx in by_image.items():
        people = [{"keypoints": np.c_[kp[n], ks[n]], "score": scores[n], "area": float(areas[n])} for n in idx]
        keep = oks_nms(people, threshold=oks_threshold, sigmas=sigmas) if oks_threshold < 1 else range(len(idx))
        for j in keep:
            n = idx[j]
            out.append({"image_id": image_id, "category_id": category_id,
                        "keypoints": np.c_[kp[n], ks[n]].reshape(-1).tolist(), "score": float(scores[n])})
    return out


def write_results(results, path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(results, f)
