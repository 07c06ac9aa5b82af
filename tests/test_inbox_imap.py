"""`newsletter inbox --imap` against a real Dovecot on loopback, TLS with a throwaway CA.

The server runs with a throwaway config, mail folder and self-signed certificate; the tool
trusts that certificate only through ``[inbox] ca_file``: verification is never switched off.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from imapclient import IMAPClient

sys.path.insert(0, str(Path(__file__).parent))
from inbox_support import READERS, corpus, events, message_ids, sent_template

from newsletter.record import Record

ANNA, LI, JOHN = READERS
USER, PASSWORD = "bounces", "throwaway-Pa55"


@dataclass(frozen=True)
class Dovecot:
    home: Path
    imaps: int  # implicit TLS
    imap: int  # plain port, STARTTLS
    ca_file: Path

    def client(self) -> IMAPClient:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        client = IMAPClient("127.0.0.1", self.imaps, ssl=True, ssl_context=context, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def url(self, folder: str = "INBOX", *, starttls: bool = False) -> str:
        if starttls:
            return f"imap://{USER}@127.0.0.1:{self.imap}/{folder}"
        return f"imaps://{USER}@127.0.0.1:{self.imaps}/{folder}"


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        message = f"{name} not found (apt-get install dovecot-imapd openssl)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


CONFIG = """\
base_dir = {home}/run
state_dir = {home}/state
log_path = {home}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{home}/cert.pem
ssl_key = <{home}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
mail_location = maildir:{home}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {home}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    binary, openssl = _tool("dovecot"), _tool("openssl")
    home = Path(tempfile.mkdtemp(prefix="nl-dovecot-"))
    home.chmod(0o755)  # the mail user (not root) must reach its folder
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(home / "key.pem"), "-out", str(home / "cert.pem"),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    (home / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    (home / "mail").mkdir()
    if os.getuid() == 0:  # Dovecot drops root: run mail as its own users
        internal = pwd.getpwnam("dovecot")
        users = {"login_user": "dovenull", "internal_user": "dovecot",
                 "internal_group": "dovecot", "uid": internal.pw_uid, "gid": internal.pw_gid}
        os.chown(home / "mail", internal.pw_uid, internal.pw_gid)
    else:
        me = pwd.getpwuid(os.getuid())
        users = {"login_user": me.pw_name, "internal_user": me.pw_name,
                 "internal_group": grp.getgrgid(me.pw_gid).gr_name, "uid": me.pw_uid,
                 "gid": me.pw_gid}
    server = Dovecot(home, _free_port(), _free_port(), home / "cert.pem")
    (home / "dovecot.conf").write_text(CONFIG.format(
        home=home, imap=server.imap, imaps=server.imaps, **users))
    process = subprocess.Popen([binary, "-F", "-c", str(home / "dovecot.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", server.imaps), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (home / "dovecot.log")
                    pytest.fail("dovecot did not start: " + (
                        log.read_text() if log.exists() else "")
                        + (process.stdout.read().decode() if process.stdout else ""))
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Iterator[IMAPClient]:
    """An empty INBOX and no Processed folder, through a client of the test's own."""
    client = dovecot.client()
    for folder in ("Processed", "Done"):
        if client.folder_exists(folder):
            client.delete_folder(folder)
    client.select_folder("INBOX")
    uids = client.search("ALL")
    if uids:
        client.delete_messages(uids)
        client.expunge()
    yield client
    with contextlib.suppress(Exception):  # a test may have had the session kicked
        client.logout()


@pytest.fixture
def sent(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
         monkeypatch: pytest.MonkeyPatch, dovecot: Dovecot) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(sent_template(tmp_path_factory.getbasetemp()), root)
    shutil.copy(dovecot.ca_file, root / "imap-ca.pem")
    toml = root / "newsletter.toml"
    toml.write_text(toml.read_text() + "ca_file = \"imap-ca.pem\"\n")  # into [inbox]
    monkeypatch.chdir(root)
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", PASSWORD)
    return root


def folder_uids(client: IMAPClient, folder: str) -> int:
    client.noop()  # see what the other session did to the selected folder
    if not client.folder_exists(folder):
        return 0
    return len(client.search("ALL")) if folder == "INBOX" else int(
        client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])


def test_imap_bounces_complaints_unsubscribes(dovecot: Dovecot, mailbox: IMAPClient,
                                              sent: Path,
                                              invoke: Callable[..., Result]) -> None:
    ids = message_ids(sent)
    for message in (corpus("postfix-user-unknown.eml", ANNA, ids[ANNA]),
                    corpus("arf-abuse.eml", LI, ids[LI]),
                    corpus("unsubscribe-mail.eml", JOHN),
                    corpus("out-of-office-legacy.eml", JOHN),
                    corpus("bad-dsn-no-recipients.eml")):
        mailbox.append("INBOX", message.replace(b"\n", b"\r\n"))
    result = invoke("inbox", "--imap", dovecot.url())
    assert result.exit_code == 1, result.output  # the DSN without recipients
    assert "newly suppressed (3)" in result.output
    assert Record.open(sent).suppressed() == {ANNA, LI, JOHN}
    assert folder_uids(mailbox, "Processed") == 4
    assert folder_uids(mailbox, "INBOX") == 1  # the unclassifiable one stays for a person
    flags = mailbox.fetch(mailbox.search("ALL"), ["FLAGS"])
    assert all(b"\\Seen" not in f[b"FLAGS"] for f in flags.values())  # BODY.PEEK

    before = events(sent)
    again = invoke("inbox", "--imap", dovecot.url())
    assert again.exit_code == 1
    assert "1 message(s)" in again.output
    assert events(sent) == before
    assert folder_uids(mailbox, "Processed") == 4


def test_imap_dry_run_and_starttls(dovecot: Dovecot, mailbox: IMAPClient, sent: Path,
                                   invoke: Callable[..., Result]) -> None:
    ids = message_ids(sent)
    mailbox.append("INBOX", corpus("gmail-dsn.eml", ANNA, ids[ANNA]))
    dry = invoke("inbox", "--imap", dovecot.url(starttls=True), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "newly would be suppressed (1)" in dry.output
    assert events(sent) == []
    assert not mailbox.folder_exists("Processed")
    toml = sent / "newsletter.toml"
    toml.write_text(toml.read_text() + f"imap = \"{dovecot.url()}\"\nprocessed = \"Done\"\n")
    done = invoke("inbox")
    assert done.exit_code == 0, done.output
    assert folder_uids(mailbox, "Done") == 1
    assert Record.open(sent).suppressed() == {ANNA}


def test_imap_refuses_what_it_cannot_trust(dovecot: Dovecot, mailbox: IMAPClient, sent: Path,
                                           invoke: Callable[..., Result],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    toml = sent / "newsletter.toml"
    toml.write_text(toml.read_text().replace('ca_file = "imap-ca.pem"', ""))
    untrusted = invoke("inbox", "--imap", dovecot.url())
    assert untrusted.exit_code == 2
    assert "certificate not trusted" in untrusted.output
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", "wrong")
    toml.write_text(toml.read_text() + 'ca_file = "imap-ca.pem"\n')
    wrong = invoke("inbox", "--imap", dovecot.url())
    assert wrong.exit_code == 2
    assert "cannot log in" in wrong.output
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", PASSWORD)
    missing = invoke("inbox", "--imap", dovecot.url("Nope"))
    assert missing.exit_code == 2
    assert "cannot open the folder 'Nope'" in missing.output
    closed = invoke("inbox", "--imap", f"imaps://{USER}@127.0.0.1:{_free_port()}/")
    assert closed.exit_code == 2
    assert "cannot connect" in closed.output


def test_no_login_in_clear_without_starttls(sent: Path, invoke: Callable[..., Result]) -> None:
    """A server that offers no STARTTLS never sees a LOGIN (nor the password)."""
    listener = socket.create_server(("127.0.0.1", 0))
    heard: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plain only\r\n")
            connection.settimeout(5)
            while True:
                try:
                    line = connection.recv(4096)
                except OSError:
                    return
                if not line:
                    return
                heard.append(line)
                tag = line.split(b" ", 1)[0]
                connection.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag
                                   + b" OK done\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    result = invoke("inbox", "--imap", f"imap://{USER}@127.0.0.1:{port}/")
    thread.join(5)
    listener.close()
    assert result.exit_code == 2
    assert "offers no STARTTLS" in result.output
    said = b"".join(heard)
    assert b"LOGIN" not in said.upper()
    assert PASSWORD.encode() not in said


def test_server_gone_between_record_and_move(dovecot: Dovecot, mailbox: IMAPClient,
                                             sent: Path, invoke: Callable[..., Result],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Dovecot drops the session just before the MOVE: the effect is recorded, the messages
    stay; the next run moves them and adds nothing."""
    from newsletter.inbox.imap import ImapSource

    ids = message_ids(sent)
    mailbox.append("INBOX", corpus("exchange-ndr.eml", ANNA, ids[ANNA]))
    mailbox.append("INBOX", corpus("postfix-mailbox-full.eml", LI, ids[LI]))
    original = ImapSource.done

    def kicked(self: ImapSource, refs: list[str]) -> None:
        subprocess.run([_tool("doveadm"), "-c", str(dovecot.home / "dovecot.conf"), "kick",
                        USER], check=True, capture_output=True)
        original(self, refs)

    monkeypatch.setattr(ImapSource, "done", kicked)
    cut = invoke("inbox", "--imap", dovecot.url())
    assert cut.exit_code == 1, cut.output
    assert "stopped early: cannot move a message on" in cut.output
    recorded = events(sent)
    assert [event for _, event, _ in recorded] == ["bounced", "soft_bounce"]
    check = dovecot.client()  # the kick ended our own session too
    check.select_folder("INBOX")
    assert folder_uids(check, "INBOX") == 2
    monkeypatch.setattr(ImapSource, "done", original)
    again = invoke("inbox", "--imap", dovecot.url())
    assert again.exit_code == 0, again.output
    assert events(sent) == recorded
    assert folder_uids(check, "INBOX") == 0
    check.logout()


def test_fetch_batches_bound_memory() -> None:
    from newsletter.inbox.imap import _batches

    uids = list(range(1, 121))
    sizes = {uid: 2_000 for uid in uids} | {7: 30 * 2**20}
    batches = list(_batches(uids, sizes))
    assert [uid for batch in batches for uid in batch] == uids
    assert [7] in batches  # the 30 MB message alone
    assert max(len(batch) for batch in batches) == 50


def test_a_silent_server_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts and then says nothing: a clear error, never a hang."""
    from newsletter.inbox.imap import ImapError, ImapSource

    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", PASSWORD)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    started = time.monotonic()
    try:
        with pytest.raises(ImapError, match="timed out"):
            ImapSource(f"imaps://{USER}@127.0.0.1:{port}/", processed="Processed",
                       timeout=0.5)
    finally:
        listener.close()
    assert time.monotonic() - started < 5


def test_many_messages_in_several_batches(dovecot: Dovecot, mailbox: IMAPClient, sent: Path,
                                          invoke: Callable[..., Result]) -> None:
    ids = message_ids(sent)
    reply = corpus("auto-reply-rfc3834.eml", JOHN).replace(b"\n", b"\r\n")
    for number in range(120):
        mailbox.append("INBOX", reply.replace(b"<auto.", f"<auto.{number}.".encode()))
    mailbox.append("INBOX", corpus("exim-failed.eml", LI, ids[LI]))
    result = invoke("inbox", "--imap", dovecot.url())
    assert result.exit_code == 0, result.output
    assert "auto-replies 120" in result.output
    assert Record.open(sent).suppressed() == {LI}
    assert folder_uids(mailbox, "INBOX") == 0
    assert folder_uids(mailbox, "Processed") == 121


def _with_results(message: bytes, *headers: str) -> bytes:
    """``message`` with Authentication-Results headers on top, as receiving servers add them
    (the first given ends up topmost: added last, by the last server)."""
    return b"".join(f"Authentication-Results: {h}\n".encode() for h in headers) + message


def test_forged_unsubscribes_and_bounces_without_message_id_are_listed_not_acted_on(
        dovecot: Dovecot, mailbox: IMAPClient, sent: Path,
        invoke: Callable[..., Result]) -> None:
    """Only the trusted server's (mx.example.org) results count, and only a pass acts."""
    plain = corpus("unsubscribe-mail.eml", JOHN).split(b"\n", 4)[4]  # its own A-R removed
    assert plain.startswith(b"From:")
    forged_fail = _with_results(plain, "mx.example.org; spf=fail smtp.mailfrom=john.smith@"
                                "example.org; dkim=none; dmarc=fail header.from=example.org")
    untrusted = _with_results(corpus("unsubscribe-mail.eml", LI).split(b"\n", 4)[4],
                              "mx.attacker.example; spf=pass smtp.mailfrom=li.wei@example.org;"
                              " dmarc=pass header.from=example.org")
    # The sender wrote a "pass" under our server's name; our server added its own on top.
    smuggled = _with_results(corpus("unsubscribe-mail.eml", ANNA).split(b"\n", 4)[4],
                             "mx.example.org; dmarc=fail header.from=example.org",
                             "mx.example.org; dmarc=pass header.from=example.org")
    bounce = corpus("postfix-user-unknown.eml", LI, "").replace(b"Message-ID: \n", b"")
    assert b"Message-ID" not in bounce
    unverified_bounce = bounce
    verified_bounce = _with_results(corpus("postfix-user-unknown.eml", ANNA, "").replace(
        b"Message-ID: \n", b""), "mx.example.org (Postfix); spf=pass "
        "smtp.helo=mail.example.org; dkim=none")
    genuine = corpus("unsubscribe-mail.eml", JOHN)  # trusted server: spf, dkim, dmarc pass
    for message in (forged_fail, untrusted, smuggled, unverified_bounce):
        mailbox.append("INBOX", message.replace(b"\n", b"\r\n"))
    result = invoke("inbox", "--imap", dovecot.url())
    assert result.exit_code == 0, result.output
    out = result.output
    assert Record.open(sent).suppressed() == set()
    assert "not authenticated, not acted on: for the editors to check (4):" in out
    assert (f"{JOHN}: unsubscribe mail: the sender is not authenticated (spf=fail dkim=none "
            "dmarc=fail by mx.example.org); if it is genuine, suppress the address by hand"
            in out)
    assert f"{LI}: unsubscribe mail: the sender is not authenticated (no Authentication-" \
           "Results of mx.example.org)" in out
    assert f"{ANNA}: unsubscribe mail: the sender is not authenticated (dmarc=fail by " \
           "mx.example.org)" in out
    assert f"{LI}: hard bounce [example, list sample]: names no Message-ID of ours and its " \
           "sender is not authenticated" in out
    assert folder_uids(mailbox, "Processed") == 4  # handled: the editors have the report

    for message in (genuine, verified_bounce):
        mailbox.append("INBOX", message.replace(b"\n", b"\r\n"))
    acted = invoke("inbox", "--imap", dovecot.url())
    assert acted.exit_code == 0, acted.output
    assert "newly suppressed (2)" in acted.output
    assert Record.open(sent).suppressed() == {JOHN, ANNA}
