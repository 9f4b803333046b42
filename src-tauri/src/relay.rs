//! Relay profiles and the sender domain in the window: thin functions over
//! `mergeguard::profiles` and `mergeguard::domain_setup`. Who may change what (admin
//! only), what is logged, and where passwords and keys go (the OS keychain, never a
//! response) are decided in the core.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use mergeguard::domain_setup::{self, DomainRecords, DomainSetupRequest};
use mergeguard::error::ErrorCode;
use mergeguard::preflight::campaign::resolve_host;
use mergeguard::preflight::dkim::parse_dkim_key;
use mergeguard::preflight::domain::{check_domain, DomainCheck};
use mergeguard::preflight::Check;
use mergeguard::profiles::{self, ConnectionTest, Preset, Profile, ProfileInput};
use mergeguard::secrets::{self, Secret};

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

/// A saved profile as the settings screen lists it: its settings and whether a password
/// is stored (never the password).
#[derive(Debug, Serialize)]
pub struct ProfileView {
    #[serde(flatten)]
    pub profile: Profile,
    /// `Some(true)` stored, `Some(false)` none, `None` the keychain could not be asked.
    pub has_password: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct ProfilesView {
    pub profiles: Vec<ProfileView>,
    pub presets: Vec<Preset>,
}

pub fn list(state: &AppState, now: OffsetDateTime) -> CommandResult<ProfilesView> {
    state.signed_in(now)?;
    let profiles = profiles::list(&*state.store()?)?
        .into_iter()
        .map(|p| ProfileView {
            has_password: profiles::stored_password(&p).ok().map(|s| s.is_some()),
            profile: p,
        })
        .collect();
    Ok(ProfilesView {
        profiles,
        presets: profiles::presets(),
    })
}

/// Adds a profile (`original` empty) or changes the one named `original`. An empty
/// password keeps the stored one.
pub fn save(
    state: &AppState,
    now: OffsetDateTime,
    original: Option<String>,
    input: ProfileInput,
    password: Option<String>,
) -> CommandResult<Profile> {
    let who = state.signed_in(now)?;
    let store = state.store()?;
    let password = password.filter(|p| !p.is_empty()).map(Secret::new);
    let saved = match original.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
        None => profiles::add(&store, &who, &input, password.as_ref(), now),
        Some(name) => profiles::update(&store, &who, name, &input, password.as_ref(), now),
    };
    Ok(saved?)
}

pub fn remove(state: &AppState, now: OffsetDateTime, name: String) -> CommandResult<()> {
    let who = state.signed_in(now)?;
    Ok(profiles::remove(&*state.store()?, &who, &name, now)?)
}

/// "Test connection": TLS with the certificate checked, then the sign-in with the
/// stored password; never a message.
pub async fn test(
    state: &AppState,
    now: OffsetDateTime,
    name: String,
) -> CommandResult<ConnectionTest> {
    state.signed_in(now)?;
    let profile = profiles::get(&*state.store()?, &name)?;
    Ok(profiles::test_connection(&profile, SystemTime::now()).await)
}

/// The addresses the profile's relay sends from, as receivers see them (the name
/// looked up off the async runtime's threads).
async fn relay_ips(profile: &Profile) -> CommandResult<Vec<std::net::IpAddr>> {
    let (host, port) = (profile.host.clone(), profile.port);
    tauri::async_runtime::spawn_blocking(move || resolve_host(&host, port))
        .await
        .map_err(|e| CommandError::internal(format!("The relay's address lookup stopped: {e}")))
}

/// The request with the relay filled in from the saved profile the domain sends
/// through: its provider (for the SPF `include:`) and, for another provider, the
/// relay's addresses.
async fn with_profile(
    state: &AppState,
    mut request: DomainSetupRequest,
    profile: Option<String>,
) -> CommandResult<DomainSetupRequest> {
    let Some(name) = profile.as_deref().map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(request);
    };
    let profile = profiles::get(&*state.store()?, name)?;
    request.provider = profile.provider.as_str().to_owned();
    if request.relay_ips.is_empty() && profile.provider == profiles::Provider::Other {
        request.relay_ips = if profile.outbound_ips.is_empty() {
            relay_ips(&profile).await?
        } else {
            profile.outbound_ips.clone()
        };
    }
    Ok(request)
}

/// "Set up the sender domain": a new DKIM key in the keychain and the records to publish.
pub async fn set_up_domain(
    state: &AppState,
    now: OffsetDateTime,
    request: DomainSetupRequest,
    profile: Option<String>,
) -> CommandResult<DomainRecords> {
    let who = state.signed_in(now)?;
    let request = with_profile(state, request, profile).await?;
    Ok(domain_setup::set_up_domain(
        &*state.store()?,
        &who,
        &request,
        now,
    )?)
}

/// The records again for a key already in the keychain.
pub async fn domain_records(
    state: &AppState,
    now: OffsetDateTime,
    request: DomainSetupRequest,
    profile: Option<String>,
) -> CommandResult<DomainRecords> {
    state.signed_in(now)?;
    let request = with_profile(state, request, profile).await?;
    Ok(domain_setup::domain_records(&request)?)
}

/// What "Check again" asks about: the domain, its DKIM selector (the key is read from
/// the keychain) and the relay profile the domain sends through.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DomainCheckRequest {
    pub domain: String,
    pub selector: String,
    pub profile: Option<String>,
}

/// "Check again": the domain checks (SPF, DKIM, DMARC, MX…) over the DNS as it is now.
pub async fn check(
    state: &AppState,
    now: OffsetDateTime,
    request: DomainCheckRequest,
) -> CommandResult<Vec<Check>> {
    state.signed_in(now)?;
    let domain = domain_setup::check_domain_name(&request.domain)?;
    let mut check = DomainCheck::new(domain.clone());
    let selector = request.selector.trim();
    if !selector.is_empty() {
        let selector = domain_setup::check_selector(selector)?;
        match secrets::dkim_key(&domain, &selector) {
            Ok(pem) => {
                check.dkim_key = Some(parse_dkim_key(pem.expose().as_bytes()).map_err(|reason| {
                    CommandError::new(
                        ErrorCode::Keychain,
                        format!("The DKIM key stored for {selector}._domainkey.{domain} cannot be used: {reason}"),
                    )
                })?);
            }
            Err(secrets::Error::NoDkimKey(_)) => {}
            Err(e) => return Err(CommandError::new(e.code(), e.to_string())),
        }
        check.selector = Some(selector);
    }
    if let Some(name) = request
        .profile
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let profile = profiles::get(&*state.store()?, name)?;
        // Declared outbound addresses (or the provider's SPF include) decide spf.relay;
        // the host is resolved only when the profile declares none.
        let resolved = if profile.outbound_ips.is_empty() {
            relay_ips(&profile).await?
        } else {
            Vec::new()
        };
        check.use_relay(
            &profile.host,
            &profile.outbound_ips,
            profile.provider.preset().spf_include,
            resolved,
        );
    }
    Ok(check_domain(&check, &state.resolver(), SystemTime::now()).await)
}
