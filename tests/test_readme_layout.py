"""The README's layout table names every package and module of the tree, and nothing that is gone."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def layout_paths():
    text = (REPO / "README.md").read_text()
    table = text[text.index("## Layout"):text.index("## The method table")]
    return {p.rstrip("/") for row in table.splitlines() if row.startswith("| `")
            for p in re.findall(r"`([\w./]+)`", row.split("|")[1])}


def test_layout_table_matches_the_tree():
    named = layout_paths()
    for path in named:
        assert (REPO / path).exists(), f"README layout names {path}, which does not exist"
    package = REPO / "bhpe_tf"
    entries = [p for p in package.iterdir() if not p.name.startswith(("_", ".")) and
               (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))]
    missing = sorted(str(p.relative_to(REPO)) for p in entries if str(p.relative_to(REPO)) not in named)
    assert not missing, f"README layout table does not name {missing}"
    for top in ("training", "converters", "benchmarks", "android_demo", "docs"):
        assert any(p == top or p.startswith(top + "/") for p in named), top
