"""Helpers for the case specs in this folder (built by tools/mkcase.py).

A step is C(*parts) (client to server) or S(*parts) (server to client). Each part is
  - a str: raw octets, no event of their own;
  - an event dict (see ev()): emitted when this chunk is fed, in order;
  - a (data, [events]) pair, as returned by the line helpers below.
Line helpers take one protocol line WITHOUT its CRLF (literal data may be inside) and
derive the obvious fields from it; extra keyword arguments are added to the event:
  cm(line, cmd, **kw)   command (tag = first token)
  tg(line, cmd, **kw)   tagged completion (tag, status, code, code_data, text)
  un(line, **kw)        untagged (name, n, and code/code_data/text for status lines)
Octets: one str char per byte (latin-1); u8("é") gives the UTF-8 octets of a text.
"""
import base64
import re

CRLF = "\r\n"
IN = {"mailbox": "INBOX"}
TIMER = {"dir": "timer", "data": "keepalive"}
EOF = {"dir": "s2c_eof", "data": ""}

GREETING = "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE AUTH=PLAIN] Dovecot ready."
POSTCAPS = ("IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE SORT UIDPLUS MOVE CONDSTORE QRESYNC "
            "BINARY ESEARCH NAMESPACE")


def u8(text):
    return text.encode("utf-8").decode("latin-1")


def b64(octets):
    return base64.b64encode(octets.encode("latin-1")).decode("ascii")


def q(s):
    """A quoted string with \\ and \" escapes."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lit(s):
    """A synchronizing-literal rendering {n}CRLF<s> (as a server sends it)."""
    return "{%d}\r\n%s" % (len(s), s)


def ev(_ev, **kw):
    if "for_" in kw:
        kw["for"] = kw.pop("for_")
    return dict({"ev": _ev}, **kw)


def _step(d, parts):
    data, events = "", []
    for p in parts:
        if isinstance(p, str):
            data += p
        elif isinstance(p, dict):
            events.append(p)
        else:
            data += p[0]
            events += p[1]
    return {"dir": d, "data": data, "events": events}


def C(*parts):
    return _step("c2s", parts)


def S(*parts):
    return _step("s2c", parts)


STATUS = re.compile(r"(\S+) (OK|NO|BAD|BYE|PREAUTH)(?: (?:\[([^\] ]+)(?: ([^\]]*))?\] ?)?(.*))?$",
                    re.S | re.I)


def _status_fields(line):
    m = STATUS.match(line)
    f = {"status" if m.group(1) != "*" else "name": m.group(2).upper()}
    if m.group(3):
        f["code"] = m.group(3).upper()
        if m.group(4) is not None and f["code"] != "CAPABILITY":
            f["code_data"] = m.group(4)
    if m.group(5) is not None:
        f["text"] = m.group(5)
    return f


def cm(line, cmd, **kw):
    return line + CRLF, [ev("command", dir="c2s", tag=line.split(" ", 1)[0], cmd=cmd, **kw)]


def tg(line, cmd, **kw):
    e = ev("tagged", dir="s2c", tag=line.split(" ", 1)[0], cmd=cmd)
    e.update(_status_fields(line))
    e.update(kw)
    return line + CRLF, [e]


def un(line, **kw):
    t = line.split(" ", 3)
    if STATUS.match(line) and t[1].upper() in ("OK", "NO", "BAD", "BYE", "PREAUTH"):
        e = ev("untagged", dir="s2c", **_status_fields(line))
    elif t[1].isdigit():
        e = ev("untagged", dir="s2c", name=t[2].split("\r")[0].upper(), n=int(t[1]))
    else:
        e = ev("untagged", dir="s2c", name=t[1].split("\r")[0].upper())
    e.update(kw)
    return line + CRLF, [e]


def cont(tag, for_="literal", **kw):
    return ev("continue", dir="s2c", tag=tag, for_=for_, **kw)


def sasl(tag, **kw):
    return ev("client_line", dir="c2s", tag=tag, kind="sasl", **kw)


def auth(method, status, **kw):
    return ev("auth", method=method, status=status, **kw)


def idle(tag, state, **kw):
    return ev("idle", dir="s2c" if state == "start" else "c2s", tag=tag, state=state, **kw)


def perr(d, **kw):
    return ev("parse_error", dir=d, **kw)


def anomaly(d, kind, **kw):
    return ev("anomaly", dir=d, kind=kind, **kw)


def greeting(line=GREETING, **kw):
    return S(un(line, greeting=True, **kw))


def login(tag="a1", user="alice", pw="s3cr3t", caps=POSTCAPS):
    """C: LOGIN with atoms; S: OK [CAPABILITY ...]. Two steps."""
    return [C(cm("%s LOGIN %s %s" % (tag, user, pw), "LOGIN", args=user + " ***")),
            S(tg("%s OK [CAPABILITY %s] Logged in" % (tag, caps), "LOGIN", state="authenticated"),
              auth("LOGIN", "OK", user=user))]


def select(tag="a2", box="INBOX", exists=10, uidvalidity=1700000000):
    return [C(cm("%s SELECT %s" % (tag, box), "SELECT", mailbox=box)),
            S(un("* %d EXISTS" % exists, mailbox=box),
              un("* OK [UIDVALIDITY %d] UIDs valid" % uidvalidity),
              tg("%s OK [READ-WRITE] Select completed (0.001 + 0.000 secs)." % tag, "SELECT",
                 state="selected"))]


def prelude(selected=True):
    """Greeting, a1 LOGIN alice, and (selected=True) a2 SELECT INBOX with 10 messages."""
    return [greeting()] + login() + (select() if selected else [])


def case(name, focus, description, steps, must_not_log=("s3cr3t",), **kw):
    return dict(name=name, focus=focus, description=description, steps=steps,
                must_not_log=list(must_not_log), **kw)
