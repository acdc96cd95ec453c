"""What kiosks send, checked field by field; every refusal names the field it is about."""

import re
from dataclasses import dataclass
from datetime import datetime

from hub.errors import forbidden, invalid_field, too_large
from hub.times import canonical_utc, parse_timestamp

MAX_PRESSES = 1000
MAX_INTEGER = 2**63 - 1  # SQLite's INTEGER

DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
_BOOT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", re.ASCII)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII | re.I)

TIMESTAMP = "an RFC 3339 timestamp with a zone, years 1900-9998"


@dataclass(slots=True)
class Press:
    seq: int
    id: str
    mood: int
    pressed_at: datetime
    boot_id: str
    uptime_ms: int
    clock_synced: bool
    misuse: bool
    pressed_at_text: str = ""  # pressed_at as stored text, `2026-11-22T10:15:03.120Z`


@dataclass(slots=True)
class Heartbeat:
    device_id: str
    boot_id: str
    uptime_ms: int
    sent_at: datetime | None  # None only in a batch envelope that left it out
    queued: int | None
    oldest_queued_at: datetime | None
    clock_synced: bool | None
    version: str | None
    parked: int | None = None  # presses the kiosk keeps but will not send again
    buffer_id: str | None = None  # the kiosk's press buffer (its SD card)


@dataclass(slots=True)
class PressBatch:
    device_id: str
    boot_id: str
    uptime_ms: int
    presses: list
    # The heartbeat's optional fields riding along (the batch is then the heartbeat too);
    # None when the envelope has none of them.
    state: Heartbeat | None = None
    buffer_id: str | None = None  # the kiosk's press buffer (its SD card)


# The heartbeat's fields a batch envelope may carry too.
STATE_FIELDS = ("sent_at", "queued", "oldest_queued_at", "clock_synced", "version", "parked")


_MISSING = object()


def _get(obj, key, where):
    value = obj.get(key, _MISSING)
    return value, f"{where}.{key}" if where else key


def _integer(obj, key, low, where="", nullable=False):
    value, field = _get(obj, key, where)
    if nullable and value in (None, _MISSING):
        return None
    # bool is an int in Python, not in JSON.
    if type(value) is not int or not low <= value <= MAX_INTEGER:
        raise invalid_field(field, f"an integer {low} or more", value, value is _MISSING)
    return value


def _pattern(obj, key, pattern, expected, where=""):
    value, field = _get(obj, key, where)
    if type(value) is not str or not pattern.fullmatch(value):
        raise invalid_field(field, expected, value, value is _MISSING)
    return value


def _boolean(obj, key, where="", nullable=False):
    value, field = _get(obj, key, where)
    if nullable and value in (None, _MISSING):
        return None
    if type(value) is not bool:
        raise invalid_field(field, "true or false", value, value is _MISSING)
    return value


def _timestamp(obj, key, where="", nullable=False):
    value, field = _get(obj, key, where)
    if nullable and value in (None, _MISSING):
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise invalid_field(field, TIMESTAMP, value, value is _MISSING)
    return parsed


def _text(obj, key, where="", nullable=False, longest=100):
    value, field = _get(obj, key, where)
    if nullable and value in (None, _MISSING):
        return None
    if type(value) is not str or not 0 < len(value) <= longest or not value.isprintable():
        raise invalid_field(field, f"printable text of 1-{longest} characters", value,
                            value is _MISSING)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \\ud800 escape
        raise invalid_field(field, "valid Unicode text", value) from None
    return value


def _object(value, field):
    if type(value) is not dict:
        raise invalid_field(field, "a JSON object", value, value is _MISSING)
    return value


def _claimed_device(body, device_id):
    """The body's device_id; a different device's id is a 403 before any other field."""
    body = _object(body, "body")
    claimed = body.get("device_id")
    if type(claimed) is str and claimed != device_id:
        raise forbidden(f"device_id {claimed!r} is not the device this token belongs to")
    _pattern(body, "device_id", DEVICE_ID, "a device id")
    return body


def parse_press_batch(body, device_id, max_presses=MAX_PRESSES):
    """A PressBatch from a decoded JSON body sent with *device_id*'s token."""
    body = _claimed_device(body, device_id)
    presses = body.get("presses", _MISSING)
    if type(presses) is list and len(presses) > max_presses:
        raise too_large(f"presses: at most {max_presses} per batch, got {len(presses)}")
    boot_id = _pattern(body, "boot_id", _BOOT_ID, "a boot id")
    uptime_ms = _integer(body, "uptime_ms", 0)
    buffer_id = _buffer_id(body)
    state = None
    if any(body.get(key) is not None for key in STATE_FIELDS):
        state = _state(body, device_id, boot_id, uptime_ms, sent_at_required=False)
    if type(presses) is not list:
        raise invalid_field("presses", "a list of presses", presses, presses is _MISSING)
    parsed = []
    first_index = {}
    for i, raw in enumerate(presses):
        press = _quick_press(raw, boot_id) or _checked_press(raw, f"presses[{i}]")
        if press.seq in first_index:
            raise invalid_field(
                f"presses[{i}].seq",
                f"a seq not already in this batch (presses[{first_index[press.seq]}])",
                press.seq,
            )
        first_index[press.seq] = i
        parsed.append(press)
    return PressBatch(device_id, boot_id, uptime_ms, parsed, state, buffer_id)


def _buffer_id(body):
    value = body.get("buffer_id")
    if value is None:
        return None
    return _pattern(body, "buffer_id", _BOOT_ID, "a buffer id")


def _quick_press(raw, boot_id):
    """The usual, valid press checked in one go (ingest speed); None if anything is off."""
    if type(raw) is not dict:
        return None
    seq, mood, uptime_ms = raw.get("seq"), raw.get("mood"), raw.get("uptime_ms")
    press_id, press_boot = raw.get("id"), raw.get("boot_id")
    synced, misuse = raw.get("clock_synced"), raw.get("misuse")
    if not (
        type(seq) is int and 0 < seq <= MAX_INTEGER
        and type(mood) is int and 0 < mood < 5
        and type(uptime_ms) is int and 0 <= uptime_ms <= MAX_INTEGER
        and type(synced) is bool and type(misuse) is bool
        and type(press_id) is str and _UUID.fullmatch(press_id)
        and type(press_boot) is str and (press_boot == boot_id or _BOOT_ID.fullmatch(press_boot))
    ):
        return None
    text = raw.get("pressed_at")
    pressed_at = parse_timestamp(text)
    if pressed_at is None:
        return None
    return Press(seq, press_id.lower(), mood, pressed_at, press_boot, uptime_ms, synced, misuse,
                 canonical_utc(text, pressed_at))


def _checked_press(raw, where):
    """A press checked field by field, so that the error names the first bad field."""
    raw = _object(raw, where)
    seq = _integer(raw, "seq", 1, where)
    mood = raw.get("mood", _MISSING)
    if type(mood) is not int or not 1 <= mood <= 4:
        raise invalid_field(f"{where}.mood", "an integer 1-4", mood, mood is _MISSING)
    pressed_at = _timestamp(raw, "pressed_at", where)
    return Press(
        seq=seq,
        id=_pattern(raw, "id", _UUID, "a UUID", where).lower(),
        mood=mood,
        pressed_at=pressed_at,
        boot_id=_pattern(raw, "boot_id", _BOOT_ID, "a boot id", where),
        uptime_ms=_integer(raw, "uptime_ms", 0, where),
        clock_synced=_boolean(raw, "clock_synced", where),
        misuse=_boolean(raw, "misuse", where),
        pressed_at_text=canonical_utc(raw["pressed_at"], pressed_at),
    )


def parse_heartbeat(body, device_id):
    """A Heartbeat from a decoded JSON body sent with *device_id*'s token."""
    body = _claimed_device(body, device_id)
    boot_id = _pattern(body, "boot_id", _BOOT_ID, "a boot id")
    uptime_ms = _integer(body, "uptime_ms", 0)
    return _state(body, device_id, boot_id, uptime_ms, sent_at_required=True)


def _state(body, device_id, boot_id, uptime_ms, sent_at_required):
    """The heartbeat's state fields of *body*, checked the same way for a heartbeat and for
    a batch envelope (where sent_at is optional too)."""
    return Heartbeat(
        device_id=device_id,
        boot_id=boot_id,
        uptime_ms=uptime_ms,
        sent_at=_timestamp(body, "sent_at", nullable=not sent_at_required),
        queued=_integer(body, "queued", 0, nullable=True),
        oldest_queued_at=_timestamp(body, "oldest_queued_at", nullable=True),
        clock_synced=_boolean(body, "clock_synced", nullable=True),
        version=_text(body, "version", nullable=True),
        parked=_integer(body, "parked", 0, nullable=True),
        buffer_id=_buffer_id(body),
    )
