/*
 * imap_sasl.h - reading the user name out of SASL client responses, never
 * the secret (protocol.md §6).
 *
 * The session hands every client response of an AUTHENTICATE exchange (the
 * SASL-IR initial response included) to imap_sasl_response(); the first one
 * that names a user sets it.  Decoded bytes live in a small buffer that is
 * wiped before the function returns.
 */
#ifndef IMAP_SASL_H
#define IMAP_SASL_H

#include <stddef.h>

#include "imap_types.h"

#define IMAP_SASL_USER_MAX 256

struct imap_sasl {
    char mech[32];      /* upper-cased mechanism */
    unsigned responses; /* client responses seen */
    int cancelled;
    char user[IMAP_SASL_USER_MAX + 1]; /* "" until known */
};

void imap_sasl_start(struct imap_sasl *sasl, struct imap_str mech);
/* One client response line (base64 text, "=" for empty, "*" to cancel). */
void imap_sasl_response(struct imap_sasl *sasl, struct imap_str line);

/* Decodes base64 (RFC 4648, padding optional, no whitespace) into out.
 * Returns the decoded length or -1 when invalid or longer than out_size. */
long imap_base64_decode(const char *in, size_t len, unsigned char *out, size_t out_size);

#endif
