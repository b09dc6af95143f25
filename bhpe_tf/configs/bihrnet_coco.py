"""BiHRNet on COCO, stage 2: fully binary, initialised from stage 1; AWing + KL to the frozen HRNet-W32 teacher."""
from bhpe_tf.configs._base import bihrnet_recipe


def get_config():
    config = bihrnet_recipe(layout="coco", stage="binary")
    config["model"]["kwargs"]["num_joints"] = 17
    return config
