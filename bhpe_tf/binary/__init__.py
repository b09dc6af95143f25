"""Binarization core: quantizers, helper layers, the method table and LCE-friendly builders."""
from bhpe_tf.binary import builders, layers, quantizers, schedules
from bhpe_tf.binary.builders import (activation, batch_norm, binary_conv, binary_dense, conv_bn,
                                     conv_residual, conv_unit, downsample_shortcut, fp_conv,
                                     subpixel_conv_transpose, subpixel_kernel_from_transpose)
from bhpe_tf.binary.layers import (ChannelGroupMean, ChannelRepeat, ChannelScale, ChannelSlice, LearnableBias,
                                   PhaseInterleave, RPReLU, XnorActivationScale)
from bhpe_tf.binary.methods import LCE_METHOD_NAMES, METHOD_NAMES, METHODS, BinaryMethod, get_method, method_with
from bhpe_tf.binary.quantizers import (ChannelMagnitudeSign, DoReFaActivation, DoReFaSign, FourierSign,
                                      ReCUActivationSign, ReCUSign)
from bhpe_tf.binary.schedules import (ProgressSchedule, TrainingProgress, progress_variables,
                                     set_training_progress, training_progress)
