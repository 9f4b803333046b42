//! Stand-ins for two core functions that are being written in parallel; each is marked
//! so the lead can swap in the real one at integration time.
// TODO(lead): replace this module with compose::Draft::from_campaign and a core function
// that turns `[recipients]` of a campaign into `ImportOptions`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use mergeguard::campaign::Campaign;
use mergeguard::compose::{Attachment, Draft, DraftError};
use mergeguard::error::ErrorCode;
use mergeguard::recipients::ImportOptions;

fn read_template(campaign: &Campaign, path: &std::path::Path) -> Result<String, DraftError> {
    let full = campaign.resolve(path);
    std::fs::read_to_string(&full).map_err(|e| DraftError {
        code: ErrorCode::Io,
        message: format!("cannot read the template {}: {e}", full.display()),
    })
}

// TODO(lead): replace with compose::Draft::from_campaign
pub fn draft_from_campaign(campaign: &Campaign) -> Result<Draft, DraftError> {
    let message = &campaign.message;
    let text = read_template(campaign, &message.text)?;
    let html = match &message.html {
        Some(path) => Some(read_template(campaign, path)?),
        None => None,
    };
    let mut attachments = Vec::new();
    for path in &message.attachments {
        let full = campaign.resolve(path);
        let bytes = std::fs::read(&full).map_err(|e| DraftError {
            code: ErrorCode::Io,
            message: format!("cannot read the attachment {}: {e}", full.display()),
        })?;
        attachments.push(Attachment {
            file_name: full
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            content_type: "application/octet-stream".into(),
            bytes: Arc::new(bytes),
        });
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&campaign.sender.address, &message.subject, &campaign.base_dir).hash(&mut hasher);
    Ok(Draft {
        campaign_id: format!("{:016x}", hasher.finish()),
        from_name: campaign.sender.name.clone(),
        from_address: campaign.sender.address.clone(),
        reply_to: campaign.sender.reply_to.clone(),
        subject: message.subject.clone(),
        text,
        html,
        attachments,
        attachment_column: message.attachment_column.clone(),
        attachment_dir: message.attachment_column.as_ref().map(|_| campaign.base_dir.clone()),
        unsubscribe_mailto: campaign.unsubscribe.as_ref().and_then(|u| u.mailto.clone()),
        unsubscribe_url: campaign.unsubscribe.as_ref().and_then(|u| u.url.clone()),
    })
}

// TODO(lead): replace with a core function over campaign::RecipientSource.
pub fn import_options(campaign: &Campaign) -> Result<ImportOptions, DraftError> {
    let source = &campaign.recipients;
    let invalid = |message: String| DraftError { code: ErrorCode::InvalidCampaign, message };
    Ok(ImportOptions {
        encoding: match &source.encoding {
            Some(s) => s.parse().map_err(invalid)?,
            None => Default::default(),
        },
        delimiter: match &source.delimiter {
            Some(s) => s.parse().map_err(invalid)?,
            None => Default::default(),
        },
        email_column: source.email_column.clone(),
    })
}
