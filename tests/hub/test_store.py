"""The database: pragmas set where it is opened, migrations, secrets kept only as hashes."""

import sqlite3

import pytest

from hub.store import Database, NotInitialised, registry
from hub.store.schema import MIGRATIONS


def test_pragmas_are_set_on_every_connection(db_path):
    db = Database(db_path)
    assert db.pragma("journal_mode") == "wal"
    assert db.pragma("foreign_keys") == 1
    assert db.pragma("busy_timeout") == 5000
    assert db.pragma("synchronous") == 2  # FULL
    db.close()


def test_a_connection_passed_in_gets_the_same_pragmas(tmp_path):
    db = Database(sqlite3.connect(tmp_path / "x.db"))
    assert (db.pragma("foreign_keys"), db.pragma("journal_mode")) == (1, "wal")


def test_foreign_keys_are_enforced(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO devices (device_id, location_id, token_hash, created_at)"
                   " VALUES ('k', 42, 'h', 'now')")


def test_migrations_are_idempotent(db_path):
    db = Database(db_path)
    assert db.schema_version() == len(MIGRATIONS)
    assert db.migrate("2026-02-02T00:00:00.000Z") == []
    assert db.row("SELECT count(*) FROM schema_migrations")[0] == len(MIGRATIONS)
    db.close()


def test_a_database_of_an_older_hub_is_migrated_keeping_its_data(tmp_path, monkeypatch):
    """A hub of the previous schema version (before `parked`) with a device and its state:
    init-db's migrate adds what is new and keeps every row."""
    from hub.store import database

    path = tmp_path / "old.db"
    monkeypatch.setattr(database, "MIGRATIONS", MIGRATIONS[:-1])
    old = Database(path)
    old.migrate("2026-01-01T00:00:00.000Z")
    registry.add_location(old, "ams", "AMS", "Europe/Amsterdam", None,
                          "2026-01-01T00:00:00.000Z")
    registry.add_device(old, "kiosk-1", "ams", "2026-01-01T00:00:00.000Z")
    old.execute("INSERT INTO device_state (device_id, queued, version) VALUES"
                " ('kiosk-1', 5, '0.1.0')")
    assert old.schema_version() == len(MIGRATIONS) - 1
    old.close()
    monkeypatch.undo()
    db = Database(path)
    assert db.migrate("2026-02-02T00:00:00.000Z") == [MIGRATIONS[-1][0]]
    assert db.schema_version() == len(MIGRATIONS)
    state = db.row("SELECT * FROM device_state WHERE device_id = 'kiosk-1'")
    assert (state["queued"], state["version"], state["parked"]) == (5, "0.1.0", None)
    assert db.row("PRAGMA integrity_check")[0] == "ok"
    db.close()


def test_an_uninitialised_database_is_refused(tmp_path):
    with pytest.raises(NotInitialised, match="hub init-db"):
        Database.open_existing(tmp_path / "missing.db")
    Database(tmp_path / "empty.db").close()
    with pytest.raises(NotInitialised, match="schema version 0"):
        Database.open_existing(tmp_path / "empty.db")


def test_a_failed_transaction_leaves_nothing(db):
    with pytest.raises(sqlite3.IntegrityError), db.atomic():
        db.execute("INSERT INTO settings (key, value) VALUES ('a', '1')")
        db.execute("INSERT INTO settings (key, value) VALUES ('a', '2')")
    assert db.row("SELECT * FROM settings WHERE key = 'a'") is None


def test_the_secret_key_is_random_and_kept(tmp_path, db):
    key = registry.secret_key(db)
    assert len(key) == 64
    assert registry.ensure_secret_key(db) == key
    other = Database(tmp_path / "other.db")
    other.migrate("2026-01-01T00:00:00.000Z")
    assert registry.ensure_secret_key(other) != key


def test_tokens_are_kept_only_as_hashes(db):
    registry.add_location(db, "ams", "A", "Europe/Amsterdam", None, "t")
    token = registry.add_device(db, "k", "ams", "t")
    assert len(token) >= 43  # 256 bits, url-safe base64
    dump = "\n".join(db.conn.iterdump())
    assert token not in dump
    assert registry.token_hash(token) in dump
    assert registry.bearer(db, token) == ("device", "k", None)
    registry.revoke_device(db, "k", "t2")
    assert registry.bearer(db, token) is None


def test_passwords_are_kept_with_a_slow_hash(db):
    registry.add_user(db, "ann", "correct horse", "viewer", "t")
    stored = db.row("SELECT password_hash FROM users")[0]
    assert stored.startswith(("scrypt:", "pbkdf2:"))
    assert "correct horse" not in stored
