//! Every code, reason, check, log kind and rejection reason the core can give has words in
//! both of the window's languages. The window's tables live in `ui/i18n.js`; this test reads
//! them against the core's own lists, so a new code without a sentence fails here rather
//! than showing a bare key (or an English sentence on a Japanese screen).

use mergeguard::audit::Kind;
use mergeguard::error::{ErrorCode, REASON_KEYS};
use mergeguard::preflight::CHECK_IDS;

const LANGUAGES: [&str; 2] = ["en", "ja"];

fn source() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/i18n.js");
    std::fs::read_to_string(path).expect("ui/i18n.js is readable")
}

/// The text of `const NAME = { … };` (up to the first line that is exactly `};`).
fn table<'a>(src: &'a str, name: &str) -> &'a str {
    let start = src
        .find(&format!("const {name} = {{"))
        .unwrap_or_else(|| panic!("ui/i18n.js has no table {name}"));
    let end = src[start..]
        .find("\n};")
        .unwrap_or_else(|| panic!("table {name} is not closed"));
    &src[start..start + end]
}

/// The `lang: { … }` block inside a table whose entries are per language.
fn language<'a>(table: &'a str, lang: &str) -> &'a str {
    let start = table
        .find(&format!("\n  {lang}: {{"))
        .unwrap_or_else(|| panic!("no {lang} block in {}", &table[..40.min(table.len())]));
    let rest = &table[start + 1..];
    let end = rest
        .find("\n  },")
        .or_else(|| rest.find("\n  }"))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Whether `block` defines `key` (as `key:` or `"key":`) with a non-empty value.
fn defines(block: &str, key: &str) -> bool {
    let quoted = format!("\"{key}\":");
    if block.contains(&quoted) {
        return true;
    }
    let bare = format!("{key}:");
    block.match_indices(&bare).any(|(i, _)| {
        let before = block[..i].chars().next_back();
        matches!(before, Some(' ' | '{' | ',' | '\n'))
            && !block[i + bare.len()..].trim_start().starts_with("\"\"")
    })
}

fn missing<'a>(block: &str, keys: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    keys.into_iter().filter(|k| !defines(block, k)).collect()
}

fn code_name(code: ErrorCode) -> String {
    match serde_json::to_value(code).unwrap() {
        serde_json::Value::String(s) => s,
        other => panic!("code serialises as {other}"),
    }
}

#[test]
fn every_error_code_has_a_sentence_in_both_languages() {
    let src = source();
    let strings = table(&src, "STRINGS");
    let keys: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|c| format!("err_{}", code_name(*c)))
        .collect();
    for lang in LANGUAGES {
        let gaps = missing(language(strings, lang), keys.iter().map(String::as_str));
        assert!(gaps.is_empty(), "{lang}: no sentence for {gaps:?}");
    }
}

#[test]
fn every_reason_has_a_sentence_in_both_languages() {
    let src = source();
    let why = table(&src, "WHY");
    for lang in LANGUAGES {
        let gaps = missing(language(why, lang), REASON_KEYS.iter().copied());
        assert!(gaps.is_empty(), "{lang}: no sentence for reasons {gaps:?}");
    }
    // And nothing in the table that the core never gives (a renamed key left behind).
    let en = language(why, "en");
    for line in en.lines().skip(1) {
        if let Some((key, _)) = line.trim().split_once(':') {
            assert!(
                REASON_KEYS.contains(&key),
                "ui/i18n.js WHY has {key}, which the core does not give"
            );
        }
    }
}

#[test]
fn every_check_has_a_title_meaning_and_fix_in_both_languages() {
    let src = source();
    let checks = table(&src, "CHECKS");
    for id in CHECK_IDS {
        let row = checks
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("\"{id}\":")))
            .unwrap_or_else(|| panic!("CHECKS has no row for {id}"));
        // [English title, Japanese title, Japanese fix]: three non-empty strings.
        let strings = row.matches("\", \"").count() + 1;
        assert!(
            strings >= 3 && !row.contains("\"\""),
            "CHECKS row for {id} is incomplete: {row}"
        );
    }
    for name in ["CHECK_SEEN_JA", "CHECK_SEEN_EN", "CHECK_FIX_EN"] {
        let gaps = missing(table(&src, name), CHECK_IDS.iter().copied());
        assert!(gaps.is_empty(), "{name} lacks {gaps:?}");
    }
    let areas: std::collections::BTreeSet<&str> = CHECK_IDS
        .iter()
        .map(|id| id.split('.').next().unwrap())
        .collect();
    let area_names = table(&src, "AREA_NAMES");
    for lang in LANGUAGES {
        let block = &area_names[area_names.find(&format!("{lang}: {{")).unwrap()..];
        let block = &block[..block.find('}').unwrap()];
        let gaps = missing(block, areas.iter().copied());
        assert!(gaps.is_empty(), "AREA_NAMES {lang} lacks {gaps:?}");
    }
}

#[test]
fn every_log_kind_has_a_name_in_both_languages() {
    let src = source();
    let kinds = table(&src, "KIND_NAMES");
    for lang in LANGUAGES {
        let gaps = missing(language(kinds, lang), Kind::ALL.iter().map(|k| k.as_str()));
        assert!(gaps.is_empty(), "KIND_NAMES {lang} lacks {gaps:?}");
    }
}

#[test]
fn every_rejection_and_suppression_reason_has_words_in_both_languages() {
    use mergeguard::recipients::RejectReason;
    let src = source();
    let strings = table(&src, "STRINGS");
    let reasons = [
        RejectReason::InvalidAddress,
        RejectReason::EmptyAddress,
        RejectReason::MultipleAddresses,
        RejectReason::Duplicate,
        RejectReason::MalformedRow,
        RejectReason::Suppressed,
    ]
    .map(|r| match serde_json::to_value(r).unwrap() {
        serde_json::Value::String(s) => format!("reason_{s}"),
        other => panic!("{other}"),
    });
    let suppression = [
        mergeguard::suppression::Reason::Unsubscribed,
        mergeguard::suppression::Reason::Bounced,
        mergeguard::suppression::Reason::Manual,
    ]
    .map(|r| format!("reason_{}", r.as_str()));
    for lang in LANGUAGES {
        let block = language(strings, lang);
        let gaps = missing(
            block,
            reasons.iter().chain(suppression.iter()).map(String::as_str),
        );
        assert!(gaps.is_empty(), "{lang}: no words for {gaps:?}");
    }
}

/// The test's own reader must be able to fail: a key that is not there is reported.
#[test]
fn the_reader_reports_a_missing_key() {
    let block = "  en: {\n    present: \"yes\", other: \"x\",\n    \"a.b\": [\"t\"],\n    empty: \"\",\n  },";
    assert!(defines(block, "present"));
    assert!(defines(block, "other"));
    assert!(defines(block, "a.b"));
    assert!(!defines(block, "absent"));
    assert!(!defines(block, "empty"));
    assert!(!defines(block, "resent"));
}
