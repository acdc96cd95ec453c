"""Read endpoints of actions: a location's actions, and an action's effect."""

from flask import jsonify, request

from hub import effects
from hub.auth import require_reader
from hub.db import get_db, hub_now


def get_location_actions(slug):
    require_reader()
    return jsonify(effects.location_actions(get_db(), slug))


def get_action_effect(action_id):
    require_reader()
    days = effects.check_days(request.args.get("days"))
    return jsonify(effects.effect(get_db(), action_id, days, hub_now()))
