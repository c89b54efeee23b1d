/*
 * relay_sim.c - the proxy's relay, played in memory (relay_sim.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay_sim.h"

void bytes_add(struct bytes *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->size) {
        b->size = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->size);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void bytes_take(struct bytes *b, size_t n)
{
    assert_true(n <= b->len);
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    b->p[b->len] = '\0';
}

void bytes_clear(struct bytes *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

void bytes_free(struct bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static const char *op_name(enum imap_relay_kind k)
{
    switch (k) {
    case IMAP_RELAY_PASS:
        return "PASS";
    case IMAP_RELAY_DROP:
        return "DROP";
    case IMAP_RELAY_INSERT:
        return "INSERT";
    case IMAP_RELAY_HOLD:
        return "HOLD";
    case IMAP_RELAY_RELEASE:
        return "RELEASE";
    case IMAP_RELAY_STARTTLS:
        return "STARTTLS";
    case IMAP_RELAY_CLOSE:
        return "CLOSE";
    }
    return "?";
}

void relay_sim_apply(struct imap_session *s, enum imap_dir dir, struct bytes *in, struct bytes *out,
                     struct bytes *held, struct bytes *ops)
{
    struct imap_relay_op op;
    char word[48];

    while (imap_session_relay_next(s, dir, &op)) {
        if (op.kind == IMAP_RELAY_PASS || op.kind == IMAP_RELAY_DROP ||
            op.kind == IMAP_RELAY_HOLD || op.kind == IMAP_RELAY_INSERT)
            snprintf(word, sizeof(word), "%s(%zu) ", op_name(op.kind), op.len);
        else
            snprintf(word, sizeof(word), "%s ", op_name(op.kind));
        bytes_add(ops, word, strlen(word));
        switch (op.kind) {
        case IMAP_RELAY_PASS:
            assert_true(op.len <= in->len);
            bytes_add(out, in->p, op.len);
            bytes_take(in, op.len);
            break;
        case IMAP_RELAY_DROP:
            bytes_take(in, op.len);
            break;
        case IMAP_RELAY_HOLD:
            assert_true(op.len <= in->len);
            bytes_add(held, in->p, op.len);
            bytes_take(in, op.len);
            break;
        case IMAP_RELAY_INSERT:
            bytes_add(out, op.data, op.len);
            break;
        case IMAP_RELAY_RELEASE:
            bytes_add(out, held->p, held->len);
            bytes_clear(held);
            break;
        case IMAP_RELAY_STARTTLS:
        case IMAP_RELAY_CLOSE:
            break;
        }
    }
    /* what is left is exactly what the session has not decided */
    assert_int_equal(in->len, imap_session_relay_pending(s, dir));
}
