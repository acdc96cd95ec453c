"""Read endpoints: locations, hourly counts, the ranking and raw presses (JSON or CSV)."""

from flask import Response, current_app, jsonify, request

from hub import reports
from hub.auth import require_reader
from hub.csvout import csv_lines
from hub.db import get_db, hub_now
from hub.errors import invalid_field
from hub.store import Database
from hub.times import FIRST_YEAR, LAST_YEAR, parse_date

MAX_LIMIT = 10000


def get_locations():
    require_reader()
    return jsonify(reports.locations_today(get_db(), hub_now()))


def get_hourly(slug):
    require_reader()
    csv = _wants_csv()
    first, last = _date_param("from"), _date_param("to")
    report = reports.hourly(get_db(), slug, first, last, _flag("include_misuse"))
    if csv:
        return _csv_response(
            f"{slug}-hourly-{first}-{last}.csv",
            reports.HOURLY_COLUMNS,
            reports.hourly_csv_rows(report),
        )
    return jsonify(report)


def get_ranking():
    require_reader()
    first, last = _date_param("from"), _date_param("to")
    group = request.args.get("group") or None
    return jsonify(reports.ranking(get_db(), first, last, group))


def get_presses():
    require_reader()
    csv = _wants_csv()
    slug = request.args.get("location")
    if not slug:
        raise invalid_field("location", "a location slug", slug, missing=slug is None)
    first, last = _date_param("from"), _date_param("to")
    limit = _limit()
    db = get_db()
    query = reports.press_query(db, slug, first, last, request.args.get("device"),
                                _flag("include_misuse"))
    if csv:
        # CSV has no pages: it streams every row of the query, on its own connection
        # because the request's is closed once the view returns.
        return _csv_response(
            f"{slug}-presses-{first}-{last}.csv",
            reports.PRESS_COLUMNS,
            reports.press_csv_rows(_stream_presses(current_app.config["DATABASE"], query)),
        )
    return jsonify(reports.press_page(db, query, request.args.get("after"), limit))


def _stream_presses(path, query):
    db = Database.open_existing(path)
    try:
        yield from reports.all_presses(db, query)
    finally:
        db.close()


def _csv_response(filename, columns, rows):
    return Response(
        csv_lines(columns, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _wants_csv():
    value = request.args.get("format", "json")
    if value not in ("json", "csv"):
        raise invalid_field("format", '"json" or "csv"', value)
    return value == "csv"


def _date_param(name):
    value = request.args.get(name)
    parsed = parse_date(value)
    if parsed is None:
        raise invalid_field(name, f"a date YYYY-MM-DD (years {FIRST_YEAR}-{LAST_YEAR})", value,
                            missing=value is None)
    return parsed


def _flag(name):
    value = request.args.get(name, "0")
    if value not in ("0", "1", "true", "false"):
        raise invalid_field(name, "1 or 0", value)
    return value in ("1", "true")


def _limit():
    value = request.args.get("limit", "1000")
    if not (value.isascii() and value.isdigit() and len(value) <= 5) or not (
        1 <= int(value) <= MAX_LIMIT
    ):
        raise invalid_field("limit", f"an integer 1-{MAX_LIMIT}", value)
    return int(value)
