"""Admin pages (role admin; a viewer gets 403): locations with their alert thresholds,
devices (a new token is shown once), users, webhooks and their delivery log."""

import re
import subprocess
import sys

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from hub import webhooks
from hub.cli import MIN_PASSWORD, SLUG, USERNAME
from hub.db import get_db, hub_now
from hub.hours import BadHours, OpeningHours
from hub.negative_feedback import RULES
from hub.payloads import DEVICE_ID
from hub.store import Conflict, registry
from hub.store import alerts as alert_store
from hub.store import webhooks as webhook_store
from hub.times import format_utc, zone
from hub.web import admin_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLES = ("viewer", "admin")
RECOUNT_TIMEOUT_S = 3600  # a time zone change of a location with (many) millions of presses


class Invalid(ValueError):
    """A form field with a value the hub cannot take; the message says which and why."""


@bp.before_request
@admin_required
def only_admins():
    return None


@bp.errorhandler(Invalid)
@bp.errorhandler(Conflict)
def refused(error):
    flash(str(error), "error")
    return redirect(request.referrer if _same_site(request.referrer) else url_for(".locations"))


def _same_site(url):
    return bool(url) and url.startswith(request.host_url)


def _now():
    return format_utc(hub_now())


def _field(name, pattern=None, required=True, limit=200):
    value = request.form.get(name, "").strip()
    if required and not value:
        raise Invalid(f"{name}: required")
    if len(value) > limit:
        raise Invalid(f"{name}: at most {limit} characters")
    if value and pattern is not None and not pattern.fullmatch(value):
        raise Invalid(f"{name}: {value!r} is not allowed here")
    return value


def _location_fields():
    timezone = _field("timezone", limit=64)
    if zone(timezone) is None:
        raise Invalid(f"timezone: {timezone!r} is not an IANA time zone (like Europe/Amsterdam)")
    hours = _field("hours", required=False) or None
    if hours:
        try:
            OpeningHours.parse(hours)
        except BadHours as error:
            raise Invalid(f"hours: {error}") from None
    return _field("name"), timezone, hours, _field("group", required=False, limit=64) or None


def _number(name, low, high):
    text = request.form.get(name, "").strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise Invalid(f"{name}: expected a whole number {low}-{high}")
    return int(text)


def _choice(name, allowed, missing):
    value = request.form.get(name, missing)
    if value not in allowed:
        raise Invalid(f"{name}: expected one of {', '.join(allowed)}")
    return value


# Locations


@bp.get("/")
def index():
    return redirect(url_for(".locations"))


@bp.get("/locations")
def locations():
    db = get_db()
    return render_template("admin/locations.html", locations=registry.locations(db),
                           thresholds=alert_store.settings(db))


@bp.post("/locations")
def location_add():
    slug = _field("slug", SLUG, limit=64)
    name, timezone, hours, group = _location_fields()
    registry.add_location(get_db(), slug, name, timezone, hours, _now(), group)
    flash(f"Location {slug} added.")
    return redirect(url_for(".location_edit", slug=slug))


@bp.route("/locations/<slug>", methods=["GET", "POST"])
def location_edit(slug):
    db = get_db()
    row = registry.location(db, slug)
    if row is None:
        abort(404)
    if request.method == "POST":
        name, timezone, hours, group = _location_fields()
        limits = {"window_s": 60 * _number("window_min", 1, 1440),
                  "min_presses": _number("min_presses", 1, 100000),
                  "share_pct": _number("share_pct", 1, 100),
                  "silent_after_s": 60 * _number("silent_after_min", 1, 10080),
                  # A form without the choice (an older page, a script) keeps the rule.
                  "rule": _choice("rule", RULES, alert_store.settings(db)[row["id"]]["rule"])}
        if timezone == row["timezone"]:
            recounted = registry.update_location(db, slug, name, timezone, hours, group)
        else:
            recounted = _recount_in_own_process(slug, name, timezone, hours, group)
        alert_store.save_settings(db, row["id"], limits)
        if recounted is not None:
            flash(f"Location {slug} saved; its {recounted[0]:,} presses are counted in the "
                  f"hours of {timezone} now.")
        else:
            flash(f"Location {slug} saved.")
        return redirect(url_for(".location_edit", slug=slug))
    return render_template("admin/location.html", location=row,
                           limits=alert_store.settings(db)[row["id"]])


def _recount_in_own_process(slug, name, timezone, hours, group):
    """registry.update_location run by `hub location edit` in a process of its own: the
    recount is seconds of Python per million presses, which in this worker would hold the
    GIL against the kiosks' batches it serves (p99 ingest 8 ms -> 750 ms, measured).
    (presses, hours) recounted."""
    done = subprocess.run(
        [sys.executable, "-m", "hub", f"--db={current_app.config['DATABASE']}", "location",
         "edit", f"--name={name}", f"--timezone={timezone}", f"--hours={hours or ''}",
         f"--group={group or ''}", "--", slug],
        capture_output=True, text=True, timeout=RECOUNT_TIMEOUT_S)
    if done.returncode != 0:
        raise Conflict(done.stderr.strip().removeprefix("Error: ") or "the recount failed")
    counted = re.search(r"recounted (\d+) presses into (\d+) hourly rollups", done.stdout)
    return (int(counted[1]), int(counted[2])) if counted else None


# Devices


@bp.get("/devices")
def devices():
    db = get_db()
    return render_template("admin/devices.html", devices=registry.devices(db),
                           locations=registry.locations(db), token=None)


@bp.post("/devices")
def device_add():
    device_id = _field("device_id", DEVICE_ID, limit=64)
    slug = _field("location", limit=64)
    db = get_db()
    token = registry.add_device(db, device_id, slug, _now())
    # Shown once, in this response only (never stored, never redirected with).
    return render_template("admin/devices.html", devices=registry.devices(db),
                           locations=registry.locations(db), token=token,
                           new_device=device_id)


@bp.post("/devices/<device_id>/revoke")
def device_revoke(device_id):
    registry.revoke_device(get_db(), device_id, _now())
    flash(f"Device {device_id} revoked: its token no longer works.")
    return redirect(url_for(".devices"))


@bp.post("/devices/<device_id>/token")
def device_rotate_token(device_id):
    db = get_db()
    token = registry.rotate_device_token(db, device_id)
    # As for a new device: shown once, in this response only.
    return render_template("admin/devices.html", devices=registry.devices(db),
                           locations=registry.locations(db), token=token,
                           new_device=device_id, rotated=True)


@bp.post("/devices/<device_id>/move")
def device_move(device_id):
    slug = _field("location", limit=64)
    registry.move_device(get_db(), device_id, slug, _now())
    flash(f"Device {device_id} moved to {slug}; its presses from now on count there.")
    return redirect(url_for(".devices"))


# Users


@bp.get("/users")
def users():
    return render_template("admin/users.html", users=registry.users(get_db()), roles=ROLES)


@bp.post("/users")
def user_add():
    username = _field("username", USERNAME, limit=64)
    password = request.form.get("password", "")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password: at least {MIN_PASSWORD} characters")
    role = _role()
    registry.add_user(get_db(), username, password, role, _now())
    flash(f"User {username} added ({role}).")
    return redirect(url_for(".users"))


@bp.post("/users/<username>/role")
def user_role(username):
    role = _role()
    registry.set_role(get_db(), username, role)
    flash(f"{username} is now {role}.")
    return redirect(url_for(".users"))


def _role():
    role = request.form.get("role", "")
    if role not in ROLES:
        raise Invalid("role: expected viewer or admin")
    return role


# Webhooks


@bp.get("/webhooks")
def webhook_list():
    db = get_db()
    return render_template("admin/webhooks.html", webhooks=webhook_store.webhooks(db),
                           deliveries=webhook_store.deliveries(db),
                           locations=registry.locations(db), secret=None)


@bp.post("/webhooks")
def webhook_add():
    url = _field("url", limit=500)
    if not url.startswith(("http://", "https://")):
        raise Invalid("url: expected an http:// or https:// address")
    db = get_db()
    slug = request.form.get("location", "")
    location_id = None
    if slug:
        row = registry.location(db, slug)
        if row is None:
            raise Invalid(f"location: no location {slug!r}")
        location_id = row["id"]
    secret = webhooks.new_secret()
    webhook_store.add(db, url, location_id, secret, _now())
    # The secret is shown once, for the receiver's configuration.
    return render_template("admin/webhooks.html", webhooks=webhook_store.webhooks(db),
                           deliveries=webhook_store.deliveries(db),
                           locations=registry.locations(db), secret=secret, new_url=url)


@bp.post("/webhooks/<int:webhook_id>/delete")
def webhook_delete(webhook_id):
    if not webhook_store.delete(get_db(), webhook_id, _now()):
        abort(404)
    flash(f"Webhook {webhook_id} deleted.")
    return redirect(url_for(".webhook_list"))
