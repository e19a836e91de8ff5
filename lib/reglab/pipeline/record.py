"""One recorded run: train a model through the library and write its results atomically.

The training notebook (``notebooks/train_model.ipynb``) calls :func:`execute_run`; the runner
(``python -m reglab run``) and the report read the files it writes. A run's files, in
``results_dir``:

* ``<name>.json`` — the result record (``<run_id>.json`` when the config has a ``run_id``;
  schema below), written last and atomically, strict JSON (NaN and infinities as ``null``,
  e.g. the validation loss of a subset without validation photos);
* ``<name>.npz`` — the trained parameters (:meth:`reglab.Model.save`, atomic), written before
  the record.

Under the runner, the executed notebook is renamed into place after the kernel ends and the
runner then rewrites the record with ``"notebook"``: only a record that names a completed
notebook counts as finished for resume (:func:`is_finished`).

Result record (``SCHEMA_VERSION`` 1)::

    {"schema": 1, "status": "ok", "name", "profile", "config": {...}, "config_key",
     "dataset": {"description", "path", "train", "validation", "test", "classes"},
     "parameters": {"weights", "biases", "bn_affine", "total"},
     "history": [{"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"}, ...],
     "test_acc", "train_seconds", "train_secs_book", "test_seconds",
     "near_zero": {"count", "total", "threshold"},
     "weights": {"mu", "sigma", "hist_edges", "hist_density", "zoom_edges", "zoom_density"},
     "log": "<the book's printed lines>", "params_file": "<name>.npz",
     "versions": {...}, "finished_at": "<ISO time>"}

The runner adds ``"notebook": "<name>.ipynb"`` and ``"wall_seconds"``
(:func:`reglab.pipeline.tasks.run_task`); a run done on a Dask cluster also gets ``"worker":
{"address", "host"}``, a study run copied from a chapter run ``"reused_from"``. A failed run's
record, written by the runner, has ``"status": "failed"`` and ``"error"`` with ``name``,
``profile``, ``config``, ``config_key``, ``notebook`` (None if it was not written),
``wall_seconds`` and ``finished_at``. File names in a record (``params_file``, ``notebook``,
``reused_from``) are relative to the record's folder.
``config.data_dir`` is the ``data_dir`` the run was given (``"synthetic"``, ``""`` or a
folder) and ``dataset.path`` the folder the photos were read from, both relative to the
project root (:func:`stored_config`).

``config_key`` is a hash of everything that decides the numbers (the config and the data
folder's fingerprint), so the runner can skip a finished run and redo a changed one.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import hashlib
import io
import json
import numbers
import platform
import sys
import time
from pathlib import Path

import numpy as np

from ..fileio import write_json_atomic
from ..paths import relative_to_root
from ..profile import get_profile

__all__ = ["SCHEMA_VERSION", "make_config", "run_stem", "run_profile", "config_key",
           "load_dataset", "execute_run", "read_result", "write_json_atomic", "result_path",
           "is_finished", "notebook_completed", "stored_config", "Tee"]

SCHEMA_VERSION = 1


#: What a parameter must be, as :func:`make_config`'s messages say it.
_INT, _NUMBER, _TEXT = "a whole number (int)", "a number (float)", "a text (str)"
_LIST, _INT_LIST, _DICT = "a list", "a list of whole numbers (int)", "a dict"


def _check(name, value, wanted) -> None:
    """Raise TypeError naming the parameter ``name`` unless ``value`` is ``wanted``."""
    if wanted in (_INT, _INT_LIST):
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif wanted == _NUMBER:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    elif wanted == _TEXT:
        ok = isinstance(value, str)
    elif wanted == _LIST:
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, dict)
    if not ok:
        raise TypeError(f"parameter {name} must be {wanted}, got {value!r} "
                        f"({type(value).__name__})")


def make_config(name, hconfigs, l2_decay=0.0, l1_decay=0.0, profile="exact", epochs=10,
                batch_size=10, learning_rate=0.001, seed=1234, resolution=(96, 96),
                max_samples=0, data_dir=None, report=2, profile_changes=None, run_id="") -> dict:
    """The run's configuration as plain JSON-able data (hconfigs deep-copied).

    Every parameter is checked first: a value of the wrong type (``epochs=2.5``,
    ``l2_decay="abc"``) raises TypeError naming the parameter and the type it takes, so that a
    wrong papermill parameter stops the training notebook before anything runs.

    ``profile_changes`` (e.g. ``{"input_scale": 1/255}``) flips fields of the named profile for
    an ablation; ``run_id`` names the result files when several runs share a model name (the
    study's seeds and switches). Both are stored only when given, so plain runs keep their keys.
    """
    for pname, value, wanted in (
            ("name", name, _TEXT), ("hconfigs", hconfigs, _LIST),
            ("l2_decay", l2_decay, _NUMBER), ("l1_decay", l1_decay, _NUMBER),
            ("profile", profile, _TEXT), ("epochs", epochs, _INT),
            ("batch_size", batch_size, _INT), ("learning_rate", learning_rate, _NUMBER),
            ("seed", seed, _INT), ("resolution", resolution, _LIST),
            ("max_samples", max_samples, _INT), ("report", report, _INT),
            ("run_id", run_id or "", _TEXT),
            ("profile_changes", profile_changes or {}, _DICT)):
        _check(pname, value, wanted)
    for r in resolution:
        _check("resolution", r, _INT_LIST)
    if data_dir is not None and not isinstance(data_dir, (str, Path)):
        raise TypeError(f"parameter data_dir must be a text (str) or a path, got {data_dir!r} "
                        f"({type(data_dir).__name__})")
    config = {"name": str(name), "hconfigs": copy.deepcopy(hconfigs), "l2_decay": float(l2_decay),
              "l1_decay": float(l1_decay), "profile": str(profile), "epochs": int(epochs),
              "batch_size": int(batch_size), "learning_rate": float(learning_rate),
              "seed": int(seed), "resolution": [int(r) for r in resolution],
              "max_samples": int(max_samples),
              "data_dir": None if data_dir is None else str(data_dir), "report": int(report)}
    if profile_changes:
        get_profile(profile).replace(**profile_changes)          # fail early on a bad field
        config["profile_changes"] = dict(sorted(profile_changes.items()))
    if run_id:
        config["run_id"] = str(run_id)
    return config


def run_stem(config: dict) -> str:
    """File stem of a run's results: ``run_id`` if given, else the model name."""
    return config.get("run_id") or config["name"]


def run_profile(config: dict):
    """The :class:`~reglab.profile.Profile` of a run: the named one with ``profile_changes``."""
    changes = config.get("profile_changes")
    base = get_profile(config["profile"])
    return base.replace(**changes) if changes else base


def config_key(config: dict, data_fingerprint: str = "") -> str:
    """A short hash of the config (minus the data path and print interval), the data and the
    :data:`reglab.nn.NUMERICS_VERSION` (so results of older arithmetic are not reused)."""
    from ..nn import NUMERICS_VERSION
    keyed = {k: v for k, v in config.items() if k not in ("data_dir", "report", "run_id")}
    blob = (json.dumps(keyed, sort_keys=True) + "|" + data_fingerprint
            + f"|numerics={NUMERICS_VERSION}")
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_dataset(config: dict, **kwargs):
    """The FlowersDataset a run of ``config`` trains on (``data_dir`` as
    :func:`reglab.pipeline.notebooks.resolve_data_dir` reads it, ``resolution``,
    ``max_samples``; split seed 1234). The runner loads it the same way to compute the key."""
    from ..data import FlowersDataset
    from .notebooks import resolve_data_dir
    res = list(config["resolution"])
    return FlowersDataset(res, res + [3], path=resolve_data_dir(config["data_dir"]), seed=1234,
                          max_samples=config["max_samples"], **kwargs)


def stored_config(config: dict) -> dict:
    """``config`` as a record stores it: a photo folder relative to the project root
    (:func:`reglab.paths.relative_to_root`), so committed records name no machine's folders."""
    data_dir = config.get("data_dir")
    if not data_dir or data_dir == "synthetic":
        return dict(config)
    return {**config, "data_dir": relative_to_root(data_dir)}


def result_path(results_dir, name) -> Path:
    return Path(results_dir) / f"{name}.json"


def read_result(path) -> dict | None:
    """The result record at ``path``, or None if it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA_VERSION else None


def notebook_completed(path) -> bool:
    """True if the executed notebook at ``path`` ran to its end: it exists, papermill recorded
    no exception and no cell is still ``pending`` or ``running`` (as a killed run leaves it)."""
    try:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
    except (OSError, ValueError):
        return False
    if not isinstance(nb, dict):
        return False
    meta = (nb.get("metadata") or {}).get("papermill") or {}
    if meta.get("exception"):
        return False
    states = [((c.get("metadata") or {}).get("papermill") or {}).get("status")
              for c in nb.get("cells") or []]
    return not any(s in ("pending", "running", "failed") for s in states)


def is_finished(path, key: str | None = None, *, notebook: bool = True) -> bool:
    """True if ``path`` holds a successful result (with ``config_key == key`` if given).

    With ``notebook`` (the runner's resume check), the record must also name its executed
    notebook (``"notebook"``, added by the runner once the notebook is in place) and that
    notebook must have completed (:func:`notebook_completed`): a record that the training
    notebook wrote during a run that was then killed does not count.
    """
    r = read_result(path)
    if not r or r.get("status") != "ok" or (key is not None and r.get("config_key") != key):
        return False
    if not notebook:
        return True
    name = r.get("notebook")
    if not name:
        return False
    folder = Path(path).parent
    # a record of an older runner may name its notebook by an absolute path: look beside it too
    return any(notebook_completed(p) for p in dict.fromkeys((folder / name,
                                                              folder / Path(name).name)))


class Tee(io.TextIOBase):
    """Write to several text streams at once (the notebook's output and a captured log)."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, s):
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self):
        for st in self.streams:
            st.flush()


def _weights_summary(w: np.ndarray) -> dict:
    w = np.asarray(w, dtype=np.float64)
    density, edges = np.histogram(w, bins=100, density=True)            # the book's bins
    zoom_density, zoom_edges = np.histogram(np.clip(w, -0.2, 0.2), bins=100, range=(-0.2, 0.2),
                                            density=True)
    return {"mu": float(w.mean()), "sigma": float(w.std()),
            "hist_edges": edges.tolist(), "hist_density": density.tolist(),
            "zoom_edges": zoom_edges.tolist(), "zoom_density": zoom_density.tolist()}


def execute_run(config: dict, results_dir, dataset=None, show_cnt: int = 0):
    """Train the model described by ``config``, print the book's log, write the results.

    Parameters
    ----------
    config : dict from :func:`make_config`
    results_dir : path
        Where ``<name>.json`` and ``<name>.npz`` go (created if needed).
    dataset : FlowersDataset, optional
        Built from ``config`` (``data_dir``, ``resolution``, ``max_samples``) if not given.
    show_cnt : int
        Passed to the book's ``visualize`` (photos shown in the notebook only; never stored).

    Returns
    -------
    model : reglab.Model
    result : dict
        The record written to ``<name>.json``.
    """
    from .. import __version__
    from ..nn.model import Model

    _check("show_cnt", show_cnt, _INT)
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    if dataset is None:
        dataset = load_dataset(config)
    fingerprint = getattr(dataset, "fingerprint", "") or str(dataset)
    key = config_key(config, fingerprint)
    model = Model(config["name"], dataset, config["hconfigs"], l2_decay=config["l2_decay"],
                  l1_decay=config["l1_decay"], profile=run_profile(config), seed=config["seed"])
    log = io.StringIO()
    with contextlib.redirect_stdout(Tee(sys.stdout, log)):
        t0 = time.time()
        model.train(config["epochs"], config["batch_size"], config["learning_rate"],
                    config["report"])
        train_secs_book = int(time.time()) - int(t0)
        t1 = time.perf_counter()
        test_acc = model.test()
        test_seconds = time.perf_counter() - t1
        if show_cnt > 0 and hasattr(dataset, "visualize"):
            model.visualize(show_cnt)
        near = model.near_zero_count()
        from ..nn.display import near_zero_line
        print(near_zero_line(near, model.store.n_decay))
    params_file = f"{run_stem(config)}.npz"
    model.save(results_dir / params_file)
    result = {
        "schema": SCHEMA_VERSION, "status": "ok", "name": config["name"],
        "profile": model.profile.name, "config": stored_config(config), "config_key": key,
        "dataset": {"description": str(dataset),
                    "path": relative_to_root(getattr(dataset, "path", "")),
                    "train": int(dataset.train_count), "validation": int(len(dataset.va_xs)),
                    "test": int(len(dataset.te_xs)),
                    "classes": list(getattr(dataset, "target_names", []))},
        "parameters": model.parameter_counts(),
        "history": model.history, "test_acc": float(test_acc),
        "train_seconds": float(model.train_seconds), "train_secs_book": train_secs_book,
        "test_seconds": test_seconds,
        "near_zero": {"count": near, "total": int(model.store.n_decay), "threshold": 1e-5},
        "weights": _weights_summary(model.store.weights),
        "log": log.getvalue(), "params_file": params_file,
        "versions": {"reglab": __version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    write_json_atomic(result_path(results_dir, run_stem(config)), result)
    return model, result
