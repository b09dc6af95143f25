"""BiHRNet on MPII, stage 1: binary activations, real weights; AWing + KL to the frozen HRNet-W32 teacher."""
from bhpe_tf.configs._base import bihrnet_recipe


def get_config():
    config = bihrnet_recipe(layout="mpii", stage="binary_activations")
    config["model"]["kwargs"]["num_joints"] = 16
    return config
