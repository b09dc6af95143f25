"""Keras -> LCE flatbuffer conversion and the LCE Python interpreter, with the checks users need.

The stock ``tf.lite.Interpreter`` cannot run LCE's custom ops; LCE's own interpreter can, on x86
too (its optimised kernels target aarch64, so x86 timings are for relative comparisons).
"""
import tempfile

import larq as lq
import numpy as np
import tensorflow as tf

from bhpe_tf.binary.methods import METHODS
from bhpe_tf.errors import ConversionError
from bhpe_tf.runtime.predictors import lce_interpreter

LCE_OPS = ("LceBconv2d", "LceQuantize", "LceDequantize", "LceBMaxPool2d")


def binary_layers(model: tf.keras.Model):
    """The layers that must become LceBconv2d: Larq conv/dense layers with both quantizers set."""
    found = []
    for layer in all_layers(model):
        if isinstance(layer, lq.layers.QuantizerBase) and getattr(layer, "input_quantizer", None) is not None \
                and getattr(layer, "kernel_quantizer", None) is not None:
            found.append(layer)
    return found


def float_fallback_layers(model: tf.keras.Model):
    """Larq layers that LCE is known to run in float although their quantizers are binary."""
    fallback_types = (lq.layers.QuantDense, lq.layers.QuantConv2DTranspose, lq.layers.QuantDepthwiseConv2D,
                      lq.layers.QuantSeparableConv2D, lq.layers.QuantConv1D, lq.layers.QuantConv3D)
    return [layer for layer in binary_layers(model) if isinstance(layer, fallback_types)]


def float_only_parts(model: tf.keras.Model):
    """``(layer name, what)`` for every part of a papers' float-only preset form in ``model``: a layer
    or input quantizer with an ``lce_refusal`` (XNOR-Net's K, DoReFa's {0, 1} activations), which LCE
    can only run in float."""
    found = []
    for layer in all_layers(model):
        for part in (layer, getattr(layer, "input_quantizer", None)):
            what = getattr(part, "lce_refusal", None)
            if what:
                found.append((layer.name, what))
    return found


def all_layers(model: tf.keras.Model):
    """Every layer of ``model``, nested models' layers included (depth first)."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, tf.keras.Model):
            yield from all_layers(layer)


def pad_folding_convs(model: tf.keras.Model):
    """Strided 'valid' ``Conv2D`` layers fed by a ``ZeroPadding2D``: PyTorch-compatible padding
    (``bhpe_tf.binary.builders.fp_conv`` under ``padding="torch"``, the padding of imported weights).

    LCE 0.16's converter folds ``PAD -> CONV_2D(valid, stride 2)`` into ``CONV_2D(same)``, which pads
    bottom/right only: a different function (measured: max error 2.4 on unit-variance input), while
    the stock TFLite converter keeps the PAD and is exact."""
    found = []
    for layer in all_layers(model):
        if not isinstance(layer, tf.keras.layers.Conv2D) or layer.padding != "valid" or max(layer.strides) == 1:
            continue
        inbound = [node.inbound_layers for node in getattr(layer, "_inbound_nodes", [])]
        flat = [item for group in inbound for item in (group if isinstance(group, (list, tuple)) else [group])]
        if any(isinstance(item, tf.keras.layers.ZeroPadding2D) for item in flat):
            found.append(layer)
    return found


def check_lce_padding(model: tf.keras.Model):
    """Refuse (``ConversionError``) an LCE conversion that would fold PyTorch-style padding wrongly."""
    folded = pad_folding_convs(model)
    if folded:
        names = ", ".join(layer.name for layer in folded[:3]) + (" ..." if len(folded) > 3 else "")
        raise ConversionError(f"{len(folded)} strided convs use PyTorch-compatible padding (explicit PAD before a "
                              f"'valid' conv: {names}), which LCE 0.16 folds into a 'same' conv that pads "
                              "bottom/right only, a different function; convert this full-precision model with the "
                              "stock TFLite converter (--converter tflite, the default for full precision; no --int8)")


def check_convertible(model: tf.keras.Model, *, allow_float_fallback: bool = False):
    """Refuse (``ConversionError``) unfixed input sizes and layers LCE would silently run in float."""
    for tensor in model.inputs:
        if any(dim is None for dim in tensor.shape[1:]):
            raise ConversionError(f"input {tensor.name!r} has shape {tuple(tensor.shape)}: LCE needs fixed "
                                  "spatial dimensions; rebuild the model with a fixed input size")
    float_only = float_only_parts(model)
    if float_only and not allow_float_fallback:
        names = ", ".join(name for name, _ in float_only[:3]) + (" ..." if len(float_only) > 3 else "")
        variants = ", ".join(f"{m.name} -> {m.lce_variant}" for m in METHODS.values() if not m.lce_deployable)
        raise ConversionError(f"this model uses {float_only[0][1]} ({len(float_only)} layers: {names}); it "
                              f"cannot run as LCE binary ops. Train and convert the preset's LCE form instead "
                              f"({variants}), or pass allow_float_fallback to accept float execution")
    bad = float_fallback_layers(model)
    if bad and not allow_float_fallback:
        names = ", ".join(f"{layer.name} ({type(layer).__name__})" for layer in bad)
        raise ConversionError(f"these binary layers would run in float after LCE conversion: {names}. "
                              "Use bhpe_tf.binary.binary_dense / subpixel_conv_transpose instead, or pass "
                              "allow_float_fallback to accept float execution")


def lean_saved_model(model: tf.keras.Model, directory) -> None:
    """Save ``model`` as a SavedModel of its variables and one traced inference function.

    ``lce.convert_keras_model`` / ``TFLiteConverter.from_keras_model`` first export a *Keras*
    SavedModel, which traces every layer's call (with AutoGraph) for its own restoration: ~200 s
    for a small binary HRNet on a 2-core machine, against ~25 s this way, for the same graph. The
    signature takes batch-1 inputs (what the converters fix anyway) and returns a dict keyed by the
    Keras output names, as the Keras path does, so outputs can be mapped back by name.
    """
    specs = [tf.TensorSpec((1, *tensor.shape[1:]), tensor.dtype, name=tensor.name.split(":")[0])
             for tensor in model.inputs]
    names = list(model.output_names)

    def serve(*inputs):
        outputs = model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)
        if isinstance(outputs, dict):
            return {name: outputs[name] for name in names}
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return dict(zip(names, outputs))

    module = tf.Module()
    module.model_variables = list(model.variables)
    module.serve = tf.function(serve, input_signature=specs, autograph=False)
    tf.saved_model.save(module, str(directory), signatures=module.serve)


def convert(model: tf.keras.Model, *, target: str = "arm", int8_range=None,
            inference_input_type=tf.float32, allow_float_fallback: bool = False,
            float16_weights: bool = False) -> bytes:
    """Convert a Keras model with LCE; refuse (``ConversionError``) layers LCE would run in float.

    The refusal happens before conversion and names the offending layers, unless
    ``allow_float_fallback`` is set. Spatial dimensions of the input must be fixed.
    ``float16_weights``: store the float convs' / dense layers' weights as float16 (half their bytes,
    computed in float32; :mod:`bhpe_tf.conversion.weight_storage`); not with ``int8_range``.
    """
    if float16_weights and int8_range is not None:
        raise ConversionError("float16_weights and int8 ranges exclude each other: int8 already stores the float "
                              "parts in 8 bits")
    flatbuffer = _convert_lce(model, target=target, int8_range=int8_range, inference_input_type=inference_input_type,
                              allow_float_fallback=allow_float_fallback)
    if float16_weights:
        from bhpe_tf.conversion.weight_storage import float16_weights as to_float16

        flatbuffer = to_float16(flatbuffer)
    return flatbuffer


def _convert_lce(model, *, target, int8_range, inference_input_type, allow_float_fallback) -> bytes:
    import larq_compute_engine as lce

    check_convertible(model, allow_float_fallback=allow_float_fallback)
    check_lce_padding(model)
    with tempfile.TemporaryDirectory() as directory:
        lean_saved_model(model, directory)
        return lce.convert_saved_model(directory, inference_input_type=inference_input_type,
                                       inference_output_type=tf.float32, target=target,
                                       experimental_default_int8_range=int8_range)


def convert_float(model: tf.keras.Model) -> bytes:
    """Plain float32 TFLite flatbuffer with the stock converter (for full-precision models)."""
    check_convertible(model)
    with tempfile.TemporaryDirectory() as directory:
        lean_saved_model(model, directory)
        return tf.lite.TFLiteConverter.from_saved_model(directory).convert()


def convert_int8(model: tf.keras.Model, representative) -> bytes:
    """Full-integer post-training quantisation with the stock converter (int8 weights and activations,
    float32 input / output so that it is a drop-in for :func:`convert_float`'s file).

    ``representative``: an iterable of input arrays of the model's (batch-1) input shape, the
    calibration set (``TFLiteConverter.representative_dataset``). Ops without an int8 kernel make the
    conversion fail (``TFLITE_BUILTINS_INT8`` only) rather than silently stay in float."""
    check_convertible(model)
    samples = [np.asarray(x, np.float32) for x in representative]
    if not samples:
        raise ConversionError("int8 post-training quantisation needs at least one representative input")
    want = (1, *model.inputs[0].shape[1:])
    for x in samples:
        if tuple(x.shape) != tuple(want):
            raise ConversionError(f"representative input has shape {tuple(x.shape)}, the model takes {want}")
    with tempfile.TemporaryDirectory() as directory:
        lean_saved_model(model, directory)
        converter = tf.lite.TFLiteConverter.from_saved_model(directory)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x] for x in samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32
        return converter.convert()


def predict(flatbuffer: bytes, inputs, **interpreter_kwargs):
    """Run the flatbuffer on one batch; returns a list of outputs (one array per model output)."""
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    interp = lce_interpreter(flatbuffer, **interpreter_kwargs)
    outputs = [[] for _ in interp.output_types]
    batch = inputs[0].shape[0]
    # The LCE interpreter is built for batch 1 models; feed the batch one sample at a time.
    for i in range(batch):
        result = interp.predict([np.asarray(x[i:i + 1]) for x in inputs] if len(inputs) > 1 else
                                np.asarray(inputs[0][i:i + 1]))
        result = result if isinstance(result, list) else [result]
        for store, value in zip(outputs, result):
            store.append(value)
    return [np.concatenate(store, axis=0) for store in outputs]
