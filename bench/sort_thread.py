#!/usr/bin/env python3
"""SORT, THREAD and UID MOVE: ours beside Dovecot, one run, one mailbox.

    bench/sort_thread.py [--messages 100000] [--seed 42] [--workdir /tmp/mbox-imapd-bench]
                         [--bin target/release/mbox-imapd] [--no-peers] [--move 1000]

For each server, on a fresh copy of the same generated mailbox and with no index
files (Dovecot's index directory is new each time: a first session on both sides):
SELECT, then `SORT (DATE)`, `SORT (SUBJECT)`, `THREAD REFERENCES` (each once
cold, then once more in the same session), then `UID MOVE` of N messages spread
over the mailbox (every (messages/N)th UID) into a new folder. It prints wall
seconds, ours/Dovecot ratios, and for ours the anonymous memory (RssAnon
sampled every 2 ms) during each phase beside the THREAD budget of
1 MB + 200 bytes per message. It also says whether the two servers' answers
agree. Figures only: nothing is asserted.

Needs what bench/run.py needs (root, Debian `dovecot-imapd`, `useradd -m
benchuser`) for the Dovecot column.
"""
import argparse
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as common  # noqa: E402  (generate, Sampler, start, the shared imapbench)

imapbench = common.imapbench
say = common.say

PHASES = [
    ("SORT (DATE)", b"SORT (DATE) US-ASCII ALL"),
    ("SORT (SUBJECT)", b"SORT (SUBJECT) US-ASCII ALL"),
    ("THREAD REFERENCES", b"THREAD REFERENCES US-ASCII ALL"),
]


def start_dovecot(inbox, work):
    argv = [os.path.join(common.SHARED, "bench", "peers", "dovecot.sh"), inbox]
    conn = imapbench.Conn(argv, dict(os.environ, TZ="UTC"), os.path.join(work, "stderr.log"), timeout=3600)
    line, _ = conn.read_resp()
    if not line.upper().startswith(b"* PREAUTH"):
        raise SystemExit("dovecot: no PREAUTH greeting: %r" % line[:200])
    return conn


def answer(untagged):
    """The SORT/THREAD data of a command's untagged responses."""
    for line, _ in untagged:
        if line.startswith(b"* SORT") or line.startswith(b"* THREAD"):
            return line.strip()
    return None


def session(name, src, args, starter):
    work = os.path.join(args.workdir, "sort-thread-" + name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    inbox = os.path.join(work, "inbox")
    shutil.copyfile(src, inbox)
    if os.geteuid() == 0 and name != "ours":
        shutil.chown(work, "benchuser")
        shutil.chown(inbox, "benchuser")
    conn = starter(inbox, work)
    sampler = common.Sampler(conn.pid)
    rows, answers = {}, {}

    def timed(label, cmd, keep=False):
        sampler.reset()
        t0 = time.perf_counter()
        tagged, unt = conn.command(cmd, keep=keep)
        wall = time.perf_counter() - t0
        ok = tagged.split(b" ")[1:2] == [b"OK"]
        rows[label] = {"wall": wall, "anon_kb": sampler.peak(), "ok": ok}
        say("  %-8s %-26s %8.3f s  anon peak %-9s %s" % (
            name, label, wall, common.mb(rows[label]["anon_kb"]),
            "" if ok else "FAILED " + tagged[:80].decode("latin-1")))
        return unt

    timed("SELECT", b"SELECT INBOX")
    for label, cmd in PHASES:
        answers[label] = answer(timed(label, cmd, keep=True))
    for label, cmd in PHASES:
        timed(label + " again", cmd)
    conn.command(b"CREATE Moved", keep=False)
    step = max(1, args.messages // args.move)
    uids = ",".join(str(u) for u in range(step, args.messages + 1, step))
    timed("UID MOVE %d" % len(uids.split(",")), b"UID MOVE " + uids.encode() + b" Moved")
    conn.command(b"LOGOUT", keep=False)
    sampler.close()
    conn.wait_exit(120)
    return rows, answers


def split_character(subject):
    """Whether an encoded word of `subject` does not decode on its own (a
    multi-byte character split across two words, RFC 2047 §5 forbids it)."""
    import base64
    import quopri
    import re
    for charset, enc, text in re.findall(r"=\?([^?]+)\?([bBqQ])\?([^?]*)\?=", subject):
        try:
            raw = (base64.b64decode(text + "==") if enc in "bB"
                   else quopri.decodestring(text.replace("_", " ").encode(), header=True))
            raw.decode("ascii" if charset.lower() == "us-ascii" else charset)
        except (ValueError, LookupError):
            return True
    return False


def explain_subject_difference(src, ours, theirs):
    """Says whether the SORT (SUBJECT) answers differ only by messages whose
    Subject splits a character across encoded words (we decode the character,
    Dovecot two replacement characters)."""
    import mailbox
    ours = [int(x) for x in ours.split()[2:]]
    theirs = [int(x) for x in (theirs or b"").split()[2:]]
    split = {i + 1 for i, m in enumerate(mailbox.mbox(src)) if split_character(str(m.get("Subject", "")))}
    same = [m for m in ours if m not in split] == [m for m in theirs if m not in split]
    say("    %d messages split a character across encoded words; without them the answers are %s" % (
        len(split), "identical" if same else "STILL DIFFERENT"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--workdir", default="/tmp/mbox-imapd-bench")
    ap.add_argument("--bin")
    ap.add_argument("--move", type=int, default=1000)
    ap.add_argument("--no-peers", dest="peers", action="store_false")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    server = common.build(args)
    src = common.generate(args)
    with open(src, "rb") as f:
        while f.read(1 << 24):
            pass  # warm the page cache for both servers alike
    say("== SORT / THREAD / UID MOVE, %d messages (%s)" % (args.messages, src))
    ours, our_answers = session("ours", src, args,
                                lambda inbox, work: common.start(server, inbox, work, "ours"))
    results = [("ours", ours)]
    if args.peers and common.dovecot_available():
        dove, dove_answers = session("dovecot", src, args, start_dovecot)
        results.append(("dovecot", dove))
        for label in our_answers:
            same = our_answers[label] == dove_answers.get(label)
            say("  answers of %-20s %s" % (label, "identical" if same else "DIFFER"))
            if not same and label == "SORT (SUBJECT)":
                explain_subject_difference(src, our_answers[label], dove_answers.get(label))
    budget_kb = (1024 * 1024 + 200 * args.messages) / 1024
    say("\n| phase | ours (s) | Dovecot (s) | ours / Dovecot | ours anon peak |")
    say("|---|---|---|---|---|")
    for label in ours:
        o = ours[label]
        d = results[1][1].get(label) if len(results) > 1 else None
        ratio = "%.2f" % (o["wall"] / d["wall"]) if d and d["wall"] > 0 else "-"
        say("| %s | %.3f | %s | %s | %s |" % (label, o["wall"], "%.3f" % d["wall"] if d else "-", ratio,
                                             common.mb(o["anon_kb"])))
    say("\nTHREAD anonymous-memory budget: 1 MB + 200 B x %d = %s" % (args.messages, common.mb(budget_kb)))


if __name__ == "__main__":
    main()
