/*
 * imap_arena.h - a bump allocator for the short-lived strings and arrays of
 * one event (unescaped strings, rendered argument summaries, flag lists).
 *
 * Memory comes in blocks; pointers stay valid until imap_arena_reset().  The
 * first block is kept across resets so a busy session does not call malloc
 * per event; imap_arena_release() gives everything back (idle sessions).
 * A total cap bounds what one event can take; past it allocations fail.
 */
#ifndef IMAP_ARENA_H
#define IMAP_ARENA_H

#include <stddef.h>

#include "imap_types.h"

#define IMAP_ARENA_BLOCK 4096
#define IMAP_ARENA_MAX   (8u * 1024 * 1024)

struct imap_arena_block;

struct imap_arena {
    struct imap_arena_block *head; /* current block (newest) */
    size_t total;                  /* bytes of all blocks */
    size_t cap;                    /* maximum total, IMAP_ARENA_MAX by default */
};

void imap_arena_init(struct imap_arena *a);
/* Returns size bytes aligned for any type, or NULL when out of memory or cap. */
void *imap_arena_alloc(struct imap_arena *a, size_t size);
/* Copies s into the arena (NUL-terminated); returns IMAP_STR_NULL on failure. */
struct imap_str imap_arena_dup(struct imap_arena *a, const char *p, size_t len);
/* Forgets all allocations, keeps one block. */
void imap_arena_reset(struct imap_arena *a);
/* Frees every block. */
void imap_arena_release(struct imap_arena *a);

/* A growable string inside an arena, for rendering summaries. */
struct imap_buf {
    struct imap_arena *arena;
    char *p;
    size_t len, size, max; /* max: hard cap; beyond it appends are cut and truncated set */
    int truncated;
    int failed; /* allocation failed */
};

void imap_buf_init(struct imap_buf *b, struct imap_arena *a, size_t max);
void imap_buf_add(struct imap_buf *b, const char *p, size_t len);
void imap_buf_addc(struct imap_buf *b, char c);
void imap_buf_adds(struct imap_buf *b, const char *s);
struct imap_str imap_buf_str(const struct imap_buf *b);

#endif
