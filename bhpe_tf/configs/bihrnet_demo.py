"""BiHRNet demo on the embedded synthetic stick figures: a few CPU minutes (``make demo``).

Tiny BiHRNet (64x64 input, width 16, one module / one block per stage, IR Bottleneck (a) +
MS-Block (a)), fully binary (``bidrn`` preset, stage ``binary``: binary weights and activations,
so the trained model converts to LCE binary convs), AWing loss without a teacher, Adam 2e-3
constant, batch 16, 200 steps (2 epochs of 100, PCK@0.2 on 256 held-out figures at the start and
after each epoch).

Measured (2 busy CPU cores, training/README.md "Embedded demo"): held-out PCK@0.2 0.06 -> ~0.45.
What made it learn is the head's initialisation (``bhpe_tf.models.hrnet.head``: HRNet's N(0, 0.001)
instead of Glorot); with the Glorot head this config stayed at chance (0.04) for 500 steps.
"""
from bhpe_tf.configs._base import heatmap_recipe


def get_config():
    config = heatmap_recipe(layout="coco", model="bihrnet", method="bidrn",
                            kwargs={"stage1": "ir_a", "ms_block": "ms_a", "width": 16, "stage_modules": [1, 1, 1],
                                    "num_blocks": 1, "num_joints": 17},
                            stage="binary", teacher=None, loss="awing")
    config["data"].update({"input_wh": [64, 64], "sigma": 1.5, "val_samples": 256})
    config["optimizer"].update({"lr": 2e-3, "milestones": []})
    config["train"].update({"batch_size": 16, "epochs": 2, "steps_per_epoch": 100, "checkpoint_every": 100,
                            "log_every": 10, "val_batch_size": 64, "validate_at_start": True})
    return config
