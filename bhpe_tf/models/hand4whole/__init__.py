"""Hand4Whole and BinaryHPE: 3D whole-body mesh recovery (SMPL-X) from one person crop.

* **Hand4Whole**, Moon et al., "Accurate 3D Hand Pose Estimation for Whole-Body 3D Human Mesh
  Estimation", CVPRW 2022 (official code ``main/model.py``, ``common/nets/module.py``): the
  full-precision network, method ``"fp"``.
* **BinaryHPE**, Li et al., "Binarized 3D Whole-body Human Mesh Recovery", arXiv 2311.14323: the
  same pipeline with every encoder a BiDRN (BiDRB blocks, :mod:`bhpe_tf.models.resnet`) and a
  Binarized BoxNet, method ``"bidrn"``; the paper's seven BNN baselines are the other binary
  methods of :mod:`bhpe_tf.binary.methods` (encoders binary, BoxNet and heads full precision).

The pipeline (docs/DESIGN.md §5.1; NHWC; shapes for the default 512x384 crop, batch N):

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
   137 Hand4Whole joints projected with the virtual camera (:class:`Hand4WholeGeometry`).

Two Keras models come out of :func:`build_binaryhpe`: with ``include_smplx=False`` the **network**
(steps 1-6, everything LCE converts; 6D rotations and camera translation out) and with
``include_smplx=True`` the network followed by :class:`SMPLXStage` (6D -> axis-angle, SMPL-X,
projection), which can equally run on the host after a converted network.

Decisions where the papers are silent (docs/DESIGN.md §12), each switchable:

* **Binarized BoxNet** (``method.binarize_boxnet``): see :mod:`bhpe_tf.models.hand4whole.heads`.
* **BiDRB order**: see :mod:`bhpe_tf.models.resnet` (LCR and Block Residual added before RPReLU).
* **RoI crop**: torchvision ``roi_align(aligned=False)`` with one bilinear sample per output pixel
  (see :class:`~bhpe_tf.models.hand4whole.layers.RoICrop`).
* **Left-hand un-flip** in 6D instead of axis-angle (exactly equivalent, see
  :func:`~bhpe_tf.models.hand4whole.layers.unflip_6d`), so that the network's outputs are all in
  the image's frame.
* Geometry at reduced sizes: the virtual camera is always Hand4Whole's 256x192 body image, the
  output grids follow the input size (:class:`Hand4WholeGeometry`).

Modules: :mod:`~bhpe_tf.models.hand4whole.geometry` (sizes, joint sets, virtual camera; numpy
only), :mod:`~bhpe_tf.models.hand4whole.layers` (the custom Keras layers),
:mod:`~bhpe_tf.models.hand4whole.heads` (PositionNet, RotationNets, BoxNet, FaceRegressor),
:mod:`~bhpe_tf.models.hand4whole.smplx_stage` (step 7), :mod:`~bhpe_tf.models.hand4whole.model`
(builders, assembly, counting); their weights are read and written by :mod:`bhpe_tf.checkpoints`. They are imported
on demand, so the losses and the data code can read the geometry without loading the network code;
loading a saved model needs :mod:`~bhpe_tf.models.hand4whole.model` imported (any builder or
``SMPLXStage`` imports it) so that its layers are registered.
"""
import importlib

_LAZY = {
    "Hand4WholeGeometry": "geometry", "BOX_PARTS": "geometry",
    "SMPLXStage": "smplx_stage", "SMPLX_STAGE_INPUTS": "smplx_stage",
    "Hand4WholeModel": "model", "build_binaryhpe": "model", "build_hand4whole": "model",
    "count_modules": "model", "output_keys": "model",
}
__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
