"""The database of the current request (flaskr's `get_db`), closed when the request ends."""

from flask import current_app, g

from hub.store import Database


def get_db():
    if "db" not in g:
        g.db = Database.open_existing(current_app.config["DATABASE"])
    return g.db


def close_db(exception=None):
    db = g.pop("db", None)
    if db is not None:
        db.close()


def hub_now():
    """The hub's clock: `CLOCK` in the app config (tests set it), else the system clock."""
    return current_app.config["CLOCK"]()
