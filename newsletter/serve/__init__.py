"""``newsletter serve``: double opt-in subscribe and one-click unsubscribe (Starlette, uvicorn).

``create_app(settings)`` builds the ASGI app; ``run`` serves it with uvicorn.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
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
    config = uvicorn.Config(create_app(settings), proxy_headers=True,
                            forwarded_allow_ips=proxies, server_header=False,
                            access_log=access_log, timeout_keep_alive=5,
                            timeout_graceful_shutdown=10,
                            h11_max_incomplete_event_size=16 * 1024, log_level="info")
    with listener:
        uvicorn.Server(config).run(sockets=[listener])
