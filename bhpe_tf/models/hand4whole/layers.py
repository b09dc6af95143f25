"""Hand4Whole's parameter-free layers: soft-argmax read-outs, feature sampling, box restoring, RoI
crops, the camera translation, the left-hand un-flips and the batch-axis hand stacking.

Each is registered under the package ``"bhpe_tf"`` so that saved ``.keras`` models load without
``custom_objects``.
"""
import numpy as np
import tensorflow as tf


def keras_serializable(cls):
    """Register ``cls`` for deserialisation under the project's package name."""
    return tf.keras.utils.register_keras_serializable(package="bhpe_tf")(cls)


@keras_serializable
class NearestDownsample(tf.keras.layers.Layer):
    """``F.interpolate(img, size=(H/f, W/f))`` (nearest, PyTorch default): picks pixel f*i."""

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, inputs):
        return inputs[:, ::self.factor, ::self.factor, :]

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _index_table(*sizes):
    """Coordinates (fastest axis first) of every cell of a row-major grid of ``sizes``."""
    grids = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in sizes], indexing="ij")
    return np.stack([g.reshape(-1) for g in reversed(grids)], axis=-1)


@keras_serializable
class SoftArgmax3D(tf.keras.layers.Layer):
    """Hand4Whole's PositionNet read-out: ``J`` volumes of ``D`` bins from ``(N,H,W,J*D)`` logits.

    Channel ``j*D + d`` is bin ``d`` of joint ``j`` (PyTorch's ``view(N, J, D, H, W)`` of the 1x1
    conv). Softmax over each whole volume, coordinates = expectation of the cell indices
    (``soft_argmax_3d``). Returns ``coords (N,J,3)`` as (x, y, z) in cells and the probabilities in
    the input layout ``(N,H,W,J*D)`` (what BoxNet takes).
    """

    def __init__(self, joints: int, depth: int, **kwargs):
        super().__init__(**kwargs)
        self.joints, self.depth = int(joints), int(depth)

    def call(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        cells = height * width * self.depth
        x = tf.reshape(inputs, [-1, height * width, self.joints, self.depth])
        x = tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [-1, self.joints, cells])
        prob = tf.nn.softmax(x, axis=-1)
        table = tf.constant(_index_table(height, width, self.depth)[:, [1, 2, 0]])  # (x, y, z) per cell
        coords = tf.matmul(prob, tf.broadcast_to(table, [tf.shape(prob)[0], cells, 3]))
        heatmap = tf.transpose(tf.reshape(prob, [-1, self.joints, height * width, self.depth]), [0, 2, 1, 3])
        return coords, tf.reshape(heatmap, [-1, height, width, self.joints * self.depth])

    def get_config(self):
        return {**super().get_config(), "joints": self.joints, "depth": self.depth}


@keras_serializable
class SoftArgmax2D(tf.keras.layers.Layer):
    """``soft_argmax_2d``: ``(N,H,W,K)`` logits -> ``(N,K,2)`` expected (x, y) in pixels."""

    def call(self, inputs):
        height, width, parts = inputs.shape[1], inputs.shape[2], inputs.shape[3]
        x = tf.transpose(tf.reshape(inputs, [-1, height * width, parts]), [0, 2, 1])
        prob = tf.nn.softmax(x, axis=-1)
        table = tf.constant(_index_table(height, width))  # (x, y) per pixel
        return tf.matmul(prob, tf.broadcast_to(table, [tf.shape(prob)[0], height * width, 2]))


@keras_serializable
class SamplePoints(tf.keras.layers.Layer):
    """Bilinear feature sampling at points: Hand4Whole's ``sample_joint_features``.

    ``[feature (N,H,W,C), xy (N,K,2)]`` -> ``(N,K,C)``. Points are pixel-index coordinates
    (``grid_sample(align_corners=True)``, zero padding). Written as the tent kernel
    ``max(0, 1-|x-i|) max(0, 1-|y-j|)`` times the feature map (a batched matmul): exactly bilinear
    interpolation with zero padding, with builtin TFLite ops only and no gathers.
    """

    def call(self, inputs):
        feature, xy = inputs
        height, width, channels = feature.shape[1], feature.shape[2], feature.shape[3]
        wx = tf.nn.relu(1.0 - tf.abs(xy[..., 0:1] - tf.range(width, dtype=xy.dtype)))  # (N,K,W)
        wy = tf.nn.relu(1.0 - tf.abs(xy[..., 1:2] - tf.range(height, dtype=xy.dtype)))  # (N,K,H)
        weights = tf.reshape(wy[..., :, None] * wx[..., None, :], [-1, xy.shape[1], height * width])
        return tf.matmul(weights, tf.reshape(feature, [-1, height * width, channels]))


@keras_serializable
class RestoreBox(tf.keras.layers.Layer):
    """Hand4Whole's ``restore_bbox``: (centre, size) in body-grid cells -> enlarged box, xyxy in
    input-image pixels. The box grows to the crop's aspect ratio (square for hands and face) around
    its centre, then scales by ``extension`` (2.0 hands, 1.5 face)."""

    def __init__(self, grid, image, aspect: float, extension: float, **kwargs):
        super().__init__(**kwargs)
        self.grid, self.image = tuple(grid), tuple(image)
        self.aspect, self.extension = float(aspect), float(extension)

    def call(self, inputs):
        center, size = inputs
        scale = tf.constant([self.image[1] / self.grid[1], self.image[0] / self.grid[0]], center.dtype)
        center, size = center * scale, size * scale
        w, h = size[:, 0], size[:, 1]
        # Grow the short side (PyTorch's masked assignment: only where the aspect differs).
        h = tf.where(w > self.aspect * h, w / self.aspect, h)
        w = tf.where(w < self.aspect * h, h * self.aspect, w)
        half = tf.stack([w, h], axis=-1) * (self.extension / 2.0)
        return tf.concat([center - half, center + half], axis=-1)

    def get_config(self):
        return {**super().get_config(), "grid": list(self.grid), "image": list(self.image),
                "aspect": self.aspect, "extension": self.extension}


def _axis_taps(coords, size):
    """torchvision RoIAlign's bilinear taps along one axis: low/high index and weights.

    A sample beyond one pixel outside (< -1 or > size) contributes 0; otherwise the coordinate is
    clamped to [0, size-1] (so the border pixel extends by one pixel)."""
    valid = tf.cast((coords >= -1.0) & (coords <= float(size)), coords.dtype)
    coords = tf.clip_by_value(coords, 0.0, float(size - 1))
    low = tf.floor(coords)
    frac = coords - low
    low = tf.cast(low, tf.int32)
    high = tf.minimum(low + 1, size - 1)
    return low, high, (1.0 - frac) * valid, frac * valid


@keras_serializable
class RoICrop(tf.keras.layers.Layer):
    """RoIAlign-equivalent crop: ``[image (N,H,W,C), boxes (N,4) xyxy pixels]`` -> ``(N,h,w,C)``.

    Hand4Whole crops with ``torchvision.ops.roi_align(img, boxes, (h, w), aligned=False)``: output
    pixel (i, j) samples ``y1 + (i + 0.5) * bin_h`` (``bin_h = max(y2 - y1, 1) / h``; no -0.5 shift
    with ``aligned=False``) and likewise x, bilinearly (pixel centres at integer coordinates).
    The same positions are ``tf.image.crop_and_resize`` with normalised box
    ``[(y1 + bin_h/2) / (H-1), (x1 + bin_w/2) / (W-1), (y2 - bin_h/2) / (H-1), (x2 - bin_w/2) / (W-1)]``
    (its samples are ``y1' + i (y2' - y1') / (h - 1)`` in pixels); the two differ only at the border
    (torchvision clamps samples up to one pixel outside to the edge and zeroes the rest,
    ``crop_and_resize`` zeroes everything outside) and for boxes larger than the crop, where
    torchvision's adaptive ``sampling_ratio`` averages ceil(box/crop)^2 samples per pixel and this
    layer takes one (at the default sizes hand and face boxes are rarely that large).

    ``crop_and_resize`` has no TFLite builtin, so the crop is written as two separable gathers
    (rows then columns): builtin ops only, LCE-convertible. ``mirror=True`` flips the crop
    horizontally (``torch.flip(crop, [3])``, Hand4Whole's left hand) by reversing the sample order.
    """

    def __init__(self, size, mirror: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.size, self.mirror = tuple(int(s) for s in size), bool(mirror)

    def call(self, inputs):
        image, boxes = inputs
        height, width = image.shape[1], image.shape[2]
        out_h, out_w = self.size
        x1, y1, x2, y2 = tf.unstack(boxes, axis=-1)
        steps_h = (tf.range(out_h, dtype=boxes.dtype) + 0.5) / out_h
        steps_w = (tf.range(out_w, dtype=boxes.dtype) + 0.5) / out_w
        if self.mirror:
            steps_w = steps_w[::-1]
        ys = y1[:, None] + steps_h * tf.maximum(y2 - y1, 1.0)[:, None]  # (N,h)
        xs = x1[:, None] + steps_w * tf.maximum(x2 - x1, 1.0)[:, None]  # (N,w)
        low, high, w_low, w_high = _axis_taps(ys, height)
        rows = (tf.gather(image, low, axis=1, batch_dims=1) * w_low[:, :, None, None]
                + tf.gather(image, high, axis=1, batch_dims=1) * w_high[:, :, None, None])
        low, high, w_low, w_high = _axis_taps(xs, width)
        return (tf.gather(rows, low, axis=2, batch_dims=1) * w_low[:, None, :, None]
                + tf.gather(rows, high, axis=2, batch_dims=1) * w_high[:, None, :, None])

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "mirror": self.mirror}


@keras_serializable
class CameraTranslation(tf.keras.layers.Layer):
    """Hand4Whole's ``get_camera_trans``: ``(t_x, t_y, gamma)`` -> ``(t_x, t_y, k sigmoid(gamma))``."""

    def __init__(self, depth_scale: float, **kwargs):
        super().__init__(**kwargs)
        self.depth_scale = float(depth_scale)

    def call(self, inputs):
        return tf.concat([inputs[:, :2], self.depth_scale * tf.sigmoid(inputs[:, 2:3])], axis=-1)

    def get_config(self):
        return {**super().get_config(), "depth_scale": self.depth_scale}


# Sign flips of a row-major 3x2 6D rotation under the mirror M = diag(-1, 1, 1): see unflip_6d.
_UNFLIP_6D = np.array([1.0, -1.0, -1.0, 1.0, -1.0, 1.0], np.float32)


def unflip_6d(rot6d):
    """Mirror a 6D rotation back: the 6D of ``M R M`` (M = diag(-1,1,1)) from the 6D of ``R``.

    Hand4Whole un-flips the left hand after 6D -> axis-angle as (x, y, z) -> (x, -y, -z), i.e.
    ``R -> M R M``. On the 6D input A = [a1 a2] (3x2, columns) that is [-M a1, M a2]: Gram-Schmidt
    gives [-M b1, M b2] and the cross product ``(-M b1) x (M b2) = M (b1 x b2)`` (det M = -1), so
    the matrix is exactly ``M R M``. In row-major order this is a sign flip of entries 1, 2 and 4.
    """
    return rot6d * _UNFLIP_6D


@keras_serializable
class Unflip6D(tf.keras.layers.Layer):
    """:func:`unflip_6d` as a layer (a constant multiply)."""

    def call(self, inputs):
        return unflip_6d(inputs)


@keras_serializable
class MirrorBack(tf.keras.layers.Layer):
    """Un-mirror left-hand PositionNet outputs and features (Hand4Whole's flip back).

    ``coords (N,J,3)`` -> x becomes ``width - 1 - x``; ``feature (N,H,W,C)`` flipped along W."""

    def __init__(self, width: int, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)

    def call(self, inputs):
        coords, feature = inputs
        coords = tf.concat([self.width - 1.0 - coords[..., :1], coords[..., 1:]], axis=-1)
        return coords, tf.reverse(feature, axis=[2])

    def get_config(self):
        return {**super().get_config(), "width": self.width}


@keras_serializable
class SplitHands(tf.keras.layers.Layer):
    """``(2N, ...)`` -> left ``(N, ...)``, right ``(N, ...)`` (inverse of the batch concat)."""

    def call(self, inputs):
        return tuple(tf.split(inputs, 2, axis=0))


@keras_serializable
class StopGradient(tf.keras.layers.Layer):
    """``detach()``: Hand4Whole stops gradients into boxes, BoxNet heatmaps and joint coordinates."""

    def call(self, inputs):
        return tf.stop_gradient(inputs)


@keras_serializable
class TakeIndex(tf.keras.layers.Layer):
    """``x[:, index]``."""

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, inputs):
        return inputs[:, self.index]

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras_serializable
class GatherJoints(tf.keras.layers.Layer):
    """``x[:, indices]`` along the joint axis."""

    def __init__(self, indices, **kwargs):
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]

    def call(self, inputs):
        return tf.gather(inputs, self.indices, axis=1)

    def get_config(self):
        return {**super().get_config(), "indices": self.indices}


@keras_serializable
class StackHands(tf.keras.layers.Layer):
    """Left and right hand crops on one batch axis ``(2N, ...)``, left first (Hand4Whole's HandRoI)."""

    def call(self, inputs):
        return tf.concat(list(inputs), axis=0)
