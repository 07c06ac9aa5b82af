"""``newsletter serve``: double opt-in subscribe and one-click unsubscribe (Starlette, uvicorn).

``create_app(settings)`` builds the ASGI app; ``run`` serves it with uvicorn.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import sys
from typing import Any

from newsletter.errors import ConfigError
from newsletter.serve import worker
from newsletter.serve.app import create_app
from newsletter.serve.settings import Settings
from newsletter.serve.worker import WORKER_ENV

__all__ = ["Settings", "create_app", "run"]


def run(settings: Settings, *, host: str = "127.0.0.1", port: int = 8030,
        proxies: str = "127.0.0.1", access_log: bool = True, workers: int = 1) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM: requests in flight are finished).

    ``workers`` > 1: that many processes (uvicorn's supervisor) share the listening socket;
    each builds its app from the workspace again (``newsletter.serve.worker``). They share
    the record (a SQLite file on one host, PostgreSQL across hosts) and the secret (tokens
    and CSRF fields are derived from it), and each keeps its share of the rate limits.

    ``proxies``: the addresses whose ``X-Forwarded-For``/``-Proto`` are believed (the
    reverse proxy in front; uvicorn's ``forwarded_allow_ips``), so that rate limits count the
    real client and cookies know the page was https.
    """
    import uvicorn

    if not 1 <= workers <= 64:
        raise ConfigError(f"--workers {workers}: give 1 to 64 processes")
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is not a TCP port")
    address = host.strip("[]")
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    except ValueError:
        if host != "localhost":
            raise ConfigError(f"--host {host!r}: give an IP address to listen on, such as "
                              "127.0.0.1 (the default) or 0.0.0.0") from None
        family = socket.AF_INET
    # Bound here, so that a port in use is one clear line before anything starts. The protocol
    # is named: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose
    # proto is IPPROTO_TCP; with 0, as socket.create_server makes them, every small answer
    # waits up to 40 ms for a delayed ACK.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    shown = f"[{address}]" if family == socket.AF_INET6 else address
    logging.getLogger("newsletter.serve").info(
        "serving %s on http://%s:%d/ (Ctrl-C to stop)", settings.url, shown,
        listener.getsockname()[1])
    options: dict[str, Any] = {
        "proxy_headers": True, "forwarded_allow_ips": proxies, "server_header": False,
        "access_log": access_log, "timeout_keep_alive": 5, "timeout_graceful_shutdown": 10,
        "h11_max_incomplete_event_size": 16 * 1024, "log_level": "info"}
    with listener:
        if workers == 1:
            uvicorn.Server(uvicorn.Config(create_app(settings), **options)).run(
                sockets=[listener])
            return
        from uvicorn.supervisors import Multiprocess

        # The workers are new processes (spawned): they find the workspace and their share
        # of the limits here, and load the rest themselves.
        os.environ[WORKER_ENV] = json.dumps({"root": str(settings.root), "workers": workers})
        config = uvicorn.Config(f"{worker.__name__}:create", factory=True, workers=workers,
                                **options)
        Multiprocess(config, sockets=[listener]).run()
