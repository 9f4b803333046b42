-- Issue 13: the consent basis of advertising mail kept with the delivery record, and the
-- outbound IP addresses a relay profile declares for SPF.
-- Forward-only: never edit a migration that has shipped; add the next NNNN file instead.

-- 特定電子メール法 法第3条第2項 / 施行規則第4条第2項: the record of each recipient's
-- basis (同意 / 名刺等 / 取引関係 / 公表アドレス) must be kept until one month after the
-- last advertising mail to them. Keyed like `deliveries` (campaign, normalised address);
-- a basis that changes between runs adds a row, so every basis ever mailed on stays.
-- MergeGuard never deletes these rows; the trigger makes an accidental DELETE fail.
CREATE TABLE consent_records (
    campaign_id TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    basis       TEXT    NOT NULL
                CHECK (basis IN ('consent','business_card','transaction','published')),
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, address, basis)
);
CREATE TRIGGER consent_records_no_delete BEFORE DELETE ON consent_records
BEGIN
    SELECT RAISE(ABORT, 'consent records are kept (特定電子メール法 施行規則第4条第2項)');
END;

-- The relay's outbound addresses as the admin declared them (comma-separated ip4/ip6),
-- evaluated by `spf.relay` instead of the submission host's addresses. NULL: none.
ALTER TABLE relay_profiles ADD COLUMN outbound_ips TEXT;
