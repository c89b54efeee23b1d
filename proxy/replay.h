/*
 * replay.h - drives one session from recorded chunks: `imaptap decode`, the
 * golden-transcript tests and the parser benchmarks all go through here, so
 * they exercise exactly the code the live proxy runs, minus the sockets.
 *
 * A replay owns an imap_session and (optionally) a jlog_session; chunks are
 * fed with their timestamps, markers stand for what the proxy would do (TLS
 * finished, a peer closed, the keepalive timer fired).  With relay on, the
 * relay operations are applied to in-memory output streams so tests can
 * compare what each peer would have received.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "imap_session.h"
#include "jlog.h"

enum replay_marker {
    REPLAY_TLS,     /* both legs finished a STARTTLS handshake */
    REPLAY_C2S_EOF, /* the client closed */
    REPLAY_S2C_EOF, /* the server closed */
    REPLAY_TIMER,   /* the keepalive timer fired */
};

struct replay_opts {
    struct imap_session_config session;
    struct jlog *log;        /* NULL: events go only to event_cb */
    imap_event_cb *event_cb; /* optional, called for every protocol event */
    void *event_arg;
    const char *sid; /* NULL: random */
};

/* Bytes a peer would have received (relay on). */
struct replay_output {
    char *data;
    size_t len, size;
};

struct replay;

struct replay *replay_new(const struct replay_opts *opts);
/* Emits session_open from what a capture's meta record says. */
int replay_open(struct replay *r, int64_t ts_us, const struct jlog_endpoint *client,
                const char *listener, const struct jlog_endpoint *upstream);
/* Feeds bytes received from one peer at time ts_us.  Returns 0 or -1. */
int replay_chunk(struct replay *r, enum imap_dir dir, const void *data, size_t len, int64_t ts_us);
int replay_marker(struct replay *r, enum replay_marker m, int64_t ts_us);
/* Ends the session: session_close when a peer closed (or always with force),
 * with the reason the proxy would give. */
void replay_finish(struct replay *r, int64_t ts_us, int force);
/* Output towards the server (IMAP_C2S) or the client (IMAP_S2C). */
const struct replay_output *replay_output(const struct replay *r, enum imap_dir dir);
struct imap_session *replay_session(struct replay *r);
void replay_free(struct replay *r);

/* The session_close reason for a session and how it ended. */
const char *replay_close_reason(const struct imap_session *s, int client_eof, int server_eof);

#endif
