"""The Flask application factory: `create_app()` (gunicorn: `hub.app:create_app()`).

Configuration comes from HUB_-prefixed environment variables (HUB_DATABASE, ...), then from
*test_config*. The secret key is the one `hub init-db` generated and stored in the database.
"""

import logging
import sqlite3

from flask import Flask, request

from hub import action_pages, admin, api, login, ops, pages, web
from hub import db as connections
from hub.db import get_db
from hub.errors import error_response, register_error_handlers
from hub.store import Database, NotInitialised, registry
from hub.store import ingest as store_ingest
from hub.store.writer import WriterBusy
from hub.times import system_clock

log = logging.getLogger(__name__)

DEFAULTS = {
    "DATABASE": "hub.db",
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # 1 MiB, the contract's limit for a batch
    "MAX_PRESSES": 1000,
    "SILENT_AFTER_S": 15 * 60,
    "CLOCK": system_clock,  # tests put a fake clock here
    "SECRET_KEY": None,  # nosec B105  # not a password: None means "the one init-db stored"
}


def create_app(test_config=None):
    app = Flask(__name__)
    app.json.sort_keys = False  # keys in the order the contract lists them
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("HUB")
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _stored_secret_key(app.config["DATABASE"])

    connections.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(login.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(action_pages.bp)
    app.register_blueprint(admin.bp)
    web.init_app(app, api.bp)
    register_error_handlers(app, on_api_error=_count_rejection)
    app.register_error_handler(NotInitialised, _not_initialised)
    app.register_error_handler(sqlite3.OperationalError, _database_busy)
    app.register_error_handler(WriterBusy, _database_busy)
    return app


def _stored_secret_key(path):
    try:
        db = Database.open_existing(path)
    except (NotInitialised, sqlite3.Error) as error:
        log.warning("no secret key, so no sessions: %s", error)
        return None
    try:
        return registry.secret_key(db)
    finally:
        db.close()


def _not_initialised(error):
    log.error("%s", error)
    return error_response(503, "unavailable", "the hub's database is not initialised")


# SQLite's primary result codes that mean "cannot write now", each said as it is.
_WRITE_TROUBLE = {13: "the hub's disk is full", 10: "the hub's database had an I/O error",
                  8: "the hub's database is read-only"}


def _database_busy(error):
    # Locked past busy_timeout, disk full, I/O error: the client should retry later.
    log.warning("database error on %s %s: %s", request.method, request.path, error)
    code = getattr(error, "sqlite_errorcode", None)
    what = _WRITE_TROUBLE.get(code & 0xFF if code is not None else None,
                              "the hub's database is busy")
    response = error_response(503, "unavailable", f"{what}; retry later")
    response.headers["Retry-After"] = "5"
    return response


def _count_rejection(code):
    """Count refused device requests by code, in the database so all workers add up."""
    if request.endpoint not in api.DEVICE_ENDPOINTS:
        return
    try:
        store_ingest.count(get_db(), "rejected:" + code)
    except (sqlite3.Error, NotInitialised) as error:
        log.warning("could not count a rejected request (%s): %s", code, error)
