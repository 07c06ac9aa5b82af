"""Random fault schedules over a pool of relays (issue 14), as issue 8's property test does for
one server: for every reader, exactly one relay accepted it, or it is reported ``unknown`` and
at most one did; a relay's own refusals never make a reader ``failed``; every report equals the
journal. Each schedule gives 2-3 relays a role (random per-reader faults, 421 to every MAIL,
"relay access denied" to every RCPT, killed after a few messages) and cuts runs short at
random (a stop, a stop at once). ``NEWSLETTER_PROPERTY_SEED`` replays one schedule.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from send_support import campaign_with
from test_send_property import schedule
from test_send_relays import Dying
from test_send_servers import (
    ISSUE,
    Faults,
    Recorder,
    Server,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    start_server,
    write_list,
)

from newsletter.errors import SendError
from newsletter.send.campaign import SendOptions
from newsletter.send.journal import Journal
from newsletter.send.pool import Policy
from newsletter.send.report import settled

BUDGET = 10.0  # seconds for all schedules together
LIST = Path("subscribers/relayprop.csv")
POLICY = Policy(attempts=3, backoff=0.02, max_backoff=0.1, outage=0.6, grace=0.3,
                pause_after=8)
ROLES = ("faulty", "closing", "denying", "dying")


def relays_for(rng: random.Random, addresses: list[str]) -> list[tuple[str, Server]]:
    roles = ["faulty", *rng.sample(ROLES, rng.randint(1, 2))]
    found = []
    for role in roles:
        if role == "faulty":
            handler: Recorder = Recorder(schedule(rng, addresses))
        elif role == "closing":
            handler = Recorder(Faults(mail={"*": "421 4.3.2 closing"}, always=True))
        elif role == "denying":
            handler = Recorder(Faults(rcpt=dict.fromkeys(addresses, "554 5.7.1 Relay access "
                                                                    "denied"), always=True))
        else:
            handler = Dying(after=rng.randint(1, 4))
        server = start_server(handler)
        if isinstance(handler, Dying):
            handler.server = server
        found.append((role, server))
    return found


def journal() -> dict[str, str]:
    opened = Journal.read_only(Path("journal/example.sqlite"))
    try:
        return {a: s.replace("sending", "unknown") for a, s in opened._db.execute(
            "SELECT address, state FROM recipients")}
    finally:
        opened.close()


async def check_schedule(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 (fault schedules, not secrets)
    for old in Path("journal").glob("example.sqlite*"):  # each schedule starts afresh
        old.unlink()
    addresses = write_list(LIST, rng.randint(6, 20))
    relays = relays_for(rng, addresses)
    where = f"seed {seed}: roles {[role for role, _ in relays]}"
    try:
        for _ in range(5):
            campaign = campaign_with(Path(ISSUE), SendOptions(
                LIST, smtp=tuple(s.url for _, s in relays), connections=rng.choice([1, 2])),
                policy=POLICY, timeout=0.25)
            run = asyncio.ensure_future(campaign.run())
            cut = rng.choice(["none", "none", "stop", "abort"])
            if cut != "none":
                await asyncio.sleep(rng.uniform(0, 0.2))
                campaign.stop("interrupted (SIGTERM)")
                if cut == "abort":
                    campaign.abort("interrupted (SIGTERM twice): stopped at once")
            try:
                report = await asyncio.wait_for(run, 20)
            except SendError as exc:  # stopped while connecting, or no relay left to begin
                refused = str(exc)
            else:
                refused = ""
            if refused.endswith("while connecting; nothing was sent"):
                continue  # stopped before the pool began
            if refused:
                assert "no SMTP relay of the pool could be used" in refused, where
                break
            assert report.journal_counts == settled(journal_counts()), where
            states = journal()
            if not {"pending", "deferred"} & set(states.values()):
                break
        states = journal()
        copies: Counter[str] = Counter()
        for _, server in relays:
            copies.update(server.handler.count())
        relay_refused = {role for role, _ in relays} - {"faulty"}
        for address in addresses:
            state = states.get(address, "pending")
            if state == "sent":
                assert copies[address] == 1, (where, address, states, copies)
            elif state == "unknown":
                assert copies[address] <= 1, (where, address)
            else:
                assert copies[address] == 0, (where, address, state)
        if relay_refused and not any(role == "faulty" for role, _ in relays):
            assert "failed" not in states.values(), where
    finally:
        for role, server in relays:
            if not (role == "dying" and server.handler.killed.is_set()):  # type: ignore
                server.controller.stop()


def journal_counts() -> dict[str, int]:
    opened = Journal.read_only(Path("journal/example.sqlite"))
    try:
        return opened.counts()
    finally:
        opened.close()


@pytest.mark.usefixtures("built")
async def test_random_fault_schedules_over_a_pool() -> None:
    Path("journal").mkdir(exist_ok=True)
    fixed = os.environ.get("NEWSLETTER_PROPERTY_SEED")
    seeds = [int(fixed)] if fixed else list(range(2000, 2100))
    started = time.monotonic()
    done = 0
    for seed in seeds:
        if time.monotonic() - started > BUDGET:
            break
        await check_schedule(seed)
        done += 1
    print(f"{done} schedules")  # shown with -s
    assert done >= min(len(seeds), 5)
