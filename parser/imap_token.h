/*
 * imap_token.h - tokenizer over one complete unit (see imap_lex.h).
 *
 * The assemblers of commands and responses read a unit's text token by token.
 * Everything is bounded by the unit: no allocation, no copies; quoted strings
 * are handed out raw (between the quotes, escapes not undone) and can be
 * unescaped into a caller's buffer with imap_tok_unquote().
 *
 * Tokens (RFC 3501 §9, made lenient where a logger should be):
 *   ATOM     1*ATOM-CHAR, also "]" and body sections: an atom that meets "["
 *            runs to the matching "]" (quotes and parentheses inside are part
 *            of it) and on through a "<partial>", so
 *            BODY.PEEK[HEADER.FIELDS (From "To")]<0.2048> is one token.
 *            Flags (\Seen, \*) and numbers are atoms too.
 *   QUOTED   "..." with \" and \\ escapes
 *   LITERAL  {n}, {n+}, ~{n} followed by its kept octets
 *   LPAREN ( and RPAREN )   (depth is tracked and bounded)
 *   EOL      end of the unit
 * A single SP separates tokens; runs of spaces are accepted silently.
 *
 * Errors stick: after the first one every call returns IMAP_TOK_ERROR and
 * err/err_pos say what and where.
 */
#ifndef IMAP_TOKEN_H
#define IMAP_TOKEN_H

#include "imap_lex.h"
#include "imap_types.h"

#define IMAP_TOK_DEPTH_MAX 64 /* nesting of parenthesized lists (protocol.md §2.6) */

enum imap_tok_type {
    IMAP_TOK_EOL = 0,
    IMAP_TOK_ATOM,
    IMAP_TOK_QUOTED,
    IMAP_TOK_LITERAL,
    IMAP_TOK_LPAREN,
    IMAP_TOK_RPAREN,
    IMAP_TOK_ERROR,
};

/* Error reasons (the parse_error "reason" field). */
#define IMAP_ERR_UNBALANCED_PAREN   "unbalanced_paren"
#define IMAP_ERR_UNCLOSED_BRACKET   "unclosed_bracket"
#define IMAP_ERR_UNTERMINATED_QUOTE "unterminated_quote"
#define IMAP_ERR_BAD_ESCAPE         "bad_escape"
#define IMAP_ERR_BAD_LITERAL        "bad_literal"
#define IMAP_ERR_BAD_TAG            "bad_tag"
#define IMAP_ERR_SYNTAX             "syntax"
#define IMAP_ERR_DEPTH              "depth"

struct imap_tok {
    enum imap_tok_type type;
    struct imap_str s;  /* ATOM: the atom; QUOTED: between the quotes (raw);
                           LITERAL: the kept octets */
    uint64_t lit_size;  /* LITERAL: announced size */
    unsigned lit_flags; /* LITERAL: IMAP_LIT_* */
    int lit_truncated;  /* LITERAL: fewer octets kept than announced */
    int plain;          /* QUOTED: known to hold no escapes (set by the reader,
                           so imap_tok_string() need not look for them) */
    size_t pos;         /* offset of the token in the unit text */
};

struct imap_tok_reader {
    const struct imap_unit *unit;
    size_t pos;       /* next byte in unit->text */
    size_t lit_index; /* next literal of unit->lits */
    int depth;        /* open parentheses */
    int depth_max;
    int depth_exceeded; /* the depth limit was hit at least once */
    const char *err;    /* IMAP_ERR_* or NULL */
    size_t err_pos;
    int peeked;
    struct imap_tok peek;
};

void imap_tok_init(struct imap_tok_reader *r, const struct imap_unit *unit, size_t start);

/* Reads the next token into tok; returns its type. */
enum imap_tok_type imap_tok_next(struct imap_tok_reader *r, struct imap_tok *tok);
/* Looks at the next token without consuming it. */
enum imap_tok_type imap_tok_peek(struct imap_tok_reader *r, struct imap_tok *tok);

/* Skips the rest of the current parenthesized list (the "(" already read),
 * nested lists and all.  Returns 0, or -1 on error/EOL. */
int imap_tok_skip_list(struct imap_tok_reader *r);
/* Skips one value: an atom, string, or a whole list.  Returns 0 or -1. */
int imap_tok_skip_value(struct imap_tok_reader *r);

/* The rest of the unit text from the reader's position, as is (for resp-text). */
struct imap_str imap_tok_rest(const struct imap_tok_reader *r);

/* Records an error (first one wins) at pos. */
void imap_tok_fail(struct imap_tok_reader *r, const char *reason, size_t pos);

/* Undoes the escapes of a QUOTED token's raw bytes into out (out_size bytes);
 * returns the length written (truncated to out_size). */
size_t imap_tok_unquote(struct imap_str raw, char *out, size_t out_size);

/* The value of a string-ish token (ATOM, QUOTED, LITERAL) unescaped, in an
 * allocation from the arena when escapes must be undone; NIL atoms give
 * IMAP_STR_NULL when nil_ok. */
struct imap_arena;
struct imap_str imap_tok_string(struct imap_arena *arena, const struct imap_tok *tok, int nil_ok);

#endif
