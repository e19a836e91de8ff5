"""Statistics of repeated runs, with no scipy: Student's t, means, differences and intervals.

:class:`Summary`
    n, mean, standard deviation (ddof=1) and the 95 % t-interval of the mean
    ``mean ± t(0.975, n−1)·s/√n`` of one quantity over the finished seeds.
:func:`welch`
    The difference of two means with Welch's standard error and Satterthwaite's degrees of
    freedom; :func:`combine` does the same for any linear combination of means (e.g. how a
    difference changed from 10 to 40 epochs).
:func:`single_run_difference`
    One run against one run, judged by the seed spread ``s`` of one run: the difference's
    standard deviation is taken as ``s·√2``, so the interval is ``d ± t(0.975, n−1)·s·√2``.

A :class:`Difference` **exceeds the spread** iff its 95 % interval excludes 0.
:func:`t_quantile` inverts Student's t CDF (regularized incomplete beta function);
:data:`T975` holds the textbook table for df 1..10, used by the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["T975", "t_cdf", "t_quantile", "Summary", "summarize", "Difference", "combine",
           "welch", "single_run_difference"]

#: t(0.975, df) for df = 1..10 (textbook table, three decimals).
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228}


# ----------------------------------------------------------------------------- t distribution
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
           + b * math.log1p(-x))
    bt = math.exp(lbt)
    if x < (a + 1.0) / (a + b + 2.0):
        return bt * _betacf(a, b, x) / a
    return 1.0 - bt * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t cumulative distribution function (df > 0; df = inf is the normal)."""
    if math.isinf(df):
        return 0.5 * (1.0 + math.erf(t / math.sqrt(2.0)))
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (bisection on
    :func:`t_cdf`; ``df`` may be fractional, as Welch's is)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not df > 0:
        raise ValueError(f"df must be > 0, got {df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    lo, hi = 0.0, 2.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Summary:
    """Values of one quantity over the finished seeds: n, mean, std (ddof=1), 95 % interval."""

    values: tuple

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.values)) if self.values else None

    @property
    def std(self) -> float | None:
        return float(np.std(self.values, ddof=1)) if self.n >= 2 else None

    @property
    def half(self) -> float | None:
        """Half width of the 95 % t-interval of the mean."""
        if self.n < 2:
            return None
        return t_quantile(0.975, self.n - 1) * self.std / math.sqrt(self.n)

    @property
    def lo(self) -> float | None:
        return None if self.half is None else self.mean - self.half

    @property
    def hi(self) -> float | None:
        return None if self.half is None else self.mean + self.half

    def mean_std(self, digits: int = 3) -> str:
        if not self.n:
            return "—"
        if self.std is None:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"

    def interval(self, digits: int = 3) -> str:
        if self.half is None:
            return "—"
        return f"[{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def summarize(values) -> Summary:
    return Summary(tuple(float(v) for v in values if v is not None))


@dataclass(frozen=True)
class Difference:
    """A difference (or any linear combination) of means with its 95 % interval.

    ``se`` is None when a group has fewer than two values (no spread to compare with).
    """

    diff: float
    se: float | None = None
    df: float | None = None
    lo: float | None = None
    hi: float | None = None

    @property
    def known(self) -> bool:
        return self.se is not None

    @property
    def exceeds(self) -> bool:
        """True iff the 95 % interval excludes 0 (the difference exceeds the spread)."""
        return self.known and (self.lo > 0 or self.hi < 0)


def combine(terms) -> Difference:
    """Σ cᵢ·meanᵢ for ``terms = [(cᵢ, Summary)]`` with the Welch–Satterthwaite interval:
    var = Σ cᵢ² sᵢ²/nᵢ, df = var² / Σ (cᵢ² sᵢ²/nᵢ)² / (nᵢ − 1), half width t(0.975, df)·√var."""
    terms = list(terms)
    d = float(sum(c * s.mean for c, s in terms))
    if any(s.n < 2 for _, s in terms):
        return Difference(d)
    comps = [(c * c * s.std ** 2 / s.n, s.n) for c, s in terms]
    var = sum(v for v, _ in comps)
    if var == 0.0:
        return Difference(d, 0.0, math.inf, d, d)
    df = var ** 2 / sum(v ** 2 / (n - 1) for v, n in comps if v > 0)
    half = t_quantile(0.975, df) * math.sqrt(var)
    return Difference(d, math.sqrt(var), df, d - half, d + half)


def welch(a: Summary, b: Summary) -> Difference:
    """mean(a) − mean(b) with Welch's 95 % interval."""
    return combine([(1.0, a), (-1.0, b)])


def single_run_difference(x: float, y: float, spread: Summary) -> Difference:
    """One run minus one run, judged by the seed spread ``s`` of one run: the difference's
    standard deviation is taken as s·√2 (df = n − 1 of the spread's seeds)."""
    d = float(x) - float(y)
    if spread.n < 2:
        return Difference(d)
    se = spread.std * math.sqrt(2.0)
    if se == 0.0:
        return Difference(d, 0.0, math.inf, d, d)
    half = t_quantile(0.975, spread.n - 1) * se
    return Difference(d, se, spread.n - 1, d - half, d + half)
