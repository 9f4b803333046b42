//! Compose: strict merging, escaping, header injection, the one-recipient invariant,
//! stable Message-IDs, unsubscribe headers and attachments, on hand-built lists.

use mergeguard::compose::{self, message_id, Attachment, Composer, Draft};
use mergeguard::error::ErrorCode;
use mergeguard::recipients::{Recipient, RecipientList};
use mergeguard::unsubscribe::{UnsubscribeKey, PREVIEW_TOKEN};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

fn list(fields: &[&str], rows: &[(&str, &[&str])]) -> RecipientList {
    RecipientList {
        encoding: "utf-8".into(),
        delimiter: ",".into(),
        email_column: "メールアドレス".into(),
        fields: fields.iter().map(|s| s.to_string()).collect(),
        recipients: rows
            .iter()
            .enumerate()
            .map(|(i, (email, values))| Recipient::new(i as u64 + 2, email, values.iter()))
            .collect(),
        rejected: vec![],
        source_sha256: String::new(),
    }
}

fn draft() -> Draft {
    Draft {
        campaign_id: "spring-2026".into(),
        from_name: "Shop Test".into(),
        from_address: "news@shop.test".into(),
        subject: "{{ 氏名 }}様へのお知らせ".into(),
        text: "{{ 氏名 }}様\nありがとうございます。\n".into(),
        ..Draft::default()
    }
}

fn composer(d: Draft) -> Composer {
    Composer::new(d)
        .expect("draft compiles")
        .with_date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000))
}

fn customers() -> RecipientList {
    list(
        &["氏名", "メールアドレス", "会社名"],
        &[
            (
                "taro@example.jp",
                &["山田 太郎", "taro@example.jp", "山田商店"],
            ),
            ("hanako@example.jp", &["佐藤 花子", "hanako@example.jp", ""]),
            (
                "jiro@shop.test",
                &["鈴木 次郎", "jiro@shop.test", "鈴木工業"],
            ),
        ],
    )
}

fn raw(m: &compose::BuiltMessage) -> String {
    String::from_utf8(m.raw.clone()).expect("raw is ASCII")
}

fn headers(m: &compose::BuiltMessage) -> String {
    let r = raw(m);
    r.split("\r\n\r\n").next().unwrap().to_owned()
}

#[test]
fn missing_field_names_the_field_and_the_row() {
    let mut d = draft();
    d.text = "{{ 氏名 }} {{ 会員番号 }}\n".into();
    let c = composer(d);
    let l = customers();
    let e = c.render(&l, &l.recipients[2]).unwrap_err();
    assert_eq!(e.code, ErrorCode::MissingField);
    assert_eq!(
        e.message,
        "row 4: the field \"会員番号\" is not in the recipient file"
    );
    assert_eq!(c.unknown_fields(&l.fields), vec!["会員番号".to_string()]);
    assert_eq!(
        c.check_fields(&l.fields).unwrap_err().code,
        ErrorCode::MissingField
    );
    assert!(c
        .check_fields(&[l.fields.clone(), vec!["会員番号".into()]].concat())
        .is_ok());
}

#[test]
fn template_syntax_error_names_template_and_line() {
    let mut d = draft();
    d.text = "line one\n{{ 氏名 \n".into();
    let e = Composer::new(d).err().expect("syntax error");
    assert_eq!(e.code, ErrorCode::TemplateSyntax);
    assert!(
        e.message.contains("text template") && e.message.contains("line"),
        "{}",
        e.message
    );
}

#[test]
fn default_filter_and_conditionals_work() {
    let mut d = draft();
    d.text = "{% if 会社名 %}{{ 会社名 }} {% endif %}{{ 氏名 }}様 {{ ニックネーム | default(\"お客\") }} {{ fields[\"氏名\"] }} {{ email }}\n".into();
    let c = composer(d);
    let l = customers();
    let all = compose::render_all(&c, &l);
    let texts: Vec<String> = all.into_iter().map(|m| m.unwrap().text).collect();
    assert_eq!(
        texts[0],
        "山田商店 山田 太郎様 お客 山田 太郎 taro@example.jp\n"
    );
    assert_eq!(texts[1], "佐藤 花子様 お客 佐藤 花子 hanako@example.jp\n");
}

#[test]
fn csv_values_are_data_not_template_code() {
    let c = composer(draft());
    let l = list(&["氏名"], &[("a@example.jp", &["{{ 7*7 }}{% raw %}"])]);
    let m = c.render(&l, &l.recipients[0]).unwrap();
    assert_eq!(m.text, "{{ 7*7 }}{% raw %}様\nありがとうございます。\n");
}

#[test]
fn html_values_are_escaped_only_in_html() {
    let mut d = draft();
    d.subject = "Hi {{ 氏名 }}".into();
    d.html = Some("<p>{{ 氏名 }}</p>\n".into());
    let c = composer(d);
    let l = list(
        &["氏名"],
        &[("a@example.jp", &["<script>alert(1)</script> & co"])],
    );
    let m = c.render(&l, &l.recipients[0]).unwrap();
    let html = m.html.clone().unwrap();
    assert_eq!(
        html,
        "<p>&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; co</p>\n"
    );
    assert!(
        m.text.contains("<script>alert(1)</script> & co"),
        "text stays plain"
    );
    assert_eq!(m.subject, "Hi <script>alert(1)</script> & co");
    assert!(raw(&m).contains("multipart/alternative"));
}

#[test]
fn header_injection_is_refused_for_that_row_only() {
    let mut d = draft();
    d.subject = "Hello {{ name }}".into();
    d.from_name = "{{ name }} at Shop".into();
    d.text = "Hi {{ name }}\n".into();
    let evil = "Taro\r\nBcc: x@evil.test";
    let l = list(
        &["name"],
        &[
            ("a@example.jp", &["Hanako"]),
            ("b@example.jp", &[evil]),
            ("c@example.jp", &["Jiro"]),
        ],
    );
    let c = composer(d.clone());
    let out = compose::render_all(&c, &l);
    let (row, e) = out[1].as_ref().unwrap_err();
    assert_eq!(*row, 3);
    assert_eq!(e.code, ErrorCode::HeaderInjection);
    for m in [&out[0], &out[2]] {
        let r = raw(m.as_ref().unwrap());
        assert!(!r.to_ascii_lowercase().contains("bcc"), "{r}");
        assert!(!r.contains("evil.test"));
    }
    // The display name alone is enough to refuse the row.
    d.subject = "Hello".into();
    let e = composer(d).render(&l, &l.recipients[1]).unwrap_err();
    assert_eq!(e.code, ErrorCode::HeaderInjection);
    assert!(e.message.contains("sender name"), "{}", e.message);
    // Other control characters are refused as well.
    let l2 = list(&["name"], &[("a@example.jp", &["a\u{7}b"])]);
    let e = composer(draft_with_subject("{{ name }}"))
        .render(&l2, &l2.recipients[0])
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::HeaderInjection);
}

fn draft_with_subject(s: &str) -> Draft {
    Draft {
        subject: s.into(),
        text: "x\n".into(),
        ..draft()
    }
}

#[test]
fn every_built_message_has_exactly_one_recipient() {
    let mut d = draft();
    d.html = Some("<p>{{ 氏名 }}</p>".into());
    d.reply_to = Some("support@shop.test".into());
    let rows: Vec<(String, Vec<String>)> = (0..600)
        .map(|i| (format!("user{i}@example.jp"), vec![format!("顧客{i}")]))
        .collect();
    let l = RecipientList {
        recipients: rows
            .iter()
            .enumerate()
            .map(|(i, (e, v))| Recipient::new(i as u64 + 2, e.clone(), v))
            .collect(),
        ..list(&["氏名"], &[])
    };
    let out = compose::render_all(&composer(d), &l);
    assert_eq!(out.len(), 600);
    for (m, r) in out.iter().zip(&l.recipients) {
        let m = m.as_ref().unwrap();
        assert_eq!(m.row, r.row, "list order is kept across threads");
        assert_eq!(m.envelope_to, vec![r.email().to_string()]);
        assert_eq!(m.to, r.email());
        assert_eq!(m.envelope_from, "news@shop.test");
        let h = headers(m);
        let to_lines: Vec<&str> = h
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("to:"))
            .collect();
        assert_eq!(to_lines, vec![format!("To: {}", r.email())]);
        assert!(!h.lines().any(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("cc:") || l.starts_with("bcc:")
        }));
    }
}

#[test]
fn message_id_is_stable_per_campaign_and_recipient() {
    let l = customers();
    let a = composer(draft());
    let again = composer(draft());
    let m1 = a.render(&l, &l.recipients[0]).unwrap();
    let m2 = again.render(&l, &l.recipients[0]).unwrap();
    assert_eq!(m1.message_id, m2.message_id);
    assert_eq!(m1.raw, m2.raw, "same input, same bytes");
    let other = a.render(&l, &l.recipients[1]).unwrap();
    assert_ne!(m1.message_id, other.message_id);
    let c2 = composer(Draft {
        campaign_id: "summer-2026".into(),
        ..draft()
    });
    assert_ne!(
        m1.message_id,
        c2.render(&l, &l.recipients[0]).unwrap().message_id
    );
    assert!(
        m1.message_id.ends_with(".spring-2026@shop.test>"),
        "{}",
        m1.message_id
    );
    assert_eq!(
        m1.message_id,
        message_id("spring-2026", "TARO@example.jp", "shop.test")
    );
    assert!(headers(&m1).contains(&format!("Message-ID: {}", m1.message_id)));
}

#[test]
fn list_unsubscribe_headers_carry_a_per_recipient_token() {
    let d = Draft {
        unsubscribe_mailto: Some("mailto:unsubscribe@shop.test?subject=unsubscribe".into()),
        unsubscribe_url: Some("https://shop.test/unsubscribe?t={token}".into()),
        unsubscribe_key: Some(UnsubscribeKey::from_bytes([9; 32])),
        ..draft()
    };
    let l = customers();
    let m = composer(d.clone()).render(&l, &l.recipients[0]).unwrap();
    let token = UnsubscribeKey::from_bytes([9; 32]).token("spring-2026", "taro@example.jp");
    assert_eq!(token.len(), 32);
    let h = headers(&m).replace("\r\n ", " ");
    assert!(
        h.contains(&format!(
            "List-Unsubscribe: <mailto:unsubscribe@shop.test?subject=unsubscribe>, <https://shop.test/unsubscribe?t={token}>"
        )),
        "{h}"
    );
    assert!(h.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));

    // Without the install's key (preview, checklist) no real token is made.
    let preview = Draft {
        unsubscribe_key: None,
        ..d
    };
    let h = headers(&composer(preview).render(&l, &l.recipients[0]).unwrap()).replace("\r\n ", " ");
    assert!(h.contains(&format!("t={PREVIEW_TOKEN}>")), "{h}");
    assert!(!h.contains(&token));

    // mailto only: no one-click header (RFC 8058 needs an HTTPS URL).
    let d = Draft {
        unsubscribe_mailto: Some("unsubscribe@shop.test".into()),
        ..draft()
    };
    let h = headers(&composer(d).render(&l, &l.recipients[0]).unwrap());
    assert!(h.contains("List-Unsubscribe: <mailto:unsubscribe@shop.test>"));
    assert!(!h.contains("List-Unsubscribe-Post"));

    let bad = Draft {
        unsubscribe_url: Some("http://shop.test/u".into()),
        ..draft()
    };
    assert_eq!(
        Composer::new(bad).err().unwrap().code,
        ErrorCode::InvalidCampaign
    );
}

#[test]
fn japanese_subject_is_rfc2047_encoded() {
    let l = customers();
    let m = composer(draft()).render(&l, &l.recipients[0]).unwrap();
    assert_eq!(m.subject, "山田 太郎様へのお知らせ");
    let h = headers(&m);
    let subject: String = h
        .split("\r\n")
        .skip_while(|l| !l.starts_with("Subject:"))
        .take_while(|l| l.starts_with("Subject:") || l.starts_with(' '))
        .collect();
    assert!(subject.contains("=?utf-8?b?"), "{subject}");
    assert!(h.is_ascii());
    assert!(
        h.contains("From: \"Shop Test\" <news@shop.test>")
            || h.contains("From: Shop Test <news@shop.test>"),
        "{h}"
    );
    assert!(h.contains("Date: "));
}

#[test]
fn attachments_common_and_per_recipient() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/compose");
    let d = Draft {
        attachments: vec![Attachment::from_bytes(
            "coupon.txt",
            std::fs::read(dir.join("coupon.txt")).unwrap(),
        )],
        attachment_column: Some("請求書".into()),
        attachment_dir: Some(dir),
        html: Some("<p>{{ 氏名 }}</p>".into()),
        ..draft()
    };
    let l = list(
        &["氏名", "請求書"],
        &[
            ("taro@example.jp", &["山田 太郎", "invoice-taro.txt"]),
            ("hanako@example.jp", &["佐藤 花子", "missing.pdf"]),
            ("evil@example.jp", &["x", "../../Cargo.toml"]),
        ],
    );
    let out = compose::render_all(&composer(d), &l);
    let m = out[0].as_ref().unwrap();
    let names: Vec<&str> = m.attachments.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(names, vec!["coupon.txt", "invoice-taro.txt"]);
    let r = raw(m);
    assert!(r.contains("multipart/mixed") && r.contains("multipart/alternative"));
    assert!(
        r.contains("filename=\"coupon.txt\"") && r.contains("filename=\"invoice-taro.txt\""),
        "{r}"
    );
    let (row, e) = out[1].as_ref().unwrap_err();
    assert_eq!((*row, e.code), (3, ErrorCode::Io));
    assert!(e.message.contains("missing.pdf"));
    let (_, e) = out[2].as_ref().unwrap_err();
    assert!(
        e.message.contains("inside the attachment folder"),
        "{}",
        e.message
    );
}

#[test]
fn invalid_recipient_address_fails_that_row() {
    let l = list(&["氏名"], &[("not an address", &["x"])]);
    let e = composer(draft()).render(&l, &l.recipients[0]).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidAddress);
    let bad_sender = Draft {
        from_address: "nobody".into(),
        ..draft()
    };
    assert_eq!(
        Composer::new(bad_sender).err().unwrap().code,
        ErrorCode::InvalidAddress
    );
}

#[test]
fn draft_from_campaign_reads_templates_and_attachments() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/campaign.toml");
    let campaign = mergeguard::campaign::Campaign::load(&path).expect("example campaign loads");
    let d = Draft::from_campaign(&campaign).expect("draft");
    assert!(
        d.campaign_id.starts_with('c') && d.campaign_id.len() == 17,
        "{}",
        d.campaign_id
    );
    assert!(d.text.contains("{{"));
    assert!(d.html.is_some());
    assert_eq!(d.attachments.len(), 1);
    assert!(d.unsubscribe_url.as_deref().unwrap().contains("{token}"));
    let again = mergeguard::campaign::Campaign::load(&path).unwrap();
    assert_eq!(
        Draft::from_campaign(&again).unwrap().campaign_id,
        d.campaign_id
    );
    Composer::new(d).expect("example templates compile");
}

// --- line endings: a bare CR in a merge value (SMTP smuggling) ------------------------------

#[path = "common_send/mod.rs"]
mod common_send;

/// A merge value holding a whole smuggled SMTP transaction written with bare CRs. The
/// message is built, its bytes checked, and it is handed to the real Postfix: exactly one
/// message arrives, with the would-be commands as text of its body.
#[test]
fn a_smuggled_transaction_in_a_merge_value_arrives_as_text_of_one_message() {
    use mergeguard::send::{Delivery, Outgoing, Relay, SmtpRelay};

    let marker = common_send::unique("smuggle");
    let smuggled = format!(
        "{marker}\r.\rMAIL FROM:<evil@attacker.test>\rRCPT TO:<victim@example.jp>\rDATA\r\
         Subject: smuggled {marker}\r\rgotcha\r.\r"
    );
    let l = list(
        &["name", "email", "note"],
        &[("taro@example.jp", &["Taro", "taro@example.jp", &smuggled])],
    );
    let mut d = draft();
    d.campaign_id = marker.clone();
    d.subject = "Line endings".into();
    d.text = "Dear {{ name }},\n{{ note }}\nEnd of message.\n".into();
    d.html = Some("<p>{{ note }}</p>\n".into());
    let m = composer(d).render(&l, &l.recipients[0]).expect("renders");
    assert_eq!(
        mergeguard::preflight::content::first_bare_line_break(&m.raw),
        None
    );
    assert!(!m.text.contains('\r'), "{:?}", m.text);

    let relay = SmtpRelay::new(common_send::starttls_settings()).unwrap();
    let out = Outgoing {
        row: m.row,
        message_id: m.message_id.clone(),
        envelope_from: m.envelope_from.clone(),
        envelope_to: m.envelope_to.clone(),
        raw: m.raw.clone(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let delivery = rt.block_on(async {
        let mut session = relay.open().await.expect("Postfix session");
        let d = relay.deliver(&mut session, &out).await;
        <SmtpRelay as Relay>::close(session).await;
        d
    });
    assert!(
        matches!(delivery, Delivery::Accepted { .. }),
        "{delivery:?}"
    );

    // Postfix delivers asynchronously: wait for the message, then a moment more for a
    // second one that must not come.
    let files_with = |needle: &str| -> Vec<String> {
        let dir = common_send::maildir().join("new");
        std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| std::fs::read(e.path()).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .filter(|t| t.contains(needle))
                    .collect()
            })
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while files_with(&marker).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let arrived = files_with(&marker);
    assert_eq!(
        arrived.len(),
        1,
        "expected one message, got {}",
        arrived.len()
    );
    let text = &arrived[0];
    assert!(text.contains(&m.message_id), "{text}");
    // The smuggled lines are body text of the one message (the lone dot dot-stuffed by
    // SMTP and unstuffed by Postfix), and nothing after them was cut off.
    assert!(
        text.contains(
            "\n.\r\nMAIL FROM:<evil@attacker.test>\r\nRCPT TO:<victim@example.jp>\r\nDATA\r\n"
        ) || text
            .contains("\n.\nMAIL FROM:<evil@attacker.test>\nRCPT TO:<victim@example.jp>\nDATA\n"),
        "{text}"
    );
    assert!(text.contains("End of message."), "{text}");
    // The would-be Subject stayed in the body: the header section is the message's own.
    let head = text
        .lines()
        .take_while(|l| !l.trim_end_matches('\r').is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(head.contains("Subject: Line endings"), "{head}");
    assert!(!head.contains("smuggled"), "{head}");
}
