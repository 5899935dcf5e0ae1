#!/usr/bin/env python3
"""Extended LIST through Python's imaplib, the way Thunderbird asks.

    list_extended.py BINARY DIR

Starts BINARY as a PREAUTH server over pipes (imaplib.IMAP4_stream) on a
fresh account in DIR (inbox, mail/, DIR as the home, DIR/conf as the
configuration file naming Work/Archive the archive), and checks the two
commands Thunderbird sends to a server with SPECIAL-USE and LIST-STATUS:

    LIST (SPECIAL-USE) "" "*"
    LIST "" "*" RETURN (SPECIAL-USE SUBSCRIBED CHILDREN STATUS (UNSEEN))

plus CREATE ... (USE (...)). Exits non-zero on the first failed check. Run
by tests/folders.rs (python_imaplib_list_extended).
"""
import imaplib
import os
import re
import shlex
import sys

def message(subject, status):
    return (b"From a@example.org Wed Dec  2 05:53:22 1992\n"
            b"Subject: " + subject + b"\n" + status + b"\n\nbody\n\n")


SEEN = b"Status: RO"
UNSEEN = b"Status: O"

# name -> (messages, of which unseen)
MAILBOXES = {
    "Sent": [SEEN, SEEN],
    "Drafts": [UNSEEN],
    "Trash": [SEEN, UNSEEN, UNSEEN],
    "Junk": [UNSEEN],
    "Work/Notes": [UNSEEN, SEEN],
    "Work/Archive": [SEEN],
    "saved-messages": [SEEN],
}


def check(cond, what):
    if not cond:
        sys.exit("list_extended.py: FAILED: %s" % what)


def command(imap, *args):
    """Sends a command imaplib has no method for; returns its untagged data."""
    typ, data = imap._simple_command(*args)
    check(typ == "OK", "%s: %s %r" % (" ".join(args), typ, data))
    lists = imap._untagged_response(typ, data, "LIST")[1]
    statuses = imap._untagged_response(typ, data, "STATUS")[1]
    return parse_lists(lists), parse_statuses(statuses)


def parse_lists(lines):
    """LIST data -> {name: (set of attributes, extended data or b"")}."""
    out = {}
    for line in lines:
        if line is None:
            continue
        m = re.match(rb'\(([^)]*)\) "/" ("(?:[^"\\]|\\.)*"|[^ ]+)( .*)?$', line)
        check(m, "LIST line %r" % line)
        name = m.group(2)
        if name.startswith(b'"'):
            name = name[1:-1]
        out[name.decode()] = (set(m.group(1).decode().split()), m.group(3) or b"")
    return out


def parse_statuses(lines):
    """STATUS data -> {name: {item: number}}."""
    out = {}
    for line in lines:
        if line is None:
            continue
        m = re.match(rb'("(?:[^"\\]|\\.)*"|[^ ]+) \((.*)\)$', line)
        check(m, "STATUS line %r" % line)
        name = m.group(1).strip(b'"').decode()
        fields = m.group(2).decode().split()
        out[name] = {fields[i]: int(fields[i + 1]) for i in range(0, len(fields), 2)}
    return out


def main():
    binary, root = sys.argv[1], sys.argv[2]
    mail = os.path.join(root, "mail")
    inbox = os.path.join(root, "inbox")
    os.makedirs(os.path.join(mail, "Work"), exist_ok=True)
    with open(inbox, "wb") as f:
        f.write(message(b"in", UNSEEN) * 2)
    for name, flags in MAILBOXES.items():
        with open(os.path.join(mail, name), "wb") as f:
            for i, status in enumerate(flags):
                f.write(message(b"m%d" % i, status))
    conf = os.path.join(root, "conf")
    with open(conf, "w") as f:
        f.write("# Thunderbird's archive is elsewhere here\n"
                "special_use_archive = Work/Archive, Archives\n")
    with open(os.path.join(root, ".mailboxlist"), "wb") as f:
        f.write(b"INBOX\nSent\nWork/Notes\nGone\n")
    command_line = " ".join(shlex.quote(a) for a in [
        binary, "--preauth", "--inbox", inbox, "--mail-dir", mail, "--home", root,
        "--config", conf, "--log", "stderr"]) + " 2>/dev/null"
    imap = imaplib.IMAP4_stream(command_line)
    for cap in ("LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE"):
        check(cap in imap.capabilities, "capability %s in %r" % (cap, imap.capabilities))

    # Thunderbird, first: which mailboxes are special?
    lists, statuses = command(imap, "LIST", "(SPECIAL-USE)", '""', '"*"')
    uses = {name: attrs & {"\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"}
            for name, (attrs, _) in lists.items()}
    check(uses == {"Sent": {"\\Sent"}, "Drafts": {"\\Drafts"}, "Trash": {"\\Trash"},
                   "Junk": {"\\Junk"}, "Work/Archive": {"\\Archive"}},
          "LIST (SPECIAL-USE): %r" % lists)
    check(not statuses, "no STATUS without RETURN (STATUS): %r" % statuses)

    # Then the whole tree with everything it wants in one round trip.
    lists, statuses = command(imap, "LIST", '""', '"*"', "RETURN",
                              "(SPECIAL-USE SUBSCRIBED CHILDREN STATUS (UNSEEN))")
    expected = {"INBOX", "Work"} | set(MAILBOXES)
    check(set(lists) == expected, "LIST names %r" % sorted(lists))
    check("Gone" not in lists, "a subscribed missing name is not in a plain LIST")
    check({"\\Subscribed", "\\NoInferiors"} <= lists["INBOX"][0], "INBOX %r" % (lists["INBOX"],))
    check({"\\Sent", "\\Subscribed", "\\HasNoChildren"} <= lists["Sent"][0],
          "Sent %r" % (lists["Sent"],))
    check("\\Subscribed" not in lists["Trash"][0], "Trash %r" % (lists["Trash"],))
    check({"\\Noselect", "\\HasChildren"} <= lists["Work"][0], "Work %r" % (lists["Work"],))
    check(lists["saved-messages"][0] & {"\\Archive", "\\Sent"} == set(),
          "saved-messages is no special use: %r" % (lists["saved-messages"],))
    want = {name: {"UNSEEN": flags.count(UNSEEN)} for name, flags in MAILBOXES.items()}
    want["INBOX"] = {"UNSEEN": 2}
    check(statuses == want, "STATUS after LIST: %r, wanted %r" % (statuses, want))

    # CREATE-SPECIAL-USE: only the use the name has.
    typ, data = imap._simple_command("CREATE", "Archives", "(USE (\\Archive))")
    check(typ == "OK", "CREATE Archives (USE (\\Archive)) %s %r" % (typ, data))
    typ, data = imap._simple_command("CREATE", "Outbox", "(USE (\\Sent))")
    check(typ == "NO" and b"[USEATTR]" in data[0], "CREATE Outbox (USE (\\Sent)) %s %r" % (typ, data))
    lists, _ = command(imap, "LIST", '""', '"Outbox"')
    check(lists == {}, "a refused CREATE creates nothing: %r" % lists)
    lists, _ = command(imap, "LIST", '""', "Archives")
    check("\\Archive" in lists["Archives"][0], "Archives %r" % lists)

    imap.logout()
    print("list_extended.py: all checks passed")


if __name__ == "__main__":
    main()
