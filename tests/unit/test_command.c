/* test_command.c - client commands: imap_command_parse() and friends (imap_msg.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "imap_msg.h"
#include "imap_token.h"
#include "unit_helper.h"

static struct imap_arena arena;
static struct imap_command cmd;

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

static int parse_unit(const struct imap_unit *u, int redact, int keep, int utf8)
{
    const struct imap_msg_opts opts = {.redact = redact, .utf8_names = utf8, .keep_literals = keep};

    imap_arena_reset(&arena);
    return imap_command_parse(u, &arena, &opts, &cmd);
}

static struct imap_unit *unit_of(const char *wire, size_t len)
{
    return test_unit(IMAP_C2S, IMAP_UNIT_COMMAND, wire, len);
}

static int parse_with(const char *wire, size_t len, int redact, int keep)
{
    return parse_unit(unit_of(wire, len), redact, keep, 0);
}

/* Wire text as a string literal (may hold NULs). */
#define PARSE(w)          parse_with(w, sizeof(w) - 1, 1, 0)
#define PARSE_KEEP(w)     parse_with(w, sizeof(w) - 1, 1, 1)
#define PARSE_NOREDACT(w) parse_with(w, sizeof(w) - 1, 0, 1)

/* A slice equals a C string (NULL: the slice is absent). */
static void check_str(struct imap_str s, const char *want, const char *what, int line)
{
    if (want == NULL) {
        if (s.p != NULL)
            fail_msg("at %d: %s: want absent, got \"%.*s\"", line, what, (int)s.len, s.p);
        return;
    }
    if (s.p == NULL)
        fail_msg("at %d: %s: want \"%s\", got absent", line, what, want);
    if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
        fail_msg("at %d: %s: want \"%s\", got \"%.*s\"", line, what, want, (int)s.len, s.p);
}

#define ASSERT_STR(s, want) check_str(s, want, #s, __LINE__)

/* Every field that reaches the log, and then some, is free of secret. */
static void check_no_secret(const char *secret, int line)
{
    const struct imap_str fields[] = {
        cmd.ev.tag,          cmd.ev.cmd,  cmd.ev.args, cmd.ev.mailbox,
        cmd.ev.mailbox_utf8, cmd.excerpt, cmd.user,    cmd.sasl_mech,
    };
    size_t n = strlen(secret);

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i].p != NULL && memmem(fields[i].p, fields[i].len, secret, n) != NULL)
            fail_msg("at %d: \"%s\" in field %zu: \"%.*s\"", line, secret, i, (int)fields[i].len,
                     fields[i].p);
    }
    for (size_t i = 0; i < cmd.ev.nliterals; i++) {
        struct imap_str h = cmd.ev.literals[i].head;
        if (h.p != NULL && memmem(h.p, h.len, secret, n) != NULL)
            fail_msg("at %d: \"%s\" in literal %zu", line, secret, i);
    }
    for (size_t i = 0; i < cmd.nenable; i++) {
        if (memmem(cmd.enable[i].p, cmd.enable[i].len, secret, n) != NULL)
            fail_msg("at %d: \"%s\" in enable %zu", line, secret, i);
    }
}

#define ASSERT_NO_SECRET(s) check_no_secret(s, __LINE__)

/* ---- the corpus (tests/data, protocol.md §9) ---- */

struct corpus_cmd {
    const char *wire;
    size_t len;
    const char *tag, *cmd, *args, *mailbox;
    size_t nlits;
    uint64_t lits[2];
};

#define W(s) s, sizeof(s) - 1

static const char append_326[] = "a3 APPEND Sent (\\Seen) {326}\r\n"
                                 "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
                                 "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
                                 "Subject: afternoon meeting\r\n"
                                 "To: mooch@owatagu.siam.edu.example\r\n"
                                 "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
                                 "MIME-Version: 1.0\r\n"
                                 "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
                                 "\r\n"
                                 "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
                                 "\r\n";

static const struct corpus_cmd corpus[] = {
    {W("a1 LOGIN alice s3cr3t\r\n"), "a1", "LOGIN", "alice ***", NULL, 0, {0}},
    {W("a2 SELECT INBOX\r\n"), "a2", "SELECT", "INBOX", "INBOX", 0, {0}},
    {W("a3 UID FETCH 4827 (UID RFC822.SIZE BODY.PEEK[])\r\n"),
     "a3",
     "UID FETCH",
     "4827 (UID RFC822.SIZE BODY.PEEK[])",
     NULL,
     0,
     {0}},
    {W("a3 FETCH 1 (UID BODY[])\r\n"), "a3", "FETCH", "1 (UID BODY[])", NULL, 0, {0}},
    {W("a0 LOGIN \"alice\" \"pa\\\"ss\\\\\"\r\n"), "a0", "LOGIN", "alice ***", NULL, 0, {0}},
    {W("a1 LOGIN {5}\r\nalice {12}\r\npa ss\"wo}rd{\r\n"),
     "a1",
     "LOGIN",
     "alice ***",
     NULL,
     2,
     {5, 12}},
    {W("a3 IDLE\r\n"), "a3", "IDLE", NULL, NULL, 0, {0}},
    {W("a4 NOOP\r\n"), "a4", "NOOP", NULL, NULL, 0, {0}},
    {W("a3 UID FETCH 1:* (FLAGS)\r\n"), "a3", "UID FETCH", "1:* (FLAGS)", NULL, 0, {0}},
    {W("a4 STATUS Archive (MESSAGES UIDNEXT)\r\n"),
     "a4",
     "STATUS",
     "Archive (MESSAGES UIDNEXT)",
     "Archive",
     0,
     {0}},
    {W("a3 UID SEARCH CHARSET UTF-8 SUBJECT {0}\r\n\r\n"),
     "a3",
     "UID SEARCH",
     "CHARSET UTF-8 SUBJECT \"\"",
     NULL,
     1,
     {0}},
    {W("a4 UID FETCH 4821 (BODY.PEEK[2])\r\n"),
     "a4",
     "UID FETCH",
     "4821 (BODY.PEEK[2])",
     NULL,
     0,
     {0}},
    {W("a3 EXAMINE Shared/Team\r\n"), "a3", "EXAMINE", "Shared/Team", "Shared/Team", 0, {0}},
    {W("a1 AUTHENTICATE PLAIN\r\n"), "a1", "AUTHENTICATE", "PLAIN", NULL, 0, {0}},
    {W("A001 AUTHENTICATE PLAIN AGFsaWNlAHMzY3IzdA==\r\n"),
     "A001",
     "AUTHENTICATE",
     "PLAIN ***",
     NULL,
     0,
     {0}},
    {W("a0 AUTHENTICATE LOGIN\r\n"), "a0", "AUTHENTICATE", "LOGIN", NULL, 0, {0}},
    {W("a1 CAPABILITY\r\n"), "a1", "CAPABILITY", NULL, NULL, 0, {0}},
    {W("a2 LOGIN alice s3cr3t\r\n"), "a2", "LOGIN", "alice ***", NULL, 0, {0}},
    {W("a3 UID FETCH 4831 (BINARY.PEEK[2] BINARY.SIZE[2])\r\n"),
     "a3",
     "UID FETCH",
     "4831 (BINARY.PEEK[2] BINARY.SIZE[2])",
     NULL,
     0,
     {0}},
    {W("a4 APPEND INBOX ~{14+}\r\nMIME-Version\0\0\r\n"),
     "a4",
     "APPEND",
     "INBOX ~{14+}",
     "INBOX",
     1,
     {14}},
    {W("a2 ENABLE QRESYNC\r\n"), "a2", "ENABLE", "QRESYNC", NULL, 0, {0}},
    {W("a3 SELECT INBOX (QRESYNC (67890007 20050715194045000 41:211,214:541))\r\n"),
     "a3",
     "SELECT",
     "INBOX (QRESYNC (67890007 20050715194045000 41:211,214:541))",
     "INBOX",
     0,
     {0}},
    {W("a4 UID MOVE 117,119 Archive\r\n"), "a4", "UID MOVE", "117,119 Archive", "Archive", 0, {0}},
};

static void test_corpus_commands(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        const struct corpus_cmd *c = &corpus[i];
        int line = (int)i; /* the table row, in messages */

        if (parse_with(c->wire, c->len, 1, 0) != 0)
            fail_msg("row %d: parse failed: %s", line, cmd.err);
        check_str(cmd.ev.tag, c->tag, "tag", line);
        check_str(cmd.ev.cmd, c->cmd, "cmd", line);
        check_str(cmd.ev.args, c->args, "args", line);
        check_str(cmd.ev.mailbox, c->mailbox, "mailbox", line);
        assert_int_equal(cmd.ev.nliterals, c->nlits);
        for (size_t k = 0; k < c->nlits; k++) {
            assert_int_equal(cmd.ev.literals[k].size, c->lits[k]);
            assert_null(cmd.ev.literals[k].head.p); /* keep_literals is off */
        }
        assert_null(cmd.err);
        /* the redacted excerpt is always there, for the session's own checks */
        assert_non_null(cmd.excerpt.p);
    }
}

static void test_corpus_append_326(void **state)
{
    (void)state;
    assert_int_equal(parse_with(append_326, sizeof(append_326) - 1, 1, 1), 0);
    ASSERT_STR(cmd.ev.tag, "a3");
    ASSERT_STR(cmd.ev.cmd, "APPEND");
    ASSERT_STR(cmd.ev.args, "Sent (\\Seen) {326}");
    ASSERT_STR(cmd.ev.mailbox, "Sent");
    assert_int_equal(cmd.ev.nliterals, 1);
    assert_int_equal(cmd.ev.literals[0].size, 326);
    /* head:N keeps what the framer kept */
    assert_int_equal(cmd.ev.literals[0].head.len, 256);
    assert_memory_equal(cmd.ev.literals[0].head.p, "Date: Mon", 9);
}

/* protocol.md §7.3: the APPEND of a 2048-byte message */
static void test_corpus_append_2048(void **state)
{
    static char wire[2200];
    int n = snprintf(wire, sizeof(wire), "a4 APPEND Sent (\\Seen) {2048}\r\n");

    (void)state;
    memset(wire + n, 'm', 2048);
    memcpy(wire + n + 2048, "\r\n", 2);
    assert_int_equal(parse_with(wire, (size_t)n + 2050, 1, 0), 0);
    ASSERT_STR(cmd.ev.args, "Sent (\\Seen) {2048}");
    ASSERT_STR(cmd.ev.mailbox, "Sent");
    assert_int_equal(cmd.ev.nliterals, 1);
    assert_int_equal(cmd.ev.literals[0].size, 2048);
}

static void test_corpus_malformed(void **state)
{
    (void)state;
    assert_int_equal(PARSE("a3 FETCH 1 (BODY[\r\n"), -1);
    assert_string_equal(cmd.err, IMAP_ERR_UNCLOSED_BRACKET);
    ASSERT_STR(cmd.ev.tag, "a3");
    ASSERT_STR(cmd.ev.cmd, "FETCH");
    ASSERT_STR(cmd.excerpt, "a3 FETCH 1 (BODY[");
}

/* The framer ends a unit whose synchronizing literal was refused without
 * its octets (corpus: sync_literal_rejected_by_tagged_no). */
static void test_corpus_aborted_literal(void **state)
{
    static const char with_crlf[] = "a3 APPEND INBOX {104857600}\r\n";
    struct imap_literal lit = {104857600, sizeof(with_crlf) - 1, 0, IMAP_LIT_ABORTED};
    struct imap_unit u = {
        .dir = IMAP_C2S,
        .kind = IMAP_UNIT_COMMAND,
        .len = sizeof(with_crlf) - 1,
        .text = with_crlf,
        .text_len = sizeof(with_crlf) - 1,
        .lits = &lit,
        .nlits = 1,
        .nlits_all = 1,
        .flags = IMAP_UNIT_ABORTED,
    };

    (void)state;
    assert_int_equal(parse_unit(&u, 1, 1, 0), 0);
    ASSERT_STR(cmd.ev.cmd, "APPEND");
    ASSERT_STR(cmd.ev.args, "INBOX {104857600}");
    ASSERT_STR(cmd.ev.mailbox, "INBOX");
    assert_int_equal(cmd.ev.nliterals, 1);
    assert_int_equal(cmd.ev.literals[0].size, 104857600);
    assert_null(cmd.ev.literals[0].head.p);
}

/* ---- LOGIN ---- */

static void test_login_atoms(void **state)
{
    (void)state;
    assert_int_equal(PARSE_KEEP("a1 LOGIN alice s3cr3t\r\n"), 0);
    assert_int_equal(cmd.id, IMAP_CMD_LOGIN);
    ASSERT_STR(cmd.ev.args, "alice ***");
    ASSERT_STR(cmd.user, "alice");
    ASSERT_NO_SECRET("s3cr3t");
    ASSERT_NO_SECRET("s3c");

    assert_int_equal(PARSE_NOREDACT("a1 LOGIN alice s3cr3t\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "alice s3cr3t");
    ASSERT_STR(cmd.user, "alice");
}

static void test_login_quoted(void **state)
{
    (void)state;
    assert_int_equal(PARSE_KEEP("a0 LOGIN \"alice\" \"pa\\\"ss\\\\\"\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "alice ***");
    ASSERT_STR(cmd.user, "alice");
    ASSERT_NO_SECRET("pa\"ss");
    ASSERT_NO_SECRET("pa\\\"ss");
    ASSERT_NO_SECRET("ss\\");

    assert_int_equal(PARSE_NOREDACT("a0 LOGIN \"alice\" \"pa\\\"ss\\\\\"\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "alice \"pa\\\"ss\\\\\"");

    /* a user that needs quoting, unescaped in user */
    assert_int_equal(PARSE("a0 LOGIN \"al ice\\\\\" pw\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "\"al ice\\\\\" ***");
    ASSERT_STR(cmd.user, "al ice\\");
}

static void test_login_sync_literals(void **state)
{
    static const char wire[] = "a1 LOGIN {5}\r\nalice {12}\r\npa ss\"wo}rd{\r\n";
    static const char *const secrets[] = {"pa\"ss", "pa\\\"ss", "ss\"wo", "wo}rd{", "pa ss"};

    (void)state;
    assert_int_equal(PARSE_KEEP(wire), 0);
    ASSERT_STR(cmd.ev.args, "alice ***");
    ASSERT_STR(cmd.user, "alice");
    assert_int_equal(cmd.ev.nliterals, 2);
    assert_int_equal(cmd.ev.literals[0].size, 5);
    ASSERT_STR(cmd.ev.literals[0].head, "alice");
    assert_int_equal(cmd.ev.literals[1].size, 12);
    assert_null(cmd.ev.literals[1].head.p);
    assert_int_equal(cmd.ev.literals[1].head.len, 0);
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        ASSERT_NO_SECRET(secrets[i]);

    assert_int_equal(PARSE_NOREDACT(wire), 0);
    ASSERT_STR(cmd.ev.args, "alice \"pa ss\\\"wo}rd{\"");
    ASSERT_STR(cmd.ev.literals[1].head, "pa ss\"wo}rd{");
}

static void test_login_nonsync_literal(void **state)
{
    (void)state;
    assert_int_equal(PARSE_KEEP("a1 LOGIN alice {6+}\r\ns3cr3t\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "alice ***");
    assert_int_equal(cmd.ev.nliterals, 1);
    assert_int_equal(cmd.ev.literals[0].size, 6);
    assert_null(cmd.ev.literals[0].head.p);
    ASSERT_NO_SECRET("s3cr3t");

    assert_int_equal(PARSE_NOREDACT("a1 LOGIN alice {6+}\r\ns3cr3t\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "alice s3cr3t");
    ASSERT_STR(cmd.ev.literals[0].head, "s3cr3t");

    /* a literal user is handed out; a long literal password is not */
    char wire[512];
    int n = snprintf(wire, sizeof(wire), "a1 LOGIN {5+}\r\nalice {300+}\r\n");
    memset(wire + n, 'S', 300);
    assert_int_equal(parse_with(wire, (size_t)n + 300, 1, 1), 0);
    ASSERT_STR(cmd.ev.args, "alice ***");
    ASSERT_STR(cmd.ev.literals[0].head, "alice");
    assert_null(cmd.ev.literals[1].head.p);
    ASSERT_NO_SECRET("SSS");
}

static void test_login_extra_words(void **state)
{
    (void)state;
    /* a password sent as two atoms: neither half is shown */
    assert_int_equal(PARSE("a1 LOGIN alice my secret\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "alice ***");
    ASSERT_NO_SECRET("my");
    ASSERT_NO_SECRET("secret");
    assert_int_equal(PARSE("a1 LOGIN alice (my secret)\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "alice ***");
    ASSERT_NO_SECRET("secret");
    /* "[" is an ATOM-CHAR */
    assert_int_equal(PARSE("a1 LOGIN alice pa[ss\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "alice ***");
    ASSERT_NO_SECRET("ss");
    /* no password at all */
    assert_int_equal(PARSE("a1 LOGIN alice\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "alice");
    assert_int_equal(PARSE("a1 LOGIN\r\n"), 0);
    ASSERT_STR(cmd.ev.args, NULL);
    /* a user that is not a string: everything is secret */
    assert_int_equal(PARSE("a1 LOGIN (alice) secret\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "***");
    assert_null(cmd.user.p);
    ASSERT_NO_SECRET("secret");
    /* no tag: the server refuses it, the log must not show the password */
    assert_int_equal(PARSE_KEEP("LOGIN alice s3cr3t\r\n"), 0);
    ASSERT_STR(cmd.ev.tag, "LOGIN");
    ASSERT_STR(cmd.ev.args, "***");
    ASSERT_NO_SECRET("s3cr3t");
    assert_int_equal(PARSE_KEEP("login alice {6}\r\ns3cr3t\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "***");
    ASSERT_NO_SECRET("s3cr3t");
    assert_int_equal(PARSE_KEEP("Authenticate PLAIN AGFsaWNl\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "***");
    ASSERT_NO_SECRET("AGFsaWNl");
    assert_int_equal(PARSE_NOREDACT("LOGIN alice s3cr3t\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "s3cr3t");
    /* lower case */
    assert_int_equal(PARSE("a1 login alice s3cr3t\r\n"), 0);
    ASSERT_STR(cmd.ev.cmd, "LOGIN");
    ASSERT_STR(cmd.ev.args, "alice ***");
}

static void test_login_malformed_excerpts(void **state)
{
    static const struct {
        const char *wire;
        const char *err;
        const char *excerpt;
    } cases[] = {
        {"a1 LOGIN alice pa\"ss\r\n", IMAP_ERR_UNTERMINATED_QUOTE, "a1 LOGIN alice ***"},
        {"a1 LOGIN alice \"pa\\ss\"\r\n", IMAP_ERR_BAD_ESCAPE, "a1 LOGIN alice ***"},
        {"a1 LOGIN \"al\\ice\" pass\r\n", IMAP_ERR_BAD_ESCAPE, "a1 LOGIN ***"},
        {"a1 LOGIN \"alice pass\r\n", IMAP_ERR_UNTERMINATED_QUOTE, "a1 LOGIN ***"},
        {"a1 LOGIN alice (pass\r\n", IMAP_ERR_UNBALANCED_PAREN, "a1 LOGIN alice ***"},
        {"a1 LOGIN alice pass)\r\n", IMAP_ERR_UNBALANCED_PAREN, "a1 LOGIN alice ***"},
        {"a1 LOGIN alice BODY[ss\r\n", IMAP_ERR_UNCLOSED_BRACKET, "a1 LOGIN alice ***"},
        {"a1 LOGIN (alice pass\r\n", IMAP_ERR_UNBALANCED_PAREN, "a1 LOGIN ***"},
        {"a1 LOGIN  alice   pa\"ss\r\n", IMAP_ERR_UNTERMINATED_QUOTE, "a1 LOGIN  alice   ***"},
        {"a1 LOGIN {5}\r\nalice pa\"ss\r\n", IMAP_ERR_UNTERMINATED_QUOTE, "a1 LOGIN {5}"},
        /* a bad tag, a quoted command word, no tag at all */
        {"a+1 LOGIN alice pass\r\n", IMAP_ERR_BAD_TAG, "a+1 LOGIN ***"},
        {"\"a1\" LOGIN alice pass\r\n", IMAP_ERR_BAD_TAG, "\"a1\" LOGIN ***"},
        {"a1 \"LOGIN\" alice pass\r\n", IMAP_ERR_SYNTAX, "a1 \"LOGIN\" ***"},
        {"LOGIN alice pa\"ss\r\n", IMAP_ERR_UNTERMINATED_QUOTE, "LOGIN alice ***"},
        {"LOGIN \"alice pa\"ss\r\n", IMAP_ERR_SYNTAX, "LOGIN ***"},
        {"a\"1 x\" login alice pass\r\n", IMAP_ERR_BAD_TAG, "a\"1 x\" login ***"},
        {"a1 XLOGIN LOGIN alice pa\"ss\r\n", IMAP_ERR_UNTERMINATED_QUOTE, "a1 XLOGIN LOGIN ***"},
        {"a1 AUTHENTICATE PLAIN \"pass\r\n", IMAP_ERR_UNTERMINATED_QUOTE,
         "a1 AUTHENTICATE PLAIN ***"},
        {"a1 AUTHENTICATE PLAIN pass )\r\n", IMAP_ERR_UNBALANCED_PAREN,
         "a1 AUTHENTICATE PLAIN ***"},
        {"a1 AUTHENTICATE (PLAIN pass\r\n", IMAP_ERR_UNBALANCED_PAREN, "a1 AUTHENTICATE ***"},
        {"a1 AUTHENTICATE \"PL pass\r\n", IMAP_ERR_UNTERMINATED_QUOTE, "a1 AUTHENTICATE ***"},
        {"a*1 AUTHENTICATE PLAIN pass\r\n", IMAP_ERR_BAD_TAG, "a*1 AUTHENTICATE ***"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *w = cases[i].wire;
        if (parse_with(w, strlen(w), 1, 1) != -1)
            fail_msg("case %zu: parsed", i);
        if (strcmp(cmd.err, cases[i].err) != 0)
            fail_msg("case %zu: err %s", i, cmd.err);
        check_str(cmd.excerpt, cases[i].excerpt, "excerpt", (int)i);
        check_no_secret("pa", (int)i);
        check_no_secret("ss", (int)i);
    }

    /* with redaction off the excerpt is the raw text */
    assert_int_equal(PARSE_NOREDACT("a1 LOGIN alice pa\"ss\r\n"), -1);
    ASSERT_STR(cmd.excerpt, "a1 LOGIN alice pa\"ss");
}

static void test_login_excerpt_limits(void **state)
{
    char wire[256];
    int n;

    (void)state;
    /* the password starts past the excerpt: 64 bytes of text, nothing else */
    n = snprintf(wire, sizeof(wire), "a1 LOGIN %s pa\"ss\r\n",
                 "alice.with.a.very.long.name@example.com.example.org.example");
    assert_int_equal(parse_with(wire, (size_t)n, 1, 0), -1);
    assert_int_equal(cmd.excerpt.len, IMAP_EXCERPT_MAX);
    assert_memory_equal(cmd.excerpt.p, wire, IMAP_EXCERPT_MAX);
    ASSERT_NO_SECRET("pa");

    /* the password starts just inside it: "***" still fits in 64 bytes */
    n = snprintf(wire, sizeof(wire), "a1 LOGIN %s pa\"ss\r\n",
                 "alice.with.a.long.name@example.com.example.org.ex");
    assert_int_equal(parse_with(wire, (size_t)n, 1, 0), -1);
    assert_true(cmd.excerpt.len <= IMAP_EXCERPT_MAX);
    assert_memory_equal(cmd.excerpt.p + cmd.excerpt.len - 3, "***", 3);
    ASSERT_NO_SECRET("pa");
}

/* ---- AUTHENTICATE ---- */

static void test_authenticate(void **state)
{
    (void)state;
    assert_int_equal(PARSE("a1 AUTHENTICATE PLAIN\r\n"), 0);
    assert_int_equal(cmd.id, IMAP_CMD_AUTHENTICATE);
    ASSERT_STR(cmd.ev.args, "PLAIN");
    ASSERT_STR(cmd.sasl_mech, "PLAIN");
    assert_int_equal(cmd.has_sasl_ir, 0);

    assert_int_equal(PARSE_KEEP("A001 AUTHENTICATE PLAIN AGFsaWNlAHMzY3IzdA==\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "PLAIN ***");
    assert_int_equal(cmd.has_sasl_ir, 1);
    ASSERT_STR(cmd.sasl_ir, "AGFsaWNlAHMzY3IzdA==");
    ASSERT_NO_SECRET("AGFsaWNlAHMzY3IzdA==");
    ASSERT_NO_SECRET("AGF");

    assert_int_equal(PARSE_NOREDACT("A001 AUTHENTICATE PLAIN AGFsaWNlAHMzY3IzdA==\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "PLAIN AGFsaWNlAHMzY3IzdA==");
    ASSERT_STR(cmd.sasl_ir, "AGFsaWNlAHMzY3IzdA==");

    /* "=" is an empty initial response: not a secret */
    assert_int_equal(PARSE("a1 AUTHENTICATE PLAIN =\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "PLAIN =");
    assert_int_equal(cmd.has_sasl_ir, 1);
    ASSERT_STR(cmd.sasl_ir, "=");
    assert_int_equal(PARSE("a1 AUTHENTICATE PLAIN = =\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "PLAIN ***");
    assert_int_equal(PARSE("a1 AUTHENTICATE PLAIN ==\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "PLAIN ***");

    /* case, other mechanisms, odd forms */
    assert_int_equal(PARSE("a1 authenticate xoauth2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRo\r\n"),
                     0);
    ASSERT_STR(cmd.ev.cmd, "AUTHENTICATE");
    ASSERT_STR(cmd.sasl_mech, "XOAUTH2");
    ASSERT_STR(cmd.ev.args, "xoauth2 ***");
    ASSERT_NO_SECRET("dXNl");
    assert_int_equal(PARSE("a1 AUTHENTICATE PLAIN \"c2VjcmV0\" more (x)\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "PLAIN ***");
    ASSERT_NO_SECRET("c2VjcmV0");
    ASSERT_NO_SECRET("more");
    assert_int_equal(PARSE_KEEP("a1 AUTHENTICATE PLAIN {8}\r\nc2VjcmV0\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "PLAIN ***");
    assert_null(cmd.ev.literals[0].head.p);
    ASSERT_STR(cmd.sasl_ir, "c2VjcmV0");
    ASSERT_NO_SECRET("c2VjcmV0");
    assert_int_equal(PARSE("a1 AUTHENTICATE (PLAIN) c2VjcmV0\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "***");
    ASSERT_NO_SECRET("c2VjcmV0");
}

/* ---- tags and command names ---- */

static void test_tags(void **state)
{
    static const char *const good[] = {"a.1-b", "A001", "]",    "a]1",    "x[1]",
                                       "a[",    "1",    "~tag", "t!#$&'", "a,b;c"};
    static const char *const bad[] = {"a+1", "+",    "*",    "a(1",    "a)1",      "a{1",   "a%1",
                                      "a*1", "a\"1", "a\\1", "a\0011", "\303\251", "a\1771"};
    char wire[64];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int n = snprintf(wire, sizeof(wire), "%s NOOP\r\n", good[i]);
        if (parse_with(wire, (size_t)n, 1, 0) != 0)
            fail_msg("tag \"%s\": %s", good[i], cmd.err);
        check_str(cmd.ev.tag, good[i], "tag", (int)i);
        check_str(cmd.ev.cmd, "NOOP", "cmd", (int)i);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int n = snprintf(wire, sizeof(wire), "%s NOOP\r\n", bad[i]);
        if (parse_with(wire, (size_t)n, 1, 0) != -1)
            fail_msg("tag \"%s\" accepted", bad[i]);
        assert_string_equal(cmd.err, IMAP_ERR_BAD_TAG);
        assert_null(cmd.ev.tag.p);
        assert_non_null(cmd.excerpt.p);
    }
    /* empty tag, empty line, tag alone */
    assert_int_equal(PARSE(" NOOP\r\n"), -1);
    assert_string_equal(cmd.err, IMAP_ERR_BAD_TAG);
    assert_int_equal(PARSE("\r\n"), -1);
    assert_string_equal(cmd.err, IMAP_ERR_BAD_TAG);
    assert_int_equal(PARSE("a1\r\n"), -1);
    assert_string_equal(cmd.err, IMAP_ERR_SYNTAX);
    ASSERT_STR(cmd.ev.tag, "a1");
    ASSERT_STR(cmd.excerpt, "a1");
    assert_int_equal(PARSE("a1 \r\n"), -1);
    assert_string_equal(cmd.err, IMAP_ERR_SYNTAX);
    assert_int_equal(PARSE("a1 (NOOP)\r\n"), -1);
    assert_string_equal(cmd.err, IMAP_ERR_SYNTAX);
    ASSERT_STR(cmd.ev.tag, "a1");
    assert_null(cmd.ev.cmd.p);
    /* a bad tag still names its command, for the session */
    assert_int_equal(PARSE("a+1 SELECT INBOX\r\n"), -1);
    ASSERT_STR(cmd.ev.cmd, "SELECT");
    ASSERT_STR(cmd.excerpt, "a+1 SELECT INBOX");
}

static void test_uid_forms(void **state)
{
    (void)state;
    assert_int_equal(PARSE("a1 Uid Fetch 1:* (FLAGS)\r\n"), 0);
    ASSERT_STR(cmd.ev.cmd, "UID FETCH");
    assert_int_equal(cmd.uid, 1);
    assert_int_equal(cmd.id, IMAP_CMD_FETCH);
    ASSERT_STR(cmd.ev.args, "1:* (FLAGS)");
    assert_int_equal(PARSE("a1 uid  fetch 1 flags\r\n"), 0);
    ASSERT_STR(cmd.ev.cmd, "UID FETCH");
    ASSERT_STR(cmd.ev.args, "1 flags");
    assert_int_equal(PARSE("a1 UID EXPUNGE 1:5\r\n"), 0);
    ASSERT_STR(cmd.ev.cmd, "UID EXPUNGE");
    assert_int_equal(cmd.id, IMAP_CMD_EXPUNGE);
    assert_int_equal(PARSE("a1 UID XFOO 1\r\n"), 0);
    ASSERT_STR(cmd.ev.cmd, "UID XFOO");
    assert_int_equal(cmd.id, IMAP_CMD_OTHER);
    /* UID alone, or followed by something that is not a word */
    assert_int_equal(PARSE("a1 UID\r\n"), 0);
    ASSERT_STR(cmd.ev.cmd, "UID");
    assert_int_equal(cmd.uid, 1);
    assert_int_equal(cmd.id, IMAP_CMD_OTHER);
    assert_int_equal(PARSE("a1 UID (1)\r\n"), 0);
    ASSERT_STR(cmd.ev.cmd, "UID");
    ASSERT_STR(cmd.ev.args, "(1)");
    /* unknown commands are upper-cased too */
    assert_int_equal(PARSE("a1 xAppleFoo bar\r\n"), 0);
    ASSERT_STR(cmd.ev.cmd, "XAPPLEFOO");
    assert_int_equal(cmd.id, IMAP_CMD_OTHER);
}

static void test_cmd_lookup(void **state)
{
    static const struct {
        const char *name;
        enum imap_cmd_id id;
    } names[] = {
        {"CAPABILITY", IMAP_CMD_CAPABILITY},
        {"NOOP", IMAP_CMD_NOOP},
        {"LOGOUT", IMAP_CMD_LOGOUT},
        {"STARTTLS", IMAP_CMD_STARTTLS},
        {"AUTHENTICATE", IMAP_CMD_AUTHENTICATE},
        {"LOGIN", IMAP_CMD_LOGIN},
        {"SELECT", IMAP_CMD_SELECT},
        {"EXAMINE", IMAP_CMD_EXAMINE},
        {"CREATE", IMAP_CMD_CREATE},
        {"DELETE", IMAP_CMD_DELETE},
        {"RENAME", IMAP_CMD_RENAME},
        {"SUBSCRIBE", IMAP_CMD_SUBSCRIBE},
        {"UNSUBSCRIBE", IMAP_CMD_UNSUBSCRIBE},
        {"LIST", IMAP_CMD_LIST},
        {"LSUB", IMAP_CMD_LSUB},
        {"STATUS", IMAP_CMD_STATUS},
        {"APPEND", IMAP_CMD_APPEND},
        {"CHECK", IMAP_CMD_CHECK},
        {"CLOSE", IMAP_CMD_CLOSE},
        {"UNSELECT", IMAP_CMD_UNSELECT},
        {"EXPUNGE", IMAP_CMD_EXPUNGE},
        {"SEARCH", IMAP_CMD_SEARCH},
        {"FETCH", IMAP_CMD_FETCH},
        {"STORE", IMAP_CMD_STORE},
        {"COPY", IMAP_CMD_COPY},
        {"MOVE", IMAP_CMD_MOVE},
        {"SORT", IMAP_CMD_SORT},
        {"THREAD", IMAP_CMD_THREAD},
        {"IDLE", IMAP_CMD_IDLE},
        {"ENABLE", IMAP_CMD_ENABLE},
        {"ID", IMAP_CMD_ID},
        {"NAMESPACE", IMAP_CMD_NAMESPACE},
        {"COMPRESS", IMAP_CMD_COMPRESS},
        {"GETQUOTA", IMAP_CMD_GETQUOTA},
        {"GETQUOTAROOT", IMAP_CMD_GETQUOTAROOT},
        {"SETQUOTA", IMAP_CMD_SETQUOTA},
        {"GETACL", IMAP_CMD_GETACL},
        {"SETACL", IMAP_CMD_SETACL},
        {"MYRIGHTS", IMAP_CMD_MYRIGHTS},
        {"GETMETADATA", IMAP_CMD_GETMETADATA},
        {"SETMETADATA", IMAP_CMD_SETMETADATA},
        {"NOTIFY", IMAP_CMD_NOTIFY},
        {"UNAUTHENTICATE", IMAP_CMD_UNAUTHENTICATE},
    };
    char lower[32];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i].name);
        assert_int_equal(imap_cmd_lookup((struct imap_str){names[i].name, n}), names[i].id);
        for (size_t k = 0; k < n; k++)
            lower[k] = (char)(names[i].name[k] | (k % 2 ? 0x20 : 0));
        assert_int_equal(imap_cmd_lookup((struct imap_str){lower, n}), names[i].id);
        /* no command is another one less its last letter */
        assert_int_equal(imap_cmd_lookup((struct imap_str){names[i].name, n - 1}), IMAP_CMD_OTHER);
    }
    assert_int_equal(imap_cmd_lookup(IMAP_STR_LIT("UID FETCH")), IMAP_CMD_OTHER);
    assert_int_equal(imap_cmd_lookup(IMAP_STR_LIT("FETCHX")), IMAP_CMD_OTHER);
    assert_int_equal(imap_cmd_lookup(IMAP_STR_LIT("F\xc5TCH")), IMAP_CMD_OTHER);
    assert_int_equal(imap_cmd_lookup(IMAP_STR_LIT("")), IMAP_CMD_OTHER);
    assert_int_equal(imap_cmd_lookup(IMAP_STR_NULL), IMAP_CMD_OTHER);
    assert_int_equal(imap_cmd_lookup(IMAP_STR_LIT("AUTHENTICATEX_LONGER_THAN_ANY")),
                     IMAP_CMD_OTHER);
}

/* ---- mailboxes ---- */

static void test_mailbox_commands(void **state)
{
    static const char *const first[] = {
        "SELECT", "EXAMINE", "CREATE",       "DELETE", "RENAME",   "SUBSCRIBE", "UNSUBSCRIBE",
        "STATUS", "APPEND",  "GETQUOTAROOT", "GETACL", "MYRIGHTS", "SETACL"};
    static const char *const none[] = {"LIST", "LSUB", "FETCH", "SEARCH", "GETQUOTA", "NOOP"};
    char wire[128];

    (void)state;
    for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
        int n = snprintf(wire, sizeof(wire), "a1 %s \"Box \\\"1\\\"\" Other x\r\n", first[i]);
        assert_int_equal(parse_with(wire, (size_t)n, 1, 0), 0);
        check_str(cmd.ev.mailbox, "Box \"1\"", first[i], (int)i);
    }
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        int n = snprintf(wire, sizeof(wire), "a1 %s Box Other\r\n", none[i]);
        assert_int_equal(parse_with(wire, (size_t)n, 1, 0), 0);
        check_str(cmd.ev.mailbox, NULL, none[i], (int)i);
    }
    /* the first argument must be a string */
    assert_int_equal(PARSE("a1 STATUS (MESSAGES) Box\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, NULL);
    /* a literal name, whole */
    assert_int_equal(PARSE("a1 SELECT {10}\r\nWith\r\nCRLF\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "With\r\nCRLF");
    ASSERT_STR(cmd.ev.args, "{10}");
}

static void test_mailbox_inbox(void **state)
{
    (void)state;
    assert_int_equal(PARSE("a1 SELECT iNbOx\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "INBOX");
    ASSERT_STR(cmd.ev.args, "iNbOx");
    ASSERT_STR(cmd.ev.mailbox_utf8, NULL);
    assert_int_equal(PARSE("a1 SELECT \"inbox\"\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "INBOX");
    assert_int_equal(PARSE("a1 SELECT {5}\r\nInBoX\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "INBOX");
    assert_int_equal(PARSE("a1 SELECT inbox.Sent\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "inbox.Sent");
    assert_int_equal(PARSE("a1 UID COPY 1 inbox\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "INBOX");
}

static void test_mailbox_mutf7(void **state)
{
    static const char wire[] = "a1 SELECT \"&U,BTFw-/&ZeVnLIqe-\"\r\n";

    (void)state;
    assert_int_equal(PARSE(wire), 0);
    ASSERT_STR(cmd.ev.mailbox, "&U,BTFw-/&ZeVnLIqe-");
    ASSERT_STR(cmd.ev.mailbox_utf8, "台北/日本語");
    ASSERT_STR(cmd.ev.args, "&U,BTFw-/&ZeVnLIqe-");
    /* after ENABLE UTF8=ACCEPT names are UTF-8: no decoding */
    assert_int_equal(parse_unit(unit_of(wire, sizeof(wire) - 1), 1, 0, 1), 0);
    ASSERT_STR(cmd.ev.mailbox, "&U,BTFw-/&ZeVnLIqe-");
    ASSERT_STR(cmd.ev.mailbox_utf8, NULL);
    assert_int_equal(PARSE("a1 CREATE \"Tom &- Jerry\"\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox_utf8, "Tom & Jerry");
    /* invalid mUTF-7: the raw name only */
    assert_int_equal(PARSE("a1 CREATE &AGE-\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "&AGE-");
    ASSERT_STR(cmd.ev.mailbox_utf8, NULL);
    assert_int_equal(PARSE("a1 UID MOVE 1:3 Entw&APw-rfe\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox_utf8, "Entwürfe");
    /* UTF-8 names (RFC 6855) */
    assert_int_equal(PARSE("a1 SELECT \"Entwürfe\"\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "Entwürfe");
    ASSERT_STR(cmd.ev.args, "\"Entwürfe\"");
    assert_int_equal(cmd.lossy, 0);
}

static void test_copy_move_destination(void **state)
{
    (void)state;
    assert_int_equal(PARSE("a1 COPY 1:3 Archive\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "Archive");
    assert_int_equal(PARSE("a1 UID COPY 4827,4829 \"Old \\\\ Mail\"\r\n"), 0);
    ASSERT_STR(cmd.ev.cmd, "UID COPY");
    ASSERT_STR(cmd.ev.mailbox, "Old \\ Mail");
    ASSERT_STR(cmd.ev.args, "4827,4829 \"Old \\\\ Mail\"");
    assert_int_equal(PARSE("a1 MOVE 2 {7}\r\nTrash 1\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "Trash 1");
    assert_int_equal(PARSE("a1 UID MOVE 117,119 Archive\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "Archive");
    /* no destination, or not a string */
    assert_int_equal(PARSE("a1 COPY 1:3\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, NULL);
    assert_int_equal(PARSE("a1 COPY 1:3 (Archive)\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, NULL);
    /* RENAME names its source */
    assert_int_equal(PARSE("a1 RENAME \"Old\" New\r\n"), 0);
    ASSERT_STR(cmd.ev.mailbox, "Old");
}

/* ---- message sequence numbers (protocol.md §4.5 rule 4) ---- */

static void test_msn(void **state)
{
    static const struct {
        const char *wire;
        int msn;
    } cases[] = {
        {"a FETCH 1 FLAGS", 1},
        {"a STORE 1 +FLAGS (\\Seen)", 1},
        {"a COPY 1 X", 1},
        {"a MOVE 1 X", 1},
        {"a SEARCH ALL", 1},
        {"a SEARCH UID 5", 1},
        {"a SORT (DATE) UTF-8 ALL", 1},
        {"a THREAD REFERENCES UTF-8 ALL", 1},
        {"a fetch 1 FLAGS", 1},
        {"a UID FETCH 1 FLAGS", 0},
        {"a UID STORE 1 +FLAGS (\\Seen)", 0},
        {"a UID COPY 1 X", 0},
        {"a UID MOVE 1 X", 0},
        {"a UID EXPUNGE 1:5", 0},
        {"a EXPUNGE", 0},
        {"a NOOP", 0},
        {"a SELECT INBOX", 0},
        {"a IDLE", 0},
        {"a STATUS X (MESSAGES)", 0},
        {"a APPEND X {1+}\r\n1", 0},
        /* UID SEARCH: a bare sequence set as a key */
        {"a UID SEARCH 1:5", 1},
        {"a UID SEARCH *", 1},
        {"a UID SEARCH 1,3:*", 1},
        {"a UID SEARCH ALL", 0},
        {"a UID SEARCH $", 0},
        {"a UID SEARCH UID 1:5", 0},
        {"a UID SEARCH UID 1:5 2", 1},
        {"a UID SEARCH CHARSET UTF-8 TEXT 123", 0},
        {"a UID SEARCH CHARSET UTF-8 SUBJECT {0}\r\n", 0},
        {"a UID SEARCH SUBJECT {3}\r\n123", 0},
        {"a UID SEARCH SUBJECT {3}\r\n123 4", 1},
        {"a UID SEARCH LARGER 1000 SMALLER 2000", 0},
        {"a UID SEARCH HEADER X-Count 123", 0},
        {"a UID SEARCH HEADER X-Count 123 5", 1},
        {"a UID SEARCH BCC 1 CC 2 FROM 3 TO 4 BODY 5 TEXT 6 KEYWORD 7 UNKEYWORD 8", 0},
        {"a UID SEARCH BEFORE 1 ON 2 SINCE 3 SENTBEFORE 4 SENTON 5 SENTSINCE 6", 0},
        {"a UID SEARCH OLDER 3600 YOUNGER 60", 0},
        {"a UID SEARCH X-GM-RAW 123", 0},
        {"a UID SEARCH NOT 5", 1},
        {"a UID SEARCH NOT SEEN", 0},
        {"a UID SEARCH OR 1:3 UID 4", 1},
        {"a UID SEARCH OR SEEN UID 4", 0},
        {"a UID SEARCH OR (UID 4) (SEEN 7)", 1},
        {"a UID SEARCH (SEEN (2:4))", 1},
        {"a UID SEARCH (UID 2:4) SEEN", 0},
        {"a UID SEARCH (LARGER) 5", 1},
        {"a UID SEARCH MODSEQ 12345", 0},
        {"a UID SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338", 0},
        {"a UID SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 7", 1},
        {"a UID SEARCH MODSEQ 12345 7", 1},
        {"a UID SEARCH RETURN (MIN MAX) 1:*", 1},
        {"a UID SEARCH RETURN (MIN (X 1) MAX) UNSEEN", 0},
        {"a UID SEARCH RETURN () UID 1:*", 0},
        {"a UID SEARCH SINCE 1-Feb-1994 NOT FROM \"Smith\"", 0},
        {"a UID SORT (DATE) UTF-8 1:5", 1},
        {"a UID SORT (REVERSE ARRIVAL) US-ASCII 7", 1},
        {"a UID SORT (DATE) UTF-8 UID 1:5", 0},
        {"a UID SORT RETURN (ALL) (DATE) UTF-8 ALL", 0},
        {"a UID SORT RETURN (ALL) (DATE) UTF-8 5", 1},
        {"a UID THREAD REFERENCES UTF-8 ALL", 0},
        {"a UID THREAD ORDEREDSUBJECT UTF-8 3:4", 1},
        {"a UID THREAD 5 6 ALL", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *w = cases[i].wire;
        if (parse_with(w, strlen(w), 1, 0) != 0)
            fail_msg("\"%s\": %s", w, cmd.err);
        if (cmd.msn != cases[i].msn)
            fail_msg("\"%s\": msn %d", w, cmd.msn);
    }
}

static void test_enable(void **state)
{
    (void)state;
    assert_int_equal(PARSE("a2 ENABLE QRESYNC CONDSTORE UTF8=ACCEPT\r\n"), 0);
    assert_int_equal(cmd.id, IMAP_CMD_ENABLE);
    ASSERT_STR(cmd.ev.args, "QRESYNC CONDSTORE UTF8=ACCEPT");
    assert_int_equal(cmd.nenable, 3);
    ASSERT_STR(cmd.enable[0], "QRESYNC");
    ASSERT_STR(cmd.enable[1], "CONDSTORE");
    ASSERT_STR(cmd.enable[2], "UTF8=ACCEPT");
    assert_int_equal(PARSE("a2 enable IMAP4rev2\r\n"), 0);
    assert_int_equal(cmd.nenable, 1);
    ASSERT_STR(cmd.enable[0], "IMAP4rev2");
    assert_int_equal(PARSE("a2 ENABLE\r\n"), 0);
    assert_int_equal(cmd.nenable, 0);
    assert_null(cmd.enable);
    /* lists are not capabilities */
    assert_int_equal(PARSE("a2 ENABLE (X Y) Z\r\n"), 0);
    assert_int_equal(cmd.nenable, 1);
    ASSERT_STR(cmd.enable[0], "Z");
}

/* ---- the summary ---- */

static void test_summary_lists_and_strings(void **state)
{
    (void)state;
    assert_int_equal(PARSE("a1 FETCH 1:* (FLAGS (X (Y Z)) \"a b\" \"\" \"c\" ())\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "1:* (FLAGS (X (Y Z)) \"a b\" \"\" c ())");
    assert_int_equal(PARSE("a1 SEARCH SUBJECT \"say \\\"hi\\\" \\\\o/\"\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "SUBJECT \"say \\\"hi\\\" \\\\o/\"");
    /* characters that atoms cannot have keep the quotes */
    assert_int_equal(PARSE("a1 LIST \"\" \"*\"\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "\"\" \"*\"");
    assert_int_equal(PARSE("a1 LIST \"\" %\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "\"\" %");
    assert_int_equal(PARSE("a1 SELECT \"[Gmail]/Sent Mail\"\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "\"[Gmail]/Sent Mail\"");
    assert_int_equal(PARSE("a1 SELECT \"[Gmail]/Sent\" x\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "\"[Gmail]/Sent\" x");
    assert_int_equal(PARSE("a1 SELECT \"NIL\" NIL\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "NIL NIL");
    /* runs of spaces become one */
    assert_int_equal(PARSE("a1 FETCH  1   ( FLAGS  UID )\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "1 (FLAGS UID)");
    /* ID with NIL and strings */
    assert_int_equal(PARSE("a1 ID (\"name\" \"Thunderbird\" \"version\" \"115.0\")\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "(name Thunderbird version 115.0)");
    assert_int_equal(PARSE("a1 ID NIL\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "NIL");
}

static void test_summary_body_sections(void **state)
{
    (void)state;
    assert_int_equal(PARSE("a6 UID FETCH 4827 (UID BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.2048> "
                           "BODY[1.2.MIME] BINARY[2] BINARY.SIZE[2] BODY[]<0>)\r\n"),
                     0);
    ASSERT_STR(cmd.ev.args, "4827 (UID BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.2048> "
                            "BODY[1.2.MIME] BINARY[2] BINARY.SIZE[2] BODY[]<0>)");
    assert_false(cmd.depth_exceeded);
}

static void test_summary_literals(void **state)
{
    char wire[1024];
    int n;

    (void)state;
    /* short printable literals read like strings */
    assert_int_equal(PARSE("a1 SEARCH SUBJECT {11}\r\nhello world\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "SUBJECT \"hello world\"");
    assert_int_equal(PARSE("a1 SEARCH SUBJECT {5+}\r\nhello\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "SUBJECT hello");
    assert_int_equal(PARSE("a1 SEARCH SUBJECT {4}\r\na\"\\b FROM x\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "SUBJECT \"a\\\"\\\\b\" FROM x");
    assert_int_equal(PARSE("a1 SEARCH CHARSET UTF-8 SUBJECT {6}\r\nCaf\xc3\xa9!\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "CHARSET UTF-8 SUBJECT \"Café!\"");
    assert_int_equal(cmd.lossy, 0);
    /* not printable, not UTF-8, CR/LF, NUL, TAB: the size only */
    assert_int_equal(PARSE("a1 SEARCH SUBJECT {5}\r\nCaf\xe9!\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "SUBJECT {5}");
    assert_int_equal(cmd.lossy, 0);
    assert_int_equal(PARSE("a1 SEARCH SUBJECT {4}\r\na\r\nb\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "SUBJECT {4}");
    assert_int_equal(PARSE("a1 SEARCH SUBJECT {3}\r\na\0b\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "SUBJECT {3}");
    assert_int_equal(PARSE("a1 SEARCH SUBJECT {3+}\r\na\tb\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "SUBJECT {3+}");
    assert_int_equal(PARSE("a1 APPEND INBOX ~{3}\r\na\0b\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "INBOX ~{3}");
    /* literal8 of plain text reads like a string too */
    assert_int_equal(PARSE("a1 APPEND INBOX ~{3}\r\nabc\r\n"), 0);
    ASSERT_STR(cmd.ev.args, "INBOX abc");

    /* 256 printable bytes inline, 257 and the 300 of a longer one not */
    n = snprintf(wire, sizeof(wire), "a1 SEARCH TEXT {256}\r\n");
    memset(wire + n, 'x', 256);
    assert_int_equal(parse_with(wire, (size_t)n + 256, 1, 0), 0);
    assert_int_equal(cmd.ev.args.len, 5 + 256);
    n = snprintf(wire, sizeof(wire), "a1 SEARCH TEXT {257}\r\n");
    memset(wire + n, 'x', 257);
    assert_int_equal(parse_with(wire, (size_t)n + 257, 1, 0), 0);
    ASSERT_STR(cmd.ev.args, "TEXT {257}");
    n = snprintf(wire, sizeof(wire), "a1 APPEND Drafts (\\Draft) {300}\r\n");
    memset(wire + n, 'y', 300);
    memcpy(wire + n + 300, " UTF8 (x)", 9);
    assert_int_equal(parse_with(wire, (size_t)n + 309, 1, 1), 0);
    ASSERT_STR(cmd.ev.args, "Drafts (\\Draft) {300} UTF8 (x)");
    ASSERT_STR(cmd.ev.mailbox, "Drafts");
    assert_int_equal(cmd.ev.nliterals, 1);
    assert_int_equal(cmd.ev.literals[0].size, 300);
    assert_int_equal(cmd.ev.literals[0].head.len, 256);
    assert_memory_equal(cmd.ev.literals[0].head.p, wire + n, 256);
}

static void test_literal_heads(void **state)
{
    (void)state;
    /* keep_literals off: no heads at all */
    assert_int_equal(PARSE("a1 APPEND Box {5}\r\nhello\r\n"), 0);
    assert_int_equal(cmd.ev.nliterals, 1);
    assert_null(cmd.ev.literals[0].head.p);
    /* on: every literal but a secret one; {0} has no head */
    assert_int_equal(PARSE_KEEP("a1 APPEND Box {5}\r\nhello {0}\r\n ~{2+}\r\nhi\r\n"), 0);
    assert_int_equal(cmd.ev.nliterals, 3);
    ASSERT_STR(cmd.ev.literals[0].head, "hello");
    assert_int_equal(cmd.ev.literals[1].size, 0);
    assert_null(cmd.ev.literals[1].head.p);
    ASSERT_STR(cmd.ev.literals[2].head, "hi");
    ASSERT_STR(cmd.ev.args, "Box hello \"\" hi");
}

static void test_summary_cut_at_512(void **state)
{
    char wire[2048];
    size_t n;

    (void)state;
    /* exactly 512 bytes: whole */
    n = (size_t)snprintf(wire, sizeof(wire), "a1 UID FETCH ");
    memset(wire + n, '1', 512);
    assert_int_equal(parse_with(wire, n + 512, 1, 0), 0);
    assert_int_equal(cmd.ev.args.len, 512);
    assert_int_not_equal(cmd.ev.args.p[511], '.');
    /* 513: cut, and "..." says so, still 512 bytes */
    memset(wire + n, '1', 513);
    assert_int_equal(parse_with(wire, n + 513, 1, 0), 0);
    assert_int_equal(cmd.ev.args.len, 512);
    assert_memory_equal(cmd.ev.args.p + 509, "...", 3);
    assert_int_equal(cmd.ev.args.p[512], '\0');
    /* many tokens, with the mailbox past the cut still found */
    n = (size_t)snprintf(wire, sizeof(wire), "a1 UID COPY ");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(wire + n, sizeof(wire) - n, "%d,", i);
    n += (size_t)snprintf(wire + n, sizeof(wire) - n, "1000 Archive");
    assert_int_equal(parse_with(wire, n, 1, 0), 0);
    assert_int_equal(cmd.ev.args.len, 512);
    assert_memory_equal(cmd.ev.args.p + 509, "...", 3);
    ASSERT_STR(cmd.ev.mailbox, "Archive");
    /* a cut never splits a UTF-8 sequence */
    n = (size_t)snprintf(wire, sizeof(wire), "a1 SEARCH TEXT \"");
    for (int i = 0; i < 300; i++) {
        memcpy(wire + n, "\xc3\xa9", 2);
        n += 2;
    }
    wire[n++] = '"';
    assert_int_equal(parse_with(wire, n, 1, 0), 0);
    assert_true(cmd.ev.args.len <= 512);
    assert_memory_equal(cmd.ev.args.p + cmd.ev.args.len - 3, "...", 3);
    /* "TEXT \"" is 6 bytes, then whole two-byte characters */
    assert_int_equal((cmd.ev.args.len - 3 - 6) % 2, 0);
    assert_int_equal(cmd.lossy, 0);
}

static struct imap_unit *truncated_unit(const char *wire, size_t len)
{
    struct imap_unit *u = unit_of(wire, len);
    u->flags |= IMAP_UNIT_TRUNCATED;
    return u;
}

#define TRUNCATED(w) truncated_unit(w, sizeof(w) - 1)

static void test_truncated_units(void **state)
{
    (void)state;
    /* what the line limit left is parsed; the summary ends in "..." */
    assert_int_equal(parse_unit(TRUNCATED("a1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FI"), 1, 0, 0),
                     0);
    assert_null(cmd.err);
    ASSERT_STR(cmd.ev.cmd, "UID FETCH");
    ASSERT_STR(cmd.ev.args, "1:* (FLAGS...");
    assert_int_equal(parse_unit(TRUNCATED("a1 SEARCH SUBJECT \"abc"), 1, 0, 0), 0);
    ASSERT_STR(cmd.ev.args, "SUBJECT...");
    assert_int_equal(parse_unit(TRUNCATED("a1 SEARCH SUBJECT \"abc\\"), 1, 0, 0), 0);
    ASSERT_STR(cmd.ev.args, "SUBJECT...");
    assert_int_equal(parse_unit(TRUNCATED("a1 FETCH 1 (FLAGS"), 1, 0, 0), 0);
    ASSERT_STR(cmd.ev.args, "1 (FLAGS...");
    assert_int_equal(parse_unit(TRUNCATED("a1 NOOP"), 1, 0, 0), 0);
    ASSERT_STR(cmd.ev.args, "...");
    assert_int_equal(parse_unit(TRUNCATED("a1 APPEND Box {5}"), 1, 0, 0), 0);
    ASSERT_STR(cmd.ev.args, "Box {5}...");
    /* secrets stay secret */
    assert_int_equal(parse_unit(TRUNCATED("a1 LOGIN alice \"s3cr"), 1, 0, 0), 0);
    ASSERT_STR(cmd.ev.args, "alice ***...");
    ASSERT_NO_SECRET("s3cr");
    assert_int_equal(parse_unit(TRUNCATED("a1 LOGIN alice s3cr"), 1, 0, 0), 0);
    ASSERT_STR(cmd.ev.args, "alice ***...");
    /* real errors before the cut are still errors */
    assert_int_equal(parse_unit(TRUNCATED("a1 FETCH 1 FLAGS) x"), 1, 0, 0), -1);
    assert_string_equal(cmd.err, IMAP_ERR_UNBALANCED_PAREN);
    assert_int_equal(parse_unit(TRUNCATED("a1 SELECT \"a\\b\" x"), 1, 0, 0), -1);
    assert_string_equal(cmd.err, IMAP_ERR_BAD_ESCAPE);
    /* the same lines, not truncated, are errors */
    assert_int_equal(PARSE("a1 SEARCH SUBJECT \"abc\r\n"), -1);
    assert_string_equal(cmd.err, IMAP_ERR_UNTERMINATED_QUOTE);
    assert_int_equal(PARSE("a1 FETCH 1 (FLAGS\r\n"), -1);
    assert_string_equal(cmd.err, IMAP_ERR_UNBALANCED_PAREN);
}

static void test_depth(void **state)
{
    char wire[512];
    size_t n;

    (void)state;
    for (int depth = IMAP_TOK_DEPTH_MAX; depth <= IMAP_TOK_DEPTH_MAX + 1; depth++) {
        n = (size_t)snprintf(wire, sizeof(wire), "a1 SEARCH ");
        memset(wire + n, '(', (size_t)depth);
        n += (size_t)depth;
        memcpy(wire + n, "SEEN", 4);
        n += 4;
        memset(wire + n, ')', (size_t)depth);
        n += (size_t)depth;
        assert_int_equal(parse_with(wire, n, 1, 0), 0);
        assert_null(cmd.err);
        assert_int_equal(cmd.depth_exceeded, depth > IMAP_TOK_DEPTH_MAX);
        assert_int_equal(cmd.ev.args.len, (size_t)depth * 2 + 4);
    }
}

/* ---- errors, excerpts, odd input ---- */

static void test_errors(void **state)
{
    static const struct {
        const char *wire;
        const char *err;
    } cases[] = {
        {"a1 FETCH 1 (FLAGS", IMAP_ERR_UNBALANCED_PAREN},
        {"a1 FETCH 1 FLAGS)", IMAP_ERR_UNBALANCED_PAREN},
        {"a1 SELECT \"abc", IMAP_ERR_UNTERMINATED_QUOTE},
        {"a1 SELECT \"a\\bc\"", IMAP_ERR_BAD_ESCAPE},
        {"a1 FETCH 1 BODY[HEADER", IMAP_ERR_UNCLOSED_BRACKET},
        {"a1 SELECT {5} x", IMAP_ERR_BAD_LITERAL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *w = cases[i].wire;
        assert_int_equal(parse_with(w, strlen(w), 1, 0), -1);
        assert_string_equal(cmd.err, cases[i].err);
        check_str(cmd.ev.tag, "a1", "tag", (int)i);
        assert_non_null(cmd.ev.cmd.p);
        check_str(cmd.excerpt, w, "excerpt", (int)i);
        /* a broken line has no summary: the excerpt speaks for it */
        check_str(cmd.ev.args, NULL, "args", (int)i);
    }
    assert_int_equal(PARSE_KEEP("a1 APPEND Box {5}\r\nhello (\r\n"), -1);
    assert_int_equal(cmd.ev.nliterals, 1);
    assert_int_equal(cmd.ev.literals[0].size, 5);
    assert_null(cmd.ev.literals[0].head.p);
    /* a command word the tokenizer cannot read */
    assert_int_equal(PARSE("a1 BODY[TEXT 1\r\n"), -1);
    assert_string_equal(cmd.err, IMAP_ERR_UNCLOSED_BRACKET);
    ASSERT_STR(cmd.ev.tag, "a1");
    assert_null(cmd.ev.cmd.p);
}

static void test_excerpt(void **state)
{
    char wire[256];
    struct imap_unit *u;
    struct imap_str ex;

    (void)state;
    /* the first 64 bytes */
    memset(wire, 'a', 100);
    memcpy(wire, "a1 NOOP ", 8);
    u = unit_of(wire, 100);
    ex = imap_msg_excerpt(u, IMAP_EXCERPT_MAX);
    assert_int_equal(ex.len, 64);
    assert_ptr_equal(ex.p, u->text);
    /* a literal's octets are not shown, its marker is */
    u = unit_of(W("a1 APPEND Box {5}\r\nhello (x\r\n"));
    ex = imap_msg_excerpt(u, IMAP_EXCERPT_MAX);
    assert_int_equal(ex.len, strlen("a1 APPEND Box {5}"));
    assert_memory_equal(ex.p, "a1 APPEND Box {5}", ex.len);
    assert_int_equal(parse_unit(u, 1, 0, 0), -1);
    ASSERT_STR(cmd.excerpt, "a1 APPEND Box {5}");
    /* never half a UTF-8 character */
    memcpy(wire, "a1 SELECT \"", 11);
    for (int i = 0; i < 40; i++)
        memcpy(wire + 11 + 2 * i, "\xc3\xa9", 2);
    u = unit_of(wire, 91);
    ex = imap_msg_excerpt(u, IMAP_EXCERPT_MAX);
    assert_int_equal(ex.len, 63);
    ex = imap_msg_excerpt(u, 12);
    assert_int_equal(ex.len, 11);
    /* short units whole */
    u = unit_of(W("a1 X"));
    ex = imap_msg_excerpt(u, IMAP_EXCERPT_MAX);
    assert_int_equal(ex.len, 4);
}

static void test_lossy(void **state)
{
    (void)state;
    assert_int_equal(PARSE("a1 SELECT \"Caf\xe9\"\r\n"), 0);
    assert_int_equal(cmd.lossy, 1);
    assert_int_equal(PARSE("a1 SELECT Caf\xe9\r\n"), 0);
    assert_int_equal(cmd.lossy, 1);
    assert_int_equal(PARSE("a1 SELECT {4}\r\nCaf\xe9\r\n"), 0);
    assert_int_equal(cmd.lossy, 1);
    ASSERT_STR(cmd.ev.args, "{4}");
    assert_int_equal(PARSE("a1 SELECT \"Caf\xc3\xa9\"\r\n"), 0);
    assert_int_equal(cmd.lossy, 0);
    assert_int_equal(PARSE("a1 SELECT \"\xed\xa0\x80\"\r\n"), 0); /* a surrogate */
    assert_int_equal(cmd.lossy, 1);
    assert_int_equal(PARSE("a1 SELECT \"\xc0\xaf\"\r\n"), 0); /* overlong */
    assert_int_equal(cmd.lossy, 1);
    assert_int_equal(PARSE("a1 SELECT \"\xf4\x90\x80\x80\"\r\n"), 0); /* > U+10FFFF */
    assert_int_equal(cmd.lossy, 1);
    assert_int_equal(PARSE("a1 SELECT \"\xf0\x9f\x98\x80\"\r\n"), 0);
    assert_int_equal(cmd.lossy, 0);
    /* a password is not looked at */
    assert_int_equal(PARSE("a1 LOGIN alice p\xe9ss\r\n"), 0);
    assert_int_equal(cmd.lossy, 0);
}

static void test_not_a_command(void **state)
{
    static const enum imap_unit_kind kinds[] = {IMAP_UNIT_CLIENT_TEXT, IMAP_UNIT_CONTINUE,
                                                IMAP_UNIT_DATA, IMAP_UNIT_TAGGED};

    (void)state;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct imap_unit *u = test_unit(IMAP_C2S, kinds[i], W("AGFsaWNlAHMzY3IzdA==\r\n"));
        assert_int_equal(parse_unit(u, 1, 1, 0), -1);
        assert_null(cmd.ev.tag.p);
        assert_null(cmd.excerpt.p);
        ASSERT_NO_SECRET("AGF");
    }
}

static void test_arena_exhausted(void **state)
{
    struct imap_arena small;
    const struct imap_msg_opts opts = {.redact = 1};
    struct imap_unit *u;

    (void)state;
    imap_arena_init(&small);
    small.cap = 0;
    u = unit_of(W("a1 LOGIN alice pa\"ss\r\n"));
    assert_int_equal(imap_command_parse(u, &small, &opts, &cmd), -1);
    ASSERT_STR(cmd.excerpt, "a1 LOGIN alice "); /* no room for "***", no secret either */
    ASSERT_NO_SECRET("pa");
    u = unit_of(W("a1 Uid Fetch 1 (FLAGS)\r\n"));
    assert_int_equal(imap_command_parse(u, &small, &opts, &cmd), 0);
    assert_int_equal(cmd.id, IMAP_CMD_FETCH);
    assert_null(cmd.ev.args.p);
    imap_arena_release(&small);
}

static void test_helper_units(void **state)
{
    struct imap_unit *u;

    (void)state;
    u = test_unit(IMAP_C2S, IMAP_UNIT_COMMAND, W("a1 LOGIN {5}\r\nalice {3+}\r\nabc\r\nrest"));
    assert_int_equal(u->text_len, strlen("a1 LOGIN {5}\r\nalice {3+}\r\nabc"));
    assert_int_equal(u->len, strlen("a1 LOGIN {5}\r\nalice {3+}\r\nabc\r\n"));
    assert_int_equal(u->nlits, 2);
    assert_int_equal(u->lits[0].pos, strlen("a1 LOGIN {5}\r\n"));
    assert_int_equal(u->lits[1].flags, IMAP_LIT_NONSYNC);
    assert_int_equal(u->line_bytes, u->text_len - 8 + 2);
    /* a marker inside a quoted string, or in a text-mode line, is text */
    u = test_unit(IMAP_C2S, IMAP_UNIT_COMMAND, W("a1 X \"{5}\r\nabcde\r\n"));
    assert_int_equal(u->nlits, 0);
    assert_int_equal(u->text_len, strlen("a1 X \"{5}"));
    u = test_unit(IMAP_S2C, IMAP_UNIT_TAGGED, W("a1 NO [OVERQUOTA] Quota {12}\r\n"));
    assert_int_equal(u->nlits, 0);
    /* literal octets that end like a marker are not one */
    u = test_unit(IMAP_C2S, IMAP_UNIT_COMMAND, W("a1 X {3}\r\n{1}\r\n"));
    assert_int_equal(u->nlits, 1);
    assert_int_equal(u->len, strlen("a1 X {3}\r\n{1}\r\n"));
    u = test_unit(IMAP_S2C, IMAP_UNIT_DATA, W("* 1 FETCH (BINARY[] ~{2}\r\nxy)\r\n"));
    assert_int_equal(u->nlits, 1);
    assert_int_equal(u->lits[0].flags, IMAP_LIT_BINARY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_commands),
        cmocka_unit_test(test_corpus_append_326),
        cmocka_unit_test(test_corpus_append_2048),
        cmocka_unit_test(test_corpus_malformed),
        cmocka_unit_test(test_corpus_aborted_literal),
        cmocka_unit_test(test_login_atoms),
        cmocka_unit_test(test_login_quoted),
        cmocka_unit_test(test_login_sync_literals),
        cmocka_unit_test(test_login_nonsync_literal),
        cmocka_unit_test(test_login_extra_words),
        cmocka_unit_test(test_login_malformed_excerpts),
        cmocka_unit_test(test_login_excerpt_limits),
        cmocka_unit_test(test_authenticate),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_uid_forms),
        cmocka_unit_test(test_cmd_lookup),
        cmocka_unit_test(test_mailbox_commands),
        cmocka_unit_test(test_mailbox_inbox),
        cmocka_unit_test(test_mailbox_mutf7),
        cmocka_unit_test(test_copy_move_destination),
        cmocka_unit_test(test_msn),
        cmocka_unit_test(test_enable),
        cmocka_unit_test(test_summary_lists_and_strings),
        cmocka_unit_test(test_summary_body_sections),
        cmocka_unit_test(test_summary_literals),
        cmocka_unit_test(test_literal_heads),
        cmocka_unit_test(test_summary_cut_at_512),
        cmocka_unit_test(test_truncated_units),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_excerpt),
        cmocka_unit_test(test_lossy),
        cmocka_unit_test(test_not_a_command),
        cmocka_unit_test(test_arena_exhausted),
        cmocka_unit_test(test_helper_units),
    };
    return cmocka_run_group_tests_name("command", tests, setup, teardown);
}
