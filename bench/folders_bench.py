#!/usr/bin/env python3
"""folders_bench.py -- LIST over a big folder tree and STATUS over many big
mailboxes, for mbox-imapd and Dovecot, side by side, in one run.

    folders_bench.py --ours target/release/mbox-imapd --work /tmp/fbench \
        [--folders 10000] [--mailboxes 100] [--messages 10000] [--runs 3] \
        [--gen /work/shared/bench/gen_mbox.py] [--no-dovecot] [--keep] [--json out.json]

Builds, under WORK (as user --owner, default benchuser, so Dovecot -- which
refuses to run as root -- can use the same files):

  * tree/     --folders mailbox files (100 per directory: d000/m000 ...),
              each holding one small message: LIST "" "*" is timed on it.
  * status/   --mailboxes copies of one gen_mbox.py mailbox of --messages
              messages (separate files, not links): STATUS (MESSAGES UNSEEN
              UIDNEXT) is timed on all of them in one session, and every answer
              is checked (MESSAGES = UNSEEN = --messages, UIDNEXT = messages + 1).

Both servers run as PREAUTH sessions on stdin/stdout as --owner: ours with
--preauth --inbox --mail-dir --home, Dovecot 2.3's imap binary with a config
written here (mail_location = mbox:<tree>:INBOX=<inbox>:INDEX=<own dir>,
as in ../shared/bench/peers/dovecot.sh). Dovecot keeps an index: its first
STATUS pass builds it (cold), later passes read it (warm); both are reported.
Ours keeps no state, so every pass is the same work.

Timings are client-side wall seconds from sending the command(s) to the last
tagged completion, medians of --runs sessions, page cache warm (the files were
just written, and a warm-up session runs first). Needs: python3, Dovecot
(Debian package dovecot-imapd) unless --no-dovecot, setpriv (util-linux).
"""
import argparse
import json
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL_MESSAGE = (b"From sender@example.org Wed Nov 25 10:00:00 2026\n"
                 b"From: Sender <sender@example.org>\nSubject: hello\n"
                 b"Message-ID: <m@example.org>\n\nA small message.\n\n")


class Session:
    """One IMAP session with a server on pipes."""

    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.tag = 0
        greeting = self.proc.stdout.readline()
        if not greeting.startswith(b"* PREAUTH"):
            raise SystemExit("no PREAUTH greeting from %r: %r" % (argv, greeting))

    def command(self, text):
        """Sends one command; returns (untagged lines, tagged line)."""
        self.tag += 1
        tag = b"t%d" % self.tag
        self.proc.stdin.write(tag + b" " + text.encode() + b"\r\n")
        self.proc.stdin.flush()
        untagged = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("server closed the connection during %r" % text)
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise SystemExit("%r failed: %r" % (text, line))
                return untagged, line
            untagged.append(line)

    def close(self):
        try:
            self.command("LOGOUT")
        except SystemExit:
            pass
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def as_owner(owner, argv, env):
    """argv run as `owner` (when we are root), with exactly `env`."""
    prefix = []
    if os.geteuid() == 0:
        prefix = ["setpriv", "--reuid=" + owner, "--regid=" + owner, "--init-groups"]
    return prefix + ["env", "-i"] + ["%s=%s" % kv for kv in env.items()] + argv


def build_tree(root, folders):
    os.makedirs(root, exist_ok=True)
    for i in range(folders):
        d = os.path.join(root, "d%03d" % (i // 100))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "m%03d" % (i % 100)), "wb") as f:
            f.write(SMALL_MESSAGE)


def build_status(root, mailboxes, messages, gen, work):
    os.makedirs(root, exist_ok=True)
    source = os.path.join(work, "source-%d.mbox" % messages)
    if not os.path.exists(source):
        subprocess.run([sys.executable, gen, "--messages", str(messages), "--seed", "7",
                        "--out", source], check=True)
    for i in range(mailboxes):
        target = os.path.join(root, "box%03d" % i)
        if not os.path.exists(target):
            shutil.copyfile(source, target)  # a real copy: separate files, separate pages
    return os.path.getsize(source)


def time_list(argv, env, runs, expect):
    times = []
    for _ in range(runs + 1):  # the first is a warm-up
        s = Session(argv, env)
        start = time.perf_counter()
        untagged, _ = s.command('LIST "" "*"')
        times.append(time.perf_counter() - start)
        s.close()
        names = [l for l in untagged if l.startswith(b"* LIST ")]
        if len(names) < expect:
            raise SystemExit("LIST returned %d names, expected at least %d" % (len(names), expect))
    return times[0], statistics.median(times[1:])


def time_status(argv, env, runs, mailboxes, messages):
    """Per run: seconds for STATUS on every mailbox, in one session."""
    times = []
    for _ in range(runs):
        s = Session(argv, env)
        start = time.perf_counter()
        for i in range(mailboxes):
            untagged, _ = s.command("STATUS status/box%03d (MESSAGES UNSEEN UIDNEXT)" % i)
            line = b" ".join(untagged)
            want = [b"MESSAGES %d" % messages, b"UNSEEN %d" % messages,
                    b"UIDNEXT %d" % (messages + 1)]
            if not all(w in line for w in want):
                raise SystemExit("box%03d: unexpected STATUS %r" % (i, line))
        times.append(time.perf_counter() - start)
        s.close()
    return times


def dovecot_config(work):
    conf = os.path.join(work, "dovecot.conf")
    for d in ("dovecot-home", "dovecot-index", "dovecot-run"):
        os.makedirs(os.path.join(work, d), exist_ok=True)
    with open(conf, "w") as f:
        f.write("""protocols = imap
ssl = no
base_dir = {w}/dovecot-run
log_path = {w}/dovecot.log
info_log_path = {w}/dovecot.log
mail_location = mbox:{w}/mail:INBOX={w}/inbox:INDEX={w}/dovecot-index
first_valid_uid = 1
mail_privileged_group =
namespace inbox {{
  inbox = yes
  prefix =
  separator = /
}}
""".format(w=work))
    return conf


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ours", required=True, help="the mbox-imapd binary (release build)")
    ap.add_argument("--work", required=True, help="work directory (created)")
    ap.add_argument("--owner", default="benchuser")
    ap.add_argument("--folders", type=int, default=10000)
    ap.add_argument("--mailboxes", type=int, default=100)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    default_gen = os.path.join(HERE, "gen_mbox.py")
    if not os.path.exists(default_gen):
        default_gen = "/work/shared/bench/gen_mbox.py"
    ap.add_argument("--gen", default=default_gen)
    ap.add_argument("--no-dovecot", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json")
    args = ap.parse_args()

    work = os.path.abspath(args.work)
    mail = os.path.join(work, "mail")
    owner = pwd.getpwnam(args.owner)
    t0 = time.perf_counter()
    build_tree(os.path.join(mail, "tree"), args.folders)
    mbox_size = build_status(os.path.join(mail, "status"), args.mailboxes, args.messages, args.gen,
                             work)
    with open(os.path.join(work, "inbox"), "wb") as f:
        f.write(SMALL_MESSAGE)
    binary = os.path.join(work, "mbox-imapd")
    shutil.copy(args.ours, binary)  # where the owner may run it
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "%s:" % args.owner, work], check=True)
    print("built in %.1f s: %d folders; %d mailboxes x %d messages (%.0f MB each)"
          % (time.perf_counter() - t0, args.folders, args.mailboxes, args.messages,
             mbox_size / 1e6), flush=True)

    env = {"HOME": work, "USER": args.owner, "PATH": "/usr/bin:/bin"}
    ours = as_owner(args.owner, [binary, "--preauth", "--inbox", os.path.join(work, "inbox"),
                                 "--mail-dir", mail, "--home", work, "--log", "syslog"], env)
    results = {"folders": args.folders, "mailboxes": args.mailboxes,
               "messages": args.messages, "mbox_bytes": mbox_size, "runs": args.runs}
    first, median = time_list(ours, None, args.runs, args.folders)
    results["ours_list_s"] = median
    print("ours     LIST \"\" \"*\" over %d folders: %.3f s (first %.3f s)"
          % (args.folders, median, first), flush=True)
    status = time_status(ours, None, args.runs, args.mailboxes, args.messages)
    results["ours_status_s"] = statistics.median(status)
    print("ours     STATUS on %d mailboxes: %.3f s (runs: %s)"
          % (args.mailboxes, statistics.median(status), ", ".join("%.3f" % t for t in status)),
          flush=True)

    if not args.no_dovecot:
        conf = dovecot_config(work)
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "%s:" % args.owner, work], check=True)
        denv = {"HOME": os.path.join(work, "dovecot-home"), "USER": args.owner,
                "PATH": "/usr/bin:/bin"}
        dovecot = as_owner(args.owner, ["/usr/lib/dovecot/imap", "-c", conf], denv)
        first, median = time_list(dovecot, None, args.runs, args.folders)
        results["dovecot_list_s"] = median
        results["dovecot_list_first_s"] = first
        print("dovecot  LIST \"\" \"*\" over %d folders: %.3f s (first, cold index %.3f s)"
              % (args.folders, median, first), flush=True)
        # LIST opened every mailbox and started its index: start STATUS cold.
        index = os.path.join(work, "dovecot-index")
        shutil.rmtree(index)
        os.makedirs(index)
        if os.geteuid() == 0:
            shutil.chown(index, args.owner)
        cold = time_status(dovecot, None, 1, args.mailboxes, args.messages)[0]
        warm = time_status(dovecot, None, args.runs, args.mailboxes, args.messages)
        results["dovecot_status_cold_s"] = cold
        results["dovecot_status_warm_s"] = statistics.median(warm)
        print("dovecot  STATUS on %d mailboxes: cold index %.3f s, warm %.3f s (runs: %s)"
              % (args.mailboxes, cold, statistics.median(warm),
                 ", ".join("%.3f" % t for t in warm)), flush=True)

    print("total %.0f s" % (time.perf_counter() - t0))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
