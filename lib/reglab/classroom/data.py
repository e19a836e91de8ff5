"""The class notebooks' data: a small subset of the flower photos, or a synthetic stand-in.

* :func:`find_photo_dir` — where the photos come from (``$FLOWERS_DIR``, ``data/flowers``, a
  folder, or none: synthetic).
* :func:`load_class_data` — a seeded, class-stratified subset of those photos, or of the
  synthetic set of :func:`class_synthetic_dir`, made grey and noisy on purpose (see its Notes).
* :func:`with_train_count` — the same dataset with fewer training photos (same validation set).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

__all__ = ["CLASS_SYNTHETIC_PER_CLASS", "SYNTHETIC_NOISE_STD", "CLASS_NAMES_KO", "class_label",
           "class_synthetic_dir", "find_photo_dir", "load_class_data", "with_train_count"]

#: Photos per class of the class notebooks' synthetic set (5 x 120 = 600).
CLASS_SYNTHETIC_PER_CLASS = 120
_CLASS_SYNTHETIC_VERSION = 1
#: Std (pixel units, 0-255) of the fixed noise added to the grey synthetic photos.
SYNTHETIC_NOISE_STD = 40.0
#: Korean names of the flower classes (the folders carry the Kaggle set's English names).
CLASS_NAMES_KO = {"daisy": "데이지", "dandelion": "민들레", "rose": "장미", "sunflower": "해바라기",
                  "tulip": "튤립"}


def class_label(name: str) -> str:
    """A class name in Korean with the English in parentheses (``"장미 (rose)"``); other names
    as they are."""
    ko = CLASS_NAMES_KO.get(str(name).lower())
    return f"{ko} ({name})" if ko else str(name)


def class_synthetic_dir(root=None) -> Path:
    """A synthetic photo folder of 5 classes x ``CLASS_SYNTHETIC_PER_CLASS``, made once and reused.

    It lives in ``root`` (default: the image cache folder, ``$REGLAB_CACHE_DIR`` or
    ``~/.cache/reglab``) as ``class-synthetic-v1/flowers``; it is written into a temporary folder
    and renamed into place, so two notebooks starting together never see half a set.
    """
    from ..data.synthetic import cached_synthetic_flowers
    return cached_synthetic_flowers(f"class-synthetic-v{_CLASS_SYNTHETIC_VERSION}",
                                    CLASS_SYNTHETIC_PER_CLASS, seed=1, root=root)


def find_photo_dir(data_dir=None) -> tuple[Path | None, str]:
    """Where the photos come from: ``(folder, origin)``; folder None means synthetic.

    ``data_dir`` None or ``""``: ``$FLOWERS_DIR``, then ``data/flowers`` (current folder, then the
    project root), then the user data folder's ``flowers``; synthetic when none holds photos. ``"synthetic"``: always synthetic.
    Anything else: that folder (FileNotFoundError if it holds no photos).
    """
    from ..data.images import resolve_photo_dir

    if data_dir is not None and str(data_dir) == "synthetic":
        return None, "요청한 합성 사진"
    if data_dir is not None and str(data_dir).strip():
        return resolve_photo_dir(Path(data_dir).expanduser()), "data_dir"
    try:
        folder = resolve_photo_dir(None)
    except FileNotFoundError:
        if os.environ.get("FLOWERS_DIR"):
            return None, f"FLOWERS_DIR={os.environ['FLOWERS_DIR']}에 사진이 없어 대신 쓰는 합성 사진"
        return None, "사진 폴더가 없어 대신 쓰는 합성 사진"
    from ..paths import user_photo_dir
    if os.environ.get("FLOWERS_DIR"):
        origin = "$FLOWERS_DIR"
    elif user_photo_dir().exists() and folder == user_photo_dir().resolve():
        origin = "사용자 데이터 폴더"
    else:
        origin = "data/flowers"
    return folder, origin


def _grey_noisy(xs: np.ndarray, rng: np.random.Generator, std: float) -> np.ndarray:
    """Grey photos (the same value in R, G, B) with fixed Gaussian noise, uint8."""
    grey = xs.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    grey += rng.normal(0.0, std, grey.shape).astype(np.float32)
    grey = np.repeat(grey[..., None], 3, axis=-1)
    return np.clip(grey, 0, 255).round().astype(np.uint8)


def load_class_data(max_samples: int = 600, resolution=32, data_dir=None, *, tr_ratio=0.6,
                    va_ratio=0.3, seed: int = 1234, verbose: bool = True):
    """A small dataset for a class notebook: real photos if there are any, else synthetic.

    Parameters
    ----------
    max_samples : int
        Photos to use (a class-stratified, seeded subset). The synthetic set has 600.
    resolution : int or (H, W)
        Every photo is stretched to this size (a CNN with two 2x2 max-pools and an average pool
        of stride 3 needs a side of 12k, e.g. 36 or 48).
    data_dir : None, "", "synthetic" or a folder
        See :func:`find_photo_dir`.
    tr_ratio, va_ratio : float
        Split like the book's (training rounded down to a multiple of 10); the defaults keep a
        large validation split (30%) so the validation curves are smooth enough to read.
    seed : int
        Subset and split permutation.
    verbose : bool
        Print which photos were used and the split sizes (in Korean).

    Returns
    -------
    reglab.data.FlowersDataset
        With the extra attribute ``source``: ``"photos"`` or ``"synthetic"``.

    Notes
    -----
    The synthetic photos (:func:`reglab.data.make_synthetic_flowers`) differ by hue and by
    pattern, which even a tiny model separates perfectly. For the class notebooks they are made
    grey (the hue is gone; only the pattern tells the classes apart) and get fixed Gaussian pixel
    noise (std ``SYNTHETIC_NOISE_STD``, seeded), so a model of a few hundred thousand weights
    can memorize the training photos and overfit, as it does with the real photos.
    """
    from ..data import FlowersDataset

    if isinstance(resolution, (int, np.integer)):
        resolution = [int(resolution), int(resolution)]
    resolution = [int(r) for r in resolution]
    folder, origin = find_photo_dir(data_dir)
    synthetic = folder is None
    if synthetic:
        folder = class_synthetic_dir()
    ds = FlowersDataset(resolution, resolution + [3], path=folder, seed=seed,
                        tr_ratio=tr_ratio, va_ratio=va_ratio, max_samples=int(max_samples),
                        progress=False)
    ds.source = "synthetic" if synthetic else "photos"
    if synthetic:
        rng = np.random.default_rng([seed, 7])
        ds.tr_xs = _grey_noisy(ds.tr_xs, rng, SYNTHETIC_NOISE_STD)
        ds.va_xs = _grey_noisy(ds.va_xs, rng, SYNTHETIC_NOISE_STD)
        ds.te_xs = _grey_noisy(ds.te_xs, rng, SYNTHETIC_NOISE_STD)
        ds.name = "synthetic"
    if verbose:
        if synthetic:
            print(f"데이터: 합성 사진 ({origin}) — 흑백 + 잡음(표준편차 {SYNTHETIC_NOISE_STD:g})으로 "
                  f"일부러 어렵게 만든 5종 도형 사진, {folder}")
            print("    실제 꽃 사진으로 하려면 FLOWERS_DIR을 지정하거나 data/flowers에 사진을 두세요 "
                  "(README의 '사진 받기').")
        else:
            print(f"데이터: 실제 꽃 사진 ({origin}: {ds.path})")
        print(f"    {resolution[0]}×{resolution[1]} 크기 {len(ds)}장 — 학습 {ds.train_count}장, "
              f"검증 {ds.validate_count}장, 테스트 {ds.test_count}장; "
              f"클래스 {', '.join(class_label(n) for n in ds.target_names)}")
    return ds


def with_train_count(dataset, n: int):
    """A shallow copy of ``dataset`` that keeps only its first ``n`` training photos.

    The validation and test splits are the same objects, so curves of models trained on
    different amounts of data are scored on the same photos. ``n`` is capped at the training
    split's size.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n={n} must be a positive number of training photos")
    ds = copy.copy(dataset)
    ds.tr_xs = dataset.tr_xs[:n]
    ds.tr_ys = dataset.tr_ys[:n]
    if hasattr(dataset, "tr_indices"):
        ds.tr_indices = dataset.tr_indices[:n]
    return ds
