"""The committed notebooks: clean (no outputs), kernel python3, a title, one parameters cell;
train_model.ipynb executed through papermill and through nbval on the synthetic photos."""

from __future__ import annotations

import ast
import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reglab.pipeline.experiments import get_run

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
TRAIN_NB = NB_DIR / "train_model.ipynb"
NOTEBOOKS = sorted(p for p in NB_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
IDS = [str(p.relative_to(NB_DIR)) for p in NOTEBOOKS]

TRAIN_PARAMETERS = ["name", "hconfigs", "l2_decay", "l1_decay", "profile", "epochs", "batch_size",
                    "learning_rate", "report", "seed", "data_dir", "resolution", "results_dir",
                    "max_samples", "show_cnt", "profile_changes", "run_id"]


def _load(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _tagged(nb: dict, tag: str) -> list[int]:
    return [i for i, c in enumerate(nb["cells"]) if tag in c.get("metadata", {}).get("tags", [])]


def _source(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def test_train_notebook_is_committed():
    assert TRAIN_NB in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_has_no_outputs(path):
    nb = _load(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"
        assert "papermill" not in cell.get("metadata", {}), f"cell {i} has papermill metadata"
    assert "papermill" not in nb["metadata"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_valid_nbformat_with_cell_ids(path):
    """nbformat 4.5 cells carry unique ids (nbformat warns on a missing one, and will refuse
    it); the notebook validates as it is on disk."""
    import nbformat
    nb = _load(path)
    ids = [c.get("id") for c in nb["cells"]]
    assert None not in ids, f"cells without an id: {[i for i, x in enumerate(ids) if x is None]}"
    assert len(set(ids)) == len(ids), "cell ids repeat"
    nbformat.validate(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_kernel_and_title(path):
    nb = _load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown"
    assert _source(first).lstrip().startswith("# "), "the first cell must be a markdown title"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameterized_notebook_has_one_parameters_cell(path):
    nb = _load(path)
    tagged = _tagged(nb, "parameters")
    assert len(tagged) <= 1, f"cells {tagged} are all tagged 'parameters'"
    assert not _tagged(nb, "injected-parameters"), "papermill's injected cell was committed"
    if path == TRAIN_NB:
        assert len(tagged) == 1


def test_train_notebook_parameters_are_typed_and_documented():
    import papermill as pm
    params = pm.inspect_notebook(str(TRAIN_NB))
    assert list(params) == TRAIN_PARAMETERS
    for name, p in params.items():
        assert p["inferred_type_name"] not in ("None", ""), f"{name} has no type annotation"
        assert p["help"].strip(), f"{name} has no comment"
    assert params["data_dir"]["default"] == '"synthetic"'
    assert ast.literal_eval(params["hconfigs"]["default"]) == get_run("flowers_cnn_1").hconfigs
    assert params["epochs"]["default"] == "2"


def test_train_notebook_has_no_training_loop():
    code = "\n".join(_source(c) for c in _load(TRAIN_NB)["cells"] if c["cell_type"] == "code")
    assert "execute_run(" in code
    assert ".train(" not in code and "for epoch" not in code
    assert "svg" not in code.lower()


# ---- executing it -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def executed(tmp_path_factory, synthetic_flowers):
    """train_model.ipynb run once through papermill's API with a 1-epoch CNN config."""
    import papermill as pm
    tmp = tmp_path_factory.mktemp("train_nb")
    results = tmp / "results"
    out = tmp / "t_cnn.ipynb"
    nb = pm.execute_notebook(
        str(TRAIN_NB), str(out), kernel_name="python3", cwd=str(tmp), progress_bar=False,
        log_output=False, execution_timeout=180,
        parameters={"name": "t_cnn", "hconfigs": get_run("flowers_cnn_1").hconfigs,
                    "epochs": 1, "data_dir": str(synthetic_flowers),
                    "results_dir": str(results)})
    return nb, results


def _outputs(nb):
    for cell in nb.cells:
        yield from cell.get("outputs", [])


def test_executed_without_error(executed):
    nb, _ = executed
    assert not nb.metadata.papermill.exception
    assert not [o for o in _outputs(nb) if o.output_type == "error"]


def test_executed_has_png_figures_only(executed):
    nb, _ = executed
    pngs = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(pngs) >= 2                      # learning curves + weight histogram
    assert base64.b64decode(pngs[0]["data"]["image/png"])[:4] == b"\x89PNG"
    assert not [o for o in _outputs(nb) if "image/svg+xml" in o.get("data", {})]


def test_executed_log_and_no_progress_bars(executed):
    nb, _ = executed
    text = "".join(o.get("text", "") for o in _outputs(nb) if o.output_type == "stream")
    assert "Model t_cnn train ended in" in text
    assert "Near 0 parameters = " in text
    assert "0에 가까운" in text                # the Korean sentence form
    assert "\r" not in text and "it/s]" not in text and "%|" not in text


def test_executed_results(executed):
    _, results = executed
    rec = json.loads((results / "t_cnn.json").read_text(encoding="utf-8"))
    assert rec["status"] == "ok"
    assert rec["name"] == "t_cnn" and rec["config"]["epochs"] == 1
    assert len(rec["history"]) == 1
    assert "Model t_cnn train ended in" in rec["log"]
    assert (results / rec["params_file"]).is_file()
    assert (results / "t_cnn.npz").is_file()


def test_nbval_lax_with_defaults(tmp_path):
    """``pytest --nbval-lax`` on a copy of the notebook: every cell runs with the defaults
    (synthetic photos, 2 epochs); results go to the copy's folder, not into the repository."""
    nb_copy = tmp_path / "train_model.ipynb"
    shutil.copy(TRAIN_NB, nb_copy)
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
         "--nbval-cell-timeout=180", "-p", "no:cacheprovider", "-q", str(nb_copy)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    rec = json.loads((tmp_path / "results_smoke" / "flowers_cnn_1.json").read_text("utf-8"))
    assert rec["status"] == "ok" and len(rec["history"]) == 2


def test_nbtools_helpers(executed):
    import copy

    from reglab.pipeline.notebooks import (ensure_kernel, parameters_cell_index, resolve_data_dir,
                                strip_outputs)
    nb, _ = executed
    assert (Path(ensure_kernel()) / "kernel.json").is_file()
    assert parameters_cell_index(nb) == 1
    clean = strip_outputs(copy.deepcopy(nb))
    for cell in clean.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        assert "papermill" not in cell.metadata
    assert "papermill" not in clean.metadata
    clean.cells[2].metadata["tags"] = ["parameters"]
    with pytest.raises(ValueError, match="tagged 'parameters'"):
        parameters_cell_index(clean)
    assert resolve_data_dir("") is None and resolve_data_dir(None) is None
    assert resolve_data_dir("some/photos") == str(Path.cwd() / "some" / "photos")
    synthetic = Path(resolve_data_dir("synthetic"))
    assert len(list(synthetic.glob("*/*.jpg"))) == 100
    assert resolve_data_dir("synthetic") == str(synthetic)           # made once, reused
