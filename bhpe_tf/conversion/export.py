"""Deployment export: model -> fixed-size deployment graph -> ``.tflite`` + verified model card.

This is the library behind ``converters/convert.py``. The steps, each a public function:

1. :func:`load_model`: build the registered model (:mod:`bhpe_tf.models.registry`) and restore a
   checkpoint into it (:mod:`bhpe_tf.checkpoints`: a trainer workdir, a ``tf.train`` checkpoint
   prefix or folder, or ``.keras`` / ``.h5`` weights), or load a Keras SavedModel folder. A
   checkpoint that does not fit the model (other method, other width) is refused with the first
   mismatching variable.
2. :func:`deployment_model`: wrap it at a fixed ``1 x H x W x 3`` input. With ``uint8_input`` the
   graph takes raw RGB bytes and normalises in-graph (``((x * scale) - mean) / std``); otherwise it
   takes the normalised float tensor. Outputs get stable names (the card's ``outputs[].name``).
3. :func:`convert_deployment`: LCE (binary models; FP models too) or the stock TFLite converter
   (full-precision models, ``converter="tflite"``).
4. :func:`verify`: op census (no float fallbacks unless allowed; every binary layer became an
   ``LceBconv2d``) and Keras-vs-interpreter parity on a seeded input.
5. :func:`reduced_weights_file` (``float_weights="float16"`` or ``"int8"``): the float convs' / dense
   layers' weights stored in float16 or per-channel int8 (:mod:`bhpe_tf.conversion.weight_storage`),
   after the float32 file passed :func:`verify`; that file is verified again, its parity against the
   storage's tolerance (``STORAGE_PARITY_RTOL``).
6. :func:`export`: all of the above, then the ``.tflite`` and its card ``.json`` written atomically.

The normalisation recorded in the card is the one the checkpoint was trained with (its run's
``data.normalize``, :func:`bhpe_tf.checkpoints.normalization_of`); without a record, the model's
registry default: HRNet / BiHRNet see ImageNet-normalised RGB (HRNet's pipeline), Hand4Whole /
BinaryHPE RGB in [0, 1] (no mean / std).
"""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Optional

import tensorflow as tf

from bhpe_tf import checkpoints, cli
from bhpe_tf.conversion.weight_storage import STORAGE_PARITY_RTOL, WEIGHT_STORAGES, store_weights
from bhpe_tf.conversion.lce import binary_layers, convert, convert_float
from bhpe_tf.conversion.parity import PARITY_RTOL, Verification, verify
from bhpe_tf.errors import ConversionError, InvalidInputError, MissingFileError, UserError
from bhpe_tf.fileio import atomic_write_bytes
from bhpe_tf.runtime.card import TASKS, CropSpec, card_path_for, write_model_card
from bhpe_tf.models.registry import get_model
from bhpe_tf.runtime.normalization import IMAGENET, Normalization, named_normalization

log = logging.getLogger(__name__)

# Int8 models use LCE's dummy quantization ranges (latency experiments only): parity is measured
# and recorded, not enforced.
DEFAULT_INT8_RANGE = (-3.0, 3.0)


# --------------------------------------------------------------------------- loading
def load_model(model_name: str, method: str, *, checkpoint=None, saved_model=None, input_hw=None,
               model_kwargs=None) -> tf.keras.Model:
    """The model to export: ``saved_model`` (a Keras SavedModel folder), or the registered model
    built with ``method`` and restored from ``checkpoint`` (:func:`bhpe_tf.checkpoints.load_registered`;
    freshly initialised when neither is given: only useful for latency experiments and tests)."""
    if checkpoint is not None and saved_model is not None:
        raise InvalidInputError("pass either --checkpoint or --saved_model, not both")
    if saved_model is None:
        return checkpoints.load_registered(model_name, method, checkpoint=checkpoint, input_hw=input_hw,
                                           model_kwargs=model_kwargs)
    if not os.path.isdir(saved_model):
        raise MissingFileError(f"SavedModel folder {saved_model} not found")
    try:
        model = tf.keras.models.load_model(saved_model, compile=False)
    except (OSError, ValueError, TypeError, KeyError, tf.errors.OpError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InvalidInputError(f"cannot load a Keras model from {saved_model}: {first}") from None
    if not isinstance(model, tf.keras.Model):
        raise InvalidInputError(f"{saved_model} is not a Keras SavedModel (saved with model.save(dir))")
    return model


# --------------------------------------------------------------------------- deployment graph
class InputNormalization(tf.keras.layers.Layer):
    """uint8 RGB -> ``((float(x) * scale) - mean) / std`` (one MUL + one ADD after the cast)."""

    def __init__(self, scale, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.mean, self.std = float(scale), [float(v) for v in mean], [float(v) for v in std]

    def call(self, x):
        std = tf.constant(self.std, tf.float32)
        multiplier = tf.constant(self.scale, tf.float32) / std
        offset = -tf.constant(self.mean, tf.float32) / std
        return tf.cast(x, tf.float32) * multiplier + offset

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mean": self.mean, "std": self.std}


def output_names(model: tf.keras.Model, task: str):
    """Stable names of the model's outputs, in the order :func:`deployment_model` emits them."""
    outputs = model.outputs
    names = list(model.output_names)
    if len(outputs) == 1 and task == "keypoints_2d":
        return ["heatmaps"]
    return names


def deployment_model(model: tf.keras.Model, *, input_hw=None, uint8_input: bool = False,
                     normalization: Normalization = IMAGENET, task: str = "keypoints_2d") -> tf.keras.Model:
    """``model`` at a fixed ``1 x H x W x 3`` input, optionally taking uint8 RGB (normalised in-graph)."""
    if len(model.inputs) != 1:
        raise ConversionError(f"model {model.name!r} has {len(model.inputs)} inputs; deployment expects one image")
    in_shape = tuple(model.inputs[0].shape[1:])
    if len(in_shape) != 3 or in_shape[-1] != 3:
        raise ConversionError(f"model {model.name!r} input shape {in_shape} is not (H, W, 3)")
    if input_hw is None:
        if in_shape[0] is None or in_shape[1] is None:
            raise ConversionError(f"model {model.name!r} has no fixed input size; pass --input_hw HEIGHT,WIDTH")
        input_hw = (int(in_shape[0]), int(in_shape[1]))
    height, width = int(input_hw[0]), int(input_hw[1])
    for fixed, wanted, axis in ((in_shape[0], height, "height"), (in_shape[1], width, "width")):
        if fixed is not None and int(fixed) != wanted:
            raise ConversionError(f"model {model.name!r} was built for input {in_shape[0]}x{in_shape[1]}, asked to "
                                  f"export at {height}x{width} ({axis} differs); build it at that size")
    image = tf.keras.Input((height, width, 3), batch_size=1, name="image",
                           dtype=tf.uint8 if uint8_input else tf.float32)
    x = image
    if uint8_input:
        x = InputNormalization(normalization.scale, normalization.mean, normalization.std, name="normalize")(x)
    outputs = model(x, training=False)
    if isinstance(outputs, dict):  # named outputs (BinaryHPE): the dict keys name them
        names = list(outputs)
        outputs = [outputs[k] for k in names]
    else:
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        names = output_names(model, task)
        if len(names) != len(outputs):
            names = [f"output_{i}" for i in range(len(outputs))]
    named = [tf.keras.layers.Identity(name=name)(out) for name, out in zip(names, outputs)]
    return tf.keras.Model(image, named, name=f"deploy_{model.name}")


# --------------------------------------------------------------------------- conversion
def is_full_precision(model: tf.keras.Model) -> bool:
    return not binary_layers(model)


def convert_deployment(deploy: tf.keras.Model, *, converter: str = "auto", int8: bool = False,
                       int8_range=DEFAULT_INT8_RANGE, allow_float_fallback: bool = False, target: str = "arm") -> tuple:
    """Flatbuffer bytes and the converter target used (``"arm"`` for LCE, ``"tflite"`` for stock)."""
    if converter not in ("auto", "lce", "tflite"):
        raise InvalidInputError(f"converter must be auto, lce or tflite, got {converter!r}")
    full_precision = is_full_precision(deploy)
    if converter == "auto":
        converter = "lce" if (not full_precision or int8) else "tflite"
    if converter == "tflite":
        if not full_precision:
            raise ConversionError(f"{len(binary_layers(deploy))} binary layers: the stock TFLite converter would run "
                                  "them in float; use the LCE converter")
        if int8:
            raise ConversionError("--int8 needs the LCE converter (dummy int8 ranges); drop --converter tflite")
        try:
            return convert_float(deploy), "tflite"
        except Exception as err:  # noqa: BLE001  (converter errors carry no useful type)
            raise ConversionError(f"TFLite conversion failed: {str(err).strip().splitlines()[0]}") from None
    try:
        data = convert(deploy, target=target, int8_range=tuple(int8_range) if int8 else None,
                       allow_float_fallback=allow_float_fallback)
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001
        raise ConversionError(f"LCE conversion failed: {str(err).strip().splitlines()[0]}") from None
    return data, target


def check_weight_storage(*, int8: bool, float_weights: str) -> None:
    """Refuse (``InvalidInputError``) an unknown weight storage, or float16 / int8 weight storage
    together with int8 activation ranges."""
    if float_weights not in WEIGHT_STORAGES:
        raise InvalidInputError(f"--float_weights must be one of {', '.join(WEIGHT_STORAGES)}, got {float_weights!r}")
    if int8 and float_weights != "float32":
        raise InvalidInputError(f"--float_weights {float_weights} and --int8 exclude each other (int8 already stores "
                                "the float parts in 8 bits); pass one of them")


def reduced_weights_file(deploy: tf.keras.Model, flatbuffer: bytes, *, float_weights: str, uint8_input: bool,
                         normalization: Normalization, allow_float_fallback: bool = False,
                         parity_rtol: Optional[float] = None, source_model: Optional[tf.keras.Model] = None) -> tuple:
    """The verified float32 ``flatbuffer`` with its float weights stored as ``float_weights`` (float16 or
    int8), and its :class:`Verification` (the same census checks; parity against ``parity_rtol``,
    default the storage's ``STORAGE_PARITY_RTOL``).

    The float32 file is verified first (:func:`verify` at the strict tolerance, by the caller), so a
    miss here is the rounding of the weights, not a conversion error: a rounded weight can move a
    binary activation across its threshold and the flipped sign spreads (see
    :data:`bhpe_tf.conversion.weight_storage.FLOAT16_PARITY_RTOL`); such a model is refused with that reason."""
    parity_rtol = STORAGE_PARITY_RTOL[float_weights] if parity_rtol is None else parity_rtol
    smaller = store_weights(flatbuffer, float_weights)
    try:
        verification = verify(deploy, smaller, uint8_input=uint8_input, normalization=normalization,
                              allow_float_fallback=allow_float_fallback, parity_rtol=parity_rtol,
                              source_model=source_model)
    except ConversionError as err:
        raise ConversionError(f"with --float_weights {float_weights} (the float32 file passed): {err}; the "
                              f"{float_weights} rounding of the float weights moves this model's output: convert "
                              "with --float_weights float32, or accept it with a wider "
                              "--float_weights_parity_rtol") from None
    return smaller, verification


# --------------------------------------------------------------------------- all together
@dataclasses.dataclass
class ExportResult:
    tflite_path: Path
    card_path: Path
    card: dict
    verification: Verification  # of the written file
    # With float16 / int8 weights: the float32 file the written one was made from (its size and verification).
    float32_size_bytes: Optional[int] = None
    float32_verification: Optional[Verification] = None


def export(model: tf.keras.Model, output, *, model_name: str, method: str, task: Optional[str] = None,
           input_hw=None, uint8_input: bool = False, normalization: Optional[Normalization] = None,
           crop: Optional[CropSpec] = None, int8: bool = False, int8_range=DEFAULT_INT8_RANGE,
           allow_float_fallback: bool = False, converter: str = "auto", parity_rtol: float = PARITY_RTOL,
           keypoint_dataset: Optional[str] = None, provenance: Optional[dict] = None,
           float_weights: str = "float32", float_weights_parity_rtol: Optional[float] = None) -> ExportResult:
    """Convert ``model`` and write ``output`` (``.tflite``) and its card (``.json``, same stem).

    ``provenance`` (:mod:`bhpe_tf.provenance`) is what the weights were learned from; the card
    records ``unknown`` without it. ``float_weights`` (``"float16"`` / ``"int8"``): the written file
    stores the float weights so (:func:`reduced_weights_file`; the float32 conversion is verified at
    ``parity_rtol`` first, the written file at ``float_weights_parity_rtol``, default the storage's);
    the card's ``converter.float_weights`` says which."""
    output = Path(output)
    if output.suffix != ".tflite":
        raise InvalidInputError(f"output must end in .tflite, got {output}")
    check_weight_storage(int8=int8, float_weights=float_weights)
    entry = get_model(model_name)
    task = task or entry.task
    if task not in TASKS:
        raise InvalidInputError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    normalization = normalization or named_normalization(entry.normalization)
    deploy = deployment_model(model, input_hw=input_hw, uint8_input=uint8_input, normalization=normalization,
                              task=task)
    if crop is None:  # the person box is grown to the input's aspect ratio (0.75 for 256x192)
        height, width = (int(d) for d in deploy.inputs[0].shape[1:3])
        crop = CropSpec(aspect_ratio=width / height)
    flatbuffer, target = convert_deployment(deploy, converter=converter, int8=int8, int8_range=int8_range,
                                            allow_float_fallback=allow_float_fallback)
    verification = verify(deploy, flatbuffer, uint8_input=uint8_input, normalization=normalization,
                          allow_float_fallback=allow_float_fallback, int8=int8, parity_rtol=parity_rtol,
                          source_model=model)
    float32_size = float32_verification = None
    if float_weights != "float32":
        float32_size, float32_verification = len(flatbuffer), verification
        flatbuffer, verification = reduced_weights_file(
            deploy, flatbuffer, float_weights=float_weights, uint8_input=uint8_input, normalization=normalization,
            allow_float_fallback=allow_float_fallback, parity_rtol=float_weights_parity_rtol, source_model=model)
    from bhpe_tf.conversion.model_card import build_card  # the card builder reads this module's constants

    card = build_card(flatbuffer=flatbuffer, tflite_file=output.name, model_name=model_name, method=method,
                      task=task, deploy=deploy, verification=verification, uint8_input=uint8_input,
                      normalization=normalization, crop=crop, target=target, int8=int8,
                      keypoint_dataset=keypoint_dataset, provenance=provenance,
                      float_weights=float_weights)
    atomic_write_bytes(output, flatbuffer)
    card_path = write_model_card(card, card_path_for(output), tflite_bytes=flatbuffer)
    return ExportResult(tflite_path=output, card_path=card_path, card=card, verification=verification,
                        float32_size_bytes=float32_size, float32_verification=float32_verification)


def summary_lines(result: ExportResult) -> list:
    """Human-readable report of an export (what the converter CLI prints)."""
    card, v = result.card, result.verification
    lines = [
        f"wrote {result.tflite_path} ({card['file_size_bytes'] / 1024:.1f} KiB) and {result.card_path}",
        f"model {card['model']} / method {card['method']} / task {card['task']}; input {card['input']['shape']} "
        f"{card['input']['dtype']}; converter {card['converter']['target']}{' int8' if card['converter']['int8'] else ''}"
        f"; float weights {card['converter']['float_weights']}",
        f"binary layers {v.binary_layers}, LceBconv2d {v.census.lce_bconv2d}, float fallbacks "
        f"{len(v.census.float_fallbacks)}",
    ]
    if result.float32_verification is not None:
        v32 = result.float32_verification
        storage = card["converter"]["float_weights"]
        lines.append(f"float weights stored as {storage}: {card['file_size_bytes'] / 2 ** 20:.2f} MiB (float32 weights: "
                     f"{result.float32_size_bytes / 2 ** 20:.2f} MiB); the float32 conversion's parity: max |Keras - LCE| "
                     f"{v32.max_abs_diff:.3g} (tolerance {v32.tolerance:.3g}); the {storage} file's below")
    for fallback in v.census.float_fallbacks:
        lines.append(f"  float fallback: {fallback.describe()}")
    for layer in v.expected_fallback_layers:
        lines.append(f"  runs in float on the device: {layer.name} ({type(layer).__name__})")
    lines.append(f"parity (worst output): max |Keras - LCE| {v.max_abs_diff:.3g} (its largest value {v.output_scale:.3g}, tolerance "
                 f"{v.tolerance:.3g}){'' if v.parity_ok else ('  beyond tolerance at isolated values only (near-tie sign flips, accepted)' if v.sparse_flips else '  NOT WITHIN TOLERANCE (int8 dummy ranges)')}")
    ops = ", ".join(f"{k} {n}" for k, n in sorted(v.census.counts.items(), key=lambda kv: -kv[1]))
    lines.append(f"ops: {ops}")
    provenance = card.get("provenance")
    if provenance:
        lines.append(f"provenance ({provenance['kind']}): {provenance['summary']}")
    return lines


# --------------------------------------------------------------------------- command line
def define_flags(flag_values=None):
    """The flags of ``bhpe-convert`` / ``converters/convert.py`` on ``flag_values`` (default ``absl.flags.FLAGS``)."""
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values

    flags.DEFINE_string("model", None, "registered model name: hrnet_w32, bihrnet, binaryhpe, hand4whole",
                        flag_values=flag_values)
    flags.DEFINE_string("method", None, "binarization method preset (fp, bnn, xnor_nok, dorefa_pm1, bireal, reactnet, "
                        "recu, fda, bidrn; xnor and dorefa train but do not convert); must be the one the "
                        "checkpoint was trained with", flag_values=flag_values)
    flags.DEFINE_string("checkpoint", None, "tf.train checkpoint (prefix or folder) or .keras / .h5 weights of the "
                        "registered model", flag_values=flag_values)
    flags.DEFINE_string("saved_model", None, "Keras SavedModel folder (instead of --checkpoint)",
                        flag_values=flag_values)
    flags.DEFINE_bool("random_init", False, "export a freshly initialised model (latency experiments only)",
                      flag_values=flag_values)
    flags.DEFINE_string("output", None, "output .tflite path; the model card is written next to it (.json)",
                        flag_values=flag_values)
    flags.DEFINE_bool("int8", False, "LCE dummy int8 quantization of the float parts (latency experiments; "
                      "parity is reported, not enforced)", flag_values=flag_values)
    flags.DEFINE_enum("float_weights", "float32", list(WEIGHT_STORAGES), "storage of the float convs' / dense "
                      "layers' weights: float32, float16 (half their bytes) or int8 (per output channel, a quarter), "
                      "computed in float32 either way; the float32 conversion is verified first, then the written "
                      "file's parity against --float_weights_parity_rtol; not with --int8", flag_values=flag_values)
    flags.DEFINE_float("float_weights_parity_rtol", None, "parity tolerance of a --float_weights float16 / int8 file, "
                       "relative to the largest output (default: 1e-2 for float16, 5e-2 for int8)",
                       flag_values=flag_values)
    flags.DEFINE_bool("allow_float_fallback", False, "accept binary layers that LCE runs in float (listed in the "
                      "report and the card's census)", flag_values=flag_values)
    flags.DEFINE_string("input_hw", None, "HEIGHT,WIDTH of the deployment input, e.g. 256,192 "
                        "(default: the model's)", flag_values=flag_values)
    flags.DEFINE_bool("uint8_input", False, "uint8 RGB input with in-graph normalisation (what the app feeds)",
                      flag_values=flag_values)
    flags.DEFINE_string("model_kwargs", None, "json object of extra builder options, e.g. "
                        "'{\"width\": 16, \"num_joints\": 16}'", flag_values=flag_values)
    flags.DEFINE_enum("converter", "auto", ["auto", "lce", "tflite"], "auto: LCE for binary models, stock "
                      "TFLite for full-precision ones", flag_values=flag_values)
    flags.DEFINE_float("parity_rtol", PARITY_RTOL, "parity tolerance relative to the largest output",
                       flag_values=flag_values)
    flags.DEFINE_string("keypoints", None, "keypoint layout of the heatmaps (coco, mpii, coco_wholebody); default "
                        "from the number of joints", flag_values=flag_values)
    flags.DEFINE_string("mean", None, "override the normalisation mean, 'r,g,b' (applied after * 1/255)",
                        flag_values=flag_values)
    flags.DEFINE_string("std", None, "override the normalisation std, 'r,g,b'", flag_values=flag_values)


def options(**values):
    """The converter's options from Python: its flags with their defaults, ``values`` set (for :func:`run_cli`)."""
    from bhpe_tf.cli import flag_values

    return flag_values(define_flags, **values)


def _triple(text, flag):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise InvalidInputError(f"--{flag} must be three comma-separated numbers 'r,g,b', got {text!r}")
    return values


def run_from_flags(flag_values) -> ExportResult:
    """What ``converters/convert.py`` does with its parsed flags."""
    from bhpe_tf.conversion.parity import trained_like_state

    f = flag_values
    if not f.model:
        raise InvalidInputError("--model is required (hrnet_w32, bihrnet, binaryhpe, hand4whole)")
    if not f.method:
        raise InvalidInputError("--method is required (the preset the model was trained with)")
    if not f.output:
        raise InvalidInputError("--output is required (a .tflite path)")
    if not f.output.endswith(".tflite"):
        raise InvalidInputError(f"--output must end in .tflite, got {f.output}")
    if f.checkpoint is None and f.saved_model is None and not f.random_init:
        raise InvalidInputError("pass --checkpoint or --saved_model (or --random_init for a latency experiment)")
    check_weight_storage(int8=f.int8, float_weights=f.float_weights)  # before the (slow) build
    get_model(f.model)  # unknown model -> one line listing the valid names
    input_hw = cli.parse_hw(f.input_hw)
    model = load_model(f.model, f.method, checkpoint=f.checkpoint, saved_model=f.saved_model, input_hw=input_hw,
                       model_kwargs=cli.parse_model_kwargs(f.model_kwargs))
    if f.random_init and f.checkpoint is None and f.saved_model is None:
        trained_like_state(model)  # untrained BN makes exact sign ties; see bhpe_tf.conversion.parity
    normalization = checkpoints.normalization_of(f.checkpoint, model_name=f.model)
    if f.mean or f.std:
        normalization = dataclasses.replace(normalization, **({"mean": _triple(f.mean, "mean")} if f.mean else {}),
                                            **({"std": _triple(f.std, "std")} if f.std else {}))
    from bhpe_tf import provenance as prov

    if f.checkpoint is not None:
        provenance = prov.for_checkpoint(f.checkpoint)
    elif f.saved_model is not None:
        provenance = prov.unknown(f"no provenance recorded for the SavedModel {os.path.basename(f.saved_model)}")
    else:
        provenance = prov.untrained()
    return export(model, f.output, model_name=f.model, method=f.method, input_hw=input_hw,
                  uint8_input=f.uint8_input, normalization=normalization, int8=f.int8,
                  allow_float_fallback=f.allow_float_fallback, converter=f.converter, parity_rtol=f.parity_rtol,
                  keypoint_dataset=f.keypoints, provenance=provenance, float_weights=f.float_weights,
                  float_weights_parity_rtol=f.float_weights_parity_rtol)


def run_cli(argv, flag_values=None):
    """absl main of the converter CLI (wrap with :func:`bhpe_tf.cli.user_errors_exit`); ``flag_values``
    (default ``absl.flags.FLAGS``) may be any object with the flags as attributes."""
    from absl import flags

    if len(argv) > 1:
        raise InvalidInputError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    tf.get_logger().setLevel("ERROR")
    result = run_from_flags(flags.FLAGS if flag_values is None else flag_values)
    print("\n".join(summary_lines(result)))
    return result


def main(argv):
    """absl main (exit status 0; errors are raised and turned into one line by ``user_errors_exit``)."""
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # SavedModel export chatter would bury the report
    run_cli(argv)
    return 0


USAGE = """Convert a trained model to a verified .tflite + model card for Larq Compute Engine (bhpe-convert).

    bhpe-convert --model bihrnet --method bidrn --checkpoint runs/bihrnet --output bihrnet.tflite --uint8_input

Binary models go through LCE, full-precision ones through the stock TFLite converter; the conversion is
refused when a binary layer would run in float (unless --allow_float_fallback) or the converted model's
output differs from Keras beyond the tolerance. Writes OUT.tflite and its model card OUT.json.
"""


def run(argv=None):
    """``bhpe-convert`` / ``converters/convert.py``: :func:`bhpe_tf.cli.run` with :func:`define_flags`."""
    from bhpe_tf import cli

    cli.run(main, define_flags, argv, doc=USAGE)
