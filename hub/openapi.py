"""The OpenAPI 3 document of the hub's HTTP API, served at /api/v1/openapi.json.

Written by hand from the contract (docs/hub.md) and kept honest by tests/security: real
responses are validated against it, and schemathesis sends it what it describes.
`python -m hub.openapi` prints it.
"""

import json

from flask import jsonify

from hub.payloads import MAX_PRESSES

_REF = "#/components/schemas/"
_ERRORS = {
    400: "A bad field or query parameter (`invalid_field`, the message names it) or a body "
         "that is not JSON (`invalid_json`)",
    401: "No, unknown, malformed or revoked credentials (`unauthorized`)",
    403: "Valid credentials, not allowed here (`forbidden`)",
    404: "No such location (`not_found`)",
    413: "Over 1000 presses or 1 MiB (`too_large`)",
    415: "The body is not application/json (`unsupported_media_type`)",
    503: "The database is busy or not initialised (`unavailable`); retry after Retry-After",
}


def _ref(name):
    return {"$ref": _REF + name}


def _errors(*statuses):
    answers = {}
    for status in statuses:
        answer = {"description": _ERRORS[status],
                  "content": {"application/json": {"schema": _ref("Error")}}}
        if status == 503:
            answer["headers"] = {"Retry-After": {"schema": {"type": "string"}}}
        answers[str(status)] = answer
    return answers


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name, schema, description, required=False):
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


_DATE = {"type": "string", "format": "date", "example": "2026-11-22",
         "description": "a local date of the location, years 1900-9998; to on or after from"}
_TIMESTAMP = {"type": "string", "format": "date-time", "example": "2026-11-22T10:15:03.120Z",
              "description": "RFC 3339 with a zone, years 1900-9998"}
_LOCAL_TIME = {"type": "string", "format": "date-time",
               "example": "2026-11-22T07:30:00+01:00",
               "description": "local time of the location with its UTC offset"}
_FLAG = {"type": "string", "enum": ["0", "1", "true", "false"], "default": "0"}
_FORMAT = {"type": "string", "enum": ["json", "csv"], "default": "json"}
_DEVICE_ID = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
_BOOT_ID = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"}
_COUNT = {"type": "integer", "minimum": 0}
_DEVICE_AUTH = [{"deviceToken": []}]
_READER_AUTH = [{"apiToken": []}, {"session": []}]


def _counts():
    return {"type": "object", "required": ["very_unhappy", "unhappy", "happy", "very_happy"],
            "properties": {name: _COUNT
                           for name in ("very_unhappy", "unhappy", "happy", "very_happy")},
            "additionalProperties": False}


_HAPPY_INDEX = {"type": "number", "minimum": 0, "maximum": 100, "nullable": True,
                "description": "100 · Σ(mood − 1) / (3 · N), one decimal; null when N = 0"}
_PERCENT = {"type": "number", "minimum": 0, "maximum": 100}
_HAPPY_INDEX_CI = {"type": "array", "items": _PERCENT, "minItems": 2, "maxItems": 2,
                   "nullable": True, "example": [74.2, 82.3],
                   "description": "the Happy Index's 95 % interval [low, high]: mean ± "
                                  "1.96·s/√n (s the sample standard deviation), clipped to "
                                  "0-100, one decimal; null when n < 2"}
_N = {**_COUNT, "description": "presses counted (misuse left out): the n of the interval"}

# A heartbeat's optional state fields, which a batch envelope may carry too.
_STATE = {
    "queued": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "nullable": True},
    "oldest_queued_at": {**_TIMESTAMP, "nullable": True},
    "clock_synced": {"type": "boolean", "nullable": True},
    "version": {"type": "string", "minLength": 1, "maxLength": 100, "nullable": True},
    "parked": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "nullable": True,
               "description": "presses the kiosk keeps but will not send again (refused)"},
    "buffer_id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
                  "nullable": True,
                  "description": "the kiosk's press buffer (SD card): a new one is a card change"},
}

_HELD = {
    "highest_seq": {**_COUNT, "description": "the highest seq the hub holds for the device"},
    "held_through": {**_COUNT, "description": "the hub holds every seq 1..held_through; a "
                     "kiosk resends synced presses above it that the hub no longer holds"},
}

_ERROR_OBJECT = {
    "type": "object", "required": ["code", "message"], "additionalProperties": False,
    "properties": {
        "code": {"type": "string", "pattern": "^[a-z]+(_[a-z]+)*$", "example": "invalid_field"},
        "message": {"type": "string", "minLength": 1,
                    "example": "presses[3].mood: expected an integer 1-4, got 7"},
    },
}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": _ERROR_OBJECT},
    },
    "Press": {
        "type": "object",
        "required": ["seq", "id", "mood", "pressed_at", "boot_id", "uptime_ms",
                     "clock_synced", "misuse"],
        "properties": {
            "seq": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
            "id": {"type": "string", "format": "uuid"},
            "mood": {"type": "integer", "minimum": 1, "maximum": 4},
            "pressed_at": _TIMESTAMP,
            "boot_id": _BOOT_ID,
            "uptime_ms": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
            "clock_synced": {"type": "boolean"},
            "misuse": {"type": "boolean"},
        },
    },
    "PressBatch": {
        "type": "object", "required": ["device_id", "boot_id", "uptime_ms", "presses"],
        "description": "The heartbeat's optional fields may ride along (each checked as in a "
                       "heartbeat); when any is not null the batch is also the kiosk's "
                       "heartbeat, so a kiosk that sent one skips that interval's heartbeat",
        "properties": {
            "device_id": _DEVICE_ID,
            "boot_id": _BOOT_ID,
            "uptime_ms": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
            "presses": {"type": "array", "maxItems": MAX_PRESSES, "items": _ref("Press"),
                        "description": "each seq at most once per batch"},
            # The heartbeat's fields, optional: any of them not null makes the batch the
            # kiosk's heartbeat too, recorded in the batch's transaction.
            "sent_at": {**_TIMESTAMP, "nullable": True,
                        "description": "as in a heartbeat: gives the clock skew; optional here"},
            **_STATE,
        },
    },
    "BatchResult": {
        "type": "object",
        "required": ["inserted", "duplicates", "server_time", "highest_seq", "held_through"],
        "additionalProperties": False,
        "properties": {"inserted": _COUNT, "duplicates": _COUNT, "server_time": _TIMESTAMP,
                       **_HELD},
    },
    "SeqConflict": {
        "type": "object", "required": ["error", "highest_seq", "conflicts"],
        "additionalProperties": False,
        "description": "seqs of the batch are stored with other press ids (a replaced or "
                       "re-flashed card); nothing was stored: the kiosk renumbers those "
                       "presses above highest_seq and sends them again",
        "properties": {
            "error": _ERROR_OBJECT,
            "highest_seq": _HELD["highest_seq"],
            "conflicts": {"type": "array", "items": {"type": "integer", "minimum": 1},
                          "description": "the seqs of the batch stored with other ids"},
        },
    },
    "Heartbeat": {
        "type": "object", "required": ["device_id", "boot_id", "uptime_ms", "sent_at"],
        "properties": {
            "device_id": _DEVICE_ID,
            "boot_id": _BOOT_ID,
            "uptime_ms": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
            "sent_at": _TIMESTAMP,
            **_STATE,
        },
    },
    "HeartbeatResult": {
        "type": "object", "required": ["server_time", "highest_seq", "held_through"],
        "additionalProperties": False,
        "properties": {"server_time": _TIMESTAMP, **_HELD},
    },
    "Summary": {
        "type": "object",
        "required": ["counts", "total", "n", "happy_index", "happy_index_ci"],
        "additionalProperties": False,
        "properties": {"counts": _counts(), "total": _COUNT, "n": _N,
                       "happy_index": _HAPPY_INDEX, "happy_index_ci": _HAPPY_INDEX_CI},
    },
    "Location": {
        "type": "object", "required": ["slug", "name", "timezone", "today"],
        "additionalProperties": False,
        "properties": {"slug": {"type": "string"}, "name": {"type": "string"},
                       "timezone": {"type": "string", "example": "Europe/Amsterdam"},
                       "today": _ref("Summary")},
    },
    "Hourly": {
        "type": "object", "required": ["location", "timezone", "hours"],
        "additionalProperties": False,
        "properties": {
            "location": {"type": "string"},
            "timezone": {"type": "string"},
            "hours": {"type": "array", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["hour_start", "counts", "total", "n", "happy_index",
                             "happy_index_ci"],
                "properties": {
                    "hour_start": {"type": "string", "format": "date-time",
                                   "example": "2026-10-25T02:00:00+02:00",
                                   "description": "local time with its UTC offset"},
                    "counts": _counts(),
                    "total": {"type": "integer", "minimum": 1},
                    "n": {**_N, "minimum": 1},
                    "happy_index": _HAPPY_INDEX,
                    "happy_index_ci": _HAPPY_INDEX_CI,
                },
            }},
        },
    },
    "Ranking": {
        "type": "object", "required": ["rows"], "additionalProperties": False,
        "properties": {"rows": {
            "type": "array",
            "description": "highest positive_share_low first; ties: more presses first; "
                           "locations without presses last",
            "items": {
                "type": "object", "additionalProperties": False,
                "required": ["location", "name", "n", "positive_share", "positive_share_low",
                             "happy_index", "happy_index_ci"],
                "properties": {
                    "location": {"type": "string", "description": "the location's slug"},
                    "name": {"type": "string"},
                    "n": _N,
                    "positive_share": {**_PERCENT, "nullable": True,
                                       "description": "percent of presses happy or very "
                                                      "happy, one decimal; null when n = 0"},
                    "positive_share_low": {**_PERCENT, "nullable": True,
                                           "description": "the lower bound of its Wilson "
                                                          "95 % interval: the ranking key"},
                    "happy_index": _HAPPY_INDEX,
                    "happy_index_ci": _HAPPY_INDEX_CI,
                },
            },
        }},
    },
    "Action": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "location", "title", "note", "starts_at", "ends_at", "created_by",
                     "alert_id"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "location": {"type": "string", "description": "the location's slug"},
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "note": {"type": "string", "maxLength": 2000},
            "starts_at": {**_LOCAL_TIME, "description": "when it started: local time of the "
                                                       "location with its UTC offset"},
            "ends_at": {**_LOCAL_TIME, "nullable": True,
                        "description": "when it ended; null for a change that stays"},
            "created_by": {"type": "string", "description": "the operator who recorded it "
                                                            "(cli:USER from the command line)"},
            "alert_id": {"type": "integer", "minimum": 1, "nullable": True,
                         "description": "the alert it answers"},
        },
    },
    "ActionList": {
        "type": "object", "required": ["actions"], "additionalProperties": False,
        "properties": {"actions": {"type": "array", "items": _ref("Action"),
                                   "description": "in order of starts_at"}},
    },
    "EffectSide": {
        "type": "object", "additionalProperties": False,
        "required": ["from", "to", "n", "counts", "happy_index", "happy_index_ci",
                     "negative_share", "negative_share_ci", "complete"],
        "properties": {
            "from": {**_LOCAL_TIME, "description": "the window's start, inclusive"},
            "to": {**_LOCAL_TIME, "description": "the window's end, exclusive"},
            "n": _N,
            "counts": _counts(),
            "happy_index": _HAPPY_INDEX,
            "happy_index_ci": _HAPPY_INDEX_CI,
            "negative_share": {**_PERCENT, "nullable": True,
                               "description": "percent of presses unhappy or very unhappy, "
                                              "one decimal; null when n = 0"},
            "negative_share_ci": {"type": "array", "items": _PERCENT, "minItems": 2,
                                  "maxItems": 2, "nullable": True,
                                  "description": "its Wilson 95 % interval [low, high]"},
            "complete": {"type": "boolean",
                         "description": "false while the window has not ended: the "
                                        "presses so far"},
        },
    },
    "Effect": {
        "type": "object", "additionalProperties": False,
        "required": ["action", "window_days", "before", "after", "difference", "verdict",
                     "as_of", "overlapping", "summary"],
        "properties": {
            "action": {"type": "integer", "minimum": 1},
            "window_days": {"type": "integer", "enum": [7, 14, 28]},
            "before": _ref("EffectSide"),
            "after": _ref("EffectSide"),
            "difference": {
                "type": "object", "required": ["happy_index", "happy_index_ci"],
                "additionalProperties": False,
                "properties": {
                    "happy_index": {"type": "number", "minimum": -100, "maximum": 100,
                                    "nullable": True,
                                    "description": "after − before, points; null when a "
                                                   "side has no presses"},
                    "happy_index_ci": {"type": "array", "minItems": 2, "maxItems": 2,
                                       "nullable": True,
                                       "items": {"type": "number", "minimum": -200,
                                                 "maximum": 200},
                                       "description": "d ± 1.96·√(s₁²/n₁ + s₂²/n₂); null "
                                                      "when a side has n < 2"},
                },
            },
            "verdict": {"type": "string",
                        "enum": ["better", "worse", "no_clear_change", "too_few_presses"],
                        "description": "too_few_presses if a side has n < 30; else better or "
                                       "worse when the difference's interval is above or "
                                       "below 0; else no_clear_change"},
            "as_of": {**_LOCAL_TIME, "description": "the hub's time of this answer"},
            "overlapping": {"type": "array", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["id", "title", "starts_at", "ends_at", "what"],
                "properties": {"id": {"type": "integer", "minimum": 1},
                               "title": {"type": "string"},
                               "starts_at": _LOCAL_TIME,
                               "ends_at": {**_LOCAL_TIME, "nullable": True},
                               "what": {"type": "string", "enum": ["started", "ended"]}},
            }, "description": "other actions of the location that start or end inside the "
                              "windows: the change may be theirs"},
            "summary": {"type": "string", "example": "Better: +9.8 points (5.1 to 14.5), "
                                                     "412 presses before, 389 after"},
        },
    },
    "PressPage": {
        "type": "object", "required": ["presses", "next"], "additionalProperties": False,
        "properties": {
            "presses": {"type": "array", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["id", "device_id", "location", "seq", "mood", "pressed_at",
                             "device_pressed_at", "received_at", "time_source", "misuse"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "device_id": {"type": "string"},
                    "location": {"type": "string"},
                    "seq": {"type": "integer", "minimum": 1},
                    "mood": {"type": "integer", "minimum": 1, "maximum": 4},
                    "pressed_at": {**_TIMESTAMP, "description": "as placed in time, UTC"},
                    "device_pressed_at": {**_TIMESTAMP,
                                          "description": "the device's own clock"},
                    "received_at": _TIMESTAMP,
                    "time_source": {"type": "string",
                                    "enum": ["device", "uptime", "skew", "uncertain"],
                                    "description": (
                                        "how pressed_at was placed: device (its synchronised"
                                        " clock), uptime (the sending boot's uptime), skew"
                                        " (its clock corrected by the skew measured in its"
                                        " boot), uncertain (its clock, unchecked)")},
                    "misuse": {"type": "boolean"},
                },
            }},
            "next": {"type": "string", "nullable": True,
                     "description": "the `after` of the next page; null on the last"},
        },
    },
}

_CSV = {"text/csv": {"schema": {"type": "string"}}}
_READ_PARAMS = [
    _query("from", _DATE, "first local date, inclusive", required=True),
    _query("to", _DATE, "last local date, inclusive (at most 400 days after from)",
           required=True),
    _query("include_misuse", _FLAG, "count presses flagged misuse too"),
    _query("format", _FORMAT, "csv: the same rows as CSV"),
]

PATHS = {
    "/api/v1/presses": {
        "post": {
            "operationId": "postPresses",
            "summary": "A batch of presses from a kiosk, stored whole or not at all",
            "security": _DEVICE_AUTH,
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _ref("PressBatch")}}},
            "responses": {"200": _json(_ref("BatchResult"), "Stored; a (device, seq) "
                                       "already stored with the same id counts as a duplicate"),
                          "409": _json(_ref("SeqConflict"), "A seq is another press's"),
                          **_errors(400, 401, 403, 413, 415, 503)},
        },
        "get": {
            "operationId": "getPresses",
            "summary": "Raw presses of a location, local dates inclusive, in placed-time order",
            "security": _READER_AUTH,
            "parameters": [
                _query("location", {"type": "string", "minLength": 1}, "location slug",
                       required=True),
                *_READ_PARAMS[:3],
                _query("device", {"type": "string"}, "only this device's presses"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000,
                                 "default": 1000}, "presses per page (JSON only)"),
                _query("after", {"type": "string"}, "the `next` of the previous page"),
                _READ_PARAMS[3],
            ],
            "responses": {
                "200": {"description": "A page of presses, or every press as CSV",
                        "content": {"application/json": {"schema": _ref("PressPage")},
                                    **_CSV}},
                **_errors(400, 401, 403, 404, 503),
            },
        },
    },
    "/api/v1/heartbeat": {
        "post": {
            "operationId": "postHeartbeat",
            "summary": "A kiosk's state; the hub answers with its own time",
            "security": _DEVICE_AUTH,
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _ref("Heartbeat")}}},
            "responses": {"200": _json(_ref("HeartbeatResult"), "Recorded"),
                          **_errors(400, 401, 403, 413, 415, 503)},
        },
    },
    "/api/v1/locations": {
        "get": {
            "operationId": "getLocations",
            "summary": "Every location with today's counts (its own local day, no misuse)",
            "security": _READER_AUTH,
            "responses": {"200": _json({"type": "array", "items": _ref("Location")},
                                       "The locations"),
                          **_errors(401, 403, 503)},
        },
    },
    "/api/v1/locations/{slug}/hourly": {
        "get": {
            "operationId": "getHourly",
            "summary": "One row per local clock hour that has presses",
            "security": _READER_AUTH,
            "parameters": [{"name": "slug", "in": "path", "required": True,
                            "schema": {"type": "string", "minLength": 1}}, *_READ_PARAMS],
            "responses": {
                "200": {"description": "The hours, as JSON or CSV",
                        "content": {"application/json": {"schema": _ref("Hourly")}, **_CSV}},
                **_errors(400, 401, 403, 404, 503),
            },
        },
    },
    "/api/v1/ranking": {
        "get": {
            "operationId": "getRanking",
            "summary": "Locations ranked by how sure we can be that visitors are happy",
            "description": "By the Wilson 95 % lower bound of the share of happy and very "
                           "happy presses, so 5 happy presses of 5 rank below 4,000 of 5,000. "
                           "Dates are local dates of each location; misuse left out.",
            "security": _READER_AUTH,
            "parameters": [*_READ_PARAMS[:2],
                           _query("group", {"type": "string"}, "only this group's locations")],
            "responses": {"200": _json(_ref("Ranking"), "The ranking"),
                          **_errors(400, 401, 403, 503)},
        },
    },
    "/api/v1/locations/{slug}/actions": {
        "get": {
            "operationId": "getLocationActions",
            "summary": "What was done at a location (actions), in time order",
            "security": _READER_AUTH,
            "parameters": [{"name": "slug", "in": "path", "required": True,
                            "schema": {"type": "string", "minLength": 1}}],
            "responses": {"200": _json(_ref("ActionList"), "The location's actions"),
                          **_errors(401, 403, 404, 503)},
        },
    },
    "/api/v1/actions/{action_id}/effect": {
        "get": {
            "operationId": "getActionEffect",
            "summary": "Whether the feedback changed after an action",
            "description": "Before = [starts_at − days, starts_at), after = [ends_at or "
                           "starts_at, + days): days local calendar days at the same local "
                           "clock time (whole weeks). Presses by placed time, misuse left "
                           "out. An after window not over yet gives the presses so far "
                           "(complete false).",
            "security": _READER_AUTH,
            "parameters": [
                {"name": "action_id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1}},
                _query("days", {"type": "integer", "enum": [7, 14, 28], "default": 14},
                       "the length of each window, days"),
            ],
            "responses": {"200": _json(_ref("Effect"), "The effect"),
                          **_errors(400, 401, 403),
                          "404": {"description": "No such action (`not_found`)",
                                  "content": {"application/json": {"schema": _ref("Error")}}},
                          **_errors(503)},
        },
    },
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "getOpenapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document")},
        },
    },
    "/healthz": {
        "get": {
            "operationId": "getHealthz",
            "summary": "Whether the database answers and takes writes",
            "security": [],
            "responses": {
                "200": _json({"type": "object", "required": ["status"],
                              "properties": {"status": {"type": "string", "enum": ["ok"]}}},
                             "The database answers and takes writes"),
                "503": _json({"type": "object", "required": ["status", "write"],
                              "properties": {
                                  "status": {"type": "string", "enum": ["degraded"]},
                                  "write": {"type": "string",
                                            "description": "Why writes fail: disk full, a "
                                                           "read-only file, no database"}}},
                             "The database cannot take writes (or does not answer)"),
            },
        },
    },
}

DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "Kiosk hub API",
        "version": "1",
        "description": "Presses in from the kiosks, counts per location and local hour out. "
                       "Every error is `{\"error\": {\"code\", \"message\"}}`; checks run in "
                       "the order credentials, permission, media type, size, content.",
    },
    "servers": [{"url": "/"}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "deviceToken": {"type": "http", "scheme": "bearer",
                            "description": "a device token from `hub device add`"},
            "apiToken": {"type": "http", "scheme": "bearer",
                         "description": "a read token from `hub api-token add`"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "an operator's login on the pages"},
        },
    },
}


def serve_document():
    """GET /api/v1/openapi.json: no credentials needed, the API's shape is no secret."""
    return jsonify(DOCUMENT)


if __name__ == "__main__":
    print(json.dumps(DOCUMENT, indent=2))
