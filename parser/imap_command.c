/*
 * imap_command.c - a client command unit becomes a struct imap_command.
 *
 * One pass over the arguments with the tokenizer renders the summary, finds
 * the mailbox and decides whether the command uses sequence numbers.  The
 * tag and the command name are scanned by hand: they are most of a short
 * line, and the tokenizer is only needed when they are odd.
 *
 * Redaction happens here, before anything reaches the logger: from the
 * LOGIN password or the AUTHENTICATE initial response on, every token is
 * consumed unseen and the summary says "***" once; the excerpt of a broken
 * line stops where the secret starts (or would have).  A broken line gets
 * no summary and no literal heads at all.
 */
#include "imap_msg.h"

#include <string.h>

#include "imap_token.h"
#include "imap_utf7.h"

#define CMD_ARGS_MAX       512 /* bytes of the argument summary (protocol.md §7.2) */
#define CMD_LIT_INLINE_MAX 256 /* longest literal the summary shows as a string */
#define CMD_NO_POS         SIZE_MAX

/* Character classes (RFC 3501 §9), one table lookup per byte. */
#define CC_ATOM  0x01 /* ATOM-CHAR: a string of these is shown bare */
#define CC_TAG   0x02 /* ASTRING-CHAR except "+" */
#define CC_PRINT 0x04 /* printable ASCII, SP included */
#define CC_HIGH  0x08 /* 8-bit: valid only as UTF-8 */

/* clang-format off */
static const unsigned char cmd_cc[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* CTL */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* CTL */
    4, 7, 4, 7, 7, 4, 7, 7, 4, 4, 4, 5, 7, 7, 7, 7, /* SP ! " # $ % & ' ( ) * + , - . / */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0-9 : ; < = > ? */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* @ A-O */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 4, 6, 7, 7, /* P-Z [ \ ] ^ _ */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* ` a-o */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 4, 7, 7, 7, 0, /* p-z { | } ~ DEL */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* 8-bit */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
};
/* clang-format on */

struct cmd_name {
    const char *name;
    enum imap_cmd_id id;
};

/* Command names by length: a lookup compares a few names at most. */
static const struct cmd_name cmd_names2[] = {
    {"ID", IMAP_CMD_ID},
    {NULL, IMAP_CMD_OTHER},
};
static const struct cmd_name cmd_names4[] = {
    {"NOOP", IMAP_CMD_NOOP}, {"LIST", IMAP_CMD_LIST}, {"LSUB", IMAP_CMD_LSUB},
    {"COPY", IMAP_CMD_COPY}, {"MOVE", IMAP_CMD_MOVE}, {"SORT", IMAP_CMD_SORT},
    {"IDLE", IMAP_CMD_IDLE}, {NULL, IMAP_CMD_OTHER},
};
static const struct cmd_name cmd_names5[] = {
    {"FETCH", IMAP_CMD_FETCH}, {"STORE", IMAP_CMD_STORE}, {"LOGIN", IMAP_CMD_LOGIN},
    {"CHECK", IMAP_CMD_CHECK}, {"CLOSE", IMAP_CMD_CLOSE}, {NULL, IMAP_CMD_OTHER},
};
static const struct cmd_name cmd_names6[] = {
    {"SELECT", IMAP_CMD_SELECT}, {"SEARCH", IMAP_CMD_SEARCH}, {"STATUS", IMAP_CMD_STATUS},
    {"APPEND", IMAP_CMD_APPEND}, {"LOGOUT", IMAP_CMD_LOGOUT}, {"CREATE", IMAP_CMD_CREATE},
    {"DELETE", IMAP_CMD_DELETE}, {"RENAME", IMAP_CMD_RENAME}, {"THREAD", IMAP_CMD_THREAD},
    {"ENABLE", IMAP_CMD_ENABLE}, {"GETACL", IMAP_CMD_GETACL}, {"SETACL", IMAP_CMD_SETACL},
    {"NOTIFY", IMAP_CMD_NOTIFY}, {NULL, IMAP_CMD_OTHER},
};
static const struct cmd_name cmd_names7[] = {
    {"EXAMINE", IMAP_CMD_EXAMINE},
    {"EXPUNGE", IMAP_CMD_EXPUNGE},
    {NULL, IMAP_CMD_OTHER},
};
static const struct cmd_name cmd_names8[] = {
    {"UNSELECT", IMAP_CMD_UNSELECT}, {"STARTTLS", IMAP_CMD_STARTTLS},
    {"COMPRESS", IMAP_CMD_COMPRESS}, {"GETQUOTA", IMAP_CMD_GETQUOTA},
    {"SETQUOTA", IMAP_CMD_SETQUOTA}, {"MYRIGHTS", IMAP_CMD_MYRIGHTS},
    {NULL, IMAP_CMD_OTHER},
};
static const struct cmd_name cmd_names9[] = {
    {"SUBSCRIBE", IMAP_CMD_SUBSCRIBE},
    {"NAMESPACE", IMAP_CMD_NAMESPACE},
    {NULL, IMAP_CMD_OTHER},
};
static const struct cmd_name cmd_names10[] = {
    {"CAPABILITY", IMAP_CMD_CAPABILITY},
    {NULL, IMAP_CMD_OTHER},
};
static const struct cmd_name cmd_names11[] = {
    {"UNSUBSCRIBE", IMAP_CMD_UNSUBSCRIBE},
    {"GETMETADATA", IMAP_CMD_GETMETADATA},
    {"SETMETADATA", IMAP_CMD_SETMETADATA},
    {NULL, IMAP_CMD_OTHER},
};
static const struct cmd_name cmd_names12[] = {
    {"AUTHENTICATE", IMAP_CMD_AUTHENTICATE},
    {"GETQUOTAROOT", IMAP_CMD_GETQUOTAROOT},
    {NULL, IMAP_CMD_OTHER},
};
static const struct cmd_name cmd_names14[] = {
    {"UNAUTHENTICATE", IMAP_CMD_UNAUTHENTICATE},
    {NULL, IMAP_CMD_OTHER},
};

/* Compares p with an upper-case word of letters, ignoring case: clearing
 * bit 0x20 maps exactly "a".."z" and "A".."Z" onto "A".."Z" among them. */
static int eq_letters_ci(const char *p, const char *word, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)p[i] & 0xDF) != (unsigned char)word[i])
            return 0;
    }
    return 1;
}

static const struct cmd_name *const cmd_by_len[] = {
    [2] = cmd_names2,   [4] = cmd_names4,   [5] = cmd_names5,   [6] = cmd_names6,
    [7] = cmd_names7,   [8] = cmd_names8,   [9] = cmd_names9,   [10] = cmd_names10,
    [11] = cmd_names11, [12] = cmd_names12, [14] = cmd_names14,
};

/* The command called name, in any case; *upper_r says whether name is
 * upper-case already. */
static const struct cmd_name *cmd_find(struct imap_str name, int *upper_r)
{
    if (name.p == NULL || name.len >= sizeof(cmd_by_len) / sizeof(cmd_by_len[0]))
        return NULL;
    for (const struct cmd_name *c = cmd_by_len[name.len]; c != NULL && c->name != NULL; c++) {
        size_t k;
        unsigned diff = 0;
        for (k = 0; k < name.len; k++) {
            unsigned char x = (unsigned char)name.p[k];
            if ((x & 0xDF) != (unsigned char)c->name[k])
                break;
            diff |= x ^ (unsigned char)c->name[k];
        }
        if (k == name.len) {
            *upper_r = diff == 0;
            return c;
        }
    }
    return NULL;
}

enum imap_cmd_id imap_cmd_lookup(struct imap_str name)
{
    int upper;
    const struct cmd_name *c = cmd_find(name, &upper);

    return c != NULL ? c->id : IMAP_CMD_OTHER;
}

/* Where the first cut of at most max bytes of s ends without splitting a
 * UTF-8 sequence (s must hold more than max bytes). */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = max;

    for (int k = 0; k < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; k++)
        n--;
    return ((unsigned char)s[n] & 0xC0) == 0x80 ? max : n;
}

struct imap_str imap_msg_excerpt(const struct imap_unit *u, size_t max)
{
    size_t n = u->text_len;

    if (u->text == NULL)
        return (struct imap_str){"", 0};
    /* the octets of a literal are data, not line: stop at the first marker */
    if (u->nlits > 0 && u->lits[0].pos <= n) {
        size_t cut = u->lits[0].pos;
        if (cut > 0 && u->text[cut - 1] == '\n')
            cut--;
        if (cut > 0 && u->text[cut - 1] == '\r')
            cut--;
        n = cut;
    }
    if (n > max)
        n = utf8_cut(u->text, max);
    return (struct imap_str){u->text, n};
}

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i], lo = 0x80, hi = 0xBF;
        size_t need;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return 0;
        }
        if (n - i <= need || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        }
        i += need + 1;
    }
    return 1;
}

/* ---- the argument summary ---- */

struct sum {
    char *p; /* CMD_ARGS_MAX + 1 bytes in the arena, NULL when there was no room */
    size_t len;
    int cut; /* something did not fit */
    int sep; /* a space goes before the next word */
};

static void sum_put(struct sum *s, const char *p, size_t n)
{
    size_t room = CMD_ARGS_MAX - s->len;

    if (n > room) {
        n = room;
        s->cut = 1;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
}

/* Starts a word; returns 0 when nothing more can be added. */
static int sum_word(struct sum *s)
{
    if (s->p == NULL || s->cut)
        return 0;
    if (s->sep)
        sum_put(s, " ", 1);
    s->sep = 1;
    return !s->cut;
}

static void sum_add(struct sum *s, struct imap_str w)
{
    if (sum_word(s))
        sum_put(s, w.p, w.len);
}

static void sum_paren(struct sum *s, int open)
{
    if (open) {
        if (sum_word(s))
            sum_put(s, "(", 1);
        s->sep = 0;
    } else if (s->p != NULL && !s->cut) {
        sum_put(s, ")", 1);
        s->sep = 1;
    }
}

/* Quotes a string with the only two escapes IMAP has. */
static void sum_quote(struct sum *s, const char *p, size_t n)
{
    size_t i, from = 0;

    if (!sum_word(s))
        return;
    sum_put(s, "\"", 1);
    for (i = 0; i < n && !s->cut; i++) {
        if (p[i] == '"' || p[i] == '\\') {
            sum_put(s, p + from, i - from);
            sum_put(s, "\\", 1);
            from = i;
        }
    }
    if (!s->cut)
        sum_put(s, p + from, n - from);
    if (!s->cut)
        sum_put(s, "\"", 1);
}

/* {N}, {N+}, ~{N}, ~{N+} */
static void sum_marker(struct sum *s, uint64_t size, unsigned flags)
{
    char buf[32], *q = buf + sizeof(buf);

    if (!sum_word(s))
        return;
    *--q = '}';
    if (flags & IMAP_LIT_NONSYNC)
        *--q = '+';
    do {
        *--q = (char)('0' + size % 10);
        size /= 10;
    } while (size > 0);
    *--q = '{';
    if (flags & IMAP_LIT_BINARY)
        *--q = '~';
    sum_put(s, q, (size_t)(buf + sizeof(buf) - q));
}

/* The summary as handed out: cut ones end in "...". */
static struct imap_str sum_finish(struct sum *s, int truncated)
{
    if (s->p == NULL)
        return IMAP_STR_NULL;
    if (s->cut || truncated) {
        size_t n = s->len;
        if (n > CMD_ARGS_MAX - 3)
            n = utf8_cut(s->p, CMD_ARGS_MAX - 3);
        memcpy(s->p + n, "...", 3);
        s->len = n + 3;
    }
    s->p[s->len] = '\0';
    return (struct imap_str){s->p, s->len};
}

/* ---- UID SEARCH / SORT / THREAD criteria (protocol.md §4.5 rule 4) ---- */

struct msn_scan {
    int on;     /* still looking for a bare sequence set */
    int pre;    /* SORT/THREAD values before the search keys */
    int skip;   /* values still to skip: arguments of the last key */
    int list;   /* > 0: depth inside a skipped list */
    int modseq; /* MODSEQ was the last key: an entry name may come first */
};

/*
 * Search keys with arguments, and how many values those take, by length.
 * Besides RFC 3501's: CHARSET, MODSEQ (below), RETURN (RFC 4731), OLDER and
 * YOUNGER (RFC 5032), and extensions whose arguments can look like a
 * sequence set (Gmail's X-GM-*, RFC 8514 SAVED*, RFC 8474 EMAILID/THREADID,
 * RFC 5466 FILTER, RFC 5257 ANNOTATION).
 */
struct search_key {
    const char *name;
    int nargs;
};

static const struct search_key search_keys2[] = {
    {"CC", 1},
    {"TO", 1},
    {"ON", 1},
    {NULL, 0},
};
static const struct search_key search_keys3[] = {
    {"BCC", 1},
    {"UID", 1},
    {NULL, 0},
};
static const struct search_key search_keys4[] = {
    {"BODY", 1},
    {"FROM", 1},
    {"TEXT", 1},
    {NULL, 0},
};
static const struct search_key search_keys5[] = {
    {"SINCE", 1},
    {"OLDER", 1},
    {NULL, 0},
};
static const struct search_key search_keys6[] = {
    {"HEADER", 2}, {"BEFORE", 1}, {"SENTON", 1}, {"LARGER", 1},
    {"RETURN", 1}, {"FILTER", 1}, {NULL, 0},
};
static const struct search_key search_keys7[] = {
    {"CHARSET", 1}, {"KEYWORD", 1}, {"SUBJECT", 1}, {"SMALLER", 1},
    {"YOUNGER", 1}, {"SAVEDON", 1}, {"EMAILID", 1}, {NULL, 0},
};
static const struct search_key search_keys8[] = {
    {"X-GM-RAW", 1},
    {"THREADID", 1},
    {NULL, 0},
};
static const struct search_key search_keys9[] = {
    {"UNKEYWORD", 1},
    {"SENTSINCE", 1},
    {NULL, 0},
};
static const struct search_key search_keys10[] = {
    {"SENTBEFORE", 1}, {"X-GM-MSGID", 1}, {"X-GM-THRID", 1},
    {"SAVEDSINCE", 1}, {"ANNOTATION", 3}, {NULL, 0},
};
static const struct search_key search_keys11[] = {
    {"X-GM-LABELS", 1},
    {"SAVEDBEFORE", 1},
    {NULL, 0},
};

static const struct search_key *const search_by_len[] = {
    [2] = search_keys2,   [3] = search_keys3,   [4] = search_keys4, [5] = search_keys5,
    [6] = search_keys6,   [7] = search_keys7,   [8] = search_keys8, [9] = search_keys9,
    [10] = search_keys10, [11] = search_keys11,
};

static int search_key_args(struct imap_str key)
{
    const struct search_key *k;

    if (key.len >= sizeof(search_by_len) / sizeof(search_by_len[0]))
        return 0;
    for (k = search_by_len[key.len]; k != NULL && k->name != NULL; k++) {
        if (imap_str_eq_ci(key, k->name))
            return k->nargs;
    }
    return 0;
}

/* "1", "2:4", "1,3:*", "*" (not "$": a saved result names messages, not numbers) */
static int is_seq_set(struct imap_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!((c >= '0' && c <= '9') || c == ':' || c == ',' || c == '*'))
            return 0;
    }
    return s.len > 0;
}

static void msn_step(struct msn_scan *m, const struct imap_tok *tok, int *msn_r)
{
    enum imap_tok_type t = tok->type;

    if (m->list > 0) {
        if (t == IMAP_TOK_LPAREN)
            m->list++;
        else if (t == IMAP_TOK_RPAREN)
            m->list--;
        return;
    }
    if (m->modseq) {
        /* MODSEQ ["/flags/x" priv|shared|all] n */
        m->modseq = 0;
        if (t == IMAP_TOK_QUOTED || t == IMAP_TOK_LITERAL)
            m->skip = 2;
        return;
    }
    if (m->skip == 0 && m->pre > 0 && !(t == IMAP_TOK_ATOM && imap_str_eq_ci(tok->s, "RETURN"))) {
        m->pre--;
        m->skip = 1;
    }
    if (m->skip > 0) {
        if (t == IMAP_TOK_RPAREN) {
            m->skip = 0; /* a group closed before the key had its arguments */
            return;
        }
        m->skip--;
        if (t == IMAP_TOK_LPAREN)
            m->list = 1;
        return;
    }
    /* NOT, OR and parentheses only group keys: nothing to do for them */
    if (t != IMAP_TOK_ATOM)
        return;
    if (is_seq_set(tok->s)) {
        *msn_r = 1;
        m->on = 0;
    } else if (imap_str_eq_ci(tok->s, "MODSEQ")) {
        m->modseq = 1;
    } else {
        m->skip = search_key_args(tok->s);
    }
}

/* ---- the parse ---- */

struct cmd_parse {
    const struct imap_unit *u;
    struct imap_arena *a;
    struct imap_command *cmd;
    int redact;
    int keep_literals;
    struct imap_tok_reader r;
    struct sum sum;
    struct imap_ev_literal *lits;
    size_t secret_pos;    /* where the secret starts in the text, or CMD_NO_POS */
    int secret;           /* from here on every token is secret */
    size_t nsecret;       /* secret tokens */
    int secret_eq;        /* the first of them is "=" (an empty SASL-IR) */
    size_t nvals;         /* top-level values so far */
    struct imap_tok last; /* COPY/MOVE: the last top-level value */
    struct msn_scan msn;
    int high; /* the arguments have octets >= 0x80 somewhere */
};

static int tok_is_string(enum imap_tok_type t)
{
    return t == IMAP_TOK_ATOM || t == IMAP_TOK_QUOTED || t == IMAP_TOK_LITERAL;
}

/* The value of a string token; IMAP_STR_NULL for a literal whose octets were
 * not all kept. */
static struct imap_str tok_value(struct cmd_parse *p, const struct imap_tok *tok)
{
    if (tok->type == IMAP_TOK_LITERAL && tok->lit_truncated)
        return IMAP_STR_NULL;
    return imap_tok_string(p->a, tok, 0);
}

/* Upper-cases w, or w1 SP w2, into the arena unless the text already has it. */
static struct imap_str upper_name(struct cmd_parse *p, struct imap_str w1, struct imap_str w2)
{
    size_t n = w1.len + (w2.p != NULL ? 1 + w2.len : 0), i;
    int lower = 0;
    char *q;

    for (i = 0; i < w1.len; i++)
        lower |= w1.p[i] >= 'a' && w1.p[i] <= 'z';
    for (i = 0; i < w2.len; i++)
        lower |= w2.p[i] >= 'a' && w2.p[i] <= 'z';
    if (!lower && (w2.p == NULL || (w2.p == w1.p + w1.len + 1 && w1.p[w1.len] == ' ')))
        return (struct imap_str){w1.p, n};
    q = imap_arena_alloc(p->a, n + 1);
    if (q == NULL)
        return w1;
    memcpy(q, w1.p, w1.len);
    if (w2.p != NULL) {
        q[w1.len] = ' ';
        memcpy(q + w1.len + 1, w2.p, w2.len);
    }
    for (i = 0; i < n; i++) {
        if (q[i] >= 'a' && q[i] <= 'z')
            q[i] = (char)(q[i] - 'a' + 'A');
    }
    q[n] = '\0';
    return (struct imap_str){q, n};
}

static void check_utf8(struct cmd_parse *p, struct imap_str s)
{
    if (s.p != NULL && !utf8_valid((const unsigned char *)s.p, s.len))
        p->cmd->lossy = 1;
}

static void render_atom(struct cmd_parse *p, const struct imap_tok *tok)
{
    if (p->high)
        check_utf8(p, tok->s);
    sum_add(&p->sum, tok->s);
}

static void render_quoted(struct cmd_parse *p, const struct imap_tok *tok)
{
    unsigned all = CC_ATOM, any = 0;

    for (size_t i = 0; i < tok->s.len; i++) {
        unsigned c = cmd_cc[(unsigned char)tok->s.p[i]];
        all &= c;
        any |= c;
    }
    if (any & CC_HIGH)
        check_utf8(p, tok->s);
    if (tok->s.len > 0 && all)
        sum_add(&p->sum, tok->s);
    else if (sum_word(&p->sum)) {
        /* the raw form already has exactly the escapes "\"" and "\\" */
        sum_put(&p->sum, "\"", 1);
        sum_put(&p->sum, tok->s.p, tok->s.len);
        sum_put(&p->sum, "\"", 1);
    }
}

static void render_literal(struct cmd_parse *p, const struct imap_tok *tok)
{
    unsigned all = CC_ATOM | CC_PRINT | CC_HIGH, any = 0;

    if (!tok->lit_truncated && tok->lit_size <= CMD_LIT_INLINE_MAX) {
        for (size_t i = 0; i < tok->s.len; i++) {
            unsigned c = cmd_cc[(unsigned char)tok->s.p[i]];
            all &= c | (c & CC_HIGH ? CC_PRINT : 0);
            any |= c;
        }
        if ((all & CC_PRINT) &&
            (!(any & CC_HIGH) || utf8_valid((const unsigned char *)tok->s.p, tok->s.len))) {
            if (tok->s.len > 0 && (all & CC_ATOM))
                sum_add(&p->sum, tok->s);
            else
                sum_quote(&p->sum, tok->s.p, tok->s.len);
            return;
        }
    }
    sum_marker(&p->sum, tok->lit_size, tok->lit_flags);
}

static void start_secret(struct cmd_parse *p, const struct imap_tok *tok)
{
    p->secret = 1;
    p->secret_pos = tok->pos;
}

/* LOGIN and AUTHENTICATE: what a top-level value at index vi is. */
static void auth_value(struct cmd_parse *p, const struct imap_tok *tok, size_t vi)
{
    struct imap_command *cmd = p->cmd;
    int str = tok_is_string(tok->type);

    if (cmd->id == IMAP_CMD_LOGIN) {
        if (vi == 0 && str) {
            cmd->user = tok_value(p, tok);
            if (tok->type == IMAP_TOK_LITERAL)
                check_utf8(p, cmd->user);
            return;
        }
    } else {
        if (vi == 0 && str) {
            struct imap_str m = tok_value(p, tok);
            if (m.p != NULL)
                cmd->sasl_mech = upper_name(p, m, IMAP_STR_NULL);
            return;
        }
        if (vi == 1 && str) {
            cmd->sasl_ir = tok_value(p, tok);
            cmd->has_sasl_ir = cmd->sasl_ir.p != NULL;
        }
    }
    /* the password, the SASL initial response, and anything unexpected */
    if (p->redact && !p->secret)
        start_secret(p, tok);
}

static void mailbox_value(struct cmd_parse *p, const struct imap_tok *tok)
{
    struct imap_str m = tok_value(p, tok);

    if (m.p == NULL)
        return;
    if (m.len == 5 && eq_letters_ci(m.p, "INBOX", 5))
        m = IMAP_STR_LIT("INBOX");
    else if (tok->type == IMAP_TOK_LITERAL)
        check_utf8(p, m);
    p->cmd->ev.mailbox = m;
}

static int first_arg_is_mailbox(enum imap_cmd_id id)
{
    switch (id) {
    case IMAP_CMD_SELECT:
    case IMAP_CMD_EXAMINE:
    case IMAP_CMD_CREATE:
    case IMAP_CMD_DELETE:
    case IMAP_CMD_RENAME:
    case IMAP_CMD_SUBSCRIBE:
    case IMAP_CMD_UNSUBSCRIBE:
    case IMAP_CMD_STATUS:
    case IMAP_CMD_APPEND:
    case IMAP_CMD_GETQUOTAROOT:
    case IMAP_CMD_GETACL:
    case IMAP_CMD_MYRIGHTS:
    case IMAP_CMD_SETACL:
        return 1;
    default:
        return 0;
    }
}

static size_t skip_spaces(const struct imap_unit *u, size_t pos)
{
    while (pos < u->text_len && u->text[pos] == ' ')
        pos++;
    return pos;
}

/* A tokenizer error.  Returns 0 when it only marks where a truncated unit
 * was cut, -1 for a real parse error. */
static int arg_error(struct cmd_parse *p, size_t before)
{
    const struct imap_unit *u = p->u;
    const char *e = p->r.err;
    int auth = p->cmd->id == IMAP_CMD_LOGIN || p->cmd->id == IMAP_CMD_AUTHENTICATE;

    if ((u->flags & IMAP_UNIT_TRUNCATED) &&
        (strcmp(e, IMAP_ERR_UNTERMINATED_QUOTE) == 0 ||
         strcmp(e, IMAP_ERR_UNCLOSED_BRACKET) == 0) &&
        memchr(u->text + p->r.err_pos, '\n', u->text_len - p->r.err_pos) == NULL) {
        /* the line limit cut a string or section short: a partial token */
        if (p->redact && auth && !p->secret && p->nvals > 0) {
            p->secret = 1;
            p->secret_pos = skip_spaces(u, before);
        }
        if (p->secret)
            p->nsecret++;
        return 0;
    }
    p->cmd->err = e;
    /* an unreadable user, password, mechanism or response: all of it is secret */
    if (p->redact && auth && !p->secret)
        p->secret_pos = skip_spaces(u, before);
    return -1;
}

static int parse_args(struct cmd_parse *p)
{
    struct imap_command *cmd = p->cmd;
    enum imap_cmd_id id = cmd->id;
    int auth = id == IMAP_CMD_LOGIN || id == IMAP_CMD_AUTHENTICATE;
    int first_mbox = first_arg_is_mailbox(id);
    int last_mbox = id == IMAP_CMD_COPY || id == IMAP_CMD_MOVE;
    struct imap_tok tok;

    for (;;) {
        size_t before = p->r.pos, li = p->r.lit_index, vi = CMD_NO_POS;
        enum imap_tok_type t = imap_tok_next(&p->r, &tok);

        if (t == IMAP_TOK_EOL)
            return 0;
        if (t == IMAP_TOK_ERROR)
            return arg_error(p, before);
        if (t == IMAP_TOK_LPAREN ? p->r.depth == 1 : (t != IMAP_TOK_RPAREN && p->r.depth == 0))
            vi = p->nvals++;
        if (vi != CMD_NO_POS) {
            if (auth)
                auth_value(p, &tok, vi);
            else if (vi == 0 && first_mbox && tok_is_string(t))
                mailbox_value(p, &tok);
            if (last_mbox)
                p->last = tok;
        }
        if (p->secret) {
            if (p->nsecret++ == 0)
                p->secret_eq = t == IMAP_TOK_ATOM && tok.s.len == 1 && tok.s.p[0] == '=';
            continue; /* not shown, its literal not handed out */
        }
        if (p->msn.on)
            msn_step(&p->msn, &tok, &cmd->msn);
        switch (t) {
        case IMAP_TOK_ATOM:
            render_atom(p, &tok);
            break;
        case IMAP_TOK_QUOTED:
            render_quoted(p, &tok);
            break;
        case IMAP_TOK_LITERAL:
            if (p->lits != NULL && p->r.lit_index == li + 1 && p->keep_literals && tok.s.len > 0)
                p->lits[li].head = tok.s;
            render_literal(p, &tok);
            break;
        case IMAP_TOK_LPAREN:
            sum_paren(&p->sum, 1);
            break;
        case IMAP_TOK_RPAREN:
            sum_paren(&p->sum, 0);
            break;
        default:
            break;
        }
    }
}

/* ENABLE's capabilities: a second, rare pass over the arguments. */
static void collect_enable(struct cmd_parse *p, size_t args_pos)
{
    struct imap_tok_reader r;
    struct imap_tok tok;
    struct imap_str *caps;
    size_t n = 0;

    caps = imap_arena_alloc(p->a, p->nvals * sizeof(*caps));
    if (caps == NULL)
        return;
    imap_tok_init(&r, p->u, args_pos);
    while (n < p->nvals) {
        enum imap_tok_type t = imap_tok_next(&r, &tok);
        if (t == IMAP_TOK_EOL || t == IMAP_TOK_ERROR)
            break;
        if (r.depth == 0 && tok_is_string(t)) {
            struct imap_str v = tok_value(p, &tok);
            if (v.p != NULL)
                caps[n++] = v;
        }
    }
    p->cmd->enable = caps;
    p->cmd->nenable = n;
}

/* The word w (upper-case letters) at t[i], in any case, ending there. */
static int word_at_ci(const char *t, size_t n, size_t i, const char *w, size_t wlen)
{
    return n - i >= wlen && eq_letters_ci(t + i, w, wlen) &&
           (i + wlen == n || !(cmd_cc[(unsigned char)t[i + wlen]] & CC_ATOM));
}

/* A line that fails before its LOGIN or AUTHENTICATE could be told (a bad
 * tag, no tag, a quoted command word) may still carry a password: redact
 * whatever follows such a word in the excerpt. */
static void guess_secret(struct cmd_parse *p)
{
    const char *t = p->u->text;
    size_t n = p->u->text_len, lim = n < IMAP_EXCERPT_MAX ? n : IMAP_EXCERPT_MAX;

    for (size_t i = 0; i < lim; i++) {
        size_t wlen;
        if (i > 0 && (cmd_cc[(unsigned char)t[i - 1]] & CC_ATOM))
            continue; /* not at the start of a word */
        if (word_at_ci(t, n, i, "LOGIN", 5))
            wlen = 5;
        else if (word_at_ci(t, n, i, "AUTHENTICATE", 12))
            wlen = 12;
        else
            continue;
        i += wlen;
        if (i < n && t[i] == '"')
            i++;
        p->secret_pos = skip_spaces(p->u, i);
        return;
    }
}

/* The parse-error excerpt with the secret, if any, replaced by "***". */
static void set_excerpt(struct cmd_parse *p)
{
    struct imap_str ex = imap_msg_excerpt(p->u, IMAP_EXCERPT_MAX);
    size_t keep = p->secret_pos;
    char *q;

    if (keep == CMD_NO_POS || keep >= ex.len) {
        p->cmd->excerpt = ex;
        return;
    }
    if (keep > IMAP_EXCERPT_MAX - 3)
        keep = utf8_cut(ex.p, IMAP_EXCERPT_MAX - 3);
    q = imap_arena_alloc(p->a, keep + 4);
    if (q == NULL) {
        p->cmd->excerpt = (struct imap_str){ex.p, keep};
        return;
    }
    memcpy(q, ex.p, keep);
    memcpy(q + keep, "***", 4);
    p->cmd->excerpt = (struct imap_str){q, keep + 3};
}

static int fail(struct cmd_parse *p, const char *err)
{
    enum imap_cmd_id id = p->cmd->id;

    if (p->cmd->err == NULL)
        p->cmd->err = err;
    if (p->redact && p->secret_pos == CMD_NO_POS && id != IMAP_CMD_LOGIN &&
        id != IMAP_CMD_AUTHENTICATE)
        guess_secret(p);
    set_excerpt(p);
    return -1;
}

/* Any octet >= 0x80 in p[0..n), eight at a time. */
static int has_high(const char *p, size_t n)
{
    uint64_t acc = 0, w;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= (unsigned char)p[i];
    return (acc & 0x8080808080808080ull) != 0;
}

/*
 * Reads the word after the spaces at pos: a command name.  Plain words
 * (atom characters up to SP or the end: nearly every command) are scanned
 * here; anything else goes through the tokenizer.  Returns the token type;
 * *end_r is where the word ends.
 */
static enum imap_tok_type read_word(struct cmd_parse *p, size_t pos, struct imap_str *w_r,
                                    size_t *end_r)
{
    const char *t = p->u->text;
    size_t n = p->u->text_len, j;
    struct imap_tok tok;
    enum imap_tok_type type;

    pos = skip_spaces(p->u, pos);
    for (j = pos; j < n && (cmd_cc[(unsigned char)t[j]] & CC_ATOM) && t[j] != '['; j++)
        continue;
    if (j > pos && (j == n || t[j] == ' ')) {
        *w_r = (struct imap_str){t + pos, j - pos};
        *end_r = j;
        return IMAP_TOK_ATOM;
    }
    imap_tok_init(&p->r, p->u, pos);
    type = imap_tok_next(&p->r, &tok);
    *w_r = tok.s;
    *end_r = p->r.pos;
    return type;
}

/* The upper-case command name (upper: the known name was upper-case): a
 * slice of the text when it is one already. */
static struct imap_str cmd_name(struct cmd_parse *p, int upper, struct imap_str word,
                                struct imap_str sub)
{
    if (upper) {
        if (sub.p == NULL)
            return word;
        if (word.p[0] == 'U' && word.p[1] == 'I' && word.p[2] == 'D' && word.p[3] == ' ' &&
            sub.p == word.p + 4)
            return (struct imap_str){word.p, 4 + sub.len};
    }
    return upper_name(p, word, sub);
}

static const struct imap_command cmd_zero;

int imap_command_parse(const struct imap_unit *u, struct imap_arena *a,
                       const struct imap_msg_opts *opts, struct imap_command *cmd)
{
    struct cmd_parse p;
    struct imap_str word, sub = IMAP_STR_NULL;
    const struct cmd_name *name;
    const char *t = u->text;
    size_t n = u->text_len, i = 0, args_pos;
    enum imap_tok_type type;
    int tag_ok, truncated, upper = 0, rc = 0;

    /* a copy, not memset: "rep stos" costs more than the rest of a short line */
    *cmd = cmd_zero;
    p.u = u;
    p.a = a;
    p.cmd = cmd;
    p.redact = opts == NULL || opts->redact;
    p.keep_literals = opts != NULL && opts->keep_literals;
    p.r.err = NULL;
    p.r.depth_exceeded = 0;
    p.secret_pos = CMD_NO_POS;
    p.secret = 0;
    p.nsecret = 0;
    p.secret_eq = 0;
    p.nvals = 0;
    p.last.type = IMAP_TOK_EOL;
    memset(&p.msn, 0, sizeof(p.msn));
    p.sum = (struct sum){NULL, 0, 0, 0};
    p.lits = NULL;
    p.high = 0;

    if (u->kind != IMAP_UNIT_COMMAND || t == NULL) {
        /* a SASL response or DONE: nothing of it may be shown */
        cmd->err = IMAP_ERR_SYNTAX;
        return -1;
    }

    /* tag = 1*<ASTRING-CHAR except "+">, up to the first SP */
    while (i < n && (cmd_cc[(unsigned char)t[i]] & CC_TAG))
        i++;
    tag_ok = i > 0 && (i == n || t[i] == ' ');
    if (tag_ok) {
        cmd->ev.tag = (struct imap_str){t, i};
    } else {
        while (i < n && t[i] != ' ' && t[i] != '\r' && t[i] != '\n')
            i++;
        if (i == n || t[i] != ' ')
            return fail(&p, IMAP_ERR_BAD_TAG);
    }

    /* the command word, and the subcommand of UID */
    type = read_word(&p, i, &word, &args_pos);
    if (type != IMAP_TOK_ATOM) {
        if (!tag_ok)
            return fail(&p, IMAP_ERR_BAD_TAG);
        return fail(&p, type == IMAP_TOK_ERROR ? p.r.err : IMAP_ERR_SYNTAX);
    }
    if (word.len == 3 && eq_letters_ci(word.p, "UID", 3)) {
        size_t end;
        cmd->uid = 1;
        /* "UID" alone: what follows are arguments */
        if (read_word(&p, args_pos, &sub, &end) == IMAP_TOK_ATOM)
            args_pos = end;
        else
            sub = IMAP_STR_NULL;
    }
    name = cmd_find(sub.p != NULL ? sub : word, &upper);
    cmd->id = name != NULL ? name->id : IMAP_CMD_OTHER;
    cmd->ev.cmd = cmd_name(&p, name != NULL && upper, word, sub);
    if (!tag_ok) {
        if (p.redact && (cmd->id == IMAP_CMD_LOGIN || cmd->id == IMAP_CMD_AUTHENTICATE))
            p.secret_pos = skip_spaces(u, args_pos);
        return fail(&p, IMAP_ERR_BAD_TAG);
    }
    if (p.redact && cmd->id == IMAP_CMD_OTHER &&
        (imap_str_eq_ci(cmd->ev.tag, "LOGIN") || imap_str_eq_ci(cmd->ev.tag, "AUTHENTICATE"))) {
        /* "LOGIN user password" without a tag: the server will refuse it,
         * but the password is one all the same */
        p.secret = 1;
        p.secret_pos = skip_spaces(u, args_pos);
    }

    /* the arguments */
    truncated = (u->flags & IMAP_UNIT_TRUNCATED) != 0;
    if (u->nlits > 0) {
        p.lits = imap_arena_alloc(a, u->nlits * sizeof(*p.lits));
        if (p.lits != NULL) {
            for (size_t k = 0; k < u->nlits; k++)
                p.lits[k] = (struct imap_ev_literal){u->lits[k].size, IMAP_STR_NULL};
            cmd->ev.literals = p.lits;
            cmd->ev.nliterals = u->nlits;
        }
    }
    if (cmd->uid
            ? (cmd->id == IMAP_CMD_SEARCH || cmd->id == IMAP_CMD_SORT || cmd->id == IMAP_CMD_THREAD)
            : (cmd->id == IMAP_CMD_FETCH || cmd->id == IMAP_CMD_STORE || cmd->id == IMAP_CMD_COPY ||
               cmd->id == IMAP_CMD_MOVE || cmd->id == IMAP_CMD_SEARCH || cmd->id == IMAP_CMD_SORT ||
               cmd->id == IMAP_CMD_THREAD)) {
        if (cmd->uid) {
            p.msn.on = 1;
            p.msn.pre = cmd->id == IMAP_CMD_SEARCH ? 0 : 2;
        } else {
            cmd->msn = 1;
        }
    }
    if (skip_spaces(u, args_pos) < n) {
        p.sum.p = imap_arena_alloc(a, CMD_ARGS_MAX + 1);
        p.high = has_high(t + args_pos, n - args_pos);
        imap_tok_init(&p.r, u, args_pos);
        rc = parse_args(&p);
    } else if (truncated) {
        p.sum.p = imap_arena_alloc(a, CMD_ARGS_MAX + 1);
    }

    if (p.secret && p.nsecret > 0) {
        int eq = cmd->id == IMAP_CMD_AUTHENTICATE && p.nsecret == 1 && p.secret_eq;
        sum_add(&p.sum, eq ? IMAP_STR_LIT("=") : IMAP_STR_LIT("***"));
    }
    if (p.sum.p != NULL)
        cmd->ev.args = sum_finish(&p.sum, truncated);
    if (p.last.type != IMAP_TOK_EOL && p.nvals >= 2 && tok_is_string(p.last.type))
        mailbox_value(&p, &p.last);
    if (cmd->ev.mailbox.p != NULL && !(opts != NULL && opts->utf8_names)) {
        struct imap_str dec;
        if (imap_mutf7_decode(a, cmd->ev.mailbox, &dec) == 1)
            cmd->ev.mailbox_utf8 = dec;
    }
    if (cmd->id == IMAP_CMD_ENABLE && p.nvals > 0)
        collect_enable(&p, args_pos);
    cmd->depth_exceeded = p.r.depth_exceeded;
    if (rc < 0) {
        /* only the excerpt, redacted as a whole, speaks for a broken line:
         * a summary or literal cut short could hold what redaction missed */
        cmd->ev.args = IMAP_STR_NULL;
        for (size_t k = 0; p.lits != NULL && k < u->nlits; k++)
            p.lits[k].head = IMAP_STR_NULL;
        return fail(&p, p.r.err);
    }
    /* the session may still refuse the line (a NUL in it): the excerpt it
     * would show is redacted here, where the secret's position is known */
    set_excerpt(&p);
    return 0;
}
