//! A pass-through reader that follows CSV quoting, to name the line of a quote that is
//! never closed, and the line of any NUL byte.
//!
//! The csv crate reads an unterminated quoted field silently to the end of the input,
//! so without this the user would see one giant last row instead of an error. The state
//! machine mirrors csv-core's (RFC 4180 with doubled quotes): a quote opens a field only
//! at the field's start; inside, `""` is a literal quote.

use std::io::{self, Read};

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

    fn scan(&mut self, bytes: &[u8]) {
        let delim = self.delimiter;
        let mut state = self.state;
        let mut line = self.line;
        for &b in bytes {
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
            } else if b == 0 && self.nul_line.is_none() {
                self.nul_line = Some(line);
            }
        }
        self.state = state;
        self.line = line;
    }
}

impl<R: Read> Read for QuoteTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.scan(&buf[..n]);
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
    fn nul_line_is_recorded() {
        assert_eq!(track("a\nb\0\n").nul_line(), Some(2));
    }
}
