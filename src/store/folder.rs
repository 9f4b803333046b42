//! The data folder around the database: its file modes, its binding to a key in the OS
//! keychain (creating the key and sealing an unkeyed database once), and the head file
//! that anchors the operation log outside the database.

use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};
use serde_json::json;
use time::OffsetDateTime;

use super::integrity::{self, InstallKey};
use super::{Error, Store, DB_FILE, HEAD_FILE};
use crate::audit::{self, Kind};
use crate::secrets::install::{KeySource, DATA_FOLDER_SERVICE, INSTALL_KEY_SERVICE};
use crate::secrets::Secret;

/// The name the log shows for what the store does by itself.
const SYSTEM: &str = "system";

/// Creates the folder (0700) and the database file (0600) if needed, and tightens them
/// (and the WAL, shared-memory and head files) when another user could read them.
/// Returns what was tightened, for the log.
pub(super) fn prepare(dir: &Path) -> Result<Vec<String>, Error> {
    let create_err = |source| Error::CreateDir {
        path: dir.to_owned(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        let perm_err = |path: &Path, e: std::io::Error| Error::Permissions {
            path: path.to_owned(),
            why: e.to_string(),
        };
        let mut tightened = Vec::new();
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(create_err)?;
        }
        let mode = std::fs::metadata(dir)
            .map_err(create_err)?
            .permissions()
            .mode();
        if mode & 0o1000 != 0 {
            // A sticky folder (such as /tmp) is shared by design: making it private
            // would break other users, and leaving it open would expose the database.
            return Err(Error::Permissions {
                path: dir.to_owned(),
                why: "it is a shared folder (sticky bit); choose a folder of its own".into(),
            });
        }
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| perm_err(dir, e))?;
            tightened.push(format!("folder {:o} -> 700", mode & 0o777));
        }
        let db = dir.join(DB_FILE);
        if !db.exists() {
            // Created here with 0600 before SQLite opens it; SQLite gives its WAL and
            // shared-memory files the database file's mode.
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&db)
                .map_err(|e| Error::Permissions {
                    path: db.clone(),
                    why: e.to_string(),
                })?;
        }
        let wal = format!("{DB_FILE}-wal");
        let shm = format!("{DB_FILE}-shm");
        for name in [DB_FILE, wal.as_str(), shm.as_str(), HEAD_FILE] {
            let p = dir.join(name);
            if let Ok(m) = std::fs::metadata(&p) {
                let mode = m.permissions().mode();
                if mode & 0o077 != 0 {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| perm_err(&p, e))?;
                    tightened.push(format!("{name} {:o} -> 600", mode & 0o777));
                }
            }
        }
        Ok(tightened)
    }
    #[cfg(not(unix))]
    {
        // Elsewhere the per-user profile folder's ACL is what keeps other users out.
        std::fs::create_dir_all(dir).map_err(create_err)?;
        Ok(Vec::new())
    }
}

/// What opening must still do once the store exists.
pub(super) enum Todo {
    Nothing,
    /// A keyed database seen in this folder for the first time (moved or restored):
    /// record the folder in the keychain.
    Register {
        folder: String,
    },
    /// A new database, or one from before keying: seal it under the new key.
    Rekey {
        folder: String,
        replaced: Option<String>,
    },
}

pub(super) struct Bind {
    pub key: InstallKey,
    pub install_id: String,
    pub todo: Todo,
}

fn folder_account(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_owned())
        .to_string_lossy()
        .into_owned()
}

fn is_fresh(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM operators) AND NOT EXISTS (SELECT 1 FROM audit_log)
           AND NOT EXISTS (SELECT 1 FROM submissions) AND NOT EXISTS (SELECT 1 FROM approvals)
           AND NOT EXISTS (SELECT 1 FROM settings)",
        [],
        |r| r.get(0),
    )
}

/// Finds (or makes) the key of the database on `conn` and decides what opening must do.
///
/// A keyed database opens only with its key, and only in a folder the keychain does not
/// know as another install. An unkeyed one is keyed under a *new* install id and key,
/// but only when this folder is unknown to the keychain or the database is empty: so
/// clearing `keyed_at` in place, or resetting the schema, cannot get forged rows sealed.
pub(super) fn bind(conn: &Connection, dir: &Path, keys: &dyn KeySource) -> Result<Bind, Error> {
    let row: Option<(String, Option<String>)> = conn
        .query_row("SELECT id, keyed_at FROM install WHERE one = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((id, keyed_at)) = row else {
        return Err(Error::Tampered("the install record".into()));
    };
    let folder = folder_account(dir);
    let registered = keys
        .load(DATA_FOLDER_SERVICE, &folder)
        .map_err(|e| Error::Keychain(Box::new(e)))?
        .map(|s| s.expose().to_owned());
    if keyed_at.is_some() {
        let key = keys
            .load(INSTALL_KEY_SERVICE, &id)
            .map_err(|e| Error::Keychain(Box::new(e)))?
            .and_then(|s| InstallKey::from_text(s.expose()))
            .ok_or_else(|| Error::NoKey {
                install: id.clone(),
            })?;
        if !integrity::is_sealed(conn, &key, "install", 1)? {
            return Err(Error::Tampered("the install record".into()));
        }
        let todo = match registered {
            Some(known) if known != id => {
                return Err(Error::Replaced { known, found: id });
            }
            Some(_) => Todo::Nothing,
            None => Todo::Register { folder },
        };
        return Ok(Bind {
            key,
            install_id: id,
            todo,
        });
    }
    if let Some(known) = &registered {
        if !is_fresh(conn)? {
            return Err(Error::Replaced {
                known: known.clone(),
                found: id,
            });
        }
    }
    let install_id = uuid::Uuid::new_v4().simple().to_string();
    let key = InstallKey::generate();
    keys.save(
        INSTALL_KEY_SERVICE,
        &install_id,
        &Secret::new(key.to_text()),
    )
    .map_err(|e| Error::Keychain(Box::new(e)))?;
    Ok(Bind {
        key,
        install_id,
        todo: Todo::Rekey {
            folder,
            replaced: registered,
        },
    })
}

/// Seals an unkeyed database or records a moved one, and logs what opening changed.
pub(super) fn finish(
    store: &Store,
    keys: &dyn KeySource,
    todo: Todo,
    tightened: &[String],
) -> Result<(), Error> {
    // Opening is where the store meets the outside world; its own entries are stamped
    // with the clock here rather than by a caller.
    let now = OffsetDateTime::now_utc();
    let log_err = |e: audit::Error| match e {
        audit::Error::Sql(s) => Error::Sql(s),
        other => Error::Tampered(other.to_string()),
    };
    // A new (or newly keyed) folder records what was tightened in its keying entry.
    let mut tightened_logged = false;
    match todo {
        Todo::Nothing => {}
        Todo::Register { folder } => {
            keys.save(
                DATA_FOLDER_SERVICE,
                &folder,
                &Secret::new(store.install_id()),
            )
            .map_err(|e| Error::Keychain(Box::new(e)))?;
            audit::append(
                store,
                now,
                SYSTEM,
                Kind::DataFolder,
                None,
                json!({"event": "registered", "folder": folder}),
            )
            .map_err(log_err)?;
        }
        Todo::Rekey { folder, replaced } => {
            let at = audit::format_time(now).map_err(log_err)?;
            store.transaction(|tx| {
                let (legacy, last): (i64, i64) = tx.query_row(
                    "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM audit_log",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                tx.execute(
                    "UPDATE install SET id = ?1, keyed_at = ?2, keyed_from = ?3 WHERE one = 1",
                    rusqlite::params![store.install_id(), at, last + 1],
                )?;
                tx.seal("install", 1)?;
                let mut sealed = serde_json::Map::new();
                for t in ["operators", "settings", "submissions", "approvals"] {
                    let n = integrity::seal_all(tx, tx.key(), t)?;
                    sealed.insert(t.to_owned(), json!(n));
                }
                audit::append_in(
                    tx,
                    now,
                    SYSTEM,
                    Kind::LogKeyed,
                    None,
                    &json!({"install": store.install_id(), "unkeyed_entries": legacy,
                            "sealed_rows": sealed, "replaced_install": replaced,
                            "permissions_tightened": tightened}),
                )
                .map_err(log_err)?;
                Ok::<_, Error>(())
            })?;
            keys.save(
                DATA_FOLDER_SERVICE,
                &folder,
                &Secret::new(store.install_id()),
            )
            .map_err(|e| Error::Keychain(Box::new(e)))?;
            tightened_logged = true;
        }
    }
    if !tightened.is_empty() && !tightened_logged {
        audit::append(
            store,
            now,
            SYSTEM,
            Kind::DataFolder,
            None,
            json!({"event": "permissions_tightened", "changed": tightened}),
        )
        .map_err(log_err)?;
    }
    Ok(())
}

const HEAD_TAG: &str = "mergeguard-audit-head-v1";

fn head_mac(key: &InstallKey, install: &str, id: i64, hash: &str) -> String {
    key.mac(
        HEAD_TAG,
        &[
            install.as_bytes(),
            id.to_string().as_bytes(),
            hash.as_bytes(),
        ],
    )
}

/// Writes the head file (`id hash mac`, MAC'd with the install key) by write-and-rename.
pub(super) fn write_head(store: &Store, id: i64, hash: &str) -> std::io::Result<()> {
    let path = store.head_path();
    let tmp: PathBuf = store.dir().join(format!("{HEAD_FILE}.tmp"));
    let line = format!(
        "{HEAD_TAG} {} {id} {hash} {}\n",
        store.install_id(),
        head_mac(store.key(), store.install_id(), id, hash)
    );
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(line.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path)
}

/// What the head file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// No head file.
    Missing,
    /// A head file whose MAC does not verify (or that is not one).
    Forged,
    /// The newest entry id and hash when the file was written.
    At { id: i64, hash: String },
}

/// Reads and checks the head file.
pub fn read_head(store: &Store) -> Head {
    let Ok(text) = std::fs::read_to_string(store.head_path()) else {
        return Head::Missing;
    };
    let parts: Vec<&str> = text.split_whitespace().collect();
    match parts.as_slice() {
        [tag, install, id, hash, mac] if *tag == HEAD_TAG && *install == store.install_id() => {
            match id.parse::<i64>() {
                Ok(id) if head_mac(store.key(), install, id, hash) == *mac => Head::At {
                    id,
                    hash: (*hash).to_owned(),
                },
                _ => Head::Forged,
            }
        }
        _ => Head::Forged,
    }
}
