//! The local SQLite store: opening, WAL, embedded forward-only migrations, and the split
//! between the one writer connection and a read-only connection.
//!
//! Opening also binds the folder to its per-install key in the OS keychain (see
//! [`integrity`]): a new or older unkeyed database is sealed under a new key once, with a
//! `log_keyed` entry; a keyed one opens only with its key. The folder is kept 0700 and
//! its files 0600.
//!
//! Architecture invariant: no secret is ever written here (SMTP passwords live in the OS
//! keychain, PINs only as Argon2id hashes). Other modules reach the writer through
//! `pub(crate)` functions only, so code outside the core cannot run arbitrary SQL against
//! the operation log.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::ErrorCode;
use crate::secrets::install::{KeySource, Keychain};

pub mod folder;
pub mod integrity;

pub use integrity::{InstallKey, RowBreak};

/// The database file name inside the data directory.
pub const DB_FILE: &str = "mergeguard.sqlite3";

/// Environment variable that overrides the data directory (tests, portable installs).
pub const DATA_DIR_ENV: &str = "MERGEGUARD_DATA_DIR";

/// Embedded migrations, applied in this order and recorded in `schema_migrations`.
/// Forward-only: a shipped migration is never edited; add the next number instead.
const MIGRATIONS: &[(u32, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (2, "send", include_str!("migrations/0002_send.sql")),
    (
        3,
        "suppression",
        include_str!("migrations/0003_suppression.sql"),
    ),
    (
        4,
        "deliveries_by_address",
        include_str!("migrations/0004_deliveries_by_address.sql"),
    ),
    (
        5,
        "relay_profiles",
        include_str!("migrations/0005_relay_profiles.sql"),
    ),
    (
        6,
        "integrity",
        include_str!("migrations/0006_integrity.sql"),
    ),
    (
        7,
        "consent_and_outbound_ips",
        include_str!("migrations/0007_consent_and_outbound_ips.sql"),
    ),
    (8, "mailbox", include_str!("migrations/0008_mailbox.sql")),
];

/// The schema version this build writes (the last of [`MIGRATIONS`]).
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot create the data folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the database update {version} ({name}) failed: {source}")]
    Migrate {
        version: u32,
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error(
        "the database was written by a newer MergeGuard (schema {found}, this one knows {known})"
    )]
    TooNew { found: u32, known: u32 },
    #[error("no data folder: set {DATA_DIR_ENV} or pass --data-dir")]
    NoDataDir,
    #[error("cannot protect the data folder {path}: {why}")]
    Permissions { path: PathBuf, why: String },
    #[error("the data folder's key could not be read from or stored in the system keychain: {0}")]
    Keychain(Box<crate::secrets::Error>),
    #[error("the system keychain holds no key for this data folder (install {install}); it was copied from another computer or user, or the keychain was reset. Nothing can be trusted in it without that key")]
    NoKey { install: String },
    #[error("this data folder's database was reset or replaced outside MergeGuard (the keychain knows this folder as install {known}, the database says {found}); open the original database, or move this one to a folder of its own")]
    Replaced { known: String, found: String },
    #[error("{0} was changed outside MergeGuard (its seal does not match); the action was refused. Run `mergeguard audit verify` and ask an admin")]
    Tampered(String),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::CreateDir { .. } | Error::NoDataDir | Error::Permissions { .. } => ErrorCode::Io,
            Error::Keychain(_) | Error::NoKey { .. } => ErrorCode::Keychain,
            Error::Replaced { .. } | Error::Tampered(_) => ErrorCode::Tampered,
            _ => ErrorCode::Database,
        }
    }
}

/// The name of the file that anchors the operation log's head outside the database.
pub const HEAD_FILE: &str = "audit-head";

/// The opened store: one writer connection and one read-only connection on the same
/// WAL database, so readers (the log viewer) never block the writer and cannot write.
pub struct Store {
    dir: PathBuf,
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    key: InstallKey,
    install_id: String,
}

/// A write transaction of the store: the SQLite transaction plus the install key, so
/// writers can seal rows and chain log entries. Derefs to the SQLite transaction.
pub(crate) struct Tx<'c> {
    tx: rusqlite::Transaction<'c>,
    key: &'c InstallKey,
    /// The log head after this transaction's appends, written to [`HEAD_FILE`] on commit.
    head: RefCell<Option<(i64, String)>>,
}

impl<'c> std::ops::Deref for Tx<'c> {
    type Target = rusqlite::Transaction<'c>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl Tx<'_> {
    pub(crate) fn key(&self) -> &InstallKey {
        self.key
    }

    /// Seals the row `rowid` of the sealed table `table` as it now is.
    pub(crate) fn seal(&self, table: &str, rowid: i64) -> rusqlite::Result<()> {
        integrity::seal(&self.tx, self.key, table, rowid)
    }

    pub(crate) fn set_head(&self, id: i64, hash: &str) {
        *self.head.borrow_mut() = Some((id, hash.to_owned()));
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// The data directory: `explicit` (the `--data-dir` flag) if given, else
/// `$MERGEGUARD_DATA_DIR`, else the OS app-data folder (`$XDG_DATA_HOME/mergeguard` on
/// Linux, `~/Library/Application Support/mergeguard` on macOS, `%APPDATA%\mergeguard`
/// on Windows).
pub fn data_dir(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    if let Some(p) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    dirs::data_dir()
        .map(|d| d.join("mergeguard"))
        .ok_or(Error::NoDataDir)
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`, brings its schema up to date
    /// and binds it to its key in the OS keychain. Safe to call on every start: applied
    /// migrations are skipped. A missing or locked keychain is an error: nothing is
    /// opened without the key.
    pub fn open(data_dir: &Path) -> Result<Store, Error> {
        Store::open_with(data_dir, &Keychain)
    }

    /// [`Store::open`] with the key kept in `keys`. Real runs pass the OS keychain
    /// (that is what [`Store::open`] does); unit tests pass a
    /// [`crate::secrets::install::MemoryKeys`].
    pub fn open_with(data_dir: &Path, keys: &dyn KeySource) -> Result<Store, Error> {
        let tightened = folder::prepare(data_dir)?;
        let path = data_dir.join(DB_FILE);
        let open_err = |source| Error::Open {
            path: path.clone(),
            source,
        };
        let writer = Connection::open(&path).map_err(open_err)?;
        configure_writer(&writer).map_err(open_err)?;
        migrate(&writer)?;
        let reader = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        reader
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        let bind = folder::bind(&writer, data_dir, keys)?;
        let store = Store {
            dir: data_dir.to_owned(),
            path,
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            key: bind.key,
            install_id: bind.install_id,
        };
        folder::finish(&store, keys, bind.todo, &tightened)?;
        Ok(store)
    }

    /// The data directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This data folder's install id (names its key in the keychain).
    pub fn install_id(&self) -> &str {
        &self.install_id
    }

    /// The anchor file of the operation log's head.
    pub fn head_path(&self) -> PathBuf {
        self.dir.join(HEAD_FILE)
    }

    pub(crate) fn key(&self) -> &InstallKey {
        &self.key
    }

    /// The schema versions applied, in order.
    pub fn applied_migrations(&self) -> Result<Vec<u32>, Error> {
        let conn = self.read();
        let mut stmt = conn.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<u32>, _>>()?)
    }

    /// The journal mode of the writer connection (`"wal"` once opened).
    pub fn journal_mode(&self) -> Result<String, Error> {
        Ok(self
            .write()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))?)
    }

    /// Runs `f` in one write transaction; commits when it returns `Ok`. When `f`
    /// appended to the operation log, the new head is written to [`HEAD_FILE`] after the
    /// commit, still under this process's writer lock.
    pub(crate) fn transaction<T, E>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let mut conn = self.write();
        // IMMEDIATE takes the write lock up front, so two appends cannot both read the
        // same chain head.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let tx = Tx {
            tx,
            key: &self.key,
            head: RefCell::new(None),
        };
        let out = f(&tx)?;
        let head = tx.head.take();
        tx.tx.commit()?;
        if let Some((id, hash)) = head {
            // The entries are committed; a head file that could not be written lags
            // behind, which verify accepts (the entries after it are keyed too) and the
            // next append repairs. Only a head *ahead* of the log means entries were cut.
            if let Err(e) = folder::write_head(self, id, &hash) {
                tracing::error!(error = %e, "could not write the operation log head file");
            }
        }
        Ok(out)
    }

    pub(crate) fn write(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable (SQLite rolls back
        // an unfinished transaction), so a poisoned lock is recovered rather than spread.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn read(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A stored setting (see `settings` table), refused unless its seal verifies. A
    /// setting the log says an admin set, but whose row is gone, is refused too (the
    /// default would silently replace the admin's value).
    pub(crate) fn setting(&self, key: &str) -> Result<Option<String>, Error> {
        let conn = self.read();
        let row: Option<(i64, String)> = conn
            .query_row(
                "SELECT rowid, value FROM settings WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((rowid, value)) => {
                if integrity::is_sealed(&conn, &self.key, "settings", rowid)? {
                    Ok(Some(value))
                } else {
                    Err(Error::Tampered(format!("the setting {key}")))
                }
            }
            None => {
                let was_set: bool = conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM audit_log WHERE kind = 'settings_changed'
                       AND json_valid(details) AND json_extract(details, '$.setting') = ?1)",
                    [key],
                    |r| r.get(0),
                )?;
                if was_set {
                    Err(Error::Tampered(format!(
                        "the setting {key} (its row was removed)"
                    )))
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// A setting stored as whole seconds, or `default` when unset.
    pub(crate) fn setting_duration(
        &self,
        key: &str,
        default: time::Duration,
    ) -> Result<time::Duration, Error> {
        let v = self.setting(key)?;
        Ok(v.and_then(|s| s.parse::<i64>().ok())
            .map(time::Duration::seconds)
            .unwrap_or(default))
    }

    /// Every sealed row that does not verify (for `audit verify`).
    pub fn check_rows(&self) -> Result<Vec<RowBreak>, Error> {
        Ok(integrity::check_rows(&self.read(), &self.key)?)
    }
}

/// Stores a setting and seals it, inside the caller's transaction.
pub(crate) fn put_setting(tx: &Tx<'_>, key: &str, value: &str) -> rusqlite::Result<()> {
    let rowid: i64 = tx.query_row(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value RETURNING rowid",
        rusqlite::params![key, value],
        |r| r.get(0),
    )?;
    tx.seal("settings", rowid)
}

fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // WAL: readers do not block the writer, and a crash mid-write leaves the last
    // committed state. journal_mode returns a row, so query it rather than execute.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    debug_assert_eq!(mode.to_ascii_lowercase(), "wal");
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
    Ok(())
}

/// Brings any connection's schema up to [`SCHEMA_VERSION`] with the store's own
/// migration list and ledger, so a database prepared this way (tests, benches, the
/// send engine on a bare connection) is the same as one made by [`Store::open`] and
/// either can open it later. Idempotent. Returns the version now applied.
pub fn migrate_connection(conn: &Connection) -> Result<u32, Error> {
    migrate(conn)
}

fn migrate(conn: &Connection) -> Result<u32, Error> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
         )",
    )?;
    let current: u32 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    if current > SCHEMA_VERSION {
        return Err(Error::TooNew {
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let step = || -> rusqlite::Result<()> {
            // IMMEDIATE: two processes opening the same file cannot both apply a step.
            let tx = rusqlite::Transaction::new_unchecked(
                conn,
                rusqlite::TransactionBehavior::Immediate,
            )?;
            // Re-read inside the lock: another process may have applied it meanwhile.
            let done: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
                [version],
                |r| r.get(0),
            )?;
            if !done {
                tx.execute_batch(sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
                    rusqlite::params![version, name],
                )?;
            }
            tx.commit()
        };
        step().map_err(|source| Error::Migrate {
            version,
            name,
            source,
        })?;
    }
    Ok(SCHEMA_VERSION.max(current))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::install::{MemoryKeys, DATA_FOLDER_SERVICE, INSTALL_KEY_SERVICE};

    fn open(dir: &Path, keys: &MemoryKeys) -> Result<Store, Error> {
        Store::open_with(dir, keys)
    }

    #[test]
    fn migrations_are_numbered_in_order() {
        // 1, 2, 3, … with no gap: a store records the versions it applied, so a number
        // skipped now and filled later would never run on an upgraded store.
        for (i, (version, name, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                *version as usize,
                i + 1,
                "migration {name} is out of sequence"
            );
        }
        assert_eq!(MIGRATIONS[0].0, 1);
    }

    fn table_exists(conn: &Connection, name: &str) -> bool {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [name],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn fresh_store_has_the_send_tables() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &MemoryKeys::new()).unwrap();
        assert_eq!(
            store.applied_migrations().unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        let conn = store.read();
        assert!(table_exists(&conn, "deliveries"));
        assert!(table_exists(&conn, "send_quota"));
    }

    #[test]
    fn store_at_version_1_upgrades_keeping_its_data() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A database exactly as the first release left it: only 0001 applied.
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                     applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))",
            )
            .unwrap();
            conn.execute_batch(MIGRATIONS[0].2).unwrap();
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (1, 'init')",
                [],
            )
            .unwrap();
            conn.execute("INSERT INTO settings VALUES ('k', 'v')", [])
                .unwrap();
            assert!(!table_exists(&conn, "deliveries"));
        }
        let keys = MemoryKeys::new();
        let store = open(dir.path(), &keys).unwrap();
        assert_eq!(
            store.applied_migrations().unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert!(table_exists(&store.read(), "deliveries"));
        // The old row was sealed by the one-time re-keying, so it is trusted.
        assert_eq!(store.setting("k").unwrap().as_deref(), Some("v"));
        drop(store);
        // Opening again applies nothing twice.
        let store = open(dir.path(), &keys).unwrap();
        assert_eq!(
            store.applied_migrations().unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
    }

    #[test]
    fn send_tables_made_before_0002_existed_upgrade() {
        // Before 0002, the send engine created its tables itself on a store at version 1.
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                     applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))",
            )
            .unwrap();
            conn.execute_batch(MIGRATIONS[0].2).unwrap();
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (1, 'init')",
                [],
            )
            .unwrap();
            conn.execute_batch(MIGRATIONS[1].2).unwrap();
            conn.execute(
                "INSERT INTO deliveries (campaign_id, row, email, updated_at) VALUES ('c', 1, 'a@x.test', 0)",
                [],
            )
            .unwrap();
        }
        let store = open(dir.path(), &MemoryKeys::new()).unwrap();
        assert_eq!(
            store.applied_migrations().unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        let n: i64 = store
            .read()
            .query_row("SELECT COUNT(*) FROM deliveries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeys::new();
        drop(open(dir.path(), &keys).unwrap());
        Connection::open(dir.path().join(DB_FILE))
            .unwrap()
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?1, 'future')",
                [SCHEMA_VERSION + 1],
            )
            .unwrap();
        assert!(matches!(open(dir.path(), &keys), Err(Error::TooNew { .. })));
    }

    #[test]
    fn reader_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &MemoryKeys::new()).unwrap();
        let err = store
            .read()
            .execute("INSERT INTO settings VALUES ('a','b')", []);
        assert!(err.is_err(), "the read-only connection accepted a write");
    }

    fn entries(store: &Store, kind: &str) -> Vec<String> {
        let conn = store.read();
        let mut stmt = conn
            .prepare("SELECT details FROM audit_log WHERE kind = ?1 ORDER BY id")
            .unwrap();
        let rows = stmt.query_map([kind], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn a_new_folder_is_keyed_once_and_logged() {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeys::new();
        let store = open(dir.path(), &keys).unwrap();
        let id = store.install_id().to_owned();
        assert!(keys.load(INSTALL_KEY_SERVICE, &id).unwrap().is_some());
        let folder = std::fs::canonicalize(dir.path()).unwrap();
        let known = keys
            .load(DATA_FOLDER_SERVICE, &folder.to_string_lossy())
            .unwrap()
            .unwrap();
        assert_eq!(known.expose(), id);
        assert_eq!(entries(&store, "log_keyed").len(), 1);
        drop(store);
        let store = open(dir.path(), &keys).unwrap();
        assert_eq!(store.install_id(), id, "reopening keeps the install");
        assert_eq!(entries(&store, "log_keyed").len(), 1, "keyed only once");
        assert!(crate::audit::verify(&store).unwrap().is_intact());
    }

    #[test]
    fn a_keyed_folder_without_its_key_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), &MemoryKeys::new()).unwrap());
        // Another keychain: a copied folder on another computer or user.
        let err = open(dir.path(), &MemoryKeys::new()).unwrap_err();
        assert!(matches!(err, Error::NoKey { .. }), "{err}");
        assert_eq!(err.code(), ErrorCode::Keychain);
    }

    #[test]
    fn clearing_the_keyed_mark_cannot_get_forged_rows_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeys::new();
        drop(open(dir.path(), &keys).unwrap());
        {
            let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
            c.execute(
                "INSERT INTO settings (key, value) VALUES ('approval_validity_secs', '9999999')",
                [],
            )
            .unwrap();
            c.execute("UPDATE install SET keyed_at = NULL", []).unwrap();
        }
        let err = open(dir.path(), &keys).unwrap_err();
        assert!(matches!(err, Error::Replaced { .. }), "{err}");
        // And with the schema rolled back so the migration makes a new install record:
        {
            let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
            c.execute_batch(
                "DROP TABLE install; DELETE FROM schema_migrations WHERE version >= 6;
                 DROP TABLE consent_records; ALTER TABLE relay_profiles DROP COLUMN outbound_ips;
                 DROP TABLE dmarc_records; DROP TABLE dmarc_reports; DROP TABLE mailbox_sync;
                 DROP TABLE soft_bounces; DROP INDEX deliveries_by_message_id;
                 ALTER TABLE deliveries DROP COLUMN bounce_status;
                 ALTER TABLE deliveries DROP COLUMN bounced_at;
                 ALTER TABLE relay_profiles DROP COLUMN imap_host;
                 ALTER TABLE relay_profiles DROP COLUMN imap_port;
                 ALTER TABLE relay_profiles DROP COLUMN imap_security;
                 ALTER TABLE relay_profiles DROP COLUMN imap_folder;
                 ALTER TABLE relay_profiles DROP COLUMN oauth_provider;
                 ALTER TABLE relay_profiles DROP COLUMN oauth_client_id;
                 ALTER TABLE relay_profiles DROP COLUMN oauth_tenant;
                 ALTER TABLE relay_profiles DROP COLUMN oauth_authority;
                 ALTER TABLE relay_profiles DROP COLUMN oauth_scopes;
                 ALTER TABLE operators DROP COLUMN mac; ALTER TABLE operators DROP COLUMN pin_peppered;
                 ALTER TABLE settings DROP COLUMN mac; ALTER TABLE submissions DROP COLUMN mac;
                 ALTER TABLE approvals DROP COLUMN mac;",
            )
            .unwrap();
        }
        let err = open(dir.path(), &keys).unwrap_err();
        assert!(matches!(err, Error::Replaced { .. }), "{err}");
        assert_eq!(err.code(), ErrorCode::Tampered);
    }

    #[test]
    fn an_unsealed_setting_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &MemoryKeys::new()).unwrap();
        Connection::open(store.path())
            .unwrap()
            .execute("INSERT INTO settings (key, value) VALUES ('x', '1')", [])
            .unwrap();
        assert!(matches!(store.setting("x"), Err(Error::Tampered(_))));
        let rows = store.check_rows().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].table.as_str(), rows[0].reason.as_str()),
            ("settings", "unsealed")
        );
    }

    #[cfg(unix)]
    #[test]
    fn folder_is_0700_and_files_0600_and_loose_modes_are_tightened_and_logged() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        let keys = MemoryKeys::new();
        let store = open(&dir, &keys).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(&dir.join(format!("{DB_FILE}-wal"))), 0o600);
        assert_eq!(mode(&store.head_path()), 0o600);
        assert!(entries(&store, "data_folder").is_empty());
        drop(store);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.join(DB_FILE), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let store = open(&dir, &keys).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(store.path()), 0o600);
        let logged = entries(&store, "data_folder");
        assert_eq!(logged.len(), 1);
        assert!(logged[0].contains("permissions_tightened"), "{}", logged[0]);
        assert!(logged[0].contains("folder 755 -> 700"), "{}", logged[0]);
    }

    #[cfg(unix)]
    #[test]
    fn a_shared_sticky_folder_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let err = open(parent.path(), &MemoryKeys::new()).unwrap_err();
        assert!(matches!(err, Error::Permissions { .. }), "{err}");
    }
}
