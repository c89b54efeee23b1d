/*
 * test_jlog.c - events to JSON lines (logger/jlog.c): every event type gives
 * the exact expected line, seq numbering, flags, literal policies, lossy
 * UTF-8, escapes, the ts format and ms rounding.
 *
 * Every case runs twice: with the direct text writer and with the jansson
 * builder, and both must give the expected bytes.  Each line is also loaded
 * with jansson and dumped again, which must give the same line: the expected
 * strings are jansson's canonical output.  With TEST_JLOG_LINES=FILE set, the
 * lines are appended there (for tests/unit/schema_check.py).
 */
#define _DEFAULT_SOURCE /* mkstemp, gmtime_r */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "imap_event.h"
#include "jlog.h"
#include "jlog_int.h"

#define SID "0123456789abcdef"
#define TS  INT64_C(1795598043120441) /* 2026-11-25T09:14:03.120441Z */
#define PFX(seq, ev)                                                                    \
    "{\"v\":1,\"ts\":\"2026-11-25T09:14:03.120441Z\",\"sid\":\"" SID "\",\"seq\":" #seq \
    ",\"ev\":\"" ev "\""
#define C2S(off) ",\"dir\":\"c2s\",\"off\":" #off
#define S2C(off) ",\"dir\":\"s2c\",\"off\":" #off
#define S(x)     ((struct imap_str){(x), sizeof(x) - 1})

struct tl {
    char path[64];
    struct jlog *log;
    struct jlog_session *js;
};

static void tl_open_opts(struct tl *t, const struct jlog_opts *o)
{
    char err[256];
    int fd;

    strcpy(t->path, "/tmp/test_jlog_XXXXXX");
    fd = mkstemp(t->path);
    assert_true(fd >= 0);
    close(fd);
    t->log = jlog_open(t->path, o, err, sizeof(err));
    assert_non_null(t->log);
    t->js = jlog_session_new(t->log, SID);
    assert_non_null(t->js);
}

static void tl_open(struct tl *t, enum jlog_literals lit, size_t head)
{
    struct jlog_opts o;

    jlog_opts_default(&o);
    o.threaded = 0;
    o.literals = lit;
    o.head_bytes = head;
    tl_open_opts(t, &o);
}

static char *read_all(const char *path, size_t *len_r)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len_r = (size_t)n;
    return buf;
}

/* Each line, loaded and dumped by jansson with the logger's flags, must come
 * back byte for byte. */
static void check_canonical(const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    char buf[1 << 16];

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_error_t e;
        json_t *j;
        size_t n;

        assert_non_null(nl);
        j = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &e);
        if (j == NULL)
            fail_msg("not JSON (%s): %.*s", e.text, (int)(nl - p), p);
        n = json_dumpb(j, buf, sizeof(buf), JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (n < sizeof(buf) && (n != (size_t)(nl - p) || memcmp(buf, p, n) != 0))
            fail_msg("not canonical:\n  got  %.*s\n  want %.*s", (int)(nl - p), p, (int)n, buf);
        json_decref(j);
        p = nl + 1;
    }
}

static void save_lines(const char *text, size_t len)
{
    const char *out = getenv("TEST_JLOG_LINES");
    FILE *f;

    if (out == NULL || *out == '\0')
        return;
    f = fopen(out, "ab");
    assert_non_null(f);
    fwrite(text, 1, len, f);
    fclose(f);
}

/* Closes the log and returns what it wrote (to free). */
static char *tl_close(struct tl *t, size_t *len_r)
{
    char *got;

    jlog_session_free(t->js);
    jlog_close(t->log);
    got = read_all(t->path, len_r);
    unlink(t->path);
    check_canonical(got, *len_r);
    save_lines(got, *len_r);
    return got;
}

static void tl_expect(struct tl *t, const char *want)
{
    size_t len;
    char *got = tl_close(t, &len);

    assert_string_equal(got, want);
    free(got);
}

static struct imap_event mkev(enum imap_ev_type type, int dir, uint64_t off)
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
    return ev;
}

/* ---- timestamps ---- */

static void test_format_ts(void **state)
{
    char buf[32];
    int i;

    (void)state;
    jlog_format_ts(TS, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-25T09:14:03.120441Z");
    jlog_format_ts(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    jlog_format_ts(-1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    jlog_format_ts(INT64_C(951868799) * 1000000 + 7, buf, sizeof(buf));
    assert_string_equal(buf, "2000-02-29T23:59:59.000007Z");
    jlog_format_ts(INT64_MAX, buf, sizeof(buf));
    assert_string_equal(buf, "9999-12-31T23:59:59.999999Z");
    jlog_format_ts(INT64_MIN, buf, sizeof(buf));
    assert_string_equal(buf, "0000-01-01T00:00:00.000000Z");
    jlog_format_ts(TS, buf, 27); /* too small: empty, never overrun */
    assert_string_equal(buf, "");

    /* Against gmtime_r over 1900..2400. */
    srand(7);
    for (i = 0; i < 200000; i++) {
        int64_t sec = (int64_t)(((uint64_t)rand() << 31 | (uint64_t)rand()) % 15778800000ULL) -
                      INT64_C(2208988800);
        time_t tt = (time_t)sec;
        struct tm tm;
        char want[40];

        gmtime_r(&tt, &tm);
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, i % 1000000);
        jlog_format_ts(sec * 1000000 + i % 1000000, buf, sizeof(buf));
        assert_string_equal(buf, want);
    }
}

/* ---- the proxy's own events ---- */

static void test_session_open(void **state)
{
    struct jlog_endpoint cli = {"192.0.2.41", 53122}, up = {"mail.example.com", 993};
    struct jlog_opts o;
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    assert_int_equal(jlog_session_open(t.js, TS, &cli, "imaps://0.0.0.0:10993", &up), 0);
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "session_open")
            ",\"client\":{\"addr\":\"192.0.2.41\",\"port\":53122},"
            "\"listener\":\"imaps://0.0.0.0:10993\",\"upstream\":{\"host\":\"mail.example.com\""
            ",\"port\":993}}\n"
    );
    /* clang-format on */

    jlog_opts_default(&o);
    o.threaded = 0;
    o.redact = 0;
    tl_open_opts(&t, &o);
    assert_int_equal(jlog_session_open(t.js, TS, &cli, "imap://[::1]:143", &up), 0);
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "session_open")
            ",\"client\":{\"addr\":\"192.0.2.41\",\"port\":53122},"
            "\"listener\":\"imap://[::1]:143\",\"upstream\":{\"host\":\"mail.example.com\","
            "\"port\":993},\"redact\":false}\n"
    );
    /* clang-format on */
}

static void test_tls(void **state)
{
    struct jlog_tls_info full = {
        "server", "TLSv1.3", "TLS_AES_256_GCM_SHA384", "mail.example.com", "CN=mail.example.com",
        "5d1ce2", 1};
    struct jlog_tls_info bare = {"client", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", NULL, NULL,
                                 NULL,     -1};
    struct jlog_tls_info unverified = {"server", "TLSv1.3", "TLS_AES_128_GCM_SHA256", "x", "CN=x",
                                       NULL,     0};
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    assert_int_equal(jlog_tls(t.js, TS, &full), 0);
    assert_int_equal(jlog_tls(t.js, TS, &bare), 0);
    assert_int_equal(jlog_tls(t.js, TS, &unverified), 0);
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "tls")
            ",\"leg\":\"server\",\"version\":\"TLSv1.3\","
            "\"cipher\":\"TLS_AES_256_GCM_SHA384\",\"sni\":\"mail.example.com\","
            "\"peer\":{\"subject\":\"CN=mail.example.com\","
            "\"sha256\":\"5d1ce2\"},\"verified\":true}\n"
        PFX(1, "tls")
            ",\"leg\":\"client\",\"version\":\"TLSv1.2\","
            "\"cipher\":\"ECDHE-RSA-AES128-GCM-SHA256\"}\n"
        PFX(2, "tls")
            ",\"leg\":\"server\",\"version\":\"TLSv1.3\","
            "\"cipher\":\"TLS_AES_128_GCM_SHA256\",\"sni\":\"x\","
            "\"peer\":{\"subject\":\"CN=x\"},\"verified\":false}\n"
    );
    /* clang-format on */
}

static void test_session_close(void **state)
{
    struct jlog_close_info a = {"bye", 2201, 5138, 6, 2637884.0, "alice@example.com"};
    struct jlog_close_info b = {"error: upstream TLS: bad certificate", 0, 0, 0, 12.3456, NULL};
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    assert_int_equal(jlog_session_close(t.js, TS, &a), 0);
    assert_int_equal(jlog_session_close(t.js, TS, &b), 0);
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "session_close")
            ",\"reason\":\"bye\",\"bytes\":{\"c2s\":2201,"
            "\"s2c\":5138},\"commands\":6,\"duration_ms\":2637884.0,"
            "\"user\":\"alice@example.com\"}\n"
        PFX(1, "session_close")
            ",\"reason\":\"error: upstream TLS: bad certificate\","
            "\"bytes\":{\"c2s\":0,\"s2c\":0},\"commands\":0,"
            "\"duration_ms\":12.346}\n"
    );
    /* clang-format on */
}

/* ---- protocol events ---- */

static void test_command(void **state)
{
    static const struct imap_ev_literal lit[] = {{5, {"hello", 5}}};
    struct imap_event ev = mkev(IMAP_EV_COMMAND, IMAP_C2S, 7);
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    ev.u.command.tag = S("a1");
    ev.u.command.cmd = S("APPEND");
    ev.u.command.args = S("&ZeVnLIqe- (\\Seen) {5+}");
    ev.u.command.mailbox = S("&ZeVnLIqe-");
    ev.u.command.mailbox_utf8 = S("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    ev.u.command.literals = lit;
    ev.u.command.nliterals = 1;
    ev.flags = IMAP_EVF_NONSYNC | IMAP_EVF_LITERAL8 | IMAP_EVF_HELD;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_COMMAND, IMAP_C2S, 40);
    ev.u.command.tag = S("a2");
    ev.u.command.cmd = S("UID FETCH");
    ev.u.command.args = S("1:* (FLAGS)");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_COMMAND, IMAP_C2S, 64);
    ev.u.command.tag = S("a3");
    ev.u.command.cmd = S("APPEND");
    ev.u.command.literals = (const struct imap_ev_literal[]){{104857600, {NULL, 0}}};
    ev.u.command.nliterals = 1;
    ev.flags = IMAP_EVF_ABORTED | IMAP_EVF_TRUNCATED;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    /* clang-format off */
    tl_expect(&t,
        PFX(0, "command") C2S(7)
            ",\"tag\":\"a1\",\"cmd\":\"APPEND\",\"args\":\"&ZeVnLIqe- (\\\\Seen) {5+}\","
            "\"mailbox\":\"&ZeVnLIqe-\",\"mailbox_utf8\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"
            "\",\"literals\":[5],\"held\":true,\"nonsync\":true,"
            "\"literal8\":true}\n"
        PFX(1, "command") C2S(40)
            ",\"tag\":\"a2\",\"cmd\":\"UID FETCH\",\"args\":\"1:* (FLAGS)\"}\n"
        PFX(2, "command") C2S(64)
            ",\"tag\":\"a3\",\"cmd\":\"APPEND\",\"literals\":[104857600],"
            "\"truncated\":true,\"aborted\":true}\n"
    );
    /* clang-format on */
}

/* The literals of the policy tests: text, binary, none kept, kept partly,
 * text cut inside a character by the head limit. */
static const struct imap_ev_literal policy_lits[] = {
    {5, {"hello", 5}},
    {5,
     {"\x00\x01\xff"
      "ab",
      5}},
    {12, {NULL, 0}},
    {100, {"abc", 3}},
    {5, {"h\xc3\xa9\xc3\xa9", 5}},
    {10, {"x\xc3\xa9\xff\xc3", 5}},
};

static void emit_policy_command(struct tl *t)
{
    struct imap_event ev = mkev(IMAP_EV_COMMAND, IMAP_C2S, 0);

    ev.u.command.tag = S("a1");
    ev.u.command.cmd = S("X");
    ev.u.command.literals = policy_lits;
    ev.u.command.nliterals = sizeof(policy_lits) / sizeof(policy_lits[0]);
    assert_int_equal(jlog_event(t->js, &ev), 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 0);
    ev.u.untagged.name = S("FETCH");
    ev.u.untagged.literals = policy_lits;
    ev.u.untagged.nliterals = 1;
    assert_int_equal(jlog_event(t->js, &ev), 0);
}

static void test_literals_policy(void **state)
{
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_NONE, 0);
    emit_policy_command(&t);
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "command") C2S(0)
            ",\"tag\":\"a1\",\"cmd\":\"X\"}\n"
        PFX(1, "untagged") S2C(0)
            ",\"name\":\"FETCH\"}\n"
    );
    /* clang-format on */

    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    emit_policy_command(&t);
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "command") C2S(0)
            ",\"tag\":\"a1\",\"cmd\":\"X\",\"literals\":[5,"
            "5,12,100,5,10]}\n"
        PFX(1, "untagged") S2C(0)
            ",\"name\":\"FETCH\",\"literals\":[5]}\n"
    );
    /* clang-format on */

    tl_open(&t, JLOG_LITERALS_FULL, 0);
    emit_policy_command(&t);
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "command") C2S(0)
            ",\"tag\":\"a1\",\"cmd\":\"X\",\"literals\":[5,"
            "5,12,100,5,10],\"literal_data\":[{\"text\":\"hello\"},"
            "{\"b64\":\"AAH/YWI=\"},null,{\"text\":\"abc\","
            "\"truncated\":true},{\"text\":\"h\xc3\xa9\xc3\xa9\"},"
            "{\"b64\":\"eMOp/8M=\",\"truncated\":true}]}\n"
        PFX(1, "untagged") S2C(0)
            ",\"name\":\"FETCH\",\"literals\":[5],\"literal_data\":[{\"text\":\"hello\"}]}\n"
    );
    /* clang-format on */

    /* head:4 cuts "h\xc3\xa9\xc3\xa9" inside the second character: still text. */
    tl_open(&t, JLOG_LITERALS_HEAD, 4);
    emit_policy_command(&t);
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "command") C2S(0)
            ",\"tag\":\"a1\",\"cmd\":\"X\",\"literals\":[5,"
            "5,12,100,5,10],\"literal_data\":[{\"text\":\"hell\","
            "\"truncated\":true},{\"b64\":\"AAH/YQ==\","
            "\"truncated\":true},null,{\"text\":\"abc\","
            "\"truncated\":true},{\"text\":\"h\xc3\xa9\","
            "\"truncated\":true},{\"b64\":\"eMOp/w==\","
            "\"truncated\":true}]}\n"
        PFX(1, "untagged") S2C(0)
            ",\"name\":\"FETCH\",\"literals\":[5],\"literal_data\":[{\"text\":\"hell\","
            "\"truncated\":true}]}\n"
    );
    /* clang-format on */
}

static void test_continue_client_line(void **state)
{
    struct imap_event ev = mkev(IMAP_EV_CONTINUE, IMAP_S2C, 4859);
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    ev.u.cont.tag = S("a4");
    ev.u.cont.for_ = S("literal");
    ev.u.cont.text = S("OK");
    ev.u.cont.len = 2;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_CONTINUE, IMAP_S2C, 5000);
    ev.u.cont.tag = S("a5");
    ev.u.cont.for_ = S("sasl");
    ev.u.cont.len = 12;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_CLIENT_LINE, IMAP_C2S, 23);
    ev.u.client_line.kind = S("sasl");
    ev.u.client_line.tag = S("a5");
    ev.u.client_line.len = 20;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_CLIENT_LINE, IMAP_C2S, 45);
    ev.u.client_line.kind = S("sasl");
    ev.u.client_line.tag = S("a5");
    ev.u.client_line.len = 1;
    ev.flags = IMAP_EVF_CANCEL;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    /* clang-format off */
    tl_expect(&t,
        PFX(0, "continue") S2C(4859)
            ",\"tag\":\"a4\",\"for\":\"literal\",\"text\":\"OK\"}\n"
        PFX(1, "continue") S2C(5000)
            ",\"tag\":\"a5\",\"for\":\"sasl\",\"len\":12}\n"
        PFX(2, "client_line") C2S(23)
            ",\"kind\":\"sasl\",\"tag\":\"a5\",\"len\":20}\n"
        PFX(3, "client_line") C2S(45)
            ",\"kind\":\"sasl\",\"tag\":\"a5\",\"len\":1,"
            "\"cancel\":true}\n"
    );
    /* clang-format on */
}

static void test_untagged_fetch(void **state)
{
    static const struct imap_str flags[] = {{"\\Seen", 5}, {"$Junk", 5}};
    static const struct imap_ev_fetch_part parts[] = {{{"BODY[]", 6}, 4286}, {{"BINARY[2]", 9}, 8}};
    static const struct imap_ev_literal lits[] = {{4286, {NULL, 0}}, {8, {NULL, 0}}};
    struct imap_event ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 462);
    struct imap_ev_fetch *f = &ev.u.untagged.fetch;
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    ev.u.untagged.name = S("FETCH");
    ev.u.untagged.has_n = 1;
    ev.u.untagged.n = 12;
    ev.u.untagged.mailbox = S("INBOX");
    ev.u.untagged.has_fetch = 1;
    f->present = IMAP_FETCH_UID | IMAP_FETCH_FLAGS | IMAP_FETCH_MODSEQ | IMAP_FETCH_SIZE |
                 IMAP_FETCH_INTERNALDATE | IMAP_FETCH_ENVELOPE;
    f->uid = 4827;
    f->flags = flags;
    f->nflags = 2;
    f->modseq = 90061;
    f->size = 4286;
    f->internaldate = S("25-Nov-2026 09:14:03 +0000");
    f->envelope.date = S("Wed, 25 Nov 2026 09:00:00 +0000");
    f->envelope.subject = S("Hi \"you\"");
    f->envelope.from = S("Alice <a@example.com>");
    f->envelope.message_id = S("<1@x>");
    f->parts = parts;
    f->nparts = 2;
    ev.u.untagged.literals = lits;
    ev.u.untagged.nliterals = 2;
    ev.flags = IMAP_EVF_LITERAL8;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    /* FLAGS () is an empty list; ENVELOPE of NILs an empty object; no n. */
    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 5000);
    ev.u.untagged.name = S("FETCH");
    ev.u.untagged.has_fetch = 1;
    ev.u.untagged.fetch.present = IMAP_FETCH_FLAGS | IMAP_FETCH_ENVELOPE;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    /* Fields whose bit is clear are not written. */
    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 5100);
    ev.u.untagged.name = S("FETCH");
    ev.u.untagged.has_n = 1;
    ev.u.untagged.n = 3;
    ev.u.untagged.has_fetch = 1;
    ev.u.untagged.fetch.present = IMAP_FETCH_UID;
    ev.u.untagged.fetch.uid = UINT32_MAX;
    ev.u.untagged.fetch.modseq = 1;
    ev.u.untagged.fetch.flags = flags;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    /* clang-format off */
    tl_expect(&t,
        PFX(0, "untagged") S2C(462)
            ",\"name\":\"FETCH\",\"n\":12,\"mailbox\":\"INBOX\","
            "\"fetch\":{\"uid\":4827,\"flags\":[\"\\\\Seen\","
            "\"$Junk\"],\"modseq\":90061,\"size\":4286,"
            "\"internaldate\":\"25-Nov-2026 09:14:03 +0000\","
            "\"envelope\":{\"date\":\"Wed, 25 Nov 2026 09:00:00 +0000\","
            "\"subject\":\"Hi \\\"you\\\"\",\"from\":\"Alice <a@example.com>\","
            "\"message_id\":\"<1@x>\"},\"parts\":[{\"section\":\"BODY[]\","
            "\"size\":4286},{\"section\":\"BINARY[2]\","
            "\"size\":8}]},\"literals\":[4286,8],\"literal8\":true}\n"
        PFX(1, "untagged") S2C(5000)
            ",\"name\":\"FETCH\",\"fetch\":{\"flags\":[],"
            "\"envelope\":{}}}\n"
        PFX(2, "untagged") S2C(5100)
            ",\"name\":\"FETCH\",\"n\":3,\"fetch\":{\"uid\":4294967295}}\n"
    );
    /* clang-format on */
}

static void test_untagged_other(void **state)
{
    static const struct imap_str caps[] = {{"IMAP4rev1", 9}, {"IDLE", 4}};
    static const struct imap_str removed[] = {{"COMPRESS=DEFLATE", 16}};
    static const struct imap_str attrs[] = {{"\\HasNoChildren", 14}, {"\\Sent", 5}};
    static const struct imap_ev_status_item items[] = {
        {{"MESSAGES", 8}, 231}, {{"UIDNEXT", 7}, 44292}, {{"MESSAGES", 8}, 5}};
    static const struct imap_ev_literal lits[] = {{2, {"hi", 2}}};
    struct imap_event ev;
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_FULL, 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 0);
    ev.u.untagged.name = S("PREAUTH");
    ev.u.untagged.code = S("CAPABILITY");
    ev.u.untagged.text = S("ready");
    ev.u.untagged.has_state = 1;
    ev.u.untagged.state = IMAP_STATE_AUTHENTICATED;
    ev.u.untagged.caps = caps;
    ev.u.untagged.ncaps = 2;
    ev.u.untagged.caps_removed = removed;
    ev.u.untagged.ncaps_removed = 1;
    ev.flags = IMAP_EVF_GREETING;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 319);
    ev.u.untagged.name = S("OK");
    ev.u.untagged.code = S("UIDVALIDITY");
    ev.u.untagged.code_data = S("1700000000");
    ev.u.untagged.text = S("UIDs valid");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 580);
    ev.u.untagged.name = S("VANISHED");
    ev.u.untagged.mailbox = S("INBOX");
    ev.u.untagged.has_vanished = 1;
    ev.u.untagged.vanished_earlier = 1;
    ev.u.untagged.vanished_uids = S("41,43:116");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 600);
    ev.u.untagged.name = S("LIST");
    ev.u.untagged.has_list = 1;
    ev.u.untagged.list.attrs = attrs;
    ev.u.untagged.list.nattrs = 2;
    ev.u.untagged.list.delim = S("/");
    ev.u.untagged.list.name = S("&ZeVnLIqe-");
    ev.u.untagged.list.name_utf8 = S("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 650);
    ev.u.untagged.name = S("LSUB");
    ev.u.untagged.has_list = 1;
    ev.u.untagged.list.name = S("INBOX");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 700);
    ev.u.untagged.name = S("STATUS");
    ev.u.untagged.has_mbox_status = 1;
    ev.u.untagged.status_mailbox = S("Archive");
    ev.u.untagged.status_items = items;
    ev.u.untagged.nstatus_items = 3;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 800);
    ev.u.untagged.name = S("ESEARCH");
    ev.u.untagged.has_search = 1;
    ev.u.untagged.search_count = 3;
    ev.u.untagged.search_tag = S("PXK1");
    ev.flags = IMAP_EVF_SWALLOWED;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 900);
    ev.u.untagged.name = S("SEARCH");
    ev.u.untagged.has_search = 1;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 950);
    ev.u.untagged.name = S("ID");
    ev.u.untagged.id_name = S("Dovecot");
    ev.u.untagged.id_version = S("2.3.19");
    ev.u.untagged.literals = lits;
    ev.u.untagged.nliterals = 1;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 990);
    ev.u.untagged.name = S("ENABLED");
    ev.u.untagged.caps = caps;
    ev.u.untagged.ncaps = 1;
    ev.flags = IMAP_EVF_HELD;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    /* clang-format off */
    tl_expect(&t,
        PFX(0, "untagged") S2C(0)
            ",\"name\":\"PREAUTH\",\"code\":\"CAPABILITY\","
            "\"text\":\"ready\",\"state\":\"authenticated\","
            "\"caps\":[\"IMAP4rev1\",\"IDLE\"],\"caps_removed\":[\"COMPRESS=DEFLATE\"],"
            "\"greeting\":true}\n"
        PFX(1, "untagged") S2C(319)
            ",\"name\":\"OK\",\"code\":\"UIDVALIDITY\","
            "\"code_data\":\"1700000000\",\"text\":\"UIDs valid\"}\n"
        PFX(2, "untagged") S2C(580)
            ",\"name\":\"VANISHED\",\"mailbox\":\"INBOX\","
            "\"vanished\":{\"earlier\":true,\"uids\":\"41,"
            "43:116\"}}\n"
        PFX(3, "untagged") S2C(600)
            ",\"name\":\"LIST\",\"list\":{\"attrs\":[\"\\\\HasNoChildren\","
            "\"\\\\Sent\"],\"delim\":\"/\",\"name\":\"&ZeVnLIqe-\","
            "\"name_utf8\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}}\n"
        PFX(4, "untagged") S2C(650)
            ",\"name\":\"LSUB\",\"list\":{\"attrs\":[],"
            "\"delim\":null,\"name\":\"INBOX\"}}\n"
        PFX(5, "untagged") S2C(700)
            ",\"name\":\"STATUS\",\"mbox_status\":{\"mailbox\":\"Archive\","
            "\"items\":{\"MESSAGES\":5,\"UIDNEXT\":44292}}}\n"
        PFX(6, "untagged") S2C(800)
            ",\"name\":\"ESEARCH\",\"search\":{\"count\":3,"
            "\"tag\":\"PXK1\"},\"swallowed\":true}\n"
        PFX(7, "untagged") S2C(900)
            ",\"name\":\"SEARCH\",\"search\":{\"count\":0}}\n"
        PFX(8, "untagged") S2C(950)
            ",\"name\":\"ID\",\"id\":{\"name\":\"Dovecot\","
            "\"version\":\"2.3.19\"},\"literals\":[2],\"literal_data\":[{\"text\":\"hi\"}]}\n"
        PFX(9, "untagged") S2C(990)
            ",\"name\":\"ENABLED\",\"caps\":[\"IMAP4rev1\"],"
            "\"held\":true}\n"
    );
    /* clang-format on */
}

static void test_tagged(void **state)
{
    static const struct imap_str caps[] = {{"IMAP4rev1", 9}};
    static const struct imap_str removed[] = {{"COMPRESS=DEFLATE", 16}};
    struct imap_event ev = mkev(IMAP_EV_TAGGED, IMAP_S2C, 89);
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    ev.u.tagged.tag = S("a1");
    ev.u.tagged.cmd = S("LOGIN");
    ev.u.tagged.status = S("OK");
    ev.u.tagged.code = S("CAPABILITY");
    ev.u.tagged.code_data = S("IMAP4rev1 COMPRESS=DEFLATE");
    ev.u.tagged.text = S("Logged in");
    ev.u.tagged.has_ms = 1;
    ev.u.tagged.ms = 41.2;
    ev.u.tagged.has_state = 1;
    ev.u.tagged.state = IMAP_STATE_AUTHENTICATED;
    ev.u.tagged.caps = caps;
    ev.u.tagged.ncaps = 1;
    ev.u.tagged.caps_removed = removed;
    ev.u.tagged.ncaps_removed = 1;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    /* Answered by imaptap itself: no dir. */
    ev = mkev(IMAP_EV_TAGGED, -1, 0);
    ev.u.tagged.tag = S("a9");
    ev.u.tagged.cmd = S("FETCH");
    ev.u.tagged.status = S("NO");
    ev.u.tagged.code = S("EXPUNGEISSUED");
    ev.u.tagged.text = S("held expunges");
    ev.u.tagged.has_state = 1;
    ev.u.tagged.state = IMAP_STATE_SELECTED;
    ev.flags = IMAP_EVF_LOCAL;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    /* clang-format off */
    tl_expect(&t,
        PFX(0, "tagged") S2C(89)
            ",\"tag\":\"a1\",\"cmd\":\"LOGIN\",\"status\":\"OK\","
            "\"code\":\"CAPABILITY\",\"code_data\":\"IMAP4rev1 COMPRESS=DEFLATE\","
            "\"text\":\"Logged in\",\"ms\":41.2,\"state\":\"authenticated\","
            "\"caps\":[\"IMAP4rev1\"],\"caps_removed\":[\"COMPRESS=DEFLATE\"]}\n"
        PFX(1, "tagged")
            ",\"tag\":\"a9\",\"cmd\":\"FETCH\",\"status\":\"NO\","
            "\"code\":\"EXPUNGEISSUED\",\"text\":\"held expunges\","
            "\"state\":\"selected\",\"local\":true}\n"
    );
    /* clang-format on */
}

static void test_ms_rounding(void **state)
{
    static const struct {
        double ms;
        const char *text; /* NULL: no key */
    } cases[] = {
        {41.2, "41.2"},
        {41.2004, "41.2"},
        {41.2005, "41.201"},
        {0.0004, "0.0"},
        {0.0005, "0.001"},
        {-0.0004, "0.0"},
        {12, "12.0"},
        {0.05, "0.05"},
        {632108.4, "632108.4"},
        {632150.25, "632150.25"},
        {1.0 / 3.0, "0.333"},
        {-1.5, "-1.5"},
        {999999999999.999, "999999999999.999"},
        {1e13, "10000000000000.0"},
        {1e16, "1e16"},
        {1.5e300, "1.5e300"},
        {NAN, NULL},
        {INFINITY, NULL},
    };
    char want[8192], *o = want;
    struct tl t;
    size_t i;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct imap_event ev = mkev(IMAP_EV_IDLE, IMAP_C2S, 10);

        ev.u.idle.tag = S("a5");
        ev.u.idle.state = S("done");
        ev.u.idle.has_ms = 1;
        ev.u.idle.ms = cases[i].ms;
        assert_int_equal(jlog_event(t.js, &ev), 0);
        o += sprintf(o,
                     "{\"v\":1,\"ts\":\"2026-11-25T09:14:03.120441Z\",\"sid\":\"" SID
                     "\",\"seq\":%zu,\"ev\":\"idle\"" C2S(10) ",\"tag\":\"a5\",\"state\":\"done\"",
                     i);
        if (cases[i].text != NULL)
            o += sprintf(o, ",\"ms\":%s", cases[i].text);
        o += sprintf(o, "}\n");
    }
    tl_expect(&t, want);
}

static void test_small_events(void **state)
{
    struct imap_event ev;
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);

    ev = mkev(IMAP_EV_IDLE, IMAP_S2C, 4935);
    ev.u.idle.tag = S("a5");
    ev.u.idle.state = S("start");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_AUTH, -1, 0);
    ev.u.auth.method = S("AUTHENTICATE");
    ev.u.auth.mech = S("PLAIN");
    ev.u.auth.user = S("alice");
    ev.u.auth.status = S("OK");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_STARTTLS, -1, 0);
    ev.u.starttls.leg = S("server");
    ev.u.starttls.state = S("failed");
    ev.u.starttls.text = S("certificate verify failed");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_KEEPALIVE, IMAP_S2C, 5026);
    ev.u.keepalive.tag = S("PXK1");
    ev.u.keepalive.cmd = S("SEARCH");
    ev.u.keepalive.state = S("ok");
    ev.u.keepalive.has_ms = 1;
    ev.u.keepalive.ms = 22.9;
    ev.u.keepalive.has_held = 1;
    ev.u.keepalive.held = 0;
    ev.flags = IMAP_EVF_SWALLOWED | IMAP_EVF_HELD; /* the flag cannot be written here */
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_KEEPALIVE, -1, 0);
    ev.u.keepalive.tag = S("PXK2");
    ev.u.keepalive.cmd = S("NOOP");
    ev.u.keepalive.state = S("sent");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_ANOMALY, IMAP_C2S, 13);
    ev.u.anomaly.kind = S("plaintext_after_starttls");
    ev.u.anomaly.tag = S("a1");
    ev.u.anomaly.text = S("bytes after STARTTLS before the handshake");
    ev.u.anomaly.has_bytes = 1;
    ev.u.anomaly.bytes = 24;
    ev.flags = IMAP_EVF_DISCARDED;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_PARSE_ERROR, IMAP_S2C, 20417);
    ev.u.parse_error.reason = S("unbalanced_paren");
    ev.u.parse_error.excerpt = S("* 4 FETCH (FLAGS (\\Seen) UID\r\n\x00\x1b");
    ev.u.parse_error.resync = S("next_line");
    ev.u.parse_error.tag = S("a7");
    ev.u.parse_error.cmd = S("FETCH");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_LIMIT, IMAP_S2C, 30000);
    ev.u.limit.what = S("line");
    ev.u.limit.value = 1048577;
    ev.u.limit.max = 1048576;
    ev.flags = IMAP_EVF_TRUNCATED;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    /* clang-format off */
    tl_expect(&t,
        PFX(0, "idle") S2C(4935)
            ",\"tag\":\"a5\",\"state\":\"start\"}\n"
        PFX(1, "auth")
            ",\"method\":\"AUTHENTICATE\",\"mech\":\"PLAIN\","
            "\"user\":\"alice\",\"status\":\"OK\"}\n"
        PFX(2, "starttls")
            ",\"leg\":\"server\",\"state\":\"failed\",\"text\":\"certificate verify failed\"}\n"
        PFX(3, "keepalive") S2C(5026)
            ",\"tag\":\"PXK1\",\"cmd\":\"SEARCH\",\"state\":\"ok\","
            "\"ms\":22.9,\"held\":0,\"swallowed\":true}\n"
        PFX(4, "keepalive")
            ",\"tag\":\"PXK2\",\"cmd\":\"NOOP\",\"state\":\"sent\"}\n"
        PFX(5, "anomaly") C2S(13)
            ",\"kind\":\"plaintext_after_starttls\",\"tag\":\"a1\","
            "\"text\":\"bytes after STARTTLS before the handshake\","
            "\"bytes\":24,\"discarded\":true}\n"
        PFX(6, "parse_error") S2C(20417)
            ",\"reason\":\"unbalanced_paren\",\"excerpt\":\"* 4 FETCH (FLAGS (\\\\Seen) UID"
            "\\r\\n\\u0000\\u001B\",\"resync\":\"next_line\","
            "\"tag\":\"a7\",\"cmd\":\"FETCH\"}\n"
        PFX(7, "limit") S2C(30000)
            ",\"what\":\"line\",\"value\":1048577,\"max\":1048576,"
            "\"truncated\":true}\n"
    );
    /* clang-format on */
}

static void test_all_flags(void **state)
{
    struct imap_event ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 1);
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    ev.u.untagged.name = S("X");
    ev.flags = 0x7ff;
    assert_int_equal(jlog_event(t.js, &ev), 0);
    ev.flags = 0;
    assert_int_equal(jlog_event(t.js, &ev), 0);
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "untagged") S2C(1)
            ",\"name\":\"X\",\"truncated\":true,\"lossy\":true,"
            "\"held\":true,\"swallowed\":true,\"local\":true,"
            "\"greeting\":true,\"nonsync\":true,\"literal8\":true,"
            "\"aborted\":true,\"cancel\":true,\"discarded\":true}\n"
        PFX(1, "untagged") S2C(1)
            ",\"name\":\"X\"}\n"
    );
    /* clang-format on */
}

#define FFFD "\xef\xbf\xbd"

static void test_lossy(void **state)
{
    static const struct imap_ev_status_item items[] = {{{"X\xff", 2}, 1}};
    struct jlog_endpoint cli = {"h\xc3", 1}, up = {"mail", 993};
    struct imap_event ev;
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);

    /* overlong, surrogate, above U+10FFFF, lone continuation, FF, a sequence
     * cut by the next character, one cut by the end */
    ev = mkev(IMAP_EV_COMMAND, IMAP_C2S, 0);
    ev.u.command.tag = S("a1");
    ev.u.command.cmd = S("SELECT");
    ev.u.command.args = S("a\xc0\xaf"
                          "b\xed\xa0\x80"
                          "c\xf4\x90\x80\x80"
                          "d\x80"
                          "e\xff"
                          "f\xe2\x82"
                          "A\xf0\x9f\x98\x80\xe2\x82");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    /* valid UTF-8, no flag */
    ev.u.command.args = S("\xc2\x80\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\xf4\x8f"
                          "\xbf\xbf");
    assert_int_equal(jlog_event(t.js, &ev), 0);

    ev = mkev(IMAP_EV_UNTAGGED, IMAP_S2C, 0);
    ev.u.untagged.name = S("STATUS");
    ev.u.untagged.has_mbox_status = 1;
    ev.u.untagged.status_mailbox = S("ok");
    ev.u.untagged.status_items = items;
    ev.u.untagged.nstatus_items = 1;
    assert_int_equal(jlog_event(t.js, &ev), 0);

    assert_int_equal(jlog_session_open(t.js, TS, &cli, "l", &up), 0);

    /* \xef\xbf\xbd is U+FFFD, one per invalid octet */
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "command") C2S(0)
            ",\"tag\":\"a1\",\"cmd\":\"SELECT\",\"args\":\"a\xef\xbf\xbd\xef\xbf\xbd" "b\xef\xbf"
            "\xbd\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
            "d\xef\xbf\xbd" "e\xef\xbf\xbd" "f\xef\xbf\xbd\xef\xbf\xbd" "A\xf0\x9f\x98\x80\xef\xbf"
            "\xbd\xef\xbf\xbd\",\"lossy\":true}\n"
        PFX(1, "command") C2S(0)
            ",\"tag\":\"a1\",\"cmd\":\"SELECT\",\"args\":\"\xc2\x80\xe0\xa0\x80\xed\x9f\xbf\xee"
            "\x80\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}\n"
        PFX(2, "untagged") S2C(0)
            ",\"name\":\"STATUS\",\"mbox_status\":{\"mailbox\":\"ok\","
            "\"items\":{\"X\xef\xbf\xbd\":1}},\"lossy\":true}\n"
        PFX(3, "session_open")
            ",\"client\":{\"addr\":\"h\xef\xbf\xbd\",\"port\":1},"
            "\"listener\":\"l\",\"upstream\":{\"host\":\"mail\","
            "\"port\":993},\"lossy\":true}\n"
    );
    /* clang-format on */
}

static void test_escapes(void **state)
{
    char in[40];
    struct imap_event ev = mkev(IMAP_EV_PARSE_ERROR, IMAP_C2S, 0);
    struct tl t;
    int i;

    (void)state;
    for (i = 0; i < 32; i++)
        in[i] = (char)i;
    memcpy(in + 32, "\"\\/\x7f\xe2\x80\xa8", 7);
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    ev.u.parse_error.excerpt = (struct imap_str){in, 39};
    assert_int_equal(jlog_event(t.js, &ev), 0);
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "parse_error") C2S(0)
            ",\"excerpt\":\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
            "\\b\\t\\n\\u000B\\f\\r\\u000E\\u000F\\u0010\\u0011\\u0012\\u0013\\u0014"
            "\\u0015\\u0016\\u0017\\u0018\\u0019\\u001A\\u001B\\u001C\\u001D\\u001E"
            "\\u001F\\\"\\\\/\x7f\xe2\x80\xa8\"}\n"
    );
    /* clang-format on */
}

/* Long strings: the escaper works in chunks; characters straddle them. */
static void test_long_strings(void **state)
{
    size_t n = 1 + 2 * 30000, len, i;
    char *s = malloc(n), *got;
    struct imap_event ev = mkev(IMAP_EV_COMMAND, IMAP_C2S, 0);
    struct tl t;
    json_t *j;

    (void)state;
    assert_non_null(s);
    s[0] = 'x';
    for (i = 1; i < n; i += 2)
        memcpy(s + i, "\xc3\xa9", 2);
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    ev.u.command.args = (struct imap_str){s, n};
    assert_int_equal(jlog_event(t.js, &ev), 0);
    s[n - 1] = '\n'; /* now a control char at the very end, invalid octet before it */
    assert_int_equal(jlog_event(t.js, &ev), 0);
    got = tl_close(&t, &len);
    j = json_loadb(got, len, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(j);
    assert_int_equal(json_string_length(json_object_get(j, "args")), n);
    assert_memory_equal(json_string_value(json_object_get(j, "args")), s, n - 1);
    assert_null(json_object_get(j, "lossy"));
    json_decref(j);
    assert_non_null(strstr(got, "\xc3\xa9" FFFD "\\n\",\"lossy\":true}\n"));
    free(got);
    free(s);
}

static void test_seq_and_sessions(void **state)
{
    struct imap_event ev = mkev(IMAP_EV_LIMIT, -1, 0);
    struct jlog_session *a, *b;
    struct jlog_opts o;
    char err[128];
    struct jlog *log;
    int i;

    (void)state;
    jlog_opts_default(&o);
    o.threaded = 0;
    log = jlog_open("/dev/null", &o, err, sizeof(err));
    assert_non_null(log);

    assert_null(jlog_session_new(log, "0123"));
    assert_null(jlog_session_new(log, "0123456789abcdefa"));
    assert_null(jlog_session_new(log, "0123456789abcdeg"));
    a = jlog_session_new(log, "0123456789ABCDEF");
    assert_non_null(a);
    assert_string_equal(jlog_session_sid(a), "0123456789abcdef");
    jlog_session_free(a);
    a = jlog_session_new(log, NULL);
    b = jlog_session_new(log, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(strlen(jlog_session_sid(a)), 16);
    assert_int_equal(strspn(jlog_session_sid(a), "0123456789abcdef"), 16);
    assert_string_not_equal(jlog_session_sid(a), jlog_session_sid(b));
    for (i = 0; i < 10; i++)
        assert_int_equal(jlog_event(a, &ev), 0);
    assert_int_equal(jlog_session_dropped(a), 0);
    jlog_session_free(a);
    jlog_session_free(b);
    jlog_session_free(NULL);
    jlog_close(log);
    jlog_close(NULL);
    assert_int_equal(jlog_lines(log = jlog_open("/dev/null", &o, err, sizeof(err))), 0);
    jlog_close(log);

    assert_null(jlog_open("/nonexistent/dir/x.log", &o, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/dir/x.log"));
}

static void test_seq_numbering(void **state)
{
    struct imap_event ev = mkev(IMAP_EV_IDLE, IMAP_S2C, 0);
    struct jlog_endpoint cli = {"::1", 1}, up = {"h", 2};
    struct jlog_close_info ci = {"logout", 1, 2, 3, 4.0, NULL};
    struct tl t;

    (void)state;
    tl_open(&t, JLOG_LITERALS_SIZE, 0);
    ev.u.idle.tag = S("t");
    assert_int_equal(jlog_session_open(t.js, TS, &cli, "l", &up), 0);
    assert_int_equal(jlog_event(t.js, &ev), 0);
    assert_int_equal(jlog_event(t.js, &ev), 0);
    assert_int_equal(jlog_session_close(t.js, TS, &ci), 0);
    /* clang-format off */
    tl_expect(&t,
        PFX(0, "session_open")
            ",\"client\":{\"addr\":\"::1\",\"port\":1},"
            "\"listener\":\"l\",\"upstream\":{\"host\":\"h\","
            "\"port\":2}}\n"
        PFX(1, "idle") S2C(0)
            ",\"tag\":\"t\"}\n"
        PFX(2, "idle") S2C(0)
            ",\"tag\":\"t\"}\n"
        PFX(3, "session_close")
            ",\"reason\":\"logout\",\"bytes\":{\"c2s\":1,"
            "\"s2c\":2},\"commands\":3,\"duration_ms\":4.0}\n"
    );
    /* clang-format on */
}

static void test_parse_literals(void **state)
{
    struct jlog_opts o;

    (void)state;
    jlog_opts_default(&o);
    assert_int_equal(o.literals, JLOG_LITERALS_SIZE);
    assert_int_equal(jlog_parse_literals("none", &o), 0);
    assert_int_equal(o.literals, JLOG_LITERALS_NONE);
    assert_int_equal(jlog_parse_literals("full", &o), 0);
    assert_int_equal(o.literals, JLOG_LITERALS_FULL);
    assert_int_equal(jlog_parse_literals("head:64", &o), 0);
    assert_int_equal(o.literals, JLOG_LITERALS_HEAD);
    assert_int_equal(o.head_bytes, 64);
    assert_int_equal(jlog_parse_literals("size", &o), 0);
    assert_int_equal(o.literals, JLOG_LITERALS_SIZE);
    assert_int_equal(jlog_parse_literals("head:", &o), -1);
    assert_int_equal(jlog_parse_literals("head:0", &o), -1);
    assert_int_equal(jlog_parse_literals("head:-1", &o), -1);
    assert_int_equal(jlog_parse_literals("head:12x", &o), -1);
    assert_int_equal(jlog_parse_literals("head:99999999999999999999999", &o), -1);
    assert_int_equal(jlog_parse_literals("Size", &o), -1);
    assert_int_equal(jlog_parse_literals(NULL, &o), -1);
    assert_int_equal(o.literals, JLOG_LITERALS_SIZE);
}

static int use_text(void **state)
{
    (void)state;
    jlog_set_build(JLOG_BUILD_TEXT);
    return 0;
}

static int use_jansson(void **state)
{
    (void)state;
    jlog_set_build(JLOG_BUILD_JANSSON);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_open),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_session_close),
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_literals_policy),
        cmocka_unit_test(test_continue_client_line),
        cmocka_unit_test(test_untagged_fetch),
        cmocka_unit_test(test_untagged_other),
        cmocka_unit_test(test_tagged),
        cmocka_unit_test(test_ms_rounding),
        cmocka_unit_test(test_small_events),
        cmocka_unit_test(test_all_flags),
        cmocka_unit_test(test_lossy),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_long_strings),
        cmocka_unit_test(test_seq_numbering),
        cmocka_unit_test(test_seq_and_sessions),
    };
    const struct CMUnitTest once[] = {
        cmocka_unit_test(test_format_ts),
        cmocka_unit_test(test_parse_literals),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("jlog (text writer)", tests, use_text, NULL);
    failed += cmocka_run_group_tests_name("jlog (jansson builder)", tests, use_jansson, NULL);
    failed += cmocka_run_group_tests_name("jlog (helpers)", once, NULL, NULL);
    return failed != 0;
}
