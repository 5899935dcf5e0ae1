#!/usr/bin/env python3
"""Benchmark driver: our server against its floor and its peers, in one sitting.

    bench/run.py [--messages 100000] [--seed 42] [--workdir /tmp/mbox-imapd-bench]
                 [--bin target/release/mbox-imapd] [--big-mb 40] [--no-peers] [--no-imapbench]

Prints, for the same generated mailbox (shared/bench/gen_mbox.py):

1. the floor: one read of the file (`grep -c '^From '`, and `cargo bench --bench
   memchr_read`: mmap + memmem and read + memmem);
2. our SELECT / FETCH / SEARCH wall times with the server's *anonymous* memory
   (RssAnon, sampled every 2 ms from /proc/PID/status, plus smaps_rollup
   Anonymous at the end of each phase) and VmHWM; SELECT over the floor as a ratio;
3. anonymous-memory growth while fetching one 40 MB message (BODY.PEEK[] must stream
   from the map, not copy);
4. shared/bench/imapbench.py for ours and, when installed, Dovecot side by side
   (the full session: the write phases fail until the write path exists).

Figures only: nothing is asserted (machines are noisy; compare ratios from one run).
Needs python3, cargo, and for the Dovecot column: root, `apt-get install
dovecot-imapd`, `useradd -m benchuser` (see shared/bench/README.md).
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shared_dir():
    cands = [os.environ.get("MBOX_IMAPD_SHARED_DIR"), os.path.join(REPO, "..", "shared"),
             os.path.join(REPO, "..", "..", "shared")]
    for c in cands:
        if c and os.path.isfile(os.path.join(c, "bench", "imapbench.py")):
            return os.path.abspath(c)
    sys.exit("shared/ not found beside the repository (set MBOX_IMAPD_SHARED_DIR)")


SHARED = shared_dir()
sys.path.insert(0, os.path.join(SHARED, "bench"))
import imapbench  # noqa: E402  (its Conn speaks IMAP over a child's pipes)


def say(*a):
    print(*a, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


# ---------------------------------------------------------------- memory sampling
def status_kb(pid, key):
    return imapbench.proc_status_kb(pid, key)


def smaps_anon_kb(pid):
    """Resident anonymous memory from smaps_rollup (heap, stacks, private copies);
    the mailbox's file-backed map pages are page cache and are not counted."""
    try:
        with open("/proc/%d/smaps_rollup" % pid, "rb") as f:
            for ln in f:
                if ln.startswith(b"Anonymous:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None


class Sampler:
    """Samples RssAnon of a process every `interval` seconds; `peak()` since `reset()`."""

    def __init__(self, pid, interval=0.002):
        self.pid = pid
        self.interval = interval
        self.max = 0
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            v = status_kb(self.pid, b"RssAnon:")
            if v is None:
                return
            if v > self.max:
                self.max = v
            time.sleep(self.interval)

    def reset(self):
        self.max = status_kb(self.pid, b"RssAnon:") or 0

    def peak(self):
        v = status_kb(self.pid, b"RssAnon:") or 0
        return max(self.max, v)

    def close(self):
        self.stop = True


def mb(kb):
    return "%.1f MB" % (kb / 1024) if kb is not None else "-"


# ---------------------------------------------------------------- steps
def build(args):
    if args.bin:
        return os.path.abspath(args.bin)
    say("== building the release binary")
    run(["cargo", "build", "--release", "--bin", "mbox-imapd"], cwd=REPO)
    return os.path.join(REPO, "target", "release", "mbox-imapd")


def generate(args):
    path = os.path.join(args.workdir, "mbox-%d-s%d" % (args.messages, args.seed))
    if not (os.path.isfile(path) and os.path.isfile(path + ".meta.json")):
        say("== generating %d messages (seed %d) -> %s" % (args.messages, args.seed, path))
        run([sys.executable, os.path.join(SHARED, "bench", "gen_mbox.py"), "--messages", str(args.messages),
             "--seed", str(args.seed), "--out", path])
    return path


def floor(path):
    """Time to read the file once: grep, and the memchr_read cargo bench."""
    say("== floor: read the file once")
    size = os.path.getsize(path)
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL)  # warm the page cache
    t0 = time.perf_counter()
    out = subprocess.run(["grep", "-c", "^From ", path], capture_output=True, text=True)
    grep_s = time.perf_counter() - t0
    say("  grep -c '^From '   %.3f s  (%s lines, %.0f MB)" % (grep_s, out.stdout.strip(), size / 1e6))
    res = {"grep_s": grep_s, "bytes": size}
    p = subprocess.run(["cargo", "bench", "--bench", "memchr_read", "--", path, "3"], cwd=REPO,
                       capture_output=True, text=True)
    if "From_ candidates" not in p.stdout:
        say("  memchr_read: not run. It needs in Cargo.toml:\n"
            "      [[bench]]\n      name = \"memchr_read\"\n      harness = false")
        last = (p.stderr.strip().splitlines() or [""])[-1]
        if p.returncode and last:
            say("  (cargo: %s)" % last)
        return res
    for line in p.stdout.splitlines():
        say("  " + line)
        if line.startswith("mmap+memmem"):
            res["memchr_mmap_s"] = float(line.split()[1])
        if line.startswith("read+memmem"):
            res["memchr_read_s"] = float(line.split()[1])
    return res


def start(server, inbox, workdir, name):
    mail = os.path.join(workdir, "mail")
    os.makedirs(mail, exist_ok=True)
    argv = [server, "--preauth", "--inbox", inbox, "--mail-dir", mail, "--log", "stderr"]
    env = dict(os.environ, TZ="UTC")
    conn = imapbench.Conn(argv, env, os.path.join(workdir, name + "-stderr.log"), timeout=3600)
    line, _ = conn.read_resp()
    if not line.upper().startswith(b"* PREAUTH"):
        raise SystemExit("no PREAUTH greeting: %r" % line[:200])
    return conn


def timed(conn, sampler, name, cmd, rows):
    sampler.reset()
    t0 = time.perf_counter()
    try:
        tagged, unt = conn.command(cmd, keep=False)
        ok = tagged.split(b" ")[1:2] == [b"OK"]
    except imapbench.ServerGone as e:
        tagged, ok = str(e).encode(), False
    wall = time.perf_counter() - t0
    row = {"phase": name, "wall": wall, "anon_peak_kb": sampler.peak(),
           "anon_smaps_kb": smaps_anon_kb(conn.pid), "hwm_kb": status_kb(conn.pid, b"VmHWM:"), "ok": ok}
    rows.append(row)
    say("  %-38s %9.3f s  anon peak %-9s  smaps anon %-9s  VmHWM %-9s %s" % (
        name, wall, mb(row["anon_peak_kb"]), mb(row["anon_smaps_kb"]), mb(row["hwm_kb"]),
        "" if ok else "FAILED: " + tagged[:100].decode("latin-1", "replace")))
    return ok


def our_phases(server, src, args):
    say("== ours: wall time and anonymous memory per phase (%s)" % src)
    work = os.path.join(args.workdir, "run-phases")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    inbox = os.path.join(work, "inbox")
    shutil.copyfile(src, inbox)
    meta = json.load(open(src + ".meta.json"))
    word = next(iter(meta["rare_words"]))
    conn = start(server, inbox, work, "phases")
    sampler = Sampler(conn.pid)
    rows = []
    say("  %-38s %9.3f s  anon %s" % ("after greeting", 0, mb(status_kb(conn.pid, b"RssAnon:"))))
    timed(conn, sampler, "SELECT INBOX", b"SELECT INBOX", rows)
    timed(conn, sampler, "FETCH 1:* (UID FLAGS SIZE ENVELOPE)",
          b"FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)", rows)
    timed(conn, sampler, "FETCH 1:* BODYSTRUCTURE", b"FETCH 1:* BODYSTRUCTURE", rows)
    timed(conn, sampler, "UID SEARCH TEXT " + word, b"UID SEARCH TEXT " + word.encode(), rows)
    fs = meta["from_subject"]
    timed(conn, sampler, "UID SEARCH FROM x SUBJECT y",
          b"UID SEARCH FROM " + fs["from"].encode() + b" SUBJECT " + fs["subject"].encode(), rows)
    timed(conn, sampler, "FETCH 1:100 BODY.PEEK[]", b"FETCH 1:100 BODY.PEEK[]", rows)
    timed(conn, sampler, "LOGOUT", b"LOGOUT", rows)
    sampler.close()
    conn.wait_exit(60)
    say("  session maxrss (wait4) %s" % mb(conn.rusage.ru_maxrss if conn.rusage else None))
    return rows


def big_message(server, args):
    """One message of args.big_mb MB between small ones: anonymous growth of BODY[]."""
    say("== ours: one %d MB message" % args.big_mb)
    work = os.path.join(args.workdir, "run-big")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    inbox = os.path.join(work, "inbox")
    small = (b"From a@example.org Mon Jan  5 10:00:00 2015\nFrom: a@example.org\nSubject: small\n\n"
             b"small body\n\n")
    line = b"".join(b"%c" % (65 + (i % 26)) for i in range(75)) + b"\n"
    body_lines = args.big_mb * 1024 * 1024 // len(line)
    with open(inbox, "wb") as f:
        f.write(small * 2)
        f.write(b"From big@example.org Tue Jan  6 10:00:00 2015\nFrom: big@example.org\nSubject: big\n"
                b"Content-Type: text/plain; charset=us-ascii\n\n")
        for _ in range(body_lines // 1024):
            f.write(line * 1024)
        f.write(b"\n")
        f.write(small)
    conn = start(server, inbox, work, "big")
    sampler = Sampler(conn.pid)
    rows = []
    timed(conn, sampler, "SELECT INBOX", b"SELECT INBOX", rows)
    base = status_kb(conn.pid, b"RssAnon:") or 0
    timed(conn, sampler, "FETCH 3 RFC822.SIZE", b"FETCH 3 RFC822.SIZE", rows)
    timed(conn, sampler, "FETCH 3 BODY.PEEK[]", b"FETCH 3 BODY.PEEK[]", rows)
    peak_body = rows[-1]["anon_peak_kb"]
    timed(conn, sampler, "FETCH 3 BODY.PEEK[TEXT]<1000000.1000>", b"FETCH 3 BODY.PEEK[TEXT]<1000000.1000>", rows)
    timed(conn, sampler, "FETCH 3 BODYSTRUCTURE", b"FETCH 3 BODYSTRUCTURE", rows)
    timed(conn, sampler, "SEARCH BODY zzzz", b"SEARCH BODY zzzz", rows)
    timed(conn, sampler, "LOGOUT", b"LOGOUT", rows)
    sampler.close()
    conn.wait_exit(60)
    growth = peak_body - base
    say("  anonymous growth during BODY.PEEK[] of the %d MB message: %s (before %s, peak %s)" % (
        args.big_mb, mb(growth), mb(base), mb(peak_body)))
    return {"rows": rows, "anon_before_kb": base, "anon_peak_body_kb": peak_body, "growth_kb": growth}


def dovecot_available():
    return os.path.exists("/usr/lib/dovecot/imap") and os.geteuid() == 0 and user_exists("benchuser")


def user_exists(name):
    try:
        import pwd
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def imapbench_side_by_side(server, src, args):
    say("== imapbench.py: full session, ours%s" % (" and Dovecot" if args.peers and dovecot_available() else ""))
    peers = [("ours", "%s --preauth --inbox {mbox} --mail-dir %s --log stderr" % (
        shlex.quote(server), shlex.quote(os.path.join(args.workdir, "run-ours", "mail"))))]
    if args.peers:
        if dovecot_available():
            peers.append(("dovecot", os.path.join(SHARED, "bench", "peers", "dovecot.sh") + " {mbox}"))
        else:
            say("  Dovecot skipped: needs root, /usr/lib/dovecot/imap (apt-get install dovecot-imapd) "
                "and the user benchuser (useradd -m benchuser)")
    owner = ["--owner", "benchuser"] if os.geteuid() == 0 and user_exists("benchuser") else []
    results = {}
    for name, cmd in peers:
        out = os.path.join(args.workdir, name + ".json")
        p = subprocess.run([sys.executable, os.path.join(SHARED, "bench", "imapbench.py"), "--name", name,
                            "--server", cmd, "--src", src, "--workdir", os.path.join(args.workdir, "run-" + name),
                            "--json", out] + owner, capture_output=True, text=True)
        if os.path.isfile(out):
            results[name] = json.load(open(out))
        else:
            say("  %s: imapbench produced no result:\n%s" % (name, (p.stdout + p.stderr)[-2000:]))
    if not results:
        return results
    names = list(results)
    phases = []
    for r in results.values():
        for s in r["sessions"]:
            for ph in s["phases"]:
                if ph not in phases:
                    phases.append(ph)
    say("  %-22s" % "phase" + "".join("%16s" % n for n in names))
    for ph in phases:
        cells = []
        for n in names:
            rec = next((s["phases"][ph] for s in results[n]["sessions"] if ph in s["phases"]), None)
            cells.append("%16s" % ("-" if rec is None or "wall" not in rec else
                                   "%.3f%s" % (rec["wall"], "" if rec.get("ok") else " FAIL")))
        say("  %-22s" % ph + "".join(cells))
    for label, key in (("peak RSS (VmHWM)", "maxrss_kb"), ("peak anon (0.5 s)", "anon_peak_kb")):
        cells = []
        for n in names:
            v = max((s.get("rusage", {}).get(key) or 0 for s in results[n]["sessions"]), default=0)
            cells.append("%16s" % mb(v))
        say("  %-22s" % label + "".join(cells))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--workdir", default="/tmp/mbox-imapd-bench")
    ap.add_argument("--bin", help="server binary (default: cargo build --release)")
    ap.add_argument("--big-mb", type=int, default=40)
    ap.add_argument("--no-peers", dest="peers", action="store_false")
    ap.add_argument("--no-imapbench", dest="imapbench", action="store_false")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    server = build(args)
    src = generate(args)
    summary = {"floor": floor(src)}
    summary["phases"] = our_phases(server, src, args)
    summary["big"] = big_message(server, args)
    if args.imapbench:
        summary["imapbench"] = {k: v.get("sessions") for k, v in imapbench_side_by_side(server, src, args).items()}
    fl = summary["floor"]
    sel = next((r["wall"] for r in summary["phases"] if r["phase"] == "SELECT INBOX"), None)
    say("== summary")
    for key, label in (("memchr_mmap_s", "mmap+memmem"), ("memchr_read_s", "read+memmem"), ("grep_s", "grep")):
        if key in fl and sel:
            say("  SELECT %.3f s = %.1f x %s (%.3f s)" % (sel, sel / max(fl[key], 1e-9), label, fl[key]))
    say("  BODY[] of %d MB: anonymous growth %s" % (args.big_mb, mb(summary["big"]["growth_kb"])))
    with open(os.path.join(args.workdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    say("  (all figures in %s)" % os.path.join(args.workdir, "summary.json"))


if __name__ == "__main__":
    main()
