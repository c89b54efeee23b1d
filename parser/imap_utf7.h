/*
 * imap_utf7.h - modified UTF-7 mailbox names (RFC 3501 §5.1.3).
 *
 * "&" shifts to modified BASE64 (with "," for "/") of UTF-16BE, "-" shifts
 * back, "&-" is a literal "&".  imaptap decodes names for the log only; the
 * relay never changes them.
 */
#ifndef IMAP_UTF7_H
#define IMAP_UTF7_H

#include "imap_arena.h"
#include "imap_types.h"

/*
 * Decodes a modified UTF-7 name into UTF-8 in the arena.  Returns 1 and the
 * decoded name when it differs from the input, 0 when the name has no shift
 * sequences (name_r left as is), -1 when it is not valid modified UTF-7
 * (bad base64, an unterminated shift, non-zero padding bits, a lone
 * surrogate, printable ASCII encoded, or a NUL) or the arena is full.
 */
int imap_mutf7_decode(struct imap_arena *a, struct imap_str in, struct imap_str *name_r);

#endif
