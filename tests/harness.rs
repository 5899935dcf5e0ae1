//! Self-tests of the harness in `common/`: response framing with literals, the
//! imap-codec second opinion and the response accessors. They need no server, so they
//! pass or fail on the harness alone; everything else in tests/ runs the real binary.

mod common;

use common::{Response, check_greeting, check_with_imap_codec, response_len};

#[test]
fn response_len_frames_lines_and_literals() {
    let cases: &[(&[u8], Option<usize>)] = &[
        (b"", None),
        (b"* OK", None),
        (b"* OK done\r\n", Some(11)),
        (b"* OK done\r\nrest", Some(11)),
        (b"* 1 FETCH (BODY[] {5}\r\nab", None),
        (b"* 1 FETCH (BODY[] {5}\r\na\r\nbc)", None),
        (b"* 1 FETCH (BODY[] {5}\r\na\r\nbc)\r\n", Some(31)),
        (b"* 1 FETCH (BODY[] {0}\r\n)\r\n", Some(26)),
        (b"* 1 FETCH (A {2}\r\nxx B {3}\r\nyyy)\r\nz", Some(34)),
        (b"* 1 FETCH (BODY[] {5}\r\na1 OK)\r\n", Some(31)),
        (b"* OK {x}\r\n", Some(10)),
    ];
    for (input, want) in cases {
        assert_eq!(
            response_len(input),
            *want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn codec_check_accepts_valid_and_rejects_invalid() {
    assert!(check_with_imap_codec(b"* 3 EXISTS\r\n").is_ok());
    assert!(check_with_imap_codec(b"* 1 FETCH (BODY[] {3}\r\nabc)\r\n").is_ok());
    assert!(check_with_imap_codec(b"a1 OK [READ-WRITE] SELECT completed\r\n").is_ok());
    assert!(check_with_imap_codec(b"* ID (\"name\" \"x\")\r\n").is_ok());
    assert!(check_with_imap_codec(b"* 1 FETCH (BODY[] {3}\r\na\0c)\r\n").is_err());
    assert!(check_with_imap_codec(b"* FETCH\r\n").is_err());
    // RFC 3516 BINARY items: checked by the harness, the rest by imap-codec.
    let good: [&[u8]; 5] = [
        b"* 1 FETCH (UID 3 BINARY[1.2]<5> ~{3}\r\na\0c FLAGS (\\Seen))\r\n",
        b"* 1 FETCH (BINARY[] {3}\r\nabc BINARY.SIZE[] 3)\r\n",
        b"* 1 FETCH (BINARY.SIZE[3] 0 BINARY[3] \"\")\r\n",
        b"* 1 FETCH (BODY[] {9}\r\nBINARY[1] BINARY.SIZE[1] 9)\r\n",
        b"* 1 FETCH (BINARY[2] NIL)\r\n",
    ];
    for raw in good {
        assert!(check_with_imap_codec(raw).is_ok(), "{raw:?}");
    }
    let bad: [&[u8]; 7] = [
        b"* 1 FETCH (BINARY[1.0] {1}\r\na)\r\n",
        b"* 1 FETCH (BINARY[TEXT] {1}\r\na)\r\n",
        b"* 1 FETCH (BINARY[1] {3}\r\na\0c)\r\n",
        b"* 1 FETCH (BODY[1] ~{3}\r\nabc)\r\n",
        b"* 1 FETCH (BINARY.SIZE[1] x)\r\n",
        b"* 1 FETCH (BINARY[1]<> {1}\r\na)\r\n",
        b"* 1 FETCH (BINARY[1] ~{5}\r\nabc)\r\n",
    ];
    for raw in bad {
        assert!(check_with_imap_codec(raw).is_err(), "{raw:?}");
    }
    assert!(check_with_imap_codec(b"a1 OK\n").is_err());
    // The SORT and THREAD checks that stand in for imap-codec.
    for good in [
        &b"* SORT\r\n"[..],
        b"* SORT 2 3 1\r\n",
        b"* THREAD\r\n",
        b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n",
        b"* THREAD ((3)(5))(1 2)\r\n",
    ] {
        assert!(check_with_imap_codec(good).is_ok(), "{good:?}");
    }
    for bad in [
        &b"* SORT 0\r\n"[..],
        b"* SORT 1  2\r\n",
        b"* THREAD ()\r\n",
        b"* THREAD ((3))\r\n",
        b"* THREAD (1 (2)(3) 4)\r\n",
        b"* THREAD (1\r\n",
        b"* THREAD (1)x\r\n",
    ] {
        assert!(check_with_imap_codec(bad).is_err(), "{bad:?}");
    }
    // The ESEARCH check (RFC 4731, RFC 5267 PARTIAL / ADDTO / REMOVEFROM).
    for good in [
        &b"* ESEARCH (TAG \"a\")\r\n"[..],
        b"* ESEARCH (TAG \"a\") UID MIN 2 COUNT 3 ALL 2:4\r\n",
        b"* ESEARCH (TAG \"a\") PARTIAL (1:5 NIL)\r\n",
        b"* ESEARCH (TAG \"a\") COUNT 5 PARTIAL (2:4 3:4,2)\r\n",
        b"* ESEARCH (TAG \"a\") UID REMOVEFROM (0 7) ADDTO (0 3:5)\r\n",
        b"* ESEARCH (TAG \"a\") ADDTO (1 9 3 4,2)\r\n",
    ] {
        assert!(check_with_imap_codec(good).is_ok(), "{good:?}");
    }
    for bad in [
        &b"* ESEARCH (TAG \"a\") PARTIAL 1:5 NIL\r\n"[..],
        b"* ESEARCH (TAG \"a\") PARTIAL (1:* 3)\r\n",
        b"* ESEARCH (TAG \"a\") PARTIAL (1:5)\r\n",
        b"* ESEARCH (TAG \"a\") ADDTO (1)\r\n",
        b"* ESEARCH (TAG \"a\") ADDTO (1 2 3)\r\n",
        b"* ESEARCH (TAG \"a\") REMOVEFROM 0 7\r\n",
        b"* ESEARCH (TAG \"a\") ADDTO (x 7)\r\n",
        b"* ESEARCH (TAG \"a\") ALL (1)\r\n",
        b"* ESEARCH (TAG \"a\") COUNT\r\n",
        b"* ESEARCH (TAG \"a\")  COUNT 1\r\n",
    ] {
        assert!(check_with_imap_codec(bad).is_err(), "{bad:?}");
    }
    // RFC 5258 CHILDINFO: imap-codec checks the mailbox-list, we the rest.
    let childinfo: &[u8] = b"* LIST (\\Noselect) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n";
    assert!(check_with_imap_codec(childinfo).is_ok());
    let both: &[u8] = b"* LIST () \"/\" a (\"CHILDINFO\" (\"SUBSCRIBED\" \"SPECIAL-USE\"))\r\n";
    assert!(check_with_imap_codec(both).is_ok());
    for bad in [
        &b"* LIST () \"/\" a (\"CHILDINFO\" ())\r\n"[..],
        b"* LIST () \"/\" a (\"CHILDINFO\" (\"REMOTE\"))\r\n",
        b"* LIST () \"/\" a (\"CHILDINFO\" (\"SUBSCRIBED\")\r\n",
        b"* LIST (\\Bad Attr) \"/\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
    ] {
        assert!(
            check_with_imap_codec(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(check_greeting(b"* PREAUTH [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE UNSELECT SASL-IR] mbox-imapd ready, preauthenticated as u\r\n").is_ok());
    assert!(check_greeting(b"* HELLO\r\n").is_err());
}

#[test]
fn response_accessors() {
    let r = Response {
        raw: b"* 2 FETCH (BODY[] {4}\r\nab\r\n UID 3)\r\n".to_vec(),
    };
    assert_eq!(r.number_before("FETCH"), Some(2));
    assert_eq!(r.literals(), vec![&b"ab\r\n"[..]]);
    assert_eq!(r.tag(), None);
    let t = Response {
        raw: b"a7 NO [CANNOT] nope\r\n".to_vec(),
    };
    assert_eq!(t.tag(), Some(&b"a7"[..]));
    assert_eq!(t.status(), "NO");
    let s = Response {
        raw: b"* SEARCH 2 19 29\r\n".to_vec(),
    };
    assert_eq!(s.search_numbers(), Some(vec![2, 19, 29]));
}
