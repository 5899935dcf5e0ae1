"""Shared pieces of the write-path scripts: test messages, starting the
server under imaplib, and reading messages back from an mbox file.

Messages are built so that storing them is not trivial: CRLF on the wire (LF
in the file), a body line starting with "From " (stored as ">From ", mboxo,
as UW does), empty lines and a signature separator."""
import imaplib
import os
import re
import shlex
import sys

imaplib._MAXLINE = 50_000_000


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def make_message(mid, n):
    """(wire bytes with CRLF, stored body with LF and >From quoting)."""
    header = ("From: Sender %d <sender%d@example.org>\r\n"
              "To: alice@example.org\r\n"
              "Subject: test message %s\r\n"
              "Date: Thu, 26 Nov 2026 10:00:%02d +0000\r\n"
              "Message-ID: <%s@write-tests>\r\n"
              "\r\n") % (n, n, mid, n % 60, mid)
    body = "Body of %s, number %d.\r\n\r\nFrom the start of a line.\r\n" % (mid, n)
    for i in range(n % 7):
        body += "line %d %s\r\n" % (i, "x" * (10 * i))
    body += "-- \r\nend\r\n"
    stored = "".join((">" + l if l.startswith("From ") else l) + "\n"
                     for l in body.replace("\r\n", "\n").split("\n")[:-1])
    return (header + body).encode(), stored.encode()


def mbox_of(messages):
    """An mbox as a delivery agent leaves it (no UW metadata)."""
    out = b""
    for i, (wire, stored) in enumerate(messages):
        header = wire.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
        out += b"From sender%d@example.org Thu Nov 26 10:00:00 2026\n" % i
        out += header + b"\n\n" + stored + b"\n"
    return out


def open_session(server, inbox, maildir, log):
    """imaplib over `server --preauth --inbox INBOX --mail-dir MAILDIR --log stderr`."""
    os.environ["TZ"] = "UTC"
    cmd = "exec %s --preauth --inbox %s --mail-dir %s --log stderr 2>>%s" % (
        shlex.quote(server), shlex.quote(inbox), shlex.quote(maildir), shlex.quote(log))
    m = imaplib.IMAP4_stream(cmd)
    check(m.state == "AUTH", "greeting should be PREAUTH, imaplib state is %s" % m.state)
    caps = m.capabilities
    check("IDLE" in caps and "UIDPLUS" in caps, "capabilities lack IDLE/UIDPLUS: %s" % (caps,))
    return m


def ok(result, what):
    typ, data = result
    check(typ == "OK", "%s: %s %r" % (what, typ, data))
    return data


def message_id(data):
    m = re.search(rb"(?im)^message-id:\s*<([^>@]+)@write-tests>", split_header(data))
    return m.group(1).decode() if m else None


def split_header(data):
    return data.split(b"\n\n", 1)[0]


def split_body(data):
    parts = data.split(b"\n\n", 1)
    return parts[1] if len(parts) == 2 else b""


def code_of(data):
    """The response code words of a tagged OK's text: [b'APPENDUID', b'1', b'2']."""
    text = data[0] if data else b""
    m = re.match(rb"^\[([^\]]*)\]", text)
    return m.group(1).split() if m else []


def uid_set(text):
    """RFC 4315 uid-set -> list of ints, in order."""
    out = []
    for part in text.split(b","):
        if b":" in part:
            a, b = (int(x) for x in part.split(b":"))
            step = 1 if b >= a else -1
            out.extend(range(a, b + step, step))
        else:
            out.append(int(part))
    return out


def read_mbox(path):
    """[(message-id, mboxMessage, raw bytes)] in file order, UW's
    pseudo-message (X-IMAP) left out; also returns the pseudo-message or None."""
    import mailbox
    box = mailbox.mbox(path, create=False)
    out = []
    pseudo = None
    for key in box.keys():
        msg = box.get_message(key)
        data = box.get_bytes(key)
        if msg.get("X-IMAP") is not None:
            check(not out, "X-IMAP pseudo-message is not first")
            pseudo = msg
            continue
        out.append((message_id(data), msg, data))
    return out, pseudo


def flag_letters(msg):
    """System flags from Status/X-Status, without O (old)."""
    return set(msg.get_flags()) - {"O"}


def one(entries, mid):
    found = [e for e in entries if e[0] == mid]
    check(len(found) == 1, "%s present %d times" % (mid, len(found)))
    return found[0]


def check_metadata_once(entries, where):
    """Our metadata headers appear at most once per message (a COPY or APPEND
    must not carry the source's along)."""
    for mid, _, data in entries:
        header = split_header(data)
        for name in (b"status", b"x-status", b"x-keywords", b"x-uid"):
            n = len(re.findall(rb"(?im)^" + name + rb":", header))
            check(n <= 1, "%s %s: %d %s headers" % (where, mid, n, name.decode()))


def fetch_lines(data):
    """imaplib FETCH data -> list of byte strings, one per message (literal
    contents inlined after their announcement)."""
    out = []
    for part in data:
        if part is None:
            continue
        if isinstance(part, tuple):
            out.append(part[0] + part[1])
        elif out and part in (b")",):
            out[-1] += part
        else:
            out.append(part)
    return out


def expect_bad(what, fn, *args):
    """imaplib raises on a tagged BAD; anything else is a failure."""
    try:
        typ, data = fn(*args)
    except imaplib.IMAP4.error as e:
        check("BAD" in str(e), "%s: %s" % (what, e))
        return
    raise Failure("%s: expected BAD, got %s %r" % (what, typ, data))


def tagged(m, *words):
    """Runs a command and returns (status, tagged text) — for UID COPY, whose
    COPYUID imaplib's uid() would throw away."""
    return m._simple_command(*words)


def workdir():
    """The scripts' command line, `--server BIN --dir WORKDIR`: returns the
    server binary and the INBOX, mail directory and server log paths in
    WORKDIR (the mail directory is created)."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    maildir = os.path.join(a.dir, "mail")
    os.makedirs(maildir, exist_ok=True)
    return a.server, os.path.join(a.dir, "inbox"), maildir, os.path.join(a.dir, "server.log")


def run(main):
    """Runs a script's main(); a Failure prints FAIL and exits 1."""
    try:
        main()
    except Failure as e:
        print("FAIL:", e)
        sys.exit(1)
