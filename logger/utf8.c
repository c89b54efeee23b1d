/* utf8.c - UTF-8 validation and repair (RFC 3629, table 3-7 of Unicode). */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

size_t utf8_char_len(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second octet */
    size_t n, i;

    if (c < 0x80)
        return 1;
    if (c < 0xC2) /* continuation octet, or C0/C1 (always overlong) */
        return 0;
    if (c < 0xE0) {
        n = 2;
    } else if (c < 0xF0) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates U+D800..U+DFFF */
    } else if (c < 0xF5) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

size_t utf8_valid_prefix(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;

    while (i < len) {
        /* Most of what we log is ASCII: skip it eight bytes at a time. */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i >= len)
            break;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        n = utf8_char_len(p + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

int utf8_valid(const char *p, size_t len)
{
    return utf8_valid_prefix(p, len) == len;
}

size_t utf8_incomplete_tail(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t k, start, need;
    unsigned c;

    /* The lead octet is at most 3 bytes back from the end. */
    for (k = 1; k <= 3 && k <= len; k++) {
        c = p[len - k];
        if ((c & 0xC0) == 0x80)
            continue; /* continuation: keep looking for the lead */
        if (c < 0xC2 || c > 0xF4)
            return 0;
        need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (k >= need)
            return 0; /* complete (valid or not): nothing was cut */
        start = len - k;
        /* Valid so far?  Pad with a continuation octet the real one could be,
         * using the lowest allowed second octet for the lead. */
        {
            unsigned char tmp[4];
            size_t i;
            memcpy(tmp, p + start, k);
            for (i = k; i < need; i++)
                tmp[i] = i == 1 ? (c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80) : 0x80;
            return utf8_char_len(tmp, need) == need ? k : 0;
        }
    }
    return 0;
}

size_t utf8_sanitize(char *dst, const char *src, size_t len, int *lossy_r)
{
    const unsigned char *p = (const unsigned char *)src;
    char *o = dst;
    size_t i = 0, n;

    while (i < len) {
        if (p[i] < 0x80) {
            *o++ = (char)p[i++];
            continue;
        }
        n = utf8_char_len(p + i, len - i);
        if (n == 0) {
            /* One U+FFFD per invalid octet: a reader can count what was lost. */
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            if (lossy_r != NULL)
                *lossy_r = 1;
            continue;
        }
        memcpy(o, p + i, n);
        o += n;
        i += n;
    }
    return (size_t)(o - dst);
}
