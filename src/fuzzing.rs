//! Entry points for the coverage-guided fuzz targets in `fuzz/` (cargo-fuzz).
//!
//! Not part of the server's API: hidden from the docs, and only what a fuzz
//! target cannot reach through the public modules is here. Everything else
//! the targets call (`session::framer`, `parser::parse_command`,
//! `mailstore::Mailbox`, `mime::*`, `config::parse`, `net::proxy::parse`,
//! `auth::sasl`) is public already.

use crate::command::fetch::{FetchMessage, Implicit, write_message};
use crate::mailstore::{MessageEntry, MessageView};
use crate::mime::Cache;
use crate::parser::ast::{CommandBody, FetchAttribute};
use crate::response::ResponseWriter;
use crate::types::{SystemFlags, Uid};

/// The FETCH items [`fetch_response`] renders: every item that walks the
/// MIME tree or the envelope, on the whole message and on nested parts.
pub const FETCH_ITEMS: &[u8] = b"(ENVELOPE BODY BODYSTRUCTURE RFC822.SIZE \
BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY.PEEK[TEXT]<0.64> BODY.PEEK[1] BODY.PEEK[1.MIME] \
BODY.PEEK[2.HEADER] BODY.PEEK[1.2.TEXT] BODY.PEEK[3]<1.10> BINARY.PEEK[1] BINARY.PEEK[2.1]<0.32> \
BINARY.SIZE[1] BINARY.SIZE[2])";

/// [`FETCH_ITEMS`] as the parser reads them (parsed per call: the targets
/// are what is slow, not this).
pub fn fetch_items() -> Vec<FetchAttribute> {
    let mut line = b"f FETCH 1 ".to_vec();
    line.extend_from_slice(FETCH_ITEMS);
    line.extend_from_slice(b"\r\n");
    match crate::parser::parse_command(&line).map(|c| c.body) {
        Ok(CommandBody::Fetch { items, .. }) => items,
        _ => Vec::new(),
    }
}

/// The `* 1 FETCH (...)` line FETCH would send for a message stored as
/// `raw` (header and body, no From_ line), with `items`: the path through
/// `mime::parse`, `Envelope::parse` and the BODY/BODYSTRUCTURE writer.
pub fn fetch_response(raw: &[u8], items: &[FetchAttribute]) -> Vec<u8> {
    let (_, body) = crate::mime::structure::split_header(raw, 0..raw.len());
    let view = MessageView {
        raw,
        header_length: body.start,
    };
    let message = FetchMessage {
        visible_header: view.visible_header(),
        view,
    };
    let entry = MessageEntry {
        uid: Uid(std::num::NonZeroU32::MIN),
        flags: SystemFlags::default(),
        keywords: 0,
        internal_date: 0,
        zone_minutes: 0,
        rfc822_size: 0,
        offset: 0,
        length: u32::try_from(raw.len()).unwrap_or(u32::MAX),
        header_length: u32::try_from(body.start).unwrap_or(u32::MAX),
    };
    let mut out = ResponseWriter::new(Vec::new());
    let mut cache = Cache::default();
    // Writing into a Vec cannot fail.
    let _ = write_message(
        &mut out,
        1,
        &message,
        &entry,
        &[],
        items,
        Implicit::default(),
        &mut cache,
    );
    out.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_items_parse_every_item() {
        // 15 items in FETCH_ITEMS: an empty list would make the targets
        // render nothing.
        assert_eq!(fetch_items().len(), 15);
    }

    #[test]
    fn fetch_response_renders_structure_and_sections() {
        let raw = b"Subject: hi\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
Content-Type: text/plain\n\none\n--b\nContent-Type: message/rfc822\n\n\
Subject: inner\n\ntwo\n--b--\n";
        let out = fetch_response(raw, &fetch_items());
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("* 1 FETCH (ENVELOPE (NIL \"hi\" "),
            "{text}"
        );
        assert!(
            text.contains("BODYSTRUCTURE ((\"TEXT\" \"PLAIN\""),
            "{text}"
        );
        assert!(
            text.contains("BODY[2.HEADER] {18}\r\nSubject: inner\r\n\r\n"),
            "{text}"
        );
        assert!(text.ends_with(")\r\n"), "{text}");
    }

    /// Inputs on which the `mailbox` and `mime` fuzz targets (fuzz/) timed
    /// out: FETCH ENVELOPE looped for ever on a control octet in an address
    /// list (fixed in mime::envelope's lexer). Each must render at once.
    #[test]
    fn fuzz_timeouts_render() {
        let mailbox: &[u8] = b"From alice@example.org Mon Jan  5 10:00:00 2015\n\
From: Alice <alice@example.org>\n\
To: bob@example.org\n\
Subject: on.org Tue Jan  6 11:30:15 2015\n\
From: Carol <carol@example.org>\n\
To: bob@example.org\x0bSubject: two\n\
Date: Tue, 6 Jan 2015 11:30:15 +0000\n\
Message-ID: <m-2@example.org>\n\
\n\
Hello 2\n\
From bob@example.org Tue Jan  6 11:30:15 2015";
        let message: &[u8] = b"From: Zed Appender <zed@example.org>\n\
To: benchuser@example.org\n\
Subject: appended by the session\n\
Date: Mon, 2 Nov 2026 09:00:00 +0000\n\
Message-ID: <append-1@example.org>\n\
Status: \x87\x17\x00\x00\x00\x00\x00\x00tus: \n\
X-Keywords:                 \n\
X-UID: 31\n\
\n\
>From the appender, a body line that starts with From.\n\
Bye.\n\
\n\
";
        for data in [mailbox, message] {
            let out = fetch_response(data, &fetch_items());
            assert!(out.starts_with(b"* 1 FETCH (ENVELOPE ("));
            assert!(out.ends_with(b")\r\n"));
        }
    }
}
