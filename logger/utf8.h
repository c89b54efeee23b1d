/*
 * utf8.h - UTF-8 validation and repair for the JSON log.
 *
 * Valid means RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF),
 * nothing above U+10FFFF, no truncated sequences.  NUL and other control
 * characters are valid UTF-8 (JSON escapes them, this module does not).
 */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid sequence that starts at p, or 0 when the octet
 * at p does not start one within avail bytes.  avail must be >= 1. */
size_t utf8_char_len(const unsigned char *p, size_t avail);

/* Length of the longest valid prefix of p: len when all of it is valid. */
size_t utf8_valid_prefix(const char *p, size_t len);

/* Non-zero when all len bytes are valid UTF-8. */
int utf8_valid(const char *p, size_t len);

/* Number of bytes (0..3) at the end of p that start a sequence that is valid
 * so far but incomplete: what to drop when p was cut at an arbitrary byte. */
size_t utf8_incomplete_tail(const char *p, size_t len);

/* Copies src to dst replacing each octet that is not part of a valid sequence
 * by U+FFFD (EF BF BD).  dst must have room for 3 * len bytes.  Returns the
 * bytes written; sets *lossy_r to 1 when something was replaced (untouched
 * otherwise; lossy_r may be NULL). */
size_t utf8_sanitize(char *dst, const char *src, size_t len, int *lossy_r);

#endif
