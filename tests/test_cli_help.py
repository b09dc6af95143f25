"""``--help`` of every command-line tool lists that tool's own flags and exits 0.

Every console script of setup.cfg (started as pip's wrapper starts it: a ``__main__`` without a
docstring, ``sys.argv[0]`` the script's name), every ``python -m`` tool, ``training/train.py``,
``converters/*.py`` and every ``benchmarks/*.py`` with flags. The flags expected are those the
owning module defines (``DEFINE_*("name", ...)`` in its source), so a flag added there is checked
too. The tools run in parallel from a folder outside the repository (one import each: < 1 min).
"""
import concurrent.futures
import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFINE = re.compile(r"""DEFINE_\w+\(\s*["'](\w+)["']""")


def defined_flags(path: Path) -> set:
    return set(DEFINE.findall(path.read_text()))


def console_scripts() -> dict:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    entries = {}
    for line in parser["options.entry_points"]["console_scripts"].strip().splitlines():
        name, target = (part.strip() for part in line.split("="))
        entries[name] = target
    return entries


def module_file(module: str) -> Path:
    return REPO / (module.replace(".", "/") + ".py")


#: Flags a tool has besides those its module's source defines (ml_collections' --config of the trainer).
EXTRA = {"bhpe_tf.training.cli": {"config"}}
#: Where a script's flags are defined (the scripts are thin shims over the library).
OWNER = {"training/train.py": "bhpe_tf/training/cli.py", "converters/convert.py": "bhpe_tf/conversion/export.py",
         "converters/benchmark.py": "bhpe_tf/conversion/benchmark.py"}
MODULES = ("bhpe_tf.training.cli", "bhpe_tf.evaluate", "bhpe_tf.infer", "bhpe_tf.stats", "bhpe_tf.import_weights",
           "bhpe_tf.android_assets", "bhpe_tf.demo")


def tools() -> dict:
    """``{id: (command after the interpreter, expected flags)}``."""
    out = {}
    for name, target in console_scripts().items():
        module, function = target.split(":")
        code = (f"import sys; from {module} import {function}; sys.argv[0] = {name!r}; "
                f"sys.exit({function}())")  # what pip's console-script wrapper does
        out[name] = (["-c", code], defined_flags(module_file(module)) | EXTRA.get(module, set()))
    for module in MODULES:
        out[f"-m {module}"] = (["-m", module], defined_flags(module_file(module)) | EXTRA.get(module, set()))
    scripts = [REPO / "training" / "train.py", *sorted((REPO / "converters").glob("*.py"))]
    scripts += [p for p in sorted((REPO / "benchmarks").glob("*.py")) if DEFINE.search(p.read_text())]
    for script in scripts:
        rel = script.relative_to(REPO).as_posix()
        owner = REPO / OWNER.get(rel, rel)
        owner_module = owner.relative_to(REPO).with_suffix("").as_posix().replace("/", ".")
        out[rel] = ([str(script)], defined_flags(owner) | EXTRA.get(owner_module, set()))
    return out


TOOLS = tools()


@pytest.fixture(scope="module")
def helps(tmp_path_factory):
    """Every tool's ``--help``, run in parallel from a folder outside the repository."""
    cwd = tmp_path_factory.mktemp("elsewhere")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_USE_LEGACY_KERAS="1", PYTHONPATH=str(REPO))

    def run(command):
        return subprocess.run([sys.executable, *command, "--help"], capture_output=True, text=True, cwd=cwd, env=env,
                              timeout=300)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {key: pool.submit(run, command) for key, (command, _) in TOOLS.items()}
        return {key: future.result() for key, future in futures.items()}


def test_every_tool_is_covered():
    assert {"bhpe-train", "bhpe-convert", "bhpe-benchmark", "bhpe-evaluate", "bhpe-infer", "bhpe-stats",
            "bhpe-import"} <= set(TOOLS)
    assert {"training/train.py", "converters/convert.py", "converters/benchmark.py"} <= set(TOOLS)
    assert len([k for k in TOOLS if k.startswith("benchmarks/")]) >= 10
    assert all(expected for _, expected in TOOLS.values())


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_help_lists_the_tools_own_flags(tool, helps):
    proc = helps[tool]
    assert proc.returncode == 0, proc.stderr[-3000:]
    listed = set(re.findall(r"^  --(?:\[no\])?(\w+)", proc.stdout, re.M))  # absl: two spaces, then the flag
    missing = TOOLS[tool][1] - listed
    assert not missing, f"{tool} --help lacks {sorted(missing)}:\n{proc.stdout[-3000:]}"
    assert "Traceback" not in proc.stderr


def test_help_of_the_trainer_explains_the_config_overrides(helps):
    for tool in ("bhpe-train", "training/train.py"):
        assert "--config.KEY.PATH=VALUE" in helps[tool].stdout and "bhpe_tf/configs" in helps[tool].stdout
