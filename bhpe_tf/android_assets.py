"""Copy converted models into the Android demo's assets (``make android-assets``).

``python -m bhpe_tf.android_assets --workdir demo_out --assets android_demo/app/src/main/assets``
finds every model card (``bhpe_tf.runtime.card``, ``OUT.json`` next to ``OUT.tflite``)
under ``--workdir``, checks it (schema version 1, the flatbuffer's size and sha256, a converter
target the phone can run), and copies each ``.tflite`` with its card into ``--assets``. The app
lists the ``.tflite`` files in its assets and reads the card of the same stem; it refuses a model
whose card is missing or does not match (Java ``org.bhpe.core.ModelCard``).

Model files this tool copied earlier (a ``.tflite`` with a bhpe-tf card beside it) that are no
longer in ``--workdir`` are removed from the assets, so the app never offers a stale model.
Anything else in the assets folder is left alone.
"""
from __future__ import annotations

import json
from pathlib import Path

from absl import flags

from bhpe_tf.runtime import card as mc
from bhpe_tf.errors import InvalidInputError, MissingFileError, UserError
from bhpe_tf.fileio import atomic_write_bytes

# LCE's "xcore" target cannot run on a phone; "arm" (LCE) and "tflite" (stock converter, FP models) can.
PHONE_TARGETS = ("arm", "tflite")


def _is_card(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("format") == mc.FORMAT


def find_cards(workdir) -> list:
    """Every ``*.json`` under ``workdir`` (recursively) whose ``format`` is the model card's."""
    workdir = Path(workdir)
    return sorted(p for p in workdir.rglob("*.json") if p.is_file() and _is_card(p))


def check_model(card_path) -> tuple:
    """``(card, tflite_path)`` for a card that the app can use; raises a :class:`UserError` otherwise."""
    card_path = Path(card_path)
    try:
        raw = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidInputError(f"model card {card_path} is not readable json: {err}") from None
    name = raw.get("tflite_file") if isinstance(raw, dict) else None
    if not isinstance(name, str) or not name:
        # let the validator name the problem
        return mc.read_model_card(card_path), None
    tflite = card_path.parent / name
    if not tflite.is_file():
        raise MissingFileError(f"model card {card_path} names {name} but {tflite} does not exist "
                               "(convert again; the .tflite and its .json are written together)")
    if mc.card_path_for(tflite) != card_path:
        raise InvalidInputError(f"model card {card_path} describes {name}, whose card should be "
                                f"{mc.card_path_for(tflite).name}; the app looks cards up by the .tflite's stem")
    card = mc.read_model_card(card_path, tflite_bytes=tflite.read_bytes())
    if card["converter"]["target"] not in PHONE_TARGETS:
        raise InvalidInputError(f"{tflite} was converted for target {card['converter']['target']!r}, which does not "
                                f"run on a phone; convert with target {' or '.join(PHONE_TARGETS)}")
    return card, tflite


def _copy_atomic(src: Path, dst: Path) -> None:
    atomic_write_bytes(dst, Path(src).read_bytes())


def copy_assets(workdir, assets) -> list:
    """Validate the models under ``workdir`` and copy them into ``assets``; returns the copied cards' paths."""
    workdir, assets = Path(workdir), Path(assets)
    if not workdir.is_dir():
        raise MissingFileError(f"{workdir} does not exist: there is no converted model yet. Run `make demo` first "
                               "(it converts the demo model and writes its .tflite and model card there), or convert "
                               f"your own with converters/convert.py --output {workdir}/NAME.tflite")
    cards = find_cards(workdir)
    if not cards:
        raise MissingFileError(f"no converted model in {workdir} (no .tflite with a bhpe-tf model card .json beside "
                               "it). Run `make demo` first, or converters/convert.py --output "
                               f"{workdir}/NAME.tflite")
    checked = [check_model(path) for path in cards]
    names = {}
    for (card, tflite), path in zip(checked, cards):
        other = names.setdefault(tflite.name, path)
        if other != path:
            raise InvalidInputError(f"two models named {tflite.name} ({other} and {path}); the assets folder is flat, "
                                    "rename one of them")
    assets.mkdir(parents=True, exist_ok=True)
    wanted = set(names)
    for stale in sorted(assets.glob("*.tflite")):
        card = mc.card_path_for(stale)
        if stale.name not in wanted and card.is_file() and _is_card(card):
            stale.unlink()
            card.unlink()
            print(f"removed stale {stale.name} and {card.name} from {assets}")
    copied = []
    for card, tflite in checked:
        dst = assets / tflite.name
        _copy_atomic(tflite, dst)
        _copy_atomic(mc.card_path_for(tflite), mc.card_path_for(dst))
        copied.append(mc.card_path_for(dst))
        print(f"copied {tflite.name} ({card['model']}/{card['method']}, {card['task']}, input "
              f"{card['input']['shape']} {card['input']['dtype']}, {card['census']['lce_bconv2d']} LceBconv2d) "
              f"and its card to {assets}")
    return copied


def define_flags(flag_values=None):
    """The flags of ``python -m bhpe_tf.android_assets`` on ``flag_values`` (default ``absl.flags.FLAGS``)."""
    flag_values = flags.FLAGS if flag_values is None else flag_values
    flags.DEFINE_string("workdir", "demo_out", "where the converted .tflite + .json cards are", flag_values=flag_values)
    flags.DEFINE_string("assets", "android_demo/app/src/main/assets", "the app's assets folder",
                        flag_values=flag_values)


def main(argv) -> int:
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {' '.join(argv[1:])}")
    copy_assets(flags.FLAGS.workdir, flags.FLAGS.assets)
    return 0


def run(argv=None):
    """``make android-assets``: :func:`bhpe_tf.cli.run` with :func:`define_flags` (a user error: one line, exit 2)."""
    from bhpe_tf import cli

    cli.run(main, define_flags, argv, doc=__doc__)


if __name__ == "__main__":
    run()
