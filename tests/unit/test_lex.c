/*
 * test_lex.c - the streaming framer alone (imap_lex.h), with a recording
 * callback set: units and their offsets, literals, flags, the problems it
 * reports, the limits at the limit and one byte past it (both directions,
 * before and after login), any split of a stream, and memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap_lex.h"

/* ------------------------------------------------------------ the recorder */

#define REC_UNITS    64
#define REC_LITS     8
#define REC_PROBLEMS 64

struct urec {
    enum imap_unit_kind kind;
    uint64_t off, len, line_bytes, nlits_all;
    unsigned flags;
    char *text;
    size_t text_len;
    char head[256]; /* the text the head callback saw */
    size_t head_len;
    size_t nlits;
    struct imap_literal lits[REC_LITS];
};

struct prec {
    enum imap_lex_problem what;
    uint64_t off, value, max;
};

static struct {
    struct imap_lex *lx;
    int auto_go; /* answer every sync literal with imap_lex_literal_go() at once */
    struct urec u[REC_UNITS];
    size_t nu;
    struct prec p[REC_PROBLEMS];
    size_t np;
    size_t nheads, nsync;
    int in_head; /* head seen, unit not yet */
    char head_text[256];
    size_t head_len;
    struct imap_unit sync_partial; /* the last sync_literal call (text not kept) */
    uint64_t lit_bytes[REC_LITS];  /* literal_data per literal index */
    uint64_t lit_bytes_all;
    char *litdata; /* index and byte of each literal octet, for split comparisons */
    size_t litdata_len, litdata_size;
    int keep_litdata;
} R;

static void rec_clear(void)
{
    size_t i;

    for (i = 0; i < R.nu; i++)
        free(R.u[i].text);
    free(R.litdata);
    memset(&R, 0, sizeof(R));
}

static void cb_head(void *arg, const struct imap_unit *u)
{
    size_t n = u->text_len < sizeof(R.head_text) ? u->text_len : sizeof(R.head_text);

    (void)arg;
    assert_false(R.in_head); /* once per unit */
    R.in_head = 1;
    R.nheads++;
    memcpy(R.head_text, u->text, n);
    R.head_len = n;
}

static void cb_sync(void *arg, const struct imap_unit *u)
{
    (void)arg;
    assert_true(R.in_head); /* the head comes before the first literal */
    R.nsync++;
    R.sync_partial = *u;
    R.sync_partial.text = NULL;
    R.sync_partial.lits = NULL;
    if (R.auto_go)
        imap_lex_literal_go(R.lx);
}

static void cb_litdata(void *arg, uint64_t index, const char *data, size_t len)
{
    (void)arg;
    assert_true(R.in_head);
    assert_true(len > 0);
    if (index < REC_LITS)
        R.lit_bytes[index] += len;
    R.lit_bytes_all += len;
    if (R.keep_litdata) {
        if (R.litdata_len + 2 * len > R.litdata_size) {
            R.litdata_size = (R.litdata_len + 2 * len) * 2;
            R.litdata = realloc(R.litdata, R.litdata_size);
            assert_non_null(R.litdata);
        }
        for (size_t i = 0; i < len; i++) {
            R.litdata[R.litdata_len++] = (char)('0' + index % 64);
            R.litdata[R.litdata_len++] = data[i];
        }
    }
}

static void cb_unit(void *arg, const struct imap_unit *u)
{
    struct urec *r;

    (void)arg;
    assert_true(R.in_head);
    R.in_head = 0;
    assert_true(R.nu < REC_UNITS);
    r = &R.u[R.nu++];
    r->kind = u->kind;
    r->off = u->off;
    r->len = u->len;
    r->line_bytes = u->line_bytes;
    r->nlits_all = u->nlits_all;
    r->flags = u->flags;
    r->text_len = u->text_len;
    memcpy(r->head, R.head_text, R.head_len);
    r->head_len = R.head_len;
    r->text = malloc(u->text_len + 1);
    assert_non_null(r->text);
    memcpy(r->text, u->text, u->text_len);
    r->text[u->text_len] = '\0';
    r->nlits = u->nlits;
    assert_true(u->nlits <= u->nlits_all);
    for (size_t i = 0; i < u->nlits && i < REC_LITS; i++) {
        r->lits[i] = u->lits[i];
        /* the kept octets sit right after the marker's line break */
        assert_true(u->lits[i].pos + u->lits[i].kept <= u->text_len);
        assert_true(u->lits[i].kept <= u->lits[i].size);
    }
}

static void cb_problem(void *arg, enum imap_lex_problem what, uint64_t off, uint64_t value,
                       uint64_t max)
{
    (void)arg;
    assert_true(R.np < REC_PROBLEMS);
    R.p[R.np++] = (struct prec){what, off, value, max};
    if (what == IMAP_LEX_GIVE_UP)
        R.in_head = 0; /* the unit in progress is dropped */
}

static const struct imap_lex_cb rec_cb = {
    .head = cb_head,
    .sync_literal = cb_sync,
    .literal_data = cb_litdata,
    .unit = cb_unit,
    .problem = cb_problem,
};

/* ------------------------------------------------------------ helpers */

static struct imap_lex *lex_new(enum imap_dir dir, const struct imap_lex_limits *lim)
{
    struct imap_lex *lx;

    rec_clear();
    lx = imap_lex_new(dir, lim, &rec_cb, NULL);
    assert_non_null(lx);
    R.lx = lx;
    return lx;
}

static void feed(struct imap_lex *lx, const char *p, size_t n)
{
    assert_int_equal(imap_lex_feed(lx, p, n), 0);
}

#define FEED(lx, s) feed((lx), (s), sizeof(s) - 1)

static void feed_bytewise(struct imap_lex *lx, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        feed(lx, p + i, 1);
}

static void assert_unit(size_t i, enum imap_unit_kind kind, uint64_t off, uint64_t len,
                        const char *text, size_t text_len)
{
    assert_true(i < R.nu);
    assert_int_equal(R.u[i].kind, kind);
    assert_int_equal(R.u[i].off, off);
    assert_int_equal(R.u[i].len, len);
    assert_int_equal(R.u[i].text_len, text_len);
    assert_memory_equal(R.u[i].text, text, text_len);
}

#define ASSERT_UNIT(i, kind, off, len, text) \
    assert_unit((i), (kind), (off), (len), (text), sizeof(text) - 1)

static void assert_problem(size_t i, enum imap_lex_problem what, uint64_t off, uint64_t value,
                           uint64_t max)
{
    assert_true(i < R.np);
    assert_int_equal(R.p[i].what, what);
    assert_int_equal(R.p[i].off, off);
    assert_int_equal(R.p[i].value, value);
    assert_int_equal(R.p[i].max, max);
}

/* A line of exactly total bytes: prefix, filler, then eol. */
static char *mkline(const char *prefix, size_t total, const char *eol, char fill)
{
    size_t pl = strlen(prefix), el = strlen(eol);
    char *p;

    assert_true(total >= pl + el);
    p = malloc(total + 1);
    assert_non_null(p);
    memcpy(p, prefix, pl);
    memset(p + pl, fill, total - pl - el);
    memcpy(p + total - el, eol, el);
    p[total] = '\0';
    return p;
}

/* A printable signature of everything recorded, to compare runs. */
static char *signature(void)
{
    size_t size = 1024 + R.litdata_len * 3, len = 0, i, k;
    char *s = malloc(size);

    assert_non_null(s);
#define SIG(...)                                             \
    do {                                                     \
        int n_ = snprintf(s + len, size - len, __VA_ARGS__); \
        assert_true(n_ >= 0);                                \
        if (len + (size_t)n_ + 1 >= size) {                  \
            size = (len + (size_t)n_ + 1) * 2;               \
            s = realloc(s, size);                            \
            assert_non_null(s);                              \
            n_ = snprintf(s + len, size - len, __VA_ARGS__); \
        }                                                    \
        len += (size_t)n_;                                   \
    } while (0)
    for (i = 0; i < R.nu; i++) {
        const struct urec *u = &R.u[i];
        SIG("U kind=%d off=%llu len=%llu lb=%llu flags=%x nlits=%zu/%llu text=", (int)u->kind,
            (unsigned long long)u->off, (unsigned long long)u->len,
            (unsigned long long)u->line_bytes, u->flags, u->nlits,
            (unsigned long long)u->nlits_all);
        for (k = 0; k < u->text_len; k++)
            SIG("%02x", (unsigned char)u->text[k]);
        SIG(" head=");
        for (k = 0; k < u->head_len; k++)
            SIG("%02x", (unsigned char)u->head[k]);
        for (k = 0; k < u->nlits && k < REC_LITS; k++)
            SIG(" L(%llu,%zu,%zu,%x)", (unsigned long long)u->lits[k].size, u->lits[k].pos,
                u->lits[k].kept, u->lits[k].flags);
        SIG("\n");
    }
    for (i = 0; i < R.np; i++)
        SIG("P %d off=%llu v=%llu m=%llu\n", (int)R.p[i].what, (unsigned long long)R.p[i].off,
            (unsigned long long)R.p[i].value, (unsigned long long)R.p[i].max);
    SIG("heads=%zu sync=%zu lit=%llu\n", R.nheads, R.nsync, (unsigned long long)R.lit_bytes_all);
    for (i = 0; i < R.litdata_len; i++)
        SIG("%02x", (unsigned char)R.litdata[i]);
#undef SIG
    return s;
}

/* ------------------------------------------------------------ simple lines */

static void test_simple_lines_c2s(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    assert_true(imap_lex_at_boundary(lx));
    FEED(lx, "a1 NOOP\r\na2 CAPABILITY\r\nA3 uid fetch 1:* (FLAGS)\r\n");
    assert_int_equal(R.nu, 3);
    ASSERT_UNIT(0, IMAP_UNIT_COMMAND, 0, 9, "a1 NOOP");
    ASSERT_UNIT(1, IMAP_UNIT_COMMAND, 9, 15, "a2 CAPABILITY");
    ASSERT_UNIT(2, IMAP_UNIT_COMMAND, 24, 26, "A3 uid fetch 1:* (FLAGS)");
    assert_int_equal(R.u[0].line_bytes, 9);
    assert_int_equal(R.u[0].flags, 0);
    assert_int_equal(R.u[0].nlits_all, 0);
    assert_int_equal(R.np, 0);
    assert_int_equal(R.nheads, 3);
    assert_int_equal(imap_lex_offset(lx), 50);
    assert_int_equal(imap_lex_unit_start(lx), 50);
    assert_true(imap_lex_at_boundary(lx));
    assert_false(imap_lex_in_literal(lx));
    assert_false(imap_lex_awaiting_plus(lx));

    /* a partial line is a unit in progress */
    FEED(lx, "a4 LOG");
    assert_false(imap_lex_at_boundary(lx));
    assert_int_equal(imap_lex_unit_start(lx), 50);
    assert_int_equal(imap_lex_offset(lx), 56);
    FEED(lx, "OUT\r\n");
    ASSERT_UNIT(3, IMAP_UNIT_COMMAND, 50, 11, "a4 LOGOUT");
    assert_true(imap_lex_at_boundary(lx));
    imap_lex_free(lx);
}

static void test_simple_lines_s2c_kinds(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, "* OK hi\r\n"           /* 0 */
             "a1 OK done\r\n"        /* 9 */
             "+ go\r\n"              /* 21 */
             "* 3 EXISTS\r\n"        /* 27 */
             "* CAPABILITY X\r\n"    /* 39 */
             "bogus\r\n"             /* 55 */
             "* bye gone\r\n"        /* 62 */
             "+\r\n"                 /* 74 */
             "a2 bad\r\n"            /* 77 */
             "* PREAUTH ready\r\n"); /* 85 */
    assert_int_equal(R.nu, 10);
    ASSERT_UNIT(0, IMAP_UNIT_STATUS, 0, 9, "* OK hi");
    ASSERT_UNIT(1, IMAP_UNIT_TAGGED, 9, 12, "a1 OK done");
    ASSERT_UNIT(2, IMAP_UNIT_CONTINUE, 21, 6, "+ go");
    ASSERT_UNIT(3, IMAP_UNIT_DATA, 27, 12, "* 3 EXISTS");
    ASSERT_UNIT(4, IMAP_UNIT_DATA, 39, 16, "* CAPABILITY X");
    ASSERT_UNIT(5, IMAP_UNIT_MALFORMED, 55, 7, "bogus");
    ASSERT_UNIT(6, IMAP_UNIT_STATUS, 62, 12, "* bye gone");
    ASSERT_UNIT(7, IMAP_UNIT_CONTINUE, 74, 3, "+");
    ASSERT_UNIT(8, IMAP_UNIT_TAGGED, 77, 8, "a2 bad");
    ASSERT_UNIT(9, IMAP_UNIT_STATUS, 85, 17, "* PREAUTH ready");
    assert_int_equal(R.np, 0);
    imap_lex_free(lx);
}

/* ------------------------------------------------------------ any split */

/* A stream of whole units with literals, quotes, text lines and odd line
 * ends, padded to exactly 200 bytes with a last line. */
static size_t stream_200(enum imap_dir dir, char *out)
{
    static const char s2c[] = "* 1 FETCH (BODY[] {12}\r\nab\r\n* 9 EX\r\n)\r\n"
                              "* OK [ALERT] x {5}\r\n"
                              "a1 NO x {12}\r\n"
                              "+ {5}\r\n"
                              "* 2 FETCH (BINARY[1] ~{4}\r\n\0\r\n\" BODY[TEXT] {0}\r\n)\r\n"
                              "* LIST () \"/\" \"a {3}\"\r\n"
                              "* LIST () \"\\\\\" {4}\r\nx\"y\\\r\n"
                              "* 3 E\rX\n";
    static const char c2s[] = "a1 LOGIN {5}\r\nalice {6+}\r\ns3\"c{t\r\n"
                              "a2 APPEND INBOX (\\Seen) ~{5+}\r\n\0\r\n\0\r\r\n"
                              "a3 RENAME \"Old\\\\\" {7}\r\nNew\r\nx\"\r\n"
                              "a4 SELECT \"a {5}\"\r\n"
                              "a5 X {0}\r\n\r\n"
                              "a6 NOOP\n"
                              "a7 NO\rOP\r\n";
    const char *base = dir == IMAP_S2C ? s2c : c2s;
    size_t n = (dir == IMAP_S2C ? sizeof(s2c) : sizeof(c2s)) - 1;
    const char *pad = dir == IMAP_S2C ? "* OK " : "a8 NOOP ";

    assert_true(n + strlen(pad) + 2 < 200);
    memcpy(out, base, n);
    memcpy(out + n, pad, strlen(pad));
    n += strlen(pad);
    while (n < 198)
        out[n++] = 'p';
    out[n++] = '\r';
    out[n++] = '\n';
    return n;
}

static char *run_split(enum imap_dir dir, const char *data, size_t len, size_t split_at,
                       int bytewise)
{
    struct imap_lex *lx = lex_new(dir, NULL);
    char *sig;

    R.auto_go = 1;
    R.keep_litdata = 1;
    if (bytewise) {
        feed_bytewise(lx, data, len);
    } else {
        feed(lx, data, split_at);
        feed(lx, data + split_at, len - split_at);
    }
    assert_true(imap_lex_at_boundary(lx));
    assert_int_equal(imap_lex_offset(lx), len);
    assert_int_equal(imap_lex_memory(lx), 0);
    sig = signature();
    imap_lex_free(lx);
    return sig;
}

static void check_splits(enum imap_dir dir, size_t want_units)
{
    char data[256];
    size_t len = stream_200(dir, data), i;
    char *whole, *sig;
    uint64_t sum = 0;

    assert_int_equal(len, 200);
    whole = run_split(dir, data, len, len, 0);
    /* the whole run itself is right: units tile the stream */
    {
        struct imap_lex *lx = lex_new(dir, NULL);
        R.auto_go = 1;
        feed(lx, data, len);
        assert_int_equal(R.nu, want_units);
        for (i = 0; i < R.nu; i++) {
            assert_int_equal(R.u[i].off, sum);
            sum += R.u[i].len;
        }
        assert_int_equal(sum, len);
        imap_lex_free(lx);
    }
    sig = run_split(dir, data, len, 0, 1);
    assert_string_equal(sig, whole);
    free(sig);
    for (i = 0; i <= len; i++) {
        sig = run_split(dir, data, len, i, 0);
        if (strcmp(sig, whole) != 0)
            fail_msg("split at %zu differs:\n%s\n--- whole:\n%s", i, sig, whole);
        free(sig);
    }
    free(whole);
    rec_clear();
}

static void test_every_split_s2c(void **state)
{
    (void)state;
    check_splits(IMAP_S2C, 9);
    /* a closer look at the whole run */
    {
        char data[256];
        size_t len = stream_200(IMAP_S2C, data);
        struct imap_lex *lx = lex_new(IMAP_S2C, NULL);
        feed(lx, data, len);
        /* the fake responses inside the literal are data */
        ASSERT_UNIT(0, IMAP_UNIT_DATA, 0, 39, "* 1 FETCH (BODY[] {12}\r\nab\r\n* 9 EX\r\n)");
        assert_int_equal(R.u[0].nlits, 1);
        assert_int_equal(R.u[0].lits[0].size, 12);
        assert_int_equal(R.u[0].lits[0].kept, 12);
        assert_int_equal(R.u[0].line_bytes, 39 - 12);
        /* text lines: the {n} is text */
        ASSERT_UNIT(1, IMAP_UNIT_STATUS, 39, 20, "* OK [ALERT] x {5}");
        ASSERT_UNIT(2, IMAP_UNIT_TAGGED, 59, 14, "a1 NO x {12}");
        ASSERT_UNIT(3, IMAP_UNIT_CONTINUE, 73, 7, "+ {5}");
        assert_int_equal(R.u[1].nlits_all + R.u[2].nlits_all + R.u[3].nlits_all, 0);
        /* literal8 with NUL (no NUL flag) and an empty literal */
        assert_int_equal(R.u[4].kind, IMAP_UNIT_DATA);
        assert_int_equal(R.u[4].nlits, 2);
        assert_int_equal(R.u[4].lits[0].flags, IMAP_LIT_BINARY);
        assert_int_equal(R.u[4].lits[0].size, 4);
        assert_int_equal(R.u[4].lits[1].size, 0);
        assert_int_equal(R.u[4].flags & IMAP_UNIT_NUL, 0);
        /* "a {3}" is quoted: no literal */
        assert_int_equal(R.u[5].nlits_all, 0);
        /* "\\" closes the quote: {4} is a literal */
        assert_int_equal(R.u[6].nlits, 1);
        assert_int_equal(R.u[6].lits[0].size, 4);
        /* bare CR kept, bare LF ends the line */
        assert_int_equal(R.u[7].flags, IMAP_UNIT_BARE_CR | IMAP_UNIT_BARE_LF);
        assert_string_equal(R.u[7].text, "* 3 E\rX");
        imap_lex_free(lx);
    }
    rec_clear();
}

static void test_every_split_c2s(void **state)
{
    (void)state;
    check_splits(IMAP_C2S, 8);
    {
        char data[256];
        size_t len = stream_200(IMAP_C2S, data);
        struct imap_lex *lx = lex_new(IMAP_C2S, NULL);
        R.auto_go = 1;
        feed(lx, data, len);
        assert_int_equal(R.nsync, 3); /* {5}, {7}, {0} */
        assert_int_equal(R.u[0].nlits, 2);
        assert_int_equal(R.u[0].lits[0].flags, 0);
        assert_int_equal(R.u[0].lits[1].flags, IMAP_LIT_NONSYNC);
        assert_string_equal(R.u[0].text, "a1 LOGIN {5}\r\nalice {6+}\r\ns3\"c{t");
        assert_int_equal(R.u[1].lits[0].flags, IMAP_LIT_NONSYNC | IMAP_LIT_BINARY);
        assert_int_equal(R.u[1].flags, 0); /* NUL and CR inside literal8 are data */
        assert_int_equal(R.u[2].nlits, 1);
        assert_int_equal(R.u[2].lits[0].size, 7);
        assert_int_equal(R.u[3].nlits_all, 0);
        assert_int_equal(R.u[4].nlits, 1);
        assert_int_equal(R.u[4].lits[0].size, 0);
        assert_int_equal(R.u[5].flags, IMAP_UNIT_BARE_LF);
        assert_int_equal(R.u[6].flags, IMAP_UNIT_BARE_CR);
        assert_string_equal(R.u[6].text, "a7 NO\rOP");
        imap_lex_free(lx);
    }
    rec_clear();
}

/* ------------------------------------------------------------ line ends */

/*
 * Whole lines that arrive in one read are framed in place (line_fast() in
 * imap_lex.c), others byte by byte: both must give the same units, heads
 * and flags.  Quotes, escapes and NULs at every offset of the 16-byte blocks
 * the fast path scans, heads with quotes, a head cut at IMAP_LEX_HEAD_MAX, an
 * escape before a bare CR (the quote state skips the CR), text lines.
 */
static size_t stream_fast(enum imap_dir dir, char *out, size_t size)
{
    static const char *const s2c[] = {
        "* 1 FETCH (UID 5 FLAGS (\\Seen \\Answered) MODSEQ (90210))\r\n",
        "* 2 FETCH (ENVELOPE (\"a quoted string of more than 16 bytes\" \"x\\\"y\" NIL))\r\n",
        "* LIST (\\Noselect) \"/\" \"a b c\"\r\n",
        "* \"quoted head\" x y\r\n",
        "a\"1 OK \" x\r\n",
        "* 3 FETCH (X \"ab\\\rc\" \"d\")\r\n",
        "* 4 FETCH (X \"abc\\q\" \"\\\\\")\r\n",
        "* 5 FETCH (X \"a\0b\" \"open)\r\n",
        "* OK [ALERT] \"unbalanced \\ \0 x\r\n",
        "+ go \"on\r\n",
        "a1 OK done\r\n",
    };
    static const char *const c2s[] = {
        "a1 LOGIN \"user\" \"p\\\"w\"\r\n",
        "a2 SELECT \"a b\"\r\n",
        "a3 SEARCH SUBJECT \"x\\\\\" FROM \"y\\z\"\r\n",
        "a4 NO\"OP \"x y\" z\r\n",
        "a5 X \"ab\\\rc\" \"d\"\r\n",
    };
    const char *const *v = dir == IMAP_S2C ? s2c : c2s;
    size_t nv = dir == IMAP_S2C ? sizeof(s2c) / sizeof(s2c[0]) : sizeof(c2s) / sizeof(c2s[0]);
    size_t n = 0, i, k;

#define PUT(p, len)                     \
    do {                                \
        assert_true(n + (len) <= size); \
        memcpy(out + n, (p), (len));    \
        n += (len);                     \
    } while (0)
    for (i = 0; i < nv; i++) {
        const char *l = v[i];
        size_t len = strlen(l);
        if (len < 2 || l[len - 1] != '\n') /* a NUL inside: the rest follows it */
            len += 1 + strlen(l + len + 1);
        PUT(l, len);
    }
    /* escapes and quotes at each offset of a block */
    for (k = 0; k < 18; k++) {
        char line[128];
        int len =
            snprintf(line, sizeof(line), "* %zu FETCH (X \"%.*s\\\"\\\\\" \"%.*s\\\r\" Y)\r\n", k,
                     (int)k, "0123456789abcdefghij", (int)(17 - k), "0123456789abcdefghij");
        assert_true(len > 0 && (size_t)len < sizeof(line));
        PUT(line, (size_t)len);
    }
    /* a head longer than IMAP_LEX_HEAD_MAX, a space right at it */
    for (k = 155; k < 162; k++) {
        char line[256];
        memset(line, 'x', sizeof(line));
        memcpy(line, dir == IMAP_S2C ? "* 9 " : "a9 X ", dir == IMAP_S2C ? 4 : 5);
        line[k] = ' ';
        memcpy(line + 170, " y z\r\n", 6);
        PUT(line, 176);
    }
#undef PUT
    return n;
}

static void test_fast_path_any_split(void **state)
{
    static char data[8192];
    int dir;

    (void)state;
    for (dir = 0; dir < 2; dir++) {
        size_t len = stream_fast((enum imap_dir)dir, data, sizeof(data)), i;
        char *whole = run_split((enum imap_dir)dir, data, len, len, 0), *sig;
        sig = run_split((enum imap_dir)dir, data, len, 0, 1);
        if (strcmp(sig, whole) != 0)
            fail_msg("byte by byte differs:\n%s\n--- whole:\n%s", sig, whole);
        free(sig);
        for (i = 0; i <= len; i += 3) {
            sig = run_split((enum imap_dir)dir, data, len, i, 0);
            if (strcmp(sig, whole) != 0)
                fail_msg("split at %zu differs:\n%s\n--- whole:\n%s", i, sig, whole);
            free(sig);
        }
        free(whole);
    }
    rec_clear();
}

static void test_crlf_split(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 NOOP\r");
    assert_int_equal(R.nu, 0);
    assert_false(imap_lex_at_boundary(lx));
    FEED(lx, "\n");
    assert_int_equal(R.nu, 1);
    ASSERT_UNIT(0, IMAP_UNIT_COMMAND, 0, 9, "a1 NOOP");
    assert_int_equal(R.u[0].flags, 0);
    /* the CRLF after a literal marker, split */
    FEED(lx, "a2 X {2+}\r");
    FEED(lx, "\nab\r");
    FEED(lx, "\n");
    assert_int_equal(R.nu, 2);
    ASSERT_UNIT(1, IMAP_UNIT_COMMAND, 9, 15, "a2 X {2+}\r\nab");
    assert_int_equal(R.u[1].flags, 0);
    imap_lex_free(lx);
}

static void test_bare_lf(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 NOOP\na2 NOOP\r\n");
    assert_int_equal(R.nu, 2);
    ASSERT_UNIT(0, IMAP_UNIT_COMMAND, 0, 8, "a1 NOOP");
    assert_int_equal(R.u[0].flags, IMAP_UNIT_BARE_LF);
    assert_int_equal(R.u[0].line_bytes, 8);
    ASSERT_UNIT(1, IMAP_UNIT_COMMAND, 8, 9, "a2 NOOP");
    assert_int_equal(R.u[1].flags, 0);
    /* a literal marker ended by a bare LF is still a literal */
    FEED(lx, "a3 X {2+}\nab\n");
    ASSERT_UNIT(2, IMAP_UNIT_COMMAND, 17, 13, "a3 X {2+}\nab");
    assert_int_equal(R.u[2].nlits, 1);
    assert_true(R.u[2].flags & IMAP_UNIT_BARE_LF);
    imap_lex_free(lx);

    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, "* OK x\n* 1 EXISTS\r\n");
    ASSERT_UNIT(0, IMAP_UNIT_STATUS, 0, 7, "* OK x");
    assert_int_equal(R.u[0].flags, IMAP_UNIT_BARE_LF);
    ASSERT_UNIT(1, IMAP_UNIT_DATA, 7, 12, "* 1 EXISTS");
    imap_lex_free(lx);
}

static void test_bare_cr_kept(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 NO\rOP\r\n");
    assert_int_equal(R.nu, 1);
    ASSERT_UNIT(0, IMAP_UNIT_COMMAND, 0, 10, "a1 NO\rOP");
    assert_int_equal(R.u[0].flags, IMAP_UNIT_BARE_CR);
    assert_int_equal(R.u[0].line_bytes, 10);
    /* split right after the CR */
    FEED(lx, "a2 NO\r");
    FEED(lx, "OP\r\n");
    ASSERT_UNIT(1, IMAP_UNIT_COMMAND, 10, 10, "a2 NO\rOP");
    assert_int_equal(R.u[1].flags, IMAP_UNIT_BARE_CR);
    /* CR CR LF: the first is bare, the second ends the line */
    FEED(lx, "a3 X\r\r\n");
    ASSERT_UNIT(2, IMAP_UNIT_COMMAND, 20, 7, "a3 X\r");
    assert_int_equal(R.u[2].flags, IMAP_UNIT_BARE_CR);
    /* a bare CR inside a quoted string does not end it */
    FEED(lx, "a4 X \"a\rb\" {1+}\r\nz\r\n");
    assert_int_equal(R.nu, 4);
    assert_int_equal(R.u[3].nlits, 1);
    assert_int_equal(R.u[3].flags, IMAP_UNIT_BARE_CR);
    imap_lex_free(lx);
}

static void test_nul(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 N\0OP\r\n");
    assert_int_equal(R.nu, 1);
    ASSERT_UNIT(0, IMAP_UNIT_COMMAND, 0, 9, "a1 N\0OP");
    assert_int_equal(R.u[0].flags, IMAP_UNIT_NUL);
    /* NUL inside a quoted string (fast path after the head) */
    FEED(lx, "a2 SELECT x \"a\0b\"\r\n");
    assert_int_equal(R.u[1].flags, IMAP_UNIT_NUL);
    /* inside a literal8 it is data */
    FEED(lx, "a3 APPEND x ~{3+}\r\n\0\0\0\r\n");
    assert_int_equal(R.u[2].flags, 0);
    imap_lex_free(lx);

    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, "* OK a\0b\r\n* 1 FETCH (BINARY[] ~{1}\r\n\0)\r\n");
    assert_int_equal(R.u[0].flags, IMAP_UNIT_NUL);
    assert_int_equal(R.u[1].flags, 0);
    imap_lex_free(lx);
}

/* ------------------------------------------------------------ quoted strings */

static void test_quoted_escapes(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    R.auto_go = 1;
    /* "Old\\" ends at the second quote: {7} is a literal */
    FEED(lx, "a1 RENAME \"Old\\\\\" {7}\r\nNew\r\nx\"\r\n");
    assert_int_equal(R.nu, 1);
    assert_int_equal(R.nsync, 1);
    assert_int_equal(R.u[0].nlits, 1);
    assert_int_equal(R.u[0].lits[0].size, 7);
    assert_int_equal(R.u[0].len, 32);
    assert_int_equal(R.u[0].flags, 0);
    /* "a {5}" is a quoted string, not a literal */
    FEED(lx, "a2 SELECT \"a {5}\"\r\n");
    assert_int_equal(R.nu, 2);
    ASSERT_UNIT(1, IMAP_UNIT_COMMAND, 32, 19, "a2 SELECT \"a {5}\"");
    assert_int_equal(R.u[1].nlits_all, 0);
    /* "a\" {5}: the escaped quote does not close, the line ends inside */
    FEED(lx, "a3 SELECT \"a\\\" {5}\r\na4 NOOP\r\n");
    assert_int_equal(R.nu, 4);
    assert_int_equal(R.u[2].nlits_all, 0);
    assert_int_equal(R.u[2].flags, IMAP_UNIT_OPEN_QUOTE);
    ASSERT_UNIT(3, IMAP_UNIT_COMMAND, 71, 9, "a4 NOOP");
    assert_int_equal(R.nsync, 1);
    /* a backslash before anything else inside quotes is flagged */
    FEED(lx, "a5 SELECT \"a\\nb\"\r\n");
    assert_int_equal(R.u[4].flags, IMAP_UNIT_BAD_ESCAPE);
    /* outside quotes a backslash is no escape (a flag) */
    FEED(lx, "a6 STORE 1 FLAGS (\\Seen) {1+}\r\nx\r\n");
    assert_int_equal(R.u[5].nlits, 1);
    assert_int_equal(R.u[5].flags, 0);
    imap_lex_free(lx);
}

static void test_unterminated_quote(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 LOGIN \"abc {5}\r\na2 NOOP\r\n");
    assert_int_equal(R.nu, 2);
    assert_int_equal(R.nsync, 0);
    ASSERT_UNIT(0, IMAP_UNIT_COMMAND, 0, 19, "a1 LOGIN \"abc {5}");
    assert_int_equal(R.u[0].flags, IMAP_UNIT_OPEN_QUOTE);
    assert_int_equal(R.u[0].nlits_all, 0);
    /* the quote state does not leak into the next unit */
    ASSERT_UNIT(1, IMAP_UNIT_COMMAND, 19, 9, "a2 NOOP");
    assert_int_equal(R.u[1].flags, 0);
    imap_lex_free(lx);

    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, "* LIST () \"/\" \"abc {3}\r\n* 1 EXISTS\r\n");
    assert_int_equal(R.nu, 2);
    assert_int_equal(R.u[0].flags, IMAP_UNIT_OPEN_QUOTE);
    assert_int_equal(R.u[0].nlits_all, 0);
    ASSERT_UNIT(1, IMAP_UNIT_DATA, 24, 12, "* 1 EXISTS");
    imap_lex_free(lx);
}

/* ------------------------------------------------------------ text mode */

static void test_text_mode_server_lines(void **state)
{
    static const char wire[] = "* OK [ALERT] x {5}\r\n"
                               "a1 NO x {12}\r\n"
                               "+ {5}\r\n"
                               "* NO [ALERT] \"open {3}\r\n"
                               "* bad {3}\r\n"
                               "* BYE {3}\r\n"
                               "a2 OK [CAPABILITY IMAP4rev1] \"x {2}\r\n"
                               "* 1 EXISTS\r\n";
    struct imap_lex *lx;
    size_t i;

    (void)state;
    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, wire);
    assert_int_equal(R.nu, 8);
    ASSERT_UNIT(0, IMAP_UNIT_STATUS, 0, 20, "* OK [ALERT] x {5}");
    ASSERT_UNIT(1, IMAP_UNIT_TAGGED, 20, 14, "a1 NO x {12}");
    ASSERT_UNIT(2, IMAP_UNIT_CONTINUE, 34, 7, "+ {5}");
    for (i = 0; i < 7; i++) {
        assert_int_equal(R.u[i].nlits_all, 0);
        assert_int_equal(R.u[i].flags, 0); /* no open-quote flag on text */
    }
    assert_int_equal(R.u[7].kind, IMAP_UNIT_DATA);
    assert_int_equal(R.u[7].off, sizeof(wire) - 1 - 12);
    /* the same, byte by byte */
    imap_lex_free(lx);
    lx = lex_new(IMAP_S2C, NULL);
    feed_bytewise(lx, wire, sizeof(wire) - 1);
    assert_int_equal(R.nu, 8);
    for (i = 0; i < 7; i++)
        assert_int_equal(R.u[i].nlits_all, 0);
    imap_lex_free(lx);
}

static void test_text_mode_client(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    imap_lex_set_mode(lx, IMAP_LEX_TEXT);
    assert_int_equal(imap_lex_mode(lx), IMAP_LEX_TEXT);
    FEED(lx, "dGVz \"dA== {5}\r\nDONE\r\n");
    assert_int_equal(R.nu, 2);
    ASSERT_UNIT(0, IMAP_UNIT_CLIENT_TEXT, 0, 16, "dGVz \"dA== {5}");
    assert_int_equal(R.u[0].nlits_all, 0);
    assert_int_equal(R.u[0].flags, 0);
    ASSERT_UNIT(1, IMAP_UNIT_CLIENT_TEXT, 16, 6, "DONE");
    imap_lex_set_mode(lx, IMAP_LEX_NORMAL);
    FEED(lx, "a1 X {1+}\r\nz\r\n");
    assert_int_equal(R.u[2].kind, IMAP_UNIT_COMMAND);
    assert_int_equal(R.u[2].nlits, 1);
    imap_lex_free(lx);
}

/* ------------------------------------------------------------ literal markers */

static void test_marker_forms(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    /* a space after the marker: no literal */
    FEED(lx, "a1 X {5} \r\na2 NOOP\r\n");
    assert_int_equal(R.nu, 2);
    assert_int_equal(R.u[0].nlits_all, 0);
    assert_int_equal(R.nsync, 0);
    /* not a marker: {}, {+}, {5, 5}, {x} */
    FEED(lx, "a3 X {}\r\na4 X {+}\r\na5 X {5\r\na6 X 5}\r\na7 X {x}\r\n");
    assert_int_equal(R.nu, 7);
    for (size_t i = 2; i < 7; i++)
        assert_int_equal(R.u[i].nlits_all, 0);
    /* {n+}, ~{n}, ~{n+} */
    FEED(lx, "a8 APPEND x {3+}\r\nabc ~{2+}\r\nAB ~{1}\r\n");
    assert_int_equal(R.nsync, 1);
    imap_lex_literal_go(lx);
    FEED(lx, "Z\r\n");
    assert_int_equal(R.nu, 8);
    assert_int_equal(R.u[7].nlits, 3);
    assert_int_equal(R.u[7].lits[0].flags, IMAP_LIT_NONSYNC);
    assert_int_equal(R.u[7].lits[1].flags, IMAP_LIT_NONSYNC | IMAP_LIT_BINARY);
    assert_int_equal(R.u[7].lits[2].flags, IMAP_LIT_BINARY);
    assert_int_equal(R.u[7].lits[2].size, 1);
    assert_string_equal(R.u[7].text, "a8 APPEND x {3+}\r\nabc ~{2+}\r\nAB ~{1}\r\nZ");
    imap_lex_free(lx);

    /* from the server: {n}, ~{n} and the impossible {n+} are all framed */
    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, "* 1 FETCH (BODY[] {2}\r\nab BINARY[] ~{2}\r\ncd X {1+}\r\ne)\r\n");
    assert_int_equal(R.nu, 1);
    assert_int_equal(R.u[0].nlits, 3);
    assert_int_equal(R.u[0].lits[0].flags, 0);
    assert_int_equal(R.u[0].lits[1].flags, IMAP_LIT_BINARY);
    assert_int_equal(R.u[0].lits[2].flags, IMAP_LIT_NONSYNC);
    assert_int_equal(R.nsync, 0);
    imap_lex_free(lx);
}

static void test_empty_literal(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, "* 1 FETCH (BODY[] {0}\r\n)\r\n");
    assert_int_equal(R.nu, 1);
    ASSERT_UNIT(0, IMAP_UNIT_DATA, 0, 26, "* 1 FETCH (BODY[] {0}\r\n)");
    assert_int_equal(R.u[0].nlits, 1);
    assert_int_equal(R.u[0].lits[0].size, 0);
    assert_int_equal(R.u[0].lits[0].kept, 0);
    assert_int_equal(R.lit_bytes_all, 0);
    imap_lex_free(lx);

    /* a client {0} waits for "+" like any synchronizing literal */
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 APPEND x {0}\r\n");
    assert_int_equal(R.nsync, 1);
    assert_true(imap_lex_awaiting_plus(lx));
    assert_int_equal(R.nu, 0);
    imap_lex_literal_go(lx);
    assert_false(imap_lex_awaiting_plus(lx));
    assert_false(imap_lex_in_literal(lx));
    FEED(lx, "\r\n");
    assert_int_equal(R.nu, 1);
    ASSERT_UNIT(0, IMAP_UNIT_COMMAND, 0, 19, "a1 APPEND x {0}\r\n");
    assert_int_equal(R.np, 0);
    FEED(lx, "a2 APPEND x {0+}\r\n\r\n");
    assert_int_equal(R.nu, 2);
    assert_int_equal(R.u[1].lits[0].flags, IMAP_LIT_NONSYNC);
    assert_int_equal(R.nsync, 1);
    imap_lex_free(lx);
}

/* ------------------------------------------------------------ sync literals */

static void test_sync_literal_go(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 LOGIN {5}\r\n");
    assert_int_equal(R.nheads, 1); /* the head comes first */
    assert_int_equal(R.nsync, 1);
    assert_int_equal(R.sync_partial.nlits, 1);
    assert_int_equal(R.sync_partial.off, 0);
    assert_int_equal(R.nu, 0);
    assert_true(imap_lex_awaiting_plus(lx));
    assert_true(imap_lex_in_literal(lx));
    assert_false(imap_lex_at_boundary(lx));
    assert_int_equal(imap_lex_memory(lx) > 0, 1); /* a unit is in progress */
    imap_lex_literal_go(lx);
    assert_false(imap_lex_awaiting_plus(lx));
    assert_true(imap_lex_in_literal(lx));
    FEED(lx, "alice {3}\r\n");
    assert_int_equal(R.nsync, 2);
    assert_int_equal(R.sync_partial.nlits, 2);
    imap_lex_literal_go(lx);
    FEED(lx, "pw!\r\n");
    assert_int_equal(R.nu, 1);
    ASSERT_UNIT(0, IMAP_UNIT_COMMAND, 0, 30, "a1 LOGIN {5}\r\nalice {3}\r\npw!");
    assert_int_equal(R.u[0].nlits, 2);
    assert_int_equal(R.u[0].lits[0].flags, 0);
    assert_int_equal(R.u[0].lits[1].flags, 0);
    assert_int_equal(R.u[0].lits[0].pos, 14);
    assert_int_equal(R.u[0].lits[0].kept, 5);
    assert_int_equal(R.u[0].line_bytes, 30 - 8);
    assert_int_equal(R.lit_bytes[0], 5);
    assert_int_equal(R.lit_bytes[1], 3);
    assert_int_equal(R.np, 0);
    /* go without a waiting literal does nothing */
    imap_lex_literal_go(lx);
    imap_lex_literal_cancel(lx);
    assert_int_equal(R.nu, 1);
    assert_true(imap_lex_at_boundary(lx));
    imap_lex_free(lx);
}

static void test_sync_literal_cancel(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 APPEND x {104857600}\r\n");
    assert_true(imap_lex_awaiting_plus(lx));
    imap_lex_literal_cancel(lx);
    assert_int_equal(R.nu, 1);
    ASSERT_UNIT(0, IMAP_UNIT_COMMAND, 0, 25, "a1 APPEND x {104857600}\r\n");
    assert_int_equal(R.u[0].flags, IMAP_UNIT_ABORTED);
    assert_int_equal(R.u[0].nlits, 1);
    assert_int_equal(R.u[0].lits[0].flags, IMAP_LIT_ABORTED);
    assert_int_equal(R.u[0].lits[0].kept, 0);
    assert_false(imap_lex_awaiting_plus(lx));
    assert_true(imap_lex_at_boundary(lx));
    /* the next bytes are a new command */
    FEED(lx, "a2 NOOP\r\n");
    assert_int_equal(R.nu, 2);
    ASSERT_UNIT(1, IMAP_UNIT_COMMAND, 25, 9, "a2 NOOP");
    assert_int_equal(R.u[1].flags, 0);
    assert_int_equal(R.np, 0);
    assert_int_equal(imap_lex_memory(lx), 0);
    imap_lex_free(lx);
}

static void test_sync_literal_early(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a0 NOOP\r\na1 LOGIN {5}\r\n");
    FEED(lx, "alice\r\n");
    assert_int_equal(R.np, 1);
    assert_problem(0, IMAP_LEX_EARLY_LITERAL, 9, 5, 0);
    assert_int_equal(R.nu, 2);
    ASSERT_UNIT(1, IMAP_UNIT_COMMAND, 9, 21, "a1 LOGIN {5}\r\nalice");
    assert_int_equal(R.u[1].lits[0].flags, IMAP_LIT_EARLY);
    assert_int_equal(R.u[1].lits[0].kept, 5);
    /* a late "+" changes nothing */
    imap_lex_literal_go(lx);
    FEED(lx, "a2 NOOP\r\n");
    ASSERT_UNIT(2, IMAP_UNIT_COMMAND, 30, 9, "a2 NOOP");
    assert_int_equal(R.np, 1);
    imap_lex_free(lx);

    /* in the same feed as the marker */
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 LOGIN {5}\r\nalice {2}\r\npw\r\n");
    assert_int_equal(R.nu, 1);
    assert_int_equal(R.np, 2);
    assert_int_equal(R.u[0].lits[0].flags, IMAP_LIT_EARLY);
    assert_int_equal(R.u[0].lits[1].flags, IMAP_LIT_EARLY);
    assert_int_equal(R.u[0].len, 29);
    imap_lex_free(lx);
}

/* ------------------------------------------------------------ keep limits */

static void test_keep_limits(void **state)
{
    struct imap_lex_limits lim;
    struct imap_lex *lx;

    (void)state;
    imap_lex_default_limits(IMAP_S2C, 0, &lim);
    lim.keep_per_literal = 4;
    lim.keep_total = 6;
    lx = lex_new(IMAP_S2C, &lim);
    FEED(lx, "* 1 FETCH (A {10}\r\n0123456789 B {10}\r\nabcdefghij C {3}\r\nxyz D {2}\r\n"
             "pq)\r\n");
    assert_int_equal(R.nu, 1);
    assert_int_equal(R.u[0].nlits, 4);
    assert_int_equal(R.u[0].lits[0].kept, 4);
    assert_int_equal(R.u[0].lits[1].kept, 2); /* per unit: 6 in all */
    assert_int_equal(R.u[0].lits[2].kept, 0);
    assert_int_equal(R.u[0].lits[3].kept, 0);
    assert_int_equal(R.u[0].lits[2].size, 3);
    assert_string_equal(R.u[0].text, "* 1 FETCH (A {10}\r\n0123 B {10}\r\nab C {3}\r\n D {2}\r\n)");
    /* the rest is counted, and all of it streamed through */
    assert_int_equal(R.lit_bytes[0], 10);
    assert_int_equal(R.lit_bytes[1], 10);
    assert_int_equal(R.lit_bytes[2], 3);
    assert_int_equal(R.lit_bytes[3], 2);
    assert_int_equal(R.u[0].len, 72);
    assert_int_equal(R.u[0].line_bytes, 72 - 25);
    assert_int_equal(R.np, 0);
    imap_lex_free(lx);

    /* the defaults: 256 per literal */
    lx = lex_new(IMAP_C2S, NULL);
    {
        char *w = mkline("a1 APPEND x {300+}\r\n", 20 + 300 + 2, "\r\n", 'q');
        feed(lx, w, strlen(w));
        free(w);
    }
    assert_int_equal(R.u[0].lits[0].kept, IMAP_LEX_KEEP_PER_LITERAL);
    assert_int_equal(R.u[0].text_len, 20 + IMAP_LEX_KEEP_PER_LITERAL);
    imap_lex_free(lx);
}

/* ------------------------------------------------------------ line limit */

/* A line of exactly line_max bytes (CRLF included) passes; one byte more is a
 * limit, and framing goes on. */
static void check_line_limit(enum imap_dir dir, int preauth)
{
    struct imap_lex_limits lim;
    struct imap_lex *lx;
    const char *prefix = dir == IMAP_C2S ? "a1 X " : "* OK ";
    const char *next = dir == IMAP_C2S ? "a2 NOOP\r\n" : "a2 OK done\r\n";
    char *at, *past;
    uint64_t n;

    imap_lex_default_limits(dir, preauth, &lim);
    n = lim.line_max;
    at = mkline(prefix, n, "\r\n", 'A');
    past = mkline(prefix, n + 1, "\r\n", 'A');

    lx = lex_new(dir, &lim);
    feed(lx, at, n);
    feed(lx, next, strlen(next));
    assert_int_equal(R.nu, 2);
    assert_int_equal(R.np, 0);
    assert_int_equal(R.u[0].len, n);
    assert_int_equal(R.u[0].line_bytes, n);
    assert_int_equal(R.u[0].text_len, n - 2);
    assert_int_equal(R.u[0].flags, 0);
    assert_memory_equal(R.u[0].text, at, n - 2);
    assert_int_equal(R.u[1].off, n);
    imap_lex_free(lx);

    lx = lex_new(dir, &lim);
    feed(lx, next, strlen(next));
    feed(lx, past, n + 1);
    feed(lx, next, strlen(next));
    assert_int_equal(R.nu, 3);
    assert_int_equal(R.np, 1);
    assert_problem(0, IMAP_LEX_LIMIT_LINE, strlen(next), n + 1, n);
    assert_int_equal(R.u[1].off, strlen(next));
    assert_int_equal(R.u[1].len, n + 1);
    assert_int_equal(R.u[1].line_bytes, n + 1);
    assert_int_equal(R.u[1].flags, IMAP_UNIT_TRUNCATED);
    assert_true(R.u[1].text_len <= n);
    assert_memory_equal(R.u[1].text, past, R.u[1].text_len);
    assert_int_equal(R.u[2].off, strlen(next) + n + 1);
    assert_int_equal(R.u[2].flags, 0);
    assert_int_equal(imap_lex_memory(lx), 0);
    imap_lex_free(lx);

    /* the same, one byte at a time */
    lx = lex_new(dir, &lim);
    feed_bytewise(lx, past, n + 1);
    assert_int_equal(R.nu, 1);
    assert_int_equal(R.np, 1);
    assert_problem(0, IMAP_LEX_LIMIT_LINE, 0, n + 1, n);
    imap_lex_free(lx);

    free(at);
    free(past);
}

static void test_line_limit_c2s_preauth(void **state)
{
    struct imap_lex_limits lim;

    (void)state;
    imap_lex_default_limits(IMAP_C2S, 1, &lim);
    assert_int_equal(lim.line_max, IMAP_LEX_C2S_LINE_MAX_PREAUTH);
    check_line_limit(IMAP_C2S, 1);
}

static void test_line_limit_s2c_preauth(void **state)
{
    struct imap_lex_limits lim;

    (void)state;
    imap_lex_default_limits(IMAP_S2C, 1, &lim);
    assert_int_equal(lim.line_max, IMAP_LEX_S2C_LINE_MAX_PREAUTH);
    check_line_limit(IMAP_S2C, 1);
}

static void test_line_limit_c2s(void **state)
{
    struct imap_lex_limits lim;

    (void)state;
    imap_lex_default_limits(IMAP_C2S, 0, &lim);
    assert_int_equal(lim.line_max, IMAP_LEX_C2S_LINE_MAX);
    check_line_limit(IMAP_C2S, 0);
}

static void test_line_limit_s2c(void **state)
{
    struct imap_lex_limits lim;

    (void)state;
    imap_lex_default_limits(IMAP_S2C, 0, &lim);
    assert_int_equal(lim.line_max, IMAP_LEX_S2C_LINE_MAX);
    check_line_limit(IMAP_S2C, 0);
}

static void test_line_limit_bare_lf_and_literals(void **state)
{
    struct imap_lex_limits lim;
    struct imap_lex *lx;
    char *w;

    (void)state;
    imap_lex_default_limits(IMAP_C2S, 1, &lim);
    lim.line_max = 40;

    /* a bare LF counts one byte */
    lx = lex_new(IMAP_C2S, &lim);
    w = mkline("a1 X ", 40, "\n", 'A');
    feed(lx, w, 40);
    assert_int_equal(R.np, 0);
    free(w);
    w = mkline("a1 X ", 41, "\n", 'A');
    feed(lx, w, 41);
    assert_int_equal(R.np, 1);
    assert_problem(0, IMAP_LEX_LIMIT_LINE, 40, 41, 40);
    free(w);
    imap_lex_free(lx);

    /* literal octets do not count; every segment's bytes and breaks do:
     * "a1 X {3+}\r\n" (11) + "abc" + " " + 26 A's + "\r\n" = 40 line bytes */
    lx = lex_new(IMAP_C2S, &lim);
    w = mkline("a1 X {3+}\r\nabc ", 11 + 3 + 29, "\r\n", 'A');
    feed(lx, w, strlen(w));
    assert_int_equal(R.np, 0);
    assert_int_equal(R.u[0].line_bytes, 40);
    assert_int_equal(R.u[0].flags, 0);
    free(w);
    w = mkline("a2 X {3+}\r\nabc ", 11 + 3 + 30, "\r\n", 'A');
    feed(lx, w, strlen(w));
    free(w);
    assert_int_equal(R.np, 1);
    assert_problem(0, IMAP_LEX_LIMIT_LINE, 43, 41, 40);
    assert_int_equal(R.u[1].line_bytes, 41);
    assert_int_equal(R.u[1].flags, IMAP_UNIT_TRUNCATED);
    imap_lex_free(lx);

    /* a literal marker at the end of an overlong line is still framed */
    lx = lex_new(IMAP_C2S, &lim);
    w = mkline("a1 X ", 80, " {5+}\r\n", 'A');
    feed(lx, w, 80);
    free(w);
    FEED(lx, "{9}\r\n B\r\na2 NOOP\r\n");
    assert_int_equal(R.nu, 2);
    assert_int_equal(R.np, 1);
    assert_problem(0, IMAP_LEX_LIMIT_LINE, 0, 41, 40);
    assert_int_equal(R.u[0].nlits_all, 1);
    assert_int_equal(R.u[0].nlits, 0); /* past the limit: counted, not described */
    assert_int_equal(R.u[0].len, 80 + 5 + 4);
    assert_int_equal(R.u[0].line_bytes, 80 + 4);
    assert_true(R.u[0].flags & IMAP_UNIT_TRUNCATED);
    ASSERT_UNIT(1, IMAP_UNIT_COMMAND, 89, 9, "a2 NOOP");
    imap_lex_free(lx);

    /* a 25-digit count after the limit still gives up, as before it */
    lx = lex_new(IMAP_C2S, &lim);
    w = mkline("a1 X ", 100, " {1234567890123456789012345}\r\n", 'A');
    feed(lx, w, 100);
    free(w);
    assert_int_equal(R.np, 2);
    assert_int_equal(R.p[0].what, IMAP_LEX_LIMIT_LINE);
    assert_int_equal(R.p[1].what, IMAP_LEX_GIVE_UP);
    assert_int_equal(imap_lex_mode(lx), IMAP_LEX_RAW);
    imap_lex_free(lx);
}

static void test_line_limit_long_marker(void **state)
{
    static const char marker[] = " {00000000000000000000000000000000005+}\r\n"; /* 35 digits */
    struct imap_lex_limits lim;
    struct imap_lex *lx;
    char *w;
    size_t n;

    (void)state;
    /* a zero-padded count is a valid literal marker (leading zeros are legal) */
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 X {00000000000000000000000000000000005+}\r\nab\r\nc\r\na2 NOOP\r\n");
    assert_int_equal(R.nu, 2);
    assert_int_equal(R.u[0].nlits, 1);
    assert_int_equal(R.u[0].lits[0].size, 5);
    ASSERT_UNIT(1, IMAP_UNIT_COMMAND, 52, 9, "a2 NOOP");
    imap_lex_free(lx);

    /* Regression test (was a bug): past the line limit the framer looks for the marker only in the
     * last TAIL_MAX (32) bytes of the line, so the same marker is no longer
     * seen: the unit ends at its CRLF, the literal's octets "ab\r\nc" are
     * framed as two more lines, and the framer is out of step with the peer
     * (which reads 5 octets of literal data).  Expected: 2 units, the first
     * with one literal; actual: 4 units and no literal.  (The same limit makes
     * a 40-digit count that overflows give up in a short line but pass as
     * plain text in a long one.) */
    imap_lex_default_limits(IMAP_C2S, 1, &lim);
    lim.line_max = 40;
    lx = lex_new(IMAP_C2S, &lim);
    n = 60 + sizeof(marker) - 1;
    w = mkline("a1 X ", n, marker, 'A');
    feed(lx, w, n);
    free(w);
    FEED(lx, "ab\r\nc\r\na2 NOOP\r\n");
    if (R.nu != 2)
        fail_msg("%zu units, want 2 (the 5 literal octets were framed as lines)", R.nu);
    assert_int_equal(R.u[0].nlits_all, 1);
    assert_int_equal(R.u[0].len, n + 5 + 2);
    assert_int_equal(R.u[1].off, n + 7);
    imap_lex_free(lx);
}

/* ------------------------------------------------------------ literals per unit */

/* A unit with nlit literals of one octet each. */
static char *many_literals(enum imap_dir dir, size_t nlit, size_t *len_r)
{
    const char *head = dir == IMAP_C2S ? "a1 X" : "* 1 FETCH (X";
    const char *mark = dir == IMAP_C2S ? " {1+}\r\nz" : " {1}\r\nz";
    const char *tail = dir == IMAP_C2S ? "\r\n" : ")\r\n";
    size_t hl = strlen(head), ml = strlen(mark), tl = strlen(tail);
    size_t len = hl + nlit * ml + tl, o = 0;
    char *w = malloc(len + 1);

    assert_non_null(w);
    memcpy(w, head, hl);
    o = hl;
    for (size_t i = 0; i < nlit; i++, o += ml)
        memcpy(w + o, mark, ml);
    memcpy(w + o, tail, tl);
    w[len] = '\0';
    *len_r = len;
    return w;
}

static void check_literals_max(enum imap_dir dir, int preauth, uint32_t max)
{
    struct imap_lex_limits lim;
    struct imap_lex *lx;
    size_t len;
    char *w;

    imap_lex_default_limits(dir, preauth, &lim);
    if (max != 0)
        lim.literals_max = max;
    max = lim.literals_max;

    w = many_literals(dir, max, &len);
    assert_true(len < lim.line_max); /* the line limit must not hit first */
    lx = lex_new(dir, &lim);
    feed(lx, w, len);
    assert_int_equal(R.nu, 1);
    assert_int_equal(R.np, 0);
    assert_int_equal(R.u[0].nlits, max);
    assert_int_equal(R.u[0].nlits_all, max);
    assert_int_equal(R.u[0].flags, 0);
    assert_int_equal(R.u[0].len, len);
    imap_lex_free(lx);
    free(w);

    w = many_literals(dir, max + 1, &len);
    lx = lex_new(dir, &lim);
    feed(lx, w, len);
    feed(lx, "a2 NOOP\r\n", 9);
    assert_int_equal(R.nu, 2);
    assert_int_equal(R.np, 1);
    assert_problem(0, IMAP_LEX_LIMIT_LITERALS, 0, max + 1, max);
    assert_int_equal(R.u[0].nlits, max);
    assert_int_equal(R.u[0].nlits_all, max + 1);
    assert_int_equal(R.u[0].flags, IMAP_UNIT_LITS_DROPPED);
    assert_int_equal(R.u[0].len, len);
    assert_int_equal(R.u[1].off, len);
    assert_int_equal(R.lit_bytes_all, max + 1);
    imap_lex_free(lx);
    free(w);
}

static void test_literals_max(void **state)
{
    (void)state;
    check_literals_max(IMAP_C2S, 0, 3);
    check_literals_max(IMAP_S2C, 1, 3);
    /* the defaults (4096): c2s after login (before it the 8 KiB line limit
     * comes first), s2c before and after */
    check_literals_max(IMAP_C2S, 0, 0);
    check_literals_max(IMAP_S2C, 1, 0);
    check_literals_max(IMAP_S2C, 0, 0);
}

/* ------------------------------------------------------------ literal size */

static void test_literal_max(void **state)
{
    struct imap_lex_limits lim;
    struct imap_lex *lx;
    char head[64];
    size_t hl;
    char *body;

    (void)state;
    /* before login, c2s: 64 KiB; at the limit nothing, one past a limit, and
     * framing goes on either way */
    imap_lex_default_limits(IMAP_C2S, 1, &lim);
    assert_int_equal(lim.literal_max, IMAP_LEX_LITERAL_MAX_PREAUTH);
    body = malloc(lim.literal_max + 1);
    assert_non_null(body);
    memset(body, 'b', lim.literal_max + 1);
    for (int past = 0; past < 2; past++) {
        uint64_t size = lim.literal_max + (uint64_t)past;
        lx = lex_new(IMAP_C2S, &lim);
        hl = (size_t)snprintf(head, sizeof(head), "a1 LOGIN u {%llu+}\r\n",
                              (unsigned long long)size);
        feed(lx, head, hl);
        feed(lx, body, (size_t)size);
        FEED(lx, "\r\na2 NOOP\r\n");
        assert_int_equal(R.nu, 2);
        assert_int_equal(R.np, (size_t)past);
        if (past)
            assert_problem(0, IMAP_LEX_LIMIT_LITERAL, 0, size, lim.literal_max);
        assert_int_equal(R.u[0].len, hl + size + 2);
        assert_int_equal(R.u[0].lits[0].size, size);
        assert_int_equal(R.u[1].off, hl + size + 2);
        imap_lex_free(lx);
    }
    free(body);

    /* before login, s2c: the same as after (1 TiB) */
    imap_lex_default_limits(IMAP_S2C, 1, &lim);
    assert_int_equal(lim.literal_max, IMAP_LEX_LITERAL_MAX);
    lx = lex_new(IMAP_S2C, &lim);
    FEED(lx, "* 1 FETCH (BODY[] {1099511627776}\r\n");
    assert_int_equal(R.np, 0);
    imap_lex_free(lx);
    lx = lex_new(IMAP_S2C, &lim);
    FEED(lx, "* 1 FETCH (BODY[] {1099511627777}\r\nabc");
    assert_int_equal(R.np, 1);
    assert_problem(0, IMAP_LEX_LIMIT_LITERAL, 0, 1099511627777ULL, IMAP_LEX_LITERAL_MAX);
    assert_true(imap_lex_in_literal(lx));
    assert_int_equal(R.lit_bytes_all, 3);
    imap_lex_free(lx);

    /* after login, c2s: 1 TiB too */
    imap_lex_default_limits(IMAP_C2S, 0, &lim);
    assert_int_equal(lim.literal_max, IMAP_LEX_LITERAL_MAX);
    lx = lex_new(IMAP_C2S, &lim);
    FEED(lx, "a1 APPEND x {1099511627776+}\r\nabc");
    assert_int_equal(R.np, 0);
    imap_lex_free(lx);
    lx = lex_new(IMAP_C2S, &lim);
    FEED(lx, "a1 APPEND x {1099511627777}\r\n");
    assert_int_equal(R.np, 1);
    assert_problem(0, IMAP_LEX_LIMIT_LITERAL, 0, 1099511627777ULL, IMAP_LEX_LITERAL_MAX);
    assert_int_equal(R.nsync, 1); /* still a literal waiting for "+" */
    imap_lex_free(lx);
    /* after login, s2c */
    imap_lex_default_limits(IMAP_S2C, 0, &lim);
    lx = lex_new(IMAP_S2C, &lim);
    FEED(lx, "* 1 FETCH (BODY[] {1099511627777}\r\n");
    assert_int_equal(R.np, 1);
    imap_lex_free(lx);

    /* a small limit, s2c */
    imap_lex_default_limits(IMAP_S2C, 0, &lim);
    lim.literal_max = 4;
    lx = lex_new(IMAP_S2C, &lim);
    FEED(lx, "* 1 FETCH (BODY[] {4}\r\nabcd)\r\n* 2 FETCH (BODY[] {5}\r\nabcde)\r\n* 3 EXISTS\r\n");
    assert_int_equal(R.nu, 3);
    assert_int_equal(R.np, 1);
    assert_problem(0, IMAP_LEX_LIMIT_LITERAL, 30, 5, 4);
    assert_int_equal(R.u[1].lits[0].kept, 5);
    ASSERT_UNIT(2, IMAP_UNIT_DATA, 61, 12, "* 3 EXISTS");
    imap_lex_free(lx);
}

/* ------------------------------------------------------------ giving up */

static void check_give_up(enum imap_dir dir, const char *line)
{
    struct imap_lex *lx = lex_new(dir, NULL);
    size_t n = strlen(line);

    R.auto_go = 1;
    FEED(lx, "a0 OK x\r\n");
    feed(lx, line, n);
    assert_int_equal(R.nu, 1);
    assert_int_equal(R.np, 1);
    assert_int_equal(R.p[0].what, IMAP_LEX_GIVE_UP);
    assert_int_equal(R.p[0].off, 9);
    assert_int_equal(imap_lex_mode(lx), IMAP_LEX_RAW);
    assert_int_equal(R.nsync, 0);
    /* raw: bytes are counted, nothing else, for good */
    FEED(lx, "a2 NOOP\r\n* 1 EXISTS\r\n");
    assert_int_equal(R.nu, 1);
    assert_int_equal(imap_lex_offset(lx), 9 + n + 21);
    imap_lex_set_mode(lx, IMAP_LEX_NORMAL);
    assert_int_equal(imap_lex_mode(lx), IMAP_LEX_RAW);
    imap_lex_reset(lx);
    assert_int_equal(imap_lex_mode(lx), IMAP_LEX_RAW);
    FEED(lx, "a3 NOOP\r\n");
    assert_int_equal(R.nu, 1);
    assert_int_equal(R.np, 1);
    assert_int_equal(imap_lex_offset(lx), 9 + n + 30);
    assert_int_equal(imap_lex_memory(lx), 0);
    imap_lex_free(lx);
}

static void test_give_up_overflow(void **state)
{
    (void)state;
    /* 20 digits */
    check_give_up(IMAP_S2C, "* 1 FETCH (BODY[] {99999999999999999999}\r\nabc");
    check_give_up(IMAP_C2S, "a1 APPEND x {99999999999999999999}\r\nabc");
    check_give_up(IMAP_C2S, "a1 APPEND x {10000000000000000000+}\r\n");
    /* 19 digits above INT64_MAX */
    check_give_up(IMAP_S2C, "* 1 FETCH (BODY[] {9223372036854775808}\r\n");
    check_give_up(IMAP_C2S, "a1 APPEND x ~{9999999999999999999}\r\n");
}

static void test_big_counts_that_fit(void **state)
{
    struct imap_lex *lx;

    (void)state;
    /* INT64_MAX itself frames (and is a limit) */
    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, "* 1 FETCH (BODY[] {9223372036854775807}\r\nabc");
    assert_int_equal(R.np, 1);
    assert_problem(0, IMAP_LEX_LIMIT_LITERAL, 0, 9223372036854775807ULL, IMAP_LEX_LITERAL_MAX);
    assert_int_equal(imap_lex_mode(lx), IMAP_LEX_NORMAL);
    assert_true(imap_lex_in_literal(lx));
    imap_lex_free(lx);
    /* leading zeros are no overflow */
    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, "* 1 FETCH (BODY[] {0000000000000000000000005}\r\nabcde)\r\n");
    assert_int_equal(R.np, 0);
    assert_int_equal(R.nu, 1);
    assert_int_equal(R.u[0].lits[0].size, 5);
    imap_lex_free(lx);
}

/* ------------------------------------------------------------ tags */

/* "tag NOOP" (c2s) or "tag OK x" (s2c) with a tag of tag_len bytes.
 * want_value 0: any value above IMAP_LEX_TAG_MAX. */
static void check_tag(enum imap_dir dir, size_t tag_len, int want_problem, uint64_t want_value)
{
    struct imap_lex *lx = lex_new(dir, NULL);
    const char *rest = dir == IMAP_C2S ? " NOOP\r\n" : " OK x\r\n";
    char *w = malloc(tag_len + 8);

    assert_non_null(w);
    memset(w, 't', tag_len);
    memcpy(w + tag_len, rest, 8);
    feed(lx, w, tag_len + 7);
    assert_int_equal(R.nu, 1);
    if (!want_problem) {
        assert_int_equal(R.np, 0);
    } else {
        if (R.np != 1)
            fail_msg("%s tag of %zu bytes: %zu problems, want 1 (LIMIT_TAG)",
                     dir == IMAP_C2S ? "c2s" : "s2c", tag_len, R.np);
        assert_int_equal(R.p[0].what, IMAP_LEX_LIMIT_TAG);
        assert_int_equal(R.p[0].off, 0);
        assert_int_equal(R.p[0].max, IMAP_LEX_TAG_MAX);
        if (want_value != 0)
            assert_int_equal(R.p[0].value, want_value);
        else
            assert_true(R.p[0].value > IMAP_LEX_TAG_MAX);
    }
    assert_int_equal(R.u[0].len, tag_len + 7);
    imap_lex_free(lx);
    free(w);
}

static void test_tag_limit(void **state)
{
    (void)state;
    check_tag(IMAP_C2S, IMAP_LEX_TAG_MAX, 0, 0);
    check_tag(IMAP_C2S, IMAP_LEX_TAG_MAX + 1, 1, IMAP_LEX_TAG_MAX + 1);
    check_tag(IMAP_S2C, IMAP_LEX_TAG_MAX, 0, 0);
    check_tag(IMAP_S2C, IMAP_LEX_TAG_MAX + 1, 1, IMAP_LEX_TAG_MAX + 1);
    /* a server tag longer than the head the framer looks at */
    check_tag(IMAP_S2C, 300, 1, 0);
}

static void test_tag_limit_c2s_long(void **state)
{
    (void)state;
    /* Regression test (was a bug): a client tag of IMAP_LEX_HEAD_MAX (160) bytes or more gets no
     * LIMIT_TAG problem.  watch_head() checks the tag length at the first
     * space, but a c2s unit is classified from the start, so at 160 bytes
     * the head is declared done without the check (that branch only reports
     * for unclassified s2c lines), and the first space comes after
     * head_done, when watch_head() is no longer called.  Tags of 129..159
     * bytes are reported; 160 and longer silently pass. */
    check_tag(IMAP_C2S, IMAP_LEX_HEAD_MAX - 1, 1, IMAP_LEX_HEAD_MAX - 1);
    check_tag(IMAP_C2S, IMAP_LEX_HEAD_MAX, 1, 0);
    check_tag(IMAP_C2S, 300, 1, 0);
}

/* The problems of a stream, as a string, fed whole, byte by byte or in two. */
static char *tag_problems(enum imap_dir dir, const char *w, size_t n, size_t split)
{
    struct imap_lex *lx = lex_new(dir, NULL);
    char *sig;

    if (split == 0) {
        feed_bytewise(lx, w, n);
    } else {
        feed(lx, w, split);
        feed(lx, w + split, n - split);
    }
    /* units are not compared here */
    for (size_t i = 0; i < R.nu; i++)
        free(R.u[i].text);
    R.nu = 0;
    R.nheads = 0;
    sig = signature();
    imap_lex_free(lx);
    return sig;
}

static void test_tag_limit_any_split(void **state)
{
    static const size_t lens[] = {IMAP_LEX_TAG_MAX + 1, 200, 300};
    size_t k;

    (void)state;
    /* Regression test (was a bug): for a server tag longer than IMAP_LEX_HEAD_MAX, the LIMIT_TAG
     * value depends on how the stream was split (protocol.md §1.5: any split gives identical
     * events).  head_check() runs after a whole run of head bytes has been copied (the run stops
     * only at a space, quote, CR, LF or NUL), and reports lx->len: fed in one piece, a 300-byte tag
     * gives value 300; fed byte by byte, 160 (IMAP_LEX_HEAD_MAX); split at 200, 200. */
    for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        size_t n = lens[k] + 7, split;
        char *w = malloc(n + 1), *whole;
        memset(w, 't', lens[k]);
        memcpy(w + lens[k], " OK x\r\n", 8);
        whole = tag_problems(IMAP_S2C, w, n, n);
        for (split = 0; split < n; split += 10) {
            char *sig = tag_problems(IMAP_S2C, w, n, split);
            if (strcmp(sig, whole) != 0)
                fail_msg("s2c tag of %zu bytes, split at %zu (0: byte by byte):\n%s"
                         "--- whole:\n%s",
                         lens[k], split, sig, whole);
            free(sig);
        }
        free(whole);
        free(w);
    }
    rec_clear();
}

/* ------------------------------------------------------------ modes */

static void test_discard_and_reset(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 STARTTLS\r\n");
    imap_lex_set_mode(lx, IMAP_LEX_DISCARD);
    assert_int_equal(imap_lex_mode(lx), IMAP_LEX_DISCARD);
    FEED(lx, "a2 LOGIN u {5}\r\n");
    FEED(lx, "abc");
    assert_int_equal(R.nu, 1);
    assert_int_equal(R.nsync, 0);
    assert_int_equal(imap_lex_offset(lx), 13 + 16 + 3);
    assert_int_equal(imap_lex_memory(lx), 0);
    imap_lex_reset(lx);
    R.in_head = 0;
    assert_int_equal(imap_lex_mode(lx), IMAP_LEX_NORMAL);
    FEED(lx, "a3 NOOP\r\n");
    assert_int_equal(R.nu, 2);
    ASSERT_UNIT(1, IMAP_UNIT_COMMAND, 32, 9, "a3 NOOP");
    imap_lex_free(lx);

    /* discard set in the middle of a unit: the unit completes first */
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 STARTTLS");
    imap_lex_set_mode(lx, IMAP_LEX_DISCARD);
    FEED(lx, "\r\nxyz\r\n");
    assert_int_equal(R.nu, 1);
    ASSERT_UNIT(0, IMAP_UNIT_COMMAND, 0, 13, "a1 STARTTLS");
    assert_int_equal(imap_lex_offset(lx), 18);
    imap_lex_free(lx);

    /* reset drops a partial unit (and a waiting literal) */
    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, "* 1 FETCH (BODY[] {100}\r\nabc");
    imap_lex_reset(lx);
    R.in_head = 0; /* the partial unit is gone */
    assert_true(imap_lex_at_boundary(lx));
    assert_false(imap_lex_in_literal(lx));
    FEED(lx, "* 2 EXISTS\r\n");
    assert_int_equal(R.nu, 1);
    ASSERT_UNIT(0, IMAP_UNIT_DATA, 28, 12, "* 2 EXISTS");
    assert_int_equal(imap_lex_memory(lx), 0);
    imap_lex_free(lx);

    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 APPEND x {100}\r\n");
    assert_true(imap_lex_awaiting_plus(lx));
    imap_lex_reset(lx);
    R.in_head = 0;
    assert_false(imap_lex_awaiting_plus(lx));
    FEED(lx, "a2 NOOP\r\n");
    ASSERT_UNIT(0, IMAP_UNIT_COMMAND, 19, 9, "a2 NOOP");
    imap_lex_free(lx);

    /* raw set by hand is final too */
    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, "* OK");
    imap_lex_set_mode(lx, IMAP_LEX_RAW);
    R.in_head = 0;
    FEED(lx, " x\r\n* 1 EXISTS\r\n");
    assert_int_equal(R.nu, 0);
    assert_int_equal(imap_lex_offset(lx), 20);
    imap_lex_free(lx);
}

static void test_set_limits(void **state)
{
    struct imap_lex_limits lim;
    struct imap_lex *lx;
    char *w;

    (void)state;
    /* the switch from pre-auth to post-auth limits applies to the next unit */
    imap_lex_default_limits(IMAP_C2S, 1, &lim);
    lx = lex_new(IMAP_C2S, &lim);
    w = mkline("a1 X ", IMAP_LEX_C2S_LINE_MAX_PREAUTH + 1, "\r\n", 'A');
    feed(lx, w, strlen(w));
    assert_int_equal(R.np, 1);
    imap_lex_default_limits(IMAP_C2S, 0, &lim);
    imap_lex_set_limits(lx, &lim);
    feed(lx, w, strlen(w));
    assert_int_equal(R.np, 1);
    assert_int_equal(R.u[1].flags, 0);
    free(w);
    imap_lex_free(lx);
}

/* ------------------------------------------------------------ memory */

static void test_memory_released_at_boundary(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_S2C, NULL);
    assert_int_equal(imap_lex_memory(lx), 0);
    FEED(lx, "* 1 FETCH (BODY[] {3}\r\nabc)\r\n* 2 EXISTS\r\n");
    assert_int_equal(imap_lex_memory(lx), 0);
    FEED(lx, "* 3 FETCH (BODY[] {3}\r\na");
    assert_true(imap_lex_memory(lx) > 0);
    FEED(lx, "bc)\r\n");
    assert_int_equal(imap_lex_memory(lx), 0);
    imap_lex_free(lx);
}

static void check_big_literal(enum imap_dir dir)
{
    static char chunk[64 * 1024];
    const uint64_t total = 10u * 1024 * 1024;
    struct imap_lex *lx = lex_new(dir, NULL);
    size_t peak = 0;
    uint64_t sent = 0;

    memset(chunk, 'x', sizeof(chunk));
    if (dir == IMAP_S2C)
        FEED(lx, "* 1 FETCH (BODY[] {10485760}\r\n");
    else
        FEED(lx, "a1 APPEND INBOX {10485760+}\r\n");
    while (sent < total) {
        feed(lx, chunk, sizeof(chunk));
        sent += sizeof(chunk);
        if (imap_lex_memory(lx) > peak)
            peak = imap_lex_memory(lx);
        assert_true(imap_lex_memory(lx) < 100 * 1024);
    }
    assert_int_equal(R.nu, 0);
    FEED(lx, ")\r\n");
    assert_int_equal(R.nu, 1);
    assert_int_equal(R.u[0].lits[0].size, total);
    assert_int_equal(R.u[0].lits[0].kept, IMAP_LEX_KEEP_PER_LITERAL);
    assert_int_equal(R.lit_bytes[0], total);
    assert_int_equal(imap_lex_memory(lx), 0);
    print_message("peak framer memory during a 10 MB %s literal: %zu bytes\n",
                  dir == IMAP_S2C ? "s2c" : "c2s", peak);
    imap_lex_free(lx);
}

static void test_memory_big_literal(void **state)
{
    (void)state;
    check_big_literal(IMAP_S2C);
    check_big_literal(IMAP_C2S);
}

/* ------------------------------------------------------------ heads */

static void test_head_callback(void **state)
{
    struct imap_lex *lx;

    (void)state;
    lx = lex_new(IMAP_C2S, NULL);
    FEED(lx, "a1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER])\r\n");
    assert_int_equal(R.nheads, 1);
    /* at least three tokens */
    assert_true(R.head_len >= 13);
    assert_memory_equal(R.head_text, "a1 UID FETCH ", 13);
    FEED(lx, "a2 NOOP\r\n");
    assert_int_equal(R.nheads, 2);
    assert_int_equal(R.head_len, 7);
    imap_lex_free(lx);

    /* s2c: the kind is known when the head is */
    lx = lex_new(IMAP_S2C, NULL);
    FEED(lx, "* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n");
    assert_int_equal(R.nheads, 1);
    assert_memory_equal(R.head_text, "* OK [CAPABILITY ", 17);
    imap_lex_free(lx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_lines_c2s),
        cmocka_unit_test(test_simple_lines_s2c_kinds),
        cmocka_unit_test(test_every_split_s2c),
        cmocka_unit_test(test_every_split_c2s),
        cmocka_unit_test(test_fast_path_any_split),
        cmocka_unit_test(test_crlf_split),
        cmocka_unit_test(test_bare_lf),
        cmocka_unit_test(test_bare_cr_kept),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_quoted_escapes),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_text_mode_server_lines),
        cmocka_unit_test(test_text_mode_client),
        cmocka_unit_test(test_marker_forms),
        cmocka_unit_test(test_empty_literal),
        cmocka_unit_test(test_sync_literal_go),
        cmocka_unit_test(test_sync_literal_cancel),
        cmocka_unit_test(test_sync_literal_early),
        cmocka_unit_test(test_keep_limits),
        cmocka_unit_test(test_line_limit_c2s_preauth),
        cmocka_unit_test(test_line_limit_s2c_preauth),
        cmocka_unit_test(test_line_limit_c2s),
        cmocka_unit_test(test_line_limit_s2c),
        cmocka_unit_test(test_line_limit_bare_lf_and_literals),
        cmocka_unit_test(test_line_limit_long_marker),
        cmocka_unit_test(test_literals_max),
        cmocka_unit_test(test_literal_max),
        cmocka_unit_test(test_give_up_overflow),
        cmocka_unit_test(test_big_counts_that_fit),
        cmocka_unit_test(test_tag_limit),
        cmocka_unit_test(test_tag_limit_c2s_long),
        cmocka_unit_test(test_tag_limit_any_split),
        cmocka_unit_test(test_discard_and_reset),
        cmocka_unit_test(test_set_limits),
        cmocka_unit_test(test_memory_released_at_boundary),
        cmocka_unit_test(test_memory_big_literal),
        cmocka_unit_test(test_head_callback),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    rec_clear();
    return rc;
}
