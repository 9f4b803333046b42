//! Operator accounts and sign-in: roles, Argon2id PIN hashes, lockout with back-off,
//! and the idle-lock session.
//!
//! Lockout rule: after [`LOCKOUT_THRESHOLD`] (5) consecutive wrong PINs the operator is
//! locked for 1 minute; each further wrong PIN after a lock ends doubles it (2, 4, 8, …
//! minutes), capped at 1 hour. While locked, attempts are refused without checking the PIN
//! and do not extend the lock. A correct PIN resets the count. Every attempt is logged;
//! the PIN never is. Time is always the `now` parameter.
//!
//! Integrity: every operator row is sealed with the install key (`store::integrity`) and
//! read only through [`load`], which refuses a row whose seal does not match. PIN hashes
//! are Argon2id with the install key as Argon2's secret, so a copied database alone
//! cannot test a guess. [`authorize`] is the one role check: it re-reads the sealed row
//! inside a transaction, so a session never outlives a role removal or a disable.

use std::collections::BTreeSet;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};
use rusqlite::OptionalExtension;
use serde::Serialize;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::audit::{self, Kind};
use crate::error::{ErrorCode, Reason, UserError};
use crate::secrets::Secret;
use crate::store::{self, InstallKey, Store, Tx};

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
    /// An admin reset the PIN: the person must choose a new one at their next sign-in.
    pub pin_reset: bool,
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
    #[error(
        "sign-in refused: wrong name or PIN ({tries_left} more wrong PINs lock {name} for a while)"
    )]
    WrongPinWarning { name: String, tries_left: u32 },
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
        "the PIN is too weak: use at least {MIN_PIN_DIGITS} digits, or a passphrase of at least 8 characters"
    )]
    WeakPin,
    #[error("{0}'s PIN is shorter than the current rule ({MIN_PIN_DIGITS} digits or a passphrase of 8 characters): choose a new PIN before signing in (mergeguard operator set-pin)")]
    PinChangeRequired(String),
    #[error("only an admin may do this")]
    NotAdmin,
    #[error("{name} does not hold the {role} role (or is no longer an active operator)")]
    MissingRole { name: String, role: String },
    #[error("the record of operator {0} was changed outside MergeGuard (its seal does not match); the action was refused. Run `mergeguard audit verify` and ask an admin")]
    Tampered(String),
    #[error(transparent)]
    Store(#[from] store::Error),
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
            Error::WrongPin
            | Error::WrongPinWarning { .. }
            | Error::Disabled(_)
            | Error::NoSuchOperator(_) => ErrorCode::AuthFailed,
            Error::LockedOut { .. } => ErrorCode::LockedOut,
            Error::NotAdmin
            | Error::AlreadySetUp
            | Error::LastAdmin
            | Error::MissingRole { .. } => ErrorCode::Forbidden,
            Error::PinChangeRequired(_) => ErrorCode::PinChangeRequired,
            Error::Tampered(_) => ErrorCode::Tampered,
            Error::Store(e) => e.code(),
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

    /// What the window needs to say this in the person's language.
    pub fn reason(&self) -> Option<Reason> {
        Some(match self {
            Error::WrongPin => Reason::new("wrong_pin"),
            Error::WrongPinWarning { tries_left, .. } => {
                Reason::new("wrong_pin_tries_left").with("tries_left", *tries_left)
            }
            Error::Disabled(name) => Reason::new("operator_disabled").with("name", name.as_str()),
            Error::LockedOut { name, until } => Reason::new("locked_until")
                .with("name", name.as_str())
                .with("until", until.as_str()),
            Error::NoSuchOperator(name) => {
                Reason::new("no_such_operator").with("name", name.as_str())
            }
            Error::NameTaken(name) => Reason::new("name_taken").with("name", name.as_str()),
            Error::BadName => Reason::new("bad_name"),
            Error::WeakPin => Reason::new("weak_pin").with("digits", MIN_PIN_DIGITS),
            Error::PinChangeRequired(name) => {
                Reason::new("pin_change_required").with("name", name.as_str())
            }
            Error::NotAdmin => Reason::new("admin_only"),
            Error::MissingRole { name, role } => Reason::new("missing_role")
                .with("name", name.as_str())
                .with("role", role.as_str()),
            Error::AlreadySetUp => Reason::new("first_admin_exists"),
            Error::LastAdmin => Reason::new("last_admin"),
            _ => return None,
        })
    }

    /// The error as the window and `--json` output get it.
    pub fn to_user(&self) -> UserError {
        UserError::new(self.code(), self.to_string()).with_reason(self.reason())
    }
}

/// The fewest digits a numeric PIN may have.
pub const MIN_PIN_DIGITS: usize = 6;

/// The PIN policy: all digits and at least [`MIN_PIN_DIGITS`] long, or a passphrase of at
/// least 8 characters. (Six digits are a million guesses; with the Argon2 secret in the
/// keychain they can only be tried through MergeGuard, at its lockout pace.)
pub fn check_pin_policy(pin: &Secret) -> Result<(), Error> {
    let p = pin.expose();
    let digits = !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    let long_enough = if digits {
        p.len() >= MIN_PIN_DIGITS
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

/// Argon2id (v0x13, m=19 MiB, t=2, p=1: the crate's defaults) keyed with the install
/// key as Argon2's secret. The PHC string does not hold the secret: without the keychain
/// the hash cannot be checked, so a copied database gives no offline guessing.
fn argon2(key: Option<&InstallKey>) -> Result<Argon2<'_>, Error> {
    match key {
        Some(k) => Argon2::new_with_secret(
            k.bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            Params::default(),
        )
        .map_err(|e| Error::Hash(e.to_string())),
        None => Ok(Argon2::default()),
    }
}

/// A PHC string of `pin` bound to `key`.
pub fn hash_pin(pin: &Secret, key: &InstallKey) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    argon2(Some(key))?
        .hash_password(pin.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Hash(e.to_string()))
}

/// Whether `pin` matches `phc`; `key` is the Argon2 secret (`None` only for hashes made
/// before the data folder was keyed).
pub fn pin_matches(phc: &str, pin: &Secret, key: Option<&InstallKey>) -> bool {
    match (PasswordHash::new(phc), argon2(key)) {
        (Ok(parsed), Ok(a)) => a.verify_password(pin.expose().as_bytes(), &parsed).is_ok(),
        _ => false,
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
    rowid: i64,
    op: Operator,
    pin_hash: String,
    pin_peppered: bool,
}

/// Reads one operator and checks its seal: a row the core did not write (or whose seal
/// does not match) is [`Error::Tampered`], never an operator.
fn load(conn: &rusqlite::Connection, key: &InstallKey, name: &str) -> Result<Option<Row>, Error> {
    let row = conn
        .query_row(
            "SELECT rowid, name, roles, disabled, failed_attempts, locked_until, pin_hash,
                    pin_peppered
             FROM operators WHERE name = ?1",
            [name],
            |r| {
                let roles: String = r.get(2)?;
                let pin_hash: String = r.get(6)?;
                Ok(Row {
                    rowid: r.get(0)?,
                    op: Operator {
                        name: r.get(1)?,
                        roles: roles.split(',').filter_map(Role::parse).collect(),
                        disabled: r.get::<_, i64>(3)? != 0,
                        failed_attempts: r.get(4)?,
                        locked_until: parse_time(r.get(5)?),
                        pin_reset: pin_hash.starts_with(RESET_MARK),
                    },
                    pin_hash,
                    pin_peppered: r.get::<_, i64>(7)? != 0,
                })
            },
        )
        .optional()?;
    match row {
        Some(row) if !store::integrity::is_sealed(conn, key, "operators", row.rowid)? => {
            Err(Error::Tampered(row.op.name))
        }
        other => Ok(other),
    }
}

/// Logs a refused, tampered operator row (best effort: the refusal stands either way).
fn log_tampered(store: &Store, now: OffsetDateTime, err: &Error) {
    if let Error::Tampered(name) = err {
        let _ = audit::append(
            store,
            now,
            crate::approval::SYSTEM_OPERATOR,
            Kind::IntegrityFailure,
            None,
            json!({"table": "operators", "row": name}),
        );
    }
}

/// One operator by name (case-insensitive); a tampered row is an error.
pub fn find(store: &Store, name: &str) -> Result<Option<Operator>, Error> {
    Ok(load(&store.read(), store.key(), name)?.map(|r| r.op))
}

/// All operators, by name (an admin's business: checked with [`authorize`]). Refused
/// when any row's seal does not match.
pub fn list(store: &Store, by: &Session, now: OffsetDateTime) -> Result<Vec<Operator>, Error> {
    authorize(store, by, Role::Admin, now)?;
    let names: Vec<String> = {
        let conn = store.read();
        let mut stmt = conn.prepare("SELECT name FROM operators ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    for n in names {
        match find(store, &n) {
            Ok(Some(op)) => out.push(op),
            Ok(None) => {}
            Err(e) => {
                log_tampered(store, now, &e);
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// THE role check of every core entry point: re-reads the session's operator inside a
/// write transaction and requires a sealed row, not disabled, holding `role`. Returns the
/// operator as stored. A tampered row is refused and logged.
pub fn authorize(
    store: &Store,
    session: &Session,
    role: Role,
    now: OffsetDateTime,
) -> Result<Operator, Error> {
    authorize_any(store, session, &[role], now)
}

/// [`authorize`] for an action any of `roles` may do.
pub fn authorize_any(
    store: &Store,
    session: &Session,
    roles: &[Role],
    now: OffsetDateTime,
) -> Result<Operator, Error> {
    authorize_name(store, session.operator(), roles, now)
}

/// [`authorize_any`] for entry points that carry the operator's name rather than a
/// [`Session`] (a send request, a requeue): the same re-read of the sealed row inside a
/// write transaction.
pub fn authorize_name(
    store: &Store,
    name: &str,
    roles: &[Role],
    now: OffsetDateTime,
) -> Result<Operator, Error> {
    let r = store.transaction(|tx| check_in(tx, name, roles));
    if let Err(e) = &r {
        log_tampered(store, now, e);
    }
    r
}

/// [`authorize_any`] inside the caller's transaction, so the check and the action it
/// guards commit together (the caller logs a tampered row after the rollback).
pub(crate) fn authorize_in(
    tx: &Tx<'_>,
    session: &Session,
    roles: &[Role],
) -> Result<Operator, Error> {
    check_in(tx, session.operator(), roles)
}

/// The operator `name` as stored, refused unless sealed, enabled and holding one of `roles`.
pub(crate) fn check_in(tx: &Tx<'_>, name: &str, roles: &[Role]) -> Result<Operator, Error> {
    let missing = || Error::MissingRole {
        name: name.to_owned(),
        role: roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" or "),
    };
    match load(tx, tx.key(), name)? {
        Some(r) if r.op.disabled => Err(Error::Disabled(r.op.name)),
        Some(r) if roles.iter().any(|role| r.op.has_role(*role)) => Ok(r.op),
        _ => Err(missing()),
    }
}

/// True when no operator exists yet (the first-run screen).
pub fn needs_first_admin(store: &Store) -> Result<bool, Error> {
    let n: i64 = store
        .read()
        .query_row("SELECT COUNT(*) FROM operators", [], |r| r.get(0))?;
    Ok(n == 0)
}

fn insert(
    tx: &Tx<'_>,
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
        "INSERT INTO operators (name, roles, pin_hash, pin_peppered, created_at)
         VALUES (?1, ?2, ?3, 1, ?4)",
        rusqlite::params![
            name,
            roles_to_text(roles),
            pin_hash,
            audit::format_time(now)?
        ],
    )?;
    tx.seal("operators", tx.last_insert_rowid())?;
    Ok(())
}

/// Runs `sql` on one operator's row (parameter ?1 = its rowid, then `more`) and re-seals it.
fn update_sealed(
    tx: &Tx<'_>,
    name: &str,
    sql: &str,
    more: &[&dyn rusqlite::ToSql],
) -> Result<(), Error> {
    let rowid: Option<i64> = tx
        .query_row("SELECT rowid FROM operators WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(rowid) = rowid else {
        return Err(Error::NoSuchOperator(name.to_owned()));
    };
    let mut params: Vec<&dyn rusqlite::ToSql> = vec![&rowid];
    params.extend_from_slice(more);
    tx.execute(sql, params.as_slice())?;
    tx.seal("operators", rowid)?;
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
    let hash = hash_pin(pin, store.key())?;
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
/// can outlive a role change); a tampered row stays [`Error::Tampered`].
fn require_admin(tx: &Tx<'_>, by: &Session) -> Result<(), Error> {
    match authorize_in(tx, by, &[Role::Admin]) {
        Ok(_) => Ok(()),
        Err(Error::Tampered(n)) => Err(Error::Tampered(n)),
        Err(Error::Sql(e)) => Err(Error::Sql(e)),
        Err(_) => Err(Error::NotAdmin),
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
    let hash = hash_pin(pin, store.key())?;
    let r = store.transaction(|tx| {
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
    });
    if let Err(e) = &r {
        log_tampered(store, now, e);
    }
    r?;
    find(store, name)?.ok_or_else(|| Error::NoSuchOperator(name.to_owned()))
}

/// An admin disables an operator; the last enabled admin cannot be disabled.
pub fn disable_operator(
    store: &Store,
    by: &Session,
    name: &str,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let r = store.transaction(|tx| {
        require_admin(tx, by)?;
        let target =
            load(tx, tx.key(), name)?.ok_or_else(|| Error::NoSuchOperator(name.to_owned()))?;
        if target.op.has_role(Role::Admin) && !target.op.disabled {
            require_another_admin(tx)?;
        }
        update_sealed(
            tx,
            &target.op.name,
            "UPDATE operators SET disabled = 1 WHERE rowid = ?1",
            &[],
        )?;
        audit::append_in(
            tx,
            now,
            &by.operator,
            Kind::OperatorDisabled,
            None,
            &json!({"name": target.op.name}),
        )?;
        Ok(())
    });
    if let Err(e) = &r {
        log_tampered(store, now, e);
    }
    r
}

/// Marks a PIN hash as set by an admin's reset: the PIN works once, to choose a new one.
const RESET_MARK: &str = "reset$";

/// An admin switches a disabled operator on again.
pub fn enable_operator(
    store: &Store,
    by: &Session,
    name: &str,
    now: OffsetDateTime,
) -> Result<(), Error> {
    admin_change(store, by, name, now, |tx, target| {
        update_sealed(
            tx,
            &target.op.name,
            "UPDATE operators SET disabled = 0 WHERE rowid = ?1",
            &[],
        )?;
        Ok((Kind::OperatorEnabled, json!({"name": target.op.name})))
    })
}

/// An admin gives an operator a new set of roles; the last enabled admin keeps admin.
pub fn set_roles(
    store: &Store,
    by: &Session,
    name: &str,
    roles: &BTreeSet<Role>,
    now: OffsetDateTime,
) -> Result<(), Error> {
    if roles.is_empty() {
        return Err(Error::UnknownRole(String::new()));
    }
    admin_change(store, by, name, now, |tx, target| {
        if target.op.has_role(Role::Admin) && !roles.contains(&Role::Admin) && !target.op.disabled {
            require_another_admin(tx)?;
        }
        update_sealed(
            tx,
            &target.op.name,
            "UPDATE operators SET roles = ?2 WHERE rowid = ?1",
            &[&roles_to_text(roles)],
        )?;
        Ok((
            Kind::RolesChanged,
            json!({"name": target.op.name, "roles": roles_to_text(roles)}),
        ))
    })
}

/// An admin resets a forgotten PIN: `one_time_pin` (told to the person) lets them sign
/// in once only to choose their own new PIN; any lock is lifted. Logged, never the PIN.
pub fn reset_pin(
    store: &Store,
    by: &Session,
    name: &str,
    one_time_pin: &Secret,
    now: OffsetDateTime,
) -> Result<(), Error> {
    check_pin_policy(one_time_pin)?;
    let hash = format!("{RESET_MARK}{}", hash_pin(one_time_pin, store.key())?);
    admin_change(store, by, name, now, |tx, target| {
        update_sealed(
            tx,
            &target.op.name,
            "UPDATE operators SET pin_hash = ?2, pin_peppered = 1, failed_attempts = 0,
                    locked_until = NULL WHERE rowid = ?1",
            &[&hash],
        )?;
        Ok((Kind::PinReset, json!({"name": target.op.name})))
    })
}

/// One admin change to another operator's row, in one transaction with its log entry.
fn admin_change(
    store: &Store,
    by: &Session,
    name: &str,
    now: OffsetDateTime,
    change: impl FnOnce(&Tx<'_>, &Row) -> Result<(Kind, serde_json::Value), Error>,
) -> Result<(), Error> {
    let r = store.transaction(|tx| {
        require_admin(tx, by)?;
        let target =
            load(tx, tx.key(), name)?.ok_or_else(|| Error::NoSuchOperator(name.to_owned()))?;
        let (kind, details) = change(tx, &target)?;
        audit::append_in(tx, now, &by.operator, kind, None, &details)?;
        Ok(())
    });
    if let Err(e) = &r {
        log_tampered(store, now, e);
    }
    r
}

fn require_another_admin(tx: &Tx<'_>) -> Result<(), Error> {
    let admins: i64 = tx.query_row(
        "SELECT COUNT(*) FROM operators WHERE disabled = 0 AND ',' || roles || ',' LIKE '%,admin,%'",
        [],
        |r| r.get(0),
    )?;
    if admins <= 1 {
        return Err(Error::LastAdmin);
    }
    Ok(())
}

/// Signs in: checks the PIN, applies the lockout rule, logs the attempt. A correct PIN
/// shorter than the current rule is refused with [`Error::PinChangeRequired`] (logged):
/// the operator chooses a new one with [`change_pin`].
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

/// An operator replaces their PIN, proving the old one (the way out for PINs made under
/// the older 4-digit rule). The new PIN must meet [`check_pin_policy`]; it is hashed with
/// the install key. Logged as `pin_changed`, never the PINs.
pub fn change_pin(
    store: &Store,
    name: &str,
    old_pin: &Secret,
    new_pin: &Secret,
    now: OffsetDateTime,
) -> Result<(), Error> {
    check_pin_policy(new_pin)?;
    let op = authenticate(store, name, old_pin, now, "pin_change")?;
    let hash = hash_pin(new_pin, store.key())?;
    let r = store.transaction(|tx| {
        // Re-read under the lock: disabled or tampered meanwhile means no change.
        let row =
            load(tx, tx.key(), &op.name)?.ok_or_else(|| Error::NoSuchOperator(op.name.clone()))?;
        if row.op.disabled {
            return Err(Error::Disabled(row.op.name));
        }
        update_sealed(
            tx,
            &op.name,
            "UPDATE operators SET pin_hash = ?2, pin_peppered = 1 WHERE rowid = ?1",
            &[&hash],
        )?;
        audit::append_in(tx, now, &op.name, Kind::PinChanged, None, &json!({}))?;
        Ok(())
    });
    if let Err(e) = &r {
        log_tampered(store, now, e);
    }
    r
}

/// Checks an operator's PIN for `purpose` (`sign_in`, `approval`, `pin_change`): the same
/// lockout counting and logging as sign-in. A success is logged as `login` only for
/// sign-in; the caller logs what the PIN was for.
pub(crate) fn authenticate(
    store: &Store,
    name: &str,
    pin: &Secret,
    now: OffsetDateTime,
    purpose: &str,
) -> Result<Operator, Error> {
    let r = authenticate_inner(store, name, pin, now, purpose);
    if let Err(e) = &r {
        log_tampered(store, now, e);
    }
    r
}

fn authenticate_inner(
    store: &Store,
    name: &str,
    pin: &Secret,
    now: OffsetDateTime,
    purpose: &str,
) -> Result<Operator, Error> {
    // Argon2 runs outside the write lock; the lockout state is re-read inside it.
    let row = load(&store.read(), store.key(), name)?;
    let Some(row) = row else {
        // Spend the same time as a real check so a name cannot be probed by timing.
        let _ = pin_matches(DUMMY_PHC, pin, Some(store.key()));
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
    // A PIN an admin reset is a one-time PIN: right, it only lets the person choose a
    // new one (the mark is inside the sealed hash column, so it cannot be removed).
    let (reset, phc) = match row.pin_hash.strip_prefix(RESET_MARK) {
        Some(phc) => (true, phc),
        None => (false, row.pin_hash.as_str()),
    };
    let ok = pin_matches(phc, pin, row.pin_peppered.then_some(store.key()));
    // A hash from before the folder was keyed is re-made with the key while the PIN is
    // at hand (outside the lock: Argon2 is slow).
    let rehash = if ok && !reset && !row.pin_peppered && check_pin_policy(pin).is_ok() {
        Some(hash_pin(pin, store.key())?)
    } else {
        None
    };
    let short_pin = ok && purpose != "pin_change" && (reset || check_pin_policy(pin).is_err());
    // The transaction must commit on a wrong PIN too (the failure count and the log entry
    // are the point), so the refusal travels out as a value, not as the closure's error.
    let refusal: Option<Error> = store.transaction(|tx| {
        // The row may have changed since it was read: re-check its seal under the lock.
        if load(tx, tx.key(), &name)?.is_none() {
            return Err(Error::NoSuchOperator(name.clone()));
        }
        if ok {
            update_sealed(
                tx,
                &name,
                "UPDATE operators SET failed_attempts = 0, locked_until = NULL WHERE rowid = ?1",
                &[],
            )?;
            if let Some(hash) = &rehash {
                update_sealed(
                    tx,
                    &name,
                    "UPDATE operators SET pin_hash = ?2, pin_peppered = 1 WHERE rowid = ?1",
                    &[hash],
                )?;
            }
            if short_pin {
                audit::append_in(
                    tx,
                    now,
                    &name,
                    Kind::LoginFailed,
                    None,
                    &json!({"purpose": purpose, "reason": "pin_change_required"}),
                )?;
                return Ok(Some(Error::PinChangeRequired(name.clone())));
            }
            if purpose == "sign_in" {
                let details = if rehash.is_some() {
                    json!({"pin_rehashed_with_install_key": true})
                } else {
                    json!({})
                };
                audit::append_in(tx, now, &name, Kind::Login, None, &details)?;
            }
            return Ok::<_, Error>(None);
        }
        let failures: u32 = tx.query_row(
            "SELECT failed_attempts + 1 FROM operators WHERE name = ?1",
            [&name],
            |r| r.get(0),
        )?;
        update_sealed(
            tx,
            &name,
            "UPDATE operators SET failed_attempts = ?2 WHERE rowid = ?1",
            &[&failures],
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
            update_sealed(
                tx,
                &name,
                "UPDATE operators SET locked_until = ?2 WHERE rowid = ?1",
                &[&until],
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
        // From the third wrong PIN on, say how many tries are left before the lock.
        let tries_left = LOCKOUT_THRESHOLD - failures;
        if failures >= LOCKOUT_THRESHOLD.saturating_sub(2) {
            return Ok(Some(Error::WrongPinWarning {
                name: name.clone(),
                tries_left,
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

/// The idle time after which a signed-in session locks (default 10 minutes). A setting
/// row whose seal does not match is an error, never a value.
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
    if idle < Duration::minutes(1) || idle > Duration::hours(8) {
        return Err(Error::BadIdleTime);
    }
    change_duration_setting(store, by, IDLE_KEY, idle, now)
}

/// Stores a security setting given in whole seconds, sealed, with its `settings_changed`
/// entry, in one transaction that first re-checks that `by` is an admin ([`authorize_in`]).
/// The bounds are the caller's rule.
pub(crate) fn change_duration_setting(
    store: &Store,
    by: &Session,
    key: &str,
    value: Duration,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let r = store.transaction(|tx| {
        require_admin(tx, by)?;
        store::put_setting(tx, key, &value.whole_seconds().to_string())?;
        audit::append_in(
            tx,
            now,
            by.operator(),
            Kind::SettingsChanged,
            None,
            &json!({"setting": key, "value": value.whole_seconds()}),
        )?;
        Ok(())
    });
    if let Err(e) = &r {
        log_tampered(store, now, e);
    }
    r
}

/// The operator's own mailbox, if an admin set one: the address a test copy may go to
/// (besides the admin's internal domains). Stored normalised
/// ([`crate::recipients::address_key`]).
pub fn email(store: &Store, name: &str) -> Result<Option<String>, Error> {
    let conn = store.read();
    let Some(row) = load(&conn, store.key(), name)? else {
        return Ok(None);
    };
    Ok(conn
        .query_row(
            "SELECT email FROM operators WHERE rowid = ?1",
            [row.rowid],
            |r| r.get::<_, Option<String>>(0),
        )
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
        let target =
            load(tx, tx.key(), name)?.ok_or_else(|| Error::NoSuchOperator(name.to_owned()))?;
        update_sealed(
            tx,
            name,
            "UPDATE operators SET email = ?2 WHERE rowid = ?1",
            &[&address],
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
        assert!(check_pin_policy(&Secret::new("123456")).is_ok());
        assert!(check_pin_policy(&Secret::new("12345")).is_err());
        assert!(check_pin_policy(&Secret::new("1234")).is_err());
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

    /// A data folder from before keying: schema 3, one admin whose PIN hash is plain
    /// Argon2id of `pin`, and a few unkeyed log entries.
    fn legacy_folder(dir: &std::path::Path, pin: &str) {
        let conn = rusqlite::Connection::open(dir.join(store::DB_FILE)).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                 applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))",
        )
        .unwrap();
        for (v, name, sql) in [
            (1, "init", include_str!("../store/migrations/0001_init.sql")),
            (2, "send", include_str!("../store/migrations/0002_send.sql")),
            (
                3,
                "suppression",
                include_str!("../store/migrations/0003_suppression.sql"),
            ),
        ] {
            conn.execute_batch(sql).unwrap();
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
                rusqlite::params![v, name],
            )
            .unwrap();
        }
        let salt = SaltString::generate(&mut OsRng);
        let phc = Argon2::default()
            .hash_password(pin.as_bytes(), &salt)
            .unwrap()
            .to_string();
        conn.execute(
            "INSERT INTO operators (name, roles, pin_hash, created_at)
             VALUES ('old', 'sender,approver,admin', ?1, '2026-01-01T00:00:00.000000Z')",
            [phc],
        )
        .unwrap();
        let mut prev = audit::GENESIS.to_owned();
        for id in 1..=3i64 {
            let at = "2026-01-01T00:00:00.000000Z";
            let h = audit::entry_hash(&prev, id, at, "old", "login", None, "{}");
            conn.execute(
                "INSERT INTO audit_log (id, at, operator, kind, campaign, details, prev_hash, hash)
                 VALUES (?1, ?2, 'old', 'login', NULL, '{}', ?3, ?4)",
                rusqlite::params![id, at, prev, h],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO audit_head (one, id, hash) VALUES (1, ?1, ?2)
                 ON CONFLICT(one) DO UPDATE SET id = excluded.id, hash = excluded.hash",
                rusqlite::params![id, h],
            )
            .unwrap();
            prev = h;
        }
    }

    const NOW: OffsetDateTime = time::macros::datetime!(2026-11-28 09:00 UTC);

    #[test]
    fn a_legacy_short_pin_signs_in_once_to_choose_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        legacy_folder(dir.path(), "1234");
        let keys = crate::secrets::install::MemoryKeys::new();
        let store = Store::open_with(dir.path(), &keys).unwrap();
        // The re-keying sealed the old row and logged itself once.
        let keyed = audit::entries(
            &store,
            &audit::Filter {
                kinds: vec![Kind::LogKeyed],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(keyed.len(), 1);
        assert!(
            keyed[0].details.contains("\"unkeyed_entries\":3"),
            "{}",
            keyed[0].details
        );
        assert!(audit::verify(&store).unwrap().is_intact());
        let e = sign_in(&store, "old", &Secret::new("1234"), NOW).unwrap_err();
        assert!(matches!(e, Error::PinChangeRequired(_)), "{e}");
        assert_eq!(e.code(), ErrorCode::PinChangeRequired);
        // A new PIN under the old rule is refused; under the new one it takes.
        assert!(matches!(
            change_pin(
                &store,
                "old",
                &Secret::new("1234"),
                &Secret::new("4321"),
                NOW
            ),
            Err(Error::WeakPin)
        ));
        change_pin(
            &store,
            "old",
            &Secret::new("1234"),
            &Secret::new("246813"),
            NOW,
        )
        .unwrap();
        assert!(sign_in(&store, "old", &Secret::new("1234"), NOW).is_err());
        let s = sign_in(&store, "old", &Secret::new("246813"), NOW).unwrap();
        assert_eq!(s.operator(), "old");
        let peppered: i64 = store
            .read()
            .query_row(
                "SELECT pin_peppered FROM operators WHERE name = 'old'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(peppered, 1);
        assert!(audit::verify(&store).unwrap().is_intact());
    }

    #[test]
    fn a_legacy_long_pin_is_rehashed_with_the_install_key_at_sign_in() {
        let dir = tempfile::tempdir().unwrap();
        legacy_folder(dir.path(), "correct horse");
        let keys = crate::secrets::install::MemoryKeys::new();
        let store = Store::open_with(dir.path(), &keys).unwrap();
        let hash_of = |store: &Store| -> String {
            store
                .read()
                .query_row(
                    "SELECT pin_hash FROM operators WHERE name = 'old'",
                    [],
                    |r| r.get(0),
                )
                .unwrap()
        };
        let before = hash_of(&store);
        assert!(pin_matches(&before, &Secret::new("correct horse"), None));
        sign_in(&store, "old", &Secret::new("correct horse"), NOW).unwrap();
        let after = hash_of(&store);
        assert!(!pin_matches(&after, &Secret::new("correct horse"), None));
        assert!(pin_matches(
            &after,
            &Secret::new("correct horse"),
            Some(store.key())
        ));
        sign_in(&store, "old", &Secret::new("correct horse"), NOW).unwrap();
    }

    #[test]
    fn a_rewritten_legacy_log_breaks_the_first_keyed_link() {
        let dir = tempfile::tempdir().unwrap();
        legacy_folder(dir.path(), "correct horse");
        let keys = crate::secrets::install::MemoryKeys::new();
        let store = Store::open_with(dir.path(), &keys).unwrap();
        // Edit an unkeyed entry and recompute the unkeyed chain after it.
        let c = rusqlite::Connection::open(store.path()).unwrap();
        c.execute_batch("DROP TRIGGER audit_log_no_update;")
            .unwrap();
        let mut prev = audit::GENESIS.to_owned();
        for id in 1..=3i64 {
            let op = if id == 2 { "mallory" } else { "old" };
            let at = "2026-01-01T00:00:00.000000Z";
            let h = audit::entry_hash(&prev, id, at, op, "login", None, "{}");
            c.execute(
                "UPDATE audit_log SET operator = ?2, prev_hash = ?3, hash = ?4 WHERE id = ?1",
                rusqlite::params![id, op, prev, h],
            )
            .unwrap();
            prev = h;
        }
        let v = audit::verify(&store).unwrap();
        assert_eq!(
            v.breaks,
            vec![audit::Break {
                id: 4,
                reason: audit::BreakReason::LinkBroken
            }]
        );
    }
}
