"""MOVE and UID MOVE (RFC 6851) through Python's imaplib, as Thunderbird moves
mail into Trash: COPYUID untagged before the EXPUNGEs, only the moved
messages expunged (another \\Deleted message stays), MOVE into the selected
mailbox itself; then the files checked with mailbox.mbox.

    write_move.py --server BIN --dir WORKDIR
"""
import os

from write_common import (run, workdir, check, expect_bad, tagged, check_metadata_once, make_message, mbox_of,
                          ok, open_session, read_mbox, uid_set)


def main():
    server, inbox, maildir, log = workdir()
    msgs = [make_message("m%d" % i, i) for i in range(6)]
    with open(inbox, "wb") as f:
        f.write(mbox_of(msgs))
    trash = os.path.join(maildir, "Trash")
    open(trash, "wb").close()

    m = open_session(server, inbox, maildir, log)
    typ, caps = m.capability()
    check(b"MOVE" in caps[0].split(), "MOVE advertised: %r" % caps)
    ok(m.select("INBOX"), "SELECT")
    validity = int(m.response("UIDVALIDITY")[1][0])
    m.untagged_responses.clear()
    ok(m.store("1", "+FLAGS.SILENT", r"(\Deleted)"), "STORE 1 \\Deleted")

    # MOVE 2:3 Trash: COPYUID untagged, EXPUNGE 2 and 2 again, message 1 stays.
    data = ok(tagged(m, "MOVE", "2:3", "Trash"), "MOVE 2:3 Trash")
    ok_codes = m.untagged_responses.get("OK", [])
    copyuid = [c for c in ok_codes if c.startswith(b"[COPYUID")]
    check(len(copyuid) == 1, "one untagged COPYUID: %r / %r" % (ok_codes, data))
    words = copyuid[0].strip(b"[]").split(b"]")[0].split()
    check(uid_set(words[2]) == [2, 3] and uid_set(words[3]) == [1, 2], "COPYUID %r" % words)
    expunged = m.untagged_responses.get("EXPUNGE", [])
    check(expunged == [b"2", b"2"], "EXPUNGE 2, 2: %r" % expunged)
    m.untagged_responses.clear()

    # UID MOVE of a UID that is gone moves nothing and says OK.
    ok(tagged(m, "UID", "MOVE", "100:200", "Trash"), "UID MOVE of nothing")
    # UID MOVE into the selected mailbox: a new UID, the old one expunged.
    data = ok(tagged(m, "UID", "MOVE", "5", "INBOX"), "UID MOVE 5 INBOX")
    ok_codes = m.untagged_responses.get("OK", [])
    copyuid = [c for c in ok_codes if c.startswith(b"[COPYUID")]
    check(len(copyuid) == 1 and int(copyuid[0].split()[1]) == validity, "COPYUID %r" % ok_codes)
    check(m.untagged_responses.get("EXPUNGE") == [b"3"], "UID MOVE 5: EXPUNGE 3: %r" % m.untagged_responses)
    typ, data = tagged(m, "MOVE", "1", "Missing")
    check(typ == "NO" and b"TRYCREATE" in data[0], "MOVE to Missing: %s %r" % (typ, data))
    expect_bad("MOVE past EXISTS", tagged, m, "MOVE", "9", "Trash")
    m.logout()

    entries, _ = read_mbox(inbox)
    ids = [e[0] for e in entries]
    check(ids == ["m0", "m3", "m5", "m4"], "INBOX after the moves: %s" % ids)
    check_metadata_once(entries, "INBOX")
    entries, _ = read_mbox(trash)
    check([e[0] for e in entries] == ["m1", "m2"], "Trash %s" % [e[0] for e in entries])
    check_metadata_once(entries, "Trash")
    print("ok")


if __name__ == "__main__":
    run(main)
