#!/usr/bin/python3
"""Self-test of the private Dovecot fixture: /usr/bin/python3 -m unittest from
this folder, or run this file.  Needs root and dovecot-imapd."""

import os
import shutil
import socket
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot_fixture import PrivateDovecot  # noqa: E402

MESSAGES = 12


class PrivateDovecotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One instance for the class: starting Dovecot is the slow part.
        cls.workdir = tempfile.mkdtemp(prefix="imaptap-dovecot-test-")
        cls.dv = PrivateDovecot(cls.workdir, messages=MESSAGES, seed=7, rawlog=True)
        cls.dv.start()

    @classmethod
    def tearDownClass(cls):
        cls.dv.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def check_session(self, imap):
        typ, data = imap.select("INBOX", readonly=True)
        self.assertEqual((typ, data), ("OK", [str(MESSAGES).encode()]))
        typ, data = imap.fetch("1", "(BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][1], self.dv.message_bytes()[0])
        imap.logout()

    def test_login_tls_verified(self):
        imap = self.dv.imap_client(tls=True)  # verifies against ca_file and 127.0.0.1
        self.assertTrue(imap.welcome.endswith(b"] imaptap-test ready."), imap.welcome)
        self.check_session(imap)

    def test_login_starttls(self):
        probe = self.dv.imap_client(tls=False, login=False)
        self.assertIn("STARTTLS", probe.capabilities)
        probe.logout()
        self.check_session(self.dv.imap_client(tls=False, starttls=True))

    def test_login_cleartext(self):
        self.check_session(self.dv.imap_client(tls=False))

    def test_all_messages_in_uid_order(self):
        imap = self.dv.imap_client()
        imap.select("INBOX", readonly=True)
        typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
        bodies = [item[1] for item in data if isinstance(item, tuple)]
        imap.logout()
        want = self.dv.message_bytes()
        self.assertEqual(bodies, want)
        sizes = [len(m) for m in want]
        self.assertLess(min(sizes), 1500)
        self.assertGreater(max(sizes), 60 * 1024)
        self.assertTrue(any(b"multipart/mixed" in m for m in want))
        self.assertTrue(all(b"\n" not in m.replace(b"\r\n", b"") for m in want))

    def test_messages_deterministic(self):
        other = PrivateDovecot(self.workdir + "-unused", messages=MESSAGES, seed=7)
        self.assertEqual(other.message_bytes(), self.dv.message_bytes())
        other = PrivateDovecot(self.workdir + "-unused", messages=MESSAGES, seed=8)
        self.assertNotEqual(other.message_bytes(), self.dv.message_bytes())

    def test_append(self):
        msg = b"From: a@example.com\r\nSubject: appended\r\n\r\nhello\r\n"
        uid = self.dv.append("Archive", msg)  # created on first use
        self.assertEqual(uid, 1)
        imap = self.dv.imap_client()
        self.assertEqual(imap.select("Archive")[1], [b"1"])
        self.assertEqual(imap.uid("FETCH", str(uid), "(BODY.PEEK[])")[1][0][1], msg)
        imap.logout()

    def test_rawlog(self):
        imap = self.dv.imap_client()
        imap.select("INBOX")
        imap.search(None, 'SUBJECT "rawlog-probe"')  # marks this session's log
        imap.fetch("1", "(BODY.PEEK[])")
        imap.logout()
        # The imap process writes the last lines as it exits: poll briefly.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            logs = self.dv.rawlog_bytes()
            mine = [(i, o) for i, o in logs if b"rawlog-probe" in i]
            if mine and mine[0][0].endswith(b"LOGOUT\r\n") and b"* BYE" in mine[0][1]:
                break
            time.sleep(0.05)
        self.assertEqual(len(mine), 1, logs)
        received, sent = mine[0]
        # Decrypted bytes after login: commands in, the message body out.
        self.assertRegex(received, rb"^\w+ SELECT INBOX\r\n")
        self.assertIn(self.dv.message_bytes()[0], sent)
        self.assertNotIn(b"s3cr3t", received)  # LOGIN happens in imap-login


class SeparateInstanceTest(unittest.TestCase):
    def test_stop_leaves_nothing_running(self):
        workdir = tempfile.mkdtemp(prefix="imaptap-dovecot-test-")
        try:
            with PrivateDovecot(workdir, messages=2) as dv:
                dv.imap_client().logout()
                pids = dv.pids()
                self.assertGreaterEqual(len(pids), 3)  # master, log, config, login...
                ports = (dv.plain_port, dv.tls_port)
            dv.stop()  # idempotent
            for pid in pids:
                self.assertFalse(_alive(pid), "pid %d still running" % pid)
            self.assertEqual(_cmdlines_with(dv.conf_file), [])
            for port in ports:
                with self.assertRaises(OSError):
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def test_wrong_name_certificate(self):
        workdir = tempfile.mkdtemp(prefix="imaptap-dovecot-test-")
        try:
            with PrivateDovecot(workdir, messages=1, cert_names=("wrong.example",)) as dv:
                with self.assertRaises(ssl.SSLCertVerificationError):
                    dv.imap_client(tls=True)
                # Same CA, so only the name is wrong.
                ctx = dv.ssl_context()
                ctx.check_hostname = False
                with socket.create_connection((dv.host, dv.tls_port)) as s:
                    with ctx.wrap_socket(s) as t:
                        self.assertIn(("commonName", "wrong.example"),
                                      t.getpeercert()["subject"][0])
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdlines_with(text):
    out = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if text.encode() in f.read():
                    out.append(int(d))
        except (OSError, ValueError):
            pass
    return out


if __name__ == "__main__":
    unittest.main()
