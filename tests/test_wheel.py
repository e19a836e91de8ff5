"""The wheel carries what it runs: built, installed into a fresh virtual environment, and used
from an empty folder far from the checkout (the seven book runs on synthetic photos for one
epoch, the report, the class notebooks, the photo download), as a student would after
``pip install reglab``.

Slow (about three minutes: most of it pip installing the dependencies, from pip's cache after
the first time); ``make test`` runs it, ``-m 'not slow'`` leaves it out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from reglab.data import make_synthetic_flowers
from reglab.pipeline.experiments import CHAPTER8_RUNS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["train_model.ipynb", "chapter8_report.ipynb", "study_report.ipynb"]


def _run(cmd, cwd, env=None, timeout=900, check=True):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited with {proc.returncode}\n"
                    f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, ROOT],
         cwd=dist)
    wheels = list(dist.glob("reglab-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    """A fresh virtual environment holding the wheel and its dependencies only."""
    where = tmp_path_factory.mktemp("venv") / "venv"
    _run([sys.executable, "-m", "venv", where], cwd=where.parent)
    _run([where / "bin" / "python", "-m", "pip", "install", "--quiet", "--progress-bar", "off",
          wheel], cwd=where.parent)
    return where


@pytest.fixture
def student(tmp_path, venv):
    """(an empty folder outside the checkout, the environment of a shell with the venv on
    PATH and nothing of the checkout)."""
    here = tmp_path / "empty"
    here.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "FLOWERS_DIR", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               REGLAB_DATA_DIR=str(tmp_path / "user-data"), PYTHONNOUSERSITE="1")
    return here, env


def test_the_wheel_carries_the_notebooks_and_templates_from_their_one_source(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    z = zipfile.ZipFile(wheel)
    for name in NOTEBOOKS:
        assert z.read(f"reglab/notebooks/{name}") == (ROOT / "notebooks" / name).read_bytes()
    for src in (ROOT / "notebooks" / "class").iterdir():
        if src.suffix in (".ipynb", ".md"):
            assert z.read(f"reglab/notebooks/class/{src.name}") == src.read_bytes()
    assert "reglab/report/templates/reglab_report/index.html.j2" in names
    assert "reglab/classroom/lab-settings/overrides.json" in names
    assert not [n for n in names if n.startswith(("notebooks/", "tests/", "lib/"))
                or "__pycache__" in n or ".ipynb_checkpoints" in n]


def test_an_sdist_builds_and_its_wheel_carries_the_notebooks_too(tmp_path, venv):
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "hatchling>=1.26"],
         cwd=tmp_path)
    _run([venv / "bin" / "python", "-m", "hatchling", "build", "-t", "sdist", "-d", tmp_path],
         cwd=ROOT)
    sdists = list(tmp_path.glob("reglab-*.tar.gz"))
    assert len(sdists) == 1
    with tarfile.open(sdists[0]) as tar:
        members = tar.getnames()
    assert any(m.endswith("/notebooks/train_model.ipynb") for m in members)
    tops = {m.split("/")[1] for m in members if m.count("/") >= 1}
    assert {"lib", "notebooks", "pyproject.toml"} <= tops
    assert not tops & {"reports", "data", ".venv", ".git", "benchmarks"}, tops
    _run([venv / "bin" / "python", "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
          tmp_path / "from-sdist", sdists[0]], cwd=tmp_path)
    built = next((tmp_path / "from-sdist").glob("reglab-*.whl"))
    assert "reglab/notebooks/class/01_overfitting.ipynb" in zipfile.ZipFile(built).namelist()


def test_from_an_empty_folder_the_seven_book_runs_and_the_report(student, venv):
    here, env = student
    probe = _run([venv / "bin" / "python", "-c",
                  "import reglab, reglab.paths as p; print(reglab.__file__); "
                  "print(p.project_root()); print(p.notebook_path('train_model.ipynb'))"],
                 cwd=here, env=env).stdout.split("\n")
    assert probe[0].startswith(str(venv)) and probe[1] == "None"
    assert probe[2].startswith(str(venv)) and Path(probe[2]).is_file()

    run = _run(["reglab", "run", "--profile", "book", "--epochs", "1", "--max-samples", "300",
                "--out", "runs", "--data-dir", "synthetic", "--no-progress", "--jobs", "2"],
               cwd=here, env=env)
    assert "done: 7 ok, 0 skipped, 0 failed" in run.stdout
    names = [s.name for s in CHAPTER8_RUNS]
    for name in names:
        rec = json.loads((here / "runs" / "book" / f"{name}.json").read_text())
        assert rec["status"] == "ok" and rec["config"]["data_dir"] == "synthetic"
        assert rec["config"]["epochs"] == 1
        executed = (here / "runs" / "book" / rec["notebook"]).read_text()
        assert str(ROOT) not in executed and str(venv) not in executed
    index = json.loads((here / "runs" / "book" / "index.json").read_text())
    assert [r["status"] for r in index["runs"]] == ["ok"] * 7

    _run(["reglab", "report", "--runs-dir", "runs", "--profiles", "book", "--out", "rep",
          "--no-pdf"], cwd=here, env=env)
    html = (here / "rep" / "chapter8_report.html").read_text(encoding="utf-8")
    assert "<html" in html[:2000].lower()
    missing = [n for n in names if n not in html]
    assert not missing, f"the report leaves out {missing}"
    assert sorted(p.name for p in here.iterdir()) == ["rep", "runs"]   # nothing else written


def test_from_an_empty_folder_class_notebooks_and_photos(student, venv, tmp_path):
    here, env = student
    _run(["reglab", "class", "cls"], cwd=here, env=env)
    copied = sorted(p.name for p in (here / "cls").iterdir())
    assert copied == sorted(p.name for p in (ROOT / "notebooks" / "class").iterdir()
                            if p.suffix in (".ipynb", ".md"))
    again = _run(["reglab", "class", "cls"], cwd=here, env=env, check=False)
    assert again.returncode == 1 and "--force" in again.stderr

    src = make_synthetic_flowers(tmp_path / "src" / "flower_photos", n_per_class=3,
                                 classes=["daisy", "dandelion", "roses", "sunflowers", "tulips"])
    archive = tmp_path / "flower_photos.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="flower_photos")
    _run(["reglab", "data", "fetch", "--url", archive.as_uri(), "--min-photos", "10",
          "--no-progress"], cwd=here, env=env)
    photos = Path(env["REGLAB_DATA_DIR"]) / "flowers"
    assert sorted(p.name for p in photos.iterdir()) == [
        "daisy", "dandelion", "rose", "sunflower", "tulip"]
    info = _run(["reglab", "data", "info", "--no-progress"], cwd=here, env=env)
    assert f"photos:  {photos}" in info.stdout
    assert sorted(p.name for p in here.iterdir()) == ["cls"]
