-- Sending: per-recipient delivery state and the relay quota ledger (src/send/state.rs).
-- Forward-only: never edit a migration that has shipped; add the next NNNN file instead.
-- IF NOT EXISTS because databases made before this migration existed may already hold
-- these tables (the send engine used to create them itself): upgrading them must work.

CREATE TABLE IF NOT EXISTS deliveries (
    campaign_id     TEXT    NOT NULL,
    row             INTEGER NOT NULL,
    email           TEXT    NOT NULL,
    message_id      TEXT,
    state           TEXT    NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued','sending','sent','deferred','failed','unknown')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    reply_code      INTEGER,
    reply_text      TEXT,
    queue_id        TEXT,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, row)
);
CREATE INDEX IF NOT EXISTS deliveries_by_state ON deliveries (campaign_id, state);

-- One row per message handed to a relay, across campaigns, so a daily quota holds
-- across campaigns and restarts. Pruned after two days.
CREATE TABLE IF NOT EXISTS send_quota (
    relay_key TEXT    NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS send_quota_by_relay ON send_quota (relay_key, at);
