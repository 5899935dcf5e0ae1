//! The base subject of RFC 5256 §2.1, which SORT SUBJECT compares and both
//! threading algorithms group by.
//!
//! The grammar (RFC 5256 §5):
//!
//! ```text
//! subj-trailer = "(fwd)" / WSP
//! subj-blob    = "[" *BLOBCHAR "]" *WSP          ; BLOBCHAR: any CHAR but "[" "]"
//! subj-refwd   = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
//! subj-leader  = (*subj-blob subj-refwd) / WSP
//! subj-fwd     = "[fwd:" subject "]"
//! ```
//!
//! The steps: decode RFC 2047 words and turn every run of whitespace into one
//! space (1); strip trailers (2); strip leaders and then a blob that does not
//! leave the subject empty, until neither applies (3–5); unwrap a
//! `[fwd: ...]` and start again at (2) (6). All matching is
//! case-insensitive. The result is compared with i;unicode-casemap
//! (RFC 5051), for which this keeps the folded form ([`casemap`]).
//!
//! Whether a step removed a `re:`/`fwd:` leader, a `(fwd)` trailer or a
//! `[fwd: ]` wrapper is kept too: THREAD=REFERENCES (§4 step 5) prefers a
//! message that is not a reply when it merges threads by subject.

use super::decode::decode_header_value;

/// A message's base subject, ready to compare.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BaseSubject {
    /// The base subject, upper-cased (the comparison form).
    pub key: String,
    /// Whether the subject marked a reply or a forward (`Re:`, `Fwd:`,
    /// `(fwd)`, `[fwd: ...]`).
    pub is_reply: bool,
}

/// The base subject of a raw (undecoded, possibly folded) Subject value.
pub fn base_subject(raw: &[u8]) -> BaseSubject {
    let decoded = decode_header_value(raw);
    base_of_text(&decoded)
}

/// Steps 2–6 on already decoded text (step 1's whitespace folding included).
pub fn base_of_text(text: &str) -> BaseSubject {
    let mut s = collapse_whitespace(text);
    let mut is_reply = false;
    loop {
        // (2) trailers.
        loop {
            let trimmed = s.trim_end_matches([' ', '\t']);
            let cut = if ends_with_ignore_case(trimmed, "(fwd)") {
                is_reply = true;
                trimmed.len() - "(fwd)".len()
            } else {
                trimmed.len()
            };
            if cut == s.len() {
                break;
            }
            s.truncate(cut);
        }
        // (3)-(5) leaders and blobs.
        loop {
            let mut changed = false;
            while let Some(rest) = strip_leader(&s, &mut is_reply) {
                s = rest.to_string();
                changed = true;
            }
            if let Some(rest) = strip_blob(&s)
                && !rest.is_empty()
            {
                s = rest.to_string();
                changed = true;
            }
            if !changed {
                break;
            }
        }
        // (6) `[fwd: ... ]`.
        if starts_with_ignore_case(&s, "[fwd:") && s.ends_with(']') {
            s = s
                .get("[fwd:".len()..s.len() - 1)
                .unwrap_or_default()
                .to_string();
            is_reply = true;
            continue;
        }
        break;
    }
    BaseSubject {
        key: casemap(&s),
        is_reply,
    }
}

/// RFC 5051 i;unicode-casemap's compared form: each character's titlecase
/// mapping, then NFKD; the results compare as UTF-8 octets. Rust has no
/// titlecase table; uppercase differs from it only for the four Latin
/// digraph letters (ǅ ǈ ǋ ǲ), which fold to the same key either way within
/// one comparison, so the order is unaffected in practice.
pub fn casemap(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.chars().flat_map(char::to_uppercase).nfkd().collect()
}

/// Step 1's second half: tabs and runs of whitespace become one space;
/// leading and trailing whitespace goes (the leader/trailer rules would
/// remove it anyway).
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split([' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// One `subj-leader` at the start of `s`, if there is one: the text after it.
fn strip_leader<'s>(s: &'s str, is_reply: &mut bool) -> Option<&'s str> {
    if let Some(rest) = s.strip_prefix([' ', '\t']) {
        return Some(rest);
    }
    // *subj-blob subj-refwd
    let mut rest = s;
    while let Some(after) = strip_blob(rest) {
        rest = after;
    }
    let after_refwd = strip_refwd(rest)?;
    *is_reply = true;
    Some(after_refwd)
}

/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`
fn strip_refwd(s: &str) -> Option<&str> {
    let rest = if starts_with_ignore_case(s, "re") {
        s.get(2..)?
    } else if starts_with_ignore_case(s, "fwd") {
        s.get(3..)?
    } else if starts_with_ignore_case(s, "fw") {
        s.get(2..)?
    } else {
        return None;
    };
    let rest = rest.trim_start_matches([' ', '\t']);
    let rest = strip_blob(rest).unwrap_or(rest);
    rest.strip_prefix(':')
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP` at the start of `s`.
fn strip_blob(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('[')?;
    let close = inner.find([']', '['])?;
    if !inner[close..].starts_with(']') {
        return None;
    }
    Some(inner.get(close + 1..)?.trim_start_matches([' ', '\t']))
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len()
        .checked_sub(suffix.len())
        .and_then(|at| s.get(at..))
        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> String {
        base_subject(raw.as_bytes()).key
    }

    #[test]
    fn leaders_trailers_and_blobs() {
        // imaptest's sort-subject fixture, every subject in it.
        let cases = [
            ("a", "A"),
            ("C", "C"),
            ("_", "_"),
            ("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "B"),
            ("b (a)", "B (A)"),
            ("Re: [FWD: c]", "C"),
            ("[xyz]", "[XYZ]"),
            ("=?iso-8859-1?q?_?=", ""),
            ("Re: =?utf-8?q?b?=", "B"),
            ("=?iso-8859-1?q?RE:_C?=", "C"),
            ("=?us-ascii?b?UmU6IGM=?=", "C"),
            ("Ad: Re: Ad: Re: Ad: x", "AD: RE: AD: RE: AD: X"),
            ("re: [fwd: [fwd: re: [fwd: babylon]]]", "BABYLON"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(key(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn refwd_forms() {
        assert_eq!(key("Re[2]: hello"), "HELLO");
        assert_eq!(key("RE  : hello"), "HELLO");
        assert_eq!(key("Fw: hello"), "HELLO");
        assert_eq!(key("FWD:hello"), "HELLO");
        // Not a leader: no colon, or another word.
        assert_eq!(key("Reply: hello"), "REPLY: HELLO");
        assert_eq!(key("Re hello"), "RE HELLO");
        // A blob that would leave nothing stays.
        assert_eq!(key("[list] "), "[LIST]");
        assert_eq!(key("[list] Re: [list] topic"), "TOPIC");
        // Unbalanced brackets are text.
        assert_eq!(key("[a [b] c"), "[A [B] C");
    }

    #[test]
    fn whitespace_folds() {
        assert_eq!(key("  many\t\tspaces \r\n here  "), "MANY SPACES HERE");
        assert_eq!(key("Re:\r\n folded"), "FOLDED");
    }

    #[test]
    fn reply_marks() {
        assert!(!base_subject(b"hello").is_reply);
        assert!(base_subject(b"Re: hello").is_reply);
        assert!(base_subject(b"hello (fwd)").is_reply);
        assert!(base_subject(b"[fwd: hello]").is_reply);
        assert!(!base_subject(b"[list] hello").is_reply);
    }

    #[test]
    fn unicode_casemap() {
        // Upper-cased and decomposed: É is E + U+0301.
        assert_eq!(key("=?utf-8?q?Re:_=C3=A9t=C3=A9?="), "E\u{301}TE\u{301}");
        // So François sorts before Frank, as with Dovecot.
        assert!(casemap("François") < casemap("Frank"));
        // Compatibility forms fold too: the ligature ﬁ is F I.
        assert_eq!(casemap("\u{fb01}le"), "FILE");
    }
}
