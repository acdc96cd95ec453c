"""Building what a kiosk sends, and reading back what the hub made of it."""

import uuid

BOOT = "2c1e7c8e-5d8a-4c43-9a55-0d3f4e0c2b11"


def press(seq, mood=4, pressed_at="2026-11-22T10:15:03.120Z", boot_id=BOOT, uptime_ms=None,
          clock_synced=True, misuse=False):
    return {
        "seq": seq,
        "id": str(uuid.UUID(int=seq, version=4)),
        "mood": mood,
        "pressed_at": pressed_at,
        "boot_id": boot_id,
        "uptime_ms": 1000 * seq if uptime_ms is None else uptime_ms,
        "clock_synced": clock_synced,
        "misuse": misuse,
    }


def batch(presses, device_id="kiosk-1", boot_id=BOOT, uptime_ms=10_000_000):
    return {"device_id": device_id, "boot_id": boot_id, "uptime_ms": uptime_ms,
            "presses": presses}


def send(client, headers, presses, **kwargs):
    return client.post("/api/v1/presses", json=batch(presses, **kwargs), headers=headers)


def hourly(client, headers, slug, first, last=None, **params):
    query = {"from": first, "to": last or first, **params}
    response = client.get(f"/api/v1/locations/{slug}/hourly", query_string=query,
                          headers=headers)
    assert response.status_code == 200, response.json
    return response.json["hours"]


def error(response):
    """(status, code) of an error response, after checking it has the contract's shape."""
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status_code, body["error"]["code"]
