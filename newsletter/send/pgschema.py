"""The tables of the journal in PostgreSQL, their statements, and reads across issues.

``pgjournal`` and ``pglease`` explain what they are for: issues (the content lock), senders
(their leases), and one row per issue and reader. The fence is a function that raises, so that
a write needs no result from it and stays one round trip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg

from newsletter import database
from newsletter.errors import SendError

if TYPE_CHECKING:
    from newsletter.database import Connection

COMPONENT = "journal"
MIGRATIONS = ("""
CREATE TABLE journal_issues (
    slug TEXT PRIMARY KEY, content_hash TEXT NOT NULL, started TEXT NOT NULL);
CREATE TABLE journal_senders (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    lease_until TIMESTAMPTZ NOT NULL,
    state TEXT NOT NULL DEFAULT 'running'  -- running, finished, expired
);
CREATE INDEX journal_senders_slug ON journal_senders (slug, state);
CREATE TABLE journal_recipients (
    slug TEXT NOT NULL,
    address TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    code INTEGER,
    reply TEXT,
    content_hash TEXT,
    message_id TEXT,
    updated DOUBLE PRECISION,
    relay TEXT,
    edition TEXT,
    list_id TEXT,                      -- the list the reader is sent for
    sender TEXT,                       -- who claimed it last
    PRIMARY KEY (slug, address)
);
CREATE INDEX journal_recipients_state ON journal_recipients (slug, state, address);
-- The fence: renew the sender's lease, or fail the transaction if it has run out. A
-- function that raises, so that it needs no result: a whole write is one round trip.
CREATE FUNCTION newsletter_fence(who TEXT, seconds DOUBLE PRECISION) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE journal_senders SET lease_until = clock_timestamp() + seconds * interval '1 second'
        WHERE id = who AND state = 'running' AND lease_until > clock_timestamp();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'this sender''s lease ran out (no sign of life for % s): other '
            'senders may have taken its readers; stopped', seconds;
    END IF;
END $$;
""",)
LEASE = 30.0  # seconds a sender owns its claims without a write or heartbeat
ADD = ("INSERT INTO journal_recipients (slug, address, list_id) VALUES (%s, %s, %s) "
        "ON CONFLICT DO NOTHING")
SET = ("INSERT INTO journal_recipients AS r (slug, address, state, code, reply, updated, "
        "attempts, content_hash, message_id, sender) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
        "%s, %s) ON CONFLICT (slug, address) DO UPDATE SET state = excluded.state, "
        "code = excluded.code, reply = excluded.reply, updated = excluded.updated, "
        "attempts = r.attempts + excluded.attempts, "
        "content_hash = coalesce(excluded.content_hash, r.content_hash), "
        "message_id = coalesce(excluded.message_id, r.message_id), sender = excluded.sender")
RELAY = "UPDATE journal_recipients SET relay = %s WHERE slug = %s AND address = %s"
EDITION = "UPDATE journal_recipients SET edition = %s WHERE slug = %s AND address = %s"
FENCE = "SELECT newsletter_fence(%s, %s)"
EXPIRE = ("UPDATE journal_senders SET state = 'expired' WHERE slug = %s AND state = 'running'"
           " AND lease_until <= clock_timestamp()")
LOST = ("UPDATE journal_recipients SET state = 'unknown', updated = %s, reply = %s "
         "WHERE slug = %s AND state = 'sending' AND (sender IS NULL OR sender IN "
         "(SELECT id FROM journal_senders WHERE slug = %s AND state <> 'running'))")
STOPPED = ("UPDATE journal_recipients SET state = 'unknown', updated = %s, reply = 'the run "
            "stopped while this message was in flight' WHERE slug = %s AND sender = %s AND "
            "state = 'sending'")
# SKIP LOCKED: rows another sender is claiming right now are passed over, not waited for.
CLAIM = ("WITH batch AS (SELECT address FROM journal_recipients WHERE slug = %s "
          "AND state = ANY(%s) AND (sender IS NULL OR sender IN "
          "(SELECT id FROM journal_senders WHERE slug = %s AND state <> 'running')) "
          "ORDER BY address LIMIT %s FOR UPDATE SKIP LOCKED) "
          "UPDATE journal_recipients r SET sender = %s FROM batch "
          "WHERE r.slug = %s AND r.address = batch.address RETURNING r.address, r.state")

# The same for readers a sender names (the next readers of its own lists, in list order).
CLAIM_THESE = ("WITH batch AS (SELECT address FROM journal_recipients WHERE slug = %s "
               "AND address = ANY(%s) AND state = ANY(%s) AND (sender IS NULL OR sender IN "
               "(SELECT id FROM journal_senders WHERE slug = %s AND state <> 'running')) "
               "ORDER BY address FOR UPDATE SKIP LOCKED) "
               "UPDATE journal_recipients r SET sender = %s FROM batch "
               "WHERE r.slug = %s AND r.address = batch.address RETURNING r.address, r.state")


def upgrade(db: Connection) -> tuple[int, int]:
    """Create or migrate the journal's tables: (version before, after)."""
    return database.upgrade(db, COMPONENT, MIGRATIONS)


def every_message(url: str) -> list[tuple[str, str, str, str | None]]:
    """(issue, address, Message-ID, list id) of every message of every issue, oldest first
    (the inbox ties bounces to readers with them)."""
    db = database.connect(url)
    try:
        upgrade(db)
        return [(str(s), str(a), str(m), li) for s, a, m, li in db.execute(
            "SELECT slug, address, message_id, list_id FROM journal_recipients WHERE "
            "message_id IS NOT NULL ORDER BY updated").fetchall()]
    except psycopg.Error as exc:
        raise SendError(f"cannot read the journals: {database.message(exc, url)}",
                        path=database.shown_url(url)) from exc
    finally:
        db.close()


def issues(url: str) -> list[tuple[str, str, str]]:
    """(slug, content hash, started) of every issue with a journal in the database."""
    db = database.connect(url)
    try:
        upgrade(db)
        return [(str(a), str(b), str(c)) for a, b, c in db.execute(
            "SELECT slug, content_hash, started FROM journal_issues ORDER BY slug").fetchall()]
    except psycopg.Error as exc:
        raise SendError(f"cannot read the journals: {database.message(exc, url)}",
                        path=database.shown_url(url)) from exc
    finally:
        db.close()
