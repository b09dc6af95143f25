"""The model registry: one entry per network of the project, the one place every other module asks.

An entry carries what the trainer, the converter, inference, the counter and the evaluators need
to know about a model without building it: its builder (imported lazily: TensorFlow graphs are
heavy), its task, its default input normalisation, how its layers group into the paper's modules
for counting, which other entries' checkpoints it shares, and the published numbers it is compared
with. Sizes given to a builder are ``input_hw`` = (height, width) (the builders take
``input_shape=(H, W, 3)``, the Keras convention).

Tasks use the model card's vocabulary (``bhpe_tf.runtime.card.TASKS``): ``keypoints_2d`` (HRNet /
BiHRNet heatmaps) and ``smplx_mesh`` (Hand4Whole / BinaryHPE parameters).

Published numbers:

* counts, (Params M, OPs G): BinaryHPE (Li et al., arXiv 2311.14323) Table 1 (docs/DESIGN.md §5.3)
  for ``binaryhpe`` / ``hand4whole``; HRNet-W32's 28.54 M / 7.65 GMACs (Sun et al., CVPR 2019,
  256x192) for ``hrnet_w32``;
* accuracy, mm: BinaryHPE Table 1, EHF MPVPE and PA-MPVPE (All / Hands / Face) and AGORA MPVPE
  (All); the BNN / XNOR / DoReFa / Bi-Real rows give EHF MPVPE All only, and columns the paper does
  not give are absent.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
from typing import Callable, Mapping, Optional

from bhpe_tf.errors import InvalidInputError, UnknownNameError

KEYPOINTS_2D = "keypoints_2d"
SMPLX_MESH = "smplx_mesh"

# Which keypoint layout (a bhpe_tf.data.meta name) a heatmap model with K joints predicts.
KEYPOINT_LAYOUT_BY_COUNT = {17: "coco", 16: "mpii", 133: "coco_wholebody"}

BINARYHPE_TABLE1_COUNTS = {
    "fp": (77.84, 16.85), "bnn": (21.61, 2.63), "xnor": (21.61, 2.63), "dorefa": (21.61, 2.63),
    "bireal": (21.61, 2.63), "reactnet": (21.66, 2.63), "recu": (21.71, 2.65), "fda": (32.06, 2.81),
    "bidrn": (17.22, 2.50)}
BINARYHPE_TABLE1_ACCURACY = {
    "fp": {"EHF": {"MPVPE All": 86.3, "MPVPE Hands": 47.2, "MPVPE Face": 26.1, "PA-MPVPE All": 57.5,
                   "PA-MPVPE Hands": 13.2, "PA-MPVPE Face": 5.8}, "AGORA": {"MPVPE All": 194.8}},
    "bnn": {"EHF": {"MPVPE All": 172.2}, "AGORA": {"MPVPE All": 267.6}},
    "xnor": {"EHF": {"MPVPE All": 195.5}, "AGORA": {"MPVPE All": 271.1}},
    "dorefa": {"EHF": {"MPVPE All": 174.4}, "AGORA": {"MPVPE All": 257.6}},
    "bireal": {"EHF": {"MPVPE All": 161.7}, "AGORA": {"MPVPE All": 242.0}},
    "reactnet": {"EHF": {"MPVPE All": 149.8, "MPVPE Hands": 86.5, "MPVPE Face": 45.8, "PA-MPVPE All": 98.8,
                         "PA-MPVPE Hands": 18.5, "PA-MPVPE Face": 6.1}, "AGORA": {"MPVPE All": 237.6}},
    "recu": {"EHF": {"MPVPE All": 142.7, "MPVPE Hands": 78.3, "MPVPE Face": 49.6, "PA-MPVPE All": 85.4,
                     "PA-MPVPE Hands": 18.2, "PA-MPVPE Face": 6.0}, "AGORA": {"MPVPE All": 225.1}},
    "fda": {"EHF": {"MPVPE All": 171.8, "MPVPE Hands": 93.7, "MPVPE Face": 53.3, "PA-MPVPE All": 108.5,
                    "PA-MPVPE Hands": 18.4, "PA-MPVPE Face": 6.1}, "AGORA": {"MPVPE All": 256.4}},
    "bidrn": {"EHF": {"MPVPE All": 118.3, "MPVPE Hands": 70.8, "MPVPE Face": 37.6, "PA-MPVPE All": 76.9,
                      "PA-MPVPE Hands": 17.4, "PA-MPVPE Face": 6.0}, "AGORA": {"MPVPE All": 215.0}},
}


def _load(dotted: str):
    module, attribute = dotted.split(":")
    return getattr(importlib.import_module(module), attribute)


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the project knows about one model (see the module docstring)."""

    name: str
    builder_path: str  # "module:function", keyword-only options
    task: str  # KEYPOINTS_2D or SMPLX_MESH
    normalization: str  # a bhpe_tf.runtime.normalization name, when a run recorded none
    family: str  # entries of one family load each other's checkpoints (hand4whole = binaryhpe built fp)
    count_groups: str  # "module:function": layer name -> the paper's module (HRNet stages, Hand4Whole's nets)
    forwards_options_to: Optional[str] = None  # the entry whose builder receives this builder's **kwargs
    count_multiplicity: Optional[str] = None  # "module:MAPPING" module -> times it runs per image
    paper_counts: Mapping[str, tuple] = dataclasses.field(default_factory=dict)  # method -> (Params M, OPs G)
    paper_accuracy: Mapping[str, dict] = dataclasses.field(default_factory=dict)  # method -> benchmark -> metrics

    @property
    def builder(self) -> Callable:
        return _load(self.builder_path)

    def parameters(self) -> Mapping[str, inspect.Parameter]:
        return inspect.signature(self.builder).parameters

    def options(self) -> tuple:
        """``(keyword options of the builder, accepts any)``: what ``model.kwargs`` / ``--model_kwargs`` may hold."""
        params = self.parameters()
        if self.forwards_options_to:  # hand4whole = build_binaryhpe(method="fp", **kwargs)
            params = get_model(self.forwards_options_to).parameters()
        accepts_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
        return [p for p in params if params[p].kind == params[p].KEYWORD_ONLY and p != "method"], accepts_any

    @property
    def takes_method(self) -> bool:
        return "method" in self.parameters()

    @property
    def default_method(self) -> str:
        return self.parameters()["method"].default if self.takes_method else "fp"

    def build(self, *, method=None, input_hw=None, **kwargs):
        """The model built with ``method`` (for builders that take one) at ``input_hw`` = (H, W).

        An option the builder does not take, or a binary method for a full-precision-only model, is
        refused with one line naming the valid choices."""
        from bhpe_tf.binary.methods import get_method

        options, accepts_any = self.options()
        if method is not None:
            name = get_method(method).name  # unknown -> one line listing the presets
            if self.takes_method:
                kwargs["method"] = method  # a preset name or a BinaryMethod (method_with(...) variants)
            elif name != "fp":
                raise InvalidInputError(f"model {self.name!r} is full precision only; use a model that takes "
                                        f"a method (e.g. binaryhpe) for {name!r}")
        if input_hw is not None:
            kwargs.setdefault("input_shape", (int(input_hw[0]), int(input_hw[1]), 3))
        unknown = sorted(k for k in kwargs if k not in options and k != "method" and not accepts_any)
        if unknown:
            raise InvalidInputError(f"model {self.name!r} does not take {', '.join(unknown)}; its options are: "
                                    f"{', '.join(options)}")
        try:
            return self.builder(**kwargs)
        except TypeError as err:
            raise InvalidInputError(f"cannot build {self.name!r} with {kwargs}: {err}") from None

    def count_grouping(self) -> tuple:
        """``(group(layer_name) -> module, multiplicity)`` for :func:`bhpe_tf.counting.count_model`."""
        group = _load(self.count_groups)
        multiplicity = _load(self.count_multiplicity) if self.count_multiplicity else None
        return group, multiplicity

    def paper_numbers(self, method: str) -> Optional[tuple]:
        """The published (Params M, OPs G) of ``method``; an LCE form (``xnor_nok``, ``dorefa_pm1``) has
        its paper form's: K has no weights and is no conv MAC, {0, 1} and +-1 inputs cost the same."""
        return self.paper_counts.get(paper_form(method))

    def paper_metrics(self, method: str, benchmark: str) -> dict:
        """The published accuracy of ``method`` on ``benchmark`` (``EHF`` / ``AGORA``), {} when none."""
        return dict(self.paper_accuracy.get(paper_form(method), {}).get(benchmark, {}))


def paper_form(method: str) -> str:
    """The paper's method of an LCE form of a preset (``xnor_nok`` -> ``xnor``), else ``method``."""
    from bhpe_tf.binary.methods import METHODS

    return {m.lce_variant: m.name for m in METHODS.values() if m.lce_variant}.get(method, method)


_HRNET_GROUPS = "bhpe_tf.models.hrnet:layer_group"
_HAND4WHOLE = dict(task=SMPLX_MESH, normalization="unit", family="hand4whole",
                   count_groups="bhpe_tf.models.hand4whole.model:module_of",
                   count_multiplicity="bhpe_tf.models.hand4whole.model:COUNT_MULTIPLICITY")
_ENTRIES = (
    ModelEntry("hrnet_w32", "bhpe_tf.models.hrnet:build_hrnet_w32", task=KEYPOINTS_2D, normalization="imagenet",
               family="hrnet_w32", count_groups=_HRNET_GROUPS, paper_counts={"fp": (28.54, 7.65)}),
    ModelEntry("bihrnet", "bhpe_tf.models.hrnet:build_bihrnet", task=KEYPOINTS_2D, normalization="imagenet",
               family="bihrnet", count_groups=_HRNET_GROUPS),
    ModelEntry("binaryhpe", "bhpe_tf.models.hand4whole:build_binaryhpe", **_HAND4WHOLE,
               paper_counts=BINARYHPE_TABLE1_COUNTS, paper_accuracy=BINARYHPE_TABLE1_ACCURACY),
    ModelEntry("hand4whole", "bhpe_tf.models.hand4whole:build_hand4whole", **_HAND4WHOLE, forwards_options_to="binaryhpe",
               paper_counts={"fp": BINARYHPE_TABLE1_COUNTS["fp"]},
               paper_accuracy={"fp": BINARYHPE_TABLE1_ACCURACY["fp"]}),
)
MODELS = {entry.name: entry for entry in _ENTRIES}
MODEL_NAMES = tuple(MODELS)


def get_model(name: str) -> ModelEntry:
    """The entry of ``name``; an unknown name is one line listing the registered ones."""
    key = str(name).strip().lower()
    if key not in MODELS:
        raise UnknownNameError("model", str(name), MODEL_NAMES)
    return MODELS[key]


def build_model(name: str, *, method=None, input_hw=None, **kwargs):
    """Build the model registered as ``name`` (see :meth:`ModelEntry.build`)."""
    return get_model(name).build(method=method, input_hw=input_hw, **kwargs)


def models_of_task(task: str) -> tuple:
    return tuple(name for name, entry in MODELS.items() if entry.task == task)


def same_family(a: str, b: str) -> bool:
    """Whether checkpoints of model ``a`` load into model ``b`` (same graph family)."""
    return get_model(a).family == get_model(b).family


def keypoint_layout(num_joints: int) -> Optional[str]:
    """The keypoint layout (``coco`` / ``mpii`` / ``coco_wholebody``) of a heatmap model with K joints."""
    return KEYPOINT_LAYOUT_BY_COUNT.get(int(num_joints))
