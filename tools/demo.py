#!/usr/bin/python3
"""make demo: imaptap's main job, end to end, on this machine.

Starts a private Dovecot on 127.0.0.1 (own config, own temp dir, a generated
mailbox), makes a local CA and a certificate with certs/mkcert.sh, starts
imaptap in front of Dovecot with TLS on both legs, runs a real client session
through it (Python's imaplib: LOGIN, SELECT, FETCH, IDLE while a second
connection appends a message, LOGOUT), prints the JSON log, and stops
everything it started.
"""
import imaplib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from dovecot_fixture import PrivateDovecot  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc):
    # imaptap says on stderr when it listens (a probe connection would be
    # logged as a session of its own)
    line = proc.stderr.readline()
    if not line:
        raise RuntimeError("imaptap exited with status %s" % proc.wait())
    print("   " + line.strip())


def say(text):
    print("\033[1m== %s\033[0m" % text if sys.stdout.isatty() else "== " + text, flush=True)


def client_session(port, ca, user, password, dovecot):
    ctx = ssl.create_default_context(cafile=ca)
    m = imaplib.IMAP4_SSL("localhost", port, ssl_context=ctx)
    print("   LOGIN  ", m.login(user, password))
    print("   SELECT ", m.select("INBOX"))
    typ, data = m.fetch("1", "(UID FLAGS ENVELOPE)")
    print("   FETCH  ", typ, data[0][:72], b"...")
    # IDLE by hand (imaplib has no IDLE before Python 3.14)
    tag = m._new_tag().decode()
    m.send(("%s IDLE\r\n" % tag).encode())
    print("   IDLE   ", m.readline().strip())
    threading.Timer(0.5, lambda: dovecot.append(
        "INBOX", b"From: bob@example.org\r\nTo: alice@example.org\r\n"
                 b"Subject: pushed while you were idle\r\n\r\nHello!\r\n")).start()
    print("   pushed ", m.readline().strip())
    m.send(b"DONE\r\n")
    while True:
        line = m.readline().strip()
        if line.startswith(tag.encode()):
            print("   DONE   ", line)
            break
    print("   LOGOUT ", m.logout())


def main():
    work = tempfile.mkdtemp(prefix="imaptap-demo-")
    os.chmod(work, 0o755)  # Dovecot's unprivileged processes must reach the mail
    proc = None
    try:
        say("starting a private Dovecot on 127.0.0.1 (config and mail in %s)" % work)
        dovecot = PrivateDovecot(os.path.join(work, "dovecot"), messages=12, seed=7)
        dovecot.start()
        say("making a local CA and a certificate for localhost with certs/mkcert.sh")
        pki = os.path.join(work, "pki")
        subprocess.run([os.path.join(ROOT, "certs", "mkcert.sh"), pki, "localhost", "127.0.0.1"],
                       check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        log = os.path.join(work, "imaptap.jsonl")
        cmd = [os.path.join(ROOT, "imaptap"),
               "-l", "imaps://127.0.0.1:%d" % port,
               "-u", "imaps://localhost:%d" % dovecot.tls_port,
               "--upstream-ca", dovecot.ca_file,
               "--cert", os.path.join(pki, "localhost.crt"),
               "--key", os.path.join(pki, "localhost.key"),
               "--log", log]
        say("starting imaptap in front of it:")
        print("   " + " ".join(cmd[:1] + [c.replace(work, "$DEMO") for c in cmd[1:]]))
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        wait_listening(proc)
        say("a client session through imaptap (Python imaplib, TLS verified)")
        client_session(port, os.path.join(pki, "ca.crt"), dovecot.user, dovecot.password,
                       dovecot)
        time.sleep(0.3)  # the log writer flushes within 100 ms
        proc.terminate()
        proc.wait(timeout=15)
        say("the JSON log (%s), one event per line:" % log)
        with open(log) as f:
            lines = f.read().splitlines()
        for line in lines:
            print(line)
        secret_seen = any(dovecot.password in line for line in lines)
        events = [json.loads(line)["ev"] for line in lines]
        say("%d events: %s; password in the log: %s" % (
            len(lines), ", ".join("%s %d" % (e, events.count(e)) for e in sorted(set(events))),
            "YES (bug!)" if secret_seen else "no"))
        return 1 if secret_seen or proc.returncode != 0 else 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        try:
            dovecot.stop()
        except Exception:
            pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
