//! Sign-in, the first-run administrator, sign-out and the admin's operator list: plain
//! functions over [`AppState`]; the rules (PIN policy, lockout, roles) are the core's.

use std::collections::BTreeSet;

use serde::Serialize;
use time::OffsetDateTime;

use mergeguard::duration_input::{whole, Unit};
use mergeguard::error::Reason;
use mergeguard::operators::{self, Operator, Role};
use mergeguard::secrets::Secret;

use crate::error::{CommandError, CommandResult, ShellCode};
use crate::state::AppState;

/// The signed-in operator as the window sees it (never the PIN).
#[derive(Debug, Serialize)]
pub struct OperatorView {
    pub name: String,
    pub roles: Vec<&'static str>,
}

impl From<&operators::Session> for OperatorView {
    fn from(s: &operators::Session) -> Self {
        OperatorView {
            name: s.operator().to_owned(),
            roles: s.roles().iter().map(|r| r.as_str()).collect(),
        }
    }
}

/// What the window shows at start and after a lock.
#[derive(Debug, Serialize)]
pub struct AppStatus {
    pub needs_first_admin: bool,
    pub signed_in: Option<OperatorView>,
    /// Set when the session locked itself after idle time.
    pub locked_name: Option<String>,
    pub idle_secs: i64,
    pub data_dir: String,
}

fn operator_error(e: operators::Error) -> CommandError {
    use operators::Error as E;
    match e {
        E::WeakPin | E::BadName | E::NameTaken(_) | E::UnknownRole(_) | E::BadIdleTime => {
            let reason = e.reason();
            let err = CommandError::shell(ShellCode::InvalidInput, e.to_string());
            match reason {
                Some(r) => err.because(r),
                None => err,
            }
        }
        other => other.to_user().into(),
    }
}

pub fn app_status(state: &AppState) -> CommandResult<AppStatus> {
    let store = state.store()?;
    Ok(AppStatus {
        needs_first_admin: operators::needs_first_admin(&store).map_err(operator_error)?,
        signed_in: state.current().as_ref().map(OperatorView::from),
        locked_name: state.locked_name(),
        idle_secs: state.idle_timeout().whole_seconds(),
        data_dir: store.dir().display().to_string(),
    })
}

fn same_pin(pin: &str, again: &str) -> CommandResult<()> {
    if pin != again {
        return Err(CommandError::shell(
            ShellCode::InvalidInput,
            "The two PINs are not the same; type the PIN twice exactly.",
        )
        .because(Reason::new("pins_differ")));
    }
    Ok(())
}

/// First run: creates the administrator (every role) and signs them in.
pub fn create_first_admin(
    state: &AppState,
    now: OffsetDateTime,
    name: String,
    pin: String,
    pin_again: String,
) -> CommandResult<OperatorView> {
    same_pin(&pin, &pin_again)?;
    let store = state.store()?;
    let pin = Secret::new(pin);
    operators::create_first_admin(&store, name.trim(), &pin, now).map_err(operator_error)?;
    let session = operators::sign_in(&store, name.trim(), &pin, now).map_err(operator_error)?;
    let view = OperatorView::from(&session);
    state.set_session(Some(session))?;
    Ok(view)
}

pub fn sign_in(
    state: &AppState,
    now: OffsetDateTime,
    name: String,
    pin: String,
) -> CommandResult<OperatorView> {
    let store = state.store()?;
    let session =
        operators::sign_in(&store, name.trim(), &Secret::new(pin), now).map_err(operator_error)?;
    let view = OperatorView::from(&session);
    state.set_session(Some(session))?;
    Ok(view)
}

pub fn sign_out(state: &AppState) -> CommandResult<()> {
    state.set_session(None)
}

/// One row of the operator list (never the PIN hash: the core's `Operator` has none).
pub fn list_operators(state: &AppState, now: OffsetDateTime) -> CommandResult<Vec<Operator>> {
    // Listing who may approve is an admin's business; adding and disabling are also
    // checked by the core against the store.
    let who = state.signed_in_with(now, Role::Admin)?;
    operators::list(&*state.store()?, &who, now).map_err(operator_error)
}

pub fn add_operator(
    state: &AppState,
    now: OffsetDateTime,
    name: String,
    roles: Vec<String>,
    pin: String,
    pin_again: String,
) -> CommandResult<Operator> {
    let who = state.signed_in(now)?;
    same_pin(&pin, &pin_again)?;
    let set = parse_roles(&roles)?;
    operators::add_operator(
        &*state.store()?,
        &who,
        name.trim(),
        &set,
        &Secret::new(pin),
        now,
    )
    .map_err(operator_error)
}

pub fn disable_operator(state: &AppState, now: OffsetDateTime, name: String) -> CommandResult<()> {
    let who = state.signed_in(now)?;
    operators::disable_operator(&*state.store()?, &who, name.trim(), now).map_err(operator_error)
}

/// An operator whose PIN was reset (or is below the current rule) chooses a new one,
/// proving the PIN they have; then signs in with it.
pub fn change_pin(
    state: &AppState,
    now: OffsetDateTime,
    name: String,
    old_pin: String,
    new_pin: String,
    new_pin_again: String,
) -> CommandResult<OperatorView> {
    same_pin(&new_pin, &new_pin_again)?;
    let store = state.store()?;
    let new_pin = Secret::new(new_pin);
    operators::change_pin(&store, name.trim(), &Secret::new(old_pin), &new_pin, now)
        .map_err(operator_error)?;
    let session = operators::sign_in(&store, name.trim(), &new_pin, now).map_err(operator_error)?;
    let view = OperatorView::from(&session);
    state.set_session(Some(session))?;
    Ok(view)
}

pub fn enable_operator(state: &AppState, now: OffsetDateTime, name: String) -> CommandResult<()> {
    let who = state.signed_in(now)?;
    operators::enable_operator(&*state.store()?, &who, name.trim(), now).map_err(operator_error)
}

fn parse_roles(roles: &[String]) -> CommandResult<BTreeSet<Role>> {
    let mut set = BTreeSet::new();
    for r in roles {
        set.insert(
            Role::parse(r)
                .ok_or_else(|| operator_error(operators::Error::UnknownRole(r.clone())))?,
        );
    }
    if set.is_empty() {
        return Err(
            CommandError::shell(ShellCode::InvalidInput, "Choose at least one role.")
                .because(Reason::new("no_role_chosen")),
        );
    }
    Ok(set)
}

pub fn set_roles(
    state: &AppState,
    now: OffsetDateTime,
    name: String,
    roles: Vec<String>,
) -> CommandResult<()> {
    let who = state.signed_in(now)?;
    let set = parse_roles(&roles)?;
    operators::set_roles(&*state.store()?, &who, name.trim(), &set, now).map_err(operator_error)
}

/// An admin gives a person a one-time PIN (typed twice); the person chooses their own at
/// the next sign-in.
pub fn reset_pin(
    state: &AppState,
    now: OffsetDateTime,
    name: String,
    pin: String,
    pin_again: String,
) -> CommandResult<()> {
    let who = state.signed_in(now)?;
    same_pin(&pin, &pin_again)?;
    operators::reset_pin(&*state.store()?, &who, name.trim(), &Secret::new(pin), now)
        .map_err(operator_error)
}

/// The admin's settings: idle lock time and how long an approval stays valid.
#[derive(Debug, Serialize)]
pub struct SettingsView {
    pub idle_minutes: i64,
    /// True when `MERGEGUARD_IDLE_SECS` overrides the idle setting in this process.
    pub idle_overridden: bool,
    pub approval_hours: i64,
}

pub fn settings(state: &AppState, now: OffsetDateTime) -> CommandResult<SettingsView> {
    state.signed_in_with(now, Role::Admin)?;
    let store = state.store()?;
    let validity = mergeguard::approval::validity(&store)
        .map_err(|e| CommandError::new(e.code(), e.to_string()))?;
    Ok(SettingsView {
        idle_minutes: operators::idle_timeout(&store)
            .map_err(operator_error)?
            .whole_minutes(),
        idle_overridden: state.idle_overridden(),
        approval_hours: validity.whole_hours(),
    })
}

/// An admin changes the settings; the core checks the role and the ranges and logs each.
pub fn save_settings(
    state: &AppState,
    now: OffsetDateTime,
    idle_minutes: i64,
    approval_hours: i64,
) -> CommandResult<SettingsView> {
    let who = state.signed_in(now)?;
    let store = state.store()?;
    operators::set_idle_timeout(&store, &who, whole(idle_minutes, Unit::Minutes), now)
        .map_err(operator_error)?;
    mergeguard::approval::set_validity(&store, &who, whole(approval_hours, Unit::Hours), now)
        .map_err(|e| match e {
            mergeguard::approval::Error::BadValidity => {
                CommandError::shell(ShellCode::InvalidInput, e.to_string())
            }
            other => CommandError::new(other.code(), other.to_string()),
        })?;
    settings(state, now)
}
