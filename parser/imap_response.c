/* imap_response.c - a s2c unit becomes an untagged, tagged or continue event. */
#include "imap_msg.h"

#include <string.h>

#include "imap_scan.h"
#include "imap_token.h"
#include "imap_utf7.h"

/* Parse state of one unit. */
struct rp {
    const struct imap_unit *u;
    struct imap_arena *a;
    const struct imap_msg_opts *opts;
    struct imap_response *r;
    struct imap_tok_reader tk;
    const char *syntax; /* our own complaint, used when the tokenizer has none */
    int read_all;       /* the line was read to its end without a complaint */
};

/* An array that grows in the arena (the old copy is simply left behind). */
struct vec {
    void *v;
    size_t n, cap;
};

static const struct imap_msg_opts opts_default = {1, 0, 0};

static void *vec_push(struct rp *p, struct vec *v, size_t size)
{
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 8;
        void *nv;

        if (ncap > SIZE_MAX / size)
            return NULL;
        nv = imap_arena_alloc(p->a, ncap * size);
        if (nv == NULL)
            return NULL;
        if (v->n > 0)
            memcpy(nv, v->v, v->n * size);
        v->v = nv;
        v->cap = ncap;
    }
    return (char *)v->v + v->n++ * size;
}

static void push_str(struct rp *p, struct vec *v, struct imap_str s)
{
    struct imap_str *e = vec_push(p, v, sizeof(*e));

    if (e != NULL)
        *e = s;
}

/* Non-zero when s is valid UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF).  Nearly every string is ASCII, so that is checked 8 bytes at a
 * time first. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c;

        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        c = s[i];
        if (c < 0x80) {
            i++;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (n - i < 2 || (s[i + 1] & 0xC0) != 0x80)
                return 0;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
            if (n - i < 3 || s[i + 1] < lo || s[i + 1] > hi || (s[i + 2] & 0xC0) != 0x80)
                return 0;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
            if (n - i < 4 || s[i + 1] < lo || s[i + 1] > hi || (s[i + 2] & 0xC0) != 0x80 ||
                (s[i + 3] & 0xC0) != 0x80)
                return 0;
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* Every string that goes into the event passes here: the logger replaces
 * invalid octets and the event says so. */
static struct imap_str note(struct rp *p, struct imap_str s)
{
    if (s.p != NULL && !p->r->lossy && !imap_scan_ascii(s.p, s.len) &&
        !utf8_valid((const unsigned char *)s.p, s.len))
        p->r->lossy = 1;
    return s;
}

static struct imap_str tok_str(struct rp *p, const struct imap_tok *t, int nil_ok)
{
    return note(p, imap_tok_string(p->a, t, nil_ok));
}

static int is_string(enum imap_tok_type type)
{
    return type == IMAP_TOK_ATOM || type == IMAP_TOK_QUOTED || type == IMAP_TOK_LITERAL;
}

static int num_u64(struct imap_str s, uint64_t max, uint64_t *v_r)
{
    uint64_t v = 0;
    size_t i;

    if (s.len == 0 || s.len > 20)
        return -1;
    for (i = 0; i < s.len; i++) {
        unsigned d = (unsigned)((unsigned char)s.p[i] - '0');
        if (d > 9)
            return -1;
        v = v * 10 + d;
    }
    /* 19 digits cannot overflow; 20 compare as text with UINT64_MAX */
    if (s.len == 20 && memcmp(s.p, "18446744073709551615", 20) > 0)
        return -1;
    if (v > max)
        return -1;
    *v_r = v;
    return 0;
}

static int tok_u64(const struct imap_tok *t, uint64_t max, uint64_t *v_r)
{
    if (t->type != IMAP_TOK_ATOM)
        return -1;
    return num_u64(t->s, max, v_r);
}

static unsigned char up(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

/* s equals the upper-case word w of length n, ignoring case. */
static int eq_up(struct imap_str s, const char *w, size_t n)
{
    size_t i;

    if (s.len != n)
        return 0;
    if (memcmp(s.p, w, n) == 0)
        return 1; /* servers send upper case: one compare, inlined for constant n */
    for (i = 0; i < n; i++)
        if (up((unsigned char)s.p[i]) != (unsigned char)w[i])
            return 0;
    return 1;
}

#define EQ(s, w) eq_up((s), (w), sizeof(w) - 1)

/* s upper-cased: s itself when it has no lower case, else a copy in the arena. */
static struct imap_str upper(struct rp *p, struct imap_str s)
{
    size_t i;
    char *q;

    for (i = 0; i < s.len; i++)
        if (s.p[i] >= 'a' && s.p[i] <= 'z')
            break;
    if (i == s.len)
        return s;
    q = imap_arena_alloc(p->a, s.len + 1);
    if (q == NULL)
        return s;
    for (i = 0; i < s.len; i++)
        q[i] = (char)up((unsigned char)s.p[i]);
    q[s.len] = '\0';
    return (struct imap_str){q, s.len};
}

/* ---- tokens ---- */

static enum imap_tok_type next(struct rp *p, struct imap_tok *t)
{
    return imap_tok_next(&p->tk, t);
}

/*
 * After a value token that was not the expected one: a list is skipped.
 * Returns 0 when the value is consumed, 1 when the token closed the
 * enclosing list, -1 at the end of the line or on an error.
 */
static int skip_tok(struct rp *p, enum imap_tok_type type)
{
    switch (type) {
    case IMAP_TOK_LPAREN:
        return imap_tok_skip_list(&p->tk);
    case IMAP_TOK_RPAREN:
        return 1;
    case IMAP_TOK_EOL:
    case IMAP_TOK_ERROR:
        return -1;
    default:
        return 0;
    }
}

/* Inside a list, after the token of the given type was read: consumes the
 * rest of the list and its ")".  Returns 0 or -1. */
static int close_list(struct rp *p, enum imap_tok_type type)
{
    switch (type) {
    case IMAP_TOK_RPAREN:
        return 0;
    case IMAP_TOK_EOL:
    case IMAP_TOK_ERROR:
        return -1;
    case IMAP_TOK_LPAREN:
        if (imap_tok_skip_list(&p->tk) < 0)
            return -1;
        /* fall through */
    default:
        return imap_tok_skip_list(&p->tk);
    }
}

/*
 * Reads "(" 1*string ")" into v (flags, attributes).  The "(" was read.
 * Returns 0, or -1 at the end of the line.
 */
static int read_str_list(struct rp *p, struct vec *v)
{
    struct imap_tok t;

    for (;;) {
        enum imap_tok_type type = next(p, &t);
        if (type == IMAP_TOK_ATOM)
            push_str(p, v, note(p, t.s));
        else if (is_string(type))
            push_str(p, v, tok_str(p, &t, 0));
        else if (type == IMAP_TOK_RPAREN)
            return 0;
        else if (skip_tok(p, type) < 0)
            return -1;
    }
}

/* Atoms to the end of the line (CAPABILITY, ENABLED). */
static void read_atoms(struct rp *p, struct vec *v)
{
    struct imap_tok t;

    for (;;) {
        enum imap_tok_type type = next(p, &t);
        if (type == IMAP_TOK_ATOM)
            push_str(p, v, note(p, t.s));
        else if (skip_tok(p, type) < 0)
            return;
    }
}

/* ---- resp-text (status and tagged lines: text mode, no tokenizer) ---- */

struct resp_text {
    struct imap_str code, code_data, text;
    const struct imap_str *caps;
    size_t ncaps;
};

/* The space-separated words of a CAPABILITY code. */
static void split_caps(struct rp *p, struct imap_str s, struct resp_text *rt)
{
    struct imap_str *caps;
    size_t i, j, n = 0;

    for (i = 0; i < s.len; i++)
        if (s.p[i] != ' ' && (i == 0 || s.p[i - 1] == ' '))
            n++;
    if (n == 0)
        return;
    caps = imap_arena_alloc(p->a, n * sizeof(*caps));
    if (caps == NULL)
        return;
    for (i = 0, n = 0; i < s.len; i = j) {
        for (; i < s.len && s.p[i] == ' '; i++)
            ;
        for (j = i; j < s.len && s.p[j] != ' '; j++)
            ;
        if (j > i)
            caps[n++] = (struct imap_str){s.p + i, j - i};
    }
    rt->caps = caps;
    rt->ncaps = n;
}

/* BADCHARSET's data is a list of astrings, which may be quoted and hold "]":
 * the code ends at the first "]" outside quotes and parentheses. */
static size_t badcharset_end(const char *t, size_t i, size_t n)
{
    int depth = 0, in_quote = 0;

    for (; i < n; i++) {
        char c = t[i];
        if (in_quote) {
            if (c == '\\' && i + 1 < n)
                i++;
            else if (c == '"')
                in_quote = 0;
        } else if (c == '"') {
            in_quote = 1;
        } else if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (depth > 0)
                depth--;
        } else if (c == ']' && depth == 0) {
            return i;
        }
    }
    return n;
}

/*
 * resp-text = ["[" code [SP data] "]" SP] text, from pos (at the space after
 * the status word).  A "[" without its "]" is not a code: the whole rest is
 * the text, so nothing of an [ALERT] is ever lost.
 */
static void parse_resp_text(struct rp *p, size_t pos, struct resp_text *rt)
{
    const char *t = p->u->text;
    size_t n = p->u->text_len, k, ds, end;

    if (pos < n && t[pos] == ' ')
        pos++;
    rt->text = (struct imap_str){t + pos, n - pos};
    if (pos >= n || t[pos] != '[')
        goto out;
    for (k = pos + 1; k < n && t[k] != ' ' && t[k] != ']'; k++)
        ;
    if (k == pos + 1)
        goto out;
    ds = k;
    end = k;
    if (k < n && t[k] == ' ') {
        ds = k + 1;
        end = n;
        if (EQ(((struct imap_str){t + pos + 1, k - pos - 1}), "BADCHARSET"))
            end = badcharset_end(t, ds, n);
        if (end >= n) {
            const char *q = memchr(t + ds, ']', n - ds);
            end = q != NULL ? (size_t)(q - t) : n;
        }
    }
    if (end >= n)
        goto out;
    rt->code = upper(p, (struct imap_str){t + pos + 1, k - pos - 1});
    if (end > ds)
        rt->code_data = note(p, (struct imap_str){t + ds, end - ds});
    if (EQ(rt->code, "CAPABILITY") && end > ds)
        split_caps(p, rt->code_data, rt);
    pos = end + 1;
    if (pos < n && t[pos] == ' ')
        pos++;
    rt->text = (struct imap_str){t + pos, n - pos};
out:
    note(p, rt->text);
}

/* ---- FETCH ---- */

enum fetch_item {
    FI_OTHER,
    FI_UID,
    FI_FLAGS,
    FI_MODSEQ,
    FI_SIZE,
    FI_INTERNALDATE,
    FI_ENVELOPE,
    FI_PART,
};

static int has_prefix_up(struct imap_str s, const char *w, size_t n)
{
    return s.len >= n && eq_up((struct imap_str){s.p, n}, w, n);
}

/* Dispatch on the first letter, then the length: this runs for every item. */
static enum fetch_item fetch_item(struct imap_str s)
{
    if (s.len < 3)
        return FI_OTHER;
    switch (up((unsigned char)s.p[0])) {
    case 'U':
        return EQ(s, "UID") ? FI_UID : FI_OTHER;
    case 'F':
        return EQ(s, "FLAGS") ? FI_FLAGS : FI_OTHER;
    case 'M':
        return EQ(s, "MODSEQ") ? FI_MODSEQ : FI_OTHER;
    case 'I':
        return EQ(s, "INTERNALDATE") ? FI_INTERNALDATE : FI_OTHER;
    case 'E':
        return EQ(s, "ENVELOPE") ? FI_ENVELOPE : FI_OTHER;
    case 'R':
        if (EQ(s, "RFC822.SIZE"))
            return FI_SIZE;
        if (EQ(s, "RFC822") || EQ(s, "RFC822.HEADER") || EQ(s, "RFC822.TEXT"))
            return FI_PART;
        return FI_OTHER;
    case 'B':
        /* BODY[..] and BINARY[..] carry content; BODY and BODYSTRUCTURE
         * describe it; BINARY.SIZE[..] is a number */
        if (memchr(s.p, '[', s.len) == NULL)
            return FI_OTHER;
        if (has_prefix_up(s, "BINARY.SIZE", 11))
            return FI_OTHER;
        if (has_prefix_up(s, "BODY", 4) || has_prefix_up(s, "BINARY", 6))
            return FI_PART;
        return FI_OTHER;
    default:
        return FI_OTHER;
    }
}

/* Length of a quoted string's value (escapes undone). */
static uint64_t quoted_len(struct imap_str raw)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i < raw.len; i++, n++)
        if (raw.p[i] == '\\' && i + 1 < raw.len)
            i++;
    return n;
}

/* "Name <mailbox@host>" or "mailbox@host", NIL parts left out. */
static struct imap_str render_addr(struct rp *p, struct imap_str name, struct imap_str mbox,
                                   struct imap_str host)
{
    size_t n = 0;
    char *q = imap_arena_alloc(p->a, name.len + mbox.len + host.len + 5);

    if (q == NULL)
        return IMAP_STR_NULL;
    if (name.len > 0) {
        memcpy(q, name.p, name.len);
        n = name.len;
        q[n++] = ' ';
        q[n++] = '<';
    }
    if (mbox.len > 0) {
        memcpy(q + n, mbox.p, mbox.len);
        n += mbox.len;
    }
    if (mbox.len > 0 && host.len > 0)
        q[n++] = '@';
    if (host.len > 0) {
        memcpy(q + n, host.p, host.len);
        n += host.len;
    }
    if (name.len > 0)
        q[n++] = '>';
    q[n] = '\0';
    return (struct imap_str){q, n};
}

/*
 * An address list, its "(" read: the first real address (host not NIL) is
 * rendered into from_r.  Group markers (NIL host) are passed over.
 * Returns 0, or -1 at the end of the line.
 */
static int parse_addr_list(struct rp *p, struct imap_str *from_r)
{
    struct imap_tok t;

    for (;;) {
        enum imap_tok_type type = next(p, &t);
        struct imap_str f[4] = {IMAP_STR_NULL, IMAP_STR_NULL, IMAP_STR_NULL, IMAP_STR_NULL};
        size_t j;

        if (type == IMAP_TOK_RPAREN)
            return 0;
        if (type != IMAP_TOK_LPAREN) {
            if (skip_tok(p, type) < 0)
                return -1;
            continue;
        }
        /* address = "(" name adl mailbox host ")" */
        for (j = 0;; j++) {
            type = next(p, &t);
            if (type == IMAP_TOK_RPAREN)
                break;
            if (is_string(type)) {
                if (j < 4 && from_r->p == NULL)
                    f[j] = tok_str(p, &t, 1);
            } else if (skip_tok(p, type) < 0) {
                return -1;
            }
        }
        if (from_r->p == NULL && f[3].p != NULL)
            *from_r = render_addr(p, f[0], f[2], f[3]);
    }
}

/* ENVELOPE, its "(" read: date subject from sender reply-to to cc bcc
 * in-reply-to message-id.  Returns 0 or -1. */
static int parse_envelope(struct rp *p, struct imap_ev_envelope *env)
{
    struct imap_tok t;
    int i;

    for (i = 0;; i++) {
        enum imap_tok_type type = next(p, &t);
        if (type == IMAP_TOK_RPAREN)
            return 0;
        if (is_string(type)) {
            if (i == 0)
                env->date = tok_str(p, &t, 1);
            else if (i == 1)
                env->subject = tok_str(p, &t, 1);
            else if (i == 9)
                env->message_id = tok_str(p, &t, 1);
        } else if (type == IMAP_TOK_LPAREN && i == 2) {
            if (parse_addr_list(p, &env->from) < 0)
                return -1;
        } else if (skip_tok(p, type) < 0) {
            return -1;
        }
    }
}

/*
 * One "name value" pair of a FETCH list.  Returns 0 to go on, 1 when the
 * list ended, -1 at the end of the line.
 */
static int fetch_pair(struct rp *p, const struct imap_tok *item, struct vec *flags,
                      struct vec *parts)
{
    struct imap_ev_fetch *f = &p->r->untagged.fetch;
    struct imap_tok t;
    enum imap_tok_type type = next(p, &t);
    uint64_t v;

    switch (fetch_item(item->s)) {
    case FI_UID:
        if (tok_u64(&t, UINT32_MAX, &v) == 0) {
            f->uid = (uint32_t)v;
            f->present |= IMAP_FETCH_UID;
        }
        break;
    case FI_SIZE:
        if (tok_u64(&t, UINT64_MAX, &v) == 0) {
            f->size = v;
            f->present |= IMAP_FETCH_SIZE;
        }
        break;
    case FI_FLAGS:
        if (type != IMAP_TOK_LPAREN)
            break;
        f->present |= IMAP_FETCH_FLAGS;
        flags->n = 0; /* a repeated FLAGS replaces the first */
        return read_str_list(p, flags);
    case FI_MODSEQ:
        if (type != IMAP_TOK_LPAREN)
            break;
        type = next(p, &t);
        if (tok_u64(&t, UINT64_MAX, &v) == 0) {
            f->modseq = v;
            f->present |= IMAP_FETCH_MODSEQ;
        }
        return close_list(p, type);
    case FI_INTERNALDATE:
        if (is_string(type)) {
            f->internaldate = tok_str(p, &t, 1);
            f->present |= IMAP_FETCH_INTERNALDATE;
        }
        break;
    case FI_ENVELOPE:
        if (type != IMAP_TOK_LPAREN)
            break;
        f->present |= IMAP_FETCH_ENVELOPE;
        return parse_envelope(p, &f->envelope);
    case FI_PART:
        if (is_string(type) || type == IMAP_TOK_LPAREN) {
            struct imap_ev_fetch_part *part = vec_push(p, parts, sizeof(*part));
            if (part != NULL) {
                part->section = note(p, item->s);
                if (type == IMAP_TOK_LITERAL)
                    part->size = t.lit_size;
                else if (type == IMAP_TOK_QUOTED)
                    part->size = quoted_len(t.s);
                else if (type == IMAP_TOK_ATOM && !EQ(t.s, "NIL"))
                    part->size = t.s.len;
                else
                    part->size = 0;
            }
        }
        break;
    case FI_OTHER:
        break;
    }
    return skip_tok(p, type);
}

static void parse_fetch(struct rp *p)
{
    struct imap_ev_fetch *f = &p->r->untagged.fetch;
    struct vec flags = {0}, parts = {0};
    struct imap_tok t;

    p->r->untagged.has_fetch = 1;
    if (next(p, &t) != IMAP_TOK_LPAREN)
        return;
    for (;;) {
        enum imap_tok_type type = next(p, &t);
        if (type == IMAP_TOK_ATOM) {
            if (fetch_pair(p, &t, &flags, &parts) != 0)
                break;
        } else if (skip_tok(p, type) != 0) {
            break;
        }
    }
    f->flags = flags.v;
    f->nflags = flags.n;
    f->parts = parts.v;
    f->nparts = parts.n;
}

/* ---- FETCH, fast path ---- */

#define FETCH_FAST_MAX 4096 /* bytes of text */

/* p[0..4) or p[0..8) equals w: fixed-size loads the compiler turns into
 * one compare with a constant (p must have that many bytes) */
static inline int eq4(const char *p, const char *w)
{
    uint32_t a, b;

    memcpy(&a, p, 4);
    memcpy(&b, w, 4);
    return a == b;
}

static inline int eq8(const char *p, const char *w)
{
    uint64_t a, b;

    memcpy(&a, p, 8);
    memcpy(&b, w, 8);
    return a == b;
}

/* Reads 1 to 19 digits at t[*i] (no overflow possible); returns 0, or -1. */
static inline int fast_num(const char *t, size_t n, size_t *i, uint64_t *v_r)
{
    size_t k = *i, end = n - k > 20 ? k + 20 : n;
    uint64_t v = 0;
    unsigned d;

    while (k < end && (d = (unsigned)(t[k] - '0')) <= 9) {
        v = v * 10 + d;
        k++;
    }
    if (k == *i || k - *i > 19)
        return -1;
    *i = k;
    *v_r = v;
    return 0;
}

/* Bytes of a flag the fast path takes: printable ASCII (so nothing for
 * note() to find), less what ends an atom or makes read_atom() look closer. */
static const unsigned char flag_stop[256] = {
    ['('] = 1, [')'] = 1, ['"'] = 1, ['{'] = 1, ['['] = 1, ['<'] = 1,
};

static inline int flag_char(unsigned char c)
{
    return (unsigned)(c - 0x21) < 0x5e && !flag_stop[c];
}

/* NIL, or a quoted string without escapes, at t[*i]: its value as
 * imap_tok_string(nil_ok) would give it.  Returns 0, or -1 for anything
 * else (escapes, literals, other atoms, nil in lower case). */
static IMAP_HOT_INLINE int fast_nstring(const char *t, size_t n, size_t *i, struct imap_str *v_r)
{
    size_t k = *i, e;

    if (k >= n)
        return -1;
    if (t[k] == 'N') {
        if (n - k < 4 || t[k + 1] != 'I' || t[k + 2] != 'L' || (t[k + 3] != ' ' && t[k + 3] != ')'))
            return -1;
        *v_r = IMAP_STR_NULL;
        *i = k + 3;
        return 0;
    }
    if (t[k] != '"')
        return -1;
    e = k + 1 + imap_scan4(t + k + 1, n - k - 1, '"', '\\', '\r', '\n');
    if (e >= n || t[e] != '"')
        return -1;
    *v_r = (struct imap_str){t + k + 1, e - k - 1};
    *i = e + 1;
    return 0;
}

/* An address list at t[*i] ("(" 1*address ")", an address being four
 * nstrings in parentheses) as parse_addr_list() reads it: the first address
 * with a host goes to *from_r when from_r is not NULL.  Returns 0, or -1
 * for any other form. */
static int fast_addr_list(struct rp *p, size_t *ip, struct imap_str *from_r)
{
    const char *t = p->u->text;
    size_t n = p->u->text_len, i = *ip + 1, j;

    for (;;) {
        struct imap_str f[4];
        if (i >= n || t[i] != '(')
            return -1;
        i++;
        for (j = 0; j < 4; j++) {
            if (j > 0 && (i >= n || t[i++] != ' '))
                return -1;
            if (fast_nstring(t, n, &i, &f[j]) < 0)
                return -1;
        }
        if (i + 1 >= n || t[i] != ')')
            return -1;
        i++;
        if (from_r != NULL && from_r->p == NULL) {
            for (j = 0; j < 4; j++)
                note(p, f[j]);
            if (f[3].p != NULL)
                *from_r = render_addr(p, f[0], f[2], f[3]);
        }
        if (t[i] == ')')
            break;
        if (t[i] == ' ') /* "((...) (...))": the tokenizer skips the space */
            i++;
    }
    *ip = i + 1;
    return 0;
}

/* ENVELOPE's value at t[*i] (its "(") as parse_envelope() reads it, in the
 * forms fast_nstring() and fast_addr_list() take.  Returns 0, or -1. */
static int fast_envelope(struct rp *p, size_t *ip, struct imap_ev_envelope *env)
{
    const char *t = p->u->text;
    size_t n = p->u->text_len, i = *ip + 1;
    int field;

    for (field = 0;; field++) {
        if (i >= n)
            return -1;
        if (t[i] == '(') {
            if (fast_addr_list(p, &i, field == 2 ? &env->from : NULL) < 0)
                return -1;
        } else {
            struct imap_str v;
            if (fast_nstring(t, n, &i, &v) < 0)
                return -1;
            if (field == 0)
                env->date = note(p, v);
            else if (field == 1)
                env->subject = note(p, v);
            else if (field == 9)
                env->message_id = note(p, v);
        }
        if (i >= n)
            return -1;
        if (t[i] == ')')
            break;
        if (t[i] != ' ')
            return -1;
        i++;
    }
    *ip = i + 1;
    return 0;
}

/* A FLAGS list at t[*ip] (its "(") of flags fast_flag() takes, one space
 * between them, into flags as read_str_list() would.  Returns 0, or -1. */
static int fast_flags(struct rp *p, size_t *ip, struct vec *flags)
{
    const char *t = p->u->text;
    size_t n = p->u->text_len, i = *ip + 1, k;

    flags->n = 0; /* a repeated FLAGS replaces the first */
    while (i < n && t[i] != ')') {
        struct imap_str *e;
        for (k = i; k < n && flag_char((unsigned char)t[k]); k++)
            ;
        /* a flag, then ")" or one space and the next flag */
        if (k == i || t[i] == '~' || k + 1 >= n ||
            !(t[k] == ')' || (t[k] == ' ' && flag_char((unsigned char)t[k + 1]))))
            return -1;
        e = vec_push(p, flags, sizeof(*e));
        if (e != NULL)
            *e = (struct imap_str){t + i, k - i};
        i = t[k] == ' ' ? k + 1 : k;
    }
    if (i >= n)
        return -1;
    *ip = i + 1;
    return 0;
}

/*
 * One FETCH item at t[*ip] in a plain form: UID, FLAGS, MODSEQ, RFC822.SIZE,
 * INTERNALDATE and ENVELOPE, read straight from the bytes.  Returns 0 with
 * *ip after its value, or -1 (nothing changed that matters) for the general
 * way.  Each case checks its name, the space and what opens the value, and
 * needs one byte more (the list's ")").
 */
static int fast_item(struct rp *p, size_t *ip, struct vec *flags)
{
    const char *t = p->u->text;
    size_t n = p->u->text_len, i = *ip, left = n - i;
    struct imap_ev_fetch *f = &p->r->untagged.fetch;
    uint64_t v;

    switch (t[i]) {
    case 'U':
        if (left < 5 || !eq4(t + i, "UID ") || (i += 4, fast_num(t, n, &i, &v) < 0) ||
            v > UINT32_MAX)
            return -1;
        f->uid = (uint32_t)v;
        f->present |= IMAP_FETCH_UID;
        break;
    case 'F':
        if (left < 8 || !eq4(t + i, "FLAG") || !eq4(t + i + 3, "GS (") ||
            (i += 6, fast_flags(p, &i, flags) < 0))
            return -1;
        f->present |= IMAP_FETCH_FLAGS;
        break;
    case 'M':
        if (left < 9 || !eq8(t + i, "MODSEQ (") || (i += 8, fast_num(t, n, &i, &v) < 0) || i >= n ||
            t[i] != ')')
            return -1;
        i++;
        f->modseq = v;
        f->present |= IMAP_FETCH_MODSEQ;
        break;
    case 'R':
        if (left < 13 || !eq8(t + i, "RFC822.S") || !eq4(t + i + 8, "IZE ") ||
            (i += 12, fast_num(t, n, &i, &v) < 0))
            return -1;
        f->size = v;
        f->present |= IMAP_FETCH_SIZE;
        break;
    case 'I': {
        struct imap_str d;
        if (left < 15 || !eq8(t + i, "INTERNAL") || !eq8(t + i + 5, "NALDATE ") ||
            (i += 13, fast_nstring(t, n, &i, &d) < 0))
            return -1;
        f->internaldate = note(p, d);
        f->present |= IMAP_FETCH_INTERNALDATE;
        break;
    }
    case 'E': {
        /* what an earlier ENVELOPE left, for a fallback */
        struct imap_ev_envelope env = f->envelope;
        int lossy = p->r->lossy;
        if (left < 11 || !eq8(t + i, "ENVELOPE") || t[i + 8] != ' ' || t[i + 9] != '(')
            return -1;
        i += 9;
        if (fast_envelope(p, &i, &f->envelope) < 0) {
            f->envelope = env;
            p->r->lossy = lossy;
            return -1;
        }
        f->present |= IMAP_FETCH_ENVELOPE;
        break;
    }
    default:
        return -1;
    }
    *ip = i;
    return 0;
}

/*
 * FETCH data as servers send it most ("* 12 FETCH (UID 4711 FLAGS (\Seen)
 * MODSEQ (90210))"): the items fast_item() knows are read straight from the
 * bytes, any other (BODY[], BODYSTRUCTURE...) or any in a less plain form
 * with fetch_pair() and the tokenizer, from the item on.  The fast reading
 * only accepts what the general one reads the same way; where it is unsure
 * (runs of spaces, an error, anything after the list) it returns -1 and the
 * line is read again the general way.  The tokenizer is at the "(".
 */
static int fetch_fast(struct rp *p)
{
    const char *t = p->u->text;
    size_t n = p->u->text_len, i = p->tk.pos;
    struct imap_ev_fetch *f = &p->r->untagged.fetch;
    struct vec flags = {0}, parts = {0};

    /* short lines only, so that what this takes from the arena before a
     * fallback is never missed by the general reading (IMAP_ARENA_MAX) */
    if (n > FETCH_FAST_MAX || p->tk.peeked || n - i < 3 || t[i] != ' ' || t[i + 1] != '(')
        return -1;
    p->r->untagged.has_fetch = 1;
    i += 2;
    p->tk.depth = 1; /* for the items read with the tokenizer */
    while (t[i] != ')') {
        if (fast_item(p, &i, &flags) < 0) {
            /* this item the general way, the tokenizer at its name */
            struct imap_tok it;
            p->tk.pos = i;
            if (next(p, &it) != IMAP_TOK_ATOM || fetch_pair(p, &it, &flags, &parts) != 0 ||
                p->tk.err != NULL || p->tk.peeked || p->tk.depth != 1)
                return -1;
            i = p->tk.pos;
        }
        /* then the end of the list, or one space and the next item */
        if (i >= n)
            return -1;
        if (t[i] == ')')
            break;
        if (t[i] != ' ' || i + 1 >= n || t[i + 1] == ' ')
            return -1;
        i++;
    }
    if (i + 1 != n)
        return -1; /* something after the list: the general way reads it */
    f->flags = flags.v;
    f->nflags = flags.n;
    f->parts = parts.v;
    f->nparts = parts.n;
    /* the tokenizer at the end, as after the general reading */
    p->tk.pos = n;
    p->tk.depth = 0;
    p->read_all = 1;
    return 0;
}

/* ---- other data ---- */

static void parse_list(struct rp *p)
{
    struct imap_ev_untagged *ev = &p->r->untagged;
    struct vec attrs = {0};
    struct imap_tok t;
    enum imap_tok_type type;

    if (next(p, &t) != IMAP_TOK_LPAREN || read_str_list(p, &attrs) < 0)
        return;
    ev->has_list = 1;
    ev->list.attrs = attrs.v;
    ev->list.nattrs = attrs.n;
    type = next(p, &t);
    if (!is_string(type))
        return;
    ev->list.delim = tok_str(p, &t, 1);
    type = next(p, &t);
    if (!is_string(type))
        return;
    ev->list.name = tok_str(p, &t, 0);
    if (!p->opts->utf8_names && memchr(ev->list.name.p, '&', ev->list.name.len) != NULL) {
        struct imap_str dec;
        if (imap_mutf7_decode(p->a, ev->list.name, &dec) == 1)
            ev->list.name_utf8 = dec;
    }
    /* LIST-EXTENDED data may follow: the caller tokenizes it to the end */
}

static void parse_status(struct rp *p)
{
    struct imap_ev_untagged *ev = &p->r->untagged;
    struct vec items = {0};
    struct imap_tok t, v;
    enum imap_tok_type type;

    if (!is_string(next(p, &t)))
        return;
    ev->has_mbox_status = 1;
    ev->status_mailbox = tok_str(p, &t, 0);
    if (next(p, &t) != IMAP_TOK_LPAREN)
        return;
    for (;;) {
        type = next(p, &t);
        if (type == IMAP_TOK_ATOM) {
            uint64_t n;
            type = next(p, &v);
            if (tok_u64(&v, UINT64_MAX, &n) == 0) {
                struct imap_ev_status_item *it = vec_push(p, &items, sizeof(*it));
                if (it != NULL) {
                    it->name = upper(p, note(p, t.s));
                    it->value = n;
                }
            }
        }
        if (skip_tok(p, type) != 0)
            break;
    }
    ev->status_items = items.v;
    ev->nstatus_items = items.n;
}

static void parse_search(struct rp *p)
{
    struct imap_ev_untagged *ev = &p->r->untagged;
    struct imap_tok t;
    uint64_t count = 0;

    ev->has_search = 1;
    for (;;) {
        enum imap_tok_type type = next(p, &t);
        if (type == IMAP_TOK_ATOM) {
            if (t.s.p[0] >= '0' && t.s.p[0] <= '9')
                count++;
        } else if (skip_tok(p, type) < 0) {
            break; /* "(MODSEQ n)" is skipped whole */
        }
    }
    ev->search_count = count;
}

/* The number of values in a sequence set: "1:3,7,9:8" holds 6. */
static uint64_t set_count(struct imap_str s)
{
    uint64_t total = 0;
    size_t i = 0;

    while (i < s.len) {
        uint64_t a = 0, b;
        size_t j = i;
        int ok = 1;

        for (; j < s.len && s.p[j] >= '0' && s.p[j] <= '9'; j++)
            a = a < UINT32_MAX ? a * 10 + (uint64_t)(s.p[j] - '0') : a;
        ok = j > i;
        b = a;
        if (j < s.len && s.p[j] == ':') {
            size_t k = ++j;
            b = 0;
            for (; j < s.len && s.p[j] >= '0' && s.p[j] <= '9'; j++)
                b = b < UINT32_MAX ? b * 10 + (uint64_t)(s.p[j] - '0') : b;
            ok = ok && j > k;
        }
        if (ok)
            total += (a > b ? a - b : b - a) + 1;
        /* anything else ("*", junk) counts nothing up to the next comma */
        while (j < s.len && s.p[j] != ',')
            j++;
        i = j + 1;
    }
    return total;
}

static void parse_esearch(struct rp *p)
{
    struct imap_ev_untagged *ev = &p->r->untagged;
    struct imap_tok t, v;
    enum imap_tok_type type;
    int have_count = 0, have_all = 0, have_min = 0, have_max = 0;
    uint64_t count = 0, all = 0, min = 0, max = 0;

    ev->has_search = 1;
    type = next(p, &t);
    if (type == IMAP_TOK_LPAREN) {
        /* search-correlator: (TAG "x") */
        for (;;) {
            type = next(p, &t);
            if (type == IMAP_TOK_ATOM && EQ(t.s, "TAG")) {
                type = next(p, &v);
                if (is_string(type))
                    ev->search_tag = tok_str(p, &v, 0);
            }
            if (skip_tok(p, type) != 0)
                break;
        }
        type = next(p, &t);
    }
    if (type == IMAP_TOK_ATOM && EQ(t.s, "UID"))
        type = next(p, &t);
    while (type == IMAP_TOK_ATOM) {
        type = next(p, &v);
        if (EQ(t.s, "COUNT") && tok_u64(&v, UINT64_MAX, &count) == 0)
            have_count = 1;
        else if (EQ(t.s, "ALL") && type == IMAP_TOK_ATOM) {
            all += set_count(v.s);
            have_all = 1;
        } else if (EQ(t.s, "MIN") && tok_u64(&v, UINT64_MAX, &min) == 0)
            have_min = 1;
        else if (EQ(t.s, "MAX") && tok_u64(&v, UINT64_MAX, &max) == 0)
            have_max = 1;
        if (skip_tok(p, type) != 0)
            break;
        type = next(p, &t);
    }
    if (have_count)
        ev->search_count = count;
    else if (have_all)
        ev->search_count = all;
    else if (have_min && have_max)
        ev->search_count = min == max ? 1 : 2;
    else
        ev->search_count = have_min || have_max;
}

static void parse_id(struct rp *p)
{
    struct imap_ev_untagged *ev = &p->r->untagged;
    struct imap_tok k, v;
    enum imap_tok_type type;

    if (next(p, &k) != IMAP_TOK_LPAREN)
        return; /* ID NIL */
    for (;;) {
        type = next(p, &k);
        if (is_string(type)) {
            type = next(p, &v);
            if (is_string(type)) {
                if (EQ(k.s, "NAME"))
                    ev->id_name = tok_str(p, &v, 1);
                else if (EQ(k.s, "VERSION"))
                    ev->id_version = tok_str(p, &v, 1);
                continue;
            }
        }
        if (skip_tok(p, type) != 0)
            return;
    }
}

static void parse_vanished(struct rp *p)
{
    struct imap_ev_untagged *ev = &p->r->untagged;
    struct imap_tok t;
    enum imap_tok_type type = next(p, &t);

    ev->has_vanished = 1;
    if (type == IMAP_TOK_LPAREN) {
        for (;;) {
            type = next(p, &t);
            if (type == IMAP_TOK_ATOM && EQ(t.s, "EARLIER"))
                ev->vanished_earlier = 1;
            else if (skip_tok(p, type) != 0)
                break;
        }
        type = next(p, &t);
    }
    if (type == IMAP_TOK_ATOM)
        ev->vanished_uids = note(p, t.s);
    else
        skip_tok(p, type);
}

enum data_name {
    DN_OTHER,
    DN_FETCH,
    DN_CAPABILITY,
    DN_ENABLED,
    DN_FLAGS,
    DN_LIST,
    DN_STATUS,
    DN_SEARCH,
    DN_ESEARCH,
    DN_ID,
    DN_VANISHED,
};

/* A known name is returned as a static upper-case string: no copy. */
#define NAME(w, id)                    \
    do {                               \
        if (EQ(s, w)) {                \
            *name_r = IMAP_STR_LIT(w); \
            return (id);               \
        }                              \
    } while (0)

/* Dispatch on the length first: this runs for every data line. */
static enum data_name data_name(struct rp *p, struct imap_str s, struct imap_str *name_r)
{
    switch (s.len) {
    case 2:
        NAME("ID", DN_ID);
        break;
    case 3:
        NAME("ACL", DN_OTHER);
        break;
    case 4:
        NAME("LIST", DN_LIST);
        NAME("LSUB", DN_LIST);
        NAME("SORT", DN_OTHER);
        break;
    case 5:
        NAME("FETCH", DN_FETCH);
        NAME("FLAGS", DN_FLAGS);
        NAME("QUOTA", DN_OTHER);
        break;
    case 6:
        NAME("EXISTS", DN_OTHER);
        NAME("SEARCH", DN_SEARCH);
        NAME("RECENT", DN_OTHER);
        NAME("STATUS", DN_STATUS);
        NAME("THREAD", DN_OTHER);
        break;
    case 7:
        NAME("EXPUNGE", DN_OTHER);
        NAME("ENABLED", DN_ENABLED);
        NAME("ESEARCH", DN_ESEARCH);
        break;
    case 8:
        NAME("VANISHED", DN_VANISHED);
        NAME("UIDFETCH", DN_FETCH);
        NAME("METADATA", DN_OTHER);
        NAME("MYRIGHTS", DN_OTHER);
        break;
    case 9:
        NAME("NAMESPACE", DN_OTHER);
        NAME("QUOTAROOT", DN_OTHER);
        break;
    case 10:
        NAME("CAPABILITY", DN_CAPABILITY);
        break;
    }
    *name_r = upper(p, note(p, s));
    return DN_OTHER;
}

#undef NAME

static void fill_literals(struct rp *p)
{
    const struct imap_unit *u = p->u;
    struct imap_ev_literal *l;
    size_t i;

    if (u->nlits == 0)
        return;
    l = imap_arena_alloc(p->a, u->nlits * sizeof(*l));
    if (l == NULL)
        return;
    for (i = 0; i < u->nlits; i++) {
        l[i].size = u->lits[i].size;
        l[i].head = IMAP_STR_NULL;
        if (p->opts->keep_literals && u->lits[i].kept > 0)
            l[i].head = (struct imap_str){u->text + u->lits[i].pos, u->lits[i].kept};
    }
    p->r->untagged.literals = l;
    p->r->untagged.nliterals = u->nlits;
}

/* Bytes of a response name: A-Z a-z 0-9 - . _ (8-bit: none) */
/* clang-format off */
static const unsigned char name_chars[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* CTL */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* CTL */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, /* SP ! " # $ % & ' ( ) * + , - . / */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0-9 : ; < = > ? */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* @ A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, /* P-Z [ \ ] ^ _ */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* ` a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, /* p-z { | } ~ DEL */
};
/* clang-format on */

static int parse_data(struct rp *p)
{
    const struct imap_unit *u = p->u;
    const char *text = u->text;
    size_t n = u->text_len, pos = n > 0 ? 1 : 0, j; /* pos: after the "*" */
    struct imap_ev_untagged *ev = &p->r->untagged;
    struct imap_tok t;
    enum imap_tok_type type;
    struct imap_str name;
    struct vec v = {0};
    uint64_t num = 0;
    unsigned d;

    fill_literals(p);
    /* "* n NAME" in its plain form is read here (the framer classified the
     * line by it); the tokenizer takes over after it, or from the start of
     * anything less plain */
    while (pos < n && text[pos] == ' ')
        pos++;
    for (j = pos; j < n && (d = (unsigned)(text[j] - '0')) <= 9; j++)
        if (j - pos < 19)
            num = num * 10 + d; /* 19 digits cannot overflow */
    if (j > pos && j < n && text[j] == ' ') {
        if (j - pos <= 19) {
            ev->n = num;
            ev->has_n = 1;
        } else if (num_u64((struct imap_str){text + pos, j - pos}, UINT64_MAX, &ev->n) == 0) {
            ev->has_n = 1;
        } else {
            p->syntax = IMAP_ERR_SYNTAX;
        }
        pos = j + 1;
    }
    for (j = pos; j < n && name_chars[(unsigned char)text[j]]; j++)
        ;
    if (j > pos && !(text[pos] >= '0' && text[pos] <= '9') && (j == n || text[j] == ' ')) {
        name = (struct imap_str){text + pos, j - pos};
        imap_tok_init(&p->tk, u, j);
    } else {
        imap_tok_init(&p->tk, u, pos);
        type = next(p, &t);
        if (!ev->has_n && type == IMAP_TOK_ATOM && t.s.p[0] >= '0' && t.s.p[0] <= '9') {
            if (num_u64(t.s, UINT64_MAX, &ev->n) == 0)
                ev->has_n = 1;
            else
                p->syntax = IMAP_ERR_SYNTAX;
            type = next(p, &t);
        }
        if (type != IMAP_TOK_ATOM) {
            p->syntax = IMAP_ERR_SYNTAX;
            skip_tok(p, type);
            return 0;
        }
        name = t.s;
    }
    switch (data_name(p, name, &ev->name)) {
    case DN_FETCH:
        if (ev->has_n) {
            size_t at = p->tk.pos;
            int lossy = p->r->lossy;
            if (fetch_fast(p) == 0)
                break;
            /* from the "(" again, the general way */
            memset(&ev->fetch, 0, sizeof(ev->fetch));
            p->r->lossy = lossy;
            imap_tok_init(&p->tk, u, at);
            parse_fetch(p);
        }
        break;
    case DN_CAPABILITY:
    case DN_ENABLED:
        if (ev->has_n)
            break;
        read_atoms(p, &v);
        ev->caps = v.v;
        ev->ncaps = v.n;
        break;
    case DN_FLAGS:
        if (ev->has_n || next(p, &t) != IMAP_TOK_LPAREN)
            break;
        ev->has_flags = 1;
        read_str_list(p, &v);
        ev->flags = v.v;
        ev->nflags = v.n;
        break;
    case DN_LIST:
        if (!ev->has_n)
            parse_list(p);
        break;
    case DN_STATUS:
        if (!ev->has_n)
            parse_status(p);
        break;
    case DN_SEARCH:
        if (!ev->has_n)
            parse_search(p);
        break;
    case DN_ESEARCH:
        if (!ev->has_n)
            parse_esearch(p);
        break;
    case DN_ID:
        if (!ev->has_n)
            parse_id(p);
        break;
    case DN_VANISHED:
        if (!ev->has_n)
            parse_vanished(p);
        break;
    case DN_OTHER:
        break;
    }
    return 0;
}

/* ---- status, tagged, continue, malformed ---- */

static const struct {
    const char *word;
    size_t len;
} status_words[] = {{"OK", 2}, {"NO", 2}, {"BAD", 3}, {"BYE", 3}, {"PREAUTH", 7}};

/* The status word at t[0..n) as a static upper-case string, or NULL; only
 * OK/NO/BAD (the first three) when tagged. */
static struct imap_str status_word(const char *t, size_t n, int tagged)
{
    size_t i, count = tagged ? 3 : 5;

    for (i = 0; i < count; i++)
        if (eq_up((struct imap_str){t, n}, status_words[i].word, status_words[i].len))
            return (struct imap_str){status_words[i].word, status_words[i].len};
    return IMAP_STR_NULL;
}

static size_t word_end(const char *t, size_t i, size_t n)
{
    while (i < n && t[i] != ' ')
        i++;
    return i;
}

static int parse_status_line(struct rp *p)
{
    const char *t = p->u->text;
    size_t n = p->u->text_len, s = n > 0 ? 1 : 0, e; /* s: after the "*" */
    struct imap_ev_untagged *ev = &p->r->untagged;
    struct resp_text rt = {0};

    while (s < n && t[s] == ' ')
        s++;
    e = word_end(t, s, n);
    ev->name = status_word(t + s, e - s, 0);
    if (ev->name.p == NULL)
        ev->name = upper(p, note(p, (struct imap_str){t + s, e - s}));
    if (ev->name.p == status_words[4].word) {
        ev->has_state = 1;
        ev->state = IMAP_STATE_AUTHENTICATED;
    }
    parse_resp_text(p, e, &rt);
    ev->code = rt.code;
    ev->code_data = rt.code_data;
    ev->text = rt.text;
    ev->caps = rt.caps;
    ev->ncaps = rt.ncaps;
    return 0;
}

/* A tag as RFC 3501 §9 has it: ASTRING-CHARs except "+", bounded. */
static int plausible_tag(const char *t, size_t n)
{
    size_t i;

    if (n == 0 || n > IMAP_LEX_TAG_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\+", c) != NULL)
            return 0;
    }
    return 1;
}

static int fail_bad_tag(struct rp *p)
{
    const char *t = p->u->text;
    size_t e = word_end(t, 0, p->u->text_len);

    if (plausible_tag(t, e))
        p->r->err_tag = (struct imap_str){t, e};
    p->r->err = IMAP_ERR_BAD_TAG;
    p->r->excerpt = imap_msg_excerpt(p->u, IMAP_EXCERPT_MAX);
    return -1;
}

static int parse_tagged(struct rp *p)
{
    const char *t = p->u->text;
    size_t n = p->u->text_len, e = word_end(t, 0, n), s, e2;
    struct imap_ev_tagged *ev = &p->r->tagged;
    struct resp_text rt = {0};

    if (e == 0 || e >= n)
        return fail_bad_tag(p);
    s = e + 1;
    e2 = word_end(t, s, n);
    ev->status = status_word(t + s, e2 - s, 1);
    if (ev->status.p == NULL)
        return fail_bad_tag(p);
    ev->tag = note(p, (struct imap_str){t, e});
    parse_resp_text(p, e2, &rt);
    ev->code = rt.code;
    ev->code_data = rt.code_data;
    ev->text = rt.text;
    ev->caps = rt.caps;
    ev->ncaps = rt.ncaps;
    return 0;
}

static int parse_continue(struct rp *p)
{
    const char *t = p->u->text;
    size_t n = p->u->text_len, pos = 0;

    if (pos < n && t[pos] == '+')
        pos++;
    if (pos < n && t[pos] == ' ')
        pos++;
    p->r->cont.text = note(p, (struct imap_str){t + pos, n - pos});
    p->r->cont.len = n - pos;
    return 0;
}

/* memset called through a pointer: compilers expand a constant-size memset
 * inline ("rep stos" with gcc), whose start-up cost was a tenth of the time
 * of a short FETCH line; the library's vector memset is several times faster. */
static void *(*const volatile zero)(void *, int, size_t) = memset;

int imap_response_parse(const struct imap_unit *u, struct imap_arena *a,
                        const struct imap_msg_opts *opts, struct imap_response *r)
{
    struct rp p;
    const char *err;

    zero(r, 0, sizeof(*r));
    r->kind = u->kind;
    p.u = u;
    p.a = a;
    p.opts = opts != NULL ? opts : &opts_default;
    p.r = r;
    p.syntax = NULL;
    p.read_all = 0;

    switch (u->kind) {
    case IMAP_UNIT_CONTINUE:
        return parse_continue(&p);
    case IMAP_UNIT_STATUS:
        return parse_status_line(&p);
    case IMAP_UNIT_TAGGED:
        return parse_tagged(&p);
    case IMAP_UNIT_DATA:
        break;
    default:
        return fail_bad_tag(&p);
    }

    parse_data(&p);
    /* every data line is read to its end, so structural errors are found
     * whatever the interpretation skipped */
    while (!p.read_all) {
        struct imap_tok t;
        enum imap_tok_type type = next(&p, &t);
        if (type == IMAP_TOK_EOL || type == IMAP_TOK_ERROR)
            break;
    }
    r->depth_exceeded = p.tk.depth_exceeded;
    err = p.tk.err != NULL ? p.tk.err : p.syntax;
    /* a line cut at the line limit ends inside whatever was open there */
    if (err != NULL && (u->flags & IMAP_UNIT_TRUNCATED) &&
        (strcmp(err, IMAP_ERR_UNTERMINATED_QUOTE) == 0 ||
         strcmp(err, IMAP_ERR_UNCLOSED_BRACKET) == 0))
        err = NULL;
    if (err == NULL)
        return 0;
    r->err = err;
    r->excerpt = imap_msg_excerpt(u, IMAP_EXCERPT_MAX);
    return -1;
}
