"""Opening hours syntax."""

from datetime import datetime

import pytest

from hub.hours import BadHours, OpeningHours


def test_opening_hours_parse_and_answer():
    hours = OpeningHours.parse("mon-fri 07:00-22:00; sat 09:00-12:00, 13:00-17:00")
    assert hours.is_open(datetime(2026, 11, 23, 7, 0))  # a Monday
    assert not hours.is_open(datetime(2026, 11, 23, 22, 0))
    assert not hours.is_open(datetime(2026, 11, 28, 12, 30))  # Saturday lunch
    assert hours.is_open(datetime(2026, 11, 28, 13, 0))
    assert not hours.is_open(datetime(2026, 11, 29, 10, 0))  # Sunday: not named, closed
    assert OpeningHours.parse("sun 00:00-24:00").is_open(datetime(2026, 11, 29, 23, 59))


@pytest.mark.parametrize("text", ["", "mon", "mon 7-22", "funday 07:00-22:00",
                                  "fri-mon 07:00-22:00", "mon 22:00-07:00", "mon 07:00-24:01",
                                  "mon 07:00-22:00; mon 08:00-09:00", "mon 25:00-26:00"])
def test_bad_opening_hours_are_refused(text):
    with pytest.raises(BadHours):
        OpeningHours.parse(text)
