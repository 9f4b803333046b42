-- Data-folder integrity (src/store/integrity.rs): the install record that names the
-- keychain key, a MAC column on every security table, and whether a PIN hash is bound
-- to the install key.
-- Forward-only: never edit a migration that has shipped; add the next NNNN file instead.

-- One row. `id` names the keychain item holding this install's key; `keyed_at` is NULL
-- until the store has sealed the data under that key (done by Store::open, logged);
-- `keyed_from` is the first operation-log id chained with the key (earlier entries are
-- the unkeyed SHA-256 chain of older versions, anchored by that first keyed entry).
CREATE TABLE install (
    one        INTEGER PRIMARY KEY CHECK (one = 1),
    id         TEXT NOT NULL,
    keyed_at   TEXT,
    keyed_from INTEGER,
    mac        TEXT
);
INSERT INTO install (one, id) VALUES (1, lower(hex(randomblob(16))));

-- HMAC-SHA256 under the install key over the row's trusted columns; NULL = not written
-- by MergeGuard (refused).
ALTER TABLE operators ADD COLUMN mac TEXT;
ALTER TABLE settings ADD COLUMN mac TEXT;
ALTER TABLE submissions ADD COLUMN mac TEXT;
ALTER TABLE approvals ADD COLUMN mac TEXT;

-- 1 when pin_hash is Argon2id with the install key as its secret (a copied database
-- alone cannot test PINs against it); 0 for hashes made before, re-made at the next
-- correct sign-in.
ALTER TABLE operators ADD COLUMN pin_peppered INTEGER NOT NULL DEFAULT 0;
