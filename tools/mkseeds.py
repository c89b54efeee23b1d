#!/usr/bin/env python3
"""mkseeds.py: write the libFuzzer seeds in tests/fuzz/seeds/ from the golden transcripts.

  tools/mkseeds.py [DATA_DIR] [-o SEEDS_DIR]     (defaults: tests/data, tests/fuzz/seeds)

For every case (protocol.md section 8; octets are str chars U+0000-U+00FF, one per byte):
  c2s-NAME      2-byte prefix + the client stream       (fuzz_c2s)
  s2c-NAME      2-byte prefix + the server stream       (fuzz_s2c)
  session-NAME  2-byte prefix + the timeline as records (fuzz_session)
The prefix (tests/fuzz/fuzz_common.h): byte 0 = split kind | param << 3 | option << 7,
byte 1 = limit profile | prologue << 2 | keep << 5 | variant << 6.  Seeds use random
chunks of 1-16 bytes and the default limits; the fuzzer mutates the prefix like any byte.
fuzz_s2c seeds get the client prologue "a1 LOGIN, a2 SELECT, a3 UID FETCH" (the golden
tags) and, for cases with a keepalive timer, the timer after every line.
A record is op (1 byte), len (2 bytes, big-endian), data: op 0 client bytes, 1 server
bytes, 2 timer, 3 TLS handshake done, 4 client closed, 5 server closed.
Every run rewrites the folder: every file in it is removed first (give the fuzzers
another directory to write new inputs to; libFuzzer writes to its first corpus directory).
"""
import json, os, struct, sys

SPLIT_RANDOM_1_16 = 3
PROLOGUE_S2C_FETCH = 2
OPS = {"c2s": 0, "s2c": 1, "timer": 2, "tls": 3, "c2s_eof": 4, "s2c_eof": 5}


def prefix(split_kind=SPLIT_RANDOM_1_16, param=0, option=0, profile=0, prologue=0, keep=0,
           variant=0):
    return bytes([split_kind | param << 3 | option << 7,
                  profile | prologue << 2 | keep << 5 | variant << 6])


def octets(s):
    return s.encode("latin-1")


def variant_of(case):
    cfg = case.get("config") or {}
    if cfg.get("client_tls") == "starttls":
        return 1
    if cfg.get("require_tls"):
        return 2
    if "strip_caps" in cfg and not any(c.startswith("COMPRESS=") for c in cfg["strip_caps"]):
        return 3
    return 0


def records(case):
    out = bytearray()
    for step in case["timeline"]:
        op = OPS[step["dir"]]
        data = octets(step.get("data", "")) if op in (0, 1) else b""
        while True:
            part, data = data[:65535], data[65535:]
            out += struct.pack(">BH", op, len(part)) + part
            if not data:
                break
    return bytes(out)


def main(argv):
    data_dir, out_dir = "tests/data", "tests/fuzz/seeds"
    args = list(argv)
    if "-o" in args:
        i = args.index("-o")
        out_dir = args[i + 1]
        del args[i:i + 2]
    if args:
        data_dir = args[0]
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):  # the folder holds generated seeds only
        path = os.path.join(out_dir, f)
        if os.path.isfile(path):
            os.unlink(path)
    n = 0
    for fn in sorted(os.listdir(data_dir)):
        if not fn.endswith(".json"):
            continue
        with open(os.path.join(data_dir, fn), encoding="utf-8") as fh:
            case = json.load(fh)
        cases = case if isinstance(case, list) else [case]
        for c in cases:
            name = c["name"]
            timer = any(s["dir"] == "timer" for s in c["timeline"])
            var = variant_of(c)
            seeds = {
                "c2s-" + name: prefix(variant=var) + octets(c["c2s"]),
                "s2c-" + name: prefix(option=int(timer), prologue=PROLOGUE_S2C_FETCH,
                                      variant=var) + octets(c["s2c"]),
                "session-" + name: prefix(variant=var) + records(c),
            }
            for sname, blob in seeds.items():
                with open(os.path.join(out_dir, sname), "wb") as fh:
                    fh.write(blob)
                n += 1
    print("mkseeds: %d seeds in %s" % (n, out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
