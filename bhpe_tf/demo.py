"""`make demo`: the main job of the project on its embedded default, end to end.

Stages (each prints where its outputs are):
1. binary core: every method preset of the table builds, converts with LCE and is verified binary.
Later stages (train -> convert -> benchmark -> inference) are appended as they land.
"""
import json
from pathlib import Path

from absl import app, flags

import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)

flags.DEFINE_string("workdir", "demo_out", "where the demo writes everything")


def stage_binary_core(workdir: Path) -> dict:
    import numpy as np
    import tensorflow as tf

    from bhpe_tf import binary as B
    from bhpe_tf.conversion import convert, max_abs_difference, op_census, trained_like_state

    rows = []
    for name in B.METHOD_NAMES:
        tf.keras.backend.clear_session()
        inputs = tf.keras.Input((16, 16, 32))
        x = B.conv_unit(inputs, 32, 3, method=name, name="conv_same")
        x = B.conv_unit(x, 64, 3, strides=2, method=name, name="conv_down")
        x = B.subpixel_conv_transpose(x, 32, method=name, name="deconv")
        x = B.binary_dense(tf.keras.layers.GlobalAveragePooling2D()(x), 16, method=name, name="fc")
        model = trained_like_state(tf.keras.Model(inputs, x))
        flatbuffer = convert(model)
        census = op_census(flatbuffer)
        diff, scale = max_abs_difference(model, flatbuffer, np.random.default_rng(0).normal(size=(1, 16, 16, 32)).astype(np.float32))
        rows.append({"method": name, "lce_bconv2d": census.lce_bconv2d, "float_fallbacks": len(census.float_fallbacks),
                     "max_rel_diff": diff / scale})
    print(f"{'method':<10}{'LceBconv2d':>12}{'fallbacks':>11}{'rel. diff':>12}")
    for row in rows:
        print(f"{row['method']:<10}{row['lce_bconv2d']:>12}{row['float_fallbacks']:>11}{row['max_rel_diff']:>12.2e}")
    (workdir / "binary_core.json").write_text(json.dumps(rows, indent=2))
    return {"binary_core": str(workdir / "binary_core.json")}


def main(argv):
    del argv
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # TensorFlow's SavedModel chatter hides the demo's tables
    workdir = Path(flags.FLAGS.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    outputs = {}
    print("== stage 1: binary core (every method preset -> LCE, verified binary)")
    outputs.update(stage_binary_core(workdir))
    print("\nOutputs:")
    for key, value in outputs.items():
        print(f"  {key}: {value}")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
