#!/usr/bin/python3
"""report_check.py: `imaptap report` end to end, in a real browser.

  tests/tools/report_check.py [--imaptap ./imaptap] [--chromium /usr/bin/chromium]
                              [--screenshot docs/report.png] [--keep DIR]

Writes reports from tests/tools/report/*.jsonl (logs made by the proxy's own
logger, see mkfixture.py) and checks:

- the command line: exit status 0 / 1 (I/O) / 2 (options, input), stdin,
  the limits (--timelines, --events, --sessions) and that the page says what
  they left out;
- the page as text: one script of its own, the data in JSON blocks, no raw
  "<" from the log in them, nothing that names another resource;
- the page in headless Chromium, driven through the DevTools protocol over
  --remote-debugging-pipe (Python standard library only): it renders the
  session rows, filters and search work, an opened session draws a timeline
  SVG with command bars and a tooltip, the latency, capability and problem
  tabs render, hostile log text (</script>, <img onerror>, ...) shows as text
  and runs nothing, no script error, no CSP violation, and no request at all
  leaves the page (every request the browser starts is recorded; a control
  page that does load a remote image proves the recording works).

--screenshot also saves a picture of a report with a session opened.
Prints one line per check and "N passed, N failed"; exits 1 if any failed.
"""
import argparse
import base64
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(HERE, "report")
SESSIONS = os.path.join(DATA, "sessions.jsonl")
HOSTILE = os.path.join(DATA, "hostile.jsonl")

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--no-default-browser-check",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    # belt and braces: even if the page tried, no name would resolve
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--window-size=1360,900", "--remote-debugging-pipe",
]

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("FAIL - " + what + (": " + detail if detail else ""))
    sys.stdout.flush()
    return ok


class CDP:
    """A DevTools protocol client over --remote-debugging-pipe: Chromium reads
    NUL-terminated JSON commands on fd 3 and writes replies and events on fd 4."""

    def __init__(self, chromium, profile, log):
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # out of the way of 3 and 4 before the child moves them there
        hi_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
        hi_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def child():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            [chromium] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=child, pass_fds=(3, 4),
            close_fds=True)
        os.close(hi_r)
        os.close(hi_w)
        self.w = os.fdopen(to_chrome_w, "wb", buffering=0)
        self.r = os.fdopen(from_chrome_r, "rb", buffering=0)
        self.next_id = 0
        self.replies = {}
        self.events = []
        self.cv = threading.Condition()
        self.closed = False
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        buf = b""
        while True:
            try:
                chunk = self.r.read(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self.cv:
                    self.closed = True
                    self.cv.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                msg, buf = buf.split(b"\0", 1)
                m = json.loads(msg)
                with self.cv:
                    if "id" in m:
                        self.replies[m["id"]] = m
                    else:
                        self.events.append(m)
                    self.cv.notify_all()

    def send(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.w.write(json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        with self.cv:
            while mid not in self.replies:
                if self.closed or time.time() > deadline:
                    raise RuntimeError("no reply to %s" % method)
                self.cv.wait(0.2)
            m = self.replies.pop(mid)
        if "error" in m:
            raise RuntimeError("%s: %s" % (method, m["error"]))
        return m.get("result", {})

    def events_of(self, method, session=None):
        with self.cv:
            return [e for e in self.events
                    if e.get("method") == method and (session is None or e.get("sessionId") == session)]

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


WATCH = r"""
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


class Page:
    def __init__(self, cdp, width=1360, height=900):
        self.cdp = cdp
        t = cdp.send("Target.createTarget", {"url": "about:blank"})
        self.sid = cdp.send("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True})["sessionId"]
        for dom in ("Page", "Runtime", "Network", "Log"):
            self.send(dom + ".enable")
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def send(self, method, params=None):
        return self.cdp.send(method, params, session=self.sid)

    def open(self, url, ready="document.documentElement.getAttribute('data-ready') === '1'"):
        self.send("Page.navigate", {"url": url})
        return self.wait(ready)

    def js(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("JS: %s" % json.dumps(r["exceptionDetails"])[:400])
        return r["result"].get("value")

    def wait(self, expr, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.js(expr):
                    return True
            except RuntimeError:
                pass
            time.sleep(0.05)
        return False

    def requests(self):
        return [e["params"]["request"]["url"] for e in self.cdp.events_of("Network.requestWillBeSent", self.sid)]

    def errors(self):
        out = []
        for e in self.cdp.events_of("Runtime.exceptionThrown", self.sid):
            out.append("exception: " + json.dumps(e["params"]["exceptionDetails"])[:300])
        for e in self.cdp.events_of("Runtime.consoleAPICalled", self.sid):
            if e["params"]["type"] in ("error", "warning", "assert"):
                out.append("console.%s: %s" % (e["params"]["type"], json.dumps(e["params"]["args"])[:300]))
        for e in self.cdp.events_of("Log.entryAdded", self.sid):
            if e["params"]["entry"]["level"] in ("error", "warning"):
                out.append("log: " + e["params"]["entry"].get("text", "")[:300])
        return out

    def mouse(self, x, y, kind="mouseMoved"):
        self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "none" if kind == "mouseMoved" else "left", "clickCount": 0 if kind == "mouseMoved" else 1})

    def screenshot(self, path):
        h = int(self.js("Math.ceil(document.documentElement.scrollHeight)"))
        w = int(self.js("document.documentElement.clientWidth"))
        self.send("Emulation.setDeviceMetricsOverride", {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False})
        time.sleep(0.3)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        png = self.send("Page.captureScreenshot", {"format": "png", "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}})
        with open(path, "wb") as f:
            f.write(base64.b64decode(png["data"]))


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def page_data(path):
    html = open(path, encoding="utf-8").read()
    m = re.search(r'<script type="application/json" id="imaptap-data">(.*?)</script>', html, re.S)
    return html, json.loads(m.group(1)) if m else None


def cli_checks(imaptap, tmp):
    out = os.path.join(tmp, "report.html")
    rc, _, err = run([imaptap, "report", SESSIONS, HOSTILE, "-o", out])
    check(rc == 0 and os.path.getsize(out) > 0, "report of two logs written", "rc %d: %s" % (rc, err))
    html, data = page_data(out)
    check(data is not None and len(data["sessions"]) == 13, "the data block holds the 13 sessions",
          str(data and len(data["sessions"])))
    scripts = re.findall(r"<script\b[^>]*>", html, re.I)
    own = [s for s in scripts if "application/json" not in s]
    check(len(own) == 1 and own[0] == "<script>", "exactly one executable script, inline", str(own))
    check(len(scripts) == 2 + data["totals"]["timelines"], "one JSON block per kept timeline",
          "%d scripts, %d timelines" % (len(scripts), data["totals"]["timelines"]))
    blocks = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S | re.I)
    check(all("<" not in b for b in blocks[:-1]), "no raw '<' inside the JSON blocks")
    check("__pwned" not in re.sub(r'<script type="application/json".*?</script>', "", html, flags=re.S),
          "hostile log text appears only inside the JSON blocks")
    refs = re.findall(r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?!data:)[a-z]+:|url\(\s*["']?(?!data:)|@import""",
                      re.sub(r"<script.*?</script>", "", html, flags=re.S | re.I), re.I)
    check(not refs, "the page names no other resource", str(refs[:5]))
    check("Content-Security-Policy" in html and "default-src 'none'" in html, "a CSP meta tag forbids loads")

    rc, _, _ = run([imaptap, "report", "--help"])
    check(rc == 0, "--help exits 0")
    rc, _, err = run([imaptap, "report", "--bogus", SESSIONS])
    check(rc == 2 and "--bogus" in err, "an unknown option exits 2 naming it", err.strip())
    rc, _, err = run([imaptap, "report", "--events", "0", SESSIONS, "-o", out])
    check(rc == 2 and "--events" in err, "a bad limit exits 2", err.strip())
    rc, _, err = run([imaptap, "report", os.path.join(tmp, "missing.jsonl"), "-o", out])
    check(rc == 1 and "missing.jsonl" in err, "a log that cannot be read exits 1", err.strip())
    junk = os.path.join(tmp, "junk.jsonl")
    with open(junk, "w") as f:
        f.write("this is not json\n[1, 2]\n")
    rc, _, err = run([imaptap, "report", junk, "-o", os.path.join(tmp, "junk.html")])
    check(rc == 2 and not os.path.exists(os.path.join(tmp, "junk.html")),
          "input without a single event exits 2 and writes nothing", err.strip())
    rc, _, err = run([imaptap, "report", SESSIONS, "-o", os.path.join(tmp, "no", "such", "dir.html")])
    check(rc == 1, "an output that cannot be written exits 1", err.strip())
    rc, stdout, _ = run([imaptap, "report"], stdin=open(SESSIONS, "rb").read())
    check(rc == 0 and stdout.startswith("<!DOCTYPE html>") and '"sessions":' in stdout,
          "no LOG reads stdin, no -o writes stdout")

    lim = os.path.join(tmp, "limited.html")
    rc, _, err = run([imaptap, "report", "--timelines", "3", "--events", "12", "--sessions", "10",
                      SESSIONS, HOSTILE, "-o", lim])
    _, d = page_data(lim)
    t = d["totals"]
    check(rc == 0 and len(d["sessions"]) == 10 and t["unlisted"] == 3 and t["sessions"] == 13,
          "--sessions 10 lists 10 of 13 and counts the rest", json.dumps(t))
    check(t["timelines"] == 3 and t["tl_noroom"] + t["tl_dropped"] >= 7,
          "--timelines 3 keeps 3 timelines and counts the rest", json.dumps(t))
    cols = d["cols"]
    rows = [dict(zip(cols, r)) for r in d["sessions"]]
    kept = [r for r in rows if r["tl"] >= 0]
    check(all(r["errors"] > 0 for r in kept) and t["tl_dropped"] > 0,
          "sessions with errors take the timelines of sessions without",
          json.dumps([(r["user"], r["errors"]) for r in kept]))
    check(t["ev_omitted"] > 0 and any(r["omitted"] > 0 for r in rows), "--events 12 leaves entries out and counts them")
    ok = True
    for r in kept:
        m = re.search(r'<script type="application/json" id="tl-%d">(.*?)</script>' % r["tl"], open(lim).read(), re.S)
        items = json.loads(m.group(1))["items"]
        ok = ok and len(items) <= 12 + 12 // 4 + 1 and any(i[6] & 8 for i in items)
    check(ok, "a cut timeline keeps its errors and stays within --events and a quarter")
    rc, _, _ = run([imaptap, "report", os.path.join(ROOT, "tests", "data", "anomaly_unknown_tag.json"), "-o", lim])
    check(rc == 2, "a file that is not a log (a test case) exits 2")
    data_checks(imaptap, tmp)
    return out, lim


def ev(sid, seq, t, kind, **kw):
    d = {"v": 1, "ts": "2026-11-25T10:00:%09.6fZ" % t, "sid": sid, "seq": seq, "ev": kind}
    d.update(kw)
    return json.dumps(d, ensure_ascii=True) + "\n"


def data_checks(imaptap, tmp):
    """Exact values through the command line: strings, latency, pairing."""
    log = os.path.join(tmp, "exact.jsonl")
    long_text = "\u00e9" * 1000  # 2000 bytes of UTF-8: clipped at a character boundary
    with open(log, "w") as f:
        f.write(ev("a" * 16, 0, 0, "untagged", dir="s2c", off=0, name="OK", greeting=True,
                   text="nul\u0000 ls\u2028 ps\u2029 lt< gt> amp& quote\" bs\\ tab\t",
                   caps=["IMAP4rev1", "IDLE"], caps_removed=["COMPRESS=DEFLATE"]))
        f.write(ev("a" * 16, 1, 0.001, "command", dir="c2s", off=0, tag="x1",
                   cmd="ID", args='(name "Mail \\"Pro\\"" version 7.1 os NIL)'))
        # two sessions interleaved; 100 NOOPs with latencies 1..100 ms in session a
        for i in range(100):
            f.write(ev("a" * 16, 2 + 2 * i, 1 + i / 2, "command", dir="c2s", off=10 + i, tag="n%d" % i, cmd="NOOP"))
            if i == 50:
                f.write(ev("b" * 16, 0, 1 + i / 2, "command", dir="c2s", off=0, tag="n%d" % i, cmd="SELECT",
                           args=long_text, mailbox=long_text))
            f.write(ev("a" * 16, 3 + 2 * i, 1 + i / 2 + (i + 1) / 1000.0, "tagged", dir="s2c", off=10 + i,
                       tag="n%d" % i, cmd="NOOP", status="OK", text="done", ms=float(i + 1)))
        f.write(ev("b" * 16, 1, 59, "tagged", dir="s2c", off=5, tag="n50", cmd="SELECT", status="NO",
                   code="NONEXISTENT", text=long_text, ms=8999.0))
    out = os.path.join(tmp, "exact.html")
    rc, _, err = run([imaptap, "report", log, "-o", out])
    raw = open(out, "rb").read()
    try:
        html = raw.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        html, utf8 = raw.decode("utf-8", "replace"), False
    check(rc == 0 and utf8, "a page from long multibyte strings is valid UTF-8", err)
    check("\u2028" not in html and "\u2029" not in html and "\\u2028" in html,
          "U+2028 and U+2029 are written escaped")
    _, d = page_data(out)
    rows = {r[0]: dict(zip(d["cols"], r)) for r in d["sessions"]}
    a, b = rows.get("a" * 16), rows.get("b" * 16)
    check(a is not None and b is not None and a["client"] == 'Mail "Pro" 7.1',
          "the client's name and version come from its ID command", str(a and a["client"]))
    tl = json.loads(re.search(r'<script type="application/json" id="tl-%d">(.*?)</script>' % a["tl"], html, re.S).group(1))
    greet = [i for i in tl["items"] if i[0] == "U"][0]
    check("nul\u2400 ls\u2028 ps\u2029 lt< gt> amp& quote\" bs\\ tab\t" in (greet[10] or ""),
          "log text survives the round trip (NUL shown as U+2400)", repr(greet[10]))
    cmds = {c["cmd"]: c for c in d["commands"]}
    noop = cmds.get("NOOP", {})
    check(noop.get("n") == 100 and noop.get("p50") == 50 and noop.get("p90") == 90 and noop.get("p99") == 99
          and noop.get("max") == 100 and noop.get("exact") is True,
          "NOOP latency: 100 completions, p50 50, p90 90, p99 99, max 100 ms", json.dumps(noop)[:200])
    check(d["all"]["n"] == 101 and d["all"]["p50"] == 51 and d["all"]["exact"] is True,
          "the overall median covers every command", json.dumps(d["all"]))
    edges = d["hist_edges"]
    want = [0] * (len(edges) + 1)
    for ms in range(1, 101):
        want[sum(1 for e in edges if ms >= e)] += 1
    check(noop.get("h") == want, "the histogram puts each latency in its 1-2-5 bucket")
    # an entry: [type, lane, t0, t1, o0, o1, flags, ms, seq, s0, s1, s2, s3]; C: s0 tag, s1 cmd
    bars = [i for i in tl["items"] if i[0] == "C" and i[10] == "NOOP"]
    check(len(bars) == 100 and all(i[3] is not None and abs((i[3] - i[2]) - i[7]) < 0.01 for i in bars),
          "each command bar runs from the command to its tagged completion (length = ms)")
    tlb = json.loads(re.search(r'<script type="application/json" id="tl-%d">(.*?)</script>' % b["tl"], html, re.S).group(1))
    sel = [i for i in tlb["items"] if i[0] == "C"][0]
    check(b["errors"] == 1 and sel[6] & 8 and sel[10] == "SELECT" and len(sel[11].encode()) <= 403
          and sel[11].endswith("\u2026") and sel[12].startswith("[NONEXISTENT]"),
          "a NO is an error; long strings are clipped with an ellipsis", repr(sel)[:200])
    check(a["caps_rm"] >= 0 and d["capsets"][a["caps_rm"]] == ["COMPRESS=DEFLATE"]
          and d["capsets"][a["caps_all"]] == ["IMAP4rev1", "IDLE"], "server capabilities and caps_removed per session")


def browser_checks(chromium, imaptap, tmp, report, limited, shot):
    log = open(os.path.join(tmp, "chromium.log"), "wb")
    cdp = CDP(chromium, os.path.join(tmp, "profile"), log)
    try:
        cdp.send("Browser.getVersion", timeout=60)
        url = "file://" + report
        pg = Page(cdp)
        check(pg.open(url), "the report renders (data-ready)")
        _, data = page_data(report)
        n = pg.js("document.querySelectorAll('table.sessions tbody tr.row').length")
        check(n == len(data["sessions"]), "one row per session", "%s rows" % n)
        nerr = sum(1 for r in data["sessions"] if r[data["cols"].index("errors")] > 0)
        pg.js("(function(){var c=document.querySelector('.toolbar input[type=checkbox]'); c.click();})()")
        pg.wait("document.querySelectorAll('table.sessions tbody tr.row').length === %d" % nerr, 3)
        n = pg.js("document.querySelectorAll('table.sessions tbody tr.row').length")
        check(n == nerr and nerr > 0, "'Errors only' shows the %d sessions with errors" % nerr, "%s rows" % n)
        pg.js("document.querySelector('.toolbar input[type=checkbox]').click()")
        pg.js("(function(){var q=document.querySelector('.toolbar input[type=search]'); q.value='bob@example'; q.dispatchEvent(new Event('input'));})()")
        check(pg.wait("document.querySelectorAll('table.sessions tbody tr.row').length === 1", 3),
              "search finds bob's one session")
        pg.js("(function(){var q=document.querySelector('.toolbar input[type=search]'); q.value=''; q.dispatchEvent(new Event('input'));})()")
        pg.wait("document.querySelectorAll('table.sessions tbody tr.row').length === %d" % len(data["sessions"]), 3)
        # sort by duration, longest first
        pg.js("[].find.call(document.querySelectorAll('table.sessions th'), function(t){return /Duration/.test(t.textContent)}).click()")
        durs = pg.js("[].map.call(document.querySelectorAll('table.sessions tbody tr.row'), function(r){return r.dataset.sid})")
        want = [r[0] for r in sorted(data["sessions"], key=lambda r: -r[data["cols"].index("dur")])]
        check(durs == want, "sorting by duration orders the rows")

        # open bob's session: a failed LOGIN (NO) shows as a red bar
        sid = [r[0] for r in data["sessions"] if r[data["cols"].index("user")] == "bob@example.com"][0]
        pg.js("document.querySelector('tr.row[data-sid=\"%s\"]').click()" % sid)
        check(pg.wait("document.querySelector('tr.detail svg.timeline') !== null", 5), "opening a session draws its timeline SVG")
        bars = pg.js("document.querySelectorAll('tr.detail svg.timeline rect.bar').length")
        red = pg.js("document.querySelectorAll('tr.detail svg.timeline rect.bar.err').length")
        ticks = pg.js("document.querySelectorAll('tr.detail svg.timeline line.tick').length")
        check(bars >= 7 and red >= 1, "the timeline has command bars, the failed LOGIN in red", "%s bars, %s red" % (bars, red))
        check(ticks > 0, "untagged responses are marks on the server lane", "%s ticks" % ticks)
        check(pg.js("document.querySelectorAll('tr.detail table.events tbody tr').length") > 10, "the session's event table is filled")
        check(pg.js("/AUTH=SCRAM-SHA-256-PLUS/.test(document.querySelector('tr.detail .chip.removed') ? [].map.call(document.querySelectorAll('tr.detail .chip.removed'), function(c){return c.textContent}).join(' ') : '')"),
              "capabilities imaptap removed are shown struck through")
        # hover the red bar: a tooltip with tag, command, status and latency
        box = pg.js("(function(){var r=document.querySelector('tr.detail svg.timeline rect.bar.err');r.scrollIntoView({block:'center'});var b=r.getBoundingClientRect();return [b.left+b.width/2,b.top+b.height/2];})()")
        pg.mouse(box[0], box[1])
        pg.wait("!document.getElementById('tip').hidden", 3)
        tip = pg.js("document.getElementById('tip').hidden ? '' : document.getElementById('tip').textContent")
        check("LOGIN" in tip and "NO" in tip and "AUTHENTICATIONFAILED" in tip and " s" in tip,
              "hovering a bar shows tag, command, status, text and latency", tip)
        pg.js("document.querySelector('tr.detail .box h3 .right button:nth-of-type(2)').click()")
        check(pg.wait("document.querySelectorAll('tr.detail svg.timeline rect.bar').length === %d" % bars, 3),
              "the timeline redraws in event order")

        # the other views
        for tab, sel, what in (("latency", "#view-latency tbody tr", "latency rows, one per command"),
                               ("caps", "#view-caps tbody tr", "capability rows"),
                               ("problems", "#view-problems tbody tr", "problem rows")):
            pg.js("document.querySelector('nav.tabs button[data-tab=%s]').click()" % tab)
            n = pg.js("document.querySelectorAll('%s').length" % sel)
            check(n and n > 0, "the %s tab renders its %s" % (tab, what), str(n))
        hist = pg.js("document.querySelectorAll('#view-latency svg.hist rect.hb').length")
        check(hist > 5, "the latency tab draws histogram bars", str(hist))

        # the hostile session: text, not markup
        hsid = json.loads(open(HOSTILE).readline())["sid"]
        pg.js("document.querySelector('nav.tabs button[data-tab=sessions]').click()")
        pg.js("document.querySelector('tr.row[data-sid=\"%s\"]').click()" % hsid)
        pg.wait("document.querySelector('tr.detail svg.timeline') !== null", 5)
        body = pg.js("document.body.textContent")
        check("</script><script>window.__pwned=4</script>" in body and "<img src=x onerror=window.__pwned=7>" in body,
              "hostile mailbox names show as text")
        check(pg.js("typeof window.__pwned") == "undefined", "no hostile script ran")
        check(pg.js("document.querySelectorAll('img, iframe, object, embed, link:not([rel=icon]), a[href], [onerror], [onload]').length") == 0,
              "no element from the log entered the DOM")

        # deep link: #sid= opens that session
        pg2 = Page(cdp)
        check(pg2.open(url + "#sid=" + sid) and pg2.wait("document.querySelector('tr.detail svg.timeline') !== null", 5),
              "#sid=... opens that session")

        pg3 = Page(cdp)
        check(pg3.open("file://" + limited) and pg3.wait("/abridged/.test(document.querySelector('.notice').textContent)", 3),
              "a report cut by limits says so")
        _, ld = page_data(limited)
        nosid = [r[0] for r in ld["sessions"] if r[ld["cols"].index("tl")] < 0][0]
        pg3.js("document.querySelector('tr.row[data-sid=\"%s\"]').click()" % nosid)
        check(pg3.wait("/No timeline/.test(document.querySelector('tr.detail').textContent)", 3),
              "a session without a timeline says why")

        errs = pg.errors() + pg2.errors() + pg3.errors()
        check(not errs, "no script error, warning or CSP report in the console", "; ".join(errs[:3]))
        csp = pg.js("window.__csp") + pg2.js("window.__csp") + pg3.js("window.__csp")
        check(csp == [], "no CSP violation", str(csp))
        reqs = pg.requests() + pg2.requests() + pg3.requests()
        bad = [u for u in reqs if not (u.startswith("file://") or u.startswith("data:") or u == "about:blank")]
        files = [u for u in reqs if u.startswith("file://")]
        check(not bad and len(files) == 3, "no request leaves the page: only the 3 report files were loaded",
              "other: %s; files: %s" % (bad[:5], files))

        # control: the recorder sees a page that does make a request
        ctl = os.path.join(tmp, "control.html")
        with open(ctl, "w") as f:
            f.write('<!DOCTYPE html><img src="http://127.0.0.1:9/control.png">'
                    '<script>document.documentElement.setAttribute("data-ready","1")</script>')
        pg4 = Page(cdp)
        pg4.open("file://" + ctl)
        pg4.wait("false", 1)
        check(any(u.startswith("http://127.0.0.1:9/") for u in pg4.requests()),
              "control: a page that loads a remote image is caught", str(pg4.requests()))

        if shot:
            screenshot(cdp, imaptap, tmp, shot)
    finally:
        cdp.close()
        log.close()


def screenshot(cdp, imaptap, tmp, path):
    out = os.path.join(tmp, "shot.html")
    env = dict(os.environ, SOURCE_DATE_EPOCH="1795600000")
    subprocess.run([imaptap, "report", "--title", "imaptap report: mail.example.com", "sessions.jsonl", "-o", out],
                   check=True, env=env, cwd=DATA)
    pg = Page(cdp, 1360, 900)
    pg.open("file://" + out)
    _, data = page_data(out)
    cols = data["cols"]
    sid = [r[0] for r in data["sessions"] if r[cols.index("user")] == "dave@example.com"][0]
    pg.js("document.querySelector('tr.row[data-sid=\"%s\"]').click()" % sid)
    pg.wait("document.querySelector('tr.detail svg.timeline') !== null", 5)
    pg.js("(function(){var d=document.querySelector('tr.detail details'); if (d) d.open=false;})()")
    box = pg.js("(function(){var r=document.querySelectorAll('tr.detail svg.timeline rect.bar.err')[0];var b=r.getBoundingClientRect();return [b.left+b.width/2,b.top+b.height/2];})()")
    pg.mouse(box[0], box[1])
    pg.wait("!document.getElementById('tip').hidden", 3)
    pg.screenshot(path)
    check(os.path.getsize(path) > 10000, "screenshot written to " + path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--imaptap", default=os.path.join(ROOT, "imaptap"))
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--screenshot")
    ap.add_argument("--keep", help="leave the reports and the browser's log in this folder")
    a = ap.parse_args()
    imaptap = os.path.abspath(a.imaptap)
    tmp = a.keep or tempfile.mkdtemp(prefix="imaptap-report-check-")
    os.makedirs(tmp, exist_ok=True)
    tmp = os.path.abspath(tmp)
    try:
        report, limited = cli_checks(imaptap, tmp)
        if not os.access(a.chromium, os.X_OK):
            check(False, "Chromium found", a.chromium + " is missing (Debian: apt-get install chromium)")
        else:
            browser_checks(a.chromium, imaptap, tmp, report, limited,
                           os.path.abspath(a.screenshot) if a.screenshot else None)
    except Exception as e:  # a crash is a failure, with its reason
        check(False, "the check ran to its end", "%s: %s" % (type(e).__name__, e))
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
