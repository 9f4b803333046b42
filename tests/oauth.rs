//! OAuth2 sign-in for relay profiles against the real test IdP (oidc-provider), Postfix
//! (SMTP XOAUTH2 through Dovecot SASL) and Dovecot (IMAP XOAUTH2) of
//! tests/servers/mailbox.sh: the device sign-in completed by the test acting as the
//! browser, a send with XOAUTH2, refresh with rotation, and withdrawn consent refused
//! with one plain error. Needs the keychain (the refresh token lives there):
//!   MG_TEST_DIR=... tests/servers/keyring-session.sh cargo test -p mergeguard --test oauth

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
use mergeguard::send::{Delivery, Outgoing, Relay, Security, SmtpRelay, SmtpSettings};
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
    // The IdP's tokens live 60 s, under the refresh margin: every use refreshes, and the
    // rotated refresh token replaces the old one in the keychain.
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

    // The person withdraws consent at the provider: the next use is "sign in again",
    // and the dead refresh token leaves the keychain.
    browser(&["revoke", &stored_refresh_token(&account).unwrap()]);
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
    let g = oauth::OAuthSettings {
        provider: oauth::Provider::Google,
        client_id: "x".into(),
        tenant: None,
        issuer: None,
        scopes: None,
    }
    .endpoints();
    assert_eq!(g.scopes, ["https://mail.google.com/"]);
}
