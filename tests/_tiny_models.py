"""Small models built from the project's real builders, shared by the CLI tests."""
import tensorflow as tf


def tiny_keypoint_model(method, *, input_hw=(64, 48)):
    """A few convs of the real builders (binary with ``method``, or FP) ending in 17 heatmaps at stride 4."""
    from bhpe_tf.binary import builders as B

    image = tf.keras.Input((*input_hw, 3), name="image")
    x = B.fp_conv(image, 16, 3, strides=2, name="stem")
    x = B.conv_unit(x, 32, 3, method=method, name="block1")
    x = B.conv_unit(x, 32, 3, method=method, strides=2, name="block2")
    return tf.keras.Model(image, tf.keras.layers.Conv2D(17, 1, name="head")(x), name=f"tiny_{method}")


def tiny_heatmap_builder(*, input_shape=(32, 32, 3), num_joints=17, method="fp", name=None, **_hrnet_options):
    """A stand-in for ``build_hrnet_w32`` with the same keyword interface (the HRNet size options are
    ignored): :func:`tiny_keypoint_model`'s layers ending in ``num_joints`` heatmaps at stride 4.

    The fault-injection tests run the real trainer (task, data, loss, optimizer, checkpoints,
    validation, exports) in many short processes; with this network a process takes seconds to
    reach its first step instead of the ~20 s a reduced HRNet's gradient takes to trace."""
    from bhpe_tf.binary import builders as B

    image = tf.keras.Input(tuple(input_shape), name="image")
    x = B.fp_conv(image, 8, 3, strides=2, name="stem")
    x = B.conv_unit(x, 8, 3, method=method, name="block1")
    x = B.conv_unit(x, 8, 3, method=method, strides=2, name="block2")
    return tf.keras.Model(image, tf.keras.layers.Conv2D(int(num_joints), 1, name="head")(x), name=name or "tiny_heatmap")


def use_tiny_heatmap_model(monkeypatch=None):
    """Register :func:`tiny_heatmap_builder` as the builder of ``hrnet_w32`` (in this process)."""
    import dataclasses

    from bhpe_tf.models import registry

    entry = dataclasses.replace(registry.MODELS["hrnet_w32"], builder_path="_tiny_models:tiny_heatmap_builder")
    if monkeypatch is not None:
        monkeypatch.setitem(registry.MODELS, "hrnet_w32", entry)
    else:
        registry.MODELS["hrnet_w32"] = entry
