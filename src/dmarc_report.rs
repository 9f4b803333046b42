//! DMARC aggregate reports (RFC 7489 appendix C): reading a report file or attachment
//! (XML, gzip or zip), storing it, and the per-day, per-source summary the "Domain
//! reports" screen shows with plain-words warnings.
//!
//! Reports come from strangers: every input is bounded before it is parsed. A file over
//! [`MAX_FILE_BYTES`] is refused unread; decompression stops at [`MAX_XML_BYTES`]; a
//! document with a DTD (the only way to declare the entities of an "XML bomb") is
//! refused before the XML parser sees it; the parser is mail-auth's, which expands no
//! entity. A refused input stores nothing.
//!
//! Architecture invariant: a report is data about the domain, never an instruction; nothing
//! here changes what is sent or to whom.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use mail_auth::report::{ActionDisposition, Disposition, DmarcResult, Report};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use time::OffsetDateTime;

use crate::audit::{self, Kind};
use crate::error::{ErrorCode, UserError};
use crate::operators::{Role, Session};
use crate::store::{Store, Tx};

/// The largest report file or attachment read (compressed or not).
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// The largest XML document a compressed report may expand to.
pub const MAX_XML_BYTES: u64 = 20 * 1024 * 1024;
/// The most records one report may hold (a real one holds one per sending source).
pub const MAX_RECORDS: usize = 100_000;

/// Why a report was refused or not stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{0}")]
    Malformed(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the DMARC report could not be stored: {0}")]
    Database(String),
    /// The operator may not import (disabled, or no longer an operator).
    #[error("{0}")]
    Refused(UserError),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Malformed(_) => ErrorCode::InvalidInput,
            Error::Io { .. } => ErrorCode::Io,
            Error::Database(_) => ErrorCode::Database,
            Error::Refused(e) => e.code,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Database(e.to_string())
    }
}

impl From<Error> for UserError {
    fn from(e: Error) -> Self {
        UserError::new(e.code(), e.to_string())
    }
}

fn malformed(why: impl Into<String>) -> Error {
    Error::Malformed(why.into())
}

/// One report as imported and printed by `mergeguard dmarc-report import --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AggregateReport {
    /// The reporting organisation (`org_name`).
    pub org: String,
    pub report_id: String,
    /// The reporting period, unix seconds.
    pub begin: u64,
    pub end: u64,
    /// The domain the published policy is for.
    pub domain: String,
    /// The published `p=`: none, quarantine, reject or unspecified.
    pub policy: String,
    pub records: Vec<ReportRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRecord {
    pub source_ip: String,
    pub count: u32,
    /// What the receiver did: none, quarantine, reject (pass/unspecified as reported).
    pub disposition: String,
    /// DMARC's aligned DKIM and SPF results: pass, fail or unspecified.
    pub dkim: String,
    pub spf: String,
    /// The From domain of the messages counted (may differ from `domain` for subdomains).
    #[serde(skip)]
    pub header_from: String,
}

fn disposition_word(d: ActionDisposition) -> &'static str {
    match d {
        ActionDisposition::None => "none",
        ActionDisposition::Pass => "pass",
        ActionDisposition::Quarantine => "quarantine",
        ActionDisposition::Reject => "reject",
        ActionDisposition::Unspecified => "unspecified",
    }
}

fn policy_word(d: Disposition) -> &'static str {
    match d {
        Disposition::None => "none",
        Disposition::Quarantine => "quarantine",
        Disposition::Reject => "reject",
        Disposition::Unspecified => "unspecified",
    }
}

fn result_word(r: DmarcResult) -> &'static str {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail => "fail",
        DmarcResult::Unspecified => "unspecified",
    }
}

/// Reads at most `limit` bytes of `r`; more is an error naming `what`.
fn read_capped(r: impl Read, limit: u64, what: &str) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    r.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| malformed(format!("the {what} is damaged: {e}")))?;
    if buf.len() as u64 > limit {
        return Err(malformed(format!(
            "the {what} expands to more than {} MB; a DMARC report is never that large",
            limit / (1024 * 1024)
        )));
    }
    Ok(buf)
}

/// The XML of a report file's bytes: gzip and zip are recognised by their magic bytes
/// (not the file name), anything else must be XML.
pub fn report_xml(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(malformed(format!(
            "the file is larger than {} MB; a DMARC report is never that large",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        read_capped(
            flate2::read::GzDecoder::new(bytes),
            MAX_XML_BYTES,
            "gzip file",
        )
    } else if bytes.starts_with(b"PK") {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| malformed(format!("the zip file is damaged: {e}")))?;
        for i in 0..zip.len() {
            let entry = zip
                .by_index(i)
                .map_err(|e| malformed(format!("the zip file is damaged: {e}")))?;
            let is_xml = entry
                .name()
                .is_ok_and(|n| n.to_ascii_lowercase().ends_with(".xml"));
            if entry.is_dir() || !is_xml {
                continue;
            }
            if entry.size() > MAX_XML_BYTES {
                return Err(malformed(format!(
                    "the zip file's report expands to more than {} MB; a DMARC report is never that large",
                    MAX_XML_BYTES / (1024 * 1024)
                )));
            }
            // The declared size can lie: the read is capped as well.
            return read_capped(entry, MAX_XML_BYTES, "zip file");
        }
        Err(malformed("the zip file holds no .xml report"))
    } else {
        Ok(bytes.to_vec())
    }
}

/// Parses one report's XML, refusing any DTD first.
pub fn parse_xml(xml: &[u8]) -> Result<AggregateReport, Error> {
    // A DTD is the only place entities are declared; reports never carry one. Refusing it
    // outright closes the "billion laughs" expansion whatever the parser would do.
    if memchr::memmem::find(xml, b"<!DOCTYPE").is_some()
        || memchr::memmem::find(xml, b"<!ENTITY").is_some()
    {
        return Err(malformed(
            "the report declares a DTD or entities, which DMARC reports never do; it was not read",
        ));
    }
    let report = Report::parse_xml(xml).map_err(|e| {
        malformed(format!(
            "this is not a DMARC aggregate report: {}",
            e.chars().take(200).collect::<String>()
        ))
    })?;
    if report.records().len() > MAX_RECORDS {
        return Err(malformed(format!(
            "the report holds more than {MAX_RECORDS} records; it was not read"
        )));
    }
    if report.org_name().trim().is_empty() || report.report_id().trim().is_empty() {
        return Err(malformed(
            "the report names no organisation or report id (report_metadata)",
        ));
    }
    if report.domain().trim().is_empty() {
        return Err(malformed("the report names no domain (policy_published)"));
    }
    let records = report
        .records()
        .iter()
        .map(|r| ReportRecord {
            source_ip: r.source_ip().map(|ip| ip.to_string()).unwrap_or_default(),
            count: r.count(),
            disposition: disposition_word(r.action_disposition()).to_owned(),
            dkim: result_word(r.dmarc_dkim_result()).to_owned(),
            spf: result_word(r.dmarc_spf_result()).to_owned(),
            header_from: r.header_from().to_ascii_lowercase(),
        })
        .collect::<Vec<_>>();
    if records.iter().any(|r| r.source_ip.is_empty()) {
        return Err(malformed("a record of the report has no valid source_ip"));
    }
    Ok(AggregateReport {
        org: report.org_name().to_owned(),
        report_id: report.report_id().to_owned(),
        begin: report.date_range_begin(),
        end: report.date_range_end(),
        domain: report.domain().to_ascii_lowercase(),
        policy: policy_word(report.p()).to_owned(),
        records,
    })
}

/// A report file's bytes (xml, xml.gz or zip) to its report.
pub fn parse_file_bytes(bytes: &[u8]) -> Result<AggregateReport, Error> {
    parse_xml(&report_xml(bytes)?)
}

/// Reads a report file with the size cap (a larger file is not read at all).
pub fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    if f.metadata().map_err(io)?.len() > MAX_FILE_BYTES {
        return Err(malformed(format!(
            "{} is larger than {} MB; a DMARC report is never that large",
            path.display(),
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    let mut buf = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    Ok(buf)
}

/// Who imported: the command line or the mailbox sync.
pub const BY_FILE: &str = "dmarc-report";

/// Stores a parsed report in the caller's transaction. `false`: the same (org, report
/// id) was stored before, and nothing changed.
pub(crate) fn store_in(
    tx: &Tx<'_>,
    report: &AggregateReport,
    by: &str,
    now: OffsetDateTime,
) -> Result<bool, audit::Error> {
    let at = audit::format_time(now)?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO dmarc_reports
             (org, report_id, domain, begin_at, end_at, policy, imported_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            report.org,
            report.report_id,
            report.domain,
            report.begin as i64,
            report.end as i64,
            report.policy,
            at
        ],
    )?;
    if inserted == 0 {
        return Ok(false);
    }
    let id = tx.last_insert_rowid();
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO dmarc_records
                 (report, source_ip, count, disposition, dkim, spf, header_from)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for r in &report.records {
            stmt.execute(params![
                id,
                r.source_ip,
                r.count,
                r.disposition,
                r.dkim,
                r.spf,
                r.header_from
            ])?;
        }
    }
    audit::append_in(
        tx,
        now,
        by,
        Kind::DmarcReportImported,
        None,
        &serde_json::json!({
            "org": report.org,
            "report_id": report.report_id,
            "domain": report.domain,
            "records": report.records.len(),
        }),
    )?;
    Ok(true)
}

/// Parses a report file's bytes and stores it (once). Returns the report and whether it
/// was new. A refused file stores nothing.
pub fn import_bytes(
    store: &Store,
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<(AggregateReport, bool), Error> {
    let report = parse_file_bytes(bytes)?;
    let new = store_report(store, &report, now)?;
    Ok((report, new))
}

/// Stores an already parsed report (once). `false`: it was stored before.
pub fn store_report(
    store: &Store,
    report: &AggregateReport,
    now: OffsetDateTime,
) -> Result<bool, Error> {
    store
        .transaction(|tx| store_in(tx, report, BY_FILE, now))
        .map_err(|e| Error::Database(e.to_string()))
}

/// Stores parsed reports in one transaction (all or none), each once. Returns how many
/// were new. One commit for the lot: a commit costs a disk flush and a head-file write,
/// which for 1,000 files was 8 s of the 9.
pub fn store_reports(
    store: &Store,
    reports: &[AggregateReport],
    now: OffsetDateTime,
) -> Result<usize, Error> {
    store
        .transaction(|tx| {
            let mut new = 0;
            for r in reports {
                new += usize::from(store_in(tx, r, BY_FILE, now)?);
            }
            Ok::<_, audit::Error>(new)
        })
        .map_err(|e| Error::Database(e.to_string()))
}

/// Who may import report files: any operator. A report is data about the domain and
/// changes nothing that is sent; the window's import asks for a signed-in operator too.
pub const IMPORTERS: &[Role] = &[Role::Sender, Role::Approver, Role::Admin];

/// [`store_reports`] for a signed-in operator (`mergeguard dmarc-report import
/// --operator NAME`): they are re-checked (enabled, one of [`IMPORTERS`]) in the same
/// transaction, and each new report's log entry names them.
pub fn store_reports_by(
    store: &Store,
    by: &Session,
    reports: &[AggregateReport],
    now: OffsetDateTime,
) -> Result<usize, Error> {
    store.transaction(|tx| {
        crate::operators::authorize_in(tx, by, IMPORTERS).map_err(|e| {
            Error::Refused(UserError::new(
                e.code(),
                format!("{} cannot import DMARC reports: {e}", by.operator()),
            ))
        })?;
        let mut new = 0;
        for r in reports {
            new += usize::from(
                store_in(tx, r, by.operator(), now).map_err(|e| Error::Database(e.to_string()))?,
            );
        }
        Ok(new)
    })
}

/// Reads and parses every file, storing nothing: the first malformed one is the error,
/// with its path.
pub fn read_reports(paths: &[&Path]) -> Result<Vec<AggregateReport>, (std::path::PathBuf, Error)> {
    let mut reports = Vec::with_capacity(paths.len());
    for p in paths {
        let r = read_file(p)
            .and_then(|b| parse_file_bytes(&b))
            .map_err(|e| (p.to_path_buf(), e))?;
        reports.push(r);
    }
    Ok(reports)
}

/// Reads and parses every file, then stores them together: one malformed file (the
/// error names it) stores nothing. Returns the reports and how many were new.
pub fn import_files(
    store: &Store,
    paths: &[&Path],
    now: OffsetDateTime,
) -> Result<(Vec<AggregateReport>, usize), (Option<std::path::PathBuf>, Error)> {
    let reports = read_reports(paths).map_err(|(p, e)| (Some(p), e))?;
    let new = store_reports(store, &reports, now).map_err(|e| (None, e))?;
    Ok((reports, new))
}

/// [`import_bytes`] of a file.
pub fn import_file(
    store: &Store,
    path: &Path,
    now: OffsetDateTime,
) -> Result<(AggregateReport, bool), Error> {
    import_bytes(store, &read_file(path)?, now)
}

/// One sending source on one day, as the "Domain reports" screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceDay {
    /// UTC date of the report period's start, `YYYY-MM-DD`.
    pub day: String,
    pub domain: String,
    pub source_ip: String,
    /// The PTR name, when the caller looked it up.
    pub ptr: Option<String>,
    pub messages: u64,
    /// Shares of `messages`, 0.0 to 1.0.
    pub spf_pass: f64,
    pub dkim_pass: f64,
    pub dmarc_pass: f64,
    /// Plain-words warnings about this source, empty when all is well.
    pub warnings: Vec<String>,
    /// The same warnings as reason keys with their parameters, for the window's languages.
    pub why: Vec<crate::error::Reason>,
}

/// One sending source over the whole period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    pub domain: String,
    pub source_ip: String,
    pub ptr: Option<String>,
    pub messages: u64,
    pub spf_pass: f64,
    pub dkim_pass: f64,
    pub dmarc_pass: f64,
    pub warnings: Vec<String>,
    pub why: Vec<crate::error::Reason>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub reports: u64,
    pub days: Vec<SourceDay>,
    pub sources: Vec<Source>,
    /// Every distinct warning, most messages first.
    pub warnings: Vec<String>,
    /// The same, as reason keys with their parameters.
    pub why: Vec<crate::error::Reason>,
}

#[derive(Default, Clone, Copy)]
struct Tally {
    messages: u64,
    spf: u64,
    dkim: u64,
    dmarc: u64,
}

impl Tally {
    fn share(&self, n: u64) -> f64 {
        if self.messages == 0 {
            0.0
        } else {
            n as f64 / self.messages as f64
        }
    }
}

/// The plain-words warnings about one source's tally. `ours`: the caller knows this
/// address as one of its relays.
fn warnings_for(
    domain: &str,
    ip: &str,
    t: &Tally,
    ours: bool,
) -> Vec<(String, crate::error::Reason)> {
    use crate::error::Reason;
    let mut w = Vec::new();
    let failed_dmarc = t.messages - t.dmarc;
    let why = |key| Reason::new(key).with("domain", domain).with("ip", ip);
    if failed_dmarc > 0 && !ours && t.dkim == 0 {
        w.push((
            format!("Someone else is sending as {domain}: {ip} sent {failed_dmarc} messages that failed SPF and DKIM."),
            why("dmarc_someone_else").with("count", failed_dmarc),
        ));
    }
    if t.spf < t.messages && (ours || t.dkim > 0) {
        w.push((
            format!("Your relay is not in SPF: {ip} sends for {domain} (it signs with your DKIM key) but is not allowed by the SPF record."),
            why("dmarc_relay_not_in_spf"),
        ));
    }
    if ours && t.dkim < t.messages {
        w.push((
            format!("Your relay {ip} sent messages for {domain} without a valid DKIM signature."),
            why("dmarc_relay_unsigned"),
        ));
    }
    w
}

/// Summarises the stored reports whose period starts in `[from, until)` (unix seconds;
/// `None`: no bound), per day and per source. `relay_ips` are addresses the caller knows
/// as its own relays; `ptr` may name an address (a DNS lookup, or `|_| None`).
pub fn summarize(
    store: &Store,
    from: Option<i64>,
    until: Option<i64>,
    relay_ips: &[IpAddr],
    ptr: &dyn Fn(IpAddr) -> Option<String>,
) -> Result<Summary, UserError> {
    let db = |e: rusqlite::Error| {
        UserError::new(
            ErrorCode::Database,
            format!("the DMARC reports could not be read: {e}"),
        )
    };
    let conn = store.read();
    let from = from.unwrap_or(i64::MIN);
    let until = until.unwrap_or(i64::MAX);
    let reports: u64 = conn
        .query_row(
            "SELECT COUNT(*) FROM dmarc_reports WHERE begin_at >= ?1 AND begin_at < ?2",
            params![from, until],
            |r| r.get(0),
        )
        .map_err(db)?;
    let mut stmt = conn
        .prepare(
            "SELECT date(p.begin_at, 'unixepoch'), p.domain, r.source_ip, SUM(r.count),
                    SUM(CASE WHEN r.spf = 'pass' THEN r.count ELSE 0 END),
                    SUM(CASE WHEN r.dkim = 'pass' THEN r.count ELSE 0 END),
                    SUM(CASE WHEN r.spf = 'pass' OR r.dkim = 'pass' THEN r.count ELSE 0 END)
             FROM dmarc_records r JOIN dmarc_reports p ON p.id = r.report
             WHERE p.begin_at >= ?1 AND p.begin_at < ?2
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![from, until], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                Tally {
                    messages: r.get::<_, i64>(3)? as u64,
                    spf: r.get::<_, i64>(4)? as u64,
                    dkim: r.get::<_, i64>(5)? as u64,
                    dmarc: r.get::<_, i64>(6)? as u64,
                },
            ))
        })
        .map_err(db)?;
    let mut ptrs: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut name = |ip: &str| -> Option<String> {
        ptrs.entry(ip.to_owned())
            .or_insert_with(|| ip.parse().ok().and_then(ptr))
            .clone()
    };
    let ours = |ip: &str| ip.parse::<IpAddr>().is_ok_and(|a| relay_ips.contains(&a));
    let mut days = Vec::new();
    let mut totals: BTreeMap<(String, String), Tally> = BTreeMap::new();
    for row in rows {
        let (day, domain, ip, t) = row.map_err(db)?;
        let total = totals.entry((domain.clone(), ip.clone())).or_default();
        total.messages += t.messages;
        total.spf += t.spf;
        total.dkim += t.dkim;
        total.dmarc += t.dmarc;
        let (warnings, why) = warnings_for(&domain, &ip, &t, ours(&ip))
            .into_iter()
            .unzip();
        days.push(SourceDay {
            warnings,
            why,
            ptr: name(&ip),
            spf_pass: t.share(t.spf),
            dkim_pass: t.share(t.dkim),
            dmarc_pass: t.share(t.dmarc),
            messages: t.messages,
            day,
            domain,
            source_ip: ip,
        });
    }
    let mut sources: Vec<Source> = totals
        .into_iter()
        .map(|((domain, ip), t)| {
            let (warnings, why) = warnings_for(&domain, &ip, &t, ours(&ip))
                .into_iter()
                .unzip();
            Source {
                warnings,
                why,
                ptr: name(&ip),
                spf_pass: t.share(t.spf),
                dkim_pass: t.share(t.dkim),
                dmarc_pass: t.share(t.dmarc),
                messages: t.messages,
                domain,
                source_ip: ip,
            }
        })
        .collect();
    sources.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then(a.source_ip.cmp(&b.source_ip))
    });
    let mut warnings = Vec::new();
    let mut why = Vec::new();
    for s in &sources {
        for (w, r) in s.warnings.iter().zip(&s.why) {
            if !warnings.contains(w) {
                warnings.push(w.clone());
                why.push(r.clone());
            }
        }
    }
    Ok(Summary {
        reports,
        days,
        sources,
        warnings,
        why,
    })
}

/// The distinct source addresses of the stored records whose report period starts in
/// `[from, until)`: the sources [`summarize`] shows.
pub fn source_ips(
    store: &Store,
    from: Option<i64>,
    until: Option<i64>,
) -> Result<Vec<IpAddr>, UserError> {
    let db = |e: rusqlite::Error| {
        UserError::new(
            ErrorCode::Database,
            format!("the DMARC reports could not be read: {e}"),
        )
    };
    let conn = store.read();
    let mut stmt = conn
        .prepare(
            "SELECT DISTINCT r.source_ip FROM dmarc_records r JOIN dmarc_reports p ON p.id = r.report
             WHERE p.begin_at >= ?1 AND p.begin_at < ?2",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(
            params![from.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX)],
            |r| r.get::<_, String>(0),
        )
        .map_err(db)?;
    let mut ips = Vec::new();
    for ip in rows {
        if let Ok(ip) = ip.map_err(db)?.parse() {
            ips.push(ip);
        }
    }
    Ok(ips)
}

/// [`summarize`] with each source's PTR name looked up through `resolver`, bounded by
/// `limits` (a few lookups at a time, a short time each and for all: a slow or hostile
/// DNS server costs the screen at most `limits.total`, and no answer is no name). Names
/// are looked up once per call, only for the sources shown, and are text to show
/// ([`crate::preflight::dns::ptr_names`]); no warning depends on them.
pub async fn summarize_with_names(
    store: &Store,
    from: Option<i64>,
    until: Option<i64>,
    relay_ips: &[IpAddr],
    resolver: &crate::preflight::dns::Resolver,
    limits: &crate::preflight::dns::PtrLimits,
) -> Result<Summary, UserError> {
    let shown = source_ips(store, from, until)?;
    let names = crate::preflight::dns::ptr_names(resolver, &shown, limits).await;
    summarize(store, from, until, relay_ips, &|ip| names.get(&ip).cloned())
}

/// Whether a stored report exists (for tests and the sync's report).
pub fn is_stored(store: &Store, org: &str, report_id: &str) -> Result<bool, UserError> {
    store
        .read()
        .query_row(
            "SELECT 1 FROM dmarc_reports WHERE org = ?1 AND report_id = ?2",
            params![org, report_id],
            |_| Ok(()),
        )
        .optional()
        .map(|o| o.is_some())
        .map_err(|e| {
            UserError::new(
                ErrorCode::Database,
                format!("the DMARC reports could not be read: {e}"),
            )
        })
}
