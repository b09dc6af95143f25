"""Hand4Whole and BinaryHPE: 3D whole-body mesh recovery (SMPL-X) from one person crop.

* **Hand4Whole**, Moon et al., "Accurate 3D Hand Pose Estimation for Whole-Body 3D Human Mesh
  Estimation", CVPRW 2022 (official code ``main/model.py``, ``common/nets/module.py``): the
  full-precision network, method ``"fp"``.
* **BinaryHPE**, Li et al., "Binarized 3D Whole-body Human Mesh Recovery", arXiv 2311.14323: the
  same pipeline with every encoder a BiDRN (BiDRB blocks, :mod:`bhpe_tf.models.resnet`) and a
  Binarized BoxNet, method ``"bidrn"``; the paper's seven BNN baselines are the other binary
  methods of :mod:`bhpe_tf.binary.methods` (encoders binary, BoxNet and heads full precision).

The pipeline (DESIGN.md 5.1; NHWC; shapes for the default 512x384 crop, batch N):

1. crop ``(N,512,384,3)`` in [0,1] -> nearest 2x downsample -> body ResNet-50 -> ``(N,8,6,2048)``;
2. body PositionNet: 1x1 conv to 25*8 channels = 25 volumes 8x8x6 -> 3D soft-argmax;
3. BoxNet: [feature, joint volumes] -> three 4x4/2 deconvs -> 64x48x256 -> 3 centre heatmaps ->
   2D soft-argmax; feature sampled at each centre -> MLP -> box size; boxes made square, enlarged
   (x2 hands, x1.5 face), gradient stopped;
4. RoI crops from the 512x384 image: hands 256x256 (left hand mirrored, both hands on the batch
   axis) -> hand ResNet-50 -> ``(2N,8,8,2048)``; face 192x192 -> ResNet-18 -> ``(N,6,6,512)``;
5. hand PositionNet (20 joints, 8x8x8) and RotationNet (joint-sampled features -> 15 x 6D);
   left hand mirrored back;
6. body RotationNet (25 body + 2x4 MCP joints -> root + 21 x 6D), shape and camera from the pooled
   body feature; face: expression and jaw 6D from the pooled face feature;
7. SMPL-X (neutral, ``flat_hand_mean=False``, no PCA, face contour) -> vertices, 144 joints; the
   137 Hand4Whole joints projected with the virtual camera (focal 5000, principal point (96,128)
   on the 256x192 body image).

Two Keras models come out of :func:`build_binaryhpe`: with ``include_smplx=False`` the **network**
(steps 1-6, everything LCE converts; 6D rotations and camera translation out) and with
``include_smplx=True`` the network followed by :class:`SMPLXStage` (6D -> axis-angle, SMPL-X,
projection), which can equally run on the host after a converted network.

Decisions where the papers are silent (DESIGN.md 12), each switchable:

* **Binarized BoxNet** (``method.binarize_boxnet``): an FP 1x1 *fusion* conv (2248 -> 256, BN,
  activation) first, because 200 of the 2248 input channels are softmax probabilities (>= 0) that a
  sign maps to all +1 (binarization failure), then three binary 4x4/2 deconvs written as sub-pixel
  binary convs (:func:`~bhpe_tf.binary.subpixel_conv_transpose`, so they stay ``LceBconv2d``),
  each with BN, an LCR-style FP residual (nearest 2x upsampling of its input, the "up-scale"
  counterpart of DScR; possible because the fusion makes every deconv 256 -> 256) and the method's
  activation. Centre conv and size MLPs stay FP. Counted: BiDRN 16.70 M params / 2.47 G OPs
  (paper 17.22 M / 2.50 G; without the fusion conv the arithmetic gives about 16.4 M).
  ``boxnet_fusion=False`` drops the fusion conv (the first deconv then binarizes the 2248
  channels, no residual there); ``boxnet_binary_mlp=True`` binarizes the MLPs' hidden layer
  (``binary_dense``).
* **BiDRB order**: see :mod:`bhpe_tf.models.resnet` (LCR and Block Residual added before RPReLU).
* **RoI crop**: torchvision ``roi_align(aligned=False)`` with one bilinear sample per output pixel
  (see :class:`RoICrop`).
* **Left-hand un-flip** in 6D instead of axis-angle (exactly equivalent, see :func:`unflip_6d`), so
  that the network's outputs are all in the image's frame.
* Geometry at reduced sizes: the virtual camera is always Hand4Whole's 256x192 body image, the
  output grids follow the input size (:class:`Hand4WholeGeometry`).
"""
import dataclasses
import json
import math
import os
from typing import Tuple

import numpy as np
import tensorflow as tf

from bhpe_tf.binary import activation, batch_norm, binary_dense, get_method, subpixel_conv_transpose
from bhpe_tf.binary.builders import no_autograph
from bhpe_tf.errors import InvalidInputError, MissingFileError
from bhpe_tf.models.resnet import RESNET18_BLOCKS, RESNET50_BLOCKS, build_resnet

# Hand4Whole's joint sets for PositionNet (``smpl_x.pos_joint_part``): 25 body joints, 20 per hand
# (thumb, index, middle, ring, pinky; 3 joints + tip each); MCP = the first joint of index, middle,
# ring and pinky, which the body RotationNet samples from the hand features.
NUM_BODY_JOINTS = 25
NUM_HAND_JOINTS = 20
HAND_MCP = (4, 8, 12, 16)
NUM_BODY_ROTATIONS = 21  # SMPL-X body joints without the root
NUM_HAND_ROTATIONS = 15
NUM_BETAS = 10
NUM_EXPRESSION = 10
# Hand4Whole's 137 output joints: body 0-24, left hand 25-44, right hand 45-64, face 65-136; the
# roots for relative 3D coordinates (``get_coord``): pelvis, wrists, neck.
ROOT_JOINT, LWRIST_JOINT, RWRIST_JOINT, NECK_JOINT = 0, 12, 13, 7
LHAND_SLICE, RHAND_SLICE, FACE_SLICE = slice(25, 45), slice(45, 65), slice(65, 137)

ENCODER_MODULES = ("body_encoder", "hand_encoder", "face_encoder")
# Hand encoder and hand heads run once per hand on the batch axis: their MACs count twice.
COUNT_MULTIPLICITY = {"hand_encoder": 2, "hand_heads": 2}


# ----------------------------------------------------------------------------------- geometry
@dataclasses.dataclass(frozen=True)
class Hand4WholeGeometry:
    """Sizes and camera of the pipeline (Hand4Whole ``config.py``); defaults are the paper's.

    ``input_shape`` (H, W) of the person crop must be multiples of 64 (2x downsample, stride 32);
    crops multiples of 32. Output grids: body ``(H/64, W/64)`` x ``body_depth`` bins (8x6x8),
    hands ``hand_shape/32`` x ``hand_depth`` (8x8x8), BoxNet heatmaps 8x the body grid (64x48).
    The virtual camera always lives on Hand4Whole's 256x192 body image, whatever the input size.
    """

    input_shape: Tuple[int, int] = (512, 384)
    hand_shape: Tuple[int, int] = (256, 256)
    face_shape: Tuple[int, int] = (192, 192)
    body_depth: int = 8
    hand_depth: int = 8
    hand_box_scale: float = 2.0
    face_box_scale: float = 1.5
    focal: Tuple[float, float] = (5000.0, 5000.0)
    princpt: Tuple[float, float] = (96.0, 128.0)
    camera_image_shape: Tuple[int, int] = (256, 192)
    camera_3d_size: float = 2.5
    boxnet_upsampling: int = 8  # three stride-2 deconvs

    def __post_init__(self):
        height, width = self.input_shape
        if height % 64 or width % 64 or height <= 0 or width <= 0:
            raise InvalidInputError(f"input size must be (H, W) multiples of 64 (2x downsample then stride 32), "
                                    f"got {tuple(self.input_shape)}; Hand4Whole uses (512, 384)")
        for label, shape in (("hand", self.hand_shape), ("face", self.face_shape)):
            if shape[0] % 32 or shape[1] % 32 or shape[0] <= 0 or shape[1] <= 0:
                raise InvalidInputError(f"{label} crop size must be multiples of 32, got {tuple(shape)}")

    @property
    def body_shape(self):
        return self.input_shape[0] // 2, self.input_shape[1] // 2

    @property
    def body_grid(self):
        return self.input_shape[0] // 64, self.input_shape[1] // 64

    @property
    def hand_grid(self):
        return self.hand_shape[0] // 32, self.hand_shape[1] // 32

    @property
    def boxnet_grid(self):
        return tuple(self.boxnet_upsampling * d for d in self.body_grid)

    @property
    def camera_depth_scale(self) -> float:
        """Hand4Whole's k = sqrt(fx fy s^2 / (H_body W_body)): t_z = k * sigmoid(gamma) (56.38 m)."""
        fx, fy = self.focal
        h, w = self.camera_image_shape
        return math.sqrt(fx * fy * self.camera_3d_size ** 2 / (h * w))

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}


# ------------------------------------------------------------------------ parameter-free layers
def _register(cls):
    return tf.keras.utils.register_keras_serializable(package="bhpe_tf")(cls)


@_register
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


@_register
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


@_register
class SoftArgmax2D(tf.keras.layers.Layer):
    """``soft_argmax_2d``: ``(N,H,W,K)`` logits -> ``(N,K,2)`` expected (x, y) in pixels."""

    def call(self, inputs):
        height, width, parts = inputs.shape[1], inputs.shape[2], inputs.shape[3]
        x = tf.transpose(tf.reshape(inputs, [-1, height * width, parts]), [0, 2, 1])
        prob = tf.nn.softmax(x, axis=-1)
        table = tf.constant(_index_table(height, width))  # (x, y) per pixel
        return tf.matmul(prob, tf.broadcast_to(table, [tf.shape(prob)[0], height * width, 2]))


@_register
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


@_register
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


@_register
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


@_register
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


@_register
class Unflip6D(tf.keras.layers.Layer):
    """:func:`unflip_6d` as a layer (a constant multiply)."""

    def call(self, inputs):
        return unflip_6d(inputs)


@_register
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


@_register
class SplitHands(tf.keras.layers.Layer):
    """``(2N, ...)`` -> left ``(N, ...)``, right ``(N, ...)`` (inverse of the batch concat)."""

    def call(self, inputs):
        return tuple(tf.split(inputs, 2, axis=0))


@_register
class StopGradient(tf.keras.layers.Layer):
    """``detach()``: Hand4Whole stops gradients into boxes, BoxNet heatmaps and joint coordinates."""

    def call(self, inputs):
        return tf.stop_gradient(inputs)


@_register
class TakeIndex(tf.keras.layers.Layer):
    """``x[:, index]``."""

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, inputs):
        return inputs[:, self.index]

    def get_config(self):
        return {**super().get_config(), "index": self.index}


def _take(x, index, *, name):
    return TakeIndex(index, name=name)(x)


# --------------------------------------------------------------------------------- blocks: heads
def conv_bn_relu(x, filters, *, name):
    """Hand4Whole's ``make_conv_layers([C, filters], kernel=1)`` with BN + ReLU (bias kept, as there)."""
    x = tf.keras.layers.Conv2D(filters, 1, use_bias=True, name=name)(x)
    x = batch_norm(x, name=f"{name}_bn")
    return tf.keras.layers.ReLU(name=f"{name}_relu")(x)


def position_net(feature, *, joints, depth, name):
    """PositionNet: 1x1 conv to ``joints * depth`` -> 3D soft-argmax -> ``(coords, heatmaps)``."""
    logits = tf.keras.layers.Conv2D(joints * depth, 1, use_bias=True, name=f"{name}_conv")(feature)
    return SoftArgmax3D(joints, depth, name=f"{name}_softargmax")(logits)


def joint_features(feature, coords, *, channels, name):
    """RotationNet's per-joint feature: 1x1 conv+BN+ReLU, bilinear sample at the joints' (x, y),
    concatenated with the joints' (x, y, z): ``(N, J, channels + 3)``."""
    coords = StopGradient(name=f"{name}_detach")(coords)
    feature = conv_bn_relu(feature, channels, name=f"{name}_conv")
    sampled = SamplePoints(name=f"{name}_sample")([feature, coords[:, :, :2]])  # no Ellipsis: .keras cannot serialize it
    return tf.keras.layers.Concatenate(name=f"{name}_concat")([sampled, coords])


def rotation_6d(features, rotations, *, name):
    """FC from the flattened joint features to ``rotations`` 6D rotations ``(N, rotations, 6)``."""
    x = tf.keras.layers.Flatten(name=f"{name}_flatten")(features)
    x = tf.keras.layers.Dense(rotations * 6, name=name)(x)
    return tf.keras.layers.Reshape((rotations, 6), name=f"{name}_6d")(x) if rotations > 1 else x


def hand_heads(*, feature_shape, head_channels, depth, name="hand_heads"):
    """Hand PositionNet + hand RotationNet as one model (it runs on both hands: 2N crops)."""
    feature = tf.keras.Input(shape=feature_shape, name=f"{name}_feature")
    coords, _ = position_net(feature, joints=NUM_HAND_JOINTS, depth=depth, name="hand_position")
    joint_feat = joint_features(feature, coords, channels=head_channels, name="hand_rotation")
    pose = rotation_6d(joint_feat, NUM_HAND_ROTATIONS, name="hand_rotation_pose")
    return tf.keras.Model(feature, [coords, pose], name=name)


def body_rotation_net(body_feature, body_coords, hand_features, hand_mcp_coords, *, head_channels, name="body_rotation"):
    """Body RotationNet: 25 body + 4 MCP joints per hand -> root 6D and 21 body 6D; shape and
    camera parameters from the average-pooled body feature."""
    pooled = tf.keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(body_feature)
    betas = tf.keras.layers.Dense(NUM_BETAS, name=f"{name}_shape")(pooled)
    cam_param = tf.keras.layers.Dense(3, name=f"{name}_cam")(pooled)
    parts = [joint_features(body_feature, body_coords, channels=head_channels, name=f"{name}_body")]
    for side, feature, coords in zip(("lhand", "rhand"), hand_features, hand_mcp_coords):
        parts.append(joint_features(feature, coords, channels=head_channels, name=f"{name}_{side}"))
    joint_feat = tf.keras.layers.Concatenate(axis=1, name=f"{name}_joints")(parts)  # (N, 33, C+3)
    root = rotation_6d(joint_feat, 1, name=f"{name}_root")
    body = rotation_6d(joint_feat, NUM_BODY_ROTATIONS, name=f"{name}_pose")
    return root, body, betas, cam_param


def face_regressor(face_feature, *, name="face"):
    """Hand4Whole's FaceRegressor: pooled feature -> expression (10) and jaw 6D."""
    pooled = tf.keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(face_feature)
    expression = tf.keras.layers.Dense(NUM_EXPRESSION, name=f"{name}_expression")(pooled)
    jaw = tf.keras.layers.Dense(6, name=f"{name}_jaw")(pooled)
    return expression, jaw


# ------------------------------------------------------------------------------- blocks: BoxNet
def fp_deconv_unit(x, filters, *, name):
    """Hand4Whole's ``make_deconv_layers`` step: ConvTranspose 4x4/2 (padding 1, no bias) + BN + ReLU.

    Keras 'same' for k=4, s=2 pads one pixel on each side, as PyTorch's padding=1."""
    x = tf.keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False, name=name)(x)
    x = batch_norm(x, name=f"{name}_bn")
    return tf.keras.layers.ReLU(name=f"{name}_relu")(x)


def binary_deconv_unit(x, filters, *, method, name):
    """Binarized BoxNet deconv: sub-pixel binary 4x4/2 deconv -> BN [-> + nearest-2x FP residual
    when channels match, the up-scale LCR] -> method activation."""
    y = subpixel_conv_transpose(x, filters, method=method, name=name)
    y = batch_norm(y, name=f"{name}_bn")
    if x.shape[-1] == filters:
        residual = tf.keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_res_up")(x)
        y = tf.keras.layers.Add(name=f"{name}_res_add")([y, residual])
    return activation(y, method=method, name=f"{name}_act")


def size_mlp(x, *, method, hidden, binary_hidden, name):
    """BoxNet's box-size MLP ``make_linear_layers([C, 256, 2])``: FC -> ReLU -> FC (grid units)."""
    if binary_hidden:
        x = binary_dense(x, hidden, method=method, name=f"{name}_fc1")
    else:
        x = tf.keras.layers.Dense(hidden, name=f"{name}_fc1")(x)
    x = tf.keras.layers.ReLU(name=f"{name}_relu")(x)
    return tf.keras.layers.Dense(2, name=f"{name}_fc2")(x)


BOX_PARTS = ("lhand", "rhand", "face")


def boxnet(feature, joint_heatmaps, *, method, geometry, channels=256, fusion=True, binary_mlp=False, name="boxnet"):
    """BoxNet: hand and face boxes from the body feature and the body joint volumes.

    Returns ``{part: (centre (N,2), size (N,2))}`` in body-grid cells. Full precision (Hand4Whole)
    unless ``method.binarize_boxnet`` (Binarized BoxNet, see the module docstring)."""
    method = get_method(method)
    heatmaps = StopGradient(name=f"{name}_detach_heatmaps")(joint_heatmaps)
    x = tf.keras.layers.Concatenate(name=f"{name}_input")([feature, heatmaps])
    if method.binarize_boxnet:
        if fusion:
            x = tf.keras.layers.Conv2D(channels, 1, use_bias=False, name=f"{name}_fusion")(x)
            x = batch_norm(x, name=f"{name}_fusion_bn")
            x = activation(x, method=method, name=f"{name}_fusion_act")
        for index in range(3):
            x = binary_deconv_unit(x, channels, method=method, name=f"{name}_deconv{index + 1}")
    else:
        for index in range(3):
            x = fp_deconv_unit(x, channels, name=f"{name}_deconv{index + 1}")
    center_logits = tf.keras.layers.Conv2D(len(BOX_PARTS), 1, use_bias=True, name=f"{name}_center")(x)
    centers = SoftArgmax2D(name=f"{name}_softargmax")(center_logits)  # (N,3,2) heatmap pixels
    sampled = SamplePoints(name=f"{name}_sample")([x, StopGradient(name=f"{name}_detach_centers")(centers)])
    out = {}
    for index, part in enumerate(BOX_PARTS):
        feat = _take(sampled, index, name=f"{name}_{part}_feature")
        size = size_mlp(feat, method=method, hidden=channels, binary_hidden=binary_mlp and method.binary,
                        name=f"{name}_{part}_size")
        center = tf.keras.layers.Rescaling(1.0 / geometry.boxnet_upsampling, name=f"{name}_{part}_center")(
            _take(centers, index, name=f"{name}_{part}_center_px"))
        out[part] = (center, size)
    return out


@_register
class GatherJoints(tf.keras.layers.Layer):
    """``x[:, indices]`` along the joint axis."""

    def __init__(self, indices, **kwargs):
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]

    def call(self, inputs):
        return tf.gather(inputs, self.indices, axis=1)

    def get_config(self):
        return {**super().get_config(), "indices": self.indices}


@_register
class StackHands(tf.keras.layers.Layer):
    """Left and right hand crops on one batch axis ``(2N, ...)``, left first (Hand4Whole's HandRoI)."""

    def call(self, inputs):
        return tf.concat(list(inputs), axis=0)


# ------------------------------------------------------------------------------ SMPL-X stage
@_register
class SMPLXStage(tf.keras.layers.Layer):
    """Network outputs -> SMPL-X mesh and joints (Hand4Whole ``Model.get_coord``).

    6D -> axis-angle (Zhou et al. CVPR 2019; :func:`bhpe_tf.body.rotations.rot6d_to_axis_angle`),
    SMPL-X (:class:`bhpe_tf.body.SMPLXLayer`: neutral, eyes 0, ``flat_hand_mean=False``, no PCA,
    face contour on), the 137 Hand4Whole joints, their projection with the virtual camera
    ``x = (X + t_x) / (Z + t_z + 1e-4) f_x + c_x`` expressed in body-grid cells, and the relative 3D
    joints Hand4Whole supervises (pelvis-relative; hands relative to their wrists, face to the neck).

    Takes a dict with the network's ``root_pose_6d, body_pose_6d, lhand_pose_6d, rhand_pose_6d,
    jaw_pose_6d, betas, expression, cam_trans``; runs in the Keras model or on the host after an
    LCE-converted network (call it eagerly on the interpreter's outputs).

    ``detach_projection``: the projection's gradient reaches only the camera, not the SMPL-X
    parameters (Hand4Whole's ``get_coord`` when it trains on AGORA alone).
    """

    def __init__(self, *, smplx_model_path, geometry=None, detach_projection: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.detach_projection = bool(detach_projection)
        from bhpe_tf.body.smplx_layer import SMPLXLayer

        if isinstance(geometry, dict):
            geometry = Hand4WholeGeometry(**{k: tuple(v) if isinstance(v, list) else v for k, v in geometry.items()})
        self.geometry = geometry or Hand4WholeGeometry()
        self.smplx_model_path = os.fspath(smplx_model_path)
        self.smplx = SMPLXLayer(model_path=self.smplx_model_path, gender="neutral", num_betas=NUM_BETAS,
                                num_expression_coeffs=NUM_EXPRESSION, use_pca=False, flat_hand_mean=False,
                                use_face_contour=True, name="smplx")
        self.faces = self.smplx.faces

    def call(self, inputs):
        from bhpe_tf.body.joint_sets import H4W_JOINTS
        from bhpe_tf.body.rotations import rot6d_to_axis_angle

        geometry = self.geometry
        pose = {key: rot6d_to_axis_angle(inputs[f"{key}_6d"])
                for key in ("root_pose", "body_pose", "lhand_pose", "rhand_pose", "jaw_pose")}
        smplx = self.smplx({"global_orient": pose["root_pose"], "body_pose": pose["body_pose"],
                            "left_hand_pose": pose["lhand_pose"], "right_hand_pose": pose["rhand_pose"],
                            "jaw_pose": pose["jaw_pose"], "betas": inputs["betas"],
                            "expression": inputs["expression"]})
        cam_trans = inputs["cam_trans"]
        joints = tf.gather(smplx["joints"], list(H4W_JOINTS), axis=1)  # (N,137,3), model frame
        camera = (tf.stop_gradient(joints) if self.detach_projection else joints) + cam_trans[:, None, :]
        fx, fy = geometry.focal
        cx, cy = geometry.princpt
        cam_h, cam_w = geometry.camera_image_shape
        grid_h, grid_w = geometry.body_grid
        depth = camera[..., 2] + 1e-4
        joint_proj = tf.stack([(camera[..., 0] / depth * fx + cx) / cam_w * grid_w,
                               (camera[..., 1] / depth * fy + cy) / cam_h * grid_h], axis=-1)
        rel = joints - joints[:, ROOT_JOINT:ROOT_JOINT + 1]
        joint_cam = tf.concat([
            rel[:, :LHAND_SLICE.start],
            rel[:, LHAND_SLICE] - rel[:, LWRIST_JOINT:LWRIST_JOINT + 1],
            rel[:, RHAND_SLICE] - rel[:, RWRIST_JOINT:RWRIST_JOINT + 1],
            rel[:, FACE_SLICE] - rel[:, NECK_JOINT:NECK_JOINT + 1]], axis=1)
        smplx_pose = tf.concat([pose["root_pose"][:, None], pose["body_pose"], pose["lhand_pose"],
                                pose["rhand_pose"], pose["jaw_pose"][:, None]], axis=1)  # (N,53,3)
        return {
            "global_orient": pose["root_pose"], "body_pose": pose["body_pose"],
            "left_hand_pose": pose["lhand_pose"], "right_hand_pose": pose["rhand_pose"],
            "jaw_pose": pose["jaw_pose"], "smplx_pose": smplx_pose,
            "vertices": smplx["vertices"] + cam_trans[:, None, :], "smplx_joints": smplx["joints"],
            "joint_cam": joint_cam, "joint_proj": joint_proj,
        }

    def get_config(self):
        return {**super().get_config(), "smplx_model_path": self.smplx_model_path,
                "geometry": self.geometry.to_dict(), "detach_projection": self.detach_projection}


# ----------------------------------------------------------------------------------- the model
@_register
class Hand4WholeModel(tf.keras.Model):
    """The functional Hand4Whole / BinaryHPE model; calling it checks the image size first."""

    def __call__(self, inputs, *args, **kwargs):
        shape = getattr(inputs, "shape", None)
        expected = tuple(self.inputs[0].shape[1:])
        if shape is not None and (len(shape) != 4 or any(
                s is not None and e is not None and int(s) != int(e) for s, e in zip(tuple(shape)[1:], expected))):
            raise InvalidInputError(
                f"{self.name}: images must have shape (N, {', '.join(map(str, expected))}), got {tuple(shape)}; "
                f"crop the person to that size (or build the model with another input_shape)")
        return super().__call__(inputs, *args, **kwargs)


def build_binaryhpe(*, method="bidrn", smplx_model_path=None, include_smplx=None, input_shape=(512, 384, 3),
                    hand_shape=(256, 256), face_shape=(192, 192), encoder_width=64, head_channels=512,
                    boxnet_channels=256, boxnet_fusion=True, boxnet_binary_mlp=False,
                    resnet50_blocks=RESNET50_BLOCKS, resnet18_blocks=RESNET18_BLOCKS, padding="keras",
                    weights=None, name=None) -> Hand4WholeModel:
    """BinaryHPE (Li et al., arXiv 2311.14323) / Hand4Whole (``method="fp"``) as a Keras model.

    Args:
        method: a preset of :mod:`bhpe_tf.binary.methods` (``fp, bnn, xnor, xnor_nok, dorefa,
            dorefa_pm1, bireal, reactnet, recu, fda, bidrn``) or a :class:`~bhpe_tf.binary.BinaryMethod`; it switches
            the three encoders, and the BoxNet where ``method.binarize_boxnet``.
        smplx_model_path: SMPL-X model file or directory (the licensed ``SMPLX_NEUTRAL.npz``, or a
            synthetic one from :mod:`bhpe_tf.body.synthetic`).
        include_smplx: add :class:`SMPLXStage` (default: when ``smplx_model_path`` is given). With
            False the model is the LCE-convertible network alone.
        input_shape: person crop ``(H, W, 3)``, H and W multiples of 64.
        hand_shape, face_shape: RoI crop sizes (multiples of 32).
        encoder_width, head_channels, boxnet_channels: 64 / 512 / 256 in the paper; smaller values
            give fast test models with the same graph.
        resnet50_blocks, resnet18_blocks: blocks per stage (torchvision's by default); e.g.
            ``(2, 1, 1, 1)`` / ``(1, 1, 1, 1)`` keep every block type (and every LCR variant) in a
            graph small enough to convert quickly in tests.
        boxnet_fusion, boxnet_binary_mlp: Binarized BoxNet design switches (module docstring).
        padding: the encoders' padding, ``"keras"`` or ``"torch"`` (full precision only, for weights
            imported from torchvision / Hand4Whole checkpoints; :func:`bhpe_tf.models.resnet.build_resnet`).
        weights: a checkpoint written by :func:`save_weights` to load (method and options checked).

    Returns:
        A :class:`Hand4WholeModel` mapping images ``(N, H, W, 3)`` in [0, 1] to a dict:
        network outputs ``root_pose_6d (N,6)``, ``body_pose_6d (N,21,6)``, ``lhand_pose_6d``,
        ``rhand_pose_6d (N,15,6)``, ``jaw_pose_6d (N,6)``, ``betas (N,10)``, ``expression (N,10)``,
        ``cam_trans (N,3)``, ``{lhand,rhand,face}_box_center / _box_size (N,2)`` (body-grid cells),
        ``{lhand,rhand,face}_box (N,4)`` (xyxy input pixels, enlarged crop boxes), ``joint_img
        (N,65,3)`` (PositionNet: 25 body joints in body-grid cells x depth bins, 2 x 20 hand joints
        in hand-grid cells); with SMPL-X also the :class:`SMPLXStage` outputs.
    """
    method = get_method(method)
    if include_smplx is None:
        include_smplx = smplx_model_path is not None
    if include_smplx and smplx_model_path is None:
        raise InvalidInputError("include_smplx=True needs smplx_model_path= (your SMPLX_NEUTRAL.npz or its "
                                "directory, or a synthetic model from bhpe_tf.body.synthetic)")
    if len(tuple(input_shape)) != 3 or int(input_shape[2]) != 3:
        raise InvalidInputError(f"input_shape must be (H, W, 3), got {tuple(input_shape)}")
    geometry = Hand4WholeGeometry(input_shape=tuple(int(d) for d in input_shape[:2]),
                                  hand_shape=tuple(hand_shape), face_shape=tuple(face_shape))
    options = dict(input_shape=tuple(int(d) for d in input_shape), hand_shape=tuple(hand_shape),
                   face_shape=tuple(face_shape), encoder_width=encoder_width, head_channels=head_channels,
                   boxnet_channels=boxnet_channels, boxnet_fusion=boxnet_fusion,
                   boxnet_binary_mlp=boxnet_binary_mlp, resnet50_blocks=tuple(resnet50_blocks),
                   resnet18_blocks=tuple(resnet18_blocks), padding=str(padding))
    with no_autograph():
        outputs, image = _network(method=method, geometry=geometry, **{
            k: v for k, v in options.items() if k not in ("input_shape", "hand_shape", "face_shape")})
        if include_smplx:
            stage = SMPLXStage(smplx_model_path=smplx_model_path, geometry=geometry, name="smplx_stage")
            outputs.update(stage({key: outputs[key] for key in SMPLX_STAGE_INPUTS}))
        # One identity layer per output, named by its key: converted flatbuffers then name their
        # outputs by key (see output_keys), whatever layer computed them.
        outputs = {key: tf.keras.layers.Identity(name=key)(value) for key, value in outputs.items()}
        model_name = name or f"{'hand4whole' if method.name == 'fp' else 'binaryhpe'}_{method.name}"
        model = Hand4WholeModel(image, outputs, name=model_name)
    model.geometry = geometry
    model.binary_method = method
    model._bhpe_meta = json.dumps({"model": "binaryhpe", "method": method.name,
                                   "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}})
    if weights is not None:
        load_weights(model, weights)
    return model


def build_hand4whole(*, smplx_model_path=None, input_shape=(512, 384, 3), **kwargs) -> Hand4WholeModel:
    """Hand4Whole (Moon et al. CVPRW 2022): :func:`build_binaryhpe` with ``method="fp"``."""
    method = kwargs.pop("method", "fp")  # the converter and trainer pass the method of every model
    if get_method(method).binary:
        raise InvalidInputError("build_hand4whole is the full-precision model; use build_binaryhpe(method=...)")
    return build_binaryhpe(method="fp", smplx_model_path=smplx_model_path, input_shape=input_shape, **kwargs)


SMPLX_STAGE_INPUTS = ("root_pose_6d", "body_pose_6d", "lhand_pose_6d", "rhand_pose_6d", "jaw_pose_6d",
                      "betas", "expression", "cam_trans")


def _network(*, method, geometry, encoder_width, head_channels, boxnet_channels, boxnet_fusion, boxnet_binary_mlp,
             resnet50_blocks, resnet18_blocks, padding="keras"):
    """Steps 1-6 of the pipeline; returns (outputs dict, image input)."""
    image = tf.keras.Input(shape=geometry.input_shape + (3,), name="image")
    # 1-2. body encoder and PositionNet
    body_image = NearestDownsample(2, name="body_input")(image)
    body_encoder = build_resnet(input_shape=geometry.body_shape + (3,), depth=50, method=method,
                                width=encoder_width, blocks=resnet50_blocks, padding=padding,
                                name="body_encoder")
    body_feature = body_encoder(body_image)
    body_coords, body_heatmaps = position_net(body_feature, joints=NUM_BODY_JOINTS, depth=geometry.body_depth,
                                              name="body_position")
    # 3. BoxNet -> enlarged square boxes in image pixels, gradient stopped
    boxes = boxnet(body_feature, body_heatmaps, method=method, geometry=geometry, channels=boxnet_channels,
                   fusion=boxnet_fusion, binary_mlp=boxnet_binary_mlp)
    outputs, crop_boxes = {}, {}
    for part, (center, size) in boxes.items():
        crop = geometry.hand_shape if part != "face" else geometry.face_shape
        scale = geometry.hand_box_scale if part != "face" else geometry.face_box_scale
        box = RestoreBox(geometry.body_grid, geometry.input_shape, aspect=crop[1] / crop[0], extension=scale,
                         name=f"{part}_box_restore")([center, size])
        crop_boxes[part] = StopGradient(name=f"{part}_box_detach")(box)
        outputs.update({f"{part}_box_center": center, f"{part}_box_size": size, f"{part}_box": crop_boxes[part]})
    # 4-5. hands: crops (left mirrored) on the batch axis -> encoder -> PositionNet + RotationNet
    hand_images = StackHands(name="hand_crops")([
        RoICrop(geometry.hand_shape, mirror=True, name="lhand_crop")([image, crop_boxes["lhand"]]),
        RoICrop(geometry.hand_shape, name="rhand_crop")([image, crop_boxes["rhand"]])])
    hand_encoder = build_resnet(input_shape=geometry.hand_shape + (3,), depth=50, method=method,
                                width=encoder_width, blocks=resnet50_blocks, padding=padding,
                                name="hand_encoder")
    hand_feature = hand_encoder(hand_images)
    heads = hand_heads(feature_shape=tuple(hand_feature.shape[1:]), head_channels=head_channels,
                       depth=geometry.hand_depth)
    hand_coords, hand_pose = heads(hand_feature)
    lhand_coords, rhand_coords = SplitHands(name="hand_coords_split")(hand_coords)
    lhand_feature, rhand_feature = SplitHands(name="hand_feature_split")(hand_feature)
    lhand_pose, rhand_pose = SplitHands(name="hand_pose_split")(hand_pose)
    lhand_coords, lhand_feature = MirrorBack(geometry.hand_grid[1], name="lhand_unflip")([lhand_coords, lhand_feature])
    lhand_pose = Unflip6D(name="lhand_pose_unflip")(lhand_pose)
    # 6. body RotationNet (with the hands' MCP joints), camera; face
    mcp = [GatherJoints(HAND_MCP, name=f"{side}_mcp")(coords)
           for side, coords in (("lhand", lhand_coords), ("rhand", rhand_coords))]
    root, body, betas, cam_param = body_rotation_net(body_feature, body_coords, (lhand_feature, rhand_feature), mcp,
                                                     head_channels=head_channels)
    face_image = RoICrop(geometry.face_shape, name="face_crop")([image, crop_boxes["face"]])
    face_encoder = build_resnet(input_shape=geometry.face_shape + (3,), depth=18, method=method,
                                width=encoder_width, blocks=resnet18_blocks, padding=padding,
                                name="face_encoder")
    expression, jaw = face_regressor(face_encoder(face_image))
    outputs.update({
        "root_pose_6d": root, "body_pose_6d": body, "lhand_pose_6d": lhand_pose, "rhand_pose_6d": rhand_pose,
        "jaw_pose_6d": jaw, "betas": betas, "expression": expression,
        "cam_trans": CameraTranslation(geometry.camera_depth_scale, name="camera")(cam_param),
        "joint_img": tf.keras.layers.Concatenate(axis=1, name="joint_img_concat")([body_coords, lhand_coords,
                                                                                   rhand_coords]),
    })
    return outputs, image


# ------------------------------------------------------------------------- counting, checkpoints
def module_of(layer_name: str) -> str:
    """Module of a layer for per-module counts: an encoder, ``boxnet`` or ``heads``."""
    head = layer_name.split("/")[0]
    if head in ENCODER_MODULES:
        return head
    if head.startswith("boxnet"):
        return "boxnet"
    return "heads"


def count_modules(model):
    """Paper-convention counts per module (:func:`bhpe_tf.counting.count_model`) and ``total``."""
    from bhpe_tf.counting import count_model

    return count_model(model, group=module_of, multiplicity=COUNT_MULTIPLICITY)


def model_metadata(model) -> dict:
    """What identifies a model's weights: model, method and build options."""
    meta = getattr(model, "_bhpe_meta", None)
    if meta is None:
        raise InvalidInputError(f"{model.name} was not built by bhpe_tf.models.hand4whole")
    return json.loads(meta)


def _meta_path(path) -> str:
    return f"{os.fspath(path)}.meta.json"


def save_weights(model, path) -> str:
    """``model.save_weights(path)`` plus ``<path>.meta.json`` (method and options) for
    :func:`load_weights`. ``.h5`` paths write HDF5, others a TensorFlow checkpoint."""
    model.save_weights(os.fspath(path))
    with open(_meta_path(path), "w") as handle:
        json.dump(model_metadata(model), handle, indent=1)
    return os.fspath(path)


def load_weights(model, path):
    """Load a checkpoint written by :func:`save_weights`, refusing one of another method/options."""
    path = os.fspath(path)
    exists = os.path.exists(path) or os.path.exists(f"{path}.index")
    if not exists:
        raise MissingFileError(f"checkpoint {path!r} not found")
    expected = model_metadata(model)
    if os.path.exists(_meta_path(path)):
        with open(_meta_path(path)) as handle:
            found = json.load(handle)
        if found.get("method") != expected["method"]:
            raise InvalidInputError(f"checkpoint {path!r} holds a {found.get('method')!r} model but this model is "
                                    f"{expected['method']!r}; build it with method={found.get('method')!r}")
        diff = {k: (v, expected["options"].get(k)) for k, v in found.get("options", {}).items()
                if expected["options"].get(k) != v}
        if diff:
            detail = ", ".join(f"{k}: checkpoint {a!r} vs model {b!r}" for k, (a, b) in sorted(diff.items()))
            raise InvalidInputError(f"checkpoint {path!r} was built with other options ({detail})")
    try:
        status = model.load_weights(path)
        if status is not None and hasattr(status, "assert_existing_objects_matched"):
            status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as err:
        raise InvalidInputError(f"checkpoint {path!r} does not fit {model.name} (another method or options?): "
                                f"{str(err).splitlines()[0]}") from err
    return model


def output_keys(flatbuffer: bytes):
    """Output dict keys of a converted network, in the order the (LCE) interpreter returns them.

    The converter orders outputs its own way; the flatbuffer's signature names each output tensor
    after its Keras output layer, which :func:`build_binaryhpe` names by key."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    if not model.signatureDefs:
        raise InvalidInputError("the flatbuffer has no signature: cannot name its outputs")
    by_tensor = {}
    for output in model.signatureDefs[0].outputs:
        name = output.name.decode() if isinstance(output.name, (bytes, bytearray)) else str(output.name)
        by_tensor[int(output.tensorIndex)] = name
    return [by_tensor[int(index)] for index in model.subgraphs[0].outputs]
