//! Secrets: SMTP passwords and PINs, wrapped so they cannot be printed or serialised,
//! and stored only in the OS keychain.

use std::fmt;

use serde_json::json;
use time::OffsetDateTime;

use crate::audit::{self, Kind};
use crate::error::ErrorCode;
use crate::operators::{self, Role, Session};
use crate::store::Store;

pub mod install;

/// The keychain service name every relay password is filed under.
pub const KEYCHAIN_SERVICE: &str = "MergeGuard SMTP";

/// The keychain service name DKIM private keys are filed under (account
/// `selector._domainkey.domain`).
pub const DKIM_KEYCHAIN_SERVICE: &str = "MergeGuard DKIM";

/// A secret string. `Debug`/`Display` print `<redacted>`; it has no `Serialize`.
/// Read it only where it is handed to the relay or a hash function, via [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Call only at the point of use; never log or store the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The keychain refused or is missing. Never carries the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("the system keychain is not available ({0}). Start and unlock your keyring (for example GNOME Keyring or KWallet) and try again")]
    Unavailable(String),
    #[error("the system keychain is locked or refused access ({0}). Unlock it and try again")]
    Locked(String),
    #[error("no password is stored in the keychain for relay profile {profile:?}, user {user:?}")]
    NotFound { profile: String, user: String },
    #[error("no DKIM private key is stored in the keychain for {0} (store it with `mergeguard credential set-dkim`)")]
    NoDkimKey(String),
    #[error("the keychain failed: {0}")]
    Failed(String),
    #[error("only an admin may store or remove credentials ({0} is not one)")]
    NotAdmin(String),
    #[error(transparent)]
    Access(Box<operators::Error>),
    #[error(transparent)]
    Audit(#[from] audit::Error),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Audit(e) => e.code(),
            Error::Access(e) => e.code(),
            Error::NotAdmin(_) => ErrorCode::Forbidden,
            _ => ErrorCode::Keychain,
        }
    }
}

/// The keychain account for one relay profile and user.
fn account(profile: &str, user: &str) -> String {
    format!("{profile}:{user}")
}

fn entry(profile: &str, user: &str) -> Result<keyring::Entry, Error> {
    if let Err(e) = keyring::Entry::store_status() {
        return Err(Error::Unavailable(e.to_string()));
    }
    keyring::Entry::new(KEYCHAIN_SERVICE, &account(profile, user))
        .map_err(|e| map_err(e, profile, user))
}

fn map_err(e: keyring::Error, profile: &str, user: &str) -> Error {
    map_keyring_err(e, profile, user)
}

/// A keyring error in plain words; `NoEntry` names what is missing by (what, who).
pub(crate) fn map_keyring_err(e: keyring::Error, profile: &str, user: &str) -> Error {
    match e {
        keyring::Error::NoEntry => Error::NotFound {
            profile: profile.into(),
            user: user.into(),
        },
        keyring::Error::NoStorageAccess(inner) => Error::Locked(inner.to_string()),
        keyring::Error::NoDefaultStore => Error::Unavailable(
            keyring::Entry::store_status()
                .as_ref()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "no credential store".into()),
        ),
        keyring::Error::PlatformFailure(inner) => Error::Unavailable(inner.to_string()),
        // BadEncoding/BadDataFormat carry the stored bytes: drop them, they are the secret.
        keyring::Error::BadEncoding(_) => Error::Failed("the stored password is not text".into()),
        keyring::Error::BadDataFormat(_, _) => {
            Error::Failed("the stored password is malformed".into())
        }
        other => Error::Failed(other.to_string()),
    }
}

/// Stores the SMTP password of a relay profile in the OS keychain (replacing any).
pub fn store_relay_password(profile: &str, user: &str, password: &Secret) -> Result<(), Error> {
    entry(profile, user)?
        .set_password(password.expose())
        .map_err(|e| map_err(e, profile, user))
}

/// Reads the SMTP password of a relay profile from the OS keychain.
pub fn relay_password(profile: &str, user: &str) -> Result<Secret, Error> {
    entry(profile, user)?
        .get_password()
        .map(Secret::new)
        .map_err(|e| map_err(e, profile, user))
}

/// Removes the SMTP password of a relay profile from the OS keychain.
pub fn remove_relay_password(profile: &str, user: &str) -> Result<(), Error> {
    entry(profile, user)?
        .delete_credential()
        .map_err(|e| map_err(e, profile, user))
}

/// [`store_relay_password`] and a `credential_stored` log entry (profile and user only).
pub fn save_relay_password(
    store: &Store,
    by: &Session,
    profile: &str,
    user: &str,
    password: &Secret,
    now: OffsetDateTime,
) -> Result<(), Error> {
    require_admin(store, by, now)?;
    store_relay_password(profile, user, password)?;
    audit::append(
        store,
        now,
        by.operator(),
        Kind::CredentialStored,
        None,
        json!({"profile": profile, "user": user, "keychain_service": KEYCHAIN_SERVICE}),
    )?;
    Ok(())
}

/// [`remove_relay_password`] and a `credential_removed` log entry.
pub fn forget_relay_password(
    store: &Store,
    by: &Session,
    profile: &str,
    user: &str,
    now: OffsetDateTime,
) -> Result<(), Error> {
    require_admin(store, by, now)?;
    remove_relay_password(profile, user)?;
    audit::append(
        store,
        now,
        by.operator(),
        Kind::CredentialRemoved,
        None,
        json!({"profile": profile, "user": user, "keychain_service": KEYCHAIN_SERVICE}),
    )?;
    Ok(())
}

/// The keychain account of a DKIM key: its DNS name.
fn dkim_account(domain: &str, selector: &str) -> String {
    format!("{selector}._domainkey.{}", domain.to_ascii_lowercase())
}

fn dkim_entry(domain: &str, selector: &str) -> Result<keyring::Entry, Error> {
    if let Err(e) = keyring::Entry::store_status() {
        return Err(Error::Unavailable(e.to_string()));
    }
    keyring::Entry::new(DKIM_KEYCHAIN_SERVICE, &dkim_account(domain, selector))
        .map_err(|e| map_err(e, domain, selector))
}

fn dkim_err(e: keyring::Error, domain: &str, selector: &str) -> Error {
    match e {
        keyring::Error::NoEntry => Error::NoDkimKey(dkim_account(domain, selector)),
        other => map_err(other, domain, selector),
    }
}

/// Stores a DKIM private key (PEM text) in the OS keychain, replacing any.
pub fn store_dkim_key(domain: &str, selector: &str, pem: &Secret) -> Result<(), Error> {
    dkim_entry(domain, selector)?
        .set_password(pem.expose())
        .map_err(|e| dkim_err(e, domain, selector))
}

/// Reads a DKIM private key (PEM text) from the OS keychain.
pub fn dkim_key(domain: &str, selector: &str) -> Result<Secret, Error> {
    dkim_entry(domain, selector)?
        .get_password()
        .map(Secret::new)
        .map_err(|e| dkim_err(e, domain, selector))
}

/// [`store_dkim_key`] and a `credential_stored` log entry (the key's DNS name only).
pub fn save_dkim_key(
    store: &Store,
    by: &Session,
    domain: &str,
    selector: &str,
    pem: &Secret,
    now: OffsetDateTime,
) -> Result<(), Error> {
    require_admin(store, by, now)?;
    store_dkim_key(domain, selector, pem)?;
    audit::append(
        store,
        now,
        by.operator(),
        Kind::CredentialStored,
        None,
        json!({"dkim_key": dkim_account(domain, selector), "keychain_service": DKIM_KEYCHAIN_SERVICE}),
    )?;
    Ok(())
}

/// Credentials are an admin's business: checked here, against the operator's sealed
/// record in the store (not the session alone), so no front end can skip it.
fn require_admin(store: &Store, by: &Session, now: OffsetDateTime) -> Result<(), Error> {
    match operators::authorize(store, by, Role::Admin, now) {
        Ok(_) => Ok(()),
        Err(operators::Error::MissingRole { .. }) | Err(operators::Error::Disabled(_)) => {
            Err(Error::NotAdmin(by.operator().to_owned()))
        }
        Err(e) => Err(Error::Access(Box::new(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        assert_eq!(s.expose(), "hunter2");
    }
}
