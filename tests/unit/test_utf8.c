/*
 * test_utf8.c - logger/utf8.c at the edges of RFC 3629: every boundary of
 * every sequence length, overlongs, surrogates, > U+10FFFF, truncations, and
 * an exhaustive check of all 1-, 2- and 3-byte inputs against a reference
 * decoder written the slow, obvious way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

#define V(s) utf8_valid((s), sizeof(s) - 1)

static void test_valid_boundaries(void **state)
{
    (void)state;
    assert_true(utf8_valid("", 0));
    assert_true(V("plain ascii \x01\x7f"));
    assert_true(utf8_valid("\0", 1));   /* NUL is UTF-8; JSON escapes it */
    assert_true(V("\xc2\x80"));         /* U+0080 */
    assert_true(V("\xdf\xbf"));         /* U+07FF */
    assert_true(V("\xe0\xa0\x80"));     /* U+0800 */
    assert_true(V("\xed\x9f\xbf"));     /* U+D7FF */
    assert_true(V("\xee\x80\x80"));     /* U+E000 */
    assert_true(V("\xef\xbf\xbf"));     /* U+FFFF */
    assert_true(V("\xf0\x90\x80\x80")); /* U+10000 */
    assert_true(V("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
    assert_true(V("\xef\xbb\xbf"));     /* BOM: valid, passed through */
}

static void test_invalid(void **state)
{
    (void)state;
    assert_false(V("\x80")); /* lone continuation */
    assert_false(V("\xbf"));
    assert_false(V("\xc0\x80"));         /* overlong NUL */
    assert_false(V("\xc1\xbf"));         /* overlong */
    assert_false(V("\xe0\x9f\xbf"));     /* overlong 3-byte */
    assert_false(V("\xf0\x8f\xbf\xbf")); /* overlong 4-byte */
    assert_false(V("\xed\xa0\x80"));     /* U+D800 */
    assert_false(V("\xed\xbf\xbf"));     /* U+DFFF */
    assert_false(V("\xf4\x90\x80\x80")); /* U+110000 */
    assert_false(V("\xf5\x80\x80\x80"));
    assert_false(V("\xf8\x88\x80\x80\x80")); /* 5-byte form */
    assert_false(V("\xfe"));
    assert_false(V("\xff"));
    assert_false(V("\xc2"));         /* truncated */
    assert_false(V("\xe2\x82"));     /* truncated */
    assert_false(V("\xf0\x9f\x98")); /* truncated */
    assert_false(V("\xc2\x41"));     /* continuation missing */
    assert_false(V("\xe2\x28\xa1"));
    /* the ASCII fast path must not skip a bad byte at any position */
    assert_false(V("abcdefg\x80"));
    assert_false(V("abcdefgh\x80"));
    assert_false(V("abcdefghijklmnop\xff"));
    assert_int_equal(utf8_valid_prefix("abcdefghij\xc3\xa9klm\xff", 16), 15);
    assert_int_equal(utf8_valid_prefix("abc", 3), 3);
}

static void test_char_len(void **state)
{
    (void)state;
    assert_int_equal(utf8_char_len((const unsigned char *)"A", 1), 1);
    assert_int_equal(utf8_char_len((const unsigned char *)"\xc3\xa9", 2), 2);
    assert_int_equal(utf8_char_len((const unsigned char *)"\xc3\xa9", 1), 0);
    assert_int_equal(utf8_char_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
    assert_int_equal(utf8_char_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(utf8_char_len((const unsigned char *)"\xf0\x9f\x98\x80", 3), 0);
}

static void sanitize_eq(const char *in, size_t inlen, const char *want, int want_lossy)
{
    char out[64];
    int lossy = 0;
    size_t n;

    assert_true(inlen * 3 <= sizeof(out));
    n = utf8_sanitize(out, in, inlen, &lossy);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    assert_int_equal(lossy, want_lossy);
    assert_true(utf8_valid(out, n));
}

#define R                    "\xef\xbf\xbd"
#define SAN(in, want, lossy) sanitize_eq((in), sizeof(in) - 1, (want), (lossy))

static void test_sanitize(void **state)
{
    (void)state;
    SAN("", "", 0);
    SAN("h\xc3\xa9llo \xf0\x9f\x98\x80", "h\xc3\xa9llo \xf0\x9f\x98\x80", 0);
    SAN("\x80", R, 1);
    SAN("a\xc0\xaf"
        "b",
        "a" R R "b", 1);                 /* overlong: one per octet */
    SAN("\xed\xa0\x80", R R R, 1);       /* surrogate */
    SAN("\xf4\x90\x80\x80", R R R R, 1); /* above U+10FFFF */
    SAN("\xe2\x82", R R, 1);             /* truncated at the end */
    SAN("\xe2\x82"
        "A",
        R R "A", 1); /* cut by the next character */
    SAN("\xff\xfe", R R, 1);
    SAN("\xef\xbf\xbd", "\xef\xbf\xbd", 0); /* a real U+FFFD is not lossy */
    SAN("x\xc3", "x" R, 1);
    {
        char out[4];
        size_t n = utf8_sanitize(out, "\x80", 1, NULL); /* lossy_r may be NULL */
        assert_int_equal(n, 3);
    }
}

static void test_incomplete_tail(void **state)
{
    (void)state;
    assert_int_equal(utf8_incomplete_tail("", 0), 0);
    assert_int_equal(utf8_incomplete_tail("abc", 3), 0);
    assert_int_equal(utf8_incomplete_tail("ab\xc3", 3), 1);
    assert_int_equal(utf8_incomplete_tail("ab\xc3\xa9", 4), 0);
    assert_int_equal(utf8_incomplete_tail("\xe2\x82", 2), 2);
    assert_int_equal(utf8_incomplete_tail("\xe2", 1), 1);
    assert_int_equal(utf8_incomplete_tail("\xf0\x9f\x98", 3), 3);
    assert_int_equal(utf8_incomplete_tail("\xf0\x9f", 2), 2);
    assert_int_equal(utf8_incomplete_tail("\xe0\x80", 2), 0); /* overlong either way */
    assert_int_equal(utf8_incomplete_tail("\xed\xa0", 2), 0); /* a surrogate either way */
    assert_int_equal(utf8_incomplete_tail("\xf4\x90", 2), 0); /* above U+10FFFF */
    assert_int_equal(utf8_incomplete_tail("\xe0", 1), 1);     /* E0 A0.. would be fine */
    assert_int_equal(utf8_incomplete_tail("\x80\x80\x80", 3), 0);
    assert_int_equal(utf8_incomplete_tail("\xff", 1), 0);
    assert_int_equal(utf8_incomplete_tail("\xc0", 1), 0);
}

/* The slow, obvious decoder: decode the code point, then reject what RFC 3629
 * forbids. */
static size_t ref_len(const unsigned char *p, size_t avail)
{
    uint32_t cp;
    size_t n, i;

    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
        return 0;
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return n;
}

static void test_exhaustive(void **state)
{
    unsigned char b[4] = {0, 0, 0, 0x80};
    unsigned a, c, d;

    (void)state;
    for (a = 0; a < 256; a++) {
        b[0] = (unsigned char)a;
        assert_int_equal(utf8_char_len(b, 1), ref_len(b, 1));
        for (c = 0; c < 256; c++) {
            b[1] = (unsigned char)c;
            assert_int_equal(utf8_char_len(b, 2), ref_len(b, 2));
            for (d = 0; d < 256; d++) {
                b[2] = (unsigned char)d;
                if (utf8_char_len(b, 3) != ref_len(b, 3))
                    fail_msg("%02x %02x %02x", a, c, d);
                /* and as a 4-byte lead with a continuation after */
                if (utf8_char_len(b, 4) != ref_len(b, 4))
                    fail_msg("%02x %02x %02x 80", a, c, d);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_boundaries), cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_char_len),         cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_incomplete_tail),  cmocka_unit_test(test_exhaustive),
    };
    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
