/*
 * imap_relay.h - the queue of relay operations of one direction (internal to
 * the session; see imap_session.h for what the operations mean).
 *
 * decided counts the input bytes that operations already cover; the session
 * adds PASS/DROP/HOLD for the bytes it has judged and INSERT/RELEASE/STARTTLS
 * where it edits.  Adjacent PASS (and DROP) operations merge, so a bulk
 * transfer costs one operation per feed.  Inserts that must wait for a unit
 * boundary of the stream (a local answer while a FETCH streams) park in a
 * side list until imap_relay_at_boundary().
 */
#ifndef IMAP_RELAY_H
#define IMAP_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "imap_session.h"

struct imap_relay_item {
    enum imap_relay_kind kind;
    uint64_t len;
    char *data; /* INSERT: owned by the queue */
};

struct imap_relay {
    uint64_t decided;
    struct imap_relay_item *q;
    size_t head, count, size;
    struct imap_relay_item *parked; /* inserts waiting for a boundary */
    size_t nparked, parked_size;
    char *handed; /* INSERT data returned by imap_relay_pop, freed at the next pop */
    int failed;   /* out of memory: the queue degrades to pass-through */
};

void imap_relay_init(struct imap_relay *r);
void imap_relay_free(struct imap_relay *r);

/* Input bytes [decided, decided + len) are passed, dropped or held. */
void imap_relay_input(struct imap_relay *r, enum imap_relay_kind kind, uint64_t len);
/* Covers input up to offset `to` with kind (nothing when already covered). */
void imap_relay_input_to(struct imap_relay *r, enum imap_relay_kind kind, uint64_t to);
/* INSERT (a copy of data), RELEASE, STARTTLS, CLOSE. */
void imap_relay_emit(struct imap_relay *r, enum imap_relay_kind kind, const char *data, size_t len);
/* An INSERT that waits for the next unit boundary. */
void imap_relay_park(struct imap_relay *r, const char *data, size_t len);
/* The stream is at a unit boundary: parked inserts go into the queue. */
void imap_relay_at_boundary(struct imap_relay *r);

int imap_relay_pop(struct imap_relay *r, struct imap_relay_op *op_r);

size_t imap_relay_memory(const struct imap_relay *r);
/* Gives memory back when nothing is queued (idle sessions). */
void imap_relay_trim(struct imap_relay *r);

#endif
