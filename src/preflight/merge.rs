//! Merge completeness: every recipient has a built message, no subject is empty and
//! no template syntax (`{{`, `{%`, `}}`, `%}`) is left in what will be sent (subject,
//! sender name, text and HTML bodies).

use std::collections::HashSet;

use mail_parser::Message;

use super::messages::Findings;
use super::{Check, Status};
use crate::compose::BuiltMessage;

pub const RENDERS: &str = "merge.renders";
pub const SUBJECT: &str = "merge.subject";
pub const LEFTOVER: &str = "merge.leftover";

const MARKERS: [&str; 4] = ["{{", "{%", "}}", "%}"];

fn leftover(text: &str) -> Option<&'static str> {
    // One memchr pass for the rare '{' / '}' bytes before looking at pairs.
    let bytes = text.as_bytes();
    memchr::memchr3_iter(b'{', b'}', b'%', bytes).find_map(|i| {
        let pair = bytes.get(i..i + 2)?;
        MARKERS.iter().find(|m| m.as_bytes() == pair).copied()
    })
}

/// Looks at one built message as it will be sent (decoded subject and bodies).
pub(crate) fn inspect(msg: &BuiltMessage, parsed: &Message<'_>, findings: &mut Findings) {
    let row = msg.row;
    let subject = parsed.subject().unwrap_or("");
    if subject.trim().is_empty() {
        findings.add(
            SUBJECT,
            Status::Fail,
            row,
            format!("row {row}: the subject is empty"),
        );
    }
    let mut places: Vec<String> = Vec::new();
    if let Some(m) = leftover(subject) {
        places.push(format!("\"{m}\" in the subject"));
    }
    // The sender name is a template too, and a merged value can carry braces into it.
    if let Some(m) = parsed
        .from()
        .and_then(|a| a.first())
        .and_then(|m| m.name())
        .and_then(leftover)
    {
        places.push(format!("\"{m}\" in the sender name"));
    }
    for part in parsed.text_bodies() {
        if let Some(m) = part.text_contents().and_then(leftover) {
            places.push(format!("\"{m}\" in the text body"));
        }
    }
    for part in parsed.html_bodies() {
        if let Some(m) = part.text_contents().and_then(leftover) {
            places.push(format!("\"{m}\" in the HTML body"));
        }
    }
    places.dedup();
    if !places.is_empty() {
        findings.add(
            LEFTOVER,
            Status::Fail,
            row,
            format!("row {row}: {}", places.join(", ")),
        );
    }
}

/// Render errors, and recipients that have neither a message nor an error.
pub(crate) fn inspect_renders(
    list: &crate::recipients::RecipientList,
    render_errors: &[(u64, crate::compose::RenderError)],
    built: &HashSet<u64>,
    findings: &mut Findings,
) {
    for (row, err) in render_errors {
        // Compose's messages already name their row ("row 3: ..."); say it once.
        let prefix = format!("row {row}: ");
        let sample = if err.message.starts_with(&prefix) {
            err.message.clone()
        } else {
            format!("{prefix}{}", err.message)
        };
        findings.add(RENDERS, Status::Fail, *row, sample);
    }
    let failed: HashSet<u64> = render_errors.iter().map(|e| e.0).collect();
    for r in &list.recipients {
        if !built.contains(&r.row) && !failed.contains(&r.row) {
            findings.add(
                RENDERS,
                Status::Fail,
                r.row,
                format!("row {}: no message was built", r.row),
            );
        }
    }
}

pub(crate) fn verdicts(findings: &Findings, recipients: usize, messages: usize) -> Vec<Check> {
    vec![
        findings.verdict(
            RENDERS,
            format!("All {recipients} recipients have a built message ({messages} messages)."),
            "Fix the template or fill in the missing fields for these rows, then build the messages again.",
        ),
        findings.verdict(
            SUBJECT,
            format!("All {messages} messages have a subject."),
            "Write a subject, or fill in the field the subject is built from.",
        ),
        findings.verdict(
            LEFTOVER,
            "No template markers ({{, {%, }}) are left in any subject or body.".to_string(),
            "A merge field was not replaced: check its spelling and that the column exists.",
        ),
    ]
}
