/* unit_helper.c - framer units from wire text, for unit tests. */
#include "unit_helper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_UNIT_TEXT_MAX (2u * 1024 * 1024)

static void helper_abort(const char *why)
{
    fprintf(stderr, "test_unit: %s\n", why);
    abort();
}

/* A literal marker ending text[end - 1], starting no earlier than seg:
 * returns 1 with its size and IMAP_LIT_* flags. */
static int marker_before(const char *text, size_t seg, size_t end, uint64_t *size_r,
                         unsigned *flags_r)
{
    size_t j = end, digits_end;
    uint64_t size = 0;
    unsigned flags = 0;

    if (j == seg || text[--j] != '}')
        return 0;
    if (j > seg && text[j - 1] == '+') {
        flags |= IMAP_LIT_NONSYNC;
        j--;
    }
    digits_end = j;
    while (j > seg && text[j - 1] >= '0' && text[j - 1] <= '9')
        j--;
    if (j == digits_end || j == seg || text[j - 1] != '{' || digits_end - j > 19)
        return 0;
    for (size_t k = j; k < digits_end; k++)
        size = size * 10 + (uint64_t)(text[k] - '0');
    if (j - 1 > seg && text[j - 2] == '~')
        flags |= IMAP_LIT_BINARY;
    *size_r = size;
    *flags_r = flags;
    return 1;
}

struct imap_unit *test_unit(enum imap_dir dir, enum imap_unit_kind kind, const char *wire,
                            size_t len)
{
    static char text[TEST_UNIT_TEXT_MAX + 1];
    static struct imap_literal lits[IMAP_LEX_LITERALS_MAX];
    static struct imap_unit unit;
    /* text-mode lines never carry literals (protocol.md §2.2) */
    int can_lit =
        kind == IMAP_UNIT_COMMAND || kind == IMAP_UNIT_DATA || kind == IMAP_UNIT_MALFORMED;
    size_t i = 0, t = 0, seg = 0, nlits = 0, kept_all = 0, brk = 0;
    int in_quote = 0;

    while (i < len) {
        char c = wire[i];
        uint64_t size;
        unsigned flags;

        if (t + 2 > TEST_UNIT_TEXT_MAX)
            helper_abort("text too long");
        if (c == '\r' && i + 1 < len && wire[i + 1] == '\n') {
            if (!can_lit || in_quote || !marker_before(text, seg, t, &size, &flags)) {
                i += 2; /* the final CRLF */
                brk = 2;
                break;
            }
            if (nlits == IMAP_LEX_LITERALS_MAX || size > len - i - 2)
                helper_abort("literal does not fit");
            text[t++] = '\r';
            text[t++] = '\n';
            i += 2;
            size_t kept = size < IMAP_LEX_KEEP_PER_LITERAL ? size : IMAP_LEX_KEEP_PER_LITERAL;
            if (t + kept > TEST_UNIT_TEXT_MAX)
                helper_abort("text too long");
            lits[nlits++] = (struct imap_literal){size, t, kept, flags};
            memcpy(text + t, wire + i, kept);
            t += kept;
            kept_all += kept;
            i += size;
            seg = t;
            continue;
        }
        if (in_quote && c == '\\' && i + 1 < len && wire[i + 1] != '\r') {
            text[t++] = c;
            c = wire[++i];
        } else if (c == '"') {
            in_quote = !in_quote;
        }
        text[t++] = c;
        i++;
    }
    text[t] = '\0';
    unit = (struct imap_unit){
        .dir = dir,
        .kind = kind,
        .off = 0,
        .len = i,
        .text = text,
        .text_len = t,
        .lits = lits,
        .nlits = nlits,
        .nlits_all = nlits,
        .line_bytes = t - kept_all + brk,
        .flags = 0,
    };
    return &unit;
}
