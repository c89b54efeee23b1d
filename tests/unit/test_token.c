/*
 * test_token.c - the tokenizer over one unit (imap_token.h): atoms, flags,
 * body sections, quoted strings, literals, NIL, lists, errors, depth, peek
 * and rest.  Units are built with test_unit() (unit_helper.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap_arena.h"
#include "imap_token.h"
#include "unit_helper.h"

static struct imap_tok_reader rd;
static struct imap_arena arena;

static int setup(void **state)
{
    (void)state;
    imap_arena_init(&arena);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    imap_arena_release(&arena);
    return 0;
}

/* A reader over a server data unit (literals allowed) from the start. */
static struct imap_tok_reader *reader(const char *wire, size_t len)
{
    const struct imap_unit *u = test_unit(IMAP_S2C, IMAP_UNIT_DATA, wire, len);
    imap_tok_init(&rd, u, 0);
    return &rd;
}

#define READER(w) reader((w), sizeof(w) - 1)

static void expect_tok(struct imap_tok_reader *r, enum imap_tok_type type, const char *s,
                       size_t len)
{
    struct imap_tok tok;
    enum imap_tok_type t = imap_tok_next(r, &tok);

    if (t != type)
        fail_msg("token type %d, want %d (err %s at %zu)", (int)t, (int)type, r->err ? r->err : "-",
                 r->err_pos);
    assert_int_equal(tok.type, type);
    if (s != NULL) {
        if (tok.s.len != len || memcmp(tok.s.p, s, len) != 0)
            fail_msg("token \"%.*s\", want \"%.*s\"", (int)tok.s.len, tok.s.p, (int)len, s);
    }
}

#define ATOM(r, s)   expect_tok((r), IMAP_TOK_ATOM, (s), sizeof(s) - 1)
#define QUOTED(r, s) expect_tok((r), IMAP_TOK_QUOTED, (s), sizeof(s) - 1)
#define LPAREN(r)    expect_tok((r), IMAP_TOK_LPAREN, NULL, 0)
#define RPAREN(r)    expect_tok((r), IMAP_TOK_RPAREN, NULL, 0)
#define EOL(r)       expect_tok((r), IMAP_TOK_EOL, NULL, 0)

static void expect_error(struct imap_tok_reader *r, const char *reason, size_t pos)
{
    struct imap_tok tok;

    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_ERROR);
    assert_non_null(r->err);
    assert_string_equal(r->err, reason);
    assert_int_equal(r->err_pos, pos);
    /* errors stick */
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_ERROR);
    assert_int_equal(imap_tok_peek(r, &tok), IMAP_TOK_ERROR);
    assert_string_equal(r->err, reason);
}

/* ------------------------------------------------------------ atoms */

static void test_atoms(void **state)
{
    struct imap_tok_reader *r;
    struct imap_tok tok;

    (void)state;
    r = READER("a1 NOOP");
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_ATOM);
    assert_int_equal(tok.pos, 0);
    assert_int_equal(tok.s.len, 2);
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_ATOM);
    assert_int_equal(tok.pos, 3);
    assert_memory_equal(tok.s.p, "NOOP", 4);
    EOL(r);
    EOL(r); /* EOL repeats */

    /* tags with dots, dashes and "]"; numbers and sets are atoms too */
    r = READER("A-1.b] 12 1:* $ 4,7:9");
    ATOM(r, "A-1.b]");
    ATOM(r, "12");
    ATOM(r, "1:*");
    ATOM(r, "$");
    ATOM(r, "4,7:9");
    EOL(r);

    /* runs of spaces are accepted silently */
    r = READER("x   y ");
    ATOM(r, "x");
    ATOM(r, "y");
    EOL(r);

    /* an atom ends at a special */
    r = READER("ab(cd)ef\"g\"");
    ATOM(r, "ab");
    LPAREN(r);
    ATOM(r, "cd");
    RPAREN(r);
    ATOM(r, "ef");
    QUOTED(r, "g");
    EOL(r);

    /* % and * stay inside atoms (list patterns) */
    r = READER("* LIST \"\" %/*");
    ATOM(r, "*");
    ATOM(r, "LIST");
    QUOTED(r, "");
    ATOM(r, "%/*");
    EOL(r);
}

static void test_flags(void **state)
{
    struct imap_tok_reader *r;

    (void)state;
    r = READER("* OK [PERMANENTFLAGS (\\Seen \\* $MDNSent NonJunk \\Answered)] x");
    ATOM(r, "*");
    ATOM(r, "OK");
    /* a bracketed atom runs to its "]": the code is one token */
    ATOM(r, "[PERMANENTFLAGS (\\Seen \\* $MDNSent NonJunk \\Answered)]");
    ATOM(r, "x");
    EOL(r);

    r = READER("* FLAGS (\\Seen \\* $MDNSent NonJunk \\Answered)");
    ATOM(r, "*");
    ATOM(r, "FLAGS");
    LPAREN(r);
    ATOM(r, "\\Seen");
    ATOM(r, "\\*");
    ATOM(r, "$MDNSent");
    ATOM(r, "NonJunk");
    ATOM(r, "\\Answered");
    RPAREN(r);
    EOL(r);
}

/* ------------------------------------------------------------ body sections */

static void test_body_sections(void **state)
{
    struct imap_tok_reader *r;

    (void)state;
    r = READER("a1 FETCH 1 (BODY.PEEK[HEADER.FIELDS (From \"Subject\")]<0.2048> BODY[1.2.MIME] "
               "BINARY[2] BINARY.SIZE[2] BODY[]<0> RFC822)");
    ATOM(r, "a1");
    ATOM(r, "FETCH");
    ATOM(r, "1");
    LPAREN(r);
    ATOM(r, "BODY.PEEK[HEADER.FIELDS (From \"Subject\")]<0.2048>");
    ATOM(r, "BODY[1.2.MIME]");
    ATOM(r, "BINARY[2]");
    ATOM(r, "BINARY.SIZE[2]");
    ATOM(r, "BODY[]<0>");
    ATOM(r, "RFC822");
    RPAREN(r);
    EOL(r);
    assert_int_equal(rd.depth, 0);

    /* quotes with "]" and ")" inside brackets do not end the section */
    r = READER("BODY[HEADER.FIELDS (\"a]b\" \")\" \"x\\\"]\")] NEXT");
    ATOM(r, "BODY[HEADER.FIELDS (\"a]b\" \")\" \"x\\\"]\")]");
    ATOM(r, "NEXT");
    EOL(r);

    /* the response form: section, partial, then a literal */
    r = READER("* 1 FETCH (BODY[]<0> {3}\r\nabc BODY[TEXT] NIL)");
    ATOM(r, "*");
    ATOM(r, "1");
    ATOM(r, "FETCH");
    LPAREN(r);
    ATOM(r, "BODY[]<0>");
    expect_tok(r, IMAP_TOK_LITERAL, "abc", 3);
    ATOM(r, "BODY[TEXT]");
    ATOM(r, "NIL");
    RPAREN(r);
    EOL(r);

    /* "<" without ">" and "<" not after "]" are plain atom chars */
    r = READER("BODY[]<0 a<b> c");
    ATOM(r, "BODY[]<0");
    ATOM(r, "a<b>");
    ATOM(r, "c");
    EOL(r);
}

static void test_bracketed_names(void **state)
{
    struct imap_tok_reader *r;

    (void)state;
    r = READER("a1 SELECT [Gmail]/Sent");
    ATOM(r, "a1");
    ATOM(r, "SELECT");
    ATOM(r, "[Gmail]/Sent");
    EOL(r);

    r = READER("* LIST (\\HasNoChildren) \"/\" [Gmail]/All Mail");
    ATOM(r, "*");
    ATOM(r, "LIST");
    LPAREN(r);
    ATOM(r, "\\HasNoChildren");
    RPAREN(r);
    QUOTED(r, "/");
    ATOM(r, "[Gmail]/All");
    ATOM(r, "Mail");
    EOL(r);

    /* a response code */
    r = READER("a1 OK [READ-WRITE] done");
    ATOM(r, "a1");
    ATOM(r, "OK");
    ATOM(r, "[READ-WRITE]");
    ATOM(r, "done");
    EOL(r);
}

/* ------------------------------------------------------------ quoted strings */

static void test_quoted(void **state)
{
    struct imap_tok_reader *r;
    struct imap_tok tok;
    struct imap_str s;
    char out[32];
    size_t n;

    (void)state;
    r = READER("a0 LOGIN \"alice\" \"pa\\\"ss\\\\\" \"\"");
    ATOM(r, "a0");
    ATOM(r, "LOGIN");
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_QUOTED);
    assert_int_equal(tok.pos, 9);
    assert_int_equal(tok.s.len, 5);
    s = imap_tok_string(&arena, &tok, 0);
    assert_ptr_equal(s.p, tok.s.p); /* no escapes: no copy */
    assert_int_equal(s.len, 5);

    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_QUOTED);
    /* raw: escapes not undone */
    assert_int_equal(tok.s.len, 8);
    assert_memory_equal(tok.s.p, "pa\\\"ss\\\\", 8);
    n = imap_tok_unquote(tok.s, out, sizeof(out));
    assert_int_equal(n, 6);
    assert_memory_equal(out, "pa\"ss\\", 6);
    /* a short output buffer cuts the result */
    n = imap_tok_unquote(tok.s, out, 3);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "pa\"", 3);
    s = imap_tok_string(&arena, &tok, 0);
    assert_int_equal(s.len, 6);
    assert_memory_equal(s.p, "pa\"ss\\", 6);
    assert_int_equal(s.p[6], '\0');

    /* the empty string */
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_QUOTED);
    assert_int_equal(tok.s.len, 0);
    assert_non_null(tok.s.p);
    s = imap_tok_string(&arena, &tok, 1);
    assert_non_null(s.p);
    assert_int_equal(s.len, 0);
    EOL(r);

    /* "Old\\" ends at the second quote */
    r = READER("RENAME \"Old\\\\\" \"New\"");
    ATOM(r, "RENAME");
    QUOTED(r, "Old\\\\");
    QUOTED(r, "New");
    EOL(r);

    /* 8-bit octets are kept as they are */
    r = READER("\"Caf\xe9\"");
    QUOTED(r, "Caf\xe9");
    EOL(r);
}

static void test_nil(void **state)
{
    struct imap_tok_reader *r;
    struct imap_tok tok;
    struct imap_str s;

    (void)state;
    r = READER("NIL nil \"NIL\" NILS");
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_ATOM);
    s = imap_tok_string(&arena, &tok, 1);
    assert_null(s.p);
    s = imap_tok_string(&arena, &tok, 0);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.p, "NIL", 3);
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_ATOM);
    assert_null(imap_tok_string(&arena, &tok, 1).p); /* any case */
    /* the quoted string NIL is a string */
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_QUOTED);
    s = imap_tok_string(&arena, &tok, 1);
    assert_non_null(s.p);
    assert_int_equal(s.len, 3);
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_ATOM);
    s = imap_tok_string(&arena, &tok, 1);
    assert_int_equal(s.len, 4);
    EOL(r);
    /* not a string */
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_EOL);
    assert_null(imap_tok_string(&arena, &tok, 1).p);
    r = READER("(");
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_LPAREN);
    assert_null(imap_tok_string(&arena, &tok, 0).p);
}

/* ------------------------------------------------------------ literals */

static void test_literals(void **state)
{
    static char wire[512];
    struct imap_tok_reader *r;
    struct imap_tok tok;
    size_t n;

    (void)state;
    r = READER("* 1 FETCH (BODY[] {5}\r\nh)e\"l BINARY[] ~{3}\r\n\0\r\n X {2+}\r\nab)");
    ATOM(r, "*");
    ATOM(r, "1");
    ATOM(r, "FETCH");
    LPAREN(r);
    ATOM(r, "BODY[]");
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_LITERAL);
    assert_int_equal(tok.lit_size, 5);
    assert_int_equal(tok.lit_flags, 0);
    assert_false(tok.lit_truncated);
    assert_int_equal(tok.s.len, 5);
    assert_memory_equal(tok.s.p, "h)e\"l", 5); /* opaque: no paren, no quote */
    assert_int_equal(tok.pos, 18);
    assert_ptr_equal(imap_tok_string(&arena, &tok, 1).p, tok.s.p);
    ATOM(r, "BINARY[]");
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_LITERAL);
    assert_int_equal(tok.lit_flags, IMAP_LIT_BINARY);
    assert_int_equal(tok.s.len, 3);
    assert_memory_equal(tok.s.p, "\0\r\n", 3);
    ATOM(r, "X");
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_LITERAL);
    assert_int_equal(tok.lit_flags, IMAP_LIT_NONSYNC);
    RPAREN(r);
    EOL(r);
    assert_null(rd.err);

    /* a literal longer than what was kept: truncated */
    n = (size_t)snprintf(wire, sizeof(wire), "* 2 FETCH (BODY[] {300}\r\n");
    memset(wire + n, 'q', 300);
    n += 300;
    memcpy(wire + n, " UID 9)", 7);
    n += 7;
    r = reader(wire, n);
    ATOM(r, "*");
    ATOM(r, "2");
    ATOM(r, "FETCH");
    LPAREN(r);
    ATOM(r, "BODY[]");
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_LITERAL);
    assert_int_equal(tok.lit_size, 300);
    assert_int_equal(tok.s.len, IMAP_LEX_KEEP_PER_LITERAL);
    assert_true(tok.lit_truncated);
    ATOM(r, "UID");
    ATOM(r, "9");
    RPAREN(r);
    EOL(r);

    /* literals in any string position, several in a row, and {0} */
    r = READER("a1 LOGIN {5}\r\nalice {0}\r\n");
    ATOM(r, "a1");
    ATOM(r, "LOGIN");
    expect_tok(r, IMAP_TOK_LITERAL, "alice", 5);
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_LITERAL);
    assert_int_equal(tok.lit_size, 0);
    assert_int_equal(tok.s.len, 0);
    assert_false(tok.lit_truncated);
    EOL(r);

    /* a literal whose octets look like a marker and a line */
    r = READER("* 3 FETCH (BODY[] {10}\r\n{2}\r\na1 OK)");
    ATOM(r, "*");
    ATOM(r, "3");
    ATOM(r, "FETCH");
    LPAREN(r);
    ATOM(r, "BODY[]");
    expect_tok(r, IMAP_TOK_LITERAL, "{2}\r\na1 OK", 10);
    RPAREN(r);
    EOL(r);
}

/* Literals the framer counted but did not describe (past literals_max, or
 * past the line limit): a LITERAL with no octets. */
static void test_undescribed_literal(void **state)
{
    static const char text[] = "* 1 FETCH (A {3}\r\nabc B {4}\r\n)";
    struct imap_literal lit = {3, 18, 3, 0};
    struct imap_unit u;
    struct imap_tok_reader r;
    struct imap_tok tok;

    (void)state;
    memset(&u, 0, sizeof(u));
    u.dir = IMAP_S2C;
    u.kind = IMAP_UNIT_DATA;
    u.text = text;
    u.text_len = sizeof(text) - 1;
    u.lits = &lit;
    u.nlits = 1;
    u.nlits_all = 2;
    u.flags = IMAP_UNIT_LITS_DROPPED;
    imap_tok_init(&r, &u, 0);
    ATOM(&r, "*");
    ATOM(&r, "1");
    ATOM(&r, "FETCH");
    LPAREN(&r);
    ATOM(&r, "A");
    expect_tok(&r, IMAP_TOK_LITERAL, "abc", 3);
    ATOM(&r, "B");
    assert_int_equal(imap_tok_next(&r, &tok), IMAP_TOK_LITERAL);
    assert_int_equal(tok.lit_size, 4);
    assert_int_equal(tok.s.len, 0);
    assert_true(tok.lit_truncated);
    RPAREN(&r);
    EOL(&r);

    /* a marker at the very end of a truncated text */
    {
        static const char t2[] = "a1 APPEND x {100}";
        memset(&u, 0, sizeof(u));
        u.kind = IMAP_UNIT_COMMAND;
        u.text = t2;
        u.text_len = sizeof(t2) - 1;
        u.nlits_all = 1;
        u.flags = IMAP_UNIT_TRUNCATED;
        imap_tok_init(&r, &u, 0);
        ATOM(&r, "a1");
        ATOM(&r, "APPEND");
        ATOM(&r, "x");
        assert_int_equal(imap_tok_next(&r, &tok), IMAP_TOK_LITERAL);
        assert_int_equal(tok.lit_size, 100);
        EOL(&r);
    }
}

/* ------------------------------------------------------------ lists */

static void test_nested_lists(void **state)
{
    struct imap_tok_reader *r;
    struct imap_tok tok;

    (void)state;
    r = READER("((a (b \"c)\" {1}\r\n))) d) e");
    LPAREN(r);
    assert_int_equal(rd.depth, 1);
    LPAREN(r);
    assert_int_equal(rd.depth, 2);
    ATOM(r, "a");
    assert_int_equal(imap_tok_skip_value(r), 0); /* (b "c)" {1}) */
    assert_int_equal(rd.depth, 2);
    RPAREN(r);
    ATOM(r, "d");
    RPAREN(r);
    assert_int_equal(rd.depth, 0);
    ATOM(r, "e");
    EOL(r);

    /* skip_list after the "(" */
    r = READER("(x (y (z)) \"q\") after");
    LPAREN(r);
    assert_int_equal(imap_tok_skip_list(r), 0);
    ATOM(r, "after");
    EOL(r);

    /* skip_value on each kind */
    r = READER("atom \"q\" {2}\r\nab (l (m))");
    assert_int_equal(imap_tok_skip_value(r), 0);
    assert_int_equal(imap_tok_skip_value(r), 0);
    assert_int_equal(imap_tok_skip_value(r), 0);
    assert_int_equal(imap_tok_skip_value(r), 0);
    EOL(r);
    assert_int_equal(imap_tok_skip_value(r), -1); /* EOL */

    /* skip_list on a list that never closes */
    r = READER("(a (b c");
    LPAREN(r);
    assert_int_equal(imap_tok_skip_list(r), -1);
    assert_string_equal(rd.err, IMAP_ERR_UNBALANCED_PAREN);

    /* skip_value on ")" */
    r = READER("(a) )");
    assert_int_equal(imap_tok_skip_value(r), 0);
    assert_int_equal(imap_tok_skip_value(r), -1);
    assert_string_equal(rd.err, IMAP_ERR_UNBALANCED_PAREN);

    /* NIL as a list value */
    r = READER("(NIL NIL)");
    LPAREN(r);
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_ATOM);
    assert_null(imap_tok_string(&arena, &tok, 1).p);
    assert_int_equal(imap_tok_skip_list(r), 0);
    EOL(r);
}

/* ------------------------------------------------------------ errors */

static void test_errors(void **state)
{
    struct imap_tok_reader *r;

    (void)state;
    r = READER("a) b");
    ATOM(r, "a");
    expect_error(r, IMAP_ERR_UNBALANCED_PAREN, 1);

    r = READER("(a (b) c");
    LPAREN(r);
    ATOM(r, "a");
    LPAREN(r);
    ATOM(r, "b");
    RPAREN(r);
    ATOM(r, "c");
    expect_error(r, IMAP_ERR_UNBALANCED_PAREN, 8);

    r = READER("x BODY[HEADER.FIELDS (From)");
    ATOM(r, "x");
    expect_error(r, IMAP_ERR_UNCLOSED_BRACKET, 6);

    /* a "]" inside quotes does not close */
    r = READER("BODY[\"a]\"");
    expect_error(r, IMAP_ERR_UNCLOSED_BRACKET, 4);

    r = READER("a \"abc");
    ATOM(r, "a");
    expect_error(r, IMAP_ERR_UNTERMINATED_QUOTE, 2);

    /* a backslash right before the end */
    r = READER("\"abc\\");
    expect_error(r, IMAP_ERR_UNTERMINATED_QUOTE, 0);

    r = READER("a \"a\\nb\" c");
    ATOM(r, "a");
    expect_error(r, IMAP_ERR_BAD_ESCAPE, 4);

    /* "{5} x": "{" is no ATOM-CHAR and this is no literal */
    r = READER("a1 X {5} x");
    ATOM(r, "a1");
    ATOM(r, "X");
    expect_error(r, IMAP_ERR_BAD_LITERAL, 5);
    r = READER("a1 X {}");
    ATOM(r, "a1");
    ATOM(r, "X");
    expect_error(r, IMAP_ERR_BAD_LITERAL, 5);

    /* a truncated unit: an open list at the end is no error */
    {
        struct imap_unit *u = test_unit(IMAP_S2C, IMAP_UNIT_DATA, "* 1 FETCH (FLAGS (\\Se", 21);
        u->flags |= IMAP_UNIT_TRUNCATED;
        imap_tok_init(&rd, u, 0);
        ATOM(&rd, "*");
        ATOM(&rd, "1");
        ATOM(&rd, "FETCH");
        LPAREN(&rd);
        ATOM(&rd, "FLAGS");
        LPAREN(&rd);
        ATOM(&rd, "\\Se");
        EOL(&rd);
        assert_null(rd.err);
    }

    /* imap_tok_fail: the first error wins */
    r = READER("a b");
    imap_tok_fail(r, IMAP_ERR_SYNTAX, 1);
    imap_tok_fail(r, IMAP_ERR_BAD_TAG, 2);
    assert_string_equal(rd.err, IMAP_ERR_SYNTAX);
    assert_int_equal(rd.err_pos, 1);
    expect_error(r, IMAP_ERR_SYNTAX, 1);
}

/* ------------------------------------------------------------ depth */

static void check_depth(size_t depth, int exceeded)
{
    char *w = malloc(2 * depth + 3);
    struct imap_tok_reader *r;
    struct imap_tok tok;
    size_t i, lp = 0, rp = 0;

    assert_non_null(w);
    for (i = 0; i < depth; i++)
        w[i] = '(';
    w[depth] = 'x';
    for (i = 0; i < depth; i++)
        w[depth + 1 + i] = ')';
    r = reader(w, 2 * depth + 1);
    for (;;) {
        enum imap_tok_type t = imap_tok_next(r, &tok);
        if (t == IMAP_TOK_EOL)
            break;
        assert_int_not_equal(t, IMAP_TOK_ERROR);
        lp += t == IMAP_TOK_LPAREN;
        rp += t == IMAP_TOK_RPAREN;
    }
    /* the limit is a flag: tokens keep coming */
    assert_int_equal(lp, depth);
    assert_int_equal(rp, depth);
    assert_int_equal(rd.depth_exceeded, exceeded);
    assert_null(rd.err);
    free(w);
}

static void test_depth(void **state)
{
    (void)state;
    assert_int_equal(IMAP_TOK_DEPTH_MAX, 64);
    check_depth(IMAP_TOK_DEPTH_MAX, 0);
    check_depth(IMAP_TOK_DEPTH_MAX + 1, 1);
    check_depth(1000, 1);
    /* skipping a deep list works past the limit */
    {
        char w[300];
        struct imap_tok_reader *r;
        memset(w, '(', 100);
        memset(w + 100, ')', 100);
        memcpy(w + 200, " z", 2);
        r = reader(w, 202);
        assert_int_equal(imap_tok_skip_value(r), 0);
        assert_true(rd.depth_exceeded);
        ATOM(r, "z");
        EOL(r);
    }
}

/* ------------------------------------------------------------ peek and rest */

static void test_peek_and_rest(void **state)
{
    struct imap_tok_reader *r;
    struct imap_tok tok, p1, p2;
    struct imap_str rest;

    (void)state;
    r = READER("a1 OK [ALERT] text with \"q\" {5}");
    assert_int_equal(imap_tok_peek(r, &p1), IMAP_TOK_ATOM);
    assert_int_equal(imap_tok_peek(r, &p2), IMAP_TOK_ATOM);
    assert_int_equal(p1.pos, p2.pos);
    assert_int_equal(imap_tok_next(r, &tok), IMAP_TOK_ATOM);
    assert_int_equal(tok.pos, 0);
    assert_int_equal(tok.s.len, 2);
    ATOM(r, "OK");
    rest = imap_tok_rest(r);
    assert_int_equal(rest.len, strlen(" [ALERT] text with \"q\" {5}"));
    /* a peeked token is still part of the rest */
    assert_int_equal(imap_tok_peek(r, &p1), IMAP_TOK_ATOM);
    rest = imap_tok_rest(r);
    assert_int_equal(rest.len, strlen("[ALERT] text with \"q\" {5}"));
    assert_memory_equal(rest.p, "[ALERT]", 7);
    ATOM(r, "[ALERT]");
    rest = imap_tok_rest(r);
    assert_memory_equal(rest.p, " text", 5);
    /* at the end */
    ATOM(r, "text");
    ATOM(r, "with");
    QUOTED(r, "q");
    rest = imap_tok_rest(r);
    assert_int_equal(rest.len, 4);

    /* peek does not consume a paren twice */
    r = READER("(a)");
    assert_int_equal(imap_tok_peek(r, &tok), IMAP_TOK_LPAREN);
    LPAREN(r);
    assert_int_equal(rd.depth, 1);
    ATOM(r, "a");
    RPAREN(r);
    assert_int_equal(rd.depth, 0);
    EOL(r);
    assert_null(rd.err);

    /* a reader started in the middle */
    {
        const struct imap_unit *u = test_unit(IMAP_S2C, IMAP_UNIT_TAGGED, "a1 OK done", 10);
        imap_tok_init(&rd, u, 3);
        ATOM(&rd, "OK");
        rest = imap_tok_rest(&rd);
        assert_int_equal(rest.len, 5);
    }
}

/* ------------------------------------------------------------ hostile input */

static void test_many_bare_crs(void **state)
{
    /* the framer keeps a bare CR inside a line (IMAP_UNIT_BARE_CR), so a unit
     * text can hold as many CRs as the line limit allows (1 MiB from a
     * server).  The tokenizer must get through them without trouble. */
    size_t n = 1024 * 1024 - 16, len;
    char *w = malloc(n + 16);
    struct imap_tok_reader *r;

    (void)state;
    assert_non_null(w);
    memcpy(w, "* OK ", 5);
    memset(w + 5, '\r', n);
    memcpy(w + 5 + n, " end", 4);
    len = 5 + n + 4;
    r = reader(w, len);
    ATOM(r, "*");
    ATOM(r, "OK");
    /* (an earlier tok_read() skipped each bare CR by calling itself: one
     * stack frame per CR) */
    ATOM(r, "end");
    EOL(r);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atoms),         cmocka_unit_test(test_flags),
        cmocka_unit_test(test_body_sections), cmocka_unit_test(test_bracketed_names),
        cmocka_unit_test(test_quoted),        cmocka_unit_test(test_nil),
        cmocka_unit_test(test_literals),      cmocka_unit_test(test_undescribed_literal),
        cmocka_unit_test(test_nested_lists),  cmocka_unit_test(test_errors),
        cmocka_unit_test(test_depth),         cmocka_unit_test(test_peek_and_rest),
        cmocka_unit_test(test_many_bare_crs),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
