//! The command path: arbitrary client bytes through the framer
//! (`session::framer`), then every complete command through
//! `parser::parse_command`.
//!
//! Input: byte 0 picks the limits (not authenticated, authenticated,
//! LITERAL-) and byte 1 the chunk size the rest is pushed in. Checks beyond
//! "no panic": framing in chunks yields the same frames as one push, and no
//! frame exceeds the command limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mbox_imapd::parser::parse_command;
use mbox_imapd::session::framer::{Frame, Framer, LITERAL_MINUS_MAX, Limits};

fn limits(selector: u8) -> Limits {
    match selector % 3 {
        0 => Limits::NOT_AUTHENTICATED,
        1 => Limits::AUTHENTICATED,
        _ => Limits {
            max_nonsync_literal: LITERAL_MINUS_MAX,
            ..Limits::NOT_AUTHENTICATED
        },
    }
}

/// Every frame `input` yields when pushed `chunk` octets at a time.
fn frames(limits: Limits, input: &[u8], chunk: usize) -> Vec<Frame> {
    let mut framer = Framer::new(limits);
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        framer.push(piece);
        while let Some(frame) = framer.next() {
            out.push(frame);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [selector, chunk, input @ ..] = data else {
        return;
    };
    let limits = limits(*selector);
    let whole = frames(limits, input, input.len());
    let chunked = frames(limits, input, usize::from(*chunk % 16) + 1);
    assert_eq!(whole, chunked, "framing depends on how the input was split");
    for frame in &whole {
        if let Frame::Command(bytes) = frame {
            assert!(bytes.len() as u64 <= limits.max_command + limits.max_line as u64);
            if let Err(e) = parse_command(bytes) {
                let _ = e.tag();
                let _ = e.to_string();
            }
        }
    }
});
