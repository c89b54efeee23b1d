"""Limits at their boundaries, keepalive (proxy) cases and LOGOUT with a server close."""
from _common import *

KA = {"keepalive_s": 300, "keepalive_tag_prefix": "PXK", "keepalive_selected": "search"}
NOINJECT = {"to_server": None, "to_client": None}
C2S_LINE_MAX = 65536
PRE = 'a3 SEARCH TEXT "'


def long_search(total):
    """'a3 SEARCH TEXT "xxx...x"' CRLF, exactly total octets including the CRLF."""
    line = PRE + "x" * (total - len(PRE) - 3) + '"'
    assert len(line) + 2 == total
    return line


line_ok = case(
    "limit_c2s_line_exactly_max", "parse",
    "A client command line of exactly 65536 octets (the c2s line limit, counting every non-literal "
    "octet of the command including its CRLF): no limit event, the command is parsed normally.",
    prelude() + [
        C(cm(long_search(C2S_LINE_MAX), "SEARCH")),
        S(un("* SEARCH", search={"count": 0}),
          tg("a3 OK Search completed (0.012 + 0.000 + 0.011 secs).", "SEARCH"))]
    + [C(cm("a4 NOOP", "NOOP")), S(tg("a4 OK NOOP completed.", "NOOP"))])

line_over = case(
    "limit_c2s_line_over_max", "both",
    "A client command line of 65537 octets (one over the 65536 limit, CRLF included): limit "
    "what=line value=65537 max=65536 (emitted before the command event, same off), the command "
    "event still carries tag/cmd and truncated: true, the relay is unchanged, and the next "
    "command parses normally.",
    prelude() + [
        C(long_search(C2S_LINE_MAX + 1) + CRLF,
          ev("limit", dir="c2s", what="line", value=C2S_LINE_MAX + 1, max=C2S_LINE_MAX),
          ev("command", dir="c2s", tag="a3", cmd="SEARCH", truncated=True, at="a3 ")),
        S(tg("a3 BAD Error in IMAP command SEARCH: Too long argument.", "SEARCH")),
        C(cm("a4 NOOP", "NOOP")), S(tg("a4 OK NOOP completed.", "NOOP"))])


def nested_fetch(depth):
    """A FETCH line whose deepest parenthesis nesting is exactly depth (its attribute list counts)."""
    body = '("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)'
    for _ in range(depth - 2):
        body = '(%s "MIXED")' % body
    line = r"* 1 FETCH (UID 4820 FLAGS (\Seen) BODYSTRUCTURE %s)" % body
    d = m = 0
    for ch in line:
        d += {"(": 1, ")": -1}.get(ch, 0)
        m = max(m, d)
    assert m == depth and d == 0
    return line


FETCH_FIELDS = {"uid": 4820, "flags": ["\\Seen"]}
depth_ok = case(
    "limit_s2c_depth_64_ok", "parse",
    "A server FETCH whose parentheses nest exactly 64 deep (the FETCH attribute list is level 1, "
    "a BODYSTRUCTURE supplies the rest): at the limit, so no limit event and no truncation.",
    prelude() + [
        C(cm("a3 UID FETCH 4820 (UID FLAGS BODYSTRUCTURE)", "UID FETCH")),
        S(un(nested_fetch(64), **IN, fetch=FETCH_FIELDS),
          tg("a3 OK Fetch completed.", "UID FETCH"))])

depth_over = case(
    "limit_s2c_depth_65_exceeded", "both",
    "The same FETCH nested 65 deep: limit what=depth max=64, the FETCH event is marked "
    "truncated but keeps UID and FLAGS (parsed before the overrun); framing and relay go on and "
    "the tagged OK parses normally.",
    prelude() + [
        C(cm("a3 UID FETCH 4820 (UID FLAGS BODYSTRUCTURE)", "UID FETCH")),
        S(nested_fetch(65) + CRLF, ev("limit", dir="s2c", what="depth", max=64),
          ev("untagged", dir="s2c", name="FETCH", n=1, mailbox="INBOX", truncated=True,
             fetch=FETCH_FIELDS, at="* 1 FETCH"),
          tg("a3 OK Fetch completed.", "UID FETCH"))])

GREET = GREETING + CRLF
LOGIN_LINE = "a1 LOGIN alice s3cr3t\r\n"
LOGIN_OK = "a1 OK [CAPABILITY %s] Logged in\r\n" % POSTCAPS


def sent(n, cmd="NOOP"):
    return ev("keepalive", tag="PXK%d" % n, state="sent", cmd=cmd)


def ka_ok(n):
    return ev("keepalive", dir="s2c", tag="PXK%d" % n, state="ok", held=0)


ka_preauth = case(
    "ka_not_injected_before_auth", "relay",
    "keepalive_s elapses right after the greeting, before any LOGIN: nothing is injected in the "
    "not_authenticated state (pre-auth timeouts are short on purpose, protocol.md 4.1). The "
    "relay is byte-identical both ways.",
    [greeting(), TIMER] + login() + [C(cm("a2 NOOP", "NOOP")), S(tg("a2 OK NOOP completed.", "NOOP"))],
    config=KA, relay_expect=NOINJECT)

ka_inflight = case(
    "ka_not_injected_with_command_in_flight", "relay",
    "The keepalive timer fires while a UID FETCH is in flight and its BODY[] literal is only "
    "half received: the in-flight tag set is not empty, so nothing is injected (protocol.md 4.1).",
    prelude() + [
        C(cm("a3 UID FETCH 4820 (BODY.PEEK[])", "UID FETCH")),
        S("* 1 FETCH (UID 4820 BODY[] {20}\r\n0123456789"),
        TIMER,
        S("abcdefghij)\r\n", ev("untagged", dir="s2c", name="FETCH", n=1, mailbox="INBOX",
                                literals=[20], at="* 1 FETCH",
                                fetch={"uid": 4820, "parts": [{"section": "BODY[]", "size": 20}]}),
          tg("a3 OK Fetch completed.", "UID FETCH"))],
    config=KA, relay_expect=NOINJECT)

KA_NOOP = dict(KA, keepalive_selected="noop")
SEL = "a2 SELECT INBOX\r\n"
SEL_RESP = ("* 10 EXISTS\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
            "a2 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n")
ka_sel_noop = case(
    "ka_noop_selected_state_forwards_exists", "relay",
    "Selected state with keepalive_selected=noop: the proxy sends 'PXK1 NOOP'. The EXISTS and "
    "RECENT it brings are forwarded at once (allowed while no command is in progress, RFC 3501 "
    "5.3; only EXPUNGE/VANISHED would be held), the tagged 'PXK1 OK' is swallowed, and the "
    "client's next command passes through unchanged.",
    prelude() + [
        dict(TIMER, events=[sent(1)]),
        S(un("* 11 EXISTS", **IN), un("* 1 RECENT"), "PXK1 OK NOOP completed (0.001 + 0.000 secs).\r\n",
          ka_ok(1)),
        C(cm("a3 NOOP", "NOOP")),
        S(tg("a3 OK NOOP completed.", "NOOP"))],
    config=KA_NOOP,
    relay_expect={"to_server": LOGIN_LINE + SEL + "PXK1 NOOP\r\na3 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + SEL_RESP + "* 11 EXISTS\r\n* 1 RECENT\r\n"
                               "a3 OK NOOP completed.\r\n"})

ka_twice = case(
    "ka_second_keepalive_next_tag", "relay",
    "Authenticated and silent for two keepalive periods: the proxy sends 'PXK1 NOOP', swallows "
    "'PXK1 OK', then uses the next counter value 'PXK2' for the second one. The client sees "
    "neither; its own later NOOP is relayed as usual.",
    [greeting()] + login() + [
        dict(TIMER, events=[sent(1)]),
        S("PXK1 OK NOOP completed (0.001 + 0.000 secs).\r\n", ka_ok(1)),
        dict(TIMER, events=[sent(2)]),
        S("PXK2 OK NOOP completed (0.001 + 0.000 secs).\r\n", ka_ok(2)),
        C(cm("a2 NOOP", "NOOP")),
        S(tg("a2 OK NOOP completed.", "NOOP"))],
    config=KA,
    relay_expect={"to_server": LOGIN_LINE + "PXK1 NOOP\r\nPXK2 NOOP\r\na2 NOOP\r\n",
                  "to_client": GREET + LOGIN_OK + "a2 OK NOOP completed.\r\n"})

logout = case(
    "logout_bye_then_server_close", "both",
    "LOGOUT: the server sends '* BYE' then the tagged OK (state logout) and closes. The session "
    "closes with reason 'logout' (a client LOGOUT), not 'bye' (an unsolicited BYE).",
    prelude() + [
        C(cm("a3 LOGOUT", "LOGOUT")),
        S(un("* BYE Logging out"), tg("a3 OK Logout completed (0.001 + 0.000 secs).", "LOGOUT",
                                      state="logout")),
        dict(EOF, events=[ev("session_close", reason="logout")])])

CASES = [line_ok, line_over, depth_ok, depth_over, ka_preauth, ka_inflight, ka_sel_noop, ka_twice,
         logout]
