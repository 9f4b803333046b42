//! Benchmark: importing 1,000 DMARC aggregate report files (a third each xml, xml.gz and
//! zip, three sources per report) into a fresh store as `mergeguard dmarc-report import
//! --operator NAME` does: read, decompress, parse, re-check the signed-in operator, store,
//! log. The sign-in itself (Argon2) is set-up, not timed. Target: ≤ 2 s for the 1,000
//! (issue 15).

use std::io::Write;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use mergeguard::dmarc_report;
use mergeguard::operators;
use mergeguard::secrets::install::MemoryKeys;
use mergeguard::secrets::Secret;
use mergeguard::store::Store;
use time::OffsetDateTime;

fn report(i: usize) -> Vec<u8> {
    let begin = 1_780_272_000 + (i as u64 % 30) * 86_400;
    let mut records = String::new();
    for (ip, count, dkim, spf) in [
        ("192.0.2.10", 100 + i, "pass", "pass"),
        ("198.51.100.7", 10, "pass", "fail"),
        ("203.0.113.66", 3, "fail", "fail"),
    ] {
        records.push_str(&format!(
            "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>\
             <disposition>none</disposition><dkim>{dkim}</dkim><spf>{spf}</spf></policy_evaluated></row>\
             <identifiers><header_from>shop.test</header_from></identifiers><auth_results>\
             <dkim><domain>shop.test</domain><result>{dkim}</result></dkim>\
             <spf><domain>shop.test</domain><result>{spf}</result></spf></auth_results></record>\n"
        ));
    }
    format!(
        "<?xml version=\"1.0\"?>\n<feedback><report_metadata><org_name>org{}.example</org_name>\
         <email>dmarc@org.example</email><report_id>r{i}</report_id><date_range><begin>{begin}</begin>\
         <end>{}</end></date_range></report_metadata><policy_published><domain>shop.test</domain>\
         <adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>\n{records}</feedback>\n",
        i % 7,
        begin + 86_399
    )
    .into_bytes()
}

fn files(dir: &std::path::Path) -> Vec<PathBuf> {
    (0..1000)
        .map(|i| {
            let xml = report(i);
            match i % 3 {
                0 => {
                    let p = dir.join(format!("r{i}.xml"));
                    std::fs::write(&p, xml).unwrap();
                    p
                }
                1 => {
                    let p = dir.join(format!("r{i}.xml.gz"));
                    let mut e =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                    e.write_all(&xml).unwrap();
                    std::fs::write(&p, e.finish().unwrap()).unwrap();
                    p
                }
                _ => {
                    let p = dir.join(format!("r{i}.zip"));
                    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
                    z.start_file::<_, ()>(
                        format!("r{i}.xml"),
                        zip::write::FileOptions::default()
                            .compression_method(zip::CompressionMethod::Deflated),
                    )
                    .unwrap();
                    z.write_all(&xml).unwrap();
                    std::fs::write(&p, z.finish().unwrap().into_inner()).unwrap();
                    p
                }
            }
        })
        .collect()
}

fn bench_import(c: &mut Criterion) {
    let src = tempfile::tempdir().unwrap();
    let paths = files(src.path());
    let now = OffsetDateTime::now_utc();
    let mut g = c.benchmark_group("dmarc_import");
    g.sample_size(10);
    g.bench_function(
        "import 1,000 report files into a fresh store (one call)",
        |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let store = Store::open_with(dir.path(), &MemoryKeys::new()).unwrap();
                    let pin = Secret::new("246813");
                    operators::create_first_admin(&store, "aiko", &pin, now).unwrap();
                    let aiko = operators::sign_in(&store, "aiko", &pin, now).unwrap();
                    (dir, store, aiko)
                },
                |(dir, store, aiko)| {
                    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
                    let reports = dmarc_report::read_reports(&refs).unwrap();
                    let new = dmarc_report::store_reports_by(&store, &aiko, &reports, now).unwrap();
                    assert_eq!(new, 1000);
                    (dir, store, aiko)
                },
                criterion::BatchSize::PerIteration,
            )
        },
    );
    g.finish();
}

criterion_group!(benches, bench_import);
criterion_main!(benches);
