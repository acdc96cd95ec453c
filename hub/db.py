"""The database of the current request (flaskr's `get_db`).

Each thread of a worker keeps its connection open between requests: opening one, and the
checkpoint SQLite does when the last connection to a database closes, would cost more than
storing a batch. `close_connections(app)` closes them all (tests, shutdown). Device writes
go through the process's group writer (`write`), which has a connection of its own.
"""

import threading

from flask import current_app, g

from hub.store import Database
from hub.store.writer import GroupWriter


class Connections:
    """One open Database per (thread, path), and the list of them all for closing."""

    def __init__(self):
        self.local = threading.local()
        self.lock = threading.Lock()
        self.opened = []

    def get(self, path):
        mine = self.local.__dict__.setdefault("by_path", {})
        db = mine.get(path)
        if db is None:
            db = mine[path] = Database.open_existing(path)
            with self.lock:
                self.opened.append(db)
        elif db.conn.in_transaction:  # never inherit a half-done transaction
            db.execute("ROLLBACK")
        return db

    def close_all(self):
        with self.lock:
            for db in self.opened:
                db.close()
            self.opened.clear()
        self.local = threading.local()


def init_app(app):
    app.extensions["hub_connections"] = Connections()
    app.extensions["hub_writer"] = GroupWriter(app.config["DATABASE"])


def get_db():
    if "db" not in g:
        g.db = current_app.extensions["hub_connections"].get(current_app.config["DATABASE"])
    return g.db


def write(fn):
    """Run fn(db) in the hub process's next group commit (hub.store.writer); its result."""
    return current_app.extensions["hub_writer"].write(fn)


def close_connections(app):
    app.extensions["hub_writer"].close()
    app.extensions["hub_connections"].close_all()


def hub_now():
    """The hub's clock: `CLOCK` in the app config (tests set it), else the system clock."""
    return current_app.config["CLOCK"]()
