//! What the window works on: the store, who is signed in (and the idle lock), the loaded
//! recipients and draft for the preview, the checked campaign and the running send.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

use mergeguard::compose::{BuiltMessage, Composer, Draft, RenderError};
use mergeguard::error::{ErrorCode, Reason};
use mergeguard::operators;
use mergeguard::preflight::dns::Resolver;
use mergeguard::recipients::RecipientList;
use mergeguard::send::Control;
use mergeguard::store::{self, Store};
use mergeguard::workflow::Prepared;

use crate::error::{CommandError, CommandResult, ShellCode};

/// How many built messages the preview keeps. Stepping back and forth stays instant,
/// while a 100,000-row list walked end to end does not hold every message in memory.
const BUILT_CACHE_LIMIT: usize = 256;

/// Environment override of the idle time, in seconds (tests use a few seconds). It can
/// only shorten the admin's setting (`operators::idle_timeout`, 10 min default), never
/// lengthen it: an environment variable must not switch off the lock an admin set.
pub const IDLE_ENV: &str = "MERGEGUARD_IDLE_SECS";

/// Tauri-managed state; one per window process.
pub struct AppState {
    pub session: Mutex<Session>,
    /// The store, or why it could not be opened (shown on every command that needs it).
    /// Opened once, on first use or by [`AppState::open_in_background`] while the window
    /// starts; a command that needs it meanwhile waits for that one opening.
    store: Arc<OnceLock<Result<Arc<Store>, CommandError>>>,
    /// Where the store is: the data folder, or why there is none.
    data_dir: Result<PathBuf, CommandError>,
    /// Overrides the store's idle-time setting (tests, `MERGEGUARD_IDLE_SECS`).
    idle_override: Option<Duration>,
    access: Mutex<Access>,
    pub campaign: Mutex<CampaignState>,
    pub send: Mutex<Option<SendRun>>,
    /// The DNS server the checks ask: `MERGEGUARD_DNS=IP:PORT` (a company resolver, or
    /// the test suite's), else the system's.
    resolver: Resolver,
    /// Where new campaigns go: `MERGEGUARD_CAMPAIGNS_DIR`, else the documents folder.
    campaigns_dir: Option<PathBuf>,
}

/// Environment variable naming the folder new campaigns go in.
pub const CAMPAIGNS_DIR_ENV: &str = "MERGEGUARD_CAMPAIGNS_DIR";

/// Environment variable naming the DNS server the checks ask (`IP:PORT`).
pub const DNS_ENV: &str = "MERGEGUARD_DNS";

/// Who is signed in. A locked session keeps only the name, to greet them on the lock screen.
#[derive(Default)]
struct Access {
    session: Option<operators::Session>,
    locked_name: Option<String>,
}

/// The campaign file opened on the recipients screen and its last checklist run.
#[derive(Default)]
pub struct CampaignState {
    pub path: Option<PathBuf>,
    pub prepared: Option<Arc<Prepared>>,
}

/// A send on its worker thread: the control channel and whether it has ended.
pub struct SendRun {
    pub control: watch::Sender<Control>,
    pub done: Arc<AtomicBool>,
}

impl SendRun {
    pub fn is_running(&self) -> bool {
        !self.done.load(Ordering::SeqCst)
    }
}

pub fn lock<T>(m: &Mutex<T>) -> CommandResult<MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| CommandError::internal("An earlier action failed midway; restart MergeGuard."))
}

impl AppState {
    /// Opens the store in `data_dir` (or the default data folder when `None`, honouring
    /// `MERGEGUARD_DATA_DIR`). A store that cannot be opened is reported by each command.
    /// Nothing is opened yet: the store opens on first use, or in the background with
    /// [`AppState::open_in_background`].
    pub fn open(data_dir: Option<&Path>, idle_override: Option<Duration>) -> AppState {
        let data_dir =
            store::data_dir(data_dir).map_err(|e| CommandError::new(e.code(), e.to_string()));
        AppState {
            session: Mutex::new(Session::default()),
            store: Arc::new(OnceLock::new()),
            data_dir,
            idle_override,
            access: Mutex::new(Access::default()),
            campaign: Mutex::new(CampaignState::default()),
            send: Mutex::new(None),
            resolver: std::env::var(DNS_ENV)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .map_or(Resolver::System, Resolver::At),
            campaigns_dir: std::env::var_os(CAMPAIGNS_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }

    /// The state for the app: default data folder, idle time from the environment.
    pub fn from_env() -> AppState {
        let idle = std::env::var(IDLE_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|s| *s > 0)
            .map(Duration::seconds);
        AppState::open(None, idle)
    }

    /// The idle time after which the session locks: the override, else the admin's
    /// setting in the store (the core's default when unset or unreadable).
    pub fn idle_timeout(&self) -> Duration {
        let setting = match self.store() {
            Ok(store) => operators::idle_timeout(&store).unwrap_or(operators::DEFAULT_IDLE_TIMEOUT),
            Err(_) => operators::DEFAULT_IDLE_TIMEOUT,
        };
        self.idle_override.map_or(setting, |o| o.min(setting))
    }

    /// True when the idle time comes from the environment, not from the setting.
    pub fn idle_overridden(&self) -> bool {
        self.idle_override.is_some()
    }

    /// The same state with its campaigns in `dir` (tests).
    #[cfg(test)]
    pub fn with_campaigns_dir(mut self, dir: PathBuf) -> AppState {
        self.campaigns_dir = Some(dir);
        self
    }

    /// The same state asking the DNS server `resolver` instead of `MERGEGUARD_DNS`'s
    /// (tests: no process-wide environment change).
    #[cfg(test)]
    pub fn with_resolver(mut self, resolver: Resolver) -> AppState {
        self.resolver = resolver;
        self
    }

    /// The folder the campaign list shows and new campaigns go in.
    pub fn campaigns_dir(&self) -> CommandResult<PathBuf> {
        match &self.campaigns_dir {
            Some(d) => Ok(d.clone()),
            None => Ok(mergeguard::example::campaigns_home(self.store()?.dir())),
        }
    }

    pub fn resolver(&self) -> Resolver {
        self.resolver
    }

    pub fn store(&self) -> CommandResult<Arc<Store>> {
        open_once(&self.store, &self.data_dir).clone()
    }

    /// Opens the store on its own thread (the keychain may take a while, or ask the
    /// person to unlock it) so the window does not wait for it; `then` runs there with
    /// the opened store. Commands that need the store meanwhile wait for this opening.
    pub fn open_in_background(&self, then: impl FnOnce(&Store) + Send + 'static) {
        let (cell, dir) = (Arc::clone(&self.store), self.data_dir.clone());
        // Without a thread, the first command opens it instead.
        let _ = std::thread::Builder::new()
            .name("store-open".into())
            .spawn(move || {
                if let Ok(store) = open_once(&cell, &dir) {
                    then(store);
                }
            });
    }
}

fn open_once<'a>(
    cell: &'a OnceLock<Result<Arc<Store>, CommandError>>,
    dir: &Result<PathBuf, CommandError>,
) -> &'a Result<Arc<Store>, CommandError> {
    cell.get_or_init(|| {
        let dir = dir.clone()?;
        Store::open(&dir)
            .map(Arc::new)
            .map_err(|e| CommandError::new(e.code(), e.to_string()))
    })
}

impl AppState {
    /// The signed-in operator, touched at `now`. Every command except sign-in goes through
    /// here, so an idle session is refused by the command layer whatever the window shows.
    pub fn signed_in(&self, now: OffsetDateTime) -> CommandResult<operators::Session> {
        let mut access = lock(&self.access)?;
        let Some(session) = access.session.as_mut() else {
            return Err(match &access.locked_name {
                Some(name) => CommandError::shell(
                    ShellCode::Locked,
                    format!("MergeGuard locked itself after a pause; {name} or another operator must sign in again."),
                ),
                None => CommandError::shell(ShellCode::SignedOut, "Sign in first."),
            });
        };
        let idle = self.idle_timeout();
        if session.is_idle(now, idle) {
            let name = session.operator().to_owned();
            access.session = None;
            access.locked_name = Some(name.clone());
            return Err(CommandError::shell(
                ShellCode::Locked,
                format!("MergeGuard locked itself after {} minutes without activity; {name} or another operator must sign in again.", idle.whole_minutes().max(1)),
            ));
        }
        session.touch(now);
        Ok(session.clone())
    }

    /// The signed-in operator, who must hold `role`.
    pub fn signed_in_with(
        &self,
        now: OffsetDateTime,
        role: operators::Role,
    ) -> CommandResult<operators::Session> {
        let who = self.signed_in(now)?;
        if !who.has_role(role) {
            return Err(CommandError::new(
                ErrorCode::Forbidden,
                format!(
                    "{} does not hold the {} role.",
                    who.operator(),
                    role.as_str()
                ),
            )
            .because(
                Reason::new("missing_role")
                    .with("name", who.operator())
                    .with("role", role.as_str()),
            ));
        }
        Ok(who)
    }

    pub fn set_session(&self, session: Option<operators::Session>) -> CommandResult<()> {
        let mut access = lock(&self.access)?;
        access.locked_name = None;
        access.session = session;
        Ok(())
    }

    /// The name shown on the lock screen, if the session locked itself.
    pub fn locked_name(&self) -> Option<String> {
        self.access.lock().ok().and_then(|a| a.locked_name.clone())
    }

    /// The current session without touching it (for the start-up status).
    pub fn current(&self) -> Option<operators::Session> {
        self.access.lock().ok().and_then(|a| a.session.clone())
    }

    /// The last checklist run, or a plain error asking for one.
    pub fn prepared(&self) -> CommandResult<Arc<Prepared>> {
        lock(&self.campaign)?.prepared.clone().ok_or_else(|| {
            CommandError::not_ready(
                "no_checklist_run",
                "Run the pre-flight checklist on the campaign first.",
            )
        })
    }
}

#[derive(Default)]
pub struct Session {
    pub recipients: Option<RecipientList>,
    /// The file the recipients came from, shown in the summary.
    pub recipients_path: Option<String>,
    /// The saved campaign's draft, as accepted by `Composer::new`.
    pub draft: Option<Draft>,
    pub composer: Option<Composer>,
    built: HashMap<usize, Result<BuiltMessage, RenderError>>,
}

impl Session {
    /// Forgets the campaign's recipients, draft and built messages (a campaign closed
    /// or another one opened).
    pub fn clear(&mut self) {
        *self = Session::default();
    }

    /// Replaces the recipient list; built messages belonged to the old list.
    pub fn set_recipients(&mut self, list: RecipientList, path: String) {
        self.recipients = Some(list);
        self.recipients_path = Some(path);
        self.built.clear();
    }

    /// Replaces the draft and its composer; built messages belonged to the old draft.
    pub fn set_draft(&mut self, draft: Draft, composer: Composer) {
        self.draft = Some(draft);
        self.composer = Some(composer);
        self.built.clear();
    }

    /// The built message for recipient `index`, rendering it on first use.
    /// `None` when no list or no draft is loaded or `index` is out of range.
    pub fn built(&mut self, index: usize) -> Option<&Result<BuiltMessage, RenderError>> {
        let list = self.recipients.as_ref()?;
        let composer = self.composer.as_ref()?;
        let recipient = list.recipients.get(index)?;
        if !self.built.contains_key(&index) {
            if self.built.len() >= BUILT_CACHE_LIMIT {
                self.built.clear();
            }
            self.built.insert(index, composer.render(list, recipient));
        }
        self.built.get(&index)
    }
}
