//! `mergeguard preview --campaign FILE`: build every personalised message (or one row)
//! exactly as it will be sent and print it, as JSON or as a readable listing.
//!
//! JSON: without `--row`, an array with one object per recipient in list order; with
//! `--row N`, that one object. Each object is `{"row","to","envelope_to","subject","raw"}`
//! or `{"row","error":{"code","message"}}`.

use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use mergeguard::campaign::Campaign;
use mergeguard::compose::{self, BuiltMessage, Composer, Draft, RenderError};
use mergeguard::error::ErrorCode;
use mergeguard::preflight::campaign::import_campaign_recipients;

#[derive(Args, Debug)]
pub struct PreviewArgs {
    /// The campaign file (TOML).
    #[arg(long)]
    pub campaign: PathBuf,
    /// Only the recipient on this row (1-based, the header is row 1).
    #[arg(long)]
    pub row: Option<u64>,
    /// Print JSON instead of a readable listing.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
#[serde(untagged)]
enum PreviewJson<'a> {
    Message {
        row: u64,
        to: &'a str,
        envelope_to: &'a [String],
        subject: &'a str,
        raw: String,
    },
    Error {
        row: u64,
        error: ErrorJson<'a>,
    },
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    code: ErrorCode,
    message: &'a str,
}

fn to_json(outcome: &Result<BuiltMessage, (u64, RenderError)>) -> PreviewJson<'_> {
    match outcome {
        Ok(m) => PreviewJson::Message {
            row: m.row,
            to: &m.to,
            envelope_to: &m.envelope_to,
            subject: &m.subject,
            // lettre only emits ASCII (non-ASCII is RFC 2047 / transfer encoded), so
            // this is lossless.
            raw: String::from_utf8_lossy(&m.raw).into_owned(),
        },
        Err((row, e)) => PreviewJson::Error {
            row: *row,
            error: ErrorJson {
                code: e.code,
                message: &e.message,
            },
        },
    }
}

pub fn run(args: PreviewArgs) -> ExitCode {
    let campaign = match Campaign::load(&args.campaign) {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let file = campaign.resolve(&campaign.recipients.file);
    let list = match import_campaign_recipients(&campaign, None) {
        Ok(l) => l,
        // A bad [recipients] setting is the campaign file's fault: name that file.
        Err(e) if e.code == ErrorCode::InvalidCampaign => {
            return super::fail(format_args!("{}: {e}", args.campaign.display()))
        }
        Err(e) => return super::fail(e),
    };
    let composer = match Draft::from_campaign(&campaign).and_then(Composer::new) {
        // The CLI is the adapter that owns the clock: the preview shows today's date.
        Ok(c) => c.with_date(SystemTime::now()),
        Err(e) => return super::fail(e),
    };

    let outcomes: Vec<Result<BuiltMessage, (u64, RenderError)>> = match args.row {
        Some(n) => match list.recipients.iter().find(|r| r.row == n) {
            Some(r) => vec![composer.render(&list, r).map_err(|e| (r.row, e))],
            None => {
                let why = match list.rejected.iter().find(|r| r.row == n) {
                    Some(rej) => format!("row {n} is not a recipient: {}", rej.detail),
                    None => format!("row {n} is not in {}", file.display()),
                };
                return super::fail(why);
            }
        },
        None => compose::render_all(&composer, &list),
    };
    let failed = outcomes.iter().any(Result::is_err);

    let code = if args.json {
        match args.row {
            Some(_) => super::print_json(&to_json(&outcomes[0])),
            None => super::print_json(&outcomes.iter().map(to_json).collect::<Vec<_>>()),
        }
    } else {
        print_listing(&outcomes, args.row.is_some(), list.rejected.len());
        ExitCode::SUCCESS
    };
    if failed {
        ExitCode::from(super::EXIT_PARTIAL)
    } else {
        code
    }
}

fn print_listing(
    outcomes: &[Result<BuiltMessage, (u64, RenderError)>],
    with_raw: bool,
    rejected: usize,
) {
    let mut ok = 0;
    for o in outcomes {
        match o {
            Ok(m) => {
                ok += 1;
                println!("row {}  To: {}  Subject: {}", m.row, m.to, m.subject);
                if with_raw {
                    println!();
                    println!("{}", String::from_utf8_lossy(&m.raw));
                }
            }
            Err((row, e)) => println!("row {row}  cannot be built: {}", e.message),
        }
    }
    if !with_raw {
        println!(
            "{ok} messages built, {} failed, {rejected} rows rejected at import",
            outcomes.len() - ok
        );
    }
}
