//! SpamAssassin as an independent oracle for the messages MergeGuard builds: the
//! example campaign (`examples/`) and a small test campaign, DKIM-signed with the test
//! key, are scored with the Debian package's local rules (`-L`: no network tests), and
//! the checklist's `content.spamassassin` and `jp_law.*` findings are read on the
//! example as the app runs them.
//!
//! Needs the `spamassassin` program (`scripts/install-deps.sh --with-tests`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mergeguard::campaign::Campaign;
use mergeguard::compose::{self, BuiltMessage, Composer, Draft};
use mergeguard::preflight::campaign::{check_campaign, import_campaign_recipients, CheckOptions};
use mergeguard::preflight::dns::Resolver;
use mergeguard::preflight::domain::load_dkim_key;
use mergeguard::preflight::spamassassin::{self, Score};
use mergeguard::preflight::{jp_law, Status};
use mergeguard::recipients::import_bytes;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn program() -> PathBuf {
    spamassassin::program()
        .expect("spamassassin is not installed: run scripts/install-deps.sh --with-tests")
}

fn score(raw: &[u8]) -> Score {
    spamassassin::score(&program(), raw, spamassassin::TIMEOUT).expect("SpamAssassin scores")
}

fn signed(raw: &[u8], domain: &str) -> Vec<u8> {
    let key = load_dkim_key(root().join("tests/data/dkim/rsa2048.pem")).unwrap();
    let header = key.sign(raw, domain, "s1", SystemTime::now()).unwrap();
    let mut out = header.into_bytes();
    out.extend_from_slice(raw);
    out
}

fn example_messages(n: usize) -> Vec<BuiltMessage> {
    let campaign = Campaign::load(&root().join("examples/campaign.toml")).unwrap();
    let list = import_campaign_recipients(&campaign, None).unwrap();
    let composer = Composer::new(Draft::from_campaign(&campaign).unwrap())
        .unwrap()
        .with_date(SystemTime::now());
    compose::render_all(&composer, &list)
        .into_iter()
        .take(n)
        .map(|m| m.unwrap())
        .collect()
}

fn rules(s: &Score) -> Vec<&str> {
    s.rules.iter().map(|(r, _)| r.as_str()).collect()
}

#[test]
fn the_example_campaign_scores_at_most_zero_with_dkim_and_without() {
    for m in example_messages(2) {
        let with = score(&signed(&m.raw, "shop.test"));
        eprintln!("example row {} with DKIM: {with:?}", m.row);
        assert!(with.score <= 0.0, "row {}: {with:?}", m.row);
        // `-L` keeps SpamAssassin off the network, so its DKIM plugin cannot fetch the
        // key: the signature neither adds nor takes away points here.
        let without = score(&m.raw);
        eprintln!("example row {} without DKIM: {without:?}", m.row);
        assert!(without.score <= 0.0, "row {}: {without:?}", m.row);
        assert!(!rules(&without).contains(&"LIST_PARTIAL_SHORT_MSG"));
    }
}

/// A short newsletter (HTML part under 1 KiB) with List-Unsubscribe, no DKIM and no
/// List-Id hit LIST_PARTIAL_SHORT_MSG; MergeGuard's messages now carry List-Id
/// (RFC 2919).
#[test]
fn list_unsubscribe_without_list_id_hit_list_partial_short_msg() {
    let draft = Draft {
        campaign_id: "sa-test".into(),
        from_name: "Good Shop".into(),
        from_address: "news@good.test".into(),
        subject: "Hello {{ name }}".into(),
        // The refusal sentence jp_law's fix suggests: "To stop these e-mails" would hit
        // END_FUTURE_EMAILS (+1.0).
        text: "Hello {{ name }}, our shop opens at nine tomorrow.\n\nIf you no longer wish to receive this newsletter, unsubscribe here:\nhttps://good.test/unsubscribe\n".into(),
        // SpamAssassin's rule needs a short HTML part (__HTML_LENGTH_0000_1024).
        html: Some("<p>Hello {{ name }}, our shop opens at nine tomorrow.</p>\n<p>If you no longer wish to receive this newsletter, unsubscribe <a href=\"https://good.test/unsubscribe\">here</a>.</p>\n".into()),
        unsubscribe_url: Some("https://good.test/unsubscribe?t={token}".into()),
        ..Draft::default()
    };
    let list = import_bytes(
        b"email,name\nhanako@example.jp,Hanako\n",
        &Default::default(),
    )
    .unwrap();
    let composer = Composer::new(draft).unwrap().with_date(SystemTime::now());
    let m = composer.render(&list, &list.recipients[0]).unwrap();
    let raw = String::from_utf8(m.raw.clone()).unwrap();
    assert!(raw.contains("\r\nList-Id: <news.good.test>\r\n"), "{raw}");

    let now = score(&m.raw);
    eprintln!("test campaign without DKIM: {now:?}");
    assert!(!rules(&now).contains(&"LIST_PARTIAL_SHORT_MSG"), "{now:?}");
    let dkim = score(&signed(&m.raw, "good.test"));
    eprintln!("test campaign with DKIM: {dkim:?}");
    assert!(dkim.score <= 0.0, "{dkim:?}");

    let before: String = raw
        .split("\r\n")
        .filter(|l| !l.starts_with("List-Id:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let old = score(before.as_bytes());
    eprintln!("the same without List-Id: {old:?}");
    assert!(rules(&old).contains(&"LIST_PARTIAL_SHORT_MSG"), "{old:?}");
    assert!(old.score > now.score, "{old:?} vs {now:?}");
}

#[test]
fn a_message_spamassassin_calls_spam_fails_the_check() {
    let mut m = example_messages(1).remove(0);
    // GTUBE, the standard test string every SpamAssassin scores as spam.
    m.raw = "From: news@shop.test\r\nTo: a@example.jp\r\nSubject: t\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <g@shop.test>\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"
    .as_bytes()
    .to_vec();
    let check = spamassassin::Pending::start(m.row, m.raw).finish();
    assert_eq!(check.status, Status::Fail, "{check:?}");
    assert!(check.detail.contains("GTUBE"), "{check:?}");
}

/// The example campaign through the whole checklist (Outbox, a resolver that answers
/// nothing): SpamAssassin's score of its first message and the 特定電子メール法 group
/// both pass.
#[test]
fn the_example_checklist_shows_the_score_and_passes_the_japanese_law() {
    let _ = program();
    let tmp = tempfile::tempdir().unwrap();
    for f in [
        "campaign.toml",
        "customers.csv",
        "newsletter.txt",
        "newsletter.html",
        "coupon.txt",
    ] {
        std::fs::copy(root().join("examples").join(f), tmp.path().join(f)).unwrap();
    }
    let report = run_checklist(&tmp.path().join("campaign.toml"));
    let sa = report
        .iter()
        .find(|c| c.id == spamassassin::ID)
        .expect("content.spamassassin is in the checklist");
    assert_eq!(sa.status, Status::Pass, "{sa:?}");
    assert!(sa.detail.contains("rules hit"), "{sa:?}");
    for id in jp_law::IDS {
        let c = report.iter().find(|c| c.id == *id).unwrap();
        assert_eq!(c.status, Status::Pass, "{c:?}");
    }

    // The same campaign without the postal address in its body fails the law's check.
    let text = std::fs::read_to_string(tmp.path().join("newsletter.txt")).unwrap();
    std::fs::write(
        tmp.path().join("newsletter.txt"),
        text.replace("〒105-0000 東京都港区芝公園0-0-0\n", ""),
    )
    .unwrap();
    let report = run_checklist(&tmp.path().join("campaign.toml"));
    let c = report
        .iter()
        .find(|c| c.id == jp_law::POSTAL_ADDRESS)
        .unwrap();
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert!(c.detail.contains("text body"), "{c:?}");
}

fn run_checklist(path: &Path) -> Vec<mergeguard::preflight::Check> {
    let campaign = Campaign::load(path).unwrap();
    let options = CheckOptions {
        resolver: Resolver::At("127.0.0.1:9".parse().unwrap()),
        suppressed: Some(Arc::default()),
        ..CheckOptions::default()
    };
    let started = std::time::Instant::now();
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(check_campaign(
            &campaign,
            &options,
            SystemTime::now(),
            &|_, _| {},
        ))
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(60));
    report.checks
}
