//! The text of a PDF attachment, for the address scan: the file's own bytes, every
//! FlateDecode stream inflated within the scan limits, and the strings that content
//! streams draw, joined the way they appear on the page.
//!
//! Why a small reader of our own rather than a PDF library: the scanner only needs the
//! streams and the string operands, not a document model, and it must stay bounded on
//! hostile files (every inflated byte counts against the attachment's budget, every
//! stream against its entry limit, and a stream that expands past the ratio limit is not
//! read on). A full parser (lopdf) would rebuild the object graph in memory first and
//! still leave the budget to us. flate2 is already in the tree for ZIP entries.
//!
//! What cannot be read is said, never passed over: an encrypted PDF, a stream in an
//! encoding other than FlateDecode (LZW, ASCII85, ... — image encodings are skipped, as
//! images hold no text to scan), a damaged stream, a stream past the limits, and text
//! drawn with composite (Type0/CID) fonts that have no ToUnicode map: their bytes are
//! glyph numbers that only the font's own tables turn into letters. (With ToUnicode maps,
//! as Japanese PDFs from office programs carry them, the strings are read through the
//! maps.) Each becomes a reason in `attachments.unreadable`, so the checklist never says
//! such a file was read completely.

use std::io::Read;

use super::attachments::ScanLimits;

/// Streams smaller than this are not judged by their ratio (as for ZIP entries).
const RATIO_FLOOR: u64 = 1024 * 1024;

/// How far before a `stream` keyword its dictionary is looked for.
const MAX_DICT: usize = 64 * 1024;

/// The budget a PDF is read within, shared with the rest of the attachment.
pub(crate) struct Budget<'a> {
    pub limits: &'a ScanLimits,
    /// Bytes that may still be inflated.
    pub bytes: &'a mut u64,
    /// Entries (archive entries and PDF streams) opened so far.
    pub entries: &'a mut usize,
}

/// Hands every piece of text in `pdf` to `text` and every reason part of it could not be
/// read to `problem`. Never panics on bad input and never inflates past the budget.
pub(crate) fn read_pdf(
    name: &str,
    pdf: &[u8],
    budget: Budget<'_>,
    text: &mut dyn FnMut(&[u8]),
    problem: &mut dyn FnMut(String),
) {
    let Budget {
        limits,
        bytes,
        entries,
    } = budget;
    text(pdf);
    let mut drawn = Vec::new();
    strings_of(pdf, &mut drawn, &push_string);
    text(&drawn);
    if memchr::memmem::find(pdf, b"/Encrypt").is_some() {
        problem(format!(
            "\"{name}\" is an encrypted PDF; its text cannot be read, so it is not checked"
        ));
        return;
    }
    // First every stream is inflated (a font's ToUnicode map may come after the page
    // that uses it), then everything is scanned.
    let mut inflated: Vec<Vec<u8>> = Vec::new();
    let mut unsupported: Vec<String> = Vec::new();
    let mut damaged = 0usize;
    for at in memchr::memmem::find_iter(pdf, b"stream") {
        // `endstream` contains `stream`; a stream keyword follows the dictionary's `>>`.
        if at >= 3 && &pdf[at - 3..at] == b"end" {
            continue;
        }
        let before = trim_end(&pdf[..at]);
        if !before.ends_with(b">>") {
            continue;
        }
        let start = match pdf.get(at + 6..) {
            Some([b'\r', b'\n', ..]) => at + 8,
            Some([b'\n', ..]) | Some([b'\r', ..]) => at + 7,
            _ => continue,
        };
        let dict = stream_dict(before);
        let chain = filters(dict);
        if chain.is_empty() {
            // Unencoded: its bytes are part of the file, already scanned above; a
            // ToUnicode map may still be among them.
            let end = stream_end(pdf, dict, start);
            if memchr::memmem::find(&pdf[start..end], b"begincmap").is_some() {
                inflated.push(pdf[start..end].to_vec());
            }
            continue;
        }
        if chain.iter().any(|f| is_image_filter(f)) {
            continue;
        }
        if chain.len() != 1 || !matches!(chain[0].as_slice(), b"FlateDecode" | b"Fl") {
            let names = chain
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect::<Vec<_>>()
                .join(" + ");
            if !unsupported.contains(&names) {
                unsupported.push(names);
            }
            continue;
        }
        *entries += 1;
        if *entries > limits.max_entries {
            problem(format!(
                "\"{name}\" has more than {} compressed streams and archive entries; the rest were not opened",
                limits.max_entries
            ));
            break;
        }
        let end = stream_end(pdf, dict, start);
        let compressed = &pdf[start..end];
        // Read at most the budget, and for a large stream at most the ratio limit, plus
        // one byte to know that the limit was passed.
        let ratio_cap = (compressed.len() as u64)
            .saturating_mul(limits.max_ratio)
            .max(RATIO_FLOOR);
        let budget_bound = *bytes <= ratio_cap;
        let cap = (*bytes).min(ratio_cap);
        let mut out = Vec::new();
        let read = flate2::read::ZlibDecoder::new(compressed)
            .take(cap.saturating_add(1))
            .read_to_end(&mut out);
        let over = out.len() as u64 > cap;
        if over {
            out.truncate(cap as usize);
        }
        *bytes = bytes.saturating_sub(out.len() as u64);
        let xref = memchr::memmem::find(dict, b"/Type/XRef").is_some()
            || memchr::memmem::find(dict, b"/Type /XRef").is_some();
        if !xref {
            if memchr::memmem::find(dict, b"/Predictor").is_some() {
                problem(format!(
                    "a stream of \"{name}\" is stored with a PNG predictor, which MergeGuard does not undo; it is not checked"
                ));
            }
            // Whatever was inflated is scanned, even from a damaged stream.
            inflated.push(out);
        }
        if over && budget_bound {
            problem(format!(
                "\"{name}\" expands past the {} MB scanning limit; scanning stopped",
                limits.max_total_bytes / 1_000_000
            ));
            *bytes = 0;
            break;
        }
        if over {
            problem(format!(
                "a stream of \"{name}\" expands more than {}-fold (a possible zip bomb); it was not read to the end",
                limits.max_ratio
            ));
        } else if read.is_err() {
            damaged += 1;
        }
    }

    let mut composite_fonts = count(pdf, b"/Type0");
    let mut maps: Vec<ToUnicode> = Vec::new();
    for s in &inflated {
        text(s);
        drawn.clear();
        strings_of(s, &mut drawn, &push_string);
        text(&drawn);
        composite_fonts += count(s, b"/Type0");
        if maps.len() < MAX_MAPS && memchr::memmem::find(s, b"begincmap").is_some() {
            maps.extend(ToUnicode::parse(s));
        }
    }
    if composite_fonts > 0 {
        // Which font draws which string is in the page resources; without resolving
        // them every string is read through every map. A wrong map gives letters that
        // form no address, so nothing is invented.
        for map in &maps {
            let decode = |s: &[u8], out: &mut Vec<u8>| map.decode(s, out);
            for content in std::iter::once(pdf).chain(inflated.iter().map(Vec::as_slice)) {
                drawn.clear();
                strings_of(content, &mut drawn, &decode);
                text(&drawn);
            }
        }
        let wide_maps = maps.iter().filter(|m| m.width >= 2).count();
        if wide_maps < composite_fonts {
            problem(format!(
                "\"{name}\" draws text with composite (Type0/CID) fonts that have no ToUnicode map; MergeGuard cannot turn their glyph numbers into letters, so that text is not checked"
            ));
        }
    }
    if damaged > 0 {
        problem(format!(
            "{damaged} compressed stream(s) of \"{name}\" are damaged and could not be read completely"
        ));
    }
    for names in unsupported {
        problem(format!(
            "\"{name}\" has streams encoded as {names}, which MergeGuard cannot decode; they are not checked"
        ));
    }
}

/// How many ToUnicode maps are read from one PDF (each multiplies the decoding work).
const MAX_MAPS: usize = 16;
/// Entries one map may hold (a hostile `bfrange` could span four billion codes).
const MAX_MAP_ENTRIES: usize = 1 << 17;

fn count(b: &[u8], needle: &[u8]) -> usize {
    memchr::memmem::find_iter(b, needle).count()
}

/// A font's ToUnicode CMap: which letters each glyph code stands for.
#[derive(Debug, Default)]
struct ToUnicode {
    /// Bytes per code (from `begincodespacerange`; 2 for CID fonts).
    width: usize,
    map: std::collections::HashMap<u32, String>,
}

/// One token of a CMap section.
#[derive(Debug, PartialEq)]
enum Tok {
    Hex(Vec<u8>),
    Open,
    Close,
}

impl ToUnicode {
    fn parse(cmap: &[u8]) -> Option<ToUnicode> {
        let width = sections(cmap, b"begincodespacerange", b"endcodespacerange")
            .next()
            .and_then(|s| match tokens(s).first() {
                Some(Tok::Hex(h)) if !h.is_empty() => Some(h.len().min(4)),
                _ => None,
            })
            .unwrap_or(2);
        let mut m = ToUnicode {
            width,
            map: std::collections::HashMap::new(),
        };
        for section in sections(cmap, b"beginbfchar", b"endbfchar") {
            let toks = tokens(section);
            for pair in toks.chunks(2) {
                if let [Tok::Hex(src), Tok::Hex(dst)] = pair {
                    m.insert(code(src), utf16(dst));
                }
            }
        }
        for section in sections(cmap, b"beginbfrange", b"endbfrange") {
            let toks = tokens(section);
            let mut i = 0;
            while i + 2 < toks.len() {
                let (Tok::Hex(lo), Tok::Hex(hi)) = (&toks[i], &toks[i + 1]) else {
                    i += 1;
                    continue;
                };
                let (lo, hi) = (code(lo), code(hi));
                match &toks[i + 2] {
                    Tok::Hex(dst) => {
                        for (n, c) in (lo..=hi.max(lo)).enumerate() {
                            m.insert(c, shifted(dst, n as u32));
                            if m.map.len() >= MAX_MAP_ENTRIES {
                                break;
                            }
                        }
                        i += 3;
                    }
                    Tok::Open => {
                        let mut j = i + 3;
                        let mut c = lo;
                        while let Some(Tok::Hex(dst)) = toks.get(j) {
                            if c <= hi {
                                m.insert(c, utf16(dst));
                            }
                            c = c.saturating_add(1);
                            j += 1;
                        }
                        i = j + 1;
                    }
                    Tok::Close => i += 3,
                }
            }
        }
        (!m.map.is_empty()).then_some(m)
    }

    fn insert(&mut self, code: u32, text: String) {
        if self.map.len() < MAX_MAP_ENTRIES {
            self.map.insert(code, text);
        }
    }

    /// The letters of one string drawn with this map's font; an unknown code becomes a
    /// space, so it splits a token rather than joining two.
    fn decode(&self, s: &[u8], out: &mut Vec<u8>) {
        for c in s.chunks(self.width) {
            match self.map.get(&code(c)) {
                Some(t) => out.extend_from_slice(t.as_bytes()),
                None => out.push(b' '),
            }
        }
    }
}

/// The text between each `begin` and the following `end`.
fn sections<'a>(
    b: &'a [u8],
    begin: &'a [u8],
    end: &'a [u8],
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = b;
    std::iter::from_fn(move || {
        let at = memchr::memmem::find(rest, begin)? + begin.len();
        let len = memchr::memmem::find(&rest[at..], end).unwrap_or(rest.len() - at);
        let section = &rest[at..at + len];
        rest = &rest[at + len..];
        Some(section)
    })
}

fn tokens(b: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'<' => {
                let end = memchr::memchr(b'>', &b[i + 1..]).map_or(b.len(), |e| i + 1 + e);
                out.push(Tok::Hex(hex(&b[i + 1..end])));
                i = end + 1;
            }
            b'[' => {
                out.push(Tok::Open);
                i += 1;
            }
            b']' => {
                out.push(Tok::Close);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// A code's bytes, big-endian (at most four count).
fn code(b: &[u8]) -> u32 {
    b.iter()
        .take(4)
        .fold(0u32, |acc, &x| (acc << 8) | u32::from(x))
}

/// UTF-16BE bytes as text.
fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// `dst` with its last UTF-16 unit advanced by `n` (a `bfrange` with one destination).
fn shifted(dst: &[u8], n: u32) -> String {
    let mut units: Vec<u16> = dst
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
        .collect();
    if let Some(last) = units.last_mut() {
        *last = last.wrapping_add(n as u16);
    }
    String::from_utf16_lossy(&units)
}

fn trim_end(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &b[..n]
}

/// The dictionary of the stream whose `stream` keyword ends `before`: the text from the
/// last `obj` keyword (or at most [`MAX_DICT`] bytes back).
fn stream_dict(before: &[u8]) -> &[u8] {
    let from = before.len().saturating_sub(MAX_DICT);
    let window = &before[from..];
    match memchr::memmem::rfind(window, b"obj") {
        Some(i) => &window[i + 3..],
        None => window,
    }
}

/// The filter names of a stream dictionary, without the slash, in order.
fn filters(dict: &[u8]) -> Vec<Vec<u8>> {
    let Some(at) = memchr::memmem::find(dict, b"/Filter") else {
        return Vec::new();
    };
    let mut rest = &dict[at + 7..];
    while let [c, tail @ ..] = rest {
        if c.is_ascii_whitespace() {
            rest = tail;
        } else {
            break;
        }
    }
    let list_end = match rest.first() {
        Some(b'[') => memchr::memchr(b']', rest).unwrap_or(rest.len()),
        Some(b'/') => {
            1 + rest[1..]
                .iter()
                .position(|c| is_delimiter(*c) || c.is_ascii_whitespace())
                .unwrap_or(rest.len() - 1)
        }
        // An indirect filter (`5 0 R`) cannot be read without the object table.
        _ => return vec![b"(indirect)".to_vec()],
    };
    rest[..list_end]
        .split(|c| *c == b'/')
        .skip(1)
        .map(|n| {
            n.iter()
                .copied()
                .take_while(|c| !is_delimiter(*c) && !c.is_ascii_whitespace())
                .collect::<Vec<u8>>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

fn is_image_filter(name: &[u8]) -> bool {
    matches!(
        name,
        b"DCTDecode" | b"DCT" | b"JPXDecode" | b"JBIG2Decode" | b"CCITTFaxDecode" | b"CCF"
    )
}

fn is_delimiter(c: u8) -> bool {
    matches!(
        c,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

/// Where a stream's data ends: its direct `/Length` when that lands on `endstream`,
/// otherwise the next `endstream` (or the end of the file).
fn stream_end(pdf: &[u8], dict: &[u8], start: usize) -> usize {
    if let Some(n) = direct_length(dict) {
        if let Some(end) = start.checked_add(n).filter(|&e| e <= pdf.len()) {
            let after = trim_start(&pdf[end..]);
            if after.starts_with(b"endstream") {
                return end;
            }
        }
    }
    memchr::memmem::find(&pdf[start..], b"endstream").map_or(pdf.len(), |i| start + i)
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[n..]
}

/// `/Length 123` (not `/Length 5 0 R`).
fn direct_length(dict: &[u8]) -> Option<usize> {
    let at = memchr::memmem::find(dict, b"/Length")?;
    let rest = trim_start(&dict[at + 7..]);
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let after = trim_start(&rest[digits..]);
    // `5 0 R`: a digit follows the number, so it is a reference.
    if digits == 0 || after.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// The string operands of `content`, each as its bytes, in order: the pieces of one
/// `TJ` array joined (kerning splits a word into several strings), a space for a large
/// gap inside the array, and a line break at every text-positioning operator. A
/// UTF-16 string (with its byte-order mark) becomes UTF-8.
pub(crate) fn strings_of(content: &[u8], out: &mut Vec<u8>, decode: &dyn Fn(&[u8], &mut Vec<u8>)) {
    let mut i = 0;
    let n = content.len();
    while i < n {
        match content[i] {
            b'(' => {
                let (s, next) = literal(content, i + 1);
                decode(&s, out);
                i = next;
            }
            b'<' if content.get(i + 1) == Some(&b'<') => i += 2,
            b'<' => {
                let end = memchr::memchr(b'>', &content[i + 1..]).map_or(n, |e| i + 1 + e);
                decode(&hex(&content[i + 1..end]), out);
                i = end + 1;
            }
            b'%' => {
                i = memchr::memchr2(b'\n', b'\r', &content[i..]).map_or(n, |e| i + e);
            }
            b'/' => {
                i += 1;
                while i < n && !is_delimiter(content[i]) && !content[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            b'-' | b'+' | b'.' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < n && matches!(content[i], b'.' | b'0'..=b'9') {
                    i += 1;
                }
                // Inside a TJ array a large negative number moves the next piece right:
                // a word space. Small ones are kerning inside a word.
                let num: f64 = std::str::from_utf8(&content[start..i])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0.0);
                if num <= -200.0 {
                    out.push(b' ');
                }
            }
            b'\'' | b'"' => {
                out.push(b'\n');
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'*' => {
                let start = i;
                while i < n && (content[i].is_ascii_alphabetic() || content[i] == b'*') {
                    i += 1;
                }
                if matches!(
                    &content[start..i],
                    b"Td" | b"TD" | b"Tm" | b"T*" | b"BT" | b"ET" | b"Do" | b"EI"
                ) {
                    out.push(b'\n');
                }
            }
            _ => i += 1,
        }
    }
}

/// A string's own bytes; a UTF-16 string (with its byte-order mark) as UTF-8.
fn push_string(s: &[u8], out: &mut Vec<u8>) {
    if let Some(utf16) = s.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        out.extend_from_slice(String::from_utf16_lossy(&units).as_bytes());
    } else {
        out.extend_from_slice(s);
    }
}

/// A literal string from just after its `(`: nested parentheses, escapes, octal codes.
/// Returns the bytes and the index after the closing `)`.
fn literal(b: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut depth = 1usize;
    while i < b.len() {
        let c = b[i];
        i += 1;
        match c {
            b'\\' => {
                let Some(&e) = b.get(i) else { break };
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match b.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push((v & 0xFF) as u8);
                    }
                    // A backslash at the end of a line continues the string.
                    b'\r' => {
                        if b.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'\n' => {}
                    other => out.push(other),
                }
            }
            b'(' => {
                depth += 1;
                out.push(c);
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return (out, i);
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    (out, i)
}

/// A hex string's bytes; white space is ignored and a missing last digit is 0.
fn hex(b: &[u8]) -> Vec<u8> {
    let digits: Vec<u8> = b
        .iter()
        .filter_map(|c| (*c as char).to_digit(16).map(|d| d as u8))
        .collect();
    digits
        .chunks(2)
        .map(|p| (p[0] << 4) | p.get(1).copied().unwrap_or(0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drawn(content: &str) -> String {
        let mut out = Vec::new();
        strings_of(content.as_bytes(), &mut out, &push_string);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn kerned_pieces_join_and_positioning_separates() {
        assert_eq!(
            drawn("BT /F1 12 Tf 72 712 Td [(hana)-12(ko@exa)3(mple.jp)] TJ 0 -14 Td (next) Tj ET"),
            "\n\nhanako@example.jp\nnext\n"
        );
        assert_eq!(drawn("[(a@x.jp)-333(b@y.jp)] TJ"), "a@x.jp b@y.jp");
    }

    #[test]
    fn escapes_hex_and_utf16_strings_are_decoded() {
        assert_eq!(drawn(r"(taro\100example.jp) Tj"), "taro@example.jp");
        assert_eq!(drawn(r"(a\(b\)c \\ (nested)) Tj"), r"a(b)c \ (nested)");
        assert_eq!(drawn("<74 61726f40782e6a70> Tj"), "taro@x.jp");
        assert_eq!(drawn("<</Author <FEFF0061004000780079>>>"), "a@xy");
        assert_eq!(drawn("<746> Tj"), "t`");
    }

    #[test]
    fn filters_and_lengths_are_read_from_the_dictionary() {
        assert_eq!(
            filters(b"<< /Length 5 /Filter /FlateDecode >>"),
            [b"FlateDecode".to_vec()]
        );
        assert_eq!(
            filters(b"<</Filter[/ASCII85Decode/FlateDecode]>>"),
            [b"ASCII85Decode".to_vec(), b"FlateDecode".to_vec()]
        );
        assert!(filters(b"<< /Length 5 >>").is_empty());
        assert_eq!(direct_length(b"<< /Length 44 >>"), Some(44));
        assert_eq!(direct_length(b"<< /Length 7 0 R >>"), None);
    }

    #[test]
    fn a_to_unicode_map_turns_glyph_codes_into_letters() {
        let cmap = b"/CIDInit /ProcSet findresource begin begincmap\n\
            1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
            2 beginbfchar <0003> <0020> <0200> <3054> endbfchar\n\
            2 beginbfrange <0120> <017E> <0020> <0300> <0301> [<0041> <0042>] endbfrange\n\
            endcmap";
        let m = ToUnicode::parse(cmap).unwrap();
        assert_eq!(m.width, 2);
        let mut out = Vec::new();
        m.decode(
            &[
                0x01, 0x61, 0x01, 0x40, 0x02, 0x00, 0x00, 0x03, 0x03, 0x01, 0x09, 0x99,
            ],
            &mut out,
        );
        assert_eq!(String::from_utf8(out).unwrap(), "a@ご B ");
        let mut out = Vec::new();
        strings_of(
            b"[<01680161>-10<016e>] TJ",
            &mut out,
            &|s: &[u8], o: &mut Vec<u8>| m.decode(s, o),
        );
        assert_eq!(out, b"han");
    }

    #[test]
    fn a_hostile_bfrange_is_capped() {
        let m = ToUnicode::parse(b"beginbfrange <00000000> <FFFFFFFF> <0041> endbfrange").unwrap();
        assert_eq!(m.map.len(), MAX_MAP_ENTRIES);
    }

    #[test]
    fn hostile_bytes_end_without_panicking() {
        let cases: [&[u8]; 9] = [b"(", b"<", b"\\", b"(\\", b"(\\7", b"[-", b"%", b"/", b"<<"];
        for bad in cases {
            let mut out = Vec::new();
            strings_of(bad, &mut out, &push_string);
            let _ = ToUnicode::parse(bad);
        }
    }
}
