"""The ASGI app: built by ``create_app(settings)``, routes in one list, checks as middleware.

The routes are in ``routes``, the state behind them (and its startup and shutdown) in
``service``; here they are put together, with the checks every request passes first: the
Host header, the size of the body, and the security headers of every answer.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import RedirectResponse
from starlette.routing import Route

from newsletter.record import RecordError
from newsletter.serve.routes import confirm, health, record_failed, subscribe, unsubscribe
from newsletter.serve.security import SecurityHeaders, security_headers
from newsletter.serve.service import Service
from newsletter.serve.settings import Settings


def create_app(settings: Settings) -> Starlette:
    """The service for ``settings``, ready for uvicorn (which runs its lifespan)."""
    service = Service(settings)
    routes = [
        Route("/", lambda request: RedirectResponse("subscribe", 303)),
        Route("/health", health),
        Route("/subscribe", subscribe, methods=["GET", "POST"]),
        Route("/confirm/{token}", confirm, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"]),
    ]
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.hosts),
                   www_redirect=False),
        Middleware(SecurityHeaders, headers=security_headers(service.renderer.style_hash)),
        Middleware(RequestBodyLimitMiddleware, max_body_size=settings.max_body),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=service.lifespan,
                    exception_handlers={RecordError: record_failed})
    app.state.service = service
    return app
