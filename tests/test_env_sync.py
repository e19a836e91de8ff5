"""environment.yml must mirror pyproject.toml; README and .ci/run must show the two commands.

environment.yml cannot be exercised here (no conda channel access), so this test is
its only guard: same dependency names (runtime + [dev] extras) and the same lower
bounds wherever both files give one.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

# conda-forge name -> pip name, where they differ.
CONDA_TO_PIP = {
    "matplotlib-base": "matplotlib",
    "nbconvert-core": "nbconvert",
}
# Present in environment.yml for conda's sake only.
CONDA_ONLY = {"python", "pip"}

_CONDA_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$")


def _lower_bound(spec: str) -> Version | None:
    """The `>=X` lower bound in a (pip or conda) version spec, if any."""
    bounds = [Version(m) for m in re.findall(r">=\s*([0-9][0-9A-Za-z.\-+]*)", spec)]
    return max(bounds) if bounds else None


def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _pip_deps() -> dict[str, Version | None]:
    project = _pyproject()["project"]
    reqs = list(project.get("dependencies", []))
    reqs += list(project.get("optional-dependencies", {}).get("dev", []))
    deps: dict[str, Version | None] = {}
    for line in reqs:
        req = Requirement(line)
        deps[canonicalize_name(req.name)] = _lower_bound(str(req.specifier))
    return deps


def _env() -> dict:
    with open(ROOT / "environment.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def _conda_deps() -> tuple[dict[str, Version | None], dict[str, str], list[str]]:
    """(pip-named deps with lower bounds, conda-only specs, the `pip:` sub-list)."""
    deps: dict[str, Version | None] = {}
    conda_only: dict[str, str] = {}
    pip_list: list[str] = []
    for item in _env()["dependencies"]:
        if isinstance(item, dict):
            pip_list.extend(item.get("pip", []))
            continue
        m = _CONDA_SPEC.match(str(item))
        assert m, f"cannot parse environment.yml dependency {item!r}"
        name, spec = m.group(1).lower(), m.group(2)
        if name in CONDA_ONLY:
            conda_only[name] = spec
            continue
        deps[canonicalize_name(CONDA_TO_PIP.get(name, name))] = _lower_bound(spec)
    # Plain packages under `pip:` count too; `-e .` and other options do not.
    for line in pip_list:
        if not line.strip().startswith("-"):
            req = Requirement(line)
            deps[canonicalize_name(req.name)] = _lower_bound(str(req.specifier))
    return deps, conda_only, pip_list


def test_dependency_names_match():
    pip_deps = _pip_deps()
    conda_deps, _, _ = _conda_deps()
    only_pyproject = sorted(set(pip_deps) - set(conda_deps))
    only_env = sorted(set(conda_deps) - set(pip_deps))
    assert not only_pyproject and not only_env, (
        "environment.yml and pyproject.toml list different dependencies:\n"
        f"  only in pyproject.toml: {only_pyproject}\n"
        f"  only in environment.yml: {only_env}\n"
        f"(conda names mapped: {CONDA_TO_PIP}; ignored: {sorted(CONDA_ONLY)})"
    )


def test_lower_bounds_match():
    pip_deps = _pip_deps()
    conda_deps, _, _ = _conda_deps()
    diffs = [
        f"  {name}: pyproject >={pip_deps[name]}, environment.yml >={conda_deps[name]}"
        for name in sorted(set(pip_deps) & set(conda_deps))
        if pip_deps[name] is not None
        and conda_deps[name] is not None
        and pip_deps[name] != conda_deps[name]
    ]
    assert not diffs, "lower bounds differ:\n" + "\n".join(diffs)


def test_environment_python_and_editable_install():
    _, conda_only, pip_list = _conda_deps()
    assert "pip" in conda_only, "environment.yml must list pip"
    m = re.match(r"^=*\s*([0-9]+(?:\.[0-9]+)*)", conda_only.get("python", ""))
    assert m, "environment.yml must pin python (e.g. python=3.11)"
    requires = SpecifierSet(_pyproject()["project"]["requires-python"])
    assert requires.contains(m.group(1)), (
        f"environment.yml python={m.group(1)} does not satisfy requires-python {requires}"
    )
    assert any(re.fullmatch(r"-e\s+\.", line.strip()) for line in pip_list), (
        "environment.yml must install the package itself: `- pip: [-e .]`"
    )


def test_readme_first_screen_has_both_commands():
    first_screen = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:40]
    text = "\n".join(first_screen)
    missing = [cmd for cmd in ("make report", "make test") if cmd not in text]
    assert not missing, f"README.md's first 40 lines do not mention: {missing}"


def test_ci_run_sets_flowers_dir_and_calls_make_test():
    path = ROOT / ".ci" / "run"
    code = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    text = "\n".join(code)
    assert re.search(r"\bmake\s+test\b", text), ".ci/run must call `make test`"
    assert re.search(r"^\s*export\s+FLOWERS_DIR=", text, re.M), ".ci/run must export FLOWERS_DIR"
    if os.name == "posix":
        assert os.access(path, os.X_OK), ".ci/run must be executable (chmod +x)"


@pytest.mark.parametrize("conda_name", sorted(CONDA_TO_PIP))
def test_conda_names_are_used_not_pip_names(conda_name):
    """Conda users should get matplotlib-base / nbconvert-core, not the heavy metapackages."""
    names = {
        _CONDA_SPEC.match(str(item)).group(1).lower()
        for item in _env()["dependencies"]
        if not isinstance(item, dict)
    }
    assert conda_name in names
    assert CONDA_TO_PIP[conda_name] not in names
