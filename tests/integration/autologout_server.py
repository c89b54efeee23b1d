#!/usr/bin/python3
"""A scripted IMAP server with an inactivity autologout, for the keepalive
tests: only for what Dovecot cannot be made to do (Dovecot's autologout is
a hard-coded 30 minutes, it never answers NOOP with NO, and it answers at
once).

    with AutologoutServer(autologout=5.0, noop_delay=1.0) as srv:   # srv.port
        ...
    conn = srv.conns[0]
    conn.received        # every byte the server received, exactly
    conn.sent            # every byte it sent
    conn.commands        # [(monotonic time, line)] complete command lines
    conn.log             # [(monotonic time, "recv"|"send"|"bye"|"close", bytes)]

Behaviour (deterministic, no dates or timings in what it sends):
- greeting "* OK [CAPABILITY IMAP4rev1 LITERAL+ ID] autologout test server ready"
  (with idle=True the capability list also has IDLE);
- when no command line has arrived for `autologout` seconds (RFC 3501 5.4:
  the timer is reset by client commands only), it sends
  "* BYE Autologout; idle for too long" and closes;
- LOGIN (any user, password "pw") → OK [CAPABILITY ...]; CAPABILITY; SELECT and
  EXAMINE → `messages` EXISTS, 0 RECENT, FLAGS, UIDVALIDITY, UIDNEXT, OK;
  NOOP → after `noop_delay` seconds, "<tag> <noop_status> NOOP completed."
  (noop_status "NO" refuses every NOOP); FETCH/UID FETCH of FLAGS and UID
  for a set (n, n:m, *, comma lists); CHECK; IDLE (idle=True) → "+ idling",
  then after DONE and `done_delay` seconds "<tag> OK Idle completed.";
  LOGOUT → BYE, OK, close;
  anything else → BAD.  Message n has UID 100+n and flags \\Seen when n is odd.
"""

import re
import socket
import threading
import time

from dovecot_fixture import HOST
from fake_server import FakeServer

CAPS = "IMAP4rev1 LITERAL+ ID"
BYE = b"* BYE Autologout; idle for too long\r\n"


def uid_of(n):
    return 100 + n


def flags_of(n):
    return "\\Seen" if n % 2 else ""


def parse_set(text, top, uids=False):
    """Message numbers of a sequence set (or UID set) over 1..top."""
    out = []
    last = uid_of(top) if uids else top
    for part in text.split(","):
        a, _, b = part.partition(":")
        lo = last if a == "*" else int(a)
        hi = lo if not b else (last if b == "*" else int(b))
        lo, hi = min(lo, hi), max(lo, hi)
        for v in range(lo, hi + 1):
            n = v - 100 if uids else v
            if 1 <= n <= top and n not in out:
                out.append(n)
    return out


class ServerConn:
    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.received = bytearray()
        self.sent = bytearray()
        self.commands = []
        self.log = []
        self.buf = bytearray()
        self.selected = False
        self.error = None
        self.bye_sent = False
        self.done = threading.Event()

    def send(self, data):
        self.log.append((time.monotonic(), "send", bytes(data)))
        self.sent += data
        self.sock.sendall(data)

    def read_line(self, deadline):
        """A line with CRLF; None at the autologout deadline; b"" at EOF."""
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return line
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
            else:
                self.sock.settimeout(None)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not d:
                return b""
            self.log.append((time.monotonic(), "recv", d))
            self.received += d
            self.buf += d

    def run(self):
        srv = self.server
        self.send(b"* OK [CAPABILITY " + srv.caps.encode() + b"] autologout test server ready\r\n")
        last = time.monotonic()
        while True:
            deadline = last + srv.autologout if srv.autologout else None
            line = self.read_line(deadline)
            if line is None:
                self.log.append((time.monotonic(), "bye", b""))
                self.bye_sent = True
                self.send(BYE)
                return
            if not line:
                return
            last = time.monotonic()
            self.commands.append((last, line))
            if not self.answer(line):
                return

    def answer(self, line):
        srv = self.server
        caps = srv.caps.encode()
        text = line[:-2].decode("latin-1")
        words = text.split(" ", 2)
        tag = words[0].encode("latin-1")
        cmd = words[1].upper() if len(words) > 1 else ""
        args = words[2] if len(words) > 2 else ""
        if cmd == "UID" and args:
            sub, _, args = args.partition(" ")
            cmd = "UID " + sub.upper()
        if cmd == "CAPABILITY":
            self.send(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK Capability completed.\r\n")
        elif cmd == "LOGIN":
            if args.split(" ")[-1].strip('"') == "pw":
                self.send(tag + b" OK [CAPABILITY " + caps + b"] Logged in\r\n")
            else:
                self.send(tag + b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
        elif cmd in ("SELECT", "EXAMINE"):
            n = srv.messages
            self.selected = True
            self.send(("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                       "* %d EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
                       "* OK [UIDNEXT %d] Predicted next UID\r\n" % (n, uid_of(n + 1))).encode()
                      + tag + (b" OK [READ-WRITE] Select completed.\r\n" if cmd == "SELECT"
                               else b" OK [READ-ONLY] Examine completed.\r\n"))
        elif cmd == "NOOP":
            if srv.noop_delay:
                time.sleep(srv.noop_delay)
            self.send(tag + b" " + srv.noop_status.encode() + b" NOOP completed.\r\n")
        elif cmd == "IDLE" and srv.idle:
            self.send(b"+ idling\r\n")
            done = self.read_line(None)
            if not done:
                return False
            self.commands.append((time.monotonic(), done))
            if done.upper() != b"DONE\r\n":
                self.send(tag + b" BAD Expected DONE.\r\n")
                return True
            if srv.done_delay:
                time.sleep(srv.done_delay)
            self.send(tag + b" OK Idle completed.\r\n")
        elif cmd == "CHECK":
            self.send(tag + b" OK Check completed.\r\n")
        elif cmd in ("FETCH", "UID FETCH") and self.selected:
            m = re.match(r"(\S+) \(?([^)]*)\)?$", args)
            if not m:
                self.send(tag + b" BAD Error in IMAP command FETCH: Invalid arguments.\r\n")
                return True
            uids = cmd == "UID FETCH"
            items = m.group(2).upper().split()
            out = b""
            for n in parse_set(m.group(1), srv.messages, uids):
                parts = []
                if uids or "UID" in items:
                    parts.append("UID %d" % uid_of(n))
                if "FLAGS" in items:
                    parts.append("FLAGS (%s)" % flags_of(n))
                out += ("* %d FETCH (%s)\r\n" % (n, " ".join(parts))).encode()
            self.send(out + tag + b" OK Fetch completed.\r\n")
        elif cmd == "LOGOUT":
            self.send(b"* BYE Logging out\r\n" + tag + b" OK Logout completed.\r\n")
            return False
        else:
            self.send(tag + b" BAD Error in IMAP command: Unknown command.\r\n")
        return True

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    # -- for the tests

    def command_lines(self):
        return [line for _t, line in self.commands]

    def first_time(self, pred):
        """Monotonic time of the first command line for which pred(line) holds."""
        for t, line in self.commands:
            if pred(line):
                return t
        return None


class AutologoutServer(FakeServer):
    def __init__(self, autologout=5.0, noop_delay=0.0, noop_status="OK", messages=3, idle=False,
                 done_delay=0.0):
        super().__init__(timeout=None)  # reads time out at the autologout deadline
        self.autologout = autologout
        self.idle = idle
        self.done_delay = done_delay
        self.caps = CAPS + (" IDLE" if idle else "")
        self.noop_delay = noop_delay
        self.noop_status = noop_status
        self.messages = messages

    @property
    def url(self):
        return "imap://%s:%d" % (HOST, self.port)

    def new_conn(self, sock, addr):
        return ServerConn(self, sock)

    def serve(self, conn):
        try:
            conn.run()
        finally:
            conn.log.append((time.monotonic(), "close", b""))
