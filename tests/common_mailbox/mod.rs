//! The mailbox test servers (tests/servers/mailbox.sh) from a Rust test: their
//! environment file, and an IMAP session of their own to seed folders and look at them
//! (test code, separate from the product's connection in src/mailbox/imap.rs).

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_imap::Session;
use futures_util::TryStreamExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub type Imap = Session<TlsStream<TcpStream>>;

/// `$MG_TEST_DIR/mailbox/env`, as KEY → value.
pub fn env() -> HashMap<String, String> {
    let dir = std::env::var("MG_TEST_DIR").unwrap_or_else(|_| "/tmp/mergeguard-test".into());
    let path = PathBuf::from(dir).join("mailbox/env");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the mailbox servers are not running ({}: {e}); start them with \
             MG_TEST_DIR=... tests/servers/mailbox.sh start",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('\'').to_owned()))
        .collect()
}

pub fn ca() -> PathBuf {
    PathBuf::from(&env()["OAUTH_MAILBOX_CA"])
}

/// IMAPS 127.0.0.1:3193 as bob (password), for seeding and inspecting.
pub async fn bob() -> Imap {
    let trust = mergeguard::trust::Trust::with_ca_file(Some(&ca())).unwrap();
    let config = trust.client_config(None).unwrap();
    let tcp = TcpStream::connect("127.0.0.1:3193").await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::clone(&config))
        .connect("127.0.0.1".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tls);
    client.read_response().await.unwrap().unwrap();
    let e = env();
    client
        .login(&e["OAUTH_MAILBOX_USER2"], &e["OAUTH_MAILBOX_PASSWORD2"])
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}

/// A new, empty folder for one test run.
pub async fn new_folder(s: &mut Imap, prefix: &str) -> String {
    let name = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    s.create(&name).await.unwrap();
    name
}

pub async fn append(s: &mut Imap, folder: &str, raw: &[u8]) {
    s.append(folder, None, None, raw).await.unwrap();
}

/// (uid, flags) of every message of `folder`.
pub async fn flags(s: &mut Imap, folder: &str) -> Vec<(u32, Vec<String>)> {
    s.examine(folder).await.unwrap();
    let fetched: Vec<_> = s
        .uid_fetch("1:*", "(UID FLAGS)")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut out: Vec<(u32, Vec<String>)> = fetched
        .iter()
        .map(|f| {
            (
                f.uid.unwrap(),
                f.flags().map(|fl| format!("{fl:?}")).collect(),
            )
        })
        .collect();
    out.sort();
    out
}
