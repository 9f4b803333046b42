//! "Never a send that half-runs" (issue 15): an approved campaign whose relay profile
//! signs in with OAuth2, but whose sign-in is gone, is refused with `sign_in_required`
//! before its first message; nothing reaches the relay (Postfix on 127.0.0.1:2525).
//! Needs the keychain and the project's servers:
//!   tests/servers/keyring-session.sh cargo test -p mergeguard --test oauth_send

mod common_flow;

use common_flow::*;
use mergeguard::error::ErrorCode;
use mergeguard::oauth::{self, OAuthInput};
use mergeguard::profiles::{self, ProfileInput};
use mergeguard::send::{Control, SendOptions, State};
use mergeguard::workflow::{self, SendRequest};
use time::OffsetDateTime;

#[test]
fn an_approved_campaign_with_a_withdrawn_sign_in_sends_nothing() {
    if std::env::var("MG_TEST_KEYRING").as_deref() != Ok("1") {
        panic!("run inside tests/servers/keyring-session.sh (a real Secret Service)");
    }
    let dir = tempfile::tempdir().unwrap();
    let (store, root) = store_with_people(&dir.path().join("data"));
    let now = OffsetDateTime::now_utc();
    let name = format!("m365-{}", uuid::Uuid::new_v4().simple());
    let (host, port) = env("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525")
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.parse::<u32>().unwrap()))
        .unwrap();
    let profile = profiles::add(
        &store,
        &root,
        &ProfileInput {
            name: name.clone(),
            provider: "other".into(),
            host,
            port: Some(port),
            security: "starttls".into(),
            username: env("MG_TEST_SMTP_USER", "mailer"),
            ca_file: Some(ca_path().into()),
            ..ProfileInput::default()
        },
        Some(&password()),
        now,
    )
    .unwrap();
    // The campaign names the profile instead of writing the relay out.
    let id = unique("oauth-send");
    let path = relay_campaign(
        dir.path(),
        &id,
        "name,email\nTaro,taro@good.test\nHanako,hanako@good.test\n",
        "",
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("[relay]").unwrap();
    let end = text.find("[dkim]").unwrap();
    let text = format!(
        "{}[relay]\nprofile = \"{name}\"\n{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(&path, text).unwrap();
    let mut options = options();
    options.relay_profiles = profiles::list(&store).unwrap();
    let prepared = prepare_with(&path, &options);
    approve(&store, &root, &prepared);
    // After approval an admin switches the profile to OAuth2; nobody has signed in (or
    // the consent was withdrawn: the stored token is then removed the same way).
    oauth::configure(
        &store,
        &root,
        &profile,
        Some(&OAuthInput {
            provider: "generic".into(),
            client_id: "mail-client".into(),
            issuer: "https://127.0.0.1:3100".into(),
            ..OAuthInput::default()
        }),
        now,
    )
    .unwrap();
    let (_tx, control) = tokio::sync::watch::channel(Control::Run);
    let err = workflow::send(
        &store,
        &prepared,
        SendRequest {
            operator: "root".into(),
            password: None,
            options: SendOptions::default(),
        },
        control,
        &|_| {},
    )
    .expect_err("no send without a working sign-in");
    assert_eq!(err.code, ErrorCode::SignInRequired, "{err:?}");
    assert!(err.message.contains("sign in again"), "{}", err.message);
    // Nothing was handed to the relay: no row is sent, sending or unknown.
    let rows = workflow::report(&store, &prepared.campaign_id).unwrap();
    assert!(
        rows.iter()
            .all(|r| !matches!(r.state, State::Sent | State::Sending | State::Unknown)),
        "{rows:?}"
    );
    let ids: Vec<String> = ["taro@good.test", "hanako@good.test"]
        .iter()
        .map(|e| message_id(&prepared.campaign_id, e))
        .collect();
    assert!(delivered(&ids).values().all(|v| v.is_empty()));
    profiles::remove(&store, &root, &name, now).unwrap();
}
