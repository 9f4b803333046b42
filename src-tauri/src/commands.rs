//! The `#[tauri::command]` wrappers: each takes the managed state and the IPC arguments,
//! stamps the time and calls one plain function (in `preview`, `access`, `flow`,
//! `oplog`) that the Rust tests call directly. Keep in step with `build.rs`,
//! `capabilities/main.json` and `generate_handler!` in `main.rs`.

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{Manager, State};
use time::OffsetDateTime;

use mergeguard::approval::{Approval, Submission};
use mergeguard::documents::CampaignForm;
use mergeguard::operators::Operator;
use mergeguard::send::ReportRow;

use crate::access::{self, AppStatus, OperatorView, SettingsView};
use crate::campaigns::{self, CampaignList, OpenedCampaign};
use crate::error::CommandResult;
use crate::flow::{self, ChecklistView, ReviewView, SendEvent};
use crate::oplog::{self, FilterForm, LogView};
use crate::preview::{self, PreviewView, RecipientsPage};
use crate::relay::{self, DomainCheckRequest, ProfilesView};
use crate::state::AppState;
use crate::suppress;
use mergeguard::domain_setup::{DomainRecords, DomainSetupRequest};
use mergeguard::preflight::Check;
use mergeguard::profiles::{ConnectionTest, Profile, ProfileInput};

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

// ---------- sign-in and operators ----------

#[tauri::command]
pub fn app_status(state: State<'_, AppState>) -> CommandResult<AppStatus> {
    access::app_status(&state)
}

#[tauri::command]
pub fn create_first_admin(
    state: State<'_, AppState>,
    name: String,
    pin: String,
    pin_again: String,
) -> CommandResult<OperatorView> {
    access::create_first_admin(&state, now(), name, pin, pin_again)
}

#[tauri::command]
pub fn sign_in(
    state: State<'_, AppState>,
    name: String,
    pin: String,
) -> CommandResult<OperatorView> {
    access::sign_in(&state, now(), name, pin)
}

#[tauri::command]
pub fn sign_out(state: State<'_, AppState>) -> CommandResult<()> {
    access::sign_out(&state)
}

#[tauri::command]
pub fn list_operators(state: State<'_, AppState>) -> CommandResult<Vec<Operator>> {
    access::list_operators(&state, now())
}

#[tauri::command]
pub fn add_operator(
    state: State<'_, AppState>,
    name: String,
    roles: Vec<String>,
    pin: String,
    pin_again: String,
) -> CommandResult<Operator> {
    access::add_operator(&state, now(), name, roles, pin, pin_again)
}

#[tauri::command]
pub fn disable_operator(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    access::disable_operator(&state, now(), name)
}

#[tauri::command]
pub fn enable_operator(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    access::enable_operator(&state, now(), name)
}

#[tauri::command]
pub fn set_operator_roles(
    state: State<'_, AppState>,
    name: String,
    roles: Vec<String>,
) -> CommandResult<()> {
    access::set_roles(&state, now(), name, roles)
}

#[tauri::command]
pub fn reset_operator_pin(
    state: State<'_, AppState>,
    name: String,
    pin: String,
    pin_again: String,
) -> CommandResult<()> {
    access::reset_pin(&state, now(), name, pin, pin_again)
}

#[tauri::command]
pub fn change_pin(
    state: State<'_, AppState>,
    name: String,
    old_pin: String,
    new_pin: String,
    new_pin_again: String,
) -> CommandResult<access::OperatorView> {
    access::change_pin(&state, now(), name, old_pin, new_pin, new_pin_again)
}

#[tauri::command]
pub fn settings(state: State<'_, AppState>) -> CommandResult<SettingsView> {
    access::settings(&state, now())
}

#[tauri::command]
pub fn save_settings(
    state: State<'_, AppState>,
    idle_minutes: i64,
    approval_hours: i64,
) -> CommandResult<SettingsView> {
    access::save_settings(&state, now(), idle_minutes, approval_hours)
}

// ---------- recipients, compose, preview ----------

#[tauri::command]
pub fn recipients_page(
    state: State<'_, AppState>,
    offset: usize,
    limit: usize,
) -> CommandResult<RecipientsPage> {
    preview::recipients_page(&state, now(), offset, limit)
}

#[tauri::command]
pub fn open_campaign(state: State<'_, AppState>, path: String) -> CommandResult<OpenedCampaign> {
    campaigns::open(&state, now(), std::path::Path::new(path.trim()))
}

#[tauri::command]
pub fn save_campaign(
    state: State<'_, AppState>,
    form: CampaignForm,
) -> CommandResult<OpenedCampaign> {
    campaigns::save(&state, now(), form)
}

#[tauri::command]
pub fn save_campaign_as(
    state: State<'_, AppState>,
    form: CampaignForm,
    title: String,
) -> CommandResult<OpenedCampaign> {
    campaigns::save_as(&state, now(), form, &title)
}

#[tauri::command]
pub fn check_campaign_form(
    state: State<'_, AppState>,
    form: CampaignForm,
) -> CommandResult<Vec<mergeguard::documents::Problem>> {
    campaigns::check_form(&state, now(), form)
}

#[tauri::command]
pub fn new_campaign(state: State<'_, AppState>, title: String) -> CommandResult<OpenedCampaign> {
    campaigns::create(&state, now(), &title)
}

#[tauri::command]
pub fn duplicate_campaign(
    state: State<'_, AppState>,
    path: Option<String>,
    title: String,
) -> CommandResult<OpenedCampaign> {
    campaigns::duplicate(&state, now(), path, &title)
}

#[tauri::command]
pub fn close_campaign(state: State<'_, AppState>) -> CommandResult<()> {
    campaigns::close(&state, now())
}

#[tauri::command]
pub fn list_campaigns(state: State<'_, AppState>) -> CommandResult<CampaignList> {
    campaigns::list(&state, now())
}

#[tauri::command]
pub fn set_recipient_file(
    state: State<'_, AppState>,
    file: String,
    copy: bool,
    encoding: Option<String>,
    delimiter: Option<String>,
    email_column: Option<String>,
) -> CommandResult<OpenedCampaign> {
    campaigns::set_recipient_file(&state, now(), file, copy, encoding, delimiter, email_column)
}

#[tauri::command]
pub fn add_attachment(state: State<'_, AppState>, file: String) -> CommandResult<String> {
    campaigns::add_attachment(&state, now(), file)
}

// ---------- relay profiles and the sender domain ----------

#[tauri::command]
pub fn relay_profiles(state: State<'_, AppState>) -> CommandResult<ProfilesView> {
    relay::list(&state, now())
}

#[tauri::command]
pub fn save_relay_profile(
    state: State<'_, AppState>,
    original: Option<String>,
    input: ProfileInput,
    password: Option<String>,
) -> CommandResult<Profile> {
    relay::save(&state, now(), original, input, password)
}

#[tauri::command]
pub fn remove_relay_profile(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    relay::remove(&state, now(), name)
}

#[tauri::command]
pub async fn test_relay_profile(
    state: State<'_, AppState>,
    name: String,
) -> CommandResult<ConnectionTest> {
    relay::test(&state, now(), name).await
}

#[tauri::command]
pub async fn set_up_domain(
    state: State<'_, AppState>,
    request: DomainSetupRequest,
    profile: Option<String>,
) -> CommandResult<DomainRecords> {
    relay::set_up_domain(&state, now(), request, profile).await
}

#[tauri::command]
pub async fn domain_records(
    state: State<'_, AppState>,
    request: DomainSetupRequest,
    profile: Option<String>,
) -> CommandResult<DomainRecords> {
    relay::domain_records(&state, now(), request, profile).await
}

#[tauri::command]
pub async fn check_domain(
    state: State<'_, AppState>,
    request: DomainCheckRequest,
) -> CommandResult<Vec<Check>> {
    relay::check(&state, now(), request).await
}

#[tauri::command]
pub fn preview_message(state: State<'_, AppState>, index: usize) -> CommandResult<PreviewView> {
    preview::preview_message(&state, now(), index)
}

#[tauri::command]
pub fn find_message(state: State<'_, AppState>, query: String) -> CommandResult<Option<usize>> {
    preview::find_message(&state, now(), query)
}

/// Opens the example campaign that ships with the app: a copy in the user's documents
/// folder (the installed files are read-only and the example writes an Outbox folder next
/// to itself). Returns the copy's campaign file.
#[tauri::command]
pub fn example_campaign_path(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
) -> CommandResult<String> {
    preview::example_campaign(&state, &bundled_examples(&app)?)
}

/// The folder Tauri installed the example's files in (`/usr/lib/MergeGuard/examples`
/// from the .deb; next to the binary in a cargo build, where tauri-build copies them).
pub fn bundled_examples(app: &tauri::AppHandle) -> CommandResult<std::path::PathBuf> {
    app.path()
        .resource_dir()
        .map(|d| d.join("examples"))
        .map_err(|e| {
            crate::error::CommandError::new(
                mergeguard::error::ErrorCode::Io,
                format!("the app's own files cannot be found: {e}"),
            )
        })
}

// ---------- checklist, approval, send ----------

#[derive(Clone, Serialize)]
pub struct ChecklistProgress {
    done: usize,
    total: usize,
}

#[tauri::command]
pub async fn run_checklist(
    state: State<'_, AppState>,
    on_progress: Channel<ChecklistProgress>,
) -> CommandResult<ChecklistView> {
    // About a hundred updates per run, whatever the list size.
    let report = move |done: usize, total: usize| {
        let step = (total / 100).max(1);
        if done == total || done.is_multiple_of(step) {
            let _ = on_progress.send(ChecklistProgress { done, total });
        }
    };
    flow::run_checklist(&state, now(), &report).await
}

#[tauri::command]
pub fn review(state: State<'_, AppState>) -> CommandResult<ReviewView> {
    flow::review(&state, now())
}

#[tauri::command]
pub fn submit_for_approval(state: State<'_, AppState>) -> CommandResult<Submission> {
    flow::submit_for_approval(&state, now())
}

#[tauri::command]
pub fn approve(
    state: State<'_, AppState>,
    approver: String,
    pin: String,
    acknowledged: Vec<String>,
) -> CommandResult<Approval> {
    flow::approve(&state, now(), approver, pin, acknowledged)
}

#[tauri::command]
pub fn start_send(
    state: State<'_, AppState>,
    rate: String,
    on_event: Channel<SendEvent>,
) -> CommandResult<()> {
    // The worker reports through the channel; its handle is not needed here.
    flow::start_send(&state, now(), &rate, move |e| {
        let _ = on_event.send(e);
    })
    .map(drop)
}

#[tauri::command]
pub fn control_send(state: State<'_, AppState>, action: String) -> CommandResult<()> {
    flow::control_send(&state, now(), &action)
}

#[tauri::command]
pub fn requeue_unknown(state: State<'_, AppState>) -> CommandResult<usize> {
    flow::requeue_unknown(&state, now())
}

#[tauri::command]
pub fn save_relay_password(state: State<'_, AppState>, password: String) -> CommandResult<()> {
    flow::save_relay_password(&state, now(), password)
}

#[tauri::command]
pub fn send_report(state: State<'_, AppState>) -> CommandResult<Vec<ReportRow>> {
    flow::send_report(&state, now())
}

#[tauri::command]
pub fn export_send_report(state: State<'_, AppState>, path: String) -> CommandResult<usize> {
    flow::export_send_report(&state, now(), path)
}

// ---------- operation log ----------

#[tauri::command]
pub fn log_entries(state: State<'_, AppState>, filter: FilterForm) -> CommandResult<LogView> {
    oplog::log_entries(&state, now(), filter)
}

#[tauri::command]
pub fn export_log(
    state: State<'_, AppState>,
    filter: FilterForm,
    format: String,
    path: String,
) -> CommandResult<u64> {
    oplog::export_log(&state, now(), filter, &format, path)
}

#[tauri::command]
pub fn suppression_list(
    state: State<'_, AppState>,
) -> CommandResult<Vec<mergeguard::suppression::Entry>> {
    suppress::list(&state, now())
}

#[tauri::command]
pub fn suppression_add(
    state: State<'_, AppState>,
    addresses: String,
    reason: String,
) -> CommandResult<usize> {
    suppress::add(&state, now(), &addresses, &reason)
}

#[tauri::command]
pub fn suppression_remove(state: State<'_, AppState>, addresses: String) -> CommandResult<usize> {
    suppress::remove(&state, now(), &addresses)
}

#[tauri::command]
pub async fn test_send(
    state: State<'_, AppState>,
    row: u64,
    to: String,
) -> CommandResult<mergeguard::workflow::TestSent> {
    flow::test_send(&state, now(), row, to).await
}
