"""What an RGB pixel becomes before a network's first layer, and the named normalisations.

One home for the ImageNet per-channel mean / std (the statistics HRNet's data pipeline normalises
with), used by the data pipeline, the converter and the predictors. The
names are those of the training configs' ``data.normalize``: ``"imagenet"`` (HRNet / BiHRNet) and
``"unit"`` (RGB in [0, 1]: Hand4Whole / BinaryHPE, no mean / std).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from bhpe_tf.errors import UnknownNameError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PIXEL_SCALE = 1.0 / 255.0


@dataclasses.dataclass(frozen=True)
class Normalization:
    """The network sees ``((x * scale) - mean) / std`` for RGB pixel values ``x`` in [0, 255]."""

    scale: float = PIXEL_SCALE
    mean: Sequence[float] = (0.0, 0.0, 0.0)
    std: Sequence[float] = (1.0, 1.0, 1.0)

    def apply(self, image) -> np.ndarray:
        image = np.asarray(image, np.float32)
        return ((image * np.float32(self.scale) - np.asarray(self.mean, np.float32))
                / np.asarray(self.std, np.float32)).astype(np.float32)

    def to_dict(self) -> dict:
        return {"scale": float(self.scale), "mean": [float(v) for v in self.mean],
                "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, d) -> "Normalization":
        return cls(scale=float(d["scale"]), mean=tuple(float(v) for v in d["mean"]),
                   std=tuple(float(v) for v in d["std"]))


IMAGENET = Normalization(mean=IMAGENET_MEAN, std=IMAGENET_STD)
UNIT_RANGE = Normalization()
# The training configs' ``data.normalize`` names (``"uint8"`` there means: none on the host, the
# deployment graph normalises in-graph with one of these).
NAMED_NORMALIZATIONS = {"imagenet": IMAGENET, "unit": UNIT_RANGE}


def named_normalization(name: str) -> Normalization:
    """``"imagenet"`` / ``"unit"`` -> its :class:`Normalization`; an unknown name lists the valid ones."""
    if name not in NAMED_NORMALIZATIONS:
        raise UnknownNameError("normalization", name, NAMED_NORMALIZATIONS)
    return NAMED_NORMALIZATIONS[name]
