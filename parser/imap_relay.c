/* imap_relay.c - relay operation queue (see imap_relay.h). */
#include "imap_relay.h"

#include <stdlib.h>
#include <string.h>

void imap_relay_init(struct imap_relay *r)
{
    memset(r, 0, sizeof(*r));
}

void imap_relay_free(struct imap_relay *r)
{
    size_t i;

    for (i = 0; i < r->count; i++)
        free(r->q[(r->head + i) % r->size].data);
    for (i = 0; i < r->nparked; i++)
        free(r->parked[i].data);
    free(r->q);
    free(r->parked);
    free(r->handed);
    memset(r, 0, sizeof(*r));
}

static struct imap_relay_item *tail(struct imap_relay *r)
{
    if (r->count == 0)
        return NULL;
    return &r->q[(r->head + r->count - 1) % r->size];
}

static int push(struct imap_relay *r, struct imap_relay_item it)
{
    if (r->count == r->size) {
        size_t nsize = r->size ? r->size * 2 : 8, i;
        struct imap_relay_item *nq = malloc(nsize * sizeof(*nq));
        if (nq == NULL) {
            r->failed = 1;
            return -1;
        }
        for (i = 0; i < r->count; i++)
            nq[i] = r->q[(r->head + i) % r->size];
        free(r->q);
        r->q = nq;
        r->size = nsize;
        r->head = 0;
    }
    r->q[(r->head + r->count) % r->size] = it;
    r->count++;
    return 0;
}

void imap_relay_input(struct imap_relay *r, enum imap_relay_kind kind, uint64_t len)
{
    struct imap_relay_item *t;

    if (len == 0)
        return;
    r->decided += len;
    t = tail(r);
    if (t != NULL && t->kind == kind && (kind == IMAP_RELAY_PASS || kind == IMAP_RELAY_DROP)) {
        t->len += len;
        return;
    }
    if (push(r, (struct imap_relay_item){kind, len, NULL}) < 0 && kind == IMAP_RELAY_PASS)
        return; /* failed: the session reports pass-through from here on */
}

void imap_relay_input_to(struct imap_relay *r, enum imap_relay_kind kind, uint64_t to)
{
    if (to > r->decided)
        imap_relay_input(r, kind, to - r->decided);
}

void imap_relay_emit(struct imap_relay *r, enum imap_relay_kind kind, const char *data, size_t len)
{
    struct imap_relay_item it = {kind, len, NULL};

    if (kind == IMAP_RELAY_INSERT) {
        if (len == 0)
            return;
        it.data = malloc(len);
        if (it.data == NULL) {
            r->failed = 1;
            return;
        }
        memcpy(it.data, data, len);
    }
    if (push(r, it) < 0)
        free(it.data);
}

void imap_relay_park(struct imap_relay *r, const char *data, size_t len)
{
    struct imap_relay_item it = {IMAP_RELAY_INSERT, len, NULL};

    if (r->nparked == r->parked_size) {
        size_t nsize = r->parked_size ? r->parked_size * 2 : 4;
        struct imap_relay_item *np = realloc(r->parked, nsize * sizeof(*np));
        if (np == NULL) {
            r->failed = 1;
            return;
        }
        r->parked = np;
        r->parked_size = nsize;
    }
    it.data = malloc(len ? len : 1);
    if (it.data == NULL) {
        r->failed = 1;
        return;
    }
    memcpy(it.data, data, len);
    r->parked[r->nparked++] = it;
}

void imap_relay_at_boundary(struct imap_relay *r)
{
    size_t i;

    for (i = 0; i < r->nparked; i++) {
        if (push(r, r->parked[i]) < 0)
            free(r->parked[i].data);
    }
    r->nparked = 0;
}

int imap_relay_pop(struct imap_relay *r, struct imap_relay_op *op_r)
{
    struct imap_relay_item it;

    free(r->handed);
    r->handed = NULL;
    if (r->count == 0)
        return 0;
    it = r->q[r->head];
    r->head = (r->head + 1) % r->size;
    r->count--;
    op_r->kind = it.kind;
    op_r->len = (size_t)it.len;
    op_r->data = it.data;
    r->handed = it.data;
    if (r->count == 0 && r->size > 64) {
        /* a burst is over: give the big queue back */
        free(r->q);
        r->q = NULL;
        r->size = 0;
        r->head = 0;
    }
    return 1;
}

size_t imap_relay_memory(const struct imap_relay *r)
{
    return r->size * sizeof(*r->q) + r->parked_size * sizeof(*r->parked);
}

void imap_relay_trim(struct imap_relay *r)
{
    if (r->count == 0) {
        free(r->q);
        r->q = NULL;
        r->size = 0;
        r->head = 0;
    }
    if (r->nparked == 0) {
        free(r->parked);
        r->parked = NULL;
        r->parked_size = 0;
    }
    free(r->handed);
    r->handed = NULL;
}
