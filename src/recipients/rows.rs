//! The import proper: stream records out of the decoded text and account for every one.

use hashbrown::HashTable;
use std::io::{Cursor, Read};

use encoding_rs_io::DecodeReaderBytesBuilder;

use super::address::{check_address, duplicate_key, Detail};
use super::columns::{clean_header, find_by_content, find_by_header, find_named, list_fields};
use super::decode::{detect_encoding, read_sample, sample_text, HashReader, SAMPLE_LEN};
use super::delimiter::{delimiter_name, detect_delimiter};
use super::error::{Error, ErrorKind};
use super::quotes::{QuoteTracker, Runaway};
use super::{ImportOptions, Recipient, RecipientList, RejectReason, Rejection};

/// The most rows space is reserved for up front (a bigger file still imports, growing).
const MAX_PRESIZED_ROWS: u64 = 2_000_000;

/// Rows read ahead to find the address column by content when no header names it.
const CONTENT_SAMPLE_ROWS: usize = 50;

/// Imports from any byte source. `source` names it in I/O error messages.
pub(crate) fn import_stream<R: Read>(
    reader: R,
    source: &str,
    options: &ImportOptions,
    size: Option<u64>,
) -> Result<RecipientList, Error> {
    let io_err = |e: std::io::Error| {
        Error::from(ErrorKind::Io {
            path: source.into(),
            source: e,
        })
    };
    let mut raw = HashReader::new(reader);
    let sample = read_sample(&mut raw).map_err(io_err)?;
    if sample.is_empty() {
        return Err(ErrorKind::Empty.into());
    }
    let detected = detect_encoding(&sample, options.encoding)?;
    let text = sample_text(&sample, &detected);
    let delimiter = detect_delimiter(&text, sample.len() >= SAMPLE_LEN, options.delimiter);
    drop(text);
    // Rows expected, from the file size and the sample's line length: the recipient
    // vector is allocated once instead of being copied as it doubles. Only a hint; a
    // wrong guess costs a reallocation, never a row.
    let lines = memchr::memchr_iter(b'\n', &sample).count().max(1) as u64;
    let expected_rows = size
        .map(|total| (total.saturating_mul(lines) / sample.len() as u64).saturating_add(16))
        .unwrap_or(0)
        .min(MAX_PRESIZED_ROWS) as usize;

    let head = Cursor::new(&sample[detected.bom_len..]);
    let parsed = if detected.is_utf8() {
        // UTF-8 goes to the CSV reader as it is; the reader validates each record and
        // reports the line of bad bytes, which a replacing decoder would hide.
        parse(
            head.chain(&mut raw),
            delimiter,
            source,
            options,
            expected_rows,
        )?
    } else {
        let decoded = DecodeReaderBytesBuilder::new()
            .encoding(Some(detected.encoding))
            .strip_bom(true)
            .build(head.chain(&mut raw));
        parse(decoded, delimiter, source, options, expected_rows)?
    };
    let source_sha256 = raw.finish().map_err(io_err)?;
    Ok(RecipientList {
        encoding: detected.name(),
        delimiter: delimiter_name(delimiter),
        email_column: parsed.fields[parsed.column].clone(),
        fields: parsed.fields,
        recipients: parsed.recipients,
        rejected: parsed.rejected,
        source_sha256,
    })
}

struct Parsed {
    fields: Vec<String>,
    column: usize,
    recipients: Vec<Recipient>,
    rejected: Vec<Rejection>,
}

/// Record reader that turns NUL bytes, unterminated quotes and bad UTF-8 into errors.
struct Records<R: Read> {
    csv: csv::Reader<QuoteTracker<R>>,
    source: String,
}

impl<R: Read> Records<R> {
    fn next(&mut self, record: &mut csv::ByteRecord) -> Result<bool, Error> {
        let more = self
            .csv
            .read_byte_record(record)
            .map_err(|e| self.csv_error(e))?;
        let tracker = self.csv.get_ref();
        if let Some(line) = tracker.nul_line() {
            return Err(ErrorKind::NulByte { line }.into());
        }
        if !more {
            if let Some(line) = tracker.unterminated_quote() {
                return Err(ErrorKind::UnterminatedQuote { line }.into());
            }
        }
        Ok(more)
    }

    fn csv_error(&self, e: csv::Error) -> Error {
        let line = e.position().map(|p| p.line()).unwrap_or(0);
        match e.into_kind() {
            csv::ErrorKind::Io(_) if self.csv.get_ref().runaway().is_some() => {
                match self.csv.get_ref().runaway() {
                    Some(Runaway::Quote(line)) => ErrorKind::UnterminatedQuote { line }.into(),
                    Some(Runaway::Line(at)) => ErrorKind::LineTooLong { line: at }.into(),
                    None => ErrorKind::LineTooLong { line }.into(),
                }
            }
            csv::ErrorKind::Io(source) => ErrorKind::Io {
                path: self.source.clone(),
                source,
            }
            .into(),
            // UTF-8 is checked by [`Row::new`], not the reader; seek/serialise/
            // unequal-length errors cannot arise for a flexible reader over a plain
            // stream. Keep the words plain if one ever does.
            _ => ErrorKind::Csv {
                line,
                message: "this line could not be read as CSV".into(),
            }
            .into(),
        }
    }
}

fn parse<R: Read>(
    input: R,
    delimiter: u8,
    source: &str,
    options: &ImportOptions,
    expected_rows: usize,
) -> Result<Parsed, Error> {
    let csv = csv::ReaderBuilder::new()
        .has_headers(false)
        // One ragged row must become one rejection, not end the import.
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(64 * 1024)
        .from_reader(QuoteTracker::new(input, delimiter));
    let mut records = Records {
        csv,
        source: source.into(),
    };
    let mut record = csv::ByteRecord::new();

    if !records.next(&mut record)? {
        return Err(ErrorKind::Empty.into());
    }
    let fields: Vec<String> = Row::new(&record)?.iter().map(clean_header).collect();
    if fields.iter().all(String::is_empty) {
        // Only blank or whitespace lines: nothing names any field.
        if !records.next(&mut record)? {
            return Err(ErrorKind::Empty.into());
        }
        return Err(ErrorKind::Csv {
            line: 1,
            message: "the first line is blank; it must be the header naming the columns".into(),
        }
        .into());
    }

    // Records read ahead for content detection are processed first, in order.
    let mut ahead: Vec<csv::ByteRecord> = Vec::new();
    let mut at_end = false;
    let column = if let Some(name) = &options.email_column {
        find_named(&fields, name)?
    } else if let Some(i) = find_by_header(&fields) {
        i
    } else {
        while ahead.len() < CONTENT_SAMPLE_ROWS {
            if !records.next(&mut record)? {
                at_end = true;
                break;
            }
            Row::new(&record)?;
            ahead.push(record.clone());
        }
        if ahead.is_empty() {
            return Err(ErrorKind::HeaderOnly.into());
        }
        let rows = ahead.iter().map(Row::new).collect::<Result<Vec<_>, _>>()?;
        find_by_content(fields.len(), &rows).ok_or_else(|| ErrorKind::NoAddressColumn {
            available: list_fields(&fields),
        })?
    };

    let mut state = Accounting {
        width: fields.len(),
        column,
        suppressed: options.suppressed.as_deref(),
        seen: HashTable::with_capacity(expected_rows),
        recipients: Vec::with_capacity(expected_rows),
        rejected: Vec::new(),
    };
    let mut row = 1u64;
    for r in &ahead {
        row += 1;
        state.account(row, Row::new(r)?);
    }
    drop(ahead);
    if !at_end {
        while records.next(&mut record)? {
            row += 1;
            state.account(row, Row::new(&record)?);
        }
    }
    if row == 1 {
        return Err(ErrorKind::HeaderOnly.into());
    }
    Ok(Parsed {
        fields,
        column,
        recipients: state.recipients,
        rejected: state.rejected,
    })
}

/// One record whose bytes are known to be UTF-8, with its cells as `&str`.
///
/// The whole record is validated in one SIMD pass (simdutf8) and each cell is then a
/// slice of it; csv's `StringRecord` runs the standard validator cell by cell, which was
/// a tenth of an import of Japanese text. A cell boundary inside a character (a
/// delimiter between the bytes of one) is caught by `str::get` and is invalid too.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a> {
    text: &'a str,
    record: &'a csv::ByteRecord,
}

impl<'a> Row<'a> {
    pub(crate) fn new(record: &'a csv::ByteRecord) -> Result<Row<'a>, Error> {
        let invalid = || {
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            Error::from(ErrorKind::InvalidUtf8 { line })
        };
        let text = simdutf8::basic::from_utf8(record.as_slice()).map_err(|_| invalid())?;
        let row = Row { text, record };
        if (0..record.len()).any(|i| row.get(i).is_none()) {
            return Err(invalid());
        }
        Ok(row)
    }

    pub(crate) fn len(&self) -> usize {
        self.record.len()
    }

    /// Where cell `i` is in the record's text.
    fn range(&self, i: usize) -> Option<std::ops::Range<usize>> {
        self.record.range(i)
    }

    /// Cell `i`; `None` past the end.
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        self.text.get(self.range(i)?)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or(""))
    }
}

/// Per-file state while rows stream past: everything needed to decide one row.
struct Accounting<'a> {
    width: usize,
    column: usize,
    suppressed: Option<&'a std::collections::HashSet<String>>,
    /// Indexes into `recipients`, keyed by the lower-cased address with an IDN domain
    /// in its A-label form ([`duplicate_key`])
    /// without storing it: four bytes per recipient, so the whole table of a 100k-row
    /// file stays in the L2 cache (16-byte entries with the hash did not, and the misses
    /// were a tenth of the import). Growing re-hashes the addresses; the table is
    /// presized from the file size, so that is rare.
    seen: HashTable<u32>,
    recipients: Vec<Recipient>,
    rejected: Vec<Rejection>,
}

impl Accounting<'_> {
    /// Decides one row: a recipient, or a rejection with the first reason that applies,
    /// in this order: malformed_row, empty/multiple/invalid address, suppressed, duplicate.
    fn account(&mut self, row: u64, record: Row<'_>) {
        let n = record.len();
        // Extra fields that are all empty are trailing delimiters (common in Excel
        // exports of a wider sheet) and lose nothing; any other count mismatch means the
        // cells may have shifted under their headers, so the row is not trusted.
        let ragged = n < self.width
            || (n > self.width && record.iter().skip(self.width).any(|c| !c.trim().is_empty()));
        if ragged {
            let detail = Detail::new(
                "row_ragged",
                format!("the row has {n} fields but the header has {}", self.width),
            )
            .with("fields", n)
            .with("header", self.width);
            return self.reject(row, &record, RejectReason::MalformedRow, detail);
        }
        let cell = record.get(self.column).unwrap_or("");
        let address = match check_address(cell) {
            Ok(a) => a,
            Err((reason, mut detail)) => {
                if reason == RejectReason::EmptyAddress
                    && record.iter().all(|c| c.trim().is_empty())
                {
                    detail = Detail::new("row_empty", "the row is empty");
                }
                return self.reject(row, &record, reason, detail);
            }
        };
        if let Some(suppressed) = self.suppressed {
            if suppressed.contains(&duplicate_key(address)) {
                let detail = Detail::new(
                    "row_suppressed",
                    "the address is on the suppression list (unsubscribed or bounced)",
                );
                return self.reject(row, &record, RejectReason::Suppressed, detail);
            }
        }
        let hash = key_hash(address);
        let recipients = &self.recipients;
        let found = self
            .seen
            .find(hash, |&i| same_key(recipients[i as usize].email(), address));
        if let Some(&first) = found {
            let first = recipients[first as usize].row;
            let detail = Detail::new("row_duplicate", format!("same address as row {first}"))
                .with("row", first);
            return self.reject(row, &record, RejectReason::Duplicate, detail);
        }
        let index = u32::try_from(self.recipients.len()).unwrap_or(u32::MAX);
        self.seen
            .insert_unique(hash, index, |&i| key_hash(recipients[i as usize].email()));
        // The address cell holds the trimmed address, so a merge field naming the
        // column shows exactly what goes into To; other cells are verbatim.
        let last = self.width.checked_sub(1).and_then(|i| record.range(i));
        match (record.range(self.column), last) {
            // Usually there was nothing to trim, and the record's text is the row's. The
            // cell ends are written in place: built on the stack and moved in, they
            // stalled on store forwarding (7% of an import).
            (Some(cell), Some(last)) if cell.len() == address.len() => {
                let text = &record.text[..last.end];
                self.recipients.push(Recipient::from_text(row, text, cell));
                if let Some(pushed) = self.recipients.last_mut() {
                    let mut end = 0;
                    for c in record.record.iter().take(self.width) {
                        end += c.len();
                        pushed.push_end(end);
                    }
                }
            }
            _ => {
                let mut recipient = Recipient::with_capacity(row, record.text.len());
                for (i, c) in record.iter().take(self.width).enumerate() {
                    if i == self.column {
                        recipient.push_value(address);
                        recipient.last_value_is_email();
                    } else {
                        recipient.push_value(c);
                    }
                }
                self.recipients.push(recipient);
            }
        }
    }

    fn reject(&mut self, row: u64, record: &Row<'_>, reason: RejectReason, detail: Detail) {
        // Who the row is about, as the person knows them: the first other cell with
        // something in it (a name, a company, a customer number), cut to 80 characters.
        let label = record
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.column)
            .map(|(_, c)| c.trim())
            .find(|c| !c.is_empty())
            .map(|c| c.chars().take(80).collect())
            .unwrap_or_default();
        let cell = record
            .get(self.column)
            .map(|c| c.trim().chars().take(120).collect())
            .unwrap_or_default();
        self.rejected.push(Rejection {
            row,
            reason,
            detail: detail.text,
            why: detail.why,
            label,
            cell,
        });
    }
}

/// FxHash-style hash of [`duplicate_key`]`(address)`, computed without allocating for
/// ASCII addresses. The keys come from the file being imported, but a collision flood
/// only slows one local import of the user's own file, so SipHash's DoS resistance buys
/// nothing here and cost ~8% of the import.
fn key_hash(address: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let hash_bytes = |bytes: &[u8], lower: bool| {
        let mut h = 0u64;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
            if lower {
                w.make_ascii_lowercase();
            }
            h = mix(h, u64::from_le_bytes(w));
        }
        // The tail as one zero-padded word: the length mixed in below keeps "a" and
        // "a\0" apart.
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let mut w = [0u8; 8];
            w[..tail.len()].copy_from_slice(tail);
            if lower {
                w.make_ascii_lowercase();
            }
            h = mix(h, u64::from_le_bytes(w));
        }
        mix(h, bytes.len() as u64)
    };
    if address.is_ascii() {
        hash_bytes(address.as_bytes(), true)
    } else {
        hash_bytes(duplicate_key(address).as_bytes(), false)
    }
}

/// Whether two addresses have the same [`duplicate_key`].
fn same_key(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        duplicate_key(a) == duplicate_key(b)
    }
}
