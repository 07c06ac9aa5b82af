"""Imports flow one way (DESIGN.md, STYLE.md point 4): a short ``ast`` walk keeps them so."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"

# Rank of each top-level module or subpackage: a module may import only lower ranks
# (and its own subpackage). cli -> preview/archive/send/compose -> render -> content/subscribers
# -> config -> errors.
RANKS = {
    "errors": 0,
    "personal": 1, "labels": 1, "source": 1, "palette": 1, "stub": 1,
    "record": 1, "tokens": 1, "layout": 1, "columns": 1, "transfer": 1, "email_slim": 1,
    "language": 2,
    "links": 5, "roster": 6,
    "serve": 10.5,  # uses send's transport for confirmation mails
    "markup": 2,
    "schema": 3,
    "kinds": 4, "config": 4, "editions": 4,
    "content": 5, "subscribers": 5, "email_html": 5, "headers": 5, "dkim_sign": 5,
    "dns_check": 5,
    "render": 6,
    "workspace": 7,
    "build": 8, "check": 8, "scaffold": 8,
    "compose": 9,
    "send": 10, "preview": 10, "archive": 10,
    "inbox": 11,
    "cli": 12,
}
# Sending takes finished messages: it never sees templates or the renderer.
RENDERING = {"render", "workspace", "build", "email_html", "markup", "jinja2", "mjml",
             "premailer", "markdown_it"}


def imports_of(path: Path) -> set[str]:
    """Top-level names imported by a file: ``newsletter.x.y`` -> ``x``; others by package."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "newsletter":
                names = [f"newsletter.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            found.add(parts[1] if parts[0] == "newsletter" and len(parts) > 1 else parts[0])
    return found


def modules() -> dict[Path, str]:
    return {path: path.relative_to(PACKAGE).parts[0].removesuffix(".py")
            for path in PACKAGE.rglob("*.py")
            if path.relative_to(PACKAGE).parts[0] not in ("__init__.py", "__main__.py",
                                                          "scaffold")}


def test_every_module_has_a_rank() -> None:
    unknown = sorted({top for top in modules().values() if top not in RANKS})
    assert not unknown, f"add these to RANKS in tests/test_architecture.py: {unknown}"


def test_imports_flow_one_way() -> None:
    wrong = []
    for path, top in modules().items():
        for name in imports_of(path) & RANKS.keys():
            if name != top and RANKS[name] >= RANKS[top]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not wrong


def test_only_the_cli_imports_click() -> None:
    offenders = [str(path.relative_to(PACKAGE)) for path, top in modules().items()
                 if top != "cli" and "click" in imports_of(path)]
    assert not offenders


def test_sending_knows_nothing_of_templates() -> None:
    offenders = [f"{path.relative_to(PACKAGE)}: {sorted(imports_of(path) & RENDERING)}"
                 for path, top in modules().items()
                 if top in ("send", "compose", "subscribers", "dkim_sign", "headers")
                 and imports_of(path) & RENDERING]
    assert not offenders
