"""The chapter report's Korean sentences, every claim derived from the run records.

Markdown strings (``*_sentences``, ``*_markdown``): mostly bullet lists. Accuracies are compared
at the precision they are shown (three decimals, :func:`reglab.report.fmt.r3`), so a sentence
never says "higher" for two values printed the same. The comparisons themselves (collapse named,
seed noise quoted) are :mod:`reglab.report.chapter_comparisons`; they are re-exported here.
:data:`ABLATION_NOTE` is the one fixed paragraph, about what a book-vs-exact difference can and
cannot tell and where the ablation that can is.
"""

from __future__ import annotations

import numpy as np

from ..pipeline.experiments import CHAPTER8_RUNS
from .chapter_analysis import (BASELINES, comparable_losses, n_test, near_zero, overfitting_pick,
                               overhead_rows, unique)
from .chapter_comparisons import (acc_short, best_model_sentence, profile_diff_sentences,
                                  technique_effect_sentences)
from .chapter_seeds import seed_runs
from .fmt import esc, fmt_acc, fmt_int, fmt_thr, plabel, signed_secs
from .records import FAILED, MISSING, OK, ReportData, StudyData

__all__ = ["ABLATION_NOTE", "overview_markdown", "best_model_sentence",
           "technique_effect_sentences", "accuracy_sentences", "near_zero_sentences",
           "overhead_sentences", "overfitting_markdown", "profile_diff_sentences"]

ABLATION_NOTE = ("위 표의 마지막 열과 아래 표는 모델별로 book 프로파일과 exact 프로파일의 평가 "
                 "정확도를 비교한 것입니다. 두 프로파일은 모든 항목이 한꺼번에 다르므로, 이 차이가 "
                 "어느 한 항목만의 효과를 뜻하지는 않습니다. 항목을 하나씩만 바꾸어 비교하는 절제 "
                 "실험(ablation)은 `make study`(`python -m reglab study`)가 합니다: book "
                 "프로파일에서 정오표 번호 하나에 묶인 항목만 exact 값으로 바꾸고, 그 항목이 영향을 "
                 "줄 수 있는 모델만 시드 1234로 다시 학습합니다. 그 결과와 판단은 반복 실험 "
                 "보고서(`reports/study_report.html`)의 4절에 있습니다.")


# ----------------------------------------------------------------------------- overview
def overview_markdown(data: ReportData) -> str:
    """Data set, set-up and what the results folder holds, all from the records."""
    oks = data.ok_entries()
    lines = []
    if data.skipped:
        for p in data.skipped:
            lines.append(f"- **{esc(plabel(p))}** 프로파일은 결과 파일이 하나도 없어 이 보고서에서 "
                         "뺐습니다.")
    if not oks:
        lines.append("- 완료된 실행 결과가 없습니다. 먼저 `python -m reglab run`으로 실험을 "
                     "실행하세요. 아래 절에는 있는 것만 나옵니다.")
        c = data.counts()
        if c[FAILED]:
            lines.append(f"- 실패한 실행: {c[FAILED]}개 (아래 표에 \"실패\"로 표시).")
        return "\n".join(lines) + "\n"
    ds = [e.record.get("dataset") or {} for e in oks]
    splits = unique((d.get("train"), d.get("validation"), d.get("test")) for d in ds)
    classes = unique(tuple(d.get("classes") or []) for d in ds)
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
        vals = unique(fmt(c.get(key)) for c in cfgs if c.get(key) is not None)
        if not vals:
            return "—"
        return vals[0] if len(vals) == 1 else "실행마다 다름: " + ", ".join(vals)

    res = _one("resolution", lambda r: f"{r[0]}×{r[1]}×3")
    lines.append(f"- **설정**: 입력 {res}, 에폭 {_one('epochs', str)}, 미니배치 "
                 f"{_one('batch_size', str)}, 학습률 {_one('learning_rate', lambda v: f'{v:g}')}, "
                 f"옵티마이저 아담(Adam), 시드 {_one('seed', str)}.")
    max_s = unique(c.get("max_samples") for c in cfgs if c.get("max_samples"))
    if max_s:
        lines.append(f"- **주의**: 사진을 최대 {', '.join(fmt_int(m) for m in max_s)}장만 쓴 "
                     "실행이 있습니다(`max_samples`). 전체 데이터로 돌린 결과가 아닙니다.")
    c = data.counts()
    lines.append(f"- **결과 파일**: 프로파일 {', '.join(data.profiles)} — 완료 {c[OK]}개, 실패 "
                 f"{c[FAILED]}개, 결과 없음 {c[MISSING]}개 (모델 {len(CHAPTER8_RUNS)}개 × 프로파일 "
                 f"{len(data.profiles)}개).")
    vers = unique(tuple(sorted((e.record.get("versions") or {}).items())) for e in oks)
    if len(vers) == 1 and vers[0]:
        v = dict(vers[0])
        parts = [f"{k} {v[k]}" for k in ("reglab", "numpy", "python") if k in v]
        lines.append(f"- **실행 환경**: {', '.join(parts)}.")
    finished = sorted(str(e.record.get("finished_at")) for e in oks if e.record.get("finished_at"))
    if finished:
        lines.append(f"- **실행 완료 시각**: {finished[0]} ~ {finished[-1]} (UTC).")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- accuracy
def accuracy_sentences(data: ReportData, study: StudyData | None = None) -> str:
    """Markdown: per profile, the best MLP and CNN model and what each technique did, beside the
    seeds of the same runs in ``study`` (the records of ``python -m reglab study``), if any."""
    if not data.ok_entries():
        return "완료된 실행이 없어 정확도를 비교할 수 없습니다.\n"
    parts = []
    seeded = [e for e in data.ok_entries() if seed_runs(study, e)]
    if study is None:
        parts.append("반복 실험(`reports/study`)의 결과가 없어, 아래 비교는 모두 한 번의 실행끼리의 "
                     "비교입니다.")
    elif not seeded:
        parts.append("반복 실험의 결과는 있지만 이 보고서의 실행과 같은 설정의 시드가 없어, 아래 "
                     "비교는 모두 한 번의 실행끼리의 비교입니다.")
    else:
        ns = sorted({len(seed_runs(study, e)) for e in seeded})
        span = f"{ns[0]}–{ns[-1]}" if len(ns) > 1 else f"{ns[0]}"
        parts.append(f"반복 실험(`reports/study`)에 이 보고서의 완료된 실행 "
                     f"{len(data.ok_entries())}개 가운데 {len(seeded)}개와 같은 설정의 시드가 "
                     f"있습니다 (실행마다 시드 {span}개). 아래 비교마다 한 번의 실행 옆에 시드 "
                     "반복의 평균 ± 95 % 구간과 그 차이의 판단을 적었습니다.")
    for p in data.profiles:
        lines = [f"**{esc(plabel(p))}**", ""]
        lines.append(f"- {best_model_sentence(data, p, 'mlp')}")
        lines.append(f"- {best_model_sentence(data, p, 'cnn')}")
        lines += [f"- {s}" for s in technique_effect_sentences(data, p, study)]
        n = n_test(data, p)
        if n:
            lines.append(f"- 평가 데이터가 {fmt_int(n)}장이므로 한 장은 정확도 1/{n} ≈ {1 / n:.4f}에 "
                         "해당합니다. 이보다 작은 차이는 한두 장의 차이입니다.")
            cnn = [e.test_acc for e in data.ok_entries(p, "cnn")]
            if cnn:
                q = float(np.mean(cnn))
                se = float(np.sqrt(q * (1 - q) / n))
                lines.append(f"- 평가 사진을 뽑는 우연만으로도 정확도 {q:.2f} 근처에서 표준오차는 "
                             f"√(p(1−p)/n) ≈ {se:.3f}이고, 95 % 구간은 약 ±{1.96 * se:.3f}입니다. "
                             f"두 모델의 차이가 {1.96 * np.sqrt(2) * se:.3f}보다 작으면 한 번의 "
                             "실행으로는 구별할 수 없습니다"
                             + (" (위의 시드 반복 구간이 그 판단입니다)." if seeded else
                                " (시드를 바꾼 반복 실험이 필요합니다)."))
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- near zero
def near_zero_sentences(data: ReportData) -> str:
    """Markdown: which MLP model has the most near-zero weights, against the baseline."""
    parts = []
    for p in data.profiles:
        oks = data.ok_entries(p, "mlp")
        if not oks:
            parts.append(f"- {p} 프로파일: 완료된 MLP 실행이 없습니다.")
            continue
        counts = {e.name: near_zero(e) for e in oks}
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
            bc = near_zero(base)[0]
            ratio = f", {c / bc:,.1f}배" if bc else ""
            s += f" 기준 모델 {base.name}: {fmt_int(bc)}개 (차이 {fmt_int(c - bc)}개{ratio})."
        parts.append(s)
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- overhead
def overhead_sentences(data: ReportData) -> str:
    """Markdown: per profile, the technique that adds the most train time; the faster runs."""
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
             f"({most['name']})입니다: 기준 {most['baseline']}보다 {signed_secs(most['overhead'])}"
             f"{pct}.")
        slower = [r for r in rows if r["overhead"] > 0]
        faster = [r for r in rows if r["overhead"] < 0]
        if faster:
            s += (" 기준보다 빨랐던 실행: "
                  + ", ".join(f"{r['name']} ({signed_secs(r['overhead'])})" for r in faster)
                  + ".")
        elif least is not most:
            s += (f" 가장 적게 늘어난 기법은 {least['technique']}({least['name']}, "
                  f"{signed_secs(least['overhead'])})입니다.")
        s += f" 기준보다 느렸던 실행 {len(slower)}개, 빨랐던 실행 {len(faster)}개."
        parts.append(s)
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- overfitting
def overfitting_markdown(data: ReportData) -> str:
    """The paragraph about :func:`~reglab.report.chapter_analysis.overfitting_pick`'s run."""
    pick = overfitting_pick(data)
    if pick is None:
        return ("L2/L1 정규화가 없는 완료된 실행이 없어 과적합을 그림으로 보일 수 없습니다.\n")
    e, gap = pick
    last = e.last
    n = len([x for x in data.ok_entries() if x.last and comparable_losses(x)])
    s = (f"L2/L1 정규화가 없는 완료된 실행 {n}개 가운데 마지막 에폭({last['epoch']})에서 검증 손실과 학습 손실의 차이가 "
         f"가장 큰 실행은 {e.profile} 프로파일의 {e.name} ({e.spec.technique})입니다: 학습 손실 "
         f"{last['train_loss']:.3f}, 검증 손실 {last['val_loss']:.3f}, 차이 {gap:+.3f}. "
         f"학습 정확도는 {fmt_acc(last['train_acc'])}, 검증 정확도는 {fmt_acc(last['val_acc'])}, "
         f"평가 정확도는 {acc_short(e)}입니다. ")
    if gap > 0:
        s += ("검증 손실이 학습 손실보다 크므로, 모델이 학습 데이터에 더 잘 맞고 처음 보는 데이터에는 "
              "덜 맞는 과적합의 신호입니다.")
    else:
        s += ("이 실행에서도 검증 손실이 학습 손실보다 크지 않아, 이번 결과에서는 손실로 본 뚜렷한 "
              "과적합이 보이지 않습니다.")
    return s + "\n"
