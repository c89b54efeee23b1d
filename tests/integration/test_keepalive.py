#!/usr/bin/python3
"""Keepalive (design.md 3, protocol.md 4) end to end.

Against the scripted autologout server (autologout_server.py: a 5 s
autologout, a slow NOOP, a NOOP refused), for what Dovecot cannot be made to
do:
  - without --keepalive a silent client is logged out by the server; with
    --keepalive 2 it stays silent 20 s and its next command works, and its
    byte stream is what it would have been without imaptap's NOOPs;
  - a command started while imaptap's NOOP is in flight waits for it;
  - a NOOP answered with NO stops keepalive for the session.
Against the private Dovecot:
  - a silent client's view of INBOX (sequence numbers, UIDs, EXISTS) stays
    right while a second connection appends, flags and expunges (NOOP,
    SEARCH and IDLE keepalives);
  - a client that uses imaptap's tag prefix;
  - containment: sequence-number commands answered NO [EXPUNGEISSUED]
    locally and never seen by Dovecot (its rawlog), UID commands release;
  - --keepalive-mode idle: new mail reaches the silent client as EXISTS.

Sleeps only where the protocol's timing is the point (a client silent for
20 s, intervals in which nothing may happen); everything else polls.
"""

import imaplib
import os
import re
import select as select_mod
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autologout_server import BYE, AutologoutServer  # noqa: E402
from dovecot_fixture import HOST, PASSWORD, USER  # noqa: E402
from imaptap_fixture import (ImaptapProcess, RawClient, by_session, decode_events,  # noqa: E402
                             first, make_workdir, recording, remove_workdir, select, wait_for)
from proxy_case import DovecotProxyCase  # noqa: E402

SILENT_S = 20          # the acceptance: silent this long behind a 5 s autologout
AUTOLOGOUT_S = 5.0
PXK_LINE = re.compile(rb"PXK\d+ NOOP\r\n")


def session_of(events):
    """The events of the only session in a log."""
    sessions = by_session(events)
    if len(sessions) != 1:
        raise AssertionError("%d sessions in the log" % len(sessions))
    return list(sessions.values())[0]


def ka_events(events, state=None):
    return [e for e in events if e["ev"] == "keepalive" and (state is None or e["state"] == state)]


def assert_quiet(testcase, client, seconds):
    """Waits `seconds` while asserting that the client's socket receives nothing."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select_mod.select([client.sock], [], [], left)
        if r:
            data = client.sock.recv(65536)
            testcase.fail("the silent client received %r after %.1f s of silence"
                          % (data, seconds - left))


class ScriptedServerTest(unittest.TestCase):
    """imaptap in front of autologout_server.py (cleartext both legs)."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = make_workdir("imaptap-it-keepalive-")

    @classmethod
    def tearDownClass(cls):
        remove_workdir(cls.workdir)

    def setUp(self):
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()

    def proxy(self, upstream, *args, name=None):
        px = ImaptapProcess(os.path.join(self.workdir, name or self.id().split(".")[-1]),
                            listen=["imap"], upstream=upstream, certs=None, args=list(args))
        self.procs.append(px)
        return px.start()

    def login_select(self, c):
        self.assertTrue(c.read_line().startswith(b"* OK "))
        tagged, _ = c.command("LOGIN alice pw", tag="a1")
        self.assertTrue(tagged.startswith(b"a1 OK"), tagged)
        tagged, _ = c.command("SELECT INBOX", tag="a2")
        self.assertTrue(tagged.startswith(b"a2 OK"), tagged)

    @staticmethod
    def conn_with(srv, marker):
        """The server connection whose received bytes contain marker."""
        return wait_for(lambda: next((k for k in srv.conns if marker in k.received), None),
                        10, "a server connection that received %r" % marker)

    # ------------------------------------------------------- acceptance

    def test_silent_client_outlives_autologout(self):
        """Without --keepalive the server's 5 s autologout ends a silent session
        (the client sees the BYE, imaptap logs session_close bye).  With
        --keepalive 2 the client stays silent 20 s, then FETCH works; the
        client received exactly what the session without keepalive received
        (before the BYE) plus its own answers, no PXK byte anywhere, while
        the server saw 'PXKn NOOP' lines and, apart from them, exactly the
        client's bytes."""
        with AutologoutServer(autologout=AUTOLOGOUT_S) as srv:
            plain = self.proxy(srv.url, name="no-keepalive")
            kept = self.proxy(srv.url, "--keepalive", "2", name="keepalive-2")
            c0, c1 = RawClient(plain.port), RawClient(kept.port, timeout=SILENT_S + 15)
            self.login_select(c0)
            self.login_select(c1)
            silent_since = time.monotonic()
            before = bytes(c0.received)
            self.assertEqual(bytes(c1.received), before)

            # without keepalive: the server's BYE, then the close
            rest = c0.read_all()
            took = time.monotonic() - silent_since
            self.assertEqual(rest, BYE)
            self.assertGreater(took, AUTOLOGOUT_S - 0.5)
            plain.wait_closed(1)
            evs = session_of(plain.finish(self))
            close = evs[-1]
            self.assertEqual((close["ev"], close["reason"]), ("session_close", "bye"), close)
            self.assertTrue(first(evs, ev="untagged", name="BYE"), "no BYE event")
            self.assertEqual(ka_events(evs), [])
            c0.close()

            # with keepalive: silent for SILENT_S seconds, nothing arrives
            assert_quiet(self, c1, SILENT_S - (time.monotonic() - silent_since))
            tagged, lines = c1.command("FETCH 1 (FLAGS)", tag="a3")
            self.assertEqual(tagged, b"a3 OK Fetch completed.\r\n")
            self.assertEqual(lines, [b"* 1 FETCH (FLAGS (\\Seen))\r\n"])
            tagged, lines = c1.command("LOGOUT", tag="a4")
            self.assertEqual((tagged, lines), (b"a4 OK Logout completed.\r\n",
                                              [b"* BYE Logging out\r\n"]))
            self.assertEqual(c1.read_all(), b"")
            kept.wait_closed(1)
            c1.close()

            # the client's byte stream: the other session's, plus its own answers
            self.assertEqual(bytes(c1.received),
                             before + b"* 1 FETCH (FLAGS (\\Seen))\r\na3 OK Fetch completed.\r\n"
                             b"* BYE Logging out\r\na4 OK Logout completed.\r\n")
            self.assertNotIn(b"PXK", c1.received)

            # the server: the NOOPs, and otherwise exactly what the client sent
            conn = self.conn_with(srv, b"a3 FETCH")
            wait_for(conn.done.is_set, 10, "the server connection to end")
            self.assertFalse(conn.bye_sent, "the server logged the kept session out")
            noops = PXK_LINE.findall(bytes(conn.received))
            self.assertGreaterEqual(len(noops), SILENT_S // 2 - 2, noops)
            self.assertEqual(PXK_LINE.sub(b"", bytes(conn.received)), bytes(c1.sent))
            gaps = [b[0] - a[0] for a, b in zip(conn.commands, conn.commands[1:])]
            self.assertLess(max(gaps), AUTOLOGOUT_S, "commands at the server: %r" % gaps)

            evs = session_of(kept.finish(self))
            sent = ka_events(evs, "sent")
            oks = ka_events(evs, "ok")
            self.assertEqual([e["tag"] for e in sent], [e["tag"] for e in oks])
            self.assertEqual(len(sent), len(noops))
            self.assertEqual(sorted({e["tag"] for e in sent}),
                             sorted({m[:-len(b" NOOP\r\n")].decode() for m in noops}))
            self.assertTrue(all(e.get("cmd") == "NOOP" for e in sent), sent)
            self.assertEqual(select(evs, ev="anomaly"), [])
            self.assertEqual(evs[-1]["reason"], "logout", evs[-1])

    # ------------------------------------------------- client during NOOP

    def test_command_during_keepalive_waits(self):
        """The client starts a command while imaptap's NOOP is in flight (the
        server answers NOOP after 1 s): the command reaches the server only
        after the NOOP's completion, the client gets its answer and no
        keepalive byte."""
        with AutologoutServer(autologout=None, noop_delay=1.0) as srv:
            px = self.proxy(srv.url, "--keepalive", "1")
            c = RawClient(px.port)
            self.login_select(c)
            conn = self.conn_with(srv, b"a2 SELECT")
            t_noop = wait_for(lambda: conn.first_time(lambda l: l.startswith(b"PXK")), 10,
                              "imaptap's first keepalive at the server")
            t_client = time.monotonic()
            c.send(b"a3 FETCH 1:2 (FLAGS)\r\n")
            tagged, lines = c.until_tagged("a3")
            self.assertEqual(tagged, b"a3 OK Fetch completed.\r\n")
            self.assertEqual(lines, [b"* 1 FETCH (FLAGS (\\Seen))\r\n", b"* 2 FETCH (FLAGS ())\r\n"])
            t_answer = next(t for t, kind, data in conn.log
                            if kind == "send" and re.match(rb"PXK\d+ OK", data))
            t_fetch = conn.first_time(lambda l: l.startswith(b"a3 "))
            # the window was real: the client spoke while the NOOP was out ...
            self.assertLess(t_noop, t_client)
            self.assertLess(t_client, t_answer)
            # ... and its command reached the server only after the NOOP's answer
            self.assertGreaterEqual(t_fetch, t_answer)
            lines_at_server = conn.command_lines()
            k = lines_at_server.index(b"a3 FETCH 1:2 (FLAGS)\r\n")
            self.assertTrue(PXK_LINE.fullmatch(lines_at_server[k - 1]), lines_at_server)
            c.command("LOGOUT", tag="a4")
            c.read_all()
            c.close()
            self.assertNotIn(b"PXK", c.received)
            px.wait_closed(1)
            evs = session_of(px.finish(self))
            cmd = first(evs, ev="command", tag="a3")
            ok = ka_events(evs, "ok")[0]
            self.assertLess(ok["seq"], cmd["seq"], "the FETCH was logged before the NOOP ended")
            self.assertGreaterEqual(ok.get("ms", 0), 900, ok)

    # ------------------------------------------------------ NOOP refused

    def test_noop_refused_stops_keepalive(self):
        """A server that answers the keepalive NOOP with NO: keepalive state=no
        in the log, then anomaly keepalive_stopped, and no further NOOP; the
        client never sees the NO and its session goes on."""
        with AutologoutServer(autologout=None, noop_status="NO") as srv:
            px = self.proxy(srv.url, "--keepalive", "1")
            c = RawClient(px.port)
            self.login_select(c)
            px.wait_log(lambda evs: ka_events(evs, "no"), what="keepalive state=no")
            px.wait_log(lambda evs: first(evs, ev="anomaly", kind="keepalive_stopped"),
                        what="anomaly keepalive_stopped")
            conn = self.conn_with(srv, b"a2 SELECT")
            # three more intervals in which nothing may be injected
            assert_quiet(self, c, 3.0)
            self.assertEqual(len(PXK_LINE.findall(bytes(conn.received))), 1, conn.received)
            tagged, lines = c.command("FETCH 2 (FLAGS)", tag="a3")
            self.assertEqual((tagged, lines), (b"a3 OK Fetch completed.\r\n",
                                               [b"* 2 FETCH (FLAGS ())\r\n"]))
            c.command("LOGOUT", tag="a4")
            c.read_all()
            c.close()
            self.assertNotIn(b"PXK", c.received)
            self.assertNotIn(b" NO ", c.received)
            px.wait_closed(1)
            evs = session_of(px.finish(self))
            self.assertEqual(len(ka_events(evs, "sent")), 1, ka_events(evs))
            no = ka_events(evs, "no")
            self.assertEqual(len(no), 1)
            self.assertEqual(no[0].get("dir"), "s2c", no[0])
            stopped = first(evs, ev="anomaly", kind="keepalive_stopped")
            self.assertLess(no[0]["seq"], stopped["seq"])


    # ----------------------------------------------- partial command line

    def test_no_injection_mid_command_line(self):
        """The client sends half a command line and pauses over two keepalive
        intervals: those bytes are already at the server, so nothing may be
        injected until the line is complete and answered."""
        with AutologoutServer(autologout=None) as srv:
            px = self.proxy(srv.url, "--keepalive", "1")
            c = RawClient(px.port)
            self.login_select(c)
            conn = self.conn_with(srv, b"a2 SELECT")
            c.send(b"a3 FETCH 1 (FL")
            wait_for(lambda: conn.buf == b"a3 FETCH 1 (FL", 10, "the half line at the server")
            assert_quiet(self, c, 2.5)
            self.assertEqual(bytes(conn.buf), b"a3 FETCH 1 (FL")
            c.send(b"AGS)\r\n")
            tagged, lines = c.until_tagged("a3")
            self.assertEqual(tagged, b"a3 OK Fetch completed.\r\n")
            px.wait_log(lambda evs: ka_events(evs, "ok"), what="a keepalive after the command")
            c.command("LOGOUT", tag="a4")
            c.read_all()
            c.close()
            lines_at_server = conn.command_lines()
            k = lines_at_server.index(b"a3 FETCH 1 (FLAGS)\r\n")
            self.assertEqual([l for l in lines_at_server[:k] if l.startswith(b"PXK")], [],
                             lines_at_server)
            self.assertTrue(PXK_LINE.fullmatch(lines_at_server[k + 1]), lines_at_server)
            px.wait_closed(1)
            evs = session_of(px.finish(self))
            first_ka = ka_events(evs, "sent")[0]
            self.assertGreater(first_ka["seq"], first(evs, ev="tagged", tag="a3")["seq"])

    # ---------------------------------------- IDLE mode: renewal and client

    def test_idle_mode_client_during_renewal(self):
        """--keepalive-mode idle against a server that takes 1 s to answer DONE:
        the client sends a command right after imaptap's renewal DONE went
        out.  Its command must be the next thing the server receives after
        the IDLE's OK (no fresh IDLE first), so it is answered within about
        one DONE delay."""
        with AutologoutServer(autologout=None, idle=True, done_delay=1.0) as srv:
            px = self.proxy(srv.url, "--keepalive", "1", "--keepalive-mode", "idle")
            c = RawClient(px.port)
            self.login_select(c)
            conn = self.conn_with(srv, b"a2 SELECT")
            wait_for(lambda: b"DONE\r\n" in conn.command_lines(), 10, "imaptap's renewal DONE")
            t0 = time.monotonic()
            c.send(b"a3 FETCH 1 (FLAGS)\r\n")
            tagged, lines = c.until_tagged("a3")
            took = time.monotonic() - t0
            self.assertEqual(tagged, b"a3 OK Fetch completed.\r\n")
            lines_at_server = conn.command_lines()
            k = lines_at_server.index(b"a3 FETCH 1 (FLAGS)\r\n")
            self.assertEqual(lines_at_server[:k], [b"a1 LOGIN alice pw\r\n", b"a2 SELECT INBOX\r\n",
                                                   b"PXK1 IDLE\r\n", b"DONE\r\n"],
                             "what the server received before the client's command")
            self.assertLess(took, 1.6, "the client's command waited %.2f s" % took)
            c.command("LOGOUT", tag="a4")
            c.read_all()
            c.close()
            self.assertNotIn(b"PXK", c.received)
            self.assertNotIn(b"+ idling", c.received)


class DovecotTest(DovecotProxyCase):
    """imaptap (imaps) in front of the private Dovecot (imaps), with rawlog."""

    WORKDIR_PREFIX = "imaptap-it-keepalive-dv-"
    DOVECOT = dict(messages=10, seed=21, rawlog=True, max_size=4096)

    def proxy(self, *args):
        self.px = ImaptapProcess(os.path.join(self.workdir, self.id().split(".")[-1]),
                                 listen=["imaps"], upstream="imaps://%s:%d" % (HOST, self.dv.tls_port),
                                 certs=self.certs, capture=True,
                                 args=["--upstream-ca", self.dv.ca_file] + list(args))
        return self.px.start()

    def finish(self):
        """Stops imaptap; the session's events, which `imaptap decode` of its
        capture (timer records included) must reproduce."""
        evs = session_of(self.px.finish(self))
        keys = ("ev", "dir", "off", "tag", "cmd", "name", "n", "status", "code", "state", "held",
                "local", "swallowed", "kind")
        decoded = decode_events(self.px.capture_for(evs[0]["sid"]))
        live = [tuple(e.get(k) for k in keys) for e in evs if e["ev"] != "tls"]
        dec = [tuple(e.get(k) for k in keys) for e in decoded if e["ev"] != "tls"]
        if live != dec:
            diff = next(i for i, (a, b) in enumerate(zip(live + [None], dec + [None])) if a != b)
            self.fail("decode of the capture != live log at event %d:\n live: %s\n decoded: %s"
                      % (diff, live[diff - 2:diff + 3], dec[diff - 2:diff + 3]))
        return evs

    def raw_client(self):
        c = RawClient(self.px.port, tls=self.ctx)
        self.assertTrue(c.read_line().startswith(b"* OK"))
        return c

    def direct_view(self):
        """A fresh direct SELECT + FETCH 1:* (UID): (EXISTS, [UIDs in sequence order])."""
        imap = self.dv.imap_client()
        try:
            typ, data = imap.select("INBOX")
            self.assertEqual(typ, "OK")
            exists = int(data[0])
            uids = []
            if exists:
                typ, data = imap.fetch("1:*", "(UID)")
                for item in data:
                    m = re.match(rb"(\d+) \(UID (\d+)\)", item)
                    self.assertEqual(int(m.group(1)), len(uids) + 1, data)
                    uids.append(int(m.group(2)))
            return exists, uids
        finally:
            imap.logout()

    def expunge_direct(self, seqs=(), append=False):
        """On a second, direct connection: APPEND (optional), then \\Deleted on
        the messages at `seqs` (negative: from the end) and EXPUNGE."""
        imap = self.dv.imap_client()
        try:
            if append:
                msg = (b"From: k@example.com\r\nSubject: keepalive %d\r\n\r\nbody\r\n"
                       % time.monotonic_ns())
                typ, _ = imap.append("INBOX", None, None, msg)
                self.assertEqual(typ, "OK")
            typ, data = imap.select("INBOX")
            n = int(data[0])
            for s in seqs:
                typ, _ = imap.store(str(s if s > 0 else n + 1 + s), "+FLAGS", "(\\Deleted)")
                self.assertEqual(typ, "OK")
            if seqs:
                typ, _ = imap.expunge()
                self.assertEqual(typ, "OK")
        finally:
            imap.logout()

    def proxied_rawlog_in(self, marker):
        """Dovecot's rawlog (bytes received) of the session that received marker."""
        def probe():
            for rin, _rout in self.dv.rawlog_bytes():
                if marker in rin:
                    return rin
            return None
        return wait_for(probe, 10, "Dovecot's rawlog with %r" % marker)

    # ------------------------------------------------ the client's view

    def view_stays_right(self, *args):
        """A silent imaplib client SELECTs INBOX and fetches the UIDs; meanwhile a
        direct connection appends, flags and expunges.  Then the client sends
        NOOP and FETCH 1:* (UID): its view, applying what it received in order
        (EXPUNGE, EXISTS, FETCH UID), equals a fresh direct SELECT + FETCH."""
        px = self.proxy("--keepalive", "1", *args)
        idle = "idle" in args
        cl = recording(imaplib.IMAP4_SSL)(HOST, px.port, ssl_context=self.ctx, timeout=30)
        try:
            cl.login(USER, PASSWORD)
            typ, data = cl.select("INBOX")
            self.assertEqual(typ, "OK")
            typ, data = cl.fetch("1:*", "(UID)")
            self.assertEqual(typ, "OK")
            view = [int(re.match(rb"\d+ \(UID (\d+)\)", d).group(1)) for d in data]
            mark = len(cl.rec_recv)
            # the upstream is kept alive (one keepalive done) before the changes
            px.wait_log(lambda evs: ka_events(evs, "idle_start" if idle else "ok"),
                        what="a first keepalive")
            self.expunge_direct(seqs=(2, -1), append=True)
            done_oks = len(ka_events(px.log_lines(), "ok"))
            if "search" in args:
                # compliant servers do not expunge during SEARCH: two whole
                # keepalives after the changes, then the client speaks
                px.wait_log(lambda evs: len(ka_events(evs, "ok")) >= done_oks + 2,
                            what="two keepalives after the changes")
            else:
                px.wait_log(lambda evs: first(evs, ev="anomaly", kind="expunge_during_keepalive"),
                            what="an EXPUNGE held during the keepalive")
            cl.noop()
            typ, data = cl.fetch("1:*", "(UID)")
            self.assertEqual(typ, "OK")
            cl.logout()
        finally:
            try:
                cl.shutdown()
            except OSError:
                pass
        received = bytes(cl.rec_recv[mark:])
        self.assertNotIn(b"PXK", cl.rec_recv)
        self.assertNotIn(b"* SEARCH", cl.rec_recv)
        exists = len(view)
        for line in received.split(b"\r\n"):
            m = re.match(rb"\* (\d+) (EXPUNGE|EXISTS|FETCH)\b(.*)", line)
            if not m:
                continue
            n, what = int(m.group(1)), m.group(2)
            if what == b"EXPUNGE":
                self.assertLessEqual(n, len(view), "EXPUNGE %d of %d: %r" % (n, len(view), received))
                del view[n - 1]
                exists -= 1
            elif what == b"EXISTS":
                self.assertGreaterEqual(n, len(view), "EXISTS shrank: %r" % received)
                view += [None] * (n - len(view))
                exists = n
            else:
                self.assertLessEqual(n, len(view), "FETCH %d beyond %d: %r" % (n, len(view), received))
                u = re.search(rb"UID (\d+)", m.group(3))
                if u:
                    if view[n - 1] is not None:
                        self.assertEqual(view[n - 1], int(u.group(1)),
                                         "message %d changed its UID: %r" % (n, received))
                    view[n - 1] = int(u.group(1))
        fresh_exists, fresh_uids = self.direct_view()
        self.assertEqual(view, fresh_uids, "the client's view after:\n%s" % received.decode())
        self.assertEqual((exists, len(view)), (fresh_exists, fresh_exists))
        px.wait_closed(1)
        evs = self.finish()
        noop = first(evs, ev="command", cmd="NOOP")
        for e in evs:
            if e["ev"] == "untagged" and e.get("name") == "EXPUNGE" and e["seq"] < noop["seq"]:
                self.assertTrue(e.get("held"), "EXPUNGE delivered while the client had no "
                                "command in progress: %r" % e)
        self.assertTrue(ka_events(evs, "sent"))
        return evs

    def test_view_noop_keepalive(self):
        evs = self.view_stays_right()
        self.assertTrue(all(e.get("cmd") == "NOOP" for e in ka_events(evs, "sent")))
        self.assertTrue(ka_events(evs, "released"), "no keepalive released event")

    def test_view_search_keepalive(self):
        evs = self.view_stays_right("--keepalive-command", "search")
        self.assertTrue(all(e.get("cmd") == "SEARCH" for e in ka_events(evs, "sent")))
        swallowed = [e for e in evs if e["ev"] == "untagged" and e.get("swallowed")]
        self.assertEqual(len(swallowed), len(ka_events(evs, "ok")), swallowed)

    def test_view_idle_keepalive(self):
        evs = self.view_stays_right("--keepalive-mode", "idle")
        self.assertTrue(all(e.get("cmd") == "IDLE" for e in ka_events(evs, "sent")))
        self.assertTrue(ka_events(evs, "released"), "no keepalive released event")

    # ---------------------------------------------------- tag collision

    def test_client_uses_keepalive_prefix(self):
        """The client's own tags are PXK1, PXK2...: its commands work, and the
        keepalive's tags are never ones the client used (recent client tags
        are skipped, also those ahead of imaptap's counter)."""
        px = self.proxy("--keepalive", "1")
        c = self.raw_client()
        used = []

        def cmd(text, tag):
            used.append(tag)
            tagged, lines = c.command(text, tag=tag)
            self.assertTrue(tagged.startswith(tag.encode() + b" OK"), (tagged, lines))
            return lines

        cmd("LOGIN %s %s" % (USER, PASSWORD), "PXK1")
        cmd("SELECT INBOX", "PXK2")
        cmd("UID FETCH 1:* (UID)", "PXK3")
        evs = px.wait_log(lambda evs: len(ka_events(evs, "ok")) >= 2 and evs,
                          what="two keepalives")
        k = max(int(e["tag"][3:]) for e in ka_events(evs, "sent"))
        # the next counter values, taken by the client first
        cmd("NOOP", "PXK%d" % (k + 2))
        cmd("FETCH 1 (FLAGS)", "PXK%d" % (k + 3))
        px.wait_log(lambda evs: any(int(e["tag"][3:]) > k + 3 for e in ka_events(evs, "sent")),
                    what="a keepalive past the client's tags")
        cmd("NOOP", "PXK%d" % (k + 1))
        cmd("LOGOUT", "PXK%d" % (k + 10))
        c.read_all()
        c.close()
        px.wait_closed(1)
        evs = self.finish()
        ka_tags = [e["tag"] for e in ka_events(evs, "sent")]
        client_tags = [e["tag"] for e in evs if e["ev"] == "command"]
        self.assertEqual(client_tags, used)
        # no keepalive tag equals a tag the client had used before it
        for e in ka_events(evs, "sent"):
            before = [x["tag"] for x in evs if x["ev"] == "command" and x["seq"] < e["seq"]]
            self.assertNotIn(e["tag"], before, (ka_tags, client_tags))
        self.assertIn("PXK%d" % (k + 1), ka_tags)
        self.assertNotIn("PXK%d" % (k + 2), ka_tags)
        self.assertNotIn("PXK%d" % (k + 3), ka_tags)
        # the completions the client got: one per command of its own, in order
        got = [line.split(b" ")[0].decode() for line in c.received.split(b"\r\n")
               if line and not line.startswith((b"*", b"+"))]
        self.assertEqual(got, used)

    # ------------------------------------------------------- containment

    def test_expunge_contained(self):
        """EXPUNGE held during a NOOP keepalive: a sequence FETCH, a STORE and
        'UID SEARCH 1:3' are answered NO [EXPUNGEISSUED] by imaptap (tagged,
        local: true) and never reach Dovecot; 'UID SEARCH UID 1:3' is relayed
        and the held EXPUNGE comes first.  Again: a UID FETCH releases."""
        px = self.proxy("--keepalive", "1")
        c = self.raw_client()
        c.command("LOGIN %s %s" % (USER, PASSWORD), tag="r0")
        c.command("SELECT INBOX", tag="r00")
        refused = {"r1": "FETCH 1 (FLAGS)", "r2": "STORE 1 +FLAGS (\\Flagged)",
                   "r3": "UID SEARCH 1:3"}
        for rnd, (seqs, release_tag, release_cmd) in enumerate(
                (((1,), "r4", "UID SEARCH UID 1:3"), ((-1,), "r5", "UID FETCH 1:* (UID)")), 1):
            px.wait_log(lambda evs: ka_events(evs, "ok"), what="a keepalive")
            self.expunge_direct(seqs=seqs)
            px.wait_log(lambda evs: len(select(evs, ev="anomaly", kind="expunge_during_keepalive"))
                        >= rnd, what="the EXPUNGE held (round %d)" % rnd)
            if rnd == 1:
                for tag, text in refused.items():
                    tagged, lines = c.command(text, tag=tag)
                    self.assertTrue(tagged.startswith(tag.encode() + b" NO [EXPUNGEISSUED]"), tagged)
                    self.assertEqual(lines, [], "responses with the local NO: %r" % lines)
            tagged, lines = c.command(release_cmd, tag=release_tag)
            self.assertTrue(tagged.startswith(release_tag.encode() + b" OK"), (tagged, lines))
            self.assertTrue(lines and re.fullmatch(rb"\* \d+ EXPUNGE\r\n", lines[0]),
                            "the held EXPUNGE does not come first: %r" % lines)
        c.command("LOGOUT", tag="r9")
        c.read_all()
        c.close()
        px.wait_closed(1)
        evs = self.finish()
        for tag, text in refused.items():
            self.assertTrue(first(evs, ev="command", tag=tag), tag)
            t = first(evs, ev="tagged", tag=tag)
            self.assertEqual((t.get("status"), t.get("code"), t.get("local")),
                             ("NO", "EXPUNGEISSUED", True), t)
            self.assertNotIn("dir", t)
        self.assertEqual(len(ka_events(evs, "released")), 2)
        rin = self.proxied_rawlog_in(b"r5 UID FETCH")
        for tag, text in refused.items():
            self.assertNotIn(("%s %s" % (tag, text)).encode(), rin)
            self.assertNotIn(("\n%s " % tag).encode(), rin)
        self.assertIn(b"r4 UID SEARCH UID 1:3\r\n", rin)
        self.assertIn(b"r5 UID FETCH 1:* (UID)\r\n", rin)
        self.assertTrue(PXK_LINE.search(rin))

    # -------------------------------------------------------- IDLE mode

    def test_idle_mode_pushes_exists(self):
        """--keepalive-mode idle: mail appended on a second connection reaches
        the silent client as EXISTS without the client sending anything; its
        next command then works at once."""
        px = self.proxy("--keepalive", "1", "--keepalive-mode", "idle")
        c = self.raw_client()
        c.command("LOGIN %s %s" % (USER, PASSWORD), tag="i1")
        _, lines = c.command("SELECT INBOX", tag="i2")
        n = next(int(m.group(1)) for m in (re.match(rb"\* (\d+) EXISTS", x) for x in lines) if m)
        mark = len(c.received)
        px.wait_log(lambda evs: ka_events(evs, "idle_start"), what="imaptap's IDLE")
        self.dv.append("INBOX", b"From: i@example.com\r\nSubject: pushed\r\n\r\nbody\r\n")
        pushed = []
        while True:
            line = c.read_line()  # nothing sent: whatever comes is pushed
            pushed.append(line)
            self.assertTrue(line.startswith(b"* "), "not an untagged response: %r" % pushed)
            if re.fullmatch(rb"\* %d EXISTS\r\n" % (n + 1), line):
                break
        # all the client got while silent: untagged responses
        for line in bytes(c.received[mark:]).split(b"\r\n")[:-1]:
            self.assertTrue(line.startswith(b"* "), c.received[mark:])
        t0 = time.monotonic()
        tagged, lines = c.command("UID FETCH %d:* (UID)" % 1, tag="i3")
        took = time.monotonic() - t0
        self.assertTrue(tagged.startswith(b"i3 OK"), tagged)
        self.assertLess(took, 1.0, "the command after imaptap's IDLE took %.2f s" % took)
        c.command("LOGOUT", tag="i4")
        c.read_all()
        c.close()
        self.assertNotIn(b"PXK", c.received)
        self.assertNotIn(b"+ idling", c.received)
        px.wait_closed(1)
        evs = self.finish()
        self.assertTrue(all(e.get("cmd") == "IDLE" for e in ka_events(evs, "sent")))
        exists = [e for e in evs if e["ev"] == "untagged" and e.get("name") == "EXISTS"
                  and e.get("n") == n + 1]
        cmd = first(evs, ev="command", tag="i3")
        self.assertTrue(exists and exists[0]["seq"] < cmd["seq"], exists)
        self.assertTrue(ka_events(evs, "idle_done"))


if __name__ == "__main__":
    unittest.main()
