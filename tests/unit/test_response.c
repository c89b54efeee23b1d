/* test_response.c - s2c units become untagged, tagged and continue events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap_msg.h"
#include "imap_token.h"
#include "unit_helper.h"

/* Units as the framer hands them out (s2c). */
static const struct imap_unit *unit_of(enum imap_unit_kind kind, const char *w, size_t len)
{
    return test_unit(IMAP_S2C, kind, w, len);
}

/* ---- parsing and looking at the result ---- */

static struct imap_arena arena;
static struct imap_msg_opts opts;
static struct imap_response R;

static int setup(void **state)
{
    (void)state;
    imap_arena_init(&arena);
    opts = (struct imap_msg_opts){1, 0, 0};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    imap_arena_release(&arena);
    return 0;
}

static int parse_unit(const struct imap_unit *u)
{
    int ret;

    imap_arena_reset(&arena);
    memset(&R, 0x5a, sizeof(R)); /* the parser must set every field */
    ret = imap_response_parse(u, &arena, &opts, &R);
    assert_int_equal(ret, R.err != NULL ? -1 : 0);
    assert_int_equal(R.kind, u->kind);
    return ret;
}

static int parse(enum imap_unit_kind kind, const char *w, size_t len)
{
    return parse_unit(unit_of(kind, w, len));
}

#define P(kind, lit) parse((kind), (lit), sizeof(lit) - 1)

/* Renderings for comparisons, in a ring of buffers. */
static char *rbuf(void)
{
    static char ring[16][8192];
    static unsigned at;
    char *b = ring[at++ % 16];
    b[0] = '\0';
    return b;
}

static void radd(char *b, const char *p, size_t n)
{
    size_t len = strlen(b);
    assert_true(len + n < 8192);
    memcpy(b + len, p, n);
    b[len + n] = '\0';
}

static const char *rs(struct imap_str s)
{
    char *b = rbuf();

    if (s.p == NULL)
        return "-";
    radd(b, s.p, s.len);
    return b;
}

static const char *rnum(int present, uint64_t v)
{
    char *b = rbuf();

    if (!present)
        return "-";
    snprintf(b, 8192, "%llu", (unsigned long long)v);
    return b;
}

static const char *rstrs(int present, const struct imap_str *v, size_t n)
{
    char *b = rbuf();
    size_t i;

    if (!present)
        return "-";
    for (i = 0; i < n; i++) {
        if (i > 0)
            radd(b, " ", 1);
        radd(b, v[i].p, v[i].len);
    }
    return b;
}

static const char *rparts(void)
{
    const struct imap_ev_fetch *f = &R.untagged.fetch;
    char *b = rbuf();
    size_t i;

    if (f->nparts == 0)
        return "-";
    for (i = 0; i < f->nparts; i++) {
        char num[32];
        if (i > 0)
            radd(b, " ", 1);
        radd(b, f->parts[i].section.p, f->parts[i].section.len);
        snprintf(num, sizeof(num), "=%llu", (unsigned long long)f->parts[i].size);
        radd(b, num, strlen(num));
    }
    return b;
}

static const char *rlits(void)
{
    char *b = rbuf();
    size_t i;

    if (R.untagged.nliterals == 0)
        return "-";
    for (i = 0; i < R.untagged.nliterals; i++) {
        char num[32];
        snprintf(num, sizeof(num), "%s%llu", i > 0 ? " " : "",
                 (unsigned long long)R.untagged.literals[i].size);
        radd(b, num, strlen(num));
    }
    return b;
}

static const char *ritems(void)
{
    char *b = rbuf();
    size_t i;

    for (i = 0; i < R.untagged.nstatus_items; i++) {
        char num[32];
        if (i > 0)
            radd(b, " ", 1);
        radd(b, R.untagged.status_items[i].name.p, R.untagged.status_items[i].name.len);
        snprintf(num, sizeof(num), "=%llu", (unsigned long long)R.untagged.status_items[i].value);
        radd(b, num, strlen(num));
    }
    return b;
}

/*
 * What a unit must give.  NULL: not checked; "-": absent; anything else: the
 * value as text (lists joined by one space, parts as section=size).
 */
struct cx {
    const char *wire;
    size_t len;
    enum imap_unit_kind kind;
    const char *err, *err_tag;
    const char *name, *n, *code, *code_data, *text, *state, *caps;
    const char *tag, *status, *cont;
    const char *uid, *size, *modseq, *idate, *flags, *parts, *lits;
    const char *date, *subject, *from, *msgid;
    const char *attrs, *delim, *lname, *lname_utf8;
    const char *smbox, *sitems, *search, *stag, *van_uids, *van_earlier;
    const char *uflags, *id_name, *id_version;
    const char *lossy, *depth;
};

#define CHECK(field, got)                                                                         \
    do {                                                                                          \
        if (c->field != NULL && strcmp(c->field, (got)) != 0) {                                   \
            print_error("%s: " #field " is \"%s\", expected \"%s\"\n", c->wire, (got), c->field); \
            fail();                                                                               \
        }                                                                                         \
    } while (0)

static void check_cx(const struct cx *c)
{
    const struct imap_ev_untagged *ev = &R.untagged;
    const struct imap_ev_fetch *f = &ev->fetch;
    int tagged = c->kind == IMAP_UNIT_TAGGED;

    parse(c->kind, c->wire, c->len != 0 ? c->len : strlen(c->wire));
    CHECK(err, R.err != NULL ? R.err : "-");
    if (R.err != NULL) {
        assert_non_null(R.excerpt.p);
        assert_true(R.excerpt.len <= IMAP_EXCERPT_MAX);
    }
    CHECK(err_tag, rs(R.err_tag));
    CHECK(name, rs(ev->name));
    CHECK(n, rnum(ev->has_n, ev->n));
    CHECK(code, rs(tagged ? R.tagged.code : ev->code));
    CHECK(code_data, rs(tagged ? R.tagged.code_data : ev->code_data));
    CHECK(text, rs(tagged ? R.tagged.text : ev->text));
    CHECK(state, ev->has_state ? imap_state_name(ev->state) : "-");
    CHECK(caps, tagged ? rstrs(R.tagged.ncaps > 0, R.tagged.caps, R.tagged.ncaps)
                       : rstrs(ev->ncaps > 0, ev->caps, ev->ncaps));
    CHECK(tag, rs(R.tagged.tag));
    CHECK(status, rs(R.tagged.status));
    CHECK(cont, rs(R.cont.text));
    if (c->cont != NULL)
        assert_int_equal(R.cont.len, strlen(c->cont));
    CHECK(uid, rnum(f->present & IMAP_FETCH_UID, f->uid));
    CHECK(size, rnum(f->present & IMAP_FETCH_SIZE, f->size));
    CHECK(modseq, rnum(f->present & IMAP_FETCH_MODSEQ, f->modseq));
    CHECK(idate, rs(f->internaldate));
    CHECK(flags, rstrs(f->present & IMAP_FETCH_FLAGS, f->flags, f->nflags));
    CHECK(parts, rparts());
    CHECK(lits, rlits());
    CHECK(date, rs(f->envelope.date));
    CHECK(subject, rs(f->envelope.subject));
    CHECK(from, rs(f->envelope.from));
    CHECK(msgid, rs(f->envelope.message_id));
    CHECK(attrs, rstrs(ev->has_list, ev->list.attrs, ev->list.nattrs));
    CHECK(delim, rs(ev->list.delim));
    CHECK(lname, rs(ev->list.name));
    CHECK(lname_utf8, rs(ev->list.name_utf8));
    CHECK(smbox, ev->has_mbox_status ? rs(ev->status_mailbox) : "-");
    CHECK(sitems, ev->has_mbox_status ? ritems() : "-");
    CHECK(search, rnum(ev->has_search, ev->search_count));
    CHECK(stag, rs(ev->search_tag));
    CHECK(van_uids, ev->has_vanished ? rs(ev->vanished_uids) : "-");
    CHECK(van_earlier, ev->vanished_earlier ? "1" : "0");
    CHECK(uflags, rstrs(ev->has_flags, ev->flags, ev->nflags));
    CHECK(id_name, rs(ev->id_name));
    CHECK(id_version, rs(ev->id_version));
    CHECK(lossy, R.lossy ? "1" : "0");
    CHECK(depth, R.depth_exceeded ? "1" : "0");
}

static void check_all(const struct cx *cs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        check_cx(&cs[i]);
}

#define CHECK_ALL(cs) check_all((cs), sizeof(cs) / sizeof((cs)[0]))

/* The wire form of a C string literal, NULs included. */
#define W(lit) lit, sizeof(lit) - 1

/* ---- the corpus: every s2c response of shared/corpus/transcripts.json ---- */

static const struct cx corpus[] = {
    /* fetch_literal_contains_fake_responses @0 */
    {"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE AUTH=PLAIN] Dovecot ready.\r\n",
     87, .kind = IMAP_UNIT_STATUS, .state = "-", .name = "OK", .n = "-", .code = "CAPABILITY"},
    /* fetch_literal_contains_fake_responses @87 */
    {"a1 OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE SORT UIDPLUS MOVE CONDSTORE "
     "QRESYNC BINARY] Logged in\r\n",
     115, .kind = IMAP_UNIT_TAGGED, .tag = "a1", .status = "OK", .code = "CAPABILITY"},
    /* fetch_literal_contains_fake_responses @202 */
    {"* 10 EXISTS\r\n", 13, .kind = IMAP_UNIT_DATA, .name = "EXISTS", .n = "10"},
    /* fetch_literal_contains_fake_responses @215 */
    {"* OK [UIDVALIDITY 1700000000] UIDs valid\r\n", 42, .kind = IMAP_UNIT_STATUS, .state = "-",
     .name = "OK", .n = "-", .code = "UIDVALIDITY", .code_data = "1700000000"},
    /* fetch_literal_contains_fake_responses @257 */
    {"a2 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n", 59, .kind = IMAP_UNIT_TAGGED,
     .tag = "a2", .status = "OK", .code = "READ-WRITE"},
    /* fetch_literal_contains_fake_responses @316 */
    {"* 3 FETCH (UID 4827 RFC822.SIZE 118 BODY[] {118}\r\nFrom: bob@example.org\r\nSubject: "
     "tricky\r\n\r\nline one\r\n)\r\n* 5 EXPUNGE\r\na3 OK fake completion\r\n+ fake "
     "continuation\r\n{99}\r\n)\r\n",
     171, .kind = IMAP_UNIT_DATA, .name = "FETCH", .n = "3", .uid = "4827", .size = "118",
     .modseq = "-", .parts = "BODY[]=118", .lits = "118"},
    /* fetch_literal_contains_fake_responses @487 */
    {"a3 OK Fetch completed (0.002 + 0.000 secs).\r\n", 45, .kind = IMAP_UNIT_TAGGED, .tag = "a3",
     .status = "OK", .code = "-"},
    /* fetch_literal_split_across_reads @316 */
    {"* 1 FETCH (UID 4820 BODY[] {152}\r\nReceived: from mx.example.net\r\nSubject: "
     "split\r\n\r\n01234567890123456789012345678901234567890123456789012345678901234567890123456789"
     "0123456789\r\nlast line\r\n)\r\n",
     189, .kind = IMAP_UNIT_DATA, .name = "FETCH", .n = "1", .uid = "4820", .size = "-",
     .modseq = "-", .parts = "BODY[]=152", .lits = "152"},
    /* fetch_literal_split_across_reads @505 */
    {"a3 OK Fetch completed.\r\n", 24, .kind = IMAP_UNIT_TAGGED, .tag = "a3", .status = "OK",
     .code = "-"},
    /* append_sync_literal_untagged_before_continuation @316 */
    {"* 11 EXISTS\r\n", 13, .kind = IMAP_UNIT_DATA, .name = "EXISTS", .n = "11"},
    /* append_sync_literal_untagged_before_continuation @329 */
    {"+ Ready for literal data\r\n", 26, .kind = IMAP_UNIT_CONTINUE,
     .cont = "Ready for literal data"},
    /* append_sync_literal_untagged_before_continuation @355 */
    {"a3 OK [APPENDUID 1700000000 4832] Append completed (0.004 + 0.000 secs).\r\n", 74,
     .kind = IMAP_UNIT_TAGGED, .tag = "a3", .status = "OK", .code = "APPENDUID",
     .code_data = "1700000000 4832"},
    /* login_quoted_escapes_and_literal_password_redacted @87 */
    {"a0 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", 53, .kind = IMAP_UNIT_TAGGED,
     .tag = "a0", .status = "NO", .code = "AUTHENTICATIONFAILED"},
    /* login_quoted_escapes_and_literal_password_redacted @140 */
    {"+ OK\r\n", 6, .kind = IMAP_UNIT_CONTINUE},
    /* login_quoted_escapes_and_literal_password_redacted @152 */
    {"a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n", 45, .kind = IMAP_UNIT_TAGGED, .tag = "a1",
     .status = "OK", .code = "CAPABILITY"},
    /* idle_exists_during_idle_then_done @339 */
    {"* 1 RECENT\r\n", 12, .kind = IMAP_UNIT_DATA, .name = "RECENT", .n = "1"},
    /* idle_exists_during_idle_then_done @351 */
    {"* OK Still here\r\n", 17, .kind = IMAP_UNIT_STATUS, .state = "-", .name = "OK", .n = "-",
     .code = "-", .text = "Still here"},
    /* idle_exists_during_idle_then_done @368 */
    {"* 3 FETCH (FLAGS (\\Seen))\r\n", 27, .kind = IMAP_UNIT_DATA, .name = "FETCH", .n = "3",
     .uid = "-", .size = "-", .modseq = "-", .flags = "\\Seen"},
    /* idle_exists_during_idle_then_done @395 */
    {"a3 OK Idle completed (0.001 + 600.123 secs).\r\n", 46, .kind = IMAP_UNIT_TAGGED, .tag = "a3",
     .status = "OK", .code = "-"},
    /* idle_rejected_no_done_follows @202 */
    {"a3 BAD Error in IMAP command IDLE: Unknown command.\r\n", 53, .kind = IMAP_UNIT_TAGGED,
     .tag = "a3", .status = "BAD", .code = "-"},
    /* idle_rejected_no_done_follows @255 */
    {"a4 OK NOOP completed.\r\n", 23, .kind = IMAP_UNIT_TAGGED, .tag = "a4", .status = "OK",
     .code = "-"},
    /* server_bye_then_close @316 */
    {"* BYE Disconnected for inactivity.\r\n", 36, .kind = IMAP_UNIT_STATUS, .state = "-",
     .name = "BYE", .n = "-", .code = "-", .text = "Disconnected for inactivity."},
    /* pipelined_commands_out_of_order_completion @316 */
    {"* STATUS Archive (MESSAGES 231 UIDNEXT 44292)\r\n", 47, .kind = IMAP_UNIT_DATA,
     .name = "STATUS", .n = "-", .smbox = "Archive", .sitems = "MESSAGES=231 UIDNEXT=44292"},
    /* pipelined_commands_out_of_order_completion @363 */
    {"a4 OK Status completed.\r\n", 25, .kind = IMAP_UNIT_TAGGED, .tag = "a4", .status = "OK",
     .code = "-"},
    /* pipelined_commands_out_of_order_completion @388 */
    {"* 1 FETCH (UID 4820 FLAGS (\\Seen))\r\n", 36, .kind = IMAP_UNIT_DATA, .name = "FETCH",
     .n = "1", .uid = "4820", .size = "-", .modseq = "-", .flags = "\\Seen"},
    /* pipelined_commands_out_of_order_completion @424 */
    {"* 2 FETCH (UID 4821 FLAGS ())\r\n", 31, .kind = IMAP_UNIT_DATA, .name = "FETCH", .n = "2",
     .uid = "4821", .size = "-", .modseq = "-", .flags = ""},
    /* pipelined_commands_out_of_order_completion @479 */
    {"a5 OK NOOP completed.\r\n", 23, .kind = IMAP_UNIT_TAGGED, .tag = "a5", .status = "OK",
     .code = "-"},
    /* empty_literals_both_directions @322 */
    {"* SEARCH 4820 4821\r\n", 20, .kind = IMAP_UNIT_DATA, .name = "SEARCH", .n = "-",
     .search = "2"},
    /* empty_literals_both_directions @342 */
    {"a3 OK Search completed (0.001 + 0.000 secs).\r\n", 46, .kind = IMAP_UNIT_TAGGED, .tag = "a3",
     .status = "OK", .code = "-"},
    /* empty_literals_both_directions @388 */
    {"* 2 FETCH (UID 4821 BODY[2] {0}\r\n)\r\n", 36, .kind = IMAP_UNIT_DATA, .name = "FETCH",
     .n = "2", .uid = "4821", .size = "-", .modseq = "-", .parts = "BODY[2]=0", .lits = "0"},
    /* empty_literals_both_directions @424 */
    {"a4 OK Fetch completed.\r\n", 24, .kind = IMAP_UNIT_TAGGED, .tag = "a4", .status = "OK",
     .code = "-"},
    /* greeting_preauth @0 */
    {"* PREAUTH [CAPABILITY IMAP4rev1 IDLE NAMESPACE] IMAP4rev1 server logged in as fred\r\n", 84,
     .kind = IMAP_UNIT_STATUS, .name = "PREAUTH", .n = "-", .code = "CAPABILITY",
     .state = "authenticated"},
    /* greeting_preauth @84 */
    {"* 3 EXISTS\r\n", 12, .kind = IMAP_UNIT_DATA, .name = "EXISTS", .n = "3"},
    /* greeting_preauth @96 */
    {"* OK [UIDVALIDITY 42] UIDs valid\r\n", 34, .kind = IMAP_UNIT_STATUS, .state = "-",
     .name = "OK", .n = "-", .code = "UIDVALIDITY", .code_data = "42"},
    /* greeting_preauth @130 */
    {"a1 OK [READ-WRITE] SELECT completed\r\n", 37, .kind = IMAP_UNIT_TAGGED, .tag = "a1",
     .status = "OK", .code = "READ-WRITE"},
    /* untagged_alert_no_and_permanentflags @202 */
    {"* OK [ALERT] System shutdown in 10 minutes\r\n", 44, .kind = IMAP_UNIT_STATUS, .state = "-",
     .name = "OK", .n = "-", .code = "ALERT", .text = "System shutdown in 10 minutes"},
    /* untagged_alert_no_and_permanentflags @246 */
    {"* NO [ALERT] Mailbox quota at 95%\r\n", 35, .kind = IMAP_UNIT_STATUS, .state = "-",
     .name = "NO", .n = "-", .code = "ALERT", .text = "Mailbox quota at 95%"},
    /* untagged_alert_no_and_permanentflags @281 */
    {"* 0 EXISTS\r\n", 12, .kind = IMAP_UNIT_DATA, .name = "EXISTS", .n = "0"},
    /* untagged_alert_no_and_permanentflags @293 */
    {"* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n", 55, .kind = IMAP_UNIT_STATUS,
     .state = "-", .name = "OK", .n = "-", .code = "PERMANENTFLAGS", .code_data = "()"},
    /* untagged_alert_no_and_permanentflags @348 */
    {"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n", 42, .kind = IMAP_UNIT_STATUS, .state = "-",
     .name = "OK", .n = "-", .code = "UIDVALIDITY", .code_data = "3857529045"},
    /* untagged_alert_no_and_permanentflags @390 */
    {"a3 OK [READ-ONLY] Examine completed\r\n", 37, .kind = IMAP_UNIT_TAGGED, .tag = "a3",
     .status = "OK", .code = "READ-ONLY"},
    /* authenticate_plain_with_continuation @0 */
    {"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n", 46, .kind = IMAP_UNIT_STATUS, .state = "-",
     .name = "OK", .n = "-", .code = "CAPABILITY"},
    /* authenticate_plain_with_continuation @46 */
    {"+ \r\n", 4, .kind = IMAP_UNIT_CONTINUE},
    /* authenticate_plain_sasl_ir @0 */
    {"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n", 54, .kind = IMAP_UNIT_STATUS,
     .state = "-", .name = "OK", .n = "-", .code = "CAPABILITY"},
    /* authenticate_plain_sasl_ir @54 */
    {"A001 OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in\r\n", 52, .kind = IMAP_UNIT_TAGGED,
     .tag = "A001", .status = "OK", .code = "CAPABILITY"},
    /* authenticate_login_cancel_then_success @0 */
    {"* OK [CAPABILITY IMAP4rev1 AUTH=LOGIN AUTH=PLAIN] ready\r\n", 57, .kind = IMAP_UNIT_STATUS,
     .state = "-", .name = "OK", .n = "-", .code = "CAPABILITY"},
    /* authenticate_login_cancel_then_success @57 */
    {"+ VXNlcm5hbWU6\r\n", 16, .kind = IMAP_UNIT_CONTINUE},
    /* authenticate_login_cancel_then_success @73 */
    {"a0 BAD Authentication aborted by client.\r\n", 42, .kind = IMAP_UNIT_TAGGED, .tag = "a0",
     .status = "BAD", .code = "-"},
    /* authenticate_login_cancel_then_success @131 */
    {"+ UGFzc3dvcmQ6\r\n", 16, .kind = IMAP_UNIT_CONTINUE},
    /* authenticate_login_cancel_then_success @147 */
    {"a1 OK Logged in\r\n", 17, .kind = IMAP_UNIT_TAGGED, .tag = "a1", .status = "OK", .code = "-"},
    /* malformed_lines_parse_error_relayed_unchanged @316 */
    {"* 4 FETCH (FLAGS (\\Seen) UID\r\n", 30, .kind = IMAP_UNIT_DATA, .err = "unbalanced_paren"},
    /* malformed_lines_parse_error_relayed_unchanged @346 */
    {"a3 BAD Error in IMAP command FETCH: Invalid arguments.\r\n", 56, .kind = IMAP_UNIT_TAGGED,
     .tag = "a3", .status = "BAD", .code = "-"},
    /* malformed_lines_parse_error_relayed_unchanged @402 */
    {"garbage\001 without tag\r\n", 22, .kind = IMAP_UNIT_MALFORMED, .err = "bad_tag"},
    /* capability_rewrite_strip_compress_and_scram_plus @0 */
    {"* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE AUTH=PLAIN AUTH=SCRAM-SHA-256 "
     "AUTH=SCRAM-SHA-256-PLUS COMPRESS=DEFLATE] ready\r\n",
     138, .kind = IMAP_UNIT_STATUS, .state = "-", .name = "OK", .n = "-", .code = "CAPABILITY"},
    /* capability_rewrite_strip_compress_and_scram_plus @138 */
    {"* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE AUTH=PLAIN AUTH=SCRAM-SHA-256 "
     "AUTH=SCRAM-SHA-256-PLUS COMPRESS=DEFLATE\r\n",
     127, .kind = IMAP_UNIT_DATA, .name = "CAPABILITY", .n = "-"},
    /* capability_rewrite_strip_compress_and_scram_plus @265 */
    {"a1 OK Pre-login capabilities listed, post-login capabilities have more.\r\n", 73,
     .kind = IMAP_UNIT_TAGGED, .tag = "a1", .status = "OK", .code = "-"},
    /* capability_rewrite_strip_compress_and_scram_plus @338 */
    {"a2 OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE SORT THREAD=REFERENCES MOVE "
     "COMPRESS=DEFLATE QRESYNC] Logged in\r\n",
     125, .kind = IMAP_UNIT_TAGGED, .tag = "a2", .status = "OK", .code = "CAPABILITY"},
    /* keepalive_selected_search_untagged_forwarded @341 */
    {"* SEARCH 11\r\n", 13, .kind = IMAP_UNIT_DATA, .name = "SEARCH", .n = "-", .search = "1"},
    /* sync_literal_rejected_by_tagged_no @202 */
    {"a3 NO [TOOBIG] Message too large (max 50 MiB)\r\n", 47, .kind = IMAP_UNIT_TAGGED, .tag = "a3",
     .status = "NO", .code = "TOOBIG"},
    /* literal8_binary_with_nul_octets @316 */
    {"* 10 FETCH (UID 4831 BINARY.SIZE[2] 8 BINARY[2] ~{8}\r\n\211PNG\000\000\r\n)\r\n", 65,
     .kind = IMAP_UNIT_DATA, .name = "FETCH", .n = "10", .uid = "4831", .size = "-", .modseq = "-",
     .parts = "BINARY[2]=8", .lits = "8"},
    /* literal8_binary_with_nul_octets @405 */
    {"a4 OK [APPENDUID 1700000000 4833] Append completed.\r\n", 53, .kind = IMAP_UNIT_TAGGED,
     .tag = "a4", .status = "OK", .code = "APPENDUID", .code_data = "1700000000 4833"},
    /* qresync_select_vanished_earlier_and_uid_move @0 */
    {"* OK [CAPABILITY IMAP4rev1 SASL-IR ENABLE IDLE UIDPLUS MOVE CONDSTORE QRESYNC AUTH=PLAIN] "
     "ready\r\n",
     97, .kind = IMAP_UNIT_STATUS, .state = "-", .name = "OK", .n = "-", .code = "CAPABILITY"},
    /* qresync_select_vanished_earlier_and_uid_move @114 */
    {"* ENABLED QRESYNC\r\n", 19, .kind = IMAP_UNIT_DATA, .name = "ENABLED", .n = "-",
     .caps = "QRESYNC"},
    /* qresync_select_vanished_earlier_and_uid_move @133 */
    {"a2 OK Enabled\r\n", 15, .kind = IMAP_UNIT_TAGGED, .tag = "a2", .status = "OK", .code = "-"},
    /* qresync_select_vanished_earlier_and_uid_move @148 */
    {"* 314 EXISTS\r\n", 14, .kind = IMAP_UNIT_DATA, .name = "EXISTS", .n = "314"},
    /* qresync_select_vanished_earlier_and_uid_move @162 */
    {"* OK [UIDVALIDITY 67890007] UIDVALIDITY\r\n", 41, .kind = IMAP_UNIT_STATUS, .state = "-",
     .name = "OK", .n = "-", .code = "UIDVALIDITY", .code_data = "67890007"},
    /* qresync_select_vanished_earlier_and_uid_move @203 */
    {"* OK [UIDNEXT 567] Predicted next UID\r\n", 39, .kind = IMAP_UNIT_STATUS, .state = "-",
     .name = "OK", .n = "-", .code = "UIDNEXT", .code_data = "567"},
    /* qresync_select_vanished_earlier_and_uid_move @242 */
    {"* OK [HIGHESTMODSEQ 20050715194045319] Highest\r\n", 48, .kind = IMAP_UNIT_STATUS,
     .state = "-", .name = "OK", .n = "-", .code = "HIGHESTMODSEQ",
     .code_data = "20050715194045319"},
    /* qresync_select_vanished_earlier_and_uid_move @290 */
    {"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n", 52, .kind = IMAP_UNIT_DATA,
     .name = "VANISHED", .n = "-", .van_uids = "41,43:116,118,120:211,214:540", .van_earlier = "1"},
    /* qresync_select_vanished_earlier_and_uid_move @342 */
    {"* 49 FETCH (UID 117 FLAGS (\\Seen \\Answered) MODSEQ (20050715194045300))\r\n", 73,
     .kind = IMAP_UNIT_DATA, .name = "FETCH", .n = "49", .uid = "117", .size = "-",
     .modseq = "20050715194045300", .flags = "\\Seen \\Answered"},
    /* qresync_select_vanished_earlier_and_uid_move @415 */
    {"* 50 FETCH (UID 119 FLAGS (\\Draft $MDNSent) MODSEQ (20050715194045308))\r\n", 73,
     .kind = IMAP_UNIT_DATA, .name = "FETCH", .n = "50", .uid = "119", .size = "-",
     .modseq = "20050715194045308", .flags = "\\Draft $MDNSent"},
    /* qresync_select_vanished_earlier_and_uid_move @488 */
    {"a3 OK [READ-WRITE] mailbox selected\r\n", 37, .kind = IMAP_UNIT_TAGGED, .tag = "a3",
     .status = "OK", .code = "READ-WRITE"},
    /* qresync_select_vanished_earlier_and_uid_move @525 */
    {"* OK [COPYUID 1700000999 117,119 900:901] Moved UIDs.\r\n", 55, .kind = IMAP_UNIT_STATUS,
     .state = "-", .name = "OK", .n = "-", .code = "COPYUID",
     .code_data = "1700000999 117,119 900:901"},
    /* qresync_select_vanished_earlier_and_uid_move @580 */
    {"* VANISHED 117,119\r\n", 20, .kind = IMAP_UNIT_DATA, .name = "VANISHED", .n = "-",
     .van_uids = "117,119", .van_earlier = "0"},
    /* qresync_select_vanished_earlier_and_uid_move @600 */
    {"a4 OK Move completed.\r\n", 23, .kind = IMAP_UNIT_TAGGED, .tag = "a4", .status = "OK",
     .code = "-"},
};

static void test_corpus(void **state)
{
    (void)state;
    CHECK_ALL(corpus);
}

/* ---- continuation requests ---- */

static void test_continue(void **state)
{
    static const struct cx cs[] = {
        {W("+"), IMAP_UNIT_CONTINUE, .cont = "", .err = "-"},
        {W("+ \r\n"), IMAP_UNIT_CONTINUE, .cont = ""},
        {W("+ OK\r\n"), IMAP_UNIT_CONTINUE, .cont = "OK"},
        {W("+ Ready for literal data\r\n"), IMAP_UNIT_CONTINUE, .cont = "Ready for literal data"},
        {W("+ VXNlcm5hbWU6\r\n"), IMAP_UNIT_CONTINUE, .cont = "VXNlcm5hbWU6"},
        /* text mode: a trailing "{12}" is text */
        {W("+ send {12}\r\n"), IMAP_UNIT_CONTINUE, .cont = "send {12}", .lits = "-"},
        {W("+  two\r\n"), IMAP_UNIT_CONTINUE, .cont = " two"},
        {W("+ caf\303\251\r\n"), IMAP_UNIT_CONTINUE, .cont = "caf\303\251", .lossy = "0"},
        {W("+ caf\351\r\n"), IMAP_UNIT_CONTINUE, .lossy = "1"},
    };
    (void)state;
    CHECK_ALL(cs);
    /* bare "+": an empty string, not an absent one */
    P(IMAP_UNIT_CONTINUE, "+");
    assert_non_null(R.cont.text.p);
    assert_int_equal(R.cont.len, 0);
}

/* ---- tagged completions ---- */

static void test_tagged(void **state)
{
    static const struct cx cs[] = {
        {W("a1 OK Logged in\r\n"), IMAP_UNIT_TAGGED, .tag = "a1", .status = "OK", .code = "-",
         .code_data = "-", .text = "Logged in", .caps = "-"},
        {W("a.b-c]9 no Failed\r\n"), IMAP_UNIT_TAGGED, .tag = "a.b-c]9", .status = "NO",
         .text = "Failed"},
        {W("x Bad\r\n"), IMAP_UNIT_TAGGED, .tag = "x", .status = "BAD", .text = ""},
        {W("x OK \r\n"), IMAP_UNIT_TAGGED, .status = "OK", .text = ""},
        {W("a2 OK [READ-WRITE]\r\n"), IMAP_UNIT_TAGGED, .code = "READ-WRITE", .code_data = "-",
         .text = ""},
        {W("a2 OK [read-write] Select done\r\n"), IMAP_UNIT_TAGGED, .code = "READ-WRITE",
         .text = "Select done"},
        {W("a3 NO [OVERQUOTA] Quota exceeded {12}\r\n"), IMAP_UNIT_TAGGED, .code = "OVERQUOTA",
         .text = "Quota exceeded {12}"},
        {W("a4 OK [APPENDUID 1700000000 4832] Append completed.\r\n"), IMAP_UNIT_TAGGED,
         .code = "APPENDUID", .code_data = "1700000000 4832", .text = "Append completed."},
        {W("a5 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"), IMAP_UNIT_TAGGED,
         .code = "COPYUID", .code_data = "38505 304,319:320 3956:3958", .text = "Done"},
        {W("a6 OK [CAPABILITY IMAP4rev1 IDLE  MOVE] Logged in\r\n"), IMAP_UNIT_TAGGED,
         .code = "CAPABILITY", .caps = "IMAP4rev1 IDLE MOVE", .text = "Logged in"},
        {W("a7 NO [BADCHARSET (UTF-8 \"x\")] Unsupported\r\n"), IMAP_UNIT_TAGGED,
         .code = "BADCHARSET", .code_data = "(UTF-8 \"x\")", .text = "Unsupported"},
        {W("a7 NO [BADCHARSET (\"we]ird\" US-ASCII)] No\r\n"), IMAP_UNIT_TAGGED,
         .code = "BADCHARSET", .code_data = "(\"we]ird\" US-ASCII)", .text = "No"},
        {W("a7 NO [BADCHARSET] No\r\n"), IMAP_UNIT_TAGGED, .code = "BADCHARSET", .code_data = "-",
         .text = "No"},
        /* unknown codes stop at the first "]" */
        {W("a8 OK [X-FOO \"a]b\"] c\r\n"), IMAP_UNIT_TAGGED, .code = "X-FOO", .code_data = "\"a",
         .text = "b\"] c"},
        /* a "[" without "]" is text, kept whole */
        {W("a9 NO [ALERT no end\r\n"), IMAP_UNIT_TAGGED, .code = "-", .text = "[ALERT no end"},
        {W("a9 NO [] x\r\n"), IMAP_UNIT_TAGGED, .code = "-", .text = "[] x"},
        {W("a9 NO [TOOBIG]x\r\n"), IMAP_UNIT_TAGGED, .code = "TOOBIG", .text = "x"},
        {W("a9 OK Caf\351\r\n"), IMAP_UNIT_TAGGED, .text = "Caf\351", .lossy = "1"},
        {W("a9 OK Caf\303\251\r\n"), IMAP_UNIT_TAGGED, .lossy = "0"},
    };
    (void)state;
    CHECK_ALL(cs);
}

/* ---- untagged status responses ---- */

static void test_status_lines(void **state)
{
    static const struct cx cs[] = {
        {W("* OK [ALERT] System shutdown in 10 minutes\r\n"), IMAP_UNIT_STATUS, .name = "OK",
         .code = "ALERT", .code_data = "-", .text = "System shutdown in 10 minutes", .state = "-",
         .n = "-"},
        /* ALERT text verbatim: spaces, brackets, a trailing "{5}" */
        {W("* NO [ALERT]  Click [here]  now {5}\r\n"), IMAP_UNIT_STATUS, .name = "NO",
         .code = "ALERT", .text = " Click [here]  now {5}", .lits = "-"},
        {W("* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n"), IMAP_UNIT_STATUS,
         .code = "PERMANENTFLAGS", .code_data = "()", .text = "No permanent flags permitted"},
        {W("* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"), IMAP_UNIT_STATUS,
         .code = "PERMANENTFLAGS", .code_data = "(\\Deleted \\Seen \\*)", .text = "Limited"},
        {W("* OK [HIGHESTMODSEQ 20050715194045319] Highest\r\n"), IMAP_UNIT_STATUS,
         .code = "HIGHESTMODSEQ", .code_data = "20050715194045319", .text = "Highest"},
        {W("* OK [COPYUID 1700000999 117,119 900:901] Moved UIDs.\r\n"), IMAP_UNIT_STATUS,
         .code = "COPYUID", .code_data = "1700000999 117,119 900:901", .text = "Moved UIDs."},
        {W("* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] Dovecot ready.\r\n"),
         IMAP_UNIT_STATUS, .code = "CAPABILITY", .caps = "IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN",
         .text = "Dovecot ready."},
        {W("* PREAUTH [CAPABILITY IMAP4rev1 IDLE] logged in as fred\r\n"), IMAP_UNIT_STATUS,
         .name = "PREAUTH", .state = "authenticated", .caps = "IMAP4rev1 IDLE"},
        {W("* preauth hi\r\n"), IMAP_UNIT_STATUS, .name = "PREAUTH", .state = "authenticated",
         .text = "hi"},
        {W("* BYE\r\n"), IMAP_UNIT_STATUS, .name = "BYE", .text = "", .code = "-"},
        {W("* bye [UNAVAILABLE] upstream not responding\r\n"), IMAP_UNIT_STATUS, .name = "BYE",
         .code = "UNAVAILABLE", .text = "upstream not responding"},
        {W("* BAD [uidnext 4] Weird\r\n"), IMAP_UNIT_STATUS, .name = "BAD", .code = "UIDNEXT",
         .code_data = "4"},
        {W("* OK [UIDNEXT 567] Predicted next UID\r\n"), IMAP_UNIT_STATUS, .code = "UIDNEXT",
         .code_data = "567", .text = "Predicted next UID"},
    };
    (void)state;
    CHECK_ALL(cs);
}

/* ---- FETCH ---- */

static void test_fetch_items(void **state)
{
    static const struct cx cs[] = {
        {W("* 12345 FETCH (UID 67890 FLAGS (\\Seen) MODSEQ (123456))\r\n"), IMAP_UNIT_DATA,
         .name = "FETCH", .n = "12345", .uid = "67890", .flags = "\\Seen", .modseq = "123456",
         .size = "-", .idate = "-", .parts = "-", .lits = "-", .err = "-"},
        /* keywords and \* are atoms; an empty list is present with no flags */
        {W("* 1 FETCH (FLAGS (\\Answered $MDNSent NonJunk \\*))\r\n"), IMAP_UNIT_DATA,
         .flags = "\\Answered $MDNSent NonJunk \\*", .uid = "-"},
        {W("* 1 FETCH (FLAGS ())\r\n"), IMAP_UNIT_DATA, .flags = ""},
        {W("* 1 FETCH (UID 5)\r\n"), IMAP_UNIT_DATA, .flags = "-", .uid = "5"},
        /* 64-bit MODSEQ and RFC822.SIZE; UID is 32-bit */
        {W("* 1 FETCH (MODSEQ (18446744073709551615) RFC822.SIZE 4294967296)\r\n"), IMAP_UNIT_DATA,
         .modseq = "18446744073709551615", .size = "4294967296"},
        {W("* 1 FETCH (UID 4294967295)\r\n"), IMAP_UNIT_DATA, .uid = "4294967295"},
        {W("* 1 FETCH (UID 4294967296 MODSEQ (18446744073709551616))\r\n"), IMAP_UNIT_DATA,
         .uid = "-", .modseq = "-", .err = "-"},
        {W("* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n"), IMAP_UNIT_DATA,
         .idate = "17-Jul-1996 02:44:25 -0700"},
        {W("* 1 FETCH (INTERNALDATE NIL)\r\n"), IMAP_UNIT_DATA, .idate = "-"},
        /* lower case everywhere: names are upper-cased, sections kept as sent */
        {W("* 7 fetch (uid 9 flags (\\seen) rfc822.size 44 body[text]<0> {3}\r\nabc)\r\n"),
         IMAP_UNIT_DATA, .name = "FETCH", .n = "7", .uid = "9", .flags = "\\seen", .size = "44",
         .parts = "body[text]<0>=3", .lits = "3"},
        {W("* 2 FETCH (BODY[] {5}\r\nhello BODY[TEXT]<0> {2}\r\nab BINARY[2] ~{3}\r\n\000\001\002"
           " BODY[HEADER.FIELDS (From To)] {4}\r\nF: x RFC822 \"abc\" RFC822.HEADER \"a\\\"b\""
           " RFC822.TEXT NIL)\r\n"),
         IMAP_UNIT_DATA,
         .parts = "BODY[]=5 BODY[TEXT]<0>=2 BINARY[2]=3 BODY[HEADER.FIELDS (From To)]=4 "
                  "RFC822=3 RFC822.HEADER=3 RFC822.TEXT=0",
         .lits = "5 2 3 4", .err = "-"},
        {W("* 2 FETCH (BODY[1.2.MIME] \"\" BODY[]<100> {0}\r\n)\r\n"), IMAP_UNIT_DATA,
         .parts = "BODY[1.2.MIME]=0 BODY[]<100>=0", .lits = "0"},
        /* items whose value is skipped whole */
        {W("* 3 FETCH (BINARY.SIZE[2] 8 EMAILID (M6d99ac3275bb4e) THREADID NIL "
           "X-GM-MSGID 1278455344230334865 X-GM-THRID 1266894439832287888 "
           "X-GM-LABELS (\\Inbox \"foo bar\" {3}\r\nx)y) X-UNKNOWN ((a (b)) \"c\") "
           "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92) "
           "UID 77)\r\n"),
         IMAP_UNIT_DATA, .uid = "77", .parts = "-", .lits = "3", .err = "-"},
        /* numbered responses other than FETCH */
        {W("* 10 EXISTS\r\n"), IMAP_UNIT_DATA, .name = "EXISTS", .n = "10", .uid = "-"},
        {W("* 3 expunge\r\n"), IMAP_UNIT_DATA, .name = "EXPUNGE", .n = "3"},
        {W("* 0 RECENT\r\n"), IMAP_UNIT_DATA, .name = "RECENT", .n = "0"},
        {W("* 5 x-whatever (a b)\r\n"), IMAP_UNIT_DATA, .name = "X-WHATEVER", .n = "5"},
        {W("* 9 UIDFETCH (UID 9 FLAGS (\\Seen))\r\n"), IMAP_UNIT_DATA, .name = "UIDFETCH",
         .uid = "9", .flags = "\\Seen"},
        /* a value missing at the end of the list */
        {W("* 1 FETCH (UID 3 FLAGS)\r\n"), IMAP_UNIT_DATA, .uid = "3", .flags = "-", .err = "-"},
    };
    (void)state;
    CHECK_ALL(cs);
    P(IMAP_UNIT_DATA, "* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n");
    assert_int_equal(R.untagged.has_fetch, 1);
    P(IMAP_UNIT_DATA, "* 1 EXISTS\r\n");
    assert_int_equal(R.untagged.has_fetch, 0);
}

static void test_fetch_envelope(void **state)
{
    static const struct cx cs[] = {
        {W("* 12 FETCH (UID 4827 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
           "\"IMAP4rev1 WG mtg summary and minutes\" "
           "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
           "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
           "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
           "((NIL NIL \"imap\" \"cac.washington.edu\")) "
           "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" "
           "\"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\"))\r\n"),
         IMAP_UNIT_DATA, .uid = "4827", .date = "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
         .subject = "IMAP4rev1 WG mtg summary and minutes",
         .from = "Terry Gray <gray@cac.washington.edu>",
         .msgid = "<B27397-0100000@cac.washington.edu>", .err = "-"},
        /* all NIL */
        {W("* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"), IMAP_UNIT_DATA,
         .date = "-", .subject = "-", .from = "-", .msgid = "-", .err = "-"},
        /* several From addresses, the first without a name; an escaped quote */
        {W("* 1 FETCH (ENVELOPE (NIL \"say \\\"hi\\\" \\\\o/\" ((NIL NIL \"alice\" "
           "\"example.org\")(\"Bob\" NIL \"bob\" \"example.net\")) NIL NIL NIL NIL NIL NIL "
           "NIL))\r\n"),
         IMAP_UNIT_DATA, .subject = "say \"hi\" \\o/", .from = "alice@example.org"},
        /* group syntax: the group markers are passed over */
        {W("* 1 FETCH (ENVELOPE (NIL \"s\" ((NIL NIL \"team\" NIL)(\"Carol C\" NIL \"carol\" "
           "\"example.com\")(NIL NIL NIL NIL)) NIL NIL NIL NIL NIL NIL NIL))\r\n"),
         IMAP_UNIT_DATA, .from = "Carol C <carol@example.com>"},
        {W("* 1 FETCH (ENVELOPE (NIL \"s\" ((NIL NIL \"undisclosed\" NIL)(NIL NIL NIL NIL)) NIL "
           "NIL NIL NIL NIL NIL NIL))\r\n"),
         IMAP_UNIT_DATA, .from = "-", .subject = "s"},
        /* an empty name is no name; a literal subject and a literal name */
        {W("* 1 FETCH (ENVELOPE (\"d\" {12}\r\nHello\r\nWorld ((\"\" NIL \"x\" \"y.z\")) NIL NIL "
           "NIL NIL NIL NIL {5}\r\n<a@b>) UID 8)\r\n"),
         IMAP_UNIT_DATA, .date = "d", .subject = "Hello\r\nWorld", .from = "x@y.z",
         .msgid = "<a@b>", .uid = "8", .lits = "12 5"},
        {W("* 1 FETCH (ENVELOPE (NIL NIL (({4}\r\nAn N NIL \"a\" \"b\")) NIL NIL NIL NIL NIL NIL "
           "NIL))\r\n"),
         IMAP_UNIT_DATA, .from = "An N <a@b>", .lits = "4"},
        /* 8-bit octets in a subject: kept, and the event is lossy */
        {W("* 1 FETCH (ENVELOPE (NIL \"Caf\351\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"),
         IMAP_UNIT_DATA, .subject = "Caf\351", .lossy = "1"},
        {W("* 1 FETCH (ENVELOPE (NIL \"Caf\303\251\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"),
         IMAP_UNIT_DATA, .subject = "Caf\303\251", .lossy = "0"},
        {W("* 1 FETCH (ENVELOPE (NIL {4}\r\nCaf\351 NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"),
         IMAP_UNIT_DATA, .lossy = "1"},
    };
    (void)state;
    CHECK_ALL(cs);
    P(IMAP_UNIT_DATA, "* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n");
    assert_true(R.untagged.fetch.present & IMAP_FETCH_ENVELOPE);
}

static void test_fetch_bodystructure(void **state)
{
    static const struct cx cs[] = {
        /* multipart/mixed holding multipart/alternative and a message/rfc822 whose
         * ENVELOPE has literals; the items after it are still read */
        {W("* 4 FETCH (UID 10 BODYSTRUCTURE (((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL "
           "\"7BIT\" 12 1 NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"UTF-8\") NIL NIL "
           "\"QUOTED-PRINTABLE\" 40 2 NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"b2\") NIL NIL)"
           "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 300 (NIL {7}\r\n(sub) ( ((\"N\" NIL \"a\" "
           "\"b\")) NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1) 9 "
           "NIL (\"ATTACHMENT\" (\"FILENAME\" {6}\r\na)b(.c)) NIL NIL) \"MIXED\" (\"BOUNDARY\" "
           "\"b1\") NIL (\"EN\" \"DE\") \"loc\") FLAGS (\\Seen) BODY[] {2}\r\nok)\r\n"),
         IMAP_UNIT_DATA, .uid = "10", .flags = "\\Seen", .parts = "BODY[]=2", .lits = "7 6 2",
         .subject = "-", .err = "-", .depth = "0"},
    };
    (void)state;
    CHECK_ALL(cs);
}

/* ---- other untagged data ---- */

static void test_capability_flags_enabled(void **state)
{
    static const struct cx cs[] = {
        {W("* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE AUTH=PLAIN "
           "AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-256-PLUS COMPRESS=DEFLATE\r\n"),
         IMAP_UNIT_DATA, .name = "CAPABILITY", .n = "-",
         .caps = "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE AUTH=PLAIN AUTH=SCRAM-SHA-256 "
                 "AUTH=SCRAM-SHA-256-PLUS COMPRESS=DEFLATE"},
        {W("* capability imap4rev1\r\n"), IMAP_UNIT_DATA, .name = "CAPABILITY",
         .caps = "imap4rev1"},
        {W("* ENABLED QRESYNC CONDSTORE\r\n"), IMAP_UNIT_DATA, .name = "ENABLED",
         .caps = "QRESYNC CONDSTORE"},
        {W("* ENABLED\r\n"), IMAP_UNIT_DATA, .name = "ENABLED", .caps = "-"},
        {W("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n"),
         IMAP_UNIT_DATA, .name = "FLAGS",
         .uflags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded", .flags = "-"},
        {W("* FLAGS ()\r\n"), IMAP_UNIT_DATA, .name = "FLAGS", .uflags = ""},
    };
    (void)state;
    CHECK_ALL(cs);
}

static void test_list(void **state)
{
    static const struct cx cs[] = {
        {W("* LIST (\\HasNoChildren) \"/\" INBOX\r\n"), IMAP_UNIT_DATA, .name = "LIST",
         .attrs = "\\HasNoChildren", .delim = "/", .lname = "INBOX", .lname_utf8 = "-"},
        {W("* LIST () \"\\\\\" \"Public Folders\\\\Sales\"\r\n"), IMAP_UNIT_DATA, .attrs = "",
         .delim = "\\", .lname = "Public Folders\\Sales"},
        {W("* LSUB (\\Noselect) NIL foo\r\n"), IMAP_UNIT_DATA, .name = "LSUB",
         .attrs = "\\Noselect", .delim = "-", .lname = "foo"},
        {W("* LIST (\\HasNoChildren \\Sent) \"/\" \"[Gmail]/Sent Mail\"\r\n"), IMAP_UNIT_DATA,
         .attrs = "\\HasNoChildren \\Sent", .lname = "[Gmail]/Sent Mail"},
        {W("* LIST (\\HasChildren \\Noselect) \"/\" [Gmail]\r\n"), IMAP_UNIT_DATA,
         .lname = "[Gmail]"},
        /* a literal name with CRLF inside */
        {W("* LIST () \"/\" {10}\r\nWith\r\nCRLF\r\n"), IMAP_UNIT_DATA, .lname = "With\r\nCRLF",
         .lits = "10"},
        /* LIST-EXTENDED data after the name is skipped */
        {W("* LIST (\\Subscribed) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\") \"OLDNAME\" "
           "(\"Bar\"))\r\n"),
         IMAP_UNIT_DATA, .attrs = "\\Subscribed", .lname = "Foo", .err = "-"},
        {W("* LIST (\\Marked) \".\" \"NIL\"\r\n"), IMAP_UNIT_DATA, .delim = ".", .lname = "NIL"},
        {W("* LIST (\\Noinferiors) \"\\\"\" x\r\n"), IMAP_UNIT_DATA, .delim = "\""},
        {W("* list (\\Marked) \"/\" \"a&-b\"\r\n"), IMAP_UNIT_DATA, .name = "LIST",
         .lname = "a&-b"},
    };
    (void)state;
    CHECK_ALL(cs);
}

static void test_list_mutf7(void **state)
{
    static const struct cx cs[] = {
        {W("* LIST (\\HasNoChildren) \"/\" \"&U,BTFw-/&ZeVnLIqe-\"\r\n"), IMAP_UNIT_DATA,
         .lname = "&U,BTFw-/&ZeVnLIqe-",
         .lname_utf8 = "\345\217\260\345\214\227/\346\227\245\346\234\254\350\252\236"},
        {W("* LIST () \"/\" Entw&APw-rfe\r\n"), IMAP_UNIT_DATA, .lname = "Entw&APw-rfe",
         .lname_utf8 = "Entw\303\274rfe"},
        /* no shift sequence, or an invalid one: no name_utf8 */
        {W("* LIST () \"/\" Plain\r\n"), IMAP_UNIT_DATA, .lname_utf8 = "-"},
        {W("* LIST () \"/\" \"bad&Jjo\"\r\n"), IMAP_UNIT_DATA, .lname = "bad&Jjo",
         .lname_utf8 = "-"},
    };
    (void)state;
    CHECK_ALL(cs);
    /* names are UTF-8 already after ENABLE UTF8=ACCEPT */
    opts.utf8_names = 1;
    P(IMAP_UNIT_DATA, "* LIST () \"/\" Entw&APw-rfe\r\n");
    assert_null(R.untagged.list.name_utf8.p);
}

static void test_status(void **state)
{
    static const struct cx cs[] = {
        {W("* STATUS Archive (MESSAGES 231 UIDNEXT 44292)\r\n"), IMAP_UNIT_DATA, .name = "STATUS",
         .smbox = "Archive", .sitems = "MESSAGES=231 UIDNEXT=44292"},
        {W("* STATUS \"blurdy \\\"bloop\\\"\" (unseen 0 HIGHESTMODSEQ 18446744073709551615 "
           "MAILBOXID (F2212ea87-6097-4256-9d51-71338625) SIZE 44021)\r\n"),
         IMAP_UNIT_DATA, .smbox = "blurdy \"bloop\"",
         .sitems = "UNSEEN=0 HIGHESTMODSEQ=18446744073709551615 SIZE=44021", .err = "-"},
        {W("* STATUS {3}\r\na b ()\r\n"), IMAP_UNIT_DATA, .smbox = "a b", .sitems = ""},
    };
    (void)state;
    CHECK_ALL(cs);
}

static void test_search(void **state)
{
    static const struct cx cs[] = {
        {W("* SEARCH\r\n"), IMAP_UNIT_DATA, .name = "SEARCH", .search = "0"},
        {W("* SEARCH 2 3 6\r\n"), IMAP_UNIT_DATA, .search = "3"},
        {W("* SEARCH 4820 4821 4822 4823 4824 4825 4826 4827 4828 4829 4830 4831\r\n"),
         IMAP_UNIT_DATA, .search = "12"},
        {W("* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n"), IMAP_UNIT_DATA,
         .search = "10", .err = "-"},
        {W("* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n"), IMAP_UNIT_DATA, .name = "ESEARCH",
         .stag = "A282", .search = "3"},
        {W("* ESEARCH (TAG \"PXK1\") UID ALL 4820:4822,4830,4840:4838\r\n"), IMAP_UNIT_DATA,
         .stag = "PXK1", .search = "7"},
        {W("* ESEARCH (TAG \"a\") UID MIN 7 MAX 3800\r\n"), IMAP_UNIT_DATA, .search = "2"},
        {W("* ESEARCH (TAG \"a\") MIN 7 MAX 7\r\n"), IMAP_UNIT_DATA, .search = "1"},
        {W("* ESEARCH (TAG \"a\") UID MAX 7\r\n"), IMAP_UNIT_DATA, .search = "1"},
        {W("* ESEARCH (TAG \"a\") UID\r\n"), IMAP_UNIT_DATA, .search = "0", .stag = "a"},
        {W("* ESEARCH UID COUNT 17 ALL 1:17\r\n"), IMAP_UNIT_DATA, .stag = "-", .search = "17"},
        {W("* ESEARCH (TAG \"x\") UID PARTIAL (1:10 100:109) COUNT 50 MODSEQ 5\r\n"),
         IMAP_UNIT_DATA, .search = "50", .err = "-"},
        {W("* esearch (tag \"a\\\\b\") all 5\r\n"), IMAP_UNIT_DATA, .name = "ESEARCH",
         .stag = "a\\b", .search = "1"},
    };
    (void)state;
    CHECK_ALL(cs);
}

static void test_id_vanished(void **state)
{
    static const struct cx cs[] = {
        {W("* ID NIL\r\n"), IMAP_UNIT_DATA, .name = "ID", .id_name = "-", .id_version = "-"},
        {W("* ID (\"name\" \"Dovecot\" \"version\" \"2.3.21\" \"vendor\" NIL)\r\n"), IMAP_UNIT_DATA,
         .id_name = "Dovecot", .id_version = "2.3.21"},
        {W("* ID (\"NAME\" {5}\r\nCyrus \"Version\" NIL \"x\" (\"y\"))\r\n"), IMAP_UNIT_DATA,
         .id_name = "Cyrus", .id_version = "-", .lits = "5", .err = "-"},
        {W("* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n"), IMAP_UNIT_DATA,
         .name = "VANISHED", .van_earlier = "1", .van_uids = "41,43:116,118,120:211,214:540"},
        {W("* VANISHED 405,407,410,425\r\n"), IMAP_UNIT_DATA, .van_earlier = "0",
         .van_uids = "405,407,410,425"},
        {W("* vanished (earlier) 1:*\r\n"), IMAP_UNIT_DATA, .name = "VANISHED", .van_earlier = "1",
         .van_uids = "1:*"},
    };
    (void)state;
    CHECK_ALL(cs);
}

static void test_uninterpreted(void **state)
{
    static const struct cx cs[] = {
        {W("* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\")) NIL\r\n"), IMAP_UNIT_DATA,
         .name = "NAMESPACE", .n = "-", .err = "-"},
        {W("* QUOTA \"\" (STORAGE 10 512)\r\n"), IMAP_UNIT_DATA, .name = "QUOTA"},
        {W("* QUOTAROOT INBOX \"\"\r\n"), IMAP_UNIT_DATA, .name = "QUOTAROOT"},
        {W("* ACL INBOX Fred rwipslxetad\r\n"), IMAP_UNIT_DATA, .name = "ACL"},
        {W("* MYRIGHTS INBOX rwiptsldaex\r\n"), IMAP_UNIT_DATA, .name = "MYRIGHTS"},
        {W("* METADATA \"\" (/shared/comment {5}\r\nhello)\r\n"), IMAP_UNIT_DATA,
         .name = "METADATA", .lits = "5"},
        {W("* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"), IMAP_UNIT_DATA, .name = "THREAD"},
        {W("* SORT 2 3 6\r\n"), IMAP_UNIT_DATA, .name = "SORT", .search = "-"},
        {W("* x-Vendor-Thing a (b \"c\")\r\n"), IMAP_UNIT_DATA, .name = "X-VENDOR-THING"},
        /* a name the callers see, even when nothing is interpreted */
        {W("* 5 FLAGS (\\Seen)\r\n"), IMAP_UNIT_DATA, .name = "FLAGS", .n = "5", .uflags = "-"},
        {W("* FETCH (UID 5)\r\n"), IMAP_UNIT_DATA, .name = "FETCH", .n = "-", .uid = "-"},
    };
    (void)state;
    CHECK_ALL(cs);
}

/* ---- errors ---- */

static void test_malformed(void **state)
{
    static const struct cx cs[] = {
        {W("garbage\001 without tag\r\n"), IMAP_UNIT_MALFORMED, .err = "bad_tag", .err_tag = "-"},
        {W("a3 FOO bar\r\n"), IMAP_UNIT_MALFORMED, .err = "bad_tag", .err_tag = "a3"},
        {W("a3\r\n"), IMAP_UNIT_MALFORMED, .err = "bad_tag", .err_tag = "a3"},
        {W("(x) OK\r\n"), IMAP_UNIT_MALFORMED, .err = "bad_tag", .err_tag = "-"},
        {W("*\r\n"), IMAP_UNIT_MALFORMED, .err = "bad_tag", .err_tag = "-"},
        {W("\r\n"), IMAP_UNIT_MALFORMED, .err = "bad_tag", .err_tag = "-"},
        {W("a+1 OK x\r\n"), IMAP_UNIT_MALFORMED, .err = "bad_tag", .err_tag = "-"},
        {W("a1 OK {5}\r\nhello\r\n"), IMAP_UNIT_MALFORMED, .err = "bad_tag", .err_tag = "a1"},
        /* data lines without a name */
        {W("* \r\n"), IMAP_UNIT_DATA, .err = "syntax"},
        {W("* 5\r\n"), IMAP_UNIT_DATA, .err = "syntax", .n = "5"},
        {W("* \"x\"\r\n"), IMAP_UNIT_DATA, .err = "syntax"},
        {W("* 99999999999999999999999 EXISTS\r\n"), IMAP_UNIT_DATA, .err = "syntax"},
        /* units shorter than their kind can be: no read outside the text */
        {W(""), IMAP_UNIT_DATA, .err = "syntax"},
        {W(""), IMAP_UNIT_STATUS, .err = "-", .text = ""},
        {W("*"), IMAP_UNIT_STATUS, .err = "-", .text = "", .code = "-"},
        {W(""), IMAP_UNIT_TAGGED, .err = "bad_tag"},
        {W(""), IMAP_UNIT_CONTINUE, .err = "-", .cont = ""},
    };
    (void)state;
    CHECK_ALL(cs);
}

static void test_token_errors(void **state)
{
    static const struct cx cs[] = {
        {W("* 4 FETCH (FLAGS (\\Seen) UID\r\n"), IMAP_UNIT_DATA, .err = "unbalanced_paren",
         .flags = "\\Seen"},
        {W("* 4 FETCH (UID 1))\r\n"), IMAP_UNIT_DATA, .err = "unbalanced_paren", .uid = "1"},
        {W("* 4 FETCH (UID 1 X-GM-LABELS ((a)\r\n"), IMAP_UNIT_DATA, .err = "unbalanced_paren"},
        {W("* NAMESPACE ((\"\" \"/\") NIL NIL\r\n"), IMAP_UNIT_DATA, .err = "unbalanced_paren",
         .name = "NAMESPACE"},
        {W("* 4 FETCH (BODY[HEADER 1)\r\n"), IMAP_UNIT_DATA, .err = "unclosed_bracket"},
        {W("* 4 FETCH (ENVELOPE (NIL \"abc))\r\n"), IMAP_UNIT_DATA, .err = "unterminated_quote"},
        {W("* LIST () \"/\" \"a\\nb\"\r\n"), IMAP_UNIT_DATA, .err = "bad_escape"},
        {W("* SEARCH 1 2 )\r\n"), IMAP_UNIT_DATA, .err = "unbalanced_paren"},
        {W("* THREAD (1 (2)\r\n"), IMAP_UNIT_DATA, .err = "unbalanced_paren"},
    };
    (void)state;
    CHECK_ALL(cs);
    P(IMAP_UNIT_DATA, "* 4 FETCH (FLAGS (\\Seen) UID\r\n");
    assert_int_equal(R.excerpt.len, strlen("* 4 FETCH (FLAGS (\\Seen) UID"));
    assert_memory_equal(R.excerpt.p, "* 4 FETCH (FLAGS (\\Seen) UID", R.excerpt.len);
}

/* A FETCH whose BODYSTRUCTURE nests levels lists deep (the FETCH list is one). */
static void make_deep(char *w, size_t size, int levels)
{
    int i, n = snprintf(w, size, "* 1 FETCH (UID 42 FLAGS (\\Seen) BODYSTRUCTURE ");

    for (i = 0; i < levels - 1; i++)
        w[n++] = '(';
    n += snprintf(w + n, size - (size_t)n, "\"TEXT\" \"PLAIN\"");
    for (i = 0; i < levels - 1; i++)
        w[n++] = ')';
    snprintf(w + n, size - (size_t)n, " RFC822.SIZE 9)\r\n");
}

static void test_depth(void **state)
{
    char w[1024];

    (void)state;
    make_deep(w, sizeof(w), IMAP_TOK_DEPTH_MAX);
    assert_int_equal(parse(IMAP_UNIT_DATA, w, strlen(w)), 0);
    assert_int_equal(R.depth_exceeded, 0);
    assert_int_equal(R.untagged.fetch.uid, 42);
    assert_int_equal(R.untagged.fetch.size, 9);

    make_deep(w, sizeof(w), IMAP_TOK_DEPTH_MAX + 1);
    assert_int_equal(parse(IMAP_UNIT_DATA, w, strlen(w)), 0);
    assert_int_equal(R.depth_exceeded, 1);
    assert_null(R.err);
    /* what came before the deep value is kept */
    assert_true(R.untagged.fetch.present & IMAP_FETCH_UID);
    assert_int_equal(R.untagged.fetch.uid, 42);
    assert_int_equal(R.untagged.fetch.nflags, 1);

    /* far deeper than the limit: no recursion, no error */
    {
        static char big[64 * 1024];
        make_deep(big, sizeof(big), 20000);
        assert_int_equal(parse(IMAP_UNIT_DATA, big, strlen(big)), 0);
        assert_int_equal(R.depth_exceeded, 1);
        assert_int_equal(R.untagged.fetch.size, 9);
    }
}

/* The unit of wire cut after cut line bytes, as the framer hands it out
 * when the line limit is reached. */
static int parse_truncated(const char *w, size_t cut)
{
    struct imap_unit *u = test_unit(IMAP_S2C, IMAP_UNIT_DATA, w, strlen(w));

    assert_true(cut <= u->text_len);
    while (u->nlits > 0 && u->lits[u->nlits - 1].pos > cut)
        u->nlits--;
    u->nlits_all = u->nlits;
    u->text_len = cut;
    u->line_bytes = cut;
    u->flags |= IMAP_UNIT_TRUNCATED;
    return parse_unit(u);
}

static void test_truncated(void **state)
{
    static const char fetch[] =
        "* 3 FETCH (UID 99 FLAGS (\\Seen \\Flagged) ENVELOPE (\"date\" \"a long subject\" NIL "
        "NIL NIL NIL NIL NIL NIL \"<id@x>\") BODY[HEADER.FIELDS (From)] {0}\r\n)\r\n";
    size_t cut;

    (void)state;
    /* cut inside the flags list, a quoted string, a section */
    assert_int_equal(parse_truncated(fetch, strlen("* 3 FETCH (UID 99 FLAGS (\\Seen")), 0);
    assert_int_equal(R.untagged.fetch.uid, 99);
    assert_string_equal(rstrs(1, R.untagged.fetch.flags, R.untagged.fetch.nflags), "\\Seen");
    cut = strlen("* 3 FETCH (UID 99 FLAGS (\\Seen \\Flagged) ENVELOPE (\"date\" \"a long");
    assert_int_equal(parse_truncated(fetch, cut), 0);
    assert_string_equal(rs(R.untagged.fetch.envelope.date), "date");
    assert_true(R.untagged.fetch.present & IMAP_FETCH_ENVELOPE);
    cut = strlen(fetch) - strlen("From)] {0}\r\n)\r\n");
    assert_int_equal(parse_truncated(fetch, cut), 0);
    assert_string_equal(rs(R.untagged.fetch.envelope.message_id), "<id@x>");
    /* cut right after a literal marker the framer did not describe */
    cut = strlen(fetch) - strlen("\r\n)\r\n");
    assert_int_equal(parse_truncated(fetch, cut), 0);

    assert_int_equal(parse_truncated("* SEARCH 1 2 3 4 5 6 7 8 9 10\r\n", 16), 0);
    assert_int_equal(R.untagged.search_count, 4);
    assert_int_equal(parse_truncated("* ESEARCH (TAG \"abc\") ALL 1:100\r\n", 18), 0);
    assert_int_equal(R.untagged.has_search, 1);
    /* an error before the cut is still an error */
    assert_int_equal(parse_truncated("* LIST () \"/\" \"a\\qb\" and more\r\n", 22), -1);
    assert_string_equal(R.err, IMAP_ERR_BAD_ESCAPE);
    assert_int_equal(parse_truncated("* SEARCH 1 ) 2 3 4\r\n", 14), -1);
    assert_string_equal(R.err, IMAP_ERR_UNBALANCED_PAREN);
}

/* ---- literals ---- */

static void test_literals(void **state)
{
    static const char w[] = "* 5 FETCH (UID 1 BODY[1] {300}\r\n"
                            "0123456789012345678901234567890123456789012345678901234567890123456789"
                            "0123456789012345678901234567890123456789012345678901234567890123456789"
                            "0123456789012345678901234567890123456789012345678901234567890123456789"
                            "0123456789012345678901234567890123456789012345678901234567890123456789"
                            "01234567890123456789 BINARY[2] ~{3}\r\nab\000 BODY[3] {0}\r\n)\r\n";
    const struct imap_ev_literal *l;

    (void)state;
    assert_int_equal(P(IMAP_UNIT_DATA, w), 0);
    assert_string_equal(rlits(), "300 3 0");
    assert_string_equal(rparts(), "BODY[1]=300 BINARY[2]=3 BODY[3]=0");
    l = R.untagged.literals;
    assert_null(l[0].head.p); /* sizes only by default */
    assert_null(l[1].head.p);

    opts.keep_literals = 1;
    assert_int_equal(P(IMAP_UNIT_DATA, w), 0);
    l = R.untagged.literals;
    assert_int_equal(l[0].head.len, IMAP_LEX_KEEP_PER_LITERAL);
    assert_memory_equal(l[0].head.p, "0123456789", 10);
    assert_int_equal(l[1].head.len, 3);
    assert_memory_equal(l[1].head.p, "ab\0", 3);
    assert_null(l[2].head.p);

    /* the framer kept nothing (keep_total used up): every literal is still found */
    {
        static const char text[] = "* 5 FETCH (BODY[1] {300}\r\n BINARY[2] ~{3}\r\n)";
        static const struct imap_literal lits[] = {
            {300, sizeof("* 5 FETCH (BODY[1] {300}\r\n") - 1, 0, 0},
            {3, sizeof(text) - 2, 0, IMAP_LIT_BINARY},
        };
        struct imap_unit u = {.dir = IMAP_S2C,
                              .kind = IMAP_UNIT_DATA,
                              .text = text,
                              .text_len = sizeof(text) - 1,
                              .lits = lits,
                              .nlits = 2,
                              .nlits_all = 2};
        assert_int_equal(parse_unit(&u), 0);
        assert_string_equal(rparts(), "BODY[1]=300 BINARY[2]=3");
        assert_string_equal(rlits(), "300 3");
        assert_null(R.untagged.literals[0].head.p);
    }

    /* no literals: no array */
    P(IMAP_UNIT_DATA, "* 1 FETCH (UID 1)\r\n");
    assert_int_equal(R.untagged.nliterals, 0);
    assert_null(R.untagged.literals);
}

/* The strings of the event live in the unit or the arena, nowhere else. */
static void test_ownership(void **state)
{
    static const char w[] = "* LIST (\\x) \"\\\\\" \"a\\\"b\"\r\n";
    const struct imap_unit *u;

    (void)state;
    u = unit_of(IMAP_UNIT_DATA, W(w));
    assert_int_equal(parse_unit(u), 0);
    /* unescaped: in the arena */
    assert_string_equal(rs(R.untagged.list.name), "a\"b");
    assert_false(R.untagged.list.name.p >= u->text &&
                 R.untagged.list.name.p < u->text + u->text_len);
    /* no escapes: a slice of the unit */
    assert_true(R.untagged.list.attrs[0].p >= u->text &&
                R.untagged.list.attrs[0].p < u->text + u->text_len);
}

/* Everything a FETCH line gives, as text. */
static char *fetch_sig(void)
{
    const struct imap_ev_fetch *f = &R.untagged.fetch;
    const struct imap_ev_envelope *e = &f->envelope;
    char *b = malloc(16384);

    assert_non_null(b);
    snprintf(b, 16384,
             "err=%s n=%s fetch=%d present=%#x uid=%s modseq=%s size=%s idate=%s flags=%s "
             "parts=%s lits=%s date=%s subj=%s from=%s msgid=%s lossy=%d depth=%d",
             R.err != NULL ? R.err : "-", rnum(R.untagged.has_n, R.untagged.n),
             R.untagged.has_fetch, f->present, rnum(f->present & IMAP_FETCH_UID, f->uid),
             rnum(f->present & IMAP_FETCH_MODSEQ, f->modseq),
             rnum(f->present & IMAP_FETCH_SIZE, f->size), rs(f->internaldate),
             rstrs(f->present & IMAP_FETCH_FLAGS, f->flags, f->nflags), rparts(), rlits(),
             rs(e->date), rs(e->subject), rs(e->from), rs(e->message_id), R.lossy,
             R.depth_exceeded);
    return b;
}

/* FETCH lines are read straight from their bytes where their form is plain
 * and with the tokenizer otherwise: both give the same.  A second space after
 * "FETCH" sends a line the general way as a whole. */
static void test_fetch_fast_path(void **state)
{
    static const char *const lines[] = {
        "* 1 FETCH (UID 7 FLAGS (\\Seen $Forwarded) MODSEQ (90210))",
        "* 1 FETCH (FLAGS () UID 0 RFC822.SIZE 12345678901234567890)",
        "* 1 FETCH (UID 4294967296 MODSEQ (1 2) RFC822.SIZE 9)",
        "* 1 FETCH (UID 12a FLAGS (\\Seen  \\Deleted))",
        "* 1 FETCH (FLAGS (~x a[b] x<y) UID 1)",
        "* 1 FETCH (FLAGS (\\Seen) FLAGS (\\Draft) INTERNALDATE NIL)",
        "* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" uid 3)",
        "* 1 FETCH (INTERNALDATE \"Caf\351\")",
        "* 1 FETCH (INTERNALDATE \"a\\\"b\" UID 2)",
        "* 1 FETCH (UID 5 ENVELOPE (\"d\" \"s\" ((\"N\" NIL \"m\" \"h\")) NIL NIL NIL NIL NIL NIL "
        "\"<i>\") FLAGS (\\Seen))",
        "* 1 FETCH (ENVELOPE (NIL \"s\" ((NIL NIL \"g\" NIL) (\"A\" NIL \"a\" \"b\")(NIL NIL NIL "
        "NIL)) NIL NIL NIL NIL NIL NIL NIL))",
        "* 1 FETCH (ENVELOPE (NIL \"Caf\351\" ((nil NIL \"m\" \"h\")) NIL NIL NIL NIL NIL NIL "
        "NIL))",
        "* 1 FETCH (ENVELOPE (\"x\" \"y\" ((\"F\" NIL \"f\" \"g\")) NIL NIL NIL NIL NIL NIL NIL) "
        "ENVELOPE ())",
        "* 1 FETCH (ENVELOPE (\"x\" ((\"F\" NIL \"f\" \"g\")) \"q\\\\\" NIL) ENVELOPE (NIL \"y\"))",
        "* 1 FETCH (ENVELOPE (NIL NIL ((\"a\" NIL \"b\")) NIL NIL NIL NIL NIL NIL NIL))",
        "* 1 FETCH (ENVELOPE NIL UID 4)",
        "* 1 FETCH (BODY[TEXT] {3}\r\nabc UID 6 BODY[] \"xy\" FLAGS (\\Seen))",
        "* 1 FETCH (X-GM-LABELS (\\Inbox \"a b\") UID 8 MODSEQ (9))",
        "* 1 FETCH (UID 1) extra",
        "* 1 FETCH (UID 1 FLAGS (\\Seen)",
        "* 1 FETCH (UID 1 FLAGS (\\Seen)))",
        "* 1 FETCH (UID 1 \"odd\" FLAGS (x))",
        "* 1 FETCH ()",
        "* 1 FETCH (UID 1 )",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        char slow[1024];
        const char *at = strstr(lines[i], "FETCH") + 5;
        size_t head = (size_t)(at - lines[i]);
        char *a, *b;
        assert_true(strlen(lines[i]) + 4 < sizeof(slow));
        snprintf(slow, sizeof(slow), "%.*s %s\r\n", (int)head, lines[i], at);
        parse(IMAP_UNIT_DATA, slow, strlen(slow));
        b = fetch_sig();
        snprintf(slow, sizeof(slow), "%s\r\n", lines[i]);
        parse(IMAP_UNIT_DATA, slow, strlen(slow));
        a = fetch_sig();
        if (strcmp(a, b) != 0) {
            print_error("%s\n  fast:    %s\n  general: %s\n", lines[i], a, b);
            fail();
        }
        free(a);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_corpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tagged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_envelope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_bodystructure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capability_flags_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_mutf7, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_vanished, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uninterpreted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ownership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_fast_path, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
