"""The package's layers point one way: report, classroom -> pipeline -> nn, data -> profile.

Read from the source (nothing is imported): every ``reglab`` import of a module is checked
against the layer it may use, and the module graph has no circle.
"""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "lib" / "reglab"

# What each part of the package may import (besides itself). The utilities (fileio, paths,
# plots) and the package root may be used from anywhere; they import only what is listed.
ALLOWED = {
    "profile": set(),
    "fileio": set(),
    "paths": set(),
    "plots": {"fileio", "paths"},
    "nn": {"profile", "fileio", "paths"},
    "data": {"profile", "fileio", "paths", "plots"},
    "pipeline": {"nn", "data", "profile", "fileio", "paths", "plots", "__init__"},
    "report": {"pipeline", "nn", "data", "profile", "fileio", "paths", "plots"},
    "classroom": {"pipeline", "nn", "data", "profile", "fileio", "paths", "plots"},
    "__main__": {"data", "pipeline", "report"},
    "__init__": {"nn", "data", "profile"},
}


def _modules():
    for f in sorted(PKG.rglob("*.py")):
        rel = f.relative_to(PKG).with_suffix("")
        yield ".".join(rel.parts), f


def _part(dotted: str) -> str:
    return dotted.split(".")[0]


def _targets(name: str, f: Path):
    """The reglab modules ``f`` (module ``name``, dotted under reglab) imports, dotted."""
    is_pkg = f.name == "__init__.py"
    here = name.split(".")[:-1] if name.endswith("__init__") else name.split(".")
    for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "reglab":
                    yield a.name.partition(".")[2] or "__init__"
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_pkg else here[:-1]
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "reglab":
                mod = node.module.partition(".")[2]
            else:
                continue
            for a in node.names:
                yield f"{mod}.{a.name}" if mod else (a.name if (PKG / a.name).exists()
                                                     or (PKG / f"{a.name}.py").exists()
                                                     else "__init__")


@pytest.mark.parametrize("name,f", list(_modules()), ids=lambda v: str(v))
def test_imports_point_down_the_layers(name, f):
    part = _part(name)
    allowed = ALLOWED[part] | {part}
    bad = sorted({t for t in _targets(name, f) if _part(t) not in allowed})
    assert not bad, f"reglab.{name} imports {bad}; {part} may use only {sorted(allowed)}"


def test_the_layout_has_its_parts_and_no_worker_process_module():
    names = {n for n, _ in _modules()}
    assert not any(n.split(".")[-1] in {"shards", "lane_worker", "step_partner", "workers",
                                        "parallel"} for n in names)
    assert {"nn.model", "nn.optim", "data.dataset", "pipeline.runner",
            "report.render", "classroom.widgets"} <= names
