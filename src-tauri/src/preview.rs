//! Recipients, compose and preview: plain functions over [`AppState`] that convert IPC
//! types, call the core and map its errors. The `#[tauri::command]` wrappers are in
//! `commands.rs`.

use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;

use mergeguard::compose::BuiltMessage;
use mergeguard::recipients::{Recipient, RecipientList, Rejection};

use mergeguard::audit::Kind;

use crate::error::{CommandError, CommandResult};
use crate::oplog::{record, sha256_hex};
use crate::state::{lock, AppState, Session};

/// The import's entry in the operation log: which file (name and content hash) and what
/// came of it.
pub(crate) fn log_import(
    state: &AppState,
    now: OffsetDateTime,
    operator: &str,
    path: &Path,
    list: &RecipientList,
) -> CommandResult<()> {
    let sha256 = std::fs::read(path)
        .map(|b| sha256_hex(&b))
        .unwrap_or_default();
    record(
        state,
        now,
        operator,
        Kind::Import,
        None,
        serde_json::json!({
            "file": path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            "sha256": sha256,
            "encoding": list.encoding,
            "recipients": list.recipients.len(),
            "rejected": list.rejected.len(),
        }),
    )
}

/// How many recipients the import summary carries; the table pages through the rest.
const FIRST_PAGE: usize = 50;
/// The most recipients one `recipients_page` call returns.
const MAX_PAGE: usize = 500;

/// What the recipients screen shows after an import.
#[derive(Serialize)]
pub struct ImportSummary<'a> {
    path: &'a str,
    encoding: &'a str,
    delimiter: &'a str,
    email_column: &'a str,
    fields: &'a [String],
    recipient_count: usize,
    rejected_count: usize,
    /// The first recipients; the rest come through `recipients_page`.
    recipients: &'a [Recipient],
    /// Every rejected row: nothing is hidden from the operator.
    rejected: &'a [Rejection],
}

fn summarise<'a>(list: &'a RecipientList, path: &'a str) -> ImportSummary<'a> {
    ImportSummary {
        path,
        encoding: &list.encoding,
        delimiter: &list.delimiter,
        email_column: &list.email_column,
        fields: &list.fields,
        recipient_count: list.recipients.len(),
        rejected_count: list.rejected.len(),
        recipients: &list.recipients[..list.recipients.len().min(FIRST_PAGE)],
        rejected: &list.rejected,
    }
}

pub(crate) fn summary_json(session: &Session) -> CommandResult<serde_json::Value> {
    let (Some(list), Some(path)) = (&session.recipients, &session.recipients_path) else {
        return Err(CommandError::not_ready(
            "no_recipients",
            "No recipient list is loaded.",
        ));
    };
    serde_json::to_value(summarise(list, path)).map_err(|e| CommandError::internal(e.to_string()))
}

#[derive(Serialize)]
pub struct RecipientsPage {
    offset: usize,
    total: usize,
    recipients: Vec<Recipient>,
}

pub fn recipients_page(
    state: &AppState,
    now: OffsetDateTime,
    offset: usize,
    limit: usize,
) -> CommandResult<RecipientsPage> {
    state.signed_in(now)?;
    let session = lock(&state.session)?;
    let list = session
        .recipients
        .as_ref()
        .ok_or_else(|| CommandError::not_ready("no_recipients", "No recipient list is loaded."))?;
    let total = list.recipients.len();
    let start = offset.min(total);
    let end = start.saturating_add(limit.min(MAX_PAGE)).min(total);
    Ok(RecipientsPage {
        offset: start,
        total,
        recipients: list.recipients[start..end].to_vec(),
    })
}

/// Copies the example campaign from `bundled` (the installed resources) into the user's
/// campaigns folder and returns the copy's campaign file; the UI then opens it like any
/// other campaign.
pub fn example_campaign(state: &AppState, bundled: &Path) -> CommandResult<String> {
    let home = state.campaigns_dir()?;
    let copy = mergeguard::example::copy_example(bundled, &home)?;
    Ok(copy.display().to_string())
}

/// One built message as the preview shows it, with the exact bytes as text.
#[derive(Serialize)]
pub struct MessageView {
    #[serde(flatten)]
    built: BuiltMessage,
    /// The RFC 5322 source; lossy only if the core ever emits non-UTF-8 bytes.
    pub(crate) raw: String,
}

#[derive(Serialize)]
pub struct PreviewView {
    index: usize,
    total: usize,
    row: u64,
    email: String,
    /// Set when the message was built.
    pub(crate) message: Option<MessageView>,
    /// Set when this recipient's message cannot be built (e.g. a missing field).
    error: Option<CommandError>,
}

pub fn preview_message(
    state: &AppState,
    now: OffsetDateTime,
    index: usize,
) -> CommandResult<PreviewView> {
    state.signed_in(now)?;
    let mut session = lock(&state.session)?;
    let (total, row, email) = match &session.recipients {
        Some(list) => match list.recipients.get(index) {
            Some(r) => (list.recipients.len(), r.row, r.email().to_string()),
            None => {
                return Err(CommandError::internal(format!(
                    "There is no message {} of {}.",
                    index + 1,
                    list.recipients.len()
                )))
            }
        },
        None => {
            return Err(CommandError::not_ready(
                "no_recipients",
                "No recipient list is loaded.",
            ))
        }
    };
    let built = session.built(index).ok_or_else(|| {
        CommandError::not_ready("no_message", "No message has been composed yet.")
    })?;
    let (message, error) = match built {
        Ok(b) => (
            Some(MessageView {
                built: b.clone(),
                raw: String::from_utf8_lossy(&b.raw).into_owned(),
            }),
            None,
        ),
        Err(e) => (None, Some(CommandError::new(e.code, e.message.clone()))),
    };
    Ok(PreviewView {
        index,
        total,
        row,
        email,
        message,
        error,
    })
}

pub fn find_message(
    state: &AppState,
    now: OffsetDateTime,
    query: String,
) -> CommandResult<Option<usize>> {
    state.signed_in(now)?;
    let session = lock(&state.session)?;
    let needle = query.trim().to_lowercase();
    if needle.is_empty() {
        return Ok(None);
    }
    // By address or by any other cell (a name, a customer number): what the person
    // remembers about the customer.
    Ok(session.recipients.as_ref().and_then(|list| {
        list.recipients.iter().position(|r| {
            r.email().to_lowercase().contains(&needle)
                || r.values().any(|v| v.to_lowercase().contains(&needle))
        })
    }))
}
