//! IMAP4rev2 (RFC 9051), offered beside IMAP4rev1 and chosen by the client
//! with `ENABLE IMAP4rev2` (RFC 9051 §6.3.1, Appendix A). Until then the
//! session speaks IMAP4rev1 exactly as before; afterwards the
//! [`ResponseWriter`](crate::response::ResponseWriter) carries
//! [`Revision::Rev2`] and the few places that differ ask it. This module holds
//! the session-level part: the revision's grammar differences on the way in
//! ([`check_grammar`]) and UTF-8 mailbox names ([`stored_names`]).
//!
//! # RFC 9051 Appendix E, line by line
//!
//! Each of the appendix's 30 items ("Changes from RFC 3501"), and where it
//! stands. "Already" means it held before IMAP4rev2 was offered, for both
//! revisions; transcripts are tests/transcripts/rev2-*.imap.
//!
//! 1. 64-bit message and body part sizes: deliberately not. Appendix D:
//!    "Server implementations don't have to support 63-bit-long body
//!    parts/message sizes". Sizes are 32-bit here (APPENDLIMIT is far below).
//!    What the rev2 grammar makes 64-bit on the way in, LARGER and SMALLER
//!    `number64`, is parsed and saturated to 32 bits (parser::search; test
//!    `rev2_larger_and_smaller_take_number64`).
//! 2. NAMESPACE, UNSELECT, UIDPLUS, ESEARCH, SEARCHRES, ENABLE, IDLE,
//!    SASL-IR, LIST-EXTENDED, LIST-STATUS, MOVE, LITERAL-, the RFC 4466 ABNF,
//!    RFC 5530 codes, BINARY's FETCH side, SPECIAL-USE attributes: already,
//!    all advertised (SASL-IR with AUTHENTICATE in the login build; LITERAL-
//!    with `literals = minus`, else LITERAL+, its superset, RFC 7888 §4).
//! 3. STATUS SIZE and STATUS DELETED: SIZE already; DELETED implemented
//!    (command::status, also in LIST-STATUS). It is not RFC 3501 grammar, so
//!    an IMAP4rev1 client gets BAD ([`check_grammar`]). Transcripts
//!    rev2-select, rev2-names.
//! 4. SEARCH answers ESEARCH: implemented; without RETURN the answer is
//!    `* ESEARCH (TAG "t") [UID] ALL set`, ALL left out when nothing matched
//!    (session dispatch; rev2-select). SORT and THREAD, not part of RFC 9051,
//!    keep their responses.
//! 5. Which SEARCH keys match substrings: already (command::search: the
//!    string keys match substrings, KEYWORD and flags exactly).
//! 6. RFC 2231 parameter continuations decoded: already (mime::header).
//! 7. COPYUID for MOVE and UID MOVE: already (copy.rs; transcript move).
//! 8. COPY/MOVE never create the target, and say TRYCREATE: already.
//! 9. CLOSED, sent by SELECT/EXAMINE when a mailbox was selected:
//!    implemented for IMAP4rev2 (Session::select; rev2-select).
//! 10. SELECT/EXAMINE send an untagged LIST of the mailbox: implemented for
//!     IMAP4rev2 (command::mailbox::select; rev2-select, rev2-names).
//! 11. UNSEEN code on SELECT/EXAMINE deprecated (it is not in RFC 9051's
//!     resp-text-code): no longer sent to an IMAP4rev2 client.
//! 12. RECENT response, \Recent, STATUS RECENT, SEARCH NEW deprecated: none
//!     is sent to an IMAP4rev2 client (mailbox::select, updates::write_recent,
//!     fetch::write_flags; rev2-select, updates tests), and STATUS RECENT and
//!     the NEW, OLD and RECENT search keys, which RFC 9051's `status-att` and
//!     `search-key` lack, are BAD from one ([`check_grammar`]). Messages are
//!     still claimed by the session (UW's `O` status), as for IMAP4rev1.
//! 13. No new PERMANENTFLAGS needed after a keyword is added under `\*`: a
//!     permission; we keep sending FLAGS and PERMANENTFLAGS (updates.rs),
//!     which RFC 9051 §7.1 still allows.
//! 14. `tagged-ext-simple` takes `number64`: not applicable; we parse no
//!     generic tagged-ext values, only the named parameters we implement.
//! 15. SHOULD support $MDNSent, $Forwarded, $Junk, $NotJunk, $Phishing:
//!     already; any keyword can be set (PERMANENTFLAGS has `\*`) up to UW's
//!     per-mailbox keyword limit.
//! 16. UTF-8 mailbox names and headers: implemented. An IMAP4rev2 client's
//!     names are UTF-8: [`stored_names`] turns them into the modified UTF-7
//!     the files are named in; LIST and LSUB patterns are matched against
//!     decoded names (names::list_matches_in); every name sent is UTF-8
//!     (ResponseWriter::mailbox: LIST, LSUB, STATUS, SELECT's LIST), as a
//!     literal, so no UTF-8 quoted string ever goes out (Appendix A's MUST NOT
//!     holds trivially); quoted strings from the client take UTF-8
//!     (parser::parse_command_rev2). Headers are passed through as stored:
//!     already. rev2-names and the tests below.
//! 17. CHECK removed: deliberately still answered (as NOOP-like checkpoint)
//!     for both revisions; an IMAP4rev2 client has no reason to send it and
//!     answering costs nothing (Appendix A: a server for both revisions keeps
//!     the rev1 commands).
//! 18. RFC822, RFC822.HEADER, RFC822.TEXT deprecated: deliberately still
//!     answered, for the same reason.
//! 19. LSUB deprecated, LIST (SUBSCRIBED) instead: LIST (SUBSCRIBED) already;
//!     LSUB deliberately still answered (in UTF-8 for IMAP4rev2; rev2-names).
//! 20. IDLE may report other mailboxes' changes: a permission; we report the
//!     selected mailbox only.
//! 21. Every unsolicited FETCH carries the UID: implemented for IMAP4rev2
//!     (updates::write_fetch_flags: every FETCH FLAGS update, and STORE's
//!     replies, name the UID; test `rev2_batch_has_no_recent_...`). FETCH
//!     replies to UID commands carry it in both revisions: already.
//! 22. Clients MUST ignore unknown response codes: a client rule; nothing.
//! 23. `resp-text` may be empty: a grammar relaxation; we always send text.
//! 24. Response text may be UTF-8 after ENABLE: a permission; ours is ASCII.
//! 25. Modern TLS (RFC 7525, 7817, 8314): already (tls.rs: rustls, TLS 1.2
//!     and 1.3 only, implicit TLS and STARTTLS).
//! 26. Warnings about ALERT and PREAUTH: client-side; PREAUTH here is the
//!     tunnel (ssh) case, where the user is already known.
//! 27. SCRAM-SHA-256 replaces DIGEST-MD5: we offer neither DIGEST-MD5 nor
//!     SCRAM (PLAIN and LOGIN over TLS in the login build; RFC 9051 §6.2.2
//!     requires PLAIN only). Not changed here.
//! 28. Any command resets the autologout timer: already (connection.rs
//!     restarts it on every input).
//! 29. IANA registration procedure: nothing to implement.
//! 30. Looser rules for closing connections: nothing to implement.
//!
//! Also from the body of RFC 9051: ENABLE is valid only in the authenticated
//! state (§6.3.1): selected, an ENABLE that would turn IMAP4rev2 on is BAD
//! (command::any::enable; rev2-select).

use crate::names;
use crate::parser::ast::{CommandBody, ListReturn, MailboxName, SearchKey, StatusItem};
use crate::response::Revision;

/// Rejects what the revision's grammar lacks, before anything runs: for
/// IMAP4rev1 STATUS DELETED (RFC 9051 only); for IMAP4rev2 STATUS RECENT
/// and the NEW, OLD and RECENT search keys (RFC 9051 §6.3.11, §6.4.4).
pub(super) fn check_grammar(body: &CommandBody, revision: Revision) -> Result<(), &'static str> {
    let status_items: Vec<StatusItem> = match body {
        CommandBody::Status { items, .. } => items.clone(),
        CommandBody::List { returns, .. } => returns
            .iter()
            .flat_map(|r| match r {
                ListReturn::Status(items) => items.as_slice(),
                _ => &[],
            })
            .copied()
            .collect(),
        _ => Vec::new(),
    };
    match revision {
        Revision::Rev1 => {
            if status_items.contains(&StatusItem::Deleted) {
                return Err("Unknown status item DELETED");
            }
        }
        Revision::Rev2 => {
            if status_items.contains(&StatusItem::Recent) {
                return Err("IMAP4rev2 has no STATUS RECENT (RFC 9051 section 6.3.11)");
            }
            let criteria = match body {
                CommandBody::Search { criteria, .. } => Some(criteria),
                CommandBody::Sort { search, .. } | CommandBody::Thread { search, .. } => {
                    Some(search)
                }
                _ => None,
            };
            if criteria.is_some_and(names_recent) {
                return Err("IMAP4rev2 has no NEW, OLD or RECENT search keys");
            }
        }
    }
    Ok(())
}

/// Whether the search program uses NEW, OLD or RECENT anywhere. The parser
/// bounds nesting, so the recursion is bounded.
fn names_recent(key: &SearchKey) -> bool {
    match key {
        SearchKey::New | SearchKey::Old | SearchKey::Recent => true,
        SearchKey::Not(inner) => names_recent(inner),
        SearchKey::Or(a, b) => names_recent(a) || names_recent(b),
        SearchKey::And(keys) => keys.iter().any(names_recent),
        _ => false,
    }
}

/// An IMAP4rev2 client's mailbox names are UTF-8 (RFC 9051 §5.1); the
/// handlers and the files use modified UTF-7. Every mailbox argument is
/// converted, except LIST's and LSUB's reference and patterns, which stay
/// UTF-8 because wildcards must be matched against decoded names
/// (command::list); those are only checked to be UTF-8. A name that is not
/// UTF-8 is BAD.
pub(super) fn stored_names(body: &mut CommandBody) -> Result<(), &'static str> {
    use CommandBody as C;
    match body {
        C::Select { mailbox }
        | C::Examine { mailbox }
        | C::Create { mailbox, .. }
        | C::Delete { mailbox }
        | C::Subscribe { mailbox }
        | C::Unsubscribe { mailbox }
        | C::Status { mailbox, .. }
        | C::Append { mailbox, .. }
        | C::Copy { mailbox, .. }
        | C::Move { mailbox, .. } => to_stored(mailbox),
        C::Rename { from, to } => {
            to_stored(from)?;
            to_stored(to)
        }
        C::List {
            reference,
            patterns,
            ..
        } => std::iter::once(&*reference)
            .chain(patterns.iter())
            .try_for_each(utf8),
        C::Lsub { reference, pattern } => utf8(reference).and_then(|()| utf8(pattern)),
        _ => Ok(()),
    }
}

const NOT_UTF8: &str = "Mailbox names are UTF-8 in IMAP4rev2 (RFC 9051 section 5.1)";

fn utf8(name: &MailboxName) -> Result<(), &'static str> {
    std::str::from_utf8(&name.0)
        .map(|_| ())
        .map_err(|_| NOT_UTF8)
}

fn to_stored(name: &mut MailboxName) -> Result<(), &'static str> {
    let text = std::str::from_utf8(&name.0).map_err(|_| NOT_UTF8)?;
    name.0 = names::encode(text).into_bytes();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::{parse_command, parse_command_rev2};

    fn body(line: &[u8], rev2: bool) -> CommandBody {
        let parsed = if rev2 {
            parse_command_rev2(line)
        } else {
            parse_command(line)
        };
        parsed.unwrap().body
    }

    #[test]
    fn rev2_quoted_strings_take_utf8_rev1_ones_do_not() {
        let line = "a SELECT \"Caf\u{e9}/\u{65e5}\u{672c}\"\r\n".as_bytes();
        assert!(parse_command(line).is_err());
        let CommandBody::Select { mailbox } = body(line, true) else {
            panic!("not a SELECT")
        };
        assert_eq!(mailbox.0, "Caf\u{e9}/\u{65e5}\u{672c}".as_bytes());
        // Malformed UTF-8 (a lone continuation octet, an overlong form, a
        // truncated sequence) is still not a quoted string.
        for bad in [
            &b"a SELECT \"\x80\"\r\n"[..],
            b"a SELECT \"\xc0\xaf\"\r\n",
            b"a SELECT \"\xe6\x97\"\r\n",
        ] {
            assert!(parse_command_rev2(bad).is_err(), "{bad:?}");
        }
        // The setting does not outlive the call.
        assert!(parse_command(line).is_err());
    }

    /// RFC 9051 `"LARGER" SP number64` / `"SMALLER" SP number64`: up to
    /// 2^63-1, saturated to the 32-bit sizes compared; RFC 3501 `number`.
    #[test]
    fn rev2_larger_and_smaller_take_number64() {
        let line = b"a SEARCH LARGER 5000000000 SMALLER 9223372036854775807\r\n";
        assert!(parse_command(line).is_err());
        let CommandBody::Search { criteria, .. } = body(line, true) else {
            panic!("not a SEARCH")
        };
        let max = u32::MAX;
        assert_eq!(
            criteria,
            SearchKey::And(vec![SearchKey::Larger(max), SearchKey::Smaller(max)])
        );
        assert!(parse_command_rev2(b"a SEARCH LARGER 9223372036854775808\r\n").is_err());
        let CommandBody::Search { criteria, .. } = body(b"a SEARCH SMALLER 100\r\n", true) else {
            panic!("not a SEARCH")
        };
        assert_eq!(criteria, SearchKey::Smaller(100));
    }

    #[test]
    fn names_become_modified_utf7_except_list_patterns() {
        let mut b = body("a RENAME \"Caf\u{e9}\" \"A&B\"\r\n".as_bytes(), true);
        stored_names(&mut b).unwrap();
        let CommandBody::Rename { from, to } = &b else {
            panic!("{b:?}")
        };
        assert_eq!(from.0, b"Caf&AOk-");
        assert_eq!(to.0, b"A&-B");
        let mut b = body("a LIST \"\" \"\u{e9}*\"\r\n".as_bytes(), true);
        stored_names(&mut b).unwrap();
        let CommandBody::List { patterns, .. } = &b else {
            panic!("{b:?}")
        };
        assert_eq!(patterns[0].0, "\u{e9}*".as_bytes());
        // Not UTF-8 (as a literal, which carries any octets): BAD.
        let mut b = body(b"a CREATE {2+}\r\n\xff\xfe\r\n", true);
        assert_eq!(stored_names(&mut b), Err(NOT_UTF8));
        let mut b = body(b"a LIST \"\" {1+}\r\n\xff\r\n", true);
        assert_eq!(stored_names(&mut b), Err(NOT_UTF8));
    }

    #[test]
    fn each_revision_refuses_what_its_grammar_lacks() {
        let cases: &[(&[u8], bool, bool)] = &[
            // (command, allowed in rev1, allowed in rev2)
            (b"a STATUS INBOX (MESSAGES DELETED)\r\n", false, true),
            (b"a STATUS INBOX (RECENT)\r\n", true, false),
            (b"a LIST \"\" % RETURN (STATUS (DELETED))\r\n", false, true),
            (b"a LIST \"\" % RETURN (STATUS (RECENT))\r\n", true, false),
            (
                b"a LIST \"\" % RETURN (STATUS (SIZE) STATUS (DELETED))\r\n",
                false,
                true,
            ),
            (b"a SEARCH NOT (OR SEEN NEW)\r\n", true, false),
            (b"a UID SEARCH OLD\r\n", true, false),
            (b"a SEARCH RECENT\r\n", true, false),
            (b"a SORT (DATE) UTF-8 RECENT\r\n", true, false),
            (b"a THREAD REFERENCES UTF-8 (ALL NEW)\r\n", true, false),
            (b"a SEARCH SEEN UNSEEN 1:*\r\n", true, true),
        ];
        for &(line, rev1, rev2) in cases {
            let b = body(line, false);
            assert_eq!(check_grammar(&b, Revision::Rev1).is_ok(), rev1, "{b:?}");
            assert_eq!(check_grammar(&b, Revision::Rev2).is_ok(), rev2, "{b:?}");
        }
    }
}
