//! Mailbox names: modified UTF-7 (RFC 3501 §5.1.3) and LIST patterns
//! (RFC 3501 §6.3.8).
//!
//! On the wire, and on disk (as UW imapd and Dovecot store them), a name is
//! 7-bit: printable ASCII stands for itself except `&`, which is written `&-`,
//! and every other character is a run of UTF-16 in modified base64
//! (`,` instead of `/`, no padding) between `&` and `-`. We keep names in that
//! form everywhere and decode only to validate them and for logs, so the name a
//! client sends is the file name UW created.

/// The modified-base64 alphabet (RFC 3501 §5.1.3: RFC 2152's with `,` for `/`).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("8-bit or control character at byte {0}")]
    Not7Bit(usize),
    #[error("unterminated &... sequence")]
    Unterminated,
    #[error("invalid modified base64 at byte {0}")]
    BadBase64(usize),
    #[error("not the canonical encoding")]
    NotCanonical,
}

/// Decodes a modified UTF-7 name to Unicode, rejecting anything a conforming
/// encoder would not produce (so that each name has exactly one spelling).
pub fn decode(name: &[u8]) -> Result<String, NameError> {
    let mut out = String::new();
    let mut i = 0;
    while let Some(&b) = name.get(i) {
        if !(0x20..0x7f).contains(&b) {
            return Err(NameError::Not7Bit(i));
        }
        if b != b'&' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let start = i + 1;
        let len = name
            .get(start..)
            .and_then(|r| r.iter().position(|&c| c == b'-'))
            .ok_or(NameError::Unterminated)?;
        let run = name.get(start..start + len).unwrap_or(&[]);
        i = start + len + 1;
        if run.is_empty() {
            out.push('&');
            continue;
        }
        let units = decode_base64_utf16(run, start)?;
        let text = char::decode_utf16(units.iter().copied())
            .collect::<Result<String, _>>()
            .map_err(|_| NameError::BadBase64(start))?;
        // A shifted run must not encode printable ASCII (it would have a shorter form).
        if text.chars().any(|c| (' '..='~').contains(&c)) {
            return Err(NameError::NotCanonical);
        }
        out.push_str(&text);
    }
    if encode(&out).as_bytes() != name {
        return Err(NameError::NotCanonical);
    }
    Ok(out)
}

/// Encodes Unicode as modified UTF-7.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    for c in text.chars() {
        if (' '..='~').contains(&c) {
            flush_base64(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush_base64(&mut pending, &mut out);
    out
}

fn flush_base64(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = chunk.len() + 1; // 1 byte -> 2 chars, 2 -> 3, 3 -> 4
        for k in 0..sextets {
            let idx = ((n >> (18 - 6 * k)) & 0x3f) as usize;
            out.push(char::from(ALPHABET[idx]));
        }
    }
    out.push('-');
    units.clear();
}

fn decode_base64_utf16(run: &[u8], at: usize) -> Result<Vec<u16>, NameError> {
    let mut bits = 0u32;
    let mut nbits = 0u32;
    let mut bytes = Vec::new();
    for (k, &c) in run.iter().enumerate() {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or(NameError::BadBase64(at + k))? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    // Leftover bits must be zero padding, and the bytes must make whole UTF-16 units.
    if bits != 0 || bytes.len() % 2 != 0 {
        return Err(NameError::BadBase64(at));
    }
    Ok(bytes
        .chunks(2)
        .map(|p| u16::from_be_bytes([p[0], p.get(1).copied().unwrap_or(0)]))
        .collect())
}

/// Whether `name` matches the LIST pattern `pattern` (RFC 3501 §6.3.8): `*`
/// matches anything, `%` anything but the hierarchy delimiter `/`. Other
/// characters match themselves, except that a leading `INBOX` is matched
/// case-insensitively on both sides.
pub fn list_matches(pattern: &[u8], name: &[u8]) -> bool {
    let fold = |s: &[u8]| -> Vec<u8> {
        if s.len() >= 5 && s[..5].eq_ignore_ascii_case(b"INBOX") && (s.len() == 5 || s[5] == b'/') {
            let mut v = b"INBOX".to_vec();
            v.extend_from_slice(&s[5..]);
            v
        } else {
            s.to_vec()
        }
    };
    wildcard(&fold(pattern), &fold(name))
}

/// [`list_matches`] with the pattern as the client spells it: with `utf8`
/// (IMAP4rev2, RFC 9051 §5.1) the pattern is UTF-8, and the stored name is
/// decoded before it is matched, so that a wildcard stands for characters,
/// not for pieces of a modified-base64 run.
pub fn list_matches_in(pattern: &[u8], name: &[u8], utf8: bool) -> bool {
    match decode(name) {
        Ok(text) if utf8 => list_matches(pattern, text.as_bytes()),
        _ => list_matches(pattern, name),
    }
}

/// The stored (modified UTF-7) form of a name or a pattern's wildcard-free
/// part as the client spells it: unchanged without `utf8`, else encoded.
/// Bytes that are not UTF-8 (the session refuses those) are left as they are.
pub fn stored_form(text: &[u8], utf8: bool) -> std::borrow::Cow<'_, [u8]> {
    match std::str::from_utf8(text) {
        Ok(t) if utf8 => std::borrow::Cow::Owned(encode(t).into_bytes()),
        _ => std::borrow::Cow::Borrowed(text),
    }
}

/// Iterative wildcard match with backtracking to the last `*` or `%`
/// (linear in practice, bounded by len(pattern) * len(name)).
fn wildcard(p: &[u8], s: &[u8]) -> bool {
    // Each star position: (pattern index after it, string index it resumes at, is '%').
    let mut stack: Vec<(usize, usize, bool)> = Vec::new();
    let (mut pi, mut si) = (0usize, 0usize);
    loop {
        if let Some(&pc) = p.get(pi) {
            if pc == b'*' || pc == b'%' {
                stack.push((pi + 1, si, pc == b'%'));
                pi += 1;
                continue;
            }
            if s.get(si) == Some(&pc) {
                pi += 1;
                si += 1;
                continue;
            }
        } else if si == s.len() {
            return true;
        }
        // Mismatch: let the most recent wildcard swallow one more byte.
        loop {
            let Some(&mut (after, ref mut from, percent)) = stack.last_mut() else {
                return false;
            };
            match s.get(*from) {
                Some(&c) if !(percent && c == b'/') => {
                    *from += 1;
                    pi = after;
                    si = *from;
                    break;
                }
                _ => {
                    stack.pop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example_and_round_trips() {
        // RFC 3501 §5.1.3: "~peter/mail/台北/日本語".
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), name);
        for s in [
            "Entwürfe",
            "&",
            "a&b",
            "Ä",
            "😀 smile",
            "Über/Straße",
            "plain",
        ] {
            assert_eq!(decode(encode(s).as_bytes()).unwrap(), s, "{s}");
        }
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
    }

    #[test]
    fn invalid_names_are_rejected() {
        for bad in [
            &b"&"[..],
            b"&Jjo",
            b"&Jjo!-",
            b"caf\xc3\xa9",
            b"&AGE-",
            b"&U,BTFw-&ZeVnLIqe-",
            b"a\x01",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn list_patterns() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"*", b"a/b/c", true),
            (b"%", b"a/b", false),
            (b"%", b"a", true),
            (b"a/%", b"a/b", true),
            (b"a/%", b"a/b/c", false),
            (b"a*c", b"abbbc", true),
            (b"a%c", b"ab/c", false),
            (b"inbox", b"INBOX", true),
            (b"Inbox/*", b"INBOX/x", true),
            (b"inboxes", b"INBOXES", false),
            (
                b"*x*y*z",
                b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                false,
            ),
        ];
        for (p, n, want) in cases {
            assert_eq!(
                list_matches(p, n),
                *want,
                "{:?} vs {:?}",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(n)
            );
        }
    }
}
