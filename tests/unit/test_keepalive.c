/*
 * test_keepalive.c - keepalive and containment in one session (imap_session.h,
 * protocol.md §4): the API's answers (keepalive, _pending, _waiting,
 * _interrupt, _holding), tag choice, which client commands a held EXPUNGE
 * lets through and which are answered locally, held responses split across
 * reads, the held_max fallback, IDLE mode, and the relay operations.
 *
 * The harness plays the proxy as proxy/conn.c and proxy/replay.c do: input
 * is kept until the session decides, relay operations are applied to output
 * buffers, and client bytes wait while a keepalive is outstanding (an IDLE
 * keepalive is interrupted for them).  The golden transcripts tests/data/ka_*
 * cover the same ground end to end through replay.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap_session.h"
#include "relay_sim.h"

/* ------------------------------------------------------------ events */

#define EV_MAX 256

struct erec {
    enum imap_ev_type type;
    int has_dir;
    enum imap_dir dir;
    uint64_t off;
    unsigned flags;
    char tag[64], cmd[32], status[8], code[32], name[32], kind[48], sstate[24];
    int has_held;
    uint64_t held;
};

static struct erec EV[EV_MAX];
static size_t nev;

static void cp(char *dst, size_t size, struct imap_str s)
{
    size_t n = s.p == NULL ? 0 : s.len < size - 1 ? s.len : size - 1;

    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

#define CP(dst, s) cp((dst), sizeof(dst), (s))

static int on_event(void *arg, const struct imap_event *ev)
{
    struct erec *r;

    (void)arg;
    assert_true(nev < EV_MAX);
    r = &EV[nev++];
    memset(r, 0, sizeof(*r));
    r->type = ev->type;
    r->has_dir = ev->has_dir;
    r->dir = ev->dir;
    r->off = ev->off;
    r->flags = ev->flags;
    switch (ev->type) {
    case IMAP_EV_COMMAND:
        CP(r->tag, ev->u.command.tag);
        CP(r->cmd, ev->u.command.cmd);
        break;
    case IMAP_EV_TAGGED:
        CP(r->tag, ev->u.tagged.tag);
        CP(r->cmd, ev->u.tagged.cmd);
        CP(r->status, ev->u.tagged.status);
        CP(r->code, ev->u.tagged.code);
        break;
    case IMAP_EV_UNTAGGED:
        CP(r->name, ev->u.untagged.name);
        break;
    case IMAP_EV_KEEPALIVE:
        CP(r->tag, ev->u.keepalive.tag);
        CP(r->cmd, ev->u.keepalive.cmd);
        CP(r->sstate, ev->u.keepalive.state);
        r->has_held = ev->u.keepalive.has_held;
        r->held = ev->u.keepalive.held;
        break;
    case IMAP_EV_ANOMALY:
        CP(r->kind, ev->u.anomaly.kind);
        CP(r->tag, ev->u.anomaly.tag);
        break;
    default:
        break;
    }
    return 0;
}

/* The n-th keepalive event with this state since from (n from 0), or NULL. */
static struct erec *ka_ev(const char *sstate, size_t from)
{
    for (size_t i = from; i < nev; i++)
        if (EV[i].type == IMAP_EV_KEEPALIVE && strcmp(EV[i].sstate, sstate) == 0)
            return &EV[i];
    return NULL;
}

static size_t count_type(enum imap_ev_type type, size_t from)
{
    size_t n = 0;

    for (size_t i = from; i < nev; i++)
        n += EV[i].type == type;
    return n;
}

static struct erec *anomaly(const char *kind)
{
    for (size_t i = 0; i < nev; i++)
        if (EV[i].type == IMAP_EV_ANOMALY && strcmp(EV[i].kind, kind) == 0)
            return &EV[i];
    return NULL;
}

/* The tagged event for a tag since from, or NULL. */
static struct erec *tagged(const char *tag, size_t from)
{
    for (size_t i = from; i < nev; i++)
        if (EV[i].type == IMAP_EV_TAGGED && strcmp(EV[i].tag, tag) == 0)
            return &EV[i];
    return NULL;
}

/* ------------------------------------------------------------ the harness */

static struct {
    struct imap_session *s;
    struct imap_session_config cfg;
    struct bytes in[2], out[2], held[2], ops[2];
    struct bytes deferred;
} H;

static void apply_ops(enum imap_dir dir)
{
    if (!H.cfg.relay) { /* as `imaptap decode`: events only */
        bytes_clear(&H.in[dir]);
        return;
    }
    relay_sim_apply(H.s, dir, &H.in[dir], &H.out[dir], &H.held[dir], &H.ops[dir]);
}

static void h_ops(void)
{
    apply_ops(IMAP_C2S);
    apply_ops(IMAP_S2C);
}

static struct imap_session_config ka_cfg(enum imap_keepalive_cmd cmd, int idle)
{
    struct imap_session_config cfg;

    imap_session_config_default(&cfg);
    cfg.relay = 1;
    cfg.ka_cmd = cmd;
    cfg.ka_idle = idle;
    return cfg;
}

static void h_start(const struct imap_session_config *cfg)
{
    memset(&H, 0, sizeof(H));
    nev = 0;
    H.cfg = *cfg;
    H.s = imap_session_new(&H.cfg, on_event, NULL);
    assert_non_null(H.s);
    imap_session_set_clock(H.s, 1700000000000000LL, 1000);
}

static void h_end(void)
{
    imap_session_free(H.s);
    for (int d = 0; d < 2; d++) {
        bytes_free(&H.in[d]);
        bytes_free(&H.out[d]);
        bytes_free(&H.held[d]);
        bytes_free(&H.ops[d]);
    }
    bytes_free(&H.deferred);
    nev = 0;
}

static void h_clock_ms(int64_t ms)
{
    imap_session_set_clock(H.s, 1700000000000000LL + ms * 1000, 1000 + ms * 1000);
}

static void h_feed_raw(enum imap_dir dir, const char *p, size_t n)
{
    bytes_add(&H.in[dir], p, n);
    assert_int_equal(imap_session_feed(H.s, dir, p, n), 0);
    h_ops();
}

/* Like the proxy: client bytes wait while a keepalive is outstanding. */
static void h_feed(enum imap_dir dir, const char *p, size_t n)
{
    if (dir == IMAP_C2S && imap_session_keepalive_pending(H.s)) {
        imap_session_keepalive_interrupt(H.s);
        h_ops();
        bytes_add(&H.deferred, p, n);
        return;
    }
    h_feed_raw(dir, p, n);
    if (H.deferred.len > 0 && !imap_session_keepalive_pending(H.s)) {
        struct bytes d = H.deferred;
        memset(&H.deferred, 0, sizeof(H.deferred));
        h_feed_raw(IMAP_C2S, d.p, d.len);
        bytes_free(&d);
    }
}

static void h_feed_str(enum imap_dir dir, const char *s)
{
    h_feed(dir, s, strlen(s));
}

#define C(s) h_feed_str(IMAP_C2S, (s))
#define S(s) h_feed_str(IMAP_S2C, (s))

/* The timer fires: returns imap_session_keepalive()'s answer. */
static int h_timer(void)
{
    int rc = imap_session_keepalive(H.s);

    h_ops();
    return rc;
}

static void out_clear(void)
{
    for (int d = 0; d < 2; d++) {
        bytes_clear(&H.out[d]);
        bytes_clear(&H.ops[d]);
    }
}

/* What the server (IMAP_C2S) or the client (IMAP_S2C) received since out_clear(). */
static void out_is(enum imap_dir dir, const char *want, int line)
{
    const struct bytes *o = &H.out[dir];

    if (o->len != strlen(want) || (o->len > 0 && memcmp(o->p, want, o->len) != 0))
        fail_msg("line %d: the %s received:\n[%s]\nwant:\n[%s]", line,
                 dir == IMAP_C2S ? "server" : "client", o->p ? o->p : "", want);
}

#define OUT(dir, want) out_is((dir), (want), __LINE__)

/* Past the greeting and LOGIN; SELECT INBOX with 10 messages. */
static void h_selected(void)
{
    S("* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n");
    C("l1 LOGIN alice s3cr3t\r\n");
    S("l1 OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] done\r\n");
    C("s1 SELECT INBOX\r\n");
    S("* 10 EXISTS\r\ns1 OK [READ-WRITE] done\r\n");
    assert_int_equal(imap_session_state(H.s), IMAP_STATE_SELECTED);
    out_clear();
}

/* NOOP keepalive answered with "* 3 EXPUNGE" and "* 10 EXISTS": both held. */
static void h_hold_expunge(void)
{
    assert_int_equal(h_timer(), 1);
    OUT(IMAP_C2S, "PXK1 NOOP\r\n");
    S("* 3 EXPUNGE\r\n* 10 EXISTS\r\nPXK1 OK NOOP completed\r\n");
    OUT(IMAP_S2C, "");
    assert_false(imap_session_keepalive_pending(H.s));
    assert_true(imap_session_holding(H.s));
    out_clear();
}

#define HELD "* 3 EXPUNGE\r\n* 10 EXISTS\r\n"
#define EXPUNGEISSUED_LINE(tag)                                                          \
    tag " NO [EXPUNGEISSUED] Messages were expunged: NOOP, then try again with the new " \
        "numbers\r\n"

/* ------------------------------------------------------------ the API */

static void test_api_noop_lifecycle(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 0);
    struct erec *e;
    size_t mark;

    (void)state;
    h_start(&cfg);
    h_selected();
    assert_int_equal(imap_session_keepalive_waiting(H.s), 0);
    assert_false(imap_session_holding(H.s));
    h_clock_ms(5000);
    mark = nev;
    assert_int_equal(h_timer(), 1);
    OUT(IMAP_C2S, "PXK1 NOOP\r\n");
    assert_true(imap_session_keepalive_pending(H.s));
    /* the liveness probe: a reply is awaited since the send */
    assert_int_equal(imap_session_keepalive_waiting(H.s), 1000 + 5000 * 1000);
    /* one at a time; interrupting a NOOP changes nothing */
    assert_int_equal(h_timer(), 0);
    imap_session_keepalive_interrupt(H.s);
    h_ops();
    OUT(IMAP_C2S, "PXK1 NOOP\r\n");
    assert_true(imap_session_keepalive_pending(H.s));
    e = ka_ev("sent", mark);
    assert_non_null(e);
    assert_string_equal(e->cmd, "NOOP");
    assert_false(e->has_dir);
    h_clock_ms(5040);
    S("* 4 RECENT\r\nPXK1 OK NOOP completed\r\n");
    OUT(IMAP_S2C, "* 4 RECENT\r\n");
    assert_false(imap_session_keepalive_pending(H.s));
    assert_int_equal(imap_session_keepalive_waiting(H.s), 0);
    e = ka_ev("ok", mark);
    assert_non_null(e);
    assert_true(e->has_dir);
    assert_int_equal(e->dir, IMAP_S2C);
    assert_true(e->has_held);
    assert_int_equal(e->held, 0);
    /* only keepalive and untagged events: no tagged, no anomaly */
    assert_int_equal(count_type(IMAP_EV_TAGGED, mark), 0);
    assert_int_equal(count_type(IMAP_EV_ANOMALY, 0), 0);
    h_end();
}

static void test_api_refused_and_framing_lost(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 0);

    (void)state;
    /* BAD stops it too, and the BAD never reaches the client */
    h_start(&cfg);
    h_selected();
    assert_int_equal(h_timer(), 1);
    S("PXK1 BAD Unknown command\r\n");
    OUT(IMAP_S2C, "");
    assert_string_equal(ka_ev("bad", 0)->tag, "PXK1");
    assert_int_equal(h_timer(), -1);
    /* the client goes on as usual */
    C("a1 NOOP\r\n");
    S("a1 OK\r\n");
    OUT(IMAP_C2S, "PXK1 NOOP\r\na1 NOOP\r\n");
    OUT(IMAP_S2C, "a1 OK\r\n");
    assert_int_equal(h_timer(), -1);
    h_end();
}

/* ------------------------------------------------------------ tags */

static void test_tag_prefix_and_client_tags(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 0);

    (void)state;
    cfg.ka_tag_prefix = "ZQ";
    h_start(&cfg);
    h_selected();
    /* the client imitates the prefix: the candidates it used are skipped */
    C("ZQ1 NOOP\r\nZQ2 NOOP\r\nZQ3 NOOP\r\n");
    S("ZQ1 OK\r\nZQ2 OK\r\nZQ3 OK\r\n");
    out_clear();
    assert_int_equal(h_timer(), 1);
    OUT(IMAP_C2S, "ZQ4 NOOP\r\n");
    S("ZQ4 OK\r\n");
    /* a client tag that only shares the prefix is no obstacle */
    C("ZQ55 NOOP\r\n");
    S("ZQ55 OK\r\n");
    out_clear();
    assert_int_equal(h_timer(), 1);
    OUT(IMAP_C2S, "ZQ5 NOOP\r\n");
    S("ZQ5 OK\r\n");
    OUT(IMAP_S2C, "");
    /* the client's own "ZQ6" completion is never swallowed: it has no keepalive out */
    C("ZQ6 NOOP\r\n");
    S("ZQ6 OK\r\n");
    OUT(IMAP_S2C, "ZQ6 OK\r\n");
    h_end();
}

/* ------------------------------------------------------------ containment */

struct verdict {
    const char *line; /* without CRLF */
    int relayed;      /* 1: relayed and releases; 0: NO [EXPUNGEISSUED] locally */
};

/* protocol.md §4.5 rules 3 and 4, command by command */
static const struct verdict verdicts[] = {
    {"a3 FETCH 3 (FLAGS)", 0},
    {"a3 fetch 3 flags", 0},
    {"a3 STORE 2 +FLAGS (\\Deleted)", 0},
    {"a3 COPY 1:2 Trash", 0},
    {"a3 MOVE 1 Trash", 0},
    {"a3 SEARCH UNSEEN", 0},
    {"a3 SEARCH UID 1:3", 0},
    {"a3 SORT (DATE) UTF-8 ALL", 0},
    {"a3 THREAD REFERENCES UTF-8 ALL", 0},
    {"a3 FETCH $ (FLAGS)", 0},
    {"a3 UID SEARCH 1:3", 0},
    {"a3 UID SEARCH NOT 2", 0},
    {"a3 UID SEARCH OR UID 5 4", 0},
    {"a3 UID SEARCH (UNSEEN 1:*)", 0},
    {"a3 UID SEARCH CHARSET UTF-8 SUBJECT x 7", 0},
    {"a3 UID SORT (DATE) UTF-8 1:5", 0},
    {"a3 UID THREAD REFERENCES UTF-8 *", 0},
    {"a3 uid search 2,4:6", 0},
    {"a3 UID SEARCH UID 1:3", 1},
    {"a3 UID SEARCH ALL", 1},
    {"a3 UID SEARCH SUBJECT \"1:3\"", 1},
    {"a3 UID SEARCH LARGER 1000 SMALLER 5", 1},
    {"a3 UID SEARCH HEADER X-Count 7 UNSEEN", 1},
    {"a3 UID SEARCH MODSEQ 12345", 1},
    {"a3 UID SEARCH RETURN (MIN MAX) UID 1:*", 1},
    {"a3 UID SEARCH $", 1},
    {"a3 UID SORT (DATE) UTF-8 UID 1:5", 1},
    {"a3 UID THREAD REFERENCES UTF-8 ALL", 1},
    {"a3 UID FETCH 1:* (FLAGS)", 1},
    {"a3 uid fetch 4 flags", 1},
    {"a3 UID STORE 2 +FLAGS (\\Seen)", 1},
    {"a3 UID COPY 2 Trash", 1},
    {"a3 UID MOVE 2 Trash", 1},
    {"a3 UID EXPUNGE 2", 1},
    {"a3 NOOP", 1},
    {"a3 CHECK", 1},
    {"a3 EXPUNGE", 1},
    {"a3 CLOSE", 1},
    {"a3 UNSELECT", 1},
    {"a3 SELECT Trash", 1},
    {"a3 EXAMINE INBOX", 1},
    {"a3 STATUS INBOX (MESSAGES)", 1},
    {"a3 LIST \"\" *", 1},
    {"a3 CAPABILITY", 1},
    {"a3 LOGOUT", 1},
};

static void test_containment_verdicts(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 0);
    char want[512];

    (void)state;
    for (size_t k = 0; k < sizeof(verdicts) / sizeof(verdicts[0]); k++) {
        const struct verdict *v = &verdicts[k];
        size_t mark;
        struct erec *t;
        h_start(&cfg);
        h_selected();
        h_hold_expunge();
        mark = nev;
        snprintf(want, sizeof(want), "%s\r\n", v->line);
        /* byte by byte: the decision may not depend on how the line arrives */
        for (const char *p = want; *p; p++)
            h_feed(IMAP_C2S, p, 1);
        if (v->relayed) {
            if (H.out[IMAP_C2S].len != strlen(want) || strcmp(H.out[IMAP_C2S].p, want) != 0)
                fail_msg("\"%s\": the server received [%s]", v->line,
                         H.out[IMAP_C2S].p ? H.out[IMAP_C2S].p : "");
            if (H.out[IMAP_S2C].len != strlen(HELD) || strcmp(H.out[IMAP_S2C].p, HELD) != 0)
                fail_msg("\"%s\": the client received [%s], want the held lines", v->line,
                         H.out[IMAP_S2C].p ? H.out[IMAP_S2C].p : "");
            assert_false(imap_session_holding(H.s));
            assert_non_null(ka_ev("released", mark));
            assert_int_equal(ka_ev("released", mark)->held, 2);
            assert_null(tagged("a3", mark));
        } else {
            snprintf(want, sizeof(want), EXPUNGEISSUED_LINE("a3"));
            if (H.out[IMAP_C2S].len != 0)
                fail_msg("\"%s\": the server received [%s]", v->line, H.out[IMAP_C2S].p);
            if (H.out[IMAP_S2C].len != strlen(want) || strcmp(H.out[IMAP_S2C].p, want) != 0)
                fail_msg("\"%s\": the client received [%s]", v->line,
                         H.out[IMAP_S2C].p ? H.out[IMAP_S2C].p : "");
            assert_true(imap_session_holding(H.s));
            assert_null(ka_ev("released", mark));
            t = tagged("a3", mark);
            assert_non_null(t);
            assert_true(t->flags & IMAP_EVF_LOCAL);
            assert_false(t->has_dir);
            assert_string_equal(t->status, "NO");
            assert_string_equal(t->code, "EXPUNGEISSUED");
            /* the client's NOOP then gets the held lines ahead of its answer */
            out_clear();
            C("a4 NOOP\r\n");
            S("a4 OK NOOP completed\r\n");
            OUT(IMAP_C2S, "a4 NOOP\r\n");
            OUT(IMAP_S2C, HELD "a4 OK NOOP completed\r\n");
            assert_false(imap_session_holding(H.s));
        }
        h_end();
    }
}

/* A UID SEARCH judged at its end cannot wait for a literal: refused. */
static void test_containment_uid_search_with_literal(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 0);

    (void)state;
    /* synchronizing: no "+" is asked of the server, the NO ends it */
    h_start(&cfg);
    h_selected();
    h_hold_expunge();
    C("a3 UID SEARCH CHARSET UTF-8 SUBJECT {4}\r\n");
    OUT(IMAP_C2S, "");
    OUT(IMAP_S2C, EXPUNGEISSUED_LINE("a3"));
    C("a4 NOOP\r\n");
    OUT(IMAP_C2S, "a4 NOOP\r\n");
    S("a4 OK\r\n");
    OUT(IMAP_S2C, EXPUNGEISSUED_LINE("a3") HELD "a4 OK\r\n");
    h_end();

    /* non-synchronizing, arriving whole: refused all the same, so the answer
     * does not depend on how the bytes were split (see the next case) */
    h_start(&cfg);
    h_selected();
    h_hold_expunge();
    C("a3 UID SEARCH SUBJECT {4+}\r\ntest UID 1:3\r\n");
    OUT(IMAP_C2S, "");
    OUT(IMAP_S2C, EXPUNGEISSUED_LINE("a3"));
    assert_true(imap_session_holding(H.s));
    h_end();

    /* non-synchronizing, the literal still streaming: the line cannot be held
     * that long, so it is refused and the literal's bytes are dropped with it */
    h_start(&cfg);
    h_selected();
    h_hold_expunge();
    C("a3 UID SEARCH SUBJECT {4+}\r\nte");
    C("st UID 1:3\r\n");
    OUT(IMAP_C2S, "");
    OUT(IMAP_S2C, EXPUNGEISSUED_LINE("a3"));
    assert_true(imap_session_holding(H.s));
    C("a4 UID FETCH 4 (FLAGS)\r\n");
    OUT(IMAP_C2S, "a4 UID FETCH 4 (FLAGS)\r\n");
    OUT(IMAP_S2C, EXPUNGEISSUED_LINE("a3") HELD);
    h_end();
}

/* Responses after the keepalive's completion stay held (server order), and a
 * unit cut in the middle by the release is delivered whole and in order. */
static void test_containment_partial_unit_and_order(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 0);
    size_t mark;

    (void)state;
    h_start(&cfg);
    h_selected();
    h_hold_expunge();
    mark = nev;
    S("* 10 FETCH (FLAGS (\\Seen))\r\n* 11 FETCH (FLAGS (");
    OUT(IMAP_S2C, "");
    C("a3 NOOP\r\n");
    OUT(IMAP_C2S, "a3 NOOP\r\n");
    /* the held part of the unit in progress goes out with the rest */
    OUT(IMAP_S2C, HELD "* 10 FETCH (FLAGS (\\Seen))\r\n* 11 FETCH (FLAGS (");
    S("\\Flagged))\r\na3 OK done\r\n");
    OUT(IMAP_S2C, HELD "* 10 FETCH (FLAGS (\\Seen))\r\n* 11 FETCH (FLAGS (\\Flagged))\r\n"
                       "a3 OK done\r\n");
    assert_false(imap_session_holding(H.s));
    assert_non_null(ka_ev("released", mark));
    h_end();
}

/* The unit cut by the release has the same flags whether or not the session
 * relays: `imaptap decode` of a capture must equal the live log (F7). */
static unsigned partial_unit_flags(int relay)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 0);
    unsigned flags = ~0u;

    cfg.relay = relay;
    h_start(&cfg);
    h_selected();
    assert_int_equal(h_timer(), 1);
    S("* 3 EXPUNGE\r\nPXK1 OK NOOP completed\r\n* 11 FETCH (FLAGS (");
    assert_true(imap_session_holding(H.s));
    C("a3 NOOP\r\n");
    assert_false(imap_session_holding(H.s));
    S("\\Flagged))\r\na3 OK done\r\n");
    for (size_t i = 0; i < nev; i++)
        if (EV[i].type == IMAP_EV_UNTAGGED && strcmp(EV[i].name, "FETCH") == 0)
            flags = EV[i].flags;
    h_end();
    return flags;
}

static void test_containment_partial_unit_relay_off(void **state)
{
    unsigned on, off;

    (void)state;
    on = partial_unit_flags(1);
    off = partial_unit_flags(0);
    assert_int_not_equal(on, ~0u);
    assert_int_equal(on, off);
}

/* A second keepalive while responses are held: more expunges join the held
 * ones (one anomaly), everything is released in order at the next command. */
static void test_containment_second_keepalive(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 0);
    struct erec *e;
    size_t mark;

    (void)state;
    h_start(&cfg);
    h_selected();
    h_hold_expunge();
    mark = nev;
    assert_int_equal(h_timer(), 1);
    OUT(IMAP_C2S, "PXK2 NOOP\r\n");
    S("* 5 EXPUNGE\r\nPXK2 OK NOOP completed\r\n");
    OUT(IMAP_S2C, "");
    e = ka_ev("ok", mark);
    assert_non_null(e);
    assert_string_equal(e->tag, "PXK2");
    assert_int_equal(e->held, 3);
    C("a3 CHECK\r\n");
    S("a3 OK\r\n");
    OUT(IMAP_S2C, HELD "* 5 EXPUNGE\r\na3 OK\r\n");
    assert_int_equal(ka_ev("released", mark)->held, 3);
    {
        size_t n = 0;
        for (size_t i = 0; i < nev; i++)
            n += EV[i].type == IMAP_EV_ANOMALY;
        assert_int_equal(n, 1); /* expunge_during_keepalive, once */
    }
    assert_non_null(anomaly("expunge_during_keepalive"));
    h_end();
}

/* Past held_max the responses are delivered (correctness falls back). */
static void test_containment_held_max(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 0);
    char big[200];

    (void)state;
    cfg.held_max = 64;
    h_start(&cfg);
    h_selected();
    assert_int_equal(h_timer(), 1);
    S("* 3 EXPUNGE\r\n");
    OUT(IMAP_S2C, "");
    snprintf(big, sizeof(big), "* 9 FETCH (FLAGS (\\Seen) X-PAD \"%060d\")\r\n", 0);
    S(big);
    assert_non_null(anomaly("held_overflow"));
    assert_false(imap_session_holding(H.s));
    {
        char want[300];
        snprintf(want, sizeof(want), "* 3 EXPUNGE\r\n%s", big);
        OUT(IMAP_S2C, want);
    }
    S("PXK1 OK\r\n");
    assert_false(imap_session_keepalive_pending(H.s));
    h_end();
}

/* VANISHED (EARLIER) is not a removal the client must not see yet. */
static void test_containment_vanished_earlier_not_held(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 0);

    (void)state;
    h_start(&cfg);
    h_selected();
    assert_int_equal(h_timer(), 1);
    S("* VANISHED (EARLIER) 300:310\r\nPXK1 OK\r\n");
    OUT(IMAP_S2C, "* VANISHED (EARLIER) 300:310\r\n");
    assert_false(imap_session_holding(H.s));
    S("* VANISHED 4\r\n"); /* outside a keepalive: the server's business */
    OUT(IMAP_S2C, "* VANISHED (EARLIER) 300:310\r\n* VANISHED 4\r\n");
    assert_false(imap_session_holding(H.s));
    h_end();
}

/* ------------------------------------------------------------ IDLE mode */

static void test_idle_mode_lifecycle(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 1);
    size_t mark;

    (void)state;
    h_start(&cfg);
    h_selected();
    h_clock_ms(1000);
    assert_int_equal(h_timer(), 1);
    OUT(IMAP_C2S, "PXK1 IDLE\r\n");
    assert_string_equal(ka_ev("sent", 0)->cmd, "IDLE");
    assert_int_equal(imap_session_keepalive_waiting(H.s), 1000 + 1000 * 1000);
    S("+ idling\r\n");
    OUT(IMAP_S2C, "");
    /* an IDLE may last: no reply is due while it runs */
    assert_int_equal(imap_session_keepalive_waiting(H.s), 0);
    assert_true(imap_session_keepalive_pending(H.s));
    S("* 11 EXISTS\r\n* OK Still here\r\n");
    OUT(IMAP_S2C, "* 11 EXISTS\r\n* OK Still here\r\n");
    /* the timer again: renewed (DONE, then a fresh IDLE after the OK) */
    h_clock_ms(2000);
    assert_int_equal(h_timer(), 1);
    OUT(IMAP_C2S, "PXK1 IDLE\r\nDONE\r\n");
    assert_int_equal(imap_session_keepalive_waiting(H.s), 1000 + 2000 * 1000);
    mark = nev;
    S("PXK1 OK Idle completed\r\n");
    OUT(IMAP_C2S, "PXK1 IDLE\r\nDONE\r\nPXK2 IDLE\r\n");
    assert_non_null(ka_ev("idle_done", mark));
    assert_non_null(ka_ev("sent", mark));
    S("+ idling\r\n");
    /* the client speaks: DONE at once, its bytes wait for the OK */
    out_clear();
    C("a3 NOOP\r\n");
    OUT(IMAP_C2S, "DONE\r\n");
    C("a4 NOOP\r\n"); /* more bytes: no second DONE */
    OUT(IMAP_C2S, "DONE\r\n");
    S("PXK2 OK Idle completed\r\n");
    OUT(IMAP_C2S, "DONE\r\na3 NOOP\r\na4 NOOP\r\n");
    assert_false(imap_session_keepalive_pending(H.s));
    S("a3 OK\r\na4 OK\r\n");
    OUT(IMAP_S2C, "a3 OK\r\na4 OK\r\n");
    /* the client's commands in flight: no keepalive */
    C("a5 UID FETCH 1 (FLAGS)\r\n");
    assert_int_equal(h_timer(), 0);
    h_end();
}

/* The client speaks while a renewal's DONE is out: the renewal is off, the
 * client's command goes next (no fresh IDLE in front of it). */
static void test_idle_mode_client_during_renewal(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 1);
    size_t mark;

    (void)state;
    h_start(&cfg);
    h_selected();
    assert_int_equal(h_timer(), 1);
    S("+ idling\r\n");
    assert_int_equal(h_timer(), 1); /* renewal: DONE */
    OUT(IMAP_C2S, "PXK1 IDLE\r\nDONE\r\n");
    C("a3 NOOP\r\n"); /* before the IDLE's OK */
    OUT(IMAP_C2S, "PXK1 IDLE\r\nDONE\r\n");
    mark = nev;
    S("PXK1 OK Idle completed\r\n");
    OUT(IMAP_C2S, "PXK1 IDLE\r\nDONE\r\na3 NOOP\r\n");
    assert_null(ka_ev("sent", mark));
    assert_false(imap_session_keepalive_pending(H.s));
    S("a3 OK\r\n");
    OUT(IMAP_S2C, "a3 OK\r\n");
    h_end();
}

static void test_idle_mode_refused(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_NOOP, 1);

    (void)state;
    h_start(&cfg);
    h_selected();
    assert_int_equal(h_timer(), 1);
    S("PXK1 NO IDLE not allowed\r\n");
    OUT(IMAP_S2C, "");
    assert_false(imap_session_keepalive_pending(H.s));
    assert_non_null(ka_ev("no", 0));
    assert_int_equal(h_timer(), -1);
    h_end();
}

/* In authenticated state (no mailbox) IDLE mode still idles; SEARCH mode sends NOOP. */
static void test_command_by_state(void **state)
{
    struct imap_session_config cfg = ka_cfg(IMAP_KA_SEARCH, 0);

    (void)state;
    h_start(&cfg);
    S("* OK ready\r\n");
    C("l1 LOGIN alice s3cr3t\r\n");
    S("l1 OK done\r\n");
    out_clear();
    assert_int_equal(h_timer(), 1);
    OUT(IMAP_C2S, "PXK1 NOOP\r\n");
    S("PXK1 OK\r\n");
    C("s1 SELECT INBOX\r\n");
    S("* 2 EXISTS\r\ns1 OK done\r\n");
    out_clear();
    assert_int_equal(h_timer(), 1);
    OUT(IMAP_C2S, "PXK2 SEARCH UID *\r\n");
    S("* SEARCH 2\r\nPXK2 OK\r\n");
    /* CLOSE: back to authenticated, NOOP again */
    C("c1 CLOSE\r\n");
    S("c1 OK\r\n");
    out_clear();
    assert_int_equal(h_timer(), 1);
    OUT(IMAP_C2S, "PXK3 NOOP\r\n");
    S("PXK3 OK\r\n");
    OUT(IMAP_S2C, "");
    h_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_noop_lifecycle),
        cmocka_unit_test(test_api_refused_and_framing_lost),
        cmocka_unit_test(test_tag_prefix_and_client_tags),
        cmocka_unit_test(test_containment_verdicts),
        cmocka_unit_test(test_containment_uid_search_with_literal),
        cmocka_unit_test(test_containment_partial_unit_and_order),
        cmocka_unit_test(test_containment_partial_unit_relay_off),
        cmocka_unit_test(test_containment_second_keepalive),
        cmocka_unit_test(test_containment_held_max),
        cmocka_unit_test(test_containment_vanished_earlier_not_held),
        cmocka_unit_test(test_idle_mode_lifecycle),
        cmocka_unit_test(test_idle_mode_client_during_renewal),
        cmocka_unit_test(test_idle_mode_refused),
        cmocka_unit_test(test_command_by_state),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
