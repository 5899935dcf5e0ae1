//! PROXY protocol v1 and v2 headers (`net::proxy::parse`), as the first
//! octets a trusted proxy sends.
//!
//! Beyond "no panic": a complete header's length is within the input, and
//! every shorter prefix of it is `Incomplete` (the reader peeks at growing
//! prefixes, so an early verdict would consume the wrong octets).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mbox_imapd::net::proxy::{Parse, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(Parse::Done(_, n)) = parse(data) else {
        return;
    };
    assert!(
        n > 0 && n <= data.len(),
        "header length {n} of {}",
        data.len()
    );
    // v2 headers may be 64 KiB: look at every prefix near the ends.
    let prefixes = (0..n.min(128)).chain(n.saturating_sub(128).max(128)..n);
    for len in prefixes {
        assert_eq!(
            parse(&data[..len]),
            Ok(Parse::Incomplete),
            "prefix of {len} octets of a {n}-octet header"
        );
    }
});
