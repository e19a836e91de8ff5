"""The chapter-8 report's content: load the run records, build tables and Korean sentences.

Everything the report says about the numbers comes from here. The notebook
``notebooks/chapter8_report.ipynb`` only calls these functions and displays what they return,
so a sentence such as "평가 정확도가 가장 높은 모델은 …" is always computed from the result
records (``<runs_dir>/<profile>/<name>.json``, written by :func:`reglab.runs.execute_run` or by
the runner for a failed run) and never typed by hand.

Loading
    :func:`load_report_data` reads the seven runs of :data:`reglab.experiments.CHAPTER8_RUNS` for
    each requested profile. A run is ``ok``, ``failed`` (a failed record, or a file that cannot
    be read) or ``missing``. A profile without a single file is skipped with a note.

Tables
    HTML strings (``*_table_html``) with the CSS class ``reglab``; cells are escaped here.

Sentences
    Markdown strings (``*_sentences``, ``*_markdown``): bullet lists whose every claim is derived
    from the numbers. Accuracies are compared at the precision they are shown (three decimals),
    so a sentence never says "higher" for two values printed the same.

Figures
    :func:`run_figure` and :func:`overfitting_figure` return PNG images (``IPython.display.Image``
    with an ``alt`` text starting with "그림"), drawn from the records alone: no photo of the data
    set is ever shown.
"""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..pipeline.experiments import CHAPTER8_RUNS, RunSpec
from ..profile import Profile

__all__ = [
    "RunEntry", "ReportData", "load_report_data", "build_report_data", "PROFILE_LABELS",
    "BASELINES", "FIELD_KO", "ABLATION_NOTE", "fmt_acc", "fmt_secs",
    "overview_markdown", "run_table_html", "run_blocks", "run_figure",
    "accuracy_table_html", "best_model_sentence", "technique_effect_sentences",
    "accuracy_sentences", "near_zero_table_html", "near_zero_sentences",
    "overhead_rows", "overhead_table_html", "overhead_sentences",
    "overfitting_pick", "overfitting_markdown", "overfitting_figure",
    "seed_comparison_table_html", "errata_table_html", "profile_diff_table_html",
    "profile_diff_sentences", "affected_runs",
]

OK, FAILED, MISSING = "ok", "failed", "missing"

PROFILE_LABELS = {"book": "book (교재 코드 그대로)", "exact": "exact (교과서 수식)"}
FAMILY_LABELS = {"mlp": "MLP", "cnn": "CNN"}
#: The baseline each technique is compared with.
BASELINES = {"mlp": "flowers_model_1", "cnn": "flowers_cnn_1"}

#: Korean explanations of the profile fields (``Profile.describe()`` gives the English ones).
FIELD_KO = {
    "input_scale": "입력 픽셀 값의 배율. book은 0–255 원래 값을 그대로 쓰고, exact는 1/255를 곱해 "
                   "[0, 1]로 맞춥니다.",
    "reg_cost_scaled": "L2 비용 ½Σw²과 L1 비용 Σ|w|에 λ를 곱하는지. book은 곱하지 않습니다 "
                       "(출력되는 비용만 달라지고 갱신에는 영향이 없습니다).",
    "decay_placement": "가중치 감쇠 λ2·w + λ1·sign(w)를 더하는 곳. book은 아담의 갱신량 뒤에 더하고"
                       "(AdamW와 비슷), exact는 기울기에 더한 뒤 아담에 넣습니다.",
    "bn_backward": "배치 정규화의 역전파. book은 dx = γ·dy/σ (μ와 σ를 상수로 취급), exact는 "
                   "dx = (γ/σ)(dy − mean(dy) − x̂·mean(dy·x̂)) 전체 식입니다.",
    "bn_affine_update": "배치 정규화의 scale/shift 갱신. book은 단순 SGD, exact는 다른 파라미터처럼 "
                        "아담으로 갱신합니다.",
    "bn_exp_ratio": "배치 정규화 이동 평균의 비율 r (m ← m + r(stat − m)).",
    "bn_running_var": "배치 정규화 이동 분산. book은 편향 분산(np.var), exact는 m/(m−1)을 곱한 불편 "
                      "분산입니다.",
    "bn_epsilon": "σ = sqrt(var + ε)의 ε.",
    "validation_samples": "검증에 쓰는 이미지 수. book은 보고할 때마다 새로 뽑은 100장, exact는 "
                          "검증 데이터 전체(0 = 전체)입니다.",
    "noise_decision": "잡음을 넣을지 정하는 단위. book은 미니배치마다 한 번, exact는 샘플마다 "
                      "정합니다.",
    "ce_log_epsilon": "교차 엔트로피 −Σ y log(softmax + ε)의 ε. exact는 0(log-softmax)입니다.",
    "init_std": "가중치와 커널의 초기화 표준편차 N(0, σ).",
}

ABLATION_NOTE = ("지금 보이는 효과는 모델별로 book 프로파일과 exact 프로파일의 평가 정확도를 비교한 "
                 "것입니다(위 표의 마지막 열과 아래 표). 두 프로파일은 모든 항목이 한꺼번에 다르므로, "
                 "이 차이가 어느 한 항목만의 효과를 뜻하지는 않습니다. 항목을 하나씩만 바꾸어 비교하는 "
                 "실험(ablation)은 이후 작업에서 추가됩니다.")

_REQUIRED_OK_KEYS = ("config", "history", "test_acc", "train_seconds", "near_zero", "weights",
                     "log")


# ----------------------------------------------------------------------------- loading
@dataclass
class RunEntry:
    """One (profile, run) cell of the report: the spec, its status and its record."""

    spec: RunSpec
    profile: str
    status: str
    record: dict | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def config(self) -> dict:
        return (self.record or {}).get("config") or {}

    @property
    def test_acc(self) -> float | None:
        return float(self.record["test_acc"]) if self.ok else None

    @property
    def train_seconds(self) -> float | None:
        return float(self.record["train_seconds"]) if self.ok else None

    @property
    def last(self) -> dict | None:
        """The last history entry (final epoch), if any."""
        hist = (self.record or {}).get("history") or []
        return hist[-1] if self.ok and hist else None


@dataclass
class ReportData:
    """Every run of every requested profile, with the profiles that have results."""

    runs_dir: Path | None
    requested: list[str]
    entries: dict = field(default_factory=dict)   # (profile, name) -> RunEntry

    @property
    def profiles(self) -> list[str]:
        """Requested profiles with at least one result file (finished or failed)."""
        return [p for p in self.requested
                if any(self.entries[(p, s.name)].status != MISSING for s in CHAPTER8_RUNS)]

    @property
    def skipped(self) -> list[str]:
        return [p for p in self.requested if p not in self.profiles]

    def entry(self, profile: str, name: str) -> RunEntry:
        return self.entries[(profile, name)]

    def runs(self, family: str | None = None) -> list[RunSpec]:
        return [s for s in CHAPTER8_RUNS if family is None or s.family == family]

    def ok_entries(self, profile: str | None = None, family: str | None = None) -> list[RunEntry]:
        profs = self.profiles if profile is None else [profile]
        return [self.entries[(p, s.name)] for p in profs for s in self.runs(family)
                if self.entries[(p, s.name)].ok]

    def counts(self) -> dict[str, int]:
        out = {OK: 0, FAILED: 0, MISSING: 0}
        for p in self.profiles:
            for s in CHAPTER8_RUNS:
                out[self.entries[(p, s.name)].status] += 1
        return out


def _entry_from_record(spec: RunSpec, profile: str, rec) -> RunEntry:
    if rec is None:
        return RunEntry(spec, profile, MISSING)
    if isinstance(rec, Exception):
        return RunEntry(spec, profile, FAILED, None, f"결과 파일을 읽을 수 없습니다 ({rec})")
    if not isinstance(rec, dict) or rec.get("schema") != 1:
        schema = rec.get("schema") if isinstance(rec, dict) else None
        return RunEntry(spec, profile, FAILED, None,
                        f"결과 파일의 형식을 알 수 없습니다 (schema={schema!r})")
    status = rec.get("status")
    if status == OK:
        missing = [k for k in _REQUIRED_OK_KEYS if k not in rec]
        if missing:
            return RunEntry(spec, profile, FAILED, rec,
                            f"결과 파일에 항목이 없습니다: {', '.join(missing)}")
        return RunEntry(spec, profile, OK, rec)
    if status == FAILED:
        return RunEntry(spec, profile, FAILED, rec, str(rec.get("error") or "알 수 없는 오류"))
    return RunEntry(spec, profile, FAILED, rec, f"알 수 없는 상태 {status!r}")


def build_report_data(records: dict, profiles=("book", "exact"), runs_dir=None) -> ReportData:
    """A :class:`ReportData` from ``{(profile, name): record}`` (missing keys = no result).

    A value may be an ``Exception`` (the file could not be read).
    """
    data = ReportData(None if runs_dir is None else Path(runs_dir), list(profiles))
    for p in data.requested:
        for spec in CHAPTER8_RUNS:
            data.entries[(p, spec.name)] = _entry_from_record(spec, p, records.get((p, spec.name)))
    return data


def load_report_data(runs_dir, profiles=("book", "exact")) -> ReportData:
    """Read ``<runs_dir>/<profile>/<name>.json`` for the seven chapter-8 runs and each profile."""
    runs_dir = Path(runs_dir)
    records = {}
    for p in profiles:
        for spec in CHAPTER8_RUNS:
            path = runs_dir / p / f"{spec.name}.json"
            if not path.exists():
                continue
            try:
                with open(path, encoding="utf-8") as f:
                    records[(p, spec.name)] = json.load(f)
            except (OSError, ValueError) as exc:
                records[(p, spec.name)] = exc
    return build_report_data(records, profiles, runs_dir)


# ----------------------------------------------------------------------------- formatting
def esc(x) -> str:
    return html.escape(str(x), quote=True)


def fmt_acc(x) -> str:
    return "—" if x is None else f"{float(x):.3f}"


def fmt_secs(s) -> str:
    """Seconds with one decimal (two below 10 s, so short runs do not all read 0.0초)."""
    if s is None:
        return "—"
    if isinstance(s, int):
        return f"{s:,d}초"
    s = float(s)
    return f"{s:,.2f}초" if abs(s) < 10 else f"{s:,.1f}초"


def fmt_thr(t: float) -> str:
    """A threshold like the book's ``1e-5`` (not ``1e-05``)."""
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{float(t):g}").replace("e+", "e")


def fmt_int(n) -> str:
    return f"{int(n):,}"


def _r3(x: float) -> float:
    """The value as shown (three decimals), for comparisons that must agree with the table."""
    return round(float(x) + 0.0, 3)


def _plabel(profile: str) -> str:
    return PROFILE_LABELS.get(profile, profile)


def _hconfigs(h) -> str:
    return repr(h)


def _short_error(err: str | None, limit: int = 400) -> str:
    """The message of an error (its last non-empty line), shortened."""
    lines = [ln.strip() for ln in str(err or "").splitlines() if ln.strip()]
    msg = lines[-1] if lines else "알 수 없는 오류"
    return msg if len(msg) <= limit else msg[:limit - 1] + "…"


def _table(headers: list[str], rows: list[list[str]], caption: str | None = None,
           cls: str = "reglab", widths: list[int] | None = None) -> str:
    """An HTML table; headers and cells are HTML (escape beforehand); ``widths`` in percent."""
    out = [f'<table class="{cls}">']
    if caption:
        out.append(f"<caption>{caption}</caption>")
    if widths:
        out.append("<colgroup>" + "".join(f'<col style="width: {w}%">' for w in widths)
                   + "</colgroup>")
    out.append("<thead><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr></thead>")
    out.append("<tbody>")
    for r in rows:
        out.append("<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in r)
                   + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _status_cell(entry: RunEntry, colspan: int = 1) -> str:
    span = f' colspan="{colspan}"' if colspan > 1 else ""
    if entry.status == FAILED:
        return f'<td class="failed"{span}>실패: {esc(_short_error(entry.error))}</td>'
    return f'<td class="missing"{span}>결과 없음</td>'


def _unique(values) -> list:
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


# ----------------------------------------------------------------------------- 1. overview
def overview_markdown(data: ReportData) -> str:
    """Data set, set-up and what the results folder holds, all from the records."""
    oks = data.ok_entries()
    lines = []
    if data.skipped:
        for p in data.skipped:
            lines.append(f"- **{esc(_plabel(p))}** 프로파일은 결과 파일이 하나도 없어 이 보고서에서 "
                         "뺐습니다.")
    if not oks:
        lines.append("- 완료된 실행 결과가 없습니다. 먼저 `python -m reglab run`으로 실험을 "
                     "실행하세요. 아래 절에는 있는 것만 나옵니다.")
        c = data.counts()
        if c[FAILED]:
            lines.append(f"- 실패한 실행: {c[FAILED]}개 (아래 표에 \"실패\"로 표시).")
        return "\n".join(lines) + "\n"
    ds = [e.record.get("dataset") or {} for e in oks]
    splits = _unique((d.get("train"), d.get("validation"), d.get("test")) for d in ds)
    classes = _unique(tuple(d.get("classes") or []) for d in ds)
    for tr, va, te in splits:
        if None in (tr, va, te):
            continue
        total = tr + va + te
        lines.append(f"- **데이터**: 꽃 사진 {fmt_int(total)}장을 학습 {fmt_int(tr)}장, 검증 "
                     f"{fmt_int(va)}장, 평가 {fmt_int(te)}장으로 나누었습니다"
                     + (" (실행마다 분할이 다릅니다)" if len(splits) > 1 else "") + ".")
    for cl in classes:
        if cl:
            lines.append(f"- **분류**: {len(cl)}가지 — {', '.join(esc(c) for c in cl)}.")
    cfgs = [e.config for e in oks]

    def _one(key, fmt):
        vals = _unique(fmt(c.get(key)) for c in cfgs if c.get(key) is not None)
        if not vals:
            return "—"
        return vals[0] if len(vals) == 1 else "실행마다 다름: " + ", ".join(vals)

    res = _one("resolution", lambda r: f"{r[0]}×{r[1]}×3")
    lines.append(f"- **설정**: 입력 {res}, 에폭 {_one('epochs', str)}, 미니배치 "
                 f"{_one('batch_size', str)}, 학습률 {_one('learning_rate', lambda v: f'{v:g}')}, "
                 f"옵티마이저 아담(Adam), 시드 {_one('seed', str)}.")
    max_s = _unique(c.get("max_samples") for c in cfgs if c.get("max_samples"))
    if max_s:
        lines.append(f"- **주의**: 사진을 최대 {', '.join(fmt_int(m) for m in max_s)}장만 쓴 "
                     "실행이 있습니다(`max_samples`). 전체 데이터로 돌린 결과가 아닙니다.")
    c = data.counts()
    lines.append(f"- **결과 파일**: 프로파일 {', '.join(data.profiles)} — 완료 {c[OK]}개, 실패 "
                 f"{c[FAILED]}개, 결과 없음 {c[MISSING]}개 (모델 {len(CHAPTER8_RUNS)}개 × 프로파일 "
                 f"{len(data.profiles)}개).")
    vers = _unique(tuple(sorted((e.record.get("versions") or {}).items())) for e in oks)
    if len(vers) == 1 and vers[0]:
        v = dict(vers[0])
        parts = [f"{k} {v[k]}" for k in ("reglab", "numpy", "python") if k in v]
        lines.append(f"- **실행 환경**: {', '.join(parts)}.")
    finished = sorted(str(e.record.get("finished_at")) for e in oks if e.record.get("finished_at"))
    if finished:
        lines.append(f"- **실행 완료 시각**: {finished[0]} ~ {finished[-1]} (UTC).")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- 2. results
def run_table_html(entry: RunEntry) -> str:
    """The seed report's table for one run and profile: 구분 / 내용 / 값."""
    cfg = entry.config
    epochs = cfg.get("epochs", "—")
    hconf = cfg.get("hconfigs", entry.spec.hconfigs)
    rows = [
        ['<td rowspan="3" class="group">조건</td>', "Epoch", esc(epochs)],
        ["hidden layer", f"<code>{esc(_hconfigs(hconf))}</code>"],
        ["정규화 기법", esc(entry.spec.technique)],
    ]
    if entry.ok:
        rows += [['<td rowspan="2" class="group">최종 결과</td>', "Accuracy",
                  esc(fmt_acc(entry.test_acc))],
                 ["Train time", esc(fmt_secs(entry.train_seconds))],
                 ['<td class="group">결과 화면</td>',
                  f'<td colspan="2"><pre class="log">{esc(entry.record.get("log", "").rstrip())}'
                  "</pre></td>"]]
    else:
        rows += [['<td class="group">최종 결과</td>', _status_cell(entry, colspan=2)]]
    cap = f"{esc(entry.name)} — {esc(_plabel(entry.profile))}"
    return _table(["구분", "내용", "값"], rows, caption=cap, cls="reglab runtable")


def _fig_to_image(fig, alt: str, dpi: int = 96):
    """PNG bytes of a matplotlib figure as an IPython Image (the figure is closed)."""
    import matplotlib.pyplot as plt
    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return Image(data=buf.getvalue(), format="png", metadata={"alt": alt})


def run_figure(entry: RunEntry):
    """Loss/accuracy curves and the weight histogram of a finished run, or None."""
    if not entry.ok:
        return None
    import matplotlib.pyplot as plt

    from ..plots import plot_history, plot_result_weights, setup_korean_fonts

    setup_korean_fonts()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.3),
                             gridspec_kw={"width_ratios": [1, 1, 1]})
    plot_history(entry.record["history"], axes=axes[:2])
    plot_result_weights(entry.record, ax=axes[2], title="가중치 분포")
    fig.suptitle(f"{entry.name} — {_plabel(entry.profile)}")
    fig.tight_layout()
    return _fig_to_image(fig, f"그림: {entry.name} ({entry.profile}) 손실·정확도 곡선과 가중치 분포")


def run_blocks(data: ReportData, family: str) -> list:
    """Display objects for section 2: per model a heading, and per profile its table and figure."""
    from IPython.display import HTML, Markdown

    out = []
    if not data.profiles:
        return [Markdown("결과가 없어 표를 만들 수 없습니다.")]
    for spec in data.runs(family):
        heading = f'<h5 class="run">{esc(spec.name)} — {esc(spec.technique)}</h5>\n'
        for i, p in enumerate(data.profiles):
            e = data.entry(p, spec.name)
            # the heading and the first table in one block, so a page never ends on the heading
            out.append(HTML(f'<div class="runblock">{heading if i == 0 else ""}'
                            f"{run_table_html(e)}</div>"))
            fig = run_figure(e)
            if fig is not None:
                out.append(fig)
    return out


# ----------------------------------------------------------------------------- 3.3 accuracy
def accuracy_table_html(data: ReportData) -> str:
    """Test accuracy and the final epoch's train/validation accuracy per model and profile."""
    headers = ["모델", "기법"]
    for p in data.profiles:
        headers += [f"{esc(p)} 평가", f"{esc(p)} 학습 / 검증 (마지막 에폭)"]
    rows = []
    for spec in data.runs():
        row = [esc(spec.name), esc(spec.technique)]
        for p in data.profiles:
            e = data.entry(p, spec.name)
            if e.ok:
                last = e.last
                tv = (f"{fmt_acc(last['train_acc'])} / {fmt_acc(last['val_acc'])}"
                      if last else "—")
                row += [f"<b>{fmt_acc(e.test_acc)}</b>", tv]
            else:
                row += [_status_cell(e, colspan=2)]
        rows.append(row)
    return _table(headers, rows, caption="평가 정확도 비교")


def best_model_sentence(data: ReportData, profile: str, family: str) -> str:
    """Which model of ``family`` has the highest test accuracy in ``profile`` (ties named)."""
    oks = data.ok_entries(profile, family)
    fam = FAMILY_LABELS.get(family, family)
    if not oks:
        return f"{profile} 프로파일: 완료된 {fam} 실행이 없어 비교할 수 없습니다."
    if len(oks) == 1:
        e = oks[0]
        return (f"{profile} 프로파일: 완료된 {fam} 실행은 {e.name} 하나뿐입니다 "
                f"(평가 정확도 {fmt_acc(e.test_acc)}).")
    best = max(_r3(e.test_acc) for e in oks)
    top = [e for e in oks if _r3(e.test_acc) == best]
    if len(top) == len(oks):
        return (f"{profile} 프로파일: {fam} 모델 {len(oks)}개의 평가 정확도가 모두 같습니다 "
                f"({fmt_acc(best)}).")
    names = ", ".join(f"{e.name} ({e.spec.technique})" for e in top)
    rest = sorted((e for e in oks if e not in top), key=lambda e: -e.test_acc)
    nxt = rest[0]
    lead = best - _r3(nxt.test_acc)
    if len(top) == 1:
        return (f"{profile} 프로파일에서 평가 정확도가 가장 높은 {fam} 모델은 {names}입니다: "
                f"{fmt_acc(best)}, 다음인 {nxt.name}의 {fmt_acc(nxt.test_acc)}보다 "
                f"{lead:.3f} 높습니다.")
    return (f"{profile} 프로파일에서 평가 정확도가 가장 높은 {fam} 모델은 {len(top)}개로, "
            f"모두 {fmt_acc(best)}입니다: {names}.")


def technique_pairs(data: ReportData, profile: str):
    """``(spec, baseline name, entry, baseline entry)`` for every technique run in ``profile``."""
    for spec in data.runs():
        base_name = BASELINES[spec.family]
        if spec.name != base_name:
            yield (spec, base_name, data.entry(profile, spec.name),
                   data.entry(profile, base_name))


def technique_effect_sentences(data: ReportData, profile: str) -> list[str]:
    """One bullet per technique: higher, lower or equal test accuracy than its baseline."""
    out = []
    for spec, base_name, e, b in technique_pairs(data, profile):
        head = f"**{spec.technique}** ({spec.name})"
        if not e.ok or not b.ok:
            missing = ", ".join(x.name for x in (e, b) if not x.ok)
            out.append(f"{head}: {missing} 결과가 없어 기준 모델과 비교할 수 없습니다.")
            continue
        diff = _r3(e.test_acc) - _r3(b.test_acc)
        cmp = (f"평가 정확도 {fmt_acc(e.test_acc)}, 기준 {base_name} {fmt_acc(b.test_acc)}")
        if diff > 0:
            out.append(f"{head}: {cmp} → {diff:.3f} 높습니다. 이 실행에서는 정확도가 올랐습니다.")
        elif diff < 0:
            out.append(f"{head}: {cmp} → {-diff:.3f} 낮습니다. 이 실행에서는 정확도를 높이지 "
                       "못했습니다.")
        else:
            out.append(f"{head}: {cmp} → 같습니다. 이 실행에서는 정확도에 차이가 없습니다.")
    return out


def _test_count(data: ReportData, profile: str) -> int | None:
    counts = _unique((e.record.get("dataset") or {}).get("test") for e in data.ok_entries(profile))
    counts = [c for c in counts if c]
    return counts[0] if len(counts) == 1 else None


def accuracy_sentences(data: ReportData) -> str:
    """Markdown: per profile, the best MLP and CNN model and what each technique did."""
    if not data.ok_entries():
        return "완료된 실행이 없어 정확도를 비교할 수 없습니다.\n"
    parts = []
    for p in data.profiles:
        lines = [f"**{esc(_plabel(p))}**", ""]
        lines.append(f"- {best_model_sentence(data, p, 'mlp')}")
        lines.append(f"- {best_model_sentence(data, p, 'cnn')}")
        lines += [f"- {s}" for s in technique_effect_sentences(data, p)]
        n = _test_count(data, p)
        if n:
            lines.append(f"- 평가 데이터가 {fmt_int(n)}장이므로 한 장은 정확도 1/{n} ≈ {1 / n:.4f}에 "
                         "해당합니다. 이보다 작은 차이는 한두 장의 차이입니다.")
            cnn = [e.test_acc for e in data.ok_entries(p, "cnn")]
            if cnn:
                q = float(np.mean(cnn))
                se = float(np.sqrt(q * (1 - q) / n))
                lines.append(f"- 평가 사진을 뽑는 우연만으로도 정확도 {q:.2f} 근처에서 표준오차는 "
                             f"√(p(1−p)/n) ≈ {se:.3f}이고, 95 % 구간은 약 ±{1.96 * se:.3f}입니다. "
                             f"두 모델의 차이가 {1.96 * np.sqrt(2) * se:.3f}보다 작으면 이 한 번의 "
                             "실행으로는 구별할 수 없습니다 (시드를 바꾼 반복 실험이 필요합니다).")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- 3.3 near zero
def _near(e: RunEntry) -> tuple[int, int, float]:
    nz = e.record["near_zero"]
    return int(nz["count"]), int(nz["total"]), float(nz.get("threshold", 1e-5))


def near_zero_table_html(data: ReportData) -> str:
    """Near-zero weight counts (|w| ≤ threshold) of the MLP models, with the seed report's."""
    headers = ["모델", "기법"] + [f"{esc(p)}" for p in data.profiles] + ["원 보고서"]
    rows = []
    for spec in data.runs("mlp"):
        row = [esc(spec.name), esc(spec.technique)]
        for p in data.profiles:
            e = data.entry(p, spec.name)
            if e.ok:
                c, t, _ = _near(e)
                row.append(f"{fmt_int(c)} / {fmt_int(t)} ({100 * c / t if t else 0:.1f}%)")
            else:
                row.append(_status_cell(e))
        seed = spec.seed_report.get("near_zero")
        row.append("—" if seed is None else fmt_int(seed))
        rows.append(row)
    thr = _unique(_near(e)[2] for e in data.ok_entries(family="mlp")) or [1e-5]
    return _table(headers, rows, caption=f"0에 가까운 가중치 수 (|w| ≤ {fmt_thr(thr[0])})")


def near_zero_sentences(data: ReportData) -> str:
    """Markdown: which MLP model has the most near-zero weights, against the baseline."""
    parts = []
    for p in data.profiles:
        oks = data.ok_entries(p, "mlp")
        if not oks:
            parts.append(f"- {p} 프로파일: 완료된 MLP 실행이 없습니다.")
            continue
        counts = {e.name: _near(e) for e in oks}
        top = max(c for c, _, _ in counts.values())
        best = [e for e in oks if counts[e.name][0] == top]
        if len(best) == len(oks) and len(oks) > 1:
            parts.append(f"- {p} 프로파일: MLP 모델 {len(oks)}개 모두 0에 가까운 가중치가 "
                         f"{fmt_int(top)}개로 같습니다.")
            continue
        e = best[0]
        c, t, thr = counts[e.name]
        s = (f"- {p} 프로파일: |w| ≤ {fmt_thr(thr)}인 가중치가 가장 많은 모델은 "
             f"{', '.join(x.name for x in best)} ({e.spec.technique})입니다: {fmt_int(t)}개 중 "
             f"{fmt_int(c)}개 ({100 * c / t if t else 0:.1f}%).")
        base = data.entry(p, BASELINES["mlp"])
        if base.ok and base.name not in [x.name for x in best]:
            bc = _near(base)[0]
            ratio = f", {c / bc:,.1f}배" if bc else ""
            s += f" 기준 모델 {base.name}: {fmt_int(bc)}개 (차이 {fmt_int(c - bc)}개{ratio})."
        parts.append(s)
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- 3.3 overhead
def overhead_rows(data: ReportData, profile: str) -> list[dict]:
    """Train time of each technique against its baseline in ``profile`` (finished pairs only)."""
    out = []
    for spec, base_name, e, b in technique_pairs(data, profile):
        if e.ok and b.ok:
            d = e.train_seconds - b.train_seconds
            out.append({"name": spec.name, "technique": spec.technique, "baseline": base_name,
                        "seconds": e.train_seconds, "base_seconds": b.train_seconds,
                        "overhead": d,
                        "percent": 100 * d / b.train_seconds if b.train_seconds else None})
    return out


def _signed_secs(d: float) -> str:
    return f"{d:+,.2f}초" if abs(d) < 10 else f"{d:+,.1f}초"


def overhead_table_html(data: ReportData) -> str:
    headers = ["기법", "모델", "기준 모델"]
    for p in data.profiles:
        headers += [f"{esc(p)} 학습 시간", f"{esc(p)} 추가 시간"]
    rows = []
    per = {p: {r["name"]: r for r in overhead_rows(data, p)} for p in data.profiles}
    for spec in data.runs():
        base_name = BASELINES[spec.family]
        if spec.name == base_name:
            continue
        row = [esc(spec.technique), esc(spec.name), esc(base_name)]
        for p in data.profiles:
            r = per[p].get(spec.name)
            if r is None:
                e, b = data.entry(p, spec.name), data.entry(p, base_name)
                bad = e if not e.ok else b
                row += [_status_cell(bad, colspan=2)]
            else:
                pct = "" if r["percent"] is None else f" ({r['percent']:+.0f}%)"
                row += [f"{fmt_secs(r['seconds'])} (기준 {fmt_secs(r['base_seconds'])})",
                        f"{_signed_secs(r['overhead'])}{pct}"]
        rows.append(row)
    return _table(headers, rows, caption="기법별 학습 시간과 기준 모델 대비 추가 시간")


def overhead_sentences(data: ReportData) -> str:
    parts = []
    for p in data.profiles:
        rows = overhead_rows(data, p)
        if not rows:
            parts.append(f"- {p} 프로파일: 기준 모델과 짝지어 비교할 완료된 실행이 없습니다.")
            continue
        most = max(rows, key=lambda r: r["overhead"])
        least = min(rows, key=lambda r: r["overhead"])
        pct = "" if most["percent"] is None else f", {most['percent']:+.0f}%"
        s = (f"- {p} 프로파일: 학습 시간이 가장 많이 늘어난 기법은 {most['technique']}"
             f"({most['name']})입니다: 기준 {most['baseline']}보다 {_signed_secs(most['overhead'])}"
             f"{pct}.")
        slower = [r for r in rows if r["overhead"] > 0]
        faster = [r for r in rows if r["overhead"] < 0]
        if faster:
            s += (" 기준보다 빨랐던 실행: "
                  + ", ".join(f"{r['name']} ({_signed_secs(r['overhead'])})" for r in faster)
                  + ".")
        elif least is not most:
            s += (f" 가장 적게 늘어난 기법은 {least['technique']}({least['name']}, "
                  f"{_signed_secs(least['overhead'])})입니다.")
        s += f" 기준보다 느렸던 실행 {len(slower)}개, 빨랐던 실행 {len(faster)}개."
        parts.append(s)
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- 3.1 overfitting
def _comparable_losses(e: RunEntry) -> bool:
    """True if the run's train loss is plain cross entropy like its validation loss (no L2/L1
    term added: the printed cost of a decay run includes the penalty)."""
    cfg = e.config
    return not (cfg.get("l2_decay", e.spec.l2_decay) or cfg.get("l1_decay", e.spec.l1_decay))


def overfitting_pick(data: ReportData):
    """The finished run with the largest final ``val_loss − train_loss``: (entry, gap) or None.

    Runs with L2/L1 decay are left out: their train loss includes the penalty term.
    """
    best = None
    for e in data.ok_entries():
        last = e.last
        if not last or not _comparable_losses(e):
            continue
        gap = float(last["val_loss"]) - float(last["train_loss"])
        if best is None or gap > best[1]:
            best = (e, gap)
    return best


def overfitting_markdown(data: ReportData) -> str:
    pick = overfitting_pick(data)
    if pick is None:
        return ("L2/L1 정규화가 없는 완료된 실행이 없어 과적합을 그림으로 보일 수 없습니다.\n")
    e, gap = pick
    last = e.last
    n = len([x for x in data.ok_entries() if x.last and _comparable_losses(x)])
    s = (f"L2/L1 정규화가 없는 완료된 실행 {n}개 가운데 마지막 에폭({last['epoch']})에서 검증 손실과 학습 손실의 차이가 "
         f"가장 큰 실행은 {e.profile} 프로파일의 {e.name} ({e.spec.technique})입니다: 학습 손실 "
         f"{last['train_loss']:.3f}, 검증 손실 {last['val_loss']:.3f}, 차이 {gap:+.3f}. "
         f"학습 정확도는 {fmt_acc(last['train_acc'])}, 검증 정확도는 {fmt_acc(last['val_acc'])}, "
         f"평가 정확도는 {fmt_acc(e.test_acc)}입니다. ")
    if gap > 0:
        s += ("검증 손실이 학습 손실보다 크므로, 모델이 학습 데이터에 더 잘 맞고 처음 보는 데이터에는 "
              "덜 맞는 과적합의 신호입니다.")
    else:
        s += ("이 실행에서도 검증 손실이 학습 손실보다 크지 않아, 이번 결과에서는 손실로 본 뚜렷한 "
              "과적합이 보이지 않습니다.")
    return s + "\n"


def overfitting_figure(data: ReportData):
    pick = overfitting_pick(data)
    if pick is None:
        return None
    import matplotlib.pyplot as plt

    from ..plots import plot_history, setup_korean_fonts

    setup_korean_fonts()
    e, gap = pick
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    plot_history(e.record["history"], axes=axes)
    last = e.last
    axes[0].annotate(f"차이 {gap:+.3f}", xy=(last["epoch"], last["val_loss"]),
                     xytext=(-60, 10), textcoords="offset points", fontsize=9,
                     arrowprops={"arrowstyle": "->", "color": "gray"})
    fig.suptitle(f"과적합 보기: {e.name} — {_plabel(e.profile)}")
    fig.tight_layout()
    return _fig_to_image(fig, f"그림: {e.name} ({e.profile}) 학습 손실과 검증 손실")


# ----------------------------------------------------------------------------- seed report
def seed_comparison_table_html(data: ReportData) -> str:
    """The seed report's accuracy and train time beside ours, per profile."""
    headers = ["모델", "기법", "원 보고서 정확도", "원 보고서 학습 시간"]
    for p in data.profiles:
        headers += [f"{esc(p)} 정확도", f"{esc(p)} 학습 시간"]
    rows = []
    for spec in data.runs():
        sr = spec.seed_report
        row = [esc(spec.name), esc(spec.technique), fmt_acc(sr.get("test_acc")),
               fmt_secs(sr.get("train_secs"))]
        for p in data.profiles:
            e = data.entry(p, spec.name)
            row += ([fmt_acc(e.test_acc), fmt_secs(e.train_seconds)] if e.ok
                    else [_status_cell(e, colspan=2)])
        rows.append(row)
    return _table(headers, rows, caption="원 보고서의 결과와 이번 실행")


# ----------------------------------------------------------------------------- 4. errata
def _ops(spec: RunSpec) -> set[str]:
    return {h[0] for h in spec.hconfigs if isinstance(h, (list, tuple)) and h}


def affected_runs(field_name: str) -> list[RunSpec]:
    """The chapter-8 runs whose numbers a profile field can change."""
    if field_name in ("reg_cost_scaled", "decay_placement"):
        return [s for s in CHAPTER8_RUNS if s.l2_decay or s.l1_decay]
    if field_name.startswith("bn_"):
        return [s for s in CHAPTER8_RUNS if "batch_normal" in _ops(s)]
    if field_name == "noise_decision":
        return [s for s in CHAPTER8_RUNS if "noise" in _ops(s)]
    return list(CHAPTER8_RUNS)


def _fmt_value(v) -> str:
    if isinstance(v, float) and v > 0 and abs(v * 255 - 1) < 1e-12:
        return "1/255"
    return repr(v) if isinstance(v, str) else str(v)


def errata_table_html(data: ReportData) -> str:
    """Every profile field (erratum, meaning, book vs exact value) and the related runs' accuracy
    in the two profiles (all switches changed together)."""
    have_both = "book" in data.profiles and "exact" in data.profiles
    headers = ["오류", "항목", "내용", "book", "exact",
               "관련 모델의 평가 정확도 (book → exact)"]
    rows = []
    for d in Profile.describe():
        name = d["field"]
        if d["book"] == d["exact"]:
            effect = "두 프로파일의 값이 같아 차이가 없습니다."
        elif not have_both:
            effect = "book과 exact 결과가 모두 있어야 비교할 수 있습니다."
        elif len(affected_runs(name)) == len(CHAPTER8_RUNS):
            effect = "모든 모델 (아래 모델별 표)"
        else:
            items = []
            for s in affected_runs(name):
                b, x = data.entry("book", s.name), data.entry("exact", s.name)
                if b.ok and x.ok:
                    items.append(f"{esc(s.name)}: {fmt_acc(b.test_acc)} → {fmt_acc(x.test_acc)}")
                else:
                    items.append(f"{esc(s.name)}: 비교 불가")
            effect = "<br>".join(items) if items else "해당 모델 없음"
        rows.append([esc(d["erratum"]), f"<code>{esc(name)}</code>",
                     esc(FIELD_KO.get(name, d["doc"])),
                     f"<code>{esc(_fmt_value(d['book']))}</code>",
                     f"<code>{esc(_fmt_value(d['exact']))}</code>", effect])
    return _table(headers, rows, caption="프로파일 항목: 교재 코드(book)와 교과서 수식(exact)",
                  cls="reglab errata", widths=[7, 20, 32, 12, 12, 17])


def profile_diff_table_html(data: ReportData) -> str:
    headers = ["모델", "기법", "book", "exact", "exact − book"]
    rows = []
    for spec in data.runs():
        b, x = data.entry("book", spec.name), data.entry("exact", spec.name)
        row = [esc(spec.name), esc(spec.technique)]
        if b.ok and x.ok:
            d = _r3(x.test_acc) - _r3(b.test_acc)
            row += [fmt_acc(b.test_acc), fmt_acc(x.test_acc), f"{d:+.3f}"]
        else:
            row += [fmt_acc(b.test_acc) if b.ok else _status_cell(b),
                    fmt_acc(x.test_acc) if x.ok else _status_cell(x), "—"]
        rows.append(row)
    return _table(headers, rows, caption="모델별 평가 정확도: book 프로파일과 exact 프로파일")


def profile_diff_sentences(data: ReportData) -> str:
    if not ("book" in data.profiles and "exact" in data.profiles):
        have = ", ".join(data.profiles) or "없음"
        return (f"book과 exact 두 프로파일의 결과가 모두 있어야 비교할 수 있습니다 "
                f"(결과가 있는 프로파일: {have}).\n")
    pairs = []
    for spec in data.runs():
        b, x = data.entry("book", spec.name), data.entry("exact", spec.name)
        if b.ok and x.ok:
            pairs.append((spec, _r3(x.test_acc) - _r3(b.test_acc), b, x))
    if not pairs:
        return "두 프로파일에서 모두 완료된 모델이 없어 비교할 수 없습니다.\n"
    up = [p for p in pairs if p[1] > 0]
    down = [p for p in pairs if p[1] < 0]
    same = [p for p in pairs if p[1] == 0]
    lines = [f"- 두 프로파일에서 모두 완료된 모델 {len(pairs)}개 가운데 exact가 더 높은 모델 "
             f"{len(up)}개, 더 낮은 모델 {len(down)}개, 같은 모델 {len(same)}개입니다."]
    big = max(pairs, key=lambda p: abs(p[1]))
    if big[1] != 0:
        spec, d, b, x = big
        lines.append(f"- 차이가 가장 큰 모델은 {spec.name} ({spec.technique})입니다: book "
                     f"{fmt_acc(b.test_acc)}, exact {fmt_acc(x.test_acc)} ({d:+.3f}).")
    return "\n".join(lines) + "\n"
