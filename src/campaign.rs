//! The campaign file (TOML): sender, recipient source, message templates, unsubscribe,
//! relay and DKIM settings. Paths inside it are relative to the file's own folder.

use serde::Deserialize;
use std::path::{Path, PathBuf};

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
    #[serde(default)]
    pub relay: Option<Relay>,
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
    /// Folder the per-recipient attachment files are in (default: the campaign's folder).
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
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Read { .. } => ErrorCode::Io,
            Error::Parse { .. } => ErrorCode::InvalidCampaign,
        }
    }
}

impl Campaign {
    /// Loads and parses a campaign file; relative paths are kept relative and resolved
    /// with [`Campaign::resolve`].
    pub fn load(path: &Path) -> Result<Campaign, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Campaign::parse(&text, base_dir).map_err(|message| Error::Parse {
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
        if campaign.relay.is_some() && campaign.outbox.is_some() {
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

    /// Resolves a path from the campaign file against the file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }
}
