"""Small models built from the project's real builders, shared by the CLI tests."""
import tensorflow as tf


def tiny_keypoint_model(method, *, input_size=(64, 48)):
    """A few convs of the real builders (binary with ``method``, or FP) ending in 17 heatmaps at stride 4."""
    from bhpe_tf.binary import builders as B

    image = tf.keras.Input((*input_size, 3), name="image")
    x = B.fp_conv(image, 16, 3, strides=2, name="stem")
    x = B.conv_unit(x, 32, 3, method=method, name="block1")
    x = B.conv_unit(x, 32, 3, method=method, strides=2, name="block2")
    return tf.keras.Model(image, tf.keras.layers.Conv2D(17, 1, name="head")(x), name=f"tiny_{method}")
