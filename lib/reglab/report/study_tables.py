"""The study report's HTML tables: the seeds per profile, the long study, the ablation.

Means are shown with their standard deviation (``mean ± s``), intervals as ``[lo, hi]`` and
differences signed; a cell with no finished run says why ("완료된 시드 없음", "결과 없음", "실패").
"""

from __future__ import annotations

from ..pipeline.experiments import CHAPTER8_RUNS
from ..pipeline.study import LONG_SEEDS, SEEDS
from .fmt import esc, fmt_acc, header, nowrap, plabel, short_error, signed, table
from .records import FAILED, StudyData
from .study_analysis import ablation_rows, long_epochs, long_rows, seed_summary
from .verdicts import short_verdict

__all__ = ["seeds_table_html", "long_table_html", "ablation_table_html"]


def _n_cell(s: dict) -> str:
    """The finished seeds of a :func:`seed_summary`, with the failed ones."""
    n = s["acc"].n
    bad = [r for r in s["all"] if r.status == FAILED]
    return f"{n}" + (f" (실패 {len(bad)})" if bad else "")


def seeds_table_html(data: StudyData, profile: str) -> str:
    """One profile's seeds per model: accuracy (mean ± s, 95 % interval), gaps, one-class seeds."""
    headers = ["모델", "기법", "n", header("평가 정확도", "평균 ± 표준편차"), "95 % 구간",
               header("정확도 차이", "학습 − 검증"), header("손실 차이", "검증 − 학습"),
               header("한 클래스만", "예측")]
    rows = []
    for spec in CHAPTER8_RUNS:
        s = seed_summary(data, profile, spec.name)
        row = [esc(spec.name), esc(spec.technique), _n_cell(s)]
        if not s["acc"].n:
            row.append('<td class="missing" colspan="5">완료된 시드 없음</td>')
        else:
            lg = "—" if spec.l2_decay or spec.l1_decay else s["loss_gap"].mean_std()
            oc = s["one_class"]
            row += [nowrap(f"<b>{s['acc'].mean_std()}</b>"), nowrap(s["acc"].interval()),
                    nowrap(s["acc_gap"].mean_std()), nowrap(lg),
                    f"{len(oc)}/{s['acc'].n}" + (f" ({esc(oc[0]['class'])})"
                                                  if oc and oc[0]["class"] else "")]
        rows.append(row)
    return table(headers, rows, caption=f"시드 반복 ({len(SEEDS)}개 시드, 10에폭) — "
                 f"{esc(plabel(profile))}")


def long_table_html(data: StudyData) -> str:
    """The long study per model: where validation loss turns up; accuracy at 10 and E epochs."""
    E = long_epochs(data)
    headers = ["모델", "기법", "n", header("검증 손실", "최저 에폭"),
               header("그 뒤 상승", "(시드 평균)"), header("평균 검증 손실", "최저 → 마지막"),
               header("평가 정확도", f"{E}에폭"), header("평가 정확도", "10에폭", "(시드 반복)"),
               header("정확도 차이", "학습 − 검증", f"10 → {E}에폭")]
    rows = []
    for r in long_rows(data):
        spec, t = r["spec"], r["turn"]
        bad = sum(1 for x in r["all"] if x.status == FAILED)
        row = [esc(spec.name), esc(spec.technique),
               f"{r['acc'].n}" + (f" (실패 {bad})" if bad else "")]
        if t is None:
            row.append('<td class="missing" colspan="6">완료된 시드 없음</td>')
        else:
            if not t["turned"]:
                rise = "없음"
            else:
                rise = f"{signed(t['rise'])}<br>{short_verdict(t['rise_diff'])}"
            oc = (f"<br>한 클래스 {len(r['one_class'])}/{r['acc'].n}" if r["one_class"]
                  else "")
            g10 = signed(r["acc_gap10"].mean) if r["acc_gap10"].n else "—"
            row += [f"{t['epoch']}", nowrap(rise), nowrap(f"{t['min']:.3f} → {t['last']:.3f}"),
                    nowrap(f"<b>{r['acc'].mean_std()}</b>{oc}"),
                    nowrap(r["acc10"].mean_std() if r["acc10"].n else "—"),
                    nowrap(f"{g10} → {signed(r['acc_gap'].mean)}")]
        rows.append(row)
    return table(headers, rows, caption=f"긴 학습 ({E}에폭, exact, 시드 "
                 f"{', '.join(map(str, LONG_SEEDS))})")


def ablation_table_html(data: StudyData) -> str:
    """Each flipped run against the book seed-1234 run, with the book seed spread and a verdict."""
    headers = ["오류", "바꾼 항목", "모델", header("book", "(시드 1234)"), header("바꾼", "실행"),
               "차이", header("book 시드", "표준편차 (n)"), "판단"]
    rows = []
    for r in ablation_rows(data):
        ab, flip, ref, d = r["ablation"], r["flip"], r["ref"], r["diff"]
        oc_r = " (한 클래스)" if r["one_class_ref"] else ""
        oc_f = " (한 클래스)" if r["one_class_flip"] else ""
        row = [esc(ab.errata), esc(ab.label), esc(r["name"])]
        row.append(f"{fmt_acc(ref.test_acc)}{oc_r}" if ref is not None and ref.ok else
                   '<td class="missing">결과 없음</td>')
        if flip.ok:
            row.append(f"<b>{fmt_acc(flip.test_acc)}</b>{oc_f}")
        elif flip.status == FAILED:
            row.append(f'<td class="failed">실패: {esc(short_error(flip.error, 120))}</td>')
        else:
            row.append('<td class="missing">결과 없음</td>')
        sp = r["spread"]
        sp_txt = f"{sp.std:.3f} ({sp.n})" if sp.std is not None else f"— ({sp.n})"
        if d is None:
            row += ["—", sp_txt, "—"]
        else:
            if r["one_class_ref"] and r["one_class_flip"]:
                judge = "둘 다 한 클래스만 예측<br>(비교 불가)"
            elif d.diff == 0.0:
                judge = "정확히 같음"
            elif not d.known:
                judge = "판단 불가 (시드 부족)"
            elif d.se == 0.0:
                judge = "흩어짐보다 큼<br>(book 값이 시드와 무관)"
            elif d.exceeds:
                judge = f"흩어짐보다 큼<br>[{signed(d.lo)}, {signed(d.hi)}]"
            else:
                judge = f"흩어짐 안<br>[{signed(d.lo)}, {signed(d.hi)}]"
            row += [f"{signed(d.diff)}", sp_txt, judge]
        rows.append(row)
    return table(headers, rows, caption="book 프로파일에서 항목 하나만 바꾼 실행의 평가 정확도 "
                 "(시드 1234)")
