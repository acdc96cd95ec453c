"""What the hub holds of a device, and the seqs it refuses: a card swap's seq_conflict, a seq
far ahead, held_through after a gap, the card a batch came from."""

import uuid
from datetime import UTC, datetime

import pytest

from hub.reports import device_health
from hub.store.rollups import rebuild_rollups
from hub.times import zone
from tests.hub.helpers import batch, error, press, send


@pytest.fixture
def kiosk(site):
    site.location("ams")
    return site.device("kiosk-1", "ams")


def other_card(seq, **fields):
    """A press of another card of the same device: same seq, another id."""
    return press(seq, **fields) | {"id": str(uuid.uuid4())}


def stored(db):
    return db.rows("SELECT seq, id FROM presses WHERE device_id = 'kiosk-1' ORDER BY seq")


def test_a_seq_stored_with_another_press_id_is_a_conflict_and_nothing_is_stored(client, kiosk,
                                                                                 db):
    assert send(client, kiosk, [press(1), press(2), press(3)]).status_code == 200
    before = stored(db)
    response = send(client, kiosk, [other_card(2), other_card(3), press(4)])
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"]["code"] == "seq_conflict"
    assert "2, 3" in body["error"]["message"]
    assert body["highest_seq"] == 3 and body["conflicts"] == [2, 3]
    assert stored(db) == before  # press 4 neither: the batch is whole or nothing
    state = db.row("SELECT seq_conflicts, last_seq_conflict_at FROM device_state")
    assert state["seq_conflicts"] == 1 and state["last_seq_conflict_at"] is not None


def test_the_same_press_again_is_still_a_duplicate(client, kiosk):
    send(client, kiosk, [press(1), press(2)])
    response = send(client, kiosk, [press(1), press(2), press(3)])
    assert response.status_code == 200
    assert (response.json["inserted"], response.json["duplicates"]) == (1, 2)


def test_a_renumbered_press_above_the_highest_is_stored(client, kiosk, db):
    """What the kiosk does with a 409: the same presses, renumbered above highest_seq."""
    send(client, kiosk, [press(1), press(2)])
    swapped = [other_card(1), other_card(2)]
    highest = send(client, kiosk, swapped).get_json()["highest_seq"]
    renumbered = [p | {"seq": highest + i} for i, p in enumerate(swapped, start=1)]
    response = send(client, kiosk, renumbered)
    assert response.status_code == 200 and response.json["inserted"] == 2
    assert [seq for seq, _ in stored(db)] == [1, 2, 3, 4]
    assert response.json["highest_seq"] == response.json["held_through"] == 4


def test_a_seq_more_than_a_million_ahead_is_refused_naming_the_field(client, kiosk, db):
    send(client, kiosk, [press(5)])
    response = send(client, kiosk, [press(6), press(5 + 1_000_001)])
    assert error(response) == (400, "invalid_field")
    assert response.json["error"]["message"].startswith("presses[1].seq: expected at most")
    assert send(client, kiosk, [press(2**63 - 1)]).status_code == 400
    assert [seq for seq, _ in stored(db)] == [5]
    assert send(client, kiosk, [press(5 + 1_000_000)]).status_code == 200


def test_a_wide_jump_is_not_counted_as_missing_presses(client, kiosk, site, db):
    """One bad press far ahead must not show as 900,000 presses missing for good."""
    send(client, kiosk, [press(1), press(2), press(4)])
    send(client, kiosk, [press(900_000)])
    location = db.row("SELECT id FROM locations WHERE slug = 'ams'")["id"]
    health = device_health(db, location, zone("Europe/Amsterdam"), datetime.now(UTC),
                           {"silent_after_s": 900})
    assert health[0]["missing"] == 1  # seq 3
    assert health[0]["seq_jumped"] == 900_000 - 4 - 1


def test_held_through_stops_at_the_first_gap_and_moves_on_when_it_is_filled(client, kiosk):
    assert send(client, kiosk, [press(1), press(2), press(5)]).json["held_through"] == 2
    answer = send(client, kiosk, [press(3)]).json
    assert (answer["held_through"], answer["highest_seq"]) == (3, 5)
    assert send(client, kiosk, [press(4)]).json["held_through"] == 5


def test_the_heartbeat_answers_what_the_hub_holds(client, kiosk):
    send(client, kiosk, [press(1), press(3)])
    beat = {"device_id": "kiosk-1", "boot_id": "b-1", "uptime_ms": 5,
            "sent_at": "2026-11-22T12:00:00.000Z"}
    answer = client.post("/api/v1/heartbeat", json=beat, headers=kiosk).get_json()
    assert (answer["highest_seq"], answer["held_through"]) == (3, 1)


def test_a_new_buffer_id_is_recorded_as_a_card_change(client, kiosk, db, clock):
    client.post("/api/v1/presses", headers=kiosk,
                json=batch([press(1)]) | {"buffer_id": "card-a"})
    clock.advance(hours=2)
    client.post("/api/v1/presses", headers=kiosk,
                json=batch([other_card(1)]) | {"buffer_id": "card-b"})  # a 409 still counts
    cards = db.rows("SELECT buffer_id, first_seen_at, last_seen_at FROM device_buffers"
                    " ORDER BY first_seen_at")
    assert [tuple(card) for card in cards] == [
        ("card-a", "2026-11-22T12:00:00.000Z", "2026-11-22T12:00:00.000Z"),
        ("card-b", "2026-11-22T14:00:00.000Z", "2026-11-22T14:00:00.000Z"),
    ]
    assert db.row("SELECT buffer_id FROM device_state")[0] == "card-b"


def test_a_bad_buffer_id_is_refused_naming_the_field(client, kiosk):
    response = client.post("/api/v1/presses", headers=kiosk,
                           json=batch([press(1)]) | {"buffer_id": "../x"})
    assert error(response) == (400, "invalid_field")
    assert response.json["error"]["message"].startswith("buffer_id:")


def test_rebuild_rollups_recounts_held_through(client, kiosk, db):
    send(client, kiosk, [press(1), press(2), press(3), press(5)])
    db.execute("UPDATE device_state SET held_through = 0, highest_seq = 0")
    rebuild_rollups(db)
    state = db.row("SELECT held_through, highest_seq FROM device_state")
    assert (state["held_through"], state["highest_seq"]) == (3, 5)
