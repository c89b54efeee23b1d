#!/usr/bin/python3
"""Writes the inputs of tests/tools/run.sh that are not recorded live:

  inputs/corpus.jsonl      every committed golden transcript (tests/data/*.json)
                           decoded by IMAPTAP, each session's ts set to a fixed
                           time (decode stamps the wall clock)
  inputs/all_events.jsonl  inputs/proxy.jsonl (record_proxy.py), a hand-written
                           session with every event type and the rare fields
                           (IPv6 client, --no-redact, unverified upstream,
                           STARTTLS, keepalive containment, a 30-minute IDLE,
                           limits, an error close with dropped lines) and a few
                           decoded transcripts (anomalies, parse errors, limits,
                           SASL lines), interleaved by time
  inputs/empty.jsonl       nothing
  inputs/damaged.jsonl     lines that are not JSON, not objects, of schema 2, an
                           unknown event, no sid, and a truncated last line

    tests/tools/mkinputs.py IMAPTAP

Every line of corpus and all_events is checked against logger/schema-v1.json
(tests/unit/schema_check.py).  After changing them, run
tests/tools/run.sh IMAPTAP --update and review the diff of expected/.
"""
import datetime
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
INPUTS = os.path.join(HERE, "inputs")
BASE = datetime.datetime(2026, 11, 25, 8, 0, 0, tzinfo=datetime.timezone.utc)


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def dumps(ev):
    return json.dumps(ev, ensure_ascii=False, separators=(",", ":"))


def decode(imaptap, path):
    out = subprocess.run([imaptap, "decode", path], check=True, capture_output=True).stdout
    return [json.loads(l) for l in out.decode().splitlines()]


def committed_cases():
    try:
        out = subprocess.run(["git", "-C", REPO, "ls-files", "tests/data/*.json"], check=True,
                             capture_output=True).stdout.decode().split()
    except (OSError, subprocess.CalledProcessError):
        out = [os.path.relpath(os.path.join(REPO, "tests", "data", f), REPO)
               for f in os.listdir(os.path.join(REPO, "tests", "data")) if f.endswith(".json")]
    return sorted(os.path.join(REPO, p) for p in out)


def synthetic(start):
    """One session with every event type and the fields real logs rarely
    have.  t: seconds after start."""
    sid = "5e55104aa11e7e57"
    evs = []

    def add(t, ev, **kw):
        e = {"v": 1, "ts": ts(start + datetime.timedelta(seconds=t)), "sid": sid,
             "seq": len(evs), "ev": ev}
        e.update(kw)
        evs.append(e)

    c2s, s2c = [0], [0]

    def d(direction, n):
        box = c2s if direction == "c2s" else s2c
        off = box[0]
        box[0] += n
        return {"dir": direction, "off": off}

    add(0.0, "session_open", client={"addr": "2001:db8::7", "port": 50123},
        listener="imap://[::]:143", upstream={"host": "mail.example.net", "port": 993},
        redact=False)
    add(0.012, "tls", leg="server", version="TLSv1.2", cipher="ECDHE-RSA-AES128-GCM-SHA256",
        sni="mail.example.net", peer={"subject": "CN=mail.example.net,O=Example",
                                      "sha256": "3f:a1:07"}, verified=False)
    add(0.013, "untagged", **d("s2c", 60), name="OK", code="CAPABILITY",
        code_data="IMAP4rev1 STARTTLS LOGINDISABLED", text="mail.example.net ready",
        caps=["IMAP4rev1", "STARTTLS", "LOGINDISABLED"], caps_removed=["COMPRESS=DEFLATE"],
        greeting=True)
    add(0.020, "command", **d("c2s", 13), tag="a1", cmd="STARTTLS")
    add(0.020, "starttls", leg="client", state="requested")
    add(0.021, "tagged", **d("s2c", 30), tag="a1", cmd="STARTTLS", status="OK",
        text="Begin TLS negotiation now", ms=0.812, local=True, state="not_authenticated")
    add(0.022, "anomaly", **d("c2s", 14), kind="plaintext_after_starttls",
        text="plaintext after STARTTLS, discarded", bytes=14, discarded=True)
    add(0.031, "tls", leg="client", version="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256")
    add(0.031, "starttls", leg="client", state="ok")
    add(0.040, "command", **d("c2s", 26), tag="a2", cmd="LOGIN", args="carol \"hunter2\"")
    add(0.052, "tagged", **d("s2c", 20), tag="a2", cmd="LOGIN", status="OK",
        text="Logged in", ms=12.5, state="authenticated")
    add(0.052, "auth", method="LOGIN", user="carol", status="OK")
    add(0.060, "command", **d("c2s", 28), tag="a3", cmd="SELECT", args="Entw&APw-rfe",
        mailbox="Entw&APw-rfe", mailbox_utf8="Entwürfe")
    add(0.063, "untagged", **d("s2c", 12), name="EXISTS", n=3, mailbox="Entw&APw-rfe")
    add(0.063, "untagged", **d("s2c", 40), name="FETCH", n=1, mailbox="Entw&APw-rfe",
        fetch={"uid": 7, "flags": [], "modseq": 12, "size": 2048,
               "internaldate": "25-Nov-2026 07:59:00 +0000",
               "envelope": {"subject": "Entwurf \"eins\"\u0007", "from": "Carol <carol@example.net>"},
               "parts": [{"section": "BODY[HEADER]", "size": 300}, {"size": 5}]},
        literals=[300, 5])
    add(0.063, "tagged", **d("s2c", 40), tag="a3", cmd="SELECT", status="OK", code="READ-WRITE",
        text="Select completed", ms=3.25, state="selected")
    add(240.1, "keepalive", tag="PXK1", cmd="NOOP", state="sent")
    add(240.102, "untagged", **d("s2c", 12), name="EXPUNGE", n=2, mailbox="Entw&APw-rfe",
        held=True)
    add(240.102, "anomaly", kind="expunge_during_keepalive", text="EXPUNGE held for the client")
    add(240.103, "keepalive", **d("s2c", 20), tag="PXK1", state="ok", ms=0.9, held=1)
    add(250.0, "command", **d("c2s", 24), tag="a4", cmd="FETCH", args="1:* (FLAGS)")
    add(250.0, "tagged", tag="a4", cmd="FETCH", status="NO", code="EXPUNGEISSUED",
        text="imaptap: messages were expunged", ms=0.05, local=True, state="selected")
    add(251.0, "command", **d("c2s", 10), tag="a5", cmd="NOOP")
    add(251.0, "keepalive", tag="PXK1", state="released", held=1)
    add(251.001, "tagged", **d("s2c", 20), tag="a5", cmd="NOOP", status="OK",
        text="NOOP completed", ms=1.0, state="selected")
    add(252.0, "command", **d("c2s", 9), tag="a6", cmd="IDLE")
    add(252.001, "idle", **d("s2c", 10), tag="a6", state="start")
    add(1992.0, "anomaly", kind="idle_over_29min", tag="a6",
        text="the client has been idle for more than 29 minutes")
    add(2052.1, "idle", **d("c2s", 6), tag="a6", state="done", ms=1800099.0)
    add(2052.102, "tagged", **d("s2c", 30), tag="a6", cmd="IDLE", status="OK",
        text="Idle completed", ms=1800101.0, state="selected")
    add(2292.2, "keepalive", tag="PXK2", cmd="NOOP", state="sent")
    add(2292.204, "keepalive", **d("s2c", 30), tag="PXK2", state="no", ms=4.0, held=0)
    add(2300.0, "command", **d("c2s", 40), tag="a7", cmd="APPEND", args="Entw&APw-rfe {5+}",
        mailbox="Entw&APw-rfe", literals=[5], nonsync=True, truncated=True)
    add(2300.0, "continue", **d("s2c", 12), tag="a7", **{"for": "literal"}, text="go ahead")
    add(2300.001, "client_line", **d("c2s", 5), kind="literal_data", tag="a7", len=5)
    add(2300.002, "limit", what="buffer", value=300000, max=262144)
    add(2300.003, "parse_error", **d("s2c", 64), reason="bad_literal",
        excerpt="* 1 FETCH (BODY[] {99999999999999999999999999", resync="raw")
    add(2300.004, "limit", **d("s2c", 0), what="literal", value=1099511627777,
        max=1099511627776)
    add(2301.5, "session_close", reason="error: upstream closed during a literal",
        bytes={"c2s": c2s[0], "s2c": s2c[0]}, commands=7, duration_ms=2301500.0, user="carol",
        dropped=3)
    return evs


def retime(evs, start, step):
    """The events of one decoded session at start, step seconds apart."""
    for i, e in enumerate(evs):
        e["ts"] = ts(start + datetime.timedelta(seconds=i * step))
    return evs


def by_session(evs):
    out = {}
    for e in evs:
        out.setdefault(e["sid"], []).append(e)
    return out


def schema_check(path):
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "unit", "schema_check.py"), path],
                   check=True)


def write(name, evs):
    path = os.path.join(INPUTS, name)
    with open(path, "w", encoding="utf-8") as f:
        for e in evs:
            f.write(dumps(e) + "\n")
    return path


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mkinputs.py IMAPTAP")
    imaptap = sys.argv[1]

    # corpus: each transcript at its own fixed time
    corpus = []
    cases = committed_cases()
    for i, path in enumerate(cases):
        t = ts(BASE + datetime.timedelta(seconds=i))
        for e in decode(imaptap, path):
            e["ts"] = t
            corpus.append(e)
    schema_check(write("corpus.jsonl", corpus))

    # every event type, interleaved with the live recording
    with open(os.path.join(INPUTS, "proxy.jsonl"), encoding="utf-8") as f:
        proxy = [json.loads(l) for l in f]
    start = parse_ts(proxy[0]["ts"])
    mixed = [(parse_ts(e["ts"]), 0, i, e) for i, e in enumerate(proxy)]
    for i, e in enumerate(synthetic(start + datetime.timedelta(seconds=0.5))):
        mixed.append((parse_ts(e["ts"]), 1, i, e))
    picks = ["anomaly_bare_lf_line_ending", "corpus_malformed_lines_parse_error_relayed_unchanged",
             "limit_c2s_line_over_max", "auth_login_mechanism_prompts",
             "corpus_authenticate_login_cancel_then_success",
             "corpus_capability_rewrite_strip_compress_and_scram_plus",
             "utf8_invalid_octets_lossy", "corpus_sync_literal_rejected_by_tagged_no"]
    for k, name in enumerate(picks):
        evs = decode(imaptap, os.path.join(REPO, "tests", "data", name + ".json"))
        t0 = start + datetime.timedelta(seconds=0.25 + 0.7 * k)
        for i, e in enumerate(retime(evs, t0, 0.05)):
            mixed.append((parse_ts(e["ts"]), 2 + k, i, e))
    mixed.sort(key=lambda x: (x[0], x[1], x[2]))
    schema_check(write("all_events.jsonl", [m[3] for m in mixed]))

    write("empty.jsonl", [])

    # damaged: what a reader must survive
    d = "0000000000000d01"
    lines = [
        dumps({"v": 1, "ts": "2026-11-25T09:00:00.000000Z", "sid": d, "seq": 0,
               "ev": "session_open", "client": {"addr": "192.0.2.1", "port": 40000},
               "listener": "imaps://0.0.0.0:993", "upstream": {"host": "mail", "port": 993}}),
        "this line is not JSON",
        dumps({"v": 1, "ts": "2026-11-25T09:00:00.100000Z", "sid": d, "seq": 1, "ev": "command",
               "dir": "c2s", "off": 0, "tag": "a1", "cmd": "NOOP"}),
        "[1, 2, 3]",
        dumps({"v": 2, "ts": "2026-11-25T09:00:00.200000Z", "sid": d, "seq": 2, "ev": "command"}),
        dumps({"v": 1, "ts": "2026-11-25T09:00:00.300000Z", "sid": d, "seq": 3,
               "ev": "frobnicate", "what": "an event of a later version"}),
        dumps({"v": 1, "ts": "2026-11-25T09:00:00.400000Z", "seq": 0, "ev": "anomaly",
               "kind": "log_dropped", "text": "no sid"}),
        dumps({"v": 1, "ts": "not a time", "sid": d, "seq": 4, "ev": "tagged", "dir": "s2c",
               "off": 0, "tag": "a1", "cmd": "NOOP", "status": "OK", "ms": 100.0}),
    ]
    cut = dumps({"v": 1, "ts": "2026-11-25T09:00:00.500000Z", "sid": d, "seq": 5,
                 "ev": "session_close", "bytes": {"c2s": 10, "s2c": 20}, "commands": 1})
    with open(os.path.join(INPUTS, "damaged.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n" + cut[:40])


if __name__ == "__main__":
    main()
