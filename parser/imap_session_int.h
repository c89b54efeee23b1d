/*
 * imap_session_int.h - what the session's own modules share: the session
 * struct and helpers of imap_session.c used by imap_keepalive.c.  Not for
 * anyone outside parser/imap_session*.c and parser/imap_keepalive.c.
 */
#ifndef IMAP_SESSION_INT_H
#define IMAP_SESSION_INT_H

#include "imap_arena.h"
#include "imap_msg.h"
#include "imap_relay.h"
#include "imap_sasl.h"
#include "imap_session.h"

#define INFLIGHT_MAX    1024 /* commands in flight before it is an anomaly */
#define CMD_NAME_MAX    40
#define NAME_MAX_STORED 1024 /* mailbox names and users kept in the session */

/* A command the client sent whose completion has not come yet. */
struct inflight {
    char tag[IMAP_LEX_TAG_MAX + 1];
    size_t tag_len;
    char cmd[CMD_NAME_MAX]; /* "UID FETCH" */
    enum imap_cmd_id id;
    int complete;      /* its whole unit has arrived */
    int local;         /* answered by imaptap, never sent upstream */
    int expungeissued; /* local answer: NO [EXPUNGEISSUED] (containment) */
    int decide_at_end; /* containment: relay or refuse once the whole line is in */
    int64_t t_mono;    /* when it completed: latency starts here */
    char *mailbox;     /* SELECT/EXAMINE target */
    char *user;        /* LOGIN user */
};

/* How the relay treats the unit in progress of a direction. */
enum unit_mode {
    UM_UNDECIDED, /* head not seen yet: bytes wait */
    UM_STREAM,    /* pass bytes as they come */
    UM_HOLD,      /* keep until the unit ends, then decide (capability edits) */
    UM_DROP,      /* drop the whole unit (answered locally) */
    UM_KA_HOLD,   /* move it aside for the client's next command (containment) */
};

struct dir_state {
    struct imap_lex *lx;
    struct imap_arena arena;
    struct imap_relay relay;
    enum unit_mode mode;
    uint64_t popped;         /* input bytes of operations handed out */
    uint64_t discard_from;   /* DISCARD mode: offset where it began */
    uint64_t discard_logged; /* bytes already reported as discarded */
    int discarding;
};

struct imap_session {
    struct imap_session_config cfg;
    imap_event_cb *cb;
    void *cb_arg;
    struct dir_state d[2];
    int64_t wall_us, mono_us;
    enum imap_state state;
    int greeting_seen;
    int failed; /* out of memory: parsing stopped */
    uint64_t commands;
    char *user;
    char *mailbox; /* selected */
    int utf8;      /* UTF8=ACCEPT or IMAP4rev2 enabled */
    int logged_out, bye;

    struct inflight *cmds;
    size_t ncmds, cmds_size;

    /* the command whose sync literal waits for "+" (index in cmds, or -1) */
    long await_plus;
    /* AUTHENTICATE exchange in progress */
    int sasl_active;
    char sasl_tag[IMAP_LEX_TAG_MAX + 1];
    struct imap_sasl sasl;
    /* IDLE */
    int idle_pending;   /* IDLE sent, no "+" yet */
    int idle_plus_late; /* DONE came before the "+": the "+" is still due */
    int idle_active;    /* "+" seen, no DONE yet */
    char idle_tag[IMAP_LEX_TAG_MAX + 1];
    int64_t idle_start;
    /* STARTTLS */
    int starttls_pending; /* a STARTTLS command waits for its completion */
    char starttls_tag[IMAP_LEX_TAG_MAX + 1];
    int starttls_local; /* imaptap answers it itself */
    /* keepalive: one synthetic command at a time */
    int ka_pending;
    int ka_search;       /* the outstanding one is SEARCH UID * */
    int ka_idle;         /* the outstanding one is IDLE */
    int ka_idle_started; /* its "+" came */
    int ka_done_sent;    /* DONE went out: its tagged OK ends it */
    int ka_want_done;    /* the client spoke before the "+": DONE right after it */
    int ka_renew;        /* DONE for a fresh IDLE, not for the client */
    int ka_stopped;
    int ka_no_search;      /* the server refused SEARCH UID *: NOOP instead */
    int64_t ka_wait_since; /* a reply is awaited since (0: none) */
    int server_idle;       /* the server advertised IDLE */
    /* containment: server responses held for the client's next command */
    int held;
    uint64_t held_count, held_bytes;
    unsigned ka_counter;
    int64_t ka_sent;
    char ka_tag[48];
    /* recent client tags, so a synthetic tag never repeats one */
    char recent_tags[8][24];
    unsigned recent_next;
};

/* ---- helpers of imap_session.c ---- */

/* A slice of a NUL-terminated string (NULL stays absent). */
struct imap_str sess_cstr(const char *s);
/* Stamps the time and hands the event to the session's callback. */
void sess_emit(struct imap_session *s, struct imap_event *ev);
void sess_event_init(struct imap_event *ev, enum imap_ev_type type);
void sess_event_dir(struct imap_event *ev, enum imap_dir dir, uint64_t off);
void sess_emit_anomaly(struct imap_session *s, int has_dir, enum imap_dir dir, uint64_t off,
                       const char *kind, struct imap_str tag, const char *text);
/* The first n space-separated words of a unit's text. */
size_t sess_head_words(const struct imap_unit *u, struct imap_str *w, size_t n);
double sess_ms_since(const struct imap_session *s, int64_t t);

/* ---- keepalive and containment (imap_keepalive.c) ---- */

/* What a server line is to the keepalive in flight. */
enum ka_kind { KA_NOT_OURS, KA_COMPLETION, KA_SEARCH_ANSWER, KA_IDLE_PLUS };

enum ka_kind imap_ka_reply(const struct imap_session *s, const struct imap_unit *u);
/* Logs the server's answer to a keepalive (never relayed) and moves on. */
void imap_ka_unit(struct imap_session *s, const struct imap_unit *u, enum ka_kind kind,
                  struct imap_response *r, int rc);
/* EXPUNGE, or VANISHED without (EARLIER). */
int imap_ka_expunge_like(const struct imap_unit *u);
uint64_t imap_ka_held_max(const struct imap_session *s);
/* Held responses go to the client now (RELEASE), logged as released. */
void imap_ka_release(struct imap_session *s);
/* Commands that use sequence numbers by their name; UID SEARCH/SORT/THREAD,
 * whose criteria must be read first. */
int imap_ka_msn_by_name(const struct inflight *c);
int imap_ka_msn_in_criteria(const struct inflight *c);

#endif
