"""Weight checkpoints of Hand4Whole / BinaryHPE models with the build options that identify them."""
import json
import os

import tensorflow as tf

from bhpe_tf.errors import InvalidInputError, MissingFileError


def model_metadata(model) -> dict:
    """What identifies a model's weights: model, method and build options."""
    meta = getattr(model, "_bhpe_meta", None)
    if meta is None:
        raise InvalidInputError(f"{model.name} was not built by bhpe_tf.models.hand4whole")
    return json.loads(meta)


def _meta_path(path) -> str:
    return f"{os.fspath(path)}.meta.json"


def save_weights(model, path) -> str:
    """``model.save_weights(path)`` plus ``<path>.meta.json`` (method and options) for
    :func:`load_weights`. ``.h5`` paths write HDF5, others a TensorFlow checkpoint."""
    model.save_weights(os.fspath(path))
    with open(_meta_path(path), "w") as handle:
        json.dump(model_metadata(model), handle, indent=1)
    return os.fspath(path)


def load_weights(model, path):
    """Load a checkpoint written by :func:`save_weights`, refusing one of another method/options."""
    path = os.fspath(path)
    exists = os.path.exists(path) or os.path.exists(f"{path}.index")
    if not exists:
        raise MissingFileError(f"checkpoint {path!r} not found")
    expected = model_metadata(model)
    if os.path.exists(_meta_path(path)):
        with open(_meta_path(path)) as handle:
            found = json.load(handle)
        if found.get("method") != expected["method"]:
            raise InvalidInputError(f"checkpoint {path!r} holds a {found.get('method')!r} model but this model is "
                                    f"{expected['method']!r}; build it with method={found.get('method')!r}")
        diff = {k: (v, expected["options"].get(k)) for k, v in found.get("options", {}).items()
                if expected["options"].get(k) != v}
        if diff:
            detail = ", ".join(f"{k}: checkpoint {a!r} vs model {b!r}" for k, (a, b) in sorted(diff.items()))
            raise InvalidInputError(f"checkpoint {path!r} was built with other options ({detail})")
    try:
        status = model.load_weights(path)
        if status is not None and hasattr(status, "assert_existing_objects_matched"):
            status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as err:
        raise InvalidInputError(f"checkpoint {path!r} does not fit {model.name} (another method or options?): "
                                f"{str(err).splitlines()[0]}") from err
    return model
