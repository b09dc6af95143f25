"""ResNet-50 / ResNet-18 encoders for every method of the table (larq-zoo style blocks).

Full precision these are torchvision's ResNets without pooling and classifier, as Hand4Whole uses
them (Moon et al., "Accurate 3D Hand Pose Estimation for Whole-Body 3D Human Mesh Estimation",
CVPRW 2022): ResNet-50 for body and hands (stride 32, 2048 channels), ResNet-18 for the face
(stride 32, 512 channels); bottlenecks in the v1.5 layout (stride on the 3x3 conv).

Binary methods (BinaryHPE, Li et al., arXiv 2311.14323, Table 1 baselines) keep the same graph and
change each conv through :func:`bhpe_tf.binary.conv_unit`:

* the 7x7 stem stays full precision; it is followed by the method's activation (identity or
  RPReLU, never a ReLU: a ReLU in front of a sign binarizes everything to +1) before max-pooling;
* every other conv is binary, **including** the 1x1 projection shortcuts when
  ``method.binary_downsample`` (this split reproduces the paper's 21.61 M for the baselines);
* each block ends with the method's activation after the shortcut addition.

BiDRN (``conv_residual="lcr"``) turns every block into a **BiDRB**: each binary conv carries its
Local Convolution Residual (identity, Fusion Down, Fusion Up, Down Scale or Down Sample, chosen by
``conv_unit`` from the shape change), and the block shortcut is the full-precision **Block
Residual**: identity, or in projection blocks a FP 1x1 (stride-2) conv + BN
(``binary_downsample=False``). Order inside a BiDRB [inferred, DESIGN 12]: per conv
``bias -> sign -> bconv -> BN -> + LCR -> RPReLU``; the last conv of a block takes the Block
Residual as its real shortcut (``conv_unit(shortcut="block")``) and activates after the sum, the
ResNet habit. It gets no LCR of its own on top: the LCR chain of a block already carries the block
input (channel-group means repeated back), so LCR + BR summed two copies of one real path and
doubled it per block: BiDRN ResNet-50 features had std 3.9e3 at init (inference mode; 970 in
training mode), now ~1, like the FP ResNet (``tests/test_activation_scale.py``). The same rule
makes Bi-Real's blocks Bi-Real's: one real shortcut per binary conv, no extra block identity.
"""
from typing import Sequence

import tensorflow as tf

from bhpe_tf.binary import activation, batch_norm, conv_unit, fp_conv, get_method
from bhpe_tf.binary.builders import current_fp_padding, downsample_shortcut, model_padding
from bhpe_tf.errors import InvalidInputError

# torchvision's stage layouts.
RESNET50_BLOCKS = (3, 4, 6, 3)
RESNET18_BLOCKS = (2, 2, 2, 2)
BOTTLENECK_EXPANSION = 4


def stem(x, *, method, filters=64, name="stem"):
    """7x7/2 FP conv -> BN -> activation -> 3x3/2 max-pool (ResNet's stem, full precision always).

    The activation is ReLU for the FP method and the method's own otherwise (identity / RPReLU), so
    the first binary conv sees signed values.
    """
    x = fp_conv(x, filters, 7, strides=2, name=f"{name}_conv")
    x = batch_norm(x, name=f"{name}_bn")
    x = activation(x, method=method, name=f"{name}_act")
    if current_fp_padding() == "torch":
        # PyTorch's MaxPool2d(3, 2, padding=1) pads with -inf; after the FP stem's ReLU (>= 0) a zero
        # never exceeds a window's maximum, so zero padding + 'valid' pooling is exact.
        x = tf.keras.layers.ZeroPadding2D(1, name=f"{name}_pool_pad")(x)
        return tf.keras.layers.MaxPooling2D(3, strides=2, padding="valid", name=f"{name}_pool")(x)
    return tf.keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)


def bottleneck_block(x, filters, *, strides=1, method, name):
    """ResNet-50 bottleneck (1x1 reduce, 3x3 with the stride, 1x1 expand x4) / BiDRB of BiDRN.

    LCR variants this gives BiDRN: conv1 Fusion Down (4:1, or 2:1 in the first block of stages
    2-4; identity in the very first block), conv2 identity or Down Scale (strided), conv3 Fusion
    Up (1:4).
    """
    shortcut = downsample_shortcut(x, filters * BOTTLENECK_EXPANSION, strides=strides, method=method, name=name)
    y = conv_unit(x, filters, 1, method=method, name=f"{name}_conv1")
    y = conv_unit(y, filters, 3, strides=strides, method=method, name=f"{name}_conv2")
    y = conv_unit(y, filters * BOTTLENECK_EXPANSION, 1, method=method, shortcut="block", activate=False,
                  name=f"{name}_conv3")
    y = tf.keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return activation(y, method=method, name=f"{name}_out")


def basic_block(x, filters, *, strides=1, method, name):
    """ResNet-18 basic block (two 3x3 convs) / BiDRB: conv1 is a Down Sample LCR when strided.

    Under ``shortcut_topology="bireal"`` it is Bi-Real Net's block (Liu et al. 2018, sec. 3.1):
    each conv has its own real shortcut, added after its BN, and nothing else: conv1's is the
    block's shortcut (identity, or the downsample when conv1 changes the shape), conv2's the
    identity of conv2's input. The ResNet block instead adds the block shortcut after conv2.
    """
    method = get_method(method)
    shortcut = downsample_shortcut(x, filters, strides=strides, method=method, name=name)
    if method.binary and method.shortcut_topology == "bireal":
        y = conv_unit(x, filters, 3, strides=strides, method=method, shortcut="block", activate=False,
                      name=f"{name}_conv1")
        y = tf.keras.layers.Add(name=f"{name}_conv1_res_add")([y, shortcut])
        y = activation(y, method=method, name=f"{name}_conv1_act")
        return conv_unit(y, filters, 3, method=method, name=f"{name}_conv2")
    y = conv_unit(x, filters, 3, strides=strides, method=method, name=f"{name}_conv1")
    y = conv_unit(y, filters, 3, method=method, shortcut="block", activate=False, name=f"{name}_conv2")
    y = tf.keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return activation(y, method=method, name=f"{name}_out")


def residual_stage(x, filters, blocks, *, strides, block, method, name):
    """``blocks`` residual blocks; the first one carries the stride (and the projection)."""
    for index in range(blocks):
        x = block(x, filters, strides=strides if index == 0 else 1, method=method, name=f"{name}_block{index + 1}")
    return x


def build_resnet(*, input_shape, depth=50, method="fp", width=64, blocks: Sequence[int] = None, padding="keras",
                 name=None):
    """A ResNet encoder as a Keras model: image ``(H, W, 3)`` -> feature ``(H/32, W/32, C)``.

    Args:
        input_shape: ``(H, W, 3)`` with H and W multiples of 32.
        depth: 50 (bottlenecks, C = 32 * width) or 18 (basic blocks, C = 8 * width).
        method: a preset name or :class:`~bhpe_tf.binary.BinaryMethod`.
        width: base width (64 in the paper); smaller values make fast test models.
        blocks: blocks per stage (default torchvision's layout for ``depth``).
        padding: ``"keras"`` or ``"torch"`` (full precision only: torchvision's symmetric padding of
            the strided convs and the stem max-pool, for imported weights; see
            :func:`bhpe_tf.binary.builders.fp_conv`).
    """
    method = get_method(method)
    if depth not in (18, 50):
        raise InvalidInputError(f"ResNet depth must be 18 or 50, got {depth}")
    height, width_px = int(input_shape[0]), int(input_shape[1])
    if height % 32 or width_px % 32 or len(input_shape) != 3:
        raise InvalidInputError(f"ResNet-{depth} input must be (H, W, C) with H, W multiples of 32, got "
                                f"{tuple(input_shape)}")
    blocks = tuple(blocks) if blocks is not None else (RESNET50_BLOCKS if depth == 50 else RESNET18_BLOCKS)
    block = bottleneck_block if depth == 50 else basic_block
    name = name or f"resnet{depth}_{method.name}"
    with model_padding(padding, method=method):
        inputs = tf.keras.Input(shape=tuple(input_shape), name=f"{name}_image")
        x = stem(inputs, method=method, filters=width, name=f"{name}_stem")
        for stage, count in enumerate(blocks):
            x = residual_stage(x, width * 2 ** stage, count, strides=1 if stage == 0 else 2, block=block,
                               method=method, name=f"{name}_stage{stage + 1}")
    return tf.keras.Model(inputs, x, name=name)
