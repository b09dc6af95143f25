"""bhpe-tf: binarized human pose and shape estimation in TensorFlow/Keras with Larq.

Larq 0.14 and Larq Compute Engine 0.16 only work with Keras 2 (the ``tf-keras`` package).
TensorFlow 2.16 picks Keras 2 for ``tf.keras`` only when ``TF_USE_LEGACY_KERAS=1`` is set
before ``tf.keras`` is first touched, so importing this package sets it and then checks that
it took effect.
"""
import os as _os
import sys as _sys

__version__ = "0.1.0"

_os.environ["TF_USE_LEGACY_KERAS"] = "1"
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_KERAS3_MESSAGE = (
    "bhpe_tf needs Keras 2 (tf-keras) but TensorFlow was already imported and tf.keras resolved "
    "to Keras {version}. Set TF_USE_LEGACY_KERAS=1 in the environment before Python starts "
    "(e.g. `export TF_USE_LEGACY_KERAS=1`), or import bhpe_tf before anything touches tf.keras."
)


def _check_keras2():
    """Raise ImportError when tf.keras is Keras 3 (Larq cannot work with it)."""
    import tensorflow as tf  # noqa: F401  (env var is already set above)

    # tf.keras's layers come from the tf_keras package (Keras 2) when the switch took effect.
    if not tf.keras.layers.Layer.__module__.startswith("tf_keras"):
        version = getattr(tf.keras, "__version__", "3")
        raise ImportError(_KERAS3_MESSAGE.format(version=version))


if "tensorflow" in _sys.modules:
    # TensorFlow was imported first: tf.keras may already be bound to Keras 3.
    _check_keras2()
