"""Significance: how surprising a count of failures is, and which of many surprises to
believe, for detection per segment.

Pure and exact, in the standard library's floating point: a binomial tail summed term by
term from its first, and Holm's step-down correction across the tests of one evaluation.
"""

from collections.abc import Sequence
from math import ceil, exp, lgamma, log, log1p

_SMALL = 1e-17  # a term this small beside the running sum no longer moves it


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    if k > n * p:
        return min(1.0, _sum_from(k, n, p, upward=True))
    # Below the mean the upper tail is near one: sum the shorter side, [0, k - 1].
    return max(0.0, 1.0 - _sum_from(k - 1, n, p, upward=False))


def _sum_from(k: int, n: int, p: float, upward: bool) -> float:
    """The binomial terms from k away from the mean (up to n, or down to 0): each is a
    fixed ratio of the one before, and they shrink, so the sum stops once they no longer
    count."""
    first = lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) + k * log(p) + (n - k) * log1p(-p)
    if first < -745:  # below the smallest double: the whole tail is too
        return 0.0
    term = total = exp(first)
    odds = p / (1.0 - p)
    i = k
    while (i < n if upward else i > 0) and term > _SMALL * total:
        if upward:
            term *= (n - i) / (i + 1) * odds
            i += 1
        else:
            term *= i / (n - i + 1) / odds
            i -= 1
        total += term
    return total


def excess_p(failed: int, final: int, base_failed: float, base_final: float) -> float:
    """One-sided p-value that a window's rate (`failed` of `final`) is above the rate of its
    history (`base_failed` of `base_final`). Conditional on all the failures seen, each
    one falls in the window with the window's share of the messages if the rate has not
    moved: a binomial, exact for small counts, and fair to a short history (its own
    uncertainty widens the test) where a rate taken as known would not be."""
    history = ceil(base_failed)  # up, not to the nearest: a larger history errs toward quiet
    total = failed + history
    if failed <= 0 or final <= 0:
        return 1.0
    return binomial_tail(failed, total, final / (final + base_final))


_GRID = [i / 10 for i in range(-70, 71)]  # standard normal points, -7 to 7, a tenth apart
_WEIGHTS = [exp(-z * z / 2) for z in _GRID]
_TOTAL = sum(_WEIGHTS)


def lognormal_binomial_tail(k: int, n: int, p: float, spread: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p * e^E), where the rate itself wanders: E is normal
    with standard deviation `spread` and mean -spread^2/2 (so the rate averages p). A sum
    over a grid of E, fine enough for p-values down to about 1e-10."""
    if spread <= 0:
        return binomial_tail(k, n, p)
    total = 0.0
    for z, weight in zip(_GRID, _WEIGHTS, strict=True):
        rate = min(1.0, p * exp(spread * z - spread * spread / 2))
        total += weight * binomial_tail(k, n, rate)
    return total / _TOTAL


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Which of the tests to believe, at family-wise error `alpha` across all of them:
    Holm's step-down, the smallest p-value against alpha/m, the next against
    alpha/(m - 1), and so on until one fails."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    passed = [False] * len(p_values)
    m = len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (m - rank):
            break
        passed[i] = True
    return passed
