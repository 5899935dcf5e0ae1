//! The two threading algorithms of RFC 5256 §3, as pure functions over each
//! message's threading keys, and the `thread-list` syntax of §4.
//!
//! Everything here is iterative: a mailbox of replies to replies can make a
//! thread 100,000 deep, and neither building, pruning nor writing a tree may
//! recurse that far. And it is small: the keys are read through [`Source`]
//! from the session's cache rather than copied per message, and a container
//! is five `u32`s (children as a linked list), so THREAD of 100,000 messages
//! stays within its memory budget.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::command::sort::Subject;

/// What threading needs of the messages (the search hits), by position.
pub trait Source {
    fn len(&self) -> usize;
    /// Sequence number: the tie-break whenever sent dates are equal.
    fn seq(&self, i: u32) -> u32;
    /// RFC 5256 §2.2 sent date, UTC seconds.
    fn sent(&self, i: u32) -> i64;
    /// Base subject, interned.
    fn subject(&self, i: u32) -> Subject;
    /// The text of an interned subject.
    fn subject_text(&self, id: u32) -> &str;
    /// Hash of the Message-ID, if the message has a valid one.
    fn id(&self, i: u32) -> Option<u64>;
    /// Hashes of its References (or In-Reply-To) IDs, oldest first.
    fn references(&self, i: u32) -> &[u64];
}

const NONE: u32 = u32::MAX;

/// One container of RFC 5256 §3 (a message or a dummy), children as a
/// linked list.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Position in the source, or [`NONE`] for a dummy.
    message: u32,
    parent: u32,
    first: u32,
    last: u32,
    next: u32,
}

impl Node {
    fn new(message: u32) -> Node {
        Node {
            message,
            parent: NONE,
            first: NONE,
            last: NONE,
            next: NONE,
        }
    }

    fn is_dummy(&self) -> bool {
        self.message == NONE
    }
}

/// A set of threads: the top-level containers in order, each with its
/// children in order. Dummies appear only at the top, with two or more
/// children.
#[derive(Debug)]
pub struct Forest {
    nodes: Vec<Node>,
    roots: Vec<u32>,
}

fn at(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(NONE)
}

impl Forest {
    fn with_capacity(n: usize) -> Forest {
        Forest {
            nodes: Vec::with_capacity(n),
            roots: Vec::new(),
        }
    }

    fn node(&self, i: u32) -> &Node {
        &self.nodes[i as usize]
    }

    fn node_mut(&mut self, i: u32) -> &mut Node {
        &mut self.nodes[i as usize]
    }

    fn push(&mut self, message: u32) -> u32 {
        self.nodes.push(Node::new(message));
        at(self.nodes.len() - 1)
    }

    /// The children of `i`, in order.
    fn children(&self, i: u32) -> impl Iterator<Item = u32> + '_ {
        let mut next = self.node(i).first;
        std::iter::from_fn(move || {
            let here = next;
            if here == NONE {
                return None;
            }
            next = self.node(here).next;
            Some(here)
        })
    }

    fn has_children(&self, i: u32) -> bool {
        self.node(i).first != NONE
    }

    /// Whether making `child` a child of `parent` would close a loop:
    /// `parent` is `child` or one of its descendants. A child without
    /// children (the usual case: a message just seen) needs no walk, which
    /// keeps a long chain of replies linear.
    fn would_loop(&self, parent: u32, child: u32) -> bool {
        if !self.has_children(child) {
            return parent == child;
        }
        let mut up = parent;
        while up != NONE {
            if up == child {
                return true;
            }
            up = self.node(up).parent;
        }
        false
    }

    /// Appends `child` (which has no parent) to `parent`'s children.
    fn link(&mut self, parent: u32, child: u32) {
        let last = self.node(parent).last;
        {
            let c = self.node_mut(child);
            c.parent = parent;
            c.next = NONE;
        }
        if last == NONE {
            self.node_mut(parent).first = child;
        } else {
            self.node_mut(last).next = child;
        }
        self.node_mut(parent).last = child;
    }

    fn unlink(&mut self, child: u32) {
        let parent = self.node(child).parent;
        if parent == NONE {
            return;
        }
        let rest: Vec<u32> = self.children(parent).filter(|&c| c != child).collect();
        self.set_children(parent, &rest);
        let c = self.node_mut(child);
        c.parent = NONE;
        c.next = NONE;
    }

    /// Makes `list` the children of `i`, in that order.
    fn set_children(&mut self, i: u32, list: &[u32]) {
        for (k, &c) in list.iter().enumerate() {
            let next = list.get(k + 1).copied().unwrap_or(NONE);
            let node = self.node_mut(c);
            node.parent = i;
            node.next = next;
        }
        let node = self.node_mut(i);
        node.first = list.first().copied().unwrap_or(NONE);
        node.last = list.last().copied().unwrap_or(NONE);
    }

    /// The message a container stands for: its own, or a dummy's first
    /// child's (§3 steps 4–6).
    fn representative(&self, i: u32) -> u32 {
        let node = self.node(i);
        if node.is_dummy() {
            if node.first == NONE {
                NONE
            } else {
                self.node(node.first).message
            }
        } else {
            node.message
        }
    }

    /// The sort key of a container: its representative's (sent, seq).
    fn key(&self, source: &impl Source, i: u32) -> (i64, u32) {
        match self.representative(i) {
            NONE => (i64::MAX, u32::MAX),
            m => (source.sent(m), source.seq(m)),
        }
    }

    /// Sorts every set of children, then the top level, by sent date.
    fn sort_all(&mut self, source: &impl Source) {
        let mut list = Vec::new();
        for i in 0..at(self.nodes.len()) {
            let node = self.node(i);
            if node.first == NONE || node.first == node.last {
                continue;
            }
            list.clear();
            list.extend(self.children(i));
            list.sort_by_key(|&c| self.key(source, c));
            self.set_children(i, &list);
        }
        let mut roots = std::mem::take(&mut self.roots);
        roots.sort_by_key(|&r| self.key(source, r));
        self.roots = roots;
    }

    /// Writes `* THREAD ...` (RFC 5256 §4), `number` giving what the client
    /// is told for a message (its sequence number or UID).
    pub fn write(&self, out: &mut impl Write, number: impl Fn(usize) -> u32) -> io::Result<()> {
        enum Step {
            Text(&'static [u8]),
            Members(u32),
        }
        out.write_all(b"* THREAD")?;
        let mut stack = Vec::new();
        for &root in self.roots.iter().rev() {
            stack.push(Step::Text(b")"));
            stack.push(Step::Members(root));
            stack.push(Step::Text(b"("));
        }
        if !stack.is_empty() {
            out.write_all(b" ")?;
        }
        let mut children = Vec::new();
        while let Some(step) = stack.pop() {
            let i = match step {
                Step::Text(t) => {
                    out.write_all(t)?;
                    continue;
                }
                Step::Members(i) => i,
            };
            let node = self.node(i);
            let only = node.first != NONE && node.first == node.last;
            if node.is_dummy() {
                // A dummy is its children; a lone child stands in its place.
                if only {
                    stack.push(Step::Members(node.first));
                    continue;
                }
            } else {
                write!(out, "{}", number(node.message as usize))?;
                if node.first == NONE {
                    continue;
                }
                if only {
                    stack.push(Step::Members(node.first));
                    stack.push(Step::Text(b" "));
                    continue;
                }
                out.write_all(b" ")?;
            }
            children.clear();
            children.extend(self.children(i));
            for &child in children.iter().rev() {
                stack.push(Step::Text(b")"));
                stack.push(Step::Members(child));
                stack.push(Step::Text(b"("));
            }
        }
        out.write_all(b"\r\n")
    }
}

/// THREAD=ORDEREDSUBJECT (RFC 5256 §3): messages grouped by base subject,
/// each group's earliest message the parent of the others (as siblings, by
/// sent date); groups ordered by their first message's sent date. Empty
/// subjects form a group like any other.
pub fn ordered_subject(source: &impl Source) -> Forest {
    let n = source.len();
    let mut order: Vec<u32> = (0..n).map(at).collect();
    let text = |i: u32| source.subject_text(source.subject(i).id);
    order.sort_by(|&a, &b| {
        (text(a), source.sent(a), source.seq(a)).cmp(&(text(b), source.sent(b), source.seq(b)))
    });
    let mut forest = Forest::with_capacity(n);
    for i in 0..n {
        forest.push(at(i));
    }
    let mut parent = NONE;
    let mut previous_subject = None;
    for &i in &order {
        let subject = source.subject(i).id;
        if previous_subject != Some(subject) {
            forest.roots.push(i);
            parent = i;
            previous_subject = Some(subject);
        } else {
            forest.link(parent, i);
        }
    }
    let mut roots = std::mem::take(&mut forest.roots);
    roots.sort_by_key(|&r| (source.sent(r), source.seq(r)));
    forest.roots = roots;
    forest
}

/// THREAD=REFERENCES (RFC 5256 §3, steps 1–6).
pub fn references(source: &impl Source) -> Forest {
    let mut forest = Forest::with_capacity(source.len());
    link_references(&mut forest, source);
    // (2) The containers without a parent are the threads' heads.
    let roots: Vec<u32> = (0..forest.nodes.len())
        .map(at)
        .filter(|&i| forest.node(i).parent == NONE)
        .collect();
    forest.roots = prune(&mut forest, roots);
    // (4) Sort the top level (and, for dummies, their children first).
    forest.sort_all(source);
    // (5) Merge threads by base subject.
    merge_subjects(&mut forest, source);
    // (6) Sort every set of siblings.
    forest.sort_all(source);
    forest
}

/// Step 1: a container per Message-ID (a duplicate or a missing ID gets a
/// container of its own), References linked parent to child without
/// overriding an existing parent or closing a loop, then the message
/// itself under its last reference.
fn link_references(forest: &mut Forest, source: &impl Source) {
    let mut by_id: HashMap<u64, u32> = HashMap::with_capacity(source.len());
    for index in 0..at(source.len()) {
        let own = match source.id(index).map(|id| (id, by_id.get(&id).copied())) {
            // An earlier reference made a dummy for this ID: fill it.
            Some((_, Some(existing))) if forest.node(existing).is_dummy() => {
                forest.node_mut(existing).message = index;
                existing
            }
            Some((id, None)) => {
                let node = forest.push(index);
                by_id.insert(id, node);
                node
            }
            // A duplicate ID, or none: a container nobody can reference.
            _ => forest.push(index),
        };
        let mut previous = NONE;
        for &reference in source.references(index) {
            let node = match by_id.get(&reference) {
                Some(&node) => node,
                None => {
                    let node = forest.push(NONE);
                    by_id.insert(reference, node);
                    node
                }
            };
            if previous != NONE
                && forest.node(node).parent == NONE
                && !forest.would_loop(previous, node)
            {
                forest.link(previous, node);
            }
            previous = node;
        }
        // (1B) The last reference is the parent, whatever was assumed before.
        forest.unlink(own);
        if previous != NONE && !forest.would_loop(previous, own) {
            forest.link(previous, own);
        }
    }
}

/// Step 3: dummies without children go; a dummy's children take its place,
/// except at the top level, where that happens only for a single child.
fn prune(forest: &mut Forest, roots: Vec<u32>) -> Vec<u32> {
    // Post-order without recursion: children are done before their parent.
    let mut post = Vec::with_capacity(forest.nodes.len());
    let mut stack: Vec<u32> = roots.clone();
    while let Some(i) = stack.pop() {
        post.push(i);
        stack.extend(forest.children(i));
    }
    let mut kept = Vec::new();
    for &i in post.iter().rev() {
        if !forest.has_children(i) {
            continue;
        }
        kept.clear();
        let children: Vec<u32> = forest.children(i).collect();
        for c in children {
            if forest.node(c).is_dummy() {
                kept.extend(forest.children(c));
                forest.set_children(c, &[]);
            } else {
                kept.push(c);
            }
        }
        forest.set_children(i, &kept);
    }
    let mut top = Vec::with_capacity(roots.len());
    for r in roots {
        let node = *forest.node(r);
        if !node.is_dummy() {
            top.push(r);
        } else if node.first == NONE {
            // An empty dummy: gone.
        } else if node.first == node.last {
            let only = node.first;
            forest.set_children(r, &[]);
            let o = forest.node_mut(only);
            o.parent = NONE;
            o.next = NONE;
            top.push(only);
        } else {
            top.push(r);
        }
    }
    top
}

/// Step 5: threads whose heads share a base subject are merged.
fn merge_subjects(forest: &mut Forest, source: &impl Source) {
    // A thread's subject (its first child's for a dummy), unless empty.
    let subject = |forest: &Forest, r: u32| -> Option<u32> {
        let m = forest.representative(r);
        if m == NONE {
            return None;
        }
        let id = source.subject(m).id;
        (!source.subject_text(id).is_empty()).then_some(id)
    };
    let is_reply = |forest: &Forest, r: u32| -> bool {
        let node = forest.node(r);
        !node.is_dummy() && source.subject(node.message).is_reply
    };
    // (5B) One top-level slot per subject.
    let mut slots: Vec<u32> = std::mem::take(&mut forest.roots);
    let mut table: HashMap<u32, usize> = HashMap::new();
    for (slot, &r) in slots.iter().enumerate() {
        let Some(s) = subject(forest, r) else {
            continue;
        };
        match table.get(&s) {
            None => {
                table.insert(s, slot);
            }
            Some(&held) => {
                let t = slots[held];
                let replace = !forest.node(t).is_dummy()
                    && (forest.node(r).is_dummy() || (is_reply(forest, t) && !is_reply(forest, r)));
                if replace {
                    table.insert(s, slot);
                }
            }
        }
    }
    // (5C) Merge into the slot the table names.
    for slot in 0..slots.len() {
        let r = slots[slot];
        if r == NONE {
            continue;
        }
        let Some(s) = subject(forest, r) else {
            continue;
        };
        let Some(&held) = table.get(&s) else {
            continue;
        };
        if held == slot {
            continue;
        }
        let t = slots[held];
        let (t_dummy, r_dummy) = (forest.node(t).is_dummy(), forest.node(r).is_dummy());
        if t_dummy && r_dummy {
            let moved: Vec<u32> = forest.children(r).collect();
            forest.set_children(r, &[]);
            for c in moved {
                forest.link(t, c);
            }
        } else if t_dummy || (is_reply(forest, r) && !is_reply(forest, t)) {
            forest.link(t, r);
        } else {
            let dummy = forest.push(NONE);
            forest.link(dummy, t);
            forest.link(dummy, r);
            slots[held] = dummy;
        }
        slots[slot] = NONE;
    }
    forest.roots = slots.into_iter().filter(|&r| r != NONE).collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::subject::base_of_text;

    /// A message for tests: (subject, sent, message-id, references).
    struct Spec(&'static str, i64, Option<u64>, &'static [u64]);

    /// Messages for tests, with base subjects interned as the cache does.
    #[derive(Default)]
    struct Messages {
        list: Vec<(i64, Subject, Option<u64>, Vec<u64>)>,
        texts: Vec<String>,
    }

    impl Messages {
        fn push(&mut self, raw: &str, sent: i64, id: Option<u64>, references: &[u64]) {
            let base = base_of_text(raw);
            let position = self.texts.iter().position(|t| *t == base.key);
            let index = position.unwrap_or_else(|| {
                self.texts.push(base.key.clone());
                self.texts.len() - 1
            });
            let subject = Subject {
                id: at(index),
                is_reply: base.is_reply,
            };
            self.list.push((sent, subject, id, references.to_vec()));
        }
    }

    impl Source for Messages {
        fn len(&self) -> usize {
            self.list.len()
        }
        fn seq(&self, i: u32) -> u32 {
            i + 1
        }
        fn sent(&self, i: u32) -> i64 {
            self.list[i as usize].0
        }
        fn subject(&self, i: u32) -> Subject {
            self.list[i as usize].1
        }
        fn subject_text(&self, id: u32) -> &str {
            &self.texts[id as usize]
        }
        fn id(&self, i: u32) -> Option<u64> {
            self.list[i as usize].2
        }
        fn references(&self, i: u32) -> &[u64] {
            &self.list[i as usize].3
        }
    }

    fn run(specs: &[Spec], algorithm: fn(&Messages) -> Forest) -> String {
        let mut messages = Messages::default();
        for s in specs {
            messages.push(s.0, s.1, s.2, s.3);
        }
        let forest = algorithm(&messages);
        let mut out = Vec::new();
        forest
            .write(&mut out, |i| at(i) + 1)
            .expect("writing to a Vec");
        String::from_utf8(out).expect("ASCII")
    }

    #[test]
    fn ordered_subject_like_imaptest() {
        // imaptest thread-orderedsubject2: dates decide within a subject
        // and between threads.
        let specs = [
            Spec("a", 10, None, &[]),
            Spec("b", 9, None, &[]),
            Spec("a", 8, None, &[]),
            Spec("b", 7, None, &[]),
            Spec("a", 40, None, &[]),
            Spec("b", 30, None, &[]),
            Spec("a", 20, None, &[]),
            Spec("b", 11, None, &[]),
        ];
        assert_eq!(
            run(&specs, ordered_subject),
            "* THREAD (4 (2)(8)(6))(3 (1)(7)(5))\r\n"
        );
        // One child is written inline; a lone message alone.
        let specs = [
            Spec("x", 1, None, &[]),
            Spec("Re: x", 2, None, &[]),
            Spec("y", 3, None, &[]),
        ];
        assert_eq!(run(&specs, ordered_subject), "* THREAD (1 2)(3)\r\n");
        assert_eq!(run(&[], ordered_subject), "* THREAD\r\n");
    }

    #[test]
    fn references_chain_and_branches() {
        // 1 <- 2 <- 3, and 4 replying to 1: (1 (2 3)(4)).
        let specs = [
            Spec("hello", 1, Some(1), &[]),
            Spec("Re: hello", 2, Some(2), &[1]),
            Spec("Re: hello", 3, Some(3), &[1, 2]),
            Spec("Re: hello", 4, Some(4), &[1]),
        ];
        assert_eq!(run(&specs, references), "* THREAD (1 (2 3)(4))\r\n");
    }

    #[test]
    fn references_dummy_parents() {
        // Two replies to a message we do not have: a dummy at the top keeps
        // them together as siblings.
        let specs = [
            Spec("Re: lost", 2, Some(2), &[99]),
            Spec("other", 1, Some(3), &[]),
            Spec("Re: lost", 3, Some(4), &[99]),
        ];
        assert_eq!(run(&specs, references), "* THREAD (2)((1)(3))\r\n");
        // A single reply to a missing parent is promoted to the top.
        let specs = [Spec("Re: lost", 5, Some(2), &[99])];
        assert_eq!(run(&specs, references), "* THREAD (1)\r\n");
        // A dummy in the middle is spliced out: 1 <- (missing 98) <- 2.
        let specs = [
            Spec("top", 1, Some(1), &[]),
            Spec("Re: top", 2, Some(2), &[1, 98]),
        ];
        assert_eq!(run(&specs, references), "* THREAD (1 2)\r\n");
    }

    #[test]
    fn references_loops_and_duplicates() {
        // A references B, B references A: the first link seen (A under B)
        // stands, B under A would close a loop; every message shown once.
        let specs = [Spec("a", 1, Some(1), &[2]), Spec("b", 2, Some(2), &[1])];
        assert_eq!(run(&specs, references), "* THREAD (2 1)\r\n");
        // A message referencing itself.
        let specs = [Spec("self", 1, Some(7), &[7])];
        assert_eq!(run(&specs, references), "* THREAD (1)\r\n");
        // A duplicate Message-ID: the second copy is a thread of its own
        // (merged only by subject, which differs here).
        let specs = [
            Spec("one", 1, Some(5), &[]),
            Spec("two", 2, Some(5), &[]),
            Spec("Re: one", 3, Some(6), &[5]),
        ];
        assert_eq!(run(&specs, references), "* THREAD (1 3)(2)\r\n");
    }

    #[test]
    fn references_subject_merging() {
        // No References at all: same base subject, the non-reply is the parent.
        let specs = [
            Spec("Re: topic", 2, Some(2), &[]),
            Spec("topic", 1, Some(1), &[]),
        ];
        assert_eq!(run(&specs, references), "* THREAD (2 1)\r\n");
        // Neither is a reply: both under a new dummy.
        let specs = [
            Spec("topic", 1, Some(1), &[]),
            Spec("topic", 2, Some(2), &[]),
        ];
        assert_eq!(run(&specs, references), "* THREAD ((1)(2))\r\n");
        // Empty subjects are never merged.
        let specs = [Spec("", 1, Some(1), &[]), Spec("", 2, Some(2), &[])];
        assert_eq!(run(&specs, references), "* THREAD (1)(2)\r\n");
    }

    #[test]
    fn deep_threads_do_not_recurse() {
        let n = 100_000u64;
        let mut messages = Messages::default();
        for i in 0..n {
            let refs = if i == 0 { vec![] } else { vec![i - 1] };
            messages.push("deep", i64::try_from(i).unwrap_or(0), Some(i), &refs);
        }
        let forest = references(&messages);
        assert_eq!(forest.roots.len(), 1);
        let mut out = Vec::new();
        forest.write(&mut out, |i| at(i) + 1).expect("write");
        let text = String::from_utf8(out).expect("ASCII");
        assert!(text.starts_with("* THREAD (1 2 3 "), "{}", &text[..40]);
        assert!(text.ends_with(" 99999 100000)\r\n"));
    }
}
