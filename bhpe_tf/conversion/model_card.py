"""Building the model card of a converted flatbuffer (the card's schema, reading and validation are
:mod:`bhpe_tf.runtime.card`'s): its outputs' kinds, the heatmap decoding and keypoint layout, and the
census / parity figures of the conversion's :class:`~bhpe_tf.conversion.parity.Verification`."""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

import bhpe_tf
from bhpe_tf.conversion.parity import Verification
from bhpe_tf.data.codecs import HeatmapCodec
from bhpe_tf.errors import ConversionError, InvalidInputError
from bhpe_tf.models.registry import keypoint_layout
from bhpe_tf.runtime import card as mc
from bhpe_tf.runtime.card import CropSpec
from bhpe_tf.runtime.normalization import Normalization
from bhpe_tf.runtime.predictors import flatbuffer_io


def output_kind(name: str, shape, task: str) -> str:
    """The card's ``kind`` of an output, from its name (BinaryHPE's dict keys) and the task."""
    lower = name.lower()
    if "heatmap" in lower or (task == "keypoints_2d" and len(shape) == 4):
        return "heatmaps"
    if "vert" in lower or "mesh" in lower:
        return "vertices"
    if "joint" in lower or "kpt" in lower or "keypoint" in lower:
        if any(k in lower for k in ("img", "proj", "2d", "uv")):
            return "joints_2d"
        return "joints_3d"
    if "box" in lower:
        return "boxes"
    if any(k in lower for k in ("pose", "shape", "betas", "expr", "jaw", "cam", "smplx", "orient", "trans")):
        return "smplx_params"
    return "other"


# --------------------------------------------------------------------------- keypoints and the card
def keypoints_block(num_joints: int, dataset: Optional[str] = None) -> dict:
    """The card's ``keypoints`` entry for a heatmap model with ``num_joints`` channels."""
    from bhpe_tf.data.meta import get_meta

    dataset = dataset or keypoint_layout(num_joints)
    if dataset is not None:
        meta = get_meta(dataset)
        if meta.num_keypoints == int(num_joints):
            return {"dataset": dataset, "names": list(meta.keypoint_names),
                    "flip_pairs": [list(map(int, p)) for p in meta.flip_pairs],
                    "skeleton": [list(map(int, e)) for e in meta.skeleton]}
        raise InvalidInputError(f"keypoint layout {dataset!r} has {meta.num_keypoints} keypoints but the model "
                                f"predicts {num_joints}")
    return {"dataset": "custom", "names": [f"keypoint_{i}" for i in range(int(num_joints))], "flip_pairs": [],
            "skeleton": []}


def build_card(*, flatbuffer: bytes, tflite_file: str, model_name: str, method: str, task: str,
               deploy: tf.keras.Model, verification: Verification, uint8_input: bool,
               normalization: Normalization, crop: CropSpec, target: str, int8: bool,
               keypoint_dataset: Optional[str] = None, provenance: Optional[dict] = None,
               float_weights: str = "float32") -> dict:
    """The validated card of ``flatbuffer``, converted from ``deploy`` and verified as ``verification``."""
    import larq_compute_engine as lce

    from bhpe_tf import provenance as prov

    io = flatbuffer_io(flatbuffer)
    inp = io["inputs"][0]
    outputs = []
    for index, (out, position) in enumerate(zip(io["outputs"], verification.output_map)):
        name = deploy.output_names[position]
        outputs.append({"name": name, "index": index, "shape": out["shape"], "dtype": "float32",
                        "kind": output_kind(name, out["shape"], task)})
    heatmap = keypoints = None
    heatmaps = [o for o in outputs if o["kind"] == "heatmaps"]
    if heatmaps:
        shape = heatmaps[0]["shape"]
        codec = HeatmapCodec(input_wh=(inp["shape"][2], inp["shape"][1]), heatmap_wh=(shape[2], shape[1]))
        try:
            heatmap = codec.to_card()
        except ValueError as e:  # heatmaps that are no integer downscale of the input
            raise ConversionError(str(e)) from None
        keypoints = keypoints_block(shape[3], keypoint_dataset)
    census = verification.census.to_dict()
    census["binary_layers"] = int(verification.binary_layers)
    census["lce_bconv2d"] = int(verification.census.lce_bconv2d)
    card = {
        "format": mc.FORMAT, "version": mc.VERSION, "bhpe_tf_version": bhpe_tf.__version__,
        "model": model_name, "method": method, "task": task,
        "tflite_file": tflite_file, "file_size_bytes": len(flatbuffer), "sha256": mc.sha256_hex(flatbuffer),
        "input": {"name": inp["name"], "index": 0, "shape": inp["shape"],
                  "dtype": "uint8" if uint8_input else "float32", "layout": "NHWC", "color": "RGB",
                  "normalization": normalization.to_dict(), "crop": crop.to_dict()},
        "outputs": outputs,
        "heatmap": heatmap,
        "keypoints": keypoints,
        "census": {k: census[k] for k in mc.CENSUS_KEYS},
        "parity": {"max_abs_diff": float(verification.max_abs_diff), "output_scale": float(verification.output_scale),
                   "tolerance": float(verification.tolerance), "input": mc.parity_input_description(verification.parity_seed)},
        "converter": {"target": target, "int8": bool(int8), "lce_version": str(lce.__version__),
                      "tensorflow_version": str(tf.__version__), "float_weights": float_weights},
        "provenance": prov.validate(provenance) if provenance is not None else prov.unknown(),
    }
    return mc.validate_model_card(card, flatbuffer)
