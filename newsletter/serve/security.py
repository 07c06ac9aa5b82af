"""Cross-cutting protections: CSRF tokens and the security headers (rate limits: limits.py).

CSRF: a random cookie (``SameSite=Strict``, ``HttpOnly``) and, in every form, an HMAC of it
under a key derived from the secret. A forged cross-site POST carries no cookie (SameSite)
and cannot compute the field without the secret. The RFC 8058 one-click POST needs neither:
mail providers send it without cookies, and the unguessable token in its URL is what
authorises it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "nl_csrf"
_HSTS = ((b"strict-transport-security", b"max-age=31536000"),)  # only said over https
CSRF_FIELD = "csrf"


class Csrf:
    """Issues and checks the form field that goes with a browser's CSRF cookie."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"newsletter csrf v1", hashlib.sha256).digest()

    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(24)

    def field_for(self, cookie: str) -> str:
        return hmac.new(self._key, cookie.encode("utf-8"), hashlib.sha256).hexdigest()

    def valid(self, cookie: str | None, submitted: object) -> bool:
        """Whether ``submitted`` is the field for ``cookie``, compared in constant time."""
        if not cookie or not isinstance(submitted, str) or len(cookie) > 64:
            return False
        return hmac.compare_digest(self.field_for(cookie), submitted)


def security_headers(style_hash: str) -> list[tuple[bytes, bytes]]:
    """The headers every response carries."""
    csp = (f"default-src 'none'; style-src {style_hash}; img-src 'self' data:; "
           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return [(b"content-security-policy", csp.encode("ascii")),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            # Tokens are in our URLs: never send them on to another site.
            (b"referrer-policy", b"no-referrer"),
            (b"cache-control", b"no-store"),
            (b"permissions-policy", b"interest-cohort=(), camera=(), microphone=()"),
            (b"cross-origin-opener-policy", b"same-origin")]


class SecurityHeaders:
    """ASGI middleware adding ``security_headers`` to every HTTP response."""

    def __init__(self, app: ASGIApp, *, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Raw pairs appended: no handler sets these, and MutableHeaders' per-item
                # search cost more than the rest of a small response.
                message["headers"] = [*message.get("headers", ()), *self.headers,
                                      *(_HSTS if scope.get("scheme") == "https" else ())]
            await send(message)

        await self.app(scope, receive, send_with_headers)
