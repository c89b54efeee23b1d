#!/usr/bin/python3
"""Records tests/tools/inputs/proxy.jsonl: a real imaptap log of four
interleaved sessions through a private Dovecot (the integration fixtures):
implicit TLS, STARTTLS, pipelined FETCH/LIST/STATUS/SEARCH/STORE, a NO and
a BAD, IDLE woken by an APPEND from the other session, keepalives
(--keepalive 1), failed LOGIN and AUTHENTICATE, logout and client close.

    tests/tools/record_proxy.py [OUT]      (as root, like make integration)

The goldens in tests/tools/expected were made from the recorded file: after
recording again, run tests/tools/run.sh IMAPTAP --update and review the diff.
"""
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from dovecot_fixture import HOST, PASSWORD, USER, PrivateDovecot  # noqa: E402
from imaptap_fixture import (ImaptapProcess, RawClient, client_context, make_certs,  # noqa: E402
                             make_workdir)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "inputs", "proxy.jsonl")
wd = make_workdir("imaptap-record-")
dv = PrivateDovecot(os.path.join(wd, "dv"), messages=6, seed=5)
dv.start()
certs = make_certs(os.path.join(wd, "pc"), "localhost", HOST)
ctx = client_context(certs["ca"])
px = ImaptapProcess(os.path.join(wd, "px"), listen=["imaps", "imap"],
                    upstream=["imaps://localhost:%d" % dv.tls_port, "imap://localhost:%d" % dv.plain_port],
                    certs=certs, args=["--upstream-ca", dv.ca_file, "--keepalive", "1"])
px.start()
try:
    # A: imaps, a full session with pipelining
    a = RawClient(px.ports[0], tls=ctx)
    a.read_line()
    a.command('LOGIN %s "%s"' % (USER, PASSWORD))
    # B: cleartext + STARTTLS, interleaved with A
    b = RawClient(px.ports[1])
    b.read_line()
    b.command("CAPABILITY")
    b.starttls(ctx)
    a.command("SELECT INBOX")
    b.command('LOGIN %s "%s"' % (USER, PASSWORD))
    a.command("UID FETCH 1:* (FLAGS)")
    b.command("EXAMINE INBOX")
    a.command("FETCH 1:3 (UID RFC822.SIZE FLAGS ENVELOPE)")
    b.command("SELECT Nonexistent")
    a.command("FETCH 2 BODY.PEEK[]")
    b.command("FROB")
    a.command('LIST "" "*"')
    a.command("STATUS INBOX (MESSAGES UIDNEXT UNSEEN)")
    a.command("UID SEARCH ALL")
    a.command("STORE 1 +FLAGS (\\Seen)")
    # IDLE on A while B appends
    a.send(b"i1 IDLE\r\n")
    a.read_line()
    msg = b"From: x@example.com\r\nSubject: pushed\r\n\r\nhello\r\n"
    b.send(b"b9 APPEND INBOX {%d}\r\n" % len(msg))
    b.read_line()
    b.send(msg + b"\r\n")
    b.until_tagged("b9")
    a.read_line()
    time.sleep(0.3)
    a.send(b"DONE\r\n")
    a.until_tagged("i1")
    # C: keepalive kicks in while C is silent
    c = RawClient(px.ports[0], tls=ctx)
    c.read_line()
    c.command('LOGIN %s "%s"' % (USER, PASSWORD))
    c.command("SELECT INBOX")
    time.sleep(2.5)
    c.command("NOOP")
    a.command("LOGOUT"); a.read_all(); a.close()
    b.command("LOGOUT"); b.read_all(); b.close()
    # D: bad login, then the client just goes away
    d = RawClient(px.ports[0], tls=ctx)
    d.read_line()
    d.command('LOGIN %s "wrong"' % USER)
    d.command('AUTHENTICATE PLAIN AGJvYgB4')
    d.close()
    c.close()
    time.sleep(0.5)
finally:
    px.stop()
    dv.stop()
shutil.copy(px.log_path, OUT)
shutil.rmtree(wd, ignore_errors=True)
print("wrote", OUT)
