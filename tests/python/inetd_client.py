#!/usr/bin/env python3
"""Client side of tests/inetd.rs: real IMAP clients against mbox-imapd under xinetd.

Usage: inetd_client.py SETTINGS_JSON SCENARIO

SETTINGS_JSON names the ports of the xinetd services the Rust test started and
the users it created:

  plain  PAM, plaintext allowed on loopback, STARTTLS offered
  imaps  PAM, implicit TLS (--tls)
  vfile  passwd-file (virtual users)
  proxy  PAM, trusted_proxies = 127.0.0.1, proxy_protocol = required,
         allow_plaintext = no, STARTTLS offered
  badkey tls_key names a missing file
  short  login_timeout = 1s

Each scenario prints what it checked and exits non-zero (AssertionError) on
the first mismatch. Scenarios that need a "remote" client connect from
127.0.0.2, which is loopback too but not a trusted proxy.
"""

import imaplib
import json
import os
import pwd
import socket
import ssl
import struct
import sys
import threading
import time

from deflate_client import Deflating

S = json.loads(sys.argv[1])
HOST = "127.0.0.1"


def tls_context():
    ctx = ssl.create_default_context(cafile=S["cafile"])
    ctx.check_hostname = True
    return ctx


def caps(imap):
    return set(c.upper() for c in imap.capabilities)


def serving_uid(sock, port):
    """uid of the mbox-imapd process serving this client socket.

    The server end of the connection is the /proc/net/tcp entry whose local
    port is the service port and whose remote port is our local port; its
    inode names the socket, and the process holding it on fd 0 is ours.
    """
    client_port = sock.getsockname()[1]
    inode = None
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == client_port:
                inode = fields[9]
    assert inode, "server socket not found in /proc/net/tcp"
    target = "socket:[%s]" % inode
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/fd/0" % pid) != target:
                continue
            with open("/proc/%s/comm" % pid) as f:
                if f.read().strip() != "mbox-imapd":
                    continue
            with open("/proc/%s/status" % pid) as f:
                for line in f:
                    if line.startswith("Uid:"):
                        return [int(x) for x in line.split()[1:]]
        except OSError:
            continue
    raise AssertionError("no mbox-imapd process holds " + target)


def read_mail(imap, expect_messages=2):
    # Read-only (EXAMINE, and FETCH that sets no flag): these tests are about
    # logins, and must not depend on the mailbox write path.
    typ, data = imap.select("INBOX", readonly=True)
    assert typ == "OK", (typ, data)
    assert int(data[0]) == expect_messages, data
    typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK", (typ, data)
    assert b"Subject: first test message" in data[0][1], data
    typ, data = imap.fetch("2", "(BODY[TEXT])")  # \Seen is not set: read-only
    assert typ == "OK" and b"second body" in data[0][1], data


def check_uid(imap, port, uid):
    got = serving_uid(imap.sock, port)
    assert got == [uid] * 4, "serving process has uids %r, want %d" % (got, uid)


def login_reply_has_capability(imap):
    """imaplib keeps the untagged/bracketed CAPABILITY of the LOGIN OK here."""
    return "CAPABILITY" in imap.untagged_responses


# ---------------------------------------------------------------- scenarios


def plain_pam():
    imap = imaplib.IMAP4(HOST, S["ports"]["plain"])
    c = caps(imap)
    assert {"STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR"} <= c, c
    assert "LOGINDISABLED" not in c, c
    typ, data = imap.login(S["sysuser"], S["syspass"])
    assert typ == "OK", (typ, data)
    assert login_reply_has_capability(imap), imap.untagged_responses
    check_uid(imap, S["ports"]["plain"], S["sysuid"])
    read_mail(imap)
    imap.logout()
    print("plain LOGIN over loopback: ok, served as uid", S["sysuid"])


def starttls_pam():
    imap = imaplib.IMAP4(HOST, S["ports"]["plain"])
    imap.starttls(tls_context())
    c = caps(imap)
    assert "STARTTLS" not in c and "LOGINDISABLED" not in c, c
    user, password = S["sysuser"], S["syspass"]
    # AUTHENTICATE PLAIN through a `+ ` continuation (imaplib sends no SASL-IR).
    typ, data = imap.authenticate("PLAIN", lambda _: "\0%s\0%s" % (user, password))
    assert typ == "OK", (typ, data)
    check_uid(imap, S["ports"]["plain"], S["sysuid"])
    read_mail(imap)
    imap.logout()
    print("STARTTLS + AUTHENTICATE PLAIN: ok")


def imaps_pam():
    imap = imaplib.IMAP4_SSL(HOST, S["ports"]["imaps"], ssl_context=tls_context())
    assert imap.sock.version() in ("TLSv1.2", "TLSv1.3"), imap.sock.version()
    c = caps(imap)
    assert "STARTTLS" not in c and "AUTH=PLAIN" in c, c
    imap.login(S["sysuser"], S["syspass"])
    check_uid(imap, S["ports"]["imaps"], S["sysuid"])
    read_mail(imap)
    version = imap.sock.version()
    imap.logout()
    print("implicit TLS (%s): ok" % version)


class DeflateSSL(Deflating, imaplib.IMAP4_SSL):
    pass


def imaps_compress():
    """RFC 4978 §3: first TLS, then COMPRESS: DEFLATE inside the TLS session,
    after a login (the main use besides tunnels)."""
    imap = DeflateSSL(HOST, S["ports"]["imaps"], ssl_context=tls_context())
    imap.login(S["sysuser"], S["syspass"])
    assert "COMPRESS=DEFLATE" in caps(imap), caps(imap)
    imap.compress()
    read_mail(imap)
    typ, data = imap._simple_command("COMPRESS", "DEFLATE")
    assert typ == "NO" and data[0].startswith(b"[COMPRESSIONACTIVE]"), (typ, data)
    version = imap.sock.version()
    imap.logout()
    assert imap.plain_in > 0 and imap.wire_in > 0, (imap.plain_in, imap.wire_in)
    print("implicit TLS (%s) + COMPRESS=DEFLATE: ok, %d octets inflated from %d"
          % (version, imap.plain_in, imap.wire_in))


def passwd_file():
    imap = imaplib.IMAP4(HOST, S["ports"]["vfile"])
    answers = iter([S["vuser"], S["vpass"]])
    prompts = []

    def login_mech(challenge):
        prompts.append(challenge)
        return next(answers)

    typ, data = imap.authenticate("LOGIN", login_mech)
    assert typ == "OK", (typ, data)
    assert prompts == [b"Username:", b"Password:"], prompts
    check_uid(imap, S["ports"]["vfile"], S["vuid"])
    read_mail(imap)
    imap.logout()
    print("passwd-file user via AUTHENTICATE LOGIN: ok, served as uid", S["vuid"])


class Raw:
    """A line-level client, for what imaplib hides (BYE timing, bad input)."""

    def __init__(self, port, source=None, before_greeting=b""):
        self.sock = socket.create_connection((HOST, port), timeout=20, source_address=(source, 0) if source else None)
        if before_greeting:
            self.sock.sendall(before_greeting)
        self.buf = b""
        self.greeting = self.line()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("server closed; buffered %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def command(self, text, tag=None):
        """Sends `text` (with its tag) and returns every line up to the tagged one."""
        tag = tag or text.split(" ", 1)[0]
        self.sock.sendall(text.encode() + b"\r\n")
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True


def wrong_passwords():
    r = Raw(S["ports"]["plain"])
    started = time.monotonic()
    a = r.command("a LOGIN %s wrong1" % S["sysuser"])
    b = r.command("b LOGIN %s wrong2" % S["sysuser"])
    c = r.command("c LOGIN %s %s" % ("nosuchuser", "x"))
    elapsed = time.monotonic() - started
    for reply in (a, b, c):
        assert reply[-1].endswith("NO [AUTHENTICATIONFAILED] Authentication failed"), reply
    bye = r.line()
    assert bye == "* BYE Too many failed logins", bye
    assert r.closed(), "connection still open after BYE"
    # auth_failure_delay = 100ms, doubling: 0.1 + 0.2 + 0.4 s at least.
    assert elapsed >= 0.7, elapsed
    print("three failures: NO, NO, NO + BYE after %.2fs: ok" % elapsed)
    # The right password still works on a new connection.
    r = Raw(S["ports"]["plain"])
    ok = r.command("d LOGIN %s %s" % (S["sysuser"], S["syspass"]))
    assert ok[-1].startswith("d OK [CAPABILITY IMAP4rev1"), ok


def path_user():
    r = Raw(S["ports"]["plain"])
    for tag, name in (("a", "../root"), ("b", "root/../%s" % S["sysuser"])):
        reply = r.command('%s LOGIN "%s" %s' % (tag, name, S["syspass"]))
        assert reply[-1].startswith(tag + " NO [AUTHENTICATIONFAILED]"), reply
    reply = r.command("c LOGIN root root")
    assert reply[-1].startswith("c NO [AUTHENTICATIONFAILED]"), reply
    print("user names with paths and root: refused")


def v2_header(client_ip, client_port=40000, server_port=143):
    body = socket.inet_aton(client_ip) + socket.inet_aton("127.0.0.1")
    body += struct.pack("!HH", client_port, server_port)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def proxy_trusted():
    port = S["ports"]["proxy"]
    for kind, header, client in (
        ("v1", b"PROXY TCP4 192.0.2.41 127.0.0.1 40000 143\r\n", "192.0.2.41"),
        ("v2", v2_header("192.0.2.42"), "192.0.2.42"),
    ):
        r = Raw(port, before_greeting=header)
        assert r.greeting.startswith("* OK [CAPABILITY "), r.greeting
        # A trusted proxy may log in in plaintext although allow_plaintext = no.
        assert "AUTH=PLAIN" in r.greeting and "LOGINDISABLED" not in r.greeting, r.greeting
        ok = r.command("a LOGIN %s %s" % (S["sysuser"], S["syspass"]))
        assert ok[-1].startswith("a OK [CAPABILITY"), ok
        r.command("b LOGOUT")
        print("PROXY %s from a trusted proxy: client %s, login ok" % (kind, client))
    # nginx style: no PROXY header, ID x-originating-ip, LOGIN with literals.
    r = Raw(port, before_greeting=b"PROXY TCP4 192.0.2.43 127.0.0.1 40000 143\r\n")
    r.command('a ID ("x-originating-ip" "192.0.2.99")')
    r.sock.sendall(b"b LOGIN {%d}\r\n" % len(S["sysuser"]))
    assert r.line().startswith("+ "), "no continuation for the literal"
    r.sock.sendall(S["sysuser"].encode() + b" {%d}\r\n" % len(S["syspass"]))
    assert r.line().startswith("+ ")
    r.sock.sendall(S["syspass"].encode() + b"\r\n")
    ok = r.line()
    assert ok.startswith("b OK [CAPABILITY IMAP4rev1"), ok
    r.command("c LOGOUT")
    print("ID x-originating-ip and LOGIN {n} literals from a trusted proxy: ok")


def proxy_untrusted():
    port = S["ports"]["proxy"]
    # From 127.0.0.2, not a trusted proxy: the header is never looked for, so the
    # greeting comes at once and the PROXY line is just a bad command.
    r = Raw(port, source="127.0.0.2")
    assert r.greeting.startswith("* OK [CAPABILITY "), r.greeting
    assert "LOGINDISABLED" in r.greeting and "STARTTLS" in r.greeting, r.greeting
    reply = r.command("PROXY TCP4 192.0.2.66 127.0.0.1 40000 143")
    assert "BAD" in reply[-1], reply
    reply = r.command("a LOGIN %s %s" % (S["sysuser"], S["syspass"]))
    assert reply[-1].startswith("a NO [PRIVACYREQUIRED]"), reply
    print("PROXY v1 from an untrusted address: read as a command, BAD; LOGIN needs TLS")
    r = Raw(port, source="127.0.0.2", before_greeting=v2_header("192.0.2.67"))
    # The binary header has no LF at its end: end its "line" before the NOOP.
    reply = r.command("\r\nb NOOP", tag="b")
    assert reply[-1] == "b OK NOOP completed", reply
    assert any("BAD" in line for line in reply), reply
    print("PROXY v2 from an untrusted address: not taken as a header")
    # After STARTTLS the same untrusted client may log in.
    ssl_after_starttls(port)
    print("STARTTLS from an untrusted address, then LOGIN: ok")


def ssl_after_starttls(port):
    r = Raw(port, source="127.0.0.2")
    reply = r.command("a STARTTLS")
    assert reply[-1] == "a OK Begin TLS negotiation now", reply
    tls = tls_context().wrap_socket(r.sock, server_hostname="localhost")
    r.sock, r.buf = tls, b""
    reply = r.command("b CAPABILITY")
    assert "LOGINDISABLED" not in reply[0] and "STARTTLS" not in reply[0], reply
    reply = r.command("c LOGIN %s %s" % (S["sysuser"], S["syspass"]))
    assert reply[-1].startswith("c OK [CAPABILITY"), reply
    r.command("d LOGOUT")


def starttls_injection():
    """CVE-2011-0411: commands pipelined after STARTTLS must be discarded."""
    r = Raw(S["ports"]["plain"])
    r.sock.sendall(b"a STARTTLS\r\nb LOGIN %s %s\r\n" % (S["sysuser"].encode(), S["syspass"].encode()))
    first = r.line()
    assert first == "a OK Begin TLS negotiation now", first
    tls = tls_context().wrap_socket(r.sock, server_hostname="localhost")
    r.sock, r.buf = tls, b""
    reply = r.command("c NOOP")
    assert reply == ["c OK NOOP completed"], "injected LOGIN was answered: %r" % reply
    print("STARTTLS command injection: pipelined plaintext discarded")


def bad_tls_key():
    r = Raw(S["ports"]["badkey"])
    assert r.greeting == "* BYE mbox-imapd cannot serve now, see the system log", r.greeting
    assert r.closed()
    print("unreadable TLS key: BYE at once, no panic")


def login_timeout():
    r = Raw(S["ports"]["short"])
    started = time.monotonic()
    bye = r.line()
    waited = time.monotonic() - started
    assert bye == "* BYE Autologout; idle for too long", bye
    assert 0.5 < waited < 10, waited
    assert r.closed()
    print("silent client before login: autologout after %.1fs" % waited)


def parallel():
    errors = []
    port = S["ports"]["plain"]

    def one(i):
        try:
            imap = imaplib.IMAP4(HOST, port)
            imap.login(S["sysuser"], S["syspass"])
            read_mail(imap)
            imap.logout()
        except Exception as e:  # noqa: BLE001 - collected and reported below
            errors.append("%d: %r" % (i, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    print("50 parallel sessions: ok in %.1fs" % (time.monotonic() - started))


def transcript():
    """One session, greeting to logout, printed as C:/S: lines."""
    r = Raw(S["ports"]["plain"])
    print("S: " + r.greeting)
    for cmd in (
        "a CAPABILITY",
        "b LOGIN %s %s" % (S["sysuser"], S["syspass"]),
        "c EXAMINE INBOX",
        "d FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
        "e LOGOUT",
    ):
        print("C: " + cmd)
        for line in r.command(cmd):
            print("S: " + line)


SCENARIOS = {
    "plain-pam": plain_pam,
    "starttls-pam": starttls_pam,
    "imaps-pam": imaps_pam,
    "imaps-compress": imaps_compress,
    "passwd-file": passwd_file,
    "wrong-passwords": wrong_passwords,
    "path-user": path_user,
    "proxy-trusted": proxy_trusted,
    "proxy-untrusted": proxy_untrusted,
    "starttls-injection": starttls_injection,
    "bad-tls-key": bad_tls_key,
    "login-timeout": login_timeout,
    "parallel": parallel,
    "transcript": transcript,
}

if __name__ == "__main__":
    SCENARIOS[sys.argv[2]]()
