"""Hand4Whole fine-tuned on AGORA (its README "Models"): AGORA alone, Adam 1e-4, x0.1 at epochs 40 and 60,
70 epochs, from the trained Hand4Whole (runs/hand4whole); validation MPVPE on AGORA's validation split."""
from bhpe_tf.configs._base import agora_finetune, mesh_recipe


def get_config():
    return agora_finetune(mesh_recipe(method="fp"), init_from="runs/hand4whole")
