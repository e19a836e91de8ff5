"""The chapter report's Korean sentences, every claim derived from the run records.

Markdown strings (``*_sentences``, ``*_markdown``): mostly bullet lists. Accuracies are compared
at the precision they are shown (three decimals, :func:`reglab.report.fmt.r3`), so a sentence
never says "higher" for two values printed the same. :data:`ABLATION_NOTE` is the one fixed
paragraph, about what a book-vs-exact difference can and cannot tell.
"""

from __future__ import annotations

import numpy as np

from ..pipeline.experiments import CHAPTER8_RUNS
from .chapter_analysis import (BASELINES, comparable_losses, n_test, near_zero, overfitting_pick,
                               overhead_rows, technique_pairs, unique)
from .fmt import FAMILY_LABELS, esc, fmt_acc, fmt_int, fmt_thr, plabel, r3, signed_secs
from .records import FAILED, MISSING, OK, ReportData

__all__ = ["ABLATION_NOTE", "overview_markdown", "best_model_sentence",
           "technique_effect_sentences", "accuracy_sentences", "near_zero_sentences",
           "overhead_sentences", "overfitting_markdown", "profile_diff_sentences"]

ABLATION_NOTE = ("지금 보이는 효과는 모델별로 book 프로파일과 exact 프로파일의 평가 정확도를 비교한 "
                 "것입니다(위 표의 마지막 열과 아래 표). 두 프로파일은 모든 항목이 한꺼번에 다르므로, "
                 "이 차이가 어느 한 항목만의 효과를 뜻하지는 않습니다. 항목을 하나씩만 바꾸어 비교하는 "
                 "실험(ablation)은 이후 작업에서 추가됩니다.")


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
    best = max(r3(e.test_acc) for e in oks)
    top = [e for e in oks if r3(e.test_acc) == best]
    if len(top) == len(oks):
        return (f"{profile} 프로파일: {fam} 모델 {len(oks)}개의 평가 정확도가 모두 같습니다 "
                f"({fmt_acc(best)}).")
    names = ", ".join(f"{e.name} ({e.spec.technique})" for e in top)
    rest = sorted((e for e in oks if e not in top), key=lambda e: -e.test_acc)
    nxt = rest[0]
    lead = best - r3(nxt.test_acc)
    if len(top) == 1:
        return (f"{profile} 프로파일에서 평가 정확도가 가장 높은 {fam} 모델은 {names}입니다: "
                f"{fmt_acc(best)}, 다음인 {nxt.name}의 {fmt_acc(nxt.test_acc)}보다 "
                f"{lead:.3f} 높습니다.")
    return (f"{profile} 프로파일에서 평가 정확도가 가장 높은 {fam} 모델은 {len(top)}개로, "
            f"모두 {fmt_acc(best)}입니다: {names}.")


def technique_effect_sentences(data: ReportData, profile: str) -> list[str]:
    """One bullet per technique: higher, lower or equal test accuracy than its baseline."""
    out = []
    for spec, base_name, e, b in technique_pairs(data, profile):
        head = f"**{spec.technique}** ({spec.name})"
        if not e.ok or not b.ok:
            missing = ", ".join(x.name for x in (e, b) if not x.ok)
            out.append(f"{head}: {missing} 결과가 없어 기준 모델과 비교할 수 없습니다.")
            continue
        diff = r3(e.test_acc) - r3(b.test_acc)
        cmp = (f"평가 정확도 {fmt_acc(e.test_acc)}, 기준 {base_name} {fmt_acc(b.test_acc)}")
        if diff > 0:
            out.append(f"{head}: {cmp} → {diff:.3f} 높습니다. 이 실행에서는 정확도가 올랐습니다.")
        elif diff < 0:
            out.append(f"{head}: {cmp} → {-diff:.3f} 낮습니다. 이 실행에서는 정확도를 높이지 "
                       "못했습니다.")
        else:
            out.append(f"{head}: {cmp} → 같습니다. 이 실행에서는 정확도에 차이가 없습니다.")
    return out


def accuracy_sentences(data: ReportData) -> str:
    """Markdown: per profile, the best MLP and CNN model and what each technique did."""
    if not data.ok_entries():
        return "완료된 실행이 없어 정확도를 비교할 수 없습니다.\n"
    parts = []
    for p in data.profiles:
        lines = [f"**{esc(plabel(p))}**", ""]
        lines.append(f"- {best_model_sentence(data, p, 'mlp')}")
        lines.append(f"- {best_model_sentence(data, p, 'cnn')}")
        lines += [f"- {s}" for s in technique_effect_sentences(data, p)]
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
                             f"두 모델의 차이가 {1.96 * np.sqrt(2) * se:.3f}보다 작으면 이 한 번의 "
                             "실행으로는 구별할 수 없습니다 (시드를 바꾼 반복 실험이 필요합니다).")
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
         f"평가 정확도는 {fmt_acc(e.test_acc)}입니다. ")
    if gap > 0:
        s += ("검증 손실이 학습 손실보다 크므로, 모델이 학습 데이터에 더 잘 맞고 처음 보는 데이터에는 "
              "덜 맞는 과적합의 신호입니다.")
    else:
        s += ("이 실행에서도 검증 손실이 학습 손실보다 크지 않아, 이번 결과에서는 손실로 본 뚜렷한 "
              "과적합이 보이지 않습니다.")
    return s + "\n"


# ----------------------------------------------------------------------------- profiles
def profile_diff_sentences(data: ReportData) -> str:
    """Markdown: how many models the exact profile raises or lowers, and the largest change."""
    if not ("book" in data.profiles and "exact" in data.profiles):
        have = ", ".join(data.profiles) or "없음"
        return (f"book과 exact 두 프로파일의 결과가 모두 있어야 비교할 수 있습니다 "
                f"(결과가 있는 프로파일: {have}).\n")
    pairs = []
    for spec in data.runs():
        b, x = data.entry("book", spec.name), data.entry("exact", spec.name)
        if b.ok and x.ok:
            pairs.append((spec, r3(x.test_acc) - r3(b.test_acc), b, x))
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
