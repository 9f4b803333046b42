//! OAuth2 sign-in for relay profiles (Microsoft 365, Google, or any standard server):
//! the device-authorization grant (RFC 8628), the authorization-code grant with PKCE
//! (RFC 7636) on a loopback redirect (RFC 8252 §7.3), refresh, and revocation, all done
//! by the `oauth2` crate over a reqwest client that trusts exactly `trust::Trust` and
//! follows no redirect. The result is an access token for SASL XOAUTH2 (SMTP through
//! lettre, IMAP through async-imap).
//!
//! Which flow: Google refuses the Gmail scope in the device flow, so Google signs in in
//! the browser ([`Provider::flows`]); Microsoft 365 uses the device flow by default and
//! may use either; a generic server either.
//!
//! The browser flow's listener (see [`start_browser_sign_in`]) binds 127.0.0.1 on a
//! port the system picks, answers only `GET /callback` with the `state` it sent, reads
//! at most [`CALLBACK_HEAD_LIMIT`] bytes per request within [`CALLBACK_READ_TIME`], and
//! closes after the one matching callback or [`BROWSER_WAIT`].
//!
//! **Invariants:** the refresh token lives only in the OS keychain (service
//! [`KEYCHAIN_SERVICE`], one entry per profile and user) and is replaced by the new one
//! at every refresh (servers rotate it; reusing an old one can revoke the grant, so one
//! profile refreshes once at a time); a client secret (Google desktop clients have one)
//! lives only in the keychain too (service [`CLIENT_SECRET_SERVICE`]); an access token
//! lives only in this process's memory and is refreshed when less than
//! [`REFRESH_MARGIN`] of it is left (half its life for a token shorter than twice
//! that). None of them, nor an authorization code or PKCE verifier, reaches the log, the
//! database, an error message or the UI. Expired or revoked consent is one error,
//! [`Error::SignInAgain`] (code `sign_in_required`), raised before anything is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RevocationUrl, Scope,
    StandardDeviceAuthorizationResponse, StandardRevocableToken, TokenResponse, TokenUrl,
};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::audit::{self, Kind};
use crate::error::{ErrorCode, Reason, UserError};
use crate::operators::{Role, Session};
use crate::profiles::Profile;
use crate::secrets::Secret;
use crate::store::Store;
use crate::trust::Trust;

/// The keychain service of refresh tokens; the account is `profile name:user`.
pub const KEYCHAIN_SERVICE: &str = "MergeGuard OAuth2";
/// The keychain service of client secrets (Google desktop clients); the account is the
/// same as the refresh token's.
pub const CLIENT_SECRET_SERVICE: &str = "MergeGuard OAuth2 client secret";
/// An access token with less than this left is refreshed before use (or with less than
/// half its life left, for a token that lives under twice this).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(120);
/// How long a browser sign-in waits for the person.
pub const BROWSER_WAIT: Duration = Duration::from_secs(300);
/// The most the loopback listener reads of one request (request line and headers).
pub const CALLBACK_HEAD_LIMIT: usize = 8 * 1024;
/// How long the loopback listener waits for one request's head, and for its answer to
/// be taken.
pub const CALLBACK_READ_TIME: Duration = Duration::from_secs(10);
/// Connections the loopback listener serves at once (browsers open spare ones).
const CALLBACK_CONNECTIONS: usize = 16;

/// Which authorization server a profile signs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Microsoft365,
    Google,
    /// Any server with RFC 8628 and RFC 8414/OIDC endpoints under one issuer URL.
    Generic,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Microsoft365 => "microsoft365",
            Provider::Google => "google",
            Provider::Generic => "generic",
        }
    }

    fn parse(s: &str) -> Option<Provider> {
        match s.trim().to_ascii_lowercase().as_str() {
            "microsoft365" | "microsoft" | "m365" => Some(Provider::Microsoft365),
            "google" => Some(Provider::Google),
            "generic" | "other" => Some(Provider::Generic),
            _ => None,
        }
    }

    /// The sign-in flows the provider allows, the usual one first: Google only the
    /// browser (it refuses the Gmail scope in the device flow), Microsoft 365 the device
    /// code and the browser, a generic server the browser and the device code.
    pub fn flows(self) -> &'static [Flow] {
        match self {
            Provider::Microsoft365 => &[Flow::Device, Flow::Browser],
            Provider::Google => &[Flow::Browser],
            Provider::Generic => &[Flow::Browser, Flow::Device],
        }
    }
}

/// How a person signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// A code typed on the provider's page (RFC 8628).
    Device,
    /// The provider's page opened in the browser, which comes back to MergeGuard on
    /// 127.0.0.1 (RFC 8252 §7.3, with PKCE).
    Browser,
}

impl Flow {
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Device => "device",
            Flow::Browser => "browser",
        }
    }
}

/// A profile's OAuth2 settings, entered by an admin. A client secret, where the
/// provider gives one, is kept in the keychain, not here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthSettings {
    pub provider: Provider,
    /// The application (client) ID registered with the provider.
    pub client_id: String,
    /// Microsoft Entra tenant (ID or domain); `organizations` when not given.
    pub tenant: Option<String>,
    /// Generic only: the issuer URL (https); endpoints are `{issuer}/device/auth`,
    /// `{issuer}/auth`, `{issuer}/token`, `{issuer}/token/revocation`.
    pub issuer: Option<String>,
    /// Space-separated scopes; the preset's when empty.
    pub scopes: Option<String>,
}

/// The endpoints and scopes one sign-in uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    pub device: String,
    /// The authorization endpoint of the browser flow.
    pub authorize: String,
    /// Parameters the authorization request adds (Google: `access_type=offline` and
    /// `prompt=consent`, without which no refresh token comes back).
    pub authorize_params: Vec<(String, String)>,
    pub token: String,
    pub revocation: Option<String>,
    pub scopes: Vec<String>,
}

impl OAuthSettings {
    /// The preset's endpoints (Microsoft: v2.0 endpoints of the tenant, scopes for SMTP
    /// and IMAP; Google: its device and token endpoints, scope `https://mail.google.com/`).
    pub fn endpoints(&self) -> Endpoints {
        let scopes = |preset: &[&str]| -> Vec<String> {
            match self
                .scopes
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                Some(s) => s.split_whitespace().map(str::to_owned).collect(),
                None => preset.iter().map(|s| (*s).to_owned()).collect(),
            }
        };
        match self.provider {
            Provider::Microsoft365 => {
                let t = self.tenant.as_deref().unwrap_or("organizations");
                Endpoints {
                    device: format!("https://login.microsoftonline.com/{t}/oauth2/v2.0/devicecode"),
                    authorize: format!(
                        "https://login.microsoftonline.com/{t}/oauth2/v2.0/authorize"
                    ),
                    authorize_params: Vec::new(),
                    token: format!("https://login.microsoftonline.com/{t}/oauth2/v2.0/token"),
                    revocation: None,
                    scopes: scopes(&[
                        "offline_access",
                        "https://outlook.office.com/SMTP.Send",
                        "https://outlook.office.com/IMAP.AccessAsUser.All",
                    ]),
                }
            }
            Provider::Google => Endpoints {
                device: "https://oauth2.googleapis.com/device/code".into(),
                authorize: "https://accounts.google.com/o/oauth2/v2/auth".into(),
                authorize_params: vec![
                    ("access_type".into(), "offline".into()),
                    ("prompt".into(), "consent".into()),
                ],
                token: "https://oauth2.googleapis.com/token".into(),
                revocation: Some("https://oauth2.googleapis.com/revoke".into()),
                scopes: scopes(&["https://mail.google.com/"]),
            },
            Provider::Generic => {
                let i = self
                    .issuer
                    .as_deref()
                    .unwrap_or_default()
                    .trim_end_matches('/');
                Endpoints {
                    device: format!("{i}/device/auth"),
                    authorize: format!("{i}/auth"),
                    // oidc-provider (and OpenID Connect servers generally) grant
                    // offline_access only with prompt=consent.
                    authorize_params: vec![("prompt".into(), "consent".into())],
                    token: format!("{i}/token"),
                    revocation: Some(format!("{i}/token/revocation")),
                    scopes: scopes(&["offline_access"]),
                }
            }
        }
    }
}

/// What an admin types.
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct OAuthInput {
    pub provider: String,
    pub client_id: String,
    pub tenant: String,
    pub issuer: String,
    pub scopes: String,
    /// Google desktop clients (and some servers): the client secret, kept in the
    /// keychain. Empty: keep the one stored for the same provider and client ID.
    pub client_secret: String,
}

impl std::fmt::Debug for OAuthInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthInput")
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("tenant", &self.tenant)
            .field("issuer", &self.issuer)
            .field("scopes", &self.scopes)
            .field(
                "client_secret",
                &(!self.client_secret.is_empty()).then_some("<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The refresh token is missing, expired or revoked: the person signs in again.
    #[error(
        "the sign-in for the relay profile \"{0}\" has expired or was withdrawn: sign in again"
    )]
    SignInAgain(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the sign-in server could not be reached: {0}")]
    Unreachable(String),
    #[error("the sign-in was refused: {0}")]
    Refused(String),
    /// The person (or their admin's policy) said no on the provider's page.
    #[error("the sign-in was declined in the browser")]
    Declined,
    /// Nobody finished the sign-in in the browser in time.
    #[error("the sign-in took too long: start again")]
    TooLong,
    #[error("{0}")]
    Other(UserError),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::SignInAgain(_) => ErrorCode::SignInRequired,
            Error::Invalid(_) => ErrorCode::InvalidInput,
            Error::Unreachable(_) => ErrorCode::CheckFailed,
            Error::Refused(_) | Error::Declined | Error::TooLong => ErrorCode::AuthFailed,
            Error::Other(e) => e.code,
        }
    }

    /// The reason the window words in the person's language, where there is one.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Error::Declined => Some(Reason::new("sign_in_declined")),
            Error::TooLong => Some(Reason::new("sign_in_too_long")),
            Error::Other(e) => e.reason.clone(),
            _ => None,
        }
    }
}

impl From<Error> for UserError {
    fn from(e: Error) -> Self {
        UserError::new(e.code(), e.to_string()).with_reason(e.reason())
    }
}

fn db(e: rusqlite::Error) -> Error {
    Error::Other(UserError::from(e))
}

/// The profile's OAuth2 settings; `None` when it signs in with a password.
pub fn settings(store: &Store, profile: &str) -> Result<Option<OAuthSettings>, Error> {
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = store
        .read()
        .query_row(
            "SELECT auth, oauth_provider, oauth_client_id, oauth_tenant, oauth_authority, oauth_scopes
             FROM relay_profiles WHERE name = ?1",
            [profile],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()
        .map_err(db)?;
    let Some((auth, provider, client_id, tenant, issuer, scopes)) = row else {
        return Err(Error::Invalid(format!(
            "there is no relay profile \"{profile}\""
        )));
    };
    if auth != "oauth2" {
        return Ok(None);
    }
    let provider = provider.as_deref().and_then(Provider::parse);
    match (provider, client_id) {
        (Some(provider), Some(client_id)) => Ok(Some(OAuthSettings {
            provider,
            client_id,
            tenant,
            issuer,
            scopes,
        })),
        _ => Err(Error::Invalid(format!(
            "the relay profile \"{profile}\" signs in with OAuth2 but its settings are incomplete"
        ))),
    }
}

fn validate(input: &OAuthInput) -> Result<OAuthSettings, Error> {
    let provider = Provider::parse(&input.provider).ok_or_else(|| {
        Error::Invalid(format!(
            "\"{}\" is not a sign-in provider: use microsoft365, google or generic",
            input.provider
        ))
    })?;
    let client_id = input.client_id.trim();
    if client_id.is_empty()
        || client_id.len() > 200
        || client_id.contains(|c: char| c.is_whitespace() || c.is_control())
    {
        return Err(Error::Invalid(
            "enter the application (client) ID registered with the provider, without spaces".into(),
        ));
    }
    let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let tenant = opt(&input.tenant);
    if tenant.as_deref().is_some_and(|t| {
        !t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    }) {
        return Err(Error::Invalid(
            "the tenant is an ID or a domain name (letters, digits, - and .)".into(),
        ));
    }
    let issuer = opt(&input.issuer);
    if provider == Provider::Generic {
        match &issuer {
            Some(i) if i.starts_with("https://") && !i.contains(char::is_whitespace) => {}
            _ => {
                return Err(Error::Invalid(
                    "a generic provider needs its issuer URL, starting with https://".into(),
                ))
            }
        }
    }
    Ok(OAuthSettings {
        provider,
        client_id: client_id.to_owned(),
        tenant: if provider == Provider::Microsoft365 {
            tenant
        } else {
            None
        },
        issuer: if provider == Provider::Generic {
            issuer
        } else {
            None
        },
        scopes: opt(&input.scopes),
    })
}

/// The client secret typed with `input` (none typed: `None`). Microsoft's public
/// clients have none, and sending one makes its token endpoint refuse.
fn client_secret_of(input: &OAuthInput, s: &OAuthSettings) -> Result<Option<Secret>, Error> {
    let secret = input.client_secret.trim();
    if secret.is_empty() {
        return Ok(None);
    }
    if s.provider == Provider::Microsoft365 {
        return Err(Error::Invalid(
            "Microsoft 365 sign-in uses no client secret: leave that field empty".into(),
        ));
    }
    if secret.len() > 512 || secret.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(Error::Invalid(
            "enter the client secret as the provider shows it, without spaces".into(),
        ));
    }
    Ok(Some(Secret::new(secret.to_owned())))
}

/// Switches a profile to OAuth2 sign-in with these settings (admin only, logged), or
/// with `None` back to its password. Any stored sign-in is forgotten either way.
pub fn configure(
    store: &Store,
    by: &Session,
    profile: &Profile,
    input: Option<&OAuthInput>,
    now: OffsetDateTime,
) -> Result<Option<OAuthSettings>, Error> {
    let s = input.map(validate).transpose()?;
    let secret = match (input, &s) {
        (Some(input), Some(s)) => client_secret_of(input, s)?,
        _ => None,
    };
    require_admin(store, by, now)?;
    // A new client secret replaces the stored one (in the keychain first: if it refuses,
    // nothing changes); none typed keeps the stored one for the same provider and
    // client, and forgets it otherwise.
    let before = settings(store, &profile.name).ok().flatten();
    let keep = match (&s, &before) {
        (Some(new), Some(old)) => {
            new.provider == old.provider
                && new.client_id == old.client_id
                && new.provider != Provider::Microsoft365
        }
        _ => false,
    };
    match &secret {
        Some(secret) => save_client_secret(profile, secret)?,
        None if keep => {}
        None => {
            let _ = remove_client_secret(profile);
        }
    }
    let secret_stored = s.is_some() && (secret.is_some() || (keep && has_client_secret(profile)?));
    store
        .transaction(|tx| {
            tx.execute(
                "UPDATE relay_profiles SET auth = ?2, oauth_provider = ?3, oauth_client_id = ?4,
                     oauth_tenant = ?5, oauth_authority = ?6, oauth_scopes = ?7 WHERE name = ?1",
                params![
                    profile.name,
                    if s.is_some() { "oauth2" } else { "password" },
                    s.as_ref().map(|s| s.provider.as_str()),
                    s.as_ref().map(|s| s.client_id.clone()),
                    s.as_ref().and_then(|s| s.tenant.clone()),
                    s.as_ref().and_then(|s| s.issuer.clone()),
                    s.as_ref().and_then(|s| s.scopes.clone()),
                ],
            )?;
            audit::append_in(
                tx,
                now,
                by.operator(),
                Kind::RelayProfileSaved,
                None,
                &serde_json::json!({
                    "profile": profile.name, "change": "sign_in", "oauth2": s,
                    "client_secret_stored": secret_stored,
                }),
            )?;
            Ok::<_, audit::Error>(())
        })
        .map_err(|e| Error::Other(UserError::new(e.code(), e.to_string())))?;
    forget(profile);
    let _ = remove_refresh_token(profile);
    Ok(s)
}

/// Whether `by` may sign a profile in (an admin, checked as stored now): the window asks
/// before it sends the person to the provider's page, which [`finish_browser_sign_in`]
/// would refuse anyway.
pub fn may_sign_in(store: &Store, by: &Session, now: OffsetDateTime) -> Result<(), Error> {
    require_admin(store, by, now)
}

/// Signing a profile in or out, and its sign-in settings, are an admin's (like the
/// profile's password).
fn require_admin(store: &Store, by: &Session, now: OffsetDateTime) -> Result<(), Error> {
    crate::operators::authorize(store, by, Role::Admin, now)
        .map(|_| ())
        .map_err(|e| {
            Error::Other(UserError::new(
                e.code(),
                format!(
                    "{} cannot change how a relay profile signs in: {e}",
                    by.operator()
                ),
            ))
        })
}

// ---- keychain and memory ----

fn account(profile: &Profile) -> String {
    format!("{}:{}", profile.name.to_lowercase(), profile.username)
}

fn entry(profile: &Profile) -> Result<keyring::Entry, Error> {
    entry_in(KEYCHAIN_SERVICE, profile)
}

fn entry_in(service: &str, profile: &Profile) -> Result<keyring::Entry, Error> {
    keyring::Entry::new(service, &account(profile)).map_err(|e| keychain(e, profile))
}

fn keychain(e: keyring::Error, profile: &Profile) -> Error {
    let e = crate::secrets::map_keyring_err(e, &profile.name, &profile.username);
    Error::Other(UserError::new(e.code(), e.to_string()))
}

fn refresh_token(profile: &Profile) -> Result<Option<Secret>, Error> {
    match entry(profile)?.get_password() {
        Ok(t) => Ok(Some(Secret::new(t))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(keychain(e, profile)),
    }
}

fn save_refresh_token(profile: &Profile, token: &str) -> Result<(), Error> {
    entry(profile)?
        .set_password(token)
        .map_err(|e| keychain(e, profile))
}

fn remove_refresh_token(profile: &Profile) -> Result<(), Error> {
    match entry(profile)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(keychain(e, profile)),
    }
}

/// Whether a refresh token is stored for the profile (the app's "signed in" mark).
pub fn is_signed_in(profile: &Profile) -> Result<bool, Error> {
    Ok(refresh_token(profile)?.is_some())
}

fn client_secret(profile: &Profile) -> Result<Option<Secret>, Error> {
    match entry_in(CLIENT_SECRET_SERVICE, profile)?.get_password() {
        Ok(t) => Ok(Some(Secret::new(t))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(keychain(e, profile)),
    }
}

fn save_client_secret(profile: &Profile, secret: &Secret) -> Result<(), Error> {
    entry_in(CLIENT_SECRET_SERVICE, profile)?
        .set_password(secret.expose())
        .map_err(|e| keychain(e, profile))
}

fn remove_client_secret(profile: &Profile) -> Result<(), Error> {
    match entry_in(CLIENT_SECRET_SERVICE, profile)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(keychain(e, profile)),
    }
}

/// Whether a client secret is stored for the profile (the form shows "saved", never the
/// secret).
pub fn has_client_secret(profile: &Profile) -> Result<bool, Error> {
    Ok(client_secret(profile)?.is_some())
}

/// Access tokens by account, each with the moment to stop using it.
type Cache = Mutex<HashMap<String, (Secret, Instant)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn forget(profile: &Profile) {
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&account(profile));
}

/// Forgets the profile's access token if it is still `token` (a newer one stays).
fn forget_if(profile: &Profile, token: &Secret) {
    let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    let key = account(profile);
    if cache
        .get(&key)
        .is_some_and(|(t, _)| t.expose() == token.expose())
    {
        cache.remove(&key);
    }
}

/// How long before its end a token of this lifetime is replaced: [`REFRESH_MARGIN`],
/// or half its life when that is shorter (a 60-second token is used for 30 seconds,
/// not refreshed at every use).
pub fn refresh_margin(lifetime: Duration) -> Duration {
    REFRESH_MARGIN.min(lifetime / 2)
}

fn remember(profile: &Profile, token: &str, expires_in: Option<Duration>) {
    // Without expires_in: assume the common hour.
    let life = expires_in.unwrap_or(Duration::from_secs(3600));
    let refresh_at = Instant::now() + (life - refresh_margin(life));
    cache().lock().unwrap_or_else(|e| e.into_inner()).insert(
        account(profile),
        (Secret::new(token.to_owned()), refresh_at),
    );
}

/// The profile's access token while it is not yet due for a refresh.
fn cached(profile: &Profile) -> Option<Secret> {
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&account(profile))
        .filter(|(_, refresh_at)| Instant::now() < *refresh_at)
        .map(|(token, _)| token.clone())
}

/// One refresh at a time per account: two connections that find the token due at once
/// must not both spend the same refresh token (the second use of a rotated refresh
/// token is refused, and some servers then revoke the whole grant).
fn refresh_lock(profile: &Profile) -> Arc<tokio::sync::Mutex<()>> {
    type Locks = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;
    static LOCKS: OnceLock<Locks> = OnceLock::new();
    LOCKS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(account(profile))
        .or_default()
        .clone()
}

// ---- HTTP ----

fn http(trust: &Trust) -> Result<reqwest::Client, Error> {
    let config = trust
        .client_config(None)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    reqwest::Client::builder()
        .use_preconfigured_tls(Arc::unwrap_or_clone(config))
        // Following redirects would open the client to SSRF (the oauth2 crate's advice).
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::Invalid(format!("cannot set up HTTPS: {e}")))
}

fn url_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("the {what} address is not a URL: {e}"))
}

/// The client as the provider knows it: its ID, and its secret where one is stored.
fn base_client(settings: &OAuthSettings, profile: &Profile) -> Result<BasicClient, Error> {
    let client = BasicClient::new(ClientId::new(settings.client_id.clone()));
    Ok(match client_secret(profile)? {
        Some(secret) => client.set_client_secret(ClientSecret::new(secret.expose().to_owned())),
        None => client,
    })
}

fn request_error<RE: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
    e: oauth2::RequestTokenError<RE, T>,
) -> Error {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => {
            // The error code only (e.g. "invalid_grant"): descriptions may echo input.
            let code = serde_json::to_value(&r)
                .ok()
                .and_then(|v| v.get("error").and_then(|c| c.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "refused".into());
            Error::Refused(code)
        }
        oauth2::RequestTokenError::Request(e) => Error::Unreachable(
            std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(": ")
                .chars()
                .take(300)
                .collect(),
        ),
        oauth2::RequestTokenError::Parse(_, _) => {
            Error::Unreachable("the sign-in server's answer could not be read".into())
        }
        oauth2::RequestTokenError::Other(s) => Error::Unreachable(s.chars().take(200).collect()),
    }
}

/// Keeps the new refresh token in the keychain and the access token in memory, and logs
/// the sign-in (never a token).
fn signed_in<TT: oauth2::TokenType>(
    store: &Store,
    settings: &OAuthSettings,
    profile: &Profile,
    token: &impl TokenResponse<TokenType = TT>,
    flow: Flow,
    by: &Session,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let refresh = token.refresh_token().ok_or_else(|| {
        Error::Refused(
            "the server gave no refresh token (is offline_access among the scopes?)".into(),
        )
    })?;
    save_refresh_token(profile, refresh.secret())?;
    remember(profile, token.access_token().secret(), token.expires_in());
    audit::append(
        store,
        now,
        by.operator(),
        Kind::OauthSignedIn,
        None,
        serde_json::json!({
            "profile": profile.name, "provider": settings.provider.as_str(), "flow": flow.as_str(),
        }),
    )
    .map_err(|e| Error::Other(UserError::new(e.code(), e.to_string())))?;
    Ok(())
}

fn require_flow(settings: &OAuthSettings, flow: Flow) -> Result<(), Error> {
    if settings.provider.flows().contains(&flow) {
        return Ok(());
    }
    Err(Error::Invalid(
        match flow {
            Flow::Device => "this provider does not sign in with a code: sign in in the browser",
            Flow::Browser => "this provider does not sign in in the browser: sign in with a code",
        }
        .into(),
    ))
}

// ---- the device flow (RFC 8628) ----

/// A device sign-in waiting for the person: show `user_code` and `verification_uri`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceSignIn {
    pub profile: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// The device code and polling data: kept by the caller, never shown.
    #[serde(skip_serializing)]
    pending: Option<StandardDeviceAuthorizationResponse>,
}

/// Starts a device sign-in (RFC 8628 §3.1–3.3) for an OAuth2 profile.
pub async fn start_device_sign_in(
    settings: &OAuthSettings,
    profile: &Profile,
    trust: &Trust,
) -> Result<DeviceSignIn, Error> {
    require_flow(settings, Flow::Device)?;
    let ep = settings.endpoints();
    let client = base_client(settings, profile)?.set_device_authorization_url(
        DeviceAuthorizationUrl::new(ep.device.clone()).map_err(|e| url_err("device sign-in", e))?,
    );
    let http = http(trust)?;
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scopes(ep.scopes.iter().cloned().map(Scope::new))
        .request_async(&http)
        .await
        .map_err(request_error)?;
    Ok(DeviceSignIn {
        profile: profile.name.clone(),
        user_code: details.user_code().secret().clone(),
        verification_uri: details.verification_uri().to_string(),
        verification_uri_complete: details
            .verification_uri_complete()
            .map(|u| u.secret().clone()),
        expires_in: details.expires_in().as_secs(),
        pending: Some(details),
    })
}

/// Waits (polling as the server asks) until the person has approved the sign-in, then
/// keeps the refresh token in the keychain and the access token in memory. Logged.
pub async fn finish_device_sign_in(
    store: &Store,
    settings: &OAuthSettings,
    profile: &Profile,
    sign_in: &DeviceSignIn,
    trust: &Trust,
    by: &Session,
    now: OffsetDateTime,
) -> Result<(), Error> {
    require_admin(store, by, now)?;
    let details = sign_in
        .pending
        .as_ref()
        .ok_or_else(|| Error::Invalid("this sign-in was already used: start again".into()))?;
    let ep = settings.endpoints();
    let client = base_client(settings, profile)?
        .set_token_uri(TokenUrl::new(ep.token.clone()).map_err(|e| url_err("token", e))?);
    let http = http(trust)?;
    let token = client
        .exchange_device_access_token(details)
        .request_async(&http, tokio::time::sleep, None)
        .await
        .map_err(|e| match request_error(e) {
            Error::Refused(code) if code == "access_denied" => Error::Declined,
            Error::Refused(code) if code == "expired_token" => Error::Refused(
                "the code expired before the sign-in was finished: start again".into(),
            ),
            other => other,
        })?;
    signed_in(store, settings, profile, &token, Flow::Device, by, now)
}

// ---- the browser flow (authorization code + PKCE, loopback redirect) ----

/// A browser sign-in waiting for the person: open `authorize_url` in their browser (and
/// show it, in case no browser opened). The listener, the PKCE verifier and the state
/// stay here and are never serialised; [`finish_browser_sign_in`] uses them once.
#[derive(Debug, Serialize)]
pub struct BrowserSignIn {
    pub profile: String,
    /// The provider's sign-in page, with this sign-in's state and PKCE challenge.
    pub authorize_url: String,
    /// Seconds the sign-in waits for the person.
    pub expires_in: u64,
    #[serde(skip)]
    pending: Mutex<Option<PendingBrowser>>,
}

struct PendingBrowser {
    listener: std::net::TcpListener,
    redirect: RedirectUrl,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
    deadline: Instant,
}

impl std::fmt::Debug for PendingBrowser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBrowser")
            .field("redirect", &self.redirect.as_str())
            .finish_non_exhaustive()
    }
}

impl BrowserSignIn {
    /// The address the provider sends the browser back to (`http://127.0.0.1:PORT/callback`).
    pub fn redirect_uri(&self) -> Option<String> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|p| p.redirect.as_str().to_owned())
    }
}

/// Starts a browser sign-in (RFC 8252 §7.3): listens on 127.0.0.1 on a port the system
/// picks and makes the provider's sign-in address, with a new `state` and a PKCE
/// challenge (S256). Nothing is sent anywhere yet.
pub async fn start_browser_sign_in(
    settings: &OAuthSettings,
    profile: &Profile,
    trust: &Trust,
) -> Result<BrowserSignIn, Error> {
    require_flow(settings, Flow::Browser)?;
    // The sign-in server's trust is checked now, before the person is sent to it.
    http(trust)?;
    let ep = settings.endpoints();
    let listen_err = |e: std::io::Error| {
        Error::Other(UserError::new(
            ErrorCode::Io,
            format!("cannot wait for the browser on this computer: {e}"),
        ))
    };
    let listener =
        std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).map_err(listen_err)?;
    listener.set_nonblocking(true).map_err(listen_err)?;
    let port = listener.local_addr().map_err(listen_err)?.port();
    let redirect = RedirectUrl::new(format!("http://127.0.0.1:{port}/callback"))
        .map_err(|e| url_err("return", e))?;
    let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_auth_uri(AuthUrl::new(ep.authorize.clone()).map_err(|e| url_err("sign-in", e))?)
        .set_redirect_uri(redirect.clone());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(ep.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    for (name, value) in &ep.authorize_params {
        request = request.add_extra_param(name.as_str(), value.as_str());
    }
    let (url, state) = request.url();
    Ok(BrowserSignIn {
        profile: profile.name.clone(),
        authorize_url: url.to_string(),
        expires_in: BROWSER_WAIT.as_secs(),
        pending: Mutex::new(Some(PendingBrowser {
            listener,
            redirect,
            state,
            verifier,
            deadline: Instant::now() + BROWSER_WAIT,
        })),
    })
}

/// Waits for the browser to come back with the code (at most [`BROWSER_WAIT`] after the
/// start), exchanges it with the PKCE verifier, then keeps the refresh token in the
/// keychain and the access token in memory. Logged (`"flow": "browser"`). A sign-in is
/// used once: a second call is refused.
pub async fn finish_browser_sign_in(
    store: &Store,
    settings: &OAuthSettings,
    profile: &Profile,
    sign_in: &BrowserSignIn,
    trust: &Trust,
    by: &Session,
    now: OffsetDateTime,
) -> Result<(), Error> {
    require_admin(store, by, now)?;
    let pending = sign_in
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or_else(|| Error::Invalid("this sign-in was already used: start again".into()))?;
    let ep = settings.endpoints();
    let client = base_client(settings, profile)?
        .set_token_uri(TokenUrl::new(ep.token.clone()).map_err(|e| url_err("token", e))?)
        .set_redirect_uri(pending.redirect.clone());
    let http = http(trust)?;
    let PendingBrowser {
        listener,
        state,
        verifier,
        deadline,
        ..
    } = pending;
    let code = callback::wait(listener, state, deadline).await?;
    let token = client
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .map_err(request_error)?;
    signed_in(store, settings, profile, &token, Flow::Browser, by, now)
}

/// The loopback listener of the browser flow: plain HTTP/1.1 on 127.0.0.1, one request
/// per connection, bounded in size, time and number of connections.
mod callback {
    use super::*;

    /// What one matching callback said.
    enum Outcome {
        Code(AuthorizationCode),
        Failed(Error),
    }

    /// Serves connections until the one `GET /callback` with `state`, or the deadline.
    pub(super) async fn wait(
        listener: std::net::TcpListener,
        state: CsrfToken,
        deadline: Instant,
    ) -> Result<AuthorizationCode, Error> {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| {
            Error::Other(UserError::new(
                ErrorCode::Io,
                format!("cannot wait for the browser on this computer: {e}"),
            ))
        })?;
        let state = Arc::new(state);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Outcome>(1);
        let mut connections = tokio::task::JoinSet::new();
        let until = tokio::time::Instant::from_std(deadline);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return Err(Error::TooLong),
                Some(outcome) = rx.recv() => {
                    return match outcome {
                        Outcome::Code(code) => Ok(code),
                        Outcome::Failed(e) => Err(e),
                    };
                }
                accepted = listener.accept() => {
                    while connections.try_join_next().is_some() {}
                    let Ok((stream, _)) = accepted else { continue };
                    if connections.len() >= CALLBACK_CONNECTIONS {
                        continue; // dropped: a browser retries
                    }
                    connections.spawn(serve(stream, Arc::clone(&state), tx.clone()));
                }
            }
        }
        // Dropping `connections` ends the others; dropping the listener closes the port.
    }

    /// One connection: read the request head (bounded), answer, and report a matching
    /// callback.
    async fn serve(
        mut stream: tokio::net::TcpStream,
        state: Arc<CsrfToken>,
        tx: tokio::sync::mpsc::Sender<Outcome>,
    ) {
        let head = match tokio::time::timeout(CALLBACK_READ_TIME, read_head(&mut stream)).await {
            Ok(Ok(head)) => head,
            Ok(Err(too_big)) if too_big => {
                let _ = tokio::time::timeout(
                    CALLBACK_READ_TIME,
                    respond(&mut stream, 431, "Request Header Fields Too Large", ""),
                )
                .await;
                return;
            }
            _ => return,
        };
        let (status, reason, page, outcome) = answer(&head, &state);
        let _ = tokio::time::timeout(
            CALLBACK_READ_TIME,
            respond(&mut stream, status, reason, &page),
        )
        .await;
        if let Some(outcome) = outcome {
            let _ = tx.send(outcome).await;
        }
    }

    /// The request line and headers, up to the blank line. `Err(true)`: longer than
    /// [`CALLBACK_HEAD_LIMIT`]; `Err(false)`: the connection closed or failed first.
    async fn read_head(stream: &mut tokio::net::TcpStream) -> Result<String, bool> {
        let mut head = Vec::with_capacity(1024);
        let mut buf = [0u8; 1024];
        loop {
            let n = stream.read(&mut buf).await.map_err(|_| false)?;
            if n == 0 {
                return Err(false);
            }
            head.extend_from_slice(&buf[..n]);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                head.truncate(end);
                return String::from_utf8(head).map_err(|_| false);
            }
            if head.len() > CALLBACK_HEAD_LIMIT {
                return Err(true);
            }
        }
    }

    /// What to answer a request head with, and what it means for the sign-in.
    fn answer(head: &str, state: &CsrfToken) -> (u16, &'static str, String, Option<Outcome>) {
        let not_found = || (404, "Not Found", page(NOT_HERE), None);
        let line = head.lines().next().unwrap_or_default();
        let mut parts = line.split(' ');
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            return (400, "Bad Request", page(NOT_HERE), None);
        };
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if path != "/callback" {
            return not_found();
        }
        if method != "GET" {
            return (405, "Method Not Allowed", page(NOT_HERE), None);
        }
        let params: HashMap<String, String> = oauth2::url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        // Exact match of the state this sign-in sent: anything else is someone else's
        // page (or a forged one) and signs nobody in.
        if params.get("state").map(String::as_str) != Some(state.secret().as_str()) {
            return (400, "Bad Request", page(WRONG_SIGN_IN), None);
        }
        if let Some(error) = params.get("error") {
            let error = match error.as_str() {
                "access_denied" => Error::Declined,
                other => Error::Refused(
                    other
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .take(60)
                        .collect(),
                ),
            };
            return (200, "OK", page(NOT_FINISHED), Some(Outcome::Failed(error)));
        }
        match params.get("code").filter(|c| !c.is_empty()) {
            Some(code) => (
                200,
                "OK",
                page(DONE),
                Some(Outcome::Code(AuthorizationCode::new(code.clone()))),
            ),
            None => (400, "Bad Request", page(WRONG_SIGN_IN), None),
        }
    }

    async fn respond(
        stream: &mut tokio::net::TcpStream,
        status: u16,
        reason: &str,
        body: &str,
    ) -> std::io::Result<()> {
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\n\
             Cache-Control: no-store\r\n\
             Referrer-Policy: no-referrer\r\n\
             Content-Security-Policy: default-src 'none'\r\n\
             X-Content-Type-Options: nosniff\r\n\
             Connection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    }

    /// The pages the browser shows, in English and Japanese, with nothing loaded from
    /// anywhere.
    const DONE: [&str; 2] = [
        "You can close this tab and go back to MergeGuard.",
        "このタブを閉じて、MergeGuard に戻ってください。",
    ];
    const NOT_FINISHED: [&str; 2] = [
        "The sign-in was not finished. You can close this tab and go back to MergeGuard.",
        "サインインは完了しませんでした。このタブを閉じて、MergeGuard に戻ってください。",
    ];
    const WRONG_SIGN_IN: [&str; 2] = [
        "This is not the sign-in MergeGuard is waiting for. Go back to MergeGuard and start the sign-in again.",
        "これは MergeGuard が待っているサインインではありません。MergeGuard に戻って、サインインをやり直してください。",
    ];
    const NOT_HERE: [&str; 2] = ["There is nothing here.", "このページはありません。"];

    fn page([en, ja]: [&str; 2]) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>MergeGuard</title></head>\n<body>\n<h1>MergeGuard</h1>\n\
             <p>{en}</p>\n<p lang=\"ja\">{ja}</p>\n</body></html>\n"
        )
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn state() -> CsrfToken {
            CsrfToken::new("s-123".into())
        }

        #[test]
        fn only_the_matching_callback_counts() {
            let (status, _, _, outcome) = answer(
                "GET /callback?code=abc&state=s-123 HTTP/1.1\r\nHost: x",
                &state(),
            );
            assert_eq!(status, 200);
            assert!(matches!(outcome, Some(Outcome::Code(c)) if c.secret() == "abc"));
            for wrong in [
                "GET /callback?code=abc&state=s-12 HTTP/1.1",
                "GET /callback?code=abc&state=s-1234 HTTP/1.1",
                "GET /callback?code=abc HTTP/1.1",
                "GET /callback?code=abc&state= HTTP/1.1",
                "GET /callback?state=s-123 HTTP/1.1",
            ] {
                let (status, _, _, outcome) = answer(wrong, &state());
                assert_eq!(status, 400, "{wrong}");
                assert!(outcome.is_none(), "{wrong}");
            }
            let (status, _, _, outcome) = answer("GET /favicon.ico HTTP/1.1", &state());
            assert_eq!((status, outcome.is_none()), (404, true));
            let (status, _, _, outcome) =
                answer("POST /callback?code=abc&state=s-123 HTTP/1.1", &state());
            assert_eq!((status, outcome.is_none()), (405, true));
        }

        #[test]
        fn a_declined_consent_is_its_own_error() {
            let (_, _, page, outcome) = answer(
                "GET /callback?error=access_denied&state=s-123 HTTP/1.1",
                &state(),
            );
            assert!(matches!(outcome, Some(Outcome::Failed(Error::Declined))));
            assert!(page.contains("go back to MergeGuard"));
            let (_, _, _, outcome) = answer(
                "GET /callback?error=server_error%3Cscript%3E&state=s-123 HTTP/1.1",
                &state(),
            );
            assert!(
                matches!(outcome, Some(Outcome::Failed(Error::Refused(ref c))) if c == "server_errorscript")
            );
        }
    }
}

/// A usable access token for the profile: the one in memory until it is due for a
/// refresh (see [`refresh_margin`]), else a new one from the refresh token (whose
/// replacement is stored). One refresh at a time per profile. Refused or missing
/// consent: [`Error::SignInAgain`], and the stored token is removed so the app shows
/// "sign in again".
pub async fn access_token(
    settings: &OAuthSettings,
    profile: &Profile,
    trust: &Trust,
) -> Result<Secret, Error> {
    if let Some(token) = cached(profile) {
        return Ok(token);
    }
    let lock = refresh_lock(profile);
    let _one_at_a_time = lock.lock().await;
    // Another connection may have refreshed while this one waited.
    if let Some(token) = cached(profile) {
        return Ok(token);
    }
    let Some(refresh) = refresh_token(profile)? else {
        return Err(Error::SignInAgain(profile.name.clone()));
    };
    let ep = settings.endpoints();
    let client = base_client(settings, profile)?
        .set_token_uri(TokenUrl::new(ep.token.clone()).map_err(|e| url_err("token", e))?);
    let http = http(trust)?;
    let refresh = RefreshToken::new(refresh.expose().to_owned());
    let token = match client
        .exchange_refresh_token(&refresh)
        .request_async(&http)
        .await
    {
        Ok(t) => t,
        Err(e) => {
            return Err(match request_error(e) {
                Error::Refused(code)
                    if code == "invalid_grant" || code == "unauthorized_client" =>
                {
                    forget(profile);
                    let _ = remove_refresh_token(profile);
                    Error::SignInAgain(profile.name.clone())
                }
                other => other,
            })
        }
    };
    if let Some(new) = token.refresh_token() {
        save_refresh_token(profile, new.secret())?;
    }
    remember(profile, token.access_token().secret(), token.expires_in());
    Ok(Secret::new(token.access_token().secret().clone()))
}

/// A server (the relay, the mailbox) refused `token`, the profile's access token: it is
/// forgotten, so the next use refreshes (and a withdrawn consent then says "sign in
/// again"). A newer token in memory stays.
pub fn token_refused(profile: &Profile, token: &Secret) {
    forget_if(profile, token);
}

/// The access tokens of one OAuth2 profile as the SMTP relay's
/// [`TokenSource`](crate::send::TokenSource): asked
/// on every new connection, so a send longer than a token's life reconnects with a
/// fresh one ([`access_token`] keeps it in memory and refreshes it near its end). A
/// token the relay refused is forgotten, so the next connection refreshes.
#[derive(Clone)]
pub struct ProfileTokens {
    settings: OAuthSettings,
    profile: Profile,
    trust: Trust,
}

impl ProfileTokens {
    pub fn new(settings: OAuthSettings, profile: Profile, trust: Trust) -> ProfileTokens {
        ProfileTokens {
            settings,
            profile,
            trust,
        }
    }
}

impl std::fmt::Debug for ProfileTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileTokens")
            .field("profile", &self.profile.name)
            .finish_non_exhaustive()
    }
}

impl crate::send::TokenSource for ProfileTokens {
    fn token(&self) -> crate::send::TokenFuture<'_> {
        Box::pin(async move {
            access_token(&self.settings, &self.profile, &self.trust)
                .await
                .map_err(|e| crate::send::TokenError {
                    code: e.code(),
                    message: e.to_string(),
                })
        })
    }

    fn refused(&self, token: &Secret) {
        token_refused(&self.profile, token);
    }
}

/// Signs the profile out: revokes the refresh token where the provider supports it
/// (RFC 7009), removes it from the keychain and the access token from memory. Logged.
pub async fn sign_out(
    store: &Store,
    settings: &OAuthSettings,
    profile: &Profile,
    trust: &Trust,
    by: &Session,
    now: OffsetDateTime,
) -> Result<(), Error> {
    require_admin(store, by, now)?;
    if let (Some(refresh), Some(url)) = (refresh_token(profile)?, settings.endpoints().revocation) {
        let client = base_client(settings, profile)?
            .set_revocation_url(RevocationUrl::new(url).map_err(|e| url_err("revocation", e))?);
        let http = http(trust)?;
        // A failed revocation still signs out locally; the grant then expires on its own.
        if let Ok(r) = client.revoke_token(StandardRevocableToken::RefreshToken(RefreshToken::new(
            refresh.expose().to_owned(),
        ))) {
            let _ = r.request_async(&http).await;
        }
    }
    forget(profile);
    remove_refresh_token(profile)?;
    audit::append(
        store,
        now,
        by.operator(),
        Kind::OauthSignedOut,
        None,
        serde_json::json!({"profile": profile.name}),
    )
    .map_err(|e| Error::Other(UserError::new(e.code(), e.to_string())))?;
    Ok(())
}

/// The trust for the sign-in server: the system roots plus the profile's CA file (a
/// company's TLS-inspecting proxy, or the test IdP).
pub fn trust_for(profile: &Profile) -> Result<Trust, Error> {
    Trust::with_ca_file(profile.ca.as_ref().map(|c| c.path.as_path()))
        .map_err(|e| Error::Invalid(e.to_string()))
}
