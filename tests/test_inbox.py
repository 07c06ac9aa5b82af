"""`newsletter inbox` over a Maildir: the corpus, the effects, exactly once, bad input."""

from __future__ import annotations

import email
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

sys.path.insert(0, str(Path(__file__).parent))
from inbox_support import (
    CORPUS,
    READERS,
    corpus,
    deliver,
    events,
    fake_journal,
    make_maildir,
    message_ids,
    sent_template,
    state,
)

from newsletter.inbox.classify import Classifier
from newsletter.record import Record, RecordError
from newsletter.send.lock import SendLock

ANNA, LI, JOHN = READERS

EXPECTED = {
    "postfix-user-unknown.eml": "bounce", "postfix-delayed.eml": "bounce",
    "postfix-real-3.7.eml": "bounce", "qmail-failure.eml": "bounce",
    "postfix-mailbox-full.eml": "bounce", "exim-failed.eml": "bounce",
    "exchange-ndr.eml": "bounce", "gmail-dsn.eml": "bounce",
    "arf-abuse.eml": "complaint", "arf-redacted.eml": "complaint",
    "arf-not-spam.eml": "complaint",
    "auto-reply-rfc3834.eml": "auto_reply", "out-of-office-legacy.eml": "auto_reply",
    "ooo-zh.eml": "auto_reply", "unsubscribe-mail.eml": "unsubscribe",
    "human-reply.eml": "reply", "bad-reply-says-undeliverable.eml": "reply",
    "bad-non-utf8-headers.eml": "reply",
    "bad-forged-bounce.eml": "bounce", "bad-forged-mismatch.eml": "bounce",
    "bad-malformed-mime.eml": "unparseable", "bad-dsn-no-recipients.eml": "unparseable",
    "bad-fake-report.eml": "unparseable", "bad-binary.eml": "unparseable",
}


def test_the_corpus_is_complete() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_classify_the_corpus(name: str) -> None:
    verdict = Classifier(["unsubscribe@example.org"], dedicated=True).classify(corpus(name))
    assert verdict.kind == EXPECTED[name], verdict
    if verdict.kind == "bounce" and "forged" not in name:
        assert [f.address for f in verdict.failures] == [ANNA]
        assert verdict.original_message_id == "<none@example.org>"
    if verdict.kind == "unparseable":
        assert verdict.reason


def test_statuses_read_from_the_reports() -> None:
    classify = Classifier([], dedicated=False).classify
    assert classify(corpus("exchange-ndr.eml")).failures[0].status == "5.1.10"
    assert classify(corpus("exim-failed.eml")).failures[0].status == "5.1.1"
    full = classify(corpus("postfix-mailbox-full.eml")).failures[0]
    assert (full.status, full.temporary) == ("4.2.2", True)
    delayed = classify(corpus("postfix-delayed.eml")).failures[0]
    assert (delayed.action, delayed.permanent, delayed.temporary) == ("delayed", False, False)


def test_eight_bit_sender_names() -> None:
    """Raw UTF-8 or Latin-1 in a display name (common, though not allowed) keeps the address."""
    classify = Classifier(["unsubscribe@example.org"], dedicated=True).classify
    for name in ("Jürgen Groß".encode(), "J\xfcrgen Gro\xdf".encode("latin-1")):
        data = corpus("unsubscribe-mail.eml").replace(b"Dr. Anna M\xc3\xbcller", name)
        verdict = classify(data)
        assert (verdict.kind, verdict.sender) == ("unsubscribe", ANNA)


def test_unsubscribe_words_needed_on_a_shared_mailbox() -> None:
    shared = Classifier(["editors@example.org"], dedicated=False)
    reply = corpus("human-reply.eml")
    assert shared.classify(reply).kind == "reply"
    asking = reply.replace(b"Subject: Re: Example Newsletter", b"Subject: Bitte abmelden")
    assert shared.classify(asking).kind == "unsubscribe"


@pytest.fixture
def sent(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
         monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace that has sent its example issue to the sample list, as the cwd."""
    root = tmp_path / "ws"
    shutil.copytree(sent_template(tmp_path_factory.getbasetemp()), root)
    monkeypatch.chdir(root)
    make_maildir(root / "inbox")
    return root


def run(invoke: Callable[..., Result], *args: str) -> Result:
    return invoke("inbox", "--maildir", "inbox", *args)


def test_inbox_suppresses_and_send_skips(sent: Path, invoke: Callable[..., Result]) -> None:
    ids = message_ids(sent)
    box = sent / "inbox"
    deliver(box, corpus("postfix-user-unknown.eml", ANNA, ids[ANNA]))
    deliver(box, corpus("arf-redacted.eml", LI, ids[LI]))  # the address only in the Message-ID
    deliver(box, corpus("unsubscribe-mail.eml", JOHN))
    deliver(box, corpus("unsubscribe-mail.eml", "stranger@example.net"))
    deliver(box, corpus("auto-reply-rfc3834.eml", ANNA, ids[ANNA]))
    deliver(box, corpus("human-reply.eml", LI, ids[LI]))
    deliver(box, corpus("bad-forged-bounce.eml"))
    deliver(box, corpus("bad-forged-mismatch.eml", JOHN, ids[JOHN]))
    deliver(box, corpus("bad-fake-report.eml", JOHN))
    deliver(box, corpus("gmail-dsn.eml", JOHN, "<CAFx9=editor@mail.gmail.com>"))  # not ours
    result = run(invoke)
    assert result.exit_code == 1, result.output  # the fake report could not be classified
    out = result.output
    assert "newly suppressed (3)" in out
    assert f"{ANNA}: hard bounce [example, list sample]: 5.1.1" in out
    assert f"{LI}: complaint [example, list sample]" in out
    assert f"{JOHN}: unsubscribe mail" in out
    assert "stranger@example.net: unsubscribe mail: not on any list" in out
    assert "never.mailed@example.net: hard bounce: never mailed by us" in out
    assert "someone.else@example.net: hard bounce: the report's recipient is not" in out
    assert f"{JOHN}: hard bounce: the returned message <CAFx9=editor@mail.gmail.com> is not" in out
    assert "replies from people (1)" in out
    assert "li.wei@example.org: Re: Example" in out
    assert "could not be classified (1)" in out
    assert "no delivery-status part" in out
    record = Record.open(sent)
    assert record.suppressed() == {ANNA, LI, JOHN}
    bounce = record.history(ANNA)[-1]
    assert (bounce.event, bounce.source, bounce.detail["issue"]) == ("bounced", "inbox",
                                                                     "example")
    assert record.history(JOHN)[-1].source == "mail"
    record.close()
    assert len(state(box)[0]) == 1  # only the unclassifiable message stays unprocessed
    log = invoke("subscribers", "log", ANNA) if "log" in _subcommands(invoke) else None
    if log is not None:
        assert "bounced" in log.output

    # send honours the record at once: of the same readers and one more, only the new one
    again = sent / "subscribers" / "again.csv"
    shutil.copy(sent / "subscribers" / "sample.csv", again)
    with again.open("a", encoding="utf-8") as handle:
        handle.write("new.reader@example.org,New Reader,Hello,en,,\n")
    result = invoke("send", "issues/example", "--list", "subscribers/again.csv", "--yes")
    assert result.exit_code == 0, result.output
    assert "sent 1," in result.output


def _subcommands(invoke: Callable[..., Result]) -> str:
    return invoke("subscribers", "--help").output


def test_second_run_changes_nothing(sent: Path, invoke: Callable[..., Result]) -> None:
    ids = message_ids(sent)
    box = sent / "inbox"
    deliver(box, corpus("gmail-dsn.eml", ANNA, ids[ANNA]))
    deliver(box, corpus("postfix-mailbox-full.eml", LI, ids[LI]))
    deliver(box, corpus("bad-dsn-no-recipients.eml"))
    assert run(invoke).exit_code == 1
    before, files = events(sent), state(box)
    again = run(invoke)
    assert again.exit_code == 1
    assert events(sent) == before
    assert state(box) == files
    assert "1 message(s)" in again.output  # only the unparseable one, reported again


def test_reprocessing_after_a_crash_adds_nothing(sent: Path,
                                                 invoke: Callable[..., Result]) -> None:
    """The record was written but the messages not moved: read again, nothing added."""
    ids = message_ids(sent)
    box = sent / "inbox"
    deliver(box, corpus("exchange-ndr.eml", ANNA, ids[ANNA]))
    deliver(box, corpus("postfix-mailbox-full.eml", LI, ids[LI]))
    deliver(box, corpus("arf-abuse.eml", JOHN, ids[JOHN]))
    assert run(invoke).exit_code == 0
    before = events(sent)
    for path in (box / "cur").iterdir():  # undo the moves, as a crash before them would
        path.rename(box / "new" / path.name.partition(":2,")[0])
    result = run(invoke)
    assert result.exit_code == 0
    assert events(sent) == before
    assert "already suppressed or handled before: 3 address(es)" in result.output
    assert state(box)[0] == []


def test_soft_bounces_on_distinct_issues_suppress(sent: Path,
                                                  invoke: Callable[..., Result]) -> None:
    box = sent / "inbox"
    issues = [fake_journal(sent, slug, [ANNA, LI]) for slug in ("a", "b", "c")]
    deliver(box, corpus("postfix-mailbox-full.eml", ANNA, issues[0][ANNA]))
    deliver(box, corpus("postfix-mailbox-full.eml", ANNA, issues[0][ANNA]))  # same issue
    deliver(box, corpus("postfix-mailbox-full.eml", ANNA, issues[1][ANNA]))
    deliver(box, corpus("postfix-delayed.eml", LI, issues[0][LI]))  # a delay is no bounce
    first = run(invoke)
    assert first.exit_code == 0, first.output
    assert f"{ANNA}: soft bounce [b, list sample]: 2 of 3" in first.output
    assert Record.open(sent).suppressed() == set()
    duplicate = corpus("postfix-mailbox-full.eml", ANNA, issues[1][ANNA])
    deliver(box, duplicate)
    deliver(box, duplicate)  # the very same message twice: counted once
    run(invoke)
    assert Record.open(sent).suppressed() == set()
    deliver(box, corpus("postfix-mailbox-full.eml", ANNA, issues[2][ANNA]))
    third = run(invoke)
    assert "3 soft bounces on distinct issues" in third.output
    assert Record.open(sent).suppressed() == {ANNA}
    kinds = [e for a, e, _ in events(sent) if a == ANNA]
    assert kinds.count("soft_bounce") == 5
    assert kinds.count("bounced") == 1
    assert [e for a, e, _ in events(sent) if a == LI] == []


def test_dry_run_writes_and_moves_nothing(sent: Path, invoke: Callable[..., Result]) -> None:
    ids = message_ids(sent)
    box = sent / "inbox"
    deliver(box, corpus("postfix-user-unknown.eml", ANNA, ids[ANNA]))
    files = state(box)
    result = run(invoke, "--dry-run")
    assert result.exit_code == 0
    assert "newly would be suppressed (1)" in result.output
    assert "dry run" in result.output
    assert events(sent) == []
    assert state(box) == files


BAD = ["bad-malformed-mime.eml", "bad-dsn-no-recipients.eml", "bad-forged-bounce.eml",
       "bad-forged-mismatch.eml", "bad-fake-report.eml", "bad-binary.eml",
       "bad-non-utf8-headers.eml", "bad-reply-says-undeliverable.eml"]


def test_bad_input_suppresses_nobody(sent: Path, invoke: Callable[..., Result]) -> None:
    ids = message_ids(sent)
    box = sent / "inbox"
    for name in BAD:
        deliver(box, corpus(name, ANNA, ids[ANNA]))
    deliver(box, _huge_bounce(ids[JOHN]))  # 30 MB: read, and it is a real bounce
    result = run(invoke)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert Record.open(sent).suppressed() == {JOHN}
    assert "could not be classified (4)" in result.output


def _huge_bounce(mid: str) -> bytes:
    """A Postfix bounce that returns the whole message, with a 30 MB attachment."""
    head = corpus("postfix-user-unknown.eml", JOHN, mid)
    boundary = b"--4Kx9Zq1Jt2z9sWn.1571123564/mail.example.org"
    returned = (b"Content-Type: message/rfc822\n\nMessage-ID: " + mid.encode()
                + b"\nContent-Type: multipart/mixed; boundary=inner\n\n--inner\n"
                b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n"
                + (b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIzNDU2Nzg5MGFiY2RlZmdoaWpr\n"
                   * 480_000) + b"--inner--\n")
    return head.replace(boundary + b"--", boundary + b"\n" + returned + boundary + b"--")


def test_configuration_errors_exit_2(sent: Path, invoke: Callable[..., Result],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke("inbox").exit_code == 2  # no source anywhere
    assert invoke("inbox", "--maildir", "nowhere").exit_code == 2
    both = invoke("inbox", "--maildir", "inbox", "--imap", "imaps://u@localhost/")
    assert both.exit_code == 2
    monkeypatch.delenv("NEWSLETTER_IMAP_PASSWORD", raising=False)
    missing = invoke("inbox", "--imap", "imaps://u@localhost/")
    assert missing.exit_code == 2
    assert "NEWSLETTER_IMAP_PASSWORD" in missing.output
    in_url = invoke("inbox", "--imap", "imaps://u:secret@localhost/")
    assert in_url.exit_code == 2
    assert "secret" not in in_url.output
    toml = sent / "newsletter.toml"
    toml.write_text(toml.read_text() + "\nsoft_bounces = 0\nmaildir = 'inbox'\n")
    assert invoke("inbox").exit_code == 2


def test_inbox_settings_are_used(sent: Path, invoke: Callable[..., Result]) -> None:
    toml = sent / "newsletter.toml"
    toml.write_text(toml.read_text() + "\nmaildir = 'inbox'\nsoft_bounces = 1\n")
    ids = message_ids(sent)
    deliver(sent / "inbox", corpus("postfix-mailbox-full.eml", LI, ids[LI]))
    result = invoke("inbox")
    assert result.exit_code == 0
    assert "1 soft bounces on distinct issues" in result.output


def test_a_record_write_failure_moves_nothing(sent: Path, invoke: Callable[..., Result],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ids = message_ids(sent)
    box = sent / "inbox"
    deliver(box, corpus("postfix-user-unknown.eml", ANNA, ids[ANNA]))

    def full(self: Record, events: object) -> None:
        raise RecordError("cannot write to the subscription record: database or disk is full")

    monkeypatch.setattr(Record, "append_many", full)
    result = run(invoke)
    assert result.exit_code == 1
    assert "stopped early: cannot write" in result.output
    assert len(state(box)[0]) == 1  # still there: read again by the next run
    monkeypatch.undo()
    monkeypatch.chdir(sent)
    assert run(invoke).exit_code == 0
    assert state(box)[0] == []


def test_one_run_at_a_time(sent: Path, invoke: Callable[..., Result]) -> None:
    with SendLock(sent / "journal" / "inbox.lock"):
        result = run(invoke)
    assert result.exit_code == 2
    assert "another 'newsletter inbox' is running" in result.output


def test_maildir_keeps_other_flags_and_skips_processed(sent: Path,
                                                       invoke: Callable[..., Result]) -> None:
    box = sent / "inbox"
    (box / "cur" / "1.M1.test:2,S").write_bytes(corpus("human-reply.eml"))  # done already
    (box / "cur" / "2.M2.test:2,F").write_bytes(corpus("human-reply.eml"))  # flagged, unread
    result = run(invoke)
    assert "1 message(s)" in result.output
    assert state(box)[1] == ["1.M1.test:2,S", "2.M2.test:2,FS"]


def test_return_path_is_the_envelope_sender(sent: Path, invoke: Callable[..., Result]) -> None:
    toml = sent / "newsletter.toml"
    toml.write_text(toml.read_text() + "\n[smtp]\nreturn_path = \"bounces@example.org\"\n")
    (sent / "subscribers" / "rp.csv").write_text("email\nnew.reader@example.org\n")
    result = invoke("send", "issues/example", "--list", "subscribers/rp.csv", "--yes")
    assert result.exit_code == 0, result.output
    newest = max((sent / "outbox" / "example" / "new").iterdir(), key=lambda p: p.stat().st_mtime)
    message = email.message_from_bytes(newest.read_bytes())
    assert message["Return-Path"] == "<bounces@example.org>"
    assert message["From"] == "Example Newsletter <newsletter@example.org>"


def test_the_samples_flufl_bounce_ships(tmp_path: Path) -> None:
    """Where the installed flufl.bounce carries its test samples, none crashes or misfires."""
    import flufl.bounce

    root = Path(flufl.bounce.__file__).parent
    samples = [p for p in root.rglob("*") if p.is_file() and p.suffix in ("", ".txt", ".eml")
               and "data" in p.parts]
    if not samples:
        pytest.skip(f"flufl.bounce {flufl.bounce.__version__} ships no sample messages")
    classifier = Classifier(["unsubscribe@example.org"], dedicated=True)
    kinds = {classifier.classify(p.read_bytes()).kind for p in samples}
    assert "bounce" in kinds


def test_a_dsn_block_without_action_or_status() -> None:
    classify = Classifier([], dedicated=False).classify
    dsn = corpus("postfix-user-unknown.eml")
    no_action = classify(dsn.replace(b"Action: failed\n", b"")).failures[0]
    assert (no_action.action, no_action.permanent) == ("failed", True)
    bare = classify(dsn.replace(b"Action: failed\n", b"").replace(b"Status: 5.1.1\n", b""))
    assert bare.failures[0].action == ""
    assert not bare.failures[0].permanent
    assert not bare.failures[0].temporary


def test_a_message_taken_meanwhile_is_no_error(tmp_path: Path) -> None:
    """A mail client moved or deleted the message between our read and our move."""
    from newsletter.inbox.maildir import MaildirSource

    box = make_maildir(tmp_path / "box")
    path = deliver(box, corpus("human-reply.eml"))
    source = MaildirSource(box)
    refs = [incoming.ref for incoming in source.messages()]
    path.unlink()
    source.done(refs)
    source.close()
    assert state(box) == ([], [])


def test_a_damaged_journal_is_named(sent: Path, invoke: Callable[..., Result]) -> None:
    (sent / "journal" / "broken--sample.sqlite").write_bytes(b"not a database at all" * 100)
    deliver(sent / "inbox", corpus("human-reply.eml"))
    result = run(invoke)
    assert result.exit_code == 2
    assert "broken--sample.sqlite" in result.output
    assert "cannot read the send journal" in result.output


def test_unsubscribe_by_a_mail_client_and_away_notes_to_the_address() -> None:
    classify = Classifier(["unsubscribe@example.org"], dedicated=True).classify
    mail = corpus("unsubscribe-mail.eml")
    generated = mail.replace(b"Subject: unsubscribe\n",
                             b"Subject: unsubscribe\nAuto-Submitted: auto-generated\n")
    assert classify(generated).kind == "unsubscribe"
    away = mail.replace(b"Subject: unsubscribe\n",
                        b"Subject: Out of office: unsubscribe\nAuto-Submitted: auto-replied\n")
    assert classify(away).kind == "auto_reply"


def test_without_an_unsubscribe_address_the_reply_to_serves(
        sent: Path, invoke: Callable[..., Result]) -> None:
    toml = sent / "newsletter.toml"
    toml.write_text(toml.read_text().replace('mailto = "unsubscribe@example.org"', ""))
    asking = corpus("unsubscribe-mail.eml", JOHN).replace(b"To: unsubscribe@example.org",
                                                          b"To: editors@example.org")
    deliver(sent / "inbox", asking)
    deliver(sent / "inbox", corpus("human-reply.eml", LI))  # to editors@, a real reply
    result = run(invoke)
    assert result.exit_code == 0, result.output
    assert Record.open(sent).suppressed() == {JOHN}
    assert "replies from people (1)" in result.output
