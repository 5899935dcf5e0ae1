//! LIST with the selection options SUBSCRIBED and SPECIAL-USE (RFC 5258 §3,
//! RFC 6154 §5.1), and RECURSIVEMATCH's CHILDINFO (RFC 5258 §3.5).
//!
//! The names that meet the selection are known without a walk: the
//! subscription list, or the special-use names that exist as mailbox files
//! (both, when both are asked: the options combine as AND). Those that match
//! a pattern are listed. With RECURSIVEMATCH, a listed-or-not name's
//! superior levels that match a pattern are considered too:
//!
//! * a superior that meets the selection itself is listed anyway, and gets
//!   CHILDINFO because it has a selected child (RFC 5258 §5, example 8:
//!   `eps2`);
//! * one that does not is listed with CHILDINFO only when at least one of
//!   its selected children is not listed itself; RFC 5258 §3.5: servers
//!   "SHOULD suppress redundant CHILDINFO responses" (example 8: `foo2` is
//!   listed for `foo2/bar1`, `baz2` and `qux2` are not).
//!
//! A superior that does not exist is `\NonExistent` (example 7 A2).

use std::collections::HashSet;

use super::{Listed, Listing, Options, find, order_key};
use crate::command::Context;
use crate::mailstore::folders::{Kind, Tree};
use crate::names::list_matches_in;

/// The listing of a LIST with a base selection option.
pub(super) fn selected(
    ctx: &Context,
    tree: &Tree,
    options: &Options,
    patterns: &[Vec<u8>],
    subscribed: &[Vec<u8>],
) -> Listing {
    let chosen = chosen(ctx, tree, options, subscribed);
    // Sets, not lists: a subscription file may hold many thousands of names.
    let meeting_set: HashSet<&[u8]> = chosen.iter().map(Vec::as_slice).collect();
    let matches = |name: &[u8]| {
        patterns
            .iter()
            .any(|p| list_matches_in(p, name, options.utf8))
    };
    let mut childinfo: HashSet<&[u8]> = HashSet::new();
    let mut parents: Vec<&[u8]> = Vec::new();
    if options.recursive {
        for name in &chosen {
            for superior in superiors(name) {
                if !matches(superior) {
                    continue;
                }
                let meets = meeting_set.contains(superior);
                if !meets && matches(name) {
                    continue; // redundant: the child is listed itself
                }
                if childinfo.insert(superior) && !meets {
                    parents.push(superior);
                }
            }
        }
    }
    let mut listing = Listing::new();
    let meeting = chosen.iter().map(Vec::as_slice).filter(|n| matches(n));
    let listed = meeting
        .map(|n| (n, true))
        .chain(parents.into_iter().map(|n| (n, false)));
    for (name, meets) in listed {
        listing.entry(order_key(name)).or_insert_with(|| Listed {
            name: name.to_vec(),
            found: find(ctx, tree, name),
            meets,
            childinfo: childinfo.contains(&name),
        });
    }
    listing
}

/// The names that meet the selection options, existing or not.
fn chosen(ctx: &Context, tree: &Tree, options: &Options, subscribed: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let is_special = |name: &[u8]| {
        !ctx.special_use.of(name).is_empty()
            && tree
                .lookup(name)
                .is_some_and(|entry| entry.kind == Kind::Mailbox)
    };
    match (options.subscribed, options.special_use) {
        (true, true) => subscribed
            .iter()
            .filter(|n| is_special(n))
            .cloned()
            .collect(),
        (true, false) => subscribed.to_vec(),
        (false, _) => ctx
            .special_use
            .names()
            .into_iter()
            .filter(|n| is_special(n))
            .map(<[u8]>::to_vec)
            .collect(),
    }
}

/// The superior levels of `name`, nearest last: `a`, `a/b` for `a/b/c`.
fn superiors(name: &[u8]) -> impl Iterator<Item = &[u8]> {
    name.iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'/')
        .filter_map(|(at, _)| name.get(..at))
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superior_levels() {
        let all: Vec<&[u8]> = superiors(b"a/b/c").collect();
        assert_eq!(all, [&b"a"[..], b"a/b"]);
        assert_eq!(superiors(b"a").count(), 0);
        assert_eq!(superiors(b"/a").count(), 0, "no empty level");
    }
}
