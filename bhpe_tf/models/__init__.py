"""The networks of the project; :mod:`bhpe_tf.models.registry` knows each one by name.

``build_model(name, method=..., input_hw=..., **options)`` is what the CLIs (stats, train,
convert, infer) call; importing this package stays cheap (builders are imported on first use).
"""
from bhpe_tf.models.registry import MODEL_NAMES, ModelEntry, build_model, get_model, models_of_task  # noqa: F401
