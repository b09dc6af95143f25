"""One synthetic SMPL-X model folder and one Hand4Whole-layout fixture tree per test process
(written once, shared by the test files that need them, removed at exit)."""
import atexit
import functools
import shutil
import tempfile
from pathlib import Path


@functools.lru_cache(maxsize=None)
def fixture_tree():
    """``(root, model_dir, truth)``: ``root`` holds Human36M/, MSCOCO/, MPII/, EHF/, AGORA/ in
    Hand4Whole's layout; ``model_dir`` is the ``--smplx_model`` folder (smplx/SMPLX_NEUTRAL.npz +
    the evaluation files); ``truth`` the camera-frame people that were drawn."""
    from bhpe_tf.data.hand4whole.fixtures import write_fixture_tree, write_smplx_dir

    base = Path(tempfile.mkdtemp(prefix="bhpe_h4w_"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    model_dir = write_smplx_dir(base / "smplx_model")
    truth = write_fixture_tree(base / "data", smplx_model_path=model_dir / "smplx" / "SMPLX_NEUTRAL.npz")
    return base / "data", model_dir, truth


def model_file():
    return fixture_tree()[1] / "smplx" / "SMPLX_NEUTRAL.npz"
