"""Fixtures for the security suite: a hub with one of every kind of caller.

`world` holds a location with stored presses, an open alert, a webhook, and the credentials
of the six callers of the auth matrix: anonymous, viewer, admin (logged-in sessions), a
device token, a revoked device token, an API token.
"""

import json
import sqlite3
from dataclasses import dataclass, field

import pytest

from hub.store import actions as action_store
from hub.store import alerts as alert_store
from hub.store import registry
from hub.store import webhooks as webhook_store
from tests.hub import conftest as hub_fixtures
from tests.hub.helpers import batch, press
from tests.pages.conftest import CREATED, PASSWORD, csrf_token, log_in

app, client, clock = hub_fixtures.app, hub_fixtures.client, hub_fixtures.clock
db, db_path, site = hub_fixtures.db, hub_fixtures.db_path, hub_fixtures.site
runner = hub_fixtures.runner

CALLERS = ("anonymous", "viewer", "admin", "device", "revoked", "api")

# Tables whose rows a refused request must leave alone (login_failures and counters may grow).
DATA_TABLES = ("locations", "devices", "device_locations", "presses", "device_state", "users",
               "api_tokens", "rollups", "alerts", "alert_settings", "webhooks",
               "webhook_deliveries", "actions")


@dataclass
class World:
    app: object
    db_path: str
    tokens: dict = field(default_factory=dict)  # caller -> bearer token
    alert_id: int = 0
    webhook_id: int = 0

    def client(self, caller):
        """A test client acting as *caller*: a logged-in session or a bearer token."""
        client = self.app.test_client()
        if caller in ("viewer", "admin"):
            assert log_in(client, caller).status_code == 302
        return client

    def headers(self, caller):
        token = self.tokens.get(caller)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def snapshot(self):
        """Every row of every data table, to show that a refused request changed nothing."""
        return table_snapshot(self.db_path)


def table_snapshot(path):
    conn = sqlite3.connect(path)
    try:
        return {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608
                for table in DATA_TABLES}
    finally:
        conn.close()


@pytest.fixture
def world(app, db, db_path, site):
    site.location("ams")
    site.location("ber", timezone="Europe/Berlin")
    registry.add_user(db, "viewer", PASSWORD, "viewer", CREATED)
    registry.add_user(db, "admin", PASSWORD, "admin", CREATED)
    tokens = {
        "device": registry.add_device(db, "kiosk-1", "ams", CREATED),
        "revoked": registry.add_device(db, "kiosk-2", "ams", CREATED),
        "api": registry.add_api_token(db, "viewer", CREATED),
    }
    registry.add_device(db, "kiosk-3", "ber", CREATED)
    client = app.test_client()
    sent = client.post("/api/v1/presses", headers={"Authorization": "Bearer " + tokens["revoked"]},
                       json=batch([press(1, 1), press(2, 2)], device_id="kiosk-2"))
    assert sent.status_code == 200, sent.json
    registry.revoke_device(db, "kiosk-2", CREATED)
    sent = client.post("/api/v1/presses", headers={"Authorization": "Bearer " + tokens["device"]},
                       json=batch([press(seq, 1 + seq % 4) for seq in range(1, 6)]))
    assert sent.status_code == 200, sent.json
    row = db.row("SELECT id FROM locations WHERE slug = 'ams'")
    alert_id = alert_store.raise_alert(db, row[0], "negative_feedback", "",
                                       "2026-11-22T11:00:00.000Z",
                                       json.dumps({"window_s": 900, "presses": 5, "negative": 4,
                                                   "share_pct": 80}))
    webhook_id = webhook_store.add(db, "https://hooks.example.org/kiosk", None, "s3cret-hook",
                                   CREATED)
    action_store.add(db, row[0], "Second scanner opened", "", "2026-11-15T07:00:00.000Z", None,
                     "admin", CREATED, alert_id)  # action 1
    return World(app, str(db_path), tokens, alert_id, webhook_id)


def form_token(client):
    """A CSRF token of *client*'s session: from /login, or from the overview's logout form
    once logged in (/login then redirects). Fetched without credentials headers."""
    page = client.get("/login")
    if page.status_code == 302:
        page = client.get("/")
    return csrf_token(page)
