"""``build --out x`` then ``send --out x`` and ``status --out x`` (issue 8, item 9)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_send_servers import (
    ISSUE,
    Server,
    smtp_server_fixture,  # noqa: F401 (the 'smtp_server' fixture)
    write_list,
)

LIST = "subscribers/out.csv"


@pytest.mark.usefixtures("workspace")
def test_send_and_status_read_the_build_where_build_put_it(invoke: Callable[..., Any],
                                                          smtp_server: Server) -> None:
    write_list(Path(LIST), 3)
    assert invoke("build", ISSUE, "--out", "elsewhere").exit_code == 0
    assert not Path("build").exists()
    missing = invoke("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    assert missing.exit_code == 2
    assert "has not been built in" in missing.output
    sent = invoke("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes",
                  "--out", "elsewhere")
    assert sent.exit_code == 0, sent.output
    assert sum(smtp_server.handler.count().values()) == 3
    shown = invoke("status", ISSUE, "--out", "elsewhere")
    assert shown.exit_code == 0
    assert "  sent      3" in shown.output
    assert "note:" not in shown.output

    # rebuilt with other content: status says the readers got another version
    toml = Path(ISSUE) / "issue.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("our first issue", "changed"),
                    encoding="utf-8")
    assert invoke("build", ISSUE, "--out", "elsewhere").exit_code == 0
    shown = invoke("status", ISSUE, "--out", "elsewhere")
    assert "note: the build in elsewhere has other content" in shown.output
