//! Arbitrary bytes as one stored message (header and body, no From_ line):
//! `mime::parse` (the MIME tree), `Envelope::parse`, `address_list`,
//! `MimeFields`, and the FETCH writer for ENVELOPE, BODY, BODYSTRUCTURE and
//! nested BODY[...] / BINARY[...] sections.
//!
//! Beyond "no panic": the response is one line of balanced parentheses
//! (outside quoted strings and literals), as a client's parser needs it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mbox_imapd::fuzzing::{fetch_items, fetch_response};
use mbox_imapd::mime::envelope::{Envelope, address_list};
use mbox_imapd::mime::header::{DefaultType, MimeFields};
use mbox_imapd::parser::ast::FetchAttribute;

fn items() -> &'static [FetchAttribute] {
    static ITEMS: OnceLock<Vec<FetchAttribute>> = OnceLock::new();
    ITEMS.get_or_init(fetch_items)
}

/// Checks the response's shape: parentheses balance, quoted strings close,
/// literals `{n}\r\n` are followed by n octets, one CRLF at the very end.
fn check_shape(response: &[u8]) {
    assert!(
        response.starts_with(b"* 1 FETCH ("),
        "{:?}",
        String::from_utf8_lossy(response)
    );
    let mut depth = 0i64;
    let mut i = 0;
    while i < response.len() {
        match response[i] {
            b'"' => {
                i += 1;
                loop {
                    match response.get(i) {
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(b'\r' | b'\n') | None => panic!("unterminated quoted string at {i}"),
                        Some(_) => i += 1,
                    }
                }
            }
            b'{' => {
                let close = response[i..]
                    .iter()
                    .position(|&b| b == b'}')
                    .expect("literal }")
                    + i;
                let n: usize = std::str::from_utf8(&response[i + 1..close])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .expect("literal length");
                assert_eq!(response.get(close + 1..close + 3), Some(&b"\r\n"[..]));
                i = close + 2 + n;
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                assert!(depth >= 0, "unbalanced ) at {i}");
            }
            b'\r' | b'\n' => {
                assert_eq!(
                    &response[i..],
                    b"\r\n",
                    "line break inside the response at {i}"
                );
                break;
            }
            _ => {}
        }
        i += 1;
    }
    assert_eq!(depth, 0, "unbalanced parentheses");
    assert!(response.ends_with(b")\r\n"));
}

fuzz_target!(|data: &[u8]| {
    let tree = mbox_imapd::mime::parse(data);
    let header = data.get(tree.header.clone()).unwrap_or_default();
    let envelope = Envelope::parse(&[header]);
    let _ = format!("{envelope:?}");
    for (_, value) in mbox_imapd::mime::header_fields(header) {
        let _ = address_list(value);
    }
    let _ = MimeFields::parse(header, DefaultType::TextPlain);
    let _ = MimeFields::parse(header, DefaultType::MessageRfc822);
    for path in [&[1u32][..], &[1, 1], &[2, 1, 3]] {
        let _ = mbox_imapd::mime::find_part(&tree, path);
    }
    check_shape(&fetch_response(data, items()));
});
