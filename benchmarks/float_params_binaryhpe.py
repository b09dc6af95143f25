"""Where BinaryHPE's float parameters are: per module, binary vs float parameters and float conv / dense kernels.

    python benchmarks/float_params_binaryhpe.py [--method bidrn]

Builds the full-size convertible network (``include_smplx=False``, what LCE converts) and counts it with
:func:`bhpe_tf.counting.count_model` grouped by top-level module; "float kernels" are the conv / dense
kernels without a 1-bit kernel quantizer, the part that ``convert(..., float16_weights=True)`` halves.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bhpe_tf  # noqa: E402,F401  (Keras 2 before TensorFlow)
from absl import flags  # noqa: E402

from bhpe_tf import cli  # noqa: E402

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """This script's flags on ``flag_values`` (bhpe_tf.cli.run defines them)."""
    flags.DEFINE_string("method", "bidrn", "binarization method preset", flag_values=flag_values)


def float_kernels(model, prefix=""):
    """{module: float conv / dense kernel elements} over nested models."""
    import numpy as np
    import tensorflow as tf

    totals = {}
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            for key, value in float_kernels(layer, f"{prefix}{layer.name}/").items():
                totals[key] = totals.get(key, 0) + value
            continue
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and getattr(getattr(layer, "kernel_quantizer", None), "precision", None) != 1:
            key = f"{prefix}{layer.name}".split("/")[0]
            totals[key] = totals.get(key, 0) + int(np.prod(kernel.shape))
    return totals


def main(argv):
    del argv
    from bhpe_tf.counting import count_model
    from bhpe_tf.models.hand4whole import build_binaryhpe

    model = build_binaryhpe(method=FLAGS.method, include_smplx=False)
    counts = count_model(model, group=lambda name: name.split("/")[0])
    kernels = float_kernels(model)
    print(f"{'module':32s} {'binary M':>9s} {'float M':>9s} {'float kernels M':>16s}")
    for key, count in counts.items():
        if key != "total" and (count.binary_params or count.fp_params >= 1000):
            print(f"{key:32s} {count.binary_params / 1e6:9.3f} {count.fp_params / 1e6:9.3f} "
                  f"{kernels.get(key, 0) / 1e6:16.3f}")
    total = counts["total"]
    print(f"{'total':32s} {total.binary_params / 1e6:9.3f} {total.fp_params / 1e6:9.3f} "
          f"{sum(kernels.values()) / 1e6:16.3f}   (paper convention {total.params_m:.3f} M)")
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
