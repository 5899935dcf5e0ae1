#!/usr/bin/env python3
"""Folder commands through Python's imaplib, as a script or a client would use them.

    folders.py BINARY DIR

Starts BINARY as a PREAUTH server over pipes (imaplib.IMAP4_stream, like an
ssh tunnel) on a fresh account in DIR (inbox, mail/, DIR as the home), and
checks LIST, CREATE, RENAME (including RENAME INBOX), STATUS, SUBSCRIBE/LSUB,
DELETE and NAMESPACE. Exits non-zero on the first failed check. Run by
tests/folders.rs (python_imaplib_session).
"""
import imaplib
import os
import re
import shlex
import sys

MESSAGE = (b"From a@example.org Wed Dec  2 05:53:22 1992\n"
           b"Subject: hello\nStatus: O\n\nbody\n\n")


def check(cond, what):
    if not cond:
        sys.exit("folders.py: FAILED: %s" % what)


def ok(result, what):
    typ, data = result
    check(typ == "OK", "%s: %s %r" % (what, typ, data))
    return data


def names(listing):
    """LIST/LSUB data lines -> [(attributes, name)]."""
    out = []
    for line in listing:
        if line is None:
            continue
        if isinstance(line, tuple):  # a name sent as a literal
            head, name = line
            attrs = re.match(rb'\((.*?)\)', head).group(1).split()
            out.append((attrs, name))
            continue
        m = re.match(rb'\((.*?)\) "/" (.*)$', line)
        check(m, "LIST line %r" % line)
        name = m.group(2)
        if name.startswith(b'"'):
            name = name[1:-1].replace(b'\\"', b'"').replace(b'\\\\', b'\\')
        out.append((m.group(1).split(), name))
    return out


def status(imap, mailbox, items):
    data = ok(imap.status(mailbox, "(%s)" % items), "STATUS " + mailbox)
    fields = re.search(rb'\((.*)\)', data[0]).group(1).split()
    return {fields[i].decode(): int(fields[i + 1]) for i in range(0, len(fields), 2)}


def main():
    binary, root = sys.argv[1], sys.argv[2]
    mail = os.path.join(root, "mail")
    inbox = os.path.join(root, "inbox")
    os.makedirs(mail, exist_ok=True)
    with open(inbox, "wb") as f:
        f.write(MESSAGE * 3)
    os.utime(inbox, (1700000000, 1700000100))  # modified after its last read
    command = " ".join(shlex.quote(a) for a in [
        binary, "--preauth", "--inbox", inbox, "--mail-dir", mail, "--home", root,
        "--log", "stderr"]) + " 2>/dev/null"
    imap = imaplib.IMAP4_stream(command)
    check(imap.state == "AUTH", "PREAUTH puts imaplib in AUTH, got %s" % imap.state)
    for cap in ("NAMESPACE", "CHILDREN", "STATUS=SIZE"):
        check(cap in imap.capabilities, "capability %s in %r" % (cap, imap.capabilities))

    ns = ok(imap.namespace(), "NAMESPACE")
    check(ns == [b'(("" "/")) NIL NIL'], "NAMESPACE %r" % ns)

    # CREATE: a mailbox, a folder (trailing delimiter), a nested mailbox, a non-ASCII name.
    ok(imap.create("Archive"), "CREATE Archive")
    ok(imap.create("Projects/"), "CREATE Projects/")
    ok(imap.create("Projects/2026"), "CREATE Projects/2026")
    ok(imap.create("&ZeVnLIqe-"), "CREATE Japanese name")
    typ, data = imap.create("Archive")
    check(typ == "NO" and b"[ALREADYEXISTS]" in data[0], "second CREATE: %s %r" % (typ, data))
    typ, data = imap.create("../escape")
    check(typ == "NO", "CREATE ../escape must fail: %s %r" % (typ, data))
    check(not os.path.exists(os.path.join(root, "escape")), "nothing outside the mail dir")

    listing = names(ok(imap.list(), "LIST"))
    # Modified after its last read: \Marked (UW's rule).
    check(listing[0] == ([b"\\NoInferiors", b"\\HasNoChildren", b"\\Marked"], b"INBOX"),
          "INBOX first: %r" % (listing[0],))
    by_name = {n: a for a, n in listing}
    check(set(by_name) == {b"INBOX", b"Archive", b"Projects", b"Projects/2026", b"&ZeVnLIqe-"},
          "LIST names %r" % sorted(by_name))
    check(b"\\Noselect" in by_name[b"Projects"] and b"\\HasChildren" in by_name[b"Projects"],
          "Projects attributes %r" % by_name[b"Projects"])
    check(b"\\HasNoChildren" in by_name[b"Archive"], "Archive attributes")
    check(os.path.isfile(os.path.join(mail, "&ZeVnLIqe-")), "file named in modified UTF-7")
    top = names(ok(imap.list('""', "%"), "LIST %"))
    check([n for _, n in top] == [b"INBOX", b"&ZeVnLIqe-", b"Archive", b"Projects"],
          "LIST %% %r" % top)
    sub = names(ok(imap.list("Projects/", "*"), "LIST Projects/ *"))
    check([n for _, n in sub] == [b"Projects/2026"], "LIST with a reference %r" % sub)

    # STATUS, including RFC 8438 SIZE.
    s = status(imap, "INBOX", "MESSAGES RECENT UIDNEXT UNSEEN SIZE")
    check(s["MESSAGES"] == 3 and s["RECENT"] == 0 and s["UNSEEN"] == 3 and s["UIDNEXT"] == 4,
          "STATUS INBOX %r" % s)
    check(s["SIZE"] == 3 * len(b"Subject: hello\r\n\r\nbody\r\n"), "SIZE %r" % s)
    empty = status(imap, "Archive", "MESSAGES UIDNEXT UIDVALIDITY")
    check(empty["MESSAGES"] == 0 and empty["UIDNEXT"] == 1 and empty["UIDVALIDITY"] > 0,
          "STATUS Archive %r" % empty)

    # RENAME a mailbox, then RENAME INBOX: its messages move, INBOX stays, empty.
    ok(imap.rename("Archive", "Projects/Archive"), "RENAME Archive")
    ok(imap.rename("INBOX", "Projects/Old-INBOX"), "RENAME INBOX")
    moved = status(imap, "Projects/Old-INBOX", "MESSAGES UNSEEN UIDNEXT")
    check(moved == {"MESSAGES": 3, "UNSEEN": 3, "UIDNEXT": 4}, "moved %r" % moved)
    left = status(imap, "INBOX", "MESSAGES")
    check(left["MESSAGES"] == 0, "INBOX after RENAME %r" % left)
    check(os.path.getsize(inbox) == 0, "spool file emptied in place")
    exists = ok(imap.select("Projects/Old-INBOX", readonly=True), "EXAMINE")
    check(exists == [b"3"], "EXAMINE says 3 messages: %r" % exists)
    imap.close()

    # Subscriptions go to ~/.mailboxlist, UW's file.
    ok(imap.subscribe("Projects/2026"), "SUBSCRIBE")
    lsub = names(ok(imap.lsub('""', "%"), "LSUB"))
    check(lsub == [([b"\\Noselect"], b"Projects")], "LSUB %% %r" % lsub)
    with open(os.path.join(root, ".mailboxlist"), "rb") as f:
        check(f.read() == b"Projects/2026\n", ".mailboxlist contents")

    # DELETE: a folder with inferiors is refused (RFC 3501 6.3.4).
    typ, data = imap.delete("Projects")
    check(typ == "NO", "DELETE Projects must fail: %r" % data)
    ok(imap.delete("Projects/2026"), "DELETE Projects/2026")
    typ, _ = imap.logout()
    check(typ == "BYE", "LOGOUT answers BYE, got %s" % typ)
    print("folders.py: all checks passed")


if __name__ == "__main__":
    main()
