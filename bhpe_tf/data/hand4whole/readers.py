"""Readers of Hand4Whole's dataset layout (:mod:`.layout`) into :class:`~bhpe_tf.data.records.SampleRecord` s.

Each ``load_*`` mirrors the ``load_data`` of Hand4Whole's ``data/<Dataset>/<Dataset>.py`` (which
annotations, which frames, which boxes) and returns a :class:`~bhpe_tf.data.records.RecordSet`
whose :class:`~bhpe_tf.data.records.SkipCounter` says what was left out and why. Conventions of
the records (those of :mod:`bhpe_tf.data.records`, plus):

* ``keypoints`` are the dataset's own joints (its Hand4Whole joint set, :data:`.layout.SPECS`),
  image pixels and validity; ``joints_3d`` camera coordinates in metres (Human3.6M);
* ``smplx`` the NeuralAnnot / AGORA SMPL-X fit, ``camera`` the camera it lives in: Human3.6M's
  real camera (``R``, ``t`` move the world fit into it, as ``process_human_model_output`` does),
  NeuralAnnot's virtual camera for MSCOCO / MPII, AGORA's camera moved into the pre-cropped image;
* ``center`` / ``scale``: Hand4Whole's ``process_bbox`` (box sanitised to the image, grown to the
  input aspect ratio, x1.25), i.e. :func:`~bhpe_tf.data.transforms.box_to_center_scale`;
* ``vertices``: the ground-truth mesh of the evaluation sets (EHF), metres, camera frame.

Missing files raise :class:`~bhpe_tf.errors.MissingFileError` naming the dataset and the expected
path; malformed content :class:`~bhpe_tf.data.records.DataError` naming file and record.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from bhpe_tf.data.coco import _clean_box, load_coco
from bhpe_tf.data.h36m import smplx_from_neuralannot
from bhpe_tf.data.hand4whole.layout import MSCOCO_FILLS, MSCOCO_JOINTS, require
from bhpe_tf.data.records import Camera, DataError, RecordSet, SampleRecord, SkipCounter, SMPLXParams, read_json
from bhpe_tf.data.transforms import box_to_center_scale
from bhpe_tf.errors import MissingFileError

H36M_SPLITS = {"train": ((1, 5, 6, 7, 8), 5), "test": ((9, 11), 64)}  # subjects, every n-th frame
H36M_TEST_CAMERA = "4"  # Hand4Whole (after HMR and SPIN) tests on the frontal camera only
AGORA_RESOLUTION = (3840, 2160)  # the 4K frames the pre-cropped people come from
NO_FIT = "no NeuralAnnot SMPL-X entry"


def _coco_tables(path, *, dataset):
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(
            data.get("annotations"), list):
        raise DataError(f"{dataset}: expected a COCO-style object with 'images' and 'annotations' lists", path=path)
    images = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im:
            raise DataError("image entry without 'id'", path=path, record=f"images[{i}]")
        images[im["id"]] = im
    return images, data["annotations"]


def _image_of(images, ann, path, rec):
    im = images.get(ann.get("image_id"))
    if im is None:
        raise DataError(f"image_id {ann.get('image_id')!r} is not in the 'images' list", path=path, record=rec)
    return im


def _person_box(bbox, width, height, *, aspect_ratio):
    """Hand4Whole's ``process_bbox``: ``(box, center, scale)``, or None for an empty box."""
    clean = _clean_box(np.asarray(bbox, np.float64).reshape(4), width, height)
    if clean is None:
        return None
    center, scale = box_to_center_scale(clean, aspect_ratio=aspect_ratio, padding=1.25)
    return clean, center, scale


def _fit_camera(cam_param, *, path, rec):
    try:
        return Camera(f=cam_param["focal"], c=cam_param["princpt"])
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"NeuralAnnot cam_param needs 'focal' and 'princpt' ({err})", path=path, record=rec) from None


def _neuralannot_fit(entry, *, path, rec):
    """``{smplx_param, cam_param}`` (MSCOCO / MPII NeuralAnnot) -> ``(SMPLXParams, Camera)``."""
    if not isinstance(entry, dict) or "smplx_param" not in entry or "cam_param" not in entry:
        raise DataError("NeuralAnnot entry needs 'smplx_param' and 'cam_param'", path=path, record=rec)
    return (smplx_from_neuralannot(entry["smplx_param"], path=path, record=rec),
            _fit_camera(entry["cam_param"], path=path, rec=rec))


def _missing_fit(skips: SkipCounter, *, require_fit: bool, path, rec) -> bool:
    """An annotation without a NeuralAnnot fit: True (drop it, a counted skip) with ``require_fit``;
    otherwise it is kept with ``smplx=None``, i.e. 2D supervision only, as Hand4Whole's MSCOCO and
    MPII do (:func:`without_fit_note` reports how many)."""
    if require_fit:
        skips.skip(NO_FIT, path=path, record=rec)
    return bool(require_fit)


def without_fit_note(records, dataset: str):
    """One line about the people of ``records`` that train without an SMPL-X fit, or None."""
    records = list(records)
    kept = sum(r.smplx is None for r in records)
    if not kept:
        return None
    return (f"{dataset}: {kept} of {len(records)} people have no NeuralAnnot SMPL-X fit and train on their 2D "
            f"keypoints only (as Hand4Whole; --config.data.require_neuralannot=true skips them instead)")


# ----------------------------------------------------------------------------------------- Human3.6M
def load_human36m(root, *, split: str = "train", aspect_ratio: float = 0.75, subjects=None,
                  every: int | None = None) -> RecordSet:
    """Hand4Whole's ``Human36M``: train = subjects 1, 5, 6, 7, 8, every 5th frame; test = 9, 11, every
    64th frame, camera 4. Frames without a NeuralAnnot entry or 3D joints are counted skips."""
    if split not in H36M_SPLITS:
        raise DataError(f"Human36M split must be one of {', '.join(H36M_SPLITS)}, got {split!r}")
    default_subjects, default_every = H36M_SPLITS[split]
    subjects = tuple(subjects or default_subjects)
    every = int(every or default_every)
    base = require(Path(root) / "Human36M", dataset="Human36M", what="dataset folder")
    ann_dir = require(base / "annotations", dataset="Human36M", what="annotations folder")
    img_dir = base / "images"
    skips = SkipCounter(name=f"Human36M {split} frames")
    records = []
    for subject in subjects:
        files = {kind: require(ann_dir / f"Human36M_subject{subject}_{kind}.json", dataset="Human36M",
                               what=f"subject {subject} {kind} file")
                 for kind in ("data", "camera", "joint_3d", "SMPLX_NeuralAnnot")}
        images, anns = _coco_tables(files["data"], dataset="Human36M")
        cameras, joints, fits = (read_json(files[k]) for k in ("camera", "joint_3d", "SMPLX_NeuralAnnot"))
        for i, ann in enumerate(anns):
            rec = f"annotation id {ann.get('id', '?')} (#{i})"
            im = _image_of(images, ann, files["data"], rec)
            try:
                frame, cam_idx = int(im["frame_idx"]), str(im["cam_idx"])
                key = (str(im["action_idx"]), str(im["subaction_idx"]), str(frame))
            except (KeyError, TypeError, ValueError) as err:
                raise DataError(f"image entry needs action_idx, subaction_idx, frame_idx, cam_idx ({err})",
                                path=files["data"], record=rec) from None
            if frame % every or (split == "test" and cam_idx != H36M_TEST_CAMERA):
                continue  # Hand4Whole's frame sampling and test camera: not a skip
            fit = fits.get(key[0], {}).get(key[1], {}).get(key[2])
            if fit is None:
                skips.skip(NO_FIT, path=files["SMPLX_NeuralAnnot"], record=f"{'/'.join(key)} ({rec})")
                continue
            world = joints.get(key[0], {}).get(key[1], {}).get(key[2])
            if world is None:
                skips.skip("no 3D joints", path=files["joint_3d"], record=f"{'/'.join(key)} ({rec})")
                continue
            cam = cameras.get(cam_idx)
            if cam is None:
                raise DataError(f"no camera {cam_idx!r} for this frame", path=files["camera"], record=rec)
            try:
                rot = np.asarray(cam["R"], np.float64).reshape(3, 3)
                t_mm = np.asarray(cam["t"], np.float64).reshape(3)
                camera = Camera(R=rot, T=-rot.T @ (t_mm / 1000.0), f=cam["f"], c=cam["c"], width=im.get("width"),
                                height=im.get("height"), name=cam_idx)
                world = np.asarray(world, np.float64).reshape(17, 3)
            except (KeyError, TypeError, ValueError) as err:
                raise DataError(f"malformed camera or 3D joints ({err})", path=files["camera"], record=rec) from None
            joint_cam = (world @ rot.T + t_mm) / 1000.0  # Hand4Whole's world2cam, millimetres -> metres
            box = _person_box(ann.get("bbox", (0, 0, 0, 0)), im.get("width"), im.get("height"),
                              aspect_ratio=aspect_ratio)
            if not np.all(np.isfinite(joint_cam)) or box is None:
                skips.skip("zero-area box" if box is None else "NaN or inf coordinates", path=files["data"], record=rec)
                continue
            keypoints = np.c_[camera.project(joint_cam), np.ones(17)]
            records.append(SampleRecord(
                image_path=str(img_dir / im["file_name"]), image_id=im["id"], dataset="Human36M", keypoints=keypoints,
                center=box[1], scale=box[2], bbox=box[0], ann_id=ann.get("id"), image_size=(im.get("width"),
                                                                                           im.get("height")),
                joints_3d=joint_cam.astype(np.float32), joints_3d_valid=np.ones(17, np.float32), camera=camera,
                smplx=smplx_from_neuralannot(fit, path=files["SMPLX_NeuralAnnot"], record=rec),
                extras={"subject": subject, "key": key, "cam_idx": cam_idx}))
    return RecordSet(records=records, skips=skips, source=ann_dir)


# -------------------------------------------------------------------------------------------- MSCOCO
def merge_wholebody(keypoints133) -> np.ndarray:
    """COCO-WholeBody's 133 keypoints (body, feet, face, left hand, right hand) -> Hand4Whole's 134
    (:data:`.layout.MSCOCO_JOINTS`): pelvis = hip midpoint (valid if both hips are), face contour
    first, and an unlabelled hand wrist / nose landmark filled from the body annotation."""
    kp = np.asarray(keypoints133, np.float32)
    body, feet, face, lhand, rhand = kp[:17], kp[17:23], kp[23:91], kp[91:112], kp[112:133]
    pelvis = (body[11] + body[12]) * 0.5
    pelvis[2] = body[11, 2] * body[12, 2]
    merged = np.concatenate([body, pelvis[None], feet, lhand, rhand, face]).astype(np.float32)
    index = {n: i for i, n in enumerate(MSCOCO_JOINTS)}
    for body_name, part_name in MSCOCO_FILLS:
        if merged[index[part_name], 2] <= 0:
            merged[index[part_name]] = merged[index[body_name]]
    return merged


def load_mscoco(root, *, split: str = "train", aspect_ratio: float = 0.75, require_fit: bool = False) -> RecordSet:
    """Hand4Whole's ``MSCOCO``: COCO-WholeBody people (no crowds, at least one body keypoint in
    training) with part boxes, joints merged to its 134-joint set, and the NeuralAnnot fit."""
    if split not in ("train", "val"):
        raise DataError(f"MSCOCO split must be train or val, got {split!r}")
    base = require(Path(root) / "MSCOCO", dataset="MSCOCO", what="dataset folder")
    ann_file = require(base / "annotations" / f"coco_wholebody_{split}_v1.0.json", dataset="MSCOCO",
                       what=f"COCO-WholeBody {split} annotations")
    image_dir = base / "images" / f"{split}2017"
    fit_file = base / "annotations" / "MSCOCO_train_SMPLX_all_NeuralAnnot.json"
    fits = read_json(require(fit_file, dataset="MSCOCO", what="NeuralAnnot SMPL-X fits")) if split == "train" else {}
    people = load_coco(annotation_file=ann_file, image_dir=image_dir, layout="coco_wholebody",
                       aspect_ratio=aspect_ratio, padding=1.25)
    skips = people.skips
    skips.name = f"MSCOCO {split} people"
    records = []
    for rec in people:
        where = f"annotation id {rec.ann_id}"
        if split == "train" and rec.extras.get("num_keypoints", 0) == 0:
            skips.skip("no body keypoints", path=ann_file, record=where)
            continue
        smplx = camera = None
        entry = fits.get(str(rec.ann_id))
        if entry is not None:
            smplx, camera = _neuralannot_fit(entry, path=fit_file, rec=where)
        elif split == "train" and _missing_fit(skips, require_fit=require_fit, path=fit_file, rec=where):
            continue
        records.append(dataclasses.replace(rec, dataset="MSCOCO", keypoints=merge_wholebody(rec.keypoints),
                                           smplx=smplx, camera=camera))
    return RecordSet(records=records, skips=skips, source=ann_file)


# ---------------------------------------------------------------------------------------------- MPII
def load_mpii(root, *, aspect_ratio: float = 0.75, require_fit: bool = False) -> RecordSet:
    """Hand4Whole's ``MPII``: the COCO-style ``train.json`` (16 keypoints, boxes) with NeuralAnnot
    fits. Image paths are ``MPII/data/<file_name>`` (Hand4Whole), or ``MPII/data/images/<file_name>``
    when the json holds bare file names."""
    base = require(Path(root) / "MPII" / "data", dataset="MPII", what="dataset folder")
    ann_file = require(base / "annotations" / "train.json", dataset="MPII", what="train annotations")
    fit_file = require(base / "annotations" / "MPII_train_SMPLX_NeuralAnnot.json", dataset="MPII",
                       what="NeuralAnnot SMPL-X fits")
    images, anns = _coco_tables(ann_file, dataset="MPII")
    fits = read_json(fit_file)
    skips = SkipCounter(name="MPII train people")
    image_root = None
    records = []
    for i, ann in enumerate(anns):
        rec = f"annotation id {ann.get('id', '?')} (#{i})"
        im = _image_of(images, ann, ann_file, rec)
        if image_root is None:
            image_root = base if (base / im["file_name"]).exists() or not (base / "images").is_dir() else base / "images"
        kp = np.asarray(ann.get("keypoints", ()), np.float64).reshape(-1)
        if kp.size != 48:
            raise DataError(f"'keypoints' has {kp.size} values, expected 16 x 3", path=ann_file, record=rec)
        kp = kp.reshape(16, 3)
        box = _person_box(ann.get("bbox", (0, 0, 0, 0)), im.get("width"), im.get("height"), aspect_ratio=aspect_ratio)
        if box is None or not np.all(np.isfinite(kp)):
            skips.skip("zero-area box" if box is None else "NaN or inf coordinates", path=ann_file, record=rec)
            continue
        smplx = camera = None
        entry = fits.get(str(ann.get("id")))
        if entry is not None:
            smplx, camera = _neuralannot_fit(entry, path=fit_file, rec=rec)
        elif _missing_fit(skips, require_fit=require_fit, path=fit_file, rec=rec):
            continue
        records.append(SampleRecord(
            image_path=str(image_root / im["file_name"]), image_id=im["id"], dataset="MPII",
            keypoints=np.c_[kp[:, :2], kp[:, 2] > 0], center=box[1], scale=box[2], bbox=box[0], ann_id=ann.get("id"),
            image_size=(im.get("width"), im.get("height")), smplx=smplx, camera=camera))
    return RecordSet(records=records, skips=skips, source=ann_file)


# ----------------------------------------------------------------------------------------------- EHF
def _ehf_folder(root) -> Path:
    """``EHF/data`` (Hand4Whole), ``EHF`` (the original release) or ``root`` itself."""
    root = Path(root)
    for candidate in (root / "EHF" / "data", root / "EHF", root / "data", root):
        if (candidate / "EHF.json").is_file() or any(candidate.glob("*_align.ply")):
            return candidate
    raise MissingFileError(f"EHF: no EHF.json or NN_align.ply meshes under {root} (expected {root}/EHF/data/EHF.json "
                           f"with the frames, or the original EHF folder; see training/README.md)")


def load_ehf_benchmark(root, *, aspect_ratio: float = 0.75) -> RecordSet:
    """EHF's 100 frames with their ground-truth meshes (camera frame). With Hand4Whole's parsed
    ``EHF.json`` the person and part boxes are its ``body_bbox`` / ``*hand_bbox`` / ``face_bbox``;
    otherwise (the original release) :func:`bhpe_tf.data.ehf.load_ehf`'s box of the projected mesh."""
    from bhpe_tf.data.ehf import EHF_TRANSLATION, ehf_camera, load_ehf, read_ply_vertices

    folder = _ehf_folder(root)
    json_file = folder / "EHF.json"
    if not json_file.is_file():
        found = load_ehf(root=folder, expected_frames=None, aspect_ratio=aspect_ratio, padding=1.25)
        records = [dataclasses.replace(r, dataset="EHF") for r in found]
        return RecordSet(records=records, skips=found.skips, source=folder)
    camera = ehf_camera()
    images, anns = _coco_tables(json_file, dataset="EHF")
    skips = SkipCounter(name="EHF frames")
    records = []
    for i, ann in enumerate(anns):
        rec = f"annotation #{i}"
        im = _image_of(images, ann, json_file, rec)
        box = _person_box(ann.get("body_bbox", (0, 0, 0, 0)), im.get("width"), im.get("height"),
                          aspect_ratio=aspect_ratio)
        if box is None:
            skips.skip("zero-area box", path=json_file, record=rec)
            continue
        mesh_file = require(folder / (str(im["file_name"]).split("_")[0] + "_align.ply"), dataset="EHF",
                            what="ground-truth mesh")
        verts = read_ply_vertices(mesh_file) @ camera.R.T + EHF_TRANSLATION
        parts = {}
        for short, key in (("lhand", "lefthand_bbox"), ("rhand", "righthand_bbox"), ("face", "face_bbox")):
            part = np.asarray(ann.get(key, (0, 0, 0, 0)), np.float32).reshape(4)
            parts[f"{short}_box"], parts[f"{short}_valid"] = part, float(part[2] > 0 and part[3] > 0)
        records.append(SampleRecord(
            image_path=str(folder / im["file_name"]), image_id=str(im["file_name"]).split("_")[0], dataset="EHF",
            keypoints=np.zeros((0, 3)), center=box[1], scale=box[2], bbox=box[0], camera=camera,
            vertices=verts.astype(np.float32), image_size=(im.get("width"), im.get("height")), **parts))
    return RecordSet(records=records, skips=skips, source=json_file)


# --------------------------------------------------------------------------------------------- AGORA
_AGORA_PARTS = {"global_orient": "root_pose", "body_pose": "body_pose", "left_hand_pose": "lhand_pose",
                "right_hand_pose": "rhand_pose", "jaw_pose": "jaw_pose"}


def _agora_part_box(box, affine):
    """A 4K ``(x, y, w, h)`` box moved into the pre-cropped image, then sanitised against the 4K
    frame as Hand4Whole does (so only negative corners are clipped); None when empty."""
    pts = np.asarray(box, np.float64).reshape(2, 2).copy()
    pts[1] += pts[0]
    pts = pts @ affine[:, :2].T + affine[:, 2]
    pts[1] -= pts[0]
    return _clean_box(pts.reshape(4), *AGORA_RESOLUTION)


def load_agora_benchmark(root, *, split: str = "train", aspect_ratio: float = 0.75) -> RecordSet:
    """Hand4Whole's ``AGORA`` at 3840x2160 with the people pre-cropped by its
    ``tool/AGORA/crop_and_resize_4k_images.py``; ``split`` ``train`` or ``validation``. People with
    ``is_valid`` false or without a pre-cropped image are counted skips. Each person's camera is
    AGORA's, moved into the crop by the crop's affine (focal and principal point scaled and
    shifted); the ground-truth mesh (evaluation) is the SMPL-X fit itself."""
    if split not in ("train", "validation"):
        raise DataError(f"AGORA split must be train or validation, got {split!r}")
    base = require(Path(root) / "AGORA" / "data", dataset="AGORA", what="dataset folder")
    ann_file = require(base / f"AGORA_{split}_SMPLX.json", dataset="AGORA", what=f"{split} annotations")
    images, anns = _coco_tables(ann_file, dataset="AGORA")
    skips = SkipCounter(name=f"AGORA {split} people")
    records = []
    for i, ann in enumerate(anns):
        rec = f"annotation id {ann.get('id', '?')} (#{i})"
        if not ann.get("is_valid", True):
            skips.skip("is_valid is false", path=ann_file, record=rec)
            continue
        im = _image_of(images, ann, ann_file, rec)
        try:
            scene, name = str(im["file_name_3840x2160"]).split("/")[-2:]
            stem = f"{Path(name).stem}_person_id_{ann['person_id']}"
        except (KeyError, ValueError) as err:
            raise DataError(f"needs images[].file_name_3840x2160 '<scene>/<frame>.png' and person_id ({err})",
                            path=ann_file, record=rec) from None
        crop_dir = base / "images_3840x2160" / f"{scene}_crop"
        if not (crop_dir / f"{stem}.json").is_file():
            skips.skip("no pre-cropped image (Hand4Whole's tool/AGORA/crop_and_resize_4k_images.py)",
                       path=crop_dir / f"{stem}.json", record=rec)
            continue
        info = read_json(crop_dir / f"{stem}.json")
        try:
            affine = np.asarray(info["affine_mat"], np.float64).reshape(2, 3)
            width, height = int(info["resized_width"]), int(info["resized_height"])
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"crop info needs affine_mat, resized_width, resized_height ({err})",
                            path=crop_dir / f"{stem}.json", record=rec) from None
        params = read_json(require(base / ann["smplx_param_path"], dataset="AGORA", what="SMPL-X parameters"))
        cam = read_json(require(base / ann["cam_param_path"], dataset="AGORA", what="camera parameters"))
        try:
            smplx = SMPLXParams.from_parts(betas=params["betas"], expression=params["expression"],
                                           transl=params["transl"],
                                           **{ours: params[theirs] for theirs, ours in _AGORA_PARTS.items()})
            focal = np.asarray(cam["focal"], np.float64) * np.diag(affine[:, :2])
            princpt = np.asarray(cam["princpt"], np.float64) * np.diag(affine[:, :2]) + affine[:, 2]
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"malformed AGORA SMPL-X / camera parameters ({err})", path=base / ann["smplx_param_path"],
                            record=rec) from None
        # The whole crop is the person box (Hand4Whole: bbox = [0, 0, width, height], no padding).
        center, scale = box_to_center_scale((0, 0, width, height), aspect_ratio=aspect_ratio, padding=1.0)
        parts = {}
        for short in ("lhand", "rhand", "face"):
            part = _agora_part_box(ann.get(f"{short}_bbox", (0, 0, 0, 0)), affine)
            parts[f"{short}_box"], parts[f"{short}_valid"] = part, float(part is not None)
        records.append(SampleRecord(
            image_path=str(crop_dir / f"{stem}.png"), image_id=stem, dataset="AGORA", keypoints=np.zeros((0, 3)),
            center=center, scale=scale, bbox=np.array([0, 0, width, height], np.float32), ann_id=ann.get("id"),
            image_size=(width, height), camera=Camera(f=focal, c=princpt), smplx=smplx, **parts))
    return RecordSet(records=records, skips=skips, source=ann_file)


def load_train_set(name: str, root, *, aspect_ratio: float = 0.75, require_fit: bool = False) -> RecordSet:
    """The training split of one of :data:`.layout.TRAIN_SETS` by name."""
    from bhpe_tf.data.hand4whole.layout import TRAIN_SETS
    from bhpe_tf.errors import UnknownNameError

    if name == "Human36M":
        return load_human36m(root, split="train", aspect_ratio=aspect_ratio)
    if name == "MSCOCO":
        return load_mscoco(root, split="train", aspect_ratio=aspect_ratio, require_fit=require_fit)
    if name == "MPII":
        return load_mpii(root, aspect_ratio=aspect_ratio, require_fit=require_fit)
    if name == "AGORA":
        return load_agora_benchmark(root, split="train", aspect_ratio=aspect_ratio)
    raise UnknownNameError("training set", name, TRAIN_SETS)


def load_eval_set(name: str, root, *, aspect_ratio: float = 0.75) -> RecordSet:
    """The held-out split of one of :data:`.layout.EVAL_SETS` (EHF, AGORA validation, Human3.6M test)."""
    from bhpe_tf.data.hand4whole.layout import EVAL_SETS
    from bhpe_tf.errors import UnknownNameError

    if name == "EHF":
        return load_ehf_benchmark(root, aspect_ratio=aspect_ratio)
    if name == "AGORA":
        return load_agora_benchmark(root, split="validation", aspect_ratio=aspect_ratio)
    if name == "Human36M":
        return load_human36m(root, split="test", aspect_ratio=aspect_ratio)
    raise UnknownNameError("evaluation set", name, EVAL_SETS)


__all__ = ["load_human36m", "load_mscoco", "load_mpii", "load_ehf_benchmark", "load_agora_benchmark",
           "load_train_set", "load_eval_set", "merge_wholebody", "without_fit_note"]
