"""`claimwatch serve`: the web app under gunicorn (POSIX), a production WSGI server.

Each worker process builds its own app (its own engine, its own crawl launcher) after the fork; threads
within a worker share them. Behind a reverse proxy set ``CLAIMWATCH_WEB_PROXIES`` to the number of
proxies in front (ProxyFix then believes their X-Forwarded-For/-Proto/-Host/-Prefix) and
``CLAIMWATCH_WEB_SECURE_COOKIES=1`` when the proxy speaks HTTPS (docs/webapp.md).
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from monitor.config import Settings

log = logging.getLogger(__name__)


class WebServer(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)
        self.cfg.set("worker_exit", _worker_exit)

    def load(self) -> Any:
        from monitor.web.app import create_app

        return create_app(self.settings)


def _worker_exit(_server: Any, worker: Any) -> None:
    """Give this worker's crawls time to finish and release their leases, then close the database."""
    app = getattr(worker, "wsgi", None)
    state = getattr(app, "extensions", {}).get("claimwatch") if app is not None else None
    if state is not None:
        state.close()


def serve(settings: Settings, *, host: str, port: int, workers: int, threads: int,
          access_log: bool = True) -> None:
    """Run until stopped (SIGINT or SIGTERM)."""
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 40,
        # forwarded headers are believed only with CLAIMWATCH_WEB_PROXIES (then ProxyFix counts the hops)
        "forwarded_allow_ips": "*" if settings.web_proxies else "",
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "proc_name": "claimwatch-web",
        "limit_request_line": 8190,
    }
    WebServer(settings, options).run()
