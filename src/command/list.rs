//! LIST, LSUB (RFC 3501 §6.3.8, §6.3.9) and NAMESPACE (RFC 2342), with the
//! CHILDREN attributes (RFC 3348).
//!
//! One personal namespace, `""` with delimiter `/`. The hard part is doing
//! no more file system work than the pattern needs: the part of the pattern
//! before its first wildcard fixes the folder to start from, and a pattern
//! without `*` fixes how many levels deep to look, so `LIST "" "%"` reads one
//! directory however big the tree is, and a pattern without wildcards is a
//! single lookup. Every name found is then matched against the whole pattern
//! ([`crate::names::list_matches`]).
//!
//! INBOX comes first, as `\NoInferiors` (it is the spool file: names below
//! it are refused) and `\HasNoChildren`. Folders (directories) are
//! `\Noselect`; mailbox files carry `\Marked` or `\Unmarked` (UW: modified
//! since last read). Names are written as they are on disk, in modified
//! UTF-7, quoted or as literals when they need it.

use std::io::Write;

use super::{CommandResult, Completion, Context};
use crate::mailstore::folders::{self, Kind, Tree};
use crate::names::list_matches;
use crate::response::ResponseWriter;

/// How deep a pattern with `*` may look (a bound on the walk).
const MAX_DEPTH: usize = 64;

/// LIST reference pattern.
pub fn list<W: Write>(
    ctx: &Context,
    reference: &[u8],
    pattern: &[u8],
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    // RFC 3501 §6.3.8: an empty pattern asks for the delimiter and the root.
    if pattern.is_empty() {
        line(out, "LIST", &["\\Noselect"], b"")?;
        return Ok(Completion::done("LIST"));
    }
    let pattern = join(reference, pattern);
    let tree = Tree::new(&ctx.mail_dir, &ctx.inbox);
    if list_matches(&pattern, b"INBOX") {
        let marked = folders::is_marked_file(&ctx.inbox);
        let attrs = ["\\NoInferiors", "\\HasNoChildren", marked_attr(marked)];
        line(out, "LIST", &attrs, b"INBOX")?;
    }
    let entries = match plan(&pattern) {
        Plan::Exact => tree.lookup(&pattern).into_iter().collect(),
        Plan::Walk { start, depth } => tree.list(start, depth),
    };
    for entry in entries.iter().filter(|e| list_matches(&pattern, &e.name)) {
        let children = if entry.has_children {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        };
        match entry.kind {
            Kind::Folder => line(out, "LIST", &["\\Noselect", children], &entry.name)?,
            Kind::Mailbox => line(
                out,
                "LIST",
                &[children, marked_attr(entry.marked)],
                &entry.name,
            )?,
        }
    }
    Ok(Completion::done("LIST"))
}

/// LSUB reference pattern: the subscribed names (UW's `~/.mailboxlist`)
/// that match. A folder (directory) is `\Noselect`. RFC 3501 §6.3.9: when a
/// `%` stops short of a subscribed name, its superior level that matches is
/// returned as `\Noselect` unless it is subscribed itself.
pub fn lsub<W: Write>(
    ctx: &Context,
    reference: &[u8],
    pattern: &[u8],
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    if pattern.is_empty() {
        line(out, "LSUB", &["\\Noselect"], b"")?;
        return Ok(Completion::done("LSUB"));
    }
    let pattern = join(reference, pattern);
    let subscribed = folders::subscriptions(&ctx.home)?;
    let tree = Tree::new(&ctx.mail_dir, &ctx.inbox);
    let is_subscribed = |name: &[u8]| subscribed.iter().any(|s| s == name);
    let mut sent: Vec<&[u8]> = Vec::new();
    for name in &subscribed {
        let name: &[u8] = if name.eq_ignore_ascii_case(b"INBOX") {
            b"INBOX"
        } else {
            name
        };
        if list_matches(&pattern, name) {
            if sent.contains(&name) {
                continue;
            }
            let is_folder =
                name != b"INBOX" && tree.lookup(name).is_some_and(|e| e.kind == Kind::Folder);
            let attrs: &[&str] = if is_folder { &["\\Noselect"] } else { &[] };
            line(out, "LSUB", attrs, name)?;
            sent.push(name);
        } else if pattern.contains(&b'%') {
            let levels = name.iter().enumerate().filter(|&(_, &b)| b == b'/');
            for (at, _) in levels {
                let Some(superior) = name.get(..at) else {
                    continue;
                };
                if list_matches(&pattern, superior)
                    && !is_subscribed(superior)
                    && !sent.contains(&superior)
                {
                    line(out, "LSUB", &["\\Noselect"], superior)?;
                    sent.push(superior);
                }
            }
        }
    }
    Ok(Completion::done("LSUB"))
}

/// NAMESPACE (RFC 2342): one personal namespace, no others.
pub fn namespace<W: Write>(out: &mut ResponseWriter<W>) -> CommandResult {
    out.untagged("NAMESPACE ((\"\" \"/\")) NIL NIL")?;
    Ok(Completion::done("NAMESPACE"))
}

/// The reference and the pattern as one pattern (RFC 3501 §6.3.8). As UW
/// does, they are concatenated: a reference names a level including its
/// trailing delimiter (`Work/` + `%`). A pattern that starts at the root
/// (`/`, `~`, `#`) ignores the reference; no name matches it anyway.
pub fn join(reference: &[u8], pattern: &[u8]) -> Vec<u8> {
    if matches!(pattern.first(), Some(b'/' | b'~' | b'#')) {
        return pattern.to_vec();
    }
    [reference, pattern].concat()
}

/// Where a pattern's names can be.
#[derive(Debug, PartialEq, Eq)]
enum Plan<'a> {
    /// No wildcards: the one name.
    Exact,
    /// Under the folder `start` (`""` or ending in `/`), `depth` levels deep.
    Walk { start: &'a [u8], depth: usize },
}

fn plan(pattern: &[u8]) -> Plan<'_> {
    let Some(first_wild) = pattern.iter().position(|&b| b == b'*' || b == b'%') else {
        return Plan::Exact;
    };
    let fixed = pattern.get(..first_wild).unwrap_or(&[]);
    let start_len = fixed
        .iter()
        .rposition(|&b| b == b'/')
        .map_or(0, |slash| slash + 1);
    let (start, rest) = pattern.split_at(start_len.min(pattern.len()));
    let depth = if rest.contains(&b'*') {
        MAX_DEPTH
    } else {
        rest.iter().filter(|&&b| b == b'/').count() + 1
    };
    Plan::Walk { start, depth }
}

fn marked_attr(marked: bool) -> &'static str {
    if marked { "\\Marked" } else { "\\Unmarked" }
}

/// `* LIST (attrs) "/" name` (RFC 3501 §7.2.2), or LSUB.
fn line<W: Write>(
    out: &mut ResponseWriter<W>,
    kind: &str,
    attrs: &[&str],
    name: &[u8],
) -> std::io::Result<()> {
    out.raw(b"* ")?;
    out.raw(kind.as_bytes())?;
    out.raw(b" (")?;
    out.raw(attrs.join(" ").as_bytes())?;
    out.raw(b") \"/\" ")?;
    if name.is_empty() {
        out.string(name)?;
    } else {
        out.astring(name)?;
    }
    out.end_line()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
