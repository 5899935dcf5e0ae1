//! `ResponseWriter`: the wire format of every server response.
//!
//! It wraps any `io::Write` (stdout in production, a `Vec<u8>` in tests) in a
//! buffer, and offers the grammar's building blocks: atoms, numbers, quoted
//! strings, literals, `NIL`, parentheses. [`ResponseWriter::string`] picks a
//! quoted string when the bytes allow it and a literal otherwise (RFC 3501 §9:
//! `quoted` excludes CR, LF, NUL and 8-bit bytes; `"` and `\` are escaped).
//! Large bodies go through [`ResponseWriter::literal_crlf`], which streams the
//! mapped LF bytes as CRLF without copying them.

use std::io::{self, BufWriter, Write};

use super::crlf::CrlfWindow;
use super::{Code, Revision, Status};

/// Size of the output buffer: big enough that a FETCH of small items goes out
/// in few write(2) calls, small enough to cost nothing per session.
const OUTPUT_BUFFER_OCTETS: usize = 64 * 1024;

/// Writes IMAP responses to `W`, buffered; call [`ResponseWriter::flush`] before
/// waiting for client input.
pub struct ResponseWriter<W: Write> {
    out: CountingBuffer<W>,
    revision: Revision,
}

impl<W: Write> ResponseWriter<W> {
    pub fn new(inner: W) -> Self {
        ResponseWriter {
            out: CountingBuffer {
                inner: BufWriter::with_capacity(OUTPUT_BUFFER_OCTETS, inner),
                count: 0,
            },
            revision: Revision::Rev1,
        }
    }

    /// The revision responses are written for (set by the session).
    pub fn revision(&self) -> Revision {
        self.revision
    }

    pub fn set_revision(&mut self, revision: Revision) {
        self.revision = revision;
    }

    /// Whether the client enabled IMAP4rev2 (RFC 9051).
    pub fn is_rev2(&self) -> bool {
        self.revision == Revision::Rev2
    }

    /// A mailbox name (stored in modified UTF-7, RFC 3501 §5.1.3) as the
    /// client reads it: unchanged for IMAP4rev1, UTF-8 for IMAP4rev2 (RFC 9051
    /// §5.1). A name that does not decode (none we create) goes out as stored.
    pub fn mailbox(&mut self, name: &[u8]) -> io::Result<()> {
        if self.is_rev2()
            && let Ok(text) = crate::names::decode(name)
        {
            return self.astring(text.as_bytes());
        }
        self.astring(name)
    }

    /// Total octets written so far (for the session summary).
    pub fn bytes_written(&self) -> u64 {
        self.out.count
    }

    /// The wrapped writer (tests read the produced bytes from it).
    pub fn get_ref(&self) -> &W {
        self.out.inner.get_ref()
    }

    /// The wrapped writer, mutably: the connection reads the client through it
    /// (one stream both ways, for TLS). Writing to it directly would bypass
    /// the buffer, so flush first.
    pub fn get_mut(&mut self) -> &mut W {
        self.out.inner.get_mut()
    }

    /// Unwraps the writer after flushing.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.inner.into_inner().map_err(|e| e.into_error())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    // ----- whole responses -------------------------------------------------

    /// `tag STATUS [code] text CRLF` (RFC 3501 §7.1).
    pub fn tagged(
        &mut self,
        tag: &str,
        status: Status,
        code: Option<&Code>,
        text: &str,
    ) -> io::Result<()> {
        self.raw(tag.as_bytes())?;
        self.sp()?;
        self.status_tail(status, code, text)
    }

    /// `* STATUS [code] text CRLF`.
    pub fn untagged_status(
        &mut self,
        status: Status,
        code: Option<&Code>,
        text: &str,
    ) -> io::Result<()> {
        self.raw(b"* ")?;
        self.status_tail(status, code, text)
    }

    /// `* <data> CRLF` where `data` is already valid wire text (e.g. `30 EXISTS`,
    /// `FLAGS (\Seen)`, `CAPABILITY IMAP4rev1 ...`).
    pub fn untagged(&mut self, data: &str) -> io::Result<()> {
        self.raw(b"* ")?;
        self.raw(data.as_bytes())?;
        self.end_line()
    }

    /// `+ text CRLF` (continuation request, RFC 3501 §7.5). Flushes: the client waits.
    pub fn continuation(&mut self, text: &str) -> io::Result<()> {
        self.raw(b"+ ")?;
        self.raw(if text.is_empty() {
            b"Ready"
        } else {
            text.as_bytes()
        })?;
        self.end_line()?;
        self.flush()
    }

    fn status_tail(&mut self, status: Status, code: Option<&Code>, text: &str) -> io::Result<()> {
        self.raw(status.as_str().as_bytes())?;
        if let Some(code) = code {
            write!(self.out, " [{code}]")?;
        }
        self.sp()?;
        // `text` must be 1*TEXT-CHAR: never let CR/LF through, never empty.
        let clean: String = text
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        self.raw(if clean.is_empty() {
            b"done"
        } else {
            clean.as_bytes()
        })?;
        self.end_line()
    }

    // ----- building blocks for untagged data (FETCH, SEARCH, LIST...) -----

    /// Bytes that are already valid at this point of the grammar.
    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    pub fn sp(&mut self) -> io::Result<()> {
        self.raw(b" ")
    }

    pub fn open(&mut self) -> io::Result<()> {
        self.raw(b"(")
    }

    pub fn close(&mut self) -> io::Result<()> {
        self.raw(b")")
    }

    pub fn nil(&mut self) -> io::Result<()> {
        self.raw(b"NIL")
    }

    pub fn number(&mut self, n: u64) -> io::Result<()> {
        write!(self.out, "{n}")
    }

    /// Ends the response line.
    pub fn end_line(&mut self) -> io::Result<()> {
        self.raw(b"\r\n")
    }

    /// `string`: quoted if every byte may appear in `quoted`, else a literal.
    pub fn string(&mut self, bytes: &[u8]) -> io::Result<()> {
        if is_quotable(bytes) {
            self.raw(b"\"")?;
            for &b in bytes {
                if b == b'"' || b == b'\\' {
                    self.raw(b"\\")?;
                }
                self.raw(&[b])?;
            }
            self.raw(b"\"")
        } else {
            self.literal(bytes)
        }
    }

    /// `nstring`: `NIL` for `None`.
    pub fn nstring(&mut self, bytes: Option<&[u8]>) -> io::Result<()> {
        match bytes {
            Some(b) => self.string(b),
            None => self.nil(),
        }
    }

    /// `astring` as used for mailbox names and atoms in LIST/STATUS: an atom when
    /// the bytes are atom chars, else a string.
    pub fn astring(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !bytes.is_empty() && bytes.iter().all(|&b| is_astring_char(b)) {
            self.raw(bytes)
        } else {
            self.string(bytes)
        }
    }

    /// A literal of exactly `len` octets whose content is the CRLF form of
    /// `segments`, cut by `window`. `len` must be what the window will emit
    /// (the caller computed it with `crlf_len`); if the source turns out shorter
    /// the literal is padded with spaces so the stream stays in sync.
    pub fn literal_crlf(
        &mut self,
        len: u64,
        segments: &[&[u8]],
        window: CrlfWindow,
    ) -> io::Result<()> {
        write!(self.out, "{{{len}}}\r\n")?;
        let mut window = window.capped(len);
        let mut sent = 0u64;
        for seg in segments {
            sent += window.write(seg, &mut self.out)?;
            if window.is_done() {
                break;
            }
        }
        // Defensive: keep the literal's promised length so the stream stays in sync
        // (only reachable if the caller's length was wrong).
        while sent < len {
            let n = (len - sent).min(64) as usize;
            self.out.write_all(&[b' '; 64][..n])?;
            sent += n as u64;
        }
        Ok(())
    }

    /// Announces a literal of `len` octets (`{len}` or `~{len}` CRLF); the
    /// caller then sends exactly `len` octets of content with [`Self::raw`].
    /// For content produced piece by piece (BINARY's decoding), where
    /// [`Self::literal_crlf`] does not apply.
    pub fn literal_start(&mut self, kind: LiteralKind, len: u64) -> io::Result<()> {
        match kind {
            LiteralKind::Literal => write!(self.out, "{{{len}}}\r\n"),
            LiteralKind::Literal8 => write!(self.out, "~{{{len}}}\r\n"),
        }
    }

    /// A literal holding `bytes` verbatim (already CRLF).
    pub fn literal(&mut self, bytes: &[u8]) -> io::Result<()> {
        write!(self.out, "{{{}}}\r\n", bytes.len())?;
        self.literal_bytes(bytes)
    }

    /// Literal content: NUL may not appear (RFC 3501 §9 CHAR8), so it goes out
    /// as 0x80, as UW imapd sends it.
    fn literal_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        while let Some(i) = memchr::memchr(0, rest) {
            let (run, tail) = rest.split_at(i);
            self.raw(run)?;
            self.raw(&[0x80])?;
            rest = tail.get(1..).unwrap_or(&[]);
        }
        self.raw(rest)
    }
}

/// How a literal is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralKind {
    /// `{n}` (RFC 3501 §4.3): any octet but NUL.
    Literal,
    /// `~{n}` (RFC 3516 §4.3 `literal8`): any octet, NUL included.
    Literal8,
}

/// Counts octets on the way out.
struct CountingBuffer<W: Write> {
    inner: BufWriter<W>,
    count: u64,
}

impl<W: Write> Write for CountingBuffer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Bytes allowed inside `quoted` (RFC 3501 §9 `QUOTED-CHAR`), with a length cap
/// so that long values go out as literals, which every client handles.
fn is_quotable(bytes: &[u8]) -> bool {
    bytes.len() <= 1024
        && bytes
            .iter()
            .all(|&b| (0x01..0x80).contains(&b) && b != b'\r' && b != b'\n')
}

/// `ASTRING-CHAR`: `ATOM-CHAR` or `]`.
pub fn is_astring_char(b: u8) -> bool {
    b == b']' || is_atom_char(b)
}

/// `ATOM-CHAR` (RFC 3501 §9): CHAR except atom-specials.
pub fn is_atom_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b)
        && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(f: impl FnOnce(&mut ResponseWriter<Vec<u8>>) -> io::Result<()>) -> Vec<u8> {
        let mut w = ResponseWriter::new(Vec::new());
        f(&mut w).unwrap();
        w.into_inner().unwrap()
    }

    #[test]
    fn string_quotes_or_literals() {
        assert_eq!(
            render(|w| w.string(b"a \"b\" \\c")),
            b"\"a \\\"b\\\" \\\\c\""
        );
        assert_eq!(render(|w| w.string(b"x\r\ny")), b"{4}\r\nx\r\ny");
        assert_eq!(render(|w| w.string("é".as_bytes())), b"{2}\r\n\xc3\xa9");
        assert_eq!(render(|w| w.nstring(None)), b"NIL");
        assert_eq!(render(|w| w.string(b"a\0b")), b"{3}\r\na\x80b");
        assert_eq!(render(|w| w.astring(b"INBOX")), b"INBOX");
        assert_eq!(render(|w| w.astring(b"My Box")), b"\"My Box\"");
    }

    #[test]
    fn tagged_with_code_and_no_crlf_injection() {
        let out = render(|w| w.tagged("a1", Status::No, Some(&Code::Nonexistent), "bad\r\nname"));
        assert_eq!(out, b"a1 NO [NONEXISTENT] bad  name\r\n");
    }

    #[test]
    fn literal_announcements() {
        let out = render(|w| {
            w.literal_start(LiteralKind::Literal8, 3)?;
            w.raw(b"a\0b")
        });
        assert_eq!(out, b"~{3}\r\na\0b");
        assert_eq!(
            render(|w| w.literal_start(LiteralKind::Literal, 0)),
            b"{0}\r\n"
        );
    }

    #[test]
    fn literal_crlf_streams_and_cuts() {
        let out = render(|w| w.literal_crlf(8, &[b"ab\n", b"cd\n"], CrlfWindow::all()));
        assert_eq!(out, b"{8}\r\nab\r\ncd\r\n");
        let out = render(|w| w.literal_crlf(3, &[b"ab\n", b"cd\n"], CrlfWindow::new(1, 3)));
        assert_eq!(out, b"{3}\r\nb\r\n");
    }
}
