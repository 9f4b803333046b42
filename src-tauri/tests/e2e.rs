//! End-to-end test: starts the real app under X (Xvfb in CI) and drives it through
//! WebDriver (tauri-driver + WebKitWebDriver) in one scenario that starts from no files
//! at all and never writes a campaign file itself: the first administrator, the getting
//! started steps (the approver, a sending server pointing at the test Postfix with
//! STARTTLS + AUTH and the test CA, its password into the test keyring, Test connection),
//! the sender domain (a DKIM key made in the app; the test publishes the records the app
//! shows into the test DNS zone; Check again passes SPF, DKIM and DMARC), a new campaign
//! (recipient file chosen by path, compose with merge fields and an attachment, save),
//! preview, checklist, submit, the second operator approving on the same screen, the send
//! (every message arrives at Postfix exactly once and its DKIM signature verifies with
//! dkimpy), the log, the campaign list, replies and reports (a Google sign-in's settings:
//! only the browser button, the client secret never shown back), a duplicate, the
//! bundled example, and the idle lock. A screenshot of every screen goes to
//! target/screenshots, in English and Japanese.
//!
//! Run: `Xvfb :93 -screen 0 1366x768x24 & DISPLAY=:93 MG_TEST_WEBDRIVER_PORT=4493
//! cargo test -p mergeguard-app --test e2e` (tauri-driver from `cargo install tauri-driver`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

#[path = "../../tests/common_dns/mod.rs"]
mod common_dns;
use common_dns::{dkimpy_verifies, dns_addr, env, test_dir, zone_edit};

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
    click_css(client, &format!("#{id}")).await;
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

const ADMIN_PIN: &str = "246813";
const APPROVER_PIN: &str = "135792";

/// Chooses the option `value` of the select `id` the way a person does (its change
/// event fires).
async fn select(client: &Client, id: &str, value: &str) {
    let found = client
        .execute(
            "const s = document.getElementById(arguments[0]);\n\
             const o = [...s.options].find((o) => o.value === arguments[1]);\n\
             if (!o) return [...s.options].map((o) => o.value).join(' | ');\n\
             s.value = o.value; s.dispatchEvent(new Event('change', { bubbles: true }));\n\
             return null;",
            vec![id.into(), value.into()],
        )
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    assert!(
        found.is_null(),
        "#{id} has no option {value:?}; it has: {found}"
    );
}

async fn language(client: &Client, lang: &str) {
    select(client, "language", lang).await;
    // Screens built from data re-render (some after an IPC round trip).
    tokio::time::sleep(Duration::from_millis(600)).await;
}

/// Waits until the element matching `css` exists; panics with what the status line says.
async fn wait_for(client: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.find(Locator::Css(css)).await.is_err() {
        if Instant::now() > deadline {
            let status = client
                .find(Locator::Css("body"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap_or_default();
            panic!("{css} did not appear; the window says:\n{status}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The recipients the test gives the app: three people and their names.
const PEOPLE: [(&str, &str); 3] = [
    ("aiko.e2e@example.test", "Aiko"),
    ("bunta.e2e@example.test", "Bunta"),
    ("chika.e2e@example.test", "Chika"),
];

/// Messages of campaign `cid` in the test Postfix's mailbox, per `To` address.
fn delivered(cid: &str, domain: &str) -> std::collections::HashMap<String, Vec<Vec<u8>>> {
    let tag = format!(".{}@{domain}>", &cid[..cid.len().min(12)]);
    let root = PathBuf::from(env("MG_TEST_MAILDIR", &format!("{}/maildir", test_dir())));
    let mut out: std::collections::HashMap<String, Vec<Vec<u8>>> = Default::default();
    for sub in ["new", "cur"] {
        for e in std::fs::read_dir(root.join(sub))
            .into_iter()
            .flatten()
            .flatten()
        {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let header: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
            let mid = header
                .iter()
                .any(|l| l.to_ascii_lowercase().starts_with("message-id:") && l.contains(&tag));
            if !mid {
                continue;
            }
            if let Some(to) = header.iter().find_map(|l| {
                l.strip_prefix("To: ")
                    .map(|v| v.trim().trim_matches(|c| c == '<' || c == '>').to_owned())
            }) {
                out.entry(to).or_default().push(bytes.clone());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn from_no_files_to_a_signed_campaign_at_postfix() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "DISPLAY is not set: run under an X server, e.g. `xvfb-run -a cargo test -p mergeguard-app --test e2e`"
    );
    assert_eq!(
        std::env::var("MG_TEST_KEYRING").as_deref(),
        Ok("1"),
        "run inside tests/servers/keyring-session.sh: the app stores the relay password and the DKIM key in a real keychain"
    );
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&shots).expect("create target/screenshots");
    let data = std::env::temp_dir().join(format!("mergeguard-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("temp data dir");
    let campaigns = data.join("campaigns");
    // The user's own files: a recipient list and a coupon to attach. Nothing else.
    let mut csv = String::from("email,name\n");
    for (email, name) in PEOPLE {
        csv.push_str(&format!("{email},{name}\n"));
    }
    let csv_path = data.join("customers.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let coupon = data.join("coupon.txt");
    std::fs::write(&coupon, "10% off in December.\n").unwrap();

    let domain = format!("e2e{}.test", std::process::id());
    let (smtp_host, smtp_port) = env("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525")
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.to_owned()))
        .unwrap();
    let dns = dns_addr().to_string();
    let app_env = [
        ("MERGEGUARD_DNS", dns.as_str()),
        ("MERGEGUARD_CAMPAIGNS_DIR", campaigns.to_str().unwrap()),
    ];
    let (driver, client) = launch(&data, &app_env).await;
    let mut a11y: Vec<String> = Vec::new();

    // 0. First start: create the administrator (name + PIN twice).
    client
        .wait()
        .for_element(Locator::Css("body[data-ready='true']"))
        .await
        .expect("UI ready");
    let title = wait_for_text(&client, "#gate-title", "administrator").await;
    assert!(title.contains("administrator"), "first-run title: {title}");
    screenshot(&client, &shots, "00-first-admin").await;
    accessibility_scan(&client, "first admin", &mut a11y).await;
    type_into(&client, "gate-name", "Aiko").await;
    type_into(&client, "gate-pin", ADMIN_PIN).await;
    type_into(&client, "gate-pin-again", ADMIN_PIN).await;
    click(&client, "gate-submit").await;
    wait_for_text(&client, "#whoami", "Aiko").await;

    // 1. Getting started: the steps on the campaign list; the first one adds the approver.
    wait_for(&client, "#setup-steps li[data-step='approver']").await;
    screenshot(&client, &shots, "01-getting-started").await;
    accessibility_scan(&client, "getting started", &mut a11y).await;
    language(&client, "ja").await;
    screenshot(&client, &shots, "01-getting-started-ja").await;
    language(&client, "en").await;
    client
        .find(Locator::Css(
            "#setup-steps li[data-step='approver'] button.primary",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_into(&client, "op-name", "Ben").await;
    client
        .find(Locator::Css("input[name='op-role'][value='approver']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_into(&client, "op-pin", APPROVER_PIN).await;
    type_into(&client, "op-pin-again", APPROVER_PIN).await;
    click(&client, "op-add").await;
    let ops = wait_for_text(&client, "#operators-table", "Ben").await;
    assert!(ops.contains("Approver"), "Ben is an approver: {ops}");
    // The admin's panel for one person: roles, a forgotten PIN, switching off.
    click_css(&client, "#operators-table button[aria-label='Change Ben']").await;
    wait_for(&client, "#op-edit:not([hidden])").await;
    screenshot(&client, &shots, "01-operator-change").await;
    accessibility_scan(&client, "operator change", &mut a11y).await;
    language(&client, "ja").await;
    screenshot(&client, &shots, "01-operator-change-ja").await;
    language(&client, "en").await;
    click(&client, "op-edit-close").await;

    // 2. The sending server: the test Postfix (STARTTLS + AUTH, the test CA), its
    // password into the keychain, then Test connection.
    click(&client, "nav-relay").await;
    wait_for(&client, "#relay-empty:not([hidden])").await;
    select(&client, "relay-provider", "other").await;
    type_into(&client, "relay-name", "Test relay").await;
    type_into(&client, "relay-host", &smtp_host).await;
    client
        .find(Locator::Id("relay-port"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    type_into(&client, "relay-port", &smtp_port).await;
    select(&client, "relay-security", "starttls").await;
    type_into(
        &client,
        "relay-username",
        &env("MG_TEST_SMTP_USER", "mailer"),
    )
    .await;
    type_into(
        &client,
        "relay-password",
        &env("MG_TEST_SMTP_PASSWORD", "secret"),
    )
    .await;
    type_into(
        &client,
        "relay-ca",
        &env("MG_TEST_CA", &format!("{}/certs/ca.crt", test_dir())),
    )
    .await;
    click(&client, "relay-save").await;
    let row = wait_for_text(&client, "#relay-table", "Stored in the keychain").await;
    assert!(row.contains("Test relay"), "{row}");
    client
        .find(Locator::Css(
            "#relay-table tr[data-name='Test relay'] button[data-action='test']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&client, "#relay-test-result[data-outcome='ok']").await;
    screenshot(&client, &shots, "02-sending-server").await;
    accessibility_scan(&client, "sending server", &mut a11y).await;
    language(&client, "ja").await;
    screenshot(&client, &shots, "02-sending-server-ja").await;
    language(&client, "en").await;

    // 3. The sender domain: the app makes the key and shows the records; the test
    // publishes exactly those (the domain already receives mail: an MX record), then
    // Check again must pass SPF, DKIM and DMARC.
    click(&client, "nav-domain").await;
    type_into(&client, "domain-name", &domain).await;
    select(&client, "domain-profile", "Test relay").await;
    click(&client, "domain-generate").await;
    wait_for(&client, "#domain-records .record[data-kind='dmarc']").await;
    let mut edits = vec![vec![
        "zone-set".to_owned(),
        "test.".into(),
        format!("{domain}."),
        "60".into(),
        "MX".into(),
        "10".into(),
        "mail.good.test.".into(),
    ]];
    for record in client
        .find_all(Locator::Css("#domain-records .record"))
        .await
        .unwrap()
    {
        let name = record.attr("data-name").await.unwrap().expect("data-name");
        let strings: Vec<String> =
            serde_json::from_str(&record.attr("data-strings").await.unwrap().unwrap()).unwrap();
        let mut edit = vec![
            "zone-set".to_owned(),
            "test.".into(),
            format!("{name}."),
            "60".into(),
            "TXT".into(),
        ];
        edit.extend(strings.iter().map(|s| format!("\"{s}\"")));
        edits.push(edit);
    }
    assert_eq!(
        edits.len(),
        4,
        "DKIM, SPF and DMARC records shown: {edits:?}"
    );
    zone_edit(&edits);
    click(&client, "domain-check").await;
    wait_for(&client, "#domain-checks li.check[data-id='dmarc.record']").await;
    for id in [
        "spf.record",
        "spf.relay",
        "dkim.record",
        "dkim.verify",
        "dmarc.record",
        "dmarc.alignment",
    ] {
        wait_for(
            &client,
            &format!("#domain-checks li.check[data-id='{id}'][data-status='pass']"),
        )
        .await;
    }
    screenshot(&client, &shots, "03-sender-domain").await;
    accessibility_scan(&client, "sender domain", &mut a11y).await;
    let english = core_english(&client).await;
    language(&client, "ja").await;
    no_core_english_in_japanese(&client, "the sender domain", &english).await;
    screenshot(&client, &shots, "03-sender-domain-ja").await;
    language(&client, "en").await;

    // 4. A new campaign, its recipient file chosen by path (copied into its folder).
    click(&client, "nav-campaigns").await;
    type_into(&client, "campaign-new-title", "Spring sale").await;
    click(&client, "campaign-new").await;
    wait_for_text(&client, "#campaign-bar-title", "Spring sale").await;
    type_into(&client, "recipients-path", csv_path.to_str().unwrap()).await;
    click(&client, "recipients-load").await;
    let table = wait_for_text(&client, "#recipients-table", PEOPLE[2].0).await;
    assert!(table.contains(PEOPLE[2].0), "{table}");
    let summary = wait_for_text(&client, "#recipients-summary", "Spring sale").await;
    assert!(
        summary.contains(
            &campaigns
                .join("Spring sale")
                .join("customers.csv")
                .display()
                .to_string()
        ),
        "the copy inside the campaign folder is what is used: {summary}"
    );
    screenshot(&client, &shots, "04-recipients").await;
    accessibility_scan(&client, "recipients", &mut a11y).await;

    // 5. Compose: merge fields by their chips, an attachment, the relay and DKIM; save.
    click(&client, "nav-compose").await;
    // A merge field the list does not have is named at its field while typing.
    type_into(&client, "compose-text", "{{ nosuchfield }}").await;
    wait_for(&client, ".field-error[data-field='text']").await;
    let said = wait_for_text(&client, ".field-error[data-field='text']", "nosuchfield").await;
    assert!(said.contains("row 2"), "the first row it fails on: {said}");
    client
        .find(Locator::Id("compose-text"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    type_into(&client, "compose-from-name", "Spring Shop").await;
    type_into(&client, "compose-from-address", &format!("news@{domain}")).await;
    type_into(&client, "compose-subject", "Spring sale for ").await;
    click_css(&client, "#compose-fields .chip[data-field='name']").await;
    type_into(&client, "compose-text", "Dear ").await;
    click_css(&client, "#compose-fields .chip[data-field='name']").await;
    type_into(
        &client,
        "compose-text",
        ",\n\nour spring sale starts today.\n",
    )
    .await;
    type_into(&client, "compose-attachment-path", coupon.to_str().unwrap()).await;
    click(&client, "compose-attachment-path-add").await;
    wait_for(
        &client,
        "#compose-attachment-list li[data-file='attachments/coupon.txt']",
    )
    .await;
    type_into(
        &client,
        "compose-unsubscribe-mailto",
        &format!("unsubscribe@{domain}"),
    )
    .await;
    // A sale is advertising (特定電子メール法): the unsubscribe address ticked the box,
    // and the message shows what the law asks for.
    wait_for(&client, "#compose-advertising-enabled:checked").await;
    type_into(
        &client,
        "compose-text",
        &format!(
            "\nSpring Shop\n1-2-3 Shibakoen, Minato-ku, Tokyo\nQuestions: support@{domain}\n\n\
             If you no longer wish to receive this newsletter, write to:\nunsubscribe@{domain}\n"
        ),
    )
    .await;
    type_into(
        &client,
        "compose-advertising-postal-address",
        "1-2-3 Shibakoen, Minato-ku, Tokyo",
    )
    .await;
    type_into(
        &client,
        "compose-advertising-contact",
        &format!("support@{domain}"),
    )
    .await;
    select(&client, "compose-advertising-consent", "consent").await;
    select(&client, "compose-destination", "profile:Test relay").await;
    type_into(&client, "compose-dkim-selector", "mg2026").await;
    wait_for(&client, "#campaign-bar-unsaved:not([hidden])").await;
    screenshot(&client, &shots, "05-compose-unsaved").await;
    click(&client, "compose-save").await;
    wait_for(&client, "#campaign-bar-unsaved[hidden]").await;
    let saved = wait_for_text(&client, "#compose-saved-note", "Saved").await;
    assert!(saved.contains("Saved."), "saved without problems: {saved}");
    screenshot(&client, &shots, "05-compose").await;
    accessibility_scan(&client, "compose", &mut a11y).await;
    language(&client, "ja").await;
    screenshot(&client, &shots, "05-compose-ja").await;
    language(&client, "en").await;
    let campaign_file = campaigns.join("Spring sale").join("campaign.toml");
    let toml = std::fs::read_to_string(&campaign_file).expect("the app wrote the campaign file");
    assert!(toml.contains("profile = \"Test relay\""), "{toml}");
    let cid = toml
        .lines()
        .find_map(|l| l.strip_prefix("id = \""))
        .map(|v| v.trim_end_matches('"').to_owned())
        .expect("an id in the campaign file");

    // 6. Preview: the third message carries its own name, from the saved file.
    click(&client, "nav-preview").await;
    for _ in 0..2 {
        click(&client, "preview-next").await;
    }
    let subject = wait_for_text(&client, "#preview-subject", PEOPLE[2].1).await;
    assert_eq!(subject, format!("Spring sale for {}", PEOPLE[2].1));
    let raw = wait_for_text(&client, "#preview-raw", "coupon.txt").await;
    assert!(
        raw.contains("coupon.txt") && raw.contains("text/html"),
        "{raw}"
    );
    // Send test before the checklist ran: refused, next to the button, naming the step.
    type_into(&client, "test-send-to", "aiko@example.test").await;
    click(&client, "test-send-go").await;
    let refused = wait_for_text(&client, "#test-send-error", "checklist").await;
    assert!(refused.contains("Run the checklist first"), "{refused}");
    screenshot(&client, &shots, "06-preview").await;
    accessibility_scan(&client, "preview", &mut a11y).await;

    // 7. The checklist over the saved campaign, through the profile and the test DNS.
    click(&client, "nav-checklist").await;
    click(&client, "checklist-run").await;
    let status = wait_for_text(&client, "#status", "checklist").await;
    wait_for(&client, "#checklist-groups li.check").await;
    let fails = client
        .find_all(Locator::Css(
            "#checklist-groups li.check[data-status='fail']",
        ))
        .await
        .unwrap();
    let mut failed = Vec::new();
    for f in &fails {
        failed.push(f.text().await.unwrap_or_default());
    }
    assert!(failed.is_empty(), "no check fails ({status}): {failed:#?}");
    wait_for(
        &client,
        "#checklist-groups li.check[data-id='dkim.verify'][data-status='pass']",
    )
    .await;
    let stage = wait_for_text(&client, "#campaign-bar-stage", "Checked").await;
    assert!(
        stage.contains("Checked"),
        "the bar follows the checklist: {stage}"
    );
    screenshot(&client, &shots, "07-checklist").await;
    accessibility_scan(&client, "checklist", &mut a11y).await;
    // Each check: a plain sentence first; the core's words (ids, records) on request.
    let english = core_english(&client).await;
    assert!(
        !english.is_empty(),
        "the checks' details are on the page, behind the toggle"
    );
    language(&client, "ja").await;
    no_core_english_in_japanese(&client, "the checklist", &english).await;
    screenshot(&client, &shots, "07-checklist-ja").await;
    language(&client, "en").await;

    // 8. Approval, one screen for both people: Aiko submits, Ben approves.
    click(&client, "nav-approval").await;
    // Approve before Submit: refused, in one plain sentence next to the Approve button.
    for b in client.find_all(Locator::Css(".ack-box")).await.unwrap() {
        b.click().await.unwrap();
    }
    type_into(&client, "approval-name", "Ben").await;
    type_into(&client, "approval-pin", APPROVER_PIN).await;
    click(&client, "approval-approve").await;
    let early = wait_for_text(&client, "#approval-error", "not been sent for approval").await;
    assert!(
        early.contains("Submit for approval"),
        "says what to do: {early}"
    );
    language(&client, "ja").await;
    // The sentence is the window's own; the core's English words stay behind Details.
    let ja = client
        .execute(
            "return document.getElementById('approval-error').innerText;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        !ja.as_str()
            .unwrap_or_default()
            .contains("was not submitted"),
        "Japanese approval error without the core's English: {ja}"
    );
    language(&client, "en").await;
    client
        .find(Locator::Id("approval-name"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    click(&client, "nav-checklist").await;
    click(&client, "nav-approval").await;
    click(&client, "approval-submit").await;
    wait_for_text(&client, "#approval-submitted", "Aiko").await;
    // Approve with the warnings not ticked: refused, said next to the button, and the
    // unticked warnings are marked.
    type_into(&client, "approval-name", "Ben").await;
    type_into(&client, "approval-pin", APPROVER_PIN).await;
    click(&client, "approval-approve").await;
    wait_for(&client, "#approval-error:not([hidden])").await;
    wait_for(&client, ".ack.needs-tick").await;
    screenshot(&client, &shots, "08-approval-unticked").await;
    client
        .find(Locator::Id("approval-name"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    for b in client.find_all(Locator::Css(".ack-box")).await.unwrap() {
        b.click().await.unwrap();
    }
    type_into(&client, "approval-name", "Ben").await;
    type_into(&client, "approval-pin", APPROVER_PIN).await;
    click(&client, "approval-approve").await;
    let approved = wait_for_text(&client, "#approval-result", "Ben").await;
    assert!(approved.contains("Ben"), "approved by Ben: {approved}");
    let stage = wait_for_text(&client, "#campaign-bar-stage", "Approved").await;
    assert!(stage.contains("Approved"), "the bar follows: {stage}");
    let first = wait_for_text(&client, "#approval-message", "Dear").await;
    assert!(
        first.contains(&format!("Dear {},", PEOPLE[0].1)),
        "the approver reads the message: {first}"
    );
    click(&client, "approval-msg-last").await;
    let last = wait_for_text(&client, "#approval-message", PEOPLE[2].1).await;
    assert!(
        last.contains(&format!("Dear {},", PEOPLE[2].1)) && last.contains("coupon.txt"),
        "the approver pages to the last message, its attachment named: {last}"
    );
    // The approver finds a customer by name, not only by position.
    type_into(&client, "approval-search", PEOPLE[1].1).await;
    click(&client, "approval-search-go").await;
    let found = wait_for_text(&client, "#approval-message", PEOPLE[1].1).await;
    assert!(
        found.contains(&format!("Dear {},", PEOPLE[1].1)),
        "found by name: {found}"
    );
    screenshot(&client, &shots, "08-approval").await;
    accessibility_scan(&client, "approval", &mut a11y).await;

    // 9. Send through Postfix: every person exactly once, each signature verified by dkimpy.
    click(&client, "nav-send").await;
    wait_for_text(&client, "#send-destination", &smtp_host).await;
    click(&client, "send-start").await;
    let ask = wait_for_text(&client, "#send-confirm-text", "3 people").await;
    assert!(ask.contains("Send to 3 people"), "Start asks first: {ask}");
    screenshot(&client, &shots, "09-send-confirm").await;
    click(&client, "send-confirm-yes").await;
    let done = wait_for_text(&client, "#status", "Finished").await;
    assert!(done.contains("3 sent"), "all sent: {done}");
    wait_for_text(&client, "#send-report", PEOPLE[2].0).await;
    wait_for(&client, "#send-start[disabled]").await;
    let stage = wait_for_text(&client, "#campaign-bar-stage", "Sent 3 of 3").await;
    assert!(
        stage.contains("Sent 3 of 3"),
        "the bar follows the send: {stage}"
    );
    screenshot(&client, &shots, "09-send").await;
    accessibility_scan(&client, "send", &mut a11y).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = delivered(&cid, &domain);
    while got.values().map(Vec::len).sum::<usize>() < PEOPLE.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        got = delivered(&cid, &domain);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    got = delivered(&cid, &domain);
    for (email, name) in PEOPLE {
        let copies = got.get(email).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            copies.len(),
            1,
            "{email} got exactly one message: {:?}",
            got.keys()
        );
        let text = String::from_utf8_lossy(&copies[0]);
        assert!(text.contains(&format!("Dear {name},")), "{text}");
        assert_eq!(
            dkimpy_verifies(&copies[0]),
            "PASS",
            "dkimpy verifies {email}'s message"
        );
    }
    assert_eq!(got.len(), PEOPLE.len(), "nobody else: {:?}", got.keys());

    // 10. Operation log: the chain verifies; the campaign list shows what was sent.
    click(&client, "nav-log").await;
    let verified = wait_for_text(&client, "#log-verify", "verifies").await;
    assert!(verified.contains("verifies"), "{verified}");
    screenshot(&client, &shots, "10-log").await;
    accessibility_scan(&client, "log", &mut a11y).await;
    click(&client, "nav-campaigns").await;
    let list = wait_for_text(&client, "#campaigns-table", "Sent 3 of 3").await;
    assert!(list.contains("Sent 3 of 3"), "{list}");
    screenshot(&client, &shots, "11-campaigns").await;
    accessibility_scan(&client, "campaigns", &mut a11y).await;
    language(&client, "ja").await;
    screenshot(&client, &shots, "11-campaigns-ja").await;
    language(&client, "en").await;

    // 10b. Replies and reports: a domain report file added by path shows its sending
    // sources; a damaged one is refused next to its button and nothing is added.
    click(&client, "nav-returns").await;
    wait_for(&client, "#returns-profile option").await;
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/dmarc");
    type_into(
        &client,
        "returns-import-path",
        reports.join("truncated.zip").to_str().unwrap(),
    )
    .await;
    click(&client, "returns-import").await;
    wait_for(&client, "#returns-import-error:not([hidden])").await;
    client
        .find(Locator::Id("returns-import-path"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    type_into(
        &client,
        "returns-import-path",
        reports.join("google.xml").to_str().unwrap(),
    )
    .await;
    click(&client, "returns-import").await;
    let added = wait_for_text(&client, "#status", "domain report").await;
    assert!(added.contains("1 new domain report"), "{added}");
    wait_for(&client, "#returns-sources tbody tr").await;
    screenshot(&client, &shots, "13-replies-and-reports").await;
    accessibility_scan(&client, "replies and reports", &mut a11y).await;
    language(&client, "ja").await;
    screenshot(&client, &shots, "13-replies-and-reports-ja").await;
    language(&client, "en").await;
    // 10c. Google signs in in the browser only: its button shows and the code's does not;
    // the client secret goes to the keychain and is never filled back in.
    select(&client, "returns-oauth-provider", "google").await;
    // Only Google's fields: no Microsoft tenant, no other service's address.
    let shown = client
        .execute(
            "return ['returns-oauth-tenant', 'returns-oauth-issuer', 'returns-oauth-secret']\n\
             .map((id) => !document.getElementById(id).closest('.field').hidden);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        shown,
        serde_json::json!([false, false, true]),
        "fields shown for Google"
    );
    type_into(
        &client,
        "returns-oauth-client",
        "123-e2e.apps.googleusercontent.com",
    )
    .await;
    type_into(&client, "returns-oauth-secret", "GOCSPX-e2e-not-shown").await;
    click(&client, "returns-oauth-save").await;
    wait_for(&client, "#returns-sign-in-browser:not([hidden])").await;
    wait_for(&client, "#returns-sign-in[hidden]").await;
    let kept = wait_for_text(&client, "#returns-oauth-secret-state", "Leave this empty").await;
    assert!(kept.contains("Leave this empty"), "{kept}");
    let typed = client
        .find(Locator::Id("returns-oauth-secret"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        typed.as_deref(),
        Some(""),
        "the secret is never filled back in"
    );
    screenshot(&client, &shots, "13b-google-sign-in").await;
    accessibility_scan(&client, "google sign-in", &mut a11y).await;
    language(&client, "ja").await;
    screenshot(&client, &shots, "13b-google-sign-in-ja").await;
    language(&client, "en").await;
    // The browser sign-in waits for the person, with the address to copy and a Stop
    // that ends the wait (Google is not reachable from a test: nobody comes back).
    click(&client, "returns-sign-in-browser").await;
    let url = wait_for_text(&client, "#returns-sign-in-url", "accounts.google.com").await;
    assert!(url.starts_with("https://accounts.google.com/"), "{url}");
    screenshot(&client, &shots, "13c-browser-sign-in-waiting").await;
    accessibility_scan(&client, "browser sign-in waiting", &mut a11y).await;
    click(&client, "returns-sign-in-stop").await;
    let stopped = wait_for_text(&client, "#status", "stopped").await;
    assert!(stopped.contains("Nothing was kept"), "{stopped}");
    wait_for(&client, "#returns-sign-in-code[hidden]").await;
    // Back to the password the rest of the scenario sends with.
    client
        .find(Locator::Id("returns-oauth-client"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    click(&client, "returns-oauth-save").await;
    wait_for(&client, "#returns-sign-in-browser[hidden]").await;
    click(&client, "nav-campaigns").await;
    wait_for(&client, "#campaigns-table tr[data-title='Spring sale']").await;

    // 11. "Send again as a copy": a new draft with the same message and its own files.
    click_css(
        &client,
        "#campaigns-table tr[data-title='Spring sale'] td.row-actions button:nth-child(2)",
    )
    .await;
    wait_for_text(&client, "#campaign-bar-title", "Spring sale (2)").await;
    let stage = wait_for_text(&client, "#campaign-bar-stage", "Draft").await;
    assert!(stage.contains("Draft"), "{stage}");
    assert!(campaigns
        .join("Spring sale (2)")
        .join("customers.csv")
        .is_file());

    // 12. Do not mail: the admin puts an address on the suppression list.
    click(&client, "nav-suppression").await;
    type_into(&client, "suppression-addresses", "stop@example.jp").await;
    click(&client, "suppression-add").await;
    let listed = wait_for_text(&client, "#suppression-table", "stop@example.jp").await;
    assert!(listed.contains("Asked not to be mailed"), "{listed}");

    // 13. Load example: the app copies its bundled example (the resource folder tauri-build
    // fills, never the source checkout) into the campaigns folder and opens it.
    click(&client, "nav-campaigns").await;
    click(&client, "recipients-example").await;
    wait_for_text(&client, "#campaign-bar-title", "Example campaign").await;
    let folder = client
        .execute(
            "return document.getElementById('campaign-bar-folder').textContent",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !folder.ends_with("Example campaign") {
        let body = client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap_or_default();
        panic!("the example did not open ({folder:?}); the window says:\n{body}");
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap();
    assert!(
        !Path::new(&folder).starts_with(&checkout),
        "the copy is not in the source checkout: {folder}"
    );
    assert!(
        Path::new(&folder).join("coupon.txt").is_file(),
        "the whole example was copied to {folder}"
    );
    wait_for(&client, "#recipients-table tbody tr").await;

    client.close().await.expect("close the session");
    drop(driver);

    // 14. A second launch on the same store with a 2-second idle time: the command layer
    // locks the session and the window shows the lock screen; the PIN unlocks it.
    let mut idle_env = app_env.to_vec();
    idle_env.push(("MERGEGUARD_IDLE_SECS", "2"));
    let (driver, client) = launch(&data, &idle_env).await;
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
    type_into(&client, "gate-pin", APPROVER_PIN).await;
    click(&client, "gate-submit").await;
    wait_for_text(&client, "#whoami", "Ben").await;
    for admin_only in ["nav-operators", "nav-relay", "nav-domain"] {
        assert!(
            client
                .find(Locator::Css(&format!("#{admin_only}[hidden]")))
                .await
                .is_ok(),
            "no {admin_only} for a non-admin"
        );
    }
    // Nobody touches the window: the lock blanks it by itself, without a click.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let locked = wait_for_text(&client, "#gate-title", "Locked").await;
    assert!(locked.contains("Locked"), "idle session locked: {locked}");
    screenshot(&client, &shots, "12-locked").await;
    accessibility_scan(&client, "lock screen", &mut a11y).await;
    // Wrong PINs: from the third on, the gate says how many tries are left, once.
    for attempt in 1..=3 {
        type_into(&client, "gate-pin", "000000").await;
        click(&client, "gate-submit").await;
        if attempt < 3 {
            wait_for_text(&client, "#gate-error", "wrong").await;
        }
    }
    let warned = wait_for_text(&client, "#gate-error", "more wrong PINs").await;
    assert!(warned.contains("2 more wrong PINs"), "tries left: {warned}");
    assert_eq!(warned.matches("wrong").count(), 2, "said once: {warned}");
    language(&client, "ja").await;
    screenshot(&client, &shots, "12-wrong-pin-ja").await;
    language(&client, "en").await;
    type_into(&client, "gate-pin", APPROVER_PIN).await;
    click(&client, "gate-submit").await;
    let who = wait_for_text(&client, "#whoami", "Ben").await;
    assert!(who.contains("Ben"), "signed in again: {who}");

    client.close().await.expect("close the session");
    drop(driver);
    assert!(
        a11y.is_empty(),
        "accessibility faults (axe-core, serious or critical):\n{}",
        a11y.join("\n")
    );
    let mut unset: Vec<Vec<String>> = vec![vec![
        "zone-unset".into(),
        "test.".into(),
        format!("{domain}."),
    ]];
    for sub in ["mg2026._domainkey.", "_dmarc."] {
        unset.push(vec![
            "zone-unset".into(),
            "test.".into(),
            format!("{sub}{domain}."),
        ]);
    }
    zone_edit(&unset);
    let _ = std::fs::remove_dir_all(&data);
}

/// axe-core's scan (WCAG 2.1 A and AA) of the screen as it is shown. Serious and critical
/// findings are collected in `faults`, named by screen; the test fails on any at its end,
/// so one run lists them all.
async fn accessibility_scan(client: &Client, screen: &str, faults: &mut Vec<String>) {
    let loaded = client
        .execute("return typeof window.axe !== 'undefined';", vec![])
        .await
        .unwrap();
    if loaded != serde_json::Value::Bool(true) {
        let path = Path::new(&test_dir()).join("a11y/node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (tests/servers/axe.sh installs axe-core)",
                path.display()
            )
        });
        client.execute(&axe, vec![]).await.expect("inject axe-core");
    }
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];\n\
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })\n\
               .then((r) => done(r.violations\n\
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical')\n\
                 .map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' at '\n\
                   + v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(', '))))\n\
               .catch((e) => done(['axe could not run: ' + e]));",
            vec![],
        )
        .await
        .expect("axe.run");
    for v in found.as_array().cloned().unwrap_or_default() {
        faults.push(format!("{screen}: {}", v.as_str().unwrap_or_default()));
    }
}

/// The core's own English words on the screen (a check's detail and fix, an error's
/// message): kept behind "Details", they must not be visible on a Japanese screen.
async fn core_english(client: &Client) -> Vec<String> {
    let v = client
        .execute(
            "return [...document.querySelectorAll('.check-more .check-detail, .error-detail .status-detail')]\n\
               .map((e) => e.textContent.trim()).filter((t) => t.length >= 16 && t.includes(' '));",
            vec![],
        )
        .await
        .unwrap();
    v.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

/// In Japanese, the visible text of the window shows none of `english` (the core's words
/// collected on the same screen in English).
async fn no_core_english_in_japanese(client: &Client, screen: &str, english: &[String]) {
    let visible = client
        .execute("return document.body.innerText;", vec![])
        .await
        .unwrap();
    let visible = visible.as_str().unwrap_or_default();
    for words in english {
        assert!(
            !visible.contains(words.as_str()),
            "{screen} in Japanese shows the core's English: {words:?}"
        );
    }
}

/// Clicks the element as a person would. A sticky bar (Compose's Save row) or a
/// status line still moving can cover it for a moment: then it is scrolled to the
/// middle of the window and clicked again.
async fn click_css(client: &Client, css: &str) {
    for attempt in 0..4 {
        let element = client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match element.clone().click().await {
            Ok(()) => return,
            Err(e) if attempt < 3 => {
                let _ = client
                    .execute(
                        "arguments[0].scrollIntoView({ block: 'center' })",
                        vec![serde_json::to_value(&element).unwrap()],
                    )
                    .await;
                eprintln!("click on {css} retried: {e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("click on {css}: {e}"),
        }
    }
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
            // The app turns WebKit's GPU compositing off for itself (its memory target).
            // Under Xvfb, WebKitWebDriver then stops answering the first input command
            // after a screenshot (typing into the next field never returns; without
            // screenshots, as in bench_app.rs, input works). Screenshots are the point
            // of this test, so it runs the app with compositing on; bench_app.rs and the
            // installer test run it as shipped.
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "0")
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
