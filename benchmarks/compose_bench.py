"""Per-recipient composing of the sample issue, beside a naive ``EmailMessage`` per reader.

Usage: python benchmarks/compose_bench.py [--messages 5000] [--rounds 5] [--rows 200000]
       [--issue issues/2019-10-foshan] [--dkim]

Ours: ``Composer(built, config).compose(subscriber)`` (MIME work done once per issue; per
reader the personal values are encoded into prepared slots and the bytes joined).
Reference: what a straightforward sender does per reader: ``personal.fill`` on both parts,
a new ``email.message.EmailMessage`` with the same headers, ``set_content`` (text) and
``add_alternative`` (HTML), serialised with ``as_bytes(policy=SMTP)``. Rounds alternate
ours/theirs so that machine load hits both alike; the median round is reported.

Also measured: reading a list (``read_subscribers``: CSV, validation, duplicate check) in
rows per second, with tracemalloc's peak, to show that memory stays flat per row; and, with
``--dkim``, the cost of a dkimpy RSA-2048 signature per message (key from ``openssl``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path

from newsletter import personal
from newsletter.build import build
from newsletter.delivery.compose import Built, Composer, personal_values
from newsletter.send.editions import Editions
from newsletter.subscribers import Subscriber, read_subscribers
from newsletter.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent


def readers(count: int, languages: tuple[str, ...] = ("de",)) -> list[Subscriber]:
    names = ["Dr. Anna Müller", "Thomas Becker", "Li Wei 李伟", "Sabine König", "John Smith"]
    out = []
    for i in range(count):
        email = f"reader{i}@example.org"
        name = names[i % len(names)]
        salutation = f"Sehr geehrte Frau {name}" if i % 2 else f"Dear {name}"
        out.append(Subscriber(email, name, salutation, languages[i % len(languages)],
                              {"email": email, "name": name, "salutation": salutation}, i + 2))
    return out


def naive(built: Built, workspace: Workspace) -> Callable[[Subscriber], bytes]:
    config = workspace.config
    news = config.newsletter

    def compose(subscriber: Subscriber) -> bytes:
        values = personal_values(subscriber, defaults=built.edition.defaults, config=config)
        message = EmailMessage()
        message["From"] = news.sender
        message["To"] = f"{subscriber.name} <{subscriber.email}>"
        message["Subject"] = built.edition.subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain="isa.example.org")
        message["Reply-To"] = news.reply_to
        message["List-Id"] = f"{news.name} <{news.list_id}>"
        message["List-Unsubscribe"] = f"<mailto:{config.section('unsubscribe').mailto}>, " \
                                      f"<{values['unsubscribe_url']}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(personal.fill(built.text, values, escape_html=False))
        message.add_alternative(personal.fill(built.html, values, escape_html=True),
                                subtype="html")
        return message.as_bytes(policy=SMTP)

    return compose


def by_edition(built: Built, workspace: Workspace) -> Callable[[Subscriber], object]:
    """What ``send`` does: one Composer per edition, each reader's picked by language."""
    return Editions(built, workspace.config, test=False).compose


def per_message(compose: Callable[[Subscriber], object], people: list[Subscriber]) -> float:
    start = time.perf_counter()
    for person in people:
        compose(person)
    return (time.perf_counter() - start) / len(people)


def list_reading(rows: int, folder: Path) -> tuple[float, float]:
    path = folder / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,salutation,language,organisation,city\n")
        for i in range(rows):
            out.write(f"Reader.{i}@Example.org,Reader {i},Sehr geehrte Frau Reader,de,"
                      f"Stadt {i % 100},Göttingen\n")
    start = time.perf_counter()
    count = sum(1 for _ in read_subscribers(path))
    elapsed = time.perf_counter() - start
    if count != rows:
        raise SystemExit(f"read {count} of {rows} rows")
    tracemalloc.start()
    for _ in read_subscribers(path):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return rows / elapsed, peak / rows


def dkim_cost(built: Built, workspace: Workspace, people: list[Subscriber], folder: Path
              ) -> float:
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
                   check=True, capture_output=True)
    config = workspace.root / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8") +
                      f'\n[dkim]\nkey_file = "{key}"\nselector = "bench"\n', encoding="utf-8")
    signed = Composer(built, Workspace.find(workspace.root).config)
    return per_message(signed.compose, people[:200])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--issue", default="issues/2019-10-foshan")
    parser.add_argument("--dkim", action="store_true")
    args = parser.parse_args()
    # Unsubscribe links carry a sealed token (newsletter.tokens) only with a secret: measure that.
    os.environ.setdefault("NEWSLETTER_SECRET", "benchmark-secret-" + "x" * 32)
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        subprocess.run(["cp", "-r", str(REPO / "newsletter.toml"), str(REPO / "issues"),
                        str(folder)], check=True)
        subprocess.run(["cp", "-rL", str(REPO / "templates"), str(folder)], check=True)
        workspace = Workspace.find(folder)
        (result,) = build(workspace, [folder / args.issue], out=folder / "build")
        built = Built.read(result.folder)
        people = readers(args.messages)
        start = time.perf_counter()
        composer = Composer(built, workspace.config)
        setup = time.perf_counter() - start
        reference = naive(built, workspace)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(per_message(composer.compose, people))
            theirs.append(per_message(reference, people[: max(args.messages // 10, 200)]))
        size = len(composer.compose(people[0]).data)
        print(f"issue {args.issue}: message {size / 1024:.1f} KB; Python "
              f"{sys.version.split()[0]}; median of {args.rounds} rounds")
        print(f"Composer setup (once per issue): {setup * 1000:.1f} ms")
        mine, ref = statistics.median(ours), statistics.median(theirs)
        print(f"ours      compose(): {mine * 1e6:8.1f} us/message  ({1 / mine:9.0f} msg/s)")
        print(f"reference EmailMessage: {ref * 1e6:8.1f} us/message  ({1 / ref:9.0f} msg/s)")
        print(f"ratio: {ref / mine:.0f}x")
        if len(built.manifest.editions) > 1:
            picker = by_edition(built, workspace)
            languages = tuple(e.language for e in built.manifest.editions)
            lists = {f"all-{languages[0]}": people,
                     f"all-{languages[1]}": readers(args.messages, languages[1:2]),
                     f"mixed {'/'.join(languages)}": readers(args.messages, languages)}
            rounds: dict[str, list[float]] = {name: [] for name in lists}
            for _ in range(args.rounds):
                for name, group in lists.items():
                    rounds[name].append(per_message(picker, group))
            for name, values in rounds.items():
                print(f"by edition, {name} list: {statistics.median(values) * 1e6:8.1f} "
                      "us/message")
        rate, per_row = list_reading(args.rows, folder)
        print(f"read_subscribers: {rate:,.0f} rows/s; tracemalloc peak {per_row:.0f} bytes "
              f"per row over {args.rows:,} distinct rows (the duplicate check)")
        if args.dkim:
            cost = dkim_cost(built, workspace, people, folder)
            print(f"with DKIM (dkimpy, RSA-2048): {cost * 1e6:.0f} us/message "
                  f"({1 / cost:.0f} msg/s)")


if __name__ == "__main__":
    main()
