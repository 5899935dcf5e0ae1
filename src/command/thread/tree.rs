//! The two threading algorithms of RFC 5256 §3, as pure functions over each
//! message's threading keys, and the `thread-list` syntax of §4.
//!
//! Everything here is iterative: a mailbox of replies to replies can make a
//! thread 100,000 deep, and neither building, pruning nor writing a tree may
//! recurse that far.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

use crate::command::sort::Subject;

/// What threading needs of one message (one search hit).
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// Its sequence number: the tie-break whenever sent dates are equal.
    pub seq: u32,
    /// RFC 5256 §2.2 sent date, UTC seconds.
    pub sent: i64,
    /// Its base subject, interned: the text is `subjects[subject.id]`.
    pub subject: Subject,
    /// Hash of its Message-ID, if it has a valid one.
    pub id: Option<u64>,
    /// Hashes of its References (or In-Reply-To) IDs, oldest first.
    pub references: &'a [u64],
}

const NONE: u32 = u32::MAX;

/// One container of RFC 5256 §3 REFERENCES (a message or a dummy).
#[derive(Debug, Clone)]
struct Node {
    /// Index into the messages, or [`NONE`] for a dummy.
    message: u32,
    parent: u32,
    children: Vec<u32>,
}

impl Node {
    fn new(message: u32) -> Node {
        Node {
            message,
            parent: NONE,
            children: Vec::new(),
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

    /// Whether making `child` a child of `parent` would close a loop:
    /// `parent` is `child` or one of its descendants. A child without
    /// children (the usual case: a message just seen) needs no walk, which
    /// keeps a long chain of replies linear.
    fn would_loop(&self, parent: u32, child: u32) -> bool {
        if self.node(child).children.is_empty() {
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

    fn link(&mut self, parent: u32, child: u32) {
        self.node_mut(child).parent = parent;
        self.node_mut(parent).children.push(child);
    }

    fn unlink(&mut self, child: u32) {
        let parent = self.node(child).parent;
        if parent == NONE {
            return;
        }
        self.node_mut(parent).children.retain(|&c| c != child);
        self.node_mut(child).parent = NONE;
    }

    /// The sort key of a container: its message's (sent, seq), or for a
    /// dummy its first child's (§3 steps 4 and 6).
    fn key(&self, messages: &[Message<'_>], i: u32) -> (i64, u32) {
        let node = self.node(i);
        let message = if node.is_dummy() {
            node.children
                .first()
                .map_or(NONE, |&c| self.node(c).message)
        } else {
            node.message
        };
        messages
            .get(message as usize)
            .map_or((i64::MAX, u32::MAX), |m| (m.sent, m.seq))
    }

    /// The message a top-level container stands for (a dummy: its first child).
    fn representative(&self, i: u32) -> u32 {
        let node = self.node(i);
        if node.is_dummy() {
            node.children
                .first()
                .map_or(NONE, |&c| self.node(c).message)
        } else {
            node.message
        }
    }

    /// Sorts every set of children, then the top level, by sent date.
    fn sort_all(&mut self, messages: &[Message<'_>]) {
        for i in 0..self.nodes.len() {
            let mut children = std::mem::take(&mut self.nodes[i].children);
            children.sort_by_key(|&c| self.key(messages, c));
            self.nodes[i].children = children;
        }
        let mut roots = std::mem::take(&mut self.roots);
        roots.sort_by_key(|&r| self.key(messages, r));
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
        while let Some(step) = stack.pop() {
            let i = match step {
                Step::Text(t) => {
                    out.write_all(t)?;
                    continue;
                }
                Step::Members(i) => i,
            };
            let node = self.node(i);
            let children = &node.children;
            if node.is_dummy() {
                // A dummy is its children; a lone child stands in its place.
                if let [only] = children.as_slice() {
                    stack.push(Step::Members(*only));
                    continue;
                }
            } else {
                write!(out, "{}", number(node.message as usize))?;
                match children.as_slice() {
                    [] => continue,
                    [only] => {
                        stack.push(Step::Members(*only));
                        stack.push(Step::Text(b" "));
                        continue;
                    }
                    _ => out.write_all(b" ")?,
                }
            }
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
pub fn ordered_subject(messages: &[Message<'_>], subjects: &[Arc<str>]) -> Forest {
    let mut order: Vec<u32> = (0..messages.len()).map(at).collect();
    let m = |i: u32| &messages[i as usize];
    let text = |i: u32| subjects.get(m(i).subject.id as usize).map_or("", |s| s);
    order.sort_by(|&a, &b| (text(a), m(a).sent, m(a).seq).cmp(&(text(b), m(b).sent, m(b).seq)));
    let mut forest = Forest {
        nodes: (0..messages.len()).map(|i| Node::new(at(i))).collect(),
        roots: Vec::new(),
    };
    let mut parent = NONE;
    for (n, &i) in order.iter().enumerate() {
        let starts_group = n == 0
            || order
                .get(n - 1)
                .is_none_or(|&prev| m(prev).subject.id != m(i).subject.id);
        if starts_group {
            forest.roots.push(i);
            parent = i;
        } else {
            forest.link(parent, i);
        }
    }
    forest.roots.sort_by_key(|&r| (m(r).sent, m(r).seq));
    forest
}

/// THREAD=REFERENCES (RFC 5256 §3, steps 1–6).
pub fn references(messages: &[Message<'_>], subjects: &[Arc<str>]) -> Forest {
    let mut forest = Forest {
        nodes: Vec::with_capacity(messages.len()),
        roots: Vec::new(),
    };
    link_references(&mut forest, messages);
    // (2) The containers without a parent are the threads' heads.
    let roots: Vec<u32> = (0..forest.nodes.len())
        .map(at)
        .filter(|&i| forest.node(i).parent == NONE)
        .collect();
    forest.roots = prune(&mut forest, roots);
    // (4) Sort the top level (and, for dummies, their children first).
    forest.sort_all(messages);
    // (5) Merge threads by base subject.
    merge_subjects(&mut forest, messages, subjects);
    // (6) Sort every set of siblings.
    forest.sort_all(messages);
    forest
}

/// Step 1: a container per Message-ID (a duplicate or a missing ID gets a
/// container of its own), References linked parent to child without
/// overriding an existing parent or closing a loop, then the message
/// itself under its last reference.
fn link_references(forest: &mut Forest, messages: &[Message<'_>]) {
    let mut by_id: HashMap<u64, u32> = HashMap::with_capacity(messages.len());
    for (index, message) in messages.iter().enumerate() {
        let message_index = at(index);
        let own = match message.id.map(|id| (id, by_id.get(&id).copied())) {
            // An earlier reference made a dummy for this ID: fill it.
            Some((_, Some(existing))) if forest.node(existing).is_dummy() => {
                forest.node_mut(existing).message = message_index;
                existing
            }
            Some((id, None)) => {
                let node = forest.push(message_index);
                by_id.insert(id, node);
                node
            }
            // A duplicate ID, or none: a container nobody can reference.
            _ => forest.push(message_index),
        };
        let mut previous = NONE;
        for &reference in message.references {
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
        stack.extend(forest.node(i).children.iter().copied());
    }
    for &i in post.iter().rev() {
        let children = std::mem::take(&mut forest.node_mut(i).children);
        let mut kept = Vec::with_capacity(children.len());
        for c in children {
            if forest.node(c).is_dummy() {
                kept.append(&mut forest.node_mut(c).children);
            } else {
                kept.push(c);
            }
        }
        for &c in &kept {
            forest.node_mut(c).parent = i;
        }
        forest.node_mut(i).children = kept;
    }
    let mut top = Vec::with_capacity(roots.len());
    for r in roots {
        let node = forest.node(r);
        if !node.is_dummy() {
            top.push(r);
            continue;
        }
        match node.children.as_slice() {
            [] => {}
            &[only] => {
                forest.node_mut(only).parent = NONE;
                forest.node_mut(r).children.clear();
                top.push(only);
            }
            _ => top.push(r),
        }
    }
    top
}

/// Step 5: threads whose heads share a base subject are merged.
fn merge_subjects(forest: &mut Forest, messages: &[Message<'_>], subjects: &[Arc<str>]) {
    // A thread's subject (its first child's for a dummy), unless empty.
    let subject = |forest: &Forest, r: u32| -> Option<u32> {
        let id = messages.get(forest.representative(r) as usize)?.subject.id;
        subjects
            .get(id as usize)
            .is_some_and(|s| !s.is_empty())
            .then_some(id)
    };
    let is_reply = |forest: &Forest, r: u32| -> bool {
        let node = forest.node(r);
        !node.is_dummy()
            && messages
                .get(node.message as usize)
                .is_some_and(|m| m.subject.is_reply)
    };
    // (5B) One top-level slot per subject.
    let mut slots: Vec<u32> = forest.roots.clone();
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
            let mut moved = std::mem::take(&mut forest.node_mut(r).children);
            for &c in &moved {
                forest.node_mut(c).parent = t;
            }
            forest.node_mut(t).children.append(&mut moved);
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

    /// Interns base subjects the way the key cache does.
    fn intern(texts: &mut Vec<Arc<str>>, raw: &str) -> Subject {
        let base = base_of_text(raw);
        let id = match texts.iter().position(|t| **t == *base.key) {
            Some(i) => i,
            None => {
                texts.push(Arc::from(base.key.as_str()));
                texts.len() - 1
            }
        };
        Subject {
            id: at(id),
            is_reply: base.is_reply,
        }
    }

    fn run(specs: &[Spec], algorithm: fn(&[Message<'_>], &[Arc<str>]) -> Forest) -> String {
        let mut texts = Vec::new();
        let messages: Vec<Message<'_>> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| Message {
                seq: at(i) + 1,
                sent: s.1,
                subject: intern(&mut texts, s.0),
                id: s.2,
                references: s.3,
            })
            .collect();
        let forest = algorithm(&messages, &texts);
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
        let refs: Vec<Vec<u64>> = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let mut texts = Vec::new();
        let subject = intern(&mut texts, "deep");
        let messages: Vec<Message<'_>> = (0..n)
            .map(|i| Message {
                seq: u32::try_from(i + 1).unwrap_or(u32::MAX),
                sent: i64::try_from(i).unwrap_or(0),
                subject,
                id: Some(i),
                references: &refs[usize::try_from(i).unwrap_or(0)],
            })
            .collect();
        let forest = references(&messages, &texts);
        assert_eq!(forest.roots.len(), 1);
        let mut out = Vec::new();
        forest.write(&mut out, |i| at(i) + 1).expect("write");
        let text = String::from_utf8(out).expect("ASCII");
        assert!(text.starts_with("* THREAD (1 2 3 "), "{}", &text[..40]);
        assert!(text.ends_with(" 99999 100000)\r\n"));
    }
}
