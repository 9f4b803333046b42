//! Encoding: hash the raw bytes, read a bounded sample, pick the encoding, refuse binaries.
//!
//! Only the sample (at most [`SAMPLE_LEN`] bytes) is ever held whole; the rest of the
//! file streams through the decoder into the CSV reader, so memory stays bounded no
//! matter how large the file is.

use std::io::{self, Read};
use std::sync::mpsc;
use std::thread;

use encoding_rs::{Encoding, SHIFT_JIS, UTF_16BE, UTF_16LE, UTF_8};
use sha2::{Digest, Sha256};

use super::error::{Error, ErrorKind};
use super::EncodingChoice;

/// How many leading bytes detection looks at. Large enough for chardetng to see plenty of
/// Japanese text and for delimiter and column detection to see dozens of rows.
pub(crate) const SAMPLE_LEN: usize = 64 * 1024;

/// Bytes hashed on the reading thread before the rest moves to a worker: a small file
/// never starts one.
const INLINE_HASH: u64 = 256 * 1024;

/// A reader that feeds every byte it passes on into a SHA-256, so the fingerprint of the
/// source costs no second read of a possibly huge file.
///
/// Past [`INLINE_HASH`] bytes the hashing moves to a worker thread fed with copies of
/// the chunks (a bounded channel; buffers are handed back for reuse), so on two cores
/// it overlaps the parse instead of adding to it: a tenth of a large import.
pub(crate) struct HashReader<R> {
    inner: R,
    passed: u64,
    state: HashState,
}

enum HashState {
    Inline(Sha256),
    Worker(HashWorker),
}

struct HashWorker {
    full: mpsc::SyncSender<Vec<u8>>,
    empty: mpsc::Receiver<Vec<u8>>,
    thread: thread::JoinHandle<Sha256>,
}

impl HashWorker {
    /// Starts a worker that continues `hasher`; `None` if no thread can be started.
    fn start(hasher: &Sha256) -> Option<HashWorker> {
        let (full, chunks) = mpsc::sync_channel::<Vec<u8>>(4);
        let (give_back, empty) = mpsc::channel();
        let mut hasher = hasher.clone();
        let thread = thread::Builder::new()
            .name("import-sha256".into())
            .spawn(move || {
                for chunk in chunks {
                    hasher.update(&chunk);
                    // The reader may be done with buffers already; that is fine.
                    let _ = give_back.send(chunk);
                }
                hasher
            })
            .ok()?;
        Some(HashWorker {
            full,
            empty,
            thread,
        })
    }
}

fn worker_gone() -> io::Error {
    io::Error::other("the thread hashing the file stopped unexpectedly")
}

impl<R: Read> HashReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashReader {
            inner,
            passed: 0,
            state: HashState::Inline(Sha256::new()),
        }
    }

    /// Reads what is left (so the hash covers the whole input) and returns the hex digest.
    pub(crate) fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        let hasher = match self.state {
            HashState::Inline(hasher) => hasher,
            HashState::Worker(worker) => {
                drop(worker.full);
                worker.thread.join().map_err(|_| worker_gone())?
            }
        };
        Ok(hex::encode(hasher.finalize()))
    }

    fn hash(&mut self, chunk: &[u8]) -> io::Result<()> {
        if let HashState::Inline(hasher) = &self.state {
            if self.passed >= INLINE_HASH {
                if let Some(worker) = HashWorker::start(hasher) {
                    self.state = HashState::Worker(worker);
                }
            }
        }
        match &mut self.state {
            HashState::Inline(hasher) => hasher.update(chunk),
            HashState::Worker(worker) => {
                let mut buffer = worker.empty.try_recv().unwrap_or_default();
                buffer.clear();
                buffer.extend_from_slice(chunk);
                worker.full.send(buffer).map_err(|_| worker_gone())?;
            }
        }
        self.passed += chunk.len() as u64;
        Ok(())
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.hash(&buf[..n])?;
        }
        Ok(n)
    }
}

/// Reads up to [`SAMPLE_LEN`] bytes; shorter only at end of input.
pub(crate) fn read_sample<R: Read>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut sample = Vec::with_capacity(SAMPLE_LEN);
    reader.take(SAMPLE_LEN as u64).read_to_end(&mut sample)?;
    Ok(sample)
}

/// The encoding chosen for a file, and whether its bytes can go to the CSV reader as
/// they are (UTF-8) or must be decoded first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Detected {
    pub encoding: &'static Encoding,
    /// Length of a byte-order mark at the start of the sample, to skip (UTF-8 only; the
    /// decoder strips UTF-16 marks itself).
    pub bom_len: usize,
}

impl Detected {
    /// The name reported in [`super::RecipientList::encoding`].
    pub(crate) fn name(&self) -> String {
        if self.encoding == SHIFT_JIS {
            "shift_jis".into()
        } else {
            self.encoding.name().to_ascii_lowercase()
        }
    }

    pub(crate) fn is_utf8(&self) -> bool {
        self.encoding == UTF_8
    }
}

/// Picks the encoding: a byte-order mark wins, then the user's choice, then valid UTF-8,
/// then chardetng's guess over the sample.
pub(crate) fn detect_encoding(sample: &[u8], choice: EncodingChoice) -> Result<Detected, Error> {
    let bom = Encoding::for_bom(sample);
    if let Some((enc, len)) = bom {
        // A mark is stronger evidence than a menu choice, except that a user who forces
        // UTF-8 on a UTF-16 file should hear that it is not UTF-8 rather than get it
        // silently decoded; every other forced choice agrees with or yields to the mark.
        let forced_utf8_on_utf16 = choice == EncodingChoice::Utf8 && enc != UTF_8;
        if !forced_utf8_on_utf16 {
            let bom_len = if enc == UTF_8 { len } else { 0 };
            return Ok(Detected {
                encoding: enc,
                bom_len,
            });
        }
    }
    match choice {
        EncodingChoice::Utf8 => {
            refuse_magic(sample)?;
            return Ok(Detected {
                encoding: UTF_8,
                bom_len: 0,
            });
        }
        EncodingChoice::ShiftJis => {
            refuse_binary(sample, false)?;
            return Ok(Detected {
                encoding: SHIFT_JIS,
                bom_len: 0,
            });
        }
        // Excel's "Unicode text" always has a mark; without one, little-endian is what
        // Windows writes.
        EncodingChoice::Utf16 => {
            return Ok(Detected {
                encoding: UTF_16LE,
                bom_len: 0,
            })
        }
        EncodingChoice::Auto => {}
    }
    refuse_binary(sample, true)?;
    if is_utf8_prefix(sample) {
        return Ok(Detected {
            encoding: UTF_8,
            bom_len: 0,
        });
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(sample, sample.len() < SAMPLE_LEN);
    let guess = detector.guess(None, chardetng::Utf8Detection::Allow);
    // A UTF-16 guess without a mark cannot happen here (NUL bytes were refused), but a
    // decoder for it would turn text into nonsense, so never take one from a guess.
    let encoding = if guess == UTF_16LE || guess == UTF_16BE {
        SHIFT_JIS
    } else {
        guess
    };
    let detected = Detected {
        encoding,
        bom_len: 0,
    };
    refuse_control_text(sample, &detected)?;
    Ok(detected)
}

/// True if `sample` is UTF-8, allowing a character cut in half at the sample's end.
fn is_utf8_prefix(sample: &[u8]) -> bool {
    match std::str::from_utf8(sample) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && sample.len() >= SAMPLE_LEN,
    }
}

/// Refuses binary formats, and any sample with NUL
/// bytes (text in a single-byte or multi-byte encoding never has one; UTF-16 without a
/// mark is not supported by detection, and the message says how to choose it).
fn refuse_binary(sample: &[u8], auto: bool) -> Result<(), Error> {
    refuse_magic(sample)?;
    if let Some(pos) = sample.iter().position(|&b| b == 0) {
        let line = 1 + sample[..pos].iter().filter(|&&b| b == b'\n').count() as u64;
        if auto && pos < 4 && line == 1 {
            // Leading NULs are the signature of UTF-16 without a byte-order mark.
            return Err(ErrorKind::Binary {
                what: "NUL bytes at the start; if it is UTF-16 text, choose utf-16".into(),
            }
            .into());
        }
        return Err(ErrorKind::NulByte { line }.into());
    }
    Ok(())
}

/// Refuses well-known binary formats by their magic numbers, naming what the file is.
fn refuse_magic(sample: &[u8]) -> Result<(), Error> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG", "a PNG picture"),
        (b"\xFF\xD8\xFF", "a JPEG picture"),
        (b"GIF8", "a GIF picture"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook"),
        (
            b"\xD0\xCF\x11\xE0",
            "an Excel .xls workbook or another Office file",
        ),
        (b"\x1F\x8B", "a gzip archive"),
        (b"\x7FELF", "a program"),
        (b"MZ", "a Windows program"),
    ];
    for (magic, what) in MAGIC {
        if sample.starts_with(magic) {
            return Err(ErrorKind::Binary {
                what: (*what).into(),
            }
            .into());
        }
    }
    Ok(())
}

/// Text from a guessed legacy encoding that decodes to many control characters is a
/// binary file that merely has no NUL in its first bytes.
fn refuse_control_text(sample: &[u8], detected: &Detected) -> Result<(), Error> {
    let (text, _) = detected.encoding.decode_without_bom_handling(sample);
    let mut chars = 0usize;
    let mut odd = 0usize;
    for c in text.chars() {
        chars += 1;
        if (c.is_control() && !matches!(c, '\t' | '\r' | '\n' | '\x0C')) || c == '\u{FFFD}' {
            odd += 1;
        }
    }
    // Real exports have essentially none; 2% leaves room for a stray mis-decoded byte.
    if chars > 0 && odd * 50 > chars {
        return Err(ErrorKind::Binary {
            what: "it holds control characters that no text encoding explains".into(),
        }
        .into());
    }
    Ok(())
}

/// The sample as text, for delimiter and column detection only (a character cut at the
/// sample's end, or a bad byte, becomes U+FFFD; the real decode reports those properly).
pub(crate) fn sample_text(sample: &[u8], detected: &Detected) -> String {
    if detected.encoding == UTF_16LE || detected.encoding == UTF_16BE {
        // Let the decoder find and strip the mark itself, as the stream decoder will.
        let (text, _, _) = detected.encoding.decode(sample);
        return text.into_owned();
    }
    let body = &sample[detected.bom_len..];
    let (text, _) = detected.encoding.decode_without_bom_handling(body);
    text.into_owned()
}
