//! Compose: merge one recipient's fields into the templates and build the finished,
//! exact RFC 5322 message that will be sent.
//!
//! Build is separate from send: [`Composer::render`] is pure (no I/O beyond reading
//! attachment bytes it was given) and produces a [`BuiltMessage`] whose `raw` bytes are
//! exactly what goes to the relay. Invariant: every built message has exactly one
//! mailbox in `To`, equal to the one envelope recipient, and no `Cc`/`Bcc`.
//!
//! Architecture invariant: this module does not know where a draft came from (campaign
//! file or compose screen) and never opens a network connection. CSV values only ever
//! enter minijinja as context values, never as template source, so a cell such as
//! `{{ 7*7 }}` is printed literally.

use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::ErrorCode;
use crate::recipients::{Recipient, RecipientList};

mod build;
mod context;
mod draft;

pub use build::message_id;

/// One attachment: the same for all recipients, or taken from a per-recipient column.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: String,
    pub bytes: std::sync::Arc<Vec<u8>>,
}

impl Attachment {
    /// An attachment whose content type is guessed from the file name's extension.
    pub fn from_bytes(file_name: impl Into<String>, bytes: Vec<u8>) -> Attachment {
        let file_name = file_name.into();
        let content_type = content_type_for(&file_name).to_owned();
        Attachment {
            file_name,
            content_type,
            bytes: Arc::new(bytes),
        }
    }
}

/// The MIME type for a file name, by extension; unknown types are sent as
/// `application/octet-stream` so the receiver never guesses an executable type.
pub fn content_type_for(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "ics" => "text/calendar",
        _ => "application/octet-stream",
    }
}

/// Everything needed to build messages, independent of where it came from (campaign
/// file or the compose screen).
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// Stable id of the campaign; part of each Message-ID.
    pub campaign_id: String,
    /// The From display name; a template, so it may use merge fields.
    pub from_name: String,
    pub from_address: String,
    pub reply_to: Option<String>,
    /// The subject template.
    pub subject: String,
    /// The plain-text body template (always sent).
    pub text: String,
    /// The optional HTML body template; merged values are HTML-escaped.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Column naming a per-recipient attachment file (path relative to `attachment_dir`).
    pub attachment_column: Option<String>,
    pub attachment_dir: Option<std::path::PathBuf>,
    /// `mailto:` target (with or without the scheme); `{token}` is replaced per recipient.
    pub unsubscribe_mailto: Option<String>,
    /// https URL; `{token}` is replaced by the recipient's keyed token
    /// ([`crate::unsubscribe::UnsubscribeKey::token`]).
    pub unsubscribe_url: Option<String>,
    /// The install's token key. Sending sets it; without it (preview, checklist) `{token}`
    /// becomes [`crate::unsubscribe::PREVIEW_TOKEN`], which no check ever accepts.
    pub unsubscribe_key: Option<crate::unsubscribe::UnsubscribeKey>,
}

/// A finished message and what the preview shows of it.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltMessage {
    pub row: u64,
    /// The one `To` mailbox (address only).
    pub to: String,
    /// The SMTP envelope recipients (always exactly one).
    pub envelope_to: Vec<String>,
    pub envelope_from: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<AttachmentSummary>,
    pub message_id: String,
    /// The exact RFC 5322 bytes that will be sent (before DKIM signing).
    #[serde(skip)]
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentSummary {
    pub file_name: String,
    pub content_type: String,
    pub size: usize,
    pub sha256: String,
}

/// Why one recipient's message could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    pub code: ErrorCode,
    pub message: String,
}

impl RenderError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RenderError {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

/// Why the draft itself is unusable (template syntax, bad sender address).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DraftError {
    pub code: ErrorCode,
    pub message: String,
}

impl DraftError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        DraftError {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

/// The names the templates are registered under; also used in error messages.
pub(crate) const T_SUBJECT: &str = "subject";
pub(crate) const T_FROM_NAME: &str = "sender name";
pub(crate) const T_TEXT: &str = "text";
pub(crate) const T_HTML: &str = "html";

/// Compiled templates and sender, ready to render any number of recipients.
pub struct Composer {
    draft: Draft,
    env: minijinja::Environment<'static>,
    /// Variables each template reads that it does not define itself, per template name;
    /// used to name the missing field when strict rendering fails.
    undeclared: Vec<(&'static str, BTreeSet<String>)>,
    from_address: lettre::Address,
    reply_to: Option<lettre::message::Mailbox>,
    sender_domain: String,
    date: SystemTime,
    /// The shared attachments encoded once: every message carries the same bytes, so
    /// base64 and SHA-256 are not redone per recipient.
    shared: Vec<build::EncodedAttachment>,
    /// The last list's header names, shared by every row context built from that list
    /// (compared by value, so a different list gets its own).
    names: std::sync::RwLock<Option<std::sync::Arc<[String]>>>,
}

impl Composer {
    /// Compiles the draft's templates (strict mode) and validates the sender.
    ///
    /// The Date header defaults to the moment of this call; tests and callers that need
    /// a fixed date use [`Composer::with_date`].
    pub fn new(draft: Draft) -> Result<Composer, DraftError> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // Body files end with a newline that belongs to the message.
        env.set_keep_trailing_newline(true);
        // Only the HTML body is escaped: the subject and text body are not markup, and
        // escaping them would show `&amp;` to the reader.
        env.set_auto_escape_callback(|name| {
            if name == T_HTML {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        let mut sources: Vec<(&'static str, String)> = vec![
            (T_SUBJECT, draft.subject.clone()),
            (T_FROM_NAME, draft.from_name.clone()),
            (T_TEXT, draft.text.clone()),
        ];
        if let Some(html) = &draft.html {
            sources.push((T_HTML, html.clone()));
        }
        if draft.subject.trim().is_empty() {
            return Err(DraftError::new(
                ErrorCode::InvalidCampaign,
                "the subject is empty",
            ));
        }
        let mut undeclared = Vec::new();
        for (name, source) in sources {
            env.add_template_owned(name, source)
                .map_err(|e| template_syntax_error(name, &e))?;
            let tmpl = env
                .get_template(name)
                .map_err(|e| template_syntax_error(name, &e))?;
            undeclared.push((name, tmpl.undeclared_variables(false).into_iter().collect()));
        }

        let from_address: lettre::Address = draft.from_address.trim().parse().map_err(|_| {
            DraftError::new(
                ErrorCode::InvalidAddress,
                format!(
                    "the sender address \"{}\" is not a valid email address",
                    draft.from_address
                ),
            )
        })?;
        let reply_to = match draft
            .reply_to
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(r) => Some(lettre::message::Mailbox::new(
                None,
                r.parse().map_err(|_| {
                    DraftError::new(
                        ErrorCode::InvalidAddress,
                        format!("the reply-to address \"{r}\" is not a valid email address"),
                    )
                })?,
            )),
        };
        build::check_unsubscribe(&draft)?;
        let sender_domain = from_address.domain().to_ascii_lowercase();
        let shared = draft
            .attachments
            .iter()
            .map(build::EncodedAttachment::new)
            .collect();
        Ok(Composer {
            names: std::sync::RwLock::new(None),
            shared,
            draft,
            env,
            undeclared,
            from_address,
            reply_to,
            sender_domain,
            date: SystemTime::now(),
        })
    }

    /// Pins the Date header of every message built from now on.
    pub fn with_date(mut self, date: SystemTime) -> Composer {
        self.date = date;
        self
    }

    /// The Date every message gets.
    pub fn date(&self) -> SystemTime {
        self.date
    }

    pub fn draft(&self) -> &Draft {
        &self.draft
    }

    /// Names the templates use that are neither a column of `fields` nor a built-in
    /// (`email`, `fields`, minijinja globals). Non-empty means every recipient would fail
    /// unless the template guards the name with `is defined` or `default()`; the compose
    /// screen shows this before anything is rendered.
    pub fn unknown_fields(&self, fields: &[String]) -> Vec<String> {
        let mut out = BTreeSet::new();
        for (_, names) in &self.undeclared {
            for n in names {
                if !self.is_known(fields, n) {
                    out.insert(n.clone());
                }
            }
        }
        out.into_iter().collect()
    }

    /// Like [`Composer::unknown_fields`], as an error that names every unknown field.
    pub fn check_fields(&self, fields: &[String]) -> Result<(), DraftError> {
        let unknown = self.unknown_fields(fields);
        if unknown.is_empty() {
            return Ok(());
        }
        let names = unknown
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        Err(DraftError::new(
            ErrorCode::MissingField,
            format!("the template uses fields that are not in the recipient file: {names}"),
        ))
    }

    fn is_known(&self, fields: &[String], name: &str) -> bool {
        context::BUILTINS.contains(&name)
            || fields.iter().any(|f| f == name)
            || self.env.globals().any(|(g, _)| g == name)
    }

    /// The header names of `list`, allocated once per list rather than once per message.
    pub(crate) fn names_of(&self, list: &RecipientList) -> std::sync::Arc<[String]> {
        if let Ok(guard) = self.names.read() {
            if let Some(names) = guard.as_ref().filter(|n| n[..] == list.fields[..]) {
                return names.clone();
            }
        }
        let names = context::shared_names(list);
        if let Ok(mut guard) = self.names.write() {
            *guard = Some(names.clone());
        }
        names
    }

    /// Builds one recipient's finished message.
    pub fn render(
        &self,
        list: &RecipientList,
        recipient: &Recipient,
    ) -> Result<BuiltMessage, RenderError> {
        build::render_one(self, list, recipient)
    }

    /// Renders one template against a context, naming the missing field on a strict
    /// undefined error.
    fn render_template(
        &self,
        name: &'static str,
        ctx: &minijinja::Value,
        list: &RecipientList,
        row: u64,
    ) -> Result<String, RenderError> {
        let tmpl = self
            .env
            .get_template(name)
            .map_err(|e| RenderError::new(ErrorCode::Internal, e.to_string()))?;
        tmpl.render(ctx).map_err(|e| {
            if e.kind() == minijinja::ErrorKind::UndefinedError {
                let missing: Vec<&String> = self
                    .undeclared
                    .iter()
                    .filter(|(n, _)| *n == name)
                    .flat_map(|(_, names)| names.iter())
                    .filter(|n| !self.is_known(&list.fields, n))
                    .collect();
                let message = match missing.as_slice() {
                    [] => format!(
                        "row {row}: the {name} template uses a value that is not defined{}",
                        line_suffix(&e)
                    ),
                    [one] => format!("row {row}: the field \"{one}\" is not in the recipient file"),
                    many => format!(
                        "row {row}: the fields {} are not in the recipient file",
                        many.iter()
                            .map(|n| format!("\"{n}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                RenderError::new(ErrorCode::MissingField, message)
            } else {
                RenderError::new(
                    ErrorCode::TemplateSyntax,
                    format!(
                        "row {row}: the {name} template failed{}: {}",
                        line_suffix(&e),
                        e.detail().unwrap_or("invalid operation")
                    ),
                )
            }
        })
    }
}

fn line_suffix(e: &minijinja::Error) -> String {
    e.line()
        .map(|l| format!(" at line {l}"))
        .unwrap_or_default()
}

fn template_syntax_error(name: &str, e: &minijinja::Error) -> DraftError {
    let line = e.line().map(|l| format!(", line {l}")).unwrap_or_default();
    DraftError::new(
        ErrorCode::TemplateSyntax,
        format!(
            "the {name} template has a syntax error{line}: {}",
            e.detail().unwrap_or("cannot be parsed")
        ),
    )
}

/// One row's outcome in [`render_all`]: the message, or the row and why it failed.
pub type RenderOutcome = Result<BuiltMessage, (u64, RenderError)>;

/// Renders every recipient of `list`, in list order.
///
/// Work is split over the machine's cores (at most 8 threads) with scoped std threads;
/// a small list is rendered on the calling thread.
pub fn render_all(composer: &Composer, list: &RecipientList) -> Vec<RenderOutcome> {
    let mut chunks: Vec<Vec<RenderOutcome>> = Vec::new();
    render_chunks(composer, list, |i, out| {
        if chunks.len() <= i {
            chunks.resize_with(i + 1, Vec::new);
        }
        chunks[i] = out;
    });
    chunks.into_iter().flatten().collect()
}

/// Renders every recipient and hands each outcome to `each` IN LIST ORDER, a window of
/// rows at a time (split over the cores like [`render_all`]): peak memory is one window
/// of messages, not the whole campaign. For output that must keep the list's order,
/// such as `mergeguard preview --json` on 100,000 recipients.
pub fn render_in_order(
    composer: &Composer,
    list: &RecipientList,
    mut each: impl FnMut(RenderOutcome),
) {
    const WINDOW: usize = 2048;
    let threads = thread_count(list.recipients.len()).max(1);
    for window in list.recipients.chunks(WINDOW) {
        let size = window.len().div_ceil(threads).max(1);
        let parts: Vec<Vec<RenderOutcome>> = std::thread::scope(|s| {
            let handles: Vec<_> = window
                .chunks(size)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|r| composer.render(list, r).map_err(|e| (r.row, e)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for outcome in parts.into_iter().flatten() {
            each(outcome);
        }
    }
}

/// Renders every recipient and hands each outcome to `each`, without keeping the built
/// messages: peak memory stays at one message per thread. `each` is called from several
/// threads; rows arrive in list order within each thread's share of the list.
pub fn render_each<F>(composer: &Composer, list: &RecipientList, each: F)
where
    F: Fn(RenderOutcome) + Sync,
{
    let threads = thread_count(list.recipients.len());
    if threads == 1 {
        for r in &list.recipients {
            each(composer.render(list, r).map_err(|e| (r.row, e)));
        }
        return;
    }
    let size = list.recipients.len().div_ceil(threads);
    std::thread::scope(|s| {
        for part in list.recipients.chunks(size) {
            let each = &each;
            s.spawn(move || {
                for r in part {
                    each(composer.render(list, r).map_err(|e| (r.row, e)));
                }
            });
        }
    });
}

fn render_chunks(
    composer: &Composer,
    list: &RecipientList,
    mut put: impl FnMut(usize, Vec<RenderOutcome>),
) {
    let threads = thread_count(list.recipients.len());
    let render_part = |part: &[Recipient]| -> Vec<RenderOutcome> {
        part.iter()
            .map(|r| composer.render(list, r).map_err(|e| (r.row, e)))
            .collect()
    };
    if threads == 1 {
        put(0, render_part(&list.recipients));
        return;
    }
    let size = list.recipients.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = list
            .recipients
            .chunks(size)
            .map(|part| s.spawn(move || render_part(part)))
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            // A panic in a worker is a bug in this module; surface it rather than lose rows.
            match h.join() {
                Ok(out) => put(i, out),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
    });
}

fn thread_count(n: usize) -> usize {
    if n < 512 {
        return 1;
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
}
