#!/usr/bin/python3
"""Faults: upstream down, upstream certificate with the wrong name, the server
dying mid-FETCH, the client resetting mid-APPEND or closing TLS without
close_notify, a malformed server line (scripted fake server), and a client
that stops reading during a 50 MB FETCH (memory stays bounded)."""

import base64
import os
import random
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot_fixture import HOST, PASSWORD, USER, PrivateDovecot, free_port  # noqa: E402
from fake_server import FakeServer  # noqa: E402
from imaptap_fixture import (SANITIZED, ImaptapProcess, RawClient, by_session, first,  # noqa: E402
                             select, sha, wait_for)
from proxy_case import DovecotProxyCase  # noqa: E402

BIG_SIZE = 50 * 1024 * 1024
RSS_LIMIT_KB = 64 * 1024


def big_message(size):
    """A valid RFC 5322 message of exactly `size` bytes (base64 body)."""
    head = (b"From: Big Sender <big@example.com>\r\nTo: alice@example.com\r\n"
            b"Subject: fifty megabytes\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
    rng = random.Random(50)
    body = base64.encodebytes(rng.randbytes((size - len(head)) * 3 // 4 + 100))
    body = body.replace(b"\n", b"\r\n")[:size - len(head) - 2]
    msg = head + body + b"\r\n"
    assert len(msg) == size
    return msg


def imap_pids(dv):
    """Dovecot's post-login imap processes (one per session)."""
    out = set()
    for pid in dv.pids():
        try:
            if os.readlink("/proc/%d/exe" % pid).endswith("/dovecot/imap"):
                out.add(pid)
        except OSError:
            pass
    return out


class FaultsTest(DovecotProxyCase):
    WORKDIR_PREFIX = "imaptap-it-faults-"
    DOVECOT = dict(messages=5, seed=11)
    big = None  # (uid, sha, size) of the 50 MB message, once appended

    @classmethod
    def big_uid(cls):
        """APPENDs the 50 MB message once (straight to Dovecot); its UID."""
        if cls.big is None:
            msg = big_message(BIG_SIZE)
            cls.big = (cls.dv.append("INBOX", msg), sha(msg), len(msg))
        return cls.big

    def proxy(self, upstream=None, listen="imaps", args=(), name=None, certs=True, **kw):
        upstream = upstream or "imaps://localhost:%d" % self.dv.tls_port
        self.px = ImaptapProcess(os.path.join(self.workdir, name or self.id().split(".")[-1]),
                                 listen=[listen], upstream=upstream,
                                 certs=self.certs if certs else None,
                                 args=list(args) or ["--upstream-ca", self.dv.ca_file], **kw)
        return self.px.start()

    def login(self, px, tls=True, rcvbuf=None):
        c = RawClient(px.port, tls=self.ctx if tls else None, rcvbuf=rcvbuf)
        greeting = c.read_line()
        self.assertTrue(greeting.startswith(b"* OK"), greeting)
        tagged, _ = c.command('LOGIN %s "%s"' % (USER, PASSWORD))
        self.assertIn(b" OK", tagged)
        return c

    def short_session(self, px):
        """A whole session that must work: LOGIN, SELECT, FETCH 1, LOGOUT."""
        c = self.login(px)
        tagged, lines = c.command("SELECT INBOX")
        self.assertIn(b" OK", tagged)
        tagged, lines = c.command("FETCH 1 BODY.PEEK[]")
        self.assertIn(b" OK", tagged)
        self.assertIn(self.dv.message_bytes()[0], lines[0])
        c.command("LOGOUT")
        c.read_all()
        c.close()

    # ------------------------------------------------------------ upstream

    def test_upstream_down(self):
        # nothing listens there; for an imaps:// upstream as for imap://
        for scheme in ("imaps", "imap"):
            with self.subTest(upstream=scheme):
                px = self.proxy("%s://localhost:%d" % (scheme, free_port()),
                                name="down-" + scheme)
                c = RawClient(px.port, tls=self.ctx)
                data = c.read_all()
                c.close()
                self.assertRegex(data, rb"^\* BYE \[UNAVAILABLE\] [^\r\n]*\r\n$")
                px.wait_closed(1)
                events = px.finish(self)
                (sid, evs), = by_session(events).items()
                bye = first(evs, ev="untagged", name="BYE")
                self.assertEqual((bye.get("code"), bye.get("local")), ("UNAVAILABLE", True), bye)
                close = evs[-1]
                self.assertEqual(close["ev"], "session_close")
                self.assertTrue(close["reason"].startswith("error: "), close)
                # the reason says why: the connection was refused
                self.assertRegex(close["reason"], r"(?i)refused", close)
                self.assertRegex(data, rb"(?i)refused")

    def test_upstream_wrong_name(self):
        wrong = PrivateDovecot(os.path.join(self.workdir, "dv-wrong"), messages=5, seed=11,
                               cert_names=("wrong.example",))
        wrong.start()
        try:
            up = "imaps://localhost:%d" % wrong.tls_port
            px = self.proxy(up, args=["--upstream-ca", wrong.ca_file], name="wrong-verify")
            c = RawClient(px.port, tls=self.ctx)
            data = c.read_all()
            c.close()
            self.assertRegex(data, rb"^\* BYE \[UNAVAILABLE\] [^\r\n]*\r\n$")
            px.wait_closed(1)
            events = px.finish(self)
            close = events[-1]
            self.assertEqual(close["ev"], "session_close")
            self.assertRegex(close["reason"], r"^error: .*(?i:verif)", close)
            self.assertFalse(select(events, ev="command"), "a command was relayed")
            # the same with --upstream-insecure works
            px = self.proxy(up, args=["--upstream-insecure"], name="wrong-insecure")
            c = self.login(px)
            tagged, _ = c.command("SELECT INBOX")
            self.assertIn(b" OK", tagged)
            tagged, lines = c.command("FETCH 1 BODY.PEEK[]")
            self.assertIn(wrong.message_bytes()[0], lines[0])
            c.command("LOGOUT")
            c.read_all()
            c.close()
            px.wait_closed(1)
            events = px.finish(self)
            tls = first(events, ev="tls", leg="server")
            self.assertIs(tls.get("verified"), False, tls)
            self.assertEqual(tls.get("peer", {}).get("subject"), "CN=wrong.example", tls)
            self.assertEqual(events[-1]["reason"], "logout")
        finally:
            wrong.stop()

    # ---------------------------------------------------- dying mid-stream

    def test_server_closes_mid_fetch(self):
        uid, digest, size = self.big_uid()
        px = self.proxy()
        before = imap_pids(self.dv)
        c = self.login(px, rcvbuf=65536)
        mine = wait_for(lambda: imap_pids(self.dv) - before, 5, "the session's imap process")
        self.assertEqual(len(mine), 1, mine)
        c.command("SELECT INBOX")
        c.send(b"f1 UID FETCH %d BODY.PEEK[]\r\n" % uid)
        head = c.read_line()
        self.assertRegex(head, rb"^\* \d+ FETCH .*\{%d\}\r\n$" % size)
        c.read_exact(1024 * 1024)
        os.kill(mine.pop(), signal.SIGKILL)
        rest = c.read_all()  # imaptap relays what it has, then closes
        c.close()
        self.assertLess(len(rest), size, "the whole message arrived: the kill came too late")
        self.assertNotIn(b"f1 OK", rest[-200:])
        events = px.wait_closed(1)
        close = [e for e in events if e["ev"] == "session_close"][0]
        self.assertRegex(close["reason"], r"^(server_closed|error: .+)$", close)
        # imaptap goes on serving
        self.short_session(px)
        events = px.wait_closed(2)
        events = px.finish(self)
        self.assertEqual([e["reason"] for e in events if e["ev"] == "session_close"][1],
                         "logout")

    def test_client_resets_mid_append(self):
        px = self.proxy()
        c = self.login(px)
        c.send(b"ap1 APPEND INBOX {200000}\r\n")
        cont = c.read_line()
        self.assertTrue(cont.startswith(b"+"), cont)
        c.send(b"x" * 100000)
        c.reset()  # RST: SO_LINGER 0
        px.wait_closed(1)
        self.short_session(px)
        events = px.wait_closed(2)
        events = px.finish(self)
        reasons = [e["reason"] for e in events if e["ev"] == "session_close"]
        self.assertEqual(reasons, ["client_closed", "logout"], reasons)

    def test_client_tls_close_without_close_notify(self):
        # Most clients (Python's ssl, for one) close TCP without a TLS
        # close_notify: that is the client closing, not an imaptap error.
        px = self.proxy()
        c = self.login(px)
        c.command("SELECT INBOX")
        c.sock.close()
        px.wait_closed(1)
        events = px.finish(self)
        self.assertEqual(events[-1]["reason"], "client_closed", events[-1])

    def test_logout_then_close_without_close_notify(self):
        # after LOGOUT's OK the client closes at once (no close_notify), racing
        # Dovecot's own close: the reason is logout whoever closes first
        # (50 rounds: which close imaptap sees first varies from run to run)
        px = self.proxy()
        for _ in range(50):
            c = self.login(px)
            tagged, _ = c.command("LOGOUT")
            self.assertIn(b" OK", tagged)
            c.sock.close()
        events = px.wait_closed(50)
        events = px.finish(self)
        reasons = [e["reason"] for e in events if e["ev"] == "session_close"]
        self.assertEqual([r for r in reasons if r != "logout"], [],
                         "%d of 50 sessions not logout" % sum(r != "logout" for r in reasons))

    # ---------------------------------------------------- malformed server

    def test_malformed_server_line(self):
        bad = b"* 4 FETCH (FLAGS (\\Seen) UID\r\ngarbage\x01 without tag\r\n"

        def script(conn):
            conn.send(b"* OK [CAPABILITY IMAP4rev1] fake ready\r\n")
            while True:
                tag, line = conn.read_command()
                if tag is None:
                    return
                if line.upper().startswith(tag.upper() + b" LOGOUT"):
                    conn.send(b"* BYE bye\r\n" + tag + b" OK LOGOUT done\r\n")
                    return
                if b" NOOP" in line.upper():
                    conn.send(bad)
                conn.send(tag + b" OK done\r\n")

        with FakeServer(script) as fs:
            px = self.proxy("imap://%s:%d" % (HOST, fs.port), listen="imap", args=["--drain", "5"],
                            certs=False)
            c = RawClient(px.port)
            c.read_line()
            c.command("NOOP", tag="n1")
            c.command("NOOP", tag="n2")
            c.command("LOGOUT", tag="n3")
            c.read_all()
            c.close()
            wait_for(lambda: fs.conns and fs.conns[0].done.is_set(), 10, "fake session end")
            server = fs.conns[0]
            self.assertIsNone(server.error)
            self.assertEqual(bytes(c.received), bytes(server.sent), "s2c bytes changed")
            self.assertEqual(bytes(c.sent), bytes(server.received), "c2s bytes changed")
            px.wait_closed(1)
            events = px.finish(self)
        errors = select(events, ev="parse_error")
        self.assertTrue(errors, "no parse_error event")
        for e in errors:
            self.assertEqual(e["dir"], "s2c", e)
        s2c = bytes(server.sent)
        first_bad = s2c.index(bad)
        offs = {e["off"] for e in errors}
        self.assertTrue(offs & {first_bad, s2c.index(b"garbage", first_bad)} == {
            first_bad, s2c.index(b"garbage", first_bad)},
            "parse_error offsets %s; malformed lines at %d and %d"
            % (sorted(offs), first_bad, s2c.index(b"garbage", first_bad)))
        # the parser resynchronized: later responses are understood
        for tag in ("n1", "n2", "n3"):
            self.assertTrue(first(events, ev="tagged", tag=tag, status="OK"), tag)
        self.assertEqual(events[-1]["reason"], "logout")

    # ---------------------------------------------------- slow reader

    def test_slow_reader_50mb_bounded_memory(self):
        uid, digest, size = self.big_uid()
        px = self.proxy()
        c = self.login(px, rcvbuf=65536)
        c.command("SELECT INBOX")
        rss_start = px.proc_status("VmRSS")

        def rchar():
            with open("/proc/%d/io" % px.pid) as f:
                return int(re.search(r"rchar: (\d+)", f.read()).group(1))
        base = rchar()
        c.send(b"f1 UID FETCH %d BODY.PEEK[]\r\n" % uid)
        # the client reads nothing; wait until imaptap stops reading (its
        # read counter still for 0.5 s after it has read a few MB)
        samples = []

        def stalled():
            samples.append((rchar(), px.proc_status("VmRSS")))
            recent = samples[-6:]
            return (len(recent) == 6 and recent[0][0] == recent[-1][0]
                    and recent[-1][0] - base > 256 * 1024)
        wait_for(stalled, 60, "imaptap to stop reading from the server", interval=0.1)
        rss_stalled = max(r for _, r in samples)
        read_stalled = samples[-1][0] - base
        self.assertIsNone(first(px.log_lines(), ev="tagged", tag="f1"),
                          "the FETCH completed although the client read nothing")
        # now read everything
        head = c.read_line()
        m = re.match(rb"^\* \d+ FETCH \(UID %d BODY\[\] \{(\d+)\}\r\n$" % uid, head)
        self.assertIsNotNone(m, head)
        self.assertEqual(int(m.group(1)), size)
        body = c.read_exact(size)
        tagged, _ = c.until_tagged("f1")
        self.assertIn(b" OK", tagged)
        self.assertEqual(sha(body), digest, "the 50 MB message arrived changed")
        hwm = px.proc_status("VmHWM")
        c.command("LOGOUT")
        c.read_all()
        c.close()
        sys.stderr.write("\n  [50 MB slow reader] imaptap VmRSS %d kB before, %d kB max while "
                         "stalled (it had read %d kB then), VmHWM %d kB over the run "
                         "(limit %d kB) " % (rss_start, rss_stalled, read_stalled // 1024, hwm,
                                             RSS_LIMIT_KB))
        if not SANITIZED:  # ASan's quarantine and shadow memory are not imaptap's
            self.assertLess(max(rss_stalled, hwm), RSS_LIMIT_KB)
        px.wait_closed(1)
        events = px.finish(self)
        fetch = first(events, ev="untagged", name="FETCH")
        self.assertEqual(fetch.get("literals"), [size], fetch)
        self.assertEqual(first(events, ev="tagged", tag="f1").get("status"), "OK")


if __name__ == "__main__":
    unittest.main()
