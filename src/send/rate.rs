//! Time as a parameter ([`Clock`]) and relay rate limits (per second / hour / day)
//! enforced against the persistent `send_quota` ledger, so two campaigns or a restart
//! cannot together exceed a relay's daily quota.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::state;

/// Where the engine gets the time and how it waits. Unix milliseconds.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
    fn sleep(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real clock: the only place the sending engine reads the system time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
    fn sleep(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(Duration::from_millis(ms)))
    }
}

/// A pinned clock for tests: time stands still until someone sleeps, and sleeping
/// advances it instantly. Deterministic back-off and rate-limit tests.
#[derive(Debug, Default)]
pub struct PinnedClock(AtomicI64);

impl PinnedClock {
    pub fn new(now: i64) -> PinnedClock {
        PinnedClock(AtomicI64::new(now))
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for PinnedClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
    fn sleep(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.0.fetch_add(ms as i64, Ordering::SeqCst);
        Box::pin(tokio::task::yield_now())
    }
}

/// Limits for one relay. `None` = no limit in that window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_second: Option<u32>,
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
}

/// Named presets. The figures are the providers' published sending limits as of 2025;
/// they change, so the user can always edit them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatePreset {
    /// Google Workspace: about 2,000 messages per user per day through smtp.gmail.com /
    /// smtp-relay ("Gmail sending limits in Google Workspace", support.google.com/a/answer/166852).
    /// No published per-second figure; we assume a gentle 5/s.
    GoogleWorkspace,
    /// Microsoft 365 / Exchange Online: 10,000 recipients per day and 30 messages per
    /// minute per mailbox ("Exchange Online limits", learn.microsoft.com).
    Microsoft365,
    /// A relay you run yourself (Postfix, an ESP): no limit unless you set one.
    Generic,
}

impl RatePreset {
    pub fn limit(self) -> RateLimit {
        match self {
            RatePreset::GoogleWorkspace => RateLimit {
                per_second: Some(5),
                per_minute: None,
                per_hour: None,
                per_day: Some(2_000),
            },
            RatePreset::Microsoft365 => RateLimit {
                per_second: None,
                per_minute: Some(30),
                per_hour: None,
                per_day: Some(10_000),
            },
            RatePreset::Generic => RateLimit::default(),
        }
    }
}

impl std::str::FromStr for RatePreset {
    type Err = String;
    /// The names the CLI and the app use: `google-workspace`, `microsoft365`, `generic`.
    fn from_str(name: &str) -> Result<RatePreset, String> {
        match name {
            "google-workspace" => Ok(RatePreset::GoogleWorkspace),
            "microsoft365" => Ok(RatePreset::Microsoft365),
            "generic" => Ok(RatePreset::Generic),
            other => Err(format!(
                "unknown rate preset \"{other}\": use google-workspace, microsoft365 or generic"
            )),
        }
    }
}

impl RateLimit {
    fn windows(&self) -> impl Iterator<Item = (i64, u32)> {
        [
            (1_000, self.per_second),
            (60_000, self.per_minute),
            (3_600_000, self.per_hour),
            (86_400_000, self.per_day),
        ]
        .into_iter()
        .filter_map(|(w, n)| n.map(|n| (w, n)))
    }

    /// How long to wait before one more send is allowed at `now` (0 = send now), from the
    /// ledger of every campaign that used `relay_key`.
    pub fn wait_ms(&self, conn: &Connection, relay_key: &str, now: i64) -> rusqlite::Result<u64> {
        let mut wait = 0u64;
        for (window, max) in self.windows() {
            if max == 0 {
                // A zero quota never opens; wait one whole window and let the caller re-check.
                wait = wait.max(window as u64);
                continue;
            }
            let since = now - window + 1;
            if state::quota_used_since(conn, relay_key, since)? >= u64::from(max) {
                // The window frees a slot when the max-th most recent send leaves it.
                if let Some(at) = state::quota_nth_latest(conn, relay_key, since, u64::from(max))? {
                    wait = wait.max((at + window - now).max(1) as u64);
                }
            }
        }
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_quota_is_shared_across_campaigns_and_reopens_after_a_day() {
        let c = Connection::open_in_memory().unwrap();
        state::migrate(&c).unwrap();
        let lim = RateLimit {
            per_day: Some(3),
            ..Default::default()
        };
        for t in [0, 10, 20] {
            assert_eq!(lim.wait_ms(&c, "relay", t).unwrap(), 0);
            state::record_quota(&c, "relay", t).unwrap();
        }
        assert_eq!(lim.wait_ms(&c, "relay", 30).unwrap(), 86_400_000 - 30);
        assert_eq!(lim.wait_ms(&c, "other", 30).unwrap(), 0);
        assert_eq!(lim.wait_ms(&c, "relay", 86_400_000).unwrap(), 0);
    }

    #[test]
    fn presets_state_their_limits() {
        assert_eq!(RatePreset::Microsoft365.limit().per_minute, Some(30));
        assert_eq!(RatePreset::GoogleWorkspace.limit().per_day, Some(2_000));
        assert_eq!(RatePreset::Generic.limit(), RateLimit::default());
    }

    #[test]
    fn preset_names_parse_and_unknown_ones_are_refused() {
        for (name, preset) in [
            ("google-workspace", RatePreset::GoogleWorkspace),
            ("microsoft365", RatePreset::Microsoft365),
            ("generic", RatePreset::Generic),
        ] {
            assert_eq!(name.parse::<RatePreset>(), Ok(preset));
        }
        assert!("gmail"
            .parse::<RatePreset>()
            .unwrap_err()
            .contains("microsoft365"));
    }

    #[test]
    fn microsoft365_holds_thirty_a_minute() {
        let c = Connection::open_in_memory().unwrap();
        state::migrate(&c).unwrap();
        let lim = RatePreset::Microsoft365.limit();
        // 30 sends in the first 30 seconds, one a second: all allowed.
        for t in 0..30 {
            assert_eq!(lim.wait_ms(&c, "m365", t * 1_000).unwrap(), 0, "send {t}");
            state::record_quota(&c, "m365", t * 1_000).unwrap();
        }
        // The 31st waits until the first leaves the minute window.
        assert_eq!(lim.wait_ms(&c, "m365", 30_000).unwrap(), 30_000);
        assert_eq!(lim.wait_ms(&c, "m365", 60_000).unwrap(), 0);
    }
}
