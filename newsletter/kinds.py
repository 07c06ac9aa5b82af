"""The section kinds an issue is made of, declared once: validation, docs and stubs use this."""

from __future__ import annotations

from newsletter.schema import Field

_ANCHOR = Field("anchor", "str", doc="id for links to this section; default: from the file name")
_TITLE = Field("title", "str", doc="heading of the section")
_TITLE_REQUIRED = Field("title", "str", required=True, doc="heading of the section")
_LINK = Field("link", "link", doc="URL, or url + label")
_IMAGE = Field("image", "image", doc="src, alt, caption, credit")

KINDS: dict[str, tuple[Field, ...]] = {
    "greeting": (
        _ANCHOR, _TITLE,
        Field("salutation", "str", required=True,
              doc="opening line for readers without a personal salutation"),
        Field("signatories", "list", required=True, fields=(
            Field("name", "str", required=True), Field("title", "str"))),
    ),
    "exhibitor_quotes": (
        _ANCHOR, _TITLE_REQUIRED, _IMAGE,
        Field("items", "list", required=True, fields=(
            Field("person", "str", required=True), Field("role", "str"),
            Field("company", "str"), Field("city", "str"),
            Field("quote", "markdown", required=True), _LINK, _IMAGE)),
    ),
    "city_voices": (
        _ANCHOR, _TITLE_REQUIRED, _IMAGE,
        Field("items", "list", required=True, fields=(
            Field("person", "str", required=True), Field("office", "str"),
            Field("city", "str"), Field("quote", "markdown", required=True), _LINK, _IMAGE)),
    ),
    "new_members": (
        _ANCHOR, _TITLE_REQUIRED,
        Field("items", "list", required=True, fields=(
            Field("city", "str", required=True),
            Field("province", "str", doc="province or state"), Field("country", "str"),
            Field("description", "markdown"), _LINK, _IMAGE)),
    ),
    "plenary_summary": (
        _ANCHOR, _TITLE_REQUIRED, _IMAGE,
        Field("event", "record", required=True, fields=(
            Field("name", "str", required=True), Field("number", "int"),
            Field("date", "date"), Field("place", "str"))),
        Field("speakers", "list", fields=(
            Field("person", "str", required=True), Field("office", "str"),
            Field("city", "str"), Field("point", "markdown", required=True))),
    ),
    "article": (_ANCHOR, _TITLE_REQUIRED, Field("subtitle", "str"), _IMAGE, _LINK),
    "interview": (
        _ANCHOR, _TITLE_REQUIRED, _IMAGE,
        Field("interviewer", "str", required=True), Field("interviewee", "str", required=True),
        Field("questions", "list", required=True, fields=(
            Field("question", "markdown", required=True),
            Field("answer", "markdown", required=True))),
        _LINK,
    ),
}
