"""The statistics behind detection per segment, against exact arithmetic."""

import random
from fractions import Fraction
from math import comb

import pytest

from bot.domain.significance import (
    binomial_tail,
    excess_p,
    holm,
    lognormal_binomial_tail,
)


def exact_tail(k: int, n: int, p: Fraction) -> float:
    return float(sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(max(k, 0), n + 1)))


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [
        (0, 10, "1/10"),
        (1, 10, "1/10"),
        (3, 10, "1/10"),
        (10, 10, "1/10"),
        (5, 10, "1/2"),
        (6, 10, "1/2"),
        (1, 1, "1/3"),
        (40, 200, "1/10"),  # above the mean
        (15, 200, "1/10"),  # below the mean: the short side is summed
        (20, 200, "1/10"),  # at the mean
        (30, 1000, "1/100"),
        (2, 1000, "1/100"),
        (100, 100, "9/10"),
        (95, 100, "9/10"),
        (3, 800, "1/10000"),
    ],
)
def test_binomial_tail_matches_exact_sum(k, n, p):
    assert binomial_tail(k, n, float(Fraction(p))) == pytest.approx(
        exact_tail(k, n, Fraction(p)), rel=1e-9, abs=1e-300
    )


@pytest.mark.parametrize(
    ("k", "n", "p", "expected"),
    [
        (0, 5, 0.3, 1.0),  # at least nothing: always
        (-1, 5, 0.3, 1.0),
        (6, 5, 0.3, 0.0),  # more than n: never
        (1, 5, 0.0, 0.0),  # a rate of zero never fails
        (5, 5, 1.0, 1.0),  # a rate of one always does
    ],
)
def test_binomial_tail_edges(k, n, p, expected):
    assert binomial_tail(k, n, p) == expected


def test_binomial_tail_underflows_to_zero_not_an_error():
    assert binomial_tail(5000, 5000, 0.01) == 0.0


def test_excess_p_is_small_for_a_window_far_above_its_history():
    # 30 of 100 failing against 100 of 10 000: overwhelming.
    assert excess_p(30, 100, 100, 10_000) < 1e-20
    # The same rate as the history: nothing to see.
    assert excess_p(1, 100, 100, 10_000) > 0.5


def test_excess_p_is_fair_to_a_short_history():
    # 5 of 20 failing after 0 of 50: the history is too short to be sure of.
    short = excess_p(5, 20, 0, 50)
    # ... the same window after 0 of 5 000 is far more surprising.
    long = excess_p(5, 20, 0, 5000)
    assert long < 1e-6 < short < 0.01


def test_excess_p_without_failures_or_messages_is_one():
    assert excess_p(0, 100, 5, 1000) == 1.0
    assert excess_p(3, 0, 5, 1000) == 1.0


@pytest.mark.parametrize(
    ("p_values", "alpha", "believed"),
    [
        ([0.001, 0.2, 0.01], 0.05, [True, False, True]),  # 0.001<=0.05/3, 0.01<=0.05/2
        ([0.02, 0.02, 0.02], 0.05, [False, False, False]),  # 0.02 > 0.05/3: none
        ([0.01, 0.04], 0.05, [True, True]),  # 0.01<=0.025, then 0.04<=0.05
        ([0.04, 0.01], 0.05, [True, True]),  # order does not matter
        ([0.03, 0.01], 0.05, [True, True]),  # 0.01<=0.025, then 0.03<=0.05
        ([0.03, 0.01, 0.9], 0.05, [False, True, False]),  # 0.01<=0.05/3, 0.03 > 0.05/2
        ([], 0.05, []),
        ([1.0], 0.05, [False]),
        ([0.05], 0.05, [True]),  # at the edge counts
    ],
)
def test_holm_step_down(p_values, alpha, believed):
    assert holm(p_values, alpha) == believed


def test_holm_stops_at_the_first_failure():
    # 0.013 > 0.05/4, so nothing after it is believed, though 0.02 <= 0.05/2.
    assert holm([0.013, 0.014, 0.015, 0.02], 0.05) == [False] * 4


def test_lognormal_tail_without_spread_is_the_binomial():
    assert lognormal_binomial_tail(12, 200, 0.03, 0.0) == binomial_tail(12, 200, 0.03)


def test_a_wandering_rate_makes_a_high_count_less_surprising():
    plain = binomial_tail(20, 200, 0.03)
    assert plain < lognormal_binomial_tail(20, 200, 0.03, 0.3)
    assert lognormal_binomial_tail(20, 200, 0.03, 0.3) < lognormal_binomial_tail(20, 200, 0.03, 0.6)


def test_lognormal_tail_matches_a_simulation():
    rng = random.Random(5)
    k, n, p, spread = 7, 100, 0.03, 0.4
    draws = 10_000
    hits = 0
    for _ in range(draws):
        rate = min(1.0, p * 2.718281828459045 ** rng.gauss(-spread * spread / 2, spread))
        hits += sum(rng.random() < rate for _ in range(n)) >= k
    assert lognormal_binomial_tail(k, n, p, spread) == pytest.approx(hits / draws, abs=0.01)
