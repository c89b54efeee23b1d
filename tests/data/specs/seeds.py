"""Seed sessions modelled on real client/server traffic (MailKit, a push client, a fast-sync client)."""
import base64
import struct
import zlib

from _common import *


def addr(name, mbox, host):
    return "(%s NIL %s %s)" % (q(name) if name else "NIL", q(mbox), q(host))


def alist(*a):
    return "(" + "".join(a) + ")" if a else "NIL"


def envelope(date, subject, frm, to, cc="NIL", irt="NIL", mid="NIL", sender=None, reply_to=None):
    return "(%s %s %s %s %s %s %s NIL %s %s)" % (
        date, subject, frm, sender or frm, reply_to or frm, to, cc, irt, mid)


BOB = addr("Bob Jones", "bob", "example.org")
ALICE = addr("Alice", "alice", "example.com")

# ---------------------------------------------------------------- MailKit IDLE loop
MK_CAPS = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
           "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
           "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
           "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY LITERAL+ "
           "NOTIFY SPECIAL-USE")
MK_FLAGS = r"(\Answered \Flagged \Deleted \Seen \Draft)"


def mk_select(tag, exists, extra_ok=()):
    return [C(cm("%s SELECT INBOX" % tag, "SELECT", mailbox="INBOX")),
            S(un("* FLAGS " + MK_FLAGS),
              un(r"* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted."),
              un("* %d EXISTS" % exists, **IN),
              un("* 0 RECENT", n=0),
              un("* OK [UNSEEN 7] First unseen."),
              un("* OK [UIDVALIDITY 1700000000] UIDs valid"),
              un("* OK [UIDNEXT 4830] Predicted next UID"),
              tg("%s OK [READ-WRITE] Select completed (0.001 + 0.000 secs)." % tag, "SELECT",
                 state="selected"))]


MK_ENV = envelope(q("Tue, 24 Nov 2026 18:02:11 +0100"), q("Quarterly report"),
                  alist(BOB), alist(ALICE, addr("Carol Danvers", "carol", "example.net")),
                  cc=alist(addr(None, "finance", "example.org")),
                  mid=q("<20261124170211.4830@example.org>"))
MK_BS = ('((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 412 14 NIL NIL NIL NIL)'
         '("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 1290 32 NIL NIL NIL NIL)'
         ' "ALTERNATIVE" ("BOUNDARY" "alt-b1") NIL NIL NIL)'
         '("APPLICATION" "PDF" ("NAME" "report.pdf") NIL NIL "BASE64" 58720 NIL'
         ' ("ATTACHMENT" ("FILENAME" "report.pdf")) NIL NIL)'
         ' "MIXED" ("BOUNDARY" "mix-a0") NIL NIL NIL)')

mailkit_idle = case(
    "seed_mailkit_idle_loop", "parse",
    "MailKit-style IDLE loop (tags A00000000...): LOGIN with a quoted password, SELECT with FLAGS/"
    "PERMANENTFLAGS (with \\*)/EXISTS/RECENT/UNSEEN/UIDVALIDITY/UIDNEXT, IDLE, '+ idling', "
    "'* 10 EXISTS' during IDLE, DONE, tagged OK, then FETCH 10:* (UID FLAGS ENVELOPE BODYSTRUCTURE) "
    "answered with a full ENVELOPE (several To addresses, a NIL personal name) and a nested "
    "multipart/mixed(alternative(plain, html), pdf) BODYSTRUCTURE that must be skipped, and IDLE again.",
    [greeting("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN "
              "AUTH=LOGIN] Dovecot ready.", code="CAPABILITY", text="Dovecot ready."),
     C(cm('A00000000 LOGIN alice "correct horse battery"', "LOGIN", args="alice ***")),
     S(tg("A00000000 OK [CAPABILITY %s] Logged in" % MK_CAPS, "LOGIN", state="authenticated"),
       auth("LOGIN", "OK", user="alice"))]
    + mk_select("A00000001", 9)
    + [C(cm("A00000002 IDLE", "IDLE")),
       S("+ idling\r\n", idle("A00000002", "start")),
       S(un("* 10 EXISTS", **IN)),
       C("DONE\r\n", idle("A00000002", "done")),
       S(tg("A00000002 OK Idle completed (0.001 + 14.212 + 14.211 secs).", "IDLE")),
       C(cm("A00000003 FETCH 10:* (UID FLAGS ENVELOPE BODYSTRUCTURE)", "FETCH",
            args="10:* (UID FLAGS ENVELOPE BODYSTRUCTURE)")),
       S(un("* 10 FETCH (UID 4830 FLAGS () ENVELOPE %s BODYSTRUCTURE %s)" % (MK_ENV, MK_BS), **IN,
            fetch={"uid": 4830, "flags": [],
                   "envelope": {"date": "Tue, 24 Nov 2026 18:02:11 +0100",
                                "subject": "Quarterly report",
                                "message_id": "<20261124170211.4830@example.org>"}}),
         tg("A00000003 OK Fetch completed (0.001 + 0.000 secs).", "FETCH")),
       C(cm("A00000004 IDLE", "IDLE")),
       S("+ idling\r\n", idle("A00000004", "start"))],
    must_not_log=["correct horse battery", "horse"])

mailkit_noop = case(
    "seed_mailkit_noop_fallback", "parse",
    "MailKit's fallback when the server has no IDLE: a NOOP every minute. The second NOOP brings "
    "'* 3 EXPUNGE', '* 9 EXISTS' and '* 1 RECENT' (numbers after the expunge), then the client "
    "fetches the new message's UID and FLAGS.",
    [greeting("* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE AUTH=PLAIN] "
              "Dovecot ready."),
     C(cm("A00000000 LOGIN alice s3cr3t", "LOGIN", args="alice ***")),
     S(tg("A00000000 OK Logged in", "LOGIN", state="authenticated"),
       auth("LOGIN", "OK", user="alice"))]
    + mk_select("A00000001", 9)
    + [C(cm("A00000002 NOOP", "NOOP")),
       S(tg("A00000002 OK NOOP completed (0.001 + 0.000 secs).", "NOOP")),
       C(cm("A00000003 NOOP", "NOOP")),
       S(un("* 3 EXPUNGE", **IN), un("* 9 EXISTS", **IN), un("* 1 RECENT"),
         tg("A00000003 OK NOOP completed (0.001 + 0.000 secs).", "NOOP")),
       C(cm("A00000004 FETCH 9 (UID FLAGS)", "FETCH", args="9 (UID FLAGS)")),
       S(un(r"* 9 FETCH (UID 4830 FLAGS (\Recent))", **IN,
            fetch={"uid": 4830, "flags": ["\\Recent"]}),
         tg("A00000004 OK Fetch completed (0.001 + 0.000 secs).", "FETCH")),
       C(cm("A00000005 NOOP", "NOOP")),
       S(tg("A00000005 OK NOOP completed (0.001 + 0.000 secs).", "NOOP"))])

# ---------------------------------------------------------------- push client
PUSH_HDR = ("From: Bob Example <bob@example.org>\r\nTo: Alice Example <alice@example.com>\r\n"
            "Cc: carol@example.net\r\nSubject: Lunch on Thursday at the new place?\r\n"
            "Date: Tue, 24 Nov 2026 12:31:07 +0100\r\n"
            "Message-ID: <5f2a9c1e.4b7d@mail.example.org>\r\n\r\n")
assert len(PUSH_HDR) == 232
PUSH_SEC = "BODY[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)]"

push = case(
    "seed_push_idle_uid_fetch_headers", "parse",
    "Push-client transcript with numeric tags: '* 9 EXISTS' and '* 1 RECENT' arrive during IDLE, "
    "DONE, '77 OK Idle completed (39.120 + 39.117 + 39.119 secs).', then lower-case 'UID fetch' "
    "commands: FLAGS of 9:*, the header fields of UID 9 as a {232} literal (section with SP and "
    "parentheses inside brackets), and a partial BODY.PEEK[TEXT]<0.2048> answered as "
    "'BODY[TEXT]<0> {10}' (the origin is part of the section name).",
    [greeting(),
     C(cm("75 LOGIN alice@example.com s3cr3t", "LOGIN", args="alice@example.com ***")),
     S(tg("75 OK [CAPABILITY %s] Logged in" % POSTCAPS, "LOGIN", state="authenticated"),
       auth("LOGIN", "OK", user="alice@example.com")),
     C(cm("76 SELECT INBOX", "SELECT", mailbox="INBOX")),
     S(un("* 8 EXISTS", **IN), un("* 0 RECENT"), un("* OK [UIDVALIDITY 1394807512] UIDs valid"),
       un("* OK [UIDNEXT 9] Predicted next UID"),
       tg("76 OK [READ-WRITE] Select completed (0.000 + 0.000 secs).", "SELECT", state="selected")),
     C(cm("77 IDLE", "IDLE")),
     S("+ idling\r\n", idle("77", "start")),
     S(un("* 9 EXISTS", **IN), un("* 1 RECENT")),
     C("DONE\r\n", idle("77", "done")),
     S(tg("77 OK Idle completed (39.120 + 39.117 + 39.119 secs).", "IDLE")),
     C(cm("78 UID fetch 9:* (FLAGS)", "UID FETCH")),
     S(un(r"* 9 FETCH (UID 9 FLAGS (\Recent))", **IN, fetch={"uid": 9, "flags": ["\\Recent"]}),
       tg("78 OK Fetch completed (0.001 + 0.000 secs).", "UID FETCH")),
     C(cm("79 UID fetch 9 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date "
          "Message-ID)])", "UID FETCH")),
     S(un(r"* 9 FETCH (UID 9 RFC822.SIZE 2481 FLAGS (\Recent) %s {232}" % PUSH_SEC + CRLF + PUSH_HDR
          + ")", **IN, literals=[232],
          fetch={"uid": 9, "size": 2481, "flags": ["\\Recent"],
                 "parts": [{"section": PUSH_SEC, "size": 232}]}),
       tg("79 OK Fetch completed (0.001 + 0.000 secs).", "UID FETCH")),
     C(cm("80 UID fetch 9 (BODY.PEEK[TEXT]<0.2048>)", "UID FETCH")),
     S(un("* 9 FETCH (UID 9 BODY[TEXT]<0> {10}\r\nHi Alice\r\n)", **IN, literals=[10],
          fetch={"uid": 9, "parts": [{"section": "BODY[TEXT]<0>", "size": 10}]}),
       tg("80 OK Fetch completed (0.001 + 0.000 secs).", "UID FETCH"))])

# ---------------------------------------------------------------- fast sync (QRESYNC)
FS_FLAGS = r"(\Answered \Flagged \Deleted \Seen \Draft $Forwarded $Junk $NotJunk)"
LIT_SUBJ = "Weekly sync (moved to 10:00) {2}"


def png_1x1():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xffffffff)
    raw = zlib.compress(b"\x00\xff\x80\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def b64lines(data):
    s = base64.b64encode(data).decode()
    return "".join(s[i:i + 76] + CRLF for i in range(0, len(s), 76))


MIME = ("Return-Path: <dana@example.net>\r\nFrom: Dana Scully <dana@example.net>\r\n"
        "To: Alice Example <alice@example.com>\r\nSubject: Photos from the offsite\r\n"
        "Date: Tue, 24 Nov 2026 16:40:02 +0000\r\nMessage-ID: <photos-18385@example.net>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b0undary_18385\"\r\n\r\n"
        "This is a multi-part message in MIME format.\r\n\r\n--=_b0undary_18385\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64lines(u8("Hi Alice,\r\n\r\nhere is the group photo. Grüße, Dana\r\n").encode("latin-1"))
        + "\r\n--=_b0undary_18385\r\n"
        "Content-Type: image/png; name=\"dot.png\"\r\n"
        "Content-Disposition: attachment; filename=\"dot.png\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + b64lines(png_1x1())
        + "--=_b0undary_18385--\r\n")


def fs_envelopes():
    out = []
    dana = addr("Dana Scully", "dana", "example.net")
    specs = {
        16327: (q("Mon, 23 Nov 2026 09:12:44 +0000"), q("Team offsite agenda"), alist(dana),
                alist(ALICE, BOB, addr("Carol Danvers", "carol", "example.net")),
                alist(addr("Erin", "erin", "example.net")), "NIL", q("<agenda-16327@example.net>")),
        16328: (q("Mon, 23 Nov 2026 10:01:02 +0100"), q('Re: "Budget" review'), alist(BOB),
                alist(dana), "NIL", q("<agenda-16327@example.net>"), q("<re-16328@example.org>")),
        16329: (q("Mon, 23 Nov 2026 11:30:00 +0000"), lit(LIT_SUBJ), alist(dana), alist(ALICE),
                "NIL", "NIL", q("<sync-16329@example.net>")),
        16330: ("NIL", "NIL", "NIL", "NIL", "NIL", "NIL", q("<nil-fields-16330@example.org>")),
        16331: (q("Mon, 23 Nov 2026 14:00:00 +0000"), q("Newsletter #48"),
                alist(addr("News", "news", "example.com")),
                "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))", "NIL", "NIL",
                q("<nl48-16331@example.com>")),
    }
    for n in range(16327, 16338):
        if n in specs:
            date, subj, frm, to, cc, irt, mid = specs[n]
        else:
            date, subj = q("Mon, 23 Nov 2026 %02d:00:00 +0000" % (n - 16317)), q("Build report #%d" % n)
            frm, to, cc, irt = alist(addr("CI", "ci", "example.com")), alist(ALICE), "NIL", "NIL"
            mid = q("<build-%d@ci.example.com>" % n)
        env = {}
        if date != "NIL":
            env["date"] = date[1:-1]
        if subj != "NIL":
            env["subject"] = LIT_SUBJ if subj.startswith("{") else subj[1:-1].replace('\\"', '"')
        env["message_id"] = mid[1:-1]
        kw = {"literals": [len(LIT_SUBJ)]} if subj.startswith("{") else {}
        out.append(un("* %d FETCH (ENVELOPE %s)" % (n, envelope(date, subj, frm, to, cc, irt, mid)),
                      **IN, fetch={"envelope": env}, **kw))
    return out


fastsync = case(
    "seed_fastsync_qresync_session", "parse",
    "Fast-sync client: ENABLE QRESYNC; SELECT INBOX (QRESYNC (1532079879 22754 18300:18385)) with "
    "FLAGS, PERMANENTFLAGS, EXISTS, RECENT, UNSEEN, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, "
    "'* VANISHED (EARLIER) 18380' and FETCH with MODSEQ; FETCH 17221:* (UID FLAGS) (CHANGEDSINCE "
    "22746); a reversed range FETCH 16337:16327 (ENVELOPE) with full envelopes (NIL fields, address "
    "lists with several addresses, a group, a subject with escaped quotes, a subject sent as a literal "
    "holding parentheses and '{2}'); BODY[] of a multipart message with base64 parts as one literal; "
    "CLOSE (back to authenticated); LOGOUT with '* BYE' then the tagged OK (state logout).",
    [greeting(),
     C(cm("A1 LOGIN alice s3cr3t", "LOGIN", args="alice ***")),
     S(tg("A1 OK [CAPABILITY %s] Logged in" % POSTCAPS, "LOGIN", state="authenticated"),
       auth("LOGIN", "OK", user="alice")),
     C(cm("A2 ENABLE QRESYNC", "ENABLE", args="QRESYNC")),
     S(un("* ENABLED QRESYNC", caps=["QRESYNC"]), tg("A2 OK Enabled", "ENABLE")),
     C(cm("A3 SELECT INBOX (QRESYNC (1532079879 22754 18300:18385))", "SELECT", mailbox="INBOX")),
     S(un("* FLAGS " + FS_FLAGS),
       un(r"* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Forwarded $Junk "
          r"$NotJunk \*)] Flags permitted."),
       un("* 17300 EXISTS", **IN), un("* 0 RECENT"),
       un("* OK [UNSEEN 17299] First unseen."),
       un("* OK [UIDVALIDITY 1532079879] UIDs valid"),
       un("* OK [UIDNEXT 18386] Predicted next UID"),
       un("* OK [HIGHESTMODSEQ 22760] Highest"),
       un("* VANISHED (EARLIER) 18380", **IN, vanished={"earlier": True, "uids": "18380"}),
       un("* 17297 FETCH (UID 18382 FLAGS (\\Seen $Forwarded) MODSEQ (22757))", **IN,
          fetch={"uid": 18382, "flags": ["\\Seen", "$Forwarded"], "modseq": 22757}),
       un("* 17300 FETCH (UID 18385 FLAGS () MODSEQ (22760))", **IN,
          fetch={"uid": 18385, "flags": [], "modseq": 22760}),
       tg("A3 OK [READ-WRITE] Select completed (0.003 + 0.000 + 0.002 secs).", "SELECT",
          state="selected")),
     C(cm("A4 FETCH 17221:* (UID FLAGS) (CHANGEDSINCE 22746)", "FETCH",
          args="17221:* (UID FLAGS) (CHANGEDSINCE 22746)")),
     S(un("* 17230 FETCH (UID 18312 FLAGS (\\Seen \\Answered) MODSEQ (22751))", **IN,
          fetch={"uid": 18312, "flags": ["\\Seen", "\\Answered"], "modseq": 22751}),
       un("* 17297 FETCH (UID 18382 FLAGS (\\Seen $Forwarded) MODSEQ (22757))", **IN,
          fetch={"uid": 18382, "flags": ["\\Seen", "$Forwarded"], "modseq": 22757}),
       un("* 17300 FETCH (UID 18385 FLAGS () MODSEQ (22760))", **IN,
          fetch={"uid": 18385, "flags": [], "modseq": 22760}),
       tg("A4 OK Fetch completed (0.001 + 0.000 secs).", "FETCH")),
     C(cm("A5 FETCH 16337:16327 (ENVELOPE)", "FETCH", args="16337:16327 (ENVELOPE)")),
     S(*fs_envelopes(), tg("A5 OK Fetch completed (0.004 + 0.000 + 0.003 secs).", "FETCH")),
     C(cm("A6 UID FETCH 18385 (BODY.PEEK[])", "UID FETCH")),
     S(un("* 17300 FETCH (UID 18385 BODY[] {%d}\r\n%s)" % (len(MIME), MIME), **IN,
          literals=[len(MIME)],
          fetch={"uid": 18385, "parts": [{"section": "BODY[]", "size": len(MIME)}]}),
       tg("A6 OK Fetch completed (0.002 + 0.000 + 0.001 secs).", "UID FETCH")),
     C(cm("A7 CLOSE", "CLOSE")),
     S(tg("A7 OK Close completed (0.001 + 0.000 secs).", "CLOSE", state="authenticated")),
     C(cm("A8 LOGOUT", "LOGOUT")),
     S(un("* BYE Logging out"), tg("A8 OK Logout completed (0.001 + 0.000 secs).", "LOGOUT",
                                   state="logout"))])

CASES = [mailkit_idle, mailkit_noop, push, fastsync]
