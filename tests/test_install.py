"""reglab without a checkout: where notebooks, results and photos are, and `reglab class`.

The installed wheel itself is exercised by tests/test_wheel.py; these tests take the package
out of its checkout by pretending there is none (``project_root`` -> None) and check what the
wheel build is told to carry.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

import reglab
import reglab.data.fetch as fetch_mod
import reglab.data.images as images_mod
import reglab.paths as paths
from reglab.__main__ import main
from reglab.classroom import handout
from reglab.data import FlowersDataset, make_synthetic_flowers
from reglab.pipeline.notebooks import resolve_data_dir
from reglab.pipeline.runner import data_argument

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_checkout(monkeypatch, tmp_path):
    """reglab as if installed from a wheel: no project root anywhere, and a user data folder
    of this test's own."""
    for module in (paths, images_mod, fetch_mod, handout):
        monkeypatch.setattr(module, "project_root", lambda: None)
    monkeypatch.setenv("REGLAB_DATA_DIR", str(tmp_path / "user-data"))


# --------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------
def test_a_checkout_is_lib_reglab_under_a_pyproject(tmp_path):
    root = tmp_path / "checkout"
    (root / "lib" / "reglab").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\n")
    assert paths.checkout_root(root / "lib" / "reglab") == root
    # installed into a virtual environment that lies in a folder with a pyproject.toml
    site = root / ".venv" / "lib" / "python3.12" / "site-packages" / "reglab"
    site.mkdir(parents=True)
    assert paths.checkout_root(site) is None
    (root / "pyproject.toml").unlink()
    assert paths.checkout_root(root / "lib" / "reglab") is None
    assert paths.project_root() == ROOT


def test_without_a_checkout_the_notebooks_are_the_packages(no_checkout):
    pkg = Path(reglab.__file__).resolve().parent
    assert paths.package_notebooks().resolve() == pkg / "notebooks"
    assert paths.notebook_path("class", "01_overfitting.ipynb").resolve() == \
        pkg / "notebooks" / "class" / "01_overfitting.ipynb"


def test_from_a_checkout_the_notebooks_are_the_checkouts():
    assert paths.notebook_path("train_model.ipynb") == ROOT / "notebooks" / "train_model.ipynb"
    assert handout.class_notebooks_dir() == ROOT / "notebooks" / "class"


def test_without_a_checkout_paths_are_stored_as_given_and_read_from_here(
        no_checkout, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.relative_to_root(tmp_path / "photos") == str(tmp_path / "photos")
    assert paths.relative_to_root("data/flowers") == "data/flowers"
    assert paths.from_root("data/flowers") == Path("data/flowers")
    (tmp_path / "data" / "flowers").mkdir(parents=True)
    assert resolve_data_dir("data/flowers") == str(tmp_path / "data" / "flowers")


def test_without_a_checkout_the_runner_hands_the_notebooks_an_absolute_photo_folder(
        no_checkout, synthetic_flowers, tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    shutil.copytree(synthetic_flowers, photos)
    monkeypatch.chdir(tmp_path)
    data_arg, dataset = data_argument("photos")
    assert data_arg == str(photos.resolve())
    assert data_argument("synthetic")[0] == "synthetic"


def test_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("REGLAB_DATA_DIR", str(tmp_path / "mine"))
    assert paths.user_data_dir() == tmp_path / "mine"
    assert paths.user_photo_dir() == tmp_path / "mine" / "flowers"
    if sys.platform.startswith("linux"):
        monkeypatch.delenv("REGLAB_DATA_DIR")
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
        assert paths.user_data_dir() == tmp_path / "xdg" / "reglab"


# --------------------------------------------------------------------------------------------
# photos outside a checkout
# --------------------------------------------------------------------------------------------
def test_the_photo_lookup_ends_in_the_user_data_folder(no_checkout, synthetic_flowers,
                                                       tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWERS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        FlowersDataset([8, 8], [-1])
    assert str(paths.user_photo_dir()) in str(info.value)
    shutil.copytree(synthetic_flowers, paths.user_photo_dir())
    assert FlowersDataset([8, 8], [-1]).path == paths.user_photo_dir().resolve()
    shutil.copytree(synthetic_flowers, tmp_path / "data" / "flowers")   # ./data/flowers first
    assert FlowersDataset([8, 8], [-1]).path == (tmp_path / "data" / "flowers").resolve()


def _tf_archive(out: Path, tmp: Path) -> Path:
    src = make_synthetic_flowers(tmp / "src" / "flower_photos", n_per_class=3,
                                 classes=["daisy", "dandelion", "roses", "sunflowers", "tulips"])
    with tarfile.open(out, "w:gz") as tar:
        tar.add(src, arcname="flower_photos")
    return out


def test_fetch_without_a_checkout_fills_the_user_data_folder_and_the_class_notebooks_find_it(
        no_checkout, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FLOWERS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    archive = _tf_archive(tmp_path / "flower_photos.tgz", tmp_path)
    assert handout.prepare_photos(fetch=False) is None               # synthetic for now
    assert "합성 사진" in capsys.readouterr().out
    assert main(["data", "fetch", "--url", archive.as_uri(), "--min-photos", "10",
                 "--no-progress"]) == 0
    target = paths.user_photo_dir()
    assert sorted(p.name for p in target.iterdir()) == [
        "daisy", "dandelion", "rose", "sunflower", "tulip"]
    assert not (tmp_path / "data").exists()
    assert handout.prepare_photos(fetch=False) == target.resolve()
    assert "사용자 데이터 폴더" in capsys.readouterr().out


def test_prepare_photos_fetches_only_when_asked_and_only_if_none(no_checkout, tmp_path,
                                                                 monkeypatch, capsys):
    monkeypatch.delenv("FLOWERS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    archive = _tf_archive(tmp_path / "flower_photos.tgz", tmp_path)
    calls = []
    real_fetch = fetch_mod.fetch_flowers

    def fake_fetch(dest=None, **kw):
        calls.append(dest)
        return real_fetch(archive.as_uri(), dest, min_photos=10, progress=False,
                          log=lambda m: None)

    monkeypatch.setattr(fetch_mod, "fetch_flowers", fake_fetch)
    assert handout.prepare_photos(fetch=True) == paths.user_photo_dir().resolve()
    assert calls == [paths.user_photo_dir().parent]
    assert handout.prepare_photos(fetch=True) == paths.user_photo_dir().resolve()
    assert len(calls) == 1                                    # photos there: no second download


# --------------------------------------------------------------------------------------------
# reglab class DIR
# --------------------------------------------------------------------------------------------
def test_class_copies_the_notebooks_and_their_readme(tmp_path, capsys):
    source = ROOT / "notebooks" / "class"
    dest = tmp_path / "my class"
    assert main(["class", str(dest)]) == 0
    expected = sorted(p.name for p in source.iterdir()
                      if p.suffix in (".ipynb", ".md") and not p.name.startswith("."))
    assert sorted(p.name for p in dest.iterdir()) == expected
    assert "00_README.md" in expected and len([n for n in expected if n.endswith(".ipynb")]) >= 5
    for name in expected:
        assert (dest / name).read_bytes() == (source / name).read_bytes()
    out = capsys.readouterr().out
    assert str(dest) in out and "jupyter lab" in out


def test_class_never_replaces_a_students_notebook_without_force(tmp_path, capsys):
    dest = tmp_path / "class"
    assert main(["class", str(dest)]) == 0
    mine = dest / "01_overfitting.ipynb"
    mine.write_text("my edits")
    (dest / "02_l2_l1.ipynb").unlink()
    capsys.readouterr()
    assert main(["class", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "01_overfitting.ipynb" in err and "--force" in err
    assert mine.read_text() == "my edits" and not (dest / "02_l2_l1.ipynb").exists()
    assert main(["class", str(dest), "--force"]) == 0
    assert mine.read_bytes() == (ROOT / "notebooks" / "class" / mine.name).read_bytes()
    assert (dest / "02_l2_l1.ipynb").exists()


def test_class_into_a_file_or_from_an_empty_package_is_a_clear_error(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert main(["class", str(a_file)]) == 1
    assert "not a folder" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="reinstall"):
        handout.copy_class_notebooks(tmp_path / "dest", source=tmp_path / "empty")


# --------------------------------------------------------------------------------------------
# What the wheel carries; supported Pythons
# --------------------------------------------------------------------------------------------
def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def test_the_wheel_carries_every_notebook_from_its_one_source():
    wheel = _pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["lib/reglab"]       # templates, lab settings: all package files
    included = {}
    for src, dst in wheel["force-include"].items():
        for f in [ROOT / src] if (ROOT / src).is_file() else (ROOT / src).rglob("*"):
            included[f.relative_to(ROOT).as_posix()] = dst + f.as_posix()[len(str(ROOT / src)):]
    tracked = subprocess.run(["git", "ls-files", "notebooks"], cwd=ROOT, capture_output=True,
                             text=True).stdout.split() if (ROOT / ".git").exists() else []
    wanted = [p for p in tracked if p.endswith((".ipynb", ".md"))] or [
        p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").rglob("*.ipynb")]
    for name in ("notebooks/train_model.ipynb", "notebooks/chapter8_report.ipynb",
                 "notebooks/study_report.ipynb", "notebooks/class/00_README.md"):
        assert name in wanted
    missing = [p for p in wanted if p not in included]
    assert not missing, f"pyproject.toml's force-include leaves out {missing}"
    for src, dst in included.items():
        assert dst == "reglab/" + src, (src, dst)
    assert not (ROOT / "lib" / "reglab" / "notebooks").exists(), "one source: notebooks/ only"


def test_supported_pythons_are_stated_and_tested():
    project = _pyproject()["project"]
    assert project["requires-python"] == ">=3.11"
    classifiers = {c.rsplit(" ", 1)[-1] for c in project["classifiers"]
                   if c.startswith("Programming Language :: Python :: 3.")}
    assert classifiers == {"3.11", "3.12", "3.13"}
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "TEST_PYTHONS ?= 3.11 3.12 3.13" in make and "test-pythons:" in make
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "3.11" in readme and "3.13" in readme and "make test-pythons" in readme
    assert "Colab에서 열기" in readme


def test_test_pythons_reports_a_missing_interpreter(tmp_path):
    env = {**os.environ, "TEST_PYTHONS": "3.99", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(["bash", str(ROOT / "tools" / "test-pythons.sh")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Python 3.99: not found" in proc.stdout and "not found: 3.99" in proc.stdout
    assert not list(tmp_path.iterdir())                      # no venv made for it
