//! The campaign file (TOML): sender, recipient source, message templates, unsubscribe,
//! relay and DKIM settings. Paths inside it are relative to the file's own folder.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::ErrorCode;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// Optional stable campaign id (part of every Message-ID and unsubscribe token);
    /// derived from [`Campaign::content_sha256`] when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub sender: Sender,
    pub recipients: RecipientSource,
    pub message: MessageSpec,
    #[serde(default)]
    pub unsubscribe: Option<Unsubscribe>,
    /// `[advertising]`: the campaign is advertising mail under 特定電子メール法 (see
    /// [`Campaign::is_advertising`] for the default) and what its messages must show.
    #[serde(default)]
    pub advertising: Option<Advertising>,
    /// The relay written out in `[relay]`, or the one `[relay] profile` names once
    /// [`Campaign::use_profiles`] has looked it up.
    #[serde(skip)]
    pub relay: Option<Relay>,
    /// `[relay] profile = "name"`: a relay profile saved in the app (or with
    /// `mergeguard relay add`) instead of host, port, security and user written out.
    #[serde(skip)]
    pub relay_profile: Option<String>,
    #[serde(default, rename = "relay")]
    relay_section: Option<RelaySection>,
    #[serde(default)]
    pub dkim: Option<Dkim>,
    /// Write messages as .eml files instead of sending them (no relay needed).
    #[serde(default)]
    pub outbox: Option<Outbox>,
    /// The folder the campaign file lives in; relative paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// SHA-256 (hex) of the file's text with line endings normalised to LF, so the same
    /// campaign saved on Windows and Linux has the same derived id.
    #[serde(skip)]
    pub content_sha256: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sender {
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientSource {
    pub file: PathBuf,
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default)]
    pub email_column: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// The subject template (inline text, not a file).
    pub subject: String,
    /// Path of the plain-text body template.
    pub text: PathBuf,
    /// Path of the optional HTML body template.
    #[serde(default)]
    pub html: Option<PathBuf>,
    /// Files attached to every message.
    #[serde(default)]
    pub attachments: Vec<PathBuf>,
    /// Optional column naming a per-recipient attachment file.
    #[serde(default)]
    pub attachment_column: Option<String>,
    /// Folder the per-recipient attachment files are in. Required with
    /// `attachment_column`: there is no default, and never the campaign's own folder
    /// (which holds keys and the campaign itself); the checklist refuses cells naming
    /// files outside it, symbolic links and key files.
    #[serde(default)]
    pub attachment_dir: Option<PathBuf>,
    /// An attachment with more distinct addresses than this fails
    /// `attachments.address_list` (default 5: a contact sheet, not a customer list).
    #[serde(default)]
    pub max_addresses_per_attachment: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsubscribe {
    #[serde(default)]
    pub mailto: Option<String>,
    /// https URL; `{token}` is replaced by a per-recipient token.
    #[serde(default)]
    pub url: Option<String>,
}

/// `[advertising]`: Japan's Act on Regulation of Transmission of Specified Electronic
/// Mail (特定電子メールの送信の適正化等に関する法律) applies to advertising mail. What
/// each message must show (法第4条, 施行規則第9条) and on which basis each recipient
/// may be mailed (法第3条第1項) is checked by `preflight::jp_law`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advertising {
    /// Whether the campaign is advertising. Absent: yes for a newsletter, which is a
    /// campaign with `[unsubscribe]` (mail to a list people can leave), and yes when the
    /// `[advertising]` section is written at all; no otherwise.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The sender's name as the body shows it (送信者の氏名又は名称); default: `[sender]
    /// name` when it is not a template.
    #[serde(default)]
    pub sender_name: Option<String>,
    /// The sender's postal address (住所), as the body shows it.
    #[serde(default)]
    pub postal_address: Option<String>,
    /// Where complaints and questions go (苦情・問合せ先): a telephone number, e-mail
    /// address or URL, as the body shows it.
    #[serde(default)]
    pub contact: Option<String>,
    /// One consent basis for every recipient (`同意`, `名刺等`, `取引関係`,
    /// `公表アドレス`, or `consent`, `business_card`, `transaction`, `published`).
    #[serde(default)]
    pub consent: Option<String>,
    /// The recipient column holding each recipient's consent basis.
    #[serde(default)]
    pub consent_column: Option<String>,
}

/// On which basis a recipient may be sent advertising mail: 法第3条第1項 第1号 to 第4号.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentBasis {
    /// 同意: the recipient asked for or agreed to the mail (第1号).
    Consent,
    /// 名刺等: the recipient gave their address in writing, e.g. a business card (第2号).
    BusinessCard,
    /// 取引関係: an existing business relationship (第3号).
    Transaction,
    /// 公表アドレス: an address a business or organisation publishes (第4号).
    Published,
}

impl ConsentBasis {
    /// The basis a cell or the campaign names, in Japanese or English; `None` for
    /// anything else.
    pub fn parse(raw: &str) -> Option<ConsentBasis> {
        let t = raw
            .trim()
            .to_lowercase()
            .replace(['-', ' ', '\u{3000}'], "_");
        Some(match t.as_str() {
            "同意" | "同意あり" | "consent" | "opt_in" | "optin" | "opted_in" => {
                ConsentBasis::Consent
            }
            "名刺等" | "名刺" | "business_card" | "card" | "written_notice" => {
                ConsentBasis::BusinessCard
            }
            "取引関係" | "取引" | "transaction" | "business_relationship" | "customer" => {
                ConsentBasis::Transaction
            }
            "公表アドレス" | "公表" | "published" | "published_address" => {
                ConsentBasis::Published
            }
            _ => return None,
        })
    }

    /// The word the delivery record keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentBasis::Consent => "consent",
            ConsentBasis::BusinessCard => "business_card",
            ConsentBasis::Transaction => "transaction",
            ConsentBasis::Published => "published",
        }
    }

    /// The item of 法第3条第1項 it is.
    pub fn article(self) -> &'static str {
        match self {
            ConsentBasis::Consent => "法第3条第1項第1号",
            ConsentBasis::BusinessCard => "法第3条第1項第2号",
            ConsentBasis::Transaction => "法第3条第1項第3号",
            ConsentBasis::Published => "法第3条第1項第4号",
        }
    }
}

/// How the relay is secured. Plain text is deliberately not representable here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    /// PEM file of a company CA to trust in addition to the system roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The addresses the relay's mail leaves from, as declared (`[relay] outbound_ips`
    /// or the relay profile): `spf.relay` evaluates these instead of resolving `host`,
    /// whose addresses are often only the submission front end.
    #[serde(default)]
    pub outbound_ips: Vec<std::net::IpAddr>,
    /// The `include:` the relay's provider publishes for SPF (Microsoft 365, Google),
    /// from the relay profile's preset; `spf.relay` looks for it in the record when no
    /// outbound address is declared.
    #[serde(skip)]
    pub spf_include: Option<String>,
}

impl Relay {
    /// A relay written out with the host of a provider preset (smtp.office365.com,
    /// smtp.gmail.com) is that provider's: `spf.relay` then looks for its SPF include.
    fn with_preset_include(mut self) -> Relay {
        self.spf_include = crate::profiles::Provider::ALL
            .iter()
            .map(|p| p.preset())
            .find(|p| {
                p.host
                    .is_some_and(|h| h.eq_ignore_ascii_case(self.host.trim()))
            })
            .and_then(|p| p.spf_include.map(str::to_owned));
        self
    }
}

/// `[relay]` as written: either `profile` alone, or host, port, security and user name
/// (and optionally a CA file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelaySection {
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    security: Option<Security>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    ca: Option<PathBuf>,
    #[serde(default)]
    outbound_ips: Option<Vec<std::net::IpAddr>>,
}

impl RelaySection {
    /// The section as a relay or a profile name; one plain sentence when it is neither.
    fn split(self) -> Result<(Option<Relay>, Option<String>), String> {
        if let Some(name) = self.profile {
            let name = name.trim().to_owned();
            if name.is_empty() {
                return Err("[relay] profile is empty: name a saved relay profile".into());
            }
            if self.host.is_some()
                || self.port.is_some()
                || self.security.is_some()
                || self.username.is_some()
                || self.ca.is_some()
                || self.outbound_ips.is_some()
            {
                return Err(format!(
                    "[relay] names the profile \"{name}\" and also host, port, security, \
                     username, ca or outbound_ips; keep either the profile or the \
                     written-out relay (a profile declares its outbound addresses itself)"
                ));
            }
            return Ok((None, Some(name)));
        }
        let missing: Vec<&str> = [
            ("host", self.host.is_none()),
            ("port", self.port.is_none()),
            ("security", self.security.is_none()),
            ("username", self.username.is_none()),
        ]
        .into_iter()
        .filter_map(|(k, m)| m.then_some(k))
        .collect();
        if !missing.is_empty() {
            return Err(format!(
                "[relay] needs either profile = \"name\" or host, port, security and \
                 username; missing: {}",
                missing.join(", ")
            ));
        }
        Ok((
            Some(
                Relay {
                    host: self.host.unwrap_or_default(),
                    port: self.port.unwrap_or_default(),
                    security: self.security.unwrap_or(Security::Starttls),
                    username: self.username.unwrap_or_default(),
                    ca: self.ca,
                    outbound_ips: self.outbound_ips.unwrap_or_default(),
                    spf_include: None,
                }
                .with_preset_include(),
            ),
            None,
        ))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dkim {
    /// Signing domain; defaults to the sender's domain.
    #[serde(default)]
    pub domain: Option<String>,
    pub selector: String,
    /// PEM or DER private key file (RSA or Ed25519).
    #[serde(default)]
    pub private_key: Option<PathBuf>,
    /// Read the private key from the OS keychain instead of a file (stored with
    /// `mergeguard credential set-dkim`).
    #[serde(default)]
    pub keychain: bool,
}

impl Campaign {
    /// True when the campaign is advertising mail (特定電子メール): `[advertising]
    /// enabled` when written; otherwise a newsletter (a campaign with `[unsubscribe]`)
    /// or a campaign with an `[advertising]` section is, anything else is not.
    pub fn is_advertising(&self) -> bool {
        match self.advertising.as_ref().and_then(|a| a.enabled) {
            Some(on) => on,
            None => self.unsubscribe.is_some() || self.advertising.is_some(),
        }
    }

    /// The DKIM signing domain: `[dkim] domain`, else the sender's domain.
    pub fn dkim_domain(&self) -> Option<String> {
        let d = self.dkim.as_ref()?;
        Some(d.domain.clone().unwrap_or_else(|| {
            self.sender
                .address
                .rsplit_once('@')
                .map(|(_, d)| d.to_owned())
                .unwrap_or_default()
        }))
    }

    /// The DKIM private key's bytes, from its file or the OS keychain.
    pub fn dkim_key_bytes(&self) -> Option<Result<Vec<u8>, String>> {
        let d = self.dkim.as_ref()?;
        Some(match (&d.private_key, d.keychain) {
            (Some(p), false) => {
                let path = self.resolve(p);
                std::fs::read(&path).map_err(|e| {
                    format!("cannot read the DKIM private key {}: {e}", path.display())
                })
            }
            (None, true) => {
                crate::secrets::dkim_key(&self.dkim_domain().unwrap_or_default(), &d.selector)
                    .map(|s| s.expose().as_bytes().to_vec())
                    .map_err(|e| e.to_string())
            }
            _ => Err("[dkim] needs either private_key (a file) or keychain = true".into()),
        })
    }
}

/// The "Outbox folder" profile: nothing is sent; each message becomes an .eml file, so
/// a new user can run the whole flow without a relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outbox {
    pub folder: PathBuf,
}

/// The campaign file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the campaign file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the campaign file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("no recipient file is chosen for this campaign yet")]
    NoRecipientFile,
    #[error("cannot read the {what} {path}: {source}")]
    Source {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Read { .. } | Error::Source { .. } => ErrorCode::Io,
            Error::Parse { .. } | Error::NoRecipientFile => ErrorCode::InvalidCampaign,
        }
    }

    /// The error as the window and `--json` output get it.
    pub fn to_user(&self) -> crate::error::UserError {
        use crate::error::Reason;
        let reason = match self {
            Error::Read { path, source } | Error::Source { path, source, .. } => {
                Reason::io(path, source)
            }
            Error::Parse { path, .. } => {
                Reason::new("campaign_invalid").with("path", path.display().to_string())
            }
            Error::NoRecipientFile => Reason::new("no_recipient_file"),
        };
        crate::error::UserError::new(self.code(), self.to_string()).with_reason(Some(reason))
    }
}

impl Campaign {
    /// Loads and parses a campaign file; relative paths are kept relative and resolved
    /// with [`Campaign::resolve`].
    pub fn load(path: &Path) -> Result<Campaign, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Campaign::from_bytes(path, &bytes)
    }

    /// Parses a campaign file's bytes already read from `path`.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Campaign, Error> {
        let text = std::str::from_utf8(bytes).map_err(|_| Error::Parse {
            path: path.to_owned(),
            message: "the file is not UTF-8 text".into(),
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Campaign::parse(text, base_dir).map_err(|message| Error::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses campaign TOML text; `base_dir` is the folder relative paths resolve
    /// against. The error is a plain-language message with the line when known.
    pub fn parse(text: &str, base_dir: PathBuf) -> Result<Campaign, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut campaign: Campaign = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| {
                    format!(
                        " (line {})",
                        text[..s.start.min(text.len())].matches('\n').count() + 1
                    )
                })
                .unwrap_or_default();
            format!("{}{line}", e.message())
        })?;
        if let Some(d) = &campaign.dkim {
            if d.private_key.is_some() == d.keychain {
                return Err(
                    "[dkim] needs exactly one of private_key (a file) or keychain = true".into(),
                );
            }
        }
        if let Some(a) = &campaign.advertising {
            if a.consent.is_some() && a.consent_column.is_some() {
                return Err(
                    "[advertising] has both consent and consent_column; keep one: \
                            the column (a basis per recipient) or one basis for all"
                        .into(),
                );
            }
            if let Some(c) = &a.consent {
                if ConsentBasis::parse(c).is_none() {
                    return Err(format!(
                        "[advertising] consent = \"{c}\" is not a consent basis: use 同意 \
                         (consent), 名刺等 (business_card), 取引関係 (transaction) or \
                         公表アドレス (published)"
                    ));
                }
            }
        }
        if campaign.message.attachment_column.is_some() && campaign.message.attachment_dir.is_none()
        {
            return Err(
                "[message] attachment_column needs attachment_dir: name the folder that holds \
                 only the per-recipient files (for example attachment_dir = \"invoices\"); \
                 the campaign's own folder is no longer used by default"
                    .into(),
            );
        }
        if let Some(section) = campaign.relay_section.take() {
            (campaign.relay, campaign.relay_profile) = section.split()?;
        }
        if (campaign.relay.is_some() || campaign.relay_profile.is_some())
            && campaign.outbox.is_some()
        {
            return Err(
                "the file has both [relay] and [outbox]; keep the one this campaign \
                        goes through"
                    .into(),
            );
        }
        campaign.base_dir = base_dir;
        let normalised = text.replace("\r\n", "\n");
        campaign.content_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            normalised.as_bytes(),
        ));
        Ok(campaign)
    }

    /// Looks up the relay profile `[relay] profile` names among `profiles` and uses its
    /// host, port, security, user name and CA file as the campaign's relay. A campaign
    /// with a written-out `[relay]` (or none) is left as it is.
    pub fn use_profiles(&mut self, profiles: &[crate::profiles::Profile]) -> Result<(), String> {
        let Some(name) = &self.relay_profile else {
            return Ok(());
        };
        let profile = profiles
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!(
                    "the relay profile \"{name}\" does not exist (any more); choose another \
                     one for this campaign, or add it under Settings → Relay"
                )
            })?;
        self.relay = Some(crate::profiles::to_relay(profile).map_err(|e| e.to_string())?);
        Ok(())
    }

    /// The campaign id: `id` when written, else `c` + the first 16 hex digits of the
    /// file's content hash (so any edit of an id-less file starts a new campaign).
    pub fn effective_id(&self) -> String {
        match self.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => id.to_owned(),
            None => format!(
                "c{}",
                &self.content_sha256[..16.min(self.content_sha256.len())]
            ),
        }
    }

    /// Resolves a path from the campaign file against the file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// One source file of a campaign, read once: its bytes and their SHA-256.
#[derive(Clone)]
pub struct SourceFile {
    /// What the file is, in words ("text template", "relay CA file", ...).
    pub what: &'static str,
    pub path: PathBuf,
    /// SHA-256 (hex) of [`SourceFile::bytes`].
    pub sha256: String,
    bytes: Arc<Vec<u8>>,
}

impl SourceFile {
    fn read(what: &'static str, path: PathBuf) -> Result<SourceFile, Error> {
        let bytes = std::fs::read(&path).map_err(|source| Error::Source {
            what,
            path: path.clone(),
            source,
        })?;
        Ok(SourceFile::from_bytes(what, path, bytes))
    }

    fn from_bytes(what: &'static str, path: PathBuf, bytes: Vec<u8>) -> SourceFile {
        SourceFile {
            what,
            path,
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes: Arc::new(bytes),
        }
    }

    pub fn bytes(&self) -> &Arc<Vec<u8>> {
        &self.bytes
    }
}

impl std::fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the bytes: one of these files is a DKIM private key.
        f.debug_struct("SourceFile")
            .field("what", &self.what)
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Every byte a campaign is checked, fingerprinted and built from, read ONCE: the
/// campaign file, the recipient file, the templates, the shared attachments, the
/// effective relay CA (a `--ca` override included) and the DKIM private key (file or
/// keychain). The checklist, the approval fingerprint and the send all use these bytes,
/// so what was checked is what was approved is what is sent; a later edit on disk is
/// never read, and [`Snapshot::changed_on_disk`] reports it.
///
/// Per-recipient attachments are not here: each is read when its message is built and
/// compared with that recipient's approved hash.
#[derive(Clone)]
pub struct Snapshot {
    pub campaign: Campaign,
    /// The campaign file and its bytes (`None` for a campaign not read from a file).
    pub campaign_file: Option<SourceFile>,
    files: Vec<SourceFile>,
    ca: Option<PathBuf>,
    dkim_key: Option<Result<SourceFile, String>>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("campaign_file", &self.campaign_file)
            .field("files", &self.files)
            .field("ca", &self.ca)
            .field(
                "dkim_key_sha256",
                &self
                    .dkim_key
                    .as_ref()
                    .map(|k| k.as_ref().map(|k| &k.sha256)),
            )
            .finish()
    }
}

impl Snapshot {
    /// Reads the campaign file at `path` and every file it names, once. `ca` overrides
    /// `[relay] ca` (the command line's `--ca`); its bytes are the ones fingerprinted.
    pub fn load(path: &Path, ca: Option<&Path>) -> Result<Snapshot, Error> {
        Snapshot::load_with_profiles(path, ca, &[])
    }

    /// [`Snapshot::load`] for a campaign that may name a relay profile: it is looked up
    /// among `profiles` ([`Campaign::use_profiles`]) before any file is read.
    pub fn load_with_profiles(
        path: &Path,
        ca: Option<&Path>,
        profiles: &[crate::profiles::Profile],
    ) -> Result<Snapshot, Error> {
        let file = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut campaign = Campaign::from_bytes(path, &file)?;
        campaign
            .use_profiles(profiles)
            .map_err(|message| Error::Parse {
                path: path.to_owned(),
                message,
            })?;
        let mut snapshot = Snapshot::of(campaign, ca)?;
        snapshot.campaign_file = Some(SourceFile::from_bytes(
            "campaign file",
            path.to_owned(),
            file,
        ));
        Ok(snapshot)
    }

    /// Reads every file a loaded campaign names, once.
    pub fn of(campaign: Campaign, ca: Option<&Path>) -> Result<Snapshot, Error> {
        if campaign.relay_profile.is_some() && campaign.relay.is_none() {
            return Err(Error::Parse {
                path: campaign.base_dir.join("campaign.toml"),
                message: "the relay profile was not looked up before the files were read".into(),
            });
        }
        if campaign.recipients.file.as_os_str().is_empty() {
            return Err(Error::NoRecipientFile);
        }
        let mut files = vec![SourceFile::read(
            "recipient file",
            campaign.resolve(&campaign.recipients.file),
        )?];
        files.push(SourceFile::read(
            "text template",
            campaign.resolve(&campaign.message.text),
        )?);
        if let Some(h) = &campaign.message.html {
            files.push(SourceFile::read("HTML template", campaign.resolve(h))?);
        }
        for a in &campaign.message.attachments {
            files.push(SourceFile::read("attachment", campaign.resolve(a))?);
        }
        let ca = ca.map(Path::to_path_buf).or_else(|| {
            campaign
                .relay
                .as_ref()?
                .ca
                .as_ref()
                .map(|p| campaign.resolve(p))
        });
        if let Some(ca) = &ca {
            files.push(SourceFile::read("relay CA file", ca.clone())?);
        }
        // An unreadable key is a checklist failure (dkim.private_key), not an error here.
        let dkim_key = campaign.dkim.as_ref().map(|d| match &d.private_key {
            Some(p) => {
                let path = campaign.resolve(p);
                SourceFile::read("DKIM private key", path).map_err(|e| e.to_string())
            }
            None => campaign
                .dkim_key_bytes()
                .unwrap_or_else(|| Err("no [dkim] section".into()))
                .map(|b| SourceFile::from_bytes("DKIM private key", PathBuf::new(), b)),
        });
        Ok(Snapshot {
            campaign,
            campaign_file: None,
            files,
            ca,
            dkim_key,
        })
    }

    /// The bytes read from `path` (resolved), if it is one of the snapshot's files.
    pub fn bytes(&self, path: &Path) -> Option<&Arc<Vec<u8>>> {
        self.file(path).map(|f| &f.bytes)
    }

    /// The snapshot's file at `path` (resolved).
    pub fn file(&self, path: &Path) -> Option<&SourceFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// The recipient file as read.
    pub fn recipient_file(&self) -> &SourceFile {
        &self.files[0]
    }

    /// The effective relay CA file (override or `[relay] ca`) as read.
    pub fn ca(&self) -> Option<&SourceFile> {
        let ca = self.ca.as_deref()?;
        self.files
            .iter()
            .find(|f| f.what == "relay CA file" && f.path == ca)
    }

    /// The DKIM private key as read (from its file or the keychain), or why it could
    /// not be read; `None` without `[dkim]`.
    pub fn dkim_key(&self) -> Option<Result<&SourceFile, &str>> {
        self.dkim_key
            .as_ref()
            .map(|k| k.as_ref().map_err(String::as_str))
    }

    /// Every file read from disk (the keychain key is not a file).
    pub fn files(&self) -> impl Iterator<Item = &SourceFile> {
        self.campaign_file.iter().chain(&self.files).chain(
            self.dkim_key
                .iter()
                .filter_map(|k| k.as_ref().ok())
                .filter(|k| !k.path.as_os_str().is_empty()),
        )
    }

    /// The first file whose bytes on disk now differ from the snapshot (or that can no
    /// longer be read), in words; `None` when every file is as it was read.
    pub fn changed_on_disk(&self) -> Option<String> {
        self.files().find_map(|f| match hash_file(&f.path) {
            Ok(now) if now == f.sha256 => None,
            Ok(_) => Some(format!(
                "the {} {} changed on disk",
                f.what,
                f.path.display()
            )),
            Err(e) => Some(format!(
                "the {} {} can no longer be read ({e})",
                f.what,
                f.path.display()
            )),
        })
    }
}

/// SHA-256 (hex) of a file, read in 64 KiB pieces (a large recipient file is hashed
/// without being held in memory a second time).
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match std::io::Read::read(&mut file, &mut buf) {
            Ok(0) => return Ok(hex::encode(hasher.finalize())),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod relay_tests {
    use super::*;

    const BASE: &str = "[sender]\nname = \"s\"\naddress = \"a@shop.test\"\n[recipients]\nfile = \"r.csv\"\n[message]\nsubject = \"s\"\ntext = \"t.txt\"\n";

    #[test]
    fn relay_outbound_ips_are_read_and_refused_beside_a_profile() {
        let c = Campaign::parse(
            &format!("{BASE}[relay]\nhost = \"smtp.shop.test\"\nport = 587\nsecurity = \"starttls\"\nusername = \"u\"\noutbound_ips = [\"192.0.2.1\", \"2001:db8::1\"]\n"),
            PathBuf::new(),
        )
        .unwrap();
        let relay = c.relay.unwrap();
        assert_eq!(relay.outbound_ips.len(), 2);
        assert_eq!(relay.spf_include, None);
        let m365 = Campaign::parse(
            &format!("{BASE}[relay]\nhost = \"SMTP.office365.com\"\nport = 587\nsecurity = \"starttls\"\nusername = \"u\"\n"),
            PathBuf::new(),
        )
        .unwrap();
        assert_eq!(
            m365.relay.unwrap().spf_include.as_deref(),
            Some("spf.protection.outlook.com"),
            "a written-out relay at a preset's host is that provider's"
        );
        let e = Campaign::parse(
            &format!("{BASE}[relay]\nprofile = \"Office\"\noutbound_ips = [\"192.0.2.1\"]\n"),
            PathBuf::new(),
        )
        .unwrap_err();
        assert!(e.contains("outbound_ips"), "{e}");
        let e = Campaign::parse(
            &format!("{BASE}[relay]\nhost = \"h\"\nport = 587\nsecurity = \"starttls\"\nusername = \"u\"\noutbound_ips = [\"smtp.shop.test\"]\n"),
            PathBuf::new(),
        )
        .unwrap_err();
        assert!(e.contains("line"), "a plain error with the line: {e}");
    }
}
