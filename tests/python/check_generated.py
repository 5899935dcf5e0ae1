#!/usr/bin/env python3
"""imaplib against a large generated mailbox (shared/bench/gen_mbox.py):

* SELECT: EXISTS = N, UIDs 1..N (a fresh spool has no X-UID);
* FETCH 1:* (UID RFC822.SIZE): every size equals the independent reading (mboxref);
* FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]: byte-exact for every message;
* BODY.PEEK[] of a seeded sample (and the largest message) byte-exact, and every
  MIME part BODY[n] / BODY[n.MIME] of the sampled multipart messages;
* SEARCH TEXT <each rare word> and SEARCH FROM x SUBJECT y: the message numbers the
  generator planted (its .meta.json), and UID SEARCH gives the same numbers;
* the file is unchanged afterwards.

usage: check_generated.py --server BIN --gen gen_mbox.py [--messages 10000] [--seed 42]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxref  # noqa: E402
from imapsession import Failure, check, fetch_items, ok, open_session, search  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--gen", required=True, help="path of gen_mbox.py")
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--sample", type=int, default=300)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inbox = os.path.join(tmp, "inbox")
        t0 = time.time()
        subprocess.run([sys.executable, a.gen, "--messages", str(a.messages), "--seed", str(a.seed),
                        "--out", inbox], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        meta = json.load(open(inbox + ".meta.json"))
        data = open(inbox, "rb").read()
        expected = mboxref.read_mailbox(data)
        print("generated %d messages, %d bytes in %.1fs" % (len(expected), len(data), time.time() - t0))
        check(len(expected) == a.messages == meta["messages"], "generator and reference disagree on the count")
        try:
            run_checks(a, inbox, tmp, expected, meta)
        except Failure as e:
            print("FAIL: %s" % e)
            return 1
        # A read-write session may record UW metadata (X-UID, Status: O, ...) as
        # UW imapd does; every message must still read the same to a client.
        check([x.wire for x in mboxref.read_mailbox(open(inbox, "rb").read())]
              == [x.wire for x in mboxref.read_mailbox(data)], "the server changed a message in the mailbox file")
    print("ok")
    return 0


def run_checks(a, inbox, tmp, expected, meta):
    n = len(expected)
    m = open_session(a.server, inbox, tmp)
    t0 = time.time()
    typ, exists = m.select("INBOX")
    check(typ == "OK", "SELECT: %s %r" % (typ, exists))
    check(int(exists[0]) == n, "EXISTS %s, expected %d" % (exists[0], n))
    print("SELECT %.2fs" % (time.time() - t0))

    t0 = time.time()
    got = fetch_items(ok(m.fetch("1:*", "(UID RFC822.SIZE)"), "FETCH sizes"))
    check(len(got) == n, "%d answers to FETCH 1:*" % len(got))
    for i, (seq, items) in enumerate(got):
        check(seq == i + 1 and items.get("UID") == i + 1, "message %d: UID %s" % (seq, items.get("UID")))
        check(items.get("RFC822.SIZE") == expected[i].size,
              "message %d: RFC822.SIZE %s, expected %d" % (seq, items.get("RFC822.SIZE"), expected[i].size))
    print("FETCH 1:* (UID RFC822.SIZE) %.2fs" % (time.time() - t0))

    t0 = time.time()
    got = fetch_items(ok(m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), "FETCH subjects"))
    for i, (seq, items) in enumerate(got):
        want = b"".join(raw for name, raw in mboxref.header_fields(expected[i].wire_header)
                        if name.lower() == b"subject") + b"\r\n"
        check(items.get("BODY[HEADER.FIELDS (SUBJECT)]") == want, "message %d: subject %r vs %r" % (
            seq, items.get("BODY[HEADER.FIELDS (SUBJECT)]"), want))
    print("FETCH 1:* subjects %.2fs" % (time.time() - t0))

    rng = random.Random(a.seed)
    sample = sorted(set(rng.sample(range(1, n + 1), min(a.sample, n)) +
                        [max(range(1, n + 1), key=lambda s: expected[s - 1].size)]))
    t0 = time.time()
    parts = 0
    for seq in sample:
        got = fetch_items(ok(m.fetch(str(seq), "(BODY.PEEK[])"), "FETCH %d BODY[]" % seq))
        check(got and got[0][1].get("BODY[]") == expected[seq - 1].wire, "message %d: BODY[] differs" % seq)
        for section, want in sorted(mboxref.mime_parts(expected[seq - 1].wire).items()):
            got = fetch_items(ok(m.fetch(str(seq), "(BODY.PEEK[%s])" % section), "BODY[%s]" % section))
            value = got[0][1].get("BODY[%s]" % section, b"" if want == b"" else None) if got else None
            check(value == want, "message %d: BODY[%s] differs" % (seq, section))
            parts += 1
    print("%d bodies and %d MIME parts byte-exact %.2fs" % (len(sample), parts, time.time() - t0))

    for word, info in meta["rare_words"].items():
        t0 = time.time()
        hits = search(m, "TEXT", word)
        check(hits == sorted(info["seqs"]), "SEARCH TEXT %s: %s, planted at %s" % (word, hits, info["seqs"]))
        uids = search(m, "TEXT", word, uid=True)
        check(uids == hits, "UID SEARCH TEXT %s: %s" % (word, uids))
        print("SEARCH TEXT %s: %d hits %.2fs" % (word, len(hits), time.time() - t0))
    fs = meta["from_subject"]
    t0 = time.time()
    hits = search(m, "FROM", fs["from"], "SUBJECT", fs["subject"])
    check(hits == sorted(fs["seqs"]), "SEARCH FROM %s SUBJECT %s: %s, planted at %s" % (
        fs["from"], fs["subject"], hits, fs["seqs"]))
    print("SEARCH FROM SUBJECT: %d hits %.2fs" % (len(hits), time.time() - t0))
    ok(m.close(), "CLOSE")
    m.logout()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
