"""Download the public TensorFlow flower photos (``reglab data fetch``) into ``data/flowers`` of
the checkout, or ``flowers`` in the user's data folder when reglab is installed from a wheel.

The archive ``flower_photos.tgz`` (about 220 MB, 3670 photos) holds ``flower_photos/`` with the
class folders ``daisy dandelion roses sunflowers tulips`` and a ``LICENSE.txt``. It is
downloaded to a temporary file beside its final place, checked, extracted safely into a
temporary folder, and only then renamed into place as ``<dest>/flowers``.
"""

from __future__ import annotations

import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

from ..fileio import atomic_path
from ..paths import project_root, user_photo_dir
from .images import BOOK_CLASSES, TF_CLASS_NAMES, count_photos, scan_photos

__all__ = ["FLOWERS_URL", "EXPECTED_CLASSES", "FetchError", "UnsafeArchiveError",
           "fetch_flowers", "download", "check_members", "safe_extract"]

FLOWERS_URL = ("https://storage.googleapis.com/download.tensorflow.org/example_images/"
               "flower_photos.tgz")
EXPECTED_CLASSES = BOOK_CLASSES
ALTERNATIVE = ('Alternative: download Kaggle "Flowers Recognition" and unzip it so that '
               "data/flowers/<class>/ holds the photos (or set FLOWERS_DIR to such a folder).")


class FetchError(RuntimeError):
    """Downloading, checking or extracting the photo archive failed."""


class UnsafeArchiveError(FetchError):
    """An archive member would land outside the target folder or is a special file."""


def download(url: str, dest_file: Path, *, progress=None, timeout=60.0) -> Path:
    """Download ``url`` to ``dest_file`` via a temporary file in the same folder.

    The temporary file is renamed to ``dest_file`` only when the download is complete; on any
    failure it is removed and :class:`FetchError` names the URL and the cause.
    """
    from tqdm import tqdm
    dest_file = Path(dest_file)
    dest_file.parent.mkdir(parents=True, exist_ok=True)
    if progress is None:
        progress = sys.stderr.isatty()
    try:
        with atomic_path(dest_file) as tmp, open(tmp, "wb") as out, \
                urllib.request.urlopen(url, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            got = 0
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=dest_file.name, disable=not progress) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
            if total is not None and got != total:
                raise OSError(f"connection closed after {got} of {total} bytes")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(f"could not download {url}: {exc}\n{ALTERNATIVE}") from exc
    return dest_file


def _inside(base: PurePosixPath, rel: PurePosixPath) -> bool:
    """True if ``base/rel`` (resolved lexically) stays inside ``base``."""
    parts = []
    for part in (base / rel).parts:
        if part == "..":
            if not parts:
                return False
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return parts[: len(base.parts)] == list(base.parts) and len(parts) >= len(base.parts)


def check_members(members) -> None:
    """Reject members that could write outside the target folder.

    Raises
    ------
    UnsafeArchiveError
        For an absolute path, a path with ``..``, a symlink or hard link pointing outside, or a
        device/FIFO member. The message names the member.
    """
    base = PurePosixPath("/target")
    for m in members:
        name = m.name
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            raise UnsafeArchiveError(f"unsafe archive member {name!r}: absolute path")
        rel = PurePosixPath(name.replace("\\", "/"))
        if ".." in rel.parts:
            raise UnsafeArchiveError(f"unsafe archive member {name!r}: '..' in the path")
        if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            raise UnsafeArchiveError(f"unsafe archive member {name!r}: device or FIFO")
        if m.issym() or m.islnk():
            link = m.linkname.replace("\\", "/")
            if link.startswith("/"):
                raise UnsafeArchiveError(f"unsafe archive member {name!r}: link to absolute "
                                         f"path {m.linkname!r}")
            # symlinks resolve from the member's folder, hard links from the archive root
            start = rel.parent if m.issym() else PurePosixPath(".")
            if not _inside(base, start / link):
                raise UnsafeArchiveError(f"unsafe archive member {name!r}: link {m.linkname!r} "
                                         "points outside the target folder")


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a tar archive (any compression) into ``target`` after :func:`check_members`,
    with ``tarfile``'s ``filter="data"`` where available (Python 3.11.4+)."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            check_members(members)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(target, members=members, filter="data")
            else:                                         # pragma: no cover - Python < 3.11.4
                tar.extractall(target, members=members)
    except UnsafeArchiveError:
        raise
    except getattr(tarfile, "FilterError", ()) as exc:
        raise UnsafeArchiveError(f"unsafe archive member: {exc}") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise FetchError(f"{archive} is not a readable tar(.gz) archive: {exc}") from exc


def _photo_root(folder: Path) -> Path:
    """The folder holding the class sub-folders: ``folder`` or its single sub-folder."""
    subdirs = [p for p in folder.iterdir() if p.is_dir()]
    if count_photos(folder) == 0 and len(subdirs) == 1:
        return subdirs[0]
    return folder


def _verify(root: Path, min_photos: int) -> int:
    try:
        listing = scan_photos(root)
    except (FileNotFoundError, ValueError) as exc:
        raise FetchError(f"the archive holds no usable photo folders: {exc}") from exc
    if sorted(listing.class_names) != sorted(EXPECTED_CLASSES):
        raise FetchError(f"the archive has classes {listing.class_names}, expected "
                         f"{list(EXPECTED_CLASSES)}")
    if len(listing) < min_photos:
        raise FetchError(f"the archive holds only {len(listing)} photos, expected at least "
                         f"{min_photos}")
    return len(listing)


def fetch_flowers(url: str = FLOWERS_URL, dest=None, *, force: bool = False,
                  min_photos: int = 3000, keep_archive: bool = False, progress=None,
                  timeout: float = 60.0, log=print) -> Path:
    """Download and install the flower photos as ``<dest>/flowers``.

    The TensorFlow class folders ``roses sunflowers tulips`` are renamed to the Kaggle names
    ``rose sunflower tulip`` so ``data/flowers`` looks like the book's folder (``FlowersDataset``
    would map them anyway). ``LICENSE.txt`` is kept at the top of ``data/flowers``.

    Parameters
    ----------
    url : str
        Archive URL (``file://`` works too).
    dest : path-like, optional
        Folder that receives ``flowers/``; default the checkout's ``data/``, or the user's data
        folder when reglab is installed from a wheel (:func:`reglab.paths.user_photo_dir`).
    force : bool
        Replace an existing ``<dest>/flowers`` that already has photos (otherwise: do nothing).
    min_photos : int
        Fewest photos the archive must hold (the TF archive has 3670).
    keep_archive : bool
        Keep ``<dest>/flower_photos.tgz`` after extracting.
    progress : bool, optional
        tqdm byte bar; default only if stderr is a terminal.
    log : callable
        Receives one-line status messages.

    Returns
    -------
    Path
        ``<dest>/flowers``.

    Raises
    ------
    FetchError
        Download, verification or extraction failed; nothing is left at ``<dest>/flowers``
        (an existing folder is only replaced after the new one is complete).
    """
    if dest is None:
        root = project_root()
        dest = root / "data" if root is not None else user_photo_dir().parent
    dest = Path(dest).expanduser().resolve()
    target = dest / "flowers"
    if target.exists() and not force:
        n = count_photos(target) if target.is_dir() else 0
        if n:
            log(f"{target} already has {n} photos; nothing to do (use --force to download "
                "again)")
            return target
        if not target.is_dir() or any(target.iterdir()):
            raise FetchError(f"{target} exists and is not an empty photo folder; move it away "
                             "or use --force to replace it")
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "flower_photos.tgz"
    log(f"downloading {url}")
    download(url, archive, progress=progress, timeout=timeout)
    tmp = Path(tempfile.mkdtemp(dir=dest, prefix=".flowers-extract-"))
    try:
        safe_extract(archive, tmp)
        root = _photo_root(tmp)
        for tf_name, name in TF_CLASS_NAMES.items():
            if (root / tf_name).is_dir() and not (root / name).exists():
                (root / tf_name).rename(root / name)
        n = _verify(root, min_photos)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=dest, prefix=".flowers-old-")) / "flowers"
            target.rename(old)
        try:
            root.rename(target)
        except OSError as exc:
            if old is not None:
                old.rename(target)
            raise FetchError(f"could not move the photos into {target}: {exc}") from exc
        if old is not None:
            shutil.rmtree(old.parent, ignore_errors=True)
    except BaseException:
        archive.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not keep_archive:
        archive.unlink(missing_ok=True)
    log(f"{n} photos installed in {target}")
    return target
