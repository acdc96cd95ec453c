"""Store-and-forward: send buffered presses to the hub, oldest first, and a heartbeat.

One request per interval (docs/decisions.md, "Sync"): the first batch of an interval carries
the heartbeat's fields and, when the hub answers it with server_time, is that interval's
heartbeat; a separate heartbeat goes only in an interval in which no such batch was accepted.

Every failure is sorted (docs/decisions.md, "Sync"):
    transient  connection error, timeout, 5xx, 429   back off with full jitter and retry
    too large  413                                    halve the batch; a single press is parked
    bad press  400                                    bisect, park the press the hub refuses
    refused    401, 403 (and a 400 on the envelope)   stop sending, report, retry every 5 min
                                                      (401/403: at once when token_file
                                                      changes; it is looked at every 5 s)
    seq conflict 409 seq_conflict                      renumber the presses named above the
                                                      hub's highest_seq, send them again
A press is marked synced only after a 2xx that is the hub's JSON counting every press sent
(a captive portal's 200 page or a redirect is a transient failure, never a delivery). When
an answer is lost after the hub committed, the resend comes back as duplicates (the hub is
idempotent on device + seq + id) and is marked synced then, so nothing is counted twice.
Every answer says what the hub holds (held_through): synced presses above it that the hub
lost (restored from a backup) are sent again; they are kept keep_synced_days for this.
"""

import logging
import random
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

from kiosk import __version__
from kiosk.clock import Clock
from kiosk.config import read_token
from kiosk.hub_client import (
    TIMEOUT_S,
    HubClient,
    SyncFailure,
    classify,
    contract_answer,
    error_message,
)
from kiosk.store import PressBuffer, StoreError

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0
REFUSED_RETRY_S = 300.0  # 401/403 or a refused envelope: a token or config may be fixed later
TOKEN_CHECK_S = 5.0  # while the hub refuses the token: how often the token file is looked at
PROGRESS_EVERY_S = 60.0  # at most one "synced N presses" line this often
PRUNE_EVERY_S = 3600.0
REMIND_EVERY_S = 600.0  # while failing the same way, one reminder line this often
SKEW_WARN_S = 60.0


class Backoff:
    """Capped exponential backoff with full jitter: uniform(0, min(cap, base * 2**failures))."""

    def __init__(self, base=BACKOFF_BASE_S, cap=BACKOFF_CAP_S, rand=None):
        self.base, self.cap = base, cap
        self.random = rand or random.Random()
        self.failures = 0

    def next_delay(self):
        ceiling = min(self.cap, self.base * 2 ** min(self.failures, 64))
        self.failures += 1
        return self.random.uniform(0, ceiling)

    def reset(self):
        self.failures = 0


def format_utc(instant):
    """RFC 3339 UTC with milliseconds, like the hub: `2026-11-22T10:15:03.120Z`."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text):
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except (AttributeError, ValueError):
        return None


class SyncLoop:
    """The kiosk's sync thread: `SyncLoop(config, stop_event).run()`.

    `step()` does one round (a batch, which is the heartbeat too when one is due, else the
    heartbeat alone when due, pruning when due) and returns
    the seconds to wait before the next; `run()` waits on *stop_event*, so it stops promptly.
    Clocks, randomness, the buffer and the HTTP client can be passed in for tests.
    """

    def __init__(self, config, stop_event=None, *, buffer=None, client=None, identity=None,
                 wall_clock=None, monotonic=time.monotonic, rand=None, timeout=TIMEOUT_S):
        self.config = config
        self.stop_event = stop_event or threading.Event()
        self.buffer = buffer
        self._own_buffer = buffer is None
        self.client = client or HubClient(config.hub_url, config.token,
                                          getattr(config, "ca_file", None), timeout)
        self.identity = identity or default_identity()
        # The same wall clock the daemon stamps presses with (faked in end-to-end tests).
        self.wall_clock = wall_clock or getattr(self.identity, "now", None) or (
            lambda: datetime.now(UTC))
        self.monotonic = monotonic
        self.backoff = Backoff(rand=rand)
        self.random = self.backoff.random
        self.interval = float(config.sync_interval_s)
        self.batch_size = max(1, int(config.batch_size))
        self.failure = None  # the SyncFailure we are waiting out, if any
        self._token = config.token  # the one the client sends
        self._resume_at = float("-inf")
        self._heartbeat_due = float("-inf")
        self._prune_due = float("-inf")
        self._progress = {"synced": 0, "since": monotonic(), "logged": False}
        self._draining = False
        self._renumbered = False  # a batch was renumbered: send again at once
        self._skew_warned = False
        self._failure_logged = float("-inf")
        self._last_sync_written = float("-inf")

    # The thread.

    def run(self):
        """Sync until the stop event is set; never raises (errors are logged and retried)."""
        log.info("sync: sending to %s every %gs, batches of %d",
                 self.client.base, self.interval, self.batch_size)
        try:
            while not self.stop_event.is_set():
                try:
                    if self.buffer is None:
                        self.buffer = open_buffer(self.config)
                    delay = self.step()
                except (StoreError, sqlite3.Error) as error:  # disk full, file gone…
                    delay = self.backoff.next_delay()
                    log.warning("sync: the press buffer failed: %s (next try in %.1fs)",
                                error, delay)
                except Exception:  # a bug or a broken buffer must not end syncing for good
                    log.exception("sync: unexpected error, retrying")
                    delay = self.backoff.next_delay()
                if self.stop_event.wait(delay):
                    break
        finally:
            self.client.close()
            if self._own_buffer and self.buffer is not None:
                self.buffer.close()

    def step(self):
        """One round; returns the seconds until the next one (0 while a backlog remains)."""
        self._prune_if_due()  # local housekeeping: also while the hub is away
        now = self.monotonic()
        if now < self._resume_at:
            if not self._waiting_for_token():
                return self._resume_at - now
            if not self._token_changed():
                return min(self._resume_at - now, TOKEN_CHECK_S)
            self._resume_at = now
        answers = self.client.answers
        try:
            try:
                more, refused = self._sync_presses(), None
            except SyncFailure as failure:
                if failure.kind != "refused":
                    raise
                more, refused = False, failure  # the heartbeat still tells the hub our state
            if self._beat_due():  # no batch was this interval's heartbeat
                self._heartbeat()
                self._heartbeat_due = self.monotonic() + self.interval
            if refused is not None:
                raise refused
        except SyncFailure as failure:
            delay = self._failed(failure)
            self._resume_at = self.monotonic() + delay
            return min(delay, TOKEN_CHECK_S) if self._waiting_for_token() else delay
        if self.client.answers > answers:
            self._recovered()
        if more:
            self._draining = True
            return 0.0
        self._log_progress(force=self._draining)  # the line that says a backlog is gone
        self._draining = False
        return max(0.0, min(self.interval, self._heartbeat_due - self.monotonic()))

    # Presses.

    def _sync_presses(self):
        """Send one batch of the oldest unsynced presses; True if more may be waiting."""
        limit = self.batch_size
        presses = self.buffer.pending(limit)
        if not presses:
            return False
        self._renumbered = False
        self._send(presses)
        return len(presses) >= limit or self.batch_size < limit or self._renumbered

    def _send(self, presses):
        response = self._post_batch(presses)
        status = response.status_code
        if 200 <= status < 300:
            answer = contract_answer(response, len(presses))
            self._synced(presses, answer)
            self._check_held(answer)
        elif status == 409:
            self._seq_conflict(presses, response)
        elif status == 413 and len(presses) > 1:
            self.batch_size = max(1, len(presses) // 2)
            log.warning("sync: the hub refused %d presses as too large; batches of %d from now",
                        len(presses), self.batch_size)
        elif status in (400, 413):
            self._refused_presses(presses, response)
        else:
            raise classify(response)

    def _refused_presses(self, presses, response):
        """A 400 (or a 413 on one press): bisect down to the press at fault and park it."""
        if len(presses) > 1:
            middle = len(presses) // 2
            self._send(presses[:middle])
            self._send(presses[middle:])
            return
        # One press refused: is it the press, or the envelope every batch shares? An empty
        # batch with the same envelope tells them apart without parsing error messages.
        probe = self._post_batch([])
        if 200 <= probe.status_code < 300:
            contract_answer(probe, 0)
        else:
            if probe.status_code in (400, 413):
                raise SyncFailure("refused", "the hub refuses this kiosk's batches: "
                                  + f"HTTP {probe.status_code} {error_message(probe)}")
            raise classify(probe)
        press = presses[0]
        reason = f"HTTP {response.status_code} {error_message(response)}"
        self.buffer.park(press["seq"], reason)
        log.warning("sync: parked press seq %s (kept, not sent again): %s", press["seq"], reason)

    def _synced(self, presses, answer):
        seqs = [p["seq"] for p in presses]
        self.buffer.mark_synced(seqs, synced_at=self.wall_clock())
        self._progress["synced"] += len(presses)
        self._log_progress()

    def _seq_conflict(self, presses, response):
        """409: the hub holds some of these seqs with other presses (another card of this
        device: replaced, re-flashed, or the old one back). Those presses were never accepted
        under these seqs: renumber them above the hub's highest and send again."""
        try:
            answer = response.json()
            highest, named = answer["highest_seq"], answer.get("conflicts")
            if type(highest) is not int or highest < 0:
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SyncFailure("refused", f"HTTP 409 {error_message(response)}") from None
        sent = {p["seq"] for p in presses}
        if not isinstance(named, list):  # which seqs not said: find them one by one
            if len(presses) > 1:
                middle = len(presses) // 2
                self._send(presses[:middle])
                self._send(presses[middle:])
                return
            named = list(sent)
        mapping = self.buffer.renumber([s for s in named if s in sent], highest)
        if not mapping:
            raise SyncFailure("refused", f"HTTP 409 {error_message(response)}")
        self._renumbered = True
        first, last = min(mapping.values()), max(mapping.values())
        self._set_meta("last_renumber", {"at": format_utc(self.wall_clock()),
                                         "presses": len(mapping), "from": first, "to": last})
        log.warning("sync: the hub holds %d of these seqs with other presses of %s (a replaced "
                    "or re-flashed card?); renumbered them as seqs %d-%d and sending again",
                    len(mapping), self.config.device_id, first, last)

    def _check_held(self, answer):
        """Synced presses above the hub's held_through that it may have lost (a hub restored
        from a backup): send them again. Always when the seq right above held_through is
        one the hub accepted from this kiosk (it lost it, for sure), or when the hub's
        highest is below ours (it lost the tail); otherwise once for each held_through: a
        seq the hub never got (a parked press, a lost buffer's unused numbers) would make
        every answer start a resend."""
        held, highest = answer.get("held_through"), answer.get("highest_seq")
        if type(held) is not int or type(highest) is not int:
            return  # an older hub
        top = self.buffer.highest_synced()
        if top is None or top <= held:
            return
        lost = self.buffer.is_synced(held + 1) or highest < top
        if not lost and self.buffer.get_meta("resent_above") == held:
            return
        count = self.buffer.requeue_synced_above(held)
        self._set_meta("resent_above", held)
        self._set_meta("last_resend", {"at": format_utc(self.wall_clock()), "presses": count,
                                       "held_through": held})
        self._renumbered = True  # send at once
        log.warning("sync: the hub holds this kiosk's presses only through seq %d (restored "
                    "from a backup?); sending %d synced presses again", held, count)

    def _post_batch(self, presses):
        """POST one batch; while a heartbeat is due, its envelope carries the heartbeat's
        fields, and a 2xx with server_time (a hub that records them) is the heartbeat."""
        beat = self._beat_due()
        sent = self.wall_clock()
        body = {
            "device_id": self.config.device_id,
            "boot_id": self.identity.boot_id,
            "uptime_ms": self.identity.uptime_ms(),
            "buffer_id": self.buffer.get_meta("buffer_id"),
            "presses": presses,
        }
        if beat:
            body.update(self._state(sent, presses))
        response = self.client.post("/api/v1/presses", body)
        if beat and 200 <= response.status_code < 300:
            server_time = _server_time(response)
            if server_time is not None:  # else an older hub: the heartbeat still goes
                self._clock_skew(sent + (self.wall_clock() - sent) / 2 - server_time)
                self._heartbeat_due = self.monotonic() + self.interval
        return response

    # Heartbeat and clock.

    def _beat_due(self):
        return self.monotonic() >= self._heartbeat_due

    def _state(self, sent, batch=()):
        """The heartbeat's fields; in a batch, queued counts what is left once it is stored."""
        status = self.buffer.status()
        queued, oldest = status.get("queued"), status.get("oldest_queued_at")
        if batch and isinstance(queued, int):
            queued = max(0, queued - len(batch))
            # The batch is the oldest pending presses; the next one is the oldest left.
            rest = self.buffer.pending(len(batch) + 1)[len(batch):] if queued else []
            oldest = rest[0]["pressed_at"] if rest else None
        return {
            "sent_at": format_utc(sent),
            "queued": queued,
            "oldest_queued_at": oldest if isinstance(oldest, str) or oldest is None
            else format_utc(oldest),
            "clock_synced": self.identity.clock_synced(),
            "version": __version__,
            "parked": _count(status.get("parked")),
        }

    def _heartbeat(self):
        sent = self.wall_clock()
        body = {
            "device_id": self.config.device_id,
            "boot_id": self.identity.boot_id,
            "uptime_ms": self.identity.uptime_ms(),
            "buffer_id": self.buffer.get_meta("buffer_id"),
            **self._state(sent),
        }
        response = self.client.post("/api/v1/heartbeat", body)
        received = self.wall_clock()
        if not 200 <= response.status_code < 300:
            failure = classify(response)
            if failure.kind != "refused":
                raise failure
            # A refused heartbeat must not stop the presses: say so and go on.
            log.warning("sync: the hub refused the heartbeat: %s", failure.message)
            return
        answer = contract_answer(response)
        server_time = parse_utc(answer.get("server_time"))
        if server_time is not None:
            self._clock_skew(sent + (received - sent) / 2 - server_time)
        self._check_held(answer)

    def _clock_skew(self, skew):
        seconds = round(skew.total_seconds(), 3)
        self._set_meta("clock_skew_s", seconds)
        # The skew of this boot: after a reboot the clock starts over (no RTC), so
        # `kiosk status` shows no skew until the hub has answered in the new boot.
        self._set_meta("clock_skew_boot_id", self.identity.boot_id)
        off = abs(seconds) > SKEW_WARN_S
        if off and not self._skew_warned:
            log.warning("sync: this kiosk's clock is %s %s the hub's", _duration(abs(seconds)),
                        "ahead of" if seconds > 0 else "behind")
        elif self._skew_warned and not off:
            log.info("sync: this kiosk's clock agrees with the hub's again (%+.1fs)", seconds)
        self._skew_warned = off

    # The token.

    def _waiting_for_token(self):
        return (self.failure is not None and self.failure.kind == "auth"
                and getattr(self.config, "token_file", None) is not None)

    def _token_changed(self):
        """Re-read token_file; True (and the client uses it) if it holds another token."""
        path = self.config.token_file
        try:
            token = read_token(path)
        except ValueError as error:  # being rewritten, or gone: keep the one we have
            log.debug("sync: token_file: %s", error)
            return False
        if token == self._token:
            return False
        self._token = token
        self.client.set_token(token)
        log.info("sync: %s holds a new token; trying it now", path)
        return True

    # Failures and recovery.

    def _failed(self, failure):
        """Record *failure*; the seconds to wait before trying again."""
        now = self.monotonic()
        first = self.failure is None or self.failure.kind != failure.kind
        remind = not first and now - self._failure_logged >= REMIND_EVERY_S
        if failure.kind == "transient":
            delay = self.backoff.next_delay()
            if failure.retry_after is not None:
                delay += failure.retry_after  # honoured, plus jitter so a fleet spreads out
        else:
            delay = REFUSED_RETRY_S
        self.failure = failure
        self._set_meta("last_sync_error", failure.message)
        if failure.kind == "auth":
            self._set_meta("hub_auth_error", failure.message)
        if first or remind:
            self._failure_logged = now
            self._log_progress(force=self._progress["synced"] > 0)
            token = getattr(self.config, "token_file", None)
            how = {"transient": "retrying with backoff",
                   "auth": "presses are kept; check device_id and the token"
                   + (f" in {token} (used as soon as it changes)" if token else ""),
                   "refused": "presses are kept"}[failure.kind]
            log.warning("sync: %s (%s; next try in %.1fs)", failure.message, how, delay)
        else:
            log.debug("sync: still failing: %s (next try in %.1fs)", failure.message, delay)
        return delay

    def _recovered(self):
        now = self.monotonic()
        if self.failure is not None:
            tries = max(1, self.backoff.failures)
            log.info("sync: the hub answers again after %d failed tries", tries)
            if self.failure.kind == "auth":
                log.info("sync: the hub accepts this kiosk's token again")
            self.failure = None
            self._set_meta("hub_auth_error", None)
            self._set_meta("last_sync_error", None)
            self._last_sync_written = float("-inf")
        self.backoff.reset()
        if now - self._last_sync_written >= 1.0:  # not one write per batch at full speed
            self._set_meta("last_sync_at", format_utc(self.wall_clock()))
            self._set_meta("last_sync_error", None)
            self._last_sync_written = now

    def _set_meta(self, key, value):
        if self.buffer.get_meta(key) != value:
            self.buffer.set_meta(key, value)

    def _log_progress(self, force=False):
        progress = self._progress
        now = self.monotonic()
        if not progress["synced"] or (not force and now - progress["since"] < PROGRESS_EVERY_S
                                      and progress["logged"]):
            return
        backlog = self.buffer.status().get("queued")
        log.info("sync: synced %d presses (backlog %s)", progress["synced"], backlog)
        progress.update(synced=0, since=now, logged=True)

    # Pruning.

    def _prune_if_due(self):
        now = self.monotonic()
        if now < self._prune_due:
            return
        self._prune_due = now + PRUNE_EVERY_S
        keep = timedelta(days=float(self.config.keep_synced_days))
        removed = self.buffer.prune_synced(self.wall_clock() - keep)
        if removed:
            log.info("sync: pruned %d presses synced more than %g days ago", removed,
                     keep.days)


def _server_time(response):
    """The server_time of a 2xx answer (heartbeat, or a batch from a hub that has it)."""
    try:
        return parse_utc(response.json().get("server_time"))
    except (ValueError, AttributeError):
        return None


def _count(value):
    if isinstance(value, list | tuple):
        return len(value)
    return value


def _duration(seconds):
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600),
                       ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f}s"


def default_identity():
    """The daemon's clock: boot_id, uptime_ms(), clock_synced() and now() (kiosk.clock)."""
    return Clock.from_environment()


def open_buffer(config):
    """The sync thread's own PressBuffer on the daemon's buffer file."""
    return PressBuffer(config.data_dir, max_presses=config.max_buffer_presses,
                       device_id=config.device_id)
