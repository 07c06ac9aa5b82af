"""The texts of the service's mails beyond the confirmation's own words: the legal footer
every one of them carries, and the welcome mail after a confirmation."""

from __future__ import annotations

from collections.abc import Mapping

from newsletter.identity import Identity

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
