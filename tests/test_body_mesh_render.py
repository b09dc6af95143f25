"""Mesh export (.obj / .ply), the OpenCV renderer, and the joint-subset tables."""
import bhpe_tf  # noqa: F401
import numpy as np
import pytest

from bhpe_tf.body import joint_sets
from bhpe_tf.body.mesh_io import save_mesh, save_obj, save_ply
from bhpe_tf.body.model_file import NUM_FACES
from bhpe_tf.body.render import draw_keypoints, project_points, render_mesh
from bhpe_tf.body.rotations import axis_angle_to_matrix
from bhpe_tf.body.synthetic_model import make_synthetic_smplx
from bhpe_tf.errors import InvalidInputError


@pytest.fixture(scope="module")
def mesh():
    data = make_synthetic_smplx(seed=0)
    flip = axis_angle_to_matrix(np.array([np.pi, 0.0, 0.0])).numpy()  # y-up model -> camera
    verts = data["v_template"] @ flip.T + (0, 0.2, 3.0)
    return verts, data["f"].astype(np.int64)


def test_obj_and_ply_round_trip(tmp_path, mesh):
    verts, faces = mesh
    obj = save_obj(tmp_path / "m.obj", verts, faces)
    lines = open(obj).read().splitlines()
    v = np.array([[float(x) for x in l.split()[1:]] for l in lines if l.startswith("v ")])
    f = np.array([[int(x) for x in l.split()[1:]] for l in lines if l.startswith("f ")])
    np.testing.assert_allclose(v, verts, atol=1e-6)
    np.testing.assert_array_equal(f, faces + 1)  # obj is 1-based
    ply = save_ply(tmp_path / "m.ply", verts, faces, colors=np.full(verts.shape, 0.5))
    text = open(ply).read().splitlines()
    end = text.index("end_header")
    assert "element vertex 10475" in text and f"element face {NUM_FACES}" in text
    first = text[end + 1].split()
    np.testing.assert_allclose([float(x) for x in first[:3]], verts[0], atol=1e-6)
    assert first[3:] == ["128", "128", "128"]
    assert text[end + 1 + len(verts)].split() == ["3"] + [str(i) for i in faces[0]]
    assert len(text) == end + 1 + len(verts) + len(faces)
    assert save_mesh(tmp_path / "m2.ply", verts, faces).endswith("m2.ply")
    with pytest.raises(InvalidInputError, match="unknown mesh extension '.stl'"):
        save_mesh(tmp_path / "m.stl", verts, faces)
    with pytest.raises(InvalidInputError, match="faces index vertices outside"):
        save_obj(tmp_path / "bad.obj", verts[:10], faces)


def test_render_filled_and_wireframe(mesh):
    verts, faces = mesh
    image = np.full((256, 192, 3), 255, np.uint8)
    cam = dict(focal=(300.0, 300.0), princpt=(96.0, 128.0))
    filled = render_mesh(image, verts, faces, **cam)
    wire = render_mesh(image, verts, faces, mode="wireframe", **cam)
    assert filled.shape == image.shape and filled.dtype == np.uint8
    changed = np.any(filled != image, axis=-1)
    # The body covers a plausible silhouette: some of the image, not all of it.
    assert 0.03 < changed.mean() < 0.5
    pelvis = project_points(verts[None].mean(1), **cam)[0]  # centre of the mesh is on the body
    assert changed[int(pelvis[1]), int(pelvis[0])]
    shades = filled[changed]
    assert len(np.unique(shades, axis=0)) > 10  # shaded, not flat
    assert np.any(wire != image) and not np.array_equal(wire, filled)
    np.testing.assert_allclose(project_points(np.array([[0.1, -0.2, 2.0]]), **cam),
                               [[96 + 15, 128 - 30]])
    dots = draw_keypoints(image, np.array([[10.0, 10.0], [np.nan, 5.0]]))
    assert np.any(dots[10, 10] != 255)
    with pytest.raises(InvalidInputError, match="mode must be"):
        render_mesh(image, verts, faces, mode="points", **cam)


def test_hand4whole_joint_sets_by_name():
    names = joint_sets.SMPLX_JOINT_NAMES
    assert len(names) == 144 and len(joint_sets.H4W_JOINTS) == 137
    body = [names[i] for i in joint_sets.H4W_BODY_JOINTS]
    side = {"L": "left", "R": "right"}
    expected = [(side[n[0]] + n[1:] if n[:2] in ("L_", "R_") else n).lower()
                for n in joint_sets.H4W_BODY_NAMES]
    assert body == expected
    for side, table in (("left", joint_sets.H4W_LHAND_JOINTS),
                        ("right", joint_sets.H4W_RHAND_JOINTS)):
        want = [f"{side}_{finger}{k}" for finger in ("thumb", "index", "middle", "ring", "pinky")
                for k in ("1", "2", "3", "")]
        assert [names[i] for i in table] == want
    face = [names[i] for i in joint_sets.H4W_FACE_JOINTS]
    assert face[:4] == ["jaw", "head", "left_eye", "right_eye"]
    assert face[4:] == list(names[76:144]) and len(face) == 72
    pose = [names[i] for i in joint_sets.H4W_POSE_JOINTS]
    assert pose[0] == "pelvis" and pose[21] == "right_wrist" and pose[-1] == "jaw"
    assert len(pose) == 53 and "left_eye_smplhf" not in pose
    joints = np.random.default_rng(0).normal(size=(2, 144, 3))
    np.testing.assert_array_equal(joint_sets.hand4whole_joints(joints),
                                  joints[:, list(joint_sets.H4W_JOINTS)])
    with pytest.raises(InvalidInputError, match="expected 144 joints"):
        joint_sets.hand4whole_joints(joints[:, :127])
