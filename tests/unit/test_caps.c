/*
 * test_caps.c - capability edits (imap_caps.h, protocol.md §5.3): every
 * policy switch and every combination of them against a model written from
 * the protocol notes, the order of removed atoms, "no change", case, the
 * CAPS_MAX atoms looked at, and a full arena.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "imap_caps.h"

#define CAPS_MAX 512 /* atoms imap_caps.c looks at (not exported) */

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

static struct imap_caps_policy policy_of(unsigned bits)
{
    struct imap_caps_policy p;

    memset(&p, 0, sizeof(p));
    p.strip_compress = (bits & 1) != 0;
    p.strip_channel_binding = (bits & 2) != 0;
    p.strip_starttls = (bits & 4) != 0;
    p.add_starttls = (bits & 8) != 0;
    p.cleartext_refuse_auth = (bits & 16) != 0;
    return p;
}

static int apply(const struct imap_caps_policy *pol, const char *list, struct imap_caps_edit *e)
{
    imap_arena_reset(&arena);
    return imap_caps_apply(&arena, pol, (struct imap_str){list, strlen(list)}, e);
}

/* ------------------------------------------------------------ the model */

static int prefix_ci(const char *a, size_t n, const char *p)
{
    return n >= strlen(p) && strncasecmp(a, p, strlen(p)) == 0;
}

static int suffix_ci(const char *a, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n >= k && strncasecmp(a + n - k, s, k) == 0;
}

static int equal_ci(const char *a, size_t n, const char *w)
{
    return n == strlen(w) && strncasecmp(a, w, n) == 0;
}

struct model {
    char text[1024];
    char removed[1024]; /* space-separated, line order */
    char added[64];
    int changed;
};

/*
 * What protocol.md §5.3 and imap_caps.h ask for:
 *  - strip_compress: COMPRESS=* goes;
 *  - strip_channel_binding: when any AUTH=*-PLUS is offered, every AUTH=*-PLUS
 *    and every AUTH=SCRAM-* goes (a client that sees no -PLUS sends gs2 "y");
 *  - strip_starttls: STARTTLS goes (the client leg is TLS already);
 *  - add_starttls: STARTTLS is added when missing (and not being stripped);
 *  - cleartext_refuse_auth: every AUTH= goes, LOGINDISABLED is added when
 *    missing.
 * The kept atoms are joined by single spaces, the additions go at the end.
 */
static void model(const struct imap_caps_policy *pol, const char *list, struct model *m)
{
    const char *atoms[64];
    size_t lens[64], n = 0, i;
    const char *p = list;
    int any_plus = 0, has_starttls = 0, has_ld = 0;

    memset(m, 0, sizeof(*m));
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        atoms[n] = p;
        while (*p && *p != ' ')
            p++;
        lens[n] = (size_t)(p - atoms[n]);
        n++;
    }
    for (i = 0; i < n; i++) {
        if (prefix_ci(atoms[i], lens[i], "AUTH=") && suffix_ci(atoms[i], lens[i], "-PLUS"))
            any_plus = 1;
        has_starttls |= equal_ci(atoms[i], lens[i], "STARTTLS");
        has_ld |= equal_ci(atoms[i], lens[i], "LOGINDISABLED");
    }
    for (i = 0; i < n; i++) {
        const char *a = atoms[i];
        size_t l = lens[i];
        int drop = (pol->strip_compress && prefix_ci(a, l, "COMPRESS=")) ||
                   (pol->strip_channel_binding && any_plus &&
                    (prefix_ci(a, l, "AUTH=SCRAM-") ||
                     (prefix_ci(a, l, "AUTH=") && suffix_ci(a, l, "-PLUS")))) ||
                   (pol->strip_starttls && equal_ci(a, l, "STARTTLS")) ||
                   (pol->cleartext_refuse_auth && prefix_ci(a, l, "AUTH="));
        char *dst = drop ? m->removed : m->text;
        if (dst[0])
            strcat(dst, " ");
        strncat(dst, a, l);
        m->changed |= drop;
    }
    if (pol->add_starttls && !has_starttls && !pol->strip_starttls) {
        strcat(m->text, m->text[0] ? " STARTTLS" : "STARTTLS");
        strcat(m->added, "STARTTLS");
        m->changed = 1;
    }
    if (pol->cleartext_refuse_auth && !has_ld) {
        strcat(m->text, m->text[0] ? " LOGINDISABLED" : "LOGINDISABLED");
        strcat(m->added, m->added[0] ? " LOGINDISABLED" : "LOGINDISABLED");
        m->changed = 1;
    }
}

static void join(const struct imap_str *v, size_t n, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(out, " ", size - strlen(out) - 1);
        strncat(out, v[i].p, v[i].len < size - strlen(out) - 1 ? v[i].len : size - strlen(out) - 1);
    }
}

static void check_against_model(unsigned bits, const char *list)
{
    struct imap_caps_policy pol = policy_of(bits);
    struct imap_caps_edit e;
    struct model m;
    char got[1024];
    int rc;

    model(&pol, list, &m);
    rc = apply(&pol, list, &e);
    if (rc != m.changed)
        fail_msg("policy %02x on \"%s\": returned %d, want %d", bits, list, rc, m.changed);
    if (rc == 0) {
        assert_int_equal(e.nremoved, 0);
        assert_int_equal(e.nadded, 0);
        return;
    }
    if (e.text.len != strlen(m.text) || memcmp(e.text.p, m.text, e.text.len) != 0)
        fail_msg("policy %02x on \"%s\":\n got \"%.*s\"\nwant \"%s\"", bits, list, (int)e.text.len,
                 e.text.p, m.text);
    join(e.removed, e.nremoved, got, sizeof(got));
    if (strcmp(got, m.removed) != 0)
        fail_msg("policy %02x on \"%s\": removed \"%s\", want \"%s\"", bits, list, got, m.removed);
    join(e.added, e.nadded, got, sizeof(got));
    if (strcmp(got, m.added) != 0)
        fail_msg("policy %02x on \"%s\": added \"%s\", want \"%s\"", bits, list, got, m.added);
}

/* ------------------------------------------------------------ tests */

static const char *const lists[] = {
    "IMAP4rev1 SASL-IR STARTTLS AUTH=PLAIN AUTH=SCRAM-SHA-1 AUTH=SCRAM-SHA-256-PLUS "
    "COMPRESS=DEFLATE LOGINDISABLED IDLE",
    "IMAP4rev1 IDLE",
    "IMAP4rev2 AUTH=SCRAM-SHA-256 AUTH=XOAUTH2 COMPRESS=DEFLATE ID",
    "",
    "imap4rev1 starttls compress=deflate auth=scram-sha-1-plus auth=Scram-Sha-1 "
    "logindisabled auth=plain",
    "AUTH=SCRAM-SHA-1-PLUS AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-1 AUTH=SCRAM-SHA-256",
    "COMPRESS=DEFLATE",
    "IMAP4rev1 COMPRESS=DEFLATE COMPRESS=FOO STARTTLS LITERAL+",
};

static void test_policy_active(void **state)
{
    struct imap_caps_policy pol;
    unsigned bits;

    (void)state;
    pol = policy_of(0);
    assert_false(imap_caps_policy_active(&pol));
    for (bits = 1; bits < 32; bits++) {
        pol = policy_of(bits);
        assert_true(imap_caps_policy_active(&pol));
    }
}

static void test_every_combination(void **state)
{
    unsigned bits;
    size_t i;

    (void)state;
    for (bits = 0; bits < 32; bits++)
        for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
            check_against_model(bits, lists[i]);
}

static void test_each_switch(void **state)
{
    struct imap_caps_policy pol;
    struct imap_caps_edit e;

    (void)state;
    /* COMPRESS */
    pol = policy_of(1);
    assert_int_equal(apply(&pol, "IMAP4rev1 COMPRESS=DEFLATE IDLE", &e), 1);
    assert_int_equal(e.text.len, strlen("IMAP4rev1 IDLE"));
    assert_memory_equal(e.text.p, "IMAP4rev1 IDLE", e.text.len);
    assert_int_equal(e.nremoved, 1);
    assert_int_equal(e.removed[0].len, 16);
    assert_memory_equal(e.removed[0].p, "COMPRESS=DEFLATE", 16);
    assert_int_equal(e.nadded, 0);

    /* channel binding: the -PLUS and its SCRAM siblings, in line order */
    pol = policy_of(2);
    assert_int_equal(apply(&pol,
                           "IMAP4rev1 AUTH=SCRAM-SHA-256-PLUS AUTH=PLAIN AUTH=SCRAM-SHA-1 "
                           "AUTH=SCRAM-SHA-256 AUTH=XOAUTH2",
                           &e),
                     1);
    assert_int_equal(e.text.len, strlen("IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2"));
    assert_memory_equal(e.text.p, "IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2", e.text.len);
    assert_int_equal(e.nremoved, 3);
    assert_memory_equal(e.removed[0].p, "AUTH=SCRAM-SHA-256-PLUS", 23);
    assert_memory_equal(e.removed[1].p, "AUTH=SCRAM-SHA-1", 16);
    assert_memory_equal(e.removed[2].p, "AUTH=SCRAM-SHA-256", 18);
    /* SCRAM without any -PLUS stays */
    assert_int_equal(apply(&pol, "IMAP4rev1 AUTH=SCRAM-SHA-256 AUTH=PLAIN", &e), 0);

    /* STARTTLS stripped on a TLS client leg */
    pol = policy_of(4);
    assert_int_equal(apply(&pol, "IMAP4rev1 STARTTLS LOGINDISABLED", &e), 1);
    assert_memory_equal(e.text.p, "IMAP4rev1 LOGINDISABLED", e.text.len);
    assert_int_equal(e.text.len, 23);

    /* STARTTLS added, once */
    pol = policy_of(8);
    assert_int_equal(apply(&pol, "IMAP4rev1 IDLE", &e), 1);
    assert_int_equal(e.text.len, strlen("IMAP4rev1 IDLE STARTTLS"));
    assert_memory_equal(e.text.p, "IMAP4rev1 IDLE STARTTLS", e.text.len);
    assert_int_equal(e.nadded, 1);
    assert_int_equal(e.nremoved, 0);
    assert_int_equal(apply(&pol, "IMAP4rev1 starttls", &e), 0);

    /* cleartext with --require-tls: no AUTH=, LOGINDISABLED added */
    pol = policy_of(8 | 16);
    assert_int_equal(apply(&pol, "IMAP4rev1 AUTH=PLAIN AUTH=LOGIN ID", &e), 1);
    assert_int_equal(e.text.len, strlen("IMAP4rev1 ID STARTTLS LOGINDISABLED"));
    assert_memory_equal(e.text.p, "IMAP4rev1 ID STARTTLS LOGINDISABLED", e.text.len);
    assert_int_equal(e.nremoved, 2);
    assert_int_equal(e.nadded, 2);
    /* LOGINDISABLED already there is not added twice */
    pol = policy_of(16);
    assert_int_equal(apply(&pol, "IMAP4rev1 LOGINDISABLED", &e), 0);
}

static void test_no_change(void **state)
{
    struct imap_caps_policy pol = policy_of(1 | 2 | 4);
    struct imap_caps_edit e;

    (void)state;
    memset(&e, 0x5a, sizeof(e));
    assert_int_equal(apply(&pol, "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+", &e),
                     0);
    assert_null(e.text.p);
    assert_int_equal(e.nremoved, 0);
    assert_int_equal(e.nadded, 0);
    /* no policy at all */
    pol = policy_of(0);
    assert_int_equal(apply(&pol, "IMAP4rev1 COMPRESS=DEFLATE STARTTLS AUTH=SCRAM-SHA-1-PLUS", &e),
                     0);
}

static void test_other_plus_mechanisms(void **state)
{
    struct imap_caps_policy pol = policy_of(2);
    struct imap_caps_edit e;

    (void)state;
    /* any channel-binding mechanism goes (protocol.md §5.3), and its plain
     * sibling with it: a client that supports channel binding but sees no
     * -PLUS sends gs2-cb-flag "y", which a server offering -PLUS must refuse
     * (RFC 5801 §4, as RFC 5802 for SCRAM); EXTERNAL (the client certificate)
     * cannot cross the proxy either */
    assert_int_equal(apply(&pol, "IMAP4rev1 AUTH=GS2-KRB5-PLUS AUTH=GS2-KRB5 AUTH=PLAIN", &e), 1);
    assert_int_equal(e.nremoved, 2);
    assert_memory_equal(e.removed[0].p, "AUTH=GS2-KRB5-PLUS", 18);
    assert_memory_equal(e.removed[1].p, "AUTH=GS2-KRB5", 13);
    assert_int_equal(e.text.len, strlen("IMAP4rev1 AUTH=PLAIN"));
    assert_memory_equal(e.text.p, "IMAP4rev1 AUTH=PLAIN", e.text.len);
    assert_int_equal(apply(&pol, "IMAP4rev1 AUTH=EXTERNAL AUTH=PLAIN", &e), 1);
    assert_int_equal(e.nremoved, 1);
    assert_memory_equal(e.removed[0].p, "AUTH=EXTERNAL", 13);
}

static void test_spaces(void **state)
{
    struct imap_caps_policy pol = policy_of(1);
    struct imap_caps_edit e;

    (void)state;
    /* an edited list comes out with single spaces */
    assert_int_equal(apply(&pol, "COMPRESS=DEFLATE IMAP4rev1 IDLE COMPRESS=X", &e), 1);
    assert_int_equal(e.text.len, strlen("IMAP4rev1 IDLE"));
    assert_memory_equal(e.text.p, "IMAP4rev1 IDLE", e.text.len);
    /* everything removed */
    assert_int_equal(apply(&pol, "COMPRESS=DEFLATE", &e), 1);
    assert_int_equal(e.text.len, 0);
    /* an empty list with an addition */
    pol = policy_of(8);
    assert_int_equal(apply(&pol, "", &e), 1);
    assert_int_equal(e.text.len, 8);
    assert_memory_equal(e.text.p, "STARTTLS", 8);
}

/* CAPS_MAX atoms are looked at; atoms past them pass as they are. */
static void test_caps_max(void **state)
{
    struct imap_caps_policy pol = policy_of(1);
    struct imap_caps_edit e;
    char *list = malloc(16 * 700), *want = malloc(16 * 700);
    size_t n, w;
    int i;

    (void)state;
    assert_non_null(list);
    assert_non_null(want);

    /* the last atom looked at is removed */
    n = 0;
    for (i = 0; i < CAPS_MAX - 1; i++)
        n += (size_t)sprintf(list + n, "X%d ", i);
    memcpy(want, list, n - 1);
    w = n - 1;
    n += (size_t)sprintf(list + n, "COMPRESS=DEFLATE");
    assert_int_equal(apply(&pol, list, &e), 1);
    assert_int_equal(e.nremoved, 1);
    assert_int_equal(e.text.len, w);
    assert_memory_equal(e.text.p, want, w);

    /* one past: not looked at, no change */
    n = 0;
    for (i = 0; i < CAPS_MAX; i++)
        n += (size_t)sprintf(list + n, "X%d ", i);
    n += (size_t)sprintf(list + n, "COMPRESS=DEFLATE");
    assert_int_equal(apply(&pol, list, &e), 0);

    /* a change among the first atoms keeps the rest verbatim */
    n = (size_t)sprintf(list, "COMPRESS=DEFLATE");
    for (i = 0; i < 700; i++)
        n += (size_t)sprintf(list + n, " X%d", i);
    n += (size_t)sprintf(list + n, "  COMPRESS=LATE");
    assert_int_equal(apply(&pol, list, &e), 1);
    assert_int_equal(e.nremoved, 1);
    assert_int_equal(e.text.len, n - strlen("COMPRESS=DEFLATE "));
    assert_memory_equal(e.text.p, list + strlen("COMPRESS=DEFLATE "), e.text.len);
    free(list);
    free(want);
}

static void test_arena_full(void **state)
{
    struct imap_caps_policy pol = policy_of(1);
    struct imap_caps_edit e;
    struct imap_arena small;

    (void)state;
    imap_arena_init(&small);
    small.cap = 16;
    assert_int_equal(imap_caps_apply(&small, &pol, IMAP_STR_LIT("IMAP4rev1 COMPRESS=DEFLATE"), &e),
                     -1);
    /* no change needs no memory */
    assert_int_equal(imap_caps_apply(&small, &pol, IMAP_STR_LIT("IMAP4rev1 IDLE"), &e), 0);
    imap_arena_release(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_active),
        cmocka_unit_test(test_every_combination),
        cmocka_unit_test(test_each_switch),
        cmocka_unit_test(test_no_change),
        cmocka_unit_test(test_other_plus_mechanisms),
        cmocka_unit_test(test_spaces),
        cmocka_unit_test(test_caps_max),
        cmocka_unit_test(test_arena_full),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
