"""Everything one ``newsletter send`` needs, read and checked before anything is written.

``read_plan`` checks the build (current, every edition under the size limit), the lists
(each reader valid, or ``--skip-invalid``), the settings (policy, timeouts, relays or the
outbox) and the journal (the same content), and counts what the run will do (``Summary``),
in one streamed pass over the lists. The result is a frozen ``SendPlan``: ``Campaign`` runs
it. A test or a program may build its own plan with ``dataclasses.replace`` (another
``policy``, relays made with ``relays_for`` and other ``timeouts``); nothing else changes a
plan once it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsletter.config import Config, find_root, load_config
from newsletter.content import folder_fingerprint
from newsletter.delivery.compose import Built
from newsletter.delivery.outbox import Outbox
from newsletter.delivery.size import check_message_sizes
from newsletter.delivery.transport import Timeouts
from newsletter.errors import ConfigError, SendError, SubscriberError
from newsletter.layout import BuildLayout
from newsletter.mailinglist import Lists, MailingList
from newsletter.places import ISSUE_FILE
from newsletter.record import ALL_LISTS
from newsletter.send.editions import Editions
from newsletter.send.journal import sendable
from newsletter.send.options import ListRef, SendOptions
from newsletter.send.pool import Policy
from newsletter.send.relays import Relay, relays_from
from newsletter.send.report import Summary
from newsletter.send.survey import Survey, survey
from newsletter.subscribers import Subscriber, subscriber_for


@dataclass(frozen=True)
class SendPlan:
    """One send, checked: what is sent, to whom, how, and what the journal says already."""

    config: Config
    built: Built
    issue: Path  # the issue folder, as given
    options: SendOptions
    lists: tuple[MailingList, ...]
    editions: Editions
    policy: Policy
    timeouts: Timeouts
    relays: tuple[Relay, ...]  # one or several SMTP relays, or the outbox
    journal_path: Path
    test_readers: tuple[Subscriber, ...]
    summary: Summary
    survey: Survey  # what the pass over the lists found beyond the summary

    @property
    def slug(self) -> str:
        return self.built.manifest.slug

    @property
    def content_hash(self) -> str:
        return self.built.manifest.content_hash

    @property
    def outbox(self) -> bool:
        return isinstance(self.relays[0].transport, Outbox)

    @property
    def sendable(self) -> tuple[str, ...]:
        """The journal states in which a reader is sent (again) by this run."""
        return sendable(self.options.resend_unknown)

    def list_for(self, mailing_list: MailingList, reader_key: int) -> str:
        """The list a reader's unsubscribe link names: ``*`` when the reader (``key``) is on
        several of the lists this message is sent for (it came on behalf of all of them)."""
        return ALL_LISTS if reader_key in self.survey.shared else mailing_list.id


def read_plan(issue_folder: Path, options: SendOptions) -> SendPlan:
    """Check everything needed to send, writing nothing; ``NewsletterError`` if anything is
    off (exit 2: bad input, a build that is not current, a setting out of range)."""
    if not (issue_folder / ISSUE_FILE).is_file():
        raise SendError(f"{issue_folder} is not an issue folder (no issue.toml)")
    config = load_config(find_root(issue_folder.resolve()))
    slug = issue_folder.resolve().name
    layout = BuildLayout.of(config.root, options.out)
    if not layout.manifest_path(slug).is_file():
        out = f" --out {options.out}" if options.out is not None else ""
        raise SendError(f"{issue_folder} has not been built in {layout.root}: run 'newsletter "
                        f"build {issue_folder}{out}' first")
    built = Built.read(layout.folder(slug))
    if built.manifest.source_hash != folder_fingerprint(issue_folder):
        raise SendError(f"{issue_folder} changed since it was built: run 'newsletter build "
                        f"{issue_folder}' (and look at it) before sending")
    lists = resolve_lists(config, options.lists)
    editions = Editions(built, config, test=bool(options.test), language=options.language,
                        list_name=lists[0].id if len(lists) == 1 else ALL_LISTS,
                        local=not (options.smtp or config.smtp_url))
    check_message_sizes(editions.composers, config.limits, str(issue_folder))
    policy, timeouts = policy_for(config, options), timeouts_for(config)
    relays = relays_for(config, options, policy, timeouts, slug=slug,
                        content_hash=built.manifest.content_hash)
    test_readers = tuple(_test_reader(lists, a) for a in options.test)
    journal_path = config.places.journal(slug)
    summary, found = survey(config, built, issue_folder, options, lists, editions, relays,
                            test_readers, journal_path)
    return SendPlan(config, built, issue_folder, options, lists, editions, policy, timeouts,
                    relays, journal_path, test_readers, summary, found)


def resolve_lists(config: Config, given: ListRef | tuple[ListRef, ...]) -> tuple[MailingList, ...]:
    """The lists a send names, each once, in the order given; ``SubscriberError`` if one is
    neither a file nor a list id, or its file is missing."""
    refs = given if isinstance(given, tuple) else (given,)
    if not refs:
        raise SubscriberError("no list to send to: give --list")
    workspace = Lists.of(config.places, config.lists)
    found: dict[str, MailingList] = {}
    for ref in refs:
        mailing_list = ref if isinstance(ref, MailingList) else workspace.resolve(ref)
        mailing_list.require()
        found.setdefault(mailing_list.id, mailing_list)
    return tuple(found.values())


def policy_for(config: Config, options: SendOptions) -> Policy:
    """Connections, rate and pauses: the options, else ``[smtp]``, else the defaults."""
    smtp = config.section("smtp")
    policy = Policy(connections=options.connections or smtp.get("connections") or 4,
                    rate=options.rate or smtp.get("rate"),
                    per_domain=smtp.get("per_domain"),
                    per_connection=smtp.get("messages_per_connection") or 100,
                    outage=smtp.get("outage_pause") or Policy.outage)
    for name in ("connections", "rate", "per_domain", "per_connection", "outage"):
        value = getattr(policy, name)
        if value is not None and value <= 0:
            raise ConfigError(f"{name.replace('_', ' ')} must be positive, not {value}")
    return policy


def timeouts_for(config: Config) -> Timeouts:
    """Seconds for each SMTP wait: ``[smtp]``'s ``*_timeout``, else RFC 5321's."""
    smtp = config.section("smtp")
    timeouts = Timeouts(connect=smtp.get("connect_timeout") or Timeouts.connect,
                        command=smtp.get("command_timeout") or Timeouts.command,
                        data=smtp.get("data_timeout") or Timeouts.data)
    for name in ("connect", "command", "data"):
        if getattr(timeouts, name) <= 0:
            raise ConfigError(f"[smtp] {name}_timeout must be positive, not "
                              f"{getattr(timeouts, name)}")
    return timeouts


def relays_for(config: Config, options: SendOptions, policy: Policy, timeouts: Timeouts, *,
               slug: str, content_hash: str) -> tuple[Relay, ...]:
    """The relays a send uses (``--smtp``, the environment, newsletter.toml), or the
    issue's outbox when none is configured."""
    smtp = options.smtp
    relays = relays_from(config, (smtp,) if isinstance(smtp, str) else smtp or (),
                         connections=policy.connections, insecure=options.insecure,
                         timeouts=timeouts)
    if relays:
        return tuple(relays)
    outbox = Outbox(config.places.outbox(slug), content_hash=content_hash,
                    journaled=not options.test)
    return (Relay("outbox", outbox, connections=policy.connections),)


def _test_reader(lists: tuple[MailingList, ...], address: str) -> Subscriber:
    for mailing_list in lists:
        try:
            return mailing_list.find(address)
        except SubscriberError:
            continue
    return subscriber_for(address)  # on no list: a reader with no personal data
