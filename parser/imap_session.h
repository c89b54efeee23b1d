/*
 * imap_session.h - one IMAP session seen from the middle: both directions,
 * the state that spans them, the events of the log, and what the relay must
 * do with every byte.
 *
 * The session owns a framer per direction (imap_lex.h) and couples them:
 * a client's synchronizing literal waits for the server's "+" (or is
 * cancelled by its tagged completion), AUTHENTICATE and IDLE put the client
 * side in text mode, completions are matched to commands by tag, the
 * connection state follows LOGIN/SELECT/CLOSE/LOGOUT.  It emits the protocol
 * events of schema v1 through a callback, and redacts credentials before
 * they leave.
 *
 * The relay: after each feed the proxy asks imap_session_relay_next() what to
 * do with the bytes it holds for each direction.  Almost always the answer is
 * "pass n bytes on unchanged"; the exceptions are the edits of protocol.md
 * §1 (capability edits, STARTTLS boundaries, local answers, keepalive).
 * A session made with relay off (imaptap decode) computes no operations.
 *
 * No I/O and no clocks of its own: the caller sets the time before feeding.
 */
#ifndef IMAP_SESSION_H
#define IMAP_SESSION_H

#include "imap_event.h"
#include "imap_lex.h"
#include "imap_types.h"

#define IMAP_SESSION_HOLD_MAX (64u * 1024)
#define IMAP_SESSION_HELD_MAX (256u * 1024)

enum imap_keepalive_cmd {
    IMAP_KA_NOOP = 0, /* NOOP in every state (default) */
    IMAP_KA_SEARCH,   /* non-UID "SEARCH UID *" in the selected state */
};

struct imap_session_config {
    int relay;                   /* compute relay operations (the proxy) */
    int redact;                  /* replace credentials by "***" (default 1) */
    int keep_literals;           /* literal octets kept for the log (head:N / full) */
    uint32_t literal_keep;       /* bytes kept per literal when keep_literals */
    uint64_t literal_keep_total; /* bytes kept per unit when keep_literals */
    int strip_compress;          /* remove COMPRESS=DEFLATE (default 1) */
    int strip_channel_binding;   /* remove SCRAM-*-PLUS and the SCRAM beside them (default 1) */
    int client_tls;              /* the client leg is TLS (implicit or after STARTTLS) */
    int client_starttls;         /* a cleartext client leg may upgrade (listener has a cert) */
    int server_tls;              /* the server leg is TLS */
    int server_starttls_auto;    /* imap+starttls upstream: imaptap upgrades the server leg */
    int require_tls;             /* refuse LOGIN/AUTHENTICATE on a cleartext client leg */
    int start_authenticated;     /* the stream begins after login (a server's rawlog) */
    /* Held lines (capability edits) longer than this are relayed unedited;
     * the proxy sets it below its input buffer (0 = IMAP_SESSION_HOLD_MAX). */
    uint64_t hold_max;
    /* Limits (0 = default, imap_lex.h). */
    uint32_t c2s_line_max, s2c_line_max;
    uint32_t c2s_line_max_preauth, s2c_line_max_preauth;
    uint64_t literal_max;
    /* Keepalive (design.md §3, protocol.md §4). */
    const char *ka_tag_prefix; /* default "PXK" */
    enum imap_keepalive_cmd ka_cmd;
    int ka_idle;       /* keep the upstream in IDLE (when it has IDLE) */
    uint64_t held_max; /* bytes of held server responses (0: 256 KiB) */
};

void imap_session_config_default(struct imap_session_config *cfg);

struct imap_session;

/* Returns NULL when out of memory.  cfg is copied; cb/arg are kept. */
struct imap_session *imap_session_new(const struct imap_session_config *cfg, imap_event_cb *cb,
                                      void *arg);
void imap_session_free(struct imap_session *s);

/* Sets the time of the bytes fed next: wall clock (event ts) and a monotonic
 * clock (latencies), both in microseconds. */
void imap_session_set_clock(struct imap_session *s, int64_t wall_us, int64_t mono_us);

/*
 * Feeds bytes received from one peer (plaintext: after TLS).  All bytes are
 * always consumed; events are emitted from inside the call.  Returns 0, or -1
 * when memory ran out (the session then stops parsing but the relay goes on
 * as pass-through).
 */
int imap_session_feed(struct imap_session *s, enum imap_dir dir, const char *data, size_t len);

/* The peer closed its side: a partial unit is reported, the close remembered. */
void imap_session_eof(struct imap_session *s, enum imap_dir dir);

/* ---- relay ---- */

enum imap_relay_kind {
    IMAP_RELAY_PASS,     /* move len input bytes to the output unchanged */
    IMAP_RELAY_DROP,     /* discard len input bytes */
    IMAP_RELAY_INSERT,   /* write data (len bytes) to the output */
    IMAP_RELAY_HOLD,     /* move len input bytes aside (the direction's hold buffer) */
    IMAP_RELAY_RELEASE,  /* move the whole hold buffer to the output */
    IMAP_RELAY_STARTTLS, /* the plaintext part of this direction ends here: see below */
    IMAP_RELAY_CLOSE,    /* close the session after what came before is flushed */
};

/* Output direction of an operation: IMAP_C2S ops write towards the server,
 * IMAP_S2C ops towards the client; PASS/DROP/HOLD consume the input of the
 * same direction. */
struct imap_relay_op {
    enum imap_relay_kind kind;
    size_t len;
    const char *data; /* INSERT: valid until the next call on this session */
};

/* Takes the next operation for a direction.  Returns 1 and fills op_r, or 0
 * when there is none ready (the rest of the input is undecided: feed more). */
int imap_session_relay_next(struct imap_session *s, enum imap_dir dir, struct imap_relay_op *op_r);

/* Input bytes fed but not yet decided (they stay in the proxy's buffer). */
size_t imap_session_relay_pending(const struct imap_session *s, enum imap_dir dir);

/* ---- TLS transitions ---- */

/* Both legs finished their handshakes after STARTTLS: parsers restart, the
 * capabilities learned before are forgotten (RFC 3501 §6.2.1). */
void imap_session_tls_started(struct imap_session *s, int client_leg, int server_leg);
/* The STARTTLS handshake of a leg failed. */
void imap_session_tls_failed(struct imap_session *s, int client_leg, const char *why);

/* ---- keepalive (design.md §3, protocol.md §4) ---- */

/*
 * The keepalive timer fired.  Sends "TAG NOOP" (or, in the selected state
 * with IMAP_KA_SEARCH, "TAG SEARCH UID *") towards the server when it is
 * safe: authenticated, no client command in flight or half sent, not inside
 * IDLE, AUTHENTICATE, a literal or STARTTLS, both directions in sync, none
 * outstanding.  Its completion (and a SEARCH's answer) never reaches the
 * client; client bytes that arrive meanwhile wait until it completes.
 * Returns 1 when sent, 0 when not safe now, -1 when keepalive has stopped for
 * this session (the server refused a NOOP or IDLE, or framing was lost; a
 * refused SEARCH falls back to NOOP, protocol.md §4.2).
 */
int imap_session_keepalive(struct imap_session *s);
/* Non-zero while a keepalive command is outstanding: the caller keeps the
 * client's bytes (bounded) and feeds them once this returns 0. */
int imap_session_keepalive_pending(const struct imap_session *s);
/* The client has bytes waiting: an IDLE keepalive ends (DONE) so they can
 * go; a NOOP or SEARCH keepalive just completes. */
void imap_session_keepalive_interrupt(struct imap_session *s);
/* Monotonic time since which a keepalive reply is awaited (a NOOP or DONE
 * written), or 0: the proxy's liveness probe. */
int64_t imap_session_keepalive_waiting(const struct imap_session *s);

/*
 * Containment (protocol.md §4.5): EXPUNGE or VANISHED that the server sends
 * during imaptap's own command, and every server response after them, are
 * held and delivered in the server's order when the client's next command
 * permits EXPUNGE and does not use message sequence numbers.  A command that
 * does (FETCH, STORE, COPY, MOVE, SEARCH, SORT, THREAD, or UID SEARCH/SORT/
 * THREAD with a sequence set in its criteria) is answered locally with
 * "NO [EXPUNGEISSUED]" and never relayed.  Non-zero while responses are held.
 */
int imap_session_holding(const struct imap_session *s);

/* ---- state, for the proxy and for session_close ---- */

enum imap_state imap_session_state(const struct imap_session *s);
/* The user from LOGIN/AUTHENTICATE once known (NUL-terminated), or NULL. */
const char *imap_session_user(const struct imap_session *s);
/* The selected mailbox (NUL-terminated), or NULL. */
const char *imap_session_mailbox(const struct imap_session *s);
uint64_t imap_session_commands(const struct imap_session *s);
uint64_t imap_session_bytes(const struct imap_session *s, enum imap_dir dir);
/* Non-zero once the client sent LOGOUT / the server sent BYE. */
int imap_session_logged_out(const struct imap_session *s);
int imap_session_saw_bye(const struct imap_session *s);
/* Non-zero while a unit of this direction is part way through (a literal, a
 * long line): more of it is known to follow. */
int imap_session_mid_unit(const struct imap_session *s, enum imap_dir dir);

/* Bytes of memory the session holds beyond its struct (idle-memory tests). */
size_t imap_session_memory(const struct imap_session *s);

/* Frees scratch memory when nothing is in progress (call when a session goes
 * idle). */
void imap_session_trim(struct imap_session *s);

#endif
