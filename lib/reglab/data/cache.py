"""The uint8 image cache: one plain ``.npz`` per photo folder, resolution and resample.

A cache file is named after its key (:func:`cache_key`: the format version, the resolution,
the resample and the relative path, class, size and modification time of every photo it
holds) and stores, besides the decoded pixels, each photo's status-change time (``st_ctime_ns``)
and a SHA-256 of its bytes. Reading it checks the key, then each photo's ctime: the kernel
sets the ctime on every write, rename or ``utime`` call, so a photo whose bytes were rewritten
with the same size and an mtime set back has a new ctime. A photo whose ctime moved is hashed
again; same bytes (a ``chmod``, a touch set back) keep the cache, other bytes rebuild it. An
unchanged folder is thus validated without reading a single photo.

Caches go to the user's cache folder, never beside the photos, and are written atomically.
Nothing in them is ever unpickled (``allow_pickle=False``); a file that is not a cache of the
expected shape is reported in this module's own words, removed and rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..fileio import atomic_path

__all__ = ["CACHE_FORMAT_VERSION", "CacheWarning", "default_cache_dir", "cache_key",
           "cache_path", "file_digest", "read_cache", "write_cache", "DIGEST_BYTES"]

#: Bump when the cached content or its meaning changes (invalidates every old cache file).
CACHE_FORMAT_VERSION = 2
#: Length of the stored SHA-256 prefixes (photo bytes and decoded pixels).
DIGEST_BYTES = 16
_ARRAYS = ("key", "images", "labels", "class_names", "files", "skipped_files",
           "skipped_reasons", "ctimes", "file_digests", "pixel_digests")


class CacheWarning(UserWarning):
    """The image cache could not be read or written (the photos are decoded instead)."""


def default_cache_dir() -> Path:
    """``$REGLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/reglab``, else ``~/.cache/reglab``."""
    if os.environ.get("REGLAB_CACHE_DIR"):
        return Path(os.environ["REGLAB_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "reglab"
    return Path.home() / ".cache" / "reglab"


def cache_key(folder, indices, resolution, resample) -> str:
    """SHA-256 over the format version, resolution, resample and (path, class, size, mtime_ns)
    of every selected file of ``folder`` (a :class:`reglab.data.images.PhotoFolder`)."""
    h = hashlib.sha256()
    h.update(f"reglab-flowers v{CACHE_FORMAT_VERSION}\n{resolution[0]}x{resolution[1]}\n"
             f"{resample}\n".encode())
    for i in indices:
        cls = folder.class_names[folder.labels[i]]
        h.update(f"{folder.files[i]}\t{cls}\t{folder.sizes[i]}\t{folder.mtimes[i]}\n".encode())
    return h.hexdigest()


def cache_path(cache_dir: Path, folder, resolution, resample, tag, key) -> Path:
    """``<cache_dir>/flowers-<folder id>-<H>x<W>-<resample>-<tag>-<key prefix>.npz``."""
    root_id = hashlib.sha256(str(folder.root.resolve()).encode()).hexdigest()[:8]
    return cache_dir / (f"flowers-{root_id}-{resolution[0]}x{resolution[1]}-{resample}-{tag}-"
                        f"{key[:24]}.npz")


def file_digest(path) -> bytes | None:
    """The first :data:`DIGEST_BYTES` bytes of the SHA-256 of a file's bytes; None if the file
    cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return h.digest()[:DIGEST_BYTES]


class _Unusable(Exception):
    """Why a cache file cannot be used, in this module's words."""


def _describe(exc: Exception) -> str:
    if isinstance(exc, _Unusable):
        return str(exc)
    if isinstance(exc, (zipfile.BadZipFile, EOFError)):
        return "the archive is damaged or truncated"
    if isinstance(exc, KeyError):
        return "an array is missing"
    if isinstance(exc, ValueError):
        return "it holds something other than plain arrays (never unpickled)"
    if isinstance(exc, OSError):
        return f"it cannot be read: {exc.strerror or type(exc).__name__}"
    return f"unexpected content ({type(exc).__name__})"


def _load_arrays(file: Path, key: str, resolution) -> dict:
    with open(file, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            raise _Unusable("not an .npz archive")
    with np.load(file, allow_pickle=False) as z:
        missing = [k for k in _ARRAYS if k not in z.files]
        if missing:
            raise _Unusable(f"no array {missing[0]!r} (another format version)")
        data = {k: z[k] for k in _ARRAYS}
    n, m = len(data["files"]), len(data["ctimes"])
    if str(data["key"]) != key:
        raise _Unusable("its key does not match its name")
    if (data["images"].dtype != np.uint8 or data["images"].shape != (n, *resolution, 3)
            or data["labels"].shape != (n,) or data["pixel_digests"].shape != (n, DIGEST_BYTES)
            or m != n + len(data["skipped_files"])
            or data["file_digests"].shape != (m, DIGEST_BYTES)):
        raise _Unusable("its arrays do not fit together")
    return data


def read_cache(file: Path, key: str, resolution, root: Path, files, ctimes):
    """Return the cached arrays if they still hold the photos ``paths``, else None.

    Parameters
    ----------
    file : Path
    key : str
        :func:`cache_key` of the selection the cache must hold.
    resolution : (H, W)
    root : Path
        The photo folder.
    files : list of str, shape (M,)
        The selected photos (relative to ``root``), in the cache's order.
    ctimes : list of int, shape (M,)
        Their ``st_ctime_ns`` now.

    Returns
    -------
    dict or None
        The arrays (``ctimes`` refreshed, and ``"refreshed": True`` when some ctime moved over
        unchanged bytes, so the caller can rewrite it). None, with a :class:`CacheWarning`
        and the file removed, if the file cannot be used; None without warning if a photo's
        bytes changed.
    """
    try:
        data = _load_arrays(file, key, resolution)
        if len(files) != len(data["ctimes"]):
            raise _Unusable("it holds another number of photos")
    except Exception as exc:
        warnings.warn(f"image cache {file} cannot be used ({_describe(exc)}); it is discarded "
                      "and rebuilt", CacheWarning, stacklevel=3)
        try:
            file.unlink()
        except OSError:
            pass
        return None
    now = np.asarray(ctimes, dtype=np.int64)
    moved = np.flatnonzero(data["ctimes"] != now)
    for j in moved:
        digest = file_digest(Path(root) / files[j])
        if digest is None or digest != data["file_digests"][j].tobytes():
            return None
    data["ctimes"], data["refreshed"] = now, len(moved) > 0
    return data


def write_cache(file: Path, key: str, arrays: dict) -> bool:
    """Write ``arrays`` (the names of :data:`_ARRAYS` but ``key``) atomically
    (:func:`reglab.fileio.atomic_path`) and remove older caches of the same folder, size,
    resample and selection tag. Returns False (with a :class:`CacheWarning`) if it fails."""
    try:
        with atomic_path(file) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, key=np.array(key), **{k: arrays[k] for k in _ARRAYS if k != "key"})
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
