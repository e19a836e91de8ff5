"""The chapter and study reports say what the records show: collapsed runs named, seed noise
quoted, near-zero weights drawn near zero, no stale text, honest exit codes.

Records are built here (no training): schema-valid ok records with chosen accuracies; the
per-class split counts a collapse is read against are fixed by monkeypatching
:func:`reglab.report.collapse.split_class_counts`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from reglab.pipeline.experiments import CHAPTER8_RUNS, get_run
from reglab.pipeline.record import make_config, write_json_atomic
from reglab.pipeline.study import SEEDS
from reglab.report import chapter_sentences as sentences
from reglab.report import chapter_tables as tables
from reglab.report import cli, collapse, figures, render
from reglab.report.chapter_analysis import weight_values
from reglab.report.chapter_seeds import collapse_cause, load_seed_study, seed_acc
from reglab.report.records import build_report_data, build_study_data, load_report_data
from reglab.report.study_sentences import profile_sentences, seeds_sentences

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["daisy", "dandelion", "rose"]
COUNTS = {"classes": CLASSES, "train": np.array([50, 30, 20]),
          "validation": np.array([5, 5, 5]), "test": np.array([10, 25, 15])}
DANDELION = 25 / 50          # test share of dandelion
DANDELION_TRAIN = 30 / 100   # its train share


@pytest.fixture(autouse=True)
def fixed_split(monkeypatch):
    """Every record's splits hold the counts of :data:`COUNTS`."""
    monkeypatch.setattr(collapse, "split_class_counts", lambda record: COUNTS)


def record(name, profile, test_acc, *, train_acc=None, seed=1234, epochs=2, near=(1, 10),
           params_file=None) -> dict:
    """A schema-valid ok record; ``train_acc`` is the train accuracy of every epoch."""
    spec = get_run(name)
    cfg = make_config(profile=profile, epochs=epochs, seed=seed, **spec.model_kwargs())
    ta = train_acc if train_acc is not None else min(1.0, test_acc + 0.1)
    hist = [{"epoch": e, "train_loss": 1.0, "train_acc": ta, "val_loss": 1.1,
             "val_acc": test_acc, "seconds": 1.0} for e in range(1, epochs + 1)]
    rec = {"schema": 1, "status": "ok", "name": name, "profile": profile, "config": cfg,
           "config_key": "0" * 16,
           "dataset": {"path": "photos", "train": 100, "validation": 15, "test": 50,
                       "classes": CLASSES},
           "history": hist, "test_acc": float(test_acc), "train_seconds": 10.0,
           "near_zero": {"count": near[0], "total": near[1], "threshold": 1e-5},
           "weights": {"mu": 0.0, "sigma": 0.01, "hist_edges": [-0.1, 0.0, 0.1],
                       "hist_density": [1.0, 1.0], "zoom_edges": [-0.2, 0.0, 0.2],
                       "zoom_density": [1.0, 1.0]},
           "log": "", "finished_at": "2024-01-01T00:00:00+00:00"}
    if params_file:
        rec["params_file"] = params_file
    return rec


def collapsed_record(name, profile, **kw) -> dict:
    return record(name, profile, DANDELION, train_acc=DANDELION_TRAIN, **kw)


def report_data(accs: dict, runs_dir=None):
    """``{(profile, name): acc or "c" (collapsed on dandelion)}`` → ReportData."""
    recs = {}
    for (p, name), acc in accs.items():
        recs[(p, name)] = collapsed_record(name, p) if acc == "c" else record(name, p, acc)
    profiles = [p for p in ("book", "exact") if any(k[0] == p for k in accs)]
    return build_report_data(recs, profiles, runs_dir)


def seeds(profile, name, accs, collapsed=False, epochs=2) -> dict:
    """Seeds-study records of one model (the chapter's seed 1234 first)."""
    out = {}
    for s, a in zip(SEEDS, [None] * len(SEEDS) if collapsed else accs):
        rec = (collapsed_record(name, profile, seed=s, epochs=epochs) if collapsed
               else record(name, profile, a, seed=s, epochs=epochs))
        out[("seeds", profile, f"{name}__seed{s}")] = rec
    return out


def _bullet(lines, name):
    return next(s for s in lines if f"({name})" in s)


# ----------------------------------------------------------------------------- 1. collapse
MLP_BOOK_COLLAPSED = {("book", "flowers_model_1"): "c", ("book", "flowers_model_2"): "c",
                      ("book", "flowers_model_3"): "c",
                      ("exact", "flowers_model_1"): 0.60, ("exact", "flowers_model_2"): "c",
                      ("exact", "flowers_model_3"): 0.58}


def test_collapse_is_read_from_the_split_counts():
    data = report_data(MLP_BOOK_COLLAPSED)
    e = data.entry("book", "flowers_model_2")
    oc = collapse.one_class(e)
    assert oc["class"] == "dandelion" and oc["test_count"] == 25 and oc["test_n"] == 50
    # the same accuracy with a train accuracy away from the share is not a collapse
    moving = build_report_data({("book", "flowers_model_1"): record(
        "flowers_model_1", "book", DANDELION, train_acc=0.45)}, ["book"])
    assert collapse.one_class(moving.entry("book", "flowers_model_1")) is None
    assert collapse.with_ro("dandelion") == "dandelion(민들레)으로"
    assert collapse.with_ro("daisy") == "daisy(데이지)로"
    assert collapse.with_ro("lotus") == "lotus(으)로"


def test_two_collapsed_runs_are_never_the_same():
    data = report_data(MLP_BOOK_COLLAPSED)
    lines = sentences.technique_effect_sentences(data, "book")
    l2 = _bullet(lines, "flowers_model_2")
    assert "차이가 없습니다" not in l2 and "→ 같습니다" not in l2
    assert "모든 평가 사진을 dandelion(민들레)으로 예측" in l2 and "25/50 = 0.500" in l2
    assert "학습하지 못했다" in l2
    assert "E8" in l2 and "input_scale" in l2          # the cause: raw 0-255 inputs
    best = sentences.best_model_sentence(data, "book", "mlp")
    assert "모두 같습니다" not in best and "3개 전부가" in best and "dandelion" in best


def test_collapse_after_decay_points_at_lambda():
    data = report_data(MLP_BOOK_COLLAPSED)
    l2 = _bullet(sentences.technique_effect_sentences(data, "exact"), "flowers_model_2")
    assert "0.100 낮습니다" in l2 and "dandelion(민들레)으로 예측" in l2
    assert "정규화의 세기" in l2 and "λ=0.1" in l2 and "E8" not in l2
    assert collapse_cause(data, data.entry("exact", "flowers_model_3")) is None
    l1 = _bullet(sentences.technique_effect_sentences(data, "exact"), "flowers_model_3")
    assert "예측합니다" not in l1


def test_collapse_in_every_table_and_the_profile_comparison():
    data = report_data(MLP_BOOK_COLLAPSED)
    acc = tables.accuracy_table_html(data)
    assert "한 클래스만 예측" in acc and "예: dandelion(민들레) 25/50" in acc
    assert acc.count("아니오") == 2                       # exact model_1 and model_3
    run = tables.run_table_html(data.entry("book", "flowers_model_1"))
    assert "모든 평가 사진을 dandelion(민들레)으로 예측" in run
    assert "한 클래스만 예측" in tables.seed_comparison_table_html(data)
    assert "(한 클래스)" in tables.errata_table_html(data)
    diff = sentences.profile_diff_sentences(data)
    assert "같은 모델 0개" in diff and "두 프로파일 모두 한 클래스만 예측한 모델 1개" in diff
    assert "flowers_model_2 — book 0–255 입력(E8), exact 정규화(L2 λ=0.1)가 너무 강함" in diff
    assert "둘 다 한 클래스" in tables.profile_diff_table_html(data)
    overfit = sentences.overfitting_markdown(report_data({("book", "flowers_model_1"): "c"}))
    assert "0.500 (한 클래스만 예측)" in overfit


# ----------------------------------------------------------------------------- 2. seed noise
def test_comparisons_quote_the_seeds_or_say_one_run(tmp_path):
    accs = {("exact", "flowers_cnn_1"): 0.60, ("exact", "flowers_cnn_2"): 0.50}
    data = report_data(accs)
    one = _bullet(sentences.technique_effect_sentences(data, "exact"), "flowers_cnn_2")
    assert "한 번의 실행끼리의 비교" in one and "±" not in one
    study = build_study_data({**seeds("exact", "flowers_cnn_1", [0.60, 0.61, 0.59, 0.60, 0.62]),
                              **seeds("exact", "flowers_cnn_2", [0.50, 0.52, 0.49, 0.51, 0.50])})
    s = _bullet(sentences.technique_effect_sentences(data, "exact", study), "flowers_cnn_2")
    assert "시드 5개와 5개" in s and "드롭아웃 0.504 ± " in s and "기준 0.604 ± " in s
    assert "시드에 따른 흩어짐보다 큰 차이" in s and "0.100 낮습니다" in s
    noisy = build_study_data({**seeds("exact", "flowers_cnn_1", [0.60, 0.40, 0.70, 0.50, 0.65]),
                              **seeds("exact", "flowers_cnn_2", [0.50, 0.70, 0.45, 0.60, 0.52])})
    s = _bullet(sentences.technique_effect_sentences(data, "exact", noisy), "flowers_cnn_2")
    assert "흩어짐을 넘지 않습니다" in s
    # seeds of other settings (epochs) are not seeds of the same run
    other = build_study_data({**seeds("exact", "flowers_cnn_1", [0.6] * 5, epochs=10),
                              **seeds("exact", "flowers_cnn_2", [0.5] * 5, epochs=10)})
    assert seed_acc(other, data.entry("exact", "flowers_cnn_2")).n == 0
    s = _bullet(sentences.technique_effect_sentences(data, "exact", other), "flowers_cnn_2")
    assert "같은 설정의 시드가 없어" in s
    table = tables.accuracy_table_html(data, study)
    assert "0.604 ± " in table and "(5)" in table
    # the study folder is read only if it has seeds
    assert load_seed_study(tmp_path / "nothing") is None and load_seed_study("") is None


def test_profile_comparison_with_seeds():
    accs = {(p, n): a for n, (b, x) in {"flowers_cnn_1": (0.60, 0.65),
                                        "flowers_cnn_4": (0.55, 0.56)}.items()
            for p, a in (("book", b), ("exact", x))}
    data = report_data(accs)
    study = build_study_data({**seeds("book", "flowers_cnn_1", [0.60, 0.61, 0.59, 0.60, 0.60]),
                              **seeds("exact", "flowers_cnn_1", [0.65, 0.66, 0.64, 0.65, 0.66]),
                              **seeds("book", "flowers_cnn_4", [0.55, 0.45, 0.60, 0.50, 0.58]),
                              **seeds("exact", "flowers_cnn_4", [0.56, 0.50, 0.62, 0.47, 0.55])})
    s = sentences.profile_diff_sentences(data, study)
    assert "흩어짐보다 크게 높은 모델 1개 (flowers_cnn_1)" in s
    assert "흩어짐 안인 모델 1개 (flowers_cnn_4)" in s
    assert "한 번의 실행끼리의 차이" in sentences.profile_diff_sentences(data)
    table = tables.profile_diff_table_html(data, study)
    assert "흩어짐보다 큼" in table and "흩어짐 안" in table


# ----------------------------------------------------------------------------- 3. near zero
def _npz_record(folder: Path, name, profile, w: np.ndarray, acc=0.5) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{name}.npz", **{"L0.full.w": w[:-2], "L0.full.b": np.zeros(3),
                                        "L1.full.w": w[-2:]})
    n = int(np.count_nonzero(np.abs(w) <= 1e-5))
    return record(name, profile, acc, near=(n, w.size), params_file=f"{name}.npz")


def test_near_zero_view_reads_the_weights(tmp_path):
    w_l1 = np.array([0.0, 1e-7, 2e-6, 0.01, 0.02, -0.03, 3e-6, 0.1])          # 4 of 8 near 0
    w_none = np.array([0.01, 0.02, -0.03, 0.1, 0.2, -0.2, 0.05, 0.07])
    recs = {("book", "flowers_model_3"): _npz_record(tmp_path / "book", "flowers_model_3",
                                                     "book", w_l1),
            ("book", "flowers_model_1"): _npz_record(tmp_path / "book", "flowers_model_1",
                                                     "book", w_none)}
    data = build_report_data(recs, ["book"], tmp_path)
    w = weight_values(data.entry("book", "flowers_model_3"))
    assert sorted(w.tolist()) == sorted(w_l1.tolist())
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    assert figures.log_weight_hist(ax, w) == pytest.approx(0.5)
    plt.close(fig)
    img = figures.near_zero_figure(data)
    assert img is not None and img.metadata["alt"].startswith("그림: ")
    assert figures.run_figure(data.entry("book", "flowers_model_3")) is not None
    # a record whose .npz is gone: no near-zero view, no crash
    (tmp_path / "book" / "flowers_model_3.npz").unlink()
    assert weight_values(data.entry("book", "flowers_model_3")) is None
    assert figures.run_figure(data.entry("book", "flowers_model_3")) is not None


# ----------------------------------------------------------------------------- 4. stale text
def test_no_stale_text_and_explained_table_marks():
    assert "이후 작업" not in sentences.ABLATION_NOTE and "make study" in sentences.ABLATION_NOTE
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "아직 구현되지 않았습니다" not in makefile and not re.search(r"issue\s*\\?#\d", makefile)
    readme = (ROOT / "reports" / "README.md").read_text(encoding="utf-8")
    assert "아직 구현" not in readme and "커밋하지 않음" not in readme and "study_report" in readme
    errata = tables.errata_table_html(build_report_data({}))
    assert "§" not in errata and "E1–E9" in errata and "—: 정오표에 없는 항목" in errata
    css = (render.TEMPLATES_DIR / "reglab_report" / "report.css").read_text(encoding="utf-8")
    code_rule = re.search(r"table\.reglab code \{[^}]*\}", css).group(0)
    assert "nowrap" in code_rule and "break-word" not in code_rule
    assert "anywhere" not in css and "keep-all" in css


def test_class_count_comes_from_the_data():
    import nbformat
    nb = nbformat.read(str(ROOT / "notebooks" / "chapter8_report.ipynb"), as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert not re.search(r"\d+\s*종", prose)
    six = ["daisy", "dandelion", "rose", "sunflower", "tulip", "lotus"]
    rec = record("flowers_model_1", "book", 0.4)
    rec["dataset"]["classes"] = six
    text = sentences.overview_markdown(build_report_data({("book", "flowers_model_1"): rec},
                                                         ["book"]))
    assert "6가지" in text and "lotus" in text


# ----------------------------------------------------------------------------- 5. exit codes
@pytest.fixture
def fake_build(monkeypatch):
    calls = []

    def fake(runs_dir, out_dir, pdf, png, profiles=None, study_dir=None):
        calls.append({"runs_dir": Path(runs_dir), "profiles": profiles, "study_dir": study_dir})
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        return render.ReportOutputs(notebook=Path(out_dir) / "a.ipynb",
                                    html=Path(out_dir) / "a.html", seconds={"total": 1.0})

    def fake_study(study_dir, out_dir, pdf, png):
        calls.append({"study": Path(study_dir)})
        return render.ReportOutputs(notebook=Path(out_dir) / "s.ipynb",
                                    html=Path(out_dir) / "s.html", seconds={"total": 1.0})

    monkeypatch.setattr(render, "build_report", fake)
    monkeypatch.setattr(render, "build_study_report", fake_study)
    return calls


def _write_runs(root: Path, accs: dict) -> Path:
    for (p, name), acc in accs.items():
        write_json_atomic(root / p / f"{name}.json", record(name, p, acc))
    return root


def test_missing_or_empty_results_folder_writes_nothing(tmp_path, fake_build, capsys):
    out = tmp_path / "out"
    assert cli.main(["--runs-dir", str(tmp_path / "typo"), "--out", str(out), "--no-pdf"]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "typo") in err and "does not exist" in err
    (tmp_path / "empty").mkdir()
    assert cli.main(["--runs-dir", str(tmp_path / "empty"), "--out", str(out), "--no-pdf"]) == 1
    assert "no record" in capsys.readouterr().err
    runs = _write_runs(tmp_path / "runs", {("book", "flowers_model_1"): 0.4})
    assert cli.main(["--runs-dir", str(runs), "--profiles", "exact", "--out", str(out),
                     "--no-pdf"]) == 1
    assert "exact" in capsys.readouterr().err
    assert cli.main(["--study", "--runs-dir", str(tmp_path / "empty"), "--out", str(out)]) == 1
    assert fake_build == [] and not out.exists()


def test_failed_and_missing_runs_are_listed_and_fail_unless_allowed(tmp_path, fake_build,
                                                                    capsys):
    accs = {("book", s.name): 0.4 for s in CHAPTER8_RUNS if s.name != "flowers_cnn_4"}
    runs = _write_runs(tmp_path / "runs", accs)
    write_json_atomic(runs / "book" / "flowers_cnn_3.json", {
        "schema": 1, "status": "failed", "name": "flowers_cnn_3", "profile": "book",
        "config": {}, "error": "TrainingDiverged: boom"})
    args = ["--runs-dir", str(runs), "--profiles", "book", "--out", str(tmp_path / "o"),
            "--no-pdf", "--study-dir", str(tmp_path / "runs")]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "book/flowers_cnn_4.json" in err and "TrainingDiverged: boom" in err
    assert len([ln for ln in err.splitlines() if ln.startswith("✗")]) == 2
    assert cli.main(args + ["--allow-missing"]) == 0
    assert fake_build[-1]["profiles"] == ["book"]
    complete = _write_runs(tmp_path / "full", {("book", s.name): 0.4 for s in CHAPTER8_RUNS})
    assert cli.main(["--runs-dir", str(complete), "--profiles", "book", "--no-pdf",
                     "--out", str(tmp_path / "o")]) == 0


def test_a_one_profile_report_has_no_profile_comparison():
    data = report_data({("book", "flowers_model_1"): 0.4, ("book", "flowers_model_2"): 0.3})
    table = tables.profile_diff_table_html(data)
    assert "<table" not in table and "두 프로파일의 결과가 모두 있어야" in table
    assert "비교할 수 있습니다" in sentences.profile_diff_sentences(data)
    assert "book과 exact 결과가 모두 있어야" in tables.errata_table_html(data)


# ----------------------------------------------------------------------------- 7. study report
def test_study_report_names_collapse_instead_of_no_difference():
    study = build_study_data({**seeds("book", "flowers_model_1", [], collapsed=True),
                              **seeds("book", "flowers_model_2", [], collapsed=True),
                              **seeds("exact", "flowers_model_2", [], collapsed=True)})
    text = seeds_sentences(study, "book")
    line = next(ln for ln in text.splitlines() if "(flowers_model_2)" in ln)
    assert "차이도 0입니다" not in line and "학습하지 못했다" in line
    assert "dandelion(민들레)으로 예측" in line
    prof = profile_sentences(study)
    assert "차이도 0입니다" not in prof and "학습하지 못했다" in prof


def test_study_cli_exit_codes(tmp_path, fake_build, capsys):
    study = tmp_path / "study"
    for (s, p, stem), rec in seeds("book", "flowers_cnn_1", [0.6] * 5).items():
        write_json_atomic(study / s / p / f"{stem}.json", rec)
    args = ["--study", "--runs-dir", str(study), "--out", str(tmp_path / "o"), "--no-pdf"]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "seeds/exact/flowers_cnn_1__seed1234" in err and "the whole long study" in err
    assert cli.main(args + ["--allow-missing"]) == 0 and fake_build[-1] == {"study": study}
