#!/usr/bin/python3
"""Harness for imaptap's integration tests: run ./imaptap, read its log.

    px = ImaptapProcess(workdir, listen=["imaps"], upstream=dv_url,
                        certs=certs, args=["--upstream-ca", dv.ca_file])
    px.start()                 # free ports, waits until every listener listens
    ...                        # clients connect to px.port (px.ports[i])
    lines = px.log_lines()     # every complete line, each schema-validated
    px.wait_log(lambda ev: ...)  # poll until a condition on the log holds
    px.finish()                # SIGTERM, exit 0, whole log valid, no secret

Everything here polls for conditions with short timeouts; nothing sleeps a
fixed time.  IMAPTAP=path runs another build (e.g. build/san/imaptap);
IMAPTAP_TEST_KEEP=1 keeps the work folders (logs, captures) after a run.  Standard library plus python3-jsonschema (Debian), so it runs
under /usr/bin/python3.
"""

import atexit
import base64
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

from dovecot_fixture import HOST, PASSWORD, USER, free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAPTAP = os.environ.get("IMAPTAP", os.path.join(REPO, "imaptap"))
# an ASan/UBSan build (make build/san/imaptap): memory figures mean little
SANITIZED = "/san/" in IMAPTAP
SANITIZER_ERROR = re.compile(r"ERROR: (Address|Leak|Thread)Sanitizer|runtime error:")
SCHEMA_FILE = os.path.join(REPO, "logger", "schema-v1.json")
MKCERT = os.path.join(REPO, "certs", "mkcert.sh")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 30.0
LOG_TIMEOUT = 10.0

_validator = None
_validator_lock = threading.Lock()


def validator():
    """The Draft 2020-12 validator of logger/schema-v1.json (built once)."""
    global _validator
    with _validator_lock:
        if _validator is None:
            import jsonschema
            with open(SCHEMA_FILE) as f:
                schema = json.load(f)
            jsonschema.Draft202012Validator.check_schema(schema)
            _validator = jsonschema.Draft202012Validator(schema)
        return _validator


class LogError(AssertionError):
    pass


def parse_log(data, where="log", complete=True):
    """Parses JSON lines (bytes) and validates each against the schema.

    With complete=False a trailing partial line (being written) is ignored;
    with complete=True the data must end with a newline.  Raises LogError
    naming every bad line."""
    if complete and data and not data.endswith(b"\n"):
        raise LogError("%s: last line has no newline: %r" % (where, data[-200:]))
    chunks = data.split(b"\n")
    chunks.pop()  # "" after the last newline, or the partial line
    v = validator()
    out, errors = [], []
    for n, raw in enumerate(chunks, 1):
        try:
            text = raw.decode("utf-8")
            obj = json.loads(text)
        except (UnicodeDecodeError, ValueError) as e:
            errors.append("%s:%d: not a JSON line (%s): %r" % (where, n, e, raw[:300]))
            continue
        errs = sorted(v.iter_errors(obj), key=lambda e: list(e.path))
        if errs:
            errors.append("%s:%d: schema: %s | %s" % (
                where, n, "; ".join("%s at %s" % (e.message[:300], "/".join(map(str, e.path)))
                                    for e in errs[:5]), text[:400]))
            continue
        out.append(obj)
    if errors:
        raise LogError("%d invalid line(s):\n%s" % (len(errors), "\n".join(errors[:20])))
    return out


def by_session(events):
    """{sid: [events in seq order]} (insertion order of first appearance)."""
    out = {}
    for e in events:
        out.setdefault(e["sid"], []).append(e)
    for evs in out.values():
        evs.sort(key=lambda e: e["seq"])
    return out


def check_seq_gapless(testcase, events):
    """seq runs 0..n-1 in every session, each exactly once."""
    for sid, evs in by_session(events).items():
        seqs = [e["seq"] for e in evs]
        testcase.assertEqual(seqs, list(range(len(seqs))),
                             "session %s: seq not gapless: %s" % (sid, seqs))


def b64_fragments(secret):
    """Substrings that any base64 text containing `secret` must contain,
    for each of the three alignments."""
    out = set()
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + secret)
        start = -(-8 * k // 6)
        end = (8 * (k + len(secret))) // 6
        out.add(enc[start:end])
    return out


def secret_forms(password=PASSWORD, user=USER):
    """Every form in which the password could leak into a log."""
    pw = password.encode()
    forms = {pw, pw.lower(), pw.upper(), pw.hex().encode(), pw[:6]}
    forms.add(json.dumps(password)[1:-1].encode())
    forms |= b64_fragments(pw)
    for blob in (b"\0" + user.encode() + b"\0" + pw,
                 user.encode() + b"\0" + user.encode() + b"\0" + pw):
        forms.add(base64.b64encode(blob))
    forms.add(base64.b64encode(pw))
    return sorted(forms)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def wait_for(cond, timeout=LOG_TIMEOUT, what="condition", interval=0.01):
    """Polls cond() until it returns something true; returns that.  Raises
    AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)


def listening_ports():
    """Local TCP ports in LISTEN state (IPv4 and IPv6)."""
    ports = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "0A":
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def make_workdir(prefix):
    """A temp folder that Dovecot's unprivileged processes can traverse."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


def remove_workdir(path):
    """rm -rf, unless IMAPTAP_TEST_KEEP is set (to look at logs after a run)."""
    if os.environ.get("IMAPTAP_TEST_KEEP"):
        print("kept %s" % path, file=sys.stderr)
        return
    shutil.rmtree(path, ignore_errors=True)


def make_certs(outdir, *names):
    """certs/mkcert.sh OUTDIR NAME...: returns dict(ca=, cert=, key=)."""
    names = names or ("localhost", HOST)
    subprocess.run([MKCERT, outdir, *names], check=True, stdout=subprocess.DEVNULL)
    return {"ca": os.path.join(outdir, "ca.crt"),
            "cert": os.path.join(outdir, names[0] + ".crt"),
            "key": os.path.join(outdir, names[0] + ".key")}


def client_context(ca_file):
    """A client TLS context that trusts only ca_file and checks names."""
    return ssl.create_default_context(cafile=ca_file)


# ------------------------------------------------------------- the process


class ImaptapProcess:
    """One ./imaptap on free ports of 127.0.0.1.

    listen: schemes ("imaps", "imap"), one listener each, in order; or full
    URLs.  upstream: a URL or a list of URLs (pairs with the listeners).
    certs: dict from make_certs() for --cert/--key, or None.
    log: True for a log file in workdir, or a path (e.g. /dev/full).
    capture: True for a capture folder in workdir."""

    def __init__(self, workdir, listen=("imaps",), upstream=None, certs=None, args=(),
                 log=True, capture=False, drain=5, name="imaptap"):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.listen_spec = list(listen)
        self.upstream = [upstream] if isinstance(upstream, str) else list(upstream or [])
        self.certs = certs
        self.extra = list(args)
        self.name = name
        self.drain = drain
        if log is True:
            self.log_path = os.path.join(workdir, name + ".jsonl")
        else:
            self.log_path = log
        self.capture_dir = os.path.join(workdir, name + "-capture") if capture else None
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self.stdout_path = os.path.join(workdir, name + ".stdout")
        self.proc = None
        self.ports = []
        self.urls = []
        self.returncode = None

    # -- lifecycle

    def argv(self):
        a = [IMAPTAP]
        for u in self.urls:
            a += ["-l", u]
        for u in self.upstream:
            a += ["-u", u]
        if self.certs:
            a += ["--cert", self.certs["cert"], "--key", self.certs["key"]]
        if self.log_path is not None:
            a += ["--log", self.log_path]
        if self.capture_dir:
            a += ["--capture", self.capture_dir]
        if self.drain is not None:
            a += ["--drain", str(self.drain)]
        return a + self.extra

    def start(self):
        if self.capture_dir:
            os.makedirs(self.capture_dir, exist_ok=True)
        for _ in range(5):
            self.ports, self.urls = [], []
            for spec in self.listen_spec:
                if "://" in spec:
                    self.urls.append(spec)
                    self.ports.append(int(spec.rsplit(":", 1)[1]))
                else:
                    p = free_port()
                    self.ports.append(p)
                    self.urls.append("%s://%s:%d" % (spec, HOST, p))
            err = open(self.stderr_path, "ab")
            out = open(self.stdout_path, "ab")
            self.stderr_start = os.path.getsize(self.stderr_path)
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, cwd=REPO)
            atexit.register(self.kill)
            err.close()
            out.close()
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if set(self.ports) <= listening_ports():
                    return self
                time.sleep(0.01)
            status = self.proc.poll()
            if status is None:
                self.kill()
                raise RuntimeError("imaptap not listening after %ss: %s" %
                                   (START_TIMEOUT, self.stderr()))
            if "in use" in self.stderr():
                continue
            raise RuntimeError("imaptap exited with %s at start: %s\nargv: %s" %
                               (status, self.stderr(), " ".join(self.argv())))
        raise RuntimeError("imaptap: no free port after 5 tries")

    @property
    def port(self):
        return self.ports[0]

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends sig and waits; returns the exit status (None if killed)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.returncode = None
                return None
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def finish(self, testcase, expect_status=0, secrets=True, sig=signal.SIGTERM, gapless=True):
        """Stops imaptap and checks the whole run: exit status, every log
        line valid, seq gapless, no password in the log or on stderr.
        Returns the log's events."""
        status = self.stop(sig)
        testcase.assertEqual(status, expect_status, "imaptap exit status; stderr:\n%s"
                             % self.stderr())
        events = self.log_lines(complete=True)
        if gapless:
            check_seq_gapless(testcase, events)
        if secrets:
            self.assert_no_secret(testcase)
        testcase.assertNotRegex(self.stderr(), SANITIZER_ERROR, "sanitizer report on stderr")
        return events

    # -- output

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(getattr(self, "stderr_start", 0))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_bytes(self):
        if self.log_path is None or self.log_path.startswith("/dev/"):
            return b""
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def log_lines(self, complete=False):
        """Every complete line of the log, each validated against the schema."""
        return parse_log(self.log_bytes(), self.log_path, complete=complete)

    def wait_log(self, cond, timeout=LOG_TIMEOUT, what=None):
        """Polls until cond(events) is true; returns its value."""
        last = []

        def probe():
            last[:] = self.log_lines()
            return cond(last)
        try:
            return wait_for(probe, timeout, what or "a log condition")
        except AssertionError as e:
            tail = "\n".join(json.dumps(x) for x in last[-15:])
            raise AssertionError("%s; log tail:\n%s\nimaptap stderr:\n%s"
                                 % (e, tail, self.stderr()[-2000:])) from None

    def wait_closed(self, count=1, timeout=LOG_TIMEOUT):
        """Waits for `count` session_close events; returns all events."""
        def cond(evs):
            return evs if sum(e["ev"] == "session_close" for e in evs) >= count else None
        return self.wait_log(cond, timeout, "%d session_close event(s)" % count)

    def session_events(self, sid):
        return [e for e in sorted(self.log_lines(), key=lambda e: e["seq"]) if e["sid"] == sid]

    def assert_no_secret(self, testcase, password=PASSWORD):
        for what, data in (("log", self.log_bytes()), ("stderr", self.stderr().encode())):
            for form in secret_forms(password):
                testcase.assertNotIn(form, data, "password form %r found in imaptap's %s"
                                     % (form, what))
            testcase.assertNotIn(password.lower().encode(), data.lower(),
                                 "password found (any case) in imaptap's %s" % what)

    def proc_status(self, field):
        """A field of /proc/PID/status in kB (VmRSS, VmHWM)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return None

    # -- capture

    def capture_files(self):
        if not self.capture_dir:
            return []
        return sorted(glob.glob(os.path.join(self.capture_dir, "*.cap")))

    def capture_for(self, sid):
        files = [f for f in self.capture_files() if f.endswith("-%s.cap" % sid)]
        if len(files) != 1:
            raise AssertionError("capture of session %s: %r in %s" % (sid, files,
                                                                      self.capture_files()))
        return files[0]


# ------------------------------------------------------------ the capture

CAP_MAGIC = b"ITCAP\x00\x01\n"
CAP_C2S, CAP_S2C, CAP_META, CAP_TLS, CAP_C2S_EOF, CAP_S2C_EOF, CAP_TIMER = range(1, 8)


def read_capture(path):
    """The records of a capture (logger/capture.h): [(type, ts_us, bytes)]."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(CAP_MAGIC):
        raise AssertionError("%s: no capture magic: %r" % (path, data[:16]))
    pos, out = len(CAP_MAGIC), []
    while pos < len(data):
        if pos + 16 > len(data):
            raise AssertionError("%s: truncated record header at %d" % (path, pos))
        typ, flags, _res, length, ts = struct.unpack(">BBHIq", data[pos:pos + 16])
        pos += 16
        if pos + length > len(data):
            raise AssertionError("%s: truncated record at %d" % (path, pos))
        out.append((typ, ts, data[pos:pos + length]))
        pos += length
    return out


def capture_streams(path):
    """(c2s bytes, s2c bytes, [meta objects]) of a capture."""
    c2s, s2c, meta = bytearray(), bytearray(), []
    for typ, _ts, payload in read_capture(path):
        if typ == CAP_C2S:
            c2s += payload
        elif typ == CAP_S2C:
            s2c += payload
        elif typ == CAP_META:
            meta.append(json.loads(payload))
    return bytes(c2s), bytes(s2c), meta


def decode_events(path):
    """./imaptap decode FILE: its events, each validated against the schema."""
    r = subprocess.run([IMAPTAP, "decode", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError("imaptap decode %s: exit %d: %s" % (path, r.returncode,
                                                                   r.stderr.decode()))
    return parse_log(r.stdout, "decode " + os.path.basename(path))


# ---------------------------------------------------------------- clients


class RawClient:
    """A byte-exact IMAP client: records everything it sends and receives
    (the plaintext streams, across STARTTLS)."""

    def __init__(self, port, tls=None, server_hostname="localhost", timeout=15, rcvbuf=None):
        self.timeout = timeout
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect((HOST, port))
        self.raw = s
        self.sock = tls.wrap_socket(s, server_hostname=server_hostname) if tls else s
        self.sent = bytearray()
        self.received = bytearray()
        self.buf = bytearray()
        self.tag_n = 0

    def send(self, data):
        self.sock.sendall(data)
        self.sent += data

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed by the peer")
        self.received += d
        self.buf += d

    def read_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return line
            self._fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d

    def read_response(self):
        """One response line with its literals inlined (bytes)."""
        out = bytearray()
        while True:
            line = self.read_line()
            out += line
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if not m:
                return bytes(out)
            out += self.read_exact(int(m.group(1)))

    def read_all(self):
        """Everything until the peer closes."""
        try:
            while True:
                self._fill()
        except (EOFError, ConnectionResetError):
            pass
        d = bytes(self.buf)
        self.buf.clear()
        return d

    def new_tag(self):
        self.tag_n += 1
        return "t%d" % self.tag_n

    def command(self, text, tag=None):
        """Sends `tag text`; returns (tagged line, [responses before it])."""
        tag = tag or self.new_tag()
        self.send(("%s %s\r\n" % (tag, text)).encode())
        return self.until_tagged(tag)

    def until_tagged(self, tag):
        lines = []
        while True:
            r = self.read_response()
            if r.startswith(tag.encode() + b" "):
                return r, lines
            lines.append(r)

    def starttls(self, ctx, server_hostname="localhost"):
        tagged, _ = self.command("STARTTLS")
        if b" OK" not in tagged:
            raise AssertionError("STARTTLS refused: %r" % tagged)
        if self.buf:
            raise AssertionError("bytes after the STARTTLS OK: %r" % bytes(self.buf))
        self.sock = ctx.wrap_socket(self.raw, server_hostname=server_hostname)
        return tagged

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def reset(self):
        """Closes with an RST (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def recording(cls):
    """An imaplib class whose instances record the bytes they send (rec_sent)
    and receive (rec_recv), across STARTTLS."""

    class Recording(cls):
        def __init__(self, *a, **kw):
            self.rec_sent = bytearray()
            self.rec_recv = bytearray()
            super().__init__(*a, **kw)

        def send(self, data):
            self.rec_sent += data
            super().send(data)

        def read(self, size):
            d = super().read(size)
            self.rec_recv += d
            return d

        def readline(self):
            d = super().readline()
            self.rec_recv += d
            return d

    Recording.__name__ = "Recording" + cls.__name__
    return Recording


def ev_types(events):
    return [e["ev"] for e in events]


def first(events, **kw):
    """The first event whose fields equal kw, or None."""
    for e in events:
        if all(e.get(k) == v for k, v in kw.items()):
            return e
    return None


def select(events, **kw):
    return [e for e in events if all(e.get(k) == v for k, v in kw.items())]
