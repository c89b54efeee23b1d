/*
 * relay_sim.h - the proxy's relay, played in memory for unit tests of the
 * session (test_session.c, test_keepalive.c): input is kept until the
 * session decides, and its relay operations are applied to byte buffers as
 * proxy/conn.c applies them to libevent's.
 */
#ifndef RELAY_SIM_H
#define RELAY_SIM_H

#include <stddef.h>

#include "imap_session.h"

/* A growable byte buffer, always NUL-terminated (for strstr and messages). */
struct bytes {
    char *p;
    size_t len, size;
};

void bytes_add(struct bytes *b, const char *p, size_t n);
void bytes_take(struct bytes *b, size_t n); /* drops the first n bytes */
void bytes_clear(struct bytes *b);
void bytes_free(struct bytes *b);

/* Applies the session's operations for dir: PASS moves bytes from in to out,
 * DROP drops them, HOLD moves them to held, RELEASE appends held to out,
 * INSERT appends the operation's data.  Each operation is logged to ops as
 * "PASS(n) ", "RELEASE " and so on.  Then asserts that what is left of in
 * is exactly what the session has not decided. */
void relay_sim_apply(struct imap_session *s, enum imap_dir dir, struct bytes *in, struct bytes *out,
                     struct bytes *held, struct bytes *ops);

#endif
