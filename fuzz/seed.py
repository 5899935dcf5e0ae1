#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the repository's own material:
client lines of tests/transcripts/*.imap, the mailboxes in fixtures/, their
messages, header values, and the keys of mbox-imapd.conf(5). Idempotent: a
seed's file name is a hash of its bytes. Usage: python3 fuzz/seed.py"""

import hashlib
import re
import struct
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
REPO = FUZZ.parent
CORPUS = FUZZ / "corpus"


def put(target, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def transcripts():
    """Each transcript's client side as one CRLF stream."""
    for path in sorted((REPO / "tests" / "transcripts").glob("*.imap")):
        lines = [l[3:] for l in path.read_bytes().split(b"\n") if l.startswith(b"C: ")]
        if lines:
            yield b"".join(l + b"\r\n" for l in lines)


def mailboxes():
    return [p.read_bytes() for p in sorted((REPO / "fixtures").rglob("*.mbox"))]


def messages(mbox):
    """The messages of one mbox, without their From_ lines."""
    for chunk in re.split(rb"(?:^|\n)From [^\n]*\n", mbox):
        if chunk.strip():
            yield chunk


def header_values(message, names):
    header = message.split(b"\n\n", 1)[0]
    for m in re.finditer(rb"^([A-Za-z-]+):(.*(?:\n[ \t].*)*)", header, re.M):
        if m.group(1).lower() in names:
            yield m.group(2).strip()


def main():
    for stream in transcripts():
        # Byte 0: limits / TLS state, byte 1: chunk size (see the targets).
        put("command", b"\x00\x07" + stream)
        put("command", b"\x01\x00" + stream)
        put("sasl", b"\x04\x05" + stream)
    for line in [
        b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
        b"a AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n",
        b"a AUTHENTICATE LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n",
        b"a AUTHENTICATE PLAIN\r\n*\r\nb LOGIN alice wrong\r\nc LOGIN {5}\r\nalice {6}\r\nsecret\r\n",
        b"a STARTTLS\r\nb CAPABILITY\r\nc LOGOUT\r\n",
    ]:
        put("sasl", b"\x04\x03" + line)
        put("sasl", b"\x00\x40" + line)
    for mbox in mailboxes():
        put("mailbox", mbox)
        for message in messages(mbox):
            put("mime", message)
            for v in header_values(message, {b"subject"}):
                put("sort_keys", v)
                put("decode", b"utf-8\x00" + v)
            for v in header_values(message, {b"date"}):
                put("sort_keys", v)
            for v in header_values(message, {b"from", b"to", b"cc"}):
                put("decode", b"\x00" + v)
            body = message.split(b"\n\n", 1)[-1][:4096]
            put("decode", b"iso-8859-1\x00" + body)
    conf = (REPO / "man" / "mbox-imapd.conf.5").read_text()
    keys = re.findall(r"^\.It Cm (\w+) No = Ar (.*)$", conf, re.M)
    put("config", "".join(f"{k} = {v.split()[0]}\n" for k, v in keys).encode())
    for k, v in keys:
        put("config", f"# {k}\n{k} = {v.split()[0]}\n".encode())
    put("config", b"lock_timeout = 30\ndotlock = no\nauth_failure_delay = 2s\n")
    v2sig = b"\r\n\r\n\x00\r\nQUIT\n"
    for header in [
        b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 143\r\na1 CAPABILITY\r\n",
        b"PROXY TCP6 2001:db8::1 2001:db8::2 56324 993\r\n",
        b"PROXY UNKNOWN\r\n",
        v2sig + b"\x21\x11" + struct.pack(">H", 12) + bytes([192, 0, 2, 1, 198, 51, 100, 1]) + b"\xdc\x04\x00\x8f",
        v2sig + b"\x21\x21" + struct.pack(">H", 36) + bytes(16) + bytes(16) + b"\x00\x01\x00\x02",
        v2sig + b"\x20\x00" + struct.pack(">H", 0),
        v2sig + b"\x21\x11" + struct.pack(">H", 15) + bytes(12) + b"\x04\x00\x00",
    ]:
        put("proxy", header)
    for target in sorted(p.name for p in CORPUS.iterdir()):
        print(f"{target}: {len(list((CORPUS / target).iterdir()))} seeds")


if __name__ == "__main__":
    main()
