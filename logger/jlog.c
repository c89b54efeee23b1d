/*
 * jlog.c - protocol events to JSON lines of schema v1 (design.md §2,
 * protocol.md §7, logger/schema-v1.json).
 *
 * A line is built into the session's reusable buffer, then handed to the sink
 * (jlog_sink.c), which copies it.  seq is taken only by lines the sink
 * accepted, so what is written has no gaps even when lines are dropped.
 *
 * Two builders produce the same bytes: the default writes JSON text directly,
 * with jansson's exact formatting (JSON_COMPACT, JSON_REAL_PRECISION(15), its
 * escapes); the other builds a jansson tree and dumps it.  The direct writer
 * exists because the jansson way costs ~2.1 us for a typical event (0.6 us to
 * build the tree, 1.6 us in json_dumpb, which keeps a hash table of parents
 * for loop detection and formats through a callback per fragment) against
 * ~0.12 us, and the project's budget is 2 us per event for everything on the
 * relay's thread (bench_jlog).  test_jlog runs every case through both
 * builders and requires identical output, so jansson stays the reference.
 *
 * Key order: the common keys, then the type's fields, then the flags, always
 * last, so the writer knows whether a string was repaired ("lossy") by then.
 */
#include "jlog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "imap_event.h"
#include "jlog_int.h"
#include "utf8.h"

/* jansson formats reals with "%.<precision>g"; 15 digits print any value we
 * round to 0.001 without float noise (41.2, not 41.200000000000003). */
#define JW_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))
#define JW_DEPTH      8           /* deepest nesting we write is 4 */
#define JW_ESC_CHUNK  4096        /* input escaped per reservation (6 bytes each, worst case) */
#define JW_KEEP_MAX   (64 * 1024) /* a line buffer larger than this is freed after the line */
#define JLOG_HEAD_MAX (1u << 30)

/* A key as written in the text: "\"name\":" and its length.  The jansson
 * builder uses the name inside (k + 1, kl - 3). */
#define K(s) ("\"" s "\":"), (sizeof(s) + 2)

struct jw {
    char *p; /* the line (text builder; the dump for jansson) */
    size_t len, cap;
    int comma; /* the next member needs a ',' first */
    int oom;
    int lossy; /* a string was repaired */
    enum jlog_build build;
    json_t *stack[JW_DEPTH];
    int depth;
    char *scratch; /* jansson builder: repaired strings, base64 */
    size_t scratch_cap;
};

struct jlog_session {
    struct jlog *log;
    char sid[17];
    uint64_t seq;
    uint64_t dropped;
    enum jlog_literals literals;
    size_t head_bytes;
    int redact;
    struct jw w;
    /* The timestamp's "YYYY-MM-DDTHH:MM:SS" for ts_sec: gmtime work once a second. */
    int64_t ts_sec;
    char ts_date[20];
    /* ","sid":"<sid>","seq": */
    char pre_sid[40];
    size_t pre_sid_len;
};

static enum jlog_build jw_default_build = JLOG_BUILD_TEXT;

void jlog_set_build(enum jlog_build build)
{
    jw_default_build = build;
}

/* ---- options ---- */

void jlog_opts_default(struct jlog_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->literals = JLOG_LITERALS_SIZE;
    opts->head_bytes = 256;
    opts->redact = 1;
    opts->threaded = 1;
    opts->queue_max = 8u << 20;
    opts->overflow = JLOG_OVERFLOW_BLOCK;
    opts->flush_ms = 10;
}

int jlog_parse_literals(const char *s, struct jlog_opts *opts)
{
    unsigned long long n = 0;
    const char *p;

    if (s == NULL)
        return -1;
    if (strcmp(s, "none") == 0) {
        opts->literals = JLOG_LITERALS_NONE;
        return 0;
    }
    if (strcmp(s, "size") == 0) {
        opts->literals = JLOG_LITERALS_SIZE;
        return 0;
    }
    if (strcmp(s, "full") == 0) {
        opts->literals = JLOG_LITERALS_FULL;
        return 0;
    }
    if (strncmp(s, "head:", 5) != 0 || s[5] == '\0')
        return -1;
    for (p = s + 5; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        n = n * 10 + (unsigned)(*p - '0');
        if (n > JLOG_HEAD_MAX)
            return -1;
    }
    if (n == 0)
        return -1;
    opts->literals = JLOG_LITERALS_HEAD;
    opts->head_bytes = (size_t)n;
    return 0;
}

/* ---- timestamps ---- */

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm: exact for
 * any day, no table, no libc time zone state). */
static void civil_from_days(int64_t z, int64_t *y_r, unsigned *m_r, unsigned *d_r)
{
    int64_t era, doe, yoe, doy, mp, y;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d_r = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m_r = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y_r = y + (*m_r <= 2);
}

static void put2(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

/* RFC 3339 needs a 4-digit year: clamp to 0000-01-01 .. 9999-12-31. */
#define TS_MIN_SEC INT64_C(-62167219200)
#define TS_MAX_SEC INT64_C(253402300799)

static void ts_split(int64_t ts_us, int64_t *sec_r, unsigned *us_r)
{
    int64_t sec = ts_us / 1000000, us = ts_us % 1000000;

    if (us < 0) {
        us += 1000000;
        sec--;
    }
    if (sec < TS_MIN_SEC) {
        sec = TS_MIN_SEC;
        us = 0;
    } else if (sec > TS_MAX_SEC) {
        sec = TS_MAX_SEC;
        us = 999999;
    }
    *sec_r = sec;
    *us_r = (unsigned)us;
}

/* "YYYY-MM-DDTHH:MM:SS" (19 bytes, no NUL). */
static void ts_date(int64_t sec, char *o)
{
    int64_t days = sec / 86400, rem = sec % 86400, y;
    unsigned m, d;

    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    put2(o, (unsigned)(y / 100));
    put2(o + 2, (unsigned)(y % 100));
    o[4] = '-';
    put2(o + 5, m);
    o[7] = '-';
    put2(o + 8, d);
    o[10] = 'T';
    put2(o + 11, (unsigned)(rem / 3600));
    o[13] = ':';
    put2(o + 14, (unsigned)(rem / 60 % 60));
    o[16] = ':';
    put2(o + 17, (unsigned)(rem % 60));
}

/* ".uuuuuuZ" (8 bytes). */
static void ts_frac(unsigned us, char *o)
{
    int i;

    o[0] = '.';
    for (i = 6; i >= 1; i--) {
        o[i] = (char)('0' + us % 10);
        us /= 10;
    }
    o[7] = 'Z';
}

void jlog_format_ts(int64_t ts_us, char *buf, size_t buflen)
{
    int64_t sec;
    unsigned us;

    if (buflen < 28) {
        if (buflen > 0)
            buf[0] = '\0';
        return;
    }
    ts_split(ts_us, &sec, &us);
    ts_date(sec, buf);
    ts_frac(us, buf + 19);
    buf[27] = '\0';
}

/* ---- the JSON writer ---- */

/* 0: copied as is; 1: escaped; 2: start of a multi-byte sequence (checked). */
static const unsigned char jw_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

static const char jw_digits2[201] = "00010203040506070809"
                                    "10111213141516171819"
                                    "20212223242526272829"
                                    "30313233343536373839"
                                    "40414243444546474849"
                                    "50515253545556575859"
                                    "60616263646566676869"
                                    "70717273747576777879"
                                    "80818283848586878889"
                                    "90919293949596979899";

static const char jw_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes v in decimal at o; returns the end. */
static char *u64_to_dec(char *o, uint64_t v)
{
    char tmp[20];
    char *t = tmp + sizeof(tmp);
    size_t n;

    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, jw_digits2 + 2 * r, 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, jw_digits2 + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    n = (size_t)(tmp + sizeof(tmp) - t);
    memcpy(o, t, n);
    return o + n;
}

static size_t b64_encode(char *o, const unsigned char *p, size_t n)
{
    char *start = o;
    size_t i;

    for (i = 0; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = jw_b64_alphabet[v >> 18];
        *o++ = jw_b64_alphabet[(v >> 12) & 63];
        *o++ = jw_b64_alphabet[(v >> 6) & 63];
        *o++ = jw_b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        *o++ = jw_b64_alphabet[v >> 18];
        *o++ = jw_b64_alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        *o++ = jw_b64_alphabet[v >> 18];
        *o++ = jw_b64_alphabet[(v >> 12) & 63];
        *o++ = jw_b64_alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    return (size_t)(o - start);
}

static int jw_grow(struct jw *w, size_t need)
{
    size_t cap = w->cap != 0 ? w->cap : 512;
    char *p;

    if (w->oom)
        return -1;
    while (cap - w->len < need) {
        if (cap > SIZE_MAX / 2) {
            w->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    p = realloc(w->p, cap);
    if (p == NULL) {
        w->oom = 1;
        return -1;
    }
    w->p = p;
    w->cap = cap;
    return 0;
}

/* Room for n more bytes at the end of the line, or NULL (out of memory). */
static inline char *jw_room(struct jw *w, size_t n)
{
    if (w->cap - w->len < n && jw_grow(w, n) < 0)
        return NULL;
    return w->p + w->len;
}

static char *jw_scratch(struct jw *w, size_t n)
{
    char *p;

    if (w->scratch_cap >= n)
        return w->scratch;
    p = realloc(w->scratch, n);
    if (p == NULL) {
        w->oom = 1;
        return NULL;
    }
    w->scratch = p;
    w->scratch_cap = n;
    return p;
}

/* jansson builder: adds v under key k (or to the array on top). */
static void jw_jadd(struct jw *w, const char *k, size_t kl, json_t *v)
{
    json_t *top;

    if (v == NULL || w->depth == 0) {
        json_decref(v);
        w->oom = 1;
        return;
    }
    top = w->stack[w->depth - 1];
    if (json_is_object(top)) {
        if (json_object_setn_new_nocheck(top, k + 1, kl - 3, v) != 0)
            w->oom = 1;
    } else if (json_array_append_new(top, v) != 0) {
        w->oom = 1;
    }
}

/* Text builder: the separator and the key (k NULL in an array). */
static int jw_key(struct jw *w, const char *k, size_t kl)
{
    char *o = jw_room(w, kl + 1);

    if (o == NULL)
        return -1;
    if (w->comma)
        *o++ = ',';
    if (k != NULL) {
        memcpy(o, k, kl);
        o += kl;
    }
    w->comma = 1;
    w->len = (size_t)(o - w->p);
    return 0;
}

/* Writes s as a JSON string: jansson's escapes (\" \\ \b \f \n \r \t, other
 * controls as \u00XX), UTF-8 passed through, each invalid octet as U+FFFD. */
static void jw_esc(struct jw *w, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    char *o;

    if ((o = jw_room(w, 1)) == NULL)
        return;
    *o = '"';
    w->len++;
    while (p < end) {
        size_t chunk = (size_t)(end - p) < JW_ESC_CHUNK ? (size_t)(end - p) : JW_ESC_CHUNK;
        const unsigned char *stop = p + chunk;

        /* A sequence may run 3 bytes past stop: its lead octet's 6 cover it. */
        if ((o = jw_room(w, chunk * 6 + 8)) == NULL)
            return;
        while (p < stop) {
            unsigned c = *p;
            size_t l;

            if (jw_class[c] == 0) {
                *o++ = (char)c;
                p++;
                continue;
            }
            if (c < 0x80) {
                *o++ = '\\';
                switch (c) {
                case '"':
                    *o++ = '"';
                    break;
                case '\\':
                    *o++ = '\\';
                    break;
                case '\b':
                    *o++ = 'b';
                    break;
                case '\f':
                    *o++ = 'f';
                    break;
                case '\n':
                    *o++ = 'n';
                    break;
                case '\r':
                    *o++ = 'r';
                    break;
                case '\t':
                    *o++ = 't';
                    break;
                default:
                    *o++ = 'u';
                    *o++ = '0';
                    *o++ = '0';
                    *o++ = "0123456789ABCDEF"[c >> 4];
                    *o++ = "0123456789ABCDEF"[c & 15];
                    break;
                }
                p++;
                continue;
            }
            l = utf8_char_len(p, (size_t)(end - p));
            if (l == 0) {
                memcpy(o, "\xEF\xBF\xBD", 3);
                o += 3;
                p++;
                w->lossy = 1;
                continue;
            }
            memcpy(o, p, l);
            o += l;
            p += l;
        }
        w->len = (size_t)(o - w->p);
    }
    if ((o = jw_room(w, 1)) == NULL)
        return;
    *o = '"';
    w->len++;
}

static void jw_strn(struct jw *w, const char *k, size_t kl, const char *s, size_t n)
{
    if (w->build == JLOG_BUILD_JANSSON) {
        char *t;
        size_t m;

        if (n > (SIZE_MAX - 1) / 3 || (t = jw_scratch(w, 3 * n + 1)) == NULL) {
            w->oom = 1;
            return;
        }
        m = utf8_sanitize(t, s, n, &w->lossy);
        jw_jadd(w, k, kl, json_stringn_nocheck(t, m));
        return;
    }
    if (jw_key(w, k, kl) == 0)
        jw_esc(w, s, n);
}

/* An optional slice: absent (p == NULL) means no key. */
static void jw_istr(struct jw *w, const char *k, size_t kl, struct imap_str s)
{
    if (s.p != NULL)
        jw_strn(w, k, kl, s.p, s.len);
}

static void jw_cstr(struct jw *w, const char *k, size_t kl, const char *s)
{
    if (s != NULL)
        jw_strn(w, k, kl, s, strlen(s));
}

static void jw_u64(struct jw *w, const char *k, size_t kl, uint64_t v)
{
    char *o;

    if (w->build == JLOG_BUILD_JANSSON) {
        /* json_int_t is signed; no IMAP number we log reaches 2^63. */
        jw_jadd(w, k, kl, json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v));
        return;
    }
    if (jw_key(w, k, kl) < 0 || (o = jw_room(w, 20)) == NULL)
        return;
    w->len = (size_t)(u64_to_dec(o, v) - w->p);
}

static void jw_lit(struct jw *w, const char *k, size_t kl, const char *text, size_t tl,
                   json_t *(*make)(void))
{
    char *o;

    if (w->build == JLOG_BUILD_JANSSON) {
        jw_jadd(w, k, kl, make());
        return;
    }
    if (jw_key(w, k, kl) < 0 || (o = jw_room(w, tl)) == NULL)
        return;
    memcpy(o, text, tl);
    w->len += tl;
}

static json_t *jw_make_true(void)
{
    return json_true();
}

static json_t *jw_make_false(void)
{
    return json_false();
}

static json_t *jw_make_null(void)
{
    return json_null();
}

static void jw_bool(struct jw *w, const char *k, size_t kl, int v)
{
    if (v)
        jw_lit(w, k, kl, "true", 4, jw_make_true);
    else
        jw_lit(w, k, kl, "false", 5, jw_make_false);
}

static void jw_null(struct jw *w, const char *k, size_t kl)
{
    jw_lit(w, k, kl, "null", 4, jw_make_null);
}

/* jansson's jsonp_dtostr() after "%.*g": a '.' or 'e' is always present, the
 * exponent loses its '+' and leading zeros. */
static size_t dtostr_fixup(char *b, size_t len)
{
    char *start, *end;

    if (strchr(b, '.') == NULL && strchr(b, 'e') == NULL) {
        b[len++] = '.';
        b[len++] = '0';
        b[len] = '\0';
    }
    start = strchr(b, 'e');
    if (start != NULL) {
        start++;
        end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - b) + 1);
            len -= (size_t)(end - start);
        }
    }
    return len;
}

/* A duration in ms, rounded to 0.001.  Not finite: left out. */
static void jw_ms(struct jw *w, const char *k, size_t kl, double v)
{
    double t = v * 1000.0, r;
    long long q = 0;
    int exact = 0;
    char *o;

    if (!isfinite(v))
        return;
    if (fabs(t) < 1e15) {
        /* Below 10^15 thousandths "%.15g" prints exactly q/1000, so q alone
         * gives jansson's text without calling snprintf. */
        q = llround(t);
        r = (double)q / 1000.0;
        exact = 1;
    } else {
        r = round(t) / 1000.0;
    }
    if (w->build == JLOG_BUILD_JANSSON) {
        jw_jadd(w, k, kl, json_real(r));
        return;
    }
    if (jw_key(w, k, kl) < 0 || (o = jw_room(w, 64)) == NULL)
        return;
    if (exact) {
        unsigned long long a = q < 0 ? 0ULL - (unsigned long long)q : (unsigned long long)q;
        unsigned frac = (unsigned)(a % 1000);

        if (q < 0)
            *o++ = '-';
        o = u64_to_dec(o, a / 1000);
        *o++ = '.';
        if (frac == 0) {
            *o++ = '0';
        } else {
            *o++ = (char)('0' + frac / 100);
            if (frac % 100 != 0) {
                *o++ = (char)('0' + frac / 10 % 10);
                if (frac % 10 != 0)
                    *o++ = (char)('0' + frac % 10);
            }
        }
        w->len = (size_t)(o - w->p);
    } else {
        char b[64];
        int n = snprintf(b, sizeof(b) - 3, "%.15g", r);

        if (n < 0 || (size_t)n >= sizeof(b) - 3)
            return;
        n = (int)dtostr_fixup(b, (size_t)n);
        memcpy(o, b, (size_t)n);
        w->len += (size_t)n;
    }
}

static void jw_b64(struct jw *w, const char *k, size_t kl, const char *s, size_t n)
{
    size_t need = (n / 3 + 1) * 4;
    char *o;

    if (n > SIZE_MAX / 2) {
        w->oom = 1;
        return;
    }
    if (w->build == JLOG_BUILD_JANSSON) {
        if ((o = jw_scratch(w, need)) == NULL)
            return;
        jw_jadd(w, k, kl, json_stringn_nocheck(o, b64_encode(o, (const unsigned char *)s, n)));
        return;
    }
    if (jw_key(w, k, kl) < 0 || (o = jw_room(w, need + 2)) == NULL)
        return;
    *o++ = '"';
    o += b64_encode(o, (const unsigned char *)s, n);
    *o++ = '"';
    w->len = (size_t)(o - w->p);
}

static void jw_open(struct jw *w, const char *k, size_t kl, int array)
{
    char *o;

    if (w->build == JLOG_BUILD_JANSSON) {
        json_t *c = array ? json_array() : json_object();

        if (c == NULL || w->depth >= JW_DEPTH) {
            json_decref(c);
            w->oom = 1;
            return;
        }
        jw_jadd(w, k, kl, c);
        if (!w->oom)
            w->stack[w->depth++] = c; /* borrowed: the parent holds it */
        return;
    }
    if (jw_key(w, k, kl) < 0 || (o = jw_room(w, 1)) == NULL)
        return;
    *o = array ? '[' : '{';
    w->len++;
    w->comma = 0;
}

static void jw_close(struct jw *w, int array)
{
    char *o;

    if (w->build == JLOG_BUILD_JANSSON) {
        if (w->depth > 1)
            w->depth--;
        return;
    }
    if ((o = jw_room(w, 1)) == NULL)
        return;
    *o = array ? ']' : '}';
    w->len++;
    w->comma = 1;
}

static void jw_obj(struct jw *w, const char *k, size_t kl)
{
    jw_open(w, k, kl, 0);
}

static void jw_obj_end(struct jw *w)
{
    jw_close(w, 0);
}

static void jw_arr(struct jw *w, const char *k, size_t kl)
{
    jw_open(w, k, kl, 1);
}

static void jw_arr_end(struct jw *w)
{
    jw_close(w, 1);
}

static void jw_begin(struct jw *w)
{
    w->len = 0;
    w->comma = 0;
    w->oom = 0;
    w->lossy = 0;
    w->depth = 0;
    if (w->build == JLOG_BUILD_JANSSON) {
        json_t *root = json_object();

        if (root == NULL) {
            w->oom = 1;
            return;
        }
        w->stack[0] = root;
        w->depth = 1;
    }
}

/* Ends the line with '\n'.  Returns 0, or -1 when memory ran out. */
static int jw_finish(struct jw *w)
{
    char *o;

    if (w->build == JLOG_BUILD_JANSSON) {
        json_t *root = w->depth > 0 ? w->stack[0] : NULL;
        size_t n = 0;

        if (root != NULL && !w->oom) {
            n = json_dumpb(root, w->p, w->cap, JW_DUMP_FLAGS);
            if (n != 0 && n + 1 > w->cap && jw_grow(w, n + 1) == 0)
                n = json_dumpb(root, w->p, w->cap, JW_DUMP_FLAGS);
            if (n == 0 || n + 1 > w->cap)
                w->oom = 1;
        }
        json_decref(root);
        w->depth = 0;
        if (w->oom)
            return -1;
        w->len = n;
        w->p[w->len++] = '\n';
        return 0;
    }
    if ((o = jw_room(w, 2)) == NULL)
        return -1;
    o[0] = '}';
    o[1] = '\n';
    w->len += 2;
    return w->oom ? -1 : 0;
}

static void jw_free(struct jw *w)
{
    if (w->depth > 0)
        json_decref(w->stack[0]);
    free(w->p);
    free(w->scratch);
}

/* ---- sessions ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

struct jlog_session *jlog_session_new(struct jlog *log, const char *sid)
{
    const struct jlog_opts *opts;
    struct jlog_session *js;
    int i, n;

    if (log == NULL)
        return NULL;
    js = calloc(1, sizeof(*js));
    if (js == NULL)
        return NULL;
    if (sid != NULL) {
        /* The schema promises 16 lowercase hex digits; a sid from a capture
         * file is one of ours, so anything else is refused, not repaired. */
        for (i = 0; i < 16; i++) {
            if (sid[i] == '\0' || hexval((unsigned char)sid[i]) < 0) {
                free(js);
                return NULL;
            }
            js->sid[i] = "0123456789abcdef"[hexval((unsigned char)sid[i])];
        }
        if (sid[16] != '\0') {
            free(js);
            return NULL;
        }
        js->sid[16] = '\0';
    } else {
        jlog_sid_random(js->sid);
    }
    opts = jlog_sink_opts(log);
    js->log = log;
    js->literals = opts->literals;
    js->head_bytes = opts->head_bytes;
    js->redact = opts->redact;
    js->w.build = jw_default_build;
    js->ts_sec = INT64_MIN;
    n = snprintf(js->pre_sid, sizeof(js->pre_sid), "\",\"sid\":\"%s\",\"seq\":", js->sid);
    js->pre_sid_len = (size_t)n;
    return js;
}

void jlog_session_free(struct jlog_session *js)
{
    if (js == NULL)
        return;
    jw_free(&js->w);
    free(js);
}

void jlog_session_trim(struct jlog_session *js)
{
    if (js == NULL || js->w.depth > 0)
        return;
    free(js->w.p);
    js->w.p = NULL;
    js->w.len = js->w.cap = 0;
    free(js->w.scratch);
    js->w.scratch = NULL;
    js->w.scratch_cap = 0;
}

const char *jlog_session_sid(const struct jlog_session *js)
{
    return js->sid;
}

uint64_t jlog_session_dropped(const struct jlog_session *js)
{
    return js->dropped;
}

/* Starts a line with the common keys: v, ts, sid, seq, ev, then dir and off. */
static void line_begin(struct jlog_session *js, int64_t ts_us, const char *ev, int has_dir,
                       enum imap_dir dir, uint64_t off)
{
    struct jw *w = &js->w;
    int64_t sec;
    unsigned us;
    char ts[28];
    char *o;

    ts_split(ts_us, &sec, &us);
    if (sec != js->ts_sec) {
        ts_date(sec, js->ts_date);
        js->ts_sec = sec;
    }
    memcpy(ts, js->ts_date, 19);
    ts_frac(us, ts + 19);

    jw_begin(w);
    if (w->build == JLOG_BUILD_JANSSON) {
        jw_u64(w, K("v"), 1);
        jw_strn(w, K("ts"), ts, 27);
        jw_strn(w, K("sid"), js->sid, 16);
        jw_u64(w, K("seq"), js->seq);
        jw_strn(w, K("ev"), ev, strlen(ev));
        if (has_dir) {
            jw_strn(w, K("dir"), imap_dir_name(dir), 3);
            jw_u64(w, K("off"), off);
        }
        return;
    }
    /* The text builder writes the fixed part in one go. */
    if ((o = jw_room(w, 160 + strlen(ev))) == NULL)
        return;
    memcpy(o, "{\"v\":1,\"ts\":\"", 13);
    o += 13;
    memcpy(o, ts, 27);
    o += 27;
    memcpy(o, js->pre_sid, js->pre_sid_len);
    o += js->pre_sid_len;
    o = u64_to_dec(o, js->seq);
    memcpy(o, ",\"ev\":\"", 7);
    o += 7;
    memcpy(o, ev, strlen(ev));
    o += strlen(ev);
    *o++ = '"';
    if (has_dir) {
        memcpy(o, dir == IMAP_C2S ? ",\"dir\":\"c2s\",\"off\":" : ",\"dir\":\"s2c\",\"off\":", 19);
        o += 19;
        o = u64_to_dec(o, off);
    }
    w->len = (size_t)(o - w->p);
    w->comma = 1;
}

/* Hands the line to the sink.  force: see jlog_sink_put(). */
static int line_end(struct jlog_session *js, int force)
{
    struct jw *w = &js->w;
    int rc;

    if (jw_finish(w) < 0) {
        rc = -1;
        js->dropped++;
    } else if (jlog_sink_put(js->log, w->p, w->len, force) == 0) {
        js->seq++;
        rc = 0;
    } else {
        js->dropped++;
        rc = -1;
    }
    /* One huge literal must not pin megabytes per idle session. */
    if (w->cap > JW_KEEP_MAX) {
        free(w->p);
        w->p = NULL;
        w->cap = 0;
    }
    if (w->scratch_cap > JW_KEEP_MAX) {
        free(w->scratch);
        w->scratch = NULL;
        w->scratch_cap = 0;
    }
    w->len = 0;
    return rc;
}

static const struct {
    unsigned bit;
    const char *k;
    size_t kl;
} flag_keys[] = {
    {IMAP_EVF_TRUNCATED, K("truncated")}, {IMAP_EVF_LOSSY, K("lossy")},
    {IMAP_EVF_HELD, K("held")},           {IMAP_EVF_SWALLOWED, K("swallowed")},
    {IMAP_EVF_LOCAL, K("local")},         {IMAP_EVF_GREETING, K("greeting")},
    {IMAP_EVF_NONSYNC, K("nonsync")},     {IMAP_EVF_LITERAL8, K("literal8")},
    {IMAP_EVF_ABORTED, K("aborted")},     {IMAP_EVF_CANCEL, K("cancel")},
    {IMAP_EVF_DISCARDED, K("discarded")},
};

static void put_flags(struct jw *w, unsigned flags, unsigned skip)
{
    size_t i;

    if (w->lossy)
        flags |= IMAP_EVF_LOSSY;
    flags &= ~skip;
    for (i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++)
        if (flags & flag_keys[i].bit)
            jw_bool(w, flag_keys[i].k, flag_keys[i].kl, 1);
}

static void put_str_array(struct jw *w, const char *k, size_t kl, const struct imap_str *a,
                          size_t n)
{
    size_t i;

    jw_arr(w, k, kl);
    for (i = 0; i < n; i++)
        jw_strn(w, NULL, 0, a[i].p != NULL ? a[i].p : "", a[i].p != NULL ? a[i].len : 0);
    jw_arr_end(w);
}

static void put_literals(struct jlog_session *js, const struct imap_ev_literal *lits, size_t n)
{
    struct jw *w = &js->w;
    size_t i;

    if (js->literals == JLOG_LITERALS_NONE || n == 0 || lits == NULL)
        return;
    jw_arr(w, K("literals"));
    for (i = 0; i < n; i++)
        jw_u64(w, NULL, 0, lits[i].size);
    jw_arr_end(w);
    if (js->literals == JLOG_LITERALS_SIZE)
        return;

    jw_arr(w, K("literal_data"));
    for (i = 0; i < n; i++) {
        const char *p = lits[i].head.p;
        size_t len = lits[i].head.len, t;
        int truncated;

        if (p == NULL) {
            jw_null(w, NULL, 0); /* nothing kept: e.g. a redacted password */
            continue;
        }
        if (js->literals == JLOG_LITERALS_HEAD && len > js->head_bytes)
            len = js->head_bytes;
        truncated = len < lits[i].size;
        jw_obj(w, NULL, 0);
        if (utf8_valid(p, len)) {
            jw_strn(w, K("text"), p, len);
        } else if (truncated && (t = utf8_incomplete_tail(p, len)) != 0 && utf8_valid(p, len - t)) {
            /* Text cut inside a character by the cap is still text. */
            jw_strn(w, K("text"), p, len - t);
        } else {
            jw_b64(w, K("b64"), p, len);
        }
        if (truncated)
            jw_bool(w, K("truncated"), 1);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

static void put_command(struct jlog_session *js, const struct imap_ev_command *c)
{
    struct jw *w = &js->w;

    jw_istr(w, K("tag"), c->tag);
    jw_istr(w, K("cmd"), c->cmd);
    jw_istr(w, K("args"), c->args);
    jw_istr(w, K("mailbox"), c->mailbox);
    jw_istr(w, K("mailbox_utf8"), c->mailbox_utf8);
    put_literals(js, c->literals, c->nliterals);
}

static void put_fetch(struct jw *w, const struct imap_ev_fetch *f)
{
    size_t i;

    jw_obj(w, K("fetch"));
    if (f->present & IMAP_FETCH_UID)
        jw_u64(w, K("uid"), f->uid);
    if (f->present & IMAP_FETCH_FLAGS)
        put_str_array(w, K("flags"), f->flags, f->flags != NULL ? f->nflags : 0);
    if (f->present & IMAP_FETCH_MODSEQ)
        jw_u64(w, K("modseq"), f->modseq);
    if (f->present & IMAP_FETCH_SIZE)
        jw_u64(w, K("size"), f->size);
    if (f->present & IMAP_FETCH_INTERNALDATE)
        jw_istr(w, K("internaldate"), f->internaldate);
    if (f->present & IMAP_FETCH_ENVELOPE) {
        jw_obj(w, K("envelope"));
        jw_istr(w, K("date"), f->envelope.date);
        jw_istr(w, K("subject"), f->envelope.subject);
        jw_istr(w, K("from"), f->envelope.from);
        jw_istr(w, K("message_id"), f->envelope.message_id);
        jw_obj_end(w);
    }
    if (f->nparts > 0 && f->parts != NULL) {
        jw_arr(w, K("parts"));
        for (i = 0; i < f->nparts; i++) {
            jw_obj(w, NULL, 0);
            jw_istr(w, K("section"), f->parts[i].section);
            jw_u64(w, K("size"), f->parts[i].size);
            jw_obj_end(w);
        }
        jw_arr_end(w);
    }
    jw_obj_end(w);
}

static int item_name_eq(struct imap_str a, struct imap_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* STATUS items as an object keyed by item name.  A name the server repeats
 * keeps its first position and its last value (what jansson does). */
static void put_status_items(struct jw *w, const struct imap_ev_status_item *it, size_t n)
{
    size_t i, j;

    jw_obj(w, K("items"));
    for (i = 0; i < n; i++) {
        struct imap_str name = it[i].name;
        uint64_t value = it[i].value;
        int dup = 0;
        char *o;

        if (name.p == NULL)
            name = (struct imap_str){"", 0};
        for (j = 0; j < i && !dup; j++)
            dup = item_name_eq(it[j].name.p != NULL ? it[j].name : (struct imap_str){"", 0}, name);
        if (dup)
            continue;
        for (j = i + 1; j < n; j++)
            if (item_name_eq(it[j].name.p != NULL ? it[j].name : (struct imap_str){"", 0}, name))
                value = it[j].value;

        if (w->build == JLOG_BUILD_JANSSON) {
            json_t *obj = w->depth > 0 ? w->stack[w->depth - 1] : NULL;
            char *t;
            size_t m;

            if (obj == NULL || (t = jw_scratch(w, 3 * name.len + 1)) == NULL) {
                w->oom = 1;
                return;
            }
            m = utf8_sanitize(t, name.p, name.len, &w->lossy);
            if (json_object_setn_new_nocheck(obj, t, m, json_integer((json_int_t)value)) != 0)
                w->oom = 1;
            continue;
        }
        if (jw_key(w, NULL, 0) < 0)
            return;
        jw_esc(w, name.p, name.len);
        if ((o = jw_room(w, 21)) == NULL)
            return;
        *o++ = ':';
        w->len = (size_t)(u64_to_dec(o, value) - w->p);
    }
    jw_obj_end(w);
}

static void put_untagged(struct jlog_session *js, const struct imap_ev_untagged *u)
{
    struct jw *w = &js->w;

    jw_istr(w, K("name"), u->name);
    if (u->has_n)
        jw_u64(w, K("n"), u->n);
    /* mailbox right after name/n, as in protocol.md §7.3's examples. */
    jw_istr(w, K("mailbox"), u->mailbox);
    jw_istr(w, K("code"), u->code);
    jw_istr(w, K("code_data"), u->code_data);
    jw_istr(w, K("text"), u->text);
    if (u->has_state)
        jw_cstr(w, K("state"), imap_state_name(u->state));
    if (u->ncaps > 0 && u->caps != NULL)
        put_str_array(w, K("caps"), u->caps, u->ncaps);
    if (u->ncaps_removed > 0 && u->caps_removed != NULL)
        put_str_array(w, K("caps_removed"), u->caps_removed, u->ncaps_removed);
    if (u->has_flags)
        put_str_array(w, K("flags"), u->flags, u->flags != NULL ? u->nflags : 0);
    if (u->has_fetch)
        put_fetch(w, &u->fetch);
    if (u->has_vanished) {
        jw_obj(w, K("vanished"));
        jw_bool(w, K("earlier"), u->vanished_earlier);
        jw_istr(w, K("uids"), u->vanished_uids);
        jw_obj_end(w);
    }
    if (u->has_list) {
        const struct imap_ev_list *l = &u->list;

        jw_obj(w, K("list"));
        put_str_array(w, K("attrs"), l->attrs, l->attrs != NULL ? l->nattrs : 0);
        if (l->delim.p != NULL)
            jw_strn(w, K("delim"), l->delim.p, l->delim.len);
        else
            jw_null(w, K("delim"));
        jw_istr(w, K("name"), l->name);
        jw_istr(w, K("name_utf8"), l->name_utf8);
        jw_obj_end(w);
    }
    if (u->has_mbox_status) {
        jw_obj(w, K("mbox_status"));
        jw_istr(w, K("mailbox"), u->status_mailbox);
        put_status_items(w, u->status_items, u->status_items != NULL ? u->nstatus_items : 0);
        jw_obj_end(w);
    }
    if (u->has_search) {
        jw_obj(w, K("search"));
        jw_u64(w, K("count"), u->search_count);
        jw_istr(w, K("tag"), u->search_tag);
        jw_obj_end(w);
    }
    if (u->id_name.p != NULL || u->id_version.p != NULL) {
        jw_obj(w, K("id"));
        jw_istr(w, K("name"), u->id_name);
        jw_istr(w, K("version"), u->id_version);
        jw_obj_end(w);
    }
    put_literals(js, u->literals, u->nliterals);
}

static void put_tagged(struct jw *w, const struct imap_ev_tagged *t)
{
    jw_istr(w, K("tag"), t->tag);
    jw_istr(w, K("cmd"), t->cmd);
    jw_istr(w, K("status"), t->status);
    jw_istr(w, K("code"), t->code);
    jw_istr(w, K("code_data"), t->code_data);
    jw_istr(w, K("text"), t->text);
    if (t->has_ms)
        jw_ms(w, K("ms"), t->ms);
    if (t->has_state)
        jw_cstr(w, K("state"), imap_state_name(t->state));
    if (t->ncaps > 0 && t->caps != NULL)
        put_str_array(w, K("caps"), t->caps, t->ncaps);
    if (t->ncaps_removed > 0 && t->caps_removed != NULL)
        put_str_array(w, K("caps_removed"), t->caps_removed, t->ncaps_removed);
}

int jlog_event(void *arg, const struct imap_event *ev)
{
    struct jlog_session *js = arg;
    struct jw *w = &js->w;
    unsigned skip = 0;
    const char *name = imap_ev_name(ev->type);

    line_begin(js, ev->ts_us, name, ev->has_dir, ev->dir, ev->off);
    switch (ev->type) {
    case IMAP_EV_COMMAND:
        put_command(js, &ev->u.command);
        break;
    case IMAP_EV_CONTINUE:
        jw_istr(w, K("tag"), ev->u.cont.tag);
        jw_istr(w, K("for"), ev->u.cont.for_);
        jw_istr(w, K("text"), ev->u.cont.text);
        /* protocol.md §7.2: a SASL challenge is logged by its length only. */
        if (ev->u.cont.text.p == NULL)
            jw_u64(w, K("len"), ev->u.cont.len);
        break;
    case IMAP_EV_CLIENT_LINE:
        jw_istr(w, K("kind"), ev->u.client_line.kind);
        jw_istr(w, K("tag"), ev->u.client_line.tag);
        jw_u64(w, K("len"), ev->u.client_line.len);
        break;
    case IMAP_EV_UNTAGGED:
        put_untagged(js, &ev->u.untagged);
        break;
    case IMAP_EV_TAGGED:
        put_tagged(w, &ev->u.tagged);
        break;
    case IMAP_EV_IDLE:
        jw_istr(w, K("tag"), ev->u.idle.tag);
        jw_istr(w, K("state"), ev->u.idle.state);
        if (ev->u.idle.has_ms)
            jw_ms(w, K("ms"), ev->u.idle.ms);
        break;
    case IMAP_EV_AUTH:
        jw_istr(w, K("method"), ev->u.auth.method);
        jw_istr(w, K("mech"), ev->u.auth.mech);
        jw_istr(w, K("user"), ev->u.auth.user);
        jw_istr(w, K("status"), ev->u.auth.status);
        break;
    case IMAP_EV_STARTTLS:
        jw_istr(w, K("leg"), ev->u.starttls.leg);
        jw_istr(w, K("state"), ev->u.starttls.state);
        jw_istr(w, K("text"), ev->u.starttls.text);
        break;
    case IMAP_EV_KEEPALIVE:
        jw_istr(w, K("tag"), ev->u.keepalive.tag);
        jw_istr(w, K("cmd"), ev->u.keepalive.cmd);
        jw_istr(w, K("state"), ev->u.keepalive.state);
        if (ev->u.keepalive.has_ms)
            jw_ms(w, K("ms"), ev->u.keepalive.ms);
        if (ev->u.keepalive.has_held)
            jw_u64(w, K("held"), ev->u.keepalive.held);
        /* Here "held" is a count; the flag of the same name cannot be written. */
        skip |= IMAP_EVF_HELD;
        break;
    case IMAP_EV_ANOMALY:
        jw_istr(w, K("kind"), ev->u.anomaly.kind);
        jw_istr(w, K("tag"), ev->u.anomaly.tag);
        jw_istr(w, K("text"), ev->u.anomaly.text);
        if (ev->u.anomaly.has_bytes)
            jw_u64(w, K("bytes"), ev->u.anomaly.bytes);
        break;
    case IMAP_EV_PARSE_ERROR:
        jw_istr(w, K("reason"), ev->u.parse_error.reason);
        jw_istr(w, K("excerpt"), ev->u.parse_error.excerpt);
        jw_istr(w, K("resync"), ev->u.parse_error.resync);
        jw_istr(w, K("tag"), ev->u.parse_error.tag);
        jw_istr(w, K("cmd"), ev->u.parse_error.cmd);
        break;
    case IMAP_EV_LIMIT:
        jw_istr(w, K("what"), ev->u.limit.what);
        jw_u64(w, K("value"), ev->u.limit.value);
        jw_u64(w, K("max"), ev->u.limit.max);
        break;
    }
    put_flags(w, ev->flags, skip);
    return line_end(js, 0);
}

/* ---- the proxy's own events ---- */

static void put_endpoint(struct jw *w, const char *k, size_t kl, const char *hk, size_t hkl,
                         const struct jlog_endpoint *e)
{
    if (e == NULL)
        return;
    jw_obj(w, k, kl);
    jw_cstr(w, hk, hkl, e->addr);
    if (e->port >= 0)
        jw_u64(w, K("port"), (uint64_t)e->port);
    jw_obj_end(w);
}

int jlog_session_open(struct jlog_session *js, int64_t ts_us, const struct jlog_endpoint *client,
                      const char *listener, const struct jlog_endpoint *upstream)
{
    struct jw *w = &js->w;

    line_begin(js, ts_us, "session_open", 0, IMAP_C2S, 0);
    put_endpoint(w, K("client"), K("addr"), client);
    jw_cstr(w, K("listener"), listener);
    put_endpoint(w, K("upstream"), K("host"), upstream);
    if (!js->redact)
        jw_bool(w, K("redact"), 0);
    put_flags(w, 0, 0);
    return line_end(js, 0);
}

int jlog_tls(struct jlog_session *js, int64_t ts_us, const struct jlog_tls_info *tls)
{
    struct jw *w = &js->w;

    line_begin(js, ts_us, "tls", 0, IMAP_C2S, 0);
    jw_cstr(w, K("leg"), tls->leg);
    jw_cstr(w, K("version"), tls->version);
    jw_cstr(w, K("cipher"), tls->cipher);
    jw_cstr(w, K("sni"), tls->sni);
    if (tls->peer_subject != NULL) {
        jw_obj(w, K("peer"));
        jw_cstr(w, K("subject"), tls->peer_subject);
        jw_cstr(w, K("sha256"), tls->peer_sha256);
        jw_obj_end(w);
    }
    if (tls->verified != -1)
        jw_bool(w, K("verified"), tls->verified != 0);
    put_flags(w, 0, 0);
    return line_end(js, 0);
}

int jlog_session_close(struct jlog_session *js, int64_t ts_us, const struct jlog_close_info *ci)
{
    struct jw *w = &js->w;

    line_begin(js, ts_us, "session_close", 0, IMAP_C2S, 0);
    jw_cstr(w, K("reason"), ci->reason);
    jw_obj(w, K("bytes"));
    jw_u64(w, K("c2s"), ci->bytes_c2s);
    jw_u64(w, K("s2c"), ci->bytes_s2c);
    jw_obj_end(w);
    jw_u64(w, K("commands"), ci->commands);
    jw_ms(w, K("duration_ms"), ci->duration_ms);
    jw_cstr(w, K("user"), ci->user);
    if (js->dropped > 0)
        jw_u64(w, K("dropped"), js->dropped);
    put_flags(w, 0, 0);
    /* Forced past JLOG_OVERFLOW_DROP: this line is where the drops are told. */
    return line_end(js, 1);
}
