"""The model card: the json written next to every converted ``.tflite`` (``OUT.tflite`` -> ``OUT.json``).

It is the contract between the converter (``bhpe_tf.conversion.model_card`` builds it) and every
consumer of the flatbuffer (:mod:`bhpe_tf.runtime.predictors`, the benchmark CLI, the Android app's
Java reader). Its keys and allowed values have one home, the JSON Schema ``model_card.schema.json``
next to this module (package data): :func:`validate_model_card` reads from it every object's
required and optional keys and every ``enum`` / ``const``, and the Android core's tests check the
Java reader against the same file. Version 1 (keep exactly these keys)::

    {"format": "bhpe-tf-model-card", "version": 1, "bhpe_tf_version": "0.1.0",
     "model": "bihrnet", "method": "bidrn", "task": "keypoints_2d" | "smplx_mesh",
     "tflite_file": "OUT.tflite", "file_size_bytes": int, "sha256": str,
     "input": {"name": str, "index": 0, "shape": [1, H, W, 3], "dtype": "uint8" | "float32",
               "layout": "NHWC", "color": "RGB",
               "normalization": {"scale": 1/255, "mean": [r, g, b], "std": [r, g, b]},
               "crop": {"aspect_ratio": 0.75, "padding": 1.25, "interpolation": "bilinear"}},
     "outputs": [{"name": str, "index": int, "shape": [...], "dtype": "float32",
                  "kind": "heatmaps" | "vertices" | "joints_2d" | "joints_3d" | "boxes" | "smplx_params" | "other"}],
     "heatmap": {"stride": 4, "decoding": "argmax_quarter_offset" | "dark"} | null,
     "keypoints": {"dataset": "coco", "names": [...], "flip_pairs": [[1, 2], ...], "skeleton": [[15, 13], ...]} | null,
     "census": {"op_counts": {...}, "float_fallbacks": [...], "binary_layers": int, "lce_bconv2d": int},
     "parity": {"max_abs_diff": float, "output_scale": float, "tolerance": float,
                "input": "seeded uniform [0,255] image, seed 0"},
     "converter": {"target": "arm" | "tflite", "int8": bool, "lce_version": str, "tensorflow_version": str,
                   "float_weights": "float32" | "float16" | "int8"},
     "provenance": {"kind": "imported" | "dataset" | "synthetic" | "untrained" | "unknown",
                    "summary": str, "details": {...}}}

``provenance`` is the one optional top-level key, ``converter.float_weights`` and
``heatmap.blur_kernel`` the optional nested keys (cards written before they existed lack them;
readers then report the provenance as unknown and the float weights as ``"float32"``; the blur
kernel only exists for ``dark`` decoding).

Meaning of the fields a consumer must get right:

* ``input.normalization``: the network sees ``((x * scale) - mean) / std`` where ``x`` is the RGB
  pixel value in [0, 255]. When ``input.dtype`` is ``"uint8"`` this is done **in the graph**: feed
  the raw RGB bytes of the crop. When it is ``"float32"`` the caller feeds the already normalised
  values (it applies the formula itself).
* ``input.crop``: the top-down crop. A person box ``(x, y, w, h)`` is grown to
  ``aspect_ratio = w / h`` around its centre, multiplied by ``padding``, and warped (affine,
  ``interpolation``) to the input ``W x H`` (``bhpe_tf.data.transforms.box_to_center_scale``).
* ``outputs[i].index`` is the output index of the interpreter (``getOutputTensor(index)``);
  ``name`` is the Keras output name (descriptive; do not look tensors up by it).
* ``heatmap``: written and read by :class:`bhpe_tf.data.codecs.HeatmapCodec` (``to_card`` /
  ``from_card``). ``stride``: input pixels per heatmap pixel. ``argmax_quarter_offset``: per joint,
  the argmax pixel moved 0.25 px toward the higher neighbour on each axis (HRNet), then mapped back
  through the inverse crop affine; the score is the heatmap maximum. ``dark``: DARK's blur + log +
  Taylor step instead of the quarter offset, with the optional ``heatmap.blur_kernel`` (default 11,
  0 = no blur; only with ``dark``). The Android decoder implements ``argmax_quarter_offset`` only
  and refuses other decodings.
* ``keypoints``: indices are 0-based; ``flip_pairs`` and ``skeleton`` index ``names``.
* ``census.float_fallbacks``: ops of the flatbuffer that were meant to be binary but run in float
  (each ``{"op_index", "op", "output", "reason"}``); empty for a clean conversion.
* ``parity``: every output is compared (Keras vs LCE interpreter on the seeded input) relative to
  its own largest |value|; the card reports the worst output: its ``max_abs_diff``, its
  ``output_scale`` (largest |Keras value|) and ``tolerance = PARITY_RTOL * output_scale``
  (absolute). The conversion passed with ``max_abs_diff <= tolerance``, or with a larger
  ``max_abs_diff`` when the misses were isolated (<= 1 % of values beyond tolerance, relative RMS
  error <= 1e-3): binary activations within float rounding of 0 can binarize differently in Keras
  (float sums) and LCE (exact integer sums) in large networks; the converter then warns. In a narrow
  network one such flip can move every later value, so up to three seeded inputs are tried and
  ``input`` names the one the figures come from (a conversion error misses on all of them).
  For ``converter.int8`` models (dummy int8 ranges, a latency experiment) the tolerance is wider
  (see :mod:`bhpe_tf.conversion.parity`).
* ``provenance``: what the weights were learned from (:mod:`bhpe_tf.provenance`): official weights
  imported by ``bhpe-import`` (``details.sources`` with each file's sha256), a user's dataset, only
  the embedded synthetic demo data (``infer`` then warns that its keypoints are not a real model's),
  fresh weights (``--random_init``) or unknown. ``summary`` is one line for people.
* ``converter.float_weights``: how the float convs' / dense layers' weights are stored in the
  flatbuffer: ``"float32"``, or ``"float16"`` / ``"int8"`` (per output channel) behind a ``DEQUANTIZE``
  (``--float_weights``, :mod:`bhpe_tf.conversion.weight_storage`: half / a quarter of the bytes, computed
  in float32). For such a file ``parity`` is its own, with ``tolerance = rtol * output_scale`` (default
  rtol ``STORAGE_PARITY_RTOL`` of the storage); the float32 conversion it was made from passed the
  ``PARITY_RTOL`` check first. Not with ``int8`` (dummy int8 activation ranges).
* ``converter.target``: LCE's target (``"arm"``) or ``"tflite"`` for the stock TFLite converter
  (full-precision models converted without LCE; ``lce_version`` is then still recorded).

Why the schema is read rather than run by a general JSON Schema validator: ``jsonschema`` is not a
dependency of the project, and the errors must be one line naming the field, the same field the
Java reader names (``tests/test_android_core.py`` compares them). So the schema states the keys and
the enumerations, and the value rules (types, ranges, index bounds, heatmap channels = keypoint
names, census consistency, ``float_weights`` vs ``int8``) are the checks below.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

from bhpe_tf.errors import InvalidInputError, MissingFileError
from bhpe_tf.fileio import atomic_write_bytes

SCHEMA_FILE = Path(__file__).with_name("model_card.schema.json")
SCHEMA = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _schema_node(*path) -> dict:
    """The schema of the field at ``path`` (object keys; ``"[]"`` for a list's items)."""
    node = SCHEMA
    for key in path:
        node = node["items"] if key == "[]" else node["properties"][key]
    return node


def _required_keys(*path) -> tuple:
    return tuple(_schema_node(*path)["required"])


def _optional_keys(*path) -> tuple:
    node = _schema_node(*path)
    return tuple(k for k in node["properties"] if k not in node["required"])


def _allowed(*path) -> tuple:
    return tuple(_schema_node(*path)["enum"])


def _const(*path):
    return _schema_node(*path)["const"]


FORMAT = _const("format")
VERSION = _const("version")
TASKS = _allowed("task")
INPUT_DTYPES = _allowed("input", "dtype")
OUTPUT_KINDS = _allowed("outputs", "[]", "kind")
TARGETS = _allowed("converter", "target")
HEATMAP_DECODINGS = _allowed("heatmap", "decoding")


def parity_input_description(seed: int) -> str:
    """``parity.input`` of a card: which seeded input the parity figures come from."""
    return f"seeded uniform [0,255] image, seed {int(seed)}"


PARITY_INPUT = parity_input_description(0)
INTERPOLATIONS = _allowed("input", "crop", "interpolation")

TOP_KEYS = _required_keys()
INPUT_KEYS = _required_keys("input")
NORMALIZATION_KEYS = _required_keys("input", "normalization")
CROP_KEYS = _required_keys("input", "crop")
OUTPUT_KEYS = _required_keys("outputs", "[]")
HEATMAP_KEYS = _required_keys("heatmap")
OPTIONAL_HEATMAP_KEYS = _optional_keys("heatmap")
KEYPOINTS_KEYS = _required_keys("keypoints")
CENSUS_KEYS = _required_keys("census")
PARITY_KEYS = _required_keys("parity")
CONVERTER_KEYS = _required_keys("converter")
OPTIONAL_CONVERTER_KEYS = _optional_keys("converter")
FLOAT_WEIGHTS = _allowed("converter", "float_weights")
OPTIONAL_TOP_KEYS = _optional_keys()
INPUT_INDEX = _const("input", "index")
LAYOUT = _const("input", "layout")
COLOR = _const("input", "color")
OUTPUT_DTYPE = _const("outputs", "[]", "dtype")


@dataclasses.dataclass(frozen=True)
class CropSpec:
    """The card's ``input.crop``: top-down crop of the person box (``bhpe_tf.data.transforms.box_to_center_scale``)."""

    aspect_ratio: float = 0.75
    padding: float = 1.25
    interpolation: str = "bilinear"

    def to_dict(self) -> dict:
        return {"aspect_ratio": float(self.aspect_ratio), "padding": float(self.padding),
                "interpolation": self.interpolation}


def card_path_for(tflite_path) -> Path:
    """``OUT.tflite`` -> ``OUT.json`` (the card lives next to the flatbuffer, same stem)."""
    return Path(tflite_path).with_suffix(".json")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- validation
def _fail(field: str, message: str):
    raise InvalidInputError(f"model card: {field}: {message}")


def _exact_keys(obj, keys, field, optional=()):
    if not isinstance(obj, dict):
        _fail(field, f"must be an object, got {type(obj).__name__}")
    missing = [k for k in keys if k not in obj]
    if missing:
        prefix = "" if field == "card" else f"{field}."
        _fail(", ".join(prefix + k for k in missing), "missing field" + ("s" if len(missing) > 1 else ""))
    extra = sorted(set(obj) - set(keys) - set(optional))
    if extra:
        _fail(field, f"unknown field{'s' if len(extra) > 1 else ''} {', '.join(repr(k) for k in extra)}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


def _check(cond, field, message):
    if not cond:
        _fail(field, message)


def _int_list(value, field, *, length=None, positive=False):
    _check(isinstance(value, list) and all(_is_int(v) for v in value), field, f"must be a list of integers, got {value!r}")
    if length is not None:
        _check(len(value) == length, field, f"must have {length} entries, got {len(value)}")
    if positive:
        _check(all(v > 0 for v in value), field, f"must be positive, got {value!r}")


def _pairs(value, field, num):
    _check(isinstance(value, list), field, "must be a list of [i, j] pairs")
    for pair in value:
        _check(isinstance(pair, list) and len(pair) == 2 and all(_is_int(v) for v in pair), field,
               f"entries must be [i, j] integer pairs, got {pair!r}")
        _check(all(0 <= v < num for v in pair), field, f"index out of range 0..{num - 1} in {pair!r}")


def validate_model_card(card, tflite_bytes: bytes | None = None) -> dict:
    """Check ``card`` against schema version 1; raise :class:`InvalidInputError` naming the field.

    With ``tflite_bytes`` also check that the card describes that flatbuffer (size and sha256).
    Returns the card unchanged.
    """
    _exact_keys(card, TOP_KEYS, "card", optional=OPTIONAL_TOP_KEYS)
    _check(card["format"] == FORMAT, "format", f"must be {FORMAT!r}, got {card['format']!r}")
    _check(card["version"] == VERSION, "version", f"unsupported version {card['version']!r} (this reader knows {VERSION})")
    for key in ("bhpe_tf_version", "model", "method", "tflite_file", "sha256"):
        _check(isinstance(card[key], str) and card[key], key, f"must be a non-empty string, got {card[key]!r}")
    _check(card["task"] in TASKS, "task", f"must be one of {', '.join(TASKS)}, got {card['task']!r}")
    _check(card["tflite_file"].endswith(".tflite") and "/" not in card["tflite_file"], "tflite_file",
           f"must be a bare file name ending in .tflite, got {card['tflite_file']!r}")
    _check(_is_int(card["file_size_bytes"]) and card["file_size_bytes"] > 0, "file_size_bytes",
           f"must be a positive integer, got {card['file_size_bytes']!r}")
    _check(len(card["sha256"]) == 64 and all(c in "0123456789abcdef" for c in card["sha256"]), "sha256",
           "must be 64 lowercase hex digits")

    # input
    inp = card["input"]
    _exact_keys(inp, INPUT_KEYS, "input")
    _check(isinstance(inp["name"], str), "input.name", "must be a string")
    _check(inp["index"] == INPUT_INDEX and _is_int(inp["index"]), "input.index",
           f"must be {INPUT_INDEX}, got {inp['index']!r}")
    _int_list(inp["shape"], "input.shape", length=4, positive=True)
    _check(inp["shape"][0] == 1 and inp["shape"][3] == 3, "input.shape", f"must be [1, H, W, 3], got {inp['shape']!r}")
    _check(inp["dtype"] in INPUT_DTYPES, "input.dtype", f"must be one of {', '.join(INPUT_DTYPES)}, got {inp['dtype']!r}")
    _check(inp["layout"] == LAYOUT, "input.layout", f"must be {LAYOUT!r}, got {inp['layout']!r}")
    _check(inp["color"] == COLOR, "input.color", f"must be {COLOR!r}, got {inp['color']!r}")
    norm = inp["normalization"]
    _exact_keys(norm, NORMALIZATION_KEYS, "input.normalization")
    _check(_is_number(norm["scale"]) and norm["scale"] > 0, "input.normalization.scale", "must be a positive number")
    for key in ("mean", "std"):
        value = norm[key]
        _check(isinstance(value, list) and len(value) == 3 and all(_is_number(v) for v in value),
               f"input.normalization.{key}", f"must be a list of 3 numbers, got {value!r}")
    _check(all(v > 0 for v in norm["std"]), "input.normalization.std", "must be positive")
    crop = inp["crop"]
    _exact_keys(crop, CROP_KEYS, "input.crop")
    _check(_is_number(crop["aspect_ratio"]) and crop["aspect_ratio"] > 0, "input.crop.aspect_ratio", "must be positive")
    _check(_is_number(crop["padding"]) and crop["padding"] > 0, "input.crop.padding", "must be positive")
    _check(crop["interpolation"] in INTERPOLATIONS, "input.crop.interpolation",
           f"must be one of {', '.join(INTERPOLATIONS)}, got {crop['interpolation']!r}")

    # outputs
    outputs = card["outputs"]
    _check(isinstance(outputs, list) and outputs, "outputs", "must be a non-empty list")
    seen = set()
    for i, out in enumerate(outputs):
        field = f"outputs[{i}]"
        _exact_keys(out, OUTPUT_KEYS, field)
        _check(isinstance(out["name"], str), f"{field}.name", "must be a string")
        _check(_is_int(out["index"]) and 0 <= out["index"] < len(outputs), f"{field}.index",
               f"must be an integer in 0..{len(outputs) - 1}, got {out['index']!r}")
        _check(out["index"] not in seen, f"{field}.index", f"duplicate output index {out['index']}")
        seen.add(out["index"])
        _int_list(out["shape"], f"{field}.shape", positive=True)
        _check(out["dtype"] == OUTPUT_DTYPE, f"{field}.dtype", f"must be {OUTPUT_DTYPE!r}, got {out['dtype']!r}")
        _check(out["kind"] in OUTPUT_KINDS, f"{field}.kind", f"must be one of {', '.join(OUTPUT_KINDS)}, got {out['kind']!r}")

    # heatmap / keypoints
    heatmap = card["heatmap"]
    if card["task"] == "keypoints_2d":
        _check(heatmap is not None, "heatmap", "required for task keypoints_2d")
        _check(any(o["kind"] == "heatmaps" for o in outputs), "outputs", "task keypoints_2d needs a 'heatmaps' output")
        _check(card["keypoints"] is not None, "keypoints", "required for task keypoints_2d")
    if heatmap is not None:
        _exact_keys(heatmap, HEATMAP_KEYS, "heatmap", optional=OPTIONAL_HEATMAP_KEYS)
        _check(_is_int(heatmap["stride"]) and heatmap["stride"] > 0, "heatmap.stride",
               f"must be a positive integer, got {heatmap['stride']!r}")
        _check(heatmap["decoding"] in HEATMAP_DECODINGS, "heatmap.decoding",
               f"must be one of {', '.join(HEATMAP_DECODINGS)}, got {heatmap['decoding']!r}")
        if "blur_kernel" in heatmap:
            from bhpe_tf.data.codecs import CARD_DECODINGS, DARK, is_blur_kernel

            kernel = heatmap["blur_kernel"]
            _check(heatmap["decoding"] == CARD_DECODINGS[DARK], "heatmap.blur_kernel",
                   f"only for decoding {CARD_DECODINGS[DARK]!r}")
            _check(is_blur_kernel(kernel), "heatmap.blur_kernel",
                   f"must be 0 (no blur) or an odd positive integer, got {kernel!r}")
    keypoints = card["keypoints"]
    if keypoints is not None:
        _exact_keys(keypoints, KEYPOINTS_KEYS, "keypoints")
        _check(isinstance(keypoints["dataset"], str), "keypoints.dataset", "must be a string")
        names = keypoints["names"]
        _check(isinstance(names, list) and names and all(isinstance(n, str) for n in names), "keypoints.names",
               "must be a non-empty list of strings")
        _pairs(keypoints["flip_pairs"], "keypoints.flip_pairs", len(names))
        _pairs(keypoints["skeleton"], "keypoints.skeleton", len(names))
        for out in outputs:
            if out["kind"] == "heatmaps":
                _check(out["shape"][-1] == len(names), "keypoints.names",
                       f"{len(names)} names but the heatmaps output has {out['shape'][-1]} channels")

    # census
    census = card["census"]
    _exact_keys(census, CENSUS_KEYS, "census")
    _check(isinstance(census["op_counts"], dict) and all(isinstance(k, str) and _is_int(v)
                                                         for k, v in census["op_counts"].items()),
           "census.op_counts", "must map op names to integer counts")
    _check(isinstance(census["float_fallbacks"], list), "census.float_fallbacks", "must be a list")
    for key in ("binary_layers", "lce_bconv2d"):
        _check(_is_int(census[key]) and census[key] >= 0, f"census.{key}", "must be a non-negative integer")
    _check(census["lce_bconv2d"] == census["op_counts"].get("LceBconv2d", 0), "census.lce_bconv2d",
           f"{census['lce_bconv2d']} does not match op_counts.LceBconv2d "
           f"({census['op_counts'].get('LceBconv2d', 0)})")

    # parity
    parity = card["parity"]
    _exact_keys(parity, PARITY_KEYS, "parity")
    for key in ("max_abs_diff", "output_scale", "tolerance"):
        _check(_is_number(parity[key]) and parity[key] >= 0, f"parity.{key}",
               f"must be a finite non-negative number, got {parity[key]!r}")
    _check(isinstance(parity["input"], str), "parity.input", "must be a string")

    # converter
    conv = card["converter"]
    _exact_keys(conv, CONVERTER_KEYS, "converter", optional=OPTIONAL_CONVERTER_KEYS)
    _check(conv["target"] in TARGETS, "converter.target", f"must be one of {', '.join(TARGETS)}, got {conv['target']!r}")
    _check(isinstance(conv["int8"], bool), "converter.int8", "must be true or false")
    for key in ("lce_version", "tensorflow_version"):
        _check(isinstance(conv[key], str) and conv[key], f"converter.{key}", "must be a non-empty string")
    if "float_weights" in conv:
        _check(conv["float_weights"] in FLOAT_WEIGHTS, "converter.float_weights",
               f"must be one of {', '.join(FLOAT_WEIGHTS)}, got {conv['float_weights']!r}")
        _check(not (conv["float_weights"] != "float32" and conv["int8"]), "converter.float_weights",
               f"{conv['float_weights']} weights and int8 exclude each other")

    if "provenance" in card:
        from bhpe_tf.provenance import validate as validate_provenance

        try:
            validate_provenance(card["provenance"])
        except InvalidInputError as err:
            raise InvalidInputError(f"model card: {err}") from None

    if tflite_bytes is not None:
        _check(len(tflite_bytes) == card["file_size_bytes"], "file_size_bytes",
               f"card says {card['file_size_bytes']} bytes but the flatbuffer has {len(tflite_bytes)}")
        _check(sha256_hex(tflite_bytes) == card["sha256"], "sha256",
               "does not match the flatbuffer (the .tflite was changed after conversion; convert again)")
    return card


# --------------------------------------------------------------------------- files
def dumps_model_card(card: dict) -> str:
    return json.dumps(card, indent=2, allow_nan=False) + "\n"


def write_model_card(card: dict, path, *, tflite_bytes: bytes | None = None) -> Path:
    """Validate and write ``card`` as json at ``path`` (atomically)."""
    validate_model_card(card, tflite_bytes)
    return atomic_write_bytes(path, dumps_model_card(card).encode("utf-8"))


def read_model_card(path, *, tflite_bytes: bytes | None = None) -> dict:
    """Read and validate a card; :class:`MissingFileError` / :class:`InvalidInputError` when it is not usable."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"model card {path} not found (converters/convert.py writes it next to the .tflite)")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidInputError(f"model card {path} is not valid json: {err}") from None
    try:
        return validate_model_card(card, tflite_bytes)
    except InvalidInputError as err:
        raise InvalidInputError(f"{path}: {err}") from None


def card_for_tflite(tflite_path, *, check_hash: bool = True) -> dict:
    """The card next to ``tflite_path``, checked against the flatbuffer's size and hash."""
    tflite_path = Path(tflite_path)
    data = tflite_path.read_bytes() if check_hash else None
    return read_model_card(card_path_for(tflite_path), tflite_bytes=data)
