"""Literal framing edge cases and text-mode lines with a trailing {n}."""
from _common import *

RFL = "Ready for literal data"
AUTHED = dict(state="authenticated")


def fetch_ok(tag, cmd="UID FETCH"):
    return tg("%s OK Fetch completed (0.001 + 0.000 secs)." % tag, cmd)


brace_space = case(
    "literal_brace_space_not_literal", "both",
    "'{5} ' and '{4+} ' followed by SP before the CRLF are not literal markers (a marker must be "
    "the last token). Each line is a complete malformed command (parse_error, resync at the CRLF) "
    "and the pipelined 'a5 NOOP' in the same write is a command, not literal data.",
    prelude(selected=False) + [
        C("a3 EXAMINE {5} \r\na4 CREATE {4+} \r\n",
          perr("c2s", resync="next_line", tag="a3", cmd="EXAMINE"),
          perr("c2s", resync="next_line", tag="a4", cmd="CREATE"),
          cm("a5 NOOP", "NOOP")),
        S(tg("a3 BAD Error in IMAP command EXAMINE: Invalid arguments.", "EXAMINE", **AUTHED),
          tg("a4 BAD Error in IMAP command CREATE: Invalid arguments.", "CREATE"),
          tg("a5 OK NOOP completed (0.001 + 0.000 secs).", "NOOP"))])

brace_quoted = case(
    "literal_brace_inside_quoted_string", "parse",
    "'{n}' inside quoted strings is text, also right before the closing quote and after an "
    "escaped quote: SEARCH criteria, a CREATE/RENAME mailbox name 'Projects {12}' and the same "
    "name in a server LIST response.",
    prelude() + [
        C(cm('a3 UID SEARCH SUBJECT "{5}" FROM "x {3}"', "UID SEARCH")),
        S(un("* SEARCH", search={"count": 0}),
          tg("a3 OK Search completed (0.001 + 0.000 secs).", "UID SEARCH")),
        C(cm('a4 CREATE "Projects {12}"', "CREATE", mailbox="Projects {12}")),
        S(tg("a4 OK Create completed.", "CREATE")),
        C(cm('a5 LIST "" "Projects*"', "LIST")),
        S(un(r'* LIST (\HasNoChildren) "/" "Projects {12}"',
             list={"attrs": ["\\HasNoChildren"], "delim": "/", "name": "Projects {12}"}),
          tg("a5 OK List completed (0.001 + 0.000 secs).", "LIST")),
        C(cm(r'a6 RENAME "Projects {12}" "Old \"{4}\""', "RENAME", mailbox="Projects {12}")),
        S(tg("a6 OK Rename completed.", "RENAME"))])

rename_bs = case(
    "literal_rename_escaped_backslash", "parse",
    '\'RENAME "Old\\\\" {7}\': the quoted string ends at the second \'"\' (\\\\ is one escaped backslash), so the trailing {7} is a real synchronizing literal. A tracker that handles \\" but not \\\\ misses the literal and desynchronizes. The mailbox (RENAME source) is \'Old\\\'.',
    prelude(selected=False) + [
        C(cm('a2 LIST "" "Old*"', "LIST")),
        S(un(r'* LIST (\HasNoChildren) "/" "Old\\"',
             list={"attrs": ["\\HasNoChildren"], "delim": "/", "name": "Old\\"}),
          tg("a2 OK List completed (0.001 + 0.000 secs).", "LIST")),
        C(r'a3 RENAME "Old\\" {7}' + CRLF),
        S("+ %s\r\n" % RFL, cont("a3", text=RFL)),
        C("Archive\r\n", ev("command", dir="c2s", tag="a3", cmd="RENAME", mailbox="Old\\",
                            literals=[7], at="a3 ")),
        S(tg("a3 OK Rename completed.", "RENAME"))])

ENV_DATE, ENV_SUBJ, ENV_MID = "Wed, 25 Nov 2026 08:00:00 +0000", "Nested (lit) {9}", "<nested-lit@b.example>"
nested = case(
    "literal_nested_in_id_list_envelope", "parse",
    "Literals nested inside parenthesized data: the client's ID field list carries a sync literal "
    "(continuation in the middle of the list), the server's '* ID' has two literals, a LIST "
    "mailbox name is a literal, and an ENVELOPE has its date, subject and message-id as literals.",
    prelude() + [
        C('a3 ID ("name" {11}\r\n'),
        S("+ %s\r\n" % RFL, cont("a3", text=RFL)),
        C('Thunderbird "version" "128.5.0")\r\n',
          ev("command", dir="c2s", tag="a3", cmd="ID", literals=[11], at="a3 ")),
        S(un('* ID ("name" %s "version" %s)' % (lit("Dovecot"), lit("2.3.21")), literals=[7, 6]),
          tg("a3 OK ID completed.", "ID")),
        C(cm('a4 LIST "" "Rep*"', "LIST")),
        S(un(r'* LIST (\HasNoChildren) "/" ' + lit("Reports 2026"), literals=[12],
             list={"attrs": ["\\HasNoChildren"], "delim": "/", "name": "Reports 2026"}),
          tg("a4 OK List completed (0.001 + 0.000 secs).", "LIST")),
        C(cm("a5 FETCH 1 (UID ENVELOPE)", "FETCH", args="1 (UID ENVELOPE)")),
        S(un('* 1 FETCH (UID 4820 ENVELOPE (%s %s ((NIL NIL "a" "b.example")) NIL NIL NIL NIL NIL '
             'NIL %s))' % (lit(ENV_DATE), lit(ENV_SUBJ), lit(ENV_MID)), **IN,
             literals=[len(ENV_DATE), len(ENV_SUBJ), len(ENV_MID)],
             fetch={"uid": 4820, "envelope": {"date": ENV_DATE, "subject": ENV_SUBJ,
                                              "message_id": ENV_MID}}),
          fetch_ok("a5", "FETCH"))])

HDR = ("From: Bob <bob@example.org>\r\nSubject: two literals\r\nX-Note: braces {3}\r\n"
       "Date: Wed, 25 Nov 2026 08:00:00 +0000\r\n\r\n")
TXT = "Body line one.\r\n) * 3 EXPUNGE\r\nlast {4}\r\n"
multi = case(
    "literal_multiple_in_one_fetch", "parse",
    "One FETCH response with two literals, 'BODY[HEADER] {n}' ... 'BODY[TEXT] {m}', followed by "
    "FLAGS after the second literal. The literal contents end in lines that look like a marker "
    "('{3}', '{4}') and hold ') * 3 EXPUNGE'; parts lists both sections in order.",
    prelude() + [
        C(cm("a3 UID FETCH 4830 (BODY.PEEK[HEADER] BODY.PEEK[TEXT] FLAGS)", "UID FETCH")),
        S(un(r"* 10 FETCH (UID 4830 BODY[HEADER] %s BODY[TEXT] %s FLAGS (\Seen))"
             % (lit(HDR), lit(TXT)), **IN, literals=[len(HDR), len(TXT)],
             fetch={"uid": 4830, "flags": ["\\Seen"],
                    "parts": [{"section": "BODY[HEADER]", "size": len(HDR)},
                              {"section": "BODY[TEXT]", "size": len(TXT)}]}),
          fetch_ok("a3"))])

zero = case(
    "literal_zero_length_everywhere", "parse",
    "{0} in several places: two synchronizing {0} in one SEARCH (each waits for '+'; the rest of "
    "the command follows the empty data), two {0} sections in one FETCH response, and "
    "'LIST {0} {0}' (LIST \"\" \"\") answered with a {0} mailbox name.",
    prelude() + [
        C("a3 UID SEARCH SUBJECT {0}\r\n"),
        S("+ OK\r\n", cont("a3")),
        C(" FROM {0}\r\n"),
        S("+ OK\r\n", cont("a3")),
        C("\r\n", ev("command", dir="c2s", tag="a3", cmd="UID SEARCH", literals=[0, 0], at="a3 ")),
        S(un("* SEARCH", search={"count": 0}),
          tg("a3 OK Search completed (0.001 + 0.000 secs).", "UID SEARCH")),
        C(cm("a4 UID FETCH 4821 (BODY.PEEK[HEADER] BODY.PEEK[TEXT])", "UID FETCH")),
        S(un("* 2 FETCH (UID 4821 BODY[HEADER] {0}\r\n BODY[TEXT] {0}\r\n)", **IN, literals=[0, 0],
             fetch={"uid": 4821, "parts": [{"section": "BODY[HEADER]", "size": 0},
                                           {"section": "BODY[TEXT]", "size": 0}]}),
          fetch_ok("a4")),
        C("a5 LIST {0}\r\n"),
        S("+ OK\r\n", cont("a5")),
        C(" {0}\r\n"),
        S("+ OK\r\n", cont("a5")),
        C("\r\n", ev("command", dir="c2s", tag="a5", cmd="LIST", literals=[0, 0], at="a5 ")),
        S(un(r'* LIST (\Noselect) "/" {0}' + CRLF, literals=[0],
             list={"attrs": ["\\Noselect"], "delim": "/", "name": ""}),
          tg("a5 OK List completed.", "LIST"))])

BIN16 = "\x00\x01\x02\xff\r\n\x00GIF89a\x00\x00\xfe"
BIN12 = "MIME\x00\x00\r\n\x00\xff\r\r"
assert len(BIN16) == 16 and len(BIN12) == 12
lit8 = case(
    "literal8_fetch_binary_and_sync_append", "parse",
    "BINARY: a FETCH BINARY[1] answered with literal8 '~{16}' holding NUL, CR LF, 0xFF; then an "
    "APPEND with a synchronizing literal8 '~{12}' (waits for '+') whose data holds NULs and ends "
    "in CR CR. literal8 is flagged on both events; no nonsync.",
    prelude() + [
        C(cm("a3 UID FETCH 4824 (BINARY.PEEK[1] BINARY.SIZE[1])", "UID FETCH")),
        S(un("* 4 FETCH (UID 4824 BINARY.SIZE[1] 16 BINARY[1] ~{16}\r\n%s)" % BIN16, **IN,
             literals=[16], literal8=True,
             fetch={"uid": 4824, "parts": [{"section": "BINARY[1]", "size": 16}]}),
          fetch_ok("a3")),
        C(r"a4 APPEND Drafts (\Draft) ~{12}" + CRLF),
        S("+ %s\r\n" % RFL, cont("a4", text=RFL)),
        C(BIN12 + CRLF, ev("command", dir="c2s", tag="a4", cmd="APPEND", mailbox="Drafts",
                           literals=[12], literal8=True, at="a4 ")),
        S(tg("a4 OK [APPENDUID 1700000001 77] Append completed.", "APPEND"))])

ends_cr = case(
    "literal_content_ends_in_cr", "both",
    "Literal data ending in CR: the client's 'abcd\\r' is followed by the CRLF that ends the "
    "command (stream 'abcd\\r\\r\\n', written in two reads split after the CR); the server's "
    "BODY[1] 'Hello\\r' and a one-octet BODY[2] holding only CR are split across reads at the CR. "
    "A framer that carries 'last byte was CR' from literal data into line state ends a line early.",
    prelude() + [
        C("a3 APPEND Drafts {5}\r\n"),
        S("+ %s\r\n" % RFL, cont("a3", text=RFL)),
        C("abcd\r"),
        C("\r\n", ev("command", dir="c2s", tag="a3", cmd="APPEND", mailbox="Drafts", literals=[5],
                     at="a3 ")),
        S(tg("a3 OK [APPENDUID 1700000000 4833] Append completed.", "APPEND")),
        C(cm("a4 UID FETCH 4825 (BODY.PEEK[1] BODY.PEEK[2])", "UID FETCH")),
        S("* 5 FETCH (UID 4825 BODY[1] {6}\r\nHello\r"),
        S(" BODY[2] {1}\r\n\r"),
        S(")\r\n", ev("untagged", dir="s2c", name="FETCH", n=5, mailbox="INBOX", literals=[6, 1],
                      fetch={"uid": 4825, "parts": [{"section": "BODY[1]", "size": 6},
                                                    {"section": "BODY[2]", "size": 1}]},
                      at="* 5 FETCH"),
          fetch_ok("a4"))])

TEXT300 = ("The quick brown fox jumps over the lazy dog. " * 7)[:300]
assert len(TEXT300) == 300
lit300 = case(
    "literal_300_bytes_rendered_as_size", "parse",
    "A 300-octet printable literal in SEARCH criteria is longer than the 256-octet inline limit, "
    "so args renders it as '{300}' (atoms as-is).",
    prelude() + [
        C("a3 UID SEARCH CHARSET UTF-8 TEXT {300}\r\n"),
        S("+ %s\r\n" % RFL, cont("a3", text=RFL)),
        C(TEXT300 + CRLF, ev("command", dir="c2s", tag="a3", cmd="UID SEARCH",
                             args="CHARSET UTF-8 TEXT {300}", literals=[300], at="a3 ")),
        S(un("* SEARCH 4821 4827", search={"count": 2}),
          tg("a3 OK Search completed (0.002 + 0.000 secs).", "UID SEARCH"))])

list_crlf = case(
    "literal_list_name_with_crlf", "parse",
    "'* LIST () \"/\" {10}' with 'With\\r\\nCRLF' as the mailbox name: names can hold CR/LF only "
    "as literals; the CRLF inside is data, and the next LIST line parses normally.",
    prelude(selected=False) + [
        C(cm('a2 LIST "" "*"', "LIST")),
        S(un('* LIST () "/" ' + lit("With\r\nCRLF"), literals=[10],
             list={"attrs": [], "delim": "/", "name": "With\r\nCRLF"}),
          un(r'* LIST (\HasNoChildren) "/" INBOX',
             list={"attrs": ["\\HasNoChildren"], "delim": "/", "name": "INBOX"}),
          tg("a2 OK List completed (0.001 + 0.000 secs).", "LIST"))])

text_brace = case(
    "text_mode_trailing_brace", "both",
    "Text-mode server lines ending in '{n}': 'a3 NO [OVERQUOTA] Quota exceeded {12}', "
    "'* OK [ALERT] Maintenance window tonight {5}' and a tagged OK text ending in '{0}' are "
    "complete lines (resp-text cannot carry literals). A framer that takes them as literals "
    "swallows the following '* 11 EXISTS' and desynchronizes.",
    prelude() + [
        C(cm("a3 APPEND INBOX {12+}\r\nHello world!", "APPEND", mailbox="INBOX", literals=[12],
             nonsync=True)),
        S(tg("a3 NO [OVERQUOTA] Quota exceeded {12}", "APPEND")),
        S(un("* OK [ALERT] Maintenance window tonight {5}"), un("* 11 EXISTS", **IN)),
        C(cm("a4 NOOP", "NOOP")),
        S(un("* NO [ALERT] Mailbox almost full {3}"), tg("a4 OK NOOP completed {0}", "NOOP"))])

plus_forms = case(
    "text_mode_continuation_forms", "parse",
    "The three continuation forms servers send for a literal: bare '+', '+ ' (empty text) and "
    "'+ go ahead {4}' (free text that ends like a literal marker but is text). Each unblocks the "
    "pending synchronizing literal; only the last has a text to assert.",
    prelude() + [
        C("a3 APPEND INBOX {4}\r\n"),
        S("+\r\n", cont("a3")),
        C("abcd\r\n", ev("command", dir="c2s", tag="a3", cmd="APPEND", mailbox="INBOX",
                         literals=[4], at="a3 ")),
        S(tg("a3 OK [APPENDUID 1700000000 11] Append completed.", "APPEND")),
        C("a4 APPEND INBOX {4}\r\n"),
        S("+ \r\n", cont("a4")),
        C("efgh\r\n", ev("command", dir="c2s", tag="a4", cmd="APPEND", mailbox="INBOX",
                         literals=[4], at="a4 ")),
        S(tg("a4 OK [APPENDUID 1700000000 12] Append completed.", "APPEND")),
        C("a5 APPEND INBOX {4}\r\n"),
        S("+ go ahead {4}\r\n", cont("a5", text="go ahead {4}")),
        C("ijkl\r\n", ev("command", dir="c2s", tag="a5", cmd="APPEND", mailbox="INBOX",
                         literals=[4], at="a5 ")),
        S(tg("a5 OK [APPENDUID 1700000000 13] Append completed.", "APPEND"))])

CASES = [brace_space, brace_quoted, rename_bs, nested, multi, zero, lit8, ends_cr, lit300,
         list_crlf, text_brace, plus_forms]
