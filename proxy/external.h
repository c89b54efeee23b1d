/*
 * external.h - sessions recorded by other tools, for `imaptap decode`:
 *
 *   - a Dovecot rawlog pair (PREFIX.in: what the server received,
 *     PREFIX.out: what it sent), written with rawlog's per-line timestamps
 *     ("1795605188.523447 " before every line).  Dovecot starts the rawlog
 *     after login, so the session begins in the authenticated state.
 *   - the IMAP streams of a cleartext packet capture, read through tshark
 *     (one session per TCP stream; the client is the side that talks to the
 *     given port).
 *
 * Both produce the step lists of transcript.h.
 */
#ifndef EXTERNAL_H
#define EXTERNAL_H

#include "transcript.h"

/* prefix: "dir/20261125-111308.4383.1", or either file of the pair. */
int ext_load_rawlog(const char *prefix, struct tr_file *tf, char *err, size_t errlen);

/* Runs tshark on path; a clear message when tshark is not installed. */
int ext_load_pcap(const char *path, int port, struct tr_file *tf, char *err, size_t errlen);

#endif
