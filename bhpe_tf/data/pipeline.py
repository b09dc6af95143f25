"""``tf.data`` pipelines from :class:`~bhpe_tf.data.records.SampleRecord` lists.

Each element is produced by :func:`process_record` (pure NumPy + OpenCV: decode, augment, one
``cv2.warpAffine`` crop, targets) run inside ``tf.numpy_function`` under a parallel ``map``; every
output has a fixed shape. Augmentation randomness comes from a per-element seed drawn from
``tf.data.Dataset.random(seed)``, so a pipeline with a fixed seed is reproducible.

Bad data never crashes inside ``tf.data``: a record whose image is missing, corrupt or truncated
is replaced by a flagged dummy element that is filtered out, and the skip is counted (with the
file name) in :attr:`Pipeline.skips`; call ``pipeline.skips.report()`` after an epoch.

Element keys (all batched): ``image`` (H, W, 3) float32 (or uint8), ``center`` (2,), ``scale``
(2,), ``rotation`` (), ``flip`` (), ``matrix`` (2, 3) image -> crop, ``index`` () record index,
``keypoints`` (K, 3) in crop pixels; with ``"heatmaps"`` targets ``heatmaps`` (h, w, K) and
``target_weight`` (K,); with ``"wholebody"`` the keys of
:func:`bhpe_tf.data.wholebody_targets.make_wholebody_targets`.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from bhpe_tf.data.codecs import HeatmapCodec
from bhpe_tf.data.meta import get_meta
from bhpe_tf.data.records import DataError, SampleRecord, SkipCounter, read_image
from bhpe_tf.data.transforms import (AugmentConfig, AugmentParams, affine_points, apply_color, crop_matrix,
                                     sample_augmentation, swap_pairs, warp_crop)
from bhpe_tf.data.wholebody_targets import WholeBodyTargetConfig, make_wholebody_targets, remap_joints
from bhpe_tf.runtime.normalization import IMAGENET

IMAGENET_MEAN = np.asarray(IMAGENET.mean, np.float32)
IMAGENET_STD = np.asarray(IMAGENET.std, np.float32)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """What to produce. Sizes are ``(w, h)``. ``augment=None`` gives test-time crops.

    ``codec``: the heatmap targets' :class:`~bhpe_tf.data.codecs.HeatmapCodec` (its ``input_wh`` is
    ``input_wh``); by default HRNet's (stride 4, sigma 2, standard encoding) for ``input_wh``.

    ``normalize``: ``"imagenet"`` (HRNet: RGB / 255, minus mean, over std), ``"unit"`` (Hand4Whole:
    RGB / 255) or ``"uint8"`` (raw pixels, for models that normalise in-graph, e.g. for LCE).
    ``targets``: any of ``"heatmaps"``, ``"wholebody"``. ``joint_maps`` maps each dataset's
    keypoints into one joint set (e.g. the 137 SMPL-X joints when mixing COCO-WholeBody, H36M and
    MPII); a dataset without an entry keeps its own layout.
    """

    input_wh: tuple = (192, 256)
    codec: HeatmapCodec | None = None
    augment: AugmentConfig | None = None
    targets: tuple = ("heatmaps",)
    wholebody: WholeBodyTargetConfig | None = None
    joint_maps: dict | None = None  # {dataset: (J,) source index per model joint, -1 = none}
    normalize: str = "imagenet"
    batch_size: int | None = 32
    drop_remainder: bool = False
    shuffle: bool = False
    repeat: bool = False
    seed: int = 0
    num_parallel_calls: int | None = None  # None: tf.data.AUTOTUNE
    deterministic: bool = True
    prefetch: int = 2
    aspect_ratio: float = 0.75
    opencv_threads: int | None = 1  # OpenCV's own pool fights tf.data's threads; None: leave as is

    def __post_init__(self):
        if self.normalize not in ("imagenet", "unit", "uint8"):
            raise ValueError(f"normalize must be 'imagenet', 'unit' or 'uint8', not {self.normalize!r}")
        unknown = set(self.targets) - {"heatmaps", "wholebody"}
        if unknown:
            raise ValueError(f"unknown targets {sorted(unknown)}")
        if self.codec is None:
            object.__setattr__(self, "codec", HeatmapCodec(input_wh=self.input_wh))
        elif tuple(self.codec.input_wh) != tuple(self.input_wh):
            raise ValueError(f"codec.input_wh {self.codec.input_wh} differs from input_wh {self.input_wh}")
        if self.wholebody is not None and tuple(self.wholebody.input_wh) != tuple(self.input_wh):
            raise ValueError(f"wholebody.input_wh {self.wholebody.input_wh} differs from input_wh "
                             f"{self.input_wh}")


def _flip_pairs(dataset: str):
    try:
        return get_meta(dataset).flip_pairs
    except KeyError:
        return ()


def _upper_ids(dataset: str):
    try:
        return get_meta(dataset).upper_body_ids
    except KeyError:
        return ()


def _normalize(crop: np.ndarray, *, color, mode: str) -> np.ndarray:
    """Colour jitter and normalisation fused into two in-place passes (the crop is >= 0 and the
    colour factors > 0, so :func:`apply_color`'s clip reduces to ``min(x, 255)``)."""
    if mode == "uint8":
        return crop if color is None else apply_color(crop, color).astype(np.uint8)
    out = crop.astype(np.float32)
    if color is not None:
        out *= np.asarray(color, np.float32)
        np.minimum(out, 255.0, out=out)
    if mode == "unit":
        out *= np.float32(1.0 / 255.0)
    else:
        out *= 1.0 / (255.0 * IMAGENET_STD)
        out -= IMAGENET_MEAN / IMAGENET_STD
    return out


def process_record(record: SampleRecord, *, config: PipelineConfig, rng: np.random.Generator | None = None,
                   image: np.ndarray | None = None) -> dict:
    """One record -> one training / test element (NumPy). Raises :class:`DataError` on bad images.

    ``image`` (RGB uint8) skips the file read. Files are decoded as BGR and only the small crop is
    converted to RGB, which saves a full-image colour conversion per sample.
    """
    convert = image is None
    if image is None:
        image = read_image(record.image_path, record=record.image_id, rgb=False)
    width = image.shape[1]
    if config.augment is not None:
        if rng is None:
            raise ValueError("augmentation needs an rng")
        aug = sample_augmentation(center=record.center, scale=record.scale, keypoints=record.keypoints,
                                  config=config.augment, rng=rng, upper_body_ids=_upper_ids(record.dataset),
                                  aspect_ratio=config.aspect_ratio)
    else:
        aug = AugmentParams(center=record.center, scale=record.scale)
    mat = crop_matrix(aug.center, aug.scale, aug.rot, config.input_wh, flip_width=width if aug.flip else None)
    crop = warp_crop(image, mat, config.input_wh)
    if convert:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    crop = _normalize(crop, color=aug.color, mode=config.normalize)

    kp = np.array(record.keypoints, np.float32, copy=True)
    if aug.flip:
        kp = swap_pairs(kp, _flip_pairs(record.dataset))
    kp[:, :2] = affine_points(kp[:, :2], mat)
    joint_map = (config.joint_maps or {}).get(record.dataset)
    if joint_map is not None:
        kp = remap_joints(kp, joint_map)
    out = {
        "image": crop, "center": aug.center.astype(np.float32), "scale": aug.scale.astype(np.float32),
        "rotation": np.float32(aug.rot), "flip": np.float32(aug.flip), "matrix": mat.astype(np.float32),
        "keypoints": kp,
    }
    if "heatmaps" in config.targets:
        out["heatmaps"], out["target_weight"] = config.codec.encode(kp)
    if "wholebody" in config.targets:
        wb_config = config.wholebody or WholeBodyTargetConfig(input_wh=tuple(config.input_wh))
        out.update(make_wholebody_targets(record, matrix=mat, flip=aug.flip, rot=aug.rot, config=wb_config,
                                          joint_map=joint_map))
    return out


def tf_do_not_convert(fn):
    """Mark a plain-Python ``tf.data`` function so AutoGraph does not try (and warn) to convert it."""
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(fn)


class Pipeline:
    """A ``tf.data.Dataset`` over records (``pipeline.dataset``) and its :class:`SkipCounter`."""

    def __init__(self, *, records, config: PipelineConfig):
        import tensorflow as tf

        self.records = list(records)
        self.config = config
        if config.opencv_threads is not None:
            cv2.setNumThreads(config.opencv_threads)  # process-wide, as data loaders usually do
        self.skips = SkipCounter(name="pipeline images")
        if not self.records:
            raise DataError("no records to build a pipeline from")
        maps = config.joint_maps or {}

        def joints_out(r):
            return len(maps[r.dataset]) if r.dataset in maps else r.num_keypoints

        k = joints_out(self.records[0])
        for i, r in enumerate(self.records):
            if joints_out(r) != k:
                raise DataError(f"{joints_out(r)} output joints where the first record gives {k} "
                                f"(give PipelineConfig.joint_maps an entry for {r.dataset!r})",
                                path=r.image_path, record=i)
        self.num_keypoints = k
        # The output signature comes from one dry run on a blank image (cheap, no file access).
        probe_record = self.records[0]
        probe = process_record(probe_record, config=dataclasses.replace(config, augment=None),
                               image=np.zeros((8, 8, 3), np.uint8))
        self._keys = sorted(probe)
        self._dtypes = [tf.as_dtype(np.asarray(probe[key]).dtype) for key in self._keys]
        self._shapes = [np.asarray(probe[key]).shape for key in self._keys]
        self._blank = {key: np.zeros_like(np.asarray(probe[key])) for key in self._keys}
        self.dataset = self._build(tf)

    def _element(self, index, seed):
        index = int(index)
        record = self.records[index]
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, index])
        try:
            out = process_record(record, config=self.config, rng=rng)
            valid = True
        except (DataError, cv2.error) as e:
            self.skips.skip(f"bad image ({type(e).__name__})", path=record.image_path, record=record.image_id)
            out, valid = self._blank, False
        values = [np.asarray(out[key], dtype=self._blank[key].dtype) for key in self._keys]
        return values + [np.int64(index), np.bool_(valid)]

    def _build(self, tf):
        cfg = self.config
        n = len(self.records)
        autotune = tf.data.AUTOTUNE

        def load(index, seed):
            outs = tf.numpy_function(self._element, [index, seed], self._dtypes + [tf.int64, tf.bool],
                                     stateful=False)
            element = {key: tf.ensure_shape(t, shape) for key, t, shape in zip(self._keys, outs, self._shapes)}
            element["index"] = tf.ensure_shape(outs[-2], ())
            element["_valid"] = tf.ensure_shape(outs[-1], ())
            return element

        ds = tf.data.Dataset.range(n)
        if cfg.shuffle:
            ds = ds.shuffle(n, seed=cfg.seed, reshuffle_each_iteration=True)
        if cfg.repeat:
            ds = ds.repeat()
        seeds = tf.data.Dataset.random(seed=cfg.seed)
        ds = tf.data.Dataset.zip((ds, seeds))
        ds = ds.map(load, num_parallel_calls=autotune if cfg.num_parallel_calls is None else cfg.num_parallel_calls,
                    deterministic=cfg.deterministic)
        ds = ds.filter(_is_valid).map(_drop_valid)
        if cfg.batch_size:
            ds = ds.batch(cfg.batch_size, drop_remainder=cfg.drop_remainder)
        if cfg.prefetch:
            ds = ds.prefetch(cfg.prefetch)
        return ds


@tf_do_not_convert
def _is_valid(element):
    return element["_valid"]


@tf_do_not_convert
def _drop_valid(element):
    return {k: v for k, v in element.items() if k != "_valid"}


def make_pipeline(*, records, config: PipelineConfig) -> Pipeline:
    """Build a :class:`Pipeline` (``.dataset`` to iterate, ``.skips`` to report)."""
    return Pipeline(records=records, config=config)
