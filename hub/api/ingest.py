"""POST /api/v1/presses and /api/v1/heartbeat: checks in the contract's order, then store.

Order: credentials, permission, media type, size, content.
"""

import json

from flask import current_app, jsonify, request

from hub import ingest, payloads
from hub.auth import require_device
from hub.db import get_db, hub_now, write
from hub.errors import ApiError, invalid_field, too_large
from hub.store.ingest import MAX_SEQ_AHEAD, SeqConflict, SeqTooFar
from hub.times import format_utc


def post_presses():
    device = require_device()
    body = read_json_body()
    batch = payloads.parse_press_batch(body, device.name, current_app.config["MAX_PRESSES"])
    now = hub_now()
    try:
        inserted, duplicates, held = ingest.accept_batch(get_db(), batch, now, write)
    except SeqConflict as conflict:
        raise seq_conflict(conflict) from None
    except SeqTooFar as far:
        raise invalid_field(
            f"presses[{far.index}].seq",
            f"at most {far.highest_seq + MAX_SEQ_AHEAD:,} ({MAX_SEQ_AHEAD:,} above the highest"
            f" seq the hub holds for this device, {far.highest_seq})", far.seq) from None
    # server_time as in the heartbeat's answer: a kiosk whose batch carried the heartbeat's
    # fields reads its clock skew from it and skips that interval's heartbeat. highest_seq
    # and held_through tell it what the hub holds (a restored hub may have lost presses).
    return jsonify(inserted=inserted, duplicates=duplicates, server_time=format_utc(now),
                   highest_seq=held.highest_seq, held_through=held.held_through)


def post_heartbeat():
    device = require_device()
    beat = payloads.parse_heartbeat(read_json_body(), device.name)
    now = hub_now()
    held = ingest.accept_heartbeat(get_db(), beat, now, write)
    return jsonify(server_time=format_utc(now), highest_seq=held.highest_seq,
                   held_through=held.held_through)


def seq_conflict(conflict):
    """409: these seqs are another card's presses; the kiosk renumbers its own above."""
    shown = ", ".join(str(seq) for seq in conflict.conflicts[:10])
    more = f" and {len(conflict.conflicts) - 10} more" if len(conflict.conflicts) > 10 else ""
    return ApiError(
        409, "seq_conflict",
        f"seqs {shown}{more} are stored with other press ids (a replaced or re-flashed card?);"
        f" renumber these presses above {conflict.highest_seq} and send them again",
        {"highest_seq": conflict.highest_seq, "conflicts": conflict.conflicts})


def read_json_body():
    """The request body as JSON: 415 unless application/json, 413 over the size limit,
    400 invalid_json for anything that is not UTF-8 JSON (NaN, huge numbers, deep nesting)."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise too_large(f"body: at most {limit} bytes, got {request.content_length}")
    data = request.get_data(cache=False)  # also stops a chunked body at the limit
    if len(data) > limit:
        raise too_large(f"body: at most {limit} bytes")
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "body: not UTF-8") from None
    except (ValueError, RecursionError) as error:
        raise ApiError(400, "invalid_json", f"body: not valid JSON ({error})") from None


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")
