"""Operator pages: the overview, a location, alerts. Each view asks hub.reports for plain
data and renders it as HTML, or as CSV with `?format=csv` (what the page shows)."""

from datetime import timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from hub import alerts as alert_rules
from hub import charts, effects, reports
from hub.csvout import csv_lines
from hub.db import get_db, hub_now
from hub.errors import ApiError
from hub.store import alerts as alert_store
from hub.store import registry
from hub.times import parse_date, zone
from hub.web import login_required, operator, safe_next, shown_operator

bp = Blueprint("pages", __name__)

PERIODS = {"today": 1, "7d": 7, "30d": 30}
MAX_COMMENT = 1000


@bp.app_template_filter("when")
def when(text):
    """`2026-11-22T13:05:00+01:00` as `2026-11-22 13:05`; a dash for nothing."""
    return "–" if not text else f"{text[:10]} {text[11:16]}"


@bp.app_template_filter("index")
def index_text(value):
    return "–" if value is None else f"{value:.1f}"


@bp.app_template_filter("index_figure")
def index_figure(entry):
    """A Happy Index with its interval and n beside it (charts.index_parts), its few presses
    marked: `78.2 (74.2–82.3), n = 219`, `100.0, n = 3, few presses`."""
    value, detail = charts.index_parts(entry)
    detail = detail.replace("n = ", "n\u00a0=\u00a0")  # "n = 219" never split over lines
    css = "figure few" if charts.few_presses(entry) else "figure"
    # Concatenated, not Markup.format (several times slower, and the overview has hundreds).
    return Markup(f'<span class="{css}"><span class="value">{escape(value)}</span>'  # noqa: S704  # nosec B704  # both texts escaped
                  f'<span class="ci">{escape(detail)}</span></span>')


@bp.app_context_processor
def page_globals():
    return {"principal": shown_operator, "charts": charts, "mood_labels": charts.MOOD_LABELS,
            "mood_colours": charts.MOOD_COLOURS}


def _csv(filename, columns, rows):
    return Response(csv_lines(columns, rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/")
@login_required
def overview():
    group = request.args.get("group") or None
    report = reports.overview(get_db(), hub_now(), group)
    ranked = request.args.get("ranking")
    ranked = ranked if ranked in PERIODS else "today"
    trends = {entry["slug"]: entry["trend"] for entry in report["locations"]}
    ranking = reports.ranking_recent(get_db(), hub_now(), PERIODS[ranked], group, trends)
    if request.args.get("format") == "csv":
        if request.args.get("table") == "ranking":
            return _csv(f"ranking-{ranked}.csv", reports.RANKING_COLUMNS,
                        reports.ranking_csv_rows(ranking))
        return _csv("overview.csv", reports.OVERVIEW_COLUMNS, reports.overview_csv_rows(report))
    return render_template("overview.html", report=report, ranking=ranking, ranked=ranked)


def _period(today):
    """(period name, first, last, day) from the query string; bad input falls back."""
    period = request.args.get("period", "7d")
    if period == "custom":
        first = parse_date(request.args.get("from"))
        last = parse_date(request.args.get("to"))
        if first is None or last is None or last < first:
            flash("Custom period: choose a 'from' date on or before the 'to' date.")
            period, first, last = "7d", None, None
        elif (last - first).days >= reports.MAX_DAYS:
            flash(f"Custom period: at most {reports.MAX_DAYS} days; showing the last of them.")
            first = last - timedelta(days=reports.MAX_DAYS - 1)
    if period != "custom":
        period = period if period in PERIODS else "7d"
        last = today
        first = today - timedelta(days=PERIODS[period] - 1)
    day = parse_date(request.args.get("day")) or last
    return period, first, last, day


@bp.get("/locations/<slug>")
@login_required
def location(slug):
    db = get_db()
    row = registry.location(db, slug)
    if row is None:
        abort(404)
    today = hub_now().astimezone(zone(row["timezone"])).date()
    period, first, last, day = _period(today)
    report = reports.location_page(db, slug, first, last, day, hub_now())
    table = request.args.get("table")
    if request.args.get("format") == "csv":
        name = f"{slug}-{table}-{first}-{last}.csv"
        if table == "heatmap":
            return _csv(name, reports.HEATMAP_COLUMNS, reports.heatmap_csv_rows(report["heatmap"]))
        if table == "hours":
            return _csv(f"{slug}-hours-{day}.csv", reports.HOURLY_COLUMNS,
                        reports.hourly_csv_rows({"hours": report["day_hours"]}))
        if table == "moods":
            return _csv(name, reports.MOODS_COLUMNS,
                        reports.moods_csv_rows(report["distribution"]))
        if table == "devices":
            return _csv(f"{slug}-devices.csv", reports.DEVICE_COLUMNS,
                        reports.device_csv_rows(report["devices"]))
        if table == "alerts":
            return _csv(f"{slug}-alerts.csv", reports.ALERT_COLUMNS,
                        reports.alert_csv_rows(report["alerts"]))
        return _csv(f"{slug}-daily-{first}-{last}.csv", reports.DAILY_COLUMNS,
                    reports.daily_csv_rows(report["daily"]))
    query = {"period": period, "from": report["from"], "to": report["to"]}
    actions = effects.location_page(db, row, first, last, day, hub_now())
    return render_template("location.html", report=report, period=period, query=query,
                           actions=actions)


@bp.get("/alerts")
@login_required
def alerts():
    show = request.args.get("show", "open")
    entries = reports.alert_list(get_db(), open_only=show != "all")
    if request.args.get("format") == "csv":
        return _csv("alerts.csv", reports.ALERT_COLUMNS, reports.alert_csv_rows(entries))
    return render_template("alerts.html", alerts=entries, show=show)


@bp.post("/alerts/<int:alert_id>/acknowledge")
@login_required
def acknowledge(alert_id):
    db = get_db()
    if alert_store.alert(db, alert_id) is None:
        abort(404)
    comment = request.form.get("comment", "").strip()[:MAX_COMMENT]
    if alert_rules.acknowledge(db, alert_id, operator().name, comment, hub_now()):
        flash(f"Alert {alert_id} acknowledged.")
    else:
        flash(f"Alert {alert_id} was already acknowledged.")
    return redirect(_back())


@bp.post("/alerts/<int:alert_id>/comment")
@login_required
def comment(alert_id):
    text = request.form.get("comment", "").strip()[:MAX_COMMENT]
    if not alert_store.set_comment(get_db(), alert_id, text):
        abort(404)
    flash(f"Comment on alert {alert_id} saved.")
    return redirect(_back())


def _back():
    return safe_next(request.form.get("next") or url_for("pages.alerts"))


@bp.errorhandler(ApiError)
def bad_request(error):
    return render_template("error.html", status=error.status, message=error.message), error.status
