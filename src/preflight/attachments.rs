//! Attachment scanner: finds address lists hidden in attachments (CSV/TSV/TXT,
//! XLSX/XLS/ODS, DOCX/ODT, ZIP archives nested up to a limit) and copies of the
//! recipient file.
//!
//! Archives are untrusted input: every read is bounded by [`ScanLimits`] (total
//! uncompressed bytes, compression ratio, nesting depth, entry count). Entries are read
//! through `take(limit)`, so a lying size header cannot make us expand more than the
//! budget. What cannot be read (password-protected entries, damaged files, limits hit,
//! 7-Zip/RAR/LHA/CAB archives and gzip/bzip2/xz/zstd files, recognised by their magic
//! numbers) becomes an `attachments.unreadable` warning for the approver to acknowledge.
//! PDFs are read by [`super::pdf`]: FlateDecode streams inflated within the same
//! limits, drawn strings joined; what it cannot read (encryption, other encodings,
//! composite fonts, damage) is reported unreadable too.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{Cursor, Read};

use mail_parser::{Encoding, MessagePart, PartType};

use super::addressing::{scan_addresses, AddressBook};
use super::messages::{Findings, MessageCheckInput};
use super::{Check, Status};

pub const ADDRESS_LIST: &str = "attachments.address_list";
pub const RECIPIENT_FILE: &str = "attachments.recipient_file";
pub const UNREADABLE: &str = "attachments.unreadable";

/// More distinct addresses than this in one attachment is an address list.
pub const DEFAULT_MAX_ADDRESSES: usize = 5;

/// Bounds for expanding archives and office files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimits {
    /// Total bytes decompressed for one attachment, all nesting levels together.
    pub max_total_bytes: u64,
    /// Largest uncompressed/compressed ratio accepted for an entry over 1 MiB.
    pub max_ratio: u64,
    /// How deep archives may nest inside the attachment (the attachment itself is 0).
    pub max_depth: u32,
    /// Archive entries looked at, all levels together.
    pub max_entries: usize,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            max_total_bytes: 100 * 1024 * 1024,
            max_ratio: 100,
            max_depth: 3,
            max_entries: 10_000,
        }
    }
}

/// Entries smaller than this are not judged by their ratio: a small run of blanks
/// compresses extremely well and is harmless.
const RATIO_FLOOR: u64 = 1024 * 1024;

/// What scanning one distinct attachment found.
#[derive(Debug, Clone, Default)]
pub struct AttachmentScan {
    /// SHA-256 of the attachment bytes, lower-case hex.
    pub sha256: String,
    /// What the content was read as: "text", "xlsx", "docx", "zip", ...
    pub kinds: Vec<&'static str>,
    /// Distinct address-like tokens seen (lower-cased), all of them counted.
    pub address_count: usize,
    /// The first few of those addresses, for the detail text.
    pub sample_addresses: Vec<String>,
    /// Rows of campaign recipients whose address appears, sorted.
    pub campaign_rows: Vec<u64>,
    /// Plain-language reasons why part of the attachment could not be read.
    pub unreadable: Vec<String>,
}

/// Scans one attachment. `sha256` is the digest of `bytes` (the caller keys its cache
/// by it). Never panics on bad input and never expands past `limits`.
pub fn scan_attachment(
    name: &str,
    bytes: &[u8],
    sha256: &[u8; 32],
    book: &AddressBook,
    limits: &ScanLimits,
) -> AttachmentScan {
    let mut s = Scanner {
        book,
        limits,
        budget: limits.max_total_bytes,
        entries: 0,
        seen: HashSet::new(),
        rows: HashSet::new(),
        buf: String::new(),
        out: AttachmentScan {
            sha256: hex::encode(sha256),
            ..Default::default()
        },
    };
    // calamine and zip read hostile bytes here; should one of them panic on a file
    // nobody foresaw, the attachment becomes "unreadable" instead of ending the run.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.visit(name, bytes, 0)));
    if read.is_err() {
        s.problem(format!(
            "\"{name}\" could not be read completely (its reader stopped on malformed content)"
        ));
    }
    let mut rows: Vec<u64> = s.rows.into_iter().collect();
    rows.sort_unstable();
    s.out.campaign_rows = rows;
    s.out.address_count = s.seen.len();
    s.out
}

struct Scanner<'a> {
    book: &'a AddressBook,
    limits: &'a ScanLimits,
    budget: u64,
    entries: usize,
    seen: HashSet<String>,
    rows: HashSet<u64>,
    buf: String,
    out: AttachmentScan,
}

impl Scanner<'_> {
    fn kind(&mut self, k: &'static str) {
        if !self.out.kinds.contains(&k) {
            self.out.kinds.push(k);
        }
    }

    fn problem(&mut self, p: String) {
        if self.out.unreadable.len() < 20 && !self.out.unreadable.contains(&p) {
            self.out.unreadable.push(p);
        }
    }

    fn scan_text(&mut self, text: &[u8]) {
        let (book, seen, rows, buf, samples) = (
            self.book,
            &mut self.seen,
            &mut self.rows,
            &mut self.buf,
            &mut self.out.sample_addresses,
        );
        scan_addresses(text, |hit| {
            if let Some((row, _)) = book.find(&hit, buf) {
                rows.insert(row);
            }
            if hit.is_plausible() {
                let lower = hit.to_lowercase();
                if !seen.contains(&lower) {
                    if samples.len() < 5 {
                        samples.push(lower.clone());
                    }
                    seen.insert(lower);
                }
            }
        });
    }

    fn visit(&mut self, name: &str, bytes: &[u8], depth: u32) {
        if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
            self.visit_zip(name, bytes, depth);
        } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
            self.visit_ole(name, bytes);
        } else if let Some(format) = sealed_format(bytes) {
            // Compressed bytes hold no readable address, so scanning them as text would
            // pass a compressed customer list as clean: say it could not be checked.
            self.kind("compressed");
            self.problem(format!(
                "\"{name}\" is a {format}; MergeGuard cannot look inside it, so its contents are not checked"
            ));
        } else if is_pdf(bytes) {
            self.kind("pdf");
            self.visit_pdf(name, bytes);
        } else {
            self.kind("text");
            let text = decode_text(bytes);
            self.scan_text(text.as_bytes());
        }
    }

    fn visit_pdf(&mut self, name: &str, bytes: &[u8]) {
        let mut problems = Vec::new();
        let mut budget = self.budget;
        let mut entries = self.entries;
        super::pdf::read_pdf(
            name,
            bytes,
            super::pdf::Budget {
                limits: self.limits,
                bytes: &mut budget,
                entries: &mut entries,
            },
            &mut |text| self.scan_text(text),
            &mut |p| problems.push(p),
        );
        self.budget = budget;
        self.entries = entries;
        for p in problems {
            self.problem(p);
        }
    }

    /// Old binary Office files: XLS through calamine; anything else is reported.
    fn visit_ole(&mut self, name: &str, bytes: &[u8]) {
        match calamine::open_workbook_from_rs::<calamine::Xls<_>, _>(Cursor::new(bytes)) {
            Ok(mut wb) => {
                self.kind("xls");
                self.scan_workbook(name, &mut wb);
            }
            Err(_) => self.problem(format!(
                "\"{name}\" is an old binary Office file that could not be read as an XLS workbook"
            )),
        }
    }

    fn scan_workbook<R: calamine::Reader<RS>, RS: std::io::Read + std::io::Seek>(
        &mut self,
        name: &str,
        wb: &mut R,
    ) {
        let count = wb.sheet_names().len();
        for i in 0..count {
            match wb.worksheet_range_at(i) {
                Some(Ok(range)) => {
                    let mut line = String::new();
                    for row in range.rows() {
                        line.clear();
                        for cell in row {
                            use std::fmt::Write;
                            let _ = write!(line, "{cell}\t");
                        }
                        self.scan_text(line.as_bytes());
                    }
                }
                Some(Err(_)) => self.problem(format!("a sheet of \"{name}\" could not be read")),
                None => {}
            }
        }
    }

    fn visit_zip(&mut self, name: &str, bytes: &[u8], depth: u32) {
        if depth > self.limits.max_depth {
            self.problem(format!(
                "\"{name}\" is an archive nested more than {} levels deep; it was not opened",
                self.limits.max_depth
            ));
            return;
        }
        let mut zip = match zip::ZipArchive::new(Cursor::new(bytes)) {
            Ok(z) => z,
            Err(_) => {
                self.problem(format!(
                    "\"{name}\" looks like a ZIP archive but is damaged"
                ));
                return;
            }
        };
        // Office formats are ZIPs with a known layout; read them for their text.
        let has = |z: &zip::ZipArchive<Cursor<&[u8]>>, n: &str| z.index_for_name(n).is_some();
        if has(&zip, "xl/workbook.xml") {
            self.kind("xlsx");
            if self.precheck_declared(name, &mut zip) {
                match calamine::open_workbook_from_rs::<calamine::Xlsx<_>, _>(Cursor::new(bytes)) {
                    Ok(mut wb) => self.scan_workbook(name, &mut wb),
                    Err(e) => self.problem(format!(
                        "\"{name}\" could not be read as an Excel workbook ({e})"
                    )),
                }
            }
            return;
        }
        let mimetype = read_small(&mut zip, "mimetype");
        if mimetype.as_deref() == Some(b"application/vnd.oasis.opendocument.spreadsheet".as_slice())
        {
            self.kind("ods");
            if self.precheck_declared(name, &mut zip) {
                match calamine::open_workbook_from_rs::<calamine::Ods<_>, _>(Cursor::new(bytes)) {
                    Ok(mut wb) => self.scan_workbook(name, &mut wb),
                    Err(e) => self.problem(format!(
                        "\"{name}\" could not be read as a spreadsheet ({e})"
                    )),
                }
            }
            return;
        }
        let xml_parts: Vec<String> = if has(&zip, "word/document.xml") {
            self.kind("docx");
            zip.file_names()
                .filter_map(|n| n.ok().map(|n| n.to_string()))
                .filter(|n| {
                    n.starts_with("word/")
                        && n.ends_with(".xml")
                        && !n.contains("/_rels/")
                        && !n.starts_with("word/theme/")
                })
                .collect()
        } else if mimetype
            .as_deref()
            .is_some_and(|m| m.starts_with(b"application/vnd.oasis.opendocument."))
        {
            self.kind("odt");
            vec![
                "content.xml".to_string(),
                "styles.xml".to_string(),
                "meta.xml".to_string(),
            ]
        } else {
            Vec::new()
        };
        if !xml_parts.is_empty() {
            for part in xml_parts {
                if let Some(i) = zip.index_for_name(&part) {
                    if let Some(data) = self.read_entry(name, &mut zip, i) {
                        let text = strip_xml(&data);
                        self.scan_text(text.as_bytes());
                    }
                }
            }
            return;
        }

        self.kind("zip");
        for i in 0..zip.len() {
            let entry_name = match zip.by_index_raw(i) {
                Ok(e) => {
                    if e.is_dir() {
                        continue;
                    }
                    e.name()
                        .map(|n| n.to_string())
                        .unwrap_or_else(|_| format!("entry {}", i + 1))
                }
                Err(_) => {
                    self.problem(format!("an entry of \"{name}\" is damaged"));
                    continue;
                }
            };
            let full = format!("{name}/{entry_name}");
            match self.read_entry(&full, &mut zip, i) {
                Some(data) => self.visit(&full, &data, depth + 1),
                None => {
                    if self.budget == 0 || self.entries > self.limits.max_entries {
                        return;
                    }
                }
            }
        }
    }

    /// Calamine reads whole sheets into memory, so its input is judged by the sizes the
    /// archive declares before handing it over.
    fn precheck_declared(&mut self, name: &str, zip: &mut zip::ZipArchive<Cursor<&[u8]>>) -> bool {
        let mut total = 0u64;
        for i in 0..zip.len() {
            let Ok(e) = zip.by_index_raw(i) else {
                self.problem(format!("an entry of \"{name}\" is damaged"));
                return false;
            };
            if e.encrypted() {
                self.problem(format!(
                    "\"{name}\" is password-protected; its contents cannot be checked"
                ));
                return false;
            }
            if e.size() > RATIO_FLOOR
                && e.size() / e.compressed_size().max(1) > self.limits.max_ratio
            {
                self.problem(format!(
                    "\"{name}\" expands more than {}-fold (a possible zip bomb); it was not opened",
                    self.limits.max_ratio
                ));
                return false;
            }
            total = total.saturating_add(e.size());
        }
        if total > self.budget {
            self.problem(format!(
                "\"{name}\" would expand to {} MB, over the {} MB scanning limit; it was not opened",
                total / 1_000_000,
                self.limits.max_total_bytes / 1_000_000
            ));
            return false;
        }
        self.budget -= total;
        true
    }

    /// Reads one entry within the limits; `None` (with a problem recorded) when it is
    /// encrypted, damaged, too compressed or over budget.
    fn read_entry(
        &mut self,
        full: &str,
        zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
        i: usize,
    ) -> Option<Vec<u8>> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            self.problem(format!(
                "more than {} archive entries; the rest were not opened (stopped at \"{full}\")",
                self.limits.max_entries
            ));
            return None;
        }
        let (size, compressed, encrypted) = match zip.by_index_raw(i) {
            Ok(e) => (e.size(), e.compressed_size(), e.encrypted()),
            Err(_) => {
                self.problem(format!("\"{full}\" is damaged"));
                return None;
            }
        };
        if encrypted {
            self.problem(format!(
                "\"{full}\" is password-protected; its contents cannot be checked"
            ));
            return None;
        }
        if size > RATIO_FLOOR && size / compressed.max(1) > self.limits.max_ratio {
            self.problem(format!(
                "\"{full}\" expands {}-fold (a possible zip bomb); it was not opened",
                size / compressed.max(1)
            ));
            return None;
        }
        if size > self.budget {
            self.problem(format!(
                "\"{full}\" would expand past the {} MB scanning limit; it was not opened",
                self.limits.max_total_bytes / 1_000_000
            ));
            self.budget = 0;
            return None;
        }
        let entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(_) => {
                self.problem(format!(
                    "\"{full}\" could not be opened (damaged or unsupported compression)"
                ));
                return None;
            }
        };
        // Never trust the declared size: read at most the remaining budget plus one byte.
        let mut data = Vec::with_capacity(size.min(self.budget).min(16 * 1024 * 1024) as usize);
        let read = entry
            .take(self.budget.saturating_add(1))
            .read_to_end(&mut data);
        if read.is_err() {
            self.problem(format!(
                "\"{full}\" is damaged and could not be decompressed"
            ));
            return None;
        }
        if data.len() as u64 > self.budget {
            self.problem(format!(
                "\"{full}\" expands past the {} MB scanning limit; scanning stopped",
                self.limits.max_total_bytes / 1_000_000
            ));
            self.budget = 0;
            return None;
        }
        self.budget -= data.len() as u64;
        Some(data)
    }
}

/// A PDF: `%PDF-` within the first KiB (readers accept junk before the header).
fn is_pdf(bytes: &[u8]) -> bool {
    memchr::memmem::find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some()
}

fn read_small(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Option<Vec<u8>> {
    let i = zip.index_for_name(name)?;
    let e = zip.by_index(i).ok()?;
    let mut v = Vec::new();
    e.take(256).read_to_end(&mut v).ok()?;
    Some(v)
}

/// Archive and compression formats the scanner cannot open, by their magic number:
/// what people attach when they "zip up" a customer list (LHA is still common in Japan).
fn sealed_format(bytes: &[u8]) -> Option<&'static str> {
    const AT_START: &[(&[u8], &str)] = &[
        (&[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C], "7-Zip archive"),
        (b"Rar!\x1a\x07", "RAR archive"),
        (&[0x1F, 0x8B], "gzip-compressed file"),
        (&[0xFD, b'7', b'z', b'X', b'Z', 0x00], "xz-compressed file"),
        (&[0x28, 0xB5, 0x2F, 0xFD], "Zstandard-compressed file"),
        (b"MSCF\0\0\0\0", "Windows cabinet (CAB) archive"),
    ];
    if let Some((_, format)) = AT_START.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Some(format);
    }
    // bzip2: "BZh" and the block size, a digit 1-9.
    if bytes.starts_with(b"BZh") && bytes.get(3).is_some_and(|b| (b'1'..=b'9').contains(b)) {
        return Some("bzip2-compressed file");
    }
    // LHA: "-lh?-" or "-lz?-" after a two-byte header size and checksum.
    let lha = bytes.get(2..7).is_some_and(|m| {
        m[0] == b'-' && m[1] == b'l' && matches!(m[2], b'h' | b'z') && m[4] == b'-'
    });
    lha.then_some("LHA (LZH) archive")
}

/// Decodes text of unknown encoding: BOM first, then UTF-8, then UTF-16 by its zero
/// bytes, then chardetng's guess (Shift_JIS, EUC-JP, windows-1252...).
pub fn decode_text(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return Cow::Owned(
            enc.decode_without_bom_handling(&bytes[bom..])
                .0
                .into_owned(),
        );
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(s);
    }
    let sample = &bytes[..bytes.len().min(4096)];
    let zeros_even = sample.iter().step_by(2).filter(|&&b| b == 0).count();
    let zeros_odd = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|&&b| b == 0)
        .count();
    let half = sample.len() / 2;
    if half > 0 && zeros_odd * 3 > half {
        return Cow::Owned(
            encoding_rs::UTF_16LE
                .decode_without_bom_handling(bytes)
                .0
                .into_owned(),
        );
    }
    if half > 0 && zeros_even * 3 > half {
        return Cow::Owned(
            encoding_rs::UTF_16BE
                .decode_without_bom_handling(bytes)
                .0
                .into_owned(),
        );
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    det.feed(
        &bytes[..bytes.len().min(64 * 1024)],
        bytes.len() <= 64 * 1024,
    );
    let enc = det.guess(None, chardetng::Utf8Detection::Allow);
    Cow::Owned(enc.decode_without_bom_handling(bytes).0.into_owned())
}

/// Text of an XML document: tags removed (paragraph, cell and break tags become a
/// space so words of different paragraphs do not join), entities decoded.
pub fn strip_xml(xml: &[u8]) -> String {
    let xml = decode_text(xml);
    let mut out = String::with_capacity(xml.len() / 2);
    let mut rest = xml.as_ref();
    while let Some(lt) = rest.find('<') {
        push_unescaped(&mut out, &rest[..lt]);
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        let tname = tag
            .trim_start_matches('/')
            .split([' ', '/', '\t', '\n', '\r'])
            .next()
            .unwrap_or("");
        if matches!(
            tname,
            "w:p"
                | "w:br"
                | "w:tab"
                | "w:cr"
                | "w:tc"
                | "text:p"
                | "text:h"
                | "text:line-break"
                | "text:tab"
                | "text:s"
                | "table:table-cell"
                | "a:p"
                | "p"
                | "br"
        ) {
            out.push(' ');
        }
        rest = &rest[lt + gt + 1..];
    }
    push_unescaped(&mut out, rest);
    out
}

fn push_unescaped(out: &mut String, mut s: &str) {
    while let Some(amp) = s.find('&') {
        out.push_str(&s[..amp]);
        let after = &s[amp + 1..];
        let end = after.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let ent = &after[..e];
            match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                    u32::from_str_radix(&ent[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            }
        });
        match (decoded, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                s = &after[e + 1..];
            }
            _ => {
                out.push('&');
                s = after;
            }
        }
    }
    out.push_str(s);
}

/// The exact bytes of an attachment part. mail-parser turns text parts into UTF-8
/// (lossily when no charset is given), which would corrupt a Shift_JIS CSV and change
/// its hash, so text parts are decoded again from the raw message.
pub(crate) fn part_bytes(raw: &[u8], part: &MessagePart<'_>) -> Option<Vec<u8>> {
    if !matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
        return None;
    }
    let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    match part.encoding {
        Encoding::Base64 => mail_parser::decoders::base64::base64_decode(body),
        Encoding::QuotedPrintable => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
        }
        Encoding::None => {
            let mut b = body;
            while let [rest @ .., b'\r' | b'\n'] = b {
                b = rest;
            }
            Some(b.to_vec())
        }
    }
}

/// Records what one message's attachment means for the checks.
pub(crate) fn inspect(
    row: u64,
    own_row: Option<u64>,
    name: &str,
    scan: &AttachmentScan,
    input: &MessageCheckInput<'_>,
    findings: &mut Findings,
) {
    let others: Vec<u64> = scan
        .campaign_rows
        .iter()
        .copied()
        .filter(|&r| Some(r) != own_row)
        .collect();
    if !others.is_empty() {
        let shown: Vec<String> = others.iter().take(3).map(|r| format!("row {r}")).collect();
        let more = if others.len() > 3 {
            format!(" and {} more", others.len() - 3)
        } else {
            String::new()
        };
        findings.add(
            ADDRESS_LIST,
            Status::Fail,
            row,
            format!(
                "row {row}: attachment \"{name}\" holds the addresses of other recipients ({}{more})",
                shown.join(", ")
            ),
        );
    } else if scan.address_count > input.max_addresses_per_attachment {
        findings.add(
            ADDRESS_LIST,
            Status::Fail,
            row,
            format!(
                "row {row}: attachment \"{name}\" holds {} addresses (e.g. {}), more than the allowed {}",
                scan.address_count,
                scan.sample_addresses.join(", "),
                input.max_addresses_per_attachment
            ),
        );
    }
    if !input.list.source_sha256.is_empty()
        && scan
            .sha256
            .eq_ignore_ascii_case(input.list.source_sha256.trim())
    {
        findings.add(
            RECIPIENT_FILE,
            Status::Fail,
            row,
            format!("row {row}: attachment \"{name}\" is the recipient file itself (same SHA-256)"),
        );
    }
    if !scan.unreadable.is_empty() {
        findings.add(
            UNREADABLE,
            Status::Warning,
            row,
            format!(
                "row {row}: attachment \"{name}\": {}",
                scan.unreadable.join("; ")
            ),
        );
    }
}

pub(crate) fn verdicts(
    findings: &Findings,
    scans: &[std::sync::Arc<AttachmentScan>],
    max: usize,
) -> Vec<Check> {
    let n = scans.len();
    let mut kinds: Vec<&str> = scans.iter().flat_map(|s| s.kinds.iter().copied()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let scanned = if n == 0 {
        "No message has attachments.".to_string()
    } else {
        format!("{n} distinct attachment(s) scanned ({}).", kinds.join(", "))
    };
    vec![
        findings.verdict(
            ADDRESS_LIST,
            format!("{scanned} None holds other recipients' addresses or more than {max} addresses."),
            "Remove the address list from the attachment, or attach a file that only holds this recipient's own data.",
        ),
        findings.verdict(
            RECIPIENT_FILE,
            format!("{scanned} None is a copy of the recipient file."),
            "The recipient file is attached: remove it from the attachments.",
        ),
        findings.verdict(
            UNREADABLE,
            format!("{scanned} All could be read completely."),
            "These attachments could not be checked for address lists. Open them yourself and confirm they hold no customer list, or send them without password protection.",
        ),
    ]
}
