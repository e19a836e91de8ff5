"""Shared fixtures: synthetic photos, the real photos (if any) and an isolated image cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reglab.data import make_synthetic_flowers


def _env_folder(tmp_path_factory, var: str, name: str):
    """Point ``var`` at a new temporary folder for the whole test session, then restore it."""
    folder = tmp_path_factory.mktemp(name)
    old = os.environ.get(var)
    os.environ[var] = str(folder)
    yield folder
    if old is None:
        os.environ.pop(var, None)
    else:
        os.environ[var] = old


@pytest.fixture(scope="session", autouse=True)
def _isolated_image_cache(tmp_path_factory):
    """Point ``REGLAB_CACHE_DIR`` at a temporary folder so tests never touch the user's cache."""
    yield from _env_folder(tmp_path_factory, "REGLAB_CACHE_DIR", "reglab-cache")


@pytest.fixture(scope="session", autouse=True)
def _isolated_user_data(tmp_path_factory):
    """Point ``REGLAB_DATA_DIR`` at an empty temporary folder: photos the user fetched into the
    user data folder never change which photos a test finds."""
    yield from _env_folder(tmp_path_factory, "REGLAB_DATA_DIR", "reglab-data")


@pytest.fixture(scope="session")
def synthetic_flowers(tmp_path_factory) -> Path:
    """A synthetic 5-class photo folder (20 small JPEGs per class, Kaggle class names).

    Shared by the whole session: tests that modify photos must copy it first.
    """
    root = tmp_path_factory.mktemp("synthetic") / "flowers"
    return make_synthetic_flowers(root, n_per_class=20, size=(40, 48), seed=0)


@pytest.fixture(scope="session")
def flowers_dir() -> Path:
    """The real photo folder from ``$FLOWERS_DIR``; tests using it are skipped without it."""
    value = os.environ.get("FLOWERS_DIR")
    if not value:
        pytest.skip("FLOWERS_DIR not set: real-data test skipped")
    return Path(value)
