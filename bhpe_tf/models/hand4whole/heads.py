"""Hand4Whole's nets (official ``common/nets/module.py``): PositionNet, the body and hand
RotationNets, BoxNet and FaceRegressor, as functions on Keras tensors, and the units they use.

**Binarized BoxNet** (BinaryHPE is silent on it; ``method.binarize_boxnet``): an FP 1x1 *fusion*
conv (2248 -> 256, BN, activation) first, because 200 of the 2248 input channels are softmax
probabilities (>= 0) that a sign maps to all +1 (binarization failure), then three binary 4x4/2
deconvs written as sub-pixel binary convs (:func:`~bhpe_tf.binary.subpixel_conv_transpose`, so they
stay ``LceBconv2d``), each with BN, an LCR-style FP residual (nearest 2x upsampling of its input,
the "up-scale" counterpart of DScR; possible because the fusion makes every deconv 256 -> 256) and
the method's activation. Centre conv and size MLPs stay FP. Counted: BiDRN 16.70 M params / 2.47 G
OPs (paper 17.22 M / 2.50 G; without the fusion conv the arithmetic gives about 16.4 M).
``boxnet_fusion=False`` drops the fusion conv (the first deconv then binarizes the 2248 channels,
no residual there); ``boxnet_binary_mlp=True`` binarizes the MLPs' hidden layer (``binary_dense``).
"""
import tensorflow as tf

from bhpe_tf.binary import activation, batch_norm, binary_dense, get_method, subpixel_conv_transpose
from bhpe_tf.models.hand4whole.geometry import (BOX_PARTS, NUM_BETAS, NUM_BODY_ROTATIONS, NUM_EXPRESSION,
                                                NUM_HAND_JOINTS, NUM_HAND_ROTATIONS)
from bhpe_tf.models.hand4whole.layers import SamplePoints, SoftArgmax2D, SoftArgmax3D, StopGradient, TakeIndex


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


def _take(x, index, *, name):
    return TakeIndex(index, name=name)(x)
