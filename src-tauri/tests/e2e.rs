//! End-to-end test: starts the real app under X (Xvfb in CI) and drives it through
//! WebDriver (tauri-driver + WebKitWebDriver) in one scenario: create the first
//! administrator, load the example CSV, compose with a merge field, step to the 3rd
//! message (its name, exactly one `To`), open a copy of the example campaign, run the
//! pre-flight checklist, add an approver, submit and approve on the same screen, "send"
//! to the Outbox folder, and read the operation log. A screenshot of every screen goes
//! to target/screenshots (English, plus the checklist in Japanese).
//!
//! Run: `Xvfb :93 -screen 0 1366x768x24 & DISPLAY=:93 MG_TEST_WEBDRIVER_PORT=4493
//! cargo test -p mergeguard-app --test e2e` (tauri-driver from `cargo install tauri-driver`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use mergeguard::recipients::{import_path, ImportOptions};

/// The WebDriver port (tauri-driver); the native WebKitWebDriver listens on the next one.
/// `MG_TEST_WEBDRIVER_PORT` moves both, so several test runs can share a machine.
fn driver_port() -> u16 {
    match std::env::var("MG_TEST_WEBDRIVER_PORT") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("MG_TEST_WEBDRIVER_PORT={v:?} is not a port number")),
        _ => 4444,
    }
}

/// tauri-driver, stopped with SIGTERM so it also stops WebKitWebDriver (SIGKILL would
/// orphan it and keep its port busy).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        // Never hang the test run on a driver that does not stop: after 10 s, kill it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("tauri-driver did not stop on SIGTERM; killing it");
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_tauri_driver() -> PathBuf {
    let in_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("tauri-driver"))
                .collect::<Vec<_>>()
        })
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

async fn click(client: &Client, id: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn type_into(client: &Client, id: &str, text: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

async fn screenshot(client: &Client, dir: &Path, name: &str) {
    // WebKit paints a moment after the DOM changes; without this pause a screenshot can
    // show the screen as it was before the last step.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_load_preview_check_approve_and_send() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "DISPLAY is not set: run under an X server, e.g. `xvfb-run -a cargo test -p mergeguard-app --test e2e`"
    );
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let csv = examples
        .join("customers.csv")
        .canonicalize()
        .expect("examples/customers.csv exists");

    // The expected values come from the core import of the same file, not hard-coded.
    let list = import_path(&csv, &ImportOptions::default()).expect("core imports the example CSV");
    assert!(
        list.recipients.len() >= 3,
        "the example CSV needs at least 3 recipients"
    );
    let name_index = list
        .fields
        .iter()
        .position(|f| ["氏名", "名前", "name", "Name"].contains(&f.as_str()))
        .or_else(|| list.fields.iter().position(|f| *f != list.email_column))
        .expect("a name column besides the address");
    let third = &list.recipients[2];
    let expected_name = third.value(name_index).expect("the name cell").to_owned();

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&shots).expect("create target/screenshots");
    let data = std::env::temp_dir().join(format!("mergeguard-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("temp data dir");
    // A copy of the example campaign: the send writes its Outbox folder next to it.
    let work = data.join("campaign");
    std::fs::create_dir_all(&work).unwrap();
    for f in [
        "campaign.toml",
        "customers.csv",
        "newsletter.txt",
        "newsletter.html",
        "coupon.txt",
    ] {
        std::fs::copy(examples.join(f), work.join(f)).expect("copy the example campaign");
    }

    let (driver, client) = launch(&data, &[]).await;

    // 0. First start: create the administrator (name + PIN twice).
    client
        .wait()
        .for_element(Locator::Css("body[data-ready='true']"))
        .await
        .expect("UI ready");
    let title = wait_for_text(&client, "#gate-title", "administrator").await;
    assert!(
        title.contains("administrator"),
        "first run asks for the administrator: {title}"
    );
    screenshot(&client, &shots, "0-first-admin").await;
    type_into(&client, "gate-name", "Aiko").await;
    type_into(&client, "gate-pin", "246813").await;
    type_into(&client, "gate-pin-again", "246813").await;
    click(&client, "gate-submit").await;
    let who = wait_for_text(&client, "#whoami", "Aiko").await;
    assert!(who.contains("Aiko"), "signed in as the new admin: {who}");

    // 1. Recipients: type the CSV path and load it.
    let path_field = client.find(Locator::Id("recipients-path")).await.unwrap();
    path_field
        .send_keys(&csv.display().to_string())
        .await
        .unwrap();
    client
        .find(Locator::Id("recipients-load"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The summary holds counts and the file name, not addresses: wait on the table.
    let table = wait_for_text(&client, "#recipients-table", third.email()).await;
    let summary = client
        .find(Locator::Id("recipients-summary"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        summary.contains(&list.recipients.len().to_string()),
        "summary counts {} recipients: {summary}",
        list.recipients.len()
    );
    assert!(
        table.contains(third.email()),
        "recipient table lists {}: {table}\n{summary}",
        third.email()
    );
    screenshot(&client, &shots, "1-recipients").await;

    // 2. Compose: a subject and body that use the name field, inserted with its chip.
    client
        .find(Locator::Id("nav-compose"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Id("compose-from-name"))
        .await
        .unwrap()
        .send_keys("Shop")
        .await
        .unwrap();
    client
        .find(Locator::Id("compose-from-address"))
        .await
        .unwrap()
        .send_keys("info@shop.test")
        .await
        .unwrap();
    let chip = format!("#compose-fields button:nth-child({})", name_index + 1);
    client
        .find(Locator::Id("compose-subject"))
        .await
        .unwrap()
        .send_keys("Hello ")
        .await
        .unwrap();
    client
        .find(Locator::Css(&chip))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Id("compose-text"))
        .await
        .unwrap()
        .send_keys("Dear ")
        .await
        .unwrap();
    client
        .find(Locator::Css(&chip))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Id("compose-apply"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let status = wait_for_text(&client, "#status", "Preview").await;
    screenshot(&client, &shots, "2-compose").await;

    // 3. Preview: step to the 3rd message.
    client
        .find(Locator::Id("nav-preview"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&client, "#preview-to", "@").await;
    // Two clicks without waiting in between: the second must move on from the first
    // (regression: both used to start from message 1 and the preview stopped at 2).
    for _ in 0..2 {
        client
            .find(Locator::Id("preview-next"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    let to = wait_for_text(&client, "#preview-to", third.email()).await;
    assert_eq!(
        to.trim(),
        third.email(),
        "To of the 3rd message (status: {status})"
    );
    let index = client.find(Locator::Id("preview-index")).await.unwrap();
    assert_eq!(
        index.attr("data-index").await.unwrap().as_deref(),
        Some("3")
    );
    let subject = client
        .find(Locator::Id("preview-subject"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let text = client
        .find(Locator::Id("preview-text"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        subject.contains(&expected_name),
        "subject {subject:?} names {expected_name:?}"
    );
    assert!(
        text.contains(&expected_name),
        "text {text:?} names {expected_name:?}"
    );

    let raw = client
        .find(Locator::Id("preview-raw"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let header = raw.split("\n\n").next().unwrap_or("").replace('\r', "");
    let names: Vec<String> = header
        .lines()
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split(':').next().map(|n| n.to_ascii_lowercase()))
        .collect();
    assert_eq!(
        names.iter().filter(|n| *n == "to").count(),
        1,
        "exactly one To header:\n{header}"
    );
    assert!(
        !names.iter().any(|n| n == "cc" || n == "bcc"),
        "no Cc/Bcc header:\n{header}"
    );
    assert!(
        header.contains(third.email()),
        "the To header holds {}:\n{header}",
        third.email()
    );
    screenshot(&client, &shots, "3-preview").await;

    // 4. Pre-flight checklist over a copy of the example campaign (Outbox folder).
    click(&client, "nav-recipients").await;
    let field = client.find(Locator::Id("recipients-path")).await.unwrap();
    field.clear().await.unwrap();
    field
        .send_keys(&work.join("campaign.toml").display().to_string())
        .await
        .unwrap();
    click(&client, "recipients-load").await;
    wait_for_text(&client, "#status", "Campaign opened").await;
    click(&client, "nav-checklist").await;
    click(&client, "checklist-run").await;
    let outbox = wait_for_text(&client, "#checklist-destination", "nothing is sent").await;
    assert!(
        outbox.contains("Outbox folder — nothing is sent"),
        "the Outbox is labelled: {outbox}"
    );
    let groups = client
        .find(Locator::Id("checklist-groups"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for area in [
        "Individual addressing",
        "Attachments",
        "Merge completeness",
        "Content",
    ] {
        assert!(
            groups.contains(area),
            "checklist groups show {area}: {groups}"
        );
    }
    let outbox_check = client
        .find(Locator::Css("li.check[data-id='outbox.nothing_sent']"))
        .await
        .unwrap();
    assert_eq!(
        outbox_check.attr("data-status").await.unwrap().as_deref(),
        Some("warning")
    );
    assert!(
        client
            .find(Locator::Css("li.check[data-status='fail']"))
            .await
            .is_err(),
        "the example has no failure"
    );
    screenshot(&client, &shots, "4-checklist").await;

    // The same screen in Japanese: titles and fix hints translated, no boxes for glyphs.
    client
        .find(Locator::Id("language"))
        .await
        .unwrap()
        .select_by_value("ja")
        .await
        .unwrap();
    let ja = wait_for_text(&client, "#checklist-groups", "個別宛て").await;
    assert!(
        ja.contains("個別宛て") && ja.contains("対処"),
        "Japanese checklist: {ja}"
    );
    screenshot(&client, &shots, "4-checklist-ja").await;
    client
        .find(Locator::Id("language"))
        .await
        .unwrap()
        .select_by_value("en")
        .await
        .unwrap();

    // 5. Operators (admin): add the second person, an approver.
    click(&client, "nav-operators").await;
    type_into(&client, "op-name", "Ben").await;
    client
        .find(Locator::Css("input[name='op-role'][value='sender']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Css("input[name='op-role'][value='approver']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_into(&client, "op-pin", "135792").await;
    type_into(&client, "op-pin-again", "135792").await;
    click(&client, "op-add").await;
    let ops = wait_for_text(&client, "#operators-table", "Ben").await;
    assert!(
        ops.contains("Ben") && ops.contains("Approver"),
        "Ben is listed as approver: {ops}"
    );
    screenshot(&client, &shots, "5-operators").await;

    // 6. Approval, one screen for both people.
    click(&client, "nav-approval").await;
    wait_for_text(&client, "#approval-summary", "Recipients").await;
    click(&client, "approval-submit").await;
    let submitted = wait_for_text(&client, "#approval-submitted", "Submitted by Aiko").await;
    assert!(submitted.contains("Submitted by Aiko"), "{submitted}");
    // The preparer cannot approve their own campaign; the words say why.
    for b in client.find_all(Locator::Css(".ack-box")).await.unwrap() {
        b.click().await.unwrap();
    }
    type_into(&client, "approval-name", "Aiko").await;
    type_into(&client, "approval-pin", "246813").await;
    click(&client, "approval-approve").await;
    let refused = wait_for_text(&client, "#status", "different person").await;
    assert!(
        refused.contains("different person"),
        "same person refused in plain words: {refused}"
    );
    client
        .find(Locator::Id("approval-name"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    type_into(&client, "approval-name", "Ben").await;
    type_into(&client, "approval-pin", "135792").await;
    click(&client, "approval-approve").await;
    let approved = wait_for_text(&client, "#approval-result", "Approved by Ben").await;
    assert!(approved.contains("Approved by Ben"), "{approved}");
    screenshot(&client, &shots, "6-approval").await;
    // The approval screen in Japanese, scrolled to the top (fingerprint and destination).
    client
        .find(Locator::Id("language"))
        .await
        .unwrap()
        .select_by_value("ja")
        .await
        .unwrap();
    let ja = wait_for_text(&client, "#approval-summary", "フィンガープリント").await;
    assert!(
        ja.contains("フィンガープリント"),
        "Japanese approval summary: {ja}"
    );
    client
        .execute("document.querySelector('main').scrollTop = 0", vec![])
        .await
        .unwrap();
    screenshot(&client, &shots, "6-approval-ja").await;
    client
        .find(Locator::Id("language"))
        .await
        .unwrap()
        .select_by_value("en")
        .await
        .unwrap();

    // 7. Send to the Outbox folder: one .eml per recipient, and the report.
    click(&client, "nav-send").await;
    wait_for_text(&client, "#send-destination", "nothing is sent").await;
    click(&client, "send-start").await;
    let done = wait_for_text(&client, "#status", "Finished").await;
    assert!(
        done.contains(&format!("{} sent", list.recipients.len())),
        "all sent: {done}"
    );
    let report = wait_for_text(&client, "#send-report", third.email()).await;
    assert!(
        report.contains(third.email()),
        "the report lists every row: {report}"
    );
    let emls = std::fs::read_dir(work.join("outbox"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        emls,
        list.recipients.len(),
        "one file per recipient in the Outbox folder"
    );
    screenshot(&client, &shots, "7-send").await;

    // 8. Operation log: the chain verifies and the approval is in it.
    click(&client, "nav-log").await;
    let verified = wait_for_text(&client, "#log-verify", "verifies").await;
    assert!(verified.contains("verifies"), "{verified}");
    let log = wait_for_text(&client, "#log-table", "Approval granted").await;
    assert!(
        log.contains("Approval granted") && log.contains("Send finished"),
        "{log}"
    );
    screenshot(&client, &shots, "8-log").await;

    // 8b. Do not mail: the admin puts an address on the suppression list.
    click(&client, "nav-suppression").await;
    type_into(&client, "suppression-addresses", "stop@example.jp").await;
    click(&client, "suppression-add").await;
    let listed = wait_for_text(&client, "#suppression-table", "stop@example.jp").await;
    assert!(listed.contains("Asked not to be mailed"), "{listed}");
    screenshot(&client, &shots, "8b-do-not-mail").await;

    // 8c. Load example: the app copies its bundled example (the resource folder tauri-build
    // fills, never the source checkout) into the user's campaigns folder and opens it.
    click(&client, "nav-recipients").await;
    click(&client, "recipients-example").await;
    wait_for_text(&client, "#recipients-table", third.email()).await;
    let opened = client
        .find(Locator::Id("recipients-path"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        opened.ends_with("Example campaign/campaign.toml"),
        "the example opens from a copy: {opened}"
    );
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap();
    assert!(
        !Path::new(&opened).starts_with(&checkout),
        "the copy is not in the source checkout: {opened}"
    );
    assert!(
        Path::new(&opened).with_file_name("coupon.txt").is_file(),
        "the whole example was copied next to {opened}"
    );

    client.close().await.expect("close the session");
    drop(driver);

    // 9. A second launch on the same store with a 2-second idle time: the command layer
    // locks the session and the window shows the lock screen; the PIN unlocks it.
    let (driver, client) = launch(&data, &[("MERGEGUARD_IDLE_SECS", "2")]).await;
    client
        .wait()
        .for_element(Locator::Css("body[data-ready='true']"))
        .await
        .expect("UI ready");
    let title = wait_for_text(&client, "#gate-title", "Sign in").await;
    assert!(
        title.contains("Sign in"),
        "an existing store asks to sign in: {title}"
    );
    type_into(&client, "gate-name", "Ben").await;
    type_into(&client, "gate-pin", "135792").await;
    click(&client, "gate-submit").await;
    wait_for_text(&client, "#whoami", "Ben").await;
    assert!(
        client
            .find(Locator::Css("#nav-operators[hidden]"))
            .await
            .is_ok(),
        "no operator screen for a non-admin"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    click(&client, "nav-log").await;
    let locked = wait_for_text(&client, "#gate-title", "Locked").await;
    assert!(locked.contains("Locked"), "idle session locked: {locked}");
    screenshot(&client, &shots, "9-locked").await;
    type_into(&client, "gate-pin", "135792").await;
    click(&client, "gate-submit").await;
    let who = wait_for_text(&client, "#whoami", "Ben").await;
    assert!(who.contains("Ben"), "signed in again: {who}");

    client.close().await.expect("close the session");
    drop(driver);
    let _ = std::fs::remove_dir_all(&data);
}

/// Starts tauri-driver on the private port with the app's data under `data`, and opens a
/// WebDriver session on the app.
async fn launch(data: &Path, env: &[(&str, &str)]) -> (Driver, Client) {
    let port = driver_port();
    let native_port = port
        .checked_add(1)
        .expect("MG_TEST_WEBDRIVER_PORT below 65535");
    let driver = Driver(
        Command::new(find_tauri_driver())
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("XDG_DATA_HOME", data)
            .env("XDG_CONFIG_HOME", data)
            .env("MERGEGUARD_DATA_DIR", data.join("store"))
            .envs(env.iter().copied())
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
        match ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("cannot start a WebDriver session through tauri-driver: {e}"),
        }
    };

    (driver, client)
}
