"""hub.stats against an independent implementation: numpy over the press scores themselves,
scipy's Wilson interval and Welch statistic, over random counts and the edges (n = 0, 1, 2,
all one mood) and design.md's worked example."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats as sp

from hub import stats
from hub.moods import happy_index

Z = 1.96
ROUNDING = 0.05 + 1e-9  # one decimal: a rounded figure is within half a tenth of the exact one


def scores(counts):
    """Every press's score, one array element per press (moods 1-4 → 0, 33.3, 66.7, 100)."""
    return np.repeat(np.array([0.0, 100 / 3, 200 / 3, 100.0]), counts)


def mean_interval(values):
    """mean ± 1.96 s/√n from numpy (s with n − 1), clipped to [0, 100]; None below 2."""
    if len(values) < 2:
        return None
    half = Z * np.std(values, ddof=1) / math.sqrt(len(values))
    return max(0.0, values.mean() - half), min(100.0, values.mean() + half)


def wilson_by_roots(k, n, z=Z):
    """The Wilson interval as what it is: the p where |k/n − p| = z·√(p(1 − p)/n), i.e. the
    roots of (n + z²)p² − (2k + z²)p + k²/n = 0."""
    roots = np.roots([n + z * z, -(2 * k + z * z), k * k / n])
    low, high = sorted(float(np.real(root)) for root in roots)
    return max(0.0, low), min(1.0, high)


def close(ours, exact, slack=0.0):
    """A rounded interval (or None) against an exact one."""
    if exact is None:
        return ours is None
    return ours is not None and all(abs(a - b) <= ROUNDING + slack
                                    for a, b in zip(ours, exact, strict=True))


counts_st = st.tuples(*[st.integers(0, 3000)] * 4)
small_st = st.tuples(*[st.integers(0, 3)] * 4)  # n = 0, 1, 2 and other tiny samples
one_mood_st = st.builds(lambda mood, n: tuple(n if m == mood else 0 for m in range(4)),
                        st.integers(0, 3), st.integers(0, 500))
any_counts = st.one_of(counts_st, small_st, one_mood_st)


def test_the_worked_example():
    summary = stats.summarise({"very_happy": 126, "happy": 60, "unhappy": 16,
                               "very_unhappy": 17})
    assert summary.n == 219 and summary.happy_index == 78.2
    assert stats.index_text(summary) == "78.2 (74.2–82.3), n = 219"  # design.md, verbatim
    low, high = mean_interval(scores((17, 16, 60, 126)))
    assert (round(low, 1), round(high, 1)) == (74.2, 82.3)


@pytest.mark.parametrize("counts, text", [
    ((0, 0, 0, 0), "–, n = 0"),
    ((0, 0, 0, 1), "100.0, n = 1"),
    ((1, 0, 0, 0), "0.0, n = 1"),
    ((1, 0, 0, 1), "50.0 (0.0–100.0), n = 2"),  # two opposite presses: anything is possible
    ((0, 0, 0, 2), "100.0 (100.0–100.0), n = 2"),
])
def test_the_edges(counts, text):
    summary = stats.summarise(counts)
    assert stats.index_text(summary) == text
    if summary.n == 0:
        assert summary.as_dict() == {
            "n": 0, "happy_index": None, "happy_index_ci": None, "negative_share": None,
            "negative_share_ci": None, "positive_share": None, "positive_share_ci": None}
    else:  # a share's interval exists from one press on
        assert summary.positive_share_ci is not None


@settings(max_examples=300, deadline=None)
@given(any_counts)
@example((17, 16, 60, 126))
@example((3, 0, 0, 13))  # Happy Index 81.25: the contract rounds half up to 81.3
def test_index_and_its_interval_match_numpy(counts):
    summary = stats.summarise(counts)
    values = scores(counts)
    assert summary.n == len(values)
    assert summary.happy_index == happy_index(counts)  # the API's own figure, same rounding
    if summary.n == 0:
        assert summary.mean is None and summary.happy_index_ci is None
        return
    assert summary.mean == pytest.approx(values.mean(), abs=1e-9)
    if summary.n >= 2:
        assert summary.sd == pytest.approx(np.std(values, ddof=1), abs=1e-9)
    else:
        assert summary.sd is None
    assert close(summary.happy_index_ci, mean_interval(values))
    assert stats.index_interval(counts) == summary.happy_index_ci  # the tables' fast path
    low, high = summary.happy_index_ci or (summary.happy_index, summary.happy_index)
    assert 0 <= low <= summary.happy_index <= high <= 100


@settings(max_examples=300, deadline=None)
@given(any_counts)
def test_shares_have_wilson_intervals_as_scipy_computes_them(counts):
    summary = stats.summarise(counts)
    n = sum(counts)
    if n == 0:
        assert summary.negative_share is None and summary.positive_share_low is None
        return
    negative = counts[0] + counts[1]
    for share, interval, k in ((summary.negative_share, summary.negative_share_ci, negative),
                               (summary.positive_share, summary.positive_share_ci,
                                n - negative)):
        assert share == pytest.approx(100 * k / n, abs=ROUNDING)
        exact = wilson_by_roots(k, n)
        assert close(interval, [100 * x for x in exact])
        assert stats.wilson(k, n) == pytest.approx(exact, abs=1e-9)
        # scipy's own Wilson interval uses z = norm.ppf(0.975) = 1.95996…, not 1.96: the
        # same to well within the tenth of a percent the hub shows.
        ci = sp.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert close(interval, (100 * ci.low, 100 * ci.high), slack=0.01)
        assert stats.wilson(k, n, z=sp.norm.ppf(0.975)) == pytest.approx(
            (ci.low, ci.high), abs=1e-12)
    assert summary.positive_share_low == summary.positive_share_ci[0]


def reference_difference(before, after):
    """(d, low, high, verdict) from numpy and design.md's rules; None where undefined."""
    a, b = scores(before), scores(after)
    if len(a) == 0 or len(b) == 0:
        return None, None, None, "too_few_presses"
    d = b.mean() - a.mean()
    if len(a) < 2 or len(b) < 2:
        return d, None, None, "too_few_presses"
    se = math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))
    # Welch's statistic from scipy is d / se: the same standard error, computed elsewhere
    # (when both sides vary: scipy warns of lost precision over identical values).
    if np.ptp(a) > 0 and np.ptp(b) > 0 and abs(d) > 1e-9:
        welch = sp.ttest_ind(b, a, equal_var=False)
        assert d / welch.statistic == pytest.approx(se, rel=1e-9)
    low, high = d - Z * se, d + Z * se
    if len(a) < 30 or len(b) < 30:
        verdict = "too_few_presses"
    elif low > 0:
        verdict = "better"
    elif high < 0:
        verdict = "worse"
    else:
        verdict = "no_clear_change"
    return d, low, high, verdict


@settings(max_examples=300, deadline=None)
@given(any_counts, any_counts)
@example((0, 0, 0, 0), (0, 0, 0, 5))
@example((1, 1, 1, 1), (0, 0, 0, 1))
@example((10, 10, 5, 4), (0, 0, 10, 20))  # 29 before: an obvious change, yet too few
@example((10, 10, 5, 5), (0, 0, 10, 20))  # 30 on each side: now a verdict
@example((100, 100, 100, 100), (100, 100, 100, 100))
def test_the_difference_and_its_verdict_match_welch(before, after):
    ours = stats.difference(stats.summarise(before), stats.summarise(after))
    d, low, high, verdict = reference_difference(before, after)
    if d is None:
        assert ours.happy_index is None and ours.happy_index_ci is None
    else:
        assert ours.happy_index == pytest.approx(d, abs=ROUNDING)
        assert close(ours.happy_index_ci, None if low is None else (low, high))
    # At an interval's edge within float noise of 0 the two sides may differ; nowhere else.
    if low is None or min(abs(low), abs(high)) > 1e-9:
        assert ours.verdict == verdict


def test_verdicts_in_words():
    worse_before, worse_after = stats.summarise((0, 0, 10, 30)), stats.summarise((20, 10, 5, 5))
    diff = stats.difference(worse_before, worse_after)
    assert diff.verdict == "worse"
    assert stats.describe(diff, worse_before, worse_after).startswith("Worse: -")
    few = stats.summarise((0, 0, 1, 28))
    diff = stats.difference(few, worse_after)
    assert diff.verdict == "too_few_presses"
    assert stats.describe(diff, few, worse_after) == (
        "Too few presses to tell (29 before, 40 after; 30 needed on each side)")
