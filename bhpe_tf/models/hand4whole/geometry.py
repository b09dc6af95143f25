"""Hand4Whole's geometry: crop and grid sizes, the joint sets and the virtual camera.

Only numpy and dataclasses: the losses and the data code import this module without building (or
importing) the Keras network.
"""
import dataclasses
import math
from typing import Tuple

import numpy as np

from bhpe_tf.errors import InvalidInputError

# Hand4Whole's joint sets for PositionNet (``smpl_x.pos_joint_part``): 25 body joints, 20 per hand
# (thumb, index, middle, ring, pinky; 3 joints + tip each); MCP = the first joint of index, middle,
# ring and pinky, which the body RotationNet samples from the hand features.
NUM_BODY_JOINTS = 25
NUM_HAND_JOINTS = 20
HAND_MCP = (4, 8, 12, 16)
NUM_BODY_ROTATIONS = 21  # SMPL-X body joints without the root
NUM_HAND_ROTATIONS = 15
NUM_BETAS = 10
NUM_EXPRESSION = 10
# Hand4Whole's 137 output joints: body 0-24, left hand 25-44, right hand 45-64, face 65-136; the
# roots for relative 3D coordinates (``get_coord``): pelvis, wrists, neck.
ROOT_JOINT, LWRIST_JOINT, RWRIST_JOINT, NECK_JOINT = 0, 12, 13, 7
LHAND_SLICE, RHAND_SLICE, FACE_SLICE = slice(25, 45), slice(45, 65), slice(65, 137)
BODY_SLICE = slice(0, NUM_BODY_JOINTS)
# PositionNet's 65 joints (body, left hand, right hand) are the first 65 of the 137.
NUM_POSITION_JOINTS = RHAND_SLICE.stop
# BoxNet's boxes, in the order of its centre heatmaps.
BOX_PARTS = ("lhand", "rhand", "face")


@dataclasses.dataclass(frozen=True)
class Hand4WholeGeometry:
    """Sizes and camera of the pipeline (Hand4Whole ``config.py``); defaults are the paper's.

    ``input_shape`` (H, W) of the person crop must be multiples of 64 (2x downsample, stride 32);
    crops multiples of 32. Output grids: body ``(H/64, W/64)`` x ``body_depth`` bins (8x6x8),
    hands ``hand_shape/32`` x ``hand_depth`` (8x8x8), BoxNet heatmaps 8x the body grid (64x48).
    The virtual camera (``focal``, ``princpt``, ``camera_image_shape``: focal 5000 px on the
    256x192 body image) stays Hand4Whole's whatever the input size; :meth:`project_to_body_grid`
    and :meth:`camera_in_image` are its two uses.
    """

    input_shape: Tuple[int, int] = (512, 384)
    hand_shape: Tuple[int, int] = (256, 256)
    face_shape: Tuple[int, int] = (192, 192)
    body_depth: int = 8
    hand_depth: int = 8
    hand_box_scale: float = 2.0
    face_box_scale: float = 1.5
    focal: Tuple[float, float] = (5000.0, 5000.0)
    princpt: Tuple[float, float] = (96.0, 128.0)
    camera_image_shape: Tuple[int, int] = (256, 192)
    camera_3d_size: float = 2.5
    boxnet_upsampling: int = 8  # three stride-2 deconvs

    def __post_init__(self):
        height, width = self.input_shape
        if height % 64 or width % 64 or height <= 0 or width <= 0:
            raise InvalidInputError(f"input size must be (H, W) multiples of 64 (2x downsample then stride 32), "
                                    f"got {tuple(self.input_shape)}; Hand4Whole uses (512, 384)")
        for label, shape in (("hand", self.hand_shape), ("face", self.face_shape)):
            if shape[0] % 32 or shape[1] % 32 or shape[0] <= 0 or shape[1] <= 0:
                raise InvalidInputError(f"{label} crop size must be multiples of 32, got {tuple(shape)}")

    @property
    def body_shape(self):
        return self.input_shape[0] // 2, self.input_shape[1] // 2

    @property
    def body_grid(self):
        return self.input_shape[0] // 64, self.input_shape[1] // 64

    @property
    def hand_grid(self):
        return self.hand_shape[0] // 32, self.hand_shape[1] // 32

    @property
    def boxnet_grid(self):
        return tuple(self.boxnet_upsampling * d for d in self.body_grid)

    @property
    def camera_depth_scale(self) -> float:
        """Hand4Whole's k = sqrt(fx fy s^2 / (H_body W_body)): t_z = k * sigmoid(gamma) (56.38 m)."""
        fx, fy = self.focal
        h, w = self.camera_image_shape
        return math.sqrt(fx * fy * self.camera_3d_size ** 2 / (h * w))

    def project_to_body_grid(self, camera_points):
        """Hand4Whole's virtual camera (``get_coord``): camera-frame points ``(..., 3)`` -> ``(x, y)``
        in body-grid cells.

        ``u = X / (Z + 1e-4) f_x + c_x`` (likewise v) in pixels of the 256x192 camera image, then
        scaled to the body grid. Plain arithmetic on ``[..., i]``, so numpy arrays and TensorFlow
        tensors both work; the caller stacks the two coordinates.
        """
        fx, fy = self.focal
        cx, cy = self.princpt
        cam_h, cam_w = self.camera_image_shape
        grid_h, grid_w = self.body_grid
        depth = camera_points[..., 2] + 1e-4
        return ((camera_points[..., 0] / depth * fx + cx) / cam_w * grid_w,
                (camera_points[..., 1] / depth * fy + cy) / cam_h * grid_h)

    def camera_in_image(self, *, zoom, origin):
        """Focal and principal point ``(2,)`` of the virtual camera in the pixels of the image the
        input crop was cut from, where ``image_pixel = crop_pixel * zoom + origin`` (an unrotated
        crop): the camera image scales to the input crop, the crop to the image."""
        height, width = self.input_shape
        cam_h, cam_w = self.camera_image_shape
        to_input = np.array([width / cam_w, height / cam_h])
        focal = np.asarray(self.focal, np.float64) * to_input * zoom
        return focal, np.asarray(self.princpt, np.float64) * to_input * zoom + np.asarray(origin, np.float64)

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}
