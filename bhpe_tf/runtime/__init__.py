"""What inference needs at run time, without the converter: the model card (schema, reading,
validation), the input normalisation, and the predictors that run a ``.tflite`` or a checkpoint."""
from bhpe_tf.runtime.card import (CropSpec, card_for_tflite, card_path_for, read_model_card, validate_model_card,
                                  write_model_card)
from bhpe_tf.runtime.normalization import (IMAGENET, IMAGENET_MEAN, IMAGENET_STD, NAMED_NORMALIZATIONS, PIXEL_SCALE,
                                           UNIT_RANGE, Normalization, named_normalization)
from bhpe_tf.runtime.predictors import (KerasPredictor, ModelSpec, TFLitePredictor, check_binary,
                                        check_card_matches_flatbuffer, flatbuffer_io, lce_interpreter, open_predictor,
                                        read_tflite, stock_interpreter)

__all__ = ["CropSpec", "card_for_tflite", "card_path_for", "read_model_card", "validate_model_card", "write_model_card",
           "IMAGENET", "IMAGENET_MEAN", "IMAGENET_STD", "NAMED_NORMALIZATIONS", "PIXEL_SCALE", "UNIT_RANGE",
           "Normalization", "named_normalization", "KerasPredictor", "ModelSpec", "TFLitePredictor", "check_binary",
           "check_card_matches_flatbuffer", "flatbuffer_io", "lce_interpreter", "open_predictor", "read_tflite",
           "stock_interpreter"]
