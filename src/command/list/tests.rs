//! Unit tests of LIST: plans, lines, LIST-STATUS and CHILDINFO.

use super::*;

fn ctx(dir: &std::path::Path) -> Context {
    Context {
        user: "u".into(),
        host: "h".into(),
        inbox: dir.join("inbox"),
        mail_dir: dir.join("mail"),
        home: dir.to_owned(),
        locking: Default::default(),
        special_use: Default::default(),
    }
}

fn run(ctx: &Context, request: &ListRequest<'_>) -> String {
    let mut out = ResponseWriter::new(Vec::new());
    let done = list(ctx, None, request, &mut out).unwrap();
    assert_eq!(done, Completion::done("LIST"));
    String::from_utf8(out.into_inner().unwrap()).unwrap()
}

/// RFC 5819: a mailbox that cannot be counted gets no STATUS, and the
/// LIST goes on; a folder or a missing name is not asked.
#[test]
fn status_is_skipped_where_it_cannot_be_had() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    std::fs::create_dir_all(dir.path().join("mail/Folder")).unwrap();
    let items = [StatusItem::Messages];
    for name in [&b"missing"[..], b"Folder", b"../escape"] {
        let mut out = ResponseWriter::new(Vec::new());
        list_status(&ctx, None, name, &items, 1 << 20, &mut out).unwrap();
        assert!(out.into_inner().unwrap().is_empty());
    }
    std::fs::write(dir.path().join("mail/Sent"), b"").unwrap();
    let patterns = [MailboxName(b"*".to_vec())];
    let returns = [ListReturn::Status(items.to_vec())];
    let request = ListRequest {
        selection: &[],
        reference: b"",
        patterns: &patterns,
        returns: &returns,
        append_limit: 1 << 20,
    };
    assert_eq!(
        run(&ctx, &request),
        "* LIST (\\NoInferiors \\HasNoChildren \\Unmarked) \"/\" INBOX\r\n\
         * STATUS INBOX (MESSAGES 0)\r\n\
         * LIST (\\Noselect \\HasNoChildren) \"/\" Folder\r\n\
         * LIST (\\HasNoChildren \\Unmarked \\Sent) \"/\" Sent\r\n\
         * STATUS Sent (MESSAGES 0)\r\n"
    );
}

/// RFC 5258 §3.5 and example 8: CHILDINFO on a parent that meets the
/// selection always, on one that does not only when a selected child is
/// not listed itself.
#[test]
fn childinfo_is_not_redundant() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    std::fs::write(
        dir.path().join(".mailboxlist"),
        b"a/x\na/y/z\nb/x\nc\nc/x\n",
    )
    .unwrap();
    let patterns = [MailboxName(b"*x".to_vec())];
    let selection = [ListSelect::Subscribed, ListSelect::RecursiveMatch];
    let request = ListRequest {
        selection: &selection,
        reference: b"",
        patterns: &patterns,
        returns: &[],
        append_limit: 1 << 20,
    };
    // a: a/y/z is not listed (nor a/y, which does not match): CHILDINFO.
    // b: its one subscribed child is listed: no line. c: subscribed.
    let out = run(&ctx, &request);
    assert!(
        out.contains("* LIST (\\NonExistent \\Subscribed) \"/\" a/x\r\n"),
        "{out}"
    );
    assert!(!out.contains("\" b ") && !out.contains("\" b\r\n"), "{out}");
    assert!(!out.contains("\" a "), "a does not match *x: {out}");
    let patterns = [MailboxName(b"%".to_vec())];
    let request = ListRequest {
        patterns: &patterns,
        ..request
    };
    assert_eq!(
        run(&ctx, &request),
        "* LIST (\\NonExistent) \"/\" a (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n\
         * LIST (\\NonExistent) \"/\" b (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n\
         * LIST (\\NonExistent \\Subscribed) \"/\" c (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
    );
}

#[test]
fn plans() {
    let walk = |start: &'static [u8], depth| Plan::Walk { start, depth };
    let cases: &[(&[u8], Plan<'static>)] = &[
        (b"Work", Plan::Exact),
        (b"Work/2024", Plan::Exact),
        (b"*", walk(b"", MAX_DEPTH)),
        (b"%", walk(b"", 1)),
        (b"Work/%", walk(b"Work/", 1)),
        (b"Work/%/%", walk(b"Work/", 2)),
        (b"Wo%k/x", walk(b"", 2)),
        (b"a/b/c*", walk(b"a/b/", MAX_DEPTH)),
        (b"a/%/*", walk(b"a/", MAX_DEPTH)),
    ];
    for (pattern, want) in cases {
        assert_eq!(
            &plan(pattern),
            want,
            "{:?}",
            String::from_utf8_lossy(pattern)
        );
    }
}

#[test]
fn reference_and_pattern_join() {
    assert_eq!(join(b"", b"*"), b"*");
    assert_eq!(join(b"Work/", b"%"), b"Work/%");
    assert_eq!(join(b"Work", b"%"), b"Work%");
    assert_eq!(join(b"Work/", b"~root/*"), b"~root/*");
    assert_eq!(join(b"Work/", b"/etc/*"), b"/etc/*");
}

#[test]
fn lines_quote_names_that_need_it() {
    let mut out = ResponseWriter::new(Vec::new());
    line(&mut out, "LIST", &["\\Noselect"], b"").unwrap();
    line(
        &mut out,
        "LIST",
        &["\\HasNoChildren", "\\Unmarked"],
        b"&ZeVnLIqe-",
    )
    .unwrap();
    line(&mut out, "LSUB", &[], b"My Mail").unwrap();
    line(&mut out, "LIST", &[], b"100%").unwrap();
    let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
    assert_eq!(
        text,
        "* LIST (\\Noselect) \"/\" \"\"\r\n\
         * LIST (\\HasNoChildren \\Unmarked) \"/\" &ZeVnLIqe-\r\n\
         * LSUB () \"/\" \"My Mail\"\r\n\
         * LIST () \"/\" \"100%\"\r\n"
    );
}

/// RFC 6154 §5.1 with RECURSIVEMATCH: CHILDINFO names SPECIAL-USE; a name
/// of the mapping that is not a mailbox file (missing, or a folder) is not
/// special-use; a configured key replaces the defaults of its use only.
#[test]
fn special_use_selection_with_recursive_match() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = ctx(dir.path());
    ctx.special_use
        .set(crate::special_use::Use::Sent, "Work/Sent, Old/Sent, Gone")
        .unwrap();
    std::fs::create_dir_all(dir.path().join("mail/Work")).unwrap();
    std::fs::create_dir_all(dir.path().join("mail/Old/Sent")).unwrap();
    std::fs::write(dir.path().join("mail/Work/Sent"), b"").unwrap();
    std::fs::write(dir.path().join("mail/Trash"), b"").unwrap();
    std::fs::write(dir.path().join("mail/Sent"), b"").unwrap();
    let patterns = [MailboxName(b"%".to_vec())];
    let selection = [ListSelect::SpecialUse, ListSelect::RecursiveMatch];
    let request = ListRequest {
        selection: &selection,
        reference: b"",
        patterns: &patterns,
        returns: &[],
        append_limit: 1 << 20,
    };
    assert_eq!(
        run(&ctx, &request),
        "* LIST (\\HasNoChildren \\Unmarked \\Trash) \"/\" Trash\r\n\
         * LIST (\\Noselect \\HasChildren) \"/\" Work (\"CHILDINFO\" (\"SPECIAL-USE\"))\r\n"
    );
    // Work/Sent is listed itself: no redundant CHILDINFO on Work.
    let patterns = [MailboxName(b"*".to_vec())];
    let request = ListRequest {
        patterns: &patterns,
        ..request
    };
    assert_eq!(
        run(&ctx, &request),
        "* LIST (\\HasNoChildren \\Unmarked \\Trash) \"/\" Trash\r\n\
         * LIST (\\HasNoChildren \\Unmarked \\Sent) \"/\" Work/Sent\r\n"
    );
}

/// Two STATUS return options ask for the union of their items, each once.
#[test]
fn status_options_merge() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    let patterns = [MailboxName(b"INBOX".to_vec())];
    let returns = [
        ListReturn::Status(vec![StatusItem::Messages, StatusItem::Unseen]),
        ListReturn::Children,
        ListReturn::Status(vec![StatusItem::Unseen, StatusItem::UidNext]),
    ];
    let request = ListRequest {
        selection: &[],
        reference: b"",
        patterns: &patterns,
        returns: &returns,
        append_limit: 1 << 20,
    };
    assert_eq!(
        run(&ctx, &request),
        "* LIST (\\NoInferiors \\HasNoChildren \\Unmarked) \"/\" INBOX\r\n\
         * STATUS INBOX (MESSAGES 0 UNSEEN 0 UIDNEXT 1)\r\n"
    );
}
