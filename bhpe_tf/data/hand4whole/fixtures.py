"""Small dataset trees in Hand4Whole's formats, built from the synthetic SMPL-X body.

No SMPL-X ground truth can be had without the licensed datasets, so tests (and a user's dry run of
a training command) use trees written here **in the official file formats** of
:mod:`bhpe_tf.data.hand4whole.layout`: random people (:func:`bhpe_tf.data.synthetic.random_person`)
rendered into images, their parameters written as NeuralAnnot / AGORA JSON, their cameras as
Hand4Whole's camera JSON, their 2D / 3D keypoints as the datasets' annotations, EHF meshes as
``.ply``. Every person is first made in its camera's frame (``SMPLXLayer`` with the translation
that puts it in view); the files then hold what each dataset stores: Human3.6M's fit and 3D joints
in a z-up **world** frame with the camera's ``R``, ``t`` (mm), MSCOCO / MPII fits with NeuralAnnot's
virtual camera, AGORA's in a 4K camera with the crop's affine. :func:`write_fixture_tree` returns
the camera-frame truth of every person, so tests compare what the readers and targets recover
against what was drawn.

The dataset joints of the synthetic people are SMPL-X joints by name (Human3.6M's head top, torso
and MPII's thorax / head top are the head / spine joints moved as described in
:data:`H36M_FROM_SMPLX`), so where two joint sets share a name the dataset annotation and the fit
agree, which the tests use.

    python -m bhpe_tf.data.hand4whole.fixtures OUT_DIR   # OUT_DIR/data (--data_dir), OUT_DIR/smplx_model
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from bhpe_tf.body.joint_sets import H4W_JOINTS, H4W_LHAND_JOINTS, H4W_RHAND_JOINTS
from bhpe_tf.fileio import atomic_write_text

# Dataset joints of the synthetic body: SMPL-X joint index, or (index, offset towards the head
# along the neck -> head direction in metres) for points SMPL-X has no joint for.
H36M_FROM_SMPLX = (0, 2, 5, 8, 1, 4, 7, 6, 12, (15, 0.0), (15, 0.12), 16, 18, 20, 17, 19, 21)
MPII_FROM_SMPLX = (8, 5, 2, 1, 4, 7, 0, 9, 12, (15, 0.12), 21, 19, 17, 16, 18, 20)
COCO_BODY_FROM_SMPLX = (55, 57, 56, 59, 58, 16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8)
COCO_FEET_FROM_SMPLX = (60, 61, 62, 63, 64, 65)
COCO_LHAND_FROM_SMPLX = (20,) + H4W_LHAND_JOINTS
COCO_RHAND_FROM_SMPLX = (21,) + H4W_RHAND_JOINTS
COCO_FACE_FROM_SMPLX = tuple(range(127, 144)) + tuple(range(76, 127))  # contour first, as COCO-WholeBody
H36M_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # world z-up -> camera y-down


def _dataset_joints(joints144, table):
    out = []
    for entry in table:
        if isinstance(entry, tuple):
            index, offset = entry
            up = joints144[15] - joints144[12]
            out.append(joints144[index] + offset * up / max(np.linalg.norm(up), 1e-9))
        else:
            out.append(joints144[entry])
    return np.stack(out)


def _rodrigues(vector_or_matrix):
    return cv2.Rodrigues(np.asarray(vector_or_matrix, np.float64).reshape(3, 3) if np.size(vector_or_matrix) == 9
                         else np.asarray(vector_or_matrix, np.float64).reshape(3, 1))[0]


def _box(points):
    """``[x, y, w, h]`` around 2D points (what an annotator's tight box is)."""
    lo, hi = points.min(0), points.max(0)
    return [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]


def _write_json(path, value):
    atomic_write_text(path, json.dumps(value))


def _write_image(path, rgb):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f"cannot write {path}")


class _People:
    """Random people in a camera's frame: parameters, joints, mesh, projection, render."""

    def __init__(self, smplx_model_path, *, seed):
        from bhpe_tf.data.hand4whole.targets import FitModel

        self.fits = FitModel(smplx_model_path)
        self.rng = np.random.default_rng(seed)

    def make(self, *, focal, princpt, image_size, body_only=False, fill=0.75, render=True):
        """A person placed in view of the camera ``focal`` / ``princpt`` of an ``image_size`` image,
        drawn into it unless ``render`` is False (:meth:`render` draws it into another view)."""
        import tensorflow as tf

        from bhpe_tf.data.synthetic import place_in_view, random_person

        # Moderate poses (turned up to +-23 degrees): a tiny network trained for a few dozen steps
        # on them measurably improves, which is what the tests check.
        pose, betas, expr = random_person(self.rng, pose_scale=0.25, turn=0.4)
        if body_only:  # Human3.6M / MPII NeuralAnnot fits have no hands or face
            pose[22:] = 0.0
            expr = np.zeros_like(expr)
        params = {"global_orient": pose[None, 0], "body_pose": pose[None, 1:22], "jaw_pose": pose[None, 22],
                  "left_hand_pose": pose[None, 25:40], "right_hand_pose": pose[None, 40:55], "betas": betas[None],
                  "expression": expr[None]}
        rest = self.fits.layer()({k: tf.constant(v, tf.float32) for k, v in params.items()})
        verts0, joints0 = np.asarray(rest["vertices"][0], np.float64), np.asarray(rest["joints"][0], np.float64)
        trans = place_in_view(verts0, focal=focal, image_size=image_size, fill=fill,
                              shift=self.rng.uniform(-0.05, 0.05, 2))
        focal, princpt = np.asarray(focal, np.float64), np.asarray(princpt, np.float64)
        person = {"pose": pose, "betas": betas, "expr": expr, "trans": trans, "rest_root": joints0[0],
                  "joints144": joints0 + trans, "joints": (joints0 + trans)[list(H4W_JOINTS)],
                  "vertices": verts0 + trans, "focal": focal, "princpt": princpt}
        person["project"] = lambda points: points[:, :2] / points[:, 2:3] * focal + princpt
        if render:
            person["image"] = self.render(person, focal=focal, princpt=princpt, image_size=image_size)
        return person

    def render(self, person, *, focal, princpt, image_size):
        from bhpe_tf.data.synthetic import render_person, textured_background

        w, h = image_size
        return render_person(textured_background(self.rng, h, w), person["vertices"], self.fits.faces, focal=focal,
                             princpt=princpt, color=tuple(float(c) for c in self.rng.uniform(80, 240, 3)))


def _kp(points_2d, size):
    w, h = size
    inside = (points_2d[:, 0] >= 0) & (points_2d[:, 0] < w) & (points_2d[:, 1] >= 0) & (points_2d[:, 1] < h)
    return np.c_[points_2d, np.where(inside, 2.0, 0.0)]


def _flat(kp):
    return [float(v) for v in np.asarray(kp, np.float64).reshape(-1)]


def _list(a):
    return np.asarray(a, np.float64).reshape(-1).tolist()


def _truth(person, **extra):
    return {"joints": person["joints"], "vertices": person["vertices"], "pose": person["pose"],
            "betas": person["betas"], "expr": person["expr"], "trans": person["trans"],
            "joints_2d": person["project"](person["joints"]), "vertices_2d": person["project"](person["vertices"]),
            **extra}


# ------------------------------------------------------------------------------------- Human3.6M
def _write_human36m(root, people, *, image_size, counts):
    """Hand4Whole's subjects, each with its four files: training frames 0, 5, 10, ... with fits,
    spread over subjects 1, 5, 6, 7, 8, plus in subject 1 a frame 3 (not a 5th frame) and a 5th
    frame without a fit (a counted skip); test frames 0, 64, ... on camera 4 over subjects 9 and
    11, plus one frame of camera 1 (Hand4Whole tests on camera 4 only)."""
    w, h = image_size
    ann_dir = Path(root) / "Human36M" / "annotations"
    truth = {"train": [], "test": []}
    plans = {s: [] for s in (1, 5, 6, 7, 8, 9, 11)}
    for k in range(counts["h36m_train"]):
        plans[(1, 5, 6, 7, 8)[k % 5]].append((5 * k, 4, True))
    plans[1] += [(3, 4, True), (5 * counts["h36m_train"], 4, False)]
    for k in range(counts["h36m_test"]):
        plans[(9, 11)[k % 2]].append((64 * k, 4, True))
    plans[9].append((0, 1, True))
    for subject, frames in plans.items():
        split = "train" if subject < 9 else "test"
        cameras, images, anns, joints3d, fits = {}, [], [], {}, {}
        for cam_idx in sorted({f[1] for f in frames} | {4}):
            yaw = np.deg2rad(20.0 * cam_idx)
            rot = H36M_WORLD @ _rodrigues([0.0, 0.0, yaw])
            cameras[str(cam_idx)] = {"R": rot.tolist(), "t": [120.0 * cam_idx, -80.0, 4500.0],
                                     "f": [1.15 * w, 1.15 * w], "c": [w / 2.0 + 3.0, h / 2.0 - 2.0]}
        for k, (frame, cam_idx, with_fit) in enumerate(frames):
            cam = cameras[str(cam_idx)]
            rot, t = np.asarray(cam["R"]), np.asarray(cam["t"]) / 1000.0
            person = people.make(focal=cam["f"], princpt=cam["c"], image_size=image_size, body_only=True)
            image_id = subject * 1000 + k
            name = f"s_{subject:02d}_act_02_subact_01_ca_{cam_idx:02d}/s_{subject:02d}_act_02_subact_01_ca_{cam_idx:02d}_{frame + 1:06d}.jpg"
            _write_image(Path(root) / "Human36M" / "images" / name, person["image"])
            images.append({"id": image_id, "file_name": name, "width": w, "height": h, "subject": subject,
                           "action_idx": 2, "subaction_idx": 1, "frame_idx": frame, "cam_idx": cam_idx})
            h36m = _dataset_joints(person["joints144"], H36M_FROM_SMPLX)
            anns.append({"id": image_id, "image_id": image_id, "bbox": _box(person["project"](person["vertices"])),
                         "keypoints": _flat(_kp(person["project"](h36m), image_size))})
            world = (h36m - t) @ rot  # X_world = R^T (X_cam - t), metres
            joints3d.setdefault("2", {}).setdefault("1", {})[str(frame)] = (world * 1000.0).tolist()
            # The world fit whose Hand4Whole camera transform is the camera-frame person:
            # root_w = R^T root_cam; trans_w = R^T (T_cam + J0 - t) - J0 (J0: the rest pelvis).
            root_world = _rodrigues(rot.T @ _rodrigues(person["pose"][0])).reshape(3)
            trans_world = rot.T @ (person["trans"] + person["rest_root"] - t) - person["rest_root"]
            if with_fit:
                fits.setdefault("2", {}).setdefault("1", {})[str(frame)] = {
                    "root_pose": _list(root_world), "body_pose": _list(person["pose"][1:22]),
                    "shape": _list(person["betas"]), "trans": _list(trans_world)}
            truth[split].append(_truth(person, image_id=image_id, frame=frame, cam_idx=cam_idx, with_fit=with_fit,
                                       h36m_cam=h36m, image=person["image"]))
        for kind, value in (("data", {"images": images, "annotations": anns}), ("camera", cameras),
                            ("joint_3d", joints3d), ("SMPLX_NeuralAnnot", fits)):
            _write_json(ann_dir / f"Human36M_subject{subject}_{kind}.json", value)
    return truth


def _write_h36m_regressor(root, smplx_model_path):
    """``Human36M/J_regressor_h36m_smplx.npy`` (17, V) of the synthetic body (the dataset joints
    above as rows of the model's joint regressor; the head top as the head joint)."""
    from bhpe_tf.body.model_file import load_smplx_model

    jr = load_smplx_model(smplx_model_path).J_regressor
    rows = [jr[e[0] if isinstance(e, tuple) else e] for e in H36M_FROM_SMPLX]
    np.save(Path(root) / "Human36M" / "J_regressor_h36m_smplx.npy", np.stack(rows))


# ---------------------------------------------------------------------------------------- MSCOCO
def _write_mscoco(root, people, *, image_size, counts):
    """One person per image: all with fits except the last one (kept, 2D only); the second one's
    left hand is marked ``lhand_valid: false``; plus a crowd and a no-keypoint annotation (skips)."""
    w, h = image_size
    base = Path(root) / "MSCOCO"
    images, anns, fits, truth = [], [], {}, []
    n = counts["coco"]
    for k in range(n + 2):
        focal, princpt = [1.4 * w, 1.4 * w], [w / 2.0 - 4.0, h / 2.0 + 1.0]
        person = people.make(focal=focal, princpt=princpt, image_size=image_size)
        image_id, ann_id = 100 + k, 5000 + k
        name = f"{image_id:012d}.jpg"
        _write_image(base / "images" / "train2017" / name, person["image"])
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        j = person["joints144"]
        parts = {key: _kp(person["project"](j[list(table)]), image_size) for key, table in (
            ("keypoints", COCO_BODY_FROM_SMPLX), ("foot_kpts", COCO_FEET_FROM_SMPLX),
            ("face_kpts", COCO_FACE_FROM_SMPLX), ("lefthand_kpts", COCO_LHAND_FROM_SMPLX),
            ("righthand_kpts", COCO_RHAND_FROM_SMPLX))}
        if k == n + 1:  # an annotation without body keypoints: Hand4Whole leaves it out
            parts["keypoints"][:, 2] = 0.0
        ann = {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": int(k == n),
               "bbox": _box(person["project"](person["vertices"])), "area": float(w * h) / 3,
               "num_keypoints": int(np.sum(parts["keypoints"][:, 2] > 0))}
        ann.update({key: _flat(v) for key, v in parts.items()})
        for short, key in (("lefthand", "lefthand_kpts"), ("righthand", "righthand_kpts"), ("face", "face_kpts")):
            ann[f"{short}_box"] = _box(parts[key][:, :2])
            ann[f"{short}_valid"] = True
        anns.append(ann)
        lhand_valid = k != 1
        if k < n - 1:
            fits[str(ann_id)] = {
                "smplx_param": {"root_pose": _list(person["pose"][0]), "body_pose": _list(person["pose"][1:22]),
                                "lhand_pose": _list(person["pose"][25:40]), "rhand_pose": _list(person["pose"][40:55]),
                                "jaw_pose": _list(person["pose"][22]), "shape": _list(person["betas"]),
                                "expr": _list(person["expr"]), "trans": _list(person["trans"]),
                                "lhand_valid": lhand_valid, "rhand_valid": True, "face_valid": True},
                "cam_param": {"focal": focal, "princpt": princpt}}
        truth.append(_truth(person, ann_id=ann_id, with_fit=k < n - 1, lhand_valid=lhand_valid,
                            kept=k < n, keypoints=parts))
    _write_json(base / "annotations" / "coco_wholebody_train_v1.0.json",
                {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]})
    _write_json(base / "annotations" / "MSCOCO_train_SMPLX_all_NeuralAnnot.json", fits)
    return truth


# ------------------------------------------------------------------------------------------ MPII
def _write_mpii(root, people, *, image_size, counts):
    w, h = image_size
    base = Path(root) / "MPII" / "data"
    images, anns, fits, truth = [], [], {}, []
    for k in range(counts["mpii"]):
        focal, princpt = [1.3 * w, 1.3 * w], [w / 2.0, h / 2.0]
        person = people.make(focal=focal, princpt=princpt, image_size=image_size, body_only=True)
        image_id, ann_id = 200 + k, 7000 + k
        name = f"{image_id:09d}.jpg"
        _write_image(base / "images" / name, person["image"])
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        kp = _kp(person["project"](_dataset_joints(person["joints144"], MPII_FROM_SMPLX)), image_size)
        kp[:, 2] = kp[:, 2] > 0
        anns.append({"id": ann_id, "image_id": image_id, "bbox": _box(person["project"](person["vertices"])),
                     "keypoints": _flat(kp)})
        fits[str(ann_id)] = {
            "smplx_param": {"root_pose": _list(person["pose"][0]), "body_pose": _list(person["pose"][1:22]),
                            "shape": _list(person["betas"]), "trans": _list(person["trans"])},
            "cam_param": {"focal": focal, "princpt": princpt}}
        truth.append(_truth(person, ann_id=ann_id, keypoints=kp))
    _write_json(base / "annotations" / "train.json", {"images": images, "annotations": anns})
    _write_json(base / "annotations" / "MPII_train_SMPLX_NeuralAnnot.json", fits)
    return truth


# ------------------------------------------------------------------------------------------- EHF
def _write_ehf(root, frames, faces):
    """Hand4Whole's parsed EHF (``EHF/data/EHF.json``, ``NN_img.png``, ``NN_align.ply`` in EHF's
    world frame) from already rendered people (their images and camera-frame meshes)."""
    from bhpe_tf.body.mesh_io import save_ply
    from bhpe_tf.data.ehf import EHF_TRANSLATION, ehf_camera

    folder = Path(root) / "EHF" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    rot = ehf_camera().R
    images, anns = [], []
    for k, frame in enumerate(frames):
        stem = f"{k + 1:02d}"
        _write_image(folder / f"{stem}_img.png", frame["image"])
        save_ply(folder / f"{stem}_align.ply", (frame["vertices"] - EHF_TRANSLATION) @ rot, faces)
        h, w = frame["image"].shape[:2]
        images.append({"id": k, "file_name": f"{stem}_img.png", "width": w, "height": h})
        j2d = frame["joints_2d"]
        anns.append({"id": k, "image_id": k, "body_bbox": _box(frame["vertices_2d"]),
                     "lefthand_bbox": _box(j2d[25:45]), "righthand_bbox": _box(j2d[45:65]),
                     "face_bbox": _box(j2d[65:137])})
    _write_json(folder / "EHF.json", {"images": images, "annotations": anns})


# ----------------------------------------------------------------------------------------- AGORA
def _write_agora(root, people, *, crop_size, counts):
    """Pre-cropped AGORA: per split, people of 4K frames cropped (aspect of ``crop_size``, x1.25) and
    resized as Hand4Whole's ``crop_and_resize_4k_images.py`` writes them; in training one person
    with ``is_valid: false`` and one without its crop (counted skips)."""
    base = Path(root) / "AGORA" / "data"
    cw, ch = crop_size
    focal4k, princpt4k = np.array([1600.0, 1600.0]), np.array([1920.0, 1080.0])
    truth = {}
    for split, n, extra in (("train", counts["agora_train"], 2), ("validation", counts["agora_val"], 0)):
        images, anns, truth[split] = [], [], []
        scene = f"{split}_0"
        for k in range(n + extra):
            # the 4K box of the person: a person placed so that it spans about a third of the height
            person = people.make(focal=focal4k, princpt=princpt4k, image_size=(3840, 2160), fill=0.35, render=False)
            box = np.asarray(_box(person["project"](person["vertices"])))
            cx, cy, bw, bh = box[0] + box[2] / 2, box[1] + box[3] / 2, box[2], box[3]
            if bw > cw / ch * bh:
                bh = bw * ch / cw
            else:
                bw = bh * cw / ch
            bw, bh = bw * 1.25, bh * 1.25
            scale = cw / bw
            affine = np.array([[scale, 0.0, cw / 2 - scale * cx], [0.0, scale, ch / 2 - scale * cy]])
            focal, princpt = focal4k * scale, princpt4k * scale + affine[:, 2]
            crop = people.render(person, focal=focal, princpt=princpt, image_size=crop_size)
            frame = f"ag_{split}set_{k:05d}.png"
            stem = f"ag_{split}set_{k:05d}_person_id_0"
            crop_dir = base / "images_3840x2160" / f"{scene}_crop"
            if not (split == "train" and k == n + 1):  # the last training person has no crop
                _write_image(crop_dir / f"{stem}.png", crop)
                _write_json(crop_dir / f"{stem}.json", {"affine_mat": affine.tolist(), "resized_height": ch,
                                                        "resized_width": cw})
            params = {"global_orient": _list(person["pose"][0]), "body_pose": _list(person["pose"][1:22]),
                      "left_hand_pose": _list(person["pose"][25:40]), "right_hand_pose": _list(person["pose"][40:55]),
                      "jaw_pose": _list(person["pose"][22]), "leye_pose": [0.0] * 3, "reye_pose": [0.0] * 3,
                      "betas": _list(person["betas"]), "expression": _list(person["expr"]),
                      "transl": _list(person["trans"])}
            param_path = f"smplx_params_cam/{scene}/{Path(frame).stem}_0.json"
            cam_path = f"cam_params/{scene}/{Path(frame).stem}.json"
            _write_json(base / param_path, params)
            _write_json(base / cam_path, {"focal": focal4k.tolist(), "princpt": princpt4k.tolist()})
            j2d = person["project"](person["joints"])
            images.append({"id": k, "file_name_3840x2160": f"3840x2160/{scene}/{frame}",
                           "file_name_1280x720": f"1280x720/{scene}/{frame}"})
            anns.append({"id": k, "image_id": k, "person_id": 0, "is_valid": not (split == "train" and k == n),
                         "smplx_param_path": param_path, "cam_param_path": cam_path, "bbox": box.tolist(),
                         "lhand_bbox": _box(j2d[25:45]), "rhand_bbox": _box(j2d[45:65]),
                         "face_bbox": _box(j2d[65:137])})
            if k < n:
                truth[split].append(_truth(person, image_id=k, affine=affine, crop_focal=focal, crop_princpt=princpt,
                                           image=crop))
        _write_json(base / f"AGORA_{split}_SMPLX.json", {"images": images, "annotations": anns})
    return truth


DEFAULT_COUNTS = {"h36m_train": 5, "h36m_test": 2, "coco": 5, "mpii": 4, "ehf": 3, "agora_train": 3, "agora_val": 2}


def write_smplx_dir(root, *, seed: int = 0) -> Path:
    """``root/smplx/SMPLX_NEUTRAL.npz`` (synthetic, official format) and the evaluation files
    (:func:`bhpe_tf.body.synthetic_model.write_synthetic_evaluation_files`) beside it: the
    ``human_model_files`` layout the evaluation CLI's ``--smplx_model`` takes. Returns ``root``."""
    from bhpe_tf.body.synthetic_model import write_synthetic_evaluation_files, write_synthetic_smplx

    model = Path(root) / "smplx" / "SMPLX_NEUTRAL.npz"
    if not model.is_file():
        write_synthetic_smplx(model, seed=seed)
    write_synthetic_evaluation_files(model.parent, model_path=model)
    return Path(root)


def write_fixture_tree(root, *, smplx_model_path, seed: int = 0, image_size=(128, 128), crop_size=(96, 128),
                       counts=None) -> dict:
    """Write Human36M, MSCOCO, MPII, EHF and AGORA fixtures under ``root`` (module docstring).

    ``image_size`` (w, h) of the Human3.6M / MSCOCO / MPII frames, ``crop_size`` of AGORA's
    pre-cropped people; ``counts`` overrides :data:`DEFAULT_COUNTS`. The EHF frames are the first
    Human3.6M training frames (image and mesh), so a model trained on the fixtures can be
    evaluated on frames it has seen. Returns the camera-frame truth per dataset and split."""
    counts = {**DEFAULT_COUNTS, **(counts or {})}
    root = Path(root)
    people = _People(smplx_model_path, seed=seed)
    truth = {"Human36M": _write_human36m(root, people, image_size=image_size, counts=counts)}
    _write_h36m_regressor(root, smplx_model_path)
    truth["MSCOCO"] = _write_mscoco(root, people, image_size=image_size, counts=counts)
    truth["MPII"] = _write_mpii(root, people, image_size=image_size, counts=counts)
    trained = [t for t in truth["Human36M"]["train"] if t["with_fit"] and t["frame"] % 5 == 0]
    ehf = trained[:counts["ehf"]]
    _write_ehf(root, ehf, people.fits.faces)
    truth["EHF"] = ehf
    truth["AGORA"] = _write_agora(root, people, crop_size=crop_size, counts=counts)
    truth["counts"] = counts
    return truth


def main(argv=None):
    import sys

    import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m bhpe_tf.data.hand4whole.fixtures OUT_DIR", file=sys.stderr)
        return 2
    out = Path(args[0])
    model_dir = write_smplx_dir(out / "smplx_model")
    write_fixture_tree(out / "data", smplx_model_path=model_dir / "smplx" / "SMPLX_NEUTRAL.npz")
    print(f"wrote {out / 'data'} (Human36M, MSCOCO, MPII, EHF, AGORA) and the synthetic SMPL-X model "
          f"{model_dir / 'smplx'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["write_fixture_tree", "write_smplx_dir", "DEFAULT_COUNTS", "H36M_FROM_SMPLX", "MPII_FROM_SMPLX"]
