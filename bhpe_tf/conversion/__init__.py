"""Conversion to LCE / TFLite flatbuffers and what can be read back from them."""
from bhpe_tf.conversion.census import Census, FloatFallback, op_census
from bhpe_tf.conversion.lce import (binary_layers, check_convertible, convert, convert_float, convert_int8,
                                    float_fallback_layers, lean_saved_model, predict)
from bhpe_tf.conversion.parity import PARITY_RTOL, max_abs_difference, trained_like_state
