//! Turning a loaded campaign file into a [`Draft`]: reading the template files and the
//! common attachments, and fixing the campaign id.

use std::sync::Arc;

use super::{Attachment, Draft, DraftError};
use crate::campaign::Campaign;
use crate::error::ErrorCode;

impl Draft {
    /// Reads the templates and attachments a campaign names (paths resolved with
    /// [`Campaign::resolve`]). The campaign id is the file's `id` when given, otherwise
    /// derived from the hash of the campaign file's content (see
    /// [`Campaign::content_sha256`]), so editing the file starts a new campaign.
    pub fn from_campaign(campaign: &Campaign) -> Result<Draft, DraftError> {
        Draft::from_campaign_with(campaign, &|p| std::fs::read(p).map(Arc::new))
    }

    /// [`Draft::from_campaign`] with the files' bytes from `read` (given the resolved
    /// path), so a caller that already read them (a [`crate::campaign::Snapshot`])
    /// builds from exactly those bytes and nothing is read again.
    pub fn from_campaign_with(
        campaign: &Campaign,
        read: &dyn Fn(&std::path::Path) -> std::io::Result<Arc<Vec<u8>>>,
    ) -> Result<Draft, DraftError> {
        let read_text = |what: &str, p: &std::path::Path| -> Result<String, DraftError> {
            let path = campaign.resolve(p);
            let bytes = read(&path).map_err(|e| DraftError {
                code: ErrorCode::Io,
                message: format!("cannot read the {what} template {}: {e}", path.display()),
            })?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| DraftError {
                code: ErrorCode::InvalidCampaign,
                message: format!("the {what} template {} is not UTF-8 text", path.display()),
            })?;
            // A BOM left by a Windows editor would otherwise start the message body.
            Ok(text
                .strip_prefix('\u{feff}')
                .map(str::to_owned)
                .unwrap_or(text))
        };
        let m = &campaign.message;
        let text = read_text("text", &m.text)?;
        let html = m
            .html
            .as_deref()
            .map(|p| read_text("HTML", p))
            .transpose()?;
        let mut attachments = Vec::new();
        for p in &m.attachments {
            let path = campaign.resolve(p);
            let bytes = read(&path).map_err(|e| DraftError {
                code: ErrorCode::Io,
                message: format!("cannot read the attachment {}: {e}", path.display()),
            })?;
            let name = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| "attachment".to_owned());
            attachments.push(Attachment {
                content_type: super::content_type_for(&name).to_owned(),
                file_name: name,
                bytes,
            });
        }
        let campaign_id = campaign.effective_id();
        let unsubscribe = campaign.unsubscribe.clone().unwrap_or_default();
        Ok(Draft {
            campaign_id,
            from_name: campaign.sender.name.clone(),
            from_address: campaign.sender.address.clone(),
            reply_to: campaign.sender.reply_to.clone(),
            subject: m.subject.clone(),
            text,
            html,
            attachments,
            attachment_column: m.attachment_column.clone(),
            attachment_dir: m.attachment_column.as_ref().map(|_| {
                campaign.resolve(
                    m.attachment_dir
                        .as_deref()
                        .unwrap_or(std::path::Path::new(".")),
                )
            }),
            unsubscribe_mailto: unsubscribe.mailto,
            unsubscribe_url: unsubscribe.url,
            unsubscribe_key: None,
        })
    }
}
