"""Where a press is placed in time: rules 1-4 of the contract, with time_source."""

from datetime import UTC, datetime, timedelta

import pytest

from hub.payloads import Press
from hub.times import place_in_time
from tests.hub.helpers import BOOT, hourly, press, send

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


def test_rule_4_another_boot_without_a_measured_skew_keeps_the_device_time_as_uncertain(
        client, kiosk, placed):
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


# Rule 3: a press of an earlier boot, placed by the clock skew the hub measured in that boot.

EARLIER_BOOT = "0b7a1f52-8c3e-4d21-9f0e-6a5b4c3d2e1f"
THREE_DAYS = timedelta(days=3)


def test_rule_3_a_clock_three_days_behind_puts_the_press_three_days_later():
    press_ = make_press(boot_id=EARLIER_BOOT, pressed_at=datetime(2026, 11, 19, 10, tzinfo=UTC))
    when, source = place_in_time(press_, BOOT, 10_000, NOW, {EARLIER_BOOT: -THREE_DAYS})
    assert (when, source) == (datetime(2026, 11, 22, 10, tzinfo=UTC), "skew")


def test_rule_3_a_clock_ahead_puts_the_press_earlier():
    press_ = make_press(boot_id=EARLIER_BOOT, pressed_at=datetime(2026, 11, 22, 13, tzinfo=UTC))
    when, source = place_in_time(press_, BOOT, 10_000, NOW, {EARLIER_BOOT: timedelta(hours=2)})
    assert (when, source) == (datetime(2026, 11, 22, 11, tzinfo=UTC), "skew")


def test_rules_1_and_2_come_before_the_skew():
    skews = {EARLIER_BOOT: -THREE_DAYS, BOOT: -THREE_DAYS}
    synced = make_press(boot_id=EARLIER_BOOT, clock_synced=True)
    assert place_in_time(synced, BOOT, 10_000, NOW, skews) == (synced.pressed_at, "device")
    this_boot = make_press(uptime_ms=4_000)
    assert place_in_time(this_boot, BOOT, 10_000, NOW, skews) == (
        NOW - timedelta(seconds=6), "uptime")


def test_the_skew_places_only_presses_of_another_boot_that_has_one():
    skews = {EARLIER_BOOT: -THREE_DAYS, BOOT: -THREE_DAYS}
    unmeasured = make_press(boot_id="a-boot-never-heard-from")
    assert place_in_time(unmeasured, BOOT, 10_000, NOW, skews)[1] == "uncertain"
    # The batch's own boot is placed by uptime or not at all: its skew is not a fallback.
    uptime_bug = make_press(uptime_ms=20_000)
    assert place_in_time(uptime_bug, BOOT, 10_000, NOW, skews)[1] == "uncertain"


@pytest.mark.parametrize(("pressed_at", "skew"), [
    (datetime(2026, 11, 22, 12, 10, tzinfo=UTC), timedelta(0)),  # past 5 min ahead of the hub
    (datetime(2026, 11, 19, 10, tzinfo=UTC), timedelta(days=3000)),  # before 2020
    (datetime(1900, 1, 1, tzinfo=UTC), timedelta(days=700_000)),  # before year 1
])
def test_a_skew_correction_rule_1_would_not_trust_is_uncertain(pressed_at, skew):
    press_ = make_press(boot_id=EARLIER_BOOT, pressed_at=pressed_at)
    assert place_in_time(press_, BOOT, 10_000, NOW, {EARLIER_BOOT: skew}) == (
        pressed_at, "uncertain")


def beat(client, kiosk, sent_at, clock_synced=False, boot_id=EARLIER_BOOT):
    body = {"device_id": "kiosk-1", "boot_id": boot_id, "uptime_ms": 5_000,
            "sent_at": sent_at, "clock_synced": clock_synced}
    assert client.post("/api/v1/heartbeat", json=body, headers=kiosk).status_code == 200


def test_presses_of_an_earlier_boot_are_placed_by_the_skew_its_heartbeat_showed(
        client, kiosk, site, placed):
    # Boot A's clock is 3 days behind the hub; its presses reach the hub only from boot B.
    beat(client, kiosk, "2026-11-19T12:00:00.000Z")
    send(client, kiosk, [
        press(1, mood=1, pressed_at="2026-11-19T09:15:00.000Z", clock_synced=False,
              boot_id=EARLIER_BOOT),
        press(2, mood=4, pressed_at="2026-11-19T09:20:00.000Z", clock_synced=False,
              boot_id=EARLIER_BOOT),
    ])
    by_seq = placed()
    assert [(p["pressed_at"], p["time_source"], p["device_pressed_at"])
            for p in by_seq.values()] == [
        ("2026-11-22T09:15:00.000Z", "skew", "2026-11-19T09:15:00.000Z"),
        ("2026-11-22T09:20:00.000Z", "skew", "2026-11-19T09:20:00.000Z"),
    ]
    hours = hourly(client, site.reader("bo"), "ams", "2026-11-19", "2026-11-22")
    assert [(h["hour_start"], h["total"]) for h in hours] == [("2026-11-22T10:00:00+01:00", 2)]


def test_the_skew_of_a_batch_envelope_counts_too(client, kiosk, placed):
    # Boot A sends a batch carrying the heartbeat's fields: its clock 3 days behind.
    body = {"device_id": "kiosk-1", "boot_id": EARLIER_BOOT, "uptime_ms": 10_000_000,
            "presses": [], "sent_at": "2026-11-19T12:00:00.000Z", "clock_synced": False}
    assert client.post("/api/v1/presses", json=body, headers=kiosk).status_code == 200
    send(client, kiosk, [press(1, pressed_at="2026-11-19T11:00:00.000Z", clock_synced=False,
                               boot_id=EARLIER_BOOT)])
    assert (placed()[1]["pressed_at"], placed()[1]["time_source"]) == (
        "2026-11-22T11:00:00.000Z", "skew")


def test_the_latest_skew_measured_while_unsynchronised_places_the_boots_presses(
        client, kiosk, clock, placed):
    beat(client, kiosk, "2026-11-19T12:00:00.000Z")  # 3 days behind
    clock.advance(minutes=1)
    beat(client, kiosk, "2026-11-20T12:01:00.000Z")  # set by hand to 2 days behind
    clock.advance(minutes=1)
    # NTP then sets the clock: that skew says nothing of the presses made before it.
    beat(client, kiosk, "2026-11-22T12:02:00.000Z", clock_synced=True)
    send(client, kiosk, [press(1, pressed_at="2026-11-20T11:00:00.000Z", clock_synced=False,
                               boot_id=EARLIER_BOOT)])
    assert (placed()[1]["pressed_at"], placed()[1]["time_source"]) == (
        "2026-11-22T11:00:00.000Z", "skew")


def test_skew_placed_presses_show_in_exports(client, kiosk, site):
    beat(client, kiosk, "2026-11-19T12:00:00.000Z")
    send(client, kiosk, [press(1, clock_synced=False, boot_id=EARLIER_BOOT,
                               pressed_at="2026-11-19T10:00:00.000Z")])
    response = client.get("/api/v1/presses", headers=site.reader(), query_string={
        "location": "ams", "from": "2026-11-22", "to": "2026-11-22", "format": "csv"})
    header, row = response.get_data(as_text=True).splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert (cells["pressed_at"], cells["time_source"]) == ("2026-11-22T10:00:00.000Z", "skew")
    document = client.get("/api/v1/openapi.json").json
    press_schema = document["components"]["schemas"]["PressPage"]["properties"]["presses"]
    assert "skew" in press_schema["items"]["properties"]["time_source"]["enum"]
