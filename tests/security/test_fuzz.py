"""hypothesis fuzzes the press validator and the CSV/JSON exports.

The validator may only ever answer with a parsed batch or the API's own error (ApiError);
the CSV writer guards every cell a spreadsheet would run as a formula, and a CSV or JSON
export reads back as exactly what was stored.
"""

import copy
import csv
import io
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import reports
from hub.csvout import csv_lines, guard
from hub.errors import ApiError
from hub.payloads import parse_heartbeat, parse_press_batch
from tests.faults.figures import record, scale
from tests.hub.helpers import batch, press

EXAMPLES = scale(200, 3000)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
# Values close to the edges of what the validator accepts.
edgy = st.sampled_from([
    None, True, False, 0, -1, 1, 4, 5, 2**63 - 1, 2**63, 2**64, -(2**63), 1.0, 4.0, "", " ",
    "1", "kiosk-1", "kiosk-2", "KIOSK-1", "kiosk-1\n", "\u0000", "\ud800", "é", "a" * 65,
    "2026-11-22T10:15:03.120Z", "2026-11-22T10:15:03Z", "2026-11-22 10:15:03",
    "2026-02-30T00:00:00Z", "1899-12-31T23:59:59Z", "9999-12-31T23:59:59Z",
    "0000-00-00T00:00:00Z", "2026-11-22T10:15:03+14:00",
    "2026-11-22T10:15:03.1234567890Z", str(uuid.UUID(int=1, version=4)), "not-a-uuid",
    [], {}, [[]], {"seq": 1},
]) | json_values

FIELDS = ("seq", "id", "mood", "pressed_at", "boot_id", "uptime_ms", "clock_synced", "misuse")
TOP = ("device_id", "boot_id", "uptime_ms", "presses")
tried = {"inputs": 0}


@pytest.fixture
def world_app(world):
    """One app for all examples of a test (hypothesis does not reset function fixtures;
    each example leaves the database as valid as it found it)."""
    return world.app, world.headers("device")


@st.composite
def near_valid_batches(draw):
    """A valid batch of kiosk-1 with a few fields replaced, removed or added."""
    presses = [press(seq) for seq in range(1, draw(st.integers(1, 5)) + 1)]
    body = batch(presses)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "press", "press"]))
        target = body if where == "top" else draw(st.sampled_from(presses))
        key = draw(st.sampled_from(TOP if where == "top" else FIELDS) | st.text(max_size=5))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(edgy)
    return body


def _parse(parser, body):
    """Only a parsed value or the API's error; the error has a code and names a field."""
    tried["inputs"] += 1
    original = copy.deepcopy(body)
    try:
        parser(body, "kiosk-1")
    except ApiError as error:
        assert error.status in (400, 403, 413) and error.code and error.message
    assert body == original  # the validator never changes what it checks


@FUZZ
@given(body=json_values | near_valid_batches())
def test_press_validator_raises_only_the_api_error(body):
    _parse(parse_press_batch, body)


@FUZZ
@given(body=json_values | st.fixed_dictionaries(
    {"device_id": st.just("kiosk-1"), "boot_id": edgy, "uptime_ms": edgy, "sent_at": edgy},
    optional={"queued": edgy, "oldest_queued_at": edgy, "clock_synced": edgy, "version": edgy}))
def test_heartbeat_validator_raises_only_the_api_error(body):
    _parse(parse_heartbeat, body)


@settings(max_examples=scale(100, 1000), deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(body=st.binary(max_size=300) | near_valid_batches().map(
    lambda b: json.dumps(b, ensure_ascii=False).encode("utf-8", "surrogatepass")))
def test_any_bytes_posted_get_a_json_answer_never_a_500(world_app, body):
    app, headers = world_app
    response = app.test_client().post("/api/v1/presses", data=body, headers=headers,
                                      content_type="application/json")
    tried["inputs"] += 1
    assert response.status_code in (200, 400, 403, 413), response.get_data(as_text=True)
    if response.status_code != 200:
        error = response.get_json()["error"]
        assert error["code"] in ("invalid_json", "invalid_field", "forbidden", "too_large")


def _read_csv(lines):
    return list(csv.reader(io.StringIO("".join(lines), newline="")))


@FUZZ
@given(rows=st.lists(st.lists(st.text() | st.integers() | st.none() | st.booleans()
                              | st.floats(allow_nan=False), min_size=3, max_size=3),
                     max_size=5))
def test_csv_cells_never_start_a_formula_and_read_back(rows):
    tried["inputs"] += 1
    back = _read_csv(csv_lines(("a", "b", "c"), rows))
    assert back[0] == ["a", "b", "c"] and len(back) == len(rows) + 1
    for sent, got in zip(rows, back[1:], strict=True):
        for value, cell in zip(sent, got, strict=True):
            # Numbers are numbers (-1 is no formula); text never starts one.
            assert not isinstance(value, str) or not cell.startswith(DANGEROUS)
            if isinstance(value, str) and value.startswith(DANGEROUS):
                assert cell == "'" + value
            else:
                assert cell == str(guard(value))


names = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)


@settings(max_examples=scale(30, 300), deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(name=names, group=names)
def test_location_names_in_the_overview_csv_are_guarded(world_app, name, group):
    app, _ = world_app
    with app.app_context():
        from hub.db import get_db, hub_now
        db = get_db()
        db.execute("UPDATE locations SET name = ?, location_group = ? WHERE slug = 'ams'",
                   (name, group))
        report = reports.overview(db, hub_now())
        rows = _read_csv(csv_lines(reports.OVERVIEW_COLUMNS, reports.overview_csv_rows(report)))
    tried["inputs"] += 1
    ams = next(row for row in rows[1:] if row[0] == "ams")
    for cell, value in ((ams[1], name), (ams[3], group)):
        assert not cell.startswith(DANGEROUS)
        assert cell == (("'" + value) if value.startswith(DANGEROUS) else value)


def test_press_exports_read_back_as_stored(world, runner):
    """CSV and JSON of /api/v1/presses and `hub export` give back the stored rows, each once."""
    from hub.cli import cli

    client, api = world.app.test_client(), world.headers("api")
    query = {"location": "ams", "from": "2026-11-01", "to": "2026-11-30", "include_misuse": 1}
    page = client.get("/api/v1/presses", headers=api, query_string=query).get_json()
    as_csv = client.get("/api/v1/presses", headers=api, query_string={**query, "format": "csv"})
    rows = _read_csv([as_csv.get_data(as_text=True)])
    assert rows[0] == list(reports.PRESS_COLUMNS)
    assert [row[0] for row in rows[1:]] == [p["id"] for p in page["presses"]]
    exported = runner.invoke(cli, ["--db", world.db_path, "export", "--location", "ams",
                                   "--from", "2026-11-01", "--to", "2026-11-30", "--format",
                                   "json", "--include-misuse"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output) == page["presses"]


def test_record_fuzz_figures():
    # Runs after the fuzz tests of this module (pytest keeps file order).
    record("bad input", "hypothesis: press/heartbeat validator, posted bytes, CSV guard, "
           "names in CSV", inputs=tried["inputs"], note=f"{EXAMPLES} examples per property")
    assert tried["inputs"] > 0
