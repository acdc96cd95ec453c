"""The sync loop against a hub that answers what the test wants: every failure class."""

import logging
import random
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from kiosk.sync import BACKOFF_CAP_S, REFUSED_RETRY_S, TOKEN_CHECK_S, Backoff, SyncLoop
from tests.faultproxy import FaultProxy
from tests.support import free_port, wait_until
from tests.sync.fakes import BOOT, TOKEN, FakeHub, config
from tests.tls import PrivateCA


class Ceiling(random.Random):
    """A "random" that always draws the top of the range, to read the backoff ceilings."""

    def uniform(self, a, b):
        return b


def test_backoff_ceiling_doubles_up_to_the_cap():
    backoff = Backoff(base=1.0, cap=300.0, rand=Ceiling())
    delays = [backoff.next_delay() for _ in range(12)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_backoff_has_full_jitter_between_zero_and_the_ceiling():
    backoff = Backoff(base=1.0, cap=300.0, rand=random.Random(1))
    for _ in range(9):
        backoff.next_delay()
    draws = [backoff.next_delay() for _ in range(2000)]  # all at the cap now
    assert all(0 <= d <= 300 for d in draws)
    assert min(draws) < 15 and max(draws) > 285  # the whole range, not "cap ± a little"
    assert 130 < sum(draws) / len(draws) < 170


def test_sends_oldest_first_in_batches_then_waits_the_interval(hub, buffer, make_loop):
    buffer.add(*range(1, 1201))
    loop = make_loop()
    assert loop.step() == 0  # a backlog remains: again at once
    assert loop.step() == 0
    assert loop.step() == 30  # the last, short batch: back to the interval
    assert hub.batches() == [list(range(1, 501)), list(range(501, 1001)),
                             list(range(1001, 1201))]
    assert sorted(buffer.synced) == list(range(1, 1201))
    assert sorted(hub.presses) == list(range(1, 1201))
    path, body, headers = hub.requests[0]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert {k: body[k] for k in ("device_id", "boot_id", "uptime_ms")} == {
        "device_id": "kiosk-1", "boot_id": BOOT, "uptime_ms": 5_000_000}
    assert body["presses"][0] == buffer.rows[1]
    assert buffer.meta["last_sync_at"] == "2026-11-22T12:00:00.000Z"
    assert buffer.meta.get("last_sync_error") is None


def test_nothing_queued_sends_only_the_heartbeat_each_interval(hub, buffer, make_loop,
                                                               fake_time):
    loop = make_loop(sync_interval_s=60)
    assert loop.step() == 60
    assert loop.step() == 60  # not due yet: nothing sent
    fake_time.advance(60)
    loop.step()
    assert [path for path, _, _ in hub.requests] == ["/api/v1/heartbeat"] * 2


@pytest.mark.parametrize("answer", [
    (500, {}, {"error": {"code": "internal_error", "message": "boom"}}),
    (502, {}, "bad gateway"),
    (503, {}, {"error": {"code": "unavailable", "message": "db"}}),
    (429, {}, {"error": {"code": "too_many_requests", "message": "slow down"}}),
])
def test_5xx_and_429_back_off_with_growing_jittered_delays(hub, buffer, make_loop, fake_time,
                                                          answer):
    buffer.add(1, 2, 3)
    loop = make_loop()
    loop.backoff.random = Ceiling()
    hub.script = [answer] * 5
    delays = []
    for _ in range(5):
        delays.append(loop.step())
        assert loop.step() == pytest.approx(delays[-1])  # waiting: nothing sent meanwhile
        fake_time.advance(delays[-1])
    assert delays == [1, 2, 4, 8, 16]
    assert len(hub.requests) == 5
    assert not buffer.synced
    assert buffer.meta["last_sync_error"].startswith(f"HTTP {answer[0]}")
    assert loop.step() == 30  # the hub is back
    assert sorted(buffer.synced) == [1, 2, 3]
    assert buffer.meta.get("last_sync_error") is None
    assert loop.backoff.failures == 0


def test_connection_refused_and_dropped_connections_are_transient(buffer, make_loop,
                                                                  fake_time, hub):
    buffer.add(1)
    loop = make_loop(url=f"http://127.0.0.1:{free_port()}")
    delay = loop.step()
    assert 0 <= delay <= 1
    assert buffer.meta["last_sync_error"].startswith("hub unreachable")
    with FaultProxy(hub.port) as proxy:
        proxy.set("drop")
        loop = make_loop(url=proxy.url)
        assert 0 <= loop.step() <= 1
        assert loop.failure.kind == "transient" and not buffer.synced
        proxy.set("503", retry_after=7)
        fake_time.advance(10)
        assert 7 <= loop.step() <= 9
        proxy.set("pass")
        fake_time.advance(10)
        loop.step()
    assert sorted(buffer.synced) == [1]


def test_connect_timeout_is_transient_and_the_loop_does_not_hang(buffer, make_loop):
    """A hub whose accept queue is full (SYNs dropped, as by an overloaded host or a
    firewall): the connect timeout ends the try, nothing is marked synced."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):  # fill the accept queue; nobody ever accepts
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            buffer.add(1)
            loop = make_loop(url=f"http://127.0.0.1:{port}", timeout=(0.3, 30.0))
            assert 0 <= loop.step() <= 1
        finally:
            for filler in fillers:
                filler.close()
    assert loop.failure.kind == "transient"
    assert buffer.meta["last_sync_error"] == "hub unreachable: connect timed out"
    assert not buffer.synced


def test_read_timeout_is_transient_and_the_resend_is_a_duplicate(hub, buffer, make_loop,
                                                                fake_time):
    buffer.add(1, 2)
    with FaultProxy(hub.port) as proxy:
        proxy.set("delay", delay_s=0.6)  # the hub answers after the kiosk gave up
        loop = make_loop(url=proxy.url, timeout=(1.0, 0.3))
        assert loop.step() <= 1
        assert "read timeout" in buffer.meta["last_sync_error"]
        wait_until(lambda: len(hub.presses) == 2, message="the delayed batch to reach the hub")
        assert not buffer.synced
        proxy.set("pass")
        fake_time.advance(5)
        loop.step()
    assert sorted(buffer.synced) == [1, 2]
    assert hub.batches() == [[1, 2], [1, 2]]  # sent twice, stored once


def test_retry_after_seconds_is_honoured_plus_jitter(hub, buffer, make_loop):
    buffer.add(1)
    hub.script = [(429, {"Retry-After": "120"}, {"error": {"code": "x", "message": "y"}})]
    loop = make_loop()
    delay = loop.step()
    assert 120 <= delay <= 121


def test_retry_after_http_date_is_honoured(hub, buffer, make_loop):
    buffer.add(1)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    hub.script = [(503, {"Retry-After": when}, {"error": {"code": "x", "message": "y"}})]
    loop = make_loop()
    assert 85 <= loop.step() <= 92


def test_absurd_retry_after_is_capped(hub, buffer, make_loop):
    buffer.add(1)
    hub.script = [(503, {"Retry-After": "99999999"}, {"error": {"code": "x", "message": "y"}})]
    assert make_loop().step() <= 3600 + 1


def test_413_halves_the_batch_until_the_hub_takes_it(hub, buffer, make_loop):
    buffer.add(*range(1, 301))
    hub.max_presses = 100
    loop = make_loop()
    while loop.step() == 0:
        pass
    assert [len(b) for b in hub.batches()] == [300, 150, 75, 75, 75, 75]
    assert loop.batch_size == 75
    assert sorted(hub.presses) == list(range(1, 301))
    assert not buffer.parked_rows


def test_413_on_a_single_press_parks_it(hub, buffer, make_loop):
    buffer.add(1, 2)
    hub.max_presses = 0  # even one press is too large; an empty probe is fine
    loop = make_loop()
    while loop.step() == 0:
        pass
    assert set(buffer.parked_rows) == {1, 2}
    assert "too_large" in buffer.parked_rows[1]
    assert loop.batch_size == 1


def test_400_bisects_parks_the_bad_presses_and_sends_the_rest(hub, buffer, make_loop,
                                                              fake_time):
    buffer.add(*range(1, 501))
    hub.bad_seqs = {7, 300}
    loop = make_loop()
    while loop.step() == 0:
        pass
    fake_time.advance(30)
    loop.step()  # nothing left to send: the next interval's heartbeat goes alone
    assert sorted(buffer.parked_rows) == [7, 300]
    assert buffer.parked_rows[7] == "HTTP 400 invalid_field: presses[0].mood: expected 1-4"
    assert sorted(hub.presses) == sorted(set(range(1, 501)) - {7, 300})
    assert sorted(buffer.synced) == sorted(hub.presses)
    assert len(hub.requests) <= 2 * 2 * 9 + 4  # bisection, not one request per press
    assert loop.failure is None
    assert buffer.status()["parked"] == 2
    beat = hub.heartbeats()[-1]
    assert beat["parked"] == 2 and beat["queued"] == 0
    assert hub.paths()[-1] == "/api/v1/heartbeat" and len(hub.heartbeats()) == 1


def test_400_on_the_envelope_parks_nothing_and_retries_slowly(hub, buffer, make_loop,
                                                              fake_time):
    buffer.add(1, 2, 3, 4)
    hub.bad_envelope = True
    loop = make_loop()
    assert loop.step() == REFUSED_RETRY_S
    assert not buffer.parked_rows and not buffer.synced
    assert "boot_id" in buffer.meta["last_sync_error"]
    sent = len(hub.requests)
    fake_time.advance(REFUSED_RETRY_S - 1)
    loop.step()
    assert len(hub.requests) == sent
    hub.bad_envelope = False
    fake_time.advance(1)
    loop.step()
    assert sorted(buffer.synced) == [1, 2, 3, 4]


@pytest.mark.parametrize("status", [401, 403])
def test_401_403_stop_sending_report_and_retry_every_5_minutes(hub, buffer, make_loop,
                                                               fake_time, status, caplog):
    buffer.add(1, 2)
    hub.auth_status = status
    loop = make_loop()
    with caplog.at_level(logging.DEBUG, logger="kiosk.sync"):
        assert loop.step() == REFUSED_RETRY_S
        assert buffer.meta["hub_auth_error"].startswith(f"HTTP {status}")
        assert buffer.meta["last_sync_error"] == buffer.meta["hub_auth_error"]
        for _ in range(3):  # every 5 minutes, one try, and nothing in between
            sent = len(hub.requests)
            fake_time.advance(REFUSED_RETRY_S - 1)
            loop.step()
            assert len(hub.requests) == sent
            fake_time.advance(1)
            assert loop.step() == REFUSED_RETRY_S
            assert len(hub.requests) == sent + 1
        buffer.add(3)  # presses keep being buffered meanwhile
        hub.auth_status = None  # the operator fixed the token
        fake_time.advance(REFUSED_RETRY_S)
        loop.step()
    assert sorted(buffer.synced) == [1, 2, 3]
    assert buffer.meta["hub_auth_error"] is None and buffer.meta.get("last_sync_error") is None
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    # One line for the state change and a reminder after 10 minutes, not one line per try.
    assert len(warnings) == 2
    assert all(f"HTTP {status}" in r.getMessage() for r in warnings)
    assert TOKEN not in caplog.text


def test_heartbeat_carries_the_state_and_gives_the_clock_skew(hub, buffer, make_loop,
                                                             fake_time):
    hub.server_time = lambda: fake_time.wall_clock() - timedelta(days=3 * 365)
    hub.script = [(503, {}, {"error": {"code": "x", "message": "y"}})]  # the first try fails
    loop = make_loop()
    fake_time.advance(loop.step())
    loop.step()
    assert hub.paths() == ["/api/v1/heartbeat"] * 2  # nothing queued: heartbeats only
    beat = hub.heartbeats()[1]
    assert beat == {
        "device_id": "kiosk-1", "boot_id": BOOT, "uptime_ms": 5_000_000,
        "sent_at": beat["sent_at"], "queued": 0, "oldest_queued_at": None,
        "clock_synced": True, "version": beat["version"], "parked": 0,
        "buffer_id": "memory-buffer",
    }
    assert buffer.meta["clock_skew_s"] == pytest.approx(3 * 365 * 86400, abs=1)


def test_a_batch_carries_the_heartbeats_fields_and_gives_the_clock_skew(hub, buffer,
                                                                        make_loop, fake_time):
    buffer.add(1, 2)
    buffer.parked_rows[9] = "an old refusal"
    hub.server_time = lambda: fake_time.wall_clock() - timedelta(days=3 * 365)
    loop = make_loop()
    assert loop.step() == 30
    assert hub.paths() == ["/api/v1/presses"]  # the batch was the heartbeat: one request
    body = hub.requests[0][1]
    assert body == {
        "device_id": "kiosk-1", "boot_id": BOOT, "uptime_ms": 5_000_000,
        "presses": [buffer.rows[1], buffer.rows[2]],
        "sent_at": "2026-11-22T12:00:00.000Z", "queued": 0, "oldest_queued_at": None,
        "clock_synced": True, "version": body["version"], "parked": 1,
        "buffer_id": "memory-buffer",
    }  # queued: what is left once this batch is stored
    assert buffer.meta["clock_skew_s"] == pytest.approx(3 * 365 * 86400, abs=1)


def test_a_batch_reports_what_it_leaves_queued(hub, buffer, make_loop):
    buffer.add(*range(1, 8))
    loop = make_loop(batch_size=5)
    assert loop.step() == 0
    assert loop.step() == 30
    first, second = (body for _, body, _ in hub.requests)
    assert first["queued"] == 2 and first["oldest_queued_at"] == buffer.rows[6]["pressed_at"]
    assert "sent_at" not in second  # the heartbeat of this interval has been given
    assert hub.heartbeats() == []


def test_a_kiosk_with_presses_sends_one_request_per_interval(hub, buffer, make_loop,
                                                             fake_time):
    loop = make_loop(sync_interval_s=60)
    for minute in range(5):
        buffer.add(2 * minute + 1, 2 * minute + 2)  # presses made during the minute
        assert loop.step() == 60
        fake_time.advance(30)
        assert loop.step() == 30  # woken early: nothing due, nothing sent
        fake_time.advance(30)
    assert hub.paths() == ["/api/v1/presses"] * 5
    assert all(body["sent_at"] for body in hub.states()) and len(hub.states()) == 5
    assert sorted(hub.presses) == list(range(1, 11))


def test_an_idle_kiosk_still_heartbeats_every_interval(hub, buffer, make_loop, fake_time):
    loop = make_loop(sync_interval_s=60)
    buffer.add(1)
    loop.step()
    for _ in range(3):
        fake_time.advance(60)
        assert loop.step() == 60
    buffer.add(2)
    fake_time.advance(60)
    loop.step()
    fake_time.advance(60)
    loop.step()
    assert hub.paths() == ["/api/v1/presses"] + ["/api/v1/heartbeat"] * 3 + [
        "/api/v1/presses", "/api/v1/heartbeat"]


def test_an_older_hub_without_server_time_in_the_batch_answer_still_gets_the_heartbeat(
        hub, buffer, make_loop, fake_time):
    hub.legacy = True
    buffer.add(1)
    loop = make_loop()
    assert loop.step() == 30
    buffer.add(2)
    fake_time.advance(30)
    loop.step()
    assert hub.paths() == ["/api/v1/presses", "/api/v1/heartbeat"] * 2
    assert buffer.meta["clock_skew_s"] == 0


def test_only_an_accepted_batch_is_the_heartbeat(hub, buffer, make_loop):
    buffer.add(1, 2, 3)
    hub.bad_seqs = {1, 2, 3}
    loop = make_loop()
    loop.step()
    assert sorted(buffer.parked_rows) == [1, 2, 3]
    sent = [(body["presses"], "sent_at" in body) for _, body, _ in hub.requests]
    # The refused batches carry the fields until one request is accepted: the empty probe
    # that tells the presses' fault from the envelope's. It was this interval's heartbeat.
    assert [presses == [] for presses, _ in sent][:3] == [False, False, True]
    assert [carries for _, carries in sent] == [True] * 3 + [False] * (len(sent) - 3)
    assert hub.heartbeats() == []


def test_heartbeat_reports_what_is_queued(hub, buffer, make_loop):
    buffer.add(1, 2, 3)
    hub.bad_envelope = True  # the batches are refused, the heartbeat still goes
    loop = make_loop()
    assert loop.step() == REFUSED_RETRY_S
    assert hub.heartbeats()[0]["queued"] == 3
    assert hub.heartbeats()[0]["oldest_queued_at"] == buffer.rows[1]["pressed_at"]


def test_a_refused_heartbeat_does_not_stop_the_presses(hub, buffer, make_loop):
    buffer.add(1)
    loop = make_loop()
    hub.script = [(200, {}, {"inserted": 1, "duplicates": 0}),
                  (400, {}, {"error": {"code": "invalid_field", "message": "version: x"}})]
    assert loop.step() == 30
    assert loop.failure is None and sorted(buffer.synced) == [1]


def test_prunes_synced_presses_older_than_keep_synced_days_once_an_hour(hub, buffer,
                                                                       make_loop, fake_time):
    loop = make_loop(keep_synced_days=30)
    loop.step()
    loop.step()
    assert buffer.pruned_before == [fake_time.wall_clock() - timedelta(days=30)]
    fake_time.advance(3600)
    loop.step()
    assert len(buffer.pruned_before) == 2


def test_progress_is_logged_rate_limited_not_per_batch(hub, buffer, make_loop, caplog):
    buffer.add(*range(1, 5001))
    loop = make_loop(batch_size=100)
    with caplog.at_level(logging.INFO, logger="kiosk.sync"):
        while loop.step() == 0:
            pass
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["sync: synced 100 presses (backlog 4900)",
                     "sync: synced 4900 presses (backlog 0)"]


def test_run_returns_promptly_when_stopped_even_while_backing_off(buffer):
    buffer.add(1)
    stop = threading.Event()
    cfg = config(f"http://127.0.0.1:{free_port()}")
    loop = SyncLoop(cfg, stop, buffer=buffer)
    loop.backoff.base = 1000  # a long wait ahead
    thread = threading.Thread(target=loop.run)
    thread.start()
    wait_until(lambda: loop.failure is not None, message="the first failed try")
    started = time.monotonic()
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert time.monotonic() - started < 1


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for localhost: (cert file, key file)."""
    cert, key = tmp_path / "hub.pem", tmp_path / "hub.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_https_is_verified_by_default_and_ca_file_trusts_a_private_ca(certificate, buffer,
                                                                      make_loop, fake_time):
    hub = FakeHub(tls=certificate)
    try:
        hub.server_time = fake_time.wall_clock
        buffer.add(1)
        loop = make_loop(url=hub.url)
        assert loop.step() == REFUSED_RETRY_S  # an unknown CA will not fix itself soon
        assert buffer.meta["last_sync_error"].startswith("TLS: ")
        assert not buffer.synced and not hub.requests
        loop = make_loop(url=hub.url, ca_file=str(certificate[0]))
        assert loop.client.session.verify == str(certificate[0])
        loop.step()
        assert sorted(buffer.synced) == [1]
    finally:
        hub.close()
    assert TOKEN not in repr(loop.client.session.auth)


def test_a_corrected_token_file_is_used_within_seconds_without_a_restart(
        hub, buffer, make_loop, fake_time, tmp_path, caplog):
    """The hub refuses the token; the technician writes the right one into token_file: the
    daemon tries it within TOKEN_CHECK_S, not at the next 5-minute retry, and syncs."""
    token_file = tmp_path / "token"
    token_file.write_text("a-wrong-token\n")
    buffer.add(1, 2)
    loop = make_loop(token="a-wrong-token", token_file=str(token_file))
    with caplog.at_level(logging.INFO, logger="kiosk.sync"):
        assert loop.step() == TOKEN_CHECK_S
        assert buffer.meta["last_sync_error"].startswith("HTTP 401")
        assert str(token_file) in caplog.text  # the log says where the token comes from
        tried = len(hub.requests)
        fake_time.advance(TOKEN_CHECK_S)
        assert loop.step() == TOKEN_CHECK_S and len(hub.requests) == tried  # unchanged: wait
        token_file.write_text("")  # half-written: not a token, not tried
        fake_time.advance(TOKEN_CHECK_S)
        loop.step()
        assert len(hub.requests) == tried
        token_file.write_text(TOKEN + "\n")
        fake_time.advance(TOKEN_CHECK_S)
        loop.step()
    assert sorted(buffer.synced) == [1, 2]
    assert buffer.meta.get("last_sync_error") is None and buffer.meta["hub_auth_error"] is None
    assert "holds a new token; trying it now" in caplog.text and TOKEN not in caplog.text


@pytest.fixture
def private_ca(tmp_path):
    return PrivateCA.create(tmp_path / "ca")


def test_a_hub_certificate_from_a_private_ca_is_trusted_through_ca_file_only(
        private_ca, buffer, make_loop, fake_time, monkeypatch):
    """ca_file is what verifies the hub, also when the environment points requests at
    another bundle ($REQUESTS_CA_BUNDLE, as certifi's would be)."""
    hub = FakeHub(tls=private_ca.issue())
    try:
        hub.server_time = fake_time.wall_clock
        buffer.add(1)
        loop = make_loop(url=hub.url)
        loop.step()
        assert buffer.meta["last_sync_error"] == (
            "TLS: the hub's certificate is not trusted (unable to get local issuer "
            "certificate): set ca_file to the CA that signed it")
        other = PrivateCA.create(private_ca.dir / "other", name="Someone else's CA")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other.cert))
        loop = make_loop(url=hub.url, ca_file=str(private_ca.cert))
        loop.step()
        assert sorted(buffer.synced) == [1] and buffer.meta.get("last_sync_error") is None
    finally:
        hub.close()


def test_a_certificate_not_yet_valid_by_the_kiosks_clock_is_named_in_plain_words(
        private_ca, buffer, make_loop):
    """A Pi without RTC and NTP whose clock is behind the certificate's start: say that,
    not an OpenSSL error code."""
    hub = FakeHub(tls=private_ca.issue(start="20990101000000Z", end="21000101000000Z"))
    try:
        buffer.add(1)
        loop = make_loop(url=hub.url, ca_file=str(private_ca.cert))
        assert loop.step() == REFUSED_RETRY_S
        error = buffer.meta["last_sync_error"]
        assert error.startswith("TLS: certificate is not yet valid by this kiosk's clock (")
        assert "the clock is behind (no RTC, no NTP?)" in error
        assert not buffer.synced and not hub.requests
    finally:
        hub.close()


def test_a_hub_name_that_does_not_resolve_is_said_in_plain_words(buffer, make_loop):
    buffer.add(1)
    loop = make_loop(url="https://hub.example.invalid")
    loop.step()
    assert buffer.meta["last_sync_error"].startswith(
        "hub unreachable: cannot resolve hub.example.invalid (")
    assert "Errno" not in buffer.meta["last_sync_error"]


def test_cap_is_five_minutes():
    assert BACKOFF_CAP_S == 300


def test_a_buffer_that_cannot_be_opened_is_retried_not_fatal(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    stop = threading.Event()
    loop = SyncLoop(config(f"http://127.0.0.1:{free_port()}", data_dir=blocker / "data"), stop)
    loop.backoff.base = 0.01
    thread = threading.Thread(target=loop.run)
    with caplog.at_level(logging.WARNING, logger="kiosk.sync"):
        thread.start()
        wait_until(lambda: loop.backoff.failures >= 2, message="two tries to open the buffer")
        stop.set()
        thread.join(timeout=2)
    assert not thread.is_alive()
    assert "the press buffer failed: cannot create" in caplog.text
    assert "Traceback" not in caplog.text
