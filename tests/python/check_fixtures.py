#!/usr/bin/env python3
"""imaplib against committed fixture mailboxes, compared byte for byte with an
independent reading of the file (mboxref.py):

* EXISTS = number of messages (pseudo-message not counted);
* UIDs = the X-UID headers when the file carries a UIDVALIDITY (UW and Dovecot
  files), else 1..n;
* for every message: RFC822.SIZE, BODY[] (header + body after the From_ line,
  status headers removed, separator line removed, LF -> CRLF), BODY[HEADER],
  BODY[TEXT], and each MIME part BODY[n] / BODY[n.MIME] of multipart messages;
* RFC 3516: BINARY.SIZE[n] and BINARY.PEEK[n] of each of those parts against
  Python's own base64 / quopri decoding of BODY[n] (identity encodings: BODY[n]
  itself), and NO [UNKNOWN-CTE] for an encoding neither knows;
* the file is unchanged afterwards.

usage: check_fixtures.py --server BIN FIXTURE.mbox...
"""
import argparse
import base64
import os
import quopri
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
                return 0, 0
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
            binaries = 0
            for i, msg in enumerate(expected):
                binaries += check_binary(m, i + 1, mboxref.mime_parts(msg.wire))
            return parts, binaries
        finally:
            try:
                m.logout()
            except Exception:
                pass
            # A read-write session may record UW metadata (X-UID, Status: O, ...) as
            # UW imapd does; every message must still read the same to a client.
            check([x.wire for x in mboxref.read_mailbox(open(inbox, "rb").read())]
                  == [x.wire for x in mboxref.read_mailbox(data)], "the server changed a message in the mailbox file")


def transfer_encoding(mime_header):
    for name, raw in mboxref.header_fields(mime_header):
        if name.lower() == b"content-transfer-encoding":
            return raw.split(b":", 1)[1].split(b"(")[0].strip().lower()
    return b"7bit"


def python_decoded(mime_header, wire_body):
    """What BINARY[n] must send, decoded here by Python's own modules; None when
    that cannot be told from the wire form (0x80 may have been a stored NUL), or
    "NO" for an encoding BINARY must refuse."""
    cte = transfer_encoding(mime_header)
    if cte in (b"7bit", b"8bit", b"binary", b""):
        return None if b"\x80" in wire_body else wire_body
    if cte == b"base64":
        return base64.b64decode(b"".join(wire_body.split()))
    if cte == b"quoted-printable":
        # quopri reads and writes LF line ends (RFC 3516 wants CRLF), and keeps
        # the trailing blanks RFC 2045 section 6.7 rule 3 says to delete.
        lines = wire_body.replace(b"\r\n", b"\n").split(b"\n")
        text = quopri.decodestring(b"\n".join(line.rstrip(b" \t") for line in lines))
        return None if b"\r" in text else text.replace(b"\n", b"\r\n")
    return "NO"


def check_binary(m, seq, parts):
    """BINARY of every non-multipart part of message `seq`; returns how many."""
    compared = 0
    for section, body in sorted(parts.items()):
        children = [p for p in parts if p.startswith(section + ".") and p != section + ".MIME"]
        if section.endswith(".MIME") or children:
            continue
        want = python_decoded(parts[section + ".MIME"], body)
        if want is None:
            continue
        typ, data = m.fetch(str(seq), "(BINARY.SIZE[%s] BINARY.PEEK[%s])" % (section, section))
        if want == "NO":
            check(typ == "NO" and b"[UNKNOWN-CTE]" in data[0], "message %d: BINARY[%s] of an unknown encoding: %s %r" % (seq, section, typ, data))
            compared += 1
            continue
        check(typ == "OK", "message %d: BINARY[%s]: %s %r" % (seq, section, typ, data))
        items = dict(fetch_items(data))[seq]
        got = items.get("BINARY[%s]" % section, b"" if want == b"" else None)
        check(got == want, "message %d: BINARY[%s] differs%s" % (seq, section, first_diff(got, want)))
        size = items.get("BINARY.SIZE[%s]" % section)
        check(size == len(want), "message %d: BINARY.SIZE[%s] %s for %d octets" % (seq, section, size, len(want)))
        compared += 1
    return compared


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
            parts, binaries = check_fixture(a.server, path)
            print("ok   %s (%d MIME parts compared, %d as BINARY)" % (name, parts, binaries))
        except Failure as e:
            failed += 1
            print("FAIL %s: %s" % (name, e))
        except Exception as e:  # imaplib errors, a dead server, ...
            failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
