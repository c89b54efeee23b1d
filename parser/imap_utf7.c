/* imap_utf7.c - modified UTF-7 mailbox names (RFC 3501 §5.1.3) to UTF-8. */
#include "imap_utf7.h"

#include <string.h>

/* Value of a modified BASE64 character ("," instead of "/"), or -1. */
static int mb64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == ',')
        return 63;
    return -1;
}

/* Writes code point cp (a scalar value, never a surrogate) as UTF-8. */
static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Decodes the shift sequence that starts at in[*ip] (just after "&") up to
 * and including its "-".  Returns the bytes written to out, or -1.
 */
static long decode_shift(const unsigned char *in, size_t n, size_t *ip, char *out)
{
    size_t i = *ip, o = 0;
    uint32_t bits = 0, high = 0;
    unsigned nbits = 0;

    for (; i < n && in[i] != '-'; i++) {
        int v = mb64_value(in[i]);
        uint32_t unit;

        if (v < 0)
            return -1;
        bits = (bits << 6) | (uint32_t)v;
        nbits += 6;
        if (nbits < 16)
            continue;
        nbits -= 16;
        unit = (bits >> nbits) & 0xFFFF;
        bits &= (1u << nbits) - 1;
        if (high != 0) {
            if (unit < 0xDC00 || unit > 0xDFFF)
                return -1; /* a high surrogate without its low half */
            o += put_utf8(out + o, 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00));
            high = 0;
        } else if (unit >= 0xD800 && unit <= 0xDBFF) {
            high = unit;
        } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
            return -1; /* a low surrogate alone */
        } else if (unit == 0 || (unit >= 0x20 && unit <= 0x7E)) {
            return -1; /* NUL, or printable ASCII that must represent itself */
        } else {
            o += put_utf8(out + o, unit);
        }
    }
    /* the name must shift back; leftovers are padding: under 6 bits, all zero */
    if (i >= n || high != 0 || nbits >= 6 || bits != 0)
        return -1;
    *ip = i + 1;
    return (long)o;
}

int imap_mutf7_decode(struct imap_arena *a, struct imap_str in, struct imap_str *name_r)
{
    const unsigned char *s = (const unsigned char *)in.p;
    size_t n = in.len, i = 0, o = 0;
    char *out;

    if (s == NULL || memchr(s, '&', n) == NULL)
        return 0;
    /* 8 base64 characters give at most 3 UTF-16 units, 9 bytes of UTF-8 */
    out = imap_arena_alloc(a, n + n / 8 + 4);
    if (out == NULL)
        return -1;
    while (i < n) {
        unsigned char c = s[i++];
        long w;

        if (c != '&') {
            /* everything else must be encoded, a NUL most of all */
            if (c < 0x20 || c > 0x7E)
                return -1;
            out[o++] = (char)c;
            continue;
        }
        if (i < n && s[i] == '-') {
            out[o++] = '&';
            i++;
            continue;
        }
        w = decode_shift(s, n, &i, out + o);
        if (w < 0)
            return -1;
        o += (size_t)w;
    }
    out[o] = '\0';
    *name_r = (struct imap_str){out, o};
    return 1;
}
