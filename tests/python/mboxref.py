"""Independent reference reader for Berkeley mbox files, as UW imapd serves them.

Written from /work/shared/docs/mbox-format.md, not from the server's code, so the
imaplib tests have a second opinion on every byte the server sends:

* separators: the UW ``VALID`` check (mbox-format.md section 2), scanning the
  date backwards from the end of the line; a final line without LF is never a
  separator;
* message text: from after the From_ line to before the next separator; one
  trailing blank line (LF or CRLF) is the separator line and is removed
  (section 1);
* hidden headers: Status, X-Status, X-Keywords, X-UID, X-IMAP, X-IMAPbase (any
  case, with their continuation lines) are not served (sections 6 and 8);
* wire form: CRs are dropped, every LF becomes CRLF, NUL becomes 0x80 (UW's
  ``ptext``: RFC 3501 forbids NUL in literals); RFC822.SIZE is its length;
* the pseudo-message (X-IMAP in message 1) is not a message (section 7.3).

Nothing here is clever: it is slow and obvious on purpose.
"""

HIDDEN = {b"status", b"x-status", b"x-keywords", b"x-uid", b"x-imap", b"x-imapbase"}


def is_from_line(line):
    """``line`` without its LF (a CR before the LF is tolerated). UW's VALID."""
    if not line.startswith(b"From "):
        return False
    x = len(line)
    if line.endswith(b"\r"):
        x -= 1
    s = line

    def at(i):
        return s[i:i + 1] if 0 <= i < len(s) else b""

    if x >= 41:
        zn = x - 1
        while zn > 0 and at(zn) != b" ":
            zn -= 1
        if s[zn - 12:zn] == b" remote from":
            x = zn - 12
    if x < 27:
        return False
    ti = 0
    if at(x - 5) == b" ":
        if at(x - 8) == b":":
            ti = x - 5
        elif at(x - 9) == b" ":
            ti = x - 9
        elif at(x - 11) == b" " and at(x - 10) in (b"+", b"-"):
            ti = x - 11
    elif at(x - 4) == b" ":
        if at(x - 9) == b" ":
            ti = x - 9
    elif at(x - 6) == b" ":
        if at(x - 11) == b" " and at(x - 5) in (b"+", b"-"):
            ti = x - 11
    if not ti:
        return False
    if at(ti - 3) != b":":
        return False
    ti -= 9 if at(ti - 6) == b":" else 6
    return at(ti) == b" " and at(ti - 3) == b" " and at(ti - 7) == b" " and at(ti - 11) == b" "


def lines_with_offsets(data):
    """(offset, line including its LF if any)."""
    pos = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        end = n if nl < 0 else nl + 1
        yield pos, data[pos:end]
        pos = end


def split_messages(data):
    """[(from_line, raw_text)] where raw_text is the stored message (LF form)
    without its trailing separator line. Raises ValueError if not an mbox."""
    # Skip leading LF, CR, SP, TAB (section 1).
    start = 0
    while start < len(data) and data[start:start + 1] in (b"\n", b"\r", b" ", b"\t"):
        start += 1
    body = data[start:]
    if not body:
        return []
    seps = []
    for off, line in lines_with_offsets(body):
        if line.endswith(b"\n") and is_from_line(line[:-1]):
            seps.append((off, off + len(line), line[:-1]))
    if not seps or seps[0][0] != 0:
        raise ValueError("not an mbox: first non-blank line is not a From_ line")
    out = []
    for i, (off, text_start, from_line) in enumerate(seps):
        end = seps[i + 1][0] if i + 1 < len(seps) else len(body)
        text = body[text_start:end]
        if text.endswith(b"\r\n") and (text == b"\r\n" or text[:-2].endswith(b"\n")):
            text = text[:-2]
        elif text.endswith(b"\n") and (text == b"\n" or text[:-1].endswith(b"\n")):
            text = text[:-1]
        out.append((from_line, text))
    return out


def split_header(text):
    """(header including the blank line, body) of a stored message (LF or CRLF)."""
    pos = 0
    for off, line in lines_with_offsets(text):
        if line in (b"\n", b"\r\n"):
            return text[:off + len(line)], text[off + len(line):]
        pos = off + len(line)
    return text, b""


def header_fields(header):
    """[(name, raw field bytes incl. continuation lines)] in order."""
    fields = []
    for _, line in lines_with_offsets(header):
        if line in (b"\n", b"\r\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + line)
        else:
            fields.append((line.split(b":", 1)[0].strip(), line))
    return fields


def status_value(fields, name):
    for n, raw in fields:
        if n.lower() == name.lower():
            return raw.split(b":", 1)[1].strip()
    return None


def visible(text):
    """The message as a client sees it, stored form (LF): hidden headers removed."""
    header, body = split_header(text)
    kept = b"".join(raw for name, raw in header_fields(header) if name.lower() not in HIDDEN)
    blank = b"\r\n" if header.endswith(b"\r\n\r\n") else b"\n" if header.endswith(b"\n\n") else b""
    return kept + blank + body


def wire(stored):
    """Stored bytes -> bytes on the wire (UW: drop CRs, LF -> CRLF, NUL -> 0x80)."""
    return stored.replace(b"\r", b"").replace(b"\n", b"\r\n").replace(b"\x00", b"\x80")


class Message:
    def __init__(self, from_line, text):
        self.from_line = from_line
        self.text = text
        header, _ = split_header(text)
        self.fields = header_fields(header)
        self.visible = visible(text)
        self.wire = wire(self.visible)
        vh, vb = split_header(self.visible)
        self.wire_header = wire(vh)
        self.wire_text = wire(vb)
        uid = status_value(self.fields, b"X-UID")
        self.x_uid = int(uid) if uid and uid.isdigit() else None

    @property
    def size(self):
        return len(self.wire)

    def is_pseudo(self):
        return any(n == b"X-IMAP" for n, _ in self.fields)


def read_mailbox(data):
    """All client-visible messages of an mbox file (pseudo-message removed)."""
    msgs = [Message(f, t) for f, t in split_messages(data)]
    if msgs and msgs[0].is_pseudo():
        msgs = msgs[1:]
    return msgs


def mime_parts(wire_msg):
    """Top-level and nested MIME part bodies of a message in wire form, as a dict
    section -> bytes (RFC 3501 section 6.4.5 numbering: "1", "1.2", ...).

    Boundary rules of RFC 2046 section 5.1.1: the CRLF before a delimiter
    belongs to the delimiter; a part's MIME header ends at its first blank line.
    Only multipart nesting is followed (not message/rfc822)."""
    out = {}

    def params(ct):
        res = {}
        for p in ct.split(b";")[1:]:
            if b"=" in p:
                k, v = p.split(b"=", 1)
                res[k.strip().lower()] = v.strip().strip(b'"')
        return res

    def content_type(header):
        for name, raw in header_fields(header):
            if name.lower() == b"content-type":
                return b" ".join(raw.split(b":", 1)[1].split())
        return b"text/plain"

    def walk(header, body, prefix):
        ct = content_type(header)
        if not ct.lower().startswith(b"multipart/"):
            return
        boundary = params(ct).get(b"boundary")
        if not boundary:
            return
        delim = b"--" + boundary
        # Find delimiter lines.
        positions = []
        pos = 0
        while True:
            i = body.find(delim, pos)
            if i < 0:
                break
            if i == 0 or body[i - 2:i] == b"\r\n":
                eol = body.find(b"\r\n", i)
                eol = len(body) if eol < 0 else eol + 2
                closing = body[i + len(delim):i + len(delim) + 2] == b"--"
                positions.append((i, eol, closing))
                pos = eol
                if closing:
                    break
            else:
                pos = i + 1
        for n, (i, eol, closing) in enumerate(positions):
            if closing or n + 1 >= len(positions):
                break
            nxt = positions[n + 1][0]
            part = body[eol:max(eol, nxt - 2)]
            section = prefix + str(n + 1)
            ph, pb = split_header(part)
            out[section] = pb
            out[section + ".MIME"] = ph
            walk(ph, pb, section + ".")

    h, b = split_header(wire_msg)
    walk(h, b, "")
    return out
