"""`/login` and `/logout`: a password checked by the registry, the user id in the session.

Failed logins are counted per (username, client address) in the database, so the limit holds
across gunicorn workers: after MAX_FAILURES within FAILURE_WINDOW, that pair gets a 429 until
the window has passed, without the password being checked.
"""

from datetime import timedelta

from flask import Blueprint, redirect, render_template, request, session, url_for

from hub.db import get_db, hub_now
from hub.store import logins, registry
from hub.times import format_utc
from hub.web import operator, safe_next

bp = Blueprint("login", __name__)

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if operator() is not None:
            return redirect(target)
        return render_template("login.html", next=target, error=None)
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")
    address = request.remote_addr or "-"
    db, now = get_db(), hub_now()
    since = format_utc(now - FAILURE_WINDOW)
    if logins.recent_failures(db, username, address, since) >= MAX_FAILURES:
        error = "Too many failed attempts. Wait 15 minutes, then try again."
        return render_template("login.html", next=target, error=error, username=username), 429
    row = registry.check_user_password(db, username, password)
    if row is None:
        logins.record_failure(db, username, address, format_utc(now),
                              format_utc(now - 2 * FAILURE_WINDOW))
        error = "Wrong username or password."
        return render_template("login.html", next=target, error=error, username=username), 401
    logins.clear_failures(db, username, address)
    session.clear()  # a fresh session: nothing from before the login survives
    session["user_id"] = row["id"]
    return redirect(target)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("login.login"))
