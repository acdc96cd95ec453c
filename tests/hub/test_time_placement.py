"""Where a press is placed in time: rules 1-3 of the contract, with time_source."""

from datetime import UTC, datetime

import pytest

from hub.payloads import Press
from hub.times import place_in_time
from tests.hub.helpers import BOOT, press, send

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # the fake hub clock in conftest


@pytest.fixture
def kiosk(site):
    site.location("ams")
    return site.device("kiosk-1", "ams")


@pytest.fixture
def placed(client, site):
    reader = site.reader()

    def get(first="2026-11-01", last="2026-11-30"):
        response = client.get("/api/v1/presses", headers=reader, query_string={
            "location": "ams", "from": first, "to": last})
        return {p["seq"]: p for p in response.json["presses"]}

    return get


def test_rule_1_a_synchronised_clock_is_trusted(client, kiosk, placed):
    send(client, kiosk, [press(1, pressed_at="2026-11-22T10:15:03.120Z", clock_synced=True)])
    p = placed()[1]
    assert (p["pressed_at"], p["time_source"]) == ("2026-11-22T10:15:03.120Z", "device")
    assert p["device_pressed_at"] == "2026-11-22T10:15:03.120Z"
    assert p["received_at"] == "2026-11-22T12:00:00.000Z"


def test_rule_1_up_to_five_minutes_ahead_of_the_hub(client, kiosk, placed):
    send(client, kiosk, [
        press(1, pressed_at="2026-11-22T12:05:00.000Z"),
        press(2, pressed_at="2026-11-22T12:05:00.001Z", boot_id="another-boot"),
    ])
    by_seq = placed()
    assert by_seq[1]["time_source"] == "device"
    assert by_seq[2]["time_source"] == "uncertain"


def test_rule_2_an_unsynchronised_clock_is_replaced_by_uptime(client, kiosk, placed):
    # The batch is sent at uptime 10,000 s; the press happened 1,000 s earlier.
    send(client, kiosk, [press(1, pressed_at="1970-01-01T00:16:40.000Z", clock_synced=False,
                               uptime_ms=9_000_000)], uptime_ms=10_000_000)
    p = placed()[1]
    assert (p["pressed_at"], p["time_source"]) == ("2026-11-22T11:43:20.000Z", "uptime")
    assert p["device_pressed_at"] == "1970-01-01T00:16:40.000Z"


@pytest.mark.parametrize("pressed_at", ["2019-12-31T23:59:59.999Z", "2031-01-01T00:00:00Z"])
def test_rule_2_also_replaces_a_synchronised_clock_that_is_far_off(client, kiosk, placed,
                                                                   pressed_at):
    send(client, kiosk, [press(1, pressed_at=pressed_at, uptime_ms=9_999_000)],
         uptime_ms=10_000_000)
    p = placed()[1]
    assert (p["pressed_at"], p["time_source"]) == ("2026-11-22T11:59:59.000Z", "uptime")


def test_rule_3_another_boot_keeps_the_device_time_as_uncertain(client, kiosk, placed):
    send(client, kiosk, [press(1, pressed_at="2026-11-20T08:00:00Z", clock_synced=False,
                               boot_id="an-earlier-boot")])
    p = placed()[1]
    assert (p["pressed_at"], p["time_source"]) == ("2026-11-20T08:00:00.000Z", "uncertain")


def test_uncertain_presses_show_in_exports(client, kiosk, site):
    send(client, kiosk, [press(1, clock_synced=False, boot_id="old-boot")])
    response = client.get("/api/v1/presses", headers=site.reader(), query_string={
        "location": "ams", "from": "2026-11-22", "to": "2026-11-22", "format": "csv"})
    header, row = response.get_data(as_text=True).splitlines()
    assert "time_source" in header.split(",")
    assert ",uncertain," in row


def make_press(**fields):
    defaults = dict(seq=1, id="x", mood=4, pressed_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
                    boot_id=BOOT, uptime_ms=5_000, clock_synced=False, misuse=False,
                    pressed_at_text="2026-11-22T10:00:00.000Z")
    return Press(**(defaults | fields))


def test_a_press_later_than_its_batch_in_uptime_is_uncertain():
    # A kiosk bug (uptime from the future); the press is kept, not refused.
    when, source = place_in_time(make_press(uptime_ms=20_000), BOOT, 10_000, NOW)
    assert (when, source) == (datetime(2026, 11, 22, 10, tzinfo=UTC), "uncertain")


def test_an_uptime_placement_before_1900_is_uncertain():
    when, source = place_in_time(make_press(uptime_ms=0), BOOT, 2**62, NOW)
    assert source == "uncertain"


def test_offsets_in_pressed_at_are_converted_to_utc(client, kiosk, placed):
    send(client, kiosk, [press(1, pressed_at="2026-11-22T11:15:03.5+01:00")])
    assert placed()[1]["pressed_at"] == "2026-11-22T10:15:03.500Z"
