"""Fixtures for the hub: an initialised database, the app with a fake clock, a client, the CLI."""

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from hub.app import create_app
from hub.cli import cli
from hub.db import close_connections
from hub.store import Database, registry

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class FakeClock:
    """The hub's clock in tests: stands still until told otherwise."""

    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now

    def set(self, text):
        self.now = datetime.fromisoformat(text)

    def advance(self, **kwargs):
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "hub.db"
    db = Database(path)
    db.migrate("2026-01-01T00:00:00.000Z")
    registry.ensure_secret_key(db)
    db.close()
    return path


@pytest.fixture
def db(db_path):
    db = Database(db_path)
    yield db
    db.close()


@pytest.fixture
def app(db_path, clock):
    app = create_app({"DATABASE": str(db_path), "TESTING": True, "CLOCK": clock})
    yield app
    close_connections(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def hub_cli(runner, db_path):
    """Run `hub --db <the test database> ARGS...`."""

    def run(*args, input=None):
        return runner.invoke(cli, ["--db", str(db_path), *args], input=input)

    return run


class Site:
    """Locations, devices and tokens set up through the library, as an operator would."""

    def __init__(self, db):
        self.db = db

    def location(self, slug="ams", timezone="Europe/Amsterdam"):
        registry.add_location(self.db, slug, slug.upper(), timezone, None,
                              "2026-01-01T00:00:00.000Z")
        return slug

    def device(self, device_id="kiosk-1", slug="ams"):
        return {"Authorization": "Bearer " + registry.add_device(
            self.db, device_id, slug, "2026-01-01T00:00:00.000Z")}

    def reader(self, username="ann"):
        registry.add_user(self.db, username, "correct horse", "viewer", "2026-01-01T00:00:00.000Z")
        return {"Authorization": "Bearer " + registry.add_api_token(
            self.db, username, "2026-01-01T00:00:00.000Z")}


@pytest.fixture
def site(db):
    return Site(db)
