"""BinaryHPE (BiDRN), stage 1: binary activations with real weights, Hand4Whole losses + L1 output
distillation from the frozen FP Hand4Whole (runs/hand4whole). The two-stage recipe is the project's choice
(BiHRNet's); the BinaryHPE paper gives none."""
from bhpe_tf.configs._base import binaryhpe_stage_recipe


def get_config():
    return binaryhpe_stage_recipe(stage="binary_activations")
