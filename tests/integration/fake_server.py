#!/usr/bin/python3
"""A scripted fake IMAP server, only for what Dovecot cannot be made to do
(a malformed server line, for instance).  Everything else is tested against
the real Dovecot of dovecot_fixture.py.

    def script(conn):
        conn.send(b"* OK fake ready\\r\\n")
        tag, line = conn.read_command()
        conn.send(b"* 4 FETCH (FLAGS (\\\\Seen) UID\\r\\n")
        conn.send(tag + b" OK done\\r\\n")

    with FakeServer(script) as fs:     # fs.port on 127.0.0.1
        ...
    fs.conns[0].sent, fs.conns[0].received   # exact bytes, both directions

Each accepted connection runs the script in its own thread; an exception in
a script is kept in conn.error (the test decides what it means).
"""

import socket
import threading

from dovecot_fixture import HOST


class FakeConn:
    def __init__(self, sock, addr):
        self.sock = sock
        self.addr = addr
        self.sent = bytearray()
        self.received = bytearray()
        self.buf = bytearray()
        self.error = None
        self.done = threading.Event()

    def send(self, data):
        self.sock.sendall(data)
        self.sent += data

    def read_line(self):
        """One line with its CRLF; b"" when the peer closed."""
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return line
            d = self.sock.recv(65536)
            if not d:
                return b""
            self.received += d
            self.buf += d

    def read_command(self):
        """(tag, whole line) of the next client command; (None, b"") at EOF."""
        line = self.read_line()
        if not line:
            return None, b""
        return line.split(b" ", 1)[0], line

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class FakeServer:
    def __init__(self, script=None, timeout=15):
        self.script = script
        self.timeout = timeout
        self.conns = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.accepted = threading.Semaphore(0)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self._thread.start()
        return self

    def new_conn(self, sock, addr):
        """The object a connection's script works on (subclasses: their own)."""
        return FakeConn(sock, addr)

    def serve(self, conn):
        self.script(conn)

    def _accept(self):
        while not self._stop:
            try:
                s, addr = self.lsock.accept()
            except OSError:
                return
            if self.timeout is not None:
                s.settimeout(self.timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = self.new_conn(s, addr)
            self.conns.append(c)
            self.accepted.release()
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, conn):
        try:
            self.serve(conn)
        except Exception as e:  # kept for the test to look at
            conn.error = e
        finally:
            conn.close()
            conn.done.set()

    def stop(self):
        self._stop = True
        try:
            self.lsock.close()
        except OSError:
            pass
        for c in self.conns:
            c.close()
