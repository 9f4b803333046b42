//! Campaigns as documents in the window: new, open, save, save as, duplicate, close,
//! the campaign list, the recipient file and attachments. Plain functions over
//! [`AppState`] around `mergeguard::documents`; the `#[tauri::command]` wrappers are in
//! `commands.rs`.
//!
//! Architecture invariant: the preview, the checklist, the approval and the send all
//! work on the SAVED campaign file. `save` writes the file and reopens it, so what the
//! preview shows after a save is what `workflow::prepare` will read; unsaved edits live
//! only in the window (and its local draft copy) until then.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;

use mergeguard::audit::Kind;
use mergeguard::campaign::Campaign;
use mergeguard::compose::{Composer, Draft};
use mergeguard::documents::{self, CampaignForm, Entry, Problem, Stage};
use mergeguard::error::ErrorCode;
use mergeguard::operators::Role;
use mergeguard::preflight::campaign::import_campaign_recipients;

use crate::error::{CommandError, CommandResult, ShellCode};
use crate::oplog::record;
use crate::preview::{log_import, summary_json};
use crate::state::{lock, AppState};

/// Where the campaign stands, for the header and the start screen.
#[derive(Debug, Serialize)]
pub struct StageView {
    pub stage: Stage,
    pub sent: u64,
    pub total: u64,
    pub at: Option<String>,
}

/// An opened campaign: its saved form, its recipients (or why they could not be read)
/// and what still stops it from being checked, per field.
#[derive(Debug, Serialize)]
pub struct OpenedCampaign {
    pub path: String,
    /// The campaign's folder, shown so the user knows which files are used.
    pub folder: String,
    pub title: String,
    pub form: CampaignForm,
    /// The recipient file as resolved (a copy inside the folder, or the file named).
    pub recipients_path: Option<String>,
    /// The import summary when the recipient file was read.
    pub summary: Option<serde_json::Value>,
    /// Why the recipient file could not be read.
    pub recipients_error: Option<CommandError>,
    pub problems: Vec<Problem>,
    pub stage: StageView,
}

fn user(e: mergeguard::error::UserError) -> CommandError {
    CommandError::new(e.code, e.message)
}

/// The folder new campaigns go in (the user's documents folder, `MergeGuard`).
pub fn home(state: &AppState) -> CommandResult<PathBuf> {
    state.campaigns_dir()
}

fn current_path(state: &AppState) -> CommandResult<PathBuf> {
    lock(&state.campaign)?.path.clone().ok_or_else(|| {
        CommandError::shell(
            ShellCode::InvalidInput,
            "No campaign is open: open one from the Campaigns screen or start a new one.",
        )
    })
}

fn refuse_while_sending(state: &AppState) -> CommandResult<()> {
    if lock(&state.send)?.as_ref().is_some_and(|r| r.is_running()) {
        return Err(CommandError::shell(
            ShellCode::InvalidInput,
            "A send is running: pause or cancel it before changing the campaign.",
        ));
    }
    Ok(())
}

fn log_edit(
    state: &AppState,
    now: OffsetDateTime,
    operator: &str,
    id: &str,
    action: &str,
    detail: serde_json::Value,
) -> CommandResult<()> {
    let mut details = serde_json::json!({ "action": action });
    if let (Some(map), serde_json::Value::Object(extra)) = (details.as_object_mut(), detail) {
        map.extend(extra);
    }
    record(state, now, operator, Kind::Edit, Some(id), details)
}

/// Saves `form` to `path`, logs the edit (with the saved bytes' hash) and reopens it.
fn save_logged(
    state: &AppState,
    now: OffsetDateTime,
    operator: &str,
    path: &Path,
    form: &CampaignForm,
    action: &str,
    mut detail: serde_json::Value,
) -> CommandResult<OpenedCampaign> {
    let saved = documents::save(path, form).map_err(user)?;
    detail["sha256"] = saved.sha256.into();
    log_edit(state, now, operator, &form.id, action, detail)?;
    open(state, now, path)
}

/// Unknown merge fields, named with the first row they would fail on.
fn field_problems(composer: &Composer, fields: &[String], first_row: Option<u64>) -> Vec<Problem> {
    composer
        .unknown_fields(fields)
        .into_iter()
        .map(|name| {
            Problem::new(
                "text",
                match first_row {
                    Some(row) => format!(
                        "the field \"{name}\" is not in the recipient file (it fails from row {row} on)"
                    ),
                    None => format!("the field \"{name}\" is not in the recipient file"),
                },
            )
        })
        .collect()
}

/// Opens the campaign file at `path`: the form, the recipients and the composed
/// messages for the preview. A recipient file or template that cannot be read is
/// reported on the result, not as a failure, so the user can fix it in the window.
pub fn open(state: &AppState, now: OffsetDateTime, path: &Path) -> CommandResult<OpenedCampaign> {
    let who = state.signed_in(now)?;
    let form = documents::read(path).map_err(user)?;
    let campaign = Campaign::load(path).map_err(|e| CommandError::from(e.to_user()))?;
    let store = state.store()?;
    let suppressed = mergeguard::suppression::keys(&store)?;
    let mut problems = form.problems();
    let recipients_path = (!campaign.recipients.file.as_os_str().is_empty())
        .then(|| campaign.resolve(&campaign.recipients.file));
    let list = match &recipients_path {
        None => Err(CommandError::new(
            ErrorCode::InvalidCampaign,
            "No recipient file is chosen yet.",
        )),
        Some(file) => import_campaign_recipients(&campaign, Some(Arc::new(suppressed)))
            .map_err(CommandError::from)
            .and_then(|list| {
                log_import(state, now, who.operator(), file, &list)?;
                Ok(list)
            }),
    };
    let composed = Draft::from_campaign(&campaign)
        .map_err(|e| e.message)
        .and_then(|d| {
            Composer::new(d.clone())
                .map(|c| (d, c))
                .map_err(|e| e.message)
        });
    let mut session = lock(&state.session)?;
    session.clear();
    let (summary, recipients_error) = match list {
        Ok(list) => {
            let path_text = recipients_path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            session.set_recipients(list, path_text);
            (Some(summary_json(&session)?), None)
        }
        Err(e) => (None, Some(e)),
    };
    match composed {
        Ok((draft, composer)) => {
            if let Some(list) = &session.recipients {
                let first = list.recipients.first().map(|r| r.row);
                problems.extend(field_problems(&composer, &list.fields, first));
            }
            session.set_draft(draft, composer);
        }
        Err(message) if problems.is_empty() => problems.push(Problem::new("text", message)),
        Err(_) => {}
    }
    drop(session);
    let mut opened = lock(&state.campaign)?;
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    opened.path = Some(canonical.clone());
    opened.prepared = None;
    drop(opened);
    let folder = canonical.parent().unwrap_or(Path::new("")).to_owned();
    let saved = std::fs::metadata(&canonical)
        .and_then(|m| m.modified())
        .ok()
        .map(OffsetDateTime::from);
    let (stage, sent, total, at) = documents::stage(&store, &form.id, saved, now).map_err(user)?;
    Ok(OpenedCampaign {
        path: canonical.display().to_string(),
        title: folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        folder: folder.display().to_string(),
        form,
        recipients_path: recipients_path.map(|p| p.display().to_string()),
        summary,
        recipients_error,
        problems,
        stage: StageView {
            stage,
            sent,
            total,
            at,
        },
    })
}

/// Saves the form to the open campaign's file (templates first, then the campaign
/// file) and reopens it. Whatever was checked, submitted or approved before belongs to
/// the old bytes: the checklist result is dropped here and the approval no longer
/// matches the campaign's fingerprint, which the approval screen says.
pub fn save(
    state: &AppState,
    now: OffsetDateTime,
    form: CampaignForm,
) -> CommandResult<OpenedCampaign> {
    let who = state.signed_in_with(now, Role::Sender)?;
    refuse_while_sending(state)?;
    let path = current_path(state)?;
    let before = documents::read(&path).ok();
    if before.as_ref().is_some_and(|b| b.id != form.id) {
        return Err(CommandError::shell(
            ShellCode::InvalidInput,
            "The form belongs to another campaign than the one open; open it again.",
        ));
    }
    save_logged(
        state,
        now,
        who.operator(),
        &path,
        &form,
        "saved",
        serde_json::json!({}),
    )
}

/// What is wrong with an unsaved form, by the same rules a save applies (templates,
/// addresses, unsubscribe, and merge fields the open recipient list lacks, with the
/// first row they would fail on): the compose screen checks each field as it is typed.
pub fn check_form(
    state: &AppState,
    now: OffsetDateTime,
    form: CampaignForm,
) -> CommandResult<Vec<Problem>> {
    state.signed_in(now)?;
    let mut problems = form.problems();
    // The merge fields are checked even while the sender or subject is still empty:
    // those are stood in for, only to compile the templates.
    let mut probe = form.draft();
    if probe.subject.trim().is_empty() {
        probe.subject = "-".into();
    }
    if !probe.from_address.contains('@') {
        probe.from_address = "sender@example.invalid".into();
    }
    if let Ok(composer) = Composer::new(probe) {
        let session = lock(&state.session)?;
        if let Some(list) = &session.recipients {
            let first = list.recipients.first().map(|r| r.row);
            problems.extend(field_problems(&composer, &list.fields, first));
        }
    }
    Ok(problems)
}

/// A new, empty campaign in the campaigns folder, opened.
pub fn create(state: &AppState, now: OffsetDateTime, title: &str) -> CommandResult<OpenedCampaign> {
    let who = state.signed_in_with(now, Role::Sender)?;
    refuse_while_sending(state)?;
    let path = documents::create(&home(state)?, title, None).map_err(user)?;
    let id = documents::read(&path).map_err(user)?.id;
    log_edit(
        state,
        now,
        who.operator(),
        &id,
        "created",
        serde_json::json!({}),
    )?;
    open(state, now, &path)
}

/// A copy of the campaign at `path` (or the open one) under a new name and id, opened.
pub fn duplicate(
    state: &AppState,
    now: OffsetDateTime,
    path: Option<String>,
    title: &str,
) -> CommandResult<OpenedCampaign> {
    let who = state.signed_in_with(now, Role::Sender)?;
    refuse_while_sending(state)?;
    let source = match path {
        Some(p) => PathBuf::from(p.trim()),
        None => current_path(state)?,
    };
    let copy = documents::duplicate(&source, &home(state)?, title).map_err(user)?;
    let id = documents::read(&copy).map_err(user)?.id;
    log_edit(
        state,
        now,
        who.operator(),
        &id,
        "duplicated",
        serde_json::json!({ "from": documents::read(&source).map(|f| f.id).unwrap_or_default() }),
    )?;
    open(state, now, &copy)
}

/// "Save as": the open campaign's files copied under a new name with the form's
/// edits saved into the copy; the original stays as it was last saved.
pub fn save_as(
    state: &AppState,
    now: OffsetDateTime,
    form: CampaignForm,
    title: &str,
) -> CommandResult<OpenedCampaign> {
    let opened = duplicate(state, now, None, title)?;
    let copy = opened.form;
    let edited = CampaignForm {
        // The copy's id and its own copies of the files stay; the edits come over.
        id: copy.id,
        recipients_file: copy.recipients_file,
        attachments: form
            .attachments
            .iter()
            .map(|a| {
                match copy
                    .attachments
                    .iter()
                    .find(|c| Path::new(c).file_name() == Path::new(a).file_name())
                {
                    Some(c) => c.clone(),
                    None => a.clone(),
                }
            })
            .collect(),
        outbox_folder: copy.outbox_folder,
        ..form
    };
    save(state, now, edited)
}

/// Closes the open campaign: the window forgets its recipients, messages and checks.
pub fn close(state: &AppState, now: OffsetDateTime) -> CommandResult<()> {
    state.signed_in(now)?;
    refuse_while_sending(state)?;
    lock(&state.session)?.clear();
    let mut c = lock(&state.campaign)?;
    c.path = None;
    c.prepared = None;
    Ok(())
}

/// The start screen: every campaign in the campaigns folder with its stage.
#[derive(Debug, Serialize)]
pub struct CampaignList {
    pub home: String,
    pub campaigns: Vec<Entry>,
}

pub fn list(state: &AppState, now: OffsetDateTime) -> CommandResult<CampaignList> {
    state.signed_in(now)?;
    let home = home(state)?;
    let campaigns = documents::list(&home, &*state.store()?, now).map_err(user)?;
    Ok(CampaignList {
        home: home.display().to_string(),
        campaigns,
    })
}

/// Chooses the recipient file of the open campaign and saves that choice. `copy` (the
/// default in the window) copies the file into the campaign folder first, so a later
/// edit of the spreadsheet cannot change what was approved.
pub fn set_recipient_file(
    state: &AppState,
    now: OffsetDateTime,
    file: String,
    copy: bool,
    encoding: Option<String>,
    delimiter: Option<String>,
    email_column: Option<String>,
) -> CommandResult<OpenedCampaign> {
    let who = state.signed_in_with(now, Role::Sender)?;
    refuse_while_sending(state)?;
    let path = current_path(state)?;
    let src = PathBuf::from(file.trim());
    if file.trim().is_empty() {
        return Err(CommandError::shell(
            ShellCode::InvalidInput,
            "Choose the recipient file first.",
        ));
    }
    let mut form = documents::read(&path).map_err(user)?;
    form.recipients_file = if copy {
        documents::copy_in(&path, &src, None).map_err(user)?
    } else {
        let meta = std::fs::metadata(&src).map_err(|e| {
            CommandError::new(ErrorCode::Io, format!("cannot read {}: {e}", src.display()))
        })?;
        if !meta.is_file() {
            return Err(CommandError::shell(
                ShellCode::InvalidInput,
                format!("{} is not a file.", src.display()),
            ));
        }
        src.canonicalize().unwrap_or(src).display().to_string()
    };
    form.encoding = encoding.unwrap_or_default();
    form.delimiter = delimiter.unwrap_or_default();
    form.email_column = email_column.unwrap_or_default();
    save_logged(
        state,
        now,
        who.operator(),
        &path,
        &form,
        "recipient_file",
        serde_json::json!({ "copied": copy }),
    )
}

/// Copies a file into the open campaign's `attachments` folder and returns the path to
/// put in the form (the attachment counts once the campaign is saved).
pub fn add_attachment(
    state: &AppState,
    now: OffsetDateTime,
    file: String,
) -> CommandResult<String> {
    state.signed_in_with(now, Role::Sender)?;
    let path = current_path(state)?;
    documents::copy_in(
        &path,
        Path::new(file.trim()),
        Some(documents::ATTACHMENTS_DIR),
    )
    .map_err(user)
}
