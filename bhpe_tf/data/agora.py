"""AGORA reader for a pickle-free, dataframe-free JSON layout.

AGORA ships pandas dataframes pickled with per-person SMPL-X ``.pkl`` files; unpickling files from
the internet executes code, and pandas is not a dependency. Convert them once (with the official
tools) into this JSON, which is what :func:`load_agora` accepts::

    {"images": [{"file_name": "ag_trainset_..._00000.png", "width": 3840, "height": 2160,
                 "people": [{"bbox": [x, y, w, h],                    # required, pixels
                             "keypoints_2d": [[x, y], ...],           # optional (K, 2) or (K, 3)
                             "gender": "neutral" | "male" | "female", # optional
                             "kid": false,                            # optional
                             "smplx": {"global_orient": [3], "body_pose": [63],
                                       "left_hand_pose": [45], "right_hand_pose": [45],
                                       "jaw_pose": [3], "leye_pose": [3], "reye_pose": [3],
                                       "betas": [10 or 11], "expression": [10], "transl": [3]},
                             "camera": {"focal": [fx, fy], "princpt": [cx, cy]}}]}]}   # optional

Missing SMPL-X parts get validity 0. Kid models (11 betas) keep only the first 10 betas here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bhpe_tf.data.records import Camera, DataError, RecordSet, SampleRecord, SkipCounter, SMPLXParams, read_json
from bhpe_tf.data.transforms import box_to_center_scale

_PART_KEYS = {"global_orient": "root_pose", "body_pose": "body_pose", "jaw_pose": "jaw_pose",
              "leye_pose": "leye_pose", "reye_pose": "reye_pose", "left_hand_pose": "lhand_pose",
              "right_hand_pose": "rhand_pose"}


def load_agora(*, annotation_file, image_dir=None, aspect_ratio: float = 0.75, padding: float = 1.25) -> RecordSet:
    """Read the JSON layout of this module's docstring into records with ``record.smplx`` set."""
    path = Path(annotation_file)
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError("expected an object with an 'images' list", path=path)
    image_dir = path.parent if image_dir is None else Path(image_dir)
    skips = SkipCounter(name="AGORA people")
    records = []
    for i, im in enumerate(data["images"]):
        if "file_name" not in im:
            raise DataError("missing key 'file_name'", path=path, record=f"images[{i}]")
        for j, person in enumerate(im.get("people", [])):
            rec = f"images[{i}].people[{j}] ({im['file_name']})"
            if "bbox" not in person or "smplx" not in person:
                raise DataError("person needs 'bbox' and 'smplx'", path=path, record=rec)
            bbox = np.asarray(person["bbox"], np.float64).reshape(-1)
            if bbox.size != 4:
                raise DataError("'bbox' must have 4 values", path=path, record=rec)
            s = person["smplx"]
            parts = {ours: s[theirs] for theirs, ours in _PART_KEYS.items() if theirs in s}
            try:
                smplx = SMPLXParams.from_parts(betas=s.get("betas"), expression=s.get("expression"),
                                               transl=s.get("transl"), gender=person.get("gender", "neutral"),
                                               **parts)
            except ValueError as e:
                raise DataError(str(e), path=path, record=rec) from None
            kp = np.asarray(person.get("keypoints_2d", np.zeros((0, 3))), np.float64)
            if kp.size and kp.shape[-1] == 2:
                kp = np.c_[kp, np.ones(len(kp))]
            kp = kp.reshape(-1, 3)
            if not (np.all(np.isfinite(bbox)) and np.all(np.isfinite(kp)) and np.all(np.isfinite(smplx.pose))):
                skips.skip("NaN or inf values", path=path, record=rec)
                continue
            if bbox[2] <= 0 or bbox[3] <= 0:
                skips.skip("zero-area box", path=path, record=rec)
                continue
            cam = person.get("camera")
            camera = None if cam is None else Camera(f=cam["focal"], c=cam["princpt"])
            center, scale = box_to_center_scale(bbox, aspect_ratio=aspect_ratio, padding=padding)
            records.append(SampleRecord(
                image_path=str(image_dir / im["file_name"]), image_id=im["file_name"], dataset="agora",
                keypoints=kp, center=center, scale=scale, bbox=bbox, camera=camera, smplx=smplx,
                image_size=(im.get("width"), im.get("height")), extras={"kid": bool(person.get("kid", False))}))
    return RecordSet(records=records, skips=skips, source=path)
