"""Model registry: every network of the project by name, built lazily (TensorFlow graphs are heavy).

``build_model(name, **kwargs)`` is what the CLIs (stats, train, convert, infer) call; each module
registers its public builder here by dotted path so importing this package stays cheap.
"""
import importlib

from bhpe_tf.errors import UnknownNameError

_BUILDERS = {
    "hrnet_w32": "bhpe_tf.models.hrnet:build_hrnet_w32",
    "bihrnet": "bhpe_tf.models.hrnet:build_bihrnet",
    "binaryhpe": "bhpe_tf.models.hand4whole:build_binaryhpe",
    "hand4whole": "bhpe_tf.models.hand4whole:build_hand4whole",
}
MODEL_NAMES = tuple(_BUILDERS)


def get_builder(name: str):
    key = str(name).strip().lower()
    if key not in _BUILDERS:
        raise UnknownNameError("model", str(name), MODEL_NAMES)
    module, function = _BUILDERS[key].split(":")
    return getattr(importlib.import_module(module), function)


def build_model(name: str, **kwargs):
    """Build the model registered as ``name`` with keyword-only options of its builder."""
    return get_builder(name)(**kwargs)


def builder_options(name: str):
    """``(keyword options of the builder of name, accepts any)``: what ``model.kwargs`` /
    ``--model_kwargs`` may hold (``hand4whole`` forwards its options to ``build_binaryhpe``)."""
    import inspect

    params = inspect.signature(get_builder("binaryhpe" if str(name).strip().lower() == "hand4whole" else name)).parameters
    accepts_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
    return [p for p in params if params[p].kind == params[p].KEYWORD_ONLY], accepts_any
