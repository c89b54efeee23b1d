#!/usr/bin/python3
"""schema_check.py: validate imaptap JSON log lines against logger/schema-v1.json.

  tests/unit/schema_check.py [--schema PATH] [FILE...]   (no FILE, or "-": stdin)

Prints "line N: error" (for a file: "FILE: line N: error") for each failure (one line per error, the most
specific first) and exits 1 if any line failed, 2 on a usage or schema error.
Needs python3-jsonschema (Debian: /usr/bin/python3).
"""
import argparse
import json
import os
import sys

try:
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover
    sys.stderr.write("schema_check.py: needs jsonschema (apt install python3-jsonschema; "
                     "run with /usr/bin/python3)\n")
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMA = os.path.join(HERE, "..", "..", "logger", "schema-v1.json")


def leaf_errors(error):
    """The errors that say what is wrong: for allOf/if-then and oneOf, the
    sub-errors rather than the summary."""
    if error.context:
        out = []
        for sub in error.context:
            out.extend(leaf_errors(sub))
        return out
    return [error]


def describe(error):
    where = "/".join(str(p) for p in error.absolute_path)
    return (where + ": " if where else "") + error.message


def split_lines(data):
    """Lines ending in LF (bytes.splitlines would also split at a bare CR)."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def check_stream(validator, name, stream):
    bad = 0
    for n, raw in enumerate(stream, 1):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                print("%sline %d: not UTF-8: %s" % (name, n, e))
                bad += 1
                continue
        if not raw.endswith("\n"):
            print("%sline %d: not terminated by a newline" % (name, n))
            bad += 1
        line = raw.rstrip("\n")
        if line == "":
            print("%sline %d: empty line" % (name, n))
            bad += 1
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            print("%sline %d: not JSON: %s" % (name, n, e))
            bad += 1
            continue
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        if errors:
            bad += 1
            seen = set()
            for err in errors:
                for leaf in leaf_errors(err):
                    msg = describe(leaf)
                    if msg not in seen:
                        seen.add(msg)
                        print("%sline %d: %s" % (name, n, msg))
    return bad


def main():
    ap = argparse.ArgumentParser(description="Validate imaptap JSON log lines against schema v1.")
    ap.add_argument("--schema", default=DEFAULT_SCHEMA, help="schema file (default: %(default)s)")
    ap.add_argument("files", nargs="*", help="JSON-lines files; none or '-' for stdin")
    args = ap.parse_args()
    try:
        with open(args.schema, encoding="utf-8") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError) as e:
        sys.stderr.write("schema_check.py: %s: %s\n" % (args.schema, e))
        return 2
    validator = Draft202012Validator(schema)
    bad = 0
    lines = 0
    for name in args.files or ["-"]:
        if name == "-":
            data = split_lines(sys.stdin.buffer.read())
            name = ""
        else:
            try:
                with open(name, "rb") as f:
                    data = split_lines(f.read())
            except OSError as e:
                sys.stderr.write("schema_check.py: %s\n" % e)
                return 2
        lines += len(data)
        bad += check_stream(validator, name + ": " if name else "", data)
    print("schema_check: %d lines, %d failed" % (lines, bad), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
