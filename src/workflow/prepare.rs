//! `prepare`: the campaign's files read once, checked, and fingerprinted.

use std::path::Path;
use std::time::SystemTime;

use super::{Prepared, UserError};
use crate::approval::{
    self, AttachmentInput, CheckInput, DkimInput, FingerprintInput, RecipientAttachmentInput,
    RecipientInput, RelayInput, SenderInput, UnsubscribeInput,
};
use crate::campaign::Snapshot;
use crate::compose::Draft;
use crate::error::ErrorCode;
use crate::preflight::campaign::{check_snapshot, snapshot_draft, CheckOptions, Checked};

/// Everything that decides what is sent, from the snapshot's bytes and what the
/// checklist built from them.
fn fingerprint_input(snapshot: &Snapshot, draft: &Draft, checked: &Checked) -> FingerprintInput {
    let campaign = &snapshot.campaign;
    FingerprintInput {
        sender: SenderInput {
            name: campaign.sender.name.clone(),
            address: campaign.sender.address.clone(),
            reply_to: campaign.sender.reply_to.clone(),
        },
        subject_template: draft.subject.clone(),
        text_template: draft.text.clone(),
        html_template: draft.html.clone(),
        recipients: RecipientInput::from_list(&checked.recipients),
        recipient_file_sha256: Some(snapshot.recipient_file().sha256.clone()),
        attachments: draft
            .attachments
            .iter()
            .map(|a| AttachmentInput::from_bytes(&a.file_name, &a.bytes))
            .collect(),
        recipient_attachments: checked
            .recipient_attachments
            .iter()
            .map(|a| RecipientAttachmentInput {
                address: a.address.clone(),
                path: a.path.clone(),
                sha256: a.sha256.clone(),
            })
            .collect(),
        relay: campaign.relay.as_ref().map(|r| RelayInput {
            // The CA the send will trust, override included.
            ca_sha256: snapshot.ca().map(|f| f.sha256.clone()),
            ..RelayInput::from(r)
        }),
        outbox: campaign
            .outbox
            .as_ref()
            .map(|o| campaign.resolve(&o.folder).display().to_string()),
        dkim: campaign.dkim.as_ref().map(|d| DkimInput {
            domain: campaign.dkim_domain().unwrap_or_default(),
            selector: d.selector.clone(),
            // An unreadable key already fails the checklist, so an empty hash never
            // reaches an approval.
            key_sha256: snapshot
                .dkim_key()
                .and_then(Result::ok)
                .map(|k| k.sha256.clone())
                .unwrap_or_default(),
        }),
        unsubscribe: campaign.unsubscribe.as_ref().map(|u| UnsubscribeInput {
            mailto: u.mailto.clone(),
            url: u.url.clone(),
        }),
        campaign_file_sha256: snapshot.campaign_file.as_ref().map(|f| f.sha256.clone()),
        checklist: checked.report.checks.iter().map(CheckInput::from).collect(),
    }
}

/// Reads the campaign file and every file it names ONCE ([`Snapshot::load`]), runs the
/// whole checklist over those bytes (`progress(done, total)` while messages are
/// checked) and computes the fingerprint of those same bytes. [`super::send`] builds
/// what it sends from the [`Prepared`] value it makes this way, so nothing is read
/// from disk between the check and the build.
pub async fn prepare(
    path: &Path,
    options: &CheckOptions,
    now: SystemTime,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Prepared, UserError> {
    let snapshot =
        Snapshot::load_with_profiles(path, options.ca.as_deref(), &options.relay_profiles)
            .map_err(|e| e.to_user())?;
    let checked = check_snapshot(&snapshot, options, now, progress).await?;
    // The relay probe opens the CA file by its path: it must have held the bytes the
    // fingerprint covers and the send trusts.
    if let Some(ca) = snapshot.ca() {
        if crate::campaign::hash_file(&ca.path).ok().as_deref() != Some(ca.sha256.as_str()) {
            return Err(UserError::new(
                ErrorCode::InvalidCampaign,
                format!(
                    "the relay CA file {} changed while the checklist ran; check again",
                    ca.path.display()
                ),
            ));
        }
    }
    let draft = snapshot_draft(&snapshot)?;
    let input = fingerprint_input(&snapshot, &draft, &checked);
    Ok(Prepared {
        path: path.to_owned(),
        campaign_id: draft.campaign_id.clone(),
        campaign: snapshot.campaign.clone(),
        recipients: checked.recipients,
        report: checked.report,
        fingerprint: approval::fingerprint(&input),
        input,
        samples: checked.samples,
        options: options.clone(),
        snapshot,
    })
}
