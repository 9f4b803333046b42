-- The suppression list: addresses that must not be mailed again (src/suppression.rs).
-- Forward-only: never edit a migration that has shipped; add the next NNNN file instead.

CREATE TABLE suppressions (
    -- The address as the importer compares it (recipients::address_key: trimmed,
    -- lower-cased), so a suppressed row is found whatever its case or padding.
    address  TEXT PRIMARY KEY,
    reason   TEXT NOT NULL CHECK (reason IN ('unsubscribed','bounced','manual')),
    added_at TEXT NOT NULL,
    -- The operator, or "relay" for a bounce recorded from a send.
    added_by TEXT NOT NULL,
    -- The campaign whose send bounced, for bounces.
    campaign TEXT
);
