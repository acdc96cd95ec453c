"""The `hub` console script. A kiosk's install (`pip install kiosk-hub`) has the script but
not the hub's libraries: say so in one line instead of an ImportError's traceback."""

import sys

HUB_LIBRARIES = {"flask", "flask_wtf", "gunicorn", "werkzeug", "jinja2", "itsdangerous"}


def main():
    try:
        from hub.cli import main as hub_main
    except ModuleNotFoundError as error:
        if error.name not in HUB_LIBRARIES:
            raise
        sys.exit(f"hub: {error.name} is not installed; this is a kiosk's install. The hub "
                 "needs: pip install 'kiosk-hub[hub]'")
    hub_main()
