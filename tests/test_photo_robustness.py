"""Photo folders as users leave them: unreadable files, 16-bit photos, other class sets,
photos rewritten in place, damaged caches. Each folder is tiny and made in ``tmp_path``."""

from __future__ import annotations

import os
import pickle
import shutil
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from reglab.data import (BOOK_CLASSES, CacheWarning, ClassSetWarning, FlowersDataset,
                         PhotoDecodeWarning, make_synthetic_flowers)
from reglab.data import cache as cache_mod
from reglab.data import decode as decode_mod
from reglab.data import images as images_mod


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Every test gets its own empty default cache folder."""
    monkeypatch.setenv("REGLAB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _small(tmp_path, n=4, **kw):
    return make_synthetic_flowers(tmp_path / "flowers", n_per_class=n, size=(12, 12), **kw)


def _all_xs(ds):
    """The photos of every split, back in load order (n, H, W, 3)."""
    xs = np.empty((len(ds), *ds.image_shape), np.uint8)
    for idx, part in [(ds.tr_indices, ds.tr_xs), (ds.va_indices, ds.va_xs),
                      (ds.te_indices, ds.te_xs)]:
        xs[idx] = part
    return xs


def _messages(record, category):
    return [str(w.message) for w in record if issubclass(w.category, category)]


def _load(root, **kw):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ds = FlowersDataset([8, 8], [-1], path=root, **kw)
    return ds, record


# ---- 1. files that cannot be read -------------------------------------------------------------
def test_symlink_loop_is_skipped_with_a_warning(tmp_path):
    root = _small(tmp_path)
    os.symlink("b.jpg", root / "rose" / "a.jpg")
    os.symlink("a.jpg", root / "rose" / "b.jpg")
    for attempt in ("decoded", "cached"):
        ds, record = _load(root)
        msgs = _messages(record, PhotoDecodeWarning)
        assert len(msgs) == 2, msgs
        assert "rose/a.jpg" in msgs[0] and "rose/b.jpg" in msgs[1]
        assert all("symbolic links" in m for m in msgs)
        assert len(ds) == 20 and ds.from_cache == (attempt == "cached")
        assert [s[0] for s in ds.skipped] == ["rose/a.jpg", "rose/b.jpg"]


def test_broken_link_is_skipped_with_a_warning(tmp_path):
    root = _small(tmp_path)
    os.symlink("gone.jpg", root / "tulip" / "moved.jpg")
    with pytest.warns(PhotoDecodeWarning, match=r"tulip/moved\.jpg is skipped: broken link"):
        ds = FlowersDataset([8, 8], [-1], path=root)
    assert len(ds) == 20 and "tulip/moved.jpg" not in ds.files


def test_looping_class_folder_is_skipped_with_a_warning(tmp_path):
    root = _small(tmp_path)
    os.symlink("lily", root / "lily")
    with pytest.warns(PhotoDecodeWarning, match=r"lily/ is skipped: unreadable"):
        ds = FlowersDataset([8, 8], [-1], path=root)
    assert ds.target_names == list(BOOK_CLASSES) and len(ds) == 20


def test_photo_without_read_permission_is_skipped(tmp_path, monkeypatch):
    root = _small(tmp_path)
    locked = root / "daisy" / "daisy_002.jpg"
    real_read = decode_mod._read_photo

    def read(path):                  # what open() does without permission (root reads anyway)
        if os.path.samefile(path, locked):
            raise PermissionError(13, "Permission denied")
        return real_read(path)
    monkeypatch.setattr(decode_mod, "_read_photo", read)
    with pytest.warns(PhotoDecodeWarning, match=r"daisy/daisy_002\.jpg is skipped: unreadable "
                                                r"\(Permission denied\)"):
        ds = FlowersDataset([8, 8], [-1], path=root)
    assert len(ds) == 19 and "daisy/daisy_002.jpg" not in ds.files


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs a POSIX user that file permissions apply to")
def test_photo_with_mode_000_is_skipped(tmp_path):
    root = _small(tmp_path)
    locked = root / "daisy" / "daisy_002.jpg"
    locked.chmod(0)
    try:
        with pytest.warns(PhotoDecodeWarning, match=r"daisy/daisy_002\.jpg.*Permission denied"):
            ds = FlowersDataset([8, 8], [-1], path=root)
        assert len(ds) == 19
    finally:
        locked.chmod(0o644)
    ds = FlowersDataset([8, 8], [-1], path=root)          # readable again: decoded again
    assert len(ds) == 20 and not ds.from_cache


def test_image_too_large_for_pillow_is_skipped(tmp_path, monkeypatch):
    root = _small(tmp_path)
    Image.new("RGB", (64, 64), (9, 9, 9)).save(root / "rose" / "poster.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)      # 64*64 > 2 * 1000
    with pytest.warns(PhotoDecodeWarning, match=r"rose/poster\.png is skipped: not decodable "
                                                r"\(DecompressionBombError"):
        ds = FlowersDataset([8, 8], [-1], path=root)
    assert len(ds) == 20 and ds.skipped[0][0] == "rose/poster.png"


# ---- 2. 16- and 32-bit gray photos ------------------------------------------------------------
def _ramp_file(path, values, fmt):
    Image.fromarray(np.repeat(values[None, :], 2, axis=0)).save(path, format=fmt)
    return path


def test_16bit_gray_png_ramp_spans_0_to_255(tmp_path):
    ramp = (np.arange(256) * 257).astype(np.uint16)          # 0 .. 65535
    png = _ramp_file(tmp_path / "ramp16.png", ramp, "PNG")
    with Image.open(png) as img:
        assert img.mode == "I;16"
    exact, fails = images_mod.decode_files([png], (2, 256), "nearest", workers=1)
    assert fails == []
    np.testing.assert_array_equal(exact[0, 0, :, 0], np.arange(256))
    assert (exact[0] == exact[0, :, :, :1]).all()           # gray in R, G and B
    small, _ = images_mod.decode_files([png], (2, 64), "bicubic", workers=1)
    row = small[0, 0, :, 0].astype(int)
    assert (np.diff(row) >= 0).all() and row[0] <= 3 and row[-1] >= 252


def test_32bit_int_images(tmp_path):
    ramp = (np.arange(256) * 257).astype(np.int32)          # fits 16 bits: read as 16-bit
    tif16 = _ramp_file(tmp_path / "ramp_i.tif", ramp, "TIFF")
    wide = np.linspace(-50_000, 3_000_000, 256).astype(np.int32)   # scaled by its own range
    tif32 = _ramp_file(tmp_path / "wide_i.tif", wide, "TIFF")
    dark = np.full(256, 1000, np.int32)                    # dark stays dark
    tifdark = _ramp_file(tmp_path / "dark_i.tif", dark, "TIFF")
    with Image.open(tif32) as img:
        assert img.mode == "I"
    out, fails = images_mod.decode_files([tif16, tif32, tifdark], (2, 256), "nearest",
                                         workers=1)
    assert fails == []
    np.testing.assert_array_equal(out[0, 0, :, 0], np.arange(256))
    row = out[1, 0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and (np.diff(row) >= 0).all()
    assert (out[2] == 4).all()                             # 1000 / 65535 * 255


def test_16bit_photo_in_a_folder_is_not_white(tmp_path):
    root = _small(tmp_path)
    ramp = (np.arange(64) * 1040).astype(np.uint16)
    Image.fromarray(np.tile(ramp, (64, 1))).save(root / "daisy" / "scan16.png")
    ds = FlowersDataset([8, 8], [-1], path=root, tr_ratio=1.0, va_ratio=0.0)
    img = _all_xs(ds)[ds.files.index("daisy/scan16.png")]
    assert img.mean() < 160 and img[:, 0].max() < 40 and img[:, -1].min() > 200


# ---- 3. another class set ---------------------------------------------------------------------
def test_sixth_class_is_accepted_with_one_warning(tmp_path):
    root = _small(tmp_path, n=3, classes=BOOK_CLASSES + ("lily",))
    for attempt in range(2):                                # decoded, then cached
        ds, record = _load(root)
        msgs = _messages(record, ClassSetWarning)
        assert len(msgs) == 1, msgs
        assert "'lily'" in msgs[0] and "6 classes" in msgs[0] and "book's five" in msgs[0]
        assert ds.target_names == sorted(BOOK_CLASSES + ("lily",)) and ds.class_count == 6


def test_book_classes_give_no_class_warning(tmp_path):
    tf = _small(tmp_path, n=3, classes=("daisy", "dandelion", "roses", "sunflowers", "tulips"))
    ds, record = _load(tf)
    assert _messages(record, ClassSetWarning) == [] and ds.target_names == list(BOOK_CLASSES)


def test_missing_class_warns(tmp_path):
    root = _small(tmp_path, n=4, classes=BOOK_CLASSES[:4])
    with pytest.warns(ClassSetWarning, match=r"4 classes .*expected 5"):
        FlowersDataset([8, 8], [-1], path=root)


# ---- 4. photos rewritten with the same size and mtime -----------------------------------------
def _bmp_folder(tmp_path, n=4):
    """Uncompressed photos: new pixels keep the byte size."""
    rng = np.random.default_rng(0)
    root = tmp_path / "bmp"
    for cls in BOOK_CLASSES:
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(
                root / cls / f"{cls}_{i}.bmp")
    return root


def _rewrite_same_size_and_mtime(photo, pixels):
    st = photo.stat()
    time.sleep(0.02)                         # a later status-change time than the cached one
    Image.fromarray(pixels).save(photo, format="BMP")
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = photo.stat()
    assert (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_same_size_same_mtime_rewrite_is_seen(tmp_path):
    root = _bmp_folder(tmp_path)
    first = FlowersDataset([8, 8], [-1], path=root, resample="nearest")
    photo = root / "rose" / "rose_1.bmp"
    new = np.full((8, 8, 3), 7, np.uint8)
    _rewrite_same_size_and_mtime(photo, new)
    second = FlowersDataset([8, 8], [-1], path=root, resample="nearest")
    assert not second.from_cache
    np.testing.assert_array_equal(_all_xs(second)[second.files.index("rose/rose_1.bmp")], new)
    assert second.fingerprint != first.fingerprint
    third = FlowersDataset([8, 8], [-1], path=root, resample="nearest")
    assert third.from_cache and third.fingerprint == second.fingerprint
    np.testing.assert_array_equal(_all_xs(third), _all_xs(second))


def test_same_size_same_mtime_rewrite_seen_through_the_full_cache(tmp_path):
    root = _bmp_folder(tmp_path, n=8)
    FlowersDataset([8, 8], [-1], path=root, resample="nearest")               # full cache
    sub = FlowersDataset([8, 8], [-1], path=root, resample="nearest", max_samples=20)
    assert sub.from_cache
    photo = root / sub.files[3]
    new = np.full((8, 8, 3), 200, np.uint8)
    _rewrite_same_size_and_mtime(photo, new)
    again = FlowersDataset([8, 8], [-1], path=root, resample="nearest", max_samples=20)
    assert not again.from_cache and again.fingerprint != sub.fingerprint
    np.testing.assert_array_equal(_all_xs(again)[3], new)


def test_status_change_with_same_bytes_keeps_the_cache(tmp_path, monkeypatch):
    root = _bmp_folder(tmp_path)
    first = FlowersDataset([8, 8], [-1], path=root)
    photo = root / "tulip" / "tulip_0.bmp"
    time.sleep(0.02)
    photo.chmod(0o640)                       # new ctime, same bytes
    monkeypatch.setattr(images_mod, "decode_files",
                        lambda *a, **k: pytest.fail("photos decoded again"))
    second = FlowersDataset([8, 8], [-1], path=root)
    assert second.from_cache and second.fingerprint == first.fingerprint
    monkeypatch.setattr(cache_mod, "file_digest",
                        lambda *a, **k: pytest.fail("photo hashed again"))
    assert FlowersDataset([8, 8], [-1], path=root).from_cache        # ctime stored


def test_fingerprint_follows_the_pixels_not_the_place(tmp_path):
    root = _small(tmp_path)
    ds = FlowersDataset([8, 8], [-1], path=root)
    moved = shutil.copytree(root, tmp_path / "elsewhere")
    assert FlowersDataset([8, 8], [-1], path=moved).fingerprint == ds.fingerprint
    assert FlowersDataset([8, 8], [-1], path=root, cache_dir=False).fingerprint == ds.fingerprint
    assert FlowersDataset([8, 8], [-1], path=root).fingerprint == ds.fingerprint   # cached
    others = {FlowersDataset([8, 8], [-1], path=root, seed=5).fingerprint,
              FlowersDataset([8, 8], [-1], path=root, resample="nearest").fingerprint,
              FlowersDataset([8, 6], [-1], path=root).fingerprint,
              FlowersDataset([8, 8], [-1], path=root, va_ratio=0.1).fingerprint}
    assert len(others) == 4 and ds.fingerprint not in others
    (root / "rose" / "rose_000.jpg").unlink()              # one photo fewer
    assert FlowersDataset([8, 8], [-1], path=root).fingerprint != ds.fingerprint


# ---- 5. caches that are not caches ------------------------------------------------------------
def test_random_bytes_cache_is_reported_in_own_words(tmp_path):
    root = _small(tmp_path)
    first = FlowersDataset([8, 8], [-1], path=root)
    first.cache_file.write_bytes(np.random.default_rng(1).bytes(3000))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        again = FlowersDataset([8, 8], [-1], path=root)
    msgs = _messages(record, CacheWarning)
    assert len(msgs) == 1, msgs
    assert first.cache_file.name in msgs[0] and "rebuilt" in msgs[0]
    assert not any(w in msgs[0] for w in ("trust", "unsafely", "allow_pickle", "pickle.load"))
    assert not again.from_cache and again.cache_file.is_file()
    np.testing.assert_array_equal(again.tr_xs, first.tr_xs)


def test_cache_holding_a_pickle_is_never_unpickled(tmp_path, monkeypatch):
    root = _small(tmp_path)
    first = FlowersDataset([8, 8], [-1], path=root)
    with np.load(first.cache_file) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["files"] = np.array(list(arrays["files"]), dtype=object)     # stored as a pickle
    with open(first.cache_file, "wb") as f:
        np.savez(f, **arrays)

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a pickle was loaded")
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    with pytest.warns(CacheWarning, match="never unpickled.*rebuilt") as record:
        again = FlowersDataset([8, 8], [-1], path=root)
    assert not any("trust" in str(w.message) for w in record)
    assert not again.from_cache and again.files == first.files
