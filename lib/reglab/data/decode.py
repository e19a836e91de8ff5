"""Decoding the photos: reading each file once, converting it to RGB, resizing it to uint8.

Large lists are decoded by a pool of threads: Pillow's decoders and resampling and hashlib
release the GIL, so threads decode about as fast as processes (2.2-2.6 s against 2.0-2.4 s for
the 4,317 photos on 2 cores, 3.6 s in one thread), without forking a Jupyter kernel's
multi-threaded process and without the importable ``__main__`` that spawned processes need. Each
photo's bytes and decoded pixels are hashed on the way (the image cache and the dataset's
fingerprint use these digests). A photo that cannot be read or decoded
becomes a failure with a reason; it never stops the others.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np

from .cache import DIGEST_BYTES

__all__ = ["RESAMPLE_NAMES", "PARALLEL_THRESHOLD", "resample_code", "decode_files"]

RESAMPLE_NAMES = ("bicubic", "nearest")
#: Lists with more photos than this are decoded by a pool of threads.
PARALLEL_THRESHOLD = 200


def resample_code(resample: str) -> int:
    """Pillow's code of a name of :data:`RESAMPLE_NAMES` (ValueError for others)."""
    from PIL import Image
    codes = {"bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST}
    if resample not in codes:
        raise ValueError(f"resample must be one of {list(RESAMPLE_NAMES)}, got {resample!r}")
    return int(codes[resample])


def _read_photo(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _wide_gray(img, size_wh, code) -> np.ndarray:
    """A 16- or 32-bit integer gray image (modes ``I;16*`` and ``I``) as uint8 RGB, resized.

    Values are scaled by the range of their type, 0..65535 -> 0..255 (rounded, monotonic), not
    by the image's own min..max: that is what a student expects from a photo. The same picture
    saved with 8 or 16 bits gives the same array, and a dark photo stays dark, as 8-bit photos
    are never contrast-stretched either. Pillow opens some 16-bit files as mode ``I`` (32-bit),
    so an ``I`` image whose values fit 0..65535 is taken as 16-bit. Other ``I`` images (negative
    values, or beyond 16 bits) are scaled by their own min..max: the full 32-bit range would
    turn any of them into one flat gray.
    """
    wide = img if img.mode == "I" else img.convert("I")
    lo, hi = wide.getextrema()
    if img.mode.startswith("I;16") or (lo >= 0 and hi <= 65535):
        lo, hi = 0, 65535
    small = np.asarray(wide.resize(size_wh, code), dtype=np.float64)
    gray = np.clip(np.round((small - lo) * (255.0 / max(hi - lo, 1))), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def _decode_chunk(paths, size_hw, code):
    """Decode ``paths`` into a uint8 array (n, H, W, 3).

    Returns it, [(i, reason), ...] of the photos that failed, the digests of each file's bytes
    and of each decoded image (uint8, shape (n, DIGEST_BYTES); zero rows where it failed).
    """
    from PIL import Image, UnidentifiedImageError
    h, w = size_hw
    n = len(paths)
    out = np.zeros((n, h, w, 3), np.uint8)
    file_digests = np.zeros((n, DIGEST_BYTES), np.uint8)
    pixel_digests = np.zeros((n, DIGEST_BYTES), np.uint8)
    failures = []
    for i, p in enumerate(paths):
        try:
            data = _read_photo(p)
        except OSError as exc:
            failures.append((i, f"unreadable ({exc.strerror or type(exc).__name__})"))
            continue
        file_digests[i] = np.frombuffer(hashlib.sha256(data).digest()[:DIGEST_BYTES], np.uint8)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")      # e.g. Pillow's palette-transparency note
                with Image.open(io.BytesIO(data)) as img:
                    if img.mode == "I" or img.mode.startswith("I;"):
                        out[i] = _wide_gray(img, (w, h), code)
                    else:
                        out[i] = np.asarray(img.convert("RGB").resize((w, h), code),
                                            np.uint8)
        except UnidentifiedImageError:
            failures.append((i, "not decodable (not an image file Pillow recognises)"))
            continue
        except Exception as exc:                     # anything Pillow raises: skip the photo
            failures.append((i, f"not decodable ({type(exc).__name__}: {exc})"))
            continue
        pixel_digests[i] = np.frombuffer(hashlib.sha256(out[i]).digest()[:DIGEST_BYTES],
                                         np.uint8)
    return out, failures, file_digests, pixel_digests


def decode_files(paths, resolution, resample="bicubic", *, workers=None, progress=None,
                 parallel_threshold=PARALLEL_THRESHOLD, digests=False):
    """Decode photos, convert them to RGB and stretch them to ``resolution``.

    16- and 32-bit integer gray images are scaled to 8 bits (see :func:`_wide_gray`); other
    modes (gray, palette, RGBA, CMYK, ...) go through Pillow's ``convert("RGB")``.

    Parameters
    ----------
    paths : sequence of path-like, shape (N,)
    resolution : (H, W)
    resample : {'bicubic', 'nearest'}
    workers : int, optional
        Threads to use; default ``os.cpu_count()``. With 1 worker, or at most
        ``parallel_threshold`` files, decoding runs in the calling thread.
    progress : bool, optional
        Show a tqdm bar; default only when stderr is a terminal.
    digests : bool
        Also return the digests of the files' bytes and of the decoded images.

    Returns
    -------
    images : ndarray of uint8, shape (N, H, W, 3)
        Rows of undecodable photos are zero.
    failures : list of (int, str)
        Index into ``paths`` and reason for every photo that could not be read or decoded.
    file_digests, pixel_digests : ndarray of uint8, shape (N, 16)
        Only with ``digests=True``: SHA-256 prefixes of each file's bytes and of each decoded
        image's pixels (zero rows where that failed).
    """
    from tqdm import tqdm
    code = resample_code(resample)
    h, w = int(resolution[0]), int(resolution[1])
    paths = [str(p) for p in paths]
    n = len(paths)
    if progress is None:
        progress = sys.stderr.isatty()
    workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    bar = tqdm(total=n, unit="img", desc="decoding photos", disable=not progress, leave=False)
    result = None
    try:
        if workers > 1 and n > parallel_threshold:
            try:
                result = _decode_parallel(paths, (h, w), code, workers, bar)
            except Exception as exc:     # no threads allowed, ...: fall back
                warnings.warn(f"parallel decoding failed ({type(exc).__name__}: {exc}); "
                              "decoding in one thread", RuntimeWarning, stacklevel=2)
                bar.reset()
        if result is None:
            result = _decode_serial(paths, (h, w), code, bar)
    finally:
        bar.close()
    return result if digests else result[:2]


def _decode_serial(paths, size_hw, code, bar):
    n = len(paths)
    out = np.zeros((n, *size_hw, 3), np.uint8)
    fds = np.zeros((n, DIGEST_BYTES), np.uint8)
    pds = np.zeros((n, DIGEST_BYTES), np.uint8)
    failures = []
    step = 64
    for s in range(0, n, step):
        arr, fails, fd, pd = _decode_chunk(paths[s:s + step], size_hw, code)
        out[s:s + len(arr)], fds[s:s + len(arr)], pds[s:s + len(arr)] = arr, fd, pd
        failures += [(s + i, why) for i, why in fails]
        bar.update(len(arr))
    return out, failures, fds, pds


def _decode_parallel(paths, size_hw, code, workers, bar):
    n = len(paths)
    out = np.zeros((n, *size_hw, 3), np.uint8)
    fds = np.zeros((n, DIGEST_BYTES), np.uint8)
    pds = np.zeros((n, DIGEST_BYTES), np.uint8)
    failures = []
    chunk = max(16, math.ceil(n / (workers * 8)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reglab-decode") as pool:
        futures = {pool.submit(_decode_chunk, paths[s:s + chunk], size_hw, code): s
                   for s in range(0, n, chunk)}
        for fut in as_completed(futures):
            s = futures[fut]
            arr, fails, fd, pd = fut.result()
            out[s:s + len(arr)], fds[s:s + len(arr)], pds[s:s + len(arr)] = arr, fd, pd
            failures += [(s + i, why) for i, why in fails]
            bar.update(len(arr))
    failures.sort()
    return out, failures, fds, pds
