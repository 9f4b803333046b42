//! The mailbox loop, DMARC reports and OAuth2 sign-in in the window: thin commands over
//! `mergeguard::mailbox`, `mergeguard::dmarc_report` and `mergeguard::oauth`. Who may do
//! what (admins set mailboxes and sign-ins, senders and admins check the mailbox),
//! what is logged, and where tokens go (the OS keychain and memory, never a response)
//! are decided in the core; this layer adds the idle lock (`signed_in`), keeps a started
//! sign-in (device or browser) between its two calls, and opens the provider's sign-in
//! page in the default browser (only that address, made by the core; the window has no
//! command that opens any other).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use tauri::State;
use time::OffsetDateTime;

use mergeguard::dmarc_report::{self, AggregateReport, Summary};
use mergeguard::error::{ErrorCode, UserError};
use mergeguard::mailbox::{self, MailboxInput, MailboxSettings, SyncOptions, SyncReport};
use mergeguard::oauth::{self, BrowserSignIn, DeviceSignIn, Flow, OAuthInput, OAuthSettings};
use mergeguard::preflight::dns::PtrLimits;
use mergeguard::profiles::{self, AuthMethod};

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn user(e: impl Into<UserError>) -> CommandError {
    CommandError::from(e.into())
}

/// When the profile's mailbox was last read.
#[derive(Debug, Serialize)]
pub struct LastSync {
    pub folder: String,
    pub uidvalidity: u32,
    pub last_uid: u32,
    pub synced_at: String,
}

/// A profile's mailbox and sign-in, as the settings screen shows them.
#[derive(Debug, Serialize)]
pub struct MailboxView {
    pub profile: String,
    pub mailbox: Option<MailboxSettings>,
    pub last_sync: Option<LastSync>,
    /// `password` or `oauth2`.
    pub sign_in: &'static str,
    pub oauth: Option<OAuthSettings>,
    /// OAuth2 only: a refresh token is stored; `None` when the keychain could not be asked.
    pub signed_in: Option<bool>,
    /// OAuth2 only: how the provider signs in, the usual way first.
    pub flows: Vec<Flow>,
    /// OAuth2 only: a client secret is stored (never the secret itself).
    pub client_secret_saved: Option<bool>,
}

pub fn view(state: &AppState, now: OffsetDateTime, profile: String) -> CommandResult<MailboxView> {
    state.signed_in(now)?;
    let store = state.store()?;
    let p = profiles::get(&store, &profile)?;
    let oauth = oauth::settings(&store, &p.name).map_err(user)?;
    let last_sync =
        mailbox::last_sync(&store, &p.name)?.map(|(folder, uidvalidity, last_uid, synced_at)| {
            LastSync {
                folder,
                uidvalidity,
                last_uid,
                synced_at,
            }
        });
    let is_oauth = p.auth == AuthMethod::OAuth2;
    Ok(MailboxView {
        mailbox: mailbox::settings(&store, &p.name).map_err(user)?,
        last_sync,
        sign_in: p.auth.as_str(),
        signed_in: is_oauth.then(|| oauth::is_signed_in(&p).ok()).flatten(),
        flows: oauth
            .as_ref()
            .map(|s| s.provider.flows().to_vec())
            .unwrap_or_default(),
        client_secret_saved: is_oauth
            .then(|| oauth::has_client_secret(&p).ok())
            .flatten(),
        oauth,
        profile: p.name,
    })
}

pub fn save_settings(
    state: &AppState,
    now: OffsetDateTime,
    profile: String,
    input: Option<MailboxInput>,
) -> CommandResult<Option<MailboxSettings>> {
    let who = state.signed_in(now)?;
    mailbox::set_settings(&*state.store()?, &who, &profile, input.as_ref(), now).map_err(user)
}

/// "Check the mailbox".
pub async fn check(
    state: &AppState,
    now: OffsetDateTime,
    profile: String,
) -> CommandResult<SyncReport> {
    let who = state.signed_in(now)?;
    let store = state.store()?;
    mailbox::check_mailbox(&store, &who, &profile, &SyncOptions::default(), now)
        .await
        .map_err(user)
}

#[derive(Debug, Serialize)]
pub struct ImportedReports {
    pub reports: Vec<AggregateReport>,
    /// How many were new (the others were stored before).
    pub new: usize,
}

/// Report files chosen in the open dialog; one malformed file stores none.
pub fn import_reports(
    state: &AppState,
    now: OffsetDateTime,
    files: Vec<String>,
) -> CommandResult<ImportedReports> {
    let who = state.signed_in(now)?;
    let store = state.store()?;
    let paths: Vec<&std::path::Path> = files.iter().map(std::path::Path::new).collect();
    // All files are read first: one malformed file (named) stores nothing. The log
    // entries name the operator, as the command line's import does.
    let reports = dmarc_report::read_reports(&paths)
        .map_err(|(file, e)| CommandError::new(e.code(), format!("{}: {e}", file.display())))?;
    let new = dmarc_report::store_reports_by(&store, &who, &reports, now).map_err(user)?;
    Ok(ImportedReports { reports, new })
}

/// The "Domain reports" screen: per day and per source, with warnings. `relay_ips`
/// are the addresses of the user's own relays, as text. Each source's PTR name comes
/// from the app's resolver (`MERGEGUARD_DNS`, else the system's), bounded so that a slow
/// or hostile DNS server delays the screen by at most `ptr_limits.total`.
pub async fn summary(
    state: &AppState,
    now: OffsetDateTime,
    from: Option<i64>,
    until: Option<i64>,
    relay_ips: Vec<String>,
    ptr_limits: &PtrLimits,
) -> CommandResult<Summary> {
    state.signed_in(now)?;
    let ips = relay_ips
        .iter()
        .map(|s| {
            s.trim().parse::<IpAddr>().map_err(|_| {
                CommandError::new(
                    ErrorCode::InvalidInput,
                    format!("\"{s}\" is not an IP address"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let store = state.store()?;
    Ok(
        dmarc_report::summarize_with_names(
            &store,
            from,
            until,
            &ips,
            &state.resolver(),
            ptr_limits,
        )
        .await?,
    )
}

pub fn configure_oauth(
    state: &AppState,
    now: OffsetDateTime,
    profile: String,
    input: Option<OAuthInput>,
) -> CommandResult<Option<OAuthSettings>> {
    let who = state.signed_in(now)?;
    let store = state.store()?;
    let p = profiles::get(&store, &profile)?;
    oauth::configure(&store, &who, &p, input.as_ref(), now).map_err(user)
}

/// Started device sign-ins, by profile: the device code stays in this process.
fn pending() -> &'static Mutex<HashMap<String, DeviceSignIn>> {
    static PENDING: OnceLock<Mutex<HashMap<String, DeviceSignIn>>> = OnceLock::new();
    PENDING.get_or_init(|| Mutex::new(HashMap::new()))
}

fn oauth_of(state: &AppState, profile: &str) -> CommandResult<(profiles::Profile, OAuthSettings)> {
    let store = state.store()?;
    let p = profiles::get(&store, profile)?;
    let s = oauth::settings(&store, &p.name)
        .map_err(user)?
        .ok_or_else(|| {
            CommandError::new(
                ErrorCode::InvalidInput,
                format!("the relay profile \"{}\" signs in with a password", p.name),
            )
        })?;
    Ok((p, s))
}

/// Step 1 of "Sign in with Microsoft/Google": the code to show and the page to open.
pub async fn start_sign_in(
    state: &AppState,
    now: OffsetDateTime,
    profile: String,
) -> CommandResult<DeviceSignIn> {
    state.signed_in(now)?;
    let (p, s) = oauth_of(state, &profile)?;
    let trust = oauth::trust_for(&p).map_err(user)?;
    let started = oauth::start_device_sign_in(&s, &p, &trust)
        .await
        .map_err(user)?;
    pending()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(p.name.to_lowercase(), started.clone());
    Ok(started)
}

/// Step 2: waits until the person has approved in the browser (or the code expired).
pub async fn finish_sign_in(
    state: &AppState,
    now: OffsetDateTime,
    profile: String,
) -> CommandResult<()> {
    let who = state.signed_in(now)?;
    let (p, s) = oauth_of(state, &profile)?;
    let started = take_started(pending(), &p.name)?;
    let trust = oauth::trust_for(&p).map_err(user)?;
    let store = state.store()?;
    until_cancelled(
        &p.name,
        oauth::finish_device_sign_in(&store, &s, &p, &started, &trust, &who, now),
    )
    .await
}

/// The sign-in started for `profile` (once: a second finish has nothing to wait for).
fn take_started<T>(pending: &Mutex<HashMap<String, T>>, profile: &str) -> CommandResult<T> {
    pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&profile.to_lowercase())
        .ok_or_else(|| {
            CommandError::new(
                ErrorCode::InvalidInput,
                "no sign-in was started for this profile: start again",
            )
        })
}

/// Started browser sign-ins, by profile: the loopback listener, the PKCE verifier and
/// the state stay in this process.
fn pending_browser() -> &'static Mutex<HashMap<String, BrowserSignIn>> {
    static PENDING: OnceLock<Mutex<HashMap<String, BrowserSignIn>>> = OnceLock::new();
    PENDING.get_or_init(|| Mutex::new(HashMap::new()))
}

/// What the window shows while the person signs in in the browser.
#[derive(Debug, Serialize)]
pub struct BrowserStarted {
    pub profile: String,
    /// The provider's sign-in page: shown with a Copy button in case no browser opened.
    pub authorize_url: String,
    /// Whether the default browser was started with it.
    pub opened: bool,
    /// Seconds MergeGuard waits for the person.
    pub expires_in: u64,
}

/// Step 1 of "Sign in in your browser": checks that the operator may sign the profile
/// in, starts the sign-in and opens the provider's page with `open_browser` (the
/// default browser in the app; tests record it).
pub async fn start_browser_sign_in(
    state: &AppState,
    now: OffsetDateTime,
    profile: String,
    open_browser: &(dyn Fn(&str) -> bool + Sync),
) -> CommandResult<BrowserStarted> {
    let who = state.signed_in(now)?;
    let (p, s) = oauth_of(state, &profile)?;
    oauth::may_sign_in(&*state.store()?, &who, now).map_err(user)?;
    let trust = oauth::trust_for(&p).map_err(user)?;
    let started = oauth::start_browser_sign_in(&s, &p, &trust)
        .await
        .map_err(user)?;
    // Only the provider's https page the core made, never anything the window passes.
    let opened =
        started.authorize_url.starts_with("https://") && open_browser(&started.authorize_url);
    let shown = BrowserStarted {
        profile: p.name.clone(),
        authorize_url: started.authorize_url.clone(),
        opened,
        expires_in: started.expires_in,
    };
    // A newer start replaces an older one (whose listener then closes).
    pending_browser()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(p.name.to_lowercase(), started);
    Ok(shown)
}

/// Step 2: waits until the browser comes back (or the sign-in was declined, or took too
/// long), then the sign-in is kept.
pub async fn finish_browser_sign_in(
    state: &AppState,
    now: OffsetDateTime,
    profile: String,
) -> CommandResult<()> {
    let who = state.signed_in(now)?;
    let (p, s) = oauth_of(state, &profile)?;
    let started = take_started(pending_browser(), &p.name)?;
    let trust = oauth::trust_for(&p).map_err(user)?;
    let store = state.store()?;
    until_cancelled(
        &p.name,
        oauth::finish_browser_sign_in(&store, &s, &p, &started, &trust, &who, now),
    )
    .await
}

/// Sign-ins waiting for the person, by profile: "Stop" wakes the wait up.
fn waiting() -> &'static Mutex<HashMap<String, Arc<tokio::sync::Notify>>> {
    static WAITING: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Notify>>>> = OnceLock::new();
    WAITING.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Waits for `finish` unless the person stops the sign-in first ([`cancel_sign_in`]).
/// Stopping drops the wait: the browser sign-in's listener closes, the device code is
/// no longer polled, and nothing is kept.
async fn until_cancelled(
    profile: &str,
    finish: impl std::future::Future<Output = Result<(), oauth::Error>>,
) -> CommandResult<()> {
    let key = profile.to_lowercase();
    let stop = Arc::new(tokio::sync::Notify::new());
    waiting()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.clone(), Arc::clone(&stop));
    let outcome = tokio::select! {
        r = finish => r.map_err(user),
        () = stop.notified() => Err(CommandError::new(
            ErrorCode::InvalidInput,
            "the sign-in was stopped: nothing was kept",
        )),
    };
    let mut w = waiting().lock().unwrap_or_else(|e| e.into_inner());
    if w.get(&key).is_some_and(|n| Arc::ptr_eq(n, &stop)) {
        w.remove(&key);
    }
    outcome
}

/// "Stop": ends the profile's sign-in that is waiting for the person, if there is one.
pub fn cancel_sign_in(
    state: &AppState,
    now: OffsetDateTime,
    profile: String,
) -> CommandResult<bool> {
    state.signed_in(now)?;
    let stop = waiting()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&profile.to_lowercase());
    // notify_one keeps the wake-up for a wait that has not started listening yet.
    Ok(stop.map(|n| n.notify_one()).is_some())
}

/// The user's default browser, started with `url` and left running on its own.
fn default_browser(url: &str) -> bool {
    match open::that_detached(url) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(kind = ?e.kind(), "the default browser could not be started");
            false
        }
    }
}

pub async fn sign_out(state: &AppState, now: OffsetDateTime, profile: String) -> CommandResult<()> {
    let who = state.signed_in(now)?;
    let (p, s) = oauth_of(state, &profile)?;
    let trust = oauth::trust_for(&p).map_err(user)?;
    let store = state.store()?;
    oauth::sign_out(&store, &s, &p, &trust, &who, now)
        .await
        .map_err(user)
}

// ---------- the #[tauri::command] wrappers (registered in main.rs) ----------

#[tauri::command]
pub fn mailbox_view(state: State<'_, AppState>, profile: String) -> CommandResult<MailboxView> {
    view(&state, now(), profile)
}

#[tauri::command]
pub fn save_mailbox(
    state: State<'_, AppState>,
    profile: String,
    input: Option<MailboxInput>,
) -> CommandResult<Option<MailboxSettings>> {
    save_settings(&state, now(), profile, input)
}

#[tauri::command]
pub async fn check_mailbox(
    state: State<'_, AppState>,
    profile: String,
) -> CommandResult<SyncReport> {
    check(&state, now(), profile).await
}

#[tauri::command]
pub fn import_dmarc_reports(
    state: State<'_, AppState>,
    files: Vec<String>,
) -> CommandResult<ImportedReports> {
    import_reports(&state, now(), files)
}

#[tauri::command]
pub async fn dmarc_summary(
    state: State<'_, AppState>,
    from: Option<i64>,
    until: Option<i64>,
    relay_ips: Vec<String>,
) -> CommandResult<Summary> {
    summary(&state, now(), from, until, relay_ips, &PtrLimits::default()).await
}

#[tauri::command]
pub fn configure_relay_oauth(
    state: State<'_, AppState>,
    profile: String,
    input: Option<OAuthInput>,
) -> CommandResult<Option<OAuthSettings>> {
    configure_oauth(&state, now(), profile, input)
}

#[tauri::command]
pub async fn start_relay_sign_in(
    state: State<'_, AppState>,
    profile: String,
) -> CommandResult<DeviceSignIn> {
    start_sign_in(&state, now(), profile).await
}

#[tauri::command]
pub async fn finish_relay_sign_in(
    state: State<'_, AppState>,
    profile: String,
) -> CommandResult<()> {
    finish_sign_in(&state, now(), profile).await
}

#[tauri::command]
pub async fn start_relay_browser_sign_in(
    state: State<'_, AppState>,
    profile: String,
) -> CommandResult<BrowserStarted> {
    start_browser_sign_in(&state, now(), profile, &default_browser).await
}

#[tauri::command]
pub async fn finish_relay_browser_sign_in(
    state: State<'_, AppState>,
    profile: String,
) -> CommandResult<()> {
    finish_browser_sign_in(&state, now(), profile).await
}

#[tauri::command]
pub fn cancel_relay_sign_in(state: State<'_, AppState>, profile: String) -> CommandResult<bool> {
    cancel_sign_in(&state, now(), profile)
}

#[tauri::command]
pub async fn relay_sign_out(state: State<'_, AppState>, profile: String) -> CommandResult<()> {
    sign_out(&state, now(), profile).await
}
