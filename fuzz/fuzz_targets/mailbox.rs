//! Arbitrary bytes as a mailbox file: written to a temporary file and opened
//! read-only with `Mailbox::open_with_clock` (mmap, the From_ scanner, the
//! index, UW's X-IMAP/X-UID/Status metadata), then every message's view,
//! visible header and FETCH response (envelope, MIME tree, BODYSTRUCTURE).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mbox_imapd::fuzzing::{fetch_items, fetch_response};
use mbox_imapd::mailstore::index::Clock;
use mbox_imapd::mailstore::{Access, LockSettings, Mailbox, scan};
use mbox_imapd::parser::ast::FetchAttribute;

/// One directory per fuzzing process, kept for its lifetime.
fn mailbox_path() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("INBOX");
        (dir, path)
    })
    .1
}

fn items() -> &'static [FetchAttribute] {
    static ITEMS: OnceLock<Vec<FetchAttribute>> = OnceLock::new();
    ITEMS.get_or_init(fetch_items)
}

const CLOCK: Clock = Clock {
    now: 1_800_000_000,
    local_offset_minutes: 60,
};

/// Messages rendered per input: enough to reach every code path.
const MAX_RENDERED: usize = 8;

fuzz_target!(|data: &[u8]| {
    // The pure scanner first: it must agree with what open() indexes.
    let spans = scan::scan(data).ok();
    let path = mailbox_path();
    std::fs::write(path, data).expect("write the mailbox file");
    let opened = Mailbox::open_with_clock(path, Access::ReadOnly, &LockSettings::default(), CLOCK);
    let Ok(mailbox) = opened else {
        return;
    };
    if let Some(spans) = &spans {
        assert!(
            mailbox.len() <= spans.len(),
            "index has more messages than spans"
        );
    }
    let _ = (
        mailbox.uid_validity(),
        mailbox.uid_next(),
        mailbox.keywords(),
    );
    let _ = (mailbox.first_unseen(), mailbox.recent_count());
    let mut previous_uid = 0;
    for (i, entry) in mailbox.entries().iter().enumerate() {
        assert!(
            entry.uid.get() > previous_uid,
            "UIDs not strictly ascending"
        );
        previous_uid = entry.uid.get();
        let view = mailbox.message(i).expect("every entry has its bytes");
        assert!(view.header_length <= view.raw.len());
        let _ = view.visible_header();
        if i < MAX_RENDERED {
            let response = fetch_response(view.raw, items());
            assert!(response.ends_with(b")\r\n"));
        }
    }
});
