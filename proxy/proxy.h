/*
 * proxy.h - the running proxy: one event base, listeners, sessions.
 *
 * struct proxy is the process-wide state main() builds; struct conn (conn.c)
 * is one client session with its two sides.  All of it runs on one thread;
 * only the log writer has its own, and talks back through log_wake.
 */
#ifndef PROXY_H
#define PROXY_H

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>
#include <stdint.h>

#include "jlog.h"
#include "options.h"

struct conn;

struct listener {
    struct proxy *px;
    struct evconnlistener *lev;
    size_t index; /* pairs with options.upstream */
    const struct url *url, *upstream;
};

struct proxy {
    struct event_base *base;
    struct evdns_base *dns;
    const struct options *opt;
    SSL_CTX *server_ctx; /* TLS towards clients (NULL without --cert) */
    SSL_CTX *client_ctx; /* TLS towards the server */
    struct jlog *log;
    struct listener listeners[OPT_MAX_PAIRS];
    size_t nlisteners;
    struct conn *conns; /* all live sessions */
    unsigned nconns;
    uint64_t accepted;
    int log_paused;         /* reads paused until the log catches up */
    struct event *log_wake; /* activated by the log writer thread */
    struct event *sig_hup, *sig_term, *sig_int, *drain_timer, *log_check;
    int draining;
    int exit_status;
};

/* conn.c */
void conn_accept(struct listener *l, evutil_socket_t fd, const struct sockaddr *sa, int salen);
void conn_close_all(struct proxy *px, const char *reason);
/* The log drained: sessions paused for it read again. */
void conn_resume_all(struct proxy *px);

int64_t now_wall_us(void);
int64_t now_mono_us(void);

#endif
