"""A small CPU mesh renderer on OpenCV for overlays (no OpenGL needed).

Points are in OpenCV camera coordinates (x right, y down, z forward, metres) and are projected by
a pinhole ``u = f_x x / z + c_x``, ``v = f_y y / z + c_y`` (Hand4Whole's camera). SMPL-X's rest
pose is y-up, so a model shown upright needs ``global_orient = (pi, 0, 0)`` (what Hand4Whole's
predicted root rotations already contain) or its y and z negated.

Filled mode is the painter's algorithm: back faces culled, remaining triangles drawn far to near
with Lambert shading under a light at the camera; enough for demo overlays and debugging.
"""
import cv2
import numpy as np

from bhpe_tf.errors import InvalidInputError

__all__ = ["project_points", "render_mesh", "draw_keypoints"]

_SUBPIXEL_BITS = 4  # cv2 fixed-point drawing: 1/16 pixel precision


def _focal_princpt(focal, princpt):
    focal = np.broadcast_to(np.asarray(focal, dtype=np.float64), (2,))
    princpt = np.broadcast_to(np.asarray(princpt, dtype=np.float64), (2,))
    return focal, princpt


def project_points(points, *, focal, princpt):
    """Pinhole projection of ``(N, 3)`` camera-space points to ``(N, 2)`` pixels."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise InvalidInputError(f"project_points: points must have shape (N, 3), got "
                                f"{points.shape}")
    focal, princpt = _focal_princpt(focal, princpt)
    z = np.where(np.abs(points[:, 2:3]) < 1e-9, 1e-9, points[:, 2:3])
    return points[:, :2] / z * focal + princpt


def render_mesh(image, vertices, faces, *, focal, princpt, mode: str = "filled",
                color=(200, 170, 140), alpha: float = 0.85, wire_color=(40, 40, 40)):
    """Draw a mesh over ``image`` (``(H, W, 3)`` uint8, BGR) and return the new image.

    Args:
        vertices: ``(V, 3)`` camera-space vertices; faces: ``(F, 3)`` indices (counter-clockwise
            seen from outside, as the SMPL-X topology).
        mode: ``"filled"`` (shaded), ``"wireframe"`` or ``"both"``.
        color: base BGR colour of the filled mesh; alpha: its opacity over the image.
    """
    if mode not in ("filled", "wireframe", "both"):
        raise InvalidInputError(f"render_mesh: mode must be filled, wireframe or both, got "
                                f"{mode!r}")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InvalidInputError(f"render_mesh: image must be (H, W, 3) uint8, got {image.shape} "
                                f"{image.dtype}")
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    tri = vertices[faces]  # (F,3,3)
    in_front = np.all(tri[:, :, 2] > 1e-3, axis=1)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centroid = tri.mean(axis=1)
    facing = np.einsum("fc,fc->f", normals, centroid) < 0  # camera at the origin
    norm = np.linalg.norm(normals, axis=1) * np.linalg.norm(centroid, axis=1) + 1e-12
    lambert = np.clip(-np.einsum("fc,fc->f", normals, centroid) / norm, 0, 1)
    pix = project_points(vertices, focal=focal, princpt=princpt)
    pix_fixed = np.round(pix * (1 << _SUBPIXEL_BITS)).astype(np.int32)[faces]  # (F,3,2)

    out = image.copy()
    visible = np.nonzero(in_front & facing)[0]
    if mode in ("filled", "both"):
        layer = image.copy()
        mask = np.zeros(image.shape[:2], np.uint8)
        order = visible[np.argsort(-centroid[visible, 2])]  # far to near
        base = np.asarray(color, dtype=np.float64)
        shades = np.clip(base[None] * (0.35 + 0.65 * lambert[order, None]), 0, 255).astype(int)
        for f, shade in zip(order, shades):
            cv2.fillConvexPoly(layer, pix_fixed[f], shade.tolist(), cv2.LINE_8, _SUBPIXEL_BITS)
            cv2.fillConvexPoly(mask, pix_fixed[f], 255, cv2.LINE_8, _SUBPIXEL_BITS)
        sel = mask > 0
        out[sel] = np.round(alpha * layer[sel] + (1 - alpha) * image[sel]).astype(np.uint8)
    if mode in ("wireframe", "both"):
        cv2.polylines(out, list(pix_fixed[visible if mode == "both" else in_front]), True,
                      tuple(int(c) for c in wire_color), 1, cv2.LINE_AA, _SUBPIXEL_BITS)
    return out


def draw_keypoints(image, points2d, *, color=(0, 0, 255), radius: int = 2):
    """Draw ``(N, 2)`` pixel positions as filled dots; returns a new image."""
    out = np.asarray(image).copy()
    for x, y in np.asarray(points2d, dtype=np.float64):
        if np.isfinite(x) and np.isfinite(y):
            cv2.circle(out, (int(round(x)), int(round(y))), radius, tuple(int(c) for c in color),
                       -1, cv2.LINE_AA)
    return out
