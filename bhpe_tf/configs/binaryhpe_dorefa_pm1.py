"""BinaryHPE baseline, LCE form: Hand4Whole with dorefa_pm1 binary encoders (the deployable neighbour of dorefa,
bhpe_tf.binary.methods), Hand4Whole recipe."""
from bhpe_tf.configs._base import mesh_recipe


def get_config():
    return mesh_recipe(method="dorefa_pm1")
