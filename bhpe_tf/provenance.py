"""Model provenance: what a model's weights were learned from, carried to its model card and ``infer``.

A provenance record is a small json object::

    {"kind": "imported" | "dataset" | "synthetic" | "untrained" | "unknown",
     "summary": "one line a person reads",
     "details": {...}}

* ``imported``: official PyTorch weights converted by :mod:`bhpe_tf.import_weights`; ``details``
  lists each source file with its sha256 and what it covered.
* ``dataset`` / ``synthetic``: trained by the trainer on a user's dataset (``--data_dir``) or on
  the embedded synthetic demo data (no ``--data_dir``); ``details`` names the data, the config and,
  when the run started from other weights (``init_from``, ``init_fp_from``), their provenance.
* ``untrained``: a freshly initialised model (``convert --random_init``).
* ``unknown``: nothing recorded (a checkpoint from elsewhere, or written before provenance existed).

Where it is stored: the importer writes it into ``OUT.keras.meta.json``; the trainer into
``WORKDIR/provenance.json`` (found from the workdir, ``best.keras``, ``final.keras`` or a
``checkpoints/ckpt-N`` prefix); the converter copies it into the model card (``"provenance"``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from bhpe_tf.errors import InvalidInputError
from bhpe_tf.fileio import read_json_object
from bhpe_tf.models.registry import MODEL_NAMES, get_model

KINDS = ("imported", "dataset", "synthetic", "untrained", "unknown")
KEYS = ("kind", "summary", "details")
WORKDIR_FILE = "provenance.json"
SYNTHETIC_WARNING = ("this model was trained only on the embedded synthetic demo data: its keypoints on real "
                     "photos are not a real pose model's (import official weights with bhpe-import, or train "
                     "with --data_dir)")


def record(kind: str, summary: str, **details) -> dict:
    """A validated provenance record."""
    return validate({"kind": kind, "summary": summary, "details": details})


def unknown(why: str = "no provenance recorded with these weights") -> dict:
    return record("unknown", why)


def untrained() -> dict:
    return record("untrained", "freshly initialised weights (--random_init): latency and size experiments only")


def validate(value, field: str = "provenance") -> dict:
    """Check a provenance record; :class:`InvalidInputError` naming the field otherwise."""
    if not isinstance(value, dict):
        raise InvalidInputError(f"{field}: must be an object, got {type(value).__name__}")
    missing = [k for k in KEYS if k not in value]
    extra = sorted(set(value) - set(KEYS))
    if missing or extra:
        raise InvalidInputError(f"{field}: needs exactly the fields {', '.join(KEYS)}"
                                f"{' (missing ' + ', '.join(missing) + ')' if missing else ''}"
                                f"{' (unknown ' + ', '.join(extra) + ')' if extra else ''}")
    if value["kind"] not in KINDS:
        raise InvalidInputError(f"{field}.kind: must be one of {', '.join(KINDS)}, got {value['kind']!r}")
    if not isinstance(value["summary"], str) or not value["summary"] or "\n" in value["summary"]:
        raise InvalidInputError(f"{field}.summary: must be a non-empty one-line string")
    if not isinstance(value["details"], dict):
        raise InvalidInputError(f"{field}.details: must be an object")
    return value


def learned_from_real_data(value: Optional[dict]) -> bool:
    """Whether any weights of this lineage came from real data (a dataset or imported official weights)."""
    if not value:
        return False
    if value.get("kind") in ("imported", "dataset", "unknown"):
        return True  # unknown: we cannot tell, so no warning is claimed
    details = value.get("details") or {}
    return any(learned_from_real_data(details.get(key)) for key in ("init_from", "init_fp_from"))


def synthetic_only(value: Optional[dict]) -> bool:
    """A model trained only on the embedded synthetic demo data (no real data anywhere in its lineage)."""
    return bool(value) and value.get("kind") == "synthetic" and not learned_from_real_data(value)


def report_lines(value: Optional[dict]) -> list:
    """What ``infer`` prints about a model: its provenance, and one warning line for a synthetic-only model."""
    value = value or unknown()
    lines = [f"model provenance ({value['kind']}): {value['summary']}"]
    if synthetic_only(value):
        lines.append(f"warning: {SYNTHETIC_WARNING}")
    return lines


# --------------------------------------------------------------------------- where it is stored
def _valid_or_none(value) -> Optional[dict]:
    try:
        return validate(value)
    except InvalidInputError:
        return None


def for_checkpoint(path) -> dict:
    """The provenance of the weights at ``path`` (``.keras`` file, trainer workdir or checkpoint prefix)."""
    path = Path(os.fspath(path))
    meta = read_json_object(Path(f"{path}.meta.json"))
    if meta and _valid_or_none(meta.get("provenance")):
        return meta["provenance"]
    # A trainer workdir holds WORKDIR/provenance.json; its outputs are WORKDIR/best.keras,
    # WORKDIR/final.keras and WORKDIR/checkpoints/ckpt-N.
    for folder in (path, path.parent, path.parent.parent):
        candidate = folder / WORKDIR_FILE
        if candidate.is_file():
            found = _valid_or_none(read_json_object(candidate))
            if found:
                return found
    return unknown(f"no provenance recorded next to {path.name} (not written by bhpe-import or the trainer)")


def for_training(*, config: dict, data_dir=None, init_from=None, init_fp_from=None) -> dict:
    """The provenance a training run records in ``WORKDIR/provenance.json``."""
    name = config.get("name") or "?"
    layout = (config.get("data") or {}).get("layout")
    model = (config.get("model") or {}).get("name")
    details = {"config": name, "task": get_model(model).task if model in MODEL_NAMES else None, "layout": layout,
               "data_dir": os.path.abspath(os.fspath(data_dir)) if data_dir else None}
    if init_from:
        details["init_from"] = for_checkpoint(init_from)
    if init_fp_from:
        details["init_fp_from"] = for_checkpoint(init_fp_from)
    if data_dir:
        kind, summary = "dataset", f"trained on the dataset at {details['data_dir']} (config {name})"
    else:
        kind, summary = "synthetic", f"trained on the embedded synthetic demo data only (config {name})"
    for key, label in (("init_from", "initialised from"), ("init_fp_from", "stem/head initialised from")):
        if key in details:
            summary += f"; {label}: {details[key]['summary']}"
    return record(kind, summary, **details)


__all__ = ["KINDS", "SYNTHETIC_WARNING", "WORKDIR_FILE", "for_checkpoint", "for_training", "learned_from_real_data",
           "record", "report_lines", "synthetic_only", "unknown", "untrained", "validate"]
