/*
 * imap_scan.h - byte scanning helpers of the parser's hot paths (private to
 * parser/).
 *
 * The framer and the tokenizer look for the few bytes that matter in a line
 * (quotes, backslashes, CR, NUL...) and pass over everything else.  SSE2
 * (every x86-64) checks 16 bytes per step; elsewhere a plain byte loop does
 * the same.  Nothing is read outside [p, p + n).
 */
#ifndef IMAP_SCAN_H
#define IMAP_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* For the few small helpers of inner loops that compilers leave out of line. */
#if defined(__GNUC__) || defined(__clang__)
#define IMAP_HOT_INLINE inline __attribute__((always_inline))
#else
#define IMAP_HOT_INLINE inline
#endif

/* (IMAP_SCAN_NO_SSE2 builds the byte loops alone, to test them on x86-64.) */
#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__)) && !defined(IMAP_SCAN_NO_SSE2)
#include <emmintrin.h>
#define IMAP_SCAN_SSE2 1
#endif

/* Offset of the first byte of p[0..n) equal to a, b, c or d, or n. */
static inline size_t imap_scan4(const char *p, size_t n, char a, char b, char c, char d)
{
    size_t i = 0;

#ifdef IMAP_SCAN_SSE2
    if (n >= 16) {
        const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b);
        const __m128i vc = _mm_set1_epi8(c), vd = _mm_set1_epi8(d);
        for (;;) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, vc), _mm_cmpeq_epi8(v, vd)));
            unsigned mask = (unsigned)_mm_movemask_epi8(m);
            if (mask != 0)
                return i + (size_t)__builtin_ctz(mask);
            i += 16;
            if (i >= n)
                return n;
            if (n - i < 16) {
                /* the last block overlaps the previous one: bytes before i
                 * are known not to match */
                size_t back = 16 - (n - i);
                v = _mm_loadu_si128((const __m128i *)(const void *)(p + n - 16));
                m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, vc), _mm_cmpeq_epi8(v, vd)));
                mask = (unsigned)_mm_movemask_epi8(m) >> back;
                return mask != 0 ? i + (size_t)__builtin_ctz(mask) : n;
            }
        }
    }
#endif
    for (; i < n; i++) {
        char x = p[i];
        if (x == a || x == b || x == c || x == d)
            return i;
    }
    return n;
}

/* Non-zero when p[0..n) is all ASCII: the bytes ORed together a word at a
 * time (the last word overlapping), one test at the end. */
static inline int imap_scan_ascii(const char *p, size_t n)
{
    uint64_t acc = 0, w;
    size_t i;

    if (n >= 8) {
        for (i = 0; n - i > 8; i += 8) {
            memcpy(&w, p + i, 8);
            acc |= w;
        }
        memcpy(&w, p + n - 8, 8);
        return ((acc | w) & 0x8080808080808080ull) == 0;
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        return ((a | b) & 0x80808080u) == 0;
    }
    for (i = 0; i < n; i++)
        acc |= (unsigned char)p[i];
    return (acc & 0x80) == 0;
}

#endif
