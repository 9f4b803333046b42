//! The operation log viewer: filtered entries, chain verification and export, as plain
//! functions over [`AppState`]. The log itself (append-only, hash-chained, secrets
//! refused) is the core's `audit` module.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};

use mergeguard::audit::{self, Entry, Filter, Kind};
use mergeguard::error::ErrorCode;

use crate::error::{CommandError, CommandResult, ShellCode};
use crate::state::AppState;

/// Appends one entry for what the window just did (an import, an edit, a checklist run).
/// The core's audit module refuses details that hold a secret.
pub fn record(
    state: &AppState,
    now: OffsetDateTime,
    operator: &str,
    kind: Kind,
    campaign: Option<&str>,
    details: serde_json::Value,
) -> CommandResult<()> {
    audit::append(&*state.store()?, now, operator, kind, campaign, details)
        .map(drop)
        .map_err(audit_error)
}

/// SHA-256 hex of some bytes (file contents, a draft), as the log records content.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The most entries one viewer call returns (the newest); export writes them all.
const VIEW_LIMIT: usize = 500;

/// The viewer's filter form; empty fields match everything. Dates are `YYYY-MM-DD`, days
/// of the window's own time zone (`utc_offset_minutes`, east positive; UTC when absent),
/// both ends inclusive: the log shows local times, so its filter counts local days.
#[derive(Debug, Default, Deserialize)]
pub struct FilterForm {
    pub operator: Option<String>,
    pub campaign: Option<String>,
    pub kind: Option<String>,
    pub from: Option<String>,
    pub until: Option<String>,
    pub utc_offset_minutes: Option<i32>,
}

fn blank(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn day(
    v: &Option<String>,
    what: &str,
    offset_minutes: Option<i32>,
) -> CommandResult<Option<OffsetDateTime>> {
    let Some(text) = blank(v) else {
        return Ok(None);
    };
    // Whole minutes within ±18 hours, as `UtcOffset` allows; anything else is UTC.
    let offset = offset_minutes
        .and_then(|m| time::UtcOffset::from_whole_seconds(m.saturating_mul(60)).ok())
        .unwrap_or(time::UtcOffset::UTC);
    Date::parse(&text, format_description!("[year]-[month]-[day]"))
        .map(|d| Some(d.midnight().assume_offset(offset)))
        .map_err(|_| {
            CommandError::shell(
                ShellCode::InvalidInput,
                format!("The {what} date {text:?} is not a date like 2026-11-28."),
            )
            .because(mergeguard::error::Reason::new("bad_date").with("text", text.as_str()))
        })
}

impl FilterForm {
    fn to_filter(&self) -> CommandResult<Filter> {
        let kinds = match blank(&self.kind) {
            None => Vec::new(),
            Some(k) => vec![Kind::parse(&k).ok_or_else(|| {
                CommandError::shell(
                    ShellCode::InvalidInput,
                    format!("Unknown kind of entry {k:?}."),
                )
            })?],
        };
        Ok(Filter {
            operator: blank(&self.operator),
            campaign: blank(&self.campaign),
            kinds,
            from: day(&self.from, "from", self.utc_offset_minutes)?,
            // The form's end day is inclusive; the core's bound is exclusive.
            until: day(&self.until, "until", self.utc_offset_minutes)?
                .map(|d| d + Duration::days(1)),
        })
    }
}

fn audit_error(e: audit::Error) -> CommandError {
    CommandError::new(e.code(), e.to_string())
}

#[derive(Debug, Serialize)]
pub struct VerifyView {
    pub intact: bool,
    pub entries: u64,
    pub broken_ids: Vec<i64>,
}

#[derive(Debug, Serialize)]
pub struct LogView {
    /// How many entries match; `entries` holds at most the newest 500 of them.
    pub total: usize,
    pub entries: Vec<Entry>,
    pub verification: VerifyView,
    pub kinds: Vec<&'static str>,
}

pub fn log_entries(
    state: &AppState,
    now: OffsetDateTime,
    form: FilterForm,
) -> CommandResult<LogView> {
    state.signed_in(now)?;
    let store = state.store()?;
    let filter = form.to_filter()?;
    let mut entries = audit::entries(&store, &filter).map_err(audit_error)?;
    let total = entries.len();
    if total > VIEW_LIMIT {
        entries.drain(..total - VIEW_LIMIT);
    }
    entries.reverse();
    let v = audit::verify(&store).map_err(audit_error)?;
    Ok(LogView {
        total,
        entries,
        verification: VerifyView {
            intact: v.is_intact(),
            entries: v.entries,
            broken_ids: v.broken_ids(),
        },
        kinds: Kind::ALL.iter().map(|k| k.as_str()).collect(),
    })
}

/// Exports the matching entries to `path` as `csv` or `json`; returns how many.
pub fn export_log(
    state: &AppState,
    now: OffsetDateTime,
    form: FilterForm,
    format: &str,
    path: String,
) -> CommandResult<u64> {
    state.signed_in(now)?;
    let store = state.store()?;
    let filter = form.to_filter()?;
    let path = PathBuf::from(path.trim());
    if path.as_os_str().is_empty() {
        return Err(CommandError::shell(
            ShellCode::InvalidInput,
            "Choose a file to export to.",
        ));
    }
    let file = std::fs::File::create(&path).map_err(|e| {
        CommandError::new(
            ErrorCode::Io,
            format!("cannot write {}: {e}", path.display()),
        )
    })?;
    let out = std::io::BufWriter::new(file);
    match format {
        "csv" => audit::export_csv(&store, &filter, out),
        "json" => audit::export_json(&store, &filter, out),
        other => {
            return Err(CommandError::shell(
                ShellCode::InvalidInput,
                format!("Unknown export format {other:?}: use csv or json."),
            ))
        }
    }
    .map_err(audit_error)
}

#[cfg(test)]
mod day_tests {
    use super::day;
    use time::macros::datetime;

    #[test]
    fn a_filter_day_is_a_day_of_the_windows_time_zone() {
        let text = Some("2026-12-01".to_owned());
        // Tokyo (UTC+9): the day starts at 15:00 UTC the day before.
        assert_eq!(
            day(&text, "from", Some(540)).unwrap(),
            Some(datetime!(2026-11-30 15:00 UTC))
        );
        assert_eq!(
            day(&text, "from", None).unwrap(),
            Some(datetime!(2026-12-01 00:00 UTC))
        );
        // An impossible offset counts as UTC; a word is refused with its reason.
        assert_eq!(
            day(&text, "from", Some(100_000)).unwrap(),
            Some(datetime!(2026-12-01 00:00 UTC))
        );
        let e = day(&Some("tomorrow".into()), "from", Some(540)).unwrap_err();
        assert_eq!(e.reason.map(|r| r.key), Some("bad_date"));
    }
}
