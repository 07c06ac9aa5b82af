"""``newsletter serve``: double opt-in subscribe and one-click unsubscribe (Starlette, uvicorn).

``create_app(settings)`` builds the ASGI app; ``run`` serves it with uvicorn.
"""

from __future__ import annotations

import ipaddress
import logging
import sys

from newsletter.errors import ConfigError
from newsletter.serve.app import create_app
from newsletter.serve.settings import Settings

__all__ = ["Settings", "create_app", "run"]


def run(settings: Settings, *, host: str = "127.0.0.1", port: int = 8030,
        proxies: str = "127.0.0.1", access_log: bool = True) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM: requests in flight are finished).

    ``proxies``: the addresses whose ``X-Forwarded-For``/``-Proto`` are believed (the
    reverse proxy in front; uvicorn's ``forwarded_allow_ips``), so that rate limits count the
    real client and cookies know the page was https.
    """
    import uvicorn

    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is not a TCP port")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host != "localhost":
            raise ConfigError(f"--host {host!r}: give an IP address to listen on, such as "
                              "127.0.0.1 (the default) or 0.0.0.0") from None
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=host.strip("[]"), port=port, proxy_headers=True,
                forwarded_allow_ips=proxies, server_header=False, access_log=access_log,
                timeout_keep_alive=5, timeout_graceful_shutdown=10, backlog=2048,
                h11_max_incomplete_event_size=16 * 1024, log_level="info")
