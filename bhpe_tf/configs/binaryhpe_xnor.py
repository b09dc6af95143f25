"""BinaryHPE baseline: Hand4Whole with xnor binary encoders (BinaryHPE paper Table 1), Hand4Whole recipe.
XNOR-Net with its activation scale K trains and evaluates, but does not convert to LCE binary ops:
binaryhpe_xnor_nok is its LCE form."""
from bhpe_tf.configs._base import mesh_recipe


def get_config():
    return mesh_recipe(method="xnor")
