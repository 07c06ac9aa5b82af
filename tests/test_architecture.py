"""Imports flow one way (DESIGN.md, STYLE.md point 4): a short ``ast`` walk keeps them so."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"

# Rank of each top-level module or subpackage: a module may import only lower ranks
# (and its own subpackage). cli -> preview/archive/send/compose -> render -> content/subscribers
# -> config -> errors.
RANKS = {
    "errors": 0, "places": 0, "tags": 0, "atomic": 0, "findings": 0, "yamlguard": 0.5,
    "invisible": 0.5, "characters": 0.5, "database": 0.5,
    "personal": 1, "labels": 1, "source": 1, "palette": 1, "stub": 1,
    "record": 1, "tokens": 1, "layout": 1, "columns": 1, "digests": 1, "transfer": 1,
    "keytable": 0.5, "addresses": 0.5,
    "email_slim": 1,
    "language": 2,
    "links": 5, "roster": 6, "office": 6,
    # Office files (CSV as Excel saves it, xlsx, ods) and photos into one clean form.
    "tabular": 2, "images": 2, "pictures": 7, "blocks": 1.5,
    "serve": 10.5, "dbadmin": 11,  # uses send's transport for confirmation mails
    "markup": 2,
    "schema": 3,
    "kinds": 4, "config": 4, "editions": 4,
    "identity": 4.5, "drift": 5,
    "mailinglist": 5.5,
    "content": 5, "subscribers": 5, "email_html": 5,
    "dns_check": 5,
    "render": 6,
    "workspace": 7,
    "build": 8, "check": 8, "scaffold": 8,
    "delivery": 9,  # message builder, headers, DKIM, SMTP, outbox: shared by send and serve
    "send": 10, "preview": 10, "archive": 10,
    "publish": 10.5,  # reads what archive wrote into site/ and what build wrote
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
                 if top in ("send", "delivery", "subscribers")
                 and imports_of(path) & RENDERING]
    assert not offenders


# Names that hold a workspace root (or a candidate for one): only ``places`` joins onto them.
ROOTS = {"root", "workspace_root", "target"}


def _is_root(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else \
        node.id if isinstance(node, ast.Name) else None
    return name in ROOTS


def _is_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)) or (
        isinstance(node, ast.Name) and node.id.isupper())  # a constant such as CONFIG_FILE


def root_joins(source: str) -> list[int]:
    """Lines of ``root / "subscribers"``, ``root.joinpath("x")``, ``Path(root, "x")``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        joined = (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
                  and _is_root(node.left) and _is_literal(node.right))
        joined = joined or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                            and node.func.attr == "joinpath" and _is_root(node.func.value))
        joined = joined or (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                            and node.func.id == "Path" and len(node.args) > 1
                            and _is_root(node.args[0]))
        if joined:
            found.append(getattr(node, "lineno", 0))
    return sorted(found)


def test_only_places_joins_paths_onto_the_workspace_root() -> None:
    """Where a file of the workspace lives is written down once, in ``newsletter.places``."""
    offenders = [f"{path.relative_to(PACKAGE)}:{line}" for path in modules()
                 if path.name != "places.py"
                 for line in root_joins(path.read_text(encoding="utf-8"))]
    assert not offenders, f"ask newsletter.places.Places for these paths: {offenders}"


def test_the_root_join_check_can_fail() -> None:
    source = ('a = root / "subscribers"\nb = config.root / f"{slug}.sqlite"\n'
              'c = Path(root, "journal")\nd = root.joinpath("site")\ne = layout.root / slug\n'
              'f = workspace_root / CONFIG_FILE\n')
    assert root_joins(source) == [1, 2, 3, 4, 6]
