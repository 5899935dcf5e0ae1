#!/usr/bin/env python3
"""imaplib against committed fixture mailboxes, compared byte for byte with an
independent reading of the file (mboxref.py):

* EXISTS = number of messages (pseudo-message not counted);
* UIDs = the X-UID headers when the file carries a UIDVALIDITY (UW and Dovecot
  files), else 1..n;
* for every message: RFC822.SIZE, BODY[] (header + body after the From_ line,
  status headers removed, separator line removed, LF -> CRLF), BODY[HEADER],
  BODY[TEXT], and each MIME part BODY[n] / BODY[n.MIME] of multipart messages;
* the file is unchanged afterwards.

usage: check_fixtures.py --server BIN FIXTURE.mbox...
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxref  # noqa: E402
from imapsession import Failure, check, fetch_items, ok, open_session  # noqa: E402


def has_uidvalidity(msgs_raw):
    if not msgs_raw:
        return False
    first = mboxref.Message(*msgs_raw[0])
    return any(n in (b"X-IMAP", b"X-IMAPbase") for n, _ in first.fields)


def check_fixture(server, path):
    data = open(path, "rb").read()
    expected = mboxref.read_mailbox(data)
    trusted = has_uidvalidity(mboxref.split_messages(data))
    with tempfile.TemporaryDirectory() as tmp:
        inbox = os.path.join(tmp, "inbox")
        shutil.copyfile(path, inbox)
        m = open_session(server, inbox, tmp)
        try:
            typ, exists = m.select("INBOX", readonly=True)
            check(typ == "OK", "EXAMINE: %s %r" % (typ, exists))
            check(int(exists[0]) == len(expected), "EXISTS %s, expected %d" % (exists[0], len(expected)))
            if not expected:
                return 0
            got = fetch_items(ok(m.fetch("1:*", "(UID RFC822.SIZE BODY.PEEK[])"), "FETCH BODY[]"))
            check(len(got) == len(expected), "%d FETCH answers for %d messages" % (len(got), len(expected)))
            for i, (seq, items) in enumerate(got):
                msg = expected[i]
                check(seq == i + 1, "answer %d is for message %d" % (i + 1, seq))
                want_uid = msg.x_uid if trusted else i + 1
                check(items.get("UID") == want_uid, "message %d: UID %s, file says %s" % (seq, items.get("UID"), want_uid))
                check(items.get("RFC822.SIZE") == msg.size, "message %d: RFC822.SIZE %s, expected %d" % (seq, items.get("RFC822.SIZE"), msg.size))
                body = items.get("BODY[]")
                check(body == msg.wire, "message %d: BODY[] differs from the file (%s bytes vs %d)%s" % (
                    seq, None if body is None else len(body), len(msg.wire), first_diff(body, msg.wire)))
            for what, attr in (("BODY.PEEK[HEADER]", "wire_header"), ("BODY.PEEK[TEXT]", "wire_text")):
                got = fetch_items(ok(m.fetch("1:*", "(%s)" % what), what))
                key = what.replace(".PEEK", "")
                for i, (seq, items) in enumerate(got):
                    want = getattr(expected[i], attr)
                    check(items.get(key, b"" if want == b"" else None) == want, "message %d: %s differs%s" % (seq, key, first_diff(items.get(key), want)))
            parts = 0
            for i, msg in enumerate(expected):
                for section, want in sorted(mboxref.mime_parts(msg.wire).items()):
                    got = fetch_items(ok(m.fetch(str(i + 1), "(BODY.PEEK[%s])" % section), "BODY[%s]" % section))
                    value = got[0][1].get("BODY[%s]" % section) if got else None
                    check(value == want, "message %d: BODY[%s] differs%s" % (i + 1, section, first_diff(value, want)))
                    parts += 1
            return parts
        finally:
            try:
                m.logout()
            except Exception:
                pass
            # A read-write session may record UW metadata (X-UID, Status: O, ...) as
            # UW imapd does; every message must still read the same to a client.
            check([x.wire for x in mboxref.read_mailbox(open(inbox, "rb").read())]
                  == [x.wire for x in mboxref.read_mailbox(data)], "the server changed a message in the mailbox file")


def first_diff(a, b):
    if a is None or b is None:
        return ""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return " at octet %d: %r vs %r" % (i, a[max(0, i - 20):i + 20], b[max(0, i - 20):i + 20])
    return " (one is a prefix of the other)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("fixtures", nargs="+")
    a = ap.parse_args()
    failed = 0
    for path in a.fixtures:
        name = os.path.basename(path)
        try:
            parts = check_fixture(a.server, path)
            print("ok   %s (%d MIME parts compared)" % (name, parts))
        except Failure as e:
            failed += 1
            print("FAIL %s: %s" % (name, e))
        except Exception as e:  # imaplib errors, a dead server, ...
            failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
