"""Model weights on disk: the one module the trainer, the converter, inference and the evaluators read them with.

A *checkpoint path* is any of

* a ``.keras`` / ``.h5`` weights file (``best.keras`` of a run, imported weights);
* a ``tf.train`` checkpoint prefix (``WORKDIR/checkpoints/ckpt-210``, with or without ``.index``);
* a folder holding a ``checkpoint`` index file, or a trainer workdir (its ``checkpoints/``).

Beside the weights may lie ``<weights>.meta.json`` (model, method and the builder options
``build_kwargs`` that identify them: written by :func:`save_weights` and :mod:`bhpe_tf.import_weights`),
and a trainer workdir holds ``run.json`` (the training config, normalisation included) and
``best.json`` (the builder options it trained with): the converter takes the model card's
normalisation and the model's options from there, not from the model's name.

A checkpoint that does not fit the model (another method, width or padding) is refused with one line
naming the first mismatch, never loaded partially.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import tensorflow as tf

from bhpe_tf.errors import InvalidInputError, MissingFileError
from bhpe_tf.fileio import read_json_object

WEIGHT_FILE_SUFFIXES = (".keras", ".h5", ".hdf5")
RUN_FILE = "run.json"
BEST_FILE = "best.json"  # the trainer's record of its best model, beside run.json


def resolve(path, *, what: str = "checkpoint") -> tuple:
    """``(kind, path)``: kind ``"keras"`` (a weights file) or ``"tf"`` (a ``tf.train`` prefix).

    ``MissingFileError`` (one line saying what is accepted) when nothing loadable is there."""
    path = os.fspath(path)
    if path.lower().endswith(WEIGHT_FILE_SUFFIXES):
        if not os.path.isfile(path):
            raise MissingFileError(f"{what} {path} not found")
        return "keras", path
    if os.path.isdir(path):
        for folder in (Path(path) / "checkpoints", Path(path)):  # a trainer workdir, or its checkpoints/
            latest = tf.train.latest_checkpoint(str(folder)) if folder.is_dir() else None
            if latest:
                return "tf", latest
        raise MissingFileError(f"no tf.train checkpoint in folder {path} (expected a training workdir or a folder "
                               "with a 'checkpoint' file and PREFIX.index / PREFIX.data-* files)")
    if path.endswith(".index"):
        path = path[: -len(".index")]
    if not os.path.isfile(path + ".index"):
        raise MissingFileError(f"{what} {path} not found (no {path}.index; pass a training workdir, a checkpoint "
                               "prefix, a folder with a 'checkpoint' file, or a .keras / .h5 weights file)")
    return "tf", path


def metadata(path) -> Optional[dict]:
    """What built the weights at a checkpoint path: ``model``, ``method`` and the builder options
    ``build_kwargs``, or ``None`` when unrecorded.

    Read from ``<weights>.meta.json`` (imported weights, :func:`save_weights`), else, for a checkpoint
    of a trainer workdir, from the run's ``best.json`` (the options the trainer built the model with:
    widths, joints, input shape), so converting a run needs no ``--model_kwargs``."""
    path = os.fspath(path)
    candidates = [f"{path}.meta.json"]
    try:
        candidates.insert(0, f"{resolve(path)[1]}.meta.json")
    except MissingFileError:
        pass
    for candidate in candidates:
        if os.path.isfile(candidate):
            return read_json_object(candidate)
    found = run_file(path)
    best = read_json_object(found.parent / BEST_FILE) if found else None
    if best and isinstance(best.get("model_kwargs"), dict):
        return {"model": best.get("model"), "method": best.get("method"), "build_kwargs": best["model_kwargs"]}
    return None


def run_file(path) -> Optional[Path]:
    """The ``run.json`` of the trainer workdir a checkpoint path lies in (the path itself, its
    folder or the folder above: ``WORKDIR``, ``WORKDIR/best.keras``, ``WORKDIR/checkpoints/ckpt-N``)."""
    here = Path(os.fspath(path))
    for folder in (here, here.parent, here.parent.parent):
        if (folder / RUN_FILE).is_file():
            return folder / RUN_FILE
    return None


def training_config(path) -> Optional[dict]:
    """The config a checkpoint was trained with (``run.json``'s ``current_config``, else ``config``)."""
    found = run_file(path)
    record = read_json_object(found) if found else None
    if not record:
        return None
    config = record.get("current_config") or record.get("config")
    return config if isinstance(config, dict) else None


def normalization_name(path) -> Optional[str]:
    """The ``data.normalize`` a checkpoint was trained with (``imagenet`` / ``unit``), ``None`` when unrecorded.

    ``uint8`` (the pipeline hands raw bytes; the model normalises in-graph) has no host-side name."""
    name = ((training_config(path) or {}).get("data") or {}).get("normalize")
    return name if name in ("imagenet", "unit") else None


def check_metadata(path, *, model_name: Optional[str], method: Optional[str], options: Optional[dict] = None,
                   what: str = "checkpoint") -> None:
    """Refuse early (before the slow build or load) weights whose metadata names another model,
    method or build option than asked."""
    meta = metadata(path)
    if not meta:
        return
    from bhpe_tf.binary.methods import get_method
    from bhpe_tf.models.registry import MODELS, same_family

    found_method = meta.get("method")
    if found_method and method and str(found_method) != get_method(method).name:
        raise InvalidInputError(f"{what} {path} holds a {found_method!r} model but the method is {method!r}; "
                                f"use method {found_method}")
    found_model = str(meta.get("model") or "")
    if found_model in MODELS and model_name and not same_family(found_model, model_name):
        raise InvalidInputError(f"{what} {path} holds a {found_model!r} model but the model is {model_name!r}")
    recorded = meta.get("options") or {}
    diff = {k: (v, (options or {}).get(k)) for k, v in recorded.items() if options is not None and options.get(k) != v}
    if diff:
        detail = ", ".join(f"{k}: checkpoint {a!r} vs model {b!r}" for k, (a, b) in sorted(diff.items()))
        raise InvalidInputError(f"{what} {path} was built with other options ({detail})")


def build_kwargs(path, model_kwargs=None, *, input_hw=None) -> dict:
    """The builder options to rebuild the model a checkpoint was written from: its metadata's
    ``build_kwargs`` (e.g. ``padding="torch"``, width, joints) under the caller's ``model_kwargs``.

    ``input_hw`` / an ``input_shape`` option replace the recorded input shape (the networks are
    fully convolutional); any other option that contradicts the recorded one is refused (another
    padding would load the weights into a different function)."""
    meta = metadata(path) or {}
    def as_built(options):  # json / config lists are the builders' tuples (stage_modules=[1, 1, 1])
        return {k: tuple(v) if isinstance(v, list) else v for k, v in (options or {}).items()}

    recorded, given = as_built(meta.get("build_kwargs")), as_built(model_kwargs)
    if input_hw is not None or "input_shape" in given:
        recorded.pop("input_shape", None)
    for key, value in given.items():
        if key in recorded and recorded[key] != value:
            raise InvalidInputError(f"checkpoint {path} was written for {key}={recorded[key]!r} (its .meta.json) but "
                                    f"{key}={value!r} was asked; drop that option")
    return {**recorded, **given}


def _mismatch(what, path, model, method, detail) -> InvalidInputError:
    detail = " ".join(str(detail).split())
    if len(detail) > 300:
        detail = detail[:300] + "..."
    built = f" built with method {method!r}" if method else ""
    return InvalidInputError(f"{what} {path} does not fit model {model.name!r}{built} (another model, method or "
                             f"options?): {detail}")


def restore(model: tf.keras.Model, path, *, what: str = "checkpoint", method: Optional[str] = None) -> str:
    """Load the weights at a checkpoint path into ``model``; returns the file / prefix read.

    Refused (one line) when a variable of the model has no counterpart in the checkpoint.
    Optimizer slots and step counters in a trainer checkpoint are ignored."""
    kind, resolved = resolve(path, what=what)
    if kind == "keras":
        try:
            model.load_weights(resolved)
        except (ValueError, KeyError, TypeError, OSError) as err:
            raise _mismatch(what, resolved, model, method, err) from None
        return resolved
    try:
        names = [name for name, _ in tf.train.list_variables(resolved)]
    except (tf.errors.OpError, ValueError) as err:
        raise InvalidInputError(f"cannot read {what} {resolved}: {err}") from None
    try:
        if any(name.startswith("model/") for name in names):  # tf.train.Checkpoint(model=..., optimizer=...)
            status = tf.train.Checkpoint(model=model).restore(resolved)
        else:  # model.save_weights(prefix): the model is the checkpoint's root
            status = model.load_weights(resolved)
        status.assert_existing_objects_matched()
        status.expect_partial()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        raise _mismatch(what, resolved, model, method, err) from None
    return resolved


def model_metadata(model) -> Optional[dict]:
    """What identifies a model's weights, as its builder recorded it (``model._bhpe_meta``), or ``None``."""
    meta = getattr(model, "_bhpe_meta", None)
    return json.loads(meta) if meta is not None else None


def save_weights(model: tf.keras.Model, path) -> str:
    """``model.save_weights(path)`` plus ``<path>.meta.json`` (its builder's metadata) when it has any.

    ``.h5`` paths write HDF5, others a TensorFlow checkpoint."""
    from bhpe_tf.fileio import atomic_write_text

    path = os.fspath(path)
    model.save_weights(path)
    meta = model_metadata(model)
    if meta is not None:
        atomic_write_text(f"{path}.meta.json", json.dumps(meta, indent=1))
    return path


def load_weights(model: tf.keras.Model, path) -> tf.keras.Model:
    """Load weights written by :func:`save_weights`, refusing those of another method or options."""
    expected = model_metadata(model) or {}
    resolve(path)
    check_metadata(path, model_name=expected.get("model"), method=expected.get("method"),
                   options=expected.get("options"))
    restore(model, path, method=expected.get("method"))
    return model


def normalization_of(path, *, model_name: str):
    """The :class:`~bhpe_tf.runtime.normalization.Normalization` the model at ``path`` expects: its
    run's ``data.normalize`` when recorded, else the registry's default for ``model_name``."""
    from bhpe_tf.models.registry import get_model
    from bhpe_tf.runtime.normalization import named_normalization

    recorded = normalization_name(path) if path is not None else None
    return named_normalization(recorded or get_model(model_name).normalization)


def load_registered(model_name: str, method: str, *, checkpoint=None, input_hw=None, model_kwargs=None):
    """The registered model ``model_name`` built with ``method`` at ``input_hw`` = (H, W) and
    restored from ``checkpoint`` (freshly initialised without one).

    The checkpoint's metadata is checked before the (slow) build, and its recorded builder options
    (:func:`build_kwargs`) are used, so imported weights rebuild with the padding they need."""
    from bhpe_tf.models.registry import get_model

    entry = get_model(model_name)
    if checkpoint is not None:
        resolve(checkpoint)  # a missing file fails before the build
        check_metadata(checkpoint, model_name=entry.name, method=method)
        model_kwargs = build_kwargs(checkpoint, model_kwargs, input_hw=input_hw)
    model = entry.build(method=method, input_hw=input_hw, **dict(model_kwargs or {}))
    if checkpoint is not None:
        restore(model, checkpoint, method=method)
    return model
