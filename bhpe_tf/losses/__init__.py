"""Training losses. Heatmap losses (2D pose: AWing, JointsMSE, KL distillation) live in
:mod:`bhpe_tf.losses.heatmap`; other modules (e.g. Hand4Whole's) add their own import line below."""
from bhpe_tf.losses.heatmap import (AdaptiveWingLoss, DistillationLoss, HeatmapLoss, JointsMSELoss,
                                    adaptive_wing_loss, awing_weight_map, heatmap_kl_divergence,
                                    joints_mse_loss)

__all__ = [
    # heatmap.py
    "AdaptiveWingLoss", "DistillationLoss", "HeatmapLoss", "JointsMSELoss", "adaptive_wing_loss",
    "awing_weight_map", "heatmap_kl_divergence", "joints_mse_loss",
]
