"""A hub whose every answer the test controls, and an in-memory stand-in for the press buffer."""

import json
import ssl
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

BOOT = "5f0c4b5e-2f7a-4b1e-9d64-3c2a1b0e9f11"
TOKEN = "device-token-s3cr3t-0123456789abcdef"
START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def make_press(seq, mood=None, boot_id=BOOT):
    return {
        "seq": seq,
        "id": str(uuid.UUID(int=seq, version=4)),
        "mood": mood or 1 + seq % 4,
        "pressed_at": (START + timedelta(seconds=seq)).isoformat().replace("+00:00", "Z"),
        "boot_id": boot_id,
        "uptime_ms": 1000 * seq,
        "clock_synced": True,
        "misuse": False,
    }


def config(hub_url, **overrides):
    values = dict(device_id="kiosk-1", hub_url=hub_url, token=TOKEN, data_dir="/nonexistent",
                  lockout_s=2.0, sync_interval_s=30, batch_size=500, keep_synced_days=30,
                  ca_file=None, max_buffer_presses=1_000_000)
    values.update(overrides)
    return SimpleNamespace(**values)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (or HTTPS with *tls*), served by a thread of its own."""

    def _serve(self, handler, tls=None):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if tls is not None:  # (certificate file, key file)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://localhost:{self.port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FakeHub(LoopbackServer):
    """An HTTP hub on 127.0.0.1 that stores presses by seq (idempotently) and obeys the test.

    `script` is a list of (status, headers, body) answers given to the next requests instead of
    the normal behaviour; a seq already stored with another press id is a 409 seq_conflict;
    `bad_seqs` are refused with the contract's 400 naming the press;
    `max_presses` answers 413 to larger batches; `auth_status` answers 401/403 to everything.
    A batch's answer carries server_time, as the hub's does, unless `legacy` (a hub from
    before the batch envelope carried the heartbeat's fields).
    """

    def __init__(self, tls=None):
        self.presses = {}  # seq -> press as received
        self.requests = []  # (path, body, headers)
        self.script = []
        self.bad_seqs = set()
        self.bad_envelope = False
        self.max_presses = 1000
        self.auth_status = None
        self.legacy = False
        self.server_time = lambda: datetime.now(UTC)
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hub.lock:
                    hub.requests.append((self.path, body, dict(self.headers)))
                    status, headers, answer = hub.answer(self.path, body, self.headers)
                data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json",
                                    "Content-Length": str(len(data))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._serve(Handler, tls)

    def answer(self, path, body, headers):
        if self.script:
            return self.script.pop(0)
        if self.auth_status or headers.get("Authorization") != f"Bearer {TOKEN}":
            status = self.auth_status or 401
            code = {401: "unauthorized", 403: "forbidden"}[status]
            return status, {}, _error(code, "no such token")
        server_time = self.server_time().isoformat().replace("+00:00", "Z")
        if path == "/api/v1/heartbeat":
            return 200, {}, {"server_time": server_time, **self.held()}
        if self.bad_envelope:
            return 400, {}, _error("invalid_field", "boot_id: expected a boot id, got \"\"")
        presses = body["presses"]
        if len(presses) > self.max_presses:
            return 413, {}, _error("too_large", f"presses: at most {self.max_presses}")
        for i, press in enumerate(presses):
            if press["seq"] in self.bad_seqs:
                return 400, {}, _error("invalid_field", f"presses[{i}].mood: expected 1-4")
        conflicts = [p["seq"] for p in presses
                     if self.presses.get(p["seq"], p).get("id") != p.get("id")]
        if conflicts:
            return 409, {}, _error("seq_conflict", "seqs stored with other ids") | {
                "highest_seq": max(self.presses), "conflicts": conflicts}
        inserted = 0
        for press in presses:
            if press["seq"] not in self.presses:
                self.presses[press["seq"]] = press
                inserted += 1
        answer = {"inserted": inserted, "duplicates": len(presses) - inserted}
        if self.legacy:
            return 200, {}, answer
        return 200, {}, answer | {"server_time": server_time, **self.held()}

    def held(self):
        """highest_seq and held_through, as the hub answers them."""
        held = 0
        while held + 1 in self.presses:
            held += 1
        return {"highest_seq": max(self.presses, default=0), "held_through": held}

    def batches(self):
        """The seqs of every press batch received, in order."""
        return [[p["seq"] for p in body["presses"]] for path, body, _ in self.requests
                if path == "/api/v1/presses"]

    def heartbeats(self):
        return [body for path, body, _ in self.requests if path == "/api/v1/heartbeat"]

    def states(self):
        """Every report of the kiosk's state: heartbeats and batches carrying its fields."""
        return [body for path, body, _ in self.requests
                if path == "/api/v1/heartbeat" or "sent_at" in body]

    def paths(self):
        return [path for path, _, _ in self.requests]


def _error(code, message):
    return {"error": {"code": code, "message": message}}


class MemoryBuffer:
    """The PressBuffer interface the sync loop uses, in memory (the real one is tested too)."""

    def __init__(self, presses=()):
        self.rows = {p["seq"]: dict(p) for p in presses}
        self.synced = {}  # seq -> synced_at
        self.parked_rows = {}  # seq -> reason
        self.meta = {"buffer_id": "memory-buffer"}
        self.pruned_before = []

    def add(self, *seqs):
        for seq in seqs:
            self.rows[seq] = make_press(seq)

    def pending(self, limit):
        seqs = sorted(s for s in self.rows if s not in self.synced and s not in self.parked_rows)
        return [dict(self.rows[s]) for s in seqs[:limit]]

    def mark_synced(self, seqs, synced_at=None):
        for seq in seqs:
            self.synced[seq] = synced_at

    def park(self, seq, reason):
        self.parked_rows[seq] = reason

    def renumber(self, seqs, above):
        top, mapping = max(above, *self.rows), {}
        for old in sorted(seqs):
            if old in self.rows and old not in self.synced and old not in self.parked_rows:
                top += 1
                self.rows[top] = self.rows.pop(old) | {"seq": top}
                mapping[old] = top
        return mapping

    def requeue_synced_above(self, seq):
        again = [s for s in self.synced if s > seq]
        for s in again:
            del self.synced[s]
        return len(again)

    def is_synced(self, seq):
        return seq in self.synced

    def highest_synced(self):
        return max(self.synced, default=None)

    def parked(self):
        return [{"seq": s, "reason": r} for s, r in sorted(self.parked_rows.items())]

    def prune_synced(self, older_than):
        self.pruned_before.append(older_than)
        return 0

    def set_meta(self, key, value):
        self.meta[key] = value

    def get_meta(self, key, default=None):
        return self.meta.get(key, default)

    def status(self):
        pending = self.pending(10**9)
        return {"queued": len(pending),
                "oldest_queued_at": pending[0]["pressed_at"] if pending else None,
                "parked": len(self.parked_rows)}


class FakeTime:
    """Monotonic and wall clocks that move only when the test says so."""

    def __init__(self):
        self.now = 1000.0
        self.wall = START

    def monotonic(self):
        return self.now

    def wall_clock(self):
        return self.wall + timedelta(seconds=self.now - 1000.0)

    def advance(self, seconds):
        self.now += seconds


class Identity:
    boot_id = BOOT

    def __init__(self, synced=True):
        self.synced = synced

    def uptime_ms(self):
        return 5_000_000

    def clock_synced(self):
        return self.synced


class CaptivePortal(LoopbackServer):
    """What hotel, airport and library Wi-Fi puts between a kiosk and its hub: every request
    gets the login page (200 text/html) or, with `redirect`, a 302 to it."""

    PAGE = b"<!doctype html><title>Welcome</title><form>Accept the terms to go online</form>"

    def __init__(self, redirect=False):
        self.requests = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                portal.requests.append(("POST", self.path))
                if redirect:
                    self.send_response(302)
                    self.send_header("Location", "http://portal.example/login?next=" + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(portal.PAGE)))
                self.end_headers()
                self.wfile.write(portal.PAGE)

            def do_GET(self):  # a client that followed the redirect
                portal.requests.append(("GET", self.path))
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(portal.PAGE)))
                self.end_headers()
                self.wfile.write(portal.PAGE)

            def log_message(self, *args):
                pass

        self._serve(Handler)
