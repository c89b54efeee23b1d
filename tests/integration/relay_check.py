#!/usr/bin/python3
"""Byte-exact relay checks shared by the test modules: imaptap's capture
against what the client sent/received and against Dovecot's rawlog."""

from dovecot_fixture import RAWLOG_STAMP
from imaptap_fixture import capture_streams, sha, wait_for


def rawlog_names(dv):
    """The rawlog pairs that exist now (pass to check_relay as exclude)."""
    return {pair[0] for pair in dv.rawlog_files()}


def _rawlogs(dv, exclude):
    out = []
    for pair in dv.rawlog_files():
        if pair[0] in exclude:
            continue
        data = []
        for path in pair:
            with open(path, "rb") as f:
                data.append(RAWLOG_STAMP.sub(b"", f.read()))
        out.append(tuple(data))
    return out


def login_split(events):
    """(c2s, s2c) offsets where Dovecot's post-login imap process takes over:
    the first command after the successful LOGIN/AUTHENTICATE, and the first
    server element after that login command."""
    login = None
    for i, e in enumerate(events):
        if e["ev"] == "command" and e.get("cmd") in ("LOGIN", "AUTHENTICATE"):
            login = i
    if login is None:
        raise AssertionError("no LOGIN/AUTHENTICATE command in the session")
    c2s = next((e["off"] for e in events[login + 1:]
                if e["ev"] == "command" and e.get("dir") == "c2s"), None)
    s2c = next((e["off"] for e in events[login + 1:] if e.get("dir") == "s2c"), None)
    return c2s, s2c


def rawlog_for(dv, c2s, s2c, exclude=(), timeout=10):
    """The one Dovecot rawlog pair (among those not in exclude) whose streams
    are suffixes of the capture's (polls: Dovecot writes it as it goes)."""
    found = []

    def probe():
        found[:] = []
        for rin, rout in _rawlogs(dv, exclude):
            if rin and rout and c2s.endswith(rin) and s2c.endswith(rout):
                found.append((rin, rout))
        return len(found) == 1
    try:
        wait_for(probe, timeout, "Dovecot's rawlog of the session")
    except AssertionError:
        raise AssertionError(
            "%d rawlog pair(s) match the capture (c2s %d bytes sha %s, s2c %d bytes sha %s); "
            "rawlogs: %s" % (len(found), len(c2s), sha(c2s)[:16], len(s2c), sha(s2c)[:16],
                             [(len(a), len(b)) for a, b in _rawlogs(dv, exclude)])) from None
    return found[0]


def check_relay(tc, px, sid, events, client_sent=None, client_recv=None, dv=None, exclude=()):
    """The capture of session `sid` equals what the client sent/received (when
    given), and its post-login part equals Dovecot's rawlog (when dv; rawlogs
    named in exclude, from rawlog_names() before the session, are older)."""
    c2s, s2c, meta = capture_streams(px.capture_for(sid))
    tc.assertEqual(meta[0].get("sid"), sid, "capture meta sid")
    if client_sent is not None:
        tc.assertEqual((len(client_sent), sha(bytes(client_sent))), (len(c2s), sha(c2s)),
                       "bytes the client sent != bytes imaptap received from it")
    if client_recv is not None:
        tc.assertEqual((len(client_recv), sha(bytes(client_recv))), (len(s2c), sha(s2c)),
                       "bytes the client received != bytes imaptap received from the server")
    if dv is not None:
        rin, rout = rawlog_for(dv, c2s, s2c, exclude)
        want_c2s, want_s2c = login_split(events)
        tc.assertEqual(len(c2s) - len(rin), want_c2s,
                       "Dovecot's rawlog (received) starts at c2s offset %d, expected %s"
                       % (len(c2s) - len(rin), want_c2s))
        tc.assertEqual(len(s2c) - len(rout), want_s2c,
                       "Dovecot's rawlog (sent) starts at s2c offset %d, expected %s"
                       % (len(s2c) - len(rout), want_s2c))
        tc.assertEqual(sha(c2s[want_c2s:]), sha(rin), "c2s after login != Dovecot received")
        tc.assertEqual(sha(s2c[want_s2c:]), sha(rout), "s2c after login != Dovecot sent")
    return c2s, s2c
