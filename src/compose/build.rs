//! Building one recipient's message with lettre, and the checks that make a built
//! message safe to send: no control characters in merged headers, exactly one
//! recipient in `To` and the envelope, no `Cc`/`Bcc`, and no bare CR or LF anywhere in
//! the bytes (every line of every part ends in CRLF).

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Address;
use sha2::{Digest, Sha256};
use std::path::{Component, Path};
use std::sync::Arc;

use super::context::RowContext;
use super::{
    Attachment, AttachmentSummary, BuiltMessage, Composer, Draft, DraftError, RenderError,
    T_FROM_NAME, T_HTML, T_SUBJECT, T_TEXT,
};
use crate::error::ErrorCode;
use crate::recipients::{Recipient, RecipientList};

/// The stable Message-ID of (campaign, recipient):
/// `<{first 32 hex of sha256(campaign_id NUL lowercased email)}.{campaign short}@{domain}>`.
/// Re-rendering gives the same id, so a resent copy is recognisable as the same message.
pub fn message_id(campaign_id: &str, email: &str, sender_domain: &str) -> String {
    let h = hash_hex(&[
        campaign_id.as_bytes(),
        b"\0",
        email.to_lowercase().as_bytes(),
    ]);
    format!(
        "<{}.{}@{}>",
        &h[..32],
        campaign_short(campaign_id),
        sender_domain
    )
}

fn hash_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update(p);
    }
    hex::encode(hasher.finalize())
}

/// A short, Message-ID-safe form of the campaign id: its first 12 letters, digits and
/// hyphens, or 8 hex digits of its hash when it has none.
pub(crate) fn campaign_short(campaign_id: &str) -> String {
    let s: String = campaign_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(12)
        .collect();
    if s.is_empty() {
        hash_hex(&[campaign_id.as_bytes()])[..8].to_owned()
    } else {
        s
    }
}

/// Refuses unsubscribe targets that could break the header they go into.
pub(crate) fn check_unsubscribe(draft: &Draft) -> Result<(), DraftError> {
    let bad = |what: &str, v: &str, why: &str| {
        Err(DraftError {
            code: ErrorCode::InvalidCampaign,
            message: format!("the unsubscribe {what} \"{v}\" {why}"),
        })
    };
    for (what, v) in [
        ("mailto", &draft.unsubscribe_mailto),
        ("url", &draft.unsubscribe_url),
    ] {
        let Some(v) = v else { continue };
        if !v.is_ascii()
            || v.bytes()
                .any(|b| b <= b' ' || b == 0x7f || b == b'<' || b == b'>' || b == b',')
        {
            return bad(
                what,
                v,
                "must be plain ASCII without spaces, commas or angle brackets",
            );
        }
    }
    if let Some(url) = &draft.unsubscribe_url {
        if !url.starts_with("https://") {
            return bad(
                "url",
                url,
                "must start with https:// (RFC 8058 one-click needs HTTPS)",
            );
        }
    }
    if let Some(m) = &draft.unsubscribe_mailto {
        let addr = m.strip_prefix("mailto:").unwrap_or(m);
        let addr = addr.split('?').next().unwrap_or("");
        if addr.parse::<Address>().is_err() {
            return bad("mailto", m, "is not a valid email address");
        }
    }
    Ok(())
}

/// Characters that must never reach a header through a merge field: every C0 control
/// (CR and LF above all, and tab too, since a header value never needs one), DEL, the
/// C1 controls and the Unicode line and paragraph separators.
fn is_header_unsafe(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

fn check_header(row: u64, what: &str, value: &str) -> Result<(), RenderError> {
    if let Some(c) = value.chars().find(|c| is_header_unsafe(*c)) {
        let kind = match c {
            '\r' | '\n' => "a line break".to_owned(),
            c => format!("the control character U+{:04X}", c as u32),
        };
        return Err(RenderError::new(
            ErrorCode::HeaderInjection,
            format!(
                "row {row}: the {what} would contain {kind} after merging; this recipient is \
                 skipped so that no extra header can be created"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn render_one(
    c: &Composer,
    list: &RecipientList,
    recipient: &Recipient,
) -> Result<BuiltMessage, RenderError> {
    let row = recipient.row;
    let ctx = RowContext::value(c.names_of(list), recipient);
    let subject = c.render_template(T_SUBJECT, &ctx, list, row)?;
    check_header(row, "subject", &subject)?;
    let from_name = c.render_template(T_FROM_NAME, &ctx, list, row)?;
    check_header(row, "sender name", &from_name)?;
    let text = unify_line_breaks(c.render_template(T_TEXT, &ctx, list, row)?);
    let html = match c.draft.html {
        Some(_) => Some(unify_line_breaks(
            c.render_template(T_HTML, &ctx, list, row)?,
        )),
        None => None,
    };

    let email = recipient.email().trim();
    let to_addr: Address = email.parse().map_err(|_| {
        RenderError::new(
            ErrorCode::InvalidAddress,
            format!("row {row}: \"{email}\" is not a valid email address"),
        )
    })?;

    let own = match &c.draft.attachment_column {
        Some(col) => Some(EncodedAttachment::new(&recipient_attachment(
            c, list, recipient, col,
        )?)),
        None => None,
    };
    let attachments: Vec<&EncodedAttachment> = c.shared.iter().chain(own.as_ref()).collect();

    let message_id = message_id(&c.draft.campaign_id, email, &c.sender_domain);
    let from_name = from_name.trim();
    let from = Mailbox::new(
        (!from_name.is_empty()).then(|| from_name.to_owned()),
        c.from_address.clone(),
    );
    let envelope =
        lettre::address::Envelope::new(Some(c.from_address.clone()), vec![to_addr.clone()])
            .map_err(|e| RenderError::new(ErrorCode::InvalidAddress, format!("row {row}: {e}")))?;
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(Mailbox::new(None, to_addr.clone()))
        .subject(subject.clone())
        .date(c.date)
        .message_id(Some(message_id.clone()))
        .envelope(envelope);
    if let Some(r) = &c.reply_to {
        builder = builder.reply_to(r.clone());
    }
    if let Some(v) = list_unsubscribe(&c.draft, email) {
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            v,
        ));
        if c.draft.unsubscribe_url.is_some() {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
        }
        // A newsletter is list mail: it names its list (RFC 2919), which receivers
        // (SpamAssassin's LIST_PARTIAL_SHORT_MSG among them) expect beside
        // List-Unsubscribe.
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Id"),
            list_id(&c.from_address),
        ));
    }

    // Boundaries derive from the Message-ID so the same recipient always gets the same
    // bytes (the approval fingerprint hashes them). "=_" never occurs in quoted-printable
    // or base64 output; a body that quotes it literally gets a different suffix.
    let seed = &message_id[1..17];
    let boundary = |kind: &str| {
        let mut b = format!("=_mg{kind}{seed}");
        let mut n = 0;
        while text.contains(&b) || html.as_deref().is_some_and(|h| h.contains(&b)) {
            n += 1;
            b = format!("=_mg{kind}{seed}{n}");
        }
        b
    };
    // One Content-Type parse per multipart (MultiPart::alternative().boundary() parses
    // twice and draws a random boundary it then throws away); the header text is the same.
    let multipart = |kind: &str, boundary: String| {
        ContentType::parse(&format!("multipart/{kind}; boundary=\"{boundary}\""))
            .map(|ct| MultiPart::builder().header(ct))
            .map_err(|e| RenderError::new(ErrorCode::InvalidMessage, format!("row {row}: {e}")))
    };
    let text_part = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(text.clone());
    let body_mime = match &html {
        Some(h) => Some(
            multipart("alternative", boundary("a"))?
                .singlepart(text_part.clone())
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(h.clone()),
                ),
        ),
        None => None,
    };
    let message = if attachments.is_empty() {
        match body_mime {
            Some(m) => builder.multipart(m),
            None => builder.singlepart(text_part),
        }
    } else {
        let start = multipart("mixed", boundary("m"))?;
        let mut mixed = match body_mime {
            Some(m) => start.multipart(m),
            None => start.singlepart(text_part),
        };
        for a in &attachments {
            mixed = mixed.singlepart(
                lettre::message::Attachment::new(a.summary.file_name.clone())
                    .body(a.body.clone(), a.content_type.clone()),
            );
        }
        builder.multipart(mixed)
    }
    .map_err(|e| RenderError::new(ErrorCode::InvalidMessage, format!("row {row}: {e}")))?;

    check_one_recipient(row, &message, &to_addr)?;
    let raw = message.formatted();
    check_raw_headers(row, &raw, &to_addr)?;

    Ok(BuiltMessage {
        row,
        to: to_addr.to_string(),
        envelope_to: vec![to_addr.to_string()],
        envelope_from: c.from_address.to_string(),
        subject,
        text,
        html,
        attachments: attachments.iter().map(|a| a.summary.clone()).collect(),
        message_id,
        raw,
    })
}

/// The RFC 2919 list identifier of a sender's mailings: `<local.domain>` from the From
/// address (`news@shop.test` → `<news.shop.test>`), so every campaign of one sender
/// address is one list. The label keeps letters, digits and hyphens only (a dot-atom
/// that needs no quoting), lower-cased.
pub(crate) fn list_id(from: &lettre::Address) -> String {
    let label: String = from
        .user()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let label = label.trim_matches('-');
    let label = if label.is_empty() { "list" } else { label };
    format!(
        "<{label}.{}>",
        from.domain().trim_end_matches('.').to_ascii_lowercase()
    )
}

fn list_unsubscribe(draft: &Draft, email: &str) -> Option<String> {
    let mut parts = Vec::new();
    let needs_token = |t: &Option<String>| t.as_deref().is_some_and(|t| t.contains("{token}"));
    let token = if needs_token(&draft.unsubscribe_mailto) || needs_token(&draft.unsubscribe_url) {
        match &draft.unsubscribe_key {
            Some(key) => key.token(&draft.campaign_id, email),
            None => crate::unsubscribe::PREVIEW_TOKEN.to_owned(),
        }
    } else {
        String::new()
    };
    if let Some(m) = &draft.unsubscribe_mailto {
        let m = m.strip_prefix("mailto:").unwrap_or(m);
        parts.push(format!("<mailto:{}>", m.replace("{token}", &token)));
    }
    if let Some(u) = &draft.unsubscribe_url {
        parts.push(format!("<{}>", u.replace("{token}", &token)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Reads the attachment a recipient's column names, refusing paths that would leave
/// the attachment folder: the cell is data from the CSV, not a path to trust.
fn recipient_attachment(
    c: &Composer,
    list: &RecipientList,
    recipient: &Recipient,
    column: &str,
) -> Result<Attachment, RenderError> {
    let row = recipient.row;
    let name = list.value(recipient, column).ok_or_else(|| {
        RenderError::new(
            ErrorCode::MissingField,
            format!("row {row}: the attachment column \"{column}\" is not in the recipient file"),
        )
    })?;
    let name = name.trim();
    let rel = Path::new(name);
    if name.is_empty()
        || rel.is_absolute()
        || rel.components().any(|p| !matches!(p, Component::Normal(_)))
    {
        return Err(RenderError::new(
            ErrorCode::Io,
            format!(
                "row {row}: the attachment \"{name}\" must be a file name inside the attachment folder"
            ),
        ));
    }
    let dir = c.draft.attachment_dir.as_deref().unwrap_or(Path::new("."));
    let path = dir.join(rel);
    let bytes = std::fs::read(&path).map_err(|e| {
        RenderError::new(
            ErrorCode::Io,
            format!(
                "row {row}: cannot read the attachment {}: {e}",
                path.display()
            ),
        )
    })?;
    let file_name = rel
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Attachment {
        content_type: super::content_type_for(&file_name).to_owned(),
        file_name,
        bytes: Arc::new(bytes),
    })
}

/// One kind of line break in a rendered body: CRLF, a bare CR and a bare LF all become
/// LF, which lettre then writes as CRLF on every line.
///
/// A merge value is data from the recipient file, and a bare CR in it (an old Mac
/// export, a pasted address block, or an attempt at SMTP smuggling such as `\r.\r`)
/// would otherwise reach the body unchanged: lettre turns bare LF into CRLF but leaves
/// a bare CR alone, and relays disagree on where a line ends. The value is turned into
/// a line break rather than the recipient refused, because the line break is what the
/// person who typed it meant, and once every line ends in CRLF the SMTP layer
/// dot-stuffs a lone `.` line like any other. `content.line_endings` re-checks the
/// finished bytes.
pub(crate) fn unify_line_breaks(s: String) -> String {
    if !s.contains('\r') {
        return s;
    }
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// An attachment encoded once for every message that carries it.
pub(crate) struct EncodedAttachment {
    body: lettre::message::Body,
    content_type: ContentType,
    summary: AttachmentSummary,
}

impl EncodedAttachment {
    pub(crate) fn new(a: &Attachment) -> EncodedAttachment {
        let content_type = ContentType::parse(&a.content_type)
            .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("valid"));
        // Always base64: the file's bytes reach the reader unchanged (line endings
        // included), and no byte of an attachment can ever form a line of the SMTP
        // dialogue. lettre would send an ASCII file as 7bit, bare LFs and CRs included.
        let body = lettre::message::Body::new_with_encoding(
            a.bytes.to_vec(),
            lettre::message::header::ContentTransferEncoding::Base64,
        )
        .unwrap_or_else(lettre::message::Body::new);
        EncodedAttachment {
            body,
            content_type,
            summary: AttachmentSummary {
                file_name: a.file_name.clone(),
                content_type: a.content_type.clone(),
                size: a.bytes.len(),
                sha256: hex::encode(Sha256::digest(a.bytes.as_slice())),
            },
        }
    }
}

/// Defence in depth on the built message itself: one envelope recipient, equal to the
/// one `To` mailbox, and no `Cc`/`Bcc` header at all. The `To` header's value is checked
/// on the finished bytes by [`check_raw_headers`].
fn check_one_recipient(
    row: u64,
    message: &lettre::Message,
    to: &Address,
) -> Result<(), RenderError> {
    let fail = |why: &str| {
        Err(RenderError::new(
            ErrorCode::InvalidMessage,
            format!("row {row}: the built message breaks the one-recipient rule: {why}"),
        ))
    };
    let env_to = message.envelope().to();
    if env_to.len() != 1 || &env_to[0] != to {
        return fail("the envelope does not have exactly this one recipient");
    }
    if message.headers().get_raw("Cc").is_some() || message.headers().get_raw("Bcc").is_some() {
        return fail("it has a Cc or Bcc header");
    }
    Ok(())
}

/// The same rule checked once more on the bytes that will be sent: exactly one `To:`
/// line, holding exactly the envelope recipient, and no `Cc:`/`Bcc:` line in the header
/// section.
fn check_raw_headers(row: u64, raw: &[u8], to: &Address) -> Result<(), RenderError> {
    let end = memchr::memmem::find(raw, b"\r\n\r\n").unwrap_or(raw.len());
    let mut to_values = Vec::new();
    let mut forbidden = false;
    for line in raw[..end].split(|b| *b == b'\n') {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = &line[..colon];
        if name.eq_ignore_ascii_case(b"to") {
            to_values.push(&line[colon + 1..]);
        } else if name.eq_ignore_ascii_case(b"cc") || name.eq_ignore_ascii_case(b"bcc") {
            forbidden = true;
        }
    }
    // lettre writes an address-only mailbox as the bare address; a folded or otherwise
    // different To line is refused rather than interpreted.
    let exact = to_values.len() == 1
        && to_values[0]
            .trim_ascii()
            .eq_ignore_ascii_case(AsRef::<str>::as_ref(to).as_bytes());
    if forbidden || !exact {
        return Err(RenderError::new(
            ErrorCode::InvalidMessage,
            format!(
                "row {row}: the raw message does not have exactly one To header equal to the \
                 envelope recipient and no Cc/Bcc"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod raw_header_tests {
    use super::*;

    #[test]
    fn rfc2919_list_id_from_the_sender_address() {
        let a: lettre::Address = "News+Letter@Shop.test".parse().unwrap();
        assert_eq!(list_id(&a), "<news-letter.shop.test>");
        let a: lettre::Address = "__@shop.test".parse().unwrap();
        assert_eq!(list_id(&a), "<list.shop.test>");
    }

    #[test]
    fn every_line_break_becomes_one_lf() {
        assert_eq!(
            unify_line_breaks("a\r.\rb\r\nc\nd\r".into()),
            "a\n.\nb\nc\nd\n"
        );
        assert_eq!(unify_line_breaks("\r\r\n\n".into()), "\n\n\n");
        assert_eq!(unify_line_breaks("plain\n".into()), "plain\n");
    }

    fn check(raw: &str) -> bool {
        let to: Address = "a@x.test".parse().unwrap();
        check_raw_headers(2, raw.as_bytes(), &to).is_ok()
    }

    #[test]
    fn exactly_one_to_equal_to_the_envelope_and_no_cc() {
        assert!(check(
            "From: s@x.test\r\nTo: a@x.test\r\nSubject: Hi\r\n\r\nTo: b@x.test\r\n"
        ));
        assert!(
            !check("To: a@x.test\r\nTo: b@x.test\r\n\r\nbody"),
            "two To lines"
        );
        assert!(
            !check("To: b@x.test\r\n\r\nbody"),
            "To differs from the envelope"
        );
        assert!(
            !check("To: a@x.test, b@x.test\r\n\r\nbody"),
            "two mailboxes in To"
        );
        assert!(
            !check("To: a@x.test\r\nCc: b@x.test\r\n\r\nbody"),
            "a Cc line"
        );
        assert!(
            !check("To: a@x.test\r\nbcc: b@x.test\r\n\r\nbody"),
            "a Bcc line"
        );
        assert!(!check("Subject: no To\r\n\r\nbody"), "no To line");
    }
}
