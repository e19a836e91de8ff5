"""The flowers dataset of chapters 5-8 (``FlowersDataset``), stored as uint8 arrays.

Follows the book's ``Dataset``/``FlowersDataset`` (mode ``'select'``): classes are the sorted
sub-folder names, photos are stretched to ``resolution`` and split once into
train/validation/test with the book's counts. Pixels stay uint8 (0-255); convert each batch to
float in the model (a float32 copy of all 4317 photos would take 455 MiB).
"""

from __future__ import annotations

import hashlib
import math
import warnings

import numpy as np

from .images import BOOK_CLASSES, RESAMPLE_NAMES, load_photos, resolve_photo_dir, scan_photos

__all__ = ["FlowersDataset", "ClassSetWarning", "split_counts", "stratified_subset",
           "format_select_results"]


class ClassSetWarning(UserWarning):
    """The photo folder's classes are not the ones expected (by default the book's five)."""


def split_counts(n: int, tr_ratio: float = 0.8, va_ratio: float = 0.05) -> tuple[int, int, int]:
    """The book's split sizes (``shuffle_data``).

    ``tr_cnt = int(n*tr_ratio/10)*10`` (rounded down to a multiple of 10),
    ``va_cnt = int(n*va_ratio)``, test = the rest. For n = 4317: (3450, 215, 652).

    Returns
    -------
    (tr_cnt, va_cnt, te_cnt) : tuple of int
    """
    tr_cnt = int(n * tr_ratio / 10) * 10
    va_cnt = int(n * va_ratio)
    return tr_cnt, va_cnt, n - tr_cnt - va_cnt


def stratified_subset(labels, count: int, seed: int) -> np.ndarray:
    """Pick ``count`` indices, keeping the class proportions of ``labels``.

    Each class gets ``floor(count * n_c / N)`` photos; the remaining ones go to the classes with
    the largest fractional parts (ties: lower class index). Photos inside a class are drawn
    without replacement by ``np.random.default_rng([seed, 1])`` (a stream separate from the
    split's), so the subset depends only on ``labels``, ``count`` and ``seed``.

    Parameters
    ----------
    labels : array of int, shape (N,)
    count : int
    seed : int

    Returns
    -------
    ndarray of int64, shape (min(count, N),)
        Sorted indices into ``labels`` (load order is kept).
    """
    labels = np.asarray(labels)
    n = len(labels)
    if count >= n:
        return np.arange(n, dtype=np.int64)
    classes, sizes = np.unique(labels, return_counts=True)
    exact = count * sizes / n
    quota = np.floor(exact).astype(np.int64)
    order = sorted(range(len(classes)), key=lambda c: (-(exact[c] - quota[c]), c))
    for c in order[: count - int(quota.sum())]:
        quota[c] += 1
    rng = np.random.default_rng([seed, 1])
    picked = [rng.choice(np.flatnonzero(labels == cls), size=int(q), replace=False)
              for cls, q in zip(classes, quota)]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def format_select_results(estimates, answers, target_names) -> list[str]:
    """The book's ``show_select_results`` lines.

    Parameters
    ----------
    estimates : array of float, shape (n, C)
        Probability rows (softmax outputs).
    answers : array of int, shape (n,), or one-hot array, shape (n, C)
    target_names : sequence of str, shape (C,)

    Returns
    -------
    list of str, shape (n,)
        e.g. ``'추정확률분포 [ 1, 1, 4,91, 3] => 추정 sunflower : 정답 sunflower => O'``.
    """
    estimates = np.asarray(estimates, dtype=np.float64)
    answers = np.asarray(answers)
    if answers.ndim == 2:
        answers = answers.argmax(axis=1)
    lines = []
    for est, ans in zip(estimates, answers):
        probs = ",".join("%2.0f" % (100 * p) for p in est)
        pred, true = target_names[int(np.argmax(est))], target_names[int(ans)]
        mark = "O" if pred == true else "X"
        lines.append(f"추정확률분포 [{probs}] => 추정 {pred} : 정답 {true} => {mark}")
    return lines


def _check_ratios(tr_ratio, va_ratio) -> None:
    if not (0 < tr_ratio <= 1 and 0 <= va_ratio and tr_ratio + va_ratio <= 1):
        raise ValueError(f"need 0 < tr_ratio, 0 <= va_ratio, tr_ratio + va_ratio <= 1; got "
                         f"{tr_ratio}, {va_ratio}")


def _resolve_input_shape(input_shape, image_shape) -> list[int]:
    size = math.prod(image_shape)
    shape = [int(d) for d in input_shape]
    if shape.count(-1) > 1 or any(d == 0 or d < -1 for d in shape):
        raise ValueError(f"invalid input_shape {list(input_shape)}")
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        if size % known:
            raise ValueError(f"input_shape {list(input_shape)} does not fit {size} values "
                             f"(image shape {image_shape})")
        shape[shape.index(-1)] = size // known
    if math.prod(shape) != size:
        raise ValueError(f"input_shape {list(input_shape)} has {math.prod(shape)} values, but "
                         f"an image {image_shape} has {size}")
    return shape


class ArrayDataset:
    """Images (or vectors) already in memory, split like the book's ``Dataset.shuffle_data``.

    The base of :class:`FlowersDataset`, and a stand-in for it in tests, benchmarks and class
    notebooks (see :func:`random_image_dataset`).

    Parameters
    ----------
    xs : ndarray of uint8, shape (N, H, W, 3) or (N, D)
        Pixels in 0-255.
    ys : ndarray of int, shape (N,)
        Class indices into ``target_names``.
    target_names : list of str
    input_shape : list of int, optional
        Recorded for the model (default: the per-sample shape of ``xs``).
    seed : int
        The split permutation is ``np.random.default_rng(seed).permutation(N)``.
    tr_ratio, va_ratio : float
        train = ⌊N·tr_ratio/10⌋·10, validation = ⌊N·va_ratio⌋, test = the rest.
    name : str
    """

    mode = "select"

    def __init__(self, xs, ys, target_names, input_shape=None, *, seed=1234, tr_ratio=0.8,
                 va_ratio=0.05, name="arrays"):
        xs = np.asarray(xs)
        ys = np.asarray(ys, dtype=np.int64)
        if len(xs) != len(ys):
            raise ValueError(f"{len(xs)} images but {len(ys)} labels")
        self.name = name
        self.target_names = list(target_names)
        self.class_count = len(self.target_names)
        self.output_shape = [self.class_count]
        if xs.ndim == 4:
            self.image_shape = list(xs.shape[1:])
            self.resolution = self.image_shape[:2]
        else:
            self.image_shape = self.resolution = None
        self.input_shape = list(input_shape) if input_shape is not None else list(xs.shape[1:])
        self.fingerprint = hashlib.sha256(xs.tobytes() + ys.tobytes()
                                          + f"|{seed}|{tr_ratio}|{va_ratio}".encode()).hexdigest()[:16]
        self._split(xs, ys, seed, tr_ratio, va_ratio)

    def _split(self, xs, ys, seed, tr_ratio, va_ratio) -> None:
        _check_ratios(tr_ratio, va_ratio)
        n = len(xs)
        tr_cnt, va_cnt, te_cnt = split_counts(n, tr_ratio, va_ratio)
        if tr_cnt == 0:
            raise ValueError(f"{n} photos give an empty training split "
                             f"(tr_cnt = int({n}*{tr_ratio}/10)*10 = 0); use more photos")
        perm = np.random.default_rng(seed).permutation(n)
        self.tr_indices = perm[:tr_cnt]
        self.va_indices = perm[tr_cnt:tr_cnt + va_cnt]
        self.te_indices = perm[tr_cnt + va_cnt:]
        self.tr_xs, self.tr_ys = xs[self.tr_indices], ys[self.tr_indices]
        self.va_xs, self.va_ys = xs[self.va_indices], ys[self.va_indices]
        self.te_xs, self.te_ys = xs[self.te_indices], ys[self.te_indices]

    # ---- sizes ---------------------------------------------------------------------------
    @property
    def train_count(self) -> int:
        return len(self.tr_xs)

    @property
    def validate_count(self) -> int:
        return len(self.va_xs)

    @property
    def test_count(self) -> int:
        return len(self.te_xs)

    def __len__(self) -> int:
        return self.train_count + self.validate_count + self.test_count

    def __str__(self) -> str:
        return (f"{self.name}({self.mode}, {self.train_count}+{self.test_count}"
                f"+{self.validate_count})")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"

    def class_counts(self) -> dict[str, int]:
        """Number of loaded photos per class (all splits)."""
        ys = np.concatenate([self.tr_ys, self.va_ys, self.te_ys])
        counts = np.bincount(ys, minlength=self.class_count)
        return dict(zip(self.target_names, counts.tolist()))

    # ---- targets and display -------------------------------------------------------------
    def onehot(self, ys) -> np.ndarray:
        """One-hot rows, float32, shape (n, class_count), of class indices ``ys`` (n,)."""
        return np.eye(self.class_count, dtype=np.float32)[np.asarray(ys, dtype=np.int64)]

    def visualize(self, xs, estimates, answers) -> None:
        """Show ``xs`` in one row and print the book's estimate lines.

        Parameters
        ----------
        xs : array, shape (n, H, W, 3) or (n, H*W*3)
            Pixels in 0-255 (drawn as uint8).
        estimates : array of float, shape (n, class_count)
            Probability rows.
        answers : array of int, shape (n,) (one-hot (n, class_count) also accepted)
        """
        import matplotlib.pyplot as plt
        xs = np.asarray(xs)
        fig, axes = plt.subplots(1, len(xs), figsize=(5, 5))
        for ax, x in zip(np.atleast_1d(axes), xs):
            ax.imshow(np.asarray(x).reshape(self.image_shape).astype(np.uint8))
            ax.axis("off")
        plt.show()
        for line in format_select_results(estimates, answers, self.target_names):
            print(line)


class FlowersDataset(ArrayDataset):
    """Flower photos split like the book's ``FlowersDataset`` (mode 'select').

    Parameters
    ----------
    resolution : [H, W]
        Every photo is stretched (aspect ratio not kept) to this size. Note the book passed
        the list straight to ``PIL.Image.resize``, which reads it as (W, H); both agree for
        the square sizes it used.
    input_shape : list of int
        ``[H, W, 3]``, or ``[-1]`` for the flattened ``[H*W*3]``; the product must be H*W*3.
        Only recorded (the model reshapes); the arrays are always (n, H, W, 3).
    path : path-like, optional
        Photo folder; default ``$FLOWERS_DIR``, ``./data/flowers``, then the project root's
        ``data/flowers`` (see :func:`reglab.data.images.resolve_photo_dir`).
    seed : int
        Seed of the split permutation ``np.random.default_rng(seed).permutation(N)`` (and of
        the ``max_samples`` subset).
    tr_ratio, va_ratio : float
        Split ratios (book defaults 0.8 and 0.05; test is the rest).
    max_samples : int
        0 keeps all photos; otherwise a seeded, class-stratified subset of that many photos is
        taken before the split (photos that fail to decode are dropped after choosing).
    cache_dir : path-like or False, optional
        Where the decoded uint8 cache goes; default ``$REGLAB_CACHE_DIR`` or the user's cache
        folder. False disables the cache.
    resample : {'bicubic', 'nearest'}
        'bicubic' is the modern Pillow default, 'nearest' the book's 2019 Pillow.
    progress : bool, optional
        tqdm bar while decoding; default only if stderr is a terminal.
    expected_classes : sequence of str or None
        The classes the folder should hold, default the book's five (daisy, dandelion, rose,
        sunflower, tulip). A folder with another set is still loaded, with its own classes,
        after one :class:`ClassSetWarning` listing the classes found. None: no check.

    Attributes
    ----------
    tr_xs, va_xs, te_xs : ndarray of uint8, shape (n, H, W, 3)
    tr_ys, va_ys, te_ys : ndarray of int64, shape (n,)
        Class indices into ``target_names``.
    tr_indices, va_indices, te_indices : ndarray of int64
        Positions in ``files`` of each split's photos.
    target_names : list of str
    class_count : int
    resolution, image_shape, input_shape, output_shape : list of int
    train_count, validate_count, test_count : int
    path : Path
    cache_file : Path or None
    from_cache : bool
    files : list of str
        Relative paths of all loaded photos, in load order.
    skipped : list of (str, str)
        Photos that could not be listed, read or decoded, and the reason.
    fingerprint : str
        16 hex digits of a SHA-256 over the decoded pixels (the arrays training sees), the
        labels, the class names, the resize and the split settings. Equal arrays give an equal
        fingerprint wherever the folder lies; any changed pixel gives another one (the runner
        keys finished runs on it).
    """

    name = "flowers"
    mode = "select"

    def __init__(self, resolution=(96, 96), input_shape=(96, 96, 3), path=None, *, seed=1234,
                 tr_ratio=0.8, va_ratio=0.05, max_samples=0, cache_dir=None,
                 resample="bicubic", progress=None, expected_classes=BOOK_CLASSES):
        resolution = [int(r) for r in resolution]
        if len(resolution) != 2 or min(resolution) < 1:
            raise ValueError(f"resolution must be [H, W] with positive sizes, got {resolution}")
        if resample not in RESAMPLE_NAMES:
            raise ValueError(f"resample must be one of {list(RESAMPLE_NAMES)}, got {resample!r}")
        _check_ratios(tr_ratio, va_ratio)
        if int(max_samples) < 0:
            raise ValueError(f"max_samples must be >= 0, got {max_samples}")
        self.resolution = resolution
        self.image_shape = resolution + [3]
        self.input_shape = _resolve_input_shape(input_shape, self.image_shape)
        self.seed, self.resample = seed, resample

        self.path = resolve_photo_dir(path)
        folder = scan_photos(self.path)
        if expected_classes is not None and sorted(folder.class_names) != sorted(expected_classes):
            warnings.warn(
                f"{self.path} has {len(folder.class_names)} classes {folder.class_names}; "
                f"expected {len(expected_classes)} {sorted(expected_classes)}"
                + (" (the book's five)" if tuple(expected_classes) == BOOK_CLASSES else "")
                + f". Training uses the {len(folder.class_names)} classes found.",
                ClassSetWarning, stacklevel=2)
        subset = stratified_subset(folder.labels, int(max_samples), seed) if max_samples else None
        photos = load_photos(folder, resolution, resample, subset=subset, cache_dir=cache_dir,
                             progress=progress)
        self.target_names = list(photos.class_names)
        self.class_count = len(self.target_names)
        self.output_shape = [self.class_count]
        self.files, self.skipped = photos.files, photos.skipped
        self.cache_file, self.from_cache = photos.cache_file, photos.from_cache
        self.fingerprint = _photo_fingerprint(photos, resolution, resample, seed, tr_ratio,
                                              va_ratio)
        self._split(photos.images, photos.labels, seed, tr_ratio, va_ratio)

    def __repr__(self) -> str:
        return f"<FlowersDataset {self} from {self.path}>"



def _photo_fingerprint(photos, resolution, resample, seed, tr_ratio, va_ratio) -> str:
    """SHA-256 over the settings, class names, labels and per-image pixel digests.

    Each image's digest is a SHA-256 of its uint8 pixels (the array training sees), taken when
    it was decoded and stored in the cache with the image (the cache is a CRC-checked zip, so
    the digest still matches the cached pixels). Hashing these 16-byte digests instead of the
    pixels keeps a cached load fast.
    """
    h = hashlib.sha256(f"flowers-pixels v1|{resolution[0]}x{resolution[1]}|{resample}|{seed}|"
                       f"{tr_ratio}|{va_ratio}|{','.join(photos.class_names)}|".encode())
    h.update(np.ascontiguousarray(photos.labels, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(photos.pixel_digests, dtype=np.uint8).tobytes())
    return h.hexdigest()[:16]


def random_image_dataset(n=60, shape=(96, 96, 3), classes=5, seed=0, **kwargs) -> ArrayDataset:
    """Random uint8 images with random labels, split like the book (for tests and benchmarks:
    timings do not depend on pixel values; nothing can be learned from them)."""
    r = np.random.default_rng(seed)
    names = ["daisy", "dandelion", "rose", "sunflower", "tulip"]
    names = names[:classes] if classes <= 5 else [f"class{i}" for i in range(classes)]
    return ArrayDataset(r.integers(0, 256, (n,) + tuple(shape), dtype=np.uint8),
                        r.integers(0, classes, n), names, name="random", **kwargs)
