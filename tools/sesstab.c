/*
 * sesstab.c - sessions by sid in order of last activity (sesstab.h).
 */
#include "sesstab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t sesstab_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static struct sesstab_node **bucket(const struct sesstab *t, const char *sid)
{
    return &t->buckets[sesstab_hash(sid) & (t->nbuckets - 1)];
}

static void order_unlink(struct sesstab *t, struct sesstab_node *n)
{
    if (n->older != NULL)
        n->older->newer = n->newer;
    else
        t->oldest = n->newer;
    if (n->newer != NULL)
        n->newer->older = n->older;
    else
        t->newest = n->older;
    n->older = n->newer = NULL;
}

static void order_append(struct sesstab *t, struct sesstab_node *n)
{
    n->older = t->newest;
    n->newer = NULL;
    if (t->newest != NULL)
        t->newest->newer = n;
    else
        t->oldest = n;
    t->newest = n;
}

/* Doubles the buckets (256 at first): chains stay short. */
static int grow(struct sesstab *t)
{
    size_t size = t->nbuckets ? t->nbuckets * 2 : 256, i;
    struct sesstab_node **nb = calloc(size, sizeof(*nb));

    if (nb == NULL)
        return -1;
    for (i = 0; i < t->nbuckets; i++) {
        struct sesstab_node *n = t->buckets[i], *next;
        for (; n != NULL; n = next) {
            size_t j = sesstab_hash(n->sid) & (size - 1);
            next = n->hnext;
            n->hnext = nb[j];
            nb[j] = n;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->nbuckets = size;
    return 0;
}

struct sesstab_node *sesstab_find(struct sesstab *t, const char *sid)
{
    struct sesstab_node *n;

    if (t->nbuckets == 0)
        return NULL;
    for (n = *bucket(t, sid); n != NULL; n = n->hnext) {
        if (strcmp(n->sid, sid) == 0) {
            if (n != t->newest) {
                order_unlink(t, n);
                order_append(t, n);
            }
            return n;
        }
    }
    return NULL;
}

int sesstab_insert(struct sesstab *t, struct sesstab_node *n, const char *sid)
{
    struct sesstab_node **b;

    if (t->n + 1 > t->nbuckets && grow(t) < 0)
        return -1;
    snprintf(n->sid, sizeof(n->sid), "%s", sid);
    b = bucket(t, n->sid);
    n->hnext = *b;
    *b = n;
    order_append(t, n);
    t->n++;
    return 0;
}

void sesstab_remove(struct sesstab *t, struct sesstab_node *n)
{
    struct sesstab_node **pp = bucket(t, n->sid);

    while (*pp != n)
        pp = &(*pp)->hnext;
    *pp = n->hnext;
    order_unlink(t, n);
    t->n--;
}

void sesstab_free(struct sesstab *t)
{
    free(t->buckets);
    t->buckets = NULL;
    t->nbuckets = t->n = 0;
    t->oldest = t->newest = NULL;
}
