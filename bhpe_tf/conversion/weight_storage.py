"""Reduced-precision storage of the float weights of an LCE (or TFLite) flatbuffer: float16 or int8.

LCE 0.16's converter has no float16 or weight-only int8 option (``convert_saved_model`` takes only
int8 *activation* ranges), so the converted flatbuffer is rewritten the way TFLite's own
post-training quantisation lays such weights out: every constant float32 filter of a float compute
op (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV) with at least ``min_elements``
values is stored in the smaller type and turned back into the original float32 tensor by a
``DEQUANTIZE`` op placed first in the graph. The compute still runs in float32: TFLite's DEQUANTIZE
of a constant runs once (at the first invocation, its output is persistent) and XNNPACK folds the
pattern into its packed float32 weights, so the cost is one rounding of each weight:

* :func:`float16_weights`: FLOAT16, relative error <= 2^-11 per weight, half the bytes;
* :func:`int8_weights`: INT8 with one symmetric scale per output channel (max |w_c| / 127, zero point
  0, TFLite's per-channel layout: ``quantized_dimension`` = the filter's output-channel axis), error
  <= scale / 2 per weight, a quarter of the bytes. Activations stay float32 (not full-integer INT8).

LceBconv2d ops are untouched (bit-packed filters; their float per-channel multipliers / biases are
small), so every binary layer stays an LceBconv2d; :func:`bhpe_tf.conversion.census.op_census`
reads filters through the DEQUANTIZE, so a binary-valued filter hidden in float16 or int8 is still found.
"""
import numpy as np

from bhpe_tf.errors import UnknownNameError

# Filter input of each float compute op whose weights are rewritten, and the filter's output-channel axis
# (TFLite layouts: CONV_2D / TRANSPOSE_CONV OHWI, FULLY_CONNECTED (out, in), DEPTHWISE_CONV_2D 1HWC).
FLOAT_WEIGHT_OPS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1}
FILTER_CHANNEL_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0, "TRANSPOSE_CONV": 0}
FLOAT32, FLOAT16, INT8 = 0, 1, 9  # tflite TensorType
# DEQUANTIZE op versions: 3 reads float16, 4 per-channel int8 (TFLite's op version table).
_DEQUANTIZE_VERSION = {FLOAT16: 3, INT8: 4}
# Stated Keras-vs-LCE parity of a float16-weight flatbuffer of a full-precision network, relative to the
# largest output: float16 rounding of the weights (<= 2^-11 each); measured 1.4e-3 on a reduced HRNet.
# A binary network has no such bound: a weight rounding that moves an activation across its binarization
# threshold flips a sign, and in a deep random-weight binary network the flips spread (measured on the
# reduced BiHRNet: 64 % of outputs beyond 2 % of the range). Check a trained model's parity before
# deploying its float16 file (converters/convert.py's parity report).
FLOAT16_PARITY_RTOL = 1e-2
# The same for int8 weights (per-channel rounding, <= max|w_c| / 254 per weight): measured 1.1e-2 on
# HRNet-W32 at 64x64 with random weights; the same caveat for binary networks.
INT8_WEIGHTS_PARITY_RTOL = 5e-2


def _schema():
    from tensorflow.lite.python import schema_py_generated as schema

    return schema


def _as_float16(values, op_name):
    del op_name
    return FLOAT16, values.astype(np.float16).tobytes(), None


def _as_int8(values, op_name):
    """Symmetric per-output-channel int8 (TFLite's per-channel weight quantisation)."""
    schema = _schema()
    axis = FILTER_CHANNEL_AXIS[op_name]
    others = tuple(a for a in range(values.ndim) if a != axis)
    scale = np.maximum(np.abs(values).max(axis=others), np.finfo(np.float32).tiny) / 127.0
    shape = [1] * values.ndim
    shape[axis] = -1
    quantized = np.clip(np.round(values / scale.reshape(shape)), -127, 127).astype(np.int8)
    params = schema.QuantizationParametersT()
    params.scale = scale.astype(np.float32).tolist()
    params.zeroPoint = [0] * len(params.scale)
    params.quantizedDimension = axis
    return INT8, quantized.tobytes(), params


def _store_weights(flatbuffer: bytes, *, encode, min_elements: int) -> bytes:
    """Rewrite the float32 filters of float compute ops through ``encode(values, op_name) -> (type,
    bytes, quantization)`` behind a DEQUANTIZE each (see the module)."""
    from tensorflow.lite.tools import flatbuffer_utils

    schema = _schema()
    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))

    def op_name(code):
        if code.customCode:
            return None
        return names.get(max(int(code.builtinCode), int(code.deprecatedBuiltinCode)))

    dequantize = {}  # stored type -> operator code index
    graph = model.subgraphs[0]
    done = set()
    new_ops = []
    for op in graph.operators:
        name = op_name(model.operatorCodes[op.opcodeIndex])
        if name not in FLOAT_WEIGHT_OPS or op.inputs is None:
            continue
        index = int(op.inputs[FLOAT_WEIGHT_OPS[name]])
        if index < 0 or index in done:
            continue
        tensor = graph.tensors[index]
        buffer = model.buffers[tensor.buffer]
        if tensor.type != FLOAT32 or buffer.data is None or len(buffer.data) == 0:
            continue
        values = np.frombuffer(bytes(bytearray(buffer.data)), dtype=np.float32)
        if values.size < min_elements:
            continue
        done.add(index)
        stored_type, data, quantization = encode(values.reshape(tensor.shape), name)
        if stored_type not in dequantize:
            code = schema.OperatorCodeT()
            code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.DEQUANTIZE
            code.version = _DEQUANTIZE_VERSION[stored_type]
            model.operatorCodes.append(code)
            dequantize[stored_type] = len(model.operatorCodes) - 1
        small = schema.BufferT()
        small.data = np.frombuffer(data, dtype=np.uint8)
        model.buffers.append(small)
        stored = schema.TensorT()
        stored.shape = tensor.shape
        stored.type = stored_type
        stored.quantization = quantization
        stored.buffer = len(model.buffers) - 1
        stored.name = (tensor.name.decode() if isinstance(tensor.name, (bytes, bytearray)) else str(tensor.name)) \
            + {FLOAT16: "_float16", INT8: "_int8"}[stored_type]
        graph.tensors.append(stored)
        old_buffer = tensor.buffer
        empty = schema.BufferT()  # the float32 tensor becomes the DEQUANTIZE's output: no data of its own
        model.buffers.append(empty)
        tensor.buffer = len(model.buffers) - 1
        if not any(t.buffer == old_buffer for t in graph.tensors):
            model.buffers[old_buffer].data = None  # drop the float32 bytes unless another tensor shares them
        convert = schema.OperatorT()
        convert.opcodeIndex = dequantize[stored_type]
        convert.inputs = [len(graph.tensors) - 1]
        convert.outputs = [index]
        new_ops.append(convert)
    graph.operators = new_ops + list(graph.operators)  # constants first keeps the order topological
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def float16_weights(flatbuffer: bytes, *, min_elements: int = 1024) -> bytes:
    """The flatbuffer with the float32 weights of float compute ops stored as float16 (see the module)."""
    return _store_weights(flatbuffer, encode=_as_float16, min_elements=min_elements)


def int8_weights(flatbuffer: bytes, *, min_elements: int = 1024) -> bytes:
    """The flatbuffer with the float32 weights of float compute ops stored as per-channel int8 (see the module)."""
    return _store_weights(flatbuffer, encode=_as_int8, min_elements=min_elements)


# Storage of the float weights by name (the card's converter.float_weights, the converter's --float_weights):
# the rewrite and the parity tolerance stated for a full-precision network.
WEIGHT_STORAGES = ("float32", "float16", "int8")
STORAGE_PARITY_RTOL = {"float16": FLOAT16_PARITY_RTOL, "int8": INT8_WEIGHTS_PARITY_RTOL}


def store_weights(flatbuffer: bytes, storage: str, *, min_elements: int = 1024) -> bytes:
    """``flatbuffer`` with its float weights stored as ``storage`` (one of :data:`WEIGHT_STORAGES`)."""
    if storage not in WEIGHT_STORAGES:
        raise UnknownNameError("weight storage", str(storage), WEIGHT_STORAGES)
    if storage == "float32":
        return flatbuffer
    store = float16_weights if storage == "float16" else int8_weights
    return store(flatbuffer, min_elements=min_elements)


def float_weight_bytes(flatbuffer: bytes) -> dict:
    """Bytes of constant tensors per storage type (``float32``, ``float16``, ``int32`` (bit-packed binary) ...)."""
    from tensorflow.lite.tools import flatbuffer_utils

    schema = _schema()
    type_names = {value: name.lower() for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    totals = {}
    for tensor in model.subgraphs[0].tensors:
        data = model.buffers[tensor.buffer].data
        if data is not None and len(data):
            key = type_names.get(tensor.type, str(tensor.type))
            totals[key] = totals.get(key, 0) + len(data)
    return totals
