//! Where the per-install secret key lives: the OS keychain in every real run, or an
//! in-memory map that unit tests hand to `Store::open_with`.
//!
//! Two kinds of keychain items are kept, both under the signed-in OS user:
//! - service [`INSTALL_KEY_SERVICE`], account = the data folder's install id: the 32-byte
//!   key (base64) that MACs the operation log and every security row;
//! - service [`DATA_FOLDER_SERVICE`], account = the data folder's canonical path: the
//!   install id that folder holds, so a database reset or swapped in place is noticed.
//!
//! Architecture invariant: the key is read only through a [`KeySource`]; nothing here
//! writes it to a file, a log or an error message.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{map_keyring_err, Error, Secret};

/// Keychain service of the per-install key.
pub const INSTALL_KEY_SERVICE: &str = "MergeGuard install key";
/// Keychain service recording which install a data folder holds.
pub const DATA_FOLDER_SERVICE: &str = "MergeGuard data folder";

/// A store of small secrets addressed by (service, account).
pub trait KeySource: Send + Sync {
    /// The value, or `None` when nothing is stored there.
    fn load(&self, service: &str, account: &str) -> Result<Option<Secret>, Error>;
    /// Stores `value`, replacing any.
    fn save(&self, service: &str, account: &str, value: &Secret) -> Result<(), Error>;
}

/// The OS keychain (Secret Service, macOS Keychain, Windows Credential Manager).
#[derive(Debug, Clone, Copy, Default)]
pub struct Keychain;

impl Keychain {
    fn entry(service: &str, account: &str) -> Result<keyring::Entry, Error> {
        if let Err(e) = keyring::Entry::store_status() {
            return Err(Error::Unavailable(e.to_string()));
        }
        keyring::Entry::new(service, account).map_err(|e| map_keyring_err(e, service, account))
    }
}

impl KeySource for Keychain {
    fn load(&self, service: &str, account: &str) -> Result<Option<Secret>, Error> {
        match Keychain::entry(service, account)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring_err(e, service, account)),
        }
    }

    fn save(&self, service: &str, account: &str, value: &Secret) -> Result<(), Error> {
        Keychain::entry(service, account)?
            .set_password(value.expose())
            .map_err(|e| map_keyring_err(e, service, account))
    }
}

/// Keys held in this process only. For tests without a keychain: a folder made with one
/// `MemoryKeys` cannot be opened by any other (its key is gone with the value), so this
/// gives no way around the keychain for a real data folder.
#[derive(Debug, Default)]
pub struct MemoryKeys(Mutex<HashMap<(String, String), Secret>>);

impl MemoryKeys {
    pub fn new() -> MemoryKeys {
        MemoryKeys::default()
    }
}

impl KeySource for MemoryKeys {
    fn load(&self, service: &str, account: &str) -> Result<Option<Secret>, Error> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.get(&(service.to_owned(), account.to_owned())).cloned())
    }

    fn save(&self, service: &str, account: &str, value: &Secret) -> Result<(), Error> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((service.to_owned(), account.to_owned()), value.clone());
        Ok(())
    }
}
