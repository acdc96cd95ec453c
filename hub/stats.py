"""Honest numbers: every index an operator sees comes with n and its 95 % interval.

One module computes them for the pages, the API, the CSVs, the alerts and the mails, to the
formulas of design.md ("Honest numbers"), from mood counts alone:

- press score = 100 · (mood − 1) / 3; the Happy Index is the mean score;
- its interval: mean ± 1.96 · s / √n (s the sample standard deviation, n − 1), clipped to
  [0, 100], one decimal; None when n < 2;
- negative and positive shares (percent) with Wilson score intervals (z = 1.96);
- a difference of two indexes: d ± 1.96 · √(s₁²/n₁ + s₂²/n₂);
- a verdict: too_few_presses if either side has n < 30, else better / worse when the
  difference's interval is above / below 0, else no_clear_change.

Shares are percentages (0-100, one decimal), like the Happy Index, so that a page can put
them side by side.
"""

import math
from dataclasses import dataclass

from hub.moods import happy_index as rounded_index

Z = 1.96  # two-sided 95 %
_HALF = Z * 100 / 3  # Z in score points per mood step
MIN_FOR_VERDICT = 30  # presses on each side before a before/after verdict is given
# Below this many presses pages mark an index "few presses" (and the heatmap fades its
# cell): the normal interval is itself unreliable there (docs/decisions.md).
FEW_PRESSES = 10
SCORES = (0.0, 100 / 3, 200 / 3, 100.0)  # moods 1-4


@dataclass(frozen=True)
class Summary:
    """n, Happy Index and shares of some presses, each with its 95 % interval."""

    n: int
    mean: float | None  # the Happy Index unrounded
    happy_index: float | None
    happy_index_ci: tuple[float, float] | None
    sd: float | None  # sample standard deviation of the press scores (n − 1)
    negative_share: float | None
    negative_share_ci: tuple[float, float] | None
    positive_share: float | None
    positive_share_ci: tuple[float, float] | None

    @property
    def positive_share_low(self):
        return None if self.positive_share_ci is None else self.positive_share_ci[0]

    def as_dict(self):
        """The JSON form: intervals as [low, high] lists."""
        return {
            "n": self.n,
            "happy_index": self.happy_index,
            "happy_index_ci": _pair(self.happy_index_ci),
            "negative_share": self.negative_share,
            "negative_share_ci": _pair(self.negative_share_ci),
            "positive_share": self.positive_share,
            "positive_share_ci": _pair(self.positive_share_ci),
        }


def summarise(counts):
    """A Summary of presses counted by mood: *counts* is (n1, n2, n3, n4) or a mapping
    {"very_unhappy": …, "unhappy": …, "happy": …, "very_happy": …}."""
    counts = _tuple(counts)
    n = sum(counts)
    if n == 0:
        return Summary(0, None, None, None, None, None, None, None, None)
    mean, sd = _moments(counts)
    interval = index_interval(counts)
    negative = counts[0] + counts[1]
    return Summary(
        n=n,
        mean=mean,
        # The contract's rounding (exact, half up), so it is the API's own figure: a float
        # round() gives 81.2 for 81.25 where hub.moods gives 81.3.
        happy_index=rounded_index(counts),
        happy_index_ci=interval,
        sd=sd,
        negative_share=_round(100 * negative / n),
        negative_share_ci=_percent(wilson(negative, n)),
        positive_share=_round(100 * (n - negative) / n),
        positive_share_ci=_percent(wilson(n - negative, n)),
    )


def index_interval(counts):
    """The Happy Index's 95 % interval (low, high) alone, None when n < 2: the figure a table
    of thousands of hours needs, without the shares."""
    n1, n2, n3, n4 = _tuple(counts) if isinstance(counts, dict) else counts
    n = n1 + n2 + n3 + n4
    if n < 2:
        return None
    points, squares = n2 + 2 * n3 + 3 * n4, n2 + 4 * n3 + 9 * n4
    # _moments' mean and s, inline, with 1.96 · s / √n as one root: an API answer for a year
    # computes 8,760 of these.
    mean = 100 * points / (3 * n)
    half = _HALF * math.sqrt((n * squares - points * points) / (n * n * (n - 1)))
    low, high = mean - half, mean + half
    return (round(low, 1) if low > 0 else 0.0), (round(high, 1) if high < 100 else 100.0)


def _tuple(counts):
    if isinstance(counts, dict):
        counts = (counts["very_unhappy"], counts["unhappy"], counts["happy"],
                  counts["very_happy"])
    return tuple(int(c) for c in counts)


def _moments(counts):
    """(mean, sd) of the press scores; sd None when n < 2. From exact integer sums of the
    moods (score = 100/3 · (mood − 1)), so no float cancellation when all moods agree."""
    n1, n2, n3, n4 = counts
    n = n1 + n2 + n3 + n4
    points = n2 + 2 * n3 + 3 * n4
    squares = n2 + 4 * n3 + 9 * n4
    mean = 100 * points / (3 * n)
    if n < 2:
        return mean, None
    return mean, 100 / 3 * math.sqrt((n * squares - points * points) / (n * (n - 1)))


def wilson(successes, n, z=Z):
    """The Wilson score interval (low, high) of a proportion, as fractions; None if n = 0."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Difference:
    """After − before, with its interval and the verdict a manager reads."""

    happy_index: float | None
    happy_index_ci: tuple[float, float] | None
    verdict: str  # better, worse, no_clear_change, too_few_presses

    def as_dict(self):
        return {"happy_index": self.happy_index, "happy_index_ci": _pair(self.happy_index_ci)}


def difference(before, after):
    """The Difference between two Summaries (after − before)."""
    if before.n == 0 or after.n == 0:
        return Difference(None, None, "too_few_presses")
    d = after.mean - before.mean
    if before.sd is None or after.sd is None:
        return Difference(_round(d), None, "too_few_presses")
    half = Z * math.sqrt(before.sd ** 2 / before.n + after.sd ** 2 / after.n)
    low, high = d - half, d + half
    if before.n < MIN_FOR_VERDICT or after.n < MIN_FOR_VERDICT:
        verdict = "too_few_presses"
    elif low > 0:
        verdict = "better"
    elif high < 0:
        verdict = "worse"
    else:
        verdict = "no_clear_change"
    return Difference(_round(d), (_round(low), _round(high)), verdict)


def describe(diff, before, after):
    """The verdict in words: "Better: +9.8 points (5.1 to 14.5), 412 presses before, 389
    after"; or "Too few presses to tell (12 before, 40 after; 30 needed on each side)"."""
    if diff.verdict == "too_few_presses":
        return (f"Too few presses to tell ({before.n} before, {after.n} after; "
                f"{MIN_FOR_VERDICT} needed on each side)")
    word = {"better": "Better", "worse": "Worse", "no_clear_change": "No clear change"}
    low, high = diff.happy_index_ci
    return (f"{word[diff.verdict]}: {diff.happy_index:+.1f} points ({low:.1f} to {high:.1f}), "
            f"{before.n} presses before, {after.n} after")


def index_text(summary):
    """"78.2 (74.2–82.3), n = 219"; "–, n = 0"; "100.0, n = 1" (no interval below 2)."""
    if summary.n == 0:
        return "–, n = 0"
    if summary.happy_index_ci is None:
        return f"{summary.happy_index:.1f}, n = {summary.n}"
    low, high = summary.happy_index_ci
    return f"{summary.happy_index:.1f} ({low:.1f}–{high:.1f}), n = {summary.n}"


def _percent(interval):
    return None if interval is None else (_round(100 * interval[0]), _round(100 * interval[1]))


def _pair(interval):
    return None if interval is None else [interval[0], interval[1]]


def _round(value):
    return round(value + 0.0, 1)
