"""PyTorch module names of the project's layers: the ``state_dict`` keys of the official checkpoints.

Each function maps the name of a Keras layer built by this project's builders to the name of the
PyTorch module that holds the same tensors in the official code, or ``None`` when the layer has no
counterpart there (a binary network's thresholds / RPReLU / scales, or a part the checkpoint does
not cover). :mod:`bhpe_tf.import_weights` turns module names into tensor keys.

* HRNet (:func:`hrnet_module`): ``lib/models/pose_hrnet.py`` of HRNet (Sun et al. 2019), which the
  ImageNet HRNet (HRNet-Image-Classification ``cls_hrnet.py``) and mmpose's ``HRNet`` backbone
  share: ``conv1 bn1 conv2 bn2``, ``layer1.{b}.{conv,bn}{1,2,3} / downsample.{0,1}``,
  ``transition{t}.{i}[.{k}].{0,1}``, ``stage{s}.{m}.branches.{i}.{b}.{conv,bn}{1,2}``,
  ``stage{s}.{m}.fuse_layers.{i}.{j}[.{k}].{0,1}``, ``final_layer``.
* ResNet (:func:`resnet_module`): torchvision's ``ResNet`` (= Hand4Whole's ``ResNetBackbone``):
  ``conv1 bn1 layer{s}.{b}.{conv,bn}{1,2[,3]} / downsample.{0,1}`` (``fc`` has no counterpart in
  an encoder).
* Hand4Whole (:func:`hand4whole_module`): ``main/model.py`` + ``common/nets/module.py`` of
  Hand4Whole (Moon et al. 2022): ``backbone``, ``hand_roi_net.backbone``, ``face_roi_net.backbone``,
  ``body_position_net``, ``body_rotation_net``, ``box_net``, ``hand_position_net``,
  ``hand_rotation_net``, ``face_regressor``.
"""
import re

# (Keras layer name pattern, PyTorch module name template); groups are 1-based Keras indices
# where the PyTorch side counts from 0 (``{n-1}``), see _substitute.
_HRNET_RULES = (
    (r"stem_conv(\d)", "conv{1}"),
    (r"stem_conv(\d)_bn", "bn{1}"),
    (r"stage1_blk(\d+)_conv(\d)", "layer1.{1-1}.conv{2}"),
    (r"stage1_blk(\d+)_conv(\d)_bn", "layer1.{1-1}.bn{2}"),
    (r"stage1_blk(\d+)_downsample", "layer1.{1-1}.downsample.0"),
    (r"stage1_blk(\d+)_downsample_bn", "layer1.{1-1}.downsample.1"),
    (r"transition(\d)_b(\d+)", "transition{1}.{2}.0"),
    (r"transition(\d)_b(\d+)_bn", "transition{1}.{2}.1"),
    (r"transition(\d)_b(\d+)_down(\d+)", "transition{1}.{2}.{3}.0"),
    (r"transition(\d)_b(\d+)_down(\d+)_bn", "transition{1}.{2}.{3}.1"),
    (r"stage([234])_m(\d+)_b(\d+)_blk(\d+)_conv(\d)", "stage{1}.{2-1}.branches.{3}.{4-1}.conv{5}"),
    (r"stage([234])_m(\d+)_b(\d+)_blk(\d+)_conv(\d)_bn", "stage{1}.{2-1}.branches.{3}.{4-1}.bn{5}"),
    (r"stage([234])_m(\d+)_fuse_(\d+)from(\d+)", "stage{1}.{2-1}.fuse_layers.{3}.{4}.0"),
    (r"stage([234])_m(\d+)_fuse_(\d+)from(\d+)_bn", "stage{1}.{2-1}.fuse_layers.{3}.{4}.1"),
    (r"stage([234])_m(\d+)_fuse_(\d+)from(\d+)_down(\d+)", "stage{1}.{2-1}.fuse_layers.{3}.{4}.{5}.0"),
    (r"stage([234])_m(\d+)_fuse_(\d+)from(\d+)_down(\d+)_bn", "stage{1}.{2-1}.fuse_layers.{3}.{4}.{5}.1"),
    (r"head", "final_layer"),
)

_RESNET_RULES = (
    (r"stem_conv", "conv1"),
    (r"stem_bn", "bn1"),
    (r"stage(\d)_block(\d+)_conv(\d)", "layer{1}.{2-1}.conv{3}"),
    (r"stage(\d)_block(\d+)_conv(\d)_bn", "layer{1}.{2-1}.bn{3}"),
    (r"stage(\d)_block(\d+)_downsample", "layer{1}.{2-1}.downsample.0"),
    (r"stage(\d)_block(\d+)_downsample_bn", "layer{1}.{2-1}.downsample.1"),
)

# Hand4Whole's encoders: Keras sub-model name -> PyTorch module holding the ResNetBackbone.
HAND4WHOLE_ENCODERS = {"body_encoder": "backbone", "hand_encoder": "hand_roi_net.backbone",
                       "face_encoder": "face_roi_net.backbone"}

_HAND4WHOLE_HEAD_RULES = (
    (r"body_position_conv", "body_position_net.conv.0"),
    (r"body_rotation_(body|lhand|rhand)_conv", "body_rotation_net.{1}_conv.0"),
    (r"body_rotation_(body|lhand|rhand)_conv_bn", "body_rotation_net.{1}_conv.1"),
    (r"body_rotation_root", "body_rotation_net.root_pose_out.0"),
    (r"body_rotation_pose", "body_rotation_net.body_pose_out.0"),
    (r"body_rotation_shape", "body_rotation_net.shape_out.0"),
    (r"body_rotation_cam", "body_rotation_net.cam_out.0"),
    # make_deconv_layers: [ConvTranspose, BN, ReLU] per deconv -> indices 0/1, 3/4, 6/7
    (r"boxnet_deconv(\d)", "box_net.deconv.{3*1-3}"),
    (r"boxnet_deconv(\d)_bn", "box_net.deconv.{3*1-2}"),
    (r"boxnet_center", "box_net.bbox_center.0"),
    (r"boxnet_(lhand|rhand|face)_size_fc1", "box_net.{1}_size.0"),
    (r"boxnet_(lhand|rhand|face)_size_fc2", "box_net.{1}_size.2"),
    (r"hand_position_conv", "hand_position_net.conv.0"),
    (r"hand_rotation_conv", "hand_rotation_net.hand_conv.0"),
    (r"hand_rotation_conv_bn", "hand_rotation_net.hand_conv.1"),
    (r"hand_rotation_pose", "hand_rotation_net.hand_pose_out.0"),
    (r"face_expression", "face_regressor.expr_out.0"),
    (r"face_jaw", "face_regressor.jaw_pose_out.0"),
)

_FIELD = re.compile(r"\{(3\*)?(\d)(-\d)?\}")


def _substitute(template: str, match: re.Match) -> str:
    """Fill ``{n}`` with group n, ``{n-1}`` with group n minus one and ``{3*n-3}`` likewise."""

    def value(field):
        times, group, minus = field.group(1), int(field.group(2)), field.group(3)
        text = match.group(group)
        if not text.isdigit():
            return text
        number = int(text) * (3 if times else 1) + (int(minus) if minus else 0)
        return str(number)

    return _FIELD.sub(value, template)


def _translate(rules, name):
    for pattern, template in rules:
        match = re.fullmatch(pattern, name)
        if match:
            return _substitute(template, match)
    return None


def hrnet_module(layer_name: str):
    """HRNet's module for a layer of :func:`bhpe_tf.models.hrnet.build_hrnet_w32` (``None`` if none)."""
    return _translate(_HRNET_RULES, layer_name)


def resnet_module(layer_name: str, *, keras_prefix: str):
    """torchvision's module for a layer of :func:`bhpe_tf.models.resnet.build_resnet` named ``keras_prefix``."""
    if not layer_name.startswith(f"{keras_prefix}_"):
        return None
    return _translate(_RESNET_RULES, layer_name[len(keras_prefix) + 1:])


def hand4whole_module(layer_name: str):
    """Hand4Whole's module for a layer of :func:`bhpe_tf.models.hand4whole.build_binaryhpe` (FP)."""
    for encoder, module in HAND4WHOLE_ENCODERS.items():
        inner = resnet_module(layer_name, keras_prefix=encoder)
        if inner is not None:
            return f"{module}.{inner}"
    return _translate(_HAND4WHOLE_HEAD_RULES, layer_name)


__all__ = ["HAND4WHOLE_ENCODERS", "hand4whole_module", "hrnet_module", "resnet_module"]
