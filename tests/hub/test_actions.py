"""Actions: recording them (library, `hub action`), and their effect as the API answers it."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub import effects, stats
from hub.store import actions as action_store
from tests.hub.helpers import error, press, send

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # the FakeClock's start
# Sunday 2026-11-08 08:00 in Amsterdam (07:00Z): 14 days before and after end before NOW.
START = datetime(2026, 11, 8, 7, 0, tzinfo=UTC)


def plant(client, kiosk, start, end, counts, seq, misuse=False):
    """Presses of moods 1-4 (*counts*) spread evenly over [start, end), moods interleaved;
    the next free seq."""
    moods = [mood for mood, n in enumerate(counts, start=1) for _ in range(n)]
    moods = moods[::2] + moods[1::2]  # interleaved, so no part of the window is all one mood
    step = (end - start) / len(moods)
    presses = []
    for i, mood in enumerate(moods):
        at = start + step * i + step / 2
        presses.append(press(seq, mood, at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:23] + "Z",
                             misuse=misuse))
        seq += 1
    for i in range(0, len(presses), 1000):
        assert send(client, kiosk, presses[i:i + 1000]).status_code == 200
    return seq


def record(db, title="Second scanner opened", at="2026-11-08 08:00", **kwargs):
    return effects.record(db, kwargs.pop("slug", "ams"), title=title, at=at,
                          created_by=kwargs.pop("created_by", "ann"), now=NOW, **kwargs)


def get_effect(client, reader, action_id, **query):
    response = client.get(f"/api/v1/actions/{action_id}/effect", headers=reader,
                          query_string=query)
    assert response.status_code == 200, response.json
    return response.json


# Reading times


def test_a_local_time_is_the_locations_and_rfc3339_is_taken_as_it_is():
    expected = datetime(2026, 11, 8, 7, 0, tzinfo=UTC)
    for text in ("2026-11-08 08:00", "2026-11-08T08:00", "2026-11-08 08:00:00",
                 "2026-11-08T08:00:00+01:00", "2026-11-08T07:00:00Z"):
        assert effects.parse_time(text, AMS) == expected, text
    # Summer time: 08:00 in Amsterdam is 06:00Z.
    assert effects.parse_time("2026-07-01 08:00", AMS) == datetime(2026, 7, 1, 6, tzinfo=UTC)


def test_a_time_the_clocks_skip_is_refused_and_the_message_says_why():
    with pytest.raises(effects.BadAction) as caught:
        effects.parse_time("2026-03-29 02:30", AMS, "at")
    assert caught.value.field == "at"
    assert caught.value.detail == ("2026-03-29 02:30 does not exist in Europe/Amsterdam: the "
                                   "clocks skip it (daylight saving time); did you mean 03:30?")
    # Lord Howe Island moves its clocks by half an hour.
    with pytest.raises(effects.BadAction, match="does not exist in Australia/Lord_Howe"):
        effects.parse_time("2026-10-04 02:15", ZoneInfo("Australia/Lord_Howe"))


def test_a_time_the_clocks_show_twice_is_refused_with_both_offsets_to_choose_from():
    with pytest.raises(effects.BadAction) as caught:
        effects.parse_time("2026-10-25 02:30", AMS)
    assert "happens twice in Europe/Amsterdam" in caught.value.detail
    assert "2026-10-25T02:30:00+02:00 (the first)" in caught.value.detail
    assert "2026-10-25T02:30:00+01:00 (the second)" in caught.value.detail
    # Either offset, given, is one instant an hour apart from the other.
    first = effects.parse_time("2026-10-25T02:30:00+02:00", AMS)
    second = effects.parse_time("2026-10-25T02:30:00+01:00", AMS)
    assert second - first == timedelta(hours=1)


@pytest.mark.parametrize("text", ["yesterday", "2026-02-30 08:00", "2026-11-08", "08:00",
                                  "2026-11-08 25:00", "0001-01-01 00:00", ""])
def test_what_is_not_a_time_is_refused(text):
    with pytest.raises(effects.BadAction, match="^at: "):
        effects.parse_time(text, AMS, "at")


# Recording


def test_recording_checks_each_field(db, site):
    site.location("ams")
    site.location("ber", timezone="Europe/Berlin")
    action_id = record(db, title="  Second   scanner opened ", note=" at lane 3 ",
                       until="2026-11-09 08:00")
    row = action_store.action(db, action_id)
    assert (row["title"], row["note"], row["starts_at"], row["ends_at"], row["created_by"]) == (
        "Second scanner opened", "at lane 3", "2026-11-08T07:00:00.000Z",
        "2026-11-09T07:00:00.000Z", "ann")
    refusals = [
        ({"title": " "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"note": "x" * 2001}, "note"),
        ({"until": "2026-11-08 08:00"}, "until"),  # not after the start
        ({"until": "2026-11-08 07:00"}, "until"),
        ({"at": "2028-01-01 08:00"}, "at"),  # more than a year ahead
        ({"alert_id": 99}, "alert"),
    ]
    for change, field in refusals:
        with pytest.raises(effects.BadAction) as caught:
            record(db, **change)
        assert caught.value.field == field, change
    assert [row["id"] for row in action_store.at_location(db, 1)] == [action_id]


def test_an_action_answers_an_alert_of_its_own_location_only(db, site):
    from hub.store import alerts as alert_store

    site.location("ams")
    site.location("ber", timezone="Europe/Berlin")
    alert_id = alert_store.raise_alert(db, 2, "negative_feedback", "", "2026-11-08T07:00:00.000Z",
                                       "{}")
    with pytest.raises(effects.BadAction, match="no alert 1 at ams"):
        record(db, alert_id=alert_id)
    action_id = record(db, slug="ber", alert_id=alert_id)
    assert action_store.action(db, action_id)["alert_id"] == alert_id


# The effect


def test_a_planted_improvement_is_better_and_the_numbers_are_hub_stats(db, site, client):
    site.location("ams")
    kiosk, reader = site.device("kiosk-1", "ams"), site.reader()
    before_counts, after_counts = (30, 40, 70, 60), (10, 20, 70, 100)
    seq = plant(client, kiosk, START - timedelta(days=14), START, before_counts, 1)
    plant(client, kiosk, START, START + timedelta(days=14), after_counts, seq)
    action_id = record(db)

    body = get_effect(client, reader, action_id)
    before, after = stats.summarise(before_counts), stats.summarise(after_counts)
    diff = stats.difference(before, after)
    assert body["action"] == action_id and body["window_days"] == 14
    assert body["before"] == {
        "from": "2026-10-25T08:00:00+01:00", "to": "2026-11-08T08:00:00+01:00", "n": 200,
        "counts": {"very_unhappy": 30, "unhappy": 40, "happy": 70, "very_happy": 60},
        "happy_index": before.happy_index, "happy_index_ci": list(before.happy_index_ci),
        "negative_share": 35.0, "negative_share_ci": list(before.negative_share_ci),
        "complete": True}
    assert body["after"]["from"] == "2026-11-08T08:00:00+01:00"
    assert body["after"]["to"] == "2026-11-22T08:00:00+01:00"
    assert (body["after"]["n"], body["after"]["happy_index"]) == (200, after.happy_index)
    assert body["difference"] == {"happy_index": diff.happy_index,
                                  "happy_index_ci": list(diff.happy_index_ci)}
    assert body["difference"]["happy_index_ci"][0] > 0
    assert body["verdict"] == "better"
    assert body["summary"] == stats.describe(diff, before, after)
    assert body["summary"].startswith("Better: +")
    assert body["overlapping"] == []


def test_the_same_moods_before_and_after_is_no_clear_change(db, site, client):
    site.location("ams")
    kiosk, reader = site.device("kiosk-1", "ams"), site.reader()
    seq = plant(client, kiosk, START - timedelta(days=14), START, (20, 30, 80, 70), 1)
    plant(client, kiosk, START, START + timedelta(days=14), (21, 29, 81, 69), seq)
    body = get_effect(client, reader, record(db))
    assert body["verdict"] == "no_clear_change"
    low, high = body["difference"]["happy_index_ci"]
    assert low < 0 < high
    assert body["summary"].startswith("No clear change: ")


def test_only_non_misuse_presses_inside_the_windows_count(db, site, client):
    site.location("ams")
    kiosk, reader = site.device("kiosk-1", "ams"), site.reader()
    edge = [
        press(1, 1, "2026-10-25T06:59:59.999Z"),  # just before the before window
        press(2, 4, "2026-10-25T07:00:00.000Z"),  # its first instant: before
        press(3, 4, "2026-11-08T06:59:59.999Z"),  # its last instant: before
        press(4, 1, "2026-11-08T07:00:00.000Z"),  # the action's start: after
        press(5, 1, "2026-11-22T06:59:59.999Z"),  # after's last instant
        press(6, 4, "2026-11-22T07:00:00.000Z"),  # just after the after window
        press(7, 1, "2026-11-01T07:00:00.000Z", misuse=True),  # misuse: out
        press(8, 1, "2026-11-15T07:00:00.000Z", misuse=True),
    ]
    assert send(client, kiosk, edge).status_code == 200
    body = get_effect(client, reader, record(db))
    assert body["before"]["counts"] == {"very_unhappy": 0, "unhappy": 0, "happy": 0,
                                        "very_happy": 2}
    assert body["after"]["counts"] == {"very_unhappy": 2, "unhappy": 0, "happy": 0,
                                       "very_happy": 0}
    assert body["verdict"] == "too_few_presses"
    assert body["summary"] == ("Too few presses to tell (2 before, 2 after; 30 needed on each "
                               "side)")


def test_windows_are_whole_local_weeks_also_across_a_dst_change(db, site, client):
    site.location("ams")
    reader = site.reader()
    # 2026-11-01 08:00 (+01:00); 14 days earlier, 2026-10-18 08:00 was summer time (+02:00).
    action_id = record(db, at="2026-11-01 08:00")
    body = get_effect(client, reader, action_id)
    assert body["before"]["from"] == "2026-10-18T08:00:00+02:00"
    assert body["before"]["to"] == "2026-11-01T08:00:00+01:00"
    body = get_effect(client, reader, action_id, days=7)
    assert body["before"]["from"] == "2026-10-25T08:00:00+01:00"
    assert body["after"]["to"] == "2026-11-08T08:00:00+01:00"
    start, end = effects.windows(datetime(2026, 11, 1, 7, tzinfo=UTC), None, 14, AMS)[:2]
    assert end - start == timedelta(days=14, hours=1)  # a week with a 25-hour day in it


def test_an_end_starts_the_after_window_and_the_time_between_counts_nowhere(db, site, client):
    site.location("ams")
    kiosk, reader = site.device("kiosk-1", "ams"), site.reader()
    # Very unhappy presses while the change was being made: in neither window.
    plant(client, kiosk, START, START + timedelta(days=2), (40, 0, 0, 0), 1)
    action_id = record(db, until="2026-11-10 08:00")
    body = get_effect(client, reader, action_id, days=7)
    assert body["before"]["to"] == "2026-11-08T08:00:00+01:00"
    assert body["after"]["from"] == "2026-11-10T08:00:00+01:00"
    assert body["after"]["to"] == "2026-11-17T08:00:00+01:00"
    assert body["before"]["n"] == body["after"]["n"] == 0


def test_an_after_window_not_over_yet_gives_the_data_so_far_and_says_so(db, site, client):
    site.location("ams")
    kiosk, reader = site.device("kiosk-1", "ams"), site.reader()
    start = datetime(2026, 11, 18, 7, tzinfo=UTC)  # four and a bit days before NOW
    seq = plant(client, kiosk, start - timedelta(days=14), start, (30, 40, 70, 60), 1)
    plant(client, kiosk, start, NOW, (5, 10, 40, 60), seq)
    body = get_effect(client, reader, record(db, at="2026-11-18 08:00"))
    assert body["before"]["complete"] is True and body["after"]["complete"] is False
    assert body["after"]["to"] == "2026-12-02T08:00:00+01:00"  # the whole window, still
    assert body["after"]["n"] == 115
    assert body["as_of"] == "2026-11-22T13:00:00+01:00"
    assert body["verdict"] == "better"  # on what exists
    assert body["summary"].endswith("; the after window runs until 2026-12-02 08:00: this is "
                                    "the data so far")
    planned = get_effect(client, reader, record(db, title="New signs", at="2026-12-01 08:00"))
    assert planned["after"]["n"] == 0 and planned["verdict"] == "too_few_presses"
    assert planned["summary"].endswith("; the after window has not begun yet")


def test_other_actions_inside_the_windows_are_named(db, site, client):
    site.location("ams")
    site.location("ber", timezone="Europe/Berlin")
    reader = site.reader()
    action_id = record(db)
    inside = record(db, title="Music in the queue", at="2026-11-12 10:00")
    ended = record(db, title="Roadworks", at="2026-10-01 08:00", until="2026-10-30 18:00")
    record(db, title="Long ago", at="2026-09-01 08:00")  # before both windows
    record(db, title="Later", at="2026-11-22 08:00")  # the after window's end: outside
    record(db, slug="ber", title="Elsewhere", at="2026-11-09 08:00")
    body = get_effect(client, reader, action_id)
    assert [(o["id"], o["title"], o["what"]) for o in body["overlapping"]] == [
        (ended, "Roadworks", "ended"), (inside, "Music in the queue", "started")]
    assert body["overlapping"][1]["starts_at"] == "2026-11-12T10:00:00+01:00"


# The API


def test_a_locations_actions_in_time_order(db, site, client):
    site.location("ams")
    site.location("ber", timezone="Europe/Berlin")
    reader = site.reader()
    later = record(db, title="Queue signs", at="2026-11-15 09:30", note="by the door")
    first = record(db, until="2026-11-09 18:00")
    record(db, slug="ber", title="Elsewhere")
    response = client.get("/api/v1/locations/ams/actions", headers=reader)
    assert response.status_code == 200
    assert response.json == {"actions": [
        {"id": first, "location": "ams", "title": "Second scanner opened", "note": "",
         "starts_at": "2026-11-08T08:00:00+01:00", "ends_at": "2026-11-09T18:00:00+01:00",
         "created_by": "ann", "alert_id": None},
        {"id": later, "location": "ams", "title": "Queue signs", "note": "by the door",
         "starts_at": "2026-11-15T09:30:00+01:00", "ends_at": None, "created_by": "ann",
         "alert_id": None},
    ]}


def test_the_api_refuses_what_it_cannot_answer(db, site, client):
    site.location("ams")
    reader, kiosk = site.reader(), site.device("kiosk-1", "ams")
    action_id = record(db)
    for days in ("10", "0", "-7", "14.0", "x"):
        response = client.get(f"/api/v1/actions/{action_id}/effect?days={days}", headers=reader)
        assert error(response) == (400, "invalid_field")
        assert response.json["error"]["message"].startswith("days: expected 7, 14 or 28")
    assert error(client.get("/api/v1/actions/999/effect", headers=reader)) == (404, "not_found")
    assert error(client.get("/api/v1/locations/nowhere/actions", headers=reader)) == (
        404, "not_found")
    for path in (f"/api/v1/actions/{action_id}/effect", "/api/v1/locations/ams/actions"):
        assert error(client.get(path, headers=kiosk)) == (403, "forbidden")
        assert error(client.get(path)) == (401, "unauthorized")


# The command line


def test_hub_action_add_prints_the_id_and_list_shows_it(hub_cli, db, site):
    site.location("ams")
    added = hub_cli("action", "add", "ams", "--title", "Second scanner opened", "--at",
                    "2026-11-08 08:00", "--until", "2026-11-09 18:00", "--note", "lane 3",
                    "--by", "ops")
    assert added.exit_code == 0, added.output
    action_id = int(added.stdout.strip())
    row = action_store.action(db, action_id)
    assert (row["starts_at"], row["ends_at"], row["created_by"]) == (
        "2026-11-08T07:00:00.000Z", "2026-11-09T17:00:00.000Z", "ops")
    assert "2026-11-08T08:00:00+01:00" in added.stderr  # says how the local time was read
    listed = hub_cli("action", "list", "ams")
    assert listed.exit_code == 0
    assert listed.stdout.startswith(f"{action_id}\t2026-11-08T08:00:00+01:00\t"
                                    "2026-11-09T18:00:00+01:00\tSecond scanner opened\tops\t"
                                    "Too few presses to tell")
    as_json = hub_cli("action", "list", "ams", "--json")
    assert '"title": "Second scanner opened"' in as_json.stdout


def test_hub_action_add_without_by_records_the_login_name(hub_cli, db, site, monkeypatch):
    site.location("ams")
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("LOGNAME", "maria")
    added = hub_cli("action", "add", "ams", "--title", "Signs", "--at", "2026-11-08 08:00")
    assert added.exit_code == 0, added.output
    assert action_store.action(db, int(added.stdout))["created_by"] == "cli:maria"


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--title", "x", "--at", "2026-03-29 02:30"], 2, "--at: 2026-03-29 02:30 does not exist"),
    (["--title", "x", "--at", "2026-10-25 02:30"], 2, "happens twice"),
    (["--title", "x", "--at", "soon"], 2, "--at"),
    (["--title", "x", "--at", "2026-11-08 08:00", "--until", "2026-11-01 08:00"], 2,
     "--until"),
    (["--title", "", "--at", "2026-11-08 08:00"], 2, "--title"),
    (["--title", "x", "--at", "2026-11-08 08:00", "--alert", "one"], 2, "--alert"),
    (["--title", "x", "--at", "2026-11-08 08:00", "--alert", "7"], 2, "no alert 7"),
    (["--title", "x"], 2, "--at"),
])
def test_hub_action_add_refuses_bad_input_in_one_line(hub_cli, site, args, code, words):
    site.location("ams")
    result = hub_cli("action", "add", "ams", *args)
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert result.stdout == ""


def test_hub_action_on_a_missing_location_says_so(hub_cli, site):
    result = hub_cli("action", "add", "nowhere", "--title", "x", "--at", "2026-11-08 08:00")
    assert result.exit_code == 1 and result.stderr.strip() == "Error: no location 'nowhere'"
    assert hub_cli("action", "list", "nowhere").exit_code == 1


def test_hub_action_help_has_an_example(hub_cli):
    for command in (["action"], ["action", "add"], ["action", "list"]):
        shown = hub_cli(*command, "--help")
        assert shown.exit_code == 0 and "Example:" in shown.stdout
        assert "hub action" in shown.stdout.split("Example:")[1]
