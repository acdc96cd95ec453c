"""API errors: one exception type, one JSON shape `{"error": {"code", "message"}}`."""

import json
import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Werkzeug's HTTP errors under /api get the contract's snake_case codes.
HTTP_CODES = {
    400: "invalid_json",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """An error an API client caused or can act on; rendered as JSON with its HTTP status."""

    def __init__(self, status, code, message, extra=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}  # more top-level fields of the answer (409's highest_seq)


def unauthorized(message="missing, unknown or revoked credentials"):
    return ApiError(401, "unauthorized", message)


def forbidden(message):
    return ApiError(403, "forbidden", message)


def not_found(message):
    return ApiError(404, "not_found", message)


def too_large(message):
    return ApiError(413, "too_large", message)


def invalid_field(field, expected, value=None, missing=False):
    """A 400 whose message names the field: `presses[3].mood: expected an integer 1-4, got 7`."""
    if missing:
        return ApiError(400, "invalid_field", f"{field}: missing, expected {expected}")
    return ApiError(400, "invalid_field", f"{field}: expected {expected}, got {_show(value)}")


def _show(value):
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def error_response(status, code, message, extra=None):
    response = jsonify({"error": {"code": code, "message": message}, **(extra or {})})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _wants_json():
    path = request.path
    return path.startswith("/api/") or path in ("/healthz", "/metrics")


def register_error_handlers(app, on_api_error=None):
    """Every error under /api (and /healthz, /metrics) becomes JSON, never an HTML page.

    *on_api_error(code)* is called for each error answered, so that rejections can be counted.
    """

    def answer(status, code, message, extra=None):
        if on_api_error is not None:
            on_api_error(code)
        return error_response(status, code, message, extra)

    @app.errorhandler(ApiError)
    def handle_api_error(error):
        return answer(error.status, error.code, error.message, error.extra)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error):
        if not _wants_json():
            return error
        code = HTTP_CODES.get(error.code, "http_error" if error.code < 500 else "internal_error")
        return answer(error.code, code, error.description or error.name)

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        log.exception("unexpected error on %s %s", request.method, request.path)
        if not _wants_json():
            return "Internal Server Error", 500
        return answer(500, "internal_error", "the hub failed to handle this request")
