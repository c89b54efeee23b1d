#!/usr/bin/python3
"""mkfixture.py: writes the logs that `imaptap report`'s tests read.

  tests/tools/report/mkfixture.py [--imaptap ./imaptap] [--out tests/tools/report]

Each session is an IMAP transcript with real timing ({"dir", "data", "ts"}
lines, README "Decode and captures") put through `imaptap decode`, i.e. the
proxy's own parser and logger; a session_open and the two tls lines that
the live proxy writes first are added (decode of a transcript has no
connection to describe), and the sessions are interleaved by time as in a
live log.  Outputs:

  sessions.jsonl  twelve sessions of a morning: Thunderbird with IDLE, a failed
                  then good LOGIN, a slow FETCH with a malformed server line,
                  pipelining with a BAD and an APPEND, keepalive, a limit, ...
  hostile.jsonl   a session whose mailbox names, texts, user and client ID
                  are HTML and script: the page must show them as text.

Deterministic (fixed seed): run it again after a logger change and diff.
"""
import argparse
import base64
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

DAY = datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)

GREETING_CAPS = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN "
                 "AUTH=LOGIN AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-256-PLUS COMPRESS=DEFLATE")
AUTH_CAPS = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY "
             "THREAD=REFERENCES THREAD=REFS MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS "
             "LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN "
             "CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY STATUS=SIZE "
             "SAVEDATE LITERAL+ NOTIFY SPECIAL-USE COMPRESS=DEFLATE")


class Session:
    """A transcript with a clock: c()/s() append a chunk `ms` after the last."""

    def __init__(self, name, start, addr, port):
        self.name, self.addr, self.port = name, addr, port
        self.t = start
        self.chunks = []

    def at(self, ms):
        self.t += datetime.timedelta(milliseconds=ms)
        return self.t.strftime('%Y-%m-%dT%H:%M:%S.%f') + 'Z'

    def c(self, data, ms=1.0):
        self.chunks.append({"dir": "c2s", "data": data, "ts": self.at(ms)})

    def s(self, data, ms=1.0):
        self.chunks.append({"dir": "s2c", "data": data, "ts": self.at(ms)})

    def mark(self, what, ms=1.0):
        self.chunks.append({"dir": what, "ts": self.at(ms)})

    def greeting(self, caps=GREETING_CAPS, ms=0.0):
        self.s("* OK [CAPABILITY %s] Dovecot (Debian) ready.\r\n" % caps, ms)


def lit(text):
    """An IMAP literal of text (ASCII): {n} CRLF text."""
    return "{%d}\r\n%s" % (len(text.encode()), text)


def fetch_lines(rng, first, n, uid0, extra=""):
    out = []
    for i in range(n):
        flags = rng.choice(["\\Seen", "\\Seen \\Answered", "", "\\Seen $Forwarded", "\\Flagged \\Seen"])
        out.append("* %d FETCH (UID %d MODSEQ (%d) FLAGS (%s)%s)\r\n" %
                   (first + i, uid0 + i, 90000 + i * 7, flags, extra))
    return "".join(out)


def build(rng):
    sessions = []

    # 1. Thunderbird: SASL-IR, ENABLE, LIST, SELECT CONDSTORE, IDLE for most of half an hour.
    s = Session("thunderbird_idle", DAY.replace(hour=9, minute=12, second=3), "198.51.100.23", 53144)
    s.greeting()
    s.c('1 ID ("name" "Thunderbird" "version" "115.3.1")\r\n', 42)
    s.s('* ID ("name" "Dovecot")\r\n1 OK ID completed (0.001 + 0.000 secs).\r\n', 1.8)
    s.c("2 authenticate PLAIN %s\r\n" % base64.b64encode(b"\0alice@example.com\0correct horse").decode(), 3)
    s.s("2 OK [CAPABILITY %s] Logged in\r\n" % AUTH_CAPS, 38.4)
    s.c("3 ENABLE CONDSTORE\r\n", 2)
    s.s("* ENABLED CONDSTORE\r\n3 OK Enabled (0.001 + 0.000 secs).\r\n", 0.9)
    s.c('4 namespace\r\n', 1)
    s.s('* NAMESPACE (("" "/")) NIL NIL\r\n4 OK Namespace completed (0.001 + 0.000 secs).\r\n', 0.7)
    s.c('5 list (SPECIAL-USE) "" "*"\r\n', 2)
    s.s('* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n* LIST (\\HasNoChildren \\Trash) "/" Trash\r\n'
        '* LIST (\\HasNoChildren \\Drafts) "/" Drafts\r\n* LIST (\\HasNoChildren \\Junk) "/" Junk\r\n'
        '5 OK List completed (0.004 + 0.000 + 0.003 secs).\r\n', 5.2)
    s.c('6 select "INBOX" (CONDSTORE)\r\n', 3)
    s.s("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n* 4518 EXISTS\r\n* 0 RECENT\r\n"
        "* OK [UIDVALIDITY 1699990001] UIDs valid\r\n* OK [UIDNEXT 4531] Predicted next UID\r\n"
        "* OK [HIGHESTMODSEQ 91243] Highest\r\n6 OK [READ-WRITE] Select completed (0.012 + 0.000 + 0.011 secs).\r\n", 14.6)
    s.c("7 UID fetch 1:* (FLAGS) (CHANGEDSINCE 91200)\r\n", 4)
    s.s(fetch_lines(rng, 4512, 6, 4524) + "7 OK Fetch completed (0.021 + 0.000 + 0.020 secs).\r\n", 23.5)
    s.c("8 IDLE\r\n", 6)
    s.s("+ idling\r\n", 1.1)
    s.s("* 4519 EXISTS\r\n", 4 * 60000 + 12000)
    s.c("DONE\r\n", 180)
    s.s("8 OK Idle completed (251.3 + 251.3 + 251.2 secs).\r\n", 1.4)
    s.c("9 UID fetch 4531 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID)])\r\n", 2)
    s.s("* 4519 FETCH (UID 4531 RFC822.SIZE 48213 FLAGS () BODY[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)] " +
        lit("From: Build Bot <ci@example.com>\r\nTo: alice@example.com\r\nSubject: nightly build #4187 passed\r\n"
            "Date: Wed, 25 Nov 2026 09:16 +0000\r\nMessage-ID: <b4187@ci.example.com>\r\n\r\n") + ")\r\n"
        "9 OK Fetch completed (0.002 + 0.000 + 0.001 secs).\r\n", 31.7)
    s.c("10 IDLE\r\n", 3)
    s.s("+ idling\r\n", 0.9)
    s.s("* 4520 EXISTS\r\n", 9 * 60000 + 4000)
    s.s("* 4517 FETCH (UID 4529 MODSEQ (91301) FLAGS (\\Seen))\r\n", 5 * 60000 + 21000)
    s.c("DONE\r\n", 12 * 60000)
    s.s("10 OK Idle completed (1605.2 + 1605.2 + 1605.1 secs).\r\n", 1.2)
    s.c("11 UID fetch 4532 (UID RFC822.SIZE FLAGS BODY.PEEK[])\r\n", 2)
    s.s("* 4520 FETCH (UID 4532 RFC822.SIZE 2210 FLAGS () BODY[] " +
        lit("Subject: lunch?\r\n\r\nsame place at noon?\r\n") + ")\r\n11 OK Fetch completed (0.090 + 0.000 + 0.089 secs).\r\n", 88.2)
    s.c("12 logout\r\n", 1400)
    s.s("* BYE Logging out\r\n12 OK Logout completed (0.001 + 0.000 secs).\r\n", 0.8)
    s.mark("s2c_eof", 0.3)
    sessions.append(s)

    # 2. iPhone Mail: wrong password first, then in; SELECT, UID SEARCH, LOGOUT.
    s = Session("iphone_login_retry", DAY.replace(hour=9, minute=13, second=40), "203.0.113.77", 61502)
    s.greeting()
    s.c("1.1 ID (\"name\" \"iPhone Mail\" \"version\" \"21C66\" \"os\" \"iOS\" \"os-version\" \"17.2 (21C66)\")\r\n", 120)
    s.s('* ID ("name" "Dovecot")\r\n1.1 OK ID completed.\r\n', 2.2)
    s.c('2.1 LOGIN "bob@example.com" "hunter2"\r\n', 90)
    s.s("2.1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", 2104.9)
    s.c('3.1 LOGIN "bob@example.com" "hunter22"\r\n', 9200)
    s.s("3.1 OK [CAPABILITY %s] Logged in\r\n" % AUTH_CAPS, 44.1)
    s.c("4.1 SELECT INBOX\r\n", 70)
    s.s("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* 212 EXISTS\r\n* 0 RECENT\r\n"
        "* OK [UIDVALIDITY 1699990007] UIDs valid\r\n4.1 OK [READ-WRITE] Select completed.\r\n", 9.8)
    s.c("5.1 UID SEARCH 1:* NOT DELETED\r\n", 60)
    s.s("* SEARCH %s\r\n5.1 OK Search completed (0.004 + 0.000 secs).\r\n" % " ".join(str(u) for u in range(1001, 1213)), 6.3)
    s.c("6.1 UID FETCH 1205:1212 (UID FLAGS RFC822.SIZE ENVELOPE)\r\n", 40)
    s.s(fetch_lines(rng, 205, 8, 1205) + "6.1 OK Fetch completed.\r\n", 17.9)
    s.c("7.1 LOGOUT\r\n", 2500)
    s.s("* BYE Logging out\r\n7.1 OK Logout completed.\r\n", 0.9)
    s.mark("s2c_eof", 0.2)
    sessions.append(s)

    # 3. Outlook (no ID): a slow FETCH of a big folder, a malformed server line, bare LF;
    #    the server closes the connection.
    s = Session("outlook_slow_fetch", DAY.replace(hour=9, minute=15, second=2), "192.0.2.140", 50211)
    s.greeting()
    s.c("A001 CAPABILITY\r\n", 35)
    s.s("* CAPABILITY %s\r\nA001 OK Pre-login capabilities listed, post-login capabilities have more.\r\n" % GREETING_CAPS, 0.8)
    s.c("A002 LOGIN carol@example.com Sunny-Day-42\r\n", 20)
    s.s("A002 OK [CAPABILITY %s] Logged in\r\n" % AUTH_CAPS, 51.2)
    s.c('A003 LIST "" "*"\r\n', 15)
    s.s('* LIST (\\HasNoChildren) "/" INBOX\r\n* LIST (\\HasNoChildren) "/" "Sent Items"\r\n'
        '* LIST (\\HasChildren) "/" Projects\r\n* LIST (\\HasNoChildren) "/" Projects/2026\r\n'
        'A003 OK List completed.\r\n', 7.4)
    s.c('A004 SELECT "Sent Items"\r\n', 30)
    s.s("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* 8734 EXISTS\r\n* 0 RECENT\r\n"
        "* OK [UIDVALIDITY 1699990100] UIDs valid\r\nA004 OK [READ-WRITE] Select completed.\r\n", 61.0)
    s.c("A005 FETCH 1:40 (UID FLAGS RFC822.SIZE INTERNALDATE)\r\n", 25)
    lines = fetch_lines(rng, 1, 40, 7001, ' RFC822.SIZE 18220 INTERNALDATE "25-Nov-2026 08:01:13 +0000"')
    half = lines.index("* 21 FETCH")
    s.s(lines[:half], 1200)
    s.s("* 21 FETCH (UID 7021 FLAGS (\\Seen RFC822.SIZE 18220\r\n", 900)  # malformed: unbalanced
    s.s(lines[half:] + "A005 OK Fetch completed (3.372 + 0.000 + 3.371 secs).\r\n", 1272)
    s.c("A006 NOOP\n", 30000)  # bare LF
    s.s("A006 OK NOOP completed.\r\n", 1.1)
    s.c("A007 UID FETCH 7041:* (UID FLAGS)\r\n", 30000)
    s.s("* 41 FETCH (UID 7041 FLAGS ())\r\nA007 OK Fetch completed.\r\n", 12.3)
    s.s("* BYE Server shutting down.\r\n", 45000)
    s.mark("s2c_eof", 2)
    sessions.append(s)

    # 4. K-9 Mail: pipelined commands, a BAD, an APPEND with a literal.
    s = Session("k9_pipelined_bad_append", DAY.replace(hour=9, minute=18, second=44), "198.51.100.61", 40022)
    s.greeting()
    s.c('1 ID ("name" "K-9 Mail" "version" "6.712")\r\n', 80)
    s.s('* ID ("name" "Dovecot")\r\n1 OK ID completed.\r\n', 1.5)
    s.c("2 AUTHENTICATE PLAIN\r\n", 30)
    s.s("+ \r\n", 0.6)
    s.c(base64.b64encode(b"\0dave@example.com\0tr0ub4dor&3").decode() + "\r\n", 12)
    s.s("2 OK [CAPABILITY %s] Logged in\r\n" % AUTH_CAPS, 47.7)
    s.c("3 SELECT INBOX\r\n4 UID FETCH 880:* (UID FLAGS)\r\n5 UID STORE 1:x +FLAGS.SILENT (\\Seen)\r\n", 20)
    s.s("* 97 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1699990333] UIDs valid\r\n3 OK [READ-WRITE] Select completed.\r\n", 8.2)
    s.s(fetch_lines(rng, 95, 3, 880) + "4 OK Fetch completed.\r\n", 4.4)
    s.s("5 BAD Error in IMAP command UID STORE: Invalid uidset\r\n", 0.7)
    msg = ("From: dave@example.com\r\nTo: erin@example.com\r\nSubject: Re: report\r\nDate: Wed, 25 Nov 2026 09:18:50 +0000\r\n"
        "Message-ID: <k9.4471@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "Looks good, ship it.\r\n\r\n-- \r\nDave\r\n")
    head, body = lit(msg).split("\r\n", 1)
    s.c("6 APPEND Sent (\\Seen) %s\r\n" % head, 220)
    s.s("+ OK\r\n", 1.0)
    s.c(body + "\r\n", 2)
    s.s("6 OK [APPENDUID 1699990340 512] Append completed.\r\n", 63.0)
    s.c("7 MOVE 97 Archive\r\n", 300)
    s.s("7 NO [TRYCREATE] Mailbox doesn't exist: Archive\r\n", 2.0)
    s.c("8 LOGOUT\r\n", 500)
    s.s("* BYE Logging out\r\n8 OK Logout completed.\r\n", 0.7)
    s.mark("s2c_eof", 0.2)
    sessions.append(s)

    # 5. An old client without IDLE, kept alive by imaptap's NOOPs.
    s = Session("evolution_keepalive", DAY.replace(hour=9, minute=20, second=5), "203.0.113.19", 44870)
    s.greeting()
    s.c('A00001 ID ("name" "Evolution" "version" "3.46.4")\r\n', 60)
    s.s('* ID ("name" "Dovecot")\r\nA00001 OK ID completed.\r\n', 1.3)
    s.c("A00002 LOGIN erin@example.com \"p4ss w0rd\"\r\n", 25)
    s.s("A00002 OK [CAPABILITY %s] Logged in\r\n" % AUTH_CAPS, 40.2)
    s.c("A00003 SELECT INBOX\r\n", 20)
    s.s("* 1204 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1699990555] UIDs valid\r\nA00003 OK [READ-WRITE] Select completed.\r\n", 11.1)
    for k in range(3):
        s.mark("timer", 240000)
        s.s(("* %d EXISTS\r\n" % (1205 + k) if k == 1 else "") + "PXK%d OK NOOP completed.\r\n" % (k + 1), 3.1 + k)
    s.c("A00004 NOOP\r\n", 41000)
    s.s("A00004 OK NOOP completed.\r\n", 0.9)
    s.c("A00005 LOGOUT\r\n", 3000)
    s.s("* BYE Logging out\r\nA00005 OK Logout completed.\r\n", 0.8)
    s.mark("s2c_eof", 0.1)
    sessions.append(s)

    # 6. A client that sends an oversized ID line before login: a limit event.
    s = Session("oversized_id_before_login", DAY.replace(hour=9, minute=22, second=31), "192.0.2.201", 39001)
    s.greeting()
    s.c('a1 ID ("name" "SyncBot" "version" "0.9" "x-debug" "%s")\r\n' % ("A" * 9000), 15)
    s.s("a1 BAD Error in IMAP command ID: Too long argument.\r\n", 3.3)
    s.c("a2 LOGOUT\r\n", 5)
    s.s("* BYE Logging out\r\na2 OK Logout completed.\r\n", 0.5)
    s.mark("c2s_eof", 0.1)
    sessions.append(s)

    # 7-12. Pollers: LOGIN, SELECT/EXAMINE, a few FETCHes, LOGOUT.
    pollers = [
        ("mutt", '("name" "Mutt" "version" "2.2.12")', "frank@example.com"),
        ("apple_mail", '("name" "Mac OS X Mail" "version" "16.0 (3774.300.61.1.2)" "os" "Mac OS X")', "grace@example.com"),
        ("fetchmail", None, "heidi@example.com"),
        ("thunderbird_poll", '("name" "Thunderbird" "version" "128.4.0")', "ivan@example.com"),
        ("mutt_2", '("name" "Mutt" "version" "2.2.12")', "frank@example.com"),
        ("apple_mail_2", '("name" "Mac OS X Mail" "version" "16.0 (3774.300.61.1.2)" "os" "Mac OS X")', "judy@example.com"),
    ]
    for n, (name, idargs, user) in enumerate(pollers):
        start = DAY.replace(hour=9, minute=24 + n * 2, second=rng.randrange(60))
        s = Session(name, start, "198.51.100.%d" % (100 + n), 40000 + rng.randrange(20000))
        s.greeting()
        tag = 0

        def t():
            nonlocal tag
            tag += 1
            return "c%d" % tag
        if idargs:
            tg = t()
            s.c("%s ID %s\r\n" % (tg, idargs), rng.uniform(20, 90))
            s.s('* ID ("name" "Dovecot")\r\n%s OK ID completed.\r\n' % tg, rng.uniform(0.5, 3))
        tg = t()
        s.c('%s LOGIN %s "%s"\r\n' % (tg, user, "pw%d" % rng.randrange(10 ** 6)), rng.uniform(10, 60))
        s.s("%s OK [CAPABILITY %s] Logged in\r\n" % (tg, AUTH_CAPS), rng.lognormvariate(3.6, 0.4))
        for box in ["INBOX", "Lists/debian-devel" if n % 2 else "Sent"]:
            tg = t()
            s.c("%s %s %s\r\n" % (tg, "EXAMINE" if name == "fetchmail" else "SELECT", box), rng.uniform(5, 40))
            s.s("* %d EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 16999%05d] UIDs valid\r\n%s OK [%s] Select completed.\r\n"
                % (rng.randrange(20, 9000), rng.randrange(10 ** 5), tg,
                   "READ-ONLY" if name == "fetchmail" else "READ-WRITE"), rng.lognormvariate(2.3, 0.7))
            for _ in range(rng.randrange(1, 4)):
                tg = t()
                u = rng.randrange(100, 9000)
                s.c("%s UID FETCH %d:* (UID FLAGS RFC822.SIZE)\r\n" % (tg, u), rng.uniform(5, 400))
                k = rng.randrange(0, 5)
                s.s(fetch_lines(rng, 10, k, u, " RFC822.SIZE %d" % rng.randrange(900, 90000)) +
                    "%s OK Fetch completed.\r\n" % tg, rng.lognormvariate(2.0, 1.0))
            if name.startswith("thunderbird") and box == "INBOX":
                tg = t()
                s.c("%s UID STORE %d +FLAGS (\\Seen)\r\n" % (tg, u), rng.uniform(50, 900))
                s.s("* 10 FETCH (UID %d MODSEQ (99121) FLAGS (\\Seen))\r\n%s OK Store completed.\r\n" % (u, tg), rng.lognormvariate(1.5, 0.5))
        tg = t()
        s.c("%s LOGOUT\r\n" % tg, rng.uniform(20, 200))
        s.s("* BYE Logging out\r\n%s OK Logout completed.\r\n" % tg, rng.uniform(0.3, 1.5))
        s.mark("s2c_eof", 0.2)
        sessions.append(s)
    return sessions


def build_hostile():
    s = Session("hostile", DAY.replace(hour=10, minute=1, second=0), "192.0.2.66", 6666)
    s.s("* OK [CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN <script>alert(1)</script>] <b>Welcome</b> </script><script>window.__pwned=1</script>\r\n", 0)
    s.c('a1 ID ("name" "<img src=x onerror=window.__pwned=2>" "version" "</style><svg onload=window.__pwned=3>")\r\n', 10)
    s.s('* ID ("name" "Dovecot")\r\na1 OK ID completed.\r\n', 1)
    s.c('a2 LOGIN "<i>mallory</i>&amp;" "secret"\r\n', 10)
    s.s("a2 OK Logged in <iframe src=\"http://127.0.0.1:9/\"></iframe>\r\n", 20)
    s.c('a3 SELECT "</script><script>window.__pwned=4</script>"\r\n', 10)
    s.s("a3 NO [NONEXISTENT] Mailbox doesn't exist: </script><img src=http://127.0.0.1:9/x.png onerror=window.__pwned=5>\r\n", 3)
    s.c('a4 LIST "" "<a href=javascript:window.__pwned=6>*"\r\n', 10)
    s.s('* LIST () "/" "<img src=x onerror=window.__pwned=7>"\r\n* LIST () "/" "\u2028\u2029&lt;b&gt;"\r\na4 OK done\r\n', 4)
    s.c("a5 <script>\r\n", 10)
    s.s("a5 BAD Unknown command <script>window.__pwned=8</script>\r\n", 1)
    s.c("a6 LOGOUT\r\n", 10)
    s.s("* BYE </script>\r\na6 OK bye\r\n", 1)
    s.mark("s2c_eof", 1)
    return [s]


def decode(imaptap, sessions, tmp):
    paths = []
    for s in sessions:
        p = os.path.join(tmp, s.name + ".jsonl")
        with open(p, "w", encoding="utf-8") as f:
            for ch in s.chunks:
                f.write(json.dumps(ch, ensure_ascii=False) + "\n")
        paths.append(p)
    out = subprocess.run([imaptap, "decode"] + paths, check=True, capture_output=True, text=True).stdout
    by_sid = {}
    for line in out.split("\n"):
        if not line:
            continue
        ev = json.loads(line)
        by_sid.setdefault(ev["sid"], []).append(ev)
    # decode writes the files' sessions in order: pair them by first appearance
    events = []
    for s, (sid, evs) in zip(sessions, by_sid.items()):
        t0 = datetime.datetime.strptime(evs[0]["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")

        def ts(ms):
            return (t0 - datetime.timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        head = [
            {"v": 1, "ts": ts(31.2), "sid": sid, "ev": "session_open",
             "client": {"addr": s.addr, "port": s.port}, "listener": "imaps://0.0.0.0:993",
             "upstream": {"host": "mail.example.com", "port": 993}},
            {"v": 1, "ts": ts(18.7), "sid": sid, "ev": "tls", "leg": "server", "version": "TLSv1.3",
             "cipher": "TLS_AES_256_GCM_SHA384", "sni": "mail.example.com",
             "peer": {"subject": "CN=mail.example.com", "sha256": "9f2c41d0aa0e3b7c5d1e6f8a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4"},
             "verified": True},
            {"v": 1, "ts": ts(2.1), "sid": sid, "ev": "tls", "leg": "client", "version": "TLSv1.3",
             "cipher": "TLS_AES_256_GCM_SHA384", "sni": "mail.example.com"},
        ]
        for seq, ev in enumerate(head + evs):
            ev["seq"] = seq
            # keep the usual key order: v ts sid seq ev ...
            ordered = {k: ev[k] for k in ("v", "ts", "sid", "seq", "ev")}
            ordered.update((k, v) for k, v in ev.items() if k not in ordered)
            events.append(ordered)
    events.sort(key=lambda e: e["ts"])  # stable: a session's order is kept
    return events


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--imaptap", default=os.path.join(here, "..", "..", "..", "imaptap"))
    ap.add_argument("--out", default=here)
    a = ap.parse_args()
    rng = random.Random(20261125)
    # decode names a session after its file's path: a fixed folder keeps the sids stable
    tmp = os.path.join(tempfile.gettempdir(), "imaptap-report-fixture")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        for name, sess in (("sessions.jsonl", build(rng)), ("hostile.jsonl", build_hostile())):
            events = decode(a.imaptap, sess, tmp)
            with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
                for ev in events:
                    f.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")
            print("%s: %d sessions, %d events" % (name, len(sess), len(events)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
