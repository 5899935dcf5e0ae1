//! Text decoding for SEARCH: header values (RFC 2047 encoded words, RFC 5322
//! unfolding), body transfer encodings (RFC 2045 §6.7 quoted-printable, §6.8
//! base64), declared charsets, and a case-insensitive substring matcher.
//!
//! The hard part is doing this fast over a whole mailbox without being wrong.
//! Most mail is plain 7bit/8bit text in US-ASCII or UTF-8 and most needles are
//! ASCII, so [`body_text_matches`] searches those parts' raw bytes directly: an
//! ASCII-lowercased copy of each 16 KiB chunk goes through `memchr::memmem`, and
//! nothing is decoded. Only QP/base64 parts, other charsets or non-ASCII needles
//! take the slow path (transfer decoding, then `encoding_rs`, then Unicode
//! lowercasing), and that path also works chunk by chunk with an early exit.
//!
//! Both paths see the same text, so a needle never spans a line break
//! differently on one path than on the other: CR is dropped from the text and
//! from the needle (stored mail has LF line ends, decoded base64 text usually
//! CRLF; the client sees CRLF either way), QP soft line breaks disappear, and a
//! needle may match across a hard line break only if it contains that LF.
//!
//! Everything here is lenient, because stored mail is often broken: malformed
//! encoded words stay as they are, invalid base64 characters are skipped, a stray
//! `=` in quoted-printable is kept, an unknown charset is read as UTF-8 (lossy).
//! The decoded text is only ever used for matching, never sent to a client.

use std::borrow::Cow;

use encoding_rs::{Encoding, REPLACEMENT, UTF_8, WINDOWS_1252};
use memchr::{memchr, memmem};

/// How many folded octets the matcher collects before running memmem over
/// them: large enough that memmem runs at full speed, small enough to stay in
/// the L1/L2 cache. Must exceed 4 (one UTF-8 character).
const SCAN_CHUNK_OCTETS: usize = 16 * 1024;

/// Labels that mean US-ASCII (RFC 2046 §4.1.2, IANA aliases). encoding_rs
/// follows WHATWG and maps them to windows-1252; for mail we want "ASCII, and
/// probably UTF-8 if it is not", since many mailers send UTF-8 labelled so.
const ASCII_LABELS: [&str; 10] = [
    "us-ascii",
    "ascii",
    "us",
    "ansi_x3.4-1968",
    "iso646-us",
    "iso-ir-6",
    "iso_646.irv:1991",
    "csascii",
    "cp367",
    "ibm367",
];

// ----- matching ----------------------------------------------------------

/// A SEARCH string prepared for fast case-insensitive substring matching.
///
/// Folding is Unicode simple lowercase per character (so "ÄRGER" matches
/// "ärger"), CR removed. Known approximation: the raw-byte path folds ASCII only,
/// so the two non-ASCII characters whose lowercase is ASCII (U+0130 `İ` -> `i`,
/// U+212A KELVIN SIGN -> `k`) match an ASCII needle only in decoded parts.
#[derive(Debug, Clone)]
pub struct TextNeedle {
    /// The folded needle, owned by the finder.
    finder: memmem::Finder<'static>,
    /// Whether the folded needle is pure ASCII (enables the raw-byte path).
    ascii: bool,
}

impl TextNeedle {
    pub fn new(needle: &str) -> Self {
        let mut folded = Vec::with_capacity(needle.len());
        for c in needle.chars().filter(|&c| c != '\r') {
            push_folded(&mut folded, c);
        }
        let ascii = folded.is_ascii();
        TextNeedle {
            finder: memmem::Finder::new(&folded).into_owned(),
            ascii,
        }
    }

    /// The empty string, which every text contains (RFC 3501 §6.4.4 substring).
    pub fn is_empty(&self) -> bool {
        self.finder.needle().is_empty()
    }

    pub fn is_ascii(&self) -> bool {
        self.ascii
    }

    /// Whether `haystack` contains the needle, case-insensitively.
    pub fn matches_str(&self, haystack: &str) -> bool {
        self.is_empty() || Window::new(self).push_str(haystack)
    }

    /// The raw-byte path: whether `haystack`, read as an ASCII-compatible text
    /// whose non-ASCII bytes cannot fold to ASCII (US-ASCII, UTF-8), contains
    /// the needle. With a non-ASCII needle the bytes are read as UTF-8 (lossy).
    pub fn matches_ascii_bytes(&self, haystack: &[u8]) -> bool {
        if self.is_empty() {
            return true;
        }
        if !self.ascii {
            return self.matches_str(&String::from_utf8_lossy(haystack));
        }
        Window::new(self).push_ascii(haystack)
    }
}

/// A sliding window of folded text: each chunk is appended, searched, and all
/// but the last `needle length - 1` octets dropped, so a match across chunk
/// boundaries is still found and memory stays bounded.
struct Window<'n> {
    finder: &'n memmem::Finder<'static>,
    /// Octets of text folded per search: at least the needle's length, so a
    /// huge needle does not make each step copy more than it searches.
    chunk: usize,
    buf: Vec<u8>,
}

impl<'n> Window<'n> {
    fn new(needle: &'n TextNeedle) -> Self {
        let chunk = SCAN_CHUNK_OCTETS.max(needle.finder.needle().len());
        Window {
            finder: &needle.finder,
            chunk,
            buf: Vec::with_capacity(2 * chunk),
        }
    }

    fn push_ascii(&mut self, bytes: &[u8]) -> bool {
        for chunk in bytes.chunks(self.chunk) {
            if memchr(b'\r', chunk).is_none() {
                self.buf.extend(chunk.iter().map(u8::to_ascii_lowercase));
            } else {
                self.buf.extend(
                    chunk
                        .iter()
                        .filter(|&&b| b != b'\r')
                        .map(u8::to_ascii_lowercase),
                );
            }
            if self.search() {
                return true;
            }
        }
        false
    }

    fn push_str(&mut self, text: &str) -> bool {
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = rest.len().min(self.chunk);
            // Terminates: 0 is always a char boundary.
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (chunk, tail) = rest.split_at(cut);
            rest = tail;
            if chunk.is_ascii() {
                if self.push_ascii(chunk.as_bytes()) {
                    return true;
                }
                continue;
            }
            for c in chunk.chars().filter(|&c| c != '\r') {
                push_folded(&mut self.buf, c);
            }
            if self.search() {
                return true;
            }
        }
        false
    }

    fn search(&mut self) -> bool {
        if self.finder.find(&self.buf).is_some() {
            return true;
        }
        let keep = self.finder.needle().len().saturating_sub(1);
        let drop = self.buf.len().saturating_sub(keep);
        self.buf.drain(..drop);
        false
    }
}

/// Appends the simple lowercase of `c` as UTF-8. `char::to_lowercase` gives the
/// full mapping; its first character is the simple one (the only multi-character
/// lowercase mapping, U+0130, has simple mapping U+0069, its first character).
fn push_folded(out: &mut Vec<u8>, c: char) {
    if c.is_ascii() {
        out.push((c as u8).to_ascii_lowercase());
        return;
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    let mut utf8 = [0u8; 4];
    out.extend_from_slice(lower.encode_utf8(&mut utf8).as_bytes());
}

// ----- bodies ---------------------------------------------------------------

/// A part's Content-Transfer-Encoding (RFC 2045 §6), as far as decoding goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    /// 7bit, 8bit, binary, absent or unknown: the bytes are the text.
    Identity,
    QuotedPrintable,
    Base64,
}

impl TransferEncoding {
    /// From the raw header value (case-insensitive, whitespace and comments-free
    /// token expected; anything unrecognised is identity, RFC 2045 §6.4 says an
    /// unknown encoding is to be treated as opaque, and searching the raw bytes
    /// is the useful reading of that).
    pub fn from_header_value(value: &[u8]) -> Self {
        Self::known(value).unwrap_or(TransferEncoding::Identity)
    }

    /// From the raw header value, strictly: `None` for an encoding that is
    /// neither an identity (7bit, 8bit, binary; RFC 2045 §6.2) nor one we can
    /// remove. BINARY must refuse those (RFC 3516 §4.3 `UNKNOWN-CTE`) rather
    /// than pass encoded bytes off as decoded. An empty value counts as absent
    /// (identity), as does a value that is only a comment.
    pub fn known(value: &[u8]) -> Option<Self> {
        let token = strip_leading_comments(trim_wsp(value));
        let token = token
            .split(|&b| b == b'(' || b == b';')
            .next()
            .map(trim_wsp)
            .unwrap_or(token);
        const IDENTITIES: [&[u8]; 3] = [b"7bit", b"8bit", b"binary"];
        if token.is_empty() || IDENTITIES.iter().any(|i| token.eq_ignore_ascii_case(i)) {
            Some(TransferEncoding::Identity)
        } else if token.eq_ignore_ascii_case(b"quoted-printable") {
            Some(TransferEncoding::QuotedPrintable)
        } else if token.eq_ignore_ascii_case(b"base64") {
            Some(TransferEncoding::Base64)
        } else {
            None
        }
    }
}

/// `(comment) token`: the comments before the token skipped (RFC 2045 §6.1
/// allows CFWS around it); an unclosed comment leaves nothing.
fn strip_leading_comments(mut s: &[u8]) -> &[u8] {
    while s.first() == Some(&b'(') {
        let mut depth = 0usize;
        let mut end = s.len();
        for (i, &b) in s.iter().enumerate() {
            match b {
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        s = trim_wsp(s.get(end..).unwrap_or(&[]));
    }
    s
}

/// Whether a text body (already separated from its header) contains `needle`
/// once its transfer encoding and charset are decoded. Takes the raw-byte path
/// when it gives the same answer: ASCII needle, UTF-8-compatible charset.
pub fn body_text_matches(
    body: &[u8],
    encoding: TransferEncoding,
    charset: Option<&str>,
    needle: &TextNeedle,
) -> bool {
    if needle.is_empty() {
        return true;
    }
    let bytes: Cow<'_, [u8]> = match encoding {
        TransferEncoding::Identity => Cow::Borrowed(body),
        TransferEncoding::QuotedPrintable => Cow::Owned(decode_quoted_printable(body)),
        TransferEncoding::Base64 => Cow::Owned(decode_base64(body)),
    };
    if needle.is_ascii() && is_utf8_compatible(charset) {
        return needle.matches_ascii_bytes(&bytes);
    }
    needle.matches_str(&decode_charset(&bytes, charset))
}

/// Whether `charset` (a MIME label; `None` = not declared, i.e. US-ASCII by
/// RFC 2045 §5.2) is US-ASCII or UTF-8, whose bytes the raw path may search.
pub fn is_utf8_compatible(charset: Option<&str>) -> bool {
    match charset.map(str::trim) {
        None => true,
        Some(label) => {
            is_ascii_label(label) || Encoding::for_label(label.as_bytes()) == Some(UTF_8)
        }
    }
}

/// Decodes quoted-printable (RFC 2045 §6.7): `=XX` (either hex case) becomes
/// the octet, `=` at the end of a line is a soft line break and vanishes,
/// trailing whitespace on a line is transport padding and is removed (rule 3).
/// A `=` not followed by two hex digits is kept as it is. Hard line breaks
/// come out as LF (SEARCH matches LF-separated text).
pub fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    decode_quoted_printable_into(input, LineBreak::Lf, &mut out);
    out
}

/// What a decoded hard line break is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineBreak {
    /// `\n`, as stored mail ends its lines.
    Lf,
    /// `\r\n`, the canonical form (RFC 2045 §6.7 rule 4) that BINARY sends.
    CrLf,
}

/// [`decode_quoted_printable`] appending to `out`, with hard line breaks as
/// `line_break`. A large body may be decoded piece by piece if each piece
/// ends where [`quoted_printable_piece_len`] says: the pieces' decodings
/// then concatenate to the whole body's.
pub fn decode_quoted_printable_into(input: &[u8], line_break: LineBreak, out: &mut Vec<u8>) {
    let mut rest = input;
    while !rest.is_empty() {
        let (line, has_lf, tail) = match memchr(b'\n', rest) {
            Some(i) => (
                rest.get(..i).unwrap_or(rest),
                true,
                rest.get(i + 1..).unwrap_or(&[]),
            ),
            None => (rest, false, &[][..]),
        };
        rest = tail;
        let line = trim_end_wsp(line);
        let (line, soft_break) = match line.strip_suffix(b"=") {
            Some(stripped) => (stripped, true),
            None => (line, false),
        };
        decode_qp_line(line, out);
        if has_lf && !soft_break {
            out.extend_from_slice(match line_break {
                LineBreak::Lf => b"\n",
                LineBreak::CrLf => b"\r\n",
            });
        }
    }
}

/// How many octets of `input` to decode as the next piece, about `target`
/// (at least 1 when `input` is not empty): all of it if it is short, else up
/// to the last line break within `target`, else (a long line) a cut where
/// the piece's end cannot change its decoding: not inside an `=XX` escape,
/// and not after whitespace that might turn out to be trailing padding. A
/// line with no such cut near `target` (a run of blanks or `=`) is taken up
/// to the next one, or whole.
pub fn quoted_printable_piece_len(input: &[u8], target: usize) -> usize {
    let target = target.max(3);
    if input.len() <= target {
        return input.len();
    }
    let head = input.get(..target).unwrap_or(input);
    if let Some(lf) = memchr::memrchr(b'\n', head) {
        return lf + 1;
    }
    let safe = |end: usize| match (input.get(end.wrapping_sub(2)), input.get(end - 1)) {
        (Some(&before), Some(&last)) => before != b'=' && last != b'=' && !is_wsp(last),
        _ => false,
    };
    if let Some(end) = (target / 2..=target).rev().find(|&end| safe(end)) {
        return end;
    }
    (target + 1..=input.len())
        .find(|&end| safe(end) || input.get(end - 1) == Some(&b'\n'))
        .unwrap_or(input.len())
}

/// `=XX` escapes of one line (no line break inside).
fn decode_qp_line(mut line: &[u8], out: &mut Vec<u8>) {
    while let Some(i) = memchr(b'=', line) {
        out.extend_from_slice(line.get(..i).unwrap_or(&[]));
        let hex = match line.get(i + 1..i + 3) {
            Some(&[high, low]) => hex_value(high).zip(hex_value(low)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match hex {
            Some(byte) => {
                out.push(byte);
                line = line.get(i + 3..).unwrap_or(&[]);
            }
            None => {
                out.push(b'=');
                line = line.get(i + 1..).unwrap_or(&[]);
            }
        }
    }
    out.extend_from_slice(line);
}

/// Decodes base64 (RFC 2045 §6.8) tolerantly: characters outside the alphabet
/// (line breaks, spaces, garbage) are skipped; `=` ends a quantum, and decoding
/// resumes after it, so concatenated encodings still decode.
pub fn decode_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    Base64Decoder::default().push(input, &mut out);
    out
}

/// [`decode_base64`] as a state machine, so a large body is decoded piece by
/// piece (cut anywhere) through a small buffer: the bits of an unfinished
/// quantum carry over to the next piece.
#[derive(Debug, Clone, Copy, Default)]
pub struct Base64Decoder {
    acc: u32,
    /// Bits in `acc` not yet output (always < 8 between calls).
    bits: u32,
}

impl Base64Decoder {
    /// Decodes `input`, appending the completed octets to `out`. Left-over
    /// bits of an incomplete final quantum are dropped when nothing follows
    /// (RFC 4648 §3.5: they are filler).
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() / 4 * 3 + 3);
        let mut rest = input;
        while let Some((&b, tail)) = rest.split_first() {
            // Fast path: four alphabet characters on a quantum boundary are
            // three octets (most of a base64 body: 76-character lines).
            if self.bits == 0
                && let Some(&[a, b2, c, d]) = rest.get(..4)
            {
                let quad = [a, b2, c, d].map(|x| SEXTETS[usize::from(x)]);
                if quad.iter().all(|&v| v < 64) {
                    let n = quad.iter().fold(0u32, |n, &v| (n << 6) | u32::from(v));
                    out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
                    rest = rest.get(4..).unwrap_or_default();
                    continue;
                }
            }
            rest = tail;
            let value = match SEXTETS[usize::from(b)] {
                PAD => {
                    // Padding: the leftover bits are filler (RFC 4648 §3.5).
                    self.acc = 0;
                    self.bits = 0;
                    continue;
                }
                SKIP => continue,
                v => v,
            };
            self.acc = (self.acc << 6) | u32::from(value);
            self.bits += 6;
            if self.bits >= 8 {
                self.bits -= 8;
                out.push((self.acc >> self.bits) as u8);
                self.acc &= (1 << self.bits) - 1;
            }
        }
    }
}

/// [`SEXTETS`] entry for `=`.
const PAD: u8 = 0x40;
/// [`SEXTETS`] entry for an octet outside the alphabet (skipped).
const SKIP: u8 = 0xff;

/// The base64 alphabet (RFC 4648 §4): each octet's 6-bit value, [`PAD`] or
/// [`SKIP`].
const SEXTETS: [u8; 256] = {
    let mut table = [SKIP; 256];
    let mut i = 0;
    while i < 64 {
        let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i];
        table[c as usize] = i as u8;
        i += 1;
    }
    table[b'=' as usize] = PAD;
    table
};

/// Decodes text in a declared charset for matching. Undeclared or US-ASCII:
/// UTF-8 if the bytes are valid UTF-8, else windows-1252 (mislabelled 8-bit
/// mail). A label encoding_rs knows: that encoding (a BOM wins, as it does in
/// mail readers). Unknown labels: UTF-8, invalid sequences replaced.
pub fn decode_charset<'a>(bytes: &'a [u8], charset: Option<&str>) -> Cow<'a, str> {
    let label = charset.map(str::trim).unwrap_or("us-ascii");
    if is_ascii_label(label) {
        return decode_8bit(bytes);
    }
    match Encoding::for_label(label.as_bytes()) {
        Some(encoding) if encoding != REPLACEMENT => encoding.decode(bytes).0,
        _ => String::from_utf8_lossy(bytes),
    }
}

fn is_ascii_label(label: &str) -> bool {
    ASCII_LABELS.iter().any(|a| a.eq_ignore_ascii_case(label))
}

/// Bytes with no reliable charset (unlabelled header text, US-ASCII bodies):
/// UTF-8 when valid, else windows-1252.
fn decode_8bit(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => WINDOWS_1252.decode_without_bom_handling(bytes).0,
    }
}

// ----- headers ------------------------------------------------------------

/// Unfolds a header value (RFC 5322 §2.2.3): each line break before a
/// continuation line's whitespace is removed, the whitespace kept. A header
/// field cannot contain a line break that is not a fold, so all CR and LF go.
pub fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'\n', b'\r', value).is_none() {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .iter()
            .copied()
            .filter(|&b| b != b'\n' && b != b'\r')
            .collect(),
    )
}

/// A header field's value as text: unfolded, leading and trailing whitespace
/// trimmed, RFC 2047 encoded words decoded. Encoded words are recognised
/// anywhere (not only between whitespace, as RFC 2047 §5 asks), since many
/// mailers glue them to punctuation; whitespace between two adjacent encoded
/// words is dropped (RFC 2047 §6.2), and adjacent words in one charset are
/// decoded together so a character split across words survives. A malformed
/// word is kept verbatim. Text outside encoded words: UTF-8 if valid, else
/// windows-1252.
pub fn decode_header_value(raw: &[u8]) -> String {
    let unfolded = unfold(raw);
    let value = trim_wsp(&unfolded);
    let mut out = String::with_capacity(value.len());
    // Decoded octets of the preceding run of encoded words in one charset.
    let mut pending: Option<(&[u8], Vec<u8>)> = None;
    let mut literal_start = 0;
    let mut search_from = 0;
    while let Some(found) = value
        .get(search_from..)
        .and_then(|rest| memmem::find(rest, b"=?"))
    {
        let at = search_from + found;
        let Some(word) = value.get(at..).and_then(encoded_word) else {
            search_from = at + 2;
            continue;
        };
        let literal = value.get(literal_start..at).unwrap_or(&[]);
        let joins = pending.is_some() && literal.iter().all(|&b| b == b' ' || b == b'\t');
        if !joins {
            flush_pending(&mut pending, &mut out);
            out.push_str(&decode_8bit(literal));
        }
        match &mut pending {
            Some((charset, bytes)) if charset.eq_ignore_ascii_case(word.charset) => {
                bytes.extend_from_slice(&word.decoded);
            }
            _ => {
                flush_pending(&mut pending, &mut out);
                pending = Some((word.charset, word.decoded));
            }
        }
        literal_start = at + word.len;
        search_from = literal_start;
    }
    flush_pending(&mut pending, &mut out);
    out.push_str(&decode_8bit(value.get(literal_start..).unwrap_or(&[])));
    out
}

fn flush_pending(pending: &mut Option<(&[u8], Vec<u8>)>, out: &mut String) {
    if let Some((charset, bytes)) = pending.take() {
        let label = String::from_utf8_lossy(charset);
        out.push_str(&decode_charset(&bytes, Some(&label)));
    }
}

/// One parsed encoded word (RFC 2047 §2).
struct EncodedWord<'a> {
    /// The charset label, RFC 2231 §5 `*language` suffix removed.
    charset: &'a [u8],
    decoded: Vec<u8>,
    /// Octets of `=?charset?e?text?=`.
    len: usize,
}

/// Parses `=?charset?encoding?encoded-text?=` at the start of `s`. Encoded text
/// may not hold whitespace or `?` (RFC 2047 §2), which is what keeps two words
/// from being read as one; it also means the text ends at the next `?`, so a
/// header full of `=?` costs linear time, not quadratic. The 75-octet limit is
/// not enforced (lenient).
fn encoded_word(s: &[u8]) -> Option<EncodedWord<'_>> {
    let rest = s.strip_prefix(b"=?")?;
    let charset_len = memchr(b'?', rest)?;
    let charset = rest.get(..charset_len)?;
    if charset.is_empty() || charset.iter().any(|&b| b <= b' ' || b == b'=' || b >= 0x7f) {
        return None;
    }
    let rest = rest.get(charset_len + 1..)?;
    let encoding = *rest.first()?;
    let rest = rest.get(1..)?.strip_prefix(b"?")?;
    let text_len = memchr(b'?', rest)?;
    let text = rest.get(..text_len)?;
    if rest.get(text_len + 1) != Some(&b'=')
        || text
            .iter()
            .any(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    {
        return None;
    }
    let decoded = match encoding {
        b'B' | b'b' => decode_base64(text),
        b'Q' | b'q' => decode_q(text),
        _ => return None,
    };
    let charset = charset.split(|&b| b == b'*').next().unwrap_or(charset);
    Some(EncodedWord {
        charset,
        decoded,
        len: 2 + charset_len + 3 + text_len + 2,
    })
}

/// The "Q" encoding (RFC 2047 §4.2): QP where `_` stands for a space. The
/// underscores are replaced before the escapes are decoded, so `=5F` stays `_`.
fn decode_q(text: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = text
        .iter()
        .map(|&b| if b == b'_' { b' ' } else { b })
        .collect();
    let mut out = Vec::with_capacity(text.len());
    decode_qp_line(&spaced, &mut out);
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

fn trim_wsp(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_wsp(b)).unwrap_or(s.len());
    trim_end_wsp(s.get(start..).unwrap_or(&[]))
}

fn trim_end_wsp(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| !is_wsp(b)).map_or(0, |i| i + 1);
    s.get(..end).unwrap_or(s)
}

/// Whitespace as header and QP trimming see it (CR and LF included: stray ones
/// are line-end debris).
fn is_wsp(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2047_section8_examples() {
        let cases: &[(&str, &str)] = &[
            (
                "=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>",
                "Keith Moore <moore@cs.utk.edu>",
            ),
            (
                "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
                "Keld Jørn Simonsen <keld@dkuug.dk>",
            ),
            (
                "=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
                "André Pirard <PIRARD@vm1.ulg.ac.be>",
            ),
            (
                "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\n =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
                "If you can read this you understand the example.",
            ),
            (
                "Nathaniel Borenstein <nsb@thumper.bellcore.com>\n    (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)",
                "Nathaniel Borenstein <nsb@thumper.bellcore.com>    (םולש ןב ילטפנ)",
            ),
            ("(=?ISO-8859-1?Q?a?=)", "(a)"),
            ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
            ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
            ("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_header_value(raw.as_bytes()), *want, "{raw:?}");
        }
    }

    #[test]
    fn header_values_other_cases() {
        let cases: &[(&[u8], &str)] = &[
            // Q: underscore is a space, =5F a literal underscore, lowercase hex.
            (b"=?utf-8?q?hello_world=5f!?=", "hello world_!"),
            (b"=?UTF-8?B?w4RyZ2Vy?= im Job", "Ärger im Job"),
            (b"=?windows-1252?Q?=80_5?=", "€ 5"),
            (b"=?iso-8859-1?q?Gr=FC=DFe?=", "Grüße"),
            // A UTF-8 character split across two words of the same charset.
            (b"=?utf-8?B?ww==?= =?UTF-8?B?hA==?=", "Ä"),
            // RFC 2231 §5 language suffix.
            (b"=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),
            // Text glued to a word, and whitespace between word and text kept.
            (b"Re:=?utf-8?q?x?=y", "Re:xy"),
            (b"=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c"),
            // Unknown charset: read as UTF-8.
            (b"=?x-unknown?q?abc?=", "abc"),
            // Malformed words stay as they are.
            (b"=?utf-8?q?no end", "=?utf-8?q?no end"),
            (b"=?utf-8?x?abc?=", "=?utf-8?x?abc?="),
            (b"=??q?abc?=", "=??q?abc?="),
            (b"=?utf-8?q?a b?=", "=?utf-8?q?a b?="),
            (b"=?utf-8?q?a?b?=", "=?utf-8?q?a?b?="),
            (b"x =?utf-8?q?ok?= =?", "x ok =?"),
            // Raw 8-bit: UTF-8 when valid, else windows-1252.
            (b"Gr\xc3\xbc\xc3\x9fe", "Grüße"),
            (b"Gr\xfc\xdfe \x80", "Grüße €"),
            // Folding and trimming.
            (b" a\n\tb\r\n c \n", "a\tb c"),
        ];
        for (raw, want) in cases {
            assert_eq!(
                decode_header_value(raw),
                *want,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn unfold_removes_line_breaks_only() {
        assert_eq!(unfold(b"a\r\n b\n\tc"), &b"a b\tc"[..]);
        assert!(matches!(unfold(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn quoted_printable() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"abc=\ndef\n", b"abcdef\n"),
            (b"a=3D=3db\n", b"a==b\n"),
            (b"trailing   \nx", b"trailing\nx"),
            (b"soft=  \nnext", b"softnext"),
            (b"a=\r\nb\r\n", b"ab\n"),
            (b"bad=ZZ =4", b"bad=ZZ =4"),
            (b"=C3=A4=\n=C3=\n=B6", "äö".as_bytes()),
            (b"end=", b"end"),
            (b"", b""),
        ];
        for (raw, want) in cases {
            assert_eq!(
                decode_quoted_printable(raw),
                *want,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn base64_tolerant() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"SGVsbG8g\nV29ybGQ=\n", b"Hello World"),
            (b"SGV$sbG8g\r\n V29y!bGQ=", b"Hello World"),
            (b"SGk=SGk=", b"HiHi"),
            (b"SGk", b"Hi"),
            (b"====", b""),
            (b"", b""),
            // Padding in the middle of a quantum drops the partial bits (the
            // complete octet before it stays), then decoding resumes.
            (b"SG=k", b"H"),
            (b"SG=SGk", b"HHi"),
            (b"SGVsbG8===", b"Hello"),
            (b"=SGk=", b"Hi"),
            (b"S", b""),
            // NUL octets decode like any other.
            (b"AA==", b"\0"),
            (b"AAAA", b"\0\0\0"),
            (b"\x00\xffSGk=", b"Hi"),
        ];
        for (raw, want) in cases {
            assert_eq!(
                decode_base64(raw),
                *want,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn quoted_printable_canonical_line_breaks() {
        // BINARY's form: hard breaks are CRLF, soft breaks vanish, trailing
        // blanks (and a stored CR) go, encoded CR/LF/NUL octets stay octets.
        let cases: &[(&[u8], &[u8])] = &[
            (
                b"hello  \nbar=\n\nfoo\t=\nbar\n",
                b"hello\r\nbar\r\nfoo\tbar\r\n",
            ),
            (b"a \t= \t\n=62\n", b"a \tb\r\n"),
            (b"crlf\r\nsoft=\r\nx\r\n", b"crlf\r\nsoftx\r\n"),
            (b"=0D=0A=00z=0a\n", b"\r\n\0z\n\r\n"),
            (b"no final break", b"no final break"),
            (b"=\n=\n", b""),
            (b"bad=G1=4", b"bad=G1=4"),
        ];
        for (raw, want) in cases {
            let mut out = Vec::new();
            decode_quoted_printable_into(raw, LineBreak::CrLf, &mut out);
            assert_eq!(out, *want, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn base64_pieces_decode_like_the_whole() {
        let raw: &[u8] = b"YWJj\nZGVm=Z2hp\r\n  amts==bW5vcA\n";
        let whole = decode_base64(raw);
        for cut in 0..=raw.len() {
            for cut2 in cut..=raw.len() {
                let mut d = Base64Decoder::default();
                let mut out = Vec::new();
                d.push(&raw[..cut], &mut out);
                d.push(&raw[cut..cut2], &mut out);
                d.push(&raw[cut2..], &mut out);
                assert_eq!(out, whole, "cuts {cut} {cut2}");
            }
        }
    }

    #[test]
    fn quoted_printable_pieces_decode_like_the_whole() {
        let raw: &[u8] = b"long line with = escapes =3D=3d and   blanks   \t \n\
soft =\nbreak=41=42   =20=\r\nend  \nx=\n=4\n==41 tail   ";
        let whole = {
            let mut out = Vec::new();
            decode_quoted_printable_into(raw, LineBreak::CrLf, &mut out);
            out
        };
        for target in 1..=raw.len() + 1 {
            let mut out = Vec::new();
            let mut rest = raw;
            while !rest.is_empty() {
                let n = quoted_printable_piece_len(rest, target);
                assert!(n > 0 && n <= rest.len(), "target {target}");
                decode_quoted_printable_into(&rest[..n], LineBreak::CrLf, &mut out);
                rest = &rest[n..];
            }
            assert_eq!(out, whole, "target {target}");
        }
        // A line of blanks has no safe cut: the piece runs to its end.
        let blanks = [b' '; 100];
        assert_eq!(quoted_printable_piece_len(&blanks, 10), 100);
    }

    #[test]
    fn transfer_encodings_binary_can_remove() {
        let cases: &[(&[u8], Option<TransferEncoding>)] = &[
            (b"7bit", Some(TransferEncoding::Identity)),
            (b" 8BIT ", Some(TransferEncoding::Identity)),
            (b"Binary", Some(TransferEncoding::Identity)),
            (b"", Some(TransferEncoding::Identity)),
            (b"(only a comment)", Some(TransferEncoding::Identity)),
            (b"(old (nested)) base64", Some(TransferEncoding::Base64)),
            (b"base64 (padded)", Some(TransferEncoding::Base64)),
            (b"Quoted-Printable", Some(TransferEncoding::QuotedPrintable)),
            (b"x-uuencode", None),
            (b"base-64", None),
            (b"7bit8bit", None),
        ];
        for (raw, want) in cases {
            assert_eq!(
                TransferEncoding::known(raw),
                *want,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn transfer_encoding_names() {
        assert_eq!(
            TransferEncoding::from_header_value(b" Base64\n"),
            TransferEncoding::Base64
        );
        assert_eq!(
            TransferEncoding::from_header_value(b"QUOTED-PRINTABLE (comment)"),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(
            TransferEncoding::from_header_value(b"8bit"),
            TransferEncoding::Identity
        );
        assert_eq!(
            TransferEncoding::from_header_value(b"x-uuencode"),
            TransferEncoding::Identity
        );
    }

    #[test]
    fn charsets() {
        assert_eq!(decode_charset(b"caf\xe9", Some("ISO-8859-1")), "café");
        assert_eq!(decode_charset(b"caf\xc3\xa9", Some("utf-8")), "café");
        assert_eq!(decode_charset(b"caf\xc3\xa9", Some("us-ascii")), "café");
        assert_eq!(decode_charset(b"caf\xe9", None), "café");
        assert_eq!(
            decode_charset(b"\x93q\x94", Some("windows-1252")),
            "\u{201c}q\u{201d}"
        );
        assert_eq!(decode_charset(b"\xa4", Some("iso-8859-15")), "€");
        assert_eq!(decode_charset(b"ok\xff", Some("x-bogus")), "ok\u{fffd}");
        assert!(is_utf8_compatible(None));
        assert!(is_utf8_compatible(Some("US-ASCII")));
        assert!(is_utf8_compatible(Some("utf8")));
        assert!(!is_utf8_compatible(Some("iso-8859-1")));
        assert!(!is_utf8_compatible(Some("x-bogus")));
    }

    #[test]
    fn case_insensitive_unicode_matching() {
        let cases: &[(&str, &str, bool)] = &[
            ("Ärger", "viel ärger heute", true),
            ("ärger", "VIEL ÄRGER", true),
            ("ÄRGER", "Ärger", true),
            ("hello", "HeLLo", true),
            ("straße", "STRASSE", false),
            ("Σ", "σ", true),
            ("", "", true),
            ("x", "", false),
            ("abc", "ab", false),
            // CR never matters; LF does.
            ("a\r\nb", "a\nb", true),
            ("a\nb", "a\r\nb", true),
            ("a b", "a\nb", false),
        ];
        for (needle, haystack, want) in cases {
            let n = TextNeedle::new(needle);
            assert_eq!(n.matches_str(haystack), *want, "{needle:?} in {haystack:?}");
            assert_eq!(
                n.matches_ascii_bytes(haystack.as_bytes()),
                *want,
                "bytes: {needle:?} in {haystack:?}"
            );
        }
    }

    #[test]
    fn folds_to_ascii_only_on_the_decoded_path() {
        // The documented approximation of the raw-byte path (see TextNeedle).
        assert!(TextNeedle::new("i").matches_str("İ"));
        assert!(TextNeedle::new("k").matches_str("\u{212a}"));
        assert!(!TextNeedle::new("i").matches_ascii_bytes("İ".as_bytes()));
    }

    #[test]
    fn matches_across_chunk_boundaries() {
        for pad in [
            SCAN_CHUNK_OCTETS - 3,
            SCAN_CHUNK_OCTETS - 1,
            SCAN_CHUNK_OCTETS,
            3 * SCAN_CHUNK_OCTETS - 2,
        ] {
            let ascii = format!("{}NeedLE{}", "x".repeat(pad), "y".repeat(10));
            let n = TextNeedle::new("needle");
            assert!(n.matches_str(&ascii), "ascii pad {pad}");
            assert!(n.matches_ascii_bytes(ascii.as_bytes()), "bytes pad {pad}");
            let wide = format!("{}ÄRGER", "é".repeat(pad / 2));
            assert!(
                TextNeedle::new("ärger").matches_str(&wide),
                "unicode pad {pad}"
            );
            let crs = format!("{}Need\rLE", "\r".repeat(pad));
            assert!(n.matches_ascii_bytes(crs.as_bytes()), "cr pad {pad}");
        }
        let long = "ab".repeat(SCAN_CHUNK_OCTETS);
        assert!(!TextNeedle::new("aa").matches_str(&long));
        assert!(!TextNeedle::new("aa").matches_ascii_bytes(long.as_bytes()));
    }

    #[test]
    fn hostile_sizes() {
        // Many `=?` without a word: left as-is, in linear time.
        let junk = "=?a?q?".repeat(50_000);
        assert_eq!(decode_header_value(junk.as_bytes()), junk);
        // A needle longer than a scan chunk.
        let needle = format!("{}y", "x".repeat(SCAN_CHUNK_OCTETS + 7));
        let hay = format!("{}y", "x".repeat(3 * SCAN_CHUNK_OCTETS));
        assert!(TextNeedle::new(&needle).matches_str(&hay));
        assert!(TextNeedle::new(&needle).matches_ascii_bytes(hay.as_bytes()));
        assert!(!TextNeedle::new(&needle).matches_str(&hay.replace('y', "z")));
    }

    #[test]
    fn ascii_bytes_path_ignores_8bit() {
        let n = TextNeedle::new("menu");
        assert!(n.matches_ascii_bytes(b"caf\xe9 MENU"));
        assert!(!n.matches_ascii_bytes(b"m\xe9nu"));
        // A non-ASCII needle reads the bytes as UTF-8.
        assert!(TextNeedle::new("CAFÉ").matches_ascii_bytes("café".as_bytes()));
    }

    #[test]
    fn body_paths_agree() {
        // The same text, stored four ways; every needle must give one answer.
        let text = "Line one\nLine two\nGrüße aus Köln\n";
        let b64 = b"TGluZSBvbmUNCkxpbmUgdHdvDQpHcsO8w59lIGF1cyBL\nw7Zsbg0K\n";
        let qp_latin1 = b"Line one\nLine =\ntwo\nGr=FC=DFe aus K=F6ln\n";
        let needles: &[(&str, bool)] = &[
            ("line one", true),
            ("ONE\nLINE", true),
            ("one line", false),
            ("GRÜSSE", false),
            ("grüße AUS", true),
            ("köln\n", true),
            ("two\r\ngr", true),
            ("", true),
        ];
        for (needle, want) in needles {
            let n = TextNeedle::new(needle);
            let got = [
                body_text_matches(
                    text.as_bytes(),
                    TransferEncoding::Identity,
                    Some("utf-8"),
                    &n,
                ),
                body_text_matches(text.as_bytes(), TransferEncoding::Identity, None, &n),
                body_text_matches(b64, TransferEncoding::Base64, Some("UTF-8"), &n),
                body_text_matches(
                    qp_latin1,
                    TransferEncoding::QuotedPrintable,
                    Some("iso-8859-1"),
                    &n,
                ),
            ];
            assert_eq!(got, [*want; 4], "{needle:?}");
        }
    }
}
