"""Triangle-mesh export: Wavefront ``.obj`` and ASCII ``.ply`` (readable by MeshLab / Blender)."""
import os

import numpy as np

from bhpe_tf.errors import InvalidInputError

__all__ = ["save_obj", "save_ply", "save_mesh"]


def _check_mesh(vertices, faces, colors=None):
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise InvalidInputError(f"mesh: vertices must have shape (V, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise InvalidInputError(f"mesh: faces must have shape (F, 3), got {faces.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise InvalidInputError(f"mesh: faces index vertices outside 0..{len(vertices) - 1}")
    if colors is not None:
        colors = np.asarray(colors)
        if colors.shape != vertices.shape:
            raise InvalidInputError(f"mesh: colors must have shape {vertices.shape} (RGB per "
                                    f"vertex), got {colors.shape}")
        if colors.dtype.kind == "f":  # floats in [0, 1]
            colors = np.round(np.clip(colors, 0, 1) * 255)
        colors = colors.astype(np.uint8)
    return vertices, faces, colors


def save_obj(path, vertices, faces) -> str:
    """Write ``v x y z`` and 1-based ``f a b c`` lines."""
    vertices, faces, _ = _check_mesh(vertices, faces)
    with open(os.fspath(path), "w") as handle:
        handle.write(f"# {len(vertices)} vertices, {len(faces)} faces\n")
        np.savetxt(handle, vertices, fmt="v %.6f %.6f %.6f")
        np.savetxt(handle, faces + 1, fmt="f %d %d %d")
    return os.fspath(path)


def save_ply(path, vertices, faces, *, colors=None) -> str:
    """ASCII PLY 1.0 with float vertices, optional uchar RGB per vertex, and triangle lists."""
    vertices, faces, colors = _check_mesh(vertices, faces, colors)
    header = ["ply", "format ascii 1.0", f"element vertex {len(vertices)}",
              "property float x", "property float y", "property float z"]
    if colors is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header += [f"element face {len(faces)}", "property list uchar int vertex_indices",
               "end_header"]
    with open(os.fspath(path), "w") as handle:
        handle.write("\n".join(header) + "\n")
        if colors is None:
            np.savetxt(handle, vertices, fmt="%.6f %.6f %.6f")
        else:
            rows = np.concatenate([vertices, colors.astype(np.float64)], axis=1)
            np.savetxt(handle, rows, fmt="%.6f %.6f %.6f %d %d %d")
        np.savetxt(handle, faces, fmt="3 %d %d %d")
    return os.fspath(path)


def save_mesh(path, vertices, faces, **kwargs) -> str:
    """Dispatch on the extension (``.obj`` or ``.ply``)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".obj":
        if kwargs:
            raise InvalidInputError(f"{path}: .obj export takes no {sorted(kwargs)}")
        return save_obj(path, vertices, faces)
    if ext == ".ply":
        return save_ply(path, vertices, faces, **kwargs)
    raise InvalidInputError(f"{path}: unknown mesh extension {ext!r}; use .obj or .ply")
