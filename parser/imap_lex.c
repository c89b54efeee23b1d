/* imap_lex.c - streaming framer for one direction (see imap_lex.h). */
#include "imap_lex.h"

#include <stdlib.h>
#include <string.h>

#include "imap_scan.h"
#include "imap_token.h"

/* A literal count has at most MARKER_DIGITS_MAX digits (leading zeros
 * included); a longer one cannot be framed.  The tail kept past the line
 * limit holds any marker of that size, so an overlong line frames the same
 * as a short one. */
#define MARKER_DIGITS_MAX 64
#define TAIL_MAX          (MARKER_DIGITS_MAX + 32)

enum lex_state {
    LX_LINE,    /* in the non-literal part of a unit, or at a unit boundary */
    LX_CR,      /* saw CR, expecting LF */
    LX_LITERAL, /* inside literal octets */
    LX_AWAIT,   /* c2s: a sync literal waits for "+" */
    LX_RAW,     /* framing given up */
};

struct imap_lex {
    enum imap_dir dir;
    const struct imap_lex_cb *cb;
    void *arg;
    struct imap_lex_limits lim;
    enum imap_lex_mode mode;
    enum lex_state state;
    uint64_t offset; /* bytes consumed */

    /* the unit in progress */
    int in_unit;
    uint64_t unit_off;
    enum imap_unit_kind kind;
    unsigned flags;
    int text_mode;  /* no quotes, no literals (text lines) */
    int classified; /* kind known (s2c) */
    int head_done;
    int spaces; /* separators seen while looking for the head */
    int in_quote, quote_esc;
    uint64_t line_bytes; /* non-literal bytes so far */
    int truncated;       /* line_max reached: text stopped growing */

    /* scratch: the unit text (lazily allocated) */
    char *buf;
    size_t len, size;
    size_t seg_start;    /* where the current line segment starts in buf */
    char tail[TAIL_MAX]; /* last bytes of the segment once truncated */
    size_t tail_len;

    /* literals of the unit */
    struct imap_literal *lits;
    size_t nlits, lits_size;
    uint64_t nlits_all;
    uint64_t lit_remaining;
    int lit_described; /* the current literal has a descriptor */
    uint64_t kept_total;
};

/* Bytes that need a look in each line mode; while the head of a line is
 * being read, spaces too. */
static unsigned char tbl_data[256], tbl_quote[256], tbl_text[256];
static unsigned char tbl_head_data[256], tbl_head_text[256];
/* what line_fast() looks at in a head */
static const unsigned char tbl_fast_head[256] = {
    [' '] = 1, ['"'] = 1, ['\\'] = 1, ['\0'] = 1, ['\r'] = 1,
};

static void tables_init(void)
{
    static int done;

    if (done)
        return;
    tbl_data['"'] = tbl_data['\r'] = tbl_data['\n'] = tbl_data['\0'] = 1;
    tbl_quote['"'] = tbl_quote['\\'] = tbl_quote['\r'] = tbl_quote['\n'] = tbl_quote['\0'] = 1;
    tbl_text['\r'] = tbl_text['\n'] = tbl_text['\0'] = 1;
    memcpy(tbl_head_data, tbl_data, sizeof(tbl_data));
    memcpy(tbl_head_text, tbl_text, sizeof(tbl_text));
    tbl_head_data[' '] = tbl_head_text[' '] = 1;
    done = 1;
}

void imap_lex_default_limits(enum imap_dir dir, int preauth, struct imap_lex_limits *limits_r)
{
    memset(limits_r, 0, sizeof(*limits_r));
    if (dir == IMAP_C2S)
        limits_r->line_max = preauth ? IMAP_LEX_C2S_LINE_MAX_PREAUTH : IMAP_LEX_C2S_LINE_MAX;
    else
        limits_r->line_max = preauth ? IMAP_LEX_S2C_LINE_MAX_PREAUTH : IMAP_LEX_S2C_LINE_MAX;
    limits_r->literal_max =
        preauth && dir == IMAP_C2S ? IMAP_LEX_LITERAL_MAX_PREAUTH : IMAP_LEX_LITERAL_MAX;
    limits_r->literals_max = IMAP_LEX_LITERALS_MAX;
    limits_r->keep_per_literal = IMAP_LEX_KEEP_PER_LITERAL;
    limits_r->keep_total = IMAP_LEX_KEEP_TOTAL;
}

struct imap_lex *imap_lex_new(enum imap_dir dir, const struct imap_lex_limits *limits,
                              const struct imap_lex_cb *cb, void *arg)
{
    struct imap_lex *lx = calloc(1, sizeof(*lx));

    if (lx == NULL)
        return NULL;
    tables_init();
    lx->dir = dir;
    lx->cb = cb;
    lx->arg = arg;
    if (limits != NULL)
        lx->lim = *limits;
    else
        imap_lex_default_limits(dir, 0, &lx->lim);
    lx->mode = IMAP_LEX_NORMAL;
    lx->state = LX_LINE;
    return lx;
}

static void release_scratch(struct imap_lex *lx)
{
    free(lx->buf);
    lx->buf = NULL;
    lx->size = 0;
    free(lx->lits);
    lx->lits = NULL;
    lx->lits_size = 0;
}

void imap_lex_free(struct imap_lex *lx)
{
    if (lx == NULL)
        return;
    release_scratch(lx);
    free(lx);
}

static void problem(struct imap_lex *lx, enum imap_lex_problem what, uint64_t value, uint64_t max)
{
    if (lx->cb->problem != NULL)
        lx->cb->problem(lx->arg, what, lx->in_unit ? lx->unit_off : lx->offset, value, max);
}

/* Scratch memory is released at the end of a feed, never here: a callback
 * may still be looking at the unit text. */
static void go_raw(struct imap_lex *lx)
{
    lx->state = LX_RAW;
    lx->mode = IMAP_LEX_RAW;
    lx->in_unit = 0;
    lx->len = 0;
    lx->nlits = 0;
}

/* Makes room for n more bytes in buf.  Returns 0 or -1. */
static int buf_reserve(struct imap_lex *lx, size_t n)
{
    size_t need = lx->len + n, nsize;
    char *nb;

    if (need <= lx->size)
        return 0;
    nsize = lx->size ? lx->size : 256;
    while (nsize < need)
        nsize *= 2;
    nb = realloc(lx->buf, nsize);
    if (nb == NULL)
        return -1;
    lx->buf = nb;
    lx->size = nsize;
    return 0;
}

/* The current line segment in buf (buf is NULL until a byte is added). */
static const char *seg(const struct imap_lex *lx)
{
    return lx->buf != NULL ? lx->buf + lx->seg_start : "";
}

static void tail_push(struct imap_lex *lx, const char *p, size_t n)
{
    if (n >= TAIL_MAX) {
        memcpy(lx->tail, p + n - TAIL_MAX, TAIL_MAX);
        lx->tail_len = TAIL_MAX;
        return;
    }
    if (lx->tail_len + n > TAIL_MAX) {
        size_t drop = lx->tail_len + n - TAIL_MAX;
        memmove(lx->tail, lx->tail + drop, lx->tail_len - drop);
        lx->tail_len -= drop;
    }
    memcpy(lx->tail + lx->tail_len, p, n);
    lx->tail_len += n;
}

/*
 * Adds non-literal line bytes.  Past line_max the text stops growing (one
 * limit event), the last bytes are still tracked so a literal marker at the
 * end of an overlong line is found.  Returns 0, or -1 out of memory.
 */
static int line_add(struct imap_lex *lx, const char *p, size_t n)
{
    uint64_t room;

    if (lx->len + n <= lx->size && lx->line_bytes + n <= lx->lim.line_max) {
        /* the common case: it fits */
        memcpy(lx->buf + lx->len, p, n);
        lx->len += n;
        lx->line_bytes += n;
        return 0;
    }
    if (n == 0)
        return 0;
    if (lx->truncated) {
        lx->line_bytes += n;
        tail_push(lx, p, n);
        return 0;
    }
    room = lx->lim.line_max > lx->line_bytes ? lx->lim.line_max - lx->line_bytes : 0;
    if (n <= room) {
        if (buf_reserve(lx, n) < 0)
            return -1;
        memcpy(lx->buf + lx->len, p, n);
        lx->len += n;
        lx->line_bytes += n;
        return 0;
    }
    /* crossing the limit: keep what fits, remember the segment's tail */
    if (room > 0) {
        if (buf_reserve(lx, (size_t)room) < 0)
            return -1;
        memcpy(lx->buf + lx->len, p, (size_t)room);
        lx->len += (size_t)room;
    }
    lx->line_bytes += n;
    lx->truncated = 1;
    lx->flags |= IMAP_UNIT_TRUNCATED;
    lx->tail_len = 0;
    tail_push(lx, seg(lx), lx->len - lx->seg_start);
    tail_push(lx, p + room, n - (size_t)room);
    problem(lx, IMAP_LEX_LIMIT_LINE, (uint64_t)lx->lim.line_max + 1, lx->lim.line_max);
    return 0;
}

/* A line break counts towards the line limit but is not text. */
static void line_count_break(struct imap_lex *lx)
{
    lx->line_bytes++;
    if (!lx->truncated && lx->line_bytes > lx->lim.line_max) {
        lx->truncated = 1;
        lx->flags |= IMAP_UNIT_TRUNCATED;
        lx->tail_len = 0;
        tail_push(lx, seg(lx), lx->len - lx->seg_start);
        problem(lx, IMAP_LEX_LIMIT_LINE, (uint64_t)lx->lim.line_max + 1, lx->lim.line_max);
    }
}

static void make_unit(const struct imap_lex *lx, struct imap_unit *u)
{
    u->dir = lx->dir;
    u->kind = lx->kind;
    u->off = lx->unit_off;
    u->len = lx->offset - lx->unit_off;
    u->text = lx->buf != NULL ? lx->buf : "";
    u->text_len = lx->len;
    u->lits = lx->lits;
    u->nlits = lx->nlits;
    u->nlits_all = lx->nlits_all;
    u->line_bytes = lx->line_bytes;
    u->flags = lx->flags;
}

static void call_head(struct imap_lex *lx)
{
    struct imap_unit u;

    lx->head_done = 1;
    if (lx->cb->head == NULL)
        return;
    make_unit(lx, &u);
    /* the same head whatever the split: never more than IMAP_LEX_HEAD_MAX */
    if (u.text_len > IMAP_LEX_HEAD_MAX && lx->nlits == 0)
        u.text_len = IMAP_LEX_HEAD_MAX;
    lx->cb->head(lx->arg, &u);
}

static void unit_begin(struct imap_lex *lx)
{
    lx->in_unit = 1;
    lx->unit_off = lx->offset;
    lx->flags = 0;
    lx->head_done = 0;
    lx->spaces = 0;
    lx->in_quote = lx->quote_esc = 0;
    lx->line_bytes = 0;
    lx->truncated = 0;
    lx->len = 0;
    lx->seg_start = 0;
    lx->tail_len = 0;
    lx->nlits = 0;
    lx->nlits_all = 0;
    lx->kept_total = 0;
    if (lx->dir == IMAP_C2S) {
        lx->classified = 1;
        lx->text_mode = lx->mode == IMAP_LEX_TEXT;
        lx->kind = lx->text_mode ? IMAP_UNIT_CLIENT_TEXT : IMAP_UNIT_COMMAND;
    } else {
        lx->classified = 0;
        lx->text_mode = 0;
        lx->kind = IMAP_UNIT_MALFORMED;
    }
}

static void unit_end(struct imap_lex *lx)
{
    struct imap_unit u;

    if (!lx->head_done)
        call_head(lx);
    make_unit(lx, &u);
    lx->in_unit = 0;
    lx->cb->unit(lx->arg, &u);
    /* the text may have held a password: do not leave it in the heap */
    if (lx->dir == IMAP_C2S && lx->buf != NULL)
        explicit_bzero(lx->buf, lx->len);
    lx->len = 0;
    lx->nlits = 0;
}

/* p[0..n) is the upper-case word w, ignoring case. */
static int is_word(const char *p, size_t n, const char *w)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 'a' + 'A');
        if (w[i] == '\0' || c != (unsigned char)w[i])
            return 0;
    }
    return w[i] == '\0';
}

static int all_digits(const char *p, size_t n)
{
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* A server line by its first two words, t[0..sp1) and t[sp1 + 1..sp2)
 * (protocol.md §2.2); *text_r: a text-mode line (no quotes, no literals). */
static enum imap_unit_kind classify_words(const char *t, size_t sp1, size_t sp2, int *text_r)
{
    const char *w = t + sp1 + 1;
    size_t wn = sp2 - sp1 - 1;

    *text_r = 0;
    if (sp1 == 1 && t[0] == '*') {
        if (all_digits(w, wn))
            return IMAP_UNIT_DATA;
        if ((wn == 2 && (is_word(w, wn, "OK") || is_word(w, wn, "NO"))) ||
            (wn == 3 && (is_word(w, wn, "BAD") || is_word(w, wn, "BYE"))) ||
            (wn == 7 && is_word(w, wn, "PREAUTH"))) {
            *text_r = 1;
            return IMAP_UNIT_STATUS;
        }
        return IMAP_UNIT_DATA;
    }
    if ((wn == 2 && (is_word(w, wn, "OK") || is_word(w, wn, "NO"))) ||
        (wn == 3 && is_word(w, wn, "BAD"))) {
        *text_r = 1;
        return IMAP_UNIT_TAGGED;
    }
    return IMAP_UNIT_MALFORMED;
}

/*
 * The kind of a server line from its first bytes t[0..n).  Returns 1 with
 * kind and text, or 0 when more of the line is needed (never when at_eol:
 * the line has ended, decide with what there is).
 */
static int classify_line(const char *t, size_t n, int at_eol, enum imap_unit_kind *kind_r,
                         int *text_r)
{
    size_t sp1, sp2;

    *text_r = 0;
    if (n == 0) {
        if (!at_eol)
            return 0;
        *kind_r = IMAP_UNIT_MALFORMED;
        return 1;
    }
    if (t[0] == '+') {
        *kind_r = IMAP_UNIT_CONTINUE;
        *text_r = 1;
        return 1;
    }
    for (sp1 = 0; sp1 < n && t[sp1] != ' '; sp1++)
        ;
    if (sp1 == n) {
        *kind_r = IMAP_UNIT_MALFORMED;
        return at_eol;
    }
    for (sp2 = sp1 + 1; sp2 < n && t[sp2] != ' '; sp2++)
        ;
    if (sp2 == n && !at_eol)
        return 0;
    *kind_r = classify_words(t, sp1, sp2, text_r);
    return 1;
}

/* Classifies the server line in progress from what buf holds. */
static void classify(struct imap_lex *lx, int at_eol)
{
    enum imap_unit_kind kind;
    int text;

    if (!classify_line(lx->buf, lx->len, at_eol, &kind, &text))
        return;
    lx->kind = kind;
    lx->classified = 1;
    if (text) {
        lx->text_mode = 1;
        lx->in_quote = lx->quote_esc = 0; /* a valid head holds no quotes */
    }
}

/*
 * Looks for a literal marker at the end of the line segment just ended.
 * Returns 1 with size/flags, 0 for none, -1 when the count overflows.
 */
static int find_marker(struct imap_lex *lx, uint64_t *size_r, unsigned *flags_r)
{
    const char *t;
    size_t n, i, digits_end;
    uint64_t size = 0;
    unsigned flags = 0;

    if (lx->truncated) {
        t = lx->tail;
        n = lx->tail_len;
    } else {
        n = lx->len - lx->seg_start;
        if (n < 3)
            return 0; /* buf may still be NULL: no pointer arithmetic on it */
        t = lx->buf + lx->seg_start;
    }
    if (n < 3 || t[n - 1] != '}')
        return 0;
    i = n - 1;
    if (t[i - 1] == '+') {
        flags |= IMAP_LIT_NONSYNC;
        i--;
    }
    digits_end = i;
    while (i > 0 && t[i - 1] >= '0' && t[i - 1] <= '9')
        i--;
    if (i == digits_end)
        return 0;
    /* digits that run past the kept tail, or more than any count needs:
     * no framer could be sure what follows */
    if (digits_end - i > MARKER_DIGITS_MAX || (i == 0 && lx->truncated))
        return -1;
    if (i == 0 || t[i - 1] != '{')
        return 0;
    for (size_t k = i; k < digits_end; k++) {
        unsigned d = (unsigned)(t[k] - '0');
        if (size > (IMAP_LEX_LITERAL_PARSE_MAX - d) / 10)
            return -1;
        size = size * 10 + d;
    }
    if (i >= 2 && t[i - 2] == '~')
        flags |= IMAP_LIT_BINARY;
    *size_r = size;
    *flags_r = flags;
    return 1;
}

static int lits_reserve(struct imap_lex *lx)
{
    size_t nsize;
    struct imap_literal *nl;

    if (lx->nlits < lx->lits_size)
        return 0;
    nsize = lx->lits_size ? lx->lits_size * 2 : 4;
    nl = realloc(lx->lits, nsize * sizeof(*nl));
    if (nl == NULL)
        return -1;
    lx->lits = nl;
    lx->lits_size = nsize;
    return 0;
}

/* The line break after a literal marker goes into the text so the tokenizer
 * sees the marker as the wire has it. */
static int literal_begin(struct imap_lex *lx, uint64_t size, unsigned flags, int bare_lf)
{
    const char *brk = bare_lf ? "\n" : "\r\n";
    size_t brk_len = bare_lf ? 1 : 2;

    lx->nlits_all++;
    if (size > lx->lim.literal_max)
        problem(lx, IMAP_LEX_LIMIT_LITERAL, size, lx->lim.literal_max);
    lx->lit_described = 0;
    if (!lx->truncated) {
        if (buf_reserve(lx, brk_len) < 0)
            return -1;
        memcpy(lx->buf + lx->len, brk, brk_len);
        lx->len += brk_len;
        if (lx->nlits < lx->lim.literals_max) {
            if (lits_reserve(lx) < 0)
                return -1;
            lx->lits[lx->nlits] = (struct imap_literal){size, lx->len, 0, flags};
            lx->nlits++;
            lx->lit_described = 1;
        } else if (!(lx->flags & IMAP_UNIT_LITS_DROPPED)) {
            lx->flags |= IMAP_UNIT_LITS_DROPPED;
            problem(lx, IMAP_LEX_LIMIT_LITERALS, lx->nlits_all, lx->lim.literals_max);
        }
    }
    if (!lx->head_done)
        call_head(lx);
    lx->lit_remaining = size;
    if (lx->dir == IMAP_C2S && !(flags & IMAP_LIT_NONSYNC)) {
        struct imap_unit u;
        lx->state = LX_AWAIT;
        if (lx->cb->sync_literal != NULL) {
            make_unit(lx, &u);
            lx->cb->sync_literal(lx->arg, &u);
        }
        return 0;
    }
    lx->state = LX_LITERAL;
    return 0;
}

/* The literal's octets are over: the line goes on in a new segment. */
static void literal_end(struct imap_lex *lx)
{
    lx->state = LX_LINE;
    lx->seg_start = lx->len;
    lx->tail_len = 0;
    lx->in_quote = lx->quote_esc = 0;
}

/* A line break (CRLF, or LF alone) ended a line segment. */
static int line_end(struct imap_lex *lx, int bare_lf)
{
    uint64_t size;
    unsigned lflags;
    int m;

    if (bare_lf)
        lx->flags |= IMAP_UNIT_BARE_LF;
    if (!lx->classified)
        classify(lx, 1);
    if (!lx->text_mode && lx->in_quote) {
        lx->flags |= IMAP_UNIT_OPEN_QUOTE;
        lx->in_quote = lx->quote_esc = 0;
    } else if (!lx->text_mode) {
        m = find_marker(lx, &size, &lflags);
        if (m < 0) {
            problem(lx, IMAP_LEX_GIVE_UP, 0, IMAP_LEX_LITERAL_PARSE_MAX);
            go_raw(lx);
            return 0;
        }
        if (m > 0) {
            if (literal_begin(lx, size, lflags, bare_lf) < 0)
                return -1;
            if (lx->state == LX_LITERAL && lx->lit_remaining == 0)
                literal_end(lx);
            return 0;
        }
    }
    unit_end(lx);
    return 0;
}

/* Head and classification: a space outside quotes ends a token. */
static void head_space(struct imap_lex *lx)
{
    lx->spaces++;
    /* a line is known by its first two words */
    if (!lx->classified && lx->spaces >= 2)
        classify(lx, 0);
    if (lx->spaces == 1 && lx->len - 1 > IMAP_LEX_TAG_MAX)
        problem(lx, IMAP_LEX_LIMIT_TAG, lx->len - 1, IMAP_LEX_TAG_MAX);
    if (lx->spaces >= 3)
        call_head(lx);
}

/* After bytes were added to the head: "+" classifies at once, and no head
 * is longer than IMAP_LEX_HEAD_MAX. */
static void head_check(struct imap_lex *lx)
{
    if (!lx->classified && lx->len >= 1 && lx->buf[0] == '+')
        classify(lx, 0);
    /* line_bytes, not len: the same point whether or not the line limit
     * stopped the text from growing */
    if (!lx->head_done && lx->line_bytes >= IMAP_LEX_HEAD_MAX) {
        if (!lx->classified) {
            /* no valid head is this long: treat it as data */
            lx->kind = IMAP_UNIT_MALFORMED;
            lx->classified = 1;
        }
        /* a tag without its end in sight: its length is at least this */
        if (lx->spaces == 0)
            problem(lx, IMAP_LEX_LIMIT_TAG, IMAP_LEX_HEAD_MAX, IMAP_LEX_TAG_MAX);
        call_head(lx);
    }
}

/* One byte of a data line for the quote state (as scan_line() has it);
 * returns -1 at a CR. */
static inline int data_byte(char c, int *in_quote, int *esc, unsigned *flags)
{
    if (c == '\r')
        return -1;
    if (c == '\0')
        *flags |= IMAP_UNIT_NUL;
    if (*esc) {
        /* only \" and \\ are escapes (RFC 3501 §9 QUOTED-CHAR) */
        *esc = 0;
        if (c != '"' && c != '\\')
            *flags |= IMAP_UNIT_BAD_ESCAPE;
    } else if (*in_quote) {
        if (c == '\\')
            *esc = 1;
        else if (c == '"')
            *in_quote = 0;
    } else if (c == '"') {
        *in_quote = 1;
    }
    return 0;
}

#ifdef IMAP_SCAN_SSE2
/* The state of scan_data(). */
struct qstate {
    int in_quote, esc;
    unsigned flags;
    unsigned qacc; /* quotes of blocks not yet counted into in_quote */
};

/* Folds the quotes of the blocks passed over into in_quote: the parity of
 * their bits (parities add up by XOR, so the masks were XORed). */
static inline void qstate_settle(struct qstate *q)
{
    unsigned m = q->qacc;

    m ^= m >> 8;
    m ^= m >> 4;
    q->in_quote ^= (0x6996 >> (m & 0xf)) & 1;
    q->qacc = 0;
}

/* One block b[0..len) of a data line (len <= 16), its quote bits mq and its
 * backslash, CR and NUL bits mbs.  Returns the index of a CR (the bytes
 * before it taken), or len. */
static inline size_t scan_block(struct qstate *q, const char *b, size_t len, unsigned mq,
                                unsigned mbs)
{
    unsigned m = mq | mbs;

    if (mbs == 0 && !q->esc) {
        q->qacc ^= mq; /* quotes only: the parity is all that counts */
        return len;
    }
    qstate_settle(q);
    if (q->esc && b[0] != '\r') {
        /* the block starts with an escaped byte (a CR stops the scan
         * first: the quote state skips it, the escape waits) */
        q->esc = 0;
        if (b[0] == '"' || b[0] == '\\')
            m &= ~1u;
        else
            q->flags |= IMAP_UNIT_BAD_ESCAPE;
    }
    while (m != 0) {
        unsigned k = (unsigned)__builtin_ctz(m);
        char c = b[k];
        m &= m - 1;
        if (c == '"') {
            q->in_quote ^= 1;
        } else if (c == '\\') {
            if (!q->in_quote)
                continue; /* a flag's backslash */
            if (k + 1 == len || b[k + 1] == '\r')
                q->esc = 1; /* the escaped byte is in the next block, or
                               after the CR, which the quote state skips */
            else if (b[k + 1] == '"' || b[k + 1] == '\\')
                m &= ~(1u << (k + 1));
            else
                q->flags |= IMAP_UNIT_BAD_ESCAPE;
        } else if (c == '\r') {
            return k;
        } else {
            q->flags |= IMAP_UNIT_NUL;
        }
    }
    return len;
}
#endif

/*
 * The quote state, escapes and NULs of the bytes p[0..n) of a data line,
 * from the state given, up to the first CR.  Returns where that CR is (the
 * bytes before it taken), or n.  With SSE2, 16 bytes at a time: most blocks
 * only flip the quote state, and only the special bytes of blocks with a
 * backslash, CR or NUL are looked at one by one.
 */
static size_t scan_data(const char *p, size_t n, int *in_quote_r, int *esc_r, unsigned *flags_r)
{
    size_t i = 0;

#ifdef IMAP_SCAN_SSE2
    if (n >= 16) {
        const __m128i vq = _mm_set1_epi8('"'), vb = _mm_set1_epi8('\\');
        const __m128i vr = _mm_set1_epi8('\r'), vz = _mm_setzero_si128();
        struct qstate q = {*in_quote_r, *esc_r, *flags_r, 0};
        __m128i v;
        unsigned mq, mbs;
        size_t k;

#define SCAN_MASKS(at)                                               \
    (v = _mm_loadu_si128((const __m128i *)(const void *)(p + (at))), \
     mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vq)),        \
     mbs = (unsigned)_mm_movemask_epi8(_mm_or_si128(                 \
         _mm_cmpeq_epi8(v, vb), _mm_or_si128(_mm_cmpeq_epi8(v, vr), _mm_cmpeq_epi8(v, vz)))))
        for (; n - i >= 16; i += 16) {
            SCAN_MASKS(i);
            if ((k = scan_block(&q, p + i, 16, mq, mbs)) < 16) {
                i += k;
                goto out;
            }
        }
        if (i < n) {
            /* the last bytes, as the end of a block that overlaps bytes
             * already seen (their bits shifted out) */
            size_t skip = 16 - (n - i);
            SCAN_MASKS(n - 16);
            i += scan_block(&q, p + i, n - i, mq >> skip, mbs >> skip);
        }
#undef SCAN_MASKS
    out:
        qstate_settle(&q);
        *in_quote_r = q.in_quote;
        *esc_r = q.esc;
        *flags_r = q.flags;
        return i;
    }
#endif
    for (; i < n; i++)
        if (data_byte(p[i], in_quote_r, esc_r, flags_r) < 0)
            break;
    return i;
}

/* Consumes line bytes from p; returns the number used, or -1 out of memory. */
static long scan_line(struct imap_lex *lx, const char *p, size_t n)
{
    const char *start = p, *end = p + n;

    while (p < end) {
        unsigned char c;
        if (lx->head_done && !lx->text_mode) {
            /* the body of a data line: quotes, escapes and NULs of the run
             * up to its end or a CR in one pass, the run copied at once */
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t k = scan_data(p, (size_t)((nl ? nl : end) - p), &lx->in_quote, &lx->quote_esc,
                                 &lx->flags);
            if (k > 0) {
                if (line_add(lx, p, k) < 0)
                    return -1;
                lx->offset += k;
                p += k;
            }
            if (p == end)
                break;
            c = (unsigned char)*p; /* CR or LF */
        } else if (!lx->quote_esc) {
            /* copy the run up to the next byte that matters */
            const unsigned char *tbl;
            const char *q = p;
            if (lx->in_quote && !lx->text_mode)
                tbl = tbl_quote;
            else if (lx->head_done)
                tbl = lx->text_mode ? tbl_text : tbl_data;
            else
                tbl = lx->text_mode ? tbl_head_text : tbl_head_data;
            if (lx->head_done && !lx->in_quote) {
                /* the body of a line: glibc's vector memchr finds its end,
                 * and quotes, NULs and stray CRs within it, far faster than
                 * a byte loop */
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *lim = nl ? nl : end, *x;
                q = lim;
                if (lim > p) {
                    if (lim[-1] == '\r')
                        q = lim - 1;
                    if (!lx->text_mode && (x = memchr(p, '"', (size_t)(q - p))) != NULL)
                        q = x;
                    if ((x = memchr(p, '\r', (size_t)(q - p))) != NULL)
                        q = x;
                    if ((x = memchr(p, '\0', (size_t)(q - p))) != NULL)
                        q = x;
                }
            } else {
                /* a head run stops at IMAP_LEX_HEAD_MAX: the head (and the
                 * limits it reports) come at the same byte for any split */
                const char *stop = end;
                if (!lx->head_done && lx->line_bytes < IMAP_LEX_HEAD_MAX &&
                    (size_t)(end - p) > IMAP_LEX_HEAD_MAX - lx->line_bytes)
                    stop = p + (IMAP_LEX_HEAD_MAX - lx->line_bytes);
                while (q < stop && !tbl[(unsigned char)*q])
                    q++;
            }
            if (q > p) {
                if (line_add(lx, p, (size_t)(q - p)) < 0)
                    return -1;
                lx->offset += (uint64_t)(q - p);
                p = q;
                if (!lx->head_done)
                    head_check(lx);
            }
            if (p == end)
                break;
        }

        c = (unsigned char)*p;
        if (c == '\r') {
            lx->offset++;
            p++;
            line_count_break(lx);
            lx->state = LX_CR;
            return p - start;
        }
        if (c == '\n') {
            lx->offset++;
            p++;
            line_count_break(lx);
            if (line_end(lx, 1) < 0)
                return -1;
            return p - start;
        }
        if (line_add(lx, (const char *)p, 1) < 0)
            return -1;
        lx->offset++;
        p++;
        if (c == '\0')
            lx->flags |= IMAP_UNIT_NUL;
        if (!lx->text_mode) {
            if (lx->quote_esc) {
                /* only \" and \\ are escapes (RFC 3501 §9 QUOTED-CHAR) */
                lx->quote_esc = 0;
                if (c != '"' && c != '\\')
                    lx->flags |= IMAP_UNIT_BAD_ESCAPE;
            } else if (lx->in_quote) {
                if (c == '\\')
                    lx->quote_esc = 1;
                else if (c == '"')
                    lx->in_quote = 0;
            } else if (c == '"') {
                lx->in_quote = 1;
            }
        }
        if (!lx->head_done) {
            if (c == ' ' && !lx->in_quote)
                head_space(lx);
            else
                head_check(lx);
        }
    }
    return p - start;
}

static long scan_literal(struct imap_lex *lx, const char *p, size_t n)
{
    size_t take = n;

    if ((uint64_t)take > lx->lit_remaining)
        take = (size_t)lx->lit_remaining;
    if (lx->lit_described) {
        struct imap_literal *lit = &lx->lits[lx->nlits - 1];
        uint64_t room = 0;
        if (lit->kept < lx->lim.keep_per_literal && lx->kept_total < lx->lim.keep_total) {
            room = lx->lim.keep_per_literal - lit->kept;
            if (room > lx->lim.keep_total - lx->kept_total)
                room = lx->lim.keep_total - lx->kept_total;
        }
        if (room > take)
            room = take;
        if (room > 0) {
            if (buf_reserve(lx, (size_t)room) < 0)
                return -1;
            memcpy(lx->buf + lx->len, p, (size_t)room);
            lx->len += (size_t)room;
            lit->kept += (size_t)room;
            lx->kept_total += room;
        }
    }
    if (lx->cb->literal_data != NULL && take > 0)
        lx->cb->literal_data(lx->arg, lx->nlits_all - 1, p, take);
    lx->lit_remaining -= take;
    lx->offset += take;
    if (lx->lit_remaining == 0)
        literal_end(lx);
    return (long)take;
}

/*
 * The fast path, for most lines: a whole line sits in the caller's buffer,
 * ends in CRLF and carries no literal.  It is framed in place: the unit text
 * points into the caller's buffer (valid until the callbacks return, all the
 * contract asks) and nothing is copied.  Anything unusual (a possible
 * literal marker, a bare CR or LF, NUL or quotes near the head, a long tag,
 * a line over the limit) leaves the line to the general path, which would
 * make the same unit, head and callbacks: the head below follows head_space()
 * and head_check() byte for byte.  Returns the bytes used, or 0.
 */
static size_t line_fast(struct imap_lex *lx, const char *p, size_t avail)
{
    const char *nl = memchr(p, '\n', avail);
    size_t n, i, k, lim, sp1 = 0, head_len = 0, start = 0;
    int text_mode, classified, in_quote = 0, esc = 0, spaces = 0, saw_quote = 0;
    enum imap_unit_kind kind;
    unsigned flags = 0, head_flags;
    struct imap_unit u;

    if (nl == NULL || nl == p || nl[-1] != '\r')
        return 0;
    n = (size_t)(nl - p) - 1; /* text, without CRLF */
    if (n == 0 || n + 2 > lx->lim.line_max || p[n - 1] == '}')
        return 0;
    if (lx->dir == IMAP_C2S) {
        classified = 1;
        text_mode = lx->mode == IMAP_LEX_TEXT;
        kind = text_mode ? IMAP_UNIT_CLIENT_TEXT : IMAP_UNIT_COMMAND;
    } else if (p[0] == '+') {
        classified = 1;
        text_mode = 1;
        kind = IMAP_UNIT_CONTINUE;
    } else if (n > 3 && p[0] == '*' && p[1] == ' ' && (unsigned)(p[2] - '0') <= 9) {
        /* "* 123 ...": what the loop below would make of these bytes */
        for (k = 3; k < n && (unsigned)(p[k] - '0') <= 9; k++)
            ;
        classified = k < n && p[k] == ' ' && k < IMAP_LEX_HEAD_MAX - 1;
        text_mode = 0;
        kind = classified ? IMAP_UNIT_DATA : IMAP_UNIT_MALFORMED;
        if (classified) {
            spaces = 2;
            sp1 = 1;
            start = k + 1;
        }
    } else {
        classified = 0;
        text_mode = 0;
        kind = IMAP_UNIT_MALFORMED;
    }

    /* the head: up to the third space outside quotes, at most HEAD_MAX;
     * bytes that are none of space, quote, backslash, NUL or CR are only
     * passed over (but an escaped one), up to the byte where HEAD_MAX is
     * reached */
    lim = n < IMAP_LEX_HEAD_MAX - 1 ? n : IMAP_LEX_HEAD_MAX - 1;
    for (i = start; head_len == 0; i++) {
        char c;
        while (i < lim && !esc && !tbl_fast_head[(unsigned char)p[i]])
            i++;
        if (i >= n)
            break;
        c = p[i];
        if (c == '\0' || c == '\r')
            return 0;
        if (!text_mode) {
            if (esc) {
                esc = 0;
                if (c != '"' && c != '\\')
                    flags |= IMAP_UNIT_BAD_ESCAPE;
            } else if (in_quote) {
                if (c == '\\')
                    esc = 1;
                else if (c == '"')
                    in_quote = 0;
            } else if (c == '"') {
                in_quote = saw_quote = 1;
            }
        }
        if (c == ' ' && !in_quote) {
            if (++spaces == 1) {
                sp1 = i;
                if (i > IMAP_LEX_TAG_MAX)
                    return 0; /* a limit to report: the general path does */
            } else if (!classified) {
                /* classify() takes the first two spaces, quoted or not */
                if (saw_quote)
                    classify_line(p, i + 1, 0, &kind, &text_mode);
                else
                    kind = classify_words(p, sp1, i, &text_mode);
                classified = 1;
                if (text_mode)
                    in_quote = esc = 0;
            }
            if (spaces >= 3)
                head_len = i + 1 < IMAP_LEX_HEAD_MAX ? i + 1 : IMAP_LEX_HEAD_MAX;
        } else if (i + 1 >= IMAP_LEX_HEAD_MAX) {
            if (spaces == 0)
                return 0; /* likewise */
            if (!classified) {
                kind = IMAP_UNIT_MALFORMED;
                classified = 1;
            }
            head_len = IMAP_LEX_HEAD_MAX;
        }
    }

    head_flags = flags;

    /* the rest: only NUL, CR and (outside text mode) quotes matter */
    if (text_mode) {
        for (; (i += imap_scan4(p + i, n - i, '\0', '\r', '\0', '\0')) < n; i++) {
            if (p[i] == '\r')
                return 0; /* a bare CR */
            flags |= IMAP_UNIT_NUL;
        }
    } else if (scan_data(p + i, n - i, &in_quote, &esc, &flags) < n - i) {
        return 0; /* a bare CR */
    }
    if (!classified) {
        classify_line(p, n, 1, &kind, &text_mode);
        if (text_mode)
            in_quote = 0;
    }
    if (in_quote && !text_mode)
        flags |= IMAP_UNIT_OPEN_QUOTE;

    lx->in_unit = 1;
    lx->unit_off = lx->offset;
    lx->kind = kind;
    u = (struct imap_unit){lx->dir, kind, lx->offset, 0, p, 0, NULL, 0, 0, 0, head_flags};
    if (lx->cb->head != NULL) {
        u.text_len = head_len != 0 ? head_len : n < IMAP_LEX_HEAD_MAX ? n : IMAP_LEX_HEAD_MAX;
        u.len = u.line_bytes = u.text_len;
        lx->offset += u.text_len;
        lx->cb->head(lx->arg, &u);
        lx->offset = u.off;
    }
    lx->offset += n + 2;
    u.len = u.line_bytes = n + 2;
    u.text_len = n;
    u.flags = flags;
    lx->in_unit = 0;
    lx->len = 0;
    lx->nlits = 0;
    lx->cb->unit(lx->arg, &u);
    return n + 2;
}

int imap_lex_feed(struct imap_lex *lx, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    long used;

    while (p < end) {
        switch (lx->state) {
        case LX_RAW:
            lx->offset += (uint64_t)(end - p);
            p = end;
            continue;
        case LX_LINE:
            if (!lx->in_unit && lx->mode == IMAP_LEX_DISCARD) {
                lx->offset += (uint64_t)(end - p);
                p = end;
                continue;
            }
            if (!lx->in_unit) {
                size_t fast = line_fast(lx, p, (size_t)(end - p));
                if (fast > 0) {
                    p += fast;
                    continue;
                }
                unit_begin(lx);
            }
            used = scan_line(lx, p, (size_t)(end - p));
            break;
        case LX_CR:
            if (*p == '\n') {
                lx->offset++;
                p++;
                line_count_break(lx);
                lx->state = LX_LINE;
                if (line_end(lx, 0) < 0)
                    goto nomem;
                continue;
            }
            /* a CR inside a line is data (and suspicious); it was counted */
            lx->flags |= IMAP_UNIT_BARE_CR;
            lx->state = LX_LINE;
            lx->line_bytes--;
            if (line_add(lx, "\r", 1) < 0)
                goto nomem;
            if (!lx->head_done)
                head_check(lx);
            continue;
        case LX_AWAIT:
            /* octets before the "+": take them as the literal, as a server would */
            if (lx->lit_described)
                lx->lits[lx->nlits - 1].flags |= IMAP_LIT_EARLY;
            problem(lx, IMAP_LEX_EARLY_LITERAL, lx->lit_remaining, 0);
            lx->state = LX_LITERAL;
            if (lx->lit_remaining == 0) {
                literal_end(lx);
                continue;
            }
            /* fall through */
        case LX_LITERAL:
            used = scan_literal(lx, p, (size_t)(end - p));
            break;
        default:
            return 0;
        }
        if (used < 0)
            goto nomem;
        p += used;
    }
    if (!lx->in_unit && (lx->state == LX_LINE || lx->state == LX_RAW))
        release_scratch(lx);
    return 0;
nomem:
    problem(lx, IMAP_LEX_GIVE_UP, 0, 0);
    lx->offset += (uint64_t)(end - p);
    go_raw(lx);
    release_scratch(lx);
    return -1;
}

void imap_lex_literal_go(struct imap_lex *lx)
{
    if (lx->state != LX_AWAIT)
        return;
    lx->state = LX_LITERAL;
    if (lx->lit_remaining == 0)
        literal_end(lx);
}

void imap_lex_literal_cancel(struct imap_lex *lx)
{
    if (lx->state != LX_AWAIT)
        return;
    if (lx->lit_described)
        lx->lits[lx->nlits - 1].flags |= IMAP_LIT_ABORTED;
    lx->flags |= IMAP_UNIT_ABORTED;
    lx->state = LX_LINE;
    lx->lit_remaining = 0;
    unit_end(lx);
}

int imap_lex_awaiting_plus(const struct imap_lex *lx)
{
    return lx->state == LX_AWAIT;
}

void imap_lex_set_mode(struct imap_lex *lx, enum imap_lex_mode mode)
{
    if (lx->mode == IMAP_LEX_RAW)
        return; /* raw is final */
    lx->mode = mode;
    if (mode == IMAP_LEX_RAW)
        go_raw(lx);
}

enum imap_lex_mode imap_lex_mode(const struct imap_lex *lx)
{
    return lx->mode;
}

void imap_lex_set_limits(struct imap_lex *lx, const struct imap_lex_limits *limits)
{
    lx->lim = *limits;
}

uint64_t imap_lex_offset(const struct imap_lex *lx)
{
    return lx->offset;
}

uint64_t imap_lex_unit_start(const struct imap_lex *lx)
{
    return lx->in_unit ? lx->unit_off : lx->offset;
}

int imap_lex_at_boundary(const struct imap_lex *lx)
{
    return !lx->in_unit && lx->state == LX_LINE;
}

int imap_lex_in_literal(const struct imap_lex *lx)
{
    return lx->state == LX_LITERAL || lx->state == LX_AWAIT;
}

void imap_lex_reset(struct imap_lex *lx)
{
    if (lx->state == LX_RAW)
        return;
    lx->state = LX_LINE;
    lx->mode = IMAP_LEX_NORMAL;
    lx->in_unit = 0;
    lx->len = 0;
    lx->nlits = 0;
}

size_t imap_lex_memory(const struct imap_lex *lx)
{
    return lx->size + lx->lits_size * sizeof(struct imap_literal);
}

void imap_lex_trim(struct imap_lex *lx)
{
    if (!lx->in_unit && (lx->state == LX_LINE || lx->state == LX_RAW))
        release_scratch(lx);
}
