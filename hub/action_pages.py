"""Action pages: record what was done at a location (any logged-in operator, viewer or
admin), list a location's actions, and an action's effect before and after. The data comes
from hub.effects; these views only render it, as HTML or as CSV (`?format=csv`)."""

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from hub import effects
from hub.csvout import csv_lines
from hub.db import get_db, hub_now
from hub.errors import ApiError
from hub.store import actions as action_store
from hub.store import registry
from hub.times import parse_timestamp, zone
from hub.web import login_required, operator

bp = Blueprint("actions", __name__)


def _location(slug):
    row = registry.location(get_db(), slug)
    if row is None:
        abort(404)
    return row


def _csv(filename, columns, rows):
    return Response(csv_lines(columns, rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/locations/<slug>/actions")
@login_required
def location_actions(slug):
    location = _location(slug)
    listed = effects.all_at_location(get_db(), location, hub_now())
    if request.args.get("format") == "csv":
        return _csv(f"{slug}-actions.csv", effects.ACTION_COLUMNS,
                    effects.action_csv_rows(listed))
    return render_template("actions.html", location=location, actions=listed,
                           days=effects.DEFAULT_DAYS, form=_blank_form(location))


@bp.get("/locations/<slug>/actions/new")
@login_required
def new_action(slug):
    """The form alone; from an alert ("record what was done") it comes with the alert."""
    location = _location(slug)
    form = _blank_form(location)
    alert = None
    try:
        alert_id = effects.parse_alert_id(request.args.get("alert"))
    except effects.BadAction:
        alert_id = None
    if alert_id is not None:
        if action_store.alert_location_id(get_db(), alert_id) != location["id"]:
            abort(404)
        alert = _alert(alert_id, location)
        form["alert"] = str(alert_id)
    return render_template("action_new.html", location=location, form=form, alert=alert)


@bp.post("/locations/<slug>/actions")
@login_required
def record(slug):
    location = _location(slug)
    form = {key: request.form.get(key, "") for key in ("title", "at", "until", "note",
                                                       "alert")}
    db = get_db()
    try:
        action_id = effects.record(
            db, slug, title=form["title"], at=form["at"], until=form["until"],
            note=form["note"], alert_id=effects.parse_alert_id(form["alert"]),
            created_by=operator().name, now=hub_now())
    except effects.BadAction as error:
        alert = None
        if form["alert"].isdigit() and action_store.alert_location_id(
                db, int(form["alert"])) == location["id"]:
            alert = _alert(int(form["alert"]), location)
        flash(f"{FIELD_NAMES.get(error.field, error.field)}: {error.detail}", "error")
        return render_template("action_new.html", location=location, form=form,
                               alert=alert), 400
    flash(f"Action recorded: {' '.join(form['title'].split())}.")
    return redirect(url_for(".action", action_id=action_id))


FIELD_NAMES = {"title": "What was done", "at": "Started", "until": "Ended", "note": "Note",
               "alert": "Alert"}


def _blank_form(location):
    tz = zone(location["timezone"])
    return {"title": "", "at": effects.local_input(hub_now(), tz), "until": "", "note": "",
            "alert": ""}


def _alert(alert_id, location):
    found = action_store.alert_summary(get_db(), alert_id)
    tz = zone(location["timezone"])
    return {"id": alert_id, "rule": found["rule"],
            "opened_at": effects.local_iso(parse_timestamp(found["opened_at"]), tz)}


@bp.get("/actions/<int:action_id>")
@login_required
def action(action_id):
    days = request.args.get("days")
    try:
        days = effects.check_days(days)
    except ApiError:
        flash(f"Window: choose {', '.join(map(str, effects.WINDOW_DAYS))} days; showing "
              f"{effects.DEFAULT_DAYS}.", "error")
        days = effects.DEFAULT_DAYS
    try:
        page = effects.action_page(get_db(), action_id, days, hub_now())
    except ApiError as error:
        if error.status == 404:
            abort(404)
        raise
    if request.args.get("format") == "csv":
        return _csv(f"action-{action_id}-{days}d.csv", effects.EFFECT_COLUMNS,
                    effects.effect_csv_rows(page["effect"]))
    return render_template("action.html", page=page, days=days)
