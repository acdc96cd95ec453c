"""The JSON API under /api/v1: device endpoints (ingest) and read endpoints (reads)."""

from flask import Blueprint

from hub import openapi
from hub.api import actions, ingest, reads

bp = Blueprint("api", __name__, url_prefix="/api/v1")

bp.add_url_rule("/presses", view_func=ingest.post_presses, methods=["POST"])
bp.add_url_rule("/heartbeat", view_func=ingest.post_heartbeat, methods=["POST"])
bp.add_url_rule("/presses", view_func=reads.get_presses, methods=["GET"])
bp.add_url_rule("/locations", view_func=reads.get_locations, methods=["GET"])
bp.add_url_rule("/locations/<slug>/hourly", view_func=reads.get_hourly, methods=["GET"])
bp.add_url_rule("/ranking", view_func=reads.get_ranking, methods=["GET"])
bp.add_url_rule("/locations/<slug>/actions", view_func=actions.get_location_actions,
                methods=["GET"])
bp.add_url_rule("/actions/<int:action_id>/effect", view_func=actions.get_action_effect,
                methods=["GET"])
bp.add_url_rule("/openapi.json", view_func=openapi.serve_document, methods=["GET"])

DEVICE_ENDPOINTS = {"api.post_presses", "api.post_heartbeat"}
