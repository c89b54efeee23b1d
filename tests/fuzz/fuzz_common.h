/*
 * fuzz_common.h - helpers shared by the libFuzzer targets (fuzz_c2s, fuzz_s2c,
 * fuzz_session): the 2-byte input prefix (split pattern, limits, config), an
 * event digest, and the invariants every run checks.
 *
 * Every target runs the same input twice: once with each chunk fed whole, with
 * relay off (as `imaptap decode`) and FZ_MARK1 as the password of the LOGIN
 * prologue; once split by the pattern of the prefix, with relay on (as the
 * proxy) and FZ_MARK2 (same length, other bytes).  The digests of all events
 * must be equal, which checks at once split invariance, that relay on/off
 * gives the same log, and that no event carries anything derived from the
 * password.  On a mismatch more runs tell which of the three failed
 * (fz_target).  Known differences the parser still has are tolerated by the
 * FZ_COALESCE_DISCARD, FZ_TOLERATE_F4 and FZ_TOLERATE_F5 switches below
 * (build with -DNAME=0 to see them again).
 *
 * FZ_VERBOSE=1 prints a summary per input, FZ_VERBOSE=2 also every event of
 * each run: `FZ_VERBOSE=2 build/fuzz/fuzz_c2s crash-...` shows the difference.
 *
 * Invariants checked during a run (FZ_CHECK aborts, libFuzzer keeps the input):
 *   - imap_session_bytes(dir) equals the bytes fed in that direction;
 *   - an event with a direction has off < bytes fed so far, and its off never
 *     goes back within the direction;
 *   - nothing with a direction after a parse_error with resync "raw" or "eof"
 *     in that direction (framing is gone, or the peer closed);
 *   - limit events say value > max; excerpts <= 64 bytes, args <= 512;
 *   - relay ops: PASS+DROP+HOLD never exceed the bytes fed, and the bytes
 *     popped plus imap_session_relay_pending() equal them; after
 *     imap_session_eof() nothing is pending; held bytes are released (but
 *     EXPUNGEs held during a keepalive may stay held at the end); after a
 *     STARTTLS op only DROP/RELEASE until tls_started (no plaintext crosses);
 *   - imap_session_memory() stays below fz_mem_bound() of the limits;
 *   - the password marker never appears in any event string (direct check,
 *     skipped when the fuzzed bytes themselves contain its first bytes);
 *   - no more events than 16 per byte fed (plus a constant);
 *   - fuzz_session only: tls_started() for the client leg alone drops no
 *     server bytes.
 * Every string and array of every event is read (hashed), so ASan sees a
 * dangling or short slice.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_arena.h"
#include "imap_event.h"
#include "imap_lex.h"
#include "imap_msg.h"
#include "imap_session.h"

/* Finding F3 (see the fuzzing report): the session emits one
 * anomaly plaintext_after_starttls per feed, so their number depends on how
 * the bytes were split.  With FZ_COALESCE_DISCARD the digest sees each run of
 * them in a direction as one event (first off, total bytes); set it to 0 to
 * check that they are split invariant themselves. */
#ifndef FZ_COALESCE_DISCARD
#define FZ_COALESCE_DISCARD 1
#endif
/* Finding F4: a literal count that overflows gives a limit event with value
 * 0 (not above its max); FZ_TOLERATE_F4 accepts exactly that one. */
#ifndef FZ_TOLERATE_F4
#define FZ_TOLERATE_F4 1
#endif
/* Finding F5: the framer reports "limit tag" and "limit line" of one unit in
 * an order that depends on the split (a run of head bytes can cross the line
 * limit before the tag check runs).  FZ_TOLERATE_F5 digests the limit events
 * that share a direction and offset as a set. */
#ifndef FZ_TOLERATE_F5
#define FZ_TOLERATE_F5 1
#endif

#define FZ_CHECK(cond, ...)                                                                 \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "\nINVARIANT FAILED %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fputc('\n', stderr);                                                            \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

/* The LOGIN passwords of the two runs: same length, same character class. */
#define FZ_MARK1    "Zq7Xv9KpW3"
#define FZ_MARK2    "Yr4Tb2HmN8"
#define FZ_MARK_LEN 10

/* ------------------------------------------------------------------ prefix */

/*
 * byte 0: bits 0-2 split kind, bits 3-6 split parameter, bit 7 target option
 * byte 1: bits 0-1 limit profile, bits 2-4 prologue, bit 5 keep literals,
 *         bits 6-7 config variant
 */
struct fz_prefix {
    unsigned split_kind, split_param, option;
    unsigned profile, prologue, keep, variant;
};

static inline void fz_prefix_read(const uint8_t *p, struct fz_prefix *f)
{
    f->split_kind = p[0] & 7u;
    f->split_param = (p[0] >> 3) & 15u;
    f->option = p[0] >> 7;
    f->profile = p[1] & 3u;
    f->prologue = (p[1] >> 2) & 7u;
    f->keep = (p[1] >> 5) & 1u;
    f->variant = p[1] >> 6;
}

/*
 * Session configuration from the prefix.  Profiles: 0 defaults, 1 small
 * (line 64, the limit paths), 2 tiny (line 16/24, keep 8), 3 medium (line
 * 1024, literal_max 512).  Variants: 0 implicit TLS both legs and the SEARCH
 * keepalive, 1 cleartext client that may STARTTLS through to a cleartext
 * server, 2 cleartext client with require_tls and local STARTTLS, 3 no
 * capability stripping.
 */
static inline void fz_config(const struct fz_prefix *f, int relay, struct imap_session_config *c)
{
    imap_session_config_default(c);
    c->relay = relay;
    c->ka_tag_prefix = "PXK";
    switch (f->profile) {
    case 1:
        c->c2s_line_max = c->s2c_line_max = 64;
        c->c2s_line_max_preauth = c->s2c_line_max_preauth = 64;
        c->literal_max = 100;
        break;
    case 2:
        c->c2s_line_max = c->c2s_line_max_preauth = 16;
        c->s2c_line_max = c->s2c_line_max_preauth = 24;
        c->literal_max = 8;
        break;
    case 3:
        c->c2s_line_max = c->s2c_line_max = 1024;
        c->c2s_line_max_preauth = c->s2c_line_max_preauth = 512;
        c->literal_max = 512;
        break;
    default:
        break;
    }
    if (f->keep) {
        c->keep_literals = 1;
        c->literal_keep = f->profile == 2 ? 8 : 300;
        c->literal_keep_total = f->profile == 2 ? 20 : 1000;
    }
    switch (f->variant) {
    case 1:
        c->client_tls = 0;
        c->client_starttls = 1;
        c->server_tls = 0;
        break;
    case 2:
        c->client_tls = 0;
        c->client_starttls = 1;
        c->require_tls = 1;
        c->server_tls = 1;
        break;
    case 3:
        c->strip_compress = 0;
        c->strip_channel_binding = 0;
        break;
    default:
        c->ka_cmd = IMAP_KA_SEARCH;
        break;
    }
}

/*
 * A bound on imap_session_memory() derived from the limits: per direction
 * the framer's text (line limit + kept literal bytes, doubled by realloc) and
 * literal descriptors, an arena several times the text, the relay queue; and
 * the table of commands in flight (1024 at most).
 */
static inline size_t fz_mem_bound(const struct imap_session_config *c)
{
    size_t total = 1024 * 256 + 16384;
    int dir;

    for (dir = 0; dir < 2; dir++) {
        struct imap_lex_limits a, b;
        uint64_t l, k, per, nl, t, arena;
        uint32_t m1, m2;

        imap_lex_default_limits((enum imap_dir)dir, 1, &a);
        imap_lex_default_limits((enum imap_dir)dir, 0, &b);
        m1 = dir == IMAP_C2S ? c->c2s_line_max_preauth : c->s2c_line_max_preauth;
        m2 = dir == IMAP_C2S ? c->c2s_line_max : c->s2c_line_max;
        l = m1 ? m1 : a.line_max;
        if ((m2 ? m2 : b.line_max) > l)
            l = m2 ? m2 : b.line_max;
        k = IMAP_LEX_KEEP_TOTAL;
        per = IMAP_LEX_KEEP_PER_LITERAL;
        if (c->keep_literals) {
            k = c->literal_keep_total;
            per = c->literal_keep > per ? c->literal_keep : per;
        }
        nl = l / 4 + 2; /* "{0}\n" is the shortest literal: 4 line bytes */
        if (k > nl * per)
            k = nl * per;
        t = l + k + 2 * nl + 64;
        arena = 32 * t + 4 * IMAP_ARENA_BLOCK;
        if (arena > IMAP_ARENA_MAX + IMAP_ARENA_BLOCK)
            arena = IMAP_ARENA_MAX + IMAP_ARENA_BLOCK;
        total += (size_t)(2 * t + 256 + 2 * nl * sizeof(struct imap_literal) + 64 + arena + 8192);
    }
    return total;
}

/* ------------------------------------------------------------------- split */

struct fz_split {
    unsigned kind, param;
    uint64_t rng;
};

static inline uint64_t fz_rand(uint64_t *x)
{
    /* xorshift64*: deterministic and cheap */
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ull;
}

static inline void fz_split_init(struct fz_split *sp, unsigned kind, unsigned param)
{
    sp->kind = kind;
    sp->param = param;
    sp->rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)param << 17) ^ kind;
}

/* Is this byte a place where a split is interesting (kind 5)? */
static inline int fz_split_byte(unsigned param, unsigned char c)
{
    switch (param & 3) {
    case 0:
        return c == '\r' || c == '\n';
    case 1:
        return c == '{' || c == '}' || c == '+' || c == '~';
    case 2:
        return c == '\r' || c == '}' || c == '"' || c == '\\' || c == ' ';
    default:
        return c < '0' || (c > '9' && c < 'A');
    }
}

/* Length of the next chunk of data[0..n) (n > 0); always in [1, n]. */
static inline size_t fz_split_next(struct fz_split *sp, const uint8_t *data, size_t n)
{
    size_t k = 1, i;

    switch (sp->kind) {
    case 0:
        k = 1;
        break;
    case 1:
        k = sp->param + 1;
        break;
    case 2:
        k = (size_t)(sp->param + 1) * (sp->param + 1) * 16;
        break;
    case 3:
        k = 1 + fz_rand(&sp->rng) % 16;
        break;
    case 4:
        k = 1 + fz_rand(&sp->rng) % ((size_t)1 << (fz_rand(&sp->rng) % 15));
        break;
    case 5:
        /* end a chunk right after (param & 4: right before) an interesting byte */
        for (i = 0; i < n; i++) {
            if (fz_split_byte(sp->param, data[i])) {
                k = (sp->param & 4) ? (i > 0 ? i : 1) : i + 1;
                break;
            }
        }
        if (i == n)
            k = n;
        break;
    case 6:
        /* two chunks at param/16 of the rest, then whole */
        k = n * sp->param / 16;
        sp->kind = 2;
        sp->param = 15;
        if (k == 0)
            k = 1;
        break;
    default:
        k = 1 + fz_rand(&sp->rng) % 3;
        break;
    }
    return k < n ? k : n;
}

/* ----------------------------------------------------------------- digest */

#define FZ_EV_NTYPES (IMAP_EV_LIMIT + 1)

struct fz_dirstat {
    uint64_t fed;      /* bytes fed and returned */
    uint64_t fed_hi;   /* fed + the chunk being fed now */
    uint64_t last_off; /* of the last event with this direction */
    int have_off;
    int dead; /* parse_error raw/eof seen */
    const char *dead_why;
    int eof;
    uint64_t consumed; /* PASS + DROP + HOLD popped */
    uint64_t hold;     /* bytes in the hold buffer */
    uint64_t dropped;  /* DROP bytes popped */
    int after_starttls;
    int starttls_op; /* a STARTTLS op since the last tls_started */
};

/* A run of plaintext_after_starttls anomalies (FZ_COALESCE_DISCARD). */
struct fz_discard {
    int have;
    uint64_t off, bytes;
    unsigned flags;
    int64_t ts_us;
};

struct fz_run {
    struct imap_session *s;
    uint64_t digest;
    uint64_t nevents;
    uint64_t ncmp; /* events as the digest counts them */
    struct {       /* FZ_TOLERATE_F5: limit events of one unit, as a set */
        int have;
        enum imap_dir dir;
        uint64_t off, sum, n;
    } limits;
    struct fz_discard discard[2];
    uint64_t count[FZ_EV_NTYPES];
    struct fz_dirstat d[2];
    const char *marker;      /* direct redaction check, or NULL */
    const char *marker_name; /* "whole" or "split" (FZ_VERBOSE=2) */
    size_t mem_bound, mem_peak;
    int closed;  /* a CLOSE op was popped: the proxy would close */
    int ka_held; /* responses were held during a keepalive */
    int relay;
};

static inline void fz_hash(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t x = *h;
    size_t i;

    for (i = 0; i < n; i++) {
        x ^= b[i];
        x *= 1099511628211ull;
    }
    *h = x;
}

static inline void fz_hash_u64(uint64_t *h, uint64_t v)
{
    fz_hash(h, &v, sizeof(v));
}

static inline void fz_str(struct fz_run *r, struct imap_str s)
{
    if (s.p == NULL) {
        fz_hash_u64(&r->digest, 0xA85E47ull);
        return;
    }
    fz_hash_u64(&r->digest, s.len);
    fz_hash(&r->digest, s.p, s.len);
    if (r->marker != NULL && s.len >= FZ_MARK_LEN)
        FZ_CHECK(memmem(s.p, s.len, r->marker, FZ_MARK_LEN) == NULL,
                 "the LOGIN password appears in an event string: \"%.*s\"", (int)s.len, s.p);
}

static inline void fz_strs(struct fz_run *r, const struct imap_str *v, size_t n)
{
    size_t i;

    fz_hash_u64(&r->digest, n);
    FZ_CHECK(n == 0 || v != NULL, "array of %zu with a NULL pointer", n);
    for (i = 0; i < n; i++)
        fz_str(r, v[i]);
}

static inline void fz_lits(struct fz_run *r, const struct imap_ev_literal *v, size_t n)
{
    size_t i;

    fz_hash_u64(&r->digest, n);
    FZ_CHECK(n == 0 || v != NULL, "literals: %zu with a NULL pointer", n);
    for (i = 0; i < n; i++) {
        fz_hash_u64(&r->digest, v[i].size);
        fz_str(r, v[i].head);
        FZ_CHECK(v[i].head.p == NULL || v[i].head.len <= v[i].size, "literal head %zu > size %llu",
                 v[i].head.len, (unsigned long long)v[i].size);
    }
}

static inline void fz_double(struct fz_run *r, int has, double v)
{
    fz_hash_u64(&r->digest, (uint64_t)has);
    if (has)
        fz_hash(&r->digest, &v, sizeof(v));
}

static inline void fz_digest_event(struct fz_run *r, const struct imap_event *ev)
{
    size_t i;

    fz_hash_u64(&r->digest, (uint64_t)ev->type);
    fz_hash_u64(&r->digest, (uint64_t)ev->has_dir);
    if (ev->has_dir) {
        fz_hash_u64(&r->digest, (uint64_t)ev->dir);
        fz_hash_u64(&r->digest, ev->off);
    }
    fz_hash_u64(&r->digest, ev->flags);
    fz_hash_u64(&r->digest, (uint64_t)ev->ts_us);
    switch (ev->type) {
    case IMAP_EV_COMMAND: {
        const struct imap_ev_command *c = &ev->u.command;
        fz_str(r, c->tag);
        fz_str(r, c->cmd);
        fz_str(r, c->args);
        fz_str(r, c->mailbox);
        fz_str(r, c->mailbox_utf8);
        fz_lits(r, c->literals, c->nliterals);
        FZ_CHECK(c->args.len <= 512, "args of %zu bytes", c->args.len);
        break;
    }
    case IMAP_EV_CONTINUE:
        fz_str(r, ev->u.cont.tag);
        fz_str(r, ev->u.cont.for_);
        fz_str(r, ev->u.cont.text);
        fz_hash_u64(&r->digest, ev->u.cont.len);
        break;
    case IMAP_EV_CLIENT_LINE:
        fz_str(r, ev->u.client_line.kind);
        fz_str(r, ev->u.client_line.tag);
        fz_hash_u64(&r->digest, ev->u.client_line.len);
        break;
    case IMAP_EV_UNTAGGED: {
        const struct imap_ev_untagged *u = &ev->u.untagged;
        fz_str(r, u->name);
        fz_hash_u64(&r->digest, (uint64_t)u->has_n);
        fz_hash_u64(&r->digest, u->n);
        fz_str(r, u->code);
        fz_str(r, u->code_data);
        fz_str(r, u->text);
        fz_str(r, u->mailbox);
        fz_hash_u64(&r->digest, (uint64_t)u->has_state * 16 + (uint64_t)u->state);
        fz_strs(r, u->caps, u->ncaps);
        fz_strs(r, u->caps_removed, u->ncaps_removed);
        fz_hash_u64(&r->digest, (uint64_t)u->has_fetch);
        if (u->has_fetch) {
            const struct imap_ev_fetch *f = &u->fetch;
            fz_hash_u64(&r->digest, f->present);
            fz_hash_u64(&r->digest, f->uid);
            fz_hash_u64(&r->digest, f->modseq);
            fz_hash_u64(&r->digest, f->size);
            fz_str(r, f->internaldate);
            fz_strs(r, f->flags, f->nflags);
            fz_str(r, f->envelope.date);
            fz_str(r, f->envelope.subject);
            fz_str(r, f->envelope.from);
            fz_str(r, f->envelope.message_id);
            fz_hash_u64(&r->digest, f->nparts);
            FZ_CHECK(f->nparts == 0 || f->parts != NULL, "fetch parts NULL");
            for (i = 0; i < f->nparts; i++) {
                fz_str(r, f->parts[i].section);
                fz_hash_u64(&r->digest, f->parts[i].size);
            }
        }
        fz_hash_u64(&r->digest, (uint64_t)u->has_vanished * 2 + (uint64_t)u->vanished_earlier);
        fz_str(r, u->vanished_uids);
        fz_hash_u64(&r->digest, (uint64_t)u->has_list);
        if (u->has_list) {
            fz_strs(r, u->list.attrs, u->list.nattrs);
            fz_str(r, u->list.delim);
            fz_str(r, u->list.name);
            fz_str(r, u->list.name_utf8);
        }
        fz_hash_u64(&r->digest, (uint64_t)u->has_mbox_status);
        fz_str(r, u->status_mailbox);
        fz_hash_u64(&r->digest, u->nstatus_items);
        FZ_CHECK(u->nstatus_items == 0 || u->status_items != NULL, "status items NULL");
        for (i = 0; i < u->nstatus_items; i++) {
            fz_str(r, u->status_items[i].name);
            fz_hash_u64(&r->digest, u->status_items[i].value);
        }
        fz_hash_u64(&r->digest, (uint64_t)u->has_search);
        fz_hash_u64(&r->digest, u->search_count);
        fz_str(r, u->search_tag);
        fz_str(r, u->id_name);
        fz_str(r, u->id_version);
        fz_hash_u64(&r->digest, (uint64_t)u->has_flags);
        fz_strs(r, u->flags, u->nflags);
        fz_lits(r, u->literals, u->nliterals);
        break;
    }
    case IMAP_EV_TAGGED: {
        const struct imap_ev_tagged *t = &ev->u.tagged;
        fz_str(r, t->tag);
        fz_str(r, t->status);
        fz_str(r, t->code);
        fz_str(r, t->code_data);
        fz_str(r, t->text);
        fz_str(r, t->cmd);
        fz_double(r, t->has_ms, t->ms);
        fz_hash_u64(&r->digest, (uint64_t)t->has_state * 16 + (uint64_t)t->state);
        fz_strs(r, t->caps, t->ncaps);
        fz_strs(r, t->caps_removed, t->ncaps_removed);
        break;
    }
    case IMAP_EV_IDLE:
        fz_str(r, ev->u.idle.tag);
        fz_str(r, ev->u.idle.state);
        fz_double(r, ev->u.idle.has_ms, ev->u.idle.ms);
        break;
    case IMAP_EV_AUTH:
        fz_str(r, ev->u.auth.method);
        fz_str(r, ev->u.auth.mech);
        fz_str(r, ev->u.auth.user);
        fz_str(r, ev->u.auth.status);
        break;
    case IMAP_EV_STARTTLS:
        fz_str(r, ev->u.starttls.leg);
        fz_str(r, ev->u.starttls.state);
        fz_str(r, ev->u.starttls.text);
        break;
    case IMAP_EV_KEEPALIVE:
        fz_str(r, ev->u.keepalive.tag);
        fz_str(r, ev->u.keepalive.cmd);
        fz_str(r, ev->u.keepalive.state);
        fz_double(r, ev->u.keepalive.has_ms, ev->u.keepalive.ms);
        fz_hash_u64(&r->digest, (uint64_t)ev->u.keepalive.has_held);
        fz_hash_u64(&r->digest, ev->u.keepalive.held);
        break;
    case IMAP_EV_ANOMALY:
        fz_str(r, ev->u.anomaly.kind);
        fz_str(r, ev->u.anomaly.tag);
        fz_str(r, ev->u.anomaly.text);
        fz_hash_u64(&r->digest, (uint64_t)ev->u.anomaly.has_bytes);
        fz_hash_u64(&r->digest, ev->u.anomaly.bytes);
        break;
    case IMAP_EV_PARSE_ERROR:
        fz_str(r, ev->u.parse_error.reason);
        fz_str(r, ev->u.parse_error.excerpt);
        fz_str(r, ev->u.parse_error.resync);
        fz_str(r, ev->u.parse_error.tag);
        fz_str(r, ev->u.parse_error.cmd);
        FZ_CHECK(ev->u.parse_error.excerpt.len <= IMAP_EXCERPT_MAX, "excerpt of %zu bytes",
                 ev->u.parse_error.excerpt.len);
        FZ_CHECK(ev->u.parse_error.reason.p != NULL, "parse_error without a reason");
        break;
    case IMAP_EV_LIMIT:
        fz_str(r, ev->u.limit.what);
        fz_hash_u64(&r->digest, ev->u.limit.value);
        fz_hash_u64(&r->digest, ev->u.limit.max);
        /* Finding F4: a literal count that overflows is reported as value 0
         * against max IMAP_LEX_LITERAL_PARSE_MAX (followed by parse_error raw) */
        FZ_CHECK(
            ev->u.limit.value > ev->u.limit.max || (FZ_TOLERATE_F4 && ev->u.limit.value == 0 &&
                                                    ev->u.limit.max == IMAP_LEX_LITERAL_PARSE_MAX),
            "limit %.*s: value %llu <= max %llu", (int)ev->u.limit.what.len, ev->u.limit.what.p,
            (unsigned long long)ev->u.limit.value, (unsigned long long)ev->u.limit.max);
        break;
    }
}

static inline void fz_limits_flush(struct fz_run *r)
{
    if (!r->limits.have)
        return;
    r->limits.have = 0;
    fz_hash_u64(&r->digest, 0x11A175ull);
    fz_hash_u64(&r->digest, r->limits.n);
    fz_hash_u64(&r->digest, r->limits.sum);
}

static inline void fz_discard_flush(struct fz_run *r, enum imap_dir dir)
{
    struct fz_discard *g = &r->discard[dir];

    if (!g->have)
        return;
    g->have = 0;
    r->ncmp++;
    fz_hash_u64(&r->digest, IMAP_EV_ANOMALY);
    fz_hash_u64(&r->digest, 0xD15CA4Dull);
    fz_hash_u64(&r->digest, (uint64_t)dir);
    fz_hash_u64(&r->digest, g->off);
    fz_hash_u64(&r->digest, g->flags);
    fz_hash_u64(&r->digest, (uint64_t)g->ts_us);
    fz_hash_u64(&r->digest, g->bytes);
}

/* FZ_VERBOSE: 1 a summary per input, 2 also every event (reproducing a
 * failure: run the target on the saved input). */
static inline int fz_verbosity(void)
{
    static int level = -1;

    if (level < 0) {
        const char *v = getenv("FZ_VERBOSE");
        level = v != NULL ? atoi(v) : 0;
    }
    return level;
}

static inline void fz_print_event(const struct fz_run *r, const struct imap_event *ev)
{
    struct imap_str a = IMAP_STR_NULL, b = IMAP_STR_NULL;

    switch (ev->type) {
    case IMAP_EV_COMMAND:
        a = ev->u.command.tag;
        b = ev->u.command.args;
        break;
    case IMAP_EV_CONTINUE:
        a = ev->u.cont.for_;
        b = ev->u.cont.text;
        break;
    case IMAP_EV_CLIENT_LINE:
        a = ev->u.client_line.kind;
        break;
    case IMAP_EV_UNTAGGED:
        a = ev->u.untagged.name;
        b = ev->u.untagged.text;
        break;
    case IMAP_EV_TAGGED:
        a = ev->u.tagged.tag;
        b = ev->u.tagged.status;
        break;
    case IMAP_EV_IDLE:
        a = ev->u.idle.state;
        break;
    case IMAP_EV_AUTH:
        a = ev->u.auth.method;
        b = ev->u.auth.status;
        break;
    case IMAP_EV_STARTTLS:
        a = ev->u.starttls.leg;
        b = ev->u.starttls.state;
        break;
    case IMAP_EV_KEEPALIVE:
        a = ev->u.keepalive.tag;
        b = ev->u.keepalive.state;
        break;
    case IMAP_EV_ANOMALY:
        a = ev->u.anomaly.kind;
        b = ev->u.anomaly.text;
        break;
    case IMAP_EV_PARSE_ERROR:
        a = ev->u.parse_error.reason;
        b = ev->u.parse_error.excerpt;
        break;
    case IMAP_EV_LIMIT:
        a = ev->u.limit.what;
        break;
    }
    fprintf(stderr, "  [%s] %s %s off=%llu flags=%#x %.*s | %.*s\n", r->marker_name,
            imap_ev_name(ev->type), ev->has_dir ? imap_dir_name(ev->dir) : "-",
            (unsigned long long)ev->off, ev->flags, (int)(a.len < 60 ? a.len : 60), a.p ? a.p : "",
            (int)(b.len < 60 ? b.len : 60), b.p ? b.p : "");
}

static int fz_on_event(void *arg, const struct imap_event *ev)
{
    struct fz_run *r = arg;

    if (fz_verbosity() >= 2)
        fz_print_event(r, ev);

    FZ_CHECK((unsigned)ev->type < FZ_EV_NTYPES, "event type %d", (int)ev->type);
    if (ev->has_dir) {
        struct fz_dirstat *d;
        FZ_CHECK(ev->dir == IMAP_C2S || ev->dir == IMAP_S2C, "dir %d", (int)ev->dir);
        d = &r->d[ev->dir];
        FZ_CHECK(!d->dead, "%s event at off %llu after a parse_error (resync %s) in %s",
                 imap_ev_name(ev->type), (unsigned long long)ev->off, d->dead_why,
                 imap_dir_name(ev->dir));
        FZ_CHECK(ev->off < d->fed_hi, "%s event off %llu but only %llu bytes fed in %s",
                 imap_ev_name(ev->type), (unsigned long long)ev->off, (unsigned long long)d->fed_hi,
                 imap_dir_name(ev->dir));
        FZ_CHECK(!d->have_off || ev->off >= d->last_off,
                 "%s event off %llu went back (last %llu) in %s", imap_ev_name(ev->type),
                 (unsigned long long)ev->off, (unsigned long long)d->last_off,
                 imap_dir_name(ev->dir));
        d->last_off = ev->off;
        d->have_off = 1;
        if (ev->type == IMAP_EV_PARSE_ERROR && ev->u.parse_error.resync.p != NULL &&
            (imap_str_eq_ci(ev->u.parse_error.resync, "raw") ||
             imap_str_eq_ci(ev->u.parse_error.resync, "eof"))) {
            d->dead = 1;
            d->dead_why = imap_str_eq_ci(ev->u.parse_error.resync, "raw") ? "raw" : "eof";
        }
    }
    if (ev->type == IMAP_EV_ANOMALY && ev->u.anomaly.kind.p != NULL &&
        imap_str_eq_ci(ev->u.anomaly.kind, "expunge_during_keepalive"))
        r->ka_held = 1;
    r->count[ev->type]++;
    r->nevents++;
#if FZ_COALESCE_DISCARD
    if (ev->type == IMAP_EV_ANOMALY && ev->has_dir &&
        imap_str_eq_ci(ev->u.anomaly.kind, "plaintext_after_starttls")) {
        struct fz_discard *g = &r->discard[ev->dir];
        fz_limits_flush(r);
        if (!g->have) {
            g->have = 1;
            g->off = ev->off;
            g->flags = ev->flags;
            g->ts_us = ev->ts_us;
            g->bytes = 0;
        }
        g->bytes += ev->u.anomaly.bytes;
        return 0;
    }
    if (ev->has_dir) {
        fz_discard_flush(r, ev->dir);
    } else {
        fz_discard_flush(r, IMAP_C2S);
        fz_discard_flush(r, IMAP_S2C);
    }
#endif
    r->ncmp++;
#if FZ_TOLERATE_F5
    if (ev->type == IMAP_EV_LIMIT && ev->has_dir) {
        uint64_t saved;
        if (r->limits.have && (r->limits.dir != ev->dir || r->limits.off != ev->off))
            fz_limits_flush(r);
        saved = r->digest;
        r->digest = 14695981039346656037ull;
        fz_digest_event(r, ev);
        if (!r->limits.have) {
            r->limits.have = 1;
            r->limits.dir = ev->dir;
            r->limits.off = ev->off;
            r->limits.sum = r->limits.n = 0;
        }
        r->limits.sum += r->digest;
        r->limits.n++;
        r->digest = saved;
        return 0;
    }
    fz_limits_flush(r);
#endif
    fz_digest_event(r, ev);
    return 0;
}

/* ------------------------------------------------------------------- runs */

static inline void fz_run_init(struct fz_run *r, const struct imap_session_config *cfg,
                               const char *marker)
{
    memset(r, 0, sizeof(*r));
    r->digest = 14695981039346656037ull;
    r->marker = marker;
    r->marker_name = "run";
    r->relay = cfg->relay;
    r->mem_bound = fz_mem_bound(cfg);
    r->s = imap_session_new(cfg, fz_on_event, r);
    FZ_CHECK(r->s != NULL, "imap_session_new failed");
}

/* Pops every ready op of a direction, as the proxy would, and checks them. */
static inline void fz_pop(struct fz_run *r, enum imap_dir dir)
{
    struct fz_dirstat *d = &r->d[dir];
    struct imap_relay_op op;
    int guard = 0;

    if (!r->relay)
        return;
    while (imap_session_relay_next(r->s, dir, &op)) {
        FZ_CHECK(++guard < 1000000, "relay ops never end");
        switch (op.kind) {
        case IMAP_RELAY_PASS:
        case IMAP_RELAY_HOLD:
            FZ_CHECK(!d->after_starttls, "%s op of %zu bytes in %s after STARTTLS",
                     op.kind == IMAP_RELAY_PASS ? "PASS" : "HOLD", op.len, imap_dir_name(dir));
            /* fall through */
        case IMAP_RELAY_DROP:
            if (op.kind == IMAP_RELAY_DROP)
                d->dropped += op.len;
            d->consumed += op.len;
            FZ_CHECK(d->consumed <= d->fed, "ops cover %llu bytes, %llu fed in %s",
                     (unsigned long long)d->consumed, (unsigned long long)d->fed,
                     imap_dir_name(dir));
            if (op.kind == IMAP_RELAY_HOLD)
                d->hold += op.len;
            break;
        case IMAP_RELAY_INSERT: {
            uint64_t h = 0;
            FZ_CHECK(!d->after_starttls, "INSERT of %zu bytes in %s after STARTTLS", op.len,
                     imap_dir_name(dir));
            FZ_CHECK(op.len == 0 || op.data != NULL, "INSERT without data");
            fz_hash(&h, op.data, op.len); /* ASan reads it */
            break;
        }
        case IMAP_RELAY_RELEASE:
            d->hold = 0;
            break;
        case IMAP_RELAY_STARTTLS:
            d->after_starttls = 1;
            d->starttls_op = 1;
            break;
        case IMAP_RELAY_CLOSE:
            r->closed = 1;
            break;
        default:
            FZ_CHECK(0, "relay op kind %d", (int)op.kind);
        }
    }
    FZ_CHECK(d->consumed + imap_session_relay_pending(r->s, dir) == d->fed,
             "popped %llu + pending %zu != fed %llu in %s", (unsigned long long)d->consumed,
             imap_session_relay_pending(r->s, dir), (unsigned long long)d->fed, imap_dir_name(dir));
}

static inline void fz_after(struct fz_run *r)
{
    size_t m;

    fz_pop(r, IMAP_C2S);
    fz_pop(r, IMAP_S2C);
    m = imap_session_memory(r->s);
    if (m > r->mem_peak)
        r->mem_peak = m;
    FZ_CHECK(m <= r->mem_bound, "imap_session_memory %zu > bound %zu", m, r->mem_bound);
    FZ_CHECK(r->nevents <= 16 * (r->d[0].fed + r->d[1].fed) + 64, "%llu events for %llu bytes",
             (unsigned long long)r->nevents, (unsigned long long)(r->d[0].fed + r->d[1].fed));
}

/* Feeds one chunk and checks what it did. */
static inline void fz_feed1(struct fz_run *r, enum imap_dir dir, const uint8_t *p, size_t n)
{
    struct fz_dirstat *d = &r->d[dir];
    int rc;

    d->fed_hi = d->fed + n;
    rc = imap_session_feed(r->s, dir, (const char *)p, n);
    FZ_CHECK(rc == 0, "imap_session_feed returned %d", rc);
    d->fed += n;
    FZ_CHECK(imap_session_bytes(r->s, dir) == d->fed, "imap_session_bytes %llu != fed %llu in %s",
             (unsigned long long)imap_session_bytes(r->s, dir), (unsigned long long)d->fed,
             imap_dir_name(dir));
    fz_after(r);
}

/* Feeds data whole (sp == NULL) or in the chunks of a split pattern. */
static inline void fz_feed(struct fz_run *r, enum imap_dir dir, const uint8_t *p, size_t n,
                           struct fz_split *sp)
{
    while (n > 0) {
        size_t k = sp != NULL ? fz_split_next(sp, p, n) : n;
        fz_feed1(r, dir, p, k);
        p += k;
        n -= k;
    }
}

static inline void fz_eof(struct fz_run *r, enum imap_dir dir)
{
    if (r->d[dir].eof)
        return;
    r->d[dir].eof = 1;
    imap_session_eof(r->s, dir);
    fz_after(r);
}

/* The end of a run: both peers close, everything fed must be decided. */
static inline void fz_finish(struct fz_run *r)
{
    int dir;

    fz_eof(r, IMAP_C2S);
    fz_eof(r, IMAP_S2C);
    fz_limits_flush(r);
    fz_discard_flush(r, IMAP_C2S);
    fz_discard_flush(r, IMAP_S2C);
    for (dir = 0; dir < 2 && r->relay; dir++) {
        FZ_CHECK(imap_session_relay_pending(r->s, (enum imap_dir)dir) == 0,
                 "%zu bytes still undecided in %s after eof",
                 imap_session_relay_pending(r->s, (enum imap_dir)dir),
                 imap_dir_name((enum imap_dir)dir));
        /* responses held during a keepalive wait for the client's next
         * command and may stay held when the session ends */
        FZ_CHECK(r->d[dir].hold == 0 || r->ka_held, "%llu held bytes never released in %s",
                 (unsigned long long)r->d[dir].hold, imap_dir_name((enum imap_dir)dir));
    }
    imap_session_free(r->s);
    r->s = NULL;
}

/* ---------------------------------------------------------------- prologue */

/* Placeholders in prologue templates: the run's password, and the base64 of
 * the SASL PLAIN response "\0u\0" password (20 characters). */
#define FZ_PW    "\x01"
#define FZ_PLAIN "\x02"

static inline size_t fz_b64(char *out, const unsigned char *in, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}

/* Expands the placeholders of a template for the run's marker. */
static inline size_t fz_subst(char *out, size_t size, const char *tpl, const char *marker)
{
    unsigned char plain[3 + FZ_MARK_LEN] = {0, 'u', 0};
    char b64[32];
    size_t n = 0, b64_len;

    memcpy(plain + 3, marker, FZ_MARK_LEN);
    b64_len = fz_b64(b64, plain, sizeof(plain));
    for (; *tpl != '\0'; tpl++) {
        const char *add = tpl;
        size_t k = 1;
        if (*tpl == '\x01') {
            add = marker;
            k = FZ_MARK_LEN;
        } else if (*tpl == '\x02') {
            add = b64;
            k = b64_len;
        }
        FZ_CHECK(n + k < size, "prologue too long");
        memcpy(out + n, add, k);
        n += k;
    }
    out[n] = '\0';
    return n;
}

/* A prologue: steps of fixed bytes fed before the fuzzed stream. */
struct fz_step {
    enum imap_dir dir;
    const char *data; /* template, see fz_subst(); FZ_TLS: a marker, not bytes */
};

/* A step that is the client leg finishing its STARTTLS handshake. */
#define FZ_TLS "\x03"

/* With require_tls (variant 2) a LOGIN or AUTHENTICATE on the cleartext leg
 * is refused locally, so a client would never send its continuation: the
 * prologues that continue one first upgrade the client leg with these. */
static const struct fz_step fz_pre_starttls[] = {{IMAP_C2S, "a0 STARTTLS\r\n"},
                                                 {IMAP_C2S, FZ_TLS},
                                                 {IMAP_C2S, NULL}};

static inline void fz_steps(struct fz_run *r, const struct fz_step *st, const char *marker,
                            struct fz_split *sp)
{
    char buf[512];

    for (; st != NULL && st->data != NULL; st++) {
        size_t n;
        if (strcmp(st->data, FZ_TLS) == 0) {
            FZ_CHECK(!r->relay || r->d[IMAP_C2S].starttls_op,
                     "prologue: no STARTTLS op before the handshake");
            imap_session_tls_started(r->s, 1, 0);
            r->d[IMAP_C2S].after_starttls = r->d[IMAP_C2S].starttls_op = 0;
            fz_after(r);
            continue;
        }
        n = fz_subst(buf, sizeof(buf), st->data, marker);
        fz_feed(r, st->dir, (const uint8_t *)buf, n, sp);
    }
}

/* Non-zero when the fuzzed bytes could spell a marker by themselves. */
static inline int fz_has_marker_start(const uint8_t *p, size_t n)
{
    return memmem(p, n, FZ_MARK1, 3) != NULL || memmem(p, n, FZ_MARK2, 3) != NULL;
}

/* FZ_VERBOSE=1 in the environment: one summary line per input on stderr. */
static inline void fz_verbose(const char *target, const struct fz_run *a)
{
    int t;

    if (fz_verbosity() < 1)
        return;
    fprintf(
        stderr, "%s: fed %llu/%llu events %llu digest %016llx mem peak %zu (bound %zu):", target,
        (unsigned long long)a->d[0].fed, (unsigned long long)a->d[1].fed,
        (unsigned long long)a->nevents, (unsigned long long)a->digest, a->mem_peak, a->mem_bound);
    for (t = 0; t < FZ_EV_NTYPES; t++)
        if (a->count[t] != 0)
            fprintf(stderr, " %s=%llu", imap_ev_name((enum imap_ev_type)t),
                    (unsigned long long)a->count[t]);
    fputc('\n', stderr);
}

static inline void fz_report(const char *target, const struct fz_run *a, const struct fz_run *b)
{
    int t;

    fprintf(stderr,
            "%s: whole run %llu events digest %016llx, split run %llu events digest %016llx\n",
            target, (unsigned long long)a->nevents, (unsigned long long)a->digest,
            (unsigned long long)b->nevents, (unsigned long long)b->digest);
    for (t = 0; t < FZ_EV_NTYPES; t++)
        if (a->count[t] != b->count[t])
            fprintf(stderr, "  %s: %llu vs %llu\n", imap_ev_name((enum imap_ev_type)t),
                    (unsigned long long)a->count[t], (unsigned long long)b->count[t]);
}

/* --------------------------------------------------- the direction targets */

/*
 * One run of fuzz_c2s / fuzz_s2c: pre steps, the prologue (with the run's marker), the
 * ack steps when the prefix option asks for them, then the stream in dir.
 * With timer_per_line the keepalive timer fires after every LF of the stream
 * (at the same places in both runs).  Ends with both peers closing.
 */
static inline void fz_dir_run(struct fz_run *r, const struct fz_prefix *f, enum imap_dir dir,
                              const struct fz_step *pre, const struct fz_step *pro,
                              const struct fz_step *ack, int timer_per_line, const uint8_t *p,
                              size_t n, const char *marker, int split, int relay)
{
    struct imap_session_config cfg;
    struct fz_split sp;
    struct fz_split *spp = split ? &sp : NULL;

    fz_split_init(&sp, f->split_kind, f->split_param);
    fz_config(f, relay, &cfg);
    fz_run_init(r, &cfg, fz_has_marker_start(p, n) ? NULL : marker);
    r->marker_name = split ? "split" : "whole";
    fz_steps(r, pre, marker, spp);
    fz_steps(r, pro, marker, spp);
    fz_steps(r, ack, marker, spp);
    if (!timer_per_line) {
        fz_feed(r, dir, p, n, spp);
    } else {
        while (n > 0) {
            const uint8_t *lf = memchr(p, '\n', n);
            size_t k = lf != NULL ? (size_t)(lf - p) + 1 : n;
            int rc;
            fz_feed(r, dir, p, k, spp);
            rc = imap_session_keepalive(r->s);
            FZ_CHECK(rc >= -1 && rc <= 1, "imap_session_keepalive returned %d", rc);
            fz_after(r);
            p += k;
            n -= k;
        }
    }
    fz_finish(r);
}

/* One run of an input: marker is the password, split selects the split
 * pattern (else every chunk whole), relay turns relay ops on. */
typedef void fz_run_fn(struct fz_run *r, const void *ctx, const char *marker, int split, int relay);

static inline int fz_same(const struct fz_run *a, const struct fz_run *b)
{
    return a->digest == b->digest && a->ncmp == b->ncmp;
}

/* Runs an input whole, relay off, FZ_MARK1 and split, relay on, FZ_MARK2; on a
 * difference tells which property failed, then aborts. */
static inline void fz_target(const char *name, fz_run_fn *run, const void *ctx,
                             const struct fz_prefix *f)
{
    struct fz_run a, b, c, d;

    run(&b, ctx, FZ_MARK2, 1, 1); /* relay on first: see fuzz_session.c */
    run(&a, ctx, FZ_MARK1, 0, 0);
    fz_verbose(name, &a);
    if (fz_same(&a, &b))
        return;
    fz_report(name, &a, &b);
    run(&c, ctx, FZ_MARK1, 0, 1);
    FZ_CHECK(fz_same(&a, &c), "relay on vs off: the events differ (whole feeds)");
    run(&d, ctx, FZ_MARK1, 1, 1);
    FZ_CHECK(fz_same(&c, &d), "split invariance: events differ whole vs split (kind %u param %u)",
             f->split_kind, f->split_param);
    FZ_CHECK(0, "the LOGIN password changes the events (redaction leak through a derived field)");
}

struct fz_dir_ctx {
    const struct fz_prefix *f;
    enum imap_dir dir;
    const struct fz_step *pre, *pro, *ack;
    int timer_per_line;
    const uint8_t *p;
    size_t n;
};

static inline void fz_dir_run_ctx(struct fz_run *r, const void *ctx, const char *marker, int split,
                                  int relay)
{
    const struct fz_dir_ctx *c = ctx;

    fz_dir_run(r, c->f, c->dir, c->pre, c->pro, c->ack, c->timer_per_line, c->p, c->n, marker,
               split, relay);
}

static inline void fz_dir_target(const char *name, enum imap_dir dir, const struct fz_prefix *f,
                                 const struct fz_step *pre, const struct fz_step *pro,
                                 const struct fz_step *ack, int timer_per_line, const uint8_t *p,
                                 size_t n)
{
    struct fz_dir_ctx c = {f, dir, pre, pro, ack, timer_per_line, p, n};

    fz_target(name, fz_dir_run_ctx, &c, f);
}

#endif
