/*
 * main.c - imaptap: options, TLS contexts, the log, listeners, signals and
 * the event loop.  `imaptap decode` is dispatched to decode.c.
 */
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "decode.h"
#include "pretty.h"
#include "report.h"
#include "stats.h"
#include "options.h"
#include "proxy.h"
#include "tls.h"

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct listener *l = arg;

    (void)lev;
    if (l->px->draining) {
        evutil_closesocket(fd);
        return;
    }
    conn_accept(l, fd, sa, salen);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct listener *l = arg;
    int err = EVUTIL_SOCKET_ERROR();

    (void)lev;
    /* EMFILE and friends: say so and go on; the listener keeps running */
    fprintf(stderr, "imaptap: accept on %s: %s\n", l->url->text,
            evutil_socket_error_to_string(err));
}

static int open_listener(struct proxy *px, size_t i, const struct url *url)
{
    struct listener *l = &px->listeners[i];
    struct addrinfo hints, *res = NULL, *ai;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(url->host, url->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "imaptap: --listen %s: %s\n", url->text, gai_strerror(rc));
        return -1;
    }
    l->px = px;
    l->index = i;
    l->url = url;
    l->upstream = options_upstream_for(px->opt, i);
    errno = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        l->lev = evconnlistener_new_bind(px->base, accept_cb, l,
                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                             LEV_OPT_CLOSE_ON_EXEC,
                                         1024, ai->ai_addr, (int)ai->ai_addrlen);
        if (l->lev != NULL)
            break;
    }
    freeaddrinfo(res);
    if (l->lev == NULL) {
        fprintf(stderr, "imaptap: --listen %s: %s\n", url->text,
                errno ? strerror(errno) : "cannot listen");
        return -1;
    }
    evconnlistener_set_error_cb(l->lev, accept_error_cb);
    return 0;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct proxy *px = arg;
    char err[300];

    (void)sig;
    (void)what;
    if (jlog_reopen(px->log, err, sizeof(err)) < 0)
        fprintf(stderr, "imaptap: SIGHUP: cannot reopen the log: %s\n", err);
}

static void drain_over(evutil_socket_t fd, short what, void *arg)
{
    struct proxy *px = arg;

    (void)fd;
    (void)what;
    conn_close_all(px, "shutdown");
    /* the closes finish in the loop; it exits when the last one is freed */
    if (px->nconns == 0)
        event_base_loopexit(px->base, NULL);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
    struct proxy *px = arg;
    struct timeval tv = {(time_t)px->opt->drain_s, 0};
    size_t i;

    (void)what;
    if (px->draining) {
        /* a second signal: do not wait any longer */
        drain_over(-1, 0, px);
        return;
    }
    px->draining = 1;
    fprintf(stderr, "imaptap: %s: no new sessions; %u open, waiting up to %u s\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", px->nconns, px->opt->drain_s);
    for (i = 0; i < px->nlisteners; i++)
        evconnlistener_disable(px->listeners[i].lev);
    if (px->nconns == 0) {
        event_base_loopexit(px->base, NULL);
        return;
    }
    px->drain_timer = evtimer_new(px->base, drain_over, px);
    if (px->drain_timer != NULL)
        evtimer_add(px->drain_timer, &tv);
    else
        drain_over(-1, 0, px);
}

/* Runs on the log writer's thread: wake the loop, which resumes sessions. */
static void log_notify(void *arg)
{
    struct proxy *px = arg;
    event_active(px->log_wake, EV_READ, 0);
}

static void log_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_resume_all(arg);
}

/* Once a second: resume sessions if the log drained without a notify, and
 * tell the operator on stderr when the log itself cannot be written. */
static void log_check_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy *px = arg;
    static char last[300];
    char buf[300];
    const char *e;

    (void)fd;
    (void)what;
    conn_resume_all(px);
    e = jlog_error(px->log, buf, sizeof(buf));
    if (e != NULL && strcmp(e, last) != 0) {
        fprintf(stderr, "imaptap: log %s: %s (lines are kept and retried)\n", px->opt->log_path, e);
        snprintf(last, sizeof(last), "%s", e);
    } else if (e == NULL && last[0] != '\0') {
        fprintf(stderr, "imaptap: log %s: writing again\n", px->opt->log_path);
        last[0] = '\0';
    }
}

static void raise_nofile(void)
{
    struct rlimit rl;

    /* each session holds two sockets */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int run(const struct options *o)
{
    struct proxy px;
    char err[512];
    size_t i;
    int any_upstream_tls = 0;
    struct timeval one_s = {1, 0};

    memset(&px, 0, sizeof(px));
    px.opt = o;
    if (o->cert != NULL) {
        px.server_ctx = tls_server_ctx(o->cert, o->key, err, sizeof(err));
        if (px.server_ctx == NULL) {
            fprintf(stderr, "imaptap: %s\n", err);
            return 2;
        }
    }
    for (i = 0; i < o->nupstream; i++)
        if (o->upstream[i].scheme != URL_IMAP)
            any_upstream_tls = 1;
    if (any_upstream_tls || o->cert != NULL) {
        /* imap:// upstreams may still be asked for STARTTLS by a client */
        px.client_ctx = tls_client_ctx(o->upstream_ca, o->upstream_insecure, err, sizeof(err));
        if (px.client_ctx == NULL) {
            fprintf(stderr, "imaptap: %s\n", err);
            SSL_CTX_free(px.server_ctx);
            return 2;
        }
    }
    if (o->keylog != NULL) {
        if (tls_keylog_open(o->keylog, err, sizeof(err)) < 0) {
            fprintf(stderr, "imaptap: %s\n", err);
            SSL_CTX_free(px.server_ctx);
            SSL_CTX_free(px.client_ctx);
            return 2;
        }
        tls_keylog_enable(px.server_ctx);
        tls_keylog_enable(px.client_ctx);
        fprintf(stderr,
                "imaptap: warning: --keylog %s: the TLS secrets of every session are "
                "written there; with a packet capture anyone can read the traffic\n",
                o->keylog);
    }
    px.log = jlog_open(o->log_path, &o->log, err, sizeof(err));
    if (px.log == NULL) {
        fprintf(stderr, "imaptap: --log: %s\n", err);
        SSL_CTX_free(px.server_ctx);
        SSL_CTX_free(px.client_ctx);
        return 2;
    }
    evthread_use_pthreads();
    px.base = event_base_new();
    if (px.base == NULL) {
        fprintf(stderr, "imaptap: cannot create the event loop\n");
        return 1;
    }
    px.dns = evdns_base_new(px.base,
                            EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (px.dns == NULL)
        px.dns = evdns_base_new(px.base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (px.dns != NULL)
        evdns_base_load_hosts(px.dns, NULL);
    raise_nofile();
    for (i = 0; i < o->nlisten; i++) {
        if (open_listener(&px, i, &o->listen[i]) < 0) {
            px.exit_status = 2;
            goto out;
        }
        px.nlisteners++;
    }
    px.log_wake = event_new(px.base, -1, 0, log_wake_cb, &px);
    px.log_check = event_new(px.base, -1, EV_PERSIST, log_check_cb, &px);
    px.sig_hup = evsignal_new(px.base, SIGHUP, on_hup, &px);
    px.sig_term = evsignal_new(px.base, SIGTERM, on_term, &px);
    px.sig_int = evsignal_new(px.base, SIGINT, on_term, &px);
    if (px.log_wake == NULL || px.log_check == NULL || px.sig_hup == NULL || px.sig_term == NULL ||
        px.sig_int == NULL) {
        fprintf(stderr, "imaptap: out of memory\n");
        px.exit_status = 1;
        goto out;
    }
    jlog_set_notify(px.log, log_notify, &px);
    event_add(px.log_check, &one_s);
    event_add(px.sig_hup, NULL);
    event_add(px.sig_term, NULL);
    event_add(px.sig_int, NULL);
    for (i = 0; i < o->nlisten; i++)
        fprintf(stderr, "imaptap %s: %s -> %s\n", IMAPTAP_VERSION, o->listen[i].text,
                options_upstream_for(o, i)->text);
    event_base_dispatch(px.base);
    fprintf(stderr, "imaptap: stopped after %llu sessions\n", (unsigned long long)px.accepted);
out:
    conn_close_all(&px, "shutdown");
    for (i = 0; i < px.nlisteners; i++)
        evconnlistener_free(px.listeners[i].lev);
    if (px.nconns > 0)
        event_base_loop(px.base, EVLOOP_NONBLOCK); /* let the last closes run */
    jlog_set_notify(px.log, NULL, NULL);
    {
        uint64_t lost = jlog_close(px.log);
        if (lost > 0) {
            fprintf(stderr, "imaptap: %llu log lines could not be written to %s\n",
                    (unsigned long long)lost, o->log_path);
            if (px.exit_status == 0)
                px.exit_status = 1;
        }
    }
    if (px.drain_timer)
        event_free(px.drain_timer);
    if (px.log_wake)
        event_free(px.log_wake);
    if (px.log_check)
        event_free(px.log_check);
    if (px.sig_hup)
        event_free(px.sig_hup);
    if (px.sig_term)
        event_free(px.sig_term);
    if (px.sig_int)
        event_free(px.sig_int);
    if (px.dns)
        evdns_base_free(px.dns, 0);
    event_base_free(px.base);
    SSL_CTX_free(px.server_ctx);
    SSL_CTX_free(px.client_ctx);
    tls_keylog_close();
    return px.exit_status;
}

int main(int argc, char **argv)
{
    struct options o;
    int rc;

    if (argc >= 2 && strcmp(argv[1], "decode") == 0)
        return decode_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "report") == 0)
        return report_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "pretty") == 0)
        return pretty_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "stats") == 0)
        return stats_main(argc - 1, argv + 1);
    options_default(&o);
    rc = options_parse(&o, argc, argv);
    if (rc == 0) {
        signal(SIGPIPE, SIG_IGN);
        rc = run(&o);
    } else if (rc == 1) {
        rc = 0; /* --help, --version */
    }
    options_free(&o);
    return rc;
}
