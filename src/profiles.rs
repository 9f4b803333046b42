//! Relay profiles: the named SMTP relays an admin sets up once (host, port, security,
//! user name, optional company CA, sending-speed preset, how to sign in), so that a
//! campaign names a profile instead of spelling out a `[relay]` section.
//!
//! Every function takes plain inputs and returns serialisable results or an [`Error`]
//! with a code, so the CLI (`mergeguard relay ...`) and a Tauri command are thin calls.
//!
//! Architecture invariants:
//! - plain text is not representable: [`Security`] has only STARTTLS and TLS, and the
//!   words "plain"/"none" are refused with an explanation;
//! - the password lives only in the OS keychain ([`crate::secrets`]), filed under the
//!   profile's relay and user (`host:port`, `user`) — the same account a campaign's
//!   `[relay]` section reads, so [`to_relay`] needs no second password lookup. It is
//!   never written to the store, the operation log, or any result of this module;
//! - a company CA is kept as its path plus the SHA-256 of its bytes; every use re-reads
//!   the file and refuses it when it changed, so the trust a profile was saved (and a
//!   campaign approved) with cannot change behind the user's back;
//! - only an admin adds, changes or removes a profile; each change is logged.
//!
//! This module does not know campaigns' files or the approval: it hands the campaign
//! path a [`crate::campaign::Relay`] and the fingerprint a [`crate::approval::RelayInput`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::audit::{self, Kind};
use crate::campaign::{Relay, Security};
use crate::error::{ErrorCode, UserError};
use crate::operators::{Role, Session};
use crate::preflight::tls::{ids, probe_relay, RelayProbe};
use crate::preflight::{Check, Status};
use crate::secrets::{self, Secret};
use crate::send::rate::RatePreset;
use crate::store::Store;

/// Longest profile name accepted.
pub const MAX_NAME: usize = 64;
/// A CA file larger than this is not a CA file.
const MAX_CA_BYTES: u64 = 1024 * 1024;
/// How long each step of "Test connection" may take.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Who runs the relay: fills the known values and names the SPF include.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Microsoft 365 / Exchange Online.
    Microsoft365,
    /// Google Workspace.
    Google,
    /// Any other relay: the company's own, an ESP.
    Other,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Microsoft365, Provider::Google, Provider::Other];

    /// The name the CLI and the store use.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Microsoft365 => "microsoft365",
            Provider::Google => "google",
            Provider::Other => "other",
        }
    }

    /// Parses `microsoft365`, `google` or `other` (a few common spellings too).
    pub fn parse(name: &str) -> Result<Provider, Error> {
        match name
            .trim()
            .to_ascii_lowercase()
            .replace([' ', '_'], "-")
            .as_str()
        {
            "microsoft365" | "microsoft-365" | "m365" | "office365" => Ok(Provider::Microsoft365),
            "google" | "google-workspace" | "gmail" => Ok(Provider::Google),
            "other" | "" => Ok(Provider::Other),
            _ => Err(Error::invalid(
                "provider",
                format!("\"{name}\" is not a known preset: choose microsoft365, google or other"),
            )),
        }
    }

    /// The values this provider documents for authenticated submission.
    pub fn preset(self) -> Preset {
        match self {
            // "POP, IMAP, and SMTP settings for Outlook.com / Microsoft 365"
            // (support.microsoft.com): smtp.office365.com, 587, STARTTLS.
            Provider::Microsoft365 => Preset {
                provider: self,
                label: "Microsoft 365",
                host: Some("smtp.office365.com"),
                port: Some(587),
                security: Some("starttls"),
                rate: RatePreset::Microsoft365,
                spf_include: Some("spf.protection.outlook.com"),
            },
            // "Send email from a printer, scanner, or app" (support.google.com/a/answer/176600):
            // smtp.gmail.com, 587, STARTTLS.
            Provider::Google => Preset {
                provider: self,
                label: "Google Workspace",
                host: Some("smtp.gmail.com"),
                port: Some(587),
                security: Some("starttls"),
                rate: RatePreset::GoogleWorkspace,
                spf_include: Some("_spf.google.com"),
            },
            Provider::Other => Preset {
                provider: self,
                label: "Other relay",
                host: None,
                port: None,
                security: None,
                rate: RatePreset::Generic,
                spf_include: None,
            },
        }
    }
}

/// The known values of one provider, for a form to pre-fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Preset {
    pub provider: Provider,
    pub label: &'static str,
    pub host: Option<&'static str>,
    pub port: Option<u16>,
    /// `starttls` or `tls`.
    pub security: Option<&'static str>,
    pub rate: RatePreset,
    /// The `include:` name the provider publishes for SPF.
    pub spf_include: Option<&'static str>,
}

/// Every preset, in the order a form lists them.
pub fn presets() -> Vec<Preset> {
    Provider::ALL.iter().map(|p| p.preset()).collect()
}

/// How MergeGuard signs in to the relay. Only `password` exists today; OAuth2 (issue 15)
/// will be a second variant with its own keychain entry, which is why the store column
/// already allows `oauth2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Password,
    /// Sign-in with Microsoft 365, Google or another OAuth2 server (`crate::oauth`);
    /// set with `oauth::configure`, not through the profile form.
    #[serde(rename = "oauth2")]
    OAuth2,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::OAuth2 => "oauth2",
        }
    }

    fn parse(name: &str) -> Result<AuthMethod, Error> {
        match name.trim().to_ascii_lowercase().as_str() {
            "password" | "" => Ok(AuthMethod::Password),
            "oauth2" | "oauth" => Err(Error::invalid(
                "auth",
                "signing in with OAuth2 (Microsoft 365 or Google sign-in) is not available yet: use the account's password (for Google, an app password)",
            )),
            other => Err(Error::invalid(
                "auth",
                format!("\"{other}\" is not a sign-in method: use password"),
            )),
        }
    }
}

/// A company CA the relay's certificate is checked against, in addition to the
/// system's trusted authorities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaFile {
    /// Absolute path of the PEM file.
    pub path: PathBuf,
    /// SHA-256 (hex) of the file's bytes when the profile was saved.
    pub sha256: String,
}

/// A saved relay profile. Holds no secret; serialises as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub name: String,
    pub provider: Provider,
    pub host: String,
    pub port: u16,
    #[serde(serialize_with = "serialize_security")]
    pub security: Security,
    pub username: String,
    pub auth: AuthMethod,
    pub ca: Option<CaFile>,
    pub rate: RatePreset,
    /// The addresses the relay's mail leaves from, as the admin declared them (ask the
    /// relay's operator); `spf.relay` evaluates these. Empty: none declared.
    pub outbound_ips: Vec<IpAddr>,
    /// RFC 3339 time of the last change, and who made it.
    pub updated_at: String,
    pub updated_by: String,
}

fn security_str(s: Security) -> &'static str {
    match s {
        Security::Starttls => "starttls",
        Security::Tls => "tls",
    }
}

fn serialize_security<S: serde::Serializer>(s: &Security, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(security_str(*s))
}

/// What a person typed into the profile form (or the CLI's flags). Every field is plain
/// text or a number, so any input reaches the validation and gets a plain-words answer
/// rather than a deserialisation error. Empty host/port/security/rate take the
/// provider's preset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ProfileInput {
    pub name: String,
    /// `microsoft365`, `google` or `other` (default).
    pub provider: String,
    pub host: String,
    /// A number; 0 or absent takes the preset's port.
    pub port: Option<u32>,
    /// `starttls` or `tls`.
    pub security: String,
    pub username: String,
    /// `password` (default).
    pub auth: String,
    /// A PEM file of the company CA, if the relay's certificate is issued by one.
    pub ca_file: Option<PathBuf>,
    /// `microsoft365`, `google-workspace` or `generic`; empty takes the provider's.
    pub rate: String,
    /// The relay's outbound IP addresses, separated by commas or spaces; empty: none.
    pub outbound_ips: String,
}

/// A profile could not be saved, found or used. The message is one plain sentence;
/// `field` names the form field it belongs to, when there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("there is already a relay profile named \"{0}\"")]
    NameTaken(String),
    #[error("there is no relay profile named \"{0}\"")]
    NotFound(String),
    #[error("only an admin may add, change or remove relay profiles ({0} is not one)")]
    NotAdmin(String),
    #[error("the company CA file {path} has changed or is gone since the profile was saved ({reason}); open the profile, choose the CA file again and save it")]
    CaChanged { path: PathBuf, reason: String },
    #[error(transparent)]
    Access(Box<crate::operators::Error>),
    #[error(transparent)]
    Keychain(#[from] secrets::Error),
    #[error(transparent)]
    Audit(#[from] audit::Error),
    #[error("the relay profiles could not be read or written: {0}")]
    Sql(#[from] rusqlite::Error),
}

impl Error {
    fn invalid(field: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Invalid { .. } | Error::NameTaken(_) | Error::NotFound(_) => {
                ErrorCode::InvalidInput
            }
            Error::NotAdmin(_) => ErrorCode::Forbidden,
            Error::CaChanged { .. } => ErrorCode::Io,
            Error::Access(e) => e.code(),
            Error::Keychain(e) => e.code(),
            Error::Audit(e) => e.code(),
            Error::Sql(_) => ErrorCode::Database,
        }
    }

    /// The form field the error belongs to (`name`, `host`, `port`, ...), if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Invalid { field, .. } => Some(field),
            Error::NameTaken(_) => Some("name"),
            Error::CaChanged { .. } => Some("ca_file"),
            _ => None,
        }
    }
}

impl From<Error> for UserError {
    fn from(e: Error) -> UserError {
        UserError::new(e.code(), e.to_string())
    }
}

/// The validated settings of a profile, before they are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    name: String,
    provider: Provider,
    host: String,
    port: u16,
    security: Security,
    username: String,
    auth: AuthMethod,
    ca: Option<CaFile>,
    rate: RatePreset,
    outbound_ips: Vec<IpAddr>,
}

/// The outbound addresses typed into the form: IPv4 or IPv6, separated by commas,
/// semicolons or spaces; duplicates dropped.
fn parse_outbound_ips(raw: &str) -> Result<Vec<IpAddr>, Error> {
    let mut ips = Vec::new();
    for part in raw.split([',', ';', ' ', '\n', '\t']).map(str::trim) {
        if part.is_empty() {
            continue;
        }
        let ip: IpAddr = part.parse().map_err(|_| {
            Error::invalid(
                "outbound_ips",
                format!("\"{part}\" is not an IP address: list the addresses the relay sends from, e.g. 192.0.2.10, 2001:db8::10 (no networks, no host names)"),
            )
        })?;
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    if ips.len() > 64 {
        return Err(Error::invalid(
            "outbound_ips",
            "more than 64 outbound addresses: for a provider with many, leave this empty and let the SPF include cover them",
        ));
    }
    Ok(ips)
}

/// Checks a form without saving it: `Ok` or the first field that is wrong, in plain
/// words. The UI calls this as the user types; [`add`] and [`update`] call it too.
pub fn validate(input: &ProfileInput) -> Result<(), Error> {
    settings(input).map(|_| ())
}

fn settings(input: &ProfileInput) -> Result<Settings, Error> {
    let name = check_name(&input.name)?;
    let provider = Provider::parse(&input.provider)?;
    let preset = provider.preset();
    let host = match input.host.trim() {
        "" => preset
            .host
            .ok_or_else(|| {
                Error::invalid(
                    "host",
                    "enter the relay's host name, for example smtp.example.com",
                )
            })?
            .to_owned(),
        h => check_host(h)?,
    };
    let port = match input.port {
        None | Some(0) => preset.port.ok_or_else(|| {
            Error::invalid(
                "port",
                "enter the relay's port: 587 for STARTTLS or 465 for TLS",
            )
        })?,
        Some(p) => u16::try_from(p).map_err(|_| {
            Error::invalid(
                "port",
                format!(
                    "{p} is not a port: ports go from 1 to 65535 (587 for STARTTLS, 465 for TLS)"
                ),
            )
        })?,
    };
    let security = match input.security.trim() {
        "" => parse_security(
            preset
                .security
                .ok_or_else(|| Error::invalid("security", "choose how the connection is encrypted: STARTTLS (usually port 587) or TLS (usually port 465)"))?,
        )?,
        s => parse_security(s)?,
    };
    // RFC 8314: 465 is implicit TLS and 587 is STARTTLS. The other pairing never
    // connects, and the probe would only say "timed out", so say why here.
    match (port, security) {
        (465, Security::Starttls) => {
            return Err(Error::invalid("security", "port 465 expects TLS from the first byte: choose TLS, or use port 587 with STARTTLS"))
        }
        (587, Security::Tls) => {
            return Err(Error::invalid("security", "port 587 starts unencrypted and switches with STARTTLS: choose STARTTLS, or use port 465 with TLS"))
        }
        _ => {}
    }
    let username = input.username.trim();
    if username.is_empty() {
        return Err(Error::invalid(
            "username",
            "enter the user name the relay signs you in with (often your e-mail address)",
        ));
    }
    if username.chars().count() > 256 || username.chars().any(char::is_control) {
        return Err(Error::invalid("username", "the user name is longer than 256 characters or holds a line break or control character"));
    }
    let auth = AuthMethod::parse(&input.auth)?;
    let ca = match &input.ca_file {
        Some(p) if !p.as_os_str().is_empty() => Some(read_ca(p)?),
        _ => None,
    };
    let rate = match input.rate.trim() {
        "" => preset.rate,
        // The JSON spelling (`google_workspace`) is accepted as well as the CLI's.
        r => r
            .replace('_', "-")
            .parse::<RatePreset>()
            .map_err(|m| Error::invalid("rate", m))?,
    };
    let outbound_ips = parse_outbound_ips(&input.outbound_ips)?;
    Ok(Settings {
        name,
        provider,
        host,
        port,
        security,
        username: username.to_owned(),
        auth,
        ca,
        rate,
        outbound_ips,
    })
}

fn check_name(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Error::invalid(
            "name",
            "give the profile a name, for example \"Office 365\"",
        ));
    }
    if name.chars().count() > MAX_NAME {
        return Err(Error::invalid(
            "name",
            format!("the name is longer than {MAX_NAME} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "the name holds a line break or another control character",
        ));
    }
    Ok(name.to_owned())
}

/// A host name (RFC 1123 labels) or an IP address; the common mistakes get their own
/// sentence.
fn check_host(raw: &str) -> Result<String, Error> {
    let host = raw.trim().trim_end_matches('.');
    if host.contains("://") {
        return Err(Error::invalid("host", format!("\"{raw}\" is a web address: enter only the host name, for example smtp.example.com")));
    }
    if let Some(ip) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return ip
            .parse::<IpAddr>()
            .map(|ip| ip.to_string())
            .map_err(|_| Error::invalid("host", format!("\"{raw}\" is not an IP address")));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    if let Some((h, p)) = host.rsplit_once(':') {
        if !h.is_empty() && p.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::invalid(
                "host",
                format!("enter the port {p} in the port field and only {h} as the host"),
            ));
        }
    }
    if host.contains('@') {
        return Err(Error::invalid("host", format!("\"{raw}\" is an e-mail address: enter the relay's host name, for example smtp.example.com")));
    }
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !valid {
        return Err(Error::invalid(
            "host",
            format!("\"{raw}\" is not a host name: use letters, digits, dots and hyphens, for example smtp.example.com"),
        ));
    }
    Ok(host.to_ascii_lowercase())
}

fn parse_security(raw: &str) -> Result<Security, Error> {
    match raw.trim().to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
        "starttls" => Ok(Security::Starttls),
        "tls" | "ssl" | "ssltls" | "implicittls" => Ok(Security::Tls),
        "plain" | "none" | "off" | "insecure" | "unencrypted" => Err(Error::invalid(
            "security",
            "MergeGuard never sends without encryption: the password and every message would cross the network readable; choose STARTTLS or TLS",
        )),
        _ => Err(Error::invalid("security", format!("\"{raw}\" is not a security setting: choose starttls or tls"))),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads and checks a company CA file: readable, small, at least one PEM certificate
/// that rustls accepts as a trust anchor.
fn read_ca(path: &Path) -> Result<CaFile, Error> {
    let bad = |m: String| Error::invalid("ca_file", m);
    let abs = std::fs::canonicalize(path)
        .map_err(|e| bad(format!("cannot open the CA file {}: {e}", path.display())))?;
    let meta = std::fs::metadata(&abs)
        .map_err(|e| bad(format!("cannot read the CA file {}: {e}", abs.display())))?;
    if !meta.is_file() {
        return Err(bad(format!("{} is a folder, not a CA file", abs.display())));
    }
    if meta.len() > MAX_CA_BYTES {
        return Err(bad(format!(
            "{} is {} bytes; a CA certificate file is a few kilobytes",
            abs.display(),
            meta.len()
        )));
    }
    let bytes = std::fs::read(&abs)
        .map_err(|e| bad(format!("cannot read the CA file {}: {e}", abs.display())))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("{} is not a valid PEM file ({e})", abs.display())))?;
    if certs.is_empty() {
        return Err(bad(format!(
            "{} holds no certificate (a PEM file starting with -----BEGIN CERTIFICATE-----)",
            abs.display()
        )));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| {
            bad(format!(
                "a certificate in {} cannot be used: {e}",
                abs.display()
            ))
        })?;
    }
    Ok(CaFile {
        path: abs,
        sha256: sha256_hex(&bytes),
    })
}

/// Proves the CA file is the one the profile was saved with.
fn verify_ca(ca: &CaFile) -> Result<(), Error> {
    let changed = |reason: String| Error::CaChanged {
        path: ca.path.clone(),
        reason,
    };
    let bytes = std::fs::read(&ca.path).map_err(|e| changed(e.to_string()))?;
    if sha256_hex(&bytes) != ca.sha256 {
        return Err(changed("its content is different".into()));
    }
    Ok(())
}

// Credentials are an admin's business: checked here, against the operator's sealed
// record in the store (not the session alone), so no front end can skip it.
fn require_admin(store: &Store, by: &Session, now: OffsetDateTime) -> Result<(), Error> {
    match crate::operators::authorize(store, by, Role::Admin, now) {
        Ok(_) => Ok(()),
        Err(crate::operators::Error::MissingRole { .. } | crate::operators::Error::Disabled(_)) => {
            Err(Error::NotAdmin(by.operator().to_owned()))
        }
        Err(e) => Err(Error::Access(Box::new(e))),
    }
}

/// The keychain account of a profile's password: `(host:port, user)`, the same one a
/// campaign's `[relay]` section with these values uses
/// ([`crate::preflight::campaign::relay_profile`]).
pub fn keychain_account(profile: &Profile) -> (String, String) {
    (
        format!("{}:{}", profile.host, profile.port),
        profile.username.clone(),
    )
}

/// The password stored for the profile: `Ok(None)` when none is stored.
pub fn stored_password(profile: &Profile) -> Result<Option<Secret>, secrets::Error> {
    let (relay, user) = keychain_account(profile);
    match secrets::relay_password(&relay, &user) {
        Ok(p) => Ok(Some(p)),
        Err(secrets::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

const COLUMNS: &str =
    "name, provider, host, port, security, username, auth, ca_path, ca_sha256, rate_preset, updated_at, updated_by, outbound_ips";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Profile> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown {what}").into(),
        )
    };
    let provider = Provider::parse(&text(1)?).map_err(|_| bad(1, "provider"))?;
    let security = match text(4)?.as_str() {
        "starttls" => Security::Starttls,
        "tls" => Security::Tls,
        _ => return Err(bad(4, "security")),
    };
    let auth = match text(6)?.as_str() {
        "password" => AuthMethod::Password,
        "oauth2" => AuthMethod::OAuth2,
        _ => return Err(bad(6, "sign-in method")),
    };
    let ca_path: Option<String> = r.get(7)?;
    let ca_sha256: Option<String> = r.get(8)?;
    let ca = match (ca_path, ca_sha256) {
        (Some(path), Some(sha256)) => Some(CaFile {
            path: PathBuf::from(path),
            sha256,
        }),
        _ => None,
    };
    let rate = text(9)?
        .parse::<RatePreset>()
        .map_err(|_| bad(9, "rate preset"))?;
    let outbound_ips: Option<String> = r.get(12)?;
    let outbound_ips = parse_outbound_ips(outbound_ips.as_deref().unwrap_or(""))
        .map_err(|_| bad(12, "outbound address"))?;
    Ok(Profile {
        name: text(0)?,
        provider,
        host: text(2)?,
        port: r.get(3)?,
        security,
        username: text(5)?,
        auth,
        ca,
        rate,
        outbound_ips,
        updated_at: text(10)?,
        updated_by: text(11)?,
    })
}

/// The name `RatePreset`'s `FromStr` reads back.
fn rate_name(rate: RatePreset) -> &'static str {
    match rate {
        RatePreset::GoogleWorkspace => "google-workspace",
        RatePreset::Microsoft365 => "microsoft365",
        RatePreset::Generic => "generic",
    }
}

/// Every profile, by name.
pub fn list(store: &Store) -> Result<Vec<Profile>, Error> {
    let conn = store.read();
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM relay_profiles ORDER BY name COLLATE NOCASE"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The profile with this name (case does not matter).
pub fn get(store: &Store, name: &str) -> Result<Profile, Error> {
    store
        .read()
        .query_row(
            &format!("SELECT {COLUMNS} FROM relay_profiles WHERE name = ?1"),
            [name.trim()],
            from_row,
        )
        .optional()?
        .ok_or_else(|| Error::NotFound(name.trim().to_owned()))
}

/// The log entry's details: every setting, and whether this change wrote a password to
/// the keychain — never the password.
fn log_details(p: &Profile, action: &str, password_saved: bool) -> serde_json::Value {
    json!({
        "profile": p.name,
        "action": action,
        "provider": p.provider.as_str(),
        "host": p.host,
        "port": p.port,
        "security": security_str(p.security),
        "username": p.username,
        "auth": p.auth.as_str(),
        "ca_sha256": p.ca.as_ref().map(|c| c.sha256.clone()),
        "rate": rate_name(p.rate),
        "outbound_ips": p.outbound_ips.iter().map(|ip| ip.to_string()).collect::<Vec<_>>(),
        "password_saved": password_saved,
    })
}

fn profile_of(s: Settings, by: &Session, now: OffsetDateTime) -> Result<Profile, Error> {
    Ok(Profile {
        name: s.name,
        provider: s.provider,
        host: s.host,
        port: s.port,
        security: s.security,
        username: s.username,
        auth: s.auth,
        ca: s.ca,
        rate: s.rate,
        outbound_ips: s.outbound_ips,
        updated_at: audit::format_time(now)?,
        updated_by: by.operator().to_owned(),
    })
}

/// Columns a profile's form does not set (the mailbox, the OAuth2 sign-in): an update
/// keeps them.
const KEPT_COLUMNS: &str = "imap_host, imap_port, imap_security, imap_folder, oauth_provider, \
     oauth_client_id, oauth_tenant, oauth_authority, oauth_scopes";

fn write_row(
    tx: &rusqlite::Transaction<'_>,
    p: &Profile,
    created_at: &str,
) -> rusqlite::Result<usize> {
    tx.execute(
        &format!("INSERT INTO relay_profiles ({COLUMNS}, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
        rusqlite::params![
            p.name,
            p.provider.as_str(),
            p.host,
            p.port,
            security_str(p.security),
            p.username,
            p.auth.as_str(),
            p.ca.as_ref().map(|c| c.path.to_string_lossy().into_owned()),
            p.ca.as_ref().map(|c| c.sha256.clone()),
            rate_name(p.rate),
            p.updated_at,
            p.updated_by,
            (!p.outbound_ips.is_empty()).then(|| {
                p.outbound_ips.iter().map(|ip| ip.to_string()).collect::<Vec<_>>().join(",")
            }),
            created_at,
        ],
    )
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// Adds a profile (admin only). `password`, when given, goes to the OS keychain first;
/// if the keychain refuses, nothing is saved. The change is logged without the password.
pub fn add(
    store: &Store,
    by: &Session,
    input: &ProfileInput,
    password: Option<&Secret>,
    now: OffsetDateTime,
) -> Result<Profile, Error> {
    require_admin(store, by, now)?;
    let profile = profile_of(settings(input)?, by, now)?;
    if get(store, &profile.name).is_ok() {
        return Err(Error::NameTaken(profile.name));
    }
    if let Some(pw) = password {
        check_password(pw)?;
        let (relay, user) = keychain_account(&profile);
        secrets::save_relay_password(store, by, &relay, &user, pw, now)?;
    }
    let details = log_details(&profile, "added", password.is_some());
    store.transaction(|tx| {
        write_row(tx, &profile, &profile.updated_at).map_err(|e| {
            if is_unique_violation(&e) {
                Error::NameTaken(profile.name.clone())
            } else {
                Error::Sql(e)
            }
        })?;
        audit::append_in(
            tx,
            now,
            by.operator(),
            Kind::RelayProfileSaved,
            None,
            &details,
        )?;
        Ok::<_, Error>(())
    })?;
    Ok(profile)
}

fn check_password(pw: &Secret) -> Result<(), Error> {
    if pw.expose().is_empty() {
        return Err(Error::invalid("password", "the password is empty"));
    }
    if pw
        .expose()
        .chars()
        .any(|c| c == '\r' || c == '\n' || c == '\0')
    {
        return Err(Error::invalid(
            "password",
            "the password holds a line break or a NUL character, which SMTP cannot carry",
        ));
    }
    Ok(())
}

/// Changes the profile named `name` to `input` (which may rename it). `password`
/// replaces the stored one; without it, the stored password follows the profile when
/// its host, port or user name change.
pub fn update(
    store: &Store,
    by: &Session,
    name: &str,
    input: &ProfileInput,
    password: Option<&Secret>,
    now: OffsetDateTime,
) -> Result<Profile, Error> {
    require_admin(store, by, now)?;
    let old = get(store, name)?;
    let profile = profile_of(settings(input)?, by, now)?;
    if !profile.name.eq_ignore_ascii_case(&old.name) && get(store, &profile.name).is_ok() {
        return Err(Error::NameTaken(profile.name));
    }
    let (old_relay, old_user) = keychain_account(&old);
    let (relay, user) = keychain_account(&profile);
    let moved = (old_relay.as_str(), old_user.as_str()) != (relay.as_str(), user.as_str());
    let carried = match password {
        Some(pw) => {
            check_password(pw)?;
            Some(pw.clone())
        }
        None if moved => stored_password(&old)?,
        None => None,
    };
    if let Some(pw) = &carried {
        secrets::save_relay_password(store, by, &relay, &user, pw, now)?;
    }
    let created_at: String = store.read().query_row(
        "SELECT created_at FROM relay_profiles WHERE name = ?1",
        [&old.name],
        |r| r.get(0),
    )?;
    // The form does not carry the mailbox or the OAuth2 sign-in (set on their own): they,
    // and an OAuth2 profile's sign-in method, stay as they were.
    let mut profile = profile;
    if old.auth == AuthMethod::OAuth2 {
        profile.auth = AuthMethod::OAuth2;
    }
    let details = log_details(&profile, "changed", carried.is_some());
    store.transaction(|tx| {
        let kept: Vec<rusqlite::types::Value> = tx.query_row(
            &format!("SELECT {KEPT_COLUMNS} FROM relay_profiles WHERE name = ?1"),
            [&old.name],
            |r| {
                (0..KEPT_COLUMNS.split(',').count())
                    .map(|i| r.get(i))
                    .collect()
            },
        )?;
        tx.execute("DELETE FROM relay_profiles WHERE name = ?1", [&old.name])?;
        write_row(tx, &profile, &created_at)?;
        let sets: Vec<String> = KEPT_COLUMNS
            .split(',')
            .enumerate()
            .map(|(i, c)| format!("{} = ?{}", c.trim(), i + 2))
            .collect();
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![&profile.name];
        params.extend(kept.iter().map(|v| v as &dyn rusqlite::ToSql));
        tx.execute(
            &format!(
                "UPDATE relay_profiles SET {} WHERE name = ?1",
                sets.join(", ")
            ),
            params.as_slice(),
        )?;
        audit::append_in(
            tx,
            now,
            by.operator(),
            Kind::RelayProfileSaved,
            None,
            &details,
        )?;
        Ok::<_, Error>(())
    })?;
    if moved {
        forget_unused_password(store, by, &old_relay, &old_user, now)?;
    }
    Ok(profile)
}

/// Removes a profile (admin only) and, when no other profile signs in to the same relay
/// as the same user, its password in the keychain.
pub fn remove(store: &Store, by: &Session, name: &str, now: OffsetDateTime) -> Result<(), Error> {
    require_admin(store, by, now)?;
    let profile = get(store, name)?;
    let details = json!({"profile": profile.name, "action": "removed", "host": profile.host, "port": profile.port, "username": profile.username});
    store.transaction(|tx| {
        tx.execute(
            "DELETE FROM relay_profiles WHERE name = ?1",
            [&profile.name],
        )?;
        audit::append_in(
            tx,
            now,
            by.operator(),
            Kind::RelayProfileRemoved,
            None,
            &details,
        )?;
        Ok::<_, Error>(())
    })?;
    let (relay, user) = keychain_account(&profile);
    forget_unused_password(store, by, &relay, &user, now)
}

/// Deletes the keychain password of `(relay, user)` unless a profile still uses it.
fn forget_unused_password(
    store: &Store,
    by: &Session,
    relay: &str,
    user: &str,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let still_used = list(store)?.iter().any(|p| {
        let (r, u) = keychain_account(p);
        r == relay && u == user
    });
    if still_used {
        return Ok(());
    }
    match secrets::relay_password(relay, user) {
        Ok(_) => Ok(secrets::forget_relay_password(store, by, relay, user, now)?),
        Err(secrets::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The `[relay]` section this profile stands for, so a campaign that names the profile
/// loads exactly as if the section were written out (the password is found under the
/// same keychain account). Refuses a CA file that changed since the profile was saved.
pub fn to_relay(profile: &Profile) -> Result<Relay, Error> {
    if let Some(ca) = &profile.ca {
        verify_ca(ca)?;
    }
    Ok(Relay {
        host: profile.host.clone(),
        port: profile.port,
        security: profile.security,
        username: profile.username.clone(),
        ca: profile.ca.as_ref().map(|c| c.path.clone()),
        outbound_ips: profile.outbound_ips.clone(),
        spf_include: profile.provider.preset().spf_include.map(str::to_owned),
    })
}

/// What the approval fingerprint covers of this profile: host, port, security, user
/// name and the CA file's hash (the CA file's content, not its path).
pub fn fingerprint_input(profile: &Profile) -> crate::approval::RelayInput {
    crate::approval::RelayInput {
        host: profile.host.clone(),
        port: profile.port,
        security: security_str(profile.security).to_owned(),
        username: profile.username.clone(),
        ca_sha256: profile.ca.as_ref().map(|c| c.sha256.clone()),
    }
}

/// The outcome of "Test connection", as a stable code the UI translates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    /// Encrypted, certificate trusted, signed in.
    Ok,
    /// No connection: wrong host or port, firewall, nothing listening, no greeting.
    CannotConnect,
    /// The relay's certificate is not trusted (unknown authority, self-signed, expired,
    /// wrong host), or the company CA file cannot be used.
    CertificateNotTrusted,
    /// The relay does not offer STARTTLS, so nothing may be sent to it.
    StarttlsMissing,
    /// TLS did not come up for another reason (an old TLS version, implicit TLS on a
    /// STARTTLS port, a broken STARTTLS).
    TlsFailed,
    /// The relay offers no way to sign in after TLS.
    AuthNotOffered,
    /// The relay refused the user name or password.
    LoginRefused,
    /// No password is stored in the keychain for this profile.
    NoPassword,
    /// The keychain is locked or missing, so the password could not be read.
    KeychainUnavailable,
    /// The company CA file changed since the profile was saved.
    CaFileChanged,
}

impl TestOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TestOutcome::Ok => "ok",
            TestOutcome::CannotConnect => "cannot_connect",
            TestOutcome::CertificateNotTrusted => "certificate_not_trusted",
            TestOutcome::StarttlsMissing => "starttls_missing",
            TestOutcome::TlsFailed => "tls_failed",
            TestOutcome::AuthNotOffered => "auth_not_offered",
            TestOutcome::LoginRefused => "login_refused",
            TestOutcome::NoPassword => "no_password",
            TestOutcome::KeychainUnavailable => "keychain_unavailable",
            TestOutcome::CaFileChanged => "ca_file_changed",
        }
    }
}

/// The result of "Test connection": a code, one plain sentence of what happened, what
/// to do about it, and the probe's checks for whoever wants the detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionTest {
    pub profile: String,
    pub outcome: TestOutcome,
    pub message: String,
    pub fix: String,
    pub tls_version: Option<String>,
    pub checks: Vec<Check>,
}

impl ConnectionTest {
    pub fn is_ok(&self) -> bool {
        self.outcome == TestOutcome::Ok
    }
}

/// "Test connection": probes the relay with the password stored in the keychain —
/// TLS with full certificate validation, then the login, never a message.
pub async fn test_connection(profile: &Profile, now: SystemTime) -> ConnectionTest {
    test_connection_with(profile, stored_password(profile), now, TEST_TIMEOUT).await
}

/// [`test_connection`] with the keychain's answer and the step timeout given, for
/// callers that already read the password (and for tests).
pub async fn test_connection_with(
    profile: &Profile,
    password: Result<Option<Secret>, secrets::Error>,
    now: SystemTime,
    timeout: Duration,
) -> ConnectionTest {
    let done =
        |outcome: TestOutcome, message: String, fix: &str, checks: Vec<Check>| ConnectionTest {
            profile: profile.name.clone(),
            outcome,
            message,
            fix: fix.to_owned(),
            tls_version: None,
            checks,
        };
    let password = match password {
        Ok(p) => p,
        Err(e) => {
            return done(
                TestOutcome::KeychainUnavailable,
                format!("The password could not be read: {e}."),
                "Unlock the system keychain (or start it) and test again.",
                Vec::new(),
            )
        }
    };
    let relay = match to_relay(profile) {
        Ok(r) => r,
        Err(e) => {
            return done(
                TestOutcome::CaFileChanged,
                format!("{}.", capitalise(&e.to_string())),
                "Choose the company CA file again in the profile and save it.",
                Vec::new(),
            )
        }
    };
    let had_password = password.is_some();
    let probe = RelayProbe {
        host: relay.host,
        port: relay.port,
        security: relay.security,
        ca: relay.ca,
        credentials: password.map(|p| (relay.username, p)),
        timeout,
    };
    let report = probe_relay(&probe, now).await;
    let (outcome, message, fix) = match report.checks.iter().find(|c| c.status == Status::Fail) {
        None => (
            TestOutcome::Ok,
            format!(
                "Connected to {}:{} with {}, the certificate is trusted, and {} signed in.",
                profile.host,
                profile.port,
                report.tls_version.as_deref().unwrap_or("TLS"),
                profile.username
            ),
            String::new(),
        ),
        Some(c) => (
            outcome_of(c, profile.security, had_password),
            format!("{}.", capitalise(&c.detail)),
            c.fix.clone(),
        ),
    };
    ConnectionTest {
        profile: profile.name.clone(),
        outcome,
        message,
        fix,
        tls_version: report.tls_version.clone(),
        checks: report.checks,
    }
}

/// Which outcome a failed probe check means.
fn outcome_of(check: &Check, security: Security, had_password: bool) -> TestOutcome {
    match check.id.as_str() {
        ids::CONNECT => TestOutcome::CannotConnect,
        ids::CERTIFICATE => TestOutcome::CertificateNotTrusted,
        // The probe reports a missing STARTTLS and a STARTTLS that broke under the same
        // id; only the first means the relay cannot be used encrypted at all.
        ids::STARTTLS
            if security == Security::Starttls
                && check.detail.contains("does not offer STARTTLS") =>
        {
            TestOutcome::StarttlsMissing
        }
        ids::AUTH_AFTER_TLS => TestOutcome::AuthNotOffered,
        ids::LOGIN if !had_password => TestOutcome::NoPassword,
        ids::LOGIN => TestOutcome::LoginRefused,
        _ => TestOutcome::TlsFailed,
    }
}

fn capitalise(s: &str) -> String {
    let s = s.trim_end_matches('.');
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, provider: &str) -> ProfileInput {
        ProfileInput {
            name: name.into(),
            provider: provider.into(),
            username: "me@shop.test".into(),
            ..Default::default()
        }
    }

    #[test]
    fn outbound_addresses_are_parsed_and_a_provider_names_its_spf_include() {
        let mut i = input("G", "google");
        i.outbound_ips = "192.0.2.1, 2001:db8::1 192.0.2.1".into();
        let s = settings(&i).unwrap();
        assert_eq!(s.outbound_ips.len(), 2, "duplicates dropped");
        i.outbound_ips = "192.0.2.0/24".into();
        let e = settings(&i).unwrap_err();
        assert_eq!(e.field(), Some("outbound_ips"));
        assert!(e.to_string().contains("not an IP address"), "{e}");
        let profile = Profile {
            name: "G".into(),
            provider: Provider::Google,
            host: "smtp.gmail.com".into(),
            port: 587,
            security: Security::Starttls,
            username: "me@shop.test".into(),
            auth: AuthMethod::Password,
            ca: None,
            rate: RatePreset::GoogleWorkspace,
            outbound_ips: vec![],
            updated_at: String::new(),
            updated_by: String::new(),
        };
        let relay = to_relay(&profile).unwrap();
        assert_eq!(relay.spf_include.as_deref(), Some("_spf.google.com"));
        assert!(relay.outbound_ips.is_empty());
    }

    #[test]
    fn presets_fill_the_known_values() {
        let s = settings(&input("Office", "microsoft365")).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("smtp.office365.com", 587, Security::Starttls)
        );
        assert_eq!(s.rate, RatePreset::Microsoft365);
        assert_eq!(s.rate.limit().per_minute, Some(30));
        let s = settings(&input("G", "google")).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.rate),
            ("smtp.gmail.com", 587, RatePreset::GoogleWorkspace)
        );
        // "other" fills nothing: the host is required.
        let e = settings(&input("X", "other")).unwrap_err();
        assert_eq!(e.field(), Some("host"));
        assert_eq!(presets().len(), 3);
    }

    #[test]
    fn typed_values_override_a_preset() {
        let mut i = input("Office", "microsoft365");
        i.host = "smtp-legacy.office365.com".into();
        i.rate = "generic".into();
        let s = settings(&i).unwrap();
        assert_eq!(s.host, "smtp-legacy.office365.com");
        assert_eq!(s.rate, RatePreset::Generic);
    }

    #[test]
    fn bad_fields_are_named_in_plain_words() {
        let base = || {
            let mut i = input("Relay", "other");
            i.host = "mail.shop.test".into();
            i.port = Some(587);
            i.security = "starttls".into();
            i
        };
        assert!(settings(&base()).is_ok());
        // (change to a good form, the field blamed, words the message must hold)
        type Case = (Box<dyn Fn(&mut ProfileInput)>, &'static str, &'static str);
        let cases: Vec<Case> = vec![
            (
                Box::new(|i| i.name = "  ".into()),
                "name",
                "give the profile a name",
            ),
            (
                Box::new(|i| i.name = "x".repeat(65)),
                "name",
                "longer than 64",
            ),
            (
                Box::new(|i| i.name = "a\nb".into()),
                "name",
                "control character",
            ),
            (
                Box::new(|i| i.host = "smtp://mail.shop.test".into()),
                "host",
                "web address",
            ),
            (
                Box::new(|i| i.host = "mail.shop.test:587".into()),
                "host",
                "in the port field",
            ),
            (
                Box::new(|i| i.host = "me@shop.test".into()),
                "host",
                "e-mail address",
            ),
            (
                Box::new(|i| i.host = "mail_shop.test".into()),
                "host",
                "not a host name",
            ),
            (
                Box::new(|i| i.host = "-x.test".into()),
                "host",
                "not a host name",
            ),
            (
                Box::new(|i| i.port = Some(70000)),
                "port",
                "from 1 to 65535",
            ),
            (
                Box::new(|i| i.security = "plain".into()),
                "security",
                "never sends without encryption",
            ),
            (
                Box::new(|i| i.security = "none".into()),
                "security",
                "never sends without encryption",
            ),
            (
                Box::new(|i| i.security = "ssl3".into()),
                "security",
                "not a security setting",
            ),
            (
                Box::new(|i| {
                    i.port = Some(465);
                }),
                "security",
                "port 465 expects TLS",
            ),
            (
                Box::new(|i| {
                    i.security = "tls".into();
                }),
                "security",
                "port 587 starts unencrypted",
            ),
            (
                Box::new(|i| i.username = "".into()),
                "username",
                "user name",
            ),
            (
                Box::new(|i| i.auth = "oauth2".into()),
                "auth",
                "not available yet",
            ),
            (
                Box::new(|i| i.auth = "kerberos".into()),
                "auth",
                "not a sign-in method",
            ),
            (
                Box::new(|i| i.rate = "fast".into()),
                "rate",
                "unknown rate preset",
            ),
            (
                Box::new(|i| i.provider = "yahoo".into()),
                "provider",
                "not a known preset",
            ),
            (
                Box::new(|i| i.ca_file = Some("/nonexistent/ca.pem".into())),
                "ca_file",
                "cannot open the CA file",
            ),
        ];
        for (change, field, words) in cases {
            let mut i = base();
            change(&mut i);
            let e = settings(&i).unwrap_err();
            assert_eq!(e.field(), Some(field), "{e}");
            assert!(e.to_string().contains(words), "{e}");
            assert_eq!(e.code(), ErrorCode::InvalidInput);
        }
    }

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(check_host("SMTP.Example.COM.").unwrap(), "smtp.example.com");
        assert_eq!(check_host("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(check_host("[::1]").unwrap(), "::1");
    }

    #[test]
    fn a_ca_file_without_a_certificate_or_changed_later_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.txt");
        std::fs::write(&not_pem, "hello\n").unwrap();
        let e = read_ca(&not_pem).unwrap_err();
        assert!(e.to_string().contains("holds no certificate"), "{e}");
        let e = read_ca(dir.path()).unwrap_err();
        assert!(e.to_string().contains("is a folder"), "{e}");
        let ca = CaFile {
            path: not_pem.clone(),
            sha256: sha256_hex(b"something else"),
        };
        let e = verify_ca(&ca).unwrap_err();
        assert!(matches!(e, Error::CaChanged { .. }), "{e}");
        assert_eq!(e.field(), Some("ca_file"));
    }

    #[test]
    fn outcomes_have_stable_names() {
        let names: Vec<_> = [
            TestOutcome::Ok,
            TestOutcome::CannotConnect,
            TestOutcome::CertificateNotTrusted,
            TestOutcome::StarttlsMissing,
            TestOutcome::TlsFailed,
            TestOutcome::AuthNotOffered,
            TestOutcome::LoginRefused,
            TestOutcome::NoPassword,
            TestOutcome::KeychainUnavailable,
            TestOutcome::CaFileChanged,
        ]
        .iter()
        .map(|o| {
            assert_eq!(
                serde_json::to_value(o).unwrap(),
                serde_json::Value::from(o.as_str())
            );
            o.as_str()
        })
        .collect();
        assert_eq!(names.len(), 10);
    }
}
