/*
 * jlog.h - the JSON-lines event log (schema v1, design.md §2).
 *
 * A struct jlog is one output (a file or stdout) with its options; a struct
 * jlog_session numbers the events of one IMAP session (sid, seq) and turns
 * them into lines.  Lines are built on the caller's thread (event slices are
 * only valid during the call) and written by the sink: synchronously for
 * `imaptap decode`, or by a writer thread behind a bounded queue for the
 * proxy, so a slow disk never stalls the relay.
 *
 * The logger knows nothing of sockets.  It never prints and never exits; a
 * failure to write is reported by jlog_error() and counted.
 */
#ifndef JLOG_H
#define JLOG_H

#include <stddef.h>
#include <stdint.h>

#include "imap_event.h"

enum jlog_literals {
    JLOG_LITERALS_NONE, /* no literal fields at all */
    JLOG_LITERALS_SIZE, /* sizes only (default) */
    JLOG_LITERALS_HEAD, /* sizes and the first head_bytes octets */
    JLOG_LITERALS_FULL, /* sizes and the whole content (kept up to the parser's cap) */
};

enum jlog_overflow {
    JLOG_OVERFLOW_BLOCK, /* queue full: the proxy pauses reading (default) */
    JLOG_OVERFLOW_DROP,  /* queue full: drop the line and count it */
};

struct jlog_opts {
    enum jlog_literals literals;
    size_t head_bytes; /* JLOG_LITERALS_HEAD */
    int redact;        /* 0 with --no-redact: session_open says "redact": false */
    int threaded;      /* write from a writer thread (proxy) */
    size_t queue_max;  /* bytes queued before the log counts as congested */
    enum jlog_overflow overflow;
    int flush_ms; /* longest a line may wait in the writer (<= 100) */
};

void jlog_opts_default(struct jlog_opts *opts);

/* Parses "none", "size", "head:N", "full" into opts.  Returns 0 or -1. */
int jlog_parse_literals(const char *s, struct jlog_opts *opts);

struct jlog;

/* Opens path for appending ("-" is stdout).  Returns NULL and a one-line
 * message in err on failure. */
struct jlog *jlog_open(const char *path, const struct jlog_opts *opts, char *err, size_t errlen);
/* Reopens the file (after logrotate moved it).  Returns 0 or -1 (err set). */
int jlog_reopen(struct jlog *log, char *err, size_t errlen);
/* Flushes everything queued and closes.  Accepts NULL.  Returns the number
 * of lines that could not be written (0 when all were), so the caller can
 * say so and exit non-zero. */
uint64_t jlog_close(struct jlog *log);

/* Congestion, for the proxy's backpressure: non-zero while more than
 * queue_max bytes wait.  The notify callback runs on the writer thread when
 * the queue drains below half of queue_max after having been congested. */
int jlog_congested(const struct jlog *log);
void jlog_set_notify(struct jlog *log, void (*notify)(void *arg), void *arg);

/* Lines written, lines dropped (JLOG_OVERFLOW_DROP), write errors so far;
 * the last write error as text (or NULL). */
uint64_t jlog_lines(const struct jlog *log);
uint64_t jlog_dropped(const struct jlog *log);
const char *jlog_error(struct jlog *log, char *buf, size_t buflen);

/* ---- one session ---- */

struct jlog_session;

/* sid: 16 hex digits, or NULL to draw a random one.  NULL when out of memory. */
struct jlog_session *jlog_session_new(struct jlog *log, const char *sid);
void jlog_session_free(struct jlog_session *js);
const char *jlog_session_sid(const struct jlog_session *js);
/* Gives back the line buffer while a session is quiet (idle memory); the
 * next event allocates it again. */
void jlog_session_trim(struct jlog_session *js);
/* Events this session dropped (JLOG_OVERFLOW_DROP). */
uint64_t jlog_session_dropped(const struct jlog_session *js);

/* A protocol event from the session; matches imap_event_cb (arg is the
 * struct jlog_session).  Returns 0, or -1 when the line was dropped. */
int jlog_event(void *js, const struct imap_event *ev);

/* The proxy's own events. */
struct jlog_endpoint {
    const char *addr; /* numeric address or host name */
    int port;
};

int jlog_session_open(struct jlog_session *js, int64_t ts_us, const struct jlog_endpoint *client,
                      const char *listener, const struct jlog_endpoint *upstream);

struct jlog_tls_info {
    const char *leg;     /* "client" or "server" */
    const char *version; /* "TLSv1.3" */
    const char *cipher;
    const char *sni;          /* or NULL */
    const char *peer_subject; /* or NULL (no peer certificate) */
    const char *peer_sha256;  /* hex, or NULL */
    int verified;             /* -1: not applicable (client leg without client cert) */
};

int jlog_tls(struct jlog_session *js, int64_t ts_us, const struct jlog_tls_info *tls);

struct jlog_close_info {
    const char *reason; /* logout, bye, client_closed, server_closed, timeout,
                           "error: ...", shutdown */
    uint64_t bytes_c2s, bytes_s2c;
    uint64_t commands;
    double duration_ms;
    const char *user; /* or NULL */
};

int jlog_session_close(struct jlog_session *js, int64_t ts_us, const struct jlog_close_info *ci);

/* Formats ts_us as RFC 3339 UTC with microseconds ("2026-11-25T09:14:03.120441Z")
 * into buf (at least 28 bytes). */
void jlog_format_ts(int64_t ts_us, char *buf, size_t buflen);

#endif
