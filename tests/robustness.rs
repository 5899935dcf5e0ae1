//! Malformed and oversized mailboxes: the server must answer correctly (or refuse
//! cleanly) and keep the session alive. Fixtures are described in fixtures/README.md;
//! the 10 MB header and the MIME bomb are generated here so they are never committed.

mod common;

use std::time::Duration;

use common::fetch::{bad_line_end, fetches, parse_fetch};
use common::{Inbox, Session, fixture_bytes};

/// RFC 3501 §4.3 forbids NUL in literals (CHAR8 = %x01-ff). UW's `ptext` sends 0x80
/// instead, keeping the size: so do we (mbox-format.md §3 uses the same byte on APPEND).
#[test]
fn nul_bytes_go_out_as_0x80_and_keep_the_size() {
    let mut s = Session::start(Inbox::Fixture("nul-bytes.mbox"));
    s.ok("a1 EXAMINE INBOX");
    let r = s.ok("a2 FETCH 1 (RFC822.SIZE BODY[] BODY[TEXT])");
    let f = parse_fetch(&r[0]).expect("a FETCH response");
    let body = f.section("");
    assert_eq!(
        Some(body.len() as u32),
        f.size,
        "RFC822.SIZE is the literal's length"
    );
    assert!(!body.contains(&0), "no NUL may reach the client");
    let text = f.section("TEXT");
    assert_eq!(
        text, b"Hello\x801\r\n\x80\x80 three NULs above, one in the line before\r\n",
        "each NUL becomes one 0x80"
    );
    let r = s.ok("a3 FETCH 2 BODY[HEADER.FIELDS (SUBJECT)]");
    assert_eq!(
        parse_fetch(&r[0])
            .expect("FETCH")
            .section("HEADER.FIELDS (SUBJECT)"),
        b"Subject: two\r\n\r\n"
    );
    s.finish();
}

/// Random bytes (with CR, NUL, 8-bit) in a body declared base64/UTF-8.
#[test]
fn binary_garbage_is_served_and_searched_without_harm() {
    let mut s = Session::start(Inbox::Fixture("binary-garbage.mbox"));
    let r = s.ok("a1 EXAMINE INBOX");
    assert!(
        r.iter().any(|x| x.number_before("EXISTS") == Some(2)),
        "{r:?}"
    );
    let r = s.ok("a2 FETCH 1 (RFC822.SIZE BODY[] BODYSTRUCTURE)");
    let f = parse_fetch(&r[0]).expect("FETCH");
    let body = f.section("");
    assert_eq!(Some(body.len() as u32), f.size);
    assert_eq!(bad_line_end(body), None, "wire form: CRLF only, no NUL");
    // Searching must decode what it can and never fail on the rest.
    let r = s.ok("a3 SEARCH BODY zzzzqqqq");
    assert_eq!(r[0].search_numbers(), Some(vec![]));
    s.ok("a4 SEARCH CHARSET UTF-8 TEXT garbage");
    let r = s.ok("a5 SEARCH SUBJECT garbage");
    assert_eq!(r[0].search_numbers(), Some(vec![1]));
    let r = s.ok("a6 FETCH 2 BODY[TEXT]");
    assert_eq!(
        parse_fetch(&r[0]).expect("FETCH").section("TEXT"),
        b"Hello 2\r\n"
    );
    s.finish();
}

/// Raw ISO-8859-1 bytes in a header must be sent as a literal (RFC 3501 §4.3: a quoted
/// string holds 7-bit TEXT-CHARs only), byte for byte.
#[test]
fn raw_8bit_header_goes_out_as_literal_unchanged() {
    let mut s = Session::start(Inbox::Fixture("encoded-headers.mbox"));
    s.ok("a1 EXAMINE INBOX");
    let r = s.ok("a2 FETCH 4 (BODY[HEADER.FIELDS (SUBJECT)] ENVELOPE)");
    let f = parse_fetch(&r[0]).expect("FETCH");
    assert_eq!(
        f.section("HEADER.FIELDS (SUBJECT)"),
        b"Subject: raw Latin-1 header: Gr\xf6\xdfe\r\n\r\n"
    );
    assert!(f.has_envelope);
    let subject_literal = b"{25}\r\nraw Latin-1 header: Gr\xf6\xdfe";
    assert!(
        r[0].raw
            .windows(subject_literal.len())
            .any(|w| w == subject_literal),
        "ENVELOPE subject as a literal: {:?}",
        r[0]
    );
    s.finish();
}

/// A partial fetch is a window on the CRLF form (RFC 3501 §6.4.5), even when it starts
/// or ends between the CR and the LF of a line end.
#[test]
fn partial_fetch_is_a_window_on_the_crlf_form() {
    for (fixture, seq) in [("uw-session.mbox", 30), ("crlf-line-endings.mbox", 1)] {
        let mut s = Session::start(Inbox::Fixture(fixture));
        s.ok("a1 EXAMINE INBOX");
        let r = s.ok(&format!("a2 FETCH {seq} BODY.PEEK[]"));
        let full = parse_fetch(&r[0]).expect("FETCH").section("").to_vec();
        let len = full.len();
        let mut origins: Vec<usize> = (0..len).step_by(17).collect();
        // Every CR and LF position of the first lines, and the ends.
        origins.extend(
            full.iter()
                .take(200)
                .enumerate()
                .filter(|(_, b)| **b == b'\r' || **b == b'\n')
                .map(|(i, _)| i),
        );
        origins.extend([len.saturating_sub(1), len, len + 10]);
        for (n, origin) in origins.into_iter().enumerate() {
            for count in [1usize, 2, 3, 50] {
                let r = s.ok(&format!(
                    "p{n}x{count} FETCH {seq} BODY.PEEK[]<{origin}.{count}>"
                ));
                let got = parse_fetch(&r[0])
                    .expect("FETCH")
                    .section(&format!("<{origin}>"))
                    .to_vec();
                let want = full
                    .get(origin..(origin + count).min(len))
                    .unwrap_or_default();
                assert_eq!(
                    got, want,
                    "{fixture} message {seq}: BODY[]<{origin}.{count}>"
                );
            }
        }
        s.finish();
    }
}

/// One message whose header is 10 MB (one 5 MB unfolded line and 5 MB of folded
/// continuation lines), then a normal message. Everything still works and stays quick.
#[test]
fn ten_megabyte_header() {
    const HALF: usize = 5 * 1024 * 1024;
    let mut mbox = Vec::with_capacity(2 * HALF + 4096);
    mbox.extend_from_slice(b"From huge@example.org Mon Jan  5 10:00:00 2015\n");
    mbox.extend_from_slice(b"From: Huge <huge@example.org>\nX-Long-Line: ");
    mbox.extend(std::iter::repeat_n(b'x', HALF));
    mbox.extend_from_slice(b"\nX-Folded: start\n");
    let fold = b"\tcontinuation line of a very long folded header field, 64 bytes\n";
    for _ in 0..HALF / fold.len() {
        mbox.extend_from_slice(fold);
    }
    mbox.extend_from_slice(
        b"Subject: after the huge header\nMessage-ID: <huge@example.org>\n\nsmall body\n\n",
    );
    let from_line = mbox.iter().position(|&b| b == b'\n').expect("a From_ line") + 1;
    let first_len = mbox.len() - 1; // minus the separator line
    let header_len = first_len - b"small body\n".len();
    let two_more = fixture_bytes("leading-blank-lines.mbox");
    let start = two_more
        .windows(5)
        .position(|w| w == b"From ")
        .expect("a From_ line");
    mbox.extend_from_slice(&two_more[start..]);
    let crlf_len = |bytes: &[u8]| bytes.len() + bytes.iter().filter(|&&b| b == b'\n').count();

    let mut s = Session::start(Inbox::Bytes(&mbox));
    s.set_timeout(Duration::from_secs(120));
    let r = s.ok("a1 SELECT INBOX");
    assert!(
        r.iter().any(|x| x.number_before("EXISTS") == Some(3)),
        "{r:?}"
    );
    let r = s.ok("a2 FETCH 1 (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])");
    let f = parse_fetch(&r[0]).expect("FETCH");
    assert_eq!(f.size, Some(crlf_len(&mbox[from_line..first_len]) as u32));
    assert_eq!(
        f.section("HEADER.FIELDS (SUBJECT)"),
        b"Subject: after the huge header\r\n\r\n"
    );
    assert_eq!(f.section("TEXT"), b"small body\r\n");
    let r = s.ok("a3 FETCH 1 BODY.PEEK[HEADER]");
    let header = parse_fetch(&r[0]).expect("FETCH").section("HEADER").len();
    assert_eq!(header, crlf_len(&mbox[from_line..header_len]));
    let r = s.ok("a4 FETCH 1 ENVELOPE");
    assert!(
        r[0].text().contains("\"after the huge header\""),
        "{:?}",
        r[0].line()
    );
    let r = s.ok("a5 SEARCH SUBJECT \"after the huge\"");
    assert_eq!(r[0].search_numbers(), Some(vec![1]));
    let r = s.ok("a6 FETCH 2:3 BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
    let subjects: Vec<Vec<u8>> = fetches(&r)
        .iter()
        .map(|f| f.section("HEADER.FIELDS (SUBJECT)").to_vec())
        .collect();
    assert_eq!(
        subjects,
        vec![
            b"Subject: one\r\n\r\n".to_vec(),
            b"Subject: two\r\n\r\n".to_vec()
        ]
    );
    s.finish();
}

/// 5,000 nested multipart levels: BODYSTRUCTURE must not overflow the stack or grow
/// without bound. The answer is deeper than imap-codec's own 8-level limit, so it is
/// read unchecked; the session must then go on normally.
#[test]
fn mime_nesting_bomb() {
    const DEPTH: usize = 5_000;
    let mut mbox = b"From bomb@example.org Mon Jan  5 10:00:00 2015\nSubject: bomb\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b0\"\n\n".to_vec();
    for level in 1..=DEPTH {
        mbox.extend_from_slice(
            format!(
                "--b{}\nContent-Type: multipart/mixed; boundary=\"b{level}\"\n\n",
                level - 1
            )
            .as_bytes(),
        );
    }
    mbox.extend_from_slice(format!("--b{DEPTH}\nContent-Type: text/plain\n\ndeep\n").as_bytes());
    for level in (0..=DEPTH).rev() {
        mbox.extend_from_slice(format!("--b{level}--\n").as_bytes());
    }
    mbox.push(b'\n');

    let mut s = Session::start(Inbox::Bytes(&mbox));
    s.set_timeout(Duration::from_secs(60));
    s.ok("a1 EXAMINE INBOX");
    for (tag, item) in [
        ("a2", "BODYSTRUCTURE"),
        ("a3", "BODY"),
        ("a4", "BODY.PEEK[1.1.1.1.1.1.1.1.1.1]"),
    ] {
        let r = s.command_unchecked(&format!("{tag} FETCH 1 {item}"));
        let status = r.last().map(|x| x.status()).unwrap_or_default();
        assert!(
            status == "OK" || status == "NO",
            "{tag} FETCH 1 {item}: {:?}",
            r.last()
        );
    }
    let r = s.ok("a5 SEARCH BODY deep");
    assert!(r[0].search_numbers().is_some());
    s.ok("a6 NOOP");
    s.finish();
}

/// Section numbers the message does not have: an answer (RFC 3501 leaves its content
/// open: UW sends an empty string), never BAD and never a dead session.
#[test]
fn nonexistent_body_parts() {
    let mut s = Session::start(Inbox::Fixture("nested-mime.mbox"));
    s.ok("a1 EXAMINE INBOX");
    for (n, section) in ["9", "1.9", "2.1.1", "4.MIME", "1.1.1.HEADER", "3.9.TEXT"]
        .iter()
        .enumerate()
    {
        let r = s.command(&format!("b{n} FETCH 1 BODY.PEEK[{section}]"));
        let status = r.last().map(|x| x.status()).unwrap_or_default();
        assert!(
            status == "OK" || status == "NO",
            "BODY[{section}]: {:?}",
            r.last()
        );
    }
    s.ok("a2 NOOP");
    s.finish();
}

/// RFC 3516 BINARY sends the real octets: NUL goes out as NUL, in a `literal8`
/// (`~{n}`), where BODY[] substitutes 0x80 in an ordinary literal.
#[test]
fn binary_sends_nul_in_a_literal8() {
    let mut s = Session::start(Inbox::Fixture("nul-bytes.mbox"));
    s.ok("a1 EXAMINE INBOX");
    let r = s.ok("a2 FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BODY.PEEK[TEXT])");
    let line = r[0].line();
    assert!(
        line.starts_with("* 1 FETCH (BINARY.SIZE[1] 54 BINARY[1] ~{54}"),
        "{line}"
    );
    let literals = r[0].literals();
    let text = b"Hello\x001\r\n\x00\x00 three NULs above, one in the line before\r\n";
    assert_eq!(literals[0], text);
    assert_eq!(literals[1], text.map(|b| if b == 0 { 0x80 } else { b }));
    // A window with a NUL is a literal8, one without an ordinary literal.
    let r = s.ok("a3 FETCH 1 BINARY.PEEK[1]<5.3>");
    assert!(
        r[0].line().contains("BINARY[1]<5> ~{3}"),
        "{:?}",
        r[0].line()
    );
    let r = s.ok("a4 FETCH 1 BINARY.PEEK[1]<0.5>");
    assert!(
        r[0].line().contains("BINARY[1]<0> {5}"),
        "{:?}",
        r[0].line()
    );
    s.finish();
}

/// A 40 MB attachment (base64 in the mailbox, 54 MB) is decoded as it is sent:
/// the server's peak memory stays near the mapped mailbox, far below mailbox +
/// decoded part, and a partial fetch decodes only what it needs.
#[test]
fn binary_fetch_of_a_40_megabyte_part_streams() {
    use base64::Engine;

    const DECODED: usize = 40 * 1024 * 1024;
    let data: Vec<u8> = (0..DECODED).map(|i| (i ^ (i >> 11)) as u8).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&data);
    let mut mbox = Vec::with_capacity(encoded.len() * 77 / 76 + 4096);
    mbox.extend_from_slice(
        b"From big@example.org Mon Jan  5 10:00:00 2015\n\
From: Big <big@example.org>\nSubject: a big attachment\n\
Content-Type: multipart/mixed; boundary=b\n\n--b\n\n\
see the attachment\n--b\nContent-Type: application/octet-stream\n\
Content-Transfer-Encoding: base64\n\n",
    );
    for line in encoded.as_bytes().chunks(76) {
        mbox.extend_from_slice(line);
        mbox.push(b'\n');
    }
    mbox.extend_from_slice(b"--b--\n\n");
    drop(encoded);

    let mut s = Session::start(Inbox::Bytes(&mbox));
    s.set_timeout(Duration::from_secs(300));
    s.ok("a1 EXAMINE INBOX");
    let r = s.ok("a2 FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2]<1000.24>)");
    assert!(
        r[0].line().starts_with(&format!(
            "* 1 FETCH (BINARY.SIZE[2] {DECODED} BINARY[2]<1000> "
        )),
        "{:?}",
        r[0].line()
    );
    assert_eq!(r[0].literals()[0], &data[1000..1024]);
    let r = s.ok("a3 FETCH 1 BINARY.PEEK[2]");
    assert!(r[0].literals()[0] == &data[..], "the decoded part, exactly");
    drop(r);
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.server_pid()))
        .expect("/proc/PID/status");
    let peak_kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    let mailbox_kib = mbox.len() / 1024;
    eprintln!(
        "BINARY of a {} KiB part: server peak RSS {peak_kib} KiB, mailbox {mailbox_kib} KiB",
        DECODED / 1024
    );
    // A decoded copy would add 40 MB on top of the mapped mailbox.
    assert!(
        peak_kib < mailbox_kib + 16 * 1024,
        "peak RSS {peak_kib} KiB with a {mailbox_kib} KiB mailbox"
    );
    s.finish();
}
