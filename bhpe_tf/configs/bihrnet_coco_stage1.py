"""BiHRNet on COCO, stage 1: binary activations, real weights; AWing + KL to the frozen HRNet-W32 teacher."""
from bhpe_tf.configs._base import bihrnet_recipe


def get_config():
    config = bihrnet_recipe(layout="coco", stage="binary_activations")
    config["model"]["kwargs"]["num_joints"] = 17
    return config
