"""BinaryHPE (BiDRN) fine-tuned on AGORA with Hand4Whole's AGORA schedule (x0.1 at epochs 40 and 60 of 70,
Adam 1e-4, AGORA alone) from the stage-2 model (runs/binaryhpe_bidrn), keeping the output distillation from
Hand4Whole fine-tuned on AGORA (runs/hand4whole_agora)."""
from bhpe_tf.configs._base import agora_finetune, binaryhpe_stage_recipe, hand4whole_teacher


def get_config():
    config = agora_finetune(binaryhpe_stage_recipe(stage="binary"), init_from="runs/binaryhpe_bidrn")
    config["teacher"] = hand4whole_teacher("runs/hand4whole_agora")
    return config
