"""Convert a trained model to a verified ``.tflite`` + model card for Larq Compute Engine.

    python converters/convert.py --model bihrnet --method bidrn --checkpoint runs/bihrnet/ckpt-210 \
        --output bihrnet.tflite --uint8_input [--input_hw 256,192] [--int8 | --float_weights float16|int8] \
        [--allow_float_fallback]

Binary models go through LCE, full-precision ones through the stock TFLite converter (``--converter``).
The conversion is refused when a binary layer would run in float (unless ``--allow_float_fallback``),
when a binary layer did not become ``LceBconv2d``, or when the converted model's output differs from
Keras on a seeded input beyond the tolerance. ``--float_weights float16`` (or ``int8``, per output
channel) stores the float convs' / dense layers' weights in half (a quarter) of their bytes (BiDRN's
file is mostly such weights): the float32 conversion passes those checks first, then the written
file is checked again (parity against ``--float_weights_parity_rtol``) and its card says
``"float_weights": "float16"`` (``"int8"``). Writes ``OUT.tflite``
and ``OUT.json`` (the model card the Android app and ``python -m bhpe_tf.infer`` read). Library:
:mod:`bhpe_tf.conversion.export`.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import bhpe_tf  # noqa: E402,F401  (Keras 2 before TensorFlow)
from bhpe_tf.conversion.export import define_flags, main, run  # noqa: E402,F401

if __name__ == "__main__":
    run()
