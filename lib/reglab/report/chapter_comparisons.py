"""The chapter report's comparison sentences: collapse named, seed noise quoted.

Every place where the chapter report compares one run with another goes through here:

* :func:`acc_short` writes an accuracy with "(한 클래스만 예측)" when the run collapsed, and
  :func:`collapse_sentence` / :func:`cause_sentence` say which class and what the records point
  to as the cause (:func:`reglab.report.chapter_seeds.collapse_cause`);
* :func:`technique_effect_sentences` — each technique against its baseline: two collapsed runs
  are never "the same", and the single runs' difference stands beside the seeds' means and the
  95 % interval of their difference (or the sentence says it is one run);
* :func:`best_model_sentence`, :func:`profile_diff_sentences` — the same rules for the best
  model of a family and for book against exact.
"""

from __future__ import annotations

from .chapter_analysis import technique_pairs
from .chapter_seeds import Comparison, collapse_cause, collapsed, compare
from .collapse import class_ko, predicts_all, share_text
from .fmt import FAMILY_LABELS, fmt_acc, fmt_thr, r3, signed, topic
from .records import ReportData, RunEntry, StudyData
from .stats import Summary
from .verdicts import verdict

__all__ = ["acc_short", "collapse_sentence", "cause_sentence", "short_cause", "seeds_sentence",
           "one_run_note", "best_model_sentence", "technique_effect_sentences",
           "profile_diff_sentences"]

ONE_CLASS = "한 클래스만 예측"


def acc_short(e: RunEntry) -> str:
    """``0.225`` or ``0.225 (한 클래스만 예측)`` for a finished run."""
    return fmt_acc(e.test_acc) + (f" ({ONE_CLASS})" if collapsed(e) else "")


def collapse_sentence(oc: dict, subject: str = "이 모델은") -> str:
    """"이 모델은 모든 평가 사진을 dandelion(민들레)으로 예측합니다 (147/652 = 0.225, 평가
    데이터에서 dandelion(민들레)의 비율)."."""
    where = ("" if oc.get("inferred") or not oc.get("class") else
             f", 평가 데이터에서 {class_ko(oc['class'])}의 비율")
    how = (" — 마지막 에폭들의 학습 정확도가 변하지 않는 것으로 판단" if oc.get("inferred")
           else "")
    return f"{subject} {predicts_all(oc)}합니다 (평가 정확도 {share_text(oc)}{where}{how})."


def _lam(cause: dict) -> str:
    parts = [f"L2 λ={cause['l2']:g}" if cause["l2"] else "", f"L1 λ={cause['l1']:g}"
             if cause["l1"] else ""]
    return ", ".join(p for p in parts if p)


def cause_sentence(data: ReportData, e: RunEntry) -> str:
    """What the records point to as the cause of a collapsed run ("" if it did not collapse)."""
    c = collapse_cause(data, e)
    if c is None:
        return ""
    if c["kind"] == "input_scale":
        s = ("원인은 정규화가 아니라 입력입니다: 이 프로파일은 픽셀 값을 0–255 원래 값 그대로 "
             "넣고(정오표 E8, `input_scale` = 1), 정규화가 없는 기준 모델부터 한 클래스만 "
             "예측합니다")
        if c["other"] is not None:
            o = c["other"]
            s += (f". 같은 모델이 입력을 [0, 1]로 맞춘 {o.profile} 프로파일에서는 평가 정확도 "
                  f"{fmt_acc(o.test_acc)}로 학습합니다")
        return s + "."
    if c["kind"] == "decay":
        b = c["base"]
        s = (f"원인은 정규화의 세기입니다: 정규화가 없는 기준 모델 {topic(b.name)} 평가 정확도 "
             f"{fmt_acc(b.test_acc)}까지 학습했으므로, 이 신경망에는 정규화({_lam(c)})가 너무 강합니다")
        share = c["near_share"]
        if share is not None and share >= 0.5:
            s += (f" (가중치의 {100 * share:.1f} %가 |w| ≤ {fmt_thr(c['threshold'])}로 0에 "
                  "눌렸습니다)")
        return s + "."
    return "이 보고서의 기록만으로는 원인을 알 수 없습니다."


def short_cause(data: ReportData, e: RunEntry) -> str:
    """A few words for the cause of a collapsed run ("0–255 입력(E8)", "λ가 너무 큼")."""
    c = collapse_cause(data, e)
    if c is None:
        return ""
    if c["kind"] == "input_scale":
        return "0–255 입력(E8)"
    return f"정규화({_lam(c)})가 너무 강함" if c["kind"] == "decay" else "원인 미상"


# ----------------------------------------------------------------------------- seeds
def _ms(s: Summary) -> str:
    """Mean ± half width of the 95 % interval, or the one value of a single seed."""
    if s.half is None:
        return f"{s.mean:.3f} (시드 1개)"
    return f"{s.mean:.3f} ± {s.half:.3f}"


def one_run_note(study: bool) -> str:
    """The sentence for a comparison without seeds."""
    if not study:
        return ("반복 실험(`make study`)의 결과가 없어 이것은 한 번의 실행끼리의 비교이고, "
                "시드에 따른 흩어짐보다 큰 차이인지는 알 수 없습니다.")
    return ("반복 실험에 이 두 실행과 같은 설정의 시드가 없어 한 번의 실행끼리의 비교입니다.")


def seeds_sentence(cmp: Comparison, label_a: str, label_b: str) -> str:
    """The seeds' means (± 95 % interval), their difference's verdict, the collapsed seeds."""
    if cmp.seeds is None:
        return one_run_note(cmp.study)
    sa, sb, d = cmp.seeds
    s = (f"시드 반복(같은 설정, 시드 {sa.acc.n}개와 {sb.acc.n}개)의 평균 ± 95 % 구간: "
         f"{label_a} {_ms(sa.acc)}, {label_b} {_ms(sb.acc)}")
    coll = ""
    if sa.collapsed or sb.collapsed:
        coll = (f" {ONE_CLASS}한 시드: {label_a} {sa.collapsed}/{sa.acc.n}, {label_b} "
                f"{sb.collapsed}/{sb.acc.n}.")
    if sa.all_collapsed and sb.all_collapsed:
        return (s + f". 두 쪽 모두 모든 시드가 한 클래스만 예측하므로 시드 반복으로도 효과를 "
                "비교할 수 없습니다.")
    s += f" → 평균의 차이 {signed(d.diff)}; {verdict(d)}."
    if d.exceeds and round(cmp.diff, 3) != 0:
        s += (" 한 번의 실행의 차이는 평균의 차이와 "
              + ("같은 방향입니다." if cmp.diff * d.diff > 0 else "반대 방향입니다."))
    return s + coll


# ----------------------------------------------------------------------------- sentences
def best_model_sentence(data: ReportData, profile: str, family: str) -> str:
    """Which model of ``family`` has the highest test accuracy in ``profile`` (ties named; a
    family whose runs all collapsed is said to be so)."""
    oks = data.ok_entries(profile, family)
    fam = FAMILY_LABELS.get(family, family)
    if not oks:
        return f"{profile} 프로파일: 완료된 {fam} 실행이 없어 비교할 수 없습니다."
    ocs = [collapsed(e) for e in oks]
    if len(oks) > 1 and all(ocs):
        classes = {oc["class"] for oc in ocs}
        what = (predicts_all(ocs[0]) if len(classes) == 1 else "모든 평가 사진을 한 클래스로 예측")
        return (f"{profile} 프로파일: {fam} 모델 {len(oks)}개 전부가 {what}합니다 (평가 정확도 "
                f"{share_text(ocs[0])}). 어느 모델도 학습하지 못해 이 프로파일의 {fam} "
                f"모델끼리는 정규화의 효과를 비교할 수 없습니다. {cause_sentence(data, oks[0])}")
    if len(oks) == 1:
        e = oks[0]
        return (f"{profile} 프로파일: 완료된 {fam} 실행은 {e.name} 하나뿐입니다 "
                f"(평가 정확도 {acc_short(e)}).")
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
                f"{acc_short(top[0])}, 다음인 {nxt.name}의 {acc_short(nxt)}보다 "
                f"{lead:.3f} 높습니다.")
    return (f"{profile} 프로파일에서 평가 정확도가 가장 높은 {fam} 모델은 {len(top)}개로, "
            f"모두 {fmt_acc(best)}입니다: {names}.")


def _effect(data: ReportData, cmp: Comparison, head: str, base_name: str, seed) -> str:
    """One technique against its baseline, from a :class:`Comparison`."""
    e, b = cmp.a, cmp.b
    one = f"시드 {seed}의 한 번의 실행" if seed is not None else "한 번의 실행"
    if cmp.both_collapsed:
        oa, ob = cmp.oc_a, cmp.oc_b
        if oa["class"] == ob["class"]:
            what = (f"두 실행(이 모델과 기준 {base_name})이 똑같이 {predicts_all(oa)}합니다 "
                    f"(평가 정확도 {share_text(oa)}, {one})")
        else:
            what = (f"{topic(e.name)} {predicts_all(oa)}하고, 기준 {topic(base_name)} {predicts_all(ob)}"
                    f"합니다 ({one})")
        return (f"{head}: {what}. 두 정확도가 같은 것은 차이가 없다는 뜻이 아니라 두 모델 모두 "
                f"학습하지 못했다는 뜻이므로, 이 실행으로는 {e.spec.technique}의 효과를 알 수 "
                f"없습니다. {cause_sentence(data, e)} "
                + seeds_sentence(cmp, e.spec.technique.split(" (")[0], "기준"))
    d = cmp.diff
    cmp_text = f"평가 정확도 {fmt_acc(e.test_acc)}, 기준 {base_name} {fmt_acc(b.test_acc)}"
    word = (f"{d:.3f} 높습니다" if d > 0 else f"{-d:.3f} 낮습니다" if d < 0 else "같습니다")
    s = f"{head}: {cmp_text} → {word} ({one})."
    if cmp.oc_a is not None:
        s += " " + collapse_sentence(cmp.oc_a, topic(e.name)) + " " + cause_sentence(data, e)
    elif cmp.oc_b is not None:
        s += (" 다만 " + collapse_sentence(cmp.oc_b, f"기준 {topic(base_name)}")
              + " 이 차이에는 기준 모델이 학습하지 못한 만큼이 들어 있습니다.")
    return s + " " + seeds_sentence(cmp, e.spec.technique.split(" (")[0], "기준")


def technique_effect_sentences(data: ReportData, profile: str,
                               study: StudyData | None = None) -> list[str]:
    """One bullet per technique against its baseline: the single runs (collapse named), then
    the seeds' means and the verdict on their difference, or that it is one run."""
    out = []
    for spec, base_name, e, b in technique_pairs(data, profile):
        head = f"**{spec.technique}** ({spec.name})"
        cmp = compare(study, e, b)
        if cmp is None:
            missing = ", ".join(x.name for x in (e, b) if not x.ok)
            out.append(f"{head}: {missing} 결과가 없어 기준 모델과 비교할 수 없습니다.")
            continue
        out.append(_effect(data, cmp, head, base_name, e.config.get("seed")))
    return out


def profile_diff_sentences(data: ReportData, study: StudyData | None = None) -> str:
    """Markdown: how many models the exact profile raises or lowers (collapsed pairs apart),
    the largest change, and what the seeds say about exact − book."""
    if not ("book" in data.profiles and "exact" in data.profiles):
        have = ", ".join(data.profiles) or "없음"
        return (f"book과 exact 두 프로파일의 결과가 모두 있어야 비교할 수 있습니다 "
                f"(결과가 있는 프로파일: {have}). 이 보고서에는 프로파일 비교가 없습니다.\n")
    cmps = [c for spec in data.runs()
            if (c := compare(study, data.entry("exact", spec.name),
                             data.entry("book", spec.name))) is not None]
    if not cmps:
        return "두 프로파일에서 모두 완료된 모델이 없어 비교할 수 없습니다.\n"
    both = [c for c in cmps if c.both_collapsed]
    rest = [c for c in cmps if not c.both_collapsed]
    up = [c for c in rest if c.diff > 0]
    down = [c for c in rest if c.diff < 0]
    same = [c for c in rest if c.diff == 0]
    s = (f"- 두 프로파일에서 모두 완료된 모델 {len(cmps)}개 가운데 exact가 더 높은 모델 "
         f"{len(up)}개, 더 낮은 모델 {len(down)}개, 같은 모델 {len(same)}개")
    if both:
        s += (f", 두 프로파일 모두 {ONE_CLASS}한 모델 {len(both)}개입니다. 이 {len(both)}개는 "
              "값이 같아도 프로파일의 차이가 없다는 뜻이 아니라 두 프로파일 모두 학습하지 못한 "
              "것입니다: " + "; ".join(
                  f"{c.a.name} — book {short_cause(data, c.b)}, exact {short_cause(data, c.a)}"
                  for c in both) + ".")
    else:
        s += "입니다."
    lines = [s]
    big = max(rest, key=lambda c: abs(c.diff), default=None)
    if big is not None and big.diff != 0:
        spec = big.a.spec
        lines.append(f"- 차이가 가장 큰 모델은 {spec.name} ({spec.technique})입니다: book "
                     f"{acc_short(big.b)}, exact {acc_short(big.a)} ({big.diff:+.3f}, 한 번의 "
                     "실행). " + seeds_sentence(big, "exact", "book"))
    seeded = [c for c in rest if c.seeds is not None]
    if study is None:
        lines.append("- 모두 한 번의 실행끼리의 차이입니다. 시드에 따른 흩어짐보다 큰지는 반복 "
                     "실험(`make study`)이 있어야 알 수 있습니다.")
    elif seeded:
        hi = [c for c in seeded if c.seed_diff.exceeds and c.seed_diff.diff > 0]
        lo = [c for c in seeded if c.seed_diff.exceeds and c.seed_diff.diff < 0]
        inside = [c for c in seeded if c not in hi and c not in lo]
        names = lambda cs: f" ({', '.join(c.a.name for c in cs)})" if cs else ""  # noqa: E731
        lines.append(f"- 시드 반복의 평균으로 보면 (모델 {len(seeded)}개): exact가 시드에 따른 "
                     f"흩어짐보다 크게 높은 모델 {len(hi)}개{names(hi)}, 크게 낮은 모델 "
                     f"{len(lo)}개{names(lo)}, 흩어짐 안인 모델 {len(inside)}개{names(inside)}.")
    else:
        lines.append("- " + one_run_note(True))
    return "\n".join(lines) + "\n"
