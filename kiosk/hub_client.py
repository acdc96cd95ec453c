"""Talking to the hub: one requests.Session with timeouts, TLS verification and the device token,
and the sorting of every answer and transport failure into the classes the sync loop acts on."""

import email.utils
import socket
import ssl
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from kiosk import __version__

RETRY_AFTER_CAP_S = 3600.0  # a Retry-After beyond this is not believed
TIMEOUT_S = (5.0, 30.0)  # (connect, read) for every request


class SyncFailure(Exception):
    """A request that did not work: *kind* is transient, refused or auth."""

    def __init__(self, kind, message, retry_after=None):
        super().__init__(message)
        self.kind, self.message, self.retry_after = kind, message, retry_after


class BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer …`; set as auth so that ~/.netrc can never replace it."""

    def __init__(self, token):
        self._token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self):
        return "BearerAuth(<token hidden>)"


class HubClient:
    """POSTs JSON to the hub with timeouts and certificate checks; sorts transport failures."""

    def __init__(self, hub_url, token, ca_file=None, timeout=TIMEOUT_S, session=None):
        self.base = hub_url.rstrip("/")
        self.host = urlsplit(self.base).hostname or self.base
        self.ca_file = str(ca_file) if ca_file else None
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.auth = BearerAuth(token)
        # Passed with every request too: a session's verify loses to $REQUESTS_CA_BUNDLE.
        self.session.verify = self.verify = str(ca_file) if ca_file else True
        self.session.headers["User-Agent"] = f"kiosk/{__version__}"
        self.answers = 0  # HTTP answers received, whatever their status

    def set_token(self, token):
        """Use *token* from the next request on (the token file was corrected)."""
        self.session.auth = BearerAuth(token)

    def post(self, path, body):
        """The hub's answer to POST *path*; transport failures raise SyncFailure(transient)."""
        try:
            # Never follow a redirect: a captive portal answers with one, and requests would
            # turn the POST into a GET of its login page.
            response = self.session.post(self.base + path, json=body, timeout=self.timeout,
                                         verify=self.verify, allow_redirects=False)
        except requests.exceptions.SSLError as error:
            # A certificate problem will not fix itself quickly: the slow retry.
            raise SyncFailure("refused", tls_message(error, self.host, self.ca_file)) from None
        except requests.RequestException as error:
            raise SyncFailure("transient", _transport_message(error, self.host)) from None
        except OSError as error:  # requests' own check of verify=: the ca_file went away
            if self.ca_file is None:
                raise
            raise SyncFailure("refused", f"ca_file: cannot use {self.ca_file}: "
                              f"{error.strerror or error}") from None
        self.answers += 1
        return response

    def close(self):
        self.session.close()


def classify(response):
    """SyncFailure for a non-2xx answer to which no press-level handling applies."""
    status = response.status_code
    if 300 <= status < 400:
        where = response.headers.get("Location") or "nowhere"
        return SyncFailure("transient", f"hub answered {status} redirect to {where[:80]}: "
                           "not the hub? captive portal?")
    message = f"HTTP {status} {error_message(response)}".rstrip()
    if status in (401, 403):
        return SyncFailure("auth", message)
    if status == 429 or status >= 500:
        return SyncFailure("transient", message, retry_after_s(response))
    return SyncFailure("refused", message)


def contract_answer(response, sent=None):
    """The JSON object of a 2xx answer, if it is the hub's: JSON, and for a batch of *sent*
    presses, inserted + duplicates = sent. Anything else (a captive portal's 200 HTML page,
    a proxy's empty 204) raises SyncFailure(transient): nothing is marked synced."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip()
    try:
        answer = response.json() if kind == "application/json" else None
    except ValueError:
        answer = None
    not_hub = f"hub answered {response.status_code} {kind or 'without a content type'}"
    if not isinstance(answer, dict):
        raise SyncFailure("transient", f"{not_hub}: not the hub? captive portal?")
    if sent is not None:
        inserted, duplicates = answer.get("inserted"), answer.get("duplicates")
        if type(inserted) is not int or type(duplicates) is not int \
                or inserted + duplicates != sent:
            raise SyncFailure("transient", f"hub answered {response.status_code} counting "
                              f"{inserted!r} + {duplicates!r} of {sent} presses: not the hub?"
                              " (nothing marked synced)")
    return answer


def error_message(response):
    """`code: message` from the contract's JSON error, else a short piece of the body."""
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return response.text[:80].strip()


def retry_after_s(response, now=None):
    """Seconds asked for by Retry-After (delta-seconds or an HTTP date), capped; else None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_CAP_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)


def _transport_message(error, host=None):
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "hub unreachable: connect timed out"
    if isinstance(error, requests.exceptions.Timeout):
        return "no answer from the hub in time (read timeout)"
    if isinstance(error, requests.exceptions.ConnectionError):
        unresolved = _cause(error, socket.gaierror)
        if unresolved is not None:
            return f"hub unreachable: cannot resolve {host} ({_dns_words(unresolved)})"
        return f"hub unreachable: {_reason(error)}"
    return f"request failed: {_reason(error)}"


def _dns_words(error):
    if error.errno == socket.EAI_NONAME:
        return "no such name: check hub_url and the DNS servers"
    if error.errno == socket.EAI_AGAIN:
        return "no DNS server answers: is the network up?"
    return error.strerror or str(error)


def tls_message(error, host, ca_file=None, now=None):
    """A TLS failure in plain words, starting `TLS: `. A certificate that is not yet valid
    means, on a Pi (no RTC), a clock that is behind: said so, with the clock's time."""
    failed = _cause(error, ssl.SSLCertVerificationError)
    if failed is None:
        return f"TLS: {_reason(error)}"
    why = (failed.verify_message or "").lower()
    clock = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    if "not yet valid" in why:
        return (f"TLS: certificate is not yet valid by this kiosk's clock ({clock}): the "
                "clock is behind (no RTC, no NTP?); give the Pi an NTP server it can reach")
    if "expired" in why:
        return (f"TLS: certificate has expired by this kiosk's clock ({clock}): renew the "
                "hub's certificate, or the clock is ahead")
    if "mismatch" in why or "not valid for" in why:
        return f"TLS: the hub's certificate is not for {host} ({failed.verify_message})"
    if "issuer" in why or "self-signed" in why or "self signed" in why:
        trust = (f"not signed by the CA in ca_file {ca_file}" if ca_file else
                 "set ca_file to the CA that signed it")
        return f"TLS: the hub's certificate is not trusted ({failed.verify_message}): {trust}"
    return f"TLS: {failed.verify_message or _reason(error)}"


def _cause(error, kind):
    """The first exception of *kind* in *error*'s chain of reasons and causes, or None."""
    seen = set()
    while isinstance(error, BaseException) and id(error) not in seen:
        if isinstance(error, kind):
            return error
        seen.add(id(error))
        inner = getattr(error, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in reversed(error.args) if isinstance(a, BaseException)),
                         error.__cause__ or error.__context__)
        error = inner
    return None


_REASONS = {
    "ConnectionRefusedError": "connection refused",
    "ConnectionResetError": "connection reset",
    "RemoteDisconnected": "connection closed before an answer",
    "IncompleteRead": "answer cut short",
    "BrokenPipeError": "connection closed while sending",
}


def _reason(error):
    """A short, stable reason for a requests error: its innermost cause, without the URL."""
    seen = set()
    while id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in reversed(error.args) if isinstance(a, BaseException)),
                         error.__cause__ or error.__context__)
        if not isinstance(inner, BaseException):
            break
        error = inner
    name = type(error).__name__
    if name in _REASONS:
        return _REASONS[name]
    text = str(error)
    return text.split(": ", 1)[-1] if "object at 0x" in text else text
