//! Benchmark, not a test: the desktop app with a 100,000-recipient campaign (issue 11's
//! targets), driven through WebDriver like a person: open the campaign to the first table
//! page, step through the preview, run the checklist three times while asking the
//! window something during each run, and the PSS of the app and its WebKit processes
//! after each step. Ignored by `cargo test`; `scripts/bench-app.sh` builds the release
//! app and the campaign, and runs it with `--ignored --nocapture`. Prints `bench-app:`
//! lines.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// PSS (KiB) of `pid` and every process below it.
fn pss_tree(pid: u32) -> u64 {
    let own = pss_own(pid);
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    own + children
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
        .map(pss_tree)
        .sum::<u64>()
}

/// PSS (KiB) of `pid` alone.
fn pss_own(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
}

/// The newest process running `bin`.
fn app_pid(bin: &Path) -> u32 {
    let name = bin.file_name().unwrap().to_string_lossy().into_owned();
    let out = Command::new("pgrep")
        .args(["-n", "-f", &name])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the app's pid")
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn wait_for(client: &Client, css: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while client.find(Locator::Css(css)).await.is_err() {
        assert!(Instant::now() < deadline, "{css} did not appear");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn text(client: &Client, id: &str) -> String {
    client
        .execute(
            "return document.getElementById(arguments[0]).textContent",
            vec![id.into()],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run by scripts/bench-app.sh"]
async fn a_100k_campaign_in_the_app() {
    let bin = PathBuf::from(std::env::var("MG_APP_BIN").expect("MG_APP_BIN: the release app"));
    let campaigns = PathBuf::from(std::env::var("MG_BENCH_CAMPAIGNS").expect("MG_BENCH_CAMPAIGNS"));
    let data = campaigns.with_file_name("data");
    let port: u16 = std::env::var("MG_TEST_WEBDRIVER_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(4531);
    let _driver = Driver(
        Command::new("tauri-driver")
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &(port + 1).to_string(),
            ])
            .env("XDG_DATA_HOME", &data)
            .env("XDG_CONFIG_HOME", &data)
            .env("MERGEGUARD_DATA_DIR", data.join("store"))
            .env("MERGEGUARD_CAMPAIGNS_DIR", &campaigns)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tauri-driver"),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": bin }),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            Err(e) => panic!("WebDriver: {e}"),
        }
    };
    wait_for(&client, "body[data-ready='true']", Duration::from_secs(30)).await;
    for (id, v) in [
        ("gate-name", "Aiko"),
        ("gate-pin", "246813"),
        ("gate-pin-again", "246813"),
    ] {
        client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(v)
            .await
            .unwrap();
    }
    click(&client, "#gate-submit").await;
    wait_for(
        &client,
        "#campaigns-table tr[data-title='Big']",
        Duration::from_secs(30),
    )
    .await;
    let pid = app_pid(&bin);
    println!("bench-app: PSS after sign-in {} MiB", pss_tree(pid) / 1024);

    // Open: from the click to the first table page on screen.
    let t = Instant::now();
    click(&client, "#campaigns-table tr[data-title='Big'] button.link").await;
    wait_for(
        &client,
        "#recipients-table tbody tr",
        Duration::from_secs(60),
    )
    .await;
    println!(
        "bench-app: open to the first table page {} ms",
        t.elapsed().as_millis()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "bench-app: PSS after open {} MiB (the app process {} MiB)",
        pss_tree(pid) / 1024,
        pss_own(pid) / 1024
    );

    // Preview: 20 steps, each until the counter shows the next message.
    click(&client, "#nav-preview").await;
    wait_for(
        &client,
        "#preview-index[data-index='1']",
        Duration::from_secs(30),
    )
    .await;
    // Timed inside the page (click to the counter showing the next message), so the
    // WebDriver round trips are not counted.
    let mut steps = Vec::new();
    for _ in 0..20 {
        let ms = client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 const c = document.getElementById('preview-index');\
                 const before = c.dataset.index; const t = performance.now();\
                 const o = new MutationObserver(() => { if (c.dataset.index !== before) {\
                   o.disconnect(); done(performance.now() - t); } });\
                 o.observe(c, { attributes: true });\
                 document.getElementById('preview-next').click();",
                vec![],
            )
            .await
            .unwrap();
        steps.push(ms.as_f64().unwrap_or(-1.0));
    }
    println!(
        "bench-app: preview step median {:.1} ms (max {:.1} ms, 20 steps, click to the next message shown, timed in the page)",
        median(steps.clone()),
        steps.iter().cloned().fold(0.0, f64::max)
    );

    // The checklist, three times; during each run the window is asked for its status.
    click(&client, "#nav-checklist").await;
    for run in 1..=3 {
        let t = Instant::now();
        click(&client, "#checklist-run").await;
        let mut round_trips = Vec::new();
        loop {
            let r = client
                .execute_async(
                    "const done = arguments[arguments.length - 1]; const t = performance.now();\
                     window.__TAURI__.core.invoke('app_status').then(() => done(performance.now() - t), () => done(-1));",
                    vec![],
                )
                .await
                .unwrap();
            round_trips.push(r.as_f64().unwrap_or(-1.0));
            let running = client
                .find(Locator::Css("#checklist-run[disabled]"))
                .await
                .is_ok();
            if !running && t.elapsed() > Duration::from_millis(200) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let secs = t.elapsed().as_secs_f64();
        let status = text(&client, "checklist-progress-label").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!(
            "bench-app: checklist run {run}: {secs:.2} s; IPC round trip while it ran median {:.1} ms, max {:.1} ms ({} samples){}; PSS after {} MiB (the app process {} MiB)",
            median(round_trips.clone()),
            round_trips.iter().cloned().fold(0.0, f64::max),
            round_trips.len(),
            if status.is_empty() { String::new() } else { format!(" [{status}]") },
            pss_tree(pid) / 1024,
            pss_own(pid) / 1024
        );
    }
    client.close().await.unwrap();
}
