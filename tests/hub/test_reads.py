"""Read endpoints: who may read, raw presses by page and as CSV."""

import base64
import json

import pytest

from hub.csvout import csv_lines, guard
from hub.store import registry
from tests.hub.helpers import error, press, send


@pytest.fixture
def reader(site):
    site.location("ams")
    return site.reader()


def fill(client, site):
    """25 presses a minute apart from one kiosk; every fifth is misuse."""
    presses = [press(n, mood=1 + n % 4, pressed_at=f"2026-11-22T10:{n:02d}:00Z",
                     misuse=n % 5 == 0) for n in range(1, 26)]
    send(client, site.device("kiosk-3", "ams"), presses, device_id="kiosk-3")
    return presses


def _cursor(position):
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def get_presses(client, headers, **params):
    query = {"location": "ams", "from": "2026-11-22", "to": "2026-11-22"} | params
    return client.get("/api/v1/presses", headers=headers, query_string=query)


def test_reading_needs_credentials(client, reader):
    for url in ("/api/v1/locations", "/api/v1/presses?location=ams&from=2026-11-22&to=2026-11-22",
                "/api/v1/locations/ams/hourly?from=2026-11-22&to=2026-11-22"):
        assert error(client.get(url)) == (401, "unauthorized")
        response = client.get(url, headers={"Authorization": "Bearer wrong"})
        assert error(response) == (401, "unauthorized")


def test_a_device_token_cannot_read(client, site, reader):
    kiosk = site.device("kiosk-9", "ams")
    assert error(client.get("/api/v1/locations", headers=kiosk)) == (403, "forbidden")


def test_an_operator_session_can_read(client, site, reader, db):
    registry.add_user(db, "bob", "a long password", "admin", "2026-01-01T00:00:00.000Z")
    user = registry.check_user_password(db, "bob", "a long password")
    assert registry.check_user_password(db, "bob", "wrong") is None
    with client.session_transaction() as session:
        session["user_id"] = user["id"]
    assert client.get("/api/v1/locations").status_code == 200


def test_presses_come_in_pages_in_placed_time_order(client, site, reader):
    fill(client, site)
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": "7"} | ({"after": after} if after else {})
        body = get_presses(client, reader, **params).json
        seen += body["presses"]
        pages += 1
        after = body["next"]
        if after is None:
            break
    assert pages == 3  # 20 presses without misuse: 7 + 7 + 6
    assert [p["seq"] for p in seen] == [n for n in range(1, 26) if n % 5]
    assert set(seen[0]) == {"id", "device_id", "location", "seq", "mood", "pressed_at",
                            "device_pressed_at", "received_at", "time_source", "misuse"}


def test_presses_filters(client, site, reader):
    fill(client, site)
    assert len(get_presses(client, reader, include_misuse="1").json["presses"]) == 25
    assert len(get_presses(client, reader, device="kiosk-3").json["presses"]) == 20
    assert get_presses(client, reader, device="kiosk-1").json == {"presses": [], "next": None}
    assert get_presses(client, reader, to="2026-11-23", **{"from": "2026-11-23"}).json == {
        "presses": [], "next": None}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"), ({"limit": "10001"}, "limit"), ({"limit": "x"}, "limit"),
        ({"limit": "9" * 5000}, "limit"), ({"after": "garbage!"}, "after"),
        ({"after": "W10"}, "after"), ({"location": ""}, "location"),
        ({"from": "2026-11-23"}, "to"), ({"to": "yesterday"}, "to"),
        ({"from": "0001-01-01"}, "from"), ({"to": "9999-12-31"}, "to"),
        # A cursor SQLite could not bind: a 400, not a 500.
        ({"after": _cursor(["2026-11-22T10:00:00.000Z", "kiosk-1", 2**63])}, "after"),
        ({"after": _cursor(["2026-11-22T10:00:00.000Z", "kiosk-1", -2**63 - 1])}, "after"),
    ],
)
def test_bad_press_queries_are_400(client, reader, params, field):
    response = get_presses(client, reader, **params)
    assert error(response) == (400, "invalid_field")
    assert response.json["error"]["message"].startswith(f"{field}: ")


def test_presses_of_an_unknown_location_are_404(client, reader):
    assert error(get_presses(client, reader, location="nowhere")) == (404, "not_found")


def test_presses_as_csv_stream_every_row(client, site, reader):
    fill(client, site)
    response = get_presses(client, reader, format="csv", limit="2", include_misuse="1")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == ("id,device_id,location,seq,mood,pressed_at,device_pressed_at,"
                        "received_at,time_source,misuse")
    assert len(lines) == 26
    assert lines[5].split(",")[3:6] == ["5", "2", "2026-11-22T10:05:00.000Z"]
    assert lines[5].endswith(",device,true")


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted():
    assert [guard(v) for v in ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]] == [
        "'=cmd|' /C calc'!A0", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx"]
    assert [guard(v) for v in ["plain", "a=b", 7, -3, None, True, 78.2]] == [
        "plain", "a=b", 7, -3, "", "true", 78.2]
    lines = list(csv_lines(["name"], [["=HYPERLINK(\"x\")"]]))
    assert lines == ["name\r\n", "\"'=HYPERLINK(\"\"x\"\")\"\r\n"]
