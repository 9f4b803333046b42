//! OAuth2 sign-in for relay profiles (Microsoft 365, Google, or any standard server):
//! the device-authorization grant (RFC 8628), refresh, and revocation, all done by the
//! `oauth2` crate over a reqwest client that trusts exactly `trust::Trust` and follows no
//! redirect. The result is an access token for SASL XOAUTH2 (SMTP through lettre, IMAP
//! through async-imap).
//!
//! **Invariants:** the refresh token lives only in the OS keychain (service
//! [`KEYCHAIN_SERVICE`], one entry per profile and user) and is replaced by the new one
//! at every refresh (servers rotate it; reusing an old one can revoke the grant); an
//! access token lives only in this process's memory and is refreshed when less than
//! [`REFRESH_MARGIN`] of it is left. Neither reaches the log, the database, an error
//! message or the UI. Expired or revoked consent is one error, [`Error::SignInAgain`]
//! (code `sign_in_required`), raised before anything is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{
    ClientId, DeviceAuthorizationUrl, RefreshToken, RevocationUrl, Scope,
    StandardDeviceAuthorizationResponse, StandardRevocableToken, TokenResponse, TokenUrl,
};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{self, Kind};
use crate::error::{ErrorCode, UserError};
use crate::operators::{Role, Session};
use crate::profiles::Profile;
use crate::secrets::Secret;
use crate::store::Store;
use crate::trust::Trust;

/// The keychain service of refresh tokens; the account is `profile name:user`.
pub const KEYCHAIN_SERVICE: &str = "MergeGuard OAuth2";
/// An access token with less than this left is refreshed before use.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(120);

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
}

/// A profile's OAuth2 settings, entered by an admin (no secret: public clients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthSettings {
    pub provider: Provider,
    /// The application (client) ID registered with the provider.
    pub client_id: String,
    /// Microsoft Entra tenant (ID or domain); `organizations` when not given.
    pub tenant: Option<String>,
    /// Generic only: the issuer URL (https); endpoints are `{issuer}/device/auth`,
    /// `{issuer}/token`, `{issuer}/token/revocation` unless given below.
    pub issuer: Option<String>,
    /// Space-separated scopes; the preset's when empty.
    pub scopes: Option<String>,
}

/// The endpoints and scopes one sign-in uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    pub device: String,
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
                    token: format!("{i}/token"),
                    revocation: Some(format!("{i}/token/revocation")),
                    scopes: scopes(&["offline_access"]),
                }
            }
        }
    }
}

/// What an admin types.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OAuthInput {
    pub provider: String,
    pub client_id: String,
    pub tenant: String,
    pub issuer: String,
    pub scopes: String,
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
    #[error("{0}")]
    Other(UserError),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::SignInAgain(_) => ErrorCode::SignInRequired,
            Error::Invalid(_) => ErrorCode::InvalidInput,
            Error::Unreachable(_) => ErrorCode::CheckFailed,
            Error::Refused(_) => ErrorCode::AuthFailed,
            Error::Other(e) => e.code,
        }
    }
}

impl From<Error> for UserError {
    fn from(e: Error) -> Self {
        UserError::new(e.code(), e.to_string())
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
    require_admin(store, by, now)?;
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
                &serde_json::json!({"profile": profile.name, "change": "sign_in", "oauth2": s}),
            )?;
            Ok::<_, audit::Error>(())
        })
        .map_err(|e| Error::Other(UserError::new(e.code(), e.to_string())))?;
    forget(profile);
    let _ = remove_refresh_token(profile);
    Ok(s)
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
    keyring::Entry::new(KEYCHAIN_SERVICE, &account(profile)).map_err(|e| keychain(e, profile))
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

fn remember(profile: &Profile, token: &str, expires_in: Option<Duration>) {
    // Without expires_in: assume the common hour, refreshed early by the margin.
    let until = Instant::now() + expires_in.unwrap_or(Duration::from_secs(3600));
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(account(profile), (Secret::new(token.to_owned()), until));
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
    let ep = settings.endpoints();
    let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(ep.device.clone())
                .map_err(|e| url_err("device sign-in", e))?,
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
    let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_token_uri(TokenUrl::new(ep.token.clone()).map_err(|e| url_err("token", e))?);
    let http = http(trust)?;
    let token = client
        .exchange_device_access_token(details)
        .request_async(&http, tokio::time::sleep, None)
        .await
        .map_err(|e| match request_error(e) {
            Error::Refused(code) if code == "access_denied" => {
                Error::Refused("the sign-in was declined in the browser".into())
            }
            Error::Refused(code) if code == "expired_token" => Error::Refused(
                "the code expired before the sign-in was finished: start again".into(),
            ),
            other => other,
        })?;
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
        serde_json::json!({"profile": profile.name, "provider": settings.provider.as_str()}),
    )
    .map_err(|e| Error::Other(UserError::new(e.code(), e.to_string())))?;
    Ok(())
}

/// A usable access token for the profile: the one in memory while it has more than
/// [`REFRESH_MARGIN`] left, else a new one from the refresh token (whose replacement is
/// stored). Refused or missing consent: [`Error::SignInAgain`], and the stored token is
/// removed so the app shows "sign in again".
pub async fn access_token(
    settings: &OAuthSettings,
    profile: &Profile,
    trust: &Trust,
) -> Result<Secret, Error> {
    if let Some((token, until)) = cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&account(profile))
    {
        if until.saturating_duration_since(Instant::now()) > REFRESH_MARGIN {
            return Ok(token.clone());
        }
    }
    let Some(refresh) = refresh_token(profile)? else {
        return Err(Error::SignInAgain(profile.name.clone()));
    };
    let ep = settings.endpoints();
    let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
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
        let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
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
