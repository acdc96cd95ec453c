"""Who is asking: a kiosk (device token), or an operator (API token or session login).

`current_principal()` is the one place that decides. The login pages (the `auth` blueprint)
only have to put `user_id` in the session after checking a password with
`registry.check_user_password`; API clients send `Authorization: Bearer <token>`.
"""

from dataclasses import dataclass

from flask import g, request, session

from hub.db import get_db
from hub.errors import forbidden, unauthorized
from hub.store import registry


@dataclass(frozen=True)
class Principal:
    kind: str  # "device" or "user"
    name: str  # the device id or the username
    role: str | None = None  # "admin" or "viewer" for users

    @property
    def is_admin(self):
        return self.kind == "user" and self.role == "admin"


def current_principal():
    """The device or user behind this request, or None; a bad Bearer token is a 401."""
    if "principal" not in g:
        g.principal = _resolve()
    return g.principal


def _resolve():
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("Authorization: expected 'Bearer <token>'")
        found = registry.bearer(get_db(), token)
        if found is None:
            raise unauthorized("unknown or revoked token")
        kind, name, role = found
        return Principal(kind, name, role)
    user_id = session.get("user_id")
    if user_id is not None:
        row = registry.user(get_db(), user_id)
        if row is not None:
            return Principal("user", row["username"], row["role"])
    return None


def require_device():
    """The device sending this request; 401 without credentials, 403 for an operator."""
    principal = current_principal()
    if principal is None:
        raise unauthorized()
    if principal.kind != "device":
        raise forbidden("this endpoint takes a device token, not an operator's credentials")
    return principal


def require_reader():
    """The operator reading; 401 without credentials, 403 for a device token."""
    principal = current_principal()
    if principal is None:
        raise unauthorized()
    if principal.kind != "user":
        raise forbidden("a device token cannot read; use an API token or log in")
    return principal
