"""The negative-feedback rule: is the last window at a location worse than usual, by more
than chance explains?

Two presets per location (`alert_settings.rule`). Both count only the presses of the last
`window_s` (15 min) placed while the location was open (hub.hours), misuse left out, and
only from the end of the location's previous negative-feedback alert on; neither fires below
`min_presses` (4) presses.

- "usual" (the default) compares the window with the location's usual negative share at
  this time of day, and fires only on a significant excess: a one-sided exact binomial
  test, P(X >= k | n, usual + MARGIN) <= ALPHA, for k negative presses of n. In words: k or
  more negative presses of n would happen in under ALPHA of windows even if the location
  were MARGIN worse than usual.
- "simple" is HappyOrNot's rule: at least `share_pct` (50) % negative.

The usual share at local hour h is the negative share of the location's presses in that
local hour over the HISTORY_DAYS local days before today (hours overlapping its opening
hours, from the hourly rollups), shrunk towards the share of hours h-1..h+1, itself shrunk
towards the share of all its hours, itself shrunk towards PRIOR_SHARE: each as if
PRIOR_WEIGHT presses at the next one's share had been counted too. So an hour with a long
history is judged by itself, a thin one leans on its neighbours and its day, and a new
location starts at PRIOR_SHARE and moves to its own figures as presses come.
"""

import math
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from hub.hours import BadHours, OpeningHours, open_intervals
from hub.store import alerts as alert_store
from hub.times import format_utc, hour_key, local_day_start, zone

RULES = ("usual", "simple")
MARGIN = 0.10  # how much worse than usual the window must be shown to be
ALPHA = 0.002  # the chance of a usual-or-a-little-worse window firing, per window
HISTORY_DAYS = 28
HOURS_AROUND = 1
PRIOR_SHARE = 0.25
PRIOR_WEIGHT = 50
MAX_THRESHOLD = 0.99


@dataclass(frozen=True)
class Judgement:
    """What the rule found in one window."""

    rule: str  # usual | simple
    counts: tuple  # presses of moods 1-4 in the window (open hours, no misuse)
    threshold: float  # the share (fraction) the window is tested against
    usual: float | None  # the usual share (fraction), for the usual rule
    p_value: float | None  # P(X >= negative | n, threshold), for the usual rule
    firing: bool

    @property
    def presses(self):
        return sum(self.counts)

    @property
    def negative(self):
        return self.counts[0] + self.counts[1]

    def detail(self, window_s):
        """The alert's stored detail (JSON): what the page and the webhooks show."""
        n = self.presses
        return {
            "rule": self.rule, "window_s": window_s, "presses": n, "negative": self.negative,
            "share_pct": round(100 * self.negative / n, 1) if n else None,
            "counts": dict(zip(("very_unhappy", "unhappy", "happy", "very_happy"), self.counts,
                               strict=True)),
            "usual_pct": None if self.usual is None else round(100 * self.usual, 1),
            "threshold_pct": round(100 * self.threshold, 1),
            "p_value": None if self.p_value is None else float(f"{self.p_value:.3g}"),
        }


def judge(db, place, limits, now, since=None):
    """The rule of *place* (a locations row) with its *limits* (alert settings) at *now*.
    Presses placed before *since* (the end of the previous alert) are not counted."""
    start = now - timedelta(seconds=limits["window_s"])
    if since is not None and since > start:
        start = since
    tz = zone(place["timezone"])
    counts = [0, 0, 0, 0]
    for low, high in open_intervals(place["opening_hours"], tz, start, now):
        part = alert_store.press_counts(db, place["id"], format_utc(low), format_utc(high))
        counts = [a + b for a, b in zip(counts, part, strict=True)]
    counts = tuple(counts)
    n, negative = sum(counts), counts[0] + counts[1]
    if limits.get("rule", "usual") == "simple":
        threshold = limits["share_pct"] / 100
        firing = n >= limits["min_presses"] and negative * 100 >= limits["share_pct"] * n
        return Judgement("simple", counts, threshold, None, None, firing)
    if n < limits["min_presses"]:  # not enough to test: the history is not even read
        return Judgement("usual", counts, MARGIN, None, None, False)
    usual = usual_share(db, place, now)
    threshold = min(usual + MARGIN, MAX_THRESHOLD)
    p_value = binomial_tail(negative, n, threshold)
    return Judgement("usual", counts, threshold, usual, p_value, p_value <= ALPHA)


def usual_share(db, place, now):
    """The location's usual negative share (fraction) at the local hour of *now*: its own
    hour, leaning on the hours around it, then on the whole day, then on PRIOR_SHARE, the
    less history each has (see the module's docstring)."""
    tz = zone(place["timezone"])
    local = now.astimezone(tz)
    start = hour_key(local_day_start(local.date() - timedelta(days=HISTORY_DAYS), tz))
    end = hour_key(local_day_start(local.date(), tz))
    hours = [f"{(local.hour + d) % 24:02d}" for d in range(-HOURS_AROUND, HOURS_AROUND + 1)]
    open_hours = _open_hours(place["opening_hours"])
    own = [0, 0]
    around = [0, 0]
    for weekday, hour, negative, n in alert_store.hour_history(db, place["id"], start, end,
                                                               hours):
        if open_hours is not None and (weekday, hour) not in open_hours:
            continue
        around[0] += negative
        around[1] += n
        if hour == local.hour:
            own[0] += negative
            own[1] += n
    share = PRIOR_SHARE
    for negative, n in (alert_store.share_history(db, place["id"], start, end), around, own):
        share = (negative + PRIOR_WEIGHT * share) / (n + PRIOR_WEIGHT)
    return share


def binomial_tail(k, n, p):
    """P(X >= k) for X ~ Binomial(n, p): the one-sided p-value of k successes in n."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    base = math.lgamma(n + 1)
    return min(1.0, sum(
        math.exp(base - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p
                 + (n - i) * log_q)
        for i in range(k, n + 1)))


@lru_cache(maxsize=256)
def _open_hours(text):
    """{(weekday, hour)} of the local clock hours that overlap the opening hours; None when
    always open (or the hours do not parse, as for hub.hours.open_at)."""
    if not text:
        return None
    try:
        week = OpeningHours.parse(text).week
    except BadHours:
        return None
    return frozenset(
        (day, hour) for day, ranges in week.items() for hour in range(24)
        if any(first < (hour + 1) * 60 and until > hour * 60 for first, until in ranges))
