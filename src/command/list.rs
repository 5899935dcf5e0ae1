//! LIST, LSUB (RFC 3501 §6.3.8, §6.3.9) and NAMESPACE (RFC 2342), with
//! LIST-EXTENDED (RFC 5258: selection and return options, several
//! patterns), LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154) and the
//! CHILDREN attributes (RFC 3348, now RFC 5258 §4).
//!
//! One personal namespace, `""` with delimiter `/`. The hard part is doing
//! no more file system work than the pattern needs: the part of the pattern
//! before its first wildcard fixes the folder to start from, and a pattern
//! without `*` fixes how many levels deep to look, so `LIST "" "%"` reads one
//! directory however big the tree is, and a pattern without wildcards is a
//! single lookup. Every name found is then matched against the whole pattern
//! ([`crate::names::list_matches`]). A LIST with a selection option
//! (SUBSCRIBED, SPECIAL-USE) does not walk the tree at all: the names that
//! meet the selection are a short list known beforehand (the subscription
//! file, the special-use names), and each is looked up (module `select`).
//!
//! INBOX comes first, as `\NoInferiors` (it is the spool file: names below
//! it are refused) and `\HasNoChildren`. Folders (directories) are
//! `\Noselect`; mailbox files carry `\Marked` or `\Unmarked` (UW: modified
//! since last read) and their special uses. The children attributes are
//! always sent (we advertise CHILDREN), whether or not RETURN (CHILDREN)
//! asks. Names are written as they are on disk, in modified UTF-7, quoted or
//! as literals when they need it; to an IMAP4rev2 client in UTF-8 (RFC 9051
//! §5.1), whose patterns are UTF-8 too and are matched against decoded names.

mod select;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use super::{CommandError, CommandResult, Completion, Context, Selected, status};
use crate::mailstore::folders::{self, Entry, Kind, Tree};
use crate::names::{list_matches, list_matches_in, stored_form};
use crate::parser::ast::{ListReturn, ListSelect, MailboxName, StatusItem};
use crate::response::ResponseWriter;

/// How deep a pattern with `*` may look (a bound on the walk).
const MAX_DEPTH: usize = 64;

/// The arguments of one LIST command (RFC 5258 §3).
#[derive(Debug, Clone, Copy)]
pub struct ListRequest<'a> {
    pub selection: &'a [ListSelect],
    pub reference: &'a [u8],
    pub patterns: &'a [MailboxName],
    pub returns: &'a [ListReturn],
    /// The APPENDLIMIT a `STATUS (APPENDLIMIT)` return item reports.
    pub append_limit: u64,
}

/// LIST, plain (RFC 3501) or extended (RFC 5258). `selected` is this
/// session's mailbox, which RETURN (STATUS) answers from its index.
pub fn list<W: Write>(
    ctx: &Context,
    selected: Option<&Selected>,
    request: &ListRequest<'_>,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let mut options = Options::of(request);
    options.utf8 = out.is_rev2();
    let patterns: Vec<Vec<u8>> = request
        .patterns
        .iter()
        .filter(|p| !p.0.is_empty())
        .map(|p| join(request.reference, &p.0))
        .collect();
    // RFC 3501 §6.3.8: an empty pattern asks for the delimiter and the root.
    if patterns.len() < request.patterns.len() {
        line(out, "LIST", &["\\Noselect"], b"")?;
    }
    if patterns.is_empty() {
        return Ok(Completion::done("LIST"));
    }
    let subscribed = if options.shows_subscribed() {
        subscriptions(ctx)?
    } else {
        Vec::new()
    };
    // Lookups by name: a subscription file may hold many thousands.
    let is_subscribed: HashSet<&[u8]> = subscribed.iter().map(Vec::as_slice).collect();
    let tree = Tree::new(&ctx.mail_dir, &ctx.inbox);
    let listed = if options.selects_by_attribute() {
        select::selected(ctx, &tree, &options, &patterns, &subscribed)
    } else {
        existing(ctx, &tree, &patterns, options.utf8)
    };
    let base_names = options.base_names();
    for item in listed.values() {
        let mut attrs = attributes(ctx, &item.found, &options);
        if options.shows_subscribed() && is_subscribed.contains(item.name.as_slice()) {
            attrs.push("\\Subscribed");
        }
        let childinfo = item.childinfo.then_some(base_names.as_slice());
        list_line(out, &attrs, &item.name, childinfo)?;
        // RFC 5819 §2, second example: a parent listed only for its
        // CHILDINFO does not meet the selection, and gets no STATUS.
        let counted = item.meets && item.found.is_selectable();
        if let Some(items) = options.status.as_deref().filter(|_| counted) {
            list_status(ctx, selected, &item.name, items, request.append_limit, out)?;
        }
    }
    Ok(Completion::done("LIST"))
}

/// The options of one LIST, as flags (RFC 5258 §3, RFC 5819, RFC 6154).
#[derive(Debug, Clone, Default)]
struct Options {
    /// Selection SUBSCRIBED: the subscribed names, existing or not.
    subscribed: bool,
    /// Selection SPECIAL-USE: only mailboxes with a special use.
    special_use: bool,
    /// Selection RECURSIVEMATCH: parents of selected names get CHILDINFO.
    recursive: bool,
    /// RETURN (SUBSCRIBED) (implied by the SUBSCRIBED selection).
    return_subscribed: bool,
    /// RETURN (CHILDREN): also on names that do not exist.
    return_children: bool,
    /// RETURN (STATUS (...)); the items of several STATUS options, each once.
    status: Option<Vec<StatusItem>>,
    /// IMAP4rev2: the patterns are UTF-8 (names::list_matches_in).
    utf8: bool,
}

impl Options {
    fn of(request: &ListRequest<'_>) -> Self {
        let mut o = Options::default();
        for s in request.selection {
            match s {
                ListSelect::Subscribed => o.subscribed = true,
                ListSelect::SpecialUse => o.special_use = true,
                ListSelect::RecursiveMatch => o.recursive = true,
                // RFC 5258 §3: remote mailboxes as well; we have none.
                ListSelect::Remote => {}
            }
        }
        for r in request.returns {
            match r {
                ListReturn::Subscribed => o.return_subscribed = true,
                ListReturn::Children => o.return_children = true,
                // Special uses are always shown (RFC 6154 §2: SHOULD).
                ListReturn::SpecialUse => {}
                ListReturn::Status(items) => {
                    let all = o.status.get_or_insert_with(Vec::new);
                    for item in items {
                        if !all.contains(item) {
                            all.push(*item);
                        }
                    }
                }
            }
        }
        o
    }

    fn selects_by_attribute(&self) -> bool {
        self.subscribed || self.special_use
    }

    fn shows_subscribed(&self) -> bool {
        self.subscribed || self.return_subscribed
    }

    /// The base selection options, as CHILDINFO names them (RFC 5258 §6
    /// `childinfo-extended-item`).
    fn base_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.subscribed {
            names.push("SUBSCRIBED");
        }
        if self.special_use {
            names.push("SPECIAL-USE");
        }
        names
    }
}

/// What a listed name is on disk.
#[derive(Debug, Clone)]
enum Found {
    Inbox {
        marked: bool,
    },
    Entry(Entry),
    /// RFC 5258 `\NonExistent`: subscribed (or a parent of a selected
    /// name) but not there.
    Missing,
}

impl Found {
    fn is_selectable(&self) -> bool {
        match self {
            Found::Inbox { .. } => true,
            Found::Entry(e) => e.kind == Kind::Mailbox,
            Found::Missing => false,
        }
    }
}

/// One LIST reply line to be: the name, what it is, and whether it carries
/// CHILDINFO.
#[derive(Debug, Clone)]
struct Listed {
    name: Vec<u8>,
    found: Found,
    /// Meets the selection options (false: listed as a RECURSIVEMATCH parent).
    meets: bool,
    childinfo: bool,
}

/// Listed names in reply order: INBOX first, then the tree in pre-order,
/// siblings sorted by name (the order of [`Tree::list`]), each name once.
type Listing = BTreeMap<(bool, Vec<Vec<u8>>), Listed>;

fn order_key(name: &[u8]) -> (bool, Vec<Vec<u8>>) {
    let levels = name.split(|&b| b == b'/').map(<[u8]>::to_vec).collect();
    (name != b"INBOX", levels)
}

/// What `name` is: INBOX, a listable entry, or missing.
fn find(ctx: &Context, tree: &Tree, name: &[u8]) -> Found {
    if name == b"INBOX" {
        return Found::Inbox {
            marked: folders::is_marked_file(&ctx.inbox),
        };
    }
    tree.lookup(name).map_or(Found::Missing, Found::Entry)
}

/// The existing names that match any of `patterns` (a LIST without a
/// selection option); `utf8`: the patterns are UTF-8 (IMAP4rev2).
fn existing(ctx: &Context, tree: &Tree, patterns: &[Vec<u8>], utf8: bool) -> Listing {
    let mut listing = Listing::new();
    let mut add = |name: Vec<u8>, found: Found| {
        listing.entry(order_key(&name)).or_insert(Listed {
            name,
            found,
            meets: true,
            childinfo: false,
        });
    };
    if patterns.iter().any(|p| list_matches(p, b"INBOX")) {
        add(b"INBOX".to_vec(), find(ctx, tree, b"INBOX"));
    }
    for pattern in patterns {
        // Where to look is a stored name: the walk's start ends in `/` (or
        // is empty), so it encodes on its own like any whole name.
        let entries = match plan(pattern) {
            Plan::Exact => tree
                .lookup(&stored_form(pattern, utf8))
                .into_iter()
                .collect(),
            Plan::Walk { start, depth } => tree.list(&stored_form(start, utf8), depth),
        };
        for entry in entries
            .into_iter()
            .filter(|e| list_matches_in(pattern, &e.name, utf8))
        {
            add(entry.name.clone(), Found::Entry(entry));
        }
    }
    listing
}

/// The mailbox attributes of a listed name (RFC 3501 §7.2.2, RFC 5258 §4,
/// RFC 6154 §2), without `\Subscribed`.
fn attributes(ctx: &Context, found: &Found, options: &Options) -> Vec<&'static str> {
    match found {
        Found::Inbox { marked } => vec!["\\NoInferiors", "\\HasNoChildren", marked_attr(*marked)],
        Found::Entry(entry) => {
            let children = if entry.has_children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            };
            match entry.kind {
                Kind::Folder => vec!["\\Noselect", children],
                Kind::Mailbox => {
                    let mut attrs = vec![children, marked_attr(entry.marked)];
                    attrs.extend(
                        ctx.special_use
                            .of(&entry.name)
                            .iter()
                            .map(|u| u.attribute()),
                    );
                    attrs
                }
            }
        }
        // RFC 5258 §3: \NonExistent implies \Noselect, which is not repeated.
        // A missing name has no children on disk (they would need its folder).
        Found::Missing if options.return_children => vec!["\\NonExistent", "\\HasNoChildren"],
        Found::Missing => vec!["\\NonExistent"],
    }
}

/// The subscription list, INBOX spelt `INBOX`, each name once.
fn subscriptions(ctx: &Context) -> Result<Vec<Vec<u8>>, CommandError> {
    let mut names: Vec<Vec<u8>> = folders::subscriptions(&ctx.home)?
        .into_iter()
        .map(|name| {
            if name.eq_ignore_ascii_case(b"INBOX") {
                b"INBOX".to_vec()
            } else {
                name
            }
        })
        .collect();
    let mut seen = HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    Ok(names)
}

/// RFC 5819 §2: a `* STATUS` after the LIST line of a selectable mailbox.
/// A mailbox that cannot be counted (locked, unreadable, vanished) gets no
/// STATUS and the LIST goes on; only a failure to write ends it.
fn list_status<W: Write>(
    ctx: &Context,
    selected: Option<&Selected>,
    name: &[u8],
    items: &[StatusItem],
    append_limit: u64,
    out: &mut ResponseWriter<W>,
) -> Result<(), CommandError> {
    match status::status(ctx, selected, name, items, append_limit, out) {
        Ok(_) => Ok(()),
        Err(CommandError::Output(e)) => Err(CommandError::Output(e)),
        Err(e) => {
            log::info!(
                "LIST-STATUS: no STATUS for {}: {e}",
                String::from_utf8_lossy(name)
            );
            Ok(())
        }
    }
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
    let utf8 = out.is_rev2();
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
        if list_matches_in(&pattern, name, utf8) {
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
                if list_matches_in(&pattern, superior, utf8)
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
        out.mailbox(name)?;
    }
    out.end_line()
}

/// `mailbox-list` with RFC 5258's `mbox-list-extended`: `* LIST (attrs) "/"
/// name`, then ` ("CHILDINFO" ("SUBSCRIBED" ...))` when `childinfo` names
/// the selection options a child meets (RFC 5258 §3.5).
fn list_line<W: Write>(
    out: &mut ResponseWriter<W>,
    attrs: &[&str],
    name: &[u8],
    childinfo: Option<&[&str]>,
) -> std::io::Result<()> {
    out.raw(b"* LIST (")?;
    out.raw(attrs.join(" ").as_bytes())?;
    out.raw(b") \"/\" ")?;
    out.mailbox(name)?;
    if let Some(options) = childinfo {
        out.raw(b" (\"CHILDINFO\" (")?;
        for (i, option) in options.iter().enumerate() {
            if i > 0 {
                out.sp()?;
            }
            out.raw(b"\"")?;
            out.raw(option.as_bytes())?;
            out.raw(b"\"")?;
        }
        out.raw(b"))")?;
    }
    out.end_line()
}

#[cfg(test)]
mod tests;
