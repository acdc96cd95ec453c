"""Fixtures for the operator pages: the hub's app, client and clock, and logged-in operators."""

import re

import pytest

from hub.store import registry
from tests.hub import conftest as hub_fixtures

# The hub's own fixtures: an initialised database, the app with a FakeClock, a client, the CLI.
app, client, clock = hub_fixtures.app, hub_fixtures.client, hub_fixtures.clock
db, db_path, site = hub_fixtures.db, hub_fixtures.db_path, hub_fixtures.site
runner, hub_cli = hub_fixtures.runner, hub_fixtures.hub_cli

PASSWORD = "correct horse battery"
CREATED = "2026-01-01T00:00:00.000Z"


def csrf_token(response):
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(client, username, password=PASSWORD, next_url=None):
    token = csrf_token(client.get("/login"))
    data = {"username": username, "password": password, "csrf_token": token}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data=data)


def post_form(client, page, action, data):
    """POST *data* to *action* with the CSRF token of *page*, as a browser would."""
    return client.post(action, data={**data, "csrf_token": csrf_token(client.get(page))})


@pytest.fixture
def admin(db, client):
    registry.add_user(db, "ada", PASSWORD, "admin", CREATED)
    response = log_in(client, "ada")
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def viewer(db, client):
    registry.add_user(db, "vic", PASSWORD, "viewer", CREATED)
    assert log_in(client, "vic").status_code == 302
    return client

