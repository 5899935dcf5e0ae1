"""Checks an mbox file after a write-path test, with Python's own mbox reader
(mailbox.mbox), independent of the server's scanner.

    write_check.py MBOX EXPECT.json

EXPECT.json: {"present": {id: hex(stored body)}, "absent": [id], "flags":
{id: "RF"}, "keywords": {id: [kw]}, "others_allowed": bool}. Ids are the
Message-ID without "@write-tests".

Checks: every "present" message is there exactly once with its body byte for
byte (LF line ends, ">From " quoting); no "absent" one is; flags (Status and
X-Status letters) and X-Keywords include what is expected; the file is a
well-formed mbox (starts with "From ", every message has a Message-ID or is
UW's pseudo-message) and UIDs (X-UID), where present, strictly ascend."""
import json
import mailbox
import re
import sys

from write_common import Failure, check, message_id, split_body


def main():
    path, expect_path = sys.argv[1], sys.argv[2]
    with open(expect_path) as f:
        expect = json.load(f)
    with open(path, "rb") as f:
        raw = f.read()
    check(raw == b"" or raw.startswith(b"From "), "file does not start with a From_ line")
    box = mailbox.mbox(path, create=False)
    seen = {}
    uids = []
    for key in box.keys():
        msg = box.get_message(key)
        data = box.get_bytes(key)
        if msg.get("X-IMAP") is not None:
            check(len(seen) == 0 and not uids, "X-IMAP pseudo-message is not first")
            continue
        mid = message_id(data)
        check(mid is not None, "message %r has no Message-ID: %r" % (key, data[:200]))
        seen.setdefault(mid, []).append((msg, data))
        if msg.get("X-UID") is not None:
            uids.append(int(msg.get("X-UID").strip()))
    for mid, body_hex in expect["present"].items():
        copies = seen.get(mid, [])
        check(len(copies) == 1, "%s present %d times" % (mid, len(copies)))
        _, data = copies[0]
        body = split_body(data)
        want = bytes.fromhex(body_hex)
        check(body == want, "%s: body differs\n got %r\nwant %r" % (mid, body[:300], want[:300]))
    for mid in expect["absent"]:
        check(mid not in seen, "%s should have been expunged but is present" % mid)
    if not expect["others_allowed"]:
        extra = sorted(set(seen) - set(expect["present"]))
        check(not extra, "unexpected messages: %s" % extra[:20])
    for mid, letters in expect["flags"].items():
        msg, _ = seen[mid][0]
        have = set(msg.get_flags())
        for letter in letters:
            check(letter in have, "%s: flag %s missing (has %s)" % (mid, letter, "".join(sorted(have))))
    for mid, kws in expect["keywords"].items():
        msg, _ = seen[mid][0]
        have = (msg.get("X-Keywords") or "").split()
        for kw in kws:
            check(kw in have, "%s: keyword %s missing (X-Keywords: %s)" % (mid, kw, have))
    check(uids == sorted(set(uids)), "X-UIDs do not strictly ascend: %s" % uids[:50])
    print("ok: %d messages, %d checked present, %d absent" %
          (sum(len(v) for v in seen.values()), len(expect["present"]), len(expect["absent"])))


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print("FAIL:", e)
        sys.exit(1)
