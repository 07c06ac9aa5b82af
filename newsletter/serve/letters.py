"""The service's own mails, built: the confirmation and the welcome mail, in the reader's
language, with the legal footer every one of them carries.

They are built as ``send`` builds its messages (``delivery.letter``: the same From, Reply-To
and List-Id lines, 7-bit parts, DKIM); ``serve.mailer`` queues and delivers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from newsletter.config import Config
from newsletter.delivery.letter import Letterhead
from newsletter.identity import Identity, identity
from newsletter.serve.texts import TEXTS

# What a mail is (its purpose): the queue keeps one per recipient and purpose, and the
# record's ``mailed`` event names it.
CONFIRM_MAIL, WELCOME_MAIL = "confirm", "welcome"

# RFC 3676's signature separator: mail programs show what follows as the signature.
_SEPARATOR = "\n-- \n"


def legal_footer(who: Identity, texts: Mapping[str, str]) -> str:
    """Postal address, imprint and privacy policy, one per line (the publisher signs the
    text above)."""
    colon = "：" if who.language.lower().startswith("zh") else ": "
    lines = [who.address.replace("\n", ", ")]
    if who.imprint:
        lines.append(f"{texts['imprint']}{colon}{who.imprint}")
    if who.privacy:
        lines.append(f"{texts['privacy']}{colon}{who.privacy}")
    return _SEPARATOR + "\n".join(line for line in lines if line) + "\n"


def welcome(who: Identity, texts: Mapping[str, str], *, address: str, unsubscribe: str,
            list_title: str = "") -> tuple[str, str]:
    """The welcome mail's subject and body in ``who``'s language (``{list}``: the list's
    title in it)."""
    fields = {"name": who.name, "publisher": who.publisher, "address": address,
              "list": list_title}
    subject = who.welcome_subject.format_map(_Lenient(fields))
    body = who.welcome.format_map(_Lenient(fields)).rstrip("\n") + "\n"
    body += f"\n{unsubscribe}\n\n{who.publisher}\n"
    return subject, body + legal_footer(who, texts)


class _Lenient(dict[str, str]):
    """An editor's text may name a field we do not have, or hold a brace: kept as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Confirmation:
    """A finished service mail for the queue and the transport (``delivery.outcome.Message``):
    a confirmation, or (``purpose``) a welcome mail."""

    recipient: str
    envelope_from: str
    message_id: str
    data: bytes  # 7-bit, CRLF line ends, no line starting with "."
    list_name: str = ""  # the list the mail is about
    purpose: str = CONFIRM_MAIL  # what it is (the queue keeps one per recipient and purpose)
    dot_safe: bool = True
    language: str = ""  # no edition: a service mail is not an issue


class Letters:
    """Builds the service's mails on the newsletter's letterhead (checked here, at start)."""

    def __init__(self, config: Config) -> None:
        self.config = config  # each language's identity (name, legal links)
        self.letterhead = Letterhead(config)

    def confirmation(self, address: str, link: str, lang: str, *, list_name: str = ""
                     ) -> Confirmation:
        """The mail with the confirmation ``link`` for ``address``, in ``lang``."""
        texts = TEXTS[lang]
        who = identity(self.config, lang)
        body = texts["mail_body"].format(address=address, name=who.name, link=link,
                                         publisher=who.publisher)
        return self.letter(address, texts["mail_subject"].format(name=who.name),
                           body + legal_footer(who, texts), lang, list_name=list_name)

    def welcome_mail(self, address: str, lang: str, *, unsubscribe: str, list_name: str,
                     list_title: str) -> Confirmation:
        """The welcome mail after ``address`` confirmed ``list_name`` (``list_title`` in
        ``lang``), with the reader's ``unsubscribe`` link."""
        subject, body = welcome(identity(self.config, lang), TEXTS[lang], address=address,
                                unsubscribe=unsubscribe, list_title=list_title)
        return self.letter(address, subject, body, lang, list_name=list_name,
                           purpose=WELCOME_MAIL, unsubscribe=unsubscribe)

    def letter(self, address: str, subject: str, body: str, lang: str, *,
               list_name: str = "", purpose: str = CONFIRM_MAIL,
               unsubscribe: str | None = None) -> Confirmation:
        """A service mail of ``purpose`` to ``address``; ``unsubscribe``: the reader's link
        off ``list_name`` (a welcome mail), for ``List-Unsubscribe``."""
        # RFC 3834: an automatic mail, so that no auto-reply answers it.
        letter = self.letterhead.letter(address, subject, body, lang, unsubscribe=unsubscribe,
                                        headers=[("Auto-Submitted", "auto-generated")])
        return Confirmation(letter.recipient, letter.envelope_from, letter.message_id,
                            letter.data, list_name=list_name, purpose=purpose)
