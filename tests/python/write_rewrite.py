"""Rewrites an mbox behind the server's back the way mutt expunges: under the
dotlock (MBOX.lock, created exclusively) and an fcntl write lock, drop the
messages with the given Message-IDs and rewrite the file *in place* from the
first removed message on (same inode), then truncate.

    write_rewrite.py MBOX ID [ID...]      (ids without "@write-tests")

Prints the new size. Messages are found the way mutt finds them: a line
starting with "From " after a blank line (or at the start of the file)."""
import fcntl
import os
import re
import sys
import time


def take_dotlock(path):
    lock = path + ".lock"
    deadline = time.time() + 60
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, b"%d rewrite-test\n" % os.getpid())
            os.close(fd)
            return lock
        except FileExistsError:
            if time.time() > deadline:
                raise SystemExit("dotlock %s held for 60 s" % lock)
            time.sleep(0.02)


def main():
    path, ids = sys.argv[1], set(sys.argv[2:])
    lock = take_dotlock(path)
    try:
        with open(path, "r+b") as f:
            fcntl.lockf(f, fcntl.LOCK_EX)
            data = f.read()
            starts = [0] + [m.start() + 2 for m in re.finditer(rb"\n\nFrom ", data)]
            starts = [s for s in starts if data[s:s + 5] == b"From "]
            bounds = list(zip(starts, starts[1:] + [len(data)]))
            keep = []
            first_change = None
            for s, e in bounds:
                msg = data[s:e]
                mid = re.search(rb"(?im)^message-id:\s*<([^>@]+)@write-tests>",
                                msg.split(b"\n\n", 1)[0])
                if mid and mid.group(1).decode() in ids:
                    if first_change is None:
                        first_change = s
                    continue
                keep.append((s, msg))
            if first_change is None:
                raise SystemExit("none of %s found" % sorted(ids))
            tail = b"".join(msg for s, msg in keep if s > first_change)
            f.seek(first_change)
            f.write(tail)
            f.truncate()
            f.flush()
            os.fsync(f.fileno())
            print(first_change + len(tail))
            fcntl.lockf(f, fcntl.LOCK_UN)
    finally:
        os.unlink(lock)


if __name__ == "__main__":
    main()
