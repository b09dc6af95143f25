"""Parameter and operation counts in the convention of the BinaryHPE / BNN literature.

    Params = P_binary / 32 + P_fp          OPs = MAC_binary / 64 + MAC_fp

(Bi-Real Net / ReActNet / BinaryHPE Table 1: a binary weight costs 1/32 of a float one, a binary
MAC 1/64 of a float MAC). A weight counts as binary when its layer's kernel quantizer has
``precision == 1``; a MAC counts as binary when both the kernel and the input quantizer do (as in
``lq.models.summary``). Only convolutions and dense layers have MACs; BN, biases, PReLU, pooling,
custom ops (RoIAlign, soft-argmax) and the SMPL-X layer are not counted, as in the paper.
"""
import collections
import dataclasses
from typing import Callable, Dict, Optional

import numpy as np
import tensorflow as tf


@dataclasses.dataclass
class Count:
    binary_params: int = 0
    fp_params: int = 0
    binary_macs: int = 0
    fp_macs: int = 0

    def __iadd__(self, other):
        self.binary_params += other.binary_params
        self.fp_params += other.fp_params
        self.binary_macs += other.binary_macs
        self.fp_macs += other.fp_macs
        return self

    @property
    def params_m(self) -> float:
        """Paper-convention parameters, in millions."""
        return (self.binary_params / 32 + self.fp_params) / 1e6

    @property
    def ops_g(self) -> float:
        """Paper-convention operations, in G."""
        return (self.binary_macs / 64 + self.fp_macs) / 1e9

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "params_M": round(self.params_m, 4), "ops_G": round(self.ops_g, 4)}


def _precision(quantizer) -> Optional[int]:
    return getattr(quantizer, "precision", None) if quantizer is not None else None


def _kernel_macs_per_output(layer) -> int:
    kernel = layer.kernel.shape
    if isinstance(layer, tf.keras.layers.DepthwiseConv2D):
        return int(np.prod(kernel[:2]))
    if isinstance(layer, tf.keras.layers.Conv2DTranspose):
        # each input pixel scatters kh*kw*out values: MACs = in_pixels*kh*kw*in*out (per output pixel
        # of a stride-s transposed conv that is kh*kw*in/s^2); handled in _layer_count.
        return int(np.prod(kernel[:2]) * kernel[3])
    return int(np.prod(kernel[:-1]))


def _layer_count(layer, output_shapes, input_shapes) -> Count:
    """Count one (non-nested) layer over all of its calls; batch dims count as 1 per call."""
    count = Count()
    weights_binary = _precision(getattr(layer, "kernel_quantizer", None)) == 1
    inputs_binary = _precision(getattr(layer, "input_quantizer", None)) == 1
    kernel = getattr(layer, "kernel", None)
    for weight in layer.weights:
        size = int(np.prod(weight.shape))
        if weight is kernel and weights_binary:
            count.binary_params += size
        elif "moving_" not in weight.name:
            # BN running statistics are buffers, not parameters (PyTorch's numel() count of the paper).
            count.fp_params += size
    if kernel is None:
        return count
    for out_shape, in_shape in zip(output_shapes, input_shapes):
        if isinstance(layer, tf.keras.layers.Conv2DTranspose):
            pixels = int(np.prod([d or 1 for d in in_shape[1:-1]]))
            macs = pixels * int(np.prod(kernel.shape))
        else:
            pixels = int(np.prod([d or 1 for d in out_shape[1:-1]])) if len(out_shape) > 2 else 1
            channels = int(out_shape[-1]) if not isinstance(layer, tf.keras.layers.DepthwiseConv2D) else int(out_shape[-1])
            macs = pixels * channels * _kernel_macs_per_output(layer)
        if weights_binary and inputs_binary:
            count.binary_macs += macs
        else:
            count.fp_macs += macs
    return count


def _node_shapes(layer):
    outputs, inputs = [], []
    for node in layer.inbound_nodes:
        out = node.output_shapes
        inp = node.input_shapes
        outputs.append(tuple(out[0] if isinstance(out, list) else out))
        inputs.append(tuple(inp[0] if isinstance(inp, list) else inp))
    return outputs, inputs


def count_model(model: tf.keras.Model, *, group: Optional[Callable[[str], str]] = None,
                multiplicity: Optional[Dict[str, int]] = None) -> Dict[str, Count]:
    """Counts per group and ``"total"``.

    ``group(layer_name) -> group name`` assigns layers to modules (default: one group "model").
    Nested models are walked; their layers are named ``outer/inner``. ``multiplicity`` maps a
    nested model's name to how many times it runs per image when one call processes several crops
    on the batch axis (e.g. ``{"hand_encoder": 2}`` for Hand4Whole's two hands); MACs of its layers
    are multiplied by it (parameters are not).
    """
    group = group or (lambda name: "model")
    multiplicity = multiplicity or {}
    totals = collections.OrderedDict()
    seen = set()

    def visit(container, prefix, factor):
        for layer in container.layers:
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            name = f"{prefix}{layer.name}"
            if isinstance(layer, tf.keras.Model):
                calls = max(len(layer.inbound_nodes), 1)
                visit(layer, f"{name}/", factor * multiplicity.get(layer.name, 1) * calls)
                continue
            outputs, inputs = _node_shapes(layer)
            layer_count = _layer_count(layer, outputs, inputs)
            layer_count.binary_macs *= factor
            layer_count.fp_macs *= factor
            key = group(name)
            totals.setdefault(key, Count())
            totals[key] += layer_count

    visit(model, "", 1)
    total = Count()
    for value in totals.values():
        total += value
    totals["total"] = total
    return totals
