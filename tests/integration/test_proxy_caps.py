#!/usr/bin/python3
"""Capability edits (protocol.md §5.3, §5.5): a Dovecot that advertises
COMPRESS=DEFLATE (imap_zlib); through imaptap the client never sees it, the
log says what was removed, and COMPRESS DEFLATE is refused by imaptap."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot_fixture import PASSWORD, USER  # noqa: E402
from imaptap_fixture import (ImaptapProcess, RawClient, by_session, client_context,  # noqa: E402
                             first, sha)
from relay_check import check_relay, login_split, rawlog_for  # noqa: E402
from proxy_case import DovecotProxyCase  # noqa: E402

ZLIB_CONF = """
protocol imap {
  mail_plugins = $mail_plugins imap_zlib
}
"""


class CapabilityEditTest(DovecotProxyCase):
    WORKDIR_PREFIX = "imaptap-it-caps-"
    DOVECOT = dict(messages=3, seed=9, rawlog=True, extra_conf=ZLIB_CONF)

    def test_dovecot_advertises_compress(self):
        # the precondition: straight to Dovecot, COMPRESS=DEFLATE is there
        c = RawClient(self.dv.tls_port, tls=client_context(self.dv.ca_file))
        c.read_line()
        tagged, lines = c.command('LOGIN %s "%s"' % (USER, PASSWORD))
        tagged2, lines2 = c.command("CAPABILITY")
        c.command("LOGOUT")
        c.close()
        self.assertIn(b"COMPRESS=DEFLATE", tagged + b"".join(lines) + b"".join(lines2))

    def test_compress_stripped_and_refused(self):
        self.px = px = ImaptapProcess(os.path.join(self.workdir, "strip"), listen=["imaps"],
                                      upstream="imaps://localhost:%d" % self.dv.tls_port,
                                      certs=self.certs, args=["--upstream-ca", self.dv.ca_file],
                                      capture=True).start()
        c = RawClient(px.port, tls=client_context(self.certs["ca"]))
        c.read_line()
        tagged, lines = c.command('LOGIN %s "%s"' % (USER, PASSWORD), tag="a1")
        self.assertTrue(tagged.startswith(b"a1 OK"), tagged)
        tagged, lines = c.command("CAPABILITY", tag="a2")
        self.assertIn(b"IMAP4rev1", lines[0])
        self.assertIn(b" IDLE", lines[0])
        tagged, lines = c.command("COMPRESS DEFLATE", tag="a3")
        self.assertTrue(tagged.startswith(b"a3 NO [CANNOT]"), tagged)
        self.assertEqual(lines, [])
        # still plain IMAP in both directions
        tagged, lines = c.command("SELECT INBOX", tag="a4")
        self.assertTrue(tagged.startswith(b"a4 OK"), tagged)
        tagged, lines = c.command("FETCH 1 BODY.PEEK[]", tag="a5")
        self.assertTrue(tagged.startswith(b"a5 OK"), tagged)
        self.assertIn(self.dv.message_bytes()[0], lines[0])
        c.command("LOGOUT", tag="a6")
        c.read_all()
        c.close()
        px.wait_closed(1)
        events = px.finish(self)
        (sid, evs), = by_session(events).items()
        self.assertFalse(b"COMPRESS=" in c.received.upper(), "the client saw COMPRESS=: %r"
                         % [ln[-60:] for ln in c.received.split(b"\r\n") if b"COMPRESS=" in ln])
        removed = [e for e in evs if "COMPRESS=DEFLATE" in e.get("caps_removed", [])]
        self.assertTrue(removed, "no event with caps_removed COMPRESS=DEFLATE")
        # both places Dovecot advertised it: the LOGIN OK code or the
        # untagged CAPABILITY after login, and the answer to a2
        a2 = first(evs, ev="tagged", tag="a2")
        self.assertTrue(any(e["ev"] == "untagged" and e.get("name") == "CAPABILITY"
                            and e["seq"] < a2["seq"] for e in removed), removed)
        t = first(evs, ev="tagged", tag="a3")
        self.assertEqual((t.get("status"), t.get("code"), t.get("local")),
                         ("NO", "CANNOT", True), t)
        self.assertEqual(evs[-1]["reason"], "logout")
        # bytes: the server never got COMPRESS; the client got what the
        # server sent minus the removed capability, plus imaptap's NO
        c2s, s2c = check_relay(self, px, sid, evs, client_sent=c.sent)
        # Dovecot got what the client sent after login, minus the COMPRESS
        # command imaptap answered itself, and sent what imaptap received
        relayed = c2s.replace(b"a3 COMPRESS DEFLATE\r\n", b"", 1)
        self.assertEqual(len(relayed), len(c2s) - 21)
        rin, rout = rawlog_for(self.dv, relayed, s2c, self.rawlog_before)
        want_c2s, want_s2c = login_split(evs)
        self.assertEqual((len(relayed) - len(rin), len(s2c) - len(rout)), (want_c2s, want_s2c))
        local = re.search(rb"a3 NO \[CANNOT\][^\r\n]*\r\n", c.received).group(0)
        self.assertEqual(sha(bytes(c.received).replace(local, b"", 1)),
                         sha(s2c.replace(b" COMPRESS=DEFLATE", b"")),
                         "client bytes != server bytes minus COMPRESS=DEFLATE")
        # the events say what was relayed: caps (and code_data) without it
        for e in removed:
            self.assertNotIn("COMPRESS=DEFLATE", e.get("caps", []),
                             "seq %d: caps lists a removed capability" % e["seq"])
            self.assertNotIn("COMPRESS=DEFLATE", e.get("code_data", ""),
                             "seq %d: code_data lists a removed capability" % e["seq"])


if __name__ == "__main__":
    unittest.main()
