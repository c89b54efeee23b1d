"""Keepalive: where nothing may be injected, and containment (protocol.md 4.1, 4.4, 4.5).

Every ka_no_inject_* case fires the keepalive timer at each moment where injecting would be
wrong (mid literal, mid AUTHENTICATE, a partial command line, inside the client's IDLE,
before authentication, after LOGOUT or BYE) and expects no keepalive event and a relay
byte-identical both ways.  The containment cases pin down what the client receives when the
server expunges during imaptap's own command: held EXPUNGE/VANISHED (and everything after
them) reach the client only at its next command that allows them, in the server's order,
ahead of that command's responses; a command that depends on sequence numbers is answered
locally with NO [EXPUNGEISSUED] and never reaches the server.
"""
from _common import *

KA = {"keepalive_s": 300, "keepalive_tag_prefix": "PXK", "keepalive_selected": "noop"}
KA_SEARCH = dict(KA, keepalive_selected="search")
NOINJECT = {"to_server": None, "to_client": None}

GREET = GREETING + CRLF
LOGIN_LINE = "a1 LOGIN alice s3cr3t\r\n"
LOGIN_OK = "a1 OK [CAPABILITY %s] Logged in\r\n" % POSTCAPS
SEL = "a2 SELECT INBOX\r\n"
SEL_RESP = ("* 10 EXISTS\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
            "a2 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n")
EXPUNGEISSUED_TEXT = "Messages were expunged: NOOP, then try again with the new numbers"


def sent(n, cmd="NOOP"):
    return ev("keepalive", tag="PXK%d" % n, state="sent", cmd=cmd)


def ka_ok(n, held=0):
    return ev("keepalive", dir="s2c", tag="PXK%d" % n, state="ok", held=held)


def released(n, held):
    return ev("keepalive", tag="PXK%d" % n, state="released", held=held)


def expunge_anomaly(n):
    return anomaly("s2c", "expunge_during_keepalive", tag="PXK%d" % n)


def local_no(tag, cmd):
    """imaptap's own NO [EXPUNGEISSUED] (no dir: imaptap speaks)."""
    return ev("tagged", tag=tag, cmd=cmd, status="NO", code="EXPUNGEISSUED",
              text=EXPUNGEISSUED_TEXT, local=True)


def local_no_line(tag):
    return "%s NO [EXPUNGEISSUED] %s\r\n" % (tag, EXPUNGEISSUED_TEXT)


def held(line, **kw):
    return un(line, held=True, **kw)


# ------------------------------------------------------------ nothing injected

mid_sync_literal = case(
    "ka_no_inject_mid_sync_literal", "relay",
    "The timer fires while a synchronizing literal waits for the server's '+', again after the "
    "'+' with half the literal sent, and again before the APPEND completes: a command is in "
    "progress each time (and the client framer is inside a literal), so nothing is injected "
    "and both directions are relayed byte for byte (protocol.md 4.1).",
    prelude() + [
        C("a3 APPEND INBOX {10}\r\n"),
        TIMER,
        S("+ OK\r\n", cont("a3", text="OK")),
        C("01234"),
        TIMER,
        C("56789\r\n", ev("command", dir="c2s", tag="a3", cmd="APPEND", mailbox="INBOX",
                            literals=[10], at="a3 ")),
        TIMER,
        S(tg("a3 OK [APPENDUID 1700000000 11] Append completed.", "APPEND"))],
    config=KA, relay_expect=NOINJECT)

mid_nonsync_literal = case(
    "ka_no_inject_mid_nonsync_literal", "relay",
    "The timer fires in the middle of a LITERAL+ (non-synchronizing) literal: the command line "
    "and four octets of its data have been relayed, so 'PXK1 NOOP' would be spliced into the "
    "message.  Nothing is injected, also after the literal while the APPEND is in flight.",
    prelude() + [
        C("a3 APPEND INBOX {10+}\r\n0123",
          ev("command", dir="c2s", tag="a3", cmd="APPEND", mailbox="INBOX", nonsync=True,
             literals=[10])),
        TIMER,
        C("456789\r\n"),
        TIMER,
        S(tg("a3 OK [APPENDUID 1700000000 11] Append completed.", "APPEND"))],
    config=KA, relay_expect=NOINJECT)

AUTH_USER_B64 = b64("alice")
AUTH_PW_B64 = b64("s3cr3t")
mid_authenticate = case(
    "ka_no_inject_mid_authenticate", "relay",
    "AUTHENTICATE LOGIN (two challenges) after a PREAUTH greeting, so the connection state "
    "alone does not forbid injection: the timer fires after each '+' and after each SASL "
    "line.  Inside an AUTHENTICATE exchange the client framer is in text mode and the command "
    "is in flight: nothing is injected, and the SASL lines reach the server unchanged.",
    [S(un("* PREAUTH [CAPABILITY IMAP4rev1 IDLE AUTH=LOGIN] ready", greeting=True)),
     C(cm("A1 AUTHENTICATE LOGIN", "AUTHENTICATE", args="LOGIN")),
     S("+ VXNlcm5hbWU6\r\n", cont("A1", for_="sasl")),
     TIMER,
     C(AUTH_USER_B64 + CRLF, sasl("A1")),
     TIMER,
     S("+ UGFzc3dvcmQ6\r\n", cont("A1", for_="sasl")),
     TIMER,
     C(AUTH_PW_B64 + CRLF, sasl("A1")),
     TIMER,
     S(tg("A1 BAD Already authenticated", "AUTHENTICATE"),
       auth("AUTHENTICATE", "BAD", mech="LOGIN"))],
    config=KA, relay_expect=NOINJECT, must_not_log=[AUTH_PW_B64, "s3cr3t"])

partial_line = case(
    "ka_no_inject_partial_command_line", "relay",
    "The client's command arrives in pieces ('a', 'a3 FET', 'a3 FETCH 1 (FL') and the timer "
    "fires after each: those bytes are already on their way to the server, so an injected "
    "line would be spliced into the client's command.  Nothing is injected.",
    prelude() + [
        C("a"), TIMER,
        C("3 FET"), TIMER,
        C("CH 1 (FL"), TIMER,
        C("AGS)\r\n", ev("command", dir="c2s", tag="a3", cmd="FETCH", at="a3 ")),
        S(un("* 1 FETCH (FLAGS (\\Seen))", **IN), tg("a3 OK Fetch completed.", "FETCH"))],
    config=KA, relay_expect=NOINJECT)

client_idle = case(
    "ka_no_inject_client_idle", "relay",
    "The client's own IDLE: the timer fires before the server's '+', during the IDLE (twice, "
    "around an EXISTS), and after DONE before the tagged OK.  The proxy never breaks into a "
    "client's IDLE (protocol.md 4.6): nothing is injected.",
    prelude() + [
        C(cm("a3 IDLE", "IDLE")),
        TIMER,
        S("+ idling\r\n", idle("a3", "start")),
        TIMER,
        S(un("* 11 EXISTS", **IN)),
        TIMER,
        C("DONE\r\n", idle("a3", "done")),
        TIMER,
        S(tg("a3 OK Idle completed (0.001 + 1.000 secs).", "IDLE"))],
    config=KA, relay_expect=NOINJECT)

before_login = case(
    "ka_no_inject_before_login", "relay",
    "Not authenticated: the timer fires after the greeting, while LOGIN is in flight, after "
    "the LOGIN failed, and after a CAPABILITY exchange.  Pre-authentication timeouts are short "
    "on purpose (protocol.md 4.1): nothing is injected.",
    [greeting(), TIMER,
     C(cm("a1 LOGIN alice wrong", "LOGIN", args="alice ***")),
     TIMER,
     S(tg("a1 NO [AUTHENTICATIONFAILED] Authentication failed.", "LOGIN",
          state="not_authenticated"), auth("LOGIN", "NO", user="alice")),
     TIMER,
     C(cm("a2 CAPABILITY", "CAPABILITY")),
     S(un("* CAPABILITY IMAP4rev1 LITERAL+ IDLE AUTH=PLAIN"), tg("a2 OK Capability completed.",
                                                              "CAPABILITY")),
     TIMER],
    config=KA, relay_expect=NOINJECT, must_not_log=["wrong"])

after_logout = case(
    "ka_no_inject_after_logout", "relay",
    "LOGOUT: the timer fires while it is in flight, after the server's BYE and after the "
    "tagged OK, before the server closes.  Nothing is injected once the client said LOGOUT.",
    prelude() + [
        C(cm("a3 LOGOUT", "LOGOUT")),
        TIMER,
        S(un("* BYE Logging out")),
        TIMER,
        S(tg("a3 OK Logout completed (0.001 + 0.000 secs).", "LOGOUT", state="logout")),
        TIMER,
        dict(EOF, events=[ev("session_close", reason="logout")])],
    config=KA, relay_expect=NOINJECT)

after_bye = case(
    "ka_no_inject_after_bye", "relay",
    "An unsolicited '* BYE' (server shutting down) with no command in flight: the server will "
    "close, so the timer that fires after it injects nothing.",
    prelude() + [
        S(un("* BYE Server shutting down.")),
        TIMER,
        dict(EOF, events=[ev("session_close", reason="bye")])],
    config=KA, relay_expect=NOINJECT)

# ------------------------------------------------------------ containment

EXP_WINDOW = "* 2 FETCH (FLAGS (\\Seen))\r\n* 3 EXPUNGE\r\n* 10 EXISTS\r\n* 1 RECENT\r\n"


def expunge_window(n=1):
    """The server's answer to PXKn NOOP: a flag change (forwarded at once), then an EXPUNGE
    and the responses after it (held), then the swallowed completion."""
    return S(un("* 2 FETCH (FLAGS (\\Seen))", **IN, fetch={"flags": ["\\Seen"]}),
             "* 3 EXPUNGE\r\n", expunge_anomaly(n), ev("untagged", dir="s2c", name="EXPUNGE", n=3,
                                                       held=True, mailbox="INBOX", at="* 3 EXPUNGE"),
             held("* 10 EXISTS", **IN), held("* 1 RECENT"),
             "PXK%d OK NOOP completed (0.001 + 0.000 secs).\r\n" % n, ka_ok(n, held=3))


released_by_noop = case(
    "ka_expunge_held_released_by_noop", "both",
    "Selected state, NOOP keepalive: the server answers 'PXK1 NOOP' with a FETCH flag update "
    "(forwarded at once: allowed while no command is in progress), then '* 3 EXPUNGE', "
    "'* 10 EXISTS' (already in the new numbering) and '* 1 RECENT'.  From the EXPUNGE on, "
    "everything is held (anomaly expunge_during_keepalive, untagged held: true, keepalive ok "
    "held=3) and PXK1 OK is swallowed.  The client's next NOOP is relayed and the held lines "
    "reach the client right behind it, in the server's order, before the NOOP's own answer "
    "(keepalive state=released held=3).",
    prelude() + [
        dict(TIMER, events=[sent(1)]),
        expunge_window(1),
        C("a3 NOOP\r\n", released(1, 3), ev("command", dir="c2s", tag="a3", cmd="NOOP")),
        S(tg("a3 OK NOOP completed (0.001 + 0.000 secs).", "NOOP"))],
    config=KA,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 NOOP\r\na3 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + EXP_WINDOW +
                               "a3 OK NOOP completed (0.001 + 0.000 secs).\r\n"})

released_by_uid_fetch = case(
    "ka_expunge_held_released_by_uid_fetch", "both",
    "The held EXPUNGE is released by a UID FETCH (a UID command may carry EXPUNGE, RFC 3501 "
    "7.4.1, and does not depend on sequence numbers): the command is relayed, the held lines "
    "go to the client first, then the FETCH responses in the new numbering.",
    prelude() + [
        dict(TIMER, events=[sent(1)]),
        expunge_window(1),
        C("a3 UID FETCH 1:* (FLAGS)\r\n", released(1, 3),
          ev("command", dir="c2s", tag="a3", cmd="UID FETCH")),
        S(un("* 1 FETCH (UID 1 FLAGS ())", **IN), un("* 9 FETCH (UID 11 FLAGS (\\Recent))", **IN),
          tg("a3 OK Fetch completed (0.001 + 0.000 secs).", "UID FETCH"))],
    config=KA,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 NOOP\r\na3 UID FETCH 1:* (FLAGS)\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + EXP_WINDOW +
                               "* 1 FETCH (UID 1 FLAGS ())\r\n* 9 FETCH (UID 11 FLAGS (\\Recent))\r\n"
                               "a3 OK Fetch completed (0.001 + 0.000 secs).\r\n"})

MSN_CMDS = ["a3 FETCH 3 (FLAGS)", "a4 STORE 2 +FLAGS (\\Deleted)", "a5 COPY 1:2 Trash",
            "a6 UID SEARCH 1:3", "a7 SEARCH UNSEEN"]
msn_refused = case(
    "ka_expunge_held_msn_commands_refused", "both",
    "While an EXPUNGE is held, commands that use message sequence numbers are answered by "
    "imaptap with NO [EXPUNGEISSUED] (tagged, local: true) and never reach the server: a "
    "sequence FETCH and STORE (they would hit the renumbered messages), COPY, a UID SEARCH whose "
    "criteria are a sequence set ('UID SEARCH 1:3') and a SEARCH.  Then 'UID SEARCH UID 1:3' "
    "(a UID set only) is relayed and releases the held lines ahead of its answer.",
    prelude() + [
        dict(TIMER, events=[sent(1)]),
        expunge_window(1),
        C(cm(MSN_CMDS[0], "FETCH"), local_no("a3", "FETCH")),
        C(cm(MSN_CMDS[1], "STORE"), local_no("a4", "STORE")),
        C(cm(MSN_CMDS[2], "COPY", mailbox="Trash"), local_no("a5", "COPY")),
        C(cm(MSN_CMDS[3], "UID SEARCH"), local_no("a6", "UID SEARCH")),
        C(cm(MSN_CMDS[4], "SEARCH"), local_no("a7", "SEARCH")),
        C("a8 UID SEARCH UID 1:3\r\n", ev("command", dir="c2s", tag="a8", cmd="UID SEARCH"),
          released(1, 3)),
        S(un("* SEARCH 1 2"), tg("a8 OK Search completed (0.001 + 0.000 secs).", "UID SEARCH"))],
    config=KA,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 NOOP\r\na8 UID SEARCH UID 1:3\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + "* 2 FETCH (FLAGS (\\Seen))\r\n" +
                               "".join(local_no_line(c.split()[0]) for c in MSN_CMDS) +
                               EXP_WINDOW[len("* 2 FETCH (FLAGS (\\Seen))\r\n"):] +
                               "* SEARCH 1 2\r\na8 OK Search completed (0.001 + 0.000 secs).\r\n"})

QR_LOGIN_ENABLE = [
    C(cm("a2 ENABLE QRESYNC", "ENABLE")),
    S(un("* ENABLED QRESYNC"), tg("a2 OK Enabled.", "ENABLE")),
    C(cm("a3 SELECT INBOX", "SELECT", mailbox="INBOX")),
    S(un("* 10 EXISTS", **IN), un("* OK [HIGHESTMODSEQ 40] Highest"),
      tg("a3 OK [READ-WRITE] Select completed.", "SELECT", state="selected"))]
vanished_held = case(
    "ka_vanished_held_released", "both",
    "QRESYNC enabled: the server reports removals during 'PXK1 NOOP' as '* VANISHED 4820' (no "
    "EARLIER), which is held like an EXPUNGE together with the FETCH after it; a sequence FETCH "
    "is refused locally, then a UID FETCH releases both ahead of its own answer.",
    [greeting()] + login() + QR_LOGIN_ENABLE + [
        dict(TIMER, events=[sent(1)]),
        S("* VANISHED 4820\r\n", expunge_anomaly(1),
          ev("untagged", dir="s2c", name="VANISHED", held=True, mailbox="INBOX",
             vanished={"earlier": False, "uids": "4820"}, at="* VANISHED"),
          held("* 9 FETCH (UID 4830 MODSEQ (41) FLAGS (\\Seen))", **IN),
          "PXK1 OK NOOP completed.\r\n", ka_ok(1, held=2)),
        C(cm("a4 FETCH 9 (FLAGS)", "FETCH"), local_no("a4", "FETCH")),
        C("a5 UID FETCH 4830 (FLAGS)\r\n", released(1, 2),
          ev("command", dir="c2s", tag="a5", cmd="UID FETCH")),
        S(un("* 9 FETCH (UID 4830 FLAGS (\\Seen))", **IN),
          tg("a5 OK Fetch completed.", "UID FETCH"))],
    config=KA,
    relay_expect={"to_server": LOGIN_LINE + "a2 ENABLE QRESYNC\r\na3 SELECT INBOX\r\nPXK1 NOOP\r\n"
                               "a5 UID FETCH 4830 (FLAGS)\r\n",
                  "to_client": GREET + LOGIN_OK + "* ENABLED QRESYNC\r\na2 OK Enabled.\r\n"
                               "* 10 EXISTS\r\n* OK [HIGHESTMODSEQ 40] Highest\r\n"
                               "a3 OK [READ-WRITE] Select completed.\r\n" + local_no_line("a4") +
                               "* VANISHED 4820\r\n* 9 FETCH (UID 4830 MODSEQ (41) FLAGS (\\Seen))\r\n"
                               "* 9 FETCH (UID 4830 FLAGS (\\Seen))\r\na5 OK Fetch completed.\r\n"})

bye_while_held = case(
    "ka_bye_while_held_releases_first", "both",
    "The server expunges during 'PXK1 NOOP', then sends '* BYE' before the client says "
    "anything: everything held goes to the client first, in order, then the BYE "
    "(protocol.md 4.5 rule 5), and the session closes with reason bye.",
    prelude() + [
        dict(TIMER, events=[sent(1)]),
        S("* 3 EXPUNGE\r\n", expunge_anomaly(1),
          ev("untagged", dir="s2c", name="EXPUNGE", n=3, held=True, mailbox="INBOX", at="* 3 EXPUNGE"),
          held("* 9 EXISTS", **IN),
          "PXK1 OK NOOP completed.\r\n", ka_ok(1, held=2)),
        S("* BYE Server shutting down.\r\n", released(1, 2),
          ev("untagged", dir="s2c", name="BYE", text="Server shutting down.")),
        dict(EOF, events=[ev("session_close", reason="bye")])],
    config=KA,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP +
                               "* 3 EXPUNGE\r\n* 9 EXISTS\r\n* BYE Server shutting down.\r\n"})

held_then_idle = case(
    "ka_expunge_held_released_by_client_idle", "both",
    "The client's IDLE permits EXPUNGE: a held EXPUNGE is released when the client's IDLE "
    "command arrives, before the server's '+'.",
    prelude() + [
        dict(TIMER, events=[sent(1)]),
        S("* 3 EXPUNGE\r\n", expunge_anomaly(1),
          ev("untagged", dir="s2c", name="EXPUNGE", n=3, held=True, mailbox="INBOX", at="* 3 EXPUNGE"),
          "PXK1 OK NOOP completed.\r\n", ka_ok(1, held=1)),
        C("a3 IDLE\r\n", released(1, 1), ev("command", dir="c2s", tag="a3", cmd="IDLE")),
        S("+ idling\r\n", idle("a3", "start")),
        C("DONE\r\n", idle("a3", "done")),
        S(tg("a3 OK Idle completed.", "IDLE"))],
    config=KA,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 NOOP\r\na3 IDLE\r\nDONE\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP +
                               "* 3 EXPUNGE\r\n+ idling\r\na3 OK Idle completed.\r\n"})

# ------------------------------------------------------------ SEARCH keepalive

search_swallow = case(
    "ka_search_swallows_search_and_esearch", "both",
    "keepalive_selected=search: in the selected state imaptap sends 'PXK1 SEARCH UID *' (a "
    "non-UID SEARCH: servers may not expunge during it).  Its '* SEARCH 10' answer and tagged "
    "OK are swallowed, the EXISTS before it is forwarded.  The second keepalive is answered in "
    "the ESEARCH form '* ESEARCH (TAG \"PXK2\") ALL 11', also swallowed (the TAG names the "
    "synthetic command); the client sees only the EXISTS lines.",
    prelude() + [
        dict(TIMER, events=[sent(1, "SEARCH")]),
        S(un("* 11 EXISTS", **IN), "* SEARCH 11\r\n",
          ev("untagged", dir="s2c", name="SEARCH", swallowed=True, at="* SEARCH"),
          "PXK1 OK Search completed (0.001 + 0.000 secs).\r\n", ka_ok(1)),
        dict(TIMER, events=[sent(2, "SEARCH")]),
        S(un("* 12 EXISTS", **IN), "* ESEARCH (TAG \"PXK2\") ALL 12\r\n",
          ev("untagged", dir="s2c", name="ESEARCH", swallowed=True, at="* ESEARCH"),
          "PXK2 OK Search completed (0.001 + 0.000 secs).\r\n", ka_ok(2)),
        C(cm("a3 NOOP", "NOOP")),
        S(tg("a3 OK NOOP completed.", "NOOP"))],
    config=KA_SEARCH,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 SEARCH UID *\r\nPXK2 SEARCH UID *\r\n"
                               "a3 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + "* 11 EXISTS\r\n* 12 EXISTS\r\n"
                               "a3 OK NOOP completed.\r\n"})

search_noncompliant = case(
    "ka_search_expunge_from_noncompliant_server_held", "both",
    "A server that expunges during the SEARCH keepalive anyway (RFC 3501 7.4.1 forbids it): "
    "the EXPUNGE is contained exactly as during a NOOP, the SEARCH answer still swallowed.",
    prelude() + [
        dict(TIMER, events=[sent(1, "SEARCH")]),
        S("* 3 EXPUNGE\r\n", expunge_anomaly(1),
          ev("untagged", dir="s2c", name="EXPUNGE", n=3, held=True, mailbox="INBOX", at="* 3 EXPUNGE"),
          "* SEARCH 9\r\n", ev("untagged", dir="s2c", name="SEARCH", swallowed=True, at="* SEARCH"),
          "PXK1 OK Search completed.\r\n", ka_ok(1, held=1)),
        C(cm("a3 FETCH 3 (FLAGS)", "FETCH"), local_no("a3", "FETCH")),
        C("a4 NOOP\r\n", released(1, 1), ev("command", dir="c2s", tag="a4", cmd="NOOP")),
        S(tg("a4 OK NOOP completed.", "NOOP"))],
    config=KA_SEARCH,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 SEARCH UID *\r\na4 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + local_no_line("a3") +
                               "* 3 EXPUNGE\r\na4 OK NOOP completed.\r\n"})

search_refused = case(
    "ka_search_refused_falls_back_to_noop", "relay",
    "The server refuses the SEARCH keepalive ('PXK1 NO'): logged keepalive state=no, and the "
    "next keepalive falls back to NOOP (protocol.md 4.2, table: 'the SEARCH variant got NO/BAD: "
    "fall back to NOOP with 4.5 containment').",
    prelude() + [
        dict(TIMER, events=[sent(1, "SEARCH")]),
        S("PXK1 NO Search not allowed.\r\n", ev("keepalive", dir="s2c", tag="PXK1", state="no")),
        dict(TIMER, events=[sent(2, "NOOP")]),
        S("PXK2 OK NOOP completed.\r\n", ka_ok(2)),
        C(cm("a3 NOOP", "NOOP")),
        S(tg("a3 OK NOOP completed.", "NOOP"))],
    config=KA_SEARCH,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 SEARCH UID *\r\nPXK2 NOOP\r\na3 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + "a3 OK NOOP completed.\r\n"})

# ------------------------------------------------------------ refusal, tags

noop_refused = case(
    "ka_noop_refused_stops", "relay",
    "The server answers the NOOP keepalive with NO: logged keepalive state=no, swallowed, and "
    "keepalive stops for the session: later timers inject nothing (the proxy adds an anomaly "
    "keepalive_stopped, which the replay does not log).",
    prelude() + [
        dict(TIMER, events=[sent(1)]),
        S("PXK1 NO Not now.\r\n", ev("keepalive", dir="s2c", tag="PXK1", state="no")),
        TIMER,
        C(cm("a3 NOOP", "NOOP")),
        S(tg("a3 OK NOOP completed.", "NOOP")),
        TIMER],
    config=KA,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 NOOP\r\na3 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + "a3 OK NOOP completed.\r\n"})

tag_collision = case(
    "ka_tag_skips_client_prefix_tags", "relay",
    "A client whose own tags use imaptap's prefix (PXK1, PXK2): its commands and answers pass "
    "unchanged, and the keepalive picks a tag the client has not used recently (PXK3, then "
    "PXK5 after the client used PXK4).",
    prelude() + [
        C(cm("PXK1 NOOP", "NOOP")),
        S(tg("PXK1 OK NOOP completed.", "NOOP")),
        C(cm("PXK2 UID FETCH 1 (FLAGS)", "UID FETCH")),
        S(un("* 1 FETCH (UID 1 FLAGS ())", **IN), tg("PXK2 OK Fetch completed.", "UID FETCH")),
        dict(TIMER, events=[sent(3)]),
        S("PXK3 OK NOOP completed.\r\n", ka_ok(3)),
        C(cm("PXK4 NOOP", "NOOP")),
        S(tg("PXK4 OK NOOP completed.", "NOOP")),
        dict(TIMER, events=[sent(5)]),
        S("PXK5 OK NOOP completed.\r\n", ka_ok(5))],
    config=KA,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 NOOP\r\nPXK2 UID FETCH 1 (FLAGS)\r\n"
                               "PXK3 NOOP\r\nPXK4 NOOP\r\nPXK5 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + "PXK1 OK NOOP completed.\r\n"
                               "* 1 FETCH (UID 1 FLAGS ())\r\nPXK2 OK Fetch completed.\r\n"
                               "PXK4 OK NOOP completed.\r\n"})

client_waits = case(
    "ka_client_command_waits_for_keepalive", "relay",
    "The client starts a command while 'PXK1 NOOP' is outstanding: its bytes wait (they are not "
    "pipelined behind the synthetic command) and are relayed once PXK1 OK arrives; the client "
    "gets its answer and none of the keepalive's bytes.",
    prelude() + [
        dict(TIMER, events=[sent(1)]),
        C("a3 FETCH 1 (FLAGS)\r\n"),
        S("PXK1 OK NOOP completed.\r\n", ka_ok(1), ev("command", dir="c2s", tag="a3", cmd="FETCH")),
        S(un("* 1 FETCH (FLAGS ())", **IN), tg("a3 OK Fetch completed.", "FETCH"))],
    config=KA,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 NOOP\r\na3 FETCH 1 (FLAGS)\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP +
                               "* 1 FETCH (FLAGS ())\r\na3 OK Fetch completed.\r\n"})

CASES = [mid_sync_literal, mid_nonsync_literal, mid_authenticate, partial_line, client_idle,
         before_login, after_logout, after_bye,
         released_by_noop, released_by_uid_fetch, msn_refused, vanished_held, bye_while_held,
         held_then_idle, search_swallow, search_noncompliant, search_refused,
         noop_refused, tag_collision, client_waits]
