//! Arbitrary text as the configuration file (`config::parse` with
//! `--config`), and as a duration value (`config::parse_duration`).
#![no_main]

use std::ffi::OsString;

use libfuzzer_sys::fuzz_target;
use mbox_imapd::config::{parse, parse_duration};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let args = [
        OsString::from("--config"),
        OsString::from("/fuzz/mbox-imapd.conf"),
    ];
    let result = parse(args, |_| Some(Ok(text.clone())));
    if let Err(e) = result {
        let _ = e.to_string();
    }
    let _ = parse_duration(&text);
});
