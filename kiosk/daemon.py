"""`kiosk run`: buttons → queue → one writer thread → SQLite, then the thank-you LED.

The button callbacks (pin library's thread) only stamp a press and queue it. The writer thread
owns the buffer: it drops bounce, flags misuse, stores each press durably and only then
lights the LED and logs `stored press seq=N mood=NAME`. Sync runs in its own thread.
Numbers and reasons: docs/decisions.md, "Kiosk".
"""

import logging
import queue
import sqlite3
import threading
import uuid
from collections import deque
from dataclasses import dataclass, replace

from kiosk.buttons import Hardware
from kiosk.clock import Clock
from kiosk.config import MOODS
from kiosk.store import Press, PressBuffer, StoreError
from kiosk.systemd import Notifier

log = logging.getLogger(__name__)

DEBOUNCE_MS = 50  # a press (any button) this soon after the last edge is contact bounce
LED_ON_S = 1.0
RETRY_S = 1.0  # a press that could not be stored is retried this often
IDLE_WAKE_S = 5.0  # the writer's longest sleep when there is no watchdog to pet
_STOP = object()


class Daemon:
    """The kiosk daemon. `start()`, then `stop()` (flushes every queued press)."""

    def __init__(self, config, pin_factory, clock=None, notifier=None, sync=True):
        self.config = config
        self.pin_factory = pin_factory
        self.clock = clock or Clock()
        self.notifier = notifier or Notifier()
        self.sync_enabled = sync and bool(config.hub_url)
        self.presses = queue.Queue()
        self.stop_event = threading.Event()
        self.store_up = threading.Event()
        self.hardware = None
        self.buffer = None
        self.stored = 0  # presses stored since start; `wait_stored` waits on it
        self._stored_changed = threading.Condition()
        self._waiting = deque()  # presses taken off the queue, not yet stored
        self._last = None  # (boot_id, uptime_ms) of the last stored press, for lockout
        self._last_edge = None  # (boot_id, uptime_ms) of the last press or release, for bounce
        self._failing = None
        self.failed = False  # the writer died of a bug: `kiosk run` exits 1 (systemd restarts)
        self._writer = threading.Thread(target=self._write_loop, name="kiosk-writer")
        self._syncs = []  # (stop event, thread): one sync loop per buffer file opened

    # Starting and stopping.

    def start(self):
        """Buttons up, writer started. The writer opens the store (retrying while it cannot)
        and then sends READY=1 and starts sync; `store_up` is set from then on."""
        self.hardware = Hardware(self.config, self.pin_factory, self.on_press, self.on_release)
        self._writer.start()

    def _ready(self):
        self._start_sync()
        if self.store_up.is_set():  # a fresh buffer after a corrupt one: already READY
            return
        self.notifier.ready(f"recording presses in {self.buffer.path}")
        log.info("kiosk %s ready: buttons on BCM %s, buffer %s, lockout %gs",
                 self.config.device_id, _pins(self.config.buttons), self.buffer.path,
                 self.config.lockout_s)
        self.store_up.set()

    def stop(self, timeout=10.0):
        """Stop the buttons and sync, store every queued press, close. Idempotent."""
        self.notifier.stopping()
        self.stop_event.set()
        if self.hardware is not None:
            self.hardware.close_buttons()  # no press can arrive after this
        if self._writer.is_alive():
            self.presses.put(_STOP)
            self._writer.join(timeout)
        if self.hardware is not None:
            self.hardware.close()
        for stop, thread in self._syncs:
            stop.set()
            thread.join(timeout)

    def _start_sync(self):
        """A sync loop (kiosk.sync.SyncLoop, in its own thread with its own PressBuffer) for
        the buffer just opened; the loop of a buffer set aside as corrupt is stopped."""
        if not self.sync_enabled:
            return
        for stop, _ in self._syncs:
            stop.set()  # it reads a file set aside; it finishes its request and ends
        try:
            from kiosk.sync import SyncLoop
        except ImportError as e:
            log.warning("sync not available (%s); presses are kept in the buffer", e)
            self.sync_enabled = False
            return
        stop = threading.Event()
        try:
            loop = SyncLoop(self.config, stop)
        except Exception:  # a sync bug must not stop presses being recorded
            log.exception("sync could not start; presses are kept in the buffer")
            return
        thread = threading.Thread(target=loop.run, name="kiosk-sync", daemon=True)
        thread.start()
        self._syncs.append((stop, thread))

    # The pin library's thread.

    def on_press(self, mood):
        """A button went down: stamp it and queue it, nothing more."""
        clock = self.clock
        self.presses.put(Press(mood=mood, pressed_at=clock.now(), uptime_ms=clock.uptime_ms(),
                               boot_id=clock.boot_id, clock_synced=clock.synced()))

    def on_release(self, mood):
        """A button came up: note when, so chatter as it opens is not taken for a press."""
        self.presses.put(Release(boot_id=self.clock.boot_id, uptime_ms=self.clock.uptime_ms()))

    # The writer thread.

    def _write_loop(self):
        try:
            self._write_presses()
        except Exception:  # a bug: say so and stop, rather than live on storing nothing
            log.exception("the press writer failed; stopping")
            self.failed = True
            self.stop_event.set()
        self._finish()

    def _write_presses(self):
        stopping = False
        while True:
            self.notifier.watchdog()
            if self.buffer is None and not self._open_buffer() and not stopping:
                if self.stop_event.wait(RETRY_S):
                    stopping = True
                continue
            try:
                item = self.presses.get(timeout=self._wait_s(stopping))
            except queue.Empty:
                item = None
            if item is _STOP:
                stopping = True
            elif item is not None:
                self._take(item)
                while True:  # everything already queued, before touching the disk again
                    try:
                        item = self.presses.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stopping = True
                    else:
                        self._take(item)
            self._store_waiting()
            if stopping and (self.presses.empty() or self.buffer is None):
                self._store_waiting()
                break

    def _wait_s(self, stopping):
        if stopping:
            return 0.0
        wait = IDLE_WAKE_S
        due = self.notifier.watchdog_due_in()
        if due is not None:  # wake when the next WATCHDOG=1 is due, not a period later
            wait = min(wait, due)
        return min(wait, RETRY_S) if self._waiting else wait

    def _open_buffer(self):
        try:
            buffer = PressBuffer(self.config.data_dir, device_id=self.config.device_id,
                                 max_presses=self.config.max_buffer_presses, recover=True)
        except StoreError as e:
            self._failed(f"cannot open the press buffer: {e}")
            return False
        try:
            latest = buffer.latest()
        except sqlite3.Error as e:
            buffer.close()
            self._failed(f"cannot open the press buffer: cannot read it: {e}")
            return False
        self.buffer = buffer
        if latest is not None:
            self._last = self._last_edge = (latest["boot_id"], latest["uptime_ms"])
        if self._failing:
            log.info("press buffer open")
            self._failing = None
        self._ready()
        return True

    def _take(self, press):
        """Drop bounce, flag misuse, and hold the press for storing."""
        edge = (press.boot_id, press.uptime_ms)
        if isinstance(press, Release):
            self._last_edge = edge
            return
        gap_ms = _gap_ms(self._last_edge, edge)
        if gap_ms is not None and gap_ms < DEBOUNCE_MS:
            self._last_edge = edge  # chatter goes on as long as the edges keep coming
            log.debug("ignored bounce: mood=%s %d ms after the last edge",
                      MOODS[press.mood - 1], gap_ms)
            return
        gap_ms = _gap_ms(self._last, edge)
        misuse = gap_ms is not None and gap_ms < self.config.lockout_s * 1000
        self._last = self._last_edge = edge
        self._waiting.append(replace(press, misuse=misuse, id=str(uuid.uuid4())))

    def _store_waiting(self):
        while self._waiting and self.buffer is not None:
            press = self._waiting[0]
            try:
                seq = self.buffer.record(press)
            except StoreError as e:
                self._failed(f"{e}; {len(self._waiting)} press(es) kept in memory, retrying")
                if e.corrupt:  # damaged while running: set it aside, go on in a fresh file
                    buffer, self.buffer = self.buffer, None
                    try:
                        buffer.set_aside()
                    except StoreError as aside:
                        self._failed(str(aside))
                        return
                    if self._open_buffer():
                        continue
                return
            self._waiting.popleft()
            with self._stored_changed:
                self.stored += 1
                self._stored_changed.notify_all()
            if self._failing:
                log.info("press buffer writable again")
                self._failing = None
            log.info("stored press seq=%d mood=%s%s", seq, MOODS[press.mood - 1],
                     " misuse" if press.misuse else "")
            if self.hardware is not None and not self.stop_event.is_set():
                self.hardware.thank(press.mood, LED_ON_S)

    def wait_stored(self, count, timeout=None):
        """Wait until *count* presses have been stored since start; True if they have."""
        with self._stored_changed:
            return self._stored_changed.wait_for(lambda: self.stored >= count, timeout)

    def _failed(self, message):
        if message.split(";")[0] != (self._failing or "").split(";")[0]:
            log.error("%s", message)
        self._failing = message

    def _finish(self):
        if self._waiting:
            log.error("stopping with %d press(es) that could not be stored: %s",
                      len(self._waiting), self._failing)
        if self.buffer is not None:
            self.buffer.close()
        log.info("stopped after storing %d press(es)", self.stored)


@dataclass(frozen=True)
class Release:
    """A button came up (queued after its press, in edge order)."""

    boot_id: str
    uptime_ms: int


def _gap_ms(before, after):
    """Milliseconds from edge *before* to *after* (boot_id, uptime_ms); None across boots."""
    if before is None or before[0] != after[0] or after[1] < before[1]:
        return None
    return after[1] - before[1]


def _pins(pins):
    return ", ".join(f"{name}={pin}" for name, pin in pins.items())
