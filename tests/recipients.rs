//! Recipient import against fixture files, with the expected result beside each fixture.
//!
//! `check(fixture, options)` imports `tests/data/recipients/<fixture>` and compares a
//! readable rendering with `<fixture>.expected`. Run with `MG_UPDATE_EXPECT=1` to rewrite
//! the expectations after a deliberate change, then review the diff.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use mergeguard::recipients::{
    import_bytes, import_path, import_reader, DelimiterChoice, EncodingChoice, ImportOptions,
    RecipientList,
};
use sha2::{Digest, Sha256};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/recipients")
        .join(name)
}

fn render(result: &Result<RecipientList, mergeguard::recipients::Error>) -> String {
    let mut out = String::new();
    match result {
        Err(e) => {
            writeln!(out, "error {:?} line {:?}: {e}", e.code(), e.line()).unwrap();
        }
        Ok(list) => {
            writeln!(out, "encoding: {}", list.encoding).unwrap();
            writeln!(out, "delimiter: {:?}", list.delimiter).unwrap();
            writeln!(out, "email_column: {:?}", list.email_column).unwrap();
            writeln!(out, "fields: {:?}", list.fields).unwrap();
            // Rows in file order, accepted and rejected interleaved, so every row number
            // from 2 up is visibly accounted for.
            let mut rows: Vec<(u64, String)> = Vec::new();
            for r in &list.recipients {
                rows.push((
                    r.row,
                    format!(
                        "row {}: ok {} {:?}",
                        r.row,
                        r.email(),
                        r.values().collect::<Vec<_>>()
                    ),
                ));
            }
            for r in &list.rejected {
                let reason = serde_json::to_value(r.reason).unwrap();
                let reason = reason.as_str().unwrap().to_string();
                rows.push((r.row, format!("row {}: {reason}: {}", r.row, r.detail)));
            }
            rows.sort();
            for (_, line) in rows {
                writeln!(out, "{line}").unwrap();
            }
        }
    }
    out
}

/// Imports `fixture` with `options` and compares with `<fixture>.expected`.
fn check(fixture: &str, options: &ImportOptions) {
    let result = import_path(&data(fixture), options);
    let actual = render(&result);
    let expected_path = data(&format!("{fixture}.expected"));
    if std::env::var_os("MG_UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with MG_UPDATE_EXPECT=1)",
            expected_path.display()
        )
    });
    assert_eq!(actual, expected, "fixture {fixture}");
    if let Ok(list) = &result {
        // Nothing silently dropped: rows 2..=last are each accounted for exactly once.
        let mut rows: Vec<u64> = list.recipients.iter().map(|r| r.row).collect();
        rows.extend(list.rejected.iter().map(|r| r.row));
        rows.sort();
        let want: Vec<u64> = (2..2 + rows.len() as u64).collect();
        assert_eq!(rows, want, "fixture {fixture}: every row once");
        let raw = std::fs::read(data(fixture)).unwrap();
        assert_eq!(list.source_sha256, hex::encode(Sha256::digest(&raw)));
    }
}

fn auto() -> ImportOptions {
    ImportOptions::default()
}

#[test]
fn utf8_without_bom() {
    check("utf8_no_bom.csv", &auto());
}

#[test]
fn utf8_with_bom_and_crlf() {
    check("utf8_bom.csv", &auto());
}

#[test]
fn shift_jis_with_nec_and_ibm_extension_characters() {
    check("sjis_nec_ibm.csv", &auto());
}

#[test]
fn shift_jis_forced_matches_detected() {
    let forced = ImportOptions {
        encoding: EncodingChoice::ShiftJis,
        ..auto()
    };
    let a = import_path(&data("sjis_nec_ibm.csv"), &forced).unwrap();
    let b = import_path(&data("sjis_nec_ibm.csv"), &auto()).unwrap();
    assert_eq!(a.recipients, b.recipients);
    assert_eq!(a.encoding, "shift_jis");
}

#[test]
fn utf16le_tab_delimited_excel_unicode_text() {
    check("utf16le_tab.txt", &auto());
}

#[test]
fn utf16be_with_bom() {
    check("utf16be.csv", &auto());
}

#[test]
fn semicolon_delimited() {
    check("semicolon.csv", &auto());
}

#[test]
fn tab_delimited() {
    check("tab.tsv", &auto());
}

#[test]
fn delimiter_override_wins() {
    // Forcing a comma on the semicolon file leaves one column named by the whole header
    // line, with no address column in it: the error shows the override was used.
    let o = ImportOptions {
        delimiter: DelimiterChoice::Comma,
        ..auto()
    };
    let e = import_path(&data("semicolon.csv"), &o).unwrap_err();
    assert!(
        e.to_string()
            .contains("the columns are: \"Name;E-Mail;Stadt\""),
        "{e}"
    );
    let o = ImportOptions {
        delimiter: DelimiterChoice::Semicolon,
        ..auto()
    };
    assert_eq!(
        import_path(&data("semicolon.csv"), &o).unwrap().delimiter,
        ";"
    );
}

#[test]
fn header_with_stray_and_full_width_spaces() {
    check("header_spaces.csv", &auto());
}

#[test]
fn japanese_headers() {
    check("japanese_headers.csv", &auto());
}

#[test]
fn full_width_header_name() {
    check("fullwidth_header.csv", &auto());
}

#[test]
fn address_column_found_by_content() {
    check("by_content.csv", &auto());
}

#[test]
fn address_column_chosen_by_hand() {
    let o = ImportOptions {
        email_column: Some(" contact ".into()),
        ..auto()
    };
    let list = import_path(&data("by_content.csv"), &o).unwrap();
    assert_eq!(list.email_column, "contact");
}

#[test]
fn chosen_address_column_missing_names_the_columns() {
    let o = ImportOptions {
        email_column: Some("mail".into()),
        ..auto()
    };
    let e = import_path(&data("by_content.csv"), &o).unwrap_err();
    assert_eq!(
        e.to_string(),
        "there is no column named \"mail\"; the columns are: \"name\", \"contact\", \"note\""
    );
}

#[test]
fn single_column_of_addresses() {
    check("single_column.csv", &auto());
}

#[test]
fn idn_domains_accepted_non_ascii_local_part_refused() {
    check("idn.csv", &auto());
}

#[test]
fn unicode_and_punycode_forms_of_one_mailbox_are_duplicates() {
    // Rows 3 and 4 are row 2 in punycode and with an upper-case TLD; row 6 is row 5 in
    // full-width letters (IDNA folds them); row 9 is row 7 in punycode. Row 8 (Latin a)
    // is not row 7 (Cyrillic а): a look-alike is another mailbox.
    check("idn_duplicates.csv", &auto());
}

#[test]
fn a_suppressed_idn_address_is_found_in_either_form() {
    let key = mergeguard::recipients::address_key("taro@\u{4F8B}\u{3048}.jp");
    assert_eq!(key, "taro@xn--r8jz45g.jp");
    let o = ImportOptions {
        suppressed: Some(Arc::new([key].into())),
        ..auto()
    };
    let list = import_bytes(
        "email\nTARO@xn--R8JZ45G.jp\ntaro@\u{4F8B}\u{3048}.jp\nhanako@\u{4F8B}\u{3048}.jp\n"
            .as_bytes(),
        &o,
    )
    .unwrap();
    let reasons: Vec<(u64, String)> = list
        .rejected
        .iter()
        .map(|r| {
            (
                r.row,
                serde_json::to_value(r.reason)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [(2, "suppressed".to_owned()), (3, "suppressed".to_owned())]
    );
    assert_eq!(list.recipients.len(), 1);
}

#[test]
fn every_reject_reason() {
    let suppressed: HashSet<String> = ["stopped@example.jp".to_string()].into();
    let o = ImportOptions {
        suppressed: Some(Arc::new(suppressed)),
        ..auto()
    };
    check("rejects.csv", &o);
}

#[test]
fn quoted_fields_with_delimiters_newlines_and_quotes() {
    check("quoted.csv", &auto());
}

#[test]
fn error_missing_file() {
    let e = import_path(&data("no_such_file.csv"), &auto()).unwrap_err();
    assert_eq!(e.code(), mergeguard::error::ErrorCode::Io);
    assert!(e.to_string().contains("no_such_file.csv"), "{e}");
}

#[test]
fn error_empty_file() {
    check("empty.csv", &auto());
}

#[test]
fn error_bom_and_blank_line_only() {
    check("bom_only.csv", &auto());
}

#[test]
fn error_blank_lines_only() {
    check("blank_lines.csv", &auto());
}

#[test]
fn error_header_only() {
    check("header_only.csv", &auto());
}

#[test]
fn error_header_then_blank_lines() {
    check("header_blank_lines.csv", &auto());
}

#[test]
fn error_png_file() {
    check("binary.png", &auto());
}

#[test]
fn error_xlsx_workbook() {
    check("workbook.xlsx", &auto());
}

#[test]
fn error_random_binary_without_nul() {
    check("garbage.bin", &auto());
}

#[test]
fn error_nul_bytes() {
    check("nul_bytes.csv", &auto());
}

#[test]
fn error_nul_byte_after_the_detection_sample() {
    let mut text = String::from("name,email\n");
    for i in 0..5000 {
        writeln!(text, "Person {i},p{i}@example.jp").unwrap();
    }
    text.push_str("Bad\0,bad@example.jp\n");
    let e = import_bytes(text.as_bytes(), &auto()).unwrap_err();
    assert_eq!(e.line(), Some(5002), "{e}");
}

#[test]
fn error_unterminated_quote_names_the_line_it_opened() {
    check("unterminated_quote.csv", &auto());
}

#[test]
fn error_invalid_utf8_when_utf8_forced() {
    let o = ImportOptions {
        encoding: EncodingChoice::Utf8,
        ..auto()
    };
    check("sjis_forced_utf8.csv", &o);
}

#[test]
fn error_no_address_column() {
    check("no_address_column.csv", &auto());
}

#[test]
fn error_utf8_breaks_after_the_sample() {
    let mut bytes = b"name,email\n".to_vec();
    for i in 0..5000 {
        bytes.extend_from_slice(format!("Person {i},p{i}@example.jp\n").as_bytes());
    }
    bytes.extend_from_slice(b"\x8e\x52\x93\x63,yamada@example.jp\n");
    let e = import_bytes(&bytes, &auto()).unwrap_err();
    assert_eq!(e.line(), Some(5002), "{e}");
    assert!(e.to_string().contains("not valid UTF-8"), "{e}");
}

#[test]
fn formula_cells_are_kept_verbatim() {
    let list = import_bytes(
        b"name,email\n=1+2,a@example.jp\n@SUM(A1),b@example.jp\n",
        &auto(),
    )
    .unwrap();
    assert_eq!(list.recipients[0].value(0), Some("=1+2"));
    assert_eq!(list.recipients[1].value(0), Some("@SUM(A1)"));
}

#[test]
fn reader_and_bytes_and_path_agree_and_hash_the_raw_bytes() {
    let raw = std::fs::read(data("sjis_nec_ibm.csv")).unwrap();
    let a = import_bytes(&raw, &auto()).unwrap();
    let b = import_reader(std::io::Cursor::new(&raw), &auto()).unwrap();
    assert_eq!(a.recipients, b.recipients);
    assert_eq!(a.source_sha256, b.source_sha256);
    assert_eq!(a.source_sha256, hex::encode(Sha256::digest(&raw)));
}

#[test]
fn a_large_file_hashes_to_the_sha256_of_its_bytes() {
    // Past 256 KiB the hashing moves to a worker thread; the digest must not change,
    // whether the bytes come from memory, a file or a reader of odd-sized chunks.
    let mut raw = "氏名,メールアドレス\r\n".as_bytes().to_vec();
    for i in 0..30_000 {
        raw.extend_from_slice(format!("山田 {i},u{i}@example.jp\r\n").as_bytes());
    }
    assert!(raw.len() > 512 * 1024);
    let want = hex::encode(Sha256::digest(&raw));
    assert_eq!(import_bytes(&raw, &auto()).unwrap().source_sha256, want);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &raw).unwrap();
    let list = import_path(file.path(), &auto()).unwrap();
    assert_eq!(list.source_sha256, want);
    assert_eq!(list.recipients.len(), 30_000);
    let odd = std::io::BufReader::with_capacity(1_009, std::io::Cursor::new(&raw));
    assert_eq!(import_reader(odd, &auto()).unwrap().source_sha256, want);
}

/// A reader that produces a CSV of `rows` rows on the fly, so a large input can be
/// imported without ever existing in memory.
struct Generated {
    next_row: u64,
    rows: u64,
    pending: Vec<u8>,
    hasher: Sha256,
}

impl std::io::Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            if self.next_row > self.rows {
                return Ok(0);
            }
            let line = if self.next_row == 0 {
                "氏名,メールアドレス,会社\r\n".to_string()
            } else {
                let i = self.next_row;
                format!(
                    "山田 太郎{i},user{i}@example.jp,株式会社テスト{}\r\n",
                    i % 97
                )
            };
            self.next_row += 1;
            self.pending = encoding_rs::SHIFT_JIS.encode(&line).0.into_owned();
            self.hasher.update(&self.pending);
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

#[test]
fn streams_a_shift_jis_file_larger_than_the_sample() {
    let mut gen = Generated {
        next_row: 0,
        rows: 20_000,
        pending: Vec::new(),
        hasher: Sha256::new(),
    };
    let list = import_reader(&mut gen, &auto()).unwrap();
    assert_eq!(list.encoding, "shift_jis");
    assert_eq!(list.recipients.len(), 20_000);
    assert!(list.rejected.is_empty());
    assert_eq!(list.recipients[19_999].row, 20_001);
    assert_eq!(list.recipients[19_999].value(0), Some("山田 太郎20000"));
    assert_eq!(
        list.source_sha256,
        hex::encode(gen.hasher.clone().finalize())
    );
}

/// xorshift64*: deterministic, dependency-free randomness for the no-panic test.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_inputs_never_panic_and_account_for_every_row() {
    // Half pure noise, half CSV-flavoured noise (delimiters, quotes, @, CR/LF, BOMs,
    // multi-byte text), under every encoding and delimiter choice.
    const ALPHABET: &[&[u8]] = &[
        b",",
        b";",
        b"\t",
        b"\"",
        b"\n",
        b"\r\n",
        b"@",
        b"a",
        b"x.jp",
        b" ",
        b"\xef\xbb\xbf",
        b"\xff\xfe",
        "髙".as_bytes(),
        b"\x82\xa0",
        b"\x00",
        b"email",
        b"=",
        b"\xe3\x80\x80",
    ];
    let encodings = [
        EncodingChoice::Auto,
        EncodingChoice::Utf8,
        EncodingChoice::ShiftJis,
        EncodingChoice::Utf16,
    ];
    let delimiters = [
        DelimiterChoice::Auto,
        DelimiterChoice::Comma,
        DelimiterChoice::Semicolon,
        DelimiterChoice::Tab,
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ok = 0;
    for i in 0..4000u64 {
        let len = rng.below(400) as usize;
        let mut bytes = Vec::with_capacity(len * 2);
        if i % 2 == 0 {
            bytes.extend((0..len).map(|_| rng.next() as u8));
        } else {
            bytes.extend_from_slice(b"name,email\n");
            for _ in 0..len / 3 {
                bytes.extend_from_slice(ALPHABET[rng.below(ALPHABET.len() as u64) as usize]);
            }
        }
        // Noise gets random choices; the CSV-flavoured half mostly auto-detection, so
        // that a good share of it imports and the row accounting is exercised.
        let options = if i % 2 == 0 || i % 8 == 1 {
            ImportOptions {
                encoding: encodings[rng.below(4) as usize],
                delimiter: delimiters[rng.below(4) as usize],
                ..auto()
            }
        } else {
            auto()
        };
        if let Ok(list) = import_bytes(&bytes, &options) {
            ok += 1;
            let mut rows: Vec<u64> = list.recipients.iter().map(|r| r.row).collect();
            rows.extend(list.rejected.iter().map(|r| r.row));
            rows.sort();
            assert!(
                rows.windows(2).all(|w| w[1] == w[0] + 1),
                "input {i}: rows not contiguous"
            );
            assert!(list
                .recipients
                .iter()
                .all(|r| r.value_count() == list.fields.len()));
        }
    }
    // The CSV-flavoured half must sometimes import, or the loop tests only errors.
    assert!(ok > 100, "only {ok} random inputs imported");
}

#[test]
fn error_runaway_quote_in_a_big_file_stops_early_with_its_line() {
    // Memory stays bounded: the unclosed quote is reported once the record passes the
    // limit, not after buffering the whole rest of the file.
    let mut text = String::from("name,email\nTaro,taro@example.jp\n\"Hanako,hanako@example.jp\n");
    for i in 0..200_000 {
        writeln!(text, "Person {i},p{i}@example.jp").unwrap();
    }
    let e = import_bytes(text.as_bytes(), &auto()).unwrap_err();
    assert_eq!(e.line(), Some(3), "{e}");
    assert!(e.to_string().contains("never closed"), "{e}");
}

#[test]
fn error_binary_without_line_breaks_is_bounded() {
    let mut rng = Rng(42);
    let bytes: Vec<u8> = (0..3 * 1024 * 1024)
        .map(|_| b"abcdefghij,;@."[rng.below(14) as usize])
        .collect();
    let e = import_bytes(&bytes, &auto()).unwrap_err();
    assert_eq!(e.line(), Some(1), "{e}");
    assert!(e.to_string().contains("longer than 1 MiB"), "{e}");
}
