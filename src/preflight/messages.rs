//! The message-level checklist: parses every built message once with a real MIME
//! parser and runs the addressing, attachment, merge and content checks over it.
//!
//! Work is linear in the size of the messages: each message is parsed once, each
//! distinct attachment (by SHA-256) is scanned once for the whole campaign, and
//! addresses are looked up in a hash map. Up to two threads share the messages.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use mail_parser::{MessageParser, PartType};
use sha2::{Digest, Sha256};

use super::addressing::{self, AddressBook, Sightings};
use super::attachments::{self, AttachmentScan, ScanLimits};
use super::{content, merge, Check, Status};
use crate::compose::{BuiltMessage, RenderError};
use crate::recipients::RecipientList;

/// Everything the message checks need.
pub struct MessageCheckInput<'a> {
    pub messages: &'a [BuiltMessage],
    /// Rows whose message could not be built, with why.
    pub render_errors: &'a [(u64, RenderError)],
    pub list: &'a RecipientList,
    /// The domain whose SPF/DKIM/DMARC were checked; `From` must use it. `None` when the
    /// domain checks have not run (then `content.from_domain` warns).
    pub authenticated_domain: Option<&'a str>,
    /// The relay's announced SIZE limit in bytes, if it announced one.
    pub size_limit: Option<u64>,
    pub scan_limits: ScanLimits,
    /// More distinct addresses than this in one attachment fails `attachments.address_list`.
    pub max_addresses_per_attachment: usize,
}

impl<'a> MessageCheckInput<'a> {
    /// Input with default limits, no size limit and no authenticated domain.
    pub fn new(
        messages: &'a [BuiltMessage],
        render_errors: &'a [(u64, RenderError)],
        list: &'a RecipientList,
    ) -> Self {
        MessageCheckInput {
            messages,
            render_errors,
            list,
            authenticated_domain: None,
            size_limit: None,
            scan_limits: ScanLimits::default(),
            max_addresses_per_attachment: attachments::DEFAULT_MAX_ADDRESSES,
        }
    }
}

/// Runs every message-level check; one [`Check`] per check id, in a fixed order.
pub fn check_messages(input: &MessageCheckInput<'_>) -> Vec<Check> {
    check_messages_with_progress(input, &|_, _| {})
}

/// Like [`check_messages`], calling `progress(done, total)` every few hundred messages
/// and once at the end (always from the calling thread).
pub fn check_messages_with_progress(
    input: &MessageCheckInput<'_>,
    progress: &dyn Fn(usize, usize),
) -> Vec<Check> {
    let total = input.messages.len();
    let mut checker = MessageChecker::new(input);
    progress(0, total);
    checker.check(input.messages, total, progress);
    progress(total, total);
    checker.finish(input.render_errors)
}

/// The message checks over messages handed in chunks, so a large campaign never has to
/// be in memory at once. `input.messages` and `input.render_errors` are ignored: the
/// chunks come through [`MessageChecker::check`] and the rows that could not be built
/// through [`MessageChecker::finish`].
pub struct MessageChecker<'a, 'b> {
    ctx: Context<'a, 'b>,
    findings: Findings,
    /// Rows whose message was checked.
    built: HashSet<u64>,
    done: AtomicUsize,
    /// Bytes of the largest message checked.
    largest: usize,
}

impl<'a, 'b> MessageChecker<'a, 'b> {
    pub fn new(input: &'b MessageCheckInput<'a>) -> Self {
        MessageChecker {
            ctx: Context {
                input,
                book: AddressBook::new(input.list),
                cache: Mutex::new(HashMap::new()),
            },
            findings: Findings::default(),
            built: HashSet::new(),
            done: AtomicUsize::new(0),
            largest: 0,
        }
    }

    /// Checks one chunk; `total` is the number of messages over all chunks (for
    /// `progress`).
    pub fn check(
        &mut self,
        messages: &[BuiltMessage],
        total: usize,
        progress: &dyn Fn(usize, usize),
    ) {
        self.built.extend(messages.iter().map(|m| m.row));
        let largest = messages.iter().map(|m| m.raw.len()).max().unwrap_or(0);
        self.largest = self.largest.max(largest);
        let threads = if messages.len() >= 2_000 {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(2)
        } else {
            1
        };
        let ctx = &self.ctx;
        let done = &self.done;
        let findings = if threads > 1 {
            let mid = messages.len() / 2;
            let (first, second) = messages.split_at(mid);
            std::thread::scope(|s| {
                let worker = s.spawn(move || ctx.run(second, done, None));
                // The calling thread takes the first half and reports progress, so the
                // callback never has to be `Sync`.
                let mut mine = ctx.run(first, done, Some((progress, total)));
                let theirs = worker.join().unwrap_or_else(|_| {
                    let mut f = Findings::default();
                    f.add(
                        addressing::SINGLE_TO,
                        Status::Fail,
                        0,
                        "internal error: a check thread stopped".to_string(),
                    );
                    f
                });
                mine.merge(theirs);
                mine
            })
        } else {
            ctx.run(messages, done, Some((progress, total)))
        };
        self.findings.merge(findings);
    }

    /// The verdicts over every chunk checked, one [`Check`] per check id in a fixed order.
    pub fn finish(self, render_errors: &[(u64, RenderError)]) -> Vec<Check> {
        let MessageChecker {
            ctx,
            mut findings,
            built,
            done,
            largest,
        } = self;
        let total = done.into_inner();
        let input = ctx.input;
        merge::inspect_renders(input.list, render_errors, &built, &mut findings);
        let scans: Vec<Arc<AttachmentScan>> = ctx
            .cache
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_values()
            .filter_map(|c| c.get().cloned())
            .collect();

        let mut checks = addressing::verdicts(&findings, total);
        checks.push(addressing::lookalike_verdict(input.list));
        checks.extend(attachments::verdicts(
            &findings,
            &scans,
            input.max_addresses_per_attachment,
        ));
        checks.extend(merge::verdicts(
            &findings,
            input.list.recipients.len(),
            total,
        ));
        checks.extend(content::verdicts(&findings, input, total, largest));
        checks
    }
}

type ScanCache = Mutex<HashMap<[u8; 32], Arc<OnceLock<Arc<AttachmentScan>>>>>;

struct Context<'a, 'b> {
    input: &'b MessageCheckInput<'a>,
    book: AddressBook,
    cache: ScanCache,
}

/// Where one thread reports progress: the callback and the total over all chunks.
type ProgressSink<'p> = (&'p dyn Fn(usize, usize), usize);

impl Context<'_, '_> {
    fn run(
        &self,
        messages: &[BuiltMessage],
        done: &AtomicUsize,
        progress: Option<ProgressSink<'_>>,
    ) -> Findings {
        let mut findings = Findings::default();
        let parser = MessageParser::default();
        for (i, msg) in messages.iter().enumerate() {
            self.inspect(&parser, msg, &mut findings);
            if (i + 1) % 256 == 0 {
                let d = done.fetch_add(256, Ordering::Relaxed) + 256;
                if let Some((p, total)) = progress {
                    p(d.min(total), total);
                }
            }
        }
        done.fetch_add(messages.len() % 256, Ordering::Relaxed);
        findings
    }

    fn scan(&self, name: &str, bytes: &[u8]) -> Arc<AttachmentScan> {
        let key: [u8; 32] = Sha256::digest(bytes).into();
        let cell = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.entry(key).or_default().clone()
        };
        cell.get_or_init(|| {
            Arc::new(attachments::scan_attachment(
                name,
                bytes,
                &key,
                &self.book,
                &self.input.scan_limits,
            ))
        })
        .clone()
    }

    fn inspect(&self, parser: &MessageParser, msg: &BuiltMessage, findings: &mut Findings) {
        let row = msg.row;
        let Some(parsed) = parser.parse(&msg.raw) else {
            findings.add(
                addressing::SINGLE_TO,
                Status::Fail,
                row,
                format!("row {row}: the built message could not be read as an e-mail"),
            );
            return;
        };
        let own = self.book.email_of(row);
        let mut ignore = addressing::sender_addresses(msg, &parsed);
        if let Some(own) = own {
            ignore.push(own.to_string());
        }
        let mut sightings = Sightings::new(&self.book, ignore);
        addressing::inspect(msg, &parsed, &self.book, &mut sightings, findings);

        for part in parsed.attachments() {
            let name = part_name(part);
            let bytes = attachments::part_bytes(&msg.raw, part);
            let bytes: &[u8] = match &bytes {
                Some(b) => b,
                None => part.contents(),
            };
            if matches!(part.body, PartType::Multipart(_)) {
                continue;
            }
            let scan = self.scan(&name, bytes);
            let place = format!("attachment \"{name}\"");
            for &r in &scan.campaign_rows {
                if let Some(addr) = self.book.email_of(r) {
                    sightings.add(r, addr, &place);
                }
            }
            attachments::inspect(
                row,
                own.and_then(|o| self.book.row_of(o)),
                &name,
                &scan,
                self.input,
                findings,
            );
        }
        addressing::record_sightings(row, own, &sightings.found, findings);
        merge::inspect(msg, &parsed, findings);
        content::inspect(msg, &parsed, self.input, findings);
    }
}

fn part_name(part: &mail_parser::MessagePart<'_>) -> String {
    use mail_parser::MimeHeaders;
    part.attachment_name()
        .map(str::to_string)
        .unwrap_or_else(|| "(unnamed)".to_string())
}

/// What one check id saw over all messages: the worst status, how many findings and
/// the first few in message order.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    pub status: Status,
    pub count: usize,
    pub samples: Vec<String>,
    pub rows: HashSet<u64>,
}

const SAMPLES: usize = 5;

/// Findings of one run, keyed by check id.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    tallies: BTreeMap<&'static str, Tally>,
}

impl Findings {
    pub(crate) fn add(&mut self, id: &'static str, status: Status, row: u64, sample: String) {
        let t = self.tallies.entry(id).or_insert_with(|| Tally {
            status,
            count: 0,
            samples: Vec::new(),
            rows: HashSet::new(),
        });
        t.status = t.status.min(status);
        t.count += 1;
        t.rows.insert(row);
        if t.samples.len() < SAMPLES {
            t.samples.push(sample);
        }
    }

    /// Appends `other` (the findings of later messages).
    fn merge(&mut self, other: Findings) {
        for (id, o) in other.tallies {
            match self.tallies.get_mut(id) {
                None => {
                    self.tallies.insert(id, o);
                }
                Some(t) => {
                    t.status = t.status.min(o.status);
                    t.count += o.count;
                    t.rows.extend(o.rows);
                    let room = SAMPLES.saturating_sub(t.samples.len());
                    t.samples.extend(o.samples.into_iter().take(room));
                }
            }
        }
    }

    /// Pass with `pass_detail` when nothing was found, otherwise the worst status with
    /// the count and first findings.
    pub(crate) fn verdict(&self, id: &'static str, pass_detail: String, fix: &str) -> Check {
        match self.tallies.get(id) {
            None => Check::pass(id, pass_detail),
            Some(t) => {
                let detail = describe(t);
                if t.status == Status::Fail {
                    Check::fail(id, detail, fix)
                } else {
                    Check::warning(id, detail, fix)
                }
            }
        }
    }
}

/// "N messages: first; second; … and M more."
pub(crate) fn describe(t: &Tally) -> String {
    let n = t.rows.len().max(1);
    let what = if n == 1 {
        "1 message".to_string()
    } else {
        format!("{n} messages")
    };
    let more = t.count.saturating_sub(t.samples.len());
    let tail = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    format!("{what}: {}{tail}.", t.samples.join("; "))
}
