/*
 * imap_msg.h - assemblers: a complete unit (imap_lex.h) becomes a command or
 * a response with the fields the log and the session need.
 *
 * Both work on a unit handed out by the framer, read it with the tokenizer
 * (imap_token.h), and put every string they make (unescaped strings, the
 * argument summary, lists) in the arena; slices point into the unit or the
 * arena and are valid until either is reset.  Neither prints, allocates
 * outside the arena, or knows about the other direction.
 */
#ifndef IMAP_MSG_H
#define IMAP_MSG_H

#include "imap_arena.h"
#include "imap_event.h"
#include "imap_lex.h"

/* Commands the session treats specially. */
enum imap_cmd_id {
    IMAP_CMD_OTHER = 0,
    IMAP_CMD_CAPABILITY,
    IMAP_CMD_NOOP,
    IMAP_CMD_LOGOUT,
    IMAP_CMD_STARTTLS,
    IMAP_CMD_AUTHENTICATE,
    IMAP_CMD_LOGIN,
    IMAP_CMD_SELECT,
    IMAP_CMD_EXAMINE,
    IMAP_CMD_CREATE,
    IMAP_CMD_DELETE,
    IMAP_CMD_RENAME,
    IMAP_CMD_SUBSCRIBE,
    IMAP_CMD_UNSUBSCRIBE,
    IMAP_CMD_LIST,
    IMAP_CMD_LSUB,
    IMAP_CMD_STATUS,
    IMAP_CMD_APPEND,
    IMAP_CMD_CHECK,
    IMAP_CMD_CLOSE,
    IMAP_CMD_UNSELECT,
    IMAP_CMD_EXPUNGE,
    IMAP_CMD_SEARCH,
    IMAP_CMD_FETCH,
    IMAP_CMD_STORE,
    IMAP_CMD_COPY,
    IMAP_CMD_MOVE,
    IMAP_CMD_SORT,
    IMAP_CMD_THREAD,
    IMAP_CMD_IDLE,
    IMAP_CMD_ENABLE,
    IMAP_CMD_ID,
    IMAP_CMD_NAMESPACE,
    IMAP_CMD_COMPRESS,
    IMAP_CMD_GETQUOTA,
    IMAP_CMD_GETQUOTAROOT,
    IMAP_CMD_SETQUOTA,
    IMAP_CMD_GETACL,
    IMAP_CMD_SETACL,
    IMAP_CMD_MYRIGHTS,
    IMAP_CMD_GETMETADATA,
    IMAP_CMD_SETMETADATA,
    IMAP_CMD_NOTIFY,
    IMAP_CMD_UNAUTHENTICATE,
};

/* Looks up a command name (case-insensitive, without "UID "). */
enum imap_cmd_id imap_cmd_lookup(struct imap_str name);

struct imap_msg_opts {
    int redact;        /* replace secrets by "***" (default on) */
    int utf8_names;    /* UTF8=ACCEPT / IMAP4rev2: names are UTF-8, not mUTF-7 */
    int keep_literals; /* hand out the kept octets of literals (head:N, full) */
};

struct imap_command {
    struct imap_ev_command ev; /* what the log shows */
    enum imap_cmd_id id;
    int uid;                   /* "UID" form */
    int msn;                   /* uses message sequence numbers (protocol.md §4.5) */
    struct imap_str user;      /* LOGIN: the user name (never the password) */
    struct imap_str sasl_mech; /* AUTHENTICATE: the mechanism, upper-cased */
    struct imap_str sasl_ir;   /* AUTHENTICATE: the initial response (SECRET: for
                                  user extraction only, never to be logged) */
    int has_sasl_ir;
    const struct imap_str *enable; /* ENABLE: the capabilities asked for */
    size_t nenable;
    /* Parse error (the command may still have tag and cmd). */
    const char *err;         /* IMAP_ERR_* or NULL */
    struct imap_str excerpt; /* up to 64 bytes of the unit, secrets redacted (always set) */
    int depth_exceeded;
    int lossy; /* strings with octets that are not UTF-8 */
};

/* Parses a c2s unit of kind IMAP_UNIT_COMMAND.  Returns 0 when it parsed,
 * -1 on a parse error (cmd->err, cmd->excerpt, and tag/cmd when readable). */
int imap_command_parse(const struct imap_unit *u, struct imap_arena *a,
                       const struct imap_msg_opts *opts, struct imap_command *cmd);

struct imap_response {
    enum imap_unit_kind kind;
    union {                               /* by kind */
        struct imap_ev_untagged untagged; /* IMAP_UNIT_DATA / IMAP_UNIT_STATUS */
        struct imap_ev_tagged tagged;     /* IMAP_UNIT_TAGGED */
        struct imap_ev_continue cont;     /* IMAP_UNIT_CONTINUE */
    };
    const char *err;
    struct imap_str excerpt;
    struct imap_str err_tag; /* malformed line: its first token */
    int depth_exceeded;
    int lossy;
};

/* Parses a s2c unit.  Returns 0, or -1 on a parse error (r->err, r->excerpt). */
int imap_response_parse(const struct imap_unit *u, struct imap_arena *a,
                        const struct imap_msg_opts *opts, struct imap_response *r);

/* An excerpt of a unit for parse_error: the first max bytes of its text,
 * cut before the octets of a literal (its {N} marker shows instead). */
struct imap_str imap_msg_excerpt(const struct imap_unit *u, size_t max);
#define IMAP_EXCERPT_MAX 64

#endif
