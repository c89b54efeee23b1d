/*
 * jlog_samples.c - prints JSON lines of every event type, each with every
 * optional field set (and a few realistic ones), for checking the logger and
 * logger/schema-v1.json against each other:
 *
 *   jlog_samples | tests/unit/schema_check.py
 *
 * Options: --literals none|size|head:N|full (default full), --jansson (use
 * the jansson builder).
 */
#include <stdio.h>
#include <string.h>

#include "imap_event.h"
#include "jlog.h"
#include "jlog_int.h"

#define S(x) ((struct imap_str){(x), sizeof(x) - 1})
#define TS   INT64_C(1795598043120441)

static const struct imap_str caps[] = {{"IMAP4rev1", 9}, {"IDLE", 4}, {"LITERAL+", 8}};
static const struct imap_str caps_removed[] = {{"COMPRESS=DEFLATE", 16},
                                               {"AUTH=SCRAM-SHA-256-PLUS", 23}};
static const struct imap_str flags[] = {{"\\Seen", 5}, {"$Forwarded", 10}};
static const struct imap_str attrs[] = {{"\\HasNoChildren", 14}, {"\\Drafts", 7}};
static const struct imap_ev_fetch_part parts[] = {{{"BODY[]", 6}, 4286}, {{"BINARY[2]", 9}, 8}};
static const struct imap_ev_status_item items[] = {{{"MESSAGES", 8}, 231},
                                                   {{"UIDNEXT", 7}, 44292},
                                                   {{"HIGHESTMODSEQ", 13}, 90061}};
static const struct imap_ev_literal lits[] = {
    {11, {"hello world", 11}},
    {4, {"\x00\xff\x01\x02", 4}},
    {12, {NULL, 0}},
    {4286, {"From: alice@example.com\r\n", 25}},
};

static struct imap_event mk(enum imap_ev_type type, int dir, uint64_t off, unsigned evflags)
{
    struct imap_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ts_us = TS;
    if (dir >= 0) {
        ev.has_dir = 1;
        ev.dir = (enum imap_dir)dir;
        ev.off = off;
    }
    ev.flags = evflags;
    return ev;
}

int main(int argc, char **argv)
{
    struct jlog_endpoint cli = {"192.0.2.41", 53122}, up = {"mail.example.com", 993};
    struct jlog_tls_info tls = {
        "server",   "TLSv1.3", "TLS_AES_256_GCM_SHA384", "mail.example.com", "CN=mail.example.com",
        "5d1ce2a9", 1};
    struct jlog_close_info ci = {"logout", 2201, 5138, 6, 2637884.5, "alice@example.com"};
    struct jlog_session *js;
    struct imap_event ev;
    struct jlog_opts o;
    struct jlog *log;
    char err[256];
    int i;

    jlog_opts_default(&o);
    o.threaded = 0;
    o.redact = 0;
    o.literals = JLOG_LITERALS_FULL;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--jansson") == 0) {
            jlog_set_build(JLOG_BUILD_JANSSON);
        } else if (strcmp(argv[i], "--literals") == 0 && i + 1 < argc) {
            if (jlog_parse_literals(argv[++i], &o) < 0) {
                fprintf(stderr, "jlog_samples: bad --literals %s\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: jlog_samples [--literals POLICY] [--jansson]\n");
            return 2;
        }
    }
    log = jlog_open("-", &o, err, sizeof(err));
    if (log == NULL) {
        fprintf(stderr, "jlog_samples: %s\n", err);
        return 1;
    }
    js = jlog_session_new(log, "7f3a9c2e51d04b18");
    if (js == NULL)
        return 1;

    jlog_session_open(js, TS, &cli, "imaps://0.0.0.0:10993", &up);
    jlog_tls(js, TS, &tls);
    tls.leg = "client";
    tls.sni = NULL;
    tls.peer_subject = NULL;
    tls.peer_sha256 = NULL;
    tls.verified = -1;
    jlog_tls(js, TS, &tls);

    /* command: every field, every flag but the lossy one set by a string */
    ev = mk(IMAP_EV_COMMAND, IMAP_C2S, 96, 0x7ff & ~IMAP_EVF_LOSSY);
    ev.u.command.tag = S("a4");
    ev.u.command.cmd = S("APPEND");
    ev.u.command.args = S("&ZeVnLIqe- (\\Seen) {4286}");
    ev.u.command.mailbox = S("&ZeVnLIqe-");
    ev.u.command.mailbox_utf8 = S("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    ev.u.command.literals = lits;
    ev.u.command.nliterals = 4;
    jlog_event(js, &ev);
    ev = mk(IMAP_EV_COMMAND, IMAP_C2S, 0, 0);
    ev.u.command.tag = S("a1");
    ev.u.command.cmd = S("LOGIN");
    ev.u.command.args = S("alice@example.com ***");
    jlog_event(js, &ev);

    ev = mk(IMAP_EV_CONTINUE, IMAP_S2C, 4859, 0);
    ev.u.cont.tag = S("a4");
    ev.u.cont.for_ = S("literal");
    ev.u.cont.text = S("Ready for literal data");
    ev.u.cont.len = 22;
    jlog_event(js, &ev);
    ev = mk(IMAP_EV_CONTINUE, IMAP_S2C, 4900, 0);
    ev.u.cont.tag = S("a6");
    ev.u.cont.for_ = S("sasl");
    ev.u.cont.len = 12;
    jlog_event(js, &ev);

    ev = mk(IMAP_EV_CLIENT_LINE, IMAP_C2S, 23, IMAP_EVF_CANCEL);
    ev.u.client_line.kind = S("sasl");
    ev.u.client_line.tag = S("a6");
    ev.u.client_line.len = 1;
    jlog_event(js, &ev);

    /* untagged: every optional field at once (no server sends this) */
    ev = mk(IMAP_EV_UNTAGGED, IMAP_S2C, 462, 0x7ff);
    ev.u.untagged.name = S("FETCH");
    ev.u.untagged.has_n = 1;
    ev.u.untagged.n = 12;
    ev.u.untagged.code = S("CAPABILITY");
    ev.u.untagged.code_data = S("IMAP4rev1 IDLE");
    ev.u.untagged.text = S("text");
    ev.u.untagged.mailbox = S("INBOX");
    ev.u.untagged.has_state = 1;
    ev.u.untagged.state = IMAP_STATE_AUTHENTICATED;
    ev.u.untagged.caps = caps;
    ev.u.untagged.ncaps = 3;
    ev.u.untagged.caps_removed = caps_removed;
    ev.u.untagged.ncaps_removed = 2;
    ev.u.untagged.has_fetch = 1;
    ev.u.untagged.fetch.present = 0x3f;
    ev.u.untagged.fetch.uid = 4827;
    ev.u.untagged.fetch.modseq = 90061;
    ev.u.untagged.fetch.size = 4286;
    ev.u.untagged.fetch.internaldate = S("25-Nov-2026 09:14:03 +0000");
    ev.u.untagged.fetch.flags = flags;
    ev.u.untagged.fetch.nflags = 2;
    ev.u.untagged.fetch.envelope.date = S("Wed, 25 Nov 2026 09:00:00 +0000");
    ev.u.untagged.fetch.envelope.subject = S("Hello \xff");
    ev.u.untagged.fetch.envelope.from = S("Alice <alice@example.com>");
    ev.u.untagged.fetch.envelope.message_id = S("<1@example.com>");
    ev.u.untagged.fetch.parts = parts;
    ev.u.untagged.fetch.nparts = 2;
    ev.u.untagged.has_vanished = 1;
    ev.u.untagged.vanished_uids = S("41,43:116");
    ev.u.untagged.has_list = 1;
    ev.u.untagged.list.attrs = attrs;
    ev.u.untagged.list.nattrs = 2;
    ev.u.untagged.list.delim = S("/");
    ev.u.untagged.list.name = S("&ZeVnLIqe-");
    ev.u.untagged.list.name_utf8 = S("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    ev.u.untagged.has_mbox_status = 1;
    ev.u.untagged.status_mailbox = S("Archive");
    ev.u.untagged.status_items = items;
    ev.u.untagged.nstatus_items = 3;
    ev.u.untagged.has_search = 1;
    ev.u.untagged.search_count = 2;
    ev.u.untagged.search_tag = S("PXK1");
    ev.u.untagged.id_name = S("Dovecot");
    ev.u.untagged.id_version = S("2.3.19");
    ev.u.untagged.literals = lits;
    ev.u.untagged.nliterals = 4;
    jlog_event(js, &ev);

    /* realistic untagged lines */
    ev = mk(IMAP_EV_UNTAGGED, IMAP_S2C, 305, 0);
    ev.u.untagged.name = S("EXISTS");
    ev.u.untagged.has_n = 1;
    ev.u.untagged.n = 172;
    ev.u.untagged.mailbox = S("INBOX");
    jlog_event(js, &ev);
    ev = mk(IMAP_EV_UNTAGGED, IMAP_S2C, 0, IMAP_EVF_GREETING);
    ev.u.untagged.name = S("OK");
    ev.u.untagged.code = S("CAPABILITY");
    ev.u.untagged.caps = caps;
    ev.u.untagged.ncaps = 3;
    ev.u.untagged.text = S("Dovecot ready.");
    jlog_event(js, &ev);
    ev = mk(IMAP_EV_UNTAGGED, IMAP_S2C, 650, 0);
    ev.u.untagged.name = S("LIST");
    ev.u.untagged.has_list = 1;
    ev.u.untagged.list.name = S("INBOX");
    jlog_event(js, &ev);

    ev = mk(IMAP_EV_TAGGED, IMAP_S2C, 89, 0x7ff & ~IMAP_EVF_LOSSY);
    ev.u.tagged.tag = S("a1");
    ev.u.tagged.cmd = S("LOGIN");
    ev.u.tagged.status = S("OK");
    ev.u.tagged.code = S("CAPABILITY");
    ev.u.tagged.code_data = S("IMAP4rev1 IDLE LITERAL+");
    ev.u.tagged.text = S("Logged in");
    ev.u.tagged.has_ms = 1;
    ev.u.tagged.ms = 41.2;
    ev.u.tagged.has_state = 1;
    ev.u.tagged.state = IMAP_STATE_AUTHENTICATED;
    ev.u.tagged.caps = caps;
    ev.u.tagged.ncaps = 3;
    ev.u.tagged.caps_removed = caps_removed;
    ev.u.tagged.ncaps_removed = 2;
    jlog_event(js, &ev);
    ev = mk(IMAP_EV_TAGGED, -1, 0, IMAP_EVF_LOCAL);
    ev.u.tagged.tag = S("a9");
    ev.u.tagged.cmd = S("FETCH");
    ev.u.tagged.status = S("NO");
    ev.u.tagged.code = S("EXPUNGEISSUED");
    ev.u.tagged.text = S("Expunges pending");
    jlog_event(js, &ev);

    ev = mk(IMAP_EV_IDLE, IMAP_S2C, 4935, 0);
    ev.u.idle.tag = S("a5");
    ev.u.idle.state = S("start");
    jlog_event(js, &ev);
    ev = mk(IMAP_EV_IDLE, IMAP_C2S, 2189, 0x7ff & ~IMAP_EVF_LOSSY);
    ev.u.idle.tag = S("a5");
    ev.u.idle.state = S("done");
    ev.u.idle.has_ms = 1;
    ev.u.idle.ms = 632108.4;
    jlog_event(js, &ev);

    ev = mk(IMAP_EV_AUTH, -1, 0, 0);
    ev.u.auth.method = S("AUTHENTICATE");
    ev.u.auth.mech = S("PLAIN");
    ev.u.auth.user = S("alice");
    ev.u.auth.status = S("OK");
    jlog_event(js, &ev);

    ev = mk(IMAP_EV_STARTTLS, -1, 0, 0);
    ev.u.starttls.leg = S("server");
    ev.u.starttls.state = S("failed");
    ev.u.starttls.text = S("certificate verify failed");
    jlog_event(js, &ev);

    ev = mk(IMAP_EV_KEEPALIVE, IMAP_S2C, 5026, 0x7ff & ~IMAP_EVF_LOSSY);
    ev.u.keepalive.tag = S("PXK1");
    ev.u.keepalive.cmd = S("SEARCH");
    ev.u.keepalive.state = S("ok");
    ev.u.keepalive.has_ms = 1;
    ev.u.keepalive.ms = 22.9;
    ev.u.keepalive.has_held = 1;
    ev.u.keepalive.held = 2;
    jlog_event(js, &ev);

    ev = mk(IMAP_EV_ANOMALY, IMAP_C2S, 13, IMAP_EVF_DISCARDED);
    ev.u.anomaly.kind = S("plaintext_after_starttls");
    ev.u.anomaly.tag = S("a1");
    ev.u.anomaly.text = S("24 bytes after STARTTLS");
    ev.u.anomaly.has_bytes = 1;
    ev.u.anomaly.bytes = 24;
    jlog_event(js, &ev);

    ev = mk(IMAP_EV_PARSE_ERROR, IMAP_S2C, 20417, IMAP_EVF_TRUNCATED);
    ev.u.parse_error.reason = S("unbalanced_paren");
    ev.u.parse_error.excerpt = S("* 4 FETCH (FLAGS (\\Seen) UID\r\n\x00");
    ev.u.parse_error.resync = S("next_line");
    ev.u.parse_error.tag = S("a7");
    ev.u.parse_error.cmd = S("FETCH");
    jlog_event(js, &ev);

    ev = mk(IMAP_EV_LIMIT, IMAP_S2C, 30000, 0);
    ev.u.limit.what = S("line");
    ev.u.limit.value = 1048577;
    ev.u.limit.max = 1048576;
    jlog_event(js, &ev);

    jlog_session_close(js, TS, &ci);
    jlog_session_free(js);
    jlog_close(log);
    return 0;
}
