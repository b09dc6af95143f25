"""Hand4Whole, full precision (Moon et al. CVPRW 2022): Adam 1e-4, x0.1 at epochs 4 and 6, 7 epochs, batch 24/GPU."""
from bhpe_tf.configs._base import mesh_recipe


def get_config():
    return mesh_recipe(method="fp")
