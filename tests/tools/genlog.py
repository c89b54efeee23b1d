#!/usr/bin/python3
"""Writes a big imaptap log for measuring `imaptap stats` and `pretty`:

    tests/tools/genlog.py OUT [BYTES] [--no-close]

Sessions are copies of those in inputs/ (the live recording, the decoded
corpus, the hand-written session), each with a new sid, a user out of a
Pareto-distributed 20000 and a client address out of 50000, latencies drawn
from a log-normal, 64 sessions interleaved at a time, time always moving
forward.  Decoded sessions get a session_close line, unless --no-close, which
leaves every session open (the worst case for per-session memory).  BYTES
defaults to 1 GiB.  Deterministic (seeded).
"""
import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TS_AT = len('{"v":1,"ts":"')   # every logger line starts so
TS_LEN = len("2026-11-25T09:14:03.120441Z")
MS = re.compile(r'"ms":[0-9.e+-]+')
USER = re.compile(r'"user":"[^"]*"')


def templates(no_close):
    sessions = {}
    for name in ("proxy.jsonl", "corpus.jsonl", "all_events.jsonl"):
        with open(os.path.join(HERE, "inputs", name), encoding="utf-8") as f:
            for line in f:
                e = json.loads(line)
                sessions.setdefault(e["sid"], []).append(line.rstrip("\n"))
    out = []
    for lines in sessions.values():
        if no_close:
            lines = [l for l in lines if '"ev":"session_close"' not in l]
        elif '"ev":"session_close"' not in lines[-1]:
            e = json.loads(lines[-1])
            lines.append(json.dumps({"v": 1, "ts": e["ts"], "sid": e["sid"], "seq": e["seq"] + 1,
                                     "ev": "session_close", "reason": "client_closed",
                                     "bytes": {"c2s": 400, "s2c": 9000}, "commands": 5,
                                     "duration_ms": 1234.5}, separators=(",", ":")))
        if lines:
            out.append(lines)
    return out


def ts_str(us):
    s, f = divmod(us, 1000000)
    m, sec = divmod(s, 60)
    h, mi = divmod(m, 60)
    d, hh = divmod(h, 24)
    return "2026-11-%02dT%02d:%02d:%02d.%06dZ" % (1 + d % 28, hh, mi, sec, f)


class Session:
    def __init__(self, rnd, tmpl):
        self.lines = rnd.choice(tmpl)
        self.i = 0
        self.sid = "%016x" % rnd.getrandbits(64)
        self.user = "user%05d" % int(rnd.paretovariate(1.2) * 3 % 20000)
        self.addr = "10.%d.%d.%d" % (rnd.randrange(4), rnd.randrange(256), rnd.randrange(50))


def main():
    args = [a for a in sys.argv[1:] if a != "--no-close"]
    if not args or len(args) > 2:
        sys.exit("usage: genlog.py OUT [BYTES] [--no-close]")
    target = int(args[1]) if len(args) > 1 else 1 << 30
    rnd = random.Random(7)
    tmpl = templates("--no-close" in sys.argv)
    active = [Session(rnd, tmpl) for _ in range(64)]
    clock = written = n = 0
    with open(args[0], "w", encoding="utf-8") as out:
        while written < target:
            k = rnd.randrange(len(active))
            s = active[k]
            line = s.lines[s.i]
            s.i += 1
            at = line.index('"sid":"') + 7
            line = line.replace(line[at:at + 16], s.sid, 1)
            clock += rnd.randrange(50, 2000)
            line = line[:TS_AT] + ts_str(clock) + line[TS_AT + TS_LEN:]
            if '"ms":' in line:
                line = MS.sub('"ms":%.3f' % rnd.lognormvariate(0.5, 1.5), line)
            if '"user":"' in line:
                line = USER.sub('"user":"%s"' % s.user, line)
            if '"addr":"127.0.0.1"' in line:
                line = line.replace('"addr":"127.0.0.1"', '"addr":"%s"' % s.addr)
            out.write(line + "\n")
            written += len(line.encode()) + 1
            n += 1
            if s.i == len(s.lines):
                active[k] = Session(rnd, tmpl)
    print("%s: %d lines, %d bytes" % (args[0], n, written))


if __name__ == "__main__":
    main()
