"""APPEND and COPY with UIDPLUS through Python's imaplib, into INBOX (selected),
another folder, a folder that already has mail, and a missing one; then the
files checked with mailbox.mbox.

    write_append_copy.py --server BIN --dir WORKDIR
"""
import os
import re

from write_common import (run, workdir, Failure, check, expect_bad, tagged, check_metadata_once, code_of, fetch_lines,
                          flag_letters, make_message, mbox_of, ok, one, open_session, read_mbox,
                          uid_set)


def main():
    server, inbox, maildir, log = workdir()
    msgs = [make_message("i%d" % i, i) for i in range(5)]
    with open(inbox, "wb") as f:
        f.write(mbox_of(msgs))
    archive = os.path.join(maildir, "Archive")
    open(archive, "wb").close()
    full = os.path.join(maildir, "Full")
    with open(full, "wb") as f:
        f.write(mbox_of([make_message("f%d" % i, i + 10) for i in range(2)]))
    new1, new2, new3 = (make_message(n, 30 + i) for i, n in enumerate(("new1", "new2", "new3")))

    m = open_session(server, inbox, maildir, log)
    ok(m.select("INBOX"), "SELECT")
    validity = int(m.response("UIDVALIDITY")[1][0])
    m.untagged_responses.clear()  # imaplib keeps SELECT's EXISTS etc. otherwise

    # Into the selected mailbox: APPENDUID, and EXISTS before the tagged OK.
    data = ok(m.append("INBOX", r"(\Seen)", '" 2-Nov-2026 09:00:00 +0000"', new1[0]), "APPEND INBOX")
    code = code_of(data)
    check(code[:1] == [b"APPENDUID"], "APPEND INBOX must have APPENDUID: %r" % data)
    check(int(code[1]) == validity and int(code[2]) == 6, "APPENDUID %r" % code)
    check(m.response("EXISTS")[1] == [b"6"], "APPEND into the selected mailbox: EXISTS 6")

    data = ok(m.append("Archive", None, None, new2[0]), "APPEND Archive")
    code = code_of(data)
    check(code[:1] == [b"APPENDUID"] and code[2] == b"1", "APPEND Archive %r" % data)
    archive_validity = int(code[1])

    data = ok(m.append("Full", r"(\Flagged $Label1)", None, new3[0]), "APPEND Full")
    code = code_of(data)
    check(code[:1] == [b"APPENDUID"] and code[2] == b"3", "APPEND Full %r" % data)

    typ, data = m.append("Missing", None, None, new1[0])
    check(typ == "NO" and data[0].startswith(b"[TRYCREATE]"), "APPEND Missing: %s %r" % (typ, data))
    check(not os.path.exists(os.path.join(maildir, "Missing")), "APPEND must not create folders")

    # COPY keeps flags and keywords (not \Recent); COPYUID pairs the UIDs.
    ok(m.store("2", "+FLAGS", r"(\Answered Work)"), "STORE 2")
    data = ok(m.copy("1:3", "Archive"), "COPY 1:3 Archive")
    code = code_of(data)
    check(code[:1] == [b"COPYUID"] and int(code[1]) == archive_validity, "COPYUID %r" % data)
    check(uid_set(code[2]) == [1, 2, 3] and uid_set(code[3]) == [2, 3, 4], "COPYUID sets %r" % code)

    # UID COPY into the selected mailbox itself.
    data = ok(tagged(m, "UID", "COPY", "2,4", "INBOX"), "UID COPY 2,4 INBOX")
    code = code_of(data)
    check(code[:1] == [b"COPYUID"] and int(code[1]) == validity, "COPYUID %r" % data)
    check(uid_set(code[2]) == [2, 4] and uid_set(code[3]) == [7, 8], "COPYUID sets %r" % code)
    check(m.response("EXISTS")[1] == [b"8"], "COPY into the selected mailbox: EXISTS 8")

    typ, data = m.copy("2", "Missing")
    check(typ == "NO" and data[0].startswith(b"[TRYCREATE]"), "COPY Missing: %s %r" % (typ, data))
    expect_bad("COPY past EXISTS", m.copy, "9", "Archive")
    data = ok(tagged(m, "UID", "COPY", "100:200", "Archive"), "UID COPY of nothing")
    check(code_of(data)[:1] != [b"COPYUID"], "no COPYUID when nothing was copied: %r" % data)

    # The copies as the server serves them.
    ok(m.select("Archive"), "SELECT Archive")
    data = ok(m.fetch("1:*", "(UID FLAGS BODY.PEEK[])"), "FETCH Archive")
    bodies = [d for d in data if isinstance(d, tuple)]
    check(len(bodies) == 4, "Archive has %d messages" % len(bodies))
    wanted = [new2, msgs[0], msgs[1], msgs[2]]
    for (head, literal), (wire, stored) in zip(bodies, wanted):
        body = literal.split(b"\r\n\r\n", 1)[1]
        check(body == stored.replace(b"\n", b"\r\n"), "copied body differs: %r" % body[:200])
        check(b"X-UID" not in literal and b"Status:" not in literal, "metadata leaked: %r" % literal[:400])
    m.logout()

    entries, _ = read_mbox(inbox)
    ids = [e[0] for e in entries]
    check(ids == ["i0", "i1", "i2", "i3", "i4", "new1", "i1", "i3"], "INBOX %s" % ids)
    check_metadata_once(entries, "INBOX")
    check(flag_letters(entries[5][1]) == {"R"}, "new1 flags %s" % flag_letters(entries[5][1]))
    check({"A"} <= flag_letters(entries[6][1]), "copy of i1 lost \\Answered")
    check("Work" in (entries[6][1].get("X-Keywords") or ""), "copy of i1 lost its keyword")
    bodies = {mid: raw.split(b"\n\n", 1)[1] for mid, _, raw in entries}
    check(bodies["new1"] == new1[1], "new1 body %r" % bodies["new1"][:200])
    check("2026" in entries[5][1].get_from() and "Nov" in entries[5][1].get_from(),
          "APPEND date not in the From_ line: %r" % entries[5][1].get_from())

    entries, _ = read_mbox(archive)
    check([e[0] for e in entries] == ["new2", "i0", "i1", "i2"], "Archive %s" % [e[0] for e in entries])
    check_metadata_once(entries, "Archive")
    check({"A"} <= flag_letters(one(entries, "i1")[1]), "Archive i1 lost \\Answered")
    for (mid, _, raw), (_, stored) in zip(entries, wanted):
        check(raw.split(b"\n\n", 1)[1] == stored, "Archive %s body differs" % mid)

    entries, _ = read_mbox(full)
    check([e[0] for e in entries] == ["f0", "f1", "new3"], "Full %s" % [e[0] for e in entries])
    check("F" in flag_letters(entries[2][1]), "new3 lost \\Flagged")
    check("$Label1" in (entries[2][1].get("X-Keywords") or ""), "new3 lost $Label1")
    print("ok")


if __name__ == "__main__":
    run(main)
