"""The Keras-2 guard of ``import bhpe_tf`` (Larq cannot work with Keras 3)."""
import os
import subprocess
import sys
import textwrap

import pytest


def _run(code: str, **env_changes):
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                          text=True, timeout=300)


def test_import_selects_keras2_and_larq_works():
    result = _run("""
        import bhpe_tf, tensorflow as tf, larq as lq
        import tf_keras
        assert tf.keras.layers.Layer.__module__.startswith("tf_keras") and tf_keras.__version__.startswith("2.")
        layer = lq.layers.QuantConv2D(4, 3, input_quantizer="ste_sign", kernel_quantizer="ste_sign")
        print("ok", tf_keras.__version__)
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok 2." in result.stdout


def test_tensorflow_imported_first_but_keras_untouched_still_works():
    result = _run("""
        import tensorflow as tf
        import bhpe_tf
        assert tf.keras.layers.Layer.__module__.startswith("tf_keras")
        print("ok")
    """)
    assert result.returncode == 0, result.stderr[-2000:]


def test_keras3_already_bound_raises_clear_import_error():
    result = _run("""
        import tensorflow as tf
        tf.keras.layers  # binds tf.keras to Keras 3
        try:
            import bhpe_tf
        except ImportError as err:
            print("IMPORT-ERROR:", err)
        else:
            print("no error")
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "IMPORT-ERROR:" in result.stdout
    message = result.stdout.split("IMPORT-ERROR:", 1)[1]
    assert "TF_USE_LEGACY_KERAS=1" in message and "Keras 3." in message
