/* imap_sasl.c - user names from SASL responses (see imap_sasl.h). */
#include "imap_sasl.h"

#include <string.h>

/* SASL responses worth looking at are short; a longer one is a token. */
#define SASL_DECODE_MAX 4096

void imap_sasl_start(struct imap_sasl *sasl, struct imap_str mech)
{
    size_t i, n = mech.len < sizeof(sasl->mech) - 1 ? mech.len : sizeof(sasl->mech) - 1;

    memset(sasl, 0, sizeof(*sasl));
    for (i = 0; i < n; i++) {
        char c = mech.p[i];
        sasl->mech[i] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long imap_base64_decode(const char *in, size_t len, unsigned char *out, size_t out_size)
{
    size_t i, o = 0;
    unsigned acc = 0;
    int bits = 0;

    while (len > 0 && in[len - 1] == '=')
        len--;
    for (i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= out_size)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

static void set_user(struct imap_sasl *sasl, const unsigned char *p, size_t n)
{
    size_t i;

    if (n > IMAP_SASL_USER_MAX)
        n = IMAP_SASL_USER_MAX;
    for (i = 0; i < n; i++) {
        if (p[i] == '\0')
            break;
        sasl->user[i] = (char)p[i];
    }
    sasl->user[i] = '\0';
}

/* PLAIN (RFC 4616): authzid NUL authcid NUL passwd -> authcid */
static void user_plain(struct imap_sasl *sasl, const unsigned char *d, size_t n)
{
    const unsigned char *nul1 = memchr(d, '\0', n), *nul2;

    if (nul1 == NULL)
        return;
    nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - d));
    if (nul2 == NULL)
        return;
    set_user(sasl, nul1 + 1, (size_t)(nul2 - nul1 - 1));
}

/* "key=value" up to a separator, e.g. XOAUTH2 "user=U\x01auth=..." */
static void user_after(struct imap_sasl *sasl, const unsigned char *d, size_t n, const char *key,
                       unsigned char sep)
{
    size_t klen = strlen(key), i;

    for (i = 0; i + klen <= n; i++) {
        if ((i == 0 || d[i - 1] == sep || d[i - 1] == ',') && memcmp(d + i, key, klen) == 0) {
            size_t s = i + klen, e = s;
            while (e < n && d[e] != sep && d[e] != ',')
                e++;
            set_user(sasl, d + s, e - s);
            return;
        }
    }
}

/* SCRAM client-first "n,,n=user,r=...": =2C and =3D are "," and "=" */
static void user_scram(struct imap_sasl *sasl, const unsigned char *d, size_t n)
{
    unsigned char tmp[IMAP_SASL_USER_MAX];
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i++) {
        if (d[i] == 'n' && d[i + 1] == '=' && i > 0 && d[i - 1] == ',')
            break;
    }
    if (i + 2 >= n)
        return;
    for (i += 2; i < n && d[i] != ',' && o < sizeof(tmp); i++) {
        if (d[i] == '=' && i + 2 < n && d[i + 1] == '2' && d[i + 2] == 'C') {
            tmp[o++] = ',';
            i += 2;
        } else if (d[i] == '=' && i + 2 < n && d[i + 1] == '3' && d[i + 2] == 'D') {
            tmp[o++] = '=';
            i += 2;
        } else {
            tmp[o++] = d[i];
        }
    }
    set_user(sasl, tmp, o);
    explicit_bzero(tmp, sizeof(tmp));
}

/* saslname (RFC 5801/7628): "=2C" is "," and "=3D" is "=" */
static void unescape_saslname(char *u)
{
    char *r = u, *w = u;

    while (*r) {
        if (r[0] == '=' && r[1] == '2' && (r[2] == 'C' || r[2] == 'c')) {
            *w++ = ',';
            r += 3;
        } else if (r[0] == '=' && r[1] == '3' && (r[2] == 'D' || r[2] == 'd')) {
            *w++ = '=';
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

void imap_sasl_response(struct imap_sasl *sasl, struct imap_str line)
{
    unsigned char d[SASL_DECODE_MAX];
    long n;
    unsigned index = sasl->responses++;

    if (line.len == 1 && line.p[0] == '*') {
        sasl->cancelled = 1;
        return;
    }
    if (sasl->user[0] != '\0' || line.len == 0 || (line.len == 1 && line.p[0] == '='))
        return;
    n = imap_base64_decode(line.p, line.len, d, sizeof(d));
    if (n <= 0) {
        /* a failed decode may have written part of a secret */
        explicit_bzero(d, sizeof(d));
        return;
    }
    if (strcmp(sasl->mech, "PLAIN") == 0) {
        user_plain(sasl, d, (size_t)n);
    } else if (strcmp(sasl->mech, "LOGIN") == 0) {
        if (index == 0)
            set_user(sasl, d, (size_t)n); /* the first answer is the user name */
    } else if (strcmp(sasl->mech, "XOAUTH2") == 0) {
        user_after(sasl, d, (size_t)n, "user=", 0x01);
    } else if (strcmp(sasl->mech, "OAUTHBEARER") == 0) {
        user_after(sasl, d, (size_t)n, "a=", 0x01);
        unescape_saslname(sasl->user); /* RFC 7628: =2C and =3D */
    } else if (strcmp(sasl->mech, "CRAM-MD5") == 0) {
        const unsigned char *sp = memchr(d, ' ', (size_t)n);
        if (sp != NULL)
            set_user(sasl, d, (size_t)(sp - d));
    } else if (strncmp(sasl->mech, "SCRAM-", 6) == 0) {
        user_scram(sasl, d, (size_t)n);
    }
    /* explicit_bzero: a plain memset of a buffer about to die is removed */
    explicit_bzero(d, sizeof(d));
}
