"""Training configs: Python files defining ``get_config()`` -> nested dict, plus dotted overrides.

``load_config("bihrnet_demo")`` reads ``training/configs/bihrnet_demo.py`` (a path works too);
``apply_overrides(config, ["optimizer.lr=1e-4", "train.batch_size=8"])`` sets values (parsed as
Python literals, else kept as strings); an unknown key raises :class:`ConfigError` listing the
closest valid keys. :func:`validate` checks the values the trainer relies on.
"""
from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import importlib.util
import json
import os
from pathlib import Path

from bhpe_tf.errors import MissingFileError, UserError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "training" / "configs"
TASKS = ("heatmap", "mesh")
STAGES = ("fp", "binary_activations", "binary")


class ConfigError(UserError, ValueError):
    """A bad config key or value."""


def config_names() -> list:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.py") if not p.stem.startswith("_"))


def _resolve(name_or_path) -> Path:
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.suffix == ".py" or os.sep in text or "/" in text:
        if not path.is_file():
            raise MissingFileError(f"config file {text} not found")
        return path
    candidate = CONFIG_DIR / f"{text}.py"
    if not candidate.is_file():
        close = difflib.get_close_matches(text, config_names(), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown config {text!r}{hint}; available: {', '.join(config_names())}")
    return candidate


def load_config(name_or_path) -> dict:
    """The nested dict of a config file's ``get_config()`` (a deep copy, safe to modify)."""
    path = _resolve(name_or_path)
    spec = importlib.util.spec_from_file_location(f"bhpe_train_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(path.parent))  # configs may import a shared base (_base.py)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {path} defines no get_config()")
    config = copy.deepcopy(module.get_config())
    config.setdefault("name", path.stem)
    return with_defaults(config)


TRAIN_DEFAULTS = {"batch_size": 32, "epochs": 1, "steps_per_epoch": 1000, "checkpoint_every": 1000,
                  "keep_checkpoints": 3, "log_every": 20, "images_every_epoch": True, "seed": 0,
                  "val_batch_size": 32, "validate_at_start": False, "max_skip_rate": 0.05,
                  # Before the first step of a new run: stop when the untrained model's output std or
                  # loss on the first batch exceeds this (an exploding architecture); None disables.
                  "max_initial_scale": 1e4,
                  "debug_nan_at_step": None}
# init_fp_from: a full-precision HRNet .keras (e.g. an imported official HRNet-W32) whose stem and
# head initialise a student's real-valued stem and head (bhpe_tf.import_weights.init_fp_parts).
TOP_DEFAULTS = {"stage": "fp", "init_from": None, "init_fp_from": None, "teacher": None, "loss": {}}


def with_defaults(config: dict) -> dict:
    """Fill the optional keys, so that ``--set`` can reach them and typos are still caught."""
    for key, value in TOP_DEFAULTS.items():
        config.setdefault(key, copy.deepcopy(value))
    train = config.setdefault("train", {})
    for key, value in TRAIN_DEFAULTS.items():
        train.setdefault(key, value)
    return config


def flat_keys(config: dict, prefix: str = "") -> list:
    keys = []
    for key, value in config.items():
        full = f"{prefix}{key}"
        keys.append(full)
        if isinstance(value, dict):
            keys.extend(flat_keys(value, full + "."))
    return keys


def parse_value(text: str):
    """``"1e-4"`` -> 1e-4, ``"[1, 2]"`` -> [1, 2], ``"none"`` -> None, ``"true"`` -> True, else the string."""
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text


def set_value(config: dict, dotted: str, value) -> None:
    parts = dotted.split(".")
    node = config
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        open_dict = depth > 0 and parts[depth - 1] == "kwargs"  # builder options: checked by the builder
        if isinstance(node, dict) and last and open_dict and part not in node:
            node[part] = value
            return
        if not isinstance(node, dict) or part not in node:
            close = difflib.get_close_matches(dotted, flat_keys(config), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            where = ".".join(parts[:depth])
            level = sorted(node) if isinstance(node, dict) else []
            raise ConfigError(f"unknown config key {dotted!r}{hint} (keys {'under ' + repr(where) if where else 'at the top'}"
                              f": {', '.join(level)})")
        if last:
            node[part] = value
        else:
            if node[part] is None and depth < len(parts) - 1:
                raise ConfigError(f"config key {'.'.join(parts[:depth + 1])!r} is None; set it as a whole, "
                                  f"e.g. --set {'.'.join(parts[:depth + 1])}=\"{{...}}\"")
            node = node[part]


def apply_overrides(config: dict, overrides) -> dict:
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.path=value")
        key, text = item.split("=", 1)
        set_value(config, key.strip(), parse_value(text))
    return config


def get(config: dict, dotted: str, default=None):
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def identity(config: dict) -> dict:
    """What a checkpoint depends on: task, model, method, options, stage (not lr, steps, ...)."""
    return {"task": config["task"], "model": config["model"]["name"], "method": config["model"]["method"],
            "model_kwargs": config["model"].get("kwargs", {}), "stage": config.get("stage", "fp"),
            "input_size": list(config["data"]["input_size"]), "layout": config["data"].get("layout")}


def identity_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(identity(config), sort_keys=True, default=str).encode()).hexdigest()[:16]


#: Keys a resumed run may not change: they decide which samples the run has seen (start a new workdir).
REFUSED_ON_RESUME = ("train.seed", "data.seed", "data.dataset")


def leaves(config: dict, prefix: str = "") -> dict:
    """``{"optimizer.lr": 1e-3, ...}``: every non-dict value by its dotted key."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def changes(old: dict, new: dict) -> list:
    """``[(key, old value, new value)]`` for every dotted key whose value differs (sorted by key)."""
    a, b = leaves(json.loads(json.dumps(old, default=str))), leaves(json.loads(json.dumps(new, default=str)))
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _check_builder_kwargs(model_name: str, kwargs, where: str) -> None:
    """A ``model.kwargs`` typo is one line listing the builder's options (not a TypeError at build time)."""
    from bhpe_tf.models import builder_options

    if kwargs is None:
        return
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{where} must be a dict of builder options, got {kwargs!r}")
    options, accepts_any = builder_options(model_name)
    if accepts_any:
        return
    options = [p for p in options if p != "method"]  # the method is model.method
    for key in kwargs:
        if key == "method":
            raise ConfigError(f"{where}.method: the binarization method is set by model.method (teacher.method)")
        if key not in options:
            close = difflib.get_close_matches(key, options, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"{where}.{key}: {model_name} has no option {key!r}{hint} (options: {', '.join(options)})")


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def validate(config: dict) -> dict:
    from bhpe_tf.binary.methods import get_method
    from bhpe_tf.models import MODEL_NAMES

    for key in ("task", "model", "data", "optimizer", "train"):
        if key not in config:
            raise ConfigError(f"config {config.get('name')!r} has no {key!r} section")
    if config["task"] not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {config['task']!r}")
    if config["model"]["name"] not in MODEL_NAMES:
        raise ConfigError(f"model.name must be one of {', '.join(MODEL_NAMES)}, got {config['model']['name']!r}")
    get_method(config["model"]["method"])
    if config.get("stage", "fp") not in STAGES:
        raise ConfigError(f"stage must be one of {', '.join(STAGES)}, got {config.get('stage')!r}")
    teacher = config.get("teacher")
    if teacher is not None:
        if teacher.get("model") not in MODEL_NAMES:
            raise ConfigError(f"teacher.model must be one of {', '.join(MODEL_NAMES)}, got {teacher.get('model')!r}")
    opt = config["optimizer"]
    if str(opt.get("name", "adam")).lower() != "adam":
        raise ConfigError(f"optimizer.name: only 'adam' is supported (the papers' optimizer), got {opt.get('name')!r}")
    for key in ("lr",):
        if not isinstance(opt.get(key), (int, float)) or opt[key] <= 0:
            raise ConfigError(f"optimizer.{key} must be a positive number, got {opt.get(key)!r}")
    train = config["train"]
    for key in ("batch_size", "steps_per_epoch", "epochs", "checkpoint_every", "log_every", "val_batch_size",
                "keep_checkpoints"):
        value = train.get(key)
        if value is not None and not _positive_int(value):
            raise ConfigError(f"train.{key} must be a positive integer, got {value!r}")
    limit = train.get("max_initial_scale")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0):
        raise ConfigError(f"train.max_initial_scale must be a positive number or none, got {limit!r}")
    rate = train.get("max_skip_rate", 0.05)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ConfigError(f"train.max_skip_rate must be a fraction in [0, 1] (0.05 = 5 %), got {rate!r}")
    if not isinstance(train.get("seed", 0), int) or isinstance(train.get("seed", 0), bool):
        raise ConfigError(f"train.seed must be an integer, got {train.get('seed')!r}")
    val_samples = config["data"].get("val_samples", 256)
    if not _positive_int(val_samples):
        raise ConfigError(f"data.val_samples must be a positive integer (validation needs samples), got "
                          f"{val_samples!r}")
    _check_builder_kwargs(config["model"]["name"], config["model"].get("kwargs"), "model.kwargs")
    if teacher is not None:
        _check_builder_kwargs(teacher["model"], teacher.get("kwargs"), "teacher.kwargs")
    size = config["data"].get("input_size")
    if not (isinstance(size, (list, tuple)) and len(size) == 2):
        raise ConfigError(f"data.input_size must be [width, height], got {size!r}")
    return config
