/* imap_token.c - tokenizer over one complete unit. */
#include "imap_token.h"

#include <string.h>

#include "imap_arena.h"
#include "imap_scan.h"

void imap_tok_init(struct imap_tok_reader *r, const struct imap_unit *unit, size_t start)
{
    memset(r, 0, sizeof(*r));
    r->unit = unit;
    r->pos = start;
    r->depth_max = IMAP_TOK_DEPTH_MAX;
}

void imap_tok_fail(struct imap_tok_reader *r, const char *reason, size_t pos)
{
    if (r->err == NULL) {
        r->err = reason;
        r->err_pos = pos;
    }
}

/* Characters that end an atom outside brackets (RFC 3501 atom-specials, less
 * "]" which astrings allow, and less "%" and "*" which list patterns and
 * "\*" allow). */
static const unsigned char atom_end[256] = {
    [' '] = 1, ['('] = 1, [')'] = 1, ['"'] = 1, ['{'] = 1, ['\r'] = 1, ['\n'] = 1,
};

/* atom_end plus the two characters read_atom looks at more closely */
static const unsigned char atom_stop[256] = {
    [' '] = 1,  ['('] = 1,  [')'] = 1, ['"'] = 1, ['{'] = 1,
    ['\r'] = 1, ['\n'] = 1, ['['] = 1, ['<'] = 1,
};

/* what tok_read() skips between tokens */
static const unsigned char separator[256] = {[' '] = 1, ['\r'] = 1, ['\n'] = 1};

static int ends_atom(unsigned char c)
{
    return atom_end[c];
}

/* Reads a quoted string starting at the opening quote. */
static enum imap_tok_type read_quoted(struct imap_tok_reader *r, struct imap_tok *tok)
{
    const char *t = r->unit->text;
    size_t n = r->unit->text_len, i = r->pos + 1;
    int plain = 1;

    for (;;) {
        i += imap_scan4(t + i, n - i, '"', '\\', '\r', '\n');
        if (i >= n)
            break;
        if (t[i] == '"') {
            tok->type = IMAP_TOK_QUOTED;
            tok->s = (struct imap_str){t + r->pos + 1, i - r->pos - 1};
            tok->plain = plain;
            r->pos = i + 1;
            return tok->type;
        }
        if (t[i] != '\\')
            break; /* quoted strings cannot span lines */
        if (i + 1 < n && (t[i + 1] == '"' || t[i + 1] == '\\')) {
            plain = 0;
            i += 2;
            continue;
        }
        if (i + 1 >= n)
            break; /* a backslash right before the end: unterminated */
        imap_tok_fail(r, IMAP_ERR_BAD_ESCAPE, i);
        return IMAP_TOK_ERROR;
    }
    imap_tok_fail(r, IMAP_ERR_UNTERMINATED_QUOTE, r->pos);
    return IMAP_TOK_ERROR;
}

/*
 * At "{" or "~{": a literal when the marker is followed by the line break
 * the framer cut at, with the framer's literal descriptor right there.
 * Returns 1 with tok filled, 0 when it is not a literal marker.
 */
static int read_literal(struct imap_tok_reader *r, struct imap_tok *tok)
{
    const struct imap_unit *u = r->unit;
    const char *t = u->text;
    size_t n = u->text_len, i = r->pos;
    uint64_t size = 0;
    unsigned flags = 0;
    int digits = 0;

    if (t[i] == '~') {
        flags |= IMAP_LIT_BINARY;
        i++;
    }
    if (i >= n || t[i] != '{')
        return 0;
    for (i++; i < n && t[i] >= '0' && t[i] <= '9'; i++) {
        unsigned d = (unsigned)(t[i] - '0');
        if (size > (UINT64_MAX - d) / 10)
            return 0;
        size = size * 10 + d;
        digits++;
    }
    if (digits == 0 || i >= n)
        return 0;
    if (t[i] == '+') {
        flags |= IMAP_LIT_NONSYNC;
        i++;
    }
    if (i >= n || t[i] != '}')
        return 0;
    i++;
    if (i < n && t[i] == '\r')
        i++;
    if (i >= n || t[i] != '\n') {
        /* a marker at the very end of a truncated text, or not at a line end */
        if (i == n && (u->flags & IMAP_UNIT_TRUNCATED))
            goto undescribed;
        return 0;
    }
    i++;
    if (r->lit_index < u->nlits && u->lits[r->lit_index].pos == i) {
        const struct imap_literal *lit = &u->lits[r->lit_index++];
        tok->type = IMAP_TOK_LITERAL;
        tok->s = (struct imap_str){t + i, (size_t)lit->kept};
        tok->lit_size = lit->size;
        tok->lit_flags = lit->flags;
        tok->lit_truncated = lit->kept < lit->size;
        r->pos = i + lit->kept;
        return 1;
    }
    if (r->lit_index < u->nlits)
        return 0; /* the framer did not take it as a literal */
undescribed:
    /* more literals than the framer describes: the octets were not kept */
    tok->type = IMAP_TOK_LITERAL;
    tok->s = (struct imap_str){t + i, 0};
    tok->lit_size = size;
    tok->lit_flags = flags;
    tok->lit_truncated = size > 0;
    r->pos = i;
    return 1;
}

/* The fetch items whose "[" opens a section that must be closed. */
static int is_section_item(const char *p, size_t n)
{
    static const char *const items[] = {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK",
                                        "BINARY.SIZE"};
    size_t i;

    for (i = 0; i < sizeof(items) / sizeof(items[0]); i++)
        if (imap_str_eq_ci((struct imap_str){p, n}, items[i]))
            return 1;
    return 0;
}

static enum imap_tok_type read_atom(struct imap_tok_reader *r, struct imap_tok *tok)
{
    const char *t = r->unit->text;
    size_t n = r->unit->text_len, i = r->pos;

    for (;;) {
        unsigned char c;
        while (i < n && !atom_stop[(unsigned char)t[i]])
            i++;
        if (i >= n)
            break;
        c = (unsigned char)t[i];
        if (c != '[' && c != '<')
            break; /* the usual end: a space or a parenthesis */
        if (c == '[') {
            /* a body section or a bracketed name: runs to the matching "]" */
            int in_quote = 0;
            size_t open = i;
            for (i++; i < n; i++) {
                char d = t[i];
                if (in_quote) {
                    if (d == '\\' && i + 1 < n)
                        i++;
                    else if (d == '"')
                        in_quote = 0;
                } else if (d == '"') {
                    in_quote = 1;
                } else if (d == ']') {
                    break;
                } else if (d == '\r' || d == '\n') {
                    break;
                }
            }
            if (i >= n || t[i] != ']') {
                /* "[" is an ordinary ATOM-CHAR ("Foo[bar"), but a section
                 * after BODY/BINARY must be closed */
                if (is_section_item(t + r->pos, open - r->pos)) {
                    imap_tok_fail(r, IMAP_ERR_UNCLOSED_BRACKET, open);
                    return IMAP_TOK_ERROR;
                }
                i = open + 1;
                continue;
            }
            i++;
            continue;
        }
        if (c == '<' && i > r->pos && t[i - 1] == ']') {
            /* a partial: BODY[]<0.2048> */
            size_t j = i + 1;
            while (j < n && t[j] != '>' && !ends_atom((unsigned char)t[j]))
                j++;
            if (j < n && t[j] == '>') {
                i = j + 1;
                continue;
            }
        }
        i++; /* "<" is an ATOM-CHAR */
    }
    tok->type = IMAP_TOK_ATOM;
    tok->s = (struct imap_str){t + r->pos, i - r->pos};
    r->pos = i;
    return tok->type;
}

/* The tokens tok_read() does not read itself: the end, strings, literals,
 * atoms that start oddly.  r->pos is at the token. */
static enum imap_tok_type tok_other(struct imap_tok_reader *r, struct imap_tok *tok)
{
    const struct imap_unit *u = r->unit;
    const char *t = u->text;
    size_t pos = r->pos;

    if (pos >= u->text_len) {
        if (r->depth > 0 && !(u->flags & IMAP_UNIT_TRUNCATED)) {
            imap_tok_fail(r, IMAP_ERR_UNBALANCED_PAREN, pos);
            return tok->type = IMAP_TOK_ERROR;
        }
        return tok->type = IMAP_TOK_EOL;
    }
    switch (t[pos]) {
    case ')':
        imap_tok_fail(r, IMAP_ERR_UNBALANCED_PAREN, pos);
        return tok->type = IMAP_TOK_ERROR;
    case '"':
        return tok->type = read_quoted(r, tok);
    case '{':
    case '~':
        if (read_literal(r, tok))
            return tok->type;
        if (t[pos] == '{') {
            /* "{5} x": "{" is no ATOM-CHAR and this is no literal */
            imap_tok_fail(r, IMAP_ERR_BAD_LITERAL, pos);
            return tok->type = IMAP_TOK_ERROR;
        }
        return tok->type = read_atom(r, tok);
    default:
        return tok->type = read_atom(r, tok);
    }
}

/* The next token.  The usual ones (parentheses, atoms that end at a space
 * or parenthesis) are read here; the others in functions of their own, so
 * that this stays small. */
static inline enum imap_tok_type tok_read(struct imap_tok_reader *r, struct imap_tok *tok)
{
    const char *t = r->unit->text;
    size_t n = r->unit->text_len, pos = r->pos, i;
    unsigned char c;

    tok->s.p = NULL;
    tok->s.len = 0;
    tok->lit_size = 0;
    tok->lit_flags = 0;
    tok->lit_truncated = 0;
    tok->plain = 0;
    if (r->err != NULL)
        return tok->type = IMAP_TOK_ERROR;
    /* spaces separate tokens; a stray CR kept in the text is skipped too
     * (in a loop: the input decides how many there are) */
    while (pos < n && separator[(unsigned char)t[pos]])
        pos++;
    r->pos = pos;
    tok->pos = pos;
    if (pos >= n)
        return tok_other(r, tok);
    c = (unsigned char)t[pos];
    if (c == '(') {
        r->pos = pos + 1;
        if (++r->depth > r->depth_max)
            r->depth_exceeded = 1;
        return tok->type = IMAP_TOK_LPAREN;
    }
    if (c == ')' && r->depth > 0) {
        r->pos = pos + 1;
        r->depth--;
        return tok->type = IMAP_TOK_RPAREN;
    }
    if (atom_stop[c] || c == '~')
        return tok_other(r, tok);
    for (i = pos + 1; i < n && !atom_stop[(unsigned char)t[i]]; i++)
        ;
    if (i < n && (t[i] == '[' || t[i] == '<'))
        return tok->type = read_atom(r, tok); /* a section or a partial */
    tok->s = (struct imap_str){t + pos, i - pos};
    r->pos = i;
    return tok->type = IMAP_TOK_ATOM;
}

enum imap_tok_type imap_tok_next(struct imap_tok_reader *r, struct imap_tok *tok)
{
    if (r->peeked) {
        r->peeked = 0;
        *tok = r->peek;
        return tok->type;
    }
    return tok_read(r, tok);
}

enum imap_tok_type imap_tok_peek(struct imap_tok_reader *r, struct imap_tok *tok)
{
    if (!r->peeked) {
        imap_tok_next(r, &r->peek);
        r->peeked = 1;
    }
    *tok = r->peek;
    return tok->type;
}

int imap_tok_skip_list(struct imap_tok_reader *r)
{
    int depth = 1;
    struct imap_tok tok;

    while (depth > 0) {
        switch (r->peeked ? imap_tok_next(r, &tok) : tok_read(r, &tok)) {
        case IMAP_TOK_LPAREN:
            depth++;
            break;
        case IMAP_TOK_RPAREN:
            depth--;
            break;
        case IMAP_TOK_EOL:
        case IMAP_TOK_ERROR:
            return -1;
        default:
            break;
        }
    }
    return 0;
}

int imap_tok_skip_value(struct imap_tok_reader *r)
{
    struct imap_tok tok;

    switch (imap_tok_next(r, &tok)) {
    case IMAP_TOK_LPAREN:
        return imap_tok_skip_list(r);
    case IMAP_TOK_ATOM:
    case IMAP_TOK_QUOTED:
    case IMAP_TOK_LITERAL:
        return 0;
    default:
        return -1;
    }
}

struct imap_str imap_tok_rest(const struct imap_tok_reader *r)
{
    const struct imap_unit *u = r->unit;
    size_t pos = r->peeked ? r->peek.pos : r->pos;

    if (pos > u->text_len)
        pos = u->text_len;
    return (struct imap_str){u->text + pos, u->text_len - pos};
}

size_t imap_tok_unquote(struct imap_str raw, char *out, size_t out_size)
{
    size_t i, o = 0;

    for (i = 0; i < raw.len && o < out_size; i++) {
        char c = raw.p[i];
        if (c == '\\' && i + 1 < raw.len)
            c = raw.p[++i];
        out[o++] = c;
    }
    return o;
}

struct imap_str imap_tok_string(struct imap_arena *arena, const struct imap_tok *tok, int nil_ok)
{
    switch (tok->type) {
    case IMAP_TOK_ATOM:
        if (nil_ok && tok->s.len == 3 &&
            (memcmp(tok->s.p, "NIL", 3) == 0 || imap_str_eq_ci(tok->s, "NIL")))
            return IMAP_STR_NULL;
        return tok->s;
    case IMAP_TOK_QUOTED:
        if (!tok->plain && memchr(tok->s.p, '\\', tok->s.len) != NULL) {
            char *p = imap_arena_alloc(arena, tok->s.len + 1);
            size_t len;
            if (p == NULL)
                return tok->s;
            len = imap_tok_unquote(tok->s, p, tok->s.len);
            p[len] = '\0';
            return (struct imap_str){p, len};
        }
        return tok->s;
    case IMAP_TOK_LITERAL:
        return tok->s;
    default:
        return IMAP_STR_NULL;
    }
}
