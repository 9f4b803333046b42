//! The local SQLite store: opening, WAL, embedded forward-only migrations, and the split
//! between the one writer connection and a read-only connection.
//!
//! Architecture invariant: no secret is ever written here (SMTP passwords live in the OS
//! keychain, PINs only as Argon2id hashes). Other modules reach the writer through
//! `pub(crate)` functions only, so code outside the core cannot run arbitrary SQL against
//! the operation log.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::ErrorCode;

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
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::CreateDir { .. } | Error::NoDataDir => ErrorCode::Io,
            _ => ErrorCode::Database,
        }
    }
}

/// The opened store: one writer connection and one read-only connection on the same
/// WAL database, so readers (the log viewer) never block the writer and cannot write.
pub struct Store {
    dir: PathBuf,
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
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
    /// Opens (creating if needed) the store in `data_dir` and brings its schema up to
    /// date. Safe to call on every start: applied migrations are skipped.
    pub fn open(data_dir: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(data_dir).map_err(|source| Error::CreateDir {
            path: data_dir.to_owned(),
            source,
        })?;
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
        Ok(Store {
            dir: data_dir.to_owned(),
            path,
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    /// The data directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
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

    /// Runs `f` in one write transaction; commits when it returns `Ok`.
    pub(crate) fn transaction<T, E>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let mut conn = self.write();
        // IMMEDIATE takes the write lock up front, so two appends cannot both read the
        // same chain head.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
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

    /// A stored setting (see `settings` table).
    pub(crate) fn setting(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(self
            .read()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// A setting stored as whole seconds, or `default` when unset or unreadable.
    pub(crate) fn setting_duration(
        &self,
        key: &str,
        default: time::Duration,
    ) -> rusqlite::Result<time::Duration> {
        let v = self.setting(key).map_err(|e| match e {
            Error::Sql(s) => s,
            other => rusqlite::Error::InvalidParameterName(other.to_string()),
        })?;
        Ok(v.and_then(|s| s.parse::<i64>().ok())
            .map(time::Duration::seconds)
            .unwrap_or(default))
    }
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
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.applied_migrations().unwrap(), [1, 2, 3, 4, 5]);
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
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.applied_migrations().unwrap(), [1, 2, 3, 4, 5]);
        assert!(table_exists(&store.read(), "deliveries"));
        assert_eq!(store.setting("k").unwrap().as_deref(), Some("v"));
        drop(store);
        // Opening again applies nothing twice.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.applied_migrations().unwrap(), [1, 2, 3, 4, 5]);
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
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.applied_migrations().unwrap(), [1, 2, 3, 4, 5]);
        let n: i64 = store
            .read()
            .query_row("SELECT COUNT(*) FROM deliveries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        Connection::open(dir.path().join(DB_FILE))
            .unwrap()
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?1, 'future')",
                [SCHEMA_VERSION + 1],
            )
            .unwrap();
        assert!(matches!(Store::open(dir.path()), Err(Error::TooNew { .. })));
    }

    #[test]
    fn reader_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = store
            .read()
            .execute("INSERT INTO settings VALUES ('a','b')", []);
        assert!(err.is_err(), "the read-only connection accepted a write");
    }
}
