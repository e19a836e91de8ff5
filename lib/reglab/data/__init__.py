"""Flower photos for chapter 8: finding, decoding, caching, splitting and fetching them.

``FlowersDataset`` is the book's dataset (uint8 storage, cached decoding, see ``cache``);
``make_synthetic_flowers`` writes a small stand-in folder for tests; ``fetch_flowers`` downloads
the public TensorFlow flower photos into ``data/flowers``.
"""

from .cache import CacheWarning
from .dataset import (ArrayDataset, ClassSetWarning, FlowersDataset, format_select_results,
                      random_image_dataset, split_counts, stratified_subset)
from .fetch import FetchError, UnsafeArchiveError, fetch_flowers
from .images import BOOK_CLASSES, PhotoDecodeWarning
from .synthetic import make_synthetic_flowers

__all__ = [
    "FlowersDataset", "ArrayDataset", "random_image_dataset", "make_synthetic_flowers", "fetch_flowers", "format_select_results",
    "split_counts", "stratified_subset", "FetchError", "UnsafeArchiveError", "CacheWarning",
    "PhotoDecodeWarning", "ClassSetWarning", "BOOK_CLASSES",
]
