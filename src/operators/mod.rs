//! Operator accounts and sign-in: roles, Argon2id PIN hashes, lockout with back-off,
//! and the idle-lock session.
//!
//! Lockout rule: after [`LOCKOUT_THRESHOLD`] (5) consecutive wrong PINs the operator is
//! locked for 1 minute; each further wrong PIN after a lock ends doubles it (2, 4, 8, …
//! minutes), capped at 1 hour. While locked, attempts are refused without checking the PIN
//! and do not extend the lock. A correct PIN resets the count. Every attempt is logged;
//! the PIN never is. Time is always the `now` parameter.

use std::collections::BTreeSet;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use rusqlite::OptionalExtension;
use serde::Serialize;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::audit::{self, Kind};
use crate::error::ErrorCode;
use crate::secrets::Secret;
use crate::store::Store;

/// Consecutive wrong PINs that lock an operator.
pub const LOCKOUT_THRESHOLD: u32 = 5;
/// The first lock's length.
pub const FIRST_LOCK: Duration = Duration::minutes(1);
/// The longest lock.
pub const MAX_LOCK: Duration = Duration::hours(1);

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Prepares and sends campaigns.
    Sender,
    /// Approves another operator's campaign with their own PIN.
    Approver,
    /// Adds and disables operators, changes settings.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sender => "sender",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sender" => Some(Role::Sender),
            "approver" => Some(Role::Approver),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Parses `sender,approver`.
    pub fn parse_list(s: &str) -> Result<BTreeSet<Role>, Error> {
        let mut roles = BTreeSet::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            roles.insert(Role::parse(part).ok_or_else(|| Error::UnknownRole(part.trim().into()))?);
        }
        if roles.is_empty() {
            return Err(Error::UnknownRole(s.to_owned()));
        }
        Ok(roles)
    }
}

fn roles_to_text(roles: &BTreeSet<Role>) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// An operator account as stored (without the PIN hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operator {
    pub name: String,
    pub roles: BTreeSet<Role>,
    pub disabled: bool,
    pub failed_attempts: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_until: Option<OffsetDateTime>,
}

impl Operator {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_locked(&self, now: OffsetDateTime) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }
}

/// A signed-in operator. Only [`sign_in`] makes one, so holding a `Session` proves the
/// PIN was given. The UI and CLI lock it with [`Session::is_idle`].
#[derive(Debug, Clone)]
pub struct Session {
    operator: String,
    roles: BTreeSet<Role>,
    signed_in_at: OffsetDateTime,
    last_activity: OffsetDateTime,
}

impl Session {
    pub fn operator(&self) -> &str {
        &self.operator
    }

    pub fn roles(&self) -> &BTreeSet<Role> {
        &self.roles
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn signed_in_at(&self) -> OffsetDateTime {
        self.signed_in_at
    }

    pub fn last_activity(&self) -> OffsetDateTime {
        self.last_activity
    }

    /// Records activity (a click, a command) at `now`.
    pub fn touch(&mut self, now: OffsetDateTime) {
        if now > self.last_activity {
            self.last_activity = now;
        }
    }

    /// True when nothing happened for `idle_timeout`: the caller must lock the screen and
    /// ask for the PIN again.
    pub fn is_idle(&self, now: OffsetDateTime, idle_timeout: Duration) -> bool {
        now - self.last_activity >= idle_timeout
    }
}

/// Sign-in or account management failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("sign-in refused: wrong name or PIN")]
    WrongPin,
    #[error("sign-in refused: the operator {0} is disabled")]
    Disabled(String),
    #[error("too many wrong PINs: {name} is locked until {until}")]
    LockedOut { name: String, until: String },
    #[error("no operator is called {0}")]
    NoSuchOperator(String),
    #[error("an operator called {0} already exists")]
    NameTaken(String),
    #[error("an operator name must be 1 to 64 printable characters")]
    BadName,
    #[error("unknown role {0:?}: use sender, approver or admin")]
    UnknownRole(String),
    #[error(
        "the PIN is too weak: use at least 4 digits, or a passphrase of at least 8 characters"
    )]
    WeakPin,
    #[error("only an admin may do this")]
    NotAdmin,
    #[error("the first admin already exists; an admin must add further operators")]
    AlreadySetUp,
    #[error("this would leave no enabled admin")]
    LastAdmin,
    #[error("the idle time must be between 1 minute and 8 hours")]
    BadIdleTime,
    #[error("the PIN could not be hashed: {0}")]
    Hash(String),
    #[error("operator database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Audit(#[from] audit::Error),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::WrongPin | Error::Disabled(_) | Error::NoSuchOperator(_) => {
                ErrorCode::AuthFailed
            }
            Error::LockedOut { .. } => ErrorCode::LockedOut,
            Error::NotAdmin | Error::AlreadySetUp | Error::LastAdmin => ErrorCode::Forbidden,
            Error::NameTaken(_)
            | Error::BadName
            | Error::UnknownRole(_)
            | Error::WeakPin
            | Error::BadIdleTime => ErrorCode::InvalidInput,
            Error::Hash(_) => ErrorCode::Internal,
            Error::Sql(_) => ErrorCode::Database,
            Error::Audit(e) => e.code(),
        }
    }
}

/// The PIN policy: all digits and at least 4 long, or a passphrase of at least 8 characters.
pub fn check_pin_policy(pin: &Secret) -> Result<(), Error> {
    let p = pin.expose();
    let digits = !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    let long_enough = if digits {
        p.len() >= 4
    } else {
        p.chars().count() >= 8
    };
    if long_enough {
        Ok(())
    } else {
        Err(Error::WeakPin)
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.trim().is_empty()
        && name.chars().count() <= 64
        && !name.chars().any(char::is_control)
        && name.trim() == name;
    if ok {
        Ok(())
    } else {
        Err(Error::BadName)
    }
}

/// Argon2id (the crate's defaults: v0x13, m=19 MiB, t=2, p=1) as a PHC string.
fn hash_pin(pin: &Secret) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Hash(e.to_string()))
}

fn pin_matches(phc: &str, pin: &Secret) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(pin.expose().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The lock length after `failures` consecutive wrong PINs (none below the threshold).
pub fn backoff(failures: u32) -> Option<Duration> {
    if failures < LOCKOUT_THRESHOLD {
        return None;
    }
    let doublings = (failures - LOCKOUT_THRESHOLD).min(10);
    Some((FIRST_LOCK * (1i32 << doublings)).min(MAX_LOCK))
}

fn parse_time(s: Option<String>) -> Option<OffsetDateTime> {
    s.and_then(|s| OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).ok())
}

struct Row {
    op: Operator,
    pin_hash: String,
}

fn load(conn: &rusqlite::Connection, name: &str) -> Result<Option<Row>, Error> {
    Ok(conn
        .query_row(
            "SELECT name, roles, disabled, failed_attempts, locked_until, pin_hash
             FROM operators WHERE name = ?1",
            [name],
            |r| {
                let roles: String = r.get(1)?;
                Ok(Row {
                    op: Operator {
                        name: r.get(0)?,
                        roles: roles.split(',').filter_map(Role::parse).collect(),
                        disabled: r.get::<_, i64>(2)? != 0,
                        failed_attempts: r.get(3)?,
                        locked_until: parse_time(r.get(4)?),
                    },
                    pin_hash: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// One operator by name (case-insensitive).
pub fn find(store: &Store, name: &str) -> Result<Option<Operator>, Error> {
    Ok(load(&store.read(), name)?.map(|r| r.op))
}

/// All operators, by name.
pub fn list(store: &Store) -> Result<Vec<Operator>, Error> {
    let names: Vec<String> = {
        let conn = store.read();
        let mut stmt = conn.prepare("SELECT name FROM operators ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    for n in names {
        if let Some(op) = find(store, &n)? {
            out.push(op);
        }
    }
    Ok(out)
}

/// True when no operator exists yet (the first-run screen).
pub fn needs_first_admin(store: &Store) -> Result<bool, Error> {
    let n: i64 = store
        .read()
        .query_row("SELECT COUNT(*) FROM operators", [], |r| r.get(0))?;
    Ok(n == 0)
}

fn insert(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    roles: &BTreeSet<Role>,
    pin_hash: &str,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let exists: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM operators WHERE name = ?1)",
        [name],
        |r| r.get(0),
    )?;
    if exists {
        return Err(Error::NameTaken(name.to_owned()));
    }
    tx.execute(
        "INSERT INTO operators (name, roles, pin_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![
            name,
            roles_to_text(roles),
            pin_hash,
            audit::format_time(now)?
        ],
    )?;
    Ok(())
}

/// First run: creates the admin (with every role). Refused once any operator exists.
pub fn create_first_admin(
    store: &Store,
    name: &str,
    pin: &Secret,
    now: OffsetDateTime,
) -> Result<Operator, Error> {
    check_name(name)?;
    check_pin_policy(pin)?;
    let hash = hash_pin(pin)?;
    let roles: BTreeSet<Role> = [Role::Sender, Role::Approver, Role::Admin].into();
    store.transaction(|tx| {
        let n: i64 = tx.query_row("SELECT COUNT(*) FROM operators", [], |r| r.get(0))?;
        if n > 0 {
            return Err(Error::AlreadySetUp);
        }
        insert(tx, name, &roles, &hash, now)?;
        audit::append_in(
            tx,
            now,
            name,
            Kind::OperatorAdded,
            None,
            &json!({"name": name, "roles": roles_to_text(&roles), "first_admin": true}),
        )?;
        Ok(())
    })?;
    find(store, name)?.ok_or_else(|| Error::NoSuchOperator(name.to_owned()))
}

/// Checks that the session's operator is still an enabled admin in the store (a session
/// can outlive a role change).
fn require_admin(tx: &rusqlite::Transaction<'_>, by: &Session) -> Result<(), Error> {
    match load(tx, &by.operator)? {
        Some(r) if r.op.has_role(Role::Admin) && !r.op.disabled => Ok(()),
        _ => Err(Error::NotAdmin),
    }
}

/// An admin adds an operator.
pub fn add_operator(
    store: &Store,
    by: &Session,
    name: &str,
    roles: &BTreeSet<Role>,
    pin: &Secret,
    now: OffsetDateTime,
) -> Result<Operator, Error> {
    check_name(name)?;
    if roles.is_empty() {
        return Err(Error::UnknownRole(String::new()));
    }
    check_pin_policy(pin)?;
    let hash = hash_pin(pin)?;
    store.transaction(|tx| {
        require_admin(tx, by)?;
        insert(tx, name, roles, &hash, now)?;
        audit::append_in(
            tx,
            now,
            &by.operator,
            Kind::OperatorAdded,
            None,
            &json!({"name": name, "roles": roles_to_text(roles)}),
        )?;
        Ok::<_, Error>(())
    })?;
    find(store, name)?.ok_or_else(|| Error::NoSuchOperator(name.to_owned()))
}

/// An admin disables an operator; the last enabled admin cannot be disabled.
pub fn disable_operator(
    store: &Store,
    by: &Session,
    name: &str,
    now: OffsetDateTime,
) -> Result<(), Error> {
    store.transaction(|tx| {
        require_admin(tx, by)?;
        let target = load(tx, name)?.ok_or_else(|| Error::NoSuchOperator(name.to_owned()))?;
        if target.op.has_role(Role::Admin) && !target.op.disabled {
            let admins: i64 = tx.query_row(
                "SELECT COUNT(*) FROM operators WHERE disabled = 0 AND ',' || roles || ',' LIKE '%,admin,%'",
                [],
                |r| r.get(0),
            )?;
            if admins <= 1 {
                return Err(Error::LastAdmin);
            }
        }
        tx.execute("UPDATE operators SET disabled = 1 WHERE name = ?1", [name])?;
        audit::append_in(
            tx,
            now,
            &by.operator,
            Kind::OperatorDisabled,
            None,
            &json!({"name": target.op.name}),
        )?;
        Ok(())
    })
}

/// Signs in: checks the PIN, applies the lockout rule, logs the attempt.
pub fn sign_in(
    store: &Store,
    name: &str,
    pin: &Secret,
    now: OffsetDateTime,
) -> Result<Session, Error> {
    let op = authenticate(store, name, pin, now, "sign_in")?;
    Ok(Session {
        operator: op.name,
        roles: op.roles,
        signed_in_at: now,
        last_activity: now,
    })
}

/// Checks an operator's PIN for `purpose` (`sign_in`, `approval`): the same lockout
/// counting and logging as sign-in. A success is logged as `login` only for sign-in; the
/// caller logs what the PIN was for.
pub(crate) fn authenticate(
    store: &Store,
    name: &str,
    pin: &Secret,
    now: OffsetDateTime,
    purpose: &str,
) -> Result<Operator, Error> {
    // Argon2 runs outside the write lock; the lockout state is re-read inside it.
    let row = load(&store.read(), name)?;
    let Some(row) = row else {
        // Spend the same time as a real check so a name cannot be probed by timing.
        let _ = pin_matches(DUMMY_PHC, pin);
        audit::append(
            store,
            now,
            name,
            Kind::LoginFailed,
            None,
            json!({"purpose": purpose, "reason": "unknown_operator"}),
        )?;
        return Err(Error::WrongPin);
    };
    let name = row.op.name.clone();
    if row.op.disabled {
        audit::append(
            store,
            now,
            &name,
            Kind::LoginFailed,
            None,
            json!({"purpose": purpose, "reason": "disabled"}),
        )?;
        return Err(Error::Disabled(name));
    }
    if let Some(until) = row.op.locked_until.filter(|t| now < *t) {
        let until = audit::format_time(until)?;
        audit::append(
            store,
            now,
            &name,
            Kind::LoginFailed,
            None,
            json!({"purpose": purpose, "reason": "locked", "locked_until": until}),
        )?;
        return Err(Error::LockedOut { name, until });
    }
    let ok = pin_matches(&row.pin_hash, pin);
    // The transaction must commit on a wrong PIN too (the failure count and the log entry
    // are the point), so the refusal travels out as a value, not as the closure's error.
    let refusal: Option<Error> = store.transaction(|tx| {
        if ok {
            tx.execute(
                "UPDATE operators SET failed_attempts = 0, locked_until = NULL WHERE name = ?1",
                [&name],
            )?;
            if purpose == "sign_in" {
                audit::append_in(tx, now, &name, Kind::Login, None, &json!({}))?;
            }
            return Ok::<_, Error>(None);
        }
        let failures: u32 = tx.query_row(
            "UPDATE operators SET failed_attempts = failed_attempts + 1 WHERE name = ?1
             RETURNING failed_attempts",
            [&name],
            |r| r.get(0),
        )?;
        audit::append_in(
            tx,
            now,
            &name,
            Kind::LoginFailed,
            None,
            &json!({"purpose": purpose, "reason": "wrong_pin", "failures": failures}),
        )?;
        if let Some(lock) = backoff(failures) {
            let until = audit::format_time(now + lock)?;
            tx.execute(
                "UPDATE operators SET locked_until = ?2 WHERE name = ?1",
                rusqlite::params![name, until],
            )?;
            audit::append_in(
                tx,
                now,
                &name,
                Kind::Lockout,
                None,
                &json!({"failures": failures, "locked_until": until,
                        "seconds": lock.whole_seconds()}),
            )?;
            return Ok(Some(Error::LockedOut {
                name: name.clone(),
                until,
            }));
        }
        Ok(Some(Error::WrongPin))
    })?;
    if let Some(e) = refusal {
        return Err(e);
    }
    Ok(Operator {
        failed_attempts: 0,
        locked_until: None,
        ..row.op
    })
}

/// A valid Argon2id hash of a random value, verified against for unknown names.
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$9bHkOWk1vS0FbdwMxfI9a4kF+8sPEsjNJUo6lA6S4uY";

/// How long a session may sit unused before it locks, unless an admin set another value.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::minutes(10);
const IDLE_KEY: &str = "idle_timeout_secs";

/// The idle time after which a signed-in session locks (default 10 minutes).
pub fn idle_timeout(store: &Store) -> Result<Duration, Error> {
    Ok(store.setting_duration(IDLE_KEY, DEFAULT_IDLE_TIMEOUT)?)
}

/// An admin sets the idle time; logged as a settings change.
pub fn set_idle_timeout(
    store: &Store,
    by: &Session,
    idle: Duration,
    now: OffsetDateTime,
) -> Result<(), Error> {
    if !by.has_role(Role::Admin) {
        return Err(Error::NotAdmin);
    }
    if idle < Duration::minutes(1) || idle > Duration::hours(8) {
        return Err(Error::BadIdleTime);
    }
    audit::change_duration_setting(store, by.operator(), IDLE_KEY, idle, now)
}

/// The operator's own mailbox, if an admin set one: the address a test copy may go to
/// (besides the admin's internal domains). Stored normalised
/// ([`crate::recipients::address_key`]).
pub fn email(store: &Store, name: &str) -> Result<Option<String>, Error> {
    Ok(store
        .read()
        .query_row("SELECT email FROM operators WHERE name = ?1", [name], |r| {
            r.get::<_, Option<String>>(0)
        })
        .optional()?
        .flatten())
}

/// An admin sets (`Some`) or clears (`None`) an operator's own mailbox; logged. The
/// caller checks that `address` is an e-mail address.
pub fn set_email(
    store: &Store,
    by: &Session,
    name: &str,
    address: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let address = address.map(crate::recipients::address_key);
    store.transaction(|tx| {
        require_admin(tx, by)?;
        let target = load(tx, name)?.ok_or_else(|| Error::NoSuchOperator(name.to_owned()))?;
        tx.execute(
            "UPDATE operators SET email = ?2 WHERE name = ?1",
            rusqlite::params![name, address],
        )?;
        audit::append_in(
            tx,
            now,
            &by.operator,
            Kind::SettingsChanged,
            None,
            &json!({"setting": "operator_email", "operator": target.op.name, "value": address}),
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_policy() {
        assert!(check_pin_policy(&Secret::new("1234")).is_ok());
        assert!(check_pin_policy(&Secret::new("123")).is_err());
        assert!(check_pin_policy(&Secret::new("abc123")).is_err());
        assert!(check_pin_policy(&Secret::new("correct horse")).is_ok());
        assert!(check_pin_policy(&Secret::new("")).is_err());
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(4), None);
        assert_eq!(backoff(5), Some(Duration::minutes(1)));
        assert_eq!(backoff(6), Some(Duration::minutes(2)));
        assert_eq!(backoff(8), Some(Duration::minutes(8)));
        assert_eq!(backoff(11), Some(Duration::hours(1)));
        assert_eq!(backoff(500), Some(Duration::hours(1)));
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_PHC).is_ok());
    }

    #[test]
    fn idle_session() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let mut s = Session {
            operator: "a".into(),
            roles: BTreeSet::new(),
            signed_in_at: t0,
            last_activity: t0,
        };
        assert!(!s.is_idle(t0 + Duration::minutes(4), Duration::minutes(5)));
        assert!(s.is_idle(t0 + Duration::minutes(5), Duration::minutes(5)));
        s.touch(t0 + Duration::minutes(4));
        assert!(!s.is_idle(t0 + Duration::minutes(5), Duration::minutes(5)));
    }
}
