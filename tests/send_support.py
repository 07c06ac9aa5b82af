"""A ``Campaign`` with a test's retry policy and SMTP timeouts: a ``SendPlan`` made directly.

An operator sets timeouts in newsletter.toml's ``[smtp]``; a test that needs a fraction of
a second, or backoffs of milliseconds, builds the plan itself: ``read_plan`` as ``send``
does, then the same plan with its policy and timeouts replaced (and the relays made again
for those timeouts), through the plan's public parts only.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from newsletter.delivery.transport import Timeouts
from newsletter.send.campaign import Campaign
from newsletter.send.journal import Journal
from newsletter.send.plan import SendOptions, read_plan, relays_for
from newsletter.send.pool import Policy


def campaign_with(issue: Path, options: SendOptions, *, policy: Policy | None = None,
                  timeout: float | None = None) -> Campaign:
    """``prepare(issue, options)`` with ``policy``'s retries, backoffs and pauses (the
    connections, rate and per-domain limit stay what the options and config say) and
    ``timeout`` seconds for every SMTP wait."""
    plan = read_plan(issue, options)
    if policy is not None:
        read = plan.policy
        policy = replace(policy, connections=read.connections, rate=read.rate,
                         per_domain=read.per_domain, per_connection=read.per_connection)
    else:
        policy = plan.policy
    timeouts = Timeouts(timeout, timeout, timeout) if timeout is not None else plan.timeouts
    relays = relays_for(plan.config, plan.options, policy, timeouts, slug=plan.slug,
                        content_hash=plan.content_hash)
    return Campaign(replace(plan, policy=policy, timeouts=timeouts, relays=relays))


async def send_list(issue: Path, list_file: Path, addresses: list[str], url: str, *,
                    connections: int, timeout: float) -> dict[str, str]:
    """Send ``issue`` to ``list_file`` through ``url`` with fast retries; each address's
    journal state afterwards ("absent" if it has no row)."""
    campaign = campaign_with(issue, SendOptions(list_file, smtp=url, connections=connections),
                             policy=Policy(attempts=3, backoff=0.01, pause_after=20),
                             timeout=timeout)
    await campaign.run()
    journal = Journal.read_only(campaign.journal_path)
    try:
        return {a: journal.state(a) or "absent" for a in addresses}
    finally:
        journal.close()
