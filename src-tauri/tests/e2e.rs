//! End-to-end test: starts the real app under X (Xvfb in CI) and drives it through
//! WebDriver (tauri-driver + WebKitWebDriver): load the example CSV, compose with a merge
//! field, step to the 3rd message, check its name and that the raw source has one `To`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use mergeguard::recipients::{import_path, ImportOptions};

/// The WebDriver port (tauri-driver); the native WebKitWebDriver listens on the next one.
/// `MG_TEST_WEBDRIVER_PORT` moves both, so several test runs can share a machine.
fn driver_port() -> u16 {
    match std::env::var("MG_TEST_WEBDRIVER_PORT") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().unwrap_or_else(|_| {
            panic!("MG_TEST_WEBDRIVER_PORT={v:?} is not a port number")
        }),
        _ => 4444,
    }
}

/// tauri-driver, stopped with SIGTERM so it also stops WebKitWebDriver (SIGKILL would
/// orphan it and keep its port busy).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

fn find_tauri_driver() -> PathBuf {
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("tauri-driver")).collect::<Vec<_>>())
        .unwrap_or_default();
    let home = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin/tauri-driver"));
    in_path.into_iter().chain(home).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("tauri-driver not found: install it with `cargo install tauri-driver --locked --version ^2`")
    })
}

async fn wait_for_text(client: &Client, css: &str, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(expected) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

#[tokio::test(flavor = "multi_thread")]
async fn load_csv_compose_and_preview_third_message() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "DISPLAY is not set: run under an X server, e.g. `xvfb-run -a cargo test -p mergeguard-app --test e2e`"
    );
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let csv = examples.join("customers.csv").canonicalize().expect("examples/customers.csv exists");

    // The expected values come from the core import of the same file, not hard-coded.
    let list = import_path(&csv, &ImportOptions::default()).expect("core imports the example CSV");
    assert!(list.recipients.len() >= 3, "the example CSV needs at least 3 recipients");
    let name_index = list
        .fields
        .iter()
        .position(|f| ["氏名", "名前", "name", "Name"].contains(&f.as_str()))
        .or_else(|| list.fields.iter().position(|f| *f != list.email_column))
        .expect("a name column besides the address");
    let third = &list.recipients[2];
    let expected_name = third.values[name_index].clone();

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&shots).expect("create target/screenshots");
    let data = std::env::temp_dir().join(format!("mergeguard-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&data).expect("temp data dir");

    let port = driver_port();
    let native_port = port.checked_add(1).expect("MG_TEST_WEBDRIVER_PORT below 65535");
    let _driver = Driver(
        Command::new(find_tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("XDG_DATA_HOME", &data)
            .env("XDG_CONFIG_HOME", &data)
            .stdout(Stdio::null())
            .spawn()
            .expect("start tauri-driver"),
    );
    // With ring and aws-lc-rs both compiled in, rustls has no process default and
    // `ClientBuilder::rustls()` panics; pick ring, as the core does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": env!("CARGO_BIN_EXE_mergeguard-app") }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        match ClientBuilder::rustls().expect("tls").capabilities(caps.clone()).connect(&url).await {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("cannot start a WebDriver session through tauri-driver: {e}"),
        }
    };

    // 1. Recipients: type the CSV path and load it.
    client.wait().for_element(Locator::Css("body[data-ready='true']")).await.expect("UI ready");
    let path_field = client.find(Locator::Id("recipients-path")).await.unwrap();
    path_field.send_keys(&csv.display().to_string()).await.unwrap();
    client.find(Locator::Id("recipients-load")).await.unwrap().click().await.unwrap();
    // The summary holds counts and the file name, not addresses: wait on the table.
    let table = wait_for_text(&client, "#recipients-table", &third.email).await;
    let summary = client.find(Locator::Id("recipients-summary")).await.unwrap().text().await.unwrap();
    assert!(
        summary.contains(&list.recipients.len().to_string()),
        "summary counts {} recipients: {summary}",
        list.recipients.len()
    );
    assert!(table.contains(&third.email), "recipient table lists {}: {table}\n{summary}", third.email);
    screenshot(&client, &shots, "1-recipients").await;

    // 2. Compose: a subject and body that use the name field, inserted with its chip.
    client.find(Locator::Id("nav-compose")).await.unwrap().click().await.unwrap();
    client.find(Locator::Id("compose-from-name")).await.unwrap().send_keys("Shop").await.unwrap();
    client.find(Locator::Id("compose-from-address")).await.unwrap().send_keys("info@shop.test").await.unwrap();
    let chip = format!("#compose-fields button:nth-child({})", name_index + 1);
    client.find(Locator::Id("compose-subject")).await.unwrap().send_keys("Hello ").await.unwrap();
    client.find(Locator::Css(&chip)).await.unwrap().click().await.unwrap();
    client.find(Locator::Id("compose-text")).await.unwrap().send_keys("Dear ").await.unwrap();
    client.find(Locator::Css(&chip)).await.unwrap().click().await.unwrap();
    client.find(Locator::Id("compose-apply")).await.unwrap().click().await.unwrap();
    let status = wait_for_text(&client, "#status", "Preview").await;
    screenshot(&client, &shots, "2-compose").await;

    // 3. Preview: step to the 3rd message.
    client.find(Locator::Id("nav-preview")).await.unwrap().click().await.unwrap();
    wait_for_text(&client, "#preview-to", "@").await;
    // Two clicks without waiting in between: the second must move on from the first
    // (regression: both used to start from message 1 and the preview stopped at 2).
    for _ in 0..2 {
        client.find(Locator::Id("preview-next")).await.unwrap().click().await.unwrap();
    }
    let to = wait_for_text(&client, "#preview-to", &third.email).await;
    assert_eq!(to.trim(), third.email, "To of the 3rd message (status: {status})");
    let index = client.find(Locator::Id("preview-index")).await.unwrap();
    assert_eq!(index.attr("data-index").await.unwrap().as_deref(), Some("3"));
    let subject = client.find(Locator::Id("preview-subject")).await.unwrap().text().await.unwrap();
    let text = client.find(Locator::Id("preview-text")).await.unwrap().text().await.unwrap();
    assert!(subject.contains(&expected_name), "subject {subject:?} names {expected_name:?}");
    assert!(text.contains(&expected_name), "text {text:?} names {expected_name:?}");

    let raw = client.find(Locator::Id("preview-raw")).await.unwrap().text().await.unwrap();
    let header = raw.split("\n\n").next().unwrap_or("").replace('\r', "");
    let names: Vec<String> = header
        .lines()
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split(':').next().map(|n| n.to_ascii_lowercase()))
        .collect();
    assert_eq!(names.iter().filter(|n| *n == "to").count(), 1, "exactly one To header:\n{header}");
    assert!(!names.iter().any(|n| n == "cc" || n == "bcc"), "no Cc/Bcc header:\n{header}");
    assert!(header.contains(&third.email), "the To header holds {}:\n{header}", third.email);
    screenshot(&client, &shots, "3-preview").await;

    client.close().await.expect("close the session");
    let _ = std::fs::remove_dir_all(&data);
}
