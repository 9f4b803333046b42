//! `content.spamassassin`: SpamAssassin as an independent judge of the built messages.
//! It scores one sample (the first built message) with local rules only (`-L`: no DNS
//! blocklists, no Razor/Pyzor, no network), bayes and auto-learning off, so the result
//! depends only on the message and the installed rules (Debian ships them in
//! `/usr/share/spamassassin`; `sa-update` is never needed).
//!
//! Optional: it runs only when the `spamassassin` program is found (on `PATH`, or the
//! path in `MERGEGUARD_SPAMASSASSIN`; `MERGEGUARD_SPAMASSASSIN=off` turns it off) and is
//! otherwise skipped with that reason. One message costs about a second and a half of
//! Perl start-up, whatever the number of recipients, and runs on its own thread beside
//! the other checks ([`Pending`]).
//!
//! Architecture invariant: MergeGuard's own checks never depend on this one; it only
//! reports what SpamAssassin said, with the score and every rule hit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Check;

/// The check id.
pub const ID: &str = "content.spamassassin";
/// Every check id of this module.
pub const IDS: &[&str] = &[ID];

/// Environment variable: a path to the `spamassassin` program, or `off`.
pub const ENV: &str = "MERGEGUARD_SPAMASSASSIN";

/// How long one scoring may take before the check is skipped.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// What SpamAssassin said of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub score: f64,
    /// The score from which SpamAssassin calls a message spam (`required_score`, 5.0).
    pub required: f64,
    /// Every rule hit, with its score, as SpamAssassin names them.
    pub rules: Vec<(String, f64)>,
}

/// The `spamassassin` program to run, if any.
pub fn program() -> Option<PathBuf> {
    match std::env::var_os(ENV) {
        Some(v) if v == "off" => None,
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)).filter(|p| p.is_file()),
        _ => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("spamassassin"))
                .find(|p| p.is_file())
        }),
    }
}

/// Scores `raw` with `program` (local tests only). Errors are one plain sentence.
pub fn score(program: &Path, raw: &[u8], timeout: Duration) -> Result<Score, String> {
    let mut child = Command::new(program)
        .args([
            "-L",
            "-x",
            "--cf",
            "use_bayes 0",
            "--cf",
            "bayes_auto_learn 0",
            "--cf",
            "add_header all Mergeguard _SCORE_ _REQD_ _TESTSSCORES(,)_",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{} could not be started: {e}", program.display()))?;
    let mut stdin = child.stdin.take();
    let input = raw.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&input);
        }
    });
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = std::io::Read::read_to_end(s, &mut out);
        }
        out
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "SpamAssassin did not finish within {} s",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("SpamAssassin could not be waited for: {e}")),
        }
    };
    let _ = writer.join();
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("SpamAssassin stopped with {status}"));
    }
    parse_output(&out)
}

/// The `X-Spam-Mergeguard: SCORE REQD RULE=s,RULE=s` header SpamAssassin added.
fn parse_output(out: &[u8]) -> Result<Score, String> {
    let text = String::from_utf8_lossy(out);
    let head = text.split("\n\n").next().unwrap_or_default();
    let mut value: Option<String> = None;
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        match &mut value {
            Some(v) if line.starts_with([' ', '\t']) => v.push_str(line.trim()),
            Some(_) => break,
            None => {
                if let Some(rest) = line.strip_prefix("X-Spam-Mergeguard:") {
                    value = Some(rest.trim().to_owned());
                }
            }
        }
    }
    let value = value.ok_or("SpamAssassin's answer has no score header")?;
    let mut parts = value.split_whitespace();
    let number = |p: Option<&str>| -> Result<f64, String> {
        p.and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("SpamAssassin's score header is not understood: {value}"))
    };
    let score = number(parts.next())?;
    let required = number(parts.next())?;
    let rules = parts
        .collect::<String>()
        .split(',')
        .filter(|r| !r.is_empty())
        .map(|r| match r.split_once('=') {
            Some((name, s)) => (name.to_owned(), s.parse().unwrap_or(0.0)),
            None => (r.to_owned(), 0.0),
        })
        .collect();
    Ok(Score {
        score,
        required,
        rules,
    })
}

fn rules_text(rules: &[(String, f64)]) -> String {
    if rules.is_empty() {
        return "no rule hit".into();
    }
    rules
        .iter()
        .map(|(r, s)| format!("{r} {s:+.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The finding for a score of row `row`'s message.
pub fn judge(row: u64, s: &Score) -> Check {
    let said = format!(
        "SpamAssassin (local rules, no network tests) scores the message of row {row} {:.1} (spam from {:.1}); rules hit: {}.",
        s.score,
        s.required,
        rules_text(&s.rules)
    );
    if s.score >= s.required {
        Check::fail(
            ID,
            format!("{said} Receivers running SpamAssassin with these rules would file it as spam."),
            "Look at the rules hit with the highest scores and change the message (or its headers, e.g. sign it with DKIM) so they no longer match. / 点数の高いルールを確認し、本文やヘッダー（DKIM 署名など）を直してください。",
        )
    } else if s.score > 0.0 {
        Check::warning(
            ID,
            format!("{said} Above 0, part of the way to spam; other filters weigh similar signs."),
            "Look at the rules hit with a positive score and change what they point at. / 点数がプラスのルールを確認し、その原因を直してください。",
        )
    } else {
        Check::pass(ID, said)
    }
}

/// A scoring under way on its own thread.
#[derive(Debug)]
pub struct Pending(Option<std::thread::JoinHandle<Check>>, Option<Check>);

impl Pending {
    /// Starts scoring the message `raw` of row `row` (the first built message), or
    /// notes why it cannot run.
    pub fn start(row: u64, raw: Vec<u8>) -> Pending {
        let Some(program) = program() else {
            return Pending(None, Some(not_installed()));
        };
        let handle = std::thread::spawn(move || {
            match score(&program, &raw, TIMEOUT) {
            Ok(s) => judge(row, &s),
            Err(why) => Check::skipped(
                ID,
                format!("Not checked: {why}."),
                "Check that SpamAssassin works (spamassassin -L -t < message.eml), or set MERGEGUARD_SPAMASSASSIN=off. / SpamAssassin が動くか確認してください。",
            ),
        }
        });
        Pending(Some(handle), None)
    }

    /// No message could be built, so there is nothing to score.
    pub fn nothing() -> Pending {
        Pending(
            None,
            Some(Check::skipped(
                ID,
                "Not checked: no message could be built.",
                "Fix the merge findings so messages can be built. / 差し込みの問題を直してください。",
            )),
        )
    }

    /// The finding, once SpamAssassin has answered.
    pub fn finish(self) -> Check {
        match self {
            Pending(Some(h), _) => h.join().unwrap_or_else(|_| {
                Check::skipped(
                    ID,
                    "Not checked: the scoring thread failed.",
                    "Run the checklist again.",
                )
            }),
            Pending(None, Some(c)) => c,
            Pending(None, None) => not_installed(),
        }
    }
}

fn not_installed() -> Check {
    Check::skipped(
        ID,
        "Not checked: SpamAssassin is not installed on this computer (optional: an independent spam score of the first message, with local rules only).",
        "Install SpamAssassin (Debian/Ubuntu: apt install spamassassin) to see its score here. / SpamAssassin をインストールすると、ここに迷惑メール判定の点数が表示されます。",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::Status;

    #[test]
    fn the_score_header_is_read_with_every_rule() {
        let out = b"X-Spam-Checker-Version: SpamAssassin 4.0.1\nX-Spam-Mergeguard: 2.6 5.0 LIST_PARTIAL_SHORT_MSG=1.1,\n\tMISSING_DATE=1.4,NO_RECEIVED=-0.001\nFrom: a@b\n\nbody\n";
        let s = parse_output(out).unwrap();
        assert_eq!(s.score, 2.6);
        assert_eq!(s.required, 5.0);
        assert_eq!(
            s.rules,
            [
                ("LIST_PARTIAL_SHORT_MSG".to_owned(), 1.1),
                ("MISSING_DATE".to_owned(), 1.4),
                ("NO_RECEIVED".to_owned(), -0.001)
            ]
        );
        assert_eq!(judge(2, &s).status, Status::Warning);
        assert!(judge(2, &s).detail.contains("LIST_PARTIAL_SHORT_MSG +1.1"));
        let spam = Score {
            score: 7.5,
            ..s.clone()
        };
        assert_eq!(judge(2, &spam).status, Status::Fail);
        let ham = Score {
            score: -0.1,
            rules: vec![],
            ..s
        };
        assert_eq!(judge(2, &ham).status, Status::Pass);
        assert!(parse_output(b"From: a@b\n\nno header\n").is_err());
        assert!(parse_output(b"X-Spam-Mergeguard: x y\n\n").is_err());
    }

    #[test]
    fn a_missing_program_is_skipped_with_the_reason() {
        let c = Pending(None, None).finish();
        assert_eq!(c.status, Status::Skipped);
        assert!(c.detail.contains("not installed"));
        let e = score(Path::new("/nonexistent/spamassassin"), b"x", TIMEOUT).unwrap_err();
        assert!(e.contains("could not be started"), "{e}");
    }
}
