"""STORE, EXPUNGE, UID EXPUNGE, CLOSE and implicit \\Seen through Python's
imaplib, then the file checked with mailbox.mbox and a second session.

    write_store_expunge.py --server BIN --dir WORKDIR
"""
import os
import re

from write_common import (run, workdir, Failure, check, expect_bad, check_metadata_once, fetch_lines, flag_letters,
                          make_message, mbox_of, ok, one, open_session, read_mbox)


def main():
    server, inbox, maildir, log = workdir()
    msgs = [make_message("m%02d" % i, i) for i in range(20)]
    with open(inbox, "wb") as f:
        f.write(mbox_of(msgs))

    m = open_session(server, inbox, maildir, log)
    data = ok(m.select("INBOX"), "SELECT")
    check(data == [b"20"], "EXISTS %r" % data)
    validity = m.response("UIDVALIDITY")[1][0]
    m.untagged_responses.clear()  # imaplib keeps SELECT's FLAGS etc. otherwise

    data = ok(m.store("1", "+FLAGS", r"(\Seen \Flagged)"), "STORE 1")
    check(len(data) == 1 and re.match(rb"^1 \(FLAGS \(.*\)\)$", data[0]), "STORE 1 answer %r" % data)
    check(b"\\Seen" in data[0] and b"\\Flagged" in data[0], "STORE 1 flags %r" % data)
    ok(m.store("2", "+FLAGS", r"(\Answered)"), "STORE 2")
    data = ok(m.store("3", "+FLAGS", "(Work $Forwarded)"), "STORE 3")
    flags = m.response("FLAGS")[1]
    check(flags and flags[0] and b"Work" in flags[0] and b"$Forwarded" in flags[0],
          "new keywords must be announced in FLAGS: %r" % flags)
    check(b"Work" in data[0] and b"$Forwarded" in data[0], "STORE 3 answer %r" % data)
    ok(m.store("4,6", "+FLAGS", r"(\Deleted)"), "STORE 4,6")
    data = ok(m.store("5", "+FLAGS.SILENT", r"(\Draft)"), "STORE 5 silent")
    check(data == [None], ".SILENT must not answer with FETCH: %r" % data)
    ok(m.store("7", "FLAGS", r"(\Seen)"), "STORE 7 FLAGS")
    data = ok(m.store("7", "-FLAGS", r"(\Seen)"), "STORE 7 -FLAGS")
    check(b"\\Seen" not in data[0], "-FLAGS answer %r" % data)
    expect_bad("STORE past EXISTS", m.store, "21", "+FLAGS", r"(\Seen)")

    data = ok(m.expunge(), "EXPUNGE")
    # Seq 4 and 6 of 20: "* 4 EXPUNGE" then the old 6 is number 5.
    check(data == [b"4", b"5"], "EXPUNGE answers %r" % data)
    data = ok(m.fetch("4", "(UID FLAGS)"), "FETCH 4")
    check(b"UID 5" in data[0], "after EXPUNGE message 4 is UID 5: %r" % data)

    data = ok(m.uid("STORE", "20", "+FLAGS", r"(\Flagged)"), "UID STORE 20")
    check(len(data) == 1 and b"UID 20" in data[0] and b"\\Flagged" in data[0],
          "UID STORE must answer with the UID: %r" % data)
    ok(m.uid("STORE", "8,9", "+FLAGS", r"(\Deleted)"), "UID STORE 8,9")
    ok(m.uid("EXPUNGE", "9"), "UID EXPUNGE 9")
    # UIDs now 1,2,3,5,7,8,9,...: UID 9 is message 7, and only it goes.
    # (imaplib files UID EXPUNGE's untagged EXPUNGE under "EXPUNGE".)
    data = m.response("EXPUNGE")[1]
    check(data == [b"7"], "UID EXPUNGE answer %r" % (data,))
    data = ok(m.fetch("7", "(UID FLAGS)"), "FETCH 7")
    check(b"UID 10" in data[0], "UID EXPUNGE removed the wrong message: %r" % data)
    data = ok(m.fetch("6", "(UID FLAGS)"), "FETCH 6")
    check(b"UID 8" in data[0] and b"\\Deleted" in data[0], "UID 8 must stay: %r" % data)

    # Implicit \Seen (RFC 3501 §6.4.5): message 10 is UID 13 (m12).
    data = ok(m.fetch("10", "(UID BODY[])"), "FETCH 10 BODY[]")
    text = b"".join(fetch_lines(data))
    check(b"UID 13" in text and b"\\Seen" in text, "BODY[] must set \\Seen: %r" % text[:300])
    ok(m.check(), "CHECK")

    typ, data = m.close()
    check(typ == "OK", "CLOSE %s %r" % (typ, data))
    check(m.response("EXPUNGE")[1] == [None], "CLOSE must expunge silently")
    m.logout()

    # The file, read by Python's mbox reader.
    entries, pseudo = read_mbox(inbox)
    ids = [e[0] for e in entries]
    gone = {"m03", "m05", "m07", "m08"}
    want = [mm for mm in ("m%02d" % i for i in range(20)) if mm not in gone]
    check(ids == want, "messages in the file: %s" % ids)
    for i, (wire, stored) in enumerate(msgs):
        mid = "m%02d" % i
        if mid in gone:
            continue
        _, msg, raw = one(entries, mid)
        body = raw.split(b"\n\n", 1)[1]
        check(body == stored, "%s body changed: %r" % (mid, body[:200]))
    check_metadata_once(entries, "INBOX")
    expect_flags = {"m00": {"R", "F"}, "m01": {"A"}, "m04": {"T"}, "m12": {"R"}, "m19": {"F"},
                    "m06": set(), "m02": set()}
    for mid, letters in expect_flags.items():
        have = flag_letters(one(entries, mid)[1])
        check(have == letters, "%s flags %s, want %s" % (mid, sorted(have), sorted(letters)))
    kw = (one(entries, "m02")[1].get("X-Keywords") or "").split()
    check(sorted(kw) == ["$Forwarded", "Work"], "m02 X-Keywords %r" % kw)
    for mid, msg, _ in entries:
        check(msg.get("X-UID") is not None, "%s has no X-UID after the session" % mid)
    xuids = [int(e[1].get("X-UID")) for e in entries]
    check(xuids == [1, 2, 3, 5, 7, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
          "X-UIDs %s" % xuids)
    check(pseudo is not None or entries[0][1].get("X-IMAPbase") is not None,
          "UIDVALIDITY must be recorded (X-IMAP or X-IMAPbase)")

    # A second session sees the same UIDs, flags and UIDVALIDITY; nothing is
    # \Recent any more (RFC 3501 §2.3.2: recent in one session only).
    m = open_session(server, inbox, maildir, log)
    data = ok(m.select("INBOX"), "SELECT again")
    check(data == [b"16"], "EXISTS after reopening %r" % data)
    check(m.response("UIDVALIDITY")[1][0] == validity, "UIDVALIDITY changed")
    data = ok(m.fetch("1:*", "(UID FLAGS)"), "FETCH 1:*")
    uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]
    check(uids == xuids, "UIDs %s" % uids)
    check(not any(b"\\Recent" in d for d in data), "\\Recent in a second session: %r" % data)
    check(b"\\Seen" in data[0] and b"\\Flagged" in data[0], "UID 1 flags %r" % data[0])
    check(b"Work" in data[2], "UID 3 keywords %r" % data[2])
    m.logout()
    print("ok")


if __name__ == "__main__":
    run(main)
