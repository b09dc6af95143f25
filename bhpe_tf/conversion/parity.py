"""Keras-vs-LCE parity: how to compare a binary network with its converted flatbuffer fairly.

A binary network is discontinuous at sign(0). Keras computes a +-alpha convolution as a float sum,
so an exact tie (integer sum 0 and no BN shift, common in an *untrained* model whose BN layers are
identities) comes out as +-1e-8 with an arbitrary sign, while LCE computes the integer exactly:
the two then binarize differently and the difference propagates. In a trained model the BN
statistics are non-degenerate and a tie has probability zero. :func:`trained_like_state` gives an
untrained model such statistics so that parity tests measure conversion error, not tie-breaking.
"""
import numpy as np
import tensorflow as tf

from bhpe_tf.conversion.lce import all_layers, predict

# Stated tolerance of Keras-vs-LCE parity, relative to the largest output magnitude: float32
# accumulation order differs (LCE folds BN into the conv's output transform), nothing else.
PARITY_RTOL = 1e-4


def trained_like_state(model: tf.keras.Model, *, seed: int = 0) -> tf.keras.Model:
    """Give every BatchNormalization layer random non-degenerate statistics, in place."""
    rng = np.random.default_rng(seed)
    for layer in all_layers(model):
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                rng.normal(0.0, 0.3, beta.shape).astype(np.float32),
                rng.normal(0.0, 0.5, mean.shape).astype(np.float32),
                rng.uniform(0.5, 2.0, var.shape).astype(np.float32),
            ])
    return model


def max_abs_difference(model: tf.keras.Model, flatbuffer: bytes, inputs, **interpreter_kwargs):
    """Largest |Keras - LCE| over all outputs, and the largest |Keras| (to make it relative)."""
    keras_out = model(inputs, training=False)
    if isinstance(keras_out, dict):
        # The lean SavedModel signature returns outputs keyed by Keras output names; TFLite orders
        # them by name, so compare in sorted-name order.
        keras_out = [keras_out[name] for name in sorted(keras_out)]
    elif not isinstance(keras_out, (list, tuple)):
        keras_out = [keras_out]
    lce_out = predict(flatbuffer, inputs, **interpreter_kwargs)
    diff = max(float(np.max(np.abs(np.asarray(k) - l))) for k, l in zip(keras_out, lce_out))
    scale = max(float(np.max(np.abs(np.asarray(k)))) for k in keras_out)
    return diff, scale
