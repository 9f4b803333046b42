//! Recipients, compose and preview: plain functions over [`AppState`] that convert IPC
//! types, call the core and map its errors. The `#[tauri::command]` wrappers are in
//! `commands.rs`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use mergeguard::campaign::Campaign;
use mergeguard::compose::{BuiltMessage, Composer, Draft};
use mergeguard::error::ErrorCode;
use mergeguard::preflight::campaign::import_campaign_recipients;
use mergeguard::recipients::{self, ImportOptions, Recipient, RecipientList, Rejection};

use mergeguard::audit::Kind;

use crate::error::{CommandError, CommandResult};
use crate::oplog::{record, sha256_hex};
use crate::state::{lock, AppState, Session};

/// The import's entry in the operation log: which file (name and content hash) and what
/// came of it.
fn log_import(
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

fn parse_choice<T: std::str::FromStr<Err = String> + Default>(
    value: Option<String>,
) -> CommandResult<T> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(T::default()),
        Some(s) => s
            .parse()
            .map_err(|m| CommandError::new(ErrorCode::InvalidCsv, m)),
    }
}

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

fn summary_json(session: &Session) -> CommandResult<serde_json::Value> {
    let (Some(list), Some(path)) = (&session.recipients, &session.recipients_path) else {
        return Err(CommandError::internal("No recipient list is loaded."));
    };
    serde_json::to_value(summarise(list, path)).map_err(|e| CommandError::internal(e.to_string()))
}

pub fn import_recipients(
    state: &AppState,
    now: OffsetDateTime,
    path: String,
    encoding: Option<String>,
    delimiter: Option<String>,
    email_column: Option<String>,
) -> CommandResult<serde_json::Value> {
    let who = state.signed_in(now)?;
    let options = ImportOptions {
        encoding: parse_choice(encoding)?,
        delimiter: parse_choice(delimiter)?,
        email_column: email_column.filter(|c| !c.trim().is_empty()),
        ..ImportOptions::default()
    };
    let list = recipients::import_path(Path::new(path.trim()), &options)
        .map_err(|e| CommandError::new(e.code(), e.to_string()))?;
    log_import(state, now, who.operator(), Path::new(path.trim()), &list)?;
    let mut session = lock(&state.session)?;
    session.set_recipients(list, path.trim().to_owned());
    // A bare list is not a campaign: the checklist needs a campaign file.
    let mut campaign = lock(&state.campaign)?;
    campaign.path = None;
    campaign.prepared = None;
    summary_json(&session)
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
        .ok_or_else(|| CommandError::internal("No recipient list is loaded."))?;
    let total = list.recipients.len();
    let start = offset.min(total);
    let end = start.saturating_add(limit.min(MAX_PAGE)).min(total);
    Ok(RecipientsPage {
        offset: start,
        total,
        recipients: list.recipients[start..end].to_vec(),
    })
}

/// The compose form's fields, in both directions.
#[derive(Serialize, Deserialize)]
pub struct DraftFields {
    from_name: String,
    from_address: String,
    reply_to: Option<String>,
    subject: String,
    text: String,
    html: Option<String>,
    /// Read-only in the form: attachments come from the campaign file.
    #[serde(default)]
    attachments: Vec<String>,
}

impl From<&Draft> for DraftFields {
    fn from(d: &Draft) -> Self {
        DraftFields {
            from_name: d.from_name.clone(),
            from_address: d.from_address.clone(),
            reply_to: d.reply_to.clone(),
            subject: d.subject.clone(),
            text: d.text.clone(),
            html: d.html.clone(),
            attachments: d.attachments.iter().map(|a| a.file_name.clone()).collect(),
        }
    }
}

fn compile(draft: Draft) -> CommandResult<(Draft, Composer)> {
    let composer =
        Composer::new(draft.clone()).map_err(|e| CommandError::new(e.code, e.message))?;
    Ok((draft, composer))
}

/// Copies the example campaign from `bundled` (the installed resources) into the user's
/// campaigns folder and returns the copy's campaign file; the UI then opens it like any
/// other campaign.
pub fn example_campaign(state: &AppState, bundled: &Path) -> CommandResult<String> {
    let home = mergeguard::example::campaigns_home(state.store()?.dir());
    let copy = mergeguard::example::copy_example(bundled, &home)?;
    Ok(copy.display().to_string())
}

/// Opens a campaign file: its recipients and message for the preview, and the file
/// itself for the checklist, approval and send screens (which always read it from disk).
pub fn open_campaign(
    state: &AppState,
    now: OffsetDateTime,
    path: String,
) -> CommandResult<serde_json::Value> {
    let who = state.signed_in(now)?;
    let path = PathBuf::from(path.trim());
    let campaign = Campaign::load(&path).map_err(|e| CommandError::new(e.code(), e.to_string()))?;
    let to_user = |e: mergeguard::compose::DraftError| CommandError::new(e.code, e.message);
    let file = campaign.resolve(&campaign.recipients.file);
    let suppressed = mergeguard::suppression::keys(&*state.store()?)?;
    let list = import_campaign_recipients(&campaign, Some(std::sync::Arc::new(suppressed)))?;
    log_import(state, now, who.operator(), &file, &list)?;
    let (draft, composer) = compile(Draft::from_campaign(&campaign).map_err(to_user)?)?;
    let fields = DraftFields::from(&draft);
    let mut session = lock(&state.session)?;
    session.set_recipients(list, file.display().to_string());
    session.set_draft(draft, composer);
    let mut opened = lock(&state.campaign)?;
    opened.path = Some(path.canonicalize().unwrap_or(path));
    opened.prepared = None;
    Ok(serde_json::json!({ "summary": summary_json(&session)?, "draft": fields }))
}

pub fn update_draft(
    state: &AppState,
    now: OffsetDateTime,
    draft: DraftFields,
) -> CommandResult<DraftFields> {
    let who = state.signed_in(now)?;
    let mut session = lock(&state.session)?;
    // Keep what the form does not edit (campaign id, attachments, unsubscribe).
    let mut next = session.draft.clone().unwrap_or_else(|| Draft {
        campaign_id: "mergeguard-draft".into(),
        ..Draft::default()
    });
    let blank_to_none = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
    next.from_name = draft.from_name;
    next.from_address = draft.from_address.trim().to_owned();
    next.reply_to = blank_to_none(draft.reply_to).map(|r| r.trim().to_owned());
    next.subject = draft.subject;
    next.text = draft.text;
    next.html = blank_to_none(draft.html);
    let (next, composer) = compile(next)?;
    let fields = DraftFields::from(&next);
    // The edit's content hash: sender, subject and both bodies, separated so that
    // moving text between fields changes it.
    let content = [
        next.from_name.as_str(),
        &next.from_address,
        next.reply_to.as_deref().unwrap_or(""),
        &next.subject,
        &next.text,
        next.html.as_deref().unwrap_or(""),
    ]
    .join("\u{0}");
    record(
        state,
        now,
        who.operator(),
        Kind::Edit,
        Some(&next.campaign_id),
        serde_json::json!({"sha256": sha256_hex(content.as_bytes())}),
    )?;
    session.set_draft(next, composer);
    Ok(fields)
}

/// One built message as the preview shows it, with the exact bytes as text.
#[derive(Serialize)]
pub struct MessageView {
    #[serde(flatten)]
    built: BuiltMessage,
    /// The RFC 5322 source; lossy only if the core ever emits non-UTF-8 bytes.
    raw: String,
}

#[derive(Serialize)]
pub struct PreviewView {
    index: usize,
    total: usize,
    row: u64,
    email: String,
    /// Set when the message was built.
    message: Option<MessageView>,
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
        None => return Err(CommandError::internal("No recipient list is loaded.")),
    };
    let built = session
        .built(index)
        .ok_or_else(|| CommandError::internal("No message has been composed yet."))?;
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
    Ok(session.recipients.as_ref().and_then(|list| {
        list.recipients
            .iter()
            .position(|r| r.email().to_lowercase().contains(&needle))
    }))
}
