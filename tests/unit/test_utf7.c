/* test_utf7.c - modified UTF-7 mailbox name decoding (imap_utf7.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "imap_utf7.h"

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

/* Decodes in (len bytes); returns the result, the output in *out_r. */
static int decode(const char *in, size_t len, struct imap_str *out_r)
{
    *out_r = (struct imap_str){"untouched", 9};
    return imap_mutf7_decode(&arena, (struct imap_str){in, len}, out_r);
}

#define DECODE(in, out_r) decode(in, sizeof(in) - 1, out_r)

static void assert_decodes(const char *in, size_t len, const char *want)
{
    struct imap_str out;

    assert_int_equal(decode(in, len, &out), 1);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.p, want, out.len);
    assert_int_equal(out.p[out.len], '\0');
}

#define ASSERT_DECODES(in, want) assert_decodes(in, sizeof(in) - 1, want)
#define ASSERT_INVALID(in)                       \
    do {                                         \
        struct imap_str out_;                    \
        assert_int_equal(DECODE(in, &out_), -1); \
    } while (0)

static void test_rfc3501_example(void **state)
{
    (void)state;
    ASSERT_DECODES("&U,BTFw-/&ZeVnLIqe-", "台北/日本語");
    ASSERT_DECODES("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語");
}

static void test_latin_and_controls(void **state)
{
    (void)state;
    ASSERT_DECODES("Entw&APw-rfe", "Entwürfe");
    ASSERT_DECODES("&AOk-", "é");
    /* control characters cannot represent themselves: they are encoded */
    ASSERT_DECODES("a&AAE-b", "a\001b");
}

static void test_ampersand(void **state)
{
    (void)state;
    ASSERT_DECODES("&-", "&");
    ASSERT_DECODES("Tom &- Jerry", "Tom & Jerry");
    ASSERT_DECODES("&-&-", "&&");
    ASSERT_DECODES("&-&AOk-", "&é");
}

static void test_surrogate_pairs(void **state)
{
    (void)state;
    ASSERT_DECODES("&2D3eAA-", "😀");
    ASSERT_DECODES("a&2D3eAA-b&2DTdHg-", "a😀b𝄞");
}

static void test_no_shift(void **state)
{
    struct imap_str out;

    (void)state;
    assert_int_equal(DECODE("INBOX", &out), 0);
    assert_string_equal(out.p, "untouched");
    assert_int_equal(DECODE("", &out), 0);
    assert_string_equal(out.p, "untouched");
    assert_int_equal(DECODE("Archive/2024-", &out), 0);
    /* no "&": not looked at, even with octets mUTF-7 does not allow */
    assert_int_equal(DECODE("Caf\xc3\xa9", &out), 0);
    out = (struct imap_str){"untouched", 9};
    assert_int_equal(imap_mutf7_decode(&arena, IMAP_STR_NULL, &out), 0);
    assert_string_equal(out.p, "untouched");
}

static void test_bad_base64(void **state)
{
    (void)state;
    ASSERT_INVALID("&U!BTFw-");
    ASSERT_INVALID("&U/BTFw-"); /* "/" is "," in modified BASE64 */
    ASSERT_INVALID("&U,BTFw=-");
    ASSERT_INVALID("&&-");
    ASSERT_INVALID("&U,B TFw-");
}

static void test_unterminated(void **state)
{
    (void)state;
    ASSERT_INVALID("&U,BTFw");
    ASSERT_INVALID("abc&");
    ASSERT_INVALID("&-&AOk");
}

static void test_padding(void **state)
{
    (void)state;
    ASSERT_INVALID("&U,BTFx-");  /* non-zero padding bits */
    ASSERT_INVALID("&AOl-");     /* same, one unit */
    ASSERT_INVALID("&U,BTFwA-"); /* a whole spare character */
    ASSERT_INVALID("&A-");       /* six bits: not even one unit */
    ASSERT_INVALID("&AOkA-");
}

static void test_lone_surrogates(void **state)
{
    (void)state;
    ASSERT_INVALID("&2D0-");      /* high alone */
    ASSERT_INVALID("&3gA-");      /* low alone */
    ASSERT_INVALID("&2D0A6Q-");   /* high, then not a low one */
    ASSERT_INVALID("&2D0-&3gA-"); /* a pair split over two shifts */
}

static void test_encoded_ascii(void **state)
{
    (void)state;
    ASSERT_INVALID("&AGE-");    /* "a" */
    ASSERT_INVALID("&ACY-");    /* "&" must be "&-" */
    ASSERT_INVALID("&AOkAYQ-"); /* "éa": the "a" */
}

static void test_nul(void **state)
{
    (void)state;
    ASSERT_INVALID("&AAA-");  /* encoded */
    ASSERT_INVALID("a\0b&-"); /* raw */
}

static void test_raw_octets(void **state)
{
    (void)state;
    /* with a shift somewhere, the rest must be printable ASCII too */
    ASSERT_INVALID("Caf\xc3\xa9 &-");
    ASSERT_INVALID("a\tb&-");
}

static void test_arena_full(void **state)
{
    struct imap_arena small;
    struct imap_str out = IMAP_STR_NULL;

    (void)state;
    imap_arena_init(&small);
    small.cap = 0;
    assert_int_equal(imap_mutf7_decode(&small, IMAP_STR_LIT("&-"), &out), -1);
    imap_arena_release(&small);
}

static void test_long_name(void **state)
{
    char in[4096], want[8192];
    size_t n = 0, w = 0;

    (void)state;
    /* 500 x "台北" then ASCII: the output is longer than the input */
    while (n + 9 < sizeof(in) - 8) {
        memcpy(in + n, "&U,BTFw-", 8);
        n += 8;
        memcpy(want + w, "台北", 6);
        w += 6;
        in[n++] = 'x';
        want[w++] = 'x';
    }
    want[w] = '\0';
    assert_decodes(in, n, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3501_example),
        cmocka_unit_test(test_latin_and_controls),
        cmocka_unit_test(test_ampersand),
        cmocka_unit_test(test_surrogate_pairs),
        cmocka_unit_test(test_no_shift),
        cmocka_unit_test(test_bad_base64),
        cmocka_unit_test(test_unterminated),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_lone_surrogates),
        cmocka_unit_test(test_encoded_ascii),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_raw_octets),
        cmocka_unit_test(test_arena_full),
        cmocka_unit_test(test_long_name),
    };
    return cmocka_run_group_tests_name("utf7", tests, setup, teardown);
}
