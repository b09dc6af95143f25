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


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Each test starts with fresh Keras layer names, so models built in tests do not clash."""
    import tensorflow as tf

    tf.keras.backend.clear_session()
    yield
