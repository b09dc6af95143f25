"""Per-model task definitions for the trainer: models, data, loss, validation metric, overlays.

* :class:`HeatmapTask` (HRNet-W32, BiHRNet): Gaussian heatmaps; loss JointsMSE (teacher), AWing
  (student without a teacher) or AWing + lambda * KL(teacher || student) (BiHRNet distillation);
  validation PCK@0.2 x box size on heatmaps decoded as inference decodes them: the task's
  :class:`~bhpe_tf.data.codecs.HeatmapCodec` (higher is better).
* :class:`MeshTask` (Hand4Whole, BinaryHPE): the network (no SMPL-X inside, so the checkpoint is
  the LCE-convertible model) followed by :class:`~bhpe_tf.models.hand4whole.SMPLXStage` for the
  loss; Hand4Whole's losses (:func:`bhpe_tf.losses.hand4whole.hand4whole_losses`) plus optional
  output distillation (L1 to a frozen FP teacher's outputs); data: the synthetic renders, or with
  ``--data_dir`` Hand4Whole's datasets (:mod:`bhpe_tf.data.hand4whole`: the 3D / 2D length-equalised
  mix of ``data.train_sets``, validation on ``data.val_set``); validation MPVPE (mm, pelvis-aligned,
  Hand4Whole's "All" column, lower is better), with PA-MPVPE and the body MPJPE beside it.

Distillation stages (``config["stage"]``): ``fp``; ``binary_activations`` (the method with binary
activations and real weights: ``method_with(name, weight_quantizer=<none>)``); ``binary`` (the
method as is). Each task's ``losses(model, teacher, batch, training)`` returns per-example (N,)
tensors (``total`` among them) so the trainer averages them over the *global* batch.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from bhpe_tf.binary.methods import get_method, method_with
from bhpe_tf.data import synthetic as syn
from bhpe_tf.data.codecs import HeatmapCodec
from bhpe_tf.errors import MissingFileError, UserError
from bhpe_tf.models.registry import KEYPOINTS_2D, SMPLX_MESH, get_model
from bhpe_tf.training import config as cfg_lib


def _no_weight_quantizer(**_):
    return None


def stage_method(name, stage: str):
    """The binarization preset of a training stage (module docstring)."""
    method = get_method(name)
    if stage == "binary_activations" and method.binary:
        return method_with(method, weight_quantizer=_no_weight_quantizer)
    return method


def _size_wh(config):
    w, h = (int(v) for v in config["data"]["input_wh"])
    return w, h


# ------------------------------------------------------------------------------------ real data
class RecordStream:
    """Index-based training stream over reader records: epoch ``e`` visits ``permutation(seed, e)``;
    sample ``p`` of the run is ``(epoch p // n, slot p % n)``, so resuming at a sample counter
    continues the exact order (the trainer stores the counter in the checkpoint).

    A record that cannot be used is **not replaced**: its element is a blank with ``skip_code`` > 0
    (:mod:`bhpe_tf.training.skips`, by reason) that the trainer drops from the batch and counts;
    every element carries its ``record_index`` so the skip names the file."""

    def __init__(self, records, *, pipeline_config, seed: int):
        from bhpe_tf.data.pipeline import process_record

        self.records, self.cfg, self.seed = list(records), pipeline_config, int(seed)
        self._process = process_record
        if not self.records:
            raise UserError("the dataset has no usable records")
        probe = process_record(self.records[0], config=dataclasses.replace(pipeline_config, augment=None),
                               image=np.zeros((8, 8, 3), np.uint8))
        self.spec = {k: (np.asarray(v).shape, np.asarray(v).dtype) for k, v in probe.items()}
        self.spec["box_size"] = ((), np.float32)
        self.spec["skip_code"] = ((), np.int32)
        self.spec["record_index"] = ((), np.int64)
        self._blank = {k: np.zeros(shape, dtype) for k, (shape, dtype) in self.spec.items()}

    def __len__(self):
        return len(self.records)

    def describe(self, index) -> str:
        """The file (and record) a record index stands for, as skip messages name it."""
        record = self.records[int(index)]
        return f"{record.image_path} (record {record.image_id})" if record.ann_id is None else \
            f"{record.image_path} (annotation {record.ann_id})"

    def _order(self, epoch):
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.records))

    def element(self, position, augment=True):
        import cv2

        from bhpe_tf.data.records import DataError
        from bhpe_tf.images import ImageReadError
        from bhpe_tf.training.skips import skip_code

        n = len(self.records)
        epoch, slot = divmod(int(position), n)
        index = int(self._order(epoch)[slot]) if augment else int(position) % n
        rng = np.random.default_rng([self.seed, epoch, index])
        cfg = self.cfg if augment else dataclasses.replace(self.cfg, augment=None)
        try:
            out = self._process(self.records[index], config=cfg, rng=rng)
            code = 0
        except ImageReadError as err:
            out, code = dict(self._blank), skip_code(err.reason)
        except (DataError, OSError, cv2.error):
            out, code = dict(self._blank), skip_code("bad sample")
        if code == 0:
            kp = out["keypoints"]
            vis = kp[kp[:, 2] > 0, :2]
            out["box_size"] = np.float32(max(np.ptp(vis[:, 0]), np.ptp(vis[:, 1]), 1.0) if len(vis) else 1.0)
        out["skip_code"] = np.int32(code)
        out["record_index"] = np.int64(index)
        return out

    def batch(self, start, size, augment=True):
        return self._stack([self.element(start + i, augment) for i in range(size)])

    def batch_of(self, positions, augment=False):
        return self._stack([self.element(p, augment) for p in positions])

    def _stack(self, items):
        return {k: np.stack([np.asarray(it[k], self.spec[k][1]) for it in items]) for k in self.spec}

    def element_spec(self):
        return dict(self.spec)


class _Eval:
    """The fixed validation set of a run: the first ``samples`` records (all, when there are fewer)
    minus the unusable ones, fixed once by :meth:`fix` (which reports the skipped ones) and the
    same every epoch; ``batch(start, size)`` without augmentation."""

    def __init__(self, stream):
        self.stream = stream
        self.positions = None

    def describe(self, index) -> str:
        return self.stream.describe(index)

    def fix(self, samples: int):
        """Scan the first ``samples`` records once: ``(usable count, skip codes, record indices)``."""
        declared = min(int(samples), len(self.stream))
        codes = np.zeros(declared, np.int32)
        for p in range(declared):
            codes[p] = self.stream.element(p, augment=False)["skip_code"]
        self.positions = [p for p in range(declared) if codes[p] == 0]
        return len(self.positions), codes, np.arange(declared)

    def batch(self, start, size):
        if self.positions is None:
            return self.stream.batch(start, size, augment=False)
        return self.stream.batch_of(self.positions[start:start + size], augment=False)

    def element_spec(self):
        return self.stream.element_spec()


def _require(path: Path, what: str):
    if not path.exists():
        raise MissingFileError(f"{what} not found: {path} (see training/README.md for the dataset layout)")
    return path


# ------------------------------------------------------------------------------------- the tasks
class Task:
    higher_is_better = True
    metric_name = "metric"
    reader_skips: dict = {}  # {split: {reason: count}} of the dataset readers (real data)

    def __init__(self, config: dict, *, data_dir=None, workdir=None):
        self.config, self.workdir = config, Path(workdir) if workdir else None
        self.data_dir = Path(data_dir) if data_dir else None
        if self.data_dir is not None and not self.data_dir.is_dir():
            raise MissingFileError(f"--data_dir {self.data_dir} does not exist or is not a directory")
        self.method = stage_method(config["model"]["method"], config.get("stage", "fp"))
        self.seed = int(config["train"].get("seed", 0))

    # model construction
    def _model_kwargs(self):
        return dict(self.config["model"].get("kwargs") or {})

    def build_model(self):
        from bhpe_tf.models import build_model

        kwargs = self._model_kwargs()
        return build_model(self.config["model"]["name"], method=self.method, **kwargs)

    def build_teacher(self):
        teacher = self.config.get("teacher")
        if not teacher:
            return None
        from bhpe_tf.models import build_model

        kwargs = dict(teacher.get("kwargs") or {})
        kwargs.update(self._teacher_defaults())
        if teacher.get("checkpoint"):
            from bhpe_tf import checkpoints

            # an imported teacher records its builder options (padding="torch", width, joints)
            kwargs = checkpoints.build_kwargs(teacher["checkpoint"], kwargs)
        model = build_model(teacher["model"], method=teacher.get("method", "fp"), **kwargs)
        model.trainable = False
        return model

    def _teacher_defaults(self):
        return {}


class HeatmapTask(Task):
    metric_name = "pck@0.2"

    def __init__(self, config, **kw):
        super().__init__(config, **kw)
        data = config["data"]
        self.layout = data.get("layout", "coco")
        self.num_joints = int(self._model_kwargs().get("num_joints", 17 if self.layout == "coco" else 16))
        self.input_wh = _size_wh(config)
        # one codec makes the targets and decodes validation, with the same decoding as inference
        self.codec = HeatmapCodec.from_data_config(data)
        self.normalize = data.get("normalize", "imagenet")

    def _model_kwargs(self):
        kwargs = super()._model_kwargs()
        w, h = _size_wh(self.config)
        kwargs.setdefault("input_shape", (h, w, 3))
        kwargs.setdefault("num_joints", 17 if self.config["data"].get("layout", "coco") == "coco" else 16)
        return kwargs

    def _teacher_defaults(self):
        w, h = self.input_wh
        return {"input_shape": (h, w, 3), "num_joints": self.num_joints}

    # data
    def sources(self):
        """``(train source, val source, train length or None)``; sources have ``batch(start, size)``."""
        data = self.config["data"]
        if self.data_dir is None:
            kw = dict(input_wh=self.input_wh, codec=self.codec, layout=self.layout, seed=int(data.get("seed", 0)),
                      normalize=self.normalize)
            return syn.SyntheticPose2D(split="train", **kw), syn.SyntheticPose2D(split="val", **kw), None
        from bhpe_tf.data import AugmentConfig
        from bhpe_tf.data.pipeline import PipelineConfig

        records_train, records_val = self._read_records()
        base = PipelineConfig(input_wh=self.input_wh, codec=self.codec, normalize=self.normalize, batch_size=None,
                              aspect_ratio=self.input_wh[0] / self.input_wh[1])
        train = RecordStream(records_train, pipeline_config=dataclasses.replace(
            base, augment=AugmentConfig(**(data.get("augment") or {}))), seed=self.seed)
        val = _Eval(RecordStream(records_val, pipeline_config=base, seed=self.seed))
        return train, val, len(train)

    def _read_records(self):
        root = self.data_dir
        if self.layout == "coco":
            from bhpe_tf.data import load_coco

            ann = root / "annotations"
            train = load_coco(annotation_file=_require(ann / "person_keypoints_train2017.json", "COCO train annotations"),
                              image_dir=_require(root / "train2017", "COCO train images"), min_keypoints=1)
            val = load_coco(annotation_file=_require(ann / "person_keypoints_val2017.json", "COCO val annotations"),
                            image_dir=_require(root / "val2017", "COCO val images"), min_keypoints=1)
        elif self.layout == "mpii":
            from bhpe_tf.data import load_mpii_json

            images = _require(root / "images", "MPII images")
            train = load_mpii_json(annotation_file=_require(root / "annot" / "train.json", "MPII train json"),
                                   image_dir=images)
            val = load_mpii_json(annotation_file=_require(root / "annot" / "valid.json", "MPII valid json"),
                                 image_dir=images)
        else:
            raise UserError(f"no reader for heatmap layout {self.layout!r} (coco, mpii)")
        # what the readers left out (crowd, NaN / far-off coordinates, ...) goes into summary.json
        self.reader_skips = {split: dict(getattr(getattr(rs, "skips", None), "counts", {}) or {})
                             for split, rs in (("train", train), ("val", val))}
        return list(getattr(train, "records", train)), list(getattr(val, "records", val))

    # loss
    def make_loss(self, teacher):
        from bhpe_tf.losses import heatmap as L

        name = self.config.get("loss", {}).get("name", "mse")
        task = {"mse": L.JointsMSELoss, "awing": L.AdaptiveWingLoss, "awing_kl": L.AdaptiveWingLoss}
        if name not in task:
            raise UserError(f"loss.name for heatmaps must be one of {', '.join(task)}, got {name!r}")
        if name == "awing_kl" and teacher is not None:
            cfg = self.config["loss"]
            return L.DistillationLoss(task=L.AdaptiveWingLoss(), kl_weight=float(cfg.get("kl_weight", 1.0)),
                                      beta=float(cfg.get("kl_beta", 10.0)))
        return task[name]()

    def losses(self, model, teacher, loss, batch, *, training):
        prediction = model(batch["image"], training=training)
        teacher_out = teacher(batch["image"], training=False) if (teacher is not None and loss.needs_teacher) else None
        return loss.components(batch["heatmaps"], prediction, teacher=teacher_out,
                               target_weight=batch["target_weight"])

    # validation
    def predict_keypoints(self, heatmaps):
        """Crop-pixel keypoints ``(N, K, 2)`` and scores ``(N, K)`` of a batch of heatmaps."""
        return self.codec.decode_to_input(np.asarray(heatmaps))

    def evaluate(self, predict, val_source, *, samples: int, batch_size: int):
        """PCK@0.2 x box size over the visible joints of ``samples`` held-out samples; also returns
        a few overlay images."""
        hits = total = 0
        overlays = None
        for start in range(0, samples, batch_size):
            batch = val_source.batch(start, min(batch_size, samples - start))
            pred, _ = self.predict_keypoints(predict(batch["image"]))
            gt = batch["keypoints"]
            vis = gt[..., 2] > 0
            dist = np.linalg.norm(pred - gt[..., :2], axis=-1)
            hits += int(np.sum((dist <= 0.2 * batch["box_size"][:, None]) & vis))
            total += int(np.sum(vis))
            if overlays is None:
                overlays = self.overlays(batch, pred)
        # no visible joint at all: the metric is undefined (NaN), never a "best" 0.0
        return {self.metric_name: hits / total if total else float("nan")}, overlays

    def overlays(self, batch, pred, count=4):
        import cv2

        from bhpe_tf.data.meta import get_meta

        skeleton = syn.COCO_SKELETON if self.layout == "coco" else get_meta("mpii").skeleton
        images = []
        for i in range(min(count, len(pred))):
            img = np.ascontiguousarray(syn.denormalize_image(batch["image"][i], self.normalize))
            scale = max(1, 192 // img.shape[0])
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
            for a, b in skeleton:
                if a < len(pred[i]) and b < len(pred[i]):
                    pa, pb = pred[i][a] * scale, pred[i][b] * scale
                    cv2.line(img, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), (255, 255, 0), 1, cv2.LINE_AA)
            for x, y, v in batch["keypoints"][i]:
                if v > 0:
                    cv2.circle(img, (int(x * scale), int(y * scale)), 2, (0, 255, 0), -1)
            for x, y in pred[i]:
                cv2.circle(img, (int(x * scale), int(y * scale)), 2, (255, 0, 0), -1)
            images.append(img)
        return np.stack(images)


def check_requirements(config: dict, *, data_dir=None) -> None:
    """What a run needs before any work starts (one :class:`UserError` line): a mesh model on real
    data needs the user's SMPL-X model (``data.smplx_model``)."""
    if cfg_lib.task_of(config) == SMPLX_MESH and data_dir is not None and not config["data"].get("smplx_model"):
        raise UserError("training a mesh model on real data needs the SMPL-X model: --config.data.smplx_model=PATH "
                        "(your SMPLX_NEUTRAL.npz or the folder holding smplx/SMPLX_NEUTRAL.npz)")


class MeshTask(Task):
    metric_name = "mpvpe_mm"
    higher_is_better = False
    DISTILL_KEYS = ("root_pose_6d", "body_pose_6d", "lhand_pose_6d", "rhand_pose_6d", "jaw_pose_6d", "betas",
                    "expression", "joint_img")

    def __init__(self, config, **kw):
        super().__init__(config, **kw)
        self.input_wh = _size_wh(config)
        self.normalize = config["data"].get("normalize", "unit")
        self._stage = None
        self._geometry = None
        self._pelvis = None
        self.data_report = []

    def _model_kwargs(self):
        kwargs = super()._model_kwargs()
        w, h = _size_wh(self.config)
        kwargs.setdefault("input_shape", (h, w, 3))
        kwargs["include_smplx"] = False  # the trained / exported model is the convertible network
        kwargs.pop("smplx_model_path", None)
        return kwargs

    def build_model(self):
        model = super().build_model()
        self._geometry = model.geometry  # the SMPL-X stage of evaluate() needs it
        return model

    def _teacher_defaults(self):
        kwargs = self._model_kwargs()
        return {k: kwargs[k] for k in ("input_shape", "hand_shape", "face_shape", "include_smplx") if k in kwargs}

    def smplx_model_path(self):
        path = self.config["data"].get("smplx_model")
        if path:
            if not os.path.exists(path):
                raise MissingFileError(f"data.smplx_model {path} not found (your SMPLX_NEUTRAL.npz or its folder)")
            return path
        check_requirements(self.config, data_dir=self.data_dir)
        cache = (self.workdir or Path(".")) / "synthetic_smplx"
        return syn.synthetic_smplx_path(cache, seed=int(self.config["data"].get("seed", 0)))

    def smplx_stage(self, geometry):
        if self._stage is None:
            from bhpe_tf.models.hand4whole import SMPLXStage

            detach = bool(self.config.get("loss", {}).get("detach_projection", False))
            self._stage = SMPLXStage(smplx_model_path=self.smplx_model_path(), geometry=geometry,
                                     detach_projection=detach, name="smplx_stage")
        return self._stage

    def sources(self):
        """Training / validation sources: Hand4Whole's datasets under ``--data_dir``
        (:func:`bhpe_tf.data.hand4whole.sources.build_sources`), else the synthetic renders; both
        go through the same target code, with ``data.augment`` on the training side."""
        from bhpe_tf.data.transforms import AugmentConfig

        data = self.config["data"]
        if self.data_dir is not None:
            from bhpe_tf.data.hand4whole.sources import build_sources

            train, val, self.data_report = build_sources(data, root=self.data_dir,
                                                         smplx_model_path=self.smplx_model_path(),
                                                         input_wh=self.input_wh, seed=self.seed)
            return train, val, len(train)
        kw = dict(smplx_model_path=self.smplx_model_path(), input_wh=self.input_wh,
                  seed=int(data.get("seed", 0)), normalize=self.normalize)
        augment = AugmentConfig(**(data.get("augment") or {}))
        return (syn.SyntheticMesh(split="train", augment=augment, **kw),
                syn.SyntheticMesh(split="val", with_mesh=True, **kw), None)

    def make_loss(self, teacher):
        return {"distill_weight": float(self.config.get("loss", {}).get("distill_weight", 0.0)),
                "needs_teacher": teacher is not None}

    def _full_outputs(self, model, images, training):
        from bhpe_tf.models.hand4whole import SMPLX_STAGE_INPUTS

        out = dict(model(images, training=training))
        out.update(self.smplx_stage(model.geometry)({k: out[k] for k in SMPLX_STAGE_INPUTS}))
        return out

    def losses(self, model, teacher, loss, batch, *, training):
        from bhpe_tf.losses.hand4whole import hand4whole_losses

        out = self._full_outputs(model, batch["image"], training)
        parts = hand4whole_losses(out, batch, geometry=model.geometry)
        if teacher is not None and loss["distill_weight"] > 0:
            t_out = teacher(batch["image"], training=False)
            distill = tf.add_n([tf.reduce_mean(tf.abs(tf.cast(out[k], tf.float32) - tf.stop_gradient(t_out[k])))
                                for k in self.DISTILL_KEYS])
            parts["distill"] = distill
            parts["total"] = parts["total"] + loss["distill_weight"] * distill
        # scalar batch means -> per-example broadcasts, so the trainer's global-batch averaging is exact
        n = tf.shape(batch["image"])[0]
        return {k: tf.fill([n], tf.cast(v, tf.float32)) for k, v in parts.items()}

    def pelvis_regressor(self):
        """Row 0 (pelvis) of the SMPL-X model's joint regressor (Hand4Whole's MPVPE alignment)."""
        if self._pelvis is None:
            from bhpe_tf.body.model_file import load_smplx_model

            self._pelvis = load_smplx_model(self.smplx_model_path()).J_regressor[0]
        return self._pelvis

    def evaluate(self, predict, val_source, *, samples: int, batch_size: int):
        """MPVPE (pelvis-aligned, the "All" column of Hand4Whole's EHF protocol) and PA-MPVPE of the
        predicted meshes against ``mesh_gt``, plus the root-relative MPJPE of the 25 body joints
        where the held-out samples have 3D joints; a few overlays."""
        from bhpe_tf.metrics.pose3d import pa_mpvpe, pelvis_aligned_mpvpe
        from bhpe_tf.models.hand4whole import SMPLX_STAGE_INPUTS

        if hasattr(val_source, "__len__"):
            samples = min(int(samples), len(val_source))
        mpvpe, pa, body = [], [], []
        overlays = None
        for start in range(0, samples, batch_size):
            batch = val_source.batch(start, min(batch_size, samples - start))
            out = predict(batch["image"])
            if "vertices" not in out:
                # The trained model is the convertible network; SMPL-X runs after it, as in losses().
                stage = self.smplx_stage(self._geometry)
                out = {**out, **{k: np.asarray(v) for k, v in
                                 stage({k: tf.constant(out[k]) for k in SMPLX_STAGE_INPUTS}).items()}}
            valid = batch["mesh_gt_valid"][:, 0] > 0 if "mesh_gt" in batch else np.zeros(len(batch["image"]), bool)
            if valid.any():
                pred_v, gt_v = np.asarray(out["vertices"])[valid], batch["mesh_gt"][valid]
                mpvpe.append(pelvis_aligned_mpvpe(pred_v, gt_v, pelvis_regressor=self.pelvis_regressor()))
                pa.append(pa_mpvpe(pred_v, gt_v)["all"] * np.ones(len(pred_v)))
            is_3d = batch["is_3d"][:, 0] > 0
            if is_3d.any():
                pred, gt = np.asarray(out["joint_cam"])[is_3d, :25], batch["joint_cam"][is_3d, :25]
                body.append(np.linalg.norm((pred - pred[:, :1]) - (gt - gt[:, :1]), axis=-1).mean(-1))
            if overlays is None:
                overlays = self.overlays(batch, np.asarray(out["joint_proj"]))
        if not mpvpe:
            raise UserError("the validation samples have no ground-truth mesh to compute MPVPE on")
        metrics = {self.metric_name: float(np.concatenate(mpvpe).mean()),
                   "pa_mpvpe_mm": float(np.concatenate(pa).mean())}
        if body:
            metrics["mpjpe_body_mm"] = float(np.concatenate(body).mean() * 1000.0)
        return metrics, overlays

    def overlays(self, batch, joint_proj, count=4):
        import cv2

        w, h = self.input_wh
        gw, gh = w // 64, h // 64
        images = []
        for i in range(min(count, len(joint_proj))):
            img = np.ascontiguousarray(syn.denormalize_image(batch["image"][i], self.normalize))
            for (x, y), color in ((p, (255, 0, 0)) for p in joint_proj[i][:25] / [gw, gh] * [w, h]):
                if np.isfinite(x) and np.isfinite(y) and -w <= x <= 2 * w and -h <= y <= 2 * h:
                    cv2.circle(img, (int(x), int(y)), 2, color, -1)
            shown = batch["joint_trunc"][i][:25, 0] > 0
            for x, y in batch["joint_img"][i][:25, :2][shown] / [gw, gh] * [w, h]:
                cv2.circle(img, (int(x), int(y)), 2, (0, 255, 0), -1)
            images.append(img)
        return np.stack(images)


def make_task(config, *, data_dir=None, workdir=None) -> Task:
    """The training task of the config's model: its registry task decides (heatmaps or SMPL-X mesh)."""
    task_class = HeatmapTask if get_model(config["model"]["name"]).task == KEYPOINTS_2D else MeshTask
    return task_class(config, data_dir=data_dir, workdir=workdir)
