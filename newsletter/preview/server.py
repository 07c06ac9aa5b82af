"""The preview's HTTP server: the page, the frame documents, the issue's files, and an
event stream (server-sent events) that announces every new build."""

from __future__ import annotations

import errno
import mimetypes
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from newsletter.errors import NewsletterError
from newsletter.images import ImageCache, ImageProblem
from newsletter.preview import page
from newsletter.preview.build import ASSET_BASE, Live

PREVIEW_WIDTH = 1104  # a HEIC photo converted for the preview: as wide as the build makes it
KEEPALIVE = 15.0  # seconds between comments on an idle event stream (proxies, dead peers)
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


# Names a browser on this machine uses for a loopback server. Any other Host header is a page
# elsewhere that had its DNS name re-pointed at 127.0.0.1 (DNS rebinding): refused, since the
# preview shows a subscriber's personalised email (--as).
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "127.0.0.1", "::1"})
_ANY_ADDRESS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104  (names, not a bind)


def allowed_hosts(bind_host: str) -> frozenset[str] | None:
    """Host names the server answers to; None: any (it listens on every address)."""
    if bind_host in _ANY_ADDRESS:
        return None
    return LOOPBACK_NAMES | {bind_host.strip("[]").lower()}


def host_name(header: str | None) -> str | None:
    """The name in a Host header, without port or IPv6 brackets, lowercased."""
    if not header:
        return None
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[1:end] if end > 0 else None
    name, _, port = header.partition(":")
    return name if not port or port.isdigit() else None


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], live: Live) -> None:
        self.live = live
        self.allowed = allowed_hosts(address[0])
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser closing a connection mid-response is normal, not worth a traceback.
        if isinstance(sys.exc_info()[1], _GONE):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = "newsletter-preview"

    def do_GET(self) -> None:
        allowed = self.server.allowed
        if allowed is not None and host_name(self.headers.get("Host")) not in allowed:
            self._plain(HTTPStatus.FORBIDDEN, "This preview answers only to localhost "
                        "(start it with --host NAME to reach it under another name).\n")
            return
        try:
            self._route()
        except _GONE:
            raise
        except Exception as exc:  # no path may cost the editor a traceback
            sys.stderr.write(f"preview: cannot answer {self.path[:200]!r}: "
                             f"{type(exc).__name__}: {exc}\n")
            self._plain(HTTPStatus.INTERNAL_SERVER_ERROR, "The preview could not answer this.\n")

    def _plain(self, status: HTTPStatus, text: str) -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        dark = query.get("dark") == ["1"]
        live = self.server.live
        snapshot = live.snapshot.edition(query.get("lang", [""])[0])  # the language switch
        if url.path == "/":
            self._send(page.page(snapshot, title=snapshot.subject or live.folder.name))
        elif url.path == "/frame/email":
            self._send(page.frame_email(snapshot, dark=dark), frame=True)
        elif url.path == "/frame/text":
            self._send(page.frame_text(snapshot, dark=dark), frame=True)
        elif url.path == "/events":
            self._events()
        elif url.path == "/favicon.ico":
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
        elif url.path.startswith(ASSET_BASE):
            self._file(live.folder, unquote(url.path[len(ASSET_BASE):]))
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def _send(self, html: str, *, frame: bool = False) -> None:
        body = html.encode("utf-8")
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if frame:  # the email is content: it never runs scripts here
            self.send_header("Content-Security-Policy", "script-src 'none'")
        self.end_headers()
        self.wfile.write(body)

    def _file(self, folder: Path, relative: str) -> None:
        base = folder.resolve()
        try:  # a NUL byte or an overlong name is a path that does not exist, not an error
            path = (base / relative).resolve()
            found = "\0" not in relative and path.is_relative_to(base) and path.is_file()
            body = path.read_bytes() if found else _converted(base, path)
            found = found or bool(body)
        except (OSError, ValueError):
            found = False
        if not found:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", mimetypes.guess_type(path.name)[0]
                         or "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def _events(self) -> None:
        """Send the current build number, then every newer one, until the page goes away."""
        live = self.server.live
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = -1
        try:
            self.wfile.write(b"retry: 500\n\n")
            while not live.closed:
                snapshot = live.wait_newer(seen, KEEPALIVE)
                if snapshot.version > seen:
                    seen = snapshot.version
                    self.wfile.write(f"event: version\ndata: {seen}\n\n".encode())
                else:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except _GONE:
            pass
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: an editor wants the page, not an access log."""


def bind(live: Live, *, host: str, port: int | None, default: int,
         say: Any = None) -> PreviewServer:
    """A server on ``host:port``; with no port, ``default`` or the next free one (said aloud)."""
    if port is not None:
        try:
            return PreviewServer((host, port), live)
        except OSError as exc:
            raise _bind_error(exc, host, port) from exc
    for candidate in range(default, default + 20):
        try:
            server = PreviewServer((host, candidate), live)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise _bind_error(exc, host, candidate) from exc
            continue
        if candidate != default and say is not None:
            say(f"port {default} is in use; using port {candidate} instead")
        return server
    raise NewsletterError(f"ports {default}-{default + 19} on {host} are all in use; "
                          "choose one with --port N (--port 0: any free port)")


def _bind_error(exc: OSError, host: str, port: int) -> NewsletterError:
    if exc.errno == errno.EADDRINUSE:
        return NewsletterError(f"port {port} on {host} is already in use (another preview?); "
                               "choose another with --port N, or --port 0 for any free port")
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return NewsletterError(f"cannot listen on {host}: not an address of this machine")
    return NewsletterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def _converted(base: Path, wanted: Path) -> bytes:
    """A HEIC photo asked for by its published name (``x.jpg``), as the build makes it: the
    browser cannot show HEIC itself. Empty when there is none."""
    if not wanted.is_relative_to(base) or wanted.suffix != ".jpg":
        return b""
    for suffix in (".heic", ".HEIC", ".heif", ".HEIF"):
        source = wanted.with_suffix(suffix)
        if source.is_file():
            try:
                return ImageCache(None).get(source, local=source.name, max_width=PREVIEW_WIDTH
                                            ).data
            except ImageProblem:
                return b""
    return b""
