//! Framing: client bytes → one complete command (line + literals) at a time.
//!
//! Framing comes before parsing so that message boundaries are fixed even when
//! the input is malformed: literal data is never read as a command, and memory
//! stays bounded whatever the client sends. The framer knows only four things
//! of the grammar: lines end in LF (CRLF, or a bare LF from a terminal), a line
//! that ends in `{n}`, `{n+}` or `{n-}` (RFC 3501 §4.3, RFC 7888; `~{n}` is
//! RFC 3516's literal8) announces n octets of literal data that follow, the
//! first word is the tag, and the second says whether it is an APPEND (whose
//! oversized literals are `NO [TOOBIG]`, RFC 7889, not BAD).
//!
//! Input is pushed in arbitrary chunks ([`Framer::push`]); [`Framer::next`]
//! returns `None` when it needs more bytes, which is never an error.
//!
//! Limits: a line longer than `max_line` or a literal larger than
//! `max_literal` is refused. A refused synchronizing literal is simply never
//! requested (RFC 3501 §7.5: the client waits for `+`, gets a tagged BAD and
//! abandons the command). A refused non-synchronizing literal is read and
//! thrown away without buffering, and so is the rest of that command, so the
//! stream stays in step. Under LITERAL- (RFC 7888 §4) a non-synchronizing
//! literal over 4096 octets is refused the same way.

use std::collections::VecDeque;

use memchr::memchr;

/// Bounds on what one command may make us buffer.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest command line (each line between literals), CRLF included.
    pub max_line: usize,
    /// Largest single literal.
    pub max_literal: u64,
    /// Largest whole command (lines plus literals).
    pub max_command: u64,
    /// Largest non-synchronizing literal: [`LITERAL_MINUS_MAX`] when the
    /// server advertises LITERAL- (RFC 7888 §4), `u64::MAX` under LITERAL+
    /// (`max_literal` still applies).
    pub max_nonsync_literal: u64,
}

/// RFC 7888 §4: under LITERAL-, a non-synchronizing literal may hold at most
/// 4096 octets; a larger one is refused with a tagged BAD.
pub const LITERAL_MINUS_MAX: u64 = 4096;

impl Limits {
    /// After login: lines long enough for any real client's UID sets (mbsync sends
    /// long `UID FETCH 1,3,5,...` lists); literals up to the APPEND limit.
    pub const AUTHENTICATED: Limits = Limits {
        max_line: 256 * 1024,
        max_literal: 64 * 1024 * 1024,
        max_command: 64 * 1024 * 1024 + 1024 * 1024,
        max_nonsync_literal: u64::MAX,
    };
    /// Before login nothing legitimate is large (LOGIN, AUTHENTICATE, CAPABILITY).
    pub const NOT_AUTHENTICATED: Limits = Limits {
        max_line: 8 * 1024,
        max_literal: 8 * 1024,
        max_command: 16 * 1024,
        max_nonsync_literal: u64::MAX,
    };
}

/// What the framer produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// One complete command, literals inline, ending in its final line's LF.
    Command(Vec<u8>),
    /// A synchronizing literal was announced and accepted: send `+ ` and flush.
    ContinuationRequest,
    /// The command was refused; answer BAD (tagged when a tag could be read).
    Rejected {
        tag: Option<String>,
        error: FrameError,
    },
}

/// Why a command was refused by the framer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("Command line too long")]
    LineTooLong,
    #[error("Literal too large")]
    LiteralTooLarge,
    #[error("Command too large")]
    CommandTooLarge,
    /// An APPEND whose literal (or whose literals together) exceed the
    /// limits: RFC 7889 wants `NO [TOOBIG]`, and the session goes on.
    #[error("Message larger than the APPENDLIMIT")]
    MessageTooLarge,
    /// A non-synchronizing literal over 4096 octets under LITERAL-
    /// (RFC 7888 §4): tagged BAD; its octets are read and thrown away.
    #[error("Non-synchronizing literal over 4096 octets (LITERAL-); send it synchronizing")]
    NonSyncLiteralTooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reading a command line into `command`.
    Line,
    /// Copying `remaining` literal octets into `command`.
    Literal { remaining: u64 },
    /// Throwing away the rest of a refused command: its current line...
    DiscardLine,
    /// ...or a non-synchronizing literal inside it.
    DiscardLiteral { remaining: u64 },
}

/// Turns a byte stream into commands. See the module doc.
#[derive(Debug)]
pub struct Framer {
    limits: Limits,
    /// Bytes received and not yet framed.
    input: VecDeque<u8>,
    /// The command being assembled. Invariant: never longer than
    /// `limits.max_command` (plus one line's worth while it is checked).
    command: Vec<u8>,
    /// Where the current line starts in `command`.
    line_start: usize,
    mode: Mode,
}

impl Framer {
    pub fn new(limits: Limits) -> Self {
        Framer {
            limits,
            input: VecDeque::new(),
            command: Vec::new(),
            line_start: 0,
            mode: Mode::Line,
        }
    }

    /// Changes the limits (e.g. after login); applies from the next line.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Bytes waiting to be framed (for tests and bounds checks).
    pub fn buffered(&self) -> usize {
        self.input.len() + self.command.len()
    }

    /// Throws away everything received and not yet framed, and any command
    /// half assembled; returns how many octets that was. STARTTLS needs this:
    /// plaintext pipelined after it must never be read as if it came over TLS
    /// (RFC 3501 §6.2.1; the CVE-2011-0411 class of command injection).
    pub fn discard_buffered(&mut self) -> usize {
        let n = self.buffered();
        self.input.clear();
        self.reset();
        n
    }

    /// Takes the octets received and not yet framed; a command half
    /// assembled (none, right after a complete frame) is dropped. COMPRESS
    /// needs this: what follows the command is compressed, for the new layer
    /// to inflate (RFC 4978 §3).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let taken = self.input.drain(..).collect();
        self.reset();
        taken
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.input.extend(bytes);
    }

    /// The next frame, or `None` if more input is needed.
    #[allow(clippy::should_implement_trait)] // not an Iterator: `None` means "not yet"
    pub fn next(&mut self) -> Option<Frame> {
        loop {
            match self.mode {
                Mode::Literal { remaining } => {
                    let n = (remaining as usize).min(self.input.len());
                    if n == 0 {
                        return None;
                    }
                    self.command.extend(self.input.drain(..n));
                    let remaining = remaining - n as u64;
                    if remaining > 0 {
                        self.mode = Mode::Literal { remaining };
                        return None;
                    }
                    self.mode = Mode::Line;
                    self.line_start = self.command.len();
                }
                Mode::DiscardLiteral { remaining } => {
                    let n = (remaining as usize).min(self.input.len());
                    if n == 0 {
                        return None;
                    }
                    self.input.drain(..n);
                    let remaining = remaining - n as u64;
                    self.mode = if remaining > 0 {
                        Mode::DiscardLiteral { remaining }
                    } else {
                        Mode::DiscardLine
                    };
                    if remaining > 0 {
                        return None;
                    }
                }
                Mode::DiscardLine => {
                    let (slice, _) = self.input.as_slices();
                    let lf = memchr(b'\n', slice)
                        .or_else(|| self.input.iter().position(|&b| b == b'\n'));
                    let Some(lf) = lf else {
                        // Keep only a short tail: enough to see a literal announcement.
                        let keep = 32.min(self.input.len());
                        let drop = self.input.len() - keep;
                        self.input.drain(..drop);
                        self.command.clear();
                        self.command.extend(self.input.iter());
                        self.input.clear();
                        // The kept tail is re-examined with the next push.
                        self.input.extend(self.command.drain(..));
                        return None;
                    };
                    let line: Vec<u8> = self.input.drain(..=lf).collect();
                    match literal_announcement(&line) {
                        // A refused command's further sync literal will not be sent
                        // (we never answer `+`); a non-sync one will be.
                        Some((n, Sync::NonSynchronizing)) => {
                            self.mode = Mode::DiscardLiteral { remaining: n }
                        }
                        _ => self.reset(),
                    }
                }
                Mode::Line => {
                    let lf = self.input.iter().position(|&b| b == b'\n');
                    let Some(lf) = lf else {
                        let line_len = self.command.len() - self.line_start + self.input.len();
                        if line_len > self.limits.max_line {
                            return Some(self.refuse(FrameError::LineTooLong, None));
                        }
                        return None;
                    };
                    if self.command.len() - self.line_start + lf + 1 > self.limits.max_line {
                        self.command.extend(self.input.drain(..=lf));
                        let tag = self.tag();
                        self.reset();
                        return Some(Frame::Rejected {
                            tag,
                            error: FrameError::LineTooLong,
                        });
                    }
                    self.command.extend(self.input.drain(..=lf));
                    let line = self.command.get(self.line_start..).unwrap_or(&[]);
                    let Some((n, sync)) = literal_announcement(line) else {
                        let done = std::mem::take(&mut self.command);
                        self.reset();
                        return Some(Frame::Command(done));
                    };
                    let total = self.command.len() as u64 + n;
                    let error = if n > self.limits.max_literal {
                        Some(FrameError::LiteralTooLarge)
                    } else if total > self.limits.max_command {
                        Some(FrameError::CommandTooLarge)
                    } else if sync == Sync::NonSynchronizing && n > self.limits.max_nonsync_literal
                    {
                        Some(FrameError::NonSyncLiteralTooLarge)
                    } else {
                        None
                    };
                    // RFC 7889: an APPEND too large for us is NO [TOOBIG].
                    let error = match error {
                        Some(FrameError::LiteralTooLarge | FrameError::CommandTooLarge)
                            if is_append(&self.command) =>
                        {
                            Some(FrameError::MessageTooLarge)
                        }
                        other => other,
                    };
                    if let Some(error) = error {
                        let tag = self.tag();
                        self.command.clear();
                        self.mode = match sync {
                            Sync::Synchronizing => Mode::Line,
                            Sync::NonSynchronizing => Mode::DiscardLiteral { remaining: n },
                        };
                        if sync == Sync::Synchronizing {
                            self.reset();
                        }
                        return Some(Frame::Rejected { tag, error });
                    }
                    self.mode = Mode::Literal { remaining: n };
                    if n == 0 {
                        // `{0}`: nothing to wait for; loop to continue the line.
                        self.mode = Mode::Line;
                        self.line_start = self.command.len();
                    }
                    if sync == Sync::Synchronizing {
                        return Some(Frame::ContinuationRequest);
                    }
                }
            }
        }
    }

    /// Refuses the command being read: report, then discard to the end of its line.
    fn refuse(&mut self, error: FrameError, tag: Option<String>) -> Frame {
        let tag = tag.or_else(|| self.tag_with_input());
        self.command.clear();
        self.line_start = 0;
        self.mode = Mode::DiscardLine;
        Frame::Rejected { tag, error }
    }

    fn reset(&mut self) {
        self.command.clear();
        self.line_start = 0;
        self.mode = Mode::Line;
    }

    /// The tag of the command being assembled, if its first word is a valid tag.
    fn tag(&self) -> Option<String> {
        tag_of(&self.command)
    }

    fn tag_with_input(&self) -> Option<String> {
        if !self.command.is_empty() {
            return self.tag();
        }
        let head: Vec<u8> = self.input.iter().take(128).copied().collect();
        tag_of(&head)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sync {
    Synchronizing,
    NonSynchronizing,
}

/// If `line` (ending in LF) ends with a literal announcement, its size and kind.
/// `literal = "{" number ["+" / "-"] "}" CRLF` (RFC 3501 §9, RFC 7888); `~{n}` is
/// literal8 (RFC 3516) and frames the same way.
fn literal_announcement(line: &[u8]) -> Option<(u64, Sync)> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let spec = inner.get(open + 1..)?;
    let (digits, sync) = match spec.last()? {
        b'+' | b'-' => (spec.get(..spec.len() - 1)?, Sync::NonSynchronizing),
        _ => (spec, Sync::Synchronizing),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some((n, sync))
}

/// Whether the command being assembled is an APPEND: `tag SP "APPEND" SP`.
fn is_append(command: &[u8]) -> bool {
    let Some(space) = command.iter().position(|&b| b == b' ') else {
        return false;
    };
    command
        .get(space + 1..space + 8)
        .is_some_and(|word| word.eq_ignore_ascii_case(b"APPEND "))
}

/// The first word of a command if it is a valid tag (RFC 3501 `tag`).
fn tag_of(bytes: &[u8]) -> Option<String> {
    let end = bytes
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')?;
    let tag = bytes.get(..end)?;
    let valid = !tag.is_empty()
        && tag
            .iter()
            .all(|&b| crate::response::writer::is_astring_char(b) && b != b'+');
    valid.then(|| String::from_utf8_lossy(tag).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(limits: Limits, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = Framer::new(limits);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c);
            while let Some(x) = f.next() {
                out.push(x);
            }
        }
        out
    }

    fn cmd(b: &[u8]) -> Frame {
        Frame::Command(b.to_vec())
    }

    #[test]
    fn lines_and_literals_whole_or_split_at_every_byte() {
        let input: &[u8] = b"a1 NOOP\r\na2 LOGIN {5}\r\nalice {3+}\r\npwd\r\na3 LOGOUT\n";
        let expected = vec![
            cmd(b"a1 NOOP\r\n"),
            Frame::ContinuationRequest,
            cmd(b"a2 LOGIN {5}\r\nalice {3+}\r\npwd\r\n"),
            cmd(b"a3 LOGOUT\n"),
        ];
        assert_eq!(frames(Limits::AUTHENTICATED, &[input]), expected);
        for split in 0..input.len() {
            let (x, y) = input.split_at(split);
            assert_eq!(
                frames(Limits::AUTHENTICATED, &[x, y]),
                expected,
                "split at {split}"
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(frames(Limits::AUTHENTICATED, &bytes), expected);
    }

    #[test]
    fn literal_data_is_never_read_as_a_command() {
        let out = frames(
            Limits::AUTHENTICATED,
            &[b"a APPEND x {11+}\r\nb LOGOUT\r\n\r\n"],
        );
        assert_eq!(out, vec![cmd(b"a APPEND x {11+}\r\nb LOGOUT\r\n\r\n")]);
    }

    #[test]
    fn overlong_line_refused_with_bounded_memory() {
        let limits = Limits {
            max_line: 100,
            max_literal: 10,
            max_command: 200,
            max_nonsync_literal: u64::MAX,
        };
        let mut f = Framer::new(limits);
        f.push(b"t1 NOOP ");
        let mut refused = 0;
        for _ in 0..10_000 {
            f.push(&[b'x'; 100]);
            while let Some(fr) = f.next() {
                assert_eq!(
                    fr,
                    Frame::Rejected {
                        tag: Some("t1".into()),
                        error: FrameError::LineTooLong
                    }
                );
                refused += 1;
            }
            assert!(f.buffered() < 400, "buffered {}", f.buffered());
        }
        assert_eq!(refused, 1);
        f.push(b"\r\nt2 NOOP\r\n");
        assert_eq!(f.next(), Some(cmd(b"t2 NOOP\r\n")));
    }

    #[test]
    fn oversized_literals() {
        let limits = Limits {
            max_line: 100,
            max_literal: 10,
            max_command: 200,
            max_nonsync_literal: u64::MAX,
        };
        // Synchronizing: refused, no continuation, the next line is a new command.
        let out = frames(limits, &[b"a LOGIN x {999}\r\n", b"b NOOP\r\n"]);
        assert_eq!(
            out,
            vec![
                Frame::Rejected {
                    tag: Some("a".into()),
                    error: FrameError::LiteralTooLarge
                },
                cmd(b"b NOOP\r\n"),
            ]
        );
        // Non-synchronizing: its data is skipped, then the rest of the command.
        let mut data = b"a LOGIN x {50+}\r\n".to_vec();
        data.extend([b'z'; 50]);
        data.extend(b" more\r\nb NOOP\r\n");
        let out = frames(limits, &[&data]);
        assert_eq!(
            out,
            vec![
                Frame::Rejected {
                    tag: Some("a".into()),
                    error: FrameError::LiteralTooLarge
                },
                cmd(b"b NOOP\r\n"),
            ]
        );
    }

    /// Every way of cutting `input` in two gives the same frames as whole.
    fn same_when_split(limits: Limits, input: &[u8], expected: &[Frame]) {
        assert_eq!(frames(limits, &[input]), expected);
        for split in 0..input.len() {
            let (x, y) = input.split_at(split);
            assert_eq!(frames(limits, &[x, y]), expected, "split at {split}");
        }
    }

    const SMALL: Limits = Limits {
        max_line: 100,
        max_literal: 10,
        max_command: 30,
        max_nonsync_literal: u64::MAX,
    };

    #[test]
    fn oversized_append_is_toobig_and_the_stream_stays_in_step() {
        let toobig = |tag: &str| Frame::Rejected {
            tag: Some(tag.into()),
            error: FrameError::MessageTooLarge,
        };
        // RFC 7889: refused before the `+`; the client sends no data.
        same_when_split(
            SMALL,
            b"a append x {11}\r\nb NOOP\r\n",
            &[toobig("a"), cmd(b"b NOOP\r\n")],
        );
        // LITERAL+: the octets are read and thrown away.
        let mut data = b"a APPEND x {11+}\r\n".to_vec();
        data.extend([b'{'; 11]);
        data.extend(b"\r\nb NOOP\r\n");
        same_when_split(SMALL, &data, &[toobig("a"), cmd(b"b NOOP\r\n")]);
        // MULTIAPPEND: the second message is too large; the first one's
        // octets are dropped with it, and so is a third non-sync literal.
        let mut data = b"a APPEND x {3}\r\nabc ~{11+}\r\n".to_vec();
        data.extend([b'x'; 11]);
        data.extend(b" {2+}\r\n}\n\r\nb NOOP\r\n");
        same_when_split(
            SMALL,
            &data,
            &[Frame::ContinuationRequest, toobig("a"), cmd(b"b NOOP\r\n")],
        );
        // Literals that fit one by one but not together (max_command).
        same_when_split(
            SMALL,
            b"a APPEND x {10+}\r\n0123456789 {10}\r\nb NOOP\r\n",
            &[toobig("a"), cmd(b"b NOOP\r\n")],
        );
        // Not an APPEND: the literal is just too large (BAD).
        same_when_split(
            SMALL,
            b"a APPENDX x {11}\r\nb NOOP\r\n",
            &[
                Frame::Rejected {
                    tag: Some("a".into()),
                    error: FrameError::LiteralTooLarge,
                },
                cmd(b"b NOOP\r\n"),
            ],
        );
    }

    #[test]
    fn literal_minus_refuses_large_nonsync_literals() {
        let limits = Limits {
            max_nonsync_literal: LITERAL_MINUS_MAX,
            ..Limits::AUTHENTICATED
        };
        // 4096 octets are fine without a round trip.
        let mut ok = b"a APPEND x {4096+}\r\n".to_vec();
        ok.extend([b'y'; 4096]);
        ok.extend(b"\r\n");
        assert_eq!(frames(limits, &[&ok]), [Frame::Command(ok.clone())]);
        // 4097: tagged BAD, the octets skipped (they may look like commands).
        let mut data = b"a APPEND x {4097+}\r\n".to_vec();
        data.extend(b"c LOGOUT\r\n".iter().cycle().take(4097));
        data.extend(b"\r\nb NOOP\r\n");
        let expected = [
            Frame::Rejected {
                tag: Some("a".into()),
                error: FrameError::NonSyncLiteralTooLarge,
            },
            cmd(b"b NOOP\r\n"),
        ];
        assert_eq!(frames(limits, &[&data]), expected);
        let chunks: Vec<&[u8]> = data.chunks(100).collect();
        assert_eq!(frames(limits, &chunks), expected);
        // The same size synchronizing is asked for as usual.
        assert_eq!(
            frames(limits, &[b"a APPEND x {5000}\r\n"]),
            [Frame::ContinuationRequest]
        );
        // LITERAL+ (the default) takes it.
        assert_eq!(frames(Limits::AUTHENTICATED, &[&ok]), [Frame::Command(ok)]);
    }

    /// RFC 3516 `literal8` (`~{n}`, `~{n+}`) frames like a literal; its
    /// octets may be anything, NUL and braces included.
    #[test]
    fn literal8_frames_like_a_literal() {
        let input: &[u8] = b"a APPEND x ~{6}\r\n\x00{1}\r\n ~{2+}\r\n\x00\n\r\nb NOOP\r\n";
        same_when_split(
            Limits::AUTHENTICATED,
            input,
            &[
                Frame::ContinuationRequest,
                cmd(b"a APPEND x ~{6}\r\n\x00{1}\r\n ~{2+}\r\n\x00\n\r\n"),
                cmd(b"b NOOP\r\n"),
            ],
        );
    }

    #[test]
    fn untagged_garbage_is_refused_without_tag() {
        let limits = Limits {
            max_line: 10,
            max_literal: 10,
            max_command: 20,
            max_nonsync_literal: u64::MAX,
        };
        let out = frames(limits, &[b"(((((((((((((((((((\r\nx NOOP\r\n"]);
        assert_eq!(
            out,
            vec![
                Frame::Rejected {
                    tag: None,
                    error: FrameError::LineTooLong
                },
                cmd(b"x NOOP\r\n"),
            ]
        );
    }

    #[test]
    fn announcement_forms() {
        assert_eq!(
            literal_announcement(b"a {5}\r\n"),
            Some((5, Sync::Synchronizing))
        );
        assert_eq!(
            literal_announcement(b"a {5+}\n"),
            Some((5, Sync::NonSynchronizing))
        );
        assert_eq!(
            literal_announcement(b"a ~{5-}\r\n"),
            Some((5, Sync::NonSynchronizing))
        );
        assert_eq!(literal_announcement(b"a {}\r\n"), None);
        assert_eq!(literal_announcement(b"a {x}\r\n"), None);
        assert_eq!(literal_announcement(b"a {99999999999999999999}\r\n"), None);
    }

    #[test]
    fn take_buffered_hands_over_what_follows_the_frame() {
        let mut f = Framer::new(Limits::AUTHENTICATED);
        f.push(b"a COMPRESS DEFLATE\r\n\xd3\x52\x70\x00");
        assert_eq!(
            f.next(),
            Some(Frame::Command(b"a COMPRESS DEFLATE\r\n".to_vec()))
        );
        assert_eq!(f.take_buffered(), b"\xd3\x52\x70\x00");
        assert_eq!(f.buffered(), 0);
        assert_eq!(f.next(), None);
        f.push(b"b NOOP\r\n");
        assert_eq!(f.next(), Some(Frame::Command(b"b NOOP\r\n".to_vec())));
    }
}
