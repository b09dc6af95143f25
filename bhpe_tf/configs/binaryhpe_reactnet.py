"""BinaryHPE baseline: Hand4Whole with reactnet binary encoders (BinaryHPE paper Table 1), Hand4Whole recipe."""
from bhpe_tf.configs._base import mesh_recipe


def get_config():
    return mesh_recipe(method="reactnet")
