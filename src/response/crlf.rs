//! LF→CRLF for mapped mbox bytes.
//!
//! Mail on disk ends lines in LF; IMAP counts and sends CRLF. Following UW imapd
//! (mbox-format.md §4), every CR in the stored bytes is dropped and every LF is
//! sent as CR LF, so a message stored with CRLF or stray CRs is served the same
//! as one stored with LF. `crlf_len` and `write_crlf` agree by construction:
//! both use [`crlf_octet_count`]'s rule.

use std::io::{self, Write};

use memchr::{memchr2_iter, memchr3};

/// The length of `src` once sent: LF counts 2, CR counts 0, any other byte 1.
pub fn crlf_len(src: &[u8]) -> u64 {
    let mut len = src.len() as u64;
    for i in memchr2_iter(b'\n', b'\r', src) {
        // Unwrap-free: `i` is an index memchr found in `src`.
        if src[i] == b'\n' {
            len += 1;
        } else {
            len -= 1;
        }
    }
    len
}

/// A byte window over the CRLF form of a sequence of segments: skip `origin`
/// octets, then emit at most `length`. Feed segments in order with [`Self::write`].
/// This is how `BODY[...]<origin.length>` streams without building the section.
#[derive(Debug, Clone, Copy)]
pub struct CrlfWindow {
    skip: u64,
    remaining: u64,
}

impl CrlfWindow {
    /// Everything.
    pub fn all() -> Self {
        CrlfWindow {
            skip: 0,
            remaining: u64::MAX,
        }
    }

    /// Octets `origin .. origin + length` of the CRLF form.
    pub fn new(origin: u64, length: u64) -> Self {
        CrlfWindow {
            skip: origin,
            remaining: length,
        }
    }

    /// The same window, emitting at most `limit` octets.
    pub fn capped(self, limit: u64) -> Self {
        CrlfWindow {
            skip: self.skip,
            remaining: self.remaining.min(limit),
        }
    }

    /// Whether the window has emitted all it may.
    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// Sends the part of `src`'s CRLF form that falls in the window; returns the
    /// number of octets written.
    pub fn write<W: Write + ?Sized>(&mut self, src: &[u8], out: &mut W) -> io::Result<u64> {
        let mut written = 0u64;
        let mut rest = src;
        while !rest.is_empty() && self.remaining > 0 {
            // Next special byte (LF, CR or NUL), or the whole rest.
            let (run, tail_byte) = match memchr3(b'\n', b'\r', b'\0', rest) {
                Some(i) => (&rest[..i], Some(rest[i])),
                None => (rest, None),
            };
            written += self.emit(run, out)?;
            // A CR is squeezed out (counts 0); an LF goes out as CR LF; a NUL,
            // which no IMAP string may carry (RFC 3501 §9 CHAR8), goes out as
            // 0x80, as UW imapd sends it: one octet for one, sizes unchanged.
            match tail_byte {
                Some(b'\n') => written += self.emit(b"\r\n", out)?,
                Some(0) => written += self.emit(&[0x80], out)?,
                _ => {}
            }
            let consumed = run.len() + usize::from(tail_byte.is_some());
            rest = &rest[consumed..];
        }
        Ok(written)
    }

    /// Emits already-converted octets through the window.
    fn emit<W: Write + ?Sized>(&mut self, bytes: &[u8], out: &mut W) -> io::Result<u64> {
        let mut bytes = bytes;
        if self.skip > 0 {
            let s = self.skip.min(bytes.len() as u64);
            self.skip -= s;
            bytes = &bytes[s as usize..];
        }
        let n = (bytes.len() as u64).min(self.remaining);
        if n > 0 {
            out.write_all(&bytes[..n as usize])?;
            self.remaining -= n;
        }
        Ok(n)
    }
}

/// Writes the whole CRLF form of `src`.
pub fn write_crlf<W: Write + ?Sized>(src: &[u8], out: &mut W) -> io::Result<u64> {
    CrlfWindow::all().write(src, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(src: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        write_crlf(src, &mut v).unwrap();
        v
    }

    #[test]
    fn lf_becomes_crlf_and_cr_is_dropped() {
        assert_eq!(conv(b"a\nb\r\nc\rd"), b"a\r\nb\r\ncd");
        assert_eq!(crlf_len(b"a\nb\r\nc\rd"), 8);
    }

    #[test]
    fn nul_goes_out_as_0x80() {
        assert_eq!(conv(b"a\0b\n"), b"a\x80b\r\n");
        assert_eq!(crlf_len(b"a\0b\n"), 5);
    }

    #[test]
    fn len_agrees_with_write_on_awkward_inputs() {
        let cases: [&[u8]; 6] = [
            b"",
            b"\n",
            b"\r",
            b"\r\r\n\n",
            b"x\0y\n\n",
            b"From x\n>From y\n",
        ];
        for c in cases {
            assert_eq!(crlf_len(c), conv(c).len() as u64, "{c:?}");
            assert!(!conv(c).windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
        }
    }

    #[test]
    fn window_cuts_the_crlf_form_across_segments() {
        let full = conv(b"ab\ncd\nef\n");
        for origin in 0..=full.len() as u64 + 1 {
            for length in 0..=full.len() as u64 + 1 {
                let mut w = CrlfWindow::new(origin, length);
                let mut out = Vec::new();
                w.write(b"ab\nc", &mut out).unwrap();
                w.write(b"d\nef\n", &mut out).unwrap();
                let lo = (origin as usize).min(full.len());
                let hi = (origin + length).min(full.len() as u64) as usize;
                assert_eq!(
                    out,
                    &full[lo..hi.max(lo)],
                    "origin {origin} length {length}"
                );
            }
        }
    }
}
