"""Keypoint conventions: names, flip pairs, OKS sigmas, joint weights, skeletons, part slices.

The tables live in ``keypoints.json`` shipped inside this package (written from the public
definitions: cocoapi's sigmas, the COCO-WholeBody evaluation script's sigmas, HRNet's joint weights
and half-body ids). The SMPL-X flip permutation is derived from ``smplx.joint_names.JOINT_NAMES``.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np

_META_FILE = Path(__file__).with_name("keypoints.json")


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeypointMeta:
    name: str
    keypoint_names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    sigmas: np.ndarray | None
    joint_weights: np.ndarray
    upper_body_ids: tuple[int, ...]
    skeleton: tuple[tuple[int, int], ...]
    parts: dict

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @property
    def lower_body_ids(self) -> tuple[int, ...]:
        upper = set(self.upper_body_ids)
        return tuple(i for i in range(self.num_keypoints) if i not in upper)

    @property
    def flip_index(self) -> np.ndarray:
        """Permutation ``perm`` with ``flipped = keypoints[perm]`` swapping every left/right pair."""
        return flip_permutation(self.flip_pairs, self.num_keypoints)


@functools.lru_cache(maxsize=None)
def _load_all() -> dict:
    with open(_META_FILE, encoding="utf-8") as f:
        return json.load(f)


def available() -> list[str]:
    return sorted(k for k in _load_all() if not k.startswith("_"))


@functools.lru_cache(maxsize=None)
def get_meta(dataset: str) -> KeypointMeta:
    """The :class:`KeypointMeta` of ``coco``, ``coco_wholebody``, ``mpii`` or ``h36m``."""
    table = _load_all()
    if dataset not in table or dataset.startswith("_"):
        raise KeyError(f"unknown keypoint layout {dataset!r}; known: {', '.join(available())}")
    d = table[dataset]
    return KeypointMeta(
        name=dataset,
        keypoint_names=tuple(d["keypoint_names"]),
        flip_pairs=tuple(tuple(p) for p in d["flip_pairs"]),
        sigmas=None if d.get("sigmas") is None else np.asarray(d["sigmas"], np.float64),
        joint_weights=np.asarray(d["joint_weights"], np.float32),
        upper_body_ids=tuple(d["upper_body_ids"]),
        skeleton=tuple(tuple(e) for e in d["skeleton"]),
        parts={k: tuple(v) for k, v in d.get("parts", {}).items()},
    )


def flip_permutation(flip_pairs, num: int) -> np.ndarray:
    """Index array that swaps each ``(i, j)`` pair; an involution (applying it twice is identity)."""
    perm = np.arange(num)
    for i, j in flip_pairs:
        perm[i], perm[j] = j, i
    return perm


@functools.lru_cache(maxsize=None)
def smplx_flip_permutation() -> np.ndarray:
    """Permutation of the 55 SMPL-X pose joints swapping left/right by name.

    Uses the ``smplx`` joint names (``left_hip``/``right_hip``, ``left_eye_smplhf``/...,
    ``left_index1``/``right_index1``...; :data:`bhpe_tf.body.joint_sets.SMPLX_JOINT_NAMES`); this
    reproduces Hand4Whole's ``orig_flip_pairs``.
    """
    from bhpe_tf.body.joint_sets import SMPLX_JOINT_NAMES, side_swap_permutation

    return side_swap_permutation(SMPLX_JOINT_NAMES[:55])
