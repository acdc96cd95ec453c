"""What every operator page shares: who may see it, CSRF, security headers.

Pages use the session principal of hub.auth: a login puts `user_id` in the signed session
cookie. Forms carry Flask-WTF's CSRF token; the JSON API (bearer tokens, no cookies needed)
is exempt.
"""

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, redirect, request, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from hub.api import DEVICE_ENDPOINTS
from hub.auth import current_principal
from hub.errors import ApiError

csrf = CSRFProtect()

# No inline scripts or styles anywhere: charts are SVG elements with presentation attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def init_app(app, api_blueprint):
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's life
    # Behind a reverse proxy that terminates HTTPS: HUB_TRUSTED_PROXIES=1 trusts one hop's
    # X-Forwarded-For/-Proto (client address for login throttling, https for cookies).
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    csrf.init_app(app)
    csrf.exempt(api_blueprint)
    app.after_request(security_headers)


def security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.endpoint in DEVICE_ENDPOINTS:
        return response  # a kiosk's JSON answer: nothing a browser renders, only what it needs
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response


def operator():
    """The logged-in operator, or None. Pages take a session only: a bearer token (a
    device's, or an API token, which reads the JSON API and never writes) gets a 403."""
    principal = current_principal()
    if principal is not None and (principal.kind != "user" or "Authorization" in request.headers):
        abort(403)
    return principal


def shown_operator():
    """Who the page header names; nobody when the credentials themselves are refused, so
    that rendering the error page for a bad token cannot fail again."""
    try:
        return operator()
    except (ApiError, HTTPException):
        return None


def login_required(view):
    """Redirect to /login (coming back here afterwards) unless an operator is logged in."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if operator() is None:
            return redirect(url_for("login.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def admin_required(view):
    """Like login_required, and a 403 for operators who are not admins."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        principal = operator()
        if principal is None:
            return redirect(url_for("login.login", next=request.full_path.rstrip("?")))
        if not principal.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def safe_next(target):
    """*target* if it is a path on this site (`/locations/ams?x=1`), else the overview.

    Refuses absolute URLs, scheme-relative `//host`, backslashes (browsers read `/\\host` as
    `//host`) and control characters.
    """
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in target)
    ):
        return url_for("pages.overview")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("pages.overview")
    return target
