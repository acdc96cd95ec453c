"""A small HTTP-aware TCP proxy on 127.0.0.1 that puts network faults between a kiosk and a hub.

    with FaultProxy(hub_port) as proxy:
        kiosk_config(hub_url=proxy.url)
        proxy.set("cut")                     # forward, let the hub answer, lose the answer
        proxy.randomly({"pass": 0.7, "drop": 0.1, "cut": 0.1, "503": 0.1}, seed=7)

With `tls=(cert, key)` it is the hub's HTTPS front (clients see that certificate, the hub
behind it plain HTTP), as a site's reverse proxy is; `use_certificate()` swaps it (a renewal).

One request per client connection: the request goes upstream with `Connection: close`, so the
hub closes after answering and the client reconnects for the next request. Request bodies must
carry Content-Length (requests always sends one for `json=`/`data=`).

Faults, chosen per connection:
    pass      forward the request and the answer
    drop      close the client connection as soon as it is accepted (nothing reaches the hub)
    delay     wait `delay_s` before forwarding the request, then behave like pass
    cut       forward the request, read the hub's whole answer, close without sending it:
              the hub has committed, the client never learns it ("committed but lost")
    reset     read the request, then reset the connection (RST), nothing reaches the hub
    truncate  forward the request, send the client the hub's head and half of its body
    503       answer `503 Service Unavailable` itself (with Retry-After when `retry_after` set)
    portal    answer `200 OK` with a captive portal's HTML login page, nothing reaches the hub
    redirect  answer `302 Found` to the captive portal's login page, nothing reaches the hub
"""

import random
import socket
import ssl
import struct
import threading
from collections import Counter

FAULTS = ("pass", "drop", "delay", "cut", "reset", "truncate", "503", "portal", "redirect")
_HEAD_LIMIT = 64 * 1024


class FaultProxy:
    """A threaded proxy from 127.0.0.1:`port` to 127.0.0.1:`target_port`, faults on demand."""

    def __init__(self, target_port, port=0, delay_s=1.0, retry_after=None, tls=None):
        self.target = ("127.0.0.1", target_port)
        self._tls = None
        self.delay_s = delay_s
        self.retry_after = retry_after
        self.counts = Counter()  # fault -> connections it was applied to
        self._mode = "pass"
        self._weights = None
        self._random = random.Random(0)
        self._lock = threading.Lock()
        self._clients = set()
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if tls is not None:
            self.use_certificate(*tls)
            self.url = f"https://localhost:{self.port}"
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)

    # Control, from the test's thread.

    def start(self):
        self._thread.start()
        return self

    def set(self, mode, **params):
        """Apply one fault to every following connection (`pass` to heal)."""
        if mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r}, expected one of {FAULTS}")
        with self._lock:
            self._mode, self._weights = mode, None
            for name, value in params.items():
                setattr(self, name, value)

    def use_certificate(self, cert, key):
        """Serve HTTPS with this certificate from the next connection on."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        with self._lock:
            self._tls = context

    def randomly(self, weights, seed=0):
        """Draw a fault per connection from {fault: weight}, reproducibly from *seed*."""
        unknown = set(weights) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}")
        with self._lock:
            self._weights = (list(weights), list(weights.values()))
            self._random = random.Random(seed)

    def stop(self):
        self._closed.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            _close(client)
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # The proxy's own threads.

    def _choose(self):
        with self._lock:
            if self._weights is None:
                fault = self._mode
            else:
                fault = self._random.choices(*self._weights)[0]
            self.counts[fault] += 1
            return fault

    def _accept_loop(self):
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed by stop()
            fault = self._choose()
            if fault == "drop":
                _close(client)
                continue
            with self._lock:
                self._clients.add(client)
            threading.Thread(target=self._serve, args=(client, fault), daemon=True).start()

    def _serve(self, client, fault):
        try:
            self._handle(client, fault)
        except OSError:
            pass  # the client or the hub went away: exactly the kind of thing we simulate
        finally:
            with self._lock:
                self._clients.discard(client)
            _close(client)

    def _handle(self, client, fault):
        client.settimeout(30)
        with self._lock:
            tls = self._tls
        if tls is None:
            self._exchange(client, fault)
            return
        # A failed handshake (the client refused the certificate) is an OSError.
        secure = tls.wrap_socket(client, server_side=True)
        try:
            self._exchange(secure, fault)
        finally:
            _close(secure)

    def _exchange(self, client, fault):
        request = _read_request(client)
        if request is None:
            return
        if fault == "reset":
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if fault == "503":
            client.sendall(_unavailable(self.retry_after))
            return
        if fault in ("portal", "redirect"):
            client.sendall(_portal(fault == "redirect"))
            return
        if fault == "delay" and self._closed.wait(self.delay_s):
            return
        try:
            upstream = socket.create_connection(self.target, timeout=30)
        except OSError:
            return  # the hub is down: the client sees its connection closed
        with upstream:
            upstream.sendall(request)
            answer = _read_all(upstream)
        if fault == "cut" or not answer:
            return
        if fault == "truncate":  # the whole head, half of the body
            head, _, body = answer.partition(b"\r\n\r\n")
            answer = head + b"\r\n\r\n" + body[: len(body) // 2]
        client.sendall(answer)


def _close(sock):
    try:
        sock.close()
    except OSError:
        pass


def _read_request(sock):
    """One HTTP request from *sock*, rewritten to `Connection: close`; None if none came."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > _HEAD_LIMIT:
            return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    kept = [lines[0]]
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value.strip())
        if key not in (b"connection", b"keep-alive"):
            kept.append(line)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    kept.append(b"Connection: close")
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


def _read_all(sock):
    """Everything the hub sends until it closes (it was asked to close after answering)."""
    parts = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def _portal(redirect):
    """What hotel, airport and library Wi-Fi answers before someone accepts its terms."""
    if redirect:
        return (b"HTTP/1.1 302 Found\r\nLocation: http://portal.example/login\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    body = b"<!doctype html><title>Welcome</title><form>Accept the terms to go online</form>"
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
            + body)


def _unavailable(retry_after):
    body = b'{"error": {"code": "unavailable", "message": "fault proxy: 503"}}'
    head = [
        b"HTTP/1.1 503 Service Unavailable",
        b"Content-Type: application/json",
        b"Content-Length: " + str(len(body)).encode(),
        b"Connection: close",
    ]
    if retry_after is not None:
        head.append(b"Retry-After: " + str(retry_after).encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body

