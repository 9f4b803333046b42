//! The IPC commands: short adapters that convert IPC types, call the core and map every
//! error to a `UserError { code, message }` the UI translates.

use std::path::{Path, PathBuf};
use std::sync::MutexGuard;

use serde::{Deserialize, Serialize};
use tauri::{Manager, State};

use mergeguard::campaign::Campaign;
use mergeguard::compose::{BuiltMessage, Composer, Draft};
use mergeguard::error::{ErrorCode, UserError};
use mergeguard::recipients::{self, ImportOptions, Recipient, RecipientList, Rejection};

use mergeguard::preflight::campaign::import_campaign_recipients;
use crate::state::{AppState, Session};

/// How many recipients the import summary carries; the table pages through the rest.
const FIRST_PAGE: usize = 50;
/// The most recipients one `recipients_page` call returns.
const MAX_PAGE: usize = 500;

type CommandResult<T> = Result<T, UserError>;

fn session<'a>(state: &'a State<'_, AppState>) -> CommandResult<MutexGuard<'a, Session>> {
    state.session.lock().map_err(|_| {
        UserError::new(ErrorCode::Internal, "An earlier action failed midway; restart MergeGuard.")
    })
}

fn parse_choice<T: std::str::FromStr<Err = String> + Default>(
    value: Option<String>,
) -> CommandResult<T> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(T::default()),
        Some(s) => s.parse().map_err(|m| UserError::new(ErrorCode::InvalidCsv, m)),
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

fn import_list(path: &Path, options: &ImportOptions) -> CommandResult<RecipientList> {
    recipients::import_path(path, options).map_err(|e| UserError::new(e.code(), e.to_string()))
}

#[tauri::command]
pub fn import_recipients(
    state: State<'_, AppState>,
    path: String,
    encoding: Option<String>,
    delimiter: Option<String>,
    email_column: Option<String>,
) -> CommandResult<serde_json::Value> {
    let options = ImportOptions {
        encoding: parse_choice(encoding)?,
        delimiter: parse_choice(delimiter)?,
        email_column: email_column.filter(|c| !c.trim().is_empty()),
        ..ImportOptions::default()
    };
    let list = import_list(Path::new(path.trim()), &options)?;
    let mut session = session(&state)?;
    session.set_recipients(list, path.trim().to_owned());
    summary_json(&session)
}

fn summary_json(session: &Session) -> CommandResult<serde_json::Value> {
    let (Some(list), Some(path)) = (&session.recipients, &session.recipients_path) else {
        return Err(UserError::new(ErrorCode::Internal, "No recipient list is loaded."));
    };
    serde_json::to_value(summarise(list, path))
        .map_err(|e| UserError::new(ErrorCode::Internal, e.to_string()))
}

#[derive(Serialize)]
pub struct RecipientsPage {
    offset: usize,
    total: usize,
    recipients: Vec<Recipient>,
}

#[tauri::command]
pub fn recipients_page(
    state: State<'_, AppState>,
    offset: usize,
    limit: usize,
) -> CommandResult<RecipientsPage> {
    let session = session(&state)?;
    let list = session
        .recipients
        .as_ref()
        .ok_or_else(|| UserError::new(ErrorCode::Internal, "No recipient list is loaded."))?;
    let total = list.recipients.len();
    let start = offset.min(total);
    let end = start.saturating_add(limit.min(MAX_PAGE)).min(total);
    Ok(RecipientsPage { offset: start, total, recipients: list.recipients[start..end].to_vec() })
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
        Composer::new(draft.clone()).map_err(|e| UserError::new(e.code, e.message))?;
    Ok((draft, composer))
}

#[tauri::command]
pub fn open_campaign(state: State<'_, AppState>, path: String) -> CommandResult<serde_json::Value> {
    let path = PathBuf::from(path.trim());
    let campaign = Campaign::load(&path).map_err(|e| UserError::new(e.code(), e.to_string()))?;
    let to_user = |e: mergeguard::compose::DraftError| UserError::new(e.code, e.message);
    let file = campaign.resolve(&campaign.recipients.file);
    let list = import_campaign_recipients(&campaign)?;
    let (draft, composer) = compile(Draft::from_campaign(&campaign).map_err(to_user)?)?;
    let fields = DraftFields::from(&draft);
    let mut session = session(&state)?;
    session.set_recipients(list, file.display().to_string());
    session.set_draft(draft, composer);
    Ok(serde_json::json!({ "summary": summary_json(&session)?, "draft": fields }))
}

#[tauri::command]
pub fn update_draft(state: State<'_, AppState>, draft: DraftFields) -> CommandResult<DraftFields> {
    let mut session = session(&state)?;
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
    error: Option<UserError>,
}

#[tauri::command]
pub fn preview_message(state: State<'_, AppState>, index: usize) -> CommandResult<PreviewView> {
    let mut session = session(&state)?;
    let (total, row, email) = match &session.recipients {
        Some(list) => match list.recipients.get(index) {
            Some(r) => (list.recipients.len(), r.row, r.email.clone()),
            None => {
                return Err(UserError::new(
                    ErrorCode::Internal,
                    format!("There is no message {} of {}.", index + 1, list.recipients.len()),
                ))
            }
        },
        None => return Err(UserError::new(ErrorCode::Internal, "No recipient list is loaded.")),
    };
    let built = session
        .built(index)
        .ok_or_else(|| UserError::new(ErrorCode::Internal, "No message has been composed yet."))?;
    let (message, error) = match built {
        Ok(b) => (
            Some(MessageView { built: b.clone(), raw: String::from_utf8_lossy(&b.raw).into_owned() }),
            None,
        ),
        Err(e) => (None, Some(UserError::new(e.code, e.message.clone()))),
    };
    Ok(PreviewView { index, total, row, email, message, error })
}

#[tauri::command]
pub fn find_message(state: State<'_, AppState>, query: String) -> CommandResult<Option<usize>> {
    let session = session(&state)?;
    let needle = query.trim().to_lowercase();
    if needle.is_empty() {
        return Ok(None);
    }
    Ok(session.recipients.as_ref().and_then(|list| {
        list.recipients.iter().position(|r| r.email.to_lowercase().contains(&needle))
    }))
}

/// The bundled example campaign, so a new user can try every screen at once.
#[tauri::command]
pub fn example_campaign_path(app: tauri::AppHandle) -> Option<String> {
    let bundled = app.path().resource_dir().ok().map(|d| d.join("examples/campaign.toml"));
    // A build from source (cargo run) also finds the examples next to the sources.
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/campaign.toml");
    bundled
        .into_iter()
        .chain(std::iter::once(source))
        .find(|p| p.is_file())
        .map(|p| p.canonicalize().unwrap_or(p).display().to_string())
}
