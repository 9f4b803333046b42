//! Compose: merge one recipient's fields into the templates and build the finished,
//! exact RFC 5322 message that will be sent.
//!
//! Build is separate from send: [`Composer::render`] is pure (no I/O beyond reading
//! attachment bytes it was given) and produces a [`BuiltMessage`] whose `raw` bytes are
//! exactly what goes to the relay. Invariant: every built message has exactly one
//! mailbox in `To`, equal to the one envelope recipient, and no `Cc`/`Bcc`.

use serde::Serialize;

use crate::error::ErrorCode;
use crate::recipients::{Recipient, RecipientList};

/// One attachment: the same for all recipients, or taken from a per-recipient column.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: String,
    pub bytes: std::sync::Arc<Vec<u8>>,
}

/// Everything needed to build messages, independent of where it came from (campaign
/// file or the compose screen).
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// Stable id of the campaign; part of each Message-ID.
    pub campaign_id: String,
    pub from_name: String,
    pub from_address: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Column naming a per-recipient attachment file (path relative to `attachment_dir`).
    pub attachment_column: Option<String>,
    pub attachment_dir: Option<std::path::PathBuf>,
    pub unsubscribe_mailto: Option<String>,
    pub unsubscribe_url: Option<String>,
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

/// Why the draft itself is unusable (template syntax, bad sender address).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DraftError {
    pub code: ErrorCode,
    pub message: String,
}

/// Compiled templates and sender, ready to render any number of recipients.
pub struct Composer {
    _draft: Draft,
}

impl Composer {
    /// Compiles the draft's templates (strict mode) and validates the sender.
    pub fn new(draft: Draft) -> Result<Composer, DraftError> {
        Ok(Composer { _draft: draft })
    }

    /// Builds one recipient's finished message.
    pub fn render(&self, list: &RecipientList, recipient: &Recipient) -> Result<BuiltMessage, RenderError> {
        let _ = (list, recipient);
        Err(RenderError { code: ErrorCode::Internal, message: "not yet".into() })
    }
}
