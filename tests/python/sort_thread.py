#!/usr/bin/env python3
"""imaplib's sort() and thread() against a generated mailbox, checked with an
independent reading of the headers (Python's email package):

* SORT (ARRIVAL), (DATE), (REVERSE DATE), (REVERSE SIZE), (FROM), (SUBJECT):
  a permutation of 1..N, ordered by the key as Python computes it (sent date
  from Date: with INTERNALDATE as fallback, RFC822.SIZE, the From local part),
  ties by ascending sequence number, REVERSE reversing only the key;
* UID SORT / UID THREAD: the same answers in UIDs;
* a SORT over a search (1:500) is the full SORT filtered to those messages;
* THREAD REFERENCES: every message exactly once, and every message whose
  last reference (References, else In-Reply-To) names another message of the
  mailbox hangs under that message;
* THREAD ORDEREDSUBJECT: every message once, threads two levels deep, ordered
  by their first message's sent date, children by sent date.

usage: sort_thread.py --server BIN --gen gen_mbox.py [--messages 3000] [--seed 7]
"""
import argparse
import email
import email.policy
import email.utils
import imaplib
import mailbox
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imapsession import Failure, check, fetch_items, ok, open_session  # noqa: E402


def numbers(data):
    text = b" ".join(d for d in data if d).decode()
    return [int(x) for x in text.split()]


def thread_parents(text):
    """{message: parent or None} and the order of appearance, from `(1 (2)(3 4))...`."""
    parents, order = {}, []
    # Each open list: [parent of its first number, last number seen in it].
    stack = []
    for tok in re.findall(r"\(|\)|\d+", text):
        if tok == "(":
            outer_last = stack[-1][1] if stack else None
            outer_parent = stack[-1][0] if stack else None
            stack.append([outer_last if outer_last is not None else (outer_parent if stack else None), None])
        elif tok == ")":
            stack.pop()
        else:
            n = int(tok)
            top = stack[-1]
            parents[n] = top[1] if top[1] is not None else top[0]
            top[1] = n
            order.append(n)
    return parents, order


def ids(value):
    return re.findall(r"<([^<>]+)>", value or "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inbox = os.path.join(tmp, "inbox")
        subprocess.run([sys.executable, a.gen, "--messages", str(a.messages), "--seed", str(a.seed),
                        "--out", inbox], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            run_checks(a, inbox, tmp)
        except Failure as e:
            print("FAIL: %s" % e)
            return 1
    print("ok")
    return 0


def run_checks(a, inbox, tmp):
    headers = []
    for msg in mailbox.mbox(inbox, factory=None):
        headers.append({k.lower(): str(v) for k, v in msg.items()})
    n = len(headers)
    m = open_session(a.server, inbox, tmp)
    typ, exists = m.select("INBOX", readonly=True)
    check(typ == "OK" and int(exists[0]) == n, "SELECT: %s %r" % (typ, exists))
    info = {seq: items for seq, items in fetch_items(ok(m.fetch("1:*", "(UID RFC822.SIZE)"), "FETCH"))}
    check(len(info) == n, "FETCH 1:* answered %d messages" % len(info))
    arrival = {}
    for line in ok(m.fetch("1:*", "(INTERNALDATE)"), "FETCH INTERNALDATE"):
        t = imaplib.Internaldate2tuple(line)
        check(t is not None, "unreadable INTERNALDATE in %r" % line)
        arrival[int(line.split()[0])] = int(time.mktime(t))

    def internal(seq):
        return arrival[seq]

    def sent(seq):
        value = headers[seq - 1].get("date")
        try:
            dt = email.utils.parsedate_to_datetime(value) if value else None
        except (TypeError, ValueError):
            dt = None
        return int(dt.timestamp()) if dt else internal(seq)

    def local_part(seq):
        pairs = email.utils.getaddresses([headers[seq - 1].get("from", "")])
        addr = pairs[0][1] if pairs else ""
        return addr.split("@")[0].upper()

    def check_sorted(name, got, key):
        check(sorted(got) == list(range(1, n + 1)), "%s is not a permutation of 1..%d" % (name, n))
        want = sorted(range(1, n + 1), key=lambda s: (key(s), s))
        if got != want:
            i = next(i for i, (x, y) in enumerate(zip(got, want)) if x != y)
            raise Failure("%s differs at position %d: got %s, expected %s" % (name, i, got[i:i + 5], want[i:i + 5]))

    cases = [
        ("ARRIVAL", lambda s: internal(s)),
        ("DATE", sent),
        ("REVERSE DATE", lambda s: -sent(s)),
        ("REVERSE SIZE", lambda s: -info[s]["RFC822.SIZE"]),
        ("FROM", local_part),
    ]
    for criteria, key in cases:
        got = numbers(ok(m.sort("(%s)" % criteria, "UTF-8", "ALL"), "SORT (%s)" % criteria))
        check_sorted("SORT (%s)" % criteria, got, key)
        uids = numbers(ok(m.uid("SORT", "(%s)" % criteria, "UTF-8", "ALL"), "UID SORT"))
        check(uids == [info[s]["UID"] for s in got], "UID SORT (%s) is not SORT in UIDs" % criteria)
        print("SORT (%s) ok" % criteria)

    full = numbers(ok(m.sort("(SUBJECT)", "UTF-8", "ALL"), "SORT (SUBJECT)"))
    check(sorted(full) == list(range(1, n + 1)), "SORT (SUBJECT) is not a permutation")
    part = numbers(ok(m.sort("(SUBJECT)", "UTF-8", "1:500"), "SORT (SUBJECT) 1:500"))
    check(part == [s for s in full if s <= 500], "SORT over 1:500 is not the full SORT filtered")
    print("SORT (SUBJECT) ok")

    # THREAD REFERENCES: parent links follow the references.
    text = b"".join(ok(m.thread("REFERENCES", "UTF-8", "ALL"), "THREAD REFERENCES")).decode()
    parents, order = thread_parents(text)
    check(sorted(order) == list(range(1, n + 1)), "THREAD REFERENCES does not list every message once")
    by_id = {}
    for seq in range(1, n + 1):
        for mid in ids(headers[seq - 1].get("message-id"))[:1]:
            by_id.setdefault(mid, []).append(seq)
    linked = 0
    for seq in range(1, n + 1):
        h = headers[seq - 1]
        refs = ids(h.get("references")) or ids(h.get("in-reply-to"))[:1]
        if not refs:
            continue
        target = by_id.get(refs[-1])
        if not target or len(target) != 1 or target[0] == seq:
            continue
        # A loop would keep the link out; the generator writes none.
        check(parents.get(seq) == target[0],
              "message %d replies to %d but hangs under %s" % (seq, target[0], parents.get(seq)))
        linked += 1
    check(linked > n // 10, "only %d messages are replies: the mailbox is no test" % linked)
    uid_text = b"".join(ok(m.uid("THREAD", "REFERENCES", "UTF-8", "ALL"), "UID THREAD")).decode()
    check(re.sub(r"\d+", lambda x: str(info[int(x.group())]["UID"]), text) == uid_text,
          "UID THREAD is not THREAD in UIDs")
    print("THREAD REFERENCES ok (%d reply links checked)" % linked)

    # THREAD ORDEREDSUBJECT: two levels, dates in order.
    text = b"".join(ok(m.thread("ORDEREDSUBJECT", "UTF-8", "ALL"), "THREAD ORDEREDSUBJECT")).decode()
    parents, order = thread_parents(text)
    check(sorted(order) == list(range(1, n + 1)), "ORDEREDSUBJECT does not list every message once")
    roots = [s for s in order if parents[s] is None]
    for s, p in parents.items():
        check(p is None or parents[p] is None, "ORDEREDSUBJECT nests deeper than two levels at %d" % s)
    keys = [(sent(r), r) for r in roots]
    check(keys == sorted(keys), "ORDEREDSUBJECT threads are not in sent-date order")
    for r in roots:
        kids = [s for s in order if parents[s] == r]
        check([(sent(k), k) for k in kids] == sorted((sent(k), k) for k in kids),
              "children of %d are not in sent-date order" % r)
    print("THREAD ORDEREDSUBJECT ok (%d threads)" % len(roots))
    m.logout()


if __name__ == "__main__":
    sys.exit(main())
