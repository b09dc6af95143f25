"""SMPL-X body model in TensorFlow: file loading, LBS layer, rotations, joint sets,
synthetic models, mesh export and a small renderer.

Submodules are imported on demand so that the numpy-only parts (``model_file``, ``synthetic_model``,
``mesh_io``, ``joint_sets``) do not pull in TensorFlow; ``from bhpe_tf.body import SMPLXLayer``
still works.
"""
import importlib

_LAZY = {
    "SMPLXLayer": "smplx_layer",
    "load_smplx_model": "model_file", "resolve_model_path": "model_file",
    "SMPLXModelData": "model_file", "BodyModelFileError": "model_file",
    "write_synthetic_smplx": "synthetic_model", "write_synthetic_model_dir": "synthetic_model",
    "make_synthetic_smplx": "synthetic_model",
    "save_obj": "mesh_io", "save_ply": "mesh_io", "save_mesh": "mesh_io",
    "render_mesh": "render", "project_points": "render", "draw_keypoints": "render",
    "hand4whole_joints": "joint_sets", "select_joints": "joint_sets",
}
__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
