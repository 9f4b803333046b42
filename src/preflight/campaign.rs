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
use crate::campaign::{Campaign, Snapshot};
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
    /// The data folder (database, log): a per-recipient attachment inside it fails
    /// `attachments.recipient_folder`. The default data folder is always refused too.
    pub data_dir: Option<PathBuf>,
    /// The saved relay profiles ([`crate::profiles::list`]), for a campaign whose
    /// `[relay]` names one; empty when the caller has no store.
    pub relay_profiles: Vec<crate::profiles::Profile>,
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

/// The checklist options every front end (the app, the command line) uses for the
/// campaign file at `path`: the store's relay profiles and suppression list, the data
/// folder, and the relay password from the OS keychain when one is stored for the
/// campaign's relay or profile (without it `tls.login` says so in plain words).
pub fn options_for(
    store: &crate::store::Store,
    path: &std::path::Path,
    resolver: Resolver,
    ca: Option<PathBuf>,
) -> Result<CheckOptions, UserError> {
    let relay_profiles = crate::profiles::list(store).map_err(UserError::from)?;
    let password = Campaign::load(path).ok().and_then(|mut c| {
        c.use_profiles(&relay_profiles).ok()?;
        stored_relay_password(&c)?.ok()
    });
    Ok(CheckOptions {
        resolver,
        ca,
        password,
        suppressed: Some(Arc::new(crate::suppression::keys(store)?)),
        data_dir: Some(store.dir().to_owned()),
        relay_profiles,
    })
}

/// The import options written in the campaign.
fn campaign_import_options(
    campaign: &Campaign,
    suppressed: Option<Arc<HashSet<String>>>,
) -> Result<ImportOptions, UserError> {
    let src = &campaign.recipients;
    let bad = |m: String| UserError::new(ErrorCode::InvalidCampaign, m);
    Ok(ImportOptions {
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
    })
}

/// Imports the recipient file's bytes as read into `snapshot`.
pub fn import_snapshot_recipients(
    snapshot: &Snapshot,
    suppressed: Option<Arc<HashSet<String>>>,
) -> Result<RecipientList, UserError> {
    let options = campaign_import_options(&snapshot.campaign, suppressed)?;
    let file = snapshot.recipient_file();
    recipients::import_bytes(file.bytes(), &options).map_err(|e| {
        UserError::new(e.code(), format!("{}: {e}", file.path.display())).with_reason(Some(
            e.reason().with("file", file.path.display().to_string()),
        ))
    })
}

/// Reads the campaign's recipient file with the options written in the campaign.
pub fn import_campaign_recipients(
    campaign: &Campaign,
    suppressed: Option<Arc<HashSet<String>>>,
) -> Result<RecipientList, UserError> {
    let options = campaign_import_options(campaign, suppressed)?;
    let src = &campaign.recipients;
    let path = campaign.resolve(&src.file);
    recipients::import_path(&path, &options).map_err(|e| {
        UserError::new(e.code(), format!("{}: {e}", path.display()))
            .with_reason(Some(e.reason().with("file", path.display().to_string())))
    })
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
    /// Each recipient's own attachment (campaigns with `attachment_column`), as the
    /// checklist read and built it, in recipient order.
    pub recipient_attachments: Vec<RecipientAttachment>,
}

/// One recipient's own attachment as checked: whose it is, which file, which bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientAttachment {
    /// The recipient's normalised address ([`recipients::address_key`]).
    pub address: String,
    /// The path of the file, relative to the attachment folder, as the cell names it.
    pub path: String,
    /// SHA-256 (hex) of the bytes the message carries.
    pub sha256: String,
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
/// Reads the campaign's files once ([`Snapshot::of`]) and checks those bytes.
pub async fn check_campaign_detailed(
    campaign: &Campaign,
    options: &CheckOptions,
    now: SystemTime,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Checked, UserError> {
    let mut campaign = campaign.clone();
    campaign
        .use_profiles(&options.relay_profiles)
        .map_err(|m| UserError::new(ErrorCode::InvalidCampaign, m))?;
    let snapshot = Snapshot::of(campaign, options.ca.as_deref())
        .map_err(|e| UserError::new(e.code(), e.to_string()))?;
    check_snapshot(&snapshot, options, now, progress).await
}

/// The draft built from the snapshot's bytes (nothing is read from disk).
pub fn snapshot_draft(snapshot: &Snapshot) -> Result<Draft, UserError> {
    Draft::from_campaign_with(&snapshot.campaign, &|p| {
        snapshot.bytes(p).cloned().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "internal: not read with the campaign",
            )
        })
    })
    .map_err(|e| UserError::new(e.code, e.message))
}

/// The whole checklist over the bytes of `snapshot`: the recipient file, templates,
/// attachments and DKIM key are the ones read into it, never read again.
pub async fn check_snapshot(
    snapshot: &Snapshot,
    options: &CheckOptions,
    now: SystemTime,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Checked, UserError> {
    let campaign = &snapshot.campaign;
    let list = import_snapshot_recipients(snapshot, options.suppressed.clone())?;
    let draft = snapshot_draft(snapshot)?;
    let composer = Composer::new(draft)
        .map_err(|e| UserError::new(e.code, e.message))?
        .with_date(now);

    let sender_domain = domain_of(&campaign.sender.address);
    let mut checks: Vec<Check> = Vec::new();

    // The relay first: its SIZE limit feeds the content check.
    let mut size_limit = None;
    let mut relay_ips = Vec::new();
    if let Some(relay) = &campaign.relay {
        // Declared outbound addresses first: the host name is often only the submission
        // front end, not where the relay's mail leaves from.
        relay_ips = if relay.outbound_ips.is_empty() {
            resolve_host(&relay.host, relay.port)
        } else {
            relay.outbound_ips.clone()
        };
        let probe = RelayProbe {
            host: relay.host.clone(),
            port: relay.port,
            security: relay.security,
            ca: snapshot.ca().map(|f| f.path.clone()),
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
    match &campaign.relay {
        Some(relay) => domain_check.use_relay(
            &relay.host,
            &relay.outbound_ips,
            relay.spf_include.as_deref(),
            relay_ips,
        ),
        None => domain_check.relay_ips = relay_ips,
    }
    let mut domain_checks = Vec::new();
    if let Some(dkim) = &campaign.dkim {
        if let Some(d) = &dkim.domain {
            domain_check.domain = d.clone();
        }
        domain_check.selector = Some(dkim.selector.clone());
        let key = snapshot
            .dkim_key()
            .unwrap_or(Err("no [dkim] section"))
            .map_err(str::to_owned)
            .and_then(|k| super::dkim::parse_dkim_key(k.bytes()));
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
    let mut jp_law = super::jp_law::JpLaw::new(campaign, options.suppressed.clone());
    // SpamAssassin scores the first message built, on its own thread, while the rest
    // are built and checked.
    let mut spam_score: Option<super::spamassassin::Pending> = None;
    let total = list.recipients.len();
    let mut render_errors = Vec::new();
    let mut attachments: Vec<AttachmentSummary> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut samples = Vec::new();
    let mut recipient_attachments = Vec::new();
    let column = campaign.message.attachment_column.as_deref();
    progress(0, total);
    for part in list.recipients.chunks(CHECK_CHUNK) {
        let mut messages = Vec::with_capacity(part.len());
        for outcome in render_rows(&composer, &list, part) {
            match outcome {
                Ok(m) => messages.push(m),
                Err(e) => render_errors.push(e),
            }
        }
        if let Some(column) = column {
            recipient_attachments.extend(own_attachments(&list, part, &messages, column));
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
        if spam_score.is_none() {
            if let Some(first) = messages.first() {
                spam_score = Some(super::spamassassin::Pending::start(
                    first.row,
                    first.raw.clone(),
                ));
            }
        }
        bulk.observe(&messages);
        jp_law.observe(&messages);
        checker.check(&messages, total, progress);
    }
    progress(total, total);
    checks.extend(checker.finish(&render_errors));
    if column.is_some() {
        checks.push(recipient_folder_check(snapshot, &list, options));
    }
    // The providers' bulk-sender rules restate the verdicts above, so they run last.
    let bulk_checks = bulk.finish(&checks, &campaign.sender.address, total);
    checks.extend(bulk_checks);
    checks.extend(jp_law.finish(&list));
    checks.push(
        spam_score
            .unwrap_or_else(super::spamassassin::Pending::nothing)
            .finish(),
    );

    let mut report = Report { checks };
    report.sort();
    Ok(Checked {
        report,
        recipients: list,
        attachments,
        samples,
        recipient_attachments,
    })
}

/// The own attachment of each message built from `part`: the last attachment of a
/// message (the shared ones come first), paired with its recipient by row.
fn own_attachments(
    list: &RecipientList,
    part: &[crate::recipients::Recipient],
    messages: &[BuiltMessage],
    column: &str,
) -> Vec<RecipientAttachment> {
    let by_row: std::collections::HashMap<u64, &crate::recipients::Recipient> =
        part.iter().map(|r| (r.row, r)).collect();
    messages
        .iter()
        .filter_map(|m| {
            let r = by_row.get(&m.row)?;
            let a = m.attachments.last()?;
            Some(RecipientAttachment {
                address: recipients::address_key(r.email()),
                path: list.value(r, column).unwrap_or_default().trim().to_owned(),
                sha256: a.sha256.clone(),
            })
        })
        .collect()
}

/// The check id of the per-recipient attachment folder rules.
pub const RECIPIENT_FOLDER_CHECK: &str = "attachments.recipient_folder";

/// Per-recipient attachments may only be plain files inside the named attachment
/// folder: not a symbolic link, not outside it once resolved, not a private key (PEM
/// `PRIVATE KEY`, `*.key`, the campaign's DKIM key) and not in the data folder. The
/// folder itself may not be the campaign's own folder or hold the data folder.
fn recipient_folder_check(
    snapshot: &Snapshot,
    list: &RecipientList,
    options: &CheckOptions,
) -> Check {
    let campaign = &snapshot.campaign;
    let (Some(column), Some(dir)) = (
        campaign.message.attachment_column.as_deref(),
        campaign.message.attachment_dir.as_deref(),
    ) else {
        return Check::fail(
            RECIPIENT_FOLDER_CHECK,
            "the per-recipient attachment folder is not named",
            "name the folder of the per-recipient files with [message] attachment_dir",
        );
    };
    let fix = "keep only the per-recipient files in the attachment folder (plain files, no \
               links, no keys) and name only files in it in the attachment column";
    let folder = campaign.resolve(dir);
    let Ok(folder) = folder.canonicalize() else {
        return Check::fail(
            RECIPIENT_FOLDER_CHECK,
            format!(
                "the attachment folder {} cannot be opened",
                folder.display()
            ),
            "create the folder named by [message] attachment_dir, or correct the name",
        );
    };
    let mut data_dirs: Vec<PathBuf> = options.data_dir.iter().cloned().collect();
    data_dirs.extend(crate::store::data_dir(None).ok());
    let data_dirs: Vec<PathBuf> = data_dirs
        .iter()
        .filter_map(|d| d.canonicalize().ok())
        .collect();
    let own_folder = campaign.base_dir.canonicalize().ok();
    if own_folder.as_deref() == Some(folder.as_path()) {
        return Check::fail(
            RECIPIENT_FOLDER_CHECK,
            format!(
                "the attachment folder {} is the campaign's own folder, which holds the \
                 campaign, its templates and keys",
                folder.display()
            ),
            "move the per-recipient files into a folder of their own and name it with \
             [message] attachment_dir",
        );
    }
    if let Some(d) = data_dirs.iter().find(|d| d.starts_with(&folder)) {
        return Check::fail(
            RECIPIENT_FOLDER_CHECK,
            format!(
                "the attachment folder {} holds MergeGuard's data folder {}",
                folder.display(),
                d.display()
            ),
            "move the per-recipient files into a folder of their own and name it with \
             [message] attachment_dir",
        );
    }
    let dkim_key = snapshot
        .dkim_key()
        .and_then(Result::ok)
        .filter(|k| !k.path.as_os_str().is_empty())
        .and_then(|k| k.path.canonicalize().ok());
    let mut refused: Vec<String> = Vec::new();
    for r in &list.recipients {
        let Some(name) = list.value(r, column).map(str::trim) else {
            continue; // a missing column is the merge check's finding
        };
        let path = folder.join(name);
        let why = match std::fs::symlink_metadata(&path) {
            Err(_) => None, // unreadable: the message build reports it
            Ok(m) if m.file_type().is_symlink() => Some("is a symbolic link"),
            Ok(_) => match path.canonicalize() {
                Err(_) => None,
                Ok(real) if !real.starts_with(&folder) => Some("is outside the attachment folder"),
                Ok(real) if dkim_key.as_deref() == Some(real.as_path()) => {
                    Some("is the campaign's DKIM private key")
                }
                Ok(real) if data_dirs.iter().any(|d| real.starts_with(d)) => {
                    Some("is in MergeGuard's data folder")
                }
                Ok(real) if looks_like_a_key(&real) => Some("looks like a private key"),
                Ok(_) => None,
            },
        };
        if let Some(why) = why {
            refused.push(format!("row {} ({name}) {why}", r.row));
        }
    }
    if refused.is_empty() {
        return Check::pass(
            RECIPIENT_FOLDER_CHECK,
            format!(
                "every per-recipient attachment is a plain file inside {}",
                folder.display()
            ),
        );
    }
    let n = refused.len();
    refused.truncate(5);
    let more = if n > 5 {
        format!(" and {} more", n - 5)
    } else {
        String::new()
    };
    Check::fail(
        RECIPIENT_FOLDER_CHECK,
        format!(
            "{n} per-recipient attachment(s) refused: {}{more}",
            refused.join("; ")
        ),
        fix,
    )
}

/// A private key by name (`*.key`, `*.p12`, `*.pfx`) or by content (a PEM
/// `PRIVATE KEY` block, or an OpenSSH key, in the first 64 KiB).
fn looks_like_a_key(path: &std::path::Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if matches!(ext.as_str(), "key" | "p12" | "pfx") {
        return true;
    }
    let mut head = vec![0u8; 64 * 1024];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let head = &head[..n];
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    has(b"PRIVATE KEY-----")
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
