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

    fn scan(&mut self, bytes: &[u8]) {
        let delim = self.delimiter;
        // Bytes that can change the state or must be noted; everything else only moves a
        // field to Unquoted (or stays Quoted), so the loop skips them with one table load.
        let mut special = [false; 256];
        for b in [b'"', b'\n', b'\r', delim, 0] {
            special[usize::from(b)] = true;
        }
        let mut state = self.state;
        let mut line = self.line;
        // Where the current record started inside `bytes`, if it started in this chunk.
        let mut reset_at: Option<usize> = None;
        let mut i = 0;
        while i < bytes.len() {
            // Skip a run of ordinary bytes in a tight loop; the run only matters as "the
            // field has started" when not inside quotes.
            let start = i;
            while i < bytes.len() && !special[usize::from(bytes[i])] {
                i += 1;
            }
            if i > start && state != State::Quoted {
                state = State::Unquoted;
            }
            let Some(&b) = bytes.get(i) else { break };
            i += 1;
            state = match (state, b) {
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::Quoted, _) => State::Quoted,
                (State::FieldStart, b'"') => {
                    self.open_line = line;
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
                    reset_at = Some(i);
                }
            } else if b == 0 && self.nul_line.is_none() {
                self.nul_line = Some(line);
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

    #[test]
    fn nul_line_is_recorded() {
        assert_eq!(track("a\nb\0\n").nul_line(), Some(2));
    }
}
