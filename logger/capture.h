/*
 * capture.h - the raw capture format (--capture DIR) and its reader.
 *
 * One file per session holds the plaintext bytes each peer sent, as imaptap
 * received them (before any edit), interleaved in the order they were read,
 * with timestamps, so `imaptap decode FILE` replays the session through the
 * same parser and gets the events of the live log.
 *
 * File layout (all integers big-endian):
 *
 *   header   8 bytes  "ITCAP\x00\x01\n"  (magic, version 1)
 *   records  each:    u8 type, u8 flags (0), u16 reserved (0),
 *                     u32 length of the payload,
 *                     i64 wall-clock time in microseconds since the epoch,
 *                     payload (length bytes)
 *
 * Record types:
 *   1 CAP_C2S   bytes from the client
 *   2 CAP_S2C   bytes from the server
 *   3 CAP_META  a JSON object (UTF-8) about the session: sid, client,
 *               listener, upstream, options that change parsing
 *   4 CAP_TLS   both legs finished a STARTTLS handshake here (the bytes
 *               before were plaintext, after are the decrypted stream)
 *   5 CAP_C2S_EOF, 6 CAP_S2C_EOF  a peer closed its side
 *   7 CAP_TIMER  imaptap's keepalive timer fired here
 *
 * A payload is at most CAP_RECORD_MAX bytes; longer reads are split.
 */
#ifndef CAPTURE_H
#define CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CAP_MAGIC      "ITCAP\x00\x01\n"
#define CAP_MAGIC_LEN  8
#define CAP_HEADER_LEN 16
#define CAP_RECORD_MAX (1u << 20)

enum cap_type {
    CAP_C2S = 1,
    CAP_S2C = 2,
    CAP_META = 3,
    CAP_TLS = 4,
    CAP_C2S_EOF = 5,
    CAP_S2C_EOF = 6,
    CAP_TIMER = 7,
};

/* ---- writing ---- */

struct cap_writer;

/* Creates DIR/<name>.cap (name: e.g. "2026-11-25T08.41.02Z-<sid>") with mode
 * 0600.  Returns NULL and a one-line message in err on failure. */
struct cap_writer *cap_writer_open(const char *dir, const char *name, char *err, size_t errlen);
/* Appends a record (split when longer than CAP_RECORD_MAX).  Returns 0 or -1. */
int cap_write(struct cap_writer *w, enum cap_type type, int64_t ts_us, const void *data,
              size_t len);
/* Returns 0, or -1 when any write failed.  Accepts NULL. */
int cap_writer_close(struct cap_writer *w);
const char *cap_writer_path(const struct cap_writer *w);

/* ---- reading ---- */

struct cap_record {
    enum cap_type type;
    int64_t ts_us;
    const unsigned char *data; /* valid until the next cap_read() */
    size_t len;
};

struct cap_reader;

/* Returns NULL when f does not start with the magic (err says so). */
struct cap_reader *cap_reader_new(FILE *f, char *err, size_t errlen);
/* Returns 1 with a record, 0 at a clean end of file, -1 on a truncated or
 * bad record (err says which record number and why). */
int cap_read(struct cap_reader *r, struct cap_record *rec, char *err, size_t errlen);
void cap_reader_free(struct cap_reader *r);

/* Non-zero when the first bytes of a file are the capture magic. */
int cap_is_capture(const void *head, size_t len);

#endif
