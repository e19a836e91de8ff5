"""``python -m reglab run``: executed notebooks, resume, force, failures, keys, the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reglab.pipeline import experiments
from reglab.pipeline.experiments import CHAPTER8_RUNS, RunSpec
from reglab.paths import from_root, project_root
from reglab.pipeline.runner import plan_runs, select_specs
from reglab.pipeline.tasks import core_count

TWO = "flowers_model_1,flowers_cnn_1"
ALL_NAMES = [r.name for r in CHAPTER8_RUNS]


def _cli(*args, timeout=300):
    """``python -m reglab`` in a subprocess; returns (code, stdout, stderr, seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "reglab", *args], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ))
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - t0


def _main(*args):
    """``reglab.__main__.main`` in this process (so specs can be monkeypatched)."""
    from reglab.__main__ import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(list(args))
    return code, buf.getvalue()


def _record(out: Path, profile: str, name: str) -> dict:
    return json.loads((out / profile / f"{name}.json").read_text(encoding="utf-8"))


def _lines(text: str, mark: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.startswith(mark + " "))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, synthetic_flowers):
    """Two runs x two profiles, one epoch, on the synthetic photos, with two jobs."""
    out = tmp_path_factory.mktemp("runs")
    common = ["--data-dir", str(synthetic_flowers), "--out", str(out), "--no-progress"]
    result = _cli("run", "--only", TWO, "--profile", "both", "--jobs", "2", "--epochs", "1",
                  *common)
    return out, common, result


def test_first_run_all_ok(first_run):
    out, _, (code, stdout, stderr, _) = first_run
    assert code == 0, stdout + stderr
    assert len(_lines(stdout, "✓")) == 4, stdout
    assert "done: 4 ok, 0 skipped, 0 failed" in stdout
    for profile in ("book", "exact"):
        for name in ("flowers_model_1", "flowers_cnn_1"):
            rec = _record(out, profile, name)
            assert rec["status"] == "ok" and rec["profile"] == profile
            assert len(rec["history"]) == 1
            assert (out / profile / f"{name}.npz").is_file()
            assert rec["notebook"] == f"{name}.ipynb"          # beside the record
            nb = out / profile / rec["notebook"]
            assert nb.is_file() and rec["wall_seconds"] > 0
            assert not json.loads(nb.read_text(encoding="utf-8"))["metadata"]["papermill"]["exception"]


def test_first_run_lines_and_index(first_run):
    out, _, (_, stdout, _, _) = first_run
    assert any(line.startswith("✓ book/flowers_cnn_1  test ") and "(notebook " in line
               for line in stdout.splitlines()), stdout
    index = json.loads((out / "exact" / "index.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in index["runs"]] == ALL_NAMES
    status = {r["name"]: r["status"] for r in index["runs"]}
    assert status["flowers_model_1"] == status["flowers_cnn_1"] == "ok"
    assert status["flowers_cnn_4"] == "missing"
    ok = next(r for r in index["runs"] if r["name"] == "flowers_cnn_1")
    assert ok["test_acc"] is not None and ok["wall_seconds"] > 0 and ok["outcome"] == "ok"


def test_executed_notebooks_have_no_progress_bars(first_run):
    out, _, _ = first_run
    text = (out / "book" / "flowers_cnn_1.ipynb").read_text(encoding="utf-8")
    assert "it/s]" not in text and "%|" not in text
    assert "Model flowers_cnn_1 train ended in" in text


def test_second_run_skips_everything(first_run):
    out, common, _ = first_run
    code, stdout, stderr, secs = _cli("run", "--only", TWO, "--profile", "both", "--epochs", "1",
                                      *common)
    assert code == 0, stdout + stderr
    assert _lines(stdout, "-") == sorted(f"- {p}/{n}  skipped (finished, same config)"
                                         for p in ("book", "exact")
                                         for n in ("flowers_model_1", "flowers_cnn_1"))
    assert not _lines(stdout, "✓")
    assert secs < 15, f"resume took {secs:.1f} s"


def test_force_reruns(first_run):
    out, common, _ = first_run
    before = _record(out, "book", "flowers_model_1")["wall_seconds"]
    code, stdout, stderr, _ = _cli("run", "--only", "flowers_model_1", "--profile", "book",
                                   "--epochs", "1", "--force", *common)
    assert code == 0, stdout + stderr
    assert len(_lines(stdout, "✓")) == 1 and not _lines(stdout, "-")
    assert _record(out, "book", "flowers_model_1")["wall_seconds"] != before


def test_failed_run_is_recorded_and_others_finish(first_run, monkeypatch):
    """A bad config (l2_decay=-1) fails in the notebook; the other run (new epochs: new key)
    reruns and succeeds; exit code 1; the failed run is retried next time."""
    out, common, _ = first_run
    bad = RunSpec("flowers_bad", [30, 10], l2_decay=-1.0)
    monkeypatch.setattr(experiments, "CHAPTER8_RUNS", [*CHAPTER8_RUNS, bad])
    old_key = _record(out, "exact", "flowers_model_1")["config_key"]
    code, stdout = _main("run", "--only", "flowers_model_1,flowers_bad", "--profile", "exact",
                         "--jobs", "2", "--epochs", "2", *common)
    print(stdout)
    assert code == 1, stdout
    failed = _lines(stdout, "✗")
    assert len(failed) == 1 and failed[0].startswith("✗ exact/flowers_bad  failed: ValueError: ")
    assert len(_lines(stdout, "✓")) == 1

    rec = _record(out, "exact", "flowers_bad")
    assert rec["schema"] == 1 and rec["status"] == "failed" and rec["profile"] == "exact"
    assert rec["error"].startswith("ValueError: ") and "l2_decay" in rec["error"]
    assert rec["config"]["l2_decay"] == -1.0 and rec["config_key"]
    assert rec["notebook"] == "flowers_bad.ipynb"
    nb = json.loads((out / "exact" / rec["notebook"]).read_text(encoding="utf-8"))
    assert nb["metadata"]["papermill"]["exception"] is True
    assert any(o.get("output_type") == "error" for c in nb["cells"] for o in c.get("outputs", []))

    ok = _record(out, "exact", "flowers_model_1")
    assert ok["status"] == "ok" and len(ok["history"]) == 2 and ok["config_key"] != old_key
    index = json.loads((out / "exact" / "index.json").read_text(encoding="utf-8"))
    assert {r["name"]: r["status"] for r in index["runs"]}["flowers_bad"] == "failed"

    # planning again (no execution): the failed run is retried, the finished one skipped,
    # and going back to one epoch is a different key again
    specs = select_specs("flowers_model_1,flowers_bad")
    plan = {t.name: t for t in plan_runs(specs, ["exact"], epochs=2,
                                         data_dir=common[1], out=out)}
    assert (plan["flowers_bad"].action, plan["flowers_bad"].reason) == ("run", "failed before")
    assert plan["flowers_model_1"].action == "skip"
    plan1 = plan_runs(specs[:1], ["exact"], epochs=1, data_dir=common[1], out=out)
    assert (plan1[0].action, plan1[0].reason) == ("run", "config changed")
    forced = plan_runs(specs[:1], ["exact"], epochs=2, data_dir=common[1], out=out, force=True)
    assert (forced[0].action, forced[0].reason) == ("run", "forced")


def test_records_and_notebooks_name_no_path_of_this_machine(tmp_path):
    """A tiny run on ``--data-dir synthetic``: neither the results folder nor the project root
    appears in the record, the index or the executed notebook (parameters, papermill's
    metadata, printed output); the files name each other relative to the results folder."""
    out = tmp_path / "runs"
    code, stdout, stderr, _ = _cli("run", "--only", "flowers_model_1", "--profile", "book",
                                   "--epochs", "1", "--max-samples", "50", "--data-dir",
                                   "synthetic", "--out", str(out), "--no-progress")
    assert code == 0, stdout + stderr
    folder = out / "book"
    machine = {str(out), str(out.resolve()), str(project_root())}
    for path in (folder / "flowers_model_1.json", folder / "flowers_model_1.ipynb",
                 folder / "index.json"):
        text = path.read_text(encoding="utf-8")
        found = [m for m in machine if m in text]
        assert not found, (path.name, found)
    rec = _record(out, "book", "flowers_model_1")
    assert rec["notebook"] == "flowers_model_1.ipynb"
    assert rec["params_file"] == "flowers_model_1.npz"
    assert rec["config"]["data_dir"] == "synthetic"
    meta = json.loads((folder / rec["notebook"]).read_text(encoding="utf-8"))["metadata"]
    assert meta["papermill"]["input_path"] == "notebooks/train_model.ipynb"
    assert meta["papermill"]["output_path"] == "flowers_model_1.ipynb"
    params = meta["papermill"]["parameters"]
    assert params["results_dir"] == "." and params["data_dir"] == "synthetic"


def test_plan_keys(synthetic_flowers, tmp_path):
    specs = select_specs(["flowers_model_1", "flowers_model_2"])
    tasks = plan_runs(specs, ["book", "exact"], epochs=3, data_dir=str(synthetic_flowers),
                      out=tmp_path)
    assert [t.label for t in tasks] == ["book/flowers_model_1", "book/flowers_model_2",
                                        "exact/flowers_model_1", "exact/flowers_model_2"]
    assert len({t.key for t in tasks}) == 4 and all(t.action == "run" for t in tasks)
    assert tasks[1].parameters()["l2_decay"] == 0.1
    assert tasks[0].results_dir == tmp_path / "book"
    assert tasks[0].parameters()["results_dir"] == "."        # the notebook runs there
    data_dir = tasks[0].parameters()["data_dir"]     # relative to the root when beside it
    assert from_root(data_dir).resolve() == synthetic_flowers.resolve()
    again = plan_runs(specs, ["book"], epochs=3, data_dir=str(synthetic_flowers), out=tmp_path)
    assert again[0].key == tasks[0].key
    other = plan_runs(specs, ["book"], epochs=3, seed=7, data_dir=str(synthetic_flowers),
                      out=tmp_path)
    assert other[0].key != tasks[0].key


def test_a_numerics_change_renews_every_key(monkeypatch):
    """The key holds :data:`reglab.nn.NUMERICS_VERSION`: results of older arithmetic are
    never reused; the data path and the print interval do not count."""
    import reglab.nn
    from reglab.pipeline.record import config_key, make_config

    configs = [make_config("m", [30], 0.0, l1, prof) for prof in ("book", "exact")
               for l1 in (0.0, 0.01)]
    before = [config_key(c, "fp") for c in configs]
    assert len(set(before)) == 4
    assert config_key(dict(configs[0], data_dir="synthetic", report=1), "fp") == before[0]
    assert config_key(configs[0], "other photos") != before[0]
    monkeypatch.setattr(reglab.nn, "NUMERICS_VERSION", reglab.nn.NUMERICS_VERSION + 1)
    after = [config_key(c, "fp") for c in configs]
    assert not set(before) & set(after)


def test_select_specs():
    assert [s.name for s in select_specs(None)] == ALL_NAMES
    assert [s.name for s in select_specs("flowers_cnn_1,flowers_model_1")] == [
        "flowers_model_1", "flowers_cnn_1"]                       # the chapter's order
    with pytest.raises(ValueError, match="nosuchrun.*known runs: flowers_model_1"):
        select_specs("nosuchrun")


def test_cli_help_and_unknown_name():
    code, stdout, _, _ = _cli("run", "--help")
    assert code == 0
    assert f"number of cores, {core_count()} here" in " ".join(stdout.split())
    for opt in ("--profile", "--jobs", "--only", "--force", "--epochs", "--max-samples",
                "--data-dir", "--out", "--seed"):
        assert opt in stdout
    code, _, stderr, _ = _cli("run", "--only", "nosuchrun")
    assert code == 2
    assert "unknown run name(s): nosuchrun" in stderr and "flowers_cnn_4" in stderr


@pytest.mark.realdata
def test_book_profile_on_real_photos(flowers_dir, tmp_path):
    """The seven book-profile runs, one epoch each, on the real photos, with two jobs."""
    code, stdout, stderr, secs = _cli("run", "--profile", "book", "--epochs", "1", "--jobs", "2",
                                      "--data-dir", str(flowers_dir), "--out", str(tmp_path),
                                      "--no-progress", timeout=900)
    assert code == 0, stdout + stderr
    assert len(_lines(stdout, "✓")) == 7, stdout
    for name in ALL_NAMES:
        rec = _record(tmp_path, "book", name)
        assert rec["status"] == "ok" and rec["dataset"]["train"] == 3450
    print(f"seven book runs, 1 epoch, 2 jobs: {secs:.1f} s wall")
    # ... and the report renders from them (HTML; PDF too where Chromium is installed)
    from reglab.report.render import build_report, find_chromium
    out = build_report(tmp_path, out_dir=tmp_path / "report", pdf=find_chromium() is not None,
                       png=False, log=lambda msg: None)
    html = out.html.read_text(encoding="utf-8")
    assert "개요" in html and "교재 코드와의 차이" in html
    for name in ALL_NAMES:
        assert name in html
    assert "3450" in html or "3,450" in html
