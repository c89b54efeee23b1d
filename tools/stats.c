/*
 * stats.c - `imaptap stats`: one pass over the log, memory bounded
 * whatever its size (stats.h describes the output).
 *
 * What is kept: counter tables capped at STATS_KEYS_MAX keys, one
 * fixed-size latency histogram per command name (at most STATS_CMDS_MAX),
 * the ten slowest completions, and state for the sessions still open
 * (capped at STATS_SESSIONS_MAX: past it the least recently active one is
 * counted as open at the end and forgotten).
 */
#include "stats.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logread.h"
#include "sesstab.h"

#define STATS_SESSIONS_MAX 200000 /* about 30 MB of open sessions at most */
#define STATS_SLOWEST      10
#define STATS_TEXT_ROWS    20 /* rows of a table in the text output */

/* Histogram: bucket i holds [HIST_MIN * HIST_G^i, HIST_MIN * HIST_G^(i+1));
 * reporting the geometric centre gives at most sqrt(1.02) - 1 < 1% error.
 * HIST_MIN is the log's resolution (ms rounded to 0.001), HIST_N covers up
 * to 1e9 ms (11 days); smaller values go to a zero bucket, larger ones to
 * the last bucket (max stays exact). */
#define HIST_G     1.02
#define HIST_MIN   0.001
#define HIST_N     1400
#define HIST_EXACT 32 /* up to this many values, percentiles are exact */

struct hist {
    uint64_t n, zero;
    double min, max, sum;
    double first[HIST_EXACT]; /* the first values, for small samples */
    uint64_t *b;              /* HIST_N buckets, allocated at the first value */
};

static int hist_add(struct hist *h, double v)
{
    if (!(v >= 0))
        return 0; /* NaN or negative: not a duration */
    if (h->n == 0 || v < h->min)
        h->min = v;
    if (h->n == 0 || v > h->max)
        h->max = v;
    if (h->n < HIST_EXACT)
        h->first[h->n] = v;
    h->n++;
    h->sum += v;
    if (v < HIST_MIN) {
        h->zero++;
        return 0;
    }
    if (h->b == NULL && (h->b = calloc(HIST_N, sizeof(*h->b))) == NULL)
        return -1;
    {
        double i = floor(log(v / HIST_MIN) / log(HIST_G));
        h->b[i >= HIST_N - 1 ? HIST_N - 1 : (size_t)i]++;
    }
    return 0;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The nearest-rank q-quantile: exact for small samples, else within 1%
 * (see above). */
static double hist_quantile(const struct hist *h, double q)
{
    uint64_t rank, seen;
    size_t i;
    double v;

    if (h->n == 0)
        return 0;
    rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    if (h->n <= HIST_EXACT) {
        double sorted[HIST_EXACT];

        memcpy(sorted, h->first, (size_t)h->n * sizeof(double));
        qsort(sorted, (size_t)h->n, sizeof(double), dbl_cmp);
        return sorted[rank - 1];
    }
    seen = h->zero;
    if (seen >= rank || h->b == NULL)
        return h->min;
    for (i = 0; i < HIST_N; i++) {
        seen += h->b[i];
        if (seen >= rank)
            break;
    }
    if (i == HIST_N)
        return h->max;
    v = HIST_MIN * pow(HIST_G, (double)i + 0.5);
    return v < h->min ? h->min : v > h->max ? h->max : v;
}

/* ---- counter tables: string -> count, at most STATS_KEYS_MAX keys ---- */

struct centry {
    char *key;
    uint64_t count;
};

struct ctab {
    struct centry *slots; /* open addressing, key NULL = free */
    size_t cap, n;
    uint64_t other; /* keys that came after the table was full */
};

static int ctab_grow(struct ctab *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 16, i;
    struct centry *ns = calloc(ncap, sizeof(*ns));

    if (ns == NULL)
        return -1;
    for (i = 0; i < t->cap; i++) {
        size_t j;

        if (t->slots[i].key == NULL)
            continue;
        j = sesstab_hash(t->slots[i].key) & (ncap - 1);
        while (ns[j].key != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 0;
}

static int ctab_add(struct ctab *t, const char *key, uint64_t by)
{
    size_t j;

    if (key == NULL)
        key = "(none)";
    if (t->cap == 0 && ctab_grow(t) < 0)
        return -1;
    j = sesstab_hash(key) & (t->cap - 1);
    while (t->slots[j].key != NULL) {
        if (strcmp(t->slots[j].key, key) == 0) {
            t->slots[j].count += by;
            return 0;
        }
        j = (j + 1) & (t->cap - 1);
    }
    if (t->n >= STATS_KEYS_MAX) {
        t->other += by;
        return 0;
    }
    if ((t->n + 1) * 2 > t->cap) {
        if (ctab_grow(t) < 0)
            return -1;
        return ctab_add(t, key, by);
    }
    if ((t->slots[j].key = strdup(key)) == NULL)
        return -1;
    t->slots[j].count = by;
    t->n++;
    return 0;
}

static int centry_cmp(const void *a, const void *b)
{
    const struct centry *x = a, *y = b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* The entries sorted by count then key (caller frees the array only). */
static struct centry *ctab_sorted(const struct ctab *t)
{
    struct centry *v = malloc((t->n ? t->n : 1) * sizeof(*v));
    size_t i, k = 0;

    if (v == NULL)
        return NULL;
    for (i = 0; i < t->cap; i++)
        if (t->slots[i].key != NULL)
            v[k++] = t->slots[i];
    qsort(v, k, sizeof(*v), centry_cmp);
    return v;
}

static void ctab_free(struct ctab *t)
{
    size_t i;

    for (i = 0; i < t->cap; i++)
        free(t->slots[i].key);
    free(t->slots);
}

/* ---- per command name ---- */

struct cmdstat {
    char *name;
    uint64_t count, completed, ok, no, bad;
    struct hist lat;
};

/* ---- open sessions: hash by sid, with a list by last activity ---- */

struct sess {
    struct sesstab_node node; /* first: the sid, and the table's links */
    char tls_client[24], tls_server[24];
    char *user;
    int opened;
};

struct slowest {
    double ms;
    char ts[40], sid[24], tag[72], cmd[40], status[8];
};

struct stats {
    /* input */
    uint64_t events;
    int64_t first_us, last_us; /* of the valid ts seen */
    char first_ts[40], last_ts[40];
    /* sessions */
    struct sesstab open;
    uint64_t sessions, opened, closed, open_at_end;
    struct ctab by_user, by_client, by_reason, by_tls_client, by_tls_server;
    /* commands */
    struct cmdstat *cmds;
    size_t ncmds;
    struct cmdstat other_cmd;
    uint64_t commands, completed, ok, no, bad;
    /* auth */
    uint64_t auth_ok, auth_no, auth_bad;
    struct ctab auth_mech, auth_failed_user;
    /* the rest */
    struct ctab untagged, parse_reason, limit_what, anomaly_kind;
    uint64_t parse_errors, limits, anomalies;
    uint64_t bytes_c2s, bytes_s2c;
    uint64_t idle_start, idle_done;
    struct hist idle;
    uint64_t ka_sent, ka_ok, ka_no, ka_bad, ka_released, ka_idle_start, ka_idle_done, ka_held;
    struct hist ka_lat;
    struct slowest slow[STATS_SLOWEST];
    size_t nslow;
};

/* Counts a session in the per-session tables and forgets it. */
static int sess_finish(struct stats *st, struct sess *s, const char *reason)
{
    int rc = 0;

    sesstab_remove(&st->open, &s->node);
    if (reason == NULL)
        st->open_at_end++;
    if (!s->opened)
        rc |= ctab_add(&st->by_client, "(unknown)", 1);
    rc |= ctab_add(&st->by_user, s->user, 1);
    rc |= ctab_add(&st->by_reason, reason ? reason : "(open)", 1);
    rc |= ctab_add(&st->by_tls_client, s->tls_client[0] ? s->tls_client : NULL, 1);
    rc |= ctab_add(&st->by_tls_server, s->tls_server[0] ? s->tls_server : NULL, 1);
    free(s->user);
    free(s);
    return rc;
}

/* The session of sid, created on first sight; NULL when out of memory. */
static struct sess *sess_get(struct stats *st, const char *sid)
{
    struct sess *s = (struct sess *)sesstab_find(&st->open, sid);

    if (s != NULL)
        return s;
    if (st->open.n >= STATS_SESSIONS_MAX &&
        sess_finish(st, (struct sess *)st->open.oldest, NULL) < 0)
        return NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    if (sesstab_insert(&st->open, &s->node, sid) < 0) {
        free(s);
        return NULL;
    }
    st->sessions++;
    return s;
}

static struct cmdstat *cmd_get(struct stats *st, const char *name)
{
    size_t i;

    if (name == NULL)
        name = "(none)";
    /* linear: a real log has a few dozen command names */
    for (i = 0; i < st->ncmds; i++)
        if (strcmp(st->cmds[i].name, name) == 0)
            return &st->cmds[i];
    if (st->ncmds >= STATS_CMDS_MAX)
        return &st->other_cmd;
    if (st->ncmds % 16 == 0) {
        struct cmdstat *n = realloc(st->cmds, (st->ncmds + 16) * sizeof(*n));
        if (n == NULL)
            return NULL;
        st->cmds = n;
    }
    memset(&st->cmds[st->ncmds], 0, sizeof(st->cmds[0]));
    if ((st->cmds[st->ncmds].name = strdup(name)) == NULL)
        return NULL;
    return &st->cmds[st->ncmds++];
}

static int slow_before(const struct slowest *a, const struct slowest *b)
{
    int c;

    if (a->ms != b->ms)
        return a->ms > b->ms;
    if ((c = strcmp(a->ts, b->ts)) != 0)
        return c < 0;
    if ((c = strcmp(a->sid, b->sid)) != 0)
        return c < 0;
    return strcmp(a->tag, b->tag) < 0;
}

static void slow_add(struct stats *st, const json_t *ev, double ms)
{
    struct slowest c;
    size_t i;

    if (st->nslow == STATS_SLOWEST && ms < st->slow[STATS_SLOWEST - 1].ms)
        return; /* the common case: cheap */
    memset(&c, 0, sizeof(c));
    c.ms = ms;
    snprintf(c.ts, sizeof(c.ts), "%s", ev_str(ev, "ts") ? ev_str(ev, "ts") : "");
    snprintf(c.sid, sizeof(c.sid), "%s", ev_str(ev, "sid") ? ev_str(ev, "sid") : "");
    snprintf(c.tag, sizeof(c.tag), "%s", ev_str(ev, "tag") ? ev_str(ev, "tag") : "");
    snprintf(c.cmd, sizeof(c.cmd), "%s", ev_str(ev, "cmd") ? ev_str(ev, "cmd") : "");
    snprintf(c.status, sizeof(c.status), "%s", ev_str(ev, "status") ? ev_str(ev, "status") : "");
    i = st->nslow;
    if (i == STATS_SLOWEST) {
        if (!slow_before(&c, &st->slow[i - 1]))
            return;
        i--;
    } else {
        st->nslow++;
    }
    while (i > 0 && slow_before(&c, &st->slow[i - 1])) {
        st->slow[i] = st->slow[i - 1];
        i--;
    }
    st->slow[i] = c;
}

static int is(const char *a, const char *b)
{
    return a != NULL && strcmp(a, b) == 0;
}

static int stats_event(struct stats *st, const json_t *ev)
{
    const char *type = ev_str(ev, "ev"), *sid = ev_str(ev, "sid"), *ts = ev_str(ev, "ts");
    struct sess *s = NULL;
    int64_t us;
    int rc = 0;

    st->events++;
    if (ts != NULL && (us = ev_ts_us(ev)) >= 0) {
        if (st->first_ts[0] == '\0' || us < st->first_us) {
            st->first_us = us;
            snprintf(st->first_ts, sizeof(st->first_ts), "%s", ts);
        }
        if (st->last_ts[0] == '\0' || us > st->last_us) {
            st->last_us = us;
            snprintf(st->last_ts, sizeof(st->last_ts), "%s", ts);
        }
    }
    if (type == NULL)
        return 0;
    if (sid != NULL && (s = sess_get(st, sid)) == NULL)
        return -1;

    if (is(type, "session_open")) {
        json_t *client = json_object_get(ev, "client");
        const char *addr = ev_str(client, "addr");

        st->opened++;
        if (s != NULL && !s->opened) {
            s->opened = 1;
            rc |= ctab_add(&st->by_client, addr ? addr : "(unknown)", 1);
        }
    } else if (is(type, "tls")) {
        const char *leg = ev_str(ev, "leg"), *ver = ev_str(ev, "version");

        if (s != NULL && ver != NULL) {
            if (is(leg, "client"))
                snprintf(s->tls_client, sizeof(s->tls_client), "%s", ver);
            else if (is(leg, "server"))
                snprintf(s->tls_server, sizeof(s->tls_server), "%s", ver);
        }
    } else if (is(type, "command")) {
        struct cmdstat *c = cmd_get(st, ev_str(ev, "cmd"));

        if (c == NULL)
            return -1;
        st->commands++;
        c->count++;
    } else if (is(type, "tagged")) {
        const char *status = ev_str(ev, "status");
        struct cmdstat *c = cmd_get(st, ev_str(ev, "cmd"));
        double ms = ev_num(ev, "ms", -1);

        if (c == NULL)
            return -1;
        st->completed++;
        c->completed++;
        if (is(status, "OK")) {
            st->ok++;
            c->ok++;
        } else if (is(status, "NO")) {
            st->no++;
            c->no++;
        } else if (is(status, "BAD")) {
            st->bad++;
            c->bad++;
        }
        if (ms >= 0) {
            rc |= hist_add(&c->lat, ms);
            /* IDLE lasts as long as the client wants: not a slow command */
            if (!is(ev_str(ev, "cmd"), "IDLE"))
                slow_add(st, ev, ms);
        }
    } else if (is(type, "untagged")) {
        rc |= ctab_add(&st->untagged, ev_str(ev, "name"), 1);
    } else if (is(type, "auth")) {
        const char *status = ev_str(ev, "status"), *user = ev_str(ev, "user");
        const char *mech = ev_str(ev, "mech");

        if (status != NULL) {
            char key[96];

            /* LOGIN, or AUTHENTICATE and its SASL mechanism */
            if (mech != NULL)
                snprintf(key, sizeof(key), "AUTHENTICATE %s", mech);
            else
                snprintf(key, sizeof(key), "%s",
                         ev_str(ev, "method") ? ev_str(ev, "method") : "(unknown)");
            rc |= ctab_add(&st->auth_mech, key, 1);
        }
        if (is(status, "OK")) {
            st->auth_ok++;
            if (s != NULL && user != NULL) {
                free(s->user);
                if ((s->user = strdup(user)) == NULL)
                    return -1;
            }
        } else if (is(status, "NO") || is(status, "BAD")) {
            if (is(status, "NO"))
                st->auth_no++;
            else
                st->auth_bad++;
            rc |= ctab_add(&st->auth_failed_user, user, 1);
        }
    } else if (is(type, "idle")) {
        const char *state = ev_str(ev, "state");

        if (is(state, "start")) {
            st->idle_start++;
        } else if (is(state, "done")) {
            st->idle_done++;
            rc |= hist_add(&st->idle, ev_num(ev, "ms", -1));
        }
    } else if (is(type, "keepalive")) {
        const char *state = ev_str(ev, "state");
        double ms = ev_num(ev, "ms", -1);

        if (is(state, "sent"))
            st->ka_sent++;
        else if (is(state, "ok"))
            st->ka_ok++;
        else if (is(state, "no"))
            st->ka_no++;
        else if (is(state, "bad"))
            st->ka_bad++;
        else if (is(state, "released"))
            st->ka_released++;
        else if (is(state, "idle_start"))
            st->ka_idle_start++;
        else if (is(state, "idle_done"))
            st->ka_idle_done++;
        if (ev_int(ev, "held", 0) > 0)
            st->ka_held += (uint64_t)ev_int(ev, "held", 0);
        if (ms >= 0)
            rc |= hist_add(&st->ka_lat, ms);
    } else if (is(type, "anomaly")) {
        st->anomalies++;
        rc |= ctab_add(&st->anomaly_kind, ev_str(ev, "kind"), 1);
    } else if (is(type, "parse_error")) {
        st->parse_errors++;
        rc |= ctab_add(&st->parse_reason, ev_str(ev, "reason"), 1);
    } else if (is(type, "limit")) {
        st->limits++;
        rc |= ctab_add(&st->limit_what, ev_str(ev, "what"), 1);
    } else if (is(type, "session_close")) {
        json_t *bytes = json_object_get(ev, "bytes");
        const char *user = ev_str(ev, "user"), *reason = ev_str(ev, "reason");

        st->closed++;
        if (ev_int(bytes, "c2s", 0) > 0)
            st->bytes_c2s += (uint64_t)ev_int(bytes, "c2s", 0);
        if (ev_int(bytes, "s2c", 0) > 0)
            st->bytes_s2c += (uint64_t)ev_int(bytes, "s2c", 0);
        if (s != NULL) {
            if (user != NULL) {
                free(s->user);
                if ((s->user = strdup(user)) == NULL)
                    return -1;
            }
            rc |= sess_finish(st, s, reason ? reason : "(unknown)");
        }
    }
    return rc;
}

/* ---- output ---- */

static double r3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

static json_t *j_table(const struct ctab *t)
{
    struct centry *v = ctab_sorted(t);
    json_t *items = json_array();
    size_t i;

    if (v == NULL)
        return NULL;
    for (i = 0; i < t->n; i++)
        json_array_append_new(
            items, json_pack("{s:s, s:I}", "key", v[i].key, "count", (json_int_t)v[i].count));
    free(v);
    return json_pack("{s:o, s:I}", "items", items, "other", (json_int_t)t->other);
}

static json_t *j_lat(const struct hist *h)
{
    if (h->n == 0)
        return json_null();
    return json_pack("{s:f, s:f, s:f, s:f}", "p50", r3(hist_quantile(h, 0.50)), "p95",
                     r3(hist_quantile(h, 0.95)), "p99", r3(hist_quantile(h, 0.99)), "max",
                     r3(h->max));
}

static int cmdstat_cmp(const void *a, const void *b)
{
    const struct cmdstat *x = *(const struct cmdstat *const *)a;
    const struct cmdstat *y = *(const struct cmdstat *const *)b;
    uint64_t cx = x->count ? x->count : x->completed, cy = y->count ? y->count : y->completed;

    if (cx != cy)
        return cx > cy ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The commands sorted, "(other)" last when used; NULL when out of memory. */
static struct cmdstat **cmds_sorted(struct stats *st, size_t *n_r)
{
    struct cmdstat **v = malloc((st->ncmds + 1) * sizeof(*v));
    size_t i, n = 0;

    if (v == NULL)
        return NULL;
    for (i = 0; i < st->ncmds; i++)
        v[n++] = &st->cmds[i];
    qsort(v, n, sizeof(*v), cmdstat_cmp);
    if (st->other_cmd.count || st->other_cmd.completed) {
        st->other_cmd.name = "(other)";
        v[n++] = &st->other_cmd;
    }
    *n_r = n;
    return v;
}

static json_t *j_str_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

static json_t *stats_json(struct stats *st, size_t files, uint64_t bytes, unsigned long bad)
{
    struct cmdstat **cv;
    json_t *root, *cmds, *slow;
    size_t i, n;

    if ((cv = cmds_sorted(st, &n)) == NULL)
        return NULL;
    cmds = json_array();
    for (i = 0; i < n; i++) {
        const struct cmdstat *c = cv[i];
        json_array_append_new(cmds, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "cmd", c->name,
                                              "count", (json_int_t)c->count, "completed",
                                              (json_int_t)c->completed, "ok", (json_int_t)c->ok,
                                              "no", (json_int_t)c->no, "bad", (json_int_t)c->bad,
                                              "latency_ms", j_lat(&c->lat)));
    }
    free(cv);
    slow = json_array();
    for (i = 0; i < st->nslow; i++) {
        const struct slowest *w = &st->slow[i];
        json_array_append_new(slow, json_pack("{s:f, s:s, s:s, s:s, s:s, s:s}", "ms", r3(w->ms),
                                              "ts", w->ts, "sid", w->sid, "tag", w->tag, "cmd",
                                              w->cmd, "status", w->status));
    }
    root = json_object();
    json_object_set_new(root, "format", json_string("imaptap-stats/1"));
    json_object_set_new(
        root, "input",
        json_pack("{s:I, s:I, s:I, s:I, s:o, s:o}", "files", (json_int_t)files, "bytes",
                  (json_int_t)bytes, "events", (json_int_t)st->events, "bad_lines", (json_int_t)bad,
                  "first_ts", j_str_or_null(st->first_ts), "last_ts", j_str_or_null(st->last_ts)));
    json_object_set_new(
        root, "sessions",
        json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "count",
                  (json_int_t)st->sessions, "opened", (json_int_t)st->opened, "closed",
                  (json_int_t)st->closed, "open_at_end", (json_int_t)st->open_at_end, "by_user",
                  j_table(&st->by_user), "by_client", j_table(&st->by_client), "by_close_reason",
                  j_table(&st->by_reason), "by_tls_client", j_table(&st->by_tls_client),
                  "by_tls_server", j_table(&st->by_tls_server)));
    json_object_set_new(root, "commands",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "count",
                                  (json_int_t)st->commands, "completed", (json_int_t)st->completed,
                                  "ok", (json_int_t)st->ok, "no", (json_int_t)st->no, "bad",
                                  (json_int_t)st->bad, "by_cmd", cmds));
    json_object_set_new(root, "auth",
                        json_pack("{s:I, s:I, s:I, s:o, s:o}", "ok", (json_int_t)st->auth_ok, "no",
                                  (json_int_t)st->auth_no, "bad", (json_int_t)st->auth_bad,
                                  "by_mech", j_table(&st->auth_mech), "failed_by_user",
                                  j_table(&st->auth_failed_user)));
    json_object_set_new(root, "untagged", j_table(&st->untagged));
    json_object_set_new(root, "bytes",
                        json_pack("{s:I, s:I}", "c2s", (json_int_t)st->bytes_c2s, "s2c",
                                  (json_int_t)st->bytes_s2c));
    json_object_set_new(
        root, "idle",
        json_pack("{s:I, s:I, s:f, s:o, s:o}", "count", (json_int_t)st->idle_start, "done",
                  (json_int_t)st->idle_done, "total_ms", r3(st->idle.sum), "median_ms",
                  st->idle.n ? json_real(r3(hist_quantile(&st->idle, 0.5))) : json_null(), "max_ms",
                  st->idle.n ? json_real(r3(st->idle.max)) : json_null()));
    json_object_set_new(
        root, "keepalive",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "sent", (json_int_t)st->ka_sent,
                  "ok", (json_int_t)st->ka_ok, "no", (json_int_t)st->ka_no, "bad",
                  (json_int_t)st->ka_bad, "released", (json_int_t)st->ka_released, "idle_start",
                  (json_int_t)st->ka_idle_start, "idle_done", (json_int_t)st->ka_idle_done, "held",
                  (json_int_t)st->ka_held, "latency_ms", j_lat(&st->ka_lat)));
    json_object_set_new(root, "parse_errors",
                        json_pack("{s:I, s:o}", "count", (json_int_t)st->parse_errors, "by_reason",
                                  j_table(&st->parse_reason)));
    json_object_set_new(root, "limits",
                        json_pack("{s:I, s:o}", "count", (json_int_t)st->limits, "by_what",
                                  j_table(&st->limit_what)));
    json_object_set_new(root, "anomalies",
                        json_pack("{s:I, s:o}", "count", (json_int_t)st->anomalies, "by_kind",
                                  j_table(&st->anomaly_kind)));
    json_object_set_new(root, "slowest", slow);
    return root;
}

/* A string from the log made safe for a terminal: controls (C0, DEL, C1)
 * as \xNN; cut to fit dst. */
static const char *text_esc(char *dst, size_t len, const char *src)
{
    size_t o = 0;

    for (; *src != '\0' && o + 5 < len; src++) {
        unsigned char c = (unsigned char)*src;
        int c1 = c == 0xc2 && (unsigned char)src[1] >= 0x80 && (unsigned char)src[1] <= 0x9f;

        if (c < 0x20 || c == 0x7f || c1) {
            if (c1)
                c = (unsigned char)*++src;
            o += (size_t)snprintf(dst + o, len - o, "\\x%02x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
    return dst;
}

/* A table as indented rows: the first STATS_TEXT_ROWS, then the rest
 * summed. */
static int text_table(FILE *out, const char *title, const char *unit, const struct ctab *t)
{
    struct centry *v;
    size_t i, w = 32;
    uint64_t rest = 0;
    char key[512];

    if (t->n == 0 && t->other == 0)
        return 0;
    if ((v = ctab_sorted(t)) == NULL)
        return -1;
    for (i = 0; i < t->n && i < STATS_TEXT_ROWS; i++) {
        size_t kl = strlen(text_esc(key, sizeof(key), v[i].key));
        if (kl > w)
            w = kl > 72 ? 72 : kl;
    }
    fprintf(out, "  %-*s %10s\n", (int)w, title, unit);
    for (i = 0; i < t->n; i++) {
        if (i < STATS_TEXT_ROWS)
            fprintf(out, "  %-*s %10llu\n", (int)w, text_esc(key, sizeof(key), v[i].key),
                    (unsigned long long)v[i].count);
        else
            rest += v[i].count;
    }
    if (t->n > STATS_TEXT_ROWS) {
        char label[64];
        snprintf(label, sizeof(label), "(%zu more)", t->n - STATS_TEXT_ROWS);
        fprintf(out, "  %-*s %10llu\n", (int)w, label, (unsigned long long)rest);
    }
    if (t->other > 0)
        fprintf(out, "  %-*s %10llu\n", (int)w, "(other, not tracked)",
                (unsigned long long)t->other);
    fputc('\n', out);
    free(v);
    return 0;
}

static void text_lat(FILE *out, const struct hist *h)
{
    if (h->n == 0) {
        fprintf(out, " %10s %10s %10s %10s", "-", "-", "-", "-");
        return;
    }
    fprintf(out, " %10.3f %10.3f %10.3f %10.3f", hist_quantile(h, 0.50), hist_quantile(h, 0.95),
            hist_quantile(h, 0.99), h->max);
}

static int stats_text(FILE *out, struct stats *st, size_t files, uint64_t bytes, unsigned long bad)
{
    struct cmdstat **cv;
    size_t i, n;
    int rc = 0;

    fprintf(out, "imaptap stats: %llu events from %zu file%s (%llu bytes), %lu bad line%s\n",
            (unsigned long long)st->events, files, files == 1 ? "" : "s", (unsigned long long)bytes,
            bad, bad == 1 ? "" : "s");
    if (st->first_ts[0])
        fprintf(out, "from %s to %s\n", st->first_ts, st->last_ts);
    fprintf(out, "\nSESSIONS %llu: opened %llu, closed %llu, open at the end %llu\n\n",
            (unsigned long long)st->sessions, (unsigned long long)st->opened,
            (unsigned long long)st->closed, (unsigned long long)st->open_at_end);
    rc |= text_table(out, "user", "sessions", &st->by_user);
    rc |= text_table(out, "client", "sessions", &st->by_client);
    rc |= text_table(out, "close reason", "sessions", &st->by_reason);
    rc |= text_table(out, "TLS on the client leg", "sessions", &st->by_tls_client);
    rc |= text_table(out, "TLS on the server leg", "sessions", &st->by_tls_server);

    fprintf(out, "COMMANDS %llu: completed %llu (OK %llu, NO %llu, BAD %llu)\n\n",
            (unsigned long long)st->commands, (unsigned long long)st->completed,
            (unsigned long long)st->ok, (unsigned long long)st->no, (unsigned long long)st->bad);
    if ((cv = cmds_sorted(st, &n)) == NULL)
        return -1;
    if (n > 0) {
        fprintf(out, "  %-16s %8s %8s %6s %6s %10s %10s %10s %10s\n", "command", "count", "done",
                "NO", "BAD", "p50 ms", "p95 ms", "p99 ms", "max ms");
        for (i = 0; i < n; i++) {
            const struct cmdstat *c = cv[i];
            char name[128];
            fprintf(out, "  %-16s %8llu %8llu %6llu %6llu", text_esc(name, sizeof(name), c->name),
                    (unsigned long long)c->count, (unsigned long long)c->completed,
                    (unsigned long long)c->no, (unsigned long long)c->bad);
            text_lat(out, &c->lat);
            fputc('\n', out);
        }
        fputc('\n', out);
    }
    free(cv);

    fprintf(out, "AUTH: OK %llu, NO %llu, BAD %llu\n\n", (unsigned long long)st->auth_ok,
            (unsigned long long)st->auth_no, (unsigned long long)st->auth_bad);
    rc |= text_table(out, "method", "attempts", &st->auth_mech);
    rc |= text_table(out, "failed for user", "attempts", &st->auth_failed_user);

    fprintf(out, "UNTAGGED RESPONSES\n\n");
    rc |= text_table(out, "name", "count", &st->untagged);

    fprintf(out, "BYTES: client to server %llu, server to client %llu (closed sessions)\n\n",
            (unsigned long long)st->bytes_c2s, (unsigned long long)st->bytes_s2c);
    fprintf(out, "IDLE: %llu started, %llu done", (unsigned long long)st->idle_start,
            (unsigned long long)st->idle_done);
    if (st->idle.n > 0)
        fprintf(out, ", total %.3f s, median %.3f s, max %.3f s", st->idle.sum / 1000.0,
                hist_quantile(&st->idle, 0.5) / 1000.0, st->idle.max / 1000.0);
    fprintf(out, "\n\n");
    fprintf(out,
            "KEEPALIVE: sent %llu, ok %llu, no %llu, bad %llu, held responses %llu, "
            "released %llu, idle start %llu, idle done %llu",
            (unsigned long long)st->ka_sent, (unsigned long long)st->ka_ok,
            (unsigned long long)st->ka_no, (unsigned long long)st->ka_bad,
            (unsigned long long)st->ka_held, (unsigned long long)st->ka_released,
            (unsigned long long)st->ka_idle_start, (unsigned long long)st->ka_idle_done);
    if (st->ka_lat.n > 0)
        fprintf(out, ", p50 %.3f ms, max %.3f ms", hist_quantile(&st->ka_lat, 0.5), st->ka_lat.max);
    fprintf(out, "\n\n");

    fprintf(out, "PARSE ERRORS %llu\n\n", (unsigned long long)st->parse_errors);
    rc |= text_table(out, "reason", "count", &st->parse_reason);
    fprintf(out, "LIMITS %llu\n\n", (unsigned long long)st->limits);
    rc |= text_table(out, "what", "count", &st->limit_what);
    fprintf(out, "ANOMALIES %llu\n\n", (unsigned long long)st->anomalies);
    rc |= text_table(out, "kind", "count", &st->anomaly_kind);

    fprintf(out, "SLOWEST COMMANDS\n\n");
    if (st->nslow > 0) {
        fprintf(out, "  %11s  %-27s  %-16s  %-8s %s\n", "ms", "time", "session", "tag", "command");
        for (i = 0; i < st->nslow; i++) {
            const struct slowest *w = &st->slow[i];
            char e1[64], e2[64], e3[300], e4[200], e5[40];
            fprintf(out, "  %11.3f  %-27s  %-16s  %-8s %s %s\n", w->ms,
                    text_esc(e1, sizeof(e1), w->ts), text_esc(e2, sizeof(e2), w->sid),
                    text_esc(e3, sizeof(e3), w->tag), text_esc(e4, sizeof(e4), w->cmd),
                    text_esc(e5, sizeof(e5), w->status));
        }
    }
    return rc;
}

static void stats_free(struct stats *st)
{
    size_t i;

    while (st->open.oldest != NULL) {
        struct sess *s = (struct sess *)st->open.oldest;
        sesstab_remove(&st->open, &s->node);
        free(s->user);
        free(s);
    }
    sesstab_free(&st->open);
    for (i = 0; i < st->ncmds; i++) {
        free(st->cmds[i].name);
        free(st->cmds[i].lat.b);
    }
    free(st->cmds);
    free(st->other_cmd.lat.b);
    ctab_free(&st->by_user);
    ctab_free(&st->by_client);
    ctab_free(&st->by_reason);
    ctab_free(&st->by_tls_client);
    ctab_free(&st->by_tls_server);
    ctab_free(&st->auth_mech);
    ctab_free(&st->auth_failed_user);
    ctab_free(&st->untagged);
    ctab_free(&st->parse_reason);
    ctab_free(&st->limit_what);
    ctab_free(&st->anomaly_kind);
    free(st->idle.b);
    free(st->ka_lat.b);
}

/* ---- progress on a terminal ---- */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(const struct logread *lr, uint64_t events)
{
    uint64_t done = logread_bytes(lr), total = logread_total(lr);

    if (total > 0)
        fprintf(stderr, "\r%3d%% ", (int)(done >= total ? 100 : done * 100 / total));
    else
        fputc('\r', stderr);
    fprintf(stderr, "%llu MB %.1f M lines", (unsigned long long)(done / 1000000),
            (double)events / 1e6);
    fflush(stderr);
}

/* A bad line: said on its own line, not after the progress line. */
static void warn_line(void *arg, const char *path, unsigned long lineno, const char *why)
{
    const int *tty = arg;

    fprintf(stderr, "%s%s:%lu: %s\n", *tty ? "\r\033[K" : "", path, lineno, why);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: imaptap stats [--json] [LOG...]\n"
            "Summarises imaptap JSON-lines logs (stdin when no LOG is given) in one pass:\n"
            "sessions by user, client, close reason and TLS version; commands with NO/BAD\n"
            "counts and latency p50/p95/p99/max; auth; untagged responses; bytes; IDLE;\n"
            "keepalive; parse errors, limits and anomalies; the 10 slowest commands but\n"
            "IDLE (find one with `imaptap pretty --session SID`).\n"
            "  --json      one JSON object instead of text (format imaptap-stats/1)\n"
            "  -h, --help  this text\n"
            "Percentiles are within 1%% (log-linear histogram; exact up to 32 values), max\n"
            "is exact.  Tables count at most %d distinct keys exactly, later ones as\n"
            "\"other\".  Sessions with no session_close line are counted as open at the\n"
            "end; bytes come from session_close lines.  A progress line goes to stderr\n"
            "when it is a terminal.\n"
            "Exit status: 0; 1 on a read or write error; 2 on a bad option, a LOG that\n"
            "cannot be opened, or unreadable lines (reported as FILE:LINE on stderr).\n",
            STATS_KEYS_MAX);
}

int stats_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct stats *st;
    struct logread *lr;
    char err[512];
    int c, json = 0, status = 0, tty, rc;
    size_t files;
    double next_progress;
    unsigned long bad;
    uint64_t bytes;

    optind = 1;
    opterr = 0; /* our own messages, naming the subcommand */
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "imaptap stats: %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "imaptap stats: unknown option %s (see imaptap stats --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    tty = isatty(STDERR_FILENO);
    lr = logread_open((const char *const *)(argv + optind), 0, warn_line, &tty, err, sizeof(err));
    if (lr == NULL) {
        fprintf(stderr, "imaptap stats: %s\n", err);
        return 2;
    }
    files = optind < argc ? (size_t)(argc - optind) : 1;
    if ((st = calloc(1, sizeof(*st))) == NULL) {
        fprintf(stderr, "imaptap stats: out of memory\n");
        logread_close(lr);
        return 1;
    }
    next_progress = tty ? now_s() + 0.2 : 0;
    for (;;) {
        json_t *ev;

        rc = logread_next(lr, &ev, NULL, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "%simaptap stats: %s\n", tty ? "\r\033[K" : "", err);
            status = 1;
            break;
        }
        if (rc == 0)
            break;
        rc = stats_event(st, ev);
        json_decref(ev);
        if (rc < 0) {
            fprintf(stderr, "imaptap stats: out of memory\n");
            status = 1;
            break;
        }
        if (tty && st->events % 8192 == 0 && now_s() >= next_progress) {
            progress(lr, st->events);
            next_progress = now_s() + 0.2;
        }
    }
    if (tty) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    /* sessions without a close line end here */
    while (status == 0 && st->open.oldest != NULL) {
        if (sess_finish(st, (struct sess *)st->open.oldest, NULL) < 0) {
            fprintf(stderr, "imaptap stats: out of memory\n");
            status = 1;
        }
    }
    bad = logread_bad_lines(lr);
    bytes = logread_bytes(lr);
    logread_close(lr);
    if (status == 0) {
        if (json) {
            json_t *root = stats_json(st, files, bytes, bad);
            if (root == NULL ||
                json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) < 0) {
                status = 1;
            }
            json_decref(root);
            if (status == 0)
                fputc('\n', stdout);
        } else if (stats_text(stdout, st, files, bytes, bad) < 0) {
            status = 1;
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "imaptap stats: writing the output: %s\n", strerror(errno));
            status = 1;
        }
        if (status == 0 && bad > 0)
            status = 2;
    }
    stats_free(st);
    free(st);
    return status;
}
