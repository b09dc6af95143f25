"""BinaryHPE with BiDRN (Li et al. arXiv 2311.14323): fully binary encoders + Binarized BoxNet, Hand4Whole
losses (init_from a stage-1 run when given)."""
from _base import mesh_recipe


def get_config():
    return mesh_recipe(method="bidrn")
