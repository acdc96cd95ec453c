"""For the people and programs that keep the hub running: /healthz and /metrics."""

import logging
import sqlite3
from datetime import timedelta

from flask import Blueprint, Response, current_app, jsonify

from hub import alerts
from hub.db import get_db, hub_now
from hub.store import NotInitialised, health, reads
from hub.times import format_utc

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__)

REJECTION_CODES = ("unauthorized", "forbidden", "unsupported_media_type", "too_large",
                   "invalid_json", "invalid_field", "not_found", "method_not_allowed",
                   "internal_error")


@bp.get("/healthz")
def healthz():
    """200 {"status": "ok"} when the database answers and takes writes, else 503
    {"status": "degraded", "write": reason}: what a load balancer or a monitor acts on."""
    try:
        db = get_db()
        answers = reads.ping(db)
    except (sqlite3.Error, NotInitialised) as error:
        log.warning("health check failed: %s", error)  # the path goes to the log, not out
        answers = False
    problem = (health.write_problem(db, format_utc(hub_now())) if answers
               else "the database does not answer")
    if problem is not None:
        if answers:
            log.warning("health check: the database cannot take writes: %s", problem)
        return jsonify(status="degraded", write=problem), 503
    return jsonify(status="ok")


@bp.get("/metrics")
def metrics():
    """Prometheus text. Counters live in the database, so every gunicorn worker agrees."""
    db = get_db()
    counters = reads.counters(db)
    silent_after = timedelta(seconds=current_app.config["SILENT_AFTER_S"])
    silent = reads.silent_devices(db, format_utc(hub_now() - silent_after))
    lines = [
        "# HELP hub_presses_ingested_total Presses stored (duplicates not counted).",
        "# TYPE hub_presses_ingested_total counter",
        f"hub_presses_ingested_total {counters.get('presses_ingested', 0)}",
        "# HELP hub_presses_duplicate_total Presses received again and not stored twice.",
        "# TYPE hub_presses_duplicate_total counter",
        f"hub_presses_duplicate_total {counters.get('presses_duplicate', 0)}",
        "# HELP hub_write_groups_total Group commits of device writes (one fsync each).",
        "# TYPE hub_write_groups_total counter",
        f"hub_write_groups_total {counters.get('write_groups', 0)}",
        "# HELP hub_write_group_writes_total Device writes (batches, heartbeats) in them.",
        "# TYPE hub_write_group_writes_total counter",
        f"hub_write_group_writes_total {counters.get('write_group_writes', 0)}",
        "# HELP hub_requests_rejected_total Device requests refused, by error code.",
        "# TYPE hub_requests_rejected_total counter",
    ]
    seen = {name.partition(":")[2] for name in counters if name.startswith("rejected:")}
    for code in sorted(set(REJECTION_CODES) | seen):
        lines.append(
            f'hub_requests_rejected_total{{reason="{code}"}} {counters.get("rejected:" + code, 0)}'
        )
    lines += [
        "# HELP hub_devices_silent Devices (not revoked) not heard from for SILENT_AFTER_S.",
        "# TYPE hub_devices_silent gauge",
        f"hub_devices_silent {silent}",
    ]
    life = alerts.life_seconds(db)
    lines += _histogram("hub_alert_seconds_to_acknowledge",
                        "Seconds from an alert opening to its acknowledgement.",
                        life["acknowledge"])
    lines += _histogram("hub_alert_seconds_to_resolve",
                        "Seconds from a negative-feedback alert opening to its resolution.",
                        life["resolve"])
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")


def _histogram(name, text, series):
    """Prometheus histogram lines of *series* {rule: [seconds, ...]}, cumulative buckets."""
    lines = [f"# HELP {name} {text}", f"# TYPE {name} histogram"]
    for rule, values in sorted(series.items()):
        for bound in alerts.LIFE_BUCKETS_S:
            count = sum(v <= bound for v in values)
            lines.append(f'{name}_bucket{{rule="{rule}",le="{bound}"}} {count}')
        lines.append(f'{name}_bucket{{rule="{rule}",le="+Inf"}} {len(values)}')
        lines.append(f'{name}_sum{{rule="{rule}"}} {sum(values)}')
        lines.append(f'{name}_count{{rule="{rule}"}} {len(values)}')
    return lines
