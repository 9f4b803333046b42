//! Delimiter detection: the candidate that splits the sample's first lines into the same
//! number of fields, parsed by the real CSV reader so quoted delimiters do not count.

use super::DelimiterChoice;

/// How many leading records of the sample are compared.
const SAMPLE_RECORDS: usize = 50;

/// The delimiter byte for `choice`, detecting it from `sample` when `Auto`.
///
/// `truncated` says the sample stops mid-file, so its last record may be cut short and
/// is left out of the comparison. A file whose lines never split (a single column of
/// addresses) gets a comma, which reads it correctly as one column.
pub(crate) fn detect_delimiter(sample: &str, truncated: bool, choice: DelimiterChoice) -> u8 {
    match choice {
        DelimiterChoice::Comma => return b',',
        DelimiterChoice::Semicolon => return b';',
        DelimiterChoice::Tab => return b'\t',
        DelimiterChoice::Auto => {}
    }
    let mut best = (b',', 0usize, 0usize);
    for delim in [b',', b';', b'\t'] {
        let counts = field_counts(sample, truncated, delim);
        let Some(&header) = counts.first() else {
            continue;
        };
        if header < 2 {
            continue;
        }
        let agreeing = counts.iter().filter(|&&c| c == header).count();
        // More agreeing records wins; on a tie, more columns (a comma inside a
        // semicolon file's cells splits some rows but rarely all of them the same way).
        if (agreeing, header) > (best.1, best.2) {
            best = (delim, agreeing, header);
        }
    }
    best.0
}

fn field_counts(sample: &str, truncated: bool, delim: u8) -> Vec<usize> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(sample.as_bytes());
    let mut record = csv::ByteRecord::new();
    let mut counts = Vec::new();
    let mut reached_end = false;
    while counts.len() < SAMPLE_RECORDS {
        match reader.read_byte_record(&mut record) {
            Ok(true) => counts.push(record.len()),
            _ => {
                reached_end = true;
                break;
            }
        }
    }
    // When the sample is cut mid-file, the last record before its end may be cut too.
    if truncated && reached_end && counts.len() > 1 {
        counts.pop();
    }
    counts
}

/// The delimiter as reported in [`super::RecipientList::delimiter`].
pub(crate) fn delimiter_name(delim: u8) -> String {
    (delim as char).to_string()
}
