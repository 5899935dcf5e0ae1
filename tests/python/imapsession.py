"""Shared pieces of the imaplib checks: starting the server under imaplib and
splitting FETCH answers. Python's imaplib is a real, independent client: if it
cannot talk to the server, neither can the many scripts built on it."""
import imaplib
import os
import re
import shlex

imaplib._MAXLINE = 50_000_000  # BODYSTRUCTURE/ENVELOPE lines of big mailboxes


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def open_session(server, inbox, workdir, client=imaplib.IMAP4_stream):
    """imaplib over `server --preauth --inbox INBOX --mail-dir WORKDIR/mail --log stderr`
    (`client`: IMAP4_stream or a subclass of it)."""
    mail = os.path.join(workdir, "mail")
    os.makedirs(mail, exist_ok=True)
    os.environ["TZ"] = "UTC"
    cmd = "exec %s --preauth --inbox %s --mail-dir %s --log stderr" % (
        shlex.quote(server), shlex.quote(inbox), shlex.quote(mail))
    m = client(cmd)
    check(m.state == "AUTH", "greeting should be PREAUTH, imaplib state is %s" % m.state)
    return m


def ok(result, what):
    typ, data = result
    check(typ == "OK", "%s: %s %r" % (what, typ, data))
    return data


def fetch_items(data):
    """imaplib FETCH data -> [(seq, {"UID": n, "RFC822.SIZE": n, "<item>": bytes})].

    imaplib returns, per message, a tuple (prefix-with-literal-announcement, literal)
    for each literal and plain bytes for the rest; we rebuild each message's item list
    and take atoms and numbers from the text, literals from the tuples."""
    out = []
    cur = None
    pending_name = None
    for part in data:
        if isinstance(part, tuple):
            head, literal = part
            m = re.match(rb"^(\d+) \(", head)
            if m and (cur is None or cur_closed(cur)):
                cur = (int(m.group(1)), {}, [head[m.end():]])
                out.append(cur)
                text = head[m.end():]
            else:
                cur[2].append(head)
                text = head
            scan_atoms(text, cur[1])
            # `{n}`, or `~{n}` (RFC 3516 literal8, which imaplib reads like a literal).
            name = re.search(rb"([A-Z0-9.]+(?:\[[^\]]*\])?(?:<\d+>)?) ~?\{\d+\}$", text)
            check(name is not None, "cannot find the item name before a literal in %r" % text)
            cur[1][name.group(1).decode()] = literal
        elif part is None:
            continue
        else:
            m = re.match(rb"^(\d+) \((.*)$", part)
            if m and (cur is None or cur_closed(cur)):
                cur = (int(m.group(1)), {}, [m.group(2)])
                out.append(cur)
                scan_atoms(m.group(2), cur[1])
            else:
                cur[2].append(part)
                scan_atoms(part, cur[1])
            if part.endswith(b")"):
                cur[2].append(b"<closed>")
    return [(seq, items) for seq, items, _ in out]


def cur_closed(cur):
    return cur[2] and cur[2][-1] == b"<closed>"


def scan_atoms(text, items):
    for key in (b"UID", b"RFC822.SIZE"):
        m = re.search(rb"(?:^|[ (])" + re.escape(key) + rb" (\d+)", text)
        if m:
            items[key.decode()] = int(m.group(1))
    for m in re.finditer(rb"(?:^|[ (])(BINARY\.SIZE\[[^\]]*\]) (\d+)", text):
        items[m.group(1).decode()] = int(m.group(2))
    m = re.search(rb"FLAGS \(([^)]*)\)", text)
    if m:
        items["FLAGS"] = m.group(1).decode().split()
    # Sections sent as quoted strings (short 7-bit values, e.g. BODY[1.1] "text").
    for m in re.finditer(rb'((?:BODY|RFC822|BINARY)[A-Z.]*(?:\[[^\]]*\])?(?:<\d+>)?) "((?:[^"\\]|\\.)*)"', text):
        items[m.group(1).decode()] = re.sub(rb"\\(.)", rb"\1", m.group(2))


def search(m, *criteria, uid=False):
    if uid:
        data = ok(m.uid("SEARCH", *criteria), "UID SEARCH %s" % (criteria,))
    else:
        data = ok(m.search(None, *criteria), "SEARCH %s" % (criteria,))
    return [int(x) for x in b" ".join(d for d in data if d).split()]
