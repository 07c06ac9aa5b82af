"""What we sent, from the send journals: which reader, issue and list a Message-ID was.

Every send journal (``Places.journal_files``: one per issue, and those of older releases, one
per issue and list) is read once per run into two small maps. A bounce is
tied to a reader only through them: by the returned message's Message-ID, else by the bounced
address itself. An address no journal knows was never mailed by us, so a "bounce" for it is
reported and changes nothing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from newsletter.errors import NewsletterError, shown_path
from newsletter.places import Places
from newsletter.send.journal import Journal
from newsletter.send.migrate import legacy_list


@dataclass(frozen=True)
class Sent:
    """One message we sent: to whom, which issue, which list."""

    address: str
    issue: str  # the issue's slug
    list_name: str  # the id of the list it was sent for ("" if the journal does not say)
    message_id: str


class SentIndex:
    """Message-ID and address lookups over every send journal of a workspace."""

    def __init__(self, places: Places, database_url: str | None = None) -> None:
        self.by_id: dict[str, Sent] = {}
        self.by_address: dict[str, Sent] = {}  # the latest journal that mailed the address
        self._domains: set[str] | None = None
        if database_url:  # the journals are in PostgreSQL: every issue in one query
            from newsletter.send.pgschema import every_message

            for slug, address, message_id, list_id in every_message(database_url):
                self._add(Sent(address.lower(), slug, list_id or "", message_id))
            return
        paths = sorted(places.journal_files(), key=lambda p: (p.stat().st_mtime, p))
        for path in paths:
            slug, older = places.journal_slug(path), legacy_list(path)
            try:
                journal = Journal.read_only(path)
                try:
                    slug = journal.meta("slug") or slug
                    for address, message_id, list_id in journal.messages():
                        self._add(Sent(str(address).lower(), slug, str(list_id or older),
                                       str(message_id)))
                finally:
                    journal.close()
            except (sqlite3.Error, NewsletterError) as exc:
                raise NewsletterError(f"cannot read the send journal: {exc}",
                                      path=shown_path(path)) from exc

    def _add(self, sent: Sent) -> None:
        self.by_id[normal_id(sent.message_id)] = sent
        self.by_address[sent.address] = sent

    def find(self, message_id: str, *addresses: str) -> Sent | None:
        """By Message-ID first; else the latest send to one of ``addresses``.

        A Message-ID from a domain we never used for ours belongs to some other mail (an
        editor's own, say): then nothing is found. One of our domain that no journal knows
        (a journal deleted, an issue re-sent with other content) falls back to the address.
        """
        if message_id:
            sent = self.by_id.get(normal_id(message_id))
            if sent is not None:
                return sent
            if _domain(message_id) not in self.domains:
                return None
        return next((self.by_address[a] for a in addresses if a in self.by_address), None)

    @property
    def domains(self) -> set[str]:
        if self._domains is None:
            self._domains = {_domain(mid) for mid in self.by_id}
        return self._domains


def normal_id(message_id: str) -> str:
    """``<ID@host>`` as one comparable string, whatever spacing or brackets came with it."""
    return "<" + message_id.strip().strip("<>").strip() + ">"


def _domain(message_id: str) -> str:
    return normal_id(message_id).rpartition("@")[2].rstrip(">").lower()
