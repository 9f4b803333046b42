//! Safe CSV export: cells that a spreadsheet would run as a formula are neutralised.

use std::borrow::Cow;

/// Prefixes a cell with `'` when a spreadsheet would read it as a formula (it starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return), so an exported `=HYPERLINK(…)`
/// stays text. OWASP "CSV injection" guidance.
pub fn escape_formula(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::escape_formula;

    #[test]
    fn formula_cells_become_text() {
        assert_eq!(
            escape_formula("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(escape_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(escape_formula("山田"), "山田");
        assert_eq!(escape_formula(""), "");
    }
}
