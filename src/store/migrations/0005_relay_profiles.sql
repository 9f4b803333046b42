-- Relay profiles (src/profiles.rs): named SMTP relays an admin sets up once.
-- Forward-only: never edit a migration that has shipped; add the next NNNN file instead.
-- No secret is kept here: the password lives in the OS keychain under (host:port, user).

CREATE TABLE relay_profiles (
    name        TEXT PRIMARY KEY COLLATE NOCASE,
    provider    TEXT NOT NULL CHECK (provider IN ('microsoft365','google','other')),
    host        TEXT NOT NULL CHECK (host <> ''),
    port        INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    -- Plain text is not representable.
    security    TEXT NOT NULL CHECK (security IN ('starttls','tls')),
    username    TEXT NOT NULL CHECK (username <> ''),
    -- 'oauth2' is reserved for sign-in with Microsoft 365 / Google (issue 15); the code
    -- refuses it until then. Allowed here so that adding it needs no table rebuild.
    auth        TEXT NOT NULL DEFAULT 'password' CHECK (auth IN ('password','oauth2')),
    -- A company CA: its absolute path and the SHA-256 of its bytes when saved; every use
    -- re-reads the file and refuses it when the hash differs.
    ca_path     TEXT,
    ca_sha256   TEXT,
    rate_preset TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    CHECK ((ca_path IS NULL) = (ca_sha256 IS NULL))
);
