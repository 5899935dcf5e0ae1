//! The bytes of an open mailbox: a read-only memory map, or a copy read into
//! memory when mapping is not possible; and giving freed heap memory back to
//! the system after a large write. The crate's only `unsafe` code.
//!
//! The hard part is the mapping's safety contract. A `Mmap` hands out a `&[u8]`
//! whose contents the kernel may change underneath us if another process
//! writes the file, and whose pages fault with SIGBUS if another process
//! truncates it. Rust requires that a shared slice does not change while it is
//! borrowed, so the map is sound only if nobody modifies the mapped range; the
//! private `map` function documents who upholds that. Everything outside this
//! file sees `&[u8]` only (the model is ripgrep's `searcher/mmap.rs`).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use memmap2::{Mmap, MmapOptions};

/// How to get the bytes of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Map the file; read it into memory if mapping fails.
    Map,
    /// Read it into memory (tests exercise both paths with one expectation).
    Read,
}

/// The bytes of a mailbox file, however they were obtained.
#[derive(Debug)]
pub enum MailData {
    /// A zero-length file (a zero-length map is an error).
    Empty,
    Mapped(Mmap),
    Read(Vec<u8>),
}

impl MailData {
    /// The first `len` bytes of `file` (its size at fstat time, taken under
    /// the lock).
    pub fn load(file: &File, len: u64, source: Source) -> io::Result<MailData> {
        if len == 0 {
            return Ok(MailData::Empty);
        }
        if source == Source::Map {
            let mapped = usize::try_from(len)
                .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "file too large to map"))
                .and_then(|len| map(file, len));
            match mapped {
                Ok(map) => return Ok(MailData::Mapped(map)),
                Err(e) => log::debug!("mmap failed, reading the mailbox instead: {e}"),
            }
        }
        read(file, len).map(MailData::Read)
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            MailData::Empty => &[],
            MailData::Mapped(map) => map,
            MailData::Read(bytes) => bytes,
        }
    }
}

/// Maps the first `len` bytes of `file` read-only.
///
/// # Safety
///
/// Not an `unsafe fn`, but its soundness rests on this contract: while the
/// returned map lives, nobody may modify or truncate the first `len` bytes of
/// the file. The mail store upholds it for its own writers: it maps only the
/// length it parsed under the read lock, never writes mapped bytes through
/// another fd while a `&[u8]` from the map is borrowed, and re-checks the size
/// and remaps after every lock (locking.md §7.3). Other programs that honour
/// the locks (procmail, Postfix, mutt, UW) only append while we are not
/// holding them, which leaves the mapped range untouched. A program that
/// rewrites or truncates the file without taking the locks can still change
/// the bytes under us or cause SIGBUS; that is outside what any mbox reader
/// can prevent, and rewrite.md's SIGBUS handler turns it into a clean `* BYE`.
#[allow(unsafe_code)]
fn map(file: &File, len: usize) -> io::Result<Mmap> {
    // SAFETY: see the contract above: the mapped range is not modified while
    // mapped by anyone who follows the locking protocol; `len` is the size
    // fstat reported under the lock, so the whole range exists.
    unsafe { MmapOptions::new().len(len).map(file) }
}

/// Returns the heap's free pages to the system (after a large write). The
/// buffers of a rewrite (windows, rendered blocks, per-message vectors) are
/// freed, but glibc keeps freed heap memory mapped, and after freeing a
/// large block raises its mmap threshold so that later large buffers land in
/// the heap too: without this, a session kept the peak of its first claim
/// of a 1 GB mailbox (tens of MB) for its whole life.
#[allow(unsafe_code)]
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only hands the allocator's own free pages back to
    // the kernel (madvise/sbrk); it has no preconditions and touches no
    // memory in use.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

/// Reads the first `len` bytes of `file` with pread (the fd's offset is left
/// alone). A file that shrank since fstat gives fewer bytes.
fn read(file: &File, len: u64) -> io::Result<Vec<u8>> {
    let capacity = usize::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "file too large to read"))?;
    let mut bytes = vec![0u8; capacity];
    let mut filled = 0;
    while let Some(rest) = bytes.get_mut(filled..).filter(|r| !r.is_empty()) {
        match file.read_at(rest, filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn both_sources_give_the_same_bytes() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"From a Wed Dec  2 05:53:22 1992\nbody\n")
            .unwrap();
        for source in [Source::Map, Source::Read] {
            let data = MailData::load(&file, 37, source).unwrap();
            assert_eq!(data.bytes(), b"From a Wed Dec  2 05:53:22 1992\nbody\n");
            // Only the length asked for.
            let data = MailData::load(&file, 6, source).unwrap();
            assert_eq!(data.bytes(), b"From a");
            assert!(matches!(
                MailData::load(&file, 0, source).unwrap(),
                MailData::Empty
            ));
        }
        assert!(matches!(
            MailData::load(&file, 37, Source::Map).unwrap(),
            MailData::Mapped(_)
        ));
        assert!(matches!(
            MailData::load(&file, 37, Source::Read).unwrap(),
            MailData::Read(_)
        ));
        // A file shorter than expected (it shrank): what is there.
        assert_eq!(
            MailData::load(&file, 100, Source::Read)
                .unwrap()
                .bytes()
                .len(),
            37
        );
    }
}
