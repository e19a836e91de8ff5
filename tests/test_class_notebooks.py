"""The class notebooks (notebooks/class/) and their helpers (reglab.classroom).

* static rules: one notebook per technique, Korean text with LaTeX formulas, a typed
  ``parameters`` cell, ipywidgets controls, no training loop in the notebook, PNG figures;
* the helpers: data fallback, subsets, sweeps, batch-norm statistics that leave the model
  untouched, Korean plots without missing glyphs, a control panel that runs headless;
* every notebook executed by ``pytest --nbval-lax`` (with its defaults, in a temporary copy so
  nothing is written into the repository) within the classroom time limit. With
  ``FLOWERS_DIR`` set the notebooks use the real photos, otherwise the synthetic stand-in.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from reglab import Model, classroom
from reglab.paths import project_root

ROOT = project_root()
CLASS_DIR = ROOT / "notebooks" / "class"
CLASS_NOTEBOOKS = ["01_overfitting.ipynb", "02_l2_l1.ipynb", "03_dropout.ipynb", "04_noise.ipynb",
                   "05_batchnorm.ipynb"]
#: Wall time allowed for one notebook under nbval (kernel start included), seconds: one minute
#: on 2 cores.
TIME_LIMIT = 60
CELL_TIMEOUT = 60
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _load(name: str) -> dict:
    with open(CLASS_DIR / name, encoding="utf-8") as f:
        return json.load(f)


def _source(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _code(nb: dict) -> str:
    return "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "code")


def _markdown(nb: dict) -> str:
    return "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")


# ---- static rules --------------------------------------------------------------------------
def test_one_notebook_per_technique_and_an_index():
    found = sorted(p.name for p in CLASS_DIR.glob("*.ipynb"))
    assert found == CLASS_NOTEBOOKS
    index = (CLASS_DIR / "00_README.md").read_text(encoding="utf-8")
    for name in CLASS_NOTEBOOKS:
        assert name in index, f"00_README.md does not list {name}"
    assert "make lab" in index


@pytest.mark.parametrize("name", CLASS_NOTEBOOKS)
def test_korean_text_with_formulas(name):
    nb = _load(name)
    title = _source(nb["cells"][0])
    assert title.startswith("# ") and HANGUL.search(title.splitlines()[0])
    md = _markdown(nb)
    assert "$$" in md, "the idea needs its formula as LaTeX display math"
    assert len(HANGUL.findall(md)) > 300, "the explanation should be in Korean"
    assert "직접 해 보기" in md


@pytest.mark.parametrize("name", CLASS_NOTEBOOKS)
def test_parameters_cell_typed_and_documented(name):
    import papermill as pm
    params = pm.inspect_notebook(str(CLASS_DIR / name))
    assert "data_dir" in params and params["data_dir"]["default"] == '""'
    assert "seed" in params
    for key, p in params.items():
        assert p["inferred_type_name"] not in ("None", ""), f"{key} has no type annotation"
        assert p["help"].strip(), f"{key} has no comment"


@pytest.mark.parametrize("name", CLASS_NOTEBOOKS)
def test_thin_notebook_with_widgets_and_png(name):
    code = _code(_load(name))
    assert ".train(" not in code and "for epoch" not in code, "training loops belong in reglab.classroom"
    assert "classroom.load_class_data(" in code
    assert "classroom.control_panel(" in code and "import ipywidgets" in code
    assert "display(panel)" in code
    assert 'figure_formats = ["png"]' in code and "setup_korean_fonts()" in code
    assert "svg" not in code.lower()
    assert "input(" not in code, "never wait for input: papermill and nbval run top to bottom"


def test_readme_and_makefile_point_at_the_class_notebooks():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    korean, _, english = readme.partition("## English")
    for part in (korean, english):
        assert "make lab" in part and "notebooks/class" in part
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^lab:", makefile, re.M)
    assert "--ServerApp.root_dir=notebooks" in makefile


# ---- helpers -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic_ds():
    return classroom.load_class_data(300, 12, "synthetic", verbose=False)


def test_load_class_data_synthetic_is_grey_and_seeded(synthetic_ds, capsys):
    ds = synthetic_ds
    assert ds.source == "synthetic"
    assert (ds.train_count, ds.validate_count) == (180, 90)
    assert ds.tr_xs.shape[1:] == (12, 12, 3) and ds.tr_xs.dtype == np.uint8
    assert np.array_equal(ds.tr_xs[..., 0], ds.tr_xs[..., 2]), "synthetic photos are grey"
    again = classroom.load_class_data(300, 12, "synthetic")
    assert np.array_equal(again.tr_xs, ds.tr_xs) and np.array_equal(again.va_ys, ds.va_ys)
    out = capsys.readouterr().out
    assert "합성 사진" in out and "학습 180장" in out


def test_load_class_data_falls_back_to_synthetic(monkeypatch, capsys, tmp_path):
    from reglab.data import images

    def no_photos(path=None):
        raise FileNotFoundError("no photos")
    monkeypatch.setattr(images, "resolve_photo_dir", no_photos)
    monkeypatch.delenv("FLOWERS_DIR", raising=False)
    assert classroom.find_photo_dir("")[0] is None
    ds = classroom.load_class_data(100, 12, "")
    assert ds.source == "synthetic"
    assert "사진 폴더가 없어" in capsys.readouterr().out
    monkeypatch.setenv("FLOWERS_DIR", str(tmp_path / "nowhere"))
    folder, origin = classroom.find_photo_dir(None)
    assert folder is None and "FLOWERS_DIR=" in origin


def test_load_class_data_from_a_folder(synthetic_flowers, capsys):
    ds = classroom.load_class_data(50, 12, str(synthetic_flowers), tr_ratio=0.6, va_ratio=0.4)
    assert ds.source == "photos" and len(ds) == 50
    assert "실제 꽃 사진" in capsys.readouterr().out


def test_with_train_count_keeps_validation(synthetic_ds):
    small = classroom.with_train_count(synthetic_ds, 40)
    assert small.train_count == 40 and synthetic_ds.train_count == 180
    assert small.va_xs is synthetic_ds.va_xs
    assert np.array_equal(small.tr_ys, synthetic_ds.tr_ys[:40])
    with pytest.raises(ValueError):
        classroom.with_train_count(synthetic_ds, 0)


def test_sweep_is_seeded_and_quiet(synthetic_ds, capsys):
    def make(lam):
        return Model("t", synthetic_ds, [8], l1_decay=lam, seed=3)

    res = classroom.sweep([0.0, 0.01], make, epochs=2, label="λ")
    assert [r["value"] for r in res] == [0.0, 0.01]
    assert all(len(r["history"]) == 2 and r["total"] == r["weights"].size for r in res)
    out = capsys.readouterr().out
    assert "train ended" not in out and out.count("λ=") == 2
    again = classroom.sweep([0.0], make, epochs=2, verbose=False)
    assert np.array_equal(again[0]["weights"], res[0]["weights"])
    m = classroom.final_metrics(res[0]["history"])
    assert 1 <= m["best_epoch"] <= 2
    dead, units = classroom.inactive_units(res[0]["model"], synthetic_ds.tr_xs)
    assert units == 8 and 0 <= dead <= 8


@pytest.mark.parametrize("profile", ["exact", "book"])
def test_activation_stats_leave_the_model_unchanged(synthetic_ds, profile):
    hc = [["batch_normal"], ["conv", {"ksize": 3, "chn": 4}], ["max", {"stride": 2}],
          ["dropout", {"keep_prob": 0.5}], ["batch_normal"], ["conv", {"ksize": 3, "chn": 4}],
          ["avg", {"stride": 6}]]
    m = Model("bn", synthetic_ds, hc, profile=profile, seed=5)
    xs = synthetic_ds.va_xs[:20]
    before = {k: v.copy() for k, v in m._state_arrays().items()}
    rng_state = m._layer_rng.bit_generator.state
    stats = classroom.activation_stats(m, xs)
    assert {(s["mode"], s["bn"]) for s in stats} == {(mo, b) for mo in ("eval", "train")
                                                     for b in (1, 2)}
    for k, v in m._state_arrays().items():
        assert np.array_equal(v, before[k]), f"{k} changed"
    assert m._layer_rng.bit_generator.state == rng_state
    train = {s["bn"]: s for s in stats if s["mode"] == "train"}
    evals = {s["bn"]: s for s in stats if s["mode"] == "eval"}
    assert train[1]["channels"] == 3 and train[2]["channels"] == 4
    np.testing.assert_allclose(train[1]["out_mean"], 0, atol=1e-4)
    np.testing.assert_allclose(train[1]["out_std"], 1, atol=1e-3)
    # untrained running statistics are (0, 1): evaluation mode passes the input through
    np.testing.assert_allclose(evals[1]["out_mean"], evals[1]["in_mean"], rtol=1e-4, atol=1e-6)
    assert len(classroom.bn_stats_lines(stats)) == 2
    with pytest.raises(ValueError):
        classroom.activation_stats(m, xs, modes=("test",))


def test_plots_have_korean_glyphs(synthetic_ds, caplog):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    l2 = classroom.sweep([0.0, 1e-3], lambda v: Model("a", synthetic_ds, [8], l2_decay=v),
                         epochs=2, label="L2 λ", verbose=False)
    l1 = classroom.sweep([0.0, 1e-3], lambda v: Model("b", synthetic_ds, [8], l1_decay=v),
                         epochs=2, label="L1 λ", verbose=False)
    hc = [["batch_normal"], ["conv", {"ksize": 3, "chn": 4}], ["avg", {"stride": 12}]]
    bn = {p: classroom.activation_stats(Model("c", synthetic_ds, hc, profile=p), synthetic_ds.va_xs[:10])
          for p in ("exact", "book")}
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        figs = [classroom.plot_curves(l2, title="곡선"),
                classroom.plot_overfitting(l2[0]["history"], title="과적합"),
                classroom.plot_weight_hists({"L2": l2, "L1": l1}, title="가중치"),
                classroom.plot_near_zero({"L2": l2, "L1": l1}).figure,
                classroom.plot_bn_stats(bn, title="배치 정규화"),
                classroom.show_noisy_photos(synthetic_ds, [0, 0.5], count=2)]
        for fig in figs:
            fig.canvas.draw()
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "glyph" in m.lower()], messages
    plt.close("all")


def test_control_panel_runs_headless():
    import ipywidgets as widgets

    calls = []

    def run(n, name):
        calls.append((n, name))
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, n])
        return fig

    panel = classroom.control_panel({"n": widgets.IntSlider(value=3), "name": widgets.Dropdown(
        options=["a", "b"], value="b")}, run, title="<b>실험</b>")
    assert isinstance(panel, widgets.VBox) and panel.output in panel.children
    assert calls == []                       # building the panel runs nothing
    panel.press()
    assert calls == [(3, "b")]
    panel.children[1].value = 5
    panel.press()
    assert calls[-1] == (5, "b")
    assert panel.status.value.startswith("끝")


def test_control_panel_reports_a_failed_run(capsys):
    """A run that raises: the status says 오류 with the message (not "끝"), the traceback is
    shown, the button is usable again and the callback itself does not raise."""
    import ipywidgets as widgets

    def run(n):
        raise ValueError(f"bad n={n}")

    panel = classroom.control_panel({"n": widgets.IntSlider(value=2)}, run)
    assert panel.press() is False
    assert "오류" in panel.status.value and "끝" not in panel.status.value
    assert "ValueError" in panel.status.value and "bad n=2" in panel.status.value
    assert not panel.button.disabled
    assert "Traceback" in capsys.readouterr().err
    panel.button.click()                     # through the button's own callback, too
    assert "오류" in panel.status.value


def test_figures_are_explicit_and_locked(synthetic_ds):
    """The helpers build Figures outside pyplot's list and hold the figure lock."""
    import threading

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    before = plt.get_fignums()
    hist = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1 + (e - 3) ** 2 / 10,
             "train_acc": 0.5, "val_acc": 0.4} for e in range(1, 7)]
    fig = classroom.plot_overfitting(hist, title="t")
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any("검증 손실 최저 (3 에폭)" in t for t in labels), labels
    assert not any(ax.get_legend() for ax in fig.axes), "legends go under the panels"
    line_styles = {ln.get_linestyle() for ln in fig.axes[0].get_lines()[:2]}
    assert line_styles == {"-", "--"}

    got = []

    def other():
        got.append(classroom.FIGURE_LOCK.acquire(blocking=False))

    with classroom.FIGURE_LOCK:
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert got == [False], "another thread must wait for the figure lock"


# ---- execution under nbval -----------------------------------------------------------------
@pytest.mark.parametrize("name", CLASS_NOTEBOOKS)
def test_notebook_runs_under_nbval_in_time(name, tmp_path):
    """``pytest --nbval-lax`` on a copy: every cell runs with its defaults, within the limit,
    and nothing is written next to the notebook or into the repository."""
    nb_copy = tmp_path / name
    shutil.copy(CLASS_DIR / name, nb_copy)
    class_before = sorted(p.name for p in CLASS_DIR.iterdir())
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
         f"--nbval-cell-timeout={CELL_TIMEOUT}", "-p", "no:cacheprovider", "-q", str(nb_copy)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=3 * TIME_LIMIT, check=False)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", proc.stdout), proc.stdout[-2000:]
    assert elapsed < TIME_LIMIT, f"{name} took {elapsed:.1f} s under nbval (limit {TIME_LIMIT} s)"
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != name)
    assert leftovers == [], f"the notebook wrote {leftovers}"
    assert sorted(p.name for p in CLASS_DIR.iterdir()) == class_before
    print(f"{name}: {elapsed:.1f} s under nbval "
          f"({'FLOWERS_DIR' if os.environ.get('FLOWERS_DIR') else 'synthetic photos'})")


def test_accuracy_by_mode_leaves_the_model_unchanged(synthetic_ds):
    drop = ["dropout", {"keep_prob": 0.5}]
    m = Model("d", synthetic_ds, [16, drop], seed=2)
    classroom.train_quietly(m, 1)
    before = {k: v.copy() for k, v in m._state_arrays().items()}
    rng_states = [l.rng.bit_generator.state for l in m.layers if getattr(l, "rng", None) is not None]
    acc = classroom.accuracy_by_mode(m, synthetic_ds.tr_xs, synthetic_ds.tr_ys, repeats=2)
    assert set(acc) == {"eval", "train"} and all(0 <= v <= 1 for v in acc.values())
    assert acc["eval"] == pytest.approx(m.evaluate(synthetic_ds.tr_xs, synthetic_ds.tr_ys)[1])
    for k, v in m._state_arrays().items():
        assert np.array_equal(v, before[k]), f"{k} changed"
    assert [l.rng.bit_generator.state for l in m.layers
            if getattr(l, "rng", None) is not None] == rng_states


def test_live_weight_share_splits_live_and_silent_units(synthetic_ds):
    m = Model("l", synthetic_ds, [8], seed=4)
    w = m.layers[0].params["w"]
    w[:, :4] = 0.0                               # units 0-3 silent: no input reaches them
    m.layers[0].params["b"][...] = np.where(np.arange(8) < 4, -1.0, 1.0)
    w[:, 4] = 0.0                                # unit 4 live (bias only), all its weights 0
    share = classroom.live_weight_share(m, synthetic_ds.tr_xs[:20], 1e-3)
    assert (share["live_units"], share["units"]) == (4, 8)
    assert share["live"] == pytest.approx(classroom.weight_share(w[:, 4:], 1e-3))
    assert share["all"] == pytest.approx(classroom.weight_share(w, 1e-3))
    assert 0.25 <= share["live"] < 0.3 and share["all"] >= 5 / 8
    assert classroom.inactive_units(m, synthetic_ds.tr_xs[:20]) == (4, 8)


def test_layer_inputs_and_value_hists(synthetic_ds):
    from matplotlib.figure import Figure

    hc = [["batch_normal"], ["conv", {"ksize": 3, "chn": 4}], ["max", {"stride": 2}],
          ["batch_normal"], ["conv", {"ksize": 3, "chn": 4}], ["avg", {"stride": 6}]]
    m = Model("v", synthetic_ds, hc, seed=6)
    before = {k: v.copy() for k, v in m._state_arrays().items()}
    xs = synthetic_ds.va_xs[:10]
    last = classroom.layer_inputs(m, xs, "conv", -1)
    assert last.size == 10 * 4 * 6 * 6                     # after one 2x2 max pool of 12x12
    first = classroom.layer_inputs(m, xs, "batch_normal", 0)
    assert first.size == xs.size
    for k, v in m._state_arrays().items():
        assert np.array_equal(v, before[k]), f"{k} changed"
    with pytest.raises(ValueError):
        classroom.layer_inputs(m, xs, "dropout")
    fig = classroom.plot_value_hists({"a": last, "b": first}, title="값")
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_outputs_by_mode_differ_in_training_mode_only(synthetic_ds):
    drop = ["dropout", {"keep_prob": 0.5}]
    m = Model("d", synthetic_ds, [32, drop], seed=3)
    classroom.train_quietly(m, 1)
    before = {k: v.copy() for k, v in m._state_arrays().items()}
    photo = synthetic_ds.va_xs[0]
    out = classroom.outputs_by_mode(m, photo, repeats=4)
    again = classroom.outputs_by_mode(m, photo[None], repeats=4)
    k = synthetic_ds.class_count
    assert out["eval"].shape == (k,) and out["train"].shape == (4, k)
    assert np.allclose(out["train"].sum(axis=1), 1.0) and np.isclose(out["eval"].sum(), 1.0)
    assert np.allclose(out["eval"], m.predict_proba(photo[None])[0], rtol=1e-6)
    assert np.array_equal(out["eval"], again["eval"])             # evaluation mode: one output
    assert np.array_equal(out["train"], again["train"])           # the model's stream is restored
    assert np.ptp(out["train"], axis=0).max() > 1e-3              # every mask gives another output
    for name, v in m._state_arrays().items():
        assert np.array_equal(v, before[name]), f"{name} changed"
    fig = classroom.plot_mode_outputs(out, synthetic_ds.target_names, title="한 장")
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 5


def test_seed_spread_trains_each_seed_and_reuses_a_trained_run(synthetic_ds):
    made = []

    def make(value, seed):
        made.append((value, seed))
        return Model("s", synthetic_ds, [8], l2_decay=value, seed=seed)

    base = classroom.sweep([0.0], lambda v: Model("s", synthetic_ds, [8], l2_decay=v, seed=7),
                           epochs=1, verbose=False)
    rows = classroom.seed_spread([0.0, 0.01], make, [7, 8], epochs=1, trained=base, trained_seed=7)
    assert made == [(0.0, 8), (0.01, 7), (0.01, 8)]
    assert rows[0]["seeds"] == [7, 8] and rows[1]["seeds"] == [7, 8]
    assert rows[0]["val_acc"][0] == base[0]["history"][-1]["val_acc"]
    again = classroom.seed_spread([0.0], make, [8], epochs=1)
    assert again[0]["val_acc"][0] == rows[0]["val_acc"][1]          # same seed, same result
    with pytest.raises(ValueError, match="trained_seed"):
        classroom.seed_spread([0.0], make, [8], trained=base)


def test_spread_lines_call_a_difference_within_the_spread_by_its_name():
    a = {"value": 1.0, "label": "p", "val_acc": np.array([0.30, 0.40, 0.35])}
    near = {"value": 0.5, "label": "p", "val_acc": np.array([0.33, 0.38, 0.36])}
    far = {"value": 0.5, "label": "p", "val_acc": np.array([0.60, 0.61, 0.62])}
    lines = classroom.spread_lines([a, near])
    assert lines[0].startswith("p=1: 검증 정확도 0.350 ± σ 0.050 (시드 3개")
    assert "흩어짐 안에" in lines[2] and "+0.007" in lines[2]
    se2 = 2 * np.sqrt(0.05 ** 2 / 3 + 0.01 ** 2 / 3)
    assert f"{se2:.3f}" in classroom.spread_lines([a, far])[2]
    assert "흩어짐보다 큽니다" in classroom.spread_lines([a, far])[2]


@pytest.mark.parametrize("name", CLASS_NOTEBOOKS)
def test_first_code_cell_installs_reglab_only_when_missing(name):
    """Colab or a JupyterHub without reglab: the first code cell installs it; where reglab is
    importable (papermill, nbval, a checkout) it only says which photos the notebook will use."""
    cells = _load(name)["cells"]
    first = next(c for c in cells if c["cell_type"] == "code")
    src = _source(first)
    assert cells.index(first) == 1 and "parameters" not in first["metadata"].get("tags", [])
    assert "import reglab\nexcept ImportError:" in src and "%pip install" in src
    assert src.index("%pip install") > src.index("except ImportError")
    assert "prepare_photos(" in src
    later = "\n".join(_source(c) for c in cells[cells.index(first) + 1:] if c["cell_type"] == "code")
    assert "%pip" not in later
