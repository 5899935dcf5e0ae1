//! The SORT and THREAD keys: RFC 5256 base subjects (`mime::subject`), the
//! i;unicode-casemap fold, and Date: header parsing (`mime::date`).
//!
//! Beyond "no panic": the base subject of a base subject is itself (RFC 5256
//! §2.1 strips until nothing more can be stripped), and a parsed date is an
//! instant chrono can represent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mbox_imapd::mime::date::{header_date, header_instant};
use mbox_imapd::mime::subject::{base_of_text, base_subject, casemap};

fuzz_target!(|data: &[u8]| {
    let base = base_subject(data);
    let again = base_of_text(&base.key);
    assert_eq!(again.key, base.key, "base subject not idempotent");
    let _ = casemap(&String::from_utf8_lossy(data));
    let _ = header_date(data);
    if let Some(t) = header_instant(data) {
        assert!(
            chrono::DateTime::from_timestamp(t, 0).is_some(),
            "instant {t} out of range"
        );
    }
});
