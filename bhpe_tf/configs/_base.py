"""Shared building blocks of the recipes (imported by the config files of this folder).

Values follow the papers (docs/DESIGN.md §5.1, §7):
* HRNet-W32 (Sun et al. 2019, w32_256x192_adam_lr1e-3.yaml): Adam lr 1e-3, x0.1 at epochs 170 and
  200, 210 epochs, batch 32 per GPU, flip / rotation +-40 / scale +-0.35 / half-body augmentation,
  Gaussian sigma 2, JointsMSE.
* BiHRNet (arXiv 2311.10296): the same schedule; loss AWing + lambda * KL(teacher || student);
  stage 1 binary activations with real weights, stage 2 fully binary from stage 1.
* Hand4Whole (Moon et al. 2022) / BinaryHPE (arXiv 2311.14323): Adam lr 1e-4, x0.1 at epochs 4
  and 6, 7 epochs, batch 24 per GPU, 512x384 crops, Hand4Whole's L1 losses; AGORA fine-tuning
  x0.1 at 40 and 60 of 70 epochs. BinaryHPE's two stages are this project's choice (the paper
  gives no recipe): BiHRNet's stage 1 -> stage 2 with output distillation from Hand4Whole.
"""


def hrnet_augment(layout="coco"):
    """Real-data augmentation (fields of bhpe_tf.data.transforms.AugmentConfig); the synthetic
    generator draws its own pose / scale / rotation."""
    if layout == "mpii":
        return {"scale_factor": 0.25, "rotation_factor": 30.0, "flip_prob": 0.5, "half_body_prob": 0.0}
    return {"scale_factor": 0.35, "rotation_factor": 45.0, "flip_prob": 0.5, "half_body_prob": 0.3}


def heatmap_recipe(*, layout="coco", model="hrnet_w32", method="fp", kwargs=None, stage="fp",
                   teacher=None, loss="mse"):
    input_wh = [192, 256] if layout == "coco" else [256, 256]
    return {
        "model": {"name": model, "method": method, "kwargs": dict(kwargs or {})},
        "stage": stage,
        "init_from": None,
        "teacher": teacher,
        "loss": {"name": loss, "kl_weight": 1.0, "kl_beta": 10.0},
        "data": {"dataset": "synthetic", "layout": layout, "input_wh": input_wh, "sigma": 2.0,
                 "normalize": "imagenet", "augment": hrnet_augment(layout), "val_samples": 512, "seed": 0},
        "optimizer": {"name": "adam", "lr": 1e-3, "milestones": [170, 200], "gamma": 0.1},
        "train": {"batch_size": 32, "epochs": 210, "steps_per_epoch": 1000, "checkpoint_every": 1000,
                  "keep_checkpoints": 3, "log_every": 20, "images_every_epoch": True, "seed": 0,
                  "val_batch_size": 32},
    }


def hrnet_teacher(checkpoint=None):
    return {"model": "hrnet_w32", "method": "fp", "kwargs": {}, "checkpoint": checkpoint}


def bihrnet_recipe(*, layout="coco", stage="binary"):
    """Stage 1 (``binary_activations``) or stage 2 (``binary``, initialised from stage 1)."""
    config = heatmap_recipe(layout=layout, model="bihrnet", method="bidrn",
                            kwargs={"stage1": "ir_a", "ms_block": "ms_a", "width": 32}, stage=stage,
                            teacher=hrnet_teacher(f"runs/hrnet_w32_{layout}"), loss="awing_kl")
    if stage == "binary":
        config["init_from"] = f"runs/bihrnet_{layout}_stage1"
    return config


def mesh_recipe(*, method="bidrn", stage=None, teacher=None):
    """Hand4Whole's recipe (``main/config.py``): trained on Human3.6M (3D group) + MSCOCO and MPII
    (2D group, length-equalised), validated on EHF; Adam 1e-4, x0.1 at epochs 4 and 6, 7 epochs,
    batch 24 per GPU; scale / rotation / colour / flip augmentation. Without --data_dir the same
    targets come from the synthetic renders."""
    model = "hand4whole" if method == "fp" else "binaryhpe"
    return {
        "model": {"name": model, "method": method, "kwargs": {}},
        "stage": stage or ("fp" if method == "fp" else "binary"),
        "init_from": None,
        "teacher": teacher,
        "loss": {"name": "hand4whole", "distill_weight": 0.0, "detach_projection": False},
        "data": {"dataset": "synthetic", "layout": "smplx", "input_wh": [384, 512], "normalize": "unit",
                 "smplx_model": None, "train_sets": {"3d": ["Human36M"], "2d": ["MSCOCO", "MPII"]},
                 "val_set": "EHF", "require_neuralannot": False,
                 "augment": {"scale_factor": 0.25, "rotation_factor": 30.0, "rotation_prob": 0.6, "flip_prob": 0.5,
                             "half_body_prob": 0.0, "color_factor": 0.2},
                 "val_samples": 100, "seed": 0},
        "optimizer": {"name": "adam", "lr": 1e-4, "milestones": [4, 6], "gamma": 0.1},
        "train": {"batch_size": 24, "epochs": 7, "steps_per_epoch": 1000, "checkpoint_every": 1000,
                  "keep_checkpoints": 3, "log_every": 20, "images_every_epoch": True, "seed": 0,
                  "val_batch_size": 8},
    }


def hand4whole_teacher(checkpoint="runs/hand4whole"):
    return {"model": "hand4whole", "method": "fp", "kwargs": {}, "checkpoint": checkpoint}


def binaryhpe_stage_recipe(*, stage):
    """BinaryHPE (BiDRN) in two stages, the recipe this project uses for BiHRNet; the BinaryHPE paper
    gives no recipe, so this is the project's choice (docs/DESIGN.md §12): stage 1 binary activations with
    real weights, stage 2 fully binary initialised from stage 1, both with the Hand4Whole losses plus
    L1 output distillation (weight 1) from the frozen full-precision Hand4Whole."""
    config = mesh_recipe(method="bidrn", stage=stage, teacher=hand4whole_teacher())
    config["loss"]["distill_weight"] = 1.0
    if stage == "binary":
        config["init_from"] = "runs/binaryhpe_bidrn_stage1"
    return config


def agora_finetune(config, *, init_from):
    """Hand4Whole's AGORA fine-tuning (README "Models"): AGORA alone (3D group), validated on its
    validation split, Adam 1e-4, x0.1 at epochs 40 and 60, 70 epochs, from the trained model; the
    projection loss does not reach the SMPL-X parameters (``get_coord`` with AGORA only)."""
    config["data"].update({"train_sets": {"3d": ["AGORA"], "2d": []}, "val_set": "AGORA"})
    config["optimizer"].update({"lr": 1e-4, "milestones": [40, 60]})
    config["train"]["epochs"] = 70
    config["loss"]["detach_projection"] = True
    config["init_from"] = init_from
    return config
