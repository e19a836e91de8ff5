"""Finding, listing and loading the flower photos.

The photo folder holds one sub-folder per class (``<root>/<class>/*.jpg``). This module finds that
folder, lists the photos in a fixed order and loads them as uint8 arrays: decoded and resized by
:mod:`reglab.data.decode` (in parallel for large folders), kept in the cache of
:mod:`reglab.data.cache` (the user's cache folder, never beside the photos).

Load order is the book's: classes sorted by name, files sorted by name inside each class. A photo
that cannot be read (a symlink loop, a broken link, no permission) or decoded is skipped with a
:class:`PhotoDecodeWarning` naming it; the other photos load.
"""

from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..paths import project_root, user_photo_dir
from .cache import (CACHE_FORMAT_VERSION, CacheWarning, cache_key, cache_path, default_cache_dir,
                    read_cache, write_cache)
from .decode import RESAMPLE_NAMES, decode_files, resample_code

__all__ = [
    "IMAGE_EXTENSIONS", "TF_CLASS_NAMES", "BOOK_CLASSES", "RESAMPLE_NAMES", "CACHE_FORMAT_VERSION",
    "PhotoDecodeWarning", "CacheWarning", "PhotoFolder", "LoadedPhotos",
    "project_root", "resolve_photo_dir", "scan_photos", "count_photos", "default_cache_dir",
    "cache_key", "decode_files", "load_photos",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})
#: TensorFlow ``flower_photos`` folder names -> Kaggle "Flowers Recognition" names.
TF_CLASS_NAMES = {"roses": "rose", "sunflowers": "sunflower", "tulips": "tulip"}
#: The book's five classes (Kaggle names, sorted = label order).
BOOK_CLASSES = ("daisy", "dandelion", "rose", "sunflower", "tulip")

FETCH_HINT = (
    "Get the photos with one of:\n"
    "  * python -m reglab data fetch   (downloads the TensorFlow 'flower_photos' archive "
    "into the checkout's data/flowers, or the user data folder outside a checkout)\n"
    "  * download Kaggle \"Flowers Recognition\" and unzip it so that "
    "data/flowers/<class>/*.jpg holds the photos\n"
    "  * set FLOWERS_DIR=/path/to/flowers (any folder with one sub-folder per class)"
)


class PhotoDecodeWarning(UserWarning):
    """A photo could not be read or decoded and was skipped."""


# --------------------------------------------------------------------------------------------
# Finding the folder
# --------------------------------------------------------------------------------------------
def _has_photos(folder: Path) -> bool:
    try:
        return count_photos(folder) > 0
    except OSError:
        return False


def resolve_photo_dir(path: str | os.PathLike | None = None) -> Path:
    """Find the photo folder.

    Order: ``path``; else ``$FLOWERS_DIR``; else ``data/flowers`` under the current directory;
    else ``data/flowers`` under the project root (in a checkout); else ``flowers`` in the user's
    data folder (:func:`reglab.paths.user_photo_dir`, where ``reglab data fetch`` puts the photos
    outside a checkout). An explicit ``path`` or ``$FLOWERS_DIR`` is used as is (no fallback); of
    the defaults the first one holding photos wins.

    Returns
    -------
    Path
        The resolved folder.

    Raises
    ------
    FileNotFoundError
        When no candidate holds photos. The message lists every place looked at and how to get
        the photos.
    """
    if path is not None:
        candidates = [(Path(path), "path argument")]
    elif os.environ.get("FLOWERS_DIR"):
        candidates = [(Path(os.environ["FLOWERS_DIR"]), "$FLOWERS_DIR")]
    else:
        candidates = [(Path.cwd() / "data" / "flowers", "current directory")]
        root = project_root()
        if root is not None and (root / "data" / "flowers").resolve() != candidates[0][0].resolve():
            candidates.append((root / "data" / "flowers", "project root"))
        candidates.append((user_photo_dir(), "user data folder"))
    looked = []
    for folder, origin in candidates:
        folder = folder.expanduser()
        if not folder.exists():
            state = "does not exist"
        elif not folder.is_dir():
            state = "is not a folder"
        elif not _has_photos(folder):
            state = "exists, but has no class sub-folder with images"
        else:
            return folder.resolve()
        looked.append(f"  - {folder} ({origin}: {state})")
    raise FileNotFoundError(
        "No flower photos found. Looked in:\n" + "\n".join(looked) + "\n" + FETCH_HINT)


@dataclass
class PhotoFolder:
    """The listing of a photo folder (no pixels).

    Attributes
    ----------
    root : Path
    class_names : list of str, shape (C,)
        Sorted class names (TF names mapped to Kaggle names).
    files : list of str, shape (N,)
        Relative POSIX paths ``<folder>/<file>`` in load order.
    labels : ndarray of int64, shape (N,)
    sizes, mtimes, ctimes : list of int, shape (N,)
        File size in bytes, modification and status-change times in ns (the cache uses them).
    unreadable : list of (str, str)
        Image files and class folders that could not even be listed (symlink loops, broken
        links, no permission): relative path and reason. They are not in ``files``.
    """

    root: Path
    class_names: list
    files: list
    labels: np.ndarray
    sizes: list = field(repr=False)
    mtimes: list = field(repr=False)
    ctimes: list = field(default=None, repr=False)
    unreadable: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.files)


def _is_image(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _why(exc: OSError, entry) -> str:
    reason = exc.strerror or type(exc).__name__
    try:
        link = entry.is_symlink()
    except OSError:
        link = False
    if link and isinstance(exc, FileNotFoundError):
        return f"broken link ({reason})"
    return f"unreadable ({reason})"


def _list_folder(root: Path):
    """``([(folder_name, [(file_name, stat), ...]), ...], [(relative path, reason), ...])``:
    the sub-folders holding images, and the entries that could not be read."""
    groups, unreadable = [], []
    with os.scandir(root) as it:
        entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    for entry in entries:
        try:
            if not entry.is_dir():
                continue
            with os.scandir(entry.path) as it:
                names = sorted((e for e in it if _is_image(e.name)), key=lambda e: e.name)
        except OSError as exc:          # a looping link or a folder without permission
            unreadable.append((f"{entry.name}/", _why(exc, entry)))
            continue
        photos = []
        for e in names:
            try:
                st = e.stat()           # follows links: loops and broken links raise here
            except OSError as exc:
                unreadable.append((f"{entry.name}/{e.name}", _why(exc, e)))
                continue
            if stat.S_ISREG(st.st_mode):
                photos.append((e.name, st))
        if photos:
            groups.append((entry.name, photos))
    return groups, unreadable


def count_photos(root: str | os.PathLike) -> int:
    """Number of readable image files in the class sub-folders of ``root``."""
    return sum(len(photos) for _, photos in _list_folder(Path(root))[0])


def scan_photos(root: str | os.PathLike) -> PhotoFolder:
    """List the photos of ``root`` in load order.

    Hidden entries (starting with '.'), plain files at top level, non-image files and sub-folders
    without images are ignored. Image files that cannot be listed (symlink loops, broken links)
    and class folders that cannot be opened go to ``unreadable`` (warned about when loading).

    Raises
    ------
    FileNotFoundError
        If ``root`` has no photos.
    ValueError
        If two folders map to the same class name (e.g. ``rose`` and ``roses``).
    """
    root = Path(root)
    groups = {}
    listing, unreadable = _list_folder(root)
    for name, photos in listing:
        cls = TF_CLASS_NAMES.get(name, name)
        if cls in groups:
            raise ValueError(f"folders {groups[cls][0]!r} and {name!r} in {root} both give "
                             f"class {cls!r}; keep only one of them")
        groups[cls] = (name, photos)
    if not groups:
        raise FileNotFoundError(f"No class sub-folder with images in {root}.\n{FETCH_HINT}")
    class_names = sorted(groups)
    files, labels, sizes, mtimes, ctimes = [], [], [], [], []
    for label, cls in enumerate(class_names):
        folder, photos = groups[cls]
        for fname, st in photos:
            files.append(f"{folder}/{fname}")
            labels.append(label)
            sizes.append(st.st_size)
            mtimes.append(st.st_mtime_ns)
            ctimes.append(st.st_ctime_ns)
    return PhotoFolder(root, class_names, files, np.asarray(labels, np.int64), sizes, mtimes,
                       ctimes, unreadable)


# --------------------------------------------------------------------------------------------
# Loading (decoded or cached)
# --------------------------------------------------------------------------------------------
@dataclass
class LoadedPhotos:
    """Decoded photos and where they came from.

    Attributes
    ----------
    images : ndarray of uint8, shape (n, H, W, 3)
    labels : ndarray of int64, shape (n,)
    class_names : list of str
    files : list of str, shape (n,)
        Relative paths of the decoded photos, in load order.
    skipped : list of (str, str)
        Relative path and reason of every photo that could not be listed, read or decoded.
    cache_file : Path or None
    from_cache : bool
    pixel_digests : ndarray of uint8, shape (n, 16)
        SHA-256 prefix of each image's pixels (``images[i]``), computed when it was decoded.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list
    files: list
    skipped: list
    cache_file: Path | None
    from_cache: bool
    pixel_digests: np.ndarray = field(default=None, repr=False)


def _warn_skipped(skipped, noted=()):
    for rel, why in skipped:
        note = " (noted in the cache)" if rel in noted else ""
        warnings.warn(f"photo {rel} is skipped: {why}{note}", PhotoDecodeWarning, stacklevel=4)


def _check_cache_dir(cache_dir: Path, root: Path) -> None:
    cache_dir, root = cache_dir.resolve(), root.resolve()
    if cache_dir == root or root in cache_dir.parents:
        raise ValueError(f"cache_dir {cache_dir} is inside the photo folder {root}; the cache "
                         "is never written beside the photos")


def load_photos(folder: PhotoFolder, resolution, resample="bicubic", *, subset=None,
                cache_dir=None, progress=None, workers=None) -> LoadedPhotos:
    """Decode (or load from cache) the photos of ``folder``.

    Parameters
    ----------
    folder : PhotoFolder
    resolution : (H, W)
    resample : {'bicubic', 'nearest'}
    subset : array of int, optional
        Sorted indices into ``folder.files`` to keep. A cache of the whole folder is used when
        it is valid; otherwise only the subset is decoded (and cached on its own).
    cache_dir : path-like, None or False
        None: :func:`reglab.data.cache.default_cache_dir`. False: no cache.
    progress : bool, optional
    workers : int, optional

    Returns
    -------
    LoadedPhotos
        Photos that could not be listed, read or decoded are left out (a
        :class:`PhotoDecodeWarning` names each one).
    """
    resolution = (int(resolution[0]), int(resolution[1]))
    resample_code(resample)                 # checks the name
    all_idx = np.arange(len(folder))
    ctimes = folder.ctimes if folder.ctimes is not None else [0] * len(folder)
    use_cache = cache_dir is not False
    if use_cache:
        cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
        _check_cache_dir(cache_dir, folder.root)

    def cached(idx, tag):
        key = cache_key(folder, idx, resolution, resample)
        file = cache_path(cache_dir, folder, resolution, resample, tag, key)
        data = None
        if file.is_file():
            data = read_cache(file, key, resolution, folder.root,
                              [folder.files[i] for i in idx], [ctimes[i] for i in idx])
            if data is not None and data.pop("refreshed"):
                write_cache(file, key, data)        # same photos, new ctimes: store them
        return key, file, data

    def from_cached(data, file, keep):
        files = [str(f) for f in data["files"]]
        skipped = list(zip(data["skipped_files"].tolist(), data["skipped_reasons"].tolist()))
        images, labels = data["images"], data["labels"].astype(np.int64)
        digests = data["pixel_digests"]
        if keep is not None:
            pos = {f: i for i, f in enumerate(files)}
            wanted = {folder.files[i] for i in keep}
            rows = np.array([pos[folder.files[i]] for i in keep if folder.files[i] in pos],
                            dtype=np.int64)
            images, labels, digests = images[rows], labels[rows], digests[rows]
            files = [files[r] for r in rows]
            skipped = [s for s in skipped if s[0] in wanted]
        _warn_skipped(folder.unreadable + skipped, noted={s[0] for s in skipped})
        return LoadedPhotos(images, labels, [str(c) for c in data["class_names"]], files,
                            folder.unreadable + skipped, file, True, digests)

    if use_cache:
        full_key, full_file, data = cached(all_idx, "all")
        if data is not None:
            return from_cached(data, full_file, subset)
    idx = all_idx if subset is None else np.asarray(subset, dtype=np.int64)
    file = key = None
    if use_cache and subset is not None:
        key, file, data = cached(idx, f"sub{len(idx)}")
        if data is not None:
            return from_cached(data, file, None)
    elif use_cache:
        key, file = full_key, full_file

    paths = [folder.root / folder.files[i] for i in idx]
    images, failures, file_digests, pixel_digests = decode_files(
        paths, resolution, resample, workers=workers, progress=progress, digests=True)
    bad = {i for i, _ in failures}
    good = np.array([i for i in range(len(idx)) if i not in bad], dtype=np.int64)
    if bad:
        images, pixel_digests = images[good], pixel_digests[good]
    skipped = [(folder.files[idx[i]], why) for i, why in failures]
    photos = LoadedPhotos(images, folder.labels[idx[good]], list(folder.class_names),
                          [folder.files[idx[i]] for i in good], folder.unreadable + skipped,
                          None, False, pixel_digests)
    if use_cache:
        arrays = dict(images=images, labels=photos.labels,
                      class_names=np.array(photos.class_names, dtype=str),
                      files=np.array(photos.files, dtype=str),
                      skipped_files=np.array([s[0] for s in skipped], dtype=str),
                      skipped_reasons=np.array([s[1] for s in skipped], dtype=str),
                      ctimes=np.array([ctimes[i] for i in idx], dtype=np.int64),
                      file_digests=file_digests, pixel_digests=pixel_digests)
        if write_cache(file, key, arrays):
            photos.cache_file = file
    _warn_skipped(photos.skipped)
    return photos
