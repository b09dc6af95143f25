"""Latency (median and spread) and size of ``.tflite`` files in LCE's interpreter, with ratios to the first.

    python converters/benchmark.py bihrnet.tflite hrnet_w32.tflite --threads 1,2 [--runs 20 --warmup 3] [--json]

LCE models run with LCE's default kernels and with ``use_indirect_bgemm``; float models with XNNPACK.
x86 timings are for relative comparison (LCE's optimised kernels target aarch64); on a phone use
``lce_benchmark_model --graph=... --num_threads=1`` (see :mod:`bhpe_tf.conversion.benchmark`).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import bhpe_tf  # noqa: E402,F401  (Keras 2 before TensorFlow)
from bhpe_tf.conversion.benchmark import define_flags, main, run  # noqa: E402,F401

if __name__ == "__main__":
    run()
