"""Actions on the pages: recorded from the location page and from an alert, listed with their
effect, marked on the daily trend and in the hours table, and compared on their own page."""

import html
import json
from datetime import timedelta

from hub import effects
from hub.store import actions as action_store
from hub.store import alerts as alert_store
from tests.hub.test_actions import NOW, START, plant
from tests.pages.conftest import csrf_token, post_form


def improvement(site, client, db):
    """ams with 200 presses in the 14 days before the action and 200 better ones after."""
    site.location("ams")
    kiosk = site.device("kiosk-1", "ams")
    seq = plant(client, kiosk, START - timedelta(days=14), START, (30, 40, 70, 60), 1)
    plant(client, kiosk, START, START + timedelta(days=14), (10, 20, 70, 100), seq)
    return effects.record(db, "ams", title="Second scanner opened", at="2026-11-08 08:00",
                          created_by="ann", now=NOW)


def text(response):
    return html.unescape(response.get_data(as_text=True))


def test_the_location_page_lists_actions_with_their_effect(viewer, site, client, db):
    action_id = improvement(site, client, db)
    page = text(viewer.get("/locations/ams?period=30d"))
    actions = page.split('<section class="card" id="actions">')[1].split("</section>")[0]
    assert f'<a href="/actions/{action_id}">Second scanner opened</a>' in actions
    assert "by ann" in actions
    assert '<span class="verdict verdict-better">Better: +' in actions
    assert "200 presses before, 200 after" in actions
    assert 'action="/locations/ams/actions"' in actions and 'name="csrf_token"' in actions
    # A numbered dashed line on the daily trend, and what it is under the chart.
    assert "<title>Action 1: Second scanner opened (started 2026-11-08 08:00)</title>" in page
    assert "Dashed lines: actions." in page
    # Not on a period that does not hold the action.
    assert "<title>Action 1:" not in text(viewer.get("/locations/ams?period=7d"))


def test_the_hours_table_marks_the_hour_an_action_started(viewer, site, client, db):
    action_id = improvement(site, client, db)
    page = text(viewer.get("/locations/ams?period=30d&day=2026-11-08"))
    hours = page.split('<table class="hours">')[1].split("</table>")[0]
    row = next(r for r in hours.split("<tr>") if r.startswith("<td>08:00"))
    assert f'<a class="marker" href="/actions/{action_id}">Action started: Second scanner ' \
           "opened</a>" in row
    assert "Actions this day: " in page and "(started 08:00)" in page
    assert "Action started" not in text(viewer.get("/locations/ams?period=30d&day=2026-11-09"))


def test_a_viewer_records_an_action_from_the_location_page(viewer, site, db):
    site.location("ams")
    response = post_form(viewer, "/locations/ams", "/locations/ams/actions",
                         {"title": "Queue signs", "at": "2026-11-20 09:15", "until": "",
                          "note": "Two signs by the door", "alert": ""})
    assert response.status_code == 302
    action_id = int(response.headers["Location"].rsplit("/", 1)[1])
    row = action_store.action(db, action_id)
    assert (row["title"], row["starts_at"], row["ends_at"], row["note"], row["created_by"],
            row["alert_id"]) == ("Queue signs", "2026-11-20T08:15:00.000Z", None,
                                 "Two signs by the door", "vic", None)
    page = text(viewer.get(response.headers["Location"]))
    assert "Action recorded: Queue signs." in page
    assert "recorded by vic" in page and "Two signs by the door" in page


def test_a_form_with_a_bad_time_comes_back_with_the_reason_and_the_values(viewer, site, db):
    site.location("ams")
    response = post_form(viewer, "/locations/ams", "/locations/ams/actions",
                         {"title": "Clocks", "at": "2026-03-29 02:30", "until": "",
                          "note": "kept", "alert": ""})
    assert response.status_code == 400
    page = text(response)
    assert ("Started: 2026-03-29 02:30 does not exist in Europe/Amsterdam: the clocks skip it "
            "(daylight saving time); did you mean 03:30?") in page
    assert 'name="title" required maxlength="200" value="Clocks"' in page
    assert 'value="2026-03-29 02:30"' in page and ">kept</textarea>" in page
    assert db.row("SELECT count(*) FROM actions")[0] == 0
    # And without a CSRF token nothing is recorded either.
    refused = viewer.post("/locations/ams/actions", data={"title": "x", "at": "2026-11-20 09:15"})
    assert refused.status_code == 400
    assert db.row("SELECT count(*) FROM actions")[0] == 0


def test_record_what_was_done_from_an_alert(viewer, site, db):
    site.location("ams")
    site.location("ber", timezone="Europe/Berlin")
    alert_id = alert_store.raise_alert(db, 1, "negative_feedback", "", "2026-11-22T07:40:00.000Z",
                                       json.dumps({"window_s": 900, "presses": 6,
                                                   "negative": 5, "share_pct": 83}))
    alerts = text(viewer.get("/alerts"))
    link = f"/locations/ams/actions/new?alert={alert_id}"
    assert f'<a class="small" href="{link}">Record what was done' in alerts
    form = viewer.get(link)
    page = text(form)
    assert (f"In answer to <strong>alert {alert_id}</strong> (negative feedback, opened "
            "2026-11-22 08:40") in page
    assert f'name="alert" value="{alert_id}"' in page
    assert 'value="2026-11-22 13:00"' in page  # starts now, local time, unless changed
    response = viewer.post("/locations/ams/actions", data={
        "title": "Second scanner opened", "at": "2026-11-22 09:00", "alert": str(alert_id),
        "csrf_token": csrf_token(form)})
    assert response.status_code == 302
    row = action_store.action(db, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert row["alert_id"] == alert_id
    page = text(viewer.get(response.headers["Location"]))
    assert f'answers <a href="/alerts?show=all#alert-{alert_id}">alert {alert_id}</a>' in page
    # An alert of another location, or none at all: no form for it.
    assert viewer.get(f"/locations/ber/actions/new?alert={alert_id}").status_code == 404
    assert viewer.get("/locations/ams/actions/new?alert=99").status_code == 404


def test_the_action_page_puts_before_and_after_side_by_side(viewer, site, client, db):
    action_id = improvement(site, client, db)
    page = text(viewer.get(f"/actions/{action_id}"))
    assert '<a href="/actions/1?days=14" aria-current="page">14 days</a>' in page
    assert "<h2 id=\"effect-heading\">Effect over 14 days</h2>" in page
    assert "<strong>Better: +" in page
    table = page.split('<table class="effect">')[1].split("</table>")[0]
    assert ('<th scope="row">Window</th><td class="num">2026-10-25 08:00 to 2026-11-08 08:00'
            '</td><td class="num">2026-11-08 08:00 to 2026-11-22 08:00</td>') in table
    assert '<th scope="row">Presses (n)</th><td class="num">200</td><td class="num">200</td>' \
        in table
    body = client.get(f"/api/v1/actions/{action_id}/effect").get_json()  # the page's session
    before, after = body["before"], body["after"]
    low, high = before["happy_index_ci"]
    assert f"<strong>{before['happy_index']:.1f}</strong> ({low:.1f}–{high:.1f})" in table
    low, high = after["negative_share_ci"]
    assert f"{after['negative_share']:.1f} % ({low:.1f}–{high:.1f} %)" in table
    d_low, d_high = body["difference"]["happy_index_ci"]
    assert (f"<strong>{body['difference']['happy_index']:+.1f} points</strong> (95 % interval "
            f"{d_low:.1f} to {d_high:.1f})") in page
    assert "it is not a guarantee" in page
    assert "checking the effect every day until it looks good will sometimes show a change " \
           "that is only chance" in page
    assert "The after window is not over yet" not in page
    week = text(viewer.get(f"/actions/{action_id}?days=7"))
    assert '<a href="/actions/1?days=7" aria-current="page">7 days</a>' in week
    assert "2026-11-01 08:00 to 2026-11-08 08:00" in week
    odd = text(viewer.get(f"/actions/{action_id}?days=9"))
    assert "Window: choose 7, 14, 28 days; showing 14." in odd
    assert viewer.get("/actions/999").status_code == 404


def test_the_action_page_names_overlapping_actions_and_a_window_still_running(viewer, site,
                                                                             client, db):
    action_id = improvement(site, client, db)
    other = effects.record(db, "ams", title="Music in the queue", at="2026-11-12 10:00",
                           created_by="ann", now=NOW)
    page = text(viewer.get(f"/actions/{action_id}"))
    assert (f'Another action, <a href="/actions/{other}?days=14">Music in the queue</a>, '
            "started during this window: the change may be theirs.") in page
    running = text(viewer.get(f"/actions/{other}"))
    assert "The after window is not over yet (2026-11-26 10:00)" in running
    assert '<span class="badge">so far</span>' in running
    assert "this is the data so far" in running


def test_csv_of_an_action_and_of_a_locations_actions(viewer, site, client, db):
    action_id = improvement(site, client, db)
    lines = viewer.get(f"/actions/{action_id}?format=csv").get_data(as_text=True).splitlines()
    assert lines[0] == ",".join(effects.EFFECT_COLUMNS)
    assert lines[1].startswith('before,2026-10-25T08:00:00+01:00,2026-11-08T08:00:00+01:00,'
                               'true,200,30,40,70,60,')
    assert lines[2].startswith("after,") and lines[3].endswith(",better")
    listed = viewer.get("/locations/ams/actions?format=csv").get_data(as_text=True).splitlines()
    assert listed[0] == ",".join(effects.ACTION_COLUMNS)
    assert listed[1].startswith(f"{action_id},ams,Second scanner opened,,2026-11-08T08:00:00"
                                "+01:00,,ann,,14,200,200,")
    page = text(viewer.get("/locations/ams/actions"))
    assert "Better: +" in page and "<h2>Record an action</h2>" in page
    assert viewer.get("/locations/nowhere/actions").status_code == 404
