"""``python -m reglab study`` and the study report: planning, resume, statistics, sentences,
rendering.

Statistics are checked against hand-computed values; sentences against fabricated records whose
numbers are chosen so that a verdict must flip; two tiny ablation runs go through the real
runner (synthetic photos, 1 epoch) and the report is rendered from fabricated records.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import nbformat
import pytest

from reglab.pipeline.experiments import CHAPTER8_RUNS, get_run
from reglab.report import blocks, render, stats, verdicts
from reglab.report import study_analysis as analysis
from reglab.report.ablation_sentences import ablation_sentences
from reglab.report.long_sentences import hypothesis_sentences
from reglab.report.records import build_study_data, load_study_data
from reglab.report.study_sentences import overview_markdown, seeds_sentences
from reglab.report.study_tables import ablation_table_html
from reglab.pipeline.runner import execute_tasks
from reglab.pipeline.record import make_config, stored_config, write_json_atomic
from reglab.pipeline.study import ABLATIONS, LONG_SEEDS, SEEDS, plan_study, reuse_finished

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "study_report.ipynb"
HEADINGS = ["1. 개요", "2. 시드 반복", "3. 긴 학습 (40 에폭)", "4. 교재 코드의 특이점 절제 실험"]


# ----------------------------------------------------------------------------- fabricated data
def fake_record(name, profile, seed, test_acc, *, epochs=10, switch=None, val_curve=None,
                train_acc=None, acc_gap=0.05, wall=10.0) -> dict:
    """A schema-valid ok record with chosen numbers (history of ``epochs`` epochs)."""
    spec = get_run(name)
    run_id = f"{name}__{switch or f'seed{seed}'}"
    changes = next(ab.changes for ab in ABLATIONS if ab.key == switch) if switch else None
    cfg = make_config(**spec.model_kwargs(), profile=profile, epochs=epochs, seed=seed,
                      run_id=run_id, profile_changes=changes)
    hist = []
    for e in range(1, epochs + 1):
        vl = val_curve[e - 1] if val_curve is not None else 1.6 - 0.02 * e
        ta = train_acc if train_acc is not None else min(1.0, test_acc + acc_gap + 0.001 * e)
        hist.append({"epoch": e, "train_loss": 1.5 - 0.03 * e, "train_acc": ta,
                     "val_loss": vl, "val_acc": test_acc, "seconds": 1.0})
    return {"schema": 1, "status": "ok", "name": name, "profile": profile, "config": cfg,
            "config_key": "f" * 16,
            "dataset": {"description": "fake", "path": "/nonexistent/photos", "train": 3450,
                        "validation": 215, "test": 652,
                        "classes": ["daisy", "dandelion", "rose", "sunflower", "tulip"]},
            "history": hist, "test_acc": float(test_acc), "train_seconds": 5.0,
            "near_zero": {"count": 1, "total": 10, "threshold": 1e-5}, "weights": {},
            "log": "", "wall_seconds": wall, "finished_at": "2024-01-01T00:00:00+00:00"}


def seeds_records(profile, name, accs, **kw) -> dict:
    return {("seeds", profile, f"{name}__seed{s}"): fake_record(name, profile, s, a, **kw)
            for s, a in zip(SEEDS, accs)}


def long_records(name, accs, **kw) -> dict:
    return {("long", "exact", f"{name}__seed{s}"): fake_record(name, "exact", s, a, epochs=40,
                                                                 **kw)
            for s, a in zip(LONG_SEEDS, accs)}


def write_study(root: Path, records: dict) -> Path:
    for (study, profile, stem), rec in records.items():
        write_json_atomic(root / study / profile / f"{stem}.json", rec)
    return root


# ----------------------------------------------------------------------------- planning
def test_plan_study_counts_and_configs(synthetic_flowers, tmp_path):
    tasks = plan_study(out=tmp_path, data_dir=synthetic_flowers)
    by = {s: [t for t in tasks if t.results_dir.parent.name == s]
          for s in ("ablation", "seeds", "long")}
    assert [len(by[s]) for s in ("ablation", "seeds", "long")] == [15, 70, 21]
    assert all(t.action == "run" for t in tasks)
    for ts in by.values():
        assert len({t.json_path for t in ts}) == len(ts)          # one file per run
    assert all(t.config.get("profile_changes") and t.profile == "book" for t in by["ablation"])
    assert {t.config["epochs"] for t in by["long"]} == {40}
    assert {t.config["epochs"] for t in by["seeds"]} == {10}
    assert {t.config["seed"] for t in by["seeds"]} == set(SEEDS)
    assert {t.config["seed"] for t in by["long"]} == set(LONG_SEEDS)
    small = plan_study(["long"], out=tmp_path, data_dir=synthetic_flowers, epochs_scale=0.1)
    assert {t.config["epochs"] for t in small} == {4}
    with pytest.raises(ValueError, match="unknown study"):
        plan_study(["bogus"], out=tmp_path, data_dir=synthetic_flowers)


def _completed_notebook(path: Path) -> None:
    """An executed notebook as papermill leaves a completed run (one cell)."""
    cell = {"cell_type": "code", "metadata": {"papermill": {"status": "completed"}},
            "source": "", "outputs": [], "execution_count": 1}
    write_json_atomic(path, {"cells": [cell], "metadata": {"papermill": {"exception": False}},
                             "nbformat": 4, "nbformat_minor": 5})


def test_resume_and_reuse_finished(synthetic_flowers, tmp_path):
    out, runs_out = tmp_path / "study", tmp_path / "runs"
    tasks = plan_study(["seeds"], out=out, data_dir=synthetic_flowers)
    first = tasks[0]
    write_json_atomic(first.json_path, {"schema": 1, "status": "ok", "config_key": first.key,
                                        "notebook": f"{first.name}.ipynb"})
    _completed_notebook(first.json_path.parent / f"{first.name}.ipynb")
    again = plan_study(["seeds"], out=out, data_dir=synthetic_flowers)
    assert [t.action for t in again].count("skip") == 1 and again[0].action == "skip"
    # a chapter run with the same key (seed 1234, 10 epochs, book) is copied into the study
    target = next(t for t in again if t.profile == "book" and t.name == "flowers_cnn_1__seed1234")
    src = runs_out / "book" / "flowers_cnn_1.json"
    write_json_atomic(src, {"schema": 1, "status": "ok", "config_key": target.key,
                            "config": {"old": True}, "test_acc": 0.5,
                            "notebook": "flowers_cnn_1.ipynb",
                            "params_file": "flowers_cnn_1.npz"})
    assert reuse_finished(again, runs_out) == 0        # a finished run has its notebook
    _completed_notebook(src.parent / "flowers_cnn_1.ipynb")
    assert reuse_finished(again, runs_out) == 1
    assert target.action == "skip" and "same run as" in target.reason
    rec = json.loads(target.json_path.read_text(encoding="utf-8"))
    assert rec["reused_from"] == "../../../runs/book/flowers_cnn_1.json"   # from its folder
    assert (target.json_path.parent / rec["reused_from"]).resolve() == src.resolve()
    assert rec["notebook"] == "../../../runs/book/flowers_cnn_1.ipynb"
    assert rec["params_file"] == "../../../runs/book/flowers_cnn_1.npz"
    assert rec["config"] == target.config
    assert reuse_finished(again, runs_out) == 0                  # nothing left to reuse


def test_two_ablation_runs_through_the_runner(synthetic_flowers, tmp_path):
    out = tmp_path / "study"
    tasks = plan_study(["ablation"], out=out, data_dir=synthetic_flowers, epochs_scale=0.1)
    pick = [t for t in tasks if t.name in ("flowers_model_1__input_scale",
                                           "flowers_cnn_3__noise_decision")]
    assert len(pick) == 2
    outcomes = execute_tasks(pick, jobs=2, progress=False, stream=io.StringIO())
    assert [o.status for o in outcomes] == ["ok", "ok"], [o.error for o in outcomes]
    for t in pick:
        rec = json.loads(t.json_path.read_text(encoding="utf-8"))
        assert rec["config"]["run_id"] == t.name and rec["config"]["profile_changes"]
        assert rec["wall_seconds"] > 0
    again = plan_study(["ablation"], out=out, data_dir=synthetic_flowers, epochs_scale=0.1)
    assert sorted(t.name for t in again if t.action == "skip") == sorted(t.name for t in pick)
    data = load_study_data(out)
    assert data.counts("ablation") == {"ok": 2, "failed": 0, "missing": 13}
    assert data.has("ablation") and not data.has("seeds") and not data.has("long")


def test_study_cli_unknown_study_and_report_flag(monkeypatch, tmp_path, capsys):
    from reglab.__main__ import main
    from reglab.report import cli

    assert main(["study", "--only", "bogus", "--out", str(tmp_path)]) == 2
    assert "unknown study" in capsys.readouterr().err
    seen = {}

    def fake(study_dir, out_dir, pdf, png):
        seen.update(study_dir=Path(study_dir), pdf=pdf)
        from reglab.report.render import ReportOutputs
        return ReportOutputs(notebook=Path(out_dir) / "s.ipynb", html=Path(out_dir) / "s.html",
                             seconds={"total": 1.0})

    monkeypatch.setattr(render, "build_study_report", fake)
    assert cli.main(["--study", "--no-pdf", "--allow-missing", "--out", str(tmp_path)]) == 0
    assert seen == {"study_dir": ROOT / "reports" / "study", "pdf": False}


# ----------------------------------------------------------------------------- statistics
def test_t_quantile_matches_the_table():
    for df, q in stats.T975.items():
        assert abs(stats.t_quantile(0.975, df) - q) < 6e-4, df
    assert abs(stats.t_quantile(0.975, math.inf) - 1.959964) < 1e-5
    assert abs(stats.t_quantile(0.025, 4) + 2.776445) < 1e-5
    assert abs(stats.t_cdf(0.0, 3) - 0.5) < 1e-12
    assert 2.776 < stats.t_quantile(0.975, 3.5) < 3.182            # fractional df


def test_summary_hand_computed():
    s = stats.summarize([0.5, 0.6, 0.7])
    assert s.n == 3 and abs(s.mean - 0.6) < 1e-12 and abs(s.std - 0.1) < 1e-12
    half = 4.302653 * 0.1 / math.sqrt(3)                            # 0.248414
    assert abs(s.half - half) < 1e-5 and abs(s.lo - (0.6 - half)) < 1e-5
    assert s.mean_std() == "0.600 ± 0.100" and s.interval() == "[0.352, 0.848]"
    one = stats.summarize([0.4])
    assert one.std is None and one.half is None and one.interval() == "—"


def test_welch_hand_computed():
    d = stats.welch(stats.summarize([1, 2, 3]), stats.summarize([4, 5, 6]))
    # var 1 and 1, n 3 and 3: se = sqrt(2/3), df = 4, t = 2.776445
    assert d.diff == -3 and abs(d.se - math.sqrt(2 / 3)) < 1e-12 and abs(d.df - 4) < 1e-12
    assert abs(d.hi - (-3 + 2.776445 * math.sqrt(2 / 3))) < 1e-5 and d.exceeds
    u = stats.welch(stats.summarize([1, 2, 3]), stats.summarize([4, 6, 8]))
    # var 1 and 4: se² = 1/3 + 4/3, df = (5/3)² / ((1/3)²/2 + (4/3)²/2) = 2.941176
    assert abs(u.df - 2.941176) < 1e-5 and abs(u.se - math.sqrt(5 / 3)) < 1e-12
    q = (u.hi - u.diff) / u.se
    assert stats.T975[3] < q < stats.T975[2]
    c = stats.combine([(1, stats.summarize([1, 2, 3])), (-1, stats.summarize([4, 5, 6])),
                       (-1, stats.summarize([1, 2, 3])), (1, stats.summarize([4, 5, 6]))])
    assert c.diff == 0 and abs(c.se - math.sqrt(4 / 3)) < 1e-12 and abs(c.df - 8) < 1e-9
    assert not c.exceeds
    s = stats.single_run_difference(0.7, 0.6, stats.summarize([0.5, 0.6, 0.7]))
    assert abs(s.se - 0.1 * math.sqrt(2)) < 1e-12 and s.df == 2 and not s.exceeds
    flat = stats.summarize([0.2, 0.2, 0.2])
    assert not stats.welch(flat, flat).exceeds
    assert stats.welch(stats.summarize([0.3] * 3), flat).exceeds
    assert not stats.welch(stats.summarize([0.3]), flat).known
    assert "비교할 수 없습니다" in verdicts.verdict(stats.welch(stats.summarize([0.3]), flat))


def test_final_gap_turn_up_and_one_class():
    up = [1.0, 0.8, 0.7, 0.9]
    data = build_study_data({
        ("long", "exact", "flowers_cnn_1__seed1234"):
            fake_record("flowers_cnn_1", "exact", 1234, 0.6, epochs=4, val_curve=up),
        ("long", "exact", "flowers_cnn_1__seed1"):
            fake_record("flowers_cnn_1", "exact", 1, 0.6, epochs=4, val_curve=[1.0, 0.9, 0.6, 0.8]),
        ("long", "exact", "flowers_model_2__seed1234"):
            fake_record("flowers_model_2", "exact", 1234, 0.3, epochs=4,
                        val_curve=[1.0, 0.9, 0.8, 0.7])})
    t = analysis.turn_up(data.select("long", name="flowers_cnn_1", ok=True))
    assert t["epoch"] == 3 and t["turned"] and abs(t["min"] - 0.65) < 1e-12
    assert abs(t["rise"] - 0.20) < 1e-12 and t["n"] == 2
    assert t["rise_diff"].exceeds and abs(t["rise_diff"].diff - 0.20) < 1e-12   # both seeds +0.2
    t2 = analysis.turn_up(data.select("long", name="flowers_model_2", ok=True))
    assert not t2["turned"] and t2["epoch"] == 4
    run = data.select("long", name="flowers_model_2", ok=True)[0]
    gap = analysis.final_gap(run)
    assert gap["loss_gap"] is None and abs(gap["acc_gap"] - (0.3 + 0.05 + 0.004 - 0.3)) < 1e-12
    cnn = data.select("long", name="flowers_cnn_1", variant="seed1234")[0]
    assert abs(analysis.final_gap(cnn)["loss_gap"] - (0.9 - (1.5 - 0.12))) < 1e-12
    # one class: test accuracy = the test share of a class, train accuracy ≈ its train share
    counts = {"classes": ["a", "b", "c"], "train": [50, 30, 20], "test": [10, 25, 15]}
    col = build_study_data({("seeds", "book", "flowers_model_1__seed1"): fake_record(
        "flowers_model_1", "book", 1, 10 / 50, train_acc=0.5)}).select("seeds", ok=True)[0]
    oc = analysis.one_class(col, counts)
    assert oc["class"] == "a" and oc["test_count"] == 10 and oc["largest_train"]
    assert not oc["largest_test"]
    assert analysis.one_class(col, {**counts, "test": [11, 24, 15]}) is None
    # without the photos: a train accuracy that no longer changes
    assert analysis.one_class(col, None)["inferred"]
    moving = data.select("long", name="flowers_model_2", ok=True)[0]
    assert analysis.one_class(moving, None) is None


# ----------------------------------------------------------------------------- sentences
def _cnn_pair(base_accs, reg_accs, profile="exact"):
    return build_study_data({**seeds_records(profile, "flowers_cnn_1", base_accs),
                             **seeds_records(profile, "flowers_cnn_2", reg_accs)})


def _bullet(text: str, name: str) -> str:
    """The top-level bullet naming ``(name`` with its nested lines."""
    out = []
    for line in text.splitlines():
        if line.startswith("- "):
            if out:
                break
            if f"({name}" in line:
                out.append(line)
        elif out:
            out.append(line)
    return "\n".join(out)


def test_comparison_sentence_follows_the_numbers():
    base = [0.60, 0.61, 0.62, 0.60, 0.61]
    low = [0.50, 0.51, 0.52, 0.50, 0.51]
    s = _bullet(seeds_sentences(_cnn_pair(base, low), "exact"), "flowers_cnn_2")
    assert "0.100 낮습니다" in s and "흩어짐보다 큰 차이" in s and "[-0." in s
    swapped = _bullet(seeds_sentences(_cnn_pair(low, base), "exact"), "flowers_cnn_2")
    assert "0.100 높습니다" in swapped and "흩어짐보다 큰 차이" in swapped
    close = [0.61, 0.60, 0.62, 0.61, 0.60]
    s2 = _bullet(seeds_sentences(_cnn_pair(base, close), "exact"), "flowers_cnn_2")
    assert "넘지 않습니다" in s2 and "흩어짐보다 큰" not in s2
    # every comparison sentence carries a verdict
    for line in seeds_sentences(_cnn_pair(base, low), "exact").splitlines():
        if "기준" in line and "비교할 수 없습니다" not in line:
            assert "흩어짐" in line


def test_hypothesis_answer_per_technique():
    base10, base40 = [0.60, 0.61, 0.62, 0.60, 0.61], [0.60, 0.61, 0.62]
    reg10, reg40 = [0.50, 0.51, 0.52, 0.50, 0.51], [0.70, 0.71, 0.72]
    recs = {**seeds_records("exact", "flowers_cnn_1", base10),
            **seeds_records("exact", "flowers_cnn_2", reg10),
            **long_records("flowers_cnn_1", base40), **long_records("flowers_cnn_2", reg40)}
    s = _bullet(hypothesis_sentences(build_study_data(recs)), "flowers_cnn_2")
    assert "**답**: 예상대로입니다" in s and "-0.100 → +0.100, 변화 +0.200" in s
    assert s.count("흩어짐") >= 3                     # 40 epochs, the change, the own change
    recs.update({**long_records("flowers_cnn_2", [0.40, 0.41, 0.42])})
    s = _bullet(hypothesis_sentences(build_study_data(recs)), "flowers_cnn_2")
    assert "**답**: 예상과 반대입니다" in s
    recs.update({**long_records("flowers_cnn_2", [0.49, 0.52, 0.51])})     # still 0.1 lower
    text = hypothesis_sentences(build_study_data(recs))
    assert "**답**: 예상과 다릅니다" in _bullet(text, "flowers_cnn_2")
    assert text.startswith("- **요약** (1개 기법): 예상과 다름 1개 (드롭아웃")
    recs.update({**seeds_records("exact", "flowers_cnn_2", [0.61, 0.60, 0.62, 0.61, 0.60]),
                 **long_records("flowers_cnn_2", [0.59, 0.62, 0.61])})    # never different
    s = _bullet(hypothesis_sentences(build_study_data(recs)), "flowers_cnn_2")
    assert "**답**: 확인되지 않습니다" in s
    missing = hypothesis_sentences(build_study_data({}))
    assert "결과가 모두 있어야" in missing


def _ablation_data():
    recs = {}
    for name in ("flowers_model_1", "flowers_model_2", "flowers_model_3"):
        recs.update(seeds_records("book", name, [147 / 652] * 5, train_acc=0.2484))
    recs.update(seeds_records("book", "flowers_cnn_1", [0.60, 0.61, 0.62, 0.60, 0.61]))
    recs.update(seeds_records("book", "flowers_cnn_4", [0.60, 0.61, 0.62, 0.60, 0.61]))
    recs[("ablation", "book", "flowers_model_1__input_scale")] = fake_record(
        "flowers_model_1", "book", 1234, 0.44, switch="input_scale")
    recs[("ablation", "book", "flowers_model_2__decay")] = fake_record(
        "flowers_model_2", "book", 1234, 147 / 652, switch="decay", train_acc=0.2484)
    recs[("ablation", "book", "flowers_cnn_4__bn_running")] = fake_record(
        "flowers_cnn_4", "book", 1234, 0.70, switch="bn_running")
    recs[("ablation", "book", "flowers_cnn_4__bn_backward")] = fake_record(
        "flowers_cnn_4", "book", 1234, 0.605, switch="bn_backward")
    for name in ("flowers_model_1", "flowers_cnn_1"):
        ref = recs[("seeds", "book", f"{name}__seed1234")]
        recs[("ablation", "book", f"{name}__validation")] = fake_record(
            name, "book", 1234, ref["test_acc"], switch="validation",
            train_acc=ref["history"][-1]["train_acc"] if name == "flowers_model_1" else None)
    return build_study_data(recs)


def test_ablation_table_and_sentences():
    data = _ablation_data()
    rows = {(r["ablation"].key, r["name"]): r for r in analysis.ablation_rows(data)}
    assert len(rows) == 15
    r = rows[("input_scale", "flowers_model_1")]
    assert r["one_class_ref"] and r["one_class_flip"] is None
    assert r["diff"].exceeds and abs(r["diff"].diff - (0.44 - 147 / 652)) < 1e-12
    text = ablation_sentences(data)
    assert "「입력 0–1 정규화 (/255)」(E8)만 바꾸면 한 클래스 예측에서 벗어납니다: " \
           "flowers_model_1 0.225 → 0.440 (흩어짐보다 큼)" in text
    assert "무너뜨리는 것은 「입력 0–1 정규화 (/255)」(E8)가 빠진 것" in text
    assert "여전히 한 클래스만 예측하는 항목: 「λ를 곱한 비용과 Adam 앞의 감쇠 기울기」" in text
    assert "가장 크게 바꾸는 항목은 수렴하는 이동 통계" in text and "0.600 → 0.700 (+0.100)" in text
    assert "배치 정규화 모델을 낮춥니다" in text
    assert "2개 모델 모두 정확히 같습니다" in text and "난수" in text
    html = ablation_table_html(data)
    assert html.count("<tr>") == 16 and "결과 없음" in html and "흩어짐보다 큼" in html


# ----------------------------------------------------------------------------- notebook, render
def test_study_notebook_shape():
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert nb.metadata["kernelspec"]["name"] == "python3"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'study_dir: str = "../reports/study"' in params[0].source
    for c in nb.cells:
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None
            if c is not params[0]:
                assert "remove-input" in c.metadata.get("tags", [])
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for h in HEADINGS:
        assert f"## {h}" in md


def test_missing_studies_show_the_note():
    empty = build_study_data({})
    for study, make in (("seeds", blocks.seeds_blocks), ("long", blocks.long_blocks),
                        ("ablation", blocks.ablation_blocks)):
        out = make(empty)
        assert len(out) == 1 and f"--only {study}" in out[0].data and "결과 없음" in out[0].data


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The study report from fabricated seeds + ablation records (no long study), HTML only."""
    root = tmp_path_factory.mktemp("study-report")
    recs = {}
    for i, spec in enumerate(CHAPTER8_RUNS):
        for p in ("book", "exact"):
            recs.update(seeds_records(p, spec.name, [0.5 + 0.01 * i + 0.005 * k
                                                     for k in range(5)]))
    data = _ablation_data()
    for r in data.select("ablation", ok=True):
        recs[("ablation", "book", f"{r.name}__{r.variant}")] = r.record
    study = write_study(root / "study", recs)
    out = render.build_study_report(study, root / "out", pdf=False, log=lambda m: None)
    return out, study


def test_rendered_study_report(rendered):
    out, _ = rendered
    assert out.html.name == "study_report.html" and out.notebook.name == "study_report.ipynb"
    html = out.html.read_text(encoding="utf-8")
    assert "<title>8장 정규화 반복 실험 보고서</title>" in html
    for h in HEADINGS:
        assert re.search(rf"<h2[^>]*>{re.escape(h)}", html), h
    assert "결과 없음 — <code>python -m reglab study --only long</code>" in html
    assert "시드 반복 (5개 시드, 10에폭)" in html and "흩어짐" in html
    assert "book 프로파일에서 항목 하나만 바꾼 실행" in html
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert imgs and all('src="data:image/png;base64,' in t and 'alt="그림: ' in t for t in imgs)
    assert "<script" not in html and "load_study_data" not in html and "study_dir" not in html
    nb = nbformat.read(str(out.notebook), as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", [])
                if o.get("output_type") == "error"]


def test_overview_counts_runs_and_time(rendered):
    _, study = rendered
    text = overview_markdown(load_study_data(study))
    assert "계획 70개 중 완료 70개" in text and "노트북 실행 시간의 합 700.0초" in text
    assert "긴 학습** (" in text and "결과 없음." in text
    assert "완료된 실행 76개" in text
