"""Shared building blocks of the recipes (imported by the config files of this folder).

Values follow the papers (DESIGN.md 5.1, 7):
* HRNet-W32 (Sun et al. 2019, w32_256x192_adam_lr1e-3.yaml): Adam lr 1e-3, x0.1 at epochs 170 and
  200, 210 epochs, batch 32 per GPU, flip / rotation +-40 / scale +-0.35 / half-body augmentation,
  Gaussian sigma 2, JointsMSE.
* BiHRNet (arXiv 2311.10296): the same schedule; loss AWing + lambda * KL(teacher || student);
  stage 1 binary activations with real weights, stage 2 fully binary from stage 1.
* Hand4Whole (Moon et al. 2022) / BinaryHPE (arXiv 2311.14323): Adam lr 1e-4, x0.1 at epochs 4
  and 6, 7 epochs, batch 24 per GPU, 512x384 crops, Hand4Whole's L1 losses.
"""


def hrnet_augment(layout="coco"):
    """Real-data augmentation (fields of bhpe_tf.data.transforms.AugmentConfig); the synthetic
    generator draws its own pose / scale / rotation."""
    if layout == "mpii":
        return {"scale_factor": 0.25, "rotation_factor": 30.0, "flip_prob": 0.5, "half_body_prob": 0.0}
    return {"scale_factor": 0.35, "rotation_factor": 45.0, "flip_prob": 0.5, "half_body_prob": 0.3}


def heatmap_recipe(*, layout="coco", model="hrnet_w32", method="fp", kwargs=None, stage="fp",
                   teacher=None, loss="mse"):
    input_size = [192, 256] if layout == "coco" else [256, 256]
    return {
        "task": "heatmap",
        "model": {"name": model, "method": method, "kwargs": dict(kwargs or {})},
        "stage": stage,
        "init_from": None,
        "teacher": teacher,
        "loss": {"name": loss, "kl_weight": 1.0, "kl_beta": 10.0},
        "data": {"dataset": "synthetic", "layout": layout, "input_size": input_size, "sigma": 2.0,
                 "normalize": "imagenet", "augment": hrnet_augment(layout), "val_samples": 512, "seed": 0},
        "optimizer": {"name": "adam", "lr": 1e-3, "milestones": [170, 200], "gamma": 0.1},
        "train": {"batch_size": 32, "epochs": 210, "steps_per_epoch": 1000, "checkpoint_every": 1000,
                  "keep_checkpoints": 3, "log_every": 20, "images_every_epoch": True, "seed": 0,
                  "val_batch_size": 32},
    }


def hrnet_teacher(layout="coco", checkpoint=None):
    return {"model": "hrnet_w32", "method": "fp", "kwargs": {}, "checkpoint": checkpoint}


def bihrnet_recipe(*, layout="coco", stage="binary"):
    """Stage 1 (``binary_activations``) or stage 2 (``binary``, initialised from stage 1)."""
    config = heatmap_recipe(layout=layout, model="bihrnet", method="bidrn",
                            kwargs={"stage1": "ir_a", "ms_block": "ms_a", "width": 32}, stage=stage,
                            teacher=hrnet_teacher(layout, f"runs/hrnet_w32_{layout}"), loss="awing_kl")
    if stage == "binary":
        config["init_from"] = f"runs/bihrnet_{layout}_stage1"
    return config


def mesh_recipe(*, method="bidrn", stage=None, teacher=None):
    model = "hand4whole" if method == "fp" else "binaryhpe"
    return {
        "task": "mesh",
        "model": {"name": model, "method": method, "kwargs": {}},
        "stage": stage or ("fp" if method == "fp" else "binary"),
        "init_from": None,
        "teacher": teacher,
        "loss": {"name": "hand4whole", "distill_weight": 0.0},
        "data": {"dataset": "synthetic", "layout": "smplx", "input_size": [384, 512], "normalize": "unit",
                 "smplx_model": None, "augment": {"scale_factor": 0.25, "rotation_factor": 30.0, "flip_prob": 0.0, "half_body_prob": 0.0,
                             "color_factor": 0.2},
                 "val_samples": 64, "seed": 0},
        "optimizer": {"name": "adam", "lr": 1e-4, "milestones": [4, 6], "gamma": 0.1},
        "train": {"batch_size": 24, "epochs": 7, "steps_per_epoch": 1000, "checkpoint_every": 1000,
                  "keep_checkpoints": 3, "log_every": 20, "images_every_epoch": True, "seed": 0,
                  "val_batch_size": 8},
    }
