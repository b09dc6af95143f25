"""BinaryHPE baseline: Hand4Whole with dorefa binary encoders (BinaryHPE paper Table 1), Hand4Whole recipe."""
from _base import mesh_recipe


def get_config():
    return mesh_recipe(method="dorefa")
