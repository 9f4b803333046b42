-- The mailbox loop and keyed unsubscribe tokens (issue 15): src/unsubscribe.rs,
-- src/dmarc_report.rs, src/mailbox/.
-- Forward-only: never edit a migration that has shipped; add the next NNNN file instead.
--
-- The time this migration is applied (schema_migrations.applied_at of version 7) is when
-- this install started issuing keyed unsubscribe tokens: a delivery sent before it may
-- carry an unkeyed token, honoured for 90 days after its send (src/unsubscribe.rs).

-- DMARC aggregate reports (RFC 7489 appendix C). One row per (org, report id): a report
-- imported twice (a file and the same mail) is stored once.
CREATE TABLE dmarc_reports (
    id          INTEGER PRIMARY KEY,
    org         TEXT    NOT NULL,
    report_id   TEXT    NOT NULL,
    domain      TEXT    NOT NULL,
    -- The reporting period, unix seconds.
    begin_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    policy      TEXT    NOT NULL,
    imported_at TEXT    NOT NULL,
    UNIQUE (org, report_id)
);

CREATE TABLE dmarc_records (
    report      INTEGER NOT NULL REFERENCES dmarc_reports (id),
    source_ip   TEXT    NOT NULL,
    count       INTEGER NOT NULL CHECK (count >= 0),
    disposition TEXT    NOT NULL,
    -- The DMARC policy evaluation (aligned results): pass | fail.
    dkim        TEXT    NOT NULL,
    spf         TEXT    NOT NULL,
    header_from TEXT    NOT NULL
);
CREATE INDEX dmarc_records_by_report ON dmarc_records (report);

-- How far each profile's mailbox has been read: the folder's UIDVALIDITY and the highest
-- UID whose effects are committed. Written in the same transaction as those effects, so
-- a crash loses nothing and processes nothing twice.
CREATE TABLE mailbox_sync (
    profile     TEXT    NOT NULL COLLATE NOCASE,
    folder      TEXT    NOT NULL,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    synced_at   TEXT    NOT NULL,
    PRIMARY KEY (profile, folder)
);

-- Soft bounces per address (recipients::address_key); suppressed after a set number.
CREATE TABLE soft_bounces (
    address     TEXT    PRIMARY KEY,
    count       INTEGER NOT NULL,
    last_status TEXT    NOT NULL,
    last_at     TEXT    NOT NULL
);

-- A bounce that came back after the relay accepted the message: the delivery stays
-- 'sent' (the relay did take it) and the report shows the later bounce.
ALTER TABLE deliveries ADD COLUMN bounce_status TEXT;
ALTER TABLE deliveries ADD COLUMN bounced_at TEXT;
CREATE INDEX deliveries_by_message_id ON deliveries (message_id);

-- The mailbox a relay profile reads (NULL: none), and OAuth2 sign-in settings.
ALTER TABLE relay_profiles ADD COLUMN imap_host TEXT;
ALTER TABLE relay_profiles ADD COLUMN imap_port INTEGER;
ALTER TABLE relay_profiles ADD COLUMN imap_security TEXT;
ALTER TABLE relay_profiles ADD COLUMN imap_folder TEXT;
ALTER TABLE relay_profiles ADD COLUMN oauth_provider TEXT;
ALTER TABLE relay_profiles ADD COLUMN oauth_client_id TEXT;
ALTER TABLE relay_profiles ADD COLUMN oauth_tenant TEXT;
ALTER TABLE relay_profiles ADD COLUMN oauth_authority TEXT;
ALTER TABLE relay_profiles ADD COLUMN oauth_scopes TEXT;
