/*
 * report.c - `imaptap report`: imaptap logs to one self-contained HTML page.
 *
 * One pass over the events.  Each session gets a summary (a row of the
 * session list) and, while there is room, a timeline: its commands paired
 * with their completions, IDLE spans, untagged responses, errors.  Limits
 * (report.h) bound memory and page size; whatever they leave out is counted
 * and the page says so.  Aggregates (latency per command, capabilities,
 * problems, close reasons) cover every session, listed or not.
 *
 * The page is the HTML and script of report_assets.h around JSON data that
 * this file writes itself: every string from the log goes through json_str(),
 * which escapes "<", ">" and "&", so no log text can close a <script> block;
 * the script builds the DOM with textContent only.
 */
#include "report.h"
#include "report_assets.h"
#include "logread.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define RPT_STR_MAX       400  /* longest string kept from a log field, bytes */
#define RPT_RING          16   /* recent entries kept for a session without a timeline */
#define RPT_PENDING_MAX   256  /* commands in flight tracked per session */
#define RPT_SESS_CMDS     48   /* distinct commands counted per session */
#define RPT_MAILBOXES_MAX 240  /* bytes of mailbox names kept per session (search) */
#define RPT_CMDSTATS_MAX  64   /* distinct commands in the latency table */
#define RPT_CAPSTATS_MAX  256  /* distinct capabilities in the capability table */
#define RPT_ISSUES_MAX    128  /* distinct problems in the problem table */
#define RPT_REASONS_MAX   64   /* distinct close reasons counted */
#define RPT_EXACT_MAX     4096 /* latencies kept per command for exact percentiles */
#define RPT_FINE_PER_DEC  20   /* finer log buckets per decade, for percentiles beyond */
#define RPT_FINE_DECADES  11   /* from 1 us to 100000 s */
#define RPT_FINE_N        (RPT_FINE_PER_DEC * RPT_FINE_DECADES + 2)
#define RPT_LIMIT_MAX     10000000

/* The histogram's buckets: 1-2-5 steps from 0.1 ms to 1000 s, in ms. */
static const double hist_edges[] = {
    0.1, 0.2, 0.5, 1,   2,   5,   10,  20,  50,  100, 200,
    500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6,
};
#define RPT_HIST_N (sizeof(hist_edges) / sizeof(hist_edges[0]) + 1)

/* ---- timeline entries ---- */

enum {
    IT_CMD = 'C',  /* a command: t0 sent, t1 completed */
    IT_IDLE = 'I', /* IDLE: the server's "+" to the client's DONE */
    IT_UNT = 'U',  /* an untagged response */
    IT_ERR = 'E',  /* parse_error, anomaly, limit */
    IT_KA = 'K',   /* imaptap's keepalive command */
    IT_MARK = 'M', /* anything else: TLS, STARTTLS, auth, continuation, open/close */
};
enum { LANE_CLIENT, LANE_SERVER, LANE_PROXY };
/* flags of an entry */
#define IF_OK     0x01
#define IF_NO     0x02
#define IF_BAD    0x04
#define IF_ERROR  0x08 /* drawn in red */
#define IF_WARN   0x10 /* drawn in amber (BYE, untagged NO, ...) */
#define IF_LOCAL  0x20 /* answered by imaptap itself */
#define IF_HELD   0x40 /* held by keepalive containment */
#define IF_NOTIFY 0x80 /* pushed by the server (during IDLE) */

struct item {
    char type;
    unsigned char lane;
    unsigned char flags;
    int64_t t0, t1;  /* microseconds since the epoch; t1 -1 when not (yet) known */
    uint32_t o0, o1; /* event ordinals within the session */
    int64_t seq;
    double ms;  /* latency from the log, -1 when none */
    char *s[4]; /* C: tag cmd args result; I: tag; U: name summary; E: kind detail;
                   K: tag cmd result; M: label detail */
};

struct strv {
    char **v;
    uint32_t n, cap;
};

struct cmdcount {
    char *name;
    uint32_t n;
};

struct pending {
    char *tag;
    uint64_t abs; /* the entry's number within the session */
};

enum { TL_NONE, TL_KEPT, TL_NOROOM, TL_DROPPED, TL_UNLISTED };

struct sess {
    struct sess *next; /* hash chain */
    char *sid;
    uint64_t id; /* order of appearance */
    int64_t first_us, last_us;
    double duration_ms;
    char *user, *client, *addr, *reason, *issue, *listener, *upstream, *server_id;
    char *tls_client, *tls_server, *slowest_cmd, *state;
    double slowest_ms;
    uint32_t nev, ncmd, nerr, nwarn, nno, nbad, nidle, nka;
    int64_t bytes_c2s, bytes_s2c;
    unsigned closed : 1, listed : 1, finalized : 1, partial : 1, logout : 1;
    struct strv srv_all, srv_last, srv_removed, cli_used;
    int64_t capset[4]; /* the four lists interned when the session ended */
    struct cmdcount cmds[RPT_SESS_CMDS];
    uint32_t ncmds, other_cmds;
    char *mailboxes;
    /* timeline: items[] when it has a slot, ring[] (the latest RPT_RING) when not */
    int tl;
    struct item *items;
    uint32_t nitems, capitems;
    uint64_t base_abs;  /* entry number of items[0] */
    uint64_t next_abs;  /* entries made so far */
    uint64_t omitted;   /* entries left out by --events */
    uint64_t ring_from; /* first entry number the ring holds (entries before went
                           to a timeline that was dropped) */
    struct item ring[RPT_RING];
    struct pending *pend;
    uint32_t npend;
    int64_t idle_abs, ka_abs; /* the open IDLE and keepalive entries, -1 none */
};

struct cmdstat {
    char *name;
    uint64_t n, no, bad;
    double sum, max;
    uint64_t hist[RPT_HIST_N], hist_err[RPT_HIST_N];
    uint64_t fine[RPT_FINE_N];
    double *exact;
    uint32_t nexact;
};

struct capstat {
    char *name;
    uint64_t adv, removed, used;
};

struct issue {
    char *cat, *kind, *example;
    uint64_t n, sessions;
    uint64_t last_sess;
};

struct reason {
    char *name;
    uint64_t n;
};

struct intern {
    struct intern *next;
    char *key;
    uint32_t id;
};

struct rpt {
    /* options */
    long max_tl, max_ev, max_list;
    const char *title;
    const char *const *inputs;
    /* sessions */
    struct sess **hash;
    size_t nhash, nsess_live;
    struct sess **list;
    size_t nlist, caplist;
    uint64_t nsess, nunlisted;
    long tl_used;
    struct sess **victims;
    size_t nvictims, capvictims, victim_head;
    /* totals */
    uint64_t nevents, nskipped, ncommands, nerrors, nerr_sessions;
    uint64_t tl_noroom, tl_dropped, tl_partial, ev_omitted, sess_omitted;
    int64_t first_us, last_us;
    /* aggregates */
    struct cmdstat cmds[RPT_CMDSTATS_MAX];
    size_t ncmds;
    struct cmdstat all; /* every command but IDLE, whose latency is its idle time */
    struct capstat caps[RPT_CAPSTATS_MAX];
    size_t ncaps;
    uint64_t caps_other;
    struct issue issues[RPT_ISSUES_MAX];
    size_t nissues;
    uint64_t issues_other;
    struct reason reasons[RPT_REASONS_MAX];
    size_t nreasons;
    /* interned capability lists */
    struct intern *ihash[1024];
    char **ikeys;
    uint32_t nikeys, capikeys;
    int oom;
};

/* ---- small helpers ---- */

static void *rpt_alloc(struct rpt *r, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        r->oom = 1;
    return p;
}

static void *rpt_grow(struct rpt *r, void *p, uint32_t *cap, size_t size, uint32_t need)
{
    uint32_t ncap;
    void *np;

    if (need <= *cap)
        return p;
    ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    np = realloc(p, (size_t)ncap * size);
    if (np == NULL) {
        r->oom = 1;
        return NULL;
    }
    *cap = ncap;
    return np;
}

/* A copy of len bytes of UTF-8 cut to at most max bytes at a character
 * boundary ("..." added); NUL octets become U+2400.  NULL when s is. */
static char *str_clip(struct rpt *r, const char *s, size_t len, size_t max)
{
    size_t i, o = 0, cut = len;
    char *d;

    if (s == NULL)
        return NULL;
    if (cut > max) {
        cut = max;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    d = rpt_alloc(r, cut * 3 + 4, 1);
    if (d == NULL)
        return NULL;
    for (i = 0; i < cut; i++) {
        if (s[i] == '\0') {
            memcpy(d + o, "\xe2\x90\x80", 3);
            o += 3;
        } else {
            d[o++] = s[i];
        }
    }
    if (cut < len) {
        memcpy(d + o, "\xe2\x80\xa6", 3);
        o += 3;
    }
    d[o] = '\0';
    return d;
}

static char *str_dup(struct rpt *r, const char *s)
{
    return s ? str_clip(r, s, strlen(s), RPT_STR_MAX) : NULL;
}

/* A string member of an event, NUL octets and all, clipped; NULL when absent. */
static char *ev_dup(struct rpt *r, const json_t *ev, const char *key)
{
    const json_t *v = json_object_get(ev, key);

    if (!json_is_string(v))
        return NULL;
    return str_clip(r, json_string_value(v), json_string_length(v), RPT_STR_MAX);
}

static void set_str(char **dst, char *s)
{
    if (s == NULL)
        return;
    free(*dst);
    *dst = s;
}

static char *str_printf(struct rpt *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *str_printf(struct rpt *r, const char *fmt, ...)
{
    char buf[RPT_STR_MAX * 3];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    return str_clip(r, buf, strlen(buf), RPT_STR_MAX);
}

/* Appends "text" to a bounded buffer as "a, b"; returns the new length. */
static size_t buf_add(char *buf, size_t len, size_t size, const char *sep, const char *text)
{
    int n;

    if (text == NULL || *text == '\0' || len + 1 >= size)
        return len;
    n = snprintf(buf + len, size - len, "%s%s", len ? sep : "", text);
    if (n < 0)
        return len;
    len += (size_t)n;
    return len < size ? len : size - 1;
}

static void strv_free(struct strv *v)
{
    uint32_t i;

    for (i = 0; i < v->n; i++)
        free(v->v[i]);
    free(v->v);
    memset(v, 0, sizeof(*v));
}

static int strv_has(const struct strv *v, const char *s)
{
    uint32_t i;

    for (i = 0; i < v->n; i++)
        if (strcmp(v->v[i], s) == 0)
            return 1;
    return 0;
}

static void strv_add(struct rpt *r, struct strv *v, const char *s)
{
    char **nv;

    if (s == NULL || *s == '\0' || strv_has(v, s) || v->n >= 512)
        return;
    nv = rpt_grow(r, v->v, &v->cap, sizeof(*nv), v->n + 1);
    if (nv == NULL)
        return;
    v->v = nv;
    v->v[v->n] = str_dup(r, s);
    if (v->v[v->n] != NULL)
        v->n++;
}

/* Adds every string of a JSON array. */
static void strv_add_json(struct rpt *r, struct strv *v, const json_t *arr)
{
    size_t i;

    for (i = 0; i < json_array_size(arr); i++)
        strv_add(r, v, json_string_value(json_array_get(arr, i)));
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The id of a list of capabilities, the same for the same list. */
static int64_t intern_strv(struct rpt *r, const struct strv *v)
{
    size_t len = 1, b;
    uint32_t i;
    char *key, *p, **nk;
    struct intern *e;

    for (i = 0; i < v->n; i++)
        len += strlen(v->v[i]) + 1;
    key = rpt_alloc(r, len, 1);
    if (key == NULL)
        return -1;
    p = key;
    for (i = 0; i < v->n; i++) {
        size_t l = strlen(v->v[i]);
        memcpy(p, v->v[i], l);
        p += l;
        *p++ = '\x1f';
    }
    *p = '\0';
    b = fnv1a(key) % (sizeof(r->ihash) / sizeof(r->ihash[0]));
    for (e = r->ihash[b]; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            free(key);
            return e->id;
        }
    }
    e = rpt_alloc(r, 1, sizeof(*e));
    nk = rpt_grow(r, r->ikeys, &r->capikeys, sizeof(*nk), r->nikeys + 1);
    if (e == NULL || nk == NULL) {
        free(e);
        free(key);
        return -1;
    }
    r->ikeys = nk;
    e->key = key;
    e->id = r->nikeys;
    r->ikeys[r->nikeys++] = key;
    e->next = r->ihash[b];
    r->ihash[b] = e;
    return e->id;
}

/* ---- sessions ---- */

static void item_free(struct item *it)
{
    int i;

    for (i = 0; i < 4; i++) {
        free(it->s[i]);
        it->s[i] = NULL;
    }
}

static void sess_free_timeline(struct sess *s)
{
    uint32_t i;

    for (i = 0; i < s->nitems; i++)
        item_free(&s->items[i]);
    free(s->items);
    s->items = NULL;
    s->nitems = s->capitems = 0;
}

static void sess_free_transient(struct sess *s)
{
    uint32_t i;

    for (i = 0; i < RPT_RING; i++)
        item_free(&s->ring[i]);
    for (i = 0; i < s->npend; i++)
        free(s->pend[i].tag);
    free(s->pend);
    s->pend = NULL;
    s->npend = 0;
}

static void sess_free(struct sess *s)
{
    uint32_t i;

    if (s == NULL)
        return;
    sess_free_timeline(s);
    sess_free_transient(s);
    free(s->sid);
    free(s->user);
    free(s->client);
    free(s->addr);
    free(s->reason);
    free(s->issue);
    free(s->listener);
    free(s->upstream);
    free(s->server_id);
    free(s->tls_client);
    free(s->tls_server);
    free(s->slowest_cmd);
    free(s->state);
    free(s->mailboxes);
    strv_free(&s->srv_all);
    strv_free(&s->srv_last);
    strv_free(&s->srv_removed);
    strv_free(&s->cli_used);
    for (i = 0; i < s->ncmds; i++)
        free(s->cmds[i].name);
    free(s);
}

static int hash_grow(struct rpt *r)
{
    size_t n = r->nhash ? r->nhash * 2 : 4096, i;
    struct sess **h = calloc(n, sizeof(*h));

    if (h == NULL) {
        r->oom = 1;
        return -1;
    }
    for (i = 0; i < r->nhash; i++) {
        struct sess *s = r->hash[i], *next;
        for (; s; s = next) {
            size_t b = fnv1a(s->sid) % n;
            next = s->next;
            s->next = h[b];
            h[b] = s;
        }
    }
    free(r->hash);
    r->hash = h;
    r->nhash = n;
    return 0;
}

static struct sess *sess_find(struct rpt *r, const char *sid)
{
    struct sess *s;

    if (r->nhash == 0)
        return NULL;
    for (s = r->hash[fnv1a(sid) % r->nhash]; s; s = s->next)
        if (strcmp(s->sid, sid) == 0)
            return s;
    return NULL;
}

static void sess_unhash(struct rpt *r, struct sess *s)
{
    struct sess **pp = &r->hash[fnv1a(s->sid) % r->nhash];

    for (; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            r->nsess_live--;
            return;
        }
    }
}

static struct sess *sess_new(struct rpt *r, const char *sid, int64_t ts)
{
    struct sess *s;
    size_t b;

    if ((r->nsess_live + 1 > r->nhash * 2 || r->nhash == 0) && hash_grow(r) < 0)
        return NULL;
    s = rpt_alloc(r, 1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->sid = str_dup(r, sid);
    if (s->sid == NULL) {
        free(s);
        return NULL;
    }
    s->id = r->nsess++;
    s->first_us = s->last_us = ts;
    s->duration_ms = -1;
    s->bytes_c2s = s->bytes_s2c = -1;
    s->slowest_ms = -1;
    s->idle_abs = s->ka_abs = -1;
    if ((long)r->nlist < r->max_list) {
        struct sess **nl;
        uint32_t cap = (uint32_t)r->caplist;
        nl = rpt_grow(r, r->list, &cap, sizeof(*nl), (uint32_t)r->nlist + 1);
        if (nl == NULL) {
            sess_free(s);
            return NULL;
        }
        r->list = nl;
        r->caplist = cap;
        r->list[r->nlist++] = s;
        s->listed = 1;
        if (r->tl_used < r->max_tl) {
            struct sess **nv;
            uint32_t vcap = (uint32_t)r->capvictims;
            s->tl = TL_KEPT;
            r->tl_used++;
            /* a candidate to give its place to a session with errors */
            nv = rpt_grow(r, r->victims, &vcap, sizeof(*nv), (uint32_t)r->nvictims + 1);
            if (nv != NULL) {
                r->victims = nv;
                r->capvictims = vcap;
                r->victims[r->nvictims++] = s;
            }
        } else {
            s->tl = TL_NOROOM;
        }
    } else {
        s->tl = TL_UNLISTED;
        r->nunlisted++;
    }
    b = fnv1a(s->sid) % r->nhash;
    s->next = r->hash[b];
    r->hash[b] = s;
    r->nsess_live++;
    return s;
}

/* The entry numbered abs, or NULL when it is not kept (any more). */
static struct item *sess_item(struct sess *s, uint64_t abs)
{
    if (s->tl == TL_KEPT) {
        if (abs >= s->base_abs && abs - s->base_abs < s->nitems)
            return &s->items[abs - s->base_abs];
        return NULL;
    }
    if (s->tl == TL_UNLISTED || abs >= s->next_abs || s->next_abs - abs > RPT_RING ||
        abs < s->ring_from)
        return NULL;
    return &s->ring[abs % RPT_RING];
}

static int is_notable(const struct item *it)
{
    return (it->flags & (IF_ERROR | IF_WARN)) != 0;
}

/*
 * Makes a new entry and returns it, or NULL when the session keeps none
 * (no timeline, or --events reached and it is not an error).  *abs_r gets
 * its number for sess_item().
 */
static struct item *sess_add_item(struct rpt *r, struct sess *s, const struct item *proto,
                                  uint64_t *abs_r)
{
    struct item *it;

    *abs_r = UINT64_MAX;
    if (s->tl == TL_UNLISTED)
        return NULL;
    if (s->tl != TL_KEPT) {
        it = &s->ring[s->next_abs % RPT_RING];
        item_free(it);
    } else {
        uint32_t max = (uint32_t)r->max_ev;
        if (s->nitems >= max && (!is_notable(proto) || s->nitems >= max + max / 4 + 1)) {
            s->omitted++;
            r->ev_omitted++;
            return NULL;
        }
        it = rpt_grow(r, s->items, &s->capitems, sizeof(*it), s->nitems + 1);
        if (it == NULL)
            return NULL;
        s->items = it;
        it = &s->items[s->nitems++];
    }
    *it = *proto;
    *abs_r = s->next_abs++;
    return it;
}

static void item_proto(struct item *it, int type, int lane, const json_t *ev, int64_t ts,
                       const struct sess *s)
{
    memset(it, 0, sizeof(*it));
    it->type = (char)type;
    it->lane = (unsigned char)lane;
    it->t0 = ts;
    it->t1 = -1;
    it->o0 = it->o1 = s->nev;
    it->seq = ev_int(ev, "seq", -1);
    it->ms = -1;
}

/* Adds an entry built from proto; the strings are taken (freed if unkept). */
static struct item *add_item(struct rpt *r, struct sess *s, struct item *proto, uint64_t *abs_r)
{
    uint64_t abs;
    struct item *it = sess_add_item(r, s, proto, &abs);

    if (it == NULL)
        item_free(proto);
    if (abs_r)
        *abs_r = abs;
    return it;
}

/*
 * A session with errors and no timeline takes a place: a free one, or that
 * of the oldest session with a timeline and no errors (finished or not; one
 * still going on keeps its recent entries in the ring from then on).  Its
 * own recent entries become the start of its timeline.
 */
static void sess_promote(struct rpt *r, struct sess *s)
{
    struct sess *v = NULL;
    uint64_t a, first;
    uint32_t n = 0;

    if (s->tl != TL_NOROOM && s->tl != TL_DROPPED)
        return;
    if (r->tl_used >= r->max_tl) {
        while (r->victim_head < r->nvictims) {
            struct sess *c = r->victims[r->victim_head++];
            if (c->tl == TL_KEPT && c->nerr == 0 && c != s) {
                v = c;
                break;
            }
        }
        if (v == NULL)
            return;
        sess_free_timeline(v);
        v->tl = TL_DROPPED;
        v->ring_from = v->next_abs;
        r->tl_used--;
    }
    first = s->next_abs > RPT_RING ? s->next_abs - RPT_RING : 0;
    if (first < s->ring_from)
        first = s->ring_from;
    s->items = rpt_alloc(r, RPT_RING + 16, sizeof(struct item));
    if (s->items == NULL)
        return;
    s->capitems = RPT_RING + 16;
    for (a = first; a < s->next_abs; a++) {
        s->items[n++] = s->ring[a % RPT_RING];
        memset(&s->ring[a % RPT_RING], 0, sizeof(struct item));
    }
    s->nitems = n;
    s->base_abs = first;
    s->partial = first > 0;
    s->tl = TL_KEPT;
    r->tl_used++;
}

/* ---- aggregates ---- */

static struct cmdstat *cmdstat_get(struct rpt *r, const char *name)
{
    size_t i;
    struct cmdstat *c;

    if (name == NULL || *name == '\0')
        name = "(unknown)";
    for (i = 0; i < r->ncmds; i++)
        if (strcmp(r->cmds[i].name, name) == 0)
            return &r->cmds[i];
    if (r->ncmds >= RPT_CMDSTATS_MAX - 1) {
        name = "(other)";
        for (i = 0; i < r->ncmds; i++)
            if (strcmp(r->cmds[i].name, name) == 0)
                return &r->cmds[i];
    }
    c = &r->cmds[r->ncmds];
    c->name = str_dup(r, name);
    if (c->name == NULL)
        return NULL;
    r->ncmds++;
    return c;
}

static size_t hist_bucket(double ms)
{
    size_t i;

    for (i = 0; i < RPT_HIST_N - 1; i++)
        if (ms < hist_edges[i])
            return i;
    return RPT_HIST_N - 1;
}

static size_t fine_bucket(double ms)
{
    double x;

    if (ms < 0.001)
        return 0;
    x = log10(ms / 0.001) * RPT_FINE_PER_DEC;
    if (x >= RPT_FINE_N - 2)
        return RPT_FINE_N - 1;
    return (size_t)x + 1;
}

static double fine_value(size_t b)
{
    if (b == 0)
        return 0;
    return 0.001 * pow(10, ((double)b - 0.5) / RPT_FINE_PER_DEC);
}

static void stat_add(struct rpt *r, struct cmdstat *c, double ms, int status)
{
    size_t b;

    c->n++;
    if (status == IF_NO)
        c->no++;
    if (status == IF_BAD)
        c->bad++;
    if (ms < 0)
        ms = 0;
    c->sum += ms;
    if (ms > c->max)
        c->max = ms;
    b = hist_bucket(ms);
    c->hist[b]++;
    if (status == IF_NO || status == IF_BAD)
        c->hist_err[b]++;
    c->fine[fine_bucket(ms)]++;
    if (c->nexact < RPT_EXACT_MAX) {
        if (c->exact == NULL)
            c->exact = rpt_alloc(r, RPT_EXACT_MAX, sizeof(double));
        if (c->exact != NULL)
            c->exact[c->nexact++] = ms;
    }
}

static void cmdstat_add(struct rpt *r, const char *cmd, double ms, int status)
{
    struct cmdstat *c = cmdstat_get(r, cmd);

    if (c != NULL)
        stat_add(r, c, ms, status);
    if (cmd == NULL || strcmp(cmd, "IDLE") != 0)
        stat_add(r, &r->all, ms, status);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank): exact while every value was kept. */
static double cmdstat_pct(const struct cmdstat *c, double p)
{
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)c->n), seen = 0;
    size_t b;

    if (rank < 1)
        rank = 1;
    if (c->n == c->nexact && c->exact != NULL)
        return c->exact[rank - 1];
    for (b = 0; b < RPT_FINE_N; b++) {
        seen += c->fine[b];
        if (seen >= rank)
            return fine_value(b) < c->max ? fine_value(b) : c->max;
    }
    return c->max;
}

static struct capstat *capstat_get(struct rpt *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->ncaps; i++)
        if (strcmp(r->caps[i].name, name) == 0)
            return &r->caps[i];
    if (r->ncaps >= RPT_CAPSTATS_MAX) {
        r->caps_other++;
        return NULL;
    }
    r->caps[r->ncaps].name = str_dup(r, name);
    if (r->caps[r->ncaps].name == NULL)
        return NULL;
    return &r->caps[r->ncaps++];
}

static void issue_add(struct rpt *r, struct sess *s, const char *cat, const char *kind)
{
    size_t i;
    struct issue *is = NULL;

    if (kind == NULL || *kind == '\0')
        kind = "-";
    for (i = 0; i < r->nissues; i++) {
        if (strcmp(r->issues[i].cat, cat) == 0 && strcmp(r->issues[i].kind, kind) == 0) {
            is = &r->issues[i];
            break;
        }
    }
    if (is == NULL) {
        if (r->nissues >= RPT_ISSUES_MAX) {
            r->issues_other++;
            return;
        }
        is = &r->issues[r->nissues];
        is->cat = str_dup(r, cat);
        is->kind = str_dup(r, kind);
        is->example = s->listed ? str_dup(r, s->sid) : NULL;
        if (is->cat == NULL || is->kind == NULL) {
            free(is->cat);
            free(is->kind);
            free(is->example);
            memset(is, 0, sizeof(*is));
            return;
        }
        is->last_sess = UINT64_MAX;
        r->nissues++;
    }
    is->n++;
    if (is->last_sess != s->id) {
        is->last_sess = s->id;
        is->sessions++;
    }
    if (is->example == NULL && s->listed)
        is->example = str_dup(r, s->sid);
}

static void reason_add(struct rpt *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->nreasons; i++) {
        if (strcmp(r->reasons[i].name, name) == 0) {
            r->reasons[i].n++;
            return;
        }
    }
    if (r->nreasons >= RPT_REASONS_MAX)
        name = "(other)";
    for (i = 0; i < r->nreasons; i++) {
        if (strcmp(r->reasons[i].name, name) == 0) {
            r->reasons[i].n++;
            return;
        }
    }
    r->reasons[r->nreasons].name = str_dup(r, name);
    if (r->reasons[r->nreasons].name != NULL)
        r->reasons[r->nreasons++].n = 1;
}

/* An error of the session: counted, its first one named in the list, and a
 * session without a timeline gets one if it can. */
static void sess_error(struct rpt *r, struct sess *s, const char *cat, const char *kind,
                       const char *summary)
{
    s->nerr++;
    r->nerrors++;
    if (s->nerr == 1)
        r->nerr_sessions++;
    if (s->issue == NULL)
        s->issue = str_dup(r, summary);
    issue_add(r, s, cat, kind);
    sess_promote(r, s);
}

static void sess_count_cmd(struct rpt *r, struct sess *s, const char *cmd)
{
    uint32_t i;

    if (cmd == NULL)
        return;
    for (i = 0; i < s->ncmds; i++) {
        if (strcmp(s->cmds[i].name, cmd) == 0) {
            s->cmds[i].n++;
            return;
        }
    }
    if (s->ncmds >= RPT_SESS_CMDS) {
        s->other_cmds++;
        return;
    }
    s->cmds[s->ncmds].name = str_dup(r, cmd);
    if (s->cmds[s->ncmds].name != NULL)
        s->cmds[s->ncmds++].n = 1;
}

/* The session ended (session_close, or the end of the input): count it. */
static void sess_finalize(struct rpt *r, struct sess *s)
{
    uint32_t i;

    if (s->finalized)
        return;
    s->finalized = 1;
    for (i = 0; i < s->srv_all.n; i++) {
        struct capstat *c = capstat_get(r, s->srv_all.v[i]);
        if (c)
            c->adv++;
    }
    for (i = 0; i < s->srv_removed.n; i++) {
        struct capstat *c = capstat_get(r, s->srv_removed.v[i]);
        if (c)
            c->removed++;
    }
    for (i = 0; i < s->cli_used.n; i++) {
        struct capstat *c = capstat_get(r, s->cli_used.v[i]);
        if (c)
            c->used++;
    }
    reason_add(r, s->reason ? s->reason : "(open at end of log)");
    if (s->omitted)
        r->sess_omitted++;
    sess_free_transient(s);
    if (s->listed) {
        /* sessions of one server and client share their lists: keep one copy */
        s->capset[0] = intern_strv(r, &s->srv_all);
        s->capset[1] = intern_strv(r, &s->srv_last);
        s->capset[2] = intern_strv(r, &s->srv_removed);
        s->capset[3] = intern_strv(r, &s->cli_used);
    }
    strv_free(&s->srv_all);
    strv_free(&s->srv_last);
    strv_free(&s->srv_removed);
    strv_free(&s->cli_used);
}

/* ---- events ---- */

static void pend_add(struct rpt *r, struct sess *s, const char *tag, uint64_t abs)
{
    struct pending *np;

    if (tag == NULL)
        return;
    if (s->npend >= RPT_PENDING_MAX) {
        free(s->pend[0].tag);
        memmove(&s->pend[0], &s->pend[1], (s->npend - 1) * sizeof(*s->pend));
        s->npend--;
    }
    np = realloc(s->pend, (s->npend + 1) * sizeof(*np));
    if (np == NULL) {
        r->oom = 1;
        return;
    }
    s->pend = np;
    s->pend[s->npend].tag = str_dup(r, tag);
    s->pend[s->npend].abs = abs;
    if (s->pend[s->npend].tag != NULL)
        s->npend++;
}

/* The entry of the command in flight with this tag (taken off the list);
 * returns 0 when there is none. */
static int pend_take(struct sess *s, const char *tag, uint64_t *abs_r)
{
    uint32_t i;

    if (tag == NULL)
        return 0;
    for (i = s->npend; i-- > 0;) {
        if (strcmp(s->pend[i].tag, tag) == 0) {
            *abs_r = s->pend[i].abs;
            free(s->pend[i].tag);
            memmove(&s->pend[i], &s->pend[i + 1], (s->npend - i - 1) * sizeof(*s->pend));
            s->npend--;
            return 1;
        }
    }
    return 0;
}

static int lane_of(const json_t *ev)
{
    const char *dir = ev_str(ev, "dir");

    if (dir && strcmp(dir, "c2s") == 0)
        return LANE_CLIENT;
    if (dir && strcmp(dir, "s2c") == 0)
        return LANE_SERVER;
    return LANE_PROXY;
}

static int status_flag(const char *st)
{
    if (st == NULL)
        return 0;
    if (strcmp(st, "OK") == 0)
        return IF_OK;
    if (strcmp(st, "NO") == 0)
        return IF_NO;
    if (strcmp(st, "BAD") == 0)
        return IF_BAD;
    return 0;
}

/* "[CODE data] text" of a status response. */
static char *resp_text(struct rpt *r, const json_t *ev)
{
    const char *code = ev_str(ev, "code"), *data = ev_str(ev, "code_data");
    const char *text = ev_str(ev, "text");
    char buf[RPT_STR_MAX * 2];
    size_t len = 0;

    buf[0] = '\0';
    if (code) {
        char c[RPT_STR_MAX];
        snprintf(c, sizeof(c), "[%s%s%.200s]", code, data ? " " : "", data ? data : "");
        len = buf_add(buf, len, sizeof(buf), " ", c);
    }
    len = buf_add(buf, len, sizeof(buf), " ", text);
    return buf[0] ? str_dup(r, buf) : NULL;
}

/* Reads a token of an ID list, atom or quoted string; advances *pp. */
static size_t id_token(const char **pp, char *out, size_t size)
{
    const char *p = *pp;
    size_t n = 0;

    while (*p == ' ' || *p == '(')
        p++;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (n + 1 < size)
                out[n++] = *p;
        }
        if (*p == '"')
            p++;
    } else {
        for (; *p && *p != ' ' && *p != ')' && *p != '('; p++)
            if (n + 1 < size)
                out[n++] = *p;
    }
    out[n] = '\0';
    *pp = p;
    return n;
}

/* The client's name and version from an ID command's arguments. */
static char *id_client(struct rpt *r, const char *args)
{
    char key[64], val[128], name[128] = "", version[128] = "";
    const char *p = args;
    int guard = 0;

    if (args == NULL)
        return NULL;
    while (*p && guard++ < 64) {
        if (id_token(&p, key, sizeof(key)) == 0 && *p != '\0' && *p != ' ' && *p != '(') {
            if (*p == ')')
                break;
            p++;
            continue;
        }
        id_token(&p, val, sizeof(val));
        if (strcasecmp(key, "name") == 0 && strcmp(val, "NIL") != 0)
            snprintf(name, sizeof(name), "%s", val);
        else if (strcasecmp(key, "version") == 0 && strcmp(val, "NIL") != 0)
            snprintf(version, sizeof(version), "%s", val);
        while (*p == ' ')
            p++;
        if (*p == ')')
            break;
    }
    if (name[0] == '\0')
        return NULL;
    return str_printf(r, "%s%s%s", name, version[0] ? " " : "", version);
}

/* The capability a client command shows it uses, if any. */
static void client_uses(struct rpt *r, struct sess *s, const char *cmd, const char *args,
                        const json_t *ev)
{
    static const struct {
        const char *cmd, *cap;
    } map[] = {
        {"IDLE", "IDLE"},
        {"MOVE", "MOVE"},
        {"UID MOVE", "MOVE"},
        {"ENABLE", "ENABLE"},
        {"ID", "ID"},
        {"NAMESPACE", "NAMESPACE"},
        {"UNSELECT", "UNSELECT"},
        {"SORT", "SORT"},
        {"UID SORT", "SORT"},
        {"UID EXPUNGE", "UIDPLUS"},
        {"STARTTLS", "STARTTLS"},
        {"GETQUOTA", "QUOTA"},
        {"GETQUOTAROOT", "QUOTA"},
        {"SETQUOTA", "QUOTA"},
        {"GETACL", "ACL"},
        {"SETACL", "ACL"},
        {"MYRIGHTS", "ACL"},
        {"LISTRIGHTS", "ACL"},
        {"DELETEACL", "ACL"},
        {"GETMETADATA", "METADATA"},
        {"SETMETADATA", "METADATA"},
        {"XLIST", "XLIST"},
        {"REPLACE", "REPLACE"},
        {"UID REPLACE", "REPLACE"},
        {"NOTIFY", "NOTIFY"},
        {"LANGUAGE", "LANGUAGE"},
        {"UNAUTHENTICATE", "UNAUTHENTICATE"},
    };
    char tok[64], cap[96];
    const char *p;
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(cmd, map[i].cmd) == 0)
            strv_add(r, &s->cli_used, map[i].cap);
    if (strcmp(cmd, "LOGIN") == 0)
        strv_add(r, &s->cli_used, "LOGIN");
    if (args && (strcmp(cmd, "THREAD") == 0 || strcmp(cmd, "UID THREAD") == 0 ||
                 strcmp(cmd, "COMPRESS") == 0 || strcmp(cmd, "AUTHENTICATE") == 0)) {
        p = args;
        if (id_token(&p, tok, sizeof(tok)) > 0) {
            const char *pre =
                strcmp(cmd, "AUTHENTICATE") == 0 ? "AUTH" : cmd + (cmd[0] == 'U' ? 4 : 0);
            snprintf(cap, sizeof(cap), "%s=%s", pre, tok);
            for (i = 0; cap[i]; i++)
                if (cap[i] >= 'a' && cap[i] <= 'z')
                    cap[i] = (char)(cap[i] - 'a' + 'A');
            strv_add(r, &s->cli_used, cap);
            while (*p == ' ')
                p++;
            if (strcmp(cmd, "AUTHENTICATE") == 0 && *p != '\0')
                strv_add(r, &s->cli_used, "SASL-IR");
        }
    }
    if (args && strcmp(cmd, "ENABLE") == 0) {
        p = args;
        while (id_token(&p, tok, sizeof(tok)) > 0)
            strv_add(r, &s->cli_used, tok);
    }
    if (args && (strstr(args, "CHANGEDSINCE") || strstr(args, "changedsince") ||
                 strstr(args, "CONDSTORE") || strstr(args, "MODSEQ")))
        strv_add(r, &s->cli_used, "CONDSTORE");
    if (args && (strstr(args, "QRESYNC") || strstr(args, "VANISHED")) && strcmp(cmd, "ENABLE") != 0)
        strv_add(r, &s->cli_used, "QRESYNC");
    if (args && strstr(args, "RETURN (") &&
        (strstr(cmd, "SEARCH") != NULL || strstr(cmd, "SORT") != NULL))
        strv_add(r, &s->cli_used, "ESEARCH");
    if (args && strstr(args, "RETURN (") && strcmp(cmd, "LIST") == 0)
        strv_add(r, &s->cli_used, "LIST-EXTENDED");
    if (json_is_true(json_object_get(ev, "nonsync")))
        strv_add(r, &s->cli_used, "LITERAL+");
    if (json_is_true(json_object_get(ev, "literal8")))
        strv_add(r, &s->cli_used, "BINARY");
}

static void on_command(struct rpt *r, struct sess *s, const json_t *ev, int64_t ts)
{
    const char *cmd = ev_str(ev, "cmd"), *mbox;
    struct item p;
    uint64_t abs;

    s->ncmd++;
    r->ncommands++;
    sess_count_cmd(r, s, cmd ? cmd : "(unknown)");
    if (cmd) {
        if (strcmp(cmd, "LOGOUT") == 0)
            s->logout = 1; /* the BYE that follows is no warning */
        client_uses(r, s, cmd, ev_str(ev, "args"), ev);
        if (strcmp(cmd, "ID") == 0)
            set_str(&s->client, id_client(r, ev_str(ev, "args")));
    }
    mbox = ev_str(ev, "mailbox_utf8") ? ev_str(ev, "mailbox_utf8") : ev_str(ev, "mailbox");
    if (mbox && (s->mailboxes == NULL || strlen(s->mailboxes) < RPT_MAILBOXES_MAX) &&
        (s->mailboxes == NULL || strstr(s->mailboxes, mbox) == NULL)) {
        char *m = str_printf(r, "%s%s%.100s", s->mailboxes ? s->mailboxes : "",
                             s->mailboxes ? " " : "", mbox);
        set_str(&s->mailboxes, m);
    }
    item_proto(&p, IT_CMD, LANE_CLIENT, ev, ts, s);
    if (json_is_true(json_object_get(ev, "held")))
        p.flags |= IF_HELD;
    p.s[0] = ev_dup(r, ev, "tag");
    p.s[1] = ev_dup(r, ev, "cmd");
    p.s[2] = ev_dup(r, ev, "args");
    if (json_is_true(json_object_get(ev, "aborted")))
        p.s[3] = str_dup(r, "literal refused by the server");
    add_item(r, s, &p, &abs);
    pend_add(r, s, ev_str(ev, "tag"), abs);
}

static void on_tagged(struct rpt *r, struct sess *s, const json_t *ev, int64_t ts)
{
    const char *cmd = ev_str(ev, "cmd"), *tag = ev_str(ev, "tag");
    const char *st = ev_str(ev, "status");
    int sf = status_flag(st);
    double ms = ev_num(ev, "ms", -1);
    struct item *it = NULL;
    uint64_t abs;
    char *text = resp_text(r, ev);

    if (json_is_array(json_object_get(ev, "caps"))) {
        strv_free(&s->srv_last);
        strv_add_json(r, &s->srv_last, json_object_get(ev, "caps"));
        strv_add_json(r, &s->srv_all, json_object_get(ev, "caps"));
    }
    strv_add_json(r, &s->srv_removed, json_object_get(ev, "caps_removed"));
    set_str(&s->state, ev_dup(r, ev, "state"));
    if (ms >= 0) {
        cmdstat_add(r, cmd, ms, sf);
        if (ms > s->slowest_ms) {
            s->slowest_ms = ms;
            set_str(&s->slowest_cmd, str_dup(r, cmd ? cmd : "?"));
        }
    }
    if (sf == IF_NO || sf == IF_BAD) {
        char kind[160], sum[RPT_STR_MAX];
        s->nno += sf == IF_NO;
        s->nbad += sf == IF_BAD;
        snprintf(kind, sizeof(kind), "%.60s %s%s%.60s%s", cmd ? cmd : "?", st,
                 ev_str(ev, "code") ? " [" : "", ev_str(ev, "code") ? ev_str(ev, "code") : "",
                 ev_str(ev, "code") ? "]" : "");
        snprintf(sum, sizeof(sum), "%.60s %s %.300s", cmd ? cmd : "?", st, text ? text : "");
        sess_error(r, s, st, kind, sum); /* may give the session its timeline */
    }
    if (pend_take(s, tag, &abs))
        it = sess_item(s, abs);
    if ((sf == IF_NO || sf == IF_BAD) && it == NULL) {
        {
            /* the command was not kept: keep its failure */
            struct item p;
            item_proto(&p, IT_CMD, LANE_CLIENT, ev, ms >= 0 ? ts - (int64_t)(ms * 1000) : ts, s);
            p.flags = IF_ERROR;
            p.s[0] = ev_dup(r, ev, "tag");
            p.s[1] = ev_dup(r, ev, "cmd");
            it = add_item(r, s, &p, NULL);
        }
    }
    if (it != NULL && it->type == IT_CMD) {
        it->t1 = ts;
        it->o1 = s->nev;
        it->ms = ms;
        it->flags |= (unsigned char)sf;
        if (sf == IF_NO || sf == IF_BAD)
            it->flags |= IF_ERROR;
        if (json_is_true(json_object_get(ev, "local")))
            it->flags |= IF_LOCAL;
        if (text) {
            free(it->s[3]);
            it->s[3] = text;
            text = NULL;
        }
    }
    free(text);
}

/* A one-line summary of an untagged response for its tooltip. */
static char *untagged_summary(struct rpt *r, const json_t *ev)
{
    char buf[RPT_STR_MAX * 2], t[RPT_STR_MAX];
    size_t len = 0;
    const json_t *f = json_object_get(ev, "fetch"), *x;
    char *rt;

    buf[0] = '\0';
    if (json_is_integer(json_object_get(ev, "n"))) {
        snprintf(t, sizeof(t), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(ev, "n")));
        len = buf_add(buf, len, sizeof(buf), " ", t);
    }
    len = buf_add(buf, len, sizeof(buf), " ", ev_str(ev, "name"));
    rt = resp_text(r, ev);
    len = buf_add(buf, len, sizeof(buf), " ", rt);
    free(rt);
    if (json_is_object(f)) {
        const json_t *env = json_object_get(f, "envelope");
        if (json_is_integer(json_object_get(f, "uid"))) {
            snprintf(t, sizeof(t), "UID %" JSON_INTEGER_FORMAT,
                     json_integer_value(json_object_get(f, "uid")));
            len = buf_add(buf, len, sizeof(buf), " ", t);
        }
        x = json_object_get(f, "flags");
        if (json_is_array(x)) {
            char fl[200];
            size_t i, fln = 0;
            fl[0] = '\0';
            for (i = 0; i < json_array_size(x); i++)
                fln = buf_add(fl, fln, sizeof(fl), " ", json_string_value(json_array_get(x, i)));
            snprintf(t, sizeof(t), "FLAGS (%s)", fl);
            len = buf_add(buf, len, sizeof(buf), " ", t);
        }
        if (json_is_integer(json_object_get(f, "size"))) {
            snprintf(t, sizeof(t), "size %" JSON_INTEGER_FORMAT,
                     json_integer_value(json_object_get(f, "size")));
            len = buf_add(buf, len, sizeof(buf), " ", t);
        }
        x = json_object_get(f, "parts");
        if (json_array_size(x) > 0) {
            size_t i;
            for (i = 0; i < json_array_size(x) && i < 4; i++) {
                const json_t *pt = json_array_get(x, i);
                snprintf(t, sizeof(t), "%.80s {%" JSON_INTEGER_FORMAT "}",
                         json_string_value(json_object_get(pt, "section"))
                             ? json_string_value(json_object_get(pt, "section"))
                             : "part",
                         json_integer_value(json_object_get(pt, "size")));
                len = buf_add(buf, len, sizeof(buf), " ", t);
            }
        }
        if (json_is_object(env) && json_string_value(json_object_get(env, "subject"))) {
            snprintf(t, sizeof(t), "\"%.120s\"",
                     json_string_value(json_object_get(env, "subject")));
            len = buf_add(buf, len, sizeof(buf), " ", t);
        }
    }
    x = json_object_get(ev, "list");
    if (json_is_object(x)) {
        const char *nm = json_string_value(json_object_get(x, "name_utf8"));
        if (nm == NULL)
            nm = json_string_value(json_object_get(x, "name"));
        len = buf_add(buf, len, sizeof(buf), " ", nm);
    }
    x = json_object_get(ev, "mbox_status");
    if (json_is_object(x)) {
        const char *k;
        json_t *val;
        len = buf_add(buf, len, sizeof(buf), " ", json_string_value(json_object_get(x, "mailbox")));
        json_object_foreach(json_object_get(x, "items"), k, val)
        {
            snprintf(t, sizeof(t), "%.40s %" JSON_INTEGER_FORMAT, k, json_integer_value(val));
            len = buf_add(buf, len, sizeof(buf), " ", t);
        }
    }
    x = json_object_get(ev, "search");
    if (json_is_object(x)) {
        snprintf(t, sizeof(t), "%" JSON_INTEGER_FORMAT " results",
                 json_integer_value(json_object_get(x, "count")));
        len = buf_add(buf, len, sizeof(buf), " ", t);
    }
    x = json_object_get(ev, "vanished");
    if (json_is_object(x)) {
        snprintf(t, sizeof(t), "%s%.200s",
                 json_is_true(json_object_get(x, "earlier")) ? "(EARLIER) " : "",
                 json_string_value(json_object_get(x, "uids"))
                     ? json_string_value(json_object_get(x, "uids"))
                     : "");
        len = buf_add(buf, len, sizeof(buf), " ", t);
    }
    x = json_object_get(ev, "caps");
    if (json_is_array(x) && ev_str(ev, "code") == NULL) {
        char cl[RPT_STR_MAX];
        size_t i, cln = 0;
        cl[0] = '\0';
        for (i = 0; i < json_array_size(x); i++)
            cln = buf_add(cl, cln, sizeof(cl), " ", json_string_value(json_array_get(x, i)));
        len = buf_add(buf, len, sizeof(buf), " ", cl);
    }
    x = json_object_get(ev, "id");
    if (json_is_object(x)) {
        len = buf_add(buf, len, sizeof(buf), " ", json_string_value(json_object_get(x, "name")));
        len = buf_add(buf, len, sizeof(buf), " ", json_string_value(json_object_get(x, "version")));
    }
    if (json_is_true(json_object_get(ev, "greeting")))
        len = buf_add(buf, len, sizeof(buf), " ", "(greeting)");
    return str_dup(r, buf);
}

static void on_untagged(struct rpt *r, struct sess *s, const json_t *ev, int64_t ts)
{
    const char *name = ev_str(ev, "name");
    const json_t *caps = json_object_get(ev, "caps");
    struct item p;

    if (name == NULL)
        name = "?";
    if (json_is_array(caps)) {
        if (strcmp(name, "ENABLED") == 0) {
            strv_add_json(r, &s->cli_used, caps);
        } else {
            strv_free(&s->srv_last);
            strv_add_json(r, &s->srv_last, caps);
            strv_add_json(r, &s->srv_all, caps);
        }
    }
    strv_add_json(r, &s->srv_removed, json_object_get(ev, "caps_removed"));
    if (strcmp(name, "ID") == 0 && json_is_object(json_object_get(ev, "id"))) {
        const json_t *id = json_object_get(ev, "id");
        const char *n = json_string_value(json_object_get(id, "name"));
        const char *v = json_string_value(json_object_get(id, "version"));
        if (n)
            set_str(&s->server_id, str_printf(r, "%s%s%s", n, v ? " " : "", v ? v : ""));
    }
    item_proto(&p, IT_UNT, LANE_SERVER, ev, ts, s);
    if (s->idle_abs >= 0)
        p.flags |= IF_NOTIFY;
    if (json_is_true(json_object_get(ev, "held")))
        p.flags |= IF_HELD;
    if (json_is_true(json_object_get(ev, "swallowed")))
        p.flags |= IF_LOCAL;
    if (strcmp(name, "BAD") == 0) {
        char sum[RPT_STR_MAX];
        char *t = resp_text(r, ev);
        p.flags |= IF_ERROR;
        snprintf(sum, sizeof(sum), "* BAD %.300s", t ? t : "");
        free(t);
        sess_error(r, s, "BAD", "untagged BAD", sum);
    } else if (strcmp(name, "NO") == 0 || (strcmp(name, "BYE") == 0 && !s->logout)) {
        p.flags |= IF_WARN;
        s->nwarn++;
        if (ev_str(ev, "code") && strcmp(ev_str(ev, "code"), "ALERT") == 0)
            issue_add(r, s, "ALERT", ev_str(ev, "text"));
    }
    p.s[0] = str_dup(r, name);
    p.s[1] = untagged_summary(r, ev);
    add_item(r, s, &p, NULL);
}

static void on_problem(struct rpt *r, struct sess *s, const json_t *ev, int64_t ts,
                       const char *evname)
{
    struct item p;
    char kind[200], detail[RPT_STR_MAX * 2], sum[RPT_STR_MAX * 2];
    const char *k;
    int lane = lane_of(ev);
    const char *dir = ev_str(ev, "dir");

    detail[0] = '\0';
    if (strcmp(evname, "parse_error") == 0) {
        k = ev_str(ev, "reason");
        snprintf(detail, sizeof(detail), "%s%.300s%s%s%s%s", ev_str(ev, "excerpt") ? "\"" : "",
                 ev_str(ev, "excerpt") ? ev_str(ev, "excerpt") : "",
                 ev_str(ev, "excerpt") ? "\"" : "", ev_str(ev, "resync") ? " (resync: " : "",
                 ev_str(ev, "resync") ? ev_str(ev, "resync") : "", ev_str(ev, "resync") ? ")" : "");
    } else if (strcmp(evname, "anomaly") == 0) {
        k = ev_str(ev, "kind");
        snprintf(detail, sizeof(detail), "%.300s%s%.60s",
                 ev_str(ev, "text") ? ev_str(ev, "text") : "", ev_str(ev, "tag") ? " tag " : "",
                 ev_str(ev, "tag") ? ev_str(ev, "tag") : "");
    } else {
        k = ev_str(ev, "what");
        snprintf(detail, sizeof(detail), "%" PRId64 " over the limit of %" PRId64,
                 ev_int(ev, "value", 0), ev_int(ev, "max", 0));
    }
    snprintf(kind, sizeof(kind), "%s%s%.100s", evname, k ? " " : "", k ? k : "");
    snprintf(sum, sizeof(sum), "%s%s%s%s %.200s", kind, dir ? " (" : "", dir ? dir : "",
             dir ? ")" : "", detail);
    sess_error(r, s, evname, k ? k : "-", sum);
    item_proto(&p, IT_ERR, lane, ev, ts, s);
    p.flags = IF_ERROR;
    p.s[0] = str_dup(r, kind);
    p.s[1] = str_dup(r, detail);
    add_item(r, s, &p, NULL);
}

static void add_mark(struct rpt *r, struct sess *s, const json_t *ev, int64_t ts, int lane,
                     int flags, char *label, char *detail)
{
    struct item p;

    item_proto(&p, IT_MARK, lane, ev, ts, s);
    p.flags = (unsigned char)flags;
    p.s[0] = label;
    p.s[1] = detail;
    add_item(r, s, &p, NULL);
}

static void on_idle(struct rpt *r, struct sess *s, const json_t *ev, int64_t ts)
{
    const char *state = ev_str(ev, "state");
    struct item p, *it;
    uint64_t abs;

    if (state && strcmp(state, "start") == 0) {
        s->nidle++;
        item_proto(&p, IT_IDLE, LANE_SERVER, ev, ts, s);
        p.s[0] = ev_dup(r, ev, "tag");
        if (add_item(r, s, &p, &abs) != NULL)
            s->idle_abs = (int64_t)abs;
    } else if (state && strcmp(state, "done") == 0) {
        it = s->idle_abs >= 0 ? sess_item(s, (uint64_t)s->idle_abs) : NULL;
        if (it && it->type == IT_IDLE) {
            it->t1 = ts;
            it->o1 = s->nev;
            it->ms = ev_num(ev, "ms", -1);
        }
        s->idle_abs = -1;
    }
}

static void on_keepalive(struct rpt *r, struct sess *s, const json_t *ev, int64_t ts)
{
    const char *state = ev_str(ev, "state");
    struct item p, *it;
    uint64_t abs;

    if (state == NULL)
        return;
    if (strcmp(state, "sent") == 0 || strcmp(state, "idle_start") == 0) {
        s->nka++;
        item_proto(&p, IT_KA, LANE_PROXY, ev, ts, s);
        p.s[0] = ev_dup(r, ev, "tag");
        p.s[1] = ev_dup(r, ev, "cmd");
        if (p.s[1] == NULL && strcmp(state, "idle_start") == 0)
            p.s[1] = str_dup(r, "IDLE");
        if (add_item(r, s, &p, &abs) != NULL)
            s->ka_abs = (int64_t)abs;
        return;
    }
    if (strcmp(state, "released") == 0) {
        add_mark(r, s, ev, ts, LANE_PROXY, 0, str_dup(r, "held responses released"),
                 str_printf(r, "%" PRId64 " responses", ev_int(ev, "held", 0)));
        return;
    }
    if (strcmp(state, "no") == 0 || strcmp(state, "bad") == 0) {
        char sum[160];
        snprintf(sum, sizeof(sum), "keepalive %s", state);
        sess_error(r, s, "keepalive", state, sum);
    }
    it = s->ka_abs >= 0 ? sess_item(s, (uint64_t)s->ka_abs) : NULL;
    if (it && it->type == IT_KA) {
        it->t1 = ts;
        it->o1 = s->nev;
        it->ms = ev_num(ev, "ms", -1);
        it->flags |=
            (unsigned char)(strcmp(state, "no") == 0 || strcmp(state, "bad") == 0 ? IF_ERROR : 0);
        free(it->s[2]);
        it->s[2] = str_printf(r, "%s%s%" PRId64 " held", state, ", ", ev_int(ev, "held", 0));
    }
    s->ka_abs = -1;
}

static void on_close(struct rpt *r, struct sess *s, const json_t *ev, int64_t ts)
{
    const json_t *b = json_object_get(ev, "bytes");
    const char *reason = ev_str(ev, "reason");
    char detail[RPT_STR_MAX];

    s->closed = 1;
    set_str(&s->reason, ev_dup(r, ev, "reason"));
    set_str(&s->user, ev_dup(r, ev, "user"));
    s->duration_ms = ev_num(ev, "duration_ms", -1);
    if (json_is_object(b)) {
        s->bytes_c2s = ev_int(b, "c2s", -1);
        s->bytes_s2c = ev_int(b, "s2c", -1);
    }
    if (reason && (strncmp(reason, "error", 5) == 0 || strcmp(reason, "timeout") == 0)) {
        char sum[RPT_STR_MAX];
        snprintf(sum, sizeof(sum), "closed: %.300s", reason);
        sess_error(r, s, "close", reason, sum);
    }
    if (ev_int(ev, "dropped", 0) > 0) {
        char sum[160];
        snprintf(sum, sizeof(sum), "%" PRId64 " log lines dropped", ev_int(ev, "dropped", 0));
        sess_error(r, s, "log", "lines dropped", sum);
    }
    snprintf(detail, sizeof(detail), "%.300s", reason ? reason : "");
    add_mark(r, s, ev, ts, LANE_PROXY, (reason && strcmp(reason, "logout") != 0) ? IF_WARN : 0,
             str_dup(r, "session_close"), str_dup(r, detail));
    sess_finalize(r, s);
}

/* A string that holds NUL octets (\u0000 in the log) as one whose NULs are
 * U+2400, so that C string functions see all of it. */
static json_t *nul_visible(const json_t *v)
{
    const char *p = json_string_value(v);
    size_t n = json_string_length(v), i, o = 0;
    char *buf;
    json_t *nv;

    buf = malloc(n * 3 + 1);
    if (buf == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (p[i] == '\0') {
            memcpy(buf + o, "\xe2\x90\x80", 3);
            o += 3;
        } else {
            buf[o++] = p[i];
        }
    }
    nv = json_stringn(buf, o);
    free(buf);
    return nv;
}

/* Makes every string of the event NUL-free (the logger escapes NUL octets of
 * excerpts and texts as \u0000); depth-bounded like the log itself. */
static void event_unnul(json_t *v, int depth)
{
    size_t i;
    const char *k;
    json_t *m;
    void *tmp;

    if (depth > 8)
        return;
    if (json_is_object(v)) {
        json_object_foreach_safe(v, tmp, k, m)
        {
            if (json_is_string(m) && strlen(json_string_value(m)) != json_string_length(m)) {
                json_t *nv = nul_visible(m);
                if (nv != NULL)
                    json_object_set_new(v, k, nv);
            } else if (json_is_object(m) || json_is_array(m)) {
                event_unnul(m, depth + 1);
            }
        }
    } else if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++) {
            m = json_array_get(v, i);
            if (json_is_string(m) && strlen(json_string_value(m)) != json_string_length(m)) {
                json_t *nv = nul_visible(m);
                if (nv != NULL)
                    json_array_set_new(v, i, nv);
            } else if (json_is_object(m) || json_is_array(m)) {
                event_unnul(m, depth + 1);
            }
        }
    }
}

static void on_event(struct rpt *r, json_t *ev)
{
    const char *sid = ev_str(ev, "sid"), *evn = ev_str(ev, "ev");
    int64_t ts = ev_ts_us(ev);
    struct sess *s;

    if (ev_int(ev, "v", 0) != 1 || sid == NULL || evn == NULL || ts < 0) {
        r->nskipped++;
        return;
    }
    r->nevents++;
    event_unnul(ev, 0);
    if (r->first_us == 0 || ts < r->first_us)
        r->first_us = ts;
    if (ts > r->last_us)
        r->last_us = ts;
    s = sess_find(r, sid);
    if (s == NULL || (s->finalized && strcmp(evn, "session_open") == 0)) {
        if (s != NULL)
            sess_unhash(r, s); /* the sid again: a new session */
        s = sess_new(r, sid, ts);
        if (s == NULL)
            return;
    }
    if (ts < s->first_us)
        s->first_us = ts;
    if (ts > s->last_us)
        s->last_us = ts;

    if (strcmp(evn, "command") == 0) {
        on_command(r, s, ev, ts);
    } else if (strcmp(evn, "tagged") == 0) {
        on_tagged(r, s, ev, ts);
    } else if (strcmp(evn, "untagged") == 0) {
        on_untagged(r, s, ev, ts);
    } else if (strcmp(evn, "idle") == 0) {
        on_idle(r, s, ev, ts);
    } else if (strcmp(evn, "keepalive") == 0) {
        on_keepalive(r, s, ev, ts);
    } else if (strcmp(evn, "parse_error") == 0 || strcmp(evn, "anomaly") == 0 ||
               strcmp(evn, "limit") == 0) {
        on_problem(r, s, ev, ts, evn);
    } else if (strcmp(evn, "session_open") == 0) {
        const json_t *c = json_object_get(ev, "client"), *u = json_object_get(ev, "upstream");
        if (json_is_object(c) && ev_str(c, "addr"))
            set_str(&s->addr,
                    str_printf(r, "%s:%" PRId64, ev_str(c, "addr"), ev_int(c, "port", 0)));
        if (json_is_object(u) && ev_str(u, "host"))
            set_str(&s->upstream,
                    str_printf(r, "%s:%" PRId64, ev_str(u, "host"), ev_int(u, "port", 0)));
        set_str(&s->listener, ev_dup(r, ev, "listener"));
        add_mark(
            r, s, ev, ts, LANE_PROXY, 0, str_dup(r, "session_open"),
            str_printf(r, "%s -> %s", s->addr ? s->addr : "?", s->upstream ? s->upstream : "?"));
    } else if (strcmp(evn, "tls") == 0) {
        const char *leg = ev_str(ev, "leg");
        char *d = str_printf(
            r, "%s leg: %s %s%s%s%s", leg ? leg : "?",
            ev_str(ev, "version") ? ev_str(ev, "version") : "",
            ev_str(ev, "cipher") ? ev_str(ev, "cipher") : "", ev_str(ev, "sni") ? ", SNI " : "",
            ev_str(ev, "sni") ? ev_str(ev, "sni") : "",
            json_is_false(json_object_get(ev, "verified")) ? ", NOT verified" : "");
        if (leg && strcmp(leg, "server") == 0)
            set_str(&s->tls_server, ev_dup(r, ev, "version"));
        else
            set_str(&s->tls_client, ev_dup(r, ev, "version"));
        add_mark(r, s, ev, ts, leg && strcmp(leg, "server") == 0 ? LANE_SERVER : LANE_CLIENT,
                 json_is_false(json_object_get(ev, "verified")) ? IF_WARN : 0, str_dup(r, "TLS"),
                 d);
    } else if (strcmp(evn, "starttls") == 0) {
        const char *st = ev_str(ev, "state");
        int bad = st && strcmp(st, "failed") == 0;
        if (bad)
            sess_error(r, s, "starttls", "failed", "STARTTLS failed");
        add_mark(r, s, ev, ts, lane_of(ev), bad ? IF_ERROR : 0, str_dup(r, "STARTTLS"),
                 str_printf(r, "%s leg %s%s%.200s", ev_str(ev, "leg") ? ev_str(ev, "leg") : "?",
                            st ? st : "", ev_str(ev, "text") ? ": " : "",
                            ev_str(ev, "text") ? ev_str(ev, "text") : ""));
    } else if (strcmp(evn, "auth") == 0) {
        const char *st = ev_str(ev, "status"), *mech = ev_str(ev, "mech");
        if (ev_str(ev, "user") && (s->user == NULL || (st && strcmp(st, "OK") == 0)))
            set_str(&s->user, ev_dup(r, ev, "user"));
        if (mech) {
            char cap[96];
            snprintf(cap, sizeof(cap), "AUTH=%.80s", mech);
            strv_add(r, &s->cli_used, cap);
        }
        add_mark(
            r, s, ev, ts, LANE_PROXY, st && strcmp(st, "OK") != 0 ? IF_WARN : 0, str_dup(r, "auth"),
            str_printf(r, "%s%s%s user %s: %s", ev_str(ev, "method") ? ev_str(ev, "method") : "",
                       mech ? " " : "", mech ? mech : "",
                       ev_str(ev, "user") ? ev_str(ev, "user") : "?", st ? st : "pending"));
    } else if (strcmp(evn, "continue") == 0) {
        const char *f = ev_str(ev, "for");
        add_mark(r, s, ev, ts, LANE_SERVER, 0, str_dup(r, "+"),
                 str_printf(r, "continuation%s%s%s%.200s", f ? " for " : "", f ? f : "",
                            ev_str(ev, "text") ? ": " : "",
                            ev_str(ev, "text") ? ev_str(ev, "text") : ""));
    } else if (strcmp(evn, "client_line") == 0) {
        add_mark(r, s, ev, ts, LANE_CLIENT, 0, str_dup(r, "line"),
                 str_printf(r, "%s, %" PRId64 " octets%s",
                            ev_str(ev, "kind") ? ev_str(ev, "kind") : "data", ev_int(ev, "len", 0),
                            json_is_true(json_object_get(ev, "cancel")) ? " (cancel)" : ""));
    } else if (strcmp(evn, "session_close") == 0) {
        on_close(r, s, ev, ts);
    }
    s->nev++;
    if (s->finalized && !s->listed) {
        sess_unhash(r, s);
        sess_free(s);
    }
}

/* ---- output ---- */

struct out {
    FILE *f;
};

static void out_s(struct out *o, const char *s)
{
    fputs(s, o->f);
}

static void out_f(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_f(struct out *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(o->f, fmt, ap);
    va_end(ap);
}

/* A JSON string that is safe inside <script>: "<", ">", "&" and the line
 * separators escaped too.  NULL is null. */
static void json_str(struct out *o, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (s == NULL) {
        out_s(o, "null");
        return;
    }
    putc('"', o->f);
    for (; *p; p++) {
        switch (*p) {
        case '"':
            out_s(o, "\\\"");
            break;
        case '\\':
            out_s(o, "\\\\");
            break;
        case '\n':
            out_s(o, "\\n");
            break;
        case '\r':
            out_s(o, "\\r");
            break;
        case '\t':
            out_s(o, "\\t");
            break;
        case '<':
        case '>':
        case '&':
            out_f(o, "\\u%04x", *p);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                out_f(o, "\\u%04x", *p);
            } else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
                out_f(o, "\\u%04x", p[2] == 0xa8 ? 0x2028 : 0x2029);
                p += 2;
            } else {
                putc(*p, o->f);
            }
        }
    }
    putc('"', o->f);
}

/* A number with at most 3 decimals and no trailing zeros. */
static void json_num(struct out *o, double v)
{
    char buf[64];
    size_t n;

    if (!isfinite(v)) {
        out_s(o, "null");
        return;
    }
    snprintf(buf, sizeof(buf), "%.3f", v);
    n = strlen(buf);
    while (n > 0 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = '\0';
    if (strcmp(buf, "-0") == 0)
        strcpy(buf, "0");
    out_s(o, buf);
}

static void json_int(struct out *o, int64_t v)
{
    out_f(o, "%" PRId64, v);
}

static void json_capset(struct out *o, const char *key)
{
    const char *p = key, *e;

    out_s(o, "[");
    while ((e = strchr(p, '\x1f')) != NULL) {
        char buf[RPT_STR_MAX * 3 + 4];
        size_t l = (size_t)(e - p);
        if (l >= sizeof(buf))
            l = sizeof(buf) - 1;
        memcpy(buf, p, l);
        buf[l] = '\0';
        json_str(o, buf);
        p = e + 1;
        if (strchr(p, '\x1f'))
            out_s(o, ",");
    }
    out_s(o, "]");
}

static void iso_time(char *buf, size_t size, int64_t us)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;

    if (us <= 0 || gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, size, "%s", "");
        return;
    }
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *const session_cols[] = {
    "sid",      "start",      "dur",      "user",     "client",   "addr",      "reason",  "cmds",
    "errors",   "warns",      "no",       "bad",      "events",   "c2s",       "s2c",     "tl",
    "tlstate",  "issue",      "slowest",  "slowcmd",  "caps_all", "caps_last", "caps_rm", "used",
    "cmdcount", "mailboxes",  "listener", "upstream", "server",   "tls_c",     "tls_s",   "state",
    "idles",    "keepalives", "omitted",  "from_seq",
};

/* The first event of a timeline that began late, else -1. */
static int64_t sess_from_seq(const struct sess *s)
{
    if (s->tl != TL_KEPT || !s->partial)
        return -1;
    return s->nitems > 0 ? s->items[0].seq : 0;
}

static void write_session_row(struct out *o, const struct sess *s, long tl)
{
    static const char *const tlstate[] = {"none", "kept", "noroom", "dropped", "unlisted"};
    double dur = s->duration_ms >= 0 ? s->duration_ms : (double)(s->last_us - s->first_us) / 1000.0;
    char cc[RPT_SESS_CMDS * 40 + 32];
    size_t len = 0;
    uint32_t i;

    out_s(o, "[");
    json_str(o, s->sid);
    out_s(o, ",");
    json_num(o, (double)s->first_us / 1000.0);
    out_s(o, ",");
    json_num(o, dur);
    out_s(o, ",");
    json_str(o, s->user);
    out_s(o, ",");
    json_str(o, s->client);
    out_s(o, ",");
    json_str(o, s->addr);
    out_s(o, ",");
    json_str(o, s->reason);
    out_f(o, ",%u,%u,%u,%u,%u,%u,", s->ncmd, s->nerr, s->nwarn, s->nno, s->nbad, s->nev);
    json_int(o, s->bytes_c2s);
    out_s(o, ",");
    json_int(o, s->bytes_s2c);
    out_f(o, ",%ld,", tl);
    json_str(o, tlstate[s->tl]);
    out_s(o, ",");
    json_str(o, s->issue);
    out_s(o, ",");
    json_num(o, s->slowest_ms);
    out_s(o, ",");
    json_str(o, s->slowest_cmd);
    out_f(o, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",", s->capset[0], s->capset[1],
          s->capset[2], s->capset[3]);
    cc[0] = '\0';
    for (i = 0; i < s->ncmds; i++) {
        char one[RPT_STR_MAX + 16];
        snprintf(one, sizeof(one), "%s:%u", s->cmds[i].name, s->cmds[i].n);
        len = buf_add(cc, len, sizeof(cc), "\t", one);
    }
    if (s->other_cmds) {
        char one[48];
        snprintf(one, sizeof(one), "(other):%u", s->other_cmds);
        len = buf_add(cc, len, sizeof(cc), "\t", one);
    }
    json_str(o, cc);
    out_s(o, ",");
    json_str(o, s->mailboxes);
    out_s(o, ",");
    json_str(o, s->listener);
    out_s(o, ",");
    json_str(o, s->upstream);
    out_s(o, ",");
    json_str(o, s->server_id);
    out_s(o, ",");
    json_str(o, s->tls_client);
    out_s(o, ",");
    json_str(o, s->tls_server);
    out_s(o, ",");
    json_str(o, s->state);
    out_f(o, ",%u,%u,%" PRIu64 ",%" PRId64 "]", s->nidle, s->nka, s->omitted, sess_from_seq(s));
}

static void write_timeline(struct out *o, const struct sess *s, long idx)
{
    uint32_t i;
    int k;

    out_f(o, "<script type=\"application/json\" id=\"tl-%ld\">{\"sid\":", idx);
    json_str(o, s->sid);
    out_s(o, ",\"base\":");
    json_num(o, (double)s->first_us / 1000.0);
    out_f(o, ",\"omitted\":%" PRIu64 ",\"from_seq\":%" PRId64 ",\"items\":[\n", s->omitted,
          sess_from_seq(s));
    for (i = 0; i < s->nitems; i++) {
        const struct item *it = &s->items[i];
        out_f(o, "%s[\"%c\",%d,", i ? ",\n" : "", it->type, it->lane);
        json_num(o, (double)(it->t0 - s->first_us) / 1000.0);
        out_s(o, ",");
        if (it->t1 >= 0)
            json_num(o, (double)(it->t1 - s->first_us) / 1000.0);
        else
            out_s(o, "null");
        out_f(o, ",%u,%u,%d,", it->o0, it->o1, it->flags);
        if (it->ms >= 0)
            json_num(o, it->ms);
        else
            out_s(o, "null");
        out_f(o, ",%" PRId64, it->seq);
        for (k = 0; k < 4; k++) {
            out_s(o, ",");
            json_str(o, it->s[k]);
        }
        out_s(o, "]");
    }
    out_s(o, "]}</script>\n");
}

static void write_data(struct rpt *r, struct out *o, const char *generated)
{
    size_t i, j;
    long tl = 0;
    uint32_t k;
    char t0[40], t1[40];

    out_s(o, "<script type=\"application/json\" id=\"imaptap-data\">{\"format\":\"imaptap-report\","
             "\"v\":1,\"title\":");
    json_str(o, r->title);
    out_s(o, ",\"generated\":");
    json_str(o, generated);
    out_s(o, ",\"inputs\":[");
    for (i = 0; r->inputs[i]; i++) {
        out_s(o, i ? "," : "");
        json_str(o, strcmp(r->inputs[i], "-") == 0 ? "(stdin)" : r->inputs[i]);
    }
    if (i == 0)
        json_str(o, "(stdin)");
    out_f(o, "],\"limits\":{\"timelines\":%ld,\"events\":%ld,\"sessions\":%ld}", r->max_tl,
          r->max_ev, r->max_list);
    r->tl_noroom = r->tl_dropped = r->tl_partial = 0;
    for (i = 0; i < r->nlist; i++) {
        r->tl_noroom += r->list[i]->tl == TL_NOROOM;
        r->tl_dropped += r->list[i]->tl == TL_DROPPED;
        r->tl_partial += sess_from_seq(r->list[i]) >= 0;
    }
    iso_time(t0, sizeof(t0), r->first_us);
    iso_time(t1, sizeof(t1), r->last_us);
    out_f(o,
          ",\"totals\":{\"events\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"sessions\":%" PRIu64
          ",\"listed\":%zu,\"unlisted\":%" PRIu64 ",\"commands\":%" PRIu64 ",\"errors\":%" PRIu64
          ",\"error_sessions\":%" PRIu64 ",\"timelines\":%ld,\"tl_noroom\":%" PRIu64
          ",\"tl_dropped\":%" PRIu64 ",\"tl_partial\":%" PRIu64 ",\"ev_omitted\":%" PRIu64
          ",\"sess_omitted\":%" PRIu64 ",\"first\":",
          r->nevents, r->nskipped, r->nsess, r->nlist, r->nunlisted, r->ncommands, r->nerrors,
          r->nerr_sessions, r->tl_used, r->tl_noroom, r->tl_dropped, r->tl_partial, r->ev_omitted,
          r->sess_omitted);
    json_num(o, (double)r->first_us / 1000.0);
    out_s(o, ",\"last\":");
    json_num(o, (double)r->last_us / 1000.0);
    out_s(o, "},\n\"cols\":[");
    for (i = 0; i < sizeof(session_cols) / sizeof(session_cols[0]); i++) {
        out_s(o, i ? "," : "");
        json_str(o, session_cols[i]);
    }
    out_s(o, "],\n\"sessions\":[\n");
    for (i = 0; i < r->nlist; i++) {
        const struct sess *s = r->list[i];
        out_s(o, i ? ",\n" : "");
        write_session_row(o, s, s->tl == TL_KEPT ? tl++ : -1);
    }
    out_s(o, "],\n\"hist_edges\":[");
    for (i = 0; i < RPT_HIST_N - 1; i++) {
        out_s(o, i ? "," : "");
        json_num(o, hist_edges[i]);
    }
    out_s(o, "],\n\"commands\":[");
    for (i = 0; i < r->ncmds; i++) {
        struct cmdstat *c = &r->cmds[i];
        if (c->exact && c->nexact == c->n)
            qsort(c->exact, c->nexact, sizeof(double), cmp_double);
        out_s(o, i ? ",\n{\"cmd\":" : "\n{\"cmd\":");
        json_str(o, c->name);
        out_f(o, ",\"n\":%" PRIu64 ",\"no\":%" PRIu64 ",\"bad\":%" PRIu64 ",\"sum\":", c->n, c->no,
              c->bad);
        json_num(o, c->sum);
        out_s(o, ",\"max\":");
        json_num(o, c->max);
        out_s(o, ",\"p50\":");
        json_num(o, cmdstat_pct(c, 50));
        out_s(o, ",\"p90\":");
        json_num(o, cmdstat_pct(c, 90));
        out_s(o, ",\"p99\":");
        json_num(o, cmdstat_pct(c, 99));
        out_f(o, ",\"exact\":%s,\"h\":[", c->n == c->nexact ? "true" : "false");
        for (j = 0; j < RPT_HIST_N; j++)
            out_f(o, "%s%" PRIu64, j ? "," : "", c->hist[j]);
        out_s(o, "],\"he\":[");
        for (j = 0; j < RPT_HIST_N; j++)
            out_f(o, "%s%" PRIu64, j ? "," : "", c->hist_err[j]);
        out_s(o, "]}");
    }
    if (r->all.exact && r->all.nexact == r->all.n)
        qsort(r->all.exact, r->all.nexact, sizeof(double), cmp_double);
    out_f(o, "],\n\"all\":{\"n\":%" PRIu64 ",\"p50\":", r->all.n);
    json_num(o, r->all.n ? cmdstat_pct(&r->all, 50) : -1);
    out_s(o, ",\"p99\":");
    json_num(o, r->all.n ? cmdstat_pct(&r->all, 99) : -1);
    out_f(o, ",\"exact\":%s}", r->all.n == r->all.nexact ? "true" : "false");
    out_s(o, ",\n\"caps\":[");
    for (i = 0; i < r->ncaps; i++) {
        out_s(o, i ? ",\n[" : "\n[");
        json_str(o, r->caps[i].name);
        out_f(o, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", r->caps[i].adv, r->caps[i].removed,
              r->caps[i].used);
    }
    out_f(o, "],\"caps_other\":%" PRIu64 ",\n\"issues\":[", r->caps_other);
    for (i = 0; i < r->nissues; i++) {
        out_s(o, i ? ",\n[" : "\n[");
        json_str(o, r->issues[i].cat);
        out_s(o, ",");
        json_str(o, r->issues[i].kind);
        out_f(o, ",%" PRIu64 ",%" PRIu64 ",", r->issues[i].n, r->issues[i].sessions);
        json_str(o, r->issues[i].example);
        out_s(o, "]");
    }
    out_f(o, "],\"issues_other\":%" PRIu64 ",\n\"reasons\":[", r->issues_other);
    for (i = 0; i < r->nreasons; i++) {
        out_s(o, i ? ",[" : "[");
        json_str(o, r->reasons[i].name);
        out_f(o, ",%" PRIu64 "]", r->reasons[i].n);
    }
    out_s(o, "],\n\"capsets\":[");
    for (k = 0; k < r->nikeys; k++) {
        out_s(o, k ? "," : "");
        json_capset(o, r->ikeys[k]);
    }
    out_s(o, "]}</script>\n");
    tl = 0;
    for (i = 0; i < r->nlist; i++)
        if (r->list[i]->tl == TL_KEPT)
            write_timeline(o, r->list[i], tl++);
}

static void html_text(struct out *o, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            out_s(o, "&lt;");
            break;
        case '>':
            out_s(o, "&gt;");
            break;
        case '&':
            out_s(o, "&amp;");
            break;
        case '"':
            out_s(o, "&quot;");
            break;
        default:
            putc(*s, o->f);
        }
    }
}

static void out_lines(struct out *o, const char *const *lines)
{
    for (; *lines; lines++)
        out_s(o, *lines);
}

static void write_page(struct rpt *r, struct out *o)
{
    char generated[40];
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    int64_t now = (int64_t)time(NULL);

    if (sde && *sde)
        now = strtoll(sde, NULL, 10);
    iso_time(generated, sizeof(generated), now * 1000000);
    out_s(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
             "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
             "base-uri 'none'; form-action 'none'\">\n"
             "<meta name=\"referrer\" content=\"no-referrer\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             "<meta name=\"generator\" content=\"imaptap report\">\n"
             "<link rel=\"icon\" href=\"data:,\">\n<title>");
    html_text(o, r->title);
    out_f(o, " \xe2\x80\x94 %" PRIu64 " session%s</title>\n<style>\n", r->nsess,
          r->nsess == 1 ? "" : "s");
    out_lines(o, report_css);
    out_s(o, "</style>\n</head>\n<body>\n<noscript><p class=\"noscript\">This report is drawn "
             "by its inline script: allow JavaScript for this file to see it.</p></noscript>\n"
             "<div id=\"app\"></div>\n<div id=\"tip\" role=\"tooltip\" hidden></div>\n");
    write_data(r, o, generated);
    out_s(o, "<script>\n");
    out_lines(o, report_js);
    out_s(o, "</script>\n</body>\n</html>\n");
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: imaptap report [OPTIONS] [LOG...]\n"
            "  One self-contained HTML page from imaptap JSON-lines logs (no LOG, or \"-\":\n"
            "  stdin): sessions with filters, per-session timelines, latency per command,\n"
            "  capabilities.  It makes no network request and can be attached to a ticket.\n"
            "  -o, --output FILE   the page to write (default: - = stdout)\n"
            "      --title TEXT    its title (default: imaptap report)\n"
            "      --timelines N   sessions whose timeline is kept (default: %d); sessions\n"
            "                      with errors take the place of finished ones without\n"
            "      --events N      timeline entries per session (default: %d); errors past\n"
            "                      it are kept, up to a quarter more\n"
            "      --sessions N    sessions listed (default: %d); the rest count in the\n"
            "                      totals, latency and capability tables only\n"
            "  -h, --help          this text\n"
            "Exit status: 0 written, 1 an I/O error, 2 a bad option or no event in the input.\n",
            REPORT_TIMELINES_DEF, REPORT_EVENTS_DEF, REPORT_SESSIONS_DEF);
}

static int parse_limit(const char *opt, const char *arg, long min, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno || end == arg || *end != '\0' || v < min || v > RPT_LIMIT_MAX) {
        fprintf(stderr, "imaptap report: %s: \"%s\" must be a whole number from %ld to %d\n", opt,
                arg, min, RPT_LIMIT_MAX);
        return -1;
    }
    *out = v;
    return 0;
}

static void rpt_free(struct rpt *r)
{
    size_t i;

    for (i = 0; i < r->nhash; i++) {
        struct sess *s = r->hash[i], *next;
        for (; s; s = next) {
            next = s->next;
            if (!s->listed)
                sess_free(s);
        }
    }
    for (i = 0; i < r->nlist; i++)
        sess_free(r->list[i]);
    free(r->hash);
    free(r->list);
    free(r->victims);
    for (i = 0; i < r->ncmds; i++) {
        free(r->cmds[i].name);
        free(r->cmds[i].exact);
    }
    free(r->all.exact);
    for (i = 0; i < r->ncaps; i++)
        free(r->caps[i].name);
    for (i = 0; i < r->nissues; i++) {
        free(r->issues[i].cat);
        free(r->issues[i].kind);
        free(r->issues[i].example);
    }
    for (i = 0; i < r->nreasons; i++)
        free(r->reasons[i].name);
    for (i = 0; i < sizeof(r->ihash) / sizeof(r->ihash[0]); i++) {
        struct intern *e = r->ihash[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e->key);
            free(e);
        }
    }
    free(r->ikeys);
}

/* Writes the page to path ("-": stdout) through a temporary file renamed
 * into place, so a failed run leaves no half page. */
static int write_output(struct rpt *r, const char *path)
{
    struct out o;
    char *tmp = NULL;
    int fd, rc = 0;

    if (strcmp(path, "-") == 0) {
        o.f = stdout;
        write_page(r, &o);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "imaptap report: writing the page: %s\n", strerror(errno));
            return 1;
        }
        return 0;
    }
    if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
        r->oom = 1;
        return 1;
    }
    fd = mkstemp(tmp);
    if (fd < 0 || (o.f = fdopen(fd, "w")) == NULL) {
        fprintf(stderr, "imaptap report: %s: %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return 1;
    }
    {
        mode_t um = umask(0);
        umask(um);
        if (fchmod(fd, 0666 & ~um) < 0)
            fprintf(stderr, "imaptap report: %s: %s\n", tmp, strerror(errno));
    }
    write_page(r, &o);
    if (fflush(o.f) != 0 || ferror(o.f) || fsync(fd) < 0) {
        fprintf(stderr, "imaptap report: %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (fclose(o.f) != 0 && rc == 0) {
        fprintf(stderr, "imaptap report: %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (rc == 0 && rename(tmp, path) < 0) {
        fprintf(stderr, "imaptap report: %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int report_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"title", required_argument, NULL, 'T'},
        {"timelines", required_argument, NULL, 'M'},
        {"events", required_argument, NULL, 'N'},
        {"sessions", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const stdin_only[] = {"-", NULL};
    struct rpt *r;
    struct logread *lr;
    const char *out_path = "-";
    char err[512];
    int c, rc = 0, got;
    size_t i;

    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        fprintf(stderr, "imaptap report: out of memory\n");
        return 1;
    }
    r->max_tl = REPORT_TIMELINES_DEF;
    r->max_ev = REPORT_EVENTS_DEF;
    r->max_list = REPORT_SESSIONS_DEF;
    r->title = "imaptap report";
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_path = optarg;
            break;
        case 'T':
            r->title = optarg;
            break;
        case 'M':
            if (parse_limit("--timelines", optarg, 0, &r->max_tl) < 0)
                goto usage_error;
            break;
        case 'N':
            if (parse_limit("--events", optarg, 1, &r->max_ev) < 0)
                goto usage_error;
            break;
        case 'L':
            if (parse_limit("--sessions", optarg, 1, &r->max_list) < 0)
                goto usage_error;
            break;
        case 'h':
            usage(stdout);
            free(r);
            return 0;
        case ':':
            fprintf(stderr, "imaptap report: %s needs a value (see imaptap report --help)\n",
                    argv[optind - 1]);
            goto usage_error;
        default:
            fprintf(stderr, "imaptap report: unknown option \"%s\" (see imaptap report --help)\n",
                    argv[optind - 1]);
            goto usage_error;
        }
    }
    if (*out_path == '\0') {
        fprintf(stderr, "imaptap report: --output: empty file name\n");
        goto usage_error;
    }
    r->inputs = optind < argc ? (const char *const *)(void *)(argv + optind) : stdin_only;
    lr = logread_open(r->inputs, 0, NULL, NULL, err, sizeof(err));
    if (lr == NULL) {
        fprintf(stderr, "imaptap report: %s\n", err);
        rpt_free(r);
        free(r);
        return 1;
    }
    for (;;) {
        json_t *ev;
        got = logread_next(lr, &ev, NULL, err, sizeof(err));
        if (got <= 0)
            break;
        on_event(r, ev);
        json_decref(ev);
        if (r->oom)
            break;
    }
    if (got < 0) {
        fprintf(stderr, "imaptap report: %s\n", err);
        rc = 1;
    }
    r->nskipped += logread_bad_lines(lr);
    logread_close(lr);
    for (i = 0; rc == 0 && i < r->nhash; i++) {
        struct sess *s;
        for (s = r->hash[i]; s; s = s->next)
            sess_finalize(r, s);
    }
    for (i = 0; rc == 0 && i < r->nlist; i++)
        sess_finalize(r, r->list[i]);
    if (rc == 0 && r->oom) {
        fprintf(stderr, "imaptap report: out of memory\n");
        rc = 1;
    }
    if (rc == 0 && r->nevents == 0 && r->nskipped > 0) {
        fprintf(stderr,
                "imaptap report: no imaptap event in the input (%" PRIu64 " line%s skipped)\n",
                r->nskipped, r->nskipped == 1 ? "" : "s");
        rc = 2;
    }
    if (rc == 0)
        rc = write_output(r, out_path);
    if (rc == 0 && r->nskipped > 0)
        fprintf(stderr, "imaptap report: %" PRIu64 " line%s skipped (not imaptap events)\n",
                r->nskipped, r->nskipped == 1 ? "" : "s");
    rpt_free(r);
    free(r);
    return rc;

usage_error:
    free(r);
    return 2;
}
