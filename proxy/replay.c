/* replay.c - a session driven from recorded chunks (see replay.h). */
#include "replay.h"

#include <stdlib.h>
#include <string.h>

struct replay {
    struct imap_session *session;
    struct jlog_session *js;
    imap_event_cb *event_cb;
    void *event_arg;
    int relay;
    struct replay_output out[2];     /* towards the server, towards the client */
    struct replay_output held[2];    /* HOLD buffers */
    struct replay_output pending[2]; /* input bytes not yet decided */
    struct replay_output deferred;   /* client bytes that wait for a keepalive */
    int client_eof, server_eof;
    int64_t first_ts;
    int have_first_ts;
    int finished;
};

static int out_add(struct replay_output *o, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (o->len + len > o->size) {
        size_t nsize = o->size ? o->size : 4096;
        char *nd;
        while (nsize < o->len + len)
            nsize *= 2;
        nd = realloc(o->data, nsize);
        if (nd == NULL)
            return -1;
        o->data = nd;
        o->size = nsize;
    }
    memcpy(o->data + o->len, data, len);
    o->len += len;
    return 0;
}

static void out_consume(struct replay_output *o, size_t len)
{
    if (len > o->len)
        len = o->len;
    memmove(o->data, o->data + len, o->len - len);
    o->len -= len;
}

static int on_event(void *arg, const struct imap_event *ev)
{
    struct replay *r = arg;

    if (r->js != NULL)
        jlog_event(r->js, ev);
    if (r->event_cb != NULL)
        r->event_cb(r->event_arg, ev);
    return 0;
}

struct replay *replay_new(const struct replay_opts *opts)
{
    struct replay *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->event_cb = opts->event_cb;
    r->event_arg = opts->event_arg;
    r->relay = opts->session.relay;
    if (opts->log != NULL) {
        r->js = jlog_session_new(opts->log, opts->sid);
        if (r->js == NULL) {
            free(r);
            return NULL;
        }
    }
    r->session = imap_session_new(&opts->session, on_event, r);
    if (r->session == NULL) {
        jlog_session_free(r->js);
        free(r);
        return NULL;
    }
    return r;
}

int replay_open(struct replay *r, int64_t ts_us, const struct jlog_endpoint *client,
                const char *listener, const struct jlog_endpoint *upstream)
{
    if (!r->have_first_ts) {
        r->first_ts = ts_us;
        r->have_first_ts = 1;
    }
    if (r->js == NULL)
        return 0;
    return jlog_session_open(r->js, ts_us, client, listener, upstream);
}

/* Applies the relay operations the session has ready, as the proxy would. */
static int apply_ops(struct replay *r, enum imap_dir dir)
{
    struct imap_relay_op op;
    struct replay_output *in = &r->pending[dir], *out = &r->out[dir], *hold = &r->held[dir];

    while (imap_session_relay_next(r->session, dir, &op)) {
        switch (op.kind) {
        case IMAP_RELAY_PASS:
            if (op.len > in->len || out_add(out, in->data, op.len) < 0)
                return -1;
            out_consume(in, op.len);
            break;
        case IMAP_RELAY_DROP:
            if (op.len > in->len)
                return -1;
            out_consume(in, op.len);
            break;
        case IMAP_RELAY_HOLD:
            if (op.len > in->len || out_add(hold, in->data, op.len) < 0)
                return -1;
            out_consume(in, op.len);
            break;
        case IMAP_RELAY_INSERT:
            if (out_add(out, op.data, op.len) < 0)
                return -1;
            break;
        case IMAP_RELAY_RELEASE:
            if (out_add(out, hold->data, hold->len) < 0)
                return -1;
            hold->len = 0;
            break;
        case IMAP_RELAY_STARTTLS:
        case IMAP_RELAY_CLOSE:
            break;
        }
    }
    return 0;
}

static void set_clock(struct replay *r, int64_t ts_us)
{
    if (!r->have_first_ts) {
        r->first_ts = ts_us;
        r->have_first_ts = 1;
    }
    imap_session_set_clock(r->session, ts_us, ts_us);
}

static int feed(struct replay *r, enum imap_dir dir, const void *data, size_t len)
{
    int rc;

    if (r->relay && out_add(&r->pending[dir], data, len) < 0)
        return -1;
    rc = imap_session_feed(r->session, dir, data, len);
    if (r->relay && (apply_ops(r, IMAP_C2S) < 0 || apply_ops(r, IMAP_S2C) < 0))
        return -1;
    return rc;
}

int replay_chunk(struct replay *r, enum imap_dir dir, const void *data, size_t len, int64_t ts_us)
{
    int rc;

    set_clock(r, ts_us);
    /* like the proxy: client bytes wait while imaptap's keepalive is out
     * (an IDLE keepalive is ended for them) */
    if (dir == IMAP_C2S && imap_session_keepalive_pending(r->session)) {
        imap_session_keepalive_interrupt(r->session);
        if (r->relay && (apply_ops(r, IMAP_C2S) < 0 || apply_ops(r, IMAP_S2C) < 0))
            return -1;
        return out_add(&r->deferred, data, len);
    }
    rc = feed(r, dir, data, len);
    if (rc == 0 && r->deferred.len > 0 && !imap_session_keepalive_pending(r->session)) {
        struct replay_output d = r->deferred;
        memset(&r->deferred, 0, sizeof(r->deferred));
        rc = feed(r, IMAP_C2S, d.data, d.len);
        free(d.data);
    }
    return rc;
}

int replay_marker(struct replay *r, enum replay_marker m, int64_t ts_us)
{
    set_clock(r, ts_us);
    switch (m) {
    case REPLAY_TLS:
        imap_session_tls_started(r->session, 1, 1);
        break;
    case REPLAY_C2S_EOF:
        r->client_eof = 1;
        imap_session_eof(r->session, IMAP_C2S);
        break;
    case REPLAY_S2C_EOF:
        r->server_eof = 1;
        imap_session_eof(r->session, IMAP_S2C);
        break;
    case REPLAY_TIMER:
        imap_session_keepalive(r->session);
        break;
    }
    if (r->relay && (apply_ops(r, IMAP_C2S) < 0 || apply_ops(r, IMAP_S2C) < 0))
        return -1;
    return 0;
}

const char *replay_close_reason(const struct imap_session *s, int client_eof, int server_eof)
{
    if (imap_session_state(s) == IMAP_STATE_LOGOUT || imap_session_logged_out(s))
        return "logout";
    if (imap_session_saw_bye(s))
        return "bye";
    if (server_eof)
        return "server_closed";
    if (client_eof)
        return "client_closed";
    return "shutdown";
}

void replay_finish(struct replay *r, int64_t ts_us, int force)
{
    struct jlog_close_info ci;

    if (r->finished || (!force && !r->client_eof && !r->server_eof))
        return;
    r->finished = 1;
    if (r->js == NULL)
        return;
    memset(&ci, 0, sizeof(ci));
    ci.reason = replay_close_reason(r->session, r->client_eof, r->server_eof);
    ci.bytes_c2s = imap_session_bytes(r->session, IMAP_C2S);
    ci.bytes_s2c = imap_session_bytes(r->session, IMAP_S2C);
    ci.commands = imap_session_commands(r->session);
    ci.duration_ms = r->have_first_ts ? (double)(ts_us - r->first_ts) / 1000.0 : 0.0;
    ci.user = imap_session_user(r->session);
    jlog_session_close(r->js, ts_us, &ci);
}

const struct replay_output *replay_output(const struct replay *r, enum imap_dir dir)
{
    return &r->out[dir];
}

struct imap_session *replay_session(struct replay *r)
{
    return r->session;
}

void replay_free(struct replay *r)
{
    int d;

    if (r == NULL)
        return;
    imap_session_free(r->session);
    jlog_session_free(r->js);
    for (d = 0; d < 2; d++) {
        free(r->out[d].data);
        free(r->held[d].data);
        free(r->pending[d].data);
    }
    free(r->deferred.data);
    free(r);
}
