"""Column names as offices write them, in German, English and Chinese, to the canonical ones.

Matching ignores case, accents, spaces, hyphens, underscores, dots and colons: ``E-Mail``,
``e_mail``, ``EMAIL:`` and ``Émail`` are all ``email``. A name that is none of these but close
to one (``Emial``, ``Sprahce``) is refused with a did-you-mean; any other name is kept, in
lower case, as a merge field of its own.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence

ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "mail", "email address", "e-mail address", "e-mail-adresse",
              "emailadresse", "mailadresse", "mail address", "e-mail adresse",
              "邮箱", "电子邮件", "电子邮箱", "邮件", "邮件地址", "电子邮件地址", "電子郵件",
              "電子郵箱", "郵箱", "郵件地址"),
    "name": ("name", "full name", "vollständiger name", "姓名", "名字", "全名"),
    "first_name": ("first_name", "first name", "given name", "vorname", "名"),
    "last_name": ("last_name", "last name", "surname", "family name", "nachname", "姓"),
    "salutation": ("salutation", "greeting", "anrede", "briefanrede", "称呼", "稱呼", "称谓",
                   "稱謂"),
    "language": ("language", "lang", "sprache", "语言", "語言", "语种", "語種"),
    "organisation": ("organisation", "organization", "org", "institution", "firma", "company",
                     "verein", "behörde", "单位", "單位", "组织", "組織", "机构", "機構", "公司"),
    "city": ("city", "town", "stadt", "ort", "gemeinde", "城市", "市"),
}
_STRIP = re.compile(r"[\s\-_.:：()（）]+")


def key(name: str) -> str:
    """``name`` folded for comparison: NFKC, accents off, case folded, separators gone."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _STRIP.sub("", unicodedata.normalize("NFKC", plain).casefold())


_CANONICAL = {key(alias): column for column, aliases in ALIASES.items() for alias in aliases}
# Umlauts are folded by key() too ("vollstandigername"); "ue" spellings are common in Excel.
_CANONICAL |= {key(a.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")): c
               for c, aliases in ALIASES.items() for a in aliases}


def canonical(name: str) -> str | None:
    """The canonical column ``name`` stands for, or None when it is none of the known ones."""
    return _CANONICAL.get(key(name))


def is_header(cells: Sequence[str]) -> bool:
    """True when ``cells`` name an e-mail column: the header row (title rows come before)."""
    return any(canonical(cell) == "email" for cell in cells)


def suggestion(name: str) -> str | None:
    """The known column a name that is none of them looks like a misspelling of."""
    folded = key(name)
    if len(folded) < 4:  # short names ("ID", "Nr") match anything at this distance
        return None
    near = difflib.get_close_matches(folded, _CANONICAL, n=1, cutoff=0.8)
    return _CANONICAL[near[0]] if near else None


def columns(header: Sequence[str]) -> tuple[list[str], list[str]]:
    """The header's canonical column names, and the misspelt ones (each with its hint).

    Unknown names are kept in lower case (merge fields). A misspelling is reported only when
    the column it resembles is not in the header under its own name.
    """
    names = [canonical(cell) or cell.strip().lower() for cell in header]
    problems = []
    for cell in header:
        if canonical(cell) is not None or not cell.strip():
            continue
        near = suggestion(cell)
        if near is not None and near not in names:
            shown = ", ".join(repr(a) for a in ALIASES[near][:3])
            problems.append(f"column {cell.strip()!r} is not one we know; did you mean "
                            f"{near!r} ({shown} …)?")
    return names, problems


def known() -> str:
    """The usual header, in the three languages, for messages."""
    return "'E-Mail;Name;Anrede;Sprache', 'email,name,salutation,language' or '邮箱,姓名,称呼,语言'"
