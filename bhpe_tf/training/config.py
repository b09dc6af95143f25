"""Training configs: the modules of :mod:`bhpe_tf.configs`, each defining ``get_config()`` -> nested dict.

``load_config("bihrnet_demo")`` imports ``bhpe_tf/configs/bihrnet_demo.py`` from the package (so it
works from an installed wheel; a path to a ``.py`` with ``get_config()`` works too) and fills the
optional keys (:func:`with_defaults`). Overrides go through ml_collections' ``config_flags``:
``--config NAME --config.optimizer.lr=1e-4`` on the command line (:func:`define_config_flag`), and
:func:`apply_overrides` with ``["optimizer.lr=1e-4"]`` from Python, through the same flag parser.
A value is parsed as the type of the value it replaces (int, float, str, bool; ``none`` sets None);
lists, dicts and None fields take Python literals (``[64, 64]``, ``{'a': 1}``), else the string.
An unknown key raises :class:`ConfigError` listing the closest valid keys; only ``...kwargs`` (the
builder options) takes new keys, which :func:`validate` checks against the builder. Stage chaining
is in the config: ``init_from`` and ``teacher.checkpoint`` name the run a stage starts from or
distils from (``--config.teacher.checkpoint=runs/hrnet_w32_coco``).
"""
from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import importlib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

from absl import flags

from bhpe_tf.errors import MissingFileError, UserError

#: The package of the configs (``--config NAME`` is ``bhpe_tf/configs/NAME.py``).
CONFIG_PACKAGE = "bhpe_tf.configs"
STAGES = ("fp", "binary_activations", "binary")


class ConfigError(UserError, ValueError):
    """A bad config key or value."""


def config_names() -> list:
    """The configs of the package (``bhpe_tf/configs/*.py`` but the shared ``_base``)."""
    from importlib import resources

    return sorted(entry.name[:-3] for entry in resources.files(CONFIG_PACKAGE).iterdir()
                  if entry.name.endswith(".py") and not entry.name.startswith("_"))


def _is_path(text: str) -> bool:
    return text.endswith(".py") or os.sep in text or "/" in text


def _config_module(name_or_path):
    """``(module, name)`` of a packaged config's name or of a ``.py`` file."""
    text = os.fspath(name_or_path)
    if _is_path(text):
        path = Path(text)
        if not path.is_file():
            raise MissingFileError(f"config file {text} not found")
        spec = importlib.util.spec_from_file_location(f"bhpe_train_config_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.parent))  # a config of one's own may import helpers next to it
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.parent))
        return module, path.stem
    names = config_names()
    if text not in names:
        close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown config {text!r}{hint}; available: {', '.join(names)}")
    return importlib.import_module(f"{CONFIG_PACKAGE}.{text}"), text


def load_config(name_or_path) -> dict:
    """The nested dict of a config's ``get_config()`` with the defaults filled (a deep copy, safe to modify)."""
    module, name = _config_module(name_or_path)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config {name_or_path} defines no get_config()")
    config = copy.deepcopy(module.get_config())
    if not isinstance(config, dict):
        raise ConfigError(f"get_config() of {name_or_path} must return a dict, got {type(config).__name__}")
    config.setdefault("name", name)
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
    """Fill the optional keys, so that ``--config.KEY=...`` can reach them and typos are still caught."""
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


# ----------------------------------------------------------------- overrides (ml_collections config_flags)
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


class _ValueParser(flags.ArgumentParser):
    """A list / dict / None field (or a new builder option): :func:`parse_value`."""

    def parse(self, argument):
        return parse_value(argument) if isinstance(argument, str) else argument  # else: the config's own value

    def flag_type(self):
        return "config value"


class _NoneOr(flags.ArgumentParser):
    """An int / float / str field's absl parser that also takes ``none`` (``train.max_initial_scale=none``)."""

    def __init__(self, parser):
        self._parser = parser

    def parse(self, argument):
        if isinstance(argument, str) and argument.strip().lower() in ("none", "null"):
            return None
        return self._parser.parse(argument)

    def flag_type(self):
        return self._parser.flag_type()


def _register_value_parsers() -> None:
    """config_flags parses an override by the type of the value it replaces; add the types our configs hold."""
    from ml_collections import config_flags

    for kind, parser in ((int, flags.IntegerParser()), (float, flags.FloatParser()), (str, flags.ArgumentParser())):
        config_flags.register_flag_parser_for_type(kind, _NoneOr(parser))
    for kind in (list, dict, type(None)):
        config_flags.register_flag_parser_for_type(kind, _ValueParser())


def prepare_override_keys(config: dict, keys) -> dict:
    """Check dotted override keys before config_flags applies them: an unknown key raises
    :class:`ConfigError` naming the closest keys; a new key under ``kwargs`` (a builder option, checked
    by :func:`validate`) is added as None so that config_flags can set it."""
    for dotted in keys:
        parts = dotted.split(".")
        node = config
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if isinstance(node, dict) and part in node:
                if not last:
                    if node[part] is None:
                        where = ".".join(parts[:depth + 1])
                        raise ConfigError(f"config key {where!r} is None; set it as a whole, e.g. "
                                          f"--config.{where}=\"{{...}}\"")
                    node = node[part]
                continue
            if isinstance(node, dict) and last and depth > 0 and parts[depth - 1] == "kwargs":
                node[part] = None  # a new builder option; config_flags sets it like a None field
                continue
            close = difflib.get_close_matches(dotted, flat_keys(config), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            where = ".".join(parts[:depth])
            level = sorted(node) if isinstance(node, dict) else []
            raise ConfigError(f"unknown config key {dotted!r}{hint} (keys {'under ' + repr(where) if where else 'at the top'}"
                              f": {', '.join(level)})")
    return config


class ConfigParser(flags.ArgumentParser):
    """The parser of the ``--config`` flag: a packaged config's name or a ``.py`` path -> :func:`load_config`
    (a dict passes through: :func:`apply_overrides`), its ``--config.KEY`` overrides checked first
    (:func:`prepare_override_keys`); config_flags then applies them."""

    def __init__(self, flag_name: str, argv=None):
        self.flag_name, self._argv = flag_name, argv

    def override_keys(self) -> list:
        argv = sys.argv if self._argv is None else self._argv
        argv = flags.FLAGS.read_flags_from_files(list(argv), force_gnu=False)  # as config_flags reads them
        pattern = re.compile(rf"^--?(no)?{re.escape(self.flag_name)}\.")
        return [arg[match.end():].split("=", 1)[0] for arg in argv if (match := pattern.match(arg))]

    def parse(self, argument):
        config = argument if isinstance(argument, dict) else load_config(argument)
        return prepare_override_keys(config, self.override_keys())

    def flag_type(self):
        return "config name or .py path"


def define_config_flag(flag_values=flags.FLAGS, *, name: str = "config", argv=None,
                       help_string: str = "config name of bhpe_tf/configs (e.g. bihrnet_demo) or a .py path with "
                                          "get_config(); --config.KEY.PATH=VALUE overrides a value (repeatable)"):
    """Define ``--NAME`` (ml_collections ``DEFINE_config_file`` taking a config's name) and its
    ``--NAME.key.path=value`` overrides on ``flag_values``. ``argv`` is the command line the overrides
    are read from (default: ``sys.argv`` when parsing). Returns the flag holder; its value is the dict."""
    from ml_collections import config_flags

    _register_value_parsers()
    holder = config_flags.DEFINE_config_file(name, None, help_string, flag_values=flag_values, lock_config=False,
                                             sys_argv=None if argv is None else list(argv))
    flag_values[name].parser = ConfigParser(name, None if argv is None else list(argv))
    return holder


def _config_error(err: Exception) -> UserError:
    context = err.__context__
    return context if isinstance(context, UserError) else ConfigError(str(err))


def apply_overrides(config: dict, overrides) -> dict:
    """Set ``"key.path=value"`` items in ``config`` (in place; returned) as ``--config.key.path=value``
    does on the command line: the same ml_collections flags, parsers and key checks."""
    items = list(overrides or ())
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.path=value")
    argv = ["apply_overrides"] + [f"--config.{item}" for item in items]
    flag_values = flags.FlagValues()
    try:
        define_config_flag(flag_values, argv=argv)
        flag_values.set_default("config", config)
        flag_values(argv)
    except flags.Error as err:
        raise _config_error(err) from None
    return flag_values["config"].value


def get(config: dict, dotted: str, default=None):
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def identity(config: dict) -> dict:
    """What a checkpoint depends on: task, model, method, options, stage (not lr, steps, ...)."""
    return {"task": task_of(config), "model": config["model"]["name"], "method": config["model"]["method"],
            "model_kwargs": config["model"].get("kwargs", {}), "stage": config.get("stage", "fp"),
            "input_wh": list(config["data"]["input_wh"]), "layout": config["data"].get("layout")}


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
    from bhpe_tf.models import get_model

    if kwargs is None:
        return
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{where} must be a dict of builder options, got {kwargs!r}")
    options, accepts_any = get_model(model_name).options()
    if accepts_any:
        return
    for key in kwargs:
        if key == "method":
            raise ConfigError(f"{where}.method: the binarization method is set by model.method (teacher.method)")
        if key not in options:
            close = difflib.get_close_matches(key, options, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"{where}.{key}: {model_name} has no option {key!r}{hint} (options: {', '.join(options)})")


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def task_of(config: dict) -> str:
    """The training task of a config: its model's (``keypoints_2d`` or ``smplx_mesh``, the registry's)."""
    from bhpe_tf.models import get_model

    return get_model(config["model"]["name"]).task


def validate(config: dict) -> dict:
    from bhpe_tf.binary.methods import get_method
    from bhpe_tf.models import MODEL_NAMES

    for key in ("model", "data", "optimizer", "train"):
        if key not in config:
            raise ConfigError(f"config {config.get('name')!r} has no {key!r} section")
    if "task" in config:
        raise ConfigError("a config has no 'task': the model decides it (bhpe_tf.models.registry: keypoints_2d "
                          "for hrnet_w32 / bihrnet, smplx_mesh for binaryhpe / hand4whole); remove the key")
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
    size = config["data"].get("input_wh")
    if not (isinstance(size, (list, tuple)) and len(size) == 2):
        raise ConfigError(f"data.input_wh must be [width, height], got {size!r}")
    return config
