"""What a schema declares and what checking hands back.

``Field`` declares one key (its type, whether it is required, its sub-fields); ``Record`` is
the frozen bag of checked values; ``Link`` and ``Image`` are the two structured values a
field can hold, declared by ``LINK_FIELDS`` and ``IMAGE_FIELDS``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class Record:
    """A frozen bag of validated values; templates read ``record.name``."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Record is frozen")

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(sorted(self._values.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, repr(v)) for k, v in self._values.items())))

    def __repr__(self) -> str:
        return f"Record({self._values!r})"

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)


@dataclass(frozen=True)
class Link:
    """A checked link: an absolute http(s):// or mailto: URL and its text, if given."""

    url: str
    label: str | None = None


@dataclass(frozen=True)
class Image:
    """An image as written (``src``) and, for a local file, its path relative to the issue."""

    src: str
    alt: str
    caption: str | None = None
    credit: str | None = None
    local: str | None = None


@dataclass(frozen=True)
class Field:
    """One declared key: its type, whether it is required, and its sub-fields for records."""

    name: str
    type: str  # str markdown inline int number bool date url email colour language link image
    #            record list
    required: bool = False
    default: Any = None
    fields: tuple[Field, ...] = ()
    item: str = "record"  # for lists: the type of each item
    doc: str = ""
    header: bool = False  # goes into a mail header: no line break of any kind


LINK_FIELDS = (
    Field("url", "str", required=True, doc="absolute http(s):// or mailto: URL"),
    Field("label", "str", doc="link text; a sensible default if absent"),
)
IMAGE_FIELDS = (
    Field("src", "str", required=True, doc="a file in the issue folder (images/…) or https URL"),
    Field("alt", "str", doc="what the image shows, for screen readers (required)"),
    Field("caption", "str"),
    Field("credit", "str"),
)
