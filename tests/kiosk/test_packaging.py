"""What a Pi installs: `pip install kiosk-hub` brings the kiosk's libraries and nothing of
the hub (no Flask, no gunicorn); the hub's come with the `hub` extra."""

import subprocess
import sys
from importlib.metadata import requires

HUB_ONLY = {"flask", "flask-wtf", "gunicorn"}


def _name(requirement):
    return requirement.split(";")[0].split(">")[0].split("=")[0].split("[")[0].strip().lower()


def test_the_kiosks_install_has_no_hub_library():
    plain = {_name(r) for r in requires("kiosk-hub") if "extra ==" not in r}
    assert {"gpiozero", "requests", "click", "sqlite-utils"} <= plain
    assert not plain & HUB_ONLY, plain & HUB_ONLY
    hub_extra = {_name(r) for r in requires("kiosk-hub") if 'extra == "hub"' in r}
    assert HUB_ONLY <= hub_extra


def test_the_kiosk_runs_without_the_hubs_libraries():
    """Flask made unimportable: the kiosk's commands work, `hub` says what is missing in one
    line instead of a traceback."""
    no_flask = "import sys; sys.modules['flask'] = None; sys.modules['gunicorn'] = None; "
    kiosk = subprocess.run([sys.executable, "-c", no_flask + "import sys; sys.argv = "
                            "['kiosk', '--help']; from kiosk.cli import main; main()"],
                           capture_output=True, text=True, timeout=60)
    assert kiosk.returncode == 0 and "run" in kiosk.stdout, kiosk.stderr
    hub = subprocess.run([sys.executable, "-c", no_flask + "import sys; sys.argv = "
                          "['hub', '--help']; from hub.entry import main; main()"],
                         capture_output=True, text=True, timeout=60)
    assert hub.returncode == 1
    assert hub.stderr.strip().splitlines() == [
        "hub: flask is not installed; this is a kiosk's install. The hub needs: "
        "pip install 'kiosk-hub[hub]'"]
