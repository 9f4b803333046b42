//! Data-folder integrity: the per-install key, the MAC that seals every security row the
//! core trusts, and the check that finds rows the core did not write.
//!
//! A sealed row carries `mac` = HMAC-SHA256(install key, table name and every covered
//! column, each with its SQLite type and length). The covered columns of each table are
//! listed once, in [`SEALED`], and both the writers ([`seal`]) and the readers
//! ([`is_sealed`], [`check_rows`]) go through that list, so a column cannot be trusted
//! without being covered.
//!
//! Architecture invariant: the key never leaves this process except to the keychain;
//! `Debug` prints `<redacted>`.

use hmac::{Hmac, Mac};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use sha2::Sha256;

/// The per-install secret key: 32 random bytes kept in the OS keychain.
#[derive(Clone)]
pub struct InstallKey([u8; 32]);

impl std::fmt::Debug for InstallKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstallKey(<redacted>)")
    }
}

impl InstallKey {
    /// A new key from the OS random source.
    pub(crate) fn generate() -> InstallKey {
        use rand::RngCore;
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        InstallKey(k)
    }

    /// The key as stored in the keychain (base64).
    pub(crate) fn to_text(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Reads the keychain text; `None` when it is not a 32-byte key.
    pub(crate) fn from_text(s: &str) -> Option<InstallKey> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .ok()?;
        Some(InstallKey(bytes.try_into().ok()?))
    }

    /// The raw bytes, for Argon2's `secret` parameter only.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA256 under this key over `domain` and then each part, length-prefixed.
    pub(crate) fn mac(&self, domain: &str, parts: &[&[u8]]) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        m.update(&(domain.len() as u64).to_be_bytes());
        m.update(domain.as_bytes());
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        hex::encode(m.finalize().into_bytes())
    }
}

/// A table whose rows are sealed: its name, the SQL that names a row to a person, and the
/// columns the MAC covers.
pub(crate) struct Sealed {
    pub table: &'static str,
    pub label: &'static str,
    pub columns: &'static [&'static str],
}

/// Every sealed table. Adding a trusted column means adding it here.
pub(crate) const SEALED: &[Sealed] = &[
    Sealed {
        table: "install",
        label: "'install'",
        columns: &["one", "id", "keyed_at", "keyed_from"],
    },
    Sealed {
        table: "operators",
        label: "name",
        columns: &[
            "name",
            "roles",
            "pin_hash",
            "pin_peppered",
            "disabled",
            "failed_attempts",
            "locked_until",
            "email",
            "created_at",
        ],
    },
    Sealed {
        table: "settings",
        label: "key",
        columns: &["key", "value"],
    },
    Sealed {
        table: "submissions",
        label: "campaign_id",
        columns: &[
            "campaign_id",
            "fingerprint",
            "preparer",
            "submitted_at",
            "warnings",
        ],
    },
    Sealed {
        table: "approvals",
        label: "campaign_id || ' #' || id",
        columns: &[
            "id",
            "campaign_id",
            "fingerprint",
            "preparer",
            "approver",
            "granted_at",
            "expires_at",
            "revoked_at",
            "revoked_why",
        ],
    },
];

fn sealed(table: &str) -> &'static Sealed {
    SEALED
        .iter()
        .find(|s| s.table == table)
        .unwrap_or_else(|| panic!("{table} is not a sealed table"))
}

/// One column value with its type, so `'1'` and `1` (or NULL and `''`) seal differently.
fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0),
        Value::Integer(i) => {
            out.push(1);
            out.extend_from_slice(&i.to_be_bytes());
        }
        Value::Real(f) => {
            out.push(2);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Text(s) => {
            out.push(3);
            out.extend_from_slice(&(s.len() as u64).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Blob(b) => {
            out.push(4);
            out.extend_from_slice(&(b.len() as u64).to_be_bytes());
            out.extend_from_slice(b);
        }
    }
}

fn row_mac(key: &InstallKey, s: &Sealed, values: &[Value]) -> String {
    let mut bytes = Vec::new();
    for v in values {
        encode(v, &mut bytes);
    }
    key.mac("mergeguard-row-v1", &[s.table.as_bytes(), &bytes])
}

/// A sealed row as read: how a person names it, the covered values, the stored MAC.
type SealedRow = (String, Vec<Value>, Option<String>);

/// The row with this rowid.
fn read_row(conn: &Connection, s: &Sealed, rowid: i64) -> rusqlite::Result<Option<SealedRow>> {
    let sql = format!(
        "SELECT {label}, {cols}, mac FROM {table} WHERE rowid = ?1",
        label = s.label,
        cols = s.columns.join(", "),
        table = s.table
    );
    conn.query_row(&sql, [rowid], |r| {
        let n = s.columns.len();
        let label: Value = r.get(0)?;
        let values = (1..=n)
            .map(|i| r.get(i))
            .collect::<Result<Vec<Value>, _>>()?;
        Ok((label_text(label), values, r.get(n + 1)?))
    })
    .optional()
}

fn label_text(v: Value) -> String {
    match v {
        Value::Text(s) => s,
        Value::Integer(i) => i.to_string(),
        Value::Null => String::new(),
        Value::Real(f) => f.to_string(),
        Value::Blob(_) => "<blob>".into(),
    }
}

/// Seals the row `rowid` of `table` as it is now. Call after every write to a sealed row,
/// inside the same transaction.
pub(crate) fn seal(
    conn: &Connection,
    key: &InstallKey,
    table: &str,
    rowid: i64,
) -> rusqlite::Result<()> {
    let s = sealed(table);
    if let Some((_, values, _)) = read_row(conn, s, rowid)? {
        let mac = row_mac(key, s, &values);
        conn.execute(
            &format!("UPDATE {} SET mac = ?2 WHERE rowid = ?1", s.table),
            rusqlite::params![rowid, mac],
        )?;
    }
    Ok(())
}

/// Seals every row of `table` (the one-time re-keying of an unkeyed database). Returns
/// how many rows were sealed.
pub(crate) fn seal_all(
    conn: &Connection,
    key: &InstallKey,
    table: &str,
) -> rusqlite::Result<usize> {
    let ids: Vec<i64> = {
        let mut stmt = conn.prepare(&format!("SELECT rowid FROM {table}"))?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for id in &ids {
        seal(conn, key, table, *id)?;
    }
    Ok(ids.len())
}

/// Whether the row `rowid` of `table` carries a valid seal. A missing row is not sealed.
pub(crate) fn is_sealed(
    conn: &Connection,
    key: &InstallKey,
    table: &str,
    rowid: i64,
) -> rusqlite::Result<bool> {
    let s = sealed(table);
    Ok(match read_row(conn, s, rowid)? {
        Some((_, values, Some(mac))) => constant_eq(&row_mac(key, s, &values), &mac),
        _ => false,
    })
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A sealed row that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowBreak {
    pub table: String,
    /// The row as a person names it: an operator's name, a setting's key, a campaign id.
    pub row: String,
    /// `unsealed` (no MAC: written by something other than MergeGuard) or `forged` (the
    /// MAC does not match the row: edited, or copied from another row).
    pub reason: String,
}

/// Checks the seal of every row of every sealed table.
pub(crate) fn check_rows(conn: &Connection, key: &InstallKey) -> rusqlite::Result<Vec<RowBreak>> {
    let mut out = Vec::new();
    for s in SEALED {
        let ids: Vec<i64> = {
            let mut stmt =
                conn.prepare(&format!("SELECT rowid FROM {} ORDER BY rowid", s.table))?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for id in ids {
            if let Some((label, values, mac)) = read_row(conn, s, id)? {
                let reason = match mac {
                    None => Some("unsealed"),
                    Some(m) if !constant_eq(&row_mac(key, s, &values), &m) => Some("forged"),
                    Some(_) => None,
                };
                if let Some(reason) = reason {
                    out.push(RowBreak {
                        table: s.table.to_owned(),
                        row: label,
                        reason: reason.to_owned(),
                    });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_round_trips_and_never_prints() {
        let k = InstallKey::generate();
        let back = InstallKey::from_text(&k.to_text()).unwrap();
        assert_eq!(k.bytes(), back.bytes());
        assert_eq!(format!("{k:?}"), "InstallKey(<redacted>)");
        assert!(InstallKey::from_text("c2hvcnQ=").is_none());
    }

    #[test]
    fn values_of_other_types_seal_differently() {
        let k = InstallKey::generate();
        let s = sealed("settings");
        let a = row_mac(&k, s, &[Value::Text("k".into()), Value::Text("1".into())]);
        let b = row_mac(&k, s, &[Value::Text("k".into()), Value::Integer(1)]);
        let c = row_mac(&k, s, &[Value::Text("k1".into()), Value::Text("".into())]);
        assert_ne!(a, b);
        assert_ne!(a, c);
        let other = InstallKey::generate();
        assert_ne!(
            a,
            row_mac(
                &other,
                s,
                &[Value::Text("k".into()), Value::Text("1".into())]
            )
        );
    }
}
