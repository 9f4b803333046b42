//! A pass-through reader that follows CSV quoting, to name the line of a quote that is
//! never closed, and the line of any NUL byte.
//!
//! The csv crate reads an unterminated quoted field silently to the end of the input,
//! so without this the user would see one giant last row instead of an error. The state
//! machine mirrors csv-core's (RFC 4180 with doubled quotes): a quote opens a field only
//! at the field's start; inside, `""` is a literal quote.
//!
//! It also bounds memory: csv buffers one whole record, so a record longer than
//! [`MAX_RECORD`] (a runaway quote, or a binary file with no line breaks) stops the read
//! instead of growing without limit.

use std::io::{self, Read};

/// The longest record accepted. A recipient row is a few hundred bytes; 1 MiB is far
/// beyond any real one and small enough to keep a 1 GB broken file from filling memory.
pub(crate) const MAX_RECORD: u64 = 1024 * 1024;

/// Why the tracker stopped the read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runaway {
    /// A quoted field opened on this line runs on past [`MAX_RECORD`].
    Quote(u64),
    /// The record starting on this line is longer than [`MAX_RECORD`] without quotes.
    Line(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// Just saw a quote inside a quoted field: either the close or the first of `""`.
    QuoteInQuoted,
}

pub(crate) struct QuoteTracker<R> {
    inner: R,
    delimiter: u8,
    state: State,
    line: u64,
    open_line: u64,
    nul_line: Option<u64>,
    /// Bytes since the last line break outside quotes: the length of the current record.
    run: u64,
    runaway: Option<Runaway>,
}

impl<R: Read> QuoteTracker<R> {
    pub(crate) fn new(inner: R, delimiter: u8) -> Self {
        QuoteTracker {
            inner,
            delimiter,
            state: State::FieldStart,
            line: 1,
            open_line: 0,
            nul_line: None,
            run: 0,
            runaway: None,
        }
    }

    /// The line of the first NUL byte seen so far.
    pub(crate) fn nul_line(&self) -> Option<u64> {
        self.nul_line
    }

    /// After the whole input was read: the line where a still-open quote began.
    pub(crate) fn unterminated_quote(&self) -> Option<u64> {
        (self.state == State::Quoted).then_some(self.open_line)
    }

    /// Set when the read was stopped because a record grew past [`MAX_RECORD`].
    pub(crate) fn runaway(&self) -> Option<Runaway> {
        self.runaway
    }

    /// Follows the quoting through one chunk.
    ///
    /// Only a quote can open or close a quoted field, so the scan jumps from quote to
    /// quote with memchr instead of looking at every byte; the state at a quote outside a
    /// quoted field depends only on the byte before it. Lines are counted with memchr
    /// too, up to each opening quote and the chunk's end. A byte-at-a-time version of
    /// the same machine is kept in the tests and the two are compared on random input.
    fn scan(&mut self, bytes: &[u8]) {
        let delim = self.delimiter;
        let starts_field = |b: u8| b == b'\n' || b == b'\r' || b == delim;
        let start_line = self.line;
        // Lines are counted lazily: `line` is the line at byte `counted`.
        let mut counted = 0;
        let mut line = self.line;
        let line_at = |to: usize, counted: &mut usize, line: &mut u64| {
            *line += memchr::memchr_iter(b'\n', &bytes[*counted..to]).count() as u64;
            *counted = to;
            *line
        };
        // Where the current record started inside `bytes`: after the last line break
        // outside quotes, if the chunk has one.
        let mut reset_at: Option<usize> = None;
        let note_breaks = |from: usize, to: usize, reset_at: &mut Option<usize>| {
            if let Some(p) = memchr::memrchr(b'\n', &bytes[from..to]) {
                *reset_at = Some(from + p + 1);
            }
        };
        let mut state = self.state;
        let mut pos = 0;
        while pos < bytes.len() {
            match state {
                State::Quoted => match memchr::memchr(b'"', &bytes[pos..]) {
                    Some(q) => {
                        state = State::QuoteInQuoted;
                        pos += q + 1;
                    }
                    None => pos = bytes.len(),
                },
                State::QuoteInQuoted => {
                    let b = bytes[pos];
                    state = if b == b'"' {
                        State::Quoted
                    } else if starts_field(b) {
                        State::FieldStart
                    } else {
                        State::Unquoted
                    };
                    if b == b'\n' {
                        reset_at = Some(pos + 1);
                    }
                    pos += 1;
                }
                State::FieldStart | State::Unquoted => {
                    let (end, quote) = match memchr::memchr(b'"', &bytes[pos..]) {
                        Some(q) => (pos + q, true),
                        None => (bytes.len(), false),
                    };
                    note_breaks(pos, end, &mut reset_at);
                    if end > pos {
                        state = if starts_field(bytes[end - 1]) {
                            State::FieldStart
                        } else {
                            State::Unquoted
                        };
                    }
                    pos = end;
                    if quote {
                        if state == State::FieldStart {
                            self.open_line = line_at(end, &mut counted, &mut line);
                            state = State::Quoted;
                        } else {
                            state = State::Unquoted;
                        }
                        pos += 1;
                    }
                }
            }
        }
        let line = line_at(bytes.len(), &mut counted, &mut line);
        if self.nul_line.is_none() {
            if let Some(p) = memchr::memchr(0, bytes) {
                let before = memchr::memchr_iter(b'\n', &bytes[..p]).count() as u64;
                self.nul_line = Some(start_line + before);
            }
        }
        self.run = match reset_at {
            Some(p) => (bytes.len() - p) as u64,
            None => self.run + bytes.len() as u64,
        };
        self.state = state;
        self.line = line;
    }
}

impl<R: Read> Read for QuoteTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.scan(&buf[..n]);
        if self.run > MAX_RECORD {
            self.runaway = Some(if self.state == State::Quoted {
                Runaway::Quote(self.open_line)
            } else {
                Runaway::Line(self.line)
            });
            return Err(io::Error::other("record longer than the limit"));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(text: &str) -> QuoteTracker<&[u8]> {
        let mut t = QuoteTracker::new(text.as_bytes(), b',');
        io::copy(&mut t, &mut io::sink()).unwrap();
        t
    }

    #[test]
    fn closed_and_doubled_quotes_are_fine() {
        assert_eq!(track("a,\"b,\"\"c\"\"\nd\"\n").unterminated_quote(), None);
        assert_eq!(track("a,b\"c\n").unterminated_quote(), None);
        assert_eq!(track("\"a\"x,b\n").unterminated_quote(), None);
    }

    #[test]
    fn open_quote_reports_its_line() {
        assert_eq!(
            track("h1,h2\nx,y\n\"open,z\nmore\n").unterminated_quote(),
            Some(3)
        );
    }

    #[test]
    fn runaway_quote_stops_the_read() {
        let mut text = String::from("a,b\n\"open\n");
        text.push_str(&"x\n".repeat(MAX_RECORD as usize));
        let mut t = QuoteTracker::new(text.as_bytes(), b',');
        assert!(io::copy(&mut t, &mut io::sink()).is_err());
        assert_eq!(t.runaway(), Some(Runaway::Quote(2)));
    }

    /// The byte-at-a-time machine `scan` replaced: the oracle for the fast one.
    fn reference_scan<R>(t: &mut QuoteTracker<R>, bytes: &[u8]) {
        let delim = t.delimiter;
        let mut state = t.state;
        let mut line = t.line;
        let mut reset_at: Option<usize> = None;
        for (i, &b) in bytes.iter().enumerate() {
            state = match (state, b) {
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::Quoted, _) => State::Quoted,
                (State::FieldStart, b'"') => {
                    t.open_line = line;
                    State::Quoted
                }
                (State::QuoteInQuoted, b'"') => State::Quoted,
                (_, b'\n' | b'\r') => State::FieldStart,
                (_, d) if d == delim => State::FieldStart,
                _ => State::Unquoted,
            };
            if b == b'\n' {
                line += 1;
                if state != State::Quoted {
                    reset_at = Some(i + 1);
                }
            } else if b == 0 && t.nul_line.is_none() {
                t.nul_line = Some(line);
            }
        }
        t.run = match reset_at {
            Some(p) => (bytes.len() - p) as u64,
            None => t.run + bytes.len() as u64,
        };
        t.state = state;
        t.line = line;
    }

    #[test]
    fn fast_scan_matches_the_byte_at_a_time_machine() {
        // xorshift: deterministic, no dependency.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        const ALPHABET: &[u8] = b"\"\"\"\n\n\r,;\tax \xE3\x81\x82\0";
        for case in 0..3000 {
            let len = (next() % 200) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            let delimiter = [b',', b';', b'\t'][case % 3];
            let mut fast = QuoteTracker::new(&b""[..], delimiter);
            let mut slow = QuoteTracker::new(&b""[..], delimiter);
            let mut rest = &text[..];
            while !rest.is_empty() {
                let take = 1 + (next() % rest.len() as u64) as usize;
                let (chunk, tail) = rest.split_at(take);
                fast.scan(chunk);
                reference_scan(&mut slow, chunk);
                let seen =
                    |t: &QuoteTracker<&[u8]>| (t.state, t.line, t.open_line, t.nul_line, t.run);
                assert_eq!(
                    seen(&fast),
                    seen(&slow),
                    "input {:?}",
                    String::from_utf8_lossy(&text)
                );
                rest = tail;
            }
        }
    }

    #[test]
    fn nul_line_is_recorded() {
        assert_eq!(track("a\nb\0\n").nul_line(), Some(2));
    }
}
