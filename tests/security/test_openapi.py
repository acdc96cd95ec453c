"""The OpenAPI document: served, complete, and true of the hub's real responses."""

import json
from pathlib import Path

import pytest
import schemathesis

from hub.openapi import DOCUMENT
from tests.hub.helpers import batch, press

SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)


def conforms(path, method, response):
    """Assert that *response* is one the document lists for (path, method), body included."""
    operation = SCHEMA[path][method]
    documented = DOCUMENT["paths"][path][method.lower()]["responses"]
    assert str(response.status_code) in documented, (path, method, response.status_code,
                                                     response.get_data(as_text=True))
    operation.validate_response(response)  # raises on a body the document does not allow
    if response.status_code >= 400:
        body = response.get_json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return response


def test_served_at_api_v1_openapi_json_without_credentials(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == json.loads(json.dumps(DOCUMENT))
    assert response.get_json()["openapi"].startswith("3.")


def test_every_api_route_is_documented_and_nothing_else(app):
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1") or rule.rule == "/healthz":
            path = rule.rule.replace("<slug>", "{slug}").replace("<int:action_id>",
                                                                  "{action_id}")
            served |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}
    assert served == documented


def test_the_document_is_a_valid_openapi_3_document():
    # Loading every operation makes schemathesis resolve each $ref and parameter.
    operations = [result.ok() for result in SCHEMA.get_all_operations()]
    assert len(operations) == sum(len(item) for item in DOCUMENT["paths"].values())


def test_device_endpoint_responses_match_the_document(world):
    client, device = world.app.test_client(), world.headers("device")
    path = "/api/v1/presses"
    ok = conforms(path, "POST", client.post(path, headers=device,
                                            json=batch([press(6), press(1)])))
    assert (ok.get_json()["inserted"], ok.get_json()["duplicates"]) == (1, 1)
    conforms(path, "POST", client.post(path, headers=device, json=batch([press(7, mood=9)])))
    conforms(path, "POST", client.post(path, headers=device, data="{",
                                       content_type="application/json"))
    conforms(path, "POST", client.post(path, json=batch([press(8)])))
    conforms(path, "POST", client.post(path, headers=world.headers("revoked"),
                                       json=batch([press(8)], device_id="kiosk-2")))
    conforms(path, "POST", client.post(path, headers=device, json=batch([], device_id="kiosk-3")))
    conforms(path, "POST", client.post(path, headers=world.headers("api"), json=batch([])))
    conforms(path, "POST", client.post(path, headers=device, data="x", content_type="text/plain"))
    conforms(path, "POST", client.post(path, headers=device,
                                       json=batch([press(n) for n in range(1, 1002)])))
    beat = {"device_id": "kiosk-1", "boot_id": "b", "uptime_ms": 5,
            "sent_at": "2026-11-22T12:00:00.000Z", "queued": None, "version": "1.0"}
    hb = conforms("/api/v1/heartbeat", "POST",
                  client.post("/api/v1/heartbeat", headers=device, json=beat))
    assert hb.get_json()["server_time"] == "2026-11-22T12:00:00.000Z"
    conforms("/api/v1/heartbeat", "POST", client.post("/api/v1/heartbeat", headers=device,
                                                      json={**beat, "sent_at": "yesterday"}))


@pytest.mark.parametrize("caller", ["api", "viewer"])
def test_read_endpoint_responses_match_the_document(world, caller):
    client, auth = world.client(caller), world.headers(caller)
    locations = conforms("/api/v1/locations", "GET", client.get("/api/v1/locations",
                                                                 headers=auth))
    assert [row["slug"] for row in locations.get_json()] == ["ams", "ber"]
    hourly = "/api/v1/locations/{slug}/hourly"
    query = {"from": "2026-11-22", "to": "2026-11-22"}
    hours = conforms(hourly, "GET", client.get("/api/v1/locations/ams/hourly", headers=auth,
                                               query_string=query))
    assert sum(hour["total"] for hour in hours.get_json()["hours"]) == 7  # kiosk-1 and -2
    csv = conforms(hourly, "GET", client.get("/api/v1/locations/ams/hourly", headers=auth,
                                             query_string={**query, "format": "csv"}))
    assert csv.mimetype == "text/csv"
    for bad in ({"from": "2026-11-22"}, {**query, "to": "2026-11-21"},
                {**query, "format": "xml"}, {"from": "2025-01-01", "to": "2026-11-22"}):
        conforms(hourly, "GET", client.get("/api/v1/locations/ams/hourly", headers=auth,
                                           query_string=bad))
    conforms(hourly, "GET", client.get("/api/v1/locations/nowhere/hourly", headers=auth,
                                       query_string=query))
    assert {"n", "happy_index_ci"} <= set(hours.get_json()["hours"][0])
    ranking = conforms("/api/v1/ranking", "GET", client.get("/api/v1/ranking", headers=auth,
                                                            query_string=query))
    assert [row["location"] for row in ranking.get_json()["rows"]][-1] == "ber"  # no presses
    for bad in ({"from": "2026-11-22"}, {**query, "to": "2026-11-21"}):
        conforms("/api/v1/ranking", "GET", client.get("/api/v1/ranking", headers=auth,
                                                      query_string=bad))
    page = conforms("/api/v1/presses", "GET", client.get(
        "/api/v1/presses", headers=auth,
        query_string={"location": "ams", "limit": 2, "include_misuse": 1, **query}))
    assert len(page.get_json()["presses"]) == 2 and page.get_json()["next"]
    last = conforms("/api/v1/presses", "GET", client.get(
        "/api/v1/presses", headers=auth,
        query_string={"location": "ams", "limit": 10, "after": page.get_json()["next"], **query}))
    assert last.get_json()["next"] is None
    for bad in ({"location": "ams", **query, "limit": 0},
                {"location": "ams", **query, "after": "garbage"},
                {**query}, {"location": "ams", "from": "2026-02-30", "to": "2026-03-01"}):
        conforms("/api/v1/presses", "GET", client.get("/api/v1/presses", headers=auth,
                                                      query_string=bad))


def test_refusals_of_read_endpoints_match_the_document(world):
    client = world.app.test_client()
    for caller in ("anonymous", "device", "revoked"):
        conforms("/api/v1/locations", "GET",
                 client.get("/api/v1/locations", headers=world.headers(caller)))
    conforms("/healthz", "GET", client.get("/healthz"))


def test_a_degraded_healthz_matches_the_document(app, tmp_path):
    app.config["DATABASE"] = str(tmp_path / "missing.db")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["status"] == "degraded"
    SCHEMA["/healthz"]["GET"].validate_response(response)  # a health answer, not an error


def test_conforms_catches_a_body_or_status_the_document_does_not_allow():
    # The checker itself, so that the tests above cannot pass by checking nothing.
    from flask import Flask

    fake = Flask("fake")
    fake.add_url_rule("/wrong", "wrong", lambda: ({"inserted": "3"}, 200))
    fake.add_url_rule("/conflict", "conflict",
                      lambda: ({"error": {"code": "x", "message": "y"}}, 409))
    client = fake.test_client()
    with pytest.raises(BaseExceptionGroup) as caught:
        conforms("/api/v1/presses", "POST", client.get("/wrong"))
    assert all("violates schema" in str(error) for error in caught.value.exceptions)
    with pytest.raises(AssertionError):
        conforms("/api/v1/presses", "POST", client.get("/conflict"))


def test_docs_openapi_json_is_the_served_document():
    # Regenerate with `python -m hub.openapi > docs/openapi.json`.
    path = Path(__file__).parents[2] / "docs" / "openapi.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(DOCUMENT))
