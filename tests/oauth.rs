//! OAuth2 sign-in for relay profiles against the real test IdP (oidc-provider), Postfix
//! (SMTP XOAUTH2 through Dovecot SASL) and Dovecot (IMAP XOAUTH2) of
//! tests/servers/mailbox.sh: the device sign-in and the browser sign-in (authorization
//! code with PKCE on a loopback address) completed by the test acting as the browser, a
//! send with XOAUTH2, refresh with rotation, a fresh token per relay connection, a
//! forged callback and a declined consent refused, and withdrawn consent refused with
//! one plain error. Needs the keychain (the refresh token lives there):
//!   MG_TEST_DIR=... tests/servers/keyring-session.sh cargo test -p mergeguard --test oauth
//!
//! The IdP's access tokens live OAUTH_MAILBOX_TOKEN_TTL (60) seconds; MergeGuard uses one
//! for half that ([`oauth::refresh_margin`]), so where a test needs a refresh it waits
//! until the token is due ([`until_due`]).

mod common_mailbox;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common_mailbox::*;
use mergeguard::error::ErrorCode;
use mergeguard::oauth::{self, OAuthInput};
use mergeguard::operators;
use mergeguard::profiles::{self, AuthMethod, ProfileInput};
use mergeguard::secrets::Secret;
use mergeguard::send::{Delivery, Outgoing, Relay, Security, SmtpRelay, SmtpSettings, TokenSource};
use mergeguard::store::Store;
use time::OffsetDateTime;

fn require_session() {
    if std::env::var("MG_TEST_KEYRING").as_deref() != Ok("1") {
        panic!(
            "OAuth2 tests keep the refresh token in a real Secret Service: run them with\n  \
             tests/servers/keyring-session.sh cargo test -p mergeguard --test oauth"
        );
    }
}

fn browser(args: &[&str]) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/servers/mailbox/browser.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "browser.py {}: {}",
        args[0],
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until an access token got now is due for a refresh (half the IdP's token life
/// and a second).
async fn until_due() {
    let ttl: u64 = env()
        .get("OAUTH_MAILBOX_TOKEN_TTL")
        .and_then(|t| t.parse().ok())
        .unwrap_or(60);
    let life = Duration::from_secs(ttl);
    tokio::time::sleep(life - oauth::refresh_margin(life) + Duration::from_secs(1)).await;
}

fn stored_refresh_token(account: &str) -> Option<String> {
    keyring::Entry::new(oauth::KEYCHAIN_SERVICE, account)
        .unwrap()
        .get_password()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_sign_in_send_with_xoauth2_refresh_and_withdrawn_consent() {
    require_session();
    let e = env();
    let now = OffsetDateTime::now_utc();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    operators::create_first_admin(&store, "admin", &Secret::new("999999"), now).unwrap();
    let admin = operators::sign_in(&store, "admin", &Secret::new("999999"), now).unwrap();
    let user = e["OAUTH_MAILBOX_USER"].clone(); // alice: tokens only, no password login
    let name = format!("m365-{}", uuid::Uuid::new_v4().simple());
    let profile = profiles::add(
        &store,
        &admin,
        &ProfileInput {
            name: name.clone(),
            provider: "other".into(),
            host: "127.0.0.1".into(),
            port: Some(3125),
            security: "starttls".into(),
            username: user.clone(),
            ca_file: Some(ca()),
            ..ProfileInput::default()
        },
        None,
        now,
    )
    .unwrap();
    // An admin switches the profile to OAuth2 with the generic preset.
    let settings = oauth::configure(
        &store,
        &admin,
        &profile,
        Some(&OAuthInput {
            provider: "generic".into(),
            client_id: e["OAUTH_MAILBOX_CLIENT_ID"].clone(),
            issuer: e["OAUTH_MAILBOX_ISSUER"].clone(),
            scopes: e["OAUTH_MAILBOX_SCOPE"].clone(),
            ..OAuthInput::default()
        }),
        now,
    )
    .unwrap()
    .unwrap();
    let profile = profiles::get(&store, &name).unwrap();
    assert_eq!(profile.auth, AuthMethod::OAuth2);
    assert_eq!(
        oauth::settings(&store, &name).unwrap(),
        Some(settings.clone())
    );
    let trust = oauth::trust_for(&profile).unwrap();
    // Not signed in yet: one plain error, before any network use.
    let err = oauth::access_token(&settings, &profile, &trust)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SignInRequired);
    assert!(err.to_string().contains("sign in again"), "{err}");

    // Device sign-in: the app shows the code; the person approves it in a browser.
    let pending = oauth::start_device_sign_in(&settings, &profile, &trust)
        .await
        .unwrap();
    assert!(!pending.user_code.is_empty());
    assert!(pending
        .verification_uri
        .starts_with(&e["OAUTH_MAILBOX_ISSUER"]));
    let shown = serde_json::to_value(&pending).unwrap();
    assert!(
        shown.get("pending").is_none(),
        "the device code never reaches the UI: {shown}"
    );
    let (uri, code) = (pending.verification_uri.clone(), pending.user_code.clone());
    let password = e["OAUTH_MAILBOX_PASSWORD"].clone();
    let login = user.clone();
    let person = std::thread::spawn(move || browser(&["approve", &uri, &code, &login, &password]));
    oauth::finish_device_sign_in(&store, &settings, &profile, &pending, &trust, &admin, now)
        .await
        .unwrap();
    person.join().unwrap();
    assert!(oauth::is_signed_in(&profile).unwrap());
    let account = format!("{}:{}", name.to_lowercase(), user);
    let first_refresh = stored_refresh_token(&account).expect("refresh token in the keychain");

    // A send through Postfix with SASL XOAUTH2 (our relay, as the send path builds it).
    // Once the token from the sign-in is due, a use refreshes it, and the rotated refresh
    // token replaces the old one in the keychain.
    until_due().await;
    let token = oauth::access_token(&settings, &profile, &trust)
        .await
        .unwrap();
    let second_refresh = stored_refresh_token(&account).unwrap();
    assert_ne!(first_refresh, second_refresh, "refresh tokens rotate");
    let mut smtp = SmtpSettings::new("127.0.0.1", 3125, Security::StartTls);
    smtp.username = Some(user.clone());
    smtp.password = Some(token.clone());
    smtp.mechanisms = vec![lettre::transport::smtp::authentication::Mechanism::Xoauth2];
    smtp.extra_ca_pem = Some(std::fs::read(ca()).unwrap());
    smtp.timeout = Duration::from_secs(10);
    let relay = Arc::new(SmtpRelay::new(smtp).unwrap());
    let mut session = relay.open().await.unwrap();
    let id = format!("<{}@mail.test>", uuid::Uuid::new_v4().simple());
    let delivery = relay
        .deliver(
            &mut session,
            &Outgoing {
                row: 2,
                message_id: id.clone(),
                envelope_from: user.clone(),
                envelope_to: vec![user.clone()],
                raw: format!(
                    "From: {user}\r\nTo: {user}\r\nSubject: XOAUTH2 test\r\nMessage-ID: {id}\r\n\r\nsent with a token\r\n"
                )
                .into_bytes(),
            },
        )
        .await;
    assert!(
        matches!(delivery, Delivery::Accepted { .. }),
        "{delivery:?}"
    );
    SmtpRelay::close(session).await;

    // IMAP with XOAUTH2: the mailbox sync of an OAuth2 profile signs in with a token.
    // Until it is due, the same access token serves every use; then a new one comes.
    assert_eq!(
        oauth::access_token(&settings, &profile, &trust)
            .await
            .unwrap()
            .expose(),
        token.expose(),
        "a token not yet due is used again, not refreshed"
    );
    until_due().await;
    let token_again = oauth::access_token(&settings, &profile, &trust)
        .await
        .unwrap();
    assert_ne!(
        token.expose(),
        token_again.expose(),
        "a new access token after refresh"
    );
    let imap = mergeguard::mailbox::MailboxSettings {
        host: "127.0.0.2".into(),
        port: 3143,
        security: mergeguard::campaign::Security::Starttls,
        folder: "INBOX".into(),
    };
    let creds = mergeguard::mailbox::Credentials::AccessToken {
        user: user.clone(),
        token: token_again,
    };
    mergeguard::mailbox::sync(&store, &profile, &imap, &creds, &Default::default(), now)
        .await
        .unwrap();
    // A refused token at IMAP is a plain sign-in refusal, without the token in it.
    let bad = mergeguard::mailbox::Credentials::AccessToken {
        user: user.clone(),
        token: Secret::new("not-a-token"),
    };
    let err = mergeguard::mailbox::sync(&store, &profile, &imap, &bad, &Default::default(), now)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::AuthFailed);

    // The person withdraws consent at the provider (which ends the access token in
    // memory too): the next connection's token is refused, and the connection asks for
    // a new one, which is "sign in again"; the dead refresh token leaves the keychain.
    browser(&["revoke", &stored_refresh_token(&account).unwrap()]);
    let tokens = Arc::new(oauth::ProfileTokens::new(
        settings.clone(),
        profile.clone(),
        trust.clone(),
    ));
    let err = match relay_with(tokens, &user).open().await {
        Err(e) => e,
        Ok(_) => panic!("a relay connection after the consent was withdrawn"),
    };
    assert_eq!(err.code(), ErrorCode::SignInRequired, "{err}");
    let err = oauth::access_token(&settings, &profile, &trust)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SignInRequired, "{err}");
    assert!(stored_refresh_token(&account).is_none());
    assert!(!oauth::is_signed_in(&profile).unwrap());

    // Nothing secret in the log or the data folder.
    let log = mergeguard::audit::entries(&store, &Default::default()).unwrap();
    assert!(log.iter().any(|e| e.kind == "oauth_signed_in"));
    for entry in &log {
        assert!(!entry.details.contains(&second_refresh));
        assert!(!entry.details.contains(token.expose()));
    }
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap_or_default();
        for secret in [&first_refresh, &second_refresh, &token.expose().to_owned()] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
    }
}

#[test]
fn presets_name_the_providers_endpoints() {
    let m = oauth::OAuthSettings {
        provider: oauth::Provider::Microsoft365,
        client_id: "x".into(),
        tenant: Some("contoso.onmicrosoft.com".into()),
        issuer: None,
        scopes: None,
    }
    .endpoints();
    assert_eq!(
        m.token,
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert!(m
        .scopes
        .contains(&"https://outlook.office.com/SMTP.Send".to_owned()));
    assert!(m.scopes.contains(&"offline_access".to_owned()));
    assert_eq!(
        m.authorize,
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
    );
    let g = oauth::OAuthSettings {
        provider: oauth::Provider::Google,
        client_id: "x".into(),
        tenant: None,
        issuer: None,
        scopes: None,
    }
    .endpoints();
    assert_eq!(g.scopes, ["https://mail.google.com/"]);
    // Without offline access and a consent page Google gives no refresh token.
    assert_eq!(g.authorize, "https://accounts.google.com/o/oauth2/v2/auth");
    for (name, value) in [("access_type", "offline"), ("prompt", "consent")] {
        assert!(
            g.authorize_params
                .contains(&(name.to_owned(), value.to_owned())),
            "{name}={value}"
        );
    }
    let o = oauth::OAuthSettings {
        provider: oauth::Provider::Generic,
        client_id: "x".into(),
        tenant: None,
        issuer: Some("https://id.example.test/".into()),
        scopes: None,
    }
    .endpoints();
    assert_eq!(o.authorize, "https://id.example.test/auth");
    // Google refuses the Gmail scope in the device flow; Microsoft's usual way is the code.
    use oauth::{Flow, Provider};
    assert_eq!(Provider::Google.flows(), [Flow::Browser]);
    assert_eq!(Provider::Microsoft365.flows()[0], Flow::Device);
    assert!(Provider::Microsoft365.flows().contains(&Flow::Browser));
    assert!(Provider::Generic.flows().contains(&Flow::Device));
}

/// A relay profile on Postfix 127.0.0.1:3125 that signs in with the test IdP (generic
/// preset), not signed in yet.
struct OAuthProfile {
    _dir: tempfile::TempDir,
    store: Store,
    admin: operators::Session,
    profile: profiles::Profile,
    settings: oauth::OAuthSettings,
    trust: mergeguard::trust::Trust,
    user: String,
    password: String,
    /// The keychain account of its refresh token.
    account: String,
}

fn oauth_profile(prefix: &str) -> OAuthProfile {
    let e = env();
    let now = OffsetDateTime::now_utc();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    operators::create_first_admin(&store, "admin", &Secret::new("999999"), now).unwrap();
    let admin = operators::sign_in(&store, "admin", &Secret::new("999999"), now).unwrap();
    let user = e["OAUTH_MAILBOX_USER"].clone();
    let name = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    let profile = profiles::add(
        &store,
        &admin,
        &ProfileInput {
            name: name.clone(),
            provider: "other".into(),
            host: "127.0.0.1".into(),
            port: Some(3125),
            security: "starttls".into(),
            username: user.clone(),
            ca_file: Some(ca()),
            ..ProfileInput::default()
        },
        None,
        now,
    )
    .unwrap();
    let settings = oauth::configure(
        &store,
        &admin,
        &profile,
        Some(&OAuthInput {
            provider: "generic".into(),
            client_id: e["OAUTH_MAILBOX_CLIENT_ID"].clone(),
            issuer: e["OAUTH_MAILBOX_ISSUER"].clone(),
            scopes: e["OAUTH_MAILBOX_SCOPE"].clone(),
            ..OAuthInput::default()
        }),
        now,
    )
    .unwrap()
    .unwrap();
    let profile = profiles::get(&store, &name).unwrap();
    let trust = oauth::trust_for(&profile).unwrap();
    OAuthProfile {
        _dir: dir,
        store,
        admin,
        account: format!("{}:{}", name.to_lowercase(), user),
        profile,
        settings,
        trust,
        user,
        password: e["OAUTH_MAILBOX_PASSWORD"].clone(),
    }
}

/// The browser sign-in, with browser.py as the person's browser.
async fn browser_sign_in(f: &OAuthProfile) {
    let pending = oauth::start_browser_sign_in(&f.settings, &f.profile, &f.trust)
        .await
        .unwrap();
    let (url, login, password) = (
        pending.authorize_url.clone(),
        f.user.clone(),
        f.password.clone(),
    );
    let person = std::thread::spawn(move || browser(&["signin", &url, &login, &password]));
    oauth::finish_browser_sign_in(
        &f.store,
        &f.settings,
        &f.profile,
        &pending,
        &f.trust,
        &f.admin,
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    person.join().unwrap();
}

/// The relay as the send path builds it for an OAuth2 profile: XOAUTH2 only, a token
/// asked of `tokens` for every connection.
fn relay_with(tokens: Arc<dyn TokenSource>, user: &str) -> Arc<SmtpRelay> {
    let mut smtp = SmtpSettings::new("127.0.0.1", 3125, Security::StartTls);
    smtp.username = Some(user.to_owned());
    smtp.token_source = Some(tokens);
    smtp.mechanisms = vec![lettre::transport::smtp::authentication::Mechanism::Xoauth2];
    smtp.extra_ca_pem = Some(std::fs::read(ca()).unwrap());
    smtp.timeout = Duration::from_secs(10);
    Arc::new(SmtpRelay::new(smtp).unwrap())
}

async fn deliver_one(
    relay: &SmtpRelay,
    session: &mut <SmtpRelay as Relay>::Session,
    user: &str,
    subject: &str,
) -> Delivery {
    let id = format!("<{}@mail.test>", uuid::Uuid::new_v4().simple());
    relay
        .deliver(
            session,
            &Outgoing {
                row: 2,
                message_id: id.clone(),
                envelope_from: user.to_owned(),
                envelope_to: vec![user.to_owned()],
                raw: format!(
                    "From: {user}\r\nTo: {user}\r\nSubject: {subject}\r\nMessage-ID: {id}\r\n\r\nsent with a token\r\n"
                )
                .into_bytes(),
            },
        )
        .await
}

/// A plain HTTP request to the loopback listener, as any program on the computer could
/// send; the whole answer.
async fn http_get(port: u16, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sign_in_with_pkce_then_a_send_with_xoauth2() {
    require_session();
    let f = oauth_profile("browser");
    let issuer = env()["OAUTH_MAILBOX_ISSUER"].clone();
    let pending = oauth::start_browser_sign_in(&f.settings, &f.profile, &f.trust)
        .await
        .unwrap();
    // The IdP's authorization endpoint, with a new state, an S256 challenge and the
    // address on 127.0.0.1 the browser comes back to.
    let url = oauth2::url::Url::parse(&pending.authorize_url).unwrap();
    assert_eq!(
        format!("{}/auth", url.origin().ascii_serialization()),
        format!("{issuer}/auth")
    );
    assert_eq!(url.path(), "/auth");
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], f.settings.client_id);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43, "SHA-256, base64url");
    assert!(q["state"].len() >= 16, "{:?}", q["state"]);
    assert_eq!(q["prompt"], "consent", "offline_access needs consent");
    assert_eq!(q["scope"], env()["OAUTH_MAILBOX_SCOPE"]);
    let redirect = pending.redirect_uri().unwrap();
    assert_eq!(q["redirect_uri"], redirect);
    let port: u16 = redirect
        .strip_prefix("http://127.0.0.1:")
        .and_then(|r| r.strip_suffix("/callback"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a loopback redirect: {redirect}"));
    // What the window gets: the address, never the verifier or the state on its own.
    let shown = serde_json::to_value(&pending).unwrap();
    let keys: Vec<&String> = shown.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["authorize_url", "expires_in", "profile"], "{shown}");

    let (authorize, login, password) = (
        pending.authorize_url.clone(),
        f.user.clone(),
        f.password.clone(),
    );
    let person = std::thread::spawn(move || browser(&["signin", &authorize, &login, &password]));
    let now = OffsetDateTime::now_utc();
    oauth::finish_browser_sign_in(
        &f.store,
        &f.settings,
        &f.profile,
        &pending,
        &f.trust,
        &f.admin,
        now,
    )
    .await
    .unwrap();
    person.join().unwrap();
    assert!(oauth::is_signed_in(&f.profile).unwrap());
    let refresh = stored_refresh_token(&f.account).expect("refresh token in the keychain");
    // Used once; the listener is gone.
    let again = oauth::finish_browser_sign_in(
        &f.store,
        &f.settings,
        &f.profile,
        &pending,
        &f.trust,
        &f.admin,
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), ErrorCode::InvalidInput, "{again}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());

    // A send through Postfix with SASL XOAUTH2, the token asked for by the connection.
    let tokens = Arc::new(oauth::ProfileTokens::new(
        f.settings.clone(),
        f.profile.clone(),
        f.trust.clone(),
    ));
    let relay = relay_with(tokens.clone(), &f.user);
    let mut session = relay.open().await.unwrap();
    let delivery = deliver_one(&relay, &mut session, &f.user, "browser sign-in").await;
    assert!(
        matches!(delivery, Delivery::Accepted { .. }),
        "{delivery:?}"
    );
    SmtpRelay::close(session).await;

    // Logged as a browser sign-in; no token, code or verifier in the log or the folder.
    let token = tokens.token().await.unwrap();
    let log = mergeguard::audit::entries(&f.store, &Default::default()).unwrap();
    let signed: Vec<_> = log.iter().filter(|e| e.kind == "oauth_signed_in").collect();
    assert_eq!(signed.len(), 1);
    let details: serde_json::Value = serde_json::from_str(&signed[0].details).unwrap();
    assert_eq!(details["flow"], "browser");
    for entry in &log {
        assert!(!entry.details.contains(&refresh));
        assert!(!entry.details.contains(token.expose()));
    }
    for file in std::fs::read_dir(f._dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap_or_default();
        for secret in [refresh.as_str(), token.expose()] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_callback_signs_nobody_in_and_a_declined_consent_says_so() {
    require_session();
    let f = oauth_profile("declined");
    let pending = oauth::start_browser_sign_in(&f.settings, &f.profile, &f.trust)
        .await
        .unwrap();
    let redirect = pending.redirect_uri().unwrap();
    let port: u16 = redirect
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/callback")
        .parse()
        .unwrap();
    let (authorize, login, password) = (
        pending.authorize_url.clone(),
        f.user.clone(),
        f.password.clone(),
    );
    let others = async {
        // A connection that never says anything (browsers open spare ones) holds nobody up.
        let _idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        // A callback with another state, or none: refused, and the wait goes on.
        let forged = http_get(
            port,
            "GET /callback?code=forged&state=not-this-sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        )
        .await;
        assert!(forged.starts_with("HTTP/1.1 400 "), "{forged}");
        assert!(forged.contains("start the sign-in again"), "{forged}");
        let no_state = http_get(
            port,
            "GET /callback?code=forged HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        )
        .await;
        assert!(no_state.starts_with("HTTP/1.1 400 "), "{no_state}");
        let elsewhere =
            http_get(port, "GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
        assert!(elsewhere.starts_with("HTTP/1.1 404 "), "{elsewhere}");
        // A request head over 8 KiB is not read further.
        let huge = format!(
            "GET /callback HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {}\r\n\r\n",
            "a".repeat(16 * 1024)
        );
        let huge = http_get(port, &huge).await;
        assert!(huge.starts_with("HTTP/1.1 431 "), "{huge}");
        // Then the person presses Cancel on the IdP's page.
        tokio::task::spawn_blocking(move || {
            browser(&["signin", &authorize, &login, &password, "--decline"])
        })
        .await
        .unwrap();
    };
    let (result, ()) = tokio::join!(
        oauth::finish_browser_sign_in(
            &f.store,
            &f.settings,
            &f.profile,
            &pending,
            &f.trust,
            &f.admin,
            OffsetDateTime::now_utc(),
        ),
        others
    );
    let err = result.unwrap_err();
    assert_eq!(err.code(), ErrorCode::AuthFailed, "{err}");
    assert_eq!(err.to_string(), "the sign-in was declined in the browser");
    let shown = mergeguard::error::UserError::from(err);
    assert_eq!(shown.reason.map(|r| r.key), Some("sign_in_declined"));
    assert!(!oauth::is_signed_in(&f.profile).unwrap());
    assert!(stored_refresh_token(&f.account).is_none());
    let log = mergeguard::audit::entries(&f.store, &Default::default()).unwrap();
    assert!(!log.iter().any(|e| e.kind == "oauth_signed_in"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_relay_connection_asks_for_a_token_and_refreshes_one_that_is_due() {
    require_session();
    let f = oauth_profile("per-connection");
    let tokens = Arc::new(oauth::ProfileTokens::new(
        f.settings.clone(),
        f.profile.clone(),
        f.trust.clone(),
    ));
    let relay = relay_with(tokens.clone(), &f.user);
    // Not signed in: the connection is not even made, and the error says "sign in again".
    let err = match relay.open().await {
        Err(e) => e,
        Ok(_) => panic!("a relay connection without a sign-in"),
    };
    assert_eq!(err.code(), ErrorCode::SignInRequired, "{err}");

    browser_sign_in(&f).await;
    let after_sign_in = stored_refresh_token(&f.account).unwrap();
    // The first connection uses the token from the sign-in: not due, no refresh.
    let mut first = relay.open().await.unwrap();
    assert_eq!(stored_refresh_token(&f.account).unwrap(), after_sign_in);
    // A long send: by the next connection the token is due, and that connection
    // refreshes (the rotated refresh token replaces the old one in the keychain).
    until_due().await;
    let mut second = relay.open().await.unwrap();
    let after_second = stored_refresh_token(&f.account).unwrap();
    assert_ne!(
        after_second, after_sign_in,
        "the second connection refreshed"
    );
    for (session, subject) in [
        (&mut second, "second connection"),
        (&mut first, "first connection"),
    ] {
        let delivery = deliver_one(&relay, session, &f.user, subject).await;
        assert!(
            matches!(delivery, Delivery::Accepted { .. }),
            "{subject}: {delivery:?}"
        );
    }
    SmtpRelay::close(first).await;
    SmtpRelay::close(second).await;

    // A token the relay refused is forgotten: the next connection gets a new one.
    let current = tokens.token().await.unwrap();
    tokens.refused(&current);
    let next = tokens.token().await.unwrap();
    assert_ne!(next.expose(), current.expose());
    assert_ne!(stored_refresh_token(&f.account).unwrap(), after_second);
}
