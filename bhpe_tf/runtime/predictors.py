"""Running a model for inference: a ``.tflite`` with its card, or a checkpoint through Keras.

:class:`TFLitePredictor` reads the flatbuffer (:func:`read_tflite`) and its card
(:mod:`bhpe_tf.runtime.card`), checks that the two describe the same tensors
(:func:`check_card_matches_flatbuffer`, from :func:`flatbuffer_io`) and runs it in LCE's interpreter
(:func:`lce_interpreter`) or the stock ``tf.lite.Interpreter`` (:func:`stock_interpreter`).
:class:`KerasPredictor` rebuilds a registered model from a checkpoint and runs the converter's
deployment graph in Keras. Both take uint8 RGB crops and return one array per output, in
:attr:`ModelSpec.outputs` order.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import List, Optional

import numpy as np

from bhpe_tf.errors import InvalidInputError, MissingFileError
from bhpe_tf.runtime import card as model_card
from bhpe_tf.runtime.normalization import Normalization

LCE_INTERPRETER_NEEDED = ("{path} contains Larq Compute Engine ops ({ops}) that the stock tf.lite.Interpreter "
                          "cannot run; use LCE's interpreter (larq_compute_engine.tflite.python.interpreter."
                          "Interpreter, bhpe_tf.runtime.lce_interpreter) or, on Android, the lce-lite AAR")


# --------------------------------------------------------------------------- flatbuffers and interpreters
def read_tflite(path) -> bytes:
    """The flatbuffer bytes; :class:`MissingFileError` / :class:`InvalidInputError` when not a .tflite."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"model file {path} not found")
    data = path.read_bytes()
    # A TFLite flatbuffer carries the file identifier "TFL3" at bytes 4..8.
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise InvalidInputError(f"{path} is not a TFLite flatbuffer (no 'TFL3' identifier)")
    return data


def flatbuffer_io(flatbuffer: bytes) -> dict:
    """Names, shapes and dtypes of the flatbuffer's inputs / outputs, and the signature's output names.

    TFLite orders a Keras model's outputs by *name* in the signature, not in Keras order; the
    signature maps each Keras output name to its tensor.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    graph = model.subgraphs[0]

    def text(value):
        return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)

    def describe(index):
        tensor = graph.tensors[index]
        dtype = {0: "float32", 3: "uint8", 9: "int8", 2: "int32"}.get(int(tensor.type), f"type{tensor.type}")
        return {"tensor": int(index), "name": text(tensor.name), "shape": [int(d) for d in tensor.shape], "dtype": dtype}

    inputs = [describe(i) for i in graph.inputs]
    outputs = [describe(i) for i in graph.outputs]
    signature_names = {}
    for signature in model.signatureDefs or []:
        for entry in signature.outputs or []:
            signature_names[int(entry.tensorIndex)] = text(entry.name)
    for out in outputs:
        out["signature_name"] = signature_names.get(out["tensor"])
    return {"inputs": inputs, "outputs": outputs}


def lce_ops(flatbuffer: bytes) -> dict:
    """Counts of LCE custom ops in the flatbuffer (empty for a plain TFLite model)."""
    from bhpe_tf.conversion.census import op_census
    from bhpe_tf.conversion.lce import LCE_OPS

    counts = op_census(flatbuffer).counts
    return {op: counts[op] for op in LCE_OPS if counts.get(op)}


def check_binary(flatbuffer: bytes, path) -> None:
    """Refuse a flatbuffer without ``LceBconv2d`` where a binary (LCE) model is expected."""
    from bhpe_tf.conversion.census import op_census

    if not op_census(flatbuffer).counts.get("LceBconv2d"):
        raise InvalidInputError(f"{path} has no LceBconv2d op: it is not a binary LCE model (was it converted "
                                "from a full-precision model or with the stock TFLite converter?)")


def lce_interpreter(flatbuffer: bytes, *, num_threads: int = 1, use_indirect_bgemm: bool = False,
                use_xnnpack: bool = False, use_reference_bconv: bool = False):
    """LCE's Python interpreter for a flatbuffer (runs LceBconv2d & co. as well as builtin ops).

    Kernel choices (LCE 0.16): ``use_reference_bconv`` (LCE's portable reference LceBconv2d, for
    correctness checks), ``use_indirect_bgemm`` (indirect binary GEMM instead of im2col + bgemm),
    ``use_xnnpack`` (the XNNPACK delegate for the float / int8 builtin ops)."""
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    return Interpreter(flatbuffer, num_threads=num_threads, use_reference_bconv=use_reference_bconv,
                       use_indirect_bgemm=use_indirect_bgemm, use_xnnpack=use_xnnpack)


def stock_interpreter(flatbuffer: bytes, path="model", *, num_threads: int = 1):
    """``tf.lite.Interpreter`` with its error on LCE ops turned into a one-line explanation."""
    import tensorflow as tf

    found = lce_ops(flatbuffer)
    try:
        interp = tf.lite.Interpreter(model_content=flatbuffer, num_threads=num_threads)
        interp.allocate_tensors()
    except RuntimeError as err:
        if found or "Lce" in str(err):
            raise InvalidInputError(LCE_INTERPRETER_NEEDED.format(path=path, ops=", ".join(found) or "Lce*")) from None
        raise InvalidInputError(f"tf.lite.Interpreter cannot open {path}: {str(err).splitlines()[0]}") from None
    return interp


# --------------------------------------------------------------------------- model spec / predictors
@dataclasses.dataclass
class ModelSpec:
    """What inference needs to know about a model (read from the card, or derived for a checkpoint)."""

    task: str
    input_hw: tuple  # (H, W)
    input_dtype: str
    normalization: dict
    crop: dict
    outputs: list  # [{"name", "index", "shape", "kind"}] in predictor output order
    heatmap: Optional[dict]
    keypoints: Optional[dict]

    @classmethod
    def from_card(cls, card) -> "ModelSpec":
        outputs = sorted(card["outputs"], key=lambda o: o["index"])
        return cls(task=card["task"], input_hw=tuple(card["input"]["shape"][1:3]), input_dtype=card["input"]["dtype"],
                   normalization=card["input"]["normalization"], crop=card["input"]["crop"], outputs=outputs,
                   heatmap=card["heatmap"], keypoints=card["keypoints"])

    def output_of_kind(self, kind):
        for position, out in enumerate(self.outputs):
            if out["kind"] == kind:
                return position
        return None


def _normalize(image, normalization) -> np.ndarray:
    return Normalization.from_dict(normalization).apply(image)


def check_card_matches_flatbuffer(card, flatbuffer: bytes, *, card_path, tflite_path) -> None:
    """The card's input / output shapes and dtypes must be the flatbuffer's (a hand-edited or stale card
    would otherwise crop to the wrong size and fail deep inside the interpreter)."""
    io = flatbuffer_io(flatbuffer)
    actual = io["inputs"][0]
    if list(card["input"]["shape"]) != actual["shape"] or card["input"]["dtype"] != actual["dtype"]:
        raise InvalidInputError(f"model card {card_path}: input {card['input']['shape']} {card['input']['dtype']} "
                                f"but {tflite_path} takes {actual['shape']} {actual['dtype']}; convert again (the card "
                                "is written with the flatbuffer)")
    for out in card["outputs"]:
        index = int(out["index"])
        if index >= len(io["outputs"]) or list(out["shape"]) != io["outputs"][index]["shape"]:
            found = io["outputs"][index]["shape"] if index < len(io["outputs"]) else "no such output"
            raise InvalidInputError(f"model card {card_path}: output {index} ({out['name']}) has shape {out['shape']} "
                                    f"but {tflite_path} gives {found}; convert again")


class TFLitePredictor:
    """A ``.tflite`` + card, run by LCE's interpreter (or the stock one with ``interpreter="stock"``)."""

    def __init__(self, path, *, threads: int = 1, expect_binary: bool = False, interpreter: str = "lce"):
        data = read_tflite(path)
        if expect_binary:
            check_binary(data, path)
        card_path = model_card.card_path_for(path)
        if not card_path.is_file():
            raise MissingFileError(f"model card {card_path} not found next to {path}; convert with "
                                   "converters/convert.py, which writes both")
        self.card = model_card.read_model_card(card_path, tflite_bytes=data)
        check_card_matches_flatbuffer(self.card, data, card_path=card_path, tflite_path=path)
        self.spec = ModelSpec.from_card(self.card)
        self.provenance = self.card.get("provenance")  # None on cards written before provenance existed
        self.kind = interpreter
        if interpreter == "stock":
            self._interp = stock_interpreter(data, path, num_threads=threads)
        elif interpreter == "lce":
            self._interp = lce_interpreter(data, num_threads=threads, use_indirect_bgemm=True)
        else:
            raise InvalidInputError(f"--interpreter must be lce or stock, got {interpreter!r}")

    def prepare(self, crops_rgb: np.ndarray) -> np.ndarray:
        if self.spec.input_dtype == "uint8":
            return np.asarray(crops_rgb, np.uint8)
        return _normalize(crops_rgb, self.spec.normalization)

    def __call__(self, crops_rgb) -> List[np.ndarray]:
        x = self.prepare(crops_rgb)
        results = []
        for i in range(x.shape[0]):
            if self.kind == "stock":
                interp = self._interp
                interp.set_tensor(interp.get_input_details()[0]["index"], x[i:i + 1])
                interp.invoke()
                outs = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
            else:
                outs = self._interp.predict(x[i:i + 1])
                outs = outs if isinstance(outs, list) else [outs]
            results.append(outs)
        return [np.concatenate([r[k] for r in results], axis=0) for k in range(len(self.spec.outputs))]


class KerasPredictor:
    """A registered model restored from a checkpoint, run by Keras (float input, normalised here)."""

    def __init__(self, checkpoint, *, model_name, method, input_hw=None, model_kwargs=None):
        from bhpe_tf import checkpoints, provenance
        from bhpe_tf.conversion import export as ex
        from bhpe_tf.conversion import model_card as card_builder
        from bhpe_tf.data.codecs import HeatmapCodec
        from bhpe_tf.models.registry import get_model

        if not model_name or not method:
            raise InvalidInputError("a checkpoint needs --model_name and --method (a .tflite carries them in its card)")
        self.provenance = provenance.for_checkpoint(checkpoint)
        self.model = checkpoints.load_registered(model_name, method, checkpoint=checkpoint, input_hw=input_hw,
                                                 model_kwargs=model_kwargs)
        in_shape = self.model.inputs[0].shape
        if (in_shape[1] is None or in_shape[2] is None) and input_hw is None:
            raise InvalidInputError(f"model {model_name!r} has no fixed input size; pass --input_hw")
        task = get_model(model_name).task
        # the same fixed-size, named-output graph the converter exports (float input)
        self.deploy = ex.deployment_model(self.model, input_hw=input_hw, task=task)
        size = tuple(int(v) for v in self.deploy.inputs[0].shape[1:3])
        outputs = []
        for index, (name, tensor) in enumerate(zip(self.deploy.output_names, self.deploy.outputs)):
            shape = [int(d) for d in tensor.shape]
            outputs.append({"name": name, "index": index, "shape": shape,
                            "kind": card_builder.output_kind(name, shape, task)})
        heatmap = keypoints = None
        for out in outputs:
            if out["kind"] == "heatmaps":
                heatmap = HeatmapCodec(input_wh=(size[1], size[0]),
                                       heatmap_wh=(out["shape"][2], out["shape"][1])).to_card()
                keypoints = card_builder.keypoints_block(out["shape"][3])
        crop = model_card.CropSpec(aspect_ratio=size[1] / size[0]).to_dict()
        self.spec = ModelSpec(task=task, input_hw=size, input_dtype="float32",
                              normalization=checkpoints.normalization_of(checkpoint, model_name=model_name).to_dict(),
                              crop=crop, outputs=outputs, heatmap=heatmap, keypoints=keypoints)

    def __call__(self, crops_rgb) -> List[np.ndarray]:
        x = _normalize(crops_rgb, self.spec.normalization)
        results = []
        for i in range(x.shape[0]):  # the deployment graph has batch 1
            out = self.deploy(x[i:i + 1], training=False)
            results.append([np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])])
        return [np.concatenate([r[k] for r in results], axis=0) for k in range(len(self.spec.outputs))]


def open_predictor(model_path, *, model_name=None, method=None, input_hw=None, model_kwargs=None, threads=1,
                   expect_binary=False, interpreter="lce"):
    """A :class:`TFLitePredictor` for a ``.tflite``, else a :class:`KerasPredictor` for a checkpoint."""
    path = os.fspath(model_path)
    if path.lower().endswith(".tflite"):
        return TFLitePredictor(path, threads=threads, expect_binary=expect_binary, interpreter=interpreter)
    if expect_binary:
        raise InvalidInputError("--expect_binary applies to .tflite models")
    return KerasPredictor(path, model_name=model_name, method=method, input_hw=input_hw,
                          model_kwargs=model_kwargs)
