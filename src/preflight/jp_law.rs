//! Japan's Act on Regulation of Transmission of Specified Electronic Mail
//! (特定電子メールの送信の適正化等に関する法律, "特定電子メール法") as one checklist group
//! (`jp_law.*`), for campaigns that are advertising ([`Campaign::is_advertising`]).
//!
//! What each rule reads, and where it comes from:
//! - the rendered text and HTML body of every message names the sender (法第4条第1号),
//!   shows the opt-out address or URL (法第4条第2号, 施行規則第8条) with a statement that
//!   the recipient may refuse further mail right before or after it (施行規則第9条第1号,
//!   placement: 施行規則第7条), the sender's postal address (施行規則第9条第2号) and a
//!   telephone number, e-mail address or URL for complaints and questions (第9条第3号);
//! - every recipient has a basis on which they may be mailed (法第3条第1項第1号〜第4号:
//!   同意 / 名刺等 / 取引関係 / 公表アドレス), from a recipient column or one basis for
//!   the whole campaign; the basis is kept with the delivery record
//!   (`consent_records`, see [`crate::send::state::record_consent`]). The law asks for
//!   the record of consent to be kept until one month after the last mail to that person
//!   (法第3条第2項, 施行規則第4条第2項; one year for a sender under a 措置命令);
//!   MergeGuard never deletes it;
//! - an opt-out always wins over a basis (法第3条第3項): nobody on the suppression list
//!   is mailed, whatever their consent column says.
//!
//! Article numbers are those of the law as amended in 2008 and its 施行規則 (総務省・
//! 内閣府令); the 総務省/消費者庁 "特定電子メールの送信等に関するガイドライン" explains
//! them with examples.
//!
//! Architecture invariant: like `bulk`, this module reads built messages and the
//! recipient list only; it decides nothing about what is sent.

use std::collections::HashSet;
use std::sync::Arc;

use super::bulk::{field, header_fields, rows, unsubscribe_targets, visible_form};
use super::Check;
use crate::campaign::{Campaign, ConsentBasis};
use crate::compose::BuiltMessage;
use crate::recipients::{RecipientList, RejectReason};

/// Every check id of this group, in the order the checklist shows them.
pub const IDS: &[&str] = &[
    SENDER_NAME,
    OPT_OUT,
    POSTAL_ADDRESS,
    CONTACT,
    CONSENT,
    OPT_OUT_WINS,
];

pub const SENDER_NAME: &str = "jp_law.sender_name";
pub const OPT_OUT: &str = "jp_law.opt_out";
pub const POSTAL_ADDRESS: &str = "jp_law.postal_address";
pub const CONTACT: &str = "jp_law.contact";
pub const CONSENT: &str = "jp_law.consent";
pub const OPT_OUT_WINS: &str = "jp_law.opt_out_wins";

const LAW: &str = "特定電子メール法";

/// Words that tell a reader they can refuse further mail (施行規則第9条第1号), compared
/// with whitespace removed and ASCII lower-cased.
const REFUSAL_WORDS: &[&str] = &[
    "配信停止",
    "配信解除",
    "配信を停止",
    "配信の停止",
    "配信を希望されない",
    "配信を希望しない",
    "配信不要",
    "受信拒否",
    "受信を拒否",
    "受信を希望されない",
    "購読解除",
    "購読停止",
    "購読の解除",
    "送信停止",
    "送信を停止",
    "メール停止",
    "unsubscribe",
    "optout",
    "opt-out",
    "stopreceiving",
    "nolongerwish",
    "nolongerwant",
    "refusefurther",
];

/// Each recipient's consent basis as the campaign gives it (one basis for all, or the
/// consent column), as `(address, basis)`; recipients without a valid basis are left
/// out (`jp_law.consent` fails for them). Empty for a campaign that is not advertising.
pub fn consent_bases(campaign: &Campaign, list: &RecipientList) -> Vec<(String, ConsentBasis)> {
    let Some(a) = campaign
        .advertising
        .clone()
        .filter(|_| campaign.is_advertising())
    else {
        return Vec::new();
    };
    let all = a.consent.as_deref().and_then(ConsentBasis::parse);
    list.recipients
        .iter()
        .filter_map(|r| {
            let basis = match (all, some(&a.consent_column)) {
                (Some(b), _) => Some(b),
                (None, Some(col)) => list.value(r, &col).and_then(ConsentBasis::parse),
                (None, None) => None,
            }?;
            Some((r.email().to_owned(), basis))
        })
        .collect()
}

/// What the checks look for, from the campaign.
#[derive(Debug, Clone, Default)]
struct Wanted {
    sender_name: Option<String>,
    postal_address: Option<String>,
    /// The parts of `contact` (split at `/`, `、`, `,`, `;`); one shown is enough.
    contact: Vec<String>,
}

/// Rows missing one item, with the part ("text" or "HTML") it was missing from.
#[derive(Debug, Default)]
struct Missing {
    rows: Vec<u64>,
    part: Option<&'static str>,
}

impl Missing {
    fn add(&mut self, row: u64, part: &'static str) {
        if self.rows.last() != Some(&row) {
            self.rows.push(row);
        }
        self.part.get_or_insert(part);
    }
}

/// The group's state over one checklist run: built from the campaign, fed the built
/// messages chunk by chunk ([`JpLaw::observe`]), finished with the recipient list.
#[derive(Debug)]
pub struct JpLaw {
    /// `None`: the campaign is not advertising; every check is skipped.
    wanted: Option<Wanted>,
    consent: Option<ConsentBasis>,
    consent_column: Option<String>,
    suppressed: Option<Arc<HashSet<String>>>,
    messages: usize,
    sender_name: Missing,
    postal_address: Missing,
    contact: Missing,
    /// Rows whose body does not show an opt-out target at all.
    no_target: Missing,
    /// Rows whose body shows the target without a refusal statement next to it.
    no_statement: Missing,
    /// Rows without a List-Unsubscribe target to look for.
    no_header: Vec<u64>,
    /// Rows built for an address on the suppression list.
    suppressed_built: Vec<u64>,
}

fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

fn some(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Whitespace removed (any Unicode space, U+3000 included), ASCII lower-cased: a
/// postal address or name wrapped over two lines, or spaced differently, still matches.
fn squeeze(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// What a reader sees of an HTML body, line by line: block elements and `<br>` end a
/// line, tags are dropped, a link's target is kept next to its text (a link is a valid
/// way to show the opt-out URL), and the common entities are decoded.
fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[start + 1..start + end];
        let lower = tag.to_ascii_lowercase();
        let name = lower
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        if matches!(
            name,
            "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table"
        ) {
            out.push('\n');
        }
        if name == "a" {
            if let Some(i) = lower.find("href=") {
                let value = &tag[i + 5..];
                let value = value.trim_start_matches(['"', '\'']);
                let href: String = value
                    .chars()
                    .take_while(|c| !matches!(c, '"' | '\'' | ' ' | '>'))
                    .collect();
                out.push(' ');
                out.push_str(&href);
                out.push(' ');
            }
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// True when a non-empty line next to (or the same as) a line showing an opt-out
/// target carries a refusal statement (施行規則第7条: "immediately before or after").
fn statement_next_to(lines: &[String], targets: &[String]) -> (bool, bool) {
    let squeezed: Vec<String> = lines.iter().map(|l| squeeze(l)).collect();
    let filled: Vec<usize> = (0..squeezed.len())
        .filter(|&i| !squeezed[i].is_empty())
        .collect();
    let mut shown = false;
    for (k, &i) in filled.iter().enumerate() {
        if !targets.iter().any(|t| squeezed[i].contains(t.as_str())) {
            continue;
        }
        shown = true;
        let window = [
            k.checked_sub(1).map(|p| filled[p]),
            Some(i),
            filled.get(k + 1).copied(),
        ];
        // The words must be the reader's statement, not part of the URL itself
        // (".../unsubscribe"), so the targets are taken out first.
        let said = window.into_iter().flatten().any(|j| {
            let words = targets
                .iter()
                .fold(squeezed[j].clone(), |l, t| l.replace(t.as_str(), " "));
            REFUSAL_WORDS.iter().any(|w| words.contains(w))
        });
        if said {
            return (true, true);
        }
    }
    (shown, false)
}

impl JpLaw {
    /// The group for `campaign`. `suppressed` is the suppression list the recipients
    /// were imported with (`None` when the run had none).
    pub fn new(campaign: &Campaign, suppressed: Option<Arc<HashSet<String>>>) -> JpLaw {
        let a = campaign.advertising.clone().unwrap_or_default();
        let wanted = campaign.is_advertising().then(|| Wanted {
            sender_name: some(&a.sender_name).or_else(|| {
                let n = campaign.sender.name.trim();
                (!n.is_empty() && !is_template(n)).then(|| n.to_owned())
            }),
            postal_address: some(&a.postal_address),
            contact: some(&a.contact)
                .map(|c| {
                    c.split(['/', '、', ',', ';'])
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        });
        JpLaw {
            wanted,
            consent: a.consent.as_deref().and_then(ConsentBasis::parse),
            consent_column: some(&a.consent_column),
            suppressed,
            messages: 0,
            sender_name: Missing::default(),
            postal_address: Missing::default(),
            contact: Missing::default(),
            no_target: Missing::default(),
            no_statement: Missing::default(),
            no_header: Vec::new(),
            suppressed_built: Vec::new(),
        }
    }

    /// Reads one chunk of built messages: each item in the text body and, when there is
    /// one, in the HTML body as the reader sees it.
    pub fn observe(&mut self, messages: &[BuiltMessage]) {
        let Some(wanted) = &self.wanted else {
            return;
        };
        let name = wanted.sender_name.as_deref().map(squeeze);
        let address = wanted.postal_address.as_deref().map(squeeze);
        let contact: Vec<String> = wanted.contact.iter().map(|c| squeeze(c)).collect();
        for m in messages {
            self.messages += 1;
            if let Some(s) = &self.suppressed {
                if s.contains(&crate::recipients::address_key(&m.to)) {
                    self.suppressed_built.push(m.row);
                }
            }
            let fields = header_fields(&m.raw);
            let targets: Vec<String> = field(&fields, "List-Unsubscribe")
                .map(unsubscribe_targets)
                .unwrap_or_default()
                .into_iter()
                .filter_map(visible_form)
                .map(|t| squeeze(&t))
                .collect();
            if targets.is_empty() {
                self.no_header.push(m.row);
            }
            let html = m.html.as_deref().map(html_text);
            let parts = [("text", Some(m.text.as_str())), ("HTML", html.as_deref())];
            for (part, body) in parts {
                let Some(body) = body else { continue };
                let flat = squeeze(body);
                if name.as_deref().is_none_or(|n| !flat.contains(n)) {
                    self.sender_name.add(m.row, part);
                }
                if address.as_deref().is_none_or(|a| !flat.contains(a)) {
                    self.postal_address.add(m.row, part);
                }
                if !contact.iter().any(|c| flat.contains(c.as_str())) {
                    self.contact.add(m.row, part);
                }
                if !targets.is_empty() {
                    let lines: Vec<String> = body.lines().map(str::to_owned).collect();
                    match statement_next_to(&lines, &targets) {
                        (false, _) => self.no_target.add(m.row, part),
                        (true, false) => self.no_statement.add(m.row, part),
                        (true, true) => {}
                    }
                }
            }
        }
    }

    /// The `jp_law.*` findings, in [`IDS`] order.
    pub fn finish(self, list: &RecipientList) -> Vec<Check> {
        let Some(wanted) = &self.wanted else {
            return IDS
                .iter()
                .map(|id| {
                    Check::skipped(
                        id,
                        format!("Not checked: the campaign is not marked as advertising, so the {LAW} display and consent rules do not apply to it (a campaign without [unsubscribe], or [advertising] enabled = false)."),
                        "If the mail promotes goods or services, set [advertising] enabled = true. / 商品やサービスの広告・宣伝を含むメールなら、「広告・宣伝メール（特定電子メール）」にチェックを入れてください。",
                    )
                })
                .collect();
        };
        let n = self.messages;
        let none_built = |id: &str| {
            Check::skipped(
                id,
                "Not checked: no message could be built.",
                "Fix the merge findings so messages can be built. / 差し込みの問題を直して、メールを作れるようにしてください。",
            )
        };
        let mut out = Vec::new();
        let part_of = |m: &Missing| m.part.unwrap_or("text");

        // 送信者の氏名又は名称 (法第4条第1号).
        out.push(match (&wanted.sender_name, n) {
            (_, 0) => none_built(SENDER_NAME),
            (None, _) => Check::fail(
                SENDER_NAME,
                format!("The sender's name cannot be looked for: [sender] name is a template and [advertising] sender_name is not set; advertising mail must name its sender ({LAW} 法第4条第1号)."),
                "Set [advertising] sender_name to your company or shop name and write it in the message. / 会社名・店名を「送信者の名称」に入れ、本文にも書いてください。",
            ),
            (Some(name), _) if self.sender_name.rows.is_empty() => Check::pass(
                SENDER_NAME,
                format!("Every message names the sender \"{name}\" in its text and HTML body ({LAW} 法第4条第1号)."),
            ),
            (Some(name), _) => Check::fail(
                SENDER_NAME,
                format!(
                    "{} of {n} messages do not name the sender \"{name}\" in the {} body, e.g. {}; advertising mail must show the sender's name ({LAW} 法第4条第1号).",
                    self.sender_name.rows.len(), part_of(&self.sender_name), rows(&self.sender_name.rows)
                ),
                format!("Write \"{name}\" in the message (text and HTML), for example in the footer. / 本文（テキストとHTMLの両方）に「{name}」と書いてください（例：末尾の署名）。"),
            ),
        });

        // 受信拒否の通知先 and the statement next to it (法第4条第2号, 施行規則第7条・第9条第1号).
        out.push(if n == 0 {
            none_built(OPT_OUT)
        } else if !self.no_header.is_empty() {
            Check::fail(
                OPT_OUT,
                format!(
                    "{} of {n} messages have no opt-out address or URL (no List-Unsubscribe), e.g. {}; advertising mail must show where to refuse further mail ({LAW} 法第4条第2号).",
                    self.no_header.len(), rows(&self.no_header)
                ),
                "Set an unsubscribe address or URL ([unsubscribe]) and show it in the message. / 配信停止の受付先（メールアドレスまたはURL）を設定し、本文にも書いてください。",
            )
        } else if !self.no_target.rows.is_empty() {
            Check::fail(
                OPT_OUT,
                format!(
                    "{} of {n} messages do not show the opt-out address or URL in the {} body, e.g. {} ({LAW} 法第4条第2号, 施行規則第8条).",
                    self.no_target.rows.len(), part_of(&self.no_target), rows(&self.no_target.rows)
                ),
                "Write the unsubscribe URL or address in the message body (text and HTML). / 配信停止のURLまたはメールアドレスを本文（テキストとHTML）に書いてください。",
            )
        } else if !self.no_statement.rows.is_empty() {
            Check::fail(
                OPT_OUT,
                format!(
                    "{} of {n} messages show the opt-out address or URL without a statement right before or after it that the reader can refuse further mail, e.g. {} ({} body) ({LAW} 施行規則第9条第1号, placement 第7条).",
                    self.no_statement.rows.len(), rows(&self.no_statement.rows), part_of(&self.no_statement)
                ),
                "Put a sentence such as \"If you no longer wish to receive this newsletter, unsubscribe here:\" on the line right before or after the unsubscribe URL. / 配信停止のURLの直前か直後の行に「配信停止をご希望の方は次のURLから手続きできます」のような一文を書いてください。",
            )
        } else {
            Check::pass(
                OPT_OUT,
                format!("Every message shows its opt-out address or URL with a refusal statement next to it, in text and HTML ({LAW} 法第4条第2号, 施行規則第7条・第9条第1号)."),
            )
        });

        // 住所 (施行規則第9条第2号).
        out.push(match (&wanted.postal_address, n) {
            (_, 0) => none_built(POSTAL_ADDRESS),
            (None, _) => Check::fail(
                POSTAL_ADDRESS,
                format!("No postal address is set: advertising mail must show the sender's postal address ({LAW} 施行規則第9条第2号)."),
                "Set [advertising] postal_address and write the address in the message. / 送信者の住所を設定し、本文にも書いてください。",
            ),
            (Some(a), _) if self.postal_address.rows.is_empty() => Check::pass(
                POSTAL_ADDRESS,
                format!("Every message shows the postal address \"{a}\" ({LAW} 施行規則第9条第2号)."),
            ),
            (Some(a), _) => Check::fail(
                POSTAL_ADDRESS,
                format!(
                    "{} of {n} messages do not show the postal address \"{a}\" in the {} body, e.g. {} ({LAW} 施行規則第9条第2号).",
                    self.postal_address.rows.len(), part_of(&self.postal_address), rows(&self.postal_address.rows)
                ),
                format!("Write \"{a}\" in the message (text and HTML), for example in the footer. / 本文（テキストとHTML）に住所「{a}」を書いてください。"),
            ),
        });

        // 苦情・問合せ先 (施行規則第9条第3号).
        out.push(match (wanted.contact.is_empty(), n) {
            (_, 0) => none_built(CONTACT),
            (true, _) => Check::fail(
                CONTACT,
                format!("No contact for complaints and questions is set: advertising mail must show a telephone number, e-mail address or URL for them ({LAW} 施行規則第9条第3号)."),
                "Set [advertising] contact (telephone, e-mail or URL) and write it in the message. / 苦情・問い合わせ先（電話番号、メールアドレスまたはURL）を設定し、本文にも書いてください。",
            ),
            (false, _) if self.contact.rows.is_empty() => Check::pass(
                CONTACT,
                format!("Every message shows the contact for complaints and questions ({}) ({LAW} 施行規則第9条第3号).", wanted.contact.join(" / ")),
            ),
            (false, _) => Check::fail(
                CONTACT,
                format!(
                    "{} of {n} messages show none of the contacts {} in the {} body, e.g. {} ({LAW} 施行規則第9条第3号).",
                    self.contact.rows.len(), wanted.contact.join(" / "), part_of(&self.contact), rows(&self.contact.rows)
                ),
                "Write the telephone number, e-mail address or URL for complaints and questions in the message. / 苦情・問い合わせ先を本文（テキストとHTML）に書いてください。",
            ),
        });

        out.push(self.consent_check(list));
        out.push(self.opt_out_wins(list));
        out
    }

    fn consent_check(&self, list: &RecipientList) -> Check {
        const KEPT: &str = "Each recipient's basis is kept with their delivery record in the data folder and never deleted by MergeGuard; the law asks for the record of consent to be kept until one month after the last mail to that person (法第3条第2項, 施行規則第4条第2項)";
        let total = list.recipients.len();
        if let Some(basis) = self.consent {
            return Check::pass(
                CONSENT,
                format!(
                    "The campaign states one basis for all {total} recipients: {} ({}). {KEPT}.",
                    basis.as_str(),
                    basis.article()
                ),
            );
        }
        let Some(column) = &self.consent_column else {
            return Check::fail(
                CONSENT,
                format!("No consent basis is given: advertising mail may only go to people who agreed or who fall under an exception (同意 / 名刺等 / 取引関係 / 公表アドレス, {LAW} 法第3条第1項)."),
                "Add a consent column to the recipient file (同意, 名刺等, 取引関係 or 公表アドレス for each person) and name it, or state one basis for everyone. / 受信者ファイルに同意区分の列（同意・名刺等・取引関係・公表アドレス）を作って指定するか、全員に共通の区分を選んでください。",
            );
        };
        if !list.fields.iter().any(|f| f == column) {
            return Check::fail(
                CONSENT,
                format!(
                    "The consent column \"{column}\" is not in the recipient file (its columns: {}) ({LAW} 法第3条第1項).",
                    list.fields.join(", ")
                ),
                "Name the column that holds each person's consent basis, or add it to the file. / 同意区分が入っている列の名前を正しく指定するか、その列をファイルに追加してください。",
            );
        }
        let mut missing = Vec::new();
        let mut counts = std::collections::BTreeMap::new();
        for r in &list.recipients {
            match list.value(r, column).and_then(ConsentBasis::parse) {
                Some(b) => *counts.entry(b.as_str()).or_insert(0usize) += 1,
                None => missing.push(r.row),
            }
        }
        if missing.is_empty() {
            let said: Vec<String> = counts.iter().map(|(b, n)| format!("{b} {n}")).collect();
            Check::pass(
                CONSENT,
                format!(
                    "Every recipient has a consent basis in column \"{column}\" ({}; {LAW} 法第3条第1項). {KEPT}.",
                    said.join(", ")
                ),
            )
        } else {
            Check::fail(
                CONSENT,
                format!(
                    "{} of {total} recipients have no valid consent basis in column \"{column}\", {} (expected 同意, 名刺等, 取引関係 or 公表アドレス; {LAW} 法第3条第1項).",
                    missing.len(),
                    rows(&missing)
                ),
                "Fill in the consent basis (同意, 名刺等, 取引関係 or 公表アドレス) for these rows, or remove the people who never agreed. / これらの行に同意区分（同意・名刺等・取引関係・公表アドレス）を入れるか、同意のない人を外してください。",
            )
        }
    }

    fn opt_out_wins(&self, list: &RecipientList) -> Check {
        if !self.suppressed_built.is_empty() {
            return Check::fail(
                OPT_OUT_WINS,
                format!(
                    "{} message(s) are addressed to people on the Do not mail list, {}; a refusal ends every basis, consent included ({LAW} 法第3条第3項).",
                    self.suppressed_built.len(),
                    rows(&self.suppressed_built)
                ),
                "Report this as a MergeGuard bug: people on the Do not mail list must be left out. / 配信停止済みの人にメールが作られています。MergeGuard の不具合として報告してください。",
            );
        }
        if self.suppressed.is_none() {
            return Check::skipped(
                OPT_OUT_WINS,
                "Not checked: this run was given no Do not mail list, so refusals could not be compared with the recipients.",
                "Run the checklist from the app or with a data folder, which holds the Do not mail list. / アプリ（またはデータフォルダを指定したコマンド）でチェックしてください。",
            );
        }
        let left_out = list
            .rejected
            .iter()
            .filter(|r| r.reason == RejectReason::Suppressed)
            .count();
        Check::pass(
            OPT_OUT_WINS,
            format!("Nobody on the Do not mail list is mailed, whatever the consent column says ({left_out} row(s) left out; {LAW} 法第3条第3項)."),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::Status;

    const UNSUB: &str =
        "List-Unsubscribe: <mailto:stop@shop.test>, <https://shop.test/unsubscribe?t=1>";
    const FOOTER: &str = "株式会社ショップテスト\n東京都千代田区千代田1-1\nお問い合わせ: 03-1234-5678\n配信停止をご希望の方は次のURLから手続きできます。\nhttps://shop.test/unsubscribe";

    fn campaign(advertising: &str) -> Campaign {
        let text = format!(
            "[sender]\nname = \"ショップテスト\"\naddress = \"news@shop.test\"\n\
             [recipients]\nfile = \"r.csv\"\n[message]\nsubject = \"s\"\ntext = \"t.txt\"\n\
             [unsubscribe]\nurl = \"https://shop.test/unsubscribe?t={{token}}\"\n{advertising}"
        );
        Campaign::parse(&text, std::path::PathBuf::new()).unwrap()
    }

    const FULL: &str = "[advertising]\nsender_name = \"株式会社ショップテスト\"\n\
        postal_address = \"東京都千代田区千代田1-1\"\ncontact = \"03-1234-5678 / support@shop.test\"\n\
        consent_column = \"同意区分\"\n";

    fn message(row: u64, text: &str, html: Option<&str>) -> BuiltMessage {
        BuiltMessage {
            row,
            to: format!("p{row}@example.jp"),
            envelope_to: vec![format!("p{row}@example.jp")],
            envelope_from: "news@shop.test".into(),
            subject: "s".into(),
            text: text.into(),
            html: html.map(str::to_owned),
            attachments: vec![],
            message_id: "<m@shop.test>".into(),
            raw: format!("From: news@shop.test\r\n{UNSUB}\r\n\r\n{text}\r\n").into_bytes(),
        }
    }

    fn list(consent: &[&str]) -> RecipientList {
        let mut csv = String::from("email,同意区分\n");
        for (i, c) in consent.iter().enumerate() {
            csv.push_str(&format!("p{}@example.jp,{c}\n", i + 2));
        }
        crate::recipients::import_bytes(csv.as_bytes(), &Default::default()).unwrap()
    }

    fn status(checks: &[Check], id: &str) -> Status {
        checks.iter().find(|c| c.id == id).unwrap().status
    }

    #[test]
    fn a_complete_footer_and_a_basis_for_everyone_pass() {
        let mut law = JpLaw::new(&campaign(FULL), Some(Arc::default()));
        let html = "<p>本文</p><p>株式会社ショップテスト<br>東京都千代田区 千代田1-1<br>\
                    お問い合わせ: support@shop.test</p>\
                    <p>配信停止は<a href=\"https://shop.test/unsubscribe?t=1\">こちら</a>から。</p>";
        law.observe(&[message(2, &format!("本文\n\n{FOOTER}"), Some(html))]);
        let out = law.finish(&list(&["同意", "取引関係"]));
        assert_eq!(out.len(), IDS.len());
        assert!(out.iter().all(|c| c.status == Status::Pass), "{out:#?}");
        let consent = out.iter().find(|c| c.id == CONSENT).unwrap();
        assert!(consent.detail.contains("施行規則第4条第2項"), "{consent:?}");
    }

    #[test]
    fn missing_items_fail_per_part_with_rows() {
        let mut law = JpLaw::new(&campaign(FULL), Some(Arc::default()));
        // The text is complete; the HTML lacks the address, the contact and the statement.
        let html = "<p>株式会社ショップテスト</p><p><a href=\"https://shop.test/unsubscribe\">https://shop.test/unsubscribe</a></p>";
        law.observe(&[
            message(2, &format!("本文\n{FOOTER}"), Some(html)),
            message(3, "本文だけ", None),
        ]);
        let out = law.finish(&list(&["同意", "同意"]));
        for id in [SENDER_NAME, POSTAL_ADDRESS, CONTACT, OPT_OUT] {
            assert_eq!(status(&out, id), Status::Fail, "{id}: {out:#?}");
        }
        let address = out.iter().find(|c| c.id == POSTAL_ADDRESS).unwrap();
        assert!(address.detail.contains("2 of 2"), "{address:?}");
        assert!(address.detail.contains("HTML"), "{address:?}");
        assert!(
            address.fix.contains(" / "),
            "English and Japanese: {address:?}"
        );
        let opt_out = out.iter().find(|c| c.id == OPT_OUT).unwrap();
        assert!(opt_out.detail.contains("do not show"), "{opt_out:?}");
    }

    #[test]
    fn an_opt_out_url_far_from_its_statement_fails() {
        let mut law = JpLaw::new(&campaign(FULL), Some(Arc::default()));
        let text = "配信停止をご希望の方はご連絡ください。\n\n株式会社ショップテスト\n東京都千代田区千代田1-1\n03-1234-5678\nhttps://shop.test/unsubscribe";
        law.observe(&[message(4, text, None)]);
        let out = law.finish(&list(&["同意", "同意", "同意"]));
        let opt_out = out.iter().find(|c| c.id == OPT_OUT).unwrap();
        assert_eq!(opt_out.status, Status::Fail, "{opt_out:?}");
        assert!(
            opt_out.detail.contains("without a statement"),
            "{opt_out:?}"
        );
        // The same words on the line right before the URL pass.
        let mut law = JpLaw::new(&campaign(FULL), Some(Arc::default()));
        let text = "株式会社ショップテスト\n東京都千代田区千代田1-1\n03-1234-5678\n\nIf you no longer wish to receive this newsletter, unsubscribe here:\nhttps://shop.test/unsubscribe";
        law.observe(&[message(4, text, None)]);
        let out = law.finish(&list(&["consent", "consent", "consent"]));
        assert_eq!(status(&out, OPT_OUT), Status::Pass, "{out:#?}");
    }

    #[test]
    fn consent_column_values_and_missing_column() {
        let law = JpLaw::new(&campaign(FULL), Some(Arc::default()));
        let out = law.finish(&list(&["名刺等", "", "maybe", "published", "公表アドレス"]));
        let c = out.iter().find(|c| c.id == CONSENT).unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.detail.contains("2 of 5") && c.detail.contains("3, 4"),
            "{c:?}"
        );

        let other = FULL.replace("同意区分", "consent_basis");
        let out = JpLaw::new(&campaign(&other), None).finish(&list(&["同意"]));
        let c = out.iter().find(|c| c.id == CONSENT).unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("not in the recipient file"), "{c:?}");
        assert_eq!(status(&out, OPT_OUT_WINS), Status::Skipped);

        let none = "[advertising]\npostal_address = \"x\"\ncontact = \"y\"\n";
        let out = JpLaw::new(&campaign(none), None).finish(&list(&["同意"]));
        assert_eq!(status(&out, CONSENT), Status::Fail);
        let one = "[advertising]\nconsent = \"取引関係\"\n";
        let out = JpLaw::new(&campaign(one), None).finish(&list(&[""]));
        assert_eq!(status(&out, CONSENT), Status::Pass);
    }

    #[test]
    fn a_message_to_a_suppressed_address_fails_whatever_the_consent() {
        let suppressed: HashSet<String> = ["p2@example.jp".to_owned()].into();
        let mut law = JpLaw::new(&campaign(FULL), Some(Arc::new(suppressed)));
        law.observe(&[message(2, FOOTER, None)]);
        let out = law.finish(&list(&["同意"]));
        assert_eq!(status(&out, OPT_OUT_WINS), Status::Fail, "{out:#?}");
    }

    #[test]
    fn newsletters_are_advertising_by_default_and_can_say_they_are_not() {
        assert!(campaign("").is_advertising());
        assert!(!campaign("[advertising]\nenabled = false\n").is_advertising());
        let notice = Campaign::parse(
            "[sender]\nname = \"s\"\naddress = \"a@shop.test\"\n[recipients]\nfile = \"r.csv\"\n\
             [message]\nsubject = \"s\"\ntext = \"t.txt\"\n",
            std::path::PathBuf::new(),
        )
        .unwrap();
        assert!(!notice.is_advertising());
        let out = JpLaw::new(&notice, None).finish(&list(&["同意"]));
        assert!(out.iter().all(|c| c.status == Status::Skipped), "{out:#?}");
        // A template sender name without sender_name cannot be looked for.
        let mut c = campaign("[advertising]\nconsent = \"同意\"\n");
        c.sender.name = "{{ shop }}".into();
        let mut law = JpLaw::new(&c, None);
        law.observe(&[message(2, FOOTER, None)]);
        assert_eq!(
            status(&law.finish(&list(&["同意"])), SENDER_NAME),
            Status::Fail
        );
    }

    #[test]
    fn bad_consent_settings_are_plain_errors() {
        let e = Campaign::parse(
            "[sender]\nname = \"s\"\naddress = \"a@shop.test\"\n[recipients]\nfile = \"r.csv\"\n[message]\nsubject = \"s\"\ntext = \"t.txt\"\n[advertising]\nconsent = \"sure\"\n",
            std::path::PathBuf::new(),
        )
        .unwrap_err();
        assert!(e.contains("not a consent basis"), "{e}");
        assert_eq!(
            ConsentBasis::parse(" 名刺等 "),
            Some(ConsentBasis::BusinessCard)
        );
        assert_eq!(
            ConsentBasis::parse("Business Card"),
            Some(ConsentBasis::BusinessCard)
        );
        assert_eq!(
            ConsentBasis::parse("取引関係"),
            Some(ConsentBasis::Transaction)
        );
    }
}
