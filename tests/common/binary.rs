//! RFC 3516 BINARY items in FETCH responses, which imap-codec 1.0 has no grammar
//! for. [`rewrite_binary_items`] checks each item against RFC 3516 §6 itself and
//! rewrites it to its RFC 3501 look-alike, so imap-codec still checks the rest of
//! the response:
//!
//! ```text
//! msg-att-body-part =/ "BINARY" section-binary ["<" number ">"] SP (nstring / literal8)
//!                    / "BINARY.SIZE" section-binary SP number
//! section-binary    = "[" [section-part] "]"
//! literal8          = "~{" number "}" CRLF *OCTET
//! ```
//!
//! `BINARY[s]<o> ~{n}` becomes `BODY[s]<o> {n}` (NUL, which only a literal8 may
//! carry, as 0x80) and `BINARY.SIZE[s] n` becomes `RFC822.SIZE n`. A literal8
//! anywhere else, or a NUL in an ordinary literal, is an error.

/// `Ok(None)`: not a FETCH response with a BINARY item, check it as it is;
/// `Ok(Some(bytes))`: every BINARY item was well-formed, check `bytes` instead;
/// `Err`: a malformed BINARY item or a misplaced literal8.
pub fn rewrite_binary_items(raw: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let bad = |why: &str| format!("{why}: {:?}", String::from_utf8_lossy(raw));
    let Some(start) = fetch_items_start(raw) else {
        return Ok(None);
    };
    let mut out = raw[..start].to_vec();
    let mut pos = start;
    let mut depth = 1usize;
    let mut rewrote = false;
    while pos < raw.len() {
        let rest = &raw[pos..];
        let item_start = depth == 1 && matches!(raw[pos - 1], b'(' | b' ');
        if item_start && rest.starts_with(b"BINARY.SIZE[") {
            let (_, after) =
                section_binary(raw, pos + 11).ok_or_else(|| bad("bad section-binary"))?;
            let digits = raw
                .get(after..)
                .and_then(|r| r.strip_prefix(b" "))
                .map(|r| r.iter().take_while(|b| b.is_ascii_digit()).count())
                .filter(|&n| n > 0)
                .ok_or_else(|| bad("BINARY.SIZE without a number"))?;
            out.extend_from_slice(b"RFC822.SIZE ");
            out.extend_from_slice(&raw[after + 1..after + 1 + digits]);
            pos = after + 1 + digits;
            rewrote = true;
            continue;
        }
        if item_start && rest.starts_with(b"BINARY[") {
            let (section, mut after) =
                section_binary(raw, pos + 6).ok_or_else(|| bad("bad section-binary"))?;
            out.extend_from_slice(b"BODY[");
            out.extend_from_slice(section);
            out.extend_from_slice(b"]");
            if raw.get(after) == Some(&b'<') {
                let digits = raw[after + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits == 0 || raw.get(after + 1 + digits) != Some(&b'>') {
                    return Err(bad("bad BINARY origin"));
                }
                out.extend_from_slice(&raw[after..after + 2 + digits]);
                after += 2 + digits;
            }
            if raw.get(after) != Some(&b' ') {
                return Err(bad("BINARY without a value"));
            }
            out.push(b' ');
            pos = after + 1;
            match raw.get(pos) {
                Some(b'~') => {
                    let (n, data) = literal(raw, pos + 1).ok_or_else(|| bad("bad literal8"))?;
                    let data = &raw[data..data + n];
                    out.extend_from_slice(format!("{{{n}}}\r\n").as_bytes());
                    out.extend(data.iter().map(|&b| if b == 0 { 0x80 } else { b }));
                    pos += 1 + format!("{{{n}}}\r\n").len() + n;
                }
                Some(b'{' | b'"' | b'N') => {}
                _ => return Err(bad("BINARY value is not nstring or literal8")),
            }
            rewrote = true;
            continue;
        }
        match raw[pos] {
            b'"' => {
                let end = quoted_end(raw, pos).ok_or_else(|| bad("unterminated quoted"))?;
                out.extend_from_slice(&raw[pos..end]);
                pos = end;
            }
            b'{' => {
                let (n, data) = literal(raw, pos).ok_or_else(|| bad("bad literal"))?;
                if raw[data..data + n].contains(&0) {
                    return Err(bad("NUL in a literal"));
                }
                out.extend_from_slice(&raw[pos..data + n]);
                pos = data + n;
            }
            b'~' if raw.get(pos + 1) == Some(&b'{') => {
                return Err(bad("literal8 outside a BINARY item"));
            }
            b => {
                match b {
                    b'(' => depth += 1,
                    b')' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                out.push(b);
                pos += 1;
            }
        }
    }
    Ok(rewrote.then_some(out))
}

/// After `* n FETCH (`, or `None` for any other response.
fn fetch_items_start(raw: &[u8]) -> Option<usize> {
    let rest = raw.strip_prefix(b"* ")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    rest[digits..]
        .starts_with(b" FETCH (")
        .then_some(2 + digits + 8)
        .filter(|_| digits > 0)
}

/// `"[" [section-part] "]"` at `at`: the part path and the index after `]`.
fn section_binary(raw: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let inner = raw.get(at..)?.strip_prefix(b"[")?;
    let len = inner.iter().position(|&b| b == b']')?;
    let section = &inner[..len];
    let valid = section.is_empty()
        || section
            .split(|&b| b == b'.')
            .all(|n| !n.is_empty() && n[0] != b'0' && n.iter().all(u8::is_ascii_digit));
    valid.then_some((section, at + 1 + len + 1))
}

/// `{n}` CRLF at `at`: `n` and where the data starts (`n` octets must follow).
fn literal(raw: &[u8], at: usize) -> Option<(usize, usize)> {
    let inner = raw.get(at..)?.strip_prefix(b"{")?;
    let digits = inner.iter().take_while(|b| b.is_ascii_digit()).count();
    let n: usize = std::str::from_utf8(&inner[..digits]).ok()?.parse().ok()?;
    inner[digits..].strip_prefix(b"}\r\n")?;
    let data = at + 1 + digits + 3;
    (raw.len() >= data + n).then_some((n, data))
}

/// The index after the quoted string that starts at `at`.
fn quoted_end(raw: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    while i < raw.len() {
        match raw[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}
