"""The display objects of the notebooks' sections that show several things in a row.

Each ``*_blocks`` function returns a list of ``IPython.display`` objects (Markdown, HTML, Image)
that the notebook displays one after the other: a fixed Korean introduction of the section
(``*_INTRO``), the missing or failed runs, figures, tables and sentences.

* :func:`run_blocks` — section 2 of the chapter report: per model a heading, and per profile
  its table and figure;
* :func:`seeds_blocks`, :func:`long_blocks`, :func:`ablation_blocks` — sections 2-4 of the study
  report (or the one-line :func:`~reglab.report.study_sentences.missing_note` of a study
  without any result).
"""

from __future__ import annotations

from ..pipeline.study import LONG_SEEDS, SEEDS
from .ablation_sentences import ablation_sentences
from .chapter_tables import run_table_html
from .figures import long_figure, long_val_acc_figure, run_figure, seeds_figure
from .fmt import esc, plabel
from .long_sentences import SEED_HYPOTHESIS, hypothesis_sentences, turn_up_sentences
from .records import ReportData, StudyData
from .study_analysis import long_epochs
from .study_sentences import missing_note, profile_sentences, seeds_sentences, status_markdown
from .study_tables import ablation_table_html, long_table_html, seeds_table_html

__all__ = ["run_blocks", "SEEDS_INTRO", "LONG_INTRO", "ABLATION_INTRO", "seeds_blocks",
           "long_blocks", "ablation_blocks"]


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


# ----------------------------------------------------------------------------- study
SEEDS_INTRO = (
    "장 보고서의 7개 실행을 시드 {seeds}로 다섯 번씩, 두 프로파일에서 10에폭씩 반복했습니다. "
    "시드는 가중치 초기화, 미니배치 순서, 드롭아웃·잡음의 난수를 바꿉니다 (데이터 분할은 모든 "
    "실행이 같습니다). 표의 **n**은 완료된 시드 수, **95 % 구간**은 평균의 t-구간 "
    "평균 ± t(0.975, n−1)·s/√n 입니다 (s는 표준편차, ddof=1).\n\n"
    "**정확도 차이**는 마지막 에폭의 학습 정확도 − 검증 정확도, **손실 차이**는 검증 손실 − 학습 "
    "손실입니다. L2/L1 모델은 학습 손실에 정규화 항이 더해져 있어 손실 차이를 쓰지 않고(—) "
    "정확도 차이만 봅니다. 학습 값은 교재처럼 미니배치마다 잰 값(드롭아웃·잡음이 켜진 상태)의 "
    "평균이고, book 프로파일의 검증은 매번 새로 뽑은 100장이라 exact(검증 데이터 전체)보다 더 "
    "흔들립니다. **한 클래스만 예측**은 모든 사진을 한 클래스로 답한 시드의 수입니다.\n\n"
    "두 평균의 비교는 Welch의 방법으로 합니다: 차이의 95 % 구간이 0을 포함하지 않을 때만 "
    "\"시드에 따른 흩어짐보다 큰 차이\"라고 씁니다.")


def seeds_blocks(data: StudyData) -> list:
    """Display objects of section 2 (or the one-line note)."""
    from IPython.display import HTML, Markdown

    if not data.has("seeds"):
        return [Markdown(missing_note("seeds"))]
    out = [Markdown(SEEDS_INTRO.format(seeds=", ".join(map(str, SEEDS))))]
    st = status_markdown(data, "seeds")
    if st:
        out.append(Markdown(st))
    fig = seeds_figure(data)
    if fig is not None:
        out.append(fig)
    for p in data.profiles("seeds"):
        out.append(HTML(seeds_table_html(data, p)))
        out.append(Markdown(f"**{esc(plabel(p))}: 기법과 기준 모델**\n\n"
                            + seeds_sentences(data, p)))
    ps = profile_sentences(data)
    if ps:
        out.append(Markdown(ps))
    return out


LONG_INTRO = (
    "원 보고서는 10에폭 실행 한 번씩을 보고 다음과 같이 예상했습니다: "
    f"\"{SEED_HYPOTHESIS}\" 이를 확인하려고 7개 실행을 exact 프로파일에서 {{E}}에폭씩 시드 "
    f"{', '.join(map(str, LONG_SEEDS))}로 반복했습니다. 그림의 선은 시드 평균, 띠는 ± 표준편차이고 "
    "세로 점선은 평균 검증 손실이 가장 낮은 에폭입니다 (그 뒤로 검증 손실이 올라가면 과적합이 "
    "시작된 것입니다). L2/L1 모델의 학습 손실에는 λ를 곱한 정규화 항이 들어 있습니다.")


def long_blocks(data: StudyData) -> list:
    """Display objects of section 3 (or the one-line note)."""
    from IPython.display import HTML, Markdown

    if not data.has("long"):
        return [Markdown(missing_note("long"))]
    out = [Markdown(LONG_INTRO.format(E=long_epochs(data)))]
    st = status_markdown(data, "long")
    if st:
        out.append(Markdown(st))
    for fig in (long_figure(data), long_val_acc_figure(data)):
        if fig is not None:
            out.append(fig)
    out.append(HTML(long_table_html(data)))
    out.append(Markdown("**검증 손실이 올라가는 에폭**\n\n" + turn_up_sentences(data)))
    out.append(Markdown("**원 보고서의 예상에 대한 답 (기법별)**\n\n"
                        "기준은 L2/L1이 flowers_model_1, 드롭아웃·잡음 주입·배치 정규화가 "
                        "flowers_cnn_1입니다. 10에폭 값은 exact 프로파일의 시드 반복(시드 "
                        f"{len(SEEDS)}개)이고, 두 학습 길이는 독립 표본으로 보고 비교합니다.\n\n"
                        + hypothesis_sentences(data)))
    return out


ABLATION_INTRO = (
    "book 프로파일(교재 코드 그대로)에서 교재 코드의 특이점 하나(정오표 번호 하나에 묶인 프로파일 "
    "항목들)만 exact 값으로 바꾸고, 그 특이점이 영향을 줄 수 있는 모델만 시드 1234로 10에폭 "
    "돌렸습니다. 비교 대상은 시드 반복의 book 프로파일 시드 1234 실행 "
    "(바꾸지 않은 같은 실행)입니다. 한 번의 실행끼리의 차이이므로, 그 모델의 book 시드 반복 "
    "표준편차 s로 차이의 표준편차를 s·√2로 잡아 95 % 구간 차이 ± t(0.975, n−1)·s·√2를 만들고, "
    "이 구간이 0을 포함하지 않으면 \"흩어짐보다 큼\"으로 판단합니다. \"한 클래스\"는 모든 사진을 "
    "한 클래스로 예측한 실행입니다.")


def ablation_blocks(data: StudyData) -> list:
    """Display objects of section 4 (or the one-line note)."""
    from IPython.display import HTML, Markdown

    if not data.has("ablation"):
        return [Markdown(missing_note("ablation"))]
    out = [Markdown(ABLATION_INTRO)]
    st = status_markdown(data, "ablation")
    if st:
        out.append(Markdown(st))
    if not data.select("seeds", "book", ok=True):
        out.append(Markdown("시드 반복의 book 프로파일 결과가 없어 비교 기준이 없습니다 — "
                            "`python -m reglab study --only seeds`로 만드세요."))
    out.append(HTML(ablation_table_html(data)))
    out.append(Markdown(ablation_sentences(data)))
    return out
