"""Full-precision helper layers of binary networks (all registered for save/load).

These are the small real-valued pieces that make modern BNNs work: a learnable threshold in front
of the sign (RSign), a learnable non-linearity after BN (RPReLU), the ReCU output scale and the
parameter-free residual paths of BiDRN's Local Convolution Residual.
"""
import larq as lq
import tensorflow as tf


@lq.utils.register_keras_custom_object
class LearnableBias(tf.keras.layers.Layer):
    """Per-channel learnable shift ``x + b`` (zeros init).

    Placed in front of a sign it is ReActNet's RSign threshold (Liu et al., ECCV 2020, eq. 2):
    sign(x - alpha) with a learnable per-channel alpha.
    """

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(int(input_shape[-1]),), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        return inputs + self.bias


@lq.utils.register_keras_custom_object
class RPReLU(tf.keras.layers.Layer):
    """ReActNet's RPReLU (Liu et al., ECCV 2020, eq. 3): ``PReLU(x - gamma) + zeta`` per channel.

    The slope starts at 0.25 (PyTorch's ``nn.PReLU`` default, used by ReActNet) rather than Keras'
    0, which would make it a ReLU at initialisation. TFLite runs it as ADD -> PRELU -> ADD.
    """

    def __init__(self, slope_init: float = 0.25, **kwargs):
        super().__init__(**kwargs)
        self.slope_init = slope_init

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.shift_in = self.add_weight(name="gamma", shape=(channels,), initializer="zeros")
        self.slope = self.add_weight(
            name="slope", shape=(channels,), initializer=tf.keras.initializers.Constant(self.slope_init))
        self.shift_out = self.add_weight(name="zeta", shape=(channels,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        x = inputs - self.shift_in
        return tf.maximum(x, 0.0) + self.slope * tf.minimum(x, 0.0) + self.shift_out

    def get_config(self):
        return {**super().get_config(), "slope_init": self.slope_init}


@lq.utils.register_keras_custom_object
class ChannelScale(tf.keras.layers.Layer):
    """Learnable per-channel output scale alpha of ReCU's binary conv (output * alpha).

    ReCU initialises alpha uniformly in [0, 1); BN follows, so alpha only matters for the gradient
    balance, and LCE folds the multiply into the binary conv's output transform.
    """

    def build(self, input_shape):
        self.alpha = self.add_weight(
            name="alpha", shape=(int(input_shape[-1]),),
            initializer=tf.keras.initializers.RandomUniform(0.0, 1.0))
        super().build(input_shape)

    def call(self, inputs):
        return inputs * self.alpha


@lq.utils.register_keras_custom_object
class ChannelGroupMean(tf.keras.layers.Layer):
    """BiDRN's Fusion Down residual (FDR): C channels -> C/r by averaging r consecutive groups.

    Channel j of the output is mean_k x[..., k*C/r + j], k = 0..r-1: the parameter-free way to carry
    a full-precision residual past a 1x1 reduction conv (BinaryHPE, Li et al. 2023, LCR variants).
    """

    def __init__(self, groups: int, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, inputs):
        return tf.add_n(tf.split(inputs, self.groups, axis=-1)) * (1.0 / self.groups)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape[:-1]).concatenate([input_shape[-1] // self.groups])

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@lq.utils.register_keras_custom_object
class ChannelRepeat(tf.keras.layers.Layer):
    """BiDRN's Fusion Up residual (FUR): C channels -> rC by concatenating r copies of x."""

    def __init__(self, repeats: int, **kwargs):
        super().__init__(**kwargs)
        self.repeats = repeats

    def call(self, inputs):
        return tf.concat([inputs] * self.repeats, axis=-1)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape[:-1]).concatenate([input_shape[-1] * self.repeats])

    def get_config(self):
        return {**super().get_config(), "repeats": self.repeats}


@lq.utils.register_keras_custom_object
class PhaseInterleave(tf.keras.layers.Layer):
    """Interleave the four output phases of a sub-pixel transposed convolution.

    Input: the (H+1)x(W+1)x4F output of a 2x2 'valid' conv over the 1-padded feature map. Phase
    (a, b) (a, b in {0, 1}) owns channels [(2a+b)F, (2a+b+1)F) and reads window offset (a, b);
    depth-to-space with block 2 then puts phase (a, b) at output pixel (2m+a, 2n+b).
    See :func:`bhpe_tf.binary.builders.subpixel_conv_transpose`.
    """

    def call(self, inputs):
        height, width = inputs.shape[1] - 1, inputs.shape[2] - 1
        filters = inputs.shape[-1] // 4
        phases = []
        for row in (0, 1):
            for col in (0, 1):
                group = 2 * row + col
                phases.append(inputs[:, row:row + height, col:col + width, group * filters:(group + 1) * filters])
        return tf.nn.depth_to_space(tf.concat(phases, axis=-1), 2)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return tf.TensorShape([n, None if h is None else 2 * (h - 1), None if w is None else 2 * (w - 1), c // 4])


@lq.utils.register_keras_custom_object
class ChannelSlice(tf.keras.layers.Layer):
    """Channels ``[start, stop)`` of a feature map: the real-valued shortcut of a conv that writes one
    channel slice of a block's output (the hierarchical MS-Block, :func:`bhpe_tf.models.hrnet.ms_block`).
    A layer rather than tensor slicing so that ``.keras`` files round-trip without custom code."""

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, inputs):
        return inputs[:, :, :, self.start:self.stop]

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape[:-1]).concatenate([self.stop - self.start])

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@lq.utils.register_keras_custom_object
class XnorActivationScale(tf.keras.layers.Layer):
    r"""XNOR-Net's activation scaling K (Rastegari et al., ECCV 2016, sec. 3.2, eq. 11):
    ``I * W ~ (sign(I) (*) sign(W)) . K alpha`` with K = A * k, A = mean_c |I| (the mean absolute
    input over channels, one value per pixel) and k the k_h x k_w box filter 1 / (k_h k_w), applied
    with the conv's stride, dilation and padding (zero padding, as the paper's conv of A with k).

    Called on ``[conv_input, conv_output]``: returns ``conv_output * K`` (K broadcast over the
    output channels). K is differentiated like any real-valued function of the input; the paper's
    gradient (sec. 3.2) treats the sign only. K is data-dependent and full precision, so a network
    with it cannot run on LCE's binary conv alone: the converter refuses it and the ``xnor_nok``
    preset (no K, what Bi-Real / ReActNet / LCE deploy) is its deployable neighbour.
    """

    lce_refusal = "XNOR-Net's data-dependent activation scaling K, a float computation LCE cannot fold"

    def __init__(self, kernel_size, strides=1, dilation_rate=1, padding="same", **kwargs):
        super().__init__(**kwargs)
        as_pair = lambda v: tuple(int(x) for x in (v if isinstance(v, (list, tuple)) else (v, v)))  # noqa: E731
        self.kernel_size, self.strides, self.dilation_rate = map(as_pair, (kernel_size, strides, dilation_rate))
        self.padding = str(padding).lower()

    def call(self, inputs):
        conv_input, conv_output = inputs
        mean_abs = tf.reduce_mean(tf.abs(conv_input), axis=-1, keepdims=True)
        box = tf.fill((*self.kernel_size, 1, 1), 1.0 / (self.kernel_size[0] * self.kernel_size[1]))
        scale = tf.nn.conv2d(mean_abs, box, strides=(1, *self.strides, 1), padding=self.padding.upper(),
                             dilations=(1, *self.dilation_rate, 1))
        return conv_output * scale

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape[1])

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "dilation_rate": self.dilation_rate, "padding": self.padding}
