"""The Korean words for a statistical comparison (a :class:`~reglab.report.stats.Difference`).

* :func:`verdict` — the clause saying whether a difference exceeds the spread, with its 95 %
  interval (or why it cannot be judged);
* :func:`short_verdict` — the same in a few words, for table cells and lists;
* :func:`direction` — 높습니다 / 낮습니다 / 같습니다 for a difference, at three decimals.
"""

from __future__ import annotations

from .fmt import bound
from .stats import Difference

__all__ = ["verdict", "short_verdict", "direction"]


def verdict(diff: Difference, what: str = "시드에 따른 흩어짐") -> str:
    """The Korean clause saying whether ``diff`` exceeds the spread (with its interval)."""
    if not diff.known:
        return "완료된 시드가 2개보다 적어 흩어짐과 비교할 수 없습니다"
    if diff.se == 0.0:
        if diff.diff == 0.0:
            return "시드를 바꾸어도 값이 변하지 않고(표준편차 0) 차이도 0입니다"
        return (f"시드를 바꾸어도 값이 변하지 않으므로(표준편차 0) 이 차이는 {what}보다 "
                "큽니다")
    rng = f"95 % 구간 [{bound(diff.lo)}, {bound(diff.hi)}]"
    if diff.exceeds:
        return f"{rng}이 0을 포함하지 않아 {what}보다 큰 차이입니다"
    return f"{rng}이 0을 포함해 {what}을 넘지 않습니다 (구별할 수 없습니다)"


def short_verdict(d: Difference | None) -> str:
    """"흩어짐보다 큼", "흩어짐 안", "정확히 같음" or "시드 부족"."""
    if d is None or not d.known:
        return "시드 부족"
    if d.diff == 0.0:
        return "정확히 같음"
    return "흩어짐보다 큼" if d.exceeds else "흩어짐 안"


def direction(d: float, up: str = "높습니다", down: str = "낮습니다",
              same: str = "같습니다") -> str:
    """``up`` or ``down`` by the sign of ``d``; ``same`` (or "거의 " + ``same``) if it reads
    0.000."""
    if round(d, 3) == 0:
        return same if d == 0 else f"거의 {same}"
    return up if d > 0 else down
