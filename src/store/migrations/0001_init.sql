-- First schema: operators, the operation log, approvals and settings.
-- Forward-only: never edit a migration that has shipped; add the next NNNN file instead.

CREATE TABLE operators (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    roles           TEXT NOT NULL,              -- comma-separated: sender,approver,admin
    pin_hash        TEXT NOT NULL,              -- Argon2id PHC string, never the PIN
    disabled        INTEGER NOT NULL DEFAULT 0,
    failed_attempts INTEGER NOT NULL DEFAULT 0, -- consecutive failures since last success
    locked_until    TEXT,                       -- RFC 3339, NULL when not locked
    created_at      TEXT NOT NULL
);

-- The operation log. Rows are only ever inserted (see the triggers); each row carries the
-- SHA-256 of the previous row, so `audit verify` notices any later edit.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    operator  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    campaign  TEXT,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_operator ON audit_log(operator);
CREATE INDEX audit_log_campaign ON audit_log(campaign);

-- The chain head kept outside the log rows, so that cutting entries off the end of the
-- log is noticed too (a chain that simply stops earlier is otherwise still valid).
CREATE TABLE audit_head (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    id   INTEGER NOT NULL,
    hash TEXT NOT NULL
);

-- Defence in depth: the application never updates or deletes log rows. Someone with the
-- file can drop these triggers, which is why the hash chain exists.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the operation log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the operation log is append-only'); END;

-- A campaign submitted for approval: frozen at this fingerprint.
CREATE TABLE submissions (
    campaign_id  TEXT PRIMARY KEY,
    fingerprint  TEXT NOT NULL,
    preparer     TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    warnings     TEXT NOT NULL                 -- JSON array of checklist ids with status warning
);

CREATE TABLE approvals (
    id          INTEGER PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES submissions(campaign_id),
    fingerprint TEXT NOT NULL,
    preparer    TEXT NOT NULL,
    approver    TEXT NOT NULL,
    granted_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT,
    revoked_why TEXT
);
CREATE INDEX approvals_campaign ON approvals(campaign_id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
