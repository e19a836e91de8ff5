"""The study report's Korean sentences for the whole study and for the seeds study.

* :func:`overview_markdown` — what each study holds: planned/finished/failed runs, notebook
  time, data and seeds; :func:`status_markdown` — a study's failed and missing runs;
  :func:`missing_note` — the line shown for a study without any result;
* :func:`seeds_sentences` — each technique against its baseline in one profile (Welch), with the
  chapter's single seed-1234 difference beside it, and the seeds that predict one class;
  :func:`profile_sentences` — exact − book per model;
* the phrases the long-study and ablation sentences share (:func:`tech`, :func:`predicts`,
  :func:`class_name_ko`, :func:`seeds_of`).
"""

from __future__ import annotations

from ..pipeline.experiments import CHAPTER8_RUNS, RunSpec
from ..pipeline.study import ABLATIONS, LONG_EPOCHS, LONG_SEEDS, SEEDS, STUDIES
from .chapter_analysis import BASELINES
from .collapse import predicts_all, share_text
from .fmt import esc, fmt_int, fmt_secs, short_error, signed, topic
from .records import FAILED, MISSING, OK, StudyData
from .stats import welch
from .study_analysis import seed1234_diff, seed_summary
from .verdicts import direction, verdict

__all__ = ["STUDY_LABELS", "missing_note", "status_markdown", "tech", "class_name_ko",
           "predicts", "seeds_of", "all_collapsed", "both_collapsed_clause", "overview_markdown",
           "seeds_sentences", "profile_sentences"]

STUDY_LABELS = {"seeds": "시드 반복", "long": "긴 학습", "ablation": "절제 실험"}


# ----------------------------------------------------------------------------- phrases
def missing_note(study: str) -> str:
    """The line shown for a study without any result, with the command that makes it."""
    return f"결과 없음 — `python -m reglab study --only {study}`로 만드세요."


def tech(spec: RunSpec) -> str:
    """``**<technique>** (<name>)``."""
    return f"**{spec.technique}** ({spec.name})"


def class_name_ko(name) -> str:
    """The class in backquotes, or "그 클래스" if it is not known."""
    return f"`{name}`" if name else "그 클래스"


def predicts(name) -> str:
    """"모든 사진을 `c` 하나로" (or "한 클래스로" if the class is not known)."""
    return f"모든 사진을 `{name}` 하나로" if name else "모든 사진을 한 클래스로"


def seeds_of(k: int, n: int) -> str:
    """"시드 n개 모두" or "시드 n개 중 k개"."""
    return f"시드 {n}개 모두" if k == n else f"시드 {n}개 중 {k}개"


def all_collapsed(summary: dict) -> dict | None:
    """The one-class result of a :func:`~reglab.report.study_analysis.seed_summary` whose every
    finished seed predicts one class (None otherwise)."""
    ocs = summary["one_class"]
    return ocs[0] if ocs and len(ocs) == summary["acc"].n else None


def both_collapsed_clause(a: dict, b: dict) -> str:
    """The clause for two sides whose every seed predicts one class: never "the same"."""
    oa, ob = all_collapsed(a), all_collapsed(b)
    same = oa["class"] == ob["class"]
    what = (f"두 쪽 모두 모든 시드가 {predicts_all(oa)}합니다 (평가 정확도 {share_text(oa)})"
            if same else "두 쪽 모두 모든 시드가 한 클래스만 예측합니다")
    return (f"{what}. 값이 같은 것은 차이가 없다는 뜻이 아니라 둘 다 학습하지 못했다는 뜻이므로, "
            "이 비교로는 효과를 알 수 없습니다")


def status_markdown(data: StudyData, study: str, limit: int = 12) -> str:
    """Failed and missing runs of a study (empty string if every run finished)."""
    runs = data.select(study)
    failed = [r for r in runs if r.status == FAILED]
    missing = [r for r in runs if r.status == MISSING]
    lines = []
    for r in failed[:limit]:
        lines.append(f"- 실패: `{r.profile}/{r.name}__{r.variant}` — "
                     f"{esc(short_error(r.error, 200))}")
    if len(failed) > limit:
        lines.append(f"- 그 밖의 실패 {len(failed) - limit}개.")
    if missing:
        names = ", ".join(f"`{r.profile}/{r.name}__{r.variant}`" for r in missing[:limit])
        more = f" 외 {len(missing) - limit}개" if len(missing) > limit else ""
        lines.append(f"- 아직 결과가 없는 실행 {len(missing)}개: {names}{more}. 통계는 완료된 "
                     "실행만으로 계산했습니다.")
    return "\n".join(lines) + ("\n" if lines else "")


# ----------------------------------------------------------------------------- overview
def overview_markdown(data: StudyData) -> str:
    """What each study holds: planned/finished/failed runs, notebook time, data and seeds."""
    lines = []
    total_runs, total_secs = 0, 0.0
    for study in STUDIES:
        runs = data.select(study)
        c = data.counts(study)
        oks = [r for r in runs if r.ok]
        secs = sum(float(r.record.get("wall_seconds") or 0.0) for r in oks)
        reused = sum(1 for r in oks if r.record.get("reused_from"))
        epochs = sorted({int(r.entry.config.get("epochs", 0)) for r in oks})
        total_runs += c[OK]
        total_secs += secs
        what = {"ablation": f"book 프로파일에서 스위치 하나씩 ({len(ABLATIONS)}종), 시드 1234",
                "seeds": f"7개 실행 × 프로파일 2개 × 시드 {len(SEEDS)}개 "
                         f"({', '.join(map(str, SEEDS))})",
                "long": f"7개 실행 × exact 프로파일 × 시드 {len(LONG_SEEDS)}개 "
                        f"({', '.join(map(str, LONG_SEEDS))}), {LONG_EPOCHS}에폭"}[study]
        if not data.has(study):
            lines.append(f"- **{STUDY_LABELS[study]}** ({what}): 결과 없음.")
            continue
        ep = "/".join(map(str, epochs)) if epochs else "—"
        s = (f"- **{STUDY_LABELS[study]}** ({what}): 계획 {len(runs)}개 중 완료 {c[OK]}개, "
             f"실패 {c[FAILED]}개, 결과 없음 {c[MISSING]}개; 완료된 실행의 에폭 {ep}; "
             f"노트북 실행 시간의 합 {fmt_secs(secs)}")
        if reused:
            s += f" (그중 {reused}개는 장 보고서의 실행을 그대로 가져온 것으로, 그 시간 포함)"
        lines.append(s + ".")
    if total_runs:
        lines.append(f"- **합계**: 완료된 실행 {fmt_int(total_runs)}개, 노트북 실행 시간의 합 "
                     f"{fmt_secs(total_secs)} (약 {total_secs / 3600:.1f}시간). 실행은 여러 "
                     "개를 동시에 돌리므로 실제로 걸린 시간은 이보다 짧습니다 "
                     "(`python -m reglab study`가 끝에 출력합니다).")
    oks = [r for r in data.runs if r.ok]
    if oks:
        ds = oks[0].record.get("dataset") or {}
        if ds.get("test"):
            lines.append(f"- **데이터**: 학습 {fmt_int(ds['train'])}장, 검증 "
                         f"{fmt_int(ds['validation'])}장, 평가 {fmt_int(ds['test'])}장 (분할 시드 "
                         f"1234, 모든 실행이 같은 분할). 평가 사진 한 장은 정확도 "
                         f"{1 / ds['test']:.4f}입니다.")
        maxs = sorted({int(r.entry.config.get("max_samples") or 0) for r in oks} - {0})
        if maxs:
            lines.append(f"- **주의**: 사진을 최대 {', '.join(map(fmt_int, maxs))}장만 쓴 실행이 "
                         "있습니다(`max_samples`). 전체 데이터의 결과가 아닙니다.")
        long_eps = [int(r.entry.config.get("epochs", 0)) for r in data.select("long", ok=True)]
        if long_eps and max(long_eps) < LONG_EPOCHS:
            lines.append(f"- **주의**: 긴 학습의 에폭이 {LONG_EPOCHS}보다 짧습니다 "
                         "(`--epochs-scale`로 줄인 시험 실행).")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- seeds
def seeds_sentences(data: StudyData, profile: str) -> str:
    """Markdown bullets: each technique against its baseline in ``profile`` (Welch), with the
    chapter's single seed-1234 difference beside it, and the one-class runs."""
    lines = []
    for spec in CHAPTER8_RUNS:
        base = BASELINES[spec.family]
        if spec.name == base:
            continue
        a = seed_summary(data, profile, spec.name)["acc"]
        b = seed_summary(data, profile, base)["acc"]
        if not a.n or not b.n:
            lines.append(f"- {tech(spec)}: {spec.name if not a.n else base}의 완료된 시드가 "
                         "없어 비교할 수 없습니다.")
            continue
        d = welch(a, b)
        sa, sb = seed_summary(data, profile, spec.name), seed_summary(data, profile, base)
        if all_collapsed(sa) and all_collapsed(sb):
            lines.append(f"- {tech(spec)}: 평균 {a.mean_std()} (n={a.n}), 기준 {base} "
                         f"{b.mean_std()} (n={b.n}) — {both_collapsed_clause(sa, sb)}.")
            continue
        s = (f"- {tech(spec)}: 평균 {a.mean_std()} (n={a.n}), 기준 {base} {b.mean_std()} "
             f"(n={b.n}) → 기준보다 {abs(d.diff):.3f} {direction(d.diff)}"
             if round(d.diff, 3) != 0 else
             f"- {tech(spec)}: 평균 {a.mean_std()} (n={a.n}), 기준 {base} {b.mean_std()} "
             f"(n={b.n}) → 차이 {signed(d.diff)}")
        s += f"; {verdict(d)}."
        one = seed1234_diff(data, profile, spec.name, base)
        if one is not None:
            agree = ""
            if d.exceeds and round(one, 3) != 0:
                agree = (", 평균의 차이와 같은 방향" if one * d.diff > 0
                         else ", 평균의 차이와 반대 방향")
            s += f" (장 보고서의 한 번의 실행, 시드 1234의 차이: {signed(one)}{agree}.)"
        lines.append(s)
    groups: dict = {}
    for spec in CHAPTER8_RUNS:
        s = seed_summary(data, profile, spec.name)
        for oc in s["one_class"]:
            key = (oc["class"], oc["test_count"], oc["inferred"])
            groups.setdefault(key, {"oc": oc, "models": {}})["models"].setdefault(
                spec.name, [0, s["acc"].n])[0] += 1
    for g in groups.values():
        cls = g["oc"]
        if cls["inferred"]:
            how = "마지막 에폭들의 학습 정확도가 변하지 않는 것으로 추정했습니다."
        else:
            share = topic(f"{cls['test_share']:.3f}")
            how = (f"평가 정확도 {cls['test_count']}/{cls['test_n']} = {share} "
                   f"평가 데이터에서 {class_name_ko(cls['class'])}의 비율입니다 (학습 데이터에서는 "
                   f"{cls['train_share']:.3f}"
                   + (", 가장 많은 클래스" if cls["largest_train"] else "") + ").")
        which = ", ".join(f"{name} {k}/{n}" for name, (k, n) in g["models"].items())
        lines.append(f"- {predicts(cls['class'])} 예측하는 시드: {which}. {how}")
    return "\n".join(lines) + "\n"


def profile_sentences(data: StudyData) -> str:
    """Markdown bullets: exact − book per model (Welch), where both profiles have seeds."""
    lines = []
    for spec in CHAPTER8_RUNS:
        b = seed_summary(data, "book", spec.name)["acc"]
        x = seed_summary(data, "exact", spec.name)["acc"]
        if not b.n or not x.n:
            continue
        d = welch(x, b)
        sb, sx = seed_summary(data, "book", spec.name), seed_summary(data, "exact", spec.name)
        if all_collapsed(sb) and all_collapsed(sx):
            lines.append(f"- {spec.name} ({spec.technique}): exact {x.mean_std()}, book "
                         f"{b.mean_std()} — {both_collapsed_clause(sx, sb)}.")
            continue
        lines.append(f"- {spec.name} ({spec.technique}): exact {x.mean_std()}, book "
                     f"{b.mean_std()} → exact − book {signed(d.diff)}; {verdict(d)}.")
    if not lines:
        return ""
    return "**book과 exact 프로파일 (모든 항목을 한꺼번에 바꾼 차이)**\n\n" + "\n".join(lines) + "\n"
