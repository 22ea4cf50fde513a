"""The few statistics a comparison of seeds needs: a mean's 95 % interval (Student t), Welch's
interval of a difference of two means, and Holm's correction of several p-values.

Plain ``math``, no scipy: scipy is a development tool here (the tests check these functions
against it), and torch's StudentT has no inverse CDF. The t distribution's CDF is the regularised
incomplete beta function (Numerical Recipes' continued fraction, 6.4), its quantile found by
bisection of the CDF: exact to ~1e-12 for any degrees of freedom ≥ 0.5, which Welch's
(non-whole) degrees of freedom need.

GAN runs of one recipe scatter 1.5–2× in FID between seeds, so one run per setting cannot tell a
better recipe from a lucky seed: the sweep summary (gan_lab.runs.settings) and gan-lab tune's
confirmation (gan_lab.tune.confirm) say which differences are inside that noise with these.
"""

import math
from dataclasses import dataclass

LEVEL = 0.95  # every interval of the lab: 95 %, two-sided


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                    -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):  # fmt: skip
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def beta_inc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), 0 ≤ x ≤ 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        + a * math.log(x) + b * math.log1p(-x)
    )  # fmt: skip
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):  # where the fraction converges fast; else by symmetry
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * beta_inc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t such that P(T ≤ t) = p (bisection of :func:`t_cdf`)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), not {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, 2.0 * high
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


@dataclass(frozen=True)
class Spread:
    """n values: their mean, standard deviation (n − 1) and 95 % interval of the mean (None where
    n < 2: one value has no spread to go by)."""

    n: int
    mean: float
    sd: float | None
    low: float | None
    high: float | None


def _scale(values: list[float]) -> float:
    """A power of two within 2× of the largest |value| (1 for zeros): the arithmetic runs on values
    divided by it (exactly: a power of two), so that a sweep folder's 1e200 (squared: OverflowError) or 1e-100
    (Welch's degrees of freedom: 0 / 0) is a number, never a traceback. A folder is data."""
    top = max((abs(v) for v in values), default=0.0)
    return math.ldexp(1.0, math.frexp(top)[1] - 1) if 0.0 < top < math.inf else 1.0


def spread(values: list[float], scale: float | None = None) -> Spread:
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    scale = _scale(values) if scale is None else scale
    unit = [v / scale for v in values]
    mean = math.fsum(unit) / n
    if n < 2:
        return Spread(n, mean * scale, None, None, None)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in unit) / (n - 1))
    half = t_quantile(0.5 + LEVEL / 2, n - 1) * sd / math.sqrt(n)
    return Spread(n, *(x * scale for x in (mean, sd, mean - half, mean + half)))


@dataclass(frozen=True)
class Difference:
    """Welch's comparison of two means: a − b, its 95 % interval, the degrees of freedom and the
    two-sided p-value. ``noise`` is True when the interval holds 0: not distinguishable."""

    diff: float
    low: float
    high: float
    df: float
    p: float

    @property
    def noise(self) -> bool:
        return self.low <= 0.0 <= self.high


def welch(a: list[float], b: list[float]) -> Difference:
    """Welch's t interval of mean(a) − mean(b) (unequal variances; each side needs n ≥ 2)."""
    scale = _scale([*a, *b])  # one unit for both sides (see _scale); p and df do not depend on it
    sa, sb = spread([v / scale for v in a], 1.0), spread([v / scale for v in b], 1.0)
    if sa.sd is None or sb.sd is None:
        raise ValueError("each side needs at least two values")
    diff = sa.mean - sb.mean
    va, vb = sa.sd**2 / sa.n, sb.sd**2 / sb.n
    se = math.sqrt(va + vb)
    if se == 0.0:  # both sides constant: the difference is exactly what it is
        d = diff * scale
        return Difference(d, d, d, math.inf, 1.0 if diff == 0.0 else 0.0)
    ra, rb = va / max(va, vb), vb / max(va, vb)  # one of them 1: no square underflows to 0
    df = (ra + rb) ** 2 / (ra**2 / (sa.n - 1) + rb**2 / (sb.n - 1))
    half = t_quantile(0.5 + LEVEL / 2, df) * se
    p = 2.0 * (1.0 - t_cdf(abs(diff) / se, df))
    low, high = (diff - half) * scale, (diff + half) * scale
    return Difference(diff * scale, low, high, df, min(1.0, max(0.0, p)))


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment: each p-value multiplied by the number of hypotheses not yet
    rejected, kept monotone. Rejecting where adjusted p < 0.05 keeps the chance of any false
    alarm among all the comparisons at 5 % (plain p-values: about 5 % per comparison)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted
