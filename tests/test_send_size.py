"""Message size (issue 22, case 2): the issue's limit before anything is sent, and a relay's
SIZE (RFC 1870) honoured before MAIL: a problem of the issue, reported once, no reader failed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_send_servers import (
    ISSUE,
    Faults,
    Recorder,
    Server,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    run_cli,
    start_server,
    status_counts,
    write_list,
)

pytestmark = pytest.mark.usefixtures("built")
LIST = Path("subscribers/size.csv")


@pytest.fixture
def small() -> Iterator[Server]:
    """A relay that takes messages of 10 000 bytes at most, and says so in its EHLO reply."""
    server = start_server(data_size_limit=10_000)
    yield server
    server.controller.stop()


@pytest.fixture
def large() -> Iterator[Server]:
    server = start_server(data_size_limit=10_000_000)
    yield server
    server.controller.stop()


def test_a_message_over_the_relays_size_fails_no_reader(small: Server, large: Server) -> None:
    addresses = write_list(LIST, 6)
    result = run_cli("send", ISSUE, "--list", str(LIST), "--yes", "--smtp", small.url)
    assert result.exit_code != 0, result.output
    assert small.handler.messages == []  # refused before MAIL: not even an envelope began
    output = result.output
    assert "over the SIZE limit of 10,000 bytes" in output
    assert "a problem of the issue" in output
    assert output.count("SIZE limit") == 1, output  # said once, not once per reader
    status = run_cli("status", ISSUE, "--list", str(LIST)).output
    assert "failed" not in status_counts(status), status  # no reader counts it as theirs
    # The same run against a relay that takes the message: everyone gets it, once.
    again = run_cli("send", ISSUE, "--list", str(LIST), "--yes", "--smtp", large.url)
    assert again.exit_code == 0, again.output
    assert sorted(large.handler.count()) == sorted(addresses)


def test_over_the_message_limit_nothing_is_sent(small: Server) -> None:
    write_list(LIST, 3)
    with Path("newsletter.toml").open("a", encoding="utf-8") as config:
        config.write("\n[limits]\nmessage_kb = 8\n")
    result = run_cli("send", ISSUE, "--list", str(LIST), "--yes", "--smtp", small.url)
    assert result.exit_code == 2, result.output
    assert "error: issues/example: the en message is" in result.output
    assert "over the limit of 8 KB for one message ([limits] message_kb in newsletter.toml)" \
        in result.output
    assert "nothing was sent" in result.output
    assert small.handler.messages == []
    assert "Traceback" not in result.output


def test_in_a_pool_the_relay_that_takes_the_message_gets_every_reader(
        small: Server, large: Server) -> None:
    addresses = write_list(LIST, 8)
    result = run_cli("send", ISSUE, "--list", str(LIST), "--yes", "--smtp", small.url,
                     "--smtp", large.url)
    assert result.exit_code == 0, result.output
    assert small.handler.messages == []
    assert sorted(large.handler.count()) == sorted(addresses)
    assert "over the SIZE limit of 10,000 bytes" in result.output  # why it went out


def test_a_relay_that_refuses_the_size_only_after_the_body_fails_no_reader(
        large: Server) -> None:
    """No SIZE advertised, but 552 5.3.4 after the final dot: the same for every reader."""
    addresses = write_list(LIST, 5)
    reply = "552 5.3.4 Error: message file too big"
    quiet = start_server(Recorder(Faults(data=dict.fromkeys(addresses, reply), always=True)))
    try:
        result = run_cli("send", ISSUE, "--list", str(LIST), "--yes", "--smtp", quiet.url)
    finally:
        quiet.controller.stop()
    assert result.exit_code != 0, result.output
    assert result.output.count("552 5.3.4") == 1, result.output
    assert "failed" not in status_counts(run_cli("status", ISSUE, "--list", str(LIST)).output)
    again = run_cli("send", ISSUE, "--list", str(LIST), "--yes", "--smtp", large.url)
    assert again.exit_code == 0, again.output
    assert sorted(large.handler.count()) == sorted(addresses)
