/*
 * imap_types.h - small shared types of the IMAP parser library.
 *
 * The parser library (parser/) knows nothing of sockets or files: it turns the
 * two byte streams of one IMAP session into units, messages and events.
 */
#ifndef IMAP_TYPES_H
#define IMAP_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Direction of a byte stream. */
enum imap_dir {
    IMAP_C2S = 0, /* client to server */
    IMAP_S2C = 1, /* server to client */
};

/* A byte slice that does not own its memory.  Who owns the bytes and how long
 * they stay valid is stated wherever a slice is handed out. */
struct imap_str {
    const char *p;
    size_t len;
};

#define IMAP_STR_NULL   ((struct imap_str){NULL, 0})
#define IMAP_STR_LIT(s) ((struct imap_str){(s), sizeof(s) - 1})

static inline int imap_str_is_set(struct imap_str s)
{
    return s.p != NULL;
}

/* Case-insensitive comparison of a slice with a NUL-terminated ASCII word. */
int imap_str_eq_ci(struct imap_str s, const char *word);

/* Parses an unsigned decimal number of at most 20 digits; no sign, no spaces.
 * Returns 0 and stores the value, or -1 when s is not a number or overflows max. */
int imap_str_to_u64(struct imap_str s, uint64_t max, uint64_t *value_r);

const char *imap_dir_name(enum imap_dir dir);

/* Connection states of RFC 3501 §3 / RFC 9051 §3. */
enum imap_state {
    IMAP_STATE_NOT_AUTHENTICATED = 0,
    IMAP_STATE_AUTHENTICATED,
    IMAP_STATE_SELECTED,
    IMAP_STATE_LOGOUT,
};

const char *imap_state_name(enum imap_state state);

#endif
