//! Pre-flight checklist: every check reports pass / warning / fail with what it saw and
//! how to fix it. A fail blocks sending; each warning must be acknowledged by the approver.

pub mod campaign;
pub mod dkim;
pub mod dmarc;
pub mod dns;
pub mod domain;
pub mod spf;
pub mod tls;

use serde::Serialize;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Fail,
    Warning,
    Pass,
}

/// One finding of the checklist. `id` is stable and dotted (`spf.lookups`,
/// `tls.starttls`, `addressing.single_to`); `detail` says what was seen and `fix` how to
/// put it right, both in plain English (the UI translates by `id`/`status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: String,
    pub status: Status,
    pub detail: String,
    pub fix: String,
}

impl Check {
    pub fn pass(id: &str, detail: impl Into<String>) -> Check {
        Check { id: id.into(), status: Status::Pass, detail: detail.into(), fix: String::new() }
    }
    pub fn warning(id: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { id: id.into(), status: Status::Warning, detail: detail.into(), fix: fix.into() }
    }
    pub fn fail(id: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { id: id.into(), status: Status::Fail, detail: detail.into(), fix: fix.into() }
    }
}

/// A whole checklist run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }
    /// Failures first, then warnings, then passes; stable within a status.
    pub fn sort(&mut self) {
        self.checks.sort_by_key(|c| c.status);
    }
}

pub mod addressing;
pub mod attachments;
pub mod content;
pub mod merge;
pub mod messages;
mod pdf;
