"""Alert webhooks: a JSON body signed with HMAC-SHA256, delivered with retries and backoff.

The receiver checks `X-Hub-Signature-256: sha256=<hex>` by computing
`hmac.new(secret, body, sha256).hexdigest()` over the raw body and comparing in constant time.
Deliveries are queued in the database (in the same transaction as the alert) and sent by
`hub alerts run`; a failed one is retried after 1, 2, 4 ... 60 minutes, at most MAX_ATTEMPTS.
"""

import hashlib
import hmac
import json
import logging
import secrets
from datetime import timedelta

import requests

from hub import reports
from hub.store import alerts as alert_store
from hub.store import webhooks as store
from hub.times import format_utc

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
TIMEOUT_S = 10
SIGNATURE_HEADER = "X-Hub-Signature-256"


def new_secret():
    return secrets.token_hex(32)


def sign(secret, body):
    """`sha256=<hex HMAC-SHA256 of body (bytes) with secret>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret, body, header):
    """What a receiver does: True if *header* is the signature of *body*."""
    return hmac.compare_digest(sign(secret, body), header or "")


def backoff(attempts):
    """Wait before the next try after *attempts* failures: 1, 2, 4 ... minutes, at most 60."""
    return timedelta(minutes=min(2 ** (attempts - 1), 60))


def enqueue(db, event, alert_id, now):
    """Queue *event* about an alert for every webhook of its location and every global one
    (call inside the transaction that changed the alert)."""
    row = alert_store.alert(db, alert_id)
    location_id = db.row("SELECT location_id FROM alerts WHERE id = ?", (alert_id,))[0]
    body = json.dumps({"event": event, "sent_at": format_utc(now),
                       "alert": reports.alert_entry(row)}, sort_keys=False)
    for hook in store.for_location(db, location_id):
        store.add_delivery(db, hook["id"], alert_id, event, body, format_utc(now))


def deliver_due(db, now, session=None):
    """Send every delivery that is due; return (delivered, failed_for_now)."""
    http = session or requests.Session()
    delivered = failed = 0
    for item in store.due(db, format_utc(now)):
        body = item["body"].encode()
        headers = {"Content-Type": "application/json", "User-Agent": "kiosk-hub",
                   SIGNATURE_HEADER: sign(item["secret"], body),
                   "X-Hub-Event": item["event"], "X-Hub-Delivery": str(item["id"])}
        attempts = item["attempts"] + 1
        try:
            response = http.post(item["url"], data=body, headers=headers, timeout=TIMEOUT_S,
                                 allow_redirects=False)
            ok, result = 200 <= response.status_code < 300, f"HTTP {response.status_code}"
        except requests.RequestException as error:
            ok, result = False, f"{type(error).__name__}: {error}"[:300]
        if ok:
            status, next_at = "delivered", format_utc(now)
            delivered += 1
        else:
            status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
            next_at = format_utc(now + backoff(attempts))
            failed += 1
            log.warning("webhook delivery %s to %s: %s (attempt %d)", item["id"], item["url"],
                        result, attempts)
        store.record_attempt(db, item["id"], status, attempts, next_at, format_utc(now), result)
    return delivered, failed
