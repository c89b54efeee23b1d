#!/usr/bin/python3
"""The log and the process around it: SIGHUP reopens the log with no line
lost, SIGTERM drains an idle session then closes it (reason shutdown),
--log-overflow drop, an unwritable log (/dev/full), and --capture files that
decode to the live log's events."""

import imaplib
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot_fixture import PASSWORD, USER  # noqa: E402
from imaptap_fixture import (ImaptapProcess, RawClient, by_session,  # noqa: E402
                             check_seq_gapless, decode_events, first, parse_log, wait_for)
from proxy_case import DovecotProxyCase  # noqa: E402


class LogTest(DovecotProxyCase):
    WORKDIR_PREFIX = "imaptap-it-log-"
    DOVECOT = dict(messages=5, seed=17)

    def proxy(self, args=(), **kw):
        self.px = ImaptapProcess(os.path.join(self.workdir, self.id().split(".")[-1]),
                                 listen=["imaps"],
                                 upstream="imaps://localhost:%d" % self.dv.tls_port,
                                 certs=self.certs,
                                 args=["--upstream-ca", self.dv.ca_file, *args], **kw)
        return self.px.start()

    def login(self, port, tls=True):
        c = RawClient(port, tls=self.ctx if tls else None)
        c.read_line()
        tagged, _ = c.command('LOGIN %s "%s"' % (USER, PASSWORD))
        self.assertIn(b" OK", tagged)
        return c

    def logout(self, c):
        tagged, _ = c.command("LOGOUT")
        self.assertIn(b" OK", tagged)
        c.read_all()
        c.close()

    def short_session(self, port):
        c = self.login(port)
        tagged, _ = c.command("SELECT INBOX")
        self.assertIn(b" OK", tagged)
        tagged, lines = c.command("FETCH 1 BODY.PEEK[]")
        self.assertIn(self.dv.message_bytes()[0], lines[0])
        self.logout(c)

    # ------------------------------------------------------------- SIGHUP

    def test_sighup_reopens_log(self):
        px = self.proxy()
        self.short_session(px.port)                    # session A: before
        long_lived = self.login(px.port)               # session C: across
        long_lived.command("SELECT INBOX")
        px.wait_log(lambda evs: first(evs, ev="session_close") and
                    first(evs, ev="tagged", cmd="SELECT"), what="A closed, C selected")
        rotated = px.log_path + ".1"
        os.rename(px.log_path, rotated)
        px.send_signal(signal.SIGHUP)
        wait_for(lambda: os.path.exists(px.log_path), 5, "the log to be reopened")
        long_lived.command("NOOP")
        self.logout(long_lived)
        self.short_session(px.port)                    # session B: after
        px.wait_closed(2)                              # C and B, in the new file
        events_new = px.finish(self, gapless=False)  # C continues from the old file
        with open(rotated, "rb") as f:
            events_old = parse_log(f.read(), rotated)
        self.assertTrue(events_new, "nothing in the reopened log")
        old_sids = set(by_session(events_old))
        new_sids = set(by_session(events_new))
        self.assertEqual(len(old_sids), 2, old_sids)    # A whole, C's first part
        self.assertEqual(len(new_sids), 2, new_sids)    # C's rest, B whole
        both = old_sids & new_sids
        self.assertEqual(len(both), 1, "the session across the rotation")
        # nothing lost: every session is gapless over the two files together
        check_seq_gapless(self, events_old + events_new)
        # and each file holds whole lines in order: the old file ends with
        # C's lines before HUP, the new starts with C's lines after it
        sid_c = both.pop()
        old_c = [e["seq"] for e in events_old if e["sid"] == sid_c]
        new_c = [e["seq"] for e in events_new if e["sid"] == sid_c]
        self.assertEqual(old_c + new_c, list(range(len(old_c) + len(new_c))))
        self.assertEqual(by_session(events_new)[sid_c][-1]["reason"], "logout")

    # ------------------------------------------------------------ SIGTERM

    def test_sigterm_drains_idle_session(self):
        drain = 2
        px = self.proxy(drain=drain)
        c = self.login(px.port)
        c.command("SELECT INBOX")
        c.send(b"i1 IDLE\r\n")
        self.assertTrue(c.read_line().startswith(b"+"))
        px.wait_log(lambda evs: first(evs, ev="idle", state="start"), what="idle start")
        t0 = time.monotonic()
        px.send_signal(signal.SIGTERM)
        # during the drain the idle session is left alone
        wait_for(lambda: "SIGTERM" in px.stderr(), 5, "imaptap to take the SIGTERM")
        self.assertIsNone(first(px.log_lines(), ev="session_close"))
        status = px.proc.wait(drain + 10)
        elapsed = time.monotonic() - t0
        rest = c.read_all()
        c.close()
        self.assertEqual(status, 0, px.stderr())
        self.assertGreaterEqual(elapsed, drain - 0.2, "did not wait for --drain")
        self.assertLess(elapsed, drain + 5, "took too long after --drain")
        events = px.finish(self)
        close = events[-1]
        self.assertEqual((close["ev"], close.get("reason")), ("session_close", "shutdown"), close)
        sys.stderr.write("\n  [drain %d s] exited after %.2f s; client got %r " %
                         (drain, elapsed, rest[:80]))

    # ------------------------------------------------------ overflow, full

    def test_log_overflow_drop_accepted(self):
        px = self.proxy(args=["--log-overflow", "drop"])
        self.short_session(px.port)
        px.wait_closed(1)
        events = px.finish(self)
        self.assertEqual(events[-1]["reason"], "logout")
        self.assertNotIn("dropped", events[-1])

    def test_log_unwritable_dev_full(self):
        px = self.proxy(log="/dev/full")
        for _ in range(3):
            self.short_session(px.port)
        err = wait_for(lambda: [ln for ln in px.stderr().splitlines() if "log" in ln.lower()
                                and ("space" in ln.lower() or "cannot" in ln.lower()
                                     or "write" in ln.lower())],
                       5, "stderr to say the log cannot be written")
        self.assertIn("/dev/full", err[0])
        # still serving after the errors
        self.short_session(px.port)
        status = px.stop()
        self.assertIsNotNone(status, "imaptap hung on SIGTERM with an unwritable log")
        sys.stderr.write("\n  [/dev/full] stderr: %r, exit %s " % (err[0], status))

    # ------------------------------------------------------------ capture

    def test_capture_decodes_to_live_events(self):
        # two listeners paired with two upstreams (design.md §1), one capture
        # per session, STARTTLS in one of them
        px = ImaptapProcess(
            os.path.join(self.workdir, "capture"), listen=["imaps", "imap"],
            upstream=["imaps://localhost:%d" % self.dv.tls_port,
                      "imap://localhost:%d" % self.dv.plain_port],
            certs=self.certs, args=["--upstream-ca", self.dv.ca_file], capture=True)
        self.px = px.start()
        m = imaplib.IMAP4_SSL("localhost", px.ports[0], ssl_context=self.ctx, timeout=30)
        m.login(USER, PASSWORD)
        m.select("INBOX")
        m.fetch("1:3", "(UID FLAGS ENVELOPE BODY.PEEK[HEADER] RFC822.SIZE)")
        m.append("INBOX", None, None, b"Subject: captured\r\n\r\nbody\r\n")
        m.uid("SEARCH", "ALL")
        m.logout()
        c = RawClient(px.ports[1])
        c.read_line()
        c.starttls(self.ctx)
        c.command('LOGIN %s "%s"' % (USER, PASSWORD))
        c.command("SELECT INBOX")
        c.command("UID FETCH 1:* (FLAGS)")
        self.logout(c)
        px.wait_closed(2)
        events = px.finish(self)
        sessions = by_session(events)
        self.assertEqual(len(sessions), 2)
        self.assertEqual(len(px.capture_files()), 2, px.capture_files())
        listeners = set()
        keys = ("ev", "dir", "off", "tag", "cmd", "name", "status")
        for sid, live in sessions.items():
            listeners.add(live[0]["listener"])
            decoded = decode_events(px.capture_for(sid))
            self.assertEqual({e["sid"] for e in decoded}, {sid}, "decoded sid")
            # tls events describe handshakes, which a capture does not hold
            a = [tuple(e.get(k) for k in keys) for e in live if e["ev"] != "tls"]
            b = [tuple(e.get(k) for k in keys) for e in decoded if e["ev"] != "tls"]
            self.assertEqual(a, b, "session %s: decode != live log" % sid)
            self.assertGreater(len(a), 10)
        self.assertEqual(listeners, set(px.urls))


if __name__ == "__main__":
    unittest.main()
