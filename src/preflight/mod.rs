//! Pre-flight checklist: every check reports pass / warning / skipped / fail with what it
//! saw and how to fix it. A fail blocks sending; each warning, and each skipped
//! authentication check (SPF, DKIM, DMARC), must be acknowledged by the approver.

pub mod bulk;
pub mod campaign;
pub mod dkim;
pub mod dmarc;
pub mod dns;
pub mod domain;
pub mod jp_law;
pub mod spamassassin;
pub mod spf;
pub mod tls;

use serde::Serialize;

/// The outcome of one check. The order is the checklist's order: failures first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Fail,
    Warning,
    /// The check could not run because an input was not given (no relay address, no
    /// DKIM key); `detail` says which. It neither passes nor fails: nothing is known.
    Skipped,
    Pass,
}

impl Status {
    /// The status as the fingerprint, the CLI's JSON and the UI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fail => "fail",
            Status::Warning => "warning",
            Status::Skipped => "skipped",
            Status::Pass => "pass",
        }
    }
}

/// True for the sender-authentication checks (SPF, DKIM, DMARC): when one of them is
/// skipped nobody knows whether receivers will accept the mail, so the approver must
/// acknowledge it like a warning.
pub fn is_authentication(id: &str) -> bool {
    ["spf.", "dkim.", "dmarc."]
        .iter()
        .any(|p| id.starts_with(p))
}

/// Every check id the checklist can produce. The window has a title and plain sentences
/// for each, in English and Japanese (a test reads `ui/i18n.js` against this list), and a
/// check built with an id missing here fails the debug build's tests.
pub const CHECK_IDS: &[&str] = &[
    "addressing.envelope",
    "addressing.single_to",
    "addressing.no_cc_bcc",
    "addressing.no_other_recipient",
    "addressing.lookalike_domain",
    "attachments.address_list",
    "attachments.recipient_folder",
    "attachments.recipient_file",
    "attachments.unreadable",
    "merge.renders",
    "merge.subject",
    "merge.leftover",
    "content.unsubscribe",
    "content.from_domain",
    "content.size",
    "content.line_endings",
    "content.xml",
    "spf.record",
    "spf.syntax",
    "spf.lookups",
    "spf.ptr",
    "spf.all",
    "spf.relay",
    "dkim.record",
    "dkim.revoked",
    "dkim.key_length",
    "dkim.hash",
    "dkim.private_key",
    "dkim.verify",
    "dmarc.record",
    "dmarc.policy",
    "dmarc.rua",
    "dmarc.alignment",
    "dns.resolver",
    "dns.domain",
    "dns.mx",
    "dns.fcrdns",
    "tls.connect",
    "tls.starttls",
    "tls.implicit",
    "tls.certificate",
    "tls.version",
    "tls.auth_after_tls",
    "tls.login",
    "bulk.spf_dkim",
    "bulk.dmarc",
    "bulk.ptr",
    "bulk.tls",
    "bulk.one_click",
    "bulk.visible_unsubscribe",
    "bulk.free_mail_from",
    "bulk.message_format",
    "outbox.nothing_sent",
    "jp_law.sender_name",
    "jp_law.opt_out",
    "jp_law.postal_address",
    "jp_law.contact",
    "jp_law.consent",
    "jp_law.opt_out_wins",
    "content.spamassassin",
];

fn known(id: &str) -> bool {
    CHECK_IDS.contains(&id)
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
        debug_assert!(known(id), "check id {id} is not in CHECK_IDS");
        Check {
            id: id.into(),
            status: Status::Pass,
            detail: detail.into(),
            fix: String::new(),
        }
    }
    pub fn warning(id: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        debug_assert!(known(id), "check id {id} is not in CHECK_IDS");
        Check {
            id: id.into(),
            status: Status::Warning,
            detail: detail.into(),
            fix: fix.into(),
        }
    }
    pub fn fail(id: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        debug_assert!(known(id), "check id {id} is not in CHECK_IDS");
        Check {
            id: id.into(),
            status: Status::Fail,
            detail: detail.into(),
            fix: fix.into(),
        }
    }
    /// A check that could not run; `reason` says what was missing, `fix` what to give.
    pub fn skipped(id: &str, reason: impl Into<String>, fix: impl Into<String>) -> Check {
        debug_assert!(known(id), "check id {id} is not in CHECK_IDS");
        Check {
            id: id.into(),
            status: Status::Skipped,
            detail: reason.into(),
            fix: fix.into(),
        }
    }
    /// True when the approver must acknowledge this finding: every warning, and every
    /// skipped authentication check ([`is_authentication`]).
    pub fn needs_acknowledgement(&self) -> bool {
        match self.status {
            Status::Warning => true,
            Status::Skipped => is_authentication(&self.id),
            Status::Fail | Status::Pass => false,
        }
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
    /// Failures first, then warnings, skipped checks, passes; stable within a status.
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

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn skipped_authentication_checks_need_acknowledgement_and_others_do_not() {
        assert!(Check::skipped("spf.relay", "no relay", "give one").needs_acknowledgement());
        assert!(Check::skipped("dkim.verify", "no key", "give one").needs_acknowledgement());
        assert!(Check::skipped("dmarc.alignment", "unknown", "x").needs_acknowledgement());
        assert!(!Check::skipped("dns.fcrdns", "no relay", "give one").needs_acknowledgement());
        assert!(Check::warning("dns.mx", "none", "x").needs_acknowledgement());
        assert!(!Check::pass("spf.relay", "ok").needs_acknowledgement());
        assert!(!Check::fail("spf.relay", "no", "x").needs_acknowledgement());
    }

    #[test]
    fn every_group_registers_its_check_ids() {
        for id in jp_law::IDS.iter().chain(spamassassin::IDS) {
            assert!(CHECK_IDS.contains(id), "{id} is missing from CHECK_IDS");
        }
    }

    #[test]
    fn skipped_sorts_after_warnings_and_does_not_fail_the_report() {
        let mut report = Report {
            checks: vec![
                Check::pass("dns.mx", "ok"),
                Check::skipped("spf.relay", "why", "fix"),
                Check::warning("dmarc.policy", "hm", "fix"),
            ],
        };
        report.sort();
        let order: Vec<Status> = report.checks.iter().map(|c| c.status).collect();
        assert_eq!(order, [Status::Warning, Status::Skipped, Status::Pass]);
        assert!(report.passed());
        assert_eq!(Status::Skipped.as_str(), "skipped");
    }
}
