"""Activation-scale diagnostics: how large the real-valued paths of a network are at initialisation.

A binary network keeps full-precision paths (shortcuts, BN, block and fuse sums) around its binary
convs. If two of them carrying the same signal are summed at every block, the real-valued path
doubles per block and the output explodes (BiHRNet once reached a heatmap std of 1.3e12 at init;
see :mod:`bhpe_tf.models.hrnet`). The binary convs themselves are blind to it (sign is scale
invariant), so nothing fails until the loss is 1e13. This module measures the standard deviation
of every merge point (residual adds, fuse sums, concatenations) and of every output for a random
input, in inference mode (BN on its moving statistics) and in training mode (BN on the batch), and
summarises it per stage of the network.

    python -m bhpe_tf.stats --model bihrnet --activations          # the CLI (bhpe_tf.stats)

Stages are read from layer names (``stem``, ``stage1``, ``transition2``, ``head`` ...): every model
of the project names its layers that way. Nested models (BinaryHPE's three encoders) are profiled
on their own input, each as its own section.
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from bhpe_tf.conversion.lce import all_layers

_STAGE = re.compile(r"(?:^|_)(stem|stage\d+|transition\d+|head)(?:_|$)")
_MERGES = (tf.keras.layers.Add, tf.keras.layers.Average, tf.keras.layers.Concatenate)

# A network is called well scaled at init when every output std lies in this band (FP HRNet-W32's
# heatmaps: 0.036; BiHRNet after the fix: 0.03; ResNet features: 0.1-2).
HEALTHY_STD = (1e-3, 10.0)


@dataclasses.dataclass(frozen=True)
class StageScale:
    """Std of one stage's merge points: the last one (the stage's output) and the largest."""

    stage: str
    last_layer: str
    last_std: float
    max_layer: str
    max_std: float


@dataclasses.dataclass(frozen=True)
class ScaleProfile:
    """Per-stage scales and per-output std of one (sub)model, in one BN mode."""

    model: str
    training: bool
    stages: List[StageScale]
    outputs: Dict[str, float]

    @property
    def max_output_std(self) -> float:
        return max(self.outputs.values())

    def healthy(self, band=None) -> bool:
        low, high = band or HEALTHY_STD
        return all(math.isfinite(v) and low <= v <= high for v in self.outputs.values())


def stage_of(layer_name: str) -> str:
    """The stage a layer belongs to, from its name (``other`` when the name says none)."""
    match = _STAGE.search(layer_name)
    return match.group(1) if match else "other"


def _probe_layers(model: tf.keras.Model) -> List[tf.keras.layers.Layer]:
    """Every merge point, and the last layer of every stage (its output, e.g. the stem's activation)."""
    layers = [layer for layer in model.layers if not isinstance(layer, tf.keras.layers.InputLayer)]
    last_of_stage = {stage_of(layer.name): layer for layer in layers}
    chosen = {id(layer) for layer in last_of_stage.values()}
    return [layer for layer in layers if isinstance(layer, _MERGES) or id(layer) in chosen]


def _std(value) -> float:
    value = np.asarray(value, np.float64)
    return float(value.std()) if value.size else 0.0


def random_input(model: tf.keras.Model, *, batch_size=2, seed=0):
    """Standard-normal input(s) of the model's input shape (what a normalised image looks like)."""
    rng = np.random.default_rng(seed)
    tensors = [rng.standard_normal((batch_size,) + tuple(int(d) for d in t.shape[1:])).astype(np.float32)
               for t in model.inputs]
    return tensors[0] if len(tensors) == 1 else tensors


def scale_profile(model: tf.keras.Model, inputs=None, *, training: bool, batch_size=2, seed=0) -> ScaleProfile:
    """Std of every merge point and output of ``model`` on ``inputs`` (default :func:`random_input`)."""
    if inputs is None:
        inputs = random_input(model, batch_size=batch_size, seed=seed)
    probes = _probe_layers(model)
    outputs = list(model.outputs)
    probe_model = tf.keras.Model(model.inputs, [layer.output for layer in probes] + outputs)
    values = probe_model(inputs, training=training)
    values = values if isinstance(values, (list, tuple)) else [values]
    probe_values, output_values = values[:len(probes)], values[len(probes):]
    stages: Dict[str, StageScale] = {}
    for layer, value in zip(probes, probe_values):
        std, stage = _std(value), stage_of(layer.name)
        previous = stages.get(stage)
        if previous is None or std > previous.max_std:
            max_layer, max_std = layer.name, std
        else:
            max_layer, max_std = previous.max_layer, previous.max_std
        stages[stage] = StageScale(stage, layer.name, std, max_layer, max_std)
    names = model.output_names if len(outputs) > 1 else [model.output_names[0]]
    return ScaleProfile(model.name, bool(training), list(stages.values()),
                        {name: _std(v) for name, v in zip(names, output_values)})


def calibrate_batch_norm(model: tf.keras.Model, inputs) -> int:
    """Set every BatchNormalization's moving mean and variance to its statistics on ``inputs``
    (one training-mode forward pass with the momentum at 0); returns the number of BN layers set.

    For networks whose binary path is scale-equivariant, XNOR-Net's K (:class:`~bhpe_tf.binary.
    layers.XnorActivationScale`: sign(x) * mean|x|), no data-free initialisation of the moving
    statistics can hold: a block's conv output scales with its input, so with fixed statistics the
    residual sums grow geometrically in inference mode until real statistics are collected. This
    is what the first training steps do (momentum 0.9); one calibrated batch does it at once.
    """
    layers = [layer for layer in all_layers(model) if isinstance(layer, tf.keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    try:
        for layer in layers:
            layer.momentum = 0.0
        model(inputs, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return len(layers)


def profiles(model: tf.keras.Model, *, batch_size=2, seed=0) -> List[ScaleProfile]:
    """Inference- and training-mode profiles of ``model`` and of each nested model (e.g. encoders).

    A model that contains nested models is profiled through them only (its own top level mixes
    crops, SMPL-X and heads that need real inputs to mean anything)."""
    nested = [layer for layer in model.layers if isinstance(layer, tf.keras.Model)]
    targets = nested or [model]
    return [scale_profile(target, training=training, batch_size=batch_size, seed=seed)
            for target in targets for training in (False, True)]


def format_profiles(items: Sequence[ScaleProfile], band=None) -> str:
    """A table per (sub)model and mode: stage, its output std, its largest std, then the outputs."""
    band = band or HEALTHY_STD
    lines = []
    for profile in items:
        mode = "training mode (BN on the batch)" if profile.training else "inference mode (BN moving statistics)"
        lines.append(f"{profile.model}: {mode}")
        lines.append(f"  {'stage':<14}{'output std':>12}{'max std':>12}  at layer")
        for row in profile.stages:
            lines.append(f"  {row.stage:<14}{row.last_std:>12.3g}{row.max_std:>12.3g}  {row.max_layer}")
        for name, std in profile.outputs.items():
            verdict = "ok" if band[0] <= std <= band[1] else f"OUTSIDE [{band[0]:g}, {band[1]:g}]"
            lines.append(f"  output {name}: std {std:.3g} ({verdict})")
    return "\n".join(lines)


def gradient_norm(model: tf.keras.Model, inputs=None, *, loss_fn=None, batch_size=2, seed=0) -> float:
    """Global L2 norm of d loss / d trainable weights in training mode (default loss: mean square of
    the outputs against zero targets, the scale a heatmap / regression loss starts from)."""
    if inputs is None:
        inputs = random_input(model, batch_size=batch_size, seed=seed)
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        outputs = tf.nest.flatten(outputs)
        loss = loss_fn(outputs) if loss_fn else tf.add_n([tf.reduce_mean(tf.square(o)) for o in outputs])
    grads = [g for g in tape.gradient(loss, model.trainable_variables) if g is not None]
    return float(tf.linalg.global_norm(grads))


def first_batch_scale(outputs) -> float:
    """Largest std over a model's float outputs (the trainer's check before its first step)."""
    stds = [_std(o) for o in tf.nest.flatten(outputs) if tf.as_dtype(o.dtype).is_floating]
    return max(stds) if stds else 0.0


__all__ = ["HEALTHY_STD", "ScaleProfile", "StageScale", "first_batch_scale", "format_profiles", "gradient_norm",
           "profiles", "random_input", "scale_profile", "stage_of"]
