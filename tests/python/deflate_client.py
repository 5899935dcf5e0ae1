"""COMPRESS=DEFLATE (RFC 4978) for imaplib, which has none: a mixin for
IMAP4 classes (IMAP4_stream over pipes, IMAP4_SSL over TLS) that switches
both directions to zlib's raw DEFLATE (wbits -15, no zlib header) after the
server's OK. Each send is compressed and sync-flushed, as RFC 4978 clients
do; reads inflate whatever arrives. Written independently of the server's
layer, on Python's zlib (the C library)."""
import imaplib
import zlib

imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))


class Deflating:
    """Put before the imaplib class: `class C(Deflating, imaplib.IMAP4_SSL)`."""

    compressing = False
    wire_in = 0
    plain_in = 0

    def compress(self):
        typ, data = self._simple_command("COMPRESS", "DEFLATE")
        if typ != "OK":
            raise AssertionError("COMPRESS DEFLATE: %s %r" % (typ, data))
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._inflate = zlib.decompressobj(-15)
        self._plain = b""
        self.compressing = True

    def send(self, data):
        if self.compressing:
            data = self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
        super().send(data)

    def _fill(self):
        # IMAP4_stream reads `readfile`, IMAP4 and IMAP4_SSL `file`; read1 takes
        # what is there now (one read at most), buffered or not.
        source = getattr(self, "readfile", None) or self.file
        chunk = source.read1(65536)
        if not chunk:
            raise imaplib.IMAP4.abort("end of stream from the server")
        plain = self._inflate.decompress(chunk)
        self.wire_in += len(chunk)
        self.plain_in += len(plain)
        self._plain += plain

    def read(self, size):
        if not self.compressing:
            return super().read(size)
        while len(self._plain) < size:
            self._fill()
        out, self._plain = self._plain[:size], self._plain[size:]
        return out

    def readline(self):
        if not self.compressing:
            return super().readline()
        while b"\n" not in self._plain:
            self._fill()
        end = self._plain.index(b"\n") + 1
        out, self._plain = self._plain[:end], self._plain[end:]
        return out
