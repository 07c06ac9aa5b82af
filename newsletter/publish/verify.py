"""Asking the web server what it serves: after a publish, and before a send.

One GET per URL with a short timeout, redirects not followed (an email's image that
redirects is an image at another address than the one the email names). Each answer is
data: its status, its bytes, or why there was none.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    url: str
    status: int | None = None  # None: no answer (see ``error``)
    body: bytes = b""
    location: str = ""  # of a redirect
    error: str = ""
    unreachable: bool = False  # the host could not be reached at all (not a slow answer)

    def problem(self, expected: bytes | None) -> str | None:
        """Why this answer is not the expected file, or None when it is."""
        if self.status is None:
            return self.error
        if 300 <= self.status < 400:
            return f"answers {self.status}, a redirect to {self.location or '(nowhere)'}"
        if self.status != 200:
            return f"answers {self.status}"
        if expected is not None and self.body != expected:
            return "serves other bytes than the build (an older upload?)"
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(
    _NoRedirect, urllib.request.HTTPSHandler(context=ssl.create_default_context()))


def fetch(url: str, *, timeout: float) -> Answer:
    """GET ``url``; never raises for what the network or the server does."""
    if not url.startswith(("http://", "https://")):
        return Answer(url, error="not an http(s) address", unreachable=True)
    request = urllib.request.Request(  # noqa: S310  (http(s) only, checked above)
        url, headers={"User-Agent": "newsletter-publish-check", "Cache-Control": "no-cache"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(url, response.status, response.read(MAX_BYTES))
    except urllib.error.HTTPError as exc:
        return Answer(url, exc.code, location=exc.headers.get("Location", ""))
    except TimeoutError:
        return Answer(url, error=f"no answer within {timeout:g} s")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            return Answer(url, error=f"no answer within {timeout:g} s")
        if isinstance(reason, ssl.SSLError):
            return Answer(url, error=f"TLS failed: {reason}")
        return Answer(url, error=f"cannot connect ({_reason(reason)})", unreachable=True)
    except (http.client.HTTPException, ConnectionError, OSError) as exc:
        return Answer(url, error=f"connection failed ({type(exc).__name__}: {exc})")


def fetch_all(urls: Sequence[str], *, timeout: float) -> list[Answer]:
    """Every URL, a few at a time (the slowest bounds the wait, not their sum)."""
    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        return list(pool.map(lambda u: fetch(u, timeout=timeout), urls))


def _reason(reason: object) -> str:
    if isinstance(reason, socket.gaierror):
        return "host not found"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


@dataclass
class Verification:
    """What the web server said after a publish."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: str = ""  # why no check was possible (a warning, not a failure)
    deploying: bool = False  # a pages host builds after the push: a difference is a warning

    @property
    def failed(self) -> bool:
        return bool(self.problems) and not self.deploying

    def lines(self) -> list[str]:
        if self.skipped:
            return [f"warning: not verified over HTTP: {self.skipped}"]
        if self.problems and self.deploying:
            return [f"warning: {p} (a pages host may still be deploying the push)"
                    for p in self.problems]
        if self.problems:
            return [f"error: {p}; a cache in front of the server may need time, else check "
                    "[archive] base_url" for p in self.problems]
        return [f"verified: {', '.join(self.checked)} serve{'s' if len(self.checked) == 1 else ''}"
                " the published bytes"]


def verify(base_url: str, site: Path, uploaded: Sequence[str], *, timeout: float,
           deploying: bool = False) -> Verification:
    """Fetch the front page and one changed page from ``base_url``; compare with ``site``
    (``deploying``: the host publishes some time after the upload, as git pages hosts do)."""
    changed = [r for r in uploaded if r.endswith(".html") and r != "index.html"]
    pages = ["index.html", *changed[:1]]
    urls = [base_url if r == "index.html" else urljoin(base_url, r) for r in pages]
    result = Verification(deploying=deploying)
    for relative, answer in zip(pages, fetch_all(urls, timeout=timeout), strict=True):
        if answer.unreachable:
            result.skipped = (f"{answer.url}: {answer.error} (is the host live yet? once it "
                              "is, 'newsletter publish' verifies again)")
            return result
        problem = answer.problem((site / relative).read_bytes())
        if problem:
            result.problems.append(f"{answer.url} {problem}")
        else:
            result.checked.append(answer.url)
    return result
