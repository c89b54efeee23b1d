/* imap_arena.c - bump allocator for per-event strings and arrays. */
#include "imap_arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct imap_arena_block {
    struct imap_arena_block *next; /* older block */
    size_t size;                   /* usable bytes in data */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

void imap_arena_init(struct imap_arena *a)
{
    a->head = NULL;
    a->total = 0;
    a->cap = IMAP_ARENA_MAX;
}

static size_t align_up(size_t n)
{
    const size_t al = alignof(max_align_t);
    return (n + al - 1) & ~(al - 1);
}

void *imap_arena_alloc(struct imap_arena *a, size_t size)
{
    struct imap_arena_block *b = a->head;
    size_t need = align_up(size ? size : 1);

    if (need < size)
        return NULL;
    if (b == NULL || b->size - b->used < need) {
        size_t bsize = need > IMAP_ARENA_BLOCK ? need : IMAP_ARENA_BLOCK;
        if (bsize > a->cap || a->total > a->cap - bsize)
            return NULL;
        b = malloc(sizeof(*b) + bsize);
        if (b == NULL)
            return NULL;
        b->size = bsize;
        b->used = 0;
        b->next = a->head;
        a->head = b;
        a->total += bsize;
    }
    void *p = b->data + b->used;
    b->used += need;
    return p;
}

struct imap_str imap_arena_dup(struct imap_arena *a, const char *p, size_t len)
{
    char *q;

    if (len == SIZE_MAX)
        return IMAP_STR_NULL;
    q = imap_arena_alloc(a, len + 1);
    if (q == NULL)
        return IMAP_STR_NULL;
    if (len > 0)
        memcpy(q, p, len);
    q[len] = '\0';
    return (struct imap_str){q, len};
}

void imap_arena_reset(struct imap_arena *a)
{
    struct imap_arena_block *b = a->head, *keep = NULL;

    /* keep the oldest block of the standard size, free the others */
    while (b != NULL) {
        struct imap_arena_block *next = b->next;
        if (keep == NULL && next == NULL && b->size == IMAP_ARENA_BLOCK) {
            keep = b;
        } else {
            a->total -= b->size;
            free(b);
        }
        b = next;
    }
    if (keep != NULL) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->head = keep;
}

void imap_arena_release(struct imap_arena *a)
{
    struct imap_arena_block *b = a->head;

    while (b != NULL) {
        struct imap_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
}

void imap_buf_init(struct imap_buf *b, struct imap_arena *a, size_t max)
{
    b->arena = a;
    b->p = NULL;
    b->len = 0;
    b->size = 0;
    b->max = max;
    b->truncated = 0;
    b->failed = 0;
}

static int buf_grow(struct imap_buf *b, size_t want)
{
    size_t nsize = b->size ? b->size : 64;
    char *np;

    while (nsize < want)
        nsize *= 2;
    if (nsize > b->max + 1)
        nsize = b->max + 1;
    np = imap_arena_alloc(b->arena, nsize);
    if (np == NULL) {
        b->failed = 1;
        return -1;
    }
    if (b->len > 0)
        memcpy(np, b->p, b->len);
    b->p = np;
    b->size = nsize;
    return 0;
}

void imap_buf_add(struct imap_buf *b, const char *p, size_t len)
{
    if (b->failed)
        return;
    if (len > b->max - b->len) {
        len = b->max - b->len;
        b->truncated = 1;
    }
    if (len == 0)
        return;
    if (b->len + len + 1 > b->size && buf_grow(b, b->len + len + 1) < 0)
        return;
    memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void imap_buf_addc(struct imap_buf *b, char c)
{
    imap_buf_add(b, &c, 1);
}

void imap_buf_adds(struct imap_buf *b, const char *s)
{
    imap_buf_add(b, s, strlen(s));
}

struct imap_str imap_buf_str(const struct imap_buf *b)
{
    if (b->p == NULL)
        return (struct imap_str){"", 0};
    return (struct imap_str){b->p, b->len};
}
