/*
 * unit_helper.h - builds framer units from wire text for unit tests, until the
 * real framer (parser/imap_lex.c) can be used instead.
 */
#ifndef UNIT_HELPER_H
#define UNIT_HELPER_H

#include <stddef.h>

#include "imap_lex.h"

/*
 * Builds one unit from its wire form, the way the framer hands it out: a
 * "{n}", "{n+}", "~{n}" or "~{n+}" marker at the end of a line (outside a
 * quoted string, in a kind of unit that can carry literals) is followed by
 * CRLF and n octets, of which min(n, IMAP_LEX_KEEP_PER_LITERAL) are kept in
 * text; the final CRLF (optional in wire) is not in text.  Bytes after the
 * final CRLF are ignored.  The unit lives in static storage: each call
 * overwrites the previous one.  Aborts on a wire form it cannot hold (a
 * literal longer than the rest of wire, too much text, too many literals).
 */
struct imap_unit *test_unit(enum imap_dir dir, enum imap_unit_kind kind, const char *wire,
                            size_t len);

#endif
