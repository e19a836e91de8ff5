"""Paths stored in records: relative to the project root inside or beside the checkout."""

import os
from pathlib import Path

from reglab.paths import from_root, notebook_path, project_root, relative_to_root


def test_project_root_holds_pyproject_and_the_training_notebook():
    root = project_root()
    assert (root / "pyproject.toml").is_file()
    assert notebook_path("train_model.ipynb") == root / "notebooks" / "train_model.ipynb"


def test_paths_inside_or_beside_the_checkout_are_stored_relative_and_read_back():
    root = project_root()
    inside, beside = root / "data" / "flowers", root.parent / "shared" / "data" / "flowers"
    assert relative_to_root(inside) == "data/flowers"
    assert relative_to_root(beside) == "../shared/data/flowers"
    for p in (inside, beside):
        assert from_root(relative_to_root(p)).resolve() == p.resolve()


def test_paths_far_from_the_checkout_and_empty_ones_stay_as_given():
    far = Path("/x/photos")
    if len(project_root().parts) > 2:          # the checkout is two or more levels deep
        assert relative_to_root(far) == str(far)
    assert relative_to_root("") == ""
    assert from_root("/abs/photos") == Path("/abs/photos")


def test_a_relative_path_is_read_from_the_root_whatever_the_current_folder(tmp_path):
    # a notebook runs in its results folder and gets the photo folder relative to the root
    root = project_root()
    here = os.getcwd()
    try:
        for cwd in (tmp_path, root / "lib"):
            os.chdir(cwd)
            assert relative_to_root("../shared/data/flowers") == "../shared/data/flowers"
            assert relative_to_root("data/flowers") == "data/flowers"
            assert relative_to_root(root / "data" / "flowers") == "data/flowers"
    finally:
        os.chdir(here)
