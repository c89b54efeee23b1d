#!/usr/bin/python3
"""200 sessions at once through one imaptap: all succeed, and the log has
every line of every session (200 opens, 200 closes with reason logout, seq
gapless per session)."""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot_fixture import PASSWORD, USER  # noqa: E402
from imaptap_fixture import (ImaptapProcess, RawClient, by_session, client_context,  # noqa: E402
                             first)
from proxy_case import DovecotProxyCase  # noqa: E402

SESSIONS = 200


class ConcurrencyTest(DovecotProxyCase):
    WORKDIR_PREFIX = "imaptap-it-conc-"
    DOVECOT = dict(messages=5, seed=13)

    def test_200_concurrent_sessions(self):
        px = ImaptapProcess(os.path.join(self.workdir, "px"), listen=["imaps"],
                            upstream="imaps://localhost:%d" % self.dv.tls_port, certs=self.certs,
                            args=["--upstream-ca", self.dv.ca_file]).start()
        try:
            ctx = client_context(self.certs["ca"])
            want = self.dv.message_bytes()[0]
            barrier = threading.Barrier(SESSIONS)
            errors, done = [], []
            lock = threading.Lock()

            def one(i):
                try:
                    barrier.wait(60)
                    c = RawClient(px.port, tls=ctx, timeout=60)
                    c.read_line()
                    tagged, _ = c.command('LOGIN %s "%s"' % (USER, PASSWORD))
                    assert b" OK" in tagged, tagged
                    tagged, _ = c.command("SELECT INBOX")
                    assert b" OK" in tagged, tagged
                    tagged, lines = c.command("FETCH 1 BODY.PEEK[]")
                    assert b" OK" in tagged and want in lines[0], tagged
                    tagged, _ = c.command("LOGOUT")
                    assert b" OK" in tagged, tagged
                    c.read_all()
                    c.close()
                    with lock:
                        done.append(i)
                except Exception as e:
                    with lock:
                        errors.append((i, repr(e)))

            t0 = time.monotonic()
            threads = [threading.Thread(target=one, args=(i,)) for i in range(SESSIONS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            elapsed = time.monotonic() - t0
            self.assertEqual(errors, [], "%d of %d sessions failed" % (len(errors), SESSIONS))
            self.assertEqual(len(done), SESSIONS)
            sys.stderr.write("\n  [%d sessions] %.1f s " % (SESSIONS, elapsed))
            px.wait_closed(SESSIONS, timeout=30)
        finally:
            events = px.finish(self)
        opens = [e for e in events if e["ev"] == "session_open"]
        closes = [e for e in events if e["ev"] == "session_close"]
        self.assertEqual((len(opens), len(closes)), (SESSIONS, SESSIONS))
        sessions = by_session(events)
        self.assertEqual(len(sessions), SESSIONS)
        reasons = {}
        for sid, evs in sessions.items():
            self.assertEqual(evs[0]["ev"], "session_open", sid)
            self.assertEqual(evs[-1]["ev"], "session_close", sid)
            reasons[evs[-1]["reason"]] = reasons.get(evs[-1]["reason"], 0) + 1
            auth = first(evs, ev="auth")
            self.assertEqual((auth or {}).get("status"), "OK", sid)
            self.assertTrue(first(evs, ev="untagged", name="FETCH", mailbox="INBOX"), sid)
            self.assertEqual([e.get("cmd") for e in evs if e["ev"] == "command"],
                             ["LOGIN", "SELECT", "FETCH", "LOGOUT"], sid)
        self.assertEqual(reasons, {"logout": SESSIONS})


if __name__ == "__main__":
    unittest.main()
