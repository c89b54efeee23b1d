#!/usr/bin/python3
"""Every TLS combination of the two legs (design.md §1, protocol.md §5.1),
the plaintext lab pair, and --require-tls on a cleartext listener."""

import os
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot_fixture import PASSWORD, USER  # noqa: E402
from imaptap_fixture import ImaptapProcess, RawClient, by_session, first, select, sha  # noqa: E402
from relay_check import check_relay  # noqa: E402
from proxy_case import DovecotProxyCase  # noqa: E402

MESSAGES = 5


def caps_of(line):
    """Capabilities in a "* CAPABILITY ..." line or a [CAPABILITY ...] code."""
    text = line.decode().strip()
    if "[CAPABILITY " in text:
        text = text.split("[CAPABILITY ", 1)[1].split("]", 1)[0]
    else:
        text = text.split("CAPABILITY", 1)[1]
    return text.split()


class TlsTest(DovecotProxyCase):
    WORKDIR_PREFIX = "imaptap-it-tls-"
    DOVECOT = dict(messages=MESSAGES, seed=5, rawlog=True)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(cls.dv.cert_file) as f:
            cls.dv_cert_sha = sha(ssl.PEM_cert_to_DER_cert(f.read()))

    def up(self, scheme):
        port = self.dv.plain_port if scheme in ("imap", "imap+starttls") else self.dv.tls_port
        # a host name, not an address: SNI carries names only (RFC 6066 §3)
        return "%s://localhost:%d" % (scheme, port)

    def proxy(self, listen, upstream, certs=True, args=()):
        self.px = ImaptapProcess(os.path.join(self.workdir, self.id().split(".")[-1]),
                                 listen=[listen], upstream=self.up(upstream),
                                 certs=self.certs if certs else None,
                                 args=["--upstream-ca", self.dv.ca_file, *args], capture=True)
        return self.px.start()

    def session(self, client, starttls=False):
        """Greeting, [STARTTLS], CAPABILITY, LOGIN, SELECT, FETCH, LOGOUT."""
        greeting = client.read_line()
        self.assertTrue(greeting.startswith(b"* OK"), greeting)
        if starttls:
            tagged, lines = client.command("CAPABILITY")
            self.assertIn("STARTTLS", caps_of(lines[0]), lines)
            client.starttls(self.ctx)
        tagged, lines = client.command("CAPABILITY")
        self.assertIn(b" OK", tagged)
        caps = caps_of(lines[0])
        self.assertIn("IMAP4rev1", caps)
        self.assertNotIn("LOGINDISABLED", caps)
        tagged, _ = client.command('LOGIN %s "%s"' % (USER, PASSWORD))
        self.assertIn(b" OK", tagged)
        tagged, lines = client.command("SELECT INBOX")
        self.assertIn(b" OK", tagged)
        self.assertIn(b"* %d EXISTS\r\n" % MESSAGES, lines)
        tagged, lines = client.command("FETCH 2 BODY.PEEK[]")
        self.assertIn(b" OK", tagged)
        self.assertTrue(lines[0].endswith(b"}\r\n" + self.dv.message_bytes()[1] + b")\r\n"),
                        lines[0][:200])
        tagged, lines = client.command("LOGOUT")
        self.assertIn(b" OK", tagged)
        self.assertTrue(lines[0].startswith(b"* BYE"))
        client.read_all()  # until imaptap closes
        client.close()

    def check_starttls(self, evs, starttls_legs):
        """starttls events (ok) exactly on the legs that used STARTTLS."""
        tls = {e["leg"]: e for e in evs if e["ev"] == "tls"}
        st = [(e["leg"], e["state"]) for e in evs if e["ev"] == "starttls"]
        for leg in starttls_legs:
            self.assertIn((leg, "ok"), st, "starttls events: %s" % st)
        if not starttls_legs:
            self.assertEqual(st, [], "starttls events without STARTTLS")
        # the TLS handshake of a STARTTLS leg comes after the STARTTLS command
        cmd = first(evs, ev="command", cmd="STARTTLS")
        if "client" in starttls_legs:
            self.assertIsNotNone(cmd)
            self.assertGreater(tls["client"]["seq"], cmd["seq"])

    def check_log(self, client_tls=True, server_tls=True):
        self.px.wait_closed(1)
        events = self.px.finish(self)
        (sid, evs), = by_session(events).items()
        self.assertEqual(evs[-1]["reason"], "logout", evs[-1])
        self.assertEqual(first(evs, ev="auth").get("user"), USER)
        self.assertEqual(first(evs, ev="auth").get("status"), "OK")
        self.assertTrue(first(evs, ev="untagged", name="FETCH", mailbox="INBOX"))
        tls = {e["leg"]: e for e in evs if e["ev"] == "tls"}
        self.assertEqual(len([e for e in evs if e["ev"] == "tls"]), len(tls), "tls twice")
        want = {"client"} if client_tls else set()
        if server_tls:
            want.add("server")
        self.assertEqual(set(tls), want, "tls events: %s" % list(tls.values()))
        for leg, e in tls.items():
            self.assertTrue(e.get("version", "").startswith("TLSv1."), e)
            self.assertTrue(e.get("cipher"), e)
        if server_tls:
            s = tls["server"]
            self.assertIs(s.get("verified"), True, s)
            self.assertEqual(s.get("sni"), "localhost", s)
            self.assertEqual(s.get("peer", {}).get("subject"), "CN=localhost", s)
            self.assertEqual(s["peer"].get("sha256", "").replace(":", "").lower(),
                             self.dv_cert_sha, s)
        return sid, evs

    # ---------------------------------------------------------------- pairs

    def test_imaps_to_imaps(self):
        px = self.proxy("imaps", "imaps")
        c = RawClient(px.port, tls=self.ctx)
        self.session(c)
        sid, evs = self.check_log()
        self.check_starttls(evs, ())
        check_relay(self, px, sid, evs, client_sent=c.sent, client_recv=c.received,
                    dv=self.dv, exclude=self.rawlog_before)

    def test_starttls_passthrough(self):
        # client STARTTLS on imaptap's cleartext listener, upstream imap://:
        # imaptap forwards STARTTLS and upgrades both legs
        px = self.proxy("imap", "imap")
        c = RawClient(px.port)
        self.session(c, starttls=True)
        sid, evs = self.check_log()
        check_relay(self, px, sid, evs, client_sent=c.sent,
                    dv=self.dv, exclude=self.rawlog_before)
        self.check_starttls(evs, ("client", "server"))
        st = select(evs, ev="starttls")
        self.assertTrue(any(e["state"] == "requested" for e in st), st)

    def test_imaps_to_imap_starttls(self):
        # imaptap upgrades the upstream itself before the client says anything
        px = self.proxy("imaps", "imap+starttls")
        c = RawClient(px.port, tls=self.ctx)
        self.session(c)
        sid, evs = self.check_log()
        # the client sees no STARTTLS exchange and no pre-TLS capabilities
        self.assertFalse(b"STARTTLS" in c.received, "the client saw STARTTLS: %r"
                         % c.received[:300])
        check_relay(self, px, sid, evs, client_sent=c.sent,
                    dv=self.dv, exclude=self.rawlog_before)
        # the server leg went through STARTTLS: that is logged too
        self.check_starttls(evs, ("server",))

    def test_imap_starttls_to_imaps(self):
        # client STARTTLS answered by imaptap, the upstream is already TLS
        px = self.proxy("imap", "imaps")
        c = RawClient(px.port)
        self.session(c, starttls=True)
        sid, evs = self.check_log()
        self.check_starttls(evs, ("client",))
        cmd = first(evs, ev="command", cmd="STARTTLS")
        ok = [e for e in evs if e["ev"] == "tagged" and e.get("tag") == cmd["tag"]]
        self.assertEqual(len(ok), 1, ok)
        self.assertEqual((ok[0].get("status"), ok[0].get("local")), ("OK", True), ok[0])
        self.assertNotIn("dir", ok[0])
        check_relay(self, px, sid, evs, client_sent=c.sent,
                    dv=self.dv, exclude=self.rawlog_before)

    def test_plaintext_pair(self):
        px = self.proxy("imap", "imap", certs=False)
        c = RawClient(px.port)
        self.session(c)
        sid, evs = self.check_log(client_tls=False, server_tls=False)
        self.check_starttls(evs, ())
        check_relay(self, px, sid, evs, client_sent=c.sent,
                    dv=self.dv, exclude=self.rawlog_before)
        # no certificate: imaptap cannot do STARTTLS with the client, so it
        # must not advertise it (design.md §1: offered when --cert is given;
        # protocol.md §5.3 lists STARTTLS among the capability edits)
        self.assertFalse(b"STARTTLS" in c.received, "STARTTLS advertised without a "
                         "certificate: %r" % c.received[:300])

    def test_plaintext_pair_refuses_starttls(self):
        # a client that tries STARTTLS anyway gets NO, and the session goes on
        px = self.proxy("imap", "imap", certs=False)
        c = RawClient(px.port)
        c.read_line()
        tagged, _ = c.command("STARTTLS", tag="S1")
        self.assertTrue(tagged.startswith(b"S1 NO"), tagged)
        tagged, _ = c.command('LOGIN %s "%s"' % (USER, PASSWORD))
        self.assertIn(b" OK", tagged)
        c.command("LOGOUT")
        c.read_all()
        c.close()
        px.wait_closed(1)
        events = px.finish(self)
        t = first(events, ev="tagged", tag="S1")
        self.assertEqual((t.get("status"), t.get("local")), ("NO", True), t)
        self.assertFalse(select(events, ev="tls"))
        self.assertFalse(b"S1 STARTTLS" in b"".join(i for i, _ in self.dv.rawlog_bytes()))

    # ---------------------------------------------------------- require-tls

    def require_tls(self, upstream):
        px = self.proxy("imap", upstream, args=["--require-tls"])
        c = RawClient(px.port)
        greeting = c.read_line()
        self.assertTrue(greeting.startswith(b"* OK"), greeting)
        if b"[CAPABILITY " in greeting:
            gcaps = caps_of(greeting)
            self.assertIn("LOGINDISABLED", gcaps, greeting)
            self.assertIn("STARTTLS", gcaps, greeting)
        tagged, lines = c.command("CAPABILITY")
        caps = caps_of(lines[0])
        self.assertIn("LOGINDISABLED", caps)
        self.assertIn("STARTTLS", caps)
        self.assertFalse([x for x in caps if x.upper() in ("AUTH=PLAIN", "AUTH=LOGIN")], caps)
        tagged, lines = c.command('LOGIN %s "%s"' % (USER, PASSWORD), tag="L1")
        self.assertTrue(tagged.startswith(b"L1 NO [PRIVACYREQUIRED]"), tagged)
        tagged, lines = c.command("AUTHENTICATE PLAIN AGFsaWNlAHMzY3IzdC1QYXNz", tag="L2")
        self.assertTrue(tagged.startswith(b"L2 NO [PRIVACYREQUIRED]"), tagged)
        c.starttls(self.ctx)
        tagged, lines = c.command("CAPABILITY")
        self.assertNotIn("LOGINDISABLED", caps_of(lines[0]))
        tagged, _ = c.command('LOGIN %s "%s"' % (USER, PASSWORD), tag="L3")
        self.assertTrue(tagged.startswith(b"L3 OK"), tagged)
        tagged, lines = c.command("SELECT INBOX")
        self.assertIn(b" OK", tagged)
        tagged, lines = c.command("FETCH 1 BODY.PEEK[]")
        self.assertIn(b" OK", tagged)
        c.command("LOGOUT")
        c.read_all()  # until imaptap closes
        c.close()
        px.wait_closed(1)
        events = px.finish(self)
        (sid, evs), = by_session(events).items()
        for tag in ("L1", "L2"):
            t = first(evs, ev="tagged", tag=tag)
            self.assertIsNotNone(t, "no tagged event for %s" % tag)
            self.assertEqual((t.get("status"), t.get("code"), t.get("local")),
                             ("NO", "PRIVACYREQUIRED", True), t)
        self.assertEqual(first(evs, ev="auth", status="OK").get("user"), USER)
        self.assertTrue(first(evs, ev="starttls", leg="client", state="ok"))
        self.assertEqual(evs[-1]["reason"], "logout")
        # the refused credentials never reached the server
        c2s_rawlog = b"".join(rin for rin, _ in self.dv.rawlog_bytes())
        self.assertNotIn(b"L1 LOGIN", c2s_rawlog)

    def test_require_tls_local_starttls(self):
        self.require_tls("imaps")

    def test_require_tls_passthrough_starttls(self):
        # Dovecot's cleartext port would accept LOGIN: only imaptap refuses it
        self.require_tls("imap")


if __name__ == "__main__":
    unittest.main()
