"""BinaryHPE baseline, LCE form: Hand4Whole with xnor_nok binary encoders (the deployable neighbour of xnor,
bhpe_tf.binary.methods), Hand4Whole recipe."""
from bhpe_tf.configs._base import mesh_recipe


def get_config():
    return mesh_recipe(method="xnor_nok")
