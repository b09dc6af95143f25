"""Float16 storage of the float weights of an LCE (or TFLite) flatbuffer: half the bytes of the float parts.

LCE 0.16's converter has no float16 option (``convert_saved_model`` takes only int8 ranges), so
:func:`float16_weights` rewrites the converted flatbuffer the way TFLite's own float16 post-training
quantisation lays it out: every constant float32 filter of a float compute op (CONV_2D,
DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV) with at least ``min_elements`` values is stored
as a FLOAT16 tensor and turned back into the original float32 tensor by a ``DEQUANTIZE`` op placed
first in the graph. The compute still runs in float32: TFLite's DEQUANTIZE of a constant runs once
(at the first invocation, its output is persistent) and XNNPACK folds the pattern into its packed
float32 weights, so the cost is one rounding of each weight to float16 (relative error <= 2^-11).

LceBconv2d ops are untouched (bit-packed filters; their float per-channel multipliers / biases are
small), so every binary layer stays an LceBconv2d; :func:`bhpe_tf.conversion.census.op_census`
reads filters through the DEQUANTIZE, so a binary-valued filter hidden in float16 is still found.
"""
import numpy as np

# Filter input of each float compute op whose weights are stored in float16.
FLOAT_WEIGHT_OPS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1}
FLOAT32, FLOAT16 = 0, 1  # tflite TensorType
# Stated Keras-vs-LCE parity of a float16-weight flatbuffer of a full-precision network, relative to the
# largest output: float16 rounding of the weights (<= 2^-11 each); measured 1.4e-3 on a reduced HRNet.
# A binary network has no such bound: a weight rounding that moves an activation across its binarization
# threshold flips a sign, and in a deep random-weight binary network the flips spread (measured on the
# reduced BiHRNet: 64 % of outputs beyond 2 % of the range). Check a trained model's parity before
# deploying its float16 file (converters/convert.py's parity report).
FLOAT16_PARITY_RTOL = 1e-2


def _schema():
    from tensorflow.lite.python import schema_py_generated as schema

    return schema


def float16_weights(flatbuffer: bytes, *, min_elements: int = 1024) -> bytes:
    """The flatbuffer with the float32 weights of float compute ops stored as float16 (see the module)."""
    from tensorflow.lite.tools import flatbuffer_utils

    schema = _schema()
    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))

    def op_name(code):
        if code.customCode:
            return None
        return names.get(max(int(code.builtinCode), int(code.deprecatedBuiltinCode)))

    dequantize = next((i for i, code in enumerate(model.operatorCodes) if op_name(code) == "DEQUANTIZE"), None)
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
        if dequantize is None:
            code = schema.OperatorCodeT()
            code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.DEQUANTIZE
            code.version = 3  # DEQUANTIZE v3: float16 input
            model.operatorCodes.append(code)
            dequantize = len(model.operatorCodes) - 1
        half = schema.BufferT()
        half.data = np.frombuffer(values.astype(np.float16).tobytes(), dtype=np.uint8)
        model.buffers.append(half)
        stored = schema.TensorT()
        stored.shape = tensor.shape
        stored.type = FLOAT16
        stored.buffer = len(model.buffers) - 1
        stored.name = (tensor.name.decode() if isinstance(tensor.name, (bytes, bytearray)) else str(tensor.name)) \
            + "_float16"
        graph.tensors.append(stored)
        old_buffer = tensor.buffer
        empty = schema.BufferT()  # the float32 tensor becomes the DEQUANTIZE's output: no data of its own
        model.buffers.append(empty)
        tensor.buffer = len(model.buffers) - 1
        if not any(t.buffer == old_buffer for t in graph.tensors):
            model.buffers[old_buffer].data = None  # drop the float32 bytes unless another tensor shares them
        convert = schema.OperatorT()
        convert.opcodeIndex = dequantize
        convert.inputs = [len(graph.tensors) - 1]
        convert.outputs = [index]
        new_ops.append(convert)
    graph.operators = new_ops + list(graph.operators)  # constants first keeps the order topological
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


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
