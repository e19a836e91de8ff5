"""Tests of reglab.data: finding, decoding, caching and splitting the flower photos."""

from __future__ import annotations

import os
import shutil
import time
import warnings

import numpy as np
import pytest

from reglab.data import (CacheWarning, ClassSetWarning, FlowersDataset, PhotoDecodeWarning,
                         format_select_results, make_synthetic_flowers, split_counts,
                         stratified_subset)
from reglab.data import decode as decode_mod
from reglab.data import images as images_mod
from reglab.data.synthetic import EXTRA_FILES

KAGGLE = ["daisy", "dandelion", "rose", "sunflower", "tulip"]
TF = ("daisy", "dandelion", "roses", "sunflowers", "tulips")


def _snapshot(folder):
    """Every path under ``folder`` with its size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.stat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def photo_copy(synthetic_flowers, tmp_path):
    """A private copy of the synthetic folder (mtimes kept) that a test may modify."""
    return shutil.copytree(synthetic_flowers, tmp_path / "flowers")


# ---- split -----------------------------------------------------------------------------------
@pytest.mark.parametrize("n, expected", [(4317, (3450, 215, 652)), (4323, (3450, 216, 657)),
                                         (100, (80, 5, 15)), (24, (10, 1, 13))])
def test_split_counts_book_formula(n, expected):
    assert split_counts(n) == expected


def test_split_sizes_and_permutation(synthetic_flowers, tmp_path):
    ds = FlowersDataset(path=synthetic_flowers, cache_dir=tmp_path)
    assert (ds.train_count, ds.validate_count, ds.test_count) == (80, 5, 15)
    assert len(ds) == 100
    perm = np.random.default_rng(1234).permutation(100)
    np.testing.assert_array_equal(ds.tr_indices, perm[:80])
    np.testing.assert_array_equal(ds.va_indices, perm[80:85])
    np.testing.assert_array_equal(ds.te_indices, perm[85:])
    assert str(ds) == "flowers(select, 80+15+5)"
    assert (ds.name, ds.mode) == ("flowers", "select")


def test_same_seed_same_split_other_seed_differs(synthetic_flowers):
    a = FlowersDataset(path=synthetic_flowers, seed=7)
    b = FlowersDataset(path=synthetic_flowers, seed=7)
    c = FlowersDataset(path=synthetic_flowers, seed=8)
    np.testing.assert_array_equal(a.tr_indices, b.tr_indices)
    np.testing.assert_array_equal(a.tr_xs, b.tr_xs)
    np.testing.assert_array_equal(a.te_ys, b.te_ys)
    assert not np.array_equal(a.tr_indices, c.tr_indices)
    together = np.concatenate([a.tr_indices, a.va_indices, a.te_indices])
    np.testing.assert_array_equal(np.sort(together), np.arange(len(a)))


def test_arrays_shapes_dtypes_and_labels(synthetic_flowers):
    ds = FlowersDataset([32, 24], [32, 24, 3], path=synthetic_flowers)
    for xs, ys in [(ds.tr_xs, ds.tr_ys), (ds.va_xs, ds.va_ys), (ds.te_xs, ds.te_ys)]:
        assert xs.dtype == np.uint8 and xs.shape[1:] == (32, 24, 3)
        assert ys.dtype == np.int64 and len(ys) == len(xs)
    assert ds.target_names == KAGGLE and ds.class_count == 5 and ds.output_shape == [5]
    assert ds.resolution == [32, 24] and ds.image_shape == [32, 24, 3]
    assert ds.input_shape == [32, 24, 3]
    assert ds.files[0] == "daisy/daisy_000.jpg" and ds.files == sorted(ds.files)
    labels = np.empty(len(ds), np.int64)
    for idx, ys in [(ds.tr_indices, ds.tr_ys), (ds.va_indices, ds.va_ys),
                    (ds.te_indices, ds.te_ys)]:
        labels[idx] = ys
    assert [KAGGLE[y] for y in labels] == [f.split("/")[0] for f in ds.files]
    assert ds.class_counts() == dict.fromkeys(KAGGLE, 20)
    oh = ds.onehot(ds.tr_ys[:4])
    assert oh.dtype == np.float32 and oh.shape == (4, 5)
    np.testing.assert_array_equal(oh.argmax(1), ds.tr_ys[:4])


def test_input_shape_flat_and_invalid(synthetic_flowers):
    ds = FlowersDataset([16, 16], [-1], path=synthetic_flowers)
    assert ds.input_shape == [16 * 16 * 3]
    assert ds.tr_xs.shape[1:] == (16, 16, 3)
    with pytest.raises(ValueError, match="input_shape"):
        FlowersDataset([16, 16], [96, 96, 3], path=synthetic_flowers)


def test_resample_options(synthetic_flowers):
    bicubic = FlowersDataset([20, 20], [20, 20, 3], path=synthetic_flowers)
    nearest = FlowersDataset([20, 20], [20, 20, 3], path=synthetic_flowers, resample="nearest")
    assert not np.array_equal(bicubic.tr_xs, nearest.tr_xs)
    with pytest.raises(ValueError, match="bicubic.*nearest"):
        FlowersDataset(path=synthetic_flowers, resample="bilinear")


# ---- folder layout, formats ------------------------------------------------------------------
def test_tf_class_names_are_mapped(tmp_path):
    root = make_synthetic_flowers(tmp_path / "flower_photos", n_per_class=3, classes=TF)
    (root / "LICENSE.txt").write_text("license\n")
    ds = FlowersDataset([16, 16], [16, 16, 3], path=root)
    assert ds.target_names == KAGGLE
    assert any(f.startswith("roses/") for f in ds.files)
    assert len(ds) == 15


def test_other_folder_names_kept(tmp_path):
    root = make_synthetic_flowers(tmp_path / "pets", n_per_class=8, classes=("dogs", "cats"))
    with pytest.warns(ClassSetWarning, match=r"2 classes \['cats', 'dogs'\]"):
        ds = FlowersDataset([16, 16], [-1], path=root)
    assert ds.target_names == ["cats", "dogs"] and ds.output_shape == [2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FlowersDataset([16, 16], [-1], path=root, expected_classes=["dogs", "cats"])


def test_edge_case_files(tmp_path):
    root = make_synthetic_flowers(tmp_path / "f", n_per_class=4, extras=True)
    shutil.copy(root / "tulip" / "tulip_000.jpg", root / "tulip" / "UPPER.JPG")
    (root / "rose" / "Thumbs.db").write_bytes(b"\0" * 10)
    with pytest.warns(PhotoDecodeWarning, match=r"tulip/x_corrupt\.jpg"):
        ds = FlowersDataset([16, 16], [16, 16, 3], path=root)
    assert ds.target_names == KAGGLE                  # _docs/ (no images) is ignored
    assert len(ds) == 5 * 4 + 4 + 1                   # gray, rgba, cmyk, palette, UPPER.JPG
    assert [s[0] for s in ds.skipped] == ["tulip/x_corrupt.jpg"]
    for kind in ("gray", "rgba", "cmyk", "palette"):
        c, name = EXTRA_FILES[kind]
        assert f"{KAGGLE[c]}/{name}" in ds.files
    assert "tulip/UPPER.JPG" in ds.files
    assert not any(f.endswith((".txt", ".db")) or "x_corrupt" in f for f in ds.files)
    xs = np.concatenate([ds.tr_xs, ds.va_xs, ds.te_xs])
    idx = np.concatenate([ds.tr_indices, ds.va_indices, ds.te_indices])
    assert xs.shape[1:] == (16, 16, 3) and xs.dtype == np.uint8
    gray = xs[list(idx).index(ds.files.index("daisy/x_gray.png"))]
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    # the cached load repeats the warning
    with pytest.warns(PhotoDecodeWarning, match="x_corrupt"):
        again = FlowersDataset([16, 16], [16, 16, 3], path=root)
    assert again.from_cache and again.files == ds.files


# ---- finding the folder ----------------------------------------------------------------------
def test_missing_and_empty_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="data fetch") as info:
        FlowersDataset(path=missing)
    assert str(missing) in str(info.value) and "Flowers Recognition" in str(info.value)
    empty = tmp_path / "empty"
    (empty / "daisy").mkdir(parents=True)
    (empty / "daisy" / "readme.txt").write_text("no photos")
    with pytest.raises(FileNotFoundError, match="data fetch") as info:
        FlowersDataset(path=empty)
    assert str(empty) in str(info.value)


def test_default_locations(tmp_path, monkeypatch, synthetic_flowers):
    monkeypatch.delenv("FLOWERS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    proj = tmp_path / "proj"
    monkeypatch.setattr(images_mod, "project_root", lambda: proj)
    with pytest.raises(FileNotFoundError) as info:
        FlowersDataset()
    msg = str(info.value)
    assert str(tmp_path / "data" / "flowers") in msg and str(proj / "data" / "flowers") in msg
    assert "FLOWERS_DIR" in msg and "data fetch" in msg
    # the project root's data/flowers is the last fallback
    shutil.copytree(synthetic_flowers, proj / "data" / "flowers")
    assert FlowersDataset([8, 8], [-1]).path == (proj / "data" / "flowers").resolve()
    # ./data/flowers comes first
    shutil.copytree(synthetic_flowers, tmp_path / "data" / "flowers")
    assert FlowersDataset([8, 8], [-1]).path == (tmp_path / "data" / "flowers").resolve()
    # $FLOWERS_DIR beats both, and is not silently replaced when wrong
    monkeypatch.setenv("FLOWERS_DIR", str(synthetic_flowers))
    assert FlowersDataset([8, 8], [-1]).path == synthetic_flowers.resolve()
    monkeypatch.setenv("FLOWERS_DIR", str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match="typo"):
        FlowersDataset([8, 8], [-1])


# ---- cache -----------------------------------------------------------------------------------
def test_cache_hit_equals_first_load(synthetic_flowers, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = FlowersDataset([24, 24], [24, 24, 3], path=synthetic_flowers, cache_dir=cache)
    assert not first.from_cache and first.cache_file.parent == cache
    assert first.cache_file.is_file() and first.cache_file.suffix == ".npz"

    def boom(*args, **kwargs):
        raise AssertionError("decode_files was called")
    monkeypatch.setattr(images_mod, "decode_files", boom)
    second = FlowersDataset([24, 24], [24, 24, 3], path=synthetic_flowers, cache_dir=cache)
    assert second.from_cache and second.cache_file == first.cache_file
    for name in ("tr_xs", "va_xs", "te_xs", "tr_ys", "va_ys", "te_ys"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert second.files == first.files and second.target_names == first.target_names
    with np.load(first.cache_file) as z:          # plain arrays, no pickles
        assert z["images"].dtype == np.uint8 and z["images"].shape == (100, 24, 24, 3)


def test_cache_default_location_is_env(synthetic_flowers, _isolated_image_cache):
    ds = FlowersDataset([12, 12], [-1], path=synthetic_flowers)
    assert ds.cache_file.parent == _isolated_image_cache


def test_cache_invalidated_by_changed_file(photo_copy, tmp_path):
    cache = tmp_path / "cache"
    first = FlowersDataset([16, 16], [-1], path=photo_copy, cache_dir=cache)
    photo = photo_copy / "rose" / "rose_003.jpg"
    st = photo.stat()
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    touched = FlowersDataset([16, 16], [-1], path=photo_copy, cache_dir=cache)
    assert not touched.from_cache and touched.cache_file != first.cache_file
    assert sorted(p.name for p in cache.glob("*.npz")) == [touched.cache_file.name]
    # new content and size
    shutil.copy(photo_copy / "tulip" / "tulip_000.jpg", photo)
    changed = FlowersDataset([16, 16], [-1], path=photo_copy, cache_dir=cache)
    assert not changed.from_cache
    i = changed.files.index("rose/rose_003.jpg")
    xs = np.empty((len(changed), 16, 16, 3), np.uint8)
    for idx, part in [(changed.tr_indices, changed.tr_xs), (changed.va_indices, changed.va_xs),
                      (changed.te_indices, changed.te_xs)]:
        xs[idx] = part
    np.testing.assert_array_equal(xs[i], xs[changed.files.index("tulip/tulip_000.jpg")])
    assert FlowersDataset([16, 16], [-1], path=photo_copy, cache_dir=cache).from_cache


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_cache_is_rebuilt(synthetic_flowers, tmp_path, damage):
    cache = tmp_path / "cache"
    first = FlowersDataset([16, 16], [-1], path=synthetic_flowers, cache_dir=cache)
    data = first.cache_file.read_bytes()
    first.cache_file.write_bytes(b"not a zip" * 10 if damage == "garbage" else data[:2000])
    with pytest.warns(CacheWarning, match="discarded and rebuilt"):
        rebuilt = FlowersDataset([16, 16], [-1], path=synthetic_flowers, cache_dir=cache)
    assert not rebuilt.from_cache
    np.testing.assert_array_equal(rebuilt.tr_xs, first.tr_xs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert FlowersDataset([16, 16], [-1], path=synthetic_flowers, cache_dir=cache).from_cache


def test_cache_never_beside_photos(photo_copy, tmp_path):
    before = _snapshot(photo_copy)
    FlowersDataset([16, 16], [-1], path=photo_copy, cache_dir=tmp_path / "cache")
    FlowersDataset([16, 16], [-1], path=photo_copy)              # default cache folder
    FlowersDataset([16, 16], [-1], path=photo_copy, max_samples=30)
    assert _snapshot(photo_copy) == before
    with pytest.raises(ValueError, match="beside the photos"):
        FlowersDataset([16, 16], [-1], path=photo_copy, cache_dir=photo_copy / ".cache")


def test_unwritable_cache_dir_warns_and_loads(synthetic_flowers, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with pytest.warns(CacheWarning, match="could not write"):
        ds = FlowersDataset([16, 16], [-1], path=synthetic_flowers, cache_dir=blocker / "sub")
    assert ds.cache_file is None and len(ds) == 100
    nocache = FlowersDataset([16, 16], [-1], path=synthetic_flowers, cache_dir=False)
    assert nocache.cache_file is None and not nocache.from_cache


def test_parallel_decode_matches_single(synthetic_flowers):
    folder = images_mod.scan_photos(synthetic_flowers)
    paths = [folder.root / f for f in folder.files]
    single, f1 = images_mod.decode_files(paths, (20, 30), workers=1)
    multi, f2 = images_mod.decode_files(paths, (20, 30), workers=2, parallel_threshold=0,
                                        progress=True)
    assert f1 == f2 == []
    assert single.shape == (100, 20, 30, 3)
    np.testing.assert_array_equal(single, multi)


def test_parallel_decode_falls_back_to_one_thread(synthetic_flowers, monkeypatch):
    def no_pool(*args, **kwargs):
        raise RuntimeError("can't start new thread")
    monkeypatch.setattr(decode_mod, "ThreadPoolExecutor", no_pool)
    folder = images_mod.scan_photos(synthetic_flowers)
    paths = [folder.root / f for f in folder.files]
    with pytest.warns(RuntimeWarning, match="can't start new thread"):
        imgs, fails = images_mod.decode_files(paths, (8, 8), workers=2, parallel_threshold=0)
    assert imgs.shape == (100, 8, 8, 3) and fails == [] and imgs.any()


def test_parallel_decode_never_forks(synthetic_flowers, monkeypatch):
    """A Jupyter kernel is a multi-threaded process, which must not fork (Python 3.12+ warns
    that the child may deadlock): the parallel decode starts no process."""
    import os
    import warnings

    def no_fork(*args, **kwargs):
        raise AssertionError("decode_files forked")
    monkeypatch.setattr(os, "fork", no_fork)
    if hasattr(os, "posix_spawn"):
        monkeypatch.setattr(os, "posix_spawn", no_fork)
    folder = images_mod.scan_photos(synthetic_flowers)
    paths = [folder.root / f for f in folder.files]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        imgs, fails = images_mod.decode_files(paths, (8, 8), workers=2, parallel_threshold=0)
    assert imgs.shape == (100, 8, 8, 3) and fails == [] and imgs.any()


# ---- max_samples -----------------------------------------------------------------------------
def test_stratified_subset_proportions():
    labels = np.repeat([0, 1, 2], [60, 30, 10])
    picked = stratified_subset(labels, 20, seed=3)
    assert np.bincount(labels[picked]).tolist() == [12, 6, 2]
    assert (np.diff(picked) > 0).all()
    np.testing.assert_array_equal(picked, stratified_subset(labels, 20, seed=3))
    assert not np.array_equal(picked, stratified_subset(labels, 20, seed=4))
    assert np.bincount(labels[stratified_subset(labels, 7, seed=0)]).tolist() == [4, 2, 1]
    np.testing.assert_array_equal(stratified_subset(labels, 500, seed=0), np.arange(100))


def test_max_samples_deterministic_with_and_without_full_cache(synthetic_flowers, tmp_path):
    kw = dict(path=synthetic_flowers, max_samples=50, seed=5)
    cold = FlowersDataset([16, 16], [-1], cache_dir=tmp_path / "a", **kw)
    assert len(cold) == 50 and cold.class_counts() == dict.fromkeys(KAGGLE, 10)
    assert "-sub50-" in cold.cache_file.name
    again = FlowersDataset([16, 16], [-1], cache_dir=tmp_path / "a", **kw)
    assert again.from_cache and again.files == cold.files
    FlowersDataset([16, 16], [-1], path=synthetic_flowers, cache_dir=tmp_path / "b")
    from_full = FlowersDataset([16, 16], [-1], cache_dir=tmp_path / "b", **kw)
    assert from_full.from_cache and "-all-" in from_full.cache_file.name
    assert from_full.files == cold.files
    np.testing.assert_array_equal(from_full.tr_xs, cold.tr_xs)
    np.testing.assert_array_equal(from_full.te_ys, cold.te_ys)
    other = FlowersDataset([16, 16], [-1], path=synthetic_flowers, max_samples=50, seed=6)
    assert other.files != cold.files


def test_too_few_photos_for_a_training_split(synthetic_flowers):
    with pytest.raises(ValueError, match="empty training split"):
        FlowersDataset([8, 8], [-1], path=synthetic_flowers, max_samples=12)


# ---- output ----------------------------------------------------------------------------------
def test_format_select_results_exact():
    est = np.array([[0.01, 0.01, 0.04, 0.91, 0.03], [0.70, 0.10, 0.05, 0.05, 0.10]])
    lines = format_select_results(est, np.array([3, 2]), KAGGLE)
    assert lines == [
        "추정확률분포 [ 1, 1, 4,91, 3] => 추정 sunflower : 정답 sunflower => O",
        "추정확률분포 [70,10, 5, 5,10] => 추정 daisy : 정답 rose => X",
    ]
    assert format_select_results(est, np.eye(5)[[3, 2]], KAGGLE) == lines
    assert format_select_results([[0.0, 1.0]], [1], ["a", "b"]) == [
        "추정확률분포 [ 0,100] => 추정 b : 정답 b => O"]


def test_visualize_prints_book_lines(synthetic_flowers, monkeypatch, capsys):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    ds = FlowersDataset([16, 16], [-1], path=synthetic_flowers)
    est = ds.onehot(ds.va_ys[:3]) * 0.9 + 0.02
    ds.visualize(ds.va_xs[:3].reshape(3, -1), est, ds.va_ys[:3])
    fig = plt.gcf()
    assert len(fig.axes) == 3 and not fig.axes[0].axison
    plt.close("all")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and all(line.endswith("=> O") for line in out)
    assert out[0].startswith("추정확률분포 [")


# ---- synthetic photos ------------------------------------------------------------------------
def test_synthetic_is_byte_identical_per_seed(tmp_path):
    a = make_synthetic_flowers(tmp_path / "a", n_per_class=3, seed=11, extras=True)
    b = make_synthetic_flowers(tmp_path / "b", n_per_class=3, seed=11, extras=True)
    c = make_synthetic_flowers(tmp_path / "c", n_per_class=3, seed=12, extras=True)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert any((a / f).read_bytes() != (c / f).read_bytes() for f in files)


def test_synthetic_classes_are_separable(synthetic_flowers):
    """A nearest-centroid rule on 8x8 thumbnails beats chance (0.2) by far."""
    ds = FlowersDataset([8, 8], [-1], path=synthetic_flowers)
    tr = ds.tr_xs.reshape(len(ds.tr_xs), -1).astype(np.float64)
    te = np.concatenate([ds.va_xs, ds.te_xs]).reshape(20, -1).astype(np.float64)
    te_ys = np.concatenate([ds.va_ys, ds.te_ys])
    centroids = np.stack([tr[ds.tr_ys == c].mean(0) for c in range(5)])
    pred = ((te[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
    assert (pred == te_ys).mean() >= 0.6


# ---- real photos -----------------------------------------------------------------------------
@pytest.mark.realdata
def test_real_photos_split_and_warm_load(flowers_dir):
    first = FlowersDataset([96, 96], [96, 96, 3], path=flowers_dir)
    assert len(first) == 4317
    assert (first.train_count, first.validate_count, first.test_count) == (3450, 215, 652)
    assert str(first) == "flowers(select, 3450+652+215)"
    assert first.target_names == KAGGLE
    assert first.tr_xs.shape == (3450, 96, 96, 3) and first.tr_xs.dtype == np.uint8
    assert first.te_xs.shape == (652, 96, 96, 3) and first.va_xs.shape == (215, 96, 96, 3)
    assert first.tr_ys.dtype == np.int64 and first.skipped == []
    start = time.perf_counter()
    warm = FlowersDataset([96, 96], [96, 96, 3], path=flowers_dir)
    elapsed = time.perf_counter() - start
    assert warm.from_cache
    np.testing.assert_array_equal(warm.te_xs, first.te_xs)
    print(f"warm load of 4317 photos: {elapsed:.3f} s")
    assert elapsed < 1.5


@pytest.mark.realdata
def test_real_photos_max_samples(flowers_dir):
    ds = FlowersDataset([32, 32], [-1], path=flowers_dir, max_samples=500)
    assert len(ds) == 500 and (ds.train_count, ds.validate_count) == (400, 25)
    counts = ds.class_counts()
    assert abs(counts["dandelion"] - 500 * 1052 / 4317) < 1
