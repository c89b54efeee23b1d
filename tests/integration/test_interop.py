#!/usr/bin/python3
"""Wireshark and Dovecot interop: --keylog lets tshark decrypt a capture taken
beside imaptap; `imaptap decode --rawlog` reads a session Dovecot recorded and
gives the same commands and responses as imaptap's own log; `decode --pcap`
reads the IMAP streams of a cleartext capture through tshark."""

import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot_fixture import HOST, PASSWORD, USER  # noqa: E402
from imaptap_fixture import IMAPTAP, ImaptapProcess, RawClient, parse_log, wait_for  # noqa: E402
from proxy_case import DovecotProxyCase  # noqa: E402

TSHARK = shutil.which("tshark")


def decode(*args):
    r = subprocess.run([IMAPTAP, "decode"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout, r.stderr.decode()


def pairs(events):
    """What a session said, independent of offsets and times: the commands
    and the tagged completions, in order."""
    out = []
    for e in events:
        if e["ev"] == "command":
            out.append(("C", e["tag"], e["cmd"], e.get("args")))
        elif e["ev"] == "tagged":
            out.append(("S", e["tag"], e["status"], e.get("code")))
    return out


def short_session(port, ctx):
    c = RawClient(port, tls=ctx)
    c.read_line()  # greeting
    c.command('LOGIN %s "%s"' % (USER, PASSWORD))
    c.command("SELECT INBOX")
    c.command("FETCH 1:2 (UID FLAGS RFC822.SIZE)")
    c.command("UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.command("NOOP")
    c.command("LOGOUT")
    c.close()


class InteropTest(DovecotProxyCase):
    WORKDIR_PREFIX = "imaptap-it-interop-"
    DOVECOT = dict(messages=4, seed=23, rawlog=True)
    CERTS_DIR = "certs"

    def setUp(self):
        super().setUp()
        self.cap = None

    def tearDown(self):
        if self.cap is not None and self.cap.poll() is None:
            self.cap.kill()
        super().tearDown()

    def start_capture(self, path, ports):
        """tshark on the loopback interface, on our ports only."""
        filt = " or ".join("tcp port %d" % p for p in ports)
        self.cap = subprocess.Popen([TSHARK, "-q", "-i", "lo", "-f", filt, "-w", path],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tshark says "Capture started." once packets are being recorded
        # ("Capturing on ..." comes earlier, before dumpcap is ready)
        line = b""
        deadline = time.monotonic() + 20
        while b"Capture started" not in line and time.monotonic() < deadline:
            line = self.cap.stderr.readline()
            if not line and self.cap.poll() is not None:
                self.fail("tshark did not start capturing")

    def stop_capture(self, path):
        # let the last packets reach the file before stopping
        size = -1
        while os.path.exists(path) and os.path.getsize(path) != size:
            size = os.path.getsize(path)
            time.sleep(0.3)
        self.cap.terminate()
        self.cap.wait(timeout=10)

    @unittest.skipUnless(TSHARK, "tshark is not installed (make check installs it)")
    def test_keylog_lets_tshark_decrypt_both_legs(self):
        wd = os.path.join(self.workdir, "keylog")
        keys = os.path.join(wd, "keys.txt")
        os.makedirs(wd, exist_ok=True)
        self.px = ImaptapProcess(wd, listen=("imaps",),
                                 upstream="imaps://%s:%d" % (HOST, self.dv.tls_port),
                                 certs=self.certs,
                                 args=["--upstream-ca", self.dv.ca_file, "--keylog", keys])
        self.px.start()
        self.assertIn("--keylog", self.px.stderr())  # the warning at start-up
        pcap = os.path.join(wd, "cap.pcapng")
        self.start_capture(pcap, [self.px.port, self.dv.tls_port])
        short_session(self.px.port, self.ctx)
        self.px.wait_closed()
        self.stop_capture(pcap)
        self.assertEqual(os.stat(keys).st_mode & 0o777, 0o600)
        found = {}
        for port in (self.px.port, self.dv.tls_port):
            r = subprocess.run(
                [TSHARK, "-r", pcap, "-o", "tls.keylog_file:" + keys,
                 "-d", "tcp.port==%d,tls" % port, "-d", "tls.port==%d,imap" % port,
                 "-Y", "imap.request && tcp.dstport==%d" % port,
                 "-T", "fields", "-e", "imap.request"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
            found[port] = r.stdout.decode().split("\n")
        for port, lines in found.items():
            text = "\n".join(lines)
            # both legs decrypt, and the commands are there
            self.assertIn("SELECT INBOX", text, "leg to port %d: %r" % (port, text))
            self.assertIn("UID FETCH 1", text)
        self.px.finish(self)

    def test_decode_rawlog_equals_imaptap_log(self):
        wd = os.path.join(self.workdir, "rawlog")
        before = set(self.dv.rawlog_files())
        self.px = ImaptapProcess(wd, listen=("imaps",),
                                 upstream="imaps://%s:%d" % (HOST, self.dv.tls_port),
                                 certs=self.certs, args=["--upstream-ca", self.dv.ca_file])
        self.px.start()
        short_session(self.px.port, self.ctx)
        self.px.wait_closed()
        live = self.px.log_lines(complete=True)
        new = wait_for(lambda: [p for p in self.dv.rawlog_files() if p not in before] or None,
                       what="Dovecot's rawlog of the session")
        self.assertEqual(len(new), 1)
        prefix = new[0][0][:-3]
        # the rawlog may still be closing: wait until its LOGOUT reply is there
        wait_for(lambda: b"LOGOUT" in open(new[0][0], "rb").read(), what="rawlog complete")
        rc, out, err = decode("--rawlog", prefix)
        self.assertEqual(rc, 0, err)
        raw = parse_log(out, "decode --rawlog")
        # Dovecot's rawlog starts after LOGIN: compare from the first command after it
        live_pairs = pairs(live)
        login = [i for i, p in enumerate(live_pairs) if p[0] == "C" and p[2] == "LOGIN"][0]
        live_after = [p for p in live_pairs[login + 1:] if not (p[0] == "S" and p[1] == live_pairs[login][1])]
        raw_pairs = [p for p in pairs(raw) if not (p[0] == "S" and p[1] == live_pairs[login][1])]
        self.assertEqual(raw_pairs, live_after)
        # the untagged responses too (names and numbers)
        untagged = lambda evs: [(e.get("name"), e.get("n")) for e in evs
                                if e["ev"] == "untagged" and not e.get("greeting")
                                and e.get("name") != "CAPABILITY"]
        self.assertEqual(untagged(raw), untagged(live)[-len(untagged(raw)):])
        self.px.finish(self)

    @unittest.skipUnless(TSHARK, "tshark is not installed (make check installs it)")
    def test_decode_pcap_of_cleartext_session(self):
        wd = os.path.join(self.workdir, "pcap")
        self.px = ImaptapProcess(wd, listen=("imap",),
                                 upstream="imap://%s:%d" % (HOST, self.dv.plain_port))
        self.px.start()
        pcap = os.path.join(wd, "cap.pcapng")
        self.start_capture(pcap, [self.px.port])
        short_session(self.px.port, None)
        self.px.wait_closed()
        self.stop_capture(pcap)
        live = self.px.log_lines(complete=True)
        rc, out, err = decode("--pcap", "--port", str(self.px.port), pcap)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        from_pcap = parse_log(out, "decode --pcap")
        self.assertEqual(pairs(from_pcap), pairs(live))
        self.assertNotIn(PASSWORD.encode(), out)
        self.px.finish(self)

    def test_decode_pcap_without_tshark_says_so(self):
        env = dict(os.environ, PATH="/nonexistent")
        pcap = os.path.join(self.workdir, "empty.pcap")
        open(pcap, "wb").close()
        r = subprocess.run([IMAPTAP, "decode", "--pcap", pcap], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"needs tshark", r.stderr)
        self.assertEqual(r.stderr.count(b"\n"), 1)


if __name__ == "__main__":
    unittest.main()
