//! The campaign draft the render and pre-flight benches share: Japanese subject, text and
//! HTML alternative from `examples/`, one attachment, List-Unsubscribe (mailto and URL),
//! and a fixed Date so every run builds the same bytes.

use std::time::{Duration, SystemTime};

use mergeguard::compose::{Attachment, Composer, Draft};

pub fn composer() -> Composer {
    let draft = Draft {
        campaign_id: "bench-2026".into(),
        from_name: "ショップテスト".into(),
        from_address: "news@shop.test".into(),
        reply_to: Some("support@shop.test".into()),
        subject: "{{ 氏名 }}様 冬のセールのご案内".into(),
        text: include_str!("../../examples/newsletter.txt").into(),
        html: Some(include_str!("../../examples/newsletter.html").into()),
        attachments: vec![Attachment::from_bytes(
            "coupon.txt",
            include_bytes!("../../examples/coupon.txt").to_vec(),
        )],
        unsubscribe_mailto: Some("unsubscribe@shop.test".into()),
        unsubscribe_url: Some("https://shop.test/unsubscribe?t={token}".into()),
        ..Draft::default()
    };
    Composer::new(draft)
        .expect("bench draft")
        .with_date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000))
}
