-- journal/example--partners.sqlite as release 0.1 (commit 16e2256) wrote it: 'newsletter send
-- issues/example --list subscribers/partners.csv' in the scaffold workspace, dumped with iterdump.
BEGIN TRANSACTION;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('content_hash','35ea183c7c5381cadbe4823728ec1eb6ef30adf188f6810770958ad520d56f24');
INSERT INTO "meta" VALUES('slug','example');
INSERT INTO "meta" VALUES('started','2026-12-04T17:56:01+0000');
CREATE TABLE recipients (
    address TEXT PRIMARY KEY,          -- normalised: lower-cased, IDNA domain
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    code INTEGER,                      -- the server's last reply code
    reply TEXT,                        -- and its text
    content_hash TEXT,                 -- the content last sent (or being sent) to this reader
    message_id TEXT,
    updated REAL
, relay TEXT, edition TEXT) WITHOUT ROWID;
INSERT INTO "recipients" VALUES('john.smith@example.org','sent',1,250,'250 delivered to /tmp/h18ws/outbox/example/new/b72619d018b48777386c75f301f360f3.newsletter (at outbox)','35ea183c7c5381cadbe4823728ec1eb6ef30adf188f6810770958ad520d56f24','<f3866345983696a880f6fb403e157e4a@example.org>',1.7964069612540676594e+09,'outbox','en');
INSERT INTO "recipients" VALUES('li.wei@example.org','sent',1,250,'250 delivered to /tmp/h18ws/outbox/example/new/fb2db322793b76a2c96b85d936e13275.newsletter (at outbox)','35ea183c7c5381cadbe4823728ec1eb6ef30adf188f6810770958ad520d56f24','<3e5b945a3e875f42ede749207502ca33@example.org>',1.79640696124914646153e+09,'outbox','en');
COMMIT;
