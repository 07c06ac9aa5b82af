"""Read TOML and YAML front matter while keeping the line of every key, for path:line errors."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from newsletter.errors import Problem
from newsletter.yamlguard import expansion_problem

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """Parsed data plus the 1-based line of every key path in the source file."""

    path: str
    data: Any
    lines: dict[KeyPath, int]
    body: str = ""
    body_line: int = 1

    def line(self, keys: KeyPath) -> int:
        """The line of ``keys``, or of its nearest parent that has one."""
        while keys:
            if keys in self.lines:
                return self.lines[keys]
            keys = keys[:-1]
        return self.lines.get((), 1)

    def problem(self, keys: KeyPath, message: str) -> Problem:
        return Problem(self.path, self.line(keys), message)


class SourceError(Exception):
    """The file cannot be parsed at all; carries the problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def read_text(path: Path, shown: str, *, max_bytes: int | None = None) -> str:
    """The file's text; refused (not read) when it is larger than ``max_bytes``."""
    try:
        if max_bytes is not None and (size := path.stat().st_size) > max_bytes:
            raise SourceError(Problem(shown, None, f"is {size / 1024:,.0f} KB, over the limit "
                                      f"of {max_bytes / 1024:,.0f} KB for one file "
                                      "([limits] section_kb in newsletter.toml)"))
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(Problem(shown, None, f"not UTF-8 text ({exc.reason})")) from exc
    except OSError as exc:
        raise SourceError(Problem(shown, None, f"cannot read: {exc.strerror}")) from exc


_TOML_LINE = re.compile(r"at line (\d+)")


def load_toml(path: Path, shown: str) -> Located:
    """Parse a TOML file; lines of keys are found by a scan of the text (tomllib keeps none)."""
    text = read_text(path, shown)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        message = _TOML_LINE.sub("", str(exc)).replace("()", "").strip().rstrip(",")
        raise SourceError(
            Problem(shown, int(found.group(1)) if found else None, f"invalid TOML: {message}")
        ) from exc
    except ValueError as exc:  # tomllib converts numbers with int(): a huge one is refused
        long_number = re.search(r"\d{4000,}", text)
        line = text[:long_number.start()].count("\n") + 1 if long_number else None
        raise SourceError(Problem(shown, line, f"invalid TOML: {str(exc).split(';')[0]}")
                          ) from exc
    lines: dict[KeyPath, int] = {(): 1}
    table: KeyPath = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        header = re.match(r"^\[+\s*([^\]]+?)\s*\]+", stripped)
        if header:
            table = tuple(part.strip().strip("\"'") for part in header.group(1).split("."))
            lines.setdefault(table, number)
            continue
        key = re.match(r"^([A-Za-z0-9_\-\"'.]+)\s*=", stripped)
        if key:
            parts = tuple(part.strip().strip("\"'") for part in key.group(1).split("."))
            lines.setdefault(table + parts, number)
    return Located(shown, data, lines)


_FENCE = "---"


def load_front_matter(path: Path, shown: str, *, max_bytes: int | None = None) -> Located:
    """Split ``---`` YAML front matter from the Markdown body and parse it with key lines.

    A file over ``max_bytes`` is refused unread; the YAML is refused when it would expand
    (aliases, nesting) beyond the bounds of ``newsletter.yamlguard``.
    """
    text = read_text(path, shown, max_bytes=max_bytes).replace("\r\n", "\n")
    all_lines = text.split("\n")
    if not all_lines or all_lines[0].strip() != _FENCE:
        raise SourceError(
            Problem(shown, 1, "expected front matter: a first line '---', YAML, then '---'")
        )
    try:
        end = next(i for i in range(1, len(all_lines)) if all_lines[i].strip() == _FENCE)
    except StopIteration:
        raise SourceError(
            Problem(shown, 1, "front matter is not closed: expected a line '---' after the YAML")
        ) from None
    yaml_text = "\n".join(all_lines[1:end])
    body = "\n".join(all_lines[end + 1 :])
    data, lines = _parse_yaml(yaml_text, shown, first_line=2)
    if data is None:
        data = {}
    return Located(shown, data, lines, body=body, body_line=end + 2)


def _hint(problem: str) -> str:
    """What usually causes a YAML error an editor meets."""
    if "mapping values are not allowed" in problem:
        # `title: Foshan: the plenary` - the second ": " starts a mapping inside the value.
        return ('; a value that contains ": " must be in quotes, '
                'e.g. title: "Foshan: the plenary"')
    return ""


def _parse_yaml(text: str, shown: str, *, first_line: int) -> tuple[Any, dict[KeyPath, int]]:
    try:
        loader = yaml.SafeLoader(text)  # checks every character first: a VT is refused here
    except yaml.reader.ReaderError as exc:
        where = first_line + text[:exc.position].count("\n")
        raise SourceError(Problem(shown, where, f"invalid YAML: character U+{exc.character:04X} "
                                               "is not allowed")) from exc
    lines: dict[KeyPath, int] = {(): first_line - 1 if first_line > 1 else 1}
    try:
        # Walked as events first (PyYAML's parser keeps its own stack): a bomb is refused
        # before the recursive composer or our walk below would expand it.
        refused = expansion_problem(yaml.SafeLoader(text))
        if refused is not None:
            raise SourceError(Problem(shown, refused[0] + first_line, refused[1]))
        node = loader.get_single_node()
        if node is None:
            return None, lines
        return _convert(loader, node, (), lines, first_line, shown), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + first_line if mark else None
        what = exc.problem or exc.context or "invalid YAML"
        raise SourceError(Problem(shown, line, f"invalid YAML: {what}{_hint(what)}")) from exc
    except yaml.YAMLError as exc:
        raise SourceError(Problem(shown, None, f"invalid YAML: {exc}")) from exc
    finally:
        loader.dispose()


def _convert(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    keys: KeyPath,
    lines: dict[KeyPath, int],
    first_line: int,
    shown: str,
) -> Any:
    lines[keys] = node.start_mark.line + first_line
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(loader, key_node, first_line, shown)
            line = key_node.start_mark.line + first_line
            if not isinstance(key, str):
                raise SourceError(Problem(shown, line, f"expected a text key, got {key!r}"))
            if key in result:
                raise SourceError(Problem(shown, line, f"duplicate key '{key}'"))
            result[key] = _convert(loader, value_node, (*keys, key), lines, first_line, shown)
            lines[(*keys, key)] = line
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(loader, item, (*keys, index), lines, first_line, shown)
            for index, item in enumerate(node.value)
        ]
    return _construct(loader, node, first_line, shown)


def _construct(loader: yaml.SafeLoader, node: yaml.Node, first_line: int, shown: str) -> Any:
    """One scalar's value. A value YAML's rules cannot make (a date 2019-13-45, an integer
    of thousands of digits, which Python refuses to convert) is a problem at its line."""
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        line = node.start_mark.line + first_line
        what = str(exc).split(";")[0]
        raise SourceError(Problem(shown, line, f"invalid value {_start(node)}: {what}; put "
                                               "it in quotes if it is meant as text")) from exc


def _start(node: yaml.Node) -> str:
    value = str(node.value)
    return repr(value if len(value) <= 30 else value[:30] + "…")
