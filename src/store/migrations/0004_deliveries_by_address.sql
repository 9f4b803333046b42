-- Delivery state keyed by the recipient's normalised address, not by row (src/send/state.rs),
-- and the operator's own address for test sends (src/operators, src/workflow/test_send.rs).
-- Forward-only: never edit a migration that has shipped; add the next NNNN file instead.
--
-- `address` is the importer's comparison key (recipients::address_key: trimmed,
-- lower-cased). `row` is where that person is in the recipient file the campaign was
-- last enqueued from, or NULL when they are no longer in it (they are then never due).
-- A row number names at most one current person per campaign.

CREATE TABLE deliveries_by_address (
    campaign_id     TEXT    NOT NULL,
    address         TEXT    NOT NULL,
    row             INTEGER,
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
    PRIMARY KEY (campaign_id, address)
);

-- Existing rows: an address that a row-keyed resume put on two rows keeps the entry
-- that says the most about what reached the person (sent first, then unknown, ...), so
-- nobody who was already mailed is queued again. INSERT OR IGNORE keeps the first.
INSERT OR IGNORE INTO deliveries_by_address
    (campaign_id, address, row, email, message_id, state, attempts, next_attempt_at,
     reply_code, reply_text, queue_id, updated_at)
SELECT campaign_id, lower(trim(email)), row, email, message_id, state, attempts,
       next_attempt_at, reply_code, reply_text, queue_id, updated_at
FROM deliveries
ORDER BY campaign_id,
         CASE state WHEN 'sent' THEN 0 WHEN 'unknown' THEN 1 WHEN 'sending' THEN 2
                    WHEN 'failed' THEN 3 WHEN 'deferred' THEN 4 ELSE 5 END,
         row;

DROP TABLE deliveries;
ALTER TABLE deliveries_by_address RENAME TO deliveries;
CREATE INDEX deliveries_by_state ON deliveries (campaign_id, state);
CREATE UNIQUE INDEX deliveries_current_row ON deliveries (campaign_id, row)
    WHERE row IS NOT NULL;

-- The operator's own mailbox: the one address a test copy may go to besides the
-- admin's internal domains. NULL until an admin sets it.
ALTER TABLE operators ADD COLUMN email TEXT;
