"""The pages render what hub.reports builds: escaped, in local time, as HTML and as CSV."""

from hub.store import registry
from tests.hub.helpers import press, send
from tests.pages.conftest import post_form

EVIL = "<img src=x onerror=alert(1)>"


def test_html_in_names_is_text_everywhere(admin, db):
    registry.add_location(db, "evil", EVIL, "Asia/Kolkata", None, "2026-01-01T00:00:00.000Z",
                          group="=cmd|' /C calc'!A0")
    for path in ("/", "/locations/evil", "/admin/locations", "/admin/locations/evil"):
        page = admin.get(path).get_data(as_text=True)
        assert EVIL not in page, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, path
    csv = admin.get("/?format=csv").get_data(as_text=True)
    assert "'=cmd|" in csv  # the spreadsheet formula guard of hub/csvout.py


def test_location_page_in_local_time_with_device_health(admin, site, client):
    site.location("ams")
    kiosk = site.device("kiosk-1", "ams")
    # 10:15Z is 11:15 in Amsterdam on Sunday 2026-11-22; seq 3 and 4 never arrived.
    send(client, kiosk, [press(1, 4, "2026-11-22T10:15:00Z"), press(2, 1, "2026-11-22T10:20:00Z"),
                         press(5, 3, "2026-11-22T10:25:00Z")])
    page = admin.get("/locations/ams?period=today").get_data(as_text=True)
    assert "Europe/Amsterdam" in page
    assert "Sun 11:00-12:00: Happy Index 55.6, n = 3, few presses" in page
    assert "11:00 <span" in page  # the per-hour table, in local time
    assert "<strong>2</strong>" in page  # missing seqs
    assert "parked" not in page
    beat = {"device_id": "kiosk-1", "boot_id": "b", "uptime_ms": 1,
            "sent_at": "2026-11-22T12:00:00Z", "queued": 0, "parked": 3}
    assert client.post("/api/v1/heartbeat", json=beat, headers=kiosk).status_code == 200
    page = admin.get("/locations/ams?period=today").get_data(as_text=True)
    assert ">3 parked</span>" in page  # refused presses the kiosk keeps: shown, not hidden
    csv = admin.get("/locations/ams?period=today&table=heatmap&format=csv")
    assert "Sun,11,1,0,1,1,3,55.6" in csv.get_data(as_text=True)
    daily = admin.get("/locations/ams?period=7d&format=csv").get_data(as_text=True)
    # n and the 95 % interval close each row: over 3 presses it spans everything.
    assert daily.splitlines()[-1] == "2026-11-22,1,0,1,1,3,55.6,3,0.0,100.0"
    hours = admin.get("/locations/ams?period=7d&day=2026-11-22&table=hours&format=csv")
    assert "2026-11-22T11:00:00+01:00,1,0,1,1,3,55.6" in hours.get_data(as_text=True)
    moods = admin.get("/locations/ams?period=today&table=moods&format=csv").get_data(
        as_text=True).splitlines()
    assert moods == ["mood,presses,share_pct", "very_unhappy,1,33.3", "unhappy,0,0.0",
                     "happy,1,33.3", "very_happy,1,33.3"]
    devices = admin.get("/locations/ams?table=devices&format=csv").get_data(as_text=True)
    header, row = devices.splitlines()
    assert header.split(",")[:3] == ["device_id", "last_seen_at", "silent"]
    fields = dict(zip(header.split(","), row.split(","), strict=True))
    assert (fields["device_id"], fields["presses"], fields["highest_seq"], fields["missing"]) == (
        "kiosk-1", "3", "5", "2")
    assert "+01:00" in fields["last_seen_at"]  # the location's time, like the page
    alerts = admin.get("/locations/ams?table=alerts&format=csv").get_data(as_text=True)
    assert alerts.splitlines()[0].startswith("id,rule,location,device_id,state")


def test_a_bad_custom_period_falls_back_with_a_message(admin, site):
    site.location("ams")
    page = admin.get("/locations/ams?period=custom&from=2026-11-22&to=2026-11-01")
    assert page.status_code == 200
    assert "choose a &#39;from&#39; date" in page.get_data(as_text=True)
    assert admin.get("/locations/nowhere").status_code == 404


def test_admin_adds_a_device_and_sees_its_token_once(admin, site, db):
    site.location("ams")
    response = post_form(admin, "/admin/devices", "/admin/devices",
                         {"device_id": "ams-2", "location": "ams"})
    page = response.get_data(as_text=True)
    token = page.split('<code class="token">')[1].split("</code>")[0]
    assert registry.bearer(db, token) == ("device", "ams-2", None)
    assert token not in admin.get("/admin/devices").get_data(as_text=True)
    post_form(admin, "/admin/devices", "/admin/devices/ams-2/revoke", {})
    assert registry.bearer(db, token) is None


def test_admin_moves_a_device_and_only_later_presses_follow_it(admin, site, client, db,
                                                              clock):
    clock.set("2026-11-22T12:00:00+00:00")
    site.location("ams")
    site.location("lon", "Europe/London")
    kiosk = site.device("kiosk-1", "ams")
    send(client, kiosk, [press(1, 4, "2026-11-22T10:15:00Z")])
    moved = post_form(admin, "/admin/devices", "/admin/devices/kiosk-1/move",
                      {"location": "lon"})
    assert moved.status_code == 302
    flashed = admin.get("/admin/devices").get_data(as_text=True)
    assert "kiosk-1 moved to lon" in flashed
    clock.set("2026-11-22T14:00:00+00:00")
    send(client, kiosk, [press(2, 1, "2026-11-22T13:00:00Z")])  # pressed after the move

    def places():
        return [tuple(row) for row in db.rows("SELECT p.seq, l.slug FROM presses p JOIN"
                                              " locations l ON l.id = p.location_id"
                                              " ORDER BY p.seq")]

    assert places() == [(1, "ams"), (2, "lon")]
    refused = post_form(admin, "/admin/devices", "/admin/devices/kiosk-1/move",
                        {"location": "nowhere"})
    assert refused.status_code == 302  # back, with the reason flashed
    assert "nowhere" in admin.get("/admin/devices").get_data(as_text=True)
    assert places() == [(1, "ams"), (2, "lon")]


def test_admin_edits_a_location_and_its_thresholds(admin, site):
    site.location("ams")
    response = post_form(admin, "/admin/locations/ams", "/admin/locations/ams", {
        "name": "Schiphol", "timezone": "Europe/Amsterdam", "hours": "mon-fri 07:00-22:00",
        "group": "Airport", "window_min": "30", "min_presses": "6", "share_pct": "60",
        "silent_after_min": "20", "rule": "simple"})
    assert response.status_code == 302
    page = admin.get("/admin/locations").get_data(as_text=True)
    assert "≥ 6 presses, ≥ 60 % negative in 30 min; silent after 20 min" in page
    bad = post_form(admin, "/admin/locations/ams", "/admin/locations/ams", {
        "name": "x", "timezone": "Mars/Olympus", "window_min": "1", "min_presses": "1",
        "share_pct": "1", "silent_after_min": "1"})
    assert bad.status_code == 302
    assert "not an IANA time zone" in admin.get("/admin/locations").get_data(as_text=True)


def test_admin_adds_users_and_webhooks(admin, db):
    post_form(admin, "/admin/users", "/admin/users",
              {"username": "bob", "password": "long enough pw", "role": "viewer"})
    assert registry.check_user_password(db, "bob", "long enough pw")["role"] == "viewer"
    post_form(admin, "/admin/users", "/admin/users/bob/role", {"role": "admin"})
    assert registry.check_user_password(db, "bob", "long enough pw")["role"] == "admin"
    page = post_form(admin, "/admin/webhooks", "/admin/webhooks",
                     {"url": "http://127.0.0.1:9/hook", "location": ""}).get_data(as_text=True)
    assert "shown only this once" in page and "every location" in page
