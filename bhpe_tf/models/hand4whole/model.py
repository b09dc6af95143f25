"""Hand4Whole / BinaryHPE as one Keras model: the builders, the network assembly (steps 1-6 of
the pipeline in :mod:`bhpe_tf.models.hand4whole`, laid out as the official ``main/model.py``),
per-module counting and the naming of a converted network's outputs.
"""
import json

import tensorflow as tf

from bhpe_tf.binary import get_method
from bhpe_tf.binary.builders import no_autograph
from bhpe_tf.errors import InvalidInputError
from bhpe_tf.checkpoints import load_weights
from bhpe_tf.models.hand4whole.geometry import HAND_MCP, NUM_BODY_JOINTS, Hand4WholeGeometry
from bhpe_tf.models.hand4whole.heads import body_rotation_net, boxnet, face_regressor, hand_heads, position_net
from bhpe_tf.models.hand4whole.layers import (CameraTranslation, GatherJoints, MirrorBack, NearestDownsample,
                                              RestoreBox, RoICrop, SplitHands, StackHands, StopGradient, Unflip6D,
                                              keras_serializable)
from bhpe_tf.models.hand4whole.smplx_stage import SMPLX_STAGE_INPUTS, SMPLXStage
from bhpe_tf.models.resnet import RESNET18_BLOCKS, RESNET50_BLOCKS, build_resnet

ENCODER_MODULES = ("body_encoder", "hand_encoder", "face_encoder")
# Hand encoder and hand heads run once per hand on the batch axis: their MACs count twice.
COUNT_MULTIPLICITY = {"hand_encoder": 2, "hand_heads": 2}


@keras_serializable
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
            synthetic one from :mod:`bhpe_tf.body.synthetic_model`).
        include_smplx: add :class:`SMPLXStage` (default: when ``smplx_model_path`` is given). With
            False the model is the LCE-convertible network alone.
        input_shape: person crop ``(H, W, 3)``, H and W multiples of 64.
        hand_shape, face_shape: RoI crop sizes (multiples of 32).
        encoder_width, head_channels, boxnet_channels: 64 / 512 / 256 in the paper; smaller values
            give fast test models with the same graph.
        resnet50_blocks, resnet18_blocks: blocks per stage (torchvision's by default); e.g.
            ``(2, 1, 1, 1)`` / ``(1, 1, 1, 1)`` keep every block type (and every LCR variant) in a
            graph small enough to convert quickly in tests.
        boxnet_fusion, boxnet_binary_mlp: Binarized BoxNet design switches
            (:mod:`bhpe_tf.models.hand4whole.heads`).
        padding: the encoders' padding, ``"keras"`` or ``"torch"`` (full precision only, for weights
            imported from torchvision / Hand4Whole checkpoints; :func:`bhpe_tf.models.resnet.build_resnet`).
        weights: a checkpoint written by :func:`bhpe_tf.checkpoints.save_weights` to load (method and options checked).

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
                                "directory, or a synthetic model from bhpe_tf.body.synthetic_model)")
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



# -------------------------------------------------------------------------------- counting, outputs
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
