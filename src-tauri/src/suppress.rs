//! The "Do not mail" screen: the suppression list as plain functions over [`AppState`].
//! Who may add or remove, and what is logged, are the core's rules
//! (`mergeguard::suppression`); this only splits the text the person typed.

use std::str::FromStr;

use time::OffsetDateTime;

use mergeguard::suppression::{self, Entry, Reason};

use crate::error::{CommandError, CommandResult, ShellCode};
use crate::state::AppState;

/// The listed addresses, oldest first.
pub fn list(state: &AppState, now: OffsetDateTime) -> CommandResult<Vec<Entry>> {
    state.signed_in(now)?;
    Ok(suppression::list(&*state.store()?)?)
}

/// One address per line (blank lines skipped); returns how many were new.
pub fn add(
    state: &AppState,
    now: OffsetDateTime,
    addresses: &str,
    reason: &str,
) -> CommandResult<usize> {
    let who = state.signed_in(now)?;
    let reason =
        Reason::from_str(reason).map_err(|e| CommandError::shell(ShellCode::InvalidInput, e))?;
    let lines = lines_of(addresses)?;
    Ok(suppression::add(
        &*state.store()?,
        &who,
        &lines,
        reason,
        now,
    )?)
}

/// Removes addresses (the core allows admins only); returns how many were listed.
pub fn remove(state: &AppState, now: OffsetDateTime, addresses: &str) -> CommandResult<usize> {
    let who = state.signed_in(now)?;
    let lines = lines_of(addresses)?;
    Ok(suppression::remove(&*state.store()?, &who, &lines, now)?)
}

fn lines_of(text: &str) -> CommandResult<Vec<String>> {
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if lines.is_empty() {
        return Err(CommandError::shell(
            ShellCode::InvalidInput,
            "Type at least one address, one per line.",
        ));
    }
    Ok(lines)
}
