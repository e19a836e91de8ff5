"""Small synthetic "flower photo" folders for tests and smoke runs without the real photos.

Every class has its own dominant hue and its own pattern (rings, horizontal, vertical or diagonal
stripes, a disc), drawn over a random dark background with random frequency, phase, centre,
and Gaussian noise, so a small CNN separates the classes well above chance within a couple of
epochs, while no two photos are the same.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np

__all__ = ["make_synthetic_flowers", "DEFAULT_CLASSES", "EXTRA_FILES"]

DEFAULT_CLASSES = ("daisy", "dandelion", "rose", "sunflower", "tulip")

#: Edge-case files written with ``extras=True``: kind -> (class position, file name).
#: Four decode fine (into RGB), ``corrupt`` does not.
EXTRA_FILES = {
    "gray": (0, "x_gray.png"),          # mode L
    "rgba": (1, "x_rgba.png"),          # mode RGBA
    "cmyk": (2, "x_cmyk.jpg"),          # mode CMYK
    "palette": (3, "x_palette.gif"),    # mode P
    "corrupt": (4, "x_corrupt.jpg"),    # random bytes
}


def _photo(rng: np.random.Generator, cls: int, n_classes: int, size) -> np.ndarray:
    """One synthetic RGB photo of class ``cls``, uint8, shape (h, w, 3)."""
    h = max(8, int(round(size[0] * rng.uniform(0.8, 1.25))))
    w = max(8, int(round(size[1] * rng.uniform(0.8, 1.25))))
    cy, cx = rng.uniform(-0.3, 0.3, 2)
    yy, xx = np.meshgrid(np.linspace(-1, 1, h) - cy, np.linspace(-1, 1, w) - cx, indexing="ij")
    freq, phase = rng.uniform(1.5, 3.0), rng.uniform(0, 2 * np.pi)
    kind = cls % 5
    if kind == 0:
        wave = np.cos(np.pi * freq * np.hypot(yy, xx) * 1.5 + phase)
    elif kind == 1:
        wave = np.cos(np.pi * freq * yy + phase)
    elif kind == 2:
        wave = np.cos(np.pi * freq * xx + phase)
    elif kind == 3:
        wave = np.cos(np.pi * freq * (xx + yy) * 0.8 + phase)
    else:
        wave = np.tanh(8 * (rng.uniform(0.45, 0.7) - np.hypot(yy, xx)))
    mask = (0.5 + 0.5 * wave)[..., None]
    hue = (cls / n_classes + rng.uniform(-0.03, 0.03)) % 1.0
    fg = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.7, 1.0), rng.uniform(0.8, 1.0)))
    bg = rng.uniform(0.0, 0.35, 3)
    img = bg * (1 - mask) + fg * mask + rng.normal(0.0, 0.06, (h, w, 3))
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def make_synthetic_flowers(path, n_per_class=20, size=(40, 48), classes=DEFAULT_CLASSES,
                           seed=0, *, extras=False) -> Path:
    """Write a small photo folder ``path/<class>/<class>_NNN.jpg``.

    Parameters
    ----------
    path : path-like
        Folder to create (parents too); existing files with the same names are overwritten.
    n_per_class : int
        JPEG photos per class.
    size : (H, W)
        Typical photo size; each photo's height and width vary by a factor 0.8-1.25.
    classes : sequence of str
        Sub-folder names (pass TF names such as 'roses' to test the name mapping).
    seed : int
        All randomness comes from ``np.random.default_rng(seed)``: the same seed gives
        byte-identical files.
    extras : bool
        Also write edge cases (see ``EXTRA_FILES``): a grayscale PNG, an RGBA PNG, a CMYK JPEG, a
        palette GIF (all decodable), a corrupt ``.jpg`` of random bytes, plus non-images that the
        loader must ignore: ``README.txt`` at top level, ``notes.txt`` in the first class folder
        and a sub-folder ``_docs/`` holding only a text file. Needs at least 5 classes.

    Returns
    -------
    Path
        ``path``.
    """
    from PIL import Image
    root = Path(path)
    rng = np.random.default_rng(seed)
    classes = list(classes)
    for c, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            img = Image.fromarray(_photo(rng, c, len(classes), size))
            img.save(folder / f"{name}_{i:03d}.jpg", format="JPEG", quality=90)
    if extras:
        if len(classes) < 5:
            raise ValueError("extras=True needs at least 5 classes")
        rgb = {k: Image.fromarray(_photo(rng, c, len(classes), size))
               for k, (c, _) in EXTRA_FILES.items()}
        images = {
            "gray": rgb["gray"].convert("L"),
            "rgba": rgb["rgba"].convert("RGBA"),
            "cmyk": rgb["cmyk"].convert("CMYK"),
            "palette": rgb["palette"].convert("P", palette=Image.Palette.ADAPTIVE, colors=64),
        }
        for kind, img in images.items():
            c, fname = EXTRA_FILES[kind]
            img.save(root / classes[c] / fname)
        c, fname = EXTRA_FILES["corrupt"]
        (root / classes[c] / fname).write_bytes(rng.bytes(600))
        (root / "README.txt").write_text("synthetic flowers (not photos)\n")
        (root / classes[0] / "notes.txt").write_text("not an image\n")
        (root / "_docs").mkdir(exist_ok=True)
        (root / "_docs" / "about.txt").write_text("a folder without images\n")
    return root


def cached_synthetic_flowers(name: str, n_per_class: int, seed: int, root=None,
                             size=(40, 48)) -> Path:
    """A synthetic photo folder made once in the image cache and reused: ``<root>/<name>/flowers``.

    ``root`` defaults to the image cache folder (``$REGLAB_CACHE_DIR`` or ``~/.cache/reglab``).
    The set is written into a temporary folder and renamed into place, so notebooks starting
    together never see half a set; ``name`` should carry a version (change it when the recipe
    changes).
    """
    import os
    import shutil
    import tempfile

    from .images import default_cache_dir

    base = Path(root) if root is not None else default_cache_dir()
    final = base / name
    if (final / "flowers").is_dir():
        return final / "flowers"
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=base))
    try:
        make_synthetic_flowers(tmp / "flowers", n_per_class=n_per_class, size=size, seed=seed)
        try:
            os.rename(tmp, final)
        except OSError:                      # another process was faster
            if not (final / "flowers").is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final / "flowers"
