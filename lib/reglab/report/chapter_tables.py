"""The chapter report's HTML tables (``*_table_html``), built from :class:`ReportData`.

Each function returns ``<table class="reglab">`` strings; every cell's text is escaped here.
A run without a result shows "실패: <message>" or "결과 없음" in its cells; a run that predicts
one class for every photo shows "한 클래스만 예측" beside its accuracy (:func:`acc_cell`). Code
values are in ``<code>`` that does not break inside a word, and a table whose cells use a mark
says what it means in its caption.
"""

from __future__ import annotations

from ..nn.display import NEAR_ZERO
from ..pipeline.experiments import CHAPTER8_RUNS
from ..profile import Profile
from .chapter_analysis import BASELINES, affected_runs, near_zero, overhead_rows, unique
from .chapter_comparisons import ONE_CLASS, short_cause
from .chapter_seeds import collapsed, compare, seed_acc
from .collapse import class_ko, predicts_all
from .fmt import (esc, fmt_acc, fmt_int, fmt_secs, fmt_thr, fmt_value, header, nowrap, plabel,
                  r3, signed, signed_secs, status_cell, table)
from .records import ReportData, RunEntry, StudyData
from .verdicts import short_verdict

__all__ = ["FIELD_KO", "acc_cell", "run_table_html", "accuracy_table_html", "near_zero_table_html",
           "overhead_table_html", "seed_comparison_table_html", "errata_table_html",
           "profile_diff_table_html"]

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


def acc_cell(e: RunEntry, bold: bool = False) -> str:
    """A finished run's test accuracy, with "한 클래스만 예측" under it if the run collapsed."""
    acc = esc(fmt_acc(e.test_acc))
    acc = f"<b>{acc}</b>" if bold else acc
    oc = collapsed(e)
    if oc is None:
        return acc
    return f'{acc}<br><span class="collapsed">{ONE_CLASS}</span>'


def _label(text: str) -> str:
    """A label cell that never wraps ("정규화 기법", "Train time")."""
    return f'<td class="label">{esc(text)}</td>'


def run_table_html(entry: RunEntry) -> str:
    """The seed report's table for one run and profile: 구분 / 내용 / 값."""
    cfg = entry.config
    epochs = cfg.get("epochs", "—")
    hconf = cfg.get("hconfigs", entry.spec.hconfigs)
    rows = [
        ['<td rowspan="3" class="group">조건</td>', _label("Epoch"), esc(epochs)],
        [_label("hidden layer"), f'<code class="wrap">{esc(repr(hconf))}</code>'],
        [_label("정규화 기법"), esc(entry.spec.technique)],
    ]
    if entry.ok:
        oc = collapsed(entry)
        acc = esc(fmt_acc(entry.test_acc))
        if oc is not None:
            acc += f' <span class="collapsed">({esc(predicts_all(oc))}, {ONE_CLASS})</span>'
        rows += [['<td rowspan="2" class="group">최종 결과</td>', _label("Accuracy"), acc],
                 [_label("Train time"), esc(fmt_secs(entry.train_seconds))],
                 ['<td class="group">결과 화면</td>',
                  f'<td colspan="2"><pre class="log">{esc(entry.record.get("log", "").rstrip())}'
                  "</pre></td>"]]
    else:
        rows += [['<td class="group">최종 결과</td>', status_cell(entry, colspan=2)]]
    cap = f"{esc(entry.name)} — {esc(plabel(entry.profile))}"
    return table(["구분", "내용", "값"], rows, caption=cap, cls="reglab runtable")


def _one_class_cell(e: RunEntry) -> str:
    oc = collapsed(e)
    if oc is None:
        return "아니오"
    cnt = (f" {oc['test_count']}/{oc['test_n']}" if oc.get("test_count") is not None
           and oc.get("test_n") else "")
    return f"예: {esc(class_ko(oc['class']))}{cnt}"


def accuracy_table_html(data: ReportData, study: StudyData | None = None) -> str:
    """Per profile, one table: test accuracy, whether the run predicts one class, the final
    epoch's train/validation accuracy and, with ``study``, the seeds' mean ± 95 % interval."""
    out = []
    for p in data.profiles:
        headers = ["모델", "기법", header("평가", "정확도"), header(ONE_CLASS),
                   header("학습 / 검증", "(마지막 에폭)")]
        if study is not None:
            headers.append(header("시드 반복", "평균 ± 95 % 구간 (n)"))
        rows = []
        for spec in data.runs():
            e = data.entry(p, spec.name)
            row = [esc(spec.name), esc(spec.technique)]
            span = 4 if study is not None else 3
            if e.ok:
                last = e.last
                tv = (f"{fmt_acc(last['train_acc'])} / {fmt_acc(last['val_acc'])}"
                      if last else "—")
                row += [f"<b>{esc(fmt_acc(e.test_acc))}</b>", _one_class_cell(e), nowrap(tv)]
                if study is not None:
                    s = seed_acc(study, e)
                    row.append(nowrap("같은 설정의 시드 없음" if not s.n else
                                      f"{s.mean:.3f} ± {s.half:.3f} ({s.n})" if s.half is not None
                                      else f"{s.mean:.3f} ({s.n})"))
            else:
                row += [status_cell(e, colspan=span)]
            rows.append(row)
        note = (f"{ONE_CLASS}: 모든 평가 사진을 한 클래스로 답한 실행 (예: 그 클래스와 평가 "
                "데이터에서의 사진 수). 학습 / 검증: 마지막 에폭의 정확도.")
        if study is not None:
            note += " 시드 반복: 같은 프로파일·모델·설정의 시드들, n은 시드 수."
        out.append(table(headers, rows, caption=f"평가 정확도 — {esc(plabel(p))}<br>"
                         f'<span class="legend">{esc(note)}</span>'))
    return "\n".join(out) if out else table(["모델", "기법"], [], caption="평가 정확도 비교")


def near_zero_table_html(data: ReportData) -> str:
    """Near-zero weight counts (|w| ≤ threshold) of the MLP models, with the seed report's."""
    headers = ["모델", "기법"] + [f"{esc(p)}" for p in data.profiles] + ["원 보고서"]
    rows = []
    for spec in data.runs("mlp"):
        row = [esc(spec.name), esc(spec.technique)]
        for p in data.profiles:
            e = data.entry(p, spec.name)
            if e.ok:
                c, t, _ = near_zero(e)
                row.append(f"{fmt_int(c)} / {fmt_int(t)} ({100 * c / t if t else 0:.1f}%)")
            else:
                row.append(status_cell(e))
        seed = spec.seed_report.get("near_zero")
        row.append("—" if seed is None else fmt_int(seed))
        rows.append(row)
    thr = unique(near_zero(e)[2] for e in data.ok_entries(family="mlp")) or [NEAR_ZERO]
    return table(headers, rows, caption=f"0에 가까운 가중치 수 (|w| ≤ {fmt_thr(thr[0])})")


def overhead_table_html(data: ReportData) -> str:
    """Train time of each technique and what it adds to its baseline's, per profile."""
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
                row += [status_cell(bad, colspan=2)]
            else:
                pct = "" if r["percent"] is None else f" ({r['percent']:+.0f}%)"
                row += [f"{fmt_secs(r['seconds'])} (기준 {fmt_secs(r['base_seconds'])})",
                        f"{signed_secs(r['overhead'])}{pct}"]
        rows.append(row)
    return table(headers, rows, caption="기법별 학습 시간과 기준 모델 대비 추가 시간")


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
            row += ([acc_cell(e), fmt_secs(e.train_seconds)] if e.ok
                    else [status_cell(e, colspan=2)])
        rows.append(row)
    return table(headers, rows, caption="원 보고서의 결과와 이번 실행")


def _erratum(mark: str) -> str:
    """The errata number (E1–E9) of a profile field, "—" for a field outside the errata."""
    return esc(mark) if mark.startswith("E") else "—"


def _acc_mark(e: RunEntry) -> str:
    return fmt_acc(e.test_acc) + (" (한 클래스)" if collapsed(e) else "")


def errata_table_html(data: ReportData) -> str:
    """Every profile field (erratum, meaning, book vs exact value) and the related runs' accuracy
    in the two profiles (all switches changed together)."""
    have_both = "book" in data.profiles and "exact" in data.profiles
    headers = ["정오표", "항목", "내용", "book", "exact",
               header("관련 모델의 평가 정확도", "(book → exact)")]
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
                    items.append(f'<span class="nowrap">{esc(s.name)}:</span> '
                                 f"{esc(_acc_mark(b))} → {esc(_acc_mark(x))}")
                else:
                    items.append(f"{esc(s.name)}: 비교 불가")
            effect = "<br>".join(items) if items else "해당 모델 없음"
        rows.append([_erratum(d["erratum"]), f"<code>{esc(name)}</code>",
                     esc(FIELD_KO.get(name, d["doc"])),
                     f"<code>{esc(fmt_value(d['book']))}</code>",
                     f"<code>{esc(fmt_value(d['exact']))}</code>", effect])
    legend = ("정오표: 교재 코드가 교과서 수식과 다르게 계산하는 곳의 번호 E1–E9. "
              "—: 정오표에 없는 항목(교재 코드의 세부 값으로, 두 프로파일에서 값을 정해 둔 것). "
              "(한 클래스): 모든 평가 사진을 한 클래스로 예측한 실행.")
    return table(headers, rows, caption="프로파일 항목: 교재 코드(book)와 교과서 수식(exact)"
                 f'<br><span class="legend">{esc(legend)}</span>', cls="reglab errata")


def profile_diff_table_html(data: ReportData, study: StudyData | None = None) -> str:
    """Test accuracy per model in the book and the exact profile, their difference and, with
    ``study``, the difference of the seeds' means with its verdict. Without both profiles: a
    paragraph saying that the report has no profile comparison."""
    if not ("book" in data.profiles and "exact" in data.profiles):
        have = ", ".join(data.profiles) or "없음"
        note = ("book과 exact 두 프로파일의 결과가 모두 있어야 모델별 프로파일 비교 표를 만들 수 "
                f"있습니다 (결과가 있는 프로파일: {have}).")
        return f'<p class="note">{esc(note)}</p>'
    headers = ["모델", "기법", "book", "exact", header("exact − book", "(한 번의 실행)")]
    if study is not None:
        headers += [header("시드 평균의 차이", "[95 % 구간]"), "판단"]
    rows = []
    for spec in data.runs():
        b, x = data.entry("book", spec.name), data.entry("exact", spec.name)
        row = [esc(spec.name), esc(spec.technique)]
        cmp = compare(study, x, b)
        if cmp is not None:
            row += [acc_cell(b), acc_cell(x)]
            if cmp.both_collapsed:
                row.append(f'<td class="collapsed">{signed(cmp.diff)}<br>둘 다 한 클래스: book '
                           f"{_cause(data, b)}, exact {_cause(data, x)}</td>")
            else:
                row.append(nowrap(signed(cmp.diff)))
            if study is not None:
                row += _seed_cells(cmp)
        else:
            row += [acc_cell(b) if b.ok else status_cell(b),
                    acc_cell(x) if x.ok else status_cell(x), "—"]
            if study is not None:
                row += ["—", "—"]
        rows.append(row)
    legend = "한 클래스만 예측: 모든 평가 사진을 한 클래스로 답한 실행. —: 비교할 결과가 없음."
    if study is not None:
        legend += (" 시드 평균의 차이: 두 프로파일의 시드 반복 평균의 차이와 Welch의 95 % 구간; "
                   "판단은 그 구간이 0을 포함하지 않으면 \"흩어짐보다 큼\", 포함하면 \"흩어짐 안\".")
    return table(headers, rows, caption="모델별 평가 정확도: book 프로파일과 exact 프로파일"
                 f'<br><span class="legend">{esc(legend)}</span>')


def _cause(data: ReportData, e: RunEntry) -> str:
    """:func:`short_cause` as HTML, "0–255" kept on one line."""
    return esc(short_cause(data, e)).replace("0–255", '<span class="nowrap">0–255</span>')


def _seed_cells(cmp) -> list[str]:
    """The seeds' difference [interval] and verdict cells of a profile comparison."""
    if cmp.seeds is None:
        return ['<td colspan="2" class="missing">같은 설정의 시드 없음</td>']
    sa, sb, d = cmp.seeds
    if sa.all_collapsed and sb.all_collapsed:
        return ['<td colspan="2" class="collapsed">두 프로파일 모두 모든 시드가 한 클래스만 '
                f"예측 ({sa.acc.n}/{sb.acc.n})</td>"]
    rng = f"<br>[{signed(d.lo)}, {signed(d.hi)}]" if d.known and d.se else ""
    return [nowrap(f"{signed(d.diff)}{rng}"), nowrap(esc(short_verdict(d)))]
