"""Parameter and operation counts of the project's models, next to the papers' numbers.

    python -m bhpe_tf.stats --model binaryhpe --method bidrn [--json]
    python -m bhpe_tf.stats --model binaryhpe --all          # every method vs BinaryHPE Table 1
    python -m bhpe_tf.stats --model bihrnet --activations    # activation scale at init, per stage
    python -m bhpe_tf.stats --model bihrnet --activations --model_kwarg stage1=ir_b --model_kwarg input_shape=128,96,3

Counts follow the BNN literature (:mod:`bhpe_tf.counting`): Params = P_binary/32 + P_fp and
OPs = MAC_binary/64 + MAC_fp, per module (encoders, BoxNet, heads for the whole-body models) and
in total. Models are built at full size through the registry (:mod:`bhpe_tf.models.registry`), whose
entry says how layers group into the paper's modules (``count_groups``: HRNet's stem, stages,
transitions and head; Hand4Whole's encoders, BoxNet and heads) and how often a module runs per image
(``count_multiplicity``: two hands).

Paper numbers come from the registry (:mod:`bhpe_tf.models.registry`: BinaryHPE Table 1, HRNet-W32's
published counts). Hand4Whole's 16.85 G in Table 1 recounts to 17.85 G here (backbones 16.01 G alone).
"""
import json

from absl import flags

from bhpe_tf.errors import UnknownNameError, UserError

FLAGS = flags.FLAGS


def define_flags(flag_values=None):
    """The flags of ``bhpe-stats`` / ``python -m bhpe_tf.stats`` on ``flag_values`` (default ``FLAGS``)."""
    flag_values = FLAGS if flag_values is None else flag_values
    flags.DEFINE_string("model", "binaryhpe", "model: binaryhpe, hand4whole, hrnet_w32, bihrnet",
                        flag_values=flag_values)
    flags.DEFINE_string("method", None, "binarization method (fp, bnn, xnor, xnor_nok, dorefa, dorefa_pm1, bireal, "
                        "reactnet, recu, fda, bidrn); default: the model's own", flag_values=flag_values)
    flags.DEFINE_boolean("json", False, "print JSON instead of a table", flag_values=flag_values)
    flags.DEFINE_boolean("all", False, "one row per method, next to the paper's numbers", flag_values=flag_values)
    flags.DEFINE_boolean("activations", False, "print the std of every stage's activations at initialisation for a "
                         "random input, in inference and training mode (bhpe_tf.diagnostics); exit 1 when an "
                         "output std is outside the healthy band", flag_values=flag_values)
    flags.DEFINE_multi_string("model_kwarg", [], "builder option KEY=VALUE for --activations (repeatable), e.g. "
                              "stage1=ir_b, ms_block=ms_b, input_shape=128,96,3", flag_values=flag_values)


def model_counts(model_name: str, method=None):
    """Build ``model_name`` (with ``method`` where it takes one) at full size and count it per module.

    Returns ``(method name, {module: Count, ..., "total": Count})``.
    """
    from bhpe_tf.binary import get_method
    from bhpe_tf.counting import count_model
    from bhpe_tf.models import get_model

    entry = get_model(model_name)
    method_name = get_method(method if method is not None else entry.default_method).name
    model = entry.build(method=method_name)
    group, multiplicity = entry.count_grouping()
    return method_name, count_model(model, group=group, multiplicity=multiplicity)


def methods_of(model_name: str):
    """Methods a model can be built with (all presets when its builder takes ``method``)."""
    from bhpe_tf.binary import METHOD_NAMES
    from bhpe_tf.models import get_model

    return METHOD_NAMES if get_model(model_name).takes_method else ("fp",)


def paper_numbers(model_name: str, method: str):
    """The published (Params M, OPs G) of ``method`` (:meth:`bhpe_tf.models.ModelEntry.paper_numbers`)."""
    from bhpe_tf.models import get_model

    return get_model(model_name).paper_numbers(method)


def _format_counts(model_name, method, counts) -> str:
    lines = [f"{model_name} (method {method})",
             f"{'module':<14}{'binary params':>15}{'FP params':>13}{'binary MACs':>16}{'FP MACs':>16}"
             f"{'Params (M)':>12}{'OPs (G)':>10}"]
    for name, count in counts.items():
        if name != "total" and not (count.binary_params or count.fp_params or count.binary_macs or count.fp_macs):
            continue  # the input layer
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
    from bhpe_tf.models import get_model

    entry = get_model(model_name)
    kwargs = dict(kwargs or {})
    options, _ = entry.options()
    unknown = sorted(set(kwargs) - set(options))
    if unknown:
        raise UserError(f"{model_name} has no option {unknown[0]!r}; options: "
                        f"{', '.join(p for p in options if p != 'name')}")
    if method is not None and not entry.takes_method:
        raise UserError(f"model {model_name!r} is full precision only; drop --method")
    model = entry.build(method=method, **kwargs)
    items = diagnostics.profiles(model)
    healthy = all(item.healthy() for item in items)
    text = diagnostics.format_profiles(items)
    low, high = diagnostics.HEALTHY_STD
    text += ("\nall outputs within the healthy std band [%g, %g]" % (low, high) if healthy else
             "\nUNHEALTHY: an output std is outside [%g, %g]; look for the first stage whose std grows "
             "by a constant factor (real-valued paths summed twice)" % (low, high))
    return text, healthy


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


def run(argv=None):
    """Console entry point (``bhpe-stats``): :func:`bhpe_tf.cli.run` with :func:`define_flags`."""
    import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)
    from bhpe_tf import cli

    cli.run(main, define_flags, argv, doc=__doc__)


if __name__ == "__main__":
    run()
