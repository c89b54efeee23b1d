"""Keepalive in IDLE mode (--keepalive-mode idle): imaptap keeps the upstream in IDLE for a silent
client (design.md 3, protocol.md 4.6) with the containment of 4.5.

The case config key "keepalive_mode" ("idle" | "noop") sets imap_session_config.ka_idle, as
--keepalive-mode does.
"""
from _common import *
from keepalive import (KA, LOGIN_LINE, SEL, GREET, LOGIN_OK, SEL_RESP, sent, ka_ok, released,
                       expunge_anomaly, local_no, local_no_line, held)

KA_IDLE = dict(KA, keepalive_mode="idle")

idle_mode = case(
    "ka_idle_mode_exists_then_client_command", "both",
    "keepalive_mode idle: the timer puts the upstream in IDLE ('PXK1 IDLE'); its '+' is "
    "swallowed (keepalive idle_start), an EXISTS during it reaches the client at once.  When "
    "the client sends a command, imaptap ends its IDLE with DONE, swallows 'PXK1 OK' "
    "(keepalive idle_done) and only then relays the client's command.",
    prelude() + [
        dict(TIMER, events=[sent(1, "IDLE")]),
        S("+ idling\r\n", ev("keepalive", dir="s2c", tag="PXK1", state="idle_start")),
        S(un("* 11 EXISTS", **IN)),
        C("a3 FETCH 11 (FLAGS)\r\n"),
        S("PXK1 OK Idle completed (0.001 + 2.000 secs).\r\n",
          ev("keepalive", dir="s2c", tag="PXK1", state="idle_done", held=0),
          ev("command", dir="c2s", tag="a3", cmd="FETCH")),
        S(un("* 11 FETCH (FLAGS (\\Recent))", **IN), tg("a3 OK Fetch completed.", "FETCH"))],
    config=KA_IDLE,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 IDLE\r\nDONE\r\na3 FETCH 11 (FLAGS)\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + "* 11 EXISTS\r\n"
                               "* 11 FETCH (FLAGS (\\Recent))\r\na3 OK Fetch completed.\r\n"})

idle_mode_expunge = case(
    "ka_idle_mode_expunge_held", "both",
    "keepalive_mode idle: '* 3 EXPUNGE' arrives during imaptap's IDLE and is held with what "
    "follows.  The client's sequence FETCH ends the IDLE (DONE) and is then refused locally "
    "with NO [EXPUNGEISSUED]; its NOOP releases the held lines.",
    prelude() + [
        dict(TIMER, events=[sent(1, "IDLE")]),
        S("+ idling\r\n", ev("keepalive", dir="s2c", tag="PXK1", state="idle_start")),
        S("* 3 EXPUNGE\r\n", expunge_anomaly(1),
          ev("untagged", dir="s2c", name="EXPUNGE", n=3, held=True, mailbox="INBOX", at="* 3 EXPUNGE"),
          held("* 10 EXISTS", **IN)),
        C("a3 FETCH 3 (FLAGS)\r\n"),
        S("PXK1 OK Idle completed.\r\n",
          ev("keepalive", dir="s2c", tag="PXK1", state="idle_done", held=2),
          ev("command", dir="c2s", tag="a3", cmd="FETCH"), local_no("a3", "FETCH")),
        C("a4 NOOP\r\n", released(1, 2), ev("command", dir="c2s", tag="a4", cmd="NOOP")),
        S(tg("a4 OK NOOP completed.", "NOOP"))],
    config=KA_IDLE,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 IDLE\r\nDONE\r\na4 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + local_no_line("a3") +
                               "* 3 EXPUNGE\r\n* 10 EXISTS\r\na4 OK NOOP completed.\r\n"})

idle_mode_renew = case(
    "ka_idle_mode_renewed", "relay",
    "keepalive_mode idle: when the timer fires again while imaptap's IDLE runs, it is renewed "
    "(DONE, then a fresh 'PXK2 IDLE' once 'PXK1 OK' came), so no IDLE outlives the interval "
    "(RFC 2177: re-issue within 29 minutes).  The client sees nothing.",
    prelude() + [
        dict(TIMER, events=[sent(1, "IDLE")]),
        S("+ idling\r\n", ev("keepalive", dir="s2c", tag="PXK1", state="idle_start")),
        TIMER,
        S("PXK1 OK Idle completed.\r\n", ev("keepalive", dir="s2c", tag="PXK1", state="idle_done"),
          sent(2, "IDLE")),
        S("+ idling\r\n", ev("keepalive", dir="s2c", tag="PXK2", state="idle_start")),
        C("a3 NOOP\r\n"),
        S("PXK2 OK Idle completed.\r\n", ev("keepalive", dir="s2c", tag="PXK2", state="idle_done"),
          ev("command", dir="c2s", tag="a3", cmd="NOOP")),
        S(tg("a3 OK NOOP completed.", "NOOP"))],
    config=KA_IDLE,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 IDLE\r\nDONE\r\nPXK2 IDLE\r\nDONE\r\n"
                               "a3 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + "a3 OK NOOP completed.\r\n"})

idle_mode_client_before_plus = case(
    "ka_idle_mode_client_speaks_before_plus", "relay",
    "keepalive_mode idle: the client sends a command after 'PXK1 IDLE' went out but before the "
    "server's '+': DONE cannot be sent before the '+', so imaptap sends it right after the '+' "
    "(both swallowed), then relays the client's command after 'PXK1 OK'.",
    prelude() + [
        dict(TIMER, events=[sent(1, "IDLE")]),
        C("a3 NOOP\r\n"),
        S("+ idling\r\n", ev("keepalive", dir="s2c", tag="PXK1", state="idle_start")),
        S("PXK1 OK Idle completed.\r\n", ev("keepalive", dir="s2c", tag="PXK1", state="idle_done"),
          ev("command", dir="c2s", tag="a3", cmd="NOOP")),
        S(tg("a3 OK NOOP completed.", "NOOP"))],
    config=KA_IDLE,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 IDLE\r\nDONE\r\na3 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + "a3 OK NOOP completed.\r\n"})

idle_mode_client_during_renewal = case(
    "ka_idle_mode_client_speaks_during_renewal", "relay",
    "keepalive_mode idle: the timer fires again while imaptap's IDLE runs, so imaptap sends DONE "
    "to renew it; before 'PXK1 OK' the client sends a command.  The renewal is then off: after "
    "'PXK1 OK' the client's command is relayed at once, with no fresh 'PXK2 IDLE' in front of it "
    "(which would delay the client by another IDLE round trip).",
    prelude() + [
        dict(TIMER, events=[sent(1, "IDLE")]),
        S("+ idling\r\n", ev("keepalive", dir="s2c", tag="PXK1", state="idle_start")),
        TIMER,
        C("a3 NOOP\r\n"),
        S("PXK1 OK Idle completed.\r\n", ev("keepalive", dir="s2c", tag="PXK1", state="idle_done"),
          ev("command", dir="c2s", tag="a3", cmd="NOOP")),
        S(tg("a3 OK NOOP completed.", "NOOP"))],
    config=KA_IDLE,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 IDLE\r\nDONE\r\na3 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + "a3 OK NOOP completed.\r\n"})

NOIDLE_CAPS = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE UIDPLUS"
idle_mode_no_idle_cap = case(
    "ka_idle_mode_server_without_idle_uses_noop", "relay",
    "keepalive_mode idle against a server whose capabilities (greeting and LOGIN's CAPABILITY "
    "code) lack IDLE: imaptap falls back to NOOP.",
    [greeting("* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] ready."),
     C(cm("a1 LOGIN alice s3cr3t", "LOGIN", args="alice ***")),
     S(tg("a1 OK [CAPABILITY %s] Logged in" % NOIDLE_CAPS, "LOGIN", state="authenticated"),
       auth("LOGIN", "OK", user="alice")),
     dict(TIMER, events=[sent(1, "NOOP")]),
     S("PXK1 OK NOOP completed.\r\n", ka_ok(1))],
    config=KA_IDLE,
    relay_expect={"to_server": LOGIN_LINE + "PXK1 NOOP\r\n",
                  "to_client": "* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] ready.\r\n"
                               "a1 OK [CAPABILITY %s] Logged in\r\n" % NOIDLE_CAPS})

CASES = [idle_mode, idle_mode_expunge, idle_mode_renew, idle_mode_client_before_plus,
         idle_mode_client_during_renewal, idle_mode_no_idle_cap]
