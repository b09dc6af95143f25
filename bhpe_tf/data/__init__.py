"""Datasets, top-down transforms, heatmap codecs and ``tf.data`` pipelines (docs/DESIGN.md §8).

Readers return a :class:`RecordSet` of :class:`SampleRecord` (0-based pixels, scale in pixels,
3D in metres) plus the :class:`SkipCounter` of what they left out; bad files raise
:class:`DataError` naming the file and record. TensorFlow is imported only by ``pipeline``.
Hand4Whole's dataset layout, its exact mesh targets and the 3D / 2D training mix are in
:mod:`bhpe_tf.data.hand4whole`.
"""
from bhpe_tf.data.agora import load_agora
from bhpe_tf.data.coco import load_coco
from bhpe_tf.data.codecs import HeatmapCodec
from bhpe_tf.data.ehf import load_ehf
from bhpe_tf.data.h36m import load_h36m_cameras, load_h36m_npz
from bhpe_tf.data.meta import KeypointMeta, get_meta
from bhpe_tf.data.mpii import load_mpii_eval_mat, load_mpii_json, load_mpii_predictions, load_mpii_release_mat
from bhpe_tf.data.records import Camera, DataError, RecordSet, SampleRecord, SkipCounter, SMPLXParams, read_image
from bhpe_tf.data.transforms import (AugmentConfig, box_to_center_scale, crop_matrix, get_affine_transform,
                                     warp_crop)

__all__ = [
    "AugmentConfig", "Camera", "DataError", "HeatmapCodec", "KeypointMeta", "RecordSet", "SMPLXParams", "SampleRecord",
    "SkipCounter", "box_to_center_scale", "crop_matrix", "get_affine_transform", "get_meta", "load_agora", "load_coco",
    "load_ehf", "load_h36m_cameras", "load_h36m_npz", "load_mpii_eval_mat", "load_mpii_json",
    "load_mpii_predictions", "load_mpii_release_mat", "read_image", "warp_crop",
]
