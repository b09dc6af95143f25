"""Hand4Whole's SMPL-X stage (official ``main/model.py``, ``Model.get_coord``): the network's 6D
rotations, shape, expression and camera translation -> SMPL-X mesh, joints and their projection.
"""
import os

import tensorflow as tf

from bhpe_tf.models.hand4whole.geometry import (FACE_SLICE, LHAND_SLICE, LWRIST_JOINT, NECK_JOINT, NUM_BETAS,
                                                NUM_EXPRESSION, RHAND_SLICE, ROOT_JOINT, RWRIST_JOINT,
                                                Hand4WholeGeometry)
from bhpe_tf.models.hand4whole.layers import keras_serializable

SMPLX_STAGE_INPUTS = ("root_pose_6d", "body_pose_6d", "lhand_pose_6d", "rhand_pose_6d", "jaw_pose_6d",
                      "betas", "expression", "cam_trans")


@keras_serializable
class SMPLXStage(tf.keras.layers.Layer):
    """Network outputs -> SMPL-X mesh and joints (Hand4Whole ``Model.get_coord``).

    6D -> axis-angle (Zhou et al. CVPR 2019; :func:`bhpe_tf.body.rotations.rot6d_to_axis_angle`),
    SMPL-X (:class:`bhpe_tf.body.SMPLXLayer`: neutral, eyes 0, ``flat_hand_mean=False``, no PCA,
    face contour on), the 137 Hand4Whole joints, their projection into body-grid cells with the
    virtual camera (:meth:`~bhpe_tf.models.hand4whole.geometry.Hand4WholeGeometry.project_to_body_grid`
    of the joints translated by ``cam_trans``), and the relative 3D joints Hand4Whole supervises
    (pelvis-relative; hands relative to their wrists, face to the neck).

    Takes a dict with the network's ``root_pose_6d, body_pose_6d, lhand_pose_6d, rhand_pose_6d,
    jaw_pose_6d, betas, expression, cam_trans``; runs in the Keras model or on the host after an
    LCE-converted network (call it eagerly on the interpreter's outputs).

    ``detach_projection``: the projection's gradient reaches only the camera, not the SMPL-X
    parameters (Hand4Whole's ``get_coord`` when it trains on AGORA alone).
    """

    def __init__(self, *, smplx_model_path, geometry=None, detach_projection: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.detach_projection = bool(detach_projection)
        from bhpe_tf.body.smplx_layer import SMPLXLayer

        if isinstance(geometry, dict):
            geometry = Hand4WholeGeometry(**{k: tuple(v) if isinstance(v, list) else v for k, v in geometry.items()})
        self.geometry = geometry or Hand4WholeGeometry()
        self.smplx_model_path = os.fspath(smplx_model_path)
        self.smplx = SMPLXLayer(model_path=self.smplx_model_path, gender="neutral", num_betas=NUM_BETAS,
                                num_expression_coeffs=NUM_EXPRESSION, use_pca=False, flat_hand_mean=False,
                                use_face_contour=True, name="smplx")
        self.faces = self.smplx.faces

    def call(self, inputs):
        from bhpe_tf.body.joint_sets import H4W_JOINTS
        from bhpe_tf.body.rotations import rot6d_to_axis_angle

        geometry = self.geometry
        pose = {key: rot6d_to_axis_angle(inputs[f"{key}_6d"])
                for key in ("root_pose", "body_pose", "lhand_pose", "rhand_pose", "jaw_pose")}
        smplx = self.smplx({"global_orient": pose["root_pose"], "body_pose": pose["body_pose"],
                            "left_hand_pose": pose["lhand_pose"], "right_hand_pose": pose["rhand_pose"],
                            "jaw_pose": pose["jaw_pose"], "betas": inputs["betas"],
                            "expression": inputs["expression"]})
        cam_trans = inputs["cam_trans"]
        joints = tf.gather(smplx["joints"], list(H4W_JOINTS), axis=1)  # (N,137,3), model frame
        camera = (tf.stop_gradient(joints) if self.detach_projection else joints) + cam_trans[:, None, :]
        joint_proj = tf.stack(geometry.project_to_body_grid(camera), axis=-1)
        rel = joints - joints[:, ROOT_JOINT:ROOT_JOINT + 1]
        joint_cam = tf.concat([
            rel[:, :LHAND_SLICE.start],
            rel[:, LHAND_SLICE] - rel[:, LWRIST_JOINT:LWRIST_JOINT + 1],
            rel[:, RHAND_SLICE] - rel[:, RWRIST_JOINT:RWRIST_JOINT + 1],
            rel[:, FACE_SLICE] - rel[:, NECK_JOINT:NECK_JOINT + 1]], axis=1)
        smplx_pose = tf.concat([pose["root_pose"][:, None], pose["body_pose"], pose["lhand_pose"],
                                pose["rhand_pose"], pose["jaw_pose"][:, None]], axis=1)  # (N,53,3)
        return {
            "global_orient": pose["root_pose"], "body_pose": pose["body_pose"],
            "left_hand_pose": pose["lhand_pose"], "right_hand_pose": pose["rhand_pose"],
            "jaw_pose": pose["jaw_pose"], "smplx_pose": smplx_pose,
            "vertices": smplx["vertices"] + cam_trans[:, None, :], "smplx_joints": smplx["joints"],
            "joint_cam": joint_cam, "joint_proj": joint_proj,
        }

    def get_config(self):
        return {**super().get_config(), "smplx_model_path": self.smplx_model_path,
                "geometry": self.geometry.to_dict(), "detach_projection": self.detach_projection}
