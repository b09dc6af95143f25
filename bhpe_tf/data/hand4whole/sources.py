"""Training and validation sources over Hand4Whole's datasets, in the trainer's source protocol
(``batch(start, size)`` -> dict of stacked arrays, ``element_spec()``, ``len()``).

Mixing is Hand4Whole's ``MultipleDatasets`` (``data/dataset.py``, ``common/base.py``): the 3D sets
(``data.train_sets["3d"]``, default Human3.6M) are concatenated into one group and the 2D sets
(``["MSCOCO", "MPII"]``) into another; with both groups present they are length-equalised
(``make_same_len=True``): an epoch has ``2 * max(len)`` samples, the first half drawn from the 3D
group, the second from the 2D group, each group read cyclically (``i % len``) and, in the last
incomplete cycle, at random. A single group is used as is. Every epoch visits a fresh permutation
of its samples.

Determinism: sample ``p`` of a run is a pure function of ``(seed, p)`` (epoch ``p // L``, slot
``p % L``, the random fill and the augmentation seeded by ``(seed, epoch, index)``), so resuming
at a sample counter continues the exact stream, as the trainer's other sources do. An unreadable
image is replaced by the next sample and counted (:attr:`TrainSource.skips`).
"""
from __future__ import annotations

import threading

import numpy as np

from bhpe_tf.data.hand4whole.readers import load_eval_set, load_train_set, without_fit_note
from bhpe_tf.data.hand4whole.targets import FitModel, TargetBuilder, TargetConfig, element_spec
from bhpe_tf.data.records import DataError, SkipCounter
from bhpe_tf.data.transforms import AugmentConfig
from bhpe_tf.errors import InvalidInputError, UserError

DEFAULT_TRAIN_SETS = {"3d": ["Human36M"], "2d": ["MSCOCO", "MPII"]}  # Hand4Whole's config.py
RETRIES = 8  # consecutive unreadable images before the run stops


class SameLengthMix:
    """Hand4Whole's ``MultipleDatasets(make_same_len=True)`` over groups of records (module docstring)."""

    def __init__(self, groups, *, seed: int = 0):
        self.groups = [list(g) for g in groups if len(g)]
        if not self.groups:
            raise UserError("no training records: every selected dataset is empty")
        self.seed = int(seed)
        self.longest = max(len(g) for g in self.groups)

    def __len__(self) -> int:
        return self.longest * len(self.groups) if len(self.groups) > 1 else len(self.groups[0])

    def pick(self, index: int, *, epoch: int):
        """The record at virtual ``index`` of ``epoch``."""
        if len(self.groups) == 1:
            return self.groups[0][index]
        group, slot = divmod(int(index), self.longest)
        members = self.groups[group]
        n = len(members)
        if slot >= n * (self.longest // n):  # the last, incomplete cycle: at random (seeded)
            return members[int(np.random.default_rng([self.seed, epoch, index, 1]).integers(n))]
        return members[slot % n]


class TrainSource:
    """Augmented training elements of a :class:`SameLengthMix` through a :class:`TargetBuilder`."""

    def __init__(self, mix: SameLengthMix, *, builder: TargetBuilder, seed: int = 0):
        self.mix, self.builder, self.seed = mix, builder, int(seed)
        self.skips = SkipCounter(name="training images")
        self._orders, self._lock = {}, threading.Lock()

    def __len__(self) -> int:
        return len(self.mix)

    def _order(self, epoch):
        with self._lock:
            if epoch not in self._orders:
                self._orders = {epoch: np.random.default_rng([self.seed, epoch]).permutation(len(self.mix))}
            return self._orders[epoch]

    def _crop(self, position):
        n = len(self.mix)
        epoch, slot = divmod(int(position), n)
        order = self._order(epoch)
        for attempt in range(RETRIES):
            index = int(order[(slot + attempt) % n])
            record = self.mix.pick(index, epoch=epoch)
            rng = np.random.default_rng([self.seed, epoch, index])
            try:
                return record, self.builder.crops([record], [rng])[0]
            except DataError as err:
                self.skips.skip("unreadable image", path=record.image_path, record=f"{record.image_id} ({err})")
                last = err
        raise UserError(f"{RETRIES} consecutive unreadable images around sample {position}: {last}")

    def batch(self, start: int, size: int) -> dict:
        pairs = [self._crop(start + i) for i in range(int(size))]
        items = self.builder.targets([p[0] for p in pairs], [p[1] for p in pairs])
        return {k: np.stack([it[k] for it in items]) for k in items[0]}

    def element_spec(self) -> dict:
        return element_spec(self.builder.config)


class EvalSource:
    """Test-time crops of held-out records with their ground-truth meshes (``mesh_gt``)."""

    def __init__(self, records, *, builder: TargetBuilder):
        self.records = list(records)
        if not self.records:
            raise UserError("the validation set has no usable records")
        self.builder = builder

    def __len__(self) -> int:
        return len(self.records)

    def batch(self, start: int, size: int) -> dict:
        chosen = [self.records[(start + i) % len(self.records)] for i in range(int(size))]
        return self.builder.batch(chosen)

    def element_spec(self) -> dict:
        return element_spec(self.builder.config)


def _set_names(value, what):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(f"data.train_sets.{what} must be a list of dataset names, got {value!r}")
    return list(value)


def build_sources(data_config: dict, *, root, smplx_model_path, input_wh, seed: int = 0):
    """``(train source, validation source, report lines)`` from a mesh config's ``data`` section:
    ``train_sets`` ({"3d": [...], "2d": [...]}), ``val_set`` (EHF, AGORA, Human36M),
    ``augment`` (:class:`~bhpe_tf.data.transforms.AugmentConfig` fields), ``require_neuralannot``,
    ``normalize``. ``input_wh`` is the crop (w, h)."""
    sets = data_config.get("train_sets") or DEFAULT_TRAIN_SETS
    if not isinstance(sets, dict) or set(sets) - {"3d", "2d"}:
        raise InvalidInputError(f"data.train_sets must look like {DEFAULT_TRAIN_SETS}, got {sets!r}")
    config = TargetConfig(input_wh=tuple(input_wh), normalize=data_config.get("normalize", "unit"))
    fits = FitModel(smplx_model_path)
    report, groups = [], []
    for group in ("3d", "2d"):
        records = []
        for name in _set_names(sets.get(group, []), group):
            found = load_train_set(name, root, aspect_ratio=config.aspect_ratio,
                                   require_fit=bool(data_config.get("require_neuralannot", False)))
            report.append(f"{name} train: {len(found)} people; {found.skips.report()}")
            note = without_fit_note(found, name)
            if note:
                report.append(note)
            records.extend(found)
        groups.append(records)
    mix = SameLengthMix(groups, seed=seed)
    if len(mix.groups) > 1:
        report.append(f"3D and 2D groups ({len(groups[0])} and {len(groups[1])} people) length-equalised to "
                      f"{len(mix)} samples per epoch (Hand4Whole's MultipleDatasets(make_same_len=True))")
    augment = AugmentConfig(**(data_config.get("augment") or {}))
    train = TrainSource(mix, builder=TargetBuilder(fit_model=fits, config=config, augment=augment), seed=seed)
    val_name = data_config.get("val_set") or "EHF"
    held_out = load_eval_set(val_name, root, aspect_ratio=config.aspect_ratio)
    report.append(f"validation: {val_name} {len(held_out)} people; {held_out.skips.report()}")
    val_config = TargetConfig(input_wh=config.input_wh, normalize=config.normalize, with_mesh=True)
    val = EvalSource(held_out, builder=TargetBuilder(fit_model=fits, config=val_config))
    return train, val, report
