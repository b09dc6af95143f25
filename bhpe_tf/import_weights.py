"""Import official PyTorch checkpoints into the project's Keras models (``bhpe-import``).

    python -m bhpe_tf.import_weights --model hrnet_w32 --source pose_hrnet_w32_256x192.pth --output hrnet_w32_coco.keras
    python -m bhpe_tf.import_weights --model hrnet_w32 --source hrnet_w32-36af842e.pth --output hrnet_w32_imagenet.keras
    python -m bhpe_tf.import_weights --model hand4whole --source snapshot_6.pth.tar --output hand4whole.keras
    python -m bhpe_tf.import_weights --model hand4whole --source resnet50-0676ba61.pth \
        --face_source resnet18-f37072fd.pth --output hand4whole_imagenet.keras

What each import covers (the checkpoint layout is detected, never guessed from the file name):

* ``hrnet_w32`` / ``hrnet_w48`` from an HRNet **pose** checkpoint (HRNet's ``pose_hrnet_w32_256x192.pth``
  COCO / ``pose_hrnet_w32_256x256.pth`` MPII, or mmpose's ``{'state_dict': {'backbone.*', 'head.*' |
  'keypoint_head.*'}}``): every tensor, joints from the head (17 COCO, 16 MPII).
* ``hrnet_w32`` / ``hrnet_w48`` from the **ImageNet** HRNet (``hrnet_w32-36af842e.pth``) or a
  backbone-only state dict: stem, stage 1-4 and transitions; the pose head stays freshly
  initialised (HRNet's N(0, 0.001)); the classification head and the last module's fusion into the
  low-resolution branches (which the pose network does not compute) are listed as ignored.
* ``hand4whole`` from torchvision's ImageNet ResNet-50 (``--source``: body and hand encoders) and
  ResNet-18 (``--face_source``: face encoder); ``fc`` ignored; BoxNet and the heads stay fresh.
* ``hand4whole`` from a Hand4Whole ``snapshot_*.pth.tar``: the whole full-precision network
  (encoders, PositionNets, RotationNets, BoxNet, FaceRegressor); ``smplx_layer.*`` buffers are
  ignored (the SMPL-X stage reads your own SMPL-X file).

Binary networks (BiHRNet, BinaryHPE) are not import targets: they learn from an imported
full-precision teacher (``--config.teacher.checkpoint=OUT.keras``), and a BiHRNet student can start its
real-valued stem and head from it (``--config.init_fp_from=OUT.keras``, :func:`init_fp_parts`).

Every Keras weight either receives a tensor (transposed OIHW -> HWIO, Linear (out, in) -> (in, out),
ConvTranspose (in, out, kh, kw) -> (kh, kw, out, in), BN weight / bias / running_mean / running_var)
or is a listed fresh part; every tensor of the file is used or listed as ignored with its reason.
Anything else (a missing, unexpected or mis-shaped key) is refused with one line naming it, before
anything is written. Full-precision imports are built with ``padding="torch"`` (PyTorch's symmetric
padding of strided convs and max-pool, :func:`bhpe_tf.binary.builders.fp_conv`), so the Keras model
computes the PyTorch function (tests: within 1e-4 of PyTorch); the choice is recorded so the
converter, ``infer`` and the trainer rebuild the same model.

Writes ``OUT.keras`` and ``OUT.keras.meta.json`` (model, method, builder options, provenance with
each source file's sha256, the keys used / ignored and the Keras parts left fresh).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)
import numpy as np

from bhpe_tf.errors import InvalidInputError, MissingFileError, UnknownNameError

TARGETS = ("hrnet_w32", "hrnet_w48", "hand4whole")
HRNET_WIDTHS = {"hrnet_w32": 32, "hrnet_w48": 48}
DEFAULT_HRNET_INPUT = {17: (256, 192), 16: (256, 256)}  # the official COCO / MPII input sizes
META_SUFFIX = ".meta.json"
# Checkpoint containers: mmpose / mmcv ('state_dict'), Hand4Whole ('network'), generic trainers ('model').
CONTAINER_KEYS = ("state_dict", "network", "model")
DATA_PARALLEL_PREFIX = "module."
MMPOSE_BACKBONE = "backbone."
MMPOSE_HEADS = ("keypoint_head.", "head.")  # mmpose 0.x TopdownHeatmapSimpleHead / 1.x HeatmapHead


class CheckpointMismatch(InvalidInputError):
    """A checkpoint that does not fit the target model (missing / unexpected / mis-shaped keys)."""


# --------------------------------------------------------------------------- reading
@dataclasses.dataclass
class Checkpoint:
    """A PyTorch checkpoint read into numpy: its tensors by key, after unwrapping and prefix removal."""

    path: Path
    sha256: str
    size_bytes: int
    state: Dict[str, np.ndarray]
    layout: str  # hrnet_pose | hrnet_imagenet | hrnet_backbone | resnet18 | resnet50 | hand4whole
    container: str  # how the state dict was stored, e.g. "plain state dict", "['state_dict'], mmpose prefixes"

    @property
    def name(self) -> str:
        return self.path.name

    def describe(self) -> str:
        return f"{LAYOUT_NAMES[self.layout]} ({self.container})"


LAYOUT_NAMES = {"hrnet_pose": "HRNet pose checkpoint", "hrnet_imagenet": "ImageNet HRNet (classification)",
                "hrnet_backbone": "HRNet backbone without head", "resnet18": "torchvision ResNet-18",
                "resnet50": "torchvision ResNet-50", "hand4whole": "Hand4Whole snapshot"}


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _torch_load(path: Path, *, allow_pickle: bool):
    import pickle

    try:
        import torch
    except ImportError:  # torch is the optional extra of the PyTorch imports, not a runtime dependency
        from bhpe_tf.errors import UserError

        raise UserError(f"reading the PyTorch checkpoint {path} needs torch: pip install 'bhpe-tf[reference]'") from None

    try:
        return torch.load(str(path), map_location="cpu", weights_only=not allow_pickle)
    except pickle.UnpicklingError as err:
        if allow_pickle or "unsupported global" not in str(err).lower():  # not a pickle of objects: unreadable
            raise InvalidInputError(f"cannot read {path} as a PyTorch checkpoint: {str(err).splitlines()[0]}") from None
        raise InvalidInputError(f"{path} holds Python objects besides tensors, which torch.load refuses to unpickle "
                                "safely; if you trust the file (e.g. you downloaded it from the project's own page), "
                                "pass --allow_pickle") from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InvalidInputError(f"cannot read {path} as a PyTorch checkpoint: {first}") from None


def _unwrap(obj, path: Path):
    """The state dict inside a checkpoint object, and how it was stored."""
    import torch

    def is_state(value):
        return isinstance(value, dict) and value and all(isinstance(v, torch.Tensor) for v in value.values())

    if is_state(obj):
        return obj, "plain state dict"
    if isinstance(obj, dict):
        for key in CONTAINER_KEYS:
            if is_state(obj.get(key)):
                return obj[key], f"[{key!r}]"
        keys = ", ".join(repr(k) for k in list(obj)[:6])
        raise InvalidInputError(f"{path} holds no PyTorch state dict (a dict of tensors, alone or under "
                                f"{', '.join(map(repr, CONTAINER_KEYS))}); its top-level keys are {keys}")
    raise InvalidInputError(f"{path} holds a {type(obj).__name__}, not a PyTorch state dict")


def _strip_prefixes(state: dict, container: str):
    """Remove DataParallel's ``module.`` and mmpose's ``backbone.`` / ``head.`` prefixes."""
    notes = [container]
    if state and all(k.startswith(DATA_PARALLEL_PREFIX) for k in state):
        state = {k[len(DATA_PARALLEL_PREFIX):]: v for k, v in state.items()}
        notes.append("DataParallel 'module.' prefix")
    hand4whole = any(k.startswith(("hand_roi_net.", "box_net.")) for k in state)
    if not hand4whole and any(k.startswith(MMPOSE_BACKBONE) for k in state):
        renamed = {}
        for key, value in state.items():
            if key.startswith(MMPOSE_BACKBONE):
                key = key[len(MMPOSE_BACKBONE):]
            else:
                for head in MMPOSE_HEADS:
                    if key.startswith(head + "final_layer."):
                        key = key[len(head):]
            renamed[key] = value  # any other head tensor keeps its prefix and is refused as unexpected
        state = renamed
        notes.append("mmpose 'backbone.' / 'head.' prefixes")
    return state, ", ".join(notes)


def _count_blocks(state, stage):
    indices = {int(m.group(1)) for k in state for m in [re.match(rf"layer{stage}\.(\d+)\.", k)] if m}
    return max(indices) + 1 if indices else 0


def _detect_layout(state, path: Path) -> str:
    if any(k.startswith(("hand_roi_net.", "box_net.")) for k in state):
        return "hand4whole"
    if "stage2.0.branches.0.0.conv1.weight" in state:
        head = state.get("final_layer.weight")
        if head is not None and head.ndim == 4 and "final_layer.bias" in state:
            return "hrnet_pose"
        if "classifier.weight" in state or any(k.startswith("incre_modules.") for k in state):
            return "hrnet_imagenet"
        return "hrnet_backbone"
    stem = state.get("conv1.weight")
    if stem is not None and tuple(stem.shape[2:]) == (7, 7) and "layer4.0.conv1.weight" in state:
        blocks = tuple(_count_blocks(state, s) for s in (1, 2, 3, 4))
        bottleneck = "layer1.0.conv3.weight" in state
        if bottleneck and blocks == (3, 4, 6, 3):
            return "resnet50"
        if not bottleneck and blocks == (2, 2, 2, 2):
            return "resnet18"
        kind = "bottleneck" if bottleneck else "basic-block"
        raise InvalidInputError(f"{path} is a {kind} ResNet with {blocks} blocks per stage; Hand4Whole's encoders "
                                "are ResNet-50 (3, 4, 6, 3) and ResNet-18 (2, 2, 2, 2)")
    first = ", ".join(repr(k) for k in list(state)[:4])
    raise InvalidInputError(f"{path} is neither an HRNet (pose / ImageNet / mmpose), a torchvision ResNet nor a "
                            f"Hand4Whole checkpoint (first keys {first})")


def read_checkpoint(path, *, allow_pickle: bool = False) -> Checkpoint:
    """Read a ``.pth`` / ``.pth.tar``: tensors as float32 numpy arrays (BN counters kept as int)."""
    path = Path(os.fspath(path))
    if not path.is_file():
        raise MissingFileError(f"checkpoint {path} not found")
    obj = _torch_load(path, allow_pickle=allow_pickle)
    state, container = _unwrap(obj, path)
    state, container = _strip_prefixes(dict(state), container)
    arrays = {}
    for key, tensor in state.items():
        tensor = tensor.detach().cpu()
        arrays[key] = tensor.float().numpy() if tensor.is_floating_point() else tensor.numpy()
    return Checkpoint(path=path, sha256=file_sha256(path), size_bytes=path.stat().st_size, state=arrays,
                      layout=_detect_layout(arrays, path), container=container)


# --------------------------------------------------------------------------- what a file covers
def _ignored_reason(key: str, layout: str, *, last_stage4_module: int) -> Optional[str]:
    """Why a tensor of the file has no Keras counterpart, or ``None`` when it must have one."""
    if key.endswith("num_batches_tracked"):
        return "BatchNorm step counter (not a weight)"
    if layout == "hrnet_imagenet":
        if key.startswith(("incre_modules.", "downsamp_modules.", "final_layer.", "classifier.")):
            return "ImageNet classification head (the pose head stays freshly initialised)"
        match = re.match(r"stage4\.(\d+)\.fuse_layers\.([1-9])\.", key)
        if match and int(match.group(1)) == last_stage4_module:
            return "last module's fusion into the low-resolution branches (the pose network only reads branch 0)"
    if layout in ("resnet18", "resnet50") and key.startswith("fc."):
        return "ImageNet classifier (an encoder has none)"
    if layout == "hand4whole" and key.startswith("smplx_layer."):
        return "SMPL-X model buffers (the SMPL-X stage reads your own SMPL-X file)"
    return None


@dataclasses.dataclass
class Source:
    """One checkpoint and the Keras layers it supplies (``module_of(layer) -> PyTorch module or None``)."""

    checkpoint: Checkpoint
    module_of: Callable[[str], Optional[str]]


# --------------------------------------------------------------------------- mapping
def _layer_tensors(layer):
    """(Keras variable, PyTorch tensor suffix) of a layer that has a PyTorch counterpart."""
    import tensorflow as tf

    if isinstance(layer, tf.keras.layers.BatchNormalization):
        from bhpe_tf.binary.builders import BN_EPSILON

        if abs(float(layer.epsilon) - BN_EPSILON) > 1e-12:
            raise InvalidInputError(f"Keras layer {layer.name} has BN epsilon {layer.epsilon}; PyTorch's is {BN_EPSILON}")
        return [(layer.gamma, "weight"), (layer.beta, "bias"), (layer.moving_mean, "running_mean"),
                (layer.moving_variance, "running_var")]
    if isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Dense)):  # Conv2DTranspose, QuantConv2D too
        pairs = [(layer.kernel, "weight")]
        if getattr(layer, "use_bias", False):
            pairs.append((layer.bias, "bias"))
        return pairs
    return None


def to_keras(array: np.ndarray) -> np.ndarray:
    """PyTorch layout -> Keras layout: conv OIHW and ConvTranspose (in, out, kh, kw) -> (kh, kw, in|out, out|in)
    are both ``transpose(2, 3, 1, 0)``; Linear (out, in) -> (in, out); vectors unchanged."""
    if array.ndim == 4:
        return np.ascontiguousarray(array.transpose(2, 3, 1, 0))
    if array.ndim == 2:
        return np.ascontiguousarray(array.T)
    return array


def torch_shape(keras_shape) -> tuple:
    """The PyTorch shape whose :func:`to_keras` has ``keras_shape``."""
    shape = tuple(int(d) for d in keras_shape)
    if len(shape) == 4:
        return (shape[3], shape[2], shape[0], shape[1])
    if len(shape) == 2:
        return (shape[1], shape[0])
    return shape


def _weighted_layers(model):
    import tensorflow as tf

    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            yield from _weighted_layers(layer)
        elif layer.weights:
            yield layer


@dataclasses.dataclass
class Plan:
    """What an import assigns: ``(variable, value)`` pairs, keys used and ignored (per file), Keras layers left fresh."""

    assignments: list
    used: Dict[str, List[str]]  # file name -> keys
    ignored: Dict[str, Dict[str, List[str]]]  # file name -> reason -> keys
    fresh_layers: List[str]

    @property
    def tensor_count(self) -> int:
        return len(self.assignments)


def _more(items) -> str:
    return f" (+{len(items) - 1} more)" if len(items) > 1 else ""


def plan_import(model, sources: List[Source], *, fresh_allowed: Callable[[str], bool], target: str,
                last_stage4_module: int = -1) -> Plan:
    """Match every weight of ``model`` with a tensor of ``sources``; :class:`CheckpointMismatch` (one
    line naming the first missing, unexpected and mis-shaped key) when anything does not fit.

    A file may feed several sources (one ResNet-50 for the body and the hand encoders): its keys are
    used once any source reads them."""
    missing, misshaped, assignments, fresh = [], [], [], []
    used = {id(s.checkpoint): set() for s in sources}
    for layer in _weighted_layers(model):
        source = module = None
        for candidate in sources:
            module = candidate.module_of(layer.name)
            if module is not None:
                source = candidate
                break
        if source is None:
            if not fresh_allowed(layer.name):
                missing.append(f"a tensor for Keras layer {layer.name}")
            fresh.append(layer.name)
            continue
        pairs = _layer_tensors(layer)
        if pairs is None or {id(v) for v, _ in pairs} != {id(v) for v in layer.weights}:
            raise InvalidInputError(f"Keras layer {layer.name} ({type(layer).__name__}) has weights without a "
                                    f"PyTorch counterpart in {module}")
        for variable, suffix in pairs:
            key = f"{module}.{suffix}"
            value = source.checkpoint.state.get(key)
            if value is None:
                missing.append(f"{source.checkpoint.name}: {key!r} (for Keras layer {layer.name})")
                continue
            used[id(source.checkpoint)].add(key)
            expected = torch_shape(variable.shape)
            if tuple(value.shape) != expected:
                misshaped.append((f"{source.checkpoint.name}: {key!r}", tuple(value.shape), expected, layer.name))
                continue
            assignments.append((variable, to_keras(value).astype(np.float32)))
    unexpected, ignored, used_keys = [], {}, {}
    files = list({id(s.checkpoint): s.checkpoint for s in sources}.values())
    for checkpoint in files:
        reasons = ignored.setdefault(checkpoint.name, {})
        used_keys[checkpoint.name] = sorted(used[id(checkpoint)])
        for key in checkpoint.state:
            if key in used[id(checkpoint)]:
                continue
            reason = _ignored_reason(key, checkpoint.layout, last_stage4_module=last_stage4_module)
            if reason is None:
                unexpected.append(f"{checkpoint.name}: {key!r}")
            else:
                reasons.setdefault(reason, []).append(key)
    if missing or unexpected or misshaped:
        problems = []
        if missing:
            problems.append(f"missing {missing[0]}{_more(missing)}")
        if unexpected:
            problems.append(f"unexpected {unexpected[0]} (no layer of {target} takes it){_more(unexpected)}")
        if misshaped:
            key, found, expected, layer = misshaped[0]
            problems.append(f"wrong shape {key} {found} where {layer} needs {expected}{_more(misshaped)}")
        raise CheckpointMismatch(f"the checkpoint does not fit {target}: {'; '.join(problems)}; nothing was written")
    return Plan(assignments=assignments, used=used_keys, ignored=ignored, fresh_layers=fresh)


def apply_plan(plan: Plan) -> None:
    for variable, value in plan.assignments:
        variable.assign(value)


# --------------------------------------------------------------------------- targets
@dataclasses.dataclass
class Target:
    """The Keras model an import builds and how the sources map onto it."""

    model_name: str  # registered model (bhpe_tf.models) the converter / infer rebuild
    method: str
    build_kwargs: dict
    sources: List[Source]
    fresh_allowed: Callable[[str], bool]
    covers: str
    last_stage4_module: int = -1

    def build(self):
        from bhpe_tf.models import build_model

        return build_model(self.model_name, method=self.method, **self.build_kwargs)


def _hrnet_width(checkpoint: Checkpoint) -> int:
    return int(checkpoint.state["stage2.0.branches.0.0.conv1.weight"].shape[0])


def _hrnet_target(name, checkpoint: Checkpoint, *, input_hw, num_joints, model_kwargs) -> Target:
    from bhpe_tf.models import hrnet
    from bhpe_tf.models.torch_names import hrnet_module

    if not checkpoint.layout.startswith("hrnet"):
        raise InvalidInputError(f"{checkpoint.name} is a {checkpoint.describe()}, not an HRNet checkpoint; "
                                f"--model {name} imports HRNet pose or ImageNet HRNet files")
    width = int(model_kwargs.get("width", HRNET_WIDTHS[name]))  # --model_kwargs width: custom / reduced HRNets
    found = _hrnet_width(checkpoint)
    if found != width:
        hint = f"; use --model hrnet_w{found}" if f"hrnet_w{found}" in HRNET_WIDTHS else ""
        raise InvalidInputError(f"{checkpoint.name} is HRNet-W{found} (stage-2 branch 0 has {found} channels) but "
                                f"--model is {name}{hint}")
    pose = checkpoint.layout == "hrnet_pose"
    head_joints = int(checkpoint.state["final_layer.weight"].shape[0]) if pose else None
    if num_joints is None:
        num_joints = head_joints or 17
    if input_hw is None:
        input_hw = DEFAULT_HRNET_INPUT.get(int(num_joints), DEFAULT_HRNET_INPUT[17])
    kwargs = dict(model_kwargs)
    kwargs.update({"input_shape": (int(input_hw[0]), int(input_hw[1]), 3), "num_joints": int(num_joints),
                   "width": width, "padding": "torch"})
    stage_modules = tuple(kwargs.get("stage_modules", hrnet.STAGE_MODULES))
    if pose:
        covers = (f"the whole HRNet-W{width} pose network ({head_joints} joints: "
                  f"{ {17: 'COCO', 16: 'MPII'}.get(head_joints, 'custom layout') })")
    else:
        covers = (f"the HRNet-W{width} backbone (stem, stages 1-4, transitions); the {num_joints}-joint pose head "
                  "is freshly initialised")
    source = Source(checkpoint, hrnet_module if pose else
                    (lambda layer: None if layer == "head" else hrnet_module(layer)))
    return Target(model_name="hrnet_w32", method="fp", build_kwargs=kwargs, sources=[source],
                  fresh_allowed=(lambda layer: False) if pose else (lambda layer: layer == "head"),
                  covers=covers, last_stage4_module=stage_modules[2] - 1)


def _encoders_of(checkpoint, face_checkpoint):
    from bhpe_tf.models.torch_names import resnet_module

    def body_and_hand(layer):
        for encoder in ("body_encoder", "hand_encoder"):
            module = resnet_module(layer, keras_prefix=encoder)
            if module is not None:
                return module
        return None

    sources = [Source(checkpoint, body_and_hand)]
    if face_checkpoint is not None:
        sources.append(Source(face_checkpoint, lambda layer: resnet_module(layer, keras_prefix="face_encoder")))
    return sources


def _mesh_target(checkpoint, face_checkpoint, *, input_hw, model_kwargs) -> Target:
    from bhpe_tf.models.torch_names import hand4whole_module

    kwargs = dict(model_kwargs)
    kwargs.update({"include_smplx": False, "padding": "torch"})  # the SMPL-X stage reads your own SMPL-X file
    if input_hw is not None:
        kwargs["input_shape"] = (int(input_hw[0]), int(input_hw[1]), 3)
    if checkpoint.layout == "hand4whole":
        if face_checkpoint is not None:
            raise InvalidInputError("--face_source is for ImageNet ResNet imports; a Hand4Whole snapshot already "
                                    "holds the face encoder")
        return Target(model_name="hand4whole", method="fp", build_kwargs=kwargs,
                      sources=[Source(checkpoint, hand4whole_module)],
                      fresh_allowed=lambda layer: False,
                      covers="the whole Hand4Whole network (encoders, PositionNets, RotationNets, BoxNet, "
                             "FaceRegressor)")
    if checkpoint.layout != "resnet50":
        raise InvalidInputError(f"--model hand4whole imports a Hand4Whole snapshot or torchvision's ResNet-50 as "
                                f"--source; {checkpoint.name} is a {checkpoint.describe()}")
    if face_checkpoint is not None and face_checkpoint.layout != "resnet18":
        raise InvalidInputError(f"--face_source must be torchvision's ResNet-18; {face_checkpoint.name} is a "
                                f"{face_checkpoint.describe()}")
    covered = ("body_encoder", "hand_encoder") + (("face_encoder",) if face_checkpoint is not None else ())
    face = "and ResNet-18 face encoder " if face_checkpoint is not None else ""
    covers = (f"the ImageNet ResNet-50 body and hand encoders {face}of Hand4Whole; BoxNet and the heads"
              f"{'' if face_checkpoint is not None else ' (and the face encoder: no --face_source)'} are fresh")
    return Target(model_name="hand4whole", method="fp", build_kwargs=kwargs,
                  sources=_encoders_of(checkpoint, face_checkpoint),
                  fresh_allowed=lambda layer: not layer.startswith(covered), covers=covers)


# --------------------------------------------------------------------------- the import
@dataclasses.dataclass
class ImportResult:
    model: object
    output: Optional[Path]  # None: mapped only (import_checkpoint(output=None))
    meta_path: Optional[Path]
    meta: dict
    plan: Plan
    seconds: Dict[str, float]


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def provenance_of(target: Target, plan: Plan) -> dict:
    from bhpe_tf import provenance

    files = []
    for source in target.sources:
        ckpt = source.checkpoint
        if any(f["sha256"] == ckpt.sha256 for f in files):
            continue
        files.append({"file": ckpt.name, "sha256": ckpt.sha256, "size_bytes": ckpt.size_bytes,
                      "layout": ckpt.layout, "stored_as": ckpt.container})
    names = ", ".join(f"{f['file']} (sha256 {f['sha256']})" for f in files)
    return provenance.record("imported", f"imported official weights {names}: {target.covers}",
                             sources=files, covers=target.covers, fresh_layers=plan.fresh_layers)


def import_checkpoint(*, model: str, source, output, face_source=None, input_hw=None,
                      num_joints=None, model_kwargs=None, allow_pickle: bool = False, keras_model=None,
                      log=print) -> ImportResult:
    """Read, check, map and write: the library behind ``bhpe-import`` (see the module docstring).

    ``output=None`` maps without writing (the result's ``model`` holds the weights). ``keras_model``
    reuses a model already built for the same target (same builder options; tests import several
    files into one full-size HRNet instead of building it each time); otherwise it is built here.
    """
    from bhpe_tf.fileio import atomic_save_keras, atomic_write_text

    if model not in TARGETS:
        raise UnknownNameError("import target", str(model), TARGETS)
    if output is not None:
        output = Path(os.fspath(output))
        if output.suffix != ".keras":
            raise InvalidInputError(f"--output must end in .keras, got {output}")
    if face_source is not None and model != "hand4whole":
        raise InvalidInputError("--face_source (a ResNet-18 for the face encoder) is for --model hand4whole")
    seconds = {}
    started = time.perf_counter()
    checkpoint = read_checkpoint(source, allow_pickle=allow_pickle)
    face = read_checkpoint(face_source, allow_pickle=allow_pickle) if face_source is not None else None
    seconds["read"] = time.perf_counter() - started
    log(f"read {checkpoint.name}: {checkpoint.describe()}, {len(checkpoint.state)} tensors, sha256 {checkpoint.sha256}")
    if face is not None:
        log(f"read {face.name}: {face.describe()}, {len(face.state)} tensors, sha256 {face.sha256}")
    kwargs = dict(model_kwargs or {})
    if model in HRNET_WIDTHS:
        target = _hrnet_target(model, checkpoint, input_hw=input_hw, num_joints=num_joints, model_kwargs=kwargs)
    else:
        if num_joints is not None:
            raise InvalidInputError("--num_joints is for HRNet imports")
        target = _mesh_target(checkpoint, face, input_hw=input_hw, model_kwargs=kwargs)
    tick = time.perf_counter()
    keras_model = target.build() if keras_model is None else keras_model
    seconds["build"] = time.perf_counter() - tick
    log(f"built {target.model_name} ({target.method}{', PyTorch padding' if target.build_kwargs.get('padding') == 'torch' else ''}): "
        f"{keras_model.count_params() / 1e6:.2f} M parameters in {seconds['build']:.1f} s")
    tick = time.perf_counter()
    plan = plan_import(keras_model, target.sources, fresh_allowed=target.fresh_allowed, target=target.model_name,
                       last_stage4_module=target.last_stage4_module)
    apply_plan(plan)
    seconds["map"] = time.perf_counter() - tick
    ignored = sum(len(keys) for reasons in plan.ignored.values() for keys in reasons.values())
    log(f"mapped {plan.tensor_count} tensors; ignored {ignored}; fresh Keras layers: "
        f"{', '.join(plan.fresh_layers[:6]) + (' ...' if len(plan.fresh_layers) > 6 else '') if plan.fresh_layers else 'none'}")
    meta = {"model": target.model_name, "method": target.method, "build_kwargs": _jsonable(target.build_kwargs),
            "provenance": provenance_of(target, plan),
            "import": {"bhpe_tf_version": bhpe_tf.__version__, "keys_used": plan.used, "keys_ignored": plan.ignored,
                       "fresh_layers": plan.fresh_layers, "tensors_assigned": plan.tensor_count}}
    if output is None:
        seconds["total"] = time.perf_counter() - started
        return ImportResult(model=keras_model, output=None, meta_path=None, meta=meta, plan=plan, seconds=seconds)
    tick = time.perf_counter()
    meta_path = Path(f"{output}{META_SUFFIX}")
    atomic_save_keras(keras_model, output)
    try:
        atomic_write_text(meta_path, json.dumps(meta, indent=1) + "\n")
    except BaseException:
        output.unlink(missing_ok=True)  # a model without its meta would be rebuilt with the wrong padding
        raise
    seconds["write"] = time.perf_counter() - tick
    seconds["total"] = time.perf_counter() - started
    log(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB) and {meta_path.name} in {seconds['total']:.1f} s")
    return ImportResult(model=keras_model, output=output, meta_path=meta_path, meta=meta, plan=plan, seconds=seconds)


# --------------------------------------------------------------------------- student initialisation
FP_PARTS = ("stem", "head")


def init_fp_parts(student, source, *, parts=FP_PARTS) -> List[str]:
    """Copy the real-valued stem and head of a full-precision HRNet ``.keras`` (e.g. an imported
    official HRNet-W32) into an HRNet-family student (BiHRNet, a binary HRNet): the layers of
    ``parts`` (:func:`bhpe_tf.models.hrnet.layer_group`) that have PyTorch-style weights (convs, BN);
    a binary method's own parameters there (RPReLU) stay as built. Returns the copied layer names.

    Only weights move: the student keeps its own padding (binary networks use Keras 'same'), so
    its stem sees a one-pixel shift on strided convs relative to the teacher until trained."""
    import tensorflow as tf

    from bhpe_tf.models.hrnet import layer_group

    path = Path(os.fspath(source))
    if path.suffix != ".keras" or not path.is_file():
        raise MissingFileError(f"init_fp_from {path} must be an existing full-precision .keras model "
                               "(e.g. written by bhpe-import)")
    try:
        teacher = tf.keras.models.load_model(str(path), compile=False)
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise InvalidInputError(f"cannot load init_fp_from {path}: {str(err).splitlines()[0]}") from None
    by_name = {layer.name: layer for layer in _weighted_layers(teacher)}
    copied = []
    for layer in _weighted_layers(student):
        if layer_group(layer.name) not in parts or _layer_tensors(layer) is None:
            continue
        other = by_name.get(layer.name)
        if other is None:
            raise InvalidInputError(f"init_fp_from {path.name} has no layer {layer.name} (is it an HRNet?)")
        mine, theirs = [tuple(w.shape) for w in layer.weights], [tuple(w.shape) for w in other.weights]
        if mine != theirs:
            raise InvalidInputError(f"init_fp_from {path.name}: layer {layer.name} has weights {theirs} but "
                                    f"{student.name} needs {mine} (another width or number of joints?)")
        layer.set_weights(other.get_weights())
        copied.append(layer.name)
    if not copied:
        raise InvalidInputError(f"{student.name} has no {' / '.join(parts)} layers to initialise from {path.name}")
    return copied


# --------------------------------------------------------------------------- command line
def define_flags(flag_values=None):
    """The flags of ``bhpe-import`` / ``python -m bhpe_tf.import_weights`` on ``flag_values`` (default ``absl.flags.FLAGS``)."""
    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values
    flags.DEFINE_enum("model", None, list(TARGETS), "what to build: hrnet_w32 / hrnet_w48 (from an HRNet pose or "
                      "ImageNet HRNet file), hand4whole (from a Hand4Whole snapshot, or torchvision ResNet-50 "
                      "[+ --face_source ResNet-18])", flag_values=flag_values)
    flags.DEFINE_string("source", None, "the PyTorch checkpoint (.pth / .pth.tar)", flag_values=flag_values)
    flags.DEFINE_string("face_source", None, "torchvision ResNet-18 for the face encoder (ResNet imports)",
                        flag_values=flag_values)
    flags.DEFINE_string("output", None, "OUT.keras; OUT.keras.meta.json is written next to it",
                        flag_values=flag_values)
    flags.DEFINE_string("input_hw", None, "HEIGHT,WIDTH of the saved model (default: 256,192 for 17 joints, "
                        "256,256 for 16; Hand4Whole 512,384)", flag_values=flag_values)
    flags.DEFINE_integer("num_joints", None, "HRNet heatmaps (default: the checkpoint head's; 17 for ImageNet files)",
                         flag_values=flag_values)
    flags.DEFINE_string("model_kwargs", None, "json object of extra builder options (e.g. reduced test models)",
                        flag_values=flag_values)
    flags.DEFINE_bool("allow_pickle", False, "let torch.load unpickle Python objects besides tensors (only for "
                      "files you trust)", flag_values=flag_values)


def run_cli(argv, flag_values=None) -> ImportResult:
    from absl import flags

    from bhpe_tf.cli import parse_hw, parse_model_kwargs

    if len(argv) > 1:
        raise InvalidInputError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    f = flags.FLAGS if flag_values is None else flag_values
    for name in ("model", "source", "output"):
        if not getattr(f, name):
            raise InvalidInputError(f"--{name} is required (python -m bhpe_tf.import_weights --model hrnet_w32 "
                                    "--source FILE.pth --output OUT.keras)")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    result = import_checkpoint(model=f.model, source=f.source, output=f.output, face_source=f.face_source,
                               input_hw=parse_hw(f.input_hw), num_joints=f.num_joints,
                               model_kwargs=parse_model_kwargs(f.model_kwargs), allow_pickle=f.allow_pickle)
    meta = result.meta
    print(f"next: python converters/convert.py --model {meta['model']} --method {meta['method']} --checkpoint "
          f"{result.output} --output {result.output.with_suffix('.tflite')}")
    return result


def main(argv):
    run_cli(argv)
    return 0


def run(argv=None):
    """Console entry point ``bhpe-import`` (``python -m bhpe_tf.import_weights``): :func:`bhpe_tf.cli.run`."""
    from bhpe_tf import cli

    cli.run(main, define_flags, argv, doc=__doc__)


if __name__ == "__main__":
    run()
