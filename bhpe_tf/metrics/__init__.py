"""Evaluation metrics exact to their references (docs/DESIGN.md §9).

``pckh`` (MPII evaluation), ``coco_keypoint_eval`` (pycocotools OKS AP, COCO-WholeBody parts),
``mpjpe`` / ``pa_mpjpe`` (root-aligned / similarity-Procrustes joint error), ``mpvpe`` /
``pa_mpvpe`` (Hand4Whole's EHF protocol). Helpers live in the submodules: ``procrustes``
(``similarity_procrustes``), ``coco`` (``oks_iou``, ``oks_nms``, ``rescore_instances``,
``topdown_results``, ``coco_wholebody_eval``), ``pckh`` (``PCKhResult``, ``format_pckh_table``),
``pose3d`` (``EHFSubsets``).
"""
from bhpe_tf.metrics.coco import coco_keypoint_eval
from bhpe_tf.metrics.pckh import pckh
from bhpe_tf.metrics.pose3d import mpjpe, mpvpe, pa_mpjpe, pa_mpvpe

__all__ = ["pckh", "coco_keypoint_eval", "mpjpe", "pa_mpjpe", "mpvpe", "pa_mpvpe"]
