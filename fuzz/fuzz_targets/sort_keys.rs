//! The SORT and THREAD keys: RFC 5256 base subjects (`mime::subject`), the
//! i;unicode-casemap fold, and Date: header parsing (`mime::date`).
//!
//! Beyond "no panic": the base subject of an (ASCII) base subject is itself
//! (RFC 5256 §2.1 strips until nothing more can be stripped), and a parsed date is an
//! instant chrono can represent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mbox_imapd::mime::date::{header_date, header_instant};
use mbox_imapd::mime::subject::{base_of_text, base_subject, casemap};

fuzz_target!(|data: &[u8]| {
    let base = base_subject(data);
    // The key is casemapped (RFC 5051: titlecase, then NFKD) after the
    // RFC 5256 steps, and NFKD can undo them: U+00A0 and U+00B4 become
    // spaces after blanks were trimmed, U+00AA a lowercase "a". So only a
    // plain ASCII subject (no encoded words) must give a key that is its
    // own base subject.
    if data.is_ascii() && !data.windows(2).any(|w| w == b"=?") {
        let again = base_of_text(&base.key);
        assert_eq!(again.key, base.key, "base subject not idempotent");
    }
    let _ = casemap(&String::from_utf8_lossy(data));
    let _ = header_date(data);
    if let Some(t) = header_instant(data) {
        assert!(
            chrono::DateTime::from_timestamp(t, 0).is_some(),
            "instant {t} out of range"
        );
    }
});
