"""The ablation's Korean sentences: what flipping one book-profile switch did.

Each flipped run (seed 1234) is compared with the book profile's seed-1234 run of the seeds
study (:func:`reglab.report.study_analysis.ablation_rows`). :func:`ablation_sentences` says, in
this order: which switch brings the book MLPs out of one-class prediction, what each switch does
to the batch-normalization model (flowers_cnn_4), why switching the validation leaves the test
accuracy exactly the same, then every other flipped run with its verdict.
"""

from __future__ import annotations

from ..pipeline.experiments import CHAPTER8_RUNS
from .fmt import fmt_acc, signed, topic
from .records import StudyData
from .stats import welch
from .study_analysis import ablation_rows, seed_summary
from .study_sentences import class_name_ko, predicts
from .verdicts import direction, short_verdict, verdict

__all__ = ["ablation_sentences"]


def _collapse_sentences(data: StudyData, rows: list[dict]) -> list[str]:
    """Which switch brings the book MLPs out of one-class prediction."""
    out = []
    mlp = [s for s in CHAPTER8_RUNS if s.family == "mlp"]
    collapsed = []
    for spec in mlp:
        s = seed_summary(data, "book", spec.name)
        if s["one_class"]:
            collapsed.append((spec, s))
    if not collapsed:
        return out
    oc = collapsed[0][1]["one_class"][0]
    share = (f"{oc['test_count']}/{oc['test_n']} = {oc['test_share']:.3f}"
             if oc["test_count"] is not None else f"{oc['test_share']:.3f}")
    which = ", ".join(f"{spec.name} {len(s['one_class'])}/{s['acc'].n}" for spec, s in collapsed)
    cls = class_name_ko(oc["class"])
    why = ""
    if not oc["inferred"]:
        why = (f" 평가 정확도({share})는 평가 데이터에서 {cls}의 비율이고, 학습 데이터에서 "
               f"{cls}의 비율은 {oc['train_share']:.3f}입니다"
               + (" (학습 데이터에서 가장 많은 클래스" + ("" if oc["largest_test"] else
                  "; 평가 데이터에서 가장 많은 클래스는 아님") + ")" if oc["largest_train"] else "")
               + ".")
    out.append(f"- **MLP의 붕괴**: book 프로파일의 MLP는 {predicts(oc['class'])} 예측합니다 "
               f"(시드 반복에서 {which}).{why}")
    fixes, stays = {}, {}
    for r in rows:
        if r["spec"].family != "mlp" or not r["flip"].ok or r["one_class_ref"] is None:
            continue
        ab = r["ablation"]
        if r["one_class_flip"] is None:
            fixes.setdefault(ab.key, (ab, []))[1].append(
                f"{r['name']} {fmt_acc(r['ref'].test_acc)} → {fmt_acc(r['flip'].test_acc)} "
                f"({short_verdict(r['diff'])})")
        else:
            stays.setdefault(ab.key, (ab, []))[1].append(
                f"{r['name']} {fmt_acc(r['flip'].test_acc)}")
    for ab, items in fixes.values():
        out.append(f"- 「{ab.label}」({ab.errata})만 바꾸면 한 클래스 예측에서 벗어납니다: "
                   + ", ".join(items) + ".")
    if stays:
        out.append("- 바꾸어도 여전히 한 클래스만 예측하는 항목: "
                   + "; ".join(f"「{ab.label}」({ab.errata}) — {', '.join(items)}"
                               for ab, items in stays.values()) + ".")
    fixed_names = {r["name"] for r in rows if r["ablation"].key in fixes and r["flip"].ok
                   and r["one_class_flip"] is None and r["one_class_ref"] is not None}
    if len(fixes) == 1:
        ab = next(iter(fixes.values()))[0]
        every = all(spec.name in fixed_names for spec, _ in collapsed)
        out.append(f"- 따라서 book 프로파일의 MLP를 한 클래스 예측으로 무너뜨리는 것은 "
                   f"「{ab.label}」({ab.errata})가 빠진 것, 곧 0–255 입력을 그대로 쓰는 교재 "
                   f"코드입니다" + ("" if every else " (결과가 있는 모델에서)") + "."
                   if ab.key == "input_scale" else
                   f"- 한 클래스 예측을 푸는 항목은 「{ab.label}」({ab.errata}) 하나입니다.")
    elif not fixes and stays:
        out.append("- 한 번에 하나씩 바꾼 항목 가운데 MLP를 한 클래스 예측에서 벗어나게 하는 것은 "
                   "없습니다.")
    return out


def _bn_sentences(data: StudyData, rows: list[dict]) -> list[str]:
    """The batch-normalization model: book vs exact seeds, and each switch's one-run effect."""
    bn = [r for r in rows if r["name"] == "flowers_cnn_4" and r["diff"] is not None]
    out = []
    b = seed_summary(data, "book", "flowers_cnn_4")["acc"]
    x = seed_summary(data, "exact", "flowers_cnn_4")["acc"]
    if b.n and x.n:
        d = welch(x, b)
        out.append(f"- **배치 정규화 모델 (flowers_cnn_4)**: 시드 반복에서 book {b.mean_std()}, "
                   f"exact {x.mean_std()} → exact − book {signed(d.diff)}; {verdict(d)}.")
    if not bn:
        return out
    parts = [f"「{r['ablation'].label}」({r['ablation'].errata}) {signed(r['diff'].diff)} "
             f"({short_verdict(r['diff'])})" for r in bn]
    out.append("- flowers_cnn_4에서 항목 하나씩 바꾼 효과 (시드 1234, book "
               f"{fmt_acc(bn[0]['ref'].test_acc)} 기준): " + "; ".join(parts) + ".")
    big = [r for r in bn if r["diff"].exceeds]
    if big:
        top = max(big, key=lambda r: abs(r["diff"].diff))
        out.append(f"- flowers_cnn_4를 가장 크게 바꾸는 항목은 {top['ablation'].label} "
                   f"({top['ablation'].errata})입니다: {fmt_acc(top['ref'].test_acc)} → "
                   f"{fmt_acc(top['flip'].test_acc)} ({signed(top['diff'].diff)}). "
                   + ("교재 코드의 이 동작이 배치 정규화 모델을 낮춥니다."
                      if top["diff"].diff > 0 else
                      "교재 코드의 이 동작을 고치면 오히려 낮아집니다."))
    else:
        s = ("- 어느 항목도 한 번의 실행(시드 1234)으로는 flowers_cnn_4의 평가 정확도를 book 시드 "
             "흩어짐보다 크게 바꾸지 않습니다.")
        top = max(bn, key=lambda r: r["diff"].diff)
        if top["diff"].diff > 0:
            s += (f" 가장 크게 올린 항목은 「{top['ablation'].label}」({top['ablation'].errata}), "
                  f"{signed(top['diff'].diff)}입니다.")
        ref = bn[0]["ref"].test_acc
        if b.n >= 2:
            s += (f" 비교 기준인 시드 1234의 book 값 {topic(fmt_acc(ref))} book 시드 평균 "
                  f"{b.mean_std()}보다 {direction(ref - b.mean)}.")
        out.append(s)
    return out


def _validation_sentences(rows: list[dict]) -> list[str]:
    """The validation switch: the test accuracy should not move (separate random streams)."""
    val = [r for r in rows if r["ablation"].key == "validation" and r["diff"] is not None]
    if not val:
        return []
    same = [r for r in val if r["diff"].diff == 0.0]
    ab = val[0]["ablation"]
    if len(same) == len(val):
        return [(f"- **{ab.label} ({ab.errata})**: 평가 정확도가 {len(val)}개 모델 모두 정확히 "
                 "같습니다. reglab에서는 검증에 쓸 사진을 뽑는 난수가 학습 난수(초기화, 미니배치 "
                 "순서, 드롭아웃·잡음)와 따로 있어서, 검증 방식만 바꾸면 학습과 평가는 그대로이고 "
                 "기록되는 검증 손실·정확도만 달라집니다.")]
    parts = [f"{r['name']} {signed(r['diff'].diff)}" for r in val]
    return [f"- **{ab.label} ({ab.errata})**: 평가 정확도 차이 " + ", ".join(parts)
            + ". 검증 난수는 학습 난수와 따로 있으므로, 0이 아닌 차이는 검증 이외의 원인"
            "(예: 실행 환경)을 뜻합니다."]


def ablation_sentences(data: StudyData) -> str:
    """Markdown bullets about every flipped run (see the module's description for the order)."""
    rows = ablation_rows(data)
    lines = _collapse_sentences(data, rows) + _bn_sentences(data, rows)
    lines += _validation_sentences(rows)
    done = {"validation"}
    for r in rows:
        ab = r["ablation"]
        if ab.key in done or r["diff"] is None or r["name"] == "flowers_cnn_4":
            continue
        if r["spec"].family == "mlp" and r["one_class_ref"] is not None:
            continue                      # said above (the collapse)
        lines.append(f"- {ab.label} ({ab.errata}), {r['name']}: {fmt_acc(r['ref'].test_acc)} → "
                     f"{fmt_acc(r['flip'].test_acc)} ({signed(r['diff'].diff)}); "
                     f"{verdict(r['diff'], 'book 시드 흩어짐')}.")
    return "\n".join(lines) + ("\n" if lines else "")
