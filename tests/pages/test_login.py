"""Login, logout, CSRF, throttling, safe redirects, roles and security headers."""

import pytest

from hub.app import create_app
from hub.db import close_connections
from hub.store import registry
from tests.pages.conftest import CREATED, PASSWORD, csrf_token, log_in, post_form


@pytest.fixture
def ann(db):
    registry.add_user(db, "ann", PASSWORD, "viewer", CREATED)
    return "ann"


def test_pages_need_a_login_and_come_back_after_it(client, ann, site):
    site.location("ams")
    response = client.get("/locations/ams?period=30d")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    login_page = client.get(response.headers["Location"])
    assert 'value="/locations/ams?period=30d"' in login_page.get_data(as_text=True)
    response = log_in(client, "ann", next_url="/locations/ams?period=30d")
    assert response.status_code == 302
    assert response.headers["Location"] == "/locations/ams?period=30d"
    assert client.get("/locations/ams?period=30d").status_code == 200


def test_a_form_without_its_csrf_token_is_refused(client, ann):
    response = client.post("/login", data={"username": "ann", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    response = client.post("/login", data={"username": "ann", "password": PASSWORD,
                                           "csrf_token": "forged"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # still not logged in


def test_logout_is_a_post_with_csrf(client, ann):
    assert log_in(client, "ann").status_code == 302
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no token: still logged in
    assert client.get("/").status_code == 200
    response = post_form(client, "/", "/logout", {})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_wrong_password_and_unknown_user_look_the_same(client, ann):
    wrong = log_in(client, "ann", "wrong password")
    nobody = log_in(client, "nobody", "wrong password")
    assert wrong.status_code == nobody.status_code == 401
    assert "Wrong username or password." in wrong.get_data(as_text=True)
    assert "Wrong username or password." in nobody.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_failed_logins_are_throttled_per_user_and_address(client, app, ann, clock, db_path):
    for _ in range(5):
        assert log_in(client, "ann", "wrong password").status_code == 401
    # Now even the right password is not checked, for this user from this address ...
    blocked = log_in(client, "ann")
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    # ... but from another address it is (the count is per username and address) ...
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert log_in(other, "ann").status_code == 302
    # ... and the count lives in the database: another app (another gunicorn worker) sees it.
    worker = create_app({"DATABASE": str(db_path), "CLOCK": clock})
    try:
        assert log_in(worker.test_client(), "ann").status_code == 429
    finally:
        close_connections(worker)
    clock.advance(minutes=16)
    assert log_in(client, "ann").status_code == 302


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example",
    "http:/evil.example", "javascript:alert(1)", "/%0d%0aSet-Cookie:x", "evil.example",
])
def test_next_never_leaves_the_site(client, ann, target):
    response = log_in(client, "ann", next_url=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location in ("/", "/%0d%0aSet-Cookie:x"), location
    assert "evil" not in location


def test_a_viewer_cannot_reach_admin_pages(viewer, site):
    site.location("ams")
    for path in ("/admin/", "/admin/locations", "/admin/locations/ams", "/admin/devices",
                 "/admin/users", "/admin/webhooks"):
        assert viewer.get(path).status_code == 403, path
    token = csrf_token(viewer.get("/"))
    response = viewer.post("/admin/users", data={"username": "eve", "password": "x" * 12,
                                                 "role": "admin", "csrf_token": token})
    assert response.status_code == 403
    assert "Admin" not in viewer.get("/").get_data(as_text=True).split("<main>")[0]


def test_a_device_token_cannot_see_pages(client, site):
    site.location("ams")
    kiosk = site.device("kiosk-1", "ams")
    assert client.get("/", headers=kiosk).status_code == 403


def test_security_headers_and_cookie_flags(client, ann):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    cookie = log_in(client, "ann").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_behind_https_the_cookie_is_secure(db_path, clock, db):
    registry.add_user(db, "ann", PASSWORD, "viewer", CREATED)
    app = create_app({"DATABASE": str(db_path), "CLOCK": clock, "SESSION_COOKIE_SECURE": True,
                      "TRUSTED_PROXIES": 1})
    try:
        client = app.test_client()
        https = {"X-Forwarded-Proto": "https"}
        token = csrf_token(client.get("/login", headers=https))
        response = client.post("/login", headers={**https, "Referer": "https://localhost/"},
                               data={"username": "ann", "password": PASSWORD,
                                     "csrf_token": token})
        assert response.status_code == 302
        assert "Secure" in response.headers["Set-Cookie"]
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        close_connections(app)


def test_the_json_api_needs_no_csrf_token(client, site):
    from tests.hub.helpers import press, send

    site.location("ams")
    kiosk = site.device("kiosk-1", "ams")
    answer = send(client, kiosk, [press(1)]).json
    assert (answer["inserted"], answer["duplicates"]) == (1, 0)
