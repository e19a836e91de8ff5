"""A student's own copy of the class notebooks, and their photos, without a checkout.

* :func:`class_notebooks_dir` — the class notebooks reglab carries (the checkout's
  ``notebooks/class`` or the installed package's copy, :func:`reglab.paths.notebook_path`).
* :func:`copy_class_notebooks` — copy them (and their README) into a folder; ``reglab class DIR``.
* :func:`prepare_photos` — what the first cell of a class notebook calls (Colab, JupyterHub, a
  laptop): say which photos the notebook will use (``$FLOWERS_DIR``, ``data/flowers``, the user
  data folder) and, on request, download the real ones into the user data folder; without
  photos the notebooks use their synthetic stand-in.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path

from ..paths import notebook_path, project_root, user_photo_dir

__all__ = ["CLASS_SUFFIXES", "class_notebooks_dir", "class_files", "copy_class_notebooks",
           "prepare_photos", "add_class_parser", "class_command"]

#: What a student's folder gets: the notebooks and their README.
CLASS_SUFFIXES = (".ipynb", ".md")


def class_notebooks_dir() -> Path:
    """The folder of the class notebooks (checkout or installed package)."""
    return notebook_path("class")


def class_files(source=None) -> list[Path]:
    """The class notebooks and README of ``source`` (default :func:`class_notebooks_dir`), sorted
    by name; FileNotFoundError if there are none."""
    source = Path(source) if source is not None else class_notebooks_dir()
    files = sorted(p for p in source.glob("*") if p.is_file() and p.suffix in CLASS_SUFFIXES
                   and not p.name.startswith("."))
    if not any(p.suffix == ".ipynb" for p in files):
        raise FileNotFoundError(f"no class notebooks in {source} (the installed package lacks its "
                                "notebooks: reinstall reglab)")
    return files


def copy_class_notebooks(dest, *, force: bool = False, source=None) -> list[Path]:
    """Copy the class notebooks and their README into ``dest`` (created if needed).

    Nothing is copied when a file of the same name is already in ``dest`` (a student's edited
    notebook is never replaced), unless ``force``: FileExistsError names those files. Returns
    the copied files, in ``dest``.
    """
    dest = Path(dest).expanduser()
    files = class_files(source)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"{dest} exists and is not a folder")
    taken = [dest / f.name for f in files if (dest / f.name).exists()]
    if taken and not force:
        names = ", ".join(p.name for p in taken)
        raise FileExistsError(f"{dest} already has {names}; nothing copied (use --force to "
                              "replace them, or choose another folder)")
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for f in files:
        shutil.copyfile(f, dest / f.name)
        copied.append(dest / f.name)
    return copied


def prepare_photos(fetch: bool = False, *, log=print) -> Path | None:
    """The photo folder the class notebooks will find (``data_dir=""``), or None (synthetic).

    Looks where the notebooks look (:func:`reglab.classroom.find_photo_dir`: ``$FLOWERS_DIR``,
    ``./data/flowers``, the checkout's ``data/flowers``, the user data folder). With ``fetch``
    and no photos found, downloads the TensorFlow flower photos (about 220 MB) into the user
    data folder first (:func:`reglab.data.fetch.fetch_flowers`), where the notebooks then find
    them. ``log`` receives one Korean line saying which photos are used.
    """
    from .data import find_photo_dir

    folder, origin = find_photo_dir(None)
    if folder is None and fetch:
        from ..data.fetch import fetch_flowers
        dest = (project_root() / "data") if project_root() is not None else user_photo_dir().parent
        log(f"꽃 사진(약 220 MB)을 {dest / 'flowers'}에 내려받습니다 …")
        fetch_flowers(dest=dest, progress=False, log=lambda msg: None)
        folder, origin = find_photo_dir(None)
    if folder is None:
        log("사진: 합성 사진을 씁니다 (실제 꽃 사진을 쓰려면 FETCH_PHOTOS = True 로 바꾸거나 "
            "FLOWERS_DIR을 지정하세요)")
    else:
        log(f"사진: 실제 꽃 사진 ({origin}: {folder})")
    return folder


# --------------------------------------------------------------------------------------------
# Command line: reglab class DIR
# --------------------------------------------------------------------------------------------
def add_class_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``class`` on an argparse ``subparsers`` object (sets ``func``)."""
    p = subparsers.add_parser(
        "class", help="copy the class notebooks into a folder to open in Jupyter",
        description="Copy the class notebooks (one per regularization technique) and their "
        "README into DIR, for a student to open in JupyterLab, JupyterHub or Colab. Existing "
        "files are never replaced unless --force is given.")
    p.add_argument("dir", metavar="DIR", help="folder to copy into (created if needed)")
    p.add_argument("--force", action="store_true", help="replace files that are already there")
    p.set_defaults(func=class_command)
    return p


def class_command(args) -> int:
    """``reglab class DIR``: 0 copied, 1 refused or failed (one line on stderr)."""
    try:
        copied = copy_class_notebooks(args.dir, force=args.force)
    except (FileExistsError, FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    dest = Path(args.dir)
    print(f"수업 노트북 {sum(p.suffix == '.ipynb' for p in copied)}개를 {dest}에 복사했습니다 / "
          f"copied {len(copied)} files into {dest}:")
    for p in copied:
        print(f"  {p.name}")
    print(f"열기 / open: cd {shlex.quote(str(dest))} && jupyter lab")
    return 0
