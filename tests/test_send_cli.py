"""``newsletter send`` and ``status`` as a user runs them, against a real SMTP server."""

from __future__ import annotations

import email.policy
import mailbox
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_send_servers import (
    ISSUE,
    Authenticator,
    Recorder,
    Server,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    run_cli,
    smtp_server_fixture,  # noqa: F401 (the 'smtp_server' fixture)
    start_server,
    write_list,
)

from newsletter.send.journal import Journal
from newsletter.send.lock import SendLock

pytestmark = pytest.mark.usefixtures("built")
LIST = "subscribers/sample.csv"


def readers() -> list[str]:
    lines = Path(LIST).read_text(encoding="utf-8").splitlines()[1:]
    return [line.split(",")[0].lower() for line in lines if line.strip()]


def test_every_reader_gets_one_well_formed_message(smtp_server: Server) -> None:
    result = run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    assert result.exit_code == 0, result.output
    expected = readers()
    assert smtp_server.handler.count() == dict.fromkeys(expected, 1)
    for (sender, rcpts, _), message in zip(smtp_server.handler.messages,
                                           smtp_server.handler.parsed(), strict=True):
        assert sender == "newsletter@example.org"
        assert message.defects == []
        for part in message.walk():
            assert part.defects == [], part.defects
        to = message["To"].addresses
        assert [a.addr_spec.lower() for a in to] == rcpts  # the reader alone
        assert message["Message-ID"]
        assert message["List-Unsubscribe"]
        assert not message["Subject"].startswith("[TEST]")
    assert f"sent {len(expected)}, failed 0" in result.output
    # again: nothing is sent twice
    result = run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    assert result.exit_code == 0
    assert smtp_server.handler.count() == dict.fromkeys(expected, 1)
    status = run_cli("status", ISSUE)
    assert f"sent      {len(expected)}" in status.output


def test_test_send_goes_only_to_the_test_address_and_is_not_journaled(
        smtp_server: Server) -> None:
    result = run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes",
                     "--test", "editor@example.net")
    assert result.exit_code == 0, result.output
    assert smtp_server.handler.count() == {"editor@example.net": 1}
    assert smtp_server.handler.parsed()[0]["Subject"].startswith("[TEST] ")
    assert not Path("journal").exists()


def test_dry_run_composes_all_and_connects_to_nothing(smtp_server: Server) -> None:
    result = run_cli("send", ISSUE, "--list", LIST, "--smtp", "smtp://127.0.0.1:1", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"{len(readers())} messages to send" in result.output
    assert not Path("journal").exists()


def test_without_smtp_delivers_into_the_outbox_and_says_so() -> None:
    env = {"NEWSLETTER_SMTP_URL": ""}
    result = run_cli("send", ISSUE, "--list", LIST, "--yes", env=env)
    assert result.exit_code == 0, result.output
    assert "no SMTP server configured" in result.stderr
    box = mailbox.Maildir("outbox/example", create=False)
    got = sorted(str(m["X-Original-To"] or m["Delivered-To"]).lower() for m in box)
    assert got == sorted(readers())
    for key in box.iterkeys():
        parsed = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        assert not parsed.defects
    again = run_cli("send", ISSUE, "--list", LIST, "--yes", env=env)
    assert again.exit_code == 0
    assert "no SMTP server configured" in again.stderr
    assert len(box) == len(readers())


def test_no_terminal_and_no_yes_refuses(smtp_server: Server) -> None:
    result = run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url)
    assert result.exit_code == 2
    assert "pass --yes" in result.stderr
    assert smtp_server.handler.count() == {}


def test_a_second_send_while_one_runs_is_refused(smtp_server: Server) -> None:
    with SendLock(Path("journal/example.lock")):
        result = run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    assert result.exit_code == 2
    assert "another 'newsletter send'" in result.stderr
    assert str(os.getpid()) in result.stderr
    assert smtp_server.handler.count() == {}
    # released (as when its process dies): taken over
    result = run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    assert result.exit_code == 0


def test_stale_lock_of_a_dead_process_is_taken_over(smtp_server: Server) -> None:
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from newsletter.send.lock import SendLock;"
        "SendLock(Path('journal/example.lock')).acquire(); print('locked', flush=True);"
        "time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    result = run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    assert result.exit_code == 2
    assert f"pid {holder.pid}" in result.stderr
    holder.kill()
    holder.wait()
    result = run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    assert result.exit_code == 0


def test_changed_content_refused_unless_allowed(smtp_server: Server) -> None:
    assert run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url,
                   "--yes").exit_code == 0
    greeting = Path(ISSUE) / "01-greeting.md"
    greeting.write_text(greeting.read_text(encoding="utf-8") + "\nA late correction.\n",
                        encoding="utf-8")
    stale = run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    assert stale.exit_code == 2
    assert "newsletter build" in stale.stderr
    assert run_cli("build", ISSUE).exit_code == 0
    Path("subscribers/sample.csv").write_text(
        Path(LIST).read_text(encoding="utf-8") + "late@example.org,Late,Dear Late\n",
        encoding="utf-8")
    changed = run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    assert changed.exit_code == 2
    assert "--allow-changed" in changed.stderr
    allowed = run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes",
                      "--allow-changed")
    assert allowed.exit_code == 0, allowed.output
    counts = smtp_server.handler.count()
    assert counts["late@example.org"] == 1
    assert set(counts.values()) == {1}


def test_no_build_is_reported() -> None:
    import shutil

    shutil.rmtree("build")
    result = run_cli("send", ISSUE, "--list", LIST, "--yes")
    assert result.exit_code == 2
    assert "run 'newsletter build issues/example' first" in result.stderr


def test_refused_reader_gives_exit_1_and_status_shows_the_code() -> None:
    server = start_server(Recorder())
    try:
        server.handler.faults.rcpt[readers()[0]] = "550 5.1.1 No such user"
        result = run_cli("send", ISSUE, "--list", LIST, "--smtp", server.url, "--yes")
        assert result.exit_code == 1, result.output
        assert "failed 550: 1" in result.output
        status = run_cli("status", ISSUE, "--list", LIST)
        assert "failed 550: 1" in status.output
        assert "No such user" in status.output
    finally:
        server.controller.stop()


@pytest.mark.parametrize("url", ["ftp://host", "smtp://user:secret@host", "smtp://"])
def test_bad_smtp_url_is_exit_2(url: str) -> None:
    result = run_cli("send", ISSUE, "--list", LIST, "--smtp", url, "--yes")
    assert result.exit_code == 2
    assert "secret" not in result.output + result.stderr


def test_invalid_rows_refused_unless_skipped(smtp_server: Server) -> None:
    write_list(Path("subscribers/mixed.csv"), 2)
    with Path("subscribers/mixed.csv").open("a", encoding="utf-8") as handle:
        handle.write("not-an-address,Bad,Dear Bad\n")
    refused = run_cli("send", ISSUE, "--list", "subscribers/mixed.csv", "--smtp",
                      smtp_server.url, "--yes")
    assert refused.exit_code == 2
    assert "subscribers/mixed.csv:4" in refused.stderr
    assert smtp_server.handler.count() == {}
    skipped = run_cli("send", ISSUE, "--list", "subscribers/mixed.csv", "--smtp",
                      smtp_server.url, "--yes", "--skip-invalid")
    assert skipped.exit_code == 0
    assert "invalid 1" in skipped.output
    assert len(smtp_server.handler.count()) == 2


@pytest.fixture
def auth_server() -> Iterator[tuple[Server, Authenticator]]:
    authenticator = Authenticator()
    server = start_server(Recorder(), authenticator=authenticator, auth_require_tls=False)
    yield server, authenticator
    server.controller.stop()


def test_no_auth_without_tls_and_password_never_shown(
        auth_server: tuple[Server, Authenticator]) -> None:
    server, authenticator = auth_server
    secret = "s3cret-Passw0rd"  # noqa: S105 (a test password for a loopback server)
    env = {"NEWSLETTER_SMTP_PASSWORD": secret}
    url = f"smtp://editor@127.0.0.1:{server.port}"
    result = run_cli("send", ISSUE, "--list", LIST, "--smtp", url, "--yes", env=env)
    assert result.exit_code == 2
    assert "does not offer STARTTLS" in result.stderr
    assert authenticator.tried == 0
    assert server.handler.count() == {}
    assert secret not in result.output + result.stderr
    # --insecure (tests only) does log in, loudly, and still never shows the password
    insecure = run_cli("send", ISSUE, "--list", LIST, "--smtp", url, "--yes", "--insecure",
                       env=env)
    assert insecure.exit_code == 0, insecure.output
    assert authenticator.tried >= 1
    assert "WARNING: --insecure" in insecure.stderr
    assert secret not in insecure.output + insecure.stderr
    for path in Path("journal").iterdir():
        assert secret.encode() not in path.read_bytes()


def test_user_without_password_is_a_config_error(auth_server: tuple[Server, Authenticator]
                                                 ) -> None:
    server, _ = auth_server
    result = run_cli("send", ISSUE, "--list", LIST, "--smtp",
                     f"smtp://editor@127.0.0.1:{server.port}", "--yes",
                     env={"NEWSLETTER_SMTP_PASSWORD": ""})
    assert result.exit_code == 2
    assert "NEWSLETTER_SMTP_PASSWORD" in result.stderr


def test_status_of_an_unsent_issue() -> None:
    result = run_cli("status", ISSUE)
    assert result.exit_code == 0
    assert "not sent yet" in result.output


def test_journal_lives_outside_the_build(smtp_server: Server) -> None:
    run_cli("send", ISSUE, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    journal = Journal.read_only(Path("journal/example.sqlite"))
    try:
        assert journal.counts()["sent"] == len(readers())
    finally:
        journal.close()
    assert not any(Path("build").rglob("*.sqlite"))


def test_sending_code_knows_nothing_of_templates() -> None:
    code = ("import sys, newsletter.send.campaign, newsletter.send.status; "
            "print(sorted(m for m in sys.modules if m == 'jinja2' or m == 'newsletter.render'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
