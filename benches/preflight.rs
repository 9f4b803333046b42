//! Benchmark: the message-level pre-flight checks (addressing, attachments, merge,
//! content) over 100,000 built messages. Target: under 3 s.
//!
//! The 100,000-row recipient file is generated in memory and read by the real importer;
//! the messages are built by the real Composer (subject, text and HTML alternative, one
//! common attachment, List-Unsubscribe), as `benches/render.rs` builds them. Before the
//! timed runs it prints the memory the checks themselves need: the peak resident size is
//! reset through /proc/self/clear_refs after the messages are built, so VmHWM afterwards
//! is the peak during one `check_messages` run.
//!
//! cargo bench -p mergeguard --bench preflight -- --sample-size 10

use std::time::{Duration, Instant};

#[path = "support/draft.rs"]
mod draft;
#[path = "support/measure.rs"]
mod measure;

use draft::composer;

use criterion::Criterion;
use measure::{cpu_seconds, status_mib};
use mergeguard::compose::{render_all, BuiltMessage, RenderError};
use mergeguard::preflight::messages::{check_messages, MessageCheckInput};
use mergeguard::preflight::Status;
use mergeguard::recipients::{import_bytes, ImportOptions, RecipientList};

const ROWS: usize = 100_000;

fn recipient_file(n: usize) -> Vec<u8> {
    let mut csv = String::from("会員番号,氏名,会社名,メールアドレス,ポイント\r\n");
    for i in 0..n {
        let company = if i % 3 == 0 {
            String::new()
        } else {
            format!("株式会社テスト{i}")
        };
        csv.push_str(&format!(
            "{},山田 太郎{i},{company},customer{i}@example.jp,{}\r\n",
            100_000 + i,
            i % 5000
        ));
    }
    csv.into_bytes()
}

struct Campaign {
    list: RecipientList,
    messages: Vec<BuiltMessage>,
    errors: Vec<(u64, RenderError)>,
}

fn campaign() -> Campaign {
    let list = import_bytes(&recipient_file(ROWS), &ImportOptions::default()).expect("import");
    assert_eq!(list.recipients.len(), ROWS);
    let mut messages = Vec::with_capacity(ROWS);
    let mut errors = Vec::new();
    for outcome in render_all(&composer(), &list) {
        match outcome {
            Ok(m) => messages.push(m),
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.is_empty(), "render errors: {:?}", &errors[..1]);
    Campaign {
        list,
        messages,
        errors,
    }
}

fn input(c: &Campaign) -> MessageCheckInput<'_> {
    let mut input = MessageCheckInput::new(&c.messages, &c.errors, &c.list);
    input.authenticated_domain = Some("shop.test");
    input.size_limit = Some(10 * 1024 * 1024);
    input
}

fn report_memory(c: &Campaign) {
    let bytes: usize = c.messages.iter().map(|m| m.raw.len()).sum();
    let before = status_mib("VmRSS:");
    // "5" resets the peak resident size to the current one (Linux 4.0+).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let checks = check_messages(&input(c));
    let took = started.elapsed();
    let cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    let peak = status_mib("VmHWM:");
    let failed: Vec<_> = checks.iter().filter(|c| c.status != Status::Pass).collect();
    // Timing a run that finds problems would measure the reporting, not the checks.
    assert!(
        failed.is_empty(),
        "the bench campaign does not pass: {failed:#?}"
    );
    println!(
        "preflight: {} messages ({:.1} MiB of raw messages), {} checks pass; one run {:.2} s",
        c.messages.len(),
        bytes as f64 / (1024.0 * 1024.0),
        checks.len(),
        took.as_secs_f64()
    );
    // On a busy machine the wall time depends on the other load; the CPU time does not.
    if let Some(cpu) = cpu {
        println!(
            "preflight: that run used {cpu:.2} s of CPU ({:.1} µs per message; {} threads available)",
            cpu * 1e6 / c.messages.len() as f64,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    }
    match (before, peak, reset) {
        (Some(b), Some(p), true) => println!(
            "preflight: RSS before the checks {b:.1} MiB, peak during them {p:.1} MiB (+{:.1} MiB for the checks)",
            p - b
        ),
        _ => println!("preflight: peak memory not available (/proc/self/status or clear_refs)"),
    }
}

fn main() {
    let setup = Instant::now();
    let c = campaign();
    println!(
        "preflight: imported and built {ROWS} messages in {:.1} s (not timed below)",
        setup.elapsed().as_secs_f64()
    );
    report_memory(&c);

    let mut crit = Criterion::default().configure_from_args();
    let mut g = crit.benchmark_group("preflight");
    g.sample_size(10).measurement_time(Duration::from_secs(40));
    g.bench_function("check_messages_100k", |b| {
        b.iter(|| check_messages(&input(&c)))
    });
    g.finish();
    crit.final_summary();
}
