/*
 * conn.c - one client session: the client side, the server side, the relay
 * between them and the one close path.
 *
 * Bytes stay in the bufferevents' input buffers until the session (parser/)
 * has said what to do with them; the usual answer moves them to the other
 * side's output with evbuffer_remove_buffer(), which hands over whole chains
 * without copying.  A full output stops reading on the other side until it
 * drains (backpressure); the read watermark bounds each input.  For TLS
 * sides, three things keep the work per byte low: read-ahead with
 * kick_tls_read(), output gathered into full records (gather_flush()), and
 * Nagle only in the middle of a unit (tune_coalescing()).
 */
#include <errno.h>
#include <stdarg.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h> /* bev->ev_read: kick_tls_read() */
#include <event2/event.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "capture.h"
#include "imap_session.h"
#include "proxy.h"
#include "tls.h"

#define CLIENT_HANDSHAKE_S     30 /* a client that does not finish TLS in time is dropped */
#define UPSTREAM_CONNECT_S     15 /* connect plus TLS handshake towards the server */
#define CLOSE_FLUSH_S          5  /* a closing session waits this long for its output */
#define AUTO_STARTTLS_LINE_MAX 8192
#define KEEPALIVE_REPLY_S      60 /* a keepalive unanswered this long: the server is gone */

enum side_id { CLI = 0, SRV = 1 };

struct side {
    struct bufferevent *bev;
    int tls;   /* this leg runs TLS now */
    int ready; /* connected (and handshake done, when TLS) */
    int eof;
    int upgrading;      /* STARTTLS handshake in progress */
    int paused;         /* reading stopped: the other side's output is full */
    int log_paused;     /* reading stopped: the log is behind */
    SSL *ssl;           /* owned by the bufferevent */
    evutil_socket_t fd; /* the TCP socket (the bufferevent owns it), or -1 */
    int coalescing;     /* TCP_NODELAY is off: bulk data goes out in full segments */
};

/* imap+starttls upstream: the exchange before the session starts */
enum auto_tls {
    AUTO_NONE,
    AUTO_GREETING, /* waiting for "* OK" */
    AUTO_REPLY,    /* sent STARTTLS, waiting for the tagged OK */
    AUTO_HANDSHAKE,
};

struct conn {
    struct proxy *px;
    struct conn *next, *prev;
    const struct listener *l;
    struct side side[2];
    struct imap_session *sess;
    struct jlog_session *js;
    struct cap_writer *cap;
    struct evbuffer *hold[2];   /* IMAP_RELAY_HOLD per direction */
    struct evbuffer *gather[2]; /* output gathered per direction (gather_flush), or NULL */
    int64_t start_wall, start_mono;
    char client_addr[INET6_ADDRSTRLEN];
    int client_port;
    int closing;
    char reason[256];
    struct event *close_timer;
    /* STARTTLS in progress */
    int srv_tls_wanted;    /* the server leg upgrades (pass-through) */
    int cli_tls_wanted;    /* the client leg upgrades once its output is out */
    int release_after_srv; /* the held OK goes to the client after the server's handshake */
    int tls_reset_pending; /* tell the session when both legs are done */
    int srv_upgraded_now, cli_upgraded_now;
    enum auto_tls auto_tls;
    char *greeting; /* imap+starttls: the greeting, relayed after TLS */
    size_t greeting_len;
    struct event *ka_timer; /* --keepalive */
    int64_t last_client;    /* monotonic time of the client's last byte */
    struct evdns_getaddrinfo_request *dns_req;
    struct evutil_addrinfo *addrs, *next_addr; /* resolved upstream, being tried */
    struct event *connect_ev;
    char connect_error[128];
    char upstream_error[300];
};

static void pump(struct conn *c);
static void conn_close(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void side_readcb(struct bufferevent *bev, void *arg);
static void side_writecb(struct bufferevent *bev, void *arg);
static void side_eventcb(struct bufferevent *bev, short what, void *arg);

int64_t now_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t now_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum side_id side_of(const struct conn *c, const struct bufferevent *bev)
{
    return c->side[CLI].bev == bev ? CLI : SRV;
}

/* The input of direction d comes from the client for c2s. */
static struct side *input_side(struct conn *c, enum imap_dir d)
{
    return &c->side[d == IMAP_C2S ? CLI : SRV];
}

static struct side *output_side(struct conn *c, enum imap_dir d)
{
    return &c->side[d == IMAP_C2S ? SRV : CLI];
}

static void set_socket_options(evutil_socket_t fd)
{
    int one = 1;

    /* IMAP is request/response: Nagle would put 40 ms stalls into the tail */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

/* Nagle only while a unit is part way through (a literal, a long line):
 * bulk data then leaves in full segments rather than one per TLS record,
 * which halves the reader's work per byte; the end of a unit is pushed at
 * once (Linux sends what waits when TCP_NODELAY is set again). */
static void tune_coalescing(struct conn *c, enum imap_dir d)
{
    struct side *out = output_side(c, d);
    int bulk = imap_session_mid_unit(c->sess, d);
    int nodelay = !bulk;

    if (out->bev == NULL || out->fd < 0 || bulk == out->coalescing)
        return;
    if (setsockopt(out->fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay)) == 0)
        out->coalescing = bulk;
}

static void set_clock(struct conn *c)
{
    imap_session_set_clock(c->sess, now_wall_us(), now_mono_us());
}

/* ----------------------------------------------------------------- logging */

static int on_event(void *arg, const struct imap_event *ev)
{
    struct conn *c = arg;
    return jlog_event(c->js, ev);
}

/* An event imaptap itself causes (a local BYE, a STARTTLS step). */
static void log_local(struct conn *c, struct imap_event *ev)
{
    ev->ts_us = now_wall_us();
    jlog_event(c->js, ev);
}

/* imaptap's own STARTTLS towards an imap+starttls upstream. */
static void log_starttls(struct conn *c, const char *state, const char *why)
{
    struct imap_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = IMAP_EV_STARTTLS;
    ev.u.starttls.leg = (struct imap_str){"server", 6};
    ev.u.starttls.state = (struct imap_str){state, strlen(state)};
    if (why != NULL)
        ev.u.starttls.text = (struct imap_str){why, strlen(why)};
    log_local(c, &ev);
}

static void log_tls(struct conn *c, enum side_id id)
{
    struct tls_desc d;
    int verified = -1; /* the client leg: no client certificates */

    if (id == SRV)
        verified =
            !c->px->opt->upstream_insecure && SSL_get_verify_result(c->side[id].ssl) == X509_V_OK;
    tls_describe(c->side[id].ssl, id == CLI ? "client" : "server", verified, &d);
    jlog_tls(c->js, now_wall_us(), &d.info);
}

static void capture(struct conn *c, enum cap_type type, const void *data, size_t len)
{
    if (c->cap != NULL && cap_write(c->cap, type, now_wall_us(), data, len) < 0) {
        /* a capture that cannot be written is given up, the session goes on */
        struct imap_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = IMAP_EV_ANOMALY;
        ev.u.anomaly.kind = (struct imap_str){"capture_failed", 14};
        ev.u.anomaly.text =
            (struct imap_str){cap_writer_path(c->cap), strlen(cap_writer_path(c->cap))};
        log_local(c, &ev);
        cap_writer_close(c->cap);
        c->cap = NULL;
    }
}

/* ------------------------------------------------------------ flow control */

/* With read-ahead (tls.c), OpenSSL reads several records per system call
 * and keeps what it has not decrypted yet; libevent 2.1 only comes back for
 * it when the socket is readable again, which it may never be: look now. */
static void kick_tls_read(struct side *s)
{
    if (s->bev != NULL && s->ssl != NULL && s->ready && !s->upgrading &&
        bufferevent_get_underlying(s->bev) == NULL && (bufferevent_get_enabled(s->bev) & EV_READ) &&
        SSL_has_pending(s->ssl))
        event_active(&s->bev->ev_read, EV_READ, 1);
}

static void update_reading(struct conn *c, enum side_id id)
{
    struct side *s = &c->side[id];

    if (s->bev == NULL || c->closing)
        return;
    if (s->paused || s->log_paused || s->upgrading || (id == CLI && c->cli_tls_wanted) ||
        (id == SRV && (c->srv_tls_wanted || c->auto_tls == AUTO_HANDSHAKE)))
        bufferevent_disable(s->bev, EV_READ);
    else {
        bufferevent_enable(s->bev, EV_READ);
        kick_tls_read(s);
    }
}

/* After moving bytes into out's output: stop the producer while it is full. */
static void check_backpressure(struct conn *c, enum imap_dir d)
{
    struct side *in = input_side(c, d), *out = output_side(c, d);
    size_t max = c->px->opt->buffer_max;

    if (out->bev == NULL)
        return;
    if (evbuffer_get_length(bufferevent_get_output(out->bev)) >= max && !in->paused) {
        in->paused = 1;
        /* the writecb fires when the output drains to half */
        bufferevent_setwatermark(out->bev, EV_WRITE, max / 2, 0);
        update_reading(c, d == IMAP_C2S ? CLI : SRV);
    }
}

/* ------------------------------------------------------------ relay pump */

/* Feeds the session what it has not seen of a side's input. */
static void feed(struct conn *c, enum imap_dir d)
{
    struct side *in = input_side(c, d);
    struct evbuffer *buf;
    size_t have, pending;
    struct evbuffer_ptr ptr;
    struct evbuffer_iovec iov[16];
    int n, i;

    if (in->bev == NULL || in->upgrading)
        return;
    /* client bytes wait in their buffer until the server side can take them */
    if (d == IMAP_C2S && (!c->side[SRV].ready || c->side[SRV].upgrading))
        return;
    buf = bufferevent_get_input(in->bev);
    have = evbuffer_get_length(buf);
    pending = imap_session_relay_pending(c->sess, d);
    if (have <= pending)
        return;
    set_clock(c);
    if (d == IMAP_C2S)
        c->last_client = now_mono_us();
    if (evbuffer_ptr_set(buf, &ptr, pending, EVBUFFER_PTR_SET) < 0)
        return;
    while (pending < have) {
        n = evbuffer_peek(buf, (ev_ssize_t)(have - pending), &ptr, iov, 16);
        if (n <= 0)
            break;
        if (n > 16)
            n = 16;
        for (i = 0; i < n; i++) {
            size_t len = iov[i].iov_len;
            if (len > have - pending)
                len = have - pending;
            capture(c, d == IMAP_C2S ? CAP_C2S : CAP_S2C, iov[i].iov_base, len);
            imap_session_feed(c->sess, d, iov[i].iov_base, len);
            pending += len;
        }
        if (evbuffer_ptr_set(buf, &ptr, pending, EVBUFFER_PTR_SET) < 0)
            break;
    }
}

/* bufferevent_openssl writes one TLS record per buffer chain, and the
 * chains mirror the reads: Dovecot writes 4 KiB records, and imaptap would
 * write the same.  While more records already wait in OpenSSL (read-ahead),
 * a direction's output to a TLS side is gathered instead, and handed over
 * as one run: records of up to 16 KiB, a quarter of the write(2) calls and
 * less work for the reader.  The gather buffer exists only while in use. */
#define GATHER_MAX (64 * 1024)

static int gathers(const struct side *out)
{
    return out->bev != NULL && out->ssl != NULL && !out->upgrading &&
           bufferevent_get_underlying(out->bev) == NULL;
}

/* More input of this direction is already decrypted or buffered in OpenSSL
 * and will be read without waiting for the network (kick_tls_read). */
static int more_input_waiting(const struct conn *c, enum imap_dir d)
{
    const struct side *in = &c->side[d == IMAP_C2S ? CLI : SRV];

    return !c->closing && in->bev != NULL && in->ssl != NULL && !in->eof && !in->paused &&
           !in->log_paused && (bufferevent_get_enabled(in->bev) & EV_READ) &&
           SSL_has_pending(in->ssl);
}

/* The gathered output of direction d goes to its side, as one run. */
static void gather_flush(struct conn *c, enum imap_dir d)
{
    struct evbuffer *g = c->gather[d];
    struct side *out = output_side(c, d);
    size_t n;

    if (g == NULL)
        return;
    n = evbuffer_get_length(g);
    if (n > GATHER_MAX)
        n = GATHER_MAX;
    if (n > 0 && evbuffer_get_contiguous_space(g) < n)
        evbuffer_pullup(g, (ev_ssize_t)n);
    if (out->bev != NULL)
        evbuffer_add_buffer(bufferevent_get_output(out->bev), g);
    evbuffer_free(g);
    c->gather[d] = NULL;
}

/* Applies the session's operations for one direction; 0 when none were ready. */
static int apply_ops(struct conn *c, enum imap_dir d)
{
    struct side *in = input_side(c, d), *out = output_side(c, d);
    struct evbuffer *src = in->bev ? bufferevent_get_input(in->bev) : NULL;
    struct evbuffer *dst = out->bev ? bufferevent_get_output(out->bev) : NULL;
    struct imap_relay_op op;
    int any = 0;

    if (gathers(out) && (c->gather[d] != NULL || more_input_waiting(c, d))) {
        if (c->gather[d] == NULL)
            c->gather[d] = evbuffer_new();
        if (c->gather[d] != NULL)
            dst = c->gather[d];
    }

    while (imap_session_relay_next(c->sess, d, &op)) {
        any = 1;
        switch (op.kind) {
        case IMAP_RELAY_PASS:
            if (dst != NULL)
                evbuffer_remove_buffer(src, dst, op.len);
            else
                evbuffer_drain(src, op.len); /* the other side is gone */
            break;
        case IMAP_RELAY_DROP:
            evbuffer_drain(src, op.len);
            break;
        case IMAP_RELAY_HOLD:
            evbuffer_remove_buffer(src, c->hold[d], op.len);
            break;
        case IMAP_RELAY_INSERT:
            if (dst != NULL)
                evbuffer_add(dst, op.data, op.len);
            break;
        case IMAP_RELAY_RELEASE:
            if (d == IMAP_S2C && c->srv_tls_wanted)
                c->release_after_srv = 1;
            else if (dst != NULL)
                evbuffer_add_buffer(dst, c->hold[d]);
            break;
        case IMAP_RELAY_STARTTLS:
            /* s2c: the server said OK to STARTTLS; c2s: the client leg upgrades */
            if (d == IMAP_S2C)
                c->srv_tls_wanted = 1;
            else
                c->cli_tls_wanted = 1;
            c->tls_reset_pending = 1;
            update_reading(c, CLI);
            update_reading(c, SRV);
            break;
        case IMAP_RELAY_CLOSE:
            conn_close(c, "error: closed by imaptap"); /* flushes the gathered */
            return 0;
        }
    }
    if (c->gather[d] != NULL &&
        (!more_input_waiting(c, d) || evbuffer_get_length(c->gather[d]) >= GATHER_MAX))
        gather_flush(c, d);
    if (any)
        check_backpressure(c, d);
    return any;
}

static void start_tls_upgrades(struct conn *c);

/* No byte waits in either input. */
static int quiet(const struct conn *c)
{
    int i;

    for (i = 0; i < 2; i++) {
        const struct side *s = &c->side[i];
        if (s->bev != NULL && evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
            return 0;
    }
    return 1;
}

/*
 * bufferevent_openssl reserves a 16 KiB chain for every read; when SSL_read
 * yields nothing the empty chain stays, and evbuffer_drain() of an empty
 * buffer does nothing.  Prepending a byte (the input's start is not frozen)
 * and draining it frees every chain: two idle TLS legs hold 32 KiB less.
 */
static void release_empty_chains(struct conn *c)
{
    int i;

    for (i = 0; i < 2; i++) {
        struct side *s = &c->side[i];
        struct evbuffer *in;
        if (s->bev == NULL || s->upgrading)
            continue;
        in = bufferevent_get_input(s->bev);
        if (evbuffer_get_length(in) == 0 && evbuffer_prepend(in, "", 1) == 0)
            evbuffer_drain(in, 1);
    }
}

/* Client bytes the session has not seen yet. */
static int client_waiting(struct conn *c)
{
    struct side *in = &c->side[CLI];

    return in->bev != NULL && evbuffer_get_length(bufferevent_get_input(in->bev)) >
                                  imap_session_relay_pending(c->sess, IMAP_C2S);
}

static void start_tls_upgrades(struct conn *c);

static void pump(struct conn *c)
{
    int ka_was;

    if (c->closing || c->auto_tls != AUTO_NONE)
        return;
    do {
        ka_was = imap_session_keepalive_pending(c->sess);
        feed(c, IMAP_S2C);
        apply_ops(c, IMAP_S2C);
        apply_ops(c, IMAP_C2S);
        /* client bytes wait while imaptap's own keepalive command is out;
         * an IDLE keepalive is ended for them */
        if (!imap_session_keepalive_pending(c->sess)) {
            feed(c, IMAP_C2S);
            apply_ops(c, IMAP_C2S);
            apply_ops(c, IMAP_S2C);
        } else if (client_waiting(c)) {
            c->last_client = now_mono_us();
            set_clock(c);
            imap_session_keepalive_interrupt(c->sess);
            apply_ops(c, IMAP_C2S);
        }
        if (c->closing)
            return;
    } while (ka_was && !imap_session_keepalive_pending(c->sess));
    tune_coalescing(c, IMAP_S2C);
    tune_coalescing(c, IMAP_C2S);
    /* records OpenSSL holds: also after the input fell below its high-water
     * mark, which re-enables reading without reading */
    kick_tls_read(&c->side[CLI]);
    kick_tls_read(&c->side[SRV]);
    if (c->srv_tls_wanted || c->cli_tls_wanted)
        start_tls_upgrades(c);
    if (quiet(c)) {
        /* nothing in flight through us: scratch memory goes back (most
         * sessions are idle most of the time) */
        imap_session_trim(c->sess);
        jlog_session_trim(c->js);
        release_empty_chains(c);
    }
    if (jlog_congested(c->px->log) && !c->px->log_paused) {
        /* the log is behind: every session stops reading until it drains */
        struct conn *k;
        c->px->log_paused = 1;
        for (k = c->px->conns; k != NULL; k = k->next) {
            k->side[CLI].log_paused = k->side[SRV].log_paused = 1;
            update_reading(k, CLI);
            update_reading(k, SRV);
        }
    }
}

void conn_resume_all(struct proxy *px)
{
    struct conn *c;

    if (!px->log_paused || jlog_congested(px->log))
        return;
    px->log_paused = 0;
    for (c = px->conns; c != NULL; c = c->next) {
        c->side[CLI].log_paused = c->side[SRV].log_paused = 0;
        update_reading(c, CLI);
        update_reading(c, SRV);
    }
}

/* ---------------------------------------------------------------- STARTTLS */

static int upgrade_side(struct conn *c, enum side_id id)
{
    struct side *s = &c->side[id];
    struct bufferevent *nb;
    SSL *ssl;

    if (id == CLI)
        ssl = SSL_new(c->px->server_ctx);
    else
        ssl =
            tls_client_ssl(c->px->client_ctx, c->l->upstream->host, c->px->opt->upstream_insecure);
    if (ssl == NULL)
        return -1;
    /* whatever plaintext is still buffered was injected: never feed it to TLS */
    evbuffer_drain(bufferevent_get_input(s->bev),
                   evbuffer_get_length(bufferevent_get_input(s->bev)));
    nb = bufferevent_openssl_filter_new(c->px->base, s->bev, ssl,
                                        id == CLI ? BUFFEREVENT_SSL_ACCEPTING
                                                  : BUFFEREVENT_SSL_CONNECTING,
                                        BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (nb == NULL) {
        SSL_free(ssl);
        return -1;
    }
    s->bev = nb;
    s->ssl = ssl;
    s->upgrading = 1;
    s->ready = 0;
    bufferevent_setcb(nb, side_readcb, side_writecb, side_eventcb, c);
    bufferevent_setwatermark(nb, EV_READ, 0, c->px->opt->buffer_max);
    bufferevent_set_timeouts(nb, NULL, NULL);
    bufferevent_enable(nb, EV_READ | EV_WRITE);
    return 0;
}

/* Order (protocol.md §5.1): the server leg first, then the OK to the client,
 * then the client leg once that OK has left. */
static void start_tls_upgrades(struct conn *c)
{
    if (c->srv_tls_wanted && !c->side[SRV].upgrading) {
        if (upgrade_side(c, SRV) < 0) {
            conn_close(c, "error: cannot start TLS towards the server");
            return;
        }
    }
    if (c->cli_tls_wanted && !c->srv_tls_wanted && !c->side[CLI].upgrading &&
        evbuffer_get_length(bufferevent_get_output(c->side[CLI].bev)) == 0) {
        if (upgrade_side(c, CLI) < 0)
            conn_close(c, "error: cannot start TLS towards the client");
    }
}

/* A STARTTLS handshake finished on one leg. */
static void upgraded(struct conn *c, enum side_id id)
{
    struct side *s = &c->side[id];

    s->upgrading = 0;
    s->tls = 1;
    s->ready = 1;
    log_tls(c, id);
    if (id == SRV) {
        c->srv_tls_wanted = 0;
        c->srv_upgraded_now = 1;
        if (c->release_after_srv) {
            c->release_after_srv = 0;
            gather_flush(c, IMAP_S2C);
            evbuffer_add_buffer(bufferevent_get_output(c->side[CLI].bev), c->hold[IMAP_S2C]);
        }
    } else {
        c->cli_tls_wanted = 0;
        c->cli_upgraded_now = 1;
    }
    if (!c->srv_tls_wanted && !c->cli_tls_wanted && c->tls_reset_pending) {
        c->tls_reset_pending = 0;
        capture(c, CAP_TLS, NULL, 0);
        set_clock(c);
        imap_session_tls_started(c->sess, c->cli_upgraded_now, c->srv_upgraded_now);
        c->cli_upgraded_now = c->srv_upgraded_now = 0;
    }
    update_reading(c, CLI);
    update_reading(c, SRV);
    if (c->cli_tls_wanted)
        start_tls_upgrades(c);
    pump(c);
}

/* ------------------------------------------------- imap+starttls upstream */

static void auto_tls_fail(struct conn *c, const char *why);

/* Reads the greeting and the STARTTLS reply before the session sees a byte. */
static void auto_tls_read(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->side[SRV].bev);
    size_t len;
    char *line;

    while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
        if (c->auto_tls == AUTO_GREETING) {
            if (len < 4 || strncmp(line, "* OK", 4) != 0) {
                /* PREAUTH or BYE on cleartext: never continue without TLS */
                char why[160];
                snprintf(why, sizeof(why), "upstream greeting is not \"* OK\" (%.100s)", line);
                free(line);
                auto_tls_fail(c, why);
                return;
            }
            c->greeting = line;
            c->greeting_len = len;
            evbuffer_add(bufferevent_get_output(c->side[SRV].bev), "PXS0 STARTTLS\r\n", 15);
            c->auto_tls = AUTO_REPLY;
            log_starttls(c, "requested", NULL);
            continue;
        }
        if (c->auto_tls == AUTO_REPLY && strncmp(line, "PXS0 ", 5) == 0) {
            int ok = len >= 7 && strncmp(line + 5, "OK", 2) == 0;
            if (!ok) {
                char why[160];
                snprintf(why, sizeof(why), "upstream refused STARTTLS (%.100s)", line);
                free(line);
                log_starttls(c, "failed", why);
                auto_tls_fail(c, why);
                return;
            }
            free(line);
            c->auto_tls = AUTO_HANDSHAKE;
            if (evbuffer_get_length(in) > 0) {
                struct imap_event ev;
                memset(&ev, 0, sizeof(ev));
                ev.type = IMAP_EV_ANOMALY;
                ev.flags = IMAP_EVF_DISCARDED;
                ev.u.anomaly.kind = (struct imap_str){"plaintext_after_starttls", 24};
                ev.u.anomaly.has_bytes = 1;
                ev.u.anomaly.bytes = evbuffer_get_length(in);
                log_local(c, &ev);
            }
            if (upgrade_side(c, SRV) < 0)
                auto_tls_fail(c, "cannot start TLS towards the server");
            return;
        }
        free(line); /* untagged lines before the reply */
    }
    if (evbuffer_get_length(in) > AUTO_STARTTLS_LINE_MAX)
        auto_tls_fail(c, "upstream sent an overlong line before STARTTLS");
}

/* The greeting saved before TLS, without its pre-TLS capability code
 * (RFC 3501 §6.2.1: capabilities learned before TLS are void). */
static void auto_tls_done(struct conn *c)
{
    char *g = c->greeting, *code;
    struct evbuffer *tmp = evbuffer_new();
    size_t len = c->greeting_len;

    c->auto_tls = AUTO_NONE;
    if (tmp == NULL) {
        conn_close(c, "error: out of memory");
        return;
    }
    code = len > 5 ? strstr(g, "[CAPABILITY ") : NULL;
    if (code == g + 5) {
        char *close = strchr(code, ']');
        if (close != NULL) {
            size_t skip = (size_t)(close + 1 - code);
            if (close[1] == ' ')
                skip++;
            memmove(code, code + skip, len - (size_t)(code - g) - skip + 1);
            len -= skip;
        }
    }
    /* the session sees the greeting as the first bytes of the TLS stream */
    evbuffer_add(tmp, g, len);
    evbuffer_add(tmp, "\r\n", 2);
    evbuffer_prepend_buffer(bufferevent_get_input(c->side[SRV].bev), tmp);
    evbuffer_free(tmp);
    free(c->greeting);
    c->greeting = NULL;
    update_reading(c, CLI);
    update_reading(c, SRV);
    pump(c);
}

/* ------------------------------------------------------------- callbacks */

static void side_readcb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;

    if (c->auto_tls == AUTO_GREETING || c->auto_tls == AUTO_REPLY) {
        if (side_of(c, bev) == SRV)
            auto_tls_read(c);
        return;
    }
    pump(c);
}

static void side_writecb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    enum side_id id = side_of(c, bev);
    struct side *producer = &c->side[id == CLI ? SRV : CLI];

    if (c->closing) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
            struct side *other = &c->side[id == CLI ? SRV : CLI];
            if (other->bev == NULL || evbuffer_get_length(bufferevent_get_output(other->bev)) == 0)
                conn_close(c, NULL); /* flushed: finish the close */
        }
        return;
    }
    if (producer->paused) {
        producer->paused = 0;
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
        update_reading(c, id == CLI ? SRV : CLI);
        pump(c);
    }
    if (c->cli_tls_wanted && id == CLI)
        start_tls_upgrades(c);
}

static void upstream_failed(struct conn *c, const char *why)
{
    if (why != c->upstream_error) {
        size_t n = strnlen(why, sizeof(c->upstream_error) - 1);
        memcpy(c->upstream_error, why, n);
        c->upstream_error[n] = '\0';
    }
    if (c->side[CLI].ready) {
        /* the client is told in IMAP, and the log says so (a local response) */
        static const char prefix[] = "* BYE [UNAVAILABLE] ";
        char line[400];
        struct imap_event ev;
        int n = snprintf(line, sizeof(line), "%simaptap: %s\r\n", prefix, c->upstream_error);
        if (n < 0 || (size_t)n >= sizeof(line))
            n = (int)sizeof(line) - 1;
        gather_flush(c, IMAP_S2C);
        evbuffer_add(bufferevent_get_output(c->side[CLI].bev), line, (size_t)n);
        memset(&ev, 0, sizeof(ev));
        ev.type = IMAP_EV_UNTAGGED;
        ev.flags = IMAP_EVF_LOCAL;
        ev.u.untagged.name = (struct imap_str){"BYE", 3};
        ev.u.untagged.code = (struct imap_str){"UNAVAILABLE", 11};
        ev.u.untagged.text =
            (struct imap_str){line + sizeof(prefix) - 1, (size_t)n - (sizeof(prefix) - 1) - 2};
        log_local(c, &ev);
        conn_close(c, "error: %s", c->upstream_error);
    }
    /* else the BYE goes out when the client's handshake finishes */
}

static void auto_tls_fail(struct conn *c, const char *why)
{
    upstream_failed(c, why);
}

/* A peer closed its side (or reset it): what was read is relayed, the
 * other side gets what is buffered for it, and the session ends. */
static void peer_closed(struct conn *c, enum side_id id)
{
    c->side[id].eof = 1;
    if (id == SRV && c->auto_tls != AUTO_NONE) {
        upstream_failed(c, "upstream closed before TLS");
        return;
    }
    pump(c);
    set_clock(c);
    capture(c, id == CLI ? CAP_C2S_EOF : CAP_S2C_EOF, NULL, 0);
    imap_session_eof(c->sess, id == CLI ? IMAP_C2S : IMAP_S2C);
    apply_ops(c, id == CLI ? IMAP_C2S : IMAP_S2C);
    if (imap_session_state(c->sess) == IMAP_STATE_LOGOUT || imap_session_logged_out(c->sess))
        conn_close(c, "logout");
    else if (id == SRV && imap_session_saw_bye(c->sess))
        conn_close(c, "bye");
    else
        conn_close(c, id == CLI ? "client_closed" : "server_closed");
}

static void side_eventcb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    enum side_id id = side_of(c, bev);
    struct side *s = &c->side[id];

    if (c->closing) {
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
            s->eof = 1;
            conn_close(c, NULL); /* the peer is gone: nothing left to flush to it */
        }
        return;
    }
    if (what & BEV_EVENT_CONNECTED) {
        if (s->upgrading) {
            if (id == SRV && c->auto_tls == AUTO_HANDSHAKE) {
                s->upgrading = 0;
                s->tls = s->ready = 1;
                log_starttls(c, "ok", NULL);
                log_tls(c, SRV);
                auto_tls_done(c);
                return;
            }
            upgraded(c, id);
            return;
        }
        s->ready = 1;
        if (s->tls)
            log_tls(c, id);
        bufferevent_set_timeouts(bev, NULL, NULL);
        if (id == CLI && c->upstream_error[0] != '\0') {
            upstream_failed(c, c->upstream_error);
            return;
        }
        update_reading(c, id);
        pump(c);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        peer_closed(c, id);
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        unsigned long e = bufferevent_get_openssl_error(bev);
        char why[256];
        int sockerr = EVUTIL_SOCKET_ERROR();
        if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SYS) {
            /* OpenSSL 3 records a failed read or write as errno */
            sockerr = ERR_GET_REASON(e);
            e = 0;
        } else if (e != 0 && ERR_GET_LIB(e) == 0) {
            /* libevent passes SSL_ERROR_SYSCALL itself: errno tells the rest */
            e = 0;
        }
        if (what & BEV_EVENT_TIMEOUT)
            snprintf(why, sizeof(why), "%s",
                     id == CLI ? "client TLS handshake timed out"
                               : "upstream did not answer in time");
        else if (s->ssl != NULL && (!s->ready || e != 0))
            tls_failure(s->ssl, e, why, sizeof(why));
        else
            snprintf(why, sizeof(why), "%s", evutil_socket_error_to_string(sockerr));
        ERR_clear_error();
        if (id == SRV && !s->ready) {
            char msg[300];
            snprintf(msg, sizeof(msg), "upstream %s: %s",
                     s->upgrading || s->tls ? "TLS failed" : "connect failed", why);
            if (s->upgrading && c->auto_tls == AUTO_NONE)
                imap_session_tls_failed(c->sess, 0, why);
            upstream_failed(c, msg);
            return;
        }
        if (id == CLI && !s->ready) {
            if (s->upgrading)
                imap_session_tls_failed(c->sess, 1, why);
            conn_close(c, "error: client TLS failed: %s", why);
            return;
        }
        if (!(what & BEV_EVENT_TIMEOUT) && e == 0 &&
            (sockerr == ECONNRESET || sockerr == EPIPE || sockerr == 0)) {
            /* a reset is the peer closing, only more abruptly */
            peer_closed(c, id);
            return;
        }
        conn_close(c, "error: %s %s", id == CLI ? "client" : "server", why);
    }
}

/* ------------------------------------------------------------ upstream */

/* The TCP connection to the server is up: the bufferevent takes over. */
static void upstream_connected(struct conn *c, evutil_socket_t fd)
{
    const struct url *up = c->l->upstream;
    struct bufferevent *bev;

    if (up->scheme == URL_IMAPS) {
        SSL *ssl = tls_client_ssl(c->px->client_ctx, up->host, c->px->opt->upstream_insecure);
        bev = ssl ? bufferevent_openssl_socket_new(c->px->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
                  : NULL;
        if (bev == NULL)
            SSL_free(ssl);
        c->side[SRV].ssl = ssl;
        c->side[SRV].tls = 1;
    } else {
        bev = bufferevent_socket_new(c->px->base, fd,
                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    }
    if (bev == NULL) {
        evutil_closesocket(fd);
        upstream_failed(c, "out of memory");
        return;
    }
    c->side[SRV].bev = bev;
    c->side[SRV].fd = fd;
    bufferevent_setcb(bev, side_readcb, side_writecb, side_eventcb, c);
    bufferevent_setwatermark(bev, EV_READ, 0, c->px->opt->buffer_max);
    if (up->scheme == URL_IMAPS) {
        struct timeval tv = {UPSTREAM_CONNECT_S, 0};
        bufferevent_set_timeouts(bev, &tv, &tv); /* the handshake */
    }
    if (up->scheme == URL_IMAP_STARTTLS)
        c->auto_tls = AUTO_GREETING;
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    if (up->scheme != URL_IMAPS) {
        c->side[SRV].ready = 1;
        update_reading(c, SRV);
        pump(c);
    }
}

static void connect_next(struct conn *c);

/* A non-blocking connect finished (or timed out). */
static void connect_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    int err = 0;
    socklen_t len = sizeof(err);

    event_free(c->connect_ev);
    c->connect_ev = NULL;
    if (what & EV_TIMEOUT)
        err = ETIMEDOUT;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        evutil_closesocket(fd);
        snprintf(c->connect_error, sizeof(c->connect_error), "%s", strerror(err));
        connect_next(c); /* the next address, if any */
        return;
    }
    evutil_freeaddrinfo(c->addrs);
    c->addrs = c->next_addr = NULL;
    upstream_connected(c, fd);
}

/* Tries the resolved addresses in turn; the last error is the one told. */
static void connect_next(struct conn *c)
{
    const struct url *up = c->l->upstream;
    struct timeval tv = {UPSTREAM_CONNECT_S, 0};

    while (c->next_addr != NULL) {
        struct evutil_addrinfo *ai = c->next_addr;
        evutil_socket_t fd;
        c->next_addr = ai->ai_next;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(c->connect_error, sizeof(c->connect_error), "%s", strerror(errno));
            continue;
        }
        set_socket_options(fd); /* before the handshake: Nagle would delay it */
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            evutil_freeaddrinfo(c->addrs);
            c->addrs = c->next_addr = NULL;
            upstream_connected(c, fd);
            return;
        }
        if (errno != EINPROGRESS) {
            snprintf(c->connect_error, sizeof(c->connect_error), "%s", strerror(errno));
            evutil_closesocket(fd);
            continue;
        }
        c->connect_ev = event_new(c->px->base, fd, EV_WRITE, connect_cb, c);
        if (c->connect_ev == NULL) {
            evutil_closesocket(fd);
            break;
        }
        event_add(c->connect_ev, &tv);
        return;
    }
    evutil_freeaddrinfo(c->addrs);
    c->addrs = NULL;
    {
        char why[512];
        snprintf(why, sizeof(why), "upstream connect to %.200s:%s failed: %s", up->host, up->port,
                 c->connect_error[0] ? c->connect_error : "no address");
        upstream_failed(c, why);
    }
}

static void upstream_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    struct conn *c = arg;
    const struct url *up = c->l->upstream;

    c->dns_req = NULL;
    if (result == EVUTIL_EAI_CANCEL)
        return;
    if (result != 0 || res == NULL) {
        char why[300];
        snprintf(why, sizeof(why), "upstream %s: %s", up->host, evutil_gai_strerror(result));
        upstream_failed(c, why);
        return;
    }
    c->addrs = c->next_addr = res;
    connect_next(c);
}

/* ------------------------------------------------------------------ close */

static void conn_free(struct conn *c);

static void close_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_free(arg);
}

/* Frees from the event loop, never from inside a callback that may still
 * use the session after it asked to close. */
static void schedule_free(struct conn *c, int seconds)
{
    struct timeval tv = {seconds, 0};

    if (c->close_timer == NULL) {
        c->close_timer = evtimer_new(c->px->base, close_timeout, c);
        if (c->close_timer == NULL)
            return; /* out of memory: it stays until the process ends */
    }
    evtimer_del(c->close_timer);
    evtimer_add(c->close_timer, &tv);
}

static void conn_free(struct conn *c)
{
    struct proxy *px = c->px;
    int i;

    if (c->dns_req != NULL)
        evdns_getaddrinfo_cancel(c->dns_req);
    if (c->connect_ev != NULL) {
        evutil_closesocket(event_get_fd(c->connect_ev));
        event_free(c->connect_ev);
    }
    if (c->addrs != NULL)
        evutil_freeaddrinfo(c->addrs);
    for (i = 0; i < 2; i++) {
        if (c->side[i].bev != NULL) {
            if (c->side[i].ssl != NULL && c->side[i].ready)
                SSL_shutdown(c->side[i].ssl); /* close_notify, best effort */
            bufferevent_free(c->side[i].bev);
        }
        if (c->hold[i] != NULL)
            evbuffer_free(c->hold[i]);
        if (c->gather[i] != NULL)
            evbuffer_free(c->gather[i]);
    }
    if (c->close_timer != NULL)
        event_free(c->close_timer);
    if (c->ka_timer != NULL)
        event_free(c->ka_timer);
    imap_session_free(c->sess);
    jlog_session_free(c->js);
    cap_writer_close(c->cap);
    free(c->greeting);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        px->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    px->nconns--;
    free(c);
    if (px->draining && px->nconns == 0)
        event_base_loopexit(px->base, NULL);
}

/*
 * The one close path.  With a reason: log session_close, stop reading, let
 * buffered output drain (at most CLOSE_FLUSH_S), then free.  With NULL: the
 * output has drained.
 */
static void conn_close(struct conn *c, const char *fmt, ...)
{
    struct jlog_close_info ci;
    int i, pending = 0;

    if (fmt == NULL) {
        if (c->closing)
            schedule_free(c, 0);
        return;
    }
    if (c->closing)
        return;
    c->closing = 1;
    gather_flush(c, IMAP_C2S); /* relayed bytes go out before the close */
    gather_flush(c, IMAP_S2C);
    {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
        va_end(ap);
    }
    memset(&ci, 0, sizeof(ci));
    ci.reason = c->reason;
    ci.bytes_c2s = imap_session_bytes(c->sess, IMAP_C2S);
    ci.bytes_s2c = imap_session_bytes(c->sess, IMAP_S2C);
    ci.commands = imap_session_commands(c->sess);
    ci.duration_ms = (double)(now_mono_us() - c->start_mono) / 1000.0;
    ci.user = imap_session_user(c->sess);
    jlog_session_close(c->js, now_wall_us(), &ci);
    if (c->cap != NULL) {
        char meta[320];
        int n = snprintf(meta, sizeof(meta), "{\"close\":\"%.200s\"}", c->reason);
        capture(c, CAP_META, meta, (size_t)n);
    }
    for (i = 0; i < 2; i++) {
        struct side *s = &c->side[i];
        if (s->bev == NULL)
            continue;
        bufferevent_disable(s->bev, EV_READ);
        if (s->coalescing && s->fd >= 0) {
            int one = 1; /* what is left goes out now, not at the next ACK */
            setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            s->coalescing = 0;
        }
        if (s->ready && !s->eof && !s->upgrading &&
            evbuffer_get_length(bufferevent_get_output(s->bev)) > 0) {
            pending = 1;
            bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
        }
    }
    /* flush what the peer may still read, but never wait forever */
    schedule_free(c, pending ? CLOSE_FLUSH_S : 0);
}

void conn_close_all(struct proxy *px, const char *reason)
{
    struct conn *c = px->conns, *next;

    while (c != NULL) {
        next = c->next;
        if (!c->closing)
            conn_close(c, "%s", reason);
        c = next;
    }
}

/* -------------------------------------------------------------- keepalive */

static void ka_arm(struct conn *c, int64_t us)
{
    struct timeval tv;

    if (us < 200000)
        us = 200000;
    tv.tv_sec = (time_t)(us / 1000000);
    tv.tv_usec = (suseconds_t)(us % 1000000);
    evtimer_add(c->ka_timer, &tv);
}

static void ka_stop(struct conn *c, const char *why)
{
    struct imap_event ev;

    event_free(c->ka_timer);
    c->ka_timer = NULL;
    memset(&ev, 0, sizeof(ev));
    ev.type = IMAP_EV_ANOMALY;
    ev.u.anomaly.kind = (struct imap_str){"keepalive_stopped", 17};
    ev.u.anomaly.text = (struct imap_str){why, strlen(why)};
    log_local(c, &ev);
}

/* The keepalive timer: the client has been silent; keep the server's
 * session alive for it (design.md §3, protocol.md §4). */
static void ka_fire(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    const struct options *o = c->px->opt;
    int64_t now = now_mono_us(), interval = (int64_t)o->keepalive_s * 1000000;
    int64_t silent = now - c->last_client, waiting;
    int rc;

    (void)fd;
    (void)what;
    if (c->closing)
        return;
    waiting = imap_session_keepalive_waiting(c->sess);
    if (waiting != 0 && now - waiting > (int64_t)KEEPALIVE_REPLY_S * 1000000) {
        /* a keepalive doubles as a liveness probe */
        upstream_failed(c, "upstream not responding to keepalive");
        if (!c->closing)
            conn_close(c, "timeout");
        return;
    }
    if (silent > (int64_t)o->keepalive_max_s * 1000000) {
        ka_stop(c, "client silent longer than --keepalive-max");
        return;
    }
    if (silent < interval && !imap_session_keepalive_pending(c->sess)) {
        ka_arm(c, interval - silent);
        return;
    }
    set_clock(c);
    capture(c, CAP_TIMER, NULL, 0);
    rc = imap_session_keepalive(c->sess);
    if (rc < 0) {
        ka_stop(c, "the server refused a keepalive, or framing was lost");
        return;
    }
    pump(c);
    /* not safe now (a command in flight...): look again soon */
    ka_arm(c, rc == 0 ? interval / 4 : interval);
}

/* ----------------------------------------------------------------- accept */

static void capture_open(struct conn *c)
{
    const struct options *o = c->px->opt;
    char name[96], err[256], meta[1024], ts[40];
    time_t now = time(NULL);
    struct tm tm;
    int n;

    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H.%M.%SZ", &tm);
    snprintf(name, sizeof(name), "%s-%s", ts, jlog_session_sid(c->js));
    c->cap = cap_writer_open(o->capture_dir, name, err, sizeof(err));
    if (c->cap == NULL) {
        struct imap_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = IMAP_EV_ANOMALY;
        ev.u.anomaly.kind = (struct imap_str){"capture_failed", 14};
        ev.u.anomaly.text = (struct imap_str){err, strlen(err)};
        log_local(c, &ev);
        return;
    }
    /* what decode needs to parse the session as the proxy did */
    n = snprintf(meta, sizeof(meta),
                 "{\"sid\":\"%s\",\"client\":{\"addr\":\"%s\",\"port\":%d},\"listener\":\"%s\","
                 "\"upstream\":{\"host\":\"%s\",\"port\":%s},\"options\":{\"client_tls\":%s,"
                 "\"client_starttls\":%s,\"server_tls\":%s,\"server_starttls_auto\":%s,"
                 "\"require_tls\":%s,\"strip_compress\":%s,\"keepalive_search\":%s,"
                 "\"keepalive_idle\":%s,\"keepalive_prefix\":\"%s\"}}",
                 jlog_session_sid(c->js), c->client_addr, c->client_port, c->l->url->text,
                 c->l->upstream->host, c->l->upstream->port,
                 c->l->url->scheme == URL_IMAPS ? "true" : "false",
                 c->px->server_ctx != NULL ? "true" : "false",
                 c->l->upstream->scheme == URL_IMAPS ? "true" : "false",
                 c->l->upstream->scheme == URL_IMAP_STARTTLS ? "true" : "false",
                 o->require_tls ? "true" : "false", o->compress_strip ? "true" : "false",
                 o->keepalive_cmd == IMAP_KA_SEARCH ? "true" : "false",
                 o->keepalive_mode == KA_MODE_IDLE ? "true" : "false", o->keepalive_prefix);
    capture(c, CAP_META, meta, (size_t)n);
}

void conn_accept(struct listener *l, evutil_socket_t fd, const struct sockaddr *sa, int salen)
{
    struct proxy *px = l->px;
    const struct options *o = px->opt;
    struct imap_session_config cfg;
    struct jlog_endpoint client, upstream;
    struct evutil_addrinfo hints;
    struct conn *c;
    int i;

    (void)salen;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        evutil_closesocket(fd);
        return;
    }
    c->px = px;
    c->l = l;
    c->side[CLI].fd = c->side[SRV].fd = -1;
    c->start_wall = now_wall_us();
    c->start_mono = now_mono_us();
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        evutil_inet_ntop(AF_INET6, &s6->sin6_addr, c->client_addr, sizeof(c->client_addr));
        c->client_port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        evutil_inet_ntop(AF_INET, &s4->sin_addr, c->client_addr, sizeof(c->client_addr));
        c->client_port = ntohs(s4->sin_port);
    }
    /* the session: what it may edit depends on both legs */
    imap_session_config_default(&cfg);
    cfg.relay = 1;
    cfg.redact = o->redact;
    cfg.keep_literals = o->log.literals >= JLOG_LITERALS_HEAD;
    if (o->log.literals == JLOG_LITERALS_HEAD)
        cfg.literal_keep = (uint32_t)o->log.head_bytes;
    else if (o->log.literals == JLOG_LITERALS_FULL)
        cfg.literal_keep = cfg.literal_keep_total = 64u * 1024 * 1024;
    cfg.strip_compress = o->compress_strip;
    cfg.client_tls = l->url->scheme == URL_IMAPS;
    cfg.client_starttls = px->server_ctx != NULL;
    cfg.server_tls = l->upstream->scheme != URL_IMAP;
    cfg.server_starttls_auto = l->upstream->scheme == URL_IMAP_STARTTLS;
    cfg.require_tls = o->require_tls;
    cfg.c2s_line_max = o->c2s_line_max;
    cfg.s2c_line_max = o->s2c_line_max;
    cfg.hold_max = o->buffer_max / 2; /* a held line must fit the input buffer */
    cfg.ka_tag_prefix = o->keepalive_prefix;
    cfg.ka_cmd = o->keepalive_cmd;
    cfg.ka_idle = o->keepalive_mode == KA_MODE_IDLE;
    c->js = jlog_session_new(px->log, NULL);
    c->sess = c->js ? imap_session_new(&cfg, on_event, c) : NULL;
    c->hold[0] = evbuffer_new();
    c->hold[1] = evbuffer_new();
    if (c->sess == NULL || c->hold[0] == NULL || c->hold[1] == NULL) {
        imap_session_free(c->sess);
        jlog_session_free(c->js);
        for (i = 0; i < 2; i++)
            if (c->hold[i])
                evbuffer_free(c->hold[i]);
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->next = px->conns;
    if (px->conns != NULL)
        px->conns->prev = c;
    px->conns = c;
    px->nconns++;
    px->accepted++;
    client.addr = c->client_addr;
    client.port = c->client_port;
    upstream.addr = l->upstream->host;
    upstream.port = atoi(l->upstream->port);
    jlog_session_open(c->js, c->start_wall, &client, l->url->text, &upstream);
    if (o->capture_dir != NULL)
        capture_open(c);

    set_socket_options(fd);
    if (l->url->scheme == URL_IMAPS) {
        SSL *ssl = SSL_new(px->server_ctx);
        c->side[CLI].bev =
            ssl ? bufferevent_openssl_socket_new(px->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
                : NULL;
        if (c->side[CLI].bev == NULL)
            SSL_free(ssl);
        c->side[CLI].ssl = ssl;
        c->side[CLI].tls = 1;
    } else {
        c->side[CLI].bev =
            bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        c->side[CLI].ready = 1;
    }
    if (c->side[CLI].bev == NULL) {
        evutil_closesocket(fd);
        conn_close(c, "error: out of memory");
        return;
    }
    c->side[CLI].fd = fd;
    bufferevent_setcb(c->side[CLI].bev, side_readcb, side_writecb, side_eventcb, c);
    bufferevent_setwatermark(c->side[CLI].bev, EV_READ, 0, o->buffer_max);
    if (c->side[CLI].tls) {
        struct timeval tv = {CLIENT_HANDSHAKE_S, 0};
        bufferevent_set_timeouts(c->side[CLI].bev, &tv, &tv);
    }
    bufferevent_enable(c->side[CLI].bev, EV_READ | EV_WRITE);
    if (px->nconns > o->max_sessions) {
        upstream_failed(c, "too many sessions");
        return;
    }
    c->last_client = c->start_mono;
    if (o->keepalive_s > 0) {
        c->ka_timer = evtimer_new(px->base, ka_fire, c);
        if (c->ka_timer != NULL)
            ka_arm(c, (int64_t)o->keepalive_s * 1000000);
    }
    /* connect upstream at once, while the client's handshake runs */
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    c->dns_req = evdns_getaddrinfo(px->dns, l->upstream->host, l->upstream->port, &hints,
                                   upstream_resolved, c);
}
