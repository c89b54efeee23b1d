/*
 * imap_lex.h - the streaming framer for one direction of an IMAP session.
 *
 * imap_lex_feed() takes the stream in any split and finds where each unit
 * ends: a unit is one logical line, "tag SP ... CRLF" including every literal
 * "{n}\r\n<n octets>" inside it.  It needs O(1) state between calls and never
 * keeps the caller's buffer: the non-literal bytes of the current unit (up to
 * the line limit) and the first bytes of each literal (up to the keep limits)
 * are copied into a scratch buffer that is allocated lazily and released
 * whenever a feed ends on a unit boundary (a line without literals that
 * arrives whole in one feed is handed out in place, without a copy).  Literal
 * bodies beyond that are only counted, so a 2 GB literal streams through in
 * constant memory.
 *
 * Framing follows protocol.md §2: quoted strings (with \" and \\), literal
 * markers only as the last token of a non-text line, text-mode lines whose
 * trailing "{n}" is not a literal (status responses, "+" continuations, SASL
 * and DONE lines), CR/LF split across feeds, bare LF, NUL.  The framer does
 * not interpret tokens beyond classifying the line; see imap_token.h.
 *
 * The owner (the session) steers what the framer cannot know from one
 * direction: text mode for the client inside AUTHENTICATE or IDLE, the "+"
 * that lets a synchronizing literal proceed, a tagged completion that cancels
 * it, and raw mode after a failure it cannot recover from.
 */
#ifndef IMAP_LEX_H
#define IMAP_LEX_H

#include "imap_types.h"

/* Default limits (protocol.md §2.10).  Each has a test at the limit and one
 * past it. */
#define IMAP_LEX_C2S_LINE_MAX         (64u * 1024)          /* non-literal bytes of a command */
#define IMAP_LEX_S2C_LINE_MAX         (1024u * 1024)        /* non-literal bytes of a response */
#define IMAP_LEX_C2S_LINE_MAX_PREAUTH (8u * 1024)           /* before authentication */
#define IMAP_LEX_S2C_LINE_MAX_PREAUTH (64u * 1024)          /* before authentication */
#define IMAP_LEX_LITERAL_MAX          ((uint64_t)1 << 40)   /* 1 TiB: a size above is logged */
#define IMAP_LEX_LITERAL_MAX_PREAUTH  (64u * 1024)          /* LOGIN literals are short */
#define IMAP_LEX_LITERAL_PARSE_MAX    ((uint64_t)INT64_MAX) /* above: cannot frame, go raw */
#define IMAP_LEX_LITERALS_MAX         4096                  /* literals per unit */
#define IMAP_LEX_TAG_MAX              128                   /* bytes of a tag */
#define IMAP_LEX_KEEP_PER_LITERAL     256                   /* literal bytes kept for the parser */
#define IMAP_LEX_KEEP_TOTAL           (64u * 1024)          /* literal bytes kept per unit */
#define IMAP_LEX_HEAD_MAX             160                   /* bytes looked at to classify a line */

struct imap_lex_limits {
    uint32_t line_max;         /* non-literal bytes per unit, line breaks included */
    uint64_t literal_max;      /* a literal larger than this is logged as a limit */
    uint32_t literals_max;     /* literals per unit; more are counted, not described */
    uint32_t keep_per_literal; /* literal bytes copied into the unit for the parser */
    uint32_t keep_total;       /* literal bytes copied per unit in all */
};

/* Defaults for a direction, before (preauth != 0) or after authentication. */
void imap_lex_default_limits(enum imap_dir dir, int preauth, struct imap_lex_limits *limits_r);

/* What kind of line a unit is (from its first tokens, protocol.md §2.2). */
enum imap_unit_kind {
    IMAP_UNIT_COMMAND,     /* c2s "tag SP ..." in normal mode */
    IMAP_UNIT_CLIENT_TEXT, /* c2s line in text mode (SASL response, DONE) */
    IMAP_UNIT_CONTINUE,    /* s2c "+ ..." */
    IMAP_UNIT_STATUS,      /* s2c "* OK|NO|BAD|BYE|PREAUTH ..." (text mode) */
    IMAP_UNIT_DATA,        /* s2c "* ..." other untagged data */
    IMAP_UNIT_TAGGED,      /* s2c "tag OK|NO|BAD ..." (text mode) */
    IMAP_UNIT_MALFORMED,   /* s2c line that starts like none of the above */
};

/* Literal flags. */
#define IMAP_LIT_NONSYNC 0x01 /* {n+} */
#define IMAP_LIT_BINARY  0x02 /* ~{n} (literal8) */
#define IMAP_LIT_ABORTED 0x04 /* sync literal refused by a tagged completion */
#define IMAP_LIT_EARLY   0x08 /* octets arrived before the "+" */

struct imap_literal {
    uint64_t size;  /* announced size */
    size_t pos;     /* offset in unit text of the first kept byte */
    size_t kept;    /* bytes of the literal copied to text (<= size) */
    unsigned flags; /* IMAP_LIT_* */
};

/* Unit flags. */
#define IMAP_UNIT_TRUNCATED    0x0001 /* line limit reached: text holds a prefix */
#define IMAP_UNIT_BARE_LF      0x0002 /* a line ended in LF without CR */
#define IMAP_UNIT_BARE_CR      0x0004 /* a CR not followed by LF inside a line */
#define IMAP_UNIT_NUL          0x0008 /* a NUL outside literal8 */
#define IMAP_UNIT_OPEN_QUOTE   0x0010 /* a line ended inside a quoted string */
#define IMAP_UNIT_BAD_ESCAPE   0x0020 /* backslash before other than " or \ in a quote */
#define IMAP_UNIT_ABORTED      0x0040 /* ended by a refused sync literal */
#define IMAP_UNIT_LITS_DROPPED 0x0080 /* more literals than literals_max */

/*
 * A complete unit, handed to the unit callback.
 *
 * text holds the unit's bytes as received, literal markers included, with the
 * kept bytes of each literal right after its marker's CRLF, so text reads like
 * the wire form of a unit whose long literals were cut short; lits[i].kept
 * says how many bytes of literal i are present.  The final CRLF (or LF) is not
 * in text.  Everything is owned by the framer (or is the caller's fed bytes)
 * and valid until the callback returns.
 */
struct imap_unit {
    enum imap_dir dir;
    enum imap_unit_kind kind;
    uint64_t off; /* stream offset of the unit's first byte */
    uint64_t len; /* bytes of the unit on the wire, CRLF and literals included */
    const char *text;
    size_t text_len;
    const struct imap_literal *lits;
    size_t nlits;        /* described literals (<= literals_max) */
    uint64_t nlits_all;  /* literals on the wire */
    uint64_t line_bytes; /* non-literal bytes on the wire, line breaks included */
    unsigned flags;      /* IMAP_UNIT_* */
};

/* Problems the framer reports as they happen. */
enum imap_lex_problem {
    IMAP_LEX_LIMIT_LINE,     /* value = line bytes so far, max = line_max */
    IMAP_LEX_LIMIT_LITERAL,  /* value = literal size, max = literal_max */
    IMAP_LEX_LIMIT_LITERALS, /* value = literals in the unit, max = literals_max */
    IMAP_LEX_LIMIT_TAG,      /* value = head bytes, max = IMAP_LEX_TAG_MAX */
    IMAP_LEX_EARLY_LITERAL,  /* literal octets before the "+" (anomaly) */
    IMAP_LEX_GIVE_UP,        /* framing impossible (literal count overflow): raw from now on */
};

struct imap_lex_cb {
    /* The first tokens of a unit are known: partial->text holds at least three
     * tokens, or the whole line when it is shorter, or everything up to the
     * first literal, or IMAP_LEX_HEAD_MAX bytes.  Called once per unit, before
     * its first literal and before unit(). */
    void (*head)(void *arg, const struct imap_unit *partial);

    /* A client unit reached "{n}\r\n" (synchronizing): the framer waits for
     * imap_lex_literal_go() or imap_lex_literal_cancel().  partial describes the
     * unit so far; its last literal is the one waiting. */
    void (*sync_literal)(void *arg, const struct imap_unit *partial);

    /* Octets of a literal as they stream through (optional: may be NULL);
     * index is the literal's number in the unit. */
    void (*literal_data)(void *arg, uint64_t index, const char *data, size_t len);

    /* A complete unit. */
    void (*unit)(void *arg, const struct imap_unit *unit);

    /* A limit or framing problem at stream offset off. */
    void (*problem)(void *arg, enum imap_lex_problem what, uint64_t off, uint64_t value,
                    uint64_t max);
};

enum imap_lex_mode {
    IMAP_LEX_NORMAL,  /* commands (c2s) or responses (s2c) */
    IMAP_LEX_TEXT,    /* c2s only: lines are text (SASL, DONE), no literals */
    IMAP_LEX_DISCARD, /* after STARTTLS: bytes are counted, not parsed, until reset */
    IMAP_LEX_RAW,     /* framing given up: bytes are counted, nothing else (final) */
};

struct imap_lex;

/* Returns NULL when out of memory.  cb and arg are kept; cb must outlive lx. */
struct imap_lex *imap_lex_new(enum imap_dir dir, const struct imap_lex_limits *limits,
                              const struct imap_lex_cb *cb, void *arg);
void imap_lex_free(struct imap_lex *lx);

/*
 * Feeds len bytes; all are consumed and callbacks run from inside the call.
 * Octets that arrive while a synchronizing literal waits for its "+" are
 * taken as the literal (flagged IMAP_LIT_EARLY), as a server would once it
 * accepts.  Returns 0, or -1 when memory ran out: the framer then goes raw.
 */
int imap_lex_feed(struct imap_lex *lx, const char *data, size_t len);

/* The session's signals for a waiting synchronizing literal. */
void imap_lex_literal_go(struct imap_lex *lx);
/* The literal was refused: the unit ends here with IMAP_UNIT_ABORTED and the
 * unit callback is called from inside this function. */
void imap_lex_literal_cancel(struct imap_lex *lx);
/* Non-zero while a client unit waits for "+". */
int imap_lex_awaiting_plus(const struct imap_lex *lx);

void imap_lex_set_mode(struct imap_lex *lx, enum imap_lex_mode mode);
enum imap_lex_mode imap_lex_mode(const struct imap_lex *lx);
void imap_lex_set_limits(struct imap_lex *lx, const struct imap_lex_limits *limits);

/* Stream offset of the next byte to be fed (bytes consumed so far). */
uint64_t imap_lex_offset(const struct imap_lex *lx);
/* Stream offset of the first byte of the unit in progress, or of the next
 * byte when at a unit boundary. */
uint64_t imap_lex_unit_start(const struct imap_lex *lx);
/* Non-zero when no unit is in progress (not even a partial line). */
int imap_lex_at_boundary(const struct imap_lex *lx);
/* Non-zero while inside a literal's octets. */
int imap_lex_in_literal(const struct imap_lex *lx);

/* Drops any partial unit and starts afresh at the current offset in normal
 * mode (STARTTLS).  Offsets go on counting. */
void imap_lex_reset(struct imap_lex *lx);

/* Releases scratch memory when no unit is in progress. */
void imap_lex_trim(struct imap_lex *lx);

/* Bytes of scratch memory held (for tests of idle memory). */
size_t imap_lex_memory(const struct imap_lex *lx);

#endif
