"""The actions endpoints answer what the OpenAPI document says, errors included."""

import pytest

from tests.security.test_openapi import conforms

LIST = "/api/v1/locations/{slug}/actions"
EFFECT = "/api/v1/actions/{action_id}/effect"


@pytest.mark.parametrize("caller", ["api", "viewer"])
def test_action_endpoints_match_the_document(world, caller):
    client, auth = world.client(caller), world.headers(caller)
    listed = conforms(LIST, "GET", client.get("/api/v1/locations/ams/actions", headers=auth))
    assert [a["title"] for a in listed.get_json()["actions"]] == ["Second scanner opened"]
    assert listed.get_json()["actions"][0]["starts_at"] == "2026-11-15T08:00:00+01:00"
    conforms(LIST, "GET", client.get("/api/v1/locations/nowhere/actions", headers=auth))
    for days in (None, "7", "14", "28"):
        query = {} if days is None else {"days": days}
        effect = conforms(EFFECT, "GET", client.get("/api/v1/actions/1/effect", headers=auth,
                                                    query_string=query))
        body = effect.get_json()
        assert body["window_days"] == int(days or 14)
        # The world's 7 presses (kiosk-1's 5, revoked kiosk-2's 2) are of 2026-11-22 10:15Z:
        # a week after the action (07:00Z) and 3 h, so in the 14 and 28 days after it only.
        week = days == "7"
        assert body["before"]["n"] == 0 and body["after"]["n"] == (0 if week else 7)
        assert body["after"]["complete"] is week
        assert body["verdict"] == "too_few_presses"
    for bad in ({"days": "10"}, {"days": "fourteen"}, {"days": ""}):
        refused = conforms(EFFECT, "GET", client.get("/api/v1/actions/1/effect", headers=auth,
                                                     query_string=bad))
        assert refused.status_code == 400
        assert refused.get_json()["error"]["message"].startswith("days:")
    for missing in ("/api/v1/actions/2/effect", f"/api/v1/actions/{2**70}/effect"):
        answer = conforms(EFFECT, "GET", client.get(missing, headers=auth))
        assert answer.status_code == 404


def test_refusals_of_the_action_endpoints_match_the_document(world):
    client = world.app.test_client()
    for caller, status in (("anonymous", 401), ("device", 403), ("revoked", 401)):
        headers = world.headers(caller)
        for template, path in ((LIST, "/api/v1/locations/ams/actions"),
                               (EFFECT, "/api/v1/actions/1/effect")):
            answer = conforms(template, "GET", client.get(path, headers=headers))
            assert answer.status_code == status, (caller, path)
