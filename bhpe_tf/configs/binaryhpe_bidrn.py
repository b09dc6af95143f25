"""BinaryHPE with BiDRN (Li et al. arXiv 2311.14323), stage 2: fully binary encoders + Binarized BoxNet,
initialised from stage 1 (runs/binaryhpe_bidrn_stage1), Hand4Whole losses + L1 output distillation from the
frozen Hand4Whole (runs/hand4whole). The two-stage recipe is the project's choice (BiHRNet's); the paper
gives none."""
from bhpe_tf.configs._base import binaryhpe_stage_recipe


def get_config():
    return binaryhpe_stage_recipe(stage="binary")
