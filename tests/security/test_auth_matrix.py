"""Every route × every kind of caller → the status it must get, in one table.

Callers: anonymous, viewer and admin (logged-in sessions), a device token, a revoked device
token, an API token (of the viewer). "login" means a redirect to /login. Forms are posted
with a valid CSRF token, so that only the caller decides. A request that is refused changes
no table; a device token writes only its own presses and reads nothing; an API token reads
and cannot write.
"""

import pytest

from tests.hub.helpers import batch, press
from tests.security.conftest import CALLERS, form_token

READS = {"anonymous": 401, "viewer": 200, "admin": 200, "device": 403, "revoked": 401,
         "api": 200}
WRITES = {"anonymous": 401, "viewer": 403, "admin": 403, "device": 200, "revoked": 401,
          "api": 403}
OPEN = dict.fromkeys(CALLERS, 200)
PAGE = {"anonymous": "login", "viewer": 200, "admin": 200, "device": 403, "revoked": 401,
        "api": 403}
ADMIN = {**PAGE, "viewer": 403}


def _with(table, **changes):
    return {**table, **changes}


BEAT = {"device_id": "kiosk-1", "boot_id": "b", "uptime_ms": 1,
        "sent_at": "2026-11-22T12:00:00.000Z"}
DAY = "from=2026-11-22&to=2026-11-22"
LOCATION_FORM = {"name": "Amsterdam", "timezone": "Europe/Amsterdam", "window_min": "15",
                 "min_presses": "4", "share_pct": "50", "silent_after_min": "15"}

# (method, path, body: dict = form / ("json", dict), expected per caller). In order: a test
# runs the whole table as one caller, so the requests that change most come last.
ROUTES = [
    ("GET", "/healthz", None, OPEN),
    ("GET", "/metrics", None, OPEN),
    ("GET", "/api/v1/openapi.json", None, OPEN),
    ("GET", "/static/hub.css", None, OPEN),
    ("GET", "/login", None, _with(PAGE, anonymous=200, viewer=302, admin=302)),
    ("GET", "/api/v1/locations", None, READS),
    ("GET", f"/api/v1/locations/ams/hourly?{DAY}", None, READS),
    ("GET", f"/api/v1/locations/ams/hourly?{DAY}&format=csv", None, READS),
    ("GET", f"/api/v1/ranking?{DAY}", None, READS),
    ("GET", f"/api/v1/ranking?{DAY}&group=Airport", None, READS),
    ("GET", f"/api/v1/presses?location=ams&{DAY}", None, READS),
    ("GET", f"/api/v1/presses?location=ams&{DAY}&format=csv", None, READS),
    ("GET", "/api/v1/locations/ams/actions", None, READS),
    ("GET", "/api/v1/actions/1/effect", None, READS),
    ("GET", "/api/v1/actions/1/effect?days=28", None, READS),
    ("GET", "/", None, PAGE),
    ("GET", "/?format=csv", None, PAGE),
    ("GET", "/locations/ams", None, PAGE),
    ("GET", "/locations/ams?format=csv&table=heatmap", None, PAGE),
    ("GET", "/locations/ams/actions", None, PAGE),
    ("GET", "/locations/ams/actions?format=csv", None, PAGE),
    ("GET", "/locations/ams/actions/new?alert=1", None, PAGE),
    ("GET", "/actions/1", None, PAGE),
    ("GET", "/actions/1?days=7&format=csv", None, PAGE),
    ("GET", "/alerts", None, PAGE),
    ("GET", "/alerts?format=csv", None, PAGE),
    ("GET", "/admin/", None, _with(ADMIN, admin=302)),
    ("GET", "/admin/locations", None, ADMIN),
    ("GET", "/admin/locations/ams", None, ADMIN),
    ("GET", "/admin/devices", None, ADMIN),
    ("GET", "/admin/users", None, ADMIN),
    ("GET", "/admin/webhooks", None, ADMIN),
    ("POST", "/api/v1/presses", ("json", batch([press(6)])), WRITES),
    ("POST", "/api/v1/presses", ("json", batch([press(1)], device_id="kiosk-3")),
     _with(WRITES, device=403)),
    ("POST", "/api/v1/heartbeat", ("json", BEAT), WRITES),
    ("POST", "/api/v1/heartbeat", ("json", {**BEAT, "device_id": "kiosk-3"}),
     _with(WRITES, device=403)),
    ("POST", "/locations/ams/actions", {"title": "Queue signs", "at": "2026-11-22 08:00"},
     _with(PAGE, viewer=302, admin=302)),
    ("POST", "/alerts/1/comment", {"comment": "seen"}, _with(PAGE, viewer=302, admin=302)),
    ("POST", "/alerts/1/acknowledge", {"comment": "ok"}, _with(PAGE, viewer=302, admin=302)),
    ("POST", "/admin/locations", {"slug": "new", **LOCATION_FORM}, _with(ADMIN, admin=302)),
    ("POST", "/admin/locations/ams", LOCATION_FORM, _with(ADMIN, admin=302)),
    ("POST", "/admin/devices", {"device_id": "kiosk-9", "location": "ams"}, ADMIN),
    ("POST", "/admin/devices/kiosk-3/move", {"location": "ams"}, _with(ADMIN, admin=302)),
    ("POST", "/admin/users", {"username": "newbie", "password": "long enough", "role": "viewer"},
     _with(ADMIN, admin=302)),
    ("POST", "/admin/users/viewer/role", {"role": "viewer"}, _with(ADMIN, admin=302)),
    ("POST", "/admin/webhooks", {"url": "https://hooks.example.org/new"}, ADMIN),
    ("POST", "/admin/webhooks/1/delete", {}, _with(ADMIN, admin=302)),
    ("POST", "/admin/devices/kiosk-3/token", {}, ADMIN),
    ("POST", "/admin/devices/kiosk-3/revoke", {}, _with(ADMIN, admin=302)),
    # A login checks the password only (a wrong one here), whatever else is sent.
    ("POST", "/login", {"username": "viewer", "password": "wrong"}, dict.fromkeys(CALLERS, 401)),
    ("POST", "/logout", {}, dict.fromkeys(CALLERS, 302)),
]


def test_every_route_is_in_the_table(app):
    listed = {(method, path.split("?")[0]) for method, path, _, _ in ROUTES}
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            path = (rule.rule.replace("<slug>", "ams").replace("<int:alert_id>", "1")
                    .replace("<int:action_id>", "1")
                    .replace("<int:webhook_id>", "1").replace("<path:filename>", "hub.css")
                    .replace("<username>", "viewer"))
            if "<device_id>" in path:
                assert any(m == method and p.startswith("/admin/devices/kiosk-3/")
                           and p.endswith(path.rsplit("/", 1)[1]) for m, p in listed), path
                continue
            assert (method, path) in listed, (method, rule.rule)


@pytest.mark.parametrize("caller", CALLERS)
def test_auth_matrix(world, caller):
    client = world.client(caller)
    headers = world.headers(caller)
    wrong = []
    for method, path, body, expected in ROUTES:
        want = expected[caller]
        kwargs = {"headers": headers}
        if isinstance(body, tuple):
            kwargs["json"] = body[1]
        elif body is not None:
            kwargs["data"] = {**body, "csrf_token": form_token(client)}
        refused = want == "login" or (isinstance(want, int) and want >= 400)
        before = world.snapshot() if refused and method == "POST" else None
        response = client.open(path, method=method, **kwargs)
        status = response.status_code
        response.close()
        if want == "login":
            ok = status == 302 and response.headers["Location"].startswith("/login")
        else:
            ok = status == want
        if not ok:
            wrong.append(f"{method} {path}: {status}, expected {want}")
        if before is not None and world.snapshot() != before:
            wrong.append(f"{method} {path}: refused ({status}) but the database changed")
        if path.startswith("/api/") and status >= 400:
            assert set(response.get_json()["error"]) == {"code", "message"}
    assert not wrong, "\n".join(wrong)


def test_a_device_token_writes_only_its_own_presses(world):
    client, device = world.app.test_client(), world.headers("device")
    before = world.snapshot()
    for other in ("kiosk-2", "kiosk-3", "KIOSK-1", "kiosk-1 "):
        response = client.post("/api/v1/presses", headers=device,
                               json=batch([press(99)], device_id=other))
        assert response.status_code in (400, 403), other
    assert world.snapshot() == before
    stored = client.post("/api/v1/presses", headers=device, json=batch([press(99)]))
    assert stored.get_json()["inserted"] == 1 and stored.get_json()["duplicates"] == 0
    presses = world.snapshot()["presses"]
    assert {row[0] for row in presses if row[1] == 99} == {"kiosk-1"}


def test_an_api_token_of_an_admin_cannot_write_either(world, db):
    from hub.store import registry

    token = registry.add_api_token(db, "admin", "2026-01-01T00:00:00.000Z")
    client, headers = world.app.test_client(), {"Authorization": f"Bearer {token}"}
    before = world.snapshot()
    assert client.post("/api/v1/presses", headers=headers, json=batch([press(9)])).status_code \
        == 403
    csrf = form_token(client)
    for path, data in (("/admin/users", {"username": "mallory", "password": "long enough",
                                          "role": "admin"}),
                       ("/alerts/1/acknowledge", {"comment": "x"})):
        response = client.post(path, headers=headers, data={**data, "csrf_token": csrf})
        assert response.status_code == 403, path
    assert client.get("/admin/users", headers=headers).status_code == 403
    assert world.snapshot() == before
    assert client.get("/api/v1/locations", headers=headers).status_code == 200


def test_a_device_token_rotated_on_the_admin_page_is_refused_at_once(world):
    """The page shows the new token once; the old one is a 401 from the next request on,
    and the device goes on with its numbering under the new one."""
    admin, device = world.client("admin"), world.app.test_client()
    page = admin.post("/admin/devices/kiosk-1/token", data={"csrf_token": form_token(admin)})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    new = text.split('<code class="token">', 1)[1].split("</code>", 1)[0]
    assert "The old token no longer works." in text and len(new) >= 43
    old = world.headers("device")
    refused = device.post("/api/v1/presses", headers=old, json=batch([press(6)]))
    assert refused.status_code == 401
    accepted = device.post("/api/v1/presses", headers={"Authorization": f"Bearer {new}"},
                           json=batch([press(6)]))
    assert accepted.status_code == 200 and accepted.get_json()["highest_seq"] == 6
    # Without a CSRF token the form changes nothing.
    before = world.snapshot()
    assert admin.post("/admin/devices/kiosk-1/token", data={}).status_code in (400, 403)
    assert world.snapshot() == before
