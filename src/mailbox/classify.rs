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

/// The addresses a message was mailed to, as its headers say: To, Cc, and what the
/// receiving servers added (Delivered-To, X-Original-To, Envelope-To).
fn recipients(m: &Message<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To"] {
        for v in m.header_values(name) {
            if let Some(t) = v.as_text() {
                for part in t.split(',') {
                    let a = match (part.find('<'), part.rfind('>')) {
                        (Some(s), Some(e)) if s < e => &part[s + 1..e],
                        _ => part,
                    };
                    let a = a.trim();
                    if !a.is_empty() {
                        out.push(a.to_owned());
                    }
                }
            } else if let Some(a) = v.as_address() {
                for addr in a.iter() {
                    if let Some(x) = addr.address() {
                        out.push(x.trim().to_owned());
                    }
                }
            }
        }
    }
    out
}

fn unsubscribe_request(m: &Message<'_>, tokens: &TokenIndex) -> Class {
    // Where a mailto: token lands: the address (unsubscribe+TOKEN@), the subject
    // (?subject=TOKEN), or the body (?body=TOKEN).
    let to = recipients(m);
    let addressed = to.join(" ");
    let subject = m.subject().unwrap_or_default();
    let asks = addressed.to_ascii_lowercase().contains("unsubscribe")
        || subject.to_ascii_lowercase().contains("unsubscribe")
        || to.iter().any(|a| tokens.is_any_unsubscribe_address(a));
    let head = format!("{addressed} {subject}");
    let (mut verdict, mut token) = tokens.find_token(&head);
    let body: String;
    if verdict == Verdict::Unknown && asks {
        body = m
            .text_bodies()
            .filter_map(|p| p.text_contents())
            .map(|t| t.chars().take(4096).collect::<String>())
            .collect();
        (verdict, token) = tokens.find_token(&body);
    }
    match verdict {
        Verdict::Unknown if !asks => Class::Other,
        // Asked, with something token-shaped or not: a refused request, logged.
        Verdict::Unknown => {
            let any = unsubscribe::token_candidates(&head).next().is_some();
            if any {
                Class::Unsubscribe(Verdict::Unknown)
            } else {
                Class::Other
            }
        }
        // A valid token counts only when it was mailed to its campaign's unsubscribe
        // address: not in a reply to the newsletter, a forward, or mail to anyone else.
        Verdict::Valid(issued)
            if !tokens.sent_to_unsubscribe_address(
                &issued.campaign_id,
                token.unwrap_or_default(),
                &to,
            ) =>
        {
            Class::Unsubscribe(Verdict::WrongAddress {
                campaign_id: issued.campaign_id,
            })
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

    /// An index holding taro's keyed tokens of "spring" (List-Unsubscribe
    /// `mailto:unsubscribe+{token}@shop.test`), "winter" (`mailto:leave@shop.test?body={token}`)
    /// and "autumn", sent before sends recorded their address.
    fn index() -> (TokenIndex, [String; 3]) {
        let key = unsubscribe::UnsubscribeKey::from_bytes([5; 32]);
        let issued = |c: &str| unsubscribe::Issued {
            campaign_id: c.into(),
            address: "taro@example.jp".into(),
            keyed: true,
        };
        let tokens = ["spring", "winter", "autumn"].map(|c| key.token(c, "taro@example.jp"));
        let now = time::OffsetDateTime::now_utc();
        let at = now.unix_timestamp() * 1000;
        let idx = TokenIndex::from_parts(
            ["spring", "winter", "autumn"]
                .iter()
                .zip(&tokens)
                .map(|(c, t)| (t.clone(), issued(c), at))
                .collect(),
            [
                ("spring", "unsubscribe+{token}@shop.test"),
                ("winter", "leave@shop.test"),
            ]
            .into_iter()
            .map(|(c, a)| (c.to_owned(), vec![a.to_owned()]))
            .collect(),
            now,
        );
        (idx, tokens)
    }

    fn request(to: &str, subject: &str, body: &str) -> Vec<u8> {
        format!("From: Taro <taro@example.jp>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}\r\n")
            .into_bytes()
    }

    /// `Some(true)`: honoured; `Some(false)`: a valid token refused for its address.
    fn honoured(raw: &[u8], idx: &TokenIndex, campaign: &str) -> Option<bool> {
        match classify(raw, idx) {
            Class::Unsubscribe(Verdict::Valid(i)) if i.campaign_id == campaign => Some(true),
            Class::Unsubscribe(Verdict::WrongAddress { campaign_id })
                if campaign_id == campaign =>
            {
                Some(false)
            }
            _ => None,
        }
    }

    #[test]
    fn a_valid_token_counts_only_when_mailed_to_the_campaigns_unsubscribe_address() {
        let (idx, [spring, winter, _]) = index();
        let yes = |raw: Vec<u8>| honoured(&raw, &idx, "spring");
        // The address the header gave; any case of the domain (and of the token).
        let to = format!("unsubscribe+{spring}@shop.test");
        assert_eq!(yes(request(&to, "unsubscribe", "")), Some(true));
        let upper = format!("Taro <unsubscribe+{}@SHOP.Test>", spring.to_uppercase());
        assert_eq!(yes(request(&upper, "x", "")), Some(true));
        // Without the +detail, the token in the subject (a client that dropped it).
        assert_eq!(
            yes(request("Unsubscribe@shop.test", &spring, "")),
            Some(true)
        );
        // Delivered-To names the envelope recipient when To is someone else.
        let raw = format!(
            "Delivered-To: unsubscribe+{spring}@shop.test\r\nFrom: taro@example.jp\r\n\
             To: undisclosed-recipients:;\r\nSubject: unsubscribe\r\n\r\n.\r\n"
        );
        assert_eq!(yes(raw.into_bytes()), Some(true));
        // The same valid token mailed anywhere else: refused, whoever it names.
        for to in [
            "news@shop.test".to_owned(),
            format!("unsubscribe+{spring}@evil.example"),
            format!("unsubscribe+{spring}@shop.test.evil.example"),
            format!("unsubscribe-{spring}@shop.test"),
            format!("leave+{spring}@shop.test"),
        ] {
            let raw = request(&to, &format!("unsubscribe {spring}"), "");
            assert_eq!(yes(raw), Some(false), "{to}");
        }
        // Mail to an unsubscribe address is a request even without the word: the token
        // in the body (mailto:...?body={token}) is found.
        let raw = request("leave@shop.test", "please", &format!("token {winter}"));
        assert_eq!(honoured(&raw, &idx, "winter"), Some(true));
        let raw = request("news@shop.test", "please", &format!("token {winter}"));
        assert!(matches!(classify(&raw, &idx), Class::Other));
    }

    #[test]
    fn a_campaign_sent_before_addresses_were_recorded_is_honoured_wherever_mailed() {
        let (idx, [_, _, autumn]) = index();
        let raw = request("news@shop.test", &format!("unsubscribe {autumn}"), "");
        assert_eq!(honoured(&raw, &idx, "autumn"), Some(true));
        // A forged token is unknown, whatever the address.
        let raw = request(
            "unsubscribe@shop.test",
            "unsubscribe 0123456789abcdef0123456789abcdef",
            "",
        );
        assert!(matches!(
            classify(&raw, &idx),
            Class::Unsubscribe(Verdict::Unknown)
        ));
    }

    #[test]
    fn an_ordinary_reply_is_not_a_bounce() {
        let raw = b"From: Taro <taro@example.jp>\r\nTo: news@shop.test\r\nSubject: Re: sale 5.1.1\r\n\r\nThanks!\r\n";
        let m = MessageParser::default().parse(&raw[..]).unwrap();
        assert!(bounce(&m).is_none());
        assert!(report(&m).is_none());
    }
}
