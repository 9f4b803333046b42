//! Header cleaning and finding the address column (by option, by name, or by content).

use super::error::{Error, ErrorKind};

/// Header names (after [`normalize_name`]) that mean "the e-mail address".
/// "address" alone is deliberately absent: in Japanese exports it is as often 住所.
const ADDRESS_NAMES: &[&str] = &[
    "email",
    "emailaddress",
    "emailadress",
    "mail",
    "mailaddress",
    "mailadress",
    "mailaddr",
    "emailaddr",
    "メール",
    "メールアドレス",
    "eメール",
    "eメールアドレス",
    "電子メール",
    "電子メールアドレス",
    "メアド",
];

/// Trims what Excel and hand-editing leave around header names: ASCII and full-width
/// spaces, no-break spaces, zero-width spaces and stray byte-order marks.
pub(crate) fn clean_header(name: &str) -> String {
    name.trim_matches(|c: char| c.is_whitespace() || matches!(c, '\u{FEFF}' | '\u{200B}'))
        .to_string()
}

/// A comparison key for header names: full-width ASCII folded to ASCII, lower-case,
/// without spaces, hyphens, underscores, dots or the Japanese middle dot.
pub(crate) fn normalize_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            // Full-width ASCII block (Ｅ, ｍ, －, …) maps onto ASCII by a fixed offset.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '_' | '.' | '・' | '\u{FEFF}')))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The index of the column the user named: exact match first, then the same
/// normalisation used for the built-in names (so " E-Mail " finds "email").
pub(crate) fn find_named(fields: &[String], wanted: &str) -> Result<usize, Error> {
    let wanted_clean = clean_header(wanted);
    if let Some(i) = fields.iter().position(|f| *f == wanted_clean) {
        return Ok(i);
    }
    let key = normalize_name(wanted);
    if let Some(i) = fields.iter().position(|f| normalize_name(f) == key) {
        return Ok(i);
    }
    Err(ErrorKind::MissingColumn {
        name: wanted.to_string(),
        available: list_fields(fields),
    }
    .into())
}

/// The first column whose header is a known name for the address.
pub(crate) fn find_by_header(fields: &[String]) -> Option<usize> {
    fields
        .iter()
        .position(|f| ADDRESS_NAMES.contains(&normalize_name(f).as_str()))
}

/// The column where most non-empty sample cells hold something shaped like an address.
///
/// `rows` are the first data records. A column wins only with a strict majority of its
/// non-empty cells looking like addresses, so a "notes" column that mentions one
/// address now and then is not picked.
pub(crate) fn find_by_content(width: usize, rows: &[super::rows::Row<'_>]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for col in 0..width {
        let mut filled = 0usize;
        let mut shaped = 0usize;
        for row in rows {
            let cell = row.get(col).unwrap_or("").trim();
            if cell.is_empty() {
                continue;
            }
            filled += 1;
            if super::address::looks_like_address(cell) {
                shaped += 1;
            }
        }
        if shaped > 0 && shaped * 2 > filled && best.is_none_or(|(_, n)| shaped > n) {
            best = Some((col, shaped));
        }
    }
    best.map(|(col, _)| col)
}

/// The header names for an error message, quoted and comma-separated.
pub(crate) fn list_fields(fields: &[String]) -> String {
    if fields.is_empty() {
        return "(none)".into();
    }
    fields
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
