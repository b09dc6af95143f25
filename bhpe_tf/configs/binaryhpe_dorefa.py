"""BinaryHPE baseline: Hand4Whole with dorefa binary encoders (BinaryHPE paper Table 1), Hand4Whole recipe.
1-bit DoReFa with {0, 1} activations trains and evaluates, but does not convert to LCE binary ops:
binaryhpe_dorefa_pm1 is its LCE form."""
from bhpe_tf.configs._base import mesh_recipe


def get_config():
    return mesh_recipe(method="dorefa")
