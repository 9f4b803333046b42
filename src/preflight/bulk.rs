//! The bulk-sender rules of the large mailbox providers as one checklist group
//! (`bulk.*`): what Gmail and Yahoo require since February 2024 and Outlook.com since
//! May 2025, each finding naming its source and the daily volume from which it applies.
//!
//! Most rules restate a verdict the checklist already reached (SPF, DKIM, DMARC, reverse
//! DNS, TLS) in the providers' terms; the rest read the built messages: the one-click
//! unsubscribe header pair (RFC 8058), a visible unsubscribe link or address in the body,
//! and the Message-ID and Date fields (RFC 5322 §3.6). A rule whose input check was
//! skipped is skipped too, with the same reason.
//!
//! Architecture invariant: this module decides nothing about the domain itself; it reads
//! the other checks' statuses by id, so a verdict is never computed twice differently.

use super::{Check, Status};
use crate::compose::BuiltMessage;

/// The providers count a sender as "bulk" from about this many messages a day to their
/// users (Gmail: "close to 5,000"; Yahoo and Outlook.com: 5,000).
pub const BULK_DAILY_VOLUME: usize = 5_000;

const GMAIL: &str =
    "Google Email sender guidelines (support.google.com/a/answer/81126, from February 2024)";
const YAHOO: &str =
    "Yahoo Sender Best Practices (senders.yahooinc.com/best-practices, from February 2024)";
const OUTLOOK: &str = "Outlook.com requirements for high-volume senders (Microsoft, announced April 2025, enforced from 5 May 2025)";

/// Free mailbox domains: their owners publish DMARC policies that make mail "From" them
/// sent through anyone else's relay fail, and the providers ask bulk senders to use
/// their own domain.
pub const FREE_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.jp",
    "ymail.com",
    "aol.com",
    "outlook.com",
    "outlook.jp",
    "hotmail.com",
    "hotmail.co.jp",
    "live.com",
    "live.jp",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.net",
    "mail.com",
    "yandex.com",
    "docomo.ne.jp",
    "ezweb.ne.jp",
    "au.com",
    "softbank.ne.jp",
    "i.softbank.jp",
    "ybb.ne.jp",
];

/// What the messages showed, gathered chunk by chunk (see [`BulkRules::observe`]).
#[derive(Debug, Default)]
pub struct BulkRules {
    messages: usize,
    /// Rows without the RFC 8058 pair (List-Unsubscribe with an https URI, and
    /// List-Unsubscribe-Post: List-Unsubscribe=One-Click).
    no_one_click: Vec<u64>,
    /// Rows whose body shows none of the List-Unsubscribe targets.
    not_visible: Vec<u64>,
    /// Rows without a Message-ID or Date field, with which.
    bad_format: Vec<(u64, &'static str)>,
}

/// Rows listed in a finding; the count says how many there were in all.
const SHOWN_ROWS: usize = 5;

pub(crate) fn rows(rows: &[u64]) -> String {
    let shown: Vec<String> = rows
        .iter()
        .take(SHOWN_ROWS)
        .map(|r| r.to_string())
        .collect();
    let more = rows.len().saturating_sub(SHOWN_ROWS);
    if more > 0 {
        format!("rows {} and {more} more", shown.join(", "))
    } else {
        format!("row(s) {}", shown.join(", "))
    }
}

/// The header fields of `raw` (unfolded, names as written), up to the blank line.
pub(crate) fn header_fields(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    fields
}

pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The `<...>` targets of a List-Unsubscribe value (RFC 2369 §2).
pub(crate) fn unsubscribe_targets(value: &str) -> Vec<&str> {
    value
        .split('<')
        .skip(1)
        .filter_map(|part| part.split_once('>').map(|(t, _)| t.trim()))
        .collect()
}

/// What a reader would see of a target in a body: an https URL without its query (the
/// visible link often omits the per-recipient token), or a mailto's bare address.
pub(crate) fn visible_form(target: &str) -> Option<String> {
    let lower = target.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("mailto:") {
        let address = rest.split('?').next().unwrap_or(rest);
        return (!address.is_empty()).then(|| address.to_string());
    }
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let base = target.split(['?', '#']).next().unwrap_or(target);
        return Some(base.to_ascii_lowercase());
    }
    None
}

impl BulkRules {
    pub fn new() -> BulkRules {
        BulkRules::default()
    }

    /// Reads one chunk of built messages.
    pub fn observe(&mut self, messages: &[BuiltMessage]) {
        for m in messages {
            self.messages += 1;
            let fields = header_fields(&m.raw);
            let targets: Vec<&str> = field(&fields, "List-Unsubscribe")
                .map(unsubscribe_targets)
                .unwrap_or_default();
            let https = targets
                .iter()
                .any(|t| t.to_ascii_lowercase().starts_with("https://"));
            let post = field(&fields, "List-Unsubscribe-Post")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("List-Unsubscribe=One-Click"));
            if !(https && post) {
                self.no_one_click.push(m.row);
            }
            let body = format!("{}\n{}", m.text, m.html.as_deref().unwrap_or_default())
                .to_ascii_lowercase();
            let visible = targets
                .iter()
                .filter_map(|t| visible_form(t))
                .any(|v| body.contains(&v));
            if !visible {
                self.not_visible.push(m.row);
            }
            for name in ["Message-ID", "Date"] {
                if field(&fields, name).is_none_or(str::is_empty) {
                    self.bad_format.push((m.row, name));
                }
            }
        }
    }

    /// The `bulk.*` findings, given every other check of the run (by id), the From
    /// address and the number of recipients of this campaign.
    pub fn finish(self, checks: &[Check], from_address: &str, recipients: usize) -> Vec<Check> {
        let bulk = recipients >= BULK_DAILY_VOLUME;
        let volume = if bulk {
            format!(
                "this campaign alone has {recipients} recipients, so the bulk-sender rules apply"
            )
        } else {
            format!(
                "applies once the domain sends about {BULK_DAILY_VOLUME} messages a day to one provider (all campaigns and other mail together; this campaign has {recipients} recipients)"
            )
        };
        let status_of = |id: &str| {
            checks
                .iter()
                .find(|c| c.id == id)
                .map(|c| (c.status, c.detail.as_str()))
        };
        let mut out = Vec::new();

        // SPF and DKIM both pass.
        let spf = status_of("spf.relay");
        let dkim = status_of("dkim.verify");
        out.push(match (spf, dkim) {
            (Some((Status::Pass, _)), Some((Status::Pass, _))) => Check::pass(
                "bulk.spf_dkim",
                format!("SPF and DKIM both pass for the relay and the signing key. Required from {BULK_DAILY_VOLUME} a day by {GMAIL}, {YAHOO} and {OUTLOOK}."),
            ),
            (Some((Status::Skipped, why)), _) | (_, Some((Status::Skipped, why))) => Check::skipped(
                "bulk.spf_dkim",
                format!("Not checked: {why}"),
                "Give the relay and the DKIM private key so SPF and DKIM can be evaluated.",
            ),
            (spf, dkim) => {
                let said = |r: Option<(Status, &str)>, name: &str| match r {
                    Some((Status::Pass, _)) => format!("{name} passes"),
                    Some(_) => format!("{name} does not pass"),
                    None => format!("{name} is not configured"),
                };
                Check::warning(
                    "bulk.spf_dkim",
                    format!("{} and {}; Gmail, Yahoo and Outlook.com require both from bulk senders ({volume}). Sources: {GMAIL}; {YAHOO}; {OUTLOOK}.", said(spf, "SPF"), said(dkim, "DKIM")),
                    "Authorise the relay in SPF and sign every message with DKIM ([dkim] in the campaign) at the From domain.",
                )
            }
        });

        // DMARC published (p=none is enough) and aligned.
        let record = status_of("dmarc.record");
        let aligned = status_of("dmarc.alignment");
        out.push(match (record, aligned) {
            (Some((Status::Pass, _)), Some((Status::Pass, _))) => Check::pass(
                "bulk.dmarc",
                format!("A DMARC record is published and SPF or DKIM passes aligned with the From domain. Required from {BULK_DAILY_VOLUME} a day by {GMAIL}, {YAHOO} and {OUTLOOK} (p=none is enough)."),
            ),
            (_, Some((Status::Skipped, why))) => Check::skipped(
                "bulk.dmarc",
                format!("Not checked: {why}"),
                "Give the relay and the DKIM private key so DMARC alignment can be evaluated.",
            ),
            _ => Check::warning(
                "bulk.dmarc",
                format!("DMARC is not both published and aligned (see dmarc.record and dmarc.alignment); bulk senders need a DMARC record (p=none at least) and mail that passes it ({volume}). Sources: {GMAIL}; {YAHOO}; {OUTLOOK}."),
                "Publish _dmarc.<From domain> (v=DMARC1; p=none; rua=mailto:...) and send with SPF or DKIM aligned with the From domain.",
            ),
        });

        // Forward-confirmed reverse DNS of the relay: every sender, for Gmail.
        out.push(match status_of("dns.fcrdns") {
            Some((Status::Pass, _)) => Check::pass(
                "bulk.ptr",
                format!("The relay's addresses have forward-confirmed reverse DNS, which {GMAIL} requires of every sender."),
            ),
            Some((Status::Skipped, why)) => Check::skipped("bulk.ptr", format!("Not checked: {why}"), "Give the relay so its reverse DNS can be checked."),
            _ => Check::warning(
                "bulk.ptr",
                format!("The relay's reverse DNS is not forward-confirmed (see dns.fcrdns); {GMAIL} requires valid forward and reverse DNS of every sender, at any volume."),
                "Ask whoever runs the relay to set a PTR record for each sending IP to a name that resolves back to it.",
            ),
        });

        // TLS to the relay: every sender, for Gmail.
        let tls: Vec<&Check> = checks.iter().filter(|c| c.id.starts_with("tls.")).collect();
        out.push(if tls.is_empty() {
            Check::skipped(
                "bulk.tls",
                "Not checked: the campaign names no relay, so no connection was tested.",
                "Configure [relay] so the connection's TLS can be checked.",
            )
        } else if tls.iter().all(|c| c.status == Status::Pass) {
            Check::pass("bulk.tls", format!("Mail leaves over TLS (see tls.*), which {GMAIL} requires of every sender."))
        } else {
            Check::warning(
                "bulk.tls",
                format!("The relay connection does not fully pass the TLS checks (see tls.*); {GMAIL} requires TLS of every sender."),
                "Fix the TLS findings of the relay first.",
            )
        });

        // One-click unsubscribe (RFC 8058) and a visible link.
        out.push(if self.messages == 0 {
            Check::skipped("bulk.one_click", "Not checked: no message could be built.", "Fix the merge findings so messages can be built.")
        } else if self.no_one_click.is_empty() {
            Check::pass(
                "bulk.one_click",
                format!("Every message has List-Unsubscribe with an https URL and List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058 §3.1), as {GMAIL} and {YAHOO} require of bulk marketing mail."),
            )
        } else {
            Check::warning(
                "bulk.one_click",
                format!(
                    "{} of {} messages lack one-click unsubscribe, the pair List-Unsubscribe: <https://...> and List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058 §3.1), e.g. {} ({volume}). Sources: {GMAIL}; {YAHOO}; {OUTLOOK} recommends it.",
                    self.no_one_click.len(), self.messages, rows(&self.no_one_click)
                ),
                "Set [unsubscribe] url = \"https://.../unsubscribe?t={token}\" in the campaign; MergeGuard then adds both headers.",
            )
        });
        out.push(if self.messages == 0 {
            Check::skipped("bulk.visible_unsubscribe", "Not checked: no message could be built.", "Fix the merge findings so messages can be built.")
        } else if self.not_visible.is_empty() {
            Check::pass(
                "bulk.visible_unsubscribe",
                format!("Every message shows its unsubscribe link or address in the body, as {GMAIL} asks of bulk senders (and {OUTLOOK})."),
            )
        } else {
            Check::warning(
                "bulk.visible_unsubscribe",
                format!(
                    "{} of {} messages do not show the List-Unsubscribe link or address in the body, e.g. {} ({volume}). Sources: {GMAIL}; {OUTLOOK}.",
                    self.not_visible.len(), self.messages, rows(&self.not_visible)
                ),
                "Put the unsubscribe URL (or address) of [unsubscribe] in the text and HTML bodies, e.g. in the footer.",
            )
        });

        // From domain not a free mailbox.
        let from_domain = from_address
            .rsplit_once('@')
            .map(|(_, d)| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .unwrap_or_default();
        out.push(if FREE_MAIL_DOMAINS.contains(&from_domain.as_str()) {
            Check::warning(
                "bulk.free_mail_from",
                format!("The From address is at {from_domain}, a free mailbox domain: its owner's DMARC policy makes mail sent through another relay fail, and the providers ask senders not to use their domains in From. Sources: {GMAIL}; {YAHOO}."),
                "Send from an address at your own domain, with SPF, DKIM and DMARC set up for it.",
            )
        } else {
            Check::pass("bulk.free_mail_from", format!("The From domain {from_domain} is not a free mailbox domain ({GMAIL}; {YAHOO})."))
        });

        // Message-ID and Date (RFC 5322 §3.6).
        out.push(if self.messages == 0 {
            Check::skipped("bulk.message_format", "Not checked: no message could be built.", "Fix the merge findings so messages can be built.")
        } else if self.bad_format.is_empty() {
            Check::pass(
                "bulk.message_format",
                format!("Every message has Message-ID and Date fields (RFC 5322 §3.6), which {GMAIL} requires of every sender."),
            )
        } else {
            let (row, name) = self.bad_format[0];
            Check::warning(
                "bulk.message_format",
                format!("{} message field(s) missing, e.g. row {row} has no {name} (RFC 5322 §3.6); {GMAIL} requires both of every sender.", self.bad_format.len()),
                "Report this as a MergeGuard bug: every built message should carry Message-ID and Date.",
            )
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(row: u64, headers: &str, text: &str) -> BuiltMessage {
        BuiltMessage {
            row,
            to: "a@example.org".into(),
            envelope_to: vec!["a@example.org".into()],
            envelope_from: "news@shop.test".into(),
            subject: "s".into(),
            text: text.into(),
            html: None,
            attachments: vec![],
            message_id: "<m@shop.test>".into(),
            raw: format!("{headers}\r\n\r\n{text}\r\n").into_bytes(),
        }
    }

    const GOOD_HEADERS: &str = "From: news@shop.test\r\nDate: Tue, 1 Dec 2026 10:00:00 +0900\r\nMessage-ID: <m@shop.test>\r\nList-Unsubscribe: <mailto:u@shop.test?subject=x>,\r\n <https://shop.test/unsubscribe?t=abc>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click";

    fn status(checks: &[Check], id: &str) -> Status {
        checks
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{id}"))
            .status
    }

    fn domain_checks(status: Status) -> Vec<Check> {
        [
            "spf.relay",
            "dkim.verify",
            "dmarc.record",
            "dmarc.alignment",
            "dns.fcrdns",
            "tls.starttls",
        ]
        .iter()
        .map(|id| Check {
            id: id.to_string(),
            status,
            detail: format!("{id} said so"),
            fix: String::new(),
        })
        .collect()
    }

    #[test]
    fn rfc8058_pair_and_visible_link_pass() {
        let mut rules = BulkRules::new();
        rules.observe(&[message(
            2,
            GOOD_HEADERS,
            "Unsubscribe: https://shop.test/unsubscribe",
        )]);
        let out = rules.finish(&domain_checks(Status::Pass), "news@shop.test", 10);
        assert!(out.iter().all(|c| c.status == Status::Pass), "{out:#?}");
        assert!(out.iter().all(|c| !c.detail.is_empty()));
    }

    #[test]
    fn missing_post_header_and_invisible_link_warn_with_rows() {
        let headers = "Date: x\r\nMessage-ID: <m@x>\r\nList-Unsubscribe: <https://shop.test/u?t=1>";
        let mut rules = BulkRules::new();
        rules.observe(&[
            message(2, headers, "no link here"),
            message(3, GOOD_HEADERS, "https://shop.test/unsubscribe"),
        ]);
        let out = rules.finish(&domain_checks(Status::Pass), "news@shop.test", 6_000);
        assert_eq!(status(&out, "bulk.one_click"), Status::Warning);
        assert_eq!(status(&out, "bulk.visible_unsubscribe"), Status::Warning);
        let one_click = out.iter().find(|c| c.id == "bulk.one_click").unwrap();
        assert!(
            one_click.detail.contains("1 of 2") && one_click.detail.contains("row(s) 2"),
            "{one_click:?}"
        );
        assert!(
            one_click.detail.contains("6000 recipients"),
            "{one_click:?}"
        );
    }

    #[test]
    fn mailto_address_in_body_is_visible_and_missing_date_is_found() {
        let headers = "Message-ID: <m@x>\r\nList-Unsubscribe: <mailto:stop@shop.test?subject=t>";
        let mut rules = BulkRules::new();
        rules.observe(&[message(7, headers, "write to stop@shop.test to stop")]);
        let out = rules.finish(&domain_checks(Status::Pass), "news@shop.test", 1);
        assert_eq!(status(&out, "bulk.visible_unsubscribe"), Status::Pass);
        assert_eq!(
            status(&out, "bulk.one_click"),
            Status::Warning,
            "mailto alone is not one-click"
        );
        assert_eq!(status(&out, "bulk.message_format"), Status::Warning);
    }

    #[test]
    fn free_mail_from_and_skipped_inputs() {
        let mut rules = BulkRules::new();
        rules.observe(&[message(2, GOOD_HEADERS, "https://shop.test/unsubscribe")]);
        let out = rules.finish(&domain_checks(Status::Skipped), "someone@Gmail.com", 1);
        assert_eq!(status(&out, "bulk.free_mail_from"), Status::Warning);
        assert_eq!(status(&out, "bulk.spf_dkim"), Status::Skipped);
        assert_eq!(status(&out, "bulk.dmarc"), Status::Skipped);
        assert_eq!(status(&out, "bulk.ptr"), Status::Skipped);
        // tls.starttls was "skipped" in the input, which is not a pass.
        assert_eq!(status(&out, "bulk.tls"), Status::Warning);
        let none = BulkRules::new().finish(&[], "a@shop.test", 0);
        assert_eq!(status(&none, "bulk.tls"), Status::Skipped);
        assert_eq!(status(&none, "bulk.one_click"), Status::Skipped);
        assert_eq!(
            status(&none, "bulk.spf_dkim"),
            Status::Warning,
            "no SPF or DKIM check at all is not a pass"
        );
    }

    #[test]
    fn folded_headers_are_unfolded() {
        let f = header_fields(
            b"A: 1\r\nList-Unsubscribe: <mailto:a@b>,\r\n\t<https://x/y>\r\n\r\nbody",
        );
        assert_eq!(
            field(&f, "list-unsubscribe"),
            Some("<mailto:a@b>, <https://x/y>")
        );
        assert_eq!(
            unsubscribe_targets("<mailto:a@b>, <https://x/y>"),
            ["mailto:a@b", "https://x/y"]
        );
    }
}
