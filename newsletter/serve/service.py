"""The state behind the routes of ``newsletter serve``, its startup and shutdown, and what
every route asks of it.

``Service`` holds the record (a writer for events, a reader for histories), the confirmation
mails and their queue, tokens and limits; its ``lifespan`` opens them before the first
request and closes them after the last. Its helpers are the checks and answers the routes
share: the request's language, the link's token, the CSRF check, a page or a message.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from newsletter.links import ServiceUrls, unsubscribe_base
from newsletter.record import ALL_LISTS, Event, Record, RecordError, since
from newsletter.serve.gate import Gate
from newsletter.serve.letters import Confirmation, Letters
from newsletter.serve.limits import DAY, LimitStore
from newsletter.serve.mailer import Mailer, transport_for
from newsletter.serve.pages import Page, Renderer
from newsletter.serve.security import CSRF_COOKIE, CSRF_FIELD, Csrf
from newsletter.serve.settings import Settings
from newsletter.serve.texts import LANGUAGES, choose
from newsletter.serve.writer import Writer
from newsletter.tokens import UNSUBSCRIBE, Claim, TokenError, Tokens

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
            page = replace(page, csrf=self.csrf.field_for(cookie))
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
