"""Classify 10,000 messages from a Maildir, beside the bare parse and flufl.bounce alone.

Usage: python benchmarks/inbox_bench.py [--messages 10000] [--rounds 3]

The Maildir holds a mix like a real bounce mailbox after a send: 40 % RFC 3464 bounces
(Postfix, Exchange, Gmail), 15 % Exim bounces (flufl.bounce), 15 % soft bounces and delays,
10 % ARF complaints, 10 % auto-replies, 5 % unsubscribe mails, 5 % replies; one send journal
knows every reader.

Measured in one process, rounds alternating, median reported:
- parse: ``email.message_from_bytes`` of every file (the floor: reading and parsing only);
- flufl: ``flufl.bounce.all_failures`` on every parsed message (a naive tool's approach);
- classify: ``Classifier.classify`` on the raw bytes (parse included);
- run: ``newsletter inbox --maildir`` in process (``run_inbox``): journals, record, moves.
  Dry run (no writes) and a real run on a fresh copy (record commits, Maildir renames).
The share spent in parsing is measured directly: the time inside the email package's parser
(full and header-only parses) during one classify pass, over that pass's time.
"""

from __future__ import annotations

import argparse
import email
import email.message
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from email.parser import BytesHeaderParser
from pathlib import Path

from flufl.bounce import all_failures

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from inbox_support import SCAFFOLD, corpus, deliver, fake_journal, make_maildir  # noqa: E402

from newsletter.inbox.classify import Classifier  # noqa: E402
from newsletter.inbox.report import InboxReport  # noqa: E402
from newsletter.inbox.run import InboxOptions, run_inbox  # noqa: E402

MIX = [("postfix-user-unknown.eml", 16), ("exchange-ndr.eml", 12), ("gmail-dsn.eml", 12),
       ("exim-failed.eml", 15), ("postfix-mailbox-full.eml", 10), ("postfix-delayed.eml", 5),
       ("arf-abuse.eml", 10), ("auto-reply-rfc3834.eml", 5), ("out-of-office-legacy.eml", 5),
       ("unsubscribe-mail.eml", 5), ("human-reply.eml", 5)]


def workspace(root: Path, count: int) -> None:
    shutil.copytree(SCAFFOLD, root, ignore=shutil.ignore_patterns("__pycache__"))
    readers = [f"reader{n:05d}@example.net" for n in range(count)]
    ids = fake_journal(root, "bench", readers)
    box = make_maildir(root / "inbox")
    names = [name for name, weight in MIX for _ in range(weight)]
    for n, address in enumerate(readers):
        deliver(box, corpus(names[n % len(names)], address, ids[address]))


def _flufl(message: email.message.Message) -> object:
    try:
        return all_failures(message)
    except Exception as exc:  # it chokes on 8-bit headers (a Header object): a result too
        return exc


def parse_share(classifier: Classifier, raw: list[bytes]) -> tuple[float, float]:
    """(seconds in the email parser, seconds in all) while classifying every message."""
    spent = [0.0]
    full, headers = email.message_from_bytes, BytesHeaderParser.parsebytes

    def timed_full(data: bytes) -> email.message.Message:
        started = time.perf_counter()
        try:
            return full(data)
        finally:
            spent[0] += time.perf_counter() - started

    def timed_headers(self: BytesHeaderParser, data: bytes) -> email.message.Message:
        started = time.perf_counter()
        try:
            return headers(self, data)
        finally:
            spent[0] += time.perf_counter() - started

    email.message_from_bytes = timed_full  # type: ignore[assignment]
    BytesHeaderParser.parsebytes = timed_headers  # type: ignore[method-assign]
    try:
        total = timed(lambda: [classifier.classify(d) for d in raw])
    finally:
        email.message_from_bytes = full
        BytesHeaderParser.parsebytes = headers  # type: ignore[method-assign]
    return spent[0], total


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "ws"
        workspace(template, args.messages)
        files = sorted((template / "inbox" / "new").iterdir())
        raw = [f.read_bytes() for f in files]
        classifier = Classifier(["unsubscribe@example.org"], dedicated=True)
        rows: dict[str, list[float]] = {k: [] for k in ("parse", "flufl", "classify", "dry",
                                                         "run")}
        shares: list[float] = []
        for round_ in range(args.rounds):
            rows["parse"].append(timed(lambda: [email.message_from_bytes(d) for d in raw]))
            parsed = [email.message_from_bytes(d) for d in raw]
            rows["flufl"].append(timed(lambda p=parsed: [_flufl(m) for m in p]))
            rows["classify"].append(timed(lambda: [classifier.classify(d) for d in raw]))
            parsing, total = parse_share(classifier, raw)
            shares.append(parsing / total)
            copy = Path(tmp) / f"run{round_}"
            shutil.copytree(template, copy)
            dry = InboxOptions(maildir=copy / "inbox", dry_run=True)
            rows["dry"].append(timed(lambda o=dry, c=copy: run_inbox(o, start=c)))
            report: list[InboxReport] = []
            real = InboxOptions(maildir=copy / "inbox")
            rows["run"].append(timed(lambda o=real, c=copy, r=report: r.append(
                run_inbox(o, start=c))))
            assert report[0].messages == args.messages, report[0].lines()
            shutil.rmtree(copy)
        n = args.messages
        print(f"{n} messages, {args.rounds} rounds, median (min-max):")
        for key, label in (("parse", "email.message_from_bytes only"),
                           ("flufl", "flufl.bounce.all_failures only (parsed)"),
                           ("classify", "Classifier.classify (parse included)"),
                           ("dry", "newsletter inbox --dry-run (in process)"),
                           ("run", "newsletter inbox (record + moves)")):
            times = rows[key]
            med = statistics.median(times)
            print(f"  {label:45} {n / med:9,.0f} msg/s  {med:6.2f} s "
                  f"({min(times):.2f}-{max(times):.2f})")
        share = statistics.median(shares)
        print(f"  time in the email parser while classifying: {share:.0%} "
              f"({min(shares):.0%}-{max(shares):.0%}); of the real run: "
              f"{share * statistics.median(rows['classify']) / statistics.median(rows['run']):.0%}")


if __name__ == "__main__":
    main()
