"""The four moods and the Happy Index."""

MOODS = {1: "very_unhappy", 2: "unhappy", 3: "happy", 4: "very_happy"}
MOOD_NAMES = tuple(MOODS.values())


def named_counts(counts):
    """`{"very_unhappy": n1, ..., "very_happy": n4}` from counts in mood order 1-4."""
    return dict(zip(MOOD_NAMES, counts, strict=True))


def happy_index(counts):
    """100 · Σ(mood − 1) / (3 · N) for counts in mood order 1-4, one decimal; None when N = 0.

    Computed exactly in integers and rounded half up (away from zero: the index is never
    negative), so 81.25 gives 81.3 where float rounding gives 81.2.
    """
    n1, n2, n3, n4 = counts
    total = n1 + n2 + n3 + n4
    if total == 0:
        return None
    points = n2 + 2 * n3 + 3 * n4
    # floor(1000·points / (3·total) + 1/2), i.e. the index in tenths, rounded half up.
    return (2000 * points + 3 * total) // (6 * total) / 10
