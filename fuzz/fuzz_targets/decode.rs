//! The SEARCH text decoders (`mime::decode`): RFC 2047 header words,
//! quoted-printable, base64, declared charsets, and the needle matcher.
//!
//! Input: up to the first NUL is a charset label (and the SEARCH needle),
//! the rest the encoded text. Beyond "no panic": decoding in pieces (where
//! `quoted_printable_piece_len` / the streaming base64 decoder allow it)
//! gives the same octets as decoding at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mbox_imapd::mime::decode::{
    Base64Decoder, LineBreak, TextNeedle, TransferEncoding, body_text_matches, decode_base64,
    decode_charset, decode_header_value, decode_quoted_printable, decode_quoted_printable_into,
    is_utf8_compatible, quoted_printable_piece_len, unfold,
};

fuzz_target!(|data: &[u8]| {
    let (label, text) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let label = String::from_utf8_lossy(label);
    let charset = (!label.is_empty()).then_some(&*label);

    let _ = decode_header_value(text);
    let _ = unfold(text);
    let _ = decode_charset(text, charset);
    let _ = is_utf8_compatible(charset);

    // Quoted-printable, whole and in pieces.
    let whole = decode_quoted_printable(text);
    for line_break in [LineBreak::Lf, LineBreak::CrLf] {
        let mut at_once = Vec::new();
        decode_quoted_printable_into(text, line_break, &mut at_once);
        let mut pieces = Vec::new();
        let mut rest = text;
        let target = text.len() / 3 + 1;
        while !rest.is_empty() {
            let n = quoted_printable_piece_len(rest, target);
            assert!(
                n > 0 && n <= rest.len(),
                "piece length {n} of {}",
                rest.len()
            );
            decode_quoted_printable_into(&rest[..n], line_break, &mut pieces);
            rest = &rest[n..];
        }
        assert_eq!(
            at_once, pieces,
            "quoted-printable differs when decoded in pieces"
        );
        if line_break == LineBreak::Lf {
            assert_eq!(whole, at_once);
        }
    }

    // Base64, whole and streamed in chunks of every size up to 7.
    let whole = decode_base64(text);
    for chunk in 1..8 {
        let mut decoder = Base64Decoder::default();
        let mut out = Vec::new();
        for piece in text.chunks(chunk) {
            decoder.push(piece, &mut out);
        }
        assert_eq!(
            whole, out,
            "base64 differs when pushed {chunk} octets at a time"
        );
    }

    let needle = TextNeedle::new(&label);
    for encoding in [
        TransferEncoding::Identity,
        TransferEncoding::QuotedPrintable,
        TransferEncoding::Base64,
    ] {
        let _ = body_text_matches(text, encoding, charset, &needle);
    }
    let _ = TransferEncoding::from_header_value(text);
    let _ = TransferEncoding::known(text);
});
