"""The chapter-8 report: content from run records, the notebook, and the rendered HTML/PDF.

Real but tiny runs (synthetic photos at 24×24, 2 epochs) give schema-valid records for every
model and profile; one run is replaced by a failed record and one is left missing. Content tests
change the numbers of copies of those records to check that the generated sentences follow them.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from reglab.pipeline.experiments import CHAPTER8_RUNS, get_run
from reglab.profile import Profile
from reglab.report import chapter_analysis as analysis
from reglab.report import chapter_sentences as sentences
from reglab.report import chapter_tables as tables
from reglab.report import figures, render
from reglab.report.records import ReportData, build_report_data, load_report_data
from reglab.pipeline.record import execute_run, make_config, write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "chapter8_report.ipynb"
HEADINGS = ["개요", "학습 결과", "결론", "과적합", "정규화", "실험 결과", "교재 코드와의 차이"]
FAILED = ("book", "flowers_cnn_3")
MISSING = ("exact", "flowers_cnn_4")
FAIL_MSG = "TrainingDiverged: Model flowers_cnn_3 diverged at epoch 2"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory, synthetic_flowers) -> Path:
    """``<runs>/<profile>/<name>.json`` for 7 models × 2 profiles: 12 real, 1 failed, 1 missing."""
    from reglab.data import FlowersDataset

    runs = tmp_path_factory.mktemp("report") / "runs"
    ds = FlowersDataset([24, 24], [24, 24, 3], path=synthetic_flowers, seed=1234)
    for profile in ("book", "exact"):
        for spec in CHAPTER8_RUNS:
            cfg = make_config(profile=profile, epochs=2, resolution=(24, 24),
                              data_dir=str(synthetic_flowers), report=1, **spec.model_kwargs())
            if (profile, spec.name) == MISSING:
                continue
            if (profile, spec.name) == FAILED:
                write_json_atomic(runs / profile / f"{spec.name}.json", {
                    "schema": 1, "status": "failed", "name": spec.name, "profile": profile,
                    "config": cfg, "config_key": "0" * 16,
                    "error": f"Traceback (most recent call last):\n  ...\n{FAIL_MSG}",
                    "notebook": f"{spec.name}.ipynb"})
                continue
            with contextlib.redirect_stdout(io.StringIO()):
                execute_run(cfg, runs / profile, dataset=ds)
    return runs


@pytest.fixture(scope="module")
def template(runs_dir) -> dict:
    with open(runs_dir / "book" / "flowers_model_1.json", encoding="utf-8") as f:
        return json.load(f)


def make_record(template: dict, name: str, profile: str, test_acc: float,
                train_seconds: float = 100.0, near: int = 10, final_losses=(1.0, 1.2)) -> dict:
    """A schema-valid record for run ``name`` with chosen numbers (history of 2 epochs)."""
    spec = get_run(name)
    r = copy.deepcopy(template)
    r["name"], r["profile"] = name, profile
    r["config"] = make_config(profile=profile, epochs=2, **spec.model_kwargs())
    r["test_acc"], r["train_seconds"] = float(test_acc), float(train_seconds)
    r["near_zero"] = {"count": int(near), "total": 1000, "threshold": 1e-5}
    tl, vl = final_losses
    r["history"] = [
        {"epoch": 1, "train_loss": tl + 0.5, "train_acc": 0.3, "val_loss": vl + 0.3,
         "val_acc": 0.3, "seconds": 1.0},
        {"epoch": 2, "train_loss": tl, "train_acc": 0.5, "val_loss": vl, "val_acc": 0.4,
         "seconds": 1.0}]
    return r


def make_data(template, accs: dict, profiles=("book",), **per_run) -> ReportData:
    """ReportData from ``{name: test_acc}`` (same numbers for every profile)."""
    records = {}
    for p in profiles:
        for name, acc in accs.items():
            kw = {k: v[name] for k, v in per_run.items() if name in v}
            records[(p, name)] = make_record(template, name, p, acc, **kw)
    return build_report_data(records, profiles)


# ----------------------------------------------------------------------------- loading
def test_load_statuses(runs_dir):
    data = load_report_data(runs_dir, ["book", "exact"])
    assert data.profiles == ["book", "exact"]
    assert data.entry(*FAILED).status == "failed"
    assert FAIL_MSG in data.entry(*FAILED).error
    assert data.entry(*MISSING).status == "missing"
    assert data.counts() == {"ok": 12, "failed": 1, "missing": 1}
    e = data.entry("exact", "flowers_cnn_1")
    assert e.ok and 0.0 <= e.test_acc <= 1.0 and len(e.record["history"]) == 2


def test_unreadable_file_is_a_failure_and_empty_profile_is_skipped(tmp_path, runs_dir):
    shutil.copytree(runs_dir / "book", tmp_path / "book")
    (tmp_path / "book" / "flowers_model_2.json").write_text("{not json", encoding="utf-8")
    data = load_report_data(tmp_path, ["book", "exact"])
    assert data.profiles == ["book"] and data.skipped == ["exact"]
    assert data.entry("book", "flowers_model_2").status == "failed"
    assert "읽을 수 없습니다" in data.entry("book", "flowers_model_2").error
    overview = sentences.overview_markdown(data)
    assert "exact (교과서 수식)** 프로파일은 결과 파일이 하나도 없어" in overview
    assert "exact" not in tables.accuracy_table_html(data)


def test_empty_results_do_not_crash(tmp_path):
    data = load_report_data(tmp_path / "nothing", ["book", "exact"])
    assert data.profiles == [] and data.skipped == ["book", "exact"]
    assert "완료된 실행 결과가 없습니다" in sentences.overview_markdown(data)
    for fn in (tables.accuracy_table_html, sentences.accuracy_sentences,
               tables.near_zero_table_html, sentences.near_zero_sentences,
               tables.overhead_table_html, sentences.overhead_sentences,
               sentences.overfitting_markdown, tables.seed_comparison_table_html,
               tables.errata_table_html, tables.profile_diff_table_html,
               sentences.profile_diff_sentences):
        assert isinstance(fn(data), str)
    assert figures.overfitting_figure(data) is None
    assert analysis.overfitting_pick(data) is None


def test_overview_numbers_come_from_records(runs_dir):
    data = load_report_data(runs_dir)
    rec = data.entry("book", "flowers_model_1").record
    ds = rec["dataset"]
    text = sentences.overview_markdown(data)
    total = ds["train"] + ds["validation"] + ds["test"]
    assert f"꽃 사진 {total}장" in text and f"학습 {ds['train']}장" in text
    assert f"{len(ds['classes'])}가지" in text
    assert "입력 24×24×3" in text and "에폭 2" in text and "미니배치 10" in text
    assert "학습률 0.001" in text


# ----------------------------------------------------------------------------- sentences
MLP3 = ("flowers_model_1", "flowers_model_2", "flowers_model_3")


def test_best_model_sentence_follows_the_numbers(template):
    data = make_data(template, dict(zip(MLP3, (0.50, 0.30, 0.20))))
    s1 = sentences.best_model_sentence(data, "book", "mlp")
    assert "가장 높은 MLP 모델은 flowers_model_1" in s1 and "0.500" in s1
    swapped = make_data(template, dict(zip(MLP3, (0.30, 0.50, 0.20))))
    s2 = sentences.best_model_sentence(swapped, "book", "mlp")
    assert "가장 높은 MLP 모델은 flowers_model_2" in s2
    assert s1 != s2
    tie = make_data(template, dict(zip(MLP3, (0.4, 0.4, 0.2))))
    s3 = sentences.best_model_sentence(tie, "book", "mlp")
    assert "2개" in s3 and "flowers_model_1" in s3 and "flowers_model_2" in s3
    # values shown the same (three decimals) are the same in sentences too
    same = make_data(template, dict(zip(MLP3, (0.3331, 0.3334, 0.3332))))
    assert "모두 같습니다" in sentences.best_model_sentence(same, "book", "mlp")


def test_technique_effect_says_higher_lower_or_same(template):
    data = make_data(template, {"flowers_model_1": 0.30, "flowers_model_2": 0.40,
                                "flowers_model_3": 0.20, "flowers_cnn_1": 0.60,
                                "flowers_cnn_2": 0.60})
    lines = sentences.technique_effect_sentences(data, "book")
    text = "\n".join(lines)
    l2 = next(s for s in lines if "flowers_model_2" in s)
    l1 = next(s for s in lines if "flowers_model_3" in s)
    dr = next(s for s in lines if "flowers_cnn_2" in s)
    noise = next(s for s in lines if "flowers_cnn_3" in s)
    assert "0.100 높습니다" in l2 and "한 번의 실행" in l2
    assert "0.100 낮습니다" in l1 and "한 번의 실행" in l1
    assert "→ 같습니다" in dr
    assert "비교할 수 없습니다" in noise
    assert "flowers_cnn_4" in text


def test_near_zero_sentence_names_the_model_with_most(template):
    accs = dict(zip(MLP3, (0.3, 0.3, 0.3)))
    data = make_data(template, accs, near={"flowers_model_1": 5, "flowers_model_2": 7,
                                           "flowers_model_3": 600})
    s = sentences.near_zero_sentences(data)
    assert "가장 많은 모델은 flowers_model_3" in s and "600개" in s and "120.0배" in s
    data = make_data(template, accs, near={"flowers_model_1": 5, "flowers_model_2": 900,
                                           "flowers_model_3": 600})
    assert "가장 많은 모델은 flowers_model_2" in sentences.near_zero_sentences(data)
    table = tables.near_zero_table_html(data)
    assert "900 / 1,000 (90.0%)" in table and "600,000" in table   # ours and the seed report's


def test_overhead_is_time_minus_baseline(template):
    accs = {n: 0.3 for n in ("flowers_model_1", "flowers_model_2", "flowers_cnn_1",
                             "flowers_cnn_4")}
    secs = {"flowers_model_1": 100.0, "flowers_model_2": 150.0, "flowers_cnn_1": 200.0,
            "flowers_cnn_4": 180.0}
    data = make_data(template, accs, train_seconds=secs)
    rows = {r["name"]: r for r in analysis.overhead_rows(data, "book")}
    assert rows["flowers_model_2"]["overhead"] == pytest.approx(50.0)
    assert rows["flowers_model_2"]["percent"] == pytest.approx(50.0)
    assert rows["flowers_cnn_4"]["baseline"] == "flowers_cnn_1"
    assert rows["flowers_cnn_4"]["overhead"] == pytest.approx(-20.0)
    s = sentences.overhead_sentences(data)
    assert "가장 많이 늘어난 기법은 L2 정규화" in s and "+50.0초" in s
    assert "flowers_cnn_4 (-20.0초)" in s


def test_overfitting_pick_uses_the_largest_gap_without_decay(template):
    accs = {n: 0.3 for n in ("flowers_model_1", "flowers_model_2", "flowers_cnn_1",
                             "flowers_cnn_2")}
    losses = {"flowers_model_1": (1.0, 1.1), "flowers_model_2": (0.1, 5.0),  # decay: left out
              "flowers_cnn_1": (0.5, 1.4), "flowers_cnn_2": (0.8, 0.9)}
    data = make_data(template, accs, final_losses=losses)
    entry, gap = analysis.overfitting_pick(data)
    assert entry.name == "flowers_cnn_1" and gap == pytest.approx(0.9)
    text = sentences.overfitting_markdown(data)
    assert "flowers_cnn_1" in text and "+0.900" in text and "과적합의 신호" in text
    no_gap = make_data(template, {"flowers_cnn_1": 0.3},
                       final_losses={"flowers_cnn_1": (1.0, 0.9)})
    assert "뚜렷한 과적합이 보이지 않습니다" in sentences.overfitting_markdown(no_gap)


def test_profile_difference_sentences(template):
    records = {}
    for name, (b, x) in {"flowers_model_1": (0.2, 0.5), "flowers_cnn_1": (0.6, 0.55),
                         "flowers_cnn_2": (0.4, 0.4)}.items():
        records[("book", name)] = make_record(template, name, "book", b)
        records[("exact", name)] = make_record(template, name, "exact", x)
    data = build_report_data(records)
    s = sentences.profile_diff_sentences(data)
    assert "모델 3개" in s and "더 높은 모델 1개" in s and "더 낮은 모델 1개" in s
    assert "같은 모델 1개" in s and "차이가 가장 큰 모델은 flowers_model_1" in s
    assert "+0.300" in tables.profile_diff_table_html(data)


def test_errata_table_lists_every_profile_field():
    fields = Profile.describe()
    assert set(tables.FIELD_KO) == {d["field"] for d in fields}
    table = tables.errata_table_html(build_report_data({}))
    for d in fields:
        assert f"<code>{d['field']}</code>" in table
        mark = d["erratum"] if d["erratum"].startswith("E") else "—"
        assert f"<td>{mark}</td><td><code>{d['field']}</code>" in table
    assert "<code>1/255</code>" in table          # input_scale of the exact profile


def test_tables_show_failed_and_missing(runs_dir):
    data = load_report_data(runs_dir)
    failed = tables.run_table_html(data.entry(*FAILED))
    assert f"실패: {FAIL_MSG}" in failed and "Accuracy" not in failed
    assert "결과 없음" in tables.run_table_html(data.entry(*MISSING))
    ok = tables.run_table_html(data.entry("book", "flowers_model_1"))
    for word in ("구분", "내용", "값", "조건", "Epoch", "hidden layer", "정규화 기법", "최종 결과",
                 "Accuracy", "Train time", "결과 화면", "[30, 10]", "<pre"):
        assert word in ok
    for fn in (tables.accuracy_table_html, tables.seed_comparison_table_html,
               tables.overhead_table_html):
        html = fn(data)
        assert "실패: " in html and "결과 없음" in html


def test_tex_to_mathml():
    m = render.tex_to_mathml(r"\frac{\lambda}{2}\sum w^2", "block")
    assert m.startswith("<math") and 'display="block"' in m and "<mfrac>" in m
    assert '<annotation encoding="application/x-tex">\\frac{\\lambda}{2}\\sum w^2' in m
    assert "&#x0223C;" in render.tex_to_mathml(r"n \sim N")       # \sim is an operator


# ----------------------------------------------------------------------------- the notebook
def test_report_notebook_shape():
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert nb.metadata["kernelspec"]["name"] == "python3"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    assert 'runs_dir: str = "../reports/runs"' in params[0].source
    assert 'profiles: list = ["book", "exact"]' in params[0].source
    assert 'study_dir: str = "../reports/study"' in params[0].source
    for c in nb.cells:
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None
            if c is not params[0]:
                assert "remove-input" in c.metadata.get("tags", [])
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for forbidden in ("FlowersDataset", "visualize", "execute_run", ".train("):
        assert forbidden not in code          # the report reads results; it never trains


# ----------------------------------------------------------------------------- rendering
@pytest.fixture(scope="module")
def built(runs_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-out")
    result = render.build_report(runs_dir, out, pdf=True, png=True, log=lambda m: None)
    return result, out


def _strip_math(text: str) -> str:
    return re.sub(r"<math\b.*?</math>", "", text, flags=re.S)


def test_html_report(built, runs_dir):
    result, out = built
    html = result.html.read_text(encoding="utf-8")
    assert result.notebook.exists() and result.html == out / "chapter8_report.html"
    for h in HEADINGS:
        assert re.search(rf"<h[1-4][^>]*>[^<]*{h}", html), h
    data = load_report_data(runs_dir)
    for spec in CHAPTER8_RUNS:
        assert spec.name in html
    assert html.count('class="reglab runtable"') == len(CHAPTER8_RUNS) * 2
    assert f"실패: {FAIL_MSG}" in html and "결과 없음" in html
    # figures only: every image an embedded PNG drawn by the report (alt "그림: ..."), one per
    # finished run plus the near-zero comparison and the overfitting figure; no photo, no JPEG,
    # no external file
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert len(imgs) == data.counts()["ok"] + 2
    assert "log10|w|" in html
    for tag in imgs:
        src = re.search(r'src="([^"]+)"', tag).group(1)
        assert src.startswith("data:image/png;base64,")
        assert re.search(r'alt="그림: ', tag)
        png = base64.b64decode(src.split(",", 1)[1][:200] + "==")
        assert png.startswith(b"\x89PNG")
    assert "image/jpeg" not in html
    # math is MathML; no raw TeX outside it, and no script at all (offline, no MathJax)
    assert html.count("<math") >= 8
    assert "\\frac" not in _strip_math(html) and "$$" not in _strip_math(html)
    assert "<script" not in html
    # no code: no input areas, no parameters cell, no library calls
    body = html[html.index("<body"):]
    assert "jp-CodeMirrorEditor" not in body and 'class="highlight' not in body
    assert "jp-InputPrompt" not in body
    assert "load_report_data" not in html and "display(" not in html
    assert "runs_dir" not in html
    assert "@page" in html and "A4" in html and "NanumGothic" in html
    assert not [p for p in out.iterdir() if p.name.startswith(".")]   # no temp files left


def test_executed_notebook_has_no_errors(built):
    result, _ = built
    nb = nbformat.read(str(result.notebook), as_version=4)
    for c in nb.cells:
        for o in c.get("outputs", []):
            assert o.get("output_type") != "error"


def _has(cmd):
    return shutil.which(cmd) is not None


@pytest.mark.skipif(render.find_chromium() is None, reason="Chromium not on PATH: no PDF")
def test_pdf_report(built):
    result, out = built
    assert result.pdf == out / "chapter8_report.pdf"
    assert result.pdf.read_bytes()[:5] == b"%PDF-"
    if not (_has("pdftotext") and _has("pdffonts")):
        pytest.skip("poppler-utils not installed")
    text = subprocess.run(["pdftotext", str(result.pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for h in HEADINGS:
        assert h in text, h
    assert f"실패: {FAIL_MSG}"[:20] in text.replace("\n", " ")
    fonts = subprocess.run(["pdffonts", str(result.pdf)], capture_output=True, text=True,
                           check=True).stdout
    assert "Nanum" in fonts
    assert result.png == out / "chapter8_report_page1.png"
    assert result.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failing_notebook_is_a_report_error(tmp_path):
    src = _tiny_notebook(tmp_path / "broken.ipynb", 'raise ValueError("의도된 실패")')
    out = tmp_path / "out"
    with pytest.raises(render.ReportError, match="의도된 실패"):
        render.build_report(tmp_path, out, pdf=False, notebook=src, log=lambda m: None)
    assert not (out / "chapter8_report.html").exists()
    assert not (out / "chapter8_report.ipynb").exists()
    assert not list(out.iterdir())


def _tiny_notebook(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 작은 보고서"),
        nbformat.v4.new_code_cell('runs_dir = "x"\nprofiles = ["book"]'),
        nbformat.v4.new_code_cell(code)])
    nb.cells[1].metadata["tags"] = ["parameters"]
    nb.cells[2].metadata["tags"] = ["remove-input"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))
    return path


def test_without_chromium_only_html(tmp_path, monkeypatch):
    src = _tiny_notebook(tmp_path / "tiny.ipynb", 'print("안녕")')
    monkeypatch.setattr(render, "find_chromium", lambda: None)
    messages = []
    out = render.build_report(tmp_path, tmp_path / "out", pdf=True, notebook=src,
                              log=messages.append)
    assert out.html.exists() and out.pdf is None and out.png is None
    assert any("Chromium not found" in m and "HTML only" in m for m in messages)
    assert "안녕" in out.html.read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "chapter8_report.html", "chapter8_report.ipynb"]


# ----------------------------------------------------------------------------- command line
def test_cli_parser_and_exit_codes(monkeypatch, tmp_path, capsys, runs_dir):
    import argparse

    from reglab.report import cli

    parser = argparse.ArgumentParser(prog="reglab")
    sub = parser.add_subparsers(dest="command")
    cli.add_report_parser(sub)
    args = parser.parse_args(["report", "--runs-dir", "R", "--out", "O", "--no-pdf"])
    assert args.func is cli.run_report and args.runs_dir == "R" and args.no_pdf

    def boom(*a, **k):
        raise render.ReportError("the report notebook failed at cell In [3]: ValueError: x")

    runs = tmp_path / "runs"
    shutil.copytree(runs_dir, runs)
    monkeypatch.setattr(render, "build_report", boom)
    assert cli.main(["--runs-dir", str(runs), "--out", str(tmp_path), "--no-pdf",
                     "--allow-missing"]) == 1
    assert "report failed" in capsys.readouterr().err

    seen = {}

    def fake(runs_dir, out_dir, pdf, png, profiles, study_dir):
        seen.update(runs_dir=runs_dir, pdf=pdf, png=png, study_dir=study_dir)
        return render.ReportOutputs(notebook=Path(out_dir) / "a.ipynb",
                                    html=Path(out_dir) / "a.html", seconds={"total": 1.0})

    monkeypatch.setattr(render, "build_report", fake)
    args = ["--runs-dir", str(runs), "--no-pdf", "--out", str(tmp_path / "o"),
            "--study-dir", str(tmp_path)]
    assert cli.main(args + ["--allow-missing"]) == 0
    assert seen == {"runs_dir": runs, "pdf": False, "png": False, "study_dir": tmp_path}
    # the fixture holds a failed and a missing run: one line each, exit code 1
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert f"book/flowers_cnn_3: {FAIL_MSG}" in err and "exact/flowers_cnn_4.json" in err


def test_two_renders_give_the_same_html(built, runs_dir, tmp_path):
    result, _ = built
    again = render.build_report(runs_dir, tmp_path, pdf=False, png=False, log=lambda m: None)
    assert again.html.read_bytes() == result.html.read_bytes()


def test_executed_report_names_the_notebooks_not_the_machine(built):
    result, out = built
    meta = json.loads(result.notebook.read_text(encoding="utf-8"))["metadata"]["papermill"]
    assert meta["input_path"] == "chapter8_report.ipynb"
    assert meta["output_path"] == "chapter8_report.ipynb"        # not the temporary name


def test_folders_beside_the_notebook_are_passed_relative(tmp_path):
    nb_dir = tmp_path / "root" / "notebooks"
    nb_dir.mkdir(parents=True)
    assert render._seen_from(nb_dir, tmp_path / "root" / "reports" / "runs") == "../reports/runs"
    assert render._seen_from(nb_dir, nb_dir / "x") == "x"
    far = tmp_path.parent / "elsewhere"
    assert render._seen_from(nb_dir, far) == str(far.resolve())
