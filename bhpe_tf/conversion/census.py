"""Read a ``.tflite`` flatbuffer and say what will really run: op counts and float fallbacks.

LCE converts a binary layer to ``LceBconv2d`` only when it recognises it; otherwise (``QuantDense``,
``QuantConv2DTranspose``, ``QuantDepthwiseConv2D`` ...) the layer silently becomes
``LceQuantize -> LceDequantize -> <float op>``: it converts, but computes in float on the phone.
:func:`op_census` finds those fallbacks two ways:

1. a float compute op (conv, depthwise, fully connected, transposed conv, batch matmul) whose data
   input comes from an ``LceDequantize`` (possibly through shape-only ops such as RESHAPE or PAD);
2. a float compute op whose constant filter is binary-valued (+-alpha per output channel): a binary
   layer whose input quantizer LCE did not recognise.
"""
import collections
import dataclasses
from typing import Dict, List

import numpy as np

COMPUTE_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL", "CONV_3D")
# Ops that move or reshape data without computing on it; a fallback may hide behind them.
PASS_THROUGH_OPS = ("RESHAPE", "PAD", "PADV2", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "STRIDED_SLICE",
                    "SLICE", "CONCATENATION", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "GATHER")
# Which input of a compute op is the data (activation) tensor and which is the filter.
_DATA_INPUT = {"TRANSPOSE_CONV": 2}
_FILTER_INPUT = {"TRANSPOSE_CONV": 1}
_FILTER_OUT_AXIS = {"DEPTHWISE_CONV_2D": 3}  # TFLite filter layouts: out channel first, but depthwise (1,kh,kw,out)


@dataclasses.dataclass
class FloatFallback:
    """A layer that LCE left in float although it was meant to be binary."""

    op_index: int
    op: str
    output: str
    reason: str

    def describe(self) -> str:
        return f"{self.op} #{self.op_index} (output {self.output!r}): {self.reason}"


@dataclasses.dataclass
class Census:
    counts: Dict[str, int]
    float_fallbacks: List[FloatFallback]
    num_tensors: int

    @property
    def lce_bconv2d(self) -> int:
        return self.counts.get("LceBconv2d", 0)

    def to_dict(self) -> dict:
        return {
            "op_counts": dict(sorted(self.counts.items())),
            "float_fallbacks": [dataclasses.asdict(f) for f in self.float_fallbacks],
        }


def _builtin_names() -> Dict[int, str]:
    from tensorflow.lite.python import schema_py_generated as schema

    return {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}


def _op_name(opcode, names) -> str:
    if opcode.customCode:
        code = opcode.customCode
        return code.decode() if isinstance(code, (bytes, bytearray)) else str(code)
    code = max(int(opcode.builtinCode), int(opcode.deprecatedBuiltinCode))
    return names.get(code, f"BUILTIN_{code}")


def _is_binary_valued(filter_values: np.ndarray, out_axis: int) -> bool:
    """True when every output channel holds only +-a (one magnitude, both signs allowed)."""
    values = np.moveaxis(filter_values, out_axis, 0).reshape(filter_values.shape[out_axis], -1)
    if values.shape[1] < 4:  # too few weights to tell a binary filter from a real one
        return False
    magnitude = np.abs(values)
    reference = magnitude.max(axis=1, keepdims=True)
    if np.any(reference == 0):
        return False
    return bool(np.all(np.abs(magnitude - reference) <= 1e-6 * reference))


def op_census(flatbuffer: bytes) -> Census:
    """Count the ops of the main subgraph of a ``.tflite`` model and list its float fallbacks."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    names = _builtin_names()
    op_names = [_op_name(code, names) for code in model.operatorCodes]
    graph = model.subgraphs[0]
    producers = {}
    for index, op in enumerate(graph.operators):
        for out in op.outputs if op.outputs is not None else []:
            producers[int(out)] = index

    def tensor_name(index):
        name = graph.tensors[index].name
        return name.decode() if isinstance(name, (bytes, bytearray)) else str(name)

    def fed_by_dequantize(tensor_index, depth=0):
        producer = producers.get(int(tensor_index))
        if producer is None or depth > 16:
            return False
        name = op_names[graph.operators[producer].opcodeIndex]
        if name == "LceDequantize":
            return True
        if name in PASS_THROUGH_OPS:
            inputs = graph.operators[producer].inputs
            return any(fed_by_dequantize(i, depth + 1) for i in (inputs if inputs is not None else []) if i >= 0)
        return False

    def constant(tensor_index, depth=0):
        tensor = graph.tensors[tensor_index]
        data = model.buffers[tensor.buffer].data
        if data is None or len(data) == 0:
            # a float16- or int8-stored weight (bhpe_tf.conversion.weight_storage): constant -> DEQUANTIZE -> filter
            producer = producers.get(int(tensor_index))
            if producer is not None and depth == 0 and op_names[graph.operators[producer].opcodeIndex] == "DEQUANTIZE":
                return constant(int(graph.operators[producer].inputs[0]), depth + 1)
            return None
        dtypes = {0: np.float32, 1: np.float16, 9: np.int8}  # tflite TensorType FLOAT32, FLOAT16, INT8
        if tensor.type not in dtypes:
            return None
        values = np.frombuffer(bytes(bytearray(data)), dtype=dtypes[tensor.type]).astype(np.float32).reshape(tensor.shape)
        quantization = tensor.quantization
        if tensor.type == 9:  # int8 weights: dequantize per channel (scale along quantizedDimension)
            if quantization is None or quantization.scale is None or len(quantization.scale) == 0:
                return None
            shape = [1] * values.ndim  # one scale (and zero point) per index of quantizedDimension, or one in all
            shape[int(quantization.quantizedDimension)] = -1
            zero = np.asarray(quantization.zeroPoint if quantization.zeroPoint is not None else [0], np.float32)
            values = (values - zero.reshape(shape)) * np.asarray(quantization.scale, np.float32).reshape(shape)
        return values

    counts = collections.Counter()
    fallbacks = []
    for index, op in enumerate(graph.operators):
        name = op_names[op.opcodeIndex]
        counts[name] += 1
        if name not in COMPUTE_OPS:
            continue
        inputs = list(op.inputs) if op.inputs is not None else []
        output = tensor_name(op.outputs[0])
        data_input = inputs[_DATA_INPUT.get(name, 0)]
        if data_input >= 0 and fed_by_dequantize(data_input):
            fallbacks.append(FloatFallback(index, name, output, "float op fed by LceDequantize "
                                           "(a binary layer LCE cannot run in binary)"))
            continue
        filter_index = _FILTER_INPUT.get(name, 1)
        if filter_index < len(inputs) and inputs[filter_index] >= 0:
            values = constant(inputs[filter_index])
            if values is not None and values.ndim >= 2 and _is_binary_valued(values, _FILTER_OUT_AXIS.get(name, 0)):
                fallbacks.append(FloatFallback(index, name, output, "binary-valued (+-alpha) weights "
                                               "computed by a float op"))
    return Census(counts=dict(counts), float_fallbacks=fallbacks, num_tensors=len(graph.tensors))
