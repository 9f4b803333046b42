//! Content checks: a List-Unsubscribe header, a From domain equal to the domain whose
//! authentication was checked, a size the relay accepts, and every line of the finished
//! bytes ending in CRLF (no bare CR or LF that a relay could read as the end of the
//! message: the SMTP-smuggling pattern).

use mail_parser::{HeaderValue, Message};

use super::messages::{Findings, MessageCheckInput};
use super::{Check, Status};
use crate::compose::BuiltMessage;

pub const UNSUBSCRIBE: &str = "content.unsubscribe";
pub const FROM_DOMAIN: &str = "content.from_domain";
pub const SIZE: &str = "content.size";
pub const LINE_ENDINGS: &str = "content.line_endings";

/// Lists above this many recipients must offer List-Unsubscribe (bulk-sender rules).
pub const UNSUBSCRIBE_REQUIRED_ABOVE: usize = 5_000;

/// Room kept under the relay's SIZE for the DKIM-Signature header added at send time.
pub const DKIM_ALLOWANCE: u64 = 1_024;

/// The byte offset of the first CR not followed by LF, or LF not preceded by CR.
pub fn first_bare_line_break(raw: &[u8]) -> Option<usize> {
    memchr::memchr2_iter(b'\r', b'\n', raw).find(|&i| match raw[i] {
        b'\r' => raw.get(i + 1) != Some(&b'\n'),
        _ => i == 0 || raw[i - 1] != b'\r',
    })
}

fn from_domain(parsed: &Message<'_>) -> Option<String> {
    let addr = match parsed.header("From")? {
        HeaderValue::Address(a) => a.first()?.address()?.to_string(),
        _ => return None,
    };
    let (_, d) = addr.rsplit_once('@')?;
    Some(d.trim().trim_end_matches('.').to_lowercase())
}

pub(crate) fn inspect(
    msg: &BuiltMessage,
    parsed: &Message<'_>,
    input: &MessageCheckInput<'_>,
    findings: &mut Findings,
) {
    let row = msg.row;
    let has_unsub = parsed
        .headers()
        .iter()
        .any(|h| h.name().eq_ignore_ascii_case("List-Unsubscribe"));
    if !has_unsub {
        let status = if input.list.recipients.len() > UNSUBSCRIBE_REQUIRED_ABOVE {
            Status::Fail
        } else {
            Status::Warning
        };
        findings.add(
            UNSUBSCRIBE,
            status,
            row,
            format!("row {row}: no List-Unsubscribe header"),
        );
    }
    match (from_domain(parsed), input.authenticated_domain) {
        (None, _) => findings.add(
            FROM_DOMAIN,
            Status::Fail,
            row,
            format!("row {row}: no readable From address"),
        ),
        (Some(d), Some(auth)) => {
            let auth = auth.trim().trim_end_matches('.').to_lowercase();
            if d != auth {
                findings.add(
                    FROM_DOMAIN,
                    Status::Fail,
                    row,
                    format!("row {row}: From domain is {d}, but the checked domain is {auth}"),
                );
            }
        }
        (Some(d), None) => findings.add(
            FROM_DOMAIN,
            Status::Warning,
            row,
            format!(
                "row {row}: From domain {d} has not been checked (no domain authentication ran)"
            ),
        ),
    }
    if let Some(at) = first_bare_line_break(&msg.raw) {
        let what = if msg.raw[at] == b'\r' { "CR" } else { "LF" };
        let line = 1 + memchr::memchr_iter(b'\n', &msg.raw[..at]).count();
        findings.add(
            LINE_ENDINGS,
            Status::Fail,
            row,
            format!("row {row}: a bare {what} (a line break that is not CRLF) at byte {at}, line {line} of the message"),
        );
    }
    if let Some(limit) = input.size_limit {
        let size = msg.raw.len() as u64;
        if size > limit {
            findings.add(
                SIZE,
                Status::Fail,
                row,
                format!("row {row}: {size} bytes, over the relay's limit of {limit} bytes"),
            );
        } else if size + DKIM_ALLOWANCE > limit {
            findings.add(
                SIZE,
                Status::Warning,
                row,
                format!("row {row}: {size} bytes, within {DKIM_ALLOWANCE} bytes of the relay's limit of {limit} (the DKIM signature still has to be added)"),
            );
        }
    }
}

pub(crate) fn verdicts(
    findings: &Findings,
    input: &MessageCheckInput<'_>,
    messages: usize,
    largest: usize,
) -> Vec<Check> {
    let size_pass = match input.size_limit {
        Some(l) => {
            format!("All messages fit the relay's limit of {l} bytes (largest {largest} bytes).")
        }
        None => {
            format!("The relay announced no size limit; the largest message is {largest} bytes.")
        }
    };
    let unsub_fix = if input.list.recipients.len() > UNSUBSCRIBE_REQUIRED_ABOVE {
        "Lists over 5,000 recipients must offer one-click unsubscribe: set an unsubscribe address or URL in the draft."
    } else {
        "Set an unsubscribe address or URL in the draft so recipients can opt out (large mailbox providers expect it)."
    };
    vec![
        findings.verdict(UNSUBSCRIBE, format!("All {messages} messages have a List-Unsubscribe header."), unsub_fix),
        findings.verdict(
            FROM_DOMAIN,
            format!("All {messages} messages are from {}, the checked domain.", input.authenticated_domain.unwrap_or("-")),
            "Send from an address at the domain whose SPF, DKIM and DMARC were checked, or check the From domain.",
        ),
        findings.verdict(SIZE, size_pass, "Make the attachments smaller or link to the file instead of attaching it."),
        findings.verdict(
            LINE_ENDINGS,
            format!("Every line of all {messages} messages ends in CRLF (no bare CR or LF)."),
            "A built message holds a line break that is not CRLF, which relays may read as the end of the message. Rebuild the messages with this version of MergeGuard; if it persists, report it as a bug.",
        ),
    ]
}
