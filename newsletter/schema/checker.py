"""Checks values against declared fields, collecting every problem.

Used for section front matter and for newsletter.toml, so both report alike:
``path:line: message`` at the line of the offending key, with a suggestion for a typo.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from newsletter.characters import CONTROL, control_character, line_break
from newsletter.errors import Problem
from newsletter.invisible import find_invisible
from newsletter.language import problem as language_problem
from newsletter.markup import Rich, is_local, plain, render, scheme_ok
from newsletter.personal import RESERVED
from newsletter.schema.fields import IMAGE_FIELDS, LINK_FIELDS, Field, Image, Link, Record
from newsletter.source import KeyPath, Located


@dataclass
class Checker:
    """Carries the file being checked, the problems found, and how to resolve local files."""

    source: Located
    problems: list[Problem] = field(default_factory=list)
    local_file: Callable[[str], str | None] | None = None  # returns an error or None

    def add(self, keys: KeyPath, message: str) -> None:
        self.problems.append(self.source.problem(keys, message))

    def record(self, value: Any, fields: tuple[Field, ...], keys: KeyPath = ()) -> Record:
        """Check a mapping against ``fields``; unknown keys get a near-miss suggestion."""
        if not isinstance(value, dict):
            self.add(keys, f"expected a mapping of keys, got {_type_name(value)}")
            value = {}
        known = {f.name: f for f in fields}
        for key in value:
            if key not in known:
                near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"; did you mean '{near[0]}'?" if near else \
                    f"; expected one of: {', '.join(sorted(known))}"
                self.add((*keys, key), f"unknown key '{key}'{hint}")
        result: dict[str, Any] = {}
        for spec in fields:
            if spec.name not in value or value[spec.name] is None:
                if spec.required:
                    self.add(keys, f"missing required key '{spec.name}' ({_expect(spec)})")
                result[spec.name] = self._absent(spec)
                continue
            result[spec.name] = self.value(value[spec.name], spec, (*keys, spec.name))
        return Record(result)

    @staticmethod
    def _absent(spec: Field) -> Any:
        """An absent list is empty; an absent record whose keys are all optional has defaults."""
        if spec.type == "list":
            return ()
        if spec.type == "record" and spec.fields and not any(f.required for f in spec.fields):
            return Record({f.name: Checker._absent(f) for f in spec.fields})
        return spec.default

    def value(self, value: Any, spec: Field, keys: KeyPath) -> Any:
        kind = spec.type
        if kind == "list":
            if not isinstance(value, list):
                self.add(keys, f"'{spec.name}' expected a list, got {_type_name(value)}")
                return ()
            if spec.required and not value:
                self.add(keys, f"'{spec.name}' must not be empty")
            item = Field(spec.name, spec.item, fields=spec.fields)
            return tuple(self.value(v, item, (*keys, i)) for i, v in enumerate(value))
        if kind == "record":
            return self.record(value, spec.fields, keys)
        if kind == "link":
            return self.link(value, keys)
        if kind == "image":
            return self.image(value, keys)
        return self.scalar(value, spec, keys)

    def scalar(self, value: Any, spec: Field, keys: KeyPath) -> Any:
        name, kind = spec.name, spec.type
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                self.add(keys, f"'{name}' expected a whole number, got {_type_name(value)}")
            return value
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.add(keys, f"'{name}' expected a number, got {_type_name(value)}")
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                self.add(keys, f"'{name}' expected true or false, got {_type_name(value)}")
            return value
        if kind == "date":
            if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
                self.add(keys, f"'{name}' expected a date like 2019-10-16, got {value!r}")
                return None
            return value
        if not isinstance(value, str):
            self.add(keys, f"'{name}' expected text, got {_type_name(value)}")
            return plain("") if kind in ("markdown", "inline") else ""
        if kind in ("markdown", "inline"):
            return self.markdown(value, keys, inline=kind == "inline")
        if spec.header and (found := line_break(value)):
            self.add(keys, f"'{name}' contains a line break ({found}): not allowed in a mail "
                           "header, where it could add header lines")
        elif found := control_character(value):
            self.add(keys, f"'{name}' contains a control character ({found}): not allowed")
        elif spec.header and (hidden := find_invisible(value)):
            self.add(keys, f"'{name}' contains the invisible character {hidden[1]} at "
                           f"position {hidden[0] + 1}: not allowed in a mail header, where "
                           "it can reverse or hide text (delete it; see docs/format.md)")
        if RESERVED in value:
            self.add(keys, f"'{name}' contains '{RESERVED}', which is reserved for personal "
                           "fields")
        if kind == "url" and not scheme_ok(value):
            self.add(keys, f"'{name}' expected an absolute http(s):// or mailto: URL, "
                           f"got {value!r}")
        if kind == "colour" and not re.fullmatch(r"#[0-9A-Fa-f]{6}|#[0-9A-Fa-f]{3}", value):
            self.add(keys, f"'{name}' expected a colour like #b3001b, got {value!r}")
        if kind == "email" and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value):
            self.add(keys, f"'{name}' expected an e-mail address, got {value!r}")
        if kind == "language" and (why := language_problem(value)):
            self.add(keys, f"'{name}': {why}")
        if kind == "str" and spec.name in ("anchor",) and not re.fullmatch(
                r"[a-z0-9][a-z0-9\-]*", value):
            self.add(keys, f"'{name}' expected lowercase letters, digits and '-', got {value!r}")
        return value

    def markdown(self, value: str, keys: KeyPath, *, inline: bool,
                 first_line: int | None = None) -> Rich:
        """Render Markdown; ``first_line`` is where the text starts (else its key's line)."""
        if first_line is None:
            # A block scalar (``key: |``) starts on the line after its key.
            first_line = self.source.line(keys) + (1 if "\n" in value.strip() else 0)
        control = CONTROL.search(value)
        if control:
            line = first_line + value[: control.start()].count("\n")
            self.problems.append(Problem(self.source.path, line, "the text contains a control "
                                         f"character (U+{ord(control.group()):04X}): not allowed"))
        if RESERVED in value:
            line = first_line + value[: value.index(RESERVED)].count("\n")
            self.problems.append(Problem(self.source.path, line, f"the text contains "
                                         f"'{RESERVED}', which is reserved for personal fields"))
        rich, link_problems = render(value, inline=inline)
        for p in link_problems:
            self.problems.append(Problem(self.source.path, first_line + p.line_offset,
                                         p.message))
        for src, _alt in rich.images:
            if not is_local(src):
                continue
            error = self.local_file(src) if self.local_file else \
                f"image '{src}': images from files belong in an issue's sections"
            if error:
                lines = value.split("\n")
                offset = next((i for i, line in enumerate(lines) if src in line), 0)
                self.problems.append(Problem(self.source.path, first_line + offset, error))
        return rich

    def link(self, value: Any, keys: KeyPath) -> Link | None:
        if isinstance(value, str):
            value = {"url": value}
        record = self.record(value, LINK_FIELDS, keys)
        url = record.url
        if isinstance(url, str) and not scheme_ok(url):
            self.add((*keys, "url") if (*keys, "url") in self.source.lines else keys,
                     f"link '{url}' must be an absolute http(s):// or mailto: URL")
        return Link(url or "", record.label)

    def image(self, value: Any, keys: KeyPath) -> Image | None:
        if isinstance(value, str):
            value = {"src": value}
        record = self.record(value, IMAGE_FIELDS, keys)
        src = record.src if isinstance(record.src, str) else ""
        if not (isinstance(record.alt, str) and record.alt.strip()):
            self.add(keys, f"image '{src}' has no alt text: add 'alt:' describing it")
        local = None
        if src and not re.match(r"^https?://", src):
            error = self.local_file(src) if self.local_file else None
            if error:
                self.add((*keys, "src"), error)
            else:
                local = src
        return Image(src, record.alt or "", record.caption, record.credit, local)


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return f"text {value!r}" if len(value) < 40 else "text"
    return {int: "a number", float: "a number", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__)


def _expect(spec: Field) -> str:
    return spec.doc or {"str": "text", "markdown": "Markdown text", "inline": "text",
                        "int": "a whole number", "date": "a date like 2019-10-16",
                        "list": "a list", "record": "a mapping", "link": "a URL",
                        "image": "an image with src and alt", "url": "a URL",
                        "language": "a BCP 47 language tag such as de or zh"}.get(spec.type,
                                                                                  spec.type)
