"""BinaryHPE (BiDRN), stage 1: binary activations with real weights, Hand4Whole losses + output distillation
from the FP Hand4Whole teacher (optional: set teacher.checkpoint)."""
from _base import mesh_recipe


def get_config():
    config = mesh_recipe(method="bidrn", stage="binary_activations",
                         teacher={"model": "hand4whole", "method": "fp", "kwargs": {}, "checkpoint": None})
    config["loss"]["distill_weight"] = 1.0
    return config
