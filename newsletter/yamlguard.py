"""Bounds on what a YAML document may expand to, checked on its events before it is built.

A "billion laughs" document is a few hundred bytes whose aliases name anchors that name
anchors: built and walked, it is billions of nodes. Deep nesting (``[[[[…``) overflows the
composer's recursion. Both are refused here from PyYAML's event stream, which its parser
produces with a stack of its own (no recursion) and without building anything: each event
costs a few operations, so a refused bomb costs milliseconds.

The bounds are fixed, far above any front matter an editor writes (a section's front
matter has tens of keys), so they are not settings.
"""

from __future__ import annotations

import yaml

MAX_DEPTH = 32  # nested mappings and lists
MAX_NODES = 10_000  # nodes, counting an alias as every node it stands for
MAX_CHARACTERS = 1_000_000  # characters of text, counting an alias as all the text it repeats


class _Open:
    """A mapping or list being read: its anchor and what it holds so far."""

    __slots__ = ("anchor", "characters", "nodes")

    def __init__(self, anchor: str | None) -> None:
        self.anchor = anchor
        self.nodes = 1
        self.characters = 0


def expansion_problem(loader: yaml.SafeLoader) -> tuple[int, str] | None:
    """The 0-based line and message of the first bound ``loader``'s document breaks, or None.

    Syntax errors are left to the real parse (which reports them with their line): here
    they end the walk quietly.
    """
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, characters) it stands for
    stack: list[_Open] = [_Open(None)]
    try:
        while (event := loader.get_event()) is not None:  # type: ignore[no-untyped-call]
            line = event.start_mark.line if event.start_mark else 0
            if isinstance(event, yaml.CollectionStartEvent):
                if len(stack) > MAX_DEPTH:
                    return line, (f"YAML nested deeper than {MAX_DEPTH} levels: front matter "
                                  "is a few levels of keys and lists")
                stack.append(_Open(event.anchor))
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                done = stack.pop()
                nodes, characters = done.nodes, done.characters
                if done.anchor is not None:
                    anchors[done.anchor] = (nodes, characters)
            elif isinstance(event, yaml.ScalarEvent):
                nodes, characters = 1, len(event.value)
                if event.anchor is not None:
                    anchors[event.anchor] = (nodes, characters)
            elif isinstance(event, yaml.AliasEvent):
                if any(open_.anchor == event.anchor for open_ in stack):
                    return line, (f"YAML alias *{event.anchor} refers to a list or mapping "
                                  "it is inside (it would repeat without end): refused")
                nodes, characters = anchors.get(str(event.anchor), (1, 0))
            else:
                continue
            stack[-1].nodes += nodes
            stack[-1].characters += characters
            total_nodes = sum(open_.nodes for open_ in stack)
            total_characters = sum(open_.characters for open_ in stack)
            if total_nodes > MAX_NODES:
                return line, (f"YAML expands to more than {MAX_NODES:,} values (front "
                              "matter has tens; aliases that repeat aliases multiply them): "
                              "refused")
            if total_characters > MAX_CHARACTERS:
                return line, (f"YAML expands to more than {MAX_CHARACTERS:,} characters of "
                              "text (a huge value, or aliases repeating it): refused")
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return None
