//! Campaigns as documents: the app creates, opens, saves, duplicates and lists campaign
//! folders. A campaign folder holds the campaign file (the same TOML the command line
//! reads, `docs/campaign-file.md`), its text and HTML templates and, by default, copies
//! of the recipient file and the attachments, so that what is approved cannot change
//! behind the user's back when the original spreadsheet is edited.
//!
//! Architecture invariant: this module only reads and writes files. What is checked,
//! approved and sent is still decided by `workflow::prepare` reading the saved campaign
//! file, so the app and the command line share one format and one core path.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::Kind;
use crate::campaign::{Campaign, Security};
use crate::compose::{Composer, Draft};
use crate::error::{ErrorCode, UserError};
use crate::store::Store;

/// The campaign file's name in a folder the app made.
pub const CAMPAIGN_FILE: &str = "campaign.toml";
/// The text template's name in a new campaign.
pub const TEXT_FILE: &str = "message.txt";
/// The HTML template's name in a new campaign.
pub const HTML_FILE: &str = "message.html";
/// Where copied attachments go inside a campaign folder.
pub const ATTACHMENTS_DIR: &str = "attachments";
/// The Outbox folder of a new campaign (a dry run until a relay profile is chosen).
pub const OUTBOX_DIR: &str = "outbox";
/// The longest campaign title (a folder name).
pub const MAX_TITLE: usize = 80;

fn io(what: &str, path: &Path, e: std::io::Error) -> UserError {
    UserError::new(
        ErrorCode::Io,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

fn invalid(message: impl Into<String>) -> UserError {
    UserError::new(ErrorCode::InvalidCampaign, message)
}

/// A relay written out by hand in `[relay]` (host, port…): the form keeps it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenRelay {
    pub host: String,
    pub port: u16,
    /// `starttls` or `tls`.
    pub security: String,
    pub username: String,
    #[serde(default)]
    pub ca: Option<String>,
}

/// Everything the campaign editor shows and edits, as plain text fields. Empty text
/// means "not set". Paths are as written in the campaign file (relative to its folder).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CampaignForm {
    /// The campaign id (part of every Message-ID and unsubscribe token, and the key of
    /// the delivery state): kept across saves, new for a duplicate.
    pub id: String,
    pub from_name: String,
    pub from_address: String,
    pub reply_to: String,
    pub subject: String,
    /// The plain-text body template.
    pub text: String,
    /// The HTML body template; empty for a text-only message.
    pub html: String,
    /// The HTML body is made from the text when saved ("write text, HTML is made for
    /// you"); `html` is then what was made.
    pub html_from_text: bool,
    pub text_file: String,
    pub html_file: String,
    pub recipients_file: String,
    /// `auto` (or empty), `utf-8`, `shift_jis`, `utf-16`.
    pub encoding: String,
    /// `auto` (or empty), `,`, `;`, `tab`.
    pub delimiter: String,
    pub email_column: String,
    /// Files attached to every message.
    pub attachments: Vec<String>,
    pub attachment_column: String,
    pub attachment_dir: String,
    pub max_addresses_per_attachment: Option<usize>,
    pub unsubscribe_mailto: String,
    pub unsubscribe_url: String,
    /// `profile` (a saved relay profile), `outbox` (nothing is sent) or `relay` (a
    /// relay written out in the file by hand, kept as it is).
    pub destination: String,
    pub relay_profile: String,
    pub outbox_folder: String,
    pub relay: Option<WrittenRelay>,
    /// DKIM selector; empty: messages are not signed.
    pub dkim_selector: String,
    /// DKIM signing domain; empty: the sender's domain.
    pub dkim_domain: String,
    /// A key file instead of the keychain (files written by hand); empty: keychain.
    pub dkim_private_key: String,
    /// The campaign is advertising mail (特定電子メール): as loaded, the effective value
    /// ([`Campaign::is_advertising`]: a newsletter is, unless the file says otherwise).
    pub advertising: bool,
    /// `[advertising] sender_name`; empty: the From name.
    pub advertising_sender_name: String,
    /// `[advertising] postal_address`.
    pub advertising_postal_address: String,
    /// `[advertising] contact` (telephone, e-mail or URL for complaints).
    pub advertising_contact: String,
    /// One consent basis for everyone: `consent`, `business_card`, `transaction`,
    /// `published`; empty: none (or the column below).
    pub advertising_consent: String,
    /// The recipient column with each person's basis; used instead of
    /// `advertising_consent` when not empty.
    pub advertising_consent_column: String,
}

fn or_empty(o: &Option<String>) -> String {
    o.clone().unwrap_or_default()
}

fn some(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn read_template(campaign: &Campaign, p: &Path, what: &str) -> Result<String, UserError> {
    let path = campaign.resolve(p);
    let bytes = std::fs::read(&path).map_err(|e| io(&format!("read the {what}"), &path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| invalid(format!("the {what} {} is not UTF-8 text", path.display())))?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(text))
}

impl CampaignForm {
    /// The form of a loaded campaign, its templates read from disk.
    pub fn of(campaign: &Campaign) -> Result<CampaignForm, UserError> {
        let m = &campaign.message;
        let text = read_template(campaign, &m.text, "text template")?;
        let html = match &m.html {
            Some(h) => read_template(campaign, h, "HTML template")?,
            None => String::new(),
        };
        let html_from_text = !html.is_empty() && html == html_from_text(&text);
        let (destination, relay) = match (&campaign.relay_profile, &campaign.relay) {
            (Some(_), _) => ("profile", None),
            (None, Some(r)) => (
                "relay",
                Some(WrittenRelay {
                    host: r.host.clone(),
                    port: r.port,
                    security: match r.security {
                        Security::Starttls => "starttls".into(),
                        Security::Tls => "tls".into(),
                    },
                    username: r.username.clone(),
                    ca: r.ca.as_deref().map(path_text),
                }),
            ),
            (None, None) => ("outbox", None),
        };
        let u = campaign.unsubscribe.clone().unwrap_or_default();
        let d = campaign.dkim.as_ref();
        let a = campaign.advertising.clone().unwrap_or_default();
        Ok(CampaignForm {
            id: campaign.effective_id(),
            from_name: campaign.sender.name.clone(),
            from_address: campaign.sender.address.clone(),
            reply_to: or_empty(&campaign.sender.reply_to),
            subject: m.subject.clone(),
            text,
            html,
            html_from_text,
            text_file: path_text(&m.text),
            html_file: m.html.as_deref().map(path_text).unwrap_or_default(),
            recipients_file: path_text(&campaign.recipients.file),
            encoding: or_empty(&campaign.recipients.encoding),
            delimiter: or_empty(&campaign.recipients.delimiter),
            email_column: or_empty(&campaign.recipients.email_column),
            attachments: m.attachments.iter().map(|p| path_text(p)).collect(),
            attachment_column: or_empty(&m.attachment_column),
            attachment_dir: m
                .attachment_dir
                .as_deref()
                .map(path_text)
                .unwrap_or_default(),
            max_addresses_per_attachment: m.max_addresses_per_attachment,
            unsubscribe_mailto: or_empty(&u.mailto),
            unsubscribe_url: or_empty(&u.url),
            destination: destination.into(),
            relay_profile: campaign.relay_profile.clone().unwrap_or_default(),
            outbox_folder: campaign
                .outbox
                .as_ref()
                .map(|o| path_text(&o.folder))
                .unwrap_or_default(),
            relay,
            dkim_selector: d.map(|d| d.selector.clone()).unwrap_or_default(),
            dkim_domain: d.and_then(|d| d.domain.clone()).unwrap_or_default(),
            dkim_private_key: d
                .and_then(|d| d.private_key.as_deref().map(path_text))
                .unwrap_or_default(),
            advertising: campaign.is_advertising(),
            advertising_sender_name: or_empty(&a.sender_name),
            advertising_postal_address: or_empty(&a.postal_address),
            advertising_contact: or_empty(&a.contact),
            advertising_consent: a
                .consent
                .as_deref()
                .and_then(crate::campaign::ConsentBasis::parse)
                .map(|b| b.as_str().to_owned())
                .unwrap_or_default(),
            advertising_consent_column: or_empty(&a.consent_column),
        })
    }

    /// The campaign file's text for this form. Refuses a form the command line could
    /// not load (the text is parsed back before anything is written).
    pub fn to_toml(&self, base_dir: &Path) -> Result<String, UserError> {
        let file = CampaignFile::of(self)?;
        let text = toml::to_string(&file).map_err(|e| {
            UserError::new(
                ErrorCode::Internal,
                format!("cannot write the campaign file: {e}"),
            )
        })?;
        let text = format!(
            "# Written by MergeGuard. The format is described in docs/campaign-file.md;\n\
             # the app and `mergeguard` on the command line read it alike.\n{text}"
        );
        Campaign::parse(&text, base_dir.to_owned()).map_err(invalid)?;
        Ok(text)
    }

    /// The draft the composer would build from this form (for checking it in place).
    pub fn draft(&self) -> Draft {
        Draft {
            campaign_id: self.id.clone(),
            from_name: self.from_name.clone(),
            from_address: self.from_address.trim().to_owned(),
            reply_to: some(&self.reply_to),
            subject: self.subject.clone(),
            text: self.text.clone(),
            html: some(&self.effective_html()),
            unsubscribe_mailto: some(&self.unsubscribe_mailto),
            unsubscribe_url: some(&self.unsubscribe_url),
            ..Draft::default()
        }
    }

    /// The HTML template as it will be saved.
    fn effective_html(&self) -> String {
        if self.html_from_text {
            html_from_text(&self.text)
        } else {
            self.html.clone()
        }
    }

    /// What is wrong with the form by the composer's rules (template syntax, addresses,
    /// unsubscribe), each on the form field it belongs to. Empty: nothing.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.from_address.trim().is_empty() {
            out.push(Problem::new("from_address", "the sender address is empty"));
        }
        if self.subject.trim().is_empty() {
            out.push(Problem::new("subject", "the subject is empty"));
        }
        if self.text.trim().is_empty() {
            out.push(Problem::new("text", "the message text is empty"));
        }
        if self.recipients_file.trim().is_empty() {
            out.push(Problem::new(
                "recipients_file",
                "no recipient file is chosen yet",
            ));
        }
        if out.is_empty() {
            if let Err(e) = Composer::new(self.draft()) {
                out.push(Problem::new(field_of(&e.message), e.message));
            }
        }
        out
    }
}

/// The form field a composer error belongs to, from its words.
fn field_of(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("reply-to") {
        "reply_to"
    } else if m.contains("sender address") {
        "from_address"
    } else if m.contains("unsubscribe") {
        if m.contains("url") || m.contains("https") {
            "unsubscribe_url"
        } else {
            "unsubscribe_mailto"
        }
    } else if m.contains("subject") {
        "subject"
    } else if m.contains("html") {
        "html"
    } else if m.contains("from") {
        "from_name"
    } else {
        "text"
    }
}

/// One thing wrong with a form field, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: &str, message: impl Into<String>) -> Problem {
        Problem {
            field: field.into(),
            message: message.into(),
        }
    }
}

// ---------- the campaign file as written ----------

#[derive(Serialize)]
struct CampaignFile<'a> {
    id: &'a str,
    sender: SenderOut<'a>,
    recipients: RecipientsOut<'a>,
    message: MessageOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unsubscribe: Option<UnsubscribeOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    advertising: Option<AdvertisingOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relay: Option<RelayOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outbox: Option<OutboxOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dkim: Option<DkimOut>,
}

#[derive(Serialize)]
struct SenderOut<'a> {
    name: &'a str,
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<String>,
}

#[derive(Serialize)]
struct RecipientsOut<'a> {
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_column: Option<String>,
}

#[derive(Serialize)]
struct MessageOut<'a> {
    subject: &'a str,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    html: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment_column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_addresses_per_attachment: Option<usize>,
}

#[derive(Serialize)]
struct UnsubscribeOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    mailto: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize)]
struct AdvertisingOut {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    postal_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consent_column: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum RelayOut<'a> {
    Profile {
        profile: &'a str,
    },
    Written {
        host: &'a str,
        port: u16,
        security: &'a str,
        username: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        ca: Option<&'a str>,
    },
}

#[derive(Serialize)]
struct OutboxOut {
    folder: String,
}

#[derive(Serialize)]
struct DkimOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    selector: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    keychain: bool,
}

fn auto_is_none(s: &str) -> Option<String> {
    some(s).filter(|v| !v.eq_ignore_ascii_case("auto"))
}

impl<'a> CampaignFile<'a> {
    fn of(f: &'a CampaignForm) -> Result<CampaignFile<'a>, UserError> {
        if f.id.trim().is_empty() {
            return Err(UserError::new(
                ErrorCode::Internal,
                "the campaign has no id",
            ));
        }
        let relay = match f.destination.as_str() {
            "profile" => {
                if f.relay_profile.trim().is_empty() {
                    return Err(invalid(
                        "choose the relay profile this campaign is sent through",
                    ));
                }
                Some(RelayOut::Profile {
                    profile: f.relay_profile.trim(),
                })
            }
            "relay" => {
                let r = f.relay.as_ref().ok_or_else(|| {
                    invalid(
                        "the relay written in the campaign file is missing; choose a relay profile",
                    )
                })?;
                Some(RelayOut::Written {
                    host: &r.host,
                    port: r.port,
                    security: &r.security,
                    username: &r.username,
                    ca: r.ca.as_deref(),
                })
            }
            "outbox" | "" => None,
            other => return Err(invalid(format!("unknown destination \"{other}\""))),
        };
        let outbox = relay.is_none().then(|| OutboxOut {
            folder: some(&f.outbox_folder).unwrap_or_else(|| OUTBOX_DIR.into()),
        });
        let unsubscribe = match (some(&f.unsubscribe_mailto), some(&f.unsubscribe_url)) {
            (None, None) => None,
            (mailto, url) => Some(UnsubscribeOut { mailto, url }),
        };
        // `[advertising]` is written when it says anything: the campaign is advertising,
        // it is a newsletter that is not (enabled = false), or a detail is filled in.
        let newsletter = unsubscribe.is_some();
        let column = some(&f.advertising_consent_column);
        let advertising = AdvertisingOut {
            enabled: f.advertising,
            sender_name: some(&f.advertising_sender_name),
            postal_address: some(&f.advertising_postal_address),
            contact: some(&f.advertising_contact),
            consent: column
                .is_none()
                .then(|| some(&f.advertising_consent))
                .flatten(),
            consent_column: column,
        };
        let says_something = f.advertising
            || newsletter
            || advertising.sender_name.is_some()
            || advertising.postal_address.is_some()
            || advertising.contact.is_some()
            || advertising.consent.is_some()
            || advertising.consent_column.is_some();
        let advertising = says_something.then_some(advertising);
        let dkim = some(&f.dkim_selector).map(|selector| {
            let private_key = some(&f.dkim_private_key);
            DkimOut {
                domain: some(&f.dkim_domain),
                selector,
                keychain: private_key.is_none(),
                private_key,
            }
        });
        let html = f.effective_html();
        Ok(CampaignFile {
            id: f.id.trim(),
            sender: SenderOut {
                name: &f.from_name,
                address: f.from_address.trim(),
                reply_to: some(&f.reply_to),
            },
            recipients: RecipientsOut {
                file: f.recipients_file.trim(),
                encoding: auto_is_none(&f.encoding),
                delimiter: auto_is_none(&f.delimiter),
                email_column: some(&f.email_column),
            },
            message: MessageOut {
                subject: &f.subject,
                text: some(&f.text_file).unwrap_or_else(|| TEXT_FILE.into()),
                html: (!html.trim().is_empty())
                    .then(|| some(&f.html_file).unwrap_or_else(|| HTML_FILE.into())),
                attachments: f
                    .attachments
                    .iter()
                    .map(|a| a.trim())
                    .filter(|a| !a.is_empty())
                    .collect(),
                attachment_column: some(&f.attachment_column),
                attachment_dir: some(&f.attachment_column).and_then(|_| some(&f.attachment_dir)),
                max_addresses_per_attachment: f.max_addresses_per_attachment,
            },
            unsubscribe,
            advertising,
            relay,
            outbox,
            dkim,
        })
    }
}

// ---------- files ----------

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename,
/// so a crash or a full disk leaves either the old file or the new one, never half.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), UserError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.saving"));
    std::fs::write(&tmp, bytes).map_err(|e| io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("save", path, e)
    })
}

/// A path from the form, resolved against the campaign folder.
fn resolve(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p.trim());
    if p.is_absolute() {
        p.to_owned()
    } else {
        dir.join(p)
    }
}

/// Opens the campaign file at `path` for editing.
pub fn read(path: &Path) -> Result<CampaignForm, UserError> {
    let campaign = Campaign::load(path).map_err(|e| e.to_user())?;
    CampaignForm::of(&campaign)
}

/// What a save did.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub path: PathBuf,
    /// SHA-256 of the campaign file and templates as written (for the operation log).
    pub sha256: String,
    /// What still stops the campaign from being checked, per field (it is saved anyway,
    /// so nothing typed is lost).
    pub problems: Vec<Problem>,
}

/// Saves `form` to the campaign file at `path` and its templates beside it. The file is
/// checked by the same parser the command line uses before anything is written; the
/// templates are written first and the campaign file last, each atomically.
pub fn save(path: &Path, form: &CampaignForm) -> Result<Saved, UserError> {
    let dir = path
        .parent()
        .ok_or_else(|| invalid("the campaign file has no folder"))?;
    if !dir.is_dir() {
        return Err(invalid(format!(
            "the campaign folder {} does not exist (any more)",
            dir.display()
        )));
    }
    let mut form = form.clone();
    if form.text_file.trim().is_empty() {
        form.text_file = TEXT_FILE.into();
    }
    let html = form.effective_html();
    if !html.trim().is_empty() && form.html_file.trim().is_empty() {
        form.html_file = HTML_FILE.into();
    }
    let toml = form.to_toml(dir)?;
    // The templates must be plain files of this folder or named by the user: never the
    // campaign file itself.
    let text_path = resolve(dir, &form.text_file);
    let html_path = (!html.trim().is_empty()).then(|| resolve(dir, &form.html_file));
    for p in std::iter::once(&text_path).chain(html_path.as_ref()) {
        if p == path {
            return Err(invalid("a template cannot be the campaign file itself"));
        }
    }
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in [toml.as_str(), form.text.as_str(), html.as_str()] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    write_atomic(&text_path, form.text.as_bytes())?;
    if let Some(h) = &html_path {
        write_atomic(h, html.as_bytes())?;
    }
    write_atomic(path, toml.as_bytes())?;
    Ok(Saved {
        path: path.to_owned(),
        sha256: hex::encode(hasher.finalize()),
        problems: form.problems(),
    })
}

/// A folder name from a title: no path separators, control characters or characters
/// Windows refuses; not empty, not only dots.
fn folder_name(title: &str) -> Result<String, UserError> {
    let cleaned: String = title
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let cleaned = cleaned.trim_matches('.').trim().to_owned();
    if cleaned.is_empty() {
        return Err(UserError::new(
            ErrorCode::InvalidInput,
            "give the campaign a name (for example \"December newsletter\")",
        ));
    }
    if cleaned.chars().count() > MAX_TITLE {
        return Err(UserError::new(
            ErrorCode::InvalidInput,
            format!("the campaign name is longer than {MAX_TITLE} characters"),
        ));
    }
    Ok(cleaned)
}

/// A new folder under `home` named after `title` ("Title", then "Title (2)", …).
fn new_folder(home: &Path, title: &str) -> Result<PathBuf, UserError> {
    let name = folder_name(title)?;
    std::fs::create_dir_all(home).map_err(|e| io("create the folder", home, e))?;
    for n in 1..=99u32 {
        let candidate = if n == 1 {
            home.join(&name)
        } else {
            home.join(format!("{name} ({n})"))
        };
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io("create the folder", &candidate, e)),
        }
    }
    Err(UserError::new(
        ErrorCode::InvalidInput,
        format!("there are already 99 campaigns called \"{name}\"; choose another name"),
    ))
}

/// A new campaign id: `c` and 16 random hex digits.
pub fn new_id() -> String {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // No system randomness: the time still makes the id unique on this computer.
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        bytes = (nanos as u64).to_be_bytes();
    }
    format!("c{}", hex::encode(bytes))
}

/// Creates a new campaign folder under `home`: an empty text message, no recipients
/// yet, and the Outbox folder as destination (nothing can be sent until a relay
/// profile is chosen). Returns the campaign file.
pub fn create(home: &Path, title: &str, from: Option<&CampaignForm>) -> Result<PathBuf, UserError> {
    let dir = new_folder(home, title)?;
    let path = dir.join(CAMPAIGN_FILE);
    let form = match from {
        Some(f) => f.clone(),
        // Text written by the user, its HTML version made for them: the common case.
        None => CampaignForm {
            destination: "outbox".into(),
            outbox_folder: OUTBOX_DIR.into(),
            text_file: TEXT_FILE.into(),
            html_from_text: true,
            ..CampaignForm::default()
        },
    };
    let form = CampaignForm {
        id: new_id(),
        ..form
    };
    if let Err(e) = save(&path, &form) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    Ok(path)
}

/// Copies `src` into the campaign folder (`sub`folder, if given) and returns the
/// path to write in the campaign file, relative to the folder. An existing file of
/// the same name is replaced only if it is not one of the campaign's own files.
pub fn copy_in(campaign: &Path, src: &Path, sub: Option<&str>) -> Result<String, UserError> {
    let dir = campaign
        .parent()
        .ok_or_else(|| invalid("the campaign file has no folder"))?;
    let meta = std::fs::metadata(src).map_err(|e| io("read", src, e))?;
    if !meta.is_file() {
        return Err(UserError::new(
            ErrorCode::InvalidInput,
            format!("{} is not a file", src.display()),
        ));
    }
    let name = src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| UserError::new(ErrorCode::InvalidInput, "the file has no name"))?;
    if sub.is_none() && [CAMPAIGN_FILE, TEXT_FILE, HTML_FILE].contains(&name.as_str()) {
        return Err(UserError::new(
            ErrorCode::InvalidInput,
            format!("a file called {name} would replace the campaign's own; rename it first"),
        ));
    }
    let target_dir = match sub {
        Some(s) => dir.join(s),
        None => dir.to_owned(),
    };
    std::fs::create_dir_all(&target_dir).map_err(|e| io("create the folder", &target_dir, e))?;
    let target = target_dir.join(&name);
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    if !same(src, &target) {
        let bytes = std::fs::read(src).map_err(|e| io("read", src, e))?;
        write_atomic(&target, &bytes)?;
    }
    Ok(match sub {
        Some(s) => format!("{s}/{name}"),
        None => name,
    })
}

/// Copies a campaign into a new folder under `home` with a new id ("send last month's
/// newsletter again"): templates, the recipient file and attachments inside the old
/// folder are copied; files named outside it are named by their full path. The Outbox
/// folder and delivery state are not copied: the copy starts as a draft.
pub fn duplicate(path: &Path, home: &Path, title: &str) -> Result<PathBuf, UserError> {
    let campaign = Campaign::load(path).map_err(|e| e.to_user())?;
    let mut form = CampaignForm::of(&campaign)?;
    let old_dir = campaign.base_dir.clone();
    let new_dir = new_folder(home, title)?;
    let result = (|| {
        let carry = |p: &mut String| -> Result<(), UserError> {
            if p.trim().is_empty() {
                return Ok(());
            }
            let abs = resolve(&old_dir, p);
            let inside = abs
                .canonicalize()
                .ok()
                .zip(old_dir.canonicalize().ok())
                .and_then(|(a, d)| a.strip_prefix(&d).ok().map(Path::to_path_buf));
            match inside {
                Some(rel) if abs.is_file() => {
                    let target = new_dir.join(&rel);
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(|e| io("create the folder", parent, e))?;
                    }
                    std::fs::copy(&abs, &target).map_err(|e| io("copy", &abs, e))?;
                    *p = rel.to_string_lossy().replace('\\', "/");
                }
                _ => *p = abs.to_string_lossy().into_owned(),
            }
            Ok(())
        };
        carry(&mut form.recipients_file)?;
        for a in &mut form.attachments {
            carry(a)?;
        }
        if !form.attachment_dir.trim().is_empty() {
            form.attachment_dir = resolve(&old_dir, &form.attachment_dir)
                .to_string_lossy()
                .into_owned();
        }
        if !form.dkim_private_key.trim().is_empty() {
            form.dkim_private_key = resolve(&old_dir, &form.dkim_private_key)
                .to_string_lossy()
                .into_owned();
        }
        if let Some(r) = &mut form.relay {
            if let Some(ca) = &mut r.ca {
                *ca = resolve(&old_dir, ca).to_string_lossy().into_owned();
            }
        }
        if form.destination == "outbox" {
            form.outbox_folder = OUTBOX_DIR.into();
        }
        form.id = new_id();
        let new_path = new_dir.join(CAMPAIGN_FILE);
        save(&new_path, &form)?;
        Ok(new_path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&new_dir);
    }
    result
}

// ---------- the campaign list ----------

/// Where a campaign stands, for the start screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Being written; never checked.
    Draft,
    /// The checklist ran.
    Checked,
    /// Submitted for approval, not approved yet.
    Submitted,
    /// Approved and not sent yet.
    Approved,
    /// Saved after its approval: it needs a new one.
    Changed,
    /// Some messages sent, others still to go (paused, cancelled or interrupted).
    Sending,
    /// Every message was handed over (or failed for good).
    Sent,
}

/// One campaign on the start screen.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub path: PathBuf,
    /// The folder's name.
    pub title: String,
    pub subject: String,
    pub stage: Stage,
    /// Messages handed over, and all messages of the send (0 before the first send).
    pub sent: u64,
    pub total: u64,
    /// RFC 3339: when the stage was reached (the file's last save for a draft).
    pub stage_at: Option<String>,
    /// RFC 3339: the last time the campaign file or a template was saved.
    pub saved_at: Option<String>,
    /// Set when the campaign file cannot be read; the entry is still listed.
    pub error: Option<String>,
}

fn rfc3339(t: OffsetDateTime) -> Option<String> {
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// The last time the campaign file or one of its templates was written.
fn saved_at(campaign: &Campaign, path: &Path) -> Option<OffsetDateTime> {
    std::iter::once(path.to_owned())
        .chain(std::iter::once(campaign.resolve(&campaign.message.text)))
        .chain(campaign.message.html.iter().map(|h| campaign.resolve(h)))
        .filter_map(|p| std::fs::metadata(p).ok()?.modified().ok())
        .max()
        .map(OffsetDateTime::from)
}

/// Where the campaign with this id stands in the store, given when its files were
/// last saved. Read-only: the approval itself is always checked again by the send.
pub fn stage(
    store: &Store,
    campaign_id: &str,
    saved: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(Stage, u64, u64, Option<String>), UserError> {
    use rusqlite::OptionalExtension;
    let db = |e: rusqlite::Error| {
        UserError::new(
            ErrorCode::Database,
            format!("cannot read the campaign's state: {e}"),
        )
    };
    let conn = store.read();
    let counts = crate::send::state::counts(&conn, campaign_id).map_err(db)?;
    let total = counts.total();
    if total > 0 {
        let last: Option<String> = conn
            .query_row(
                "SELECT max(at) FROM audit_log WHERE campaign = ?1 AND kind IN (?2, ?3, ?4, ?5)",
                [
                    campaign_id,
                    Kind::SendStart.as_str(),
                    Kind::SendFinish.as_str(),
                    Kind::SendCancel.as_str(),
                    Kind::SendPause.as_str(),
                ],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?
            .flatten();
        let open = counts.queued + counts.sending + counts.deferred + counts.unknown;
        let stage = if open > 0 {
            Stage::Sending
        } else {
            Stage::Sent
        };
        return Ok((stage, counts.sent, total, last));
    }
    let approval: Option<(String, String, Option<String>)> = conn
        .query_row(
            "SELECT granted_at, expires_at, revoked_at FROM approvals WHERE campaign_id = ?1 ORDER BY id DESC LIMIT 1",
            [campaign_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db)?;
    let after = |at: &str| match (saved, parse_time(at)) {
        (Some(s), Some(t)) => s > t,
        _ => false,
    };
    if let Some((granted, expires, None)) = &approval {
        let valid = parse_time(expires).is_some_and(|e| now < e);
        if valid {
            let stage = if after(granted) {
                Stage::Changed
            } else {
                Stage::Approved
            };
            return Ok((stage, 0, 0, Some(granted.clone())));
        }
    }
    let submitted: Option<String> = conn
        .query_row(
            "SELECT max(at) FROM audit_log WHERE campaign = ?1 AND kind = ?2",
            [campaign_id, Kind::ApprovalRequested.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?
        .flatten();
    let submitted_current: Option<bool> = conn
        .query_row(
            "SELECT 1 FROM submissions WHERE campaign_id = ?1",
            [campaign_id],
            |_| Ok(true),
        )
        .optional()
        .map_err(db)?;
    if let (Some(at), Some(true)) = (&submitted, submitted_current) {
        let stage = if after(at) {
            Stage::Changed
        } else {
            Stage::Submitted
        };
        return Ok((stage, 0, 0, Some(at.clone())));
    }
    let checked: Option<String> = conn
        .query_row(
            "SELECT max(at) FROM audit_log WHERE campaign = ?1 AND kind = ?2",
            [campaign_id, Kind::CheckRun.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?
        .flatten();
    if let Some(at) = checked.filter(|at| !after(at)) {
        return Ok((Stage::Checked, 0, 0, Some(at)));
    }
    Ok((Stage::Draft, 0, 0, saved.and_then(rfc3339)))
}

/// Every campaign folder directly under `home` (a folder holding `campaign.toml`),
/// newest save first. A campaign file that cannot be read is listed with its error.
pub fn list(home: &Path, store: &Store, now: OffsetDateTime) -> Result<Vec<Entry>, UserError> {
    let read = match std::fs::read_dir(home) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read the folder", home, e)),
    };
    let mut out = Vec::new();
    for item in read.flatten() {
        let path = item.path().join(CAMPAIGN_FILE);
        if !path.is_file() {
            continue;
        }
        let title = item.file_name().to_string_lossy().into_owned();
        match Campaign::load(&path) {
            Ok(c) => {
                let saved = saved_at(&c, &path);
                let (stage, sent, total, stage_at) = stage(store, &c.effective_id(), saved, now)?;
                out.push(Entry {
                    path,
                    title,
                    subject: c.message.subject.clone(),
                    stage,
                    sent,
                    total,
                    stage_at,
                    saved_at: saved.and_then(rfc3339),
                    error: None,
                });
            }
            Err(e) => out.push(Entry {
                path,
                title,
                subject: String::new(),
                stage: Stage::Draft,
                sent: 0,
                total: 0,
                stage_at: None,
                saved_at: None,
                error: Some(e.to_string()),
            }),
        }
    }
    out.sort_by(|a, b| {
        b.saved_at
            .cmp(&a.saved_at)
            .then_with(|| a.title.cmp(&b.title))
    });
    Ok(out)
}

// ---------- "write text, HTML is made for you" ----------

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
}

/// The HTML body made from a plain-text template: paragraphs at blank lines, line
/// breaks kept, text escaped. Merge tags (`{{ … }}`, `{% … %}`) are copied as they are,
/// so they still work (merged values are HTML-escaped when the message is built).
pub fn html_from_text(text: &str) -> String {
    let mut body = String::new();
    let text = text.replace("\r\n", "\n");
    for para in text
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.is_empty())
    {
        body.push_str("<p>");
        let mut rest = para;
        while !rest.is_empty() {
            let next = [rest.find("{{"), rest.find("{%")]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(start) => {
                    escape_into(&mut body, &rest[..start].replace('\n', "\u{0}"));
                    let close = if rest[start..].starts_with("{{") {
                        "}}"
                    } else {
                        "%}"
                    };
                    match rest[start..].find(close) {
                        Some(end) => {
                            body.push_str(&rest[start..start + end + 2]);
                            rest = &rest[start + end + 2..];
                        }
                        None => {
                            escape_into(&mut body, &rest[start..].replace('\n', "\u{0}"));
                            rest = "";
                        }
                    }
                }
                None => {
                    escape_into(&mut body, &rest.replace('\n', "\u{0}"));
                    rest = "";
                }
            }
        }
        body.push_str("</p>\n");
    }
    let body = body.replace('\u{0}', "<br>\n");
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.6\">\n{body}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_from_text_keeps_merge_tags_and_escapes_text() {
        let html = html_from_text("Dear {{ 氏名 }} <3 & co\nline two\n\n{% if x %}P2{% endif %}\n");
        assert!(
            html.contains("<p>Dear {{ 氏名 }} &lt;3 &amp; co<br>\nline two</p>"),
            "{html}"
        );
        assert!(html.contains("<p>{% if x %}P2{% endif %}</p>"), "{html}");
        // A quoted field name inside a tag is not escaped.
        let html = html_from_text("{{ fields[\"会社名 (旧)\"] }}");
        assert!(html.contains("{{ fields[\"会社名 (旧)\"] }}"), "{html}");
    }

    fn form() -> CampaignForm {
        CampaignForm {
            id: "c1".into(),
            from_name: "Shop".into(),
            from_address: "news@shop.test".into(),
            subject: "s".into(),
            text: "t".into(),
            recipients_file: "r.csv".into(),
            ..CampaignForm::default()
        }
    }

    fn round_trip(f: &CampaignForm) -> (String, Campaign) {
        let text = f.to_toml(Path::new("/tmp")).unwrap();
        let c = Campaign::parse(&text, PathBuf::from("/tmp")).unwrap();
        (text, c)
    }

    #[test]
    fn the_advertising_settings_are_written_as_the_command_line_reads_them() {
        // A notice without unsubscribe and without the box ticked: no section at all.
        let (text, c) = round_trip(&form());
        assert!(!text.contains("[advertising]"), "{text}");
        assert!(!c.is_advertising());

        let mut f = form();
        f.unsubscribe_url = "https://shop.test/u?t={token}".into();
        f.advertising = true;
        f.advertising_postal_address = "東京都港区芝公園0-0-0".into();
        f.advertising_contact = "03-0000-0000".into();
        f.advertising_consent = "business_card".into();
        let (text, c) = round_trip(&f);
        assert!(c.is_advertising(), "{text}");
        let a = c.advertising.clone().unwrap();
        assert_eq!(a.consent.as_deref(), Some("business_card"));
        assert_eq!(a.postal_address.as_deref(), Some("東京都港区芝公園0-0-0"));

        // A column wins over one basis for all; the file names only the column.
        f.advertising_consent_column = "同意区分".into();
        let (text, c) = round_trip(&f);
        let a = c.advertising.unwrap();
        assert_eq!(a.consent_column.as_deref(), Some("同意区分"));
        assert_eq!(a.consent, None, "{text}");

        // A newsletter whose box is unticked says so explicitly.
        f.advertising = false;
        let (text, c) = round_trip(&f);
        assert!(text.contains("enabled = false"), "{text}");
        assert!(!c.is_advertising());

        // A basis the law does not know is refused by the command line's own parser.
        f.advertising_consent_column.clear();
        f.advertising_consent = "maybe".into();
        let e = f.to_toml(Path::new("/tmp")).unwrap_err();
        assert!(e.message.contains("not a consent basis"), "{e:?}");
    }

    #[test]
    fn folder_names_are_safe() {
        assert_eq!(folder_name(" a/b:c ").unwrap(), "a b c");
        assert_eq!(folder_name("12月のお知らせ").unwrap(), "12月のお知らせ");
        assert!(folder_name("..").is_err());
        assert!(folder_name("   ").is_err());
    }
}
