"""Finding, decoding and caching the flower photos.

The photo folder holds one sub-folder per class (``<root>/<class>/*.jpg``). This module finds that
folder, lists the photos in a fixed order, decodes and resizes them to uint8 arrays (in parallel
for large folders) and caches the result as a plain ``.npz`` in the user's cache folder, never
beside the photos.

Load order is the book's: classes sorted by name, files sorted by name inside each class.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..fileio import atomic_path
from ..paths import project_root

__all__ = [
    "IMAGE_EXTENSIONS", "TF_CLASS_NAMES", "RESAMPLE_NAMES", "CACHE_FORMAT_VERSION",
    "PhotoDecodeWarning", "CacheWarning", "PhotoFolder", "LoadedPhotos",
    "project_root", "resolve_photo_dir", "scan_photos", "count_photos", "default_cache_dir",
    "cache_key", "decode_files", "load_photos",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})
#: TensorFlow ``flower_photos`` folder names -> Kaggle "Flowers Recognition" names.
TF_CLASS_NAMES = {"roses": "rose", "sunflowers": "sunflower", "tulips": "tulip"}
RESAMPLE_NAMES = ("bicubic", "nearest")
#: Bump when the cached content or its meaning changes (invalidates every old cache file).
CACHE_FORMAT_VERSION = 1
#: Folders with more photos than this are decoded by a process pool.
PARALLEL_THRESHOLD = 200

FETCH_HINT = (
    "Get the photos with one of:\n"
    "  * python -m reglab data fetch   (downloads the TensorFlow 'flower_photos' archive "
    "into data/flowers)\n"
    "  * download Kaggle \"Flowers Recognition\" and unzip it so that "
    "data/flowers/<class>/*.jpg holds the photos\n"
    "  * set FLOWERS_DIR=/path/to/flowers (any folder with one sub-folder per class)"
)


class PhotoDecodeWarning(UserWarning):
    """A photo could not be decoded by Pillow and was skipped."""


class CacheWarning(UserWarning):
    """The image cache could not be read or written (the photos are decoded instead)."""


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
    else ``data/flowers`` under the project root. An explicit ``path`` or ``$FLOWERS_DIR`` is
    used as is (no fallback); of the two defaults the first one holding photos wins.

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
    sizes, mtimes : list of int, shape (N,)
        File size in bytes and modification time in ns (the cache key uses them).
    """

    root: Path
    class_names: list
    files: list
    labels: np.ndarray
    sizes: list = field(repr=False)
    mtimes: list = field(repr=False)

    def __len__(self) -> int:
        return len(self.files)


def _is_image(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _class_dirs(root: Path):
    """Yield ``(folder_name, [(file_name, stat), ...])`` for sub-folders holding images."""
    with os.scandir(root) as it:
        subdirs = sorted(e.name for e in it if not e.name.startswith(".") and e.is_dir())
    for name in subdirs:
        with os.scandir(root / name) as it:
            photos = sorted((e.name, e.stat()) for e in it if _is_image(e.name) and e.is_file())
        if photos:
            yield name, photos


def count_photos(root: str | os.PathLike) -> int:
    """Number of image files in the class sub-folders of ``root``."""
    return sum(len(photos) for _, photos in _class_dirs(Path(root)))


def scan_photos(root: str | os.PathLike) -> PhotoFolder:
    """List the photos of ``root`` in load order.

    Hidden entries (starting with '.'), plain files at top level, non-image files and sub-folders
    without images are ignored.

    Raises
    ------
    FileNotFoundError
        If ``root`` has no photos.
    ValueError
        If two folders map to the same class name (e.g. ``rose`` and ``roses``).
    """
    root = Path(root)
    groups = {}
    for name, photos in _class_dirs(root):
        cls = TF_CLASS_NAMES.get(name, name)
        if cls in groups:
            raise ValueError(f"folders {groups[cls][0]!r} and {name!r} in {root} both give "
                             f"class {cls!r}; keep only one of them")
        groups[cls] = (name, photos)
    if not groups:
        raise FileNotFoundError(f"No class sub-folder with images in {root}.\n{FETCH_HINT}")
    class_names = sorted(groups)
    files, labels, sizes, mtimes = [], [], [], []
    for label, cls in enumerate(class_names):
        folder, photos = groups[cls]
        for fname, st in photos:
            files.append(f"{folder}/{fname}")
            labels.append(label)
            sizes.append(st.st_size)
            mtimes.append(st.st_mtime_ns)
    return PhotoFolder(root, class_names, files, np.asarray(labels, np.int64), sizes, mtimes)


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------
def _resample_code(resample: str) -> int:
    from PIL import Image
    codes = {"bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST}
    if resample not in codes:
        raise ValueError(f"resample must be one of {list(RESAMPLE_NAMES)}, got {resample!r}")
    return int(codes[resample])


def _decode_chunk(paths, size_hw, resample_code):
    """Decode ``paths`` into a uint8 array (n, H, W, 3); return it and [(i, reason), ...]."""
    from PIL import Image
    h, w = size_hw
    out = np.zeros((len(paths), h, w, 3), np.uint8)
    failures = []
    for i, p in enumerate(paths):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")      # e.g. Pillow's palette-transparency note
                with Image.open(p) as img:
                    rgb = img.convert("RGB")
            out[i] = np.asarray(rgb.resize((w, h), resample_code), np.uint8)
        except Exception as exc:                     # anything Pillow raises: skip the photo
            failures.append((i, f"{type(exc).__name__}: {exc}"))
    return out, failures


def _pool_context():
    # fork needs no importable __main__ (scripts and notebooks without a main guard work)
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return None


def decode_files(paths, resolution, resample="bicubic", *, workers=None, progress=None,
                 parallel_threshold=PARALLEL_THRESHOLD):
    """Decode photos, convert them to RGB and stretch them to ``resolution``.

    Parameters
    ----------
    paths : sequence of path-like, shape (N,)
    resolution : (H, W)
    resample : {'bicubic', 'nearest'}
    workers : int, optional
        Processes to use; default ``os.cpu_count()``. With 1 worker, or at most
        ``parallel_threshold`` files, decoding runs in this process.
    progress : bool, optional
        Show a tqdm bar; default only when stderr is a terminal.

    Returns
    -------
    images : ndarray of uint8, shape (N, H, W, 3)
        Rows of undecodable photos are zero.
    failures : list of (int, str)
        Index into ``paths`` and reason for every photo Pillow could not decode.
    """
    from tqdm import tqdm
    code = _resample_code(resample)
    h, w = int(resolution[0]), int(resolution[1])
    paths = [str(p) for p in paths]
    n = len(paths)
    if progress is None:
        progress = sys.stderr.isatty()
    workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    bar = tqdm(total=n, unit="img", desc="decoding photos", disable=not progress, leave=False)
    try:
        if workers > 1 and n > parallel_threshold:
            try:
                return _decode_parallel(paths, (h, w), code, workers, bar)
            except Exception as exc:     # no processes allowed, broken pool, ...: fall back
                warnings.warn(f"parallel decoding failed ({type(exc).__name__}: {exc}); "
                              "decoding in one process", RuntimeWarning, stacklevel=2)
                bar.reset()
        out = np.zeros((n, h, w, 3), np.uint8)
        failures = []
        step = 64
        for s in range(0, n, step):
            arr, fails = _decode_chunk(paths[s:s + step], (h, w), code)
            out[s:s + len(arr)] = arr
            failures += [(s + i, why) for i, why in fails]
            bar.update(len(arr))
        return out, failures
    finally:
        bar.close()


def _decode_parallel(paths, size_hw, code, workers, bar):
    n = len(paths)
    out = np.zeros((n, *size_hw, 3), np.uint8)
    failures = []
    chunk = max(16, math.ceil(n / (workers * 8)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        futures = {pool.submit(_decode_chunk, paths[s:s + chunk], size_hw, code): s
                   for s in range(0, n, chunk)}
        for fut in as_completed(futures):
            s = futures[fut]
            arr, fails = fut.result()
            out[s:s + len(arr)] = arr
            failures += [(s + i, why) for i, why in fails]
            bar.update(len(arr))
    failures.sort()
    return out, failures


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """``$REGLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/reglab``, else ``~/.cache/reglab``."""
    if os.environ.get("REGLAB_CACHE_DIR"):
        return Path(os.environ["REGLAB_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "reglab"
    return Path.home() / ".cache" / "reglab"


def cache_key(folder: PhotoFolder, indices, resolution, resample) -> str:
    """SHA-256 over the format version, resolution, resample and (path, class, size, mtime_ns)
    of every selected file."""
    h = hashlib.sha256()
    h.update(f"reglab-flowers v{CACHE_FORMAT_VERSION}\n{resolution[0]}x{resolution[1]}\n"
             f"{resample}\n".encode())
    for i in indices:
        cls = folder.class_names[folder.labels[i]]
        h.update(f"{folder.files[i]}\t{cls}\t{folder.sizes[i]}\t{folder.mtimes[i]}\n".encode())
    return h.hexdigest()


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
        Relative path and reason of every photo that could not be decoded.
    cache_file : Path or None
    from_cache : bool
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list
    files: list
    skipped: list
    cache_file: Path | None
    from_cache: bool


def _cache_path(cache_dir: Path, folder: PhotoFolder, resolution, resample, tag, key) -> Path:
    root_id = hashlib.sha256(str(folder.root.resolve()).encode()).hexdigest()[:8]
    return cache_dir / (f"flowers-{root_id}-{resolution[0]}x{resolution[1]}-{resample}-{tag}-"
                        f"{key[:24]}.npz")


def _read_cache(file: Path, key: str, resolution):
    """Return the cached arrays, or None (with a warning) if the file is unusable."""
    try:
        with np.load(file, allow_pickle=False) as z:
            data = {k: z[k] for k in ("key", "images", "labels", "class_names", "files",
                                      "skipped_files", "skipped_reasons")}
        n = len(data["files"])
        if (str(data["key"]) != key or data["images"].dtype != np.uint8
                or data["images"].shape != (n, *resolution, 3) or data["labels"].shape != (n,)):
            raise ValueError("content does not match its key")
        return data
    except Exception as exc:
        warnings.warn(f"image cache {file} is unreadable ({type(exc).__name__}: {exc}); "
                      "it is discarded and rebuilt", CacheWarning, stacklevel=3)
        try:
            file.unlink()
        except OSError:
            pass
        return None


def _write_cache(file: Path, key: str, photos: LoadedPhotos) -> bool:
    """Write atomically (:func:`reglab.fileio.atomic_path`); drop stale siblings."""
    try:
        with atomic_path(file) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, key=np.array(key), images=photos.images, labels=photos.labels,
                         class_names=np.array(photos.class_names, dtype=str),
                         files=np.array(photos.files, dtype=str),
                         skipped_files=np.array([s[0] for s in photos.skipped], dtype=str),
                         skipped_reasons=np.array([s[1] for s in photos.skipped], dtype=str))
    except OSError as exc:
        warnings.warn(f"could not write image cache {file} ({exc}); continuing without it",
                      CacheWarning, stacklevel=3)
        return False
    prefix = file.name[: file.name.rindex("-") + 1]
    for old in file.parent.glob(prefix + "*.npz"):
        if old != file:
            try:
                old.unlink()
            except OSError:
                pass
    return True


def _warn_skipped(skipped, from_cache):
    note = " (noted in the cache)" if from_cache else ""
    for rel, why in skipped:
        warnings.warn(f"could not decode photo {rel} ({why}); it is skipped{note}",
                      PhotoDecodeWarning, stacklevel=4)


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
        it exists; otherwise only the subset is decoded (and cached on its own).
    cache_dir : path-like, None or False
        None: :func:`default_cache_dir`. False: no cache.
    progress : bool, optional
    workers : int, optional

    Returns
    -------
    LoadedPhotos
        Undecodable photos are left out (a :class:`PhotoDecodeWarning` names each one).
    """
    resolution = (int(resolution[0]), int(resolution[1]))
    _resample_code(resample)
    all_idx = np.arange(len(folder))
    use_cache = cache_dir is not False
    if use_cache:
        cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
        _check_cache_dir(cache_dir, folder.root)

    def from_cached(data, file, keep):
        files = [str(f) for f in data["files"]]
        skipped = list(zip(data["skipped_files"].tolist(), data["skipped_reasons"].tolist()))
        images, labels = data["images"], data["labels"].astype(np.int64)
        if keep is not None:
            pos = {f: i for i, f in enumerate(files)}
            wanted = {folder.files[i] for i in keep}
            rows = np.array([pos[folder.files[i]] for i in keep if folder.files[i] in pos],
                            dtype=np.int64)
            images, labels = images[rows], labels[rows]
            files = [files[r] for r in rows]
            skipped = [s for s in skipped if s[0] in wanted]
        _warn_skipped(skipped, True)
        return LoadedPhotos(images, labels, [str(c) for c in data["class_names"]], files,
                            skipped, file, True)

    if use_cache:
        full_key = cache_key(folder, all_idx, resolution, resample)
        full_file = _cache_path(cache_dir, folder, resolution, resample, "all", full_key)
        if full_file.is_file():
            data = _read_cache(full_file, full_key, resolution)
            if data is not None:
                return from_cached(data, full_file, subset)
    idx = all_idx if subset is None else np.asarray(subset, dtype=np.int64)
    file = key = None
    if use_cache and subset is not None:
        key = cache_key(folder, idx, resolution, resample)
        file = _cache_path(cache_dir, folder, resolution, resample, f"sub{len(idx)}", key)
        if file.is_file():
            data = _read_cache(file, key, resolution)
            if data is not None:
                return from_cached(data, file, None)
    elif use_cache:
        key, file = full_key, full_file

    paths = [folder.root / folder.files[i] for i in idx]
    images, failures = decode_files(paths, resolution, resample, workers=workers,
                                    progress=progress)
    bad = {i for i, _ in failures}
    good = np.array([i for i in range(len(idx)) if i not in bad], dtype=np.int64)
    if bad:
        images = images[good]
    photos = LoadedPhotos(images, folder.labels[idx[good]], list(folder.class_names),
                          [folder.files[idx[i]] for i in good],
                          [(folder.files[idx[i]], why) for i, why in failures], None, False)
    if use_cache and _write_cache(file, key, photos):
        photos.cache_file = file
    _warn_skipped(photos.skipped, False)
    return photos
