//! Message-level pre-flight checks (addressing, attachments, merge, content) over real
//! messages: recipient files imported with `recipients::import_*`, messages built by
//! `compose::Composer`, attachments from `tests/data/attachments/` (written by its
//! `make_fixtures.py`). Each test asserts the exact check id and status it is about.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use mergeguard::compose::{self, Attachment, BuiltMessage, Composer, Draft, RenderError};
use mergeguard::error::ErrorCode;
use mergeguard::preflight::addressing::AddressBook;
use mergeguard::preflight::attachments::{scan_attachment, ScanLimits};
use mergeguard::preflight::messages::{
    check_messages, check_messages_with_progress, MessageCheckInput,
};
use mergeguard::preflight::{Check, Status};
use mergeguard::recipients::{import_bytes, import_path, ImportOptions, RecipientList};

const ALL_IDS: [&str; 15] = [
    "addressing.single_to",
    "addressing.envelope",
    "addressing.no_cc_bcc",
    "addressing.no_other_recipient",
    "addressing.lookalike_domain",
    "attachments.address_list",
    "attachments.recipient_file",
    "attachments.unreadable",
    "merge.renders",
    "merge.subject",
    "merge.leftover",
    "content.unsubscribe",
    "content.from_domain",
    "content.size",
    "content.line_endings",
];

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/attachments")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap_or_else(|e| {
        panic!("{name}: {e} (run python3 tests/data/attachments/make_fixtures.py)")
    })
}

/// The five recipients of `recipients.csv`, rows 2 (taro) to 6 (shiro).
fn recipients() -> RecipientList {
    let list = import_path(&data("recipients.csv"), &ImportOptions::default())
        .expect("recipients.csv imports");
    assert_eq!(list.recipients.len(), 5);
    list
}

fn import_text(csv: &str) -> RecipientList {
    import_bytes(csv.as_bytes(), &ImportOptions::default()).expect("test CSV imports")
}

/// A clean draft: personal subject and body (with the recipient's own address, which
/// is allowed), an HTML part, and a List-Unsubscribe address.
fn draft() -> Draft {
    Draft {
        campaign_id: "pf-messages".into(),
        from_name: "Shop Test".into(),
        from_address: "news@shop.test".into(),
        subject: "{{ 氏名 }}様へ春のお知らせ".into(),
        text: "{{ 氏名 }}様 ({{ email }})\n{{ 会社名 }}のご担当者様へ。\n".into(),
        html: Some("<p>{{ 氏名 }}様 ({{ email }})</p>\n".into()),
        unsubscribe_mailto: Some("unsubscribe+{token}@shop.test".into()),
        ..Draft::default()
    }
}

fn attach(mut d: Draft, files: &[&str]) -> Draft {
    for f in files {
        d.attachments.push(Attachment::from_bytes(*f, read(f)));
    }
    d
}

type Built = (Vec<BuiltMessage>, Vec<(u64, RenderError)>);

fn build(d: Draft, list: &RecipientList) -> Built {
    let c = Composer::new(d)
        .expect("draft compiles")
        .with_date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000));
    let mut messages = Vec::new();
    let mut errors = Vec::new();
    for outcome in compose::render_all(&c, list) {
        match outcome {
            Ok(m) => messages.push(m),
            Err(e) => errors.push(e),
        }
    }
    (messages, errors)
}

/// Runs the checks with the sender domain checked as shop.test.
fn run(built: &Built, list: &RecipientList) -> Vec<Check> {
    let mut input = MessageCheckInput::new(&built.0, &built.1, list);
    input.authenticated_domain = Some("shop.test");
    check_messages(&input)
}

fn find<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks.iter().find(|c| c.id == id).unwrap_or_else(|| {
        panic!(
            "no check {id} in {:?}",
            checks.iter().map(|c| &c.id).collect::<Vec<_>>()
        )
    })
}

#[track_caller]
fn expect(checks: &[Check], id: &str, status: Status, detail_has: &[&str]) {
    let c = find(checks, id);
    assert_eq!(c.status, status, "{id}: {c:#?}");
    for d in detail_has {
        assert!(
            c.detail.contains(d),
            "{id} detail lacks {d:?}: {}",
            c.detail
        );
    }
    if status != Status::Pass {
        assert!(!c.fix.is_empty(), "{id} {status:?} without a fix hint");
    }
}

/// Every check other than `except` passes.
#[track_caller]
fn others_pass(checks: &[Check], except: &[&str]) {
    for c in checks {
        if !except.contains(&c.id.as_str()) {
            assert_eq!(c.status, Status::Pass, "{} should pass: {c:#?}", c.id);
        }
    }
}

fn with_attachments(files: &[&str]) -> Vec<Check> {
    let list = recipients();
    let built = build(attach(draft(), files), &list);
    assert!(built.1.is_empty(), "render errors: {:?}", built.1);
    run(&built, &list)
}

// --- the clean baseline ----------------------------------------------------------------

#[test]
fn clean_campaign_passes_every_check_in_a_fixed_order() {
    let checks = with_attachments(&[
        "clean.txt",
        "clean.pdf",
        "clean.xlsx",
        "clean.xls",
        "clean.docx",
        "clean.zip",
    ]);
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ALL_IDS);
    others_pass(&checks, &[]);
    // Each clean file was really opened as its format, not read as bytes.
    let scanned = &find(&checks, "attachments.address_list").detail;
    assert!(
        scanned.starts_with("6 distinct attachment(s) scanned (docx, pdf, text, xls, xlsx, zip)."),
        "{scanned}"
    );
}

#[test]
fn per_recipient_attachment_with_only_the_own_address_passes() {
    let list = recipients();
    let mut d = draft();
    d.attachment_column = Some("添付".into());
    d.attachment_dir = Some(data("per-recipient"));
    let built = build(d, &list);
    assert!(built.1.is_empty(), "{:?}", built.1);
    assert_eq!(built.0[0].attachments[0].file_name, "taro.txt");
    let checks = run(&built, &list);
    others_pass(&checks, &[]);
    expect(
        &checks,
        "attachments.address_list",
        Status::Pass,
        &["5 distinct attachment(s) scanned (text)"],
    );
}

// --- attachments holding other recipients' addresses ----------------------------------

/// One fixture with the addresses of rows 3 and 4, attached to every message: every
/// message fails (row 3's message still shows row 4, and the other way round), and the
/// format was read as `kind`.
fn assert_leak(file: &str, kind: &str) {
    let checks = with_attachments(&[file]);
    expect(
        &checks,
        "attachments.address_list",
        Status::Fail,
        &[
            "5 messages:",
            &format!("row 2: attachment \"{file}\" holds the addresses of other recipients (row 3, row 4)"),
            &format!("row 3: attachment \"{file}\" holds the addresses of other recipients (row 4)"),
        ],
    );
    expect(
        &checks,
        "addressing.no_other_recipient",
        Status::Fail,
        &[&format!(
            "row 2: contains row 3's address hanako@example.jp in attachment \"{file}\""
        )],
    );
    expect(
        &checks,
        "attachments.recipient_file",
        Status::Pass,
        &[&format!("1 distinct attachment(s) scanned ({kind})")],
    );
    others_pass(
        &checks,
        &["attachments.address_list", "addressing.no_other_recipient"],
    );
}

#[test]
fn csv_with_other_recipients_fails() {
    assert_leak("leak.csv", "text");
}

#[test]
fn shift_jis_csv_with_other_recipients_fails() {
    assert_leak("leak-sjis.csv", "text");
}

#[test]
fn tsv_with_other_recipients_fails() {
    assert_leak("leak.tsv", "text");
}

#[test]
fn utf16_text_export_with_other_recipients_fails() {
    // A text/plain part is turned into UTF-8 by the MIME parser (as if it were UTF-8);
    // the scanner must see the attached UTF-16 bytes to find the addresses.
    assert_leak("leak-utf16.txt", "text");
}

#[test]
fn txt_with_other_recipients_in_prose_fails() {
    assert_leak("leak.txt", "text");
}

#[test]
fn xlsx_with_other_recipients_fails() {
    assert_leak("leak.xlsx", "xlsx");
}

#[test]
fn xls_with_other_recipients_fails() {
    assert_leak("leak.xls", "xls");
}

#[test]
fn docx_with_other_recipients_fails() {
    assert_leak("leak.docx", "docx");
}

#[test]
fn ods_with_other_recipients_fails() {
    assert_leak("leak.ods", "ods");
}

#[test]
fn odt_with_other_recipients_fails() {
    assert_leak("leak.odt", "odt");
}

#[test]
fn zip_with_a_csv_of_other_recipients_fails() {
    assert_leak("leak.zip", "text, zip");
}

#[test]
fn pdf_with_other_recipients_in_a_compressed_content_stream_fails() {
    // The addresses are only inside a FlateDecode stream, one split by kerning.
    assert!(memchr_absent(&read("leak-compressed.pdf"), b"@example"));
    assert_leak("leak-compressed.pdf", "pdf");
    let list = recipients();
    let scan = scan_attachment(
        "leak-compressed.pdf",
        &read("leak-compressed.pdf"),
        &[0; 32],
        &AddressBook::new(&list),
        &ScanLimits::default(),
    );
    assert_eq!(scan.kinds, ["pdf"]);
    assert_eq!(scan.campaign_rows, [3, 4]);
    assert!(scan.unreadable.is_empty(), "{:?}", scan.unreadable);
}

#[test]
fn pdf_drawing_other_recipients_with_a_cid_font_and_to_unicode_map_fails() {
    // Two-byte glyph codes in hex strings; only the font's compressed ToUnicode map
    // turns them into the letters of rows 3 and 4's addresses.
    assert!(memchr_absent(&read("leak-cid.pdf"), b"@exa"));
    assert_leak("leak-cid.pdf", "pdf");
}

fn memchr_absent(haystack: &[u8], needle: &[u8]) -> bool {
    !haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_clean_compressed_pdf_is_read_completely_and_passes() {
    let checks = with_attachments(&["clean-compressed.pdf", "clean.pdf"]);
    others_pass(&checks, &[]);
    expect(
        &checks,
        "attachments.unreadable",
        Status::Pass,
        &[
            "2 distinct attachment(s) scanned (pdf)",
            "All could be read completely.",
        ],
    );
}

/// A PDF that cannot be read completely is a warning naming why, never "read completely".
fn assert_unreadable_pdf(file: &str, why: &str) {
    let checks = with_attachments(&[file]);
    expect(
        &checks,
        "attachments.unreadable",
        Status::Warning,
        &[&format!("row 2: attachment \"{file}\":"), why],
    );
    others_pass(&checks, &["attachments.unreadable"]);
}

#[test]
fn an_encrypted_pdf_is_reported_unreadable() {
    assert_unreadable_pdf("encrypted.pdf", "is an encrypted PDF");
}

#[test]
fn a_pdf_with_a_damaged_compressed_stream_is_reported_unreadable() {
    assert_unreadable_pdf(
        "damaged-compressed.pdf",
        "compressed stream(s) of \"damaged-compressed.pdf\" are damaged",
    );
}

#[test]
fn a_pdf_drawn_with_a_composite_font_is_reported_unreadable() {
    assert_unreadable_pdf("type0-font.pdf", "composite (Type0/CID) fonts");
}

#[test]
fn a_pdf_stream_bomb_stops_at_the_ratio_limit() {
    assert_unreadable_pdf("bomb.pdf", "expands more than 100-fold");
    // And within a byte budget smaller than the stream, scanning stops there.
    let list = recipients();
    let limits = ScanLimits {
        max_total_bytes: 64 * 1024,
        ..ScanLimits::default()
    };
    let started = Instant::now();
    let scan = scan_attachment(
        "bomb.pdf",
        &read("bomb.pdf"),
        &[0; 32],
        &AddressBook::new(&list),
        &limits,
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        scan.unreadable.iter().any(|u| u.contains("scanning limit")),
        "{:?}",
        scan.unreadable
    );
}

#[test]
fn zip_inside_a_zip_with_other_recipients_fails() {
    assert_leak("leak-nested.zip", "text, zip");
    // The CSV two levels down was read as text.
    let list = recipients();
    let book = AddressBook::new(&list);
    let bytes = read("leak-nested.zip");
    let scan = scan_attachment(
        "leak-nested.zip",
        &bytes,
        &[0; 32],
        &book,
        &ScanLimits::default(),
    );
    assert_eq!(scan.kinds, ["zip", "text"]);
    assert_eq!(scan.campaign_rows, [3, 4]);
    assert_eq!(scan.address_count, 2);
    assert!(scan.unreadable.is_empty(), "{:?}", scan.unreadable);
}

#[test]
fn misrouted_per_recipient_attachment_fails_only_that_message() {
    // Row 2's invoice column names row 3's file.
    let csv =
        String::from_utf8(read("recipients.csv"))
            .unwrap()
            .replacen("taro.txt", "hanako.txt", 1);
    let list = import_text(&csv);
    let mut d = draft();
    d.attachment_column = Some("添付".into());
    d.attachment_dir = Some(data("per-recipient"));
    let built = build(d, &list);
    let checks = run(&built, &list);
    let c = find(&checks, "attachments.address_list");
    assert_eq!(c.status, Status::Fail);
    assert_eq!(
        c.detail,
        "1 message: row 2: attachment \"hanako.txt\" holds the addresses of other recipients (row 3)."
    );
    expect(
        &checks,
        "addressing.no_other_recipient",
        Status::Fail,
        &["1 message: row 2: contains row 3's address hanako@example.jp in attachment \"hanako.txt\""],
    );
    others_pass(
        &checks,
        &["attachments.address_list", "addressing.no_other_recipient"],
    );
}

// --- address lists by count -------------------------------------------------------------

#[test]
fn six_unknown_addresses_are_an_address_list() {
    let checks = with_attachments(&["six-strangers.csv"]);
    expect(
        &checks,
        "attachments.address_list",
        Status::Fail,
        &[
            "5 messages:",
            "row 2: attachment \"six-strangers.csv\" holds 6 addresses (e.g. a.ito@other.example",
            "more than the allowed 5",
        ],
    );
    // None of them is a recipient, so no recipient's address was disclosed.
    others_pass(&checks, &["attachments.address_list"]);
}

#[test]
fn five_unknown_addresses_are_allowed_and_the_limit_is_configurable() {
    let list = recipients();
    let built = build(attach(draft(), &["five-strangers.csv"]), &list);
    others_pass(&run(&built, &list), &[]);

    let mut input = MessageCheckInput::new(&built.0, &built.1, &list);
    input.authenticated_domain = Some("shop.test");
    input.max_addresses_per_attachment = 4;
    let checks = check_messages(&input);
    expect(
        &checks,
        "attachments.address_list",
        Status::Fail,
        &["holds 5 addresses", "more than the allowed 4"],
    );
}

// --- copies of the recipient file ------------------------------------------------------

#[test]
fn byte_identical_copy_of_the_recipient_file_fails() {
    let checks = with_attachments(&["recipient-copy.csv"]);
    expect(
        &checks,
        "attachments.recipient_file",
        Status::Fail,
        &[
            "5 messages:",
            "row 2: attachment \"recipient-copy.csv\" is the recipient file itself (same SHA-256)",
        ],
    );
    // It is an address list too.
    expect(&checks, "attachments.address_list", Status::Fail, &["row 2: attachment \"recipient-copy.csv\" holds the addresses of other recipients (row 3, row 4, row 5 and 1 more)"]);
}

#[test]
fn byte_identical_copy_of_a_shift_jis_recipient_file_fails() {
    // A text/csv part is turned into UTF-8 by the MIME parser; the hash must still be
    // taken over the bytes that were attached.
    let list = import_path(&data("recipients-sjis.csv"), &ImportOptions::default()).unwrap();
    assert_eq!(list.encoding, "shift_jis");
    let built = build(attach(draft(), &["recipient-copy-sjis.csv"]), &list);
    let checks = run(&built, &list);
    expect(
        &checks,
        "attachments.recipient_file",
        Status::Fail,
        &["row 2: attachment \"recipient-copy-sjis.csv\" is the recipient file itself"],
    );
}

#[test]
fn a_different_file_with_the_same_addresses_is_not_called_a_copy() {
    // recipients-sjis.csv holds the same rows as recipients.csv, in other bytes.
    let checks = with_attachments(&["recipient-copy-sjis.csv"]);
    expect(&checks, "attachments.recipient_file", Status::Pass, &[]);
    expect(&checks, "attachments.address_list", Status::Fail, &[]);
}

// --- archives that cannot be read ----------------------------------------------------------

#[test]
fn password_protected_zip_is_a_warning_to_acknowledge() {
    let checks = with_attachments(&["encrypted.zip"]);
    expect(
        &checks,
        "attachments.unreadable",
        Status::Warning,
        &[
            "5 messages:",
            "\"encrypted.zip/顧客.csv\" is password-protected; its contents cannot be checked",
        ],
    );
    // What could not be read is not claimed to be an address list.
    others_pass(&checks, &["attachments.unreadable"]);
}

#[test]
fn compressed_customer_list_is_a_warning_not_a_pass() {
    // leak.csv, gzip-compressed: none of its addresses is readable in the bytes, so a
    // text scan would have passed it as clean.
    let checks = with_attachments(&["leak.csv.gz"]);
    expect(
        &checks,
        "attachments.unreadable",
        Status::Warning,
        &["\"leak.csv.gz\" is a gzip-compressed file; MergeGuard cannot look inside it"],
    );
    others_pass(&checks, &["attachments.unreadable"]);
}

#[test]
fn every_archive_format_it_cannot_open_is_named_and_plain_text_is_not() {
    let list = recipients();
    let book = AddressBook::new(&list);
    let scan =
        |bytes: &[u8]| scan_attachment("list", bytes, &[0; 32], &book, &ScanLimits::default());
    let pad = |head: &[u8]| [head, &[0x5A; 64][..]].concat();
    for (head, format) in [
        (&b"7z\xBC\xAF\x27\x1C"[..], "7-Zip archive"),
        (b"Rar!\x1a\x07\x01\x00", "RAR archive"),
        (b"\x1F\x8B\x08\x00", "gzip-compressed file"),
        (b"BZh91AY&SY", "bzip2-compressed file"),
        (b"\xFD7zXZ\x00", "xz-compressed file"),
        (b"\x28\xB5\x2F\xFD", "Zstandard-compressed file"),
        (b"MSCF\0\0\0\0", "Windows cabinet (CAB) archive"),
        (b"\x2A\x1F-lh5-", "LHA (LZH) archive"),
    ] {
        let s = scan(&pad(head));
        assert_eq!(s.kinds, ["compressed"], "{format}");
        assert_eq!(s.unreadable.len(), 1, "{format}");
        assert!(
            s.unreadable[0].contains(format),
            "{format}: {:?}",
            s.unreadable
        );
    }
    // Text that merely starts like a magic number is still read as text.
    for text in [
        "BZh is not a digit, taro@example.jp",
        "MSCF notes: taro@example.jp",
    ] {
        let s = scan(text.as_bytes());
        assert_eq!(s.kinds, ["text"], "{text}");
        assert!(s.unreadable.is_empty(), "{text}: {:?}", s.unreadable);
    }
}

#[test]
fn damaged_zip_is_a_warning_to_acknowledge() {
    let checks = with_attachments(&["damaged.zip"]);
    expect(
        &checks,
        "attachments.unreadable",
        Status::Warning,
        &["row 2: attachment \"damaged.zip\": \"damaged.zip\" looks like a ZIP archive but is damaged"],
    );
    others_pass(&checks, &["attachments.unreadable"]);
}

#[test]
fn zip_bomb_by_ratio_is_not_expanded() {
    let started = Instant::now();
    let checks = with_attachments(&["bomb-ratio.zip"]);
    expect(
        &checks,
        "attachments.unreadable",
        Status::Warning,
        &[
            "\"bomb-ratio.zip/zeros.bin\" expands",
            "(a possible zip bomb); it was not opened",
        ],
    );
    others_pass(&checks, &["attachments.unreadable"]);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn zip_bomb_by_nesting_stops_at_the_depth_limit() {
    let checks = with_attachments(&["bomb-deep.zip"]);
    expect(
        &checks,
        "attachments.unreadable",
        Status::Warning,
        &["is an archive nested more than 3 levels deep; it was not opened"],
    );
    // The CSV at the bottom holds rows 3 and 4, but was never reached.
    expect(&checks, "attachments.address_list", Status::Pass, &[]);

    // With one more level allowed, it is reached and fails.
    let list = recipients();
    let built = build(attach(draft(), &["bomb-deep.zip"]), &list);
    let mut input = MessageCheckInput::new(&built.0, &built.1, &list);
    input.authenticated_domain = Some("shop.test");
    input.scan_limits.max_depth = 5;
    let checks = check_messages(&input);
    expect(
        &checks,
        "attachments.address_list",
        Status::Fail,
        &["(row 3, row 4)"],
    );
    expect(&checks, "attachments.unreadable", Status::Pass, &[]);
}

#[test]
fn zip_bomb_by_entry_count_stops_at_the_entry_limit() {
    let list = recipients();
    let book = AddressBook::new(&list);
    let bytes = read("bomb-entries.zip");
    // 1,000 empty entries are within the default 10,000.
    let scan = scan_attachment(
        "bomb-entries.zip",
        &bytes,
        &[0; 32],
        &book,
        &ScanLimits::default(),
    );
    assert!(scan.unreadable.is_empty(), "{:?}", scan.unreadable);

    let built = build(attach(draft(), &["bomb-entries.zip"]), &list);
    let mut input = MessageCheckInput::new(&built.0, &built.1, &list);
    input.authenticated_domain = Some("shop.test");
    input.scan_limits.max_entries = 500;
    let checks = check_messages(&input);
    expect(
        &checks,
        "attachments.unreadable",
        Status::Warning,
        &["more than 500 archive entries; the rest were not opened (stopped at \"bomb-entries.zip/0500.txt\")"],
    );
    others_pass(&checks, &["attachments.unreadable"]);
}

#[test]
fn zip_entry_that_lies_about_its_size_is_not_expanded() {
    let list = recipients();
    let book = AddressBook::new(&list);
    let bytes = read("bomb-lying-size.zip");
    let limits = ScanLimits {
        max_total_bytes: 1 << 20,
        ..ScanLimits::default()
    };
    let started = Instant::now();
    let scan = scan_attachment("bomb-lying-size.zip", &bytes, &[0; 32], &book, &limits);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(scan.unreadable.len(), 1, "{:?}", scan.unreadable);
    // The zip reader stops at the declared 100 bytes and reports the entry as damaged
    // (its CRC covers 8 MiB); the scanner's own `take(budget)` is the second bound.
    assert_eq!(
        scan.unreadable[0],
        "\"bomb-lying-size.zip/small.txt\" is damaged and could not be decompressed"
    );

    let built = build(attach(draft(), &["bomb-lying-size.zip"]), &list);
    let mut input = MessageCheckInput::new(&built.0, &built.1, &list);
    input.authenticated_domain = Some("shop.test");
    input.scan_limits = limits;
    let checks = check_messages(&input);
    expect(
        &checks,
        "attachments.unreadable",
        Status::Warning,
        &["bomb-lying-size.zip/small.txt"],
    );
}

#[test]
fn damaged_copies_of_every_archive_fixture_are_reported_not_fatal() {
    let list = recipients();
    let book = AddressBook::new(&list);
    let limits = ScanLimits::default();
    let mut files: Vec<String> = std::fs::read_dir(data(""))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            [".zip", ".xlsx", ".xls", ".docx", ".ods", ".odt"]
                .iter()
                .any(|x| n.ends_with(x))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 14, "{files:?}");
    for f in &files {
        let bytes = read(f);
        // Cut in half: the central directory is gone, so the archive is damaged.
        let half = &bytes[..bytes.len() / 2];
        let scan = scan_attachment(f, half, &[0; 32], &book, &limits);
        assert!(!scan.unreadable.is_empty(), "{f} cut in half read cleanly");
        // Bytes flipped all over: whatever the readers make of it, the scan returns.
        for step in [7usize, 13, 31] {
            let mut bad = bytes.clone();
            for i in (step..bad.len()).step_by(step * 3) {
                bad[i] ^= 0x5a;
            }
            let scan = scan_attachment(f, &bad, &[1; 32], &book, &limits);
            assert_eq!(scan.sha256, "01".repeat(32), "{f}");
        }
    }
}

#[test]
fn every_distinct_attachment_is_scanned_once() {
    let checks = with_attachments(&["clean.txt", "leak.csv", "clean.xlsx"]);
    expect(
        &checks,
        "attachments.recipient_file",
        Status::Pass,
        &["3 distinct attachment(s) scanned (text, xlsx)"],
    );
}

// --- addressing -------------------------------------------------------------------------

/// recipients.csv plus a 紹介者 (referrer) column; row 2's referrer is row 3's address.
fn referrer_list() -> RecipientList {
    import_text(
        "氏名,メールアドレス,会社名,紹介者\n\
         山田 太郎,taro@example.jp,山田商店,hanako@example.jp\n\
         佐藤 花子,hanako@example.jp,佐藤工業,\n\
         鈴木 次郎,jiro@example.co.jp,鈴木建設,someone@elsewhere.example\n",
    )
}

fn referrer_checks(d: Draft) -> Vec<Check> {
    let list = referrer_list();
    let built = build(d, &list);
    assert!(built.1.is_empty(), "{:?}", built.1);
    run(&built, &list)
}

#[test]
fn merge_field_with_another_customers_address_in_the_text_body_fails() {
    let mut d = draft();
    d.text = "{{ 氏名 }}様\nご紹介者: {{ 紹介者 }}\n".into();
    let checks = referrer_checks(d);
    let c = find(&checks, "addressing.no_other_recipient");
    assert_eq!(c.status, Status::Fail);
    assert_eq!(
        c.detail,
        "1 message: row 2: contains row 3's address hanako@example.jp in the text body."
    );
    // An address that is nobody on the list (row 4's referrer) is not a disclosure.
    others_pass(&checks, &["addressing.no_other_recipient"]);
}

#[test]
fn merge_field_with_another_customers_address_in_the_html_body_fails() {
    let mut d = draft();
    d.html = Some(
        "<p>{{ 氏名 }}様</p><a href=\"https://shop.test/r?ref={{ 紹介者 | replace(\"@\", \"%40\") }}\">紹介</a>\n"
            .into(),
    );
    let checks = referrer_checks(d);
    expect(
        &checks,
        "addressing.no_other_recipient",
        Status::Fail,
        &["1 message: row 2: contains row 3's address hanako@example.jp in the HTML body"],
    );
}

#[test]
fn merge_field_with_another_customers_address_in_a_header_fails() {
    let mut d = draft();
    d.subject = "{{ 氏名 }}様 (ご紹介: {{ 紹介者 }})".into();
    let checks = referrer_checks(d);
    expect(
        &checks,
        "addressing.no_other_recipient",
        Status::Fail,
        &["1 message: row 2: contains row 3's address hanako@example.jp in the Subject header"],
    );

    let mut d = draft();
    d.from_name = "{{ 紹介者 }}".into();
    let checks = referrer_checks(d);
    expect(
        &checks,
        "addressing.no_other_recipient",
        Status::Fail,
        &["row 2: contains row 3's address hanako@example.jp in the From header"],
    );
}

#[test]
fn own_address_and_sender_address_are_not_reported() {
    let mut d = draft();
    d.text = "{{ email }} / news@shop.test / {{ fields[\"メールアドレス\"] }}\n".into();
    d.reply_to = Some("support@shop.test".into());
    let list = recipients();
    let built = build(d, &list);
    others_pass(&run(&built, &list), &[]);
}

fn clean_built() -> (RecipientList, Built) {
    let list = recipients();
    let built = build(draft(), &list);
    assert!(built.1.is_empty());
    (list, built)
}

fn replace_raw(m: &mut BuiltMessage, from: &str, to: &str) {
    let raw = String::from_utf8(m.raw.clone()).unwrap();
    assert!(raw.contains(from), "{from:?} not in the message");
    m.raw = raw.replacen(from, to, 1).into_bytes();
}

#[test]
fn the_one_to_must_equal_the_row_and_the_envelope() {
    let (list, mut built) = clean_built();
    let checks = run(&built, &list);
    expect(
        &checks,
        "addressing.single_to",
        Status::Pass,
        &["All 5 messages have exactly one To mailbox"],
    );
    expect(&checks, "addressing.envelope", Status::Pass, &[]);

    // Two mailboxes in To.
    replace_raw(
        &mut built.0[0],
        "To: taro@example.jp\r\n",
        "To: taro@example.jp, hanako@example.jp\r\n",
    );
    // To of another row.
    replace_raw(
        &mut built.0[1],
        "To: hanako@example.jp\r\n",
        "To: jiro@example.co.jp\r\n",
    );
    let checks = run(&built, &list);
    expect(
        &checks,
        "addressing.single_to",
        Status::Fail,
        &[
            "2 messages:",
            "row 2: To has 2 mailboxes (taro@example.jp, hanako@example.jp), expected exactly one",
            "row 3: To is jiro@example.co.jp but the row's address is hanako@example.jp",
        ],
    );
}

#[test]
fn the_envelope_must_be_the_one_row_address() {
    let (list, mut built) = clean_built();
    built.0[0].envelope_to = vec!["hanako@example.jp".into()];
    built.0[2].envelope_to.push("saburo@example.ne.jp".into());
    let checks = run(&built, &list);
    expect(
        &checks,
        "addressing.envelope",
        Status::Fail,
        &[
            "2 messages:",
            "row 2: envelope recipient is hanako@example.jp but the row's address is taro@example.jp",
            "row 4: 2 envelope recipients (jiro@example.co.jp, saburo@example.ne.jp), expected exactly one",
        ],
    );
    expect(&checks, "addressing.single_to", Status::Pass, &[]);
}

#[test]
fn cc_and_bcc_headers_fail() {
    let (list, mut built) = clean_built();
    replace_raw(&mut built.0[0], "To: ", "Cc: hanako@example.jp\r\nTo: ");
    replace_raw(
        &mut built.0[4],
        "To: ",
        "Bcc: someone@elsewhere.example\r\nTo: ",
    );
    let checks = run(&built, &list);
    expect(
        &checks,
        "addressing.no_cc_bcc",
        Status::Fail,
        &[
            "2 messages:",
            "row 2: has Cc header",
            "row 6: has Bcc header",
        ],
    );
    // The Cc shows row 3's address to row 2.
    expect(
        &checks,
        "addressing.no_other_recipient",
        Status::Fail,
        &["row 2: contains row 3's address hanako@example.jp in the Cc header"],
    );
}

// --- merge completeness -------------------------------------------------------------------

#[test]
fn empty_subject_after_merging_fails() {
    let list = import_text(
        "氏名,メールアドレス,件名\n山田 太郎,taro@example.jp,春のご案内\n佐藤 花子,hanako@example.jp,\n",
    );
    let mut d = draft();
    d.subject = "{{ 件名 }}".into();
    d.text = "{{ 氏名 }}様\n".into();
    d.html = None;
    let built = build(d, &list);
    let checks = run(&built, &list);
    let c = find(&checks, "merge.subject");
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.detail, "1 message: row 3: the subject is empty.");
    others_pass(&checks, &["merge.subject"]);
}

#[test]
fn leftover_template_markers_fail() {
    // A cell's "{{" is printed literally (values never become template source), so it
    // reaches the message; so does a template that escapes its braces.
    let list = import_text(
        "氏名,メールアドレス\n{{ 名前 }},taro@example.jp\n佐藤 花子,hanako@example.jp\n",
    );
    let mut d = draft();
    d.text = "{{ 氏名 }}様\n".into();
    d.html = Some("<p>{{ '{%' }} if 会員 %}</p>\n".into());
    d.from_name = "{{ 氏名 }}担当".into();
    let built = build(d, &list);
    assert!(built.1.is_empty(), "{:?}", built.1);
    let checks = run(&built, &list);
    expect(
        &checks,
        "merge.leftover",
        Status::Fail,
        &[
            "2 messages:",
            "row 2: \"{{\" in the subject, \"{{\" in the sender name, \"{{\" in the text body, \"{%\" in the HTML body",
            "row 3: \"{%\" in the HTML body",
        ],
    );
}

#[test]
fn recipient_whose_message_cannot_be_built_fails() {
    // Row 3's name holds a line break, which must never reach the Subject header.
    let list = import_text(
        "氏名,メールアドレス,会社名\n山田 太郎,taro@example.jp,山田商店\n\"佐藤\r\nBcc: x@evil.example\",hanako@example.jp,佐藤工業\n",
    );
    let built = build(draft(), &list);
    assert_eq!(built.1.len(), 1);
    assert_eq!(built.1[0].1.code, ErrorCode::HeaderInjection);
    let checks = run(&built, &list);
    expect(
        &checks,
        "merge.renders",
        Status::Fail,
        &["1 message: row 3: the subject would contain a line break"],
    );
    others_pass(&checks, &["merge.renders"]);

    // A recipient with neither a message nor an error is caught too.
    let (list, mut built) = clean_built();
    built.0.remove(3);
    let checks = run(&built, &list);
    expect(
        &checks,
        "merge.renders",
        Status::Fail,
        &["1 message: row 5: no message was built"],
    );
}

// --- content --------------------------------------------------------------------------------

#[test]
fn missing_list_unsubscribe_warns_on_a_small_list() {
    let list = recipients();
    let mut d = draft();
    d.unsubscribe_mailto = None;
    let built = build(d, &list);
    let checks = run(&built, &list);
    expect(
        &checks,
        "content.unsubscribe",
        Status::Warning,
        &["5 messages:", "row 2: no List-Unsubscribe header"],
    );
    others_pass(&checks, &["content.unsubscribe"]);
}

#[test]
fn missing_list_unsubscribe_fails_over_5000_recipients() {
    let mut csv = String::from("氏名,メールアドレス,会社名\n");
    for i in 0..5_001 {
        csv.push_str(&format!("客{i},c{i}@example.jp,会社{i}\n"));
    }
    let list = import_text(&csv);
    assert_eq!(list.recipients.len(), 5_001);
    let mut d = draft();
    d.unsubscribe_mailto = None;
    let built = build(d, &list);
    let checks = run(&built, &list);
    expect(
        &checks,
        "content.unsubscribe",
        Status::Fail,
        &["5001 messages:", "row 2: no List-Unsubscribe header"],
    );
    assert!(find(&checks, "content.unsubscribe")
        .fix
        .contains("over 5,000"));
    others_pass(&checks, &["content.unsubscribe"]);
}

#[test]
fn from_domain_must_be_the_checked_domain() {
    let (list, built) = clean_built();
    let mut input = MessageCheckInput::new(&built.0, &built.1, &list);
    input.authenticated_domain = Some("other.test");
    expect(
        &check_messages(&input),
        "content.from_domain",
        Status::Fail,
        &[
            "5 messages:",
            "row 2: From domain is shop.test, but the checked domain is other.test",
        ],
    );
    input.authenticated_domain = None;
    expect(
        &check_messages(&input),
        "content.from_domain",
        Status::Warning,
        &["row 2: From domain shop.test has not been checked"],
    );
    input.authenticated_domain = Some("Shop.Test.");
    expect(
        &check_messages(&input),
        "content.from_domain",
        Status::Pass,
        &[],
    );
}

#[test]
fn message_over_the_relay_size_limit_fails() {
    let (list, built) = clean_built();
    let largest = built.0.iter().map(|m| m.raw.len() as u64).max().unwrap();
    let smallest = built.0.iter().map(|m| m.raw.len() as u64).min().unwrap();
    let mut input = MessageCheckInput::new(&built.0, &built.1, &list);
    input.authenticated_domain = Some("shop.test");

    input.size_limit = Some(smallest - 1);
    expect(
        &check_messages(&input),
        "content.size",
        Status::Fail,
        &["5 messages:", "over the relay's limit of"],
    );
    // Fits, but not with room for the DKIM signature.
    input.size_limit = Some(largest + 10);
    expect(
        &check_messages(&input),
        "content.size",
        Status::Warning,
        &["within 1024 bytes of the relay's limit"],
    );
    input.size_limit = Some(largest + 2_000);
    expect(
        &check_messages(&input),
        "content.size",
        Status::Pass,
        &[&format!("(largest {largest} bytes)")],
    );
}

// --- progress ---------------------------------------------------------------------------------

#[test]
fn progress_is_reported_up_to_the_total() {
    let mut csv = String::from("氏名,メールアドレス,会社名\n");
    for i in 0..3_000 {
        csv.push_str(&format!("客{i},c{i}@example.jp,会社{i}\n"));
    }
    let list = import_text(&csv);
    let built = build(draft(), &list);
    let mut input = MessageCheckInput::new(&built.0, &built.1, &list);
    input.authenticated_domain = Some("shop.test");
    let seen = std::cell::RefCell::new(Vec::new());
    let checks =
        check_messages_with_progress(&input, &|done, total| seen.borrow_mut().push((done, total)));
    others_pass(&checks, &[]);
    let seen = seen.into_inner();
    assert_eq!(seen.first(), Some(&(0, 3_000)));
    assert_eq!(seen.last(), Some(&(3_000, 3_000)));
    assert!(seen.len() > 3, "only {seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
}

/// The whole checklist builds and checks messages a chunk at a time; over several chunks,
/// with a leak, a render error and a duplicate, it must say exactly what one pass over
/// all messages says.
#[test]
fn chunked_campaign_checklist_matches_one_pass_over_all_messages() {
    use mergeguard::campaign::Campaign;
    use mergeguard::preflight::campaign::{check_campaign_detailed, CheckOptions};
    use mergeguard::preflight::dns::Resolver;

    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("email,name,note\n");
    for i in 0..5_000 {
        let note = match i {
            // Row 3 002: a merge field pulls another customer's address into the body.
            3_000 => "see c17@example.jp".to_owned(),
            _ => "-".to_owned(),
        };
        let name = if i == 4_500 {
            "bad\r\nBcc: x@evil.test".to_owned()
        } else {
            format!("N{i}")
        };
        csv.push_str(&format!("c{i}@example.jp,\"{name}\",{note}\n"));
    }
    std::fs::write(dir.path().join("r.csv"), &csv).unwrap();
    std::fs::write(dir.path().join("t.txt"), "Dear {{ name }}, {{ note }}\n").unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[sender]\nname = \"{{ name }} shop\"\naddress = \"news@shop.test\"\n[recipients]\nfile = \"r.csv\"\n\
         [message]\nsubject = \"Hi {{ name }}\"\ntext = \"t.txt\"\n[unsubscribe]\nmailto = \"u@shop.test\"\n\
         [outbox]\nfolder = \"out\"\n",
    )
    .unwrap();
    let campaign = Campaign::load(&dir.path().join("c.toml")).unwrap();
    // A resolver that answers nothing: only the message checks matter here.
    let options = CheckOptions {
        resolver: Resolver::At("127.0.0.1:9".parse().unwrap()),
        ..CheckOptions::default()
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let checked = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(check_campaign_detailed(
            &campaign,
            &options,
            now,
            &|done, _| {
                seen.fetch_max(done, std::sync::atomic::Ordering::Relaxed);
            },
        ))
        .unwrap();
    assert_eq!(seen.into_inner(), 5_000, "progress reaches the total");

    let composer = Composer::new(Draft::from_campaign(&campaign).unwrap())
        .unwrap()
        .with_date(now);
    let (ok, bad): (Vec<_>, Vec<_>) = compose::render_all(&composer, &checked.recipients)
        .into_iter()
        .partition(Result::is_ok);
    let messages: Vec<BuiltMessage> = ok.into_iter().map(Result::unwrap).collect();
    let errors: Vec<(u64, RenderError)> = bad.into_iter().map(|r| r.unwrap_err()).collect();
    let mut input = MessageCheckInput::new(&messages, &errors, &checked.recipients);
    input.authenticated_domain = Some("shop.test");
    let one_pass = check_messages(&input);

    for expected in &one_pass {
        let got = checked
            .report
            .checks
            .iter()
            .find(|c| c.id == expected.id)
            .unwrap();
        assert_eq!(got, expected, "{}", expected.id);
    }
    let status = |id: &str| {
        checked
            .report
            .checks
            .iter()
            .find(|c| c.id == id)
            .unwrap()
            .status
    };
    assert_eq!(status("addressing.no_other_recipient"), Status::Fail);
    assert_eq!(status("merge.renders"), Status::Fail);
    assert_eq!(checked.samples.len(), 3);
}

/// `[message] max_addresses_per_attachment` in the campaign file moves the limit: six
/// strangers fail the default 5 and pass a limit of 10.
#[test]
fn the_campaign_file_sets_the_address_limit_for_attachments() {
    use mergeguard::campaign::Campaign;
    use mergeguard::preflight::campaign::{check_campaign, CheckOptions};
    use mergeguard::preflight::dns::Resolver;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.csv"),
        "email,name\na@example.jp,A\nb@example.jp,B\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("t.txt"), "Dear {{ name }}\n").unwrap();
    std::fs::copy(data("six-strangers.csv"), dir.path().join("speakers.csv")).unwrap();
    let status_with = |limit: &str| {
        std::fs::write(
            dir.path().join("c.toml"),
            format!(
                "[sender]\nname = \"Shop\"\naddress = \"news@shop.test\"\n[recipients]\nfile = \"r.csv\"\n\
                 [message]\nsubject = \"Hi\"\ntext = \"t.txt\"\nattachments = [\"speakers.csv\"]\n{limit}\n\
                 [unsubscribe]\nmailto = \"u@shop.test\"\n[outbox]\nfolder = \"out\"\n"
            ),
        )
        .unwrap();
        let campaign = Campaign::load(&dir.path().join("c.toml")).unwrap();
        let options = CheckOptions {
            resolver: Resolver::At("127.0.0.1:9".parse().unwrap()),
            ..CheckOptions::default()
        };
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
        find(&report.checks, "attachments.address_list").status
    };
    assert_eq!(status_with(""), Status::Fail);
    assert_eq!(
        status_with("max_addresses_per_attachment = 10"),
        Status::Pass
    );
}

// --- look-alike recipient domains --------------------------------------------------------

#[test]
fn mixed_script_and_look_alike_domains_are_a_warning_naming_the_rows() {
    // Row 2 and row 5 write the same Latin+Cyrillic domain (U-label and A-label); row 6
    // is all Cyrillic letters that read "apple"; rows 3, 4 and 7 are genuine.
    let list = import_text(
        "email,name\n\
         b@ex\u{0430}mple.test,B\n\
         c@example.test,C\n\
         d@\u{4F8B}\u{3048}.jp,D\n\
         e@xn--exmple-4nf.test,E\n\
         f@\u{0430}\u{0440}\u{0440}\u{04CF}\u{0435}.test,F\n\
         g@shop\u{4F8B}\u{3048}.jp,G\n",
    );
    assert_eq!(list.recipients.len(), 6, "{:?}", list.rejected);
    let d = Draft {
        subject: "Hello".into(),
        text: "Dear {{ name }}\n".into(),
        html: None,
        ..draft()
    };
    let built = build(d, &list);
    assert!(built.1.is_empty(), "{:?}", built.1);
    let checks = run(&built, &list);
    expect(
        &checks,
        "addressing.lookalike_domain",
        Status::Warning,
        &[
            "2 look-alike domain(s) on 3 row(s)",
            "rows 2, 5: ex\u{0430}mple.test (xn--exmple-4nf.test) mixes Latin and Cyrillic letters and looks like example.test",
            "row 6: \u{0430}\u{0440}\u{0440}\u{04CF}\u{0435}.test (xn--80ak6aa92e.test) is written in letters that look like apple.test",
        ],
    );
    let detail = &find(&checks, "addressing.lookalike_domain").detail;
    for genuine in ["row 3", "row 4", "row 7"] {
        assert!(
            !detail.contains(&format!("{genuine}:")) && !detail.contains(&format!("{genuine},")),
            "{detail}"
        );
    }
    others_pass(&checks, &["addressing.lookalike_domain"]);
}

#[test]
fn japanese_and_ascii_domains_pass_the_look_alike_check() {
    let checks = with_attachments(&[]);
    expect(
        &checks,
        "addressing.lookalike_domain",
        Status::Pass,
        &["No recipient domain"],
    );
    let list =
        import_text("email\na@\u{4F8B}\u{3048}.jp\nb@xn--r8jz45g.co.jp\nc@b\u{00FC}cher.example\n");
    let book = mergeguard::preflight::addressing::lookalike_domains(&list);
    assert!(book.is_empty(), "{book:?}");
}

// --- line endings ---------------------------------------------------------------------------

/// A recipient file whose merge values hold a bare CR, the SMTP-smuggling pattern
/// `\r.\r` and a bare LF (all quoted CSV cells).
fn smuggling_list() -> RecipientList {
    import_text(
        "email,note\n\
         a@example.jp,\"one\rtwo\"\n\
         b@example.jp,\"x\r.\rMAIL FROM:<evil@attacker.test>\r\"\n\
         c@example.jp,\"lf\nonly\"\n",
    )
}

#[test]
fn bare_cr_and_lf_in_merge_values_become_crlf_and_the_check_passes() {
    let list = smuggling_list();
    assert_eq!(list.recipients.len(), 3, "{:?}", list.rejected);
    let d = Draft {
        subject: "Hello".into(),
        text: "Note: {{ note }}\nEnd of message.\n".into(),
        html: Some("<p>{{ note }}</p>\r\n".into()),
        ..draft()
    };
    let built = build(d, &list);
    assert!(built.1.is_empty(), "{:?}", built.1);
    for m in &built.0 {
        assert_eq!(
            mergeguard::preflight::content::first_bare_line_break(&m.raw),
            None,
            "row {}: {:?}",
            m.row,
            String::from_utf8_lossy(&m.raw)
        );
    }
    // The smuggled "." stands on a line of its own, between CRLFs, where the SMTP layer
    // dot-stuffs it like any other line starting with a dot.
    let raw = String::from_utf8_lossy(&built.0[1].raw).into_owned();
    assert!(
        raw.contains("Note: x\r\n.\r\nMAIL FROM:<evil@attacker.test>\r\n"),
        "{raw}"
    );
    assert!(raw.contains("\r\nEnd of message.\r\n"), "{raw}");
    expect(
        &run(&built, &list),
        "content.line_endings",
        Status::Pass,
        &["Every line of all 3 messages ends in CRLF"],
    );
}

#[test]
fn a_bare_cr_in_a_built_message_fails_the_line_endings_check() {
    let list = recipients();
    let mut built = build(draft(), &list);
    // What an older build (or another tool) would hand over: a bare CR in the body.
    let m = &mut built.0[1];
    let body = m.raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    m.raw.splice(
        body..body,
        b"x\r.\rMAIL FROM:<e@x.test>\r\n".iter().copied(),
    );
    let lf_only = &mut built.0[3];
    lf_only.raw.extend_from_slice(b"tail\n");
    let checks = run(&built, &list);
    expect(
        &checks,
        "content.line_endings",
        Status::Fail,
        &["2 messages:", "row 3: a bare CR", "row 5: a bare LF"],
    );
}
