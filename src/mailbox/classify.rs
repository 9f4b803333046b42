//! What one mailbox message is: a bounce (RFC 3464 delivery status notification, or the
//! common non-standard "mail delivery failed" forms), a DMARC aggregate report, an
//! unsubscribe request, or anything else. Pure: bytes in, a verdict out (the token check
//! is the caller's [`TokenIndex`]).
//!
//! Order matters: a bounce of one of our messages carries that message's headers, and so
//! its List-Unsubscribe token; it is a bounce, never an unsubscribe request.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use crate::dmarc_report::{self, AggregateReport};
use crate::unsubscribe::{self, TokenIndex, Verdict};

/// One message's meaning.
#[derive(Debug)]
pub enum Class {
    Bounce(Bounce),
    Report(Box<AggregateReport>),
    /// A report attachment that was refused (damaged, too large, hostile).
    BadReport(String),
    Unsubscribe(Verdict),
    Other,
}

/// A delivery failure report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The failed message's Message-ID, with angle brackets, when the report quotes it.
    pub message_id: Option<String>,
    /// The failed recipient, when the report names one.
    pub recipient: Option<String>,
    /// The enhanced status code, e.g. `5.1.1`.
    pub status: String,
}

impl Bounce {
    /// Hard: the mailbox or domain does not exist (5.1.x). Everything else (full
    /// mailbox, policy, temporary trouble) is soft.
    pub fn is_hard(&self) -> bool {
        self.status.starts_with("5.1.")
    }
}

pub fn classify(bytes: &[u8], tokens: &TokenIndex) -> Class {
    let Some(message) = MessageParser::default().parse(bytes) else {
        return Class::Other;
    };
    if let Some(b) = bounce(&message) {
        return Class::Bounce(b);
    }
    if let Some(r) = report(&message) {
        return r;
    }
    unsubscribe_request(&message, tokens)
}

fn lower(s: Option<&str>) -> String {
    s.unwrap_or_default().to_ascii_lowercase()
}

/// The first `x.y.z` enhanced status code in `text` whose class is 4 or 5.
fn enhanced_status(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && (parts[0] == "4" || parts[0] == "5")
                && parts[1].len() <= 3
                && parts[2].len() <= 3
                && parts[1..]
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_owned)
}

/// The value of the first `name:` field line (case ignored) in `text`.
fn field<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    text.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn angle_id(v: &str) -> Option<String> {
    let start = v.find('<')?;
    let end = v[start..].find('>')? + start;
    Some(v[start..=end].to_owned())
}

fn bounce(m: &Message<'_>) -> Option<Bounce> {
    let root_ct = m.root_part().content_type();
    let is_report = root_ct.is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    });
    let mut status = None;
    let mut recipient = None;
    let mut message_id = None;
    if is_report {
        for part in &m.parts {
            let Some(ct) = part.content_type() else {
                continue;
            };
            let sub = lower(ct.subtype());
            let ctype = ct.ctype().to_ascii_lowercase();
            if ctype == "message" && (sub == "delivery-status" || sub == "global-delivery-status") {
                let text = String::from_utf8_lossy(part.contents());
                // Per-recipient fields follow the per-message ones; one recipient per
                // message is all MergeGuard sends, so the first one is it. "delayed" is
                // a warning that delivery is still being tried, not a bounce.
                let action = field(&text, "Action").map(str::to_ascii_lowercase);
                if action.as_deref().is_some_and(|a| {
                    a == "delivered" || a == "relayed" || a == "expanded" || a == "delayed"
                }) {
                    return None;
                }
                status = field(&text, "Status").and_then(enhanced_status);
                recipient = field(&text, "Final-Recipient")
                    .or_else(|| field(&text, "Original-Recipient"))
                    .map(|v| v.rsplit(';').next().unwrap_or(v).trim().to_owned());
            } else if ctype == "message" && (sub == "rfc822" || sub == "global") {
                if let PartType::Message(inner) = &part.body {
                    message_id = inner.message_id().map(|id| format!("<{id}>"));
                }
            } else if ctype == "text" && sub == "rfc822-headers" {
                let text = String::from_utf8_lossy(part.contents());
                message_id = field(&text, "Message-ID").and_then(angle_id);
            }
        }
        let status = status?;
        return Some(Bounce {
            message_id,
            recipient,
            status,
        });
    }
    // Non-standard forms: a plain mail from the mailer daemon quoting the failure.
    let from = m
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let local = from.split('@').next().unwrap_or_default();
    let subject = lower(m.subject());
    let daemon = matches!(local, "mailer-daemon" | "postmaster" | "mail-daemon")
        || m.return_address().is_none() && subject.contains("undeliver");
    let failure_words = [
        "undeliver",
        "delivery status notification",
        "failure notice",
        "delivery failed",
        "returned mail",
        "delivery has failed",
    ];
    if !daemon || !failure_words.iter().any(|w| subject.contains(w)) {
        return None;
    }
    let text: String = m
        .text_bodies()
        .filter_map(|p| p.text_contents())
        .collect::<Vec<_>>()
        .join("\n");
    let status = enhanced_status(&text)?;
    let message_id = field(&text, "Message-ID").and_then(angle_id).or_else(|| {
        m.attachments().find_map(|a| match &a.body {
            PartType::Message(inner) => inner.message_id().map(|id| format!("<{id}>")),
            _ => None,
        })
    });
    Some(Bounce {
        message_id,
        recipient: None,
        status,
    })
}

fn report(m: &Message<'_>) -> Option<Class> {
    for part in &m.parts {
        let bytes: &[u8] = match &part.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => b,
            PartType::Text(t) => t.as_bytes(),
            _ => continue,
        };
        let sub = lower(part.content_type().and_then(|c| c.subtype()));
        let name = lower(part.attachment_name());
        let looks = matches!(
            sub.as_str(),
            "gzip" | "x-gzip" | "zip" | "x-zip-compressed" | "xml"
        ) || name.ends_with(".xml")
            || name.ends_with(".xml.gz")
            || name.ends_with(".zip")
            || name.ends_with(".gz");
        if !looks {
            continue;
        }
        return Some(match dmarc_report::parse_file_bytes(bytes) {
            Ok(r) => Class::Report(Box::new(r)),
            Err(e) => Class::BadReport(e.to_string()),
        });
    }
    None
}

fn unsubscribe_request(m: &Message<'_>, tokens: &TokenIndex) -> Class {
    // Where a mailto: token lands: the address (unsubscribe+TOKEN@), the subject
    // (?subject=TOKEN), or the body (?body=TOKEN).
    let mut addressed = String::new();
    for name in ["To", "Cc", "Delivered-To", "X-Original-To"] {
        for v in m.header_values(name) {
            if let Some(t) = v.as_text() {
                addressed.push_str(t);
                addressed.push(' ');
            } else if let Some(a) = v.as_address() {
                for addr in a.iter() {
                    addressed.push_str(addr.address().unwrap_or_default());
                    addressed.push(' ');
                }
            }
        }
    }
    let subject = m.subject().unwrap_or_default();
    let asks = addressed.to_ascii_lowercase().contains("unsubscribe")
        || subject.to_ascii_lowercase().contains("unsubscribe");
    let mut verdict = tokens.find(&format!("{addressed} {subject}"));
    if verdict == Verdict::Unknown && asks {
        let body: String = m
            .text_bodies()
            .filter_map(|p| p.text_contents())
            .map(|t| t.chars().take(4096).collect::<String>())
            .collect();
        verdict = tokens.find(&body);
    }
    match verdict {
        Verdict::Unknown if !asks => Class::Other,
        // Asked, with something token-shaped or not: a refused request, logged.
        Verdict::Unknown => {
            let any = unsubscribe::token_candidates(&format!("{addressed} {subject}"))
                .next()
                .is_some();
            if any {
                Class::Unsubscribe(Verdict::Unknown)
            } else {
                Class::Other
            }
        }
        v => Class::Unsubscribe(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_status_codes_are_found_in_words() {
        assert_eq!(enhanced_status("Status: 5.1.1"), Some("5.1.1".into()));
        assert_eq!(
            enhanced_status("host said: 550 5.1.10 RESOLVER.ADR.RecipientNotFound"),
            Some("5.1.10".into())
        );
        assert_eq!(enhanced_status("version 1.2.3 and 2.0.0"), None);
        assert_eq!(
            enhanced_status("452 4.2.2 mailbox full"),
            Some("4.2.2".into())
        );
    }

    #[test]
    fn a_plain_mailer_daemon_bounce_is_read() {
        let raw = b"From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\n\
To: news@shop.test\r\nSubject: Mail delivery failed: returning message to sender\r\n\r\n\
This message was created automatically by mail delivery software.\r\n\r\n\
  taro@example.jp\r\n    host mx.example.jp said: 550 5.1.1 User unknown\r\n\r\n\
------ This is a copy of the message, including all the headers. ------\r\n\
Message-ID: <abc.spring@shop.test>\r\nSubject: hello\r\n";
        let m = MessageParser::default().parse(&raw[..]).unwrap();
        let b = bounce(&m).unwrap();
        assert_eq!(b.status, "5.1.1");
        assert_eq!(b.message_id.as_deref(), Some("<abc.spring@shop.test>"));
        assert!(b.is_hard());
    }

    #[test]
    fn an_ordinary_reply_is_not_a_bounce() {
        let raw = b"From: Taro <taro@example.jp>\r\nTo: news@shop.test\r\nSubject: Re: sale 5.1.1\r\n\r\nThanks!\r\n";
        let m = MessageParser::default().parse(&raw[..]).unwrap();
        assert!(bounce(&m).is_none());
        assert!(report(&m).is_none());
    }
}
