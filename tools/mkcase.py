#!/usr/bin/env python3
"""mkcase.py: write and check the golden transcripts in tests/data/ (protocol.md section 8).

  tools/mkcase.py SPEC... [-o DIR]     build DIR/<name>.json (DIR defaults to tests/data)
  tools/mkcase.py --check PATH...      sanity-check case files (or every *.json in a directory)
  tools/mkcase.py --split FILE [-o DIR] copy each case of a JSON array to DIR/corpus_<name>.json

A SPEC is a .json file (one case object or a list) or a .py file defining CASES (a list).
A case spec has name, focus, description, optional config / relay_expect / must_not_log and
steps. A step is a chunk {"dir": "c2s"|"s2c", "data": "..."} (shorthand {"c2s": "..."}) or a
marker {"dir": "timer"|"tls"|"s2c_eof"} (or the bare string); any step may carry
"events": [...], the events that feeding that step produces, in order, WITHOUT "off".
Octets are str chars U+0000-U+00FF, one per byte (latin-1 mapping). The project's specs are
tests/data/specs/*.py (helpers in _common.py there); rebuild with tools/mkcase.py tests/data/specs/*.py

Offsets. The tool frames each stream into units: a line ending in LF (CRLF or bare LF) plus,
when the line ends in a literal marker {n} {n+} ~{n} ~{n+} outside a quoted string and is
not a text-mode server line ("+...", "* OK|NO|BAD|BYE|PREAUTH ...", "tag OK|NO|BAD ..."),
n octets and the rest of the line. A c2s sync literal whose marker ends a chunk counts as
never sent (refused) when no "+" line but a tagged line comes from the server before the
next c2s chunk. An event with a "dir" gets "off" = the start of a unit of that direction
that has begun in the bytes fed so far: with "at": "<prefix>" the first unit at or after
the previous event's unit (same direction) starting with prefix; without "at" the next unit
after it (i.e. the chunk start when the unit starts the chunk).

Checks (build and --check): required keys; chunks concatenate to c2s/s2c; octets <= 0xFF;
each stream frames completely and every literal is followed by SP, ")" or the line end
(catches wrong literal lengths); every "off" is a unit start, offsets never go back within
a direction and every unit gets at least one event; no must_not_log string in any expected
event; file name is <name>.json or corpus_<name>.json; names unique (--check).
"""
import json, os, re, runpy, sys

sys.dont_write_bytecode = True  # spec helpers live in tests/data/specs; keep it clean

MARKERS = ("timer", "tls", "s2c_eof")
MARK = re.compile(r"~?\{(\d+)\+?\}$")
REQUIRED = ("name", "focus", "description", "c2s", "s2c", "timeline", "expected_events")


def text_mode(line):
    """s2c lines whose trailing {n} is text (protocol.md 2.2)."""
    t = (line.split(" ", 2) + [""])[:2]
    w = t[1].upper()
    return line.startswith("+") or w in ("OK", "NO", "BAD") or (t[0] == "*" and w in ("BYE", "PREAUTH"))


def trailing_literal(seg):
    inq = esc = False
    for ch in seg:
        if esc:
            esc = False
        elif inq and ch == "\\":
            esc = True
        elif ch == '"':
            inq = not inq
    m = None if inq else MARK.search(seg)
    return int(m.group(1)) if m else None


def frame(s, d, unsent=()):
    """Unit start offsets of stream s (direction d); raises ValueError."""
    starts, i = [], 0
    while i < len(s):
        starts.append(i)
        tm = None
        while True:
            j = s.find("\n", i)
            if j < 0:
                raise ValueError("%s: unit at %d does not end in LF" % (d, starts[-1]))
            seg = s[i:j - 1] if j > i and s[j - 1] == "\r" else s[i:j]
            if tm is None:
                tm = d == "s2c" and text_mode(seg)
            n = None if tm else trailing_literal(seg)
            if n is None or (d == "c2s" and j + 1 in unsent):
                i = j + 1
                break
            i = j + 1 + n
            if i >= len(s) or s[i] not in " )\r\n":
                raise ValueError("%s: literal {%d} at %d: wrong length or data missing" % (d, n, j + 1))
    return starts


def unsent_literals(timeline):
    """c2s offsets right after a sync literal marker whose data was never sent."""
    out, pos = set(), 0
    for k, t in enumerate(timeline):
        if t["dir"] != "c2s":
            continue
        pos += len(t["data"])
        if not re.search(r"(^|[^+])\}\r?\n$", t["data"]):
            continue
        plus = tagged = False
        for u in timeline[k + 1:]:
            if u["dir"] == "c2s":
                break
            if u["dir"] == "s2c":
                lines = u["data"].split("\n")
                plus |= any(x.startswith("+") for x in lines)
                tagged |= any(re.match(r"[^*+ ]+ (OK|NO|BAD)\b", x, re.I) for x in lines)
        if tagged and not plus:
            out.add(pos)
    return out


def check_case(c, fname=None):
    if not isinstance(c, dict):
        return ["not a JSON object"]
    errs = ["missing key " + k for k in REQUIRED if k not in c]
    if errs:
        return errs
    if c["focus"] not in ("relay", "parse", "both"):
        errs.append("bad focus")
    if fname and os.path.basename(fname) not in (c["name"] + ".json", "corpus_%s.json" % c["name"]):
        errs.append("file name does not match name")
    errs += ["bad timeline dir %r" % t["dir"] for t in c["timeline"]
             if t["dir"] not in MARKERS + ("c2s", "s2c")]
    starts = {}
    for d in ("c2s", "s2c"):
        if "".join(t["data"] for t in c["timeline"] if t["dir"] == d) != c[d]:
            errs.append(d + ": chunks do not concatenate to the stream")
        if any(ord(ch) > 255 for ch in c[d]):
            errs.append(d + ": char above U+00FF")
        try:
            starts[d] = frame(c[d], d, unsent_literals(c["timeline"]))
        except ValueError as e:
            errs.append(str(e))
            starts[d] = []
    last, used = {"c2s": -1, "s2c": -1}, set()
    for i, e in enumerate(c["expected_events"]):
        if "ev" not in e:
            errs.append("event %d: no ev" % i)
        d = e.get("dir")
        if d is None:
            continue
        off = e.get("off")
        if d not in starts or not isinstance(off, int):
            errs.append("event %d: bad dir/off" % i)
        elif off not in starts[d]:
            errs.append("event %d: off %d is not a %s unit start" % (i, off, d))
        elif off < last[d]:
            errs.append("event %d: off %d goes back in %s" % (i, off, d))
        else:
            last[d] = off
            used.add((d, off))
    errs += ["%s unit at %d has no event: %r" % (d, u, c[d][u:u + 30])
             for d in starts for u in starts[d] if (d, u) not in used]
    blob = json.dumps(c["expected_events"], ensure_ascii=False)
    for secret in c.get("must_not_log") or []:
        if secret in blob or json.dumps(secret)[1:-1] in blob:
            errs.append("must_not_log %r appears in expected_events" % secret)
    return errs


def build(spec):
    timeline, evlists = [], []
    for st in spec["steps"]:
        st = dict({"dir": st} if isinstance(st, str) else st)
        for d in ("c2s", "s2c"):
            if d in st:
                st["dir"], st["data"] = d, st.pop(d)
        st.setdefault("data", "keepalive" if st["dir"] == "timer" else "")
        timeline.append({"dir": st["dir"], "data": st["data"]})
        evlists.append(st.get("events", []))
    streams = {d: "".join(t["data"] for t in timeline if t["dir"] == d) for d in ("c2s", "s2c")}
    unsent = unsent_literals(timeline)
    starts = {d: frame(streams[d], d, unsent) for d in streams}
    fed, last, events = {"c2s": 0, "s2c": 0}, {"c2s": -1, "s2c": -1}, []
    for t, evs in zip(timeline, evlists):
        if t["dir"] in fed:
            fed[t["dir"]] += len(t["data"])
        for e in evs:
            e = dict(e)
            at = e.pop("at", None)
            d = e.get("dir")
            if d is not None:
                c = [u for u in starts[d] if u < fed[d] and
                     (u >= last[d] and streams[d].startswith(at, u) if at is not None else u > last[d])]
                if not c:
                    raise ValueError("%s: no %s unit for %r (at=%r)" % (spec["name"], d, e, at))
                last[d] = e["off"] = c[0]
            events.append(e)
    case = dict(spec, c2s=streams["c2s"], s2c=streams["s2c"], must_not_log=spec.get("must_not_log") or [],
                timeline=timeline, expected_events=events)
    order = ("name", "focus", "description", "config", "c2s", "s2c", "relay_expect", "must_not_log",
             "timeline", "expected_events")  # the corpus key order; None values are dropped
    return {k: case[k] for k in order if case.get(k) is not None}


def write(case, outdir, fname=None):
    path = os.path.join(outdir, fname or case["name"] + ".json")
    errs = check_case(case, path)
    if errs:
        sys.exit("%s:\n  %s" % (case["name"], "\n  ".join(errs)))
    with open(path, "w") as f:
        f.write(json.dumps(case, indent=1, ensure_ascii=True) + "\n")


def load_specs(path):
    if path.endswith(".py"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
        return runpy.run_path(path).get("CASES", [])  # helper modules define none
    data = json.load(open(path))
    return data if isinstance(data, list) else [data]


def main(argv):
    outdir = "tests/data"
    if "-o" in argv:
        k = argv.index("-o")
        outdir = argv[k + 1]
        del argv[k:k + 2]
    if argv[:1] == ["--check"]:
        files = []
        for p in argv[1:]:
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".json")) \
                if os.path.isdir(p) else [p]
        bad, names = 0, {}
        for f in files:
            try:
                c = json.load(open(f))
            except ValueError as e:
                c = "invalid JSON: %s" % e
            errs = check_case(c, f) if isinstance(c, dict) else [str(c)]
            if isinstance(c, dict) and c.get("name") in names:
                errs.append("name also used by " + names[c["name"]])
            names[isinstance(c, dict) and c.get("name")] = f
            for e in errs:
                print("%s: %s" % (f, e))
            bad += bool(errs)
        print("%d cases checked, %d with problems" % (len(files), bad))
        return 1 if bad else 0
    if argv[:1] == ["--split"]:
        for c in json.load(open(argv[1])):
            write(c, outdir, "corpus_%s.json" % c["name"])
        return 0
    if not argv:
        sys.exit(__doc__)
    for p in argv:
        for spec in load_specs(p):
            write(build(spec), outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
