#!/usr/bin/python3
"""Real clients through imaptap against the private Dovecot: curl (imaps and
STARTTLS), Python's imaplib (LOGIN, SELECT, FETCH, APPEND with a synchronizing
literal, IDLE while a second connection appends, LOGOUT) and mbsync syncing
200 messages.  Each test checks the JSON log and that the bytes match on
every hop (client, imaptap's capture, Dovecot's rawlog)."""

import imaplib
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot_fixture import HOST, PASSWORD, USER  # noqa: E402
from imaptap_fixture import (ImaptapProcess, by_session, client_context, first,  # noqa: E402
                             recording, select, sha)
from relay_check import check_relay  # noqa: E402
from proxy_case import DovecotProxyCase  # noqa: E402

MESSAGES = 200


class ClientsTest(DovecotProxyCase):
    WORKDIR_PREFIX = "imaptap-it-clients-"
    DOVECOT = dict(messages=MESSAGES, seed=3, rawlog=True)

    def proxy(self, listen="imaps", upstream_tls=True, name=None):
        up = ("imaps://%s:%d" % (HOST, self.dv.tls_port) if upstream_tls
              else "imap://%s:%d" % (HOST, self.dv.plain_port))
        self.px = ImaptapProcess(os.path.join(self.workdir, name or self.id().split(".")[-1]),
                                 listen=[listen], upstream=up, certs=self.certs,
                                 args=["--upstream-ca", self.dv.ca_file], capture=True)
        return self.px.start()

    def check_common(self, events, mech_method, fetch=True):
        """Checks every session of a client run: open/close, auth, mailbox."""
        sessions = by_session(events)
        self.assertGreaterEqual(len(sessions), 1)
        for sid, evs in sessions.items():
            self.assertEqual(evs[0]["ev"], "session_open", sid)
            self.assertEqual(evs[-1]["ev"], "session_close", sid)
            self.assertEqual(evs[-1]["reason"], "logout", evs[-1])
            auth = first(evs, ev="auth")
            self.assertIsNotNone(auth, "no auth event in %s" % sid)
            self.assertEqual((auth.get("user"), auth.get("status"), auth.get("method")),
                             (USER, "OK", mech_method), auth)
            for e in evs:
                if e["ev"] == "untagged" and e.get("name") in ("EXISTS", "FETCH"):
                    self.assertEqual(e.get("mailbox"), "INBOX", e)
                if e["ev"] == "tagged" and e.get("dir") == "s2c":
                    self.assertIn(e.get("status"), ("OK", "NO", "BAD"), e)
                    self.assertIn("cmd", e, e)
                    self.assertIn("ms", e, e)
            greeting = first(evs, ev="untagged", greeting=True)
            self.assertIsNotNone(greeting, "no greeting event")
            self.assertEqual(greeting["off"], 0)
        if fetch:
            self.assertTrue(select(events, ev="untagged", name="FETCH"), "no FETCH event")
        return sessions

    def check_tls_legs(self, evs, client_tls=True):
        legs = {e["leg"]: e for e in evs if e["ev"] == "tls"}
        self.assertIn("server", legs, "no tls event for the server leg")
        srv = legs["server"]
        self.assertIs(srv.get("verified"), True, srv)
        self.assertTrue(srv.get("version", "").startswith("TLSv1."), srv)
        self.assertTrue(srv.get("cipher"), srv)
        self.assertEqual(srv.get("peer", {}).get("subject"), "CN=localhost", srv)
        with open(self.dv.cert_file, "rb") as f:
            import ssl
            der = ssl.PEM_cert_to_DER_cert(f.read().decode())
        self.assertEqual(srv["peer"].get("sha256", "").replace(":", "").lower(), sha(der), srv)
        if client_tls:
            self.assertIn("client", legs, "no tls event for the client leg")
            self.assertTrue(legs["client"].get("version", "").startswith("TLSv1."))
            self.assertTrue(legs["client"].get("cipher"))

    # ------------------------------------------------------------- curl

    def curl(self, url, *extra):
        r = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", self.certs["ca"],
                            "-u", "%s:%s" % (USER, PASSWORD), *extra, url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, "curl failed: %s" % r.stderr.decode())
        return r.stdout

    def test_curl_imaps(self):
        px = self.proxy("imaps")
        body = self.curl("imaps://localhost:%d/INBOX;UID=3" % px.port)
        self.assertEqual(sha(body), sha(self.dv.message_bytes()[2]))
        px.wait_closed(1)
        events = px.finish(self)
        (sid, evs), = self.check_common(events, "AUTHENTICATE").items()
        self.check_tls_legs(evs)
        cmd = first(evs, ev="command", cmd="AUTHENTICATE")
        self.assertEqual(cmd.get("args"), "PLAIN ***", cmd)
        self.assertEqual(first(evs, ev="auth").get("mech"), "PLAIN")
        self.assertTrue(first(evs, ev="command", cmd="SELECT", mailbox="INBOX"))
        fetch = first(evs, ev="untagged", name="FETCH")
        self.assertEqual(fetch["fetch"].get("uid"), 3, fetch)
        self.assertEqual(fetch.get("literals"), [len(self.dv.message_bytes()[2])], fetch)
        self.assertEqual(first(evs, ev="tagged", cmd="UID FETCH").get("status"), "OK")
        check_relay(self, px, sid, evs, dv=self.dv, exclude=self.rawlog_before)

    def test_curl_starttls(self):
        # cleartext listener with a certificate: STARTTLS passes through to
        # Dovecot's cleartext port
        px = self.proxy("imap", upstream_tls=False)
        body = self.curl("imap://localhost:%d/INBOX;UID=5" % px.port, "--ssl-reqd")
        self.assertEqual(sha(body), sha(self.dv.message_bytes()[4]))
        px.wait_closed(1)
        events = px.finish(self)
        (sid, evs), = self.check_common(events, "AUTHENTICATE").items()
        self.check_tls_legs(evs)
        st = [(e["leg"], e["state"]) for e in evs if e["ev"] == "starttls"]
        self.assertIn(("client", "ok"), st, st)
        self.assertIn(("server", "ok"), st, st)
        self.assertTrue(first(evs, ev="command", cmd="STARTTLS"), "no STARTTLS command event")
        check_relay(self, px, sid, evs, dv=self.dv, exclude=self.rawlog_before)

    # ----------------------------------------------------------- imaplib

    def test_imaplib_session(self):
        px = self.proxy("imaps")
        ctx = client_context(self.certs["ca"])
        m = recording(imaplib.IMAP4_SSL)("localhost", px.port, ssl_context=ctx, timeout=30)
        self.assertEqual(m.login(USER, PASSWORD)[0], "OK")
        typ, data = m.select("INBOX")
        self.assertEqual(typ, "OK")
        exists = int(data[0])
        self.assertGreaterEqual(exists, MESSAGES)
        typ, data = m.fetch("1", "(UID FLAGS BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][1], self.dv.message_bytes()[0])
        # APPEND: imaplib sends a synchronizing literal and waits for "+"
        msg = (b"From: Bob <bob@example.com>\r\nTo: alice@example.com\r\n"
               b"Subject: appended through imaptap\r\n\r\n" + b"line of text\r\n" * 300)
        typ, data = m.append("INBOX", None, None, msg)
        self.assertEqual(typ, "OK", data)
        # IDLE by hand (imaplib has no IDLE before 3.14), a second connection
        # (straight to Dovecot) appends, the EXISTS arrives, DONE
        tag = m._new_tag()
        m.send(tag + b" IDLE\r\n")
        self.assertTrue(m.readline().startswith(b"+"))
        px.wait_log(lambda evs: first(evs, ev="idle", state="start"), what="idle start")
        self.dv.append("INBOX", b"From: carol@example.com\r\nSubject: while idle\r\n\r\nhi\r\n")
        while True:
            line = m.readline()
            self.assertTrue(line, "connection closed during IDLE")
            if line.endswith(b" EXISTS\r\n"):
                break
        new_exists = int(line.split()[1])
        m.send(b"DONE\r\n")
        while True:
            line = m.readline()
            self.assertTrue(line, "connection closed after DONE")
            if line.startswith(tag + b" "):
                break
        self.assertIn(b" OK ", line)
        # LOGOUT by hand: imaplib's logout() stops reading at the BYE, and
        # the byte comparison wants everything the server sent
        lo_tag = m._new_tag()
        m.send(lo_tag + b" LOGOUT\r\n")
        self.assertTrue(m.readline().startswith(b"* BYE"))
        self.assertTrue(m.readline().startswith(lo_tag + b" OK"))
        m.shutdown()
        px.wait_closed(1)
        events = px.finish(self)
        (sid, evs), = self.check_common(events, "LOGIN").items()
        self.check_tls_legs(evs)
        login = first(evs, ev="command", cmd="LOGIN")
        self.assertEqual(login.get("args"), '%s ***' % USER, login)
        self.assertTrue(first(evs, ev="command", cmd="SELECT", mailbox="INBOX"))
        self.assertTrue(first(evs, ev="untagged", name="EXISTS", n=exists, mailbox="INBOX"))
        fetch = first(evs, ev="untagged", name="FETCH", n=1)
        self.assertEqual(fetch.get("mailbox"), "INBOX")
        self.assertEqual(fetch["fetch"].get("uid"), 1, fetch)
        # APPEND: the command, the server's "+", the completion
        app = first(evs, ev="command", cmd="APPEND")
        self.assertEqual((app.get("mailbox"), app.get("literals")), ("INBOX", [len(msg)]), app)
        self.assertNotIn("nonsync", app)
        cont = select(evs, ev="continue", tag=app["tag"])
        self.assertEqual(len(cont), 1, "continue events of the APPEND: %s" % cont)
        self.assertEqual(cont[0].get("for"), "literal", cont)
        self.assertEqual(first(evs, ev="tagged", cmd="APPEND").get("status"), "OK")
        # IDLE start, EXISTS for the new message, done with ms, tagged OK
        start = first(evs, ev="idle", state="start")
        done = first(evs, ev="idle", state="done")
        self.assertTrue(start and done, "idle start/done missing")
        self.assertEqual((start["tag"], done["tag"]), (tag.decode(), tag.decode()))
        self.assertIsInstance(done.get("ms"), (int, float), done)
        self.assertGreater(done["ms"], 0)
        ex = first(evs, ev="untagged", name="EXISTS", n=new_exists)
        self.assertTrue(ex and start["seq"] < ex["seq"] < done["seq"], (start, ex, done))
        self.assertEqual(ex.get("mailbox"), "INBOX")
        idle_ok = first(evs, ev="tagged", tag=tag.decode())
        self.assertEqual((idle_ok.get("cmd"), idle_ok.get("status")), ("IDLE", "OK"), idle_ok)
        self.assertEqual(first(evs, ev="tagged", cmd="LOGOUT").get("status"), "OK")
        self.assertEqual(evs[-1].get("user"), USER)
        check_relay(self, px, sid, evs, client_sent=m.rec_sent, client_recv=m.rec_recv,
                    dv=self.dv, exclude=self.rawlog_before)

    # ------------------------------------------------------------ mbsync

    def mbsync(self, name, port, ca, outdir):
        os.makedirs(outdir)
        rc = os.path.join(self.workdir, name + ".mbsyncrc")
        with open(rc, "w") as f:
            f.write("""IMAPAccount {n}
Host localhost
Port {port}
User {user}
Pass {pw}
SSLType IMAPS
CertificateFile {ca}
PipelineDepth 50

IMAPStore {n}-far
Account {n}

MaildirStore {n}-near
Path {out}/
Inbox {out}/INBOX
SubFolders Verbatim

Channel {n}
Far :{n}-far:
Near :{n}-near:
Patterns INBOX
Create Near
Sync Pull
SyncState *
""".format(n=name, port=port, user=USER, pw=PASSWORD, ca=ca, out=outdir))
        r = subprocess.run(["mbsync", "-c", rc, "-q", name], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=180)
        self.assertEqual(r.returncode, 0, "mbsync %s: %s" % (name, r.stderr.decode()))

    @staticmethod
    def normalize(message):
        """mbsync stores LF line ends and adds a random X-TUID header."""
        message = message.replace(b"\r\n", b"\n")
        return re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", message, count=1)

    def maildir_contents(self, path):
        out = []
        for sub in ("cur", "new"):
            d = os.path.join(path, sub)
            for n in os.listdir(d):
                with open(os.path.join(d, n), "rb") as f:
                    out.append(sha(self.normalize(f.read())))
        return sorted(out)

    def test_mbsync_200(self):
        px = self.proxy("imaps")
        direct = os.path.join(self.workdir, "mbsync-direct")
        proxied = os.path.join(self.workdir, "mbsync-proxied")
        self.mbsync("direct", self.dv.tls_port, self.dv.ca_file, direct)
        self.mbsync("proxied", px.port, self.certs["ca"], proxied)
        a = self.maildir_contents(os.path.join(direct, "INBOX"))
        b = self.maildir_contents(os.path.join(proxied, "INBOX"))
        self.assertGreaterEqual(len(a), MESSAGES)
        self.assertEqual(len(a), len(b))
        self.assertEqual(a, b, "the Maildir synced through imaptap differs from a direct sync")
        want = sorted(sha(self.normalize(m)) for m in self.dv.message_bytes())
        self.assertTrue(set(want) <= set(b), "generated messages missing from the proxied sync")
        events = px.wait_log(lambda evs: evs if any(e["ev"] == "session_close" for e in evs)
                             else None, what="mbsync's session_close")
        events = px.finish(self)
        sessions = self.check_common(events, events and first(events, ev="auth")["method"])
        fetched = set()
        for sid, evs in sessions.items():
            self.check_tls_legs(evs)
            for e in evs:
                if e["ev"] == "untagged" and e.get("name") == "FETCH" and e.get("literals"):
                    fetched.add(e["fetch"].get("uid"))
            check_relay(self, px, sid, evs, dv=self.dv, exclude=self.rawlog_before)
        self.assertGreaterEqual(len(fetched), MESSAGES, "FETCH events with a body")


if __name__ == "__main__":
    unittest.main()
