//! The whole pre-flight checklist of one campaign file: recipients, every built
//! message, the sender domain (SPF/DKIM/DMARC) and the relay (STARTTLS, login).
//!
//! This is the one entry the command line and the desktop shell call; it only wires the
//! individual checks together and never decides a status itself.

use std::collections::HashSet;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::dns::Resolver;
use super::domain::{check_domain, DomainCheck};
use super::messages::{MessageCheckInput, MessageChecker};
use super::tls::{probe_relay, RelayProbe};
use super::{Check, Report, Status};
use crate::campaign::Campaign;
use crate::compose::{AttachmentSummary, BuiltMessage, Composer, Draft, RenderOutcome};
use crate::error::{ErrorCode, UserError};
use crate::recipients::{self, ImportOptions, RecipientList};
use crate::secrets::{self, Secret};

/// Settings of a checklist run that are not in the campaign file.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub resolver: Resolver,
    /// Overrides the campaign's `[relay] ca`.
    pub ca: Option<PathBuf>,
    /// The relay password, read from the keychain by the caller. `None` makes
    /// `tls.login` fail with a plain explanation.
    pub password: Option<Secret>,
    /// The suppression list's addresses ([`crate::suppression::keys`]): rows with one of
    /// them are rejected as `suppressed`, so they are not checked, approved or sent.
    pub suppressed: Option<Arc<HashSet<String>>>,
}

/// The keychain profile name of a campaign's relay: `host:port`.
pub fn relay_profile(campaign: &Campaign) -> Option<String> {
    campaign
        .relay
        .as_ref()
        .map(|r| format!("{}:{}", r.host, r.port))
}

/// The password the OS keychain holds for the campaign's relay profile; `None` when the
/// campaign names no relay.
pub fn stored_relay_password(campaign: &Campaign) -> Option<Result<Secret, secrets::Error>> {
    let relay = campaign.relay.as_ref()?;
    Some(secrets::relay_password(
        &relay_profile(campaign)?,
        &relay.username,
    ))
}

/// Reads the campaign's recipient file with the options written in the campaign.
pub fn import_campaign_recipients(
    campaign: &Campaign,
    suppressed: Option<Arc<HashSet<String>>>,
) -> Result<RecipientList, UserError> {
    let src = &campaign.recipients;
    let bad = |m: String| UserError::new(ErrorCode::InvalidCampaign, m);
    let options = ImportOptions {
        encoding: src
            .encoding
            .as_deref()
            .unwrap_or("auto")
            .parse()
            .map_err(bad)?,
        delimiter: src
            .delimiter
            .as_deref()
            .unwrap_or("auto")
            .parse()
            .map_err(bad)?,
        email_column: src.email_column.clone(),
        suppressed,
    };
    let path = campaign.resolve(&src.file);
    recipients::import_path(&path, &options)
        .map_err(|e| UserError::new(e.code(), format!("{}: {e}", path.display())))
}

/// What a checklist run saw besides its findings: the workflow builds the approval
/// fingerprint from it without reading or rendering anything a second time.
#[derive(Debug, Clone)]
pub struct Checked {
    pub report: Report,
    pub recipients: RecipientList,
    /// Every distinct attachment any message carries (shared and per-recipient), in
    /// first-seen order.
    pub attachments: Vec<AttachmentSummary>,
    /// The first few built messages, for the approver to look at.
    pub samples: Vec<BuiltMessage>,
}

/// How many built messages [`Checked::samples`] keeps.
pub const SAMPLE_MESSAGES: usize = 3;

/// Runs every check of the campaign. Errors only when the campaign cannot be read at all
/// (recipient file, templates); everything found in it becomes a [`Check`].
/// `progress(done, total)` is called while the messages are checked.
pub async fn check_campaign(
    campaign: &Campaign,
    options: &CheckOptions,
    now: SystemTime,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, UserError> {
    Ok(check_campaign_detailed(campaign, options, now, progress)
        .await?
        .report)
}

/// [`check_campaign`], also returning the recipients, attachments and sample messages.
pub async fn check_campaign_detailed(
    campaign: &Campaign,
    options: &CheckOptions,
    now: SystemTime,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Checked, UserError> {
    let list = import_campaign_recipients(campaign, options.suppressed.clone())?;
    let draft = Draft::from_campaign(campaign).map_err(|e| UserError::new(e.code, e.message))?;
    let composer = Composer::new(draft)
        .map_err(|e| UserError::new(e.code, e.message))?
        .with_date(now);

    let sender_domain = domain_of(&campaign.sender.address);
    let mut checks: Vec<Check> = Vec::new();

    // The relay first: its SIZE limit feeds the content check.
    let mut size_limit = None;
    let mut relay_ips = Vec::new();
    if let Some(relay) = &campaign.relay {
        relay_ips = resolve_host(&relay.host, relay.port);
        let probe = RelayProbe {
            host: relay.host.clone(),
            port: relay.port,
            security: relay.security,
            ca: options
                .ca
                .clone()
                .or_else(|| relay.ca.as_ref().map(|p| campaign.resolve(p))),
            credentials: options
                .password
                .clone()
                .map(|p| (relay.username.clone(), p)),
            timeout: Duration::from_secs(15),
        };
        let transport = probe_relay(&probe, now).await;
        size_limit = transport.size_limit;
        checks.extend(transport.checks);
    } else if let Some(outbox) = &campaign.outbox {
        checks.push(Check::warning(
            OUTBOX_CHECK,
            format!(
                "Outbox folder: every message is written as an .eml file to {} and nothing \
                 is sent",
                campaign.resolve(&outbox.folder).display()
            ),
            "to send for real, replace [outbox] with a [relay] section (host, port, \
             security, username)",
        ));
    } else {
        checks.push(Check::fail(
            "tls.connect",
            "the campaign names no relay",
            "add a [relay] section with host, port, security and username",
        ));
    }

    let mut domain_check = DomainCheck::new(sender_domain.clone());
    domain_check.relay_ips = relay_ips;
    let mut domain_checks = Vec::new();
    if let Some(dkim) = &campaign.dkim {
        if let Some(d) = &dkim.domain {
            domain_check.domain = d.clone();
        }
        domain_check.selector = Some(dkim.selector.clone());
        let key = campaign
            .dkim_key_bytes()
            .unwrap_or_else(|| Err("no [dkim] section".into()))
            .and_then(|bytes| super::dkim::parse_dkim_key(&bytes));
        match key {
            Ok(key) => domain_check.dkim_key = Some(key),
            Err(e) => domain_checks.push(Check::fail(
                "dkim.private_key",
                format!("the DKIM private key could not be read: {e}"),
                "point [dkim] private_key at the PEM file of the key published in DNS",
            )),
        }
    }
    domain_checks.extend(check_domain(&domain_check, &options.resolver, now).await);
    if campaign.relay.is_none() && campaign.outbox.is_some() {
        // Nothing leaves the computer, so a domain that would be refused or
        // spam-foldered does not block a trial run; it stays visible and must be
        // acknowledged.
        for c in &mut domain_checks {
            if c.status == Status::Fail {
                c.status = Status::Warning;
                c.detail = format!("{} (would fail with a real relay)", c.detail);
            }
        }
    }
    checks.extend(domain_checks);

    // Messages are built and checked a chunk at a time: a 100,000-recipient campaign
    // never holds more than one chunk of finished messages in memory.
    let mut input = MessageCheckInput::new(&[], &[], &list);
    input.authenticated_domain = Some(&sender_domain);
    input.size_limit = size_limit;
    if let Some(max) = campaign.message.max_addresses_per_attachment {
        input.max_addresses_per_attachment = max;
    }
    let mut checker = MessageChecker::new(&input);
    let mut bulk = super::bulk::BulkRules::new();
    let total = list.recipients.len();
    let mut render_errors = Vec::new();
    let mut attachments: Vec<AttachmentSummary> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut samples = Vec::new();
    progress(0, total);
    for part in list.recipients.chunks(CHECK_CHUNK) {
        let mut messages = Vec::with_capacity(part.len());
        for outcome in render_rows(&composer, &list, part) {
            match outcome {
                Ok(m) => messages.push(m),
                Err(e) => render_errors.push(e),
            }
        }
        for m in &messages {
            for a in &m.attachments {
                if seen.insert((a.file_name.clone(), a.sha256.clone())) {
                    attachments.push(a.clone());
                }
            }
        }
        let room = SAMPLE_MESSAGES.saturating_sub(samples.len());
        samples.extend(messages.iter().take(room).cloned());
        bulk.observe(&messages);
        checker.check(&messages, total, progress);
    }
    progress(total, total);
    checks.extend(checker.finish(&render_errors));
    // The providers' bulk-sender rules restate the verdicts above, so they run last.
    let bulk_checks = bulk.finish(&checks, &campaign.sender.address, total);
    checks.extend(bulk_checks);

    let mut report = Report { checks };
    report.sort();
    Ok(Checked {
        report,
        recipients: list,
        attachments,
        samples,
    })
}

/// Recipients built and checked together; ~8 MB of finished messages at a time.
const CHECK_CHUNK: usize = 2_048;

/// Builds the messages of `part`, in order, on up to two threads.
fn render_rows(
    composer: &Composer,
    list: &RecipientList,
    part: &[crate::recipients::Recipient],
) -> Vec<RenderOutcome> {
    let render = |rs: &[crate::recipients::Recipient]| -> Vec<RenderOutcome> {
        rs.iter()
            .map(|r| composer.render(list, r).map_err(|e| (r.row, e)))
            .collect()
    };
    if part.len() < 512 {
        return render(part);
    }
    let (first, second) = part.split_at(part.len() / 2);
    std::thread::scope(|s| {
        let worker = s.spawn(|| render(second));
        let mut out = render(first);
        match worker.join() {
            Ok(rest) => out.extend(rest),
            Err(p) => std::panic::resume_unwind(p),
        }
        out
    })
}

/// The check id that labels an Outbox-folder campaign.
pub const OUTBOX_CHECK: &str = "outbox.nothing_sent";

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The relay's addresses, for the SPF check. A host that does not resolve gives none;
/// the transport check then reports it.
pub fn resolve_host(host: &str, port: u16) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = (host, port)
        .to_socket_addrs()
        .map(|a| a.map(|s| s.ip()).collect())
        .unwrap_or_default();
    ips.sort();
    ips.dedup();
    ips
}
