/*
 * bench_parser.c - parser and logger benchmarks, and the stress test of the
 * parser (tools/bench.sh builds and runs it; `make bench`).
 *
 *   bench_parser [bench] [-q]          the figures, one "bench NAME VALUE UNIT" line each
 *   bench_parser stress [GB] [DATADIR] random and mutated IMAP through sessions
 *   bench_parser profile NAME [RUNS]   one figure's work only (for perf/callgrind):
 *                                      parse_literal, parse_dense, parse_client,
 *                                      log_literal, log_dense, log_client, relay_ops
 *
 * The streams are generated in memory once with a fixed-seed PRNG:
 *   literal  server stream of FETCH BODY[] responses with messages of 2 KB to
 *            2 MB (log-uniform), 200 MB in all;
 *   dense    1 M small server responses: "* N FETCH (UID N FLAGS (\Seen)
 *            MODSEQ (N))" and, every fourth, an ENVELOPE line;
 *   client   a client stream (UID FETCH, STORE, SEARCH, APPEND with {n+}
 *            literals, NOOP, STATUS, LIST, SELECT, IDLE/DONE, MOVE...) of about
 *            100 MB; the server's completions are fed after each client chunk,
 *            as a server would answer, so commands do not pile up in flight.
 *            Its MB/s counts client bytes, the time includes the completions.
 * Every stream is fed in 16 KiB chunks, like socket reads, after a short
 * client prologue (LOGIN, SELECT, the FETCH) so the session is in the
 * selected state.  "parse" runs a session with relay off whose events are
 * counted in a callback; "log" runs proxy/replay.h with a struct jlog on
 * /dev/null (sync mode), as `imaptap decode` does.  Each figure is the
 * median of 5 runs; MB are 10^6 bytes.
 *
 * stress: for random bytes and for mutated golden streams (tests/data, with
 * random byte flips, insertions, deletions and duplicated spans), GB
 * gigabytes per direction (default 1) go through sessions (relay on, ops
 * popped) in random chunk sizes of 1 byte to 64 KiB, both directions
 * interleaved, a fresh session every 64 MiB.  It checks after
 * every feed that the session counted every byte and that memory stays under
 * a bound derived from the limits, and after each session's end that the
 * relay decided everything; it prints the throughput, the events by type,
 * the parse_error reasons, limit kinds and anomaly kinds, the peak
 * imap_session_memory() and the process's max RSS.  A watchdog fails the
 * run if one feed takes more than 10 seconds.
 */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "imap_arena.h"
#include "imap_event.h"
#include "imap_lex.h"
#include "imap_session.h"
#include "jlog.h"
#include "replay.h"
#include "transcript.h"

#define CHUNK       16384
#define RUNS        5
#define MB          1e6
#define LITERAL_MIN 2000u
#define LITERAL_MAX 2000000u

/* ------------------------------------------------------------------ utils */

struct buf {
    char *p;
    size_t len, size;
};

static void die(const char *what)
{
    fprintf(stderr, "bench_parser: %s\n", what);
    exit(1);
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->size) {
        size_t ns = b->size ? b->size : 65536;
        while (ns < b->len + n)
            ns *= 2;
        b->p = realloc(b->p, ns);
        if (b->p == NULL)
            die("out of memory");
        b->size = ns;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        die("line too long");
    buf_add(b, tmp, (size_t)n);
}

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rnd(void)
{
    /* splitmix64: fixed seed, the same streams on every run */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* Log-uniform in [lo, hi]. */
static uint64_t rnd_log(uint64_t lo, uint64_t hi)
{
    double a = (double)lo, b = (double)hi;
    double u = (double)(rnd() >> 11) / 9007199254740992.0;
    uint64_t v = (uint64_t)(a * exp(u * log(b / a)));
    return v < lo ? lo : v > hi ? hi : v;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* -------------------------------------------------------------- the streams */

static const char *const words[] = {
    "the",     "meeting", "budget", "report", "draft",  "please",   "review",   "attached",
    "quarter", "numbers", "team",   "update", "thanks", "regards",  "schedule", "project",
    "server",  "release", "notes",  "issue",  "fixed",  "tomorrow", "morning",  "customer",
};
static const char *const names[] = {"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace"};

/* A block of mail text (headers and body lines) that messages are cut from. */
static struct buf mail_text;

static void gen_mail_text(void)
{
    while (mail_text.len < LITERAL_MAX + 4096) {
        size_t w = 0, line = 0;
        buf_printf(&mail_text,
                   "Received: from mx%u.example.net (mx%u.example.net [192.0.2.%u])\r\n"
                   "From: %s <%s@example.com>\r\nTo: team@example.org\r\n"
                   "Subject: %s %s %s\r\nMessage-ID: <%016llx@example.com>\r\n"
                   "Date: Mon, 24 Nov 2026 09:%02u:%02u +0000\r\nMIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n\r\n",
                   (unsigned)rnd_below(9), (unsigned)rnd_below(9), (unsigned)rnd_below(250),
                   names[rnd_below(7)], "user", words[rnd_below(24)], words[rnd_below(24)],
                   words[rnd_below(24)], (unsigned long long)rnd(), (unsigned)rnd_below(60),
                   (unsigned)rnd_below(60));
        for (line = 0; line < 40 + rnd_below(200); line++) {
            size_t col = 0;
            for (w = 0; col < 60 + rnd_below(12); w++) {
                const char *word = words[rnd_below(24)];
                buf_add(&mail_text, word, strlen(word));
                buf_add(&mail_text, " ", 1);
                col += strlen(word) + 1;
            }
            buf_add(&mail_text, "\r\n", 2);
        }
    }
}

/* A stream fed to a session: prologue bytes per direction, then the body of
 * one direction (or, for the client stream, interleaved with completions). */
struct stream {
    const char *name;
    struct buf pro_c2s, pro_s2c; /* fed first, in this order */
    struct buf body;             /* the measured bytes */
    enum imap_dir dir;           /* of body */
    struct buf answers;          /* client stream: the server's completions */
    uint64_t *ends;              /* client: body offset where command i ends */
    uint64_t *answer_ends;       /* client: answers offset after completion i */
    unsigned char *sync;         /* client: the client waits for this answer (IDLE's "+") */
    size_t ncmds, cmds_size;
};

static void prologue(struct stream *st, const char *fetch)
{
    buf_printf(&st->pro_c2s, "a1 LOGIN alice s3cr3t\r\na2 SELECT INBOX\r\n%s", fetch);
    buf_printf(&st->pro_s2c,
               "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE AUTH=PLAIN] ready\r\n"
               "a1 OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE IDLE SORT UIDPLUS MOVE CONDSTORE "
               "QRESYNC BINARY] Logged in\r\n"
               "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
               "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] ok\r\n"
               "* 250000 EXISTS\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
               "* OK [UIDNEXT 250001] Predicted next UID\r\n"
               "a2 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n");
}

static void gen_literal(struct stream *st, size_t total)
{
    uint64_t n = 0;

    st->name = "literal";
    st->dir = IMAP_S2C;
    prologue(st, "a3 UID FETCH 1:* (UID FLAGS BODY.PEEK[])\r\n");
    while (st->body.len < total) {
        uint64_t size = rnd_log(LITERAL_MIN, LITERAL_MAX);
        uint64_t at = rnd_below(mail_text.len - size);
        n++;
        buf_printf(&st->body, "* %llu FETCH (UID %llu FLAGS (\\Seen) BODY[] {%llu}\r\n",
                   (unsigned long long)n, (unsigned long long)(n + 4000), (unsigned long long)size);
        buf_add(&st->body, mail_text.p + at, size);
        buf_add(&st->body, ")\r\n", 3);
    }
    buf_printf(&st->body, "a3 OK Fetch completed (0.512 + 0.000 secs).\r\n");
}

static void gen_dense(struct stream *st, unsigned count)
{
    static const char *const flags[] = {"\\Seen", "\\Seen \\Answered", "", "\\Flagged \\Seen",
                                        "$Forwarded \\Seen"};
    unsigned i;

    st->name = "dense";
    st->dir = IMAP_S2C;
    prologue(st, "a3 UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 1)\r\n");
    for (i = 1; i <= count; i++) {
        if (i % 4 == 0) {
            buf_printf(&st->body,
                       "* %u FETCH (UID %u ENVELOPE (\"Mon, 24 Nov 2026 09:%02u:%02u +0000\" "
                       "\"%s %s %s\" ((\"%s\" NIL \"user%u\" \"example.com\")) "
                       "((\"%s\" NIL \"user%u\" \"example.com\")) "
                       "((\"%s\" NIL \"user%u\" \"example.com\")) "
                       "((NIL NIL \"team\" \"example.org\")) NIL NIL NIL "
                       "\"<%08x%08x@example.com>\") FLAGS (%s))\r\n",
                       i, i + 7000, i % 60, (i / 60) % 60, words[i % 24], words[(i / 3) % 24],
                       words[(i / 7) % 24], names[i % 7], i % 100, names[i % 7], i % 100,
                       names[i % 7], i % 100, (unsigned)rnd(), (unsigned)rnd(), flags[i % 5]);
        } else {
            buf_printf(&st->body, "* %u FETCH (UID %u FLAGS (%s) MODSEQ (%llu))\r\n", i, i + 7000,
                       flags[i % 5], (unsigned long long)(9100000000ull + i * 3));
        }
    }
    buf_printf(&st->body, "a3 OK Fetch completed (0.812 + 0.000 secs).\r\n");
}

static void client_cmd_done(struct stream *st, int sync)
{
    if (st->ncmds == st->cmds_size) {
        st->cmds_size = st->cmds_size ? st->cmds_size * 2 : 4096;
        st->ends = realloc(st->ends, st->cmds_size * sizeof(*st->ends));
        st->answer_ends = realloc(st->answer_ends, st->cmds_size * sizeof(*st->answer_ends));
        st->sync = realloc(st->sync, st->cmds_size);
        if (st->ends == NULL || st->answer_ends == NULL || st->sync == NULL)
            die("out of memory");
    }
    st->ends[st->ncmds] = st->body.len;
    st->answer_ends[st->ncmds] = st->answers.len;
    st->sync[st->ncmds] = (unsigned char)sync;
    st->ncmds++;
}

static void gen_client(struct stream *st, size_t total)
{
    unsigned tag = 100;

    st->name = "client";
    st->dir = IMAP_C2S;
    prologue(st, "");
    while (st->body.len < total) {
        unsigned r = (unsigned)rnd_below(100), u = (unsigned)rnd_below(200000) + 1;
        tag++;
        if (r < 25) {
            buf_printf(&st->body,
                       "c%u UID FETCH %u:%u (UID FLAGS RFC822.SIZE INTERNALDATE "
                       "BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID)])\r\n",
                       tag, u, u + (unsigned)rnd_below(50));
        } else if (r < 40) {
            buf_printf(&st->body, "c%u UID STORE %u %cFLAGS.SILENT (\\Seen%s)\r\n", tag, u,
                       rnd_below(2) ? '+' : '-', rnd_below(3) ? "" : " \\Flagged");
        } else if (r < 50) {
            buf_printf(&st->body,
                       "c%u UID SEARCH RETURN (ALL) CHARSET UTF-8 SINCE 1-Nov-2026 FROM \"%s\" "
                       "SUBJECT \"%s %s\" NOT DELETED\r\n",
                       tag, names[rnd_below(7)], words[rnd_below(24)], words[rnd_below(24)]);
        } else if (r < 56) {
            uint64_t size = rnd_log(1000, 60000);
            uint64_t at = rnd_below(mail_text.len - size);
            buf_printf(&st->body,
                       "c%u APPEND Sent (\\Seen) \"24-Nov-2026 09:14:03 +0000\" {%llu+}\r\n", tag,
                       (unsigned long long)size);
            buf_add(&st->body, mail_text.p + at, size);
            buf_add(&st->body, "\r\n", 2);
        } else if (r < 72) {
            buf_printf(&st->body, "c%u NOOP\r\n", tag);
        } else if (r < 78) {
            buf_printf(&st->body,
                       "c%u STATUS \"Lists/%s\" (MESSAGES UNSEEN UIDNEXT HIGHESTMODSEQ)\r\n", tag,
                       words[rnd_below(24)]);
        } else if (r < 82) {
            buf_printf(&st->body, "c%u LIST \"\" \"*\" RETURN (SUBSCRIBED SPECIAL-USE)\r\n", tag);
        } else if (r < 86) {
            buf_printf(&st->body, "c%u SELECT \"INBOX\" (CONDSTORE)\r\n", tag);
        } else if (r < 90) {
            buf_printf(&st->body, "c%u UID MOVE %u:%u Archive\r\n", tag, u, u + 3);
        } else if (r < 94) {
            buf_printf(&st->body, "c%u IDLE\r\n", tag);
            buf_printf(&st->answers, "+ idling\r\n");
            client_cmd_done(st, 1);
            buf_printf(&st->body, "DONE\r\n");
        } else if (r < 97) {
            buf_printf(&st->body, "c%u UID EXPUNGE %u\r\n", tag, u);
        } else {
            buf_printf(&st->body, "c%u ID (\"name\" \"Thunderbird\" \"version\" \"128.5.0\")\r\n",
                       tag);
        }
        buf_printf(&st->answers, "c%u OK done\r\n", tag);
        client_cmd_done(st, 0);
    }
}

/* ------------------------------------------------------------------ feeding */

struct counts {
    uint64_t events;
    uint64_t by_type[IMAP_EV_LIMIT + 1];
};

static int count_event(void *arg, const struct imap_event *ev)
{
    struct counts *c = arg;

    c->events++;
    c->by_type[ev->type]++;
    return 0;
}

/* A sink the stream is fed to: a bare session or a replay. */
struct sink {
    struct imap_session *s;
    struct replay *r;
    int relay;
    uint64_t ops;
    int64_t ts;
};

static void sink_feed(struct sink *k, enum imap_dir dir, const char *p, size_t n)
{
    struct imap_relay_op op;

    if (k->r != NULL) {
        k->ts += 1000;
        if (replay_chunk(k->r, dir, p, n, k->ts) < 0)
            die("replay_chunk failed");
        return;
    }
    if (imap_session_feed(k->s, dir, p, n) < 0)
        die("imap_session_feed failed");
    if (!k->relay)
        return;
    while (imap_session_relay_next(k->s, IMAP_C2S, &op))
        k->ops++;
    while (imap_session_relay_next(k->s, IMAP_S2C, &op))
        k->ops++;
}

static void sink_feed_chunks(struct sink *k, enum imap_dir dir, const char *p, size_t n)
{
    while (n > 0) {
        size_t c = n < CHUNK ? n : CHUNK;
        sink_feed(k, dir, p, c);
        p += c;
        n -= c;
    }
}

static void feed_stream(struct sink *k, const struct stream *st)
{
    size_t i = 0, off = 0, aoff = 0;

    sink_feed(k, IMAP_C2S, st->pro_c2s.p, st->pro_c2s.len);
    sink_feed(k, IMAP_S2C, st->pro_s2c.p, st->pro_s2c.len);
    if (st->ncmds == 0) {
        sink_feed_chunks(k, st->dir, st->body.p, st->body.len);
        return;
    }
    /* client: a chunk, then the completions of the commands it finished; a
     * chunk ends early where the client waits for an answer (IDLE) */
    while (off < st->body.len) {
        size_t c = st->body.len - off < CHUNK ? st->body.len - off : CHUNK, j;
        for (j = i; j < st->ncmds && st->ends[j] <= off + c; j++)
            if (st->sync[j]) {
                c = st->ends[j] - off;
                break;
            }
        sink_feed(k, IMAP_C2S, st->body.p + off, c);
        off += c;
        while (i < st->ncmds && st->ends[i] <= off)
            i++;
        if (i > 0 && st->answer_ends[i - 1] > aoff) {
            sink_feed(k, IMAP_S2C, st->answers.p + aoff, st->answer_ends[i - 1] - aoff);
            aoff = st->answer_ends[i - 1];
        }
    }
}

enum mode { M_PARSE, M_LOG, M_RELAY };

struct result {
    double secs;
    uint64_t events, ops, lines;
    struct counts c;
};

static struct result run_once(const struct stream *st, enum mode m)
{
    struct imap_session_config cfg;
    struct counts c;
    struct sink k;
    struct result res;
    struct jlog *log = NULL;
    double t0;

    memset(&c, 0, sizeof(c));
    memset(&k, 0, sizeof(k));
    memset(&res, 0, sizeof(res));
    imap_session_config_default(&cfg);
    k.ts = 1764059643000000ll;
    if (m == M_LOG) {
        struct jlog_opts jo;
        struct replay_opts ro;
        char err[256];
        jlog_opts_default(&jo);
        jo.threaded = 0;
        log = jlog_open("/dev/null", &jo, err, sizeof(err));
        if (log == NULL)
            die(err);
        memset(&ro, 0, sizeof(ro));
        ro.session = cfg;
        ro.log = log;
        ro.event_cb = count_event;
        ro.event_arg = &c;
        ro.sid = "0123456789abcdef";
        t0 = now();
        k.r = replay_new(&ro);
        if (k.r == NULL)
            die("replay_new failed");
        replay_open(k.r, k.ts, &(struct jlog_endpoint){"192.0.2.41", 53122}, "imaps://0.0.0.0:993",
                    &(struct jlog_endpoint){"mail.example.com", 993});
    } else {
        cfg.relay = m == M_RELAY;
        k.relay = cfg.relay;
        t0 = now();
        k.s = imap_session_new(&cfg, count_event, &c);
        if (k.s == NULL)
            die("imap_session_new failed");
    }
    feed_stream(&k, st);
    if (k.r != NULL) {
        replay_marker(k.r, REPLAY_S2C_EOF, k.ts + 1000);
        replay_finish(k.r, k.ts + 1000, 1);
        replay_free(k.r);
    } else {
        imap_session_free(k.s);
    }
    res.secs = now() - t0;
    if (log != NULL) {
        res.lines = jlog_lines(log);
        jlog_close(log);
    }
    res.events = c.events;
    res.ops = k.ops;
    res.c = c;
    return res;
}

/* Median of RUNS runs; fills the event and op counts of the last run. */
static double run_median(const struct stream *st, enum mode m, struct result *last)
{
    double t[RUNS];
    int i;

    for (i = 0; i < RUNS; i++) {
        *last = run_once(st, m);
        t[i] = last->secs;
    }
    return median(t, RUNS);
}

static void print_line(const char *name, double value, const char *unit)
{
    printf("bench %s %.1f %s\n", name, value, unit);
    fflush(stdout);
}

static void gen_all(struct stream *lit, struct stream *dense, struct stream *client, int quick)
{
    gen_mail_text();
    gen_literal(lit, quick ? 20000000 : 200000000);
    gen_dense(dense, quick ? 100000 : 1000000);
    gen_client(client, quick ? 10000000 : 100000000);
}

static int cmd_bench(int quick)
{
    static struct stream lit, dense, client;
    struct stream *streams[3] = {&lit, &dense, &client};
    static const char *const short_name[3] = {"literal_heavy", "dense", "client"};
    double parse_lit = 0;
    int i;

    gen_all(&lit, &dense, &client, quick);
    for (i = 0; i < 3; i++)
        fprintf(stderr, "bench_parser: %s stream %.1f MB (+%.1f MB answers)\n", streams[i]->name,
                (double)streams[i]->body.len / MB, (double)streams[i]->answers.len / MB);
    for (i = 0; i < 3; i++) {
        const struct stream *st = streams[i];
        struct result r;
        char name[64];
        double t = run_median(st, M_PARSE, &r);
        size_t j;
        fprintf(stderr, "bench_parser: %s events:", st->name);
        for (j = 0; j <= IMAP_EV_LIMIT; j++)
            if (r.c.by_type[j])
                fprintf(stderr, " %s=%llu", imap_ev_name((enum imap_ev_type)j),
                        (unsigned long long)r.c.by_type[j]);
        fputc('\n', stderr);
        snprintf(name, sizeof(name), "parse_%s", short_name[i]);
        print_line(name, (double)st->body.len / MB / t, "MB/s");
        if (i == 0)
            print_line("parse_literal_heavy_chunk",
                       t * 1e9 / (double)((st->body.len + CHUNK - 1) / CHUNK), "ns/chunk");
        snprintf(name, sizeof(name), "parse_%s_events", short_name[i]);
        print_line(name, (double)r.events / t, "events/s");
        if (i == 0)
            parse_lit = t;
    }
    for (i = 0; i < 3; i++) {
        const struct stream *st = streams[i];
        struct result r;
        char name[64];
        double t = run_median(st, M_LOG, &r);
        snprintf(name, sizeof(name), "log_%s", short_name[i]);
        print_line(name, (double)st->body.len / MB / t, "MB/s");
        snprintf(name, sizeof(name), "log_%s_events", short_name[i]);
        print_line(name, (double)r.events / t, "events/s");
    }
    {
        struct result r;
        double t = run_median(&lit, M_RELAY, &r);
        print_line("relay_ops", (double)lit.body.len / MB / t, "MB/s");
        print_line("relay_ops_count", (double)r.ops, "ops");
        print_line("relay_ops_cost", (t - parse_lit) * 1e9 / (double)(r.ops ? r.ops : 1), "ns/op");
    }
    return 0;
}

static int cmd_profile(const char *what, int runs)
{
    static struct stream lit, dense, client;
    const struct stream *st = NULL;
    enum mode m = M_PARSE;
    int i;

    gen_all(&lit, &dense, &client, 0);
    if (strncmp(what, "log_", 4) == 0)
        m = M_LOG;
    if (strcmp(what, "relay_ops") == 0)
        m = M_RELAY;
    if (strstr(what, "literal") != NULL || m == M_RELAY)
        st = &lit;
    else if (strstr(what, "dense") != NULL)
        st = &dense;
    else if (strstr(what, "client") != NULL)
        st = &client;
    if (st == NULL)
        die("profile: unknown figure");
    for (i = 0; i < runs; i++) {
        struct result r = run_once(st, m);
        fprintf(stderr, "%s: %.3f s, %.1f MB/s, %llu events\n", what, r.secs,
                (double)st->body.len / MB / r.secs, (unsigned long long)r.events);
    }
    return 0;
}

/* ------------------------------------------------------------------- stress */

#define STRESS_SESSION_BYTES (64ull << 20)

struct tally {
    const char *name;
    uint64_t n;
};

struct stress {
    struct counts c;
    struct tally reasons[64], limits[32], anomalies[64];
    size_t nreasons, nlimits, nanomalies;
    size_t mem_peak;
    uint64_t sessions, raw; /* parse_error resync=raw: framing given up */
    volatile double feed_started;
};

static struct stress *stress_cur;

static void tally_add(struct tally *t, size_t *n, size_t max, struct imap_str s)
{
    size_t i;

    for (i = 0; i < *n; i++)
        if (strlen(t[i].name) == s.len && memcmp(t[i].name, s.p, s.len) == 0) {
            t[i].n++;
            return;
        }
    if (*n < max && s.p != NULL) {
        char *name = malloc(s.len + 1);
        if (name == NULL)
            die("out of memory");
        memcpy(name, s.p, s.len);
        name[s.len] = '\0';
        t[*n].name = name;
        t[*n].n = 1;
        (*n)++;
    }
}

static int stress_event(void *arg, const struct imap_event *ev)
{
    struct stress *x = arg;

    count_event(&x->c, ev);
    if (ev->type == IMAP_EV_PARSE_ERROR) {
        tally_add(x->reasons, &x->nreasons, 64, ev->u.parse_error.reason);
        if (imap_str_eq_ci(ev->u.parse_error.resync, "raw"))
            x->raw++;
    } else if (ev->type == IMAP_EV_LIMIT)
        tally_add(x->limits, &x->nlimits, 32, ev->u.limit.what);
    else if (ev->type == IMAP_EV_ANOMALY)
        tally_add(x->anomalies, &x->nanomalies, 64, ev->u.anomaly.kind);
    return 0;
}

static void watchdog(int sig)
{
    (void)sig;
    if (stress_cur != NULL && stress_cur->feed_started > 0 &&
        now() - stress_cur->feed_started > 10.0) {
        static const char msg[] = "bench_parser stress: HANG: one feed took more than 10 s\n";
        if (write(2, msg, sizeof(msg) - 1) < 0)
            _exit(3);
        _exit(2);
    }
    alarm(5);
}

/* imap_session_memory() bound for the default limits (see tests/fuzz). */
static size_t default_mem_bound(void)
{
    size_t total = 1024 * 256 + 16384;
    int dir;

    for (dir = 0; dir < 2; dir++) {
        struct imap_lex_limits lim;
        uint64_t t, arena;
        imap_lex_default_limits((enum imap_dir)dir, 0, &lim);
        t = lim.line_max + lim.keep_total + 2 * (lim.line_max / 4 + 2) + 64;
        arena = 32 * t + 4 * IMAP_ARENA_BLOCK;
        if (arena > IMAP_ARENA_MAX + IMAP_ARENA_BLOCK)
            arena = IMAP_ARENA_MAX + IMAP_ARENA_BLOCK;
        total += (size_t)(2 * t + 256 + (lim.line_max / 2 + 4) * sizeof(struct imap_literal) +
                          arena + 8192);
    }
    return total;
}

/* Source of stress bytes: random, or mutated golden streams. */
struct source {
    int mutated;
    struct buf golden[2]; /* all c2s / s2c streams of tests/data, concatenated */
    struct buf cur[2];    /* the current mutated copy */
    size_t pos[2];
};

static void mutate(struct source *src, int dir)
{
    const struct buf *g = &src->golden[dir];
    struct buf *b = &src->cur[dir];
    size_t i, n;

    b->len = 0;
    buf_add(b, g->p, g->len);
    n = 1 + rnd_below(b->len / 64 + 1);
    for (i = 0; i < n && b->len > 8; i++) {
        size_t at = rnd_below(b->len), k = 1 + rnd_below(8);
        unsigned r = (unsigned)rnd_below(10);
        if (at + k > b->len)
            k = b->len - at;
        if (r < 4) {
            b->p[at] = (char)(b->p[at] ^ (1u << rnd_below(8))); /* flip a bit */
        } else if (r < 6) {
            b->p[at] = (char)rnd(); /* a random byte */
        } else if (r < 8) {
            /* insert k random or structural bytes */
            static const char ins[] = "{}~+\r\n\"\\()[] *0123456789";
            size_t j;
            buf_add(b, "xxxxxxxx", k); /* grow */
            memmove(b->p + at + k, b->p + at, b->len - k - at);
            for (j = 0; j < k; j++)
                b->p[at + j] = rnd_below(2) ? (char)rnd() : ins[rnd_below(sizeof(ins) - 1)];
        } else if (r < 9) {
            memmove(b->p + at, b->p + at + k, b->len - at - k); /* delete k bytes */
            b->len -= k;
        } else {
            /* duplicate a span of up to 4 KB further on */
            size_t span = 1 + rnd_below(4096), to = rnd_below(b->len);
            if (at + span > b->len)
                span = b->len - at;
            {
                char *tmp = malloc(span);
                if (tmp == NULL)
                    die("out of memory");
                memcpy(tmp, b->p + at, span);
                buf_add(b, tmp, span);
                memmove(b->p + to + span, b->p + to, b->len - span - to);
                memcpy(b->p + to, tmp, span);
                free(tmp);
            }
        }
    }
    src->pos[dir] = 0;
}

/* The next n bytes of a direction into out (n <= out size). */
static size_t source_next(struct source *src, int dir, char *out, size_t n)
{
    size_t i;

    if (!src->mutated) {
        for (i = 0; i + 8 <= n; i += 8) {
            uint64_t v = rnd();
            memcpy(out + i, &v, 8);
        }
        for (; i < n; i++)
            out[i] = (char)rnd();
        return n;
    }
    if (src->pos[dir] >= src->cur[dir].len)
        mutate(src, dir);
    if (n > src->cur[dir].len - src->pos[dir])
        n = src->cur[dir].len - src->pos[dir];
    memcpy(out, src->cur[dir].p + src->pos[dir], n);
    src->pos[dir] += n;
    return n;
}

static int load_golden(struct source *src, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char path[4096], err[512];
        struct tr_file tf;
        size_t i, j, len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (tr_load(path, &tf, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench_parser: %s\n", err);
            continue;
        }
        for (i = 0; i < tf.nsessions; i++)
            for (j = 0; j < tf.sessions[i].nsteps; j++) {
                const struct tr_step *s = &tf.sessions[i].steps[j];
                if (!s->is_marker)
                    buf_add(&src->golden[s->dir], s->data, s->len);
            }
        tr_free(&tf);
        n++;
    }
    closedir(d);
    return n;
}

static void stress_run(const char *label, struct source *src, uint64_t per_dir)
{
    static char chunk[65536];
    struct stress *x = calloc(1, sizeof(*x));
    uint64_t fed[2] = {0, 0}, sess_fed[2] = {0, 0}, popped[2] = {0, 0};
    size_t bound = default_mem_bound();
    struct imap_session_config cfg;
    struct imap_session *s = NULL;
    uint64_t nfeeds = 0;
    double t0 = now(), secs;
    size_t i;

    if (x == NULL)
        die("out of memory");
    stress_cur = x;
    imap_session_config_default(&cfg);
    cfg.relay = 1;
    while (fed[0] < per_dir || fed[1] < per_dir) {
        int dir = fed[0] >= per_dir ? 1 : fed[1] >= per_dir ? 0 : (int)rnd_below(2);
        size_t want = (size_t)rnd_log(1, sizeof(chunk)), n;
        struct imap_relay_op op;
        size_t m;
        int d;

        if (s == NULL) {
            s = imap_session_new(&cfg, stress_event, x);
            if (s == NULL)
                die("imap_session_new failed");
            x->sessions++;
            sess_fed[0] = sess_fed[1] = popped[0] = popped[1] = 0;
        }
        if (want > per_dir - fed[dir])
            want = (size_t)(per_dir - fed[dir]);
        n = source_next(src, dir, chunk, want);
        x->feed_started = now();
        if (imap_session_feed(s, (enum imap_dir)dir, chunk, n) < 0)
            die("stress: imap_session_feed returned -1");
        x->feed_started = 0;
        fed[dir] += n;
        sess_fed[dir] += n;
        nfeeds++;
        if (imap_session_bytes(s, (enum imap_dir)dir) != sess_fed[dir])
            die("stress: imap_session_bytes differs from the bytes fed");
        for (d = 0; d < 2; d++)
            while (imap_session_relay_next(s, (enum imap_dir)d, &op))
                if (op.kind == IMAP_RELAY_PASS || op.kind == IMAP_RELAY_DROP ||
                    op.kind == IMAP_RELAY_HOLD)
                    popped[d] += op.len;
        for (d = 0; d < 2; d++)
            if (popped[d] + imap_session_relay_pending(s, (enum imap_dir)d) != sess_fed[d])
                die("stress: relay ops and pending bytes do not add up");
        m = imap_session_memory(s);
        if (m > x->mem_peak)
            x->mem_peak = m;
        if (m > bound) {
            fprintf(stderr, "stress: imap_session_memory %zu > bound %zu\n", m, bound);
            die("stress: memory past the limits");
        }
        if (sess_fed[0] + sess_fed[1] >= STRESS_SESSION_BYTES ||
            (fed[0] >= per_dir && fed[1] >= per_dir)) {
            imap_session_eof(s, IMAP_C2S);
            imap_session_eof(s, IMAP_S2C);
            for (d = 0; d < 2; d++) {
                while (imap_session_relay_next(s, (enum imap_dir)d, &op))
                    if (op.kind == IMAP_RELAY_PASS || op.kind == IMAP_RELAY_DROP ||
                        op.kind == IMAP_RELAY_HOLD)
                        popped[d] += op.len;
                if (imap_session_relay_pending(s, (enum imap_dir)d) != 0 ||
                    popped[d] != sess_fed[d])
                    die("stress: bytes left undecided after eof");
            }
            imap_session_free(s);
            s = NULL;
        }
    }
    secs = now() - t0;
    printf("stress %s: %.2f GB in %.1f s, %.1f MB/s, %llu feeds, %llu sessions, %llu directions "
           "went raw\n",
           label, (double)(fed[0] + fed[1]) / 1e9, secs, (double)(fed[0] + fed[1]) / MB / secs,
           (unsigned long long)nfeeds, (unsigned long long)x->sessions, (unsigned long long)x->raw);
    printf("stress %s: events %llu:", label, (unsigned long long)x->c.events);
    for (i = 0; i <= IMAP_EV_LIMIT; i++)
        if (x->c.by_type[i])
            printf(" %s=%llu", imap_ev_name((enum imap_ev_type)i),
                   (unsigned long long)x->c.by_type[i]);
    printf("\nstress %s: parse_error reasons:", label);
    for (i = 0; i < x->nreasons; i++)
        printf(" %s=%llu", x->reasons[i].name, (unsigned long long)x->reasons[i].n);
    printf("\nstress %s: limits:", label);
    for (i = 0; i < x->nlimits; i++)
        printf(" %s=%llu", x->limits[i].name, (unsigned long long)x->limits[i].n);
    printf("\nstress %s: anomalies:", label);
    for (i = 0; i < x->nanomalies; i++)
        printf(" %s=%llu", x->anomalies[i].name, (unsigned long long)x->anomalies[i].n);
    printf("\nstress %s: peak imap_session_memory %zu bytes (bound %zu)\n", label, x->mem_peak,
           bound);
    fflush(stdout);
    stress_cur = NULL;
    for (i = 0; i < x->nreasons; i++)
        free((char *)(uintptr_t)x->reasons[i].name);
    for (i = 0; i < x->nlimits; i++)
        free((char *)(uintptr_t)x->limits[i].name);
    for (i = 0; i < x->nanomalies; i++)
        free((char *)(uintptr_t)x->anomalies[i].name);
    free(x);
}

static int cmd_stress(double gb, const char *datadir)
{
    struct source rnd_src, mut_src;
    uint64_t per_dir = (uint64_t)(gb * 1e9);
    struct rusage ru;
    int n;

    memset(&rnd_src, 0, sizeof(rnd_src));
    memset(&mut_src, 0, sizeof(mut_src));
    mut_src.mutated = 1;
    n = load_golden(&mut_src, datadir);
    if (n <= 0 || mut_src.golden[0].len == 0 || mut_src.golden[1].len == 0)
        die("stress: no golden transcripts (give the tests/data directory)");
    printf("stress: %d golden files, %zu c2s + %zu s2c bytes to mutate; %.2f GB per direction "
           "each\n",
           n, mut_src.golden[0].len, mut_src.golden[1].len, gb);
    signal(SIGALRM, watchdog);
    alarm(5);
    stress_run("random", &rnd_src, per_dir);
    stress_run("mutated", &mut_src, per_dir);
    alarm(0);
    getrusage(RUSAGE_SELF, &ru);
    printf("stress: process max RSS %ld KiB\n", ru.ru_maxrss);
    for (n = 0; n < 2; n++) {
        free(mut_src.golden[n].p);
        free(mut_src.cur[n].p);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "bench";

    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc > 2 && strcmp(argv[2], "-q") == 0);
    if (strcmp(cmd, "-q") == 0)
        return cmd_bench(1);
    if (strcmp(cmd, "stress") == 0)
        return cmd_stress(argc > 2 ? atof(argv[2]) : 1.0, argc > 3 ? argv[3] : "tests/data");
    if (strcmp(cmd, "profile") == 0 && argc > 2)
        return cmd_profile(argv[2], argc > 3 ? atoi(argv[3]) : 1);
    fprintf(stderr,
            "usage: bench_parser [bench [-q] | stress [GB] [DATADIR] | profile NAME [RUNS]]\n");
    return 2;
}
