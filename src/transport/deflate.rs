//! COMPRESS=DEFLATE (RFC 4978): raw DEFLATE (RFC 1951: no zlib or gzip
//! header) in both directions, one more layer of the client's stream, inside
//! TLS when TLS is active (RFC 4978 §3: first TLS, then COMPRESS).
//!
//! The hard parts:
//! - **Latency.** A compressor holds what it is given until a block is worth
//!   emitting, so the client would wait for a response the server has
//!   "sent". Every [`Deflate::flush`] (the end of a command's responses, a
//!   `+ ` continuation, each IDLE push: every `ResponseWriter::flush`) is a
//!   sync flush (Z_SYNC_FLUSH): all input so far goes out, followed by an
//!   empty stored block that ends on a byte boundary, so the client can
//!   decode every octet at once. A flush with nothing written since the last
//!   one sends nothing (an empty sync block would cost 5 octets a tick).
//! - **Bounded memory.** Input is inflated into the caller's buffer (the
//!   connection's 16 KB read), never into one that grows, so a small
//!   compressed command that inflates to gigabytes reaches the framer in
//!   16 KB steps and meets its limits like any other input. The state is
//!   fixed, 395 KB measured (tests/compress_memory.rs): miniz_oxide's
//!   compressor 312 KB (window, hash chains, LZ code and output buffers: the
//!   same at every level), its decompressor 42 KB (32 KB window and tables),
//!   and two 16 KB buffers here. Nothing grows with the session.
//! - **Corrupt input.** Once a bit of the client's stream is wrong nothing
//!   after it can be trusted or resynchronised. Reads then fail with an
//!   [`io::ErrorKind::InvalidData`] error carrying [`CorruptInput`]
//!   ([`is_corrupt_input`]); the connection answers `* BYE` (still
//!   compressed: our direction is intact) and ends the session.
//! - **Where the wire stands** for the SIGBUS handler, which writes to fd 1
//!   behind every layer (mailstore::signals): right after a sync flush the
//!   stream is at a block boundary and a self-contained final block can
//!   follow; anywhere else nothing can. [`Deflate`] reports both moments
//!   through a callback ([`WireMark`]) so this file needs no signal code.

use std::io::{self, Write};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Compressed octets read from the wire and not yet inflated: one read's worth.
const INPUT_BUFFER_OCTETS: usize = 16 * 1024;
/// Compressed octets produced per compressor call before they are written out.
const OUTPUT_BUFFER_OCTETS: usize = 16 * 1024;
/// Compression level (RFC 4978 §3 leaves the trade to each side; memory is
/// the same at every level). Measured on the demo mailbox 40 times over
/// (8.6 MB of mail with attachments, release build): level 1 1.89x at
/// 150 MB/s, level 2 2.22x at 87 MB/s, level 6 2.34x at 24 MB/s. Level 2
/// keeps nearly all of the ratio at a CPU cost no link that needs
/// compression can notice.
const LEVEL: u32 = 2;

/// The client's compressed stream could not be inflated.
#[derive(Debug, thiserror::Error)]
#[error("corrupt compressed input from the client: {0}")]
pub struct CorruptInput(String);

/// Whether `e` is a [`CorruptInput`] from the inflating side.
pub fn is_corrupt_input(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<CorruptInput>())
}

/// What [`Deflate`] tells its owner about the octets it puts on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireMark {
    /// Octets that do not end at a sync point are about to be written.
    MidStream,
    /// A sync flush was written completely: the wire is at a block boundary.
    AtSyncPoint,
}

/// Both directions of one COMPRESS=DEFLATE stream. Sans-I/O: the wire is
/// passed in by each call (`fill` for input, a `Write` for output).
pub struct Deflate {
    compress: Compress,
    decompress: Decompress,
    /// Compressed input; `input[start..end]` is not inflated yet.
    input: Box<[u8]>,
    start: usize,
    end: usize,
    /// Compressed output of one compressor call (capacity fixed).
    output: Vec<u8>,
    /// Plaintext went into the compressor since the last sync flush.
    unflushed: bool,
    /// The client ended its stream (a final block): later input is ignored.
    input_ended: bool,
    mark: fn(WireMark),
}

impl Deflate {
    /// A fresh stream pair. `early` is compressed input already read (what
    /// the client sent right after COMPRESS, before seeing our OK); `mark` is
    /// told about each write to the wire (see the module doc).
    pub fn new(early: &[u8], mark: fn(WireMark)) -> Self {
        let mut input = vec![0u8; INPUT_BUFFER_OCTETS.max(early.len())].into_boxed_slice();
        // Always `Some`: the buffer was made at least as long as `early`.
        if let Some(head) = input.get_mut(..early.len()) {
            head.copy_from_slice(early);
        }
        Deflate {
            compress: Compress::new(Compression::new(LEVEL), false),
            decompress: Decompress::new(false),
            input,
            start: 0,
            end: early.len(),
            output: Vec::with_capacity(OUTPUT_BUFFER_OCTETS),
            unflushed: false,
            input_ended: false,
            mark,
        }
    }

    /// Compressed octets taken from the wire and put on it so far.
    pub fn wire_octets(&self) -> (u64, u64) {
        (self.decompress.total_in(), self.compress.total_out())
    }

    /// Inflates into `buf`; calls `fill` for more compressed octets when
    /// none are buffered or they do not make a whole symbol yet. `Ok(0)`:
    /// end of input (the wire's, or the client's final block). Errors of
    /// `fill` (timeouts, EINTR) pass through with nothing lost.
    pub fn read(
        &mut self,
        buf: &mut [u8],
        mut fill: impl FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            // Even with no input left the inflater may hold output that did
            // not fit the last buffer (up to its 32 KB window): ask it first.
            let produced = self.inflate(buf)?;
            if produced > 0 {
                return Ok(produced);
            }
            if self.input_ended {
                return Ok(0);
            }
            // Everything buffered was taken in: make room and read more.
            if self.start > 0 {
                self.input.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let Some(room) = self.input.get_mut(self.end..) else {
                return Ok(0);
            };
            if room.is_empty() {
                // The inflater keeps its own state and always takes input,
                // so a full buffer that yields nothing cannot happen; never
                // spin on it.
                return Err(corrupt("no progress on buffered input"));
            }
            let n = fill(room)?;
            if n == 0 {
                return Ok(0);
            }
            self.end += n.min(room.len());
        }
    }

    /// Compresses `buf` (always all of it) and writes what the compressor
    /// emits; it holds the rest until the next write or flush.
    pub fn write<W: Write>(&mut self, buf: &[u8], wire: &mut W) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            let before = self.compress.total_in();
            self.output.clear();
            self.compress
                .compress_vec(rest, &mut self.output, FlushCompress::None)
                .map_err(io::Error::other)?;
            let used = usize::try_from(self.compress.total_in() - before).unwrap_or(usize::MAX);
            if used == 0 && self.output.is_empty() {
                return Err(io::Error::other("deflate made no progress"));
            }
            rest = rest.get(used..).unwrap_or_default();
            self.unflushed = true;
            self.send(wire)?;
        }
        Ok(buf.len())
    }

    /// A sync flush (when anything was written since the last one), then
    /// the wire's own flush.
    pub fn flush<W: Write>(&mut self, wire: &mut W) -> io::Result<()> {
        if self.unflushed {
            self.output.clear();
            self.compress
                .compress_vec(&[], &mut self.output, FlushCompress::Sync)
                .map_err(io::Error::other)?;
            // What did not fit comes out of later calls; done when one adds
            // nothing.
            loop {
                self.send(wire)?;
                let before = self.compress.total_out();
                self.output.clear();
                self.compress
                    .compress_vec(&[], &mut self.output, FlushCompress::None)
                    .map_err(io::Error::other)?;
                if self.compress.total_out() == before {
                    break;
                }
            }
            self.unflushed = false;
            (self.mark)(WireMark::AtSyncPoint);
        }
        wire.flush()
    }

    /// Inflates buffered input into `buf`; returns the octets produced.
    fn inflate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pending = match self.input_ended {
            // After the final block nothing more is decoded.
            true => &[][..],
            false => self.input.get(self.start..self.end).unwrap_or_default(),
        };
        let (in_before, out_before) = (self.decompress.total_in(), self.decompress.total_out());
        let status = self
            .decompress
            .decompress(pending, buf, FlushDecompress::None)
            .map_err(|e| corrupt(&e.to_string()))?;
        let used = usize::try_from(self.decompress.total_in() - in_before).unwrap_or(usize::MAX);
        self.start = (self.start + used).min(self.end);
        let produced = usize::try_from(self.decompress.total_out() - out_before).unwrap_or(0);
        if status == Status::StreamEnd && !self.input_ended {
            let trailing = self.end - self.start;
            if trailing > 0 {
                log::info!("event=compressed-input-after-end ignored={trailing}");
            }
            self.input_ended = true;
        }
        Ok(produced.min(buf.len()))
    }

    /// Writes the compressor's output, telling `mark` first.
    fn send<W: Write>(&mut self, wire: &mut W) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        (self.mark)(WireMark::MidStream);
        wire.write_all(&self.output)
    }
}

fn corrupt(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, CorruptInput(why.to_owned()))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::RefCell;

    use super::*;

    fn no_mark(_: WireMark) {}

    /// The client's side: raw deflate and inflate over the same octets.
    pub(crate) struct Peer {
        compress: Compress,
        decompress: Decompress,
    }

    impl Peer {
        pub(crate) fn new() -> Self {
            Peer {
                compress: Compress::new(Compression::default(), false),
                decompress: Decompress::new(false),
            }
        }

        /// `bytes` compressed and sync-flushed, as a client sends a command.
        pub(crate) fn deflate(&mut self, bytes: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let start = self.compress.total_in();
            loop {
                let done = (self.compress.total_in() - start) as usize;
                if done == bytes.len() {
                    break;
                }
                out.reserve(64 * 1024);
                self.compress
                    .compress_vec(&bytes[done..], &mut out, FlushCompress::None)
                    .unwrap();
            }
            out.reserve(64 * 1024);
            self.compress
                .compress_vec(&[], &mut out, FlushCompress::Sync)
                .unwrap();
            loop {
                let before = out.len();
                out.reserve(64 * 1024);
                self.compress
                    .compress_vec(&[], &mut out, FlushCompress::None)
                    .unwrap();
                if out.len() == before {
                    return out;
                }
            }
        }

        /// Inflates all of `wire`; panics if the stream is bad.
        pub(crate) fn inflate(&mut self, wire: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut rest = wire;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let before = (self.decompress.total_in(), self.decompress.total_out());
                self.decompress
                    .decompress(rest, &mut buf, FlushDecompress::Sync)
                    .unwrap();
                let used = (self.decompress.total_in() - before.0) as usize;
                let made = (self.decompress.total_out() - before.1) as usize;
                out.extend_from_slice(&buf[..made]);
                rest = &rest[used..];
                if used == 0 && made == 0 {
                    break;
                }
            }
            out
        }
    }

    /// Reads everything `server` inflates from `wire`, in `chunk`-octet fills.
    fn read_all(server: &mut Deflate, wire: &[u8], chunk: usize) -> Vec<u8> {
        let mut source = wire;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1000];
        loop {
            let n = server
                .read(&mut buf, |room| {
                    let n = room.len().min(chunk).min(source.len());
                    room[..n].copy_from_slice(&source[..n]);
                    source = &source[n..];
                    Ok(n)
                })
                .unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// A long session: many commands in, many responses out, each response
    /// decodable as soon as its flush returns, with every octet there.
    #[test]
    fn long_session_round_trip_with_a_sync_flush_per_response() {
        let mut server = Deflate::new(b"", no_mark);
        let mut client = Peer::new();
        let mut wire_out = Vec::new();
        let mut decoded = Vec::new();
        let mut written = 0;
        let mut sent_in = Vec::new();
        let mut wire_in = Vec::new();
        for i in 0..400 {
            let command = format!("a{i} FETCH {i} (FLAGS BODY.PEEK[HEADER])\r\n");
            sent_in.extend_from_slice(command.as_bytes());
            wire_in.extend(client.deflate(command.as_bytes()));
            let response = format!(
                "* {i} FETCH (FLAGS (\\Seen) BODY[HEADER] {{{}}}\r\n{})\r\na{i} OK done\r\n",
                40 + i % 7,
                "x".repeat(40 + i % 7)
            );
            // Written in pieces, as the ResponseWriter's buffer does.
            for piece in response.as_bytes().chunks(13) {
                server.write(piece, &mut wire_out).unwrap();
            }
            server.flush(&mut wire_out).unwrap();
            let got = client.inflate(&wire_out);
            written += wire_out.len() as u64;
            wire_out.clear();
            decoded.extend_from_slice(&got);
            assert_eq!(
                got,
                response.as_bytes(),
                "response {i} complete at its flush"
            );
        }
        // The commands, fed in odd-sized pieces, come out whole and in order.
        assert_eq!(read_all(&mut server, &wire_in, 7), sent_in);
        assert!(decoded.len() > 20_000);
        assert_eq!(server.wire_octets(), (wire_in.len() as u64, written));
        assert!(written < decoded.len() as u64 / 2, "{written}");
    }

    #[test]
    fn a_flush_with_nothing_new_sends_nothing() {
        let mut server = Deflate::new(b"", no_mark);
        let mut wire = Vec::new();
        server.flush(&mut wire).unwrap();
        assert!(wire.is_empty());
        server.write(b"* OK\r\n", &mut wire).unwrap();
        server.flush(&mut wire).unwrap();
        let once = wire.len();
        server.flush(&mut wire).unwrap();
        assert_eq!(wire.len(), once);
        // A sync flush ends with the empty stored block 00 00 FF FF.
        assert!(wire.ends_with(&[0, 0, 0xff, 0xff]), "{wire:02x?}");
    }

    #[test]
    fn a_large_response_survives_a_full_output_buffer() {
        // Incompressible octets: more output than one buffer holds.
        let mut x = 0x1234_5678u32;
        let data: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let mut server = Deflate::new(b"", no_mark);
        let mut wire = Vec::new();
        server.write(&data, &mut wire).unwrap();
        server.flush(&mut wire).unwrap();
        assert_eq!(Peer::new().inflate(&wire), data);
    }

    #[test]
    fn early_input_is_inflated_first() {
        let mut client = Peer::new();
        let first = client.deflate(b"b SELECT INBOX\r\n");
        let second = client.deflate(b"c NOOP\r\n");
        let mut server = Deflate::new(&first, no_mark);
        assert_eq!(
            read_all(&mut server, &second, 100),
            b"b SELECT INBOX\r\nc NOOP\r\n"
        );
    }

    #[test]
    fn inflating_is_bounded_by_the_callers_buffer() {
        // 10 MB of one octet compresses to a few KB; each read gives at most
        // what the buffer holds.
        let big = vec![b'A'; 10 * 1024 * 1024];
        let wire = Peer::new().deflate(&big);
        assert!(wire.len() < 64 * 1024, "{}", wire.len());
        let mut server = Deflate::new(&wire, no_mark);
        let mut buf = [0u8; 1000];
        let mut total = 0;
        loop {
            let n = server.read(&mut buf, |_| Ok(0)).unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= buf.len());
            total += n;
        }
        assert_eq!(total, big.len());
    }

    #[test]
    fn corrupt_input_is_an_invalid_data_error() {
        // BTYPE 11 is reserved (RFC 1951 §3.2.3): invalid from the first byte.
        for garbage in [&[0xffu8, 0xff, 0xff, 0xff][..], b"a NOOP\r\n"] {
            let mut server = Deflate::new(b"", no_mark);
            let mut buf = [0u8; 64];
            let mut source = garbage;
            let e = server
                .read(&mut buf, |room| {
                    let n = room.len().min(source.len());
                    room[..n].copy_from_slice(&source[..n]);
                    source = &source[n..];
                    Ok(n)
                })
                .unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{garbage:?}");
            assert!(is_corrupt_input(&e), "{e}");
        }
        assert!(!is_corrupt_input(&io::Error::from(
            io::ErrorKind::InvalidData
        )));
    }

    /// Corrupted and cut streams, fed in random chunks: each read ends in
    /// octets, end of input or a [`CorruptInput`] error; never a panic or a
    /// loop, and never more than the caller's buffer.
    #[test]
    fn mutated_streams_never_panic() {
        let mut rng = crate::parser::tests::Rng::new(0x5eed_00de);
        let mut peer = Peer::new();
        let seed: Vec<u8> = (0..50)
            .flat_map(|i| peer.deflate(format!("a{i} UID FETCH 1:* (FLAGS)\r\n").as_bytes()))
            .collect();
        for round in 0..300 {
            let mut wire = seed.clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(wire.len() as u32) as usize;
                wire[at] = rng.below(256) as u8;
            }
            if round % 3 == 0 {
                wire.truncate(rng.below(wire.len() as u32) as usize);
            }
            let mut server = Deflate::new(b"", no_mark);
            let mut source = &wire[..];
            let mut buf = [0u8; 97];
            let mut reads = 0;
            loop {
                reads += 1;
                assert!(reads < 100_000, "round {round}: no end");
                let chunk = 1 + rng.below(64) as usize;
                let result = server.read(&mut buf, |room| {
                    let n = room.len().min(chunk).min(source.len());
                    room[..n].copy_from_slice(&source[..n]);
                    source = &source[n..];
                    Ok(n)
                });
                match result {
                    Ok(0) => break,
                    Ok(n) => assert!(n <= buf.len()),
                    Err(e) => {
                        assert!(is_corrupt_input(&e), "round {round}: {e}");
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn the_clients_final_block_is_end_of_input() {
        let mut compress = Compress::new(Compression::default(), false);
        let mut wire = Vec::with_capacity(256);
        compress
            .compress_vec(b"z LOGOUT\r\n", &mut wire, FlushCompress::Finish)
            .unwrap();
        wire.extend_from_slice(b"trailing junk");
        let mut server = Deflate::new(b"", no_mark);
        assert_eq!(read_all(&mut server, &wire, 3), b"z LOGOUT\r\n");
    }

    #[test]
    fn fill_errors_pass_through_and_lose_nothing() {
        let wire = Peer::new().deflate(b"a NOOP\r\n");
        let (head, tail) = wire.split_at(3);
        let mut server = Deflate::new(head, no_mark);
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        // The head may already yield a few octets; then the fill times out.
        loop {
            match server.read(&mut buf, |_| Err(io::ErrorKind::TimedOut.into())) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
                    break;
                }
            }
        }
        got.extend(read_all(&mut server, tail, 64));
        assert_eq!(got, b"a NOOP\r\n");
    }

    thread_local! {
        static MARKS: RefCell<Vec<WireMark>> = const { RefCell::new(Vec::new()) };
    }

    fn record(mark: WireMark) {
        MARKS.with(|m| m.borrow_mut().push(mark));
    }

    #[test]
    fn the_wire_is_marked_mid_stream_before_and_at_sync_after() {
        MARKS.with(|m| m.borrow_mut().clear());
        let mut server = Deflate::new(b"", record);
        let mut wire = Vec::new();
        server.write(b"* 1 EXISTS\r\n", &mut wire).unwrap();
        // Small: the compressor held it, nothing was written, nothing marked.
        assert!(wire.is_empty());
        assert!(MARKS.with(|m| m.borrow().is_empty()));
        server.flush(&mut wire).unwrap();
        let marks = MARKS.with(|m| m.borrow().clone());
        assert_eq!(marks.first(), Some(&WireMark::MidStream));
        assert_eq!(marks.last(), Some(&WireMark::AtSyncPoint));
        assert_eq!(Peer::new().inflate(&wire), b"* 1 EXISTS\r\n");
    }
}
