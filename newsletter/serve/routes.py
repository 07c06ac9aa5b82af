"""The routes of ``newsletter serve``: subscribe, confirm, unsubscribe, health, and the
answer when the record fails.

GET never changes anything (link scanners and Outlook Safe Links prefetch every link); each
state change is a POST that is answered only after its event is durably in the record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from newsletter.errors import NewsletterError
from newsletter.record import ALL_LISTS, Event
from newsletter.serve.forms import SubscribeForm, read_form, spent
from newsletter.serve.pages import Page
from newsletter.serve.service import Service
from newsletter.serve.texts import LANGUAGES
from newsletter.tokens import CONFIRM, UNSUBSCRIBE, Claim, TokenError

log = logging.getLogger("newsletter.serve")


def _service(request: Request) -> Service:
    """The ``Service`` that ``app.create_app`` keeps in the app's state."""
    service: Service = request.app.state.service
    return service


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
        return service.page(request, replace(blank, values=entry.values, errors=entry.errors),
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
