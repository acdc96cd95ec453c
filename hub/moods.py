"""The four moods and the Happy Index."""

from fractions import Fraction
from math import floor

MOODS = {1: "very_unhappy", 2: "unhappy", 3: "happy", 4: "very_happy"}
MOOD_NAMES = tuple(MOODS.values())


def named_counts(counts):
    """`{"very_unhappy": n1, ..., "very_happy": n4}` from counts in mood order 1-4."""
    return dict(zip(MOOD_NAMES, counts, strict=True))


def happy_index(counts):
    """100 · Σ(mood − 1) / (3 · N) for counts in mood order 1-4, one decimal; None when N = 0.

    Computed exactly and rounded half up (away from zero: the index is never negative), so
    78.25 gives 78.3 where float rounding might give 78.2.
    """
    total = sum(counts)
    if total == 0:
        return None
    points = sum(n * (mood - 1) for mood, n in enumerate(counts, start=1))
    tenths = floor(Fraction(1000 * points, 3 * total) + Fraction(1, 2))
    return tenths / 10
