"""The editions of one send: a ``Composer`` per edition, and which edition each reader gets.

A reader gets the edition of their ``language`` column (same tag, else same primary subtag,
else the default edition: ``layout.Manifest.edition_for``); ``--test --language`` forces one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from newsletter.config import Config
from newsletter.delivery.compose import Built, Composer, OutgoingMessage
from newsletter.errors import SendError
from newsletter.subscribers import Subscriber
from newsletter.tags import fallback


class Editions:
    def __init__(self, built: Built, config: Config, *, test: bool,
                 language: str | None = None, list_name: str = "*", local: bool = True
                 ) -> None:
        """``list_name`` and ``local`` go to each ``Composer`` (the unsubscribe links)."""
        self.manifest = built.manifest
        def make(edition: Built) -> Composer:  # does its MIME work once, here
            return Composer(edition, config, test=test, list_name=list_name, local=local)

        self.composers = {built.edition.language: make(built)} | {
            e.language: make(Built.read(built.folder, e.language))
            for e in self.manifest.editions if e.language != built.edition.language}
        self.forced = self._forced(language)
        for composer in self.composers.values():  # all from the same build
            if composer.content_hash != self.manifest.content_hash:
                raise SendError(f"the build of {self.manifest.slug} changed while it was read "
                                "(is a build running?): try again")
        self._picked: dict[str, str] = {}  # a reader's language -> the edition's: a list has few

    @property
    def default(self) -> Composer:
        return self.composers[self.manifest.default_edition.language]

    def _forced(self, wanted: str | None) -> str | None:
        if not wanted:
            return None
        found = fallback(wanted, self.manifest.languages)
        if found is None:
            raise SendError(f"issue {self.manifest.slug} has no {wanted!r} edition; its "
                            f"editions: {', '.join(self.manifest.languages)}")
        return found

    def language_of(self, subscriber: Subscriber) -> str:
        """The language of the edition this reader gets."""
        return self.edition_language(subscriber.language)

    def edition_language(self, value: str) -> str:
        """The language of the edition for a reader whose ``language`` column says ``value``."""
        if self.forced:
            return self.forced
        found = self._picked.get(value)
        if found is None:
            found = self._picked[value] = self.manifest.edition_for(value).language
        return found

    def compose(self, subscriber: Subscriber, list_name: str | None = None) -> OutgoingMessage:
        """``list_name``: the list id the reader's unsubscribe link names."""
        return self.composers[self.language_of(subscriber)].compose(subscriber, list_name)

    def count(self, readers: Iterable[Subscriber]) -> dict[str, int]:
        """How many of ``readers`` get each edition (every edition listed, the default first)."""
        return self.count_languages(Counter(reader.language for reader in readers))

    def count_languages(self, languages: Mapping[str, int]) -> dict[str, int]:
        """The same from readers counted per ``language`` column value (``check_list``'s)."""
        counts = dict.fromkeys(self.manifest.languages, 0)
        for value, n in languages.items():
            counts[self.edition_language(value)] += n
        return counts

