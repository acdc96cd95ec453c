"""schemathesis sends the API what its OpenAPI document describes, valid and not.

Target: zero 5xx; every answer one the document lists (status, media type, body); every 4xx
the JSON error `{"error": {"code", "message"}}`; a refused request stores nothing (every data
table unchanged). Against the WSGI app in `make test`; against a live `hub serve` on
127.0.0.1 with many more examples in `make faults` (FAULTS_FULL=1).
"""

import sqlite3
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from hub.payloads import DEVICE_ID
from tests.faults.figures import FULL, record, scale
from tests.security.conftest import table_snapshot


def _negative_data_rejected(ctx, response, case):
    """schemathesis' negative_data_rejection, with the contract's 413 (over 1000 presses,
    over 1 MiB) among the refusals."""
    if response.status_code == 413:
        return None
    return schemathesis.checks.negative_data_rejection(ctx, response, case)


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
    _negative_data_rejected,
]
# Not used: positive_data_acceptance (from <= to and at most 400 days cannot be said in
# OpenAPI, so schema-valid dates are sometimes a correct 400) and ignored_auth (the auth
# matrix of test_auth_matrix.py covers credentials, caller by caller).


def _own_device(case, device_id):
    """Most generated batches name a random device: a 403 before anything else is looked at.
    Naming the token's own device lets the content checks be reached. A device_id that a
    negative case made invalid (or removed) is left as it is."""
    if isinstance(case.body, dict):
        claimed = case.body.get("device_id")
        if isinstance(claimed, str) and DEVICE_ID.fullmatch(claimed):
            case.body["device_id"] = device_id
    return case


def exercise(schema, call, tokens, db_path, examples):
    """Run every operation of *schema* in positive and negative mode; return the figures."""
    seen = Counter()
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        writes = operation.method.upper() == "POST"
        headers = {"Authorization": "Bearer " + tokens["device" if writes else "api"]}
        plans = [(GenerationMode.POSITIVE, True), (GenerationMode.NEGATIVE, True)]
        if writes:
            plans.append((GenerationMode.NEGATIVE, False))
        for mode, own in plans:
            strategy = operation.as_strategy(generation_mode=mode)
            if writes and own:
                strategy = strategy.map(lambda case: _own_device(case, "kiosk-1"))
            label = f"{operation.label} {mode.value}"
            run = settings(max_examples=examples, deadline=None, database=None,
                           derandomize=not FULL, suppress_health_check=list(HealthCheck))(
                given(case=strategy)(_one_case(call, headers, db_path, label, seen, failures)))
            try:
                run()
            except Exception as error:
                if type(error).__name__ != "Unsatisfiable":  # e.g. GET /healthz, no negatives
                    raise
    assert not failures, "\n\n".join(failures[:5])
    return seen


def _one_case(call, headers, db_path, label, seen, failures):
    def run(case):
        before = table_snapshot(db_path)
        response = call(case, headers)
        seen["inputs"] += 1
        seen[response.status_code // 100 * 100] += 1
        if response.status_code >= 500:
            seen["server_errors"] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseException as error:  # a FailureGroup: note it, report them all at the end
            failures.append(f"{label}: {error}"[:2000])
            return
        if response.status_code >= 400:
            body = response.json()
            after = table_snapshot(db_path)
            if response.status_code == 409:  # seq_conflict: says what the hub holds
                assert set(body) == {"error", "highest_seq", "conflicts"}, body
                # and counts the conflict in the device's state, storing no press.
                before.pop("device_state"), after.pop("device_state")
            else:
                assert set(body) == {"error"}, body
            assert set(body["error"]) == {"code", "message"}, body
            assert body["error"]["message"], body
            # The hub's own error refused it, so nothing may have been stored.
            assert after == before, (label, body)

    return run


def _stored_presses(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT count(*) FROM presses").fetchone()[0]
    finally:
        conn.close()


def test_schemathesis_against_the_wsgi_app(world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", world.app)
    started = time.monotonic()
    seen = exercise(schema, lambda case, headers: case.call(headers=headers), world.tokens,
                    world.db_path, examples=scale(25, 150))
    assert seen["server_errors"] == 0
    assert seen[200] and seen[400]  # both sides of the line were reached
    record("bad input", "schemathesis, WSGI app", inputs=seen["inputs"],
           server_errors=seen["server_errors"], seconds=round(time.monotonic() - started, 1))


@pytest.mark.slow
@pytest.mark.skipif(not FULL, reason="make faults runs it (FAULTS_FULL=1); make test: WSGI only")
def test_schemathesis_against_a_live_hub_serve(tmp_path):
    from tests.sync.processes import HubProcess

    hub = HubProcess(tmp_path)
    tokens = {"device": hub.add_device("kiosk-1"), "api": hub.api_token}
    hub.start(workers=2)
    try:
        schema = schemathesis.openapi.from_url(hub.url + "/api/v1/openapi.json")
        started = time.monotonic()
        seen = exercise(schema, lambda case, headers: case.call(base_url=hub.url,
                                                                headers=headers, timeout=30),
                        tokens, str(hub.db), examples=scale(10, 300))
    finally:
        hub.stop()
    log = hub.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert seen["server_errors"] == 0
    record("bad input", "schemathesis, live hub serve", inputs=seen["inputs"],
           server_errors=seen["server_errors"], seconds=round(time.monotonic() - started, 1),
           note=f"{_stored_presses(hub.db)} presses stored by valid batches")
