"""POST /api/v1/presses and /heartbeat: storing, idempotence, atomicity, every error."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from hub import alerts
from hub.db import close_connections
from hub.store import Database, health, registry
from hub.store import database as database_module
from tests.hub.helpers import batch, error, press, send

PRESSES_URL = "/api/v1/presses"


@pytest.fixture
def kiosk(site):
    site.location("ams")
    return site.device("kiosk-1", "ams")


def stored(db):
    return db.rows("SELECT seq, mood, time_source FROM presses ORDER BY seq")


def counts(response):
    """(inserted, duplicates) of a batch's answer."""
    assert response.status_code == 200, response.json
    return response.json["inserted"], response.json["duplicates"]


def test_a_batch_is_stored_and_counted(client, kiosk, db):
    response = send(client, kiosk, [press(1, 4), press(2, 1)])
    assert response.status_code == 200
    # server_time as in the heartbeat's answer: the hub's clock when it stored the batch.
    assert response.json == {"inserted": 2, "duplicates": 0,
                             "server_time": "2026-11-22T12:00:00.000Z",
                             "highest_seq": 2, "held_through": 2}
    assert [tuple(row) for row in stored(db)] == [(1, 4, "device"), (2, 1, "device")]


def test_a_resent_batch_inserts_nothing_and_counts_duplicates(client, kiosk, db):
    presses = [press(n) for n in range(1, 6)]
    send(client, kiosk, presses[:3])
    assert counts(send(client, kiosk, presses)) == (2, 3)
    assert counts(send(client, kiosk, presses)) == (0, 5)
    assert len(stored(db)) == 5


def test_a_duplicate_keeps_the_first_press(client, kiosk, db):
    send(client, kiosk, [press(1, mood=4)])
    send(client, kiosk, [press(1, mood=1)])
    assert [tuple(row) for row in stored(db)] == [(1, 4, "device")]


def test_one_bad_press_stores_nothing(client, kiosk, db):
    presses = [press(1), press(2), press(3, mood=5), press(4)]
    response = send(client, kiosk, presses)
    assert error(response) == (400, "invalid_field")
    assert "presses[2].mood" in response.json["error"]["message"]
    assert stored(db) == []
    assert db.rows("SELECT * FROM rollups") == []


def test_a_failure_while_writing_rolls_the_whole_batch_back(client, kiosk, db, app):
    # A press whose location vanished makes the insert fail half way: nothing must remain.
    send(client, kiosk, [press(1)])
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("UPDATE device_locations SET location_id = 999")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = send(client, kiosk, [press(2), press(3)])
    assert error(response) == (500, "internal_error")
    assert [row[0] for row in stored(db)] == [1]


def test_a_seq_repeated_inside_a_batch_is_refused(client, kiosk, db):
    response = send(client, kiosk, [press(1), press(2), press(1)])
    assert error(response) == (400, "invalid_field")
    assert response.json["error"]["message"].startswith("presses[2].seq:")
    assert stored(db) == []


def test_an_empty_batch_is_fine(client, kiosk):
    assert counts(send(client, kiosk, [])) == (0, 0)


# Every error code, and the order of the checks: credentials, permission, media type, size,
# content.


def test_no_token_is_401(client, kiosk):
    response = client.post(PRESSES_URL, json=batch([press(1)]))
    assert error(response) == (401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer nope", "Basic a2lvc2s6eA==", "Bearer ", "Bearer"])
def test_an_unknown_or_malformed_token_is_401(client, kiosk, header):
    response = client.post(PRESSES_URL, json=batch([press(1)]),
                           headers={"Authorization": header})
    assert error(response) == (401, "unauthorized")


def test_a_revoked_device_is_401(client, kiosk, db):
    registry.revoke_device(db, "kiosk-1", "2026-11-22T00:00:00.000Z")
    assert error(send(client, kiosk, [press(1)])) == (401, "unauthorized")


def test_another_devices_id_is_403(client, kiosk, site, db):
    site.device("kiosk-2", "ams")
    response = send(client, kiosk, [press(1)], device_id="kiosk-2")
    assert error(response) == (403, "forbidden")
    assert stored(db) == []


def test_an_api_token_on_a_device_endpoint_is_403(client, kiosk, site):
    reader = site.reader()
    assert error(send(client, reader, [press(1)])) == (403, "forbidden")


def test_not_json_is_415(client, kiosk):
    response = client.post(PRESSES_URL, data=json.dumps(batch([press(1)])), headers=kiosk,
                           content_type="text/plain")
    assert error(response) == (415, "unsupported_media_type")


def test_over_1000_presses_is_413(client, kiosk, db):
    response = send(client, kiosk, [press(n) for n in range(1, 1002)])
    assert error(response) == (413, "too_large")
    assert send(client, kiosk, [press(n) for n in range(1, 1001)]).status_code == 200


def test_over_one_mebibyte_is_413(client, kiosk):
    body = json.dumps(batch([press(1)]) | {"padding": "x" * (1024 * 1024)})
    response = client.post(PRESSES_URL, data=body, headers=kiosk,
                           content_type="application/json")
    assert error(response) == (413, "too_large")


def test_a_chunked_body_over_one_mebibyte_is_413(client, kiosk):
    # Without Content-Length (chunked upload), the body is measured as it is read.
    body = json.dumps(batch([press(1)]) | {"padding": "x" * (1024 * 1024)}).encode()
    environ = EnvironBuilder(path=PRESSES_URL, method="POST", data=body, headers=kiosk,
                             content_type="application/json").get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    assert error(client.open(environ)) == (413, "too_large")


def test_bad_json_is_400_invalid_json(client, kiosk):
    response = client.post(PRESSES_URL, data=b"{not json", headers=kiosk,
                           content_type="application/json")
    assert error(response) == (400, "invalid_json")


@pytest.mark.parametrize(
    ("headers", "content_type", "body", "expected"),
    [
        ("nobody", "text/plain", b"x" * 2_000_000, (401, "unauthorized")),
        ("reader", "text/plain", b"x" * 2_000_000, (403, "forbidden")),
        ("kiosk", "text/plain", b"x" * 2_000_000, (415, "unsupported_media_type")),
        ("kiosk", "application/json", b"x" * 2_000_000, (413, "too_large")),
        ("kiosk", "application/json", b"x", (400, "invalid_json")),
    ],
)
def test_checks_run_in_the_contracts_order(client, kiosk, site, headers, content_type, body,
                                           expected):
    headers = {"nobody": {}, "kiosk": kiosk, "reader": site.reader()}[headers]
    response = client.post(PRESSES_URL, data=body, headers=headers, content_type=content_type)
    assert error(response) == expected


def test_another_device_is_403_before_a_bad_field(client, kiosk):
    body = batch([press(1, mood="x")], device_id="kiosk-9")
    assert error(client.post(PRESSES_URL, json=body, headers=kiosk)) == (403, "forbidden")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("device_id"), "device_id"),
        (lambda b: b.update(boot_id=7), "boot_id"),
        (lambda b: b.update(uptime_ms=-1), "uptime_ms"),
        (lambda b: b.update(uptime_ms=True), "uptime_ms"),
        (lambda b: b.update(presses={"seq": 1}), "presses"),
        (lambda b: b["presses"].append(7), "presses[2]"),
        (lambda b: b["presses"][1].update(seq=0), "presses[1].seq"),
        (lambda b: b["presses"][1].update(seq=2**63), "presses[1].seq"),
        (lambda b: b["presses"][1].update(seq=1.5), "presses[1].seq"),
        (lambda b: b["presses"][1].update(seq="2"), "presses[1].seq"),
        (lambda b: b["presses"][1].update(mood=True), "presses[1].mood"),
        (lambda b: b["presses"][1].update(mood=0), "presses[1].mood"),
        (lambda b: b["presses"][1].update(mood=4.0), "presses[1].mood"),
        (lambda b: b["presses"][1].pop("mood"), "presses[1].mood"),
        (lambda b: b["presses"][1].update(id="not-a-uuid"), "presses[1].id"),
        (lambda b: b["presses"][1].update(pressed_at="2026-11-22 10:15"), "presses[1].pressed_at"),
        (lambda b: b["presses"][1].update(pressed_at="2026-11-22T10:15:03"),
         "presses[1].pressed_at"),
        (lambda b: b["presses"][1].update(pressed_at="0001-01-01T00:00:00+01:00"),
         "presses[1].pressed_at"),
        (lambda b: b["presses"][1].update(pressed_at="2026-02-30T10:15:03Z"),
         "presses[1].pressed_at"),
        (lambda b: b["presses"][1].update(boot_id=None), "presses[1].boot_id"),
        (lambda b: b["presses"][1].update(uptime_ms=[1]), "presses[1].uptime_ms"),
        (lambda b: b["presses"][1].update(clock_synced=1), "presses[1].clock_synced"),
        (lambda b: b["presses"][1].update(misuse="false"), "presses[1].misuse"),
    ],
)
def test_a_bad_field_is_400_naming_the_field(client, kiosk, db, change, field):
    body = batch([press(1), press(2)])
    change(body)
    response = client.post(PRESSES_URL, json=body, headers=kiosk)
    assert error(response) == (400, "invalid_field")
    assert response.json["error"]["message"].startswith(f"{field}: ")
    assert stored(db) == []


def test_the_mood_message_says_what_is_expected(client, kiosk):
    response = send(client, kiosk, [press(1), press(2), press(3), press(4, mood=9)])
    assert response.json["error"]["message"] == "presses[3].mood: expected an integer 1-4, got 9"


@pytest.mark.parametrize(
    "body",
    [
        b"", b"null", b"[]", b'"text"', b"1e999999", b"NaN", b'{"device_id": NaN}',
        b"[" * 50_000 + b"]" * 50_000, b"9" * 5000, b"\xff\xfe{}", b"\xef\xbb\xbf{}",
        b'{"device_id": "kiosk-1", "boot_id": "\\ud800"}',
        b'{"device_id": "kiosk-1", "boot_id": "b", "uptime_ms": 1, "presses": [{"seq": 1e400}]}',
        b'{"device_id": {"nested": [1, {"deeper": null}]}}',
    ],
)
def test_junk_is_a_400_never_a_500(client, kiosk, body):
    response = client.post(PRESSES_URL, data=body, headers=kiosk,
                           content_type="application/json")
    assert response.status_code == 400
    assert error(response)[1] in ("invalid_json", "invalid_field")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=12,
)
BATCH_FIELDS = ["device_id", "boot_id", "uptime_ms", "presses"]
PRESS_FIELDS = ["seq", "id", "mood", "pressed_at", "boot_id", "uptime_ms", "clock_synced",
                "misuse"]
BEAT_FIELDS = ["device_id", "boot_id", "uptime_ms", "sent_at", "queued", "oldest_queued_at",
               "clock_synced", "version"]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    where=st.sampled_from(["body", "batch", "press", "heartbeat"]),
    field=st.sampled_from(sorted(set(BATCH_FIELDS + PRESS_FIELDS + BEAT_FIELDS))),
    value=JSON_VALUES,
)
def test_any_value_anywhere_gets_an_answer_never_a_500(client, kiosk, where, field, value):
    url, body = PRESSES_URL, batch([press(1), press(2)])
    if where == "body":
        body = value
    elif where == "batch":
        body[field] = value
    elif where == "press":
        body["presses"][1][field] = value
    else:
        url, body = "/api/v1/heartbeat", heartbeat(**{field: value})
    response = client.post(url, data=json.dumps(body), headers=kiosk,
                           content_type="application/json")
    assert response.status_code in (200, 400, 403, 413), response.get_data(as_text=True)
    assert response.is_json


def test_a_busy_database_is_a_503_to_retry(client, kiosk, app, db_path, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_MS", 50)  # for new connections
    close_connections(app)
    blocker = Database(db_path)
    with blocker.atomic():  # another writer holds the lock past the busy timeout
        response = send(client, kiosk, [press(1)])
    blocker.close()
    assert error(response) == (503, "unavailable")
    assert response.headers["Retry-After"] == "5"
    assert counts(send(client, kiosk, [press(1)])) == (1, 0)


def test_a_wrong_method_is_json_too(client, kiosk):
    response = client.put(PRESSES_URL, json={}, headers=kiosk)
    assert error(response) == (405, "method_not_allowed")


def test_extra_fields_are_ignored(client, kiosk):
    body = batch([press(1) | {"colour": "green"}]) | {"firmware": "1.2"}
    assert client.post(PRESSES_URL, json=body, headers=kiosk).json["inserted"] == 1


# Heartbeats


def heartbeat(**fields):
    return {"device_id": "kiosk-1", "boot_id": "b-1", "uptime_ms": 5000,
            "sent_at": "2026-11-22T12:00:02.500Z"} | fields


def test_a_heartbeat_is_stored_with_the_clock_skew(client, kiosk, db, clock):
    beat = heartbeat(queued=3, oldest_queued_at="2026-11-22T11:00:00Z", clock_synced=True,
                     version="0.1.0", parked=2)
    response = client.post("/api/v1/heartbeat", json=beat, headers=kiosk)
    assert response.status_code == 200
    assert response.json == {"server_time": "2026-11-22T12:00:00.000Z",
                             "highest_seq": 0, "held_through": 0}
    state = db.row("SELECT * FROM device_state WHERE device_id = 'kiosk-1'")
    assert state["clock_skew_ms"] == 2500
    assert state["queued"] == 3
    assert state["oldest_queued_at"] == "2026-11-22T11:00:00.000Z"
    assert state["clock_synced"] == 1
    assert state["version"] == "0.1.0"
    assert state["parked"] == 2  # kept by the kiosk, never sent again: not in queued
    assert state["last_seen_at"] == "2026-11-22T12:00:00.000Z"


def test_a_heartbeat_needs_only_the_first_four_fields(client, kiosk, db):
    beat = heartbeat(queued=None, oldest_queued_at=None, clock_synced=None, version=None)
    assert client.post("/api/v1/heartbeat", json=beat, headers=kiosk).status_code == 200
    assert client.post("/api/v1/heartbeat", json=heartbeat(), headers=kiosk).status_code == 200


@pytest.mark.parametrize("field", ["device_id", "boot_id", "uptime_ms", "sent_at"])
def test_a_heartbeat_without_a_required_field_is_400(client, kiosk, field):
    beat = heartbeat()
    del beat[field]
    response = client.post("/api/v1/heartbeat", json=beat, headers=kiosk)
    assert error(response) == (400, "invalid_field")
    assert response.json["error"]["message"].startswith(f"{field}: missing")


def test_a_heartbeat_with_a_bad_optional_field_is_400(client, kiosk):
    response = client.post("/api/v1/heartbeat", json=heartbeat(queued=-1), headers=kiosk)
    assert response.json["error"]["message"].startswith("queued: ")


def test_a_heartbeat_checks_credentials_and_device(client, kiosk, site):
    assert error(client.post("/api/v1/heartbeat", json=heartbeat())) == (401, "unauthorized")
    response = client.post("/api/v1/heartbeat", json=heartbeat(device_id="x"), headers=kiosk)
    assert error(response) == (403, "forbidden")
    response = client.post("/api/v1/heartbeat", json=heartbeat(), headers=site.reader())
    assert error(response) == (403, "forbidden")


# The heartbeat's fields in a batch envelope (one request per kiosk and interval)


STATE = {"sent_at": "2026-11-22T12:00:02.500Z", "queued": 3,
         "oldest_queued_at": "2026-11-22T11:00:00Z", "clock_synced": True, "version": "0.2.0"}


def device_state(db):
    return db.row("SELECT * FROM device_state WHERE device_id = 'kiosk-1'")


def test_a_batch_envelope_with_the_heartbeat_fields_records_them_with_the_skew(client, kiosk,
                                                                               db):
    body = batch([press(1), press(2)], uptime_ms=7000) | STATE
    response = client.post(PRESSES_URL, json=body, headers=kiosk)
    assert response.json == {"inserted": 2, "duplicates": 0,
                             "server_time": "2026-11-22T12:00:00.000Z",
                             "highest_seq": 2, "held_through": 2}
    state = device_state(db)
    assert state["clock_skew_ms"] == 2500
    assert state["sent_at"] == "2026-11-22T12:00:02.500Z"
    assert (state["queued"], state["oldest_queued_at"]) == (3, "2026-11-22T11:00:00.000Z")
    assert (state["clock_synced"], state["version"]) == (1, "0.2.0")
    assert (state["boot_id"], state["uptime_ms"]) == (batch([])["boot_id"], 7000)
    assert state["last_heartbeat_at"] == state["last_batch_at"] == state["last_seen_at"] == (
        "2026-11-22T12:00:00.000Z")
    assert (state["presses_stored"], state["highest_seq"]) == (2, 2)
    assert len(stored(db)) == 2


def test_the_state_is_stored_in_the_batchs_own_transaction(client, kiosk, db, app):
    writer = app.extensions["hub_writer"]
    assert counts(client.post(PRESSES_URL, json=batch([press(1)]) | STATE,
                              headers=kiosk)) == (1, 0)
    # one write, in one group transaction, one commit, as a bare batch
    assert (writer.writes, writer.groups) == (1, 1)


def test_a_batch_that_fails_to_store_records_no_state_either(client, kiosk, db, app):
    send(client, kiosk, [press(1)])
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("UPDATE device_locations SET location_id = 999")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post(PRESSES_URL, json=batch([press(2)]) | STATE, headers=kiosk)
    assert error(response) == (500, "internal_error")
    assert device_state(db)["last_heartbeat_at"] is None
    assert device_state(db)["version"] is None


def test_a_batch_without_the_fields_leaves_the_heartbeat_state_alone(client, kiosk, db,
                                                                     clock):
    client.post("/api/v1/heartbeat", json=heartbeat(queued=5, version="0.1.0"), headers=kiosk)
    before = dict(device_state(db))
    clock.advance(minutes=1)
    nulls = dict.fromkeys(STATE)
    for body in (batch([press(1)]), batch([press(2)]) | nulls):
        assert client.post(PRESSES_URL, json=body, headers=kiosk).status_code == 200
    after = dict(device_state(db))
    # As before the extension: a batch sets only when the device was seen and what it stored.
    assert after.pop("last_seen_at") == after.pop("last_batch_at") == "2026-11-22T12:01:00.000Z"
    assert after.pop("presses_stored") == 2 and after.pop("highest_seq") == 2
    assert after.pop("held_through") == 2
    for key in ("last_seen_at", "last_batch_at", "presses_stored", "highest_seq",
                "held_through"):
        before.pop(key)
    assert after == before


def test_a_batch_envelope_without_sent_at_keeps_the_last_skew(client, kiosk, db, clock):
    client.post("/api/v1/heartbeat", json=heartbeat(), headers=kiosk)
    clock.advance(minutes=1)
    body = batch([press(1)]) | {"queued": 0, "version": "0.2.0"}
    assert client.post(PRESSES_URL, json=body, headers=kiosk).status_code == 200
    state = device_state(db)
    assert (state["queued"], state["version"]) == (0, "0.2.0")
    assert state["last_heartbeat_at"] == "2026-11-22T12:01:00.000Z"
    assert (state["sent_at"], state["clock_skew_ms"]) == ("2026-11-22T12:00:02.500Z", 2500)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sent_at", "2026-11-22 12:00"),
        ("sent_at", 1700000000),
        ("queued", -1),
        ("queued", True),
        ("queued", 2**63),
        ("oldest_queued_at", "yesterday"),
        ("clock_synced", "true"),
        ("clock_synced", 1),
        ("version", ""),
        ("version", "v" * 101),
        ("version", 2),
        ("parked", -1),
        ("parked", "2"),
    ],
)
def test_a_bad_envelope_field_is_400_naming_it_as_for_a_heartbeat(client, kiosk, db, field,
                                                                   value):
    body = batch([press(1)]) | STATE | {field: value}
    response = client.post(PRESSES_URL, json=body, headers=kiosk)
    assert error(response) == (400, "invalid_field")
    message = response.json["error"]["message"]
    assert message.startswith(f"{field}: ")
    beat = client.post("/api/v1/heartbeat", json=heartbeat(**{field: value}), headers=kiosk)
    assert beat.json["error"]["message"] == message  # checked exactly like the heartbeat's
    assert stored(db) == [] and device_state(db) is None


def test_a_batch_counts_as_heard_from_for_the_silent_device_rule(client, kiosk, site, db,
                                                                  clock):
    site.device("kiosk-2", "ams")  # never heard from: silent from the start

    def silent():
        alerts.evaluate(db, clock())
        return [row[0] for row in db.rows("SELECT device_id FROM alerts"
                                          " WHERE rule = 'silent_device' AND cleared_at IS NULL")]

    client.post(PRESSES_URL, json=batch([press(1)]) | STATE, headers=kiosk)
    clock.advance(minutes=14)
    client.post(PRESSES_URL, json=batch([press(2)]) | STATE, headers=kiosk)  # no heartbeat
    clock.advance(minutes=14)
    assert silent() == ["kiosk-2"]
    assert metric(client, "hub_devices_silent") == 1
    clock.advance(minutes=2)  # 16 minutes since the last batch
    assert sorted(silent()) == ["kiosk-1", "kiosk-2"]
    client.post(PRESSES_URL, json=batch([press(3)]) | STATE, headers=kiosk)
    assert silent() == ["kiosk-2"]  # heard from again: cleared


# /metrics and /healthz


def metric(client, name):
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(name + " "):
            return int(line.split()[-1])
    raise AssertionError(f"no metric {name}")


def test_metrics_count_ingested_duplicates_and_rejections(client, kiosk):
    send(client, kiosk, [press(1), press(2)])
    send(client, kiosk, [press(1), press(2), press(3)])
    send(client, kiosk, [press(4, mood=0)])
    client.post(PRESSES_URL, json=batch([press(5)]))
    assert metric(client, "hub_presses_ingested_total") == 3
    assert metric(client, "hub_presses_duplicate_total") == 2
    assert metric(client, 'hub_requests_rejected_total{reason="invalid_field"}') == 1
    assert metric(client, 'hub_requests_rejected_total{reason="unauthorized"}') == 1


def test_metrics_count_silent_devices(client, kiosk, site, clock):
    site.device("kiosk-2", "ams")
    send(client, kiosk, [press(1)])
    assert metric(client, "hub_devices_silent") == 1
    clock.advance(minutes=16)
    assert metric(client, "hub_devices_silent") == 2


def test_healthz(client, app, tmp_path):
    assert client.get("/healthz").json == {"status": "ok"}
    app.config["DATABASE"] = str(tmp_path / "missing.db")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "degraded", "write": "the database does not answer"}
    assert str(tmp_path) not in response.get_data(as_text=True)  # the path stays in the log


def test_healthz_is_degraded_when_a_commit_works_but_a_batch_would_not_fit(client, monkeypatch):
    # In WAL mode a tiny commit reuses the WAL's space on a full disk: the free space counts.
    monkeypatch.setattr(health, "MIN_FREE_BYTES", 2**62)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json["status"] == "degraded"
    assert response.json["write"].startswith("disk full: ")
    monkeypatch.undo()
    assert client.get("/healthz").json == {"status": "ok"}


def test_a_kiosks_answer_carries_no_cookie_and_no_page_headers(client, kiosk):
    """Device requests are answered with what an API needs: no session cookie, none of the
    headers that only a rendered page needs (the pages keep them: tests/pages)."""
    response = send(client, kiosk, [press(1)])
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    for page_only in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"):
        assert page_only not in response.headers
