"""HRNet-W32 full-precision teacher on COCO (Sun et al. CVPR 2019; Adam 1e-3, x0.1 at 170/200 of 210 epochs, batch 32/GPU)."""
from bhpe_tf.configs._base import heatmap_recipe


def get_config():
    config = heatmap_recipe(layout="coco", model="hrnet_w32", method="fp", loss="mse")
    config["model"]["kwargs"] = {"num_joints": 17}
    return config
