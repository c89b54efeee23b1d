"""Untagged response variety: capabilities, flags, LIST/LSUB, STATUS, SEARCH, ID, unknown atoms."""
from _common import *

AUTHED = dict(state="authenticated")


def ok(tag, cmd, what=None):
    return tg("%s OK %s completed (0.001 + 0.000 secs)." % (tag, what or cmd.title()), cmd)


def L(attrs, delim, name, **kw):
    d = {"attrs": attrs, "delim": delim, "name": name}
    d.update(kw)
    return {"list": d}


PRE_CAPS = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN"
caps_enabled = case(
    "untagged_capability_and_enabled", "parse",
    "'* CAPABILITY' before and after login (caps in order, no rewriting configured), then "
    "'ENABLE CONDSTORE X-UNKNOWN' answered with '* ENABLED CONDSTORE' (only what was enabled).",
    [greeting(),
     C(cm("a1 CAPABILITY", "CAPABILITY")),
     S(un("* CAPABILITY " + PRE_CAPS, caps=PRE_CAPS.split()),
       tg("a1 OK Pre-login capabilities listed, post-login capabilities have more.", "CAPABILITY"))]
    + login(tag="a2")
    + [C(cm("a3 ENABLE CONDSTORE X-UNKNOWN", "ENABLE", args="CONDSTORE X-UNKNOWN")),
       S(un("* ENABLED CONDSTORE", caps=["CONDSTORE"]), tg("a3 OK Enabled", "ENABLE")),
       C(cm("a4 CAPABILITY", "CAPABILITY")),
       S(un("* CAPABILITY " + POSTCAPS, caps=POSTCAPS.split()), ok("a4", "CAPABILITY"))])

unsolicited = case(
    "untagged_unsolicited_capability", "parse",
    "Capabilities announced without being asked: a '* CAPABILITY' while no command is in "
    "progress, another one inside a NOOP response, and an untagged '* OK [CAPABILITY ...]' status "
    "response (code CAPABILITY, text after the code).",
    prelude(selected=False) + [
        S(un("* CAPABILITY IMAP4rev1 IDLE MOVE NAMESPACE", caps=["IMAP4rev1", "IDLE", "MOVE",
                                                                  "NAMESPACE"])),
        C(cm("a2 NOOP", "NOOP")),
        S(un("* CAPABILITY IMAP4rev1 IDLE MOVE NAMESPACE QUOTA",
             caps=["IMAP4rev1", "IDLE", "MOVE", "NAMESPACE", "QUOTA"]),
          un("* OK [CAPABILITY IMAP4rev1 IDLE MOVE NAMESPACE QUOTA] Capabilities changed"),
          ok("a2", "NOOP", "NOOP"))])

KW_FLAGS = r"\Answered \Flagged \Deleted \Seen \Draft $Forwarded $MDNSent NonJunk Junk"
fetch_attrs = case(
    "untagged_fetch_flags_keywords_internaldate", "parse",
    "FLAGS and PERMANENTFLAGS with keywords and '\\*' (a backslash outside quotes is not an "
    "escape), then FETCH responses with INTERNALDATE (one with a leading-space day), RFC822.SIZE, "
    "FLAGS holding system flags and keywords ($Forwarded, NonJunk, $MDNSent), UID in any position, "
    "and the FETCH a UID STORE brings back.",
    [greeting()] + login() + [
        C(cm("a2 SELECT INBOX", "SELECT", mailbox="INBOX")),
        S(un("* FLAGS (%s)" % KW_FLAGS),
          un(r"* OK [PERMANENTFLAGS (%s \*)] Flags permitted." % KW_FLAGS),
          un("* 5 EXISTS", **IN), un("* 1 RECENT"),
          un("* OK [UIDVALIDITY 1700000000] UIDs valid"),
          tg("a2 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).", "SELECT", state="selected")),
        C(cm("a3 FETCH 4:5 (FLAGS INTERNALDATE RFC822.SIZE UID)", "FETCH",
             args="4:5 (FLAGS INTERNALDATE RFC822.SIZE UID)")),
        S(un('* 4 FETCH (FLAGS () INTERNALDATE " 7-Feb-1994 21:52:25 -0800" RFC822.SIZE 326 UID 4826)',
             **IN, fetch={"flags": [], "internaldate": " 7-Feb-1994 21:52:25 -0800", "size": 326,
                          "uid": 4826}),
          un(r'* 5 FETCH (FLAGS (\Seen \Recent $Forwarded NonJunk $MDNSent) INTERNALDATE '
             r'"17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 UID 4827)', **IN,
             fetch={"flags": ["\\Seen", "\\Recent", "$Forwarded", "NonJunk", "$MDNSent"],
                    "internaldate": "17-Jul-1996 02:44:25 -0700", "size": 4286, "uid": 4827}),
          tg("a3 OK Fetch completed (0.001 + 0.000 secs).", "FETCH")),
        C(cm("a4 UID STORE 4827 +FLAGS (Junk)", "UID STORE", args="4827 +FLAGS (Junk)")),
        S(un(r"* 5 FETCH (FLAGS (\Seen \Recent $Forwarded NonJunk $MDNSent Junk) UID 4827)", **IN,
             fetch={"flags": ["\\Seen", "\\Recent", "$Forwarded", "NonJunk", "$MDNSent", "Junk"],
                    "uid": 4827}),
          tg("a4 OK Store completed (0.001 + 0.000 secs).", "UID STORE"))])

SENT = "[Gmail]/Sent Mail"
list_mutf7 = case(
    "untagged_list_mutf7_and_gmail", "parse",
    "LIST with special-use attributes, Gmail's bracketed names (quoted, with SP), and modified "
    "UTF-7 names: '&U,BTFw-/&ZeVnLIqe-' is 台北/日本語, the unquoted atom 'Entw&APw-rfe' is "
    "Entwürfe, 'R&-D' is R&D. name keeps the raw wire name; name_utf8 is set only when decoding "
    "changes it. Then SELECT of the quoted Gmail name.",
    prelude(selected=False) + [
        C(cm('a2 LIST "" "*"', "LIST")),
        S(un(r'* LIST (\HasNoChildren) "/" INBOX', **L(["\\HasNoChildren"], "/", "INBOX")),
          un(r'* LIST (\HasChildren \Noselect) "/" "[Gmail]"',
             **L(["\\HasChildren", "\\Noselect"], "/", "[Gmail]")),
          un(r'* LIST (\HasNoChildren \All) "/" "[Gmail]/All Mail"',
             **L(["\\HasNoChildren", "\\All"], "/", "[Gmail]/All Mail")),
          un(r'* LIST (\HasNoChildren \Sent) "/" "%s"' % SENT,
             **L(["\\HasNoChildren", "\\Sent"], "/", SENT)),
          un(r'* LIST (\HasNoChildren) "/" "&U,BTFw-/&ZeVnLIqe-"',
             **L(["\\HasNoChildren"], "/", "&U,BTFw-/&ZeVnLIqe-", name_utf8="台北/日本語")),
          un(r'* LIST (\HasNoChildren \Drafts) "/" Entw&APw-rfe',
             **L(["\\HasNoChildren", "\\Drafts"], "/", "Entw&APw-rfe", name_utf8="Entwürfe")),
          un(r'* LIST (\HasNoChildren) "/" "R&-D"', **L(["\\HasNoChildren"], "/", "R&-D",
                                                        name_utf8="R&D")),
          ok("a2", "LIST")),
        C(cm('a3 SELECT "%s"' % SENT, "SELECT", mailbox=SENT)),
        S(un("* 12 EXISTS", mailbox=SENT), un("* OK [UIDVALIDITY 600000001] UIDs valid"),
          tg("a3 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).", "SELECT",
             state="selected"))])

list_delims = case(
    "untagged_list_delimiters_and_lsub", "parse",
    "Hierarchy delimiters: a backslash delimiter (quoted as \"\\\\\", common on Windows "
    "servers) with a name that contains it, a NIL delimiter (flat namespace; delim is null), and "
    "LSUB responses (same list object).",
    prelude(selected=False) + [
        C(cm('a2 LIST "" "*"', "LIST")),
        S(un(r'* LIST (\HasNoChildren) "\\" INBOX', **L(["\\HasNoChildren"], "\\", "INBOX")),
          un(r'* LIST (\HasChildren) "\\" Public', **L(["\\HasChildren"], "\\", "Public")),
          un(r'* LIST (\HasNoChildren) "\\" "Public\\Team Notes"',
             **L(["\\HasNoChildren"], "\\", "Public\\Team Notes")),
          ok("a2", "LIST")),
        C(cm('a3 LIST "#news." "*"', "LIST")),
        S(un(r'* LIST (\NoInferiors) NIL "#news.comp.mail.misc"',
             **L(["\\NoInferiors"], None, "#news.comp.mail.misc")),
          ok("a3", "LIST")),
        C(cm('a4 LSUB "" "*"', "LSUB")),
        S(un(r'* LSUB () "\\" INBOX', **L([], "\\", "INBOX")),
          un(r'* LSUB (\Noselect) "\\" Public', **L(["\\Noselect"], "\\", "Public")),
          un(r'* LSUB () "\\" "Public\\Team Notes"', **L([], "\\", "Public\\Team Notes")),
          ok("a4", "LSUB", "Lsub"))])

status = case(
    "untagged_status_variety", "parse",
    "STATUS responses: a quoted mailbox with brackets and SP, 63-bit HIGHESTMODSEQ and SIZE "
    "values, a mailbox sent as a literal in both directions, and a NO [NONEXISTENT].",
    prelude(selected=False) + [
        C(cm('a2 STATUS "%s" (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)' % SENT, "STATUS", mailbox=SENT)),
        S(un('* STATUS "%s" (MESSAGES 12 UNSEEN 0 UIDNEXT 13 UIDVALIDITY 600000001)' % SENT,
             mbox_status={"mailbox": SENT, "items": {"MESSAGES": 12, "UNSEEN": 0, "UIDNEXT": 13,
                                                    "UIDVALIDITY": 600000001}}),
          ok("a2", "STATUS")),
        C(cm("a3 STATUS Archive (HIGHESTMODSEQ SIZE)", "STATUS", mailbox="Archive")),
        S(un("* STATUS Archive (HIGHESTMODSEQ 20050715194045319 SIZE 123456789)",
             mbox_status={"mailbox": "Archive",
                          "items": {"HIGHESTMODSEQ": 20050715194045319, "SIZE": 123456789}}),
          ok("a3", "STATUS")),
        C("a4 STATUS {7}\r\n"),
        S("+ OK\r\n", cont("a4")),
        C("Reports (MESSAGES)\r\n", ev("command", dir="c2s", tag="a4", cmd="STATUS",
                                       mailbox="Reports", literals=[7], at="a4 ")),
        S(un("* STATUS " + lit("Reports") + " (MESSAGES 3)", literals=[7],
             mbox_status={"mailbox": "Reports", "items": {"MESSAGES": 3}}),
          ok("a4", "STATUS")),
        C(cm("a5 STATUS Nonexistent (MESSAGES)", "STATUS", mailbox="Nonexistent")),
        S(tg("a5 NO [NONEXISTENT] Mailbox doesn't exist: Nonexistent", "STATUS"))])

MANY = " ".join(str(u) for u in range(4600, 4800))
search = case(
    "untagged_search_and_esearch", "parse",
    "SEARCH results: empty ('* SEARCH' with no numbers), 200 UIDs, and ESEARCH forms "
    "('* ESEARCH (TAG \"a5\") UID COUNT 3 ALL 4:6' and a bare '* ESEARCH (TAG \"a6\")').",
    prelude() + [
        C(cm("a3 SEARCH UNSEEN", "SEARCH", args="UNSEEN")),
        S(un("* SEARCH", search={"count": 0}), ok("a3", "SEARCH")),
        C(cm("a4 UID SEARCH ALL", "UID SEARCH", args="ALL")),
        S(un("* SEARCH " + MANY, search={"count": 200}), ok("a4", "UID SEARCH", "Search")),
        C(cm("a5 UID SEARCH RETURN (COUNT ALL) UNSEEN", "UID SEARCH",
             args="RETURN (COUNT ALL) UNSEEN")),
        S(un('* ESEARCH (TAG "a5") UID COUNT 3 ALL 4:6'), ok("a5", "UID SEARCH", "Search")),
        C(cm("a6 SEARCH RETURN () FLAGGED", "SEARCH", args="RETURN () FLAGGED")),
        S(un('* ESEARCH (TAG "a6")'), ok("a6", "SEARCH"))])

id_ns = case(
    "untagged_id_and_namespace", "parse",
    "ID before authentication ('* ID (\"name\" \"Dovecot\")'), 'ID NIL' answered with '* ID NIL', "
    "and NAMESPACE with a NIL other-users namespace and a shared namespace.",
    [greeting(),
     C(cm('a1 ID ("name" "Thunderbird" "version" "128.5.0")', "ID")),
     S(un('* ID ("name" "Dovecot")'), tg("a1 OK ID completed.", "ID"))]
    + login(tag="a2")
    + [C(cm("a3 ID NIL", "ID", args="NIL")),
       S(un("* ID NIL"), tg("a3 OK ID completed.", "ID")),
       C(cm("a4 NAMESPACE", "NAMESPACE")),
       S(un('* NAMESPACE (("" "/")) NIL (("Shared/" "/"))'), ok("a4", "NAMESPACE", "Namespace"))])

unknown = case(
    "untagged_unknown_atoms_and_quota", "parse",
    "Untagged data with atoms the parser has no special handling for: '* XFOO bar', an unknown "
    "response carrying a literal (unknown atoms may carry literals), QUOTAROOT and "
    "'* QUOTA \"\" (STORAGE 10 512)'. Each is one untagged event named by its atom.",
    prelude() + [
        S(un("* XFOO bar")),
        S(un("* XAPPLE-PUSH (topic " + lit("com.apple.mail") + ")", literals=[14])),
        C(cm("a3 GETQUOTAROOT INBOX", "GETQUOTAROOT")),
        S(un('* QUOTAROOT INBOX ""'), un('* QUOTA "" (STORAGE 10 512)'),
          ok("a3", "GETQUOTAROOT", "Getquotaroot")),
        C(cm('a4 GETQUOTA ""', "GETQUOTA")),
        S(un('* QUOTA "" (STORAGE 10 512 MESSAGE 7 1000)'), ok("a4", "GETQUOTA", "Getquota"))])


def deep_bodystructure(levels):
    leaf = '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 12 1 NIL NIL NIL NIL)'
    env = ('("Wed, 25 Nov 2026 08:00:00 +0000" "fwd" (("A" NIL "a" "x.example")) NIL NIL '
           '(("B" NIL "b" "x.example")("C" NIL "c" "x.example")) NIL NIL NIL "<fwd@x.example>")')
    body = leaf
    for i in range(levels):
        if i == levels // 2:
            body = '("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 512 %s %s 20 NIL NIL NIL NIL)' % (env, body)
        body = '(%s%s "MIXED" ("BOUNDARY" "b%d") NIL NIL NIL)' % (leaf, body, i)
    return body


def max_depth(s):
    d = m = 0
    for ch in s:
        d += {"(": 1, ")": -1}.get(ch, 0)
        m = max(m, d)
    return m


DEEP = "* 7 FETCH (BODYSTRUCTURE %s UID 4829 FLAGS (\\Seen \\Flagged))" % deep_bodystructure(40)
assert max_depth(DEEP) < 64
deep = case(
    "untagged_fetch_deep_bodystructure", "parse",
    "A BODYSTRUCTURE nested %d parentheses deep (40 multipart levels with a message/rfc822 and its "
    "envelope in the middle), below the depth limit of 64. It must be skipped safely; UID and "
    "FLAGS come after it and still land in the event." % max_depth(DEEP),
    prelude() + [
        C(cm("a3 FETCH 7 (BODYSTRUCTURE UID FLAGS)", "FETCH", args="7 (BODYSTRUCTURE UID FLAGS)")),
        S(un(DEEP, **IN, fetch={"uid": 4829, "flags": ["\\Seen", "\\Flagged"]}),
          tg("a3 OK Fetch completed (0.001 + 0.000 secs).", "FETCH"))])

move = case(
    "untagged_move_copyuid_expunge", "parse",
    "MOVE (RFC 6851) without QRESYNC: the untagged '* OK [COPYUID ...]' comes before the "
    "EXPUNGEs; then UID COPY with COPYUID on the tagged OK (destination 'Saved Items' is the "
    "command's mailbox), and UID EXPUNGE.",
    prelude() + [
        C(cm("a3 MOVE 2:3 Archive", "MOVE", mailbox="Archive", args="2:3 Archive")),
        S(un("* OK [COPYUID 1700000999 4821:4822 901:902] Moved UIDs."),
          un("* 2 EXPUNGE", **IN), un("* 2 EXPUNGE", **IN),
          tg("a3 OK Move completed (0.002 + 0.000 + 0.001 secs).", "MOVE")),
        C(cm('a4 UID COPY 4823 "Saved Items"', "UID COPY", mailbox="Saved Items")),
        S(tg("a4 OK [COPYUID 1700000999 4823 77] Copy completed.", "UID COPY")),
        C(cm(r"a5 UID STORE 4823 +FLAGS.SILENT (\Deleted)", "UID STORE")),
        S(tg("a5 OK Store completed (0.001 + 0.000 secs).", "UID STORE")),
        C(cm("a6 UID EXPUNGE 4823", "UID EXPUNGE", args="4823")),
        S(un("* 2 EXPUNGE", **IN), tg("a6 OK Expunge completed (0.001 + 0.000 secs).",
                                      "UID EXPUNGE"))])

greeting_bye = case(
    "greeting_bye_then_close", "both",
    "The server refuses the connection with a '* BYE [UNAVAILABLE] ...' greeting and closes. The "
    "BYE is the greeting (greeting: true), it is relayed completely, and the session closes "
    "with reason 'bye'.",
    [S(un("* BYE [UNAVAILABLE] Maximum number of connections from user+IP exceeded "
          "(mail_max_userip_connections=10)", greeting=True)),
     dict(EOF, events=[ev("session_close", reason="bye")])],
    must_not_log=[])

CASES = [caps_enabled, unsolicited, fetch_attrs, list_mutf7, list_delims, status, search, id_ns,
         unknown, deep, move, greeting_bye]
