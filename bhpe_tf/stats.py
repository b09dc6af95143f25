"""Parameter and operation counts of the project's models, next to the papers' numbers.

    python -m bhpe_tf.stats --model binaryhpe --method bidrn [--json]
    python -m bhpe_tf.stats --model binaryhpe --all          # every method vs BinaryHPE Table 1
    python -m bhpe_tf.stats --model bihrnet --activations    # activation scale at init, per stage
    python -m bhpe_tf.stats --model bihrnet --activations --model_kwarg stage1=ir_b --model_kwarg input_shape=128,96,3

Counts follow the BNN literature (:mod:`bhpe_tf.counting`): Params = P_binary/32 + P_fp and
OPs = MAC_binary/64 + MAC_fp, per module (encoders, BoxNet, heads for the whole-body models) and
in total. Models are built at full size through the registry (:func:`bhpe_tf.models.build_model`);
a model's module may define ``module_of(layer_name)`` and ``COUNT_MULTIPLICITY`` to split the count
into modules, otherwise layers group by their top-level nested model.

Paper numbers: BinaryHPE (Li et al., arXiv 2311.14323) Table 1 (DESIGN.md 5.3) for ``binaryhpe`` /
``hand4whole``; HRNet-W32's published 28.54 M / 7.65 GMACs (Sun et al. CVPR 2019, 256x192) for
``hrnet_w32``. Hand4Whole's 16.85 G in Table 1 recounts to 17.85 G here (backbones 16.01 G alone).
"""
import inspect
import json
import sys

from absl import app, flags

from bhpe_tf.cli import user_errors_exit
from bhpe_tf.errors import UnknownNameError, UserError

# Flags live in their own FlagValues so that importing this module next to other CLIs that also
# have --model/--method never collides in absl's global registry.
FLAGS = flags.FlagValues()
flags.DEFINE_string("model", "binaryhpe", "model: binaryhpe, hand4whole, hrnet_w32, bihrnet", flag_values=FLAGS)
flags.DEFINE_string("method", None, "binarization method (fp, bnn, xnor, xnor_nok, dorefa, dorefa_pm1, bireal, "
                    "reactnet, recu, fda, bidrn); default: the model's own", flag_values=FLAGS)
flags.DEFINE_boolean("json", False, "print JSON instead of a table", flag_values=FLAGS)
flags.DEFINE_boolean("all", False, "one row per method, next to the paper's numbers", flag_values=FLAGS)
flags.DEFINE_boolean("activations", False, "print the std of every stage's activations at initialisation for a "
                     "random input, in inference and training mode (bhpe_tf.diagnostics); exit 1 when an "
                     "output std is outside the healthy band", flag_values=FLAGS)
flags.DEFINE_multi_string("model_kwarg", [], "builder option KEY=VALUE for --activations (repeatable), e.g. "
                          "stage1=ir_b, ms_block=ms_b, input_shape=128,96,3", flag_values=FLAGS)

# (Params M, OPs G) as published.
PAPER = {
    "binaryhpe": {"fp": (77.84, 16.85), "bnn": (21.61, 2.63), "xnor": (21.61, 2.63), "dorefa": (21.61, 2.63),
                  "bireal": (21.61, 2.63), "reactnet": (21.66, 2.63), "recu": (21.71, 2.65), "fda": (32.06, 2.81),
                  "bidrn": (17.22, 2.50)},
    "hand4whole": {"fp": (77.84, 16.85)},
    "hrnet_w32": {"fp": (28.54, 7.65)},
}

# BinaryHPE (Li et al., arXiv 2311.14323) Table 1 accuracy (mm; DESIGN.md 5.3): EHF MPVPE and
# PA-MPVPE (All / Hands / Face) and AGORA MPVPE (All). The BNN / XNOR / DoReFa / Bi-Real rows
# give EHF MPVPE All only; columns the paper does not give are absent.
PAPER_ACCURACY = {
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


def paper_accuracy(method: str, benchmark: str) -> dict:
    """The Table 1 numbers of ``method`` on ``benchmark`` (``EHF`` / ``AGORA``), {} when none."""
    return dict(PAPER_ACCURACY.get(method, {}).get(benchmark, {}))


def _builder_takes_method(builder) -> bool:
    return "method" in inspect.signature(builder).parameters


def _default_group(name: str) -> str:
    return name.split("/")[0] if "/" in name else "model"


def model_counts(model_name: str, method=None):
    """Build ``model_name`` (with ``method`` where the builder takes one) and count it per module.

    Returns ``(method name, {module: Count, ..., "total": Count})``.
    """
    from bhpe_tf.binary import get_method
    from bhpe_tf.counting import count_model
    from bhpe_tf.models import get_builder

    builder = get_builder(model_name)
    kwargs = {}
    if _builder_takes_method(builder):
        if method is not None:
            kwargs["method"] = get_method(method).name
        method_name = kwargs.get("method") or inspect.signature(builder).parameters["method"].default
    else:
        method_name = "fp"
        if method is not None and get_method(method).name != "fp":
            raise UserError(f"model {model_name!r} is full precision only; use a model that takes --method "
                            f"(e.g. binaryhpe) for {get_method(method).name!r}")
    method_name = get_method(method_name).name
    module = sys.modules[builder.__module__]
    model = builder(**kwargs)
    counts = count_model(model, group=getattr(module, "module_of", _default_group),
                         multiplicity=getattr(module, "COUNT_MULTIPLICITY", None))
    return method_name, counts


def methods_of(model_name: str):
    """Methods a model can be built with (all presets when its builder takes ``method``)."""
    from bhpe_tf.binary import METHOD_NAMES
    from bhpe_tf.models import get_builder

    return METHOD_NAMES if _builder_takes_method(get_builder(model_name)) else ("fp",)


def paper_numbers(model_name: str, method: str):
    """The published (Params M, OPs G) of ``method``; an LCE form (``xnor_nok``, ``dorefa_pm1``) has its
    paper form's: K has no weights and is no conv MAC, {0, 1} and +-1 inputs cost the same binary MAC."""
    from bhpe_tf.binary.methods import METHODS

    paper_form = {m.lce_variant: m.name for m in METHODS.values() if m.lce_variant}.get(method, method)
    return PAPER.get(model_name, {}).get(paper_form)


def _format_counts(model_name, method, counts) -> str:
    lines = [f"{model_name} (method {method})",
             f"{'module':<14}{'binary params':>15}{'FP params':>13}{'binary MACs':>16}{'FP MACs':>16}"
             f"{'Params (M)':>12}{'OPs (G)':>10}"]
    for name, count in counts.items():
        lines.append(f"{name:<14}{count.binary_params:>15,}{count.fp_params:>13,}{count.binary_macs:>16,}"
                     f"{count.fp_macs:>16,}{count.params_m:>12.3f}{count.ops_g:>10.3f}")
    paper = paper_numbers(model_name, method)
    if paper:
        lines.append(f"paper: {paper[0]:.2f} M params, {paper[1]:.2f} G OPs")
    return "\n".join(lines)


def _format_table(model_name, rows) -> str:
    lines = [f"{model_name}: all methods (paper = BinaryHPE Table 1)" if model_name in ("binaryhpe", "hand4whole")
             else f"{model_name}: all methods",
             f"{'method':<10}{'Params (M)':>12}{'paper':>8}{'OPs (G)':>10}{'paper':>8}"]
    for method, counts in rows:
        paper = paper_numbers(model_name, method) or ("-", "-")
        total = counts["total"]
        lines.append(f"{method:<10}{total.params_m:>12.2f}{paper[0]:>8}{total.ops_g:>10.2f}{paper[1]:>8}")
    return "\n".join(lines)


def _as_json(model_name, method, counts) -> dict:
    paper = paper_numbers(model_name, method)
    return {"model": model_name, "method": method, "modules": {k: v.to_dict() for k, v in counts.items()},
            "paper": {"params_M": paper[0], "ops_G": paper[1]} if paper else None}


def _parse_kwarg(text: str):
    """``KEY=VALUE`` -> (key, value): integers, comma-separated integer tuples, else the string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--model_kwarg needs KEY=VALUE, got {text!r}")
    value = value.strip()
    parts = [v.strip() for v in value.split(",")]
    if all(p.lstrip("-").isdigit() for p in parts):
        numbers = tuple(int(p) for p in parts)
        return key.strip(), numbers if len(numbers) > 1 or "," in value else numbers[0]
    return key.strip(), value


def activation_report(model_name: str, method=None, kwargs=None):
    """Build ``model_name`` at init and return (text, healthy) of :mod:`bhpe_tf.diagnostics`."""
    from bhpe_tf import diagnostics
    from bhpe_tf.models import get_builder

    builder = get_builder(model_name)
    kwargs = dict(kwargs or {})
    if method is not None:
        if not _builder_takes_method(builder):
            raise UserError(f"model {model_name!r} is full precision only; drop --method")
        kwargs["method"] = method
    unknown = sorted(set(kwargs) - set(inspect.signature(builder).parameters))
    if unknown:
        raise UserError(f"{model_name} has no option {unknown[0]!r}; options: "
                        f"{', '.join(p for p in inspect.signature(builder).parameters if p != 'name')}")
    model = builder(**kwargs)
    items = diagnostics.profiles(model)
    healthy = all(item.healthy() for item in items)
    text = diagnostics.format_profiles(items)
    low, high = diagnostics.HEALTHY_STD
    text += ("\nall outputs within the healthy std band [%g, %g]" % (low, high) if healthy else
             "\nUNHEALTHY: an output std is outside [%g, %g]; look for the first stage whose std grows "
             "by a constant factor (real-valued paths summed twice)" % (low, high))
    return text, healthy


@user_errors_exit
def main(argv):
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {' '.join(argv[1:])}")
    from bhpe_tf.models import MODEL_NAMES

    model_name = FLAGS.model.strip().lower()
    if model_name not in MODEL_NAMES:
        raise UnknownNameError("model", FLAGS.model, MODEL_NAMES)
    if FLAGS.activations:
        kwargs = dict(_parse_kwarg(text) for text in FLAGS.model_kwarg)
        text, healthy = activation_report(model_name, FLAGS.method, kwargs)
        print(text)
        return 0 if healthy else 1
    if FLAGS.model_kwarg:
        raise UserError("--model_kwarg is an option of --activations")
    if FLAGS["all"].value:
        if FLAGS.method is not None:
            raise UserError("--all counts every method; drop --method")
        rows = [model_counts(model_name, method) for method in methods_of(model_name)]
        if FLAGS.json:
            print(json.dumps([_as_json(model_name, method, counts) for method, counts in rows], indent=1))
        else:
            print(_format_table(model_name, rows))
        return 0
    method, counts = model_counts(model_name, FLAGS.method)
    print(json.dumps(_as_json(model_name, method, counts), indent=1) if FLAGS.json
          else _format_counts(model_name, method, counts))
    return 0


def _parse_flags(argv):
    """absl's parser for this module's FlagValues: a flag error is one line and exit status 2."""
    flags.FLAGS(argv[:1])  # absl.app insists the global registry is parsed
    if any(arg in ("-h", "--help", "-help", "--helpfull") for arg in argv[1:]):
        print(__doc__ + "\nflags:\n" + FLAGS.get_help())
        sys.exit(0)
    try:
        return FLAGS(argv)
    except flags.Error as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def run(argv=None):
    """Console entry point (``bhpe-stats``)."""
    import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)

    app.run(main, argv=argv, flags_parser=_parse_flags)


if __name__ == "__main__":
    run()
