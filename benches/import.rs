//! Import + validate 100,000 recipient rows, against a bare `csv` parse of the same bytes.
//!
//! Run: `cargo bench -p mergeguard --bench import`. Both groups parse the same in-memory
//! UTF-8 file (~7 MB, Japanese names, five columns), generated once in setup, so the
//! ratio between them is measured in the same run on the same machine.
//!
//! It also prints one cold run of each with its peak memory, and a `paired` line: 15
//! alternating bare/import runs and the median of their ratios, which a burst of load
//! on a shared machine cannot skew the way it can skew one group against the other.
//! Latest figures and what changed to get there: BENCHMARKS.md.

use std::fmt::Write as _;
use std::hint::black_box;

#[path = "support/measure.rs"]
mod measure;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mergeguard::recipients::{import_bytes, ImportOptions};

const ROWS: usize = 100_000;

fn generate() -> Vec<u8> {
    const FAMILY: &[&str] = &[
        "山田", "髙橋", "佐藤", "鈴木", "田中", "山﨑", "渡辺", "伊藤",
    ];
    const GIVEN: &[&str] = &[
        "太郎",
        "花子",
        "一郎",
        "美咲",
        "健太",
        "さくら",
        "翔",
        "陽菜",
    ];
    let mut text = String::with_capacity(ROWS * 80);
    text.push_str("氏名,メールアドレス,会社,電話,備考\r\n");
    for i in 0..ROWS {
        let family = FAMILY[i % FAMILY.len()];
        let given = GIVEN[(i / 8) % GIVEN.len()];
        let company = if i % 5 == 0 {
            "\"株式会社テスト, 東京\""
        } else {
            "テスト商事"
        };
        writeln!(
            text,
            "{family} {given},user{i}@example{}.jp,{company},03-{:04}-{:04},会員\r",
            i % 50,
            i % 10_000,
            (i * 7) % 10_000
        )
        .unwrap();
    }
    text.into_bytes()
}

fn bench(c: &mut Criterion) {
    let bytes = generate();
    eprintln!("input: {} rows, {} bytes", ROWS, bytes.len());
    let bare = measure::measure(|| {
        let mut reader = csv::ReaderBuilder::new().from_reader(&bytes[..]);
        let mut record = csv::StringRecord::new();
        let mut n = 0usize;
        while reader.read_record(&mut record).unwrap() {
            n += 1;
        }
        n
    });
    eprintln!("bare csv parse, one run: {}", bare.describe());
    let run = measure::measure(|| import_bytes(&bytes, &ImportOptions::default()).unwrap());
    eprintln!(
        "import, one run ({} recipients kept): {}",
        run.output.recipients.len(),
        run.describe()
    );
    drop(run);
    paired_ratio(&bytes);

    let mut bare = c.benchmark_group("csv_bare_parse_100k");
    bare.sample_size(20)
        .throughput(Throughput::Bytes(bytes.len() as u64));
    bare.bench_function("string_records", |b| {
        b.iter(|| {
            // The baseline a hand-rolled importer would start from: UTF-8 validated
            // records, one reused buffer, no per-cell work.
            let mut reader = csv::ReaderBuilder::new().from_reader(black_box(&bytes[..]));
            let mut record = csv::StringRecord::new();
            let mut fields = 0usize;
            while reader.read_record(&mut record).unwrap() {
                fields += record.len();
            }
            black_box(fields)
        })
    });
    bare.finish();

    let mut import = c.benchmark_group("import_validate_100k");
    import
        .sample_size(20)
        .throughput(Throughput::Bytes(bytes.len() as u64));
    let options = ImportOptions::default();
    import.bench_function("import_bytes", |b| {
        // The list goes back to the caller, who keeps it; freeing it is not import work
        // (the bare parse has nothing to free), so the drop is outside the timing.
        b.iter_with_large_drop(|| {
            let list = import_bytes(black_box(&bytes), &options).unwrap();
            assert_eq!(list.recipients.len(), ROWS);
            black_box(list)
        })
    });
    import.finish();
}

/// The ratio the issue's target is about, measured robustly on a shared machine: bare
/// parse and import alternate, so a burst of load from elsewhere hits both alike, and the
/// median of the per-pair ratios is printed with the median times.
fn paired_ratio(bytes: &[u8]) {
    const PAIRS: usize = 15;
    let options = ImportOptions::default();
    let mut bare = Vec::with_capacity(PAIRS);
    let mut import = Vec::with_capacity(PAIRS);
    for _ in 0..PAIRS {
        let started = std::time::Instant::now();
        let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
        let mut record = csv::StringRecord::new();
        let mut fields = 0usize;
        while reader.read_record(&mut record).unwrap() {
            fields += record.len();
        }
        black_box(fields);
        bare.push(started.elapsed().as_secs_f64());
        let started = std::time::Instant::now();
        let list = import_bytes(black_box(bytes), &options).unwrap();
        import.push(started.elapsed().as_secs_f64());
        drop(black_box(list));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut ratios: Vec<f64> = import.iter().zip(&bare).map(|(i, b)| i / b).collect();
    eprintln!(
        "paired, {PAIRS} alternating runs: bare median {:.1} ms, import median {:.1} ms, \
         median ratio {:.2}x (target 3x)",
        median(&mut bare) * 1e3,
        median(&mut import) * 1e3,
        median(&mut ratios),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
