//! Benchmark: render and build 100,000 complete MIME messages (subject, text and HTML
//! alternative, one common attachment, List-Unsubscribe) from an in-memory list.
//! Peak memory: run under `/usr/bin/time -v` (see docs/campaign-file.md, Benchmarks).

#[path = "support/draft.rs"]
mod draft;
#[path = "support/measure.rs"]
mod measure;

use draft::composer;

use criterion::{criterion_group, criterion_main, Criterion};
use mergeguard::compose::render_each;
use mergeguard::recipients::{Recipient, RecipientList};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn list(n: usize) -> RecipientList {
    RecipientList {
        encoding: "utf-8".into(),
        delimiter: ",".into(),
        email_column: "メールアドレス".into(),
        fields: ["会員番号", "氏名", "会社名", "メールアドレス", "ポイント"]
            .map(String::from)
            .to_vec(),
        recipients: (0..n)
            .map(|i| {
                Recipient::new(
                    i as u64 + 2,
                    format!("customer{i}@example.jp"),
                    [
                    format!("{}", 100000 + i),
                    format!("山田 太郎{i}"),
                    if i % 3 == 0 {
                        String::new()
                    } else {
                        format!("株式会社テスト{i}")
                    },
                    format!("customer{i}@example.jp"),
                    format!("{}", i % 5000),
                    ],
                )
            })
            .collect(),
        rejected: vec![],
        source_sha256: String::new(),
    }
}

fn render_build_100k(c: &mut Criterion) {
    let list = list(100_000);
    let composer = composer();
    let run = measure::measure(|| {
        let bytes = AtomicUsize::new(0);
        render_each(&composer, &list, |m| {
            bytes.fetch_add(m.map(|m| m.raw.len()).unwrap_or(0), Ordering::Relaxed);
        });
        bytes.into_inner()
    });
    eprintln!(
        "render: one run of 100,000 messages ({:.1} MiB built, not kept): {}",
        run.output as f64 / 1048576.0,
        run.describe()
    );
    let mut g = c.benchmark_group("compose");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("render_build_100k", |b| {
        b.iter(|| {
            let bytes = AtomicUsize::new(0);
            let failed = AtomicUsize::new(0);
            render_each(&composer, &list, |m| match m {
                Ok(m) => {
                    bytes.fetch_add(m.raw.len(), Ordering::Relaxed);
                }
                Err(_) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            });
            assert_eq!(failed.load(Ordering::Relaxed), 0);
            bytes.load(Ordering::Relaxed)
        })
    });
    g.finish();
}

criterion_group!(benches, render_build_100k);
criterion_main!(benches);
