/*
 * sesstab.h - the sessions a log tool has open, by sid, in order of last
 * activity (`imaptap pretty` and `imaptap stats`: a log interleaves many
 * sessions, and the tools keep per-session state in bounded memory by
 * forgetting the least recently active one).
 *
 * Intrusive: a tool's session struct starts with a struct sesstab_node,
 * which the tool allocates and frees; the table only links nodes.
 */
#ifndef SESSTAB_H
#define SESSTAB_H

#include <stddef.h>
#include <stdint.h>

#define SESSTAB_SID_MAX 24

struct sesstab_node {
    char sid[SESSTAB_SID_MAX];          /* NUL-terminated, cut to fit */
    struct sesstab_node *hnext;         /* hash chain */
    struct sesstab_node *older, *newer; /* activity order */
};

struct sesstab {
    struct sesstab_node **buckets;
    size_t nbuckets, n;
    struct sesstab_node *oldest, *newest;
};

/* FNV-1a of a NUL-terminated string. */
uint64_t sesstab_hash(const char *s);

/* The session of sid, now the most recently active; NULL when absent. */
struct sesstab_node *sesstab_find(struct sesstab *t, const char *sid);
/* Adds n under sid as the most recently active; 0, or -1 when out of memory. */
int sesstab_insert(struct sesstab *t, struct sesstab_node *n, const char *sid);
/* Unlinks n (the caller frees it). */
void sesstab_remove(struct sesstab *t, struct sesstab_node *n);
/* Frees the table itself, not the nodes (remove them first). */
void sesstab_free(struct sesstab *t);

#endif
