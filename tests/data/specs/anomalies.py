"""Protocol anomalies and oddities the session must survive (and log) without losing sync."""
from _common import *

RFL = "Ready for literal data"


def noop(tag):
    return [C(cm("%s NOOP" % tag, "NOOP")), S(tg("%s OK NOOP completed." % tag, "NOOP"))]


unknown_tag = case(
    "anomaly_unknown_tag", "parse",
    "Tagged completions that match no command in flight: 'zz9 OK' out of nowhere, and a second "
    "completion for a2 after a2 already completed. Each gives anomaly kind=unknown_tag (emitted "
    "first) and still a tagged event (without cmd); the relay is unchanged.",
    prelude(selected=False) + [
        S("zz9 OK Completed\r\n", anomaly("s2c", "unknown_tag", tag="zz9"),
          ev("tagged", dir="s2c", tag="zz9", status="OK", text="Completed", at="zz9")),
        C(cm("a2 NOOP", "NOOP")),
        S(tg("a2 OK NOOP completed.", "NOOP")),
        S("a2 OK NOOP completed.\r\n", anomaly("s2c", "unknown_tag", tag="a2"),
          ev("tagged", dir="s2c", tag="a2", status="OK", at="a2"))] + noop("a3"))

dup_tag = case(
    "anomaly_duplicate_tag_in_flight", "parse",
    "Two commands with the same tag in flight ('a3 NOOP' and 'a3 CHECK' in one write): anomaly "
    "kind=duplicate_tag before the second command event; completions pair FIFO, so the first "
    "'a3 OK' is NOOP's and the second CHECK's.",
    prelude() + [
        C("a3 NOOP\r\na3 CHECK\r\n", ev("command", dir="c2s", tag="a3", cmd="NOOP"),
          anomaly("c2s", "duplicate_tag", tag="a3", at="a3 CHECK"),
          ev("command", dir="c2s", tag="a3", cmd="CHECK", at="a3 CHECK")),
        S(tg("a3 OK NOOP completed.", "NOOP"), tg("a3 OK Check completed.", "CHECK"))])

unexpected_plus = case(
    "anomaly_unexpected_continuation", "parse",
    "A '+' continuation with nothing waiting for one (no sync literal, no AUTHENTICATE, no IDLE): "
    "once with no command in flight and once during a NOOP. Each is logged as anomaly "
    "kind=unexpected_continuation (no continue event) and relayed; parsing goes on.",
    prelude(selected=False) + [
        S("+ unexpected\r\n", anomaly("s2c", "unexpected_continuation")),
        C(cm("a2 NOOP", "NOOP")),
        S("+ again\r\n", anomaly("s2c", "unexpected_continuation")),
        S(tg("a2 OK NOOP completed.", "NOOP"))])

bare_lf = case(
    "anomaly_bare_lf_line_ending", "both",
    "Lines ending in a bare LF in both directions: the line ends at the LF (anomaly kind=bare_lf, "
    "emitted before the unit's own event, same off) and the next line parses normally.",
    prelude() + [
        C("a3 NOOP\n", anomaly("c2s", "bare_lf"), ev("command", dir="c2s", tag="a3", cmd="NOOP",
                                                    at="a3")),
        S("* 11 EXISTS\n", anomaly("s2c", "bare_lf"),
          ev("untagged", dir="s2c", name="EXISTS", n=11, mailbox="INBOX", at="* 11")),
        S(tg("a3 OK NOOP completed.", "NOOP"))] + noop("a4"))

nul = case(
    "anomaly_nul_octet_in_line", "both",
    "A NUL octet outside literal8 in a client command (inside the mailbox atom) and inside a "
    "server quoted string: parse_error reason=nul_octet, resync at the CRLF, bytes relayed "
    "unchanged; the tag/cmd of the client line stay readable for the server's BAD.",
    prelude(selected=False) + [
        C("a2 SELECT IN\x00BOX\r\n",
          perr("c2s", reason="nul_octet", resync="next_line", tag="a2", cmd="SELECT")),
        S(tg("a2 BAD Error in IMAP command SELECT: Invalid characters in atom", "SELECT",
             state="authenticated")),
        C(cm('a3 LIST "" "*"', "LIST")),
        S('* LIST () "/" "bad\x00name"\r\n', perr("s2c", reason="nul_octet", resync="next_line"),
          un(r'* LIST (\HasNoChildren) "/" INBOX',
             list={"attrs": ["\\HasNoChildren"], "delim": "/", "name": "INBOX"}),
          tg("a3 OK List completed.", "LIST"))])

early_lit = case(
    "anomaly_literal_before_continuation", "parse",
    "A non-compliant client sends the octets of a synchronizing literal without waiting for '+'. "
    "They are literal data (as the server treats them once it accepts): anomaly "
    "kind=literal_before_continuation when they arrive, then the complete APPEND. The server's "
    "later '+' still belongs to that literal (continue for=literal), and the tagged OK follows.",
    prelude() + [
        C("a3 APPEND INBOX {11}\r\nHello world\r\n",
          anomaly("c2s", "literal_before_continuation", tag="a3"),
          ev("command", dir="c2s", tag="a3", cmd="APPEND", mailbox="INBOX", literals=[11],
             at="a3")),
        S("+ %s\r\n" % RFL, cont("a3", text=RFL)),
        S(tg("a3 OK [APPENDUID 1700000000 4834] Append completed.", "APPEND"))])

pipelined = case(
    "pipelined_three_commands_out_of_order", "parse",
    "UID FETCH, LIST and STATUS pipelined in one write; the server completes them in the order "
    "a5, a3, a4 with untagged data interleaved. Completions are matched by tag value.",
    prelude() + [
        C('a3 UID FETCH 4820 (FLAGS)\r\na4 LIST "" "*"\r\na5 STATUS Drafts (UNSEEN)\r\n',
          ev("command", dir="c2s", tag="a3", cmd="UID FETCH"),
          ev("command", dir="c2s", tag="a4", cmd="LIST"),
          ev("command", dir="c2s", tag="a5", cmd="STATUS", mailbox="Drafts")),
        S(un("* STATUS Drafts (UNSEEN 2)", mbox_status={"mailbox": "Drafts", "items": {"UNSEEN": 2}}),
          tg("a5 OK Status completed.", "STATUS"),
          un(r"* 1 FETCH (UID 4820 FLAGS (\Seen))", **IN, fetch={"uid": 4820, "flags": ["\\Seen"]}),
          un(r'* LIST (\HasNoChildren) "/" INBOX',
             list={"attrs": ["\\HasNoChildren"], "delim": "/", "name": "INBOX"}),
          tg("a3 OK Fetch completed.", "UID FETCH"),
          tg("a4 OK List completed.", "LIST"))])

idle_no = case(
    "idle_refused_with_no_then_idle", "parse",
    "IDLE refused with a tagged NO [LIMIT] instead of '+': IDLE never started, so 'a4 NOOP' is "
    "a command. A later IDLE is accepted and ended with DONE normally.",
    prelude() + [
        C(cm("a3 IDLE", "IDLE")),
        S(tg("a3 NO [LIMIT] Too many IDLE connections", "IDLE"))] + noop("a4") + [
        C(cm("a5 IDLE", "IDLE")),
        S("+ idling\r\n", idle("a5", "start")),
        C("DONE\r\n", idle("a5", "done")),
        S(tg("a5 OK Idle completed (0.001 + 5.002 + 5.001 secs).", "IDLE"))])

case_insens = case(
    "case_insensitive_keywords_and_inbox", "parse",
    "Keywords in any case: 'status inbox (messages)', 'select iNbOx' and 'Examine \"InBox\"' all "
    "name INBOX (INBOX is case-insensitive, other names are not), 'Uid Fetch' is cmd 'UID FETCH', "
    "'idle' starts IDLE and a lower-case 'done' ends it.",
    [greeting()] + login() + [
        C(cm("a2 status inbox (messages)", "STATUS", mailbox="INBOX")),
        S(un("* STATUS INBOX (MESSAGES 10)", mbox_status={"mailbox": "INBOX",
                                                          "items": {"MESSAGES": 10}}),
          tg("a2 OK Status completed.", "STATUS")),
        C(cm("a3 select iNbOx", "SELECT", mailbox="INBOX")),
        S(un("* 10 EXISTS", **IN), un("* OK [UIDVALIDITY 1700000000] UIDs valid"),
          tg("a3 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).", "SELECT",
             state="selected")),
        C(cm("a4 Uid Fetch 4820 (Flags)", "UID FETCH")),
        S(un(r"* 1 FETCH (UID 4820 FLAGS (\Seen))", **IN, fetch={"uid": 4820, "flags": ["\\Seen"]}),
          tg("a4 OK Fetch completed.", "UID FETCH")),
        C(cm("a5 idle", "IDLE")),
        S("+ idling\r\n", idle("a5", "start")),
        C("done\r\n", idle("a5", "done")),
        S(tg("a5 OK Idle completed (0.001 + 2.001 + 2.000 secs).", "IDLE")),
        C(cm('a6 Examine "InBox"', "EXAMINE", mailbox="INBOX")),
        S(un("* 10 EXISTS", **IN),
          tg("a6 OK [READ-ONLY] Examine completed (0.001 + 0.000 secs).", "EXAMINE",
             state="selected"))])

lossy = case(
    "utf8_invalid_octets_lossy", "parse",
    "8-bit octets in quoted strings: 'Caf\\xE9' (Latin-1, invalid UTF-8) in a CREATE, a LIST "
    "name and an ALERT text becomes 'Caf\\uFFFD' and the event gets lossy: true; the same name in "
    "valid UTF-8 passes through unchanged. The bytes are relayed as they are.",
    prelude(selected=False) + [
        C(cm('a2 CREATE "Caf\xe9"', "CREATE", mailbox="Caf\ufffd", lossy=True)),
        S(tg("a2 OK Create completed.", "CREATE")),
        C(cm('a3 LIST "" "Caf*"', "LIST")),
        S(un(r'* LIST (\HasNoChildren) "/" "Caf' + "\xe9" + '"', lossy=True,
             list={"attrs": ["\\HasNoChildren"], "delim": "/", "name": "Caf\ufffd"}),
          un(r'* LIST (\HasNoChildren) "/" "' + u8("Café") + '"',
             list={"attrs": ["\\HasNoChildren"], "delim": "/", "name": "Café"}),
          tg("a3 OK List completed.", "LIST")),
        S(un("* OK [ALERT] Caf\xe9 ferm\xe9", text="Caf\ufffd ferm\ufffd", lossy=True))])

tag_chars = case(
    "tag_with_dot_dash_bracket", "parse",
    "Tags are any ASTRING-CHAR except '+': 'A.1-x]' (with '.', '-' and ']'), "
    "'tag.with.dots-2' and the all-digit '0001' are echoed verbatim and matched exactly.",
    prelude(selected=False) + [
        C(cm("A.1-x] NOOP", "NOOP")),
        S(tg("A.1-x] OK NOOP completed.", "NOOP")),
        C(cm("tag.with.dots-2 CAPABILITY", "CAPABILITY")),
        S(un("* CAPABILITY IMAP4rev1 IDLE", caps=["IMAP4rev1", "IDLE"]),
          tg("tag.with.dots-2 OK Capability completed.", "CAPABILITY")),
        C(cm('0001 LIST "" INBOX', "LIST")),
        S(un(r'* LIST (\HasNoChildren) "/" INBOX',
             list={"attrs": ["\\HasNoChildren"], "delim": "/", "name": "INBOX"}),
          tg("0001 OK List completed.", "LIST"))])

CASES = [unknown_tag, dup_tag, unexpected_plus, bare_lf, nul, early_lit, pipelined, idle_no,
         case_insens, lossy, tag_chars]
