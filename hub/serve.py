"""`hub serve`: the app under gunicorn, configured from the command line, not a config file."""

import os

from gunicorn.app.base import BaseApplication

from hub.app import create_app


class HubServer(BaseApplication):
    """gunicorn's arbiter running `create_app()`; SIGTERM stops it gracefully."""

    def __init__(self, database, host, port, workers, threads=4):
        # Workers build the app from the environment, as `gunicorn 'hub.app:create_app()'` would.
        os.environ["HUB_DATABASE"] = str(database)
        self.options = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",  # a long CSV download does not trip the worker timeout
            "threads": threads,
            "graceful_timeout": 10,
            "proc_name": "hub",
            "errorlog": "-",
            # gunicorn >= 24 opens a control socket in $HOME; two hubs (or a hardened
            # systemd unit) would trip over it, and nothing here uses it.
            "control_socket_disable": True,
        }
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self):
        return create_app()
