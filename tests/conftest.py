"""Test-session setup shared by every test file.

* Keras 2 for Larq: ``bhpe_tf`` is imported before anything can touch ``tf.keras``.
* ``shared_data``: the real public samples live in ``../shared/data`` beside the checkout (never
  copied into the repository); ``BHPE_SHARED_DATA`` overrides the location.
"""
import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bhpe_tf  # noqa: E402,F401  (sets up Keras 2 before TensorFlow is used)
import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("BHPE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"real sample data not found at {path}; set BHPE_SHARED_DATA to the shared/data folder")
    return path


# Every random draw of a test (weight initialisers, numpy, python) starts from this seed, so a test's
# outcome does not depend on the run: a binary network's output is discontinuous in its weights (a sign
# near-tie flips an activation), and an unseeded build once failed a parity test one CI run in a few.
TEST_SEED = 20261201


@pytest.fixture(scope="module", autouse=True)
def _seeded_module():
    """Module-scoped fixtures (models built once per file) draw from the fixed seed too."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(TEST_SEED)
    yield


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Each test starts with fresh Keras layer names and the fixed seed, so models built in tests do
    not clash and are the same in every run."""
    import tensorflow as tf

    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(TEST_SEED)
    yield
