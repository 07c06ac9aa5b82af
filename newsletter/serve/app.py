"""The ASGI app: built by ``create_app(settings)``, routes in one list, checks as middleware.

GET never changes anything (link scanners and Outlook Safe Links prefetch every link); each
state change is a POST that is answered only after its event is durably in the record.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from newsletter.errors import NewsletterError
from newsletter.links import ServiceUrls, unsubscribe_base
from newsletter.record import ALL_LISTS, Event, Record, RecordError, since
from newsletter.serve.forms import SubscribeForm, read_form, spent
from newsletter.serve.gate import Gate
from newsletter.serve.letters import Confirmation, Letters
from newsletter.serve.limits import DAY, LimitStore
from newsletter.serve.mailer import Mailer, transport_for
from newsletter.serve.pages import Page, Renderer
from newsletter.serve.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    Csrf,
    SecurityHeaders,
    security_headers,
)
from newsletter.serve.settings import Settings
from newsletter.serve.texts import LANGUAGES, choose
from newsletter.serve.writer import Writer
from newsletter.tokens import CONFIRM, UNSUBSCRIBE, Claim, TokenError, Tokens

log = logging.getLogger("newsletter.serve")


class Service:
    """The state behind the routes: record writer, mails and their queue, tokens, limits."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        config = settings.config
        self.tokens = Tokens(settings.secret)
        self.urls = ServiceUrls(settings.url)
        # Where messages' unsubscribe links point ([unsubscribe] url_base, else ours).
        self.unsubscribe_base = unsubscribe_base(config) or self.urls.unsubscribe_base
        self.csrf = Csrf(settings.secret)
        self.renderer = Renderer(site=str(config.newsletter.name),
                                 publisher=str(config.newsletter.publisher),
                                 colour=str(config.brand.get("colour") or "#1f5f8b"),
                                 config=config)
        self.letters = Letters(config)  # sender, DKIM key: checked now, not per mail
        self.mailer = Mailer(transport_for(config, settings.smtp_url),
                             accepted=self.mailed, admit=lambda mail: self.gate.admit(mail))
        self.gate = Gate(settings, self.mailer, self.history, _limit_store(settings))
        self.default_lang = str(config.newsletter.get("language") or "en")
        self.writer: Writer | None = None
        self.reader: Record | None = None
        self._messages: dict[tuple[str, str, str, str], bytes] = {}

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.writer = Writer(Record.open(self.settings.root, self.settings.database_url))
        self.reader = Record.open(self.settings.root, self.settings.database_url)
        try:
            self.gate.recall(self.reader.since("mailed", since(DAY)))
        except RecordError as exc:  # the service still starts: requests get 503 meanwhile
            log.warning("the day's mails not counted from the record: %s", exc)
        self.mailer.start()
        log.info("confirmation mails go through %s", self.mailer.description)
        if not self.settings.lists:
            log.warning("no list is declared public = true: the subscribe form is closed")
        try:
            yield
        finally:
            await self.mailer.drain(timeout=10.0)
            self.writer.close()
            self.gate.store.close()
            self.reader.close()

    # -- helpers ------------------------------------------------------------------------------

    def lang(self, request: Request, claim: Claim | None = None) -> str:
        """``?lang=``, else the language in the link's token, else Accept-Language."""
        param = request.query_params.get("lang") if request.scope["query_string"] else None
        param = param or (claim.language if claim else None)
        if param in LANGUAGES:
            return str(param)
        return choose(param, request.headers.get("accept-language"), self.default_lang)

    def page(self, request: Request, page: Page, status: int = 200) -> Response:
        cookie = request.cookies.get(CSRF_COOKIE)
        fresh = not cookie or len(cookie) > 64
        if fresh:
            cookie = Csrf.new_cookie()
        assert cookie is not None  # noqa: S101 (set just above)
        if page.form:
            page = _with(page, csrf=self.csrf.field_for(cookie))
        response = HTMLResponse(self.renderer.render(page), status_code=status)
        if fresh and page.form:
            response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="strict",
                                secure=request.url.scheme == "https", path="/")
        return response

    def message(self, request: Request, lang: str, title: str, body: str, status: int,
                link: str = "") -> Response:
        """A page without a form: the same for everyone, so rendered once and kept."""
        key = (lang, title, body, link)
        html = self._messages.get(key)
        if html is None:
            t = self.renderer.texts(lang)
            html = self._messages[key] = self.renderer.render(
                Page(lang, t[title], (t[body],), link=link)).encode("utf-8")
        return HTMLResponse(html, status_code=status)

    def csrf_ok(self, request: Request, form: Mapping[str, Any]) -> bool:
        return self.csrf.valid(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD))

    def claim(self, purpose: str, request: Request) -> Claim:
        """The valid token's claim. A confirmation must be for a list we have; an
        unsubscribe is always honoured: for a list we do not have (any more: renamed,
        removed), it stops the address on every list."""
        claim = self.tokens.read(purpose, request.path_params["token"])
        if purpose != UNSUBSCRIBE and not self.settings.known_list(claim.list_name):
            raise TokenError("this link is for a list we do not have")
        return claim

    async def store(self, event: Event) -> None:
        assert self.writer is not None  # noqa: S101 (set by lifespan before any request)
        await self.writer.append(event)

    def client(self, request: Request) -> str:
        return request.client.host if request.client else "unknown"

    async def mailed(self, mail: Confirmation) -> None:
        """The relay accepted ``mail``: only now is it in the record as mailed."""
        await self.store(Event(mail.recipient, "mailed", mail.list_name or ALL_LISTS, "form",
                               detail={"purpose": mail.purpose, "message_id": mail.message_id}))

    def history(self, address: str) -> list[Event]:
        assert self.reader is not None  # noqa: S101 (set by lifespan)
        return self.reader.history(address)


def _limit_store(settings: Settings) -> LimitStore | None:
    """Where the form's counts live: in PostgreSQL when the record is (shared by every
    worker and host), else in this process (the default store)."""
    if not settings.database_url:
        return None
    from newsletter.serve.pglimits import PostgresLimits

    return PostgresLimits(settings.database_url)


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


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _with(page: Page, **changes: Any) -> Page:
    return replace(page, **changes)


async def record_failed(request: Request, exc: Exception) -> Response:
    """The record could not be read or written: nothing was acknowledged, try again later."""
    service = _service(request)
    log.error("%s %s: event not stored: %s", request.method, request.url.path.split("/")[1], exc)
    return service.message(request, service.lang(request), "error_title", "store_body", 503)


async def health(request: Request) -> Response:
    """A trivial answer (monitoring, and the benchmark's baseline)."""
    return PlainTextResponse("ok")


async def subscribe(request: Request) -> Response:
    service = _service(request)
    settings = service.settings
    lang = service.lang(request)
    if not settings.lists:  # no list declared public: nothing to offer
        return service.message(request, lang, "closed_title", "closed_body", 404)
    blank = Page(lang, service.renderer.texts(lang)["subscribe_title"],
                 (service.renderer.texts(lang)["subscribe_intro"],), form="subscribe",
                 lists=settings.choices(lang),
                 consent=settings.consent[lang],
                 consent_version=settings.consent_version,
                 values={"email": "", "name": "", "language": lang, "list": settings.lists[0]})
    if request.method != "POST":  # GET and HEAD only show; never change anything
        return service.page(request, blank)
    form = await read_form(request)
    if not service.csrf_ok(request, form):
        return service.message(request, lang, "error_title", "csrf_body", 403)
    if form.get("website"):  # the honeypot: a bot filled the field people cannot see
        log.info("honeypot filled by %s: ignored", service.client(request))
        return service.message(request, lang, "sent_title", "sent_body", 200)
    entry = SubscribeForm.parse(form, settings, service.renderer.texts(lang))
    if entry.errors:
        return service.page(request, _with(blank, values=entry.values, errors=entry.errors),
                            400)
    if not service.gate.client_allowed(service.client(request)):
        # Keyed by the client alone: says nothing about the address.
        return service.message(request, lang, "error_title", "busy_body", 429)
    answer = service.message(request, entry.language, "sent_title", "sent_body", 200)
    decision = service.gate.decide(entry.address)
    await service.store(Event(entry.address, "requested", entry.list_name, "form",
                              language=entry.language, consent_version=settings.consent_version,
                              detail={"name": entry.name, "ip": service.client(request),
                                      "consent": settings.consent[entry.language],
                                      "mailed": decision.detail}
                              | ({"privacy_version": settings.privacy_version}
                                 if settings.privacy_version else {})))
    if decision.over is None:  # over a limit: the same answer, and no mail (no mail-bombing)
        token = service.tokens.make(CONFIRM, entry.list_name, entry.address,
                                    language=entry.language)
        link = service.urls.confirm(token)
        try:
            mail = service.letters.confirmation(entry.address, link, entry.language,
                                                list_name=entry.list_name)
        except (ValueError, TypeError, NewsletterError) as exc:
            # The request is recorded: say so, and answer alike.
            log.warning("confirmation mail not built: %s", exc)
            return answer
        service.gate.hand_over(decision, mail)
    return answer


async def confirm(request: Request) -> Response:
    service = _service(request)
    try:
        claim = service.claim(CONFIRM, request)
    except TokenError as exc:
        lang = service.lang(request, exc.expired)
        if exc.expired:
            return service.message(request, lang, "expired_title", "expired_body", 410,
                                   link=service.urls.subscribe(lang))
        return service.message(request, lang, "invalid_title", "invalid_body", 404)
    lang = service.lang(request, claim)
    if spent(claim, service.history(claim.address)):
        # A link from before the reader's latest unsubscribe: replaying it must not
        # subscribe them again. Shown like an expired link: they may ask for a new one.
        return service.message(request, lang, "expired_title", "expired_body", 410,
                               link=service.urls.subscribe(lang))
    t = service.renderer.texts(lang)
    if request.method != "POST":  # GET and HEAD only show; never change anything
        return service.page(request, Page(lang, t["confirm_title"], (t["confirm_body"],),
                                          form="confirm"))
    form = await read_form(request)
    if not service.csrf_ok(request, form):
        return service.message(request, lang, "error_title", "csrf_body", 403)
    history = service.history(claim.address)
    requests = [e for e in history if e.event == "requested"]
    last = requests[-1] if requests else None
    await service.store(Event(
        claim.address, "confirmed", claim.list_name, "form", language=claim.language,
        consent_version=last.consent_version if last else "",
        detail={"name": last.detail.get("name", "") if last else "",
                "ip": service.client(request)}))
    if claim.list_name in service.settings.welcome_lists and _newly_subscribed(
            history, claim.list_name):
        _welcome(service, claim, lang)
    return service.message(request, lang, "confirmed_title", "confirmed_body", 200)


def _newly_subscribed(history: list[Event], list_name: str) -> bool:
    """No confirmation of this list since the reader last left it: a repeated confirm (a
    second click, a scanner replaying the form) gets no second welcome."""
    for event in reversed(history):
        if event.list_name not in (list_name, ALL_LISTS):
            continue
        if event.event == "confirmed":
            return False
        if event.event == "unsubscribed":
            return True
    return True


def _welcome(service: Service, claim: Claim, lang: str) -> None:
    """Queue the welcome mail, in the reader's language, through the confirmation mailer."""
    token = service.tokens.make(UNSUBSCRIBE, claim.list_name, claim.address,
                                language=claim.language)
    spec = next((s for s in service.settings.config.lists if s.id == claim.list_name), None)
    try:
        service.mailer.submit(service.letters.welcome_mail(
            claim.address, lang, unsubscribe=f"{service.unsubscribe_base}/{token}",
            list_name=claim.list_name,
            list_title=spec.text(lang).title if spec else claim.list_name))
    except (ValueError, TypeError, NewsletterError) as exc:
        log.warning("welcome mail not built: %s", exc)  # the confirmation is recorded


async def _change_language(request: Request, service: Service, claim: Claim,
                           form: Mapping[str, Any]) -> Response:
    """The reader stays subscribed and gets future issues in another language."""
    language = form.get("language")
    if language not in LANGUAGES:
        return service.message(request, service.lang(request, claim), "error_title",
                               "csrf_body", 400)
    await service.store(Event(claim.address, "language", claim.list_name, "footer",
                              language=str(language), detail={"ip": service.client(request)}))
    return service.message(request, str(language), "language_title", "language_body", 200)


async def unsubscribe(request: Request) -> Response:
    service = _service(request)
    try:
        claim = service.claim(UNSUBSCRIBE, request)
    except TokenError:
        return service.message(request, service.lang(request), "invalid_title",
                               "invalid_body", 404)
    lang = service.lang(request, claim)
    t = service.renderer.texts(lang)
    if request.method != "POST":  # GET and HEAD only show; never change anything
        return service.page(request, Page(lang, t["unsubscribe_title"],
                                          (t["unsubscribe_body"],), form="unsubscribe",
                                          values={"language": claim.language or lang}))
    form = await read_form(request)
    # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click", with no cookie.
    if form.get("List-Unsubscribe") == "One-Click":
        source = "one-click"
    elif service.csrf_ok(request, form):
        source = "footer"
    else:
        return service.message(request, lang, "error_title", "csrf_body", 403)
    if source == "footer" and form.get("action") == "language":
        return await _change_language(request, service, claim, form)
    detail = {"ip": service.client(request)}
    list_name = claim.list_name
    if not service.settings.known_list(list_name):  # renamed or removed since: every list
        list_name, detail["link_list"] = ALL_LISTS, claim.list_name
    await service.store(Event(claim.address, "unsubscribed", list_name, source,
                              language=claim.language, detail=detail))
    return service.message(request, lang, "unsubscribed_title", "unsubscribed_body", 200,
                           link=service.urls.subscribe(lang))
