//! LF→CRLF for mapped mbox bytes.
//!
//! Mail on disk ends lines in LF; IMAP counts and sends CRLF. Following UW imapd
//! (mbox-format.md §4), every CR in the stored bytes is dropped and every LF is
//! sent as CR LF, so a message stored with CRLF or stray CRs is served the same
//! as one stored with LF. `crlf_len` and `write_crlf` agree by construction:
//! both use [`crlf_octet_count`]'s rule.

use std::io::{self, Write};

use memchr::{memchr, memchr_iter, memchr3};

/// The length of `src` once sent: LF counts 2, CR counts 0, any other byte 1.
pub fn crlf_len(src: &[u8]) -> u64 {
    // Two vectorised counting passes (memchr's iterator `count` does not visit
    // each hit) are several times faster than one pass that stops at every LF,
    // and this runs over every byte of the mailbox at SELECT.
    let lf = memchr_iter(b'\n', src).count() as u64;
    let cr = if memchr(b'\r', src).is_some() {
        memchr_iter(b'\r', src).count() as u64
    } else {
        0
    };
    src.len() as u64 + lf - cr
}

/// A byte window over the CRLF form of a sequence of segments: skip `origin`
/// octets, then emit at most `length`. Feed segments in order with [`Self::write`].
/// This is how `BODY[...]<origin.length>` streams without building the section.
#[derive(Debug, Clone, Copy)]
pub struct CrlfWindow {
    skip: u64,
    remaining: u64,
    nul: Nul,
}

/// What a stored NUL octet goes out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nul {
    /// 0x80: a `literal` may not carry NUL (RFC 3501 §9 CHAR8).
    Substitute,
    /// NUL itself: for a `literal8` (RFC 3516 §4.3), which may.
    Keep,
}

impl CrlfWindow {
    /// Everything.
    pub fn all() -> Self {
        CrlfWindow {
            skip: 0,
            remaining: u64::MAX,
            nul: Nul::Substitute,
        }
    }

    /// Octets `origin .. origin + length` of the CRLF form.
    pub fn new(origin: u64, length: u64) -> Self {
        CrlfWindow {
            skip: origin,
            remaining: length,
            nul: Nul::Substitute,
        }
    }

    /// The same window, sending NUL octets as they are (for a `literal8`).
    pub fn keeping_nul(self) -> Self {
        CrlfWindow {
            nul: Nul::Keep,
            ..self
        }
    }

    /// The same window, emitting at most `limit` octets.
    pub fn capped(self, limit: u64) -> Self {
        CrlfWindow {
            remaining: self.remaining.min(limit),
            ..self
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
                Some(0) if self.nul == Nul::Keep => written += self.emit(&[0], out)?,
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
    fn nul_kept_for_literal8() {
        let mut v = Vec::new();
        CrlfWindow::all()
            .keeping_nul()
            .write(b"a\0b\r\n", &mut v)
            .unwrap();
        assert_eq!(v, b"a\0b\r\n");
        let mut v = Vec::new();
        CrlfWindow::new(1, 3)
            .keeping_nul()
            .capped(2)
            .write(b"a\0\n", &mut v)
            .unwrap();
        assert_eq!(v, b"\0\r");
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
