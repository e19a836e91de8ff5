"""The long study's Korean sentences: where validation loss turns up, and the seed report's
hypothesis answered per technique.

The seed report ran each model once for 10 epochs and expected (:data:`SEED_HYPOTHESIS`) that
the regularized models gain with more epochs. :func:`hypothesis_sentences` answers it per
technique with one of :data:`ANSWER_LABELS`, from the difference to the baseline at the long
study's epochs (Welch) and how that difference changed since 10 epochs (a combination of four
means, :func:`reglab.report.stats.combine`).
"""

from __future__ import annotations

from ..pipeline.experiments import CHAPTER8_RUNS
from .chapter_analysis import BASELINES
from .fmt import signed
from .records import StudyData
from .stats import Difference, combine, welch
from .study_analysis import long_epochs, long_rows, seed_summary
from .study_sentences import all_collapsed, seeds_of
from .verdicts import verdict

__all__ = ["SEED_HYPOTHESIS", "ANSWER_LABELS", "turn_up_sentences", "hypothesis_sentences"]

SEED_HYPOTHESIS = "Epoch가 늘어나면 늘어날 수록 정규화한 모델의 정확도가 높아질 것으로 예상된다."

#: Categories of the answer to the seed report's hypothesis, in the order of the summary.
ANSWER_LABELS = {"yes": "예상대로", "partly": "일부만 맞음", "no": "예상과 다름",
                 "opposite": "예상과 반대", "ahead": "처음부터 앞섬", "unclear": "확인되지 않음"}


def turn_up_sentences(data: StudyData) -> str:
    """Markdown bullets: per model, where the seed-mean validation loss is lowest and whether
    the rise after it exceeds the seed spread."""
    lines = []
    for r in long_rows(data):
        t, spec = r["turn"], r["spec"]
        if t is None:
            continue
        head = f"- {spec.name} ({spec.technique}): "
        if t["turned"] and t["rise_diff"].exceeds:
            s = (f"{head}평균 검증 손실이 {t['epoch']}에폭에서 가장 낮고({t['min']:.3f}) 그 뒤 "
                 f"올라가 {t['last_epoch']}에폭에는 {t['last']:.3f}입니다. 시드별로 잰 상승 폭은 "
                 f"평균 {signed(t['rise'])}이고, {verdict(t['rise_diff'])}.")
        elif t["turned"]:
            s = (f"{head}평균 검증 손실은 {t['epoch']}에폭에서 가장 낮지만({t['min']:.3f}), 그 뒤 "
                 f"{t['last_epoch']}에폭까지 시드별로 잰 상승 폭은 평균 {signed(t['rise'])}이고, "
                 f"{verdict(t['rise_diff'])}. 따라서 {t['last_epoch']}에폭 안에 올라간다고 할 "
                 "수 없습니다.")
        else:
            s = (f"{head}평균 검증 손실이 {t['last_epoch']}에폭 안에 올라가지 않습니다 (마지막 "
                 f"에폭이 가장 낮음: {t['min']:.3f}).")
        if r["one_class"]:
            s += (f" 이 모델은 {seeds_of(len(r['one_class']), r['acc'].n)}가 모든 사진을 한 "
                  "클래스로 예측해 손실이 거의 변하지 않습니다.")
        lines.append(s)
    return "\n".join(lines) + ("\n" if lines else "")


def hypothesis_sentences(data: StudyData) -> str:
    """The seed report's hypothesis answered per technique, with the numbers.

    At the long study's epochs: the regularized model's mean against its baseline's (Welch);
    the same difference at 10 epochs (exact seeds study) and how it changed (a combination of
    four means); the model's own accuracy change; the train − validation accuracy gaps.
    """
    E = long_epochs(data)
    rows = {r["spec"].name: r for r in long_rows(data)}
    lines, kinds = [], []
    for spec in CHAPTER8_RUNS:
        base = BASELINES[spec.family]
        if spec.name == base:
            continue
        r, b = rows[spec.name], rows[base]
        head = f"- **{spec.technique}** ({spec.name}, 기준 {base})"
        if not r["acc"].n or not b["acc"].n:
            lines.append(f"{head}: {E}에폭 결과가 모두 있어야 답할 수 있습니다.")
            continue
        d40 = welch(r["acc"], b["acc"])
        sub = [(f"{E}에폭: 평균 {r['acc'].mean_std()} (n={r['acc'].n}), 기준 "
                f"{b['acc'].mean_std()} (n={b['acc'].n}) → 차이 {signed(d40.diff)}; "
                f"{verdict(d40)}.")]
        if r["acc10"].n and b["acc10"].n:
            d10 = welch(r["acc10"], b["acc10"])
            change = combine([(1, r["acc"]), (-1, b["acc"]), (-1, r["acc10"]), (1, b["acc10"])])
            own = welch(r["acc"], r["acc10"])
            kind, answer = _hypothesis_answer(d40, change, E)
            kinds.append((kind, spec.technique))
            sub.append(f"10에폭 → {E}에폭: 기준과의 차이 {signed(d10.diff)} → {signed(d40.diff)}, 변화 "
                       f"{signed(change.diff)}; {verdict(change)}.")
            stuck = (r["one_class"] and len(r["one_class"]) == r["acc"].n
                     and all_collapsed(seed_summary(data, "exact", spec.name)))
            sub.append(f"이 모델의 평가 정확도: 10에폭 {r['acc10'].mean:.3f} → {E}에폭 "
                       f"{r['acc'].mean:.3f} ("
                       + ("두 길이 모두 모든 시드가 한 클래스만 예측하므로 차이가 없는 것이 아니라 "
                          "학습하지 못한 것입니다" if stuck else
                          f"{signed(own.diff)}; {verdict(own)}") + ").")
            if r["acc_gap10"].n and r["acc_gap"].n and b["acc_gap10"].n and b["acc_gap"].n:
                sub.append(f"학습 − 검증 정확도 차이 (10에폭 → {E}에폭): 이 모델 "
                           f"{signed(r['acc_gap10'].mean)} → {signed(r['acc_gap'].mean)}, 기준 "
                           f"{signed(b['acc_gap10'].mean)} → {signed(b['acc_gap'].mean)}.")
        else:
            answer = ("10에폭 exact 시드 반복이 없어 에폭에 따른 변화는 비교할 수 없습니다.")
        if r["one_class"]:
            sub.append(f"이 모델은 {E}에폭에서도 {seeds_of(len(r['one_class']), r['acc'].n)}가 "
                       "모든 사진을 한 클래스로 예측합니다.")
        lines.append(f"{head} — **답**: {answer}")
        lines += [f"    - {x}" for x in sub]
    if kinds:
        summary = "; ".join(
            f"{label} {len(names)}개 ({', '.join(names)})"
            for key, label in ANSWER_LABELS.items()
            if (names := [t for k, t in kinds if k == key]))
        lines.insert(0, f"- **요약** ({len(kinds)}개 기법): {summary}.")
    return "\n".join(lines) + ("\n" if lines else "")


def _hypothesis_answer(d40: Difference, change: Difference, E: int) -> tuple[str, str]:
    """(category, Korean answer) from the difference at ``E`` epochs and its change since 10."""
    up40 = d40.exceeds and d40.diff > 0
    down40 = d40.exceeds and d40.diff < 0
    if change.exceeds and change.diff > 0:
        if up40:
            return "yes", (f"예상대로입니다. 에폭을 늘리자 기준과의 차이가 정규화 모델 쪽으로 "
                           f"커졌고, {E}에폭에서 기준보다 높습니다.")
        return "partly", (f"일부만 맞습니다. 에폭을 늘리자 기준과의 차이가 정규화 모델 쪽으로 "
                          f"움직였지만, {E}에폭에서 기준보다 높다고 할 수는 "
                          + ("없고 오히려 낮습니다." if down40 else "없습니다."))
    if change.exceeds and change.diff < 0:
        return "opposite", ("예상과 반대입니다. 에폭을 늘리자 기준과의 차이가 정규화 모델에 "
                            "불리한 쪽으로 움직였습니다.")
    if not change.known:
        tail = ("기준보다 높습니다" if up40 else "기준보다 낮습니다" if down40
                else "기준과 구별되지 않습니다")
        return "unclear", f"시드가 모자라 변화를 판단할 수 없습니다; {E}에폭에서는 {tail}."
    if down40:
        return "no", (f"예상과 다릅니다. {E}에폭에서도 기준보다 낮고(흩어짐보다 큰 차이), 에폭을 "
                      "늘려도 기준과의 차이가 흩어짐을 넘게 줄지 않았습니다.")
    if up40:
        return "ahead", (f"{E}에폭에서 기준보다 높지만, 에폭을 늘려서 생긴 차이는 아닙니다: 기준과의 "
                         "차이가 10에폭 때와 흩어짐 안에서 같습니다.")
    return "unclear", (f"확인되지 않습니다. {E}에폭에서도 기준과 구별되지 않고, 에폭을 늘려도 "
                       "기준과의 차이가 흩어짐을 넘게 바뀌지 않았습니다.")
