#!/usr/bin/env python3
"""imaplib over COMPRESS=DEFLATE (RFC 4978), a client written independently
of the server's layer.

imaplib has no COMPRESS, so DeflateStream wraps IMAP4_stream's pipes in
zlib's raw DEFLATE (deflate_client.py). The same commands (SELECT, FETCH of every body, SEARCH, STORE, APPEND with a
literal, EXPUNGE, LOGOUT) run over a plain session and a compressed one, each
on its own copy of the mailbox; every answer must be the same, byte for
byte, and the compressed session's responses must be smaller on the wire.

usage: compress.py --server BIN FIXTURE.mbox
"""
import argparse
import imaplib
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deflate_client import Deflating  # noqa: E402
from imapsession import Failure, check, ok, open_session  # noqa: E402



class DeflateStream(Deflating, imaplib.IMAP4_stream):
    """IMAP4_stream that can switch both directions to raw DEFLATE."""


APPENDED = (b"From: imaplib <py@example.org>\r\nSubject: over DEFLATE\r\n"
            b"Message-ID: <compress-py@example.org>\r\n\r\n"
            + b"A line that repeats, as mail text does.\r\n" * 200)


def session(m):
    """The commands both sessions run; their answers, UIDVALIDITY left out
    (a file without one gets a new one per session)."""
    answers = []
    answers.append(ok(m.select("INBOX"), "SELECT"))
    answers.append(ok(m.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])"), "FETCH bodies"))
    answers.append(ok(m.search(None, "ALL"), "SEARCH ALL"))
    answers.append(ok(m.search(None, "TEXT", "the"), "SEARCH TEXT"))
    answers.append(ok(m.store("1", "+FLAGS", "(\\Flagged \\Deleted)"), "STORE"))
    typ, data = m.append("INBOX", "(\\Seen)", None, APPENDED)
    check(typ == "OK", "APPEND: %s %r" % (typ, data))
    answers.append(ok(m.fetch("*", "(FLAGS BODY.PEEK[])"), "FETCH appended"))
    answers.append(ok(m.expunge(), "EXPUNGE"))
    answers.append(ok(m.uid("FETCH", "1:*", "(FLAGS)"), "UID FETCH FLAGS"))
    typ, data = m.logout()
    check(typ == "BYE", "LOGOUT: %s %r" % (typ, data))
    return answers


def run(server, fixture):
    results = {}
    wire = {}
    for mode in ("plain", "deflate"):
        with tempfile.TemporaryDirectory() as tmp:
            inbox = os.path.join(tmp, "inbox")
            shutil.copyfile(fixture, inbox)
            m = open_session(server, inbox, tmp, DeflateStream)
            check("COMPRESS=DEFLATE" in m.capabilities, "advertised: %r" % (m.capabilities,))
            if mode == "deflate":
                m.compress()
            results[mode] = session(m)
            wire[mode] = (m.wire_in, m.plain_in)
    for i, (a, b) in enumerate(zip(results["plain"], results["deflate"])):
        check(a == b, "answer %d differs under COMPRESS:\n plain   %r\n deflate %r" % (i, a, b))
    wire_in, plain_in = wire["deflate"]
    check(plain_in > 10_000, "the compressed session read %d octets" % plain_in)
    check(wire_in * 3 < plain_in * 2,
          "responses compress: %d octets on the wire for %d" % (wire_in, plain_in))
    return wire_in, plain_in


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("fixture")
    a = ap.parse_args()
    try:
        wire_in, plain_in = run(a.server, a.fixture)
    except Failure as e:
        print("FAIL %s" % e)
        return 1
    print("ok   COMPRESS=DEFLATE under imaplib: %d octets on the wire for %d" % (wire_in, plain_in))
    return 0


if __name__ == "__main__":
    sys.exit(main())
